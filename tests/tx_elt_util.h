/* Shared helpers of the elementwise transformation tests (t_tx_elementwise*.c): one-op
 * functions, first-failure notes, transform verification and the input ranges of every
 * differentiable unary and binary op. Helpers are static and marked unused. */
#ifndef JX_TESTS_TX_ELT_UTIL_H
#define JX_TESTS_TX_ELT_UTIL_H

#include "core/trace.h"
#include "txcheck.h"

#define NONE JX_NONE
#define T(dt, ...) JX_TYPE(dt, __VA_ARGS__)
#define S(dt) JX_SCALAR(dt)

/* Prints what was being checked the first time a case fails (txc_* do not say). */
static const char *noted_case __attribute__((unused));
__attribute__((unused))
static void note(const char *what, const char *detail) {
    if (check_failed_now && noted_case != check_current) {
        printf("  (while checking %s %s)\n", what, detail ? detail : "");
        noted_case = check_current;
    }
}

/* One primitive op on nin inputs of types ty (convert/bitcast to dtype `to`); y = op(x).
 * Emitted straight through the emitter at loc, so operands are used without broadcasting. */
__attribute__((unused))
static jx_fn *mk_at(jx_loc loc, jx_op op, jx_dtype to, int nin, const jx_type *ty) {
    jx_trace *t = jx_trace_begin(nin, ty);
    jx_val x[3];
    for (int i = 0; i < nin; i++) x[i] = jx_trace_input(t, i);
    jx_type hint = ty[0];
    hint.dtype = to;
    int conv = op == JX_OP_CONVERT || op == JX_OP_BITCAST;
    jx_val y = trace_emit(loc, t, op, nin, x, NULL, conv ? &hint : NULL);
    jx_fn *f = jx_trace_end(t, 1, &y);
    CHECK(f != NULL);
    if (!f) printf("  trace %s: %s\n", prim_info(op)->name, jx_error());
    return f;
}
/* mk(op, to, nin, ty): mk_at with the caller's source line as the op's location. */
#define mk(op, to, nin, ty) mk_at(JX_HERE, op, to, nin, ty)

/* Checks that vjp, jvp and vmap (in_axes all 0) of f produce graphs that verify. */
__attribute__((unused))
static void verify_transforms(const jx_fn *f) {
    jx_fn *g[3] = {jx_vjp(f, NULL), jx_jvp(f, NULL), jx_vmap(f, NULL, NULL, 3)};
    for (int i = 0; i < 3; i++) {
        CHECK(g[i] != NULL);
        if (g[i]) CHECK(jx_fn_verify(g[i]) == 0);
        jx_fn_free(g[i]);
    }
}

/* An op and the input range its derivatives are checked on. */
typedef struct {
    jx_op op;
    double lo, hi;
} rng;

/* Unary ops on ranges away from their kinks and poles (abs and sign on both sides of 0,
 * floor inside (0, 1) where it is locally constant). */
static const rng unary_ranges[] __attribute__((unused)) = {
    {JX_OP_NEG, -2, 2},      {JX_OP_ABS, 0.5, 2},   {JX_OP_ABS, -2, -0.5},
    {JX_OP_SIGN, 0.5, 2},    {JX_OP_SIGN, -2, -0.5}, {JX_OP_EXP, -1, 1},
    {JX_OP_LOG, 0.5, 2},     {JX_OP_LOG1P, -0.5, 1}, {JX_OP_EXPM1, -1, 1},
    {JX_OP_TANH, -1.5, 1.5}, {JX_OP_LOGISTIC, -3, 3}, {JX_OP_SQRT, 0.5, 2},
    {JX_OP_RSQRT, 0.5, 2},   {JX_OP_SIN, -3, 3},    {JX_OP_COS, -3, 3},
    {JX_OP_FLOOR, 0.1, 0.9},
};
#define N_UNARY ((int)(sizeof unary_ranges / sizeof unary_ranges[0]))

/* Binary ops; div/pow/rem keep the divisor/base positive, rem's quotients off integers. */
static const rng binary_ranges[] __attribute__((unused)) = {
    {JX_OP_ADD, -2, 2},  {JX_OP_SUB, -2, 2},  {JX_OP_MUL, -2, 2},  {JX_OP_DIV, 0.5, 2},
    {JX_OP_POW, 0.5, 2}, {JX_OP_MAX, -1, 1},  {JX_OP_MIN, -1, 1},  {JX_OP_REM, 0.5, 3},
};
#define N_BINARY ((int)(sizeof binary_ranges / sizeof binary_ranges[0]))

#endif
