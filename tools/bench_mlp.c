/* See bench_mlp.h. Moved here from jxbench.c so that jxbench-all (./tools/bench) times the
 * same step and reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"

const int bm_sizes[4] = {784, 512, 512, 10};

/* See bench_mlp.h. */
double bm_urand(unsigned long long *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* ---- the jx step, as a user writes it -------------------------------------------------- */

/* See bench_mlp.h. */
void bm_predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val a = in[6];
    for (int l = 0; l < 2; l++) a = jx_relu(jx_add(jx_matvec(in[2 * l], a), in[2 * l + 1]));
    jx_val logits = jx_add(jx_matvec(in[4], a), in[5]);
    out[0] = jx_sub(logits, jx_logsumexp(logits, 0));
}

/* Context of bm_loss and bm_update: the function they call. */
typedef struct bm_ctx {
    const jx_fn *callee;
} bm_ctx;

/* loss(params..., x[B,784], y[B,10]) = -mean(sum(batched_predict(params, x) * y, 1)). */
static void bm_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const bm_ctx *c = user;
    jx_val logp;
    jx_call(c->callee, in, &logp); /* params..., x */
    out[0] = jx_neg(jx_mean(jx_sum(jx_mul(logp, in[7]), 1, 0), 0, 0));
}

/* update(params..., x, y) = (params - lr * grads..., loss). */
static void bm_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const bm_ctx *c = user;
    jx_val vg[1 + BM_NP];
    jx_call(c->callee, in, vg);
    for (int i = 0; i < BM_NP; i++) out[i] = jx_sub(in[i], jx_mul(jx_lit(vg[1 + i], BM_LR), vg[1 + i]));
    out[BM_NP] = vg[0];
}

/* The input types: W1 b1 W2 b2 W3 b3 (n_out, n_in layout), then x[batch, 784] (or x[784]
 * when batch < 0) and y[batch, 10]. */
void bm_types(int batch, jx_type *ty) {
    for (int l = 0; l < 3; l++) {
        ty[2 * l] = JX_TYPE(JX_F32, bm_sizes[l + 1], bm_sizes[l]);
        ty[2 * l + 1] = JX_TYPE(JX_F32, bm_sizes[l + 1]);
    }
    ty[6] = batch < 0 ? JX_TYPE(JX_F32, bm_sizes[0]) : JX_TYPE(JX_F32, batch, bm_sizes[0]);
    ty[7] = JX_TYPE(JX_F32, batch, bm_sizes[3]);
}

/* Traces the whole training step for a batch; NULL with jx_error() on failure. */
jx_fn *bm_step_fn(int batch) {
    jx_type ty1[8], ty[8];
    bm_types(-1, ty1);
    bm_types(batch, ty);
    jx_fn *pred = jx_trace(bm_predict, 7, ty1, 1, NULL);
    static const int in_axes[7] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0};
    jx_fn *bpred = pred ? jx_vmap(pred, in_axes, NULL, batch) : NULL;
    bm_ctx c = {bpred};
    jx_fn *loss = bpred ? jx_trace(bm_loss, 8, ty, 1, &c) : NULL;
    static const int wrt[BM_NP] = {0, 1, 2, 3, 4, 5};
    jx_fn *vg = loss ? jx_value_and_grad(loss, BM_NP, wrt) : NULL;
    c.callee = vg;
    jx_fn *step = vg ? jx_trace(bm_update, 8, ty, BM_NP + 1, &c) : NULL;
    jx_fn_free(pred);
    jx_fn_free(bpred);
    jx_fn_free(loss);
    jx_fn_free(vg);
    return step;
}

/* Compiles the step with the params donated and n threads. */
jx_exe *bm_jit(const jx_fn *f, int n_threads, int no_disk_cache) {
    static const unsigned char donate[8] = {1, 1, 1, 1, 1, 1, 0, 0};
    jx_jit_opts o = {donate, n_threads, no_disk_cache};
    return jx_jit(f, &o);
}

/* ---- state shared by both implementations ------------------------------------------------ */

/* Host pointer of parameter i of the reference model (W1 b1 W2 b2 W3 b3 order). */
float *bm_ref_param(bref_mlp *m, int i) {
    return i % 2 ? m->b[i / 2] : m->w[i / 2];
}

/* Allocates everything and fills the initial params (scaled like 1/sqrt(n_in)), a batch of
 * pixel-like inputs in [0,1) and random one-hot labels. Returns 0 or -1. */
int bm_state_init(bm_state *s, int batch) {
    memset(s, 0, sizeof *s);
    s->batch = batch;
    jx_type ty[8];
    bm_types(batch, ty);
    if (bref_init(&s->ref, batch, bm_sizes) < 0) return -1;
    unsigned long long seed = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < BM_NP; i++) {
        s->p[i] = jx_array_new_type(&ty[i]);
        int64_t n = jx_type_size(&ty[i]);
        s->p0[i] = malloc((size_t)n * sizeof(float));
        if (!s->p[i] || !s->p0[i]) return -1;
        double scale = 1.0 / sqrt((double)bm_sizes[i / 2]);
        for (int64_t k = 0; k < n; k++)
            s->p0[i][k] = (float)(scale * (2.0 * bm_urand(&seed) - 1.0) * (i % 2 ? 0.1 : 1.7));
    }
    s->x = jx_array_new_type(&ty[6]);
    s->y = jx_array_new_type(&ty[7]);
    jx_type st = JX_SCALAR(JX_F32);
    s->loss = jx_array_new_type(&st);
    if (!s->x || !s->y || !s->loss) return -1;
    float *x = jx_array_data(s->x), *y = jx_array_data(s->y);
    for (int64_t k = 0; k < jx_array_size(s->x); k++) x[k] = (float)bm_urand(&seed);
    for (int b = 0; b < batch; b++) y[(int64_t)b * bm_sizes[3] + (int)(bm_urand(&seed) * 10)] = 1;
    return 0;
}

/* Resets both implementations' params to the initial values. */
void bm_state_reset(bm_state *s) {
    for (int i = 0; i < BM_NP; i++) {
        size_t nb = jx_array_nbytes(s->p[i]);
        memcpy(jx_array_data(s->p[i]), s->p0[i], nb);
        memcpy(bm_ref_param(&s->ref, i), s->p0[i], nb);
    }
}

/* Frees everything bm_state_init allocated. */
void bm_state_free(bm_state *s) {
    for (int i = 0; i < BM_NP; i++) {
        jx_array_free(s->p[i]);
        free(s->p0[i]);
    }
    jx_array_free(s->x);
    jx_array_free(s->y);
    jx_array_free(s->loss);
    bref_free(&s->ref);
}

/* One jx step: params updated in place, loss into s->loss. Returns 0 or -1. */
int bm_jx_step(jx_exe *e, bm_state *s) {
    jx_array *in[8] = {s->p[0], s->p[1], s->p[2], s->p[3], s->p[4], s->p[5], s->x, s->y};
    jx_array *out[BM_NP + 1] = {s->p[0], s->p[1], s->p[2], s->p[3], s->p[4], s->p[5], s->loss};
    return jx_exe_run(e, in, out);
}

/* One reference step. */
void bm_ref_step(bm_state *s) {
    bref_step(&s->ref, jx_array_cdata(s->x), jx_array_cdata(s->y), BM_LR);
}

/* ---- correctness ---------------------------------------------------------------------------- */

/* Runs 3 steps of both from the same start; 0 if every param agrees to 1e-4 relative (max
 * abs difference over the array's max abs value) and the updates (param - initial) to 1e-2
 * relative, 1 otherwise, -1 on a jx error. */
int bm_check(jx_exe *e, bm_state *s) {
    bm_state_reset(s);
    float jl[3], rl[3];
    for (int k = 0; k < 3; k++) {
        if (bm_jx_step(e, s) < 0) return -1;
        jl[k] = *(const float *)jx_array_cdata(s->loss);
        bm_ref_step(s);
        rl[k] = s->ref.loss;
    }
    static const char *names[BM_NP] = {"W1", "b1", "W2", "b2", "W3", "b3"};
    double worst_p = 0, worst_d = 0;
    for (int i = 0; i < BM_NP; i++) {
        const float *a = jx_array_cdata(s->p[i]), *b = bm_ref_param(&s->ref, i), *p0 = s->p0[i];
        double dmax = 0, mag = 0, ddmax = 0, dmag = 0;
        for (int64_t k = 0; k < jx_array_size(s->p[i]); k++) {
            double d = fabs((double)a[k] - b[k]), dd = fabs(((double)a[k] - p0[k]) - ((double)b[k] - p0[k]));
            dmax = d > dmax || d != d ? d : dmax;
            ddmax = dd > ddmax || dd != dd ? dd : ddmax;
            mag = fabs(b[k]) > mag ? fabs(b[k]) : mag;
            dmag = fabs((double)b[k] - p0[k]) > dmag ? fabs((double)b[k] - p0[k]) : dmag;
        }
        double rp = dmax / (mag > 0 ? mag : 1), rd = ddmax / (dmag > 0 ? dmag : 1);
        fprintf(stderr, "mlp check: %s: param rel err %.2e, update rel err %.2e (max |update| %.2e)\n",
                names[i], rp, rd, dmag);
        worst_p = rp > worst_p || rp != rp ? rp : worst_p;
        worst_d = rd > worst_d || rd != rd ? rd : worst_d;
    }
    fprintf(stderr, "mlp check: losses jx %.6f %.6f %.6f, ref %.6f %.6f %.6f\n", jl[0], jl[1], jl[2],
            rl[0], rl[1], rl[2]);
    double lerr = fabs((double)jl[2] - rl[2]) / fabs((double)rl[2]);
    int ok = worst_p <= 1e-4 && worst_d <= 1e-2 && lerr <= 1e-4;
    fprintf(stderr, "mlp check: correctness %s: after 3 steps params agree to %.2e relative "
            "(limit 1e-4), updates to %.2e (limit 1e-2), loss to %.2e\n",
            ok ? "OK" : "FAILED", worst_p, worst_d, lerr);
    return ok ? 0 : 1;
}
