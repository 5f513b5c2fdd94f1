/* scan's jvp (JAX's lax/control_flow/loops.py, _scan_jvp): a scan of the body's jvp,
 *
 *   c dc ys dys = scan[n_carry=(C + C')] { body's jvp } c0 dc0 xs dxs
 *
 * carrying the tangents of the carry values that have one (C' of them) next to the
 * carry, and scanning the tangents of the xs that have one next to the xs. Which carry
 * values have a tangent is a fixpoint, as in JAX: one whose initial value has a tangent,
 * or that the body makes depend on one that has (a zero initial tangent is materialized
 * then); integer carry values never have one. Every float y gets a tangent (zero when it
 * depends on no tangent). The reverse flag and the length are kept. */
#include <stdio.h>
#include <stdlib.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/control.h"
#include "transform/transform.h"

/* See control.h. */
int ctl_out_deps(const jx_fn *fn, const unsigned char *mask, int diff_only,
                 unsigned char *out_dep) {
    unsigned char *dep = malloc((size_t)fn->n_nodes + 1);
    if (!dep) return util_err("scan: out of memory");
    tx_deps(fn, mask, diff_only, dep);
    for (int j = 0; j < fn->n_out; j++) out_dep[j] = dep[fn->outs[j]];
    free(dep);
    return 0;
}

/* See control.h. */
int ctl_scan_fixpoint(const jx_fn *body, int nc, int diff_only, unsigned char *wrt) {
    unsigned char out_dep[JX_MAX_RESULTS];
    for (int changed = 1; changed;) {
        changed = 0;
        if (ctl_out_deps(body, wrt, diff_only, out_dep) < 0) return -1;
        for (int j = 0; j < nc; j++)
            if (!wrt[j] && out_dep[j]) wrt[j] = 1, changed = 1;
    }
    return 0;
}

/* The scanned body of the jvp from jv = jx_jvp(body, wrt), whose inputs are (c, x, dc,
 * dx) and outputs (c', y, dc', dy): inputs reordered to (c, dc, x, dx) and outputs
 * selected as (c', dc' with a tangent, y, dy of float y). NULL with jx_error(). */
static jx_fn *cst_body(const jx_fn *jv, const jx_fn *body, int nc, const unsigned char *wrt,
                       int nin) {
    int in_idx[2 * JX_MAX_OPERANDS], out_idx[2 * JX_MAX_RESULTS], p = 0, q = 0, no = body->n_out;
    int ndc = 0;
    for (int k = 0; k < nc; k++) ndc += wrt[k];
    for (int k = 0; k < nc; k++) in_idx[p++] = k;
    for (int k = 0, m = 0; k < nc; k++)
        if (wrt[k]) in_idx[p++] = nin + m++;
    for (int k = nc; k < nin; k++) in_idx[p++] = k;
    for (int k = nc, m = 0; k < nin; k++)
        if (wrt[k]) in_idx[p++] = nin + ndc + m++;
    for (int j = 0; j < nc; j++) out_idx[q++] = j;
    for (int j = 0; j < nc; j++)
        if (wrt[j]) out_idx[q++] = no + j;
    for (int j = nc; j < no; j++) out_idx[q++] = j;
    for (int j = nc; j < no; j++)
        if (tx_is_float(jx_fn_out_type(body, j).dtype)) out_idx[q++] = no + j;
    return tx_rewire(jv, in_idx, q, out_idx);
}

/* See control.h. */
int ctl_scan_emit(jx_trace *t, const jx_node *n, const jx_fn *g, int nc2, int reverse,
                  int nops, const jx_val *ops, int want, jx_val *res) {
    jx_ints L = {1, {n->at.v[0][0]}}, C = {1, {nc2}}, R = {1, {reverse}};
    jx_attrs at = ir_attrs(&L, &C, &R, NULL);
    at.n_fns = 1;
    at.fns = &g;
    int k = trace_emit_multi(n->loc, t, JX_OP_SCAN, nops, ops, &at, want, res);
    if (k >= 0 && k != want) trace_fail(t, n->loc, "scan", "%d results, expected %d", k, want);
    return k == want ? 0 : -1;
}

/* See control.h and the top of this file. */
int ctl_scan_jvp(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx, jx_val *ys,
                 jx_val *dys) {
    const jx_fn *body = n->at.fns[0];
    int nc = (int)n->at.v[1][0], nin = n->nin, no = body->n_out, nops = 0, nr = 0;
    unsigned char wrt[JX_MAX_OPERANDS];
    jx_val ops[2 * JX_MAX_OPERANDS], res[2 * JX_MAX_RESULTS];
    for (int k = 0; k < nin; k++)
        wrt[k] = !tx_is_zero(dx[k]) && tx_is_float(jx_val_type(x[k]).dtype);
    if (ctl_scan_fixpoint(body, nc, 1, wrt) < 0) {
        trace_fail(t, n->loc, "jvp", "scan: %s", jx_error());
        return -1;
    }
    for (int k = 0; k < nc; k++) ops[nops++] = x[k];
    for (int k = 0; k < nc; k++)
        if (wrt[k])
            ops[nops++] = tx_is_zero(dx[k]) ? tx_zeros(n->loc, t, trace_type(t, x[k].id)) : dx[k];
    int nc2 = nops;
    for (int k = nc; k < nin; k++) ops[nops++] = x[k];
    for (int k = nc; k < nin; k++)
        if (wrt[k]) ops[nops++] = dx[k];
    nr = nc2 + no - nc;
    for (int j = nc; j < no; j++) nr += tx_is_float(jx_fn_out_type(body, j).dtype);
    if (nops > JX_MAX_OPERANDS || nr > JX_MAX_RESULTS) {
        trace_fail(t, n->loc, "jvp", "scan: its jvp needs %d operands and %d results (at most "
                   "%d and %d)", nops, nr, JX_MAX_OPERANDS, JX_MAX_RESULTS);
        return -1;
    }
    jx_fn *jv = jx_jvp(body, wrt);
    jx_fn *g = jv ? cst_body(jv, body, nc, wrt, nin) : NULL;
    jx_fn_free(jv);
    if (!g) {
        char e[800];
        snprintf(e, sizeof e, "%s", jx_error());
        trace_fail(t, n->loc, "jvp", "scan body: %s", e);
        return -1;
    }
    int rc = ctl_scan_emit(t, n, g, nc2, (int)n->at.v[2][0], nops, ops, nr, res);
    jx_fn_free(g);
    if (rc < 0) return -1;
    for (int j = 0, m = nc; j < nc; j++) {
        ys[j] = res[j];
        if (wrt[j]) dys[j] = res[m++];
    }
    for (int j = nc, m = nc2 + no - nc; j < no; j++) {
        ys[j] = res[nc2 + j - nc];
        if (tx_is_float(jx_fn_out_type(body, j).dtype)) dys[j] = res[m++];
    }
    return 0;
}
