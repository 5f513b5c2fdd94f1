/* The conv-direct pass: the patch form of a convolution (conv_patches + dot_general, as
 * jx_conv2d and its derivatives trace it) becomes the direct convolution primitives of
 * src/prims/conv_direct.h where the shape rule there (cd_choose_direct) prefers them:
 *
 *   dot_general(conv_patches(x), w)  contracting the patch axis with w's rows
 *       -> conv(x, w)
 *   conv_patches_t(dot_general(g, w)) contracting g's channels with w's columns
 *       -> conv_backprop_input(g, w)
 *   dot_general(conv_patches(x), g)  contracting (n, oh, ow)
 *       -> reduce_sum(conv_backprop_filter(x, g), axis 0)   (S batch slices, cd_slices)
 *
 * Each rewrite is exact up to the order of the float additions. Patch tensors left
 * without readers are dropped (dce). Other shapes keep the patch GEMMs. The JIT runs the
 * pass after every transformation (PASS_JIT_PIPELINE), before gemm-fold. */
#include <stdlib.h>

#include "core/replay.h"
#include "core/util.h"
#include "prims/conv_direct.h"
#include "transform/passes.h"
#include "transform/transform.h"

/* What the pass does at a node. */
enum { PC_KEEP, PC_CONV, PC_INPUT, PC_FILTER };

/* 1 if attribute k of dot node d is exactly the n values v. */
static int pc_attr_is(const jx_node *d, int k, int n, const int64_t *v) {
    jx_ints a = ir_attr_ints(d, k);
    if (a.n != n) return 0;
    for (int i = 0; i < n; i++)
        if (a.v[i] != v[i]) return 0;
    return 1;
}

/* 1 if dot node d contracts lhs axes lc[0..n) with rhs axes rc[0..n), no batch axes. */
static int pc_dot_is(const jx_node *d, int n, const int64_t *lc, const int64_t *rc) {
    return d->op == JX_OP_DOT_GENERAL && pc_attr_is(d, 0, n, lc) && pc_attr_is(d, 1, n, rc) &&
           ir_attr_ints(d, 2).n == 0 && ir_attr_ints(d, 3).n == 0 &&
           (d->type.dtype == JX_F32 || d->type.dtype == JX_F64);
}

/* The rewrite of node i of f (PC_*), given the shape rule's choice. */
static int pc_kind(const jx_fn *f, int i) {
    const jx_node *n = &f->nodes[i];
    static const int64_t c3[1] = {3}, c0[1] = {0}, c1[1] = {1}, c012[3] = {0, 1, 2};
    jx_op op;
    const jx_node *p = NULL;
    if (n->op == JX_OP_DOT_GENERAL && n->in[0] >= f->n_in)
        p = &f->nodes[n->in[0]];
    if (p && p->op == JX_OP_CONV_PATCHES && pc_dot_is(n, 1, c3, c0) &&
        f->nodes[n->in[1]].type.rank == 2)
        op = JX_OP_CONV;
    else if (p && p->op == JX_OP_CONV_PATCHES && pc_dot_is(n, 3, c012, c012) &&
             f->nodes[n->in[1]].type.rank == 4)
        op = JX_OP_CONV_BACKPROP_FILTER;
    else if (n->op == JX_OP_CONV_PATCHES_T && n->in[0] >= f->n_in &&
             pc_dot_is(&f->nodes[n->in[0]], 1, c3, c1) &&
             f->nodes[f->nodes[n->in[0]].in[0]].type.rank == 4 &&
             f->nodes[f->nodes[n->in[0]].in[1]].type.rank == 2)
        op = JX_OP_CONV_BACKPROP_INPUT;
    else
        return PC_KEEP;
    /* the geometry the new node would have, through a stand-in node */
    jx_node tmp = op == JX_OP_CONV_BACKPROP_INPUT ? *n : *p;
    const jx_node *d = op == JX_OP_CONV_BACKPROP_INPUT ? &f->nodes[n->in[0]] : n;
    const jx_type *in0 = &f->nodes[op == JX_OP_CONV_BACKPROP_INPUT ? d->in[0] : p->in[0]].type;
    const jx_type *in1 = &f->nodes[d->in[1]].type;
    tmp.op = op;
    tmp.type = n->type;
    if (op == JX_OP_CONV_BACKPROP_FILTER)
        tmp.type = (jx_type){n->type.dtype, 3, {1, n->type.shape[0], n->type.shape[1]}};
    cd_geom g;
    cd_geom_of(&tmp, in0, in1, &g);
    if (op == JX_OP_CONV_BACKPROP_FILTER) g.s = cd_slices(g.n);
    if (!cd_choose_direct(op, &g, n->type.dtype)) return PC_KEEP;
    return op == JX_OP_CONV ? PC_CONV : op == JX_OP_CONV_BACKPROP_INPUT ? PC_INPUT : PC_FILTER;
}

/* The four conv attributes of node n. */
static void pc_attrs(const jx_node *n, jx_ints *a) {
    for (int k = 0; k < 4; k++) a[k] = ir_attr_ints(n, k);
}

/* The replay rule: emits the direct op at each rewritten node, re-emits the others. */
static int pc_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    const unsigned char *kind = r->ctx;
    const jx_node *n = &r->f->nodes[i];
    jx_ints a[4];
    if (kind[i] == PC_KEEP) {
        *y = tx_replay(r->t, n, x);
        return jx_val_bad(*y) ? -1 : 0;
    }
    const jx_node *src = &r->f->nodes[n->in[0]]; /* the patches, or the dot */
    jx_val s0 = trace_val(r->t, r->map[src->in[0]]);
    jx_val s1 = trace_val(r->t, r->map[src->in[1]]);
    if (kind[i] == PC_CONV) {
        pc_attrs(src, a);
        *y = cd_conv_at(n->loc, s0, x[1], a);
    } else if (kind[i] == PC_INPUT) {
        pc_attrs(n, a);
        *y = cd_backprop_input_at(n->loc, s0, s1, n->type.shape[1], n->type.shape[2], a);
    } else {
        pc_attrs(src, a);
        jx_val part = cd_backprop_filter_at(n->loc, s0, x[1],
                                            cd_slices(jx_val_type(s0).shape[0]), a);
        *y = jx_reduce_sum_at(n->loc, part, JX_INTS(0));
    }
    return jx_val_bad(*y) ? -1 : 0;
}

/* See passes.h. */
jx_fn *pass_conv_direct(const jx_fn *f) {
    if (!f) {
        util_err("conv-direct: NULL function");
        return NULL;
    }
    unsigned char *kind = calloc((size_t)f->n_nodes + 1, 1);
    if (!kind) {
        util_err("conv-direct: out of memory planning %d nodes", f->n_nodes);
        return NULL;
    }
    int nrw = 0;
    for (int i = f->n_in; i < f->n_nodes; i++) nrw += (kind[i] = (unsigned char)pc_kind(f, i)) != 0;
    replay_spec spec = {.what = "conv-direct", .n_out = f->n_out, .rule = pc_rule};
    jx_fn *g = replay_fn(f, &spec, kind), *r = g && nrw ? pass_dce(g) : g;
    if (r != g) jx_fn_free(g);
    free(kind);
    return r;
}
