/* GEMM planning: maps a float dot_general (or gemm) node onto one cblas GEMM per batch
 * element. Transposes and contiguous reshapes of the operands fold into the trans flags
 * and leading dimensions when the strides allow; otherwise a synthetic transpose kernel
 * copies the operand to a canonical layout first (see plan.c for the fusion rules). A
 * GEMM with a dimension beyond OpenBLAS's integer type is refused here, before any code
 * is compiled or cached. */
#include <inttypes.h>
#include <string.h>

#include "jit/jit.h"
#include "jx_rt.h"
#include "core/util.h"

/* Reserves n int64 slots of attribute storage; NULL on OOM. */
static int64_t *pl_pool(jit_plan *p, int n) {
    if (p->pool_used + n > p->pool_cap) return NULL;
    int64_t *r = p->pool + p->pool_used;
    p->pool_used += n;
    return r;
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
    if (jit_plan_add_step(p, (jp_step){JS_KERNEL, id, 0, -1, {0}, 0, -1}) < 0) return -1;
    return id;
}

/* Checks that g's dimensions and leading dimensions fit OpenBLAS's integer type. 0, or
 * -1 with an error naming dot node d, its operand types and its place. */
static int pl_gemm_fits_blas(const jit_plan *p, const jx_node *d, const jp_gemm *g) {
    static const char *names[6] = {"M", "N", "K", "lda", "ldb", "ldc"};
    const int64_t dims[6] = {g->m, g->n, g->k, g->lda, g->ldb, g->ldc};
    int64_t lim = jx_rt_blas_int_max();
    for (int i = 0; i < 6; i++) {
        if (dims[i] <= lim) continue;
        char sa[160], sb[160];
        return util_err("%s:%d: jx_jit: dot_general of %s and %s needs a GEMM with %s = "
                        "%" PRId64 ", more than OpenBLAS's integer limit %" PRId64,
                        d->loc.file ? d->loc.file : "?", d->loc.line,
                        jx_type_str(&p->nodes[d->in[0]].type, sa, sizeof sa),
                        jx_type_str(&p->nodes[d->in[1]].type, sb, sizeof sb), names[i], dims[i],
                        lim);
    }
    return 0;
}

/* See jit.h. */
int jit_plan_gemm(jit_plan *p, int d, double alpha, int alpha_node, int init) {
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
    if (pl_gemm_fits_blas(p, nd, &g) < 0) return -1;
    g.alpha = alpha;
    g.alpha_node = alpha_node;
    g.init = init;
    return jit_plan_add_step(p, (jp_step){JS_GEMM, d, 0, -1, g, 0, -1}) < 0 ? -1 : 0;
}
