/* Patch kernels of the GEMM path (shapes the direct kernels leave to OpenBLAS):
 * conv_patches and conv_patches_t as loops over pixels and taps whose innermost loop runs
 * over a pixel's C channels, contiguous in the image and in the patch row, so that it
 * vectorizes into plain vector loads, stores and adds. (The family's generic `lower` rule computes
 * each patch element on its own, dividing its feature index into tap and channel and
 * testing the bounds per element.)
 *   conv_patches:   per output pixel and tap, the C channels of the pixel the tap reads,
 *                   or zeros outside the image;
 *   conv_patches_t: per image pixel, zero, then add the C channels of every (output
 *                   pixel, tap) pair that read it (the pairs on the stride grid).
 * Each runs per image (one unit of the group body in conv_kernel.c). */
#include "prims/conv_kernel.h"

/* See conv_kernel.h. */
int lc_patch_kernel(const jit_plan *p, int n) {
    const jx_node *nd = &p->nodes[n];
    if (nd->op != JX_OP_CONV_PATCHES && nd->op != JX_OP_CONV_PATCHES_T) return 0;
    const jx_type *img = nd->op == JX_OP_CONV_PATCHES ? &p->nodes[nd->in[0]].type : &nd->type;
    return img->shape[3] >= LC_PATCH_MIN_C &&
           (nd->type.dtype == JX_F32 || nd->type.dtype == JX_F64);
}

/* The attributes of a patch node: window, strides, pad_lo. */
typedef struct lcp_attr {
    int64_t kh, kw, sh, sw, ph, pw;
} lcp_attr;

/* Reads nd's attributes. */
static lcp_attr lcp_attrs(const jx_node *nd) {
    jx_ints w = ir_attr_ints(nd, 0), s = ir_attr_ints(nd, 1), lo = ir_attr_ints(nd, 2);
    return (lcp_attr){w.v[0], w.v[1], s.v[0], s.v[1], lo.v[0], lo.v[1]};
}

/* a * k + b on i64 values. */
static LLVMValueRef lcp_mad(lw *L, LLVMValueRef a, int64_t k, LLVMValueRef b) {
    return LLVMBuildAdd(L->b, LLVMBuildMul(L->b, a, lw_i64(L, k), ""), b, "");
}

/* lo <= v < hi (i1). */
static LLVMValueRef lcp_in(lw *L, LLVMValueRef v, int64_t hi) {
    return LLVMBuildAnd(L->b, LLVMBuildICmp(L->b, LLVMIntSGE, v, lw_i64(L, 0), ""),
                        LLVMBuildICmp(L->b, LLVMIntSLT, v, lw_i64(L, hi), ""), "");
}

/* conv_patches of image u into dst: for every output pixel and tap, C channels. */
static void lcp_patches(lw *L, const jx_node *nd, LLVMValueRef u, LLVMValueRef dst) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    lcp_attr a = lcp_attrs(nd);
    int64_t oh = nd->type.shape[1], ow = nd->type.shape[2], f = nd->type.shape[3], c = xt->shape[3];
    jx_dtype dt = nd->type.dtype;
    LLVMBuilderRef B = L->b;
    lw_loop ly = lw_loop_begin(L, oh), lx = lw_loop_begin(L, ow);
    LLVMValueRef row = lcp_mad(L, lcp_mad(L, u, oh, ly.iv), ow, lx.iv);
    lw_loop lh = lw_loop_begin(L, a.kh), lk = lw_loop_begin(L, a.kw);
    LLVMValueRef iy = LLVMBuildAdd(B, LLVMBuildMul(B, ly.iv, lw_i64(L, a.sh), ""),
                                   LLVMBuildSub(B, lh.iv, lw_i64(L, a.ph), ""), "");
    LLVMValueRef ix = LLVMBuildAdd(B, LLVMBuildMul(B, lx.iv, lw_i64(L, a.sw), ""),
                                   LLVMBuildSub(B, lk.iv, lw_i64(L, a.pw), ""), "");
    LLVMValueRef in = LLVMBuildAnd(B, lcp_in(L, iy, xt->shape[1]), lcp_in(L, ix, xt->shape[2]), "");
    LLVMValueRef cy = LLVMBuildSelect(B, in, iy, lw_i64(L, 0), ""),
                 cx = LLVMBuildSelect(B, in, ix, lw_i64(L, 0), "");
    LLVMValueRef base =
        lcp_mad(L, row, f, LLVMBuildMul(B, lcp_mad(L, lh.iv, a.kw, lk.iv), lw_i64(L, c), ""));
    lw_loop lc_ = lw_loop_begin(L, c);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    xi.v[0] = u, xi.v[1] = cy, xi.v[2] = cx, xi.v[3] = lc_.iv;
    LLVMValueRef v = LLVMBuildSelect(B, in, lw_eval(L, nd->in[0], &xi), lw_const(L, dt, 0), "");
    lw_store(L, dst, dt, LLVMBuildAdd(B, base, lc_.iv, ""), v);
    lw_loop_end(L, &lc_);
    lw_loop_end(L, &lk);
    lw_loop_end(L, &lh);
    lw_loop_end(L, &lx);
    lw_loop_end(L, &ly);
}

/* The output coordinate of image coordinate i through tap k of an axis (stride s, pad
 * p, n outputs), and whether it exists: (i + p - k) / s when that is on the grid. */
static LLVMValueRef lcp_grid(lw *L, LLVMValueRef i, LLVMValueRef k, int64_t s, int64_t p, int64_t n,
                             LLVMValueRef *ok) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef t = LLVMBuildSub(B, LLVMBuildAdd(B, i, lw_i64(L, p), ""), k, "");
    LLVMValueRef q = s == 1 ? t : LLVMBuildSDiv(B, t, lw_i64(L, s), "");
    LLVMValueRef on = s == 1 ? LLVMConstInt(L->i1, 1, 0)
                             : LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, t, lw_i64(L, s), ""),
                                             lw_i64(L, 0), "");
    *ok =
        LLVMBuildAnd(B, LLVMBuildAnd(B, on, LLVMBuildICmp(B, LLVMIntSGE, t, lw_i64(L, 0), ""), ""),
                     LLVMBuildICmp(B, LLVMIntSLT, q, lw_i64(L, n), ""), "");
    return q;
}

/* conv_patches_t of image u into dst: per pixel, the sum over the (output pixel, tap)
 * pairs that read it. */
static void lcp_patches_t(lw *L, const jx_node *nd, LLVMValueRef u, LLVMValueRef dst) {
    const jx_type *pt = &L->p->nodes[nd->in[0]].type;
    lcp_attr a = lcp_attrs(nd);
    int64_t h = nd->type.shape[1], w = nd->type.shape[2], c = nd->type.shape[3];
    int64_t oh = pt->shape[1], ow = pt->shape[2], f = pt->shape[3];
    jx_dtype dt = nd->type.dtype;
    LLVMBuilderRef B = L->b;
    lw_loop ly = lw_loop_begin(L, h), lx = lw_loop_begin(L, w);
    LLVMValueRef px = lcp_mad(L, lcp_mad(L, lcp_mad(L, u, h, ly.iv), w, lx.iv), c, lw_i64(L, 0));
    lw_loop lz = lw_loop_begin(L, c);
    lw_store(L, dst, dt, LLVMBuildAdd(B, px, lz.iv, ""), lw_const(L, dt, 0));
    lw_loop_end(L, &lz);
    lw_loop lh = lw_loop_begin(L, a.kh), lk = lw_loop_begin(L, a.kw);
    LLVMValueRef oky, okx;
    LLVMValueRef oy = lcp_grid(L, ly.iv, lh.iv, a.sh, a.ph, oh, &oky);
    LLVMValueRef ox = lcp_grid(L, lx.iv, lk.iv, a.sw, a.pw, ow, &okx);
    LLVMBasicBlockRef tap = LLVMAppendBasicBlockInContext(L->cx, L->fn, "tap");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->cx, L->fn, "join");
    LLVMBuildCondBr(B, LLVMBuildAnd(B, oky, okx, ""), tap, join);
    LLVMPositionBuilderAtEnd(B, tap);
    LLVMValueRef prow = lcp_mad(L, lcp_mad(L, lcp_mad(L, u, oh, oy), ow, ox), f,
                                LLVMBuildMul(B, lcp_mad(L, lh.iv, a.kw, lk.iv), lw_i64(L, c), ""));
    lw_loop lc_ = lw_loop_begin(L, c);
    lw_ix pi = lw_ix_new(pt);
    pi.lin = LLVMBuildAdd(B, prow, lc_.iv, "");
    LLVMValueRef di = LLVMBuildAdd(B, px, lc_.iv, "");
    LLVMValueRef cur = LLVMBuildLoad2(
        B, lw_mem_type(L, dt), LLVMBuildInBoundsGEP2(B, lw_mem_type(L, dt), dst, &di, 1, ""), "");
    lw_store(L, dst, dt, di, lw_add(L, dt, cur, lw_eval(L, nd->in[0], &pi)));
    lw_loop_end(L, &lc_);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, join);
    lw_loop_end(L, &lk);
    lw_loop_end(L, &lh);
    lw_loop_end(L, &lx);
    lw_loop_end(L, &ly);
}

/* See conv_kernel.h. */
void lc_patch_unit(lw *L, const jx_node *nd, LLVMValueRef u, LLVMValueRef dst) {
    if (nd->op == JX_OP_CONV_PATCHES) lcp_patches(L, nd, u, dst);
    else lcp_patches_t(L, nd, u, dst);
}
