/* Transformation rules of the create/elementwise families: vjp and jvp of every
 * differentiable elementwise primitive against central finite differences (txc_grad), the
 * special points JAX cares about (max/min ties, pow at 0, rem, stop_gradient, convert)
 * and second derivatives (grad of grad). vmap is in t_tx_elementwise_vmap.c.
 *
 * Tolerances: txc_grad compares <w, J v> from vjp, jvp and central differences with
 * h = 1e-6 in f64; the truncation error is ~h^2 |f'''| and the rounding error ~1e-16/h
 * times |f|, so 1e-6 relative (of 1 + |value|) is tight yet safe for inputs of size ~1.
 * Second derivatives go through one more difference of computed first derivatives: same
 * 1e-6. Exact special-point values are checked to 1e-12; vmap to 1e-12 (the batched graph
 * computes the same f64 operations in the same order; integers and bools exactly). */
#include "txcheck.h"
#include "core/trace.h"

#include "tx_elt_util.h"

/* Runs f on in[] and returns output j's element e (NaN on failure). */
static double run_get(const jx_fn *f, jx_array **in, int j, int64_t e) {
    jx_array *out[8] = {0};
    double v = NAN;
    int rc = f ? jx_interp(f, in, out) : -1;
    CHECK(rc == 0);
    if (rc == 0) v = jx_array_get(out[j], e);
    if (f) txc_free(jx_fn_n_out(f), out);
    return v;
}

/* ---- first derivatives ------------------------------------------------------------------ */

TEST(grad_unary) {
    jx_type tys[2] = {T(JX_F64, 2, 3), S(JX_F64)};
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N_UNARY; i++) {
            jx_fn *f = mk(unary_ranges[i].op, JX_F64, 1, &tys[r]);
            if (f) txc_grad(f, unary_ranges[i].lo, unary_ranges[i].hi, 1e-6);
            note(prim_info(unary_ranges[i].op)->name, r ? "rank 0" : "f64[2,3]");
            jx_fn_free(f);
        }
}

TEST(grad_binary) {
    jx_type tys[2][2] = {{T(JX_F64, 2, 3), T(JX_F64, 2, 3)}, {S(JX_F64), S(JX_F64)}};
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N_BINARY; i++) {
            jx_fn *f = mk(binary_ranges[i].op, JX_F64, 2, tys[r]);
            if (f) txc_grad(f, binary_ranges[i].lo, binary_ranges[i].hi, 1e-6);
            note(prim_info(binary_ranges[i].op)->name, r ? "rank 0" : "f64[2,3]");
            jx_fn_free(f);
        }
}

/* pow with a negative exponent range and a base in (0, 1): the other branch of log. */
TEST(grad_pow_small_base) {
    jx_type ty[2] = {T(JX_F64, 5), T(JX_F64, 5)};
    jx_fn *f = mk(JX_OP_POW, JX_F64, 2, ty);
    if (f) txc_grad(f, 0.2, 0.9, 1e-6);
    jx_fn_free(f);
}

TEST(grad_select) {
    jx_type ty[3] = {T(JX_BOOL, 2, 3), T(JX_F64, 2, 3), T(JX_F64, 2, 3)};
    jx_fn *f = mk(JX_OP_SELECT, JX_F64, 3, ty);
    if (f) {
        txc_grad(f, -2, 2, 1e-6);
        verify_transforms(f);
    }
    jx_fn_free(f);
}

/* Comparisons have no derivative but sit between differentiable ops:
 * f(a, b) = select(cmp(a, b), a * b, a - b). */
TEST(grad_through_compare) {
    static const jx_op cmps[] = {JX_OP_EQ, JX_OP_NE, JX_OP_LT, JX_OP_LE, JX_OP_GT, JX_OP_GE};
    jx_type ty[2] = {T(JX_F64, 4), T(JX_F64, 4)};
    for (int i = 0; i < 6; i++) {
        jx_trace *t = jx_trace_begin(2, ty);
        jx_val a = jx_trace_input(t, 0), b = jx_trace_input(t, 1), ab[2] = {a, b};
        jx_val c = trace_emit(JX_HERE, t, cmps[i], 2, ab, NULL, NULL);
        jx_val y = jx_select(c, jx_mul(a, b), jx_sub(a, b));
        jx_fn *f = jx_trace_end(t, 1, &y);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        note(prim_info(cmps[i])->name, NULL);
        jx_fn_free(f);
    }
}

/* x + f64(i32(x)): the integer round trip contributes nothing, so d/dx = 1. */
TEST(grad_convert) {
    jx_type ty = T(JX_F64, 3);
    jx_fn *f = mk(JX_OP_CONVERT, JX_F64, 1, &ty); /* f64 -> f64 */
    if (f) txc_grad(f, -2, 2, 1e-6);
    jx_fn_free(f);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0);
    jx_val y = jx_add(x, jx_convert(jx_convert(x, JX_I32), JX_F64));
    f = jx_trace_end(t, 1, &y);
    CHECK(f != NULL);
    if (f) txc_grad(f, 0.1, 0.9, 1e-6);
    jx_fn_free(f);
}

/* f64 -> f32: the cotangent comes back converted to f64, the tangent goes to f32. */
TEST(grad_convert_f64_f32) {
    jx_type ty = S(JX_F64);
    jx_fn *f = mk(JX_OP_CONVERT, JX_F32, 1, &ty);
    jx_fn *g = f ? jx_vjp(f, NULL) : NULL, *d = f ? jx_jvp(f, NULL) : NULL;
    CHECK(g != NULL && d != NULL);
    if (g && d) {
        CHECK(jx_fn_out_type(g, 1).dtype == JX_F64);
        CHECK(jx_fn_out_type(d, 1).dtype == JX_F32);
        jx_array *in[2] = {jx_array_scalar(JX_F64, 1.25), jx_array_scalar(JX_F32, 0.75)};
        CHECK_NEAR(run_get(g, in, 1, 0), 0.75, 1e-12);
        jx_array_free(in[1]);
        in[1] = jx_array_scalar(JX_F64, 0.5);
        CHECK_NEAR(run_get(d, in, 1, 0), 0.5, 1e-12);
        txc_free(2, in);
    }
    jx_fn_free(f);
    jx_fn_free(g);
    jx_fn_free(d);
}

/* grad(x * stop_gradient(x)) = x (not 2x); the vjp and jvp of stop_gradient alone are 0. */
TEST(grad_stop_gradient) {
    jx_type ty = S(JX_F64);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0);
    jx_val y = jx_mul(x, jx_stop_gradient(x));
    jx_fn *f = jx_trace_end(t, 1, &y);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
    CHECK(g != NULL);
    jx_array *in[2] = {jx_array_scalar(JX_F64, 3.0), jx_array_scalar(JX_F64, 1.0)};
    if (g) CHECK_NEAR(run_get(g, in, 0, 0), 3.0, 1e-12);
    jx_fn_free(f);
    jx_fn_free(g);
    f = mk(JX_OP_STOP_GRADIENT, JX_F64, 1, &ty);
    g = f ? jx_vjp(f, NULL) : NULL;
    jx_fn *d = f ? jx_jvp(f, NULL) : NULL;
    CHECK(g != NULL && d != NULL);
    if (g) CHECK_NEAR(run_get(g, in, 1, 0), 0.0, 0);
    if (d) CHECK_NEAR(run_get(d, in, 1, 0), 0.0, 0);
    txc_free(2, in);
    jx_fn_free(f);
    jx_fn_free(g);
    jx_fn_free(d);
}

/* grad of op(a, b) at the point (a, b) for both inputs into g0, g1. */
static void grad_at(jx_op op, double a, double b, double *g0, double *g1) {
    jx_type ty[2] = {S(JX_F64), S(JX_F64)};
    jx_fn *f = mk(op, JX_F64, 2, ty);
    int wrt[2] = {0, 1};
    jx_fn *g = f ? jx_grad(f, 2, wrt) : NULL;
    CHECK(g != NULL);
    if (!g) printf("  grad: %s\n", jx_error());
    jx_array *in[2] = {jx_array_scalar(JX_F64, a), jx_array_scalar(JX_F64, b)};
    *g0 = g ? run_get(g, in, 0, 0) : NAN;
    *g1 = g ? run_get(g, in, 1, 0) : NAN;
    txc_free(2, in);
    jx_fn_free(f);
    jx_fn_free(g);
}

/* Ties split the cotangent half-half, like JAX; otherwise it goes to the selected side. */
TEST(grad_max_min_ties) {
    double g0, g1;
    grad_at(JX_OP_MAX, 1.5, 1.5, &g0, &g1);
    CHECK_NEAR(g0, 0.5, 1e-12);
    CHECK_NEAR(g1, 0.5, 1e-12);
    grad_at(JX_OP_MIN, -2, -2, &g0, &g1);
    CHECK_NEAR(g0, 0.5, 1e-12);
    CHECK_NEAR(g1, 0.5, 1e-12);
    grad_at(JX_OP_MAX, 2, 1, &g0, &g1);
    CHECK_NEAR(g0, 1, 1e-12);
    CHECK_NEAR(g1, 0, 0);
    grad_at(JX_OP_MIN, 2, 1, &g0, &g1);
    CHECK_NEAR(g0, 0, 0);
    CHECK_NEAR(g1, 1, 1e-12);
    /* jvp at a tie: the mean of the tangents */
    jx_type ty[2] = {S(JX_F64), S(JX_F64)};
    jx_fn *f = mk(JX_OP_MAX, JX_F64, 2, ty);
    jx_fn *d = f ? jx_jvp(f, NULL) : NULL;
    CHECK(d != NULL);
    jx_array *in[4] = {jx_array_scalar(JX_F64, 1), jx_array_scalar(JX_F64, 1),
                       jx_array_scalar(JX_F64, 1), jx_array_scalar(JX_F64, 3)};
    if (d) CHECK_NEAR(run_get(d, in, 1, 0), 2.0, 1e-12);
    txc_free(4, in);
    jx_fn_free(f);
    jx_fn_free(d);
}

/* pow at base 0 and exponent 0: finite derivatives with JAX's values, no NaN. */
TEST(grad_pow_special) {
    double g0, g1;
    grad_at(JX_OP_POW, 0, 2, &g0, &g1); /* 2 * 0^1 = 0; log(0) * 0 -> 0 */
    CHECK_NEAR(g0, 0, 0);
    CHECK_NEAR(g1, 0, 0);
    grad_at(JX_OP_POW, 0, 0, &g0, &g1); /* exponent 0: 0 (JAX), not 0 * 0^-1 = NaN */
    CHECK_NEAR(g0, 0, 0);
    CHECK_NEAR(g1, 0, 0);
    grad_at(JX_OP_POW, 2, 0, &g0, &g1);
    CHECK_NEAR(g0, 0, 0);
    CHECK_NEAR(g1, log(2.0), 1e-12);
    grad_at(JX_OP_POW, 3, 2, &g0, &g1);
    CHECK_NEAR(g0, 6, 1e-12);
    CHECK_NEAR(g1, 9 * log(3.0), 1e-12);
}

/* rem(x, y) = x - y * trunc(x / y): d/dx = 1, d/dy = -trunc(x / y), rounding to zero. */
TEST(grad_rem_special) {
    double g0, g1;
    grad_at(JX_OP_REM, -7.5, 2, &g0, &g1); /* trunc(-3.75) = -3 */
    CHECK_NEAR(g0, 1, 1e-12);
    CHECK_NEAR(g1, 3, 1e-12);
    grad_at(JX_OP_REM, 7.5, -2, &g0, &g1); /* trunc(-3.75) = -3 */
    CHECK_NEAR(g0, 1, 1e-12);
    CHECK_NEAR(g1, 3, 1e-12);
    grad_at(JX_OP_REM, 7.5, 2, &g0, &g1);
    CHECK_NEAR(g1, -3, 1e-12);
}

/* Derivative values at one point, against the closed forms. */
TEST(grad_unary_values) {
    static const struct {
        jx_op op;
        double x, d;
    } cases[] = {
        {JX_OP_TANH, 0.5, 0.7864477329659274},     /* 1 - tanh^2 */
        {JX_OP_LOGISTIC, 0.0, 0.25},
        {JX_OP_SQRT, 4.0, 0.25},
        {JX_OP_RSQRT, 4.0, -0.0625},               /* -x^-1.5 / 2 */
        {JX_OP_LOG1P, 1.0, 0.5},
        {JX_OP_EXPM1, 0.0, 1.0},
        {JX_OP_ABS, -3.0, -1.0},
        {JX_OP_SIGN, 2.0, 0.0},
        {JX_OP_FLOOR, 2.5, 0.0},
        {JX_OP_COS, 0.5, -0.479425538604203},      /* -sin */
    };
    jx_type ty = S(JX_F64);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jx_fn *f = mk(cases[i].op, JX_F64, 1, &ty);
        jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
        CHECK(g != NULL);
        jx_array *in[1] = {jx_array_scalar(JX_F64, cases[i].x)};
        if (g) CHECK_NEAR(run_get(g, in, 0, 0), cases[i].d, 1e-12);
        note(prim_info(cases[i].op)->name, NULL);
        txc_free(1, in);
        jx_fn_free(f);
        jx_fn_free(g);
    }
}

/* ---- second derivatives ------------------------------------------------------------------- */

TEST(grad_of_grad_unary) {
    static const rng ops[] = {
        {JX_OP_TANH, -1.5, 1.5}, {JX_OP_LOGISTIC, -3, 3}, {JX_OP_EXP, -1, 1},
        {JX_OP_LOG, 0.5, 2},     {JX_OP_LOG1P, -0.5, 1},  {JX_OP_EXPM1, -1, 1},
        {JX_OP_SQRT, 0.5, 2},    {JX_OP_RSQRT, 0.5, 2},   {JX_OP_SIN, -3, 3},
        {JX_OP_COS, -3, 3},      {JX_OP_NEG, -2, 2},      {JX_OP_ABS, 0.5, 2},
    };
    jx_type ty = S(JX_F64);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        jx_fn *f = mk(ops[i].op, JX_F64, 1, &ty);
        jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
        CHECK(g != NULL);
        if (!g) printf("  grad: %s\n", jx_error());
        if (g) txc_grad(g, ops[i].lo, ops[i].hi, 1e-6);
        note(prim_info(ops[i].op)->name, "grad of grad");
        jx_fn_free(f);
        jx_fn_free(g);
    }
}

TEST(grad_of_grad_binary) {
    static const rng ops[] = {
        {JX_OP_MUL, -2, 2}, {JX_OP_DIV, 0.5, 2}, {JX_OP_POW, 0.5, 2}, {JX_OP_SUB, -2, 2},
        {JX_OP_MAX, -1, 1},
    };
    jx_type ty[2] = {S(JX_F64), S(JX_F64)};
    int wrt[2] = {0, 1};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        jx_fn *f = mk(ops[i].op, JX_F64, 2, ty);
        jx_fn *g = f ? jx_grad(f, 2, wrt) : NULL;
        CHECK(g != NULL);
        if (!g) printf("  grad: %s\n", jx_error());
        if (g) txc_grad(g, ops[i].lo, ops[i].hi, 1e-6);
        note(prim_info(ops[i].op)->name, "grad of grad");
        jx_fn_free(f);
        jx_fn_free(g);
    }
}

/* A composite: f(a, b) = tanh(a * b) / (1 + exp(a)), second derivatives in both. */
TEST(grad_of_grad_composite) {
    jx_type ty[2] = {S(JX_F64), S(JX_F64)};
    jx_trace *t = jx_trace_begin(2, ty);
    jx_val a = jx_trace_input(t, 0), b = jx_trace_input(t, 1);
    jx_val y = jx_div(jx_tanh(jx_mul(a, b)), jx_add(jx_lit(a, 1), jx_exp(a)));
    jx_fn *f = jx_trace_end(t, 1, &y);
    int wrt[2] = {0, 1};
    jx_fn *g = f ? jx_grad(f, 2, wrt) : NULL;
    CHECK(g != NULL);
    if (g) {
        txc_grad(g, -1, 1, 1e-6);
        CHECK(jx_fn_verify(g) == 0);
    }
    jx_fn_free(f);
    jx_fn_free(g);
}

TEST_MAIN()
