/* while's JIT lowering (the lw_mstep API of src/jit/lower.h; cond's and scan's are in
 * control_lower.c). The cond and body sub-functions are compiled once each (sub-plans);
 * the loop around their calls is emitted here:
 *
 *   G = init (a copy, skipped when G is the initial value's own memory: donation)
 *   cur = G, other = T
 *   loop: cond(cur) -> pred; if !pred: exit; body(cur) -> other; swap(cur, other)
 *   exit: if cur is T: G = T
 *
 * G is the result buffer, T a temporary of the step's scratch, per carry; the predicate
 * (bool[], one byte) lives in the first 64 bytes of the temporaries. The body never reads
 * and writes the same buffer, except a carry it returns unchanged (a fori_loop's upper
 * bound, a captured value), which stays in G (T = G: the body's copy of it is skipped). */
#include "core/ir.h"
#include "jit/lower.h"
#include "prims/control.h"
#include "prims/control_while.h"

/* See control_while.h: 64 bytes for the predicate, then a second buffer per carry value
 * (saturated at 2^62 so the planner can refuse it with a clear error). */
int64_t cw_multi_temps(const jx_node *n) {
    int64_t t = 64;
    for (int c = 0; c < n->nin; c++) {
        t += ctl_align(ctl_bytes(n->at.fns[1]->nodes[c].type));
        if (t > ((int64_t)1 << 62)) return (int64_t)1 << 62;
    }
    return t;
}

/* See control_while.h: result j may be its initial value's memory (the copy is skipped). */
int cw_multi_inplace(const jx_node *n, int j) {
    return j < n->nin ? j : -1;
}

/* See control_while.h. */
int cw_lower_multi(lw *L, const lw_mstep *m) {
    const jx_fn *body = m->n->at.fns[1];
    int nc = m->n->nin;
    int64_t off = 64, bytes[JX_MAX_OPERANDS];
    LLVMValueRef T[JX_MAX_OPERANDS], cur[JX_MAX_OPERANDS], other[JX_MAX_OPERANDS];
    LLVMValueRef pred = m->temps;
    for (int c = 0; c < nc; c++) {
        bytes[c] = ctl_bytes(body->nodes[c].type);
        LLVMValueRef o = lw_i64(L, off);
        T[c] = LLVMBuildInBoundsGEP2(L->b, L->i8, m->temps, &o, 1, "");
        off += ctl_align(bytes[c]);
        if (body->outs[c] == c) T[c] = m->out[c]; /* body keeps it: stays in G */
        if (bytes[c] > 0) lw_copy_if_distinct(L, m->out[c], m->in[c], bytes[c]);
    }
    LLVMValueRef in_g = lw_alloca(L, L->i1); /* 1 while the current carry is in G */
    LLVMBuildStore(L->b, LLVMConstInt(L->i1, 1, 0), in_g);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(L->cx, L->fn, "while.cond");
    LLVMBasicBlockRef step = LLVMAppendBasicBlockInContext(L->cx, L->fn, "while.body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->cx, L->fn, "while.end");
    LLVMBuildBr(L->b, head);
    LLVMPositionBuilderAtEnd(L->b, head);
    LLVMValueRef g = LLVMBuildLoad2(L->b, L->i1, in_g, "in_g");
    for (int c = 0; c < nc; c++) {
        cur[c] = LLVMBuildSelect(L->b, g, m->out[c], T[c], "cur");
        other[c] = LLVMBuildSelect(L->b, g, T[c], m->out[c], "other");
    }
    lw_call_sub(L, m, 0, cur, &pred);
    LLVMValueRef p = LLVMBuildLoad2(L->b, L->i8, pred, "pred");
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntNE, p, LLVMConstInt(L->i8, 0, 0), ""),
                    step, done);
    LLVMPositionBuilderAtEnd(L->b, step);
    lw_call_sub(L, m, 1, cur, other);
    LLVMBuildStore(L->b, LLVMBuildNot(L->b, g, ""), in_g);
    LLVMBuildBr(L->b, head);
    LLVMPositionBuilderAtEnd(L->b, done);
    for (int c = 0; c < nc; c++) /* cur is G or T: copies only when it is T */
        if (bytes[c] > 0) lw_copy_if_distinct(L, m->out[c], cur[c], bytes[c]);
    return 0;
}
