/* Lowering of a plan to LLVM IR: one internal function per kernel step (pointer
 * parameters marked noalias unless a donated input may share the output's memory), and
 * one external entry that loads the buffer pointers, calls the kernels, the GEMMs and the
 * output copies in step order. A kernel loops over its root's output (flat when only the
 * linear index is needed, else one loop per dimension) and evaluates the fused tree at
 * each index (lw_eval); the O3 pipeline inlines the kernels and vectorizes the loops.
 * Shape primitives in a fused tree are index maps; reductions, argmax, integer dot and
 * conv_patches_t emit inner loops at the point of use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/lower.h"
#include "util.h"


/* See lower.h. */
LLVMValueRef lw_k(lw *L, int64_t c) {
    return LLVMConstInt(L->i64, (unsigned long long)c, 1);
}

/* An index over type t with nothing computed yet. */
lw_ix lw_ix_new(const jx_type *t) {
    lw_ix ix;
    memset(&ix, 0, sizeof ix);
    ix.rank = t->rank;
    memcpy(ix.shape, t->shape, sizeof ix.shape);
    return ix;
}

/* The linear index of ix (computed from the multi-index if needed). */
LLVMValueRef lw_lin(lw *L, lw_ix *ix) {
    if (ix->lin) return ix->lin;
    int64_t st[JX_MAX_RANK];
    util_strides(ix->rank, ix->shape, st);
    LLVMValueRef r = lw_k(L, 0);
    for (int k = 0; k < ix->rank; k++)
        if (ix->shape[k] != 1)
            r = LLVMBuildAdd(L->b, r, LLVMBuildMul(L->b, ix->v[k], lw_k(L, st[k]), ""), "");
    return ix->lin = r;
}

/* Makes ix's multi-index available (unravelling the linear index if needed). */
void lw_multi(lw *L, lw_ix *ix) {
    if (ix->multi) return;
    LLVMValueRef r = ix->lin;
    for (int k = ix->rank - 1; k >= 0; k--) {
        int64_t d = ix->shape[k] > 0 ? ix->shape[k] : 1;
        if (d == 1) {
            ix->v[k] = lw_k(L, 0);
            continue;
        }
        ix->v[k] = k == 0 ? r : LLVMBuildURem(L->b, r, lw_k(L, d), "");
        if (k > 0) r = LLVMBuildUDiv(L->b, r, lw_k(L, d), "");
    }
    ix->multi = 1;
}

/* ---- loops and memory ---------------------------------------------------------------- */


/* Starts `for (iv = 0; iv < n; iv++)`; the builder is left in the body. */
lw_loop lw_loop_begin(lw *L, int64_t n) {
    lw_loop lp;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(L->b);
    lp.head = LLVMAppendBasicBlockInContext(L->cx, L->fn, "loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->cx, L->fn, "body");
    lp.exit = LLVMAppendBasicBlockInContext(L->cx, L->fn, "done");
    LLVMBuildBr(L->b, lp.head);
    LLVMPositionBuilderAtEnd(L->b, lp.head);
    lp.iv = LLVMBuildPhi(L->b, L->i64, "i");
    LLVMValueRef zero = lw_k(L, 0);
    LLVMAddIncoming(lp.iv, &zero, &pre, 1);
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, lp.iv, lw_k(L, n), ""), body, lp.exit);
    LLVMPositionBuilderAtEnd(L->b, body);
    return lp;
}

/* Closes a loop opened by lw_loop_begin; the builder is left after the loop. */
void lw_loop_end(lw *L, lw_loop *lp) {
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, lp->iv, lw_k(L, 1), "");
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(L->b);
    LLVMAddIncoming(lp->iv, &next, &cur, 1);
    LLVMBuildBr(L->b, lp->head);
    LLVMPositionBuilderAtEnd(L->b, lp->exit);
}

/* A stack slot of type t in the function's entry block. */
LLVMValueRef lw_alloca(lw *L, LLVMTypeRef t) {
    LLVMBuilderRef b = LLVMCreateBuilderInContext(L->cx);
    LLVMPositionBuilderBefore(b, LLVMGetBasicBlockTerminator(L->alloca_bb));
    LLVMValueRef a = LLVMBuildAlloca(b, t, "acc");
    LLVMDisposeBuilder(b);
    return a;
}

/* Element lin of node n's buffer, as a register value. */
LLVMValueRef lw_load(lw *L, int n, LLVMValueRef lin) {
    jx_dtype dt = L->p->nodes[n].type.dtype;
    LLVMTypeRef mt = lw_mtype(L, dt);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, mt, L->base[n], &lin, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(L->b, mt, ptr, "");
    if (dt == JX_BOOL) v = LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstInt(L->i8, 0, 0), "");
    return v;
}

/* Stores register value v of dtype dt at element lin of pointer base. */
void lw_store(lw *L, LLVMValueRef base, jx_dtype dt, LLVMValueRef lin, LLVMValueRef v) {
    LLVMTypeRef mt = lw_mtype(L, dt);
    if (dt == JX_BOOL) v = LLVMBuildZExt(L->b, v, L->i8, "");
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, mt, base, &lin, 1, "");
    LLVMBuildStore(L->b, v, ptr);
}

/* ---- evaluation of a fused tree ------------------------------------------------------ */

static LLVMValueRef lw_compute(lw *L, int n, lw_ix *ix);


/* Value of node n at ix: an immediate, a load from its buffer, or its fused computation. */
LLVMValueRef lw_eval(lw *L, int n, lw_ix *ix) {
    const jx_node *nd = &L->p->nodes[n];
    jp_kind k = L->p->buf[n].kind;
    if (k == JP_IMM) return lw_const(L, nd->type.dtype, jx_array_get(nd->at.value, 0));
    if (k != JP_FUSED) return lw_load(L, n, lw_lin(L, ix));
    return lw_compute(L, n, ix);
}

/* Computes node n (not via its buffer) at index ix. */
static LLVMValueRef lw_compute(lw *L, int n, lw_ix *ix) {
    const jit_plan *p = L->p;
    const jx_node *nd = &p->nodes[n];
    jx_dtype dt = nd->type.dtype;
    LLVMBuilderRef B = L->b;
    if (jit_is_elt(p, n)) {
        jx_dtype xd = p->nodes[nd->in[0]].type.dtype;
        LLVMValueRef a[3];
        for (int k = 0; k < nd->nin; k++) a[k] = lw_eval(L, nd->in[k], ix);
        switch (nd->op) {
        case JX_OP_CONVERT: return lw_convert(L, xd, dt, a[0]);
        case JX_OP_BITCAST: return lw_bitcast(L, xd, dt, a[0]);
        case JX_OP_SELECT: return LLVMBuildSelect(B, a[0], a[1], a[2], "");
        default:
            return nd->nin == 1 ? lw_elt_unary(L, nd->op, xd, a[0])
                                : lw_elt_binary(L, nd->op, xd, a[0], a[1]);
        }
    }
    const jx_type *xt = nd->nin > 0 ? &p->nodes[nd->in[0]].type : NULL;
    lw_ix xi = xt ? lw_ix_new(xt) : lw_ix_new(&nd->type);
    switch (nd->op) {
    case JX_OP_CONSTANT: return lw_load(L, n, lw_lin(L, ix));
    case JX_OP_IOTA: {
        lw_multi(L, ix);
        LLVMValueRef v = ix->v[ir_attr_ints(nd, 0).v[0]];
        if (dt == JX_F32 || dt == JX_F64) return LLVMBuildSIToFP(B, v, lw_type(L, dt), "");
        return LLVMBuildTrunc(B, v, L->i32, "");
    }
    case JX_OP_BROADCAST_IN_DIM: {
        jx_ints dims = ir_attr_ints(nd, 1);
        lw_multi(L, ix);
        xi.multi = 1;
        for (int k = 0; k < xt->rank; k++)
            xi.v[k] = xt->shape[k] == 1 ? lw_k(L, 0) : ix->v[dims.v[k]];
        return lw_eval(L, nd->in[0], &xi);
    }
    case JX_OP_RESHAPE:
        xi.lin = lw_lin(L, ix);
        return lw_eval(L, nd->in[0], &xi);
    case JX_OP_TRANSPOSE: {
        jx_ints perm = ir_attr_ints(nd, 0);
        lw_multi(L, ix);
        xi.multi = 1;
        for (int i = 0; i < perm.n; i++) xi.v[perm.v[i]] = ix->v[i];
        return lw_eval(L, nd->in[0], &xi);
    }
    case JX_OP_SLICE: {
        jx_ints st = ir_attr_ints(nd, 0), sd = ir_attr_ints(nd, 2);
        lw_multi(L, ix);
        xi.multi = 1;
        for (int k = 0; k < xt->rank; k++)
            xi.v[k] = LLVMBuildAdd(B, lw_k(L, st.v[k]), LLVMBuildMul(B, ix->v[k], lw_k(L, sd.v[k]), ""), "");
        return lw_eval(L, nd->in[0], &xi);
    }
    case JX_OP_REV: {
        jx_ints dims = ir_attr_ints(nd, 0);
        lw_multi(L, ix);
        xi.multi = 1;
        for (int k = 0; k < xt->rank; k++) xi.v[k] = ix->v[k];
        for (int j = 0; j < dims.n; j++) {
            int k = (int)dims.v[j];
            xi.v[k] = LLVMBuildSub(B, lw_k(L, xt->shape[k] - 1), ix->v[k], "");
        }
        return lw_eval(L, nd->in[0], &xi);
    }
    case JX_OP_PAD: return lw_pad(L, nd, ix);
    case JX_OP_CONCATENATE: return lw_concat(L, nd, ix);
    case JX_OP_REDUCE_SUM:
    case JX_OP_REDUCE_MAX:
    case JX_OP_REDUCE_MIN: return lw_reduce_inner(L, nd, ix);
    case JX_OP_ARGMAX: return lw_argmax(L, nd, ix);
    case JX_OP_DOT_GENERAL: return lw_int_dot(L, nd, ix);
    case JX_OP_CONV_PATCHES: return lw_patches(L, nd, ix);
    case JX_OP_CONV_PATCHES_T: return lw_patches_t(L, nd, ix);
    case JX_OP_THREEFRY2X32: return lw_threefry(L, nd, ix);
    default: return NULL;
    }
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

/* ---- kernels and the entry ----------------------------------------------------------- */

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

/* Emits the body of the kernel rooted at root: dst is its output pointer. */
static void lw_kernel_body(lw *L, const jp_step *st, LLVMValueRef dst) {
    const jit_plan *p = L->p;
    int root = st->node;
    const jx_node *nd = &p->nodes[root];
    jx_type t = nd->type;
    jx_dtype dt = t.dtype;
    int64_t numel = jx_type_size(&t);
    if (st->outer) {
        const jx_type *xt = &p->nodes[nd->in[0]].type;
        lw_loop init = lw_loop_begin(L, numel);
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
        LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, lw_mtype(L, dt), dst, &ol, 1, "");
        LLVMValueRef a = LLVMBuildLoad2(L->b, lw_mtype(L, dt), ptr, "");
        if (dt == JX_BOOL) a = LLVMBuildICmp(L->b, LLVMIntNE, a, LLVMConstInt(L->i8, 0, 0), "");
        lw_store(L, dst, dt, ol, lw_red_combine(L, nd->op, dt, a, v));
        for (int k = xt->rank - 1; k >= 0; k--) lw_loop_end(L, &lp[k]);
        return;
    }
    lw_ix ix = lw_ix_new(&t);
    lw_loop lp[JX_MAX_RANK];
    int nl = 0;
    if (t.rank == 0) {
        ix.lin = lw_k(L, 0);
        ix.multi = 1;
    } else if (!lw_needs_multi(p, root, root)) {
        lp[nl++] = lw_loop_begin(L, numel);
        ix.lin = lp[0].iv;
    } else {
        ix.multi = 1;
        for (int k = 0; k < t.rank; k++) {
            lp[nl++] = lw_loop_begin(L, t.shape[k]);
            ix.v[k] = lp[k].iv;
        }
        lw_lin(L, &ix);
    }
    LLVMValueRef lin = lw_lin(L, &ix);
    LLVMValueRef v = lw_compute(L, root, &ix);
    lw_store(L, dst, dt, lin, v);
    while (nl > 0) lw_loop_end(L, &lp[--nl]);
}

/* Emits kernel function k<s> for step s; returns it and fills its argument nodes
 * (args[0] = root, then the leaves). */
static LLVMValueRef lw_kernel(lw *L, int s, int *args, int *nargs, unsigned char *seen) {
    const jit_plan *p = L->p;
    const jp_step *st = &p->steps[s];
    lw_leaves c = {0, args + 1, seen};
    memset(seen, 0, (size_t)p->n_nodes);
    seen[st->node] = 1;
    jit_kernel_leaves(p, st->node, lw_collect, &c);
    args[0] = st->node;
    *nargs = c.n + 1;
    LLVMTypeRef *pt = malloc((size_t)*nargs * sizeof *pt);
    if (!pt) return NULL;
    for (int i = 0; i < *nargs; i++) pt[i] = L->ptr;
    char name[32];
    snprintf(name, sizeof name, "k%d", s);
    LLVMValueRef fn = LLVMAddFunction(L->m, name, LLVMFunctionType(L->vd, pt, (unsigned)*nargs, 0));
    free(pt);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    /* noalias unless a donated input may share memory with the output */
    int donor = -1;
    const jp_buf *rb = &p->buf[st->node];
    if (rb->kind == JP_OUT) donor = p->donor[rb->index];
    unsigned na = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (int i = 0; i < *nargs; i++) {
        if (donor >= 0 && (i == 0 || args[i] == donor)) continue;
        LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, LLVMCreateEnumAttribute(L->cx, na, 0));
    }
    L->fn = fn;
    L->alloca_bb = LLVMAppendBasicBlockInContext(L->cx, fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->cx, fn, "start");
    LLVMPositionBuilderAtEnd(L->b, L->alloca_bb);
    LLVMBuildBr(L->b, body);
    LLVMPositionBuilderAtEnd(L->b, body);
    for (int i = 0; i < *nargs; i++) L->base[args[i]] = LLVMGetParam(fn, (unsigned)i);
    lw_kernel_body(L, st, LLVMGetParam(fn, 0));
    LLVMBuildRetVoid(L->b);
    return fn;
}

/* Emits the batch loops and jx_rt_gemm calls of a GEMM step in the entry function. */
static void lw_gemm(lw *L, const jp_step *st, LLVMValueRef *ptrs) {
    const jp_gemm *g = &st->g;
    const jit_plan *p = L->p;
    jx_dtype dt = p->nodes[st->node].type.dtype;
    LLVMTypeRef et = lw_type(L, dt);
    int64_t nbt = 1;
    for (int i = 0; i < g->nb; i++) nbt *= g->bshape[i];
    if (g->m * g->n * nbt == 0) return;
    LLVMTypeRef at[14] = {L->i32, L->i32, L->i32, L->i64, L->i64, L->i64, L->f64, L->ptr,
                          L->i64, L->ptr, L->i64, L->f64, L->ptr, L->i64};
    LLVMTypeRef ft = LLVMFunctionType(L->vd, at, 14, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(L->m, "jx_rt_gemm");
    if (!fn) fn = LLVMAddFunction(L->m, "jx_rt_gemm", ft);
    lw_loop lp[JX_MAX_RANK];
    LLVMValueRef aoff = lw_k(L, 0), boff = lw_k(L, 0), coff = lw_k(L, 0);
    for (int i = 0; i < g->nb; i++) {
        lp[i] = lw_loop_begin(L, g->bshape[i]);
        aoff = LLVMBuildAdd(L->b, aoff, LLVMBuildMul(L->b, lp[i].iv, lw_k(L, g->a_bstride[i]), ""), "");
        boff = LLVMBuildAdd(L->b, boff, LLVMBuildMul(L->b, lp[i].iv, lw_k(L, g->b_bstride[i]), ""), "");
        coff = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, coff, lw_k(L, g->bshape[i]), ""), lp[i].iv, "");
    }
    coff = LLVMBuildMul(L->b, coff, lw_k(L, g->m * g->n), "");
    LLVMValueRef A = LLVMBuildInBoundsGEP2(L->b, et, ptrs[g->a], &aoff, 1, "");
    LLVMValueRef Bp = LLVMBuildInBoundsGEP2(L->b, et, ptrs[g->b], &boff, 1, "");
    LLVMValueRef C = LLVMBuildInBoundsGEP2(L->b, et, ptrs[st->node], &coff, 1, "");
    LLVMValueRef args[14] = {
        LLVMConstInt(L->i32, dt == JX_F32 ? 0 : 1, 0), LLVMConstInt(L->i32, (unsigned)g->trans_a, 0),
        LLVMConstInt(L->i32, (unsigned)g->trans_b, 0), lw_k(L, g->m), lw_k(L, g->n), lw_k(L, g->k),
        LLVMConstReal(L->f64, 1.0), A, lw_k(L, g->lda), Bp, lw_k(L, g->ldb),
        LLVMConstReal(L->f64, 0.0), C, lw_k(L, g->ldc)};
    LLVMBuildCall2(L->b, ft, fn, args, 14, "");
    for (int i = g->nb - 1; i >= 0; i--) lw_loop_end(L, &lp[i]);
}

/* See jit.h. */
LLVMModuleRef jit_lower(const jit_plan *p, LLVMContextRef cx, const char *entry) {
    lw Lv, *L = &Lv;
    memset(L, 0, sizeof *L);
    L->p = p;
    L->cx = cx;
    L->m = LLVMModuleCreateWithNameInContext("jx", cx);
    L->b = LLVMCreateBuilderInContext(cx);
    L->i1 = LLVMInt1TypeInContext(cx);
    L->i8 = LLVMInt8TypeInContext(cx);
    L->i32 = LLVMInt32TypeInContext(cx);
    L->i64 = LLVMInt64TypeInContext(cx);
    L->f32 = LLVMFloatTypeInContext(cx);
    L->f64 = LLVMDoubleTypeInContext(cx);
    L->ptr = LLVMPointerTypeInContext(cx, 0);
    L->vd = LLVMVoidTypeInContext(cx);
    int n = p->n_nodes;
    L->base = calloc((size_t)n + 1, sizeof *L->base);
    LLVMValueRef *ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    int *args = malloc(((size_t)n + 2) * sizeof *args);
    unsigned char *seen = malloc((size_t)n + 1);
    LLVMValueRef *kfn = calloc((size_t)p->n_steps + 1, sizeof *kfn);
    if (!L->base || !ptrs || !args || !seen || !kfn) {
        free(L->base);
        free(ptrs);
        free(args);
        free(seen);
        free(kfn);
        LLVMDisposeBuilder(L->b);
        LLVMDisposeModule(L->m);
        util_err("jit: out of memory while lowering");
        return NULL;
    }
    /* the entry: void entry(void **in, void **out, char *arena, void **consts) */
    LLVMTypeRef et[4] = {L->ptr, L->ptr, L->ptr, L->ptr};
    LLVMValueRef ef = LLVMAddFunction(L->m, entry, LLVMFunctionType(L->vd, et, 4, 0));
    LLVMBasicBlockRef eb = LLVMAppendBasicBlockInContext(cx, ef, "entry");
    LLVMPositionBuilderAtEnd(L->b, eb);
    LLVMValueRef ein = LLVMGetParam(ef, 0), eout = LLVMGetParam(ef, 1),
                 earena = LLVMGetParam(ef, 2), econst = LLVMGetParam(ef, 3);
    for (int i = 0; i < n; i++) {
        const jp_buf *b = &p->buf[i];
        LLVMValueRef idx = lw_k(L, b->index), table = NULL;
        if (b->kind == JP_PARAM) table = ein;
        else if (b->kind == JP_OUT) table = eout;
        else if (b->kind == JP_CONST) table = econst;
        if (table) {
            LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, table, &idx, 1, "");
            ptrs[i] = LLVMBuildLoad2(L->b, L->ptr, slot, "");
        } else if (b->kind == JP_ARENA) {
            LLVMValueRef off = lw_k(L, b->offset);
            ptrs[i] = LLVMBuildInBoundsGEP2(L->b, L->i8, earena, &off, 1, "");
        }
    }
    /* kernels first, each in its own function; then the entry body in step order */
    int rc = 0;
    int *kargs = malloc(((size_t)n + 2) * (size_t)(p->n_steps + 1) * sizeof *kargs);
    int *knargs = calloc((size_t)p->n_steps + 1, sizeof *knargs);
    if (!kargs || !knargs) rc = -1;
    for (int s = 0; s < p->n_steps && rc == 0; s++) {
        const jp_step *st = &p->steps[s];
        jx_type t = p->nodes[st->node].type;
        if (st->kind != JS_KERNEL || jx_type_size(&t) == 0) continue;
        kfn[s] = lw_kernel(L, s, kargs + (size_t)s * ((size_t)n + 2), &knargs[s], seen);
        if (!kfn[s]) rc = -1;
    }
    L->fn = ef;
    LLVMPositionBuilderAtEnd(L->b, eb);
    for (int s = 0; s < p->n_steps && rc == 0; s++) {
        const jp_step *st = &p->steps[s];
        if (st->kind == JS_GEMM) {
            lw_gemm(L, st, ptrs);
        } else if (st->kind == JS_COPY) {
            jx_type t = p->nodes[st->node].type;
            int64_t bytes = jx_type_size(&t) * (int64_t)jx_dtype_size(t.dtype);
            if (bytes == 0) continue;
            LLVMValueRef idx = lw_k(L, st->out);
            LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, eout, &idx, 1, "");
            LLVMValueRef dst = LLVMBuildLoad2(L->b, L->ptr, slot, "");
            LLVMBuildMemMove(L->b, dst, 1, ptrs[st->node], 1, lw_k(L, bytes));
        } else if (kfn[s]) {
            int na = knargs[s], *ka = kargs + (size_t)s * ((size_t)n + 2);
            LLVMValueRef av[64 + 2], *avp = na <= 64 ? av : malloc((size_t)na * sizeof *avp);
            LLVMTypeRef pt[64 + 2], *ptp = na <= 64 ? pt : malloc((size_t)na * sizeof *ptp);
            if (!avp || !ptp) {
                rc = -1;
            } else {
                for (int i = 0; i < na; i++) {
                    avp[i] = ptrs[ka[i]];
                    ptp[i] = L->ptr;
                }
                LLVMBuildCall2(L->b, LLVMFunctionType(L->vd, ptp, (unsigned)na, 0), kfn[s],
                               avp, (unsigned)na, "");
            }
            if (avp != av) free(avp);
            if (ptp != pt) free(ptp);
        }
    }
    LLVMBuildRetVoid(L->b);
    free(kargs);
    free(knargs);
    if (rc < 0) {
        free(L->base);
        free(ptrs);
        free(args);
        free(seen);
        free(kfn);
        LLVMDisposeBuilder(L->b);
        LLVMDisposeModule(L->m);
        util_err("jit: out of memory while lowering");
        return NULL;
    }
    free(L->base);
    free(ptrs);
    free(args);
    free(seen);
    free(kfn);
    LLVMDisposeBuilder(L->b);
    return L->m;
}
