/* The reference evaluation of the elementwise family (see elementwise.c for its rules):
 * naive loops over the flat element index, operands and output sharing one shape.
 * f32 math uses the float functions, f64 the double ones; i32/u32 arithmetic is done on
 * uint32_t bits (two's-complement wraparound, no UB); integer division or remainder by
 * zero gives 0, INT32_MIN / -1 gives INT32_MIN (remainder 0); shifts by >= 32 give 0;
 * max/min propagate NaN. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "prims/elementwise.h"
#include "core/util.h"

/* Unary op on one f32 element; sets *bad for an op that has no f32 form. */
static float elt_un_f32(jx_op op, float x, int *bad) {
    switch (op) {
    case JX_OP_NEG: return -x;
    case JX_OP_ABS: return fabsf(x);
    case JX_OP_SIGN: return x > 0 ? 1.0f : x < 0 ? -1.0f : x; /* keeps +-0 and NaN */
    case JX_OP_EXP: return expf(x);
    case JX_OP_LOG: return logf(x);
    case JX_OP_LOG1P: return log1pf(x);
    case JX_OP_EXPM1: return expm1f(x);
    case JX_OP_TANH: return tanhf(x);
    case JX_OP_LOGISTIC:
        if (x >= 0) return 1.0f / (1.0f + expf(-x));
        else {
            float e = expf(x); /* x < 0 or NaN: no overflow */
            return e / (1.0f + e);
        }
    case JX_OP_SQRT: return sqrtf(x);
    case JX_OP_RSQRT: return 1.0f / sqrtf(x);
    case JX_OP_SIN: return sinf(x);
    case JX_OP_COS: return cosf(x);
    case JX_OP_FLOOR: return floorf(x);
    case JX_OP_STOP_GRADIENT: return x;
    default: *bad = 1; return 0;
    }
}

/* Unary op on one f64 element; sets *bad for an op that has no f64 form. */
static double elt_un_f64(jx_op op, double x, int *bad) {
    switch (op) {
    case JX_OP_NEG: return -x;
    case JX_OP_ABS: return fabs(x);
    case JX_OP_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    case JX_OP_EXP: return exp(x);
    case JX_OP_LOG: return log(x);
    case JX_OP_LOG1P: return log1p(x);
    case JX_OP_EXPM1: return expm1(x);
    case JX_OP_TANH: return tanh(x);
    case JX_OP_LOGISTIC:
        if (x >= 0) return 1.0 / (1.0 + exp(-x));
        else {
            double e = exp(x);
            return e / (1.0 + e);
        }
    case JX_OP_SQRT: return sqrt(x);
    case JX_OP_RSQRT: return 1.0 / sqrt(x);
    case JX_OP_SIN: return sin(x);
    case JX_OP_COS: return cos(x);
    case JX_OP_FLOOR: return floor(x);
    case JX_OP_STOP_GRADIENT: return x;
    default: *bad = 1; return 0;
    }
}

/* Unary op on one 32-bit integer element: bits x, signed view s (i32 only). */
static uint32_t elt_un_int(jx_op op, int is_signed, uint32_t x, int32_t s, int *bad) {
    switch (op) {
    case JX_OP_NEG: return 0u - x;
    case JX_OP_ABS: return is_signed && s < 0 ? 0u - x : x; /* abs(INT32_MIN) wraps */
    case JX_OP_SIGN:
        if (is_signed) return s > 0 ? 1u : s < 0 ? UINT32_MAX : 0u;
        return x != 0;
    case JX_OP_NOT: return ~x;
    case JX_OP_STOP_GRADIENT: return x;
    default: *bad = 1; return 0;
    }
}

/* Binary arithmetic on f32 elements (comparisons are handled elsewhere). */
static float elt_bin_f32(jx_op op, float a, float b, int *bad) {
    switch (op) {
    case JX_OP_ADD: return a + b;
    case JX_OP_SUB: return a - b;
    case JX_OP_MUL: return a * b;
    case JX_OP_DIV: return a / b;
    case JX_OP_POW: return powf(a, b);
    case JX_OP_MAX: return isnan(a) ? a : isnan(b) ? b : a > b ? a : b;
    case JX_OP_MIN: return isnan(a) ? a : isnan(b) ? b : a < b ? a : b;
    case JX_OP_REM: return fmodf(a, b);
    default: *bad = 1; return 0;
    }
}

/* Binary arithmetic on f64 elements. */
static double elt_bin_f64(jx_op op, double a, double b, int *bad) {
    switch (op) {
    case JX_OP_ADD: return a + b;
    case JX_OP_SUB: return a - b;
    case JX_OP_MUL: return a * b;
    case JX_OP_DIV: return a / b;
    case JX_OP_POW: return pow(a, b);
    case JX_OP_MAX: return isnan(a) ? a : isnan(b) ? b : a > b ? a : b;
    case JX_OP_MIN: return isnan(a) ? a : isnan(b) ? b : a < b ? a : b;
    case JX_OP_REM: return fmod(a, b);
    default: *bad = 1; return 0;
    }
}

/* Binary op on 32-bit integer elements: bits a, b and (for i32) signed views sa, sb. */
static uint32_t elt_bin_int(jx_op op, int is_signed, uint32_t a, uint32_t b, int32_t sa,
                            int32_t sb, int *bad) {
    switch (op) {
    case JX_OP_ADD: return a + b;
    case JX_OP_SUB: return a - b;
    case JX_OP_MUL: return a * b;
    case JX_OP_DIV:
        if (b == 0) return 0;
        if (!is_signed) return a / b;
        if (sa == INT32_MIN && sb == -1) return a; /* INT32_MIN */
        return (uint32_t)(sa / sb);
    case JX_OP_REM:
        if (b == 0) return 0;
        if (!is_signed) return a % b;
        if (sb == -1) return 0;
        return (uint32_t)(sa % sb);
    case JX_OP_MAX:
        if (is_signed) return sa > sb ? a : b;
        return a > b ? a : b;
    case JX_OP_MIN:
        if (is_signed) return sa < sb ? a : b;
        return a < b ? a : b;
    case JX_OP_AND: return a & b;
    case JX_OP_OR: return a | b;
    case JX_OP_XOR: return a ^ b;
    case JX_OP_SHIFT_LEFT: return b >= 32 ? 0 : a << b;
    case JX_OP_SHIFT_RIGHT: return b >= 32 ? 0 : a >> b;
    default: *bad = 1; return 0;
    }
}

/* Element i of a numeric/bool buffer as a double (exact for all five dtypes). */
static double elt_load(jx_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case JX_F32: return ((const float *)p)[i];
    case JX_F64: return ((const double *)p)[i];
    case JX_I32: return ((const int32_t *)p)[i];
    case JX_U32: return ((const uint32_t *)p)[i];
    case JX_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return NAN;
    }
}

/* Saturating float -> i32 conversion (truncation, NaN -> 0), as bits. */
static uint32_t elt_f_to_i32(double v) {
    if (isnan(v)) return 0;
    if (v <= (double)INT32_MIN) return (uint32_t)INT32_MIN;
    if (v >= (double)INT32_MAX) return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)v;
}

/* Saturating float -> u32 conversion (truncation, NaN and negatives -> 0). */
static uint32_t elt_f_to_u32(double v) {
    if (isnan(v) || v <= 0) return 0;
    if (v >= (double)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)v;
}

/* convert_element_type: float -> int truncates and saturates (NaN -> 0); int -> int
 * keeps the 32 bits (wraps); -> bool is x != 0; -> float rounds to nearest. */
static void elt_convert(const jx_array *x, jx_array *out) {
    jx_dtype sd = jx_array_dtype(x), dd = jx_array_dtype(out);
    const void *p = jx_array_cdata(x);
    void *q = jx_array_data(out);
    int src_int = sd == JX_I32 || sd == JX_U32;
    for (int64_t i = 0, size = jx_array_size(out); i < size; i++) {
        double v = elt_load(sd, p, i);
        switch (dd) {
        case JX_F32: ((float *)q)[i] = (float)v; break;
        case JX_F64: ((double *)q)[i] = v; break;
        case JX_I32:
        case JX_U32:
            if (src_int) ((uint32_t *)q)[i] = ((const uint32_t *)p)[i];
            else ((uint32_t *)q)[i] = dd == JX_I32 ? elt_f_to_i32(v) : elt_f_to_u32(v);
            break;
        case JX_BOOL: ((uint8_t *)q)[i] = v != 0; break;
        default: break;
        }
    }
}

/* Unary ops other than convert/bitcast. Returns 0, or -1 if op has no form for x's dtype. */
static int elt_unary(jx_op op, const jx_array *x, jx_array *out) {
    jx_dtype dt = jx_array_dtype(x);
    const void *p = jx_array_cdata(x);
    void *q = jx_array_data(out);
    int bad = 0;
    for (int64_t i = 0, size = jx_array_size(out); i < size && !bad; i++) {
        switch (dt) {
        case JX_F32: ((float *)q)[i] = elt_un_f32(op, ((const float *)p)[i], &bad); break;
        case JX_F64: ((double *)q)[i] = elt_un_f64(op, ((const double *)p)[i], &bad); break;
        case JX_I32:
        case JX_U32:
            ((uint32_t *)q)[i] = elt_un_int(op, dt == JX_I32, ((const uint32_t *)p)[i],
                                            ((const int32_t *)p)[i], &bad);
            break;
        case JX_BOOL: {
            uint8_t v = ((const uint8_t *)p)[i] != 0;
            if (op == JX_OP_NOT) ((uint8_t *)q)[i] = !v;
            else if (op == JX_OP_STOP_GRADIENT) ((uint8_t *)q)[i] = v;
            else bad = 1;
            break;
        }
        default: bad = 1; break;
        }
    }
    return bad ? -1 : 0;
}

/* 1 if comparison op holds for a and b (NaN compares unequal to everything). */
static int elt_compare(jx_op op, double a, double b) {
    switch (op) {
    case JX_OP_EQ: return a == b;
    case JX_OP_NE: return a != b;
    case JX_OP_LT: return a < b;
    case JX_OP_LE: return a <= b;
    case JX_OP_GT: return a > b;
    default: return a >= b; /* JX_OP_GE */
    }
}

/* Binary ops (arithmetic, comparisons, bitwise, shifts). Returns 0, or -1 if op has no
 * form for the operand dtype. */
static int elt_binary(jx_op op, const jx_array *x, const jx_array *y, jx_array *out) {
    jx_dtype dt = jx_array_dtype(x);
    const void *p = jx_array_cdata(x), *r = jx_array_cdata(y);
    void *q = jx_array_data(out);
    int64_t size = jx_array_size(out);
    int bad = 0;
    if (op >= JX_OP_EQ && op <= JX_OP_GE) {
        for (int64_t i = 0; i < size; i++)
            ((uint8_t *)q)[i] = (uint8_t)elt_compare(op, elt_load(dt, p, i), elt_load(dt, r, i));
        return 0;
    }
    for (int64_t i = 0; i < size && !bad; i++) {
        switch (dt) {
        case JX_F32:
            ((float *)q)[i] = elt_bin_f32(op, ((const float *)p)[i], ((const float *)r)[i], &bad);
            break;
        case JX_F64:
            ((double *)q)[i] =
                elt_bin_f64(op, ((const double *)p)[i], ((const double *)r)[i], &bad);
            break;
        case JX_I32:
        case JX_U32:
            ((uint32_t *)q)[i] = elt_bin_int(op, dt == JX_I32, ((const uint32_t *)p)[i],
                                             ((const uint32_t *)r)[i], ((const int32_t *)p)[i],
                                             ((const int32_t *)r)[i], &bad);
            break;
        case JX_BOOL: {
            int a = ((const uint8_t *)p)[i] != 0, b = ((const uint8_t *)r)[i] != 0;
            uint8_t v = 0;
            if (op == JX_OP_AND) v = a & b;
            else if (op == JX_OP_OR) v = a | b;
            else if (op == JX_OP_XOR) v = a ^ b;
            else bad = 1;
            ((uint8_t *)q)[i] = v;
            break;
        }
        default: bad = 1; break;
        }
    }
    return bad ? -1 : 0;
}

/* select(pred, on_true, on_false): copies each element from on_true where pred holds. */
static void elt_select(const jx_array *pred, const jx_array *a, const jx_array *b,
                       jx_array *out) {
    size_t es = jx_dtype_size(jx_array_dtype(out));
    const uint8_t *c = jx_array_cdata(pred);
    const char *pa = jx_array_cdata(a), *pb = jx_array_cdata(b);
    char *q = jx_array_data(out);
    for (int64_t i = 0, size = jx_array_size(out); i < size; i++)
        memcpy(q + (size_t)i * es, (c[i] ? pa : pb) + (size_t)i * es, es);
}

/* See elementwise.h. */
int elt_eval(jx_op op, int nin, jx_array *const *in, jx_array *out) {
    switch (op) {
    case JX_OP_CONVERT:
        elt_convert(in[0], out);
        return 0;
    case JX_OP_BITCAST:
        if (jx_array_nbytes(out))
            memcpy(jx_array_data(out), jx_array_cdata(in[0]), jx_array_nbytes(out));
        return 0;
    case JX_OP_SELECT:
        elt_select(in[0], in[1], in[2], out);
        return 0;
    default:
        if (nin == 1) return elt_unary(op, in[0], out);
        if (nin == 2) return elt_binary(op, in[0], in[1], out);
        return -1;
    }
}
