/* The gemm primitive and the gemm-fold pass: the pass is exact (the interpreter gives the
 * same bits before and after it), gemm's shape rule rejects bad operands with clear
 * messages, the JIT plans hand-written gemm nodes (an accumulator without a buffer of
 * its own, a scalar result) and names what it cannot lower (a traced alpha), and the
 * transformations refuse gemm (it exists only after them). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jitcheck.h"
#include "passes.h"

/* Parses text (CHECKs it parses). */
static jx_fn *parse(const char *text) {
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("parse failed: %s\n%s", jx_error(), text);
    return f;
}

/* Runs f with jx_interp on n random inputs of f's input types (seeded alike for every
 * call); returns the outputs in out[] (n_out of them). 0 or -1. */
static int run_interp(const jx_fn *f, int n_in, jx_array **out) {
    jx_array *in[8];
    rng_state = 12345;
    for (int i = 0; i < n_in; i++) {
        jx_type t = jx_fn_in_type(f, i);
        in[i] = rand_array(t, -2, 2, 0);
    }
    int rc = jx_interp(f, in, out);
    for (int i = 0; i < n_in; i++) jx_array_free(in[i]);
    return rc;
}

static const char fold_src[] =
    "{ lambda ; w:f32[3,5] x:f32[4,3] g:f32[4,5] v:f64[2,2] a:f64[2,3] b:f64[3,2]. let\n"
    "    d:f32[3,5] = dot_general[lhs_contract=(0) rhs_contract=(0) lhs_batch=() rhs_batch=()] x g\n"
    "    lr:f32[3,5] = broadcast_in_dim[shape=(3,5) broadcast_dimensions=()] 0.1:f32[]\n"
    "    m:f32[3,5] = mul lr d\n"
    "    n:f32[3,5] = sub w m\n"
    "    e:f64[2,2] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b\n"
    "    c:f64[2,2] = broadcast_in_dim[shape=(2,2) broadcast_dimensions=()] 0.3:f64[]\n"
    "    k:f64[2,2] = mul e c\n"
    "    s:f64[2,2] = add k v\n"
    "  in (n, s) }";

TEST(gemm_fold_is_exact) {
    jx_fn *f = parse(fold_src);
    if (!f) return;
    jx_fn *g = pass_gemm_fold(f);
    CHECK(g != NULL);
    char *text = g ? jx_fn_to_string(g) : NULL;
    if (text) {
        /* both updates folded: two gemms, no dot_general left */
        CHECK(strstr(text, "gemm[") && strstr(strstr(text, "gemm[") + 1, "gemm["));
        CHECK(!strstr(text, "dot_general"));
    }
    jx_array *want[2] = {NULL, NULL}, *got[2] = {NULL, NULL};
    CHECK(run_interp(f, 6, want) == 0);
    CHECK(g && run_interp(g, 6, got) == 0);
    for (int j = 0; j < 2 && want[j] && got[j]; j++) {
        size_t nb = jx_array_nbytes(want[j]);
        CHECK(nb == jx_array_nbytes(got[j]) &&
              !memcmp(jx_array_cdata(want[j]), jx_array_cdata(got[j]), nb));
    }
    for (int j = 0; j < 2; j++) {
        jx_array_free(want[j]);
        jx_array_free(got[j]);
    }
    free(text);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* Parses src and checks that parsing fails with a message containing want. */
static void check_rejects(const char *src, const char *want) {
    jx_fn *f = jx_fn_parse(src);
    CHECK(f == NULL);
    if (f) jx_fn_free(f);
    else CHECK_CONTAINS(jx_error(), want);
}

TEST(gemm_shape_rule) {
    check_rejects("{ lambda ; a:f32[2,3] b:f32[3,4] c:f32[2,5]. let\n"
                  "  y:f32[2,4] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c 1.0:f32[]\n"
                  "  in (y) }",
                  "the accumulator c has type f32[2,5], but dot_general(a, b) has f32[2,4]");
    check_rejects("{ lambda ; a:f32[2,3] b:f32[3,4] c:f32[2,4] s:f32[1]. let\n"
                  "  y:f32[2,4] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c s\n"
                  "  in (y) }",
                  "alpha must be a f32[] scalar, got f32[1]");
    check_rejects("{ lambda ; a:i32[2,3] b:i32[3,4] c:i32[2,4]. let\n"
                  "  y:i32[2,4] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c 1:i32[]\n"
                  "  in (y) }",
                  "dtype i32 is not a float");
    check_rejects("{ lambda ; a:f32[2,3] b:f32[3,4] c:f32[2,4]. let\n"
                  "  y:f32[2,4] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c\n"
                  "  in (y) }",
                  "gemm");
}

TEST(gemm_jit_matches_interp) {
    /* c = a broadcast (index-only: needs a buffer of its own for the GEMM), a scalar
     * result accumulating into a rank-0 constant, and c also read by another output */
    jx_fn *f = parse(
        "{ lambda ; a:f32[6,7] b:f32[7,5] r:f32[5] u:f64[9] v:f64[9]. let\n"
        "  c:f32[6,5] = broadcast_in_dim[shape=(6,5) broadcast_dimensions=(1)] r\n"
        "  y:f32[6,5] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c -0.5:f32[]\n"
        "  z:f64[] = gemm[lhs_contract=(0) rhs_contract=(0) lhs_batch=() rhs_batch=()] u v 2.0:f64[] 0.25:f64[]\n"
        "  q:f32[5,6] = transpose[permutation=(1,0)] c\n"
        "  in (y, z, q) }");
    if (!f) return;
    jx_type ts[5];
    jx_array *in[5];
    for (int i = 0; i < 5; i++) {
        ts[i] = jx_fn_in_type(f, i);
        in[i] = rand_array(ts[i], -1, 1, 0);
    }
    jit_vs_interp(f, in, 1e-5, "hand-written gemm");
    for (int i = 0; i < 5; i++) jx_array_free(in[i]);
}

TEST(gemm_traced_alpha_is_a_clear_jit_error) {
    jx_fn *f = parse(
        "{ lambda ; a:f32[2,3] b:f32[3,4] c:f32[2,4] s:f32[]. let\n"
        "  y:f32[2,4] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c s\n"
        "  in (y) }");
    if (!f) return;
    jx_exe *e = jx_jit(f, NULL);
    CHECK(e == NULL);
    if (!e) CHECK_CONTAINS(jx_error(), "gemm at ");
    if (!e) CHECK_CONTAINS(jx_error(), "alpha must be a constant");
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST(gemm_has_no_transformation_rules) {
    jx_fn *f = parse(
        "{ lambda ; a:f32[2,3] b:f32[3,2] c:f32[2,2]. let\n"
        "  y:f32[2,2] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c 1.5:f32[]\n"
        "  z:f32[] = reduce_sum[axes=(0,1)] y\n"
        "  in (z) }");
    if (!f) return;
    jx_fn *g = jx_grad(f, 1, (int[]){0});
    CHECK(g == NULL);
    if (!g) CHECK_CONTAINS(jx_error(), "rule for 'gemm' not implemented");
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(pass_list_names) {
    jx_fn *f = parse(fold_src);
    if (!f) return;
    jx_fn *g = pass_run_list(f, "identities,bogus");
    CHECK(g == NULL);
    if (!g) CHECK_CONTAINS(jx_error(), "unknown pass 'bogus' (known: simplify, identities");
    jx_fn_free(g);
    g = pass_run_list(f, PASS_JIT_PIPELINE); /* the JIT's pipeline folds both updates */
    char *text = g ? jx_fn_to_string(g) : NULL;
    CHECK(text && !strstr(text, "dot_general") && strstr(text, "gemm["));
    free(text);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
