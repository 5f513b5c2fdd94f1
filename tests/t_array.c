/* Host arrays (src/array.c) and .npy I/O (src/npy.c): creation, conversion, refcounts,
 * wrapping, alignment, error messages, .npy round trips, the exact bytes numpy writes,
 * a catalog of malformed .npy images, and numpy interoperability when numpy exists. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jx.h"

static const jx_dtype all_dtypes[] = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL};
#define NDT 5

/* A unique path in /tmp for this process and tag. */
static void tmp_path(char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "/tmp/jx_t_array_%ld_%s.npy", (long)getpid(), tag);
}

/* 1 if every byte of [p, p+n) is zero. */
static int all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

TEST(new_each_dtype) {
    int64_t shape[2] = {2, 3};
    for (int d = 0; d < NDT; d++) {
        jx_dtype dt = all_dtypes[d];
        jx_array *a = jx_array_new(dt, 2, shape);
        CHECK(a != NULL);
        if (!a) continue;
        CHECK(jx_array_dtype(a) == dt);
        CHECK(jx_array_rank(a) == 2);
        CHECK(jx_array_shape(a)[0] == 2 && jx_array_shape(a)[1] == 3);
        CHECK(jx_array_dim(a, 1) == 3);
        CHECK(jx_array_dim(a, -2) == 2);
        CHECK(jx_array_size(a) == 6);
        CHECK(jx_array_nbytes(a) == 6 * jx_dtype_size(dt));
        CHECK(jx_array_data(a) == jx_array_cdata(a));
        CHECK(all_zero(jx_array_cdata(a), jx_array_nbytes(a)));
        jx_type t = jx_array_type(a);
        jx_type want = JX_TYPE(dt, 2, 3);
        CHECK(jx_type_eq(&t, &want));
        for (int i = 0; i < 6; i++) jx_array_set(a, i, i);
        for (int i = 0; i < 6; i++)
            CHECK_NEAR(jx_array_get(a, i), dt == JX_BOOL ? (i != 0) : i, 0);
        jx_array_fill(a, 1);
        for (int i = 0; i < 6; i++) CHECK_NEAR(jx_array_get(a, i), 1, 0);
        jx_array_free(a);
    }
}

TEST(new_type_and_from) {
    jx_type t = JX_TYPE(JX_I32, 4);
    jx_array *a = jx_array_new_type(&t);
    CHECK(a && jx_array_size(a) == 4 && all_zero(jx_array_cdata(a), 16));
    jx_array_free(a);
    CHECK(jx_array_new_type(NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_new_type");

    float src[6] = {1, 2, 3, 4, 5, 6.5f};
    int64_t shape[2] = {3, 2};
    jx_array *b = jx_array_from(JX_F32, 2, shape, src);
    CHECK(b != NULL);
    src[0] = 100; /* the array holds a copy */
    CHECK_NEAR(jx_array_get(b, 0), 1, 0);
    CHECK_NEAR(jx_array_get(b, 5), 6.5, 0);
    CHECK(jx_array_cdata(b) != (const void *)src);
    jx_array_free(b);

    CHECK(jx_array_from(JX_F32, 2, shape, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_from");
}

TEST(conversions) {
    jx_array *i = jx_array_scalar(JX_I32, -3.7);
    CHECK_NEAR(jx_array_get(i, 0), -3, 0);
    jx_array_set(i, 0, 1e20);
    CHECK_NEAR(jx_array_get(i, 0), INT32_MAX, 0);
    jx_array_set(i, 0, -1e20);
    CHECK_NEAR(jx_array_get(i, 0), INT32_MIN, 0);
    jx_array_set(i, 0, NAN);
    CHECK_NEAR(jx_array_get(i, 0), 0, 0);
    jx_array_free(i);

    jx_array *u = jx_array_scalar(JX_U32, 4000000000.0);
    CHECK_NEAR(jx_array_get(u, 0), 4000000000.0, 0);
    CHECK(*(const uint32_t *)jx_array_cdata(u) == 4000000000u);
    jx_array_set(u, 0, -5);
    CHECK_NEAR(jx_array_get(u, 0), 0, 0);
    jx_array_free(u);

    jx_array *b = jx_array_scalar(JX_BOOL, 0.25);
    CHECK(*(const uint8_t *)jx_array_cdata(b) == 1);
    CHECK_NEAR(jx_array_get(b, 0), 1, 0);
    jx_array_set(b, 0, -0.0);
    CHECK_NEAR(jx_array_get(b, 0), 0, 0);
    jx_array_set(b, 0, -7);
    CHECK_NEAR(jx_array_get(b, 0), 1, 0);
    /* A raw nonzero byte other than 1 still reads as 1. */
    *(uint8_t *)jx_array_data(b) = 42;
    CHECK_NEAR(jx_array_get(b, 0), 1, 0);
    jx_array_free(b);

    jx_array *f = jx_array_scalar(JX_F32, 0.1);
    CHECK(jx_array_get(f, 0) == (double)0.1f);
    jx_array_set(f, 0, INFINITY);
    CHECK(isinf(jx_array_get(f, 0)));
    jx_array_set(f, 0, NAN);
    CHECK(isnan(jx_array_get(f, 0)));
    jx_array_free(f);

    jx_array *d = jx_array_scalar(JX_F64, 0.1);
    CHECK(jx_array_get(d, 0) == 0.1);
    jx_array_free(d);

    int64_t shape[1] = {5};
    jx_array *fi = jx_array_new(JX_I32, 1, shape);
    jx_array_fill(fi, 2.9);
    for (int k = 0; k < 5; k++) CHECK(((const int32_t *)jx_array_cdata(fi))[k] == 2);
    jx_array_free(fi);
    jx_array *fb = jx_array_new(JX_BOOL, 1, shape);
    jx_array_fill(fb, 3);
    for (int k = 0; k < 5; k++) CHECK(((const uint8_t *)jx_array_cdata(fb))[k] == 1);
    jx_array_free(fb);
}

TEST(rank0) {
    for (int d = 0; d < NDT; d++) {
        jx_array *a = jx_array_new(all_dtypes[d], 0, NULL);
        CHECK(a != NULL);
        if (!a) continue;
        CHECK(jx_array_rank(a) == 0);
        CHECK(jx_array_size(a) == 1);
        CHECK(jx_array_nbytes(a) == jx_dtype_size(all_dtypes[d]));
        CHECK_NEAR(jx_array_get(a, 0), 0, 0);
        jx_array_set(a, 0, 1);
        CHECK_NEAR(jx_array_get(a, 0), 1, 0);
        CHECK(jx_array_dim(a, 0) == -1);
        CHECK_CONTAINS(jx_error(), "out of range for rank 0");
        jx_array_free(a);
    }
    jx_array *s = jx_array_scalar(JX_F64, 2.5);
    CHECK(s && jx_array_rank(s) == 0 && jx_array_get(s, 0) == 2.5);
    jx_array_free(s);
}

TEST(zero_size) {
    int64_t shape[3] = {3, 0, 5};
    for (int d = 0; d < NDT; d++) {
        jx_array *a = jx_array_new(all_dtypes[d], 3, shape);
        CHECK(a != NULL);
        if (!a) continue;
        CHECK(jx_array_size(a) == 0);
        CHECK(jx_array_nbytes(a) == 0);
        CHECK(jx_array_data(a) != NULL);
        CHECK((uintptr_t)jx_array_data(a) % 64 == 0);
        jx_array_fill(a, 3); /* no-op */
        jx_clear_error();
        CHECK(isnan(jx_array_get(a, 0)));
        CHECK_CONTAINS(jx_error(), "jx_array_get: index 0 out of range");
        jx_array *c = jx_array_copy(a);
        CHECK(c && jx_array_size(c) == 0 && jx_array_rank(c) == 3);
        jx_array_free(c);
        jx_array_free(a);
    }
    /* Wrapping an empty shape may pass NULL data. */
    jx_array *w = jx_array_wrap(JX_F32, 3, shape, NULL, NULL, NULL);
    CHECK(w && jx_array_size(w) == 0);
    jx_array_free(w);
}

TEST(alignment) {
    for (int d = 0; d < NDT; d++)
        for (int64_t n = 0; n < 200; n += 7) {
            int64_t shape[1] = {n};
            jx_array *a = jx_array_new(all_dtypes[d], 1, shape);
            CHECK(a && (uintptr_t)jx_array_cdata(a) % 64 == 0);
            jx_array *c = jx_array_copy(a);
            CHECK(c && (uintptr_t)jx_array_cdata(c) % 64 == 0);
            jx_array_free(c);
            jx_array_free(a);
        }
    jx_array *s = jx_array_scalar(JX_BOOL, 1);
    CHECK((uintptr_t)jx_array_cdata(s) % 64 == 0);
    jx_array_free(s);
}

TEST(copy_independent) {
    int64_t shape[2] = {2, 2};
    double v[4] = {1, 2, 3, 4};
    jx_array *a = jx_array_from(JX_F64, 2, shape, v);
    jx_array *b = jx_array_copy(a);
    CHECK(b && jx_array_cdata(a) != jx_array_cdata(b));
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    CHECK(jx_type_eq(&ta, &tb));
    jx_array_set(b, 0, 9);
    jx_array_set(a, 3, -1);
    CHECK_NEAR(jx_array_get(a, 0), 1, 0);
    CHECK_NEAR(jx_array_get(b, 0), 9, 0);
    CHECK_NEAR(jx_array_get(b, 3), 4, 0);
    jx_array_free(a);
    jx_array_free(b);
    CHECK(jx_array_copy(NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_copy");
}

/* Release callback for wrap tests: counts calls and records the pointers. */
struct rel_log {
    int calls;
    void *ctx, *data;
};
static void rel_cb(void *ctx, void *data) {
    struct rel_log *log = ctx;
    log->calls++;
    log->ctx = ctx;
    log->data = data;
}

TEST(wrap_release) {
    static float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    struct rel_log log = {0, NULL, NULL};
    jx_array *a = jx_array_wrap(JX_F32, 2, shape, buf, rel_cb, &log);
    CHECK(a != NULL);
    CHECK(jx_array_data(a) == (void *)buf); /* no copy */
    CHECK_NEAR(jx_array_get(a, 4), 5, 0);
    jx_array_set(a, 0, 10);
    CHECK(buf[0] == 10);
    /* A copy of a wrapped array is owned and independent. */
    jx_array *c = jx_array_copy(a);
    CHECK(c && jx_array_cdata(c) != (const void *)buf && (uintptr_t)jx_array_cdata(c) % 64 == 0);
    jx_array_free(c);
    CHECK(log.calls == 0);
    CHECK(jx_array_retain(a) == a);
    jx_array_retain(a);
    jx_array_free(a);
    jx_array_free(a);
    CHECK(log.calls == 0);
    jx_array_free(a);
    CHECK(log.calls == 1);
    CHECK(log.ctx == &log && log.data == (void *)buf);

    /* NULL release is allowed. */
    jx_array *b = jx_array_wrap(JX_F32, 2, shape, buf, NULL, NULL);
    CHECK(b != NULL);
    jx_array_free(b);

    /* Misaligned data: NULL, message, and the callback is not run. */
    struct rel_log log2 = {0, NULL, NULL};
    jx_array *m = jx_array_wrap(JX_F32, 1, shape, (char *)buf + 1, rel_cb, &log2);
    CHECK(m == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_wrap");
    CHECK_CONTAINS(jx_error(), "aligned");
    CHECK(log2.calls == 0);
    /* NULL data for a non-empty shape. */
    CHECK(jx_array_wrap(JX_F32, 2, shape, NULL, rel_cb, &log2) == NULL);
    CHECK_CONTAINS(jx_error(), "NULL data");
    CHECK(log2.calls == 0);
}

TEST(retain_free_counts) {
    CHECK(jx_array_retain(NULL) == NULL);
    jx_array_free(NULL);
    static int32_t buf[4];
    int64_t shape[1] = {4};
    struct rel_log log = {0, NULL, NULL};
    jx_array *a = jx_array_wrap(JX_I32, 1, shape, buf, rel_cb, &log);
    for (int i = 0; i < 100; i++) jx_array_retain(a);
    for (int i = 0; i < 100; i++) jx_array_free(a);
    CHECK(log.calls == 0);
    CHECK_NEAR(jx_array_get(a, 0), 0, 0); /* still alive */
    jx_array_free(a);
    CHECK(log.calls == 1);
}

/* Thread body: retains and frees the shared array many times. */
static void *rf_thread(void *arg) {
    jx_array *a = arg;
    for (int i = 0; i < 20000; i++) {
        jx_array_retain(a);
        jx_array_retain(a);
        jx_array_free(a);
        jx_array_free(a);
    }
    jx_array_free(a); /* each thread drops the reference it was given */
    return NULL;
}

TEST(retain_free_threads) {
    static uint8_t buf[8];
    int64_t shape[1] = {8};
    struct rel_log log = {0, NULL, NULL};
    jx_array *a = jx_array_wrap(JX_BOOL, 1, shape, buf, rel_cb, &log);
    enum { NT = 4 };
    pthread_t th[NT];
    int started = 0;
    for (int i = 0; i < NT; i++) {
        jx_array_retain(a);
        if (pthread_create(&th[i], NULL, rf_thread, a) != 0) {
            jx_array_free(a);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    CHECK(started == NT);
    CHECK(log.calls == 0);
    jx_array_free(a);
    CHECK(log.calls == 1);
}

TEST(errors) {
    int64_t neg[2] = {2, -1};
    CHECK(jx_array_new(JX_F32, 2, neg) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_new");
    CHECK_CONTAINS(jx_error(), "negative dimension -1");
    CHECK_CONTAINS(jx_error(), "f32[2,-1]");

    CHECK(jx_array_new(JX_F32, 2, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_new: NULL shape with rank 2");

    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(jx_array_new(JX_F64, 9, nine) == NULL);
    CHECK_CONTAINS(jx_error(), "rank 9");
    CHECK_CONTAINS(jx_error(), "f64[1,1,1,1,1,1,1,1,1]");
    CHECK(jx_array_new(JX_F64, -1, nine) == NULL);
    CHECK_CONTAINS(jx_error(), "rank -1");

    int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(jx_array_new(JX_F32, 2, huge) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_new");
    CHECK_CONTAINS(jx_error(), "f32[1099511627776,1099511627776]");
    CHECK_CONTAINS(jx_error(), "too large");
    /* Element count fits in int64 but the byte size does not. */
    int64_t big[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
    CHECK(jx_array_new(JX_F64, 2, big) == NULL);
    CHECK_CONTAINS(jx_error(), "too large");

    CHECK(jx_array_new((jx_dtype)17, 1, neg) == NULL);
    CHECK_CONTAINS(jx_error(), "bad dtype 17");
    CHECK(jx_array_new(JX_NDTYPES, 0, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "bad dtype");

    jx_type bad = JX_TYPE(JX_I32, 3, -4);
    CHECK(jx_array_new_type(&bad) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_new_type: negative dimension -4 at axis 1");
    CHECK(jx_array_wrap(JX_U32, 2, neg, NULL, NULL, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_wrap");
    CHECK(jx_array_from(JX_U32, 2, huge, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_from");
    CHECK(jx_array_scalar((jx_dtype)-1, 0) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_array_scalar: bad dtype");

    /* Out-of-range element access is reported and harmless. */
    jx_array *a = jx_array_new(JX_I32, 1, (int64_t[]){3});
    jx_array_set(a, 3, 5);
    CHECK_CONTAINS(jx_error(), "jx_array_set: index 3 out of range for i32[3]");
    CHECK(isnan(jx_array_get(a, -1)));
    CHECK_CONTAINS(jx_error(), "jx_array_get: index -1");
    CHECK(jx_array_dim(a, 1) == -1);
    CHECK_CONTAINS(jx_error(), "jx_array_dim: axis 1 out of range for rank 1");
    jx_array_free(a);

    /* NULL arrays give neutral values. */
    CHECK(jx_array_dtype(NULL) == JX_NDTYPES);
    CHECK(jx_array_size(NULL) == 0 && jx_array_data(NULL) == NULL);
    CHECK(isnan(jx_array_get(NULL, 0)));
}

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

/* The .npy bytes numpy writes for np.arange(6, dtype='<f4').reshape(2, 3). */
static size_t numpy_f32_2x3(unsigned char *out) {
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    size_t k = 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = 118; /* 128 - 10: the data starts at byte 128 */
    out[9] = 0;
    k = 10;
    memcpy(out + k, dict, strlen(dict));
    k += strlen(dict);
    while (k < 127) out[k++] = ' ';
    out[k++] = '\n';
    for (int i = 0; i < 6; i++) {
        float f = (float)i;
        memcpy(out + k, &f, 4); /* little-endian host assumed, as numpy's '<f4' */
        k += 4;
    }
    return k;
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

/* Builds an .npy image: magic, version major.0, the given header text padded to 64 with
 * a final '\n' (unless raw), then ndata bytes of data. Returns the malloc'd size. */
static unsigned char *make_npy(int major, const char *header, int raw, const void *data,
                               size_t ndata, size_t *len) {
    size_t pre = major == 1 ? 10 : 12, hl = strlen(header);
    size_t hlen = raw ? hl : hl + 1 + (64 - (pre + hl + 1) % 64) % 64;
    unsigned char *b = calloc(1, pre + hlen + ndata + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8 & 0xff);
    if (major != 1) {
        b[10] = (unsigned char)(hlen >> 16 & 0xff);
        b[11] = (unsigned char)(hlen >> 24 & 0xff);
    }
    memcpy(b + pre, header, hl);
    if (!raw) {
        memset(b + pre + hl, ' ', hlen - hl);
        b[pre + hlen - 1] = '\n';
    }
    if (ndata) memcpy(b + pre + hlen, data, ndata);
    *len = pre + hlen + ndata;
    return b;
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

/* A python3 command that can import numpy ("python3" on PATH, else the system one), or
 * NULL if there is none. */
static const char *numpy_python(void) {
    static const char *cands[] = {"python3", "/usr/bin/python3"};
    char cmd[256];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

TEST(npy_numpy_compat) {
    const char *py = numpy_python();
    if (!py) {
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
        return;
    }
    char p1[256], p2[256], cmd[1024];
    tmp_path(p1, sizeof p1, "tonumpy");
    tmp_path(p2, sizeof p2, "fromnumpy");
    /* jx -> numpy, for each dtype. */
    const char *np_dt[NDT] = {"float32", "float64", "int32", "uint32", "bool"};
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
    remove(p1);
    remove(p2);
}

TEST_MAIN()
