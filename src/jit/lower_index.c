/* The building blocks of the lowering: element indices (linear and multi-index, merged
 * group indices), counted loops, stack slots, loads and stores of buffer elements, and
 * the value of a node at an index (lw_eval: an immediate, a load, or the node's family
 * `lower` rule, which evaluates its operands through lw_eval in turn). */
#include <string.h>

#include "jit/lower.h"
#include "core/util.h"

/* See lower.h. */
LLVMValueRef lw_i64(lw *L, int64_t c) {
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
    if (ix->merged) { /* row-major over this node's extent in each group */
        int64_t gs[JX_MAX_RANK], stride = 1;
        for (int g = 0; g < L->n_groups; g++) gs[g] = 1;
        for (int d = 0; d < ix->rank; d++) gs[L->dim_group[ix->root_dim[d]]] *= ix->shape[d];
        LLVMValueRef r = NULL;
        for (int g = L->n_groups - 1; g >= 0; g--) {
            if (gs[g] <= 1) continue;
            LLVMValueRef t = stride == 1 ? L->group_iv[g] : LLVMBuildMul(L->b, L->group_iv[g], lw_i64(L, stride), "");
            r = r ? LLVMBuildAdd(L->b, r, t, "") : t;
            stride *= gs[g];
        }
        return ix->lin = r ? r : lw_i64(L, 0);
    }
    int64_t st[JX_MAX_RANK];
    util_strides(ix->rank, ix->shape, st);
    LLVMValueRef r = lw_i64(L, 0);
    for (int k = 0; k < ix->rank; k++)
        if (ix->shape[k] != 1)
            r = LLVMBuildAdd(L->b, r, LLVMBuildMul(L->b, ix->v[k], lw_i64(L, st[k]), ""), "");
    return ix->lin = r;
}

/* Makes ix's multi-index available (unravelling the linear index if needed). */
void lw_multi(lw *L, lw_ix *ix) {
    if (ix->multi) return;
    if (ix->merged) { /* each dim of extent > 1 is alone in its group (see lw_merge_scan) */
        for (int d = 0; d < ix->rank; d++)
            ix->v[d] = ix->shape[d] == 1 ? lw_i64(L, 0) : L->group_iv[L->dim_group[ix->root_dim[d]]];
        ix->multi = 1;
        return;
    }
    LLVMValueRef r = ix->lin;
    for (int k = ix->rank - 1; k >= 0; k--) {
        int64_t d = ix->shape[k] > 0 ? ix->shape[k] : 1;
        if (d == 1) {
            ix->v[k] = lw_i64(L, 0);
            continue;
        }
        ix->v[k] = k == 0 ? r : LLVMBuildURem(L->b, r, lw_i64(L, d), "");
        if (k > 0) r = LLVMBuildUDiv(L->b, r, lw_i64(L, d), "");
    }
    ix->multi = 1;
}

/* ---- loops and memory ---------------------------------------------------------------- */


/* Starts `for (iv = 0; iv < n; iv++)`; the builder is left in the body. */
lw_loop lw_loop_begin(lw *L, int64_t n) {
    return lw_loop_range(L, lw_i64(L, 0), lw_i64(L, n));
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
    lw_loop_end_step(L, lp, 1);
}

/* See lower.h. */
void lw_loop_end_step(lw *L, lw_loop *lp, int64_t step) {
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, lp->iv, lw_i64(L, step), "");
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
    LLVMTypeRef mt = lw_mem_type(L, dt);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, mt, L->base[n], &lin, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(L->b, mt, ptr, "");
    if (dt == JX_BOOL) v = LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstInt(L->i8, 0, 0), "");
    return v;
}

/* Stores register value v of dtype dt at element lin of pointer base. */
void lw_store(lw *L, LLVMValueRef base, jx_dtype dt, LLVMValueRef lin, LLVMValueRef v) {
    LLVMTypeRef mt = lw_mem_type(L, dt);
    if (dt == JX_BOOL) v = LLVMBuildZExt(L->b, v, L->i8, "");
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, mt, base, &lin, 1, "");
    LLVMBuildStore(L->b, v, ptr);
}

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
    const jx_node *nd = &L->p->nodes[n];
    const jx_family *fam = prim_info(nd->op)->family;
    if (fam->lower) return fam->lower(L, nd, ix);
    return NULL; /* no rule: gemm, a library call the planner never fuses */
}
