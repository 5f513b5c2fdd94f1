/* The inline-custom pass: every node whose primitive is JXF_CALL (custom_jvp, custom_vjp,
 * checkpoint) is replaced by its call sub-function's body, inlined on its operands
 * (recursively, so custom functions inside custom functions go too). It runs first in the
 * JIT pipeline: a custom node's derivative rules matter to transformations only, and once
 * they are done the planner and the lowering see ordinary primitives. */
#include <stdlib.h>

#include "core/replay.h"
#include "transform/passes.h"
#include "core/util.h"

/* Forward rule: a JXF_CALL node becomes its inlined call body; others are copied. */
static int inl_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    const jx_node *n = &r->f->nodes[i];
    jx_loc loc = n->loc.file ? n->loc : r->loc;
    if (!prim_has(n->op, JXF_CALL) || n->at.n_fns < 1) {
        *y = trace_emit(loc, r->t, n->op, n->nin, x, &n->at, &n->type);
        return 0;
    }
    const jx_fn *g = n->at.fns[0];
    int32_t *map = malloc(((size_t)g->n_nodes + 1) * sizeof *map);
    if (!map) {
        trace_fail(r->t, loc, "inline-custom", "out of memory");
        return -1;
    }
    for (int k = 0; k < g->n_in && k < n->nin; k++) map[k] = x[k].id;
    replay sub = {g, r->t, map, NULL, loc, NULL, 0};
    int rc = replay_walk(&sub, 0, inl_rule);
    if (rc == 0) *y = trace_val(r->t, map[g->outs[0]]);
    free(map);
    return rc;
}

/* See passes.h. */
jx_fn *pass_inline_custom(const jx_fn *f) {
    if (!f) {
        util_err("inline-custom: NULL function");
        return NULL;
    }
    replay_spec spec = {.what = "inline-custom", .n_out = f->n_out, .rule = inl_rule};
    return replay_fn(f, &spec, NULL);
}
