/* Internal interface of the direct convolution kernels, the whole-kernel lowering of the
 * conv_direct family that src/jit/lower_kernel.c calls through jit/lower.h's lw_conv_*
 * (conv_kernel.c: the group body, planar copies and the conv / conv_backprop_input
 * kernel; conv_kernel_filter.c: the conv_backprop_filter kernel; conv_kernel_patch.c:
 * the patch kernels of the GEMM path). The kernels work on explicit LLVM vectors of `v` lanes
 * along the output width (see src/prims/conv_direct.h for the scratch layout). */
#ifndef JX_PRIMS_CONV_KERNEL_H
#define JX_PRIMS_CONV_KERNEL_H

#include "jit/lower.h"
#include "prims/conv_direct.h"

/* The emission state of one conv member: the lowering, its dtype's element and vector
 * types and the lanes. */
typedef struct lc {
    lw *L;
    jx_dtype dt;
    LLVMTypeRef et, vt;
    int64_t v;
} lc;

/* c for dtype dt (f32/f64) and v lanes. */
void lc_init(lc *c, lw *L, jx_dtype dt, int64_t v);
/* The host's lanes for dtype dt (orc_vector_bits / element bits). */
int64_t lc_lanes(jx_dtype dt);
/* Pointer to element off (i64) of base (of c's element type). */
LLVMValueRef lc_gep(lc *c, LLVMValueRef base, LLVMValueRef off);
/* Vector load / store of v elements at element off of base (element-aligned). */
LLVMValueRef lc_vload(lc *c, LLVMValueRef base, LLVMValueRef off);
void lc_vstore(lc *c, LLVMValueRef vec, LLVMValueRef base, LLVMValueRef off);
/* a * b + acc for vectors (llvm.fma). */
LLVMValueRef lc_fma(lc *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc);
/* A stack array of n elements of type t (64-byte aligned) in the entry block. */
LLVMValueRef lc_array(lw *L, LLVMTypeRef t, int64_t n);
/* Emits memset(p, 0, bytes) at the builder's position. */
void lc_zero(lw *L, LLVMValueRef p, int64_t bytes);
/* Emits the planar copy (conv_direct.h's virtual image, without its zeros: the caller
 * zeroed xp once) of image `img` (i64) of node src, an NHWC value [N, k->ih, k->iw,
 * k->cin]. */
void lc_planarize(lc *c, const cd_core *k, int src, LLVMValueRef img, LLVMValueRef xp);

/* The conv_backprop_filter kernel (conv_kernel_filter.c). Its scratch, made once per kernel
 * call by lc_filter_begin; lc_filter_unit emits slice `s` (i64) of member node nd into
 * dst. */
typedef struct lc_filter {
    cd_geom g;
    cd_core k;
    cd_ftile t;
    LLVMValueRef xp, gp, ps; /* planar x image, planar g image, partial sums */
    LLVMValueRef acc[16];    /* accumulator slots */
} lc_filter;
void lc_filter_begin(lc *c, const jx_node *nd, lc_filter *f);
void lc_filter_unit(lc *c, const jx_node *nd, lc_filter *f, LLVMValueRef s, LLVMValueRef dst);

/* Patch kernels of the GEMM path (conv_kernel_patch.c): 1 if node n is a conv_patches or
 * conv_patches_t whose image has at least LC_PATCH_MIN_C channels (runs worth a vector
 * loop); lc_patch_unit emits image u (i64) of such a node nd into dst. */
#define LC_PATCH_MIN_C 8
int lc_patch_kernel(const jit_plan *p, int n);
void lc_patch_unit(lw *L, const jx_node *nd, LLVMValueRef u, LLVMValueRef dst);

#endif
