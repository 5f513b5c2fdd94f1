/* Host-side PRNG keys and parameter initializers (Haiku / jax.nn.initializers).
 *
 * Keys are split on the host with the same scalar threefry the interpreter uses, in JAX's
 * counter layout. Initial values are drawn by tracing a tiny function around the traced
 * samplers of nn_random.c and running it on the interpreter, so host and traced draws are
 * the same numbers by construction. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jx/nn.h>

#include "prims/threefry.h"
#include "core/trace.h"
#include "core/util.h"

/* ---- host keys ------------------------------------------------------------------------ */

/* {0, seed}. */
jx_key jx_key_new(uint32_t seed) { return (jx_key){{0, seed}}; }

/* threefry over iota(2n) as pairs (j, n + j); key i is (out[2i], out[2i+1]) of the flat
 * output [y0[0..n), y1[0..n)]. */
int jx_key_split(jx_key key, int n, jx_key *out) {
    if (n < 0 || (n > 0 && !out)) return util_err("key_split: bad count %d or NULL output", n);
    for (int i = 0; i < n; i++) {
        uint32_t w[2];
        for (int e = 0; e < 2; e++) { /* flat output index 2i + e */
            int64_t f = 2 * (int64_t)i + e, j = f < n ? f : f - n;
            uint32_t v[2] = {(uint32_t)j, (uint32_t)(n + j)};
            rng_threefry2x32(key.k[0], key.k[1], v);
            w[e] = f < n ? v[0] : v[1];
        }
        out[i] = (jx_key){{w[0], w[1]}};
    }
    return 0;
}

/* threefry(key, (0, data)). */
jx_key jx_key_fold_in(jx_key key, uint32_t data) {
    uint32_t v[2] = {0, data};
    rng_threefry2x32(key.k[0], key.k[1], v);
    return (jx_key){{v[0], v[1]}};
}

/* The key as a new u32[2] array. */
jx_array *jx_key_array(jx_key key) { return jx_array_from(JX_U32, 1, (int64_t[]){2}, key.k); }

/* The key as a constant of t. */
jx_val jx_key_val_at(jx_loc loc, jx_trace *t, jx_key key) {
    jx_array *a = jx_key_array(key);
    if (!a) return trace_fail(t, loc, "key_val", "out of memory");
    jx_val v = jx_constant_at(loc, t, a);
    jx_array_free(a);
    return v;
}

/* ---- fans ----------------------------------------------------------------------------- */

/* jax.nn.initializers' _compute_fans with in_axis -2, out_axis -1. */
void jx_fans(jx_type type, double *fan_in, double *fan_out) {
    double fi = 1, fo = 1;
    if (type.rank == 1) {
        fi = fo = (double)type.shape[0];
    } else if (type.rank >= 2 && type.rank <= JX_MAX_RANK) {
        double rf = 1;
        for (int i = 0; i < type.rank - 2; i++) rf *= (double)type.shape[i];
        fi = (double)type.shape[type.rank - 2] * rf;
        fo = (double)type.shape[type.rank - 1] * rf;
    }
    if (fan_in) *fan_in = fi;
    if (fan_out) *fan_out = fo;
}

/* ---- initializers --------------------------------------------------------------------- */

typedef enum { NNI_UNIFORM, NNI_NORMAL, NNI_TRUNC } nni_dist;

/* Checks that type is a float type the samplers accept; -1 with jx_error() otherwise. */
static int nni_check(const char *what, jx_type type) {
    char b[200];
    if (type.rank < 0 || type.rank > JX_MAX_RANK)
        return util_err("%s: rank %d out of range [0, %d]", what, type.rank, JX_MAX_RANK);
    if (type.dtype != JX_F32 && type.dtype != JX_F64)
        return util_err("%s: type must be f32 or f64, got %s", what,
                        jx_type_str(&type, b, sizeof b));
    if (util_numel(type.rank, type.shape) < 0)
        return util_err("%s: bad shape %s", what, jx_type_str(&type, b, sizeof b));
    return 0;
}

/* Draws a new array of type: scale * sample + shift, where sample is uniform(a, b),
 * normal, or truncated_normal(a, b), from key. Traced and interpreted. NULL with
 * jx_error() on failure. */
static jx_array *nni_draw(const char *what, jx_key key, jx_type type, nni_dist dist, double a,
                          double b, double scale, double shift) {
    if (nni_check(what, type) < 0) return NULL;
    jx_trace *t = jx_trace_begin(0, NULL);
    if (!t) return NULL;
    jx_loc loc = {__FILE__, __LINE__};
    jx_val k = jx_key_val_at(loc, t, key), v;
    if (dist == NNI_UNIFORM) v = jx_random_uniform_at(loc, k, type, a, b);
    else if (dist == NNI_NORMAL) v = jx_random_normal_at(loc, k, type);
    else v = jx_random_truncated_normal_at(loc, k, type, a, b);
    if (scale != 1.0) v = jx_mul_at(loc, v, jx_lit_at(loc, v, scale));
    if (shift != 0.0) v = jx_add_at(loc, v, jx_lit_at(loc, v, shift));
    jx_fn *f = jx_trace_end(t, 1, &v);
    if (!f) {
        util_err("%s: %s", what, jx_error());
        return NULL;
    }
    jx_array *out = NULL;
    if (jx_interp(f, NULL, &out) < 0) out = NULL;
    jx_fn_free(f);
    return out;
}

/* Zeros. */
jx_array *jx_init_zeros(jx_type type) { return jx_init_constant(type, 0.0); }

/* Every element v. */
jx_array *jx_init_constant(jx_type type, double v) {
    if (nni_check("init_constant", type) < 0) return NULL;
    jx_array *a = jx_array_new_type(&type);
    if (a) jx_array_fill(a, v);
    return a;
}

/* uniform(key, lo, hi). */
jx_array *jx_init_uniform(jx_key key, jx_type type, double lo, double hi) {
    return nni_draw("init_uniform", key, type, NNI_UNIFORM, lo, hi, 1.0, 0.0);
}

/* stddev * normal(key). */
jx_array *jx_init_normal(jx_key key, jx_type type, double stddev) {
    return nni_draw("init_normal", key, type, NNI_NORMAL, 0, 0, stddev, 0.0);
}

/* stddev * truncated_normal(key, -2, 2). */
jx_array *jx_init_truncated_normal(jx_key key, jx_type type, double stddev) {
    return nni_draw("init_truncated_normal", key, type, NNI_TRUNC, -2.0, 2.0, stddev, 0.0);
}

/* Haiku's default: TruncatedNormal(1/sqrt(prod(shape[:-1]))). */
jx_array *jx_init_haiku(jx_key key, jx_type type) {
    double fan_in = 1;
    for (int i = 0; i + 1 < type.rank && i < JX_MAX_RANK; i++) fan_in *= (double)type.shape[i];
    double sd = fan_in > 0 ? 1.0 / sqrt(fan_in) : 1.0;
    return nni_draw("init_haiku", key, type, NNI_TRUNC, -2.0, 2.0, sd, 0.0);
}

/* variance_scaling: variance = scale / fan (fan per mode); truncated normal rescaled by
 * 1/0.87962566103423978 (the stddev of a [-2,2]-truncated standard normal), normal, or
 * uniform on [-sqrt(3 variance), sqrt(3 variance)]. */
jx_array *jx_init_variance_scaling(jx_key key, jx_type type, double scale, jx_fan_mode mode,
                                   jx_distribution dist) {
    double fi, fo;
    jx_fans(type, &fi, &fo);
    double fan = mode == JX_FAN_IN ? fi : mode == JX_FAN_OUT ? fo : (fi + fo) / 2;
    if ((unsigned)mode > JX_FAN_AVG || (unsigned)dist > JX_DIST_UNIFORM) {
        util_err("init_variance_scaling: bad mode %d or distribution %d", (int)mode, (int)dist);
        return NULL;
    }
    if (!(scale > 0) || !(fan > 0)) {
        util_err("init_variance_scaling: scale %g and fan %g must be positive", scale, fan);
        return NULL;
    }
    double var = scale / fan;
    if (dist == JX_DIST_TRUNCATED_NORMAL)
        return nni_draw("init_variance_scaling", key, type, NNI_TRUNC, -2.0, 2.0,
                        sqrt(var) / 0.87962566103423978, 0.0);
    if (dist == JX_DIST_NORMAL)
        return nni_draw("init_variance_scaling", key, type, NNI_NORMAL, 0, 0, sqrt(var), 0.0);
    double lim = sqrt(3.0 * var);
    return nni_draw("init_variance_scaling", key, type, NNI_UNIFORM, -1.0, 1.0, lim, 0.0);
}

/* The jax.nn.initializers presets: (scale, mode, distribution) as listed in nn.h. */
jx_array *jx_init_glorot_uniform(jx_key key, jx_type type) {
    return jx_init_variance_scaling(key, type, 1.0, JX_FAN_AVG, JX_DIST_UNIFORM);
}
jx_array *jx_init_glorot_normal(jx_key key, jx_type type) {
    return jx_init_variance_scaling(key, type, 1.0, JX_FAN_AVG, JX_DIST_TRUNCATED_NORMAL);
}
jx_array *jx_init_he_uniform(jx_key key, jx_type type) {
    return jx_init_variance_scaling(key, type, 2.0, JX_FAN_IN, JX_DIST_UNIFORM);
}
jx_array *jx_init_he_normal(jx_key key, jx_type type) {
    return jx_init_variance_scaling(key, type, 2.0, JX_FAN_IN, JX_DIST_TRUNCATED_NORMAL);
}
jx_array *jx_init_lecun_normal(jx_key key, jx_type type) {
    return jx_init_variance_scaling(key, type, 1.0, JX_FAN_IN, JX_DIST_TRUNCATED_NORMAL);
}
