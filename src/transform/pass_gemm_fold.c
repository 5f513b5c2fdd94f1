/* The gemm-fold pass: s = w - c * dot(a, b) (also dot * c, and add(w, m) / add(m, w)
 * with alpha = +c) becomes gemm(a, b, w, -c) = w + alpha * dot(a, b), which the JIT
 * plans as one GEMM with alpha and beta = 1 accumulating into s's buffer, which starts
 * as w (in place when w is a donated input): the SGD update costs no pass of its own.
 *
 * It fires only when nothing else could observe the difference or lose by it:
 *  - the dot is float, and it and the product are read only by the update (and are not
 *    outputs), and w, the dot and s have one type;
 *  - c is a rank-0 constant (or a broadcast of one), finite and nonzero: BLAS skips the
 *    product when alpha == 0 (so inf/NaN in the operands would not reach s, where the
 *    unfused ops give w + 0 * inf = NaN), and an infinite/NaN alpha need not give c * d
 *    elementwise either; or c is a traced rank-0 value of the dot's dtype (or a
 *    broadcast of one), such as an injected learning rate: the gemm's alpha is then
 *    that value (negated by a neg node for s = w - c * d), which the JIT's GEMM step reads
 *    at run time, and jx_rt_gemm computes the unfused ops' result itself when that
 *    alpha is 0 or not finite (runtime/rt_blas.c);
 *  - w is a value the planner keeps in a buffer anyway (an input, a non-scalar constant,
 *    an output, a dot or gemm, or a non-index node read twice): otherwise the unfused
 *    plan (GEMM, then one fused elementwise kernel) is as cheap;
 *  - neither operand of the dot is w itself, seen through transposes and reshapes (the
 *    GEMM would read the buffer it updates in place);
 *  - one fold per update node (in s = c*x + c*y only the first dot folds).
 * The rewrite is exact: gemm's meaning rounds alpha * dot and the sum as the unfused ops
 * do (-(c * d) == (-c) * d in IEEE arithmetic). */
#include <math.h>
#include <stdlib.h>

#include "transform/passes.h"
#include "core/replay.h"
#include "transform/transform.h"
#include "core/util.h"

/* Use counts of the nodes of f reachable from its outputs (an output counts as a use). */
typedef struct gf_uses {
    int *uses;         /* operand slots of live nodes and output slots naming each node */
    int *consumer;     /* the last live node reading each node */
    unsigned char *out; /* 1 if the node is an output */
} gf_uses;

/* Fills u for f. Returns 0 or -1 on OOM. */
static int gf_count(const jx_fn *f, gf_uses *u) {
    size_t n = (size_t)f->n_nodes + 1;
    unsigned char *live = calloc(n, 1);
    u->uses = calloc(n, sizeof *u->uses);
    u->consumer = calloc(n, sizeof *u->consumer);
    u->out = calloc(n, 1);
    if (!live || !u->uses || !u->consumer || !u->out) {
        free(live);
        return util_err("gemm-fold: out of memory counting the uses of %d nodes", f->n_nodes);
    }
    for (int j = 0; j < f->n_out; j++) u->out[f->outs[j]] = 1;
    pass_mark_live(f, live, u->uses, u->consumer);
    free(live);
    return 0;
}

/* See passes.h. */
int pass_scalar_const(const jx_fn *f, int32_t id, double *v) {
    const jx_node *n = &f->nodes[id];
    if (n->op == JX_OP_BROADCAST_IN_DIM) n = &f->nodes[n->in[0]];
    if (n->op != JX_OP_CONSTANT || n->type.rank != 0 || !n->at.value) return 0;
    *v = jx_array_get(n->at.value, 0);
    return 1;
}

/* The traced scalar under node id of f: id itself if it is a non-constant rank-0 value
 * of dtype dt, or the operand of a broadcast_in_dim of one; else -1. */
static int32_t gf_traced_scalar(const jx_fn *f, int32_t id, jx_dtype dt) {
    const jx_node *n = &f->nodes[id];
    if (id >= f->n_in && n->op == JX_OP_BROADCAST_IN_DIM) n = &f->nodes[id = n->in[0]];
    if (n->type.rank != 0 || n->type.dtype != dt) return -1;
    return id < f->n_in || n->op != JX_OP_CONSTANT ? id : -1;
}

/* 1 if node w of f has a buffer of its own in any plan (see the header comment). */
static int gf_has_buffer(const jx_fn *f, const gf_uses *u, int32_t w) {
    const jx_node *n = &f->nodes[w];
    if (w < f->n_in || u->out[w]) return 1;
    if (n->op == JX_OP_CONSTANT) return n->type.rank > 0;
    if (n->op == JX_OP_DOT_GENERAL || n->op == JX_OP_GEMM) return 1;
    return u->uses[w] > 1 && !prim_has(n->op, JXF_INDEX) && n->op != JX_OP_IOTA;
}

/* 1 if node x of f is w seen through transposes and reshapes. */
static int gf_views(const jx_fn *f, int32_t x, int32_t w) {
    while (x != w && x >= f->n_in &&
           (f->nodes[x].op == JX_OP_TRANSPOSE || f->nodes[x].op == JX_OP_RESHAPE))
        x = f->nodes[x].in[0];
    return x == w;
}

/* The fold at one update node: its dot (-1: none), w, and alpha: the constant alpha, or
 * (alpha_node >= 0) the traced scalar alpha_node, negated when neg. */
typedef struct gf_fold {
    int32_t dot, w, alpha_node;
    int neg;
    double alpha;
} gf_fold;

/* For the dot node d: the update node s it folds into (s = w + alpha * d), setting
 * fo->w and the alpha fields, or -1 if it does not fold. */
static int32_t gf_target(const jx_fn *f, const gf_uses *u, int32_t d, gf_fold *fo) {
    const jx_node *dn = &f->nodes[d];
    if (dn->op != JX_OP_DOT_GENERAL || (dn->type.dtype != JX_F32 && dn->type.dtype != JX_F64))
        return -1;
    if (u->uses[d] != 1 || u->out[d]) return -1;
    int32_t m = u->consumer[d];
    const jx_node *mn = &f->nodes[m];
    double c = 0;
    if (mn->op != JX_OP_MUL || u->uses[m] != 1 || u->out[m] || mn->in[0] == mn->in[1])
        return -1;
    int32_t cn = mn->in[mn->in[0] == d ? 1 : 0];
    fo->alpha_node = -1;
    if (pass_scalar_const(f, cn, &c)) {
        if (!isfinite(c) || c == 0) return -1;
    } else if ((fo->alpha_node = gf_traced_scalar(f, cn, dn->type.dtype)) < 0) {
        return -1;
    }
    int32_t s = u->consumer[m];
    const jx_node *sn = &f->nodes[s];
    if (sn->op == JX_OP_SUB && sn->in[1] == m && sn->in[0] != m) {
        fo->w = sn->in[0];
        fo->alpha = -c;
        fo->neg = 1;
    } else if (sn->op == JX_OP_ADD && (sn->in[0] == m) != (sn->in[1] == m)) {
        fo->w = sn->in[sn->in[0] == m ? 1 : 0];
        fo->alpha = c;
        fo->neg = 0;
    } else {
        return -1;
    }
    if (!jx_type_eq(&f->nodes[fo->w].type, &dn->type) || !jx_type_eq(&sn->type, &dn->type))
        return -1;
    if (!gf_has_buffer(f, u, fo->w) || gf_views(f, dn->in[0], fo->w) ||
        gf_views(f, dn->in[1], fo->w))
        return -1;
    return s;
}

/* The replay rule: emits gemm at each update node i with fold[i].dot >= 0 (its dot and
 * product become dead) and re-emits every other node. */
static int gf_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    const gf_fold *fold = r->ctx;
    const jx_node *n = &r->f->nodes[i];
    if (fold[i].dot < 0) {
        *y = tx_replay(r->t, n, x);
        return jx_val_bad(*y) ? -1 : 0;
    }
    const jx_node *d = &r->f->nodes[fold[i].dot];
    jx_val alpha;
    if (fold[i].alpha_node < 0) {
        alpha = jx_scalar_at(n->loc, r->t, n->type.dtype, fold[i].alpha);
    } else {
        alpha = trace_val(r->t, r->map[fold[i].alpha_node]);
        if (fold[i].neg) alpha = jx_neg_at(n->loc, alpha);
    }
    *y = dot_gemm_at(n->loc, trace_val(r->t, r->map[d->in[0]]), trace_val(r->t, r->map[d->in[1]]),
                     trace_val(r->t, r->map[fold[i].w]), alpha, ir_attr_ints(d, 0),
                     ir_attr_ints(d, 1), ir_attr_ints(d, 2), ir_attr_ints(d, 3));
    return jx_val_bad(*y) ? -1 : 0;
}

/* See passes.h. */
jx_fn *pass_gemm_fold(const jx_fn *f) {
    if (!f) {
        util_err("gemm-fold: NULL function");
        return NULL;
    }
    gf_uses u = {NULL, NULL, NULL};
    gf_fold *fold = malloc(((size_t)f->n_nodes + 1) * sizeof *fold);
    jx_fn *g = NULL, *r = NULL;
    int nfold = 0;
    if (!fold) util_err("gemm-fold: out of memory planning %d nodes", f->n_nodes);
    if (!fold || gf_count(f, &u) < 0) goto done;
    for (int i = 0; i < f->n_nodes; i++) fold[i].dot = -1;
    for (int32_t d = f->n_in; d < f->n_nodes; d++) {
        gf_fold one;
        int32_t s = gf_target(f, &u, d, &one);
        if (s < 0 || fold[s].dot >= 0) continue; /* one fold per update node */
        one.dot = d;
        fold[s] = one;
        nfold++;
    }
    /* the folded dots and products are dead now: dce drops them */
    replay_spec spec = {.what = "gemm-fold", .n_out = f->n_out, .rule = gf_rule};
    g = replay_fn(f, &spec, fold);
    if (g) r = nfold ? pass_dce(g) : g;
    if (r != g) jx_fn_free(g);
done:
    free(fold);
    free(u.uses);
    free(u.consumer);
    free(u.out);
    return r;
}
