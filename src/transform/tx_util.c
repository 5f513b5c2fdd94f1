/* Helpers shared by the transformation drivers and the per-family rules. */
#include <stdlib.h>
#include <string.h>

#include "transform/transform.h"
#include "core/util.h"

/* a + b, where a symbolic zero on either side yields the other. */
jx_val tx_add(jx_loc loc, jx_val a, jx_val b) {
    if (tx_is_zero(a)) return b;
    if (tx_is_zero(b)) return a;
    jx_val in[2] = {a, b};
    return trace_emit(loc, NULL, JX_OP_ADD, 2, in, NULL, NULL);
}

/* A materialized zero array of type ty. */
jx_val tx_zeros(jx_loc loc, jx_trace *t, const jx_type *ty) {
    return jx_full_at(loc, t, *ty, 0.0);
}

/* trace_emit with n's location. */
jx_val tx_emit(jx_trace *t, const jx_node *n, jx_op op, int nin, const jx_val *in,
               const jx_attrs *at, const jx_type *hint) {
    return trace_emit(n->loc, t, op, nin, in, at, hint);
}

/* n re-emitted on new operands. */
jx_val tx_replay(jx_trace *t, const jx_node *n, const jx_val *in) {
    return trace_emit(n->loc, t, n->op, n->nin, in, &n->at, &n->type);
}

/* See transform.h. */
jx_fn *tx_finish(jx_trace *t, int n_out, const jx_val *outs) {
    jx_fn *raw = jx_trace_end(t, n_out, outs);
    jx_fn *g = raw ? jx_simplify(raw) : NULL;
    jx_fn_free(raw);
    return g;
}

/* 1 for f32 and f64. */
int tx_is_float(jx_dtype dt) { return dt == JX_F32 || dt == JX_F64; }

/* x with axis `from` moved to `to` (other axes keep their order). */
jx_val tx_moveaxis(jx_loc loc, jx_val x, int from, int to) {
    if (from == to || jx_val_bad(x)) return x;
    jx_type ty = jx_val_type(x);
    jx_ints perm = {ty.rank, {0}};
    int k = 0;
    for (int i = 0; i < ty.rank; i++) {
        if (i == from) continue;
        if (k == to) perm.v[k++] = from;
        perm.v[k++] = i;
    }
    if (k == to) perm.v[k++] = from;
    return jx_transpose_at(loc, x, perm);
}

/* x with its batch axis first (broadcast in when x is unbatched). */
jx_val tx_batch_front(jx_loc loc, jx_val x, int bd, int64_t bsize) {
    if (bd != TX_NOBATCH) return tx_moveaxis(loc, x, bd, 0);
    if (jx_val_bad(x)) return x;
    jx_type ty = jx_val_type(x);
    jx_ints shape = {ty.rank + 1, {bsize}}, dims = {ty.rank, {0}};
    for (int i = 0; i < ty.rank; i++) {
        shape.v[i + 1] = ty.shape[i];
        dims.v[i] = i + 1;
    }
    return jx_broadcast_in_dim_at(loc, x, shape, dims);
}

/* Sums ct over the dims that broadcast_in_dim(x, shape, dims) added or stretched, then
 * reshapes to x's type. */
jx_val tx_unbroadcast(jx_loc loc, jx_val ct, const jx_type *xt, jx_ints dims) {
    if (jx_val_bad(ct)) return ct;
    jx_type ct_t = jx_val_type(ct);
    int kept[JX_MAX_RANK] = {0};
    jx_ints axes = {0, {0}};
    for (int i = 0; i < dims.n && i < xt->rank; i++)
        if (xt->shape[i] == ct_t.shape[dims.v[i]]) kept[dims.v[i]] = 1;
    for (int d = 0; d < ct_t.rank; d++)
        if (!kept[d]) axes.v[axes.n++] = d;
    jx_val r = axes.n ? jx_reduce_sum_at(loc, ct, axes) : ct;
    jx_type rt = jx_val_type(r);
    if (jx_val_bad(r) || jx_type_eq(&rt, xt)) return r;
    jx_ints shape = {xt->rank, {0}};
    for (int i = 0; i < xt->rank; i++) shape.v[i] = xt->shape[i];
    return jx_reshape_at(loc, r, shape);
}

/* See transform.h. */
jx_fn *tx_rewire(const jx_fn *fn, const int *in_idx, int n, const int *idx) {
    enum { MAX_IO = 2 * JX_MAX_OPERANDS + JX_MAX_RESULTS };
    jx_type in[MAX_IO];
    jx_val fargs[MAX_IO], outs[MAX_IO], sel[MAX_IO];
    if (fn->n_in > MAX_IO || fn->n_out > MAX_IO || n > MAX_IO) {
        util_err("a transformed sub-function with %d inputs and %d outputs (at most %d)",
                 fn->n_in, fn->n_out, MAX_IO);
        return NULL;
    }
    for (int p = 0; p < fn->n_in; p++) in[p] = fn->nodes[in_idx ? in_idx[p] : p].type;
    jx_trace *t = jx_trace_begin(fn->n_in, in);
    if (!t) return NULL;
    for (int p = 0; p < fn->n_in; p++) fargs[in_idx ? in_idx[p] : p] = jx_trace_input(t, p);
    if (jx_call_at((jx_loc){"rewire", 0}, fn, fargs, outs) < 0)
        for (int j = 0; j < fn->n_out; j++) outs[j] = (jx_val){t, -1};
    for (int j = 0; j < n; j++) sel[j] = outs[idx[j]];
    return tx_finish(t, n, sel);
}

/* The dependencies of fn's outputs on its inputs marked in mask, into out[0..n_out);
 * 0, or -1 on out-of-memory. */
static int tx_out_deps(const jx_fn *fn, const unsigned char *mask, int diff_only,
                       unsigned char *out) {
    unsigned char *d = malloc((size_t)fn->n_nodes + 1);
    if (!d) return -1;
    tx_deps(fn, mask, diff_only, d);
    for (int j = 0; j < fn->n_out; j++) out[j] = d[fn->outs[j]];
    free(d);
    return 0;
}

/* The carry fixpoint of a loop body (scan, while): mask[c] set for each carry c < nc the
 * body makes depend on a masked input, until nothing changes; out gets the body's output
 * deps. 0 or -1. */
static int tx_loop_deps(const jx_fn *body, int nc, int diff_only, unsigned char *mask,
                        unsigned char *out) {
    for (int changed = 1; changed;) {
        changed = 0;
        if (tx_out_deps(body, mask, diff_only, out) < 0) return -1;
        for (int c = 0; c < nc; c++)
            if (out[c] && !mask[c]) mask[c] = 1, changed = 1;
    }
    return 0;
}

/* rd[0..k) = which results of multi-result node n depend on the operands od marks,
 * through its sub-functions for cond, scan and while (any result on any operand for
 * other ops, or on out-of-memory). A batched cond index or while predicate (without
 * diff_only) reaches every result, as their batching rules select over them. */
static void tx_multi_deps(const jx_node *n, const unsigned char *od, int diff_only,
                          unsigned char *rd, int k) {
    unsigned char m[2 * JX_MAX_OPERANDS] = {0}, o[JX_MAX_RESULTS] = {0}, c[1] = {0};
    int rc = -1, nc = n->op == JX_OP_SCAN ? (int)n->at.v[1][0] : n->nin;
    for (int j = 0; j < k; j++) rd[j] = 0;
    if (n->op == JX_OP_COND && !(od[0] && !diff_only)) {
        rc = 0;
        for (int b = 0; b < n->at.n_fns && rc == 0; b++) {
            rc = tx_out_deps(n->at.fns[b], od + 1, diff_only, o);
            for (int j = 0; j < k && j < n->at.fns[b]->n_out; j++) rd[j] |= o[j];
        }
    } else if (n->op == JX_OP_SCAN || n->op == JX_OP_WHILE) {
        const jx_fn *body = n->at.fns[n->op == JX_OP_WHILE];
        memcpy(m, od, (size_t)n->nin);
        rc = tx_loop_deps(body, nc, diff_only, m, o);
        if (rc == 0 && n->op == JX_OP_WHILE && !diff_only)
            rc = tx_out_deps(n->at.fns[0], m, 0, c);
        for (int j = 0; j < k && j < body->n_out; j++) rd[j] = j < nc ? m[j] || c[0] : o[j];
    }
    if (rc < 0) {
        unsigned char any = 0;
        for (int i = 0; i < n->nin; i++) any |= od[i];
        for (int j = 0; j < k; j++) rd[j] = any;
    }
}

/* See transform.h. */
void tx_deps(const jx_fn *f, const unsigned char *in_mask, int diff_only, unsigned char *dep) {
    unsigned char od[JX_MAX_OPERANDS], rd[JX_MAX_RESULTS];
    for (int i = 0; i < f->n_nodes; i++) {
        const jx_node *n = &f->nodes[i];
        if (i < f->n_in) {
            dep[i] = in_mask[i] && (!diff_only || tx_is_float(n->type.dtype));
            continue;
        }
        dep[i] = 0;
        unsigned fl = prim_info(n->op)->flags;
        if (fl & JXF_MULTI) { /* the node and its gets, result by result */
            int k = ir_n_gets(f, i); /* at most JX_MAX_RESULTS (the verifier) */
            for (int j = 0; j < n->nin; j++) od[j] = dep[n->in[j]];
            tx_multi_deps(n, od, diff_only, rd, k);
            for (int j = 0; j < k; j++) {
                const jx_node *g = &f->nodes[i + 1 + j];
                dep[i + 1 + j] = rd[j] && (!diff_only || tx_is_float(g->type.dtype));
                dep[i] |= rd[j];
            }
            i += k;
            continue;
        }
        if (diff_only && ((fl & JXF_NOGRAD) || n->op == JX_OP_STOP_GRADIENT ||
                          !tx_is_float(n->type.dtype)))
            continue;
        for (int k = 0; k < n->nin; k++) dep[i] |= dep[n->in[k]];
    }
}
