/* Layers (Haiku layouts) and extra activations, as composites of jx.h primitives:
 * linear = dot_general + add; conv2d = conv_patches + dot_general; pooling = reshape +
 * reduce for non-overlapping windows, a max/sum of strided slices otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jx/nn.h>

#include "core/trace.h"

#define NNL_TBUF 200 /* room for a type string */

/* A poison value for a failed check on v (v itself when it already is poison). */
static jx_val nnl_poison(jx_val v) { return jx_val_bad(v) ? v : trace_val(v.t, -1); }

/* 1 if b is the JX_NOVAL marker. */
static int nnl_absent(jx_val b) { return b.t == NULL && b.id == INT32_MIN; }

/* Adds bias b[O] to y[..., O] (checking b), or returns y when b is absent. */
static jx_val nnl_bias(jx_loc loc, const char *op, jx_val y, jx_val b) {
    if (nnl_absent(b) || jx_val_bad(y)) return y;
    if (jx_val_bad(b)) return b;
    jx_type yt = jx_val_type(y), bt = jx_val_type(b);
    if (bt.rank != 1 || bt.shape[0] != yt.shape[yt.rank - 1] || bt.dtype != yt.dtype) {
        char sb[NNL_TBUF], sy[NNL_TBUF];
        return trace_fail(y.t, loc, op, "bias %s does not match the output %s (expected %s[%lld])",
                          jx_type_str(&bt, sb, sizeof sb), jx_type_str(&yt, sy, sizeof sy),
                          jx_dtype_name(yt.dtype), (long long)yt.shape[yt.rank - 1]);
    }
    return jx_add_at(loc, y, b);
}

/* ---- linear --------------------------------------------------------------------------- */

/* x[..., in] @ w[in, out] (+ b). */
jx_val jx_linear_at(jx_loc loc, jx_val x, jx_val w, jx_val b) {
    if (jx_val_bad(x)) return x;
    if (jx_val_bad(w)) return nnl_poison(w);
    jx_type xt = jx_val_type(x), wt = jx_val_type(w);
    char sx[NNL_TBUF], sw[NNL_TBUF];
    jx_type_str(&xt, sx, sizeof sx);
    jx_type_str(&wt, sw, sizeof sw);
    if (xt.rank < 1 || wt.rank != 2)
        return trace_fail(x.t, loc, "linear", "expected x[..., in] and w[in, out], got %s and %s",
                          sx, sw);
    if (xt.shape[xt.rank - 1] != wt.shape[0])
        return trace_fail(x.t, loc, "linear",
                          "last dim of x %s (%lld) does not match the first dim of w %s (%lld)",
                          sx, (long long)xt.shape[xt.rank - 1], sw, (long long)wt.shape[0]);
    jx_val y = jx_dot_general_at(loc, x, w, JX_INTS(xt.rank - 1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    return nnl_bias(loc, "linear", y, b);
}

/* ---- spatial helpers ------------------------------------------------------------------ */

/* The geometry of a 2-D windowed op on x[N,H,W,C]. */
typedef struct nnl_geom {
    int64_t k[2], s[2], lo[2], hi[2], out[2];
} nnl_geom;

/* Reads a (height, width) pair from 1 or 2 entries, each >= 1. */
static int nnl_pair(jx_ints v, int64_t *out) {
    if (v.n != 1 && v.n != 2) return -1;
    out[0] = v.v[0];
    out[1] = v.v[v.n - 1];
    return out[0] >= 1 && out[1] >= 1 ? 0 : -1;
}

/* Fills g for input dims hw with window k and strides s under padding. SAME (TF):
 * out = ceil(in/s), total = max((out-1)*s + k - in, 0), low = total/2; VALID: out =
 * (in-k)/s + 1, which needs in >= k. Returns 0, or -1 with the failing axis in *bad. */
static int nnl_geometry(const int64_t *hw, const int64_t *k, const int64_t *s, jx_padding pad,
                        nnl_geom *g, int *bad) {
    for (int a = 0; a < 2; a++) {
        g->k[a] = k[a];
        g->s[a] = s[a];
        if (pad == JX_SAME) {
            g->out[a] = (hw[a] + s[a] - 1) / s[a];
            int64_t total = (g->out[a] - 1) * s[a] + k[a] - hw[a];
            if (total < 0) total = 0;
            g->lo[a] = total / 2;
            g->hi[a] = total - g->lo[a];
        } else {
            if (hw[a] < k[a]) {
                *bad = a;
                return -1;
            }
            g->out[a] = (hw[a] - k[a]) / s[a] + 1;
            g->lo[a] = g->hi[a] = 0;
        }
    }
    return 0;
}

/* Common checks of the spatial ops: x of rank 3 or 4 (float unless any_dtype), window
 * and strides of 1 or 2 entries >= 1, a valid padding, and the geometry. On success
 * stores x as rank 4 in *x4 and returns 0; else records an error naming op. */
static int nnl_spatial(jx_loc loc, const char *op, jx_val x, jx_ints window, jx_ints strides,
                       jx_padding pad, int any_dtype, jx_val *x4, nnl_geom *g) {
    jx_type xt = jx_val_type(x);
    char sx[NNL_TBUF];
    jx_type_str(&xt, sx, sizeof sx);
    int64_t k[2], s[2];
    if (xt.rank != 3 && xt.rank != 4) {
        trace_fail(x.t, loc, op, "expected x[N,H,W,C] or [H,W,C], got %s", sx);
        return -1;
    }
    if (!any_dtype && xt.dtype != JX_F32 && xt.dtype != JX_F64) {
        trace_fail(x.t, loc, op, "expected a floating-point x, got %s", sx);
        return -1;
    }
    if (nnl_pair(window, k) < 0 || nnl_pair(strides, s) < 0) {
        trace_fail(x.t, loc, op, "window and strides need 1 or 2 entries >= 1 (got %d and %d "
                   "entries) for %s", window.n, strides.n, sx);
        return -1;
    }
    if (pad != JX_SAME && pad != JX_VALID) {
        trace_fail(x.t, loc, op, "padding must be JX_SAME or JX_VALID, got %d", (int)pad);
        return -1;
    }
    int r = xt.rank, bad = 0;
    int64_t hw[2] = {xt.shape[r - 3], xt.shape[r - 2]};
    if (nnl_geometry(hw, k, s, pad, g, &bad) < 0) {
        trace_fail(x.t, loc, op, "window %lldx%lld is larger than the input %lldx%lld of %s with "
                   "VALID padding (%s)", (long long)k[0], (long long)k[1], (long long)hw[0],
                   (long long)hw[1], sx, bad ? "width" : "height");
        return -1;
    }
    *x4 = r == 4 ? x : jx_expand_dims_at(loc, x, 0);
    return 0;
}

/* y[1,...] back to rank 3 when the input x was one image. */
static jx_val nnl_unbatch(jx_loc loc, jx_val x, jx_val y) {
    return jx_val_type(x).rank == 3 ? jx_squeeze_at(loc, y, 0) : y;
}

/* ---- conv2d --------------------------------------------------------------------------- */

/* conv_patches(x) [N,OH,OW,KH*KW*C] contracted with w reshaped to [KH*KW*C, O]. */
jx_val jx_conv2d_at(jx_loc loc, jx_val x, jx_val w, jx_val b, jx_ints strides,
                    jx_padding padding) {
    if (jx_val_bad(x)) return x;
    if (jx_val_bad(w)) return nnl_poison(w);
    jx_type xt = jx_val_type(x), wt = jx_val_type(w);
    char sx[NNL_TBUF], sw[NNL_TBUF];
    jx_type_str(&xt, sx, sizeof sx);
    jx_type_str(&wt, sw, sizeof sw);
    if (wt.rank != 4)
        return trace_fail(x.t, loc, "conv2d", "kernel must be w[KH,KW,C,O], got %s (x %s)", sw, sx);
    if ((xt.rank == 3 || xt.rank == 4) && xt.shape[xt.rank - 1] != wt.shape[2])
        return trace_fail(x.t, loc, "conv2d",
                          "input channels of x %s (%lld) do not match the kernel %s (%lld)", sx,
                          (long long)xt.shape[xt.rank - 1], sw, (long long)wt.shape[2]);
    jx_val x4;
    nnl_geom g;
    jx_ints win = JX_INTS(wt.shape[0], wt.shape[1]);
    if (nnl_spatial(loc, "conv2d", x, win, strides, padding, 0, &x4, &g) < 0)
        return trace_val(x.t, -1);
    jx_val p = jx_conv_patches_at(loc, x4, win, JX_INTS(g.s[0], g.s[1]), JX_INTS(g.lo[0], g.lo[1]),
                                  JX_INTS(g.hi[0], g.hi[1]));
    jx_val w2 = jx_reshape_at(loc, w, JX_INTS(wt.shape[0] * wt.shape[1] * wt.shape[2], wt.shape[3]));
    jx_val y = jx_dot_general_at(loc, p, w2, JX_INTS(3), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    return nnl_unbatch(loc, x, nnl_bias(loc, "conv2d", y, b));
}

/* ---- pooling -------------------------------------------------------------------------- */

typedef jx_val (*nnl_reduce_fn)(jx_loc loc, jx_val x, jx_ints axes);
typedef jx_val (*nnl_combine_fn)(jx_loc loc, jx_val a, jx_val b);

/* Pools x4[N,H,W,C] with geometry g: pads spatially with padval (when SAME needs it), then
 * either reshapes non-overlapping windows to [N,OH,KH,OW,KW,C] and reduces axes 2 and 4,
 * or combines the KH*KW strided slices [N,OH,OW,C] pairwise. */
static jx_val nnl_pool(jx_loc loc, jx_val x4, const nnl_geom *g, double padval,
                       nnl_reduce_fn reduce, nnl_combine_fn combine) {
    jx_type xt = jx_val_type(x4);
    int64_t n = xt.shape[0], c = xt.shape[3];
    jx_val xp = x4;
    if (g->lo[0] || g->lo[1] || g->hi[0] || g->hi[1])
        xp = jx_pad_at(loc, x4, jx_lit_at(loc, x4, padval), JX_INTS(0, g->lo[0], g->lo[1], 0),
                       JX_INTS(0, g->hi[0], g->hi[1], 0), JX_INTS(0, 0, 0, 0));
    if (g->k[0] == g->s[0] && g->k[1] == g->s[1]) {
        int64_t h = g->out[0] * g->k[0], w = g->out[1] * g->k[1];
        jx_type pt = jx_val_type(xp);
        if (pt.shape[1] != h || pt.shape[2] != w)
            xp = jx_slice_at(loc, xp, JX_INTS(0, 0, 0, 0), JX_INTS(n, h, w, c), JX_INTS(1, 1, 1, 1));
        xp = jx_reshape_at(loc, xp, JX_INTS(n, g->out[0], g->k[0], g->out[1], g->k[1], c));
        return reduce(loc, xp, JX_INTS(2, 4));
    }
    jx_val acc = {NULL, -1};
    for (int64_t i = 0; i < g->k[0]; i++)
        for (int64_t j = 0; j < g->k[1]; j++) {
            jx_ints start = JX_INTS(0, i, j, 0);
            jx_ints limit = JX_INTS(n, i + (g->out[0] - 1) * g->s[0] + 1,
                                    j + (g->out[1] - 1) * g->s[1] + 1, c);
            jx_val sl = jx_slice_at(loc, xp, start, limit, JX_INTS(1, g->s[0], g->s[1], 1));
            acc = i == 0 && j == 0 ? sl : combine(loc, acc, sl);
        }
    return acc;
}

/* Max pooling (SAME pads with -inf). */
jx_val jx_max_pool_at(jx_loc loc, jx_val x, jx_ints window, jx_ints strides, jx_padding padding) {
    if (jx_val_bad(x)) return x;
    jx_val x4;
    nnl_geom g;
    if (nnl_spatial(loc, "max_pool", x, window, strides, padding, 0, &x4, &g) < 0)
        return trace_val(x.t, -1);
    return nnl_unbatch(loc, x, nnl_pool(loc, x4, &g, -INFINITY, jx_reduce_max_at, jx_max_at));
}

/* Number of window elements inside the image for each output position along one axis. */
static void nnl_counts(int64_t in, const nnl_geom *g, int a, double *cnt) {
    for (int64_t o = 0; o < g->out[a]; o++) {
        int64_t start = o * g->s[a] - g->lo[a], end = start + g->k[a];
        cnt[o] = (double)((end < in ? end : in) - (start > 0 ? start : 0));
    }
}

/* Average pooling: window sums (zero padding) divided by the count of in-image elements
 * (the full window size for VALID). */
jx_val jx_avg_pool_at(jx_loc loc, jx_val x, jx_ints window, jx_ints strides, jx_padding padding) {
    if (jx_val_bad(x)) return x;
    jx_val x4;
    nnl_geom g;
    if (nnl_spatial(loc, "avg_pool", x, window, strides, padding, 0, &x4, &g) < 0)
        return trace_val(x.t, -1);
    jx_val s = nnl_pool(loc, x4, &g, 0.0, jx_reduce_sum_at, jx_add_at);
    if (jx_val_bad(s)) return s;
    if (padding == JX_VALID)
        return nnl_unbatch(loc, x, jx_div_at(loc, s, jx_lit_at(loc, s, (double)(g.k[0] * g.k[1]))));
    jx_type xt = jx_val_type(x4);
    jx_type ct = {xt.dtype, 4, {1, g.out[0], g.out[1], 1}};
    jx_array *cnt = jx_array_new_type(&ct);
    double *ch = calloc((size_t)g.out[0] + 1, sizeof *ch), *cw = calloc((size_t)g.out[1] + 1, sizeof *cw);
    if (!cnt || !ch || !cw) {
        jx_array_free(cnt);
        free(ch);
        free(cw);
        return trace_fail(x.t, loc, "avg_pool", "out of memory");
    }
    nnl_counts(xt.shape[1], &g, 0, ch);
    nnl_counts(xt.shape[2], &g, 1, cw);
    for (int64_t i = 0; i < g.out[0]; i++)
        for (int64_t j = 0; j < g.out[1]; j++) jx_array_set(cnt, i * g.out[1] + j, ch[i] * cw[j]);
    jx_val cv = jx_constant_at(loc, x.t, cnt);
    jx_array_free(cnt);
    free(ch);
    free(cw);
    return nnl_unbatch(loc, x, jx_div_at(loc, s, cv));
}

/* x[N, ...] -> [N, prod(...)]; rank 1 unchanged. */
jx_val jx_flatten_at(jx_loc loc, jx_val x) {
    if (jx_val_bad(x)) return x;
    jx_type xt = jx_val_type(x);
    char sx[NNL_TBUF];
    if (xt.rank < 1)
        return trace_fail(x.t, loc, "flatten", "expected rank >= 1, got %s",
                          jx_type_str(&xt, sx, sizeof sx));
    if (xt.rank == 1) return x;
    int64_t rest = 1;
    for (int i = 1; i < xt.rank; i++) rest *= xt.shape[i];
    return jx_reshape_at(loc, x, JX_INTS(xt.shape[0], rest));
}

/* ---- activations ---------------------------------------------------------------------- */

/* 0 if x is a float value; else records an error naming op. */
static int nnl_float(jx_loc loc, const char *op, jx_val x) {
    if (jx_val_bad(x)) return -1;
    jx_type xt = jx_val_type(x);
    if (xt.dtype == JX_F32 || xt.dtype == JX_F64) return 0;
    char sx[NNL_TBUF];
    trace_fail(x.t, loc, op, "expected a floating-point operand, got %s",
               jx_type_str(&xt, sx, sizeof sx));
    return -1;
}

/* gelu, tanh form or exact. */
jx_val jx_gelu_at(jx_loc loc, jx_val x, int approximate) {
    if (nnl_float(loc, "gelu", x) < 0) return nnl_poison(x);
    jx_val half = jx_lit_at(loc, x, 0.5), one = jx_lit_at(loc, x, 1.0);
    jx_val inner;
    if (approximate) {
        jx_val x3 = jx_mul_at(loc, jx_mul_at(loc, x, x), x);
        jx_val u = jx_add_at(loc, x, jx_mul_at(loc, jx_lit_at(loc, x, 0.044715), x3));
        inner = jx_tanh_at(loc, jx_mul_at(loc, jx_lit_at(loc, x, 0.79788456080286535588 /* sqrt(2/pi) */), u));
    } else {
        inner = jx_erf_at(loc, jx_mul_at(loc, x, jx_lit_at(loc, x, 1.0 / sqrt(2.0))));
    }
    return jx_mul_at(loc, jx_mul_at(loc, half, x), jx_add_at(loc, one, inner));
}

/* select(x >= 0, x, slope x). */
jx_val jx_leaky_relu_at(jx_loc loc, jx_val x, double slope) {
    if (nnl_float(loc, "leaky_relu", x) < 0) return nnl_poison(x);
    jx_val pos = jx_ge_at(loc, x, jx_lit_at(loc, x, 0.0));
    return jx_select_at(loc, pos, x, jx_mul_at(loc, x, jx_lit_at(loc, x, slope)));
}

/* select(x > 0, x, alpha expm1(min(x, 0))). */
jx_val jx_elu_at(jx_loc loc, jx_val x, double alpha) {
    if (nnl_float(loc, "elu", x) < 0) return nnl_poison(x);
    jx_val zero = jx_lit_at(loc, x, 0.0);
    jx_val neg = jx_mul_at(loc, jx_lit_at(loc, x, alpha), jx_expm1_at(loc, jx_min_at(loc, x, zero)));
    return jx_select_at(loc, jx_gt_at(loc, x, zero), x, neg);
}

/* softplus's primal: max(x, 0) + log1p(exp(-|x|)); user is the caller's jx_loc. */
static void nnl_softplus_f(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_loc loc = *(const jx_loc *)user;
    jx_val x = in[0];
    (void)t;
    jx_val e = jx_log1p_at(loc, jx_exp_at(loc, jx_neg_at(loc, jx_abs_at(loc, x))));
    out[0] = jx_add_at(loc, jx_max_at(loc, x, jx_lit_at(loc, x, 0.0)), e);
}

/* softplus's jvp rule: dy = logistic(x) dx (exact at 0, finite everywhere). */
static void nnl_softplus_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_loc loc = *(const jx_loc *)user;
    nnl_softplus_f(t, in, out, user);
    out[1] = jx_mul_at(loc, jx_logistic_at(loc, in[0]), in[1]);
}

/* log1p(exp(x)) computed stably as max(x, 0) + log1p(exp(-|x|)), with derivative
 * logistic(x) through a custom_jvp (the composite's own derivative would go through
 * max's tie and abs's kink at 0). */
jx_val jx_softplus_at(jx_loc loc, jx_val x) {
    if (nnl_float(loc, "softplus", x) < 0) return nnl_poison(x);
    return jx_custom_jvp_at(loc, nnl_softplus_f, nnl_softplus_jvp, 1, &x, &loc);
}

/* x * logistic(x). */
jx_val jx_silu_at(jx_loc loc, jx_val x) {
    if (nnl_float(loc, "silu", x) < 0) return nnl_poison(x);
    return jx_mul_at(loc, x, jx_logistic_at(loc, x));
}

/* -softplus(-x). */
jx_val jx_log_sigmoid_at(jx_loc loc, jx_val x) {
    if (nnl_float(loc, "log_sigmoid", x) < 0) return nnl_poison(x);
    return jx_neg_at(loc, jx_softplus_at(loc, jx_neg_at(loc, x)));
}
