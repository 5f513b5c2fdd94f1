/* Tests of jx/nn.h: PRNG keys and distributions (known answers of JAX's threefry layout,
 * statistics) and erf/erf_inv (hand-computed values, finite-difference gradients).
 * Initializers, layers and activations are in t_nn_layers.c, losses, accuracy and
 * dropout in t_nn_losses.c. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jx/nn.h>

#include "check.h"
#include "prims/threefry.h"
#include "txcheck.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "nn_util.h"

/* Traces a 0-input function that returns one value built by build(t, user) and runs it. */
static jx_array *run0(build_fn build, void *user) {
    jx_trace *t = jx_trace_begin(0, NULL);
    jx_val v = build(t, user);
    jx_array *out = NULL;
    if (tst_run(t, 1, &v, NULL, &out) < 0) return NULL;
    return out;
}

/* JAX's random bits for key (k0,k1) and n words, via the scalar threefry. */
static uint32_t ref_bit(uint32_t k0, uint32_t k1, int64_t n, int64_t i) {
    int64_t m = (n + 1) / 2, j = i < m ? i : i - m;
    uint32_t v[2] = {(uint32_t)j, m + j < n ? (uint32_t)(m + j) : 0u};
    rng_threefry2x32(k0, k1, v);
    return i < m ? v[0] : v[1];
}

/* ---- PRNG --------------------------------------------------------------------------- */

static jx_val b_key0_bits(jx_trace *t, void *u) {
    return jx_random_bits(jx_random_key(t, 0), *(jx_ints *)u);
}

TEST(random_bits_known_answer) {
    /* one word: counter pair (0, 0) under key (0, 0): Random123's known answer */
    jx_ints s0 = JX_NOINTS;
    jx_array *a = run0(b_key0_bits, &s0);
    CHECK(a && jx_array_rank(a) == 0 && jx_array_dtype(a) == JX_U32);
    if (a) CHECK(((const uint32_t *)jx_array_cdata(a))[0] == 0x6b200159u);
    jx_array_free(a);
    /* odd and even sizes against the layout reference */
    int64_t sizes[3] = {7, 8, 1};
    for (int k = 0; k < 3; k++) {
        jx_ints s = JX_INTS(sizes[k]);
        a = run0(b_key0_bits, &s);
        CHECK(a != NULL);
        for (int64_t i = 0; a && i < sizes[k]; i++)
            CHECK(((const uint32_t *)jx_array_cdata(a))[i] == ref_bit(0, 0, sizes[k], i));
        jx_array_free(a);
    }
    jx_ints s2 = JX_INTS(0, 3);
    a = run0(b_key0_bits, &s2);
    CHECK(a && jx_array_size(a) == 0 && jx_array_rank(a) == 2);
    jx_array_free(a);
}

static jx_val b_split(jx_trace *t, void *u) { return jx_random_split(jx_random_key(t, 0), *(int *)u); }

TEST(random_split_matches_jax) {
    int n = 2;
    jx_array *a = run0(b_split, &n);
    /* jax.random.split(jax.random.PRNGKey(0)) */
    double want[4] = {4146024105.0, 967050713.0, 2718843009.0, 1272950319.0};
    check_arr(a, want, 4, 0);
    CHECK(a && jx_array_rank(a) == 2 && jx_array_dim(a, 0) == 2 && jx_array_dim(a, 1) == 2);
    jx_array_free(a);
    /* host split agrees with the traced one, odd and even n */
    for (n = 3; n <= 4; n++) {
        a = run0(b_split, &n);
        jx_key ks[4];
        CHECK(jx_key_split(jx_key_new(0), n, ks) == 0);
        for (int i = 0; a && i < n; i++) {
            CHECK(jx_array_get(a, 2 * i) == ks[i].k[0]);
            CHECK(jx_array_get(a, 2 * i + 1) == ks[i].k[1]);
        }
        jx_array_free(a);
    }
}

static jx_val b_subkey(jx_trace *t, void *u) {
    return jx_random_subkey(jx_random_split(jx_random_key(t, 7), 3), 2);
}

TEST(random_subkey_and_fold_in) {
    jx_array *a = run0(b_subkey, NULL);
    jx_key ks[3];
    jx_key_split(jx_key_new(7), 3, ks);
    double want[2] = {ks[2].k[0], ks[2].k[1]};
    check_arr(a, want, 2, 0);
    jx_array_free(a);
    /* fold_in(key, d) = threefry(key, (0, d)), traced with an i32 and a u32 scalar */
    jx_key k = jx_key_new(42);
    jx_trace *t = jx_trace_begin(0, NULL);
    jx_val kv = jx_key_val(t, k);
    jx_val outs[2] = {jx_random_fold_in(kv, jx_scalar(t, JX_U32, 5)),
                      jx_random_fold_in(kv, jx_scalar(t, JX_I32, -1))};
    jx_array *o[2] = {0};
    CHECK(tst_run(t, 2, outs, NULL, o) == 0);
    uint32_t v[2] = {0, 5};
    rng_threefry2x32(0, 42, v);
    jx_key h = jx_key_fold_in(k, 5), h2 = jx_key_fold_in(k, 0xFFFFFFFFu);
    double w0[2] = {v[0], v[1]}, w1[2] = {h2.k[0], h2.k[1]};
    CHECK(h.k[0] == v[0] && h.k[1] == v[1]);
    check_arr(o[0], w0, 2, 0);
    check_arr(o[1], w1, 2, 0);
    txc_free(2, o);
}

static jx_val b_uniform0(jx_trace *t, void *u) {
    return jx_random_uniform(jx_random_key(t, 0), JX_SCALAR(JX_F32), 0.0, 1.0);
}
static jx_val b_normal0(jx_trace *t, void *u) {
    return jx_random_normal(jx_random_key(t, 0), JX_SCALAR(JX_F32));
}

TEST(random_uniform_normal_known_values) {
    /* jax.random.uniform(PRNGKey(0)) = 0.41845703 (0x6b200159 >> 9 = 0x359000);
     * jax.random.normal(PRNGKey(0)) = -0.20584226 */
    jx_array *u = run0(b_uniform0, NULL), *n = run0(b_normal0, NULL);
    CHECK(u && n);
    if (u) CHECK(jx_array_get(u, 0) == 1.0 * 0x359000 / 8388608.0);
    if (n) CHECK_NEAR(jx_array_get(n, 0), -0.20584226, 2e-7);
    jx_array_free(u);
    jx_array_free(n);
}

typedef struct {
    jx_type ty;
    double lo, hi;
    int which; /* 0 uniform, 1 normal, 2 truncated, 3 bernoulli */
} dist_args;

static jx_val b_dist(jx_trace *t, void *u) {
    dist_args *d = u;
    jx_val k = jx_random_fold_in(jx_random_key(t, 3), jx_scalar(t, JX_U32, 11));
    if (d->which == 0) return jx_random_uniform(k, d->ty, d->lo, d->hi);
    if (d->which == 1) return jx_random_normal(k, d->ty);
    if (d->which == 2) return jx_random_truncated_normal(k, d->ty, d->lo, d->hi);
    jx_ints s = {d->ty.rank, {0}};
    for (int i = 0; i < d->ty.rank; i++) s.v[i] = d->ty.shape[i];
    return jx_convert(jx_random_bernoulli(k, d->lo, s), JX_F32);
}

TEST(random_uniform_mantissa_mapping) {
    /* each f32 uniform is ((bits >> 9) | 0x3F800000) as float, minus 1, scaled */
    dist_args d = {JX_TYPE(JX_F32, 5), -3.0, 5.0, 0};
    jx_array *a = run0(b_dist, &d);
    jx_key k = jx_key_fold_in(jx_key_new(3), 11);
    for (int64_t i = 0; a && i < 5; i++) {
        uint32_t fb = (ref_bit(k.k[0], k.k[1], 5, i) >> 9) | 0x3F800000u;
        float f;
        memcpy(&f, &fb, 4);
        float want = (f - 1.0f) * (5.0f - -3.0f) + -3.0f;
        CHECK(jx_array_get(a, i) == (double)(want < -3.0f ? -3.0f : want));
    }
    jx_array_free(a);
    /* f64: 52 mantissa bits from two words (high word first) */
    d.ty = JX_TYPE(JX_F64, 3);
    d.lo = 0, d.hi = 1;
    a = run0(b_dist, &d);
    for (int64_t i = 0; a && i < 3; i++) {
        double hi = ref_bit(k.k[0], k.k[1], 6, i), lo = ref_bit(k.k[0], k.k[1], 6, 3 + i) >> 12;
        CHECK(jx_array_get(a, i) == hi * 0x1p-32 + lo * 0x1p-52);
    }
    jx_array_free(a);
}

TEST(random_statistics) {
    dist_args d = {JX_TYPE(JX_F32, 100000), 0, 0, 1};
    double m, v;
    jx_array *a = run0(b_dist, &d);
    CHECK(a != NULL);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m) < 0.01);
        CHECK(fabs(v - 1.0) < 0.02);
    }
    jx_array_free(a);
    d.ty = JX_TYPE(JX_F64, 100000);
    a = run0(b_dist, &d);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m) < 0.01);
        CHECK(fabs(v - 1.0) < 0.02);
    }
    jx_array_free(a);
    /* truncated to [-2, 2]: variance 1 - 4 phi(2) / (Phi(2) - Phi(-2)) = 0.77374 */
    d = (dist_args){JX_TYPE(JX_F32, 100000), -2.0, 2.0, 2};
    a = run0(b_dist, &d);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m) < 0.01);
        CHECK(fabs(v - 0.77374) < 0.015);
        int inside = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++)
            inside &= fabs(jx_array_get(a, i)) < 2.0;
        CHECK(inside);
    }
    jx_array_free(a);
    /* one-sided: (0.5, 1) */
    d = (dist_args){JX_TYPE(JX_F64, 20000), 0.5, 1.0, 2};
    a = run0(b_dist, &d);
    if (a) {
        int inside = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++)
            inside &= jx_array_get(a, i) > 0.5 && jx_array_get(a, i) < 1.0;
        CHECK(inside);
        stats(a, &m, &v);
        CHECK(fabs(m - 0.73454) < 0.01); /* E[X | 0.5 < X < 1] */
    }
    jx_array_free(a);
    /* uniform on [2, 4): mean 3, variance 1/3 */
    d = (dist_args){JX_TYPE(JX_F32, 100000), 2.0, 4.0, 0};
    a = run0(b_dist, &d);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m - 3.0) < 0.01);
        CHECK(fabs(v - 1.0 / 3) < 0.01);
    }
    jx_array_free(a);
    d = (dist_args){JX_TYPE(JX_F32, 100000), 0.3, 0, 3};
    a = run0(b_dist, &d);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m - 0.3) < 0.01);
    }
    jx_array_free(a);
}

TEST(random_errors) {
    jx_trace *t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_I32, 2)});
    jx_val r = jx_random_uniform(jx_trace_input(t, 0), JX_TYPE(JX_F32, 3), 0, 1);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "random_uniform");
    CHECK_CONTAINS(jx_trace_error(t), "u32[2]");
    CHECK_CONTAINS(jx_trace_error(t), "i32[2]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn.c");
    jx_trace_abort(t);
    t = jx_trace_begin(0, NULL);
    r = jx_random_normal(jx_random_key(t, 1), JX_TYPE(JX_I32, 3));
    CHECK_CONTAINS(jx_trace_error(t), "random_normal");
    CHECK_CONTAINS(jx_trace_error(t), "f32 or f64");
    jx_trace_abort(t);
    t = jx_trace_begin(0, NULL);
    r = jx_random_subkey(jx_random_split(jx_random_key(t, 1), 2), 2);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "random_subkey");
    CHECK_CONTAINS(jx_trace_error(t), "index 2 out of range for u32[2,2]");
    jx_trace_abort(t);
}

static void f_uniform_of_key(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_random_uniform(in[0], JX_TYPE(JX_F32, 3), 0, 1);
}

TEST(random_vmap_over_keys) {
    jx_fn *f = jx_trace(f_uniform_of_key, 1, (jx_type[]){JX_TYPE(JX_U32, 2)}, 1, NULL);
    CHECK(f != NULL);
    if (f) txc_vmap(f, (int[]){0}, 4, 0, 1, 0);
    jx_fn_free(f);
}

/* ---- erf ---------------------------------------------------------------------------- */

static void f_erf(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_erf(in[0]);
    out[1] = jx_erf_inv(in[1]);
}

/* Runs f_erf on the values x (for erf) and y (for erf_inv) of dtype dt. */
static void run_erf(jx_dtype dt, const double *x, const double *y, int64_t n, jx_array **o) {
    jx_type ty = {dt, 1, {n}};
    jx_fn *f = jx_trace(f_erf, 2, (jx_type[]){ty, ty}, 2, NULL);
    jx_array *in[2] = {tst_from(ty, x), tst_from(ty, y)};
    o[0] = o[1] = NULL;
    CHECK(f && jx_interp(f, in, o) == 0);
    jx_fn_free(f);
    txc_free(2, in);
}

TEST(erf_and_erf_inv_values) {
    enum { N = 2001 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -5.0 + 10.0 * i / (N - 1), y[i] = -0.999 + 1.998 * i / (N - 1);
    jx_array *o[2];
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = k ? JX_F64 : JX_F32;
        double tol_erf = k ? 2e-15 : 3e-7, tol_inv = k ? 1e-12 : 2e-5; /* f32: rounding of w = -log1p(-x^2) near |x| = 1 */
        run_erf(dt, x, y, N, o);
        double e1 = 0, e2 = 0;
        for (int i = 0; o[0] && o[1] && i < N; i++) {
            double a = fabs(jx_array_get(o[0], i) - erf(x[i]));
            double yi = k ? y[i] : (double)(float)y[i]; /* the input as the op saw it */
            double b = fabs(erf(jx_array_get(o[1], i)) - yi) / (1 - fabs(yi));
            e1 = a > e1 ? a : e1;
            e2 = b > e2 ? b : e2;
        }
        CHECK(e1 < tol_erf);
        CHECK(e2 < tol_inv);
        if (e1 >= tol_erf || e2 >= tol_inv) printf("  dtype %d: erf err %g, erf_inv err %g\n", k, e1, e2);
        txc_free(2, o);
    }
    /* edges: erf_inv(+-1) = +-inf, outside NaN; f64 tails */
    double ex[6] = {0}, ey[6] = {1, -1, 1.5, 1 - 1e-12, -(1 - 1e-15), 0.99997};
    for (int k = 0; k < 2; k++) {
        run_erf(k ? JX_F64 : JX_F32, ex, ey, 6, o);
        if (o[1]) {
            CHECK(jx_array_get(o[1], 0) == INFINITY);
            CHECK(jx_array_get(o[1], 1) == -INFINITY);
            CHECK(isnan(jx_array_get(o[1], 2)));
            if (k) { /* erfc(x) = 1 - |y| by bisection on libm's erfc */
                CHECK_NEAR(jx_array_get(o[1], 3), 5.042031898572696, 1e-9);
                CHECK_NEAR(jx_array_get(o[1], 4), -5.675915739744712, 1e-9);
                CHECK_NEAR(jx_array_get(o[1], 5), 2.9510863503650353, 1e-12);
            }
        }
        txc_free(2, o);
    }
}

static void f_erf1(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_erf(in[0]);
}

static void f_sum_erf_inv(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_sum_all(jx_erf_inv(in[0]));
}

TEST(erf_grad) {
    jx_fn *f = jx_trace(f_erf1, 1, (jx_type[]){JX_TYPE(JX_F64, 6)}, 1, NULL);
    CHECK(f != NULL);
    if (f) txc_grad(f, -4, 4, 1e-6);
    jx_fn_free(f);
    jx_type ty = JX_TYPE(JX_F64, 5);
    f = jx_trace(f_erf, 2, (jx_type[]){ty, ty}, 2, NULL); /* erf and erf_inv together */
    CHECK(f != NULL);
    if (f) txc_grad(f, -0.95, 0.95, 1e-6);
    jx_fn_free(f);
    /* d/dx erf_inv(x) = sqrt(pi)/2 exp(erf_inv(x)^2), finite at 0 in both dtypes (the
     * unselected tail branches must not leak NaN into the gradient) */
    for (int k = 0; k < 2; k++) {
        jx_type t3 = {k ? JX_F64 : JX_F32, 1, {3}};
        f = jx_trace(f_sum_erf_inv, 1, &t3, 1, NULL);
        jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
        double xv[3] = {0, 0.5, -0.3}, inv[3] = {0, 0.4769362762044699, -0.2724627147267544};
        jx_array *xa = tst_from(t3, xv), *ga = NULL;
        CHECK(g && jx_interp(g, &xa, &ga) == 0);
        for (int i = 0; ga && i < 3; i++)
            CHECK_NEAR(jx_array_get(ga, i), 0.886226925452758 * exp(inv[i] * inv[i]), k ? 1e-12 : 1e-5);
        jx_array_free(xa);
        jx_array_free(ga);
        jx_fn_free(g);
        jx_fn_free(f);
    }
}

TEST_MAIN()
