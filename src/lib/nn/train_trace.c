/* The traced step of jx_train (jx/optim.h): the user's loss or grads callback traced on
 * (params..., carry..., batch...), its outputs checked against the params' and the carry's
 * types, value_and_grad for a loss, then jx_optim_update, the trainer's count and the new
 * carry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/nn/train_int.h"

#include "core/trace.h"
#include "core/util.h"

/* Outputs past its count that a callback may write before it is caught (the out array it
 * gets has them, set to a sentinel, so a callback with the wrong count fails cleanly). */
#define TRAIN_SLACK 16
#define TRAIN_UNSET ((jx_val){NULL, INT32_MIN})

/* A user callback as traced: the trainer, its output count, and the message of an
 * output count error found by train_wrap_cb ("" if none). */
typedef struct train_wrap {
    const jx_train *tr;
    int n_out;
    char msg[512];
} train_wrap;

/* The location errors of the step are reported at: the jx_train_new_opts call, or here. */
static jx_loc train_loc(const jx_train *tr) {
    return tr->loc.file ? tr->loc : (jx_loc){__FILE__, __LINE__};
}

/* "grads" or "loss": the callback's name in messages. */
static const char *train_cb_name(const jx_train *tr) { return tr->grads ? "grads" : "loss"; }

/* Describes output k of the callback into buf ("the loss", "the gradient of param 'w'",
 * "the new carry 'rng/key'", "aux 0"); returns buf. */
static const char *train_out_name(const jx_train *tr, int k, char *buf, size_t len) {
    int ng = tr->grads ? tr->np : 0;
    if (k == 0) snprintf(buf, len, "the loss");
    else if (k <= ng) snprintf(buf, len, "the gradient of param '%s'", tr->params->paths[k - 1]);
    else if (k <= ng + tr->nc)
        snprintf(buf, len, "the new carry '%s'", tr->state->paths[tr->ns + k - 1 - ng]);
    else snprintf(buf, len, "aux %d", k - 1 - ng - tr->nc);
    return buf;
}

/* Records an output count error of the callback in w->msg and on t: output k was left
 * unset (set = 0) or written past the end (set = 1). */
static void train_count_error(jx_trace *t, train_wrap *w, int k, int set) {
    const jx_train *tr = w->tr;
    char name[TRAIN_TBUF], lay[TRAIN_TBUF];
    if (tr->grads)
        snprintf(lay, sizeof lay, "the loss, %d grads, %d carry, %d aux", tr->np, tr->nc,
                 tr->n_aux);
    else
        snprintf(lay, sizeof lay, "the loss, %d carry, %d aux", tr->nc, tr->n_aux);
    if (set)
        snprintf(w->msg, sizeof w->msg, "the %s callback set output %d, past its %d outputs (%s)",
                 train_cb_name(tr), k, w->n_out, lay);
    else
        snprintf(w->msg, sizeof w->msg, "the %s callback left output %d (%s) unset; its %d "
                 "outputs are %s", train_cb_name(tr), k, train_out_name(tr, k, name, sizeof name),
                 w->n_out, lay);
    trace_fail(t, (jx_loc){NULL, 0}, "jx_train", "%s", w->msg);
}

/* Calls the user's callback with an out array of n_out entries and TRAIN_SLACK sentinels
 * after them; an output left unset (unless an op failed) or a sentinel written fails the
 * trace naming the output and the layout. */
static void train_wrap_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    train_wrap *w = user;
    const jx_train *tr = w->tr;
    int n = w->n_out;
    jx_val *o = malloc(sizeof *o * (size_t)(n + TRAIN_SLACK));
    if (!o) {
        trace_fail(t, (jx_loc){NULL, 0}, "jx_train", "out of memory");
        return;
    }
    for (int k = 0; k < n + TRAIN_SLACK; k++) o[k] = TRAIN_UNSET;
    (tr->grads ? tr->grads : tr->loss)(t, in, o, tr->user);
    int bad = -1;
    for (int k = n + TRAIN_SLACK - 1; k >= n && bad < 0; k--)
        if (o[k].t || o[k].id != INT32_MIN) bad = k;
    if (bad >= 0) train_count_error(t, w, bad, 1);
    for (int k = 0; k < n && bad < 0 && !jx_trace_error(t); k++)
        if (!o[k].t && o[k].id == INT32_MIN) train_count_error(t, w, bad = k, 0);
    for (int k = 0; k < n; k++) out[k] = o[k].id == INT32_MIN ? out[k] : o[k];
    free(o);
}

/* Checks the traced callback f's outputs: 0 a float scalar, then (grads) one gradient of
 * each param's type, then one new carry of each carry leaf's type. args: f's inputs
 * (params, carry, batch). 0, or -1 with a trace error on t. */
static int train_check_outs(jx_trace *t, const jx_train *tr, const jx_fn *f,
                            const jx_val *args) {
    char a[TRAIN_TBUF], b[TRAIN_TBUF];
    const char *cb = train_cb_name(tr);
    jx_type lt = jx_fn_out_type(f, 0);
    if (lt.rank != 0 || (lt.dtype != JX_F32 && lt.dtype != JX_F64)) {
        trace_fail(t, train_loc(tr), "jx_train", "%s output 0 (the loss) is %s, not a float "
                   "scalar", cb, jx_type_str(&lt, a, sizeof a));
        return -1;
    }
    int ng = tr->grads ? tr->np : 0;
    for (int i = 0; i < ng + tr->nc; i++) {
        int grad = i < ng, in = grad ? i : tr->np + i - ng;
        jx_type got = jx_fn_out_type(f, 1 + i), want = jx_val_type(args[in]);
        if (jx_type_eq(&got, &want)) continue;
        const char *path = grad ? tr->params->paths[i] : tr->state->paths[tr->ns + i - ng];
        trace_fail(t, train_loc(tr), "jx_train", "%s output %d (%s '%s') is %s, the %s is %s",
                   cb, 1 + i, grad ? "the gradient of param" : "the new carry", path,
                   jx_type_str(&got, a, sizeof a), grad ? "param" : "carry",
                   jx_type_str(&want, b, sizeof b));
        return -1;
    }
    return 0;
}

/* Traces the user's callback on args' types (n_out outputs) and checks its outputs.
 * The function, or NULL with a trace error on t. */
static jx_fn *train_trace_cb(jx_trace *t, const jx_train *tr, const jx_val *args, int n_out) {
    int n = tr->np + tr->nc + tr->nb;
    jx_type *ty = malloc(sizeof *ty * (size_t)n);
    if (!ty) {
        trace_fail(t, train_loc(tr), "jx_train", "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) ty[i] = jx_val_type(args[i]);
    train_wrap w = {tr, n_out, ""};
    jx_fn *f = jx_trace_at(train_loc(tr), train_wrap_cb, n, ty, n_out, &w);
    free(ty);
    if (!f && w.msg[0]) {
        trace_fail(t, train_loc(tr), "jx_train", "%s", w.msg);
    } else if (!f) {
        trace_fail(t, train_loc(tr), "jx_train", "%s callback: %s", train_cb_name(tr),
                   jx_error());
    } else if (train_check_outs(t, tr, f, args) < 0) {
        jx_fn_free(f);
        f = NULL;
    }
    return f;
}

/* res = (loss, grads[np], new carry[nc], aux[n_aux]) of the step on args = (params,
 * carry, batch): the grads callback's outputs, or value_and_grad of the loss callback
 * with respect to the params (outputs (loss, carry, aux, grads), reordered). 0 or -1. */
static int train_grads(jx_trace *t, const jx_train *tr, const jx_val *args, jx_val *res) {
    int np = tr->np, n_out = 1 + tr->nc + tr->n_aux;
    jx_fn *f = train_trace_cb(t, tr, args, tr->grads ? n_out + np : n_out);
    if (!f) return -1;
    if (tr->grads) {
        int rc = jx_call_at(train_loc(tr), f, args, res);
        jx_fn_free(f);
        return rc;
    }
    int *wrt = malloc(sizeof *wrt * (size_t)np);
    jx_val *vg_out = malloc(sizeof *vg_out * (size_t)(n_out + np));
    jx_fn *vg = NULL;
    int rc = -1;
    if (!wrt || !vg_out) {
        trace_fail(t, train_loc(tr), "jx_train", "out of memory");
        goto done;
    }
    for (int i = 0; i < np; i++) wrt[i] = i;
    if (!(vg = jx_value_and_grad(f, np, wrt))) {
        trace_fail(t, train_loc(tr), "jx_train", "value_and_grad of the loss: %s", jx_error());
        goto done;
    }
    if ((rc = jx_call_at(train_loc(tr), vg, args, vg_out)) == 0) {
        res[0] = vg_out[0];
        memcpy(res + 1, vg_out + n_out, sizeof *res * (size_t)np);
        memcpy(res + 1 + np, vg_out + 1, sizeof *res * (size_t)(n_out - 1));
    }
done:
    jx_fn_free(vg);
    jx_fn_free(f);
    free(wrt);
    free(vg_out);
    return rc;
}

/* See train_int.h: (loss, grads, new carry, aux) from train_grads, the optimizer update
 * of the params and its state, the trainer's count + 1, the new carry. */
void train_step_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_train *tr = user;
    int np = tr->np, ns = tr->ns, nc = tr->nc, nr = 1 + np + nc + tr->n_aux;
    jx_val *args = malloc(sizeof *args * (size_t)(np + nc + tr->nb));
    jx_val *res = malloc(sizeof *res * (size_t)nr);
    if (!args || !res) {
        trace_fail(t, train_loc(tr), "jx_train", "out of memory");
        goto done;
    }
    memcpy(args, in, sizeof *args * (size_t)np);
    memcpy(args + np, in + np + ns, sizeof *args * (size_t)(nc + tr->nb));
    if (train_grads(t, tr, args, res) < 0 ||
        jx_optim_update_at(train_loc(tr), &tr->o, np, in, res + 1, in + np, out, out + np) < 0)
        goto done;
    if (tr->own_count) {
        jx_val c = in[np + ns - 1];
        out[np + ns - 1] = jx_add(c, jx_lit(c, 1));
    }
    memcpy(out + np + ns, res + 1 + np, sizeof *out * (size_t)nc);
    out[np + ns + nc] = res[0];
    memcpy(out + np + ns + nc + 1, res + 1 + np + nc, sizeof *out * (size_t)tr->n_aux);
done:
    free(args);
    free(res);
}
