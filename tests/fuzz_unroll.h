/* The unrolled form of a function with control flow, the oracle of tests/t_fuzz_ctl.c:
 * every scan becomes its body inlined once per step on slices of the xs (reversed when
 * the scan is), the ys stacked by concatenation; every cond becomes the branch its
 * constant index selects (clamped), or, for a computed index, every branch inlined and
 * the results chosen by selects on the clamped index (lax.switch's semantics); every
 * checkpoint becomes its function inlined; every while loop becomes a fixed number of
 * steps that keep the carry once its predicate is false (the generator's loops stop within
 * that many). Sub-functions are unrolled the same way, at any depth; other nodes are
 * copied. The interpreter must give the same bits for a function and its unrolled form,
 * and the unrolled form has no construct the JIT lacks a lowering for. */
#ifndef JX_FUZZ_UNROLL_H
#define JX_FUZZ_UNROLL_H

#include "core/ir.h"
#include "core/trace.h"
#include "transform/transform.h"

static int fz_unroll_into(jx_trace *t, const jx_fn *f, const jx_val *args, jx_val *outs);

/* The scan node nd (operands x) unrolled into t: its results (final carry, stacked ys)
 * into res. 0 or -1. */
static int fz_unroll_scan(jx_trace *t, const jx_node *nd, const jx_val *x, jx_val *res) {
    int64_t L = ir_attr_ints(nd, 0).v[0];
    int nc = (int)ir_attr_ints(nd, 1).v[0], rev = (int)ir_attr_ints(nd, 2).v[0];
    const jx_fn *body = nd->at.fns[0];
    int nx = nd->nin - nc, ny = body->n_out - nc, rc = 0;
    jx_val arg[JX_MAX_OPERANDS], out[2 * JX_MAX_OPERANDS];
    jx_val *ys = malloc((size_t)(L * ny + 1) * sizeof *ys);
    if (!ys) return -1;
    for (int c = 0; c < nc; c++) res[c] = x[c];
    for (int64_t it = 0; it < L && rc == 0; it++) {
        int64_t i = rev ? L - 1 - it : it;
        for (int c = 0; c < nc; c++) arg[c] = res[c];
        for (int k = 0; k < nx; k++) {
            jx_type xt = jx_val_type(x[nc + k]);
            jx_ints st = {xt.rank, {0}}, li = {xt.rank, {0}}, sd = {xt.rank, {0}};
            jx_ints sh = {xt.rank - 1, {0}};
            for (int d = 0; d < xt.rank; d++) li.v[d] = xt.shape[d], sd.v[d] = 1;
            for (int d = 1; d < xt.rank; d++) sh.v[d - 1] = xt.shape[d];
            st.v[0] = i, li.v[0] = i + 1;
            arg[nc + k] = jx_reshape(jx_slice(x[nc + k], st, li, sd), sh);
        }
        rc = fz_unroll_into(t, body, arg, out);
        for (int c = 0; c < nc; c++) res[c] = out[c];
        for (int j = 0; j < ny; j++) ys[i * ny + j] = out[nc + j];
    }
    for (int j = 0; j < ny && rc == 0; j++) {
        jx_type yt = body->nodes[body->outs[nc + j]].type, st = {yt.dtype, yt.rank + 1, {0}};
        jx_ints sh = {yt.rank + 1, {1}};
        for (int d = 0; d < yt.rank; d++) sh.v[d + 1] = yt.shape[d], st.shape[d + 1] = yt.shape[d];
        if (L == 0) {
            res[nc + j] = jx_full(t, st, 0);
            continue;
        }
        jx_val *piece = malloc((size_t)L * sizeof *piece);
        if (!piece) rc = -1;
        for (int64_t i = 0; piece && i < L; i++) piece[i] = jx_reshape(ys[i * ny + j], sh);
        if (piece) res[nc + j] = L == 1 ? piece[0] : jx_concatenate((int)L, piece, 0);
        free(piece);
    }
    free(ys);
    return rc;
}

/* The cond node nd of f (operands x) unrolled into t: the results into res. 0 or -1. */
static int fz_unroll_cond(jx_trace *t, const jx_fn *f, const jx_node *nd, const jx_val *x,
                          jx_val *res) {
    int nb = nd->at.n_fns, n_out = nd->at.fns[0]->n_out;
    const jx_node *ix = &f->nodes[nd->in[0]];
    if (ix->op == JX_OP_CONSTANT && ix->at.value) { /* the branch the constant selects */
        double v = jx_array_get(ix->at.value, 0);
        int k = v < 0 ? 0 : v >= nb ? nb - 1 : (int)v;
        return fz_unroll_into(t, nd->at.fns[k], x + 1, res);
    }
    jx_val outs[JX_MAX_FNS][JX_MAX_OPERANDS];
    for (int b = 0; b < nb; b++)
        if (fz_unroll_into(t, nd->at.fns[b], x + 1, outs[b]) < 0) return -1;
    jx_val ci = jx_max(jx_min(x[0], jx_lit(x[0], nb - 1)), jx_lit(x[0], 0));
    for (int j = 0; j < n_out; j++) {
        res[j] = outs[nb - 1][j];
        for (int b = nb - 2; b >= 0; b--)
            res[j] = jx_select(jx_eq(ci, jx_lit(ci, b)), outs[b][j], res[j]);
    }
    return 0;
}

/* The while node nd (operands x: the carry) unrolled into t as FZ_WHILE_TRIPS guarded
 * steps, carry = select(cond(carry), body(carry), carry): the loop's final carry when it
 * stops within that many trips (the generator's loops do: at most 9), into res. 0 or -1. */
#define FZ_WHILE_TRIPS 10
static int fz_unroll_while(jx_trace *t, const jx_node *nd, const jx_val *x, jx_val *res) {
    jx_val p, next[JX_MAX_OPERANDS];
    for (int c = 0; c < nd->nin; c++) res[c] = x[c];
    for (int k = 0; k < FZ_WHILE_TRIPS; k++) {
        if (fz_unroll_into(t, nd->at.fns[0], res, &p) < 0 ||
            fz_unroll_into(t, nd->at.fns[1], res, next) < 0)
            return -1;
        for (int c = 0; c < nd->nin; c++) res[c] = jx_select(p, next[c], res[c]);
    }
    return 0;
}

/* Emits f on args into t, unrolled (see the file comment): its outputs into outs. 0, or
 * -1 (an error recorded on t). */
static int fz_unroll_into(jx_trace *t, const jx_fn *f, const jx_val *args, jx_val *outs) {
    jx_val *v = malloc((size_t)(f->n_nodes + 1) * sizeof *v), x[JX_MAX_OPERANDS];
    jx_val res[2 * JX_MAX_OPERANDS];
    int rc = v ? 0 : -1;
    for (int i = 0; v && i < f->n_in; i++) v[i] = args[i];
    for (int i = f->n_in; rc == 0 && i < f->n_nodes; i++) {
        const jx_node *nd = &f->nodes[i];
        for (int k = 0; k < nd->nin; k++) x[k] = v[nd->in[k]];
        if (nd->op == JX_OP_SCAN || nd->op == JX_OP_COND || ir_is_multi(f, i)) {
            int k = ir_n_gets(f, i);
            if (nd->op == JX_OP_SCAN) rc = fz_unroll_scan(t, nd, x, res);
            else if (nd->op == JX_OP_COND) rc = fz_unroll_cond(t, f, nd, x, res);
            else if (nd->op == JX_OP_WHILE) rc = fz_unroll_while(t, nd, x, res);
            else if (trace_emit_multi(nd->loc, t, nd->op, nd->nin, x, &nd->at, k, res) != k)
                rc = -1;
            for (int j = 0; j < k; j++) v[i + 1 + j] = res[j];
            i += k;
        } else if (nd->op == JX_OP_CHECKPOINT) {
            rc = fz_unroll_into(t, nd->at.fns[0], x, &v[i]);
        } else {
            v[i] = tx_replay(t, nd, x);
        }
    }
    for (int j = 0; rc == 0 && j < f->n_out; j++) outs[j] = v[f->outs[j]];
    free(v);
    return rc;
}

/* The unrolled form of f, or NULL with jx_error(). */
static jx_fn *fz_unroll(const jx_fn *f) {
    jx_type in[JX_MAX_OPERANDS];
    jx_val args[JX_MAX_OPERANDS], outs[JX_MAX_OPERANDS];
    if (f->n_in > JX_MAX_OPERANDS || f->n_out > JX_MAX_OPERANDS) return NULL;
    for (int i = 0; i < f->n_in; i++) in[i] = f->nodes[i].type;
    jx_trace *t = jx_trace_begin(f->n_in, in);
    if (!t) return NULL;
    for (int i = 0; i < f->n_in; i++) args[i] = jx_trace_input(t, i);
    if (fz_unroll_into(t, f, args, outs) < 0) {
        jx_trace_abort(t);
        return NULL;
    }
    return jx_trace_end(t, f->n_out, outs);
}

/* The number of nodes of f (sub-functions included, at any depth) with op `op`. */
static int fz_count_op(const jx_fn *f, jx_op op) {
    int n = 0;
    for (int i = 0; i < f->n_nodes; i++) {
        n += f->nodes[i].op == op;
        for (int k = 0; k < f->nodes[i].at.n_fns; k++) n += fz_count_op(f->nodes[i].at.fns[k], op);
    }
    return n;
}

#endif
