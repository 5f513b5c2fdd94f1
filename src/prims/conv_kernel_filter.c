/* The conv_backprop_filter kernel: out[s, (kh*KW + kw)*C + c, o] = the sum over the
 * images n of batch slice s and the output pixels (oy, ox) of
 * x[n, oy*SH - PH0 + kh, ox*SW - PW0 + kw, c] * g[n, oy, ox, o].
 *
 * Per image: planar copies of x (the conv's virtual image, cd_core) and of g ([OH][O][
 * vectors of the row], zero past OW), so that for a tap and a channel a run of output
 * columns is one vector of each. The (tap, c, o) outputs are cut into tiles of at most 16
 * accumulators (cd_ftile: KWB taps along the width x CB input channels x OB output
 * channels, which share their loads: KWB*CB + OB vectors for KWB*CB*OB FMAs per run of
 * columns); per image and tile, the accumulators (vectors of partial sums over the
 * columns) are loaded from the slice's partial sums, updated over every output row and
 * stored back. At the end of the slice each vector is summed across its lanes into the
 * output. The last run of a row masks its lanes past OW (x * 0 would turn an infinite x
 * into NaN). With a bias row, the g vectors of every run are also summed per output
 * channel (the planar g is zero past OW). Each slice is one unit of the thread pool's
 * split; its summation order is fixed, so results do not depend on the thread count. */
#include <string.h>

#include "prims/conv_kernel.h"

/* The planar g image's layout as a cd_core: rows OH of O channels of gw columns, no
 * padding. */
static void lcf_gcore(const lc_filter *f, cd_core *gk) {
    memset(gk, 0, sizeof *gk);
    *gk = (cd_core){.cin = f->g.o, .ih = f->g.oh, .iw = f->g.ow, .hp = f->g.oh, .p = 1,
                    .wq = f->k.nblk * f->k.v, .dh = 1, .dw = 1, .sh = 1, .sw = 1};
}

/* Accumulators per tile. */
static int64_t lcf_acc(const lc_filter *f) {
    return f->t.kwb * f->t.cb * f->t.ob;
}

/* See conv_kernel.h. */
void lc_filter_begin(lc *c, const jx_node *nd, lc_filter *f) {
    lw *L = c->L;
    const jit_plan *p = L->p;
    cd_geom_of(nd, &p->nodes[nd->in[0]].type, &p->nodes[nd->in[1]].type, &f->g);
    cd_core_of(nd->op, &f->g, c->v, &f->k);
    cd_ftile_of(&f->g, &f->t);
    cd_core gk;
    lcf_gcore(f, &gk);
    int64_t esz = (int64_t)jx_dtype_size(c->dt);
    int64_t nx = f->k.hp * f->k.cin * f->k.p * f->k.wq, ng = gk.hp * gk.cin * gk.wq;
    f->xp = lc_array(L, c->et, nx);
    f->gp = lc_array(L, c->et, ng);
    f->ps = lc_array(L, c->et, (f->t.tiles * lcf_acc(f) + f->g.o) * c->v);
    for (int64_t i = 0; i < lcf_acc(f); i++) f->acc[i] = lw_alloca(L, c->vt);
    lc_zero(L, f->xp, nx * esz);
    lc_zero(L, f->gp, ng * esz);
}

/* A tile's place: first tap row kh, first tap column kw0, first channels c0 and o0. */
typedef struct lcf_tile {
    LLVMValueRef kh, kw0, c0, o0;
} lcf_tile;

/* Decodes tile index t (i64) into its place. */
static lcf_tile lcf_decode(lw *L, const lc_filter *f, LLVMValueRef t) {
    int64_t nob = f->g.o / f->t.ob, ncb = f->g.c / f->t.cb, nkw = f->g.kw / f->t.kwb;
    LLVMBuilderRef B = L->b;
    lcf_tile r;
    r.o0 = LLVMBuildMul(B, LLVMBuildURem(B, t, lw_i64(L, nob), ""), lw_i64(L, f->t.ob), "");
    LLVMValueRef t1 = LLVMBuildUDiv(B, t, lw_i64(L, nob), "");
    r.c0 = LLVMBuildMul(B, LLVMBuildURem(B, t1, lw_i64(L, ncb), ""), lw_i64(L, f->t.cb), "");
    LLVMValueRef t2 = LLVMBuildUDiv(B, t1, lw_i64(L, ncb), "");
    r.kw0 = LLVMBuildMul(B, LLVMBuildURem(B, t2, lw_i64(L, nkw), ""), lw_i64(L, f->t.kwb), "");
    r.kh = LLVMBuildUDiv(B, t2, lw_i64(L, nkw), "");
    return r;
}

/* The lane mask of run b of a row: lanes inside the output width. */
static LLVMValueRef lcf_mask(lc *c, const lc_filter *f, int64_t b) {
    LLVMValueRef m[64];
    for (int64_t l = 0; l < c->v; l++)
        m[l] = LLVMConstInt(c->L->i1, b * c->v + l < f->k.ow, 0);
    return LLVMConstVector(m, (unsigned)c->v);
}

/* The pixel loop of one tile over one image (the planar copies are current): for every
 * output row and run of columns, acc[(kwi*CB + ci)*OB + o] += x(kh, kw0+kwi, c0+ci) *
 * g(o0+o). */
static void lcf_rows(lc *c, lc_filter *f, const lcf_tile *tl) {
    lw *L = c->L;
    LLVMBuilderRef B = L->b;
    const cd_core *k = &f->k;
    int64_t gw = k->nblk * k->v, plane = k->p * k->wq;
    /* per tap column: its phase plane and column shift, fixed for the tile */
    LLVMValueRef xsh[16];
    for (int64_t kwi = 0; kwi < f->t.kwb; kwi++) {
        LLVMValueRef kw = LLVMBuildAdd(B, tl->kw0, lw_i64(L, kwi), "");
        xsh[kwi] = k->sw == 1
                       ? kw
                       : LLVMBuildAdd(B,
                                      LLVMBuildMul(B, LLVMBuildURem(B, kw, lw_i64(L, k->sw), ""),
                                                   lw_i64(L, k->wq), ""),
                                      LLVMBuildUDiv(B, kw, lw_i64(L, k->sw), ""), "");
    }
    lw_loop ly = lw_loop_begin(L, k->oh);
    LLVMValueRef vr = LLVMBuildAdd(B, LLVMBuildMul(B, ly.iv, lw_i64(L, k->sh), ""), tl->kh, "");
    LLVMValueRef xrow = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, vr, lw_i64(L, k->cin), ""),
                                                     tl->c0, ""), lw_i64(L, plane), "");
    LLVMValueRef grow =
        LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, ly.iv, lw_i64(L, f->g.o), ""), tl->o0, ""),
                     lw_i64(L, gw), "");
    for (int64_t b = 0; b < k->nblk; b++) {
        int tail = (b + 1) * k->v > k->ow;
        LLVMValueRef gv[16], zero = LLVMConstNull(c->vt), mask = tail ? lcf_mask(c, f, b) : NULL;
        for (int64_t o = 0; o < f->t.ob; o++)
            gv[o] = lc_vload(c, f->gp, LLVMBuildAdd(B, grow, lw_i64(L, o * gw + b * k->v), ""));
        for (int64_t kwi = 0; kwi < f->t.kwb; kwi++)
            for (int64_t ci = 0; ci < f->t.cb; ci++) {
                LLVMValueRef off = LLVMBuildAdd(B, LLVMBuildAdd(B, xrow, xsh[kwi], ""),
                                                lw_i64(L, ci * plane + b * k->v), "");
                LLVMValueRef xv = lc_vload(c, f->xp, off);
                if (tail) xv = LLVMBuildSelect(B, mask, xv, zero, "");
                for (int64_t o = 0; o < f->t.ob; o++) {
                    LLVMValueRef slot = f->acc[(kwi * f->t.cb + ci) * f->t.ob + o];
                    LLVMValueRef a = LLVMBuildLoad2(B, c->vt, slot, "");
                    LLVMBuildStore(B, lc_fma(c, xv, gv[o], a), slot);
                }
            }
    }
    lw_loop_end(L, &ly);
}

/* The sum of the lanes of vector v (tree order). */
static LLVMValueRef lcf_hsum(lc *c, LLVMValueRef v) {
    lw *L = c->L;
    unsigned id = LLVMLookupIntrinsicID("llvm.vector.reduce.fadd", 23);
    LLVMTypeRef vt = c->vt;
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(L->m, id, &vt, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->cx, id, &vt, 1);
    LLVMValueRef args[2] = {lw_const(L, c->dt, 0.0), v};
    LLVMValueRef r = LLVMBuildCall2(L->b, ft, fn, args, 2, "");
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
    return r;
}

/* Writes slice s's outputs: each partial-sum vector summed across its lanes. */
static void lcf_finish(lc *c, lc_filter *f, LLVMValueRef s, LLVMValueRef dst) {
    lw *L = c->L;
    LLVMBuilderRef B = L->b;
    int64_t na = lcf_acc(f), kkc = f->g.kh * f->g.kw * f->g.c;
    LLVMValueRef out =
        lc_gep(c, dst, LLVMBuildMul(B, s, lw_i64(L, (kkc + f->g.bias) * f->g.o), ""));
    lw_loop lt = lw_loop_begin(L, f->t.tiles);
    lcf_tile tl = lcf_decode(L, f, lt.iv);
    LLVMValueRef tap0 = LLVMBuildAdd(B, LLVMBuildMul(B, tl.kh, lw_i64(L, f->g.kw), ""), tl.kw0, "");
    for (int64_t kwi = 0; kwi < f->t.kwb; kwi++)
        for (int64_t ci = 0; ci < f->t.cb; ci++)
            for (int64_t o = 0; o < f->t.ob; o++) {
                int64_t j = (kwi * f->t.cb + ci) * f->t.ob + o;
                LLVMValueRef pj = LLVMBuildAdd(B, LLVMBuildMul(B, lt.iv, lw_i64(L, na * c->v), ""),
                                               lw_i64(L, j * c->v), "");
                LLVMValueRef sum = lcf_hsum(c, lc_vload(c, f->ps, pj));
                LLVMValueRef row =
                    LLVMBuildAdd(B,
                                 LLVMBuildMul(B, LLVMBuildAdd(B, tap0, lw_i64(L, kwi), ""),
                                              lw_i64(L, f->g.c), ""),
                                 LLVMBuildAdd(B, tl.c0, lw_i64(L, ci), ""), "");
                LLVMValueRef oi = LLVMBuildAdd(B, LLVMBuildMul(B, row, lw_i64(L, f->g.o), ""),
                                               LLVMBuildAdd(B, tl.o0, lw_i64(L, o), ""), "");
                LLVMBuildStore(B, sum, lc_gep(c, out, oi));
            }
    lw_loop_end(L, &lt);
    if (!f->g.bias) return;
    lw_loop lo = lw_loop_begin(L, f->g.o); /* the bias row */
    LLVMValueRef pb = LLVMBuildMul(B, LLVMBuildAdd(B, lo.iv, lw_i64(L, f->t.tiles * na), ""),
                                   lw_i64(L, c->v), "");
    LLVMBuildStore(B, lcf_hsum(c, lc_vload(c, f->ps, pb)),
                   lc_gep(c, out, LLVMBuildAdd(B, lo.iv, lw_i64(L, kkc * f->g.o), "")));
    lw_loop_end(L, &lo);
}

/* Adds image's planar g (current in f->gp) to the bias row's partial sums: per output
 * channel, the sum of its vectors over the rows. */
static void lcf_bias(lc *c, lc_filter *f) {
    lw *L = c->L;
    LLVMBuilderRef B = L->b;
    int64_t gw = f->k.nblk * f->k.v;
    lw_loop lo = lw_loop_begin(L, f->g.o);
    LLVMValueRef pb = LLVMBuildMul(
        B, LLVMBuildAdd(B, lo.iv, lw_i64(L, f->t.tiles * lcf_acc(f)), ""), lw_i64(L, c->v), "");
    LLVMBuildStore(B, lc_vload(c, f->ps, pb), f->acc[0]);
    lw_loop ly = lw_loop_begin(L, f->g.oh);
    LLVMValueRef grow =
        LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, ly.iv, lw_i64(L, f->g.o), ""), lo.iv, ""),
                     lw_i64(L, gw), "");
    for (int64_t b = 0; b < f->k.nblk; b++) {
        LLVMValueRef gv = lc_vload(c, f->gp, LLVMBuildAdd(B, grow, lw_i64(L, b * f->k.v), ""));
        LLVMValueRef a = LLVMBuildLoad2(B, c->vt, f->acc[0], "");
        LLVMBuildStore(B, LLVMBuildFAdd(B, a, gv, ""), f->acc[0]);
    }
    lw_loop_end(L, &ly);
    lc_vstore(c, LLVMBuildLoad2(B, c->vt, f->acc[0], ""), f->ps, pb);
    lw_loop_end(L, &lo);
}

/* See conv_kernel.h. */
void lc_filter_unit(lc *c, const jx_node *nd, lc_filter *f, LLVMValueRef s, LLVMValueRef dst) {
    lw *L = c->L;
    LLVMBuilderRef B = L->b;
    int64_t na = lcf_acc(f), esz = (int64_t)jx_dtype_size(c->dt);
    lc_zero(L, f->ps, (f->t.tiles * na + f->g.o) * c->v * esz);
    LLVMValueRef nlo =
        LLVMBuildSDiv(B, LLVMBuildMul(B, s, lw_i64(L, f->g.n), ""), lw_i64(L, f->g.s), "");
    LLVMValueRef s1 = LLVMBuildAdd(B, s, lw_i64(L, 1), "");
    LLVMValueRef nhi =
        LLVMBuildSDiv(B, LLVMBuildMul(B, s1, lw_i64(L, f->g.n), ""), lw_i64(L, f->g.s), "");
    cd_core gk;
    lcf_gcore(f, &gk);
    lw_loop ln = lw_loop_range(L, nlo, nhi);
    lc_planarize(c, &f->k, nd->in[0], ln.iv, f->xp);
    lc_planarize(c, &gk, nd->in[1], ln.iv, f->gp);
    if (f->g.bias) lcf_bias(c, f);
    lw_loop lt = lw_loop_begin(L, f->t.tiles);
    lcf_tile tl = lcf_decode(L, f, lt.iv);
    LLVMValueRef pbase = LLVMBuildMul(B, lt.iv, lw_i64(L, na * c->v), "");
    for (int64_t j = 0; j < na; j++)
        LLVMBuildStore(B, lc_vload(c, f->ps, LLVMBuildAdd(B, pbase, lw_i64(L, j * c->v), "")),
                       f->acc[j]);
    lcf_rows(c, f, &tl);
    for (int64_t j = 0; j < na; j++)
        lc_vstore(c, LLVMBuildLoad2(B, c->vt, f->acc[j], ""), f->ps,
                  LLVMBuildAdd(B, pbase, lw_i64(L, j * c->v), ""));
    lw_loop_end(L, &lt);
    lw_loop_end(L, &ln);
    lcf_finish(c, f, s, dst);
}
