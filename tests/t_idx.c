/* The IDX reader's handling of gzip and of sizes: a stream cut anywhere (in particular
 * its CRC/length trailer), a wrong CRC or length, corrupt deflate data and bytes after
 * the last member all fail with a message naming the file; concatenated members are read
 * (as gzip does); a header declaring more than the load limit fails before the data is
 * read, and the limit can be raised; jx_idx_parse reads memory images the same way;
 * pipes and devices are read as far as the data goes. */
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data_util.h"
#include "jx/data.h"

/* Writes len bytes to path; 0 on success. */
static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* An IDX image of dims [n0, 20, 30] with data byte i = i % 251 (out holds 16 + 600 n0). */
static size_t make_images(unsigned char *out, uint32_t n0) {
    const uint32_t d[3] = {n0, 20, 30};
    size_t k = 0;
    out[k++] = 0, out[k++] = 0, out[k++] = 8, out[k++] = 3;
    for (int i = 0; i < 3; i++)
        for (int s = 24; s >= 0; s -= 8) out[k++] = (unsigned char)(d[i] >> s);
    for (size_t i = 0; i < 600u * n0; i++) out[k++] = (unsigned char)(i % 251);
    return k;
}

/* Compresses data into one gzip member at out (cap bytes); returns its size. */
static size_t gz_member(const void *data, size_t len, unsigned char *out, size_t cap) {
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? n : 0;
}

/* 1 if a holds the images of make_images(n0) as f32. */
static int same_images(const jx_array *a, uint32_t n0) {
    if (!a || jx_array_rank(a) != 3 || jx_array_dim(a, 0) != n0 || jx_array_dtype(a) != JX_F32)
        return 0;
    for (int64_t i = 0; i < jx_array_size(a); i++)
        if (jx_array_get(a, i) != (double)(i % 251)) return 0;
    return 1;
}

/* Writes image b[0..len) to a file and checks that loading it fails with a message
 * holding the path and want; and that jx_idx_parse fails the same way. */
static void expect_fail(const unsigned char *b, size_t len, const char *want) {
    const char *p = tmp_path("bad.idx.gz");
    CHECK(write_file(p, b, len) == 0);
    jx_clear_error();
    jx_array *a = jx_idx_load(p);
    if (a) CHECK_FAIL_("loaded (%zu bytes) but should fail with \"%s\"", len, want);
    jx_array_free(a);
    CHECK_CONTAINS(jx_error(), p);
    CHECK_CONTAINS(jx_error(), want);
    a = jx_idx_parse(b, len, 0);
    CHECK(a == NULL);
    jx_array_free(a);
    CHECK_CONTAINS(jx_error(), "idx: <buffer>: ");
    CHECK_CONTAINS(jx_error(), want);
    remove(p);
}

static unsigned char raw[16 + 600 * 8], gz[2 * sizeof raw + 1024], buf[4 * sizeof gz];

TEST(gzip_trailer_cut_off_fails) {
    size_t n = make_images(raw, 8), g = gz_member(raw, n, gz, sizeof gz);
    CHECK(g > 18);
    for (size_t cut = 1; cut <= 8; cut++) /* the CRC-32 and ISIZE fields */
        expect_fail(gz, g - cut, "truncated gzip data");
    const char *p = tmp_path("ok.idx.gz");
    CHECK(write_file(p, gz, g) == 0);
    jx_array *a = jx_idx_load(p);
    CHECK(same_images(a, 8));
    jx_array_free(a);
    remove(p);
}

TEST(gzip_every_truncation_fails) {
    size_t n = make_images(raw, 2), g = gz_member(raw, n, gz, sizeof gz);
    for (size_t cut = 0; cut < g; cut++) {
        jx_clear_error();
        jx_array *a = jx_idx_parse(gz, cut, 0);
        if (a) CHECK_FAIL_("a gzip stream cut to %zu of %zu bytes loaded", cut, g);
        jx_array_free(a);
        if (!strstr(jx_error(), "idx: <buffer>: ")) CHECK_FAIL_("cut %zu: %s", cut, jx_error());
    }
}

TEST(gzip_bad_crc_length_or_data_fails) {
    size_t n = make_images(raw, 8), g = gz_member(raw, n, gz, sizeof gz);
    memcpy(buf, gz, g);
    buf[g - 8] ^= 1; /* CRC-32 */
    expect_fail(buf, g, "incorrect data check");
    memcpy(buf, gz, g);
    buf[g - 1] ^= 1; /* ISIZE */
    expect_fail(buf, g, "incorrect length check");
    int failed = 0;
    for (size_t i = 10; i < g - 12; i += 7) { /* deflate data (not its last bytes, which may
                                                 * hold padding bits): a bad stream or CRC */
        memcpy(buf, gz, g);
        buf[i] ^= 0x20;
        jx_array *a = jx_idx_parse(buf, g, 0);
        failed += a == NULL;
        jx_array_free(a);
    }
    CHECK(failed == (int)((g - 12 - 10 + 6) / 7));
}

TEST(gzip_members_concatenate_and_garbage_after_fails) {
    size_t n = make_images(raw, 8);
    size_t g1 = gz_member(raw, 1000, buf, sizeof buf);
    size_t g2 = gz_member(raw + 1000, n - 1000, buf + g1, sizeof buf - g1);
    size_t g3 = gz_member(raw, 0, buf + g1 + g2, sizeof buf - g1 - g2); /* empty member */
    jx_array *a = jx_idx_parse(buf, g1 + g2 + g3, 0);
    CHECK(same_images(a, 8));
    jx_array_free(a);
    size_t g = g1 + g2 + g3;
    memcpy(buf + g, "\0\0\0\0", 4);
    expect_fail(buf, g + 4, "trailing garbage after the gzip data");
    buf[g] = 0x1f; /* half a gzip magic */
    expect_fail(buf, g + 1, "trailing garbage");
    memcpy(buf + g, "\x1f\x8b\x08", 3); /* the start of a member that never ends */
    expect_fail(buf, g + 3, "truncated gzip data");
    /* A member holding more data than the header declares. */
    size_t k = gz_member(raw, n, buf, sizeof buf);
    k += gz_member("x", 1, buf + k, sizeof buf - k);
    expect_fail(buf, k, "trailing data after 4800 bytes");
}

TEST(load_limit_is_checked_before_reading_and_can_be_raised) {
    /* A header declaring 2^30 bytes (4 GiB as f32) with nothing behind it: a "gzip bomb"
     * is refused from its header, whatever the compressed size. */
    unsigned char h[16] = {0, 0, 8, 3, 0, 0, 0x40, 0, 0, 0, 1, 0, 0, 0, 1, 0};
    size_t g = gz_member(h, sizeof h, gz, sizeof gz);
    expect_fail(gz, g, "make an array of 4294967296 bytes, over the load limit of "
                       "1073741824 bytes (raise it with jx_set_load_limit)");
    CHECK(jx_load_limit() == JX_LOAD_LIMIT_DEFAULT);
    size_t n = make_images(raw, 8);
    g = gz_member(raw, n, gz, sizeof gz);
    CHECK(jx_set_load_limit(4 * 4800 - 1) == JX_LOAD_LIMIT_DEFAULT);
    expect_fail(gz, g, "over the load limit of 19199 bytes");
    expect_fail(raw, n, "over the load limit of 19199 bytes");
    CHECK(jx_set_load_limit(4 * 4800) == 4 * 4800 - 1);
    jx_array *a = jx_idx_parse(gz, g, 0);
    CHECK(same_images(a, 8));
    jx_array_free(a);
    CHECK(jx_set_load_limit(0) == 4 * 4800);
    CHECK(jx_load_limit() == JX_LOAD_LIMIT_DEFAULT);
}

TEST(memory_images_and_plain_sizes) {
    size_t n = make_images(raw, 3);
    jx_array *a = jx_idx_parse(raw, n, JX_IDX_NORMALIZE);
    CHECK(a && jx_array_dim(a, 0) == 3);
    if (a) CHECK_NEAR(jx_array_get(a, 250), 250.0 / 255.0, 1e-6);
    jx_array_free(a);
    expect_fail(raw, n - 1, "truncated data: 1799 of 1800 bytes");
    raw[n] = 7;
    expect_fail(raw, n + 1, "trailing data after 1800 bytes");
    CHECK(jx_idx_parse(NULL, 0, 0) == NULL);
    CHECK_CONTAINS(jx_error(), "idx: <buffer>: truncated header");
}

TEST(pipes_and_devices) {
    jx_clear_error();
    CHECK(jx_idx_load("/dev/zero") == NULL); /* fails on its header, reads 16 bytes */
    CHECK_CONTAINS(jx_error(), "idx: /dev/zero: IDX dtype 0x00");
    size_t n = make_images(raw, 8), g = gz_member(raw, n, gz, sizeof gz);
    const char *fifo = tmp_path("fifo");
    remove(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    for (int gzip = 0; gzip < 2; gzip++) {
        pid_t pid = fork();
        if (pid == 0) { /* the writer: the image, or its first half */
            signal(SIGPIPE, SIG_IGN);
            FILE *f = fopen(fifo, "wb");
            if (f) fwrite(gzip ? gz : raw, 1, gzip ? g : n / 2, f);
            _exit(f && fclose(f) == 0 ? 0 : 1);
        }
        jx_clear_error();
        jx_array *a = jx_idx_load(fifo);
        if (gzip) CHECK(same_images(a, 8));
        else CHECK(a == NULL && strstr(jx_error(), "truncated data: 2392 of 4800 bytes"));
        jx_array_free(a);
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
    }
    remove(fifo);
}

TEST_MAIN()
