/* scan's batching rule (JAX's lax/control_flow/loops.py, _scan_batching_rule): a scan of
 * the vmapped body,
 *
 *   c ys = scan[n_carry=(C)] { vmap(body) } c0 xs
 *
 * Which carry values are batched is a fixpoint, as in JAX: one whose initial value is
 * batched, or that the body makes depend on a batched input (an unbatched initial value
 * is then broadcast along a new batch axis). Batched carry values carry the batch axis
 * first; a batched xs has it moved to axis 1 (axis 0 is the scanned one), so every slice
 * the body sees has it first. The body is vmapped with those inputs batched at 0, and its
 * outputs batched at 0 when they depend on a batched input (carry values when batched):
 * the final carry comes out batched at axis 0, the ys at axis 1; the rest stay unbatched.
 * The length and the reverse flag are kept. */
#include <stdio.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/control.h"
#include "transform/transform.h"

/* Records "vmap: scan body: <jx_error()>" on t at n's line. Returns -1. */
static int csb_fail(jx_trace *t, const jx_node *n) {
    char e[800];
    snprintf(e, sizeof e, "%s", jx_error());
    trace_fail(t, n->loc, "vmap", "scan body: %s", e);
    return -1;
}

/* The batched body's axes: in_ax[k] (0 or JX_NONE) per body input after the carry
 * fixpoint, out_ax[j] per body output (carries as their inputs, ys 0 when they depend on
 * a batched input). 0, or -1 on out-of-memory. */
static int csb_axes(const jx_fn *body, int nc, const int *bd, int *in_ax, int *out_ax) {
    unsigned char mask[JX_MAX_OPERANDS], dep[JX_MAX_RESULTS];
    for (int k = 0; k < body->n_in; k++) mask[k] = bd[k] != TX_NOBATCH;
    if (ctl_scan_fixpoint(body, nc, 0, mask) < 0 || ctl_out_deps(body, mask, 0, dep) < 0)
        return -1;
    for (int k = 0; k < body->n_in; k++) in_ax[k] = mask[k] ? 0 : JX_NONE;
    for (int j = 0; j < body->n_out; j++)
        out_ax[j] = (j < nc ? mask[j] : dep[j]) ? 0 : JX_NONE;
    return 0;
}

/* See control.h and the top of this file. */
int ctl_scan_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                   int64_t bsize, jx_val *ys, int *ybds) {
    const jx_fn *body = n->at.fns[0];
    int nc = (int)n->at.v[1][0], nin = n->nin, no = body->n_out;
    int in_ax[JX_MAX_OPERANDS], out_ax[JX_MAX_RESULTS];
    jx_val ops[JX_MAX_OPERANDS];
    if (csb_axes(body, nc, bd, in_ax, out_ax) < 0) return csb_fail(t, n);
    for (int k = 0; k < nin; k++) {
        if (k < nc) ops[k] = in_ax[k] == 0 ? tx_batch_front(n->loc, x[k], bd[k], bsize) : x[k];
        else ops[k] = bd[k] == TX_NOBATCH ? x[k] : tx_moveaxis(n->loc, x[k], bd[k], 1);
    }
    jx_fn *g = jx_vmap(body, in_ax, out_ax, bsize);
    if (!g) return csb_fail(t, n);
    int rc = ctl_scan_emit(t, n, g, nc, (int)n->at.v[2][0], nin, ops, no, ys);
    jx_fn_free(g);
    for (int j = 0; j < no; j++) ybds[j] = out_ax[j] == JX_NONE ? TX_NOBATCH : j < nc ? 0 : 1;
    return rc;
}
