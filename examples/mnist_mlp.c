/* mnist_mlp: the JAX notebook "Training a Simple Neural Network" in C with jx.
 *
 * A per-example predict (784-512-512-10 relu MLP, log-softmax output) is vmapped over
 * the batch (in_axes none for the params, 0 for the image); the loss is
 * -mean(logp * onehot); the whole update step (forward, backward, SGD: params - lr * grad)
 * is traced once per batch size and compiled to native code, with the params donated so
 * they are updated in place. Raw 0..255 pixels as the notebook feeds them (--normalize for
 * [0,1]). Prints per-epoch time and train/test accuracy like the notebook. The params
 * (a tree "layers/<l>/w", "layers/<l>/b") and the step live in a jx_train; --save FILE
 * writes them with the optimizer state after training, --resume FILE continues such a
 * run (its epochs count toward --epochs), reaching the uninterrupted run's bits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Loads a --save file into train and sets *first to the epoch it stopped at (steps_per
 * epoch steps each). 0, or -1 with jx_error(). */
static int resume_at(jx_train *train, const char *path, int64_t steps_per_epoch, int *first) {
    if (jx_train_load(train, path) < 0) return -1;
    int64_t count = jx_train_count(train);
    if (steps_per_epoch < 1 || count % steps_per_epoch) {
        fprintf(stderr, "mnist_mlp: %s holds %lld steps, not whole epochs of %lld\n", path,
                (long long)count, (long long)steps_per_epoch);
        return -1;
    }
    *first = (int)(count / steps_per_epoch);
    printf("mnist_mlp: resumed from %s after %d epochs\n", path, *first);
    return 0;
}

enum { NP = 6, NCLASS = 10 }; /* NP: the params' leaves, layers/<l>/w and layers/<l>/b */
static const int64_t sizes[4] = {784, 512, 512, 10};

/* init_network_params: one key per layer split into (w, b) keys; W[out,in] and b[out]
 * ~ 0.01 * normal. 0, or -1 with jx_error(). */
static int init_params(jx_tree *params, uint32_t seed) {
    jx_key keys[3], wb[2];
    jx_key_split(jx_key_new(seed), 3, keys);
    for (int l = 0; l < 3; l++) {
        jx_key_split(keys[l], 2, wb);
        jx_type w = JX_TYPE(JX_F32, sizes[l + 1], sizes[l]), b = JX_TYPE(JX_F32, sizes[l + 1]);
        if (jx_tree_put(params, jx_init_normal(wb[0], w, 0.01), "layers/%d/w", l) < 0 ||
            jx_tree_put(params, jx_init_normal(wb[1], b, 0.01), "layers/%d/b", l) < 0)
            return -1;
    }
    return 0;
}

/* predict(params, image): the notebook's relu MLP with log-softmax output. */
static void predict_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val act = in[NP];
    for (int l = 0; l < 2; l++) act = jx_relu(jx_add(jx_matvec(in[2 * l], act), in[2 * l + 1]));
    jx_val logits = jx_add(jx_matvec(in[4], act), in[5]);
    out[0] = jx_sub(logits, jx_logsumexp(logits, 0));
}

/* vmap(predict, in_axes=(None, 0))(params, images) into *logp: 0, or -1 (a trace error). */
static int batched_predict(const jx_val *in, jx_val *logp) {
    return jx_call_vmap(predict_cb, NULL, NP + 1, JX_ARGS(NP, 1), (int[]){JX_NONE, 0}, in, 1,
                        NULL, logp);
}

/* eval(params, images, labels) = the number of images whose argmax is the label. */
static void eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val logp;
    if (batched_predict(in, &logp) == 0) out[0] = jx_count_correct(logp, in[NP + 1]);
}

/* loss(params, images[B,784], labels[B]) = -mean(batched_predict(params, images) * onehot). */
static void loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val logp;
    if (batched_predict(in, &logp) == 0)
        out[0] = jx_neg(jx_mean_all(jx_mul(logp, jx_one_hot(in[NP + 1], NCLASS, JX_F32))));
}

/* --scan: the body of the epoch's scan, one SGD step on a batch: (params..., x[B,784],
 * labels[B]) -> (params - lr * grad(loss)..., loss), lr = *(double *)user. */
static void step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val vg[1 + NP];
    if (jx_call_value_and_grad(loss_cb, NULL, NP + 2, JX_ARGS(NP, 1, 1), in, 1, 0, NULL, vg) < 0)
        return;
    jx_val lr = jx_full(t, JX_SCALAR(JX_F32), *(const double *)user);
    for (int k = 0; k < NP; k++) out[k] = jx_sub(in[k], jx_mul(lr, vg[1 + k]));
    out[NP] = vg[0];
}

/* --scan: epoch(params..., xs[S,B,784], labels[S,B]) -> (params after S steps..., the S
 * losses): lax.scan of step_cb over the batches, the params carried. */
static void epoch_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_scan(step_cb, user, NP, in, 2, in + NP, -1, 0, 1, out, out + NP);
}

/* --scan: trains one epoch as one call of the jitted epoch_cb on the batches in the order
 * jx_shuffle gives (the partial last batch dropped), gathered into xs/ys; params are
 * updated in place (donated). Sets *loss to the mean step loss. 0, or -1 with jx_error(). */
static int scan_epoch(jx_jitfn *epoch, jx_tree *params, const ex_data *d, int64_t batch,
                      uint32_t seed, int e, jx_array *xs, jx_array *ys, double *loss) {
    int64_t n = jx_array_dim(d->xtr, 0), steps = jx_array_dim(xs, 0), row = 784, rc = -1;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    const float *x = jx_array_data(d->xtr);
    const int32_t *y = jx_array_data(d->ytr);
    float *xb = jx_array_data(xs);
    int32_t *yb = jx_array_data(ys);
    jx_array *in[NP + 2], *out[NP + 1] = {0};
    if (!perm || jx_shuffle(n, seed, (uint64_t)e, perm) < 0) goto done;
    for (int64_t i = 0; i < steps * batch; i++) {
        memcpy(xb + i * row, x + perm[i] * row, (size_t)row * sizeof *xb);
        yb[i] = y[perm[i]];
    }
    for (int k = 0; k < NP; k++) in[k] = out[k] = params->leaves[k];
    in[NP] = xs, in[NP + 1] = ys;
    if (jx_jitfn_run(epoch, in, out) < 0) goto done;
    const float *l = jx_array_data(out[NP]);
    double sum = 0;
    for (int64_t i = 0; i < steps; i++) sum += l[i];
    *loss = sum / (double)steps;
    rc = 0;
done:
    if (out[NP]) jx_array_free(out[NP]);
    free(perm);
    return (int)rc;
}

/* --scan: o->epochs epochs of scan_epoch, each followed by the accuracy report. 0, or 1
 * with jx_error(). */
static int scan_train(const ex_opts *o, jx_tree *params, jx_jitfn *eval, const ex_data *d) {
    int64_t steps = jx_array_dim(d->xtr, 0) / o->batch;
    unsigned char donate[NP + 2] = {1, 1, 1, 1, 1, 1, 0, 0};
    const jx_jit_opts jo = {donate, o->threads, 0};
    jx_jitfn *epoch = jx_jit_trace(epoch_cb, NP + 2, NP + 1, (void *)&o->lr, &jo);
    jx_array *xs = jx_array_new(JX_F32, 3, (int64_t[]){steps, o->batch, 784});
    jx_array *ys = jx_array_new(JX_I32, 2, (int64_t[]){steps, o->batch});
    int rc = 1;
    if (!epoch || !xs || !ys) goto done;
    printf("mnist_mlp: each epoch is one scan of %lld steps\n", (long long)steps);
    for (int e = 0; e < o->epochs; e++) {
        double t0 = ex_now(), loss;
        if (scan_epoch(epoch, params, d, o->batch, o->seed, e, xs, ys, &loss) < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f\n", e + 1, ex_now() - t0, loss);
        if (ex_report(eval, params->n, params->leaves, d, 1000, EX_TRAIN_SET | EX_TEST_SET) < 0)
            goto done;
    }
    rc = 0;
done:
    jx_jitfn_free(epoch);
    jx_array_free(xs);
    jx_array_free(ys);
    return rc;
}

int main(int argc, char **argv) {
    ex_opts o = {.epochs = 8, .batch = 128, .lr = 0.01, .normalize = 0};
    const char *save = NULL, *resume = NULL;
    int scan = 0;
    const ex_opt extra[] = {
        {"--save FILE", EX_STRING, &save, .help = "after training, write the params and the\n"
                                                 "optimizer state to FILE (.npz)"},
        {"--resume FILE", EX_STRING, &resume, .help = "start from a --save FILE; its epochs count\n"
                                                     "toward --epochs"},
        {"--scan", EX_FLAG, &scan, .help = "compile each epoch as one scan over the batches\n"
                                           "(the partial last batch dropped)"},
        {0}};
    ex_parse(argc, argv, &o, extra,
             "usage: mnist_mlp [options]\n"
             "The JAX MLP notebook: 784-512-512-10 relu, SGD, vmap + grad + jit.");
    if (scan && (save || resume)) {
        fprintf(stderr, "mnist_mlp: --scan does not take --save or --resume\n");
        return 2;
    }
    jx_optim opt = jx_sgd(o.lr); /* update: params - lr * grad(loss) */
    const jx_jit_opts jo = {NULL, o.threads, 0};
    jx_tree *params = jx_tree_new();
    jx_train *train = NULL;
    jx_jitfn *eval = NULL;
    ex_data d = {0};
    int rc = 1, first = 0;
    if (ex_load_mnist(&o, EX_FLAT, &d) < 0 || init_params(params, o.seed) < 0) goto done;
    /* jit(update): value_and_grad(loss) + SGD, one compiled step, the params donated. */
    if (!(train = jx_train_new(&opt, loss_cb, NULL, params, 2, 0, &jo))) goto done;
    if (!(eval = jx_jit_trace(eval_cb, NP + 2, 1, NULL, &jo))) goto done;
    int64_t n = jx_array_dim(d.xtr, 0), steps = jx_batch_count(n, o.batch, 0);
    if (resume && resume_at(train, resume, steps, &first) < 0) goto done;
    printf("mnist_mlp: %lld train / %lld test examples, batch %lld, lr %g, %s pixels\n",
           (long long)n, (long long)jx_array_dim(d.xte, 0), (long long)o.batch, o.lr,
           ex_pixels(&o));
    if (scan) {
        rc = scan_train(&o, params, eval, &d);
        goto done;
    }
    ex_progress_opts prog = {.epochs = o.epochs, .every = 20};
    jx_epoch_opts eo = {.batch = o.batch, .shuffle = 1, .seed = o.seed, .hook = ex_progress_hook,
                        .user = &prog};
    for (int epoch = first; epoch < o.epochs; epoch++) {
        double seconds, loss;
        if (ex_epoch(train, d.xtr, d.ytr, &eo, &prog, epoch, &seconds, &loss) < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f\n", epoch + 1, seconds, loss);
        if (ex_report(eval, params->n, params->leaves, &d, 1000, EX_TRAIN_SET | EX_TEST_SET) < 0)
            goto done;
    }
    if (save && jx_train_save(train, save) < 0) goto done;
    rc = 0;
done:
    if (rc) ex_print_error("mnist_mlp");
    jx_train_free(train);
    jx_tree_free(params);
    jx_jitfn_free(eval);
    ex_data_free(&d);
    return rc;
}
