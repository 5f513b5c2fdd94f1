/* Elementwise group "math" (float only): exp, log, log1p, expm1, tanh, logistic, sin, cos,
 * erf, sqrt, rsqrt, pow, atan2. Each primitive's rules sit together: the reference
 * evaluation (f32 with the float libm functions, f64 with the double ones), the partial
 * derivative (formulas of JAX's lax.py), the LLVM emission (the branch-free polynomials of
 * src/jit/lower_math.c, LLVM intrinsics, or a libm call), then its row and public
 * constructor. */
#include <math.h>

#include "prims/elementwise.h"

/* ---- exp ---- */
static float exp_f32(const float *a) { return expf(a[0]); }
static double exp_f64(const double *a) { return exp(a[0]); }
static jx_val exp_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)k;
    return jx_mul_at(loc, g, y);
}
static LLVMValueRef exp_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_exp(L, dt, a[0]);
}

/* ---- log ---- */
static float log_f32(const float *a) { return logf(a[0]); }
static double log_f64(const double *a) { return log(a[0]); }
static jx_val log_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y, (void)k;
    return jx_div_at(loc, g, x[0]);
}
static LLVMValueRef log_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_log(L, dt, a[0]);
}

/* ---- log1p ---- */
static float log1p_f32(const float *a) { return log1pf(a[0]); }
static double log1p_f64(const double *a) { return log1p(a[0]); }
static jx_val log1p_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y, (void)k;
    return jx_div_at(loc, g, jx_add_at(loc, x[0], elt_lit(loc, g, 1)));
}
static LLVMValueRef log1p_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_log1p(L, dt, a[0]);
}

/* ---- expm1 ---- */
static float expm1_f32(const float *a) { return expm1f(a[0]); }
static double expm1_f64(const double *a) { return expm1(a[0]); }
static jx_val expm1_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)k;
    return jx_mul_at(loc, g, jx_add_at(loc, y, elt_lit(loc, g, 1)));
}
static LLVMValueRef expm1_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_expm1(L, dt, a[0]);
}

/* ---- tanh ---- */
static float tanh_f32(const float *a) { return tanhf(a[0]); }
static double tanh_f64(const double *a) { return tanh(a[0]); }
static jx_val tanh_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)k;
    return jx_mul_at(loc, g, jx_sub_at(loc, elt_lit(loc, g, 1), jx_mul_at(loc, y, y)));
}
static LLVMValueRef tanh_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_tanh(L, dt, a[0]);
}

/* ---- logistic: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) otherwise (no overflow) ---- */
static float logistic_f32(const float *a) {
    float x = a[0];
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x); /* x < 0 or NaN */
    return e / (1.0f + e);
}
static double logistic_f64(const double *a) {
    double x = a[0];
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static jx_val logistic_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)k;
    return jx_mul_at(loc, g, jx_mul_at(loc, y, jx_sub_at(loc, elt_lit(loc, g, 1), y)));
}
static LLVMValueRef logistic_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_logistic(L, dt, a[0]);
}

/* ---- sin, cos ---- */
static float sin_f32(const float *a) { return sinf(a[0]); }
static double sin_f64(const double *a) { return sin(a[0]); }
static jx_val sin_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y, (void)k;
    return jx_mul_at(loc, g, jx_cos_at(loc, x[0]));
}
static LLVMValueRef sin_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_sin(L, dt, a[0]);
}
static float cos_f32(const float *a) { return cosf(a[0]); }
static double cos_f64(const double *a) { return cos(a[0]); }
static jx_val cos_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y, (void)k;
    return jx_neg_at(loc, jx_mul_at(loc, g, jx_sin_at(loc, x[0])));
}
static LLVMValueRef cos_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_cos(L, dt, a[0]);
}

/* ---- erf: libm's erff/erf in the interpreter, and a call of the same function in the
 * JIT (declared in the module, resolved in the process by ORC), so both agree bit for
 * bit; the call keeps its loop scalar (no JXF_MATH) ---- */
static float erf_f32(const float *a) { return erff(a[0]); }
static double erf_f64(const double *a) { return erf(a[0]); }
static jx_val erf_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y, (void)k; /* 2/sqrt(pi) exp(-x^2) */
    jx_val e = jx_exp_at(loc, jx_neg_at(loc, jx_mul_at(loc, x[0], x[0])));
    return jx_mul_at(loc, g, jx_mul_at(loc, elt_lit(loc, g, 1.12837916709551257390), e));
}
static LLVMValueRef erf_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_call_pure(L, dt == JX_F64 ? "erf" : "erff", lw_type(L, dt), 1, a);
}

/* ---- sqrt, rsqrt (LLVM's sqrt intrinsic, correctly rounded) ---- */
static float sqrt_f32(const float *a) { return sqrtf(a[0]); }
static double sqrt_f64(const double *a) { return sqrt(a[0]); }
static jx_val sqrt_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)x, (void)k;
    return jx_div_at(loc, jx_mul_at(loc, g, elt_lit(loc, g, 0.5)), y);
}
static LLVMValueRef sqrt_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_intrin(L, "llvm.sqrt", lw_type(L, dt), 1, a);
}
static float rsqrt_f32(const float *a) { return 1.0f / sqrtf(a[0]); }
static double rsqrt_f64(const double *a) { return 1.0 / sqrt(a[0]); }
static jx_val rsqrt_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)k;
    return jx_mul_at(loc, jx_mul_at(loc, g, elt_lit(loc, g, -0.5)), jx_div_at(loc, y, x[0]));
}
static LLVMValueRef rsqrt_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return LLVMBuildFDiv(L->b, lw_const(L, dt, 1), lw_intrin(L, "llvm.sqrt", lw_type(L, dt), 1, a),
                         "");
}

/* ---- pow ---- */
static float pow_f32(const float *a) { return powf(a[0], a[1]); }
static double pow_f64(const double *a) { return pow(a[0], a[1]); }
/* select(v == 0, 1, v): JAX's _replace_zero, keeps log/pow finite where a select
 * discards the value anyway (so no NaN leaks into higher derivatives). */
static jx_val pow_replace_zero(jx_loc loc, jx_val v) {
    return jx_select_at(loc, jx_eq_at(loc, v, elt_lit(loc, v, 0)), elt_lit(loc, v, 1), v);
}
static jx_val pow_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    if (k == 0) { /* x1 * x0^(x1-1), and exactly 0 where x1 == 0 */
        jx_val e = jx_sub_at(loc, x[1], elt_lit(loc, g, 1));
        jx_val d = jx_mul_at(loc, pow_replace_zero(loc, x[1]), jx_pow_at(loc, x[0], e));
        jx_val z = jx_eq_at(loc, x[1], elt_lit(loc, g, 0));
        return jx_mul_at(loc, g, jx_select_at(loc, z, elt_lit(loc, g, 0), d));
    } /* log(x0) * y, with log(1) = 0 standing in where x0 == 0 */
    return jx_mul_at(loc, g, jx_mul_at(loc, jx_log_at(loc, pow_replace_zero(loc, x[0])), y));
}
static LLVMValueRef pow_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_pow(L, dt, a[0], a[1]);
}

/* ---- atan2(y, x): the angle of the point (x, y), operand 0 the numerator y as in
 * lax.atan2. libm's atan2f/atan2 in the interpreter and a call of the same function in
 * the JIT, as erf (signed zeros, infinities and NaN as C99 Annex F says) ---- */
static float atan2_f32(const float *a) { return atan2f(a[0], a[1]); }
static double atan2_f64(const double *a) { return atan2(a[0], a[1]); }
static jx_val atan2_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y; /* JAX's rule: d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2) */
    jx_val r2 = jx_add_at(loc, jx_mul_at(loc, x[0], x[0]), jx_mul_at(loc, x[1], x[1]));
    if (k == 0) return jx_mul_at(loc, g, jx_div_at(loc, x[1], r2));
    return jx_div_at(loc, jx_mul_at(loc, g, jx_neg_at(loc, x[0])), r2);
}
static LLVMValueRef atan2_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)out;
    return lw_call_pure(L, dt == JX_F64 ? "atan2" : "atan2f", lw_type(L, dt), 2, a);
}

/* ---- the group ---- */
#define MATH_ROW(name, OP)                                                                 \
    {.op = JX_OP_##OP, .dtypes = ELT_FLOAT, .f32 = name##_f32, .f64 = name##_f64,          \
     .partial = name##_partial, .emit = name##_emit}
static const elt_op math_ops[] = {
    MATH_ROW(exp, EXP),     MATH_ROW(log, LOG),       MATH_ROW(log1p, LOG1P),
    MATH_ROW(expm1, EXPM1), MATH_ROW(tanh, TANH),     MATH_ROW(logistic, LOGISTIC),
    MATH_ROW(sin, SIN),     MATH_ROW(cos, COS),       MATH_ROW(erf, ERF),
    MATH_ROW(sqrt, SQRT),   MATH_ROW(rsqrt, RSQRT),   MATH_ROW(pow, POW),
    MATH_ROW(atan2, ATAN2),
};
ELT_FAMILY(elt_math, math_ops);

ELT_UNARY(exp, EXP)
ELT_UNARY(log, LOG)
ELT_UNARY(log1p, LOG1P)
ELT_UNARY(expm1, EXPM1)
ELT_UNARY(tanh, TANH)
ELT_UNARY(logistic, LOGISTIC)
ELT_UNARY(sin, SIN)
ELT_UNARY(cos, COS)
ELT_UNARY(erf, ERF)
ELT_UNARY(sqrt, SQRT)
ELT_UNARY(rsqrt, RSQRT)
ELT_BINARY(pow, POW)
ELT_BINARY(atan2, ATAN2)
