/* Shared state of the LLVM lowering files (lower.c, lower_index.c, lower_kernel.c,
 * lower_elt.c, lower_math.c) and the emission API of the families' `lower` rules in
 * src/prims/: each computes element ix of its node, reading operands through lw_eval. */
#ifndef JX_JIT_LOWER_H
#define JX_JIT_LOWER_H

#include <llvm-c/Core.h>

#include "jit/jit.h"

typedef struct lw {
    const jit_plan *p;
    LLVMContextRef cx;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef i1, i8, i32, i64, f32, f64, ptr, void_type;
    LLVMValueRef fn;          /* the function being emitted */
    LLVMBasicBlockRef alloca_bb; /* its entry block, for allocas */
    LLVMValueRef *base;       /* per node: buffer pointer in the current function */
    /* merged kernels: root dims are grouped into n_groups runs of adjacent dims
     * (dim_group[k] is the group of root dim k), each looped over by one induction
     * variable group_iv[g] */
    int n_groups;
    int dim_group[JX_MAX_RANK];
    LLVMValueRef group_iv[JX_MAX_RANK];
    /* loop metadata for the current kernel's loops (NULL: none): small kernels keep
     * scalar loops, whose code is a fraction of the vectorized version's */
    LLVMValueRef loop_md;
    /* parallel kernels: the range [par_lo, par_hi) of their outermost loop (NULL: all) */
    LLVMValueRef par_lo, par_hi;
    LLVMValueRef nthreads; /* the entry's thread count argument */
    const char *prefix;    /* of the names of p's functions: prefix + "k<step>", ... */
    LLVMValueRef *subs;    /* per sub-plan of p (p->subs): its function */
} lw;

/* An element index: multi-index over `shape` and/or linear index (each computed lazily
 * and cached; callers copy an index before entering a branch so cached values always
 * dominate their uses). */
typedef struct lw_ix {
    int rank;
    int64_t shape[JX_MAX_RANK];
    LLVMValueRef v[JX_MAX_RANK]; /* the multi-index, valid when multi is set */
    LLVMValueRef lin;            /* the linear index, or NULL until computed */
    int multi;                   /* 1 once v holds the multi-index */
    /* merged: the index is the kernel's group index L->group_iv, and dim d of this node
     * runs along root dim root_dim[d] */
    int merged;
    int root_dim[JX_MAX_RANK];
} lw_ix;

/* A counted loop: header block, exit block and induction variable (i64). */
typedef struct lw_loop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef iv;
} lw_loop;

/* i64 constant. */
LLVMValueRef lw_i64(lw *L, int64_t c);
/* An index over type t with nothing computed yet. */
lw_ix lw_ix_new(const jx_type *t);
/* The linear index of ix (computed from the multi-index if needed). */
LLVMValueRef lw_lin(lw *L, lw_ix *ix);
/* Makes ix's multi-index available (unravelling the linear index if needed). */
void lw_multi(lw *L, lw_ix *ix);
/* Starts `for (iv = 0; iv < n; iv++)` (or over [lo, hi)), leaving the builder in the
 * body; lw_loop_end closes it and leaves the builder after the loop. */
lw_loop lw_loop_begin(lw *L, int64_t n);
lw_loop lw_loop_range(lw *L, LLVMValueRef lo, LLVMValueRef hi);
void lw_loop_end(lw *L, lw_loop *lp);
/* lw_loop_end with iv advancing by step (iv < hi is tested at the head). */
void lw_loop_end_step(lw *L, lw_loop *lp, int64_t step);
/* A stack slot of type t in the current function's entry block. */
LLVMValueRef lw_alloca(lw *L, LLVMTypeRef t);
/* Element lin of node n's buffer as a register value; stores a register value. */
LLVMValueRef lw_load(lw *L, int n, LLVMValueRef lin);
void lw_store(lw *L, LLVMValueRef base, jx_dtype dt, LLVMValueRef lin, LLVMValueRef v);
/* Value of node n at ix: an immediate, a load from its buffer, or its fused computation. */
LLVMValueRef lw_eval(lw *L, int n, lw_ix *ix);
/* Computes node n (not via its buffer) at index ix. */
LLVMValueRef lw_compute(lw *L, int n, lw_ix *ix);

/* Kernels (lower_kernel.c). A split kernel's schedule: the extent of its outermost loop
 * and the grain of its chunks, and the trampoline void k<s>p(void **ctx, i64 lo, i64 hi)
 * that jx_rt_parallel calls (NULL: the kernel is not split). */
typedef struct lw_par {
    int64_t extent, grain;
    LLVMValueRef trampoline;
} lw_par;
/* Emits the function k<g0> running kernel steps [g0, g1] (one step, or a loop group) and
 * fills its pointer arguments' nodes: args[0..g1-g0] the members' outputs, then the
 * buffers they read. A split kernel takes (i64 lo, i64 hi) after the pointers. NULL on
 * out of memory. */
LLVMValueRef lw_kernel(lw *L, int g0, int g1, int *args, int *nargs, unsigned char *seen,
                       lw_par *par);
/* Direct convolution kernels (defined with the conv_direct family, src/prims/conv_kernel.c,
 * as the families' loop lowering rules are): the units of kernel steps [g0, g1] (the
 * extent of their outputs' first axis) when a member is a conv, conv_backprop_input or
 * conv_backprop_filter, else 0; the work of their multiply-adds in bytes (see
 * LW_PARALLEL_BYTES); and the group's body over units [L->par_lo, L->par_hi) (all when
 * unset), dst[i] being member g0 + i's output. */
int64_t lw_conv_units(const jit_plan *p, int g0, int g1);
int64_t lw_conv_work(const jit_plan *p, int g0, int g1);
void lw_conv_body(lw *L, int g0, int g1, LLVMValueRef *dst);
/* 1 and a description of the direct kernel (plan text) if node n is a direct conv op. */
int lw_conv_describe(const jit_plan *p, int n, char *buf, size_t len);
/* Outer-product kernels (lower_outer.c): emits the body of kernel step s, writing dst,
 * when it is a float mul of two broadcasts, one constant along the last axis and one of
 * a buffer row, of at least 4 MiB whose last loop group (n_groups groups of the root's
 * dims as lower_kernel.c's nest: dim_group, group_size) is the last axis alone: rows of
 * explicit vectors stored non-temporally over the same outermost range. Returns 1, or 0
 * having emitted nothing. */
int lw_outer_product(lw *L, int s, LLVMValueRef dst, int n_groups, const int *dim_group,
                     const int64_t *group_size);
/* The donated input whose memory node n (a step's output) is computed in, or -1. */
int lw_donor(const jit_plan *p, int n);
/* Emits `if (dst != src) memcpy(dst, src, bytes)` at the builder's position. */
void lw_copy_if_distinct(lw *L, LLVMValueRef dst, LLVMValueRef src, int64_t bytes);

/* Multi-result steps (lower_sub.c): the state a family's lower_multi rule gets for node
 * n at step `step`: its operands' and results' buffers, the sub-plans' arena and the
 * temporaries it asked for (multi_temps bytes; 64-byte aligned). The builder is in the
 * entry of p; L->fn is that function. */
typedef struct lw_mstep {
    const jx_node *n;
    int step, n_res;
    LLVMValueRef in[JX_MAX_OPERANDS], out[JX_MAX_RESULTS];
    LLVMValueRef arena, temps;
} lw_mstep;
/* Emits a call of the function of n's sub-function k on the buffers in[0..) (its inputs)
 * and out[0..) (its outputs), as many as that function has. The buffers of inputs and
 * outputs are distinct, except that output j may be input i's own memory when the
 * sub-function returns input i as output j (its copy is then skipped). */
void lw_call_sub(lw *L, const lw_mstep *m, int k, const LLVMValueRef *in, const LLVMValueRef *out);
/* Lowers each sub-plan of L->p into L->m (named L->prefix + "s<k>"), into L->subs. 0, or -1
 * with jx_error(). */
int lw_lower_subs(lw *L);
/* Emits multi step s through its family's lower_multi rule; ptrs: the entry's buffer
 * pointers per node. 0, or -1 with jx_error(). */
int lw_multi_step(lw *L, int s, LLVMValueRef *ptrs);
/* The type of an entry function: void (void **in, void **out, char *arena, void **consts,
 * i32 nthreads). */
LLVMTypeRef lw_entry_type(lw *L);

/* Reductions (lower_kernel.c; used by its outer-reduction kernels and by the reduce
 * family's lowering in src/prims/reduce.c): the identity of reduce_sum/max/min op for
 * dtype dt, and acc (op) v. */
LLVMValueRef lw_red_identity(lw *L, jx_op op, jx_dtype dt);
LLVMValueRef lw_red_combine(lw *L, jx_op op, jx_dtype dt, LLVMValueRef acc, LLVMValueRef v);

/* Register type of a dtype (bool is i1; in memory it is i8). */
LLVMTypeRef lw_type(lw *L, jx_dtype dt);
/* Memory type of a dtype. */
LLVMTypeRef lw_mem_type(lw *L, jx_dtype dt);
/* Calls intrinsic `name` overloaded on type t (nargs arguments of type t). */
LLVMValueRef lw_intrin(lw *L, const char *name, LLVMTypeRef t, int nargs, LLVMValueRef *args);
/* Calls the process's C function `name` (libm's erf, ...) taking nargs arguments of type t
 * and returning t, declared pure (nounwind, willreturn, memory(none)) so LLVM may hoist
 * or drop it; ORC resolves it in the process. Loops calling it stay scalar. */
LLVMValueRef lw_call_pure(lw *L, const char *name, LLVMTypeRef t, int nargs, LLVMValueRef *args);
/* Calls intrinsic `name` overloaded on (ret, arg) types with one argument. */
LLVMValueRef lw_intrin2(lw *L, const char *name, LLVMTypeRef ret, LLVMTypeRef arg,
                        LLVMValueRef x);
/* Constant of dtype dt holding v (as a register value). */
LLVMValueRef lw_const(lw *L, jx_dtype dt, double v);

/* a + b of dtype dt (fadd or add). */
LLVMValueRef lw_add(lw *L, jx_dtype dt, LLVMValueRef a, LLVMValueRef b);
/* max/min with the interpreter's NaN rule (a NaN operand wins, a first), used by the
 * elementwise max/min and the reductions. */
LLVMValueRef lw_maxmin(lw *L, int is_max, jx_dtype dt, LLVMValueRef a, LLVMValueRef b);

/* Transcendentals (lower_math.c) of a float value x of dtype dt (f32 or f64), and pow,
 * as branch-free IR that vectorizes; see that file for the algorithms and accuracy. */
LLVMValueRef lw_exp(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_log(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_log1p(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_expm1(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_tanh(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_logistic(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_sin(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_cos(lw *L, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_pow(lw *L, jx_dtype dt, LLVMValueRef a, LLVMValueRef b);

#endif
