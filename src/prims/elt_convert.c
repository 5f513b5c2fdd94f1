/* Elementwise group "convert": convert_element_type, bitcast_convert_type, select and
 * stop_gradient, the ops that move values between dtypes or operands without arithmetic.
 * Each primitive's rules sit together: shape rule (the first three have their own),
 * reference evaluation, derivative, LLVM emission, row and public constructor.
 * Conversions: float -> int truncates and saturates (NaN -> 0); int -> int keeps the 32
 * bits (wraps); -> bool is x != 0; bool is 0/1; -> float rounds to nearest. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "prims/elementwise.h"

#define CV_TBUF 160

/* 1 if dt is f32 or f64. */
static int cv_float(jx_dtype dt) { return dt == JX_F32 || dt == JX_F64; }

/* ---- convert_element_type, bitcast_convert_type: shape rule ---- */

/* The operand's shape with the hint's dtype; the hint's shape must equal the operand's;
 * bitcast needs equal widths. */
static int cv_infer(jx_op op, const jx_type *in, const jx_type *hint, jx_type *out, char *err,
                    size_t errlen) {
    char b1[CV_TBUF], b2[CV_TBUF];
    const jx_type *x = &in[0];
    if (elt_check_dtype(elt_row(op), x, err, errlen)) return -1;
    if (!hint) {
        snprintf(err, errlen, "needs a target type");
        return -1;
    }
    if ((unsigned)hint->dtype >= JX_NDTYPES) {
        snprintf(err, errlen, "invalid target dtype %d", (int)hint->dtype);
        return -1;
    }
    if (!elt_same_shape(x, hint)) {
        snprintf(err, errlen, "target type %s has a different shape than operand %s",
                 jx_type_str(hint, b1, sizeof b1), jx_type_str(x, b2, sizeof b2));
        return -1;
    }
    if (op == JX_OP_BITCAST && jx_dtype_size(x->dtype) != jx_dtype_size(hint->dtype)) {
        snprintf(err, errlen, "element widths differ: %s is %zu bytes, target %s is %zu bytes",
                 jx_type_str(x, b1, sizeof b1), jx_dtype_size(x->dtype),
                 jx_dtype_name(hint->dtype), jx_dtype_size(hint->dtype));
        return -1;
    }
    *out = *x;
    out->dtype = hint->dtype;
    return 0;
}

/* ---- convert_element_type ---- */

/* Element i of a numeric/bool buffer as a double (exact for all five dtypes). */
static double cv_load(jx_dtype dt, const void *p, int64_t i) {
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
static uint32_t cv_f_to_i32(double v) {
    if (isnan(v)) return 0;
    if (v <= (double)INT32_MIN) return (uint32_t)INT32_MIN;
    if (v >= (double)INT32_MAX) return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)v;
}

/* Saturating float -> u32 conversion (truncation, NaN and negatives -> 0). */
static uint32_t cv_f_to_u32(double v) {
    if (isnan(v) || v <= 0) return 0;
    if (v >= (double)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)v;
}

static void convert_eval(jx_array *const *in, jx_array *out) {
    jx_dtype sd = jx_array_dtype(in[0]), dd = jx_array_dtype(out);
    const void *p = jx_array_cdata(in[0]);
    void *q = jx_array_data(out);
    int src_int = sd == JX_I32 || sd == JX_U32;
    for (int64_t i = 0, size = jx_array_size(out); i < size; i++) {
        double v = cv_load(sd, p, i);
        switch (dd) {
        case JX_F32: ((float *)q)[i] = (float)v; break;
        case JX_F64: ((double *)q)[i] = v; break;
        case JX_I32:
        case JX_U32:
            if (src_int) ((uint32_t *)q)[i] = ((const uint32_t *)p)[i];
            else ((uint32_t *)q)[i] = dd == JX_I32 ? cv_f_to_i32(v) : cv_f_to_u32(v);
            break;
        case JX_BOOL: ((uint8_t *)q)[i] = v != 0; break;
        default: break;
        }
    }
}

/* vjp: the cotangent converted back to the source dtype (float to float only). */
static int convert_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
                       jx_val *ct_in) {
    (void)y;
    jx_dtype src = jx_val_type(x[0]).dtype;
    if (tx_is_float(src) && tx_is_float(n->type.dtype))
        ct_in[0] = jx_convert_at(n->loc, ct, src);
    return jx_trace_error(t) ? -1 : 0;
}

/* jvp: the tangent converted to the target dtype (float to float only). */
static int convert_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y,
                       const jx_val *dx, jx_val *dy) {
    (void)y;
    *dy = TX_ZERO;
    if (!tx_is_zero(dx[0]) && tx_is_float(jx_val_type(x[0]).dtype) && tx_is_float(n->type.dtype))
        *dy = jx_convert_at(n->loc, dx[0], n->type.dtype);
    return jx_trace_error(t) ? -1 : 0;
}

static LLVMValueRef convert_emit(lw *L, jx_dtype from, jx_dtype to, LLVMValueRef *a) {
    LLVMBuilderRef B = L->b;
    LLVMTypeRef tt = lw_type(L, to);
    LLVMValueRef x = a[0];
    if (from == to) return x;
    if (to == JX_BOOL) {
        if (cv_float(from)) return LLVMBuildFCmp(B, LLVMRealUNE, x, lw_const(L, from, 0), "");
        return LLVMBuildICmp(B, LLVMIntNE, x, lw_const(L, from, 0), "");
    }
    if (from == JX_BOOL) {
        if (cv_float(to)) return LLVMBuildUIToFP(B, x, tt, "");
        return LLVMBuildZExt(B, x, tt, "");
    }
    if (cv_float(from) && cv_float(to))
        return to == JX_F64 ? LLVMBuildFPExt(B, x, tt, "") : LLVMBuildFPTrunc(B, x, tt, "");
    if (cv_float(to))
        return from == JX_I32 ? LLVMBuildSIToFP(B, x, tt, "") : LLVMBuildUIToFP(B, x, tt, "");
    if (cv_float(from))
        return lw_intrin2(L, to == JX_I32 ? "llvm.fptosi.sat" : "llvm.fptoui.sat", tt,
                          lw_type(L, from), x);
    return x; /* i32 <-> u32: same bits */
}

/* ---- bitcast_convert_type (the bits reinterpreted; NOGRAD) ---- */
static void bitcast_eval(jx_array *const *in, jx_array *out) {
    if (jx_array_nbytes(out))
        memcpy(jx_array_data(out), jx_array_cdata(in[0]), jx_array_nbytes(out));
}
static LLVMValueRef bitcast_emit(lw *L, jx_dtype from, jx_dtype to, LLVMValueRef *a) {
    if (lw_type(L, from) == lw_type(L, to)) return a[0];
    return LLVMBuildBitCast(L->b, a[0], lw_type(L, to), "");
}

/* ---- select(pred, on_true, on_false) ---- */

/* pred is bool, all three shapes are equal and both branches have one dtype; the output
 * is the branch type. */
static int select_infer(jx_op op, const jx_type *in, const jx_type *hint, jx_type *out,
                        char *err, size_t errlen) {
    char b1[CV_TBUF], b2[CV_TBUF], b3[CV_TBUF];
    (void)op, (void)hint;
    if (in[0].dtype != JX_BOOL) {
        snprintf(err, errlen, "predicate %s must have dtype bool",
                 jx_type_str(&in[0], b1, sizeof b1));
        return -1;
    }
    if (!elt_same_shape(&in[0], &in[1]) || !elt_same_shape(&in[0], &in[2])) {
        snprintf(err, errlen, "shapes differ: predicate %s, on_true %s, on_false %s",
                 jx_type_str(&in[0], b1, sizeof b1), jx_type_str(&in[1], b2, sizeof b2),
                 jx_type_str(&in[2], b3, sizeof b3));
        return -1;
    }
    if (in[1].dtype != in[2].dtype) {
        snprintf(err, errlen, "branch dtypes differ: on_true %s, on_false %s",
                 jx_type_str(&in[1], b2, sizeof b2), jx_type_str(&in[2], b3, sizeof b3));
        return -1;
    }
    *out = in[1];
    return 0;
}
/* Copies each element from on_true where pred holds, else from on_false. */
static void select_eval(jx_array *const *in, jx_array *out) {
    size_t es = jx_dtype_size(jx_array_dtype(out));
    const uint8_t *c = jx_array_cdata(in[0]);
    const char *pa = jx_array_cdata(in[1]), *pb = jx_array_cdata(in[2]);
    char *q = jx_array_data(out);
    for (int64_t i = 0, size = jx_array_size(out); i < size; i++)
        memcpy(q + (size_t)i * es, (c[i] ? pa : pb) + (size_t)i * es, es);
}
/* The predicate has no derivative; a branch's is g where it is selected, else 0. */
static jx_val select_partial(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g) {
    (void)y;
    if (k == 0) return TX_ZERO;
    jx_val z = jx_zeros_like_at(loc, g);
    return k == 1 ? jx_select_at(loc, x[0], g, z) : jx_select_at(loc, x[0], z, g);
}
static LLVMValueRef select_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return LLVMBuildSelect(L->b, a[0], a[1], a[2], "");
}

/* ---- stop_gradient (the identity with zero derivative) ---- */
static float stop_f32(const float *a) { return a[0]; }
static double stop_f64(const double *a) { return a[0]; }
static uint32_t stop_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0]; }
static LLVMValueRef stop_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)L, (void)dt, (void)out;
    return a[0];
}

/* ---- the group ---- */
static const elt_op convert_ops[] = {
    {.op = JX_OP_CONVERT, .dtypes = ELT_ANY, .emit = convert_emit, .infer = cv_infer,
     .eval = convert_eval, .vjp = convert_vjp, .jvp = convert_jvp},
    {.op = JX_OP_BITCAST, .dtypes = ELT_ANY, .emit = bitcast_emit, .infer = cv_infer,
     .eval = bitcast_eval},
    {.op = JX_OP_SELECT, .dtypes = ELT_ANY, .partial = select_partial, .emit = select_emit,
     .infer = select_infer, .eval = select_eval},
    {.op = JX_OP_STOP_GRADIENT, .dtypes = ELT_ANY, .f32 = stop_f32, .f64 = stop_f64,
     .ints = stop_ints, .emit = stop_emit},
};
ELT_FAMILY(elt_convert, convert_ops);

ELT_UNARY(stop_gradient, STOP_GRADIENT)

/* Emits convert or bitcast of x to dtype dt (the target type is x's shape with dt). */
static jx_val cv_emit_to(jx_loc loc, jx_op op, jx_val x, jx_dtype dt) {
    jx_type hint = jx_val_type(x);
    hint.dtype = dt;
    return trace_emit(loc, NULL, op, 1, &x, NULL, &hint);
}

/* x converted elementwise to dt (floats to ints truncate and saturate, NaN -> 0). */
jx_val jx_convert_at(jx_loc loc, jx_val x, jx_dtype dt) {
    return cv_emit_to(loc, JX_OP_CONVERT, x, dt);
}

/* x's bits reinterpreted as dt (equal element widths). */
jx_val jx_bitcast_at(jx_loc loc, jx_val x, jx_dtype dt) {
    return cv_emit_to(loc, JX_OP_BITCAST, x, dt);
}

/* pred ? a : b with all three operands NumPy-broadcast to one shape. */
jx_val jx_select_at(jx_loc loc, jx_val pred, jx_val a, jx_val b) {
    jx_val in[3] = {pred, a, b};
    return elt_emit_broadcast(loc, JX_OP_SELECT, 3, in);
}
