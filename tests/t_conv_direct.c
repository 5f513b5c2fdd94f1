/* Direct convolution (issue 12, deliverable 2): the conv-direct pass and the JIT's direct
 * kernels against the interpreter of the patch form, and the per-shape choice as the plan
 * text shows it.
 *  - every direction (conv, conv_backprop_input, conv_backprop_filter) across windows,
 *    strides, asymmetric and oversized pads, channel counts 1..64, batch 1 and odd widths
 *    (shorter and longer than a vector, and not a multiple of it), f32 and f64, with the
 *    direct kernels forced (JX_CONV=direct) and with the patch GEMMs forced (=gemm);
 *  - the rule: small channel counts take the direct kernels, large ones the patch GEMMs;
 *  - the Haiku CNN's value_and_grad: the direct kernels with bias and relu in the conv's
 *    loop, its gradients equal to the interpreter's;
 *  - an infinite pixel that only the masked lanes of the filter kernel see stays out of
 *    the filter gradient; results do not depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"
#include "jitcheck.h"
#include "jx/nn.h"

/* A convolution case: batch, image, channels, window, strides, pads. */
typedef struct cc {
    int64_t n, h, w, c, o, kh, kw, sh, sw, ph0, pw0, ph1, pw1;
} cc;

/* Output extent of one axis of case k. */
static int64_t cc_out(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1) {
    return (in + p0 + p1 - k) / s + 1;
}

/* The three directions of case k in patch form: inputs x [N,H,W,C], w [KH*KW*C,O], g
 * [N,OH,OW,O]; outputs y = conv(x, w), dx = the input gradient of g, dw = the filter
 * gradient of g, db = g summed over (n, oh, ow) (the bias gradient, which the direct
 * filter kernel computes as its bias row). NULL on a trace error. */
static jx_fn *cc_fn(const cc *k, jx_dtype dt) {
    int64_t oh = cc_out(k->h, k->kh, k->sh, k->ph0, k->ph1);
    int64_t ow = cc_out(k->w, k->kw, k->sw, k->pw0, k->pw1);
    jx_type ts[3] = {JX_TYPE(dt, k->n, k->h, k->w, k->c), JX_TYPE(dt, k->kh * k->kw * k->c, k->o),
                     JX_TYPE(dt, k->n, oh, ow, k->o)};
    jx_trace *t = jx_trace_begin(3, ts);
    jx_val x = jx_trace_input(t, 0), w = jx_trace_input(t, 1), g = jx_trace_input(t, 2);
    jx_ints win = JX_INTS(k->kh, k->kw), st = JX_INTS(k->sh, k->sw);
    jx_ints lo = JX_INTS(k->ph0, k->pw0), hi = JX_INTS(k->ph1, k->pw1);
    jx_val p = jx_conv_patches(x, win, st, lo, hi);
    jx_val r[4];
    r[0] = jx_dot_general(p, w, JX_INTS(3), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    r[1] = jx_conv_patches_t(jx_dot_general(g, w, JX_INTS(3), JX_INTS(1), JX_NOINTS, JX_NOINTS),
                             JX_INTS(k->h, k->w), win, st, lo, hi);
    r[2] = jx_dot_general(p, g, JX_INTS(0, 1, 2), JX_INTS(0, 1, 2), JX_NOINTS, JX_NOINTS);
    r[3] = jx_reduce_sum(g, JX_INTS(0, 1, 2));
    return jx_trace_end(t, 4, r);
}

/* The plan text of f compiled with n_threads threads (malloc'd; NULL on failure). */
static char *plan_of(const jx_fn *f, int n_threads) {
    jx_exe *e = jit_compile_keep(f, &(jx_jit_opts){NULL, n_threads, 1});
    char *s = e ? jit_exe_plan(e) : NULL;
    jx_exe_free(e);
    return s;
}

/* 1 if a line of text contains both a and b. */
static int has_line_with(const char *text, const char *a, const char *b) {
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *e = strchr(l, '\n'), *pa = strstr(l, a), *pb = strstr(l, b);
        if (pa && pb && (!e || (pa < e && pb < e))) return 1;
    }
    return 0;
}

/* Checks case k (dtype dt) with JX_CONV=mode: the plan holds the direct ops (mode
 * "direct") or none of them ("gemm"), and the JIT matches the interpreter. */
static void cc_check(const cc *k, jx_dtype dt, const char *mode) {
    char what[200];
    snprintf(what, sizeof what, "%s n%lld %lldx%lldx%lld->%lld win %lldx%lld s %lldx%lld pad "
             "%lld,%lld,%lld,%lld %s", mode, (long long)k->n, (long long)k->h, (long long)k->w,
             (long long)k->c, (long long)k->o, (long long)k->kh, (long long)k->kw,
             (long long)k->sh, (long long)k->sw, (long long)k->ph0, (long long)k->pw0,
             (long long)k->ph1, (long long)k->pw1, jx_dtype_name(dt));
    setenv("JX_CONV", mode, 1);
    jx_fn *f = cc_fn(k, dt);
    char *plan = f ? plan_of(f, 1) : NULL;
    int direct = !strcmp(mode, "direct");
    if (!plan) CHECK_FAIL_("%s: no plan: %s", what, jx_error());
    else if (direct !=
                 (strstr(plan, "kernel conv (direct") &&
                  strstr(plan, "kernel conv_backprop_input") &&
                  strstr(plan, "kernel conv_backprop_filter") && strstr(plan, ", bias row)")) ||
             direct == (strstr(plan, "conv_patches") != NULL))
        CHECK_FAIL_("%s: unexpected plan\n%s", what, plan);
    free(plan);
    jx_type ts[3];
    for (int i = 0; f && i < 3; i++) ts[i] = jx_fn_in_type(f, i);
    jx_array *in[3] = {0};
    for (int i = 0; f && i < 3; i++) in[i] = rand_array(ts[i], -1, 1, 0);
    if (f) jit_vs_interp(f, in, dt == JX_F32 ? 2e-5 : 1e-12, what);
    for (int i = 0; i < 3; i++) jx_array_free(in[i]);
    unsetenv("JX_CONV");
}

/* Windows, strides, pads and channel counts, each case small enough for the interpreter. */
static const cc cases[] = {
    {2, 28, 28, 4, 4, 4, 4, 1, 1, 1, 1, 2, 2},   /* the Haiku CNN's second conv (SAME) */
    {1, 28, 28, 1, 4, 4, 4, 1, 1, 1, 1, 2, 2},   /* its first, batch 1 */
    {3, 7, 13, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1},    /* odd widths below a vector */
    {2, 9, 33, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1},    /* 33 = 2 vectors + 1 */
    {2, 11, 17, 5, 7, 5, 3, 2, 2, 2, 1, 2, 1},   /* strides 2 */
    {1, 10, 21, 4, 6, 3, 2, 1, 3, 0, 0, 0, 0},   /* VALID, stride 3 along the width */
    {2, 6, 20, 3, 2, 3, 3, 3, 2, 0, 3, 2, 0},    /* asymmetric pads */
    {1, 5, 9, 2, 2, 2, 2, 1, 1, 4, 5, 3, 6},     /* pads beyond the window (crops the dx copy) */
    {2, 8, 8, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1},   /* wider channels */
    {1, 6, 19, 64, 2, 2, 2, 1, 1, 0, 0, 1, 1},   /* 64 input channels */
    {1, 6, 18, 2, 64, 3, 3, 1, 2, 1, 1, 1, 1},   /* 64 output channels */
    {3, 4, 1, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0},     /* width 1, 1x1 window */
    {1, 3, 40, 1, 1, 1, 5, 1, 1, 0, 2, 0, 2},    /* one channel in and out, a 1x5 window */
    {2, 9, 11, 8, 3, 3, 3, 2, 2, 1, 0, 1, 2},    /* 8 channels, strides 2: patch kernels */
};

TEST(direct_kernels_match_the_interpreter) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cc_check(&cases[i], JX_F32, "direct");
    cc_check(&cases[4], JX_F64, "direct");
    cc_check(&cases[2], JX_F64, "direct");
}

TEST(patch_gemms_match_the_interpreter) {
    /* (the patch kernels of src/prims/conv_kernel_patch.c take images of 8 channels or more) */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) cc_check(&cases[i], JX_F32, "gemm");
    cc_check(&cases[13], JX_F64, "gemm");
}

TEST(the_rule_picks_direct_for_small_channels_and_gemm_for_large) {
    unsetenv("JX_CONV");
    static const cc small = {2, 14, 14, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1};
    static const cc large = {1, 6, 6, 64, 128, 3, 3, 1, 1, 1, 1, 1, 1};
    for (int which = 0; which < 2; which++) {
        const cc *k = which ? &large : &small;
        jx_fn *f = cc_fn(k, JX_F32);
        char *plan = f ? plan_of(f, 1) : NULL;
        if (which == 0) {
            CHECK_CONTAINS(plan, "kernel conv (direct: window 3x3, 8->16 channels");
            CHECK_CONTAINS(plan, "kernel conv_backprop_input (direct");
            CHECK_CONTAINS(plan, "kernel conv_backprop_filter (direct");
            CHECK(plan && !strstr(plan, "conv_patches"));
        } else {
            CHECK_CONTAINS(plan, "kernel conv_patches ");
            CHECK_CONTAINS(plan, "kernel conv_patches_t");
            CHECK_CONTAINS(plan, "gemm sgemm");
            CHECK(plan && !strstr(plan, "(direct"));
        }
        free(plan);
        jx_array *in[3];
        for (int i = 0; f && i < 3; i++) in[i] = rand_array(jx_fn_in_type(f, i), -1, 1, 0);
        if (f) jit_vs_interp(f, in, 1e-4, which ? "large: patch GEMMs" : "small: direct");
        for (int i = 0; f && i < 3; i++) jx_array_free(in[i]);
    }
}

/* The Haiku CNN's loss (examples/mnist_cnn.c) on (params..., x, labels). */
static void cnn_loss(jx_trace *t, const jx_val *p, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_relu(jx_conv2d(p[6], p[0], p[1], JX_INTS(1), JX_SAME));
    h = jx_relu(jx_conv2d(h, p[2], p[3], JX_INTS(1), JX_SAME));
    h = jx_max_pool(h, JX_INTS(2), JX_INTS(2), JX_VALID);
    out[0] = jx_sum_all(jx_softmax_cross_entropy(jx_linear(jx_flatten(h), p[4], p[5]), p[7]));
}

/* value_and_grad of the CNN loss wrt the params at batch n. */
static jx_fn *cnn_vg(int64_t n) {
    jx_type ts[8] = {JX_TYPE(JX_F32, 4, 4, 1, 4), JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 4, 4, 4, 4),
                     JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 784, 10), JX_TYPE(JX_F32, 10),
                     JX_TYPE(JX_F32, n, 28, 28, 1), JX_TYPE(JX_I32, n)};
    jx_fn *loss = jx_trace(cnn_loss, 8, ts, 1, NULL);
    jx_fn *vg = loss ? jx_value_and_grad(loss, 6, (int[]){0, 1, 2, 3, 4, 5}) : NULL;
    jx_fn_free(loss);
    return vg;
}

/* Random CNN inputs at batch n (labels in 0..9; biases nonzero so relu's kink matters). */
static void cnn_inputs(const jx_fn *f, jx_array **in) {
    for (int i = 0; i < 8; i++)
        in[i] = rand_array(jx_fn_in_type(f, i), i == 6 ? 0 : -0.5, i == 7 ? 10 : 0.5, 0);
}

TEST(cnn_gradients_match_the_interpreter_with_bias_and_relu_fused) {
    unsetenv("JX_CONV");
    jx_fn *f = cnn_vg(8);
    char *plan = f ? plan_of(f, 1) : NULL;
    CHECK_CONTAINS(plan, "kernel conv (direct: window 4x4, 1->4 channels, ");
    CHECK_CONTAINS(plan, "kernel conv (direct: window 4x4, 4->4 channels, ");
    CHECK_CONTAINS(plan, "kernel conv_backprop_input (direct: window 4x4, 4->4 channels");
    CHECK_CONTAINS(plan, "kernel conv_backprop_filter (direct: window 4x4, 1->4 channels");
    /* the biases' gradients are the filter kernels' bias rows, not reductions of their own */
    const char *bf =
        plan ? strstr(plan, "kernel conv_backprop_filter (direct: window 4x4, 4->4") : NULL;
    CHECK(bf && strstr(bf, ", bias row)") && !has_line_with(plan, "kernel reduce_sum", ":f32[4]="));
    /* bias add and relu in the conv's loop; the relu mask in the input gradient's */
    const char *c0 = plan ? strstr(plan, "kernel conv (direct") : NULL;
    CHECK(c0 && strstr(c0, "kernel add (in the loop of step") &&
          strstr(c0, "kernel max (in the loop of step"));
    const char *bi = plan ? strstr(plan, "kernel conv_backprop_input") : NULL;
    CHECK(bi && strstr(bi, "kernel select (in the loop of step"));
    CHECK(plan && !strstr(plan, "conv_patches"));
    free(plan);
    jx_array *in[8] = {0};
    if (f) cnn_inputs(f, in);
    if (f) jit_vs_interp(f, in, 1e-4, "CNN value_and_grad, direct kernels");
    setenv("JX_CONV", "gemm", 1);
    f = cnn_vg(8);
    plan = f ? plan_of(f, 1) : NULL;
    CHECK_CONTAINS(plan, "kernel conv_patches ");
    CHECK(plan && !strstr(plan, "(direct"));
    free(plan);
    if (f) jit_vs_interp(f, in, 1e-4, "CNN value_and_grad, patch GEMMs");
    unsetenv("JX_CONV");
    for (int i = 0; i < 8; i++) jx_array_free(in[i]);
}

TEST(masked_lanes_keep_an_infinite_pixel_out_of_the_filter_gradient) {
    /* width 20: the second run of 16 columns has 12 lanes past the output; the last
     * column's pixel is inf, which tap kw = 0 never reads at a real output column */
    static const cc k = {1, 3, 20, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1};
    jx_fn *f = cc_fn(&k, JX_F32);
    jx_array *in[3] = {0};
    for (int i = 0; f && i < 3; i++) in[i] = rand_array(jx_fn_in_type(f, i), -1, 1, 0);
    if (f) jx_array_set(in[0], 19, INFINITY); /* x[0, 0, 19, 0] */
    setenv("JX_CONV", "direct", 1);
    jx_array *out[4] = {0};
    jx_exe *e = f ? jx_jit(f, NULL) : NULL;
    CHECK(e && jx_exe_run(e, in, out) == 0);
    if (out[2]) { /* dw rows (kh, kw=0): finite; the interpreter agrees */
        for (int kh = 0; kh < 3; kh++) CHECK(isfinite(jx_array_get(out[2], kh * 3)));
    }
    for (int i = 0; i < 4; i++) jx_array_free(out[i]);
    jx_exe_free(e);
    if (f) jit_vs_interp(f, in, 2e-5, "inf pixel");
    unsetenv("JX_CONV");
    for (int i = 0; i < 3; i++) jx_array_free(in[i]);
}

TEST(results_do_not_depend_on_the_thread_count) {
    unsetenv("JX_CONV");
    jx_fn *f = cnn_vg(64);
    jx_array *in[8] = {0}, *o1[8] = {0}, *o2[8] = {0};
    if (f) cnn_inputs(f, in);
    jx_exe *e1 = f ? jx_jit(f, &(jx_jit_opts){NULL, 1, 1}) : NULL;
    jx_exe *e2 = f ? jx_jit(f, &(jx_jit_opts){NULL, 2, 1}) : NULL;
    CHECK(e1 && e2 && jx_exe_run(e1, in, o1) == 0 && jx_exe_run(e2, in, o2) == 0);
    char *ll = NULL;
    jx_exe *k = f ? jit_compile_keep(f, &(jx_jit_opts){NULL, 2, 1}) : NULL;
    ll = k ? jit_exe_llvm(k, 0) : NULL;
    CHECK(ll && strstr(ll, "jx_rt_parallel")); /* the conv kernels are split at batch 64 */
    free(ll);
    jx_exe_free(k);
    for (int j = 0; j < 7 && o1[j] && o2[j]; j++)
        CHECK(jx_array_nbytes(o1[j]) == jx_array_nbytes(o2[j]) &&
              !memcmp(jx_array_cdata(o1[j]), jx_array_cdata(o2[j]), jx_array_nbytes(o1[j])));
    for (int i = 0; i < 8; i++) {
        jx_array_free(in[i]);
        jx_array_free(o1[i]);
        jx_array_free(o2[i]);
    }
    jx_exe_free(e1);
    jx_exe_free(e2);
    jx_fn_free(f);
}

TEST_MAIN()
