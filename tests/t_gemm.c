/* The gemm primitive and the gemm-fold pass: the pass is exact (the interpreter gives the
 * same bits before and after it), gemm's shape rule rejects bad operands with clear
 * messages, the JIT plans hand-written gemm nodes (an accumulator without a buffer of
 * its own, a scalar result, a traced alpha read at run time), a traced scalar scale
 * folds (the JIT's result is the constant-alpha GEMM's, and the unfused ops' for an
 * alpha of 0 or inf) while a non-scalar one does not, and the transformations refuse
 * gemm (it exists only after them). */
#include <math.h>
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

static const char traced_src[] =
        "{ lambda ; a:f32[2,3] b:f32[3,4] c:f32[2,4] s:f32[] u:f64[5,3] v:f64[3,2] w:f64[5,2] t:f64[]"
        " s2:f64[] p:f64[3] q:f64[3]. let\n"
        "  y:f32[2,4] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b c s\n"
        "  n:f64[] = neg t\n"
        "  k:f64[] = mul n 2.0:f64[]\n"
        "  x:f64[5,2] = gemm[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] u v w k\n"
        "  z:f64[] = gemm[lhs_contract=(0) rhs_contract=(0) lhs_batch=() rhs_batch=()] p q s2 s2\n"
        "  in (y, x, z) }";

TEST(gemm_traced_alpha_jit_matches_interp) {
    /* alpha an input (f32), a computed scalar (f64: neg(s) * 2, its own buffer), and an
     * input that is also the accumulator's source (z's c and alpha both s2) */
    jx_fn *f = parse(traced_src);
    if (!f) return;
    jx_array *in[11];
    rng_state = 777;
    for (int i = 0; i < 11; i++) in[i] = rand_array(jx_fn_in_type(f, i), -1, 1, 0);
    jit_vs_interp(f, in, 1e-6, "traced alpha"); /* frees f */
    unsigned char donate[11] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}; /* z in place over s2 */
    jit_vs_interp_opts(parse(traced_src), in, 1e-6, "traced alpha, donated",
                       &(jx_jit_opts){.donate = donate});
    free_all(in, 11);
}

/* s = w - c * dot(x^T, g) with c = in[3] (an f32[] input) or the constant 0.37. */
static void traced_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const int *konst = user;
    jx_val d = jx_dot_general(in[1], in[2], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    jx_val c = *konst ? jx_scalar(t, JX_F32, 0.37) : in[3];
    out[0] = jx_sub(in[0], jx_mul(jx_broadcast_in_dim(c, JX_INTS(3, 5), JX_NOINTS), d));
}

/* Runs e on in; the output (caller frees) or NULL. */
static jx_array *run1(jx_exe *e, jx_array **in) {
    jx_array *out = NULL;
    return e && jx_exe_run(e, in, &out) == 0 ? out : NULL;
}

TEST(gemm_fold_traced_alpha) {
    jx_type ts[4] = {JX_TYPE(JX_F32, 3, 5), JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 4, 5),
                     JX_SCALAR(JX_F32)};
    int traced = 0, konst = 1;
    jx_fn *f = jx_trace(traced_update, 4, ts, 1, &traced);
    jx_fn *fc = jx_trace(traced_update, 4, ts, 1, &konst);
    jx_fn *g = f ? pass_gemm_fold(f) : NULL;
    char *text = g ? jx_fn_to_string(g) : NULL;
    CHECK(text && strstr(text, "gemm[") && strstr(text, "neg") && !strstr(text, "dot_general"));
    /* the pass is exact in the interpreter */
    jx_array *want = NULL, *got = NULL;
    CHECK(f && run_interp(f, 4, &want) == 0);
    CHECK(g && run_interp(g, 4, &got) == 0);
    CHECK(want && got && !memcmp(jx_array_cdata(want), jx_array_cdata(got), jx_array_nbytes(want)));
    jx_array_free(want), jx_array_free(got);
    /* the JIT: the traced alpha set to 0.37 gives the constant-alpha GEMM's bits; near
     * the unfolded interpreter */
    jx_exe *e = f ? jx_jit(f, NULL) : NULL, *ec = fc ? jx_jit(fc, NULL) : NULL;
    CHECK(e != NULL && ec != NULL);
    jx_array *in[4];
    rng_state = 4242;
    for (int i = 0; i < 4; i++) in[i] = rand_array(ts[i], -2, 2, 0);
    jx_array_set(in[3], 0, 0.37);
    jx_array *oj = run1(e, in), *oc = run1(ec, in), *oi = NULL;
    CHECK(jx_interp(f, in, &oi) == 0);
    CHECK(oj && oc && !memcmp(jx_array_cdata(oj), jx_array_cdata(oc), jx_array_nbytes(oc)));
    if (oj && oi) same_arrays(oj, oi, 1e-6, "traced alpha vs unfolded");
    jx_array_free(oj), jx_array_free(oc), jx_array_free(oi);
    /* alpha 0 and inf at run time (BLAS would skip the product): as the unfused ops, bit
     * for bit, with an inf in x (0 * inf = NaN reaches s) */
    jx_array_set(in[1], 5, INFINITY);
    const double alphas[3] = {0.0, INFINITY, -0.0};
    for (int k = 0; k < 3; k++) {
        jx_array_set(in[3], 0, alphas[k]);
        jx_array *a = run1(e, in), *b = NULL;
        CHECK(jx_interp(f, in, &b) == 0);
        CHECK(a && b);
        for (int64_t i = 0; a && b && i < 15; i++) {
            double x = jx_array_get(a, i), y = jx_array_get(b, i);
            if (!(x == y || (isnan(x) && isnan(y))) || signbit(x) != signbit(y))
                CHECK_FAIL_("alpha %g: element %lld is %g, unfused %g", alphas[k], (long long)i, x, y);
        }
        jx_array_free(a), jx_array_free(b);
    }
    free_all(in, 4);
    jx_exe_free(e), jx_exe_free(ec);
    free(text);
    jx_fn_free(g), jx_fn_free(f), jx_fn_free(fc);
}

/* s = w - c * dot(x^T, g) with c an f32[5] per-column rate: not a scalar, no fold. */
static void column_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val d = jx_dot_general(in[1], in[2], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_sub(in[0], jx_mul(jx_broadcast_in_dim(in[3], JX_INTS(3, 5), JX_INTS(1)), d));
}

TEST(gemm_fold_refuses_a_traced_non_scalar) {
    jx_type ts[4] = {JX_TYPE(JX_F32, 3, 5), JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 4, 5),
                     JX_TYPE(JX_F32, 5)};
    jx_fn *f = jx_trace(column_update, 4, ts, 1, NULL);
    jx_fn *g = f ? pass_gemm_fold(f) : NULL;
    char *text = g ? jx_fn_to_string(g) : NULL;
    CHECK(text && strstr(text, "dot_general") && !strstr(text, "gemm["));
    free(text);
    jx_fn_free(g);
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
    if (!g) CHECK_CONTAINS(jx_error(), "unknown pass 'bogus' (known: inline-custom, simplify, identities");
    jx_fn_free(g);
    g = pass_run_list(f, PASS_JIT_PIPELINE); /* the JIT's pipeline folds both updates */
    char *text = g ? jx_fn_to_string(g) : NULL;
    CHECK(text && !strstr(text, "dot_general") && strstr(text, "gemm["));
    free(text);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
