/* The creation family: constant (a tensor literal held by the node) and iota (the index
 * along one dimension). Both are leaves: their output type comes from the hint. Also the
 * creation helpers built on them (jx_lit_at, jx_full_at, jx_zeros_like_at,
 * jx_ones_like_at), which rules, transformations and lib use. */
#include <stdint.h>
#include <string.h>

#include "core/trace.h"
#include "core/util.h"
#include "jit/lower.h"

/* 1 if t is a well-formed type (valid dtype, rank, non-negative dims, no overflow);
 * otherwise writes why into err and returns 0. */
static int crt_type_ok(const jx_type *t, char *err, size_t errlen) {
    if ((unsigned)t->dtype >= JX_NDTYPES) {
        snprintf(err, errlen, "invalid dtype %d", (int)t->dtype);
        return 0;
    }
    if (t->rank < 0 || t->rank > JX_MAX_RANK) {
        snprintf(err, errlen, "rank %d out of range [0, %d]", t->rank, JX_MAX_RANK);
        return 0;
    }
    if (util_numel(t->rank, t->shape) < 0) {
        char b[160];
        snprintf(err, errlen, "bad shape %s (negative dim or too many elements)",
                 jx_type_str(t, b, sizeof b));
        return 0;
    }
    return 1;
}

/* Shape rule of constant and iota: the output type is the hint (constant: the value's
 * type, which the hint must match when given; iota: a numeric type of rank >= 1 whose
 * `dimension` attribute names one of its axes). */
static int crt_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    char b1[160], b2[160];
    if (nin != 0) {
        snprintf(err, errlen, "takes no operands, got %d", nin);
        return -1;
    }
    if (op == JX_OP_CONSTANT) {
        if (!at || !at->value) {
            snprintf(err, errlen, "constant has no value");
            return -1;
        }
        jx_type vt = jx_array_type(at->value);
        if (hint && !jx_type_eq(hint, &vt)) {
            snprintf(err, errlen, "value has type %s but the declared type is %s",
                     jx_type_str(&vt, b1, sizeof b1), jx_type_str(hint, b2, sizeof b2));
            return -1;
        }
        *out = vt;
        return 0;
    }
    if (op == JX_OP_IOTA) {
        if (!hint) {
            snprintf(err, errlen, "iota needs an output type");
            return -1;
        }
        if (!crt_type_ok(hint, err, errlen)) return -1;
        if (hint->dtype == JX_BOOL) {
            snprintf(err, errlen, "iota dtype must be f32, f64, i32 or u32, not bool");
            return -1;
        }
        if (!at || at->n[0] != 1) {
            snprintf(err, errlen, "attribute dimension must hold one axis, got %d",
                     at ? at->n[0] : 0);
            return -1;
        }
        int64_t d = at->v[0][0];
        if (d < 0 || d >= hint->rank) {
            snprintf(err, errlen, "dimension %lld out of range for rank %d", (long long)d,
                     hint->rank);
            return -1;
        }
        *out = *hint;
        return 0;
    }
    snprintf(err, errlen, "not a creation primitive");
    return -1;
}

/* Stores the integer k in element i of out, converted to out's (non-bool) dtype. */
static void crt_store_index(jx_array *out, int64_t i, int64_t k) {
    void *p = jx_array_data(out);
    switch (jx_array_dtype(out)) {
    case JX_F32: ((float *)p)[i] = (float)k; break;
    case JX_F64: ((double *)p)[i] = (double)k; break;
    case JX_I32: ((uint32_t *)p)[i] = (uint32_t)k; break; /* wraps like the JIT would */
    case JX_U32: ((uint32_t *)p)[i] = (uint32_t)k; break;
    default: break;
    }
}

/* Reference evaluation: constant copies its value; iota writes each element's
 * coordinate along `dimension`. */
static int crt_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    (void)in;
    if (n->op == JX_OP_CONSTANT) {
        jx_type vt, ot = jx_array_type(out);
        if (!n->at.value || (vt = jx_array_type(n->at.value), !jx_type_eq(&vt, &ot)))
            return util_err("constant: value does not match the node type");
        if (jx_array_nbytes(out))
            memcpy(jx_array_data(out), jx_array_cdata(n->at.value), jx_array_nbytes(out));
        return 0;
    }
    if (n->op == JX_OP_IOTA) {
        jx_type ot = jx_array_type(out);
        const jx_type *t = &ot;
        if (n->at.n[0] != 1 || n->at.v[0][0] < 0 || n->at.v[0][0] >= t->rank)
            return util_err("iota: bad dimension attribute for %d-d output", t->rank);
        int d = (int)n->at.v[0][0];
        int64_t strides[JX_MAX_RANK];
        util_strides(t->rank, t->shape, strides);
        int64_t size = jx_array_size(out);
        for (int64_t i = 0; i < size; i++) crt_store_index(out, i, (i / strides[d]) % t->shape[d]);
        return 0;
    }
    return util_err("%s: not a creation primitive", prim_info(n->op)->name);
}

/* Loop lowering: constant reads its buffer (the planner gives every constant one, so this
 * only runs for a constant the planner left fused); iota is its coordinate along
 * `dimension`, converted to the output dtype. */
static LLVMValueRef crt_lower(lw *L, const jx_node *n, lw_ix *ix) {
    if (n->op == JX_OP_CONSTANT) return lw_load(L, (int)(n - L->p->nodes), lw_lin(L, ix));
    jx_dtype dt = n->type.dtype;
    lw_multi(L, ix);
    LLVMValueRef v = ix->v[ir_attr_ints(n, 0).v[0]];
    if (dt == JX_F32 || dt == JX_F64) return LLVMBuildSIToFP(L->b, v, lw_type(L, dt), "");
    return LLVMBuildTrunc(L->b, v, L->i32, "");
}

const jx_family jx_family_create = {.infer = crt_infer, .interp = crt_interp, .lower = crt_lower};

/* ---- public wrappers ----------------------------------------------------------------- */

/* A constant node holding value (the function retains its own reference). */
jx_val jx_constant_at(jx_loc loc, jx_trace *t, jx_array *value) {
    if (!value) return trace_fail(t, loc, "constant", "value is NULL");
    jx_attrs at = ir_attrs(NULL, NULL, NULL, NULL);
    at.value = value;
    jx_type type = jx_array_type(value);
    return trace_emit(loc, t, JX_OP_CONSTANT, 0, NULL, &at, &type);
}

/* A rank-0 constant of dtype dt holding v (converted like jx_array_scalar). */
jx_val jx_scalar_at(jx_loc loc, jx_trace *t, jx_dtype dt, double v) {
    if ((unsigned)dt >= JX_NDTYPES)
        return trace_fail(t, loc, "constant", "invalid dtype %d", (int)dt);
    jx_array *a = jx_array_scalar(dt, v);
    if (!a) return trace_fail(t, loc, "constant", "out of memory");
    jx_val r = jx_constant_at(loc, t, a);
    jx_array_free(a);
    return r;
}

/* An iota node of the given type counting along `dimension`. */
jx_val jx_iota_at(jx_loc loc, jx_trace *t, jx_type type, int dimension) {
    jx_ints d = JX_INTS(dimension);
    jx_attrs at = ir_attrs(&d, NULL, NULL, NULL);
    return trace_emit(loc, t, JX_OP_IOTA, 0, NULL, &at, &type);
}

/* ---- creation helpers (used by rules, transformations and lib) ------------------------- */

/* A rank-0 constant v of like's dtype on like's trace (poison if like is). */
jx_val jx_lit_at(jx_loc loc, jx_val like, double v) {
    if (jx_val_bad(like)) return trace_bad_arg(loc, "lit", 0, like);
    return jx_scalar_at(loc, like.t, jx_val_type(like).dtype, v);
}

/* An array of the given type filled with v: a scalar broadcast to the shape. */
jx_val jx_full_at(jx_loc loc, jx_trace *t, jx_type type, double v) {
    if (type.rank < 0 || type.rank > JX_MAX_RANK)
        return trace_fail(t, loc, "full", "rank %d out of range [0, %d]", type.rank, JX_MAX_RANK);
    jx_val s = jx_scalar_at(loc, t, type.dtype, v);
    if (type.rank == 0 || jx_val_bad(s)) return s;
    jx_ints shape = JX_NOINTS;
    shape.n = type.rank;
    for (int i = 0; i < type.rank; i++) shape.v[i] = type.shape[i];
    return jx_broadcast_in_dim_at(loc, s, shape, JX_NOINTS);
}

/* Zeros of x's type. */
jx_val jx_zeros_like_at(jx_loc loc, jx_val x) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "zeros_like", 0, x);
    return jx_full_at(loc, x.t, jx_val_type(x), 0.0);
}

/* Ones of x's type. */
jx_val jx_ones_like_at(jx_loc loc, jx_val x) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "ones_like", 0, x);
    return jx_full_at(loc, x.t, jx_val_type(x), 1.0);
}
