/* Sub-plans: how the planner handles a multi-result node (cond, scan; JXF_MULTI).
 *
 * Each sub-function of the node (cond's branches, scan's body) is prepared for the JIT
 * (jit_prepare: the passes do not descend into sub-functions), planned and memory-planned
 * on its own, as a whole function with the entry's calling convention; lower_sub.c lowers
 * it to its own function in the same module, which the node's family rule (lower_multi,
 * e.g. src/prims/control_lower.c) calls: once for a cond, `length` times in a loop for a
 * scan. So a sub-function's code exists once however often it runs.
 *
 * Memory: the node's own buffer is the step's scratch: first the sub-plans' arena (the
 * largest of them; only one sub-plan runs at a time), then the temporaries the family asks
 * for (multi_temps: a scan's second carry buffers). Every get of the node gets a buffer
 * (dead ones too: the sub-function writes all its outputs). The node's operands always
 * have buffers (never fused: the sub-plan reads them by pointer). jit_memplan places the
 * scratch and the results at the step, where the operands are still live, so no result
 * or scratch shares memory with an operand, except a result in a donated input the family
 * allows (multi_inplace), which its lowering handles.
 *
 * Constants: a sub-plan's constant table is appended to its parent's (recursively, so the
 * top plan's table holds every constant of every nesting level) and its function receives
 * the parent's table pointer advanced by its const_base. The compile cache needs nothing
 * more: its key hashes the sub-functions and its disk entries the plan text, which lists
 * the sub-plans. */
#include <stdlib.h>
#include <string.h>

#include "jit/cache.h"
#include "jit/jit.h"
#include "core/util.h"

/* Appends q's constants to p's table (retained) and sets q->const_base, keeping room for
 * p's own constant nodes still to come (at most one per node of p's function, as
 * pl_leaf's table assumes). 0, or -1 on OOM. */
static int ps_consts(jit_plan *p, jit_plan *q) {
    size_t cap = (size_t)p->n_consts + (size_t)q->n_consts + (size_t)p->n_fn + 1;
    jx_array **nc = realloc(p->consts, cap * sizeof *nc);
    if (!nc) return util_err("jit: out of memory growing the constant table to %d entries",
                             p->n_consts + q->n_consts);
    p->consts = nc;
    q->const_base = p->n_consts;
    for (int i = 0; i < q->n_consts; i++) p->consts[p->n_consts++] = jx_array_retain(q->consts[i]);
    return 0;
}

/* Plans sub-function k of node nd: prepared, planned, memory-planned (no donation), its
 * constants appended to p's. The sub-plan, or NULL with jx_error(). */
static jit_plan *ps_sub(jit_plan *p, const jx_node *nd, int k) {
    jx_fn *g = jit_prepare(nd->at.fns[k]);
    if (!g) return NULL;
    jit_plan *q = jit_plan_build(g);
    if (!q) {
        jx_fn_free(g);
        return NULL;
    }
    q->own_fn = g;
    if (jit_memplan(q, NULL) < 0 || ps_consts(p, q) < 0) {
        jit_plan_free(q);
        return NULL;
    }
    return q;
}

/* See jit.h. */
int jit_plan_multi(jit_plan *p, int i) {
    const jx_node *nd = &p->nodes[i];
    const jx_family *fam = prim_info(nd->op)->family;
    int64_t temps = fam->lower_multi && fam->multi_temps ? fam->multi_temps(nd) : -1;
    if (temps < 0)
        return util_err("jit: %s (%s:%d) has no JIT lowering yet; run the function with "
                        "jx_interp", prim_info(nd->op)->name, nd->loc.file ? nd->loc.file : "?",
                        nd->loc.line);
    jit_plan **ns = realloc(p->subs, ((size_t)p->n_subs + (size_t)nd->at.n_fns + 1) * sizeof *ns);
    if (!ns) return util_err("jit: out of memory growing the sub-plan list");
    p->subs = ns;
    int first = p->n_subs;
    int64_t arena = 0;
    for (int k = 0; k < nd->at.n_fns; k++) {
        jit_plan *q = ps_sub(p, nd, k);
        if (!q) return -1;
        p->subs[p->n_subs++] = q;
        if (q->arena_bytes > arena) arena = q->arena_bytes;
    }
    /* arena <= JX_MAX_BYTES (memplan), temps below 2^62 (multi_temps): no overflow */
    int64_t scratch = (arena + 63) / 64 * 64 + temps;
    if (scratch > JX_MAX_BYTES)
        return util_err("jit: %s (%s:%d) needs %lld bytes of scratch memory, more than the "
                        "maximum of 2^60", prim_info(nd->op)->name,
                        nd->loc.file ? nd->loc.file : "?", nd->loc.line, (long long)scratch);
    p->buf[i] = (jp_buf){JP_ARENA, -1, 0, scratch, -1, -1};
    jp_step s = {JS_MULTI, i, 0, -1, {0}, 0, first};
    return jit_plan_add_step(p, s) < 0 ? util_err("jit: out of memory adding a step") : 0;
}

/* See jit.h. */
void jit_plan_free_subs(jit_plan *p) {
    for (int k = 0; k < p->n_subs; k++) jit_plan_free(p->subs[k]);
    free(p->subs);
    p->subs = NULL;
    p->n_subs = 0;
}

/* See jit.h. */
int64_t jit_multi_temps_offset(const jit_plan *p, int step) {
    const jp_step *st = &p->steps[step];
    const jx_node *nd = &p->nodes[st->node];
    int64_t arena = 0;
    for (int k = 0; k < nd->at.n_fns; k++)
        if (p->subs[st->sub + k]->arena_bytes > arena) arena = p->subs[st->sub + k]->arena_bytes;
    return (arena + 63) / 64 * 64;
}
