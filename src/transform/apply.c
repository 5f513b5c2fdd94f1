/* Transform-and-call inside a trace: jx_call_vmap, jx_call_grad, jx_call_value_and_grad,
 * jx_call_vjp and jx_call_jvp. Each traces the user's function on the types the
 * transformation needs (read from the traced arguments), transforms it, inlines the result
 * into the arguments' trace and frees both functions: JAX's vmap(f, in_axes)(x, y) as one
 * call. A failure anywhere (the user's function, the transformation, the call) is
 * recorded on the surrounding trace, and every output is poison. */
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "transform/transform.h"

/* A transformation of a traced function; p holds its parameters. NULL with jx_error(). */
typedef jx_fn *(*ap_transform)(const jx_fn *f, const void *p);

/* One transform-and-call: what names the transformation in messages. */
typedef struct ap_call {
    jx_loc loc;
    const char *what;
    jx_trace_cb f;
    void *user;
    int n_in, n_out;       /* of f */
    const jx_type *types;  /* f's input types */
    ap_transform tx;
    const void *p;
    int n_args;            /* of the transformed function */
    const jx_val *args;
    int n_outs;            /* of the transformed function */
    jx_val *outs;
} ap_call;

/* Sets outs[0..n) to poison after recording "what: msg" on the arguments' trace.
 * Returns -1. */
static int ap_fail(const ap_call *c, const char *msg) {
    jx_val bad = trace_fail(trace_of(c->n_args, c->args), c->loc, c->what, "%s", msg);
    for (int i = 0; i < c->n_outs; i++) c->outs[i] = bad;
    return -1;
}

/* Traces, transforms and calls as c says. 0 or -1 (error on the trace, outputs poison). */
static int ap_run(const ap_call *c) {
    jx_fn *fn = jx_trace_at(c->loc, c->f, c->n_in, c->types, c->n_out, c->user);
    jx_fn *g = fn ? c->tx(fn, c->p) : NULL;
    jx_fn_free(fn);
    if (!g) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", jx_error());
        return ap_fail(c, msg);
    }
    int rc = jx_call_at(c->loc, g, c->args, c->outs);
    jx_fn_free(g);
    return rc;
}

/* Checks c->args[from..n_args): an invalid one (poison, zeroed, stale) is reported as
 * argument k of the call and poisons the outputs. 0 or -1. */
static int ap_bad_args(const ap_call *c, int from) {
    for (int i = from; i < c->n_args; i++) {
        if (!jx_val_bad(c->args[i])) continue;
        jx_val bad = trace_bad_arg(c->loc, c->what, i, c->args[i]);
        for (int j = 0; j < c->n_outs; j++) c->outs[j] = bad;
        return -1;
    }
    return 0;
}

/* Checks the shared arguments of every jx_call_*: f, outs, args (NULL only when there
 * are none) and counts; fills types[0..n_in) from args. 0, or -1 with outs poisoned
 * where possible. */
static int ap_check(ap_call *c, jx_type *types) {
    if (!c->outs) {
        trace_fail(trace_of(c->n_args, c->args), c->loc, c->what, "NULL outputs");
        return -1;
    }
    if (!c->f) return ap_fail(c, "NULL function");
    if (c->n_in < 0 || c->n_in > JX_MAX_OPERANDS || c->n_out < 1 || c->n_out > JX_MAX_OPERANDS) {
        char msg[96];
        snprintf(msg, sizeof msg, "%d inputs and %d outputs (each must be in [%d, %d])",
                 c->n_in, c->n_out, 1, JX_MAX_OPERANDS);
        return ap_fail(c, msg);
    }
    if (!c->args && c->n_args) return ap_fail(c, "NULL arguments");
    if (ap_bad_args(c, 0) < 0) return -1;
    for (int i = 0; i < c->n_in; i++) types[i] = jx_val_type(c->args[i]);
    c->types = types;
    return 0;
}

/* ---- vmap ----------------------------------------------------------------------------- */

typedef struct ap_vmap {
    const int *in_axes, *out_axes;
    int64_t size;
} ap_vmap;

static jx_fn *ap_vmap_tx(const jx_fn *f, const void *p) {
    const ap_vmap *v = p;
    return jx_vmap(f, v->in_axes, v->out_axes, v->size);
}

/* Per-example types: types[i] without its batch axis in_axes[i]; the batch size, which
 * every batched argument must agree on, into *size. 0 or -1 (message in msg). */
static int ap_unbatch(int n, const int *in_axes, jx_type *types, int64_t *size, char *msg,
                      size_t len) {
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (in_axes[i] == JX_NONE) continue;
        jx_type t = types[i];
        int a = in_axes[i] < 0 ? in_axes[i] + t.rank : in_axes[i];
        char ts[160];
        if (a < 0 || a >= t.rank) {
            snprintf(msg, len, "in_axes[%d] = %d out of range for argument %d of type %s", i,
                     in_axes[i], i, jx_type_str(&t, ts, sizeof ts));
            return -1;
        }
        if (first >= 0 && t.shape[a] != *size) {
            snprintf(msg, len, "argument %d has batch size %lld along axis %d, argument %d "
                     "has %lld", i, (long long)t.shape[a], a, first, (long long)*size);
            return -1;
        }
        if (first < 0) first = i, *size = t.shape[a];
        for (int d = a; d + 1 < t.rank; d++) types[i].shape[d] = t.shape[d + 1];
        types[i].rank--;
    }
    if (first < 0) snprintf(msg, len, "no batched argument (every in_axes entry is JX_NONE)");
    return first < 0 ? -1 : 0;
}

/* See jx.h. */
int jx_call_vmap_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, const int *in_axes,
                    const jx_val *args, int n_out, const int *out_axes, jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    ap_vmap v = {in_axes, out_axes, 0};
    ap_call c = {loc, "vmap", f, user, n_in, n_out, NULL, ap_vmap_tx, &v, n_in, args,
                 n_out, outs};
    if (ap_check(&c, types) < 0) return -1;
    if (!in_axes) return ap_fail(&c, "NULL in_axes");
    char msg[512];
    if (ap_unbatch(n_in, in_axes, types, &v.size, msg, sizeof msg) < 0) return ap_fail(&c, msg);
    return ap_run(&c);
}

/* ---- grad, value_and_grad -------------------------------------------------------------- */

typedef struct ap_grad {
    int n_wrt;
    const int *wrt;
} ap_grad;

static jx_fn *ap_grad_tx(const jx_fn *f, const void *p) {
    const ap_grad *g = p;
    return jx_grad(f, g->n_wrt, g->wrt);
}

static jx_fn *ap_value_and_grad_tx(const jx_fn *f, const void *p) {
    const ap_grad *g = p;
    return jx_value_and_grad(f, g->n_wrt, g->wrt);
}

/* See jx.h. */
int jx_call_grad_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, const jx_val *args,
                    int n_out, int n_wrt, const int *wrt, jx_val *grads) {
    jx_type types[JX_MAX_OPERANDS];
    ap_grad g = {n_wrt, wrt};
    int n_grads = n_wrt > 0 ? n_wrt : 1;
    ap_call c = {loc, "grad", f, user, n_in, n_out, NULL, ap_grad_tx, &g, n_in, args,
                 n_grads, grads};
    return ap_check(&c, types) < 0 ? -1 : ap_run(&c);
}

/* See jx.h. */
int jx_call_value_and_grad_at(jx_loc loc, jx_trace_cb f, void *user, int n_in,
                              const jx_val *args, int n_out, int n_wrt, const int *wrt,
                              jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    ap_grad g = {n_wrt, wrt};
    int n_outs = n_out + (n_wrt > 0 ? n_wrt : 1);
    ap_call c = {loc, "value_and_grad", f, user, n_in, n_out, NULL, ap_value_and_grad_tx,
                 &g, n_in, args, n_outs, outs};
    return ap_check(&c, types) < 0 ? -1 : ap_run(&c);
}

/* ---- vjp, jvp ---------------------------------------------------------------------------- */

static jx_fn *ap_vjp_tx(const jx_fn *f, const void *p) { return jx_vjp(f, p); }

static jx_fn *ap_jvp_tx(const jx_fn *f, const void *p) { return jx_jvp(f, p); }

/* The operands of a vjp/jvp call: args[0..n_in) then extra[0..n_extra), into buf. NULL
 * (outs poisoned) if extra is NULL while needed. */
static const jx_val *ap_concat(ap_call *c, const jx_val *extra, int n_extra, jx_val *buf) {
    for (int i = 0; i < c->n_in; i++) buf[i] = c->args[i];
    if (!extra && n_extra) {
        ap_fail(c, "NULL cotangents or tangents");
        return NULL;
    }
    for (int i = 0; i < n_extra; i++) buf[c->n_in + i] = extra[i];
    c->args = buf;
    c->n_args = c->n_in + n_extra;
    return buf;
}

/* Number of selected inputs: wrt[i] != 0, or every input with a float dtype (vjp's NULL)
 * or every input (jvp's NULL). */
static int ap_count(const ap_call *c, const unsigned char *wrt, int float_only) {
    int n = 0;
    for (int i = 0; i < c->n_in; i++) {
        jx_dtype d = c->types[i].dtype;
        n += wrt ? wrt[i] != 0 : !float_only || d == JX_F32 || d == JX_F64;
    }
    return n;
}

/* See jx.h. */
int jx_call_vjp_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, const jx_val *args,
                   const unsigned char *wrt, int n_out, const jx_val *cts, jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    jx_val buf[2 * JX_MAX_OPERANDS];
    ap_call c = {loc, "vjp", f, user, n_in, n_out, NULL, ap_vjp_tx, wrt, n_in, args, 0, outs};
    if (ap_check(&c, types) < 0) return -1;
    c.n_outs = n_out + ap_count(&c, wrt, 1);
    if (!ap_concat(&c, cts, n_out, buf) || ap_bad_args(&c, n_in) < 0) return -1;
    return ap_run(&c);
}

/* See jx.h. */
int jx_call_jvp_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, const jx_val *args,
                   const unsigned char *wrt, const jx_val *tangents, int n_out, jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    jx_val buf[2 * JX_MAX_OPERANDS];
    ap_call c = {loc, "jvp", f, user, n_in, n_out, NULL, ap_jvp_tx, wrt, n_in, args,
                 2 * n_out, outs};
    if (ap_check(&c, types) < 0) return -1;
    if (!ap_concat(&c, tangents, ap_count(&c, wrt, 0), buf) || ap_bad_args(&c, n_in) < 0)
        return -1;
    return ap_run(&c);
}
