/* The graph-replay driver (see replay.h): one loop over a function's equations for every
 * transformation, and the skeleton of a whole transformed function around it. */
#include <stdlib.h>

#include "core/replay.h"
#include "core/util.h"

/* See replay.h. */
int replay_copy(replay *r, int i, const jx_val *x, jx_val *y) {
    const jx_node *n = &r->f->nodes[i];
    jx_loc loc = n->loc.file ? n->loc : r->loc;
    if (r->units && ir_is_multi(r->f, i)) {
        int k = ir_n_gets(r->f, i);
        return trace_emit_multi(loc, r->t, n->op, n->nin, x, &n->at, k, y) == k ? 0 : -1;
    }
    *y = trace_emit(loc, r->t, n->op, n->nin, x, &n->at, &n->type);
    return 0;
}

/* The number of results of multi-result node i of r->f, which its run of gets must name
 * in full for the node to be visited as a unit; -1 after recording an error on r->t. */
static int replay_unit_size(replay *r, int i) {
    const jx_node *n = &r->f->nodes[i];
    jx_type types[JX_MAX_RESULTS];
    int k = prim_info(n->op)->family->results(n, types, JX_MAX_RESULTS);
    if (k < 1 || k != ir_n_gets(r->f, i)) {
        trace_fail(r->t, n->loc, prim_info(n->op)->name, "%d results but %d gets follow node %d",
                   k, ir_n_gets(r->f, i), i);
        return -1;
    }
    return k;
}

/* Visits multi-result node i and its k gets as one unit (see replay_rule). had_err as
 * for replay_node. */
static int replay_unit(replay *r, int i, int k, int backward, replay_rule rule,
                       const jx_val *x, int had_err) {
    jx_val y[JX_MAX_RESULTS];
    for (int j = 0; j < k; j++)
        y[j] = backward ? trace_val(r->t, r->map[i + 1 + j]) : (jx_val){NULL, -1};
    if (rule(r, i, x, y) < 0) return -1;
    if (!had_err && r->t->err[0]) return -1;
    if (backward) return 0;
    for (int j = 0; j < k; j++)
        if (y[j].t != r->t || y[j].id < 0 || y[j].id >= r->t->fn->n_nodes) return -1;
    for (int j = 0; j < k; j++) r->map[i + 1 + j] = y[j].id;
    r->map[i] = -1;
    return 0;
}

/* Visits equation i: maps its operands, runs the rule, records the forward result.
 * had_err: whether t already had an error when the walk began. */
static int replay_node(replay *r, int i, int backward, replay_rule rule, int had_err) {
    const jx_node *n = &r->f->nodes[i];
    jx_val x[JX_MAX_OPERANDS];
    if (n->nin < 0 || n->nin > JX_MAX_OPERANDS) {
        trace_fail(r->t, n->loc, prim_info(n->op)->name, "bad operand count %d (at most %d)",
                   n->nin, JX_MAX_OPERANDS);
        return -1;
    }
    for (int k = 0; k < n->nin; k++) x[k] = trace_val(r->t, r->map[n->in[k]]);
    if (r->units && ir_is_multi(r->f, i)) {
        int size = replay_unit_size(r, i);
        return size < 0 ? -1 : replay_unit(r, i, size, backward, rule, x, had_err);
    }
    jx_val y = backward ? trace_val(r->t, r->map[i]) : (jx_val){NULL, -1};
    if (rule(r, i, x, &y) < 0) return -1;
    if (!had_err && r->t->err[0]) return -1;
    if (backward) return 0;
    if (y.t != r->t || y.id < 0 || y.id >= r->t->fn->n_nodes) return -1;
    r->map[i] = y.id;
    return 0;
}

/* See replay.h. */
int replay_walk(replay *r, int backward, replay_rule rule) {
    const jx_fn *f = r->f;
    int had_err = r->t->err[0] != 0;
    if (!rule) rule = replay_copy;
    if (backward) {
        for (int i = f->n_nodes - 1; i >= f->n_in; i--) {
            if (r->units && f->nodes[i].op == JX_OP_GET) continue; /* visited with its node */
            if ((!r->live || r->live[i]) && replay_node(r, i, 1, rule, had_err) < 0) return -1;
        }
    } else {
        for (int i = f->n_in; i < f->n_nodes; i++) {
            if ((!r->live || r->live[i]) && replay_node(r, i, 0, rule, had_err) < 0) return -1;
            if (r->units && ir_is_multi(f, i)) i += ir_n_gets(f, i); /* visited with it */
        }
    }
    return 0;
}

/* The body of replay_fn once the buffers exist: begin, map inputs, walk, end. */
static jx_fn *replay_run(replay *r, const replay_spec *spec, jx_val *outs) {
    const jx_fn *f = r->f;
    int n_in = spec->in_types ? spec->n_in : f->n_in;
    const jx_type *in_t = spec->in_types;
    jx_type *own = NULL;
    if (!in_t) {
        own = malloc((size_t)(f->n_in + 1) * sizeof *own);
        if (!own) {
            util_err("%s: out of memory", spec->what);
            return NULL;
        }
        for (int i = 0; i < f->n_in; i++) own[i] = f->nodes[i].type;
        in_t = own;
    }
    r->t = jx_trace_begin(n_in, in_t);
    free(own);
    if (!r->t) return NULL;
    for (int i = 0; i < f->n_in; i++) r->map[i] = i;
    int rc = spec->start ? spec->start(r) : 0;
    if (rc == 0) rc = replay_walk(r, 0, spec->rule);
    if (rc == 0 && spec->end) rc = spec->end(r, outs);
    else if (rc == 0)
        for (int j = 0; j < f->n_out; j++) outs[j] = trace_val(r->t, r->map[f->outs[j]]);
    if (rc < 0) {
        if (jx_trace_error(r->t)) util_err("%s", jx_trace_error(r->t));
        jx_trace_abort(r->t);
        return NULL;
    }
    return (spec->finish ? spec->finish : jx_trace_end)(r->t, spec->n_out, outs);
}

/* See replay.h. */
jx_fn *replay_fn(const jx_fn *f, const replay_spec *spec, void *ctx) {
    replay r = {f, NULL, NULL, spec->live, {spec->what, 0}, ctx, spec->units};
    r.map = malloc((size_t)(f->n_nodes + 1) * sizeof *r.map);
    jx_val *outs = malloc((size_t)(spec->n_out + 1) * sizeof *outs);
    jx_fn *g = NULL;
    if (!r.map || !outs)
        util_err("%s: out of memory", spec->what);
    else
        g = replay_run(&r, spec, outs);
    free(r.map);
    free(outs);
    return g;
}
