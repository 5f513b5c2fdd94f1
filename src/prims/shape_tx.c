/* Transformation rules of the shape family (see src/transform/transform.h for the contracts):
 * broadcast_in_dim, reshape, transpose, slice, pad, concatenate, rev. Every op is linear,
 * so vjps are the linear transposes (broadcast -> sum, slice -> pad with zeros, pad ->
 * slice, concatenate -> slices, ...), jvps apply the op to the tangent, and batch rules
 * add one dim to the attributes, keeping the batch axis in place where that is free. */
#include <stdlib.h>

#include "transform/transform.h"

TX_RULES_DECL(shp);

/* The dims of ty as a list. */
static jx_ints shpx_dims(const jx_type *ty) {
    jx_ints s = {ty->rank, {0}};
    for (int i = 0; i < ty->rank; i++) s.v[i] = ty->shape[i];
    return s;
}

/* A list of n copies of v. */
static jx_ints shpx_fill(int n, int64_t v) {
    jx_ints s = {n, {0}};
    for (int i = 0; i < n; i++) s.v[i] = v;
    return s;
}

/* l with v inserted at position pos (l.n < JX_MAX_RANK). */
static jx_ints shpx_insert(jx_ints l, int pos, int64_t v) {
    jx_ints r = {l.n + 1, {0}};
    for (int i = 0, k = 0; i < r.n; i++) r.v[i] = i == pos ? v : l.v[k++];
    return r;
}

/* The axis of a batched array that holds per-example axis a, batch axis at b. */
static int64_t shpx_up(int64_t a, int b) { return a >= b ? a + 1 : a; }

/* 0 if v is a good value, else -1 (its error is already on the trace). */
static int shpx_rc(jx_val v) { return jx_val_bad(v) ? -1 : 0; }

/* 1 if a batched rank fits in JX_MAX_RANK; otherwise records an error naming n's op. */
static int shpx_rank_ok(jx_trace *t, const jx_node *n, int rank) {
    if (rank <= JX_MAX_RANK) return 1;
    trace_fail(t, n->loc, prim_info(n->op)->name, "vmap: batched rank %d exceeds the limit %d",
               rank, JX_MAX_RANK);
    return 0;
}

/* x with a batch axis of size bsize at position `to`: moved there from bd, or broadcast in
 * (one broadcast_in_dim, no transpose) when x is unbatched. */
static jx_val shpx_batch_at(jx_loc loc, jx_val x, int bd, int64_t bsize, int to) {
    if (bd != TX_NOBATCH || jx_val_bad(x)) return tx_moveaxis(loc, x, bd, to);
    jx_type ty = jx_val_type(x);
    jx_ints dims = {ty.rank, {0}};
    for (int i = 0; i < ty.rank; i++) dims.v[i] = shpx_up(i, to);
    return jx_broadcast_in_dim_at(loc, x, shpx_insert(shpx_dims(&ty), to, bsize), dims);
}

/* ---- vjp ----------------------------------------------------------------------------- */

/* Transpose of slice: the cotangent padded with zeros back to the operand's shape (low =
 * start, interior = stride - 1, high = what is left after the last selected element). */
static jx_val shpx_slice_vjp(jx_trace *t, const jx_node *n, const jx_type *xt, jx_val ct) {
    jx_ints start = ir_attr_ints(n, 0), strides = ir_attr_ints(n, 2);
    jx_ints lo = shpx_fill(xt->rank, 0), hi = lo, in = lo;
    for (int i = 0; i < xt->rank; i++) {
        int64_t out = n->type.shape[i];
        int64_t end = out ? start.v[i] + (out - 1) * strides.v[i] + 1 : start.v[i];
        lo.v[i] = start.v[i];
        hi.v[i] = xt->shape[i] - end;
        in.v[i] = strides.v[i] - 1;
    }
    jx_val zero = jx_scalar_at(n->loc, t, xt->dtype, 0.0);
    return jx_pad_at(n->loc, ct, zero, lo, hi, in);
}

/* Transpose of pad (as in JAX): undo low/high (negative ones become zero fill), then take
 * every (interior+1)-th element; the padding value gets the sum of everything else
 * (summed over the padded places, not as a difference of totals as JAX does). */
static int shpx_pad_vjp(jx_trace *t, const jx_node *n, const jx_type *xt, jx_val ct,
                        jx_val *ct_in) {
    jx_loc loc = n->loc;
    jx_ints lo = ir_attr_ints(n, 0), hi = ir_attr_ints(n, 1), in = ir_attr_ints(n, 2);
    jx_ints nlo = shpx_fill(xt->rank, 0), nhi = nlo, step = shpx_fill(xt->rank, 1);
    int edges = 0, gaps = 0;
    for (int i = 0; i < xt->rank; i++) {
        nlo.v[i] = -lo.v[i];
        nhi.v[i] = -hi.v[i];
        step.v[i] = in.v[i] + 1;
        edges |= lo.v[i] != 0 || hi.v[i] != 0;
        gaps |= in.v[i] != 0;
    }
    jx_val u = ct;
    if (edges)
        u = jx_pad_at(loc, u, jx_scalar_at(loc, t, xt->dtype, 0.0), nlo, nhi,
                      shpx_fill(xt->rank, 0));
    if (gaps && !jx_val_bad(u)) {
        jx_type ut = jx_val_type(u);
        u = jx_slice_at(loc, u, shpx_fill(xt->rank, 0), shpx_dims(&ut), step);
    }
    ct_in[0] = u;
    jx_ints all = {xt->rank, {0}};
    for (int i = 0; i < xt->rank; i++) all.v[i] = i;
    if (jx_val_bad(u)) return -1;
    /* the padding value's cotangent: the sum of ct over the padded places, picked by a
     * mask (pad of an all-false operand with true); sum(ct) - sum(u) would cancel to 0
     * when the operand's cotangents are far larger */
    jx_type bt = {JX_BOOL, xt->rank, {0}};
    for (int i = 0; i < xt->rank; i++) bt.shape[i] = xt->shape[i];
    jx_val mask = jx_pad_at(loc, jx_full_at(loc, t, bt, 0), jx_scalar_at(loc, t, JX_BOOL, 1),
                            lo, hi, in);
    ct_in[1] = jx_reduce_sum_at(loc, jx_select_at(loc, mask, ct, jx_zeros_like_at(loc, ct)),
                                all);
    return shpx_rc(ct_in[1]);
}

/* Transpose of concatenate: operand k's cotangent is its slab of ct along the axis. */
static int shpx_concat_vjp(const jx_node *n, const jx_val *x, jx_val ct, jx_val *ct_in) {
    if (n->nin == 1) {
        ct_in[0] = ct;
        return 0;
    }
    int d = (int)n->at.v[0][0];
    jx_ints start = shpx_fill(n->type.rank, 0), limit = shpx_dims(&n->type);
    for (int k = 0; k < n->nin; k++) {
        jx_type xt = jx_val_type(x[k]);
        limit.v[d] = start.v[d] + xt.shape[d];
        ct_in[k] = jx_slice_at(n->loc, ct, start, limit, JX_NOINTS);
        if (jx_val_bad(ct_in[k])) return -1;
        start.v[d] = limit.v[d];
    }
    return 0;
}

/* Reverse mode for the family: each op's linear transpose applied to ct. */
int shp_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
            jx_val *ct_in) {
    jx_loc loc = n->loc;
    jx_type xt = jx_val_type(x[0]);
    jx_ints a0 = ir_attr_ints(n, 0);
    switch (n->op) {
    case JX_OP_BROADCAST_IN_DIM:
        ct_in[0] = tx_unbroadcast(loc, ct, &xt, ir_attr_ints(n, 1));
        break;
    case JX_OP_RESHAPE: ct_in[0] = jx_reshape_at(loc, ct, shpx_dims(&xt)); break;
    case JX_OP_TRANSPOSE: {
        jx_ints inv = {a0.n, {0}};
        for (int i = 0; i < a0.n; i++) inv.v[a0.v[i]] = i;
        ct_in[0] = jx_transpose_at(loc, ct, inv);
        break;
    }
    case JX_OP_SLICE: ct_in[0] = shpx_slice_vjp(t, n, &xt, ct); break;
    case JX_OP_PAD: return shpx_pad_vjp(t, n, &xt, ct, ct_in);
    case JX_OP_CONCATENATE: return shpx_concat_vjp(n, x, ct, ct_in);
    case JX_OP_REV: ct_in[0] = jx_rev_at(loc, ct, a0); break;
    default:
        trace_fail(t, loc, prim_info(n->op)->name, "not a shape primitive");
        return -1;
    }
    return shpx_rc(ct_in[0]);
}

/* ---- jvp ----------------------------------------------------------------------------- */

/* Forward mode for the family: the op applied to the tangents (linear in all operands
 * together), with zero tangents materialized where the op needs every operand. */
int shp_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
            jx_val *dy) {
    if (n->nin == 1) {
        *dy = tx_replay(t, n, dx);
        return shpx_rc(*dy);
    }
    jx_val *d = malloc((size_t)n->nin * sizeof *d);
    if (!d) {
        trace_fail(t, n->loc, prim_info(n->op)->name, "out of memory");
        return -1;
    }
    for (int k = 0; k < n->nin; k++) {
        jx_type ty = jx_val_type(x[k]);
        d[k] = tx_is_zero(dx[k]) ? tx_zeros(n->loc, t, &ty) : dx[k];
    }
    *dy = tx_replay(t, n, d);
    free(d);
    return shpx_rc(*dy);
}

/* ---- batch --------------------------------------------------------------------------- */

/* broadcast_in_dim with the operand batched at b: the batch axis becomes a new output
 * axis right after the output axis of operand dim b-1, so the dims stay increasing and
 * no transpose is needed. */
static jx_val shpx_broadcast_batch(const jx_node *n, jx_val x, int b, int64_t bsize,
                                   int *ybd) {
    jx_ints shape = ir_attr_ints(n, 0), dims = ir_attr_ints(n, 1);
    int p = b == 0 ? 0 : (int)dims.v[b - 1] + 1;
    jx_ints nd = {dims.n + 1, {0}};
    for (int i = 0; i < nd.n; i++)
        nd.v[i] = i < b ? dims.v[i] : i == b ? p : dims.v[i - 1] + 1;
    *ybd = p;
    return jx_broadcast_in_dim_at(n->loc, x, shpx_insert(shape, p, bsize), nd);
}

/* pad with a batched padding value: pad the (front-batched) operand with zeros, then
 * select the per-example padding value wherever a padded mask of ones is false. */
static jx_val shpx_pad_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                             int64_t bsize) {
    jx_loc loc = n->loc;
    jx_ints lo = ir_attr_ints(n, 0), hi = ir_attr_ints(n, 1), in = ir_attr_ints(n, 2);
    jx_type xt = jx_val_type(x[0]); /* per-example operand type */
    if (bd[0] != TX_NOBATCH) {
        for (int i = bd[0]; i + 1 < xt.rank; i++) xt.shape[i] = xt.shape[i + 1];
        xt.rank--;
    }
    jx_val xb = shpx_batch_at(loc, x[0], bd[0], bsize, 0);
    jx_val y0 = jx_pad_at(loc, xb, jx_scalar_at(loc, t, xt.dtype, 0.0), shpx_insert(lo, 0, 0),
                          shpx_insert(hi, 0, 0), shpx_insert(in, 0, 0));
    jx_type bt = {JX_BOOL, xt.rank, {0}};
    for (int i = 0; i < xt.rank; i++) bt.shape[i] = xt.shape[i];
    jx_val mask = jx_pad_at(loc, jx_full_at(loc, t, bt, 1.0), jx_scalar_at(loc, t, JX_BOOL, 0.0),
                            lo, hi, in);
    jx_val pv = jx_broadcast_in_dim_at(loc, x[1], shpx_insert(shpx_dims(&n->type), 0, bsize),
                                       (jx_ints){1, {0}});
    return jx_select_at(loc, mask, y0, pv);
}

/* concatenate: every operand gets its batch axis where the first batched one has it
 * (unbatched ones are broadcast there), then one concatenate along the shifted axis. */
static jx_val shpx_concat_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                                int64_t bsize, int *ybd) {
    int b = 0, d = (int)n->at.v[0][0];
    for (int k = n->nin - 1; k >= 0; k--)
        if (bd[k] != TX_NOBATCH) b = bd[k];
    jx_val *xs = malloc((size_t)n->nin * sizeof *xs);
    if (!xs) return trace_fail(t, n->loc, "concatenate", "out of memory");
    for (int k = 0; k < n->nin; k++) xs[k] = shpx_batch_at(n->loc, x[k], bd[k], bsize, b);
    jx_val r = jx_concatenate_at(n->loc, n->nin, xs, (int)shpx_up(d, b));
    free(xs);
    *ybd = b;
    return r;
}

/* vmap for the family: the op on a batched operand with attributes widened by the batch
 * axis. slice, rev and pad (unbatched padding value) keep the batch axis in place;
 * transpose folds it into its permutation; reshape moves it to the front. */
int shp_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd, int64_t bsize,
              jx_val *y, int *ybd) {
    jx_loc loc = n->loc;
    int b = bd[0];
    if (!shpx_rank_ok(t, n, n->type.rank + 1)) return -1;
    jx_ints a0 = ir_attr_ints(n, 0), a1 = ir_attr_ints(n, 1), a2 = ir_attr_ints(n, 2);
    switch (n->op) {
    case JX_OP_BROADCAST_IN_DIM: *y = shpx_broadcast_batch(n, x[0], b, bsize, ybd); break;
    case JX_OP_RESHAPE:
        *y = jx_reshape_at(loc, tx_moveaxis(loc, x[0], b, 0), shpx_insert(a0, 0, bsize));
        *ybd = 0;
        break;
    case JX_OP_TRANSPOSE: {
        jx_ints perm = {a0.n + 1, {b}};
        for (int i = 0; i < a0.n; i++) perm.v[i + 1] = shpx_up(a0.v[i], b);
        *y = jx_transpose_at(loc, x[0], perm);
        *ybd = 0;
        break;
    }
    case JX_OP_SLICE:
        *y = jx_slice_at(loc, x[0], shpx_insert(a0, b, 0), shpx_insert(a1, b, bsize),
                         shpx_insert(a2, b, 1));
        *ybd = b;
        break;
    case JX_OP_PAD:
        if (bd[1] == TX_NOBATCH) {
            *y = jx_pad_at(loc, x[0], x[1], shpx_insert(a0, b, 0), shpx_insert(a1, b, 0),
                           shpx_insert(a2, b, 0));
            *ybd = b;
        } else {
            *y = shpx_pad_batch(t, n, x, bd, bsize);
            *ybd = 0;
        }
        break;
    case JX_OP_CONCATENATE: *y = shpx_concat_batch(t, n, x, bd, bsize, ybd); break;
    case JX_OP_REV: {
        jx_ints dims = a0;
        for (int i = 0; i < dims.n; i++) dims.v[i] = shpx_up(dims.v[i], b);
        *y = jx_rev_at(loc, x[0], dims);
        *ybd = b;
        break;
    }
    default:
        trace_fail(t, loc, prim_info(n->op)->name, "not a shape primitive");
        return -1;
    }
    return shpx_rc(*y);
}
