/* Shared helpers of the elementwise tests (t_elementwise*.c): trace one primitive on
 * rank-1 operands, run it under the interpreter and compare against expected values.
 * Every helper is static and marked unused so each test binary takes only what it needs. */
#ifndef JX_TESTS_ELT_UTIL_H
#define JX_TESTS_ELT_UTIL_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "core/trace.h"

static const double NaN __attribute__((unused)) = NAN;
static const double Inf __attribute__((unused)) = INFINITY;
#define I32MIN (-2147483648.0)
#define I32MAX 2147483647.0
#define U32MAX 4294967295.0

/* The public unary wrappers by op. */
static jx_val (*const unary_fns[JX_NOPS])(jx_loc, jx_val) __attribute__((unused)) = {
    [JX_OP_NEG] = jx_neg_at,         [JX_OP_ABS] = jx_abs_at,
    [JX_OP_SIGN] = jx_sign_at,       [JX_OP_EXP] = jx_exp_at,
    [JX_OP_LOG] = jx_log_at,         [JX_OP_LOG1P] = jx_log1p_at,
    [JX_OP_EXPM1] = jx_expm1_at,     [JX_OP_TANH] = jx_tanh_at,
    [JX_OP_LOGISTIC] = jx_logistic_at, [JX_OP_SQRT] = jx_sqrt_at,
    [JX_OP_RSQRT] = jx_rsqrt_at,     [JX_OP_SIN] = jx_sin_at,
    [JX_OP_COS] = jx_cos_at,         [JX_OP_FLOOR] = jx_floor_at,
    [JX_OP_NOT] = jx_not_at,         [JX_OP_STOP_GRADIENT] = jx_stop_gradient_at,
};

/* Emits op on x[0..arity-1] at loc: unary ops through their public wrapper,
 * convert/bitcast to dtype aux, binary ops and select straight through the emitter. */
__attribute__((unused))
static jx_val elt_build_at(jx_loc loc, const jx_val *x, jx_op op, int aux) {
    if (op == JX_OP_CONVERT) return jx_convert_at(loc, x[0], (jx_dtype)aux);
    if (op == JX_OP_BITCAST) return jx_bitcast_at(loc, x[0], (jx_dtype)aux);
    if (prim_info(op)->arity == 1) return unary_fns[op](loc, x[0]);
    return trace_emit(loc, NULL, op, prim_info(op)->arity, x, NULL, NULL);
}
/* build(x, op, aux): elt_build_at with the caller's source line, so error messages name
 * the test file that traced the op. */
#define build(x, op, aux) elt_build_at(JX_HERE, x, op, aux)

/* Traces op on inputs of in's types, checks the graph, runs the interpreter and returns
 * the output (caller frees), or NULL with a test failure. */
__attribute__((unused))
static jx_array *run(int line, jx_op op, int aux, jx_array **in) {
    int nin = prim_info(op)->arity;
    jx_type types[3];
    jx_val x[3];
    for (int i = 0; i < nin; i++) types[i] = jx_array_type(in[i]);
    jx_trace *t = jx_trace_begin(nin, types);
    for (int i = 0; i < nin; i++) x[i] = jx_trace_input(t, i);
    jx_val y = build(x, op, aux);
    jx_fn *f = jx_trace_end(t, 1, &y);
    if (!f) {
        CHECK_FAIL_("line %d: %s: trace failed: %s", line, prim_info(op)->name, jx_error());
        return NULL;
    }
    if (jx_fn_verify(f) != 0) CHECK_FAIL_("line %d: verify: %s", line, jx_error());
    jx_array *out = NULL;
    if (jx_interp(f, in, &out) != 0) {
        CHECK_FAIL_("line %d: %s: interp failed: %s", line, prim_info(op)->name, jx_error());
        out = NULL;
    }
    jx_fn_free(f);
    return out;
}

/* A rank-1 array [n] of dtype dt holding v (converted like jx_array_set). */
__attribute__((unused))
static jx_array *vec(jx_dtype dt, int n, const double *v) {
    int64_t s = n;
    jx_array *a = jx_array_new(dt, 1, &s);
    for (int i = 0; i < n; i++) jx_array_set(a, i, v[i]);
    return a;
}

/* Checks that out has dtype dt, n elements and values want (to tol; NaN matches NaN). */
__attribute__((unused))
static void expect(int line, const char *what, const jx_array *out, jx_dtype dt, int n,
                   const double *want, double tol) {
    if (!out) return;
    if (jx_array_dtype(out) != dt || jx_array_size(out) != n) {
        CHECK_FAIL_("line %d: %s: output is %s with %lld elements, expected %s with %d", line,
                    what, jx_dtype_name(jx_array_dtype(out)), (long long)jx_array_size(out),
                    jx_dtype_name(dt), n);
        return;
    }
    for (int i = 0; i < n; i++) {
        double g = jx_array_get(out, i);
        if (!check_near(g, want[i], tol))
            CHECK_FAIL_("line %d: %s (%s) element %d = %.17g, expected %.17g", line, what,
                        jx_dtype_name(dt), i, g, want[i]);
    }
}

/* Runs op on rank-1 operands of dtype in_dt built from a, b, c (NULL for absent; select's
 * predicate a is always bool) and checks the output (dtype out_dt) against want. */
__attribute__((unused))
static void check_op(int line, jx_op op, int aux, jx_dtype in_dt, jx_dtype out_dt, int n,
                     const double *a, const double *b, const double *c, const double *want) {
    const double *src[3] = {a, b, c};
    jx_array *in[3] = {NULL, NULL, NULL};
    int nin = prim_info(op)->arity;
    for (int i = 0; i < nin; i++)
        in[i] = vec(op == JX_OP_SELECT && i == 0 ? JX_BOOL : in_dt, n, src[i]);
    jx_array *out = run(line, op, aux, in);
    double tol = out_dt == JX_F32 ? 2e-6 : out_dt == JX_F64 ? 1e-14 : 0;
    expect(line, prim_info(op)->name, out, out_dt, n, want, tol);
    jx_array_free(out);
    for (int i = 0; i < nin; i++) jx_array_free(in[i]);
}

#define D(...) ((const double[]){__VA_ARGS__})
#define N_(...) ((int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))
/* UN(op, dtype, inputs, expected): unary op keeping the dtype. */
#define UN(op, dt, A, W) check_op(__LINE__, JX_OP_##op, 0, dt, dt, N_ A, D A, NULL, NULL, D W)
/* BIN(op, dtype, out dtype, a, b, expected). */
#define BIN(op, dt, odt, A, B, W) \
    check_op(__LINE__, JX_OP_##op, 0, dt, odt, N_ A, D A, D B, NULL, D W)
/* CONV(op, from, to, inputs, expected): convert or bitcast. */
#define CONV(op, from, to, A, W) \
    check_op(__LINE__, JX_OP_##op, to, from, to, N_ A, D A, NULL, NULL, D W)

static const jx_dtype floats[2] __attribute__((unused)) = {JX_F32, JX_F64};

#endif
