/* Transformation rules of the control family (control.c), the multi-result rules of
 * transform.h. cond's follow JAX's lax/control_flow/conditionals.py:
 *
 *  jvp (_cond_jvp): a cond of the branches' jvps on (index, x..., dx...), whose results
 *    are the primal outputs then the float outputs' tangents. The index has no tangent;
 *    operands without one are left out (jx_jvp's wrt), and a branch whose output does not
 *    depend on them gives a zero tangent (jx_jvp materializes it), so every branch has
 *    the same outputs.
 *  vjp: a cond of the branches' vjps on (index, x..., the nonzero cotangents...), giving
 *    the float operands' cotangents. Unlike JAX, which saves the taken branch's residuals
 *    in the forward cond (zero-filled for the others), the backward branch recomputes its
 *    forward pass from the operands (remat-style, as checkpoint): nothing but the
 *    operands is kept, at the price of running the chosen branch's forward twice. Only
 *    the float operands that need a cotangent get one (not the index, nor integers).
 *  batch (_cond_batching_rule): an unbatched index gives a cond of the vmapped branches,
 *    an output batched at axis 0 in every branch when one branch batches it (so they
 *    agree), unbatched in all otherwise; a batched index
 *    runs every branch, vmapped, and picks each example's result by its clamped index
 *    with selects (JAX's select_n conversion).
 *
 * scan's rules are in control_scan_tx.c (jvp), control_scan_vjp.c and
 * control_scan_batch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/control.h"
#include "transform/transform.h"

/* Inputs and outputs a transformed branch may have: operands and tangents, or operands
 * and cotangents of every result. */
#define CTT_MAX_IO (2 * JX_MAX_OPERANDS + JX_MAX_RESULTS)

/* Records "what: cond branch b: <jx_error()>" on t at n's line. Returns -1. */
static int ctt_fail(jx_trace *t, const jx_node *n, const char *what, int b) {
    char e[800];
    snprintf(e, sizeof e, "%s", jx_error());
    trace_fail(t, n->loc, what, "cond branch %d: %s", b, e);
    return -1;
}

/* Emits cond[branch=g[0..nb)] on ops[0..nops) (the index first) with n's line; its
 * results into res[0..want). 0, or -1 (error recorded on t). */
static int ctt_emit(jx_trace *t, const jx_node *n, int nb, jx_fn *const *g, int nops,
                    const jx_val *ops, int want, jx_val *res) {
    jx_attrs at = ir_attrs(NULL, NULL, NULL, NULL);
    at.n_fns = nb;
    at.fns = (const jx_fn *const *)g;
    int k = trace_emit_multi(n->loc, t, JX_OP_COND, nops, ops, &at, want, res);
    if (k >= 0 && k != want) trace_fail(t, n->loc, "cond", "%d results, expected %d", k, want);
    return k == want ? 0 : -1;
}

/* Frees the transformed branches g[0..nb). */
static void ctt_free(int nb, jx_fn **g) {
    for (int b = 0; b < nb; b++) jx_fn_free(g[b]), g[b] = NULL;
}

/* Records "what: differentiation/batching rule for '<op>' not implemented yet". -1. */
static int ctt_missing(jx_trace *t, const jx_node *n, const char *what) {
    trace_fail(t, n->loc, what, "%s rule for '%s' not implemented yet",
               strcmp(what, "vmap") ? "differentiation" : "batching", prim_info(n->op)->name);
    return -1;
}

/* See transform.h (jvp_multi) and the top of this file. */
int ctl_jvp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx, jx_val *ys,
                  jx_val *dys) {
    if (n->op == JX_OP_SCAN) return ctl_scan_jvp(t, n, x, dx, ys, dys);
    const jx_fn *b0 = n->at.fns[0];
    int nb = n->at.n_fns, no = b0->n_out, nops = n->nin, nk = 0, rc = 0;
    unsigned char wrt[JX_MAX_OPERANDS];
    int keep[2 * JX_MAX_RESULTS];
    jx_val ops[2 * JX_MAX_OPERANDS], res[2 * JX_MAX_RESULTS];
    jx_fn *g[JX_MAX_FNS] = {0};
    for (int k = 0; k < n->nin; k++) ops[k] = x[k];
    for (int k = 0; k + 1 < n->nin; k++) {
        wrt[k] = !tx_is_zero(dx[k + 1]) && tx_is_float(jx_val_type(x[k + 1]).dtype);
        if (wrt[k]) ops[nops++] = dx[k + 1];
    }
    for (int j = 0; j < no; j++) keep[nk++] = j;
    for (int j = 0; j < no; j++)
        if (tx_is_float(jx_fn_out_type(b0, j).dtype)) keep[nk++] = no + j;
    if (nops > JX_MAX_OPERANDS || nk > JX_MAX_RESULTS) {
        trace_fail(t, n->loc, "jvp", "cond: its jvp needs %d operands and %d results (at most "
                   "%d and %d)", nops, nk, JX_MAX_OPERANDS, JX_MAX_RESULTS);
        return -1;
    }
    for (int b = 0; b < nb && rc == 0; b++) {
        jx_fn *jv = jx_jvp(n->at.fns[b], wrt); /* (x..., dx for wrt...) -> (y..., dy...) */
        g[b] = jv ? tx_rewire(jv, NULL, nk, keep) : NULL;
        jx_fn_free(jv);
        if (!g[b]) rc = ctt_fail(t, n, "jvp", b);
    }
    if (rc == 0) rc = ctt_emit(t, n, nb, g, nops, ops, nk, res);
    ctt_free(nb, g);
    if (rc < 0) return -1;
    for (int j = 0; j < no; j++) ys[j] = res[j];
    for (int i = no; i < nk; i++) dys[keep[i] - no] = res[i];
    return 0;
}

/* The vjp of one branch for vjp_multi: (x..., ct for outputs S[0..ns)...) -> the
 * cotangents of the operands wrt selects (n_sel of them). NULL with jx_error(). */
static jx_fn *ctt_branch_vjp(const jx_fn *br, int ns, const int *S, const unsigned char *wrt,
                             int n_sel) {
    jx_fn *p = ns == br->n_out ? ir_fn_retain(br) : tx_rewire(br, NULL, ns, S);
    jx_fn *v = p ? jx_vjp(p, wrt) : NULL; /* (x..., ct_S...) -> (y_S..., ct_x...) */
    int keep[JX_MAX_OPERANDS];
    for (int i = 0; i < n_sel; i++) keep[i] = ns + i;
    jx_fn *g = v ? tx_rewire(v, NULL, n_sel, keep) : NULL;
    jx_fn_free(p);
    jx_fn_free(v);
    return g;
}

/* See transform.h (vjp_multi) and the top of this file. */
int ctl_vjp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *ys,
                  const jx_val *cts, jx_val *ct_in) {
    (void)ys;
    if (n->op == JX_OP_SCAN) return ctl_scan_vjp(t, n, x, cts, ct_in);
    if (n->op != JX_OP_COND) return ctt_missing(t, n, "grad");
    const jx_fn *b0 = n->at.fns[0];
    int nb = n->at.n_fns, no = b0->n_out, n_sel = 0, ns = 0, rc = 0;
    unsigned char wrt[JX_MAX_OPERANDS];
    int sel[JX_MAX_OPERANDS], S[JX_MAX_RESULTS];
    jx_val ops[JX_MAX_OPERANDS + JX_MAX_RESULTS], res[JX_MAX_OPERANDS];
    jx_fn *g[JX_MAX_FNS] = {0};
    for (int k = 0; k + 1 < n->nin; k++)
        if ((wrt[k] = tx_is_float(jx_val_type(x[k + 1]).dtype) && !tx_is_skip(ct_in[k + 1])))
            sel[n_sel++] = k;
    for (int j = 0; j < no; j++)
        if (!tx_is_zero(cts[j]) && tx_is_float(jx_fn_out_type(b0, j).dtype)) S[ns++] = j;
    if (n_sel == 0 || ns == 0) return 0;
    if (n->nin + ns > JX_MAX_OPERANDS) {
        trace_fail(t, n->loc, "grad", "cond: its vjp needs %d operands (at most %d)",
                   n->nin + ns, JX_MAX_OPERANDS);
        return -1;
    }
    for (int k = 0; k < n->nin; k++) ops[k] = x[k];
    for (int j = 0; j < ns; j++) ops[n->nin + j] = cts[S[j]];
    for (int b = 0; b < nb && rc == 0; b++)
        if (!(g[b] = ctt_branch_vjp(n->at.fns[b], ns, S, wrt, n_sel)))
            rc = ctt_fail(t, n, "grad", b);
    if (rc == 0) rc = ctt_emit(t, n, nb, g, n->nin + ns, ops, n_sel, res);
    ctt_free(nb, g);
    if (rc < 0) return -1;
    for (int i = 0; i < n_sel; i++) ct_in[sel[i] + 1] = res[i];
    return 0;
}

/* g (a vmapped branch) inlined into t on the operands x[0..n): jx_call, which finds the
 * trace from the operands, has none when the branches take no operand. 0 or -1. */
static int ctt_call(jx_trace *t, jx_loc loc, const jx_fn *g, int n, const jx_val *x, jx_val *ys) {
    if (n > 0) return jx_call_at(loc, g, x, ys);
    int32_t *map = malloc(((size_t)g->n_nodes + 1) * sizeof *map);
    if (!map) return trace_fail(t, loc, "vmap", "cond: out of memory").id;
    int rc = trace_inline(t, loc, g, map);
    for (int j = 0; j < g->n_out && rc == 0; j++) ys[j] = trace_val(t, map[g->outs[j]]);
    free(map);
    return rc;
}

/* The batched-index cond as JAX lowers it (select_n): every vmapped branch g[b] run on
 * the operands x[1..], each example's results picked from its branch by the index x[0]
 * (batched at bd0) clamped to [0, nb). Results into ys, all batched at axis 0. */
static int ctt_select(jx_trace *t, const jx_node *n, int nb, jx_fn *const *g, const jx_val *x,
                      int bd0, jx_val *ys) {
    jx_loc loc = n->loc;
    int no = g[0]->n_out;
    jx_val idx = tx_moveaxis(loc, x[0], bd0, 0), yb[JX_MAX_RESULTS];
    idx = jx_max_at(loc, jx_min_at(loc, idx, jx_lit_at(loc, idx, nb - 1)), jx_lit_at(loc, idx, 0));
    if (ctt_call(t, loc, g[0], n->nin - 1, x + 1, ys) < 0) return -1;
    for (int b = 1; b < nb; b++) {
        if (ctt_call(t, loc, g[b], n->nin - 1, x + 1, yb) < 0) return -1;
        jx_val pick = jx_eq_at(loc, idx, jx_lit_at(loc, idx, b));
        for (int j = 0; j < no; j++) {
            jx_type ty = jx_val_type(yb[j]);
            jx_ints shape = {ty.rank, {0}}, dims = {1, {0}};
            for (int d = 0; d < ty.rank; d++) shape.v[d] = ty.shape[d];
            jx_val p = jx_broadcast_in_dim_at(loc, pick, shape, dims);
            ys[j] = jx_select_at(loc, p, yb[j], ys[j]);
        }
    }
    for (int j = 0; j < no; j++)
        if (jx_val_bad(ys[j])) return -1;
    return 0;
}

/* Sets out_ax[j] = 0 for each output j of fn that depends on an input k with
 * ax[k] != JX_NONE (vmap can batch only those; the others keep their value). 0, or -1
 * on out-of-memory. */
static int ctt_batched_outputs(const jx_fn *fn, const int *ax, int *out_ax) {
    unsigned char *dep = malloc((size_t)fn->n_nodes + 1), mask[JX_MAX_OPERANDS];
    if (!dep) return util_err("vmap: cond: out of memory");
    for (int i = 0; i < fn->n_in && i < JX_MAX_OPERANDS; i++) mask[i] = ax[i] != JX_NONE;
    tx_deps(fn, mask, 0, dep);
    for (int j = 0; j < fn->n_out; j++)
        if (dep[fn->outs[j]]) out_ax[j] = 0;
    free(dep);
    return 0;
}

/* See transform.h (batch_multi) and the top of this file. With an unbatched index, a
 * result stays unbatched when it depends on no batched operand in any branch (JAX's
 * out_batched), so vmap of a function whose primal part is unbatched keeps it so (as
 * jacfwd/jacrev need for out_axes none). */
int ctl_batch_multi(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                    int64_t bsize, jx_val *ys, int *ybds) {
    if (n->op == JX_OP_SCAN) return ctl_scan_batch(t, n, x, bd, bsize, ys, ybds);
    if (n->op != JX_OP_COND) return ctt_missing(t, n, "vmap");
    int nb = n->at.n_fns, no = n->at.fns[0]->n_out, rc = 0;
    int ax[JX_MAX_OPERANDS], out_ax[JX_MAX_RESULTS];
    jx_fn *g[JX_MAX_FNS] = {0};
    for (int k = 0; k + 1 < n->nin; k++) ax[k] = bd[k + 1] == TX_NOBATCH ? JX_NONE : bd[k + 1];
    for (int j = 0; j < no; j++) out_ax[j] = bd[0] == TX_NOBATCH ? JX_NONE : 0;
    for (int b = 0; b < nb && rc == 0 && bd[0] == TX_NOBATCH; b++)
        rc = ctt_batched_outputs(n->at.fns[b], ax, out_ax);
    for (int b = 0; b < nb && rc == 0; b++)
        if (!(g[b] = jx_vmap(n->at.fns[b], ax, out_ax, bsize))) rc = ctt_fail(t, n, "vmap", b);
    if (rc == 0)
        rc = bd[0] == TX_NOBATCH ? ctt_emit(t, n, nb, g, n->nin, x, no, ys)
                                 : ctt_select(t, n, nb, g, x, bd[0], ys);
    ctt_free(nb, g);
    for (int j = 0; j < no; j++) ybds[j] = out_ax[j] == JX_NONE ? TX_NOBATCH : 0;
    return rc;
}
