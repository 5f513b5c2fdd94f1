/* Transformation rules of while (control_while.c), after JAX's lax/control_flow/loops.py:
 *
 *  jvp (_while_loop_jvp): a while carrying the tangents of the carry values that have one
 *    next to the carry, (c..., dc...), cond ignoring the tangents and body the body's jvp.
 *    Which carry values have a tangent is scan's fixpoint (ctl_scan_fixpoint): one whose
 *    initial value has a tangent, or that the body makes depend on one that has (a zero
 *    initial tangent is materialized then); integer carry values never have one.
 *  vjp: an error, as in JAX: reverse mode needs the trip count, which a while loop only
 *    knows at run time (use scan, or fori_loop with constant bounds, which is a scan).
 *  batch (_while_loop_batching_rule): which carry values are batched is a fixpoint over
 *    the body (as scan's), and the predicate is batched when cond makes it depend on a
 *    batched carry value. An unbatched predicate gives a while of the vmapped cond and
 *    body. A batched one batches the whole carry and runs while ANY example's predicate
 *    holds (reduce_max of the predicates); the body computes every example's next carry
 *    and keeps it only where that example's predicate holds (select), so an example whose
 *    loop has ended keeps its value. */
#include <stdio.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/control.h"
#include "prims/control_while.h"
#include "transform/transform.h"

/* Records "what: while <part>: <jx_error()>" on t at n's line. Returns -1. */
static int cwt_fail(jx_trace *t, const jx_node *n, const char *what, const char *part) {
    char e[800];
    snprintf(e, sizeof e, "%s", jx_error());
    trace_fail(t, n->loc, what, "while %s: %s", part, e);
    return -1;
}

/* fn taking n_extra more inputs of types extra[] after its own, which it ignores. NULL
 * with jx_error(). */
static jx_fn *cwt_pad(const jx_fn *fn, int n_extra, const jx_type *extra) {
    jx_type in[2 * JX_MAX_OPERANDS];
    jx_val args[2 * JX_MAX_OPERANDS], outs[JX_MAX_RESULTS];
    for (int k = 0; k < fn->n_in; k++) in[k] = fn->nodes[k].type;
    for (int k = 0; k < n_extra; k++) in[fn->n_in + k] = extra[k];
    jx_trace *t = jx_trace_begin(fn->n_in + n_extra, in);
    if (!t) return NULL;
    for (int k = 0; k < fn->n_in; k++) args[k] = jx_trace_input(t, k);
    if (jx_call_at((jx_loc){"while", 0}, fn, args, outs) < 0)
        for (int j = 0; j < fn->n_out; j++) outs[j] = (jx_val){t, -1};
    return jx_trace_end(t, fn->n_out, outs);
}

/* See control_while.h and the top of this file. */
int cw_jvp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx, jx_val *ys,
                 jx_val *dys) {
    const jx_fn *cond = n->at.fns[0], *body = n->at.fns[1];
    int nc = n->nin, nops = nc, keep[2 * JX_MAX_RESULTS], nk = 0;
    unsigned char wrt[JX_MAX_OPERANDS];
    jx_val ops[2 * JX_MAX_OPERANDS], res[2 * JX_MAX_RESULTS];
    jx_type dt[JX_MAX_OPERANDS];
    for (int k = 0; k < nc; k++)
        wrt[k] = !tx_is_zero(dx[k]) && tx_is_float(jx_val_type(x[k]).dtype);
    if (ctl_scan_fixpoint(body, nc, 1, wrt) < 0) return cwt_fail(t, n, "jvp", "body");
    for (int k = 0; k < nc; k++) ops[k] = x[k], keep[nk++] = k;
    for (int k = 0; k < nc; k++) {
        if (!wrt[k]) continue;
        int m = nops++ - nc;
        dt[m] = *trace_type(t, x[k].id);
        ops[nc + m] = tx_is_zero(dx[k]) ? tx_zeros(n->loc, t, &dt[m]) : dx[k];
        keep[nk++] = nc + k;
    }
    if (nops > JX_MAX_OPERANDS) {
        trace_fail(t, n->loc, "jvp", "while: its jvp carries %d values (at most %d)", nops,
                   JX_MAX_OPERANDS);
        return -1;
    }
    /* jx_jvp(body, wrt): (c..., dc with a tangent...) -> (c'..., dc' of every output...) */
    jx_fn *jv = jx_jvp(body, wrt);
    jx_fn *g = jv ? tx_rewire(jv, NULL, nk, keep) : NULL;
    jx_fn *gc = g ? cwt_pad(cond, nops - nc, dt) : NULL;
    int rc = gc ? cw_emit(n->loc, t, gc, g, nops, ops, res) : cwt_fail(t, n, "jvp", "body");
    jx_fn_free(jv), jx_fn_free(g), jx_fn_free(gc);
    if (rc < 0) return -1;
    for (int k = 0, m = nc; k < nc; k++) {
        ys[k] = res[k];
        if (wrt[k]) dys[k] = res[m++];
    }
    return 0;
}

/* See control_while.h and the top of this file: an error when an operand needs a
 * cotangent (the node's line; the caller's message). */
int cw_vjp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *ys,
                 const jx_val *cts, jx_val *ct_in) {
    (void)ys, (void)cts;
    for (int k = 0; k < n->nin; k++)
        if (!tx_is_skip(ct_in[k]) && tx_is_float(jx_val_type(x[k]).dtype)) {
            trace_fail(t, n->loc, "while_loop", "reverse-mode differentiation (grad/vjp) is not "
                       "supported: the trip count is not known until the loop runs, so the "
                       "backward pass cannot be formed; use scan, or fori_loop with constant "
                       "bounds (a scan)");
            return -1;
        }
    return 0;
}

/* The batched carry values bat[0..nc) and whether the predicate is batched (*pred_bat),
 * from the operands' batch axes bd: the body's carry fixpoint, then everything when the
 * predicate depends on a batched value. 0, or -1 on out-of-memory. */
static int cwt_batch_axes(const jx_node *n, const int *bd, unsigned char *bat, int *pred_bat) {
    unsigned char p = 0;
    for (int k = 0; k < n->nin; k++) bat[k] = bd[k] != TX_NOBATCH;
    if (ctl_scan_fixpoint(n->at.fns[1], n->nin, 0, bat) < 0 ||
        ctl_out_deps(n->at.fns[0], bat, 0, &p) < 0)
        return -1;
    for (int k = 0; p && k < n->nin; k++) bat[k] = 1;
    *pred_bat = p;
    return 0;
}

/* For a batched predicate, from the vmapped cond vc (carry...) -> bool[B] and body vb:
 * with vb NULL, cond' = any example's predicate holds (reduce_max over the batch axis);
 * else body' = each example's next carry where its predicate holds, its carry unchanged
 * where not (select). NULL with jx_error(). */
static jx_fn *cwt_masked(jx_loc loc, const jx_fn *vc, const jx_fn *vb) {
    jx_type in[JX_MAX_OPERANDS];
    jx_val args[JX_MAX_OPERANDS], nxt[JX_MAX_RESULTS], outs[JX_MAX_RESULTS], p;
    for (int k = 0; k < vc->n_in; k++) in[k] = vc->nodes[k].type;
    jx_trace *t = jx_trace_begin(vc->n_in, in);
    if (!t) return NULL;
    for (int k = 0; k < vc->n_in; k++) args[k] = jx_trace_input(t, k);
    if (jx_call_at(loc, vc, args, &p) < 0) p = (jx_val){t, -1};
    if (!vb) {
        outs[0] = jx_reduce_max_at(loc, p, (jx_ints){1, {0}});
        return tx_finish(t, 1, outs);
    }
    if (jx_call_at(loc, vb, args, nxt) < 0)
        for (int k = 0; k < vb->n_out; k++) nxt[k] = (jx_val){t, -1};
    for (int k = 0; k < vb->n_out; k++) {
        jx_ints shape = {in[k].rank, {0}}, dims = {1, {0}};
        for (int d = 0; d < in[k].rank; d++) shape.v[d] = in[k].shape[d];
        jx_val pk = jx_broadcast_in_dim_at(loc, p, shape, dims);
        outs[k] = jx_select_at(loc, pk, nxt[k], args[k]);
    }
    return tx_finish(t, vb->n_out, outs);
}

/* See control_while.h and the top of this file. */
int cw_batch_multi(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                   int64_t bsize, jx_val *ys, int *ybds) {
    int nc = n->nin, pred_bat, ax[JX_MAX_OPERANDS], cax, rc = -1;
    unsigned char bat[JX_MAX_OPERANDS];
    jx_val ops[JX_MAX_OPERANDS];
    if (cwt_batch_axes(n, bd, bat, &pred_bat) < 0) return cwt_fail(t, n, "vmap", "loop");
    for (int k = 0; k < nc; k++) {
        ax[k] = bat[k] ? 0 : JX_NONE;
        ops[k] = bat[k] ? tx_batch_front(n->loc, x[k], bd[k], bsize) : x[k];
        ybds[k] = bat[k] ? 0 : TX_NOBATCH;
    }
    cax = pred_bat ? 0 : JX_NONE;
    jx_fn *vc = jx_vmap(n->at.fns[0], ax, &cax, bsize), *vb = NULL, *gc = NULL, *gb = NULL;
    if (!vc) return cwt_fail(t, n, "vmap", "cond");
    if (!(vb = jx_vmap(n->at.fns[1], ax, ax, bsize))) {
        cwt_fail(t, n, "vmap", "body");
    } else if (!pred_bat) {
        rc = cw_emit(n->loc, t, vc, vb, nc, ops, ys);
    } else {
        gc = cwt_masked(n->loc, vc, NULL);
        gb = gc ? cwt_masked(n->loc, vc, vb) : NULL;
        rc = gb ? cw_emit(n->loc, t, gc, gb, nc, ops, ys) : cwt_fail(t, n, "vmap", "body");
    }
    jx_fn_free(vc), jx_fn_free(vb), jx_fn_free(gc), jx_fn_free(gb);
    return rc;
}
