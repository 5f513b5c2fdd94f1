/* Lowering of multi-result steps (cond, scan; see plan_sub.c): each sub-plan becomes an
 * internal function of the module with the entry's signature
 *   void <prefix>s<k>(void **in, void **out, char *arena, void **consts, i32 nthreads)
 * (its kernels named <prefix>s<k>_k<step>), lowered before the function that calls it.
 * The step itself is emitted by the node's family rule (lower_multi, e.g.
 * src/prims/control_lower.c) with lw_call_sub: the pointers of the call's inputs and
 * outputs are stored into a pointer array on the caller's stack (one per call site, in
 * its entry block), the arena is the step's scratch and the constant table the caller's
 * advanced by the sub-plan's const_base. */
#include <stdio.h>
#include <string.h>

#include "jit/lower.h"
#include "core/util.h"

/* See lower.h. */
int lw_lower_subs(lw *L) {
    for (int k = 0; k < L->p->n_subs; k++) {
        char name[160], prefix[168];
        snprintf(name, sizeof name, "%ss%d", L->prefix, k);
        snprintf(prefix, sizeof prefix, "%s_", name);
        L->subs[k] = jit_lower_into(L->p->subs[k], L->cx, L->m, name, prefix, 0);
        if (!L->subs[k]) return -1;
    }
    return 0;
}

/* See lower.h. */
void lw_call_sub(lw *L, const lw_mstep *m, int k, const LLVMValueRef *in, const LLVMValueRef *out) {
    int sub = L->p->steps[m->step].sub + k;
    const jit_plan *q = L->p->subs[sub];
    int n = q->n_in + q->n_out;
    LLVMValueRef argv = lw_alloca(L, LLVMArrayType2(L->ptr, (uint64_t)(n > 0 ? n : 1)));
    for (int i = 0; i < n; i++) {
        LLVMValueRef idx = lw_i64(L, i);
        LLVMBuildStore(L->b, i < q->n_in ? in[i] : out[i - q->n_in],
                       LLVMBuildInBoundsGEP2(L->b, L->ptr, argv, &idx, 1, ""));
    }
    LLVMValueRef nin = lw_i64(L, q->n_in), cb = lw_i64(L, q->const_base);
    LLVMValueRef args[5] = {argv, LLVMBuildInBoundsGEP2(L->b, L->ptr, argv, &nin, 1, ""),
                            m->arena,
                            LLVMBuildInBoundsGEP2(L->b, L->ptr, LLVMGetParam(L->fn, 3), &cb, 1, ""),
                            L->nthreads};
    LLVMBuildCall2(L->b, lw_entry_type(L), L->subs[sub], args, 5, "");
}

/* See lower.h. */
int lw_multi_step(lw *L, int s, LLVMValueRef *ptrs) {
    const jit_plan *p = L->p;
    int node = p->steps[s].node;
    const jx_node *nd = &p->nodes[node];
    lw_mstep m;
    memset(&m, 0, sizeof m);
    m.n = nd;
    m.step = s;
    m.n_res = ir_n_gets(p->fn, node);
    for (int k = 0; k < nd->nin; k++) m.in[k] = ptrs[nd->in[k]];
    for (int j = 0; j < m.n_res; j++) m.out[j] = ptrs[node + 1 + j];
    m.arena = ptrs[node];
    LLVMValueRef off = lw_i64(L, jit_multi_temps_offset(p, s));
    m.temps = LLVMBuildInBoundsGEP2(L->b, L->i8, m.arena, &off, 1, "temps");
    return prim_info(nd->op)->family->lower_multi(L, &m);
}
