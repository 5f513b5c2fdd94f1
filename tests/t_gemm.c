/* The gemm primitive and the gemm-fold pass: the pass is exact (the interpreter gives the
 * same bits before and after it), gemm's shape rule rejects bad operands with clear
 * messages, the JIT plans hand-written gemm nodes (an accumulator without a buffer of
 * its own, a scalar result) and names what it cannot lower (a traced alpha), and the
 * transformations refuse gemm (it exists only after them). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jitcheck.h"
#include "transform/passes.h"

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

/* s = w (-|+) c * dot(op(x), op(y)) in one of four forms (sub, add, add reversed, mul
 * reversed), op a transpose or not, over dtype dt. */
static void random_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const int *cfg = user; /* form, trans, dtype f64 */
    jx_dtype dt = cfg[2] ? JX_F64 : JX_F32;
    jx_val x = cfg[1] ? jx_transpose(in[1], JX_INTS(1, 0)) : in[1];
    jx_val d = jx_dot_general(x, in[2], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    jx_val c = jx_broadcast_in_dim(jx_scalar(t, dt, 0.37), JX_INTS(3, 5), JX_NOINTS);
    jx_val m = cfg[0] == 3 ? jx_mul(d, c) : jx_mul(c, d);
    out[0] = cfg[0] == 1 ? jx_add(in[0], m) : cfg[0] == 2 ? jx_add(m, in[0]) : jx_sub(in[0], m);
}

TEST(gemm_fold_random_forms) {
    for (int form = 0; form < 4; form++)
        for (int tr = 0; tr < 2; tr++)
            for (int f64 = 0; f64 < 2; f64++) {
                int cfg[3] = {form, tr, f64};
                jx_dtype dt = f64 ? JX_F64 : JX_F32;
                jx_type ts[3] = {JX_TYPE(dt, 3, 5), tr ? JX_TYPE(dt, 3, 4) : JX_TYPE(dt, 4, 3),
                                 JX_TYPE(dt, 4, 5)};
                jx_fn *f = jx_trace(random_update, 3, ts, 1, cfg);
                jx_fn *g = f ? pass_gemm_fold(f) : NULL;
                char *text = g ? jx_fn_to_string(g) : NULL;
                if (!text || strstr(text, "dot_general") || !strstr(text, "gemm["))
                    CHECK_FAIL_("form %d trans %d f64 %d: not folded:\n%s", form, tr, f64,
                                text ? text : jx_error());
                jx_array *want = NULL, *got = NULL;
                CHECK(f && run_interp(f, 3, &want) == 0);
                CHECK(g && run_interp(g, 3, &got) == 0);
                if (want && got)
                    CHECK(!memcmp(jx_array_cdata(want), jx_array_cdata(got), jx_array_nbytes(want)));
                jx_array_free(want);
                jx_array_free(got);
                free(text);
                jx_fn_free(g);
                jx_fn_free(f);
            }
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
