/* mnist_cnn: the Haiku + optax notebook's convolutional net in C with jx.
 *
 * my_net(x[B,28,28,1]) = conv(4x4, stride 1, 4 ch, SAME) -> relu -> conv(4x4, stride 1,
 * 4 ch, SAME) -> relu -> max_pool(2x2, stride 2) -> flatten -> linear(784 -> 10), with
 * hk.Conv2D / hk.Linear parameter shapes (4,4,1,4)+(4), (4,4,4,4)+(4), (784,10)+(10),
 * Haiku's default init (truncated normal, stddev 1/sqrt(fan_in); zero biases). The loss
 * is the notebook's: the softmax cross-entropy with integer labels summed over the batch.
 * Optimizer: optax.adam (the notebook's TrainingConfig has learning_rate 1e-4, batch 8,
 * 20 epochs). Pixels are divided by 255 (--no-normalize: raw 0..255); the training set is
 * reshuffled every epoch, the test set is not. The whole update (forward, backward, Adam)
 * is one jitted function with the params and the optimizer state donated, updated in
 * place. Each epoch prints its time, the mean training loss per example and the train/test
 * loss and accuracy. */
#include <stdio.h>

#include "common.h"

enum { NP = 6, NCLASS = 10 };

/* my_net(params, x[B,28,28,1]) -> logits[B,10]. */
static jx_val cnn_net(const jx_val *p, jx_val x) {
    jx_val h = jx_relu(jx_conv2d(x, p[0], p[1], JX_INTS(1), JX_SAME));
    h = jx_relu(jx_conv2d(h, p[2], p[3], JX_INTS(1), JX_SAME));
    h = jx_max_pool(h, JX_INTS(2), JX_INTS(2), JX_VALID);
    return jx_linear(jx_flatten(h), p[4], p[5]);
}

/* loss(params, x, labels) = sum over the batch of softmax_cross_entropy (the notebook's
 * definition: "the sum over all the batch"). */
static void cnn_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_softmax_cross_entropy(cnn_net(in, in[NP]), in[NP + 1]));
}

/* The inference_fn: (params..., x, labels) -> (number of correct predictions, summed
 * loss), both f32 scalars. */
static void cnn_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val logits = cnn_net(in, in[NP]);
    out[0] = ex_n_correct(logits, in[NP + 1]);
    out[1] = jx_sum_all(jx_softmax_cross_entropy(logits, in[NP + 1]));
}

int main(int argc, char **argv) {
    ex_opts o = {.epochs = 20, .batch = 8, .lr = 1e-4, .normalize = 1};
    ex_parse(argc, argv, &o, NULL,
             "usage: mnist_cnn [options]\n"
             "The Haiku notebook's CNN (conv 4x4/4ch, relu, conv 4x4/4ch, relu,\n"
             "maxpool 2x2, linear 784->10) trained with optax-style Adam on the\n"
             "summed softmax cross-entropy; the notebook's TrainingConfig: batch 8,\n"
             "lr 1e-4, 20 epochs. Pixels are scaled to [0,1] as in the notebook.");
    /* hk.Conv2D / hk.Linear params and Haiku's default init: each weight ~
     * TruncatedNormal(1/sqrt(fan_in)), biases zero; one key per layer. */
    const jx_type ptypes[NP] = {JX_TYPE(JX_F32, 4, 4, 1, 4), JX_TYPE(JX_F32, 4),
                                JX_TYPE(JX_F32, 4, 4, 4, 4), JX_TYPE(JX_F32, 4),
                                JX_TYPE(JX_F32, 784, NCLASS), JX_TYPE(JX_F32, NCLASS)};
    const ex_init init = {EX_KEY_PER_LAYER, EX_HAIKU, 0, EX_ZEROS, 0};
    static const char *const names[NP] = {"conv1/w", "conv1/b", "conv2/w", "conv2/b",
                                          "linear/w", "linear/b"};
    jx_optim opt = jx_adam(o.lr, 0.9, 0.999, 1e-8); /* optax.adam's defaults */
    ex_data d = {0};
    jx_array *params[NP] = {0};
    jx_jitfn *eval = NULL;
    jx_tree *tree = jx_tree_new();
    jx_train *train = NULL;
    const jx_jit_opts jo = {NULL, o.threads, 0};
    ex_trainer tr = {.n_params = NP, .params = params, .epochs = o.epochs, .shuffle = 1,
                     .seed = o.seed, .progress_every = 200, .loss_is_sum = 1};
    int rc = 1;
    if (ex_load_mnist(&o, EX_NHWC, &d) < 0 ||
        ex_init_params(&init, o.seed, 3, ptypes, params) < 0 || !tree)
        goto done;
    for (int i = 0; i < NP; i++)
        if (jx_tree_add(tree, names[i], params[i]) < 0) goto done;
    /* The update: value_and_grad(loss) + Adam, jitted with params and state donated:
     * step(params, state, x, y) -> (params, state, loss). */
    if (!(train = jx_train_new(&opt, cnn_loss_cb, NULL, tree, 2, 0, &jo))) goto done;
    tr.step = jx_train_jitfn(train);
    tr.n_state = jx_train_state(train)->n, tr.state = jx_train_state(train)->leaves;
    eval = jx_jit_trace(cnn_eval_cb, NP + 2, 2, NULL, &jo);
    if (!eval || ex_trainer_init(&tr, d.xtr, d.ytr, o.batch, 0) < 0) goto done;
    printf("mnist_cnn: %lld train / %lld test examples, batch %lld (%lld steps/epoch), "
           "adam lr %g, %s\n",
           (long long)tr.n, (long long)jx_array_dim(d.xte, 0), (long long)o.batch,
           (long long)tr.steps, o.lr, o.normalize ? "pixels in [0,1]" : "raw 0..255 pixels");
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        if (ex_train_epoch(&tr, epoch) < 0) goto done;
        printf("Epoch %d in %.2f sec (%.1f us/step), mean loss %.4f\n", epoch + 1, tr.seconds,
               1e6 * tr.seconds / (double)tr.steps, tr.loss_sum / (double)tr.n);
        if (ex_report(eval, NP, params, &d, 1000, EX_TRAIN_SET | EX_TEST_SET | EX_WITH_LOSS) < 0)
            goto done;
    }
    rc = 0;
done:
    if (rc) ex_print_error("mnist_cnn");
    ex_trainer_free(&tr);
    jx_train_free(train);
    jx_tree_free(tree);
    jx_jitfn_free(eval);
    for (int i = 0; i < NP; i++) jx_array_free(params[i]);
    ex_data_free(&d);
    return rc;
}
