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

/* The trace of the call's first live argument, or NULL (args may be NULL). */
static jx_trace *ap_trace(const ap_call *c) {
    return c->args ? trace_of(c->n_args, c->args) : NULL;
}

/* Sets outs[0..n) to poison after recording "what: msg" on the arguments' trace.
 * Returns -1. */
static int ap_fail(const ap_call *c, const char *msg) {
    jx_val bad = trace_fail(ap_trace(c), c->loc, c->what, "%s", msg);
    for (int i = 0; i < c->n_outs; i++) c->outs[i] = bad;
    return -1;
}

/* Traces, transforms and calls as c says. 0 or -1 (error on the trace, outputs poison). */
static int ap_run(const ap_call *c) {
    trace_caps caps;
    jx_trace *outer = ap_trace(c);
    jx_fn *fn = outer ? trace_sub(c->loc, outer, c->f, c->n_in, c->types, c->n_out, c->user, &caps)
                      : jx_trace_at(c->loc, c->f, c->n_in, c->types, c->n_out, c->user);
    if (fn && outer && caps.n > 0) { /* not yet: each transformation would take them */
        jx_fn_free(fn);
        return ap_fail(c, "the function uses a value of the enclosing trace (a closure); "
                          "pass it as an argument instead (JX_NONE in in_axes, or outside "
                          "wrt)");
    }
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
        trace_fail(ap_trace(c), c->loc, c->what, "NULL outputs");
        return -1;
    }
    if (!c->f) return ap_fail(c, "NULL function");
    if (c->n_in < 0 || c->n_in > JX_MAX_OPERANDS || c->n_out < 1 || c->n_out > JX_MAX_OPERANDS) {
        char msg[96];
        snprintf(msg, sizeof msg, "%d inputs and %d outputs (inputs in [0, %d], outputs in "
                 "[1, %d])", c->n_in, c->n_out, JX_MAX_OPERANDS, JX_MAX_OPERANDS);
        return ap_fail(c, msg);
    }
    if (!c->args && c->n_args) return ap_fail(c, "NULL arguments");
    if (ap_bad_args(c, 0) < 0) return -1;
    for (int i = 0; i < c->n_in; i++) types[i] = jx_val_type(c->args[i]);
    c->types = types;
    return 0;
}

/* ---- argument layouts ---------------------------------------------------------------------- */

/* The argument of every input under layout args (leaf counts per argument; JX_FLAT: input
 * i is argument i) into arg_of[0..n_in). The number of arguments, or -1 with msg. */
static int ap_layout(int n_in, jx_ints args, int *arg_of, char *msg, size_t len) {
    if (args.n == 0) {
        for (int i = 0; i < n_in; i++) arg_of[i] = i;
        return n_in;
    }
    int i = 0;
    for (int a = 0; a < args.n && a < JX_MAX_RANK; a++) {
        if (args.v[a] < 0 || args.v[a] > n_in - i) {
            snprintf(msg, len, "argument %d of the layout has %lld leaves; %d inputs remain", a,
                     (long long)args.v[a], n_in - i);
            return -1;
        }
        for (int64_t k = 0; k < args.v[a]; k++) arg_of[i++] = a;
    }
    if (args.n < 0 || args.n > JX_MAX_RANK || i != n_in) {
        snprintf(msg, len, "the layout's %d arguments hold %d leaves, not the %d inputs",
                 args.n, i, n_in);
        return -1;
    }
    return args.n;
}

/* Per-input copies of per-argument values: out[i] = per_arg[arg_of[i]]. */
static void ap_spread(int n_in, const int *arg_of, const int *per_arg, int *out) {
    for (int i = 0; i < n_in; i++) out[i] = per_arg[arg_of[i]];
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
static int ap_unbatch(int n, const int *in_axes, const int *arg_of, jx_type *types,
                      int64_t *size, char *msg, size_t len) {
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (in_axes[i] == JX_NONE) continue;
        jx_type t = types[i];
        int a = in_axes[i] < 0 ? in_axes[i] + t.rank : in_axes[i];
        char ts[160];
        if (a < 0 || a >= t.rank) {
            snprintf(msg, len, "in_axes[%d] = %d out of range for input %d of type %s",
                     arg_of[i], in_axes[i], i, jx_type_str(&t, ts, sizeof ts));
            return -1;
        }
        if (first >= 0 && t.shape[a] != *size) {
            snprintf(msg, len, "input %d has batch size %lld along axis %d, input %d has %lld",
                     i, (long long)t.shape[a], a, first, (long long)*size);
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
int jx_call_vmap_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                    const int *in_axes, const jx_val *args, int n_out, const int *out_axes,
                    jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    int arg_of[JX_MAX_OPERANDS], axes[JX_MAX_OPERANDS];
    ap_vmap v = {axes, out_axes, 0};
    ap_call c = {loc, "vmap", f, user, n_in, n_out, NULL, ap_vmap_tx, &v, n_in, args,
                 n_out, outs};
    if (ap_check(&c, types) < 0) return -1;
    if (!in_axes) return ap_fail(&c, "NULL in_axes");
    char msg[512];
    if (ap_layout(n_in, layout, arg_of, msg, sizeof msg) < 0) return ap_fail(&c, msg);
    ap_spread(n_in, arg_of, in_axes, axes);
    if (ap_unbatch(n_in, axes, arg_of, types, &v.size, msg, sizeof msg) < 0)
        return ap_fail(&c, msg);
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

/* The inputs of the arguments wrt lists (n_wrt == 0: argument 0), argument by argument in
 * list order, into leaves; their count, or -1 with msg (an argument out of range or
 * without leaves, too many). */
static int ap_wrt_leaves(int n_in, jx_ints layout, int n_wrt, const int *wrt, int *leaves,
                         char *msg, size_t len) {
    static const int first[1] = {0};
    int arg_of[JX_MAX_OPERANDS], n = 0;
    int n_args = ap_layout(n_in, layout, arg_of, msg, len);
    if (n_args < 0) return -1;
    if (n_wrt <= 0) n_wrt = 1, wrt = first;
    if (!wrt) return snprintf(msg, len, "NULL wrt list"), -1;
    for (int k = 0; k < n_wrt; k++) {
        int m = n;
        if (wrt[k] < 0 || wrt[k] >= n_args)
            return snprintf(msg, len, "wrt %d out of range (%d arguments)", wrt[k], n_args), -1;
        for (int i = 0; i < n_in; i++) {
            if (arg_of[i] != wrt[k]) continue;
            if (n == JX_MAX_OPERANDS)
                return snprintf(msg, len, "wrt lists more than %d leaves", JX_MAX_OPERANDS), -1;
            leaves[n++] = i;
        }
        if (n == m) return snprintf(msg, len, "argument %d has no leaves", wrt[k]), -1;
    }
    return n;
}

/* jx_call_grad (outputs: the gradients) or jx_call_value_and_grad (f's outputs first). */
static int ap_grad_call(jx_loc loc, int with_value, jx_trace_cb f, void *user, int n_in,
                        jx_ints layout, const jx_val *args, int n_out, int n_wrt,
                        const int *wrt, jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    int leaves[JX_MAX_OPERANDS];
    char msg[256];
    int n = ap_wrt_leaves(n_in, layout, n_wrt, wrt, leaves, msg, sizeof msg);
    ap_grad g = {n, leaves};
    ap_call c = {loc, with_value ? "value_and_grad" : "grad", f, user, n_in, n_out, NULL,
                 with_value ? ap_value_and_grad_tx : ap_grad_tx, &g, n_in, args,
                 (with_value ? n_out : 0) + (n < 0 ? (n_wrt > 0 ? n_wrt : 1) : n), outs};
    if (ap_check(&c, types) < 0) return -1;
    return n < 0 ? ap_fail(&c, msg) : ap_run(&c);
}

/* See jx.h. */
int jx_call_grad_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                    const jx_val *args, int n_out, int n_wrt, const int *wrt, jx_val *grads) {
    return ap_grad_call(loc, 0, f, user, n_in, layout, args, n_out, n_wrt, wrt, grads);
}

/* See jx.h. */
int jx_call_value_and_grad_at(jx_loc loc, jx_trace_cb f, void *user, int n_in,
                              jx_ints layout, const jx_val *args, int n_out, int n_wrt,
                              const int *wrt, jx_val *outs) {
    return ap_grad_call(loc, 1, f, user, n_in, layout, args, n_out, n_wrt, wrt, outs);
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

/* wrt (one byte per argument of layout; NULL stays NULL) as a mask over c's inputs in
 * mask; *leaf_wrt receives mask or NULL. 0, or -1 with the outputs poisoned. */
static int ap_leaf_mask(ap_call *c, jx_ints layout, const unsigned char *wrt,
                        unsigned char *mask, const unsigned char **leaf_wrt) {
    int arg_of[JX_MAX_OPERANDS];
    char msg[256];
    if (ap_layout(c->n_in, layout, arg_of, msg, sizeof msg) < 0) return ap_fail(c, msg);
    for (int i = 0; i < c->n_in; i++) mask[i] = wrt && wrt[arg_of[i]];
    *leaf_wrt = wrt ? mask : NULL;
    c->p = *leaf_wrt;
    return 0;
}

/* See jx.h. */
int jx_call_vjp_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                   const jx_val *args, const unsigned char *wrt, int n_out, const jx_val *cts,
                   jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    jx_val buf[2 * JX_MAX_OPERANDS];
    unsigned char mask[JX_MAX_OPERANDS];
    const unsigned char *m;
    ap_call c = {loc, "vjp", f, user, n_in, n_out, NULL, ap_vjp_tx, NULL, n_in, args, n_out,
                 outs};
    if (ap_check(&c, types) < 0 || ap_leaf_mask(&c, layout, wrt, mask, &m) < 0) return -1;
    c.n_outs = n_out + ap_count(&c, m, 1);
    if (!ap_concat(&c, cts, n_out, buf) || ap_bad_args(&c, n_in) < 0) return -1;
    return ap_run(&c);
}

/* See jx.h. */
int jx_call_jvp_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                   const jx_val *args, const unsigned char *wrt, const jx_val *tangents,
                   int n_out, jx_val *outs) {
    jx_type types[JX_MAX_OPERANDS];
    jx_val buf[2 * JX_MAX_OPERANDS];
    unsigned char mask[JX_MAX_OPERANDS];
    const unsigned char *m;
    ap_call c = {loc, "jvp", f, user, n_in, n_out, NULL, ap_jvp_tx, NULL, n_in, args,
                 2 * n_out, outs};
    if (ap_check(&c, types) < 0 || ap_leaf_mask(&c, layout, wrt, mask, &m) < 0) return -1;
    if (!ap_concat(&c, tangents, ap_count(&c, m, 0), buf) || ap_bad_args(&c, n_in) < 0)
        return -1;
    return ap_run(&c);
}
