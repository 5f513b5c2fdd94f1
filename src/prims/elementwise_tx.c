/* Transformation rules of the elementwise family (contracts in src/transform/transform.h): vjp, jvp
 * and batching. The Jacobian of an elementwise op is diagonal, so one function,
 * elt_partial, gives g * dy/dx_k for any g of y's type; the vjp applies it to the
 * cotangent, the jvp to each tangent and sums. Formulas follow JAX's lax.py. Every
 * node is emitted through the public ops with the node's source location. */
#include "transform/transform.h"

TX_RULES_DECL(elt);

/* A scalar literal v of like's dtype (broadcast by the public binary ops). */
static jx_val elt_lit(jx_loc loc, jx_val like, double v) { return jx_lit_at(loc, like, v); }

/* select(v == 0, 1, v): JAX's _replace_zero, keeps log/pow finite where a select
 * discards the value anyway (so no NaN leaks into higher derivatives). */
static jx_val elt_replace_zero(jx_loc loc, jx_val v) {
    return jx_select_at(loc, jx_eq_at(loc, v, elt_lit(loc, v, 0)), elt_lit(loc, v, 1), v);
}

/* The weight of operand k in max/min (x[0], x[1] -> y): 1 where x[k] alone is selected,
 * 1/2 on ties (x[0] == x[1]), 0 where the other operand is selected (JAX's
 * _balanced_eq). */
static jx_val elt_minmax_weight(jx_loc loc, const jx_val *x, jx_val y, int k) {
    jx_val tie = jx_eq_at(loc, x[0], x[1]);
    jx_val one_or_half = jx_select_at(loc, tie, elt_lit(loc, y, 0.5), elt_lit(loc, y, 1));
    return jx_select_at(loc, jx_eq_at(loc, x[k], y), one_or_half, elt_lit(loc, y, 0));
}

/* g * dy/dx[k] for node n (operands x, output y), g of y's type; TX_ZERO where the
 * derivative is identically zero (sign, floor, stop_gradient, select's predicate).
 * Not for convert (whose vjp and jvp differ in dtype) or NOGRAD primitives. */
static jx_val elt_partial(const jx_node *n, const jx_val *x, jx_val y, int k, jx_val g) {
    jx_loc loc = n->loc;
    switch (n->op) {
    case JX_OP_NEG: return jx_neg_at(loc, g);
    case JX_OP_ABS: return jx_mul_at(loc, g, jx_sign_at(loc, x[0]));
    case JX_OP_EXP: return jx_mul_at(loc, g, y);
    case JX_OP_LOG: return jx_div_at(loc, g, x[0]);
    case JX_OP_LOG1P: return jx_div_at(loc, g, jx_add_at(loc, x[0], elt_lit(loc, g, 1)));
    case JX_OP_EXPM1: return jx_mul_at(loc, g, jx_add_at(loc, y, elt_lit(loc, g, 1)));
    case JX_OP_TANH:
        return jx_mul_at(loc, g, jx_sub_at(loc, elt_lit(loc, g, 1), jx_mul_at(loc, y, y)));
    case JX_OP_LOGISTIC:
        return jx_mul_at(loc, g, jx_mul_at(loc, y, jx_sub_at(loc, elt_lit(loc, g, 1), y)));
    case JX_OP_SQRT: return jx_div_at(loc, jx_mul_at(loc, g, elt_lit(loc, g, 0.5)), y);
    case JX_OP_RSQRT:
        return jx_mul_at(loc, jx_mul_at(loc, g, elt_lit(loc, g, -0.5)), jx_div_at(loc, y, x[0]));
    case JX_OP_SIN: return jx_mul_at(loc, g, jx_cos_at(loc, x[0]));
    case JX_OP_COS: return jx_neg_at(loc, jx_mul_at(loc, g, jx_sin_at(loc, x[0])));
    case JX_OP_ADD: return g;
    case JX_OP_SUB: return k == 0 ? g : jx_neg_at(loc, g);
    case JX_OP_MUL: return jx_mul_at(loc, g, x[1 - k]);
    case JX_OP_DIV: { /* d/dx0 = 1/x1, d/dx1 = -x0/x1^2 = -(1/x1) * y */
        jx_val q = jx_div_at(loc, g, x[1]);
        return k == 0 ? q : jx_neg_at(loc, jx_mul_at(loc, q, y));
    }
    case JX_OP_POW:
        if (k == 0) { /* x1 * x0^(x1-1), and exactly 0 where x1 == 0 */
            jx_val e = jx_sub_at(loc, x[1], elt_lit(loc, g, 1));
            jx_val d = jx_mul_at(loc, elt_replace_zero(loc, x[1]), jx_pow_at(loc, x[0], e));
            jx_val z = jx_eq_at(loc, x[1], elt_lit(loc, g, 0));
            return jx_mul_at(loc, g, jx_select_at(loc, z, elt_lit(loc, g, 0), d));
        } /* log(x0) * y, with log(1) = 0 standing in where x0 == 0 */
        return jx_mul_at(loc, g, jx_mul_at(loc, jx_log_at(loc, elt_replace_zero(loc, x[0])), y));
    case JX_OP_MAX:
    case JX_OP_MIN: return jx_mul_at(loc, g, elt_minmax_weight(loc, x, y, k));
    case JX_OP_REM: { /* rem = x0 - x1 * trunc(x0 / x1) */
        if (k == 0) return g;
        jx_val q = jx_div_at(loc, x[0], x[1]);
        jx_val tr = jx_mul_at(loc, jx_sign_at(loc, q), jx_floor_at(loc, jx_abs_at(loc, q)));
        return jx_neg_at(loc, jx_mul_at(loc, g, tr));
    }
    case JX_OP_SELECT: {
        if (k == 0) return TX_ZERO;
        jx_val z = jx_zeros_like_at(loc, g);
        return k == 1 ? jx_select_at(loc, x[0], g, z) : jx_select_at(loc, x[0], z, g);
    }
    default: /* sign, floor, stop_gradient: piecewise constant or cut */
        return TX_ZERO;
    }
}

/* See transform.h: ct_in[k] = ct * dy/dx[k] for each float operand. */
int elt_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
            jx_val *ct_in) {
    if (n->op == JX_OP_CONVERT) {
        jx_dtype src = jx_val_type(x[0]).dtype;
        if (tx_is_float(src) && tx_is_float(n->type.dtype))
            ct_in[0] = jx_convert_at(n->loc, ct, src);
    } else {
        for (int k = 0; k < n->nin; k++)
            if (tx_is_float(jx_val_type(x[k]).dtype)) ct_in[k] = elt_partial(n, x, y, k, ct);
    }
    return jx_trace_error(t) ? -1 : 0;
}

/* See transform.h: dy = sum over operands with a tangent of dx[k] * dy/dx[k]. */
int elt_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
            jx_val *dy) {
    *dy = TX_ZERO;
    if (n->op == JX_OP_CONVERT) {
        if (!tx_is_zero(dx[0]) && tx_is_float(jx_val_type(x[0]).dtype) &&
            tx_is_float(n->type.dtype))
            *dy = jx_convert_at(n->loc, dx[0], n->type.dtype);
        return jx_trace_error(t) ? -1 : 0;
    }
    for (int k = 0; k < n->nin; k++) {
        if (tx_is_zero(dx[k])) continue;
        if (n->op == JX_OP_SUB && k == 1 && !tx_is_zero(*dy)) /* dx0 - dx1, not dx0 + -dx1 */
            *dy = jx_sub_at(n->loc, *dy, dx[k]);
        else
            *dy = tx_add(n->loc, *dy, elt_partial(n, x, y, k, dx[k]));
    }
    return jx_trace_error(t) ? -1 : 0;
}

/* x (batched at bd, or unbatched) with its batch axis at position `to`: as is, moved by
 * one transpose, or broadcast_in_dim'ed into a new axis `to` of size bsize. */
static jx_val elt_batch_to(jx_loc loc, jx_val x, int bd, int to, int64_t bsize) {
    if (bd == to) return x;
    if (bd != TX_NOBATCH) return tx_moveaxis(loc, x, bd, to);
    if (jx_val_bad(x)) return x;
    jx_type ty = jx_val_type(x);
    jx_ints shape = {ty.rank + 1, {0}}, dims = {ty.rank, {0}};
    for (int i = 0, d = 0; d < ty.rank + 1; d++) {
        if (d == to) {
            shape.v[d] = bsize;
            continue;
        }
        shape.v[d] = ty.shape[i];
        dims.v[i++] = d;
    }
    return jx_broadcast_in_dim_at(loc, x, shape, dims);
}

/* See transform.h. The output keeps the batch position most operands already have (the
 * first such on a tie), so a batched operand is never transposed to meet an unbatched
 * one; the others are moved there (transpose) or broadcast into it. */
int elt_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd, int64_t bsize,
              jx_val *y, int *ybd) {
    int to = TX_NOBATCH, best = 0;
    for (int k = 0; k < n->nin; k++) {
        if (bd[k] == TX_NOBATCH) continue;
        int count = 0;
        for (int j = 0; j < n->nin; j++) count += bd[j] == bd[k];
        if (count > best) best = count, to = bd[k];
    }
    if (to == TX_NOBATCH) { /* the driver never asks, but be total */
        *y = tx_replay(t, n, x);
        *ybd = TX_NOBATCH;
        return jx_val_bad(*y) ? -1 : 0;
    }
    jx_val args[3];
    for (int k = 0; k < n->nin && k < 3; k++)
        args[k] = elt_batch_to(n->loc, x[k], bd[k], to, bsize);
    /* the output type: the batched operand shape with n's dtype (convert/bitcast need it) */
    jx_type hint = n->type;
    if (!jx_val_bad(args[0])) {
        hint = jx_val_type(args[0]);
        hint.dtype = n->type.dtype;
    }
    *y = tx_emit(t, n, n->op, n->nin, args, &n->at, &hint);
    *ybd = to;
    return jx_val_bad(*y) ? -1 : 0;
}
