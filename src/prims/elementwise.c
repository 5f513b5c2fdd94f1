/* The elementwise family: unary math, conversions, binary arithmetic, comparisons,
 * bitwise ops, shifts and select. Operands have equal shapes; the output has that shape.
 * This file holds the shape/dtype rules, the family table and the public unary wrappers
 * (the binary ones, which broadcast, are in numpy.c); the reference evaluation of each
 * element is in elementwise_eval.c, the transformation rules in elementwise_tx.c. */
#include <stdio.h>
#include <string.h>

#include "prims/elementwise.h"
#include "transform/transform.h"
#include "core/util.h"

/* Dtype sets as bit masks over jx_dtype. */
#define ELT_BIT(dt) (1u << (dt))
#define ELT_FLOAT (ELT_BIT(JX_F32) | ELT_BIT(JX_F64))
#define ELT_SIGNED (ELT_FLOAT | ELT_BIT(JX_I32))
#define ELT_NUMERIC (ELT_SIGNED | ELT_BIT(JX_U32))
#define ELT_INT (ELT_BIT(JX_I32) | ELT_BIT(JX_U32))
#define ELT_LOGIC (ELT_INT | ELT_BIT(JX_BOOL))
#define ELT_ANY (ELT_NUMERIC | ELT_BIT(JX_BOOL))

/* The set of operand dtypes op accepts (for convert/bitcast: of the source). */
static unsigned elt_allowed(jx_op op) {
    switch (op) {
    case JX_OP_NEG: case JX_OP_ABS: case JX_OP_SIGN:
        return ELT_SIGNED;
    case JX_OP_EXP: case JX_OP_LOG: case JX_OP_LOG1P: case JX_OP_EXPM1: case JX_OP_TANH:
    case JX_OP_LOGISTIC: case JX_OP_SQRT: case JX_OP_RSQRT: case JX_OP_SIN: case JX_OP_COS:
    case JX_OP_FLOOR: case JX_OP_POW:
        return ELT_FLOAT;
    case JX_OP_NOT: case JX_OP_AND: case JX_OP_OR: case JX_OP_XOR:
        return ELT_LOGIC;
    case JX_OP_ADD: case JX_OP_SUB: case JX_OP_MUL: case JX_OP_DIV: case JX_OP_MAX:
    case JX_OP_MIN: case JX_OP_REM:
        return ELT_NUMERIC;
    case JX_OP_SHIFT_LEFT: case JX_OP_SHIFT_RIGHT:
        return ELT_INT;
    default: /* stop_gradient, convert, bitcast, comparisons */
        return ELT_ANY;
    }
}

/* Writes "f32, f64 or i32" (the dtypes in mask) into buf; returns buf. */
static char *elt_mask_str(unsigned mask, char *buf, size_t len) {
    size_t k = 0;
    int count = 0, total = 0;
    for (int d = 0; d < JX_NDTYPES; d++) total += (mask >> d) & 1;
    buf[0] = 0;
    for (int d = 0; d < JX_NDTYPES && k < len; d++) {
        if (!((mask >> d) & 1)) continue;
        const char *sep = count == 0 ? "" : count == total - 1 ? " or " : ", ";
        k += (size_t)snprintf(buf + k, len - k, "%s%s", sep, jx_dtype_name((jx_dtype)d));
        count++;
    }
    return buf;
}

/* Checks that operand type t has a dtype in op's allowed set; else writes an error. */
static int elt_check_dtype(jx_op op, const jx_type *t, char *err, size_t errlen) {
    unsigned mask = elt_allowed(op);
    if ((unsigned)t->dtype < JX_NDTYPES && (mask & ELT_BIT(t->dtype))) return 0;
    char b[64];
    snprintf(err, errlen, "operand dtype %s is not supported (expected %s)",
             jx_dtype_name(t->dtype), elt_mask_str(mask, b, sizeof b));
    return -1;
}

/* 1 if a and b have the same rank and dims (dtype ignored). */
static int elt_same_shape(const jx_type *a, const jx_type *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Rule of convert_element_type and bitcast_convert_type: the operand's shape with the
 * hint's dtype; the hint's shape must equal the operand's; bitcast needs equal widths. */
static int elt_infer_convert(jx_op op, const jx_type *x, const jx_type *hint, jx_type *out,
                             char *err, size_t errlen) {
    char b1[160], b2[160];
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

/* Rule of select(pred, on_true, on_false): pred is bool, all three shapes are equal and
 * both branches have one dtype; the output is the branch type. */
static int elt_infer_select(const jx_type *in, jx_type *out, char *err, size_t errlen) {
    char b1[160], b2[160], b3[160];
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

/* Shape/dtype rule of the family (see jx_family.infer): unary ops keep the operand type
 * (convert/bitcast take the dtype from the hint); binary ops need equal shapes and
 * dtypes and keep them, except comparisons, which give bool. */
static int elt_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    char b1[160], b2[160];
    (void)at;
    if (op < 0 || op >= JX_NOPS || prim_info(op)->family != &jx_family_elementwise) {
        snprintf(err, errlen, "not an elementwise primitive");
        return -1;
    }
    int arity = prim_info(op)->arity;
    if (nin != arity) {
        snprintf(err, errlen, "takes %d operand%s, got %d", arity, arity == 1 ? "" : "s", nin);
        return -1;
    }
    if (op == JX_OP_SELECT) return elt_infer_select(in, out, err, errlen);
    if (nin == 2) {
        if (!elt_same_shape(&in[0], &in[1])) {
            snprintf(err, errlen, "operand shapes differ: %s vs %s",
                     jx_type_str(&in[0], b1, sizeof b1), jx_type_str(&in[1], b2, sizeof b2));
            return -1;
        }
        if (in[0].dtype != in[1].dtype) {
            snprintf(err, errlen, "operand dtypes differ: %s vs %s",
                     jx_type_str(&in[0], b1, sizeof b1), jx_type_str(&in[1], b2, sizeof b2));
            return -1;
        }
    }
    if (elt_check_dtype(op, &in[0], err, errlen)) return -1;
    if (op == JX_OP_CONVERT || op == JX_OP_BITCAST)
        return elt_infer_convert(op, &in[0], hint, out, err, errlen);
    *out = in[0];
    switch (op) {
    case JX_OP_EQ: case JX_OP_NE: case JX_OP_LT: case JX_OP_LE: case JX_OP_GT: case JX_OP_GE:
        out->dtype = JX_BOOL;
        break;
    default:
        break;
    }
    return 0;
}

/* Reference evaluation of one elementwise node (see jx_family.interp): in[] hold the
 * operands, out is preallocated with n->type. Returns 0 or -1 with jx_error set. */
static int elt_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const char *name = prim_info(n->op)->name;
    /* re-check the rule on the actual arrays, so a malformed graph cannot read out of
     * bounds */
    jx_type types[3], want = jx_array_type(out), got;
    char err[512];
    if (n->nin < 1 || n->nin > 3) return util_err("%s: bad operand count %d", name, n->nin);
    for (int k = 0; k < n->nin; k++) {
        if (!in[k]) return util_err("%s: operand %d is missing", name, k);
        types[k] = jx_array_type(in[k]);
    }
    if (elt_infer(n->op, n->nin, types, &n->at, &want, &got, err, sizeof err) < 0)
        return util_err("%s: %s", name, err);
    if (!jx_type_eq(&got, &want)) return util_err("%s: output array has the wrong type", name);
    if (elt_eval(n->op, n->nin, in, out)) {
        char b[160];
        jx_type t = jx_array_type(in[0]);
        return util_err("%s: no evaluation rule for operand %s", name,
                        jx_type_str(&t, b, sizeof b));
    }
    return 0;
}

/* The transformation rules live in elementwise_tx.c. */
TX_RULES_DECL(elt);

const jx_family jx_family_elementwise = {.infer = elt_infer,
                                         .interp = elt_interp,
                                         .vjp = elt_vjp,
                                         .jvp = elt_jvp,
                                         .batch = elt_batch};

/* ---- public unary wrappers ----------------------------------------------------------- */

/* Each jx_<name>_at(loc, x) emits the one unary primitive op on x. */
#define ELT_UNARY(name, OP)                                                              \
    jx_val jx_##name##_at(jx_loc loc, jx_val x) {                                        \
        return trace_emit(loc, NULL, JX_OP_##OP, 1, &x, NULL, NULL);                     \
    }
ELT_UNARY(neg, NEG)
ELT_UNARY(abs, ABS)
ELT_UNARY(sign, SIGN)
ELT_UNARY(exp, EXP)
ELT_UNARY(log, LOG)
ELT_UNARY(log1p, LOG1P)
ELT_UNARY(expm1, EXPM1)
ELT_UNARY(tanh, TANH)
ELT_UNARY(logistic, LOGISTIC)
ELT_UNARY(sqrt, SQRT)
ELT_UNARY(rsqrt, RSQRT)
ELT_UNARY(sin, SIN)
ELT_UNARY(cos, COS)
ELT_UNARY(floor, FLOOR)
ELT_UNARY(not, NOT)
ELT_UNARY(stop_gradient, STOP_GRADIENT)
#undef ELT_UNARY

/* Emits convert or bitcast of x to dtype dt (the target type is x's shape with dt). */
static jx_val elt_emit_to(jx_loc loc, jx_op op, jx_val x, jx_dtype dt) {
    jx_type hint = jx_val_type(x);
    hint.dtype = dt;
    return trace_emit(loc, NULL, op, 1, &x, NULL, &hint);
}

/* x converted elementwise to dt (floats to ints truncate and saturate, NaN -> 0). */
jx_val jx_convert_at(jx_loc loc, jx_val x, jx_dtype dt) {
    return elt_emit_to(loc, JX_OP_CONVERT, x, dt);
}

/* x's bits reinterpreted as dt (equal element widths). */
jx_val jx_bitcast_at(jx_loc loc, jx_val x, jx_dtype dt) {
    return elt_emit_to(loc, JX_OP_BITCAST, x, dt);
}
