/* scan's vjp (JAX's lax/control_flow/loops.py, _scan_partial_eval + _scan_transpose),
 * for a scan (c0, xs) -> (c, ys) of body f: (c, x) -> (c', y):
 *
 *   forward:  c  rs = scan { (c, x) -> (c', residuals) } c0 xs
 *   backward: ct_c0 ct_xs = scan[reverse flipped] { f's vjp from the residuals }
 *                                                  ct_c (rs, xs, ct_ys)
 *
 * v = vjp(f) is split as JAX's partial evaluation does: its known part (what does not
 * depend on a cotangent: f's forward pass and whatever the vjp computes from it) runs in
 * the forward scan, its unknown part in the backward one. The values of the known part
 * that the unknown part reads are the residuals, stacked by the forward scan when they
 * vary from step to step; the xs are read from the scan's own operand, not restacked;
 * loop-invariant carry values (ones the body returns unchanged: parameters, captured
 * values) are carried unchanged by the backward scan, and what the vjp computes from
 * them or from constants only is recomputed there rather than stacked. When the
 * residuals would exceed the operand limits the backward body instead recomputes the
 * body's forward pass from the stacked carry values (remat-style, as cond's vjp).
 *
 * The backward scan carries the cotangents of the carry values (the final carry's to
 * start with, zero when it has none) and scans the residuals, the xs and the ys'
 * cotangents; its ys are the xs' cotangents and its final carry c0's. Which carry values
 * have a cotangent is the jvp's fixpoint: a float carry value whose initial value needs
 * one, or that the body makes depend on one that does. Integer carry values and xs get
 * none; ys whose cotangent is zero, or that depend on nothing differentiated, are left
 * out of the backward scan. The forward scan is the original one plus residuals: the
 * primal scan the grad driver replays stays when its results are used (value_and_grad,
 * a loss that needs them), so the forward pass then runs twice. */
#include <stdio.h>
#include <stdlib.h>

#include "core/ir.h"
#include "core/replay.h"
#include "core/util.h"
#include "prims/control.h"
#include "transform/transform.h"

enum { CSV_VAR = 1, CSV_INV = 2, CSV_CT = 4 }; /* what a node of v depends on */

/* The plan of one scan's vjp. Body inputs k < nin are the carry (k < nc) then the x
 * slices; outputs j < no the carry then the ys. v's inputs are the body's then one
 * cotangent per output S[0..ns) (every carry value, then the ys differentiated); its
 * outputs those outputs then the active inputs' cotangents. */
typedef struct csv {
    const jx_node *n;
    const jx_fn *body, *v;
    int nc, nin, no, remat;
    unsigned char act[JX_MAX_OPERANDS]; /* body inputs with a cotangent */
    int S[JX_MAX_RESULTS], ns, nact_c;  /* v's outputs; active carries */
    unsigned char *cls, *need, *store;  /* per node of v: CSV_*, needed backward, stacked */
    int res[JX_MAX_RESULTS], nres;      /* v nodes stacked by the forward scan */
    int inv[JX_MAX_OPERANDS], ninv;     /* invariant carry values read backward */
    int xu[JX_MAX_OPERANDS], nxu;       /* xs read backward */
    int ax[JX_MAX_OPERANDS], nax;       /* active xs (cotangents out) */
} csv;

/* Records "grad: scan<what>: <jx_error()>" on t at n's line. Returns -1. */
static int csv_fail(jx_trace *t, const jx_node *n, const char *what) {
    char e[800];
    snprintf(e, sizeof e, "%s", jx_error());
    trace_fail(t, n->loc, "grad", "scan%s: %s", what, e);
    return -1;
}

/* Fills p->act (the fixpoint), p->S and p->nact_c. 1 when some cotangent can be
 * nonzero, 0 when none can, -1 on out-of-memory. */
static int csv_active(csv *p, const jx_val *x, const jx_val *cts, const jx_val *ct_in) {
    unsigned char dep[JX_MAX_RESULTS];
    int any = 0;
    for (int k = 0; k < p->nin; k++)
        p->act[k] = tx_is_float(jx_val_type(x[k]).dtype) && !tx_is_skip(ct_in[k]);
    if (ctl_scan_fixpoint(p->body, p->nc, 1, p->act) < 0 ||
        ctl_out_deps(p->body, p->act, 1, dep) < 0)
        return -1;
    p->ns = p->nact_c = 0;
    for (int j = 0; j < p->nc; j++) {
        p->S[p->ns++] = j;
        if (p->act[j]) p->nact_c++, any |= !tx_is_zero(cts[j]);
    }
    for (int j = p->nc; j < p->no; j++)
        if (dep[j] && !tx_is_zero(cts[j])) p->S[p->ns++] = j, any = 1;
    for (int k = p->nc; k < p->nin; k++)
        if (p->act[k]) p->ax[p->nax++] = k;
    return any;
}

/* The class of v's input i: a varying or invariant carry value or x, or a cotangent. */
static unsigned char csv_param_class(const csv *p, int i) {
    if (i >= p->nin) return CSV_CT;
    return i < p->nc && p->body->outs[i] == i ? CSV_INV : CSV_VAR;
}

/* The output of v that is input k's cotangent (k active). */
static int csv_ct_out(const csv *p, int k) {
    int pos = p->ns;
    for (int i = 0; i < k; i++) pos += p->act[i];
    return p->v->outs[pos];
}

/* Marks what the backward scan needs of v (from the cotangent outputs back, stopping at
 * inputs and, unless remat, at known values that vary: those are stored) and lists the
 * residuals. */
static void csv_split(csv *p) {
    const jx_fn *v = p->v;
    for (int i = 0; i < v->n_nodes; i++) {
        const jx_node *nd = &v->nodes[i];
        p->need[i] = p->store[i] = 0;
        p->cls[i] = i < v->n_in ? csv_param_class(p, i) : 0;
        for (int o = 0; i >= v->n_in && o < nd->nin; o++) p->cls[i] |= p->cls[nd->in[o]];
    }
    for (int k = 0; k < p->nin; k++)
        if (p->act[k]) p->need[csv_ct_out(p, k)] = 1;
    for (int i = v->n_nodes - 1; i >= v->n_in; i--) {
        const jx_node *nd = &v->nodes[i];
        if (!p->need[i]) continue;
        if (!p->remat && !(p->cls[i] & CSV_CT) && (p->cls[i] & CSV_VAR) && !ir_is_multi(v, i))
            p->store[i] = 1;
        else
            for (int o = 0; o < nd->nin; o++) p->need[nd->in[o]] = 1;
    }
    p->nres = p->ninv = p->nxu = 0;
    for (int i = 0; i < v->n_nodes; i++) {
        if (!p->need[i] || (i >= v->n_in && !p->store[i]) || (i >= p->nin && i < v->n_in))
            continue;
        if (i < p->nc && p->cls[i] == CSV_INV) p->inv[p->ninv++] = i;
        else if (i >= p->nc && i < p->nin) p->xu[p->nxu++] = i;
        else if (p->nres < JX_MAX_RESULTS) p->res[p->nres++] = i;
        else p->nres = JX_MAX_RESULTS + 1; /* too many: the caller falls back to remat */
    }
}

/* Replays the nodes of p->v with live[i] set into t, v's node i mapped to map[i] (-1:
 * none yet; filled for the replayed nodes). 0 or -1 (error recorded on t). */
static int csv_replay(const csv *p, jx_trace *t, int32_t *map, const unsigned char *live) {
    replay r = {p->v, t, map, live, p->n->loc, NULL, 1};
    if (!r.loc.file) r.loc = (jx_loc){"grad", 0};
    return replay_walk(&r, 0, NULL);
}

/* The forward body: (c, x) -> (c', the residuals p->res), v's known part. */
static jx_fn *csv_fwd_body(const csv *p, int32_t *map, unsigned char *live) {
    const jx_fn *v = p->v;
    jx_type in[JX_MAX_OPERANDS];
    jx_val o[2 * JX_MAX_RESULTS];
    for (int k = 0; k < p->nin; k++) in[k] = jx_fn_in_type(p->body, k);
    jx_trace *t = jx_trace_begin(p->nin, in);
    if (!t) return NULL;
    for (int i = 0; i < v->n_nodes; i++) {
        map[i] = i < p->nin ? i : -1;
        live[i] = i >= v->n_in && !(p->cls[i] & CSV_CT);
    }
    int rc = csv_replay(p, t, map, live);
    for (int j = 0; j < p->nc; j++) o[j] = trace_val(t, rc ? -1 : map[v->outs[j]]);
    for (int r = 0; r < p->nres; r++) o[p->nc + r] = trace_val(t, rc ? -1 : map[p->res[r]]);
    return tx_finish(t, p->nc + p->nres, o);
}

/* The backward body's input types: (ct of the active carries, invariant carries,
 * residuals, xs read, cts of the ys in S). Returns their count. */
static int csv_bwd_types(const csv *p, jx_type *in) {
    int q = 0;
    for (int j = 0; j < p->nc; j++)
        if (p->act[j]) in[q++] = jx_fn_in_type(p->body, j);
    for (int i = 0; i < p->ninv; i++) in[q++] = jx_fn_in_type(p->body, p->inv[i]);
    for (int i = 0; i < p->nres; i++) in[q++] = p->v->nodes[p->res[i]].type;
    for (int i = 0; i < p->nxu; i++) in[q++] = jx_fn_in_type(p->body, p->xu[i]);
    for (int i = p->nc; i < p->ns; i++) in[q++] = jx_fn_out_type(p->body, p->S[i]);
    return q;
}

/* Maps v's inputs and residuals to the backward body's inputs (csv_bwd_types' order);
 * the cotangents of inactive carry values, which nothing differentiated reads, to
 * zeros. */
static void csv_bwd_map(const csv *p, jx_trace *t, int32_t *map) {
    int q = 0;
    for (int i = 0; i < p->v->n_nodes; i++) map[i] = -1;
    for (int j = 0; j < p->nc; j++) {
        int ct = p->nin + j;
        if (p->act[j]) map[ct] = q++;
        else if (p->need[ct]) map[ct] = tx_zeros(p->n->loc, t, &p->v->nodes[ct].type).id;
    }
    for (int i = 0; i < p->ninv; i++) map[p->inv[i]] = q++;
    for (int i = 0; i < p->nres; i++) map[p->res[i]] = q++;
    for (int i = 0; i < p->nxu; i++) map[p->xu[i]] = q++;
    for (int i = p->nc; i < p->ns; i++) map[p->nin + i] = q++;
}

/* The backward body: (csv_bwd_types) -> (the active carries' cotangents, invariant
 * carries, the active xs' cotangents), v's unknown part plus what it recomputes. */
static jx_fn *csv_bwd_body(const csv *p, int32_t *map, unsigned char *live) {
    const jx_fn *v = p->v;
    jx_type in[JX_MAX_OPERANDS + JX_MAX_RESULTS];
    jx_val o[2 * JX_MAX_OPERANDS];
    int nb = csv_bwd_types(p, in), q = 0;
    jx_trace *t = jx_trace_begin(nb, in);
    if (!t) return NULL;
    csv_bwd_map(p, t, map);
    for (int i = 0; i < v->n_nodes; i++) live[i] = i >= v->n_in && p->need[i] && !p->store[i];
    int rc = csv_replay(p, t, map, live);
    for (int j = 0; j < p->nc; j++)
        if (p->act[j]) o[q++] = trace_val(t, rc ? -1 : map[csv_ct_out(p, j)]);
    for (int i = 0; i < p->ninv; i++) o[q++] = jx_trace_input(t, p->nact_c + i);
    for (int i = 0; i < p->nax; i++) o[q++] = trace_val(t, rc ? -1 : map[csv_ct_out(p, p->ax[i])]);
    return tx_finish(t, q, o);
}

/* Emits the forward scan of g stacking the residuals into rs[0..nres). 0 or -1. */
static int csv_forward(jx_trace *t, const csv *p, const jx_fn *g, const jx_val *x,
                       jx_val *rs) {
    jx_val res[JX_MAX_RESULTS];
    if (p->nres == 0) return 0;
    int rc = ctl_scan_emit(t, p->n, g, p->nc, (int)p->n->at.v[2][0], p->nin, x,
                           p->nc + p->nres, res);
    for (int r = 0; rc == 0 && r < p->nres; r++) rs[r] = res[p->nc + r];
    return rc;
}

/* Emits the backward scan of g and sets ct_in. 0 or -1. */
static int csv_backward(jx_trace *t, const csv *p, const jx_fn *g, const jx_val *x,
                        const jx_val *rs, const jx_val *cts, jx_val *ct_in) {
    jx_val ops[JX_MAX_OPERANDS], res[JX_MAX_RESULTS];
    int nops = 0, ncar = p->nact_c + p->ninv;
    for (int j = 0; j < p->nc; j++)
        if (p->act[j])
            ops[nops++] = tx_is_zero(cts[j]) ? tx_zeros(p->n->loc, t, trace_type(t, x[j].id))
                                             : cts[j];
    for (int i = 0; i < p->ninv; i++) ops[nops++] = x[p->inv[i]];
    for (int i = 0; i < p->nres; i++) ops[nops++] = rs[i];
    for (int i = 0; i < p->nxu; i++) ops[nops++] = x[p->xu[i]];
    for (int i = p->nc; i < p->ns; i++) ops[nops++] = cts[p->S[i]];
    if (ctl_scan_emit(t, p->n, g, ncar, !p->n->at.v[2][0], nops, ops, ncar + p->nax, res) < 0)
        return -1;
    for (int j = 0, i = 0; j < p->nc; j++)
        if (p->act[j] && !tx_is_skip(ct_in[j])) ct_in[j] = res[i++];
        else if (p->act[j]) i++;
    for (int i = 0; i < p->nax; i++) ct_in[p->ax[i]] = res[ncar + i];
    return 0;
}

/* 1 if the plan's scans fit the operand and result limits. */
static int csv_fits(const csv *p) {
    int ncar = p->nact_c + p->ninv;
    return p->nc + p->nres <= JX_MAX_RESULTS && ncar + p->nax <= JX_MAX_RESULTS &&
           ncar + p->nres + p->nxu + (p->ns - p->nc) <= JX_MAX_OPERANDS;
}

/* Splits p->v (stored residuals, or remat when they do not fit) and builds the two
 * bodies into g[0] (forward) and g[1] (backward). 0; -1 with jx_error(); -2 when even
 * remat exceeds the limits (message in jx_error()). */
static int csv_bodies(csv *p, jx_fn **g) {
    int n = p->v->n_nodes + 1, rc = -1;
    int32_t *map = malloc((size_t)n * sizeof *map);
    unsigned char *buf = malloc(4 * (size_t)n);
    if (!map || !buf) {
        util_err("scan: out of memory");
    } else {
        p->cls = buf, p->need = buf + n, p->store = buf + 2 * n;
        csv_split(p);
        if (!csv_fits(p)) p->remat = 1, csv_split(p);
        if (!csv_fits(p))
            rc = -2, util_err("its vjp needs %d carry values, %d stacked carries, %d xs and %d "
                              "cotangents of ys in its backward scan, and %d results in its "
                              "forward one (at most %d each)", p->nact_c + p->ninv, p->nres,
                              p->nxu, p->ns - p->nc, p->nc + p->nres, JX_MAX_OPERANDS);
        else if ((p->nres == 0 || (g[0] = csv_fwd_body(p, map, buf + 3 * n))) &&
                 (g[1] = csv_bwd_body(p, map, buf + 3 * n)))
            rc = 0;
    }
    free(map);
    free(buf);
    return rc;
}

/* See control.h and the top of this file. */
int ctl_scan_vjp(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *cts,
                 jx_val *ct_in) {
    csv p = {.n = n, .body = n->at.fns[0], .nc = (int)n->at.v[1][0], .nin = n->nin};
    p.no = p.body->n_out;
    int any = csv_active(&p, x, cts, ct_in);
    if (any < 0) return csv_fail(t, n, "");
    if (any == 0) return 0;
    jx_fn *sel = tx_rewire(p.body, NULL, p.ns, p.S), *g[2] = {0};
    jx_fn *v = sel ? jx_vjp(sel, p.act) : NULL; /* (c, x, ct_S) -> (f_S, ct_act) */
    jx_fn_free(sel);
    p.v = v;
    int rc = v ? csv_bodies(&p, g) : -1;
    jx_fn_free(v);
    if (rc < 0) rc = csv_fail(t, n, rc == -2 ? "" : " body");
    jx_val rs[JX_MAX_RESULTS];
    if (rc == 0) rc = csv_forward(t, &p, g[0], x, rs);
    if (rc == 0) rc = csv_backward(t, &p, g[1], x, rs, cts, ct_in);
    jx_fn_free(g[0]), jx_fn_free(g[1]);
    return rc;
}
