/* The direct convolution primitives, made by the JIT's conv-direct pass
 * (src/prims/conv_pass.c) from the patch form of a convolution, and what the pass,
 * their rules (src/prims/conv_direct.c) and their kernels (src/prims/conv_kernel.c)
 * share: the geometry of a node, the choice between the direct kernels and the patch
 * GEMMs, and the layout of the kernels' scratch memory.
 *
 * With P = conv_patches(x) [N,OH,OW,KH*KW*C] (src/prims/conv.c), w [KH*KW*C,O]:
 *   conv(x, w)                  = dot_general(P, w) over P's last axis       [N,OH,OW,O]
 *   conv_backprop_input(g, w)   = conv_patches_t(dot_general(g, w) over O)   [N,H,W,C]
 *   conv_backprop_filter(x, g)  = per batch slice s, dot_general(P[n in s], g[n in s])
 *                                 over (n, oh, ow)                           [S,KH*KW*C,O]
 *                                 or, with a bias row, [S,KH*KW*C+1,O] whose last row
 *                                 is the sum of g[n in s] over (n, oh, ow): the gradient
 *                                 of the conv's bias, from the same pass over g
 * with the attributes of conv_patches (window, strides, pad_lo, pad_hi). The batch is cut
 * into S slices, slice s holding images [s*N/S, (s+1)*N/S): the filter gradient is the
 * sum over the slices (the pass adds that reduce_sum), and each slice is one unit of
 * parallel work with a deterministic summation order. */
#ifndef JX_PRIMS_CONV_DIRECT_H
#define JX_PRIMS_CONV_DIRECT_H

#include <stdint.h>

#include "core/ir.h"

/* ---- shared with the patch ops (src/prims/conv.c) ---- */

/* Attribute values above this are rejected, so index arithmetic cannot overflow. */
#define CONV_MAX_ATTR ((int64_t)1 << 40)

/* The four attributes (window, strides, pad_lo, pad_hi), each (height, width). */
typedef struct conv_params {
    int64_t kh, kw, sh, sw, ph0, pw0, ph1, pw1;
} conv_params;

/* Reads and checks the attributes: each exactly 2 entries, window and strides >= 1,
 * pads >= 0, none above CONV_MAX_ATTR, KH*KW at most 2^62. Returns 0 or -1 with a
 * message. */
int conv_read_params(const jx_attrs *at, conv_params *p, char *err, size_t errlen);
/* Output extent of one spatial axis: (in+p0+p1-k)/s + 1. Returns it, or -1 with a
 * message when the window does not fit the padded input. */
int64_t conv_out_dim(const char *axis, int64_t in, int64_t k, int64_t s, int64_t p0,
                     int64_t p1, char *err, size_t errlen);

/* ---- the direct ops ---- */

/* A node's geometry: the image x [N,H,W,C] (for conv_backprop_input: its result), the
 * conv's output [N,OH,OW,O] (for the backprops: g), the window, strides and pads, S and
 * whether there is a bias row (conv_backprop_filter; 1 and 0 otherwise). */
typedef struct cd_geom {
    int64_t n, h, w, c, oh, ow, o;
    int64_t kh, kw, sh, sw, ph0, pw0, ph1, pw1;
    int64_t s, bias;
} cd_geom;

/* The geometry of node nd of op conv, conv_backprop_input or conv_backprop_filter,
 * whose operand types are in0 and in1 (checked by the shape rule). */
void cd_geom_of(const jx_node *nd, const jx_type *in0, const jx_type *in1, cd_geom *g);

/* How the kernels read an image: a planar scratch copy ("virtual image") of one source
 * image [IH,IW,CIN] laid out [HP][CIN][P][WQ], where virtual row r holds source row
 * (r - pt) / dh when that divides exactly and is in range, virtual column j = q * P + phase
 * holds source column (j - pl) / dw likewise, and every other entry is zero: the padding
 * of a conv, the holes of a dilated gradient. Output pixel (oy, ox) of tap (kh, kw) reads
 * virtual (oy * sh + kh, ox * sw + kw), i.e. row oy*sh+kh, phase kw % sw, column
 * ox + kw / sw: a run of consecutive output columns is one vector load. */
typedef struct cd_core {
    int64_t cin, cout;         /* channels read per source pixel, channels written */
    int64_t ih, iw;            /* the source image */
    int64_t hp, p, wq;         /* scratch rows, phases (= sw), columns per phase */
    int64_t pt, pl, dh, dw;    /* placement of the source in the virtual image */
    int64_t sh, sw, kh, kw;    /* stride over the virtual image, window */
    int64_t oh, ow;            /* output pixels */
    int64_t v, nblk;           /* lanes per vector along the output width, blocks per row */
    int flip;                  /* conv_backprop_input: weight (kh, kw, ci, co) is
                                * w[((KH-1-kh)*KW + KW-1-kw)*C + co][ci] */
} cd_core;

/* The forward-type core of a conv (source x) or conv_backprop_input (source g, dilated by
 * the strides, stride 1, flipped weights) node, and the x side of conv_backprop_filter,
 * for vectors of `lanes` elements. */
void cd_core_of(jx_op op, const cd_geom *g, int64_t lanes, cd_core *k);

/* Register tile of the filter kernel: accumulators for KWB taps along the width x CB
 * input channels x OB output channels (OB <= 4, KWB * CB * OB <= 16, each dividing its
 * extent);
 * tiles = KH * (KW/KWB) * (C/CB) * (O/OB). */
typedef struct cd_ftile {
    int64_t kwb, cb, ob, tiles;
} cd_ftile;
void cd_ftile_of(const cd_geom *g, cd_ftile *t);

/* Scratch bytes of a node's kernel with vectors of `lanes` elements of esize bytes. */
int64_t cd_scratch_bytes(jx_op op, const cd_geom *g, int64_t lanes, int64_t esize);

/* The choice: 1 if the direct kernel should compute this node's convolution (dtype dt),
 * 0 if the patch GEMMs should (see conv_direct.c for the rule; JX_CONV=gemm or =direct
 * overrides it where the direct kernel can run). */
int cd_choose_direct(jx_op op, const cd_geom *g, jx_dtype dt);

/* Batch slices of the filter gradient for a batch of n: one per 4 images, at most 32. */
int64_t cd_slices(int64_t n);

/* A one-line description of the direct kernel of node nd (for the plan text). */
void cd_describe(const jx_node *nd, const jx_type *in0, const jx_type *in1, int64_t lanes,
                 char *buf, size_t len);

/* Emitters of the pass: the three ops (the shape rules check the rest; conv_backprop_input
 * takes the image height and width, conv_backprop_filter the number of slices and
 * whether to add the bias row). */
jx_val cd_conv_at(jx_loc loc, jx_val x, jx_val w, const jx_ints *attrs);
jx_val cd_backprop_input_at(jx_loc loc, jx_val g, jx_val w, int64_t h, int64_t wd,
                            const jx_ints *attrs);
jx_val cd_backprop_filter_at(jx_loc loc, jx_val x, jx_val g, int64_t slices, int bias,
                             const jx_ints *attrs);

#endif
