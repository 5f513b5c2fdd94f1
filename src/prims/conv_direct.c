/* The conv_direct family: conv, conv_backprop_input and conv_backprop_filter (meaning in
 * conv_direct.h): shape rules, the reference interpreter, the geometry of their kernels
 * and the choice between them and the patch GEMMs. They are made by the JIT's
 * conv-direct pass after every transformation, so they have no vjp/jvp/batching rules
 * (like gemm); their loop lowering is whole kernels (conv_kernel.c), never an
 * element inside another kernel (JXF_LIBCALL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "core/util.h"
#include "prims/conv_direct.h"

/* Checks that t is a rank-4 f32/f64 operand named what. 0 or -1 with a message. */
static int cd_check4(const char *what, const jx_type *t, char *err, size_t errlen) {
    if (t->dtype != JX_F32 && t->dtype != JX_F64) {
        snprintf(err, errlen, "%s: dtype %s is not supported (need f32 or f64)", what,
                 jx_dtype_name(t->dtype));
        return -1;
    }
    if (t->rank != 4) {
        snprintf(err, errlen, "%s must have rank 4, got rank %d", what, t->rank);
        return -1;
    }
    return 0;
}

/* Checks the image [N,H,W,C] against the conv output [N,OH,OW,O] (from operands or the
 * result), the weights w [KH*KW*C,O] (NULL: none) and the attributes. 0 or -1. */
static int cd_check_pair(const jx_type *x, const jx_type *y, const jx_type *w,
                         const conv_params *p, char *err, size_t errlen) {
    if (x->dtype != y->dtype || (w && w->dtype != x->dtype)) {
        snprintf(err, errlen, "operand dtypes differ");
        return -1;
    }
    if (x->shape[0] != y->shape[0]) {
        snprintf(err, errlen, "batch %lld of the image differs from batch %lld",
                 (long long)x->shape[0], (long long)y->shape[0]);
        return -1;
    }
    int64_t oh = conv_out_dim("height", x->shape[1], p->kh, p->sh, p->ph0, p->ph1, err, errlen);
    if (oh < 0) return -1;
    int64_t ow = conv_out_dim("width", x->shape[2], p->kw, p->sw, p->pw0, p->pw1, err, errlen);
    if (ow < 0) return -1;
    if (oh != y->shape[1] || ow != y->shape[2]) {
        snprintf(err, errlen, "image %lldx%lld gives %lldx%lld outputs, not %lldx%lld",
                 (long long)x->shape[1], (long long)x->shape[2], (long long)oh, (long long)ow,
                 (long long)y->shape[1], (long long)y->shape[2]);
        return -1;
    }
    if (w && (w->rank != 2 || x->shape[3] > ((int64_t)1 << 62) / (p->kh * p->kw) ||
              w->shape[0] != p->kh * p->kw * x->shape[3] || w->shape[1] != y->shape[3])) {
        snprintf(err, errlen, "weights must be [%lld,%lld] (KH*KW*C, O)",
                 (long long)(p->kh * p->kw * x->shape[3]), (long long)y->shape[3]);
        return -1;
    }
    return 0;
}

/* Shape rule of the family (operands and hints in conv_direct.h). */
static int cd_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                    const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    conv_params p;
    if (nin != 2) {
        snprintf(err, errlen, "expects 2 operands, got %d", nin);
        return -1;
    }
    if (conv_read_params(at, &p, err, errlen) < 0) return -1;
    if (op == JX_OP_CONV) {
        if (cd_check4("x (N,H,W,C)", &in[0], err, errlen) < 0) return -1;
        int64_t oh = conv_out_dim("height", in[0].shape[1], p.kh, p.sh, p.ph0, p.ph1, err, errlen);
        int64_t ow = oh < 0 ? -1 : conv_out_dim("width", in[0].shape[2], p.kw, p.sw, p.pw0, p.pw1,
                                                err, errlen);
        if (ow < 0) return -1;
        int64_t o = in[1].rank == 2 ? in[1].shape[1] : 0;
        *out = (jx_type){in[0].dtype, 4, {in[0].shape[0], oh, ow, o}};
        return cd_check_pair(&in[0], out, &in[1], &p, err, errlen);
    }
    if (!hint) {
        snprintf(err, errlen, "needs the output type");
        return -1;
    }
    if (op == JX_OP_CONV_BACKPROP_INPUT) {
        if (cd_check4("g (N,OH,OW,O)", &in[0], err, errlen) < 0 ||
            cd_check4("output (N,H,W,C)", hint, err, errlen) < 0)
            return -1;
        *out = *hint;
        return cd_check_pair(hint, &in[0], &in[1], &p, err, errlen);
    }
    if (cd_check4("x (N,H,W,C)", &in[0], err, errlen) < 0 ||
        cd_check4("g (N,OH,OW,O)", &in[1], err, errlen) < 0 ||
        cd_check_pair(&in[0], &in[1], NULL, &p, err, errlen) < 0)
        return -1;
    int64_t kkc = p.kh * p.kw * in[0].shape[3], n = in[0].shape[0];
    if (hint->rank != 3 || hint->dtype != in[0].dtype || hint->shape[0] < 1 ||
        hint->shape[0] > (n > 1 ? n : 1) || (hint->shape[1] != kkc && hint->shape[1] != kkc + 1) ||
        hint->shape[2] != in[1].shape[3]) {
        snprintf(err, errlen, "output type must be %s[S,%lld,%lld] (or [S,%lld,%lld] with the bias "
                 "row) with 1 <= S <= max(N, 1)", jx_dtype_name(in[0].dtype), (long long)kkc,
                 (long long)in[1].shape[3], (long long)(kkc + 1), (long long)in[1].shape[3]);
        return -1;
    }
    *out = *hint;
    return 0;
}

/* See conv_direct.h. */
void cd_geom_of(const jx_node *nd, const jx_type *in0, const jx_type *in1, cd_geom *g) {
    conv_params p;
    char err[8];
    memset(&p, 0, sizeof p);
    conv_read_params(&nd->at, &p, err, sizeof err);
    const jx_type *x = nd->op == JX_OP_CONV_BACKPROP_INPUT ? &nd->type : in0;
    const jx_type *y = nd->op == JX_OP_CONV ? &nd->type
                       : nd->op == JX_OP_CONV_BACKPROP_INPUT ? in0 : in1;
    *g = (cd_geom){x->shape[0], x->shape[1], x->shape[2], x->shape[3], y->shape[1], y->shape[2],
                   y->shape[3], p.kh, p.kw, p.sh, p.sw, p.ph0, p.pw0, p.ph1, p.pw1,
                   nd->op == JX_OP_CONV_BACKPROP_FILTER ? nd->type.shape[0] : 1, 0};
    if (nd->op == JX_OP_CONV_BACKPROP_FILTER)
        g->bias = nd->type.shape[1] == p.kh * p.kw * x->shape[3] + 1;
}

/* ---- the reference interpreter --------------------------------------------------------- */

/* Element i of a float array's data as a double. */
static double cd_get(const void *d, jx_dtype dt, int64_t i) {
    return dt == JX_F32 ? ((const float *)d)[i] : ((const double *)d)[i];
}

/* Visits every (image pixel, output pixel, tap) triple of g's convolution that reads
 * inside the image: f(ctx, n, xoff, yoff, woff) with xoff the pixel's offset in x
 * [N,H,W,C] (times C), yoff the output's in [N,OH,OW,O] (times O) and woff the tap's
 * row in w (times C). */
typedef void (*cd_visit)(void *ctx, int64_t n, int64_t xoff, int64_t yoff, int64_t woff);
static void cd_walk(const cd_geom *g, cd_visit f, void *ctx) {
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++)
                for (int64_t kh = 0; kh < g->kh; kh++)
                    for (int64_t kw = 0; kw < g->kw; kw++) {
                        int64_t iy = oy * g->sh - g->ph0 + kh, ix = ox * g->sw - g->pw0 + kw;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                        f(ctx, n, ((n * g->h + iy) * g->w + ix) * g->c,
                          ((n * g->oh + oy) * g->ow + ox) * g->o, (kh * g->kw + kw) * g->c);
                    }
}

/* The interpreter's state: operands, double accumulators, geometry. */
typedef struct cd_run {
    const cd_geom *g;
    jx_dtype dt;
    const void *a, *b; /* the two operands */
    double *acc;
} cd_run;

/* conv: y[yoff + o] += x[xoff + c] * w[woff + c, o]. */
static void cd_visit_conv(void *vctx, int64_t n, int64_t xoff, int64_t yoff, int64_t woff) {
    cd_run *r = vctx;
    (void)n;
    for (int64_t c = 0; c < r->g->c; c++) {
        double xv = cd_get(r->a, r->dt, xoff + c);
        for (int64_t o = 0; o < r->g->o; o++)
            r->acc[yoff + o] += xv * cd_get(r->b, r->dt, (woff + c) * r->g->o + o);
    }
}

/* conv_backprop_input: dx[xoff + c] += g[yoff + o] * w[woff + c, o]. */
static void cd_visit_input(void *vctx, int64_t n, int64_t xoff, int64_t yoff, int64_t woff) {
    cd_run *r = vctx;
    (void)n;
    for (int64_t c = 0; c < r->g->c; c++)
        for (int64_t o = 0; o < r->g->o; o++)
            r->acc[xoff + c] +=
                cd_get(r->a, r->dt, yoff + o) * cd_get(r->b, r->dt, (woff + c) * r->g->o + o);
}

/* The batch slice holding image n of g (the last s with s*N/S <= n). */
static int64_t cd_slice_of(const cd_geom *g, int64_t n) {
    int64_t s = 0;
    while (s + 1 < g->s && (s + 1) * g->n / g->s <= n) s++;
    return s;
}

/* conv_backprop_filter: dw[slice(n), woff + c, o] += x[xoff + c] * g[yoff + o]. */
static void cd_visit_filter(void *vctx, int64_t n, int64_t xoff, int64_t yoff, int64_t woff) {
    cd_run *r = vctx;
    const cd_geom *g = r->g;
    double *d = r->acc + cd_slice_of(g, n) * (g->kh * g->kw * g->c + g->bias) * g->o;
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t o = 0; o < g->o; o++)
            d[(woff + c) * g->o + o] +=
                cd_get(r->a, r->dt, xoff + c) * cd_get(r->b, r->dt, yoff + o);
}

/* Reference evaluation: sums in double over the taps that read inside the image,
 * rounded once. */
static int cd_interp(const jx_node *nd, jx_array *const *in, jx_array *out) {
    cd_geom g;
    const jx_type t0 = jx_array_type(in[0]), t1 = jx_array_type(in[1]);
    cd_geom_of(nd, &t0, &t1, &g);
    int64_t m = jx_array_size(out);
    cd_run r = {&g, nd->type.dtype, jx_array_cdata(in[0]), jx_array_cdata(in[1]),
                calloc((size_t)(m > 0 ? m : 1), sizeof(double))};
    if (!r.acc) return util_err("%s: out of memory", prim_info(nd->op)->name);
    cd_walk(&g, nd->op == JX_OP_CONV ? cd_visit_conv
                : nd->op == JX_OP_CONV_BACKPROP_INPUT ? cd_visit_input : cd_visit_filter, &r);
    int64_t rows = g.kh * g.kw * g.c + g.bias;
    for (int64_t n = 0; g.bias && n < g.n; n++) /* the bias row: g summed per slice */
        for (int64_t i = 0; i < g.oh * g.ow * g.o; i++)
            r.acc[(cd_slice_of(&g, n) * rows + rows - 1) * g.o + i % g.o] +=
                cd_get(r.b, r.dt, n * g.oh * g.ow * g.o + i);
    void *d = jx_array_data(out);
    for (int64_t i = 0; i < m; i++) {
        if (r.dt == JX_F32) ((float *)d)[i] = (float)r.acc[i];
        else ((double *)d)[i] = r.acc[i];
    }
    free(r.acc);
    return 0;
}

/* ---- the kernels' geometry and the choice ------------------------------------------------ */

/* See conv_direct.h. */
void cd_core_of(jx_op op, const cd_geom *g, int64_t lanes, cd_core *k) {
    memset(k, 0, sizeof *k);
    k->kh = g->kh;
    k->kw = g->kw;
    if (op == JX_OP_CONV_BACKPROP_INPUT) { /* g dilated by the strides, stride 1 over it */
        *k = (cd_core){.cin = g->o, .cout = g->c, .ih = g->oh, .iw = g->ow, .p = 1,
                       .pt = g->kh - 1 - g->ph0, .pl = g->kw - 1 - g->pw0, .dh = g->sh,
                       .dw = g->sw, .sh = 1, .sw = 1, .kh = g->kh, .kw = g->kw, .oh = g->h,
                       .ow = g->w, .flip = 1};
    } else {
        *k = (cd_core){.cin = g->c, .cout = g->o, .ih = g->h, .iw = g->w, .p = g->sw,
                       .pt = g->ph0, .pl = g->pw0, .dh = 1, .dw = 1, .sh = g->sh, .sw = g->sw,
                       .kh = g->kh, .kw = g->kw, .oh = g->oh, .ow = g->ow};
    }
    /* whole vectors (a 14-lane load is 3 loads and 2 inserts): the smallest power of two
     * covering the row, at most the host's lanes; a row narrower than that is one vector
     * whose lanes past OW are ignored */
    k->v = 1;
    while (k->v < lanes && k->v < k->ow) k->v *= 2;
    k->nblk = (k->ow + k->v - 1) / k->v;
    k->hp = (k->oh > 0 ? (k->oh - 1) * k->sh : 0) + k->kh;
    k->wq = k->nblk * k->v + (k->kw - 1) / k->sw;
}

/* The largest divisor of n that is at most cap (>= 1). */
static int64_t cd_divisor(int64_t n, int64_t cap) {
    for (int64_t d = cap < n ? cap : n; d > 1; d--)
        if (n % d == 0) return d;
    return 1;
}

/* See conv_direct.h. */
void cd_ftile_of(const cd_geom *g, cd_ftile *t) {
    t->ob = cd_divisor(g->o, 4); /* ~square tiles: CB*KWB + OB loads per CB*KWB*OB FMAs */
    t->cb = cd_divisor(g->c, 16 / t->ob);
    t->kwb = cd_divisor(g->kw, 16 / (t->ob * t->cb));
    t->tiles = g->kh * (g->kw / t->kwb) * (g->c / t->cb) * (g->o / t->ob);
}

/* See conv_direct.h. */
int64_t cd_scratch_bytes(jx_op op, const cd_geom *g, int64_t lanes, int64_t esize) {
    cd_core k;
    cd_core_of(op, g, lanes, &k);
    int64_t planar = k.hp * k.cin * k.p * k.wq;
    if (op != JX_OP_CONV_BACKPROP_FILTER) return (planar + g->kh * g->kw * g->c * g->o) * esize;
    cd_ftile t;
    cd_ftile_of(g, &t);
    int64_t grad = g->oh * g->o * k.nblk * k.v, part = (t.tiles * t.kwb * t.cb * t.ob + g->o) * k.v;
    return (planar + grad + part) * esize;
}

/* Scratch (on the stack of the thread running a kernel) above which a shape takes the
 * patch GEMMs. */
#define CD_MAX_SCRATCH ((int64_t)512 << 10)

/* See conv_direct.h. The rule: the direct kernels for float convolutions with at most 64
 * input and 64 output channels whose scratch fits CD_MAX_SCRATCH; the patch GEMMs
 * otherwise. Measured with tools/bench_conv (one layer's three products, batch 32, 1
 * thread): the direct kernels win by 5-20x at 1-8 channels (the GEMMs have an N or K of
 * 4-16 and the patch tensors are KH*KW times the image), by 1.3-2x at 16-64; at 64 -> 128
 * channels and beyond OpenBLAS on the patches is faster. */
int cd_choose_direct(jx_op op, const cd_geom *g, jx_dtype dt) {
    if (dt != JX_F32 && dt != JX_F64) return 0;
    if (g->n < 1 || g->oh < 1 || g->ow < 1 || g->c < 1 || g->o < 1) return 0;
    if (g->c > 4096 || g->o > 4096 || g->kh * g->kw > 4096) return 0;
    if (cd_scratch_bytes(op, g, 16, (int64_t)jx_dtype_size(dt)) > CD_MAX_SCRATCH) return 0;
    const char *e = getenv("JX_CONV");
    if (e && !strcmp(e, "gemm")) return 0;
    if (e && !strcmp(e, "direct")) return 1;
    return g->c <= 64 && g->o <= 64;
}

/* See conv_direct.h. */
int64_t cd_slices(int64_t n) {
    int64_t s = n / 4;
    return s < 1 ? 1 : s > 32 ? 32 : s;
}

/* See conv_direct.h. */
void cd_describe(const jx_node *nd, const jx_type *in0, const jx_type *in1, int64_t lanes,
                 char *buf, size_t len) {
    cd_geom g;
    cd_core k;
    cd_geom_of(nd, in0, in1, &g);
    cd_core_of(nd->op, &g, lanes, &k);
    int n = snprintf(buf, len, "direct: window %lldx%lld, %lld->%lld channels, %lld lanes "
                     "along the width", (long long)g.kh, (long long)g.kw, (long long)g.c,
                     (long long)g.o, (long long)k.v);
    if (nd->op == JX_OP_CONV_BACKPROP_FILTER && n >= 0 && (size_t)n < len) {
        cd_ftile t;
        cd_ftile_of(&g, &t);
        snprintf(buf + n, len - (size_t)n, ", %lld batch slices, %lld tiles of %lld accumulators%s",
                 (long long)g.s, (long long)t.tiles, (long long)(t.kwb * t.cb * t.ob),
                 g.bias ? ", bias row" : "");
    }
}

/* ---- emitters (the conv-direct pass) ------------------------------------------------------ */

/* See conv_direct.h. */
jx_val cd_conv_at(jx_loc loc, jx_val x, jx_val w, const jx_ints *a) {
    jx_attrs at = ir_attrs(&a[0], &a[1], &a[2], &a[3]);
    jx_val in[2] = {x, w};
    return trace_emit(loc, NULL, JX_OP_CONV, 2, in, &at, NULL);
}

/* See conv_direct.h. */
jx_val cd_backprop_input_at(jx_loc loc, jx_val g, jx_val w, int64_t h, int64_t wd,
                            const jx_ints *a) {
    jx_attrs at = ir_attrs(&a[0], &a[1], &a[2], &a[3]);
    jx_type gt = jx_val_type(g), wt = jx_val_type(w);
    int64_t kk = a[0].n == 2 ? a[0].v[0] * a[0].v[1] : 1;
    jx_type hint = {gt.dtype, 4, {gt.shape[0], h, wd, kk > 0 ? wt.shape[0] / kk : 0}};
    jx_val in[2] = {g, w};
    return trace_emit(loc, NULL, JX_OP_CONV_BACKPROP_INPUT, 2, in, &at, &hint);
}

/* See conv_direct.h. */
jx_val cd_backprop_filter_at(jx_loc loc, jx_val x, jx_val g, int64_t slices, int bias,
                             const jx_ints *a) {
    jx_attrs at = ir_attrs(&a[0], &a[1], &a[2], &a[3]);
    jx_type xt = jx_val_type(x), gt = jx_val_type(g);
    int64_t kk = a[0].n == 2 ? a[0].v[0] * a[0].v[1] : 1;
    jx_type hint = {xt.dtype, 3, {slices, kk * xt.shape[3] + (bias != 0), gt.shape[3]}};
    jx_val in[2] = {x, g};
    return trace_emit(loc, NULL, JX_OP_CONV_BACKPROP_FILTER, 2, in, &at, &hint);
}

/* The planner gives every operand a buffer-like value: the kernels read each element
 * many times. */
static int cd_rereads(const jx_fn *f, const jx_node *n, int k) {
    (void)f, (void)n, (void)k;
    return 1;
}

const jx_family jx_family_conv_direct = {.infer = cd_infer, .interp = cd_interp,
                                         .rereads = cd_rereads};
