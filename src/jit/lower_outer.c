/* Outer-product kernels with non-temporal stores (issue 12.3).
 *
 * The outer-product pass (src/transform/pass_outer.c) makes vmap(grad)'s per-example weight
 * gradients o[b, i, j] = x[b, i] * g[b, j] one fused kernel, mul(broadcast(x),
 * broadcast(g)). Such a kernel reads B (M + N) elements and writes B M N: it is bound by
 * the bandwidth of its stores, and an ordinary store first reads the line it writes
 * (read for ownership), so on this machine a 205 MB gradient took 2.5x as long to write
 * as with non-temporal stores, which write whole lines past the caches. LLVM's loop
 * vectorizer will not vectorize a non-temporal store (it cannot prove the vector store
 * aligned), so a kernel of this shape whose output is at least LW_NT_BYTES (beyond the
 * L2 caches, and not read back soon: at that size its readers stream it from memory
 * anyway) gets this explicit vector loop: per row (every index but the last), the scalar
 * x at that row, then o[row, j] = x * g[row, j] in a scalar head up to a 64-byte
 * boundary of o, full-width vectors stored non-temporally, and a scalar tail; a fence at
 * the end orders the stores before the caller's. The rows are the kernel's loop groups
 * but the last, so a split kernel takes the same range of its outermost group as the
 * generic nest would. Products are the generic kernel's bit for bit (one rounded multiply,
 * operands in the node's order). */
#include "jit/lower.h"
#include "core/util.h"

/* Outputs at least this large are written with non-temporal stores (twice the L2 of a
 * core here; the output is then streamed from memory by whoever reads it). */
#define LW_NT_BYTES (4 << 20)

/* The matched kernel: root = mul(in[0], in[1]); side `sc` is the broadcast that is constant
 * along the last axis, side 1 - sc the broadcast of buffer `row` whose last axis is the
 * root's last axis. */
typedef struct lo_pat {
    int sc, row;
    int64_t row_stride[JX_MAX_RANK]; /* per root dim: the row buffer's stride (0: none) */
} lo_pat;

/* 1 if node n of p is a fused broadcast_in_dim whose dims omit the last axis of a
 * rank-r result. */
static int lo_const_along_last(const jit_plan *p, int n, int r) {
    const jx_node *nd = &p->nodes[n];
    if (p->buf[n].kind != JP_FUSED || nd->op != JX_OP_BROADCAST_IN_DIM) return 0;
    jx_ints dims = ir_attr_ints(nd, 1);
    for (int k = 0; k < dims.n; k++)
        if (dims.v[k] == r - 1) return 0;
    return 1;
}

/* 1 if node n of p has a buffer. */
static int lo_buffer(const jit_plan *p, int n) {
    jp_kind k = p->buf[n].kind;
    return k == JP_PARAM || k == JP_CONST || k == JP_ARENA || k == JP_OUT;
}

/* 1 and m->row, m->row_stride if node n of p is a buffer of the rank-r result's type,
 * or a fused broadcast_in_dim of a buffer whose last axis becomes the result's last axis,
 * unbroadcast. */
static int lo_row_broadcast(const jit_plan *p, int n, int r, lo_pat *m) {
    const jx_node *nd = &p->nodes[n];
    int bc = p->buf[n].kind == JP_FUSED && nd->op == JX_OP_BROADCAST_IN_DIM;
    int g = bc ? nd->in[0] : n;
    if (!lo_buffer(p, g) || (!bc && nd->type.rank != r)) return 0;
    const jx_type *gt = &p->nodes[g].type;
    jx_ints dims = {r, {0}};
    if (bc) dims = ir_attr_ints(nd, 1);
    else
        for (int d = 0; d < r; d++) dims.v[d] = d;
    if (gt->rank < 1 || dims.v[gt->rank - 1] != r - 1 ||
        gt->shape[gt->rank - 1] != nd->type.shape[r - 1])
        return 0;
    int64_t st[JX_MAX_RANK];
    util_strides(gt->rank, gt->shape, st);
    for (int d = 0; d < r; d++) m->row_stride[d] = 0;
    for (int a = 0; a < gt->rank; a++)
        if (gt->shape[a] != 1) m->row_stride[dims.v[a]] = st[a];
    m->row = g;
    return 1;
}

/* 1 and m if kernel step s of p is a large float outer product (see the header) whose
 * last loop group is the last axis alone. */
static int lo_match(const jit_plan *p, int s, int n_groups, const int *dim_group, lo_pat *m) {
    const jx_node *nd = &p->nodes[p->steps[s].node];
    int r = nd->type.rank;
    if (nd->op != JX_OP_MUL || (nd->type.dtype != JX_F32 && nd->type.dtype != JX_F64) || r < 2 ||
        p->steps[s].outer || p->buf[p->steps[s].node].bytes < LW_NT_BYTES)
        return 0;
    if (dim_group[r - 1] != n_groups - 1 || dim_group[r - 2] == n_groups - 1) return 0;
    for (m->sc = 0; m->sc < 2; m->sc++)
        if (lo_const_along_last(p, nd->in[m->sc], r) &&
            lo_row_broadcast(p, nd->in[1 - m->sc], r, m))
            return 1;
    return 0;
}

/* a * b (or b * a when swap is set, keeping the node's operand order). */
static LLVMValueRef lo_mul(lw *L, LLVMValueRef a, LLVMValueRef b, int swap) {
    return swap ? LLVMBuildFMul(L->b, b, a, "") : LLVMBuildFMul(L->b, a, b, "");
}

/* Emits the row loop o[j] = x * g[j] for j in [0, n): scalar head to o's next 64-byte
 * boundary, vectors of `vl` lanes stored non-temporally, scalar tail. */
static void lo_row(lw *L, jx_dtype dt, LLVMValueRef x, LLVMValueRef g, LLVMValueRef o,
                   int64_t n, int vl, int swap) {
    LLVMTypeRef et = lw_type(L, dt), vt = LLVMVectorType(et, (unsigned)vl);
    int64_t es = (int64_t)jx_dtype_size(dt);
    LLVMValueRef addr = LLVMBuildPtrToInt(L->b, o, L->i64, "");
    LLVMValueRef mis = LLVMBuildAnd(L->b, LLVMBuildNeg(L->b, addr, ""), lw_i64(L, 63), "");
    LLVMValueRef h = LLVMBuildUDiv(L->b, mis, lw_i64(L, es), "");
    h = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, h, lw_i64(L, n), ""), h,
                        lw_i64(L, n), "head");
    LLVMValueRef rest = LLVMBuildSub(L->b, lw_i64(L, n), h, "");
    LLVMValueRef nv = LLVMBuildMul(L->b, LLVMBuildUDiv(L->b, rest, lw_i64(L, vl), ""),
                                   lw_i64(L, vl), "");
    LLVMValueRef hv = LLVMBuildAdd(L->b, h, nv, "");
    LLVMValueRef bounds[3][2] = {{lw_i64(L, 0), h}, {h, hv}, {hv, lw_i64(L, n)}};
    LLVMValueRef one0 = LLVMBuildInsertElement(L->b, LLVMGetPoison(vt), x, lw_i64(L, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->i32, (unsigned)vl));
    LLVMValueRef xv = LLVMBuildShuffleVector(L->b, one0, LLVMGetPoison(vt), zeros, "");
    unsigned nt = LLVMGetMDKindIDInContext(L->cx, "nontemporal", 11);
    LLVMMetadataRef one = LLVMValueAsMetadata(LLVMConstInt(L->i32, 1, 0));
    LLVMValueRef ntmd = LLVMMetadataAsValue(L->cx, LLVMMDNodeInContext2(L->cx, &one, 1));
    for (int part = 0; part < 3; part++) {
        lw_loop lp = lw_loop_range(L, bounds[part][0], bounds[part][1]);
        LLVMValueRef gp = LLVMBuildInBoundsGEP2(L->b, et, g, &lp.iv, 1, "");
        LLVMValueRef op = LLVMBuildInBoundsGEP2(L->b, et, o, &lp.iv, 1, "");
        if (part == 1) {
            LLVMValueRef gl = LLVMBuildLoad2(L->b, vt, gp, "");
            LLVMSetAlignment(gl, (unsigned)es);
            LLVMValueRef st = LLVMBuildStore(L->b, lo_mul(L, xv, gl, swap), op);
            LLVMSetAlignment(st, 64);
            LLVMSetMetadata(st, nt, ntmd);
            lw_loop_end_step(L, &lp, vl);
        } else {
            LLVMBuildStore(L->b, lo_mul(L, x, LLVMBuildLoad2(L->b, et, gp, ""), swap), op);
            lw_loop_end(L, &lp);
        }
    }
}

/* See lower.h. */
int lw_outer_product(lw *L, int s, LLVMValueRef dst, int n_groups, const int *dim_group,
                     const int64_t *group_size) {
    const jit_plan *p = L->p;
    lo_pat m;
    if (!lo_match(p, s, n_groups, dim_group, &m)) return 0;
    const jx_node *nd = &p->nodes[p->steps[s].node];
    const jx_type *t = &nd->type;
    int r = t->rank, vl = orc_vector_bits() / (8 * (int)jx_dtype_size(t->dtype));
    lw_loop lp[JX_MAX_RANK];
    lw_ix ix = lw_ix_new(t);
    for (int g = 0; g < n_groups - 1; g++) /* the rows: every group but the last */
        lp[g] = lw_loop_range(L, g == 0 && L->par_lo ? L->par_lo : lw_i64(L, 0),
                              g == 0 && L->par_hi ? L->par_hi : lw_i64(L, group_size[g]));
    int64_t inner = 1; /* root dims of one group, unravelled from its induction variable */
    for (int d = r - 2; d >= 0; d--) {
        if (d == r - 2 || dim_group[d] != dim_group[d + 1]) inner = 1;
        LLVMValueRef v = lp[dim_group[d]].iv;
        if (inner > 1) v = LLVMBuildUDiv(L->b, v, lw_i64(L, inner), "");
        int first = d == 0 || dim_group[d - 1] != dim_group[d];
        ix.v[d] = first ? v : LLVMBuildURem(L->b, v, lw_i64(L, t->shape[d]), "");
        inner *= t->shape[d];
    }
    ix.v[r - 1] = lw_i64(L, 0);
    ix.multi = 1;
    LLVMValueRef x = lw_eval(L, nd->in[m.sc], &ix), glin = lw_i64(L, 0);
    for (int d = 0; d < r - 1; d++)
        if (m.row_stride[d])
            glin = LLVMBuildAdd(
                L->b, glin, LLVMBuildMul(L->b, ix.v[d], lw_i64(L, m.row_stride[d]), ""), "");
    LLVMTypeRef et = lw_mem_type(L, t->dtype);
    LLVMValueRef g = LLVMBuildInBoundsGEP2(L->b, et, L->base[m.row], &glin, 1, "");
    LLVMValueRef o = LLVMBuildInBoundsGEP2(L->b, et, dst, &(LLVMValueRef){lw_lin(L, &ix)}, 1, "");
    lo_row(L, t->dtype, x, g, o, t->shape[r - 1], vl, m.sc == 1);
    for (int g0 = n_groups - 2; g0 >= 0; g0--) lw_loop_end(L, &lp[g0]);
    LLVMBuildFence(L->b, LLVMAtomicOrderingSequentiallyConsistent, 0, "");
    return 1;
}
