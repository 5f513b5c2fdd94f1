/* Tests of jx/data.h: IDX loading (plain, gzip, malformed), the real Fashion-MNIST test
 * split, shuffling, batching, augmentation and PNG grids. Temporary files go to /tmp and
 * are removed. */
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "jx/data.h"

/* A per-process temporary path for name (static buffer: use before the next call). */
static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "/tmp/jx_t_data_%ld_%s", (long)getpid(), name);
    return buf[k];
}

/* Writes bytes to path, gzip-compressed if gz. Returns 0 on success. */
static int write_bytes(const char *path, const void *data, size_t len, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) return -1;
        int ok = len == 0 || gzwrite(f, data, (unsigned)len) == (int)len;
        return gzclose(f) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* Builds an IDX byte image: magic bytes m[4], rank dims, then n data bytes (value i%251).
 * Returns the total length written into out. */
static size_t make_idx(unsigned char *out, const unsigned char m[4], int rank,
                       const uint32_t *dims, size_t n) {
    size_t k = 0;
    for (int i = 0; i < 4; i++) out[k++] = m[i];
    for (int i = 0; i < rank; i++) {
        out[k++] = (unsigned char)(dims[i] >> 24);
        out[k++] = (unsigned char)(dims[i] >> 16);
        out[k++] = (unsigned char)(dims[i] >> 8);
        out[k++] = (unsigned char)dims[i];
    }
    for (size_t i = 0; i < n; i++) out[k++] = (unsigned char)(i % 251);
    return k;
}

static const unsigned char MAGIC3[4] = {0, 0, 8, 3}, MAGIC1[4] = {0, 0, 8, 1};

TEST(idx_plain_images) {
    unsigned char b[64];
    uint32_t dims[3] = {2, 3, 4};
    size_t len = make_idx(b, MAGIC3, 3, dims, 24);
    const char *p = tmp_path("img.idx");
    CHECK(write_bytes(p, b, len, 0) == 0);
    jx_array *a = jx_idx_load(p);
    CHECK(a != NULL);
    if (a) {
        jx_type t = jx_array_type(a), want = JX_TYPE(JX_F32, 2, 3, 4);
        CHECK(jx_type_eq(&t, &want));
        const float *v = jx_array_cdata(a);
        for (int i = 0; i < 24; i++) CHECK(v[i] == (float)i);
    }
    jx_array *nrm = jx_idx_load_flags(p, JX_IDX_NORMALIZE);
    CHECK(nrm != NULL);
    if (nrm) CHECK_NEAR(jx_array_get(nrm, 23), 23.0 / 255.0, 1e-7);
    CHECK(a && jx_data_normalize(a) == 0);
    if (a && nrm) CHECK(jx_array_get(a, 17) == jx_array_get(nrm, 17));
    jx_array_free(a);
    jx_array_free(nrm);
    remove(p);
}

TEST(idx_gzip_labels) {
    unsigned char b[64];
    uint32_t dims[1] = {7};
    size_t len = make_idx(b, MAGIC1, 1, dims, 7);
    b[8 + 6] = 255;
    const char *p = tmp_path("lab.idx.gz");
    CHECK(write_bytes(p, b, len, 1) == 0);
    unsigned char head[2] = {0};
    FILE *f = fopen(p, "rb");
    CHECK(f && fread(head, 1, 2, f) == 2);
    if (f) fclose(f);
    CHECK(head[0] == 0x1f && head[1] == 0x8b); /* really gzip'd */
    jx_array *a = jx_idx_load(p);
    CHECK(a != NULL);
    if (a) {
        jx_type t = jx_array_type(a), want = JX_TYPE(JX_I32, 7);
        CHECK(jx_type_eq(&t, &want));
        const int32_t *v = jx_array_cdata(a);
        for (int i = 0; i < 6; i++) CHECK(v[i] == i);
        CHECK(v[6] == 255);
    }
    jx_array *g = jx_idx_load_flags(p, JX_IDX_F32);
    CHECK(g && jx_array_dtype(g) == JX_F32 && jx_array_get(g, 6) == 255.0);
    jx_array_free(a);
    jx_array_free(g);
    remove(p);
}

TEST(idx_empty_and_rank2) {
    unsigned char b[64];
    uint32_t dims[3] = {0, 28, 28};
    size_t len = make_idx(b, MAGIC3, 3, dims, 0);
    const char *p = tmp_path("empty.idx");
    CHECK(write_bytes(p, b, len, 1) == 0);
    jx_array *a = jx_idx_load(p);
    CHECK(a && jx_array_size(a) == 0 && jx_array_dim(a, 1) == 28);
    jx_array_free(a);
    unsigned char m2[4] = {0, 0, 8, 2};
    uint32_t d2[2] = {3, 5};
    len = make_idx(b, m2, 2, d2, 15);
    CHECK(write_bytes(p, b, len, 0) == 0);
    a = jx_idx_load(p);
    CHECK(a && jx_array_rank(a) == 2 && jx_array_dtype(a) == JX_F32 && jx_array_get(a, 14) == 14);
    jx_array_free(a);
    remove(p);
}

TEST(idx_save_roundtrip) {
    int64_t shape[3] = {2, 2, 3};
    float v[12] = {0, 1, 2, 3, 254, 255, 300, -5, 7.4f, 7.6f, 100, 42};
    jx_array *a = jx_array_from(JX_F32, 3, shape, v);
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmp_path(gz ? "rt.idx.gz" : "rt.idx");
        CHECK(jx_idx_save(p, a, gz) == 0);
        jx_array *b = jx_idx_load(p);
        CHECK(b != NULL);
        const float want[12] = {0, 1, 2, 3, 254, 255, 255, 0, 7, 8, 100, 42};
        for (int i = 0; b && i < 12; i++) CHECK(jx_array_get(b, i) == want[i]);
        jx_array_free(b);
        remove(p);
    }
    jx_array *s = jx_array_scalar(JX_F32, 1);
    CHECK(jx_idx_save(tmp_path("s.idx"), s, 0) < 0);
    CHECK_CONTAINS(jx_error(), "rank 0");
    CHECK(jx_idx_save("/nonexistent_dir_jx/x.idx", a, 1) < 0);
    CHECK_CONTAINS(jx_error(), "/nonexistent_dir_jx/x.idx");
    jx_array_free(s);
    jx_array_free(a);
}

/* Writes bytes (plain and gzip'd), loads both, and checks both fail with a message that
 * names the path and contains what. */
static void expect_bad(const unsigned char *b, size_t len, const char *what) {
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmp_path(gz ? "bad.idx.gz" : "bad.idx");
        CHECK(write_bytes(p, b, len, gz) == 0);
        jx_clear_error();
        jx_array *a = jx_idx_load(p);
        CHECK(a == NULL);
        jx_array_free(a);
        CHECK_CONTAINS(jx_error(), p);
        CHECK_CONTAINS(jx_error(), what);
        remove(p);
    }
}

TEST(idx_malformed) {
    unsigned char b[256];
    uint32_t dims[3] = {2, 3, 4};
    size_t len = make_idx(b, MAGIC3, 3, dims, 24);
    expect_bad(b, 0, "truncated header");
    expect_bad(b, 2, "truncated header");
    expect_bad(b, 9, "truncated header (5 of 12 dimension bytes)");
    expect_bad(b, len - 1, "truncated data: 23 of 24 bytes");
    expect_bad(b, 16, "truncated data: 0 of 24 bytes");
    /* trailing garbage */
    b[len] = 9;
    expect_bad(b, len + 1, "trailing data after 24 bytes");
    /* wrong magic: not starting with 00 00, e.g. a PNG or a little-endian header */
    unsigned char m[4] = {3, 8, 0, 0};
    len = make_idx(b, m, 3, dims, 24);
    expect_bad(b, len, "bad magic 0x03080000");
    memcpy(b, "\x89PNG", 4);
    expect_bad(b, len, "bad magic");
    /* other IDX dtypes */
    unsigned char mf[4] = {0, 0, 0x0D, 3};
    len = make_idx(b, mf, 3, dims, 24);
    expect_bad(b, len, "IDX dtype 0x0D (float) is not supported");
    unsigned char mu[4] = {0, 0, 0x42, 3};
    len = make_idx(b, mu, 3, dims, 24);
    expect_bad(b, len, "0x42 (unknown)");
    /* rank 0 and rank above JX_MAX_RANK */
    unsigned char m0[4] = {0, 0, 8, 0};
    len = make_idx(b, m0, 0, dims, 1);
    expect_bad(b, len, "rank 0 out of range 1..8");
    unsigned char m9[4] = {0, 0, 8, 9};
    uint32_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    len = make_idx(b, m9, 9, d9, 1);
    expect_bad(b, len, "rank 9 out of range");
}

TEST(idx_absurd_dims) {
    unsigned char b[64];
    uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    size_t len = make_idx(b, MAGIC3, 3, huge, 4);
    expect_bad(b, len, "absurd dims [4294967295,4294967295,4294967295]");
    uint32_t big[3] = {60000, 60000, 60000};
    len = make_idx(b, MAGIC3, 3, big, 4);
    expect_bad(b, len, "absurd dims");
    /* 1e9 bytes claimed (4e9 as f32): over the load limit, refused before reading. */
    uint32_t lie[3] = {1000000, 100, 10};
    len = make_idx(b, MAGIC3, 3, lie, 4);
    expect_bad(b, len, "over the load limit");
    /* Plausible but unbacked: 1e6 bytes claimed, 4 present. Must fail as truncated
     * without allocating the claimed size. */
    uint32_t lie2[3] = {1000, 100, 10};
    len = make_idx(b, MAGIC3, 3, lie2, 4);
    expect_bad(b, len, "truncated data: 4 of 1000000 bytes");
    /* a zero dim with absurd others is an empty array, not an error */
    uint32_t z[3] = {0, 0xFFFFFFFFu, 0xFFFFFFFFu};
    len = make_idx(b, MAGIC3, 3, z, 0);
    const char *p = tmp_path("zero.idx");
    CHECK(write_bytes(p, b, len, 0) == 0);
    jx_array *a = jx_idx_load(p);
    CHECK(a && jx_array_size(a) == 0);
    jx_array_free(a);
    remove(p);
}

TEST(idx_bad_files) {
    jx_array *a = jx_idx_load("/nonexistent_dir_jx/t10k-images-idx3-ubyte.gz");
    CHECK(a == NULL);
    CHECK_CONTAINS(jx_error(), "cannot open /nonexistent_dir_jx/t10k-images-idx3-ubyte.gz");
    a = jx_idx_load(NULL);
    CHECK(a == NULL);
    a = jx_idx_load("/tmp");
    CHECK(a == NULL);
    CHECK_CONTAINS(jx_error(), "/tmp");
    /* a gzip stream cut in half, and a gzip header followed by garbage */
    unsigned char b[2000];
    uint32_t dims[3] = {3, 20, 30};
    size_t len = make_idx(b, MAGIC3, 3, dims, 1800);
    const char *p = tmp_path("cut.idx.gz");
    CHECK(write_bytes(p, b, len, 1) == 0);
    FILE *f = fopen(p, "rb");
    unsigned char gzb[4096];
    size_t glen = f ? fread(gzb, 1, sizeof gzb, f) : 0;
    if (f) fclose(f);
    CHECK(glen > 40);
    CHECK(write_bytes(p, gzb, glen / 2, 0) == 0);
    jx_clear_error();
    a = jx_idx_load(p);
    CHECK(a == NULL);
    CHECK_CONTAINS(jx_error(), p);
    for (size_t i = 10; i < glen; i++) gzb[i] = (unsigned char)(i * 37);
    CHECK(write_bytes(p, gzb, glen, 0) == 0);
    jx_clear_error();
    a = jx_idx_load(p);
    CHECK(a == NULL);
    CHECK_CONTAINS(jx_error(), p);
    remove(p);
}

/* 1 if the Debian Fashion-MNIST files are installed. */
static int have_mnist(void) {
    return access(JX_MNIST_DEFAULT_DIR "/t10k-images-idx3-ubyte.gz", R_OK) == 0;
}

TEST(mnist_test_split) {
    if (!have_mnist()) {
        printf("note: %s not installed, skipping\n", JX_MNIST_DEFAULT_DIR);
        return;
    }
    jx_array *x = NULL, *y = NULL;
    CHECK(jx_mnist_load(NULL, "test", 0, &x, &y) == 0);
    if (!x || !y) {
        printf("%s\n", jx_error());
        return;
    }
    jx_type tx = jx_array_type(x), ty = jx_array_type(y);
    jx_type wx = JX_TYPE(JX_F32, 10000, 28, 28), wy = JX_TYPE(JX_I32, 10000);
    CHECK(jx_type_eq(&tx, &wx));
    CHECK(jx_type_eq(&ty, &wy));
    int64_t hist[10] = {0}, bad = 0;
    const int32_t *lab = jx_array_cdata(y);
    for (int i = 0; i < 10000; i++) {
        if (lab[i] < 0 || lab[i] > 9) bad++;
        else hist[lab[i]]++;
    }
    CHECK(bad == 0);
    for (int c = 0; c < 10; c++) CHECK(hist[c] == 1000);
    const float *px = jx_array_cdata(x);
    double sum = 0, mx = 0;
    for (int64_t i = 0; i < jx_array_size(x); i++) {
        sum += px[i];
        if (px[i] > mx) mx = px[i];
    }
    double mean = sum / (double)jx_array_size(x);
    CHECK(fabs(mean - 72.9) < 1.0);
    CHECK(fabs(mean - 73.1466) < 0.001); /* measured value of the t10k file */
    CHECK(mx == 255.0);
    /* normalized load: same data / 255 */
    jx_array *xn = NULL, *yn = NULL;
    CHECK(jx_mnist_load(JX_MNIST_DEFAULT_DIR, "t10k", 1, &xn, &yn) == 0);
    if (xn) {
        const float *pn = jx_array_cdata(xn);
        double sn = 0;
        for (int64_t i = 0; i < jx_array_size(xn); i++) sn += pn[i];
        CHECK_NEAR(sn / (double)jx_array_size(xn), mean / 255.0, 1e-6);
        CHECK(pn[12345] == px[12345] / 255.0f);
    }
    jx_array_free(x);
    jx_array_free(y);
    jx_array_free(xn);
    jx_array_free(yn);
}

TEST(mnist_train_split) {
    if (!have_mnist()) return;
    jx_array *x = NULL, *y = NULL;
    CHECK(jx_mnist_load(NULL, "train", 1, &x, &y) == 0);
    CHECK(x && jx_array_dim(x, 0) == 60000 && jx_array_dim(x, 2) == 28);
    int64_t hist[10] = {0};
    for (int64_t i = 0; y && i < 60000; i++) hist[((const int32_t *)jx_array_cdata(y))[i] % 10]++;
    for (int c = 0; y && c < 10; c++) CHECK(hist[c] == 6000);
    double sum = 0;
    for (int64_t i = 0; x && i < jx_array_size(x); i++) sum += ((const float *)jx_array_cdata(x))[i];
    if (x) CHECK_NEAR(sum / (double)jx_array_size(x), 72.9404 / 255.0, 1e-5); /* normalized */
    jx_array_free(x);
    jx_array_free(y);
}

TEST(mnist_errors) {
    jx_array *x = (jx_array *)1, *y = (jx_array *)1;
    CHECK(jx_mnist_load(NULL, "validation", 0, &x, &y) < 0);
    CHECK(x == NULL && y == NULL);
    CHECK_CONTAINS(jx_error(), "split 'validation'");
    CHECK(jx_mnist_load("/nonexistent_dir_jx", "train", 0, &x, &y) < 0);
    CHECK_CONTAINS(jx_error(), "/nonexistent_dir_jx/train-images-idx3-ubyte");
    CHECK(x == NULL && y == NULL);
    /* a directory whose counts disagree, in the uncompressed layout */
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/jx_t_data_%ld_mn", (long)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    char p1[300], p2[300];
    snprintf(p1, sizeof p1, "%s/t10k-images-idx3-ubyte", dir);
    snprintf(p2, sizeof p2, "%s/t10k-labels-idx1-ubyte", dir);
    unsigned char b[128];
    uint32_t di[3] = {3, 2, 2}, dl[1] = {4};
    size_t len = make_idx(b, MAGIC3, 3, di, 12);
    CHECK(write_bytes(p1, b, len, 0) == 0);
    len = make_idx(b, MAGIC1, 1, dl, 4);
    CHECK(write_bytes(p2, b, len, 1) == 0); /* gzip'd content under a plain name */
    CHECK(jx_mnist_load(dir, "test", 0, &x, &y) < 0);
    CHECK_CONTAINS(jx_error(), "do not match");
    CHECK(x == NULL && y == NULL);
    dl[0] = 3;
    len = make_idx(b, MAGIC1, 1, dl, 3);
    CHECK(write_bytes(p2, b, len, 1) == 0);
    CHECK(jx_mnist_load(dir, "test", 0, &x, &y) == 0);
    CHECK(x && y && jx_array_dim(x, 0) == 3 && jx_array_get(y, 2) == 2);
    jx_array_free(x);
    jx_array_free(y);
    remove(p1);
    remove(p2);
    rmdir(dir);
}

TEST(data_reshape_view) {
    int64_t shape[3] = {2, 2, 3};
    jx_array *a = jx_array_new(JX_F32, 3, shape);
    for (int i = 0; i < 12; i++) jx_array_set(a, i, i);
    int64_t s2[2] = {2, 6}, bad[2] = {5, 5};
    jx_array *v = jx_data_reshape(a, 2, s2);
    CHECK(v && jx_array_dim(v, 1) == 6 && jx_array_get(v, 7) == 7);
    CHECK(v && jx_array_cdata(v) == jx_array_cdata(a));
    CHECK(jx_data_reshape(a, 2, bad) == NULL);
    CHECK_CONTAINS(jx_error(), "12 elements");
    jx_array_free(a); /* the view keeps the data alive */
    CHECK(v && jx_array_get(v, 11) == 11);
    jx_array_free(v);
    jx_array *i32 = jx_array_new(JX_I32, 1, shape);
    CHECK(jx_data_normalize(i32) < 0);
    CHECK_CONTAINS(jx_error(), "i32");
    jx_array_free(i32);
}

/* 1 if p[0..n-1] is a permutation of 0..n-1. */
static int is_perm(const int64_t *p, int64_t n) {
    unsigned char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) ok = 0;
        else seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

TEST(shuffle_is_deterministic_permutation) {
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], d[N];
    CHECK(jx_shuffle(N, 42, 0, a) == 0);
    CHECK(jx_shuffle(N, 42, 0, b) == 0);
    CHECK(jx_shuffle(N, 42, 1, c) == 0);
    CHECK(jx_shuffle(N, 43, 0, d) == 0);
    CHECK(is_perm(a, N) && is_perm(c, N) && is_perm(d, N));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(memcmp(a, d, sizeof a) != 0);
    int64_t fixed = 0, same = 0;
    for (int i = 0; i < N; i++) {
        fixed += a[i] == i;
        same += a[i] == c[i];
    }
    CHECK(fixed < 10 && same < 10); /* ~1 expected for random permutations */
    /* Locked values: the generator must not change across platforms or versions. */
    int64_t p[10];
    CHECK(jx_shuffle(10, 0, 0, p) == 0);
    const int64_t locked[10] = {6, 5, 8, 3, 4, 1, 2, 0, 7, 9};
    CHECK(memcmp(p, locked, sizeof p) == 0);
    int64_t e[4], one[1];
    CHECK(jx_shuffle(0, 1, 1, NULL) == 0);
    CHECK(jx_shuffle(1, 1, 1, one) == 0 && one[0] == 0);
    CHECK(jx_shuffle(-1, 1, 1, e) < 0);
    CHECK(jx_shuffle(4, 1, 1, NULL) < 0);
    jx_perm_identity(4, e);
    CHECK(e[0] == 0 && e[3] == 3);
}

TEST(shuffle_is_uniform) {
    /* 6000 epochs of n = 3: each of the 6 orders about 1000 times (sd ~ 29). */
    int count[6] = {0};
    for (uint64_t ep = 0; ep < 6000; ep++) {
        int64_t p[3];
        jx_shuffle(3, 7, ep, p);
        count[p[0] * 2 + (p[1] > p[2])]++;
    }
    for (int i = 0; i < 6; i++) CHECK(count[i] > 850 && count[i] < 1150);
}

/* images [n,2,3] with image i filled with i, labels i32 [n] = i. */
static void make_data(int64_t n, jx_array **x, jx_array **y) {
    int64_t sx[3] = {n, 2, 3};
    *x = jx_array_new(JX_F32, 3, sx);
    *y = jx_array_new(JX_I32, 1, sx);
    for (int64_t i = 0; i < n * 6; i++) jx_array_set(*x, i, (double)(i / 6));
    for (int64_t i = 0; i < n; i++) jx_array_set(*y, i, (double)i);
}

TEST(batch_covers_epoch) {
    jx_array *x, *y;
    make_data(10, &x, &y);
    jx_batch_iter it;
    CHECK(jx_batch_iter_init(&it, x, y, 4, 0) == 0);
    CHECK(jx_batch_iter_count(&it) == 3);
    int64_t perm[10];
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        jx_shuffle(10, 5, epoch, perm);
        CHECK(jx_batch_iter_reset(&it, epoch == 2 ? NULL : perm) == 0);
        int seen[10] = {0}, nb = 0;
        jx_array *first_x = NULL;
        while (jx_batch_iter_next(&it)) {
            CHECK(it.index == nb);
            CHECK(it.start == 4 * nb);
            if (nb == 0) first_x = it.x;
            if (nb == 1) CHECK(it.x == first_x); /* the same buffer every batch */
            CHECK(it.size == (nb < 2 ? 4 : 2));
            CHECK(it.partial == (nb == 2));
            CHECK(jx_array_dim(it.x, 0) == it.size && jx_array_dim(it.y, 0) == it.size);
            CHECK(jx_array_dim(it.x, 1) == 2 && jx_array_dim(it.x, 2) == 3);
            for (int64_t k = 0; k < it.size; k++) {
                int32_t l = ((const int32_t *)jx_array_cdata(it.y))[k];
                CHECK(l >= 0 && l < 10);
                if (l < 0 || l >= 10) continue;
                seen[l]++;
                CHECK(l == (epoch == 2 ? it.start + k : perm[it.start + k]));
                for (int e = 0; e < 6; e++) CHECK(jx_array_get(it.x, k * 6 + e) == l);
            }
            nb++;
        }
        CHECK(nb == 3);
        for (int i = 0; i < 10; i++) CHECK(seen[i] == 1);
        CHECK(jx_batch_iter_next(&it) == 0); /* stays at the end */
    }
    jx_batch_iter_free(&it);
    jx_array_free(x);
    jx_array_free(y);
}

TEST(batch_drop_and_pad) {
    jx_array *x, *y;
    make_data(10, &x, &y);
    jx_batch_iter it;
    CHECK(jx_batch_iter_init(&it, x, y, 4, JX_BATCH_DROP_LAST) == 0);
    CHECK(jx_batch_iter_count(&it) == 2);
    jx_batch_iter_reset(&it, NULL);
    int nb = 0, total = 0;
    while (jx_batch_iter_next(&it)) {
        CHECK(!it.partial && it.size == 4);
        nb++;
        total += (int)it.size;
    }
    CHECK(nb == 2 && total == 8);
    jx_batch_iter_free(&it);

    CHECK(jx_batch_iter_init(&it, x, y, 4, JX_BATCH_PAD_LAST) == 0);
    CHECK(jx_batch_iter_count(&it) == 3);
    int64_t perm[10];
    jx_shuffle(10, 9, 0, perm);
    jx_batch_iter_reset(&it, perm);
    nb = 0;
    while (jx_batch_iter_next(&it)) {
        CHECK(jx_array_dim(it.x, 0) == 4 && jx_array_dim(it.y, 0) == 4);
        if (it.partial) {
            CHECK(it.size == 2);
            const int32_t *l = jx_array_cdata(it.y);
            CHECK(l[0] == perm[8] && l[1] == perm[9] && l[2] == -1 && l[3] == -1);
            for (int e = 12; e < 24; e++) CHECK(jx_array_get(it.x, e) == 0);
        }
        nb++;
    }
    CHECK(nb == 3);
    jx_batch_iter_free(&it);

    /* without labels; exact multiple; batch larger than N */
    CHECK(jx_batch_iter_init(&it, x, NULL, 5, 0) == 0);
    jx_batch_iter_reset(&it, NULL);
    nb = 0;
    while (jx_batch_iter_next(&it)) {
        CHECK(it.y == NULL && it.size == 5 && !it.partial);
        nb++;
    }
    CHECK(nb == 2);
    jx_batch_iter_free(&it);
    CHECK(jx_batch_iter_init(&it, x, y, 32, 0) == 0);
    CHECK(jx_batch_iter_next(&it) == 1 && it.partial && it.size == 10);
    CHECK(jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    CHECK(jx_batch_iter_init(&it, x, y, 32, JX_BATCH_DROP_LAST) == 0);
    CHECK(jx_batch_iter_count(&it) == 0 && jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    jx_array_free(x);
    jx_array_free(y);
}

TEST(batch_errors) {
    jx_array *x, *y, *x9, *y2, *x0, *y0;
    make_data(10, &x, &y);
    make_data(9, &x9, &y2);
    make_data(0, &x0, &y0);
    jx_batch_iter it;
    CHECK(jx_batch_iter_init(&it, x, y2, 4, 0) < 0);
    CHECK_CONTAINS(jx_error(), "labels have 9 rows, images 10");
    jx_batch_iter_free(&it);
    CHECK(jx_batch_iter_init(&it, x, y, 0, 0) < 0);
    CHECK_CONTAINS(jx_error(), "batch size 0");
    CHECK(jx_batch_iter_init(&it, NULL, y, 4, 0) < 0);
    CHECK(jx_batch_iter_init(&it, x, y, 4, 64) < 0);
    CHECK(jx_batch_iter_init(&it, x, y, 4, 0) == 0);
    int64_t perm[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10};
    CHECK(jx_batch_iter_reset(&it, perm) < 0);
    CHECK_CONTAINS(jx_error(), "perm[9] = 10 out of range 0..9");
    CHECK(jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    /* an empty dataset has no batches */
    CHECK(jx_batch_iter_init(&it, x0, y0, 4, 0) == 0);
    jx_batch_iter_reset(&it, NULL);
    CHECK(jx_batch_iter_count(&it) == 0 && jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    jx_batch_iter_free(NULL);
    jx_array_free(x);
    jx_array_free(y);
    jx_array_free(x9);
    jx_array_free(y2);
    jx_array_free(x0);
    jx_array_free(y0);
}

/* A deterministic pseudo-random h*w image with values in [0,1). */
static void fill_image(float *p, int64_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 16777216.0f;
    }
}

TEST(augment_shift) {
    float src[4 * 5], dst[4 * 5];
    fill_image(src, 20, 1);
    jx_image_shift(src, dst, 4, 5, 0, 0);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    jx_image_shift(src, dst, 4, 5, 0, 1); /* right by one */
    for (int y = 0; y < 4; y++) {
        CHECK(dst[y * 5] == 0);
        for (int x = 1; x < 5; x++) CHECK(dst[y * 5 + x] == src[y * 5 + x - 1]);
    }
    jx_image_shift(src, dst, 4, 5, -1, 0); /* up by one */
    for (int x = 0; x < 5; x++) {
        CHECK(dst[3 * 5 + x] == 0);
        for (int y = 0; y < 3; y++) CHECK(dst[y * 5 + x] == src[(y + 1) * 5 + x]);
    }
    jx_image_shift(src, dst, 4, 5, 10, -10); /* everything out */
    for (int i = 0; i < 20; i++) CHECK(dst[i] == 0);
}

TEST(augment_rotate) {
    enum { N = 7 };
    float src[N * N], dst[N * N], back[N * N];
    fill_image(src, N * N, 2);
    jx_image_rotate(src, dst, N, N, 0);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    /* 90 degrees counter-clockwise = numpy rot90: dst[i][j] = src[j][N-1-i]
     * (transpose, then flip vertically), for odd and even sizes. */
    jx_image_rotate(src, dst, N, N, 90);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) CHECK_NEAR(dst[i * N + j], src[j * N + (N - 1 - i)], 1e-5);
    float s6[36], d6[36];
    fill_image(s6, 36, 3);
    jx_image_rotate(s6, d6, 6, 6, 90);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) CHECK_NEAR(d6[i * 6 + j], s6[j * 6 + (5 - i)], 1e-5);
    /* -90 undoes 90; 180 flips both axes; 360 is the identity */
    jx_image_rotate(dst, back, N, N, -90);
    for (int i = 0; i < N * N; i++) CHECK_NEAR(back[i], src[i], 1e-5);
    jx_image_rotate(src, dst, N, N, 180);
    for (int i = 0; i < N * N; i++) CHECK_NEAR(dst[i], src[N * N - 1 - i], 1e-5);
    jx_image_rotate(src, dst, N, N, 360);
    for (int i = 0; i < N * N; i++) CHECK_NEAR(dst[i], src[i], 1e-5);
    /* a small rotation of a centered blob keeps its mass and center */
    float blob[15 * 15] = {0}, rb[15 * 15];
    for (int y = 5; y <= 9; y++)
        for (int x = 5; x <= 9; x++) blob[y * 15 + x] = 1;
    jx_image_rotate(blob, rb, 15, 15, 10);
    double m = 0, my = 0;
    for (int i = 0; i < 225; i++) {
        m += rb[i];
        my += rb[i] * (i / 15);
    }
    CHECK_NEAR(m, 25.0, 0.05);
    CHECK_NEAR(my / m, 7.0, 1e-3);
    CHECK(rb[7 * 15 + 7] == 1.0f);
    CHECK(rb[5 * 15 + 5] < 1.0f); /* a corner moved */
}

TEST(augment_batch) {
    int64_t shape[3] = {16, 8, 8};
    jx_array *in = jx_array_new(JX_F32, 3, shape);
    jx_array *o1 = jx_array_new(JX_F32, 3, shape), *o2 = jx_array_new(JX_F32, 3, shape);
    jx_array *o3 = jx_array_new(JX_F32, 3, shape);
    fill_image(jx_array_data(in), 16 * 64, 4);
    jx_augment_opts none = {0, 0.0}, opts = {2, 10.0};
    CHECK(jx_augment_batch(in, o1, 8, 8, &none, 1, 0) == 0);
    CHECK(memcmp(jx_array_cdata(in), jx_array_cdata(o1), jx_array_nbytes(in)) == 0);
    CHECK(jx_augment_batch(in, o1, 8, 8, &opts, 1, 0) == 0);
    CHECK(jx_augment_batch(in, o2, 8, 8, &opts, 1, 0) == 0);
    CHECK(jx_augment_batch(in, o3, 8, 8, &opts, 1, 1) == 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(o2), jx_array_nbytes(in)) == 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(o3), jx_array_nbytes(in)) != 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(in), jx_array_nbytes(in)) != 0);
    /* shifts only: each output image is its input shifted by at most 2 pixels */
    jx_augment_opts sh = {2, 0.0};
    CHECK(jx_augment_batch(in, o1, 8, 8, &sh, 3, 7) == 0);
    float tmp[64];
    int found_all = 1, moved = 0;
    for (int b = 0; b < 16; b++) {
        const float *s = (const float *)jx_array_cdata(in) + b * 64;
        const float *d = (const float *)jx_array_cdata(o1) + b * 64;
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++) {
                jx_image_shift(s, tmp, 8, 8, dy, dx);
                if (!memcmp(tmp, d, sizeof tmp)) {
                    found = 1;
                    moved += dy || dx;
                }
            }
        found_all &= found;
    }
    CHECK(found_all);
    CHECK(moved > 8); /* 24 of 25 choices move: almost all of 16 */
    /* a [B,h*w] view works too */
    int64_t flat[2] = {16, 64};
    jx_array *fi = jx_data_reshape(in, 2, flat), *fo = jx_data_reshape(o2, 2, flat);
    CHECK(jx_augment_batch(fi, fo, 8, 8, &sh, 3, 7) == 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(o2), jx_array_nbytes(in)) == 0);
    /* errors */
    CHECK(jx_augment_batch(in, in, 8, 8, &opts, 1, 0) < 0);
    CHECK_CONTAINS(jx_error(), "must not be the input");
    CHECK(jx_augment_batch(in, o1, 4, 8, &opts, 1, 0) < 0);
    CHECK_CONTAINS(jx_error(), "not 4x8 images");
    CHECK(jx_augment_batch(in, fo, 8, 8, &opts, 1, 0) < 0);
    CHECK_CONTAINS(jx_error(), "same f32 type");
    jx_augment_opts neg = {-1, 0};
    CHECK(jx_augment_batch(in, o1, 8, 8, &neg, 1, 0) < 0);
    CHECK(jx_augment_batch(in, o1, 8, 8, NULL, 1, 0) < 0);
    jx_array_free(fi);
    jx_array_free(fo);
    jx_array_free(in);
    jx_array_free(o1);
    jx_array_free(o2);
    jx_array_free(o3);
}

/* Reads a gray 8-bit PNG at path with libpng's simplified API into *pix (malloc'd).
 * Returns 0 and the size, -1 on failure. */
static int read_png(const char *path, unsigned *w, unsigned *h, unsigned char **pix) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return -1;
    im.format = PNG_FORMAT_GRAY;
    *pix = malloc(PNG_IMAGE_SIZE(im));
    if (!*pix || !png_image_finish_read(&im, NULL, *pix, 0, NULL)) {
        png_image_free(&im);
        free(*pix);
        *pix = NULL;
        return -1;
    }
    *w = im.width;
    *h = im.height;
    return 0;
}

TEST(png_grid) {
    int64_t shape[3] = {3, 4, 5};
    jx_array *a = jx_array_new(JX_F32, 3, shape);
    for (int64_t i = 0; i < 60; i++) jx_array_set(a, i, (double)(i % 20) * 10);
    jx_array_set(a, 0, 300); /* clamped */
    const char *p = tmp_path("grid.png");
    jx_png_opts o = {2, JX_PNG_RAW, NULL};
    CHECK(jx_png_write_grid(p, a, 2, 2, &o) == 0);
    /* signature and IHDR straight from the bytes: 2 cells of 10 px + 1 gap = 21 wide,
     * 2 cells of 8 px + 1 gap = 17 high */
    unsigned char hdr[24] = {0};
    FILE *f = fopen(p, "rb");
    CHECK(f && fread(hdr, 1, 24, f) == 24);
    if (f) fclose(f);
    CHECK(memcmp(hdr, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(memcmp(hdr + 12, "IHDR", 4) == 0);
    uint32_t w = (uint32_t)hdr[16] << 24 | (uint32_t)hdr[17] << 16 | hdr[18] << 8 | hdr[19];
    uint32_t h = (uint32_t)hdr[20] << 24 | (uint32_t)hdr[21] << 16 | hdr[22] << 8 | hdr[23];
    CHECK(w == 21 && h == 17);
    unsigned rw = 0, rh = 0;
    unsigned char *pix = NULL;
    CHECK(read_png(p, &rw, &rh, &pix) == 0);
    CHECK(rw == 21 && rh == 17);
    if (pix) {
        CHECK(pix[0] == 255 && pix[1] == 255 && pix[21] == 255); /* 300 clamped, scaled */
        CHECK(pix[2] == 10);                      /* image 0, pixel (0,1) */
        CHECK(pix[10] == 128);                    /* the gap column */
        CHECK(pix[11 + 2 * 21] == 50);            /* image 1, pixel (1,0) = 5*10 */
        CHECK(pix[9 * 21 + 0] == 0);              /* image 2, pixel (0,0) */
        CHECK(pix[16 * 21 + 20] == 0);            /* empty 4th cell is black */
    }
    free(pix);
    /* per-image normalization with labels, auto layout, one [H,W] image */
    int32_t labels[3] = {7, 1, 42};
    jx_png_opts o2 = {3, JX_PNG_PER_IMAGE, labels};
    CHECK(jx_png_write_grid(p, a, 0, 0, &o2) == 0);
    CHECK(read_png(p, &rw, &rh, &pix) == 0);
    CHECK(rw == 2 * 16 - 1 && rh == 2 * 13 - 1);
    free(pix);
    int64_t s2[2] = {4, 5};
    jx_array *one = jx_array_new(JX_F64, 2, s2);
    jx_array_fill(one, 0.5);
    jx_png_opts o3 = {1, JX_PNG_UNIT, NULL};
    CHECK(jx_png_write_grid(p, one, 1, 1, &o3) == 0);
    CHECK(read_png(p, &rw, &rh, &pix) == 0);
    CHECK(rw == 5 && rh == 4 && pix && pix[7] == 128);
    free(pix);
    /* errors name the path */
    CHECK(jx_png_write_grid(p, a, 1, 2, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "3 images do not fit a 1x2 grid");
    CHECK(jx_png_write_grid("/nonexistent_dir_jx/g.png", a, 2, 2, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "/nonexistent_dir_jx/g.png");
    jx_png_opts huge = {1 << 30, JX_PNG_RAW, NULL};
    CHECK(jx_png_write_grid(p, a, 2, 2, &huge) < 0);
    CHECK_CONTAINS(jx_error(), "not a writable image");
    jx_array *iz = jx_array_new(JX_I32, 3, shape);
    CHECK(jx_png_write_grid(p, iz, 2, 2, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "must be f32 or f64");
    jx_array_free(iz);
    jx_array_free(one);
    jx_array_free(a);
    remove(p);
}

TEST(png_mnist_samples) {
    if (!have_mnist()) return;
    jx_array *x = NULL, *y = NULL;
    CHECK(jx_mnist_load(NULL, "test", 1, &x, &y) == 0);
    if (!x) return;
    const char *p = tmp_path("mnist.png");
    jx_png_opts o = {2, JX_PNG_UNIT, jx_array_cdata(y)};
    int64_t s16[3] = {16, 28, 28};
    jx_array *first = jx_array_from(JX_F32, 3, s16, jx_array_cdata(x));
    CHECK(jx_png_write_grid(p, first, 4, 4, &o) == 0);
    unsigned w = 0, h = 0;
    unsigned char *pix = NULL;
    CHECK(read_png(p, &w, &h, &pix) == 0);
    CHECK(w == 4 * 57 - 1 && h == 4 * 57 - 1);
    free(pix);
    jx_array_free(first);
    jx_array_free(x);
    jx_array_free(y);
    remove(p);
}

TEST_MAIN()
