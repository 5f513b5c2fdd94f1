/* logreg: the "MNIST classification with neural networks, from scratch with JAX"
 * notebook in C with jx.
 *
 * --model logreg is logistic regression (layer sizes [784, 10]); --model tanh is the
 * notebook's deeper network [784, 1024, 1024, 10] with tanh hidden layers. As in the
 * notebook: params ~ 0.1 * normal, a per-example predict whose output is log-probabilities
 * (pre_logits - logsumexp), vmapped over the batch; the loss -mean(sum(logp * onehot, 1));
 * plain SGD with lr 0.001, batch 128 (the last partial batch included), 30 epochs, pixels
 * scaled to [0,1] (the notebook's datasets.mnist() divides by 255), reshuffled every epoch.
 * The update step (forward, backward, SGD) is one jitted function with the params donated.
 *
 * It writes PNG images into --png-dir (default /tmp/jx_logreg, created if missing):
 * samples.png (the first 16 training images, label in the top-left corner, the
 * notebook's 4x4 grid) and, after training, for --model logreg, weights.png (the learned
 * per-class weights W[:, c] as ten 28x28 images, each scaled from its min to its max,
 * class number in the corner, as the notebook plots them) and weights_change.png
 * (W - W_init: with the notebook's 0.1 * normal init and lr 0.001 the init noise
 * dominates W, the change shows what was learned); for --model tanh, features.png and
 * features_change.png, the same for the first 32 hidden units' input weights. */
#include <jx/nn.h>
#include <jx/optim.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

enum { MAXL = 3, NCLASS = 10 };

typedef struct lr_model {
    int nl;               /* number of layers */
    int64_t sizes[MAXL + 1];
    jx_optim opt;         /* plain SGD */
    jx_fn *predict;       /* per-example: (W1,b1,...,image[784]) -> logp[10] */
} lr_model;

/* predict(params, image): tanh hidden layers, log-softmax output (the notebook's). */
static void lr_predict_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const lr_model *m = user;
    jx_val act = in[2 * m->nl];
    for (int l = 0; l < m->nl - 1; l++) act = jx_tanh(jx_linear(act, in[2 * l], in[2 * l + 1]));
    jx_val pre = jx_linear(act, in[2 * m->nl - 2], in[2 * m->nl - 1]);
    out[0] = jx_sub(pre, jx_logsumexp(pre, 0));
}

/* predict vmapped over B images (params unbatched: in_axes none, images: 0). */
static jx_fn *lr_batched(const lr_model *m, int64_t B) {
    int axes[2 * MAXL + 1];
    for (int i = 0; i < 2 * m->nl; i++) axes[i] = JX_NONE;
    axes[2 * m->nl] = 0;
    return jx_vmap(m->predict, axes, NULL, B);
}

typedef struct lr_loss_ctx {
    const lr_model *m;
    jx_fn *bpred;
} lr_loss_ctx;

/* loss(params, images[B,784], labels[B]) = -mean(sum(logp * onehot, axis 1)). */
static void lr_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const lr_loss_ctx *c = user;
    int np = 2 * c->m->nl;
    jx_val logp[1];
    jx_call(c->bpred, in, logp);
    jx_val targets = jx_one_hot(in[np + 1], NCLASS, JX_F32);
    out[0] = jx_neg(jx_mean(jx_sum(jx_mul(logp[0], targets), 1, 0), 0, 0));
}

/* step(params, images, labels) = (params - lr * grad(loss), loss), traced per batch size
 * by jx_jit_trace through jx_optim_train_step (SGD has no state). */
static void lr_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const lr_model *m = user;
    int np = 2 * m->nl;
    jx_type types[2 * MAXL + 2] = {0};
    for (int i = 0; i < np + 2; i++) types[i] = jx_val_type(in[i]);
    lr_loss_ctx c = {m, lr_batched(m, types[np].shape[0])};
    jx_fn *loss = c.bpred ? jx_trace(lr_loss_cb, np + 2, types, 1, &c) : NULL;
    jx_fn *step = loss ? jx_optim_train_step(&m->opt, loss, np) : NULL;
    if (!step || jx_call(step, in, out) < 0) jx_trace_fail(t, jx_error());
    jx_fn_free(step);
    jx_fn_free(loss);
    jx_fn_free(c.bpred);
}

/* classify(params, images[B,784]) = argmax of the batched predict. */
static void lr_classify_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const lr_model *m = user;
    jx_fn *bpred = lr_batched(m, jx_val_type(in[2 * m->nl]).shape[0]);
    jx_val logp[1];
    if (!bpred || jx_call(bpred, in, logp) < 0) jx_trace_fail(t, jx_error());
    else out[0] = jx_argmax(logp[0], 1, JX_I32);
    jx_fn_free(bpred);
}

/* The notebook's init: W[m,n] and b[n] ~ 0.1 * normal, one key per array. */
static int lr_init(const lr_model *m, uint32_t seed, jx_array **params) {
    jx_key keys[2 * MAXL];
    jx_key_split(jx_key_new(seed), 2 * m->nl, keys);
    for (int l = 0; l < m->nl; l++) {
        params[2 * l] = jx_init_normal(keys[2 * l], JX_TYPE(JX_F32, m->sizes[l], m->sizes[l + 1]), 0.1);
        params[2 * l + 1] = jx_init_normal(keys[2 * l + 1], JX_TYPE(JX_F32, m->sizes[l + 1]), 0.1);
        if (!params[2 * l] || !params[2 * l + 1]) return -1;
    }
    return 0;
}

/* Takes this example's own options out of argv (the rest go to ex_parse): --model NAME,
 * --png-dir DIR, --no-png. Returns the new argc, or -1 after a message. */
static int lr_own_opts(int argc, char **argv, const char **model, const char **png_dir) {
    int n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") || !strcmp(a, "--png-dir")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s needs a value\n", a);
                return -1;
            }
            *(a[2] == 'm' ? model : png_dir) = argv[++i];
        } else if (!strcmp(a, "--no-png")) {
            *png_dir = NULL;
        } else {
            argv[n++] = argv[i];
        }
    }
    return n;
}

/* mkdir -p for one level (the parent must exist). 0 or -1 with a message. */
static int lr_mkdir(const char *dir) {
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "logreg: cannot create %s: %s\n", dir, strerror(errno));
    return -1;
}

/* Writes the first 16 images of x [N,784] with their labels as a 4x4 grid. */
static int lr_png_samples(const char *dir, jx_array *x, const jx_array *y, int unit) {
    char path[4096];
    int64_t n = jx_array_dim(x, 0) < 16 ? jx_array_dim(x, 0) : 16;
    int64_t shape[3] = {n, 28, 28};
    jx_array *img = jx_array_from(JX_F32, 3, shape, jx_array_cdata(x));
    jx_png_opts po = {4, unit ? JX_PNG_UNIT : JX_PNG_RAW, jx_array_cdata(y)};
    snprintf(path, sizeof path, "%s/samples.png", dir);
    int rc = img ? jx_png_write_grid(path, img, 4, 4, &po) : -1;
    jx_array_free(img);
    if (rc == 0) printf("wrote %s (16 training images, label in the corner)\n", path);
    return rc;
}

/* Writes columns 0..k-1 of W [784, n] (minus W0's if w0 is not NULL) as k 28x28 images
 * (each scaled min..max) into dir/name, nrow x ncol, numbered if `numbered`. */
static int lr_png_columns(const char *dir, const char *name, const jx_array *w,
                          const jx_array *w0, int k, int nrow, int ncol, int numbered) {
    char path[4096];
    int64_t n = jx_array_dim(w, 1), shape[3] = {k, 28, 28};
    jx_array *img = jx_array_new(JX_F32, 3, shape);
    if (!img) return -1;
    float *d = jx_array_data(img);
    const float *s = jx_array_cdata(w), *s0 = w0 ? jx_array_cdata(w0) : NULL;
    int32_t num[64];
    for (int c = 0; c < k; c++) {
        num[c] = c;
        for (int p = 0; p < 784; p++) d[c * 784 + p] = s[p * n + c] - (s0 ? s0[p * n + c] : 0);
    }
    jx_png_opts po = {4, JX_PNG_PER_IMAGE, numbered ? num : NULL};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = jx_png_write_grid(path, img, nrow, ncol, &po);
    jx_array_free(img);
    if (rc == 0)
        printf("wrote %s (%d x 28x28 %s images, min..max per image)\n", path, k,
               w0 ? "learned-change W - W_init" : "weight");
    return rc;
}

int main(int argc, char **argv) {
    ex_opts o = {NULL, 30, 0, 0, 128, 0.001, 1, 0};
    const char *model = "logreg", *png_dir = "/tmp/jx_logreg";
    argc = lr_own_opts(argc, argv, &model, &png_dir);
    if (argc < 0) return 2;
    int rc = ex_parse(argc, argv, &o,
                      "usage: logreg [--model logreg|tanh] [--png-dir DIR | --no-png] [options]\n"
                      "The JAX-from-scratch notebook: logistic regression [784,10] or the tanh\n"
                      "network [784,1024,1024,10]; SGD, loss -mean(sum(logp*onehot)), vmap +\n"
                      "grad + jit. Pixels are always scaled to [0,1] as in the notebook.\n"
                      "  --model M      logreg (default) or tanh\n"
                      "  --png-dir DIR  where samples.png, weights*.png (logreg) or\n"
                      "                 features*.png (tanh) go (default /tmp/jx_logreg)\n"
                      "  --no-png       write no images");
    if (rc) return rc == 1 ? 0 : 2;
    lr_model m = {0};
    if (!strcmp(model, "logreg")) {
        m.nl = 1, m.sizes[0] = 784, m.sizes[1] = NCLASS;
    } else if (!strcmp(model, "tanh")) {
        m.nl = 3, m.sizes[0] = 784, m.sizes[1] = 1024, m.sizes[2] = 1024, m.sizes[3] = NCLASS;
    } else {
        fprintf(stderr, "--model: unknown model '%s' (logreg or tanh)\n", model);
        return 2;
    }
    if (o.smoke) o.epochs = o.epochs > 1 ? 1 : o.epochs;
    m.opt = jx_sgd(o.lr);
    int np = 2 * m.nl;
    jx_array *xtr = NULL, *ytr = NULL, *xte = NULL, *yte = NULL, *params[2 * MAXL] = {0};
    jx_jitfn *step = NULL, *classify = NULL;
    jx_batch_iter it = {0};
    int64_t *perm = NULL;
    jx_array *loss = NULL, *w_init = NULL; /* first-layer weights before training */
    rc = 1;
    if (ex_load(&o, "train", o.smoke ? 2048 : 0, 1, &xtr, &ytr) < 0 ||
        ex_load(&o, "test", o.smoke ? 512 : 0, 1, &xte, &yte) < 0 || lr_init(&m, o.seed, params) < 0)
        goto done;
    if (png_dir && (lr_mkdir(png_dir) < 0 || lr_png_samples(png_dir, xtr, ytr, o.normalize) < 0 ||
                    !(w_init = jx_array_copy(params[0]))))
        goto done;
    jx_type ptypes[2 * MAXL + 1];
    for (int i = 0; i < np; i++) ptypes[i] = jx_array_type(params[i]);
    ptypes[np] = JX_TYPE(JX_F32, 784);
    m.predict = jx_trace(lr_predict_cb, np + 1, ptypes, 1, &m);
    if (!m.predict) goto done;
    unsigned char donate[2 * MAXL + 2] = {0};
    for (int i = 0; i < np; i++) donate[i] = 1;
    jx_jit_opts jo = {donate, o.threads, 0}, jo_eval = {NULL, o.threads, 0};
    step = jx_jit_trace(lr_step_cb, np + 2, np + 1, &m, &jo);
    classify = jx_jit_trace(lr_classify_cb, np + 1, 1, &m, &jo_eval);
    int64_t n = jx_array_dim(xtr, 0);
    perm = malloc((size_t)n * sizeof *perm);
    jx_type scalar_t = JX_SCALAR(JX_F32);
    loss = jx_array_new_type(&scalar_t);
    if (!step || !classify || !perm || !loss || jx_batch_iter_init(&it, xtr, ytr, o.batch, 0) < 0)
        goto done;
    int64_t steps = jx_batch_iter_count(&it);
    printf("logreg: model %s [", model);
    for (int l = 0; l <= m.nl; l++) printf("%s%lld", l ? "," : "", (long long)m.sizes[l]);
    printf("], %lld train / %lld test examples, batch %lld, SGD lr %g, %s pixels\n", (long long)n,
           (long long)jx_array_dim(xte, 0), (long long)o.batch, o.lr, o.normalize ? "[0,1]" : "raw");
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double t0 = ex_now(), sum = 0;
        jx_shuffle(n, o.seed, (uint64_t)epoch, perm);
        jx_batch_iter_reset(&it, perm);
        while (jx_batch_iter_next(&it)) {
            jx_array *in[2 * MAXL + 2], *out[2 * MAXL + 1];
            for (int i = 0; i < np; i++) in[i] = out[i] = params[i];
            in[np] = it.x, in[np + 1] = it.y, out[np] = loss;
            if (jx_jitfn_run(step, in, out) < 0) goto done;
            double l = jx_array_get(loss, 0);
            sum += l;
            if (it.index % 20 == 0 || it.index + 1 == steps)
                ex_progress(epoch + 1, o.epochs, it.index + 1, steps, l,
                            (double)(it.start + it.size) / (ex_now() - t0));
        }
        ex_progress_done();
        double dt = ex_now() - t0;
        double tr = ex_accuracy(classify, np, params, xtr, ytr, 1000);
        double te = ex_accuracy(classify, np, params, xte, yte, 1000);
        if (tr < 0 || te < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f\n", epoch + 1, dt, sum / (double)steps);
        printf("Training set accuracy %.4f\nTest set accuracy %.4f\n", tr, te);
        fflush(stdout);
    }
    if (png_dir && m.nl == 1 &&
        (lr_png_columns(png_dir, "weights.png", params[0], NULL, NCLASS, 2, 5, 1) < 0 ||
         lr_png_columns(png_dir, "weights_change.png", params[0], w_init, NCLASS, 2, 5, 1) < 0))
        goto done;
    if (png_dir && m.nl > 1 &&
        (lr_png_columns(png_dir, "features.png", params[0], NULL, 32, 4, 8, 0) < 0 ||
         lr_png_columns(png_dir, "features_change.png", params[0], w_init, 32, 4, 8, 0) < 0))
        goto done;
    rc = 0;
done:
    if (rc && *jx_error()) fprintf(stderr, "logreg: %s\n", jx_error());
    jx_array_free(loss);
    jx_array_free(w_init);
    jx_batch_iter_free(&it);
    free(perm);
    jx_jitfn_free(step);
    jx_jitfn_free(classify);
    jx_fn_free(m.predict);
    for (int i = 0; i < np; i++) jx_array_free(params[i]);
    jx_array_free(xtr), jx_array_free(ytr), jx_array_free(xte), jx_array_free(yte);
    return rc;
}
