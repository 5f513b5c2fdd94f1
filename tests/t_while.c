/* while_loop and fori_loop (issue 11), values and errors: the loops against the same
 * loops in C (Newton's square root, a counter, Collatz), zero trips, fori_loop with
 * constant bounds (a scan: grad works) and traced ones (a while), errors with the
 * caller's line and the types (the JIT: t_jit_while.c). The transformations are
 * in t_while_tx.c. */
#include <stdlib.h>

#include "while_util.h"

/* The same iteration in C. */
static int newton_c(double *y, const double *a) {
    int it = 0;
    for (;;) {
        double err = 0;
        for (int i = 0; i < N; i++) err = fmax(err, fabs(y[i] * y[i] - a[i]));
        if (!(err > 1e-12 && it < 50)) return it;
        for (int i = 0; i < N; i++) y[i] = 0.5 * (y[i] + a[i] / y[i]);
        it++;
    }
}

TEST(newton_sqrt_equals_the_c_loop) {
    jx_fn *f = jx_trace(newton, 3, newton_t, 3, NULL);
    CHECK(f != NULL);
    if (!f) return;
    double y[N] = {1, 1, 1}, a[N] = {2, 9, 0.25}, it0 = 0;
    jx_array *out[3] = {0};
    CHECK(run(f, (const double *[]){y, a, &it0}, out) == 0);
    int it = newton_c(y, a);
    CHECK(it > 3 && it < 50);
    for (int i = 0; out[0] && i < N; i++) CHECK(jx_array_get(out[0], i) == y[i]);
    CHECK(out[2] && jx_array_get(out[2], 0) == it);
    txc_free(3, out);
    jx_fn_free(f);
}

/* ---- a counter, Collatz, zero trips ------------------------------------------------------ */

static void lt_ten(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_lt(in[0], jx_lit(in[0], 10));
}
static void add_three(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(in[0], jx_lit(in[0], 3));
    out[1] = jx_mul(in[1], jx_lit(in[1], 2));
}
static void counter(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_while_loop(lt_ten, add_three, NULL, 2, in, out);
}

TEST(counter_and_zero_trips) {
    const jx_type ty[2] = {{JX_I32, 0, {0}}, {JX_F32, 1, {2}}};
    jx_fn *f = jx_trace(counter, 2, ty, 2, NULL);
    CHECK(f != NULL);
    if (!f) return;
    for (int i0 = -5; i0 <= 12; i0++) {
        double i = i0, x[2] = {1.5, -2}, n = 0;
        jx_array *out[2] = {0};
        CHECK(run(f, (const double *[]){&i, x}, out) == 0);
        while (i < 10) i += 3, n++;
        CHECK(out[0] && jx_array_get(out[0], 0) == i);
        CHECK(out[1] && jx_array_get(out[1], 1) == -2 * pow(2, n)); /* n == 0: init itself */
        txc_free(2, out);
    }
    jx_fn_free(f);
}

TEST(collatz_equals_the_c_loop) {
    jx_fn *f = jx_trace(collatz, 1, &i32s, 1, NULL);
    CHECK(f != NULL);
    for (int n = 1; f && n <= 30; n++) {
        double v = n;
        jx_array *out[1] = {0};
        CHECK(run(f, (const double *[]){&v}, out) == 0);
        CHECK(out[0] && jx_array_get(out[0], 0) == collatz_c(n));
        txc_free(1, out);
    }
    CHECK(collatz_c(27) == 111);
    jx_fn_free(f);
}

/* ---- fori_loop: constant bounds (a scan) and traced ones (a while) ---------------------- */

static const int *fori_bounds; /* constant (lo, hi), or NULL: the bounds are inputs 2, 3 */
static void fori(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    jx_val lo = fori_bounds ? jx_scalar(t, JX_I32, fori_bounds[0]) : in[2];
    jx_val hi = fori_bounds ? jx_scalar(t, JX_I32, fori_bounds[1]) : in[3];
    jx_val c[2];
    jx_fori_loop(lo, hi, fori_body, NULL, 2, in, c);
    out[0] = jx_sum_all(jx_mul(c[0], c[1]));
}

/* fori's output in C. */
static double fori_c(const double *s0, const double *x0, int lo, int hi) {
    double r = 0;
    for (int k = 0; k < N; k++) {
        double s = s0[k], x = x0[k];
        for (int i = lo; i < hi; i++) s += i * x, x *= 0.5;
        r += s * x;
    }
    return r;
}

TEST(fori_loop_constant_and_traced_bounds) {
    static const int B[][2] = {{0, 5}, {2, 7}, {-3, 2}, {4, 4}, {6, 1}};
    double s[N] = {1, -2, 0.5}, x[N] = {0.25, 3, -1};
    for (int b = 0; b < 5; b++) {
        for (int traced = 0; traced < 2; traced++) {
            fori_bounds = traced ? NULL : B[b];
            jx_fn *f = jx_trace(fori, traced ? 4 : 2, fori_t, 1, NULL);
            CHECK(f != NULL);
            if (!f) continue;
            char *txt = jx_fn_to_string(f);
            CHECK(txt && strstr(txt, traced ? "= while[" : "= scan[length=(") != NULL);
            free(txt);
            double lo = B[b][0], hi = B[b][1];
            jx_array *out[1] = {0};
            CHECK(run(f, (const double *[]){s, x, &lo, &hi}, out) == 0);
            CHECK(out[0] && fabs(jx_array_get(out[0], 0) - fori_c(s, x, B[b][0], B[b][1])) < 1e-12);
            txc_free(1, out);
            jx_fn_free(f);
        }
    }
    fori_bounds = B[1];
    jx_fn *f = jx_trace(fori, 2, fori_t, 1, NULL); /* a scan: vjp and jvp both work */
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
    fori_bounds = NULL;
}

/* ---- errors ------------------------------------------------------------------------------- */

static int err_line;
static void cond_i32(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sub(jx_lit(in[0], 10), in[0]); /* an i32[] "truth": JAX refuses it */
}
static void cond_vec(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_gt(in[1], jx_lit(in[1], 0));
}
static void body_f64(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = in[0];
    out[1] = jx_convert(in[1], JX_F64);
}
static void body_bad_op(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(in[0], in[1]); /* i32 + f32 */
    out[1] = in[1];
}
/* user selects the case */
static void bad_loop(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    int c = *(const int *)u;
    jx_trace_cb conds[6] = {cond_i32, cond_vec, lt_ten, lt_ten, NULL, lt_ten};
    jx_trace_cb bodies[6] = {add_three, add_three, body_f64, body_bad_op, add_three, add_three};
    err_line = __LINE__ + 2;
    if (c < 6)
        jx_while_loop(conds[c], bodies[c], NULL, c == 5 ? 0 : 2, in, out);
    else if (c == 6)
        jx_fori_loop(jx_scalar(t, JX_F32, 0), in[0], add_three, NULL, 1, in + 1, out);
    else
        jx_fori_loop(in[0], in[0], body_f64, NULL, 1, in + 1, out);
    if (c >= 5) out[1] = in[1];
}

TEST(errors_name_the_loop_the_types_and_the_line) {
    static const char *want[8] = {
        "while_loop: cond_fn must return a bool[] scalar, got i32[]",
        "while_loop: cond_fn must return a bool[] scalar, got bool[2]",
        "while_loop: body_fn must return the carry's types (i32[], f32[2]), got (i32[], f64[2])",
        "while_loop: tracing 'body_fn':",
        "while_loop: NULL 'cond_fn' callback",
        "while_loop: bad arguments (0 carry values; 1 to 64 allowed)",
        "fori_loop: lower and upper must be i32[] scalars, got f32[] and i32[]",
        "fori_loop: body_fn must return the carry's types (f32[2]), got (i32[])"};
    const jx_type ty[2] = {{JX_I32, 0, {0}}, {JX_F32, 1, {2}}};
    for (int c = 0; c < 8; c++) {
        jx_fn *f = jx_trace(bad_loop, 2, ty, 2, &c);
        CHECK(f == NULL);
        char line[32];
        snprintf(line, sizeof line, "t_while.c:%d", err_line + (c == 6 ? 2 : c == 7 ? 4 : 0));
        CHECK_CONTAINS(jx_error(), want[c]);
        CHECK_CONTAINS(jx_error(), line);
        jx_fn_free(f);
    }
    /* the parser checks a while node's sub-functions like the tracer */
    const char *text = "{ lambda ; a:f32[2]. let\n"
                       "    b:f32[2] = while[\n"
                       "      cond={ lambda ; a:f32[2]. let\n"
                       "          b:bool[] = gt 1.0:f32[] 0.0:f32[]\n"
                       "        in (b) }\n"
                       "      body={ lambda ; a:f32[2]. let\n"
                       "          b:f64[2] = convert_element_type a\n"
                       "        in (b) }\n"
                       "    ] a\n"
                       "  in (b) }\n";
    jx_fn *p = jx_fn_parse(text);
    CHECK(p == NULL);
    CHECK_CONTAINS(jx_error(), "while");
    CHECK_CONTAINS(jx_error(), "rule 'body' maps (f32[2]) -> (f64[2]), expected (f32[2]) -> (f32[2])");
    jx_fn_free(p);
}

TEST_MAIN()

