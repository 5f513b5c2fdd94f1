/* Calls: inlining a traced function into another trace (jx_call), through the replay
 * driver's default rule. */
#include <stdio.h>
#include <stdlib.h>

#include "core/replay.h"
#include "core/util.h"

/* Re-emits fn's equations into t through map (see trace.h): the replay driver's default
 * rule, one node at a time. */
int trace_inline(jx_trace *t, jx_loc loc, const jx_fn *fn, int32_t *map) {
    replay r = {fn, t, map, NULL, loc, NULL, 0};
    return replay_walk(&r, 0, NULL);
}

/* Inlines fn into the trace of args (see jx.h). */
int jx_call_at(jx_loc loc, const jx_fn *fn, const jx_val *args, jx_val *outs) {
    if (!fn) { /* typically a transformation that failed: keep its message */
        char prev[768];
        snprintf(prev, sizeof prev, "%s", jx_error());
        trace_fail(NULL, loc, "call", "NULL function%s%s", prev[0] ? "; last error: " : "", prev);
        return -1;
    }
    if ((!args && fn->n_in) || (!outs && fn->n_out)) {
        trace_fail(NULL, loc, "call", "NULL %s", !outs && fn->n_out ? "outputs" : "arguments");
        return -1;
    }
    jx_trace *t = trace_of(fn->n_in, args);
    jx_val poison = {t, -1};
    if (!t && fn->n_in)
        poison = trace_fail(NULL, loc, "call", "argument 0 %s", trace_val_problem(NULL, args[0]));
    else if (!t)
        poison = trace_fail(NULL, loc, "call", "a function without inputs needs a trace");
    for (int i = 0; i < fn->n_out; i++) outs[i] = poison;
    if (!t) return -1;
    for (int i = 0; i < fn->n_in; i++) {
        const char *why = trace_val_problem(t, args[i]);
        if (!why && args[i].id < 0) return -1; /* poison after a recorded error */
        if (why) {
            trace_fail(t, loc, "call", "argument %d %s", i, why);
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

/* A jx_trace_cb that calls the jx_fn passed as user on the trace's inputs (see jx.h). */
void jx_fn_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_fn *fn = user;
    if (!trace_live(t)) {
        trace_fail(NULL, (jx_loc){0}, "fn_cb", "called outside a live trace");
        return;
    }
    if (!fn) {
        trace_fail(t, (jx_loc){0}, "fn_cb", "user is NULL, not a jx_fn");
        return;
    }
    if (fn->n_in != t->fn->n_in || (t->n_out >= 0 && fn->n_out != t->n_out)) {
        trace_fail(t, (jx_loc){0}, "fn_cb",
                   "the function has %d inputs and %d outputs, the trace %d and %d", fn->n_in,
                   fn->n_out, t->fn->n_in, t->n_out);
        return;
    }
    jx_call_at((jx_loc){0}, fn, in, out);
}
