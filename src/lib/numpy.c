/* jax.numpy-like helpers, part 1: reshapes and single-axis reductions. The broadcasting
 * binary elementwise constructors and select are with their primitives (src/prims/elt_*.c,
 * broadcasting in elementwise.c). Matmul, softmax and the other composite helpers live in
 * numpy_nn.c; the creation helpers (jx_lit_at, jx_full_at,
 * jx_zeros_like_at, jx_ones_like_at) in src/prims/create.c, which the rules also use.
 *
 * Every helper passes the user's loc to each primitive it emits (so IR nodes and errors
 * name the user's line) and passes a poison operand through as poison without a new
 * message. Dtypes are never promoted: a mismatch is the primitive's error. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/trace.h"
#include "core/util.h"
#include "prims/elt_broadcast.h"

#define NP_TBUF 200 /* room for the longest type string ("bool[" + 8 dims + "]") */

/* The dims of t as a jx_ints. */
static jx_ints np_shape(const jx_type *t) {
    jx_ints s = JX_NOINTS;
    s.n = t->rank;
    for (int i = 0; i < t->rank; i++) s.v[i] = t->shape[i];
    return s;
}

/* Normalizes axis (negative counts from the end) for an array of rank `rank`; returns the
 * axis in [0, rank) or -1 when it is out of range. */
static int np_norm_axis(int axis, int rank) {
    if (axis < -rank || axis >= rank) return -1;
    return axis < 0 ? axis + rank : axis;
}

/* ---- reshapes ------------------------------------------------------------------------ */

/* x broadcast NumPy-style to shape (x's dims aligned with the trailing dims of shape, each
 * equal or 1); x itself when already of that shape. */
jx_val jx_broadcast_to_at(jx_loc loc, jx_val x, jx_ints shape) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "broadcast_to", 0, x);
    jx_type xt = jx_val_type(x), to;
    char b[NP_TBUF];
    if (shape.n < 0 || shape.n > JX_MAX_RANK)
        return trace_fail(x.t, loc, "broadcast_to", "target rank %d out of range [0, %d]",
                          shape.n, JX_MAX_RANK);
    memset(&to, 0, sizeof to);
    to.dtype = xt.dtype;
    to.rank = shape.n;
    for (int i = 0; i < shape.n; i++) to.shape[i] = shape.v[i];
    int ok = xt.rank <= shape.n && util_numel(to.rank, to.shape) >= 0;
    for (int j = 0; ok && j < xt.rank; j++) {
        int64_t s = xt.shape[j], d = to.shape[to.rank - xt.rank + j];
        ok = s == d || s == 1;
    }
    if (!ok) {
        char bs[NP_TBUF];
        jx_type_str(&to, bs, sizeof bs);
        return trace_fail(x.t, loc, "broadcast_to", "cannot broadcast %s to shape %s",
                          jx_type_str(&xt, b, sizeof b), strchr(bs, '['));
    }
    return elt_broadcast_val(loc, x, &xt, &to);
}

/* x with a new dim of size 1 inserted at axis (in [-rank-1, rank]), by reshape. */
jx_val jx_expand_dims_at(jx_loc loc, jx_val x, int axis) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "expand_dims", 0, x);
    jx_type xt = jx_val_type(x);
    char b[NP_TBUF];
    int ax = np_norm_axis(axis, xt.rank + 1);
    if (ax < 0)
        return trace_fail(x.t, loc, "expand_dims", "axis %d out of range for %s", axis,
                          jx_type_str(&xt, b, sizeof b));
    if (xt.rank >= JX_MAX_RANK)
        return trace_fail(x.t, loc, "expand_dims", "%s already has the maximum rank %d",
                          jx_type_str(&xt, b, sizeof b), JX_MAX_RANK);
    jx_ints s = JX_NOINTS;
    s.n = xt.rank + 1;
    for (int i = 0, j = 0; i < s.n; i++) s.v[i] = i == ax ? 1 : xt.shape[j++];
    return jx_reshape_at(loc, x, s);
}

/* x without its size-1 dim at axis (in [-rank, rank)), by reshape. */
jx_val jx_squeeze_at(jx_loc loc, jx_val x, int axis) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "squeeze", 0, x);
    jx_type xt = jx_val_type(x);
    char b[NP_TBUF];
    int ax = np_norm_axis(axis, xt.rank);
    if (ax < 0)
        return trace_fail(x.t, loc, "squeeze", "axis %d out of range for %s", axis,
                          jx_type_str(&xt, b, sizeof b));
    if (xt.shape[ax] != 1)
        return trace_fail(x.t, loc, "squeeze", "cannot squeeze axis %d of size %lld in %s",
                          axis, (long long)xt.shape[ax], jx_type_str(&xt, b, sizeof b));
    jx_ints s = JX_NOINTS;
    s.n = xt.rank - 1;
    for (int i = 0, j = 0; i < xt.rank; i++)
        if (i != ax) s.v[j++] = xt.shape[i];
    return jx_reshape_at(loc, x, s);
}

/* ---- reductions ---------------------------------------------------------------------- */

typedef jx_val (*np_reduce_fn)(jx_loc loc, jx_val x, jx_ints axes);

/* Reduces x over one axis with f (a reduce_* wrapper); name is the helper named in errors.
 * Stores the normalized axis in *ax (may be NULL). keepdims reshapes the result to keep a
 * size-1 dim at the axis. */
static jx_val np_reduce_axis(jx_loc loc, const char *name, np_reduce_fn f, jx_val x, int axis,
                             int keepdims, int *ax_out) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, name, 0, x);
    jx_type xt = jx_val_type(x);
    char b[NP_TBUF];
    int ax = np_norm_axis(axis, xt.rank);
    if (ax < 0)
        return trace_fail(x.t, loc, name, "axis %d out of range for %s", axis,
                          jx_type_str(&xt, b, sizeof b));
    if (ax_out) *ax_out = ax;
    jx_val r = f(loc, x, JX_INTS(ax));
    if (!keepdims || jx_val_bad(r)) return r;
    jx_ints s = np_shape(&xt);
    s.v[ax] = 1;
    return jx_reshape_at(loc, r, s);
}

/* Sum over one axis. */
jx_val jx_sum_at(jx_loc loc, jx_val x, int axis, int keepdims) {
    return np_reduce_axis(loc, "sum", jx_reduce_sum_at, x, axis, keepdims, NULL);
}

/* Maximum over one axis. */
jx_val jx_amax_at(jx_loc loc, jx_val x, int axis, int keepdims) {
    return np_reduce_axis(loc, "amax", jx_reduce_max_at, x, axis, keepdims, NULL);
}

/* Mean over one axis: the sum divided by the axis length (NaN for an empty float axis;
 * integer division for integer dtypes). */
jx_val jx_mean_at(jx_loc loc, jx_val x, int axis, int keepdims) {
    int ax = 0;
    jx_val s = np_reduce_axis(loc, "mean", jx_reduce_sum_at, x, axis, keepdims, &ax);
    if (jx_val_bad(s)) return s;
    return jx_div_at(loc, s, jx_lit_at(loc, s, (double)jx_val_type(x).shape[ax]));
}

/* Sum of every element, as a rank-0 value (x itself when already rank 0). */
jx_val jx_sum_all_at(jx_loc loc, jx_val x) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "sum_all", 0, x);
    jx_type xt = jx_val_type(x);
    if (xt.rank == 0) return x;
    jx_ints axes = JX_NOINTS;
    axes.n = xt.rank;
    for (int i = 0; i < xt.rank; i++) axes.v[i] = i;
    return jx_reduce_sum_at(loc, x, axes);
}

/* Mean of every element, as a rank-0 value. */
jx_val jx_mean_all_at(jx_loc loc, jx_val x) {
    jx_val s = jx_sum_all_at(loc, x);
    if (jx_val_bad(s)) return s;
    jx_type xt = jx_val_type(x);
    return jx_div_at(loc, s, jx_lit_at(loc, s, (double)jx_type_size(&xt)));
}

/* ---- matrix products ----------------------------------------------------------------- */

/* numpy.matmul of a and b by one dot_general; name is the helper named in errors.
 * 1-D operands get a dim inserted and removed again (contracting directly, so no reshape
 * is emitted); leading batch dims broadcast NumPy-style. When b has no batch dims (or
 * only size-1 ones that a's batch covers), b's batch is dropped and a's batch dims ride
 * along as free dims (one GEMM); otherwise both operands are broadcast to the common
 * batch shape and contracted with batch dims. */
static jx_val np_matmul(jx_loc loc, const char *name, jx_val a, jx_val b) {
    if (jx_val_bad(a)) return trace_bad_arg(loc, name, 0, a);
    if (jx_val_bad(b)) return trace_bad_arg(loc, name, 1, b);
    jx_type at = jx_val_type(a), bt = jx_val_type(b);
    char ba[NP_TBUF], bb[NP_TBUF];
    jx_type_str(&at, ba, sizeof ba);
    jx_type_str(&bt, bb, sizeof bb);
    if (at.rank == 0 || bt.rank == 0)
        return trace_fail(a.t, loc, name, "operands must have rank >= 1, got %s and %s", ba, bb);
    int ka = at.rank - 1, kb = bt.rank == 1 ? 0 : bt.rank - 2;
    if (at.shape[ka] != bt.shape[kb])
        return trace_fail(a.t, loc, name,
                          "inner dimensions of %s and %s do not match (%lld vs %lld)", ba, bb,
                          (long long)at.shape[ka], (long long)bt.shape[kb]);
    if (at.rank == 1 || bt.rank <= 2)
        return jx_dot_general_at(loc, a, b, JX_INTS(ka), JX_INTS(kb), JX_NOINTS, JX_NOINTS);
    /* both operands are matrices, and b carries batch dims */
    jx_type bat = at, bbt = bt, batch;
    bat.rank = at.rank - 2;
    bbt.rank = bt.rank - 2;
    if (elt_broadcast_shapes(2, (jx_type[]){bat, bbt}, &batch) < 0)
        return trace_fail(a.t, loc, name,
                          "batch dimensions of %s and %s cannot be broadcast together", ba, bb);
    int b_ones = bbt.rank <= bat.rank;
    for (int i = 0; i < bbt.rank; i++) b_ones = b_ones && bbt.shape[i] == 1;
    if (b_ones) {
        jx_val b2 = jx_reshape_at(loc, b, JX_INTS(bt.shape[bt.rank - 2], bt.shape[bt.rank - 1]));
        return jx_dot_general_at(loc, a, b2, JX_INTS(ka), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    }
    int nb = batch.rank;
    jx_ints sa = np_shape(&batch), sb = sa, bdims = JX_NOINTS;
    sa.n = sb.n = nb + 2;
    sa.v[nb] = at.shape[at.rank - 2];
    sa.v[nb + 1] = at.shape[at.rank - 1];
    sb.v[nb] = bt.shape[bt.rank - 2];
    sb.v[nb + 1] = bt.shape[bt.rank - 1];
    bdims.n = nb;
    for (int i = 0; i < nb; i++) bdims.v[i] = i;
    jx_val a2 = jx_broadcast_to_at(loc, a, sa), b2 = jx_broadcast_to_at(loc, b, sb);
    return jx_dot_general_at(loc, a2, b2, JX_INTS(nb + 1), JX_INTS(nb), bdims, bdims);
}

/* numpy.matmul: a[...,m,k] @ b[...,k,n] with 1-D operands and broadcast batch dims. */
jx_val jx_matmul_at(jx_loc loc, jx_val a, jx_val b) { return np_matmul(loc, "matmul", a, b); }

/* a[...,m,k] @ x[k] -> [...,m]. */
jx_val jx_matvec_at(jx_loc loc, jx_val a, jx_val x) {
    if (jx_val_bad(a)) return trace_bad_arg(loc, "matvec", 0, a);
    if (jx_val_bad(x)) return trace_bad_arg(loc, "matvec", 1, x);
    jx_type at = jx_val_type(a), xt = jx_val_type(x);
    if (at.rank < 2 || xt.rank != 1) {
        char ba[NP_TBUF], bx[NP_TBUF];
        return trace_fail(a.t, loc, "matvec", "expected a matrix and a vector, got %s and %s",
                          jx_type_str(&at, ba, sizeof ba), jx_type_str(&xt, bx, sizeof bx));
    }
    return np_matmul(loc, "matvec", a, x);
}

/* Inner product of two vectors of equal length -> rank 0. */
jx_val jx_dot_at(jx_loc loc, jx_val a, jx_val b) {
    if (jx_val_bad(a)) return trace_bad_arg(loc, "dot", 0, a);
    if (jx_val_bad(b)) return trace_bad_arg(loc, "dot", 1, b);
    jx_type at = jx_val_type(a), bt = jx_val_type(b);
    if (at.rank != 1 || bt.rank != 1) {
        char ba[NP_TBUF], bb[NP_TBUF];
        return trace_fail(a.t, loc, "dot", "expected two vectors, got %s and %s",
                          jx_type_str(&at, ba, sizeof ba), jx_type_str(&bt, bb, sizeof bb));
    }
    return np_matmul(loc, "dot", a, b);
}

/* ---- activations and normalizers ----------------------------------------------------- */

/* relu's primal: max(x, 0); user is the caller's jx_loc. */
static void np_relu_f(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_loc loc = *(const jx_loc *)user;
    (void)t;
    out[0] = jx_max_at(loc, in[0], jx_lit_at(loc, in[0], 0.0));
}

/* relu's jvp rule: (max(x, 0), x > 0 ? dx : 0), so relu'(0) = 0. */
static void np_relu_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_loc loc = *(const jx_loc *)user;
    np_relu_f(t, in, out, user);
    jx_val pos = jx_gt_at(loc, in[0], jx_lit_at(loc, in[0], 0.0));
    out[1] = jx_select_at(loc, pos, in[1], jx_zeros_like_at(loc, in[1]));
}

/* max(x, 0) with derivative 0 at 0 (jax.nn.relu's convention, not max's tie rule): a
 * custom_jvp. */
jx_val jx_relu_at(jx_loc loc, jx_val x) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "relu", 0, x);
    return jx_custom_jvp_at(loc, np_relu_f, np_relu_jvp, 1, &x, &loc);
}

/* 1 / (1 + exp(-x)), the logistic primitive. */
jx_val jx_sigmoid_at(jx_loc loc, jx_val x) { return jx_logistic_at(loc, x); }

/* x * x. */
jx_val jx_square_at(jx_loc loc, jx_val x) { return jx_mul_at(loc, x, x); }

/* m (x's type with axis removed) broadcast back to x's shape along every other axis. */
static jx_val np_unreduce(jx_loc loc, jx_val m, const jx_type *xt, int ax) {
    jx_ints dims = JX_NOINTS;
    for (int i = 0; i < xt->rank; i++)
        if (i != ax) dims.v[dims.n++] = i;
    return jx_broadcast_in_dim_at(loc, m, np_shape(xt), dims);
}

/* Checks that x is a valid floating-point operand of helper name and normalizes axis into
 * *ax: 0, or -1 with *err set to poison (the error recorded). */
static int np_float_axis(jx_loc loc, const char *name, jx_val x, int axis, int *ax,
                         jx_val *err) {
    if (jx_val_bad(x)) {
        *err = trace_bad_arg(loc, name, 0, x);
        return -1;
    }
    jx_type xt = jx_val_type(x);
    char b[NP_TBUF];
    if (xt.dtype != JX_F32 && xt.dtype != JX_F64) {
        *err = trace_fail(x.t, loc, name, "expected a floating-point operand, got %s",
                          jx_type_str(&xt, b, sizeof b));
        return -1;
    }
    *ax = np_norm_axis(axis, xt.rank);
    if (*ax < 0) {
        *err = trace_fail(x.t, loc, name, "axis %d out of range for %s", axis,
                          jx_type_str(&xt, b, sizeof b));
        return -1;
    }
    return 0;
}

/* Shared start of logsumexp, softmax and log_softmax (name is the helper in errors): checks
 * that x is floating point and normalizes axis into *ax. Sets *m to the max over the axis
 * under stop_gradient, with non-finite maxima (all -inf, or +inf) replaced by 0 so that the
 * shift never produces inf - inf, and *shifted to x - m (broadcast back). Returns 0, or -1
 * with *shifted set to poison. */
static int np_shift_by_max(jx_loc loc, const char *name, jx_val x, int axis, int *ax,
                           jx_val *m, jx_val *shifted) {
    *m = *shifted = x;
    if (np_float_axis(loc, name, x, axis, ax, shifted) < 0) return -1;
    jx_type xt = jx_val_type(x);
    jx_val mx = jx_stop_gradient_at(loc, jx_reduce_max_at(loc, x, JX_INTS(*ax)));
    jx_val inf = jx_eq_at(loc, jx_abs_at(loc, mx), jx_lit_at(loc, mx, INFINITY));
    *m = jx_select_at(loc, inf, jx_lit_at(loc, mx, 0.0), mx);
    *shifted = jx_sub_at(loc, x, np_unreduce(loc, *m, &xt, *ax));
    return jx_val_bad(*shifted) ? -1 : 0;
}

/* The caller's location and the (normalized) axis of a logsumexp's rules. */
typedef struct np_lse {
    jx_loc loc;
    int axis;
} np_lse;

/* logsumexp's primal and tangent: y = log(s) + m with s = sum(exp(x - m)) for the
 * (finite-ized) max m, and with dx given (out[1]) dy = sum(w dx) for the softmax weights
 * w = exp(x - m) / s, accurate where exp(x - y) would lose x - y's bits to the size of y;
 * an all -inf row (s = 0) gets weights 0 rather than 0/0 = NaN. */
static void np_lse_rule(const np_lse *c, const jx_val *in, jx_val *out, int tangent) {
    jx_loc loc = c->loc;
    int ax = 0;
    jx_val m, sh;
    out[0] = in[0];
    if (np_shift_by_max(loc, "logsumexp", in[0], c->axis, &ax, &m, &sh) < 0) return;
    jx_val e = jx_exp_at(loc, sh), s = jx_reduce_sum_at(loc, e, JX_INTS(ax));
    out[0] = jx_add_at(loc, jx_log_at(loc, s), m);
    if (!tangent) return;
    jx_type xt = jx_val_type(in[0]);
    jx_val safe = jx_select_at(loc, jx_eq_at(loc, s, jx_lit_at(loc, s, 0.0)),
                               jx_ones_like_at(loc, s), s);
    jx_val w = jx_div_at(loc, e, np_unreduce(loc, safe, &xt, ax));
    out[1] = jx_reduce_sum_at(loc, jx_mul_at(loc, w, in[1]), JX_INTS(ax));
}

/* logsumexp's call and jvp rule (user: np_lse). */
static void np_lse_f(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    np_lse_rule(user, in, out, 0);
}
static void np_lse_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    np_lse_rule(user, in, out, 1);
}

/* log(sum(exp(x), axis)) with the axis removed, computed as
 * log(sum(exp(x - m))) + m for the (finite-ized) max m: finite on inputs of 1e6, -inf on an
 * all -inf row (never NaN), +inf if any element is +inf. A custom_jvp: the derivative is
 * the max-shifted softmax, and 0 on an all -inf row (not NaN). */
jx_val jx_logsumexp_at(jx_loc loc, jx_val x, int axis) {
    int ax = 0;
    jx_val err;
    if (np_float_axis(loc, "logsumexp", x, axis, &ax, &err) < 0) return err;
    np_lse c = {loc, ax};
    return jx_custom_jvp_at(loc, np_lse_f, np_lse_jvp, 1, &x, &c);
}

/* exp(x - m) / sum(exp(x - m)) along axis (the max-shifted form); same shape as x. */
jx_val jx_softmax_at(jx_loc loc, jx_val x, int axis) {
    int ax = 0;
    jx_val m, sh;
    if (np_shift_by_max(loc, "softmax", x, axis, &ax, &m, &sh) < 0) return sh;
    jx_type xt = jx_val_type(x);
    jx_val e = jx_exp_at(loc, sh);
    jx_val s = jx_reduce_sum_at(loc, e, JX_INTS(ax));
    return jx_div_at(loc, e, np_unreduce(loc, s, &xt, ax));
}

/* x - logsumexp(x, axis, keepdims), computed as (x - m) - log(sum(exp(x - m))) so that
 * the large common offset m cancels exactly; same shape as x. */
jx_val jx_log_softmax_at(jx_loc loc, jx_val x, int axis) {
    int ax = 0;
    jx_val m, sh;
    if (np_shift_by_max(loc, "log_softmax", x, axis, &ax, &m, &sh) < 0) return sh;
    jx_type xt = jx_val_type(x);
    jx_val l = jx_log_at(loc, jx_reduce_sum_at(loc, jx_exp_at(loc, sh), JX_INTS(ax)));
    return jx_sub_at(loc, sh, np_unreduce(loc, l, &xt, ax));
}

/* ---- misc ---------------------------------------------------------------------------- */

/* One-hot of integer labels[...] -> dt[..., n]: eq(iota along the new last axis, labels
 * broadcast) converted to dt. Labels outside [0, n) give all-zero rows. */
jx_val jx_one_hot_at(jx_loc loc, jx_val labels, int n, jx_dtype dt) {
    if (jx_val_bad(labels)) return trace_bad_arg(loc, "one_hot", 0, labels);
    jx_type lt = jx_val_type(labels);
    char b[NP_TBUF];
    if (lt.dtype != JX_I32 && lt.dtype != JX_U32)
        return trace_fail(labels.t, loc, "one_hot", "labels must be integer (i32 or u32), got %s",
                          jx_type_str(&lt, b, sizeof b));
    if (n < 0)
        return trace_fail(labels.t, loc, "one_hot", "number of classes %d is negative", n);
    if ((unsigned)dt >= JX_NDTYPES)
        return trace_fail(labels.t, loc, "one_hot", "invalid dtype %d", (int)dt);
    if (lt.rank >= JX_MAX_RANK)
        return trace_fail(labels.t, loc, "one_hot", "%s already has the maximum rank %d",
                          jx_type_str(&lt, b, sizeof b), JX_MAX_RANK);
    jx_type ot = lt;
    ot.rank = lt.rank + 1;
    ot.shape[lt.rank] = n;
    jx_ints dims = JX_NOINTS;
    dims.n = lt.rank;
    for (int i = 0; i < lt.rank; i++) dims.v[i] = i;
    jx_val idx = jx_iota_at(loc, labels.t, ot, lt.rank);
    jx_val lb = jx_broadcast_in_dim_at(loc, labels, np_shape(&ot), dims);
    jx_val hot = jx_eq_at(loc, idx, lb);
    if (dt == JX_BOOL || jx_val_bad(hot)) return hot;
    return jx_convert_at(loc, hot, dt);
}

/* min(max(x, lo), hi) with lo and hi converted to x's dtype. */
jx_val jx_clip_at(jx_loc loc, jx_val x, double lo, double hi) {
    jx_val y = jx_max_at(loc, x, jx_lit_at(loc, x, lo));
    return jx_min_at(loc, y, jx_lit_at(loc, x, hi));
}
