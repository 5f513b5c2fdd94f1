/* Transformation rules of the dynamic slicing family (contracts in
 * src/transform/transform.h). Both ops are linear in their array operands; the i32 starts
 * get no derivative.
 *   vjp:   dynamic_slice -> dynamic_update_slice of the cotangent into zeros (under a batch
 *          of windows read from a shared x: each window into its own zero slab, summed
 *          over the batch, O(|S| |x|) work: overlapping windows add up);
 *          dynamic_update_slice -> x's cotangent is ct with zeros written over the window,
 *          the update's is the window of ct.
 *   jvp:   the same op on the tangents (zeros where an operand has none).
 *   batch: unbatched scalar starts: the batch axis becomes one more window dimension
 *          (start 0, full size), the plain op. Batched starts: every start gets its batch
 *          axis first (unbatched ones broadcast, B ints each) and the op becomes a batch of
 *          windows (see dynslice.c), O(output) like the plain op; x goes per window only
 *          where it has to (a batched or per-window x; a shared x under nested batched
 *          starts is broadcast over them). */
#include "prims/dynslice.h"

/* 0 if v is a good value, else -1 (its error is already on the trace). */
static int dynx_rc(jx_val v) { return jx_val_bad(v) ? -1 : 0; }

/* The shape of a type as a list (first `from` dims skipped). */
static jx_ints dynx_dims(const jx_type *t, int from) {
    jx_ints s = {0, {0}};
    for (int i = from; i < t->rank; i++) s.v[s.n++] = t->shape[i];
    return s;
}

/* ---- vjp ----------------------------------------------------------------------------- */

/* Reverse mode: each op's linear transpose applied to ct (starts: no cotangent). */
int dyn_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
            jx_val *ct_in) {
    (void)y;
    jx_loc loc = n->loc;
    jx_type xt = jx_val_type(x[0]);
    if (n->op == JX_OP_DYNAMIC_UPDATE_SLICE) {
        int r = n->nin - 2;
        jx_type ut = jx_val_type(x[1]);
        ct_in[0] = dyn_update_emit(loc, t, ct, tx_zeros(loc, t, &ut), r, x + 2);
        ct_in[1] = dyn_slice_emit(loc, t, ct, r, x + 2, dynx_dims(&ut, ut.rank - r));
        return dynx_rc(ct_in[0]) < 0 ? -1 : dynx_rc(ct_in[1]);
    }
    int r = n->nin - 1, m = r ? jx_val_type(x[1]).rank : 0;
    if (m == 0 || xt.rank == m + r) { /* one window, or one per slab of x */
        ct_in[0] = dyn_update_emit(loc, t, tx_zeros(loc, t, &xt), ct, r, x + 1);
        return dynx_rc(ct_in[0]);
    }
    /* windows of a shared x: each into its own zero slab (S ++ d), summed over S */
    jx_type st = jx_val_type(x[1]), zt = xt;
    zt.rank = m + r;
    for (int i = 0; i < m; i++) zt.shape[i] = st.shape[i];
    for (int k = 0; k < r; k++) zt.shape[m + k] = xt.shape[k];
    jx_val g = dyn_update_emit(loc, t, tx_zeros(loc, t, &zt), ct, r, x + 1);
    jx_ints axes = {m, {0}};
    for (int i = 0; i < m; i++) axes.v[i] = i;
    ct_in[0] = jx_val_bad(g) ? g : jx_reduce_sum_at(loc, g, axes);
    return dynx_rc(ct_in[0]);
}

/* ---- jvp ----------------------------------------------------------------------------- */

/* Forward mode: the op on the tangents (a materialized zero for an operand without one
 * when the other has a tangent); the starts are the primal ones. */
int dyn_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
            jx_val *dy) {
    (void)y;
    int na = n->op == JX_OP_DYNAMIC_UPDATE_SLICE ? 2 : 1, any = 0;
    jx_val ops[2 + JX_MAX_RANK];
    for (int k = 0; k < na; k++) any |= !tx_is_zero(dx[k]);
    if (!any) {
        *dy = TX_ZERO;
        return 0;
    }
    for (int k = 0; k < n->nin; k++) {
        jx_type ty = jx_val_type(x[k]);
        ops[k] = k >= na ? x[k] : tx_is_zero(dx[k]) ? tx_zeros(n->loc, t, &ty) : dx[k];
    }
    *dy = tx_replay(t, n, ops);
    return dynx_rc(*dy);
}

/* ---- batch --------------------------------------------------------------------------- */

/* x with a batch axis of size bsize at `to`: moved there from bd, or broadcast in. */
static jx_val dynx_batch_at(jx_loc loc, jx_val x, int bd, int64_t bsize, int to) {
    if (bd != TX_NOBATCH || jx_val_bad(x)) return tx_moveaxis(loc, x, bd, to);
    jx_type ty = jx_val_type(x);
    jx_ints shape = {ty.rank + 1, {0}}, dims = {ty.rank, {0}};
    for (int i = 0, k = 0; i < shape.n; i++) shape.v[i] = i == to ? bsize : ty.shape[k++];
    for (int i = 0; i < ty.rank; i++) dims.v[i] = i < to ? i : i + 1;
    return jx_broadcast_in_dim_at(loc, x, shape, dims);
}

/* The per-example rank of the starts (0 without starts), and whether any is batched. */
static int dynx_starts(const jx_node *n, const jx_val *x, const int *bd, int first, int *any) {
    *any = 0;
    for (int k = first; k < n->nin; k++) *any |= bd[k] != TX_NOBATCH;
    if (first >= n->nin) return 0;
    return jx_val_type(x[first]).rank - (bd[first] != TX_NOBATCH);
}

/* dynamic_slice batched. Unbatched scalar starts: x's batch axis b becomes a window dim
 * (start 0, size bsize). Otherwise the starts go batch-first and window p reads a shared
 * x, or slab p of x made per window ([B] ++ S ++ d). */
static jx_val dynx_slice_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                               int64_t bsize, int *ybd) {
    jx_loc loc = n->loc;
    int r = n->nin - 1, any, m = dynx_starts(n, x, bd, 1, &any);
    jx_ints sz = ir_attr_ints(n, 0), nsz = {0, {0}};
    jx_val s[JX_MAX_RANK + 1];
    if (!any && m == 0) {
        int b = bd[0];
        for (int k = 0, j = 0; k <= r; k++) {
            s[k] = k == b ? jx_scalar_at(loc, t, JX_I32, 0) : x[1 + j];
            nsz.v[nsz.n++] = k == b ? bsize : sz.v[j++];
        }
        *ybd = b;
        return dyn_slice_emit(loc, t, x[0], r + 1, s, nsz);
    }
    for (int k = 0; k < r; k++) s[k] = tx_batch_front(loc, x[1 + k], bd[1 + k], bsize);
    jx_val xv = x[0];
    jx_type xt = jx_val_type(x[0]);
    int xr = xt.rank - (bd[0] != TX_NOBATCH); /* per-example rank: r shared, m + r per window */
    if (bd[0] != TX_NOBATCH || xr != r) {
        xv = tx_batch_front(loc, x[0], bd[0], bsize);
        if (xr == r && m > 0 && !jx_val_bad(xv) && !jx_val_bad(s[0])) {
            jx_type st = jx_val_type(s[0]), vt = jx_val_type(xv);
            jx_ints shape = dynx_dims(&st, 0), dims = {r + 1, {0}};
            for (int k = 0; k < r; k++) shape.v[shape.n++] = vt.shape[1 + k];
            for (int k = 0; k <= r; k++) dims.v[k] = k == 0 ? 0 : m + k;
            xv = jx_broadcast_in_dim_at(loc, xv, shape, dims);
        }
    }
    *ybd = 0;
    return dyn_slice_emit(loc, t, xv, r, s, sz);
}

/* dynamic_update_slice batched. Unbatched scalar starts: x and the update share a batch
 * axis b, a window dim of full size (start 0). Otherwise all go batch-first: window p of
 * slab p. */
static jx_val dynx_update_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                                int64_t bsize, int *ybd) {
    jx_loc loc = n->loc;
    int r = n->nin - 2, any, m = dynx_starts(n, x, bd, 2, &any);
    jx_val s[JX_MAX_RANK + 1];
    if (!any && m == 0) {
        int b = bd[0] != TX_NOBATCH ? bd[0] : bd[1];
        jx_val xv = dynx_batch_at(loc, x[0], bd[0], bsize, b);
        jx_val uv = dynx_batch_at(loc, x[1], bd[1], bsize, b);
        for (int k = 0, j = 0; k <= r; k++)
            s[k] = k == b ? jx_scalar_at(loc, t, JX_I32, 0) : x[2 + j++];
        *ybd = b;
        return dyn_update_emit(loc, t, xv, uv, r + 1, s);
    }
    for (int k = 0; k < r; k++) s[k] = tx_batch_front(loc, x[2 + k], bd[2 + k], bsize);
    *ybd = 0;
    return dyn_update_emit(loc, t, tx_batch_front(loc, x[0], bd[0], bsize),
                           tx_batch_front(loc, x[1], bd[1], bsize), r, s);
}

/* vmap for the family (see the header comment for the forms and their cost). */
int dyn_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd, int64_t bsize,
              jx_val *y, int *ybd) {
    if (n->type.rank + 1 > JX_MAX_RANK) {
        trace_fail(t, n->loc, prim_info(n->op)->name, "vmap: batched rank %d exceeds the limit %d",
                   n->type.rank + 1, JX_MAX_RANK);
        return -1;
    }
    *y = n->op == JX_OP_DYNAMIC_SLICE ? dynx_slice_batch(t, n, x, bd, bsize, ybd)
                                      : dynx_update_batch(t, n, x, bd, bsize, ybd);
    return dynx_rc(*y);
}
