/* The atan2 primitive (src/prims/elt_math.c), operand 0 the numerator y as in lax.atan2:
 * the interpreter against libm's atan2f/atan2 on every pair of special and ordinary values
 * (signed zeros, infinities, NaN), the JIT against the interpreter (bit for bit: both call
 * libm), the partials x/(x^2+y^2) and -y/(x^2+y^2) through grad and jvp, vmap, NumPy
 * broadcasting of a scalar operand (values and gradient), and the rejection of integer
 * operands. The IR text round trip is in t_text.c, the emitted call in
 * tests/filecheck/atan2.jx. Tolerances: derivatives to 1e-14 relative (a few roundings of
 * the same formula separate the rule from the reference). */
#include <math.h>
#include <string.h>

#include "check.h"

#define PI 3.14159265358979323846

/* Special and ordinary coordinates; every ordered pair of them is a test point. */
static const double at_vals[] = {0.0,  -0.0, 1e-310, -1e-30, 0.5,      -1.0,      1.0,
                                 2.0,  -3.5, 1e30,   -1e300, INFINITY, -INFINITY, NAN};
#define N_VALS ((int64_t)(sizeof at_vals / sizeof at_vals[0]))
#define N_PAIRS (N_VALS * N_VALS)

/* atan2(y, x) in dtype dt as libm computes it. */
static double libm_atan2(jx_dtype dt, double y, double x) {
    return dt == JX_F32 ? (double)atan2f((float)y, (float)x) : atan2(y, x);
}

/* 1 if a and b are the same value: equal with the same sign, or both NaN. */
static int same(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* out = atan2(y, x) on inputs y of type ty and x of type tx (NULL on failure). */
static jx_fn *atan2_fn(jx_type ty, jx_type tx) {
    jx_type in[2] = {ty, tx};
    jx_trace *t = jx_trace_begin(2, in);
    jx_val r = jx_atan2(jx_trace_input(t, 0), jx_trace_input(t, 1));
    return jx_trace_end(t, 1, &r);
}

/* A dt[n] array of the first n values of v (rounded to dt). */
static jx_array *arr(jx_dtype dt, const double *v, int64_t n) {
    jx_array *a = jx_array_new(dt, 1, &n);
    for (int64_t i = 0; a && i < n; i++) jx_array_set(a, i, v[i]);
    return a;
}

/* Runs f on inputs in by the interpreter (jit = 0) or native code (jit = 1); output 0,
 * or NULL with a failure recorded. */
static jx_array *run(const jx_fn *f, jx_array **in, int jit) {
    jx_array *out[1] = {NULL};
    int rc = -1;
    if (!jit) {
        rc = jx_interp(f, in, out);
    } else {
        jx_jit_opts o = {.no_disk_cache = 1};
        jx_exe *e = jx_jit(f, &o);
        rc = e ? jx_exe_run(e, in, out) : -1;
        jx_exe_free(e);
    }
    if (rc < 0) {
        CHECK_FAIL_("%s failed: %s", jit ? "jit" : "interp", jx_error());
        return NULL;
    }
    return out[0];
}

/* Every ordered pair of at_vals: ys[i], xs[i] for i < N_PAIRS. */
static void all_pairs(double *ys, double *xs) {
    for (int64_t i = 0; i < N_PAIRS; i++) ys[i] = at_vals[i / N_VALS], xs[i] = at_vals[i % N_VALS];
}

/* The value at (y, x) in result r of all_pairs' points. */
static double at(const jx_array *r, double y, double x) {
    int64_t iy = -1, ix = -1;
    for (int64_t i = 0; i < N_VALS; i++) {
        if (iy < 0 && same(at_vals[i], y)) iy = i;
        if (ix < 0 && same(at_vals[i], x)) ix = i;
    }
    return jx_array_get(r, iy * N_VALS + ix);
}

TEST(atan2_interp_matches_libm) {
    static double ys[N_PAIRS], xs[N_PAIRS];
    all_pairs(ys, xs);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        double pi = d ? PI : (double)(float)PI, q = d ? PI / 4 : (double)(float)(PI / 4);
        double h = d ? PI / 2 : (double)(float)(PI / 2);
        double q3 = d ? 3 * PI / 4 : (double)(float)(3 * PI / 4);
        jx_fn *f = atan2_fn(JX_TYPE(dt, N_PAIRS), JX_TYPE(dt, N_PAIRS));
        CHECK(f != NULL);
        jx_array *in[2] = {arr(dt, ys, N_PAIRS), arr(dt, xs, N_PAIRS)};
        jx_array *r = f ? run(f, in, 0) : NULL;
        for (int64_t i = 0; r && i < N_PAIRS; i++) {
            double want = libm_atan2(dt, ys[i], xs[i]), got = jx_array_get(r, i);
            if (!same(got, want))
                CHECK_FAIL_("%s atan2(%g, %g) = %.17g, libm %.17g", jx_dtype_name(dt), ys[i],
                            xs[i], got, want);
        }
        if (r) { /* C99 Annex F's special cases, spelled out */
            CHECK(same(at(r, 0.0, -0.0), pi) && same(at(r, -0.0, -0.0), -pi));
            CHECK(same(at(r, 0.0, 0.0), 0.0) && same(at(r, -0.0, 0.0), -0.0));
            CHECK(same(at(r, 0.0, -1.0), pi) && same(at(r, -0.0, -1.0), -pi));
            CHECK(same(at(r, 1.0, 0.0), h) && same(at(r, -1.0, -0.0), -h));
            CHECK(same(at(r, INFINITY, INFINITY), q) && same(at(r, -INFINITY, INFINITY), -q));
            CHECK(same(at(r, INFINITY, -INFINITY), q3));
            CHECK(same(at(r, -INFINITY, -INFINITY), -q3));
            CHECK(same(at(r, INFINITY, 2.0), h) && same(at(r, -INFINITY, -3.5), -h));
            CHECK(same(at(r, 1.0, INFINITY), 0.0) && same(at(r, -1.0, INFINITY), -0.0));
            CHECK(same(at(r, 1.0, -INFINITY), pi) && same(at(r, -1.0, -INFINITY), -pi));
            CHECK(isnan(at(r, NAN, 1.0)) && isnan(at(r, 1.0, NAN)) && isnan(at(r, NAN, NAN)));
            CHECK(isnan(at(r, NAN, INFINITY)) && isnan(at(r, INFINITY, NAN)));
        }
        jx_array_free(in[0]);
        jx_array_free(in[1]);
        jx_array_free(r);
        jx_fn_free(f);
    }
}

/* The JIT equals the interpreter on a 41x41 grid (all four quadrants, the axes) and every
 * special pair, in a kernel that fuses atan2 with a mul before and a neg after. */
TEST(atan2_jit_matches_interp) {
    enum { G = 41, N = G * G + N_PAIRS };
    static double ys[N], xs[N];
    for (int i = 0; i < G * G; i++) ys[i] = -5.0 + 0.25 * (i / G), xs[i] = -5.0 + 0.25 * (i % G);
    all_pairs(ys + G * G, xs + G * G);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        jx_type ty[2] = {JX_TYPE(dt, N), JX_TYPE(dt, N)};
        jx_trace *t = jx_trace_begin(2, ty);
        jx_val y = jx_trace_input(t, 0), x = jx_trace_input(t, 1);
        jx_val r[2] = {jx_atan2(y, x), jx_neg(jx_atan2(jx_mul(y, y), x))};
        jx_fn *f = jx_trace_end(t, 2, r);
        CHECK(f != NULL);
        if (!f) continue;
        jx_array *in[2] = {arr(dt, ys, N), arr(dt, xs, N)}, *a[2] = {NULL, NULL},
                 *b[2] = {NULL, NULL};
        jx_jit_opts o = {.no_disk_cache = 1};
        jx_exe *e = jx_jit(f, &o);
        CHECK(jx_interp(f, in, a) == 0);
        CHECK(e && jx_exe_run(e, in, b) == 0);
        int bad = 0;
        for (int k = 0; k < 2; k++)
            for (int64_t i = 0; a[k] && b[k] && i < N; i++)
                if (!same(jx_array_get(a[k], i), jx_array_get(b[k], i)) && bad++ < 3)
                    CHECK_FAIL_("%s out %d at (%g, %g): jit %.17g, interp %.17g",
                                jx_dtype_name(dt), k, ys[i], xs[i], jx_array_get(b[k], i),
                                jx_array_get(a[k], i));
        for (int k = 0; k < 2; k++) {
            jx_array_free(in[k]);
            jx_array_free(a[k]);
            jx_array_free(b[k]);
        }
        jx_exe_free(e);
        jx_fn_free(f);
    }
}

/* Partials by reverse mode (grad of sum atan2 wrt y and x) and forward mode (jvp with
 * tangents dy = 3, dx = -2), against x/(x^2+y^2) and -y/(x^2+y^2). */
TEST(atan2_derivative_is_the_formula) {
    static const double yv[] = {1.0, -2.0, 0.5, 0.0, -1e-3, 3.0, -7.5, 1e3};
    static const double xv[] = {1.0, 0.5, -4.0, 2.0, -1e-3, -0.0, 6.0, 1.0};
    enum { N = sizeof yv / sizeof yv[0] };
    jx_type ty[2] = {JX_TYPE(JX_F64, N), JX_TYPE(JX_F64, N)};
    jx_trace *t = jx_trace_begin(2, ty);
    jx_val s = jx_reduce_sum(jx_atan2(jx_trace_input(t, 0), jx_trace_input(t, 1)),
                             (jx_ints){1, {0}});
    jx_fn *f = jx_trace_end(t, 1, &s);
    jx_fn *g = f ? jx_grad(f, 2, (int[]){0, 1}) : NULL, *fe = atan2_fn(ty[0], ty[1]);
    jx_fn *j = fe ? jx_jvp(fe, NULL) : NULL;
    CHECK(g != NULL && j != NULL);
    jx_array *in[4] = {arr(JX_F64, yv, N), arr(JX_F64, xv, N), arr(JX_F64, (double[N]){0}, N),
                       arr(JX_F64, (double[N]){0}, N)};
    for (int i = 0; i < N; i++) jx_array_set(in[2], i, 3.0), jx_array_set(in[3], i, -2.0);
    jx_array *dg[2] = {NULL, NULL}, *jo[2] = {NULL, NULL};
    CHECK(g && jx_interp(g, in, dg) == 0);
    CHECK(j && jx_interp(j, in, jo) == 0);
    for (int i = 0; dg[1] && jo[1] && i < N; i++) {
        double r2 = xv[i] * xv[i] + yv[i] * yv[i], dy = xv[i] / r2, dx = -yv[i] / r2;
        CHECK_NEAR(jx_array_get(dg[0], i), dy, 1e-14 * fabs(dy));
        CHECK_NEAR(jx_array_get(dg[1], i), dx, 1e-14 * fabs(dx));
        double want = 3 * dy - 2 * dx;
        CHECK_NEAR(jx_array_get(jo[1], i), want, 1e-14 * (fabs(3 * dy) + fabs(2 * dx)));
        CHECK(same(jx_array_get(jo[0], i), atan2(yv[i], xv[i])));
    }
    for (int k = 0; k < 4; k++) jx_array_free(in[k]);
    for (int k = 0; k < 2; k++) jx_array_free(dg[k]), jx_array_free(jo[k]);
    jx_fn_free(f);
    jx_fn_free(g);
    jx_fn_free(fe);
    jx_fn_free(j);
}

/* vmap over the last axis of y f32[3,4], with x f32[3] unbatched: out[i,b] is libm's
 * atan2f(y[i,b], x[i]). */
TEST(atan2_vmap) {
    jx_fn *f = atan2_fn(JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3));
    jx_fn *vf = f ? jx_vmap(f, (int[]){1, JX_NONE}, (int[]){1}, 4) : NULL;
    CHECK(vf != NULL);
    static const double xv[3] = {-1.5, 0.0, 2.0};
    double v[12];
    for (int i = 0; i < 12; i++) v[i] = -3.0 + 0.55 * i;
    jx_array *in[2] = {jx_array_new(JX_F32, 2, (int64_t[]){3, 4}), arr(JX_F32, xv, 3)};
    for (int i = 0; i < 12; i++) jx_array_set(in[0], i, v[i]);
    jx_array *r = vf ? run(vf, in, 0) : NULL;
    if (r) CHECK(jx_array_rank(r) == 2 && jx_array_shape(r)[0] == 3 && jx_array_shape(r)[1] == 4);
    for (int i = 0; r && i < 12; i++)
        CHECK(same(jx_array_get(r, i), atan2f((float)v[i], (float)xv[i / 4])));
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    jx_array_free(r);
    jx_fn_free(f);
    jx_fn_free(vf);
}

/* f32[3] with f32[] broadcasts either way round (interpreter and JIT), and the scalar's
 * gradient sums its partials over the broadcast. */
TEST(atan2_broadcasts_a_scalar) {
    static const double v[3] = {-2.0, 0.0, 3.0}, s = -0.75;
    jx_type t3 = JX_TYPE(JX_F32, 3), t0 = JX_SCALAR(JX_F32);
    jx_fn *fs[2] = {atan2_fn(t3, t0), atan2_fn(t0, t3)};
    for (int k = 0; k < 2; k++) {
        CHECK(fs[k] != NULL);
        if (!fs[k]) continue;
        jx_type ot = jx_fn_out_type(fs[k], 0);
        CHECK(jx_type_eq(&ot, &t3));
        jx_array *vec = arr(JX_F32, v, 3), *sc = jx_array_new(JX_F32, 0, NULL);
        jx_array_set(sc, 0, s);
        jx_array *in[2] = {k ? sc : vec, k ? vec : sc};
        for (int jit = 0; jit < 2; jit++) {
            jx_array *r = run(fs[k], in, jit);
            for (int i = 0; r && i < 3; i++) {
                float want = k ? atan2f((float)s, (float)v[i]) : atan2f((float)v[i], (float)s);
                CHECK(same(jx_array_get(r, i), want));
            }
            jx_array_free(r);
        }
        jx_array_free(vec);
        jx_array_free(sc);
    }
    /* d/dx sum_i atan2(y_i, x) = sum_i -y_i / (x^2 + y_i^2) */
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F64, 3), JX_SCALAR(JX_F64)});
    jx_val sum = jx_reduce_sum(jx_atan2(jx_trace_input(t, 0), jx_trace_input(t, 1)),
                               (jx_ints){1, {0}});
    jx_fn *f = jx_trace_end(t, 1, &sum), *g = f ? jx_grad(f, 1, (int[]){1}) : NULL;
    CHECK(g != NULL);
    jx_array *in[2] = {arr(JX_F64, v, 3), jx_array_new(JX_F64, 0, NULL)}, *dx[1] = {NULL};
    jx_array_set(in[1], 0, s);
    CHECK(g && jx_interp(g, in, dx) == 0);
    double want = 0;
    for (int i = 0; i < 3; i++) want += -v[i] / (s * s + v[i] * v[i]);
    if (dx[0]) CHECK(jx_array_rank(dx[0]) == 0);
    if (dx[0]) CHECK_NEAR(jx_array_get(dx[0], 0), want, 1e-14 * fabs(want));
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    jx_array_free(dx[0]);
    jx_fn_free(f);
    jx_fn_free(g);
    jx_fn_free(fs[0]);
    jx_fn_free(fs[1]);
}

/* atan2 of integers is the primitive's error, naming the op and the operands' dtype. */
TEST(atan2_rejects_integers) {
    static const jx_dtype dts[2] = {JX_I32, JX_U32};
    for (int d = 0; d < 2; d++) {
        jx_fn *f = atan2_fn(JX_TYPE(dts[d], 2), JX_TYPE(dts[d], 2));
        CHECK(f == NULL);
        CHECK_CONTAINS(jx_error(), "atan2");
        CHECK_CONTAINS(jx_error(), jx_dtype_name(dts[d]));
        jx_fn_free(f);
    }
}

TEST_MAIN()
