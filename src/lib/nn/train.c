/* The training state (jx/optim.h, jx_train): a parameter tree, the optimizer state and
 * the carried leaves as a tree with "opt/..." and the carry's paths, the step
 * (train_trace.c) compiled per batch signature with the params and the state donated, and
 * the epoch loop. Checkpoints: train_ckpt.c. */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <jx/data.h>

#include "lib/nn/optim_int.h"
#include "lib/nn/train_int.h"
#include "lib/tree.h"

#include "core/util.h"

/* ---- construction --------------------------------------------------------------------- */

/* Name of moment slot s of o ("mu", ...). */
static const char *train_slot_name(const jx_optim *o, int s) {
    switch (o->kind) {
    case JX_OPTIM_MOMENTUM: return "trace";
    case JX_OPTIM_ADAM: case JX_OPTIM_ADAMW: return s ? "nu" : "mu";
    case JX_OPTIM_ADAGRAD: return "sum_of_squares";
    default: return "nu";
    }
}

/* Builds tr->state: the optimizer's initial state named as jx/optim.h says, then the
 * trainer's count when the optimizer keeps none. 0 or -1. */
static int train_init_state(jx_train *tr) {
    const jx_optim *o = &tr->o;
    int np = tr->np, nso = tr->ns_opt, nh = jx_optim_n_hparams(o), slots = opt_slots(o);
    jx_array **st = calloc((size_t)nso + 1, sizeof *st);
    if (!st || !(tr->state = jx_tree_new())) {
        free(st);
        return util_err("jx_train_new: out of memory");
    }
    if (jx_optim_init(o, np, tr->params->leaves, st) < 0) {
        free(st);
        return -1;
    }
    int rc = 0, k = 0;
    for (; k < nh; k++)
        rc |= jx_tree_put(tr->state, st[k], "opt/%s", jx_optim_hparam_name(o, k));
    for (int s = 0; s < slots; s++)
        for (int i = 0; i < np; i++, k++)
            rc |= jx_tree_put(tr->state, st[k], "opt/%s/%s", train_slot_name(o, s),
                              tr->params->paths[i]);
    if (k < nso) rc |= jx_tree_put(tr->state, st[k++], "opt/count");
    if (tr->own_count)
        rc |= jx_tree_put(tr->state, jx_array_scalar(JX_I32, 0), "opt/count");
    free(st);
    return rc ? -1 : 0;
}

/* Checks jx_train_new_opts's arguments but the carry. 0 or -1. */
static int train_check(const jx_optim *o, const jx_tree *params, const jx_train_opts *op) {
    if (!o || !params || !op)
        return util_err("jx_train_new: NULL %s", !o ? "optimizer" : !params ? "params" : "options");
    if (!op->loss == !op->grads)
        return util_err("jx_train_new: %s", op->loss ? "both a loss and a grads callback (give one)"
                                                     : "NULL loss (and no grads callback)");
    if (params->n < 1) return util_err("jx_train_new: the parameter tree is empty");
    if (op->n_batch < 0 || op->n_aux < 0 || op->n_batch > 1024 || op->n_aux > 1024)
        return util_err("jx_train_new: n_batch (%d) and n_aux (%d) must be in 0..1024",
                        op->n_batch, op->n_aux);
    for (int i = 0; i < params->n; i++) {
        jx_dtype dt = params->leaves[i] ? jx_array_dtype(params->leaves[i]) : JX_NDTYPES;
        if (dt != JX_F32 && dt != JX_F64)
            return util_err("jx_train_new: param '%s' is %s, not a float array", params->paths[i],
                            dt == JX_NDTYPES ? "NULL" : jx_dtype_name(dt));
    }
    return jx_optim_n_state(o, params->n) < 0 ? -1 : 0;
}

/* Checks the carry tree (may be NULL) against the params: non-NULL leaves, no reserved
 * path, no leaf that is a param or carried twice. 0 or -1. */
static int train_check_carry(const jx_tree *carry, const jx_tree *params) {
    for (int i = 0; carry && i < carry->n; i++) {
        const char *p = carry->paths[i];
        jx_array *leaf = carry->leaves[i];
        if (!leaf) return util_err("jx_train_new: carry '%s' is NULL", p);
        if (tree_path_under(p, "opt") || tree_path_under(p, "params"))
            return util_err("jx_train_new: carry path '%s' is reserved (\"opt/...\" is the "
                            "optimizer state, \"params/...\" the params in checkpoints)", p);
        for (int j = 0; j < params->n; j++)
            if (params->leaves[j] == leaf)
                return util_err("jx_train_new: carry '%s' is the array of param '%s' (each "
                                "is updated in place: give a copy)", p, params->paths[j]);
        for (int j = 0; j < i; j++)
            if (carry->leaves[j] == leaf)
                return util_err("jx_train_new: carry '%s' is the array of carry '%s'", p,
                                carry->paths[j]);
    }
    return 0;
}

/* Adds the carry's leaves (retained) to tr->state and keeps a copy of their values in
 * tr->carry0. 0 or -1. */
static int train_add_carry(jx_train *tr, const jx_tree *carry) {
    tr->nc = carry ? carry->n : 0;
    if (tr->nc == 0) return 0;
    for (int i = 0; i < carry->n; i++)
        if (jx_tree_add(tr->state, carry->paths[i], carry->leaves[i]) < 0) return -1;
    return (tr->carry0 = jx_tree_copy(carry)) ? 0 : -1;
}

/* Allocates tr's run scratch and checkpoint names. 0 or -1. */
static int train_alloc(jx_train *tr) {
    int n_in = tr->np + tr->ns + tr->nc + tr->nb, n_out = tr->np + tr->ns + tr->nc + 1 + tr->n_aux;
    tr->in = calloc((size_t)n_in, sizeof *tr->in);
    tr->out = calloc((size_t)n_out, sizeof *tr->out);
    tr->pnames = calloc((size_t)tr->np, sizeof *tr->pnames);
    int ok = tr->in && tr->out && tr->pnames;
    for (int i = 0; ok && i < tr->np; i++) {
        size_t len = strlen(tr->params->paths[i]) + 8;
        if ((tr->pnames[i] = malloc(len)))
            snprintf(tr->pnames[i], len, "params/%s", tr->params->paths[i]);
        ok = tr->pnames[i] != NULL;
    }
    return ok ? 0 : util_err("jx_train_new: out of memory");
}

/* Compiles nothing yet: makes tr->jf, the step traced per batch signature with the
 * params and the state (carry included) donated. 0 or -1. */
static int train_jit(jx_train *tr, const jx_jit_opts *jit) {
    int n_don = tr->np + tr->ns + tr->nc, n_in = n_don + tr->nb;
    unsigned char *donate = calloc((size_t)n_in, 1);
    if (!donate) return util_err("jx_train_new: out of memory");
    memset(donate, 1, (size_t)n_don);
    jx_jit_opts jo = *jit;
    jo.donate = donate;
    tr->jf = jx_jit_trace(train_step_cb, n_in, n_don + 1 + tr->n_aux, tr, &jo);
    free(donate);
    return tr->jf ? 0 : -1;
}

/* See jx/optim.h. */
jx_train *jx_train_new_opts_at(jx_loc loc, const jx_optim *o, jx_tree *params,
                               const jx_train_opts *opts) {
    if (train_check(o, params, opts) < 0 || train_check_carry(opts->carry, params) < 0)
        return NULL;
    jx_train *tr = calloc(1, sizeof *tr);
    if (!tr) {
        util_err("jx_train_new: out of memory");
        return NULL;
    }
    tr->o = *o, tr->loss = opts->loss, tr->grads = opts->grads, tr->user = opts->user;
    tr->loc = loc, tr->params = params;
    tr->np = params->n, tr->nb = opts->n_batch, tr->n_aux = opts->n_aux;
    tr->ns_opt = jx_optim_n_state(o, params->n);
    tr->own_count = !opt_has_count(o);
    tr->ns = tr->ns_opt + tr->own_count;
    if (train_init_state(tr) < 0 || train_add_carry(tr, opts->carry) < 0 ||
        train_alloc(tr) < 0 || train_jit(tr, &opts->jit) < 0) {
        jx_train_free(tr);
        return NULL;
    }
    return tr;
}

/* See jx/optim.h. */
jx_train *jx_train_new(const jx_optim *o, jx_trace_cb loss, void *user, jx_tree *params,
                       int n_batch, int n_aux, const jx_jit_opts *opts) {
    jx_train_opts op = {.loss = loss, .user = user, .n_batch = n_batch, .n_aux = n_aux};
    if (opts) op.jit = *opts;
    return jx_train_new_opts_at((jx_loc){NULL, 0}, o, params, &op);
}

/* See jx/optim.h. */
void jx_train_free(jx_train *tr) {
    if (!tr) return;
    jx_jitfn_free(tr->jf);
    jx_array_free(tr->loss_out);
    jx_tree_free(tr->state);
    jx_tree_free(tr->carry0);
    for (int i = 0; tr->pnames && i < tr->np; i++) free(tr->pnames[i]);
    free(tr->pnames);
    free(tr->in);
    free(tr->out);
    free(tr);
}

/* See jx/optim.h. */
int jx_train_reset(jx_train *tr) {
    if (!tr) return util_err("jx_train_reset: NULL trainer");
    jx_array **st = calloc((size_t)tr->ns_opt + 1, sizeof *st);
    if (!st) return util_err("jx_train_reset: out of memory");
    int rc = jx_optim_init(&tr->o, tr->np, tr->params->leaves, st) < 0 ? -1 : 0;
    for (int i = 0; rc == 0 && i < tr->ns_opt; i++)
        memcpy(jx_array_data(tr->state->leaves[i]), jx_array_cdata(st[i]),
               jx_array_nbytes(st[i]));
    for (int i = 0; i < tr->ns_opt; i++) jx_array_free(st[i]);
    if (rc == 0 && tr->own_count) jx_array_fill(tr->state->leaves[tr->ns - 1], 0);
    for (int i = 0; rc == 0 && i < tr->nc; i++)
        memcpy(jx_array_data(tr->state->leaves[tr->ns + i]), jx_array_cdata(tr->carry0->leaves[i]),
               jx_array_nbytes(tr->carry0->leaves[i]));
    free(st);
    return rc;
}

/* ---- running -------------------------------------------------------------------------- */

/* See jx/optim.h. */
int jx_train_step(jx_train *tr, jx_array *const *batch, double *loss, jx_array **aux) {
    if (!tr) return util_err("jx_train_step: NULL trainer");
    int np = tr->np, nps = tr->np + tr->ns + tr->nc;
    for (int i = 0; i < tr->nb; i++)
        if (!batch || !batch[i]) return util_err("jx_train_step: batch input %d is NULL", i);
    for (int i = 0; i < np; i++) tr->in[i] = tr->out[i] = tr->params->leaves[i];
    for (int i = 0; i < nps - np; i++) tr->in[np + i] = tr->out[np + i] = tr->state->leaves[i];
    for (int i = 0; i < tr->nb; i++) tr->in[nps + i] = batch[i];
    tr->out[nps] = tr->loss_out; /* written in place after the first step: no allocation */
    for (int i = 0; i < tr->n_aux; i++) tr->out[nps + 1 + i] = aux ? aux[i] : NULL;
    int rc = jx_jitfn_run(tr->jf, tr->in, tr->out);
    if (rc == 0 && loss) *loss = jx_array_get(tr->out[nps], 0);
    tr->loss_out = tr->out[nps]; /* the array passed, or the one the run made */
    for (int i = 0; i < tr->n_aux; i++) {
        if (aux && rc == 0) aux[i] = tr->out[nps + 1 + i];
        else if (!aux) jx_array_free(tr->out[nps + 1 + i]);
    }
    return rc;
}

/* See jx/optim.h. */
jx_tree *jx_train_params(const jx_train *tr) { return tr ? tr->params : NULL; }
jx_tree *jx_train_state(const jx_train *tr) { return tr ? tr->state : NULL; }
jx_jitfn *jx_train_jitfn(const jx_train *tr) { return tr ? tr->jf : NULL; }
int jx_train_n_compiled(const jx_train *tr) { return tr ? jx_jitfn_n_compiled(tr->jf) : 0; }

/* See jx/optim.h. */
int64_t jx_train_count(const jx_train *tr) {
    if (!tr) return util_err("jx_train_count: NULL trainer");
    return (int64_t)jx_array_get(tr->state->leaves[tr->ns - 1], 0);
}

/* ---- an epoch ------------------------------------------------------------------------- */

/* Checks jx_train_epoch's arguments. 0 or -1. */
static int train_epoch_check(const jx_train *tr, const jx_array *x, const jx_array *y,
                             const jx_epoch_opts *o) {
    if (!tr || !x || !o)
        return util_err("jx_train_epoch: NULL %s", !tr ? "trainer" : !x ? "x" : "options");
    if (o->batch < 1) return util_err("jx_train_epoch: batch %lld, not > 0", (long long)o->batch);
    if (tr->nb < (y ? 2 : 1))
        return util_err("jx_train_epoch: the trainer takes %d batch inputs, x%s need %d", tr->nb,
                        y ? " and y" : "", y ? 2 : 1);
    return 0;
}

/* Calls the hook (if any) on b; a negative return is -1 with "jx_train_epoch: the hook
 * stopped the epoch before|after batch N", followed by the hook's own jx_error() message
 * if it set one. */
static int train_hook(jx_train *tr, const jx_epoch_opts *o, jx_train_batch *b) {
    if (!o->hook) return 0;
    jx_clear_error();
    if (o->hook(tr, b, o->user) >= 0) return 0;
    char why[512];
    snprintf(why, sizeof why, "%s", jx_error());
    return util_err("jx_train_epoch: the hook stopped the epoch %s batch %lld%s%s",
                    b->after ? "after" : "before", (long long)b->index, why[0] ? ": " : "", why);
}

/* Runs the step on the iterator's batch with the hook around it; adds its loss to *sum.
 * 0 or -1. */
static int train_epoch_step(jx_train *tr, const jx_batch_iter *it, const jx_epoch_opts *o,
                            jx_array **in, jx_array **aux, double *sum) {
    jx_train_batch b = {in, aux, it->index, jx_batch_iter_count(it), it->size,
                        it->start + it->size, NAN, 0, o->epoch, *sum};
    in[0] = it->x;
    if (it->y) in[1] = it->y;
    for (int i = it->y ? 2 : 1; i < tr->nb; i++) in[i] = NULL;
    if (train_hook(tr, o, &b) < 0) return -1;
    for (int i = 0; i < tr->nb; i++)
        if (!in[i])
            return util_err("jx_train_epoch: batch input %d of batch %lld is NULL (the hook "
                            "must fill it)", i, (long long)b.index);
    if (jx_train_step(tr, in, &b.loss, tr->n_aux ? aux : NULL) < 0) return -1;
    b.loss_sum = *sum += b.loss;
    b.after = 1;
    return train_hook(tr, o, &b);
}

/* See jx/optim.h. */
int jx_train_epoch(jx_train *tr, const jx_array *x, const jx_array *y,
                   const jx_epoch_opts *opts, double *mean_loss) {
    if (train_epoch_check(tr, x, y, opts) < 0) return -1;
    jx_batch_iter it = {0};
    int64_t n = jx_array_rank(x) > 0 ? jx_array_dim(x, 0) : 0, steps = 0;
    int64_t *perm = opts->shuffle ? malloc(sizeof *perm * (size_t)(n > 0 ? n : 1)) : NULL;
    jx_array **in = calloc((size_t)tr->nb, sizeof *in);
    jx_array **aux = calloc((size_t)tr->n_aux + 1, sizeof *aux);
    double sum = 0;
    int rc = in && aux && (perm || !opts->shuffle) ? 0 : util_err("jx_train_epoch: out of memory");
    if (rc == 0) rc = jx_batch_iter_init(&it, x, y, opts->batch, opts->flags);
    if (rc == 0 && perm) rc = jx_shuffle(n, opts->seed, opts->epoch, perm);
    if (rc == 0) rc = jx_batch_iter_reset(&it, perm);
    while (rc == 0 && jx_batch_iter_next(&it)) {
        rc = train_epoch_step(tr, &it, opts, in, aux, &sum);
        steps += rc == 0;
    }
    if (rc == 0 && mean_loss) *mean_loss = steps ? sum / (double)steps : 0;
    for (int i = 0; i < tr->n_aux; i++) jx_array_free(aux[i]);
    jx_batch_iter_free(&it);
    free(aux);
    free(in);
    free(perm);
    return rc;
}
