/* Shared by t_random_more.c: host references of jax.random on the scalar threefry (bits,
 * randint, the sort-based permutation), a sampler of one key traced and run on the
 * interpreter, and chi-square statistics. */
#ifndef JX_TESTS_RANDOM_UTIL_H
#define JX_TESTS_RANDOM_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jx/nn.h>

#include "prims/threefry.h"

/* JAX's random bits for key k and n words (bit i), via the scalar threefry. */
static inline uint32_t ref_bit(jx_key k, int64_t n, int64_t i) {
    int64_t m = (n + 1) / 2, j = i < m ? i : i - m;
    uint32_t v[2] = {(uint32_t)j, m + j < n ? (uint32_t)(m + j) : 0u};
    rng_threefry2x32(k.k[0], k.k[1], v);
    return i < m ? v[0] : v[1];
}

/* A sampler of one key: out[0] = sampler(key) (user: the case). */
typedef jx_val (*sampler_fn)(jx_val key, const void *user);

typedef struct {
    sampler_fn f;
    const void *user;
} sampler;

static inline void f_sampler(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    const sampler *s = u;
    out[0] = s->f(in[0], s->user);
}

/* The sampler traced as a function of a u32[2] key (NULL with a printed error). */
static inline jx_fn *trace_sampler(sampler_fn f, const void *user) {
    sampler s = {f, user};
    jx_fn *fn = jx_trace(f_sampler, 1, (jx_type[]){JX_TYPE(JX_U32, 2)}, 1, &s);
    if (!fn) printf("  trace: %s\n", jx_error());
    return fn;
}

/* The sampler's value for key on the interpreter (NULL on failure). */
static inline jx_array *draw(sampler_fn f, const void *user, jx_key key) {
    jx_fn *fn = trace_sampler(f, user);
    jx_array *in = jx_key_array(key), *out = NULL;
    if (fn && jx_interp(fn, &in, &out) < 0) printf("  interp: %s\n", jx_error());
    jx_fn_free(fn);
    jx_array_free(in);
    return out;
}

/* Element i of a 32-bit integer array as its u32 bits. */
static inline uint32_t bits_at(const jx_array *a, int64_t i) {
    uint32_t v;
    memcpy(&v, (const char *)jx_array_cdata(a) + 4 * i, 4);
    return v;
}

/* Pearson's chi-square of counts[k] against expected n * p[k]. */
static inline double chi_square(const int64_t *counts, const double *p, int k, int64_t n) {
    double x2 = 0;
    for (int i = 0; i < k; i++) {
        double e = (double)n * p[i], d = (double)counts[i] - e;
        x2 += d * d / e;
    }
    return x2;
}

/* An upper bound on chi-square with df degrees of freedom that a correct sampler exceeds
 * with probability about 1e-4 (Wilson-Hilferty with z = 3.72). */
static inline double chi_bound(int df) {
    double a = 2.0 / (9.0 * df), c = 1.0 - a + 3.72 * sqrt(a);
    return df * c * c * c;
}

/* JAX's _randint for element i of n from key, as u32 bits of the result. */
static inline uint32_t ref_randint(jx_key key, int64_t n, int64_t i, int64_t lo,
                                   int64_t hi, jx_dtype dt) {
    jx_key ks[2];
    jx_key_split(key, 2, ks);
    uint32_t h = ref_bit(ks[0], n, i), l = ref_bit(ks[1], n, i);
    int64_t dmax = dt == JX_I32 ? INT32_MAX : (int64_t)UINT32_MAX;
    int over = hi > dmax;
    uint32_t span = (uint32_t)((over ? dmax : hi) - lo) + (uint32_t)over, off = l;
    if (span) {
        /* JAX's lax ops in u32: multiplier = rem(mul(rem(2^16, span), itself), span); the
         * mul wraps to 0 for span > 2^16 */
        uint32_t m = 65536u % span;
        m = (uint32_t)((uint64_t)m * m % ((uint64_t)1 << 32)) % span;
        off = (uint32_t)((uint64_t)(h % span) * m + l % span) % span;
    }
    return off + (uint32_t)lo;
}

/* A sort key and the position that breaks its ties (qsort itself is not stable). */
typedef struct {
    uint32_t key;
    uint32_t pos;
} kp_pair;

/* Orders kp_pairs by key, then position. */
static inline int cmp_kp(const void *a, const void *b) {
    const kp_pair *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* JAX's _shuffle of iota(n): rounds of key, sub = split(key); a stable sort of the
 * values by bits(sub, [n]) (qsort on (key, position) pairs). */
static inline void ref_permutation(jx_key key, int64_t n, uint32_t *out) {
    kp_pair *kp = malloc(sizeof *kp * (size_t)(n ? n : 1));
    uint32_t *tmp = malloc(sizeof *tmp * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) out[i] = (uint32_t)i;
    if (!kp || !tmp) n = 0; /* out of memory: the identity, which the tests reject */
    int rounds = (int)ceil(3.0 * log((double)(n > 1 ? n : 1)) / log(4294967295.0));
    for (int r = 0; r < rounds; r++) {
        jx_key ks[2];
        jx_key_split(key, 2, ks);
        key = ks[0];
        for (int64_t i = 0; i < n; i++) kp[i] = (kp_pair){ref_bit(ks[1], n, i), (uint32_t)i};
        qsort(kp, (size_t)n, sizeof *kp, cmp_kp);
        for (int64_t i = 0; i < n; i++) tmp[i] = out[kp[i].pos];
        memcpy(out, tmp, sizeof *tmp * (size_t)n);
    }
    free(kp);
    free(tmp);
}

#endif
