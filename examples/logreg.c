/* logreg: the "MNIST classification with neural networks, from scratch with JAX"
 * notebook in C with jx.
 *
 * --model logreg is logistic regression (layer sizes [784, 10]); --model tanh is the
 * notebook's deeper network [784, 1024, 1024, 10] with tanh hidden layers. As in the
 * notebook: params ~ 0.1 * normal, a per-example predict whose output is log-probabilities
 * (pre_logits - logsumexp), vmapped over the batch; the loss -mean(sum(logp * onehot, 1));
 * plain SGD with lr 0.001, batch 128 (the last partial batch included), 30 epochs, pixels
 * scaled to [0,1] (the notebook's datasets.mnist() divides by 255; --no-normalize: raw
 * 0..255), reshuffled every epoch.
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
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

enum { MAXL = 3, NCLASS = 10 };

typedef struct lr_model {
    int nl;               /* number of layers */
    int64_t sizes[MAXL + 1];
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

/* vmap(predict, in_axes=(None, 0))(params, images) into *logp: the params (a tree of
 * 2 * nl leaves) unbatched, the images batched along axis 0. 0 or -1 (a trace error). */
static int lr_batched_predict(lr_model *m, const jx_val *in, jx_val *logp) {
    int np = 2 * m->nl;
    return jx_call_vmap(lr_predict_cb, m, np + 1, JX_ARGS(np, 1), (int[]){JX_NONE, 0}, in, 1,
                        NULL, logp);
}

/* loss(params, images[B,784], labels[B]) = -mean(sum(logp * onehot, axis 1)), predict
 * vmapped over the images. */
static void lr_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    lr_model *m = user;
    int np = 2 * m->nl;
    jx_val logp[1];
    if (lr_batched_predict(m, in, logp) < 0) return;
    jx_val targets = jx_one_hot(in[np + 1], NCLASS, JX_F32);
    out[0] = jx_neg(jx_mean(jx_sum(jx_mul(logp[0], targets), 1, 0), 0, 0));
}

/* eval(params, images[B,784], labels[B]) = the number of images whose argmax of the
 * batched predict is the label. */
static void lr_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    lr_model *m = user;
    jx_val logp[1];
    if (lr_batched_predict(m, in, logp) == 0)
        out[0] = jx_count_correct(logp[0], in[2 * m->nl + 1]);
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

/* Sets m's layer sizes for the model named name (logreg or tanh); 0, or -1 with a
 * message on stderr. */
static int lr_set_model(const char *name, lr_model *m) {
    if (!strcmp(name, "logreg")) {
        m->nl = 1, m->sizes[0] = 784, m->sizes[1] = NCLASS;
    } else if (!strcmp(name, "tanh")) {
        m->nl = 3, m->sizes[0] = 784, m->sizes[1] = 1024, m->sizes[2] = 1024,
        m->sizes[3] = NCLASS;
    } else {
        fprintf(stderr, "--model: unknown model '%s' (logreg or tanh)\n", name);
        return -1;
    }
    return 0;
}

/* Writes the trained first-layer weights w and their change from w_init as images into
 * dir: one per class for logreg, the first 32 features for the tanh network. 0 or -1. */
static int lr_png_trained(const char *dir, const lr_model *m, const jx_array *w,
                          const jx_array *w_init) {
    if (m->nl == 1)
        return lr_png_columns(dir, "weights.png", w, NULL, NCLASS, 2, 5, 1) < 0 ||
                       lr_png_columns(dir, "weights_change.png", w, w_init, NCLASS, 2, 5, 1) < 0
                   ? -1
                   : 0;
    return lr_png_columns(dir, "features.png", w, NULL, 32, 4, 8, 0) < 0 ||
                   lr_png_columns(dir, "features_change.png", w, w_init, 32, 4, 8, 0) < 0
               ? -1
               : 0;
}

/* The notebook's init_random_params(layer_sizes, scale=0.1): W[m,n] and b[n] ~ 0.1 *
 * normal at "layers/<l>/w" and "layers/<l>/b", each array from its own key of
 * split(PRNGKey(seed), 2 * nl). 0, or -1 with jx_error(). */
static int lr_init_params(jx_tree *params, const lr_model *m, uint32_t seed) {
    jx_key keys[2 * MAXL];
    jx_key_split(jx_key_new(seed), 2 * m->nl, keys);
    for (int l = 0; l < m->nl; l++) {
        jx_type w = JX_TYPE(JX_F32, m->sizes[l], m->sizes[l + 1]);
        jx_type b = JX_TYPE(JX_F32, m->sizes[l + 1]);
        if (jx_tree_put(params, jx_init_normal(keys[2 * l], w, 0.1), "layers/%d/w", l) < 0 ||
            jx_tree_put(params, jx_init_normal(keys[2 * l + 1], b, 0.1), "layers/%d/b", l) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {.epochs = 30, .batch = 128, .lr = 0.001, .normalize = 1};
    const char *model = "logreg", *png_dir = "/tmp/jx_logreg";
    int png = 1;
    const ex_opt own[] = {
        {"--model M", EX_STRING, &model, .help = "logreg or tanh"},
        {"--png-dir DIR", EX_STRING, &png_dir,
         .help = "where samples.png, weights*.png (logreg) or\nfeatures*.png (tanh) go"},
        {"--no-png", EX_FLAG_OFF, &png, .help = "write no images"},
        {0},
    };
    ex_parse(argc, argv, &o, own,
             "usage: logreg [--model logreg|tanh] [--png-dir DIR | --no-png] [options]\n"
             "The JAX-from-scratch notebook: logistic regression [784,10] or the tanh\n"
             "network [784,1024,1024,10]; SGD, loss -mean(sum(logp*onehot)), vmap +\n"
             "grad + jit. Pixels are scaled to [0,1] as in the notebook.");
    lr_model m = {0};
    if (lr_set_model(model, &m) < 0) return 2;
    if (!png) png_dir = NULL;
    int np = 2 * m.nl;
    jx_optim opt = jx_sgd(o.lr); /* update: params - lr * grad(loss) */
    const jx_jit_opts jo = {NULL, o.threads, 0};
    jx_tree *params = jx_tree_new();
    jx_train *train = NULL;
    jx_jitfn *eval = NULL;
    jx_array *w_init = NULL; /* first-layer weights before training */
    ex_data d = {0};
    int rc = 1;
    if (ex_load_mnist(&o, EX_FLAT, &d) < 0 || lr_init_params(params, &m, o.seed) < 0) goto done;
    if (png_dir &&
        (lr_mkdir(png_dir) < 0 || lr_png_samples(png_dir, d.xtr, d.ytr, o.normalize) < 0 ||
         !(w_init = jx_array_copy(jx_tree_get(params, "layers/0/w")))))
        goto done;
    /* The update: value_and_grad(loss) + SGD, jitted with the params donated:
     * step(params, state, x, y) -> (params, state, loss); the state is the step count. */
    if (!(train = jx_train_new(&opt, lr_loss_cb, &m, params, 2, 0, &jo))) goto done;
    if (!(eval = jx_jit_trace(lr_eval_cb, np + 2, 1, &m, &jo))) goto done;
    printf("logreg: model %s [", model);
    for (int l = 0; l <= m.nl; l++) printf("%s%lld", l ? "," : "", (long long)m.sizes[l]);
    printf("], %lld train / %lld test examples, batch %lld, SGD lr %g, %s pixels\n",
           (long long)jx_array_dim(d.xtr, 0), (long long)jx_array_dim(d.xte, 0),
           (long long)o.batch, o.lr, ex_pixels(&o));
    ex_progress_opts prog = {.epochs = o.epochs, .every = 20};
    jx_epoch_opts eo = {.batch = o.batch, .shuffle = 1, .seed = o.seed, .hook = ex_progress_hook,
                        .user = &prog};
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        double seconds, loss;
        if (ex_epoch(train, d.xtr, d.ytr, &eo, &prog, epoch, &seconds, &loss) < 0) goto done;
        printf("Epoch %d in %.2f sec, mean loss %.4f\n", epoch + 1, seconds, loss);
        if (ex_report(eval, np, params->leaves, &d, 1000, EX_TRAIN_SET | EX_TEST_SET) < 0)
            goto done;
    }
    if (png_dir && lr_png_trained(png_dir, &m, jx_tree_get(params, "layers/0/w"), w_init) < 0)
        goto done;
    rc = 0;
done:
    if (rc) ex_print_error("logreg");
    jx_array_free(w_init);
    jx_train_free(train);
    jx_tree_free(params);
    jx_jitfn_free(eval);
    ex_data_free(&d);
    return rc;
}
