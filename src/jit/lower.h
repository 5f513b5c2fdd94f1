/* Shared state of the LLVM lowering files (lower.c, lower_elt.c, lower_math.c). */
#ifndef JX_JIT_LOWER_H
#define JX_JIT_LOWER_H

#include <llvm-c/Core.h>

#include "jit/jit.h"

typedef struct lw {
    const jit_plan *p;
    LLVMContextRef cx;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef i1, i8, i32, i64, f32, f64, ptr, vd;
    LLVMValueRef fn;          /* the function being emitted */
    LLVMBasicBlockRef alloca_bb; /* its entry block, for allocas */
    LLVMValueRef *base;       /* per node: buffer pointer in the current function */
} lw;

/* An element index: multi-index over `shape` and/or linear index (each computed lazily
 * and cached; callers copy an index before entering a branch so cached values always
 * dominate their uses). */
typedef struct lw_ix {
    int rank;
    int64_t shape[JX_MAX_RANK];
    LLVMValueRef v[JX_MAX_RANK];
    LLVMValueRef lin;
    int multi;
} lw_ix;

/* A counted loop: header block, exit block and induction variable (i64). */
typedef struct lw_loop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef iv;
} lw_loop;

/* i64 constant. */
LLVMValueRef lw_k(lw *L, int64_t c);
/* An index over type t with nothing computed yet. */
lw_ix lw_ix_new(const jx_type *t);
/* The linear index of ix (computed from the multi-index if needed). */
LLVMValueRef lw_lin(lw *L, lw_ix *ix);
/* Makes ix's multi-index available (unravelling the linear index if needed). */
void lw_multi(lw *L, lw_ix *ix);
/* Starts `for (iv = 0; iv < n; iv++)`, leaving the builder in the body; lw_loop_end
 * closes it and leaves the builder after the loop. */
lw_loop lw_loop_begin(lw *L, int64_t n);
void lw_loop_end(lw *L, lw_loop *lp);
/* A stack slot of type t in the current function's entry block. */
LLVMValueRef lw_alloca(lw *L, LLVMTypeRef t);
/* Element lin of node n's buffer as a register value; stores a register value. */
LLVMValueRef lw_load(lw *L, int n, LLVMValueRef lin);
void lw_store(lw *L, LLVMValueRef base, jx_dtype dt, LLVMValueRef lin, LLVMValueRef v);
/* Value of node n at ix: an immediate, a load from its buffer, or its fused computation. */
LLVMValueRef lw_eval(lw *L, int n, lw_ix *ix);

/* Non-elementwise primitives (lower_ops.c), each at output index ix of node nd. */
LLVMValueRef lw_red_identity(lw *L, jx_op op, jx_dtype dt);
LLVMValueRef lw_red_combine(lw *L, jx_op op, jx_dtype dt, LLVMValueRef acc, LLVMValueRef v);
LLVMValueRef lw_reduce_inner(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_argmax(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_int_dot(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_patches(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_patches_t(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_threefry(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_pad(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef lw_concat(lw *L, const jx_node *nd, lw_ix *ix);

/* Register type of a dtype (bool is i1; in memory it is i8). */
LLVMTypeRef lw_type(lw *L, jx_dtype dt);
/* Memory type of a dtype. */
LLVMTypeRef lw_mtype(lw *L, jx_dtype dt);
/* Calls intrinsic `name` overloaded on type t (nargs arguments of type t). */
LLVMValueRef lw_intrin(lw *L, const char *name, LLVMTypeRef t, int nargs, LLVMValueRef *args);
/* Calls intrinsic `name` overloaded on (ret, arg) types with one argument. */
LLVMValueRef lw_intrin2(lw *L, const char *name, LLVMTypeRef ret, LLVMTypeRef arg,
                        LLVMValueRef x);
/* Constant of dtype dt holding v (as a register value). */
LLVMValueRef lw_const(lw *L, jx_dtype dt, double v);

/* Scalar codegen of elementwise op (not convert/bitcast/select) on operands of dtype dt. */
LLVMValueRef lw_elt_unary(lw *L, jx_op op, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_elt_binary(lw *L, jx_op op, jx_dtype dt, LLVMValueRef a, LLVMValueRef b);
/* convert_element_type / bitcast_convert_type of x from dtype `from` to `to`. */
LLVMValueRef lw_convert(lw *L, jx_dtype from, jx_dtype to, LLVMValueRef x);
LLVMValueRef lw_bitcast(lw *L, jx_dtype from, jx_dtype to, LLVMValueRef x);
/* max/min with the interpreter's NaN rule (also used by reductions). */
LLVMValueRef lw_maxmin(lw *L, int is_max, jx_dtype dt, LLVMValueRef a, LLVMValueRef b);

/* Transcendentals (lower_math.c): exp, log, log1p, expm1, tanh, logistic, sin, cos of a
 * float value of dtype dt, and pow, as branch-free IR that vectorizes. */
LLVMValueRef lw_math(lw *L, jx_op op, jx_dtype dt, LLVMValueRef x);
LLVMValueRef lw_pow(lw *L, jx_dtype dt, LLVMValueRef a, LLVMValueRef b);

#endif
