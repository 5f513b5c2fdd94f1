/* .npy I/O of host arrays (src/lib/npy.c): round trips through buffers and files, the
 * exact bytes numpy writes, header versions and dict forms, and a catalog of malformed
 * .npy images. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jx.h"

#include "npy_util.h"

/* Fills a with distinctive values for its dtype (including NaN/inf/extremes). */
static void fill_pattern(jx_array *a) {
    int64_t n = jx_array_size(a);
    void *p = jx_array_data(a);
    for (int64_t i = 0; i < n; i++) switch (jx_array_dtype(a)) {
        case JX_F32: ((float *)p)[i] = i == 1 ? NAN : i == 2 ? -INFINITY : 0.5f * (float)i - 3; break;
        case JX_F64: ((double *)p)[i] = i == 1 ? NAN : i == 2 ? INFINITY : 1e300 / (double)(i + 1); break;
        case JX_I32: ((int32_t *)p)[i] = i == 0 ? INT32_MIN : i == 1 ? INT32_MAX : (int32_t)(i * -7); break;
        case JX_U32: ((uint32_t *)p)[i] = i == 0 ? UINT32_MAX : (uint32_t)(i * 123457u); break;
        case JX_BOOL: ((uint8_t *)p)[i] = (uint8_t)(i % 3 == 0); break;
        default: break;
        }
}

/* 1 if a and b have the same type and bytes. */
static int same_array(const jx_array *a, const jx_array *b) {
    if (!a || !b) return 0;
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    return jx_type_eq(&ta, &tb) && jx_array_nbytes(a) == jx_array_nbytes(b) &&
           !memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a));
}

/* The shapes every round-trip test runs through: rank 0, 1, 2, 3, zero-size, rank 8. */
static const jx_type rt_shapes[] = {
    {JX_F32, 0, {0}},       {JX_F32, 1, {5}},    {JX_F32, 2, {2, 3}},
    {JX_F32, 3, {2, 1, 4}}, {JX_F32, 2, {3, 0}}, {JX_F32, 1, {0}},
    {JX_F32, 8, {1, 2, 1, 2, 1, 2, 1, 2}},
};
#define N_RT (int)(sizeof rt_shapes / sizeof rt_shapes[0])

TEST(npy_roundtrip_buffer) {
    for (int d = 0; d < NDT; d++)
        for (int s = 0; s < N_RT; s++) {
            jx_type t = rt_shapes[s];
            t.dtype = all_dtypes[d];
            jx_array *a = jx_array_new_type(&t);
            fill_pattern(a);
            size_t len = 0;
            unsigned char *buf = jx_npy_dump(a, &len);
            CHECK(buf != NULL);
            if (!buf) {
                jx_array_free(a);
                continue;
            }
            size_t hlen = buf[8] | (size_t)buf[9] << 8;
            CHECK((10 + hlen) % 64 == 0);
            CHECK(buf[10 + hlen - 1] == '\n');
            CHECK(len == 10 + hlen + jx_array_nbytes(a));
            jx_array *b = jx_npy_parse(buf, len);
            CHECK(same_array(a, b));
            CHECK(b && (uintptr_t)jx_array_cdata(b) % 64 == 0);
            jx_array_free(b);
            free(buf);
            jx_array_free(a);
        }
}

TEST(npy_roundtrip_file) {
    char path[256];
    tmp_path(path, sizeof path, "rt");
    for (int d = 0; d < NDT; d++)
        for (int s = 0; s < N_RT; s++) {
            jx_type t = rt_shapes[s];
            t.dtype = all_dtypes[d];
            jx_array *a = jx_array_new_type(&t);
            fill_pattern(a);
            CHECK(jx_npy_save(path, a) == 0);
            jx_array *b = jx_npy_load(path);
            CHECK(same_array(a, b));
            jx_array_free(b);
            jx_array_free(a);
        }
    remove(path);
}

TEST(npy_exact_numpy_bytes) {
    unsigned char want[256];
    size_t wlen = numpy_f32_2x3(want);
    CHECK(wlen == 152);
    jx_array *a = jx_array_new(JX_F32, 2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; i++) jx_array_set(a, i, i);
    size_t len = 0;
    unsigned char *got = jx_npy_dump(a, &len);
    CHECK(got && len == wlen && !memcmp(got, want, wlen));
    free(got);
    jx_array *b = jx_npy_parse(want, wlen);
    CHECK(same_array(a, b));
    jx_array_free(b);
    jx_array_free(a);

    /* Rank 0 and rank 1 shapes print as () and (5,). */
    jx_array *s = jx_array_scalar(JX_BOOL, 1);
    got = jx_npy_dump(s, &len);
    CHECK(got && strstr((char *)got + 10, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"));
    free(got);
    jx_array_free(s);
    jx_array *v = jx_array_new(JX_U32, 1, (int64_t[]){5});
    got = jx_npy_dump(v, &len);
    CHECK(got && strstr((char *)got + 10, "{'descr': '<u4', 'fortran_order': False, 'shape': (5,), }"));
    free(got);
    jx_array_free(v);
}

TEST(npy_versions_and_dict_forms) {
    int32_t d6[6] = {1, -2, 3, -4, 5, -6};
    const char *forms[] = {
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'shape': (2,3), 'fortran_order': False, 'descr': '<i4'}",
        "{ \"descr\" : \"<i4\" ,\"fortran_order\":False,\"shape\":( 2 , 3 , ) , }",
        "{'fortran_order': False, 'shape': (2L, 3L), 'descr': '<i4',}", /* 1.0, 2.0 only */
        "{'descr': 'i4', 'descr': 'int32', 'fortran_order': False, 'shape': ((2), +3)}",
    };
    for (int major = 1; major <= 3; major++)
        for (int f = 0; f < 5; f++) {
            if (f == 3 && major == 3) continue; /* numpy drops 'L' only before 3.0 */
            size_t len;
            unsigned char *b = make_npy(major, forms[f], 0, d6, sizeof d6, &len);
            jx_array *a = jx_npy_parse(b, len);
            CHECK(a && jx_array_dtype(a) == JX_I32 && jx_array_rank(a) == 2 &&
                  jx_array_dim(a, 0) == 2 && jx_array_dim(a, 1) == 3);
            if (a) CHECK(!memcmp(jx_array_cdata(a), d6, sizeof d6));
            if (!a) printf("  form %d v%d: %s\n", f, major, jx_error());
            jx_array_free(a);
            free(b);
        }
    /* A header with no padding and no newline, trailing bytes after the data. */
    size_t len;
    double one = 1.5;
    unsigned char *b = make_npy(1, "{'descr':'<f8','fortran_order':False,'shape':()}", 1, &one,
                                sizeof one, &len);
    jx_array *a = jx_npy_parse(b, len);
    CHECK(a && jx_array_rank(a) == 0 && jx_array_get(a, 0) == 1.5);
    jx_array_free(a);
    free(b);
    /* Bool bytes other than 0/1 are normalized to 1. */
    uint8_t bb[3] = {0, 2, 255};
    b = make_npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 0, bb, 3, &len);
    a = jx_npy_parse(b, len);
    CHECK(a && ((const uint8_t *)jx_array_cdata(a))[1] == 1 &&
          ((const uint8_t *)jx_array_cdata(a))[2] == 1 && ((const uint8_t *)jx_array_cdata(a))[0] == 0);
    jx_array_free(a);
    free(b);
}

/* One malformed-input case: an image and the words its message must contain. */
struct bad_case {
    const char *name;
    int major;
    const char *header;
    size_t ndata;
    const char *want;
};

TEST(npy_malformed_catalog) {
    static const unsigned char zeros[64];
    const struct bad_case cases[] = {
        {"bad descr f2", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4,
         "unsupported descr '<f2'"},
        {"u1 rejected", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 2,
         "unsupported descr '|u1'"},
        {"fortran junk", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8,
         "must be True or False"},
        {"negative dim", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 64,
         "negative dimension at axis 1"},
        {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False, }", 64,
         "missing key 'shape'"},
        {"missing descr", 1, "{'fortran_order': False, 'shape': (1,)}", 8, "missing key 'descr'"},
        {"L in 3.0", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", 8,
         "invalid number literal"},
        {"leading zero", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (02,), }", 8,
         "leading zeros"},
        {"lower-case l", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2l,), }", 8,
         "invalid number literal"},
        {"unknown key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}", 8,
         "unexpected key 'x'"},
        {"data too short", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 47,
         "data too short: shape needs 48 bytes but only 47"},
        {"garbage dict", 1, "hello world", 8, "expected '{'"},
        {"garbage inside", 1, "{'descr': '<f4' 'shape': ()}", 8, "expected ',' or '}'"},
        {"unterminated dict", 2, "{'descr': '<f4', 'fortran_order': False", 8, "header ends"},
        {"unterminated string", 1, "{'descr: '<f4'", 8, "bad header"},
        {"text after dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", 8,
         "unexpected text after the dict"},
        {"rank 9", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 8,
         "more than 8 dimensions"},
        {"dim overflow int64", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8,
         "too large"},
        {"numel overflow", 3,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8,
         "overflow"},
        {"huge but short", 1,
         "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", 8,
         "over the load limit of 1073741824 bytes"},
        {"short", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100,), }", 8,
         "data too short"},
        {"shape not tuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 8,
         "'shape' must be a tuple of ints"},
        {"shape (3) not tuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }",
         12, "trailing comma"},
        {"shape float", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", 12,
         "in the shape tuple"},
        {"descr not string", 1, "{'descr': 4, 'fortran_order': False, 'shape': (), }", 8,
         "unsupported descr: not a quoted string"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        size_t len;
        unsigned char *b = make_npy(cases[i].major, cases[i].header, 0, zeros, cases[i].ndata, &len);
        jx_clear_error();
        jx_array *a = jx_npy_parse(b, len);
        if (a || !strstr(jx_error(), cases[i].want) || !strstr(jx_error(), "jx_npy_parse"))
            printf("  case '%s': got %s, message \"%s\"\n", cases[i].name, a ? "an array" : "NULL",
                   jx_error());
        CHECK(a == NULL);
        CHECK_CONTAINS(jx_error(), cases[i].want);
        CHECK_CONTAINS(jx_error(), "jx_npy_parse: <buffer>");
        jx_array_free(a);
        free(b);
    }
}

TEST_MAIN()
