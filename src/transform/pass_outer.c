/* The outer-product pass: float dot_generals that contract nothing (outer products, batched
 * or not: what vmap(grad) makes of a dense layer's weight gradient, dW[b] = g[b] x[b]^T)
 * stop being GEMMs.
 *
 *  - A contraction over an outer product's batch axes, D = dot_general(s[B], O) with
 *    O[B, M, N] = dot_general(x[B, M], g[B, N], batch over B) and s contracting O's batch
 *    axes and having no other axis (DP-SGD's sum_b scale[b] g_b), becomes one GEMM of the
 *    scaled operand, dot_general(x * s, g) contracting B: M N B multiply-adds instead of
 *    reading B M N elements of O (which then often needs no buffer at all). O may have
 *    other readers; this reader no longer counts.
 *  - Every other outer product becomes mul(broadcast(x), broadcast(g)) in the
 *    dot_general's output layout (batch, lhs free, rhs free; transposes put the operands'
 *    axes in that order first). The JIT fuses it like any elementwise op: into its
 *    consumers (a per-example norm reads x and g, not O), or as one kernel writing O,
 *    vectorized along the last axis and split over the threads by bytes, instead of one
 *    K = 1 GEMM per batch element on one thread each. An elementwise op reading one outer
 *    product twice (its square, mul(O, O)) reads two copies, so that it still fuses.
 *
 * Values: the outer product's elements are x_i * g_j rounded once either way, so they are
 * bit for bit what the GEMM wrote. The contraction's terms become (x_i s_b) g_j instead of
 * s_b (x_i g_j) and are summed by OpenBLAS in its order, as before: the same sum up to
 * rounding. Integer dot_generals are left alone (the planner fuses them already). */
#include <stdlib.h>

#include "transform/passes.h"
#include "core/replay.h"
#include "transform/transform.h"
#include "core/util.h"

/* 1 if node n is a float dot_general contracting nothing. */
static int po_is_outer(const jx_node *n) {
    return n->op == JX_OP_DOT_GENERAL && (n->type.dtype == JX_F32 || n->type.dtype == JX_F64) &&
           ir_attr_ints(n, 0).n == 0 && ir_attr_ints(n, 1).n == 0;
}

/* x with its axes permuted by perm[0..rank) (x itself when perm is the identity). */
static jx_val po_permute(jx_loc loc, jx_val x, const int64_t *perm, int rank) {
    jx_ints p = {rank, {0}};
    int ident = 1;
    for (int k = 0; k < rank; k++) ident &= (p.v[k] = perm[k]) == k;
    return ident ? x : jx_transpose_at(loc, x, p);
}

/* Operand side of outer product n (0: lhs, 1: rhs) as seen from its output: the
 * operand's axes in output order (batch axes, then free axes ascending) into perm, their
 * output positions into dims. Returns the operand's rank. */
static int po_layout(const jx_fn *f, const jx_node *n, int side, int64_t *perm, int64_t *dims) {
    const jx_type *t = &f->nodes[n->in[side]].type;
    jx_ints b = ir_attr_ints(n, 2 + side);
    int used[JX_MAX_RANK] = {0}, k = 0, nlf = f->nodes[n->in[0]].type.rank - b.n;
    for (int i = 0; i < b.n; i++, k++) {
        perm[k] = b.v[i];
        dims[k] = i;
        used[b.v[i]] = 1;
    }
    for (int a = 0, j = 0; a < t->rank; a++) {
        if (used[a]) continue;
        perm[k] = a;
        dims[k++] = b.n + (side ? nlf : 0) + j++;
    }
    return t->rank;
}

/* Outer product node n re-emitted as mul(broadcast(lhs), broadcast(rhs)) on x[0..1]. */
static jx_val po_outer(replay *r, const jx_node *n, const jx_val *x) {
    jx_val v[2];
    jx_ints shape = {n->type.rank, {0}};
    for (int k = 0; k < n->type.rank; k++) shape.v[k] = n->type.shape[k];
    for (int side = 0; side < 2; side++) {
        int64_t perm[JX_MAX_RANK];
        jx_ints dims = {0, {0}};
        dims.n = po_layout(r->f, n, side, perm, dims.v);
        v[side] = po_permute(n->loc, x[side], perm, dims.n);
        if (dims.n != n->type.rank) v[side] = jx_broadcast_in_dim_at(n->loc, v[side], shape, dims);
    }
    return jx_mul_at(n->loc, v[0], v[1]);
}

/* For dot_general node d of f: the side (0 or 1) of its operand that is an outer product
 * O whose batch axes are exactly what d contracts on that side, the other operand
 * contracting all of its axes with them; -1 if there is none. */
static int po_contract_side(const jx_fn *f, const jx_node *d) {
    if (d->op != JX_OP_DOT_GENERAL || ir_attr_ints(d, 2).n > 0) return -1;
    for (int side = 0; side < 2; side++) {
        const jx_node *o = &f->nodes[d->in[side]], *s = &f->nodes[d->in[1 - side]];
        jx_ints oc = ir_attr_ints(d, side);
        int nb = ir_attr_ints(o, 2).n, seen[JX_MAX_RANK] = {0}, ok = po_is_outer(o);
        if (!ok || nb == 0 || oc.n != nb || s->type.rank != nb || o->type.dtype != s->type.dtype)
            continue;
        for (int i = 0; i < oc.n; i++) {
            ok &= oc.v[i] < nb && !seen[oc.v[i]];
            if (oc.v[i] < nb) seen[oc.v[i]] = 1;
        }
        if (ok) return side;
    }
    return -1;
}

/* Contraction d = dot_general(s, O) (O on side `side`, O = outer(x, g)) re-emitted as
 * dot_general(x * broadcast(s), g) contracting the batch axes (xs: the values of x, g and
 * s in the new trace). */
static jx_val po_contract(replay *r, const jx_node *d, int side, const jx_val *xs) {
    const jx_node *o = &r->f->nodes[d->in[side]];
    jx_ints oc = ir_attr_ints(d, side), sc = ir_attr_ints(d, 1 - side);
    jx_ints xb = ir_attr_ints(o, 2), gb = ir_attr_ints(o, 3);
    int nb = xb.n;
    int64_t xa[JX_MAX_RANK], perm[JX_MAX_RANK]; /* s's axis k goes to x's axis xa[k] */
    for (int i = 0; i < nb; i++) xa[sc.v[i]] = xb.v[oc.v[i]];
    for (int k = 0; k < nb; k++) perm[k] = k;
    for (int k = 1; k < nb; k++) /* s's axes in the order of x's */
        for (int j = k; j > 0 && xa[perm[j]] < xa[perm[j - 1]]; j--) {
            int64_t t = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = t;
        }
    const jx_type *xt = &r->f->nodes[o->in[0]].type;
    jx_ints shape = {xt->rank, {0}}, dims = {nb, {0}};
    for (int k = 0; k < xt->rank; k++) shape.v[k] = xt->shape[k];
    for (int k = 0; k < nb; k++) dims.v[k] = xa[perm[k]];
    jx_val s = po_permute(d->loc, xs[2], perm, nb);
    jx_val xsc = jx_mul_at(d->loc, xs[0], jx_broadcast_in_dim_at(d->loc, s, shape, dims));
    return jx_dot_general_at(d->loc, xsc, xs[1], xb, gb, JX_NOINTS, JX_NOINTS);
}

/* Elementwise node n re-emitted on x, reading a fresh copy of an outer product in each
 * operand slot after the first that names the same one (mul(O, O): each copy has one
 * reader and fuses, where O read twice would get a buffer; no cse runs after this pass). */
static jx_val po_elt_copies(replay *r, const jx_node *n, const jx_val *x) {
    jx_val xc[JX_MAX_OPERANDS];
    for (int k = 0; k < n->nin; k++) {
        xc[k] = x[k];
        const jx_node *o = &r->f->nodes[n->in[k]];
        int dup = 0;
        for (int j = 0; j < k; j++) dup |= n->in[j] == n->in[k];
        if (dup && po_is_outer(o)) {
            jx_val ox[2] = {trace_val(r->t, r->map[o->in[0]]), trace_val(r->t, r->map[o->in[1]])};
            xc[k] = po_outer(r, o, ox);
        }
    }
    return tx_replay(r->t, n, xc);
}

/* 1 if elementwise node n of f reads one outer product in several operand slots. */
static int po_rereads_outer(const jx_fn *f, const jx_node *n) {
    if (!prim_has(n->op, JXF_ELT) || n->nin > JX_MAX_OPERANDS) return 0;
    for (int k = 1; k < n->nin; k++)
        for (int j = 0; j < k; j++)
            if (n->in[j] == n->in[k] && po_is_outer(&f->nodes[n->in[k]])) return 1;
    return 0;
}

/* The replay rule: contractions over outer products and outer products rewritten (see
 * the header), every other node re-emitted. ctx counts the rewrites. */
static int po_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    const jx_node *n = &r->f->nodes[i];
    int side = po_contract_side(r->f, n);
    if (side >= 0) {
        const jx_node *o = &r->f->nodes[n->in[side]];
        jx_val xs[3] = {trace_val(r->t, r->map[o->in[0]]), trace_val(r->t, r->map[o->in[1]]),
                        x[1 - side]};
        *y = po_contract(r, n, side, xs);
    } else if (po_is_outer(n)) {
        *y = po_outer(r, n, x);
    } else if (po_rereads_outer(r->f, n)) {
        *y = po_elt_copies(r, n, x);
    } else {
        *y = tx_replay(r->t, n, x);
        return jx_val_bad(*y) ? -1 : 0;
    }
    ++*(int *)r->ctx;
    return jx_val_bad(*y) ? -1 : 0;
}

/* See passes.h. */
jx_fn *pass_outer(const jx_fn *f) {
    if (!f) {
        util_err("outer-product: NULL function");
        return NULL;
    }
    int n = 0;
    replay_spec spec = {.what = "outer-product", .n_out = f->n_out, .rule = po_rule};
    jx_fn *g = replay_fn(f, &spec, &n), *r = g && n ? pass_dce(g) : g;
    if (r != g) jx_fn_free(g);
    return r;
}
