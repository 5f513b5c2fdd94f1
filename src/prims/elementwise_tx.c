/* Transformation rules shared by the elementwise groups (contracts in
 * src/transform/transform.h): vjp, jvp and batching. The Jacobian of an elementwise op is
 * diagonal, so each op's row gives one function, `partial`, g * dy/dx_k for any g of y's
 * type; the vjp applies it to the cotangent, the jvp to each tangent and sums. A row may
 * replace the vjp or jvp (convert, whose two differ in dtype; sub). */
#include "prims/elementwise.h"

/* g * dy/dx[k] for node n by its row's partial; TX_ZERO where there is none. */
static jx_val elt_partial(const elt_op *row, const jx_node *n, const jx_val *x, jx_val y,
                          int k, jx_val g) {
    return row->partial ? row->partial(n->loc, x, y, k, g) : TX_ZERO;
}

/* See transform.h: ct_in[k] = ct * dy/dx[k] for each float operand. */
int elt_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
            jx_val *ct_in) {
    const elt_op *row = elt_row(n->op);
    if (row->vjp) return row->vjp(t, n, x, y, ct, ct_in);
    for (int k = 0; k < n->nin; k++)
        if (tx_is_float(jx_val_type(x[k]).dtype)) ct_in[k] = elt_partial(row, n, x, y, k, ct);
    return jx_trace_error(t) ? -1 : 0;
}

/* See transform.h: dy = sum over operands with a tangent of dx[k] * dy/dx[k]. */
int elt_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
            jx_val *dy) {
    const elt_op *row = elt_row(n->op);
    if (row->jvp) return row->jvp(t, n, x, y, dx, dy);
    *dy = TX_ZERO;
    for (int k = 0; k < n->nin; k++)
        if (!tx_is_zero(dx[k])) *dy = tx_add(n->loc, *dy, elt_partial(row, n, x, y, k, dx[k]));
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
