/* Lowering of a plan to LLVM IR: one internal function per kernel step or loop group
 * (lower_kernel.c; noalias pointer parameters), and one external entry that loads the
 * buffer pointers and runs the steps in order: kernel calls (through jx_rt_parallel for
 * split kernels), GEMMs (jx_rt_gemm, batch loops around it) and output copies; a donated
 * input updated in place is first copied into the output when the caller passed another
 * array. A kernel evaluates the fused tree of each member at each index (lw_eval,
 * lw_compute): elementwise ops are scalar code that the vectorizer widens, shape
 * primitives are index maps, and reductions, argmax, integer dot and conv_patches_t emit
 * inner loops at the point of use. With JX_PROFILE set when compiling, the entry calls
 * jx_rt_prof_mark after each step (per-step times printed at exit; see runtime/). */
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
    if (ix->mg) { /* row-major over this node's extent in each group */
        int64_t gs[JX_MAX_RANK], stride = 1;
        for (int g = 0; g < L->ng; g++) gs[g] = 1;
        for (int d = 0; d < ix->rank; d++) gs[L->grp[ix->map[d]]] *= ix->shape[d];
        LLVMValueRef r = NULL;
        for (int g = L->ng - 1; g >= 0; g--) {
            if (gs[g] <= 1) continue;
            LLVMValueRef t = stride == 1 ? L->gv[g] : LLVMBuildMul(L->b, L->gv[g], lw_k(L, stride), "");
            r = r ? LLVMBuildAdd(L->b, r, t, "") : t;
            stride *= gs[g];
        }
        return ix->lin = r ? r : lw_k(L, 0);
    }
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
    if (ix->mg) { /* each dim of extent > 1 is alone in its group (see lw_merge_scan) */
        for (int d = 0; d < ix->rank; d++)
            ix->v[d] = ix->shape[d] == 1 ? lw_k(L, 0) : L->gv[L->grp[ix->map[d]]];
        ix->multi = 1;
        return;
    }
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
    return lw_loop_range(L, lw_k(L, 0), lw_k(L, n));
}

/* Starts `for (iv = lo; iv < hi; iv++)`; the builder is left in the body. */
lw_loop lw_loop_range(lw *L, LLVMValueRef lo, LLVMValueRef hi) {
    lw_loop lp;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(L->b);
    lp.head = LLVMAppendBasicBlockInContext(L->cx, L->fn, "loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->cx, L->fn, "body");
    lp.exit = LLVMAppendBasicBlockInContext(L->cx, L->fn, "done");
    LLVMBuildBr(L->b, lp.head);
    LLVMPositionBuilderAtEnd(L->b, lp.head);
    lp.iv = LLVMBuildPhi(L->b, L->i64, "i");
    LLVMAddIncoming(lp.iv, &lo, &pre, 1);
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, lp.iv, hi, ""), body, lp.exit);
    LLVMPositionBuilderAtEnd(L->b, body);
    return lp;
}

/* Closes a loop opened by lw_loop_begin; the builder is left after the loop. */
void lw_loop_end(lw *L, lw_loop *lp) {
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, lp->iv, lw_k(L, 1), "");
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(L->b);
    LLVMAddIncoming(lp->iv, &next, &cur, 1);
    LLVMValueRef br = LLVMBuildBr(L->b, lp->head);
    if (L->loop_md) LLVMSetMetadata(br, LLVMGetMDKindIDInContext(L->cx, "llvm.loop", 9), L->loop_md);
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


/* Value of node n at ix: an immediate, a load from its buffer, or its fused computation. */
LLVMValueRef lw_eval(lw *L, int n, lw_ix *ix) {
    const jx_node *nd = &L->p->nodes[n];
    jp_kind k = L->p->buf[n].kind;
    if (k == JP_IMM) return lw_const(L, nd->type.dtype, jx_array_get(nd->at.value, 0));
    if (k != JP_FUSED) return lw_load(L, n, lw_lin(L, ix));
    return lw_compute(L, n, ix);
}

/* See lower.h. */
LLVMValueRef lw_compute(lw *L, int n, lw_ix *ix) {
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
        if (ix->mg) { /* the same group index; the operand's dims run along fewer dims */
            xi.mg = 1;
            for (int k = 0; k < xt->rank; k++) xi.map[k] = ix->map[dims.v[k]];
            return lw_eval(L, nd->in[0], &xi);
        }
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

/* ---- the entry ------------------------------------------------------------------------ */

/* Emits the batch loops and jx_rt_gemm calls of a GEMM step in the entry function. */
static void lw_gemm(lw *L, const jp_step *st, LLVMValueRef *ptrs) {
    const jp_gemm *g = &st->g;
    const jit_plan *p = L->p;
    jx_dtype dt = p->nodes[st->node].type.dtype;
    LLVMTypeRef et = lw_type(L, dt);
    int64_t nbt = 1;
    for (int i = 0; i < g->nb; i++) nbt *= g->bshape[i];
    if (g->m * g->n * nbt == 0) return;
    if (g->init >= 0) /* C starts as a copy of init (already there when updated in place) */
        lw_copy_if_distinct(L, ptrs[st->node], ptrs[g->init], p->buf[st->node].bytes);
    LLVMTypeRef at[15] = {L->i32, L->i32, L->i32, L->i64, L->i64, L->i64, L->f64, L->ptr,
                          L->i64, L->ptr, L->i64, L->f64, L->ptr, L->i64, L->i32};
    LLVMTypeRef ft = LLVMFunctionType(L->vd, at, 15, 0);
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
    LLVMValueRef args[15] = {
        LLVMConstInt(L->i32, dt == JX_F32 ? 0 : 1, 0), LLVMConstInt(L->i32, (unsigned)g->trans_a, 0),
        LLVMConstInt(L->i32, (unsigned)g->trans_b, 0), lw_k(L, g->m), lw_k(L, g->n), lw_k(L, g->k),
        LLVMConstReal(L->f64, g->alpha), A, lw_k(L, g->lda), Bp, lw_k(L, g->ldb),
        LLVMConstReal(L->f64, g->init >= 0 ? 1.0 : 0.0), C, lw_k(L, g->ldc), L->nthreads};
    LLVMBuildCall2(L->b, ft, fn, args, 15, "");
    for (int i = g->nb - 1; i >= 0; i--) lw_loop_end(L, &lp[i]);
}

/* Frees jit_lower's scratch arrays and the builder (the module is the caller's). */
static void lw_free_scratch(lw *L, LLVMValueRef *ptrs, int *args, unsigned char *seen,
                            LLVMValueRef *kfn, lw_par *kpar) {
    free(L->base);
    free(ptrs);
    free(args);
    free(seen);
    free(kfn);
    free(kpar);
    LLVMDisposeBuilder(L->b);
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
    lw_par *kpar = calloc((size_t)p->n_steps + 1, sizeof *kpar);
    if (!L->base || !ptrs || !args || !seen || !kfn || !kpar) {
        lw_free_scratch(L, ptrs, args, seen, kfn, kpar);
        LLVMDisposeModule(L->m);
        util_err("jit: out of memory allocating the lowering tables of %d nodes and %d steps "
                 "(%zu bytes)", n, p->n_steps,
                 ((size_t)n + 1) * (2 * sizeof(LLVMValueRef) + sizeof(int) + 1) +
                     ((size_t)p->n_steps + 1) * (sizeof *kfn + sizeof *kpar));
        return NULL;
    }
    /* the entry: void entry(void **in, void **out, char *arena, void **consts,
     * int32_t nthreads) */
    LLVMTypeRef et[5] = {L->ptr, L->ptr, L->ptr, L->ptr, L->i32};
    LLVMValueRef ef = LLVMAddFunction(L->m, entry, LLVMFunctionType(L->vd, et, 5, 0));
    LLVMBasicBlockRef eb = LLVMAppendBasicBlockInContext(cx, ef, "entry");
    L->nthreads = LLVMGetParam(ef, 4);
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
        if (st->kind != JS_KERNEL || st->group != s || jx_type_size(&t) == 0) continue;
        int g1 = s;
        while (g1 + 1 < p->n_steps && p->steps[g1 + 1].group == s) g1++;
        kfn[s] = lw_kernel(L, s, g1, kargs + (size_t)s * ((size_t)n + 2), &knargs[s], seen,
                           &kpar[s]);
        if (!kfn[s]) rc = -1;
    }
    /* argument block for the parallel kernels' trampolines */
    int maxpar = 1;
    for (int s = 0; s < p->n_steps; s++)
        if (kpar[s].tramp && knargs[s] > maxpar) maxpar = knargs[s];
    LLVMPositionBuilderAtEnd(L->b, eb);
    LLVMValueRef pctx = LLVMBuildArrayAlloca(L->b, L->ptr, lw_k(L, maxpar), "pctx");
    LLVMTypeRef par_at[5] = {L->ptr, L->ptr, L->i64, L->i64, L->i32};
    LLVMTypeRef par_t = LLVMFunctionType(L->vd, par_at, 5, 0);
    LLVMValueRef par_fn = NULL;
    L->fn = ef;
    LLVMPositionBuilderAtEnd(L->b, eb);
    LLVMValueRef prof = NULL;
    LLVMTypeRef prof_t = LLVMFunctionType(L->vd, &L->i64, 1, 0);
    if (getenv("JX_PROFILE")) {
        prof = LLVMAddFunction(L->m, "jx_rt_prof_mark", prof_t);
        LLVMValueRef a = lw_k(L, -1);
        LLVMBuildCall2(L->b, prof_t, prof, &a, 1, "");
    }
    for (int s = 0; s < p->n_steps && rc == 0; s++) {
        const jp_step *st = &p->steps[s];
        if (prof && s > 0) {
            LLVMValueRef a = lw_k(L, s - 1);
            LLVMBuildCall2(L->b, prof_t, prof, &a, 1, "");
        }
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
            for (int m = s; m < p->n_steps && p->steps[m].group == s; m++) {
                int root = p->steps[m].node, donor = lw_donor(p, root);
                if (donor >= 0) lw_copy_if_distinct(L, ptrs[root], ptrs[donor], p->buf[root].bytes);
            }
            LLVMValueRef av[64 + 2], *avp = na <= 64 ? av : malloc((size_t)na * sizeof *avp);
            LLVMTypeRef pt[64 + 2], *ptp = na <= 64 ? pt : malloc((size_t)na * sizeof *ptp);
            if (!avp || !ptp) {
                rc = -1;
            } else if (kpar[s].tramp) {
                for (int i = 0; i < na; i++) {
                    LLVMValueRef idx = lw_k(L, i);
                    LLVMBuildStore(L->b, ptrs[ka[i]],
                                   LLVMBuildInBoundsGEP2(L->b, L->ptr, pctx, &idx, 1, ""));
                }
                if (!par_fn) par_fn = LLVMAddFunction(L->m, "jx_rt_parallel", par_t);
                LLVMValueRef pa[5] = {kpar[s].tramp, pctx, lw_k(L, kpar[s].extent),
                                      lw_k(L, kpar[s].grain), L->nthreads};
                LLVMBuildCall2(L->b, par_t, par_fn, pa, 5, "");
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
    if (prof && p->n_steps > 0) {
        LLVMValueRef a = lw_k(L, p->n_steps - 1);
        LLVMBuildCall2(L->b, prof_t, prof, &a, 1, "");
    }
    LLVMBuildRetVoid(L->b);
    free(kargs);
    free(knargs);
    lw_free_scratch(L, ptrs, args, seen, kfn, kpar);
    if (rc < 0) {
        LLVMDisposeModule(L->m);
        util_err("jit: out of memory while lowering");
        return NULL;
    }
    return L->m;
}
