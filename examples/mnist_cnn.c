/* mnist_cnn: the Haiku + optax notebook's convolutional net in C with jx.
 *
 * my_net(x[B,28,28,1]) = conv(4x4, stride 1, 4 ch, SAME) -> relu -> conv(4x4, stride 1,
 * 4 ch, SAME) -> relu -> max_pool(2x2, stride 2) -> flatten -> linear(784 -> 10), with
 * hk.Conv2D / hk.Linear parameter shapes (4,4,1,4)+(4), (4,4,4,4)+(4), (784,10)+(10),
 * Haiku's default init (truncated normal, stddev 1/sqrt(fan_in); zero biases). The loss
 * is the notebook's: the softmax cross-entropy with integer labels summed over the batch.
 * Optimizer: optax.adam (the notebook's TrainingConfig has learning_rate 1e-4, batch 8,
 * 20 epochs). Pixels are divided by 255; the training set is reshuffled every epoch, the
 * test set is not. The whole update (forward, backward, Adam) is one jitted function with
 * the params and the optimizer state donated, updated in place. Each epoch prints its
 * time, the mean training loss per example and the train/test loss and accuracy. */
#include <jx/nn.h>
#include <jx/optim.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { NP = 6, NCLASS = 10, MAX_STATE = 2 * NP + 1 };

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

/* The update_fn: (params..., adam state..., x, labels) -> (new params..., new state...,
 * loss), traced once per batch type by jx_jit_trace. */
static void cnn_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_optim *opt = user;
    int ns = jx_optim_n_state(opt, NP);
    jx_type types[NP + 2];
    for (int i = 0; i < NP; i++) types[i] = jx_val_type(in[i]);
    types[NP] = jx_val_type(in[NP + ns]), types[NP + 1] = jx_val_type(in[NP + ns + 1]);
    jx_fn *loss = jx_trace(cnn_loss_cb, NP + 2, types, 1, NULL);
    jx_fn *step = loss ? jx_optim_train_step(opt, loss, NP) : NULL;
    if (!step || jx_call(step, in, out) < 0) jx_trace_fail(t, jx_error());
    jx_fn_free(step);
    jx_fn_free(loss);
}

/* The inference_fn: (params..., x, labels) -> (summed loss, number of correct
 * predictions), both f32 scalars. */
static void cnn_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val logits = cnn_net(in, in[NP]);
    out[0] = jx_sum_all(jx_softmax_cross_entropy(logits, in[NP + 1]));
    jx_val hit = jx_eq(jx_argmax(logits, 1, JX_I32), in[NP + 1]);
    out[1] = jx_sum_all(jx_convert(hit, JX_F32));
}

/* Mean loss per example and accuracy of params on (x, y), in batches of 1000 in the
 * stored order. Returns 0 or -1. */
static int cnn_evaluate(jx_jitfn *eval, jx_array **params, const jx_array *x,
                        const jx_array *y, double *loss, double *acc) {
    jx_batch_iter it;
    if (jx_batch_iter_init(&it, x, y, 1000, 0) < 0) return -1;
    jx_array *in[NP + 2];
    double sum = 0, correct = 0;
    int rc = 0;
    for (int i = 0; i < NP; i++) in[i] = params[i];
    while (rc == 0 && jx_batch_iter_next(&it)) {
        jx_array *out[2] = {NULL, NULL};
        in[NP] = it.x, in[NP + 1] = it.y;
        if (jx_jitfn_run(eval, in, out) < 0) {
            rc = -1;
        } else {
            sum += jx_array_get(out[0], 0);
            correct += jx_array_get(out[1], 0);
        }
        jx_array_free(out[0]), jx_array_free(out[1]);
    }
    int64_t n = jx_array_dim(x, 0);
    *loss = n ? sum / (double)n : 0;
    *acc = n ? correct / (double)n : 0;
    jx_batch_iter_free(&it);
    return rc;
}

/* Haiku's default init: each weight ~ TruncatedNormal(1/sqrt(fan_in)), biases zero;
 * one key per layer. */
static int cnn_init(uint32_t seed, jx_array **params) {
    const jx_type wt[3] = {JX_TYPE(JX_F32, 4, 4, 1, 4), JX_TYPE(JX_F32, 4, 4, 4, 4),
                           JX_TYPE(JX_F32, 784, NCLASS)};
    jx_key layer[3];
    jx_key_split(jx_key_new(seed), 3, layer);
    for (int l = 0; l < 3; l++) {
        jx_type bt = JX_TYPE(JX_F32, wt[l].shape[wt[l].rank - 1]);
        params[2 * l] = jx_init_haiku(layer[l], wt[l]);
        params[2 * l + 1] = jx_init_zeros(bt);
        if (!params[2 * l] || !params[2 * l + 1]) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {NULL, 20, 0, 0, 8, 1e-4, 1, 0};
    int rc = ex_parse(argc, argv, &o,
                      "usage: mnist_cnn [options]\n"
                      "The Haiku notebook's CNN (conv 4x4/4ch, relu, conv 4x4/4ch, relu,\n"
                      "maxpool 2x2, linear 784->10) trained with optax-style Adam on the\n"
                      "summed softmax cross-entropy; the notebook's TrainingConfig: batch 8,\n"
                      "lr 1e-4, 20 epochs. Pixels are always scaled to [0,1].");
    if (rc) return rc == 1 ? 0 : 2;
    if (o.smoke && o.epochs > 1) o.epochs = 1;
    jx_optim opt = jx_adam(o.lr, 0.9, 0.999, 1e-8);
    int ns = jx_optim_n_state(&opt, NP);
    jx_array *xtr = NULL, *ytr = NULL, *xte = NULL, *yte = NULL, *loss = NULL;
    jx_array *params[NP] = {0}, *state[MAX_STATE] = {0};
    jx_jitfn *step = NULL, *eval = NULL;
    jx_batch_iter it = {0};
    int64_t *perm = NULL;
    rc = 1;
    if (ex_load(&o, "train", o.smoke ? 2048 : 0, 0, &xtr, &ytr) < 0 ||
        ex_load(&o, "test", o.smoke ? 512 : 0, 0, &xte, &yte) < 0 || cnn_init(o.seed, params) < 0 ||
        jx_optim_init(&opt, NP, params, state) != ns)
        goto done;
    unsigned char donate[NP + MAX_STATE + 2] = {0};
    for (int i = 0; i < NP + ns; i++) donate[i] = 1;
    jx_jit_opts jo = {donate, o.threads, 0}, jo_eval = {NULL, o.threads, 0};
    step = jx_jit_trace(cnn_step_cb, NP + ns + 2, NP + ns + 1, &opt, &jo);
    eval = jx_jit_trace(cnn_eval_cb, NP + 2, 2, NULL, &jo_eval);
    int64_t n = jx_array_dim(xtr, 0);
    jx_type scalar_t = JX_SCALAR(JX_F32);
    perm = malloc((size_t)n * sizeof *perm);
    loss = jx_array_new_type(&scalar_t);
    if (!step || !eval || !perm || !loss || jx_batch_iter_init(&it, xtr, ytr, o.batch, 0) < 0)
        goto done;
    int64_t steps = jx_batch_iter_count(&it);
    printf("mnist_cnn: %lld train / %lld test examples, batch %lld (%lld steps/epoch), "
           "adam lr %g, pixels in [0,1]\n",
           (long long)n, (long long)jx_array_dim(xte, 0), (long long)o.batch, (long long)steps,
           o.lr);
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double t0 = ex_now(), sum = 0;
        jx_shuffle(n, o.seed, (uint64_t)epoch, perm);
        jx_batch_iter_reset(&it, perm);
        while (jx_batch_iter_next(&it)) {
            jx_array *in[NP + MAX_STATE + 2], *out[NP + MAX_STATE + 1];
            for (int i = 0; i < NP; i++) in[i] = out[i] = params[i];
            for (int i = 0; i < ns; i++) in[NP + i] = out[NP + i] = state[i];
            in[NP + ns] = it.x, in[NP + ns + 1] = it.y, out[NP + ns] = loss;
            if (jx_jitfn_run(step, in, out) < 0) goto done;
            double l = jx_array_get(loss, 0);
            sum += l;
            if (it.index % 200 == 0 || it.index + 1 == steps)
                ex_progress(epoch + 1, o.epochs, it.index + 1, steps, l / (double)it.size,
                            (double)(it.start + it.size) / (ex_now() - t0));
        }
        ex_progress_done();
        double dt = ex_now() - t0, trl, tra, tel, tea;
        if (cnn_evaluate(eval, params, xtr, ytr, &trl, &tra) < 0 ||
            cnn_evaluate(eval, params, xte, yte, &tel, &tea) < 0)
            goto done;
        printf("Epoch %d in %.2f sec (%.1f us/step), mean loss %.4f\n", epoch + 1, dt,
               1e6 * dt / (double)steps, sum / (double)n);
        printf("Training set accuracy %.4f (loss %.4f)\nTest set accuracy %.4f (loss %.4f)\n",
               tra, trl, tea, tel);
        fflush(stdout);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "mnist_cnn: %s\n", jx_error());
    jx_batch_iter_free(&it);
    free(perm);
    jx_array_free(loss);
    jx_jitfn_free(step);
    jx_jitfn_free(eval);
    for (int i = 0; i < NP; i++) jx_array_free(params[i]);
    for (int i = 0; i < MAX_STATE; i++) jx_array_free(state[i]);
    jx_array_free(xtr), jx_array_free(ytr), jx_array_free(xte), jx_array_free(yte);
    return rc;
}
