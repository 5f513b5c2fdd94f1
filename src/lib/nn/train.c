/* The training state (jx/optim.h, jx_train): a parameter tree, the optimizer state as a
 * tree with "opt/..." paths, and the step (jx_optim_train_step) compiled per batch
 * signature with the params and the state donated; checkpoints as one .npz. */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <jx/data.h>

#include "lib/nn/optim_int.h"

#include "core/util.h"

#define TRAIN_TBUF 200 /* room for a type string */

struct jx_train {
    jx_optim o;
    jx_trace_cb loss;
    void *user;
    jx_tree *params;  /* borrowed */
    jx_tree *state;   /* owned: the optimizer's state, then "opt/count" */
    int np, ns_opt, ns, nb, n_aux;
    int own_count;    /* 1: the optimizer keeps no count; the last state leaf is ours */
    char **pnames;    /* "params/<path>" for each param */
    jx_array **in, **out; /* scratch for a run: np + ns + nb and np + ns + 1 + n_aux */
    jx_array *loss_out;   /* the step's loss scalar, kept from step to step (NULL at first) */
    jx_jitfn *jf;
};

/* ---- the traced step ------------------------------------------------------------------ */

/* step(params..., state..., batch...) -> (params..., state..., loss, aux...): the loss is
 * traced on the params' and the batch's types, jx_optim_train_step builds the update, and
 * the trainer's own count (if any) is incremented. user: the jx_train. */
static void train_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_train *tr = user;
    int np = tr->np, nso = tr->ns_opt, nb = tr->nb, nl = np + nb;
    int nso_out = np + nso + 1 + tr->n_aux;
    jx_type *ty = malloc(sizeof *ty * (size_t)nl);
    jx_val *args = malloc(sizeof *args * (size_t)(np + nso + nb));
    jx_val *outs = malloc(sizeof *outs * (size_t)nso_out);
    jx_fn *lf = NULL, *step = NULL;
    if (!ty || !args || !outs) {
        jx_trace_fail(t, "jx_train: out of memory");
        goto done;
    }
    for (int i = 0; i < np; i++) ty[i] = jx_val_type(in[i]);
    for (int i = 0; i < nb; i++) ty[np + i] = jx_val_type(in[np + tr->ns + i]);
    lf = jx_trace(tr->loss, nl, ty, 1 + tr->n_aux, tr->user);
    step = lf ? jx_optim_train_step(&tr->o, lf, np) : NULL;
    if (!step) {
        jx_trace_fail(t, jx_error());
        goto done;
    }
    memcpy(args, in, sizeof *args * (size_t)(np + nso));
    memcpy(args + np + nso, in + np + tr->ns, sizeof *args * (size_t)nb);
    if (jx_call(step, args, outs) < 0) {
        jx_trace_fail(t, jx_error());
        goto done;
    }
    memcpy(out, outs, sizeof *out * (size_t)(np + nso));
    if (tr->own_count) {
        jx_val c = in[np + nso];
        out[np + nso] = jx_add(c, jx_lit(c, 1));
    }
    memcpy(out + np + tr->ns, outs + np + nso, sizeof *out * (size_t)(1 + tr->n_aux));
done:
    jx_fn_free(step);
    jx_fn_free(lf);
    free(ty);
    free(args);
    free(outs);
}

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

/* Adds leaf (consumed) to tree at the printf-formatted path. 0 or -1. */
static int train_add(jx_tree *tree, jx_array *leaf, const char *fmt, const char *a,
                     const char *b) {
    int len = snprintf(NULL, 0, fmt, a, b);
    char *path = len >= 0 ? malloc((size_t)len + 1) : NULL;
    int rc = -1;
    if (!path || !leaf) {
        if (!path) util_err("jx_train_new: out of memory");
    } else {
        snprintf(path, (size_t)len + 1, fmt, a, b);
        rc = jx_tree_add(tree, path, leaf);
    }
    free(path);
    jx_array_free(leaf);
    return rc;
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
        rc |= train_add(tr->state, st[k], "opt/%s%s", jx_optim_hparam_name(o, k), "");
    for (int s = 0; s < slots; s++)
        for (int i = 0; i < np; i++, k++)
            rc |= train_add(tr->state, st[k], "opt/%s/%s", train_slot_name(o, s),
                            tr->params->paths[i]);
    if (k < nso) rc |= train_add(tr->state, st[k++], "opt/count%s%s", "", "");
    if (tr->own_count) rc |= train_add(tr->state, jx_array_scalar(JX_I32, 0), "opt/count%s%s", "", "");
    free(st);
    return rc ? -1 : 0;
}

/* Checks jx_train_new's arguments. 0 or -1. */
static int train_check(const jx_optim *o, jx_trace_cb loss, const jx_tree *params,
                       int n_batch, int n_aux) {
    if (!o || !loss || !params) return util_err("jx_train_new: NULL %s", !o ? "optimizer" : !loss ? "loss" : "params");
    if (params->n < 1) return util_err("jx_train_new: the parameter tree is empty");
    if (n_batch < 0 || n_aux < 0 || n_batch > 1024 || n_aux > 1024)
        return util_err("jx_train_new: n_batch (%d) and n_aux (%d) must be in 0..1024", n_batch, n_aux);
    for (int i = 0; i < params->n; i++) {
        jx_dtype dt = params->leaves[i] ? jx_array_dtype(params->leaves[i]) : JX_NDTYPES;
        if (dt != JX_F32 && dt != JX_F64)
            return util_err("jx_train_new: param '%s' is %s, not a float array", params->paths[i],
                            dt == JX_NDTYPES ? "NULL" : jx_dtype_name(dt));
    }
    return jx_optim_n_state(o, params->n) < 0 ? -1 : 0;
}

/* See jx/optim.h. */
jx_train *jx_train_new(const jx_optim *o, jx_trace_cb loss, void *user, jx_tree *params,
                       int n_batch, int n_aux, const jx_jit_opts *opts) {
    if (train_check(o, loss, params, n_batch, n_aux) < 0) return NULL;
    jx_train *tr = calloc(1, sizeof *tr);
    if (!tr) {
        util_err("jx_train_new: out of memory");
        return NULL;
    }
    tr->o = *o, tr->loss = loss, tr->user = user, tr->params = params;
    tr->np = params->n, tr->nb = n_batch, tr->n_aux = n_aux;
    tr->ns_opt = jx_optim_n_state(o, params->n);
    tr->own_count = !opt_has_count(o);
    tr->ns = tr->ns_opt + tr->own_count;
    int n_in = tr->np + tr->ns + tr->nb, n_out = tr->np + tr->ns + 1 + n_aux;
    tr->in = calloc((size_t)n_in, sizeof *tr->in);
    tr->out = calloc((size_t)n_out, sizeof *tr->out);
    tr->pnames = calloc((size_t)tr->np, sizeof *tr->pnames);
    unsigned char *donate = calloc((size_t)n_in, 1);
    int ok = tr->in && tr->out && tr->pnames && donate;
    for (int i = 0; ok && i < tr->np; i++) {
        size_t len = strlen(params->paths[i]) + 8;
        if ((tr->pnames[i] = malloc(len))) snprintf(tr->pnames[i], len, "params/%s", params->paths[i]);
        ok = tr->pnames[i] != NULL;
    }
    if (!ok) util_err("jx_train_new: out of memory");
    if (ok && train_init_state(tr) == 0) {
        jx_jit_opts jo = opts ? *opts : (jx_jit_opts){0};
        for (int i = 0; i < tr->np + tr->ns; i++) donate[i] = 1;
        jo.donate = donate;
        tr->jf = jx_jit_trace(train_step_cb, n_in, n_out, tr, &jo);
    }
    free(donate);
    if (!tr->jf) {
        jx_train_free(tr);
        return NULL;
    }
    return tr;
}

/* See jx/optim.h. */
void jx_train_free(jx_train *tr) {
    if (!tr) return;
    jx_jitfn_free(tr->jf);
    jx_array_free(tr->loss_out);
    jx_tree_free(tr->state);
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
    free(st);
    return rc;
}

/* ---- running -------------------------------------------------------------------------- */

/* See jx/optim.h. */
int jx_train_step(jx_train *tr, jx_array *const *batch, double *loss, jx_array **aux) {
    if (!tr) return util_err("jx_train_step: NULL trainer");
    int np = tr->np, nps = tr->np + tr->ns;
    for (int i = 0; i < tr->nb; i++)
        if (!batch || !batch[i]) return util_err("jx_train_step: batch input %d is NULL", i);
    for (int i = 0; i < np; i++) tr->in[i] = tr->out[i] = tr->params->leaves[i];
    for (int i = 0; i < tr->ns; i++) tr->in[np + i] = tr->out[np + i] = tr->state->leaves[i];
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

/* Runs the step on the iterator's batch with the hook around it; adds its loss to *sum.
 * 0 or -1. */
static int train_epoch_step(jx_train *tr, const jx_batch_iter *it, const jx_epoch_opts *o,
                            jx_array **in, jx_array **aux, double *sum) {
    jx_train_batch b = {in, aux, it->index, jx_batch_iter_count(it), it->size,
                        it->start + it->size, NAN, 0};
    in[0] = it->x;
    if (it->y) in[1] = it->y;
    for (int i = it->y ? 2 : 1; i < tr->nb; i++) in[i] = NULL;
    if (o->hook && o->hook(tr, &b, o->user) < 0)
        return util_err("jx_train_epoch: the hook stopped the epoch before batch %lld",
                        (long long)b.index);
    for (int i = 0; i < tr->nb; i++)
        if (!in[i])
            return util_err("jx_train_epoch: batch input %d of batch %lld is NULL (the hook "
                            "must fill it)", i, (long long)b.index);
    if (jx_train_step(tr, in, &b.loss, tr->n_aux ? aux : NULL) < 0) return -1;
    *sum += b.loss;
    b.after = 1;
    if (o->hook && o->hook(tr, &b, o->user) < 0)
        return util_err("jx_train_epoch: the hook stopped the epoch after batch %lld",
                        (long long)b.index);
    return 0;
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

/* ---- checkpoints ---------------------------------------------------------------------- */

/* Name and leaf of checkpoint entry i: the params, then the state. */
static const char *train_entry(const jx_train *tr, int i, jx_array **leaf) {
    if (i < tr->np) {
        *leaf = tr->params->leaves[i];
        return tr->pnames[i];
    }
    *leaf = tr->state->leaves[i - tr->np];
    return tr->state->paths[i - tr->np];
}

/* See jx/optim.h. */
int jx_train_save(const jx_train *tr, const char *path) {
    if (!tr) return util_err("jx_train_save: NULL trainer");
    int n = tr->np + tr->ns;
    const char **names = malloc(sizeof *names * (size_t)n);
    jx_array **arrays = malloc(sizeof *arrays * (size_t)n);
    int rc = names && arrays ? 0 : util_err("jx_train_save: out of memory");
    for (int i = 0; rc == 0 && i < n; i++) names[i] = train_entry(tr, i, &arrays[i]);
    if (rc == 0) rc = jx_npz_save(path, n, names, arrays, JX_NPZ_STORED);
    free(names);
    free(arrays);
    return rc;
}

/* Checks that file tree f (read from path) has exactly tr's entries with their types,
 * valid injected hyperparameters and a count >= 0; fills idx[i] with entry i's index in
 * f. 0 or -1 naming the member. */
static int train_match(const jx_train *tr, const jx_tree *f, const char *path, int *idx) {
    char a[TRAIN_TBUF], b[TRAIN_TBUF];
    int n = tr->np + tr->ns;
    for (int i = 0; i < n; i++) {
        jx_array *leaf;
        const char *name = train_entry(tr, i, &leaf);
        if ((idx[i] = jx_tree_find(f, name)) < 0)
            return util_err("jx_train_load: %s: no member '%s'", path, name);
        jx_type ft = jx_array_type(f->leaves[idx[i]]), tt = jx_array_type(leaf);
        if (!jx_type_eq(&ft, &tt))
            return util_err("jx_train_load: %s: member '%s' is %s, the trainer's is %s", path,
                            name, jx_type_str(&ft, a, sizeof a), jx_type_str(&tt, b, sizeof b));
    }
    int ids[OPT_NHP], nh = opt_hp_ids(&tr->o, ids);
    for (int k = 0; k < nh; k++) {
        double v = jx_array_get(f->leaves[idx[tr->np + k]], 0);
        if (opt_hp_check(&tr->o, ids[k], v) < 0) {
            char why[TRAIN_TBUF];
            snprintf(why, sizeof why, "%s", jx_error());
            return util_err("jx_train_load: %s: member '%s': %s", path, tr->state->paths[k], why);
        }
    }
    int64_t count = (int64_t)jx_array_get(f->leaves[idx[n - 1]], 0);
    if (count < 0)
        return util_err("jx_train_load: %s: member 'opt/count' is %lld, not a step count", path,
                        (long long)count);
    for (int j = 0; f->n != n && j < f->n; j++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++) found = idx[i] == j;
        if (!found)
            return util_err("jx_train_load: %s: unexpected member '%s' (not a param or state "
                            "entry of this trainer)", path, f->paths[j]);
    }
    return 0;
}

/* See jx/optim.h. */
int jx_train_load(jx_train *tr, const char *path) {
    if (!tr) return util_err("jx_train_load: NULL trainer");
    jx_tree *f = jx_tree_load(path);
    if (!f) return -1;
    int n = tr->np + tr->ns;
    int *idx = malloc(sizeof *idx * (size_t)n);
    int rc = idx ? train_match(tr, f, path, idx) : util_err("jx_train_load: out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        jx_array *leaf;
        train_entry(tr, i, &leaf);
        memcpy(jx_array_data(leaf), jx_array_cdata(f->leaves[idx[i]]), jx_array_nbytes(leaf));
    }
    free(idx);
    jx_tree_free(f);
    return rc;
}
