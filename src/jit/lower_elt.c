/* Scalar LLVM building blocks for the families' lowering rules: register and memory types
 * of the dtypes, constants, intrinsic and pure libm calls, add, and max/min with the interpreter's NaN
 * rule (shared by the elementwise max/min and the reductions). Which code each
 * elementwise primitive emits is its own rule, in src/prims/elt_*.c; the transcendentals
 * are in lower_math.c. No fast-math flags: results keep IEEE NaN/inf/-0 behaviour, and
 * the user's a * b + c is never contracted into an FMA (the interpreter rounds the
 * product; tests compare them bit for bit at every size, t_jit_kernels.c). */
#include <string.h>

#include "jit/lower.h"

/* See lower.h. */
LLVMTypeRef lw_type(lw *L, jx_dtype dt) {
    switch (dt) {
    case JX_F32: return L->f32;
    case JX_F64: return L->f64;
    case JX_BOOL: return L->i1;
    default: return L->i32;
    }
}

/* See lower.h. */
LLVMTypeRef lw_mem_type(lw *L, jx_dtype dt) {
    return dt == JX_BOOL ? L->i8 : lw_type(L, dt);
}

/* See lower.h. */
LLVMValueRef lw_intrin(lw *L, const char *name, LLVMTypeRef t, int nargs, LLVMValueRef *args) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->m, id, &t, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->cx, id, &t, 1);
    return LLVMBuildCall2(L->b, ft, f, args, (unsigned)nargs, "");
}

/* See lower.h. */
LLVMValueRef lw_call_pure(lw *L, const char *name, LLVMTypeRef t, int nargs, LLVMValueRef *args) {
    LLVMTypeRef params[JX_MAX_OPERANDS];
    for (int i = 0; i < nargs; i++) params[i] = t;
    LLVMTypeRef ft = LLVMFunctionType(t, params, (unsigned)nargs, 0);
    LLVMValueRef f = LLVMGetNamedFunction(L->m, name);
    if (!f) {
        f = LLVMAddFunction(L->m, name, ft);
        const char *attrs[3] = {"nounwind", "willreturn", "memory"}; /* memory(none) */
        for (int i = 0; i < 3; i++) {
            unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
            LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                    LLVMCreateEnumAttribute(L->cx, kind, 0));
        }
    }
    return LLVMBuildCall2(L->b, ft, f, args, (unsigned)nargs, "");
}

/* See lower.h. */
LLVMValueRef lw_intrin2(lw *L, const char *name, LLVMTypeRef ret, LLVMTypeRef arg,
                        LLVMValueRef x) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef ts[2] = {ret, arg};
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->m, id, ts, 2);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->cx, id, ts, 2);
    return LLVMBuildCall2(L->b, ft, f, &x, 1, "");
}

/* See lower.h. */
LLVMValueRef lw_const(lw *L, jx_dtype dt, double v) {
    switch (dt) {
    case JX_F32: return LLVMConstReal(L->f32, (float)v);
    case JX_F64: return LLVMConstReal(L->f64, v);
    case JX_BOOL: return LLVMConstInt(L->i1, v != 0, 0);
    case JX_I32: return LLVMConstInt(L->i32, (unsigned long long)(uint32_t)(int32_t)v, 0);
    default: return LLVMConstInt(L->i32, (unsigned long long)(uint32_t)v, 0);
    }
}

/* 1 if dt is f32 or f64. */
static int lw_is_float(jx_dtype dt) {
    return dt == JX_F32 || dt == JX_F64;
}

/* 1 if x is NaN (unordered with itself). */
static LLVMValueRef lw_isnan(lw *L, LLVMValueRef x) {
    return LLVMBuildFCmp(L->b, LLVMRealUNO, x, x, "");
}

/* See lower.h. */
LLVMValueRef lw_maxmin(lw *L, int is_max, jx_dtype dt, LLVMValueRef a, LLVMValueRef b) {
    LLVMBuilderRef B = L->b;
    if (lw_is_float(dt)) {
        /* a > b (ordered) ? a : (a is NaN ? a : b): a NaN operand wins, a first, as in
         * the interpreter. Not isnan(a) ? a : (isnan(b) ? b : (a > b ? a : b)), the same
         * function, which LLVM 19.1's InstCombine miscompiles for a = fabs(x), b = 0
         * into x u> 0 ? fabs(x) : 0 (0 for every negative x). */
        LLVMValueRef c = LLVMBuildFCmp(B, is_max ? LLVMRealOGT : LLVMRealOLT, a, b, "");
        LLVMValueRef r = LLVMBuildSelect(B, lw_isnan(L, a), a, b, "");
        return LLVMBuildSelect(B, c, a, r, "");
    }
    LLVMIntPredicate pr;
    if (dt == JX_I32) pr = is_max ? LLVMIntSGT : LLVMIntSLT;
    else pr = is_max ? LLVMIntUGT : LLVMIntULT;
    return LLVMBuildSelect(B, LLVMBuildICmp(B, pr, a, b, ""), a, b, "");
}

/* See lower.h. */
LLVMValueRef lw_add(lw *L, jx_dtype dt, LLVMValueRef a, LLVMValueRef b) {
    return lw_is_float(dt) ? LLVMBuildFAdd(L->b, a, b, "") : LLVMBuildAdd(L->b, a, b, "");
}
