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
