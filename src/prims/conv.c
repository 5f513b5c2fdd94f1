/* The conv family: convolution as image patches (im2col) and its linear transpose.
 *
 * conv_patches: x[N,H,W,C] -> out[N,OH,OW,KH*KW*C] with
 *   out[n,oh,ow,(kh*KW+kw)*C+c] = x[n, oh*SH-PH0+kh, ow*SW-PW0+kw, c]  (0 outside x),
 *   OH = (H+PH0+PH1-KH)/SH + 1, OW likewise.
 * So a HWIO kernel w[KH,KW,C,O] reshaped to [KH*KW*C,O] gives conv = dot(patches, w).
 * conv_patches_t: p[N,OH,OW,KH*KW*C] -> [N,H,W,C] (H, W from the output type), the
 * exact transpose: every patch entry is added back to the pixel it was read from.
 * Attributes (prims.def order): window (KH,KW), strides (SH,SW), pad_lo (PH0,PW0),
 * pad_hi (PH1,PW1). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/trace.h"
#include "transform/transform.h"
#include "core/util.h"
#include "jit/lower.h"
#include "prims/conv_direct.h"

static const char *const conv_attr_names[4] = {"window", "strides", "pad_lo", "pad_hi"};

/* See conv_direct.h. */
int conv_read_params(const jx_attrs *at, conv_params *p, char *err, size_t errlen) {
    int64_t v[4][2];
    for (int k = 0; k < 4; k++) {
        int n = at ? at->n[k] : 0;
        if (n != 2 || !at->v[k]) {
            snprintf(err, errlen, "%s must have 2 entries (height, width), got %d",
                     conv_attr_names[k], n);
            return -1;
        }
        int64_t lo = k < 2 ? 1 : 0;
        for (int i = 0; i < 2; i++) {
            v[k][i] = at->v[k][i];
            if (v[k][i] < lo || v[k][i] > CONV_MAX_ATTR) {
                snprintf(err, errlen, "%s (%lld,%lld) must be %s", conv_attr_names[k],
                         (long long)at->v[k][0], (long long)at->v[k][1],
                         v[k][i] < lo ? (lo ? ">= 1" : ">= 0") : "at most 2^40");
                return -1;
            }
        }
    }
    if (v[0][0] > ((int64_t)1 << 62) / v[0][1]) {
        snprintf(err, errlen, "window (%lld,%lld) is too large", (long long)v[0][0],
                 (long long)v[0][1]);
        return -1;
    }
    *p = (conv_params){v[0][0], v[0][1], v[1][0], v[1][1], v[2][0], v[2][1], v[3][0], v[3][1]};
    return 0;
}

/* See conv_direct.h. */
int64_t conv_out_dim(const char *axis, int64_t in, int64_t k, int64_t s, int64_t p0,
                            int64_t p1, char *err, size_t errlen) {
    if (in > INT64_MAX - p0 - p1) {
        snprintf(err, errlen, "padded input %s is too large", axis);
        return -1;
    }
    int64_t padded = in + p0 + p1;
    if (padded < k) {
        snprintf(err, errlen,
                 "window %s %lld is larger than the padded input %s %lld (%lld + pad %lld + "
                 "%lld)",
                 axis, (long long)k, axis, (long long)padded, (long long)in, (long long)p0,
                 (long long)p1);
        return -1;
    }
    return (padded - k) / s + 1;
}

/* Checks the operand (rank 4, dtype f32/f64/i32) of either op. */
static int conv_check_operand(const char *what, const jx_type *x, char *err, size_t errlen) {
    if (x->dtype != JX_F32 && x->dtype != JX_F64 && x->dtype != JX_I32) {
        snprintf(err, errlen, "dtype %s is not supported (need f32, f64 or i32)",
                 jx_dtype_name(x->dtype));
        return -1;
    }
    if (x->rank != 4) {
        snprintf(err, errlen, "%s must have rank 4, got rank %d", what, x->rank);
        return -1;
    }
    return 0;
}

/* Shape rule of conv_patches: x[N,H,W,C] -> [N,OH,OW,KH*KW*C]. */
static int conv_infer_patches(const jx_type *x, const conv_params *p, jx_type *out, char *err,
                              size_t errlen) {
    if (conv_check_operand("x (N,H,W,C)", x, err, errlen) < 0) return -1;
    int64_t oh = conv_out_dim("height", x->shape[1], p->kh, p->sh, p->ph0, p->ph1, err, errlen);
    if (oh < 0) return -1;
    int64_t ow = conv_out_dim("width", x->shape[2], p->kw, p->sw, p->pw0, p->pw1, err, errlen);
    if (ow < 0) return -1;
    int64_t kk = p->kh * p->kw, c = x->shape[3];
    if (c > 0 && kk > (((int64_t)1 << 62) / c)) {
        snprintf(err, errlen, "too many patch features (%lld*%lld*%lld)", (long long)p->kh,
                 (long long)p->kw, (long long)c);
        return -1;
    }
    *out = (jx_type){x->dtype, 4, {x->shape[0], oh, ow, kk * c}};
    if (util_numel(out->rank, out->shape) < 0) {
        snprintf(err, errlen, "output has too many elements");
        return -1;
    }
    return 0;
}

/* Shape rule of conv_patches_t: p[N,OH,OW,KH*KW*C] -> hint [N,H,W,C], checking that
 * the hint is consistent with p and the attributes. */
static int conv_infer_patches_t(const jx_type *pt, const conv_params *p, const jx_type *hint,
                                jx_type *out, char *err, size_t errlen) {
    if (conv_check_operand("p (N,OH,OW,KH*KW*C)", pt, err, errlen) < 0) return -1;
    if (!hint) {
        snprintf(err, errlen, "needs the output type [N,H,W,C]");
        return -1;
    }
    char hs[160];
    jx_type_str(hint, hs, sizeof hs);
    if (hint->dtype != pt->dtype || hint->rank != 4 || util_numel(4, hint->shape) < 0) {
        snprintf(err, errlen, "output type %s must be %s[N,H,W,C]", hs,
                 jx_dtype_name(pt->dtype));
        return -1;
    }
    if (hint->shape[0] != pt->shape[0]) {
        snprintf(err, errlen, "output type %s has batch %lld but p has batch %lld", hs,
                 (long long)hint->shape[0], (long long)pt->shape[0]);
        return -1;
    }
    int64_t kk = p->kh * p->kw, f = pt->shape[3];
    if (f % kk != 0) {
        snprintf(err, errlen, "p has %lld features, not divisible by the window size %lldx%lld",
                 (long long)f, (long long)p->kh, (long long)p->kw);
        return -1;
    }
    if (hint->shape[3] != f / kk) {
        snprintf(err, errlen, "output type %s has %lld channels but p has %lld = %lldx%lldx%lld",
                 hs, (long long)hint->shape[3], (long long)f, (long long)p->kh,
                 (long long)p->kw, (long long)(f / kk));
        return -1;
    }
    int64_t oh = conv_out_dim("height", hint->shape[1], p->kh, p->sh, p->ph0, p->ph1, err,
                              errlen);
    if (oh < 0) return -1;
    int64_t ow = conv_out_dim("width", hint->shape[2], p->kw, p->sw, p->pw0, p->pw1, err,
                              errlen);
    if (ow < 0) return -1;
    if (oh != pt->shape[1] || ow != pt->shape[2]) {
        snprintf(err, errlen,
                 "image %lldx%lld gives %lldx%lld patches, but p has %lldx%lld",
                 (long long)hint->shape[1], (long long)hint->shape[2], (long long)oh,
                 (long long)ow, (long long)pt->shape[1], (long long)pt->shape[2]);
        return -1;
    }
    *out = *hint;
    return 0;
}

/* Shape rule of the family (dispatches on op). */
static int conv_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                      const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (nin != 1) {
        snprintf(err, errlen, "expects 1 operand, got %d", nin);
        return -1;
    }
    conv_params p;
    if (conv_read_params(at, &p, err, errlen) < 0) return -1;
    if (op == JX_OP_CONV_PATCHES) return conv_infer_patches(&in[0], &p, out, err, errlen);
    if (op == JX_OP_CONV_PATCHES_T) return conv_infer_patches_t(&in[0], &p, hint, out, err, errlen);
    snprintf(err, errlen, "not a conv op");
    return -1;
}

/* Calls visit(ctx, patch_offset, image_offset) for every patch entry that reads an
 * in-bounds pixel; xs is the image shape [N,H,W,C], ps the patches shape. */
typedef void (*conv_visit_fn)(void *ctx, int64_t poff, int64_t xoff);
static void conv_walk(const conv_params *p, const int64_t *xs, const int64_t *ps,
                      conv_visit_fn visit, void *ctx) {
    int64_t nn = xs[0], h = xs[1], w = xs[2], c = xs[3], oh = ps[1], ow = ps[2];
    int64_t poff = 0;
    for (int64_t n = 0; n < nn; n++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                for (int64_t kh = 0; kh < p->kh; kh++)
                    for (int64_t kw = 0; kw < p->kw; kw++) {
                        int64_t y = i * p->sh - p->ph0 + kh, x = j * p->sw - p->pw0 + kw;
                        int inside = y >= 0 && y < h && x >= 0 && x < w;
                        int64_t xoff = ((n * h + y) * w + x) * c;
                        for (int64_t ch = 0; ch < c; ch++, poff++)
                            if (inside) visit(ctx, poff, xoff + ch);
                    }
}

/* Context of the interpreter visitors. */
typedef struct conv_ctx {
    jx_dtype dt;
    size_t esize;
    const unsigned char *src;
    unsigned char *dst;
    double *accf;
    uint32_t *acci;
} conv_ctx;

/* conv_patches: copies pixel xoff into patch entry poff (out is zero-filled). */
static void conv_visit_copy(void *vctx, int64_t poff, int64_t xoff) {
    conv_ctx *k = vctx;
    memcpy(k->dst + (size_t)poff * k->esize, k->src + (size_t)xoff * k->esize, k->esize);
}

/* conv_patches_t: adds patch entry poff to the accumulator of pixel xoff. */
static void conv_visit_add(void *vctx, int64_t poff, int64_t xoff) {
    conv_ctx *k = vctx;
    switch (k->dt) {
    case JX_F32: k->accf[xoff] += ((const float *)(const void *)k->src)[poff]; break;
    case JX_F64: k->accf[xoff] += ((const double *)(const void *)k->src)[poff]; break;
    default: k->acci[xoff] += (uint32_t)((const int32_t *)(const void *)k->src)[poff]; break;
    }
}

/* Reference evaluation: conv_patches gathers (zeros outside); conv_patches_t
 * scatter-adds into a double (floats) or uint32_t (i32, wrapping) accumulator and
 * rounds once. */
static int conv_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    char err[256];
    conv_params p;
    if (conv_read_params(&n->at, &p, err, sizeof err) < 0)
        return util_err("%s: %s", prim_info(n->op)->name, err);
    conv_ctx k = {n->type.dtype, jx_dtype_size(n->type.dtype), jx_array_cdata(in[0]),
                  jx_array_data(out), NULL, NULL};
    if (n->op == JX_OP_CONV_PATCHES) {
        memset(k.dst, 0, jx_array_nbytes(out));
        conv_walk(&p, jx_array_shape(in[0]), n->type.shape, conv_visit_copy, &k);
        return 0;
    }
    int64_t m = jx_array_size(out);
    if (m == 0) return 0;
    int isf = k.dt == JX_F32 || k.dt == JX_F64;
    if (isf) k.accf = calloc((size_t)m, sizeof *k.accf);
    else k.acci = calloc((size_t)m, sizeof *k.acci);
    if (!k.accf && !k.acci) return util_err("conv_patches_t: out of memory");
    conv_walk(&p, n->type.shape, jx_array_shape(in[0]), conv_visit_add, &k);
    for (int64_t i = 0; i < m; i++) {
        switch (k.dt) {
        case JX_F32: ((float *)(void *)k.dst)[i] = (float)k.accf[i]; break;
        case JX_F64: ((double *)(void *)k.dst)[i] = k.accf[i]; break;
        default: memcpy(k.dst + (size_t)i * 4, &k.acci[i], 4); break;
        }
    }
    free(k.accf);
    free(k.acci);
    return 0;
}

/* ---- transformation rules ------------------------------------------------------------ */

/* The four attributes of n as jx_ints (window, strides, pad_lo, pad_hi). */
static void conv_attr_ints(const jx_node *n, jx_ints *a) {
    for (int k = 0; k < 4; k++) a[k] = ir_attr_ints(n, k);
}

/* conv_patches_t(p) with n's attributes and an image of height h, width w. */
static jx_val conv_emit_t(const jx_node *n, jx_val p, int64_t h, int64_t w) {
    jx_ints a[4];
    conv_attr_ints(n, a);
    return jx_conv_patches_t_at(n->loc, p, JX_INTS(h, w), a[0], a[1], a[2], a[3]);
}

/* conv_patches(x) with n's attributes. */
static jx_val conv_emit(const jx_node *n, jx_val x) {
    jx_ints a[4];
    conv_attr_ints(n, a);
    return jx_conv_patches_at(n->loc, x, a[0], a[1], a[2], a[3]);
}

/* vjp: the two ops are each other's transpose. */
static int conv_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
                    jx_val *ct_in) {
    if (!tx_is_float(n->type.dtype)) return 0;
    if (n->op == JX_OP_CONV_PATCHES) {
        const jx_type *xt = trace_type(t, x[0].id);
        ct_in[0] = conv_emit_t(n, ct, xt->shape[1], xt->shape[2]);
    } else {
        ct_in[0] = conv_emit(n, ct);
    }
    return jx_val_bad(ct_in[0]) ? -1 : 0;
}

/* jvp: linear, the same op on the tangent. */
static int conv_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
                    jx_val *dy) {
    *dy = tx_replay(t, n, dx);
    return jx_val_bad(*dy) ? -1 : 0;
}

/* batch: the batch axis is merged with N by a reshape ([B,N,...] -> [B*N,...], or
 * [N,B,...] -> [N*B,...] when it sits at axis 1, so no transpose is needed), the op is
 * applied, and the result is reshaped back with the batch axis where it was (0 or 1).
 * A batch axis further right is first moved to 0. */
static int conv_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                      int64_t bsize, jx_val *y, int *ybd) {
    int b = bd[0] <= 1 ? bd[0] : 0;
    jx_val xb = tx_moveaxis(n->loc, x[0], bd[0], b);
    jx_type xt = jx_val_type(xb);
    if (jx_val_bad(xb)) return -1;
    if (xt.rank != 5) {
        trace_fail(t, n->loc, prim_info(n->op)->name, "vmap: batched operand has rank %d, not 5",
                   xt.rank);
        return -1;
    }
    /* xt: [B,N,...] or [N,B,...]; merge the two leading dims */
    jx_ints merged = {4, {xt.shape[0] * xt.shape[1], xt.shape[2], xt.shape[3], xt.shape[4]}};
    jx_val r = jx_reshape_at(n->loc, xb, merged);
    r = n->op == JX_OP_CONV_PATCHES ? conv_emit(n, r)
                                    : conv_emit_t(n, r, n->type.shape[1], n->type.shape[2]);
    if (jx_val_bad(r)) return -1;
    jx_type rt = jx_val_type(r);
    jx_ints split = {5, {xt.shape[0], xt.shape[1], rt.shape[1], rt.shape[2], rt.shape[3]}};
    *y = jx_reshape_at(n->loc, r, split);
    *ybd = b;
    return jx_val_bad(*y) ? -1 : 0;
}

/* ---- loop lowering (the API is src/jit/lower.h) ----------------------------------- */

/* The conv attributes (kh, kw, sh, sw, ph0, pw0). */
static void conv_lower_attrs(const jx_node *nd, int64_t *c) {
    for (int k = 0; k < 3; k++) {
        jx_ints a = ir_attr_ints(nd, k);
        c[2 * k] = a.v[0];
        c[2 * k + 1] = a.v[1];
    }
}

/* conv_patches at ix = (n, oh, ow, f): x[n, oh*sh-ph0+kh, ow*sw-pw0+kw, c] or 0. */
static LLVMValueRef conv_lower_patches(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    jx_dtype dt = nd->type.dtype;
    if (jx_type_size(xt) == 0) return lw_const(L, dt, 0);
    int64_t a[6];
    conv_lower_attrs(nd, a);
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
static LLVMValueRef conv_lower_patches_t(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *pt = &L->p->nodes[nd->in[0]].type;
    jx_dtype dt = nd->type.dtype;
    int64_t a[6];
    conv_lower_attrs(nd, a);
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
    LLVMValueRef s = lw_add(L, dt, LLVMBuildLoad2(B, lw_type(L, dt), acc, ""), v);
    LLVMBuildStore(B, s, acc);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, join);
    lw_loop_end(L, &lwl);
    lw_loop_end(L, &lh);
    return LLVMBuildLoad2(B, lw_type(L, dt), acc, "");
}

/* Loop lowering of the family at output index ix. */
static LLVMValueRef conv_lower(lw *L, const jx_node *nd, lw_ix *ix) {
    return nd->op == JX_OP_CONV_PATCHES ? conv_lower_patches(L, nd, ix)
                                        : conv_lower_patches_t(L, nd, ix);
}

/* Fusion: conv_patches reads each pixel once per window position covering it;
 * conv_patches_t reads each patch entry once. */
static int conv_rereads(const jx_fn *f, const jx_node *n, int k) {
    return n->op == JX_OP_CONV_PATCHES;
}

const jx_family jx_family_conv = {.infer = conv_infer,
                                  .interp = conv_interp,
                                  .vjp = conv_vjp,
                                  .jvp = conv_jvp,
                                  .batch = conv_batch,
                                  .lower = conv_lower,
                                  .rereads = conv_rereads};

/* Public wrapper: emits conv_patches(x). */
jx_val jx_conv_patches_at(jx_loc loc, jx_val x, jx_ints window, jx_ints strides, jx_ints pad_lo,
                          jx_ints pad_hi) {
    jx_attrs at = ir_attrs(&window, &strides, &pad_lo, &pad_hi);
    return trace_emit(loc, NULL, JX_OP_CONV_PATCHES, 1, &x, &at, NULL);
}

/* Public wrapper: emits conv_patches_t(p) with output type [N, H, W, features/(KH*KW)]
 * built from image_hw and p's type; the rule validates the rest. */
jx_val jx_conv_patches_t_at(jx_loc loc, jx_val p, jx_ints image_hw, jx_ints window,
                            jx_ints strides, jx_ints pad_lo, jx_ints pad_hi) {
    jx_attrs at = ir_attrs(&window, &strides, &pad_lo, &pad_hi);
    jx_type pt = jx_val_type(p);
    if (!jx_val_bad(p) && image_hw.n != 2) {
        char ts[160];
        return trace_fail(p.t, loc, "conv_patches_t",
                          "image_hw must have 2 entries (H, W), got %d (operand %s)",
                          image_hw.n, jx_type_str(&pt, ts, sizeof ts));
    }
    int64_t c = 0;
    if (pt.rank == 4 && window.n == 2 && window.v[0] > 0 && window.v[1] > 0 &&
        window.v[0] <= CONV_MAX_ATTR && window.v[1] <= ((int64_t)1 << 62) / window.v[0])
        c = pt.shape[3] / (window.v[0] * window.v[1]);
    jx_type hint = {pt.dtype, 4, {pt.rank >= 1 ? pt.shape[0] : 0, 0, 0, c}};
    if (image_hw.n == 2) {
        hint.shape[1] = image_hw.v[0];
        hint.shape[2] = image_hw.v[1];
    }
    return trace_emit(loc, NULL, JX_OP_CONV_PATCHES_T, 1, &p, &at, &hint);
}
