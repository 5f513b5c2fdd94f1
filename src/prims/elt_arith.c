/* Elementwise group "arith": neg, abs, sign, floor, add, sub, mul, div, rem, max, min.
 * Each primitive's rules sit together: reference evaluation (f32/f64 with libm; i32/u32
 * on uint32_t bits: two's-complement wraparound, no UB), partial derivative (JAX's
 * lax.py), LLVM emission, then its row and public constructor. Integer division or
 * remainder by zero gives 0, INT32_MIN / -1 gives INT32_MIN (remainder 0); max/min
 * propagate NaN (the first operand's when both are); the LLVM code matches exactly. */
#include <math.h>

#include "prims/elementwise.h"

/* 1 if dt is f32 or f64. */
static int ar_float(jx_dtype dt) { return dt == JX_F32 || dt == JX_F64; }

/* ---- neg ---- */
static float neg_f32(const float *a) { return -a[0]; }
static double neg_f64(const double *a) { return -a[0]; }
static uint32_t neg_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return 0u - a[0]; }
static jx_val neg_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)y, (void)k;
    return jx_neg_at(loc, g);
}
static LLVMValueRef neg_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return ar_float(dt) ? LLVMBuildFNeg(L->b, a[0], "") : LLVMBuildNeg(L->b, a[0], "");
}

/* ---- abs (abs(INT32_MIN) wraps) ---- */
static float abs_f32(const float *a) { return fabsf(a[0]); }
static double abs_f64(const double *a) { return fabs(a[0]); }
static uint32_t abs_ints(jx_dtype dt, const uint32_t *a) {
    return dt == JX_I32 && (int32_t)a[0] < 0 ? 0u - a[0] : a[0];
}
static jx_val abs_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y, (void)k;
    return jx_mul_at(loc, g, jx_sign_at(loc, x[0]));
}
static LLVMValueRef abs_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef x = a[0];
    (void)out;
    if (ar_float(dt)) return lw_intrin(L, "llvm.fabs", lw_type(L, dt), 1, &x);
    if (dt == JX_I32) {
        LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, x, lw_const(L, dt, 0), "");
        return LLVMBuildSelect(B, neg, LLVMBuildNeg(B, x, ""), x, "");
    }
    return x;
}

/* ---- sign (keeps +-0 and NaN; piecewise constant: no partial) ---- */
static float sign_f32(const float *a) { return a[0] > 0 ? 1.0f : a[0] < 0 ? -1.0f : a[0]; }
static double sign_f64(const double *a) { return a[0] > 0 ? 1.0 : a[0] < 0 ? -1.0 : a[0]; }
static uint32_t sign_ints(jx_dtype dt, const uint32_t *a) {
    int32_t s = (int32_t)a[0];
    if (dt == JX_I32) return s > 0 ? 1u : s < 0 ? UINT32_MAX : 0u;
    return a[0] != 0;
}
static LLVMValueRef sign_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef x = a[0];
    (void)out;
    if (ar_float(dt)) {
        LLVMValueRef r = LLVMBuildSelect(
            B, LLVMBuildFCmp(B, LLVMRealOLT, x, lw_const(L, dt, 0), ""), lw_const(L, dt, -1),
            x, "");
        return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, x, lw_const(L, dt, 0), ""),
                               lw_const(L, dt, 1), r, "");
    }
    LLVMValueRef zero = lw_const(L, dt, 0);
    LLVMValueRef pos = LLVMBuildICmp(B, dt == JX_I32 ? LLVMIntSGT : LLVMIntUGT, x, zero, "");
    LLVMValueRef r = LLVMBuildSelect(B, pos, lw_const(L, dt, 1), zero, "");
    if (dt == JX_I32)
        r = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, zero, ""), lw_const(L, dt, -1),
                            r, "");
    return r;
}

/* ---- floor (piecewise constant: no partial) ---- */
static float floor_f32(const float *a) { return floorf(a[0]); }
static double floor_f64(const double *a) { return floor(a[0]); }
static LLVMValueRef floor_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_intrin(L, "llvm.floor", lw_type(L, dt), 1, a);
}

/* ---- add, sub, mul ---- */
static float add_f32(const float *a) { return a[0] + a[1]; }
static double add_f64(const double *a) { return a[0] + a[1]; }
static uint32_t add_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0] + a[1]; }
static jx_val add_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)loc, (void)x, (void)y, (void)k;
    return g;
}
static LLVMValueRef add_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_add(L, dt, a[0], a[1]);
}
static float sub_f32(const float *a) { return a[0] - a[1]; }
static double sub_f64(const double *a) { return a[0] - a[1]; }
static uint32_t sub_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0] - a[1]; }
static jx_val sub_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)y;
    return k == 0 ? g : jx_neg_at(loc, g);
}
/* jvp of sub: dx0 - dx1 (not dx0 + -dx1), -dx1 when dx0 is zero. */
static int sub_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
                   jx_val *dy) {
    *dy = TX_ZERO;
    if (!tx_is_zero(dx[0])) *dy = tx_add(n->loc, *dy, sub_partial(n->loc, x, y, 0, dx[0]));
    if (!tx_is_zero(dx[1])) {
        if (!tx_is_zero(*dy)) *dy = jx_sub_at(n->loc, *dy, dx[1]);
        else *dy = tx_add(n->loc, *dy, sub_partial(n->loc, x, y, 1, dx[1]));
    }
    return jx_trace_error(t) ? -1 : 0;
}
static LLVMValueRef sub_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return ar_float(dt) ? LLVMBuildFSub(L->b, a[0], a[1], "") : LLVMBuildSub(L->b, a[0], a[1], "");
}
static float mul_f32(const float *a) { return a[0] * a[1]; }
static double mul_f64(const double *a) { return a[0] * a[1]; }
static uint32_t mul_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0] * a[1]; }
static jx_val mul_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y;
    return jx_mul_at(loc, g, x[1 - k]);
}
static LLVMValueRef mul_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return ar_float(dt) ? LLVMBuildFMul(L->b, a[0], a[1], "") : LLVMBuildMul(L->b, a[0], a[1], "");
}

/* Integer division or remainder in LLVM with the interpreter's rules. */
static LLVMValueRef ar_idiv(lw *L, int rem, jx_dtype dt, LLVMValueRef a, LLVMValueRef b) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef zero = lw_const(L, dt, 0), one = lw_const(L, dt, 1);
    LLVMValueRef bz = LLVMBuildICmp(B, LLVMIntEQ, b, zero, "");
    LLVMValueRef safe = LLVMBuildSelect(B, bz, one, b, "");
    LLVMValueRef r;
    if (dt == JX_I32) {
        /* INT32_MIN / -1 overflows: divide by 1 instead (quotient INT32_MIN, remainder 0) */
        LLVMValueRef ov = LLVMBuildAnd(
            B, LLVMBuildICmp(B, LLVMIntEQ, a, LLVMConstInt(L->i32, 0x80000000u, 0), ""),
            LLVMBuildICmp(B, LLVMIntEQ, b, LLVMConstInt(L->i32, 0xffffffffu, 0), ""), "");
        safe = LLVMBuildSelect(B, ov, one, safe, "");
        r = rem ? LLVMBuildSRem(B, a, safe, "") : LLVMBuildSDiv(B, a, safe, "");
    } else {
        r = rem ? LLVMBuildURem(B, a, safe, "") : LLVMBuildUDiv(B, a, safe, "");
    }
    return LLVMBuildSelect(B, bz, zero, r, "");
}

/* ---- div ---- */
static float div_f32(const float *a) { return a[0] / a[1]; }
static double div_f64(const double *a) { return a[0] / a[1]; }
static uint32_t div_ints(jx_dtype dt, const uint32_t *a) {
    int32_t sa = (int32_t)a[0], sb = (int32_t)a[1];
    if (a[1] == 0) return 0;
    if (dt != JX_I32) return a[0] / a[1];
    if (sa == INT32_MIN && sb == -1) return a[0]; /* INT32_MIN */
    return (uint32_t)(sa / sb);
}
static jx_val div_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    jx_val q = jx_div_at(loc, g, x[1]); /* d/dx0 = 1/x1, d/dx1 = -x0/x1^2 = -(1/x1) * y */
    return k == 0 ? q : jx_neg_at(loc, jx_mul_at(loc, q, y));
}
static LLVMValueRef div_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return ar_float(dt) ? LLVMBuildFDiv(L->b, a[0], a[1], "") : ar_idiv(L, 0, dt, a[0], a[1]);
}

/* ---- rem (sign of the dividend, as C's fmod) ---- */
static float rem_f32(const float *a) { return fmodf(a[0], a[1]); }
static double rem_f64(const double *a) { return fmod(a[0], a[1]); }
static uint32_t rem_ints(jx_dtype dt, const uint32_t *a) {
    int32_t sa = (int32_t)a[0], sb = (int32_t)a[1];
    if (a[1] == 0) return 0;
    if (dt != JX_I32) return a[0] % a[1];
    if (sb == -1) return 0;
    return (uint32_t)(sa % sb);
}
static jx_val rem_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y; /* rem = x0 - x1 * trunc(x0 / x1) */
    if (k == 0) return g;
    jx_val q = jx_div_at(loc, x[0], x[1]);
    jx_val tr = jx_mul_at(loc, jx_sign_at(loc, q), jx_floor_at(loc, jx_abs_at(loc, q)));
    return jx_neg_at(loc, jx_mul_at(loc, g, tr));
}
static LLVMValueRef rem_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return ar_float(dt) ? LLVMBuildFRem(L->b, a[0], a[1], "") : ar_idiv(L, 1, dt, a[0], a[1]);
}

/* ---- max, min (LLVM: lw_maxmin, shared with the reductions) ---- */
static float max_f32(const float *a) {
    return isnan(a[0]) ? a[0] : isnan(a[1]) ? a[1] : a[0] > a[1] ? a[0] : a[1];
}
static double max_f64(const double *a) {
    return isnan(a[0]) ? a[0] : isnan(a[1]) ? a[1] : a[0] > a[1] ? a[0] : a[1];
}
static uint32_t max_ints(jx_dtype dt, const uint32_t *a) {
    if (dt == JX_I32) return (int32_t)a[0] > (int32_t)a[1] ? a[0] : a[1];
    return a[0] > a[1] ? a[0] : a[1];
}
static float min_f32(const float *a) {
    return isnan(a[0]) ? a[0] : isnan(a[1]) ? a[1] : a[0] < a[1] ? a[0] : a[1];
}
static double min_f64(const double *a) {
    return isnan(a[0]) ? a[0] : isnan(a[1]) ? a[1] : a[0] < a[1] ? a[0] : a[1];
}
static uint32_t min_ints(jx_dtype dt, const uint32_t *a) {
    if (dt == JX_I32) return (int32_t)a[0] < (int32_t)a[1] ? a[0] : a[1];
    return a[0] < a[1] ? a[0] : a[1];
}
/* The weight of operand k in max/min (x[0], x[1] -> y): 1 where x[k] alone is selected,
 * 1/2 on ties (x[0] == x[1]), 0 where the other operand is selected (JAX's
 * _balanced_eq). */
static jx_val maxmin_weight(jx_loc loc, const jx_val *x, jx_val y, int k) {
    jx_val tie = jx_eq_at(loc, x[0], x[1]);
    jx_val one_or_half = jx_select_at(loc, tie, elt_lit(loc, y, 0.5), elt_lit(loc, y, 1));
    return jx_select_at(loc, jx_eq_at(loc, x[k], y), one_or_half, elt_lit(loc, y, 0));
}
static jx_val maxmin_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    return jx_mul_at(loc, g, maxmin_weight(loc, x, y, k));
}
static LLVMValueRef max_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_maxmin(L, 1, dt, a[0], a[1]);
}
static LLVMValueRef min_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_maxmin(L, 0, dt, a[0], a[1]);
}

/* ---- the group ---- */
#define AR_ROW(name, OP, DT, PARTIAL)                                                      \
    {.op = JX_OP_##OP, .dtypes = DT, .f32 = name##_f32, .f64 = name##_f64,                 \
     .ints = name##_ints, .partial = PARTIAL, .emit = name##_emit}
static const elt_op arith_ops[] = {
    AR_ROW(neg, NEG, ELT_SIGNED, neg_partial),
    AR_ROW(abs, ABS, ELT_SIGNED, abs_partial),
    AR_ROW(sign, SIGN, ELT_SIGNED, NULL),
    {.op = JX_OP_FLOOR, .dtypes = ELT_FLOAT, .f32 = floor_f32, .f64 = floor_f64,
     .emit = floor_emit},
    AR_ROW(add, ADD, ELT_NUMERIC, add_partial),
    {.op = JX_OP_SUB, .dtypes = ELT_NUMERIC, .f32 = sub_f32, .f64 = sub_f64, .ints = sub_ints,
     .partial = sub_partial, .emit = sub_emit, .jvp = sub_jvp},
    AR_ROW(mul, MUL, ELT_NUMERIC, mul_partial),
    AR_ROW(div, DIV, ELT_NUMERIC, div_partial),
    AR_ROW(rem, REM, ELT_NUMERIC, rem_partial),
    AR_ROW(max, MAX, ELT_NUMERIC, maxmin_partial),
    AR_ROW(min, MIN, ELT_NUMERIC, maxmin_partial),
};
ELT_FAMILY(elt_arith, arith_ops);

ELT_UNARY(neg, NEG)
ELT_UNARY(abs, ABS)
ELT_UNARY(sign, SIGN)
ELT_UNARY(floor, FLOOR)
ELT_BINARY(add, ADD)
ELT_BINARY(sub, SUB)
ELT_BINARY(mul, MUL)
ELT_BINARY(div, DIV)
ELT_BINARY(rem, REM)
ELT_BINARY(max, MAX)
ELT_BINARY(min, MIN)
