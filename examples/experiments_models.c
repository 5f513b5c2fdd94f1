/* The models of examples/experiments: a per-example predict vmapped inside the batch
 * loss, one jx_train per model (its step compiled once for every learning rate and seed:
 * the lr is injected state), one training (ex_trainer with augmentation and dropout
 * keys), and the stable-softmax check. */
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
        out[0] = ex_n_correct(y[0], in[c->np + 1]);
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
    c->m = m, c->np = 2 * m->nl, c->threads = threads;
    c->opt = xp_optim(m, 1.0);
    c->opt.inject = 1; /* lr (and mu, l2, wd) are state: one compile for every lr */
    c->lr = 1.0;
    c->ns = jx_optim_n_state(&c->opt, c->np);
    ex_dense_types(m->nl, m->sizes, c->types);
    c->pred_train = (xp_pred_ctx){m, 1}, c->pred_eval = (xp_pred_ctx){m, 0};
    /* The params tree, zeros until xp_train draws them: layers/<l>/{w,b}. */
    int ok = c->ns >= 0 && (c->params = jx_tree_new()) != NULL;
    for (int i = 0; ok && i < c->np; i++) {
        char path[32];
        jx_array *leaf = jx_init_zeros(c->types[i]);
        snprintf(path, sizeof path, "layers/%d/%c", i / 2, i % 2 ? 'b' : 'w');
        ok = leaf && jx_tree_add(c->params, path, leaf) == 0;
        jx_array_free(leaf);
    }
    /* The step: value_and_grad(loss) + the optimizer, jitted with the params and the
     * state donated: (params, state, x, y[, key]) -> (params, state, loss). With inject
     * the optimizer keeps its own count, so the state tree is its state list. */
    const jx_jit_opts jo = {NULL, threads, 0};
    if (ok && (c->train = jx_train_new(&c->opt, xp_loss_cb, c, c->params, 2 + xp_has_key(m), 0,
                                       &jo)))
        c->step = jx_train_jitfn(c->train);
    c->eval = ok ? jx_jit_trace(xp_eval_cb, c->np + 2, 1, c, &jo) : NULL;
    if (!c->step || !c->eval || jx_train_state(c->train)->n != c->ns) {
        if (c->step && c->eval) fprintf(stderr, "experiments: unexpected optimizer state\n");
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

/* What xp_before_step works with during one training. */
typedef struct xp_batch_ctx {
    const xp_model *m;
    uint32_t seed;
    jx_array *aug; /* the augmented batch (augment models) */
} xp_batch_ctx;

/* Before each step: replaces the batch by a randomly shifted and rotated copy (augment
 * models), and fills the dropout key (models with a key) from (seed, step number). */
static int xp_before_step(ex_trainer *tr, jx_array **x) {
    const xp_batch_ctx *b = tr->user;
    uint64_t step = (uint64_t)tr->epoch * (uint64_t)tr->steps + (uint64_t)tr->it.index;
    if (b->aug) {
        jx_augment_opts ao = {XP_AUG_SHIFT, XP_AUG_DEGREES};
        if (jx_augment_batch(*x, b->aug, 28, 28, &ao, b->seed, step) < 0) return -1;
        *x = b->aug;
    }
    if (tr->n_extra) {
        jx_key k = jx_key_fold_in(jx_key_new(b->seed), (uint32_t)step);
        memcpy(jx_array_data(tr->extra[0]), k.k, sizeof k.k);
    }
    return 0;
}

/* Copies the contents of src[0..n) into dst[0..n) (same types). 0, or -1 with a
 * message. */
static int xp_assign(int n, jx_array *const *dst, jx_array *const *src) {
    for (int i = 0; i < n; i++) {
        if (jx_array_nbytes(dst[i]) != jx_array_nbytes(src[i])) {
            fprintf(stderr, "experiments: state %d changed size\n", i);
            return -1;
        }
        memcpy(jx_array_data(dst[i]), jx_array_cdata(src[i]), jx_array_nbytes(src[i]));
    }
    return 0;
}

/* Starts c's training state afresh: params drawn from seed as the lab does, written
 * into the trainer's params, then jx_train_reset and learning rate c->lr (so the compiled
 * step is reused). 0, or -1 with jx_error(). */
static int xp_reset(xp_ctx *c, uint32_t seed) {
    /* The lab's init: biases ~ normal, weights ~ normal / sqrt(fan_in). */
    const ex_init init = {EX_KEY_PER_ARRAY, EX_NORMAL_FAN_IN, 0, EX_NORMAL, 1.0};
    jx_array *params[XP_MAXP] = {0};
    int rc = -1;
    if (ex_init_params(&init, seed, c->m->nl, c->types, params) == 0 &&
        xp_assign(c->np, c->params->leaves, params) == 0 && jx_train_reset(c->train) == 0 &&
        jx_optim_set_hparam(&c->opt, jx_train_state(c->train)->leaves, "lr", c->lr) == 0)
        rc = 0;
    for (int i = 0; i < c->np; i++) jx_array_free(params[i]);
    return rc;
}

double xp_train(xp_ctx *c, const ex_opts *o, uint32_t seed, const ex_data *d) {
    const xp_model *m = c->m;
    jx_array *key = NULL;
    xp_batch_ctx b = {m, seed, NULL};
    ex_trainer tr = {.step = c->step, .n_params = c->np, .params = c->params->leaves,
                     .n_state = c->ns, .state = jx_train_state(c->train)->leaves,
                     .n_extra = xp_has_key(m), .extra = &key, .epochs = o->epochs,
                     .shuffle = 1, .seed = seed, .progress_every = 50,
                     .before_step = xp_before_step, .user = &b};
    double acc = -1, t0 = ex_now();
    jx_type xt = JX_TYPE(JX_F32, o->batch, 784), kt = JX_TYPE(JX_U32, 2);
    if (xp_reset(c, seed) < 0 || (m->augment && !(b.aug = jx_array_new_type(&xt))) ||
        (tr.n_extra && !(key = jx_array_new_type(&kt))) ||
        ex_trainer_init(&tr, d->xtr, d->ytr, o->batch, JX_BATCH_DROP_LAST) < 0)
        goto done;
    printf("  %s lr %g seed %u: test acc", m->name, c->lr, seed);
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        if (ex_train_epoch(&tr, epoch) < 0 || ex_evaluate(c->eval, c->np, c->params->leaves,
                                                          d->xte, d->yte, 1000, &acc, NULL) < 0) {
            acc = -1;
            goto done;
        }
        printf(" %.1f", 100 * acc);
        fflush(stdout);
    }
    printf(" (%.1f s)\n", ex_now() - t0);
done:
    ex_trainer_free(&tr);
    jx_array_free(b.aug), jx_array_free(key);
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
    int ok = err_a < 1e-6 && fabs(sum_a - 1) < 1e-5 && err_b < 1e-5 && err_r < 1e-5 && naive_bad > 0;
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
