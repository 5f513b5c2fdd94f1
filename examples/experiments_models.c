/* The models of examples/experiments: a per-example predict vmapped inside the batch
 * loss, one jx_train per model (its step compiled once for every learning rate and seed:
 * the lr is injected state), one training (jx_train_epoch, its hook augmenting the
 * images and filling the dropout key), and the stable-softmax check. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "experiments.h"

enum { NCLASS = 10, XP_MAXP = 2 * XP_MAXL };

/* The augment model's "tiny" shifts (pixels) and rotations (degrees). Fashion-MNIST items
 * fill the frame, so larger ones (2 px, 10 deg) cost ~5 points of accuracy in 5 epochs. */
#define XP_AUG_SHIFT 1
#define XP_AUG_DEGREES 5.0

#define L2MOM JX_OPTIM_MOMENTUM, 0.1, 1e-6, 0
const xp_model xp_models[] = {
    {"baseline", "sigmoid output + MSE, SGD (the lab's starting point)", 2, {784, 30, 10},
     1, JX_OPTIM_SGD, 0, 0, 0, 0, 0, 3, {1, 10, 100}},
    {"softmax", "softmax output + log-loss, SGD (Task 1)", 2, {784, 30, 10},
     0, JX_OPTIM_SGD, 0, 0, 0, 0, 0, 3, {0.1, 1, 10}},
    {"l2mom", "sigmoid + MSE, L2 1e-5 on weights only, momentum 0.2 (Task 2)", 2, {784, 30, 10},
     1, JX_OPTIM_MOMENTUM, 0.2, 1e-5, 0, 0, 0, 3, {3, 10, 30}},
    {"softmax_l2mom", "softmax + log-loss, L2 1e-6 on weights only, momentum 0.1", 2,
     {784, 30, 10}, 0, L2MOM, 0, 0, 3, {0.5, 1, 2}},
    {"adamw", "softmax + log-loss, AdamW (0.9, 0.999, eps 1e-8, decay 1e-2 on weights)", 2,
     {784, 30, 10}, 0, JX_OPTIM_ADAMW, 0, 0, 1e-2, 0, 0, 3, {3e-3, 1e-2, 3e-2}},
    {"adagrad", "softmax + log-loss, Adagrad (accumulator from 0, eps 1e-8)", 2, {784, 30, 10},
     0, JX_OPTIM_ADAGRAD, 0, 0, 0, 0, 0, 3, {0.01, 0.03, 0.1}},
    {"dropout", "softmax_l2mom + dropout 0.1 on the hidden layer", 2, {784, 30, 10},
     0, L2MOM, 0.1, 0, 3, {0.5, 1, 2}},
    {"augment", "softmax_l2mom + random shifts (+-1 px) and rotations (+-5 deg)", 2,
     {784, 30, 10}, 0, L2MOM, 0, 1, 3, {0.5, 1, 2}},
    {"deep", "softmax_l2mom on [784,100,30,10] (Task 4)", 3, {784, 100, 30, 10},
     0, L2MOM, 0, 0, 3, {0.5, 1, 2}},
};
const int xp_n_models = (int)(sizeof xp_models / sizeof xp_models[0]);

int xp_model_find(const char *name) {
    for (int i = 0; i < xp_n_models; i++)
        if (!strcmp(xp_models[i].name, name)) return i;
    return -1;
}

/* 1 if a training step of m takes a PRNG key (for dropout). */
static int xp_has_key(const xp_model *m) { return m->dropout > 0; }

/* predict(params, image[784][, key]): sigmoid hidden layers (dropout while training),
 * then sigmoid outputs (MSE models) or logits (softmax models). */
static void xp_predict_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const xp_pred_ctx *p = user;
    const xp_model *m = p->m;
    int np = 2 * m->nl, drop = p->train && m->dropout > 0;
    jx_val act = in[np], keys = drop ? jx_random_split(in[np + 1], m->nl - 1) : JX_NOVAL;
    for (int l = 0; l < m->nl - 1; l++) {
        act = jx_sigmoid(jx_linear(act, in[2 * l], in[2 * l + 1]));
        if (drop) act = jx_dropout(jx_random_subkey(keys, l), act, m->dropout, 1);
    }
    jx_val z = jx_linear(act, in[np - 2], in[np - 1]);
    out[0] = m->mse ? jx_sigmoid(z) : z;
}

/* loss(params, x[B,784], y[B][, key]): the per-example predict vmapped over the batch
 * (params unbatched), then the MSE of the sigmoid outputs against one-hot targets (the
 * mean over B*10 elements, as the lab's cost_derivative 2/(B*N) (a - y)), or the mean
 * softmax cross-entropy. The key is split into one key per example. */
static void xp_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    xp_ctx *c = user;
    int np = c->np, key = xp_has_key(c->m);
    jx_val args[XP_MAXP + 2], y[1];
    for (int i = 0; i <= np; i++) args[i] = in[i];
    if (key) args[np + 1] = jx_random_split(in[np + 2], (int)jx_val_type(in[np]).shape[0]);
    /* vmap(predict, in_axes=(None, 0[, 0]))(params, x[, keys]) */
    jx_ints layout = key ? JX_ARGS(np, 1, 1) : JX_ARGS(np, 1);
    if (jx_call_vmap(xp_predict_cb, &c->pred_train, np + 1 + key, layout,
                     (int[]){JX_NONE, 0, 0}, args, 1, NULL, y) < 0)
        return;
    out[0] = c->m->mse ? jx_mse(y[0], jx_one_hot(in[np + 1], NCLASS, JX_F32))
                       : jx_mean_all(jx_softmax_cross_entropy(y[0], in[np + 1]));
}

/* eval(params, x[B,784], y[B]) = the number of correct argmax predictions of the
 * evaluation predict. */
static void xp_eval_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    xp_ctx *c = user;
    jx_val y[1];
    if (jx_call_vmap(xp_predict_cb, &c->pred_eval, c->np + 1, JX_ARGS(c->np, 1),
                     (int[]){JX_NONE, 0}, in, 1, NULL, y) == 0)
        out[0] = jx_count_correct(y[0], in[c->np + 1]);
}

/* The lab's init as a new tree layers/<l>/{w,b}: one key per array (split(PRNGKey(seed),
 * 2 * layers), W_l key 2l, b_l key 2l+1), weights W_l[in,out] ~ normal / sqrt(in),
 * biases ~ normal. NULL with jx_error(). */
static jx_tree *xp_init_params(const xp_model *m, uint32_t seed) {
    jx_key keys[2 * XP_MAXL];
    jx_tree *t = jx_tree_new();
    int ok = t && jx_key_split(jx_key_new(seed), 2 * m->nl, keys) == 0;
    for (int l = 0; ok && l < m->nl; l++) {
        jx_type wt = JX_TYPE(JX_F32, m->sizes[l], m->sizes[l + 1]);
        jx_type bt = JX_TYPE(JX_F32, m->sizes[l + 1]);
        double w_std = 1.0 / sqrt((double)m->sizes[l]);
        ok = jx_tree_put(t, jx_init_normal(keys[2 * l], wt, w_std), "layers/%d/w", l) == 0 &&
             jx_tree_put(t, jx_init_normal(keys[2 * l + 1], bt, 1.0), "layers/%d/b", l) == 0;
    }
    if (ok) return t;
    jx_tree_free(t);
    return NULL;
}

/* The optimizer of m at learning rate lr. */
static jx_optim xp_optim(const xp_model *m, double lr) {
    jx_optim o;
    switch (m->kind) {
    case JX_OPTIM_MOMENTUM: o = jx_momentum(lr, m->mu, 0); break;
    case JX_OPTIM_ADAMW: o = jx_adamw(lr, 0.9, 0.999, 1e-8, m->wd); break;
    case JX_OPTIM_ADAGRAD: o = jx_adagrad(lr, 0.0, 1e-8); break;
    default: o = jx_sgd(lr); break;
    }
    o.l2 = m->l2;
    return o;
}

int xp_ctx_init(xp_ctx *c, const xp_model *m, int threads) {
    memset(c, 0, sizeof *c);
    c->m = m, c->np = 2 * m->nl, c->lr = 1.0;
    c->opt = xp_optim(m, 1.0);
    c->opt.inject = 1; /* lr (and mu, l2, wd) are state: one compile for every lr */
    c->pred_train = (xp_pred_ctx){m, 1}, c->pred_eval = (xp_pred_ctx){m, 0};
    /* The step: value_and_grad(loss) + the optimizer, jitted with the params and the
     * state donated, on the batch (x, y[, key]). The params are redrawn by each xp_train. */
    const jx_jit_opts jo = {NULL, threads, 0};
    if ((c->params = xp_init_params(m, 0)))
        c->train = jx_train_new(&c->opt, xp_loss_cb, c, c->params, 2 + xp_has_key(m), 0, &jo);
    if (c->train) c->eval = jx_jit_trace(xp_eval_cb, c->np + 2, 1, c, &jo);
    if (!c->eval) {
        xp_ctx_free(c);
        return -1;
    }
    return 0;
}

int xp_ctx_set_lr(xp_ctx *c, double lr) {
    if (!(lr > 0) || !isfinite(lr)) {
        fprintf(stderr, "experiments: bad learning rate %g\n", lr);
        return -1;
    }
    c->lr = lr;
    return 0;
}

int xp_ctx_n_compiled(const xp_ctx *c) { return c->train ? jx_train_n_compiled(c->train) : 0; }

void xp_ctx_free(xp_ctx *c) {
    jx_train_free(c->train);
    jx_tree_free(c->params);
    jx_jitfn_free(c->eval);
    memset(c, 0, sizeof *c);
}

/* Starts c's training afresh without recompiling: params drawn from seed written into
 * the trainer's leaves, the optimizer state reset (jx_train_reset), learning rate c->lr.
 * 0, or -1 with jx_error(). */
static int xp_reset(xp_ctx *c, uint32_t seed) {
    jx_tree *fresh = xp_init_params(c->m, seed);
    int rc = fresh ? jx_tree_assign(c->params, fresh) : -1; /* into the trainer's leaves */
    jx_tree_free(fresh);
    if (rc < 0 || jx_train_reset(c->train) < 0) return -1;
    return jx_optim_set_hparam(&c->opt, jx_train_state(c->train)->leaves, "lr", c->lr);
}

/* What xp_hook works with during one training. */
typedef struct xp_epoch_ctx {
    uint32_t seed;
    jx_array *aug;         /* the augmented batch (augment models) */
    jx_array *key;         /* the last step's dropout key (models with a key) */
    int has_key;
    ex_progress_opts prog; /* the progress line */
} xp_epoch_ctx;

/* jx_train_epoch's hook. Before each step: replaces the batch's images (in[0]) by a
 * randomly shifted and rotated copy (augment models) and fills the dropout key (in[2])
 * from (seed, step number). After it: the progress line. */
static int xp_hook(jx_train *tr, jx_train_batch *b, void *user) {
    xp_epoch_ctx *e = user;
    if (b->after) return ex_progress_hook(tr, b, &e->prog);
    uint64_t step = b->epoch * (uint64_t)b->count + (uint64_t)b->index;
    if (e->aug) {
        jx_augment_opts ao = {XP_AUG_SHIFT, XP_AUG_DEGREES};
        if (jx_augment_batch(b->in[0], e->aug, 28, 28, &ao, e->seed, step) < 0) return -1;
        b->in[0] = e->aug;
    }
    if (e->has_key) { /* the previous step is done with its key */
        jx_array_free(e->key);
        if (!(e->key = jx_key_array(jx_key_fold_in(jx_key_new(e->seed), (uint32_t)step))))
            return -1;
        b->in[2] = e->key;
    }
    return 0;
}

double xp_train(xp_ctx *c, const ex_opts *o, uint32_t seed, const ex_data *d) {
    const xp_model *m = c->m;
    xp_epoch_ctx e = {seed, NULL, NULL, xp_has_key(m), {.epochs = o->epochs, .every = 50}};
    jx_epoch_opts eo = {.batch = o->batch, .flags = JX_BATCH_DROP_LAST, .shuffle = 1,
                        .seed = seed, .hook = xp_hook, .user = &e};
    double acc = -1, hits, t0 = ex_now();
    jx_type xt = JX_TYPE(JX_F32, o->batch, 784);
    if (xp_reset(c, seed) < 0 || (m->augment && !(e.aug = jx_array_new_type(&xt)))) goto done;
    printf("  %s lr %g seed %u: test acc", m->name, c->lr, seed);
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        if (ex_epoch(c->train, d->xtr, d->ytr, &eo, &e.prog, epoch, NULL, NULL) < 0 ||
            jx_eval_sum(c->eval, c->np, c->params->leaves, d->xte, d->yte, 1000, 1, &hits) < 0) {
            acc = -1;
            goto done;
        }
        acc = hits / (double)jx_array_dim(d->xte, 0);
        printf(" %.1f", 100 * acc);
        fflush(stdout);
    }
    printf(" (%.1f s)\n", ex_now() - t0);
done:
    jx_array_free(e.aug), jx_array_free(e.key);
    return acc;
}

/* ---- Task 0: the stable softmax -------------------------------------------------------- */

/* (a f32[10], b f32[10,10,32], r f32[100,32]) -> (softmax(a), naive(a), softmax(b),
 * softmax(r), naive(r)), softmaxes over the last axis; naive = exp(x) / sum(exp(x)). */
static void xp_softmax_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val ea = jx_exp(in[0]), er = jx_exp(in[2]);
    out[0] = jx_softmax(in[0], 0);
    out[1] = jx_div(ea, jx_sum(ea, 0, 1));
    out[2] = jx_softmax(in[1], 2);
    out[3] = jx_softmax(in[2], 1);
    out[4] = jx_div(er, jx_sum(er, 1, 1));
}

int xp_softmax_check(int threads) {
    jx_type types[3] = {JX_TYPE(JX_F32, 10), JX_TYPE(JX_F32, 10, 10, 32), JX_TYPE(JX_F32, 100, 32)};
    jx_array *in[3] = {0}, *out[5] = {0};
    jx_fn *f = jx_trace(xp_softmax_cb, 3, types, 5, NULL);
    jx_jit_opts jo = {NULL, threads, 0};
    jx_exe *e = f ? jx_jit(f, &jo) : NULL;
    int rc = -1;
    for (int i = 0; i < 3; i++)
        if (!(in[i] = jx_array_new_type(&types[i]))) goto done;
    uint32_t s = 12345;
    for (int i = 0; i < 10; i++) jx_array_set(in[0], i, 1e6 - i);
    jx_array_fill(in[1], 1e6);
    for (int64_t i = 0; i < 3200; i++) { /* uniform [0,1) from a small LCG */
        s = s * 1664525u + 1013904223u;
        jx_array_set(in[2], i, (s >> 8) / 16777216.0);
    }
    if (!e || jx_exe_run(e, in, out) < 0) goto done;
    double z = 0, err_a = 0, err_b = 0, err_r = 0, sum_a = 0;
    int naive_bad = 0;
    for (int i = 0; i < 10; i++) z += exp(-i);
    for (int i = 0; i < 10; i++) {
        double v = jx_array_get(out[0], i), nv = jx_array_get(out[1], i);
        err_a = fmax(err_a, isfinite(v) ? fabs(v - exp(-i) / z) : INFINITY);
        sum_a += v;
        naive_bad += !isfinite(nv);
    }
    for (int64_t i = 0; i < 3200; i++) {
        double v = jx_array_get(out[2], i);
        err_b = fmax(err_b, isfinite(v) ? fabs(v - 1.0 / 32) : INFINITY);
        err_r = fmax(err_r, fabs(jx_array_get(out[3], i) - jx_array_get(out[4], i)));
    }
    printf("stable softmax (jitted jx_softmax, f32) on [1e6, 1e6-1, ..., 1e6-9]:\n  ");
    for (int i = 0; i < 4; i++) printf("%.6f ", jx_array_get(out[0], i));
    printf("... sum %.6f, max error %.1e vs exact e^-i / sum_j e^-j\n", sum_a, err_a);
    printf("  naive exp(x)/sum(exp(x)): %g %g ... (%d of 10 not finite: exp(1e6) overflows)\n",
           jx_array_get(out[1], 0), jx_array_get(out[1], 1), naive_bad);
    printf("  [10,10,32] of 1e6: max error %.1e vs 1/32; random [100,32]: max difference "
           "%.1e vs naive\n", err_b, err_r);
    int ok = err_a < 1e-6 && fabs(sum_a - 1) < 1e-5 && err_b < 1e-5 && err_r < 1e-5 &&
             naive_bad > 0;
    printf("stable softmax: %s\n", ok ? "OK" : "FAILED");
    if (ok) rc = 0;
    else jx_clear_error(), fprintf(stderr, "experiments: the stable-softmax check failed\n");
done:
    if (rc && *jx_error()) fprintf(stderr, "experiments: softmax check: %s\n", jx_error());
    for (int i = 0; i < 3; i++) jx_array_free(in[i]);
    for (int i = 0; i < 5; i++) jx_array_free(out[i]);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc;
}
