/* Fusion: partitions a jx_fn into steps.
 *
 * Every primitive except float dot_general is "gather form": element o of its output is
 * a pure function of operand elements at indices computed from o (reductions, argmax,
 * integer dot and conv_patches_t with an inner loop). So a loop kernel is a root node
 * with a buffer plus the tree of FUSED nodes under it, recomputed at whatever index the
 * consumer asks for. The rules that keep this always right and never asymptotically
 * slower than the interpreter:
 *  - outputs, dot_general results and operands a consumer reads more than once per
 *    element of the operand (expanding broadcast, conv_patches, threefry, pad value,
 *    integer dot) get buffers, unless they are "index-only" (parameters, constants,
 *    iota, and broadcast/reshape/transpose/slice/rev of those or of buffers), which cost
 *    a load and are recomputed freely;
 *  - a node used by several consumers gets a buffer unless it is index-only;
 *  - a reduction over leading axes (its operand's last axis kept) of 1024 or more
 *    elements gets a buffer and its own kernel, which streams over the operand's rows
 *    (fused into its consumer, its inner loop would stride across rows);
 *  - everything else is fused into its single consumer.
 * Float dot_general becomes one cblas GEMM per batch element; transposes and reshapes
 * of its operands fold into the trans flags and leading dimensions when the strides
 * allow, otherwise a synthetic transpose kernel copies the operand to a canonical
 * layout first. s = w - c * dot(a, b) (also dot * c, and + for add) with c a scalar
 * constant and the dot and the mul read only there becomes one GEMM with alpha = -c and
 * beta = 1 accumulating into s's buffer, which starts as w (in place when w is a donated
 * input): the SGD update costs no pass of its own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"
#include "util.h"

/* 1 if n is elementwise. */
int jit_is_elt(const jit_plan *p, int n) {
    jx_op op = p->nodes[n].op;
    return op >= 0 && (prim_info(op)->flags & JXF_ELT);
}

/* 1 for ops that only move elements by index (cheap to recompute over a buffer). */
static int pl_index_op(jx_op op) {
    return op == JX_OP_BROADCAST_IN_DIM || op == JX_OP_RESHAPE || op == JX_OP_TRANSPOSE ||
           op == JX_OP_SLICE || op == JX_OP_REV;
}

/* 1 if consumer c reads operand slot k more than once per operand element. */
static int pl_rereads(const jx_fn *f, const jx_node *c, int k) {
    switch (c->op) {
    case JX_OP_BROADCAST_IN_DIM: {
        jx_type t = c->type, x = f->nodes[c->in[0]].type;
        return jx_type_size(&t) > jx_type_size(&x);
    }
    case JX_OP_CONV_PATCHES:
    case JX_OP_THREEFRY2X32:
    case JX_OP_DOT_GENERAL:
        return 1;
    case JX_OP_PAD: return k == 1;
    default: return 0;
    }
}

/* Reserves n int64 slots of attribute storage; NULL on OOM. */
static int64_t *pl_pool(jit_plan *p, int n) {
    if (p->pool_used + n > p->pool_cap) return NULL;
    int64_t *r = p->pool + p->pool_used;
    p->pool_used += n;
    return r;
}

/* Appends a step; returns its index or -1 on OOM. */
static int pl_add_step(jit_plan *p, jp_step s) {
    jp_step *ns = realloc(p->steps, ((size_t)p->n_steps + 1) * sizeof *ns);
    if (!ns) return -1;
    p->steps = ns;
    s.group = p->n_steps;
    p->steps[p->n_steps] = s;
    return p->n_steps++;
}

/* A strided view of a buffer node: element (i0..) is at sum i_k * stride[k]. */
typedef struct pl_view {
    int base;
    int rank;
    int64_t shape[JX_MAX_RANK], stride[JX_MAX_RANK];
} pl_view;

/* Resolves node n to a view of a buffer through transposes and contiguous reshapes.
 * Returns 1 on success. */
static int pl_resolve_view(const jit_plan *p, int n, pl_view *v) {
    const jx_node *nd = &p->nodes[n];
    jp_kind k = p->buf[n].kind;
    if (k == JP_PARAM || k == JP_CONST || k == JP_ARENA || k == JP_OUT) {
        v->base = n;
        v->rank = nd->type.rank;
        memcpy(v->shape, nd->type.shape, sizeof v->shape);
        util_strides(v->rank, v->shape, v->stride);
        return 1;
    }
    if (k != JP_FUSED) return 0;
    if (nd->op == JX_OP_TRANSPOSE) {
        pl_view w;
        if (!pl_resolve_view(p, nd->in[0], &w)) return 0;
        jx_ints perm = ir_attr_ints(nd, 0);
        *v = w;
        for (int i = 0; i < perm.n; i++) {
            v->shape[i] = w.shape[perm.v[i]];
            v->stride[i] = w.stride[perm.v[i]];
        }
        return 1;
    }
    if (nd->op == JX_OP_RESHAPE) {
        pl_view w;
        if (!pl_resolve_view(p, nd->in[0], &w)) return 0;
        int64_t rs[JX_MAX_RANK];
        util_strides(w.rank, w.shape, rs);
        for (int i = 0; i < w.rank; i++)
            if (w.shape[i] > 1 && rs[i] != w.stride[i]) return 0; /* not contiguous */
        v->base = w.base;
        v->rank = nd->type.rank;
        memcpy(v->shape, nd->type.shape, sizeof v->shape);
        util_strides(v->rank, v->shape, v->stride);
        return 1;
    }
    return 0;
}

/* Merges axes ax[0..n-1] of view v (in that flattening order) into one dimension.
 * Returns 1 and its size and stride (stride 0 when the size is <= 1) if the axes are
 * mergeable. */
static int pl_merge(const pl_view *v, int n, const int *ax, int64_t *size, int64_t *stride) {
    int64_t sz = 1, st = 0, prev_st = -1;
    for (int i = n - 1; i >= 0; i--) { /* innermost first */
        int64_t d = v->shape[ax[i]];
        if (d == 1) continue;
        if (prev_st < 0) st = v->stride[ax[i]];
        else if (v->stride[ax[i]] != prev_st) return 0;
        prev_st = v->stride[ax[i]] * d;
        sz *= d;
    }
    for (int i = 0; i < n; i++) sz *= v->shape[ax[i]] == 0 ? 0 : 1;
    *size = sz;
    *stride = sz <= 1 ? 0 : st;
    return 1;
}

/* Operand layout for GEMM: rows group r (size R, stride rs) and cols group c; sets
 * trans and ld so that the operand is op(X) of shape R x C. Returns 1 if possible. */
static int pl_ld(int64_t r, int64_t rs, int64_t c, int64_t cs, int *trans, int64_t *ld) {
    int64_t minc = c > 1 ? c : 1, minr = r > 1 ? r : 1;
    if ((c <= 1 || cs == 1) && (r <= 1 || rs >= minc)) {
        *trans = 0;
        *ld = r <= 1 ? minc : rs;
        return 1;
    }
    if ((r <= 1 || rs == 1) && (c <= 1 || cs >= minr)) {
        *trans = 1;
        *ld = c <= 1 ? minr : cs;
        return 1;
    }
    return 0;
}

/* Axes of a dot operand: batch, contract (paired order) and free (increasing). */
typedef struct pl_dot_axes {
    int nb, nc, nf;
    int b[JX_MAX_RANK], c[JX_MAX_RANK], f[JX_MAX_RANK];
} pl_dot_axes;

/* Reads lhs (side 0) or rhs (side 1) axes of dot node d. */
static pl_dot_axes pl_axes(const jx_node *d, int side, int rank) {
    pl_dot_axes a;
    memset(&a, 0, sizeof a);
    jx_ints c = ir_attr_ints(d, side), b = ir_attr_ints(d, 2 + side);
    int used[JX_MAX_RANK] = {0};
    a.nb = b.n;
    a.nc = c.n;
    for (int i = 0; i < b.n; i++) used[a.b[i] = (int)b.v[i]] = 1;
    for (int i = 0; i < c.n; i++) used[a.c[i] = (int)c.v[i]] = 1;
    for (int i = 0; i < rank; i++)
        if (!used[i]) a.f[a.nf++] = i;
    return a;
}

/* Tries to express dot node d over views l, r as a GEMM with contraction order perm.
 * Returns 1 and fills g. */
static int pl_try_gemm(const jx_node *d, const pl_view *l, const pl_view *r, const int *perm,
                       jp_gemm *g) {
    pl_dot_axes la = pl_axes(d, 0, l->rank), ra = pl_axes(d, 1, r->rank);
    int lc[JX_MAX_RANK], rc[JX_MAX_RANK];
    for (int i = 0; i < la.nc; i++) {
        lc[i] = la.c[perm[i]];
        rc[i] = ra.c[perm[i]];
    }
    int64_t m, ms, n, ns, k1, k1s, k2, k2s;
    if (!pl_merge(l, la.nf, la.f, &m, &ms) || !pl_merge(r, ra.nf, ra.f, &n, &ns) ||
        !pl_merge(l, la.nc, lc, &k1, &k1s) || !pl_merge(r, ra.nc, rc, &k2, &k2s))
        return 0;
    if (m == 0 || n == 0 || k1 == 0) { /* nothing is read: any legal layout */
        g->trans_a = g->trans_b = 0;
        g->lda = k1 > 1 ? k1 : 1;
        g->ldb = n > 1 ? n : 1;
    } else if (!pl_ld(m, ms, k1, k1s, &g->trans_a, &g->lda) ||
               !pl_ld(k2, k2s, n, ns, &g->trans_b, &g->ldb)) {
        return 0;
    }
    g->a = l->base;
    g->b = r->base;
    g->m = m;
    g->n = n;
    g->k = k1;
    g->ldc = n > 1 ? n : 1;
    g->nb = la.nb;
    for (int i = 0; i < la.nb; i++) {
        g->bshape[i] = l->shape[la.b[i]];
        g->a_bstride[i] = l->stride[la.b[i]];
        g->b_bstride[i] = r->stride[ra.b[i]];
    }
    return 1;
}

/* Contraction order sorted by decreasing stride of view v along axes c[0..n-1]. */
static void pl_perm_by_stride(const pl_view *v, int n, const int *c, int *perm) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v->stride[c[perm[j]]] > v->stride[c[perm[j - 1]]]; j--) {
            int t = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = t;
        }
}

/* Appends a synthetic transpose node copying operand x of dot d (side 0/1) into the
 * canonical layout (batch, free, contract) for lhs or (batch, contract, free) for rhs,
 * as a kernel step with an arena buffer, and rewrites nothing: returns the new node id
 * (or -1 on OOM). */
static int pl_canonical_copy(jit_plan *p, const jx_node *d, int side) {
    int x = d->in[side];
    const jx_type *xt = &p->nodes[x].type;
    pl_dot_axes a = pl_axes(d, side, xt->rank);
    int64_t *perm = pl_pool(p, JX_MAX_RANK);
    if (!perm || p->n_nodes >= p->cap) return -1;
    int k = 0;
    for (int i = 0; i < a.nb; i++) perm[k++] = a.b[i];
    if (side == 0) {
        for (int i = 0; i < a.nf; i++) perm[k++] = a.f[i];
        for (int i = 0; i < a.nc; i++) perm[k++] = a.c[i];
    } else {
        for (int i = 0; i < a.nc; i++) perm[k++] = a.c[i];
        for (int i = 0; i < a.nf; i++) perm[k++] = a.f[i];
    }
    int id = p->n_nodes++;
    jx_node *t = &p->nodes[id];
    memset(t, 0, sizeof *t);
    t->op = JX_OP_TRANSPOSE;
    t->nin = 1;
    int32_t *in = (int32_t *)(void *)pl_pool(p, 1);
    if (!in) return -1;
    in[0] = x;
    t->in = in;
    t->type = *xt;
    for (int i = 0; i < k; i++) t->type.shape[i] = xt->shape[perm[i]];
    t->at.n[0] = k;
    t->at.v[0] = perm;
    t->loc = d->loc;
    p->buf[id] = (jp_buf){JP_ARENA, -1, 0, 0, -1, -1};
    p->uses[id] = 1;
    if (pl_add_step(p, (jp_step){JS_KERNEL, id, 0, -1, {0}, 0}) < 0) return -1;
    return id;
}

/* Plans the float dot_general node d as a GEMM step (adding canonical copies of its
 * operands first when their layouts cannot be folded) writing node target's buffer as
 * alpha * d, plus node init's value if init >= 0. Returns 0 or -1. */
static int pl_plan_gemm(jit_plan *p, int d, int target, double alpha, int init) {
    const jx_node *nd = &p->nodes[d];
    jp_gemm g;
    memset(&g, 0, sizeof g);
    pl_view l, r;
    int okl = pl_resolve_view(p, nd->in[0], &l), okr = pl_resolve_view(p, nd->in[1], &r);
    int nc = ir_attr_ints(nd, 0).n, perm[JX_MAX_RANK], done = 0;
    pl_dot_axes la = pl_axes(nd, 0, p->nodes[nd->in[0]].type.rank);
    pl_dot_axes ra = pl_axes(nd, 1, p->nodes[nd->in[1]].type.rank);
    if (okl && okr) {
        pl_perm_by_stride(&l, nc, la.c, perm);
        done = pl_try_gemm(nd, &l, &r, perm, &g);
        if (!done) {
            pl_perm_by_stride(&r, nc, ra.c, perm);
            done = pl_try_gemm(nd, &l, &r, perm, &g);
        }
    }
    if (!done) {
        /* Copy whichever operand does not fold under the identity contraction order. */
        for (int i = 0; i < nc; i++) perm[i] = i;
        if (okl && okr && pl_try_gemm(nd, &l, &r, perm, &g)) done = 1;
    }
    if (!done) {
        /* copy both operands to canonical layouts, lhs (b, f, c) and rhs (b, c, f), whose
         * contraction axes are in pair order, so the identity order folds */
        jx_node dd = *nd;
        int64_t *attrs = pl_pool(p, 4 * JX_MAX_RANK);
        if (!attrs) return -1;
        for (int side = 0; side < 2; side++) {
            int c = pl_canonical_copy(p, &dd, side);
            if (c < 0) return -1;
            pl_resolve_view(p, c, side ? &r : &l);
        }
        int nb = la.nb;
        int64_t *lc = attrs, *rc = attrs + JX_MAX_RANK, *lb = attrs + 2 * JX_MAX_RANK,
                *rb = attrs + 3 * JX_MAX_RANK;
        for (int i = 0; i < nb; i++) lb[i] = rb[i] = i;
        for (int i = 0; i < nc; i++) {
            lc[i] = nb + la.nf + i;
            rc[i] = nb + i;
        }
        dd.at.n[0] = dd.at.n[1] = nc;
        dd.at.n[2] = dd.at.n[3] = nb;
        dd.at.v[0] = lc;
        dd.at.v[1] = rc;
        dd.at.v[2] = lb;
        dd.at.v[3] = rb;
        for (int i = 0; i < nc; i++) perm[i] = i;
        if (!pl_try_gemm(&dd, &l, &r, perm, &g))
            return util_err("jit: dot_general at %s:%d: cannot map to GEMM",
                            dd.loc.file ? dd.loc.file : "?", dd.loc.line);
    }
    g.alpha = alpha;
    g.init = init;
    return pl_add_step(p, (jp_step){JS_GEMM, target, 0, -1, g, 0}) < 0 ? -1 : 0;
}

/* 1 if node c is a rank-0 constant or a broadcast of one; stores its value in *v. */
static int pl_scalar_const(const jit_plan *p, int c, double *v) {
    const jx_node *nd = &p->nodes[c];
    if (nd->op == JX_OP_BROADCAST_IN_DIM) nd = &p->nodes[nd->in[0]];
    if (nd->op != JX_OP_CONSTANT || nd->type.rank != 0) return 0;
    *v = jx_array_get(nd->at.value, 0);
    return 1;
}

/* For a float dot node d read only by m = mul(c, d) or mul(d, c), with c a scalar
 * constant, and m read only by s = sub(w, m), add(w, m) or add(m, w) of d's type: returns
 * s and sets *w and *alpha (-c or c) so that s = w + alpha * d. Otherwise -1. */
static int pl_fold_target(const jit_plan *p, const int *consumer, int d, int *w,
                          double *alpha) {
    if (p->uses[d] != 1) return -1;
    int m = consumer[d];
    const jx_node *mn = &p->nodes[m];
    double c;
    if (mn->op != JX_OP_MUL || p->uses[m] != 1 ||
        !pl_scalar_const(p, mn->in[mn->in[0] == d ? 1 : 0], &c))
        return -1;
    /* Only a finite nonzero c: BLAS skips the product when alpha == 0 (so inf/NaN in the
     * operands would not reach s, where the interpreter gets w + 0 * inf = NaN), and an
     * infinite/NaN alpha need not give c * d elementwise either. */
    if (!isfinite(c) || c == 0) return -1;
    int s = consumer[m];
    const jx_node *sn = &p->nodes[s];
    if (sn->op == JX_OP_SUB && sn->in[1] == m && sn->in[0] != m) {
        *w = sn->in[0];
        *alpha = -c;
    } else if (sn->op == JX_OP_ADD && (sn->in[0] == m) != (sn->in[1] == m)) {
        *w = sn->in[sn->in[0] == m ? 1 : 0];
        *alpha = c;
    } else {
        return -1;
    }
    jx_type wt = p->nodes[*w].type, dt = p->nodes[d].type, st = sn->type;
    return jx_type_eq(&wt, &dt) && jx_type_eq(&st, &dt) ? s : -1;
}

/* 1 if reduction node nd keeps its operand's last axis and reduces some other one (its
 * inner loop would stride over rows, so it gets its own row-streaming kernel). */
static int pl_outer_reduction(const jit_plan *p, const jx_node *nd) {
    if (nd->op != JX_OP_REDUCE_SUM && nd->op != JX_OP_REDUCE_MAX && nd->op != JX_OP_REDUCE_MIN)
        return 0;
    const jx_type *xt = &p->nodes[nd->in[0]].type;
    jx_ints ax = ir_attr_ints(nd, 0);
    int last_reduced = 0;
    for (int k = 0; k < ax.n; k++) last_reduced |= ax.v[k] == xt->rank - 1;
    return xt->rank > 0 && !last_reduced && ax.n > 0;
}

/* Marks nodes reachable from the outputs. */
static void pl_liveness(const jx_fn *f, unsigned char *live) {
    for (int i = 0; i < f->n_out; i++) live[f->outs[i]] = 1;
    for (int i = f->n_nodes - 1; i >= 0; i--)
        if (live[i])
            for (int k = 0; k < f->nodes[i].nin; k++) live[f->nodes[i].in[k]] = 1;
}

/* See jit.h. */
jit_plan *jit_plan_build(const jx_fn *f) {
    if (!f) {
        util_err("jit: NULL function");
        return NULL;
    }
    jit_plan *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    int n = f->n_nodes, ndots = 0;
    for (int i = 0; i < n; i++) ndots += f->nodes[i].op == JX_OP_DOT_GENERAL;
    p->fn = f;
    p->n_in = f->n_in;
    p->n_out = f->n_out;
    p->n_fn = p->n_nodes = n;
    p->cap = n + 2 * ndots;
    p->pool_cap = ndots * (6 * JX_MAX_RANK + 8) + 8;
    p->nodes = calloc((size_t)p->cap + 1, sizeof *p->nodes);
    p->uses = calloc((size_t)p->cap + 1, sizeof *p->uses);
    p->buf = calloc((size_t)p->cap + 1, sizeof *p->buf);
    p->pool = calloc((size_t)p->pool_cap, sizeof *p->pool);
    p->outs = calloc((size_t)f->n_out + 1, sizeof *p->outs);
    p->donor = calloc((size_t)f->n_out + 1, sizeof *p->donor);
    p->consts = calloc((size_t)n + 1, sizeof *p->consts);
    unsigned char *live = calloc((size_t)n + 1, 1), *is_out = calloc((size_t)n + 1, 1);
    unsigned char *index_only = calloc((size_t)n + 1, 1);
    int *consumer = calloc((size_t)n + 1, sizeof *consumer), *slot = calloc((size_t)n + 1, sizeof *slot);
    int *fold = calloc((size_t)n + 1, sizeof *fold); /* per node s: 1 + the dot folded into s */
    if (!p->nodes || !p->uses || !p->buf || !p->pool || !p->outs || !p->donor || !p->consts ||
        !live || !is_out || !consumer || !slot || !index_only || !fold) {
        free(fold);
        free(index_only);
        free(live);
        free(is_out);
        free(consumer);
        free(slot);
        goto oom;
    }
    memcpy(p->nodes, f->nodes, (size_t)n * sizeof *p->nodes);
    pl_liveness(f, live);
    for (int i = 0; i < f->n_out; i++) {
        p->outs[i] = f->outs[i];
        p->donor[i] = -1;
        is_out[f->outs[i]] = 1;
    }
    for (int i = 0; i < n; i++) {
        if (!live[i]) continue;
        for (int k = 0; k < f->nodes[i].nin; k++) {
            int o = f->nodes[i].in[k];
            p->uses[o]++;
            consumer[o] = i;
            slot[o] = k;
        }
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const jx_node *nd = &f->nodes[i];
        jp_buf *b = &p->buf[i];
        *b = (jp_buf){JP_DEAD, -1, 0, 0, -1, -1};
        if (!live[i]) continue;
        if (i < f->n_in) {
            *b = (jp_buf){JP_PARAM, i, 0, 0, -1, -1};
            continue;
        }
        if (nd->op == JX_OP_CONSTANT) {
            if (nd->type.rank == 0 && !is_out[i]) {
                b->kind = JP_IMM;
            } else {
                b->kind = JP_CONST;
                b->index = p->n_consts;
                p->consts[p->n_consts++] = jx_array_retain(nd->at.value);
            }
            continue;
        }
        index_only[i] = nd->op == JX_OP_IOTA ||
                        (pl_index_op(nd->op) && (p->buf[nd->in[0]].kind != JP_FUSED ||
                                                 index_only[nd->in[0]]));
        int outer = pl_outer_reduction(p, nd);
        int mat;
        if (is_out[i] || nd->op == JX_OP_DOT_GENERAL || fold[i]) mat = 1;
        else if (index_only[i]) mat = 0;
        else if (p->uses[i] > 1) mat = 1;
        else if (outer && jx_type_size(&f->nodes[nd->in[0]].type) >= 1024) mat = 1;
        else mat = pl_rereads(f, &f->nodes[consumer[i]], slot[i]);
        if (!mat) {
            b->kind = JP_FUSED;
            continue;
        }
        b->kind = JP_ARENA;
        int is_gemm = nd->op == JX_OP_DOT_GENERAL &&
                      (nd->type.dtype == JX_F32 || nd->type.dtype == JX_F64);
        int w;
        double alpha;
        if (is_gemm) {
            int s = pl_fold_target(p, consumer, i, &w, &alpha);
            /* at most one dot per target: in s = c*x + c*y a second fold would overwrite
             * fold[s] and x's GEMM would never be planned (y gets a plain GEMM here) */
            if (s >= 0 && !fold[s] && !is_out[i] && !is_out[consumer[i]])
                fold[s] = 1 + i; /* planned at s (nothing else reads i before) */
            else
                rc = pl_plan_gemm(p, i, i, 1.0, -1);
        } else if (fold[i]) {
            /* s = w + alpha * d: one GEMM accumulating into a copy of w (in place when w
             * is a donated input), if w has a buffer the GEMM does not read */
            int d = fold[i] - 1;
            pl_fold_target(p, consumer, d, &w, &alpha);
            jp_kind wk = p->buf[w].kind;
            pl_view v;
            int reads_w = 0;
            for (int k = 0; k < 2; k++)
                reads_w |= pl_resolve_view(p, p->nodes[d].in[k], &v) && v.base == w;
            if (wk != JP_FUSED && wk != JP_IMM && wk != JP_DEAD && !reads_w) {
                p->buf[d].kind = JP_FUSED;
                rc = pl_plan_gemm(p, d, i, alpha, w);
            } else { /* plain GEMM for d, then the elementwise kernel */
                rc = pl_plan_gemm(p, d, d, 1.0, -1);
                if (rc == 0 && pl_add_step(p, (jp_step){JS_KERNEL, i, 0, -1, {0}, 0}) < 0) rc = -1;
            }
        } else {
            if (pl_add_step(p, (jp_step){JS_KERNEL, i, outer, -1, {0}, 0}) < 0) rc = -1;
        }
    }
    /* outputs: the first output naming a computed node owns it; params, constants and
     * repeated outputs are copied at the end */
    for (int j = 0; j < f->n_out && rc == 0; j++) {
        int o = f->outs[j];
        jp_buf *b = &p->buf[o];
        if (b->kind == JP_ARENA) {
            b->kind = JP_OUT;
            b->index = j;
        } else if (pl_add_step(p, (jp_step){JS_COPY, o, 0, j, {0}, 0}) < 0) {
            rc = -1;
        }
    }
    free(fold);
    free(index_only);
    free(live);
    free(is_out);
    free(consumer);
    free(slot);
    if (rc < 0) {
        if (!jx_error()[0]) util_err("jit: out of memory while planning");
        jit_plan_free(p);
        return NULL;
    }
    /* every type of a traced function has at most JX_MAX_BYTES bytes (ir_type_check runs
     * on each input and op result), so this product and the view strides cannot overflow */
    for (int i = 0; i < p->n_nodes; i++) {
        jx_type t = p->nodes[i].type;
        p->buf[i].bytes = jx_type_size(&t) * (int64_t)jx_dtype_size(t.dtype);
    }
    return p;
oom:
    util_err("jit: out of memory while planning");
    jit_plan_free(p);
    return NULL;
}

/* Frees a plan and releases its constants. */
void jit_plan_free(jit_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_consts; i++) jx_array_free(p->consts[i]);
    free(p->consts);
    free(p->nodes);
    free(p->uses);
    free(p->buf);
    free(p->steps);
    free(p->outs);
    free(p->donor);
    free(p->pool);
    free(p);
}
