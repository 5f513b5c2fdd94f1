/* per_example_grads: per-example gradients with vmap(grad), the DP-SGD pattern.
 *
 * An MLP (784-128-10, relu, softmax cross-entropy; Haiku-style [in,out] kernels) has a
 * per-example loss(params, x[784], label). value_and_grad of it, vmapped over the batch
 * (params unbatched), gives every example's loss and gradient in one pass. One jitted
 * step then does DP-SGD (Abadi et al. 2016):
 *   - the per-example gradient norms ||g_b|| over all params (min/mean/max returned);
 *   - each g_b clipped to norm C: g_b / max(1, ||g_b|| / C);
 *   - the clipped gradients averaged, plus Gaussian noise of stddev sigma * C / B
 *     (jax.random.normal, the key split every step: key -> (next key, noise key), the
 *     noise key split once per param);
 *   - an SGD step.
 * For the first batch the per-example gradients are checked against gradients computed
 * one example at a time (jx_grad of the unbatched loss); the max abs difference is
 * printed. Each epoch prints its time, the mean loss, the mean per-example gradient norm
 * and the train/test accuracy. Pixels are scaled to [0,1]. */
#include <jx/nn.h>
#include <jx/optim.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

enum { NP = 4, NCLASS = 10, HIDDEN = 128 };

typedef struct pg {
    jx_fn *ex_loss; /* (W1,b1,W2,b2, x[784], label) -> loss scalar */
    double clip, sigma;
    jx_optim opt;
} pg;

/* The MLP on x[..., 784] -> logits[..., 10]. */
static jx_val pg_net(const jx_val *p, jx_val x) {
    return jx_linear(jx_relu(jx_linear(x, p[0], p[1])), p[2], p[3]);
}

/* Per-example loss: softmax cross-entropy of one image with its integer label. */
static void pg_ex_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_softmax_cross_entropy(pg_net(in, in[NP]), in[NP + 1]);
}

/* vmap(value_and_grad(loss)) for a batch of B: (params..., x[B,784], labels[B]) ->
 * (losses[B], g_W1[B,...], ..., g_b2[B,...]). NULL with jx_error() on failure. */
static jx_fn *pg_batched_grads(const pg *p, int64_t B) {
    int wrt[NP] = {0, 1, 2, 3}, axes[NP + 2] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0, 0};
    jx_fn *vg = jx_value_and_grad(p->ex_loss, NP, wrt);
    jx_fn *bvg = vg ? jx_vmap(vg, axes, NULL, B) : NULL;
    jx_fn_free(vg);
    return bvg;
}

/* Sum over all axes but the first: x[B,...] -> [B]. */
static jx_val pg_sum_rows(jx_val x) {
    jx_type ty = jx_val_type(x);
    jx_ints axes = JX_NOINTS;
    for (int d = 1; d < ty.rank; d++) axes.v[axes.n++] = d;
    return axes.n ? jx_reduce_sum(x, axes) : x;
}

/* The DP-SGD step: (params..., key u32[2], x[B,784], labels[B]) -> (new params...,
 * new key, mean loss, min / mean / max per-example gradient norm). */
static void pg_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const pg *p = user;
    int64_t B = jx_val_type(in[NP + 1]).shape[0];
    jx_fn *bvg = pg_batched_grads(p, B);
    jx_val args[NP + 2], r[1 + NP];
    for (int i = 0; i < NP; i++) args[i] = in[i];
    args[NP] = in[NP + 1], args[NP + 1] = in[NP + 2];
    if (!bvg || jx_call(bvg, args, r) < 0) {
        jx_trace_fail(t, jx_error());
        jx_fn_free(bvg);
        return;
    }
    jx_fn_free(bvg);
    /* Per-example norms over every param, and the clipping factors min(1, C / norm). */
    jx_val sq = pg_sum_rows(jx_square(r[1]));
    for (int i = 1; i < NP; i++) sq = jx_add(sq, pg_sum_rows(jx_square(r[1 + i])));
    jx_val norm = jx_sqrt(sq);
    jx_val one = jx_lit(norm, 1.0);
    jx_val scale = jx_div(one, jx_max(one, jx_div(norm, jx_lit(norm, p->clip))));
    /* Keys: key -> (next key, noise key); noise key -> one key per param. */
    jx_val keys = jx_random_split(in[NP], 2);
    jx_val nkeys = jx_random_split(jx_random_subkey(keys, 1), NP);
    jx_val grads[NP];
    for (int i = 0; i < NP; i++) {
        /* sum_b scale[b] * g_b as one contraction over the batch axis. */
        jx_val csum = jx_dot_general(scale, r[1 + i], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
        jx_val noise = jx_random_normal(jx_random_subkey(nkeys, i), jx_val_type(in[i]));
        jx_val noisy = jx_add(csum, jx_mul(jx_lit(csum, p->sigma * p->clip), noise));
        grads[i] = jx_div(noisy, jx_lit(noisy, (double)B));
    }
    if (jx_optim_update(&p->opt, NP, in, grads, NULL, out, NULL) < 0) return;
    out[NP] = jx_random_subkey(keys, 0);
    out[NP + 1] = jx_mean_all(r[0]);
    out[NP + 2] = jx_reduce_min(norm, JX_INTS(0));
    out[NP + 3] = jx_mean_all(norm);
    out[NP + 4] = jx_reduce_max(norm, JX_INTS(0));
}

/* (params..., x[B,784], labels[B]) -> the per-example gradients g_i[B,...] (for the
 * check against one-at-a-time gradients). */
static void pg_grads_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_fn *bvg = pg_batched_grads(user, jx_val_type(in[NP]).shape[0]);
    jx_val r[1 + NP];
    if (!bvg || jx_call(bvg, in, r) < 0) jx_trace_fail(t, jx_error());
    else
        for (int i = 0; i < NP; i++) out[i] = r[1 + i];
    jx_fn_free(bvg);
}

/* (params..., x[784], label) -> the gradient of one example's loss. */
static void pg_grad1_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const pg *p = user;
    int wrt[NP] = {0, 1, 2, 3};
    jx_fn *g = jx_grad(p->ex_loss, NP, wrt);
    if (!g || jx_call(g, in, out) < 0) jx_trace_fail(t, jx_error());
    jx_fn_free(g);
}

/* classify(params..., x[B,784]) = argmax of the logits. */
static void pg_classify_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_argmax(pg_net(in, in[NP]), 1, JX_I32);
}

/* Max abs difference between the vmapped per-example gradients of batch (x, y) and
 * gradients computed for each example separately; -1 on failure. */
static double pg_check(const pg *p, jx_array **params, jx_array *x, jx_array *y, int threads) {
    jx_jit_opts jo = {NULL, threads, 0};
    jx_jitfn *batched = jx_jit_trace(pg_grads_cb, NP + 2, NP, (void *)p, &jo);
    jx_jitfn *single = jx_jit_trace(pg_grad1_cb, NP + 2, NP, (void *)p, &jo);
    jx_array *in[NP + 2], *bg[NP] = {0};
    double maxdiff = -1;
    for (int i = 0; i < NP; i++) in[i] = params[i];
    in[NP] = x, in[NP + 1] = y;
    if (!batched || !single || jx_jitfn_run(batched, in, bg) < 0) goto done;
    int64_t B = jx_array_dim(x, 0), d = jx_array_dim(x, 1), shape1[1] = {d};
    const float *xd = jx_array_cdata(x);
    maxdiff = 0;
    for (int64_t b = 0; b < B && maxdiff >= 0; b++) {
        jx_array *g1[NP] = {0};
        in[NP] = jx_array_from(JX_F32, 1, shape1, xd + b * d);
        in[NP + 1] = jx_array_scalar(JX_I32, jx_array_get(y, b));
        if (!in[NP] || !in[NP + 1] || jx_jitfn_run(single, in, g1) < 0) {
            maxdiff = -1;
        } else {
            for (int i = 0; i < NP; i++) {
                int64_t n = jx_array_size(g1[i]);
                const float *gb = (const float *)jx_array_cdata(bg[i]) + b * n;
                const float *gs = jx_array_cdata(g1[i]);
                for (int64_t k = 0; k < n; k++)
                    maxdiff = fmax(maxdiff, fabs((double)gb[k] - gs[k]));
            }
        }
        for (int i = 0; i < NP; i++) jx_array_free(g1[i]);
        jx_array_free(in[NP]), jx_array_free(in[NP + 1]);
    }
done:
    for (int i = 0; i < NP; i++) jx_array_free(bg[i]);
    jx_jitfn_free(batched);
    jx_jitfn_free(single);
    return maxdiff;
}

/* Moves "--clip X" and "--sigma X" out of argv into p (the rest stays for ex_parse;
 * *argc is updated). Returns 0, or -1 after a message on a bad value. */
static int pg_take_opts(int *argc, char **argv, pg *p) {
    int k = 1;
    for (int i = 1; i < *argc; i++) {
        int is_clip = !strcmp(argv[i], "--clip"), is_sigma = !strcmp(argv[i], "--sigma");
        if (!is_clip && !is_sigma) {
            argv[k++] = argv[i];
            continue;
        }
        char *end = NULL;
        double v = i + 1 < *argc ? strtod(argv[i + 1], &end) : 0;
        if (i + 1 >= *argc || end == argv[i + 1] || *end || v < 0 || (is_clip && v <= 0)) {
            fprintf(stderr, "%s needs a %s number\n", argv[i],
                    is_clip ? "positive" : "non-negative");
            return -1;
        }
        *(is_clip ? &p->clip : &p->sigma) = v;
        i++;
    }
    *argc = k;
    return 0;
}

/* Haiku-style init: TruncatedNormal(1/sqrt(fan_in)) kernels [in,out], zero biases. */
static int pg_init(uint32_t seed, jx_array **params) {
    const int64_t sizes[3] = {784, HIDDEN, NCLASS};
    jx_key layer[2];
    jx_key_split(jx_key_new(seed), 2, layer);
    for (int l = 0; l < 2; l++) {
        params[2 * l] = jx_init_haiku(layer[l], JX_TYPE(JX_F32, sizes[l], sizes[l + 1]));
        params[2 * l + 1] = jx_init_zeros(JX_TYPE(JX_F32, sizes[l + 1]));
        if (!params[2 * l] || !params[2 * l + 1]) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    pg p = {NULL, 1.0, 1.0, jx_sgd(0.1)};
    ex_opts o = {NULL, 5, 0, 0, 64, 0.1, 1, 0};
    if (pg_take_opts(&argc, argv, &p) < 0) return 2;
    int rc = ex_parse(argc, argv, &o,
                      "usage: per_example_grads [options] [--clip C] [--sigma S]\n"
                      "DP-SGD on a 784-128-10 MLP: per-example gradients by vmap(grad), each\n"
                      "clipped to norm C (default 1), averaged, plus Gaussian noise of stddev\n"
                      "S * C / batch (default S = 1), then an SGD step, all in one jitted\n"
                      "function. Pixels are always scaled to [0,1].");
    if (rc) return rc == 1 ? 0 : 2;
    if (o.smoke && o.epochs > 1) o.epochs = 1;
    p.opt = jx_sgd(o.lr);
    jx_array *xtr = NULL, *ytr = NULL, *xte = NULL, *yte = NULL, *key = NULL;
    jx_array *params[NP] = {0}, *stats[4] = {0};
    jx_jitfn *step = NULL, *classify = NULL;
    jx_batch_iter it = {0};
    int64_t *perm = NULL;
    rc = 1;
    if (ex_load(&o, "train", o.smoke ? 2048 : 0, 1, &xtr, &ytr) < 0 ||
        ex_load(&o, "test", o.smoke ? 512 : 0, 1, &xte, &yte) < 0 || pg_init(o.seed, params) < 0)
        goto done;
    jx_type ltypes[NP + 2];
    for (int i = 0; i < NP; i++) ltypes[i] = jx_array_type(params[i]);
    ltypes[NP] = JX_TYPE(JX_F32, 784), ltypes[NP + 1] = JX_SCALAR(JX_I32);
    p.ex_loss = jx_trace(pg_ex_loss_cb, NP + 2, ltypes, 1, NULL);
    key = jx_key_array(jx_key_fold_in(jx_key_new(o.seed), 1)); /* the noise key stream */
    jx_type scalar_t = JX_SCALAR(JX_F32);
    for (int i = 0; i < 4; i++) stats[i] = jx_array_new_type(&scalar_t);
    int64_t n = jx_array_dim(xtr, 0);
    perm = malloc((size_t)n * sizeof *perm);
    if (!p.ex_loss || !key || !stats[3] || !perm ||
        jx_batch_iter_init(&it, xtr, ytr, o.batch, 0) < 0)
        goto done;
    unsigned char donate[NP + 3] = {1, 1, 1, 1, 1, 0, 0};
    jx_jit_opts jo = {donate, o.threads, 0}, jo_eval = {NULL, o.threads, 0};
    step = jx_jit_trace(pg_step_cb, NP + 3, NP + 5, &p, &jo);
    classify = jx_jit_trace(pg_classify_cb, NP + 1, 1, NULL, &jo_eval);
    if (!step || !classify) goto done;
    int64_t steps = jx_batch_iter_count(&it);
    printf("per_example_grads: %lld train / %lld test examples, batch %lld (%lld steps/epoch), "
           "sgd lr %g, clip C %g, noise sigma %g\n",
           (long long)n, (long long)jx_array_dim(xte, 0), (long long)o.batch, (long long)steps,
           o.lr, p.clip, p.sigma);
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double t0 = ex_now(), lsum = 0, nsum = 0, nmin = INFINITY, nmax = 0;
        jx_shuffle(n, o.seed, (uint64_t)epoch, perm);
        jx_batch_iter_reset(&it, perm);
        while (jx_batch_iter_next(&it)) {
            if (epoch == 0 && it.index == 0) {
                double d = pg_check(&p, params, it.x, it.y, o.threads);
                if (d < 0) goto done;
                printf("first batch: vmap(grad) vs %lld one-at-a-time gradients: max abs "
                       "difference %.3g\n",
                       (long long)it.size, d);
            }
            jx_array *in[NP + 3], *out[NP + 5];
            for (int i = 0; i < NP; i++) in[i] = out[i] = params[i];
            in[NP] = out[NP] = key;
            in[NP + 1] = it.x, in[NP + 2] = it.y;
            for (int i = 0; i < 4; i++) out[NP + 1 + i] = stats[i];
            if (jx_jitfn_run(step, in, out) < 0) goto done;
            double l = jx_array_get(stats[0], 0), mn = jx_array_get(stats[1], 0);
            double mean = jx_array_get(stats[2], 0), mx = jx_array_get(stats[3], 0);
            lsum += l, nsum += mean, nmin = fmin(nmin, mn), nmax = fmax(nmax, mx);
            if (epoch == 0 && (it.index < 3 || it.index % 200 == 0)) {
                ex_progress_done();
                printf("  step %lld: loss %.4f, per-example grad norm min %.4f mean %.4f "
                       "max %.4f\n",
                       (long long)it.index, l, mn, mean, mx);
            }
            if (it.index % 50 == 0 || it.index + 1 == steps)
                ex_progress(epoch + 1, o.epochs, it.index + 1, steps, l,
                            (double)(it.start + it.size) / (ex_now() - t0));
        }
        ex_progress_done();
        double dt = ex_now() - t0;
        double tr = ex_accuracy(classify, NP, params, xtr, ytr, 1000);
        double te = ex_accuracy(classify, NP, params, xte, yte, 1000);
        if (tr < 0 || te < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f, grad norms min %.4f mean %.4f max %.4f\n",
               epoch + 1, dt, lsum / (double)steps, nmin, nsum / (double)steps, nmax);
        printf("Training set accuracy %.4f\nTest set accuracy %.4f\n", tr, te);
        fflush(stdout);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "per_example_grads: %s\n", jx_error());
    jx_batch_iter_free(&it);
    free(perm);
    jx_jitfn_free(step);
    jx_jitfn_free(classify);
    jx_fn_free(p.ex_loss);
    jx_array_free(key);
    for (int i = 0; i < 4; i++) jx_array_free(stats[i]);
    for (int i = 0; i < NP; i++) jx_array_free(params[i]);
    jx_array_free(xtr), jx_array_free(ytr), jx_array_free(xte), jx_array_free(yte);
    return rc;
}
