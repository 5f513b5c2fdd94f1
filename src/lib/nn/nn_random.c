/* jax.random on the threefry2x32 primitive, and the special function it needs (erf_inv as
 * a composite of primitives; erf is a primitive, src/prims/elt_math.c).
 *
 * Counter layout (JAX with jax_threefry_partitionable off): n random words come from
 * threefry over the counters iota(n) (padded with one 0 when n is odd) split into two
 * halves, word pairs (c[j], c[m+j]); the outputs are concatenated back in that order. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <jx/nn.h>

#include "core/trace.h"
#include "lib/nn/nn_random.h"

#define NNR_TBUF 200 /* room for a type string */
#define NNR_SQRT2 1.41421356237309504880
#define NNR_SQRTPI 1.77245385090551602730

/* ---- special functions ---------------------------------------------------------------- */

/* Horner: c[0] z^(n-1) + ... + c[n-1], coefficients as scalars of z's dtype. */
static jx_val nnr_poly(jx_loc loc, jx_val z, const double *c, int n) {
    jx_val p = jx_lit_at(loc, z, c[0]);
    for (int i = 1; i < n; i++) p = jx_add_at(loc, jx_mul_at(loc, p, z), jx_lit_at(loc, z, c[i]));
    return p;
}

/* A poison value for a failed check on v (v itself when it already is poison). */
jx_val nnr_poison(jx_val v) { return jx_val_bad(v) ? v : trace_val(v.t, -1); }

/* 0 if x is a float value; otherwise records an error for op (poison passes silently). */
static int nnr_check_float(jx_loc loc, jx_val x, const char *op) {
    if (jx_val_bad(x)) return -1;
    jx_type xt = jx_val_type(x);
    if (xt.dtype == JX_F32 || xt.dtype == JX_F64) return 0;
    char b[NNR_TBUF];
    trace_fail(x.t, loc, op, "expected a floating-point operand, got %s",
               jx_type_str(&xt, b, sizeof b));
    return -1;
}

/* The f64 series for |xs| <= 3: erf(xs) = 2/sqrt(pi) exp(-xs^2) sum_n xs (2xs^2)^n /
 * (2n+1)!! (46 terms, all positive, error < 1e-15). */
static jx_val nnr_erf_series(jx_loc loc, jx_val xs) {
    enum { N = 46 };
    double c[N];
    double dfact = 1.0; /* (2n+1)!! */
    for (int n = 0; n < N; n++) {
        if (n > 0) dfact *= 2.0 * n + 1.0;
        c[N - 1 - n] = 1.0 / dfact; /* highest power first, for nnr_poly */
    }
    jx_val xs2 = jx_mul_at(loc, xs, xs);
    jx_val p = nnr_poly(loc, jx_mul_at(loc, xs2, jx_lit_at(loc, xs, 2.0)), c, N);
    jx_val r = jx_mul_at(loc, jx_mul_at(loc, jx_exp_at(loc, jx_neg_at(loc, xs2)), xs), p);
    return jx_mul_at(loc, r, jx_lit_at(loc, xs, 2.0 / NNR_SQRTPI));
}

/* The Laplace continued fraction K(a) = a + (1/2)/(a + 1/(a + (3/2)/(a + ...))) (24
 * levels) for a >= 3, so that erfc(a) = exp(-a^2) / (sqrt(pi) K(a)) (error < 1e-16). */
static jx_val nnr_erfc_cf(jx_loc loc, jx_val a) {
    jx_val k = a;
    for (int i = 24; i >= 1; i--) k = jx_add_at(loc, a, jx_div_at(loc, jx_lit_at(loc, a, i / 2.0), k));
    return k;
}

/* Giles' single-precision erf_inv (as XLA's ErfInv32): w = -log1p(-x^2); a degree-8
 * polynomial in w - 2.5 (w < 5) or sqrt(w) - 3 (else), times x. The sqrt sees max(w, 5)
 * so the unused branch has a finite derivative at x = 0. */
static jx_val nnr_erf_inv_giles(jx_loc loc, jx_val x) {
    static const double lt5[9] = {2.81022636e-08,  3.43273939e-07, -3.5233877e-06,
                                  -4.39150654e-06, 0.00021858087,  -0.00125372503,
                                  -0.00417768164,  0.246640727,    1.50140941};
    static const double ge5[9] = {-0.000200214257, 0.000100950558, 0.00134934322,
                                  -0.00367342844,  0.00573950773,  -0.0076224613,
                                  0.00943887047,   1.00167406,     2.83297682};
    jx_val w = jx_neg_at(loc, jx_log1p_at(loc, jx_neg_at(loc, jx_mul_at(loc, x, x))));
    jx_val lt = jx_lt_at(loc, w, jx_lit_at(loc, x, 5.0));
    jx_val wt = jx_sqrt_at(loc, jx_max_at(loc, w, jx_lit_at(loc, x, 5.0)));
    jx_val z = jx_select_at(loc, lt, jx_sub_at(loc, w, jx_lit_at(loc, x, 2.5)),
                            jx_sub_at(loc, wt, jx_lit_at(loc, x, 3.0)));
    jx_val p = jx_select_at(loc, lt, jx_lit_at(loc, x, lt5[0]), jx_lit_at(loc, x, ge5[0]));
    for (int i = 1; i < 9; i++) {
        jx_val c = jx_select_at(loc, lt, jx_lit_at(loc, x, lt5[i]), jx_lit_at(loc, x, ge5[i]));
        p = jx_add_at(loc, c, jx_mul_at(loc, p, z));
    }
    return jx_mul_at(loc, p, x);
}

/* Three Newton steps refining y ~ erf_inv(x) in f64. Where |y| < 3: on erf(y) - x with
 * the series (y clamped, so the unselected branch stays finite); where |y| >= 3: on
 * log erfc(|y|) - log(1 - |x|), which is nearly linear in the tail and keeps full relative
 * precision in 1 - |x| (exact in f64): a <- a + g / (2 K(a)), g = -a^2 - log(sqrt(pi)
 * K(a)) - log(1 - |x|), with the sign of x. */
static jx_val nnr_erf_inv_refine(jx_loc loc, jx_val x, jx_val y) {
    jx_val three = jx_lit_at(loc, x, 3.0);
    jx_val lq = jx_log_at(loc, jx_sub_at(loc, jx_lit_at(loc, x, 1.0), jx_abs_at(loc, x)));
    jx_val neg = jx_lt_at(loc, x, jx_lit_at(loc, x, 0.0));
    for (int i = 0; i < 3; i++) {
        jx_val ys = jx_clip_at(loc, y, -3.0, 3.0);
        jx_val d = jx_sub_at(loc, nnr_erf_series(loc, ys), x);
        jx_val s = jx_mul_at(loc, jx_exp_at(loc, jx_mul_at(loc, ys, ys)),
                             jx_lit_at(loc, x, NNR_SQRTPI / 2));
        jx_val yc = jx_sub_at(loc, ys, jx_mul_at(loc, d, s));
        jx_val ay = jx_abs_at(loc, y), a = jx_max_at(loc, ay, three);
        jx_val k = nnr_erfc_cf(loc, a);
        jx_val g = jx_sub_at(loc, jx_neg_at(loc, jx_mul_at(loc, a, a)),
                             jx_add_at(loc, jx_log_at(loc, jx_mul_at(loc, k, jx_lit_at(loc, x, NNR_SQRTPI))), lq));
        jx_val yt = jx_add_at(loc, a, jx_div_at(loc, g, jx_mul_at(loc, k, jx_lit_at(loc, x, 2.0))));
        yt = jx_select_at(loc, neg, jx_neg_at(loc, yt), yt);
        y = jx_select_at(loc, jx_lt_at(loc, ay, three), yc, yt);
    }
    return y;
}

/* erf_inv of a float value (see nn.h). */
jx_val jx_erf_inv_at(jx_loc loc, jx_val x) {
    if (nnr_check_float(loc, x, "erf_inv") < 0) return nnr_poison(x);
    jx_val y = nnr_erf_inv_giles(loc, x);
    if (jx_val_type(x).dtype == JX_F64) y = nnr_erf_inv_refine(loc, x, y);
    jx_val one = jx_lit_at(loc, x, 1.0);
    y = jx_select_at(loc, jx_eq_at(loc, x, jx_neg_at(loc, one)), jx_lit_at(loc, x, -INFINITY), y);
    return jx_select_at(loc, jx_eq_at(loc, x, one), jx_lit_at(loc, x, INFINITY), y);
}

/* ---- keys ----------------------------------------------------------------------------- */

/* 0 if key is a u32[2] value; otherwise records an error for op. */
int nnr_check_key(jx_loc loc, jx_val key, const char *op) {
    if (jx_val_bad(key)) return -1;
    jx_type kt = jx_val_type(key);
    if (kt.dtype == JX_U32 && kt.rank == 1 && kt.shape[0] == 2) return 0;
    char b[NNR_TBUF];
    trace_fail(key.t, loc, op, "key must be u32[2], got %s", jx_type_str(&kt, b, sizeof b));
    return -1;
}

/* The key [0, seed] as a constant. */
jx_val jx_random_key_at(jx_loc loc, jx_trace *t, uint32_t seed) {
    uint32_t k[2] = {0, seed};
    jx_array *a = jx_array_from(JX_U32, 1, (int64_t[]){2}, k);
    jx_val v = jx_constant_at(loc, t, a);
    jx_array_free(a);
    return v;
}

/* threefry over the counters c (u32[2m], already padded) as pairs (c[j], c[m+j]); returns
 * the 2m outputs in the same flat order. */
static jx_val nnr_threefry_flat(jx_loc loc, jx_val key, jx_val c, int64_t m) {
    jx_val y = jx_threefry2x32_at(loc, key, jx_reshape_at(loc, c, JX_INTS(2, m)));
    return jx_reshape_at(loc, y, JX_INTS(2 * m));
}

/* n keys [n,2] from threefry(key, iota(2n)). */
jx_val jx_random_split_at(jx_loc loc, jx_val key, int n) {
    if (nnr_check_key(loc, key, "random_split") < 0) return nnr_poison(key);
    if (n < 0) return trace_fail(key.t, loc, "random_split", "number of keys %d is negative", n);
    jx_val c = jx_iota_at(loc, key.t, JX_TYPE(JX_U32, 2 * (int64_t)n), 0);
    return jx_reshape_at(loc, nnr_threefry_flat(loc, key, c, n), JX_INTS(n, 2));
}

/* keys[i] as u32[2]. */
jx_val jx_random_subkey_at(jx_loc loc, jx_val keys, int i) {
    if (jx_val_bad(keys)) return keys;
    jx_type kt = jx_val_type(keys);
    char b[NNR_TBUF];
    if (kt.dtype != JX_U32 || kt.rank != 2 || kt.shape[1] != 2)
        return trace_fail(keys.t, loc, "random_subkey", "keys must be u32[n,2], got %s",
                          jx_type_str(&kt, b, sizeof b));
    if (i < 0 || i >= kt.shape[0])
        return trace_fail(keys.t, loc, "random_subkey", "index %d out of range for %s", i,
                          jx_type_str(&kt, b, sizeof b));
    jx_val r = jx_slice_at(loc, keys, JX_INTS(i, 0), JX_INTS(i + 1, 2), JX_INTS(1, 1));
    return jx_reshape_at(loc, r, JX_INTS(2));
}

/* threefry(key, [0, data]). */
jx_val jx_random_fold_in_at(jx_loc loc, jx_val key, jx_val data) {
    if (nnr_check_key(loc, key, "random_fold_in") < 0) return nnr_poison(key);
    if (jx_val_bad(data)) return data;
    jx_type dt = jx_val_type(data);
    char b[NNR_TBUF];
    if (dt.rank != 0 || (dt.dtype != JX_U32 && dt.dtype != JX_I32))
        return trace_fail(key.t, loc, "random_fold_in", "data must be a u32 or i32 scalar, got %s",
                          jx_type_str(&dt, b, sizeof b));
    if (dt.dtype == JX_I32) data = jx_bitcast_at(loc, data, JX_U32);
    jx_val c[2] = {jx_full_at(loc, key.t, JX_TYPE(JX_U32, 1), 0.0),
                   jx_reshape_at(loc, data, JX_INTS(1))};
    return jx_threefry2x32_at(loc, key, jx_concatenate_at(loc, 2, c, 0));
}

/* Number of elements of shape, or -1 (with an error for op) if the shape is bad or has
 * more elements than u32 counters can number. */
int64_t nnr_numel(jx_loc loc, jx_trace *t, jx_ints shape, const char *op) {
    if (shape.n < 0 || shape.n > JX_MAX_RANK) {
        trace_fail(t, loc, op, "rank %d out of range [0, %d]", shape.n, JX_MAX_RANK);
        return -1;
    }
    int64_t size = 1;
    for (int i = 0; i < shape.n; i++) {
        if (shape.v[i] < 0) {
            trace_fail(t, loc, op, "dimension %d of the shape is negative (%lld)", i,
                       (long long)shape.v[i]);
            return -1;
        }
        if (shape.v[i] && size > (int64_t)UINT32_MAX / shape.v[i]) {
            trace_fail(t, loc, op, "shape has more than 2^32-1 elements");
            return -1;
        }
        size *= shape.v[i];
    }
    return size;
}

/* Random bits without the key check; op names errors. */
jx_val nnr_bits(jx_loc loc, jx_val key, jx_ints shape, const char *op) {
    int64_t size = nnr_numel(loc, key.t, shape, op);
    if (size < 0) return trace_val(key.t, -1);
    jx_type ty = {JX_U32, shape.n, {0}};
    for (int i = 0; i < shape.n; i++) ty.shape[i] = shape.v[i];
    if (size == 0) return jx_full_at(loc, key.t, ty, 0.0);
    int64_t m = (size + 1) / 2;
    jx_val c = jx_iota_at(loc, key.t, JX_TYPE(JX_U32, size), 0);
    if (size % 2) {
        jx_val parts[2] = {c, jx_full_at(loc, key.t, JX_TYPE(JX_U32, 1), 0.0)};
        c = jx_concatenate_at(loc, 2, parts, 0);
    }
    jx_val y = nnr_threefry_flat(loc, key, c, m);
    if (size % 2) y = jx_slice_at(loc, y, JX_INTS(0), JX_INTS(size), JX_INTS(1));
    return jx_reshape_at(loc, y, shape);
}

/* Random u32 bits of a shape. */
jx_val jx_random_bits_at(jx_loc loc, jx_val key, jx_ints shape) {
    if (nnr_check_key(loc, key, "random_bits") < 0) return nnr_poison(key);
    return nnr_bits(loc, key, shape, "random_bits");
}

/* ---- distributions -------------------------------------------------------------------- */

/* 0 if type is a float type of valid rank; otherwise records an error for op. */
static int nnr_check_ftype(jx_loc loc, jx_trace *t, jx_type type, const char *op) {
    char b[NNR_TBUF];
    if (type.rank < 0 || type.rank > JX_MAX_RANK) {
        trace_fail(t, loc, op, "rank %d out of range [0, %d]", type.rank, JX_MAX_RANK);
        return -1;
    }
    if (type.dtype == JX_F32 || type.dtype == JX_F64) return 0;
    trace_fail(t, loc, op, "type must be f32 or f64, got %s", jx_type_str(&type, b, sizeof b));
    return -1;
}

/* jax.random.uniform with traced scalar bounds lo, hi of type's dtype: floats in [0,1)
 * from the mantissa bits (f32: bits >> 9 under the exponent of 1.0, minus 1; f64: 52
 * bits from two words, high word first), then max(lo, f * (hi - lo) + lo). */
jx_val nnr_uniform(jx_loc loc, jx_val key, jx_type type, jx_val lo, jx_val hi,
                          const char *op) {
    jx_ints shape = {type.rank, {0}};
    for (int i = 0; i < type.rank; i++) shape.v[i] = type.shape[i];
    jx_val f;
    if (type.dtype == JX_F32) {
        jx_val bits = nnr_bits(loc, key, shape, op);
        jx_val one = jx_lit_at(loc, bits, 0x3F800000u);
        jx_val fb = jx_or_at(loc, jx_shift_right_at(loc, bits, jx_lit_at(loc, bits, 9)), one);
        f = jx_sub_at(loc, jx_bitcast_at(loc, fb, JX_F32), jx_lit_at(loc, lo, 1.0));
    } else {
        int64_t size = nnr_numel(loc, key.t, shape, op);
        if (size < 0) return trace_val(key.t, -1);
        if (size > (int64_t)UINT32_MAX / 2) return trace_fail(key.t, loc, op, "too many elements");
        jx_val bits = nnr_bits(loc, key, JX_INTS(2 * size), op);
        jx_val w0 = jx_slice_at(loc, bits, JX_INTS(0), JX_INTS(size), JX_INTS(1));
        jx_val w1 = jx_slice_at(loc, bits, JX_INTS(size), JX_INTS(2 * size), JX_INTS(1));
        w1 = jx_shift_right_at(loc, w1, jx_lit_at(loc, w1, 12));
        jx_val h = jx_mul_at(loc, jx_convert_at(loc, w0, JX_F64), jx_lit_at(loc, lo, 0x1p-32));
        jx_val l = jx_mul_at(loc, jx_convert_at(loc, w1, JX_F64), jx_lit_at(loc, lo, 0x1p-52));
        f = jx_reshape_at(loc, jx_add_at(loc, h, l), shape);
    }
    jx_val r = jx_add_at(loc, jx_mul_at(loc, f, jx_sub_at(loc, hi, lo)), lo);
    return jx_max_at(loc, lo, r);
}

/* Uniform floats in [lo, hi). */
jx_val jx_random_uniform_at(jx_loc loc, jx_val key, jx_type type, double lo, double hi) {
    if (nnr_check_key(loc, key, "random_uniform") < 0) return nnr_poison(key);
    if (nnr_check_ftype(loc, key.t, type, "random_uniform") < 0) return trace_val(key.t, -1);
    jx_val l = jx_scalar_at(loc, key.t, type.dtype, lo), h = jx_scalar_at(loc, key.t, type.dtype, hi);
    return nnr_uniform(loc, key, type, l, h, "random_uniform");
}

/* Standard normals: sqrt(2) erf_inv(uniform(nextafter(-1, 0), 1)). */
jx_val jx_random_normal_at(jx_loc loc, jx_val key, jx_type type) {
    if (nnr_check_key(loc, key, "random_normal") < 0) return nnr_poison(key);
    if (nnr_check_ftype(loc, key.t, type, "random_normal") < 0) return trace_val(key.t, -1);
    double lo = type.dtype == JX_F32 ? (double)nextafterf(-1.0f, 0.0f) : nextafter(-1.0, 0.0);
    jx_val l = jx_scalar_at(loc, key.t, type.dtype, lo), h = jx_scalar_at(loc, key.t, type.dtype, 1.0);
    jx_val u = nnr_uniform(loc, key, type, l, h, "random_normal");
    return jx_mul_at(loc, jx_lit_at(loc, u, NNR_SQRT2), jx_erf_inv_at(loc, u));
}

/* Truncated normals: u uniform in [erf(lo/sqrt2), erf(hi/sqrt2)), sqrt(2) erf_inv(u),
 * clamped to the open interval (lo, hi) in the dtype. */
jx_val jx_random_truncated_normal_at(jx_loc loc, jx_val key, jx_type type, double lo,
                                     double hi) {
    const char *op = "random_truncated_normal";
    if (nnr_check_key(loc, key, op) < 0) return nnr_poison(key);
    if (nnr_check_ftype(loc, key.t, type, op) < 0) return trace_val(key.t, -1);
    if (!(lo < hi)) return trace_fail(key.t, loc, op, "bounds (%g, %g) are not increasing", lo, hi);
    jx_val s2 = jx_scalar_at(loc, key.t, type.dtype, NNR_SQRT2);
    jx_val a = jx_erf_at(loc, jx_div_at(loc, jx_scalar_at(loc, key.t, type.dtype, lo), s2));
    jx_val b = jx_erf_at(loc, jx_div_at(loc, jx_scalar_at(loc, key.t, type.dtype, hi), s2));
    jx_val u = nnr_uniform(loc, key, type, a, b, op);
    jx_val r = jx_mul_at(loc, s2, jx_erf_inv_at(loc, u));
    double l1, h1;
    if (type.dtype == JX_F32) {
        l1 = nextafterf((float)lo, INFINITY);
        h1 = nextafterf((float)hi, -INFINITY);
    } else {
        l1 = nextafter(lo, INFINITY);
        h1 = nextafter(hi, -INFINITY);
    }
    return jx_clip_at(loc, r, l1, h1);
}

/* uniform f32 < p. */
jx_val jx_random_bernoulli_at(jx_loc loc, jx_val key, double p, jx_ints shape) {
    if (nnr_check_key(loc, key, "random_bernoulli") < 0) return nnr_poison(key);
    if (shape.n < 0 || shape.n > JX_MAX_RANK)
        return trace_fail(key.t, loc, "random_bernoulli", "rank %d out of range [0, %d]", shape.n,
                          JX_MAX_RANK);
    jx_type ty = {JX_F32, shape.n, {0}};
    for (int i = 0; i < shape.n; i++) ty.shape[i] = shape.v[i];
    jx_val l = jx_scalar_at(loc, key.t, JX_F32, 0.0), h = jx_scalar_at(loc, key.t, JX_F32, 1.0);
    jx_val u = nnr_uniform(loc, key, ty, l, h, "random_bernoulli");
    return jx_lt_at(loc, u, jx_lit_at(loc, u, p));
}
