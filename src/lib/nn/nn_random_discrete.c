/* jax.random's discrete samplers on the threefry keys of nn_random.c: randint (JAX's
 * two-word multiply-add modulo), permutation (JAX's rounds of sorting by random u32 keys,
 * the sort a stable bitonic network of existing primitives), gumbel and categorical
 * (gumbel-max). All are composites of primitives, so vmap, jit and grad (of a permuted
 * float array) apply as to any other op. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <jx/nn.h>

#include "core/trace.h"
#include "lib/nn/nn_random.h"

#define NNRD_TBUF 200 /* room for a type string */

/* shape as "(a,b,...)" in buf. */
static const char *nnrd_shape_str(jx_ints shape, char *buf, size_t len) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < shape.n && i < JX_MAX_RANK && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)shape.v[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
    return buf;
}

/* ---- randint -------------------------------------------------------------------------- */

/* Integers in [minval, maxval) as jax.random.randint: with k1, k2 = split(key), hi =
 * bits(k1), lo = bits(k2) and span = maxval - minval (mod 2^32; 0 for the full 32-bit
 * range), offset = ((hi % span) * m + lo % span) % span in wrapping u32 arithmetic where
 * m = ((2^16 % span)^2 mod 2^32) % span, and the result minval + offset. m is 2^32 % span
 * for span <= 2^16 but 0 above, where (2^16)^2 wraps: JAX's offset is then lo % span (its
 * bias grows with the span). A span of 0 takes offset = lo, as XLA's x % 0 = x makes
 * JAX's formula do. */
jx_val jx_random_randint_at(jx_loc loc, jx_val key, jx_ints shape, int64_t minval,
                            int64_t maxval, jx_dtype dtype) {
    const char *op = "random_randint";
    if (nnr_check_key(loc, key, op) < 0) return nnr_poison(key);
    if (dtype != JX_I32 && dtype != JX_U32)
        return trace_fail(key.t, loc, op, "dtype must be i32 or u32, got %s",
                          (unsigned)dtype < JX_NDTYPES ? jx_dtype_name(dtype) : "an invalid dtype");
    int64_t dmin = dtype == JX_I32 ? INT32_MIN : 0;
    int64_t dmax = dtype == JX_I32 ? INT32_MAX : (int64_t)UINT32_MAX;
    if (minval >= maxval)
        return trace_fail(key.t, loc, op, "empty range [%lld, %lld): minval >= maxval",
                          (long long)minval, (long long)maxval);
    if (minval < dmin || maxval > dmax + 1)
        return trace_fail(key.t, loc, op, "range [%lld, %lld) is outside %s's [%lld, %lld]",
                          (long long)minval, (long long)maxval, jx_dtype_name(dtype),
                          (long long)dmin, (long long)dmax);
    if (nnr_numel(loc, key.t, shape, op) < 0) return trace_val(key.t, -1);
    jx_val keys = jx_random_split_at(loc, key, 2);
    jx_val lo = nnr_bits(loc, jx_random_subkey_at(loc, keys, 1), shape, op);
    int over = maxval > dmax; /* JAX's maxval_out_of_range: the span is one larger */
    uint32_t span = (uint32_t)((over ? dmax : maxval) - minval) + (over ? 1u : 0u);
    jx_val off = lo;
    if (span != 0) {
        jx_val hi = nnr_bits(loc, jx_random_subkey_at(loc, keys, 0), shape, op);
        uint32_t m16 = 65536u % span, m = (uint32_t)((uint64_t)m16 * m16) % span; /* wraps */
        jx_val s = jx_lit_at(loc, lo, span);
        off = jx_add_at(loc, jx_mul_at(loc, jx_rem_at(loc, hi, s), jx_lit_at(loc, lo, m)),
                        jx_rem_at(loc, lo, s));
        off = jx_rem_at(loc, off, s);
    }
    jx_val r = jx_add_at(loc, off, jx_lit_at(loc, off, (double)(uint32_t)minval));
    return dtype == JX_I32 ? jx_bitcast_at(loc, r, JX_I32) : r;
}

/* ---- permutation ---------------------------------------------------------------------- */

/* One compare-exchange stage of the sorting network on rows (u32[c, p]: row 0 the random
 * sort keys, row 1 the positions that make the sort stable, rows 2.. carried values):
 * element i of each block of 2j meets element i + j (mirror: element 2j-1-i) and the pair
 * is ordered by (key, position) ascending. Returns the swap mask bool[1, p/2j, 1, j]. */
static jx_val nnrd_stage_rows(jx_loc loc, jx_val *rows, int c, int64_t p, int64_t j,
                              int mirror) {
    int64_t b = p / (2 * j);
    jx_ints one = JX_INTS(1, 1, 1, 1), e1 = JX_INTS(1, b, 1, j), ec = JX_INTS(c, b, 1, j);
    jx_val r = jx_reshape_at(loc, *rows, JX_INTS(c, b, 2, j));
    jx_val lo = jx_slice_at(loc, r, JX_INTS(0, 0, 0, 0), ec, one);
    jx_val hi = jx_slice_at(loc, r, JX_INTS(0, 0, 1, 0), JX_INTS(c, b, 2, j), one);
    if (mirror) hi = jx_rev_at(loc, hi, JX_INTS(3));
    jx_ints k0 = JX_INTS(0, 0, 0, 0), k1 = JX_INTS(1, 0, 0, 0), e2 = JX_INTS(2, b, 1, j);
    jx_val klo = jx_slice_at(loc, lo, k0, e1, one), khi = jx_slice_at(loc, hi, k0, e1, one);
    jx_val plo = jx_slice_at(loc, lo, k1, e2, one), phi = jx_slice_at(loc, hi, k1, e2, one);
    jx_val swap = jx_or_at(loc, jx_gt_at(loc, klo, khi),
                           jx_and_at(loc, jx_eq_at(loc, klo, khi), jx_gt_at(loc, plo, phi)));
    jx_val sw = jx_broadcast_to_at(loc, swap, ec);
    jx_val nlo = jx_select_at(loc, sw, hi, lo), nhi = jx_select_at(loc, sw, lo, hi);
    if (mirror) nhi = jx_rev_at(loc, nhi, JX_INTS(3));
    *rows = jx_reshape_at(loc, jx_concatenate_at(loc, 2, (jx_val[2]){nlo, nhi}, 2), JX_INTS(c, p));
    return swap;
}

/* The same exchange (swap from nnrd_stage_rows) applied to a payload x [p, rest...], seen
 * as [p/2j, 2, j, rest...]. */
static jx_val nnrd_stage_payload(jx_loc loc, jx_val x, jx_val swap, int64_t p, int64_t j,
                                 int mirror) {
    jx_type xt = jx_val_type(x);
    jx_ints xs = {xt.rank + 2, {p / (2 * j), 2, j}}, st = {xs.n, {0}}, one = {xs.n, {0}};
    for (int d = 1; d < xt.rank; d++) xs.v[d + 2] = xt.shape[d];
    for (int d = 0; d < xs.n; d++) one.v[d] = 1;
    jx_ints en = xs;
    en.v[1] = 1;
    jx_val xr = jx_reshape_at(loc, x, xs);
    jx_val lo = jx_slice_at(loc, xr, st, en, one);
    st.v[1] = 1;
    jx_val hi = jx_slice_at(loc, xr, st, xs, one);
    if (mirror) hi = jx_rev_at(loc, hi, JX_INTS(2));
    jx_val sw = jx_broadcast_in_dim_at(loc, jx_reshape_at(loc, swap, JX_INTS(xs.v[0], 1, j)), en,
                                       JX_INTS(0, 1, 2));
    jx_val nlo = jx_select_at(loc, sw, hi, lo), nhi = jx_select_at(loc, sw, lo, hi);
    if (mirror) nhi = jx_rev_at(loc, nhi, JX_INTS(2));
    jx_ints back = {xt.rank, {p}};
    for (int d = 1; d < xt.rank; d++) back.v[d] = xt.shape[d];
    return jx_reshape_at(loc, jx_concatenate_at(loc, 2, (jx_val[2]){nlo, nhi}, 1), back);
}

/* v [n, ...] padded along axis 0 to p rows of value fill. */
static jx_val nnrd_pad(jx_loc loc, jx_val v, int64_t n, int64_t p, double fill) {
    if (p == n) return v;
    jx_type pt = jx_val_type(v);
    pt.shape[0] = p - n;
    return jx_concatenate_at(loc, 2, (jx_val[2]){v, jx_full_at(loc, v.t, pt, fill)}, 0);
}

/* Sorts by the u32[n] keys (n >= 2), stably (ties keep their order), as lax.sort_key_val:
 * the u32[n] vals (JX_NOVAL: none) and the payload *x [n, ...] (x NULL: none). Returns the
 * sorted vals, or without vals the sorted positions (the sorting permutation). A bitonic
 * network (all comparators ascending, each merge starting with a mirror stage) on n padded
 * to a power of two p with keys 2^32-1 and positions >= n, which sort last:
 * log2(p) (log2(p) + 1) / 2 stages. */
static jx_val nnrd_sort_by(jx_loc loc, jx_val keys, jx_val vals, jx_val *x, int64_t n) {
    int64_t p = 1;
    while (p < n) p *= 2;
    int c = vals.t ? 3 : 2;
    jx_val pk = nnrd_pad(loc, keys, n, p, (double)UINT32_MAX);
    jx_val rows[3] = {jx_reshape_at(loc, pk, JX_INTS(1, p)),
                      jx_iota_at(loc, keys.t, JX_TYPE(JX_U32, 1, p), 1), JX_NOVAL};
    if (vals.t) rows[2] = jx_reshape_at(loc, nnrd_pad(loc, vals, n, p, 0.0), JX_INTS(1, p));
    jx_val sk = jx_concatenate_at(loc, c, rows, 0);
    jx_val px = x ? nnrd_pad(loc, *x, n, p, 0.0) : JX_NOVAL;
    for (int64_t k = 2; k <= p; k *= 2) {
        for (int64_t j = k / 2; j >= 1; j /= 2) {
            jx_val swap = nnrd_stage_rows(loc, &sk, c, p, j, j == k / 2);
            if (x) px = nnrd_stage_payload(loc, px, swap, p, j, j == k / 2);
        }
    }
    if (x) {
        jx_type xt = jx_val_type(*x);
        jx_ints st = {xt.rank, {0}}, en = {xt.rank, {0}}, one = {xt.rank, {0}};
        for (int d = 0; d < xt.rank; d++) en.v[d] = xt.shape[d], one.v[d] = 1;
        *x = jx_slice_at(loc, px, st, en, one);
    }
    jx_val last = jx_slice_at(loc, sk, JX_INTS(c - 1, 0), JX_INTS(c, n), JX_INTS(1, 1));
    return jx_reshape_at(loc, last, JX_INTS(n));
}

/* vals sorted stably by keys (both u32[n]; internal, see nn_random.h). */
jx_val nnr_sort_key_val(jx_loc loc, jx_val keys, jx_val vals) {
    int64_t n = jx_val_type(keys).shape[0];
    return n < 2 ? vals : nnrd_sort_by(loc, keys, vals, NULL, n);
}

/* jax.random's _shuffle along axis 0 of n rows: ceil(3 ln(n) / ln(2^32-1)) rounds of
 * key, sub = split(key); sort_key_val(bits(sub, [n]), ...). The payload *x (NULL: none) is
 * shuffled in place; returns the shuffled u32 vals (JX_NOVAL: the shuffled iota(n)). */
static jx_val nnrd_shuffle(jx_loc loc, jx_val key, int64_t n, jx_val vals, jx_val *x,
                           const char *op) {
    int rounds = (int)ceil(3.0 * log((double)(n > 1 ? n : 1)) / log((double)UINT32_MAX));
    if (rounds == 0 && !vals.t && !x) return jx_iota_at(loc, key.t, JX_TYPE(JX_U32, n), 0);
    for (int r = 0; r < rounds; r++) {
        jx_val keys = jx_random_split_at(loc, key, 2);
        key = jx_random_subkey_at(loc, keys, 0);
        jx_val bits = nnr_bits(loc, jx_random_subkey_at(loc, keys, 1), JX_INTS(n), op);
        vals = nnrd_sort_by(loc, bits, x ? JX_NOVAL : vals, x, n);
    }
    return vals;
}

/* jax.random.permutation(key, n): a shuffled i32 iota(n). */
jx_val jx_random_permutation_at(jx_loc loc, jx_val key, int64_t n) {
    const char *op = "random_permutation";
    if (nnr_check_key(loc, key, op) < 0) return nnr_poison(key);
    if (n < 0 || n > INT32_MAX)
        return trace_fail(key.t, loc, op, "n = %lld is outside [0, 2^31-1]", (long long)n);
    return jx_bitcast_at(loc, nnrd_shuffle(loc, key, n, JX_NOVAL, NULL, op), JX_I32);
}

/* jax.random.permutation(key, x, axis): x with its slices along axis shuffled (the same
 * permutation as jx_random_permutation(key, x's size along axis)). A 32-bit integer
 * vector rides in the network's rows; anything else is the network's payload. */
jx_val jx_random_permute_at(jx_loc loc, jx_val key, jx_val x, int axis) {
    const char *op = "random_permutation";
    if (nnr_check_key(loc, key, op) < 0) return nnr_poison(key);
    if (jx_val_bad(x)) return x;
    jx_type xt = jx_val_type(x);
    char b[NNRD_TBUF];
    if (xt.rank < 1)
        return trace_fail(key.t, loc, op, "x must have rank >= 1, got %s (for a range use "
                          "jx_random_permutation(key, n))", jx_type_str(&xt, b, sizeof b));
    if (axis < -xt.rank || axis >= xt.rank)
        return trace_fail(key.t, loc, op, "axis %d out of range for x %s", axis,
                          jx_type_str(&xt, b, sizeof b));
    if (axis < 0) axis += xt.rank;
    int64_t n = xt.shape[axis];
    if (n > INT32_MAX || nnr_numel(loc, key.t, JX_INTS(n), op) < 0)
        return trace_fail(key.t, loc, op, "axis %d of x %s is too long", axis,
                          jx_type_str(&xt, b, sizeof b));
    if (xt.rank == 1 && (xt.dtype == JX_I32 || xt.dtype == JX_U32)) {
        jx_val v = xt.dtype == JX_I32 ? jx_bitcast_at(loc, x, JX_U32) : x;
        v = nnrd_shuffle(loc, key, n, v, NULL, op);
        return xt.dtype == JX_I32 ? jx_bitcast_at(loc, v, JX_I32) : v;
    }
    jx_ints perm = {xt.rank, {0}};
    for (int d = 0; d < xt.rank; d++) perm.v[d] = d == 0 ? axis : d <= axis ? d - 1 : d;
    if (axis) x = jx_transpose_at(loc, x, perm);
    nnrd_shuffle(loc, key, n, JX_NOVAL, &x, op);
    if (!axis) return x;
    jx_ints inv = {xt.rank, {0}};
    for (int d = 0; d < xt.rank; d++) inv.v[perm.v[d]] = d;
    return jx_transpose_at(loc, x, inv);
}

/* ---- gumbel and categorical ----------------------------------------------------------- */

/* 0 if type is a float type of valid rank (and no more than 2^32-1 elements); otherwise
 * records an error for op. */
static int nnrd_check_ftype(jx_loc loc, jx_trace *t, jx_type type, const char *op) {
    char b[NNRD_TBUF];
    if (type.rank < 0 || type.rank > JX_MAX_RANK) {
        trace_fail(t, loc, op, "rank %d out of range [0, %d]", type.rank, JX_MAX_RANK);
        return -1;
    }
    if (type.dtype != JX_F32 && type.dtype != JX_F64) {
        trace_fail(t, loc, op, "type must be f32 or f64, got %s", jx_type_str(&type, b, sizeof b));
        return -1;
    }
    jx_ints s = {type.rank, {0}};
    for (int i = 0; i < type.rank; i++) s.v[i] = type.shape[i];
    return nnr_numel(loc, t, s, op) < 0 ? -1 : 0;
}

/* -log(-log(uniform(key, tiny, 1))) for a checked key and type (JAX's "low" mode). */
static jx_val nnrd_gumbel(jx_loc loc, jx_val key, jx_type type, const char *op) {
    double tiny = type.dtype == JX_F32 ? (double)FLT_MIN : DBL_MIN;
    jx_val lo = jx_scalar_at(loc, key.t, type.dtype, tiny);
    jx_val u = nnr_uniform(loc, key, type, lo, jx_scalar_at(loc, key.t, type.dtype, 1.0), op);
    return jx_neg_at(loc, jx_log_at(loc, jx_neg_at(loc, jx_log_at(loc, u))));
}

/* Standard Gumbel floats (jax.random.gumbel, mode "low"). */
jx_val jx_random_gumbel_at(jx_loc loc, jx_val key, jx_type type) {
    if (nnr_check_key(loc, key, "random_gumbel") < 0) return nnr_poison(key);
    if (nnrd_check_ftype(loc, key.t, type, "random_gumbel") < 0) return trace_val(key.t, -1);
    return nnrd_gumbel(loc, key, type, "random_gumbel");
}

/* Checks logits (float, rank >= 1, a nonempty axis in range) and the sample shape (NULL:
 * the batch shape; else the batch shape must broadcast to its trailing dims). Returns the
 * axis made nonnegative, or -1 after recording an error. */
static int nnrd_check_categorical(jx_loc loc, jx_val key, jx_val logits, int axis,
                                  const jx_ints *shape) {
    const char *op = "random_categorical";
    if (nnr_check_key(loc, key, op) < 0 || jx_val_bad(logits)) return -1;
    jx_type lt = jx_val_type(logits);
    char b[NNRD_TBUF], s[NNRD_TBUF];
    jx_type_str(&lt, b, sizeof b);
    if ((lt.dtype != JX_F32 && lt.dtype != JX_F64) || lt.rank < 1) {
        trace_fail(key.t, loc, op, "logits must be f32 or f64 of rank >= 1, got %s", b);
        return -1;
    }
    if (axis < -lt.rank || axis >= lt.rank) {
        trace_fail(key.t, loc, op, "axis %d out of range for logits %s", axis, b);
        return -1;
    }
    if (axis < 0) axis += lt.rank;
    if (lt.shape[axis] == 0) {
        trace_fail(key.t, loc, op, "axis %d of logits %s has no categories", axis, b);
        return -1;
    }
    if (!shape) return axis;
    int nb = lt.rank - 1, bad = shape->n < nb || shape->n > JX_MAX_RANK - 1;
    for (int i = 0, d = 0; !bad && d < lt.rank; d++) {
        if (d == axis) continue;
        int64_t want = shape->v[shape->n - nb + i++];
        bad = lt.shape[d] != want && lt.shape[d] != 1;
    }
    for (int i = 0; !bad && i < shape->n; i++) bad = shape->v[i] < 0;
    if (bad) {
        trace_fail(key.t, loc, op, "shape %s does not take logits %s's batch dims (all but "
                   "axis %d) as its trailing dims", nnrd_shape_str(*shape, s, sizeof s), b, axis);
        return -1;
    }
    return axis;
}

/* argmax(gumbel(key, prefix + batch dims with the axis put back) + logits, axis) as
 * jax.random.categorical; shape NULL: the batch shape. */
static jx_val nnrd_categorical(jx_loc loc, jx_val key, jx_val logits, int axis,
                               const jx_ints *shape) {
    axis = nnrd_check_categorical(loc, key, logits, axis, shape);
    if (axis < 0) return jx_val_bad(key) ? key : jx_val_bad(logits) ? logits : trace_val(key.t, -1);
    jx_type lt = jx_val_type(logits), gt = {lt.dtype, 0, {0}};
    int npre = shape ? shape->n - (lt.rank - 1) : 0;
    for (int i = 0; i < npre; i++) gt.shape[gt.rank++] = shape->v[i];
    for (int d = 0, i = npre; d < lt.rank; d++)
        gt.shape[gt.rank++] = d == axis ? lt.shape[d] : shape ? shape->v[i++] : lt.shape[d];
    if (nnrd_check_ftype(loc, key.t, gt, "random_categorical") < 0) return trace_val(key.t, -1);
    jx_ints gs = {gt.rank, {0}};
    for (int i = 0; i < gt.rank; i++) gs.v[i] = gt.shape[i];
    jx_val g = nnrd_gumbel(loc, key, gt, "random_categorical");
    jx_val z = jx_add_at(loc, g, jx_broadcast_to_at(loc, logits, gs));
    return jx_argmax_at(loc, z, npre + axis, JX_I32);
}

/* Category indices (i32) drawn from softmax(logits) along axis, one per batch element. */
jx_val jx_random_categorical_at(jx_loc loc, jx_val key, jx_val logits, int axis) {
    return nnrd_categorical(loc, key, logits, axis, NULL);
}

/* The same with a sample shape: leading dims drawn independently, then logits' batch dims. */
jx_val jx_random_categorical_shape_at(jx_loc loc, jx_val key, jx_val logits, int axis,
                                      jx_ints shape) {
    return nnrd_categorical(loc, key, logits, axis, &shape);
}
