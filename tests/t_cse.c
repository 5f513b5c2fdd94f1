/* CSE in jx_simplify does linear work: counted with the probe counter of passes.h (the
 * hash-table slots examined), never timed. A rewrite that returns a function input
 * (x * 1 -> x, neg(neg x) -> x) used to re-insert that input into one growing probe
 * chain on every return (inputs never compare equal), so N such equations cost N^2/2
 * probes: 2*10^8 at N = 20000. */
#include "check.h"
#include "transform/passes.h"

#define CSE_N 20000

/* f(a: f32[4]) = the last of CSE_N equations q_i = a * ones. */
static void cse_mul_ones(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val ones = jx_full(t, JX_TYPE(JX_F32, 4), 1.0), q = in[0];
    for (int i = 0; i < CSE_N; i++) q = jx_mul(in[0], ones);
    out[0] = q;
}

/* f(a: f32[4]) = neg applied CSE_N times (an even count: f is the identity). */
static void cse_neg_chain(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val q = in[0];
    for (int i = 0; i < CSE_N; i++) q = jx_neg(q);
    out[0] = q;
}

/* f(a: f32[4]) = a chain of CSE_N distinct equations q_i = q_{i-1} + i. */
static void cse_distinct(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val q = in[0];
    for (int i = 0; i < CSE_N; i++) q = jx_add(q, jx_lit(q, i + 1));
    out[0] = q;
}

static const jx_type cse_ty = {JX_F32, 1, {4}};

/* Traces cb on cse_ty and applies tx to it, checking tx examined at most per_eqn * CSE_N
 * CSE slots. Returns tx's result (caller frees) or NULL. */
static jx_fn *cse_probed(jx_trace_cb cb, jx_fn *(*tx)(const jx_fn *), uint64_t per_eqn) {
    jx_fn *f = jx_trace(cb, 1, &cse_ty, 1, NULL);
    CHECK(f != NULL);
    uint64_t p0 = simp_cse_probes();
    jx_fn *g = f ? tx(f) : NULL;
    uint64_t probes = simp_cse_probes() - p0;
    CHECK(g != NULL);
    CHECK(probes <= per_eqn * (uint64_t)CSE_N);
    if (probes > per_eqn * (uint64_t)CSE_N) printf("  %llu probes\n", (unsigned long long)probes);
    jx_fn_free(f);
    return g;
}

TEST(mul_by_ones_returning_the_input_is_linear) {
    jx_fn *g = cse_probed(cse_mul_ones, jx_simplify, 4);
    CHECK(jx_fn_n_eqns(g) == 0); /* the output is the input itself */
    jx_fn_free(g);
}

/* jx_jvp of every input. */
static jx_fn *cse_jvp_all(const jx_fn *f) { return jx_jvp(f, NULL); }

TEST(jvp_of_neg_chain_is_linear) {
    jx_fn *d = cse_probed(cse_neg_chain, cse_jvp_all, 8); /* jvp simplifies its result */
    CHECK(jx_fn_n_eqns(d) == 0); /* (x, t) -> (x, t) */
    jx_fn_free(d);
}

TEST(distinct_chain_is_linear) {
    jx_fn *g = cse_probed(cse_distinct, jx_simplify, 8);
    CHECK(g && jx_fn_n_eqns(g) >= CSE_N); /* nothing to merge */
    jx_fn_free(g);
}

/* f(a) = exp(a*1) + exp(a): after x*1 -> x both exps are the same node. */
static void cse_dup(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val ones = jx_full(t, JX_TYPE(JX_F32, 4), 1.0);
    out[0] = jx_add(jx_exp(jx_mul(in[0], ones)), jx_exp(in[0]));
}

TEST(cse_still_merges_equal_nodes) {
    jx_fn *f = jx_trace(cse_dup, 1, &cse_ty, 1, NULL);
    jx_fn *g = f ? jx_simplify(f) : NULL;
    CHECK(g != NULL);
    CHECK(jx_fn_n_eqns(g) == 2); /* e = exp a; add e e */
    jx_array *x = jx_array_new_type(&cse_ty), *y = NULL;
    for (int i = 0; i < 4; i++) jx_array_set(x, i, 0.5 * i);
    CHECK(g && jx_interp(g, &x, &y) == 0);
    for (int i = 0; y && i < 4; i++) CHECK_NEAR(jx_array_get(y, i), 2 * exp(0.5 * i), 1e-6);
    jx_array_free(x);
    jx_array_free(y);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
