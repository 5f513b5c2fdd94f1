/* Neural-network helpers: host initializers (normal, truncated, variance
 * scaling), layers (linear, conv2d, pooling: values, gradients, errors, vmap per example)
 * and activations. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jx/nn.h>

#include "check.h"
#include "prims/threefry.h"
#include "txcheck.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "nn_util.h"

/* ---- host initializers -------------------------------------------------------------- */

TEST(init_normal_and_truncated) {
    jx_key k = jx_key_new(0);
    jx_array *a = jx_init_normal(k, JX_TYPE(JX_F32, 200, 100), 0.01);
    double m, v;
    CHECK(a != NULL);
    if (a) {
        stats(a, &m, &v);
        CHECK(fabs(m) < 5e-4);
        CHECK_NEAR(sqrt(v), 0.01, 0.02);
    }
    jx_array_free(a);
    /* the first element is the traced normal of the same key */
    a = jx_init_normal(k, JX_SCALAR(JX_F32), 2.0);
    if (a) CHECK_NEAR(jx_array_get(a, 0), 2 * -0.20584226, 5e-7);
    jx_array_free(a);
    /* Haiku default for the CNN's linear layer: |w| < 2/28, std 0.88/28 */
    a = jx_init_haiku(k, JX_TYPE(JX_F32, 784, 10));
    if (a) {
        int ok = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++) ok &= fabs(jx_array_get(a, i)) < 2.0 / 28;
        CHECK(ok);
        stats(a, &m, &v);
        CHECK_NEAR(sqrt(v), 0.87962566 / 28, 0.03);
    }
    jx_array_free(a);
    a = jx_init_truncated_normal(k, JX_TYPE(JX_F64, 1000), 3.0);
    if (a) {
        int ok = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++) ok &= fabs(jx_array_get(a, i)) < 6.0;
        CHECK(ok);
    }
    jx_array_free(a);
}

TEST(init_variance_scaling_family) {
    double fi, fo;
    jx_fans(JX_TYPE(JX_F32, 4, 4, 1, 4), &fi, &fo);
    CHECK(fi == 16 && fo == 64);
    jx_fans(JX_TYPE(JX_F32, 784, 10), &fi, &fo);
    CHECK(fi == 784 && fo == 10);
    jx_fans(JX_TYPE(JX_F32, 5), &fi, &fo);
    CHECK(fi == 5 && fo == 5);
    jx_key k = jx_key_new(5);
    jx_array *a = jx_init_glorot_uniform(k, JX_TYPE(JX_F32, 300, 100));
    double lim = sqrt(6.0 / 400), m, v;
    if (a) {
        int ok = 1;
        for (int64_t i = 0; i < jx_array_size(a); i++) ok &= fabs(jx_array_get(a, i)) <= lim;
        CHECK(ok);
        stats(a, &m, &v);
        CHECK_NEAR(v, 1.0 / 200, 0.05);
    }
    jx_array_free(a);
    jx_array *b[4] = {jx_init_glorot_normal(k, JX_TYPE(JX_F32, 300, 100)),
                      jx_init_he_normal(k, JX_TYPE(JX_F32, 300, 100)),
                      jx_init_he_uniform(k, JX_TYPE(JX_F32, 300, 100)),
                      jx_init_lecun_normal(k, JX_TYPE(JX_F32, 300, 100))};
    double want[4] = {1.0 / 200, 2.0 / 300, 2.0 / 300, 1.0 / 300};
    for (int i = 0; i < 4; i++) {
        CHECK(b[i] != NULL);
        if (!b[i]) continue;
        stats(b[i], &m, &v);
        CHECK_NEAR(v, want[i], 0.05);
    }
    txc_free(4, b);
    jx_array *z = jx_init_zeros(JX_TYPE(JX_F64, 3));
    CHECK(z && jx_array_get(z, 2) == 0);
    jx_array_free(z);
    CHECK(jx_init_normal(k, JX_TYPE(JX_I32, 3), 1.0) == NULL);
    CHECK_CONTAINS(jx_error(), "init_normal");
    CHECK_CONTAINS(jx_error(), "i32[3]");
}

/* ---- layers ------------------------------------------------------------------------- */

static void f_linear(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_linear(in[0], in[1], in[2]);
}

TEST(linear_values_and_grad) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 3, 2), JX_TYPE(JX_F32, 2)};
    jx_fn *f = jx_trace(f_linear, 3, ts, 1, NULL);
    double x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, 0, 1, 1, 1}, b[2] = {10, 20};
    jx_array *in[3] = {tst_from(ts[0], x), tst_from(ts[1], w), tst_from(ts[2], b)}, *o = NULL;
    CHECK(f && jx_interp(f, in, &o) == 0);
    double want[4] = {14, 25, 20, 31};
    check_arr(o, want, 4, 0);
    jx_array_free(o);
    txc_free(3, in);
    jx_fn_free(f);
    /* per-example x[3] and a batch [2,2,3]; f64 gradients */
    jx_type g1[3] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, 3, 2), JX_TYPE(JX_F64, 2)};
    jx_type g2[3] = {JX_TYPE(JX_F64, 2, 2, 3), JX_TYPE(JX_F64, 3, 2), JX_TYPE(JX_F64, 2)};
    for (int k = 0; k < 2; k++) {
        f = jx_trace(f_linear, 3, k ? g2 : g1, 1, NULL);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
    /* no bias, and a mismatch error */
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 5, 2)});
    jx_val r = jx_linear(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_NOVAL);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "linear");
    CHECK_CONTAINS(jx_trace_error(t), "f32[4,3]");
    CHECK_CONTAINS(jx_trace_error(t), "f32[5,2]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn_layers.c");
    jx_trace_abort(t);
    t = jx_trace_begin(3, (jx_type[]){JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 3, 2), JX_TYPE(JX_F32, 3)});
    r = jx_linear(jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "bias f32[3] does not match the output f32[4,2]");
    jx_trace_abort(t);
}

typedef struct {
    int sh, sw;
    jx_padding pad;
    int bias;
} conv_args;

static void f_conv(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    conv_args *c = u;
    out[0] = jx_conv2d(in[0], in[1], c->bias ? in[2] : JX_NOVAL, JX_INTS(c->sh, c->sw), c->pad);
}

/* TF padding of one spatial axis of size n under a window k with stride s: the output
 * size into *out; returns the padding before the first element. */
static int64_t ref_window(int64_t n, int64_t k, int64_t s, jx_padding pad, int64_t *out) {
    if (pad != JX_SAME) {
        *out = (n - k) / s + 1;
        return 0;
    }
    *out = (n + s - 1) / s;
    int64_t total = (*out - 1) * s + k - n;
    return total > 0 ? total / 2 : 0;
}

/* Naive NHWC/HWIO convolution with TF padding into y (size N*OH*OW*O). */
static void ref_conv(const jx_array *x, const jx_array *w, const jx_array *b, const conv_args *c,
                     int64_t *oh, int64_t *ow, double *y) {
    int64_t N = jx_array_dim(x, 0), H = jx_array_dim(x, 1), W = jx_array_dim(x, 2),
            C = jx_array_dim(x, 3), KH = jx_array_dim(w, 0), KW = jx_array_dim(w, 1),
            O = jx_array_dim(w, 3);
    int64_t plh = ref_window(H, KH, c->sh, c->pad, oh), plw = ref_window(W, KW, c->sw, c->pad, ow);
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < *oh; i++)
            for (int64_t j = 0; j < *ow; j++)
                for (int64_t o = 0; o < O; o++) {
                    double s = b ? jx_array_get(b, o) : 0;
                    for (int64_t ki = 0; ki < KH; ki++)
                        for (int64_t kj = 0; kj < KW; kj++)
                            for (int64_t ci = 0; ci < C; ci++) {
                                int64_t hi = i * c->sh - plh + ki, wi = j * c->sw - plw + kj;
                                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                                s += jx_array_get(x, ((n * H + hi) * W + wi) * C + ci) *
                                     jx_array_get(w, ((ki * KW + kj) * C + ci) * O + o);
                            }
                    y[((n * *oh + i) * *ow + j) * O + o] = s;
                }
}

TEST(conv2d_values) {
    /* hand-computed: 3x3 image 1..9, 2x2 ones kernel */
    jx_type ts[2] = {JX_TYPE(JX_F32, 1, 3, 3, 1), JX_TYPE(JX_F32, 2, 2, 1, 1)};
    double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1};
    jx_array *in[2] = {tst_from(ts[0], x), tst_from(ts[1], w)}, *o = NULL;
    conv_args cv = {1, 1, JX_VALID, 0}, cs = {1, 1, JX_SAME, 0};
    jx_fn *f = jx_trace(f_conv, 2, ts, 1, &cv);
    CHECK(f && jx_interp(f, in, &o) == 0);
    double want_v[4] = {12, 16, 24, 28};
    check_arr(o, want_v, 4, 0);
    jx_array_free(o);
    jx_fn_free(f);
    f = jx_trace(f_conv, 2, ts, 1, &cs); /* SAME, k=2: pad 0 before, 1 after */
    CHECK(f && jx_interp(f, in, &o) == 0);
    double want_s[9] = {12, 16, 9, 24, 28, 15, 15, 17, 9};
    check_arr(o, want_s, 9, 0);
    jx_array_free(o);
    jx_fn_free(f);
    txc_free(2, in);
    /* random shapes against the naive reference */
    conv_args cases[4] = {{1, 1, JX_SAME, 1}, {2, 2, JX_SAME, 1}, {2, 1, JX_VALID, 1}, {3, 2, JX_SAME, 0}};
    jx_type rt[3] = {JX_TYPE(JX_F32, 2, 7, 6, 3), JX_TYPE(JX_F32, 3, 4, 3, 2), JX_TYPE(JX_F32, 2)};
    for (int k = 0; k < 4; k++) {
        jx_array *ri[3] = {txc_random(rt[0], -1, 1), txc_random(rt[1], -1, 1), txc_random(rt[2], -1, 1)};
        f = jx_trace(f_conv, 3, rt, 1, &cases[k]);
        CHECK(f && jx_interp(f, ri, &o) == 0);
        double y[2 * 7 * 6 * 2];
        int64_t oh, ow;
        ref_conv(ri[0], ri[1], cases[k].bias ? ri[2] : NULL, &cases[k], &oh, &ow, y);
        CHECK(o && jx_array_dim(o, 1) == oh && jx_array_dim(o, 2) == ow);
        check_arr(o, y, 2 * oh * ow * 2, 1e-5);
        jx_array_free(o);
        jx_fn_free(f);
        txc_free(3, ri);
    }
}

TEST(conv2d_single_image_grad_and_errors) {
    /* one image [H,W,C] equals the batched result; gradients in f64 */
    conv_args c = {2, 2, JX_SAME, 1};
    jx_type t1[3] = {JX_TYPE(JX_F64, 5, 4, 2), JX_TYPE(JX_F64, 3, 3, 2, 3), JX_TYPE(JX_F64, 3)};
    jx_fn *f = jx_trace(f_conv, 3, t1, 1, &c);
    CHECK(f && jx_fn_out_type(f, 0).rank == 3 && jx_fn_out_type(f, 0).shape[0] == 3);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
    conv_args c2 = {1, 1, JX_VALID, 1};
    jx_type t2[3] = {JX_TYPE(JX_F64, 2, 5, 5, 1), JX_TYPE(JX_F64, 4, 4, 1, 2), JX_TYPE(JX_F64, 2)};
    f = jx_trace(f_conv, 3, t2, 1, &c2);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 1, 8, 8, 3), JX_TYPE(JX_F32, 3, 3, 2, 4)});
    jx_val r = jx_conv2d(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_NOVAL, JX_INTS(1), JX_SAME);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "conv2d");
    CHECK_CONTAINS(jx_trace_error(t), "input channels");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn_layers.c");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 1, 2, 8, 3), JX_TYPE(JX_F32, 3, 3, 3, 4)});
    r = jx_conv2d(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_NOVAL, JX_INTS(1), JX_VALID);
    CHECK_CONTAINS(jx_trace_error(t), "larger than the input 2x8");
    jx_trace_abort(t);
}

typedef struct {
    int kh, kw, sh, sw;
    jx_padding pad;
    int avg;
} pool_args;

static void f_pool(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    pool_args *p = u;
    jx_ints w = JX_INTS(p->kh, p->kw), s = JX_INTS(p->sh, p->sw);
    out[0] = p->avg ? jx_avg_pool(in[0], w, s, p->pad) : jx_max_pool(in[0], w, s, p->pad);
}

/* Naive pooling of x[N,H,W,C] into y. */
static void ref_pool(const jx_array *x, const pool_args *p, int64_t *oh, int64_t *ow, double *y) {
    int64_t N = jx_array_dim(x, 0), H = jx_array_dim(x, 1), W = jx_array_dim(x, 2),
            C = jx_array_dim(x, 3);
    int64_t plh = ref_window(H, p->kh, p->sh, p->pad, oh),
            plw = ref_window(W, p->kw, p->sw, p->pad, ow);
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < *oh; i++)
            for (int64_t j = 0; j < *ow; j++)
                for (int64_t c = 0; c < C; c++) {
                    double m = -INFINITY, s = 0, cnt = 0;
                    for (int64_t a = 0; a < p->kh; a++)
                        for (int64_t b = 0; b < p->kw; b++) {
                            int64_t hi = i * p->sh - plh + a, wi = j * p->sw - plw + b;
                            if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                            double v = jx_array_get(x, ((n * H + hi) * W + wi) * C + c);
                            m = v > m ? v : m;
                            s += v;
                            cnt++;
                        }
                    y[((n * *oh + i) * *ow + j) * C + c] = p->avg ? s / cnt : m;
                }
}

TEST(pool_values) {
    /* 2x2 stride 2 VALID by hand */
    jx_type t4 = JX_TYPE(JX_F32, 1, 4, 4, 1);
    double x[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, -1, -2, 9, 0, -3, -4};
    pool_args p = {2, 2, 2, 2, JX_VALID, 0};
    jx_fn *f = jx_trace(f_pool, 1, &t4, 1, &p);
    jx_array *in = tst_from(t4, x), *o = NULL;
    CHECK(f && jx_interp(f, &in, &o) == 0);
    double want[4] = {5, 8, 9, -1};
    check_arr(o, want, 4, 0);
    jx_array_free(o);
    jx_fn_free(f);
    jx_array_free(in);
    /* every geometry against the naive reference (max and avg) */
    pool_args cases[6] = {{2, 2, 2, 2, JX_VALID, 0}, {2, 2, 2, 2, JX_SAME, 0}, {3, 3, 1, 1, JX_SAME, 0},
                          {3, 2, 2, 1, JX_VALID, 0}, {2, 2, 2, 2, JX_SAME, 1}, {3, 3, 2, 2, JX_SAME, 1}};
    jx_type rt = JX_TYPE(JX_F32, 2, 5, 7, 2);
    for (int k = 0; k < 6; k++) {
        jx_array *ri = txc_random(rt, -1, 1);
        f = jx_trace(f_pool, 1, &rt, 1, &cases[k]);
        CHECK(f && jx_interp(f, &ri, &o) == 0);
        double y[2 * 5 * 7 * 2];
        int64_t oh, ow;
        ref_pool(ri, &cases[k], &oh, &ow, y);
        CHECK(o && jx_array_dim(o, 1) == oh && jx_array_dim(o, 2) == ow);
        check_arr(o, y, 2 * oh * ow * 2, 1e-6);
        jx_array_free(o);
        jx_array_free(ri);
        jx_fn_free(f);
    }
}

TEST(pool_grad_flatten_and_errors) {
    pool_args cases[3] = {{2, 2, 2, 2, JX_VALID, 0}, {3, 3, 1, 1, JX_SAME, 0}, {3, 3, 2, 2, JX_SAME, 1}};
    jx_type rt = JX_TYPE(JX_F64, 1, 4, 5, 2);
    for (int k = 0; k < 3; k++) {
        jx_fn *f = jx_trace(f_pool, 1, &rt, 1, &cases[k]);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
    jx_trace *t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 2, 3, 4, 5)});
    jx_val r = jx_flatten(jx_trace_input(t, 0));
    jx_type rt2 = jx_val_type(r);
    CHECK(rt2.rank == 2 && rt2.shape[0] == 2 && rt2.shape[1] == 60);
    r = jx_max_pool(jx_trace_input(t, 0), JX_INTS(2, 2, 2), JX_INTS(2), JX_VALID);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "max_pool");
    CHECK_CONTAINS(jx_trace_error(t), "f32[2,3,4,5]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn_layers.c");
    jx_trace_abort(t);
}

static void f_image_net(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val h = jx_relu(jx_conv2d(in[0], in[1], in[2], JX_INTS(1), JX_SAME));
    h = jx_max_pool(h, JX_INTS(2), JX_INTS(2), JX_VALID);
    jx_val logits = jx_linear(jx_reshape(h, JX_INTS(2 * 2 * 3)), in[3], JX_NOVAL);
    out[0] = jx_softmax_cross_entropy(logits, in[4]);
}

TEST(vmap_per_example_net) {
    /* a per-example image net (one image [H,W,C], a scalar label) vmapped over the batch
     * with the weights unbatched, against a loop over the examples */
    jx_type ts[5] = {JX_TYPE(JX_F64, 4, 5, 2), JX_TYPE(JX_F64, 3, 3, 2, 3), JX_TYPE(JX_F64, 3),
                     JX_TYPE(JX_F64, 12, 4), JX_SCALAR(JX_I32)};
    jx_fn *f = jx_trace(f_image_net, 5, ts, 1, NULL);
    CHECK(f != NULL);
    if (f) txc_vmap(f, (int[]){0, JX_NONE, JX_NONE, JX_NONE, 0}, 3, -1, 1, 1e-12);
    jx_fn_free(f);
}

/* ---- activations -------------------------------------------------------------------- */

static void f_acts(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_gelu(in[0], 1);
    out[1] = jx_gelu(in[0], 0);
    out[2] = jx_leaky_relu(in[0], 0.1);
    out[3] = jx_elu(in[0], 2.0);
    out[4] = jx_softplus(in[0]);
    out[5] = jx_silu(in[0]);
    out[6] = jx_log_sigmoid(in[0]);
}

TEST(activations) {
    double x[5] = {-30, -1.5, 0.25, 2, 40};
    jx_type ty = JX_TYPE(JX_F64, 5);
    jx_fn *f = jx_trace(f_acts, 1, &ty, 7, NULL);
    jx_array *in = tst_from(ty, x), *o[7] = {0};
    CHECK(f && jx_interp(f, &in, o) == 0);
    for (int i = 0; o[0] && i < 5; i++) {
        double v = x[i], sg = 1 / (1 + exp(-v));
        double ga = 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (v + 0.044715 * v * v * v)));
        CHECK_NEAR(jx_array_get(o[0], i), ga, 1e-12);
        CHECK_NEAR(jx_array_get(o[1], i), 0.5 * v * (1 + erf(v / sqrt(2))), 1e-12);
        CHECK_NEAR(jx_array_get(o[2], i), v >= 0 ? v : 0.1 * v, 1e-15);
        CHECK_NEAR(jx_array_get(o[3], i), v > 0 ? v : 2 * expm1(v), 1e-15);
        CHECK_NEAR(jx_array_get(o[4], i), v > 30 ? v : log1p(exp(v)), 1e-14);
        CHECK_NEAR(jx_array_get(o[5], i), v * sg, 1e-14);
        CHECK_NEAR(jx_array_get(o[6], i), v < -30 ? v : log(sg), 1e-14);
    }
    txc_free(7, o);
    jx_array_free(in);
    if (f) txc_grad(f, -3, 3, 1e-6);
    jx_fn_free(f);
}

TEST_MAIN()
