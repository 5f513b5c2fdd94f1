/* Lowering of a plan to LLVM IR: one internal function per kernel step or loop group
 * (lower_kernel.c; noalias pointer parameters), and one external entry that loads the
 * buffer pointers and runs the steps in order: kernel calls (through jx_rt_parallel for
 * split kernels), GEMMs (jx_rt_gemm, batch loops around it) and output copies; a donated
 * input updated in place is first copied into the output when the caller passed another
 * array. A kernel evaluates the fused tree of each member at each index (lw_eval and
 * lw_compute in lower_index.c call each primitive's family `lower` rule in src/prims/):
 * elementwise ops are scalar code that the vectorizer widens, shape primitives are index
 * maps, and reductions, argmax, integer dot and conv_patches_t emit inner loops at the
 * point of use. A multi-result step (cond, scan) is emitted by its family's lower_multi
 * rule, calling the functions of its sub-plans, which are lowered first into the same
 * module with this file's code (internal entries, names prefixed; lower_sub.c). With
 * JX_PROFILE set when compiling, the entry calls jx_rt_prof_mark after each step of the
 * top plan (per-step times printed at exit; see runtime/).
 * Indices, loops and element access are in lower_index.c. */
#include <stdlib.h>
#include <string.h>

#include "jit/lower.h"
#include "core/util.h"

/* ---- the entry ------------------------------------------------------------------------ */

/* Emits the batch loops and jx_rt_gemm calls of a GEMM step in the entry function. */
static void lw_gemm(lw *L, const jp_step *st, LLVMValueRef *ptrs) {
    const jp_gemm *g = &st->g;
    const jit_plan *p = L->p;
    jx_dtype dt = p->nodes[st->node].type.dtype;
    LLVMTypeRef et = lw_type(L, dt);
    int64_t nbt = 1;
    for (int i = 0; i < g->nb; i++) nbt *= g->bshape[i];
    if (g->m * g->n * nbt == 0) return;
    LLVMValueRef alpha = LLVMConstReal(L->f64, g->alpha);
    if (g->alpha_node >= 0) { /* a traced alpha: its rank-0 buffer, read before C is written */
        alpha = LLVMBuildLoad2(L->b, et, ptrs[g->alpha_node], "alpha");
        if (dt == JX_F32) alpha = LLVMBuildFPExt(L->b, alpha, L->f64, "");
    }
    if (g->init >= 0) /* C starts as a copy of init (already there when updated in place) */
        lw_copy_if_distinct(L, ptrs[st->node], ptrs[g->init], p->buf[st->node].bytes);
    LLVMTypeRef at[15] = {L->i32, L->i32, L->i32, L->i64, L->i64, L->i64, L->f64, L->ptr,
                          L->i64, L->ptr, L->i64, L->f64, L->ptr, L->i64, L->i32};
    LLVMTypeRef ft = LLVMFunctionType(L->void_type, at, 15, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(L->m, "jx_rt_gemm");
    if (!fn) fn = LLVMAddFunction(L->m, "jx_rt_gemm", ft);
    lw_loop lp[JX_MAX_RANK];
    LLVMValueRef aoff = lw_i64(L, 0), boff = lw_i64(L, 0), coff = lw_i64(L, 0);
    for (int i = 0; i < g->nb; i++) {
        lp[i] = lw_loop_begin(L, g->bshape[i]);
        aoff = LLVMBuildAdd(L->b, aoff, LLVMBuildMul(L->b, lp[i].iv, lw_i64(L, g->a_bstride[i]), ""), "");
        boff = LLVMBuildAdd(L->b, boff, LLVMBuildMul(L->b, lp[i].iv, lw_i64(L, g->b_bstride[i]), ""), "");
        coff = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, coff, lw_i64(L, g->bshape[i]), ""), lp[i].iv, "");
    }
    coff = LLVMBuildMul(L->b, coff, lw_i64(L, g->m * g->n), "");
    LLVMValueRef A = LLVMBuildInBoundsGEP2(L->b, et, ptrs[g->a], &aoff, 1, "");
    LLVMValueRef Bp = LLVMBuildInBoundsGEP2(L->b, et, ptrs[g->b], &boff, 1, "");
    LLVMValueRef C = LLVMBuildInBoundsGEP2(L->b, et, ptrs[st->node], &coff, 1, "");
    LLVMValueRef args[15] = {
        LLVMConstInt(L->i32, dt == JX_F32 ? 0 : 1, 0), LLVMConstInt(L->i32, (unsigned)g->trans_a, 0),
        LLVMConstInt(L->i32, (unsigned)g->trans_b, 0), lw_i64(L, g->m), lw_i64(L, g->n), lw_i64(L, g->k),
        alpha, A, lw_i64(L, g->lda), Bp, lw_i64(L, g->ldb),
        LLVMConstReal(L->f64, g->init >= 0 ? 1.0 : 0.0), C, lw_i64(L, g->ldc), L->nthreads};
    LLVMBuildCall2(L->b, ft, fn, args, 15, "");
    for (int i = g->nb - 1; i >= 0; i--) lw_loop_end(L, &lp[i]);
}

/* The entry function being emitted and jit_lower's per-node and per-step tables. */
typedef struct lw_entry {
    /* void entry(void **in, void **out, char *arena, void **consts, int32_t nthreads) */
    LLVMValueRef fn;
    LLVMBasicBlockRef alloca_bb, block; /* its allocas' block, then its body's first */
    LLVMValueRef *ptrs;      /* per node: its buffer pointer in the entry (NULL: none) */
    unsigned char *seen;     /* per node: lw_kernel's scratch */
    LLVMValueRef *kernel_fn; /* per step: the kernel function of a group's first step */
    lw_par *kernel_par;      /* per step: that kernel's parallel schedule */
    int *kernel_args;        /* per step s, from s * (n_nodes + 2): the argument nodes */
    int *kernel_nargs;       /* per step: their count */
    LLVMValueRef par_ctx;    /* the argument block of the parallel kernels' trampolines */
    LLVMValueRef par_fn;     /* jx_rt_parallel (declared at its first use), of par_type */
    LLVMTypeRef par_type;
    LLVMValueRef prof;       /* jx_rt_prof_mark, of prof_type, with JX_PROFILE; else NULL */
    LLVMTypeRef prof_type;
} lw_entry;

/* Frees jit_lower's tables and the builder (the module is the caller's). */
static void lw_free_scratch(lw *L, lw_entry *E) {
    free(L->base);
    free(L->subs);
    free(E->ptrs);
    free(E->seen);
    free(E->kernel_fn);
    free(E->kernel_par);
    free(E->kernel_args);
    free(E->kernel_nargs);
    LLVMDisposeBuilder(L->b);
}

/* Fills L's context, module, builder and types for lowering p into m of cx. */
static void lw_init(lw *L, const jit_plan *p, LLVMContextRef cx, LLVMModuleRef m,
                    const char *prefix) {
    memset(L, 0, sizeof *L);
    L->p = p;
    L->cx = cx;
    L->m = m;
    L->prefix = prefix;
    L->b = LLVMCreateBuilderInContext(cx);
    L->i1 = LLVMInt1TypeInContext(cx);
    L->i8 = LLVMInt8TypeInContext(cx);
    L->i32 = LLVMInt32TypeInContext(cx);
    L->i64 = LLVMInt64TypeInContext(cx);
    L->f32 = LLVMFloatTypeInContext(cx);
    L->f64 = LLVMDoubleTypeInContext(cx);
    L->ptr = LLVMPointerTypeInContext(cx, 0);
    L->void_type = LLVMVoidTypeInContext(cx);
}

/* Allocates the per-node tables (L->base, E's) of the first jit_lower stage. 0, or -1
 * with jx_error(). */
static int lw_alloc_tables(lw *L, lw_entry *E) {
    const jit_plan *p = L->p;
    int n = p->n_nodes;
    L->base = calloc((size_t)n + 1, sizeof *L->base);
    E->ptrs = calloc((size_t)n + 1, sizeof *E->ptrs);
    E->seen = malloc((size_t)n + 1);
    E->kernel_fn = calloc((size_t)p->n_steps + 1, sizeof *E->kernel_fn);
    E->kernel_par = calloc((size_t)p->n_steps + 1, sizeof *E->kernel_par);
    L->subs = calloc((size_t)p->n_subs + 1, sizeof *L->subs);
    if (L->base && E->ptrs && E->seen && E->kernel_fn && E->kernel_par && L->subs) return 0;
    return util_err("jit: out of memory allocating the lowering tables of %d nodes and %d "
                    "steps (%zu bytes)", n, p->n_steps,
                    ((size_t)n + 1) * (2 * sizeof(LLVMValueRef) + 1) +
                        ((size_t)p->n_steps + 1) * (sizeof *E->kernel_fn + sizeof *E->kernel_par));
}

/* See lower.h. */
LLVMTypeRef lw_entry_type(lw *L) {
    LLVMTypeRef et[5] = {L->ptr, L->ptr, L->ptr, L->ptr, L->i32};
    return LLVMFunctionType(L->void_type, et, 5, 0);
}

/* Declares the entry function `name` (internal unless external) and emits the loads of
 * every buffer pointer into E->ptrs: inputs, outputs and constants from the entry's
 * tables, arena buffers at their offsets. */
static void lw_entry_begin(lw *L, lw_entry *E, const char *name, int external) {
    const jit_plan *p = L->p;
    E->fn = LLVMAddFunction(L->m, name, lw_entry_type(L));
    if (!external) LLVMSetLinkage(E->fn, LLVMInternalLinkage);
    E->alloca_bb = LLVMAppendBasicBlockInContext(L->cx, E->fn, "entry");
    E->block = LLVMAppendBasicBlockInContext(L->cx, E->fn, "start");
    L->nthreads = LLVMGetParam(E->fn, 4);
    LLVMPositionBuilderAtEnd(L->b, E->alloca_bb);
    LLVMBuildBr(L->b, E->block);
    LLVMPositionBuilderAtEnd(L->b, E->block);
    LLVMValueRef in = LLVMGetParam(E->fn, 0), out = LLVMGetParam(E->fn, 1),
                 arena = LLVMGetParam(E->fn, 2), consts = LLVMGetParam(E->fn, 3);
    for (int i = 0; i < p->n_nodes; i++) {
        const jp_buf *b = &p->buf[i];
        LLVMValueRef idx = lw_i64(L, b->index), table = NULL;
        if (b->kind == JP_PARAM) table = in;
        else if (b->kind == JP_OUT) table = out;
        else if (b->kind == JP_CONST) table = consts;
        if (table) {
            LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, table, &idx, 1, "");
            E->ptrs[i] = LLVMBuildLoad2(L->b, L->ptr, slot, "");
        } else if (b->kind == JP_ARENA) {
            LLVMValueRef off = lw_i64(L, b->offset);
            E->ptrs[i] = LLVMBuildInBoundsGEP2(L->b, L->i8, arena, &off, 1, "");
        }
    }
}

/* Emits the kernel function of each kernel step that starts a group (and is not empty)
 * into E->kernel_fn, with its arguments and schedule. 0, or -1 on out of memory. */
static int lw_emit_kernels(lw *L, lw_entry *E) {
    const jit_plan *p = L->p;
    size_t stride = (size_t)p->n_nodes + 2;
    E->kernel_args = malloc(stride * (size_t)(p->n_steps + 1) * sizeof *E->kernel_args);
    E->kernel_nargs = calloc((size_t)p->n_steps + 1, sizeof *E->kernel_nargs);
    if (!E->kernel_args || !E->kernel_nargs) return -1;
    for (int s = 0; s < p->n_steps; s++) {
        const jp_step *st = &p->steps[s];
        jx_type t = p->nodes[st->node].type;
        if (st->kind != JS_KERNEL || st->group != s || jx_type_size(&t) == 0) continue;
        int g1 = s;
        while (g1 + 1 < p->n_steps && p->steps[g1 + 1].group == s) g1++;
        E->kernel_fn[s] = lw_kernel(L, s, g1, E->kernel_args + (size_t)s * stride,
                                    &E->kernel_nargs[s], E->seen, &E->kernel_par[s]);
        if (!E->kernel_fn[s]) return -1;
    }
    return 0;
}

/* With JX_PROFILE: emits jx_rt_prof_mark(mark) (-1 at the start, then the step just
 * finished). */
static void lw_prof_mark(lw *L, lw_entry *E, int64_t mark) {
    if (!E->prof) return;
    LLVMValueRef a = lw_i64(L, mark);
    LLVMBuildCall2(L->b, E->prof_type, E->prof, &a, 1, "");
}

/* Emits the copy step st: the node's bytes moved into its output slot. */
static void lw_copy_step(lw *L, lw_entry *E, const jp_step *st) {
    jx_type t = L->p->nodes[st->node].type;
    int64_t bytes = jx_type_size(&t) * (int64_t)jx_dtype_size(t.dtype);
    if (bytes == 0) return;
    LLVMValueRef idx = lw_i64(L, st->out);
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(L->b, L->ptr, LLVMGetParam(E->fn, 1), &idx, 1, "");
    LLVMValueRef dst = LLVMBuildLoad2(L->b, L->ptr, slot, "");
    /* skipped when the output is the input's own memory (a scan body's invariant carry,
     * control_lower.c) */
    LLVMBasicBlockRef mv = LLVMAppendBasicBlockInContext(L->cx, L->fn, "move");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->cx, L->fn, "moved");
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntNE, dst, E->ptrs[st->node], ""), mv, join);
    LLVMPositionBuilderAtEnd(L->b, mv);
    LLVMBuildMemMove(L->b, dst, 1, E->ptrs[st->node], 1, lw_i64(L, bytes));
    LLVMBuildBr(L->b, join);
    LLVMPositionBuilderAtEnd(L->b, join);
}

/* Emits the call of step s's kernel: donated inputs copied into their outputs first, then
 * a direct call, or jx_rt_parallel over the trampoline with the pointers in E->par_ctx.
 * 0, or -1 on out of memory. */
static int lw_kernel_call(lw *L, lw_entry *E, int s) {
    const jit_plan *p = L->p;
    int na = E->kernel_nargs[s], *ka = E->kernel_args + (size_t)s * ((size_t)p->n_nodes + 2);
    const lw_par *par = &E->kernel_par[s];
    for (int m = s; m < p->n_steps && p->steps[m].group == s; m++) {
        int root = p->steps[m].node, donor = lw_donor(p, root);
        if (donor >= 0) lw_copy_if_distinct(L, E->ptrs[root], E->ptrs[donor], p->buf[root].bytes);
    }
    if (par->trampoline) {
        for (int i = 0; i < na; i++) {
            LLVMValueRef idx = lw_i64(L, i);
            LLVMBuildStore(L->b, E->ptrs[ka[i]],
                           LLVMBuildInBoundsGEP2(L->b, L->ptr, E->par_ctx, &idx, 1, ""));
        }
        if (!E->par_fn) /* declared once per module: sub-plans' functions share it */
            E->par_fn = LLVMGetNamedFunction(L->m, "jx_rt_parallel");
        if (!E->par_fn) E->par_fn = LLVMAddFunction(L->m, "jx_rt_parallel", E->par_type);
        LLVMValueRef pa[5] = {par->trampoline, E->par_ctx, lw_i64(L, par->extent),
                              lw_i64(L, par->grain), L->nthreads};
        LLVMBuildCall2(L->b, E->par_type, E->par_fn, pa, 5, "");
        return 0;
    }
    LLVMValueRef av[64 + 2], *avp = na <= 64 ? av : malloc((size_t)na * sizeof *avp);
    LLVMTypeRef pt[64 + 2], *ptp = na <= 64 ? pt : malloc((size_t)na * sizeof *ptp);
    int rc = -1;
    if (avp && ptp) {
        for (int i = 0; i < na; i++) {
            avp[i] = E->ptrs[ka[i]];
            ptp[i] = L->ptr;
        }
        LLVMBuildCall2(L->b, LLVMFunctionType(L->void_type, ptp, (unsigned)na, 0),
                       E->kernel_fn[s], avp, (unsigned)na, "");
        rc = 0;
    }
    if (avp != av) free(avp);
    if (ptp != pt) free(ptp);
    return rc;
}

/* Emits the entry's body: the trampolines' argument block, the profile marks, and each
 * step in order (GEMM, copy, kernel call or multi-result step), then the return. 0, or
 * -1 with jx_error(). */
static int lw_entry_body(lw *L, lw_entry *E) {
    const jit_plan *p = L->p;
    int maxpar = 1;
    for (int s = 0; s < p->n_steps; s++)
        if (E->kernel_par[s].trampoline && E->kernel_nargs[s] > maxpar)
            maxpar = E->kernel_nargs[s];
    LLVMPositionBuilderAtEnd(L->b, E->block);
    L->alloca_bb = E->alloca_bb;
    L->loop_md = NULL;
    E->par_ctx = lw_alloca(L, LLVMArrayType2(L->ptr, (uint64_t)maxpar));
    LLVMTypeRef par_at[5] = {L->ptr, L->ptr, L->i64, L->i64, L->i32};
    E->par_type = LLVMFunctionType(L->void_type, par_at, 5, 0);
    L->fn = E->fn;
    E->prof_type = LLVMFunctionType(L->void_type, &L->i64, 1, 0);
    if (getenv("JX_PROFILE") && !L->prefix[0]) /* the top plan's steps only */
        E->prof = LLVMAddFunction(L->m, "jx_rt_prof_mark", E->prof_type);
    lw_prof_mark(L, E, -1);
    for (int s = 0; s < p->n_steps; s++) {
        const jp_step *st = &p->steps[s];
        if (s > 0) lw_prof_mark(L, E, s - 1);
        if (st->kind == JS_GEMM) lw_gemm(L, st, E->ptrs);
        else if (st->kind == JS_COPY) lw_copy_step(L, E, st);
        else if (st->kind == JS_MULTI && lw_multi_step(L, s, E->ptrs) < 0) return -1;
        else if (E->kernel_fn[s] && lw_kernel_call(L, E, s) < 0)
            return util_err("jit: out of memory while lowering");
    }
    if (p->n_steps > 0) lw_prof_mark(L, E, p->n_steps - 1);
    LLVMBuildRetVoid(L->b);
    return 0;
}

/* See jit.h. */
LLVMValueRef jit_lower_into(const jit_plan *p, LLVMContextRef cx, LLVMModuleRef m,
                            const char *name, const char *prefix, int external) {
    lw Lv, *L = &Lv;
    lw_entry E;
    memset(&E, 0, sizeof E);
    lw_init(L, p, cx, m, prefix);
    /* the sub-plans' functions, the buffer pointers, the kernels (each in its own
     * function), then the entry's body */
    int rc = lw_alloc_tables(L, &E);
    if (rc == 0) rc = lw_lower_subs(L);
    if (rc == 0) {
        lw_entry_begin(L, &E, name, external);
        rc = lw_emit_kernels(L, &E);
        if (rc < 0) util_err("jit: out of memory while lowering");
    }
    if (rc == 0) rc = lw_entry_body(L, &E);
    lw_free_scratch(L, &E);
    return rc < 0 ? NULL : E.fn;
}

/* See jit.h. */
LLVMModuleRef jit_lower(const jit_plan *p, LLVMContextRef cx, const char *entry) {
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("jx", cx);
    if (!jit_lower_into(p, cx, m, entry, "", 1)) {
        LLVMDisposeModule(m);
        return NULL;
    }
    return m;
}
