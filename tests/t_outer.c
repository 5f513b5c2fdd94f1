/* Outer products (issue 12.3): the outer-product pass turns float dot_generals that
 * contract nothing into fused multiplies of broadcasts, and a contraction over an outer
 * product's batch axes into one GEMM of the scaled operand. Checked: per-example gradients
 * (vmap(grad) of an MLP) equal a loop of single-example gradients and the interpreter, on
 * 1 and 2 threads alike bit for bit; the plan writes them with a kernel, not K=1 GEMMs;
 * DP-SGD's clipped sum never materialises the [B, M, N] gradients; the pass keeps every
 * layout's values (outer products bit for bit, contractions to rounding), leaves integer
 * dots and other contractions alone, and handles empty batches. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jit/jit.h"
#include "jitcheck.h"
#include "jx/nn.h"
#include "transform/passes.h"

enum { NP = 4 };

/* A 2-layer MLP on one x: log-softmax(W2 relu(W1 x + b1) + b2), W[out, in]. */
static jx_val mlp(const jx_val *p, jx_val x) {
    jx_val h = jx_relu(jx_add(jx_matvec(p[0], x), p[1]));
    jx_val z = jx_add(jx_matvec(p[2], h), p[3]);
    return jx_sub(z, jx_logsumexp(z, 0));
}

/* (params, x, label) -> the example's cross-entropy. */
static void loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_softmax_cross_entropy(mlp(in, in[NP]), in[NP + 1]);
}

/* (params, x, label) -> the params' gradients. */
static void grad1_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_grad(loss_cb, NULL, NP + 2, JX_ARGS(NP, 1, 1), in, 1, 1, (int[]){0}, out);
}

/* (params, x[B, D], labels[B]) -> per-example gradients [B, ...]. */
static void pex_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_vmap(grad1_cb, NULL, NP + 2, JX_ARGS(NP, 1, 1), (int[]){JX_NONE, 0, 0}, in, NP,
                 NULL, out);
}

/* (params, x[B, D], labels[B]) -> DP-SGD's sum of the per-example gradients clipped to
 * norm 1 (as examples/per_example_grads.c, without the noise). */
static void dpsgd_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val g[NP];
    pex_cb(t, in, g, NULL);
    jx_val sq = jx_reduce_sum(jx_square(g[0]), JX_INTS(1, 2));
    sq = jx_add(sq, jx_reduce_sum(jx_square(g[1]), JX_INTS(1)));
    sq = jx_add(sq, jx_reduce_sum(jx_square(g[2]), JX_INTS(1, 2)));
    sq = jx_add(sq, jx_reduce_sum(jx_square(g[3]), JX_INTS(1)));
    jx_val one = jx_lit(sq, 1.0), scale = jx_div(one, jx_max(one, jx_sqrt(sq)));
    for (int i = 0; i < NP; i++)
        out[i] = jx_dot_general(scale, g[i], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
}

/* Input types of an MLP d -> h -> 3 at batch B (B == 0: one example). */
static void mlp_types(int64_t B, int64_t d, int64_t h, jx_type *ty) {
    ty[0] = JX_TYPE(JX_F32, h, d), ty[1] = JX_TYPE(JX_F32, h);
    ty[2] = JX_TYPE(JX_F32, 3, h), ty[3] = JX_TYPE(JX_F32, 3);
    ty[NP] = B ? JX_TYPE(JX_F32, B, d) : JX_TYPE(JX_F32, d);
    ty[NP + 1] = B ? JX_TYPE(JX_I32, B) : JX_SCALAR(JX_I32);
}

/* Random params (kernels scaled by 1/sqrt(fan_in), as initialisers do) and a batch for
 * mlp_types(B, d, h) into in[0..NP+2). */
static void mlp_inputs(int64_t B, int64_t d, int64_t h, jx_array **in) {
    jx_type ty[NP + 2];
    mlp_types(B, d, h, ty);
    rng_state = 4242;
    for (int i = 0; i < NP + 1; i++) {
        double s = i == 0 ? 1 / sqrt((double)d) : i == 2 ? 1 / sqrt((double)h) : 1;
        in[i] = rand_array(ty[i], -s, s, 0);
    }
    in[NP + 1] = jx_array_new_type(&ty[NP + 1]);
    for (int64_t b = 0; b < B; b++) jx_array_set(in[NP + 1], b, (double)(b % 3));
}

/* The plan text of f compiled for n_threads (malloc'd; NULL on failure). */
static char *plan_of(const jx_fn *f, int n_threads) {
    jx_exe *e = jit_compile_keep(f, &(jx_jit_opts){NULL, n_threads, 1});
    char *s = e ? jit_exe_plan(e) : NULL;
    jx_exe_free(e);
    return s;
}

/* Runs f compiled for n_threads on in into out (NULLs on entry). 0 or -1. */
static int run_jit(const jx_fn *f, int n_threads, jx_array **in, jx_array **out) {
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, n_threads, 1});
    int rc = e ? jx_exe_run(e, in, out) : -1;
    if (rc < 0) CHECK_FAIL_("jit: %s", jx_error());
    jx_exe_free(e);
    return rc;
}

/* 1 if arrays a and b hold the same bytes. */
static int same_bits(const jx_array *a, const jx_array *b) {
    return a && b && jx_array_nbytes(a) == jx_array_nbytes(b) &&
           !memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a));
}

TEST(per_example_grads_match_loop_and_threads) {
    enum { B = 16, D = 300, H = 128 }; /* layer 1's gradients: 2.4 MB, split on 2 threads */
    jx_type ty[NP + 2], t1[NP + 2];
    mlp_types(B, D, H, ty);
    mlp_types(0, D, H, t1);
    jx_fn *f = jx_trace(pex_cb, NP + 2, ty, NP, NULL);
    jx_fn *f1 = jx_trace(grad1_cb, NP + 2, t1, NP, NULL);
    jx_array *in[NP + 2], *g1[NP] = {0}, *g2[NP] = {0}, *want[NP] = {0};
    mlp_inputs(B, D, H, in);
    CHECK(f && f1);
    if (!f || !f1 || run_jit(f, 1, in, g1) < 0 || run_jit(f, 2, in, g2) < 0 ||
        jx_interp(f, in, want) < 0)
        goto done;
    for (int i = 0; i < NP; i++) {
        CHECK(same_bits(g1[i], g2[i])); /* thread counts agree bit for bit */
        same_arrays(g1[i], want[i], 1e-5, "jit vs interp");
    }
    jx_exe *e1 = jx_jit(f1, &(jx_jit_opts){NULL, 1, 1});
    const float *x = jx_array_cdata(in[NP]);
    for (int64_t b = 0; e1 && b < B && !check_failed_now; b++) { /* one example at a time */
        jx_array *one[NP + 2], *g[NP] = {0};
        memcpy(one, in, NP * sizeof *one);
        one[NP] = jx_array_from(JX_F32, 1, (int64_t[]){D}, x + b * D);
        one[NP + 1] = jx_array_scalar(JX_I32, jx_array_get(in[NP + 1], b));
        CHECK(jx_exe_run(e1, one, g) == 0);
        for (int i = 0; i < NP && g[i]; i++) {
            int64_t n = jx_array_size(g[i]);
            for (int64_t k = 0; k < n; k++)
                CHECK_NEAR(jx_array_get(g1[i], b * n + k), jx_array_get(g[i], k), 1e-6);
        }
        free_all(g, NP);
        jx_array_free(one[NP]), jx_array_free(one[NP + 1]);
    }
    CHECK(e1 != NULL);
    jx_exe_free(e1);
done:
    free_all(in, NP + 2), free_all(g1, NP), free_all(g2, NP), free_all(want, NP);
    jx_fn_free(f), jx_fn_free(f1);
}

TEST(per_example_weight_grads_are_one_kernel) {
    jx_type ty[NP + 2];
    mlp_types(16, 300, 128, ty);
    jx_fn *f = jx_trace(pex_cb, NP + 2, ty, NP, NULL);
    char *plan = f ? plan_of(f, 2) : NULL;
    /* layer 1's [16, 128, 300] gradients: a fused multiply of broadcasts, no K=1 GEMM */
    CHECK_CONTAINS(plan, "kernel mul -> %");
    CHECK_CONTAINS(plan, ":f32[16,128,300]=out0\n      fuses ");
    CHECK(plan && !strstr(plan, "K=1 "));
    free(plan);
    jx_fn_free(f);
}

TEST(dpsgd_clipped_sum_does_not_materialise) {
    enum { B = 8, D = 40, H = 24 };
    jx_type ty[NP + 2];
    mlp_types(B, D, H, ty);
    jx_fn *f = jx_trace(dpsgd_cb, NP + 2, ty, NP, NULL);
    char *plan = f ? plan_of(f, 1) : NULL;
    CHECK(plan && !strstr(plan, "f32[8,24,40]=")); /* no buffer of the per-example W1 grads */
    CHECK(plan && !strstr(plan, "f32[8,3,24]="));
    CHECK_CONTAINS(plan, "M=24 N=40 K=8 "); /* sum_b scale_b x_b g_b^T: one GEMM over b */
    free(plan);
    jx_array *in[NP + 2];
    mlp_inputs(B, D, H, in);
    jx_array *a1[NP] = {0}, *a2[NP] = {0};
    if (f && run_jit(f, 1, in, a1) == 0 && run_jit(f, 2, in, a2) == 0)
        for (int i = 0; i < NP; i++) CHECK(same_bits(a1[i], a2[i]));
    jit_vs_interp(f, in, 1e-5, "dpsgd"); /* frees f */
    free_all(in, NP + 2), free_all(a1, NP), free_all(a2, NP);
}

/* Outer products of every layout: batch axes anywhere and in any pairing, none, f64, an
 * empty batch; an integer one (left alone). */
static const char layouts_src[] =
    "{ lambda ; x:f32[3,4,2] g:f32[5,2] u:f32[2,3,4] v:f32[3,2,5] a:f64[3] b:f64[4] "
    "e:f32[0,3] h:f32[0,2] i:i32[3] j:i32[2]. let\n"
    "    o1:f32[2,3,4,5] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(2) "
    "rhs_batch=(1)] x g\n"
    "    o2:f32[3,2,4,5] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(1,0) "
    "rhs_batch=(0,1)] u v\n"
    "    o3:f64[3,4] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=() rhs_batch=()] a b\n"
    "    o4:f32[0,3,2] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0) "
    "rhs_batch=(0)] e h\n"
    "    o5:i32[3,2] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=() rhs_batch=()] i j\n"
    "    o6:f32[2,5] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(1,0) "
    "rhs_batch=(1,0)] g g\n"
    "  in (o1, o2, o3, o4, o5, o6) }";

/* Contractions over outer products' batch axes (s on either side, two batch axes paired
 * crosswise, an empty batch), and two that must stay: s with a free axis, and a
 * contraction over a free axis. */
static const char contract_src[] =
    "{ lambda ; x:f32[3,4,2] g:f32[5,2] s:f32[2] u:f32[2,3,4] v:f32[3,2,5] t:f32[2,3] "
    "e:f32[0,3] h:f32[0,2] z:f32[0] w:f32[2,7] q:f32[3]. let\n"
    "    o1:f32[2,3,4,5] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(2) "
    "rhs_batch=(1)] x g\n"
    "    c1:f32[3,4,5] = dot_general[lhs_contract=(0) rhs_contract=(0) lhs_batch=() "
    "rhs_batch=()] s o1\n"
    "    c2:f32[3,4,5] = dot_general[lhs_contract=(0) rhs_contract=(0) lhs_batch=() "
    "rhs_batch=()] o1 s\n"
    "    o2:f32[3,2,4,5] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(1,0) "
    "rhs_batch=(0,1)] u v\n"
    "    c3:f32[4,5] = dot_general[lhs_contract=(1,0) rhs_contract=(0,1) lhs_batch=() "
    "rhs_batch=()] t o2\n"
    "    o4:f32[0,3,2] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0) "
    "rhs_batch=(0)] e h\n"
    "    c4:f32[3,2] = dot_general[lhs_contract=(0) rhs_contract=(0) lhs_batch=() "
    "rhs_batch=()] z o4\n"
    "    c5:f32[7,3,4,5] = dot_general[lhs_contract=(0) rhs_contract=(0) lhs_batch=() "
    "rhs_batch=()] w o1\n"
    "    c6:f32[2,4,5] = dot_general[lhs_contract=(0) rhs_contract=(1) lhs_batch=() "
    "rhs_batch=()] q o1\n"
    "  in (c1, c2, c3, c4, c5, c6, o1) }";

/* Runs f and pass_outer(f) on the interpreter with the same random inputs and compares
 * every output to tol (0: bit for bit); then the JIT against the interpreter. Returns the
 * pass's text (malloc'd) or NULL. */
static char *check_pass(const char *src, double tol) {
    jx_fn *f = jx_fn_parse(src), *g = f ? pass_outer(f) : NULL;
    char *text = g ? jx_fn_to_string(g) : NULL;
    CHECK(f && g);
    if (!f || !g) goto done;
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f);
    jx_array *in[16], *want[8] = {0}, *got[8] = {0};
    rng_state = 777;
    for (int i = 0; i < n_in; i++) in[i] = rand_array(jx_fn_in_type(f, i), -3, 3, 0);
    if (jx_interp(f, in, want) == 0 && jx_interp(g, in, got) == 0)
        for (int j = 0; j < n_out; j++)
            if (tol == 0) CHECK(same_bits(got[j], want[j]));
            else same_arrays(got[j], want[j], tol, "pass vs original");
    else
        CHECK_FAIL_("interp: %s", jx_error());
    jit_vs_interp(f, in, tol, "jit"), f = NULL; /* frees f */
    free_all(in, n_in), free_all(want, n_out), free_all(got, n_out);
done:
    jx_fn_free(f);
    jx_fn_free(g);
    return text;
}

TEST(outer_products_of_every_layout_are_exact) {
    char *text = check_pass(layouts_src, 0);
    /* every float outer product became a multiply; the integer one stayed */
    CHECK(text && !strstr(text, "f32[2,3,4,5] = dot_general") && !strstr(text, "f64[3,4] = dot"));
    CHECK_CONTAINS(text, "i32[3,2] = dot_general");
    free(text);
}

TEST(contractions_over_outer_products) {
    char *text = check_pass(contract_src, 1e-6);
    /* c1..c4 are GEMMs of x*s and g (o2 and o4 are gone), c5 and c6 stay; o1, an output
     * that c5 and c6 read, is a multiply: 6 dot_generals where there were 9 */
    CHECK_CONTAINS(text, "f32[3,4,5] = dot_general[lhs_contract=(2) rhs_contract=(1)");
    CHECK_CONTAINS(text, "f32[7,3,4,5] = dot_general[lhs_contract=(0) rhs_contract=(0)");
    CHECK_CONTAINS(text, "f32[2,4,5] = dot_general[lhs_contract=(0) rhs_contract=(1)");
    int dots = 0;
    for (const char *p = text; p && (p = strstr(p, "dot_general[")); p++) dots++;
    CHECK(dots == 6);
    free(text);
}

TEST(square_of_outer_product_fuses) {
    /* sum_ij (x_i g_j)^2 per example reads x and g, not a [4, 30, 50] buffer */
    jx_fn *f = jx_fn_parse(
        "{ lambda ; x:f32[4,30] g:f32[4,50]. let\n"
        "    o:f32[4,30,50] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0) "
        "rhs_batch=(0)] x g\n"
        "    p:f32[4,30,50] = mul o o\n"
        "    n:f32[4] = reduce_sum[axes=(1,2)] p\n"
        "  in (n) }");
    char *plan = f ? plan_of(f, 1) : NULL;
    CHECK(plan && !strstr(plan, "f32[4,30,50]="));
    free(plan);
    jx_array *in[2];
    rng_state = 99;
    in[0] = rand_array(JX_TYPE(JX_F32, 4, 30), -1, 1, 0);
    in[1] = rand_array(JX_TYPE(JX_F32, 4, 50), -1, 1, 0);
    jit_vs_interp(f, in, 1e-6, "norm");
    free_all(in, 2);
}

/* Outer products of at least 4 MiB, stored non-temporally (lower_outer.c): rows whose
 * starts are not 64-byte aligned (N = 341), the row operand first (x * s, s constant
 * along the row), two batch axes in one loop group, f64, no batch axis. */
static const char big_src[] =
    "{ lambda ; x:f32[8,400] g:f32[8,341] u:f32[1024,1100] s:f32[1024] v:f32[2,4,400] "
    "w:f32[2,4,341] a:f64[4,300] b:f64[4,500] c:f32[1200] d:f32[900]. let\n"
    "    o1:f32[8,400,341] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0) "
    "rhs_batch=(0)] x g\n"
    "    o2:f32[1024,1100] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0) "
    "rhs_batch=(0)] u s\n"
    "    o3:f32[2,4,400,341] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0,1) "
    "rhs_batch=(0,1)] v w\n"
    "    o4:f64[4,300,500] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=(0) "
    "rhs_batch=(0)] a b\n"
    "    o5:f32[1200,900] = dot_general[lhs_contract=() rhs_contract=() lhs_batch=() "
    "rhs_batch=()] c d\n"
    "  in (o1, o2, o3, o4, o5) }";

TEST(large_outer_products_stream_exactly) {
    jx_fn *f = jx_fn_parse(big_src);
    CHECK(f != NULL);
    if (!f) return;
    jx_exe *k = jit_compile_keep(f, &(jx_jit_opts){NULL, 2, 1});
    char *ir = k ? jit_exe_llvm(k, 0) : NULL;
    int nt = 0;
    for (const char *p = ir; p && (p = strstr(p, "!nontemporal")); p++) nt++;
    CHECK(nt == 5); /* one vector store per kernel */
    free(ir);
    jx_exe_free(k);
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f);
    jx_array *in[10], *want[5] = {0}, *g1[5] = {0}, *g2[5] = {0};
    rng_state = 5;
    for (int i = 0; i < n_in; i++) in[i] = rand_array(jx_fn_in_type(f, i), -2, 2, i == 0);
    if (jx_interp(f, in, want) == 0 && run_jit(f, 1, in, g1) == 0 && run_jit(f, 2, in, g2) == 0)
        for (int j = 0; j < n_out; j++) { /* NaNs from the specials: any NaN */
            same_arrays(g1[j], want[j], 0, "jit vs interp");
            CHECK(same_bits(g1[j], g2[j]));
        }
    free_all(in, n_in), free_all(want, n_out), free_all(g1, n_out), free_all(g2, n_out);
    jx_fn_free(f);
}

TEST_MAIN()
