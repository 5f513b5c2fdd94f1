/* The erf primitive (src/prims/elt_math.c): the interpreter against libm's erff/erf on
 * special and ordinary values, the JIT against the interpreter (bit for bit: both call
 * libm), the derivative 2/sqrt(pi) exp(-x^2) through grad and jvp, vmap, and the
 * rejection of integer operands. The IR text round trip is in t_text.c, the emitted call
 * in tests/filecheck/erf.jx. Tolerances: derivatives to 1e-14 relative (the rule computes
 * the formula with libm's exp, so only a few roundings separate it from the reference). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "check.h"

#define TWO_OVER_SQRTPI 1.12837916709551257390

/* Special and ordinary arguments: zeros, a subnormal, the intervals of libm's piecewise
 * approximations, saturation at |x| >= 6 (f64) or ~4 (f32), huge values, infinities, NaN. */
static const double erf_args[] = {0.0,   -0.0, 1e-310, -1e-30, 1e-8,   0.25, -0.5,   0.84375,
                                  1.0,   1.25, -2.0,   2.857,  3.5,    -4.0, 5.9,    6.0,
                                  -10.0, 27.0, 1e30,   -1e300, INFINITY, -INFINITY, NAN};
#define N_ARGS ((int64_t)(sizeof erf_args / sizeof erf_args[0]))

/* erf of v in dtype dt as libm computes it. */
static double libm_erf(jx_dtype dt, double v) {
    return dt == JX_F32 ? (double)erff((float)v) : erf(v);
}

/* 1 if a and b are the same value: equal with the same sign, or both NaN. */
static int same(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* y = erf(x) on x of type ty (NULL on failure). */
static jx_fn *erf_fn(jx_type ty) {
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val y = jx_erf(jx_trace_input(t, 0));
    return jx_trace_end(t, 1, &y);
}

/* A dt[n] array of the first n values of v (rounded to dt). */
static jx_array *arr(jx_dtype dt, const double *v, int64_t n) {
    jx_array *a = jx_array_new(dt, 1, &n);
    for (int64_t i = 0; a && i < n; i++) jx_array_set(a, i, v[i]);
    return a;
}

/* Runs f on one input by the interpreter (jit = 0) or native code (jit = 1); the output,
 * or NULL with a failure recorded. */
static jx_array *run1(const jx_fn *f, jx_array *x, int jit) {
    jx_array *out[1] = {NULL};
    int rc = -1;
    if (!jit) {
        rc = jx_interp(f, &x, out);
    } else {
        jx_jit_opts o = {.no_disk_cache = 1};
        jx_exe *e = jx_jit(f, &o);
        rc = e ? jx_exe_run(e, &x, out) : -1;
        jx_exe_free(e);
    }
    if (rc < 0) {
        CHECK_FAIL_("%s failed: %s", jit ? "jit" : "interp", jx_error());
        return NULL;
    }
    return out[0];
}

TEST(erf_interp_matches_libm) {
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        jx_fn *f = erf_fn(JX_TYPE(dt, N_ARGS));
        CHECK(f != NULL);
        jx_array *x = arr(dt, erf_args, N_ARGS), *y = f ? run1(f, x, 0) : NULL;
        for (int64_t i = 0; y && i < N_ARGS; i++) {
            double want = libm_erf(dt, erf_args[i]), got = jx_array_get(y, i);
            if (!same(got, want))
                CHECK_FAIL_("%s erf(%g) = %.17g, libm %.17g", jx_dtype_name(dt), erf_args[i],
                            got, want);
        }
        if (y) { /* the saturated and special values themselves */
            CHECK(jx_array_get(y, 0) == 0 && !signbit(jx_array_get(y, 0)));
            CHECK(jx_array_get(y, 1) == 0 && signbit(jx_array_get(y, 1)));
            CHECK(jx_array_get(y, 16) == -1 && jx_array_get(y, 17) == 1);
            CHECK(jx_array_get(y, 20) == 1 && jx_array_get(y, 21) == -1);
            CHECK(isnan(jx_array_get(y, 22)));
        }
        jx_array_free(x);
        jx_array_free(y);
        jx_fn_free(f);
    }
}

TEST(erf_jit_matches_interp) {
    enum { N = 1000 };
    static double v[N + N_ARGS];
    for (int i = 0; i < N; i++) v[i] = -7.0 + 14.0 * i / (N - 1);
    memcpy(v + N, erf_args, sizeof erf_args);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        jx_fn *f = erf_fn(JX_TYPE(dt, N + N_ARGS));
        CHECK(f != NULL);
        if (!f) continue;
        jx_array *x = arr(dt, v, N + N_ARGS), *a = run1(f, x, 0), *b = run1(f, x, 1);
        int bad = 0;
        for (int64_t i = 0; a && b && i < N + N_ARGS; i++)
            if (!same(jx_array_get(a, i), jx_array_get(b, i)) && bad++ < 3)
                CHECK_FAIL_("%s erf(%g): jit %.17g, interp %.17g", jx_dtype_name(dt), v[i],
                            jx_array_get(b, i), jx_array_get(a, i));
        jx_array_free(x);
        jx_array_free(a);
        jx_array_free(b);
        jx_fn_free(f);
    }
}

/* gelu's exact form, 0.5 x (1 + erf(x / sqrt 2)): erf fused with other ops in one kernel. */
TEST(erf_jit_fused_gelu) {
    enum { N = 257 };
    static double v[N];
    for (int i = 0; i < N; i++) v[i] = -6.0 + 12.0 * i / (N - 1);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        jx_type ty = JX_TYPE(dt, N);
        jx_trace *t = jx_trace_begin(1, &ty);
        jx_val x = jx_trace_input(t, 0);
        jx_val e = jx_erf(jx_mul(x, jx_lit(x, 0.70710678118654752440)));
        jx_val y = jx_mul(jx_mul(x, jx_lit(x, 0.5)), jx_add(e, jx_lit(x, 1.0)));
        jx_fn *f = jx_trace_end(t, 1, &y);
        CHECK(f != NULL);
        if (!f) continue;
        jx_array *xa = arr(dt, v, N), *a = run1(f, xa, 0), *b = run1(f, xa, 1);
        for (int64_t i = 0; a && b && i < N; i++)
            CHECK(same(jx_array_get(a, i), jx_array_get(b, i)));
        jx_array_free(xa);
        jx_array_free(a);
        jx_array_free(b);
        jx_fn_free(f);
    }
}

/* d/dx erf(x) by reverse mode (grad of sum erf) and forward mode (jvp with tangent 3). */
TEST(erf_derivative_is_the_formula) {
    static const double v[] = {-5.0, -2.0, -0.5, 0.0, 1e-3, 0.75, 1.5, 3.0, 26.0};
    enum { N = sizeof v / sizeof v[0] };
    jx_type ty = JX_TYPE(JX_F64, N);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val y = jx_reduce_sum(jx_erf(jx_trace_input(t, 0)), (jx_ints){1, {0}});
    jx_fn *f = jx_trace_end(t, 1, &y);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL, *fe = erf_fn(ty), *j = fe ? jx_jvp(fe, NULL) : NULL;
    CHECK(g != NULL && j != NULL);
    jx_array *x = arr(JX_F64, v, N), *dg = g ? run1(g, x, 0) : NULL;
    jx_array *in[2] = {x, jx_array_new(JX_F64, 1, (int64_t[]){N})}, *out[2] = {NULL, NULL};
    for (int i = 0; i < N; i++) jx_array_set(in[1], i, 3.0);
    CHECK(j && jx_interp(j, in, out) == 0);
    for (int i = 0; dg && out[1] && i < N; i++) {
        double want = TWO_OVER_SQRTPI * exp(-v[i] * v[i]);
        CHECK_NEAR(jx_array_get(dg, i), want, 1e-14 * want + 1e-300);
        CHECK_NEAR(jx_array_get(out[1], i), 3 * want, 3e-14 * want + 1e-300);
        CHECK(same(jx_array_get(out[0], i), erf(v[i])));
    }
    jx_array_free(x);
    jx_array_free(in[1]);
    jx_array_free(dg);
    jx_array_free(out[0]);
    jx_array_free(out[1]);
    jx_fn_free(f);
    jx_fn_free(g);
    jx_fn_free(fe);
    jx_fn_free(j);
}

/* vmap over the last axis of f32[3,4]: every element is libm's erff of its input. */
TEST(erf_vmap) {
    jx_fn *f = erf_fn(JX_TYPE(JX_F32, 3));
    jx_fn *vf = f ? jx_vmap(f, (int[]){1}, (int[]){1}, 4) : NULL;
    CHECK(vf != NULL);
    double v[12];
    for (int i = 0; i < 12; i++) v[i] = -3.0 + 0.55 * i;
    jx_array *x = jx_array_new(JX_F32, 2, (int64_t[]){3, 4});
    for (int i = 0; i < 12; i++) jx_array_set(x, i, v[i]);
    jx_array *y = vf ? run1(vf, x, 0) : NULL;
    if (y) CHECK(jx_array_rank(y) == 2 && jx_array_shape(y)[0] == 3 && jx_array_shape(y)[1] == 4);
    for (int i = 0; y && i < 12; i++) CHECK(same(jx_array_get(y, i), erff((float)v[i])));
    jx_array_free(x);
    jx_array_free(y);
    jx_fn_free(f);
    jx_fn_free(vf);
}

/* erf of an integer is the primitive's error, naming the op and the operand's type. */
TEST(erf_rejects_integers) {
    jx_type ty = JX_TYPE(JX_I32, 2);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val y = jx_erf(jx_trace_input(t, 0));
    jx_fn *f = jx_trace_end(t, 1, &y);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "erf");
    CHECK_CONTAINS(jx_error(), "i32");
    jx_fn_free(f);
}

TEST_MAIN()
