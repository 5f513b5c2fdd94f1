/* t_npz.c's malformed archives: not a zip, truncated, bad CRC, a member that is not an
 * .npy, duplicate members, sizes that lie, and a zip bomb over the load limit. Included
 * once, by t_npz.c. */

/* Replaces every occurrence of the n bytes from by to in b[0..len); returns the count. */
static int patch_all(unsigned char *b, size_t len, const void *from, const void *to, size_t n) {
    int k = 0;
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(b + i, from, n)) {
            memcpy(b + i, to, n);
            k++;
        }
    return k;
}

/* The image of a jx-saved archive of members a = f32 [1 2 3 4] and b = i32 [5 6]. */
static unsigned char *small_archive(const char *dir, int flags, size_t *len) {
    char p[512];
    snprintf(p, sizeof p, "%s/small%d.npz", dir, flags);
    const int64_t s4[1] = {4}, s2[1] = {2};
    jx_array *a = jx_array_new(JX_F32, 1, s4), *b = jx_array_new(JX_I32, 1, s2);
    for (int i = 0; i < 4; i++) jx_array_set(a, i, i + 1);
    for (int i = 0; i < 2; i++) jx_array_set(b, i, i + 5);
    const char *names[2] = {"a", "b"};
    jx_array *arr[2] = {a, b};
    unsigned char *img = jx_npz_save(p, 2, names, arr, flags) == 0 ? slurp(p, len) : NULL;
    jx_array_free(a);
    jx_array_free(b);
    return img;
}

/* Expects parse of b[0..len) to fail with a message containing want. */
#define CHECK_PARSE_FAILS(b, len, want)                                                 \
    do {                                                                                \
        jx_clear_error();                                                               \
        jx_tree *z_ = jx_tree_parse((b), (len));                                          \
        CHECK(z_ == NULL);                                                              \
        CHECK_CONTAINS(jx_error(), (want));                                             \
        jx_tree_free(z_);                                                                \
    } while (0)

TEST(npz_not_a_zip_and_truncated) {
    char d[256], p[512];
    tmp_dir(d, sizeof d, "trunc");
    CHECK_PARSE_FAILS("hello, world", 12, "not a zip archive");
    CHECK_PARSE_FAILS("", 0, "empty file");
    unsigned char npy[256];
    size_t nl = numpy_f32_2x3(npy);
    CHECK_PARSE_FAILS(npy, nl, "jx_tree_parse: <buffer>: not a zip archive");
    /* A file: the message names it. */
    snprintf(p, sizeof p, "%s/x.npy.npz", d);
    CHECK(spit(p, npy, nl) == 0);
    CHECK(jx_tree_load(p) == NULL);
    CHECK_CONTAINS(jx_error(), p);
    CHECK_CONTAINS(jx_error(), "not a zip archive");
    size_t len = 0;
    for (int c = 0; c < 2; c++) {
        unsigned char *img = small_archive(d, c ? JX_NPZ_COMPRESSED : 0, &len);
        CHECK(img != NULL);
        /* Every proper prefix fails with a message (no crash, no leak). */
        for (size_t k = 0; img && k < len; k++) {
            jx_clear_error();
            jx_tree *z = jx_tree_parse(img, k);
            if (z) CHECK_FAIL_("a %zu-byte prefix of %zu parsed", k, len);
            if (!jx_error()[0]) CHECK_FAIL_("no message for a %zu-byte prefix", k);
            jx_tree_free(z);
        }
        /* Truncated in the middle, as a file. */
        snprintf(p, sizeof p, "%s/cut.npz", d);
        CHECK(img && spit(p, img, len / 2) == 0);
        CHECK(jx_tree_load(p) == NULL);
        CHECK_CONTAINS(jx_error(), "jx_tree_load: ");
        CHECK_CONTAINS(jx_error(), p);
        CHECK(jx_npz_load_one(p, "a") == NULL);
        CHECK_CONTAINS(jx_error(), "jx_npz_load_one: ");
        free(img);
    }
    rm_dir(d);
}

TEST(npz_bad_crc_and_bad_members) {
    char d[256];
    tmp_dir(d, sizeof d, "bad");
    size_t len = 0;
    unsigned char *img = small_archive(d, JX_NPZ_STORED, &len), *b = img ? malloc(len) : NULL;
    if (!b) {
        CHECK_FAIL_("cannot build the archive: %s", jx_error());
        free(img);
        return;
    }
    const float three = 3.0f, four = 4.0f;
    /* A changed data byte: the CRC no longer matches. */
    memcpy(b, img, len);
    CHECK(patch_all(b, len, &three, &four, 4) == 1);
    CHECK_PARSE_FAILS(b, len, "member 'a.npy': CRC error");
    /* A member whose name does not end in .npy. */
    memcpy(b, img, len);
    CHECK(patch_all(b, len, "b.npy", "b.txt", 5) == 2);
    CHECK_PARSE_FAILS(b, len, "member 'b.txt' is not an .npy member");
    /* A member that is not an .npy image. */
    memcpy(b, img, len);
    CHECK(patch_all(b, len, "\x93NUMPY\x01", "\x93NUMPX\x01", 7) == 2);
    CHECK_PARSE_FAILS(b, len, "member 'a.npy': bad magic (not an .npy file)");
    /* Two members of the same name. */
    memcpy(b, img, len);
    CHECK(patch_all(b, len, "b.npy", "a.npy", 5) == 2);
    CHECK_PARSE_FAILS(b, len, "jx_tree_parse: <buffer>: ");
    CHECK_CONTAINS(jx_error(), "duplicate");
    char p[512];
    snprintf(p, sizeof p, "%s/dup.npz", d);
    CHECK(spit(p, b, len) == 0);
    CHECK(jx_npz_load_one(p, "a") == NULL);
    CHECK_CONTAINS(jx_error(), "duplicate");
    free(b);
    free(img);
    rm_dir(d);
}

/* Sets the declared uncompressed size of every member of zip image b to sz (local
 * headers and central directory). Returns the number of headers changed. */
static int set_sizes(unsigned char *b, size_t len, uint32_t sz) {
    int k = 0;
    unsigned char le[4] = {sz & 0xff, sz >> 8 & 0xff, sz >> 16 & 0xff, sz >> 24 & 0xff};
    for (size_t i = 0; i + 46 <= len; i++) {
        if (!memcmp(b + i, "PK\3\4", 4)) memcpy(b + i + 22, le, 4), k++;
        if (!memcmp(b + i, "PK\1\2", 4)) memcpy(b + i + 24, le, 4), k++;
    }
    return k;
}

TEST(npz_zip_bomb_and_lying_sizes) {
    char d[256], p[512];
    tmp_dir(d, sizeof d, "bomb");
    snprintf(p, sizeof p, "%s/zeros.npz", d);
    const int64_t sh[1] = {1 << 20};
    jx_array *z4 = jx_array_new(JX_F32, 1, sh); /* 4 MiB of zeros: deflates to ~4 KiB */
    jx_array_fill(z4, 0);
    const char *nm[1] = {"zeros"};
    CHECK(jx_npz_save(p, 1, nm, &z4, JX_NPZ_COMPRESSED) == 0);
    jx_array_free(z4);
    size_t len = 0;
    unsigned char *img = slurp(p, &len);
    CHECK(img && len < 100000);
    size_t old = jx_set_load_limit(1 << 16);
    CHECK(jx_tree_load(p) == NULL);
    CHECK_CONTAINS(jx_error(), "member 'zeros.npy': declared size 4194432 bytes is over the "
                               "load limit of 65536 bytes");
    CHECK(jx_npz_load_one(p, "zeros") == NULL);
    CHECK_CONTAINS(jx_error(), "over the load limit");
    jx_set_load_limit(old);
    jx_tree *z = jx_tree_load(p);
    CHECK(z && z->n == 1 && jx_array_size(z->leaves[0]) == 1 << 20);
    jx_tree_free(z);
    /* Declared sizes that lie, both ways: an error, never more data than declared. */
    unsigned char *b = img ? malloc(len) : NULL;
    for (int w = 0; b && w < 2; w++) {
        memcpy(b, img, len);
        CHECK(set_sizes(b, len, w ? 200 : 0xfffffff0u) == 2);
        jx_clear_error();
        z = jx_tree_parse(b, len);
        CHECK(z == NULL);
        CHECK(jx_error()[0] != 0);
        if (w) CHECK_CONTAINS(jx_error(), "member 'zeros.npy': data too short");
        else CHECK_CONTAINS(jx_error(), "over the load limit");
        jx_tree_free(z);
    }
    free(b);
    free(img);
    rm_dir(d);
}
