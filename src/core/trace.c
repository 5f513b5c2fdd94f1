/* Tracing: recording ops into an IR function and sticky errors (inlining calls is in
 * call.c).
 *
 * Values are checked before use: a jx_val is a (trace, node) pair the user can get wrong
 * (a zeroed struct, a value kept after its trace ended, one from another trace). A
 * registry of live traces tells those apart without dereferencing a stale pointer, and
 * gives every error the op that saw it first (the first error wins). Not detected: a
 * stale value whose trace's memory was reused by a newer trace. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "core/util.h"

static const jx_val trace_poison_none = {NULL, -1};

/* The registry: live traces, newest first. trace_reg_epoch counts unregistrations, so a
 * thread's cache of traces it found live stays valid while the epoch is unchanged. */
static pthread_mutex_t trace_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static jx_trace *trace_reg_head;
static atomic_ulong trace_reg_epoch;
#define TRACE_CACHE 4
static _Thread_local const jx_trace *trace_cache[TRACE_CACHE];
static _Thread_local unsigned long trace_cache_epoch;
static _Thread_local unsigned trace_cache_next;

/* Adds t to the registry (owned by the calling thread). */
static void trace_register(jx_trace *t) {
    t->owner = pthread_self();
    pthread_mutex_lock(&trace_reg_mu);
    t->reg_prev = NULL;
    t->reg_next = trace_reg_head;
    if (trace_reg_head) trace_reg_head->reg_prev = t;
    trace_reg_head = t;
    pthread_mutex_unlock(&trace_reg_mu);
}

/* Removes t from the registry (before it is freed). */
static void trace_unregister(jx_trace *t) {
    pthread_mutex_lock(&trace_reg_mu);
    if (t->reg_prev) t->reg_prev->reg_next = t->reg_next;
    else trace_reg_head = t->reg_next;
    if (t->reg_next) t->reg_next->reg_prev = t->reg_prev;
    atomic_fetch_add(&trace_reg_epoch, 1);
    pthread_mutex_unlock(&trace_reg_mu);
}

/* See trace.h. A few recently confirmed traces are cached per thread. */
int trace_live(const jx_trace *t) {
    if (!t) return 0;
    unsigned long e = atomic_load(&trace_reg_epoch);
    if (e == trace_cache_epoch) {
        for (int i = 0; i < TRACE_CACHE; i++)
            if (trace_cache[i] == t) return 1;
    } else {
        memset(trace_cache, 0, sizeof trace_cache);
        trace_cache_epoch = e;
    }
    int live = 0;
    pthread_mutex_lock(&trace_reg_mu);
    for (const jx_trace *p = trace_reg_head; p && !live; p = p->reg_next) live = p == t;
    pthread_mutex_unlock(&trace_reg_mu);
    if (live) trace_cache[trace_cache_next++ % TRACE_CACHE] = t;
    return live;
}

/* The innermost (most recently begun) live trace of the calling thread, or NULL. */
static jx_trace *trace_current(void) {
    pthread_t self = pthread_self();
    pthread_mutex_lock(&trace_reg_mu);
    jx_trace *p = trace_reg_head;
    while (p && !pthread_equal(p->owner, self)) p = p->reg_next;
    pthread_mutex_unlock(&trace_reg_mu);
    return p;
}

/* See trace.h. */
const char *trace_val_problem(const jx_trace *t, jx_val v) {
    if (!v.t)
        return v.id == -2 ? "is a symbolic zero, not a traced value"
                          : "is not a traced value (not traced by any trace: an uninitialised "
                            "or zeroed jx_val, or the result of an op that found no trace)";
    if (v.t != t)
        return trace_live(v.t) ? "belongs to a different trace"
                               : "belongs to a trace that has ended or was never begun (a "
                                 "stale jx_val)";
    if (v.id < 0) return t->err[0] ? NULL : "is a poison value but no error was recorded";
    if (v.id >= t->fn->n_nodes) return "refers to a missing node";
    return NULL;
}

/* Starts a trace with inputs of the given types; NULL (jx_error set) on bad types. */
jx_trace *jx_trace_begin(int n_in, const jx_type *in_types) {
    jx_fn *f = ir_fn_new(n_in, in_types);
    if (!f) return NULL;
    jx_trace *t = calloc(1, sizeof *t);
    if (!t) {
        jx_fn_free(f);
        util_err("trace: out of memory");
        return NULL;
    }
    t->fn = f;
    t->n_out = -1;
    trace_register(t);
    return t;
}

/* Input i of t as a value (poison, with an error recorded, when i is out of range). */
jx_val jx_trace_input(jx_trace *t, int i) {
    if (!trace_live(t))
        return trace_fail(NULL, (jx_loc){0}, "trace_input",
                          t ? "the trace has ended or was never begun" : "NULL trace");
    if (i < 0 || i >= t->fn->n_in)
        return trace_fail(t, (jx_loc){0}, "trace_input", "input %d out of range (%d inputs)", i,
                          t->fn->n_in);
    return trace_val(t, i);
}

/* Discards t and its partial function (NULL, or a trace that is not live, is ignored). */
void jx_trace_abort(jx_trace *t) {
    if (!trace_live(t)) return;
    trace_unregister(t);
    jx_fn_free(t->fn);
    free(t);
}

/* The first error on t, or NULL (also for a trace that is not live). */
const char *jx_trace_error(const jx_trace *t) {
    return trace_live(t) && t->err[0] ? t->err : NULL;
}

/* Finishes t with the given outputs, consuming t. NULL (jx_error set) if any op failed or
 * an output is not a value of t. */
jx_fn *jx_trace_end(jx_trace *t, int n_out, const jx_val *outs) {
    if (!t) {
        if (!jx_error()[0]) util_err("trace_end: NULL trace");
        return NULL;
    }
    if (!trace_live(t)) {
        util_err("trace_end: the trace has already ended or was never begun");
        return NULL;
    }
    if (!t->err[0]) {
        if (n_out < 0 || n_out > (1 << 20) || (n_out > 0 && !outs))
            trace_fail(t, (jx_loc){0}, "trace_end", "bad output list (%d outputs%s)", n_out,
                       n_out > 0 && !outs ? ", NULL array" : "");
        for (int i = 0; i < n_out && !t->err[0]; i++) {
            const char *why = trace_val_problem(t, outs[i]);
            if (why) trace_fail(t, (jx_loc){0}, "trace_end", "output %d %s", i, why);
        }
    }
    if (t->err[0]) {
        util_err("%s", t->err);
        jx_trace_abort(t);
        return NULL;
    }
    int32_t ids[256] = {0}, *idp = n_out <= 256 ? ids : malloc((size_t)n_out * sizeof *idp);
    jx_fn *f = t->fn;
    if (!idp) {
        util_err("trace_end: out of memory");
        jx_trace_abort(t);
        return NULL;
    }
    for (int i = 0; i < n_out; i++) idp[i] = outs[i].id;
    int rc = ir_fn_set_outputs(f, n_out, idp);
    if (idp != ids) free(idp);
    trace_unregister(t);
    free(t);
    if (rc < 0) {
        jx_fn_free(f);
        return NULL;
    }
    return f;
}

/* Traces f on inputs of the given types as jx_trace_at does, as a sub-function of parent
 * (NULL: none) whose captures go to caps (see trace_sub). */
static jx_fn *trace_run(jx_loc loc, jx_trace *parent, jx_trace_cb f, int n_in,
                        const jx_type *in_types, int n_out, void *user, trace_caps *caps) {
    if (!f || n_out < 0 || n_out > (1 << 20)) {
        util_err("%s:%d: trace: NULL function or bad output count %d",
                 loc.file ? loc.file : "?", loc.line, n_out);
        return NULL;
    }
    jx_trace *t = jx_trace_begin(n_in, in_types);
    if (!t) return NULL;
    jx_val *in = malloc((size_t)(n_in + 1) * sizeof *in);
    jx_val *out = malloc((size_t)(n_out + 1) * sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        jx_trace_abort(t);
        util_err("trace: out of memory");
        return NULL;
    }
    for (int i = 0; i < n_in; i++) in[i] = trace_val(t, i);
    for (int i = 0; i < n_out; i++) out[i] = trace_poison_none;
    t->n_out = n_out;
    t->parent = parent;
    f(t, in, out, user);
    jx_fn *fn = NULL;
    if (!trace_live(t)) {
        util_err("%s:%d: trace: the traced function ended or aborted its own trace",
                 loc.file ? loc.file : "?", loc.line);
        goto done;
    }
    for (int i = 0; i < n_out && parent; i++) /* an outer value returned as it is */
        if (trace_live(out[i].t) && out[i].t != t) out[i] = trace_capture(t, out[i]);
    if (caps) {
        caps->n = t->n_cap;
        memcpy(caps->outer, t->cap_outer, sizeof caps->outer);
        memcpy(caps->node, t->cap_node, sizeof caps->node);
    }
    /* an op's own error (recorded on t) wins over what it did to the outputs */
    for (int i = 0; i < n_out && !t->err[0]; i++) {
        const char *why = trace_val_problem(t, out[i]);
        if (out[i].t == NULL && out[i].id == -1)
            trace_fail(t, loc, "trace", "output %d was not set by the traced function", i);
        else if (why)
            trace_fail(t, loc, "trace", "output %d %s", i, why);
    }
    fn = jx_trace_end(t, n_out, out);
done:
    free(in);
    free(out);
    return fn;
}

/* Traces f on inputs of the given types (see jx.h). */
jx_fn *jx_trace_at(jx_loc loc, jx_trace_cb f, int n_in, const jx_type *in_types, int n_out,
                   void *user) {
    return trace_run(loc, NULL, f, n_in, in_types, n_out, user, NULL);
}

/* See trace.h. */
jx_fn *trace_sub(jx_loc loc, jx_trace *parent, jx_trace_cb f, int n_in, const jx_type *in,
                 int n_out, void *user, trace_caps *caps) {
    caps->n = 0;
    return trace_run(loc, parent, f, n_in, in, n_out, user, caps);
}

/* Type of a value; dtype JX_NDTYPES for poison or a value of no live trace. */
jx_type jx_val_type(jx_val v) {
    jx_type bad = {JX_NDTYPES, 0, {0}};
    if (jx_val_bad(v)) return bad;
    return v.t->fn->nodes[v.id].type;
}

/* 1 if v is not a valid value of a live trace. */
int jx_val_bad(jx_val v) {
    return v.id < 0 || !trace_live(v.t) || v.id >= v.t->fn->n_nodes;
}

/* Records a user error (see jx.h); a t that is not live counts as NULL (trace_fail). */
jx_val jx_trace_fail_at(jx_loc loc, jx_trace *t, const char *msg) {
    return trace_fail(t, loc, "trace", "%s", msg ? msg : "failed");
}

/* Records the first error on t (or on the thread's innermost live trace when t is NULL
 * or not live) and on jx_error(); returns poison. */
jx_val trace_fail(jx_trace *t, jx_loc loc, const char *op, const char *fmt, ...) {
    if (!trace_live(t)) t = trace_current();
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char full[1024];
    if (loc.file)
        snprintf(full, sizeof full, "%s:%d: %s: %s", loc.file, loc.line, op, msg);
    else
        snprintf(full, sizeof full, "%s: %s", op, msg);
    util_err("%s", full);
    if (t && !t->err[0]) snprintf(t->err, sizeof t->err, "%s", full);
    return (jx_val){t, -1};
}

/* See trace.h. */
jx_val trace_bad_arg(jx_loc loc, const char *op, int k, jx_val x) {
    jx_trace *t = trace_live(x.t) ? x.t : NULL;
    const char *why = trace_val_problem(t, x);
    if (!why) return t && x.id >= 0 ? x : (jx_val){t, -1}; /* propagating poison */
    return trace_fail(t, loc, op, "operand %d %s", k, why);
}

/* The trace of the first operand that belongs to a live trace. */
jx_trace *trace_of(int n, const jx_val *v) {
    for (int i = 0; i < n; i++)
        if (trace_live(v[i].t)) return v[i].t;
    return NULL;
}

/* Type of node id of t. */
const jx_type *trace_type(const jx_trace *t, int32_t id) { return &t->fn->nodes[id].type; }

/* Handle for node id of t. */
jx_val trace_val(jx_trace *t, int32_t id) { return (jx_val){t, id}; }

/* Finds the trace of an op's operands (t if given) and checks every operand against it.
 * Returns the trace with ids/types filled, or NULL with *res set: poison that propagates
 * silently (an operand already poisoned by a recorded error) or after recording this op's
 * error (on the trace, on both traces for a mix, or on the thread's innermost trace). */
static jx_trace *trace_operands(jx_loc loc, jx_trace *t, const char *op, int nin,
                                const jx_val *in, int32_t *ids, jx_type *types, jx_val *res) {
    if (t && !trace_live(t)) {
        *res = trace_fail(NULL, loc, op, "its trace has ended or was never begun");
        return NULL;
    }
    if (!t) t = trace_innermost(nin, in);
    if (!t) {
        const char *why = nin ? trace_val_problem(NULL, in[0]) : "NULL trace";
        *res = nin ? trace_fail(NULL, loc, op, "operand 0 %s", why)
                   : trace_fail(NULL, loc, op, "%s", why);
        return NULL;
    }
    for (int k = 0; k < nin; k++) {
        jx_val v = in[k].t != t && trace_live(in[k].t) ? trace_capture(t, in[k]) : in[k];
        const char *why = trace_val_problem(t, v);
        if (!why && v.id < 0) { /* poison after a recorded error: pass it on */
            *res = (jx_val){t, -1};
            return NULL;
        }
        if (why && v.t != t && trace_live(v.t)) { /* a mix: both traces fail */
            int j = 0;
            while (j < k && in[j].t != t) j++;
            if (j == k) { /* t was given, and no operand before k is of it */
                *res = trace_fail(t, loc, op, "operand %d %s", k, why);
                return NULL;
            }
            trace_fail(in[k].t, loc, op, "operands %d and %d belong to different traces", j, k);
            *res = trace_fail(t, loc, op, "operands %d and %d belong to different traces", j, k);
            return NULL;
        }
        if (why) {
            *res = trace_fail(t, loc, op, "operand %d %s", k, why);
            return NULL;
        }
        ids[k] = v.id;
        types[k] = t->fn->nodes[v.id].type;
    }
    return t;
}

/* Emits one primitive after checking operands and running its shape rule (see trace.h). */
/* The multi-result rules for an op about to be appended to t (see ir.h): only get reads a
 * multi-result node, and a get must be the next result of the node its run follows, its
 * type (*got) that result's. 0, or -1 with the reason in err. */
static int trace_multi_operands(jx_trace *t, jx_op op, int nin, const int32_t *ids,
                                jx_type *got, char *err, size_t len) {
    const jx_fn *f = t->fn;
    for (int k = 0; k < nin; k++)
        if (op != JX_OP_GET && ir_is_multi(f, ids[k])) {
            snprintf(err, len, "operand %d is a %s node, not one of its results", k,
                     prim_info(f->nodes[ids[k]].op)->name);
            return -1;
        }
    if (op != JX_OP_GET) return 0;
    int m = ids[0], j = f->n_nodes - m - 1;
    jx_type r[JX_MAX_RESULTS];
    int n_res = ir_is_multi(f, m) ? prim_info(f->nodes[m].op)->family->results(&f->nodes[m], r,
                                                                            JX_MAX_RESULTS)
                                  : 0;
    if (n_res <= 0 || ir_n_gets(f, m) != j || j >= n_res) {
        snprintf(err, len, "must directly follow the node whose results it names (node %d "
                 "has %d results, %d named so far)", m, n_res > 0 ? n_res : 0,
                 n_res > 0 ? ir_n_gets(f, m) : 0);
        return -1;
    }
    *got = r[j];
    return 0;
}

jx_val trace_emit(jx_loc loc, jx_trace *t, jx_op op, int nin, const jx_val *in,
                  const jx_attrs *at, const jx_type *hint) {
    if ((int)op < 0 || op >= JX_NOPS)
        return trace_fail(t, loc, "emit", "bad primitive %d", (int)op);
    const jx_prim_info *p = prim_info(op);
    /* the count is checked before any operand is read */
    if (nin < 0 || nin > JX_MAX_OPERANDS)
        return trace_fail(t, loc, p->name, "bad operand count %d (at most %d)", nin,
                          JX_MAX_OPERANDS);
    if (nin > 0 && !in)
        return trace_fail(t, loc, p->name, "NULL operand list (%d operands)", nin);
    int32_t ids[JX_MAX_OPERANDS];
    jx_type types[JX_MAX_OPERANDS];
    jx_val res;
    t = trace_operands(loc, t, p->name, nin, in, ids, types, &res);
    if (!t) return res;
    if (p->arity >= 0 ? nin != p->arity : nin < 1)
        return p->arity >= 0
                   ? trace_fail(t, loc, p->name, "takes %d operands, got %d", p->arity, nin)
                   : trace_fail(t, loc, p->name, "takes at least 1 operand, got 0");
    jx_attrs none;
    memset(&none, 0, sizeof none);
    if (!at) at = &none;
    for (int k = 0; k < JX_MAX_ATTRS; k++)
        if (at->n[k] < 0 || at->n[k] > 4096 || (at->n[k] > 0 && !at->v[k]))
            return trace_fail(t, loc, p->name, "attribute %d is malformed", k);
    if (!prim_fns_ok(p, at->n_fns) || (at->n_fns > 0 && !at->fns))
        return trace_fail(t, loc, p->name, "takes %s%d sub-functions, got %d",
                          p->n_fns < 0 ? "1 to " : "", p->n_fns < 0 ? JX_MAX_FNS : p->n_fns,
                          at->n_fns);
    for (int k = 0; k < at->n_fns; k++)
        if (!at->fns[k])
            return trace_fail(t, loc, p->name, "sub-function '%s' is NULL", prim_fn_name(p, k));
    jx_type out, got;
    char err[512] = "";
    memset(&out, 0, sizeof out);
    if (trace_multi_operands(t, op, nin, ids, &got, err, sizeof err) < 0)
        return trace_fail(t, loc, p->name, "%s", err);
    if (op == JX_OP_GET) hint = &got; /* the producer's result type */
    if (p->family->infer(op, nin, types, at, hint, &out, err, sizeof err) < 0) {
        char ts[600];
        ir_types_str(nin, types, ts, sizeof ts);
        if (nin)
            return trace_fail(t, loc, p->name, "%s (operands: %s)", err, ts);
        return trace_fail(t, loc, p->name, "%s", err);
    }
    /* the one place every result type passes: sizes are checked here, once */
    if (!(p->flags & JXF_MULTI) && ir_type_check(&out, err, sizeof err) < 0) {
        char ts[600], os[160];
        ir_types_str(nin, types, ts, sizeof ts);
        return trace_fail(t, loc, p->name, "result %s %s%s%s%s", jx_type_str(&out, os, sizeof os),
                          err, nin ? " (operands: " : "", ts, nin ? ")" : "");
    }
    int32_t id = ir_fn_append(t->fn, op, nin, ids, &out, at, loc);
    if (id < 0) return trace_fail(t, loc, p->name, "%s", jx_error());
    return (jx_val){t, id};
}

/* See trace.h. */
int trace_emit_multi(jx_loc loc, jx_trace *t, jx_op op, int nin, const jx_val *in,
                     const jx_attrs *at, int max, jx_val *outs) {
    jx_val m = trace_emit(loc, t, op, nin, in, at, NULL);
    for (int j = 0; j < max; j++) outs[j] = (jx_val){m.t, -1};
    if (m.id < 0) return -1;
    const jx_node *n = &m.t->fn->nodes[m.id];
    jx_type r[JX_MAX_RESULTS];
    int k = prim_info(op)->family->results(n, r, JX_MAX_RESULTS);
    if (k < 0 || k > max) {
        trace_fail(m.t, loc, prim_info(op)->name, "%d results, room for %d", k, max);
        return -1;
    }
    for (int j = 0; j < k; j++) {
        int64_t idx = j;
        jx_ints ix = {1, {idx}};
        jx_attrs ga = ir_attrs(&ix, NULL, NULL, NULL);
        outs[j] = trace_emit(loc, m.t, JX_OP_GET, 1, &m, &ga, &r[j]);
        if (outs[j].id < 0) return -1;
    }
    return k;
}
