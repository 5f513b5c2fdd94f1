/* mnist_mlp: the JAX notebook "Training a Simple Neural Network" in C with jx.
 *
 * A per-example predict (784-512-512-10 relu MLP, log-softmax output) is vmapped over
 * the batch (in_axes none for the params, 0 for the image); the loss is
 * -mean(logp * onehot); the whole update step (forward, backward, SGD) is traced once per
 * batch size and compiled to native code, with the params donated so they are updated in
 * place. Raw 0..255 pixels as the notebook feeds them (--normalize for [0,1]).
 * Prints per-epoch time and train/test accuracy like the notebook. */
#include <jx/nn.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { NP = 6, NCLASS = 10 };
static const int64_t sizes[4] = {784, 512, 512, 10};

typedef struct mlp {
    jx_fn *predict; /* per-example: (W1,b1,W2,b2,W3,b3, image[784]) -> logp[10] */
    double lr;
} mlp;

/* predict(params, image): the notebook's relu MLP with log-softmax output. */
static void predict_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val act = in[NP];
    for (int l = 0; l < 2; l++) act = jx_relu(jx_add(jx_matvec(in[2 * l], act), in[2 * l + 1]));
    jx_val logits = jx_add(jx_matvec(in[4], act), in[5]);
    out[0] = jx_sub(logits, jx_logsumexp(logits, 0));
}

/* predict vmapped over a batch of B images (params unbatched). */
static jx_fn *batched_predict(const mlp *m, int64_t B) {
    int axes[NP + 1] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0};
    return jx_vmap(m->predict, axes, NULL, B);
}

/* loss(params, images[B,784], labels[B]) = -mean(predict(params, images) * onehot). */
static void loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val logp[1];
    jx_call((const jx_fn *)user, in, logp);
    jx_val targets = jx_one_hot(in[NP + 1], NCLASS, JX_F32);
    out[0] = jx_neg(jx_mean_all(jx_mul(logp[0], targets)));
}

/* update(params, images, labels) = (params - lr * grad(loss), loss): traced per batch
 * size by jx_jit_trace. */
static void update_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const mlp *m = user;
    jx_type types[NP + 2];
    for (int i = 0; i < NP + 2; i++) types[i] = jx_val_type(in[i]);
    jx_fn *bpred = batched_predict(m, types[NP].shape[0]);
    jx_fn *loss = bpred ? jx_trace(loss_cb, NP + 2, types, 1, bpred) : NULL;
    int wrt[NP] = {0, 1, 2, 3, 4, 5};
    jx_fn *vg = loss ? jx_value_and_grad(loss, NP, wrt) : NULL;
    jx_val r[1 + NP];
    if (!vg || jx_call(vg, in, r) < 0) {
        jx_trace_fail(t, jx_error());
    } else {
        for (int i = 0; i < NP; i++) out[i] = jx_sub(in[i], jx_mul(jx_lit(in[i], m->lr), r[1 + i]));
        out[NP] = r[0];
    }
    jx_fn_free(vg);
    jx_fn_free(loss);
    jx_fn_free(bpred);
}

/* classify(params, images[B,784]) = argmax of the batched predict. */
static void classify_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_fn *bpred = batched_predict(user, jx_val_type(in[NP]).shape[0]);
    jx_val logp[1];
    if (!bpred || jx_call(bpred, in, logp) < 0) jx_trace_fail(t, jx_error());
    else out[0] = jx_argmax(logp[0], 1, JX_I32);
    jx_fn_free(bpred);
}

/* The notebook's init: W, b ~ 0.01 * normal, one key per layer split in two. */
static int init_params(uint32_t seed, jx_array **params) {
    jx_key layer[3], wb[2];
    jx_key_split(jx_key_new(seed), 3, layer);
    for (int l = 0; l < 3; l++) {
        jx_key_split(layer[l], 2, wb);
        params[2 * l] = jx_init_normal(wb[0], JX_TYPE(JX_F32, sizes[l + 1], sizes[l]), 0.01);
        params[2 * l + 1] = jx_init_normal(wb[1], JX_TYPE(JX_F32, sizes[l + 1]), 0.01);
        if (!params[2 * l] || !params[2 * l + 1]) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {NULL, 8, 0, 0, 128, 0.01, 0, 0};
    int rc = ex_parse(argc, argv,
                      &o, "usage: mnist_mlp [options]\n"
                          "The JAX MLP notebook: 784-512-512-10 relu, SGD, vmap + grad + jit.");
    if (rc) return rc == 1 ? 0 : 2;
    if (o.smoke) o.epochs = o.epochs > 1 ? 1 : o.epochs;
    jx_array *xtr = NULL, *ytr = NULL, *xte = NULL, *yte = NULL, *params[NP] = {0};
    jx_jitfn *step = NULL, *classify = NULL;
    jx_batch_iter it = {0};
    int64_t *perm = NULL;
    mlp m = {NULL, o.lr};
    rc = 1;
    if (ex_load(&o, "train", o.smoke ? 2048 : 0, 1, &xtr, &ytr) < 0 ||
        ex_load(&o, "test", o.smoke ? 512 : 0, 1, &xte, &yte) < 0 || init_params(o.seed, params) < 0)
        goto done;
    jx_type ptypes[NP + 1];
    for (int i = 0; i < NP; i++) ptypes[i] = jx_array_type(params[i]);
    ptypes[NP] = JX_TYPE(JX_F32, 784);
    m.predict = jx_trace(predict_cb, NP + 1, ptypes, 1, NULL);
    if (!m.predict) goto done;
    unsigned char donate[NP + 2] = {1, 1, 1, 1, 1, 1, 0, 0};
    jx_jit_opts jo = {donate, o.threads, 0}, jo_eval = {NULL, o.threads, 0};
    step = jx_jit_trace(update_cb, NP + 2, NP + 1, &m, &jo);
    classify = jx_jit_trace(classify_cb, NP + 1, 1, &m, &jo_eval);
    int64_t n = jx_array_dim(xtr, 0);
    perm = malloc((size_t)n * sizeof *perm);
    if (!step || !classify || !perm || jx_batch_iter_init(&it, xtr, ytr, o.batch, 0) < 0) goto done;
    jx_type scalar_t = JX_SCALAR(JX_F32);
    jx_array *loss = jx_array_new_type(&scalar_t);
    int64_t steps = jx_batch_iter_count(&it);
    printf("mnist_mlp: %lld train / %lld test examples, batch %lld, lr %g, %s pixels\n",
           (long long)n, (long long)jx_array_dim(xte, 0), (long long)o.batch, o.lr,
           o.normalize ? "[0,1]" : "raw 0..255");
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double t0 = ex_now(), sum = 0;
        jx_shuffle(n, o.seed, (uint64_t)epoch, perm);
        jx_batch_iter_reset(&it, perm);
        while (jx_batch_iter_next(&it)) {
            jx_array *in[NP + 2], *out[NP + 1];
            for (int i = 0; i < NP; i++) in[i] = out[i] = params[i];
            in[NP] = it.x, in[NP + 1] = it.y, out[NP] = loss;
            if (jx_jitfn_run(step, in, out) < 0) {
                jx_array_free(loss);
                goto done;
            }
            double l = jx_array_get(loss, 0);
            sum += l;
            if (it.index % 20 == 0 || it.index + 1 == steps)
                ex_progress(epoch + 1, o.epochs, it.index + 1, steps, l,
                            (double)(it.start + it.size) / (ex_now() - t0));
        }
        ex_progress_done();
        double dt = ex_now() - t0;
        double tr = ex_accuracy(classify, NP, params, xtr, ytr, 1000);
        double te = ex_accuracy(classify, NP, params, xte, yte, 1000);
        printf("Epoch %d in %.2f sec, mean loss %.4f\n", epoch + 1, dt, sum / (double)steps);
        printf("Training set accuracy %.4f\nTest set accuracy %.4f\n", tr, te);
        fflush(stdout);
        if (tr < 0 || te < 0) {
            jx_array_free(loss);
            goto done;
        }
    }
    jx_array_free(loss);
    rc = 0;
done:
    if (rc) fprintf(stderr, "mnist_mlp: %s\n", jx_error());
    jx_batch_iter_free(&it);
    free(perm);
    jx_jitfn_free(step);
    jx_jitfn_free(classify);
    jx_fn_free(m.predict);
    for (int i = 0; i < NP; i++) jx_array_free(params[i]);
    jx_array_free(xtr), jx_array_free(ytr), jx_array_free(xte), jx_array_free(yte);
    return rc;
}
