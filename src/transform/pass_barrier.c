/* The drop-barriers pass: every optimization_barrier node (see src/prims/remat.c) is
 * replaced by its operand. The barrier only has to stop cse from merging a checkpoint's
 * recomputation in the backward pass with the forward pass, so the JIT drops it after its
 * last cse (PASS_JIT_PIPELINE) and the planner sees no copy: the recomputed nodes stay
 * distinct nodes, executed where the backward pass placed them. */
#include "core/replay.h"
#include "transform/passes.h"
#include "core/util.h"

/* Forward rule: a barrier becomes its operand; other nodes are copied. */
static int drop_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    const jx_node *n = &r->f->nodes[i];
    if (n->op == JX_OP_OPT_BARRIER) {
        *y = x[0];
        return 0;
    }
    return replay_copy(r, i, x, y);
}

/* See passes.h. */
jx_fn *pass_drop_barriers(const jx_fn *f) {
    if (!f) {
        util_err("drop-barriers: NULL function");
        return NULL;
    }
    replay_spec spec = {.what = "drop-barriers", .n_out = f->n_out, .rule = drop_rule};
    return replay_fn(f, &spec, NULL);
}
