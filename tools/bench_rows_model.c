/* The model rows of jxbench-all: the Haiku CNN training step of examples/mnist_cnn.c
 * (Adam) against PyTorch eager, and a whole Fashion-MNIST epoch of the JAX notebook recipe
 * of examples/mnist_mlp.c (jx_train_epoch: shuffle, batches of 128 with the last partial
 * one, SGD 0.01, raw pixels) against the same epoch in PyTorch eager. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"
#include "bench_rows.h"
#include "jx/data.h"
#include "jx/nn.h"
#include "jx/optim.h"

/* ---- CNN step --------------------------------------------------------------------------- */

/* mnist_cnn's my_net: conv 4x4/4 SAME, relu, conv 4x4/4 SAME, relu, maxpool 2, linear. */
static jx_val cn_net(const jx_val *p, jx_val x) {
    jx_val h = jx_relu(jx_conv2d(x, p[0], p[1], JX_INTS(1), JX_SAME));
    h = jx_relu(jx_conv2d(h, p[2], p[3], JX_INTS(1), JX_SAME));
    h = jx_max_pool(h, JX_INTS(2), JX_INTS(2), JX_VALID);
    return jx_linear(jx_flatten(h), p[4], p[5]);
}

/* mnist_cnn's loss: the softmax cross-entropy summed over the batch. */
static void cn_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_softmax_cross_entropy(cn_net(in, in[6]), in[7]));
}

/* mnist_cnn's params (Haiku's init), at paths whose '/' the .npy names spell '_'. */
static int cn_init(jx_tree *params) {
    static const char *const layer[3] = {"conv1", "conv2", "linear"};
    const jx_type w[3] = {JX_TYPE(JX_F32, 4, 4, 1, 4), JX_TYPE(JX_F32, 4, 4, 4, 4),
                          JX_TYPE(JX_F32, 784, 10)};
    const jx_type b[3] = {JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 10)};
    jx_key keys[3];
    jx_key_split(jx_key_new(0), 3, keys);
    for (int l = 0; l < 3; l++)
        if (jx_tree_put(params, jx_init_haiku(keys[l], w[l]), "%s_w", layer[l]) < 0 ||
            jx_tree_put(params, jx_init_zeros(b[l]), "%s_b", layer[l]) < 0)
            return -1;
    return 0;
}

/* A training step of a jx_train on its batch. */
typedef struct cn_ctx {
    jx_train *tr;
    jx_array *batch[2];
} cn_ctx;

static int cn_step(void *c) {
    cn_ctx *x = c;
    return jx_train_step(x->tr, x->batch, NULL, NULL);
}

/* Random pixels in [0,1) x[B,28,28,1] and labels i32[B]. */
static int cn_batch(int B, jx_array **batch) {
    jx_type xt = JX_TYPE(JX_F32, B, 28, 28, 1), yt = JX_TYPE(JX_I32, B);
    if (!(batch[0] = jx_array_new_type(&xt)) || !(batch[1] = jx_array_new_type(&yt))) return -1;
    unsigned long long s = 0x2545F4914F6CDD1Dull;
    float *x = jx_array_data(batch[0]);
    int32_t *y = jx_array_data(batch[1]);
    for (int64_t i = 0; i < jx_array_size(batch[0]); i++) x[i] = (float)bm_urand(&s);
    for (int b = 0; b < B; b++) y[b] = (int32_t)(bm_urand(&s) * 10);
    return 0;
}

/* One (batch, threads) configuration. 0 or -1. */
static int cn_config(const bu_opts *o, bu_peer *p, int B, int T) {
    jx_tree *params = jx_tree_new();
    jx_optim adam = jx_adam(1e-4, 0.9, 0.999, 1e-8);
    jx_jit_opts jo = {NULL, T, 0};
    cn_ctx c = {0};
    char dir[512], json[640];
    int rc = -1;
    double loss = NAN;
    if (!params || cn_init(params) < 0 || cn_batch(B, c.batch) < 0 || br_dir(o, "cnn", dir, sizeof dir) < 0)
        goto done;
    for (int i = 0; i < params->n; i++)
        if (br_save(dir, params->paths[i], params->leaves[i]) < 0) goto done;
    if (br_save(dir, "x", c.batch[0]) < 0 || br_save(dir, "labels", c.batch[1]) < 0) goto done;
    if (!(c.tr = jx_train_new(&adam, cn_loss, NULL, params, 2, 0, &jo))) goto done;
    double t0 = bu_now_us();
    if (jx_train_step(c.tr, c.batch, &loss, NULL) < 0) goto done;
    double us = bu_now_us() - t0;
    static bu_side sd[2];
    sd[0] = (bu_side){.name = "jx", .fn = cn_step, .ctx = &c};
    snprintf(json, sizeof json, "{\"kind\":\"cnn\",\"lib\":\"torch\",\"batch\":%d,\"threads\":%d,"
             "\"lr\":1e-4,\"dir\":\"%s\",\"check\":1}", B, T, dir);
    double pl = br_peer_side(p, &sd[1], "torch", "torch", json);
    int rounds, block;
    br_plan(o, us, &rounds, &block);
    if (bu_interleave(p, sd, 2, rounds, block) < 0) goto done;
    const char *keys[2] = {"batch", "threads"};
    long long vals[2] = {B, T};
    char extra[160];
    bu_check_fields(extra, sizeof extra, "cnn_step", "loss", loss, pl, 1e-4);
    br_emit_side(o, "cnn_step", 2, keys, vals, sd[0].med, &sd[1], extra);
    bu_peer_drop(p, "torch");
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench: cnn_step batch %d threads %d: %s\n", B, T, jx_error());
    jx_train_free(c.tr);
    jx_tree_free(params);
    jx_array_free(c.batch[0]), jx_array_free(c.batch[1]);
    return rc;
}

/* See bench_rows.h. */
int br_cnn(const bu_opts *o, bu_peer *p) {
    static const int batches[2] = {8, 128};
    for (int k = 0; k < o->nthr; k++) {
        bu_blas_threads(o->thr[k]);
        for (int b = 0; b < (o->smoke ? 1 : 2); b++)
            if (cn_config(o, p, batches[b], o->thr[k]) < 0) return -1;
    }
    return 0;
}

/* ---- a Fashion-MNIST epoch ---------------------------------------------------------------- */

/* The notebook loss: -mean(vmap(predict, (None, 0))(params, images) * onehot(labels)). */
static void ep_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val logp;
    if (jx_call_vmap(bm_predict, NULL, BM_NP + 1, JX_ARGS(BM_NP, 1), (int[]){JX_NONE, 0}, in, 1,
                     NULL, &logp) == 0)
        out[0] = jx_neg(jx_mean_all(jx_mul(logp, jx_one_hot(in[BM_NP + 1], 10, JX_F32))));
}

/* The notebook's init: W[out,in], b[out] ~ 0.01 normal, one key per layer. */
static int ep_init(jx_tree *params) {
    jx_key keys[3], wb[2];
    jx_key_split(jx_key_new(0), 3, keys);
    for (int l = 0; l < 3; l++) {
        jx_key_split(keys[l], 2, wb);
        jx_type w = JX_TYPE(JX_F32, bm_sizes[l + 1], bm_sizes[l]), b = JX_TYPE(JX_F32, bm_sizes[l + 1]);
        if (jx_tree_put(params, jx_init_normal(wb[0], w, 0.01), "layers/%d/w", l) < 0 ||
            jx_tree_put(params, jx_init_normal(wb[1], b, 0.01), "layers/%d/b", l) < 0)
            return -1;
    }
    return 0;
}

typedef struct ep_ctx {
    jx_train *tr;
    jx_array *x, *y;
    jx_epoch_opts eo;
} ep_ctx;

static int ep_epoch(void *c) {
    ep_ctx *e = c;
    int rc = jx_train_epoch(e->tr, e->x, e->y, &e->eo, NULL);
    e->eo.epoch++;
    return rc;
}

/* The first n training images as f32[n,784] (raw pixels) and their labels, into c. */
static int ep_data(const bu_opts *o, int64_t n, ep_ctx *c) {
    jx_array *img = NULL, *lab = NULL;
    if (jx_mnist_load(o->data, "train", 0, &img, &lab) < 0) return -1;
    if (n > jx_array_dim(img, 0)) n = jx_array_dim(img, 0);
    int64_t xs[2] = {n, 784}, ys[1] = {n};
    c->x = jx_array_from(JX_F32, 2, xs, jx_array_cdata(img));
    c->y = jx_array_from(JX_I32, 1, ys, jx_array_cdata(lab));
    jx_array_free(img), jx_array_free(lab);
    return c->x && c->y ? 0 : -1;
}

/* See bench_rows.h. */
int br_epoch(const bu_opts *o, bu_peer *p) {
    int64_t n = o->smoke ? 512 : o->quick ? 4096 : 60000;
    ep_ctx c = {.eo = {.batch = 128, .shuffle = 1}};
    jx_tree *params = jx_tree_new();
    jx_optim sgd = jx_sgd(0.01);
    int rc = -1;
    if (!params || ep_init(params) < 0) goto done;
    if (ep_data(o, n, &c) < 0) {
        fprintf(stderr, "bench: epoch: skipped, no data: %s\n", jx_error());
        rc = 0;
        goto done;
    }
    n = jx_array_dim(c.x, 0);
    for (int k = 0; k < o->nthr; k++) {
        jx_jit_opts jo = {NULL, o->thr[k], 0};
        jx_train_free(c.tr);
        if (!(c.tr = jx_train_new(&sgd, ep_loss, NULL, params, 2, 0, &jo))) goto done;
        bu_blas_threads(o->thr[k]);
        static bu_side sd[2];
        sd[0] = (bu_side){.name = "jx", .fn = ep_epoch, .ctx = &c};
        char json[640];
        snprintf(json, sizeof json, "{\"kind\":\"epoch\",\"lib\":\"torch\",\"batch\":128,"
                 "\"threads\":%d,\"lr\":0.01,\"n\":%lld,\"data\":\"%s\"}", o->thr[k], (long long)n, o->data);
        br_peer_side(p, &sd[1], "torch", "torch", json);
        if (bu_interleave(p, sd, 2, o->quick ? 1 : 3, 1) < 0) goto done;
        const char *keys[3] = {"examples", "batch", "threads"};
        long long vals[3] = {n, 128, o->thr[k]};
        br_emit_side(o, "epoch", 3, keys, vals, sd[0].med, &sd[1], NULL);
        bu_peer_drop(p, "torch");
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench: epoch: %s\n", jx_error());
    jx_train_free(c.tr);
    jx_tree_free(params);
    jx_array_free(c.x), jx_array_free(c.y);
    return rc;
}
