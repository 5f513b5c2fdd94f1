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

/* An element index: multi-index over `shape` and/or linear index (each computed lazily
 * and cached; callers copy an index before entering a branch so cached values always
 * dominate their uses). */
typedef struct lw_ix {
    int rank;
    int64_t shape[JX_MAX_RANK];
    LLVMValueRef v[JX_MAX_RANK];
    LLVMValueRef lin;
    int multi;
} lw_ix;

static LLVMValueRef K(lw *L, int64_t c) {
    return LLVMConstInt(L->i64, (unsigned long long)c, 1);
}

/* An index over type t with nothing computed yet. */
static lw_ix lw_ix_new(const jx_type *t) {
    lw_ix ix;
    memset(&ix, 0, sizeof ix);
    ix.rank = t->rank;
    memcpy(ix.shape, t->shape, sizeof ix.shape);
    return ix;
}

/* The linear index of ix (computed from the multi-index if needed). */
static LLVMValueRef lw_lin(lw *L, lw_ix *ix) {
    if (ix->lin) return ix->lin;
    int64_t st[JX_MAX_RANK];
    util_strides(ix->rank, ix->shape, st);
    LLVMValueRef r = K(L, 0);
    for (int k = 0; k < ix->rank; k++)
        if (ix->shape[k] != 1)
            r = LLVMBuildAdd(L->b, r, LLVMBuildMul(L->b, ix->v[k], K(L, st[k]), ""), "");
    return ix->lin = r;
}

/* Makes ix's multi-index available (unravelling the linear index if needed). */
static void lw_multi(lw *L, lw_ix *ix) {
    if (ix->multi) return;
    LLVMValueRef r = ix->lin;
    for (int k = ix->rank - 1; k >= 0; k--) {
        int64_t d = ix->shape[k] > 0 ? ix->shape[k] : 1;
        if (d == 1) {
            ix->v[k] = K(L, 0);
            continue;
        }
        ix->v[k] = k == 0 ? r : LLVMBuildURem(L->b, r, K(L, d), "");
        if (k > 0) r = LLVMBuildUDiv(L->b, r, K(L, d), "");
    }
    ix->multi = 1;
}

/* ---- loops and memory ---------------------------------------------------------------- */

typedef struct lw_loop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef iv;
} lw_loop;

/* Starts `for (iv = 0; iv < n; iv++)`; the builder is left in the body. */
static lw_loop lw_loop_begin(lw *L, int64_t n) {
    lw_loop lp;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(L->b);
    lp.head = LLVMAppendBasicBlockInContext(L->cx, L->fn, "loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->cx, L->fn, "body");
    lp.exit = LLVMAppendBasicBlockInContext(L->cx, L->fn, "done");
    LLVMBuildBr(L->b, lp.head);
    LLVMPositionBuilderAtEnd(L->b, lp.head);
    lp.iv = LLVMBuildPhi(L->b, L->i64, "i");
    LLVMValueRef zero = K(L, 0);
    LLVMAddIncoming(lp.iv, &zero, &pre, 1);
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, lp.iv, K(L, n), ""), body, lp.exit);
    LLVMPositionBuilderAtEnd(L->b, body);
    return lp;
}

/* Closes a loop opened by lw_loop_begin; the builder is left after the loop. */
static void lw_loop_end(lw *L, lw_loop *lp) {
    LLVMValueRef next = LLVMBuildNSWAdd(L->b, lp->iv, K(L, 1), "");
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(L->b);
    LLVMAddIncoming(lp->iv, &next, &cur, 1);
    LLVMBuildBr(L->b, lp->head);
    LLVMPositionBuilderAtEnd(L->b, lp->exit);
}

/* A stack slot of type t in the function's entry block. */
static LLVMValueRef lw_alloca(lw *L, LLVMTypeRef t) {
    LLVMBuilderRef b = LLVMCreateBuilderInContext(L->cx);
    LLVMPositionBuilderBefore(b, LLVMGetBasicBlockTerminator(L->alloca_bb));
    LLVMValueRef a = LLVMBuildAlloca(b, t, "acc");
    LLVMDisposeBuilder(b);
    return a;
}

/* Element lin of node n's buffer, as a register value. */
static LLVMValueRef lw_load(lw *L, int n, LLVMValueRef lin) {
    jx_dtype dt = L->p->nodes[n].type.dtype;
    LLVMTypeRef mt = lw_mtype(L, dt);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, mt, L->base[n], &lin, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(L->b, mt, ptr, "");
    if (dt == JX_BOOL) v = LLVMBuildICmp(L->b, LLVMIntNE, v, LLVMConstInt(L->i8, 0, 0), "");
    return v;
}

/* Stores register value v of dtype dt at element lin of pointer base. */
static void lw_store(lw *L, LLVMValueRef base, jx_dtype dt, LLVMValueRef lin, LLVMValueRef v) {
    LLVMTypeRef mt = lw_mtype(L, dt);
    if (dt == JX_BOOL) v = LLVMBuildZExt(L->b, v, L->i8, "");
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(L->b, mt, base, &lin, 1, "");
    LLVMBuildStore(L->b, v, ptr);
}

/* ---- evaluation of a fused tree ------------------------------------------------------ */

static LLVMValueRef lw_compute(lw *L, int n, lw_ix *ix);

/* Value of node n at ix: an immediate, a load from its buffer, or its fused computation. */
static LLVMValueRef lw_eval(lw *L, int n, lw_ix *ix) {
    const jx_node *nd = &L->p->nodes[n];
    jp_kind k = L->p->buf[n].kind;
    if (k == JP_IMM) return lw_const(L, nd->type.dtype, jx_array_get(nd->at.value, 0));
    if (k != JP_FUSED) return lw_load(L, n, lw_lin(L, ix));
    return lw_compute(L, n, ix);
}

/* Identity of a reduction op for dtype dt. */
static LLVMValueRef lw_red_identity(lw *L, jx_op op, jx_dtype dt) {
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

/* acc (op) v for a reduction. */
static LLVMValueRef lw_red_combine(lw *L, jx_op op, jx_dtype dt, LLVMValueRef acc,
                                   LLVMValueRef v) {
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

/* Reduction node n (reduce_*) at output index ix with a register accumulator. */
static LLVMValueRef lw_reduce_inner(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    jx_ints ax = ir_attr_ints(nd, 0);
    int red[JX_MAX_RANK] = {0};
    for (int i = 0; i < ax.n; i++) red[ax.v[i]] = 1;
    lw_multi(L, ix);
    jx_dtype dt = nd->type.dtype;
    LLVMValueRef acc = lw_alloca(L, lw_type(L, dt));
    LLVMBuildStore(L->b, lw_red_identity(L, nd->op, dt), acc);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    lw_loop lp[JX_MAX_RANK];
    int nl = 0;
    for (int k = 0, kk = 0; k < xt->rank; k++) {
        if (red[k]) {
            lp[nl] = lw_loop_begin(L, xt->shape[k]);
            xi.v[k] = lp[nl++].iv;
        } else {
            xi.v[k] = ix->v[kk++];
        }
    }
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    LLVMValueRef a = LLVMBuildLoad2(L->b, lw_type(L, dt), acc, "");
    LLVMBuildStore(L->b, lw_red_combine(L, nd->op, dt, a, v), acc);
    while (nl > 0) lw_loop_end(L, &lp[--nl]);
    return LLVMBuildLoad2(L->b, lw_type(L, dt), acc, "");
}

/* argmax: first index of the maximum along the axis; the first NaN wins. */
static LLVMValueRef lw_argmax(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    int axis = (int)ir_attr_ints(nd, 0).v[0];
    jx_dtype xd = xt->dtype;
    lw_multi(L, ix);
    LLVMValueRef bv = lw_alloca(L, lw_type(L, xd)), bi = lw_alloca(L, L->i64);
    LLVMBuildStore(L->b, lw_const(L, xd, 0), bv);
    LLVMBuildStore(L->b, K(L, 0), bi);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    lw_loop lp = lw_loop_begin(L, xt->shape[axis]);
    for (int k = 0, kk = 0; k < xt->rank; k++) xi.v[k] = k == axis ? lp.iv : ix->v[kk++];
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    LLVMValueRef best = LLVMBuildLoad2(L->b, lw_type(L, xd), bv, "");
    LLVMValueRef take;
    if (xd == JX_F32 || xd == JX_F64) {
        LLVMValueRef bnan = LLVMBuildFCmp(L->b, LLVMRealUNO, best, best, "");
        LLVMValueRef better = LLVMBuildFCmp(L->b, LLVMRealUGT, v, best, ""); /* v NaN or v > best */
        take = LLVMBuildAnd(L->b, LLVMBuildNot(L->b, bnan, ""), better, "");
    } else {
        take = LLVMBuildICmp(L->b, xd == JX_I32 ? LLVMIntSGT : LLVMIntUGT, v, best, "");
    }
    take = LLVMBuildOr(L->b, take, LLVMBuildICmp(L->b, LLVMIntEQ, lp.iv, K(L, 0), ""), "");
    LLVMBuildStore(L->b, LLVMBuildSelect(L->b, take, v, best, ""), bv);
    LLVMValueRef oi = LLVMBuildLoad2(L->b, L->i64, bi, "");
    LLVMBuildStore(L->b, LLVMBuildSelect(L->b, take, lp.iv, oi, ""), bi);
    lw_loop_end(L, &lp);
    return LLVMBuildTrunc(L->b, LLVMBuildLoad2(L->b, L->i64, bi, ""), L->i32, "");
}

/* Integer dot_general at output index ix: a loop over the contraction space. */
static LLVMValueRef lw_int_dot(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *lt = &L->p->nodes[nd->in[0]].type, *rt = &L->p->nodes[nd->in[1]].type;
    jx_ints lc = ir_attr_ints(nd, 0), rc = ir_attr_ints(nd, 1), lb = ir_attr_ints(nd, 2),
            rb = ir_attr_ints(nd, 3);
    lw_multi(L, ix);
    lw_ix li = lw_ix_new(lt), ri = lw_ix_new(rt);
    li.multi = ri.multi = 1;
    int lused[JX_MAX_RANK] = {0}, rused[JX_MAX_RANK] = {0}, o = 0;
    for (int i = 0; i < lb.n; i++, o++) {
        li.v[lb.v[i]] = ix->v[o];
        ri.v[rb.v[i]] = ix->v[o];
        lused[lb.v[i]] = rused[rb.v[i]] = 1;
    }
    for (int i = 0; i < lc.n; i++) lused[lc.v[i]] = rused[rc.v[i]] = 1;
    for (int k = 0; k < lt->rank; k++)
        if (!lused[k]) li.v[k] = ix->v[o++];
    for (int k = 0; k < rt->rank; k++)
        if (!rused[k]) ri.v[k] = ix->v[o++];
    LLVMValueRef acc = lw_alloca(L, L->i32);
    LLVMBuildStore(L->b, LLVMConstInt(L->i32, 0, 0), acc);
    lw_loop lp[JX_MAX_RANK];
    for (int i = 0; i < lc.n; i++) {
        lp[i] = lw_loop_begin(L, lt->shape[lc.v[i]]);
        li.v[lc.v[i]] = ri.v[rc.v[i]] = lp[i].iv;
    }
    LLVMValueRef a = lw_eval(L, nd->in[0], &li), b = lw_eval(L, nd->in[1], &ri);
    LLVMValueRef s = LLVMBuildAdd(L->b, LLVMBuildLoad2(L->b, L->i32, acc, ""),
                                  LLVMBuildMul(L->b, a, b, ""), "");
    LLVMBuildStore(L->b, s, acc);
    for (int i = lc.n - 1; i >= 0; i--) lw_loop_end(L, &lp[i]);
    return LLVMBuildLoad2(L->b, L->i32, acc, "");
}

/* The conv attributes (kh, kw, sh, sw, ph0, pw0). */
static void lw_conv_attrs(const jx_node *nd, int64_t *c) {
    for (int k = 0; k < 3; k++) {
        jx_ints a = ir_attr_ints(nd, k);
        c[2 * k] = a.v[0];
        c[2 * k + 1] = a.v[1];
    }
}

/* conv_patches at ix = (n, oh, ow, f): x[n, oh*sh-ph0+kh, ow*sw-pw0+kw, c] or 0. */
static LLVMValueRef lw_patches(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    jx_dtype dt = nd->type.dtype;
    if (jx_type_size(xt) == 0) return lw_const(L, dt, 0);
    int64_t a[6];
    lw_conv_attrs(nd, a);
    int64_t c = xt->shape[3], kw = a[1];
    lw_multi(L, ix);
    LLVMBuilderRef B = L->b;
    LLVMValueRef f = ix->v[3];
    LLVMValueRef kh_i = LLVMBuildUDiv(B, f, K(L, kw * c), "");
    LLVMValueRef rem = LLVMBuildURem(B, f, K(L, kw * c), "");
    LLVMValueRef kw_i = LLVMBuildUDiv(B, rem, K(L, c), ""), c_i = LLVMBuildURem(B, rem, K(L, c), "");
    LLVMValueRef y = LLVMBuildAdd(B, LLVMBuildMul(B, ix->v[1], K(L, a[2]), ""),
                                  LLVMBuildSub(B, kh_i, K(L, a[4]), ""), "");
    LLVMValueRef x = LLVMBuildAdd(B, LLVMBuildMul(B, ix->v[2], K(L, a[3]), ""),
                                  LLVMBuildSub(B, kw_i, K(L, a[5]), ""), "");
    LLVMValueRef in = LLVMBuildAnd(
        B,
        LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, y, K(L, 0), ""),
                     LLVMBuildICmp(B, LLVMIntSLT, y, K(L, xt->shape[1]), ""), ""),
        LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, x, K(L, 0), ""),
                     LLVMBuildICmp(B, LLVMIntSLT, x, K(L, xt->shape[2]), ""), ""),
        "");
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    xi.v[0] = ix->v[0];
    xi.v[1] = LLVMBuildSelect(B, in, y, K(L, 0), "");
    xi.v[2] = LLVMBuildSelect(B, in, x, K(L, 0), "");
    xi.v[3] = c_i;
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    return LLVMBuildSelect(B, in, v, lw_const(L, dt, 0), "");
}

/* conv_patches_t at ix = (n, y, x, c): the sum of the patch entries read from pixel
 * (y, x), found by looping over the window and keeping the positions on the stride grid. */
static LLVMValueRef lw_patches_t(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *pt = &L->p->nodes[nd->in[0]].type;
    jx_dtype dt = nd->type.dtype;
    int64_t a[6];
    lw_conv_attrs(nd, a);
    int64_t c = nd->type.shape[3];
    lw_multi(L, ix);
    LLVMBuilderRef B = L->b;
    LLVMValueRef acc = lw_alloca(L, lw_type(L, dt));
    LLVMBuildStore(B, lw_const(L, dt, 0), acc);
    lw_loop lh = lw_loop_begin(L, a[0]);
    lw_loop lwl = lw_loop_begin(L, a[1]);
    LLVMValueRef yy = LLVMBuildSub(B, LLVMBuildAdd(B, ix->v[1], K(L, a[4]), ""), lh.iv, "");
    LLVMValueRef xx = LLVMBuildSub(B, LLVMBuildAdd(B, ix->v[2], K(L, a[5]), ""), lwl.iv, "");
    LLVMValueRef oy = LLVMBuildSDiv(B, yy, K(L, a[2]), ""), ox = LLVMBuildSDiv(B, xx, K(L, a[3]), "");
    LLVMValueRef ok = LLVMBuildICmp(B, LLVMIntSGE, yy, K(L, 0), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSGE, xx, K(L, 0), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, yy, K(L, a[2]), ""), K(L, 0), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, xx, K(L, a[3]), ""), K(L, 0), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, oy, K(L, pt->shape[1]), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, ox, K(L, pt->shape[2]), ""), "");
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->cx, L->fn, "tap");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->cx, L->fn, "join");
    LLVMBuildCondBr(B, ok, then, join);
    LLVMPositionBuilderAtEnd(B, then);
    lw_ix pi = lw_ix_new(pt);
    pi.multi = 1;
    pi.v[0] = ix->v[0];
    pi.v[1] = oy;
    pi.v[2] = ox;
    LLVMValueRef f = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lh.iv, K(L, a[1]), ""), lwl.iv, ""), K(L, c), ""), ix->v[3], "");
    pi.v[3] = f;
    LLVMValueRef v = lw_eval(L, nd->in[0], &pi);
    LLVMValueRef s = lw_elt_binary(L, JX_OP_ADD, dt, LLVMBuildLoad2(B, lw_type(L, dt), acc, ""), v);
    LLVMBuildStore(B, s, acc);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, join);
    lw_loop_end(L, &lwl);
    lw_loop_end(L, &lh);
    return LLVMBuildLoad2(B, lw_type(L, dt), acc, "");
}

/* threefry2x32(key, x) at ix = (w, rest...): word w of the encrypted pair. */
static LLVMValueRef lw_threefry(lw *L, const jx_node *nd, lw_ix *ix) {
    static const unsigned rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
    LLVMBuilderRef B = L->b;
    const jx_type *kt = &L->p->nodes[nd->in[0]].type, *xt = &L->p->nodes[nd->in[1]].type;
    lw_multi(L, ix);
    LLVMValueRef k[3], x[2];
    for (int w = 0; w < 2; w++) {
        lw_ix ki = lw_ix_new(kt), xi = lw_ix_new(xt);
        ki.multi = xi.multi = 1;
        for (int d = 0; d < xt->rank; d++) xi.v[d] = d == 0 ? K(L, w) : ix->v[d];
        /* key u32[2] (shared) or x's type (per-pair keys) */
        for (int d = 0; d < kt->rank; d++) ki.v[d] = xi.v[d];
        k[w] = lw_eval(L, nd->in[0], &ki);
        x[w] = lw_eval(L, nd->in[1], &xi);
    }
    k[2] = LLVMBuildXor(B, LLVMBuildXor(B, k[0], k[1], ""), LLVMConstInt(L->i32, 0x1BD11BDAu, 0), "");
    LLVMValueRef x0 = LLVMBuildAdd(B, x[0], k[0], ""), x1 = LLVMBuildAdd(B, x[1], k[1], "");
    for (unsigned inj = 1; inj <= 5; inj++) {
        const unsigned *r = &rot[((inj - 1) & 1u) * 4];
        for (int i = 0; i < 4; i++) {
            x0 = LLVMBuildAdd(B, x0, x1, "");
            LLVMValueRef args[3] = {x1, x1, LLVMConstInt(L->i32, r[i], 0)};
            x1 = lw_intrin(L, "llvm.fshl", L->i32, 3, args);
            x1 = LLVMBuildXor(B, x1, x0, "");
        }
        x0 = LLVMBuildAdd(B, x0, k[inj % 3], "");
        x1 = LLVMBuildAdd(B, x1, LLVMBuildAdd(B, k[(inj + 1) % 3], LLVMConstInt(L->i32, inj, 0), ""), "");
    }
    LLVMValueRef first = LLVMBuildICmp(B, LLVMIntEQ, ix->v[0], K(L, 0), "");
    return LLVMBuildSelect(B, first, x0, x1, "");
}

/* pad at ix: the operand element that lands there, else the padding value. */
static LLVMValueRef lw_pad(lw *L, const jx_node *nd, lw_ix *ix) {
    LLVMBuilderRef B = L->b;
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    lw_ix none = lw_ix_new(&L->p->nodes[nd->in[1]].type);
    none.lin = K(L, 0);
    LLVMValueRef pv = lw_eval(L, nd->in[1], &none);
    if (jx_type_size(xt) == 0) return pv;
    jx_ints lo = ir_attr_ints(nd, 0), in = ir_attr_ints(nd, 2);
    lw_multi(L, ix);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    LLVMValueRef ok = LLVMConstInt(L->i1, 1, 0);
    LLVMValueRef q[JX_MAX_RANK];
    for (int k = 0; k < xt->rank; k++) {
        LLVMValueRef p = LLVMBuildSub(B, ix->v[k], K(L, lo.v[k]), "");
        int64_t s = in.v[k] + 1;
        q[k] = s == 1 ? p : LLVMBuildSDiv(B, p, K(L, s), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSGE, p, K(L, 0), ""), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, q[k], K(L, xt->shape[k]), ""), "");
        if (s != 1)
            ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, p, K(L, s), ""), K(L, 0), ""), "");
    }
    for (int k = 0; k < xt->rank; k++) xi.v[k] = LLVMBuildSelect(B, ok, q[k], K(L, 0), "");
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    return LLVMBuildSelect(B, ok, v, pv, "");
}

/* concatenate at ix: a branch per operand along the axis. */
static LLVMValueRef lw_concat(lw *L, const jx_node *nd, lw_ix *ix) {
    LLVMBuilderRef B = L->b;
    int d = (int)ir_attr_ints(nd, 0).v[0];
    jx_dtype dt = nd->type.dtype;
    lw_multi(L, ix);
    LLVMValueRef res = lw_alloca(L, lw_type(L, dt));
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(L->cx, L->fn, "cat");
    int64_t off = 0;
    int last = -1;
    for (int k = 0; k < nd->nin; k++)
        if (L->p->nodes[nd->in[k]].type.shape[d] > 0) last = k;
    for (int k = 0; k <= last; k++) {
        const jx_type *xt = &L->p->nodes[nd->in[k]].type;
        int64_t sz = xt->shape[d];
        if (sz == 0) continue;
        LLVMBasicBlockRef next = NULL;
        if (k != last) {
            LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->cx, L->fn, "part");
            next = LLVMAppendBasicBlockInContext(L->cx, L->fn, "next");
            LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, ix->v[d], K(L, off + sz), ""), then, next);
            LLVMPositionBuilderAtEnd(B, then);
        }
        lw_ix xi = lw_ix_new(xt);
        xi.multi = 1;
        for (int j = 0; j < xt->rank; j++) xi.v[j] = ix->v[j];
        xi.v[d] = LLVMBuildSub(B, ix->v[d], K(L, off), "");
        LLVMBuildStore(B, lw_eval(L, nd->in[k], &xi), res);
        LLVMBuildBr(B, merge);
        if (next) LLVMPositionBuilderAtEnd(B, next);
        off += sz;
    }
    if (last < 0) LLVMBuildBr(B, merge); /* empty output: never evaluated */
    LLVMPositionBuilderAtEnd(B, merge);
    return LLVMBuildLoad2(B, lw_type(L, dt), res, "");
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
            xi.v[k] = xt->shape[k] == 1 ? K(L, 0) : ix->v[dims.v[k]];
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
            xi.v[k] = LLVMBuildAdd(B, K(L, st.v[k]), LLVMBuildMul(B, ix->v[k], K(L, sd.v[k]), ""), "");
        return lw_eval(L, nd->in[0], &xi);
    }
    case JX_OP_REV: {
        jx_ints dims = ir_attr_ints(nd, 0);
        lw_multi(L, ix);
        xi.multi = 1;
        for (int k = 0; k < xt->rank; k++) xi.v[k] = ix->v[k];
        for (int j = 0; j < dims.n; j++) {
            int k = (int)dims.v[j];
            xi.v[k] = LLVMBuildSub(B, K(L, xt->shape[k] - 1), ix->v[k], "");
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
        ix.lin = K(L, 0);
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
    LLVMValueRef aoff = K(L, 0), boff = K(L, 0), coff = K(L, 0);
    for (int i = 0; i < g->nb; i++) {
        lp[i] = lw_loop_begin(L, g->bshape[i]);
        aoff = LLVMBuildAdd(L->b, aoff, LLVMBuildMul(L->b, lp[i].iv, K(L, g->a_bstride[i]), ""), "");
        boff = LLVMBuildAdd(L->b, boff, LLVMBuildMul(L->b, lp[i].iv, K(L, g->b_bstride[i]), ""), "");
        coff = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, coff, K(L, g->bshape[i]), ""), lp[i].iv, "");
    }
    coff = LLVMBuildMul(L->b, coff, K(L, g->m * g->n), "");
    LLVMValueRef A = LLVMBuildInBoundsGEP2(L->b, et, ptrs[g->a], &aoff, 1, "");
    LLVMValueRef Bp = LLVMBuildInBoundsGEP2(L->b, et, ptrs[g->b], &boff, 1, "");
    LLVMValueRef C = LLVMBuildInBoundsGEP2(L->b, et, ptrs[st->node], &coff, 1, "");
    LLVMValueRef args[14] = {
        LLVMConstInt(L->i32, dt == JX_F32 ? 0 : 1, 0), LLVMConstInt(L->i32, (unsigned)g->trans_a, 0),
        LLVMConstInt(L->i32, (unsigned)g->trans_b, 0), K(L, g->m), K(L, g->n), K(L, g->k),
        LLVMConstReal(L->f64, 1.0), A, K(L, g->lda), Bp, K(L, g->ldb),
        LLVMConstReal(L->f64, 0.0), C, K(L, g->ldc)};
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
        LLVMValueRef idx = K(L, b->index), table = NULL;
        if (b->kind == JP_PARAM) table = ein;
        else if (b->kind == JP_OUT) table = eout;
        else if (b->kind == JP_CONST) table = econst;
        if (table) {
            LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, table, &idx, 1, "");
            ptrs[i] = LLVMBuildLoad2(L->b, L->ptr, slot, "");
        } else if (b->kind == JP_ARENA) {
            LLVMValueRef off = K(L, b->offset);
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
            LLVMValueRef idx = K(L, st->out);
            LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, eout, &idx, 1, "");
            LLVMValueRef dst = LLVMBuildLoad2(L->b, L->ptr, slot, "");
            LLVMBuildMemMove(L->b, dst, 1, ptrs[st->node], 1, K(L, bytes));
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
