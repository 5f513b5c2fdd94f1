/* The control family's JIT lowering (the lw_mstep API of src/jit/lower.h): the node's
 * sub-functions are compiled once each, as functions of the module (src/jit/plan_sub.c,
 * lower_sub.c), and these rules emit the control flow around their calls in the
 * caller's code.
 *
 * cond: the i32 index loaded, clamped to [0, branches) as the interpreter does, and a
 * `switch` to one call of the chosen branch on operands 1.. writing the results directly.
 *
 * scan: one counted loop of `length` iterations calling the body, not an unrolled copy
 * per step: in iteration i the body reads the carry and the x slices at idx (idx = i, or
 * length-1-i in reverse), and writes the new carry and the y slices at idx, straight into
 * the stacked ys. The carry is double-buffered between its result buffer G and a
 * temporary T of the step's scratch (multi_temps): iteration i writes G when
 * length-1-i is even, so the last one writes G; iteration 0 reads the initial value,
 * every later one the previous destination. G may be the initial value's own memory (a
 * donated input, multi_inplace): when iteration 0 would write G, the initial value is
 * first copied into T and read from there. A scan of length 0 copies the initial carry
 * into G; its ys are empty. An invariant carry (the body returns its input as it is: a
 * value the body closes over) is neither double-buffered nor copied per iteration: every
 * iteration reads and "writes" the initial value's memory (the body's copy of it is
 * skipped when source and destination are the same memory), and G gets one copy. */
#include <string.h>

#include "core/ir.h"
#include "core/util.h"
#include "jit/lower.h"
#include "prims/control.h"

/* Bytes of a value of type t. */
static int64_t ctl_bytes(jx_type t) {
    return jx_type_size(&t) * (int64_t)jx_dtype_size(t.dtype);
}

/* b rounded up to 64 bytes. */
static int64_t ctl_align(int64_t b) {
    return (b + 63) / 64 * 64;
}

/* See control.h: scan's second carry buffers (more than JX_MAX_BYTES: some value above
 * it); cond needs none; other ops have no lowering (-1). */
int64_t ctl_multi_temps(const jx_node *n) {
    if (n->op == JX_OP_COND) return 0;
    if (n->op != JX_OP_SCAN) return -1;
    const jx_fn *body = n->at.fns[0];
    int64_t t = 0; /* each term is at most JX_MAX_BYTES + 63: saturated, no overflow */
    for (int c = 0; c < (int)n->at.v[1][0] && t <= JX_MAX_BYTES; c++)
        t += ctl_align(ctl_bytes(body->nodes[c].type));
    return t;
}

/* See control.h: scan's final carry j may be computed in its initial value's memory. */
int ctl_multi_inplace(const jx_node *n, int j) {
    return n->op == JX_OP_SCAN && j < (int)n->at.v[1][0] ? j : -1;
}

/* cond: a switch on the clamped index to a call of each branch. */
static int ctl_lower_cond(lw *L, const lw_mstep *m) {
    int nb = m->n->at.n_fns;
    if (nb == 1) {
        lw_call_sub(L, m, 0, m->in + 1, m->out);
        return 0;
    }
    LLVMValueRef i = LLVMBuildLoad2(L->b, L->i32, m->in[0], "index");
    LLVMValueRef zero = LLVMConstInt(L->i32, 0, 0), last = LLVMConstInt(L->i32, (unsigned)nb - 1, 0);
    i = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, i, zero, ""), zero, i, "");
    i = LLVMBuildSelect(L->b, LLVMBuildICmp(L->b, LLVMIntSGT, i, last, ""), last, i, "branch");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->cx, L->fn, "cond.end");
    LLVMBasicBlockRef b0 = LLVMAppendBasicBlockInContext(L->cx, L->fn, "cond.branch");
    LLVMValueRef sw = LLVMBuildSwitch(L->b, i, b0, (unsigned)nb - 1);
    for (int k = 0; k < nb; k++) {
        LLVMBasicBlockRef bb = k == 0 ? b0 : LLVMAppendBasicBlockInContext(L->cx, L->fn, "cond.branch");
        if (k > 0) LLVMAddCase(sw, LLVMConstInt(L->i32, (unsigned)k, 0), bb);
        LLVMPositionBuilderAtEnd(L->b, bb);
        lw_call_sub(L, m, k, m->in + 1, m->out);
        LLVMBuildBr(L->b, join);
    }
    LLVMPositionBuilderAtEnd(L->b, join);
    return 0;
}

/* p + off bytes. */
static LLVMValueRef ctl_at(lw *L, LLVMValueRef p, LLVMValueRef off) {
    return LLVMBuildInBoundsGEP2(L->b, L->i8, p, &off, 1, "");
}

/* Carry c's buffers: G (the result) and T (a temporary at temps + *off, advanced), and
 * what iteration 0 reads into *init0: the initial value, or T holding a copy of it when
 * iteration 0 writes G and G is the initial value's memory. */
static void ctl_carry_bufs(lw *L, const lw_mstep *m, int c, int64_t len, int64_t *off,
                           LLVMValueRef *G, LLVMValueRef *T, LLVMValueRef *init0) {
    int64_t b = ctl_bytes(m->n->at.fns[0]->nodes[c].type);
    *G = m->out[c];
    *T = ctl_at(L, m->temps, lw_i64(L, *off));
    *off += ctl_align(b);
    *init0 = m->in[c];
    if ((len - 1) % 2 == 0 && b > 0) {
        LLVMValueRef same = LLVMBuildICmp(L->b, LLVMIntEQ, m->in[c], *G, "");
        /* copies the initial value into T only when it is G's memory */
        lw_copy_if_distinct(L, *T, LLVMBuildSelect(L->b, same, m->in[c], *T, ""), b);
        *init0 = LLVMBuildSelect(L->b, same, *T, m->in[c], "");
    }
}

/* scan: the body called in a counted loop (see the header). */
static int ctl_lower_scan(lw *L, const lw_mstep *m) {
    const jx_fn *body = m->n->at.fns[0];
    int64_t len = m->n->at.v[0][0], off = 0;
    int nc = (int)m->n->at.v[1][0], rev = (int)m->n->at.v[2][0];
    int nx = m->n->nin - nc, ny = body->n_out - nc;
    if (len == 0) {
        for (int c = 0; c < nc; c++)
            lw_copy_if_distinct(L, m->out[c], m->in[c], ctl_bytes(body->nodes[c].type));
        return 0;
    }
    LLVMValueRef G[JX_MAX_RESULTS], T[JX_MAX_RESULTS], init0[JX_MAX_RESULTS];
    LLVMValueRef in[JX_MAX_OPERANDS], out[JX_MAX_RESULTS];
    for (int c = 0; c < nc; c++) {
        if (body->outs[c] == c) { /* invariant: one copy, before the loop */
            lw_copy_if_distinct(L, m->out[c], m->in[c], ctl_bytes(body->nodes[c].type));
            off += ctl_align(ctl_bytes(body->nodes[c].type));
            continue;
        }
        ctl_carry_bufs(L, m, c, len, &off, &G[c], &T[c], &init0[c]);
    }
    lw_loop lp = lw_loop_begin(L, len);
    LLVMValueRef left = LLVMBuildSub(L->b, lw_i64(L, len - 1), lp.iv, "left");
    LLVMValueRef idx = rev ? left : lp.iv;
    LLVMValueRef to_g = LLVMBuildICmp(L->b, LLVMIntEQ, LLVMBuildAnd(L->b, left, lw_i64(L, 1), ""),
                                      lw_i64(L, 0), "to_g");
    LLVMValueRef first = LLVMBuildICmp(L->b, LLVMIntEQ, lp.iv, lw_i64(L, 0), "first");
    for (int c = 0; c < nc; c++) { /* iteration i - 1 wrote G iff iteration i writes T */
        if (body->outs[c] == c) {
            in[c] = out[c] = m->in[c];
            continue;
        }
        LLVMValueRef prev = LLVMBuildSelect(L->b, to_g, T[c], G[c], "");
        in[c] = LLVMBuildSelect(L->b, first, init0[c], prev, "carry");
        out[c] = LLVMBuildSelect(L->b, to_g, G[c], T[c], "carry_out");
    }
    for (int k = 0; k < nx; k++) {
        int64_t xb = ctl_bytes(body->nodes[nc + k].type);
        in[nc + k] = ctl_at(L, m->in[nc + k], LLVMBuildMul(L->b, idx, lw_i64(L, xb), ""));
    }
    for (int j = 0; j < ny; j++) {
        int64_t yb = ctl_bytes(jx_fn_out_type(body, nc + j));
        out[nc + j] = ctl_at(L, m->out[nc + j], LLVMBuildMul(L->b, idx, lw_i64(L, yb), ""));
    }
    lw_call_sub(L, m, 0, in, out);
    lw_loop_end(L, &lp);
    return 0;
}

/* See control.h. */
int ctl_lower_multi(lw *L, const lw_mstep *m) {
    if (m->n->op == JX_OP_SCAN) return ctl_lower_scan(L, m);
    if (m->n->op == JX_OP_COND) return ctl_lower_cond(L, m);
    return util_err("jit: %s has no JIT lowering", prim_info(m->n->op)->name);
}
