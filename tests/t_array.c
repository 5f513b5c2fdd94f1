/* Host arrays (src/core/array.c): creation, conversion, refcounts, wrapping, alignment and
 * error messages. Their .npy I/O is tested in t_array_npy.c and t_array_npy_files.c. */
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

TEST_MAIN()
