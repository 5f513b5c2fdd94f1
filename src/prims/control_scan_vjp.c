/* scan's vjp (JAX's lax/control_flow/loops.py, _scan_partial_eval + _scan_transpose),
 * for a scan (c0, xs) -> (c, ys) of body f: (c, x) -> (c', y):
 *
 *   forward:  c  cs = scan { (c, x) -> (f(c, x).c', c) } c0 xs     the carries stacked
 *   backward: ct_c0 ct_xs = scan[reverse flipped] { vjp of f } ct_c (cs, xs, ct_ys)
 *
 * The backward scan carries the cotangents of the carry values (the final carry's
 * cotangent to start with, zero when it has none) and scans the residuals, the xs and
 * the ys' cotangents, giving the xs' cotangents as its ys; its final carry is c0's
 * cotangent. Its body is f's vjp: it recomputes f's forward pass at each step from the
 * stored carry (remat-style, as cond's vjp), so the residuals are only the carry values
 * each step starts from. Carry values the body passes through unchanged (loop-invariant
 * parameters, since a body cannot read values of the outer trace) are not stacked: the
 * backward scan carries them unchanged too.
 *
 * Which carry values have a cotangent is the jvp's fixpoint: a float carry value whose
 * initial value needs one, or that the body makes depend on one that does. Integer
 * carry values and xs get none; ys whose cotangent is zero, or that depend on nothing
 * differentiated, are left out of the backward scan. */
#include <stdio.h>
#include <stdlib.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/control.h"
#include "transform/transform.h"

/* The plan of one scan's vjp. Body inputs k < nin are the carry (k < nc) then the x
 * slices; outputs j < no the carry then the ys. */
typedef struct csv {
    const jx_node *n;
    const jx_fn *body;
    int nc, nin, no;
    unsigned char act[JX_MAX_OPERANDS]; /* body inputs with a cotangent */
    int S[JX_MAX_RESULTS], ns, nsc;     /* outputs differentiated: active carries, ys */
    int res[JX_MAX_OPERANDS], nres;     /* carry values stacked by the forward scan */
    int inv[JX_MAX_OPERANDS], ninv;     /* invariant carry values the vjp reads */
    int xu[JX_MAX_OPERANDS], nxu;       /* xs the vjp reads */
    int ax[JX_MAX_OPERANDS], nax;       /* active xs (cotangents out) */
} csv;

/* Records "grad: scan body: <jx_error()>" on t at n's line. Returns -1. */
static int csv_fail(jx_trace *t, const jx_node *n) {
    char e[800];
    snprintf(e, sizeof e, "%s", jx_error());
    trace_fail(t, n->loc, "grad", "scan body: %s", e);
    return -1;
}

/* Fills p->act (the fixpoint), p->S and p->nsc. 1 when some cotangent can be nonzero,
 * 0 when none can, -1 on out-of-memory. */
static int csv_active(csv *p, const jx_val *x, const jx_val *cts, const jx_val *ct_in) {
    unsigned char dep[JX_MAX_RESULTS];
    int any = 0;
    for (int k = 0; k < p->nin; k++)
        p->act[k] = tx_is_float(jx_val_type(x[k]).dtype) && !tx_is_skip(ct_in[k]);
    if (ctl_scan_fixpoint(p->body, p->nc, 1, p->act) < 0 ||
        ctl_out_deps(p->body, p->act, 1, dep) < 0)
        return -1;
    p->ns = 0;
    for (int j = 0; j < p->nc; j++)
        if (p->act[j]) p->S[p->ns++] = j, any |= !tx_is_zero(cts[j]);
    p->nsc = p->ns;
    for (int j = p->nc; j < p->no; j++)
        if (dep[j] && !tx_is_zero(cts[j])) p->S[p->ns++] = j, any = 1;
    return any;
}

/* 1 if input k of fn is read by a node or is an output. */
static int csv_reads(const jx_fn *fn, int k) {
    for (int i = fn->n_in; i < fn->n_nodes; i++)
        for (int o = 0; o < fn->nodes[i].nin; o++)
            if (fn->nodes[i].in[o] == k) return 1;
    for (int j = 0; j < fn->n_out; j++)
        if (fn->outs[j] == k) return 1;
    return 0;
}

/* Sorts the inputs the vjp v reads into stacked carries, invariant carries and xs, and
 * lists the active xs. */
static void csv_inputs(csv *p, const jx_fn *v) {
    p->nres = p->ninv = p->nxu = p->nax = 0;
    for (int k = 0; k < p->nin; k++) {
        if (k >= p->nc && p->act[k]) p->ax[p->nax++] = k;
        if (!csv_reads(v, k)) continue;
        if (k >= p->nc) p->xu[p->nxu++] = k;
        else if (p->body->outs[k] == k) p->inv[p->ninv++] = k;
        else p->res[p->nres++] = k;
    }
}

/* The forward body: (c, x) -> (c', the stacked carries' values c[res]). */
static jx_fn *csv_fwd_body(const csv *p) {
    jx_type in[JX_MAX_OPERANDS];
    jx_val a[JX_MAX_OPERANDS], o[JX_MAX_RESULTS];
    for (int k = 0; k < p->nin; k++) in[k] = jx_fn_in_type(p->body, k);
    jx_trace *t = jx_trace_begin(p->nin, in);
    if (!t) return NULL;
    for (int k = 0; k < p->nin; k++) a[k] = jx_trace_input(t, k);
    if (jx_call_at(p->n->loc, p->body, a, o) < 0)
        for (int j = 0; j < p->nc; j++) o[j] = (jx_val){t, -1};
    for (int r = 0; r < p->nres; r++) o[p->nc + r] = a[p->res[r]];
    return tx_finish(t, p->nc + p->nres, o);
}

/* The position of input k among the active inputs (the vjp's cotangent outputs). */
static int csv_act_pos(const csv *p, int k) {
    int pos = 0;
    for (int i = 0; i < k; i++) pos += p->act[i];
    return pos;
}

/* The backward body from v = vjp of f's outputs S: inputs (ct of the active carries,
 * invariant carries, stacked carries, xs read, cts of the ys in S) -> (the active
 * carries' cotangents, invariant carries, the active xs' cotangents). */
static jx_fn *csv_bwd_body(const csv *p, const jx_fn *v) {
    int nb = p->nsc + p->ninv + p->nres + p->nxu + (p->ns - p->nsc), q = 0;
    jx_type in[JX_MAX_OPERANDS];
    jx_val a[JX_MAX_OPERANDS + JX_MAX_RESULTS], b[JX_MAX_OPERANDS], o[2 * JX_MAX_OPERANDS];
    jx_val r[JX_MAX_OPERANDS];
    for (int i = 0; i < p->ns; i++) in[i < p->nsc ? i : nb - p->ns + i] =
        jx_fn_out_type(p->body, p->S[i]);
    for (int i = 0; i < p->ninv; i++) in[p->nsc + i] = jx_fn_in_type(p->body, p->inv[i]);
    for (int i = 0; i < p->nres; i++) in[p->nsc + p->ninv + i] = jx_fn_in_type(p->body, p->res[i]);
    for (int i = 0; i < p->nxu; i++)
        in[p->nsc + p->ninv + p->nres + i] = jx_fn_in_type(p->body, p->xu[i]);
    jx_trace *t = jx_trace_begin(nb, in);
    if (!t) return NULL;
    for (int i = 0; i < nb; i++) b[i] = jx_trace_input(t, i);
    for (int k = 0; k < p->nin; k++) {
        jx_type ty = jx_fn_in_type(p->body, k);
        a[k] = jx_full_at(p->n->loc, t, ty, 0); /* not read by v */
    }
    for (int i = 0; i < p->ninv; i++) a[p->inv[i]] = b[p->nsc + i];
    for (int i = 0; i < p->nres; i++) a[p->res[i]] = b[p->nsc + p->ninv + i];
    for (int i = 0; i < p->nxu; i++) a[p->xu[i]] = b[p->nsc + p->ninv + p->nres + i];
    for (int i = 0; i < p->ns; i++) a[p->nin + i] = b[i < p->nsc ? i : nb - p->ns + i];
    if (jx_call_at(p->n->loc, v, a, o) < 0)
        for (int j = 0; j < v->n_out; j++) o[j] = (jx_val){t, -1};
    for (int i = 0; i < p->nsc; i++) r[q++] = o[p->ns + csv_act_pos(p, p->S[i])];
    for (int i = 0; i < p->ninv; i++) r[q++] = b[p->nsc + i];
    for (int i = 0; i < p->nax; i++) r[q++] = o[p->ns + csv_act_pos(p, p->ax[i])];
    return tx_finish(t, q, r);
}

/* Emits the forward scan stacking the carries p->res into cs[0..nres). 0 or -1. */
static int csv_forward(jx_trace *t, const csv *p, const jx_val *x, jx_val *cs) {
    jx_val res[JX_MAX_RESULTS];
    if (p->nres == 0) return 0;
    if (p->nc + p->nres > JX_MAX_RESULTS) {
        trace_fail(t, p->n->loc, "grad", "scan: its vjp's forward scan needs %d results (at "
                   "most %d)", p->nc + p->nres, JX_MAX_RESULTS);
        return -1;
    }
    jx_fn *g = csv_fwd_body(p);
    if (!g) return csv_fail(t, p->n);
    int rc = ctl_scan_emit(t, p->n, g, p->nc, (int)p->n->at.v[2][0], p->nin, x,
                           p->nc + p->nres, res);
    jx_fn_free(g);
    for (int r = 0; rc == 0 && r < p->nres; r++) cs[r] = res[p->nc + r];
    return rc;
}

/* Emits the backward scan of body g (csv_bwd_body) and sets ct_in. 0 or -1. */
static int csv_backward(jx_trace *t, const csv *p, const jx_fn *g, const jx_val *x,
                        const jx_val *cs, const jx_val *cts, jx_val *ct_in) {
    jx_val ops[JX_MAX_OPERANDS], res[JX_MAX_RESULTS];
    int nops = 0, ncar = p->nsc + p->ninv;
    for (int i = 0; i < p->nsc; i++) {
        int j = p->S[i];
        ops[nops++] = tx_is_zero(cts[j]) ? tx_zeros(p->n->loc, t, trace_type(t, x[j].id)) : cts[j];
    }
    for (int i = 0; i < p->ninv; i++) ops[nops++] = x[p->inv[i]];
    for (int i = 0; i < p->nres; i++) ops[nops++] = cs[i];
    for (int i = 0; i < p->nxu; i++) ops[nops++] = x[p->xu[i]];
    for (int i = p->nsc; i < p->ns; i++) ops[nops++] = cts[p->S[i]];
    if (ctl_scan_emit(t, p->n, g, ncar, !p->n->at.v[2][0], nops, ops, ncar + p->nax, res) < 0)
        return -1;
    for (int i = 0; i < p->nsc; i++)
        if (!tx_is_skip(ct_in[p->S[i]])) ct_in[p->S[i]] = res[i];
    for (int i = 0; i < p->nax; i++) ct_in[p->ax[i]] = res[ncar + i];
    return 0;
}

/* The vjp of f's outputs S wrt the active inputs, and the plan's input lists. NULL with
 * jx_error(). */
static jx_fn *csv_body_vjp(csv *p) {
    jx_fn *sel = tx_rewire(p->body, NULL, p->ns, p->S);
    jx_fn *v = sel ? jx_vjp(sel, p->act) : NULL; /* (c, x, ct_S) -> (f_S, ct_act) */
    jx_fn_free(sel);
    if (v) csv_inputs(p, v);
    return v;
}

/* See control.h and the top of this file. */
int ctl_scan_vjp(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *cts,
                 jx_val *ct_in) {
    csv p = {.n = n, .body = n->at.fns[0], .nc = (int)n->at.v[1][0], .nin = n->nin};
    p.no = p.body->n_out;
    int any = csv_active(&p, x, cts, ct_in);
    if (any < 0) return csv_fail(t, n);
    if (any == 0) return 0;
    jx_fn *v = csv_body_vjp(&p);
    if (!v) return csv_fail(t, n);
    int nops = p.nsc + p.ninv + p.nres + p.nxu + p.ns - p.nsc;
    if (nops > JX_MAX_OPERANDS) {
        jx_fn_free(v);
        trace_fail(t, n->loc, "grad", "scan: its vjp's backward scan needs %d operands (at "
                   "most %d)", nops, JX_MAX_OPERANDS);
        return -1;
    }
    jx_val cs[JX_MAX_OPERANDS];
    jx_fn *g = csv_bwd_body(&p, v);
    jx_fn_free(v);
    int rc = g ? csv_forward(t, &p, x, cs) : csv_fail(t, n);
    if (rc == 0) rc = csv_backward(t, &p, g, x, cs, cts, ct_in);
    jx_fn_free(g);
    return rc;
}
