/* Tracing: recording ops into an IR function, sticky errors, and inlining calls. */
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "util.h"

static const jx_val trace_poison_none = {NULL, -1};

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
    return t;
}

/* Input i of t as a value (poison, with an error recorded, when i is out of range). */
jx_val jx_trace_input(jx_trace *t, int i) {
    if (!t) return trace_poison_none;
    if (i < 0 || i >= t->fn->n_in)
        return trace_fail(t, (jx_loc){0}, "trace_input", "input %d out of range (%d inputs)", i,
                          t->fn->n_in);
    return trace_val(t, i);
}

/* Discards t and its partial function (NULL is ignored). */
void jx_trace_abort(jx_trace *t) {
    if (!t) return;
    jx_fn_free(t->fn);
    free(t);
}

/* The first error on t, or NULL. */
const char *jx_trace_error(const jx_trace *t) { return t && t->err[0] ? t->err : NULL; }

/* Finishes t with the given outputs, consuming t. NULL (jx_error set) if any op failed or
 * an output is not a value of t. */
jx_fn *jx_trace_end(jx_trace *t, int n_out, const jx_val *outs) {
    if (!t) {
        if (!jx_error()[0]) util_err("trace_end: NULL trace");
        return NULL;
    }
    if (!t->err[0]) {
        if (n_out < 0 || (n_out > 0 && !outs))
            trace_fail(t, (jx_loc){0}, "trace_end", "bad output list (%d outputs)", n_out);
        for (int i = 0; i < n_out && !t->err[0]; i++) {
            if (outs[i].t != t || outs[i].id < 0 || outs[i].id >= t->fn->n_nodes)
                trace_fail(t, (jx_loc){0}, "trace_end",
                           "output %d was not set to a value of this trace", i);
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
    free(t);
    if (rc < 0) {
        jx_fn_free(f);
        return NULL;
    }
    return f;
}

/* Traces f on inputs of the given types (see jx.h). */
jx_fn *jx_trace_at(jx_loc loc, jx_trace_cb f, int n_in, const jx_type *in_types, int n_out,
                   void *user) {
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
    f(t, in, out, user);
    for (int i = 0; i < n_out && !t->err[0]; i++)
        if (out[i].t == NULL && out[i].id < 0)
            trace_fail(t, loc, "trace", "output %d was not set by the traced function", i);
    jx_fn *fn = jx_trace_end(t, n_out, out);
    free(in);
    free(out);
    return fn;
}

/* Type of a value; dtype JX_NDTYPES for poison. */
jx_type jx_val_type(jx_val v) {
    jx_type bad = {JX_NDTYPES, 0, {0}};
    if (!v.t || v.id < 0 || v.id >= v.t->fn->n_nodes) return bad;
    return v.t->fn->nodes[v.id].type;
}

/* 1 if v is not a valid value. */
int jx_val_bad(jx_val v) { return !v.t || v.id < 0 || v.id >= v.t->fn->n_nodes; }

/* Records a user error (see jx.h). */
jx_val jx_trace_fail_at(jx_loc loc, jx_trace *t, const char *msg) {
    return trace_fail(t, loc, "trace", "%s", msg ? msg : "failed");
}

/* Records the first error on t and on jx_error(); returns poison. */
jx_val trace_fail(jx_trace *t, jx_loc loc, const char *op, const char *fmt, ...) {
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

/* The trace of the first operand that has one. */
jx_trace *trace_of(int n, const jx_val *v) {
    for (int i = 0; i < n; i++)
        if (v[i].t) return v[i].t;
    return NULL;
}

/* Type of node id of t. */
const jx_type *trace_type(const jx_trace *t, int32_t id) { return &t->fn->nodes[id].type; }

/* Handle for node id of t. */
jx_val trace_val(jx_trace *t, int32_t id) { return (jx_val){t, id}; }

/* Emits one primitive after checking operands and running its shape rule (see trace.h). */
jx_val trace_emit(jx_loc loc, jx_trace *t, jx_op op, int nin, const jx_val *in,
                  const jx_attrs *at, const jx_type *hint) {
    if ((int)op < 0 || op >= JX_NOPS) {
        util_err("emit: bad primitive %d", (int)op);
        return (jx_val){t, -1};
    }
    const jx_prim_info *p = prim_info(op);
    if (!t) t = trace_of(nin, in);
    if (!t) {
        if (nin == 0) {
            util_err("%s:%d: %s: NULL trace", loc.file ? loc.file : "?", loc.line, p->name);
            return trace_poison_none;
        }
        util_err("%s:%d: %s: operands are not traced values (uninitialised jx_val?)",
                 loc.file ? loc.file : "?", loc.line, p->name);
        return trace_poison_none;
    }
    if (nin < 0 || nin > 64 || (nin > 0 && !in))
        return trace_fail(t, loc, p->name, "bad operand count %d", nin);
    if (p->arity >= 0 ? nin != p->arity : nin < 1)
        return trace_fail(t, loc, p->name, "takes %d operands, got %d", p->arity, nin);
    int32_t ids[64];
    jx_type types[64];
    for (int k = 0; k < nin; k++) {
        if (in[k].t && in[k].t != t)
            return trace_fail(t, loc, p->name, "operand %d belongs to a different trace", k);
        if (!in[k].t || in[k].id < 0) {
            if (in[k].t || t->err[0]) return (jx_val){t, -1};
            return trace_fail(t, loc, p->name, "operand %d is not a traced value", k);
        }
        if (in[k].id >= t->fn->n_nodes)
            return trace_fail(t, loc, p->name, "operand %d refers to a missing node", k);
        ids[k] = in[k].id;
        types[k] = t->fn->nodes[in[k].id].type;
    }
    jx_attrs none;
    memset(&none, 0, sizeof none);
    if (!at) at = &none;
    for (int k = 0; k < JX_MAX_ATTRS; k++)
        if (at->n[k] < 0 || at->n[k] > 4096 || (at->n[k] > 0 && !at->v[k]))
            return trace_fail(t, loc, p->name, "attribute %d is malformed", k);
    jx_type out;
    char err[512] = "";
    memset(&out, 0, sizeof out);
    if (p->family->infer(op, nin, types, at, hint, &out, err, sizeof err) < 0) {
        char ts[600];
        ir_types_str(nin, types, ts, sizeof ts);
        if (nin)
            return trace_fail(t, loc, p->name, "%s (operands: %s)", err, ts);
        return trace_fail(t, loc, p->name, "%s", err);
    }
    int32_t id = ir_fn_append(t->fn, op, nin, ids, &out, at, loc);
    if (id < 0) return trace_fail(t, loc, p->name, "%s", jx_error());
    return (jx_val){t, id};
}

/* Re-emits fn's equations into t through map (see trace.h). */
int trace_inline(jx_trace *t, jx_loc loc, const jx_fn *fn, int32_t *map) {
    for (int i = fn->n_in; i < fn->n_nodes; i++) {
        const jx_node *n = &fn->nodes[i];
        jx_val ins[64];
        for (int k = 0; k < n->nin && k < 64; k++) ins[k] = trace_val(t, map[n->in[k]]);
        jx_val v = trace_emit(n->loc.file ? n->loc : loc, t, n->op, n->nin, ins, &n->at, &n->type);
        if (v.id < 0) return -1;
        map[i] = v.id;
    }
    return 0;
}

/* Inlines fn into the trace of args (see jx.h). */
int jx_call_at(jx_loc loc, const jx_fn *fn, const jx_val *args, jx_val *outs) {
    if (!fn || (!args && fn->n_in) || (!outs && fn->n_out))
        return util_err("%s:%d: call: NULL function, arguments or outputs",
                        loc.file ? loc.file : "?", loc.line);
    jx_trace *t = trace_of(fn->n_in, args);
    for (int i = 0; i < fn->n_out; i++) outs[i] = (jx_val){t, -1};
    if (!t) {
        if (fn->n_in == 0) return util_err("call: a function without inputs needs a trace");
        return util_err("%s:%d: call: arguments are not traced values",
                        loc.file ? loc.file : "?", loc.line);
    }
    for (int i = 0; i < fn->n_in; i++) {
        if (jx_val_bad(args[i]) || args[i].t != t) {
            if (args[i].t == t && t->err[0]) return -1;
            trace_fail(t, loc, "call", "argument %d is not a value of this trace", i);
            return -1;
        }
        const jx_type *have = trace_type(t, args[i].id), *want = &fn->nodes[i].type;
        if (!jx_type_eq(have, want)) {
            char a[160], b[160];
            trace_fail(t, loc, "call", "argument %d has type %s, the function expects %s", i,
                       jx_type_str(have, a, sizeof a), jx_type_str(want, b, sizeof b));
            return -1;
        }
    }
    int32_t *map = malloc((size_t)(fn->n_nodes + 1) * sizeof *map);
    if (!map) {
        trace_fail(t, loc, "call", "out of memory");
        return -1;
    }
    for (int i = 0; i < fn->n_in; i++) map[i] = args[i].id;
    if (trace_inline(t, loc, fn, map) < 0) {
        free(map);
        return -1;
    }
    for (int i = 0; i < fn->n_out; i++) outs[i] = trace_val(t, map[fn->outs[i]]);
    free(map);
    return 0;
}
