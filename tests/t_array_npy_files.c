/* .npy I/O of host arrays (src/lib/npy.c): malformed prefixes, file errors, and
 * interoperability with numpy when it exists. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jx.h"

#include "npy_util.h"

TEST(npy_malformed_prefix) {
    size_t len;
    unsigned char *good = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                   0, "\0\0\0\0\0\0\0\0", 8, &len);
    /* Bad magic. */
    unsigned char *b = malloc(len);
    memcpy(b, good, len);
    b[1] = 'n';
    CHECK(jx_npy_parse(b, len) == NULL);
    CHECK_CONTAINS(jx_error(), "bad magic");
    CHECK(jx_npy_parse("PK\3\4", 4) == NULL);
    CHECK_CONTAINS(jx_error(), "bad magic");
    /* Empty and tiny buffers. */
    CHECK(jx_npy_parse("", 0) == NULL);
    CHECK_CONTAINS(jx_error(), "truncated");
    CHECK(jx_npy_parse(NULL, 0) == NULL);
    CHECK_CONTAINS(jx_error(), "truncated");
    CHECK(jx_npy_parse("\x93NUM", 4) == NULL);
    CHECK_CONTAINS(jx_error(), "truncated");
    /* Unsupported versions. */
    memcpy(b, good, len);
    b[6] = 4;
    CHECK(jx_npy_parse(b, len) == NULL);
    CHECK_CONTAINS(jx_error(), "unsupported format version 4.0");
    memcpy(b, good, len);
    b[7] = 1;
    CHECK(jx_npy_parse(b, len) == NULL);
    CHECK_CONTAINS(jx_error(), "version 1.1");
    /* Header length beyond the buffer. */
    memcpy(b, good, len);
    b[8] = 0x00;
    b[9] = 0x20;
    CHECK(jx_npy_parse(b, len) == NULL);
    CHECK_CONTAINS(jx_error(), "header length 8192 runs past the end");
    /* Longer than numpy's max_header_size. */
    b[9] = 0x7f;
    CHECK(jx_npy_parse(b, len) == NULL);
    CHECK_CONTAINS(jx_error(), "header length 32512 exceeds numpy's limit of 10000");
    /* Same in a 2.0 image with a 4-byte length near 2^32. */
    size_t len2;
    unsigned char *v2 = make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 0,
                                 "\0\0\0\0", 4, &len2);
    v2[11] = 0xff;
    CHECK(jx_npy_parse(v2, len2) == NULL);
    CHECK_CONTAINS(jx_error(), "exceeds numpy's limit");
    v2[11] = 0;
    v2[9] = 0x40; /* 16448 bytes: within the limit for a 3.0 (UTF-8) header */
    v2[6] = 3;
    CHECK(jx_npy_parse(v2, len2) == NULL);
    CHECK_CONTAINS(jx_error(), "runs past the end");
    free(v2);
    /* A NUL byte inside the header. */
    memcpy(b, good, len);
    b[20] = 0;
    CHECK(jx_npy_parse(b, len) == NULL);
    CHECK_CONTAINS(jx_error(), "NUL");
    /* Every truncation of a valid image fails cleanly (the data is required). */
    for (size_t k = 0; k < len; k++) {
        jx_clear_error();
        jx_array *a = jx_npy_parse(good, k);
        CHECK(a == NULL);
        CHECK(jx_error()[0] != 0);
        jx_array_free(a);
    }
    /* Corrupting any single header byte never crashes (result may or may not parse). */
    for (size_t k = 0; k < len - 8; k++)
        for (int v = 0; v < 256; v += 17) {
            memcpy(b, good, len);
            b[k] = (unsigned char)v;
            jx_array_free(jx_npy_parse(b, len));
        }
    jx_array *ok = jx_npy_parse(good, len);
    CHECK(ok && jx_array_size(ok) == 2);
    jx_array_free(ok);
    free(b);
    free(good);
}

TEST(npy_file_errors) {
    char path[256];
    tmp_path(path, sizeof path, "missing");
    remove(path);
    CHECK(jx_npy_load(path) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_npy_load");
    CHECK_CONTAINS(jx_error(), path);
    CHECK_CONTAINS(jx_error(), "No such file");

    jx_array *a = jx_array_scalar(JX_F32, 1);
    CHECK(jx_npy_save("/nonexistent_jx_dir/x.npy", a) == -1);
    CHECK_CONTAINS(jx_error(), "jx_npy_save: /nonexistent_jx_dir/x.npy");
    CHECK_CONTAINS(jx_error(), "No such file");
    CHECK(jx_npy_save(path, NULL) == -1);
    CHECK(jx_npy_dump(NULL, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_npy_dump");
    jx_array_free(a);

    /* A malformed file names the path. */
    tmp_path(path, sizeof path, "bad");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("not an npy file at all", f);
        fclose(f);
    }
    CHECK(jx_npy_load(path) == NULL);
    CHECK_CONTAINS(jx_error(), path);
    CHECK_CONTAINS(jx_error(), "bad magic");
    /* A dtype jx does not have, in a file. */
    size_t len;
    unsigned char *b = make_npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 0,
                                "\0\0\0\0", 4, &len);
    f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, len, f);
        fclose(f);
    }
    free(b);
    CHECK(jx_npy_load(path) == NULL);
    CHECK_CONTAINS(jx_error(), path);
    CHECK_CONTAINS(jx_error(), "unsupported descr '<f2'");
    remove(path);
    /* A directory is not a file. */
    CHECK(jx_npy_load("/tmp") == NULL);
    CHECK_CONTAINS(jx_error(), "jx_npy_load: /tmp");
}

/* Without numpy: the exact bytes numpy writes for f32[2,3] parse, and a file saved by
 * jx holds exactly those bytes. */
static void compat_without_numpy(void) {
    /* No numpy: check against the exact bytes numpy writes for f32[2,3], and that a
     * file saved by jx holds exactly those bytes. */
    unsigned char want[256];
    size_t wlen = numpy_f32_2x3(want);
    jx_array *a = jx_npy_parse(want, wlen);
    CHECK(a && jx_array_dim(a, 0) == 2 && jx_array_dim(a, 1) == 3);
    for (int i = 0; i < 6 && a; i++) CHECK_NEAR(jx_array_get(a, i), i, 0);
    char path[256];
    tmp_path(path, sizeof path, "nonumpy");
    CHECK(jx_npy_save(path, a) == 0);
    unsigned char got[512];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    CHECK(n == wlen && !memcmp(got, want, wlen));
    remove(path);
    jx_array_free(a);
}

/* numpy's names of all_dtypes. */
static const char *const np_dt[NDT] = {"float32", "float64", "int32", "uint32", "bool"};

/* jx -> numpy: a file jx saves in each dtype loads in numpy (python py) with the values,
 * shape and layout jx wrote. p1 is a scratch path. */
static void compat_jx_to_numpy(const char *py, const char *p1) {
    char cmd[1024];
    /* jx -> numpy, for each dtype. */
    for (int d = 0; d < NDT; d++) {
        jx_array *a = jx_array_new(all_dtypes[d], 2, (int64_t[]){2, 3});
        for (int i = 0; i < 6; i++) jx_array_set(a, i, i % 2 ? i : 0);
        CHECK(jx_npy_save(p1, a) == 0);
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import numpy as np, sys; a = np.load('%s'); "
                 "e = (np.arange(6) * (np.arange(6) %% 2)).reshape(2, 3).astype('%s'); "
                 "sys.exit(0 if a.dtype == e.dtype and a.shape == (2, 3) and "
                 "(a == e).all() and a.flags.c_contiguous else 1)\"",
                 py, p1, np_dt[d]);
        int rc = system(cmd);
        if (rc != 0) printf("  numpy rejected jx's %s file\n", np_dt[d]);
        CHECK(rc == 0);
        jx_array_free(a);
    }
}

/* numpy -> jx: files numpy saves (each dtype at rank 3, rank 0, zero size, Fortran order,
 * and numpy's own bytes for f32[2,3]) load in jx. p2 is a scratch path. */
static void compat_numpy_to_jx(const char *py, const char *p2) {
    char cmd[1024];
    /* numpy -> jx: rank 0, zero-size, rank 3, each dtype. */
    for (int d = 0; d < NDT; d++) {
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import numpy as np; "
                 "np.save('%s', (np.arange(24).reshape(2, 3, 4) %% 5).astype('%s'))\"",
                 py, p2, np_dt[d]);
        CHECK(system(cmd) == 0);
        jx_array *b = jx_npy_load(p2);
        CHECK(b && jx_array_dtype(b) == all_dtypes[d] && jx_array_rank(b) == 3 &&
              jx_array_dim(b, 2) == 4);
        for (int i = 0; i < 24 && b; i++)
            CHECK_NEAR(jx_array_get(b, i), all_dtypes[d] == JX_BOOL ? (i % 5 != 0) : i % 5, 0);
        jx_array_free(b);
    }
    snprintf(cmd, sizeof cmd, "%s -c \"import numpy as np; np.save('%s', np.float64(2.5))\"",
             py, p2);
    CHECK(system(cmd) == 0);
    jx_array *s = jx_npy_load(p2);
    CHECK(s && jx_array_rank(s) == 0 && jx_array_get(s, 0) == 2.5);
    jx_array_free(s);
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np; np.save('%s', np.zeros((3, 0), np.int32))\"", py,
             p2);
    CHECK(system(cmd) == 0);
    jx_array *z = jx_npy_load(p2);
    CHECK(z && jx_array_size(z) == 0 && jx_array_dim(z, 0) == 3 && jx_array_dtype(z) == JX_I32);
    jx_array_free(z);
    /* numpy's Fortran-order files come back in C order. */
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np; np.save('%s', np.asfortranarray(np.arange(6, "
             "dtype=np.float32).reshape(2, 3)))\"",
             py, p2);
    CHECK(system(cmd) == 0);
    jx_array *fo = jx_npy_load(p2);
    CHECK(fo && jx_array_rank(fo) == 2 && jx_array_dim(fo, 0) == 2 && jx_array_dim(fo, 1) == 3);
    for (int i = 0; fo && i < 6; i++) CHECK(jx_array_get(fo, i) == i);
    jx_array_free(fo);
    /* numpy's own bytes for f32[2,3] equal the hand-built image and jx's dump. */
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np; np.save('%s', np.arange(6, dtype='<f4').reshape(2, 3))\"",
             py, p2);
    CHECK(system(cmd) == 0);
    unsigned char want[256], got[512];
    size_t wlen = numpy_f32_2x3(want);
    FILE *f = fopen(p2, "rb");
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    CHECK(n == wlen && !memcmp(got, want, wlen));
}

TEST(npy_numpy_compat) {
    const char *py = numpy_python();
    if (!py) {
        compat_without_numpy();
        return;
    }
    char p1[256], p2[256];
    tmp_path(p1, sizeof p1, "tonumpy");
    tmp_path(p2, sizeof p2, "fromnumpy");
    compat_jx_to_numpy(py, p1);
    compat_numpy_to_jx(py, p2);
    remove(p1);
    remove(p2);
}

TEST_MAIN()
