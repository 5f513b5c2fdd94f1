/* Kernel functions: the loop nest of a kernel step, or of a loop group of consecutive
 * kernel steps over one shape (jit_memplan), evaluating each member's fused tree at each
 * index and storing it.
 *
 * Loop nest: flat (one loop over all elements, linear index) when no member needs a
 * multi-index; otherwise the output dims are grouped into runs that can share one loop
 * (lw_merge_scan: broadcasts keep a run when the operand spans all of it or none of it),
 * so that an elementwise op over [128, 512] with a bias broadcast runs as 128 x 512 and a
 * scalar broadcast over [10, 512] as one loop of 5120. Outer reductions (reduced axes
 * outside the kept ones) stream over the operand and accumulate into the output.
 *
 * Vector width: every kernel function prefers the host's widest vectors
 * (orc_vector_bits: 512 bits on AVX-512, where LLVM's default is 256).
 *
 * Size policy: kernels touching fewer than LW_SMALL_KERNEL elements (LW_SMALL_MATH with
 * transcendentals) keep scalar loops (loop metadata turns off vectorization and
 * unrolling: microseconds at run time, a fraction of the code to compile); kernels whose
 * work (bytes touched, plus their transcendentals) reaches LW_PARALLEL_BYTES and whose
 * outermost loop can be split take its range as two extra arguments and get a
 * trampoline that jx_rt_parallel runs on the thread pool; one-loop kernels touching at
 * least LW_STREAM_BYTES prefetch ahead (see lw_one_loop). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "jit/lower.h"

/* Kernels touching fewer elements than this (in their outputs and every buffer they
 * read) keep scalar loops; the limit is LW_SMALL_MATH for kernels computing
 * transcendentals (a scalar f32 exp costs ~8 ns, a vector lane under 1). */
#define LW_SMALL_KERNEL 4096
#define LW_SMALL_MATH 256
/* Kernels whose work is at least LW_PARALLEL_BYTES run their outermost loop on the
 * thread pool when the executable has more than one thread: threads are given by bytes,
 * not by element counts. Work counts the bytes the kernel touches (its outputs and every
 * buffer it reads) plus LW_MATH_BYTES per element and transcendental, which costs about
 * as much as streaming 8 bytes (exp, tanh, ...: 20-40 vector operations per 16 lanes).
 * Below the threshold, waking a worker parked during a GEMM costs as much as it saves:
 * measured on 2 cores, y = 2x + 1 on f32 was still slower on 2 threads at 1 MiB
 * touched; tanh(0.5x + 0.25) exp(-|x|) + x broke even near 600 KiB touched (75K
 * elements: 1.8 MiB of work with its 2 transcendentals); the MLP step's [128, 512]
 * kernels (~20 us each) got slower on 2 threads when split. A unary f32 kernel splits
 * at 256K elements, as with the former element threshold; f64 at 128K, a kernel with
 * two transcendentals at 85K. */
#define LW_PARALLEL_BYTES (2 << 20)
#define LW_MATH_BYTES 8
/* ... and LW_REDUCE_BYTES per element a fused reduction sums, which costs time even when
 * it reads little memory: a per-example gradient norm sums B*M*N products of two small
 * buffers (fused by the outer-product pass), 85M for the notebook MLP at batch 128. */
#define LW_REDUCE_BYTES 1

/* Loop metadata turning off vectorization and unrolling (a self-referential node). */
static LLVMValueRef lw_scalar_loop_md(lw *L) {
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(L->cx, NULL, 0);
    LLVMMetadataRef vec[2] = {LLVMMDStringInContext2(L->cx, "llvm.loop.vectorize.enable", 26),
                              LLVMValueAsMetadata(LLVMConstInt(L->i1, 0, 0))};
    LLVMMetadataRef unr = LLVMMDStringInContext2(L->cx, "llvm.loop.unroll.disable", 24);
    LLVMMetadataRef ops[3] = {tmp, LLVMMDNodeInContext2(L->cx, vec, 2),
                              LLVMMDNodeInContext2(L->cx, &unr, 1)};
    LLVMMetadataRef md = LLVMMDNodeInContext2(L->cx, ops, 3);
    LLVMMetadataReplaceAllUsesWith(tmp, md);
    return LLVMMetadataAsValue(L->cx, md);
}

/* 1 if the fused tree under root computes a transcendental function. */
static int lw_has_math(const jit_plan *p, int n, int root) {
    if (n != root && p->buf[n].kind != JP_FUSED) return 0;
    if (prim_has(p->nodes[n].op, JXF_MATH)) return 1;
    for (int k = 0; k < p->nodes[n].nin; k++)
        if (lw_has_math(p, p->nodes[n].in[k], root)) return 1;
    return 0;
}

/* The elements of the distinct transcendental nodes in the fused tree under root, each
 * counted with its own element count (a reduction's operand has more than the root);
 * vis: one byte per node, zero on the first call. */
static int64_t lw_math_elements(const jit_plan *p, int n, int root, unsigned char *vis) {
    if ((n != root && p->buf[n].kind != JP_FUSED) || vis[n]) return 0;
    vis[n] = 1;
    int64_t c = prim_has(p->nodes[n].op, JXF_MATH) ? jx_type_size(&p->nodes[n].type) : 0;
    for (int k = 0; k < p->nodes[n].nin; k++)
        c += lw_math_elements(p, p->nodes[n].in[k], root, vis);
    return c;
}

/* 1 if evaluating the tree under root at a root index needs its multi-index. */
static int lw_needs_multi(const jit_plan *p, int n, int root) {
    if (n != root && p->buf[n].kind != JP_FUSED) return 0;
    if (p->nodes[n].op == JX_OP_RESHAPE) return 0;
    if (!jit_is_elt(p, n)) return 1;
    for (int k = 0; k < p->nodes[n].nin; k++)
        if (lw_needs_multi(p, p->nodes[n].in[k], root)) return 1;
    return 0;
}

/* Clears ok[k - 1] for each root dim k of extent > 1 that cannot share one loop with the
 * previous root dim of extent > 1 (dims of extent 1 between them go either way) when
 * evaluating node n, whose dim d runs along root dim map[d].
 * Elementwise ops, broadcasts and reshapes (whose operand is read by linear index) keep
 * a pair mergeable when the node spans both dims or neither, and so do buffer leaves
 * (read by linear index); every other op blocks the pairs touching its dims. */
static void lw_merge_scan(const jit_plan *p, int n, int root, const int *map,
                          const jx_type *rt, int *ok) {
    const jx_node *nd = &p->nodes[n];
    int has[JX_MAX_RANK] = {0};
    for (int d = 0; d < nd->type.rank; d++)
        if (nd->type.shape[d] > 1) has[map[d]] = 1;
    int leaf = n != root && p->buf[n].kind != JP_FUSED; /* read by linear index */
    int elt = !leaf && jit_is_elt(p, n), bc = !leaf && nd->op == JX_OP_BROADCAST_IN_DIM;
    int mergeable = leaf || elt || bc || nd->op == JX_OP_RESHAPE;
    for (int a = -1, k = 0; k < rt->rank; k++) { /* a: previous root dim of extent > 1 */
        if (rt->shape[k] <= 1) continue;
        if (a >= 0 && (has[a] != has[k] || (!mergeable && has[k]))) ok[k - 1] = 0;
        a = k;
    }
    if (elt) {
        for (int i = 0; i < nd->nin; i++) lw_merge_scan(p, nd->in[i], root, map, rt, ok);
    } else if (bc) {
        jx_ints dims = ir_attr_ints(nd, 1);
        int xm[JX_MAX_RANK];
        for (int j = 0; j < dims.n; j++) xm[j] = map[dims.v[j]];
        lw_merge_scan(p, nd->in[0], root, xm, rt, ok);
    }
}

/* The loop nest of kernel steps [g0, g1] (one shape): flat, or n_groups loops over the
 * groups of dims (dim_group[k]: dim k's group, group_size[g]: extent of group g); no loop
 * for rank 0. */
typedef struct lw_nest {
    int flat, n_groups;
    int dim_group[JX_MAX_RANK];
    int64_t group_size[JX_MAX_RANK];
} lw_nest;

/* Fills ns for kernel steps [g0, g1]. */
static void lw_nest_of(const jit_plan *p, int g0, int g1, lw_nest *ns) {
    const jx_type *t = &p->nodes[p->steps[g0].node].type;
    int multi = 0, ok[JX_MAX_RANK], map[JX_MAX_RANK];
    for (int s = g0; s <= g1; s++) multi |= lw_needs_multi(p, p->steps[s].node, p->steps[s].node);
    ns->n_groups = 0;
    ns->flat = !multi && t->rank > 0;
    if (ns->flat) {
        ns->n_groups = 1;
        ns->group_size[0] = jx_type_size(t);
        return;
    }
    for (int k = 0; k < t->rank; k++) {
        ok[k] = 1;
        map[k] = k;
    }
    for (int s = g0; s <= g1; s++)
        lw_merge_scan(p, p->steps[s].node, p->steps[s].node, map, t, ok);
    for (int k = 0; k < t->rank; k++) {
        if (k == 0 || !ok[k - 1]) ns->group_size[ns->n_groups++] = 1;
        ns->dim_group[k] = ns->n_groups - 1;
        ns->group_size[ns->n_groups - 1] *= t->shape[k];
    }
}

/* The elements that the distinct fused reductions under root sum over (their operands'
 * sizes); vis: one byte per node, zero on the first call. */
static int64_t lw_reduced(const jit_plan *p, int n, int root, unsigned char *vis) {
    if ((n != root && p->buf[n].kind != JP_FUSED) || vis[n]) return 0;
    vis[n] = 1;
    const jx_node *nd = &p->nodes[n];
    int64_t c = prim_has(nd->op, JXF_REDUCE) ? jx_type_size(&p->nodes[nd->in[0]].type) : 0;
    for (int k = 0; k < nd->nin; k++) c += lw_reduced(p, nd->in[k], root, vis);
    return c;
}

/* LW_REDUCE_BYTES per element summed by the fused reductions of steps [g0, g1]. */
static int64_t lw_reduce_work(const jit_plan *p, int g0, int g1) {
    unsigned char *vis = calloc((size_t)p->n_nodes + 1, 1);
    int64_t w = 0;
    for (int s = g0; s <= g1 && vis; s++)
        w += lw_reduced(p, p->steps[s].node, p->steps[s].node, vis);
    free(vis);
    return LW_REDUCE_BYTES * w;
}

/* The work of kernel steps [g0, g1] touching `bytes` (see LW_PARALLEL_BYTES). */
static int64_t lw_work(const jit_plan *p, int g0, int g1, int64_t bytes) {
    unsigned char *vis = calloc((size_t)p->n_nodes + 1, 1);
    int64_t w = bytes;
    for (int s = g0; s <= g1 && vis; s++)
        w += LW_MATH_BYTES * lw_math_elements(p, p->steps[s].node, p->steps[s].node, vis);
    free(vis);
    return w + lw_conv_work(p, g0, g1) + lw_reduce_work(p, g0, g1);
}

/* Context of lw_collect. */
typedef struct lw_leaves {
    int n;
    int *ids;
    unsigned char *seen;
} lw_leaves;

/* Visitor for jit_kernel_leaves: records each leaf once. */
static void lw_collect(void *vctx, int leaf) {
    lw_leaves *c = vctx;
    if (c->seen[leaf]) return;
    c->seen[leaf] = 1;
    c->ids[c->n++] = leaf;
}

/* See lower.h. */
LLVMValueRef lw_red_identity(lw *L, jx_op op, jx_dtype dt) {
    int is_max = op == JX_OP_REDUCE_MAX;
    if (op == JX_OP_REDUCE_SUM) return lw_const(L, dt, 0);
    switch (dt) {
    case JX_F32:
    case JX_F64: return lw_const(L, dt, is_max ? -INFINITY : INFINITY);
    case JX_I32: return LLVMConstInt(L->i32, is_max ? 0x80000000u : 0x7fffffffu, 0);
    case JX_U32: return LLVMConstInt(L->i32, is_max ? 0u : 0xffffffffu, 0);
    default: return LLVMConstInt(L->i1, !is_max, 0);
    }
}

/* See lower.h. */
LLVMValueRef lw_red_combine(lw *L, jx_op op, jx_dtype dt, LLVMValueRef acc, LLVMValueRef v) {
    int f = dt == JX_F32 || dt == JX_F64;
    if (op == JX_OP_REDUCE_SUM) {
        if (!f) return LLVMBuildAdd(L->b, acc, v, "");
        LLVMValueRef r = LLVMBuildFAdd(L->b, acc, v, "");
        LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc); /* lets the sum vectorize */
        return r;
    }
    int is_max = op == JX_OP_REDUCE_MAX;
    if (dt == JX_BOOL) return is_max ? LLVMBuildOr(L->b, acc, v, "") : LLVMBuildAnd(L->b, acc, v, "");
    if (f) { /* NaN-propagating; -0 vs +0 may differ from the interpreter's choice */
        LLVMValueRef args[2] = {acc, v};
        return lw_intrin(L, is_max ? "llvm.maximum" : "llvm.minimum", lw_type(L, dt), 2, args);
    }
    return lw_maxmin(L, is_max, dt, acc, v);
}

/* The outer-reduction body of step st: out = identity, then out[kept] (op)= x[...] over
 * x in row-major order (the inner loop streams over x's last, kept, axis). */
static void lw_outer_body(lw *L, const jp_step *st, LLVMValueRef dst) {
    const jit_plan *p = L->p;
    const jx_node *nd = &p->nodes[st->node];
    jx_type t = nd->type;
    jx_dtype dt = t.dtype;
    const jx_type *xt = &p->nodes[nd->in[0]].type;
    lw_loop init = lw_loop_begin(L, jx_type_size(&t));
    lw_store(L, dst, dt, init.iv, lw_red_identity(L, nd->op, dt));
    lw_loop_end(L, &init);
    jx_ints ax = ir_attr_ints(nd, 0);
    int red[JX_MAX_RANK] = {0};
    for (int i = 0; i < ax.n; i++) red[ax.v[i]] = 1;
    lw_ix xi = lw_ix_new(xt), oi = lw_ix_new(&t);
    xi.multi = oi.multi = 1;
    lw_loop lp[JX_MAX_RANK];
    for (int k = 0, kk = 0; k < xt->rank; k++) {
        lp[k] = lw_loop_begin(L, xt->shape[k]);
        xi.v[k] = lp[k].iv;
        if (!red[k]) oi.v[kk++] = lp[k].iv;
    }
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    LLVMValueRef ol = lw_lin(L, &oi);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, lw_mem_type(L, dt), dst, &ol, 1, "");
    LLVMValueRef a = LLVMBuildLoad2(L->b, lw_mem_type(L, dt), ptr, "");
    if (dt == JX_BOOL) a = LLVMBuildICmp(L->b, LLVMIntNE, a, LLVMConstInt(L->i8, 0, 0), "");
    lw_store(L, dst, dt, ol, lw_red_combine(L, nd->op, dt, a, v));
    for (int k = xt->rank - 1; k >= 0; k--) lw_loop_end(L, &lp[k]);
}

/* Streaming: a kernel with one loop (flat, or one merged group) touching at least
 * LW_STREAM_BYTES (beyond the L2 cache) runs it in strips of LW_STRIP elements, each
 * strip first prefetching the lines LW_PREFETCH_BYTES ahead in every buffer the loop
 * reads or writes one element per iteration (for writing in the outputs). The hardware
 * prefetchers alone leave a compute-heavy loop waiting on memory (tools/bench_elt's chain
 * on 16M f32: 26 ms -> 16 ms on 1 thread); the strip's own loop still vectorizes (a
 * prefetch in its body would keep it scalar). 64-element strips and 2-4 KiB ahead were
 * the best of 32-256 and 2-8 KiB. Loop nests with several loops do not prefetch yet. */
#define LW_STREAM_BYTES (1 << 20)
#define LW_STRIP 64
#define LW_PREFETCH_BYTES 4096

/* The buffers a streaming kernel prefetches: pointer and element size in bytes (negative
 * for an output). n == 0: the kernel does not stream. */
typedef struct lw_stream {
    int n;
    LLVMValueRef *base;
    int *esize;
} lw_stream;

/* Emits the prefetches of strip [b, b + LW_STRIP) of st's buffers (see above). */
static void lw_prefetch_strip(lw *L, const lw_stream *st, LLVMValueRef b) {
    unsigned id = LLVMLookupIntrinsicID("llvm.prefetch", 13);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->m, id, &L->ptr, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->cx, id, &L->ptr, 1);
    for (int i = 0; i < st->n; i++) {
        int es = st->esize[i] < 0 ? -st->esize[i] : st->esize[i];
        LLVMValueRef off = LLVMBuildMul(L->b, b, lw_i64(L, es), "");
        for (int64_t k = 0; k < (int64_t)LW_STRIP * es; k += 64) {
            LLVMValueRef o = LLVMBuildAdd(L->b, off, lw_i64(L, LW_PREFETCH_BYTES + k), "");
            /* not inbounds: the address may pass the end (a prefetch never faults) */
            LLVMValueRef args[4] = {LLVMBuildGEP2(L->b, L->i8, st->base[i], &o, 1, ""),
                                    LLVMConstInt(L->i32, st->esize[i] < 0, 0),
                                    LLVMConstInt(L->i32, 3, 0), LLVMConstInt(L->i32, 1, 0)};
            LLVMBuildCall2(L->b, ft, f, args, 4, "");
        }
    }
}

/* Opens the loop over [lo, hi) of a one-loop kernel: directly, or when st->n > 0 as
 * `for (b = lo; b < hi; b += LW_STRIP) { prefetch; for (i = b; i < min(b + LW_STRIP, hi);
 * i++) ... }` with the strip loop in *strip (head NULL: none). */
static lw_loop lw_one_loop(lw *L, LLVMValueRef lo, LLVMValueRef hi, const lw_stream *st,
                           lw_loop *strip) {
    memset(strip, 0, sizeof *strip);
    if (st->n > 0) {
        *strip = lw_loop_range(L, lo, hi);
        lw_prefetch_strip(L, st, strip->iv);
        LLVMValueRef e = LLVMBuildNSWAdd(L->b, strip->iv, lw_i64(L, LW_STRIP), "");
        lo = strip->iv;
        hi = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, e, hi, ""), e, hi, "");
    }
    return lw_loop_range(L, lo, hi);
}

/* Emits the loop nest of kernel steps [g0, g1]; dst[i] is member g0 + i's output. The
 * outermost loop covers [L->par_lo, L->par_hi) when those are set; a kernel with one
 * loop runs it in prefetching strips when st->n > 0. */
static void lw_kernel_body(lw *L, int g0, int g1, LLVMValueRef *dst, const lw_stream *st) {
    const jit_plan *p = L->p;
    if (lw_conv_units(p, g0, g1) > 0) { /* direct convolutions: their own loop nests */
        lw_conv_body(L, g0, g1, dst);
        return;
    }
    if (p->steps[g0].outer) {
        lw_outer_body(L, &p->steps[g0], dst[0]);
        return;
    }
    jx_type t = p->nodes[p->steps[g0].node].type;
    lw_nest ns;
    lw_nest_of(p, g0, g1, &ns);
    if (g0 == g1 && !ns.flat && t.rank > 1 &&
        lw_outer_product(L, g0, dst[0], ns.n_groups, ns.dim_group, ns.group_size))
        return; /* large outer products: non-temporal stores (lower_outer.c) */
    lw_ix ix = lw_ix_new(&t);
    lw_loop lp[JX_MAX_RANK], strip = {0};
    LLVMValueRef lo = L->par_lo ? L->par_lo : lw_i64(L, 0);
    if (t.rank == 0) {
        ix.lin = lw_i64(L, 0);
        ix.multi = 1;
    } else if (ns.flat) {
        lp[0] = lw_one_loop(L, lo, L->par_hi ? L->par_hi : lw_i64(L, ns.group_size[0]), st, &strip);
        ix.lin = lp[0].iv;
    } else {
        L->n_groups = ns.n_groups;
        memcpy(L->dim_group, ns.dim_group, sizeof L->dim_group);
        for (int g = 0; g < ns.n_groups; g++) {
            LLVMValueRef hi = g == 0 && L->par_hi ? L->par_hi : lw_i64(L, ns.group_size[g]);
            if (ns.n_groups == 1) lp[g] = lw_one_loop(L, lo, hi, st, &strip);
            else lp[g] = lw_loop_range(L, g == 0 ? lo : lw_i64(L, 0), hi);
            L->group_iv[g] = lp[g].iv;
        }
        for (int k = 0; k < t.rank; k++) ix.root_dim[k] = k;
        ix.merged = 1;
    }
    LLVMValueRef lin = lw_lin(L, &ix);
    for (int s = g0; s <= g1; s++) { /* each member at this index, in step order */
        lw_ix mi = ix;
        int root = p->steps[s].node;
        lw_store(L, dst[s - g0], p->nodes[root].type.dtype, lin, lw_compute(L, root, &mi));
    }
    for (int g = t.rank == 0 ? 0 : ns.n_groups; g > 0; g--) lw_loop_end(L, &lp[g - 1]);
    if (strip.head) lw_loop_end_step(L, &strip, LW_STRIP);
}

/* See lower.h. */
int lw_donor(const jit_plan *p, int n) {
    const jp_buf *b = &p->buf[n];
    return b->kind == JP_OUT ? p->donor[b->index] : -1;
}

/* See lower.h. */
void lw_copy_if_distinct(lw *L, LLVMValueRef dst, LLVMValueRef src, int64_t bytes) {
    if (bytes <= 0) return;
    LLVMBasicBlockRef cp = LLVMAppendBasicBlockInContext(L->cx, L->fn, "copy");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->cx, L->fn, "copied");
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntNE, dst, src, ""), cp, join);
    LLVMPositionBuilderAtEnd(L->b, cp);
    LLVMBuildMemCpy(L->b, dst, 1, src, 1, lw_i64(L, bytes));
    LLVMBuildBr(L->b, join);
    LLVMPositionBuilderAtEnd(L->b, join);
}

/* The trampoline k<s>p(ctx, lo, hi) = fn(ctx[0], ..., ctx[nargs - 1], lo, hi). */
static LLVMValueRef lw_trampoline(lw *L, int s, LLVMValueRef fn, LLVMTypeRef ft, int nargs) {
    LLVMTypeRef tt[3] = {L->ptr, L->i64, L->i64};
    char name[160];
    snprintf(name, sizeof name, "%sk%dp", L->prefix ? L->prefix : "", s);
    LLVMValueRef tf = LLVMAddFunction(L->m, name, LLVMFunctionType(L->void_type, tt, 3, 0));
    LLVMSetLinkage(tf, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(L->b, LLVMAppendBasicBlockInContext(L->cx, tf, "entry"));
    LLVMValueRef *av = malloc(((size_t)nargs + 2) * sizeof *av);
    if (!av) return NULL;
    for (int i = 0; i < nargs; i++) {
        LLVMValueRef idx = lw_i64(L, i);
        LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, LLVMGetParam(tf, 0), &idx, 1, "");
        av[i] = LLVMBuildLoad2(L->b, L->ptr, slot, "");
    }
    av[nargs] = LLVMGetParam(tf, 1);
    av[nargs + 1] = LLVMGetParam(tf, 2);
    LLVMBuildCall2(L->b, ft, fn, av, (unsigned)nargs + 2, "");
    LLVMBuildRetVoid(L->b);
    free(av);
    return tf;
}

/* The kernel function k<g0> with nargs pointer parameters (noalias), then (lo, hi) when
 * split; vectors as wide as the host's registers (LLVM prefers 256 bits on AVX-512). The
 * builder is left in its body. */
static LLVMValueRef lw_kernel_fn(lw *L, int g0, int nargs, int split, LLVMTypeRef *kt) {
    LLVMTypeRef pt[2 * JX_MAX_OPERANDS], *ptp = pt;
    int np = nargs + (split ? 2 : 0);
    if (np > 2 * JX_MAX_OPERANDS && !(ptp = malloc((size_t)np * sizeof *ptp))) return NULL;
    for (int i = 0; i < np; i++) ptp[i] = i < nargs ? L->ptr : L->i64;
    char name[160];
    snprintf(name, sizeof name, "%sk%d", L->prefix ? L->prefix : "", g0);
    *kt = LLVMFunctionType(L->void_type, ptp, (unsigned)np, 0);
    if (ptp != pt) free(ptp);
    LLVMValueRef fn = LLVMAddFunction(L->m, name, *kt);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    char vw[16];
    snprintf(vw, sizeof vw, "%d", orc_vector_bits());
    LLVMAddTargetDependentFunctionAttr(fn, "prefer-vector-width", vw);
    unsigned na = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (int i = 0; i < nargs; i++)
        LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, LLVMCreateEnumAttribute(L->cx, na, 0));
    L->fn = fn;
    L->alloca_bb = LLVMAppendBasicBlockInContext(L->cx, fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->cx, fn, "start");
    LLVMPositionBuilderAtEnd(L->b, L->alloca_bb);
    LLVMBuildBr(L->b, body);
    LLVMPositionBuilderAtEnd(L->b, body);
    return fn;
}

/* Fills st with the buffers of a flat kernel (args[0..nargs-1], the first nm its outputs)
 * that its loop streams through: those with one element per iteration. 0, or -1 on out
 * of memory. */
static int lw_stream_of(lw *L, const int *args, int nargs, int nm, int64_t extent,
                        lw_stream *st) {
    st->n = 0;
    st->base = malloc((size_t)nargs * sizeof *st->base);
    st->esize = malloc((size_t)nargs * sizeof *st->esize);
    if (!st->base || !st->esize) return -1;
    for (int i = 0; i < nargs; i++) {
        const jx_type *t = &L->p->nodes[args[i]].type;
        if (jx_type_size(t) != extent) continue;
        st->base[st->n] = L->base[args[i]];
        st->esize[st->n] = (int)jx_dtype_size(t->dtype) * (i < nm ? -1 : 1); /* < 0: written */
        st->n++;
    }
    return 0;
}

/* See lower.h. */
LLVMValueRef lw_kernel(lw *L, int g0, int g1, int *args, int *nargs, unsigned char *seen,
                       lw_par *par) {
    const jit_plan *p = L->p;
    int nm = g1 - g0 + 1;
    memset(seen, 0, (size_t)p->n_nodes);
    for (int s = g0; s <= g1; s++) {
        args[s - g0] = p->steps[s].node;
        seen[p->steps[s].node] = 1;
        /* a donated input updated in place is read through the output pointer (the
         * entry copies it there first unless they are the same memory) */
        int donor = lw_donor(p, p->steps[s].node);
        if (donor >= 0) seen[donor] = 1;
    }
    lw_leaves c = {0, args + nm, seen};
    for (int s = g0; s <= g1; s++) jit_kernel_leaves(p, p->steps[s].node, lw_collect, &c);
    *nargs = nm + c.n;
    int64_t work = 0, bytes = 0;
    for (int i = 0; i < *nargs; i++) {
        jx_type lt = p->nodes[args[i]].type;
        if (jx_type_size(&lt) > work) work = jx_type_size(&lt);
        bytes += jx_type_size(&lt) * (int64_t)jx_dtype_size(lt.dtype);
    }
    /* the split loop: the flat loop or the outermost group (whole vectors when flat) */
    const jx_type *rt = &p->nodes[p->steps[g0].node].type;
    lw_nest ns;
    lw_nest_of(p, g0, g1, &ns);
    par->trampoline = NULL;
    par->extent = 0;
    par->grain = ns.flat || ns.n_groups == 1 ? 64 : 1;
    if (lw_work(p, g0, g1, bytes) >= LW_PARALLEL_BYTES && !p->steps[g0].outer && rt->rank > 0)
        par->extent = ns.group_size[0];
    int64_t conv = lw_conv_units(p, g0, g1); /* split by images or batch slices */
    if (conv > 0 && par->extent > 0) par->extent = conv, par->grain = 1;
    int split = par->extent > 1;
    LLVMTypeRef kt;
    LLVMValueRef fn = lw_kernel_fn(L, g0, *nargs, split, &kt), dst[JX_MAX_OPERANDS], *dp = dst;
    if (!fn || (nm > JX_MAX_OPERANDS && !(dp = malloc((size_t)nm * sizeof *dp)))) return NULL;
    for (int i = 0; i < *nargs; i++) L->base[args[i]] = LLVMGetParam(fn, (unsigned)i);
    for (int s = g0; s <= g1; s++) {
        int donor = lw_donor(p, p->steps[s].node);
        dp[s - g0] = LLVMGetParam(fn, (unsigned)(s - g0));
        if (donor >= 0) L->base[donor] = dp[s - g0];
    }
    if (split) {
        L->par_lo = LLVMGetParam(fn, (unsigned)*nargs);
        L->par_hi = LLVMGetParam(fn, (unsigned)*nargs + 1);
    }
    int math = 0;
    for (int s = g0; s <= g1; s++) math |= lw_has_math(p, p->steps[s].node, p->steps[s].node);
    L->loop_md = work < (math ? LW_SMALL_MATH : LW_SMALL_KERNEL) ? lw_scalar_loop_md(L) : NULL;
    lw_stream st = {0, NULL, NULL};
    int rc = 0;
    if ((ns.flat || ns.n_groups == 1) && rt->rank > 0 && bytes >= LW_STREAM_BYTES &&
        !p->steps[g0].outer && conv == 0)
        rc = lw_stream_of(L, args, *nargs, nm, ns.group_size[0], &st);
    if (rc == 0) lw_kernel_body(L, g0, g1, dp, &st);
    free(st.base);
    free(st.esize);
    L->loop_md = NULL;
    L->par_lo = L->par_hi = NULL;
    LLVMBuildRetVoid(L->b);
    if (dp != dst) free(dp);
    if (rc < 0 || (split && !(par->trampoline = lw_trampoline(L, g0, fn, kt, *nargs)))) return NULL;
    return fn;
}
