/* Lowering of the primitives that are more than an index map or a scalar op: reductions
 * (register accumulator), argmax, integer dot_general, conv_patches, conv_patches_t,
 * threefry2x32, pad and concatenate. Each evaluates one output element at index ix. */
#include <math.h>
#include <string.h>

#include "jit/lower.h"

/* Identity of a reduction op for dtype dt. */
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

/* acc (op) v for a reduction. */
LLVMValueRef lw_red_combine(lw *L, jx_op op, jx_dtype dt, LLVMValueRef acc,
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
LLVMValueRef lw_reduce_inner(lw *L, const jx_node *nd, lw_ix *ix) {
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
LLVMValueRef lw_argmax(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    int axis = (int)ir_attr_ints(nd, 0).v[0];
    jx_dtype xd = xt->dtype;
    lw_multi(L, ix);
    LLVMValueRef bv = lw_alloca(L, lw_type(L, xd)), bi = lw_alloca(L, L->i64);
    LLVMBuildStore(L->b, lw_const(L, xd, 0), bv);
    LLVMBuildStore(L->b, lw_i64(L, 0), bi);
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
    take = LLVMBuildOr(L->b, take, LLVMBuildICmp(L->b, LLVMIntEQ, lp.iv, lw_i64(L, 0), ""), "");
    LLVMBuildStore(L->b, LLVMBuildSelect(L->b, take, v, best, ""), bv);
    LLVMValueRef oi = LLVMBuildLoad2(L->b, L->i64, bi, "");
    LLVMBuildStore(L->b, LLVMBuildSelect(L->b, take, lp.iv, oi, ""), bi);
    lw_loop_end(L, &lp);
    return LLVMBuildTrunc(L->b, LLVMBuildLoad2(L->b, L->i64, bi, ""), L->i32, "");
}

/* Integer dot_general at output index ix: a loop over the contraction space. */
LLVMValueRef lw_int_dot(lw *L, const jx_node *nd, lw_ix *ix) {
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
LLVMValueRef lw_patches(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    jx_dtype dt = nd->type.dtype;
    if (jx_type_size(xt) == 0) return lw_const(L, dt, 0);
    int64_t a[6];
    lw_conv_attrs(nd, a);
    int64_t c = xt->shape[3], kw = a[1];
    lw_multi(L, ix);
    LLVMBuilderRef B = L->b;
    LLVMValueRef f = ix->v[3];
    LLVMValueRef kh_i = LLVMBuildUDiv(B, f, lw_i64(L, kw * c), "");
    LLVMValueRef rem = LLVMBuildURem(B, f, lw_i64(L, kw * c), "");
    LLVMValueRef kw_i = LLVMBuildUDiv(B, rem, lw_i64(L, c), ""), c_i = LLVMBuildURem(B, rem, lw_i64(L, c), "");
    LLVMValueRef y = LLVMBuildAdd(B, LLVMBuildMul(B, ix->v[1], lw_i64(L, a[2]), ""),
                                  LLVMBuildSub(B, kh_i, lw_i64(L, a[4]), ""), "");
    LLVMValueRef x = LLVMBuildAdd(B, LLVMBuildMul(B, ix->v[2], lw_i64(L, a[3]), ""),
                                  LLVMBuildSub(B, kw_i, lw_i64(L, a[5]), ""), "");
    LLVMValueRef in = LLVMBuildAnd(
        B,
        LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, y, lw_i64(L, 0), ""),
                     LLVMBuildICmp(B, LLVMIntSLT, y, lw_i64(L, xt->shape[1]), ""), ""),
        LLVMBuildAnd(B, LLVMBuildICmp(B, LLVMIntSGE, x, lw_i64(L, 0), ""),
                     LLVMBuildICmp(B, LLVMIntSLT, x, lw_i64(L, xt->shape[2]), ""), ""),
        "");
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    xi.v[0] = ix->v[0];
    xi.v[1] = LLVMBuildSelect(B, in, y, lw_i64(L, 0), "");
    xi.v[2] = LLVMBuildSelect(B, in, x, lw_i64(L, 0), "");
    xi.v[3] = c_i;
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    return LLVMBuildSelect(B, in, v, lw_const(L, dt, 0), "");
}

/* conv_patches_t at ix = (n, y, x, c): the sum of the patch entries read from pixel
 * (y, x), found by looping over the window and keeping the positions on the stride grid. */
LLVMValueRef lw_patches_t(lw *L, const jx_node *nd, lw_ix *ix) {
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
    LLVMValueRef yy = LLVMBuildSub(B, LLVMBuildAdd(B, ix->v[1], lw_i64(L, a[4]), ""), lh.iv, "");
    LLVMValueRef xx = LLVMBuildSub(B, LLVMBuildAdd(B, ix->v[2], lw_i64(L, a[5]), ""), lwl.iv, "");
    LLVMValueRef oy = LLVMBuildSDiv(B, yy, lw_i64(L, a[2]), ""), ox = LLVMBuildSDiv(B, xx, lw_i64(L, a[3]), "");
    LLVMValueRef ok = LLVMBuildICmp(B, LLVMIntSGE, yy, lw_i64(L, 0), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSGE, xx, lw_i64(L, 0), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, yy, lw_i64(L, a[2]), ""), lw_i64(L, 0), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, xx, lw_i64(L, a[3]), ""), lw_i64(L, 0), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, oy, lw_i64(L, pt->shape[1]), ""), "");
    ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, ox, lw_i64(L, pt->shape[2]), ""), "");
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->cx, L->fn, "tap");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->cx, L->fn, "join");
    LLVMBuildCondBr(B, ok, then, join);
    LLVMPositionBuilderAtEnd(B, then);
    lw_ix pi = lw_ix_new(pt);
    pi.multi = 1;
    pi.v[0] = ix->v[0];
    pi.v[1] = oy;
    pi.v[2] = ox;
    LLVMValueRef f = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lh.iv, lw_i64(L, a[1]), ""), lwl.iv, ""), lw_i64(L, c), ""), ix->v[3], "");
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
LLVMValueRef lw_threefry(lw *L, const jx_node *nd, lw_ix *ix) {
    static const unsigned rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
    LLVMBuilderRef B = L->b;
    const jx_type *kt = &L->p->nodes[nd->in[0]].type, *xt = &L->p->nodes[nd->in[1]].type;
    lw_multi(L, ix);
    LLVMValueRef k[3], x[2];
    for (int w = 0; w < 2; w++) {
        lw_ix ki = lw_ix_new(kt), xi = lw_ix_new(xt);
        ki.multi = xi.multi = 1;
        for (int d = 0; d < xt->rank; d++) xi.v[d] = d == 0 ? lw_i64(L, w) : ix->v[d];
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
    LLVMValueRef first = LLVMBuildICmp(B, LLVMIntEQ, ix->v[0], lw_i64(L, 0), "");
    return LLVMBuildSelect(B, first, x0, x1, "");
}

/* pad at ix: the operand element that lands there, else the padding value. */
LLVMValueRef lw_pad(lw *L, const jx_node *nd, lw_ix *ix) {
    LLVMBuilderRef B = L->b;
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    lw_ix none = lw_ix_new(&L->p->nodes[nd->in[1]].type);
    none.lin = lw_i64(L, 0);
    LLVMValueRef pv = lw_eval(L, nd->in[1], &none);
    if (jx_type_size(xt) == 0) return pv;
    jx_ints lo = ir_attr_ints(nd, 0), in = ir_attr_ints(nd, 2);
    lw_multi(L, ix);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    LLVMValueRef ok = LLVMConstInt(L->i1, 1, 0);
    LLVMValueRef q[JX_MAX_RANK];
    for (int k = 0; k < xt->rank; k++) {
        LLVMValueRef p = LLVMBuildSub(B, ix->v[k], lw_i64(L, lo.v[k]), "");
        int64_t s = in.v[k] + 1;
        q[k] = s == 1 ? p : LLVMBuildSDiv(B, p, lw_i64(L, s), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSGE, p, lw_i64(L, 0), ""), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, q[k], lw_i64(L, xt->shape[k]), ""), "");
        if (s != 1)
            ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, p, lw_i64(L, s), ""), lw_i64(L, 0), ""), "");
    }
    for (int k = 0; k < xt->rank; k++) xi.v[k] = LLVMBuildSelect(B, ok, q[k], lw_i64(L, 0), "");
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    return LLVMBuildSelect(B, ok, v, pv, "");
}

/* concatenate at ix: a branch per operand along the axis. */
LLVMValueRef lw_concat(lw *L, const jx_node *nd, lw_ix *ix) {
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
            LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, ix->v[d], lw_i64(L, off + sz), ""), then, next);
            LLVMPositionBuilderAtEnd(B, then);
        }
        lw_ix xi = lw_ix_new(xt);
        xi.multi = 1;
        for (int j = 0; j < xt->rank; j++) xi.v[j] = ix->v[j];
        xi.v[d] = LLVMBuildSub(B, ix->v[d], lw_i64(L, off), "");
        LLVMBuildStore(B, lw_eval(L, nd->in[k], &xi), res);
        LLVMBuildBr(B, merge);
        if (next) LLVMPositionBuilderAtEnd(B, next);
        off += sz;
    }
    if (last < 0) LLVMBuildBr(B, merge); /* empty output: never evaluated */
    LLVMPositionBuilderAtEnd(B, merge);
    return LLVMBuildLoad2(B, lw_type(L, dt), res, "");
}

