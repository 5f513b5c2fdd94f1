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
#include <jx/nn.h>
#include <jx/optim.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { NP = 6, NCLASS = 10 };
static const int64_t sizes[4] = {784, 512, 512, 10};

typedef struct mm {
    jx_fn *model;   /* per sample: (x[784], w1,b1,w2,b2,w3,b3) -> probs[10] */
    jx_fn *ex_loss; /* per sample: (probs[10], target[10]) -> loss scalar */
    jx_optim opt;
} mm;

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

/* Per-sample losses [B] of (params..., x[B,784], labels[B]): the vmapped model, then
 * the vmapped loss on one-hot targets. Poison (with a trace error) on failure. */
static jx_val mm_losses(jx_trace *t, const mm *m, const jx_val *in) {
    int64_t B = jx_val_type(in[NP]).shape[0];
    int maxes[NP + 1] = {0, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE};
    int laxes[2] = {0, 0};
    jx_fn *bmodel = jx_vmap(m->model, maxes, NULL, B);
    jx_fn *bloss = jx_vmap(m->ex_loss, laxes, NULL, B);
    jx_val args[NP + 1], probs[1], losses[1] = {{NULL, -1}};
    args[0] = in[NP];
    for (int i = 0; i < NP; i++) args[1 + i] = in[i];
    if (!bmodel || !bloss || jx_call(bmodel, args, probs) < 0) {
        losses[0] = jx_trace_fail(t, jx_error());
    } else {
        jx_val lin[2] = {probs[0], jx_one_hot(in[NP + 1], NCLASS, JX_F32)};
        if (jx_call(bloss, lin, losses) < 0) losses[0] = jx_trace_fail(t, jx_error());
    }
    jx_fn_free(bmodel);
    jx_fn_free(bloss);
    return losses[0];
}

/* batched_model_loss(params..., x, labels) = mean per-sample loss. */
static void mm_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_mean_all(mm_losses(t, user, in));
}

/* train_step: (params..., velocities..., x, labels) -> (new params..., new velocities...,
 * loss), traced per batch type. */
static void mm_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const mm *m = user;
    jx_type types[NP + 2];
    for (int i = 0; i < NP; i++) types[i] = jx_val_type(in[i]);
    types[NP] = jx_val_type(in[2 * NP]), types[NP + 1] = jx_val_type(in[2 * NP + 1]);
    jx_fn *loss = jx_trace(mm_loss_cb, NP + 2, types, 1, user);
    jx_fn *step = loss ? jx_optim_train_step(&m->opt, loss, NP) : NULL;
    if (!step || jx_call(step, in, out) < 0) jx_trace_fail(t, jx_error());
    jx_fn_free(step);
    jx_fn_free(loss);
}

/* test: (params..., x, labels) -> (summed per-sample loss, number correct). */
static void mm_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const mm *m = user;
    int64_t B = jx_val_type(in[NP]).shape[0];
    int maxes[NP + 1] = {0, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE};
    jx_fn *bmodel = jx_vmap(m->model, maxes, NULL, B);
    jx_val args[NP + 1], probs[1];
    args[0] = in[NP];
    for (int i = 0; i < NP; i++) args[1 + i] = in[i];
    if (!bmodel || jx_call(bmodel, args, probs) < 0) {
        jx_trace_fail(t, jx_error());
    } else {
        out[0] = jx_sum_all(mm_losses(t, m, in));
        jx_val hit = jx_eq(jx_argmax(probs[0], 1, JX_I32), in[NP + 1]);
        out[1] = jx_sum_all(jx_convert(hit, JX_F32));
    }
    jx_fn_free(bmodel);
}

/* Mean per-sample loss and accuracy over (x, y) in batches of `batch`. 0 or -1. */
static int mm_test(jx_jitfn *eval, jx_array **params, const jx_array *x, const jx_array *y,
                   int64_t batch, double *loss, double *acc) {
    jx_batch_iter it;
    if (jx_batch_iter_init(&it, x, y, batch, 0) < 0) return -1;
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

/* model_init(PRNGKey(seed)): key1..3 = split(key, 3); each Linear.init splits its key
 * into (kernel, bias) keys: kernel glorot_uniform [in,out], bias zeros. */
static int mm_init(uint32_t seed, jx_array **params) {
    jx_key layer[3], kb[2];
    jx_key_split(jx_key_new(seed), 3, layer);
    for (int l = 0; l < 3; l++) {
        jx_key_split(layer[l], 2, kb);
        params[2 * l] = jx_init_glorot_uniform(kb[0], JX_TYPE(JX_F32, sizes[l], sizes[l + 1]));
        params[2 * l + 1] = jx_init_zeros(JX_TYPE(JX_F32, sizes[l + 1]));
        if (!params[2 * l] || !params[2 * l + 1]) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {NULL, 50, 24, 0, 64, 1e-2, 0, 0};
    int rc = ex_parse(argc, argv, &o,
                      "usage: mlp_momentum [options]\n"
                      "The mlax MLP notebook: 784-512-512-10 relu/softmax, clipped categorical\n"
                      "cross-entropy, SGD with momentum 0.6, vmap'd per-sample model and loss.");
    if (rc) return rc == 1 ? 0 : 2;
    if (o.smoke && o.epochs > 1) o.epochs = 1;
    mm m = {NULL, NULL, jx_momentum(o.lr, 0.6, 0)};
    jx_array *xtr = NULL, *ytr = NULL, *xte = NULL, *yte = NULL, *loss = NULL;
    jx_array *params[NP] = {0}, *vel[NP] = {0};
    jx_jitfn *step = NULL, *eval = NULL;
    jx_batch_iter it = {0};
    rc = 1;
    if (ex_load(&o, "train", o.smoke ? 2048 : 0, 1, &xtr, &ytr) < 0 ||
        ex_load(&o, "test", o.smoke ? 512 : 0, 1, &xte, &yte) < 0 || mm_init(o.seed, params) < 0 ||
        jx_optim_init(&m.opt, NP, params, vel) != NP)
        goto done;
    jx_type mtypes[NP + 1], ltypes[2] = {JX_TYPE(JX_F32, NCLASS), JX_TYPE(JX_F32, NCLASS)};
    mtypes[0] = JX_TYPE(JX_F32, 784);
    for (int i = 0; i < NP; i++) mtypes[1 + i] = jx_array_type(params[i]);
    m.model = jx_trace(mm_model_cb, NP + 1, mtypes, 1, NULL);
    m.ex_loss = jx_trace(mm_ex_loss_cb, 2, ltypes, 1, NULL);
    if (!m.model || !m.ex_loss) goto done;
    unsigned char donate[2 * NP + 2] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    jx_jit_opts jo = {donate, o.threads, 0}, jo_eval = {NULL, o.threads, 0};
    step = jx_jit_trace(mm_step_cb, 2 * NP + 2, 2 * NP + 1, &m, &jo);
    eval = jx_jit_trace(mm_eval_cb, NP + 2, 2, &m, &jo_eval);
    jx_type scalar_t = JX_SCALAR(JX_F32);
    loss = jx_array_new_type(&scalar_t);
    if (!step || !eval || !loss || jx_batch_iter_init(&it, xtr, ytr, o.batch, 0) < 0) goto done;
    int64_t steps = jx_batch_iter_count(&it), n = jx_array_dim(xtr, 0);
    printf("mlp_momentum: %lld train / %lld test examples, batch %lld (%lld steps/epoch), "
           "sgd lr %g momentum 0.6, %s pixels\n",
           (long long)n, (long long)jx_array_dim(xte, 0), (long long)o.batch, (long long)steps,
           o.lr, o.normalize ? "[0,1]" : "raw 0..255");
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double t0 = ex_now(), sum = 0;
        jx_batch_iter_reset(&it, NULL); /* the notebook's fixed batches */
        while (jx_batch_iter_next(&it)) {
            jx_array *in[2 * NP + 2], *out[2 * NP + 1];
            for (int i = 0; i < NP; i++) in[i] = out[i] = params[i];
            for (int i = 0; i < NP; i++) in[NP + i] = out[NP + i] = vel[i];
            in[2 * NP] = it.x, in[2 * NP + 1] = it.y, out[2 * NP] = loss;
            if (jx_jitfn_run(step, in, out) < 0) goto done;
            double l = jx_array_get(loss, 0);
            sum += l;
            if (it.index % 50 == 0 || it.index + 1 == steps)
                ex_progress(epoch + 1, o.epochs, it.index + 1, steps, l,
                            (double)(it.start + it.size) / (ex_now() - t0));
        }
        ex_progress_done();
        double dt = ex_now() - t0, tl, ta;
        if (mm_test(eval, params, xte, yte, o.batch, &tl, &ta) < 0) goto done;
        printf("Epoch %d in %.2f sec, train loss %.4f\nTest set accuracy %.4f (loss %.4f)\n",
               epoch + 1, dt, sum / (double)steps, ta, tl);
        fflush(stdout);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "mlp_momentum: %s\n", jx_error());
    jx_batch_iter_free(&it);
    jx_array_free(loss);
    jx_jitfn_free(step);
    jx_jitfn_free(eval);
    jx_fn_free(m.model);
    jx_fn_free(m.ex_loss);
    for (int i = 0; i < NP; i++) jx_array_free(params[i]), jx_array_free(vel[i]);
    jx_array_free(xtr), jx_array_free(ytr), jx_array_free(xte), jx_array_free(yte);
    return rc;
}
