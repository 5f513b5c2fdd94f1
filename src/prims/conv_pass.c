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
 *   and with it reduce_sum(g) over (n, oh, ow), the conv's bias gradient, as the filter
 *       gradient's bias row (one pass over g instead of two)
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
enum { PC_KEEP, PC_CONV, PC_INPUT, PC_FILTER, PC_BIAS };

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

/* The pass's plan: what happens at each node; for a filter gradient, the reduce_sum of
 * its g over (n, oh, ow) (the conv's bias gradient, computed as the bias row) and back;
 * the filter gradient's value once emitted ([KH*KW*C(+1), O], at the filter node). */
typedef struct pc_plan {
    unsigned char *kind;
    int32_t *partner;
    jx_val *full;
} pc_plan;

/* Links each filter gradient d of f to a reduce_sum of its g over axes (0,1,2) of its
 * dtype, if one exists after the image the gradient reads (the first of the two nodes
 * emits both). */
static void pc_link_bias(const jx_fn *f, pc_plan *pl) {
    static const int64_t ax[3] = {0, 1, 2};
    for (int32_t d = f->n_in; d < f->n_nodes; d++) {
        if (pl->kind[d] != PC_FILTER) continue;
        const jx_node *dn = &f->nodes[d];
        int32_t g = dn->in[1], x = f->nodes[dn->in[0]].in[0];
        for (int32_t r = x + 1; r < f->n_nodes; r++) {
            const jx_node *rn = &f->nodes[r];
            if (rn->op == JX_OP_REDUCE_SUM && rn->in[0] == g && pl->kind[r] == PC_KEEP &&
                pc_attr_is(rn, 0, 3, ax) && rn->type.rank == 1 &&
                rn->type.dtype == dn->type.dtype) {
                pl->kind[r] = PC_BIAS;
                pl->partner[r] = d;
                pl->partner[d] = r;
                break;
            }
        }
    }
}

/* The filter gradient of filter node d ([KH*KW*C(+1 with a bias partner), O]), emitted at
 * the first of d and its partner to be replayed. */
static jx_val pc_filter(replay *r, pc_plan *pl, int32_t d) {
    if (pl->full[d].t) return pl->full[d];
    const jx_node *dn = &r->f->nodes[d], *src = &r->f->nodes[dn->in[0]];
    jx_ints a[4];
    pc_attrs(src, a);
    jx_val x = trace_val(r->t, r->map[src->in[0]]), g = trace_val(r->t, r->map[dn->in[1]]);
    jx_val part = cd_backprop_filter_at(dn->loc, x, g, cd_slices(jx_val_type(x).shape[0]),
                                        pl->partner[d] >= 0, a);
    return pl->full[d] = jx_reduce_sum_at(dn->loc, part, JX_INTS(0));
}

/* The replay rule: emits the direct op at each rewritten node, re-emits the others. */
static int pc_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    pc_plan *pl = r->ctx;
    const jx_node *n = &r->f->nodes[i];
    jx_ints a[4];
    int kind = pl->kind[i];
    if (kind == PC_KEEP) {
        *y = tx_replay(r->t, n, x);
        return jx_val_bad(*y) ? -1 : 0;
    }
    if (kind == PC_FILTER || kind == PC_BIAS) {
        int32_t d = kind == PC_FILTER ? i : pl->partner[i];
        jx_val full = pc_filter(r, pl, d);
        jx_type ft = jx_val_type(full);
        int64_t rows = ft.shape[0] - (pl->partner[d] >= 0), o = ft.shape[1];
        if (kind == PC_BIAS)
            *y = jx_reshape_at(
                n->loc,
                jx_slice_at(n->loc, full, JX_INTS(rows, 0), JX_INTS(rows + 1, o), JX_INTS(1, 1)),
                JX_INTS(o));
        else
            *y = pl->partner[d] < 0
                     ? full
                     : jx_slice_at(n->loc, full, JX_INTS(0, 0), JX_INTS(rows, o), JX_INTS(1, 1));
        return jx_val_bad(*y) ? -1 : 0;
    }
    const jx_node *src = &r->f->nodes[n->in[0]]; /* the patches, or the dot */
    jx_val s0 = trace_val(r->t, r->map[src->in[0]]);
    jx_val s1 = trace_val(r->t, r->map[src->in[1]]);
    if (kind == PC_CONV) {
        pc_attrs(src, a);
        *y = cd_conv_at(n->loc, s0, x[1], a);
    } else {
        pc_attrs(n, a);
        *y = cd_backprop_input_at(n->loc, s0, s1, n->type.shape[1], n->type.shape[2], a);
    }
    return jx_val_bad(*y) ? -1 : 0;
}

/* See passes.h. */
jx_fn *pass_conv_direct(const jx_fn *f) {
    if (!f) {
        util_err("conv-direct: NULL function");
        return NULL;
    }
    size_t n = (size_t)f->n_nodes + 1;
    pc_plan pl = {calloc(n, 1), malloc(n * sizeof(int32_t)), calloc(n, sizeof(jx_val))};
    jx_fn *g = NULL, *r = NULL;
    if (!pl.kind || !pl.partner || !pl.full) {
        util_err("conv-direct: out of memory planning %d nodes", f->n_nodes);
        goto done;
    }
    int nrw = 0;
    for (int i = 0; i < f->n_nodes; i++) pl.partner[i] = -1;
    for (int i = f->n_in; i < f->n_nodes; i++)
        nrw += (pl.kind[i] = (unsigned char)pc_kind(f, i)) != 0;
    pc_link_bias(f, &pl);
    replay_spec spec = {.what = "conv-direct", .n_out = f->n_out, .rule = pc_rule};
    g = replay_fn(f, &spec, &pl);
    r = g && nrw ? pass_dce(g) : g;
    if (r != g) jx_fn_free(g);
done:
    free(pl.kind);
    free(pl.partner);
    free(pl.full);
    return r;
}
