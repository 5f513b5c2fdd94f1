/* Direct convolution kernels (the jit's lw_conv_* of jit/lower.h, defined here beside the
 * family's other rules, as every family's loop lowering is): the loop nest of a kernel
 * group (jit_memplan's loop group) whose members include conv, conv_backprop_input or
 * conv_backprop_filter nodes (src/prims/conv_direct.h), or patch kernels of the GEMM
 * path (conv_kernel_patch.c).
 *
 * Units: the group runs per unit, one index of its outputs' first axis (an image for
 * conv and conv_backprop_input, a batch slice for conv_backprop_filter), which is also
 * the range the thread pool splits. Within a unit the members run in step order, each
 * over the unit's slice: a conv member by its kernel, any other (elementwise) member as a
 * flat loop over the slice, while the slice the conv just wrote is in L1. That is how the
 * bias add and the relu after a conv (and the relu mask after conv_backprop_input) run
 * fused: they are loop-group members reading the conv's output at their own element.
 *
 * conv / conv_backprop_input (one kernel, the latter a stride-1 conv over the gradient
 * dilated by the strides, with flipped weights): per image, a planar copy of the source
 * image (rows of channels of columns, zero-padded, the stride's phases apart: see
 * cd_core) so that a run of output columns of one tap and input channel is one vector
 * load; then per output row, tiles of OB output channels x XT vectors of V consecutive
 * output columns (the row's last vector overlaps the one before instead of a scalar
 * tail), accumulated in registers over the taps and input channels, each product an FMA
 * of the loaded vector with a broadcast weight (the weights copied once per kernel call,
 * in the order the taps read them), and stored interleaved into the NHWC output. */
#include <stdlib.h>
#include <string.h>

#include "prims/conv_kernel.h"

/* ---- vector helpers ---------------------------------------------------------------------- */

/* See conv_kernel.h. */
void lc_init(lc *c, lw *L, jx_dtype dt, int64_t v) {
    c->L = L;
    c->dt = dt;
    c->et = lw_type(L, dt);
    c->v = v;
    c->vt = LLVMVectorType(c->et, (unsigned)v);
}

/* See conv_kernel.h. */
int64_t lc_lanes(jx_dtype dt) {
    int64_t l = orc_vector_bits() / (8 * (int64_t)jx_dtype_size(dt));
    return l < 1 ? 1 : l;
}

/* See conv_kernel.h. */
LLVMValueRef lc_gep(lc *c, LLVMValueRef base, LLVMValueRef off) {
    return LLVMBuildInBoundsGEP2(c->L->b, c->et, base, &off, 1, "");
}

/* See conv_kernel.h. */
LLVMValueRef lc_vload(lc *c, LLVMValueRef base, LLVMValueRef off) {
    LLVMValueRef v = LLVMBuildLoad2(c->L->b, c->vt, lc_gep(c, base, off), "");
    LLVMSetAlignment(v, (unsigned)jx_dtype_size(c->dt));
    return v;
}

/* See conv_kernel.h. */
void lc_vstore(lc *c, LLVMValueRef vec, LLVMValueRef base, LLVMValueRef off) {
    LLVMValueRef s = LLVMBuildStore(c->L->b, vec, lc_gep(c, base, off));
    LLVMSetAlignment(s, (unsigned)jx_dtype_size(c->dt));
}

/* Stores vector vec (any length) at element off of base (element-aligned). */
static void lc_vstore_n(lc *c, LLVMValueRef vec, LLVMValueRef base, LLVMValueRef off) {
    LLVMValueRef s = LLVMBuildStore(c->L->b, vec, lc_gep(c, base, off));
    LLVMSetAlignment(s, (unsigned)jx_dtype_size(c->dt));
}

/* See conv_kernel.h. */
LLVMValueRef lc_fma(lc *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc) {
    LLVMValueRef args[3] = {a, b, acc};
    return lw_intrin(c->L, "llvm.fma", LLVMTypeOf(a), 3, args);
}

/* A vector of v copies of scalar s. */
static LLVMValueRef lc_splat(lc *c, LLVMValueRef s) {
    LLVMValueRef one = LLVMBuildInsertElement(c->L->b, LLVMGetPoison(c->vt), s,
                                              LLVMConstInt(c->L->i32, 0, 0), "");
    LLVMValueRef zero = LLVMConstNull(LLVMVectorType(c->L->i32, (unsigned)c->v));
    return LLVMBuildShuffleVector(c->L->b, one, LLVMGetPoison(c->vt), zero, "");
}

/* See conv_kernel.h. */
LLVMValueRef lc_array(lw *L, LLVMTypeRef t, int64_t n) {
    LLVMValueRef a = lw_alloca(L, LLVMArrayType2(t, (uint64_t)(n > 0 ? n : 1)));
    LLVMSetAlignment(a, 64);
    return a;
}

/* See conv_kernel.h. */
void lc_zero(lw *L, LLVMValueRef p, int64_t bytes) {
    if (bytes > 0) LLVMBuildMemSet(L->b, p, LLVMConstInt(L->i8, 0, 0), lw_i64(L, bytes), 64);
}

/* a + b * k, a + k and a * k on i64 values (constants fold). */
static LLVMValueRef lc_madd(lw *L, LLVMValueRef a, LLVMValueRef b, int64_t k) {
    return LLVMBuildAdd(L->b, a, LLVMBuildMul(L->b, b, lw_i64(L, k), ""), "");
}
static LLVMValueRef lc_addk(lw *L, LLVMValueRef a, int64_t k) {
    return LLVMBuildAdd(L->b, a, lw_i64(L, k), "");
}

/* floor(a / b) for b > 0. */
static int64_t lc_floordiv(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* See conv_kernel.h. */
void lc_planarize(lc *c, const cd_core *k, int src, LLVMValueRef img, LLVMValueRef xp) {
    lw *L = c->L;
    int64_t rs_lo = -lc_floordiv(k->pt, k->dh), rs_hi = lc_floordiv(k->hp - 1 - k->pt, k->dh) + 1;
    int64_t xs_lo = -lc_floordiv(k->pl, k->dw);
    int64_t xs_hi = lc_floordiv(k->p * k->wq - 1 - k->pl, k->dw) + 1;
    rs_lo = rs_lo < 0 ? 0 : rs_lo, xs_lo = xs_lo < 0 ? 0 : xs_lo;
    rs_hi = rs_hi > k->ih ? k->ih : rs_hi, xs_hi = xs_hi > k->iw ? k->iw : xs_hi;
    if (rs_lo >= rs_hi || xs_lo >= xs_hi) return;
    const jx_type *st = &L->p->nodes[src].type;
    int64_t plane = k->p * k->wq; /* one channel of one virtual row */
    lw_loop lr = lw_loop_range(L, lw_i64(L, rs_lo), lw_i64(L, rs_hi));
    LLVMValueRef row = LLVMBuildMul(L->b, lc_madd(L, lw_i64(L, k->pt), lr.iv, k->dh),
                                    lw_i64(L, k->cin * plane), "");
    lw_loop lx = lw_loop_range(L, lw_i64(L, xs_lo), lw_i64(L, xs_hi));
    LLVMValueRef j = lc_madd(L, lw_i64(L, k->pl), lx.iv, k->dw);
    LLVMValueRef col = k->p == 1 ? j : lc_madd(L, LLVMBuildUDiv(L->b, j, lw_i64(L, k->p), ""),
                                               LLVMBuildURem(L->b, j, lw_i64(L, k->p), ""), k->wq);
    LLVMValueRef base = LLVMBuildAdd(L->b, row, col, "");
    int unroll = k->cin <= 16;
    lw_loop lc_ = {0};
    int64_t nc = unroll ? k->cin : 1;
    if (!unroll) lc_ = lw_loop_begin(L, k->cin);
    for (int64_t ci = 0; ci < nc; ci++) {
        LLVMValueRef chan = unroll ? lw_i64(L, ci) : lc_.iv;
        lw_ix ix = lw_ix_new(st);
        ix.multi = 1;
        ix.v[0] = img;
        ix.v[1] = lr.iv;
        ix.v[2] = lx.iv;
        ix.v[3] = chan;
        LLVMValueRef v = lw_eval(L, src, &ix);
        LLVMBuildStore(L->b, v, lc_gep(c, xp, lc_madd(L, base, chan, plane)));
    }
    if (!unroll) lw_loop_end(L, &lc_);
    lw_loop_end(L, &lx);
    lw_loop_end(L, &lr);
}

/* ---- conv and conv_backprop_input ------------------------------------------------------- */

/* Accumulator tiles at most this many vectors (of the 32 AVX-512 registers, the rest hold
 * the loaded inputs and broadcast weights). */
#define LC_ACC 16

/* A forward-type member's scratch (made once per kernel call): planar image, weights in
 * the taps' order, accumulator slots; and its register tile: OB output channels x YT
 * output rows x XT vectors along the row. Per tap and input channel a tile loads YT*XT
 * input vectors and OB broadcast weights for OB*YT*XT FMAs, so OB ~ YT*XT loads least. */
typedef struct lc_fwd {
    cd_geom g;
    cd_core k;
    LLVMValueRef xp, ws;
    LLVMValueRef acc[LC_ACC];
    int64_t ob, yt, xt;
} lc_fwd;

/* Picks F's register tile (see lc_fwd). */
static void lc_fwd_tile(lc_fwd *F) {
    const cd_core *k = &F->k;
    F->ob = k->cout <= 8 ? k->cout : 4;
    int64_t slots = LC_ACC / F->ob;
    F->xt = slots < k->nblk ? slots : k->nblk;
    F->yt = slots / F->xt;
    if (F->yt > k->oh) F->yt = k->oh;
}

/* Makes F's scratch for node nd, zeroes the planar image (its zeros never change) and
 * copies the weights (operand 1) into ws[(tap*cin + ci)*cout + co]. */
static void lc_fwd_begin(lc *c, const jx_node *nd, lc_fwd *F) {
    lw *L = c->L;
    const jit_plan *p = L->p;
    cd_geom_of(nd, &p->nodes[nd->in[0]].type, &p->nodes[nd->in[1]].type, &F->g);
    cd_core_of(nd->op, &F->g, c->v, &F->k);
    lc_fwd_tile(F);
    const cd_core *k = &F->k;
    int64_t esz = (int64_t)jx_dtype_size(c->dt), npl = k->hp * k->cin * k->p * k->wq;
    int64_t kk = k->kh * k->kw;
    F->xp = lc_array(L, c->et, npl);
    F->ws = lc_array(L, c->et, kk * k->cin * k->cout);
    for (int i = 0; i < LC_ACC; i++) F->acc[i] = lw_alloca(L, c->vt);
    lc_zero(L, F->xp, npl * esz);
    const jx_type *wt = &p->nodes[nd->in[1]].type;
    lw_loop lt = lw_loop_begin(L, kk), li = lw_loop_begin(L, k->cin),
            lo = lw_loop_begin(L, k->cout);
    LLVMValueRef dsti = lc_madd(L, lo.iv, lc_madd(L, li.iv, lt.iv, k->cin), k->cout);
    LLVMValueRef srci = dsti;
    if (k->flip) /* ws[(t, o, c)] = w[(KK-1-t)*C + c, o] */
        srci = lc_madd(L, li.iv, lc_madd(L, lo.iv, LLVMBuildSub(L->b, lw_i64(L, kk - 1), lt.iv, ""),
                                         k->cout), k->cin);
    lw_ix ix = lw_ix_new(wt);
    ix.lin = srci;
    LLVMBuildStore(L->b, lw_eval(L, nd->in[1], &ix), lc_gep(c, F->ws, dsti));
    lw_loop_end(L, &lo);
    lw_loop_end(L, &li);
    lw_loop_end(L, &lt);
}

/* First output column of vector b of a row (the last one overlaps its predecessor; a row
 * narrower than a vector is one vector from column 0). */
static int64_t lc_x0(const cd_core *k, int64_t b) {
    int64_t x = b * k->v;
    return k->ow < k->v ? 0 : x + k->v > k->ow ? k->ow - k->v : x;
}

/* A tile in progress: channels [o0, o0 + ob), vectors [b0, b0 + xt) of rows [oy, oy + yt)
 * (oy: i64), and per tile row the offset in xp of the current tap row. */
typedef struct lc_tile {
    int64_t o0, ob, b0, xt, yt;
    LLVMValueRef oy;
    LLVMValueRef row[LC_ACC];
} lc_tile;

/* The accumulator slot of channel o, tile row r, vector b. */
static LLVMValueRef lc_slot(lc_fwd *F, const lc_tile *t, int64_t o, int64_t r, int64_t b) {
    return F->acc[(o * t->yt + r) * t->xt + b];
}

/* One tap (kw, input channel ci) of a tile: acc[o][r][b] += x-vector (r, b) * w(o); wrow:
 * the tap row's first weight in ws. */
static void lc_fwd_tap(lc *c, lc_fwd *F, const lc_tile *t, int64_t kw, LLVMValueRef ci,
                       LLVMValueRef wrow) {
    lw *L = c->L;
    const cd_core *k = &F->k;
    LLVMValueRef xv[LC_ACC];
    for (int64_t r = 0; r < t->yt; r++) {
        LLVMValueRef xo = lc_addk(L, lc_madd(L, t->row[r], ci, k->p * k->wq),
                                  (kw % k->sw) * k->wq + kw / k->sw);
        for (int64_t b = 0; b < t->xt; b++)
            xv[r * t->xt + b] = lc_vload(c, F->xp, lc_addk(L, xo, lc_x0(k, t->b0 + b)));
    }
    LLVMValueRef wo = lc_addk(L, lc_madd(L, wrow, ci, k->cout), kw * k->cin * k->cout + t->o0);
    for (int64_t o = 0; o < t->ob; o++) {
        LLVMValueRef w = LLVMBuildLoad2(L->b, c->et, lc_gep(c, F->ws, lc_addk(L, wo, o)), "");
        LLVMValueRef ws = lc_splat(c, w);
        for (int64_t r = 0; r < t->yt; r++)
            for (int64_t b = 0; b < t->xt; b++) {
                LLVMValueRef slot = lc_slot(F, t, o, r, b);
                LLVMValueRef a = LLVMBuildLoad2(L->b, c->vt, slot, "");
                LLVMBuildStore(L->b, lc_fma(c, xv[r * t->xt + b], ws, a), slot);
            }
    }
}

/* Stores the ob channel vectors of tile row r, vector b, interleaved pixel by pixel, into
 * the output image out. */
static void lc_fwd_store1(lc *c, lc_fwd *F, const lc_tile *t, int64_t r, int64_t b,
                          LLVMValueRef out) {
    lw *L = c->L;
    const cd_core *k = &F->k;
    int64_t v = c->v, ob = t->ob;
    LLVMValueRef parts[LC_ACC + 1];
    int64_t n = ob, len = v;
    for (int64_t o = 0; o < ob; o++)
        parts[o] = LLVMBuildLoad2(L->b, c->vt, lc_slot(F, t, o, r, b), "");
    LLVMValueRef mask[2 * LC_ACC * 16];
    while (n > 1) { /* concatenate pairwise: lanes o * v + x */
        if (n % 2) parts[n++] = LLVMConstNull(LLVMTypeOf(parts[0]));
        for (int64_t i = 0; i < 2 * len; i++) mask[i] = LLVMConstInt(L->i32, (unsigned)i, 0);
        for (int64_t i = 0; i < n / 2; i++)
            parts[i] = LLVMBuildShuffleVector(L->b, parts[2 * i], parts[2 * i + 1],
                                              LLVMConstVector(mask, (unsigned)(2 * len)), "");
        n /= 2;
        len *= 2;
    }
    int64_t valid = k->ow < v ? k->ow : v; /* pixels of the vector inside the row */
    for (int64_t x = 0; x < valid; x++)
        for (int64_t o = 0; o < ob; o++)
            mask[x * ob + o] = LLVMConstInt(L->i32, (unsigned)(o * v + x), 0);
    LLVMValueRef px = lc_madd(L, lw_i64(L, lc_x0(k, t->b0 + b)), lc_addk(L, t->oy, r), k->ow);
    if (ob == k->cout) { /* the whole run of pixels is contiguous */
        LLVMValueRef all =
            LLVMBuildShuffleVector(L->b, parts[0], LLVMGetPoison(LLVMTypeOf(parts[0])),
                                   LLVMConstVector(mask, (unsigned)(valid * ob)), "");
        lc_vstore_n(c, all, out, LLVMBuildMul(L->b, px, lw_i64(L, ob), ""));
        return;
    }
    for (int64_t x = 0; x < valid; x++) {
        LLVMValueRef piece =
            LLVMBuildShuffleVector(L->b, parts[0], LLVMGetPoison(LLVMTypeOf(parts[0])),
                                   LLVMConstVector(mask + x * ob, (unsigned)ob), "");
        LLVMValueRef off =
            lc_addk(L, LLVMBuildMul(L->b, lc_addk(L, px, x), lw_i64(L, k->cout), ""), t->o0);
        lc_vstore_n(c, piece, out, off);
    }
}

/* Multiply-adds of a tap's body above which the input channels run as a loop rather than
 * unrolled. */
#define LC_UNROLL 1024

/* Emits tile t (its oy set): zero, the taps, the stores into the output image out. */
static void lc_fwd_tile_emit(lc *c, lc_fwd *F, lc_tile *t, LLVMValueRef out) {
    lw *L = c->L;
    const cd_core *k = &F->k;
    for (int64_t i = 0; i < t->ob * t->yt * t->xt; i++)
        LLVMBuildStore(L->b, LLVMConstNull(c->vt), F->acc[i]);
    lw_loop lk = lw_loop_begin(L, k->kh);
    for (int64_t r = 0; r < t->yt; r++) {
        LLVMValueRef vr = lc_madd(L, lk.iv, lc_addk(L, t->oy, r), k->sh);
        t->row[r] = LLVMBuildMul(L->b, vr, lw_i64(L, k->cin * k->p * k->wq), "");
    }
    LLVMValueRef wrow = LLVMBuildMul(L->b, lk.iv, lw_i64(L, k->kw * k->cin * k->cout), "");
    if (k->kw * k->cin * t->ob * t->yt * t->xt <= LC_UNROLL) {
        for (int64_t ci = 0; ci < k->cin; ci++)
            for (int64_t kw = 0; kw < k->kw; kw++) lc_fwd_tap(c, F, t, kw, lw_i64(L, ci), wrow);
    } else {
        lw_loop li = lw_loop_begin(L, k->cin);
        for (int64_t kw = 0; kw < k->kw; kw++) lc_fwd_tap(c, F, t, kw, li.iv, wrow);
        lw_loop_end(L, &li);
    }
    lw_loop_end(L, &lk);
    for (int64_t r = 0; r < t->yt; r++)
        for (int64_t b = 0; b < t->xt; b++) lc_fwd_store1(c, F, t, r, b, out);
}

/* Emits image u of a forward-type member into its output out (the whole [N,OH,OW,cout]
 * buffer): row groups of YT rows (the last one overlapping its predecessor), each over
 * the tiles of channels and vectors. */
static void lc_fwd_unit(lc *c, const jx_node *nd, lc_fwd *F, LLVMValueRef u, LLVMValueRef out) {
    lw *L = c->L;
    const cd_core *k = &F->k;
    lc_planarize(c, k, nd->in[0], u, F->xp);
    LLVMValueRef img =
        lc_gep(c, out, LLVMBuildMul(L->b, u, lw_i64(L, k->oh * k->ow * k->cout), ""));
    int64_t ng = (k->oh + F->yt - 1) / F->yt;
    lw_loop lg = lw_loop_begin(L, ng);
    LLVMValueRef y = LLVMBuildMul(L->b, lg.iv, lw_i64(L, F->yt), "");
    LLVMValueRef over = LLVMBuildICmp(L->b, LLVMIntSGT, lc_addk(L, y, F->yt), lw_i64(L, k->oh), "");
    LLVMValueRef oy = LLVMBuildSelect(L->b, over, lw_i64(L, k->oh - F->yt), y, "");
    for (int64_t o0 = 0; o0 < k->cout; o0 += F->ob)
        for (int64_t b0 = 0; b0 < k->nblk; b0 += F->xt) {
            lc_tile t = {o0, k->cout - o0 < F->ob ? k->cout - o0 : F->ob, b0,
                         k->nblk - b0 < F->xt ? k->nblk - b0 : F->xt, F->yt, oy, {0}};
            lc_fwd_tile_emit(c, F, &t, img);
        }
    lw_loop_end(L, &lg);
}

/* ---- the group ---------------------------------------------------------------------------- */

/* 1 if op is one of the direct convolution ops. */
static int lc_is_conv(jx_op op) {
    return op == JX_OP_CONV || op == JX_OP_CONV_BACKPROP_INPUT || op == JX_OP_CONV_BACKPROP_FILTER;
}

/* See lower.h. */
int64_t lw_conv_units(const jit_plan *p, int g0, int g1) {
    int any = 0;
    for (int s = g0; s <= g1; s++)
        any |= lc_is_conv(p->nodes[p->steps[s].node].op) || lc_patch_kernel(p, p->steps[s].node);
    const jx_type *t = &p->nodes[p->steps[g0].node].type;
    return any && t->rank > 0 ? t->shape[0] : 0;
}

/* Multiply-adds counted as one byte of work each (lower_kernel.c's LW_PARALLEL_BYTES): a
 * vectorized multiply-add costs about a quarter of streaming a byte. */
#define LC_MACS_PER_BYTE 4

/* See lower.h. */
int64_t lw_conv_work(const jit_plan *p, int g0, int g1) {
    int64_t m = 0;
    for (int s = g0; s <= g1; s++) {
        const jx_node *nd = &p->nodes[p->steps[s].node];
        if (!lc_is_conv(nd->op)) continue;
        cd_geom g;
        cd_geom_of(nd, &p->nodes[nd->in[0]].type, &p->nodes[nd->in[1]].type, &g);
        m += g.n * g.oh * g.ow * g.o * g.kh * g.kw * g.c;
    }
    return m / LC_MACS_PER_BYTE;
}

/* See lower.h. */
int lw_conv_describe(const jit_plan *p, int n, char *buf, size_t len) {
    const jx_node *nd = &p->nodes[n];
    if (!lc_is_conv(nd->op)) return 0;
    cd_describe(nd, &p->nodes[nd->in[0]].type, &p->nodes[nd->in[1]].type, lc_lanes(nd->type.dtype),
                buf, len);
    return 1;
}

/* One member's state: a forward-type or filter kernel's scratch. */
typedef struct lc_member {
    lc c;
    lc_fwd fwd;
    lc_filter fil;
} lc_member;

/* See lower.h. */
void lw_conv_body(lw *L, int g0, int g1, LLVMValueRef *dst) {
    const jit_plan *p = L->p;
    int nm = g1 - g0 + 1;
    lc_member *m = calloc((size_t)nm, sizeof *m);
    if (!m) return; /* the caller's verifier reports the incomplete function */
    const jx_type *gt = &p->nodes[p->steps[g0].node].type;
    int64_t units = gt->shape[0], inner = units > 0 ? jx_type_size(gt) / units : 0;
    for (int i = 0; i < nm; i++) {
        const jx_node *nd = &p->nodes[p->steps[g0 + i].node];
        if (!lc_is_conv(nd->op)) continue;
        lc_init(&m[i].c, L, nd->type.dtype, lc_lanes(nd->type.dtype));
        cd_geom g;
        cd_core k;
        cd_geom_of(nd, &p->nodes[nd->in[0]].type, &p->nodes[nd->in[1]].type, &g);
        cd_core_of(nd->op, &g, m[i].c.v, &k);
        lc_init(&m[i].c, L, nd->type.dtype, k.v);
        if (nd->op == JX_OP_CONV_BACKPROP_FILTER) lc_filter_begin(&m[i].c, nd, &m[i].fil);
        else lc_fwd_begin(&m[i].c, nd, &m[i].fwd);
    }
    lw_loop lu = lw_loop_range(L, L->par_lo ? L->par_lo : lw_i64(L, 0),
                               L->par_hi ? L->par_hi : lw_i64(L, units));
    for (int i = 0; i < nm; i++) {
        int root = p->steps[g0 + i].node;
        const jx_node *nd = &p->nodes[root];
        if (nd->op == JX_OP_CONV_BACKPROP_FILTER) {
            lc_filter_unit(&m[i].c, nd, &m[i].fil, lu.iv, dst[i]);
        } else if (lc_patch_kernel(p, root)) {
            lc_patch_unit(L, nd, lu.iv, dst[i]);
        } else if (lc_is_conv(nd->op)) {
            lc_fwd_unit(&m[i].c, nd, &m[i].fwd, lu.iv, dst[i]);
        } else { /* an elementwise member over the unit's slice */
            LLVMValueRef lo = LLVMBuildMul(L->b, lu.iv, lw_i64(L, inner), "");
            lw_loop le = lw_loop_range(L, lo, lc_addk(L, lo, inner));
            lw_ix ix = lw_ix_new(&nd->type);
            ix.lin = le.iv;
            lw_store(L, dst[i], nd->type.dtype, le.iv, lw_compute(L, root, &ix));
            lw_loop_end(L, &le);
        }
    }
    lw_loop_end(L, &lu);
    free(m);
}
