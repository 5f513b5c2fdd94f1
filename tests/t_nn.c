/* Tests of jx/nn.h: PRNG keys and distributions (known answers of JAX's threefry layout,
 * statistics), erf/erf_inv, host initializers, layers, activations, losses, accuracy and
 * dropout (hand-computed values, naive references, finite-difference gradients). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jx/nn.h>

#include "check.h"
#include "prims/threefry.h"
#include "txcheck.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* Ends t with outs, verifies and interprets it on in into out. 0 or -1 (printed). */
static int run(jx_trace *t, int n_out, const jx_val *outs, jx_array *const *in, jx_array **out) {
    jx_fn *f = jx_trace_end(t, n_out, outs);
    if (!f) {
        printf("  trace failed: %s\n", jx_error());
        return -1;
    }
    int rc = jx_fn_verify(f);
    if (rc == 0) rc = jx_interp(f, in, out);
    if (rc < 0) printf("  verify/interp failed: %s\n", jx_error());
    jx_fn_free(f);
    return rc;
}

/* A new array of type ty holding the doubles v. */
static jx_array *arr(jx_type ty, const double *v) {
    jx_array *a = jx_array_new_type(&ty);
    for (int64_t i = 0; i < jx_array_size(a); i++) jx_array_set(a, i, v[i]);
    return a;
}

/* Checks every element of a against want[] with tolerance tol. */
static void check_arr(const jx_array *a, const double *want, int64_t n, double tol) {
    CHECK(a != NULL);
    if (!a) return;
    CHECK(jx_array_size(a) == n);
    for (int64_t i = 0; i < n && i < jx_array_size(a); i++) CHECK_NEAR(jx_array_get(a, i), want[i], tol);
}

/* Traces a 0-input function that returns one value built by build(t, user) and runs it. */
typedef jx_val (*build_fn)(jx_trace *t, void *user);
static jx_array *run0(build_fn build, void *user) {
    jx_trace *t = jx_trace_begin(0, NULL);
    jx_val v = build(t, user);
    jx_array *out = NULL;
    if (run(t, 1, &v, NULL, &out) < 0) return NULL;
    return out;
}

/* Mean and variance of a's elements. */
static void stats(const jx_array *a, double *mean, double *var) {
    int64_t n = jx_array_size(a);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += jx_array_get(a, i);
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = jx_array_get(a, i) - *mean;
        s2 += d * d;
    }
    *var = s2 / (double)n;
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
    CHECK(run(t, 2, outs, NULL, o) == 0);
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
    jx_array *in[2] = {arr(ty, x), arr(ty, y)};
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
        jx_array *xa = arr(t3, xv), *ga = NULL;
        CHECK(g && jx_interp(g, &xa, &ga) == 0);
        for (int i = 0; ga && i < 3; i++)
            CHECK_NEAR(jx_array_get(ga, i), 0.886226925452758 * exp(inv[i] * inv[i]), k ? 1e-12 : 1e-5);
        jx_array_free(xa);
        jx_array_free(ga);
        jx_fn_free(g);
        jx_fn_free(f);
    }
}

/* ---- host initializers -------------------------------------------------------------- */

TEST(init_normal_and_truncated) {
    jx_key k = jx_key_new(0);
    jx_array *a = jx_init_normal(k, JX_TYPE(JX_F32, 200, 100), 0.01);
    double m, v;
    CHECK(a != NULL);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m) < 5e-4);
        CHECK_NEAR(sqrt(v), 0.01, 0.02);
    }
    jx_array_free(a);
    /* the first element is the traced normal of the same key */
    a = jx_init_normal(k, JX_SCALAR(JX_F32), 2.0);
    if (a) CHECK_NEAR(jx_array_get(a, 0), 2 * -0.20584226, 5e-7);
    jx_array_free(a);
    /* Haiku default for the CNN's linear layer: |w| < 2/28, std 0.88/28 */
    a = jx_init_haiku(k, JX_TYPE(JX_F32, 784, 10));
    if (a) {
        int ok = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++) ok &= fabs(jx_array_get(a, i)) < 2.0 / 28;
        CHECK(ok);
        stats(a, &m, &v);
        CHECK_NEAR(sqrt(v), 0.87962566 / 28, 0.03);
    }
    jx_array_free(a);
    a = jx_init_truncated_normal(k, JX_TYPE(JX_F64, 1000), 3.0);
    if (a) {
        int ok = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++) ok &= fabs(jx_array_get(a, i)) < 6.0;
        CHECK(ok);
    }
    jx_array_free(a);
}

TEST(init_variance_scaling_family) {
    double fi, fo;
    jx_fans(JX_TYPE(JX_F32, 4, 4, 1, 4), &fi, &fo);
    CHECK(fi == 16 && fo == 64);
    jx_fans(JX_TYPE(JX_F32, 784, 10), &fi, &fo);
    CHECK(fi == 784 && fo == 10);
    jx_fans(JX_TYPE(JX_F32, 5), &fi, &fo);
    CHECK(fi == 5 && fo == 5);
    jx_key k = jx_key_new(5);
    jx_array *a = jx_init_glorot_uniform(k, JX_TYPE(JX_F32, 300, 100));
    double lim = sqrt(6.0 / 400), m, v;
    if (a) {
        int ok = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++) ok &= fabs(jx_array_get(a, i)) <= lim;
        CHECK(ok);
        stats(a, &m, &v);
        CHECK_NEAR(v, 1.0 / 200, 0.05);
    }
    jx_array_free(a);
    jx_array *b[4] = {jx_init_glorot_normal(k, JX_TYPE(JX_F32, 300, 100)),
                      jx_init_he_normal(k, JX_TYPE(JX_F32, 300, 100)),
                      jx_init_he_uniform(k, JX_TYPE(JX_F32, 300, 100)),
                      jx_init_lecun_normal(k, JX_TYPE(JX_F32, 300, 100))};
    double want[4] = {1.0 / 200, 2.0 / 300, 2.0 / 300, 1.0 / 300};
    for (int i = 0; i < 4; i++) {
        CHECK(b[i] != NULL);
        if (!b[i]) continue;
        stats(b[i], &m, &v);
        CHECK_NEAR(v, want[i], 0.05);
    }
    txc_free(4, b);
    jx_array *z = jx_init_zeros(JX_TYPE(JX_F64, 3));
    CHECK(z && jx_array_get(z, 2) == 0);
    jx_array_free(z);
    CHECK(jx_init_normal(k, JX_TYPE(JX_I32, 3), 1.0) == NULL);
    CHECK_CONTAINS(jx_error(), "init_normal");
    CHECK_CONTAINS(jx_error(), "i32[3]");
}

/* ---- layers ------------------------------------------------------------------------- */

static void f_linear(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_linear(in[0], in[1], in[2]);
}

TEST(linear_values_and_grad) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 3, 2), JX_TYPE(JX_F32, 2)};
    jx_fn *f = jx_trace(f_linear, 3, ts, 1, NULL);
    double x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, 0, 1, 1, 1}, b[2] = {10, 20};
    jx_array *in[3] = {arr(ts[0], x), arr(ts[1], w), arr(ts[2], b)}, *o = NULL;
    CHECK(f && jx_interp(f, in, &o) == 0);
    double want[4] = {14, 25, 20, 31};
    check_arr(o, want, 4, 0);
    jx_array_free(o);
    txc_free(3, in);
    jx_fn_free(f);
    /* per-example x[3] and a batch [2,2,3]; f64 gradients */
    jx_type g1[3] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, 3, 2), JX_TYPE(JX_F64, 2)};
    jx_type g2[3] = {JX_TYPE(JX_F64, 2, 2, 3), JX_TYPE(JX_F64, 3, 2), JX_TYPE(JX_F64, 2)};
    for (int k = 0; k < 2; k++) {
        f = jx_trace(f_linear, 3, k ? g2 : g1, 1, NULL);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
    /* no bias, and a mismatch error */
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 5, 2)});
    jx_val r = jx_linear(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_NOVAL);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "linear");
    CHECK_CONTAINS(jx_trace_error(t), "f32[4,3]");
    CHECK_CONTAINS(jx_trace_error(t), "f32[5,2]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn.c");
    jx_trace_abort(t);
    t = jx_trace_begin(3, (jx_type[]){JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 3, 2), JX_TYPE(JX_F32, 3)});
    r = jx_linear(jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "bias f32[3] does not match the output f32[4,2]");
    jx_trace_abort(t);
}

typedef struct {
    int sh, sw;
    jx_padding pad;
    int bias;
} conv_args;

static void f_conv(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    conv_args *c = u;
    out[0] = jx_conv2d(in[0], in[1], c->bias ? in[2] : JX_NOVAL, JX_INTS(c->sh, c->sw), c->pad);
}

/* Naive NHWC/HWIO convolution with TF padding into y (size N*OH*OW*O). */
static void ref_conv(const jx_array *x, const jx_array *w, const jx_array *b, const conv_args *c,
                     int64_t *oh, int64_t *ow, double *y) {
    int64_t N = jx_array_dim(x, 0), H = jx_array_dim(x, 1), W = jx_array_dim(x, 2),
            C = jx_array_dim(x, 3), KH = jx_array_dim(w, 0), KW = jx_array_dim(w, 1),
            O = jx_array_dim(w, 3), plh = 0, plw = 0;
    if (c->pad == JX_SAME) {
        *oh = (H + c->sh - 1) / c->sh, *ow = (W + c->sw - 1) / c->sw;
        int64_t th = (*oh - 1) * c->sh + KH - H, tw = (*ow - 1) * c->sw + KW - W;
        plh = th > 0 ? th / 2 : 0, plw = tw > 0 ? tw / 2 : 0;
    } else {
        *oh = (H - KH) / c->sh + 1, *ow = (W - KW) / c->sw + 1;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < *oh; i++)
            for (int64_t j = 0; j < *ow; j++)
                for (int64_t o = 0; o < O; o++) {
                    double s = b ? jx_array_get(b, o) : 0;
                    for (int64_t ki = 0; ki < KH; ki++)
                        for (int64_t kj = 0; kj < KW; kj++)
                            for (int64_t ci = 0; ci < C; ci++) {
                                int64_t hi = i * c->sh - plh + ki, wi = j * c->sw - plw + kj;
                                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                                s += jx_array_get(x, ((n * H + hi) * W + wi) * C + ci) *
                                     jx_array_get(w, ((ki * KW + kj) * C + ci) * O + o);
                            }
                    y[((n * *oh + i) * *ow + j) * O + o] = s;
                }
}

TEST(conv2d_values) {
    /* hand-computed: 3x3 image 1..9, 2x2 ones kernel */
    jx_type ts[2] = {JX_TYPE(JX_F32, 1, 3, 3, 1), JX_TYPE(JX_F32, 2, 2, 1, 1)};
    double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1};
    jx_array *in[2] = {arr(ts[0], x), arr(ts[1], w)}, *o = NULL;
    conv_args cv = {1, 1, JX_VALID, 0}, cs = {1, 1, JX_SAME, 0};
    jx_fn *f = jx_trace(f_conv, 2, ts, 1, &cv);
    CHECK(f && jx_interp(f, in, &o) == 0);
    double want_v[4] = {12, 16, 24, 28};
    check_arr(o, want_v, 4, 0);
    jx_array_free(o);
    jx_fn_free(f);
    f = jx_trace(f_conv, 2, ts, 1, &cs); /* SAME, k=2: pad 0 before, 1 after */
    CHECK(f && jx_interp(f, in, &o) == 0);
    double want_s[9] = {12, 16, 9, 24, 28, 15, 15, 17, 9};
    check_arr(o, want_s, 9, 0);
    jx_array_free(o);
    jx_fn_free(f);
    txc_free(2, in);
    /* random shapes against the naive reference */
    conv_args cases[4] = {{1, 1, JX_SAME, 1}, {2, 2, JX_SAME, 1}, {2, 1, JX_VALID, 1}, {3, 2, JX_SAME, 0}};
    jx_type rt[3] = {JX_TYPE(JX_F32, 2, 7, 6, 3), JX_TYPE(JX_F32, 3, 4, 3, 2), JX_TYPE(JX_F32, 2)};
    for (int k = 0; k < 4; k++) {
        jx_array *ri[3] = {txc_random(rt[0], -1, 1), txc_random(rt[1], -1, 1), txc_random(rt[2], -1, 1)};
        f = jx_trace(f_conv, 3, rt, 1, &cases[k]);
        CHECK(f && jx_interp(f, ri, &o) == 0);
        double y[2 * 7 * 6 * 2];
        int64_t oh, ow;
        ref_conv(ri[0], ri[1], cases[k].bias ? ri[2] : NULL, &cases[k], &oh, &ow, y);
        CHECK(o && jx_array_dim(o, 1) == oh && jx_array_dim(o, 2) == ow);
        check_arr(o, y, 2 * oh * ow * 2, 1e-5);
        jx_array_free(o);
        jx_fn_free(f);
        txc_free(3, ri);
    }
}

TEST(conv2d_single_image_grad_and_errors) {
    /* one image [H,W,C] equals the batched result; gradients in f64 */
    conv_args c = {2, 2, JX_SAME, 1};
    jx_type t1[3] = {JX_TYPE(JX_F64, 5, 4, 2), JX_TYPE(JX_F64, 3, 3, 2, 3), JX_TYPE(JX_F64, 3)};
    jx_fn *f = jx_trace(f_conv, 3, t1, 1, &c);
    CHECK(f && jx_fn_out_type(f, 0).rank == 3 && jx_fn_out_type(f, 0).shape[0] == 3);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
    conv_args c2 = {1, 1, JX_VALID, 1};
    jx_type t2[3] = {JX_TYPE(JX_F64, 2, 5, 5, 1), JX_TYPE(JX_F64, 4, 4, 1, 2), JX_TYPE(JX_F64, 2)};
    f = jx_trace(f_conv, 3, t2, 1, &c2);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 1, 8, 8, 3), JX_TYPE(JX_F32, 3, 3, 2, 4)});
    jx_val r = jx_conv2d(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_NOVAL, JX_INTS(1), JX_SAME);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "conv2d");
    CHECK_CONTAINS(jx_trace_error(t), "input channels");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn.c");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 1, 2, 8, 3), JX_TYPE(JX_F32, 3, 3, 3, 4)});
    r = jx_conv2d(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_NOVAL, JX_INTS(1), JX_VALID);
    CHECK_CONTAINS(jx_trace_error(t), "larger than the input 2x8");
    jx_trace_abort(t);
}

typedef struct {
    int kh, kw, sh, sw;
    jx_padding pad;
    int avg;
} pool_args;

static void f_pool(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    pool_args *p = u;
    jx_ints w = JX_INTS(p->kh, p->kw), s = JX_INTS(p->sh, p->sw);
    out[0] = p->avg ? jx_avg_pool(in[0], w, s, p->pad) : jx_max_pool(in[0], w, s, p->pad);
}

/* Naive pooling of x[N,H,W,C] into y. */
static void ref_pool(const jx_array *x, const pool_args *p, int64_t *oh, int64_t *ow, double *y) {
    int64_t N = jx_array_dim(x, 0), H = jx_array_dim(x, 1), W = jx_array_dim(x, 2),
            C = jx_array_dim(x, 3), plh = 0, plw = 0;
    if (p->pad == JX_SAME) {
        *oh = (H + p->sh - 1) / p->sh, *ow = (W + p->sw - 1) / p->sw;
        int64_t th = (*oh - 1) * p->sh + p->kh - H, tw = (*ow - 1) * p->sw + p->kw - W;
        plh = th > 0 ? th / 2 : 0, plw = tw > 0 ? tw / 2 : 0;
    } else {
        *oh = (H - p->kh) / p->sh + 1, *ow = (W - p->kw) / p->sw + 1;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < *oh; i++)
            for (int64_t j = 0; j < *ow; j++)
                for (int64_t c = 0; c < C; c++) {
                    double m = -INFINITY, s = 0, cnt = 0;
                    for (int64_t a = 0; a < p->kh; a++)
                        for (int64_t b = 0; b < p->kw; b++) {
                            int64_t hi = i * p->sh - plh + a, wi = j * p->sw - plw + b;
                            if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                            double v = jx_array_get(x, ((n * H + hi) * W + wi) * C + c);
                            m = v > m ? v : m;
                            s += v;
                            cnt++;
                        }
                    y[((n * *oh + i) * *ow + j) * C + c] = p->avg ? s / cnt : m;
                }
}

TEST(pool_values) {
    /* 2x2 stride 2 VALID by hand */
    jx_type t4 = JX_TYPE(JX_F32, 1, 4, 4, 1);
    double x[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, -1, -2, 9, 0, -3, -4};
    pool_args p = {2, 2, 2, 2, JX_VALID, 0};
    jx_fn *f = jx_trace(f_pool, 1, &t4, 1, &p);
    jx_array *in = arr(t4, x), *o = NULL;
    CHECK(f && jx_interp(f, &in, &o) == 0);
    double want[4] = {5, 8, 9, -1};
    check_arr(o, want, 4, 0);
    jx_array_free(o);
    jx_fn_free(f);
    jx_array_free(in);
    /* every geometry against the naive reference (max and avg) */
    pool_args cases[6] = {{2, 2, 2, 2, JX_VALID, 0}, {2, 2, 2, 2, JX_SAME, 0}, {3, 3, 1, 1, JX_SAME, 0},
                          {3, 2, 2, 1, JX_VALID, 0}, {2, 2, 2, 2, JX_SAME, 1}, {3, 3, 2, 2, JX_SAME, 1}};
    jx_type rt = JX_TYPE(JX_F32, 2, 5, 7, 2);
    for (int k = 0; k < 6; k++) {
        jx_array *ri = txc_random(rt, -1, 1);
        f = jx_trace(f_pool, 1, &rt, 1, &cases[k]);
        CHECK(f && jx_interp(f, &ri, &o) == 0);
        double y[2 * 5 * 7 * 2];
        int64_t oh, ow;
        ref_pool(ri, &cases[k], &oh, &ow, y);
        CHECK(o && jx_array_dim(o, 1) == oh && jx_array_dim(o, 2) == ow);
        check_arr(o, y, 2 * oh * ow * 2, 1e-6);
        jx_array_free(o);
        jx_array_free(ri);
        jx_fn_free(f);
    }
}

TEST(pool_grad_flatten_and_errors) {
    pool_args cases[3] = {{2, 2, 2, 2, JX_VALID, 0}, {3, 3, 1, 1, JX_SAME, 0}, {3, 3, 2, 2, JX_SAME, 1}};
    jx_type rt = JX_TYPE(JX_F64, 1, 4, 5, 2);
    for (int k = 0; k < 3; k++) {
        jx_fn *f = jx_trace(f_pool, 1, &rt, 1, &cases[k]);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
    jx_trace *t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 2, 3, 4, 5)});
    jx_val r = jx_flatten(jx_trace_input(t, 0));
    jx_type rt2 = jx_val_type(r);
    CHECK(rt2.rank == 2 && rt2.shape[0] == 2 && rt2.shape[1] == 60);
    r = jx_max_pool(jx_trace_input(t, 0), JX_INTS(2, 2, 2), JX_INTS(2), JX_VALID);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "max_pool");
    CHECK_CONTAINS(jx_trace_error(t), "f32[2,3,4,5]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn.c");
    jx_trace_abort(t);
}

static void f_image_net(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val h = jx_relu(jx_conv2d(in[0], in[1], in[2], JX_INTS(1), JX_SAME));
    h = jx_max_pool(h, JX_INTS(2), JX_INTS(2), JX_VALID);
    jx_val logits = jx_linear(jx_reshape(h, JX_INTS(2 * 2 * 3)), in[3], JX_NOVAL);
    out[0] = jx_softmax_cross_entropy(logits, in[4]);
}

TEST(vmap_per_example_net) {
    /* a per-example image net (one image [H,W,C], a scalar label) vmapped over the batch
     * with the weights unbatched, against a loop over the examples */
    jx_type ts[5] = {JX_TYPE(JX_F64, 4, 5, 2), JX_TYPE(JX_F64, 3, 3, 2, 3), JX_TYPE(JX_F64, 3),
                     JX_TYPE(JX_F64, 12, 4), JX_SCALAR(JX_I32)};
    jx_fn *f = jx_trace(f_image_net, 5, ts, 1, NULL);
    CHECK(f != NULL);
    if (f) txc_vmap(f, (int[]){0, JX_NONE, JX_NONE, JX_NONE, 0}, 3, -1, 1, 1e-12);
    jx_fn_free(f);
}

/* ---- activations -------------------------------------------------------------------- */

static void f_acts(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_gelu(in[0], 1);
    out[1] = jx_gelu(in[0], 0);
    out[2] = jx_leaky_relu(in[0], 0.1);
    out[3] = jx_elu(in[0], 2.0);
    out[4] = jx_softplus(in[0]);
    out[5] = jx_silu(in[0]);
    out[6] = jx_log_sigmoid(in[0]);
}

TEST(activations) {
    double x[5] = {-30, -1.5, 0.25, 2, 40};
    jx_type ty = JX_TYPE(JX_F64, 5);
    jx_fn *f = jx_trace(f_acts, 1, &ty, 7, NULL);
    jx_array *in = arr(ty, x), *o[7] = {0};
    CHECK(f && jx_interp(f, &in, o) == 0);
    for (int i = 0; o[0] && i < 5; i++) {
        double v = x[i], sg = 1 / (1 + exp(-v));
        double ga = 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (v + 0.044715 * v * v * v)));
        CHECK_NEAR(jx_array_get(o[0], i), ga, 1e-12);
        CHECK_NEAR(jx_array_get(o[1], i), 0.5 * v * (1 + erf(v / sqrt(2))), 1e-12);
        CHECK_NEAR(jx_array_get(o[2], i), v >= 0 ? v : 0.1 * v, 1e-15);
        CHECK_NEAR(jx_array_get(o[3], i), v > 0 ? v : 2 * expm1(v), 1e-15);
        CHECK_NEAR(jx_array_get(o[4], i), v > 30 ? v : log1p(exp(v)), 1e-14);
        CHECK_NEAR(jx_array_get(o[5], i), v * sg, 1e-14);
        CHECK_NEAR(jx_array_get(o[6], i), v < -30 ? v : log(sg), 1e-14);
    }
    txc_free(7, o);
    jx_array_free(in);
    if (f) txc_grad(f, -3, 3, 1e-6);
    jx_fn_free(f);
}

/* ---- losses ------------------------------------------------------------------------- */

static void f_ce(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_softmax_cross_entropy(in[0], in[1]);
    out[1] = jx_softmax_cross_entropy_onehot(in[0], jx_one_hot(in[1], 3, jx_val_type(in[0]).dtype));
    out[2] = jx_sum_all(out[0]);
}

TEST(softmax_cross_entropy_notebook) {
    /* the Haiku notebook's check: [[0,0,0],[1,-1e8,-1e7]] with labels [1,0] sums to log 3 */
    jx_type ts[2] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_I32, 2)};
    jx_fn *f = jx_trace(f_ce, 2, ts, 3, NULL);
    double x[6] = {0, 0, 0, 1, -1e8, -1e7}, y[2] = {1, 0};
    jx_array *in[2] = {arr(ts[0], x), arr(ts[1], y)}, *o[3] = {0};
    CHECK(f && jx_interp(f, in, o) == 0);
    double want[2] = {log(3.0), 0};
    check_arr(o[0], want, 2, 1e-6);
    check_arr(o[1], want, 2, 1e-6);
    if (o[2]) CHECK_NEAR(jx_array_get(o[2], 0), 1.09861228867, 1e-6);
    txc_free(3, o);
    txc_free(2, in);
    jx_fn_free(f);
    /* -inf logits of other classes stay finite with integer labels */
    jx_trace *t = jx_trace_begin(0, NULL);
    double lv[3] = {-INFINITY, 0.0, -INFINITY};
    jx_array *la = arr(JX_TYPE(JX_F32, 3), lv);
    jx_val r = jx_softmax_cross_entropy(jx_constant(t, la), jx_scalar(t, JX_I32, 1));
    jx_array_free(la);
    jx_array *ro = NULL;
    CHECK(run(t, 1, &r, NULL, &ro) == 0);
    if (ro) CHECK(jx_array_get(ro, 0) == 0);
    jx_array_free(ro);
}

static void f_losses(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_mean_all(jx_softmax_cross_entropy(in[0], in[2]));
    out[1] = jx_mean_all(jx_softmax_cross_entropy_onehot(in[0], in[1]));
    out[2] = jx_mean_all(jx_categorical_cross_entropy(jx_softmax(in[0], -1), in[1], 1e-7));
    out[3] = jx_mse(jx_sigmoid(in[0]), in[1]);
}

TEST(loss_grads) {
    jx_type ts[3] = {JX_TYPE(JX_F64, 3, 5), JX_TYPE(JX_F64, 3, 5), JX_TYPE(JX_I32, 3)};
    jx_fn *f = jx_trace(f_losses, 3, ts, 4, NULL);
    CHECK(f != NULL);
    if (f) txc_grad(f, -2, 2, 1e-6);
    jx_fn_free(f);
}

TEST(categorical_ce_mse_values) {
    jx_trace *t = jx_trace_begin(0, NULL);
    double p[6] = {1, 0, 0, 0.2, 0.3, 0.5}, y[6] = {0, 1, 0, 0, 0, 1};
    jx_array *pa = arr(JX_TYPE(JX_F32, 2, 3), p), *ya = arr(JX_TYPE(JX_F32, 2, 3), y);
    jx_val pv = jx_constant(t, pa), yv = jx_constant(t, ya);
    jx_val outs[3] = {jx_categorical_cross_entropy(pv, yv, 1e-7), jx_mse(pv, yv),
                      jx_categorical_cross_entropy(pv, yv, 0)};
    jx_array *o[3] = {0};
    CHECK(run(t, 3, outs, NULL, o) == 0);
    double want[2] = {-log(1e-7), -log(0.5)};
    check_arr(o[0], want, 2, 1e-5);
    if (o[1]) CHECK_NEAR(jx_array_get(o[1], 0), (1 + 1 + 0.04 + 0.09 + 0.25) / 6, 1e-6);
    if (o[2]) CHECK(isnan(jx_array_get(o[2], 0))); /* 0 * log 0, as numpy */
    txc_free(3, o);
    jx_array_free(pa);
    jx_array_free(ya);
}

TEST(accuracy_values) {
    jx_trace *t = jx_trace_begin(0, NULL);
    double l[6] = {1, 2, 3, 0, 0, 1}, y[3] = {1, 1, 1}, oh[6] = {0, 1, 0, 1, 1, 0};
    jx_array *la = arr(JX_TYPE(JX_F32, 3, 2), l), *ya = arr(JX_TYPE(JX_I32, 3), y);
    jx_array *oa = arr(JX_TYPE(JX_F32, 3, 2), oh);
    jx_val lv = jx_constant(t, la);
    jx_val outs[2] = {jx_accuracy(lv, jx_constant(t, ya)), jx_accuracy(lv, jx_constant(t, oa))};
    jx_array *o[2] = {0};
    CHECK(run(t, 2, outs, NULL, o) == 0);
    if (o[0]) CHECK_NEAR(jx_array_get(o[0], 0), 2.0 / 3, 1e-7);
    if (o[1]) CHECK_NEAR(jx_array_get(o[1], 0), 1.0 / 3, 1e-7);
    if (o[0]) CHECK(jx_array_dtype(o[0]) == JX_F32 && jx_array_rank(o[0]) == 0);
    txc_free(2, o);
    jx_array_free(la);
    jx_array_free(ya);
    jx_array_free(oa);
}

TEST(loss_errors) {
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_I32, 3)});
    jx_val r = jx_softmax_cross_entropy(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "softmax_cross_entropy");
    CHECK_CONTAINS(jx_trace_error(t), "f32[4,10]");
    CHECK_CONTAINS(jx_trace_error(t), "i32[3]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn.c");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_F32, 4, 9)});
    r = jx_mse(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "mse");
    CHECK_CONTAINS(jx_trace_error(t), "f32[4,9]");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_F32, 4)});
    r = jx_accuracy(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "accuracy");
    jx_trace_abort(t);
}

TEST(dropout) {
    jx_trace *t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 100, 100)});
    jx_val x = jx_trace_input(t, 0), k = jx_random_key(t, 9);
    jx_val outs[3] = {jx_dropout(k, x, 0.25, 1), jx_dropout(JX_NOVAL, x, 0.25, 0),
                      jx_dropout(k, x, 1.0, 1)};
    CHECK(outs[1].id == x.id); /* eval mode is the identity */
    jx_array *in = jx_init_constant(JX_TYPE(JX_F32, 100, 100), 3.0), *o[3] = {0};
    CHECK(run(t, 3, outs, &in, o) == 0);
    if (o[0]) {
        int64_t kept = 0, ok = 1;
        for (int64_t i = 0; i < 10000; i++) {
            double v = jx_array_get(o[0], i);
            kept += v != 0;
            ok &= v == 0 || v == 4.0f;
        }
        CHECK(ok);
        CHECK(kept > 7300 && kept < 7700);
    }
    if (o[2]) CHECK(jx_array_get(o[2], 17) == 0);
    txc_free(3, o);
    jx_array_free(in);
    t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 3)});
    jx_val r = jx_dropout(JX_NOVAL, jx_trace_input(t, 0), 0.5, 1);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "dropout");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn.c");
    jx_trace_abort(t);
}

TEST_MAIN()
