/* Tests of jax.random's discrete samplers (jx/nn.h): randint against JAX's own known values
 * and a host transcription of its formula, permutation against a host stable sort by the
 * same threefry keys (JAX's _shuffle), gumbel and categorical statistics, chi-square checks
 * on fixed seeds, jit == interpreter bit for bit, vmap over keys == a loop, grad through a
 * permuted array, and the error messages. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jx/nn.h>

#include "check.h"
#include "jitcheck.h"
#include "lib/nn/nn_random.h"
#include "txcheck.h"

#include "random_util.h"

/* ---- randint ------------------------------------------------------------------------ */

typedef struct {
    jx_ints shape;
    int64_t lo, hi;
    jx_dtype dt;
} randint_case;

static jx_val s_randint(jx_val key, const void *u) {
    const randint_case *c = u;
    return jx_random_randint(key, c->shape, c->lo, c->hi, c->dt);
}

TEST(randint_jax_known_values) {
    /* jax tests/random_test.py testPRNGValues: randint(PRNGKey(0), (3, 3), 0, 8, int32) */
    randint_case c = {JX_INTS(3, 3), 0, 8, JX_I32};
    static const double want[9] = {2, 1, 3, 6, 1, 5, 6, 3, 4};
    jx_array *a = draw(s_randint, &c, jx_key_new(0));
    CHECK(a && jx_array_dtype(a) == JX_I32 && jx_array_rank(a) == 2);
    for (int i = 0; a && i < 9; i++) CHECK(jx_array_get(a, i) == want[i]);
    jx_array_free(a);
    /* its RandomValuesCase("randint", "threefry2x32", (5,), int32, 0, 10): key
     * PRNGKey(adler32("randintthreefry2x32")) */
    c = (randint_case){JX_INTS(5), 0, 10, JX_I32};
    static const double want5[5] = {0, 5, 7, 7, 5};
    a = draw(s_randint, &c, jx_key_new(1319372649u));
    for (int i = 0; a && i < 5; i++) CHECK(jx_array_get(a, i) == want5[i]);
    CHECK(a != NULL);
    jx_array_free(a);
}

TEST(randint_matches_jax_formula) {
    /* spans: 1, a power of 2, odd, > 2^16 (the multiply wraps), the whole u32 / i32 range
     * (span 0 mod 2^32), maxval one past the dtype's max (JAX's out-of-range flag) */
    const randint_case cs[] = {
        {JX_INTS(7), 5, 6, JX_I32},          {JX_INTS(2, 3), -8, 8, JX_I32},
        {JX_INTS(9), -1000, 7, JX_I32},      {JX_INTS(33), 0, 3000000001LL, JX_U32},
        {JX_INTS(6), 0, 4294967296LL, JX_U32}, {JX_INTS(5), INT32_MIN, 2147483648LL, JX_I32},
        {JX_INTS(8), 17, 2147483648LL, JX_I32}, {JX_INTS(4), 4294967290LL, 4294967296LL, JX_U32},
        {JX_NOINTS, -3, 4, JX_I32},
    };
    jx_key key = jx_key_fold_in(jx_key_new(9), 4);
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        jx_array *a = draw(s_randint, &cs[k], key);
        CHECK(a && jx_array_dtype(a) == cs[k].dt && jx_array_rank(a) == cs[k].shape.n);
        int64_t n = a ? jx_array_size(a) : 0;
        for (int64_t i = 0; i < n; i++) {
            CHECK(bits_at(a, i) == ref_randint(key, n, i, cs[k].lo, cs[k].hi, cs[k].dt));
            double v = jx_array_get(a, i);
            CHECK(v >= (double)cs[k].lo && v < (double)cs[k].hi);
        }
        jx_array_free(a);
    }
}

TEST(randint_chi_square) {
    /* 10 values, 200000 draws: every bin near 20000 */
    enum { N = 200000, K = 10 };
    randint_case c = {JX_INTS(N), -3, 7, JX_I32};
    jx_array *a = draw(s_randint, &c, jx_key_new(2024));
    int64_t counts[K] = {0}, outside = 0;
    for (int64_t i = 0; a && i < N; i++) {
        int v = (int)jx_array_get(a, i);
        if (v < -3 || v >= 7) outside++;
        else counts[v + 3]++;
    }
    double p[K];
    for (int i = 0; i < K; i++) p[i] = 1.0 / K;
    CHECK(a != NULL);
    CHECK(outside == 0);
    double x2 = chi_square(counts, p, K, N);
    CHECK(x2 < chi_bound(K - 1));
    /* a sampler stuck on one value, or off by one, would be far outside */
    CHECK(chi_bound(K - 1) < 40);
    jx_array_free(a);
}

/* ---- permutation -------------------------------------------------------------------- */

static jx_val s_perm(jx_val key, const void *u) {
    return jx_random_permutation(key, *(const int64_t *)u);
}

TEST(permutation_matches_jax_shuffle) {
    /* 1625 is the last size with one round, 1626 the first with two */
    static const int64_t ns[] = {0, 1, 2, 3, 7, 64, 100, 1625, 1626};
    jx_key key = jx_key_new(42);
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int64_t n = ns[k];
        jx_array *a = draw(s_perm, &n, key);
        CHECK(a && jx_array_dtype(a) == JX_I32 && jx_array_rank(a) == 1 && jx_array_size(a) == n);
        uint32_t *want = malloc(sizeof *want * (size_t)(n + 1));
        char *seen = calloc((size_t)n + 1, 1);
        ref_permutation(key, n, want);
        int same = 1, perm = 1;
        for (int64_t i = 0; a && i < n; i++) {
            uint32_t v = bits_at(a, i);
            same &= v == want[i];
            perm &= v < (uint32_t)n && !seen[v];
            if (v < (uint32_t)n) seen[v] = 1;
        }
        if (!same || !perm)
            printf("  n = %lld: same %d, permutation %d\n", (long long)n, same, perm);
        CHECK(same && perm);
        if (n >= 64) CHECK(want[0] != 0 || want[1] != 1 || want[2] != 2); /* not the identity */
        free(want);
        free(seen);
        jx_array_free(a);
    }
}

/* The stable sort itself on keys with many ties, including 2^32-1 (the padding's key). */
static jx_val s_sort(jx_val key, const void *u) {
    int64_t n = *(const int64_t *)u;
    jx_val i = jx_iota(key.t, JX_TYPE(JX_U32, n), 0);
    jx_val k = jx_rem(i, jx_lit(i, 3)); /* keys 0,1,2,0,1,2,... */
    jx_val big = jx_eq(k, jx_lit(k, 2));
    k = jx_select(big, jx_full(key.t, JX_TYPE(JX_U32, n), 4294967295.0), k);
    return nnr_sort_key_val(JX_HERE, k, jx_add(i, jx_lit(i, 100)));
}

TEST(sort_network_is_stable) {
    static const int64_t ns[] = {2, 5, 13, 32, 37};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int64_t n = ns[k];
        jx_array *a = draw(s_sort, &n, jx_key_new(0));
        CHECK(a && jx_array_size(a) == n);
        /* positions with key 0 in order, then key 1, then key 2^32-1 */
        int64_t at = 0;
        for (int key = 0; key < 3; key++)
            for (int64_t i = key; a && i < n; i += 3)
                CHECK(bits_at(a, at++) == (uint32_t)(i + 100));
        jx_array_free(a);
    }
}

typedef struct {
    jx_type ty;
    int axis;
} permute_case;

static jx_val s_permute(jx_val key, const void *u) {
    const permute_case *c = u;
    jx_val x = jx_iota(key.t, c->ty, c->ty.rank - 1);
    if (c->ty.rank > 1) x = jx_add(x, jx_mul(jx_iota(key.t, c->ty, 0), jx_lit(x, 1000)));
    return jx_random_permute(key, x, c->axis);
}

TEST(permute_array_takes_permuted_slices) {
    /* x[i][j] = 1000 i + j permuted along an axis equals x indexed by permutation(n) */
    const permute_case cs[] = {
        {JX_TYPE(JX_F32, 37, 3), 0}, {JX_TYPE(JX_F64, 4, 9), 1}, {JX_TYPE(JX_F32, 5, 6), -1},
        {JX_TYPE(JX_I32, 50), 0},   {JX_TYPE(JX_U32, 1), 0},    {JX_TYPE(JX_F32, 11), 0},
    };
    jx_key key = jx_key_new(7);
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        const permute_case *c = &cs[k];
        int ax = c->axis < 0 ? c->axis + c->ty.rank : c->axis;
        int64_t n = c->ty.shape[ax], cols = c->ty.rank > 1 ? c->ty.shape[1] : 1;
        jx_array *a = draw(s_permute, c, key), *p = draw(s_perm, &n, key);
        int64_t size = n * (c->ty.rank > 1 ? c->ty.shape[1 - ax] : 1);
        CHECK(a && p && jx_array_dtype(a) == c->ty.dtype && jx_array_size(a) == size);
        for (int64_t e = 0; a && p && e < jx_array_size(a); e++) {
            int64_t i = c->ty.rank > 1 ? e / cols : 0, j = c->ty.rank > 1 ? e % cols : e;
            if (ax == 0 && c->ty.rank > 1) i = (int64_t)jx_array_get(p, i);
            else j = (int64_t)jx_array_get(p, j);
            CHECK(jx_array_get(a, e) == (double)(1000 * i + j));
        }
        jx_array_free(a);
        jx_array_free(p);
    }
}

static void f_permute_grad(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    out[0] = jx_random_permute(jx_random_key(t, 3), in[0], 0);
}

TEST(permute_grad_finite_differences) {
    jx_fn *f = jx_trace(f_permute_grad, 1, (jx_type[]){JX_TYPE(JX_F64, 6, 2)}, 1, NULL);
    CHECK(f != NULL);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
}

/* ---- gumbel and categorical --------------------------------------------------------- */

static jx_val s_gumbel(jx_val key, const void *u) {
    return jx_random_gumbel(key, *(const jx_type *)u);
}

TEST(gumbel_moments_and_bits) {
    /* mean: Euler's gamma; variance pi^2 / 6 */
    jx_type ty = JX_TYPE(JX_F64, 100000);
    jx_array *a = draw(s_gumbel, &ty, jx_key_new(5));
    double s = 0, s2 = 0;
    int64_t n = a ? jx_array_size(a) : 0;
    for (int64_t i = 0; i < n; i++) s += jx_array_get(a, i);
    double m = n ? s / (double)n : 0;
    for (int64_t i = 0; i < n; i++) s2 += (jx_array_get(a, i) - m) * (jx_array_get(a, i) - m);
    CHECK(a != NULL);
    CHECK(fabs(m - 0.5772156649) < 0.015);
    CHECK(fabs(s2 / (double)(n ? n : 1) - 1.6449340668) < 0.04);
    jx_array_free(a);
    /* f32: -log(-log(max(tiny, u + tiny))) of the uniform mantissa mapping */
    ty = JX_TYPE(JX_F32, 5);
    a = draw(s_gumbel, &ty, jx_key_new(5));
    for (int64_t i = 0; a && i < 5; i++) {
        uint32_t fb = (ref_bit(jx_key_new(5), 5, i) >> 9) | 0x3F800000u;
        float f;
        memcpy(&f, &fb, 4);
        float u = (f - 1.0f) * (1.0f - 0x1p-126f) + 0x1p-126f;
        u = u < 0x1p-126f ? 0x1p-126f : u;
        CHECK_NEAR(jx_array_get(a, i), -log(-log((double)u)), 1e-5);
    }
    jx_array_free(a);
}

typedef struct {
    jx_type lt;       /* logits type: logits[..., k] = log(p[k]) along axis */
    const double *lp; /* log-probabilities of the categories */
    int axis;
    jx_ints shape; /* sample shape; n < 0: none */
} cat_case;

/* logits of c->lt holding c->lp[k] at index k along the axis (the other dims repeat). */
static jx_val cat_logits(jx_trace *t, const cat_case *c) {
    int ax = c->axis < 0 ? c->axis + c->lt.rank : c->axis;
    int64_t k = c->lt.shape[ax];
    jx_array *a = jx_array_new_type(&c->lt);
    int64_t inner = 1;
    for (int d = ax + 1; d < c->lt.rank; d++) inner *= c->lt.shape[d];
    for (int64_t e = 0; e < jx_array_size(a); e++) jx_array_set(a, e, c->lp[(e / inner) % k]);
    jx_val v = jx_constant(t, a);
    jx_array_free(a);
    return v;
}

static jx_val s_cat(jx_val key, const void *u) {
    const cat_case *c = u;
    jx_val lg = cat_logits(key.t, c);
    return c->shape.n < 0 ? jx_random_categorical(key, lg, c->axis)
                          : jx_random_categorical_shape(key, lg, c->axis, c->shape);
}

TEST(categorical_chi_square) {
    /* p = (0.1, 0.2, 0.3, 0.4, 0): 100000 draws of one row; -inf never drawn */
    static const double p[5] = {0.1, 0.2, 0.3, 0.4, 0.0};
    double lp[5];
    for (int i = 0; i < 5; i++) lp[i] = log(p[i]);
    cat_case c = {JX_TYPE(JX_F32, 5), lp, 0, JX_INTS(100000)};
    jx_array *a = draw(s_cat, &c, jx_key_new(11));
    int64_t counts[5] = {0};
    for (int64_t i = 0; a && i < 100000; i++) counts[(int)jx_array_get(a, i) % 5]++;
    CHECK(a && jx_array_dtype(a) == JX_I32 && jx_array_size(a) == 100000);
    CHECK(counts[4] == 0);
    CHECK(chi_square(counts, p, 4, 100000) < chi_bound(3));
    jx_array_free(a);
    /* the same along axis 0 of [4, 20000] logits (f64): one draw per column */
    c = (cat_case){JX_TYPE(JX_F64, 4, 20000), lp, 0, {-1, {0}}};
    a = draw(s_cat, &c, jx_key_new(12));
    memset(counts, 0, sizeof counts);
    for (int64_t i = 0; a && i < 20000; i++) counts[(int)jx_array_get(a, i) % 5]++;
    CHECK(a && jx_array_rank(a) == 1 && jx_array_size(a) == 20000);
    CHECK(chi_square(counts, p, 4, 20000) < chi_bound(3));
    jx_array_free(a);
}

TEST(categorical_is_gumbel_argmax) {
    /* [3, 4] logits, axis -1, shape (2, 3): argmax over k of gumbel[2,3,4] + logits */
    static const double lp[4] = {-1.0, 0.5, 0.0, -0.25};
    cat_case c = {JX_TYPE(JX_F64, 3, 4), lp, -1, JX_INTS(2, 3)};
    jx_array *a = draw(s_cat, &c, jx_key_new(13));
    jx_type gt = JX_TYPE(JX_F64, 2, 3, 4);
    jx_array *g = draw(s_gumbel, &gt, jx_key_new(13));
    CHECK(a && g && jx_array_rank(a) == 2 && jx_array_dim(a, 0) == 2 && jx_array_dim(a, 1) == 3);
    for (int64_t r = 0; a && g && r < 6; r++) {
        int best = 0;
        for (int k = 1; k < 4; k++)
            if (jx_array_get(g, 4 * r + k) + lp[k] > jx_array_get(g, 4 * r + best) + lp[best])
                best = k;
        CHECK(jx_array_get(a, r) == best);
    }
    jx_array_free(a);
    jx_array_free(g);
    /* a size-1 batch dim broadcasts to the shape's: logits [1, 4], shape (5,) */
    c = (cat_case){JX_TYPE(JX_F32, 1, 4), lp, 1, JX_INTS(5)};
    a = draw(s_cat, &c, jx_key_new(13));
    CHECK(a && jx_array_rank(a) == 1 && jx_array_size(a) == 5);
    jx_array_free(a);
}

/* ---- jit and vmap ------------------------------------------------------------------- */

static const randint_case jv_randint = {{2, {3, 50}}, -20, 1000, JX_I32};
static const int64_t jv_n1 = 300, jv_n2 = 1700;
static const permute_case jv_permute = {{JX_F32, 2, {20, 3}}, 0};
static const double jv_lp[3] = {0.0, -1.0, 2.0};
static const cat_case jv_cat = {{JX_F32, 2, {6, 3}}, jv_lp, 1, {2, {4, 6}}};
static const jx_type jv_gumbel = {JX_F32, 1, {17}};

TEST(jit_equals_interpreter) {
    struct {
        sampler_fn f;
        const void *u;
        const char *what;
    } cs[] = {{s_randint, &jv_randint, "randint"},  {s_perm, &jv_n1, "permutation 300"},
              {s_perm, &jv_n2, "permutation 1700 (2 rounds)"},
              {s_permute, &jv_permute, "permute"}, {s_cat, &jv_cat, "categorical"},
              {s_gumbel, &jv_gumbel, "gumbel"}};
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        jx_array *in = jx_key_array(jx_key_new(100 + (uint32_t)k));
        CHECK(jit_vs_interp(trace_sampler(cs[k].f, cs[k].u), &in, 0, cs[k].what));
        jx_array_free(in);
    }
    /* vmap over 3 keys u32[3,2], then jit */
    jx_fn *f = trace_sampler(s_perm, &jv_n1), *g = f ? jx_vmap(f, (int[]){0}, NULL, 3) : NULL;
    jx_array *keys = rand_array(JX_TYPE(JX_U32, 3, 2), 0, 4294967295.0, 0);
    CHECK(jit_vs_interp(g, &keys, 0, "vmap(permutation 300)"));
    jx_array_free(keys);
    jx_fn_free(f);
}

/* u32 keys over the whole range. */
static jx_array *gen_u32(jx_type ty, double lo, double hi) {
    (void)lo, (void)hi;
    jx_array *a = jx_array_new_type(&ty);
    for (int64_t i = 0; i < jx_array_size(a); i++) {
        uint32_t v = (uint32_t)(urand() * 4294967296.0);
        memcpy((char *)jx_array_data(a) + 4 * i, &v, 4);
    }
    return a;
}

TEST(vmap_over_keys_equals_loop) {
    static const int64_t n = 40;
    sampler_fn fs[] = {s_randint, s_perm, s_permute, s_cat, s_gumbel};
    const void *us[] = {&jv_randint, &n, &jv_permute, &jv_cat, &jv_gumbel};
    for (int k = 0; k < 5; k++) {
        jx_fn *f = trace_sampler(fs[k], us[k]);
        CHECK(f != NULL);
        if (f) txc_vmap_gen(f, (int[]){0}, 3, gen_u32, 0, 0, 0);
        jx_fn_free(f);
    }
}

/* ---- errors ------------------------------------------------------------------------- */

/* Checks that the trace t failed with a message holding each of the strings in want
 * (NULL-terminated) and the line "t_random_more.c:line", then aborts t. */
static void check_err(jx_trace *t, jx_val v, int line, const char *const *want) {
    CHECK(jx_val_bad(v));
    const char *e = jx_trace_error(t);
    char at[64];
    snprintf(at, sizeof at, "t_random_more.c:%d", line);
    CHECK_CONTAINS(e, at);
    for (int i = 0; want[i]; i++) CHECK_CONTAINS(e, want[i]);
    jx_trace_abort(t);
}

#define ERR_CASE(expr, ...)                                                             \
    do {                                                                                \
        jx_trace *t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 2, 3)});            \
        jx_val key = jx_random_key(t, 1), x = jx_trace_input(t, 0);                     \
        (void)key, (void)x;                                                             \
        jx_val v = expr;                                                                \
        check_err(t, v, __LINE__, (const char *const[]){__VA_ARGS__, NULL});            \
    } while (0)

TEST(error_messages) {
    ERR_CASE(jx_random_randint(key, JX_INTS(3), 0, 5, JX_F32), "random_randint",
             "dtype must be i32 or u32, got f32");
    ERR_CASE(jx_random_randint(key, JX_INTS(3), 5, 5, JX_I32), "random_randint",
             "empty range [5, 5)");
    ERR_CASE(jx_random_randint(key, JX_INTS(3), -1, 5, JX_U32), "random_randint",
             "[-1, 5) is outside u32");
    ERR_CASE(jx_random_randint(key, JX_INTS(3, -2), 0, 5, JX_I32), "random_randint",
             "dimension 1 of the shape is negative");
    ERR_CASE(jx_random_randint(x, JX_INTS(3), 0, 5, JX_I32), "random_randint",
             "key must be u32[2], got f32[2,3]");
    ERR_CASE(jx_random_permutation(key, -4), "random_permutation", "n = -4");
    ERR_CASE(jx_random_permute(key, x, 2), "random_permutation",
             "axis 2 out of range for x f32[2,3]");
    ERR_CASE(jx_random_permute(key, jx_sum_all(x), 0), "random_permutation",
             "x must have rank >= 1, got f32[]");
    ERR_CASE(jx_random_categorical(key, x, -3), "random_categorical",
             "axis -3 out of range for logits f32[2,3]");
    ERR_CASE(jx_random_categorical(key, jx_convert(x, JX_I32), 0), "random_categorical",
             "logits must be f32 or f64 of rank >= 1, got i32[2,3]");
    ERR_CASE(jx_random_categorical_shape(key, x, 1, JX_INTS(4, 3)), "random_categorical",
             "shape (4,3)", "logits f32[2,3]");
    jx_ints z2 = JX_INTS(0, 0), one2 = JX_INTS(1, 1);
    ERR_CASE(jx_random_categorical(key, jx_slice(x, z2, JX_INTS(2, 0), one2), 1),
             "random_categorical", "axis 1 of logits f32[2,0] has no categories");
    ERR_CASE(jx_random_gumbel(key, JX_TYPE(JX_I32, 3)), "random_gumbel", "f32 or f64, got i32[3]");
}

TEST_MAIN()
