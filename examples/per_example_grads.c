/* per_example_grads: per-example gradients with vmap(grad), the DP-SGD pattern.
 *
 * An MLP (784-128-10, relu, softmax cross-entropy; Haiku-style [in,out] kernels) has a
 * per-example loss(params, x[784], label). value_and_grad of it, vmapped over the batch
 * (params unbatched), gives every example's loss and gradient in one pass. DP-SGD (Abadi
 * et al. 2016) turns them into the step's gradients:
 *   - the per-example gradient norms ||g_b|| over all params (min/mean/max as aux);
 *   - each g_b clipped to norm C: g_b / max(1, ||g_b|| / C);
 *   - the clipped gradients averaged, plus Gaussian noise of stddev sigma * C / B
 *     (jax.random.normal, the key split every step: key -> (next key, noise key), the
 *     noise key split once per param).
 * That is jx_train's grads callback; the library adds the SGD update, carries the key
 * ("rng/key", updated in place like the params) and compiles the step per batch size.
 * For the first batch the per-example gradients are checked against gradients computed
 * one example at a time (jx_grad of the unbatched loss); the max abs difference is
 * printed. Each epoch prints its time, the mean loss, the mean per-example gradient norm
 * and the train/test accuracy. Pixels are scaled to [0,1] (--no-normalize: raw 0..255). */
#include <math.h>
#include <stdio.h>

#include "common.h"

enum { NP = 4, NCLASS = 10, HIDDEN = 128 };

typedef struct pg {
    double clip, sigma;
    int threads;
    ex_progress_opts prog;
    double nsum, nmin, nmax; /* this epoch's per-example gradient norm statistics */
} pg;

/* Haiku-style init: TruncatedNormal(1/sqrt(fan_in)) kernels [in,out], zero biases, one
 * key per layer, into params "layers/<l>/w", "layers/<l>/b". 0 or -1. */
static int pg_init(jx_tree *params, uint32_t seed) {
    const int64_t sizes[3] = {784, HIDDEN, NCLASS};
    jx_key keys[2];
    jx_key_split(jx_key_new(seed), 2, keys);
    for (int l = 0; l < 2; l++) {
        jx_type w = JX_TYPE(JX_F32, sizes[l], sizes[l + 1]), b = JX_TYPE(JX_F32, sizes[l + 1]);
        if (jx_tree_put(params, jx_init_haiku(keys[l], w), "layers/%d/w", l) < 0 ||
            jx_tree_put(params, jx_init_zeros(b), "layers/%d/b", l) < 0)
            return -1;
    }
    return 0;
}

/* The MLP on x[..., 784] -> logits[..., 10]. */
static jx_val pg_net(const jx_val *p, jx_val x) {
    return jx_linear(jx_relu(jx_linear(x, p[0], p[1])), p[2], p[3]);
}

/* Per-example loss: softmax cross-entropy of one image with its integer label. */
static void pg_ex_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_softmax_cross_entropy(pg_net(in, in[NP]), in[NP + 1]);
}

/* value_and_grad(loss, argnums=0)(params, x, label): (loss, the params' gradients). */
static void pg_vg_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_value_and_grad(pg_ex_loss_cb, NULL, NP + 2, JX_ARGS(NP, 1, 1), in, 1, 1,
                           (int[]){0}, out);
}

/* vmap(value_and_grad(loss), in_axes=(None, 0, 0))(params, x[B,784], labels[B]) into
 * r[0] = the losses [B] and r[1..NP] = the per-example gradients [B,...]. 0 or -1. */
static int pg_per_example(const jx_val *params, jx_val x, jx_val labels, jx_val *r) {
    jx_val args[NP + 2];
    for (int i = 0; i < NP; i++) args[i] = params[i];
    args[NP] = x, args[NP + 1] = labels;
    return jx_call_vmap(pg_vg_cb, NULL, NP + 2, JX_ARGS(NP, 1, 1), (int[]){JX_NONE, 0, 0},
                        args, 1 + NP, NULL, r);
}

/* Sum over all axes but the first: x[B,...] -> [B]. */
static jx_val pg_sum_rows(jx_val x) {
    jx_type ty = jx_val_type(x);
    jx_ints axes = JX_NOINTS;
    for (int d = 1; d < ty.rank; d++) axes.v[axes.n++] = d;
    return axes.n ? jx_reduce_sum(x, axes) : x;
}

/* The DP-SGD gradients, jx_train's grads callback: (params..., key u32[2], x[B,784],
 * labels[B]) -> (mean loss, the noisy mean of the clipped gradients..., new key, min /
 * mean / max per-example gradient norm). vmap(value_and_grad) gives every example's loss
 * and gradient r[0], r[1..NP] with a batch axis. */
static void pg_dp_grads_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const pg *p = user;
    int64_t B = jx_val_type(in[NP + 1]).shape[0];
    jx_val r[1 + NP];
    if (pg_per_example(in, in[NP + 1], in[NP + 2], r) < 0) return;
    /* Per-example norms over every param, and the clipping factors min(1, C / norm). */
    jx_val sq = pg_sum_rows(jx_square(r[1]));
    for (int i = 1; i < NP; i++) sq = jx_add(sq, pg_sum_rows(jx_square(r[1 + i])));
    jx_val norm = jx_sqrt(sq);
    jx_val one = jx_lit(norm, 1.0);
    jx_val scale = jx_div(one, jx_max(one, jx_div(norm, jx_lit(norm, p->clip))));
    /* Keys: key -> (next key, noise key); noise key -> one key per param. */
    jx_val keys = jx_random_split(in[NP], 2);
    jx_val nkeys = jx_random_split(jx_random_subkey(keys, 1), NP);
    for (int i = 0; i < NP; i++) {
        /* sum_b scale[b] * g_b as one contraction over the batch axis. */
        jx_val csum = jx_dot_general(scale, r[1 + i], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
        jx_val noise = jx_random_normal(jx_random_subkey(nkeys, i), jx_val_type(in[i]));
        jx_val noisy = jx_add(csum, jx_mul(jx_lit(csum, p->sigma * p->clip), noise));
        out[1 + i] = jx_div(noisy, jx_lit(noisy, (double)B));
    }
    out[0] = jx_mean_all(r[0]);
    out[1 + NP] = jx_random_subkey(keys, 0);
    out[2 + NP] = jx_reduce_min(norm, JX_INTS(0));
    out[3 + NP] = jx_mean_all(norm);
    out[4 + NP] = jx_reduce_max(norm, JX_INTS(0));
}

/* (params..., x[B,784], labels[B]) -> the per-example gradients g_i[B,...] (for the
 * check against one-at-a-time gradients). */
static void pg_batched_grads_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val r[1 + NP];
    if (pg_per_example(in, in[NP], in[NP + 1], r) == 0)
        for (int i = 0; i < NP; i++) out[i] = r[1 + i];
}

/* (params..., x[784], label) -> grad(loss, argnums=0): the gradient of one example's
 * loss for every param. */
static void pg_grad1_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_grad(pg_ex_loss_cb, NULL, NP + 2, JX_ARGS(NP, 1, 1), in, 1, 1, (int[]){0}, out);
}

/* eval(params..., x[B,784], labels[B]) = the number of correct argmax predictions. */
static void pg_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_count_correct(pg_net(in, in[NP]), in[NP + 1]);
}

/* Max abs difference between the vmapped per-example gradients of batch (x, y) and
 * gradients computed for each example separately; -1 on failure. */
static double pg_check(const pg *p, jx_array *const *params, jx_array *x, jx_array *y) {
    const jx_jit_opts jo = {NULL, p->threads, 0};
    jx_jitfn *batched = jx_jit_trace(pg_batched_grads_cb, NP + 2, NP, NULL, &jo);
    jx_jitfn *single = jx_jit_trace(pg_grad1_cb, NP + 2, NP, NULL, &jo);
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

/* jx_train_epoch's hook. Before the first step of the first epoch: checks the batch's
 * per-example gradients (pg_check). After each step: the epoch's gradient norm
 * statistics (aux: min, mean, max), a line for the first steps of the first epoch, and
 * the progress line. */
static int pg_hook(jx_train *train, jx_train_batch *b, void *user) {
    pg *p = user;
    if (!b->after) {
        if (b->epoch > 0 || b->index > 0) return 0;
        double d = pg_check(p, jx_train_params(train)->leaves, b->in[0], b->in[1]);
        if (d < 0) return -1;
        printf("first batch: vmap(grad) vs %lld one-at-a-time gradients: max abs difference "
               "%.3g\n", (long long)b->size, d);
        return 0;
    }
    double mn = jx_array_get(b->aux[0], 0), mean = jx_array_get(b->aux[1], 0);
    double mx = jx_array_get(b->aux[2], 0);
    if (b->index == 0) p->nsum = 0, p->nmin = INFINITY, p->nmax = 0;
    p->nsum += mean, p->nmin = fmin(p->nmin, mn), p->nmax = fmax(p->nmax, mx);
    if (b->epoch == 0 && (b->index < 3 || b->index % 200 == 0)) {
        ex_progress_done();
        printf("  step %lld: loss %.4f, per-example grad norm min %.4f mean %.4f max %.4f\n",
               (long long)b->index, b->loss, mn, mean, mx);
    }
    return ex_progress_hook(train, b, &p->prog);
}

int main(int argc, char **argv) {
    pg p = {.clip = 1.0, .sigma = 1.0};
    ex_opts o = {.epochs = 5, .batch = 64, .lr = 0.1, .normalize = 1};
    const ex_opt own[] = {
        {"--clip C", EX_DOUBLE, &p.clip, .help = "clip each per-example gradient to norm C",
         .min = 0, .max = INFINITY, .above_min = 1},
        {"--sigma S", EX_DOUBLE, &p.sigma, .help = "noise stddev S * C / batch", .min = 0,
         .max = INFINITY},
        {0},
    };
    ex_parse(argc, argv, &o, own,
             "usage: per_example_grads [options]\n"
             "DP-SGD on a 784-128-10 MLP: per-example gradients by vmap(grad), each\n"
             "clipped to norm C, averaged, plus Gaussian noise of stddev S * C / batch,\n"
             "then an SGD step, all in one jitted function. Pixels are scaled to [0,1].");
    p.threads = o.threads, p.prog = (ex_progress_opts){.epochs = o.epochs, .every = 50};
    jx_optim opt = jx_sgd(o.lr);
    jx_tree *params = jx_tree_new(), *carry = jx_tree_new();
    jx_train *train = NULL;
    jx_jitfn *eval = NULL;
    ex_data d = {0};
    int rc = 1;
    if (ex_load_mnist(&o, EX_FLAT, &d) < 0 || pg_init(params, o.seed) < 0 ||
        jx_tree_put(carry, jx_key_array(jx_key_fold_in(jx_key_new(o.seed), 1)), "rng/key") < 0)
        goto done;
    /* jit(DP-SGD step): the grads above + SGD, the params and the noise key (carried from
     * step to step) donated; aux: the gradient norm statistics. */
    jx_train_opts to = {.grads = pg_dp_grads_cb, .user = &p, .n_batch = 2, .n_aux = 3,
                        .carry = carry, .jit = {.n_threads = o.threads}};
    if (!(train = jx_train_new_opts(&opt, params, &to))) goto done;
    if (!(eval = jx_jit_trace(pg_eval_cb, NP + 2, 1, NULL, &to.jit))) goto done;
    int64_t n = jx_array_dim(d.xtr, 0), steps = jx_batch_count(n, o.batch, 0);
    printf("per_example_grads: %lld train / %lld test examples, batch %lld (%lld steps/epoch), "
           "sgd lr %g, clip C %g, noise sigma %g\n",
           (long long)n, (long long)jx_array_dim(d.xte, 0), (long long)o.batch, (long long)steps,
           o.lr, p.clip, p.sigma);
    jx_epoch_opts eo = {.batch = o.batch, .shuffle = 1, .seed = o.seed, .hook = pg_hook,
                        .user = &p};
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double seconds, loss;
        if (ex_epoch(train, d.xtr, d.ytr, &eo, &p.prog, epoch, &seconds, &loss) < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f, grad norms min %.4f mean %.4f max %.4f\n",
               epoch + 1, seconds, loss, p.nmin, p.nsum / (double)steps, p.nmax);
        if (ex_report(eval, NP, params->leaves, &d, 1000, EX_TRAIN_SET | EX_TEST_SET) < 0)
            goto done;
    }
    rc = 0;
done:
    if (rc) ex_print_error("per_example_grads");
    jx_train_free(train);
    jx_tree_free(params);
    jx_tree_free(carry);
    jx_jitfn_free(eval);
    ex_data_free(&d);
    return rc;
}
