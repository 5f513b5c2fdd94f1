/* mlp_momentum: the mlax MLP notebook in C with jx.
 *
 * model_fwd(x[784], weights) is a per-sample model of three mlax Linear blocks (kernels
 * [in,out] glorot-uniform, zero biases; 784-512-512-10, relu, relu, softmax), vmapped
 * over the batch with in_axes (0, None). The loss is mlax's categorical cross-entropy on
 * probabilities clipped to [1e-7, 1-1e-7], computed per sample under vmap, divided by the
 * number of classes (as the notebook, to match PyTorch) and averaged over the batch. The
 * optimizer is mlax's SGD with lr 1e-2 and momentum 0.6 (v = 0.6 v + lr g; w -= v, which
 * is optax.sgd's momentum). Batch 64 in the stored order (the notebook batches once and
 * never shuffles; the last batch has 32 examples), raw 0..255 pixels (the notebook only
 * casts them to float32; --normalize scales to [0,1]), 50 epochs, key PRNGKey(24). Each
 * epoch prints its time, the mean training loss and the test loss and accuracy. */
#include <stdio.h>

#include "common.h"

enum { NP = 6, NCLASS = 10 };
static const int64_t sizes[4] = {784, 512, 512, 10};

/* model_fwd(x, weights): Linear.fwd(x, w1, relu), (w2, relu), (w3, softmax). */
static void mm_model_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val x = in[0];
    x = jx_relu(jx_linear(x, in[1], in[2]));
    x = jx_relu(jx_linear(x, in[3], in[4]));
    out[0] = jx_softmax(jx_linear(x, in[5], in[6]), 0);
}

/* categorical_crossentropy(clip(probs, 1e-7, 1-1e-7), target) / n_classes. */
static void mm_ex_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val l = jx_categorical_cross_entropy(in[0], in[1], 1e-7);
    out[0] = jx_div(l, jx_lit(l, NCLASS));
}

/* The probabilities [B,10] and per-sample losses [B] of (params..., x[B,784], labels[B]):
 * vmap(model_fwd, in_axes=(0, None))(x, weights), then vmap(loss)(probs, one-hot
 * targets). 0, or -1 after a trace error. */
static int mm_forward(const jx_val *in, jx_val *probs, jx_val *losses) {
    jx_val args[NP + 1];
    args[0] = in[NP];
    for (int i = 0; i < NP; i++) args[1 + i] = in[i];
    if (jx_call_vmap(mm_model_cb, NULL, NP + 1, JX_ARGS(1, NP), (int[]){0, JX_NONE}, args, 1,
                     NULL, probs) < 0)
        return -1;
    jx_val lin[2] = {probs[0], jx_one_hot(in[NP + 1], NCLASS, JX_F32)};
    return jx_call_vmap(mm_ex_loss_cb, NULL, 2, JX_FLAT, (int[]){0, 0}, lin, 1, NULL, losses);
}

/* batched_model_loss(params..., x, labels) = mean per-sample loss. */
static void mm_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val probs, losses;
    if (mm_forward(in, &probs, &losses) == 0) out[0] = jx_mean_all(losses);
}

/* test: (params..., x, labels) -> (number correct, summed per-sample loss). */
static void mm_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val probs, losses;
    if (mm_forward(in, &probs, &losses) == 0) {
        out[0] = jx_count_correct(probs, in[NP + 1]);
        out[1] = jx_sum_all(losses);
    }
}

/* model_init(PRNGKey(seed)): key1..3 = split(key, 3); each Linear.init splits its key into
 * (kernel, bias) keys: the kernel [in,out] glorot_uniform at "linear<i>/kernel", the bias
 * zeros at "linear<i>/bias". 0, or -1 with jx_error(). */
static int mm_model_init(jx_tree *weights, uint32_t seed) {
    jx_key keys[3], kb[2];
    jx_key_split(jx_key_new(seed), 3, keys);
    for (int i = 1; i <= 3; i++) { /* w_i = Linear.init(key_i, sizes[i-1], sizes[i]) */
        jx_key_split(keys[i - 1], 2, kb);
        jx_type kernel = JX_TYPE(JX_F32, sizes[i - 1], sizes[i]), bias = JX_TYPE(JX_F32, sizes[i]);
        if (jx_tree_put(weights, jx_init_glorot_uniform(kb[0], kernel), "linear%d/kernel", i) < 0 ||
            jx_tree_put(weights, jx_init_zeros(bias), "linear%d/bias", i) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {.epochs = 50, .seed = 24, .batch = 64, .lr = 1e-2, .normalize = 0};
    ex_parse(argc, argv, &o, NULL,
             "usage: mlp_momentum [options]\n"
             "The mlax MLP notebook: 784-512-512-10 relu/softmax, clipped categorical\n"
             "cross-entropy, SGD with momentum 0.6, vmap'd per-sample model and loss.");
    jx_optim opt = jx_momentum(o.lr, 0.6, 0); /* v = 0.6 v + g; w -= lr v */
    const jx_jit_opts jo = {NULL, o.threads, 0};
    jx_tree *weights = jx_tree_new();
    jx_train *train = NULL;
    jx_jitfn *eval = NULL;
    ex_data d = {0};
    int rc = 1;
    if (ex_load_mnist(&o, EX_FLAT, &d) < 0 || mm_model_init(weights, o.seed) < 0) goto done;
    /* The update: value_and_grad(loss) + SGD with momentum, jitted with the params and
     * the velocities donated: step(params, state, x, y) -> (params, state, loss). */
    if (!(train = jx_train_new(&opt, mm_loss_cb, NULL, weights, 2, 0, &jo))) goto done;
    if (!(eval = jx_jit_trace(mm_eval_cb, NP + 2, 2, NULL, &jo))) goto done;
    int64_t n = jx_array_dim(d.xtr, 0);
    printf("mlp_momentum: %lld train / %lld test examples, batch %lld (%lld steps/epoch), "
           "sgd lr %g momentum 0.6, %s pixels\n",
           (long long)n, (long long)jx_array_dim(d.xte, 0), (long long)o.batch,
           (long long)jx_batch_count(n, o.batch, 0), o.lr, ex_pixels(&o));
    /* The notebook batches once and never shuffles. */
    ex_progress_opts prog = {.epochs = o.epochs, .every = 50};
    jx_epoch_opts eo = {.batch = o.batch, .shuffle = 0, .hook = ex_progress_hook, .user = &prog};
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double seconds, loss;
        if (ex_epoch(train, d.xtr, d.ytr, &eo, &prog, epoch, &seconds, &loss) < 0) goto done;
        printf("Epoch %d in %.2f sec, train loss %.4f\n", epoch + 1, seconds, loss);
        if (ex_report(eval, NP, weights->leaves, &d, o.batch, EX_TEST_SET | EX_WITH_LOSS) < 0)
            goto done;
    }
    rc = 0;
done:
    if (rc) ex_print_error("mlp_momentum");
    jx_train_free(train);
    jx_tree_free(weights);
    jx_jitfn_free(eval);
    ex_data_free(&d);
    return rc;
}
