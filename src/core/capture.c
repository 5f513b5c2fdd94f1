/* Closure capture: a sub-function traced for a higher-order primitive (a scan body, a cond
 * branch) may use values of the trace it is called from, as a JAX body closes over
 * outer tracers. The sub-trace's parent is that trace; an outer value reaching an op of
 * the sub-trace becomes a placeholder input node (op param, past the declared inputs),
 * once per value, and the constructor turns the placeholders into real inputs
 * (capture_lift) and passes the outer values as operands. A value of a grandparent is
 * captured by the parent first, so nesting works at any depth. */
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/trace.h"
#include "core/util.h"

/* 1 if a is a strict ancestor of t. */
static int capture_is_ancestor(const jx_trace *a, const jx_trace *t) {
    for (const jx_trace *p = t ? t->parent : NULL; p; p = p->parent)
        if (p == a) return 1;
    return 0;
}

/* See trace.h. */
jx_trace *trace_innermost(int n, const jx_val *v) {
    jx_trace *best = NULL;
    for (int i = 0; i < n; i++) {
        if (!trace_live(v[i].t)) continue;
        if (!best || capture_is_ancestor(best, v[i].t)) best = v[i].t;
    }
    return best;
}

/* See trace.h. */
jx_val trace_capture(jx_trace *t, jx_val v) {
    if (v.t == t || !capture_is_ancestor(v.t, t)) return v;
    jx_val up = trace_capture(t->parent, v);
    if (up.id < 0) return (jx_val){t, -1};
    for (int k = 0; k < t->n_cap; k++)
        if (t->cap_outer[k].id == up.id) return (jx_val){t, t->cap_node[k]};
    if (t->n_cap >= JX_MAX_OPERANDS - t->fn->n_in)
        return trace_fail(t, (jx_loc){0}, "capture",
                          "more than %d values of the enclosing trace used in a sub-function",
                          JX_MAX_OPERANDS - t->fn->n_in);
    const jx_type *type = trace_type(up.t, up.id);
    int32_t id = ir_fn_append(t->fn, JX_OP_PARAM, 0, NULL, type, NULL, (jx_loc){0});
    if (id < 0) return trace_fail(t, (jx_loc){0}, "capture", "%s", jx_error());
    t->cap_outer[t->n_cap] = up;
    t->cap_node[t->n_cap++] = id;
    return (jx_val){t, id};
}

/* See trace.h. */
jx_fn *capture_lift(const jx_fn *f, const trace_caps *caps, int n_total, const int *slot,
                    const jx_type *types) {
    int n_in = f->n_in;
    jx_type in[2 * JX_MAX_OPERANDS];
    if (n_in + n_total > 2 * JX_MAX_OPERANDS) {
        util_err("capture: %d inputs and %d captured values", n_in, n_total);
        return NULL;
    }
    for (int i = 0; i < n_in; i++) in[i] = f->nodes[i].type;
    for (int i = 0; i < n_total; i++) in[n_in + i] = types[i];
    jx_fn *g = ir_fn_new(n_in + n_total, in);
    int32_t *map = g ? malloc(((size_t)f->n_nodes + (size_t)f->n_out) * sizeof *map) : NULL;
    if (!map) {
        jx_fn_free(g);
        util_err("capture: out of memory");
        return NULL;
    }
    for (int i = 0; i < n_in; i++) map[i] = i;
    for (int k = 0; k < caps->n; k++) map[caps->node[k]] = n_in + (slot ? slot[k] : k);
    int32_t ops[JX_MAX_OPERANDS];
    for (int i = n_in; i < f->n_nodes; i++) {
        const jx_node *nd = &f->nodes[i];
        if (nd->op == JX_OP_PARAM) continue; /* a placeholder, mapped above */
        for (int k = 0; k < nd->nin; k++) ops[k] = map[nd->in[k]];
        map[i] = ir_fn_append(g, nd->op, nd->nin, ops, &nd->type, &nd->at, nd->loc);
        if (map[i] < 0) goto fail;
    }
    int32_t *outs = map + f->n_nodes;
    for (int j = 0; j < f->n_out; j++) outs[j] = map[f->outs[j]];
    if (ir_fn_set_outputs(g, f->n_out, outs) < 0) goto fail;
    free(map);
    return g;
fail:
    free(map);
    jx_fn_free(g);
    return NULL;
}
