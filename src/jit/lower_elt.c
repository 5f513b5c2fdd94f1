/* Scalar codegen of the elementwise primitives, matching src/prims/elementwise.c:
 * NaN-propagating max/min, integer division/remainder by zero give 0, INT32_MIN / -1 gives
 * INT32_MIN (remainder 0), shifts by >= 32 give 0, float->int conversions truncate and
 * saturate (NaN -> 0), bool is 0/1. No fast-math flags: results keep IEEE NaN/inf/-0
 * behaviour. Everything is branch-free so loops vectorize. */
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
LLVMValueRef lw_elt_unary(lw *L, jx_op op, jx_dtype dt, LLVMValueRef x) {
    LLVMBuilderRef B = L->b;
    LLVMTypeRef t = lw_type(L, dt);
    int f = lw_is_float(dt);
    switch (op) {
    case JX_OP_NEG: return f ? LLVMBuildFNeg(B, x, "") : LLVMBuildNeg(B, x, "");
    case JX_OP_ABS:
        if (f) return lw_intrin(L, "llvm.fabs", t, 1, &x);
        if (dt == JX_I32) {
            LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntSLT, x, lw_const(L, dt, 0), "");
            return LLVMBuildSelect(B, neg, LLVMBuildNeg(B, x, ""), x, "");
        }
        return x;
    case JX_OP_SIGN:
        if (f) { /* keeps +-0 and NaN */
            LLVMValueRef r = LLVMBuildSelect(
                B, LLVMBuildFCmp(B, LLVMRealOLT, x, lw_const(L, dt, 0), ""), lw_const(L, dt, -1),
                x, "");
            return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, x, lw_const(L, dt, 0), ""),
                                   lw_const(L, dt, 1), r, "");
        } else {
            LLVMValueRef zero = lw_const(L, dt, 0);
            LLVMValueRef pos = LLVMBuildICmp(B, dt == JX_I32 ? LLVMIntSGT : LLVMIntUGT, x, zero, "");
            LLVMValueRef r = LLVMBuildSelect(B, pos, lw_const(L, dt, 1), zero, "");
            if (dt == JX_I32)
                r = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, zero, ""),
                                    lw_const(L, dt, -1), r, "");
            return r;
        }
    case JX_OP_SQRT: return lw_intrin(L, "llvm.sqrt", t, 1, &x);
    case JX_OP_RSQRT:
        return LLVMBuildFDiv(B, lw_const(L, dt, 1), lw_intrin(L, "llvm.sqrt", t, 1, &x), "");
    case JX_OP_FLOOR: return lw_intrin(L, "llvm.floor", t, 1, &x);
    case JX_OP_NOT: return LLVMBuildNot(B, x, "");
    case JX_OP_STOP_GRADIENT: return x;
    case JX_OP_EXP: case JX_OP_LOG: case JX_OP_LOG1P: case JX_OP_EXPM1: case JX_OP_TANH:
    case JX_OP_LOGISTIC: case JX_OP_SIN: case JX_OP_COS:
        return lw_math(L, op, dt, x);
    default: return NULL;
    }
}

/* Integer division or remainder with the interpreter's rules. */
static LLVMValueRef lw_idiv(lw *L, int rem, jx_dtype dt, LLVMValueRef a, LLVMValueRef b) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef zero = lw_const(L, dt, 0), one = lw_const(L, dt, 1);
    LLVMValueRef bz = LLVMBuildICmp(B, LLVMIntEQ, b, zero, "");
    LLVMValueRef safe = LLVMBuildSelect(B, bz, one, b, "");
    LLVMValueRef r;
    if (dt == JX_I32) {
        /* INT32_MIN / -1 overflows: divide by 1 instead (quotient INT32_MIN, remainder 0) */
        LLVMValueRef ov = LLVMBuildAnd(
            B, LLVMBuildICmp(B, LLVMIntEQ, a, LLVMConstInt(L->i32, 0x80000000u, 0), ""),
            LLVMBuildICmp(B, LLVMIntEQ, b, LLVMConstInt(L->i32, 0xffffffffu, 0), ""), "");
        safe = LLVMBuildSelect(B, ov, one, safe, "");
        r = rem ? LLVMBuildSRem(B, a, safe, "") : LLVMBuildSDiv(B, a, safe, "");
    } else {
        r = rem ? LLVMBuildURem(B, a, safe, "") : LLVMBuildUDiv(B, a, safe, "");
    }
    return LLVMBuildSelect(B, bz, zero, r, "");
}

/* See lower.h. */
LLVMValueRef lw_elt_binary(lw *L, jx_op op, jx_dtype dt, LLVMValueRef a, LLVMValueRef b) {
    LLVMBuilderRef B = L->b;
    int f = lw_is_float(dt);
    if (op >= JX_OP_EQ && op <= JX_OP_GE) {
        static const LLVMRealPredicate fp[6] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                                LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
        static const LLVMIntPredicate sp[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT,
                                               LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
        static const LLVMIntPredicate up[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT,
                                               LLVMIntULE, LLVMIntUGT, LLVMIntUGE};
        int k = op - JX_OP_EQ;
        if (f) return LLVMBuildFCmp(B, fp[k], a, b, "");
        return LLVMBuildICmp(B, dt == JX_I32 ? sp[k] : up[k], a, b, "");
    }
    switch (op) {
    case JX_OP_ADD: return f ? LLVMBuildFAdd(B, a, b, "") : LLVMBuildAdd(B, a, b, "");
    case JX_OP_SUB: return f ? LLVMBuildFSub(B, a, b, "") : LLVMBuildSub(B, a, b, "");
    case JX_OP_MUL: return f ? LLVMBuildFMul(B, a, b, "") : LLVMBuildMul(B, a, b, "");
    case JX_OP_DIV: return f ? LLVMBuildFDiv(B, a, b, "") : lw_idiv(L, 0, dt, a, b);
    case JX_OP_REM: return f ? LLVMBuildFRem(B, a, b, "") : lw_idiv(L, 1, dt, a, b);
    case JX_OP_POW: return lw_pow(L, dt, a, b);
    case JX_OP_MAX: return lw_maxmin(L, 1, dt, a, b);
    case JX_OP_MIN: return lw_maxmin(L, 0, dt, a, b);
    case JX_OP_AND: return LLVMBuildAnd(B, a, b, "");
    case JX_OP_OR: return LLVMBuildOr(B, a, b, "");
    case JX_OP_XOR: return LLVMBuildXor(B, a, b, "");
    case JX_OP_SHIFT_LEFT:
    case JX_OP_SHIFT_RIGHT: {
        LLVMValueRef big = LLVMBuildICmp(B, LLVMIntUGE, b, LLVMConstInt(L->i32, 32, 0), "");
        LLVMValueRef sh = LLVMBuildAnd(B, b, LLVMConstInt(L->i32, 31, 0), "");
        LLVMValueRef r = op == JX_OP_SHIFT_LEFT ? LLVMBuildShl(B, a, sh, "")
                                                : LLVMBuildLShr(B, a, sh, "");
        return LLVMBuildSelect(B, big, LLVMConstInt(L->i32, 0, 0), r, "");
    }
    default: return NULL;
    }
}

/* See lower.h. */
LLVMValueRef lw_convert(lw *L, jx_dtype from, jx_dtype to, LLVMValueRef x) {
    LLVMBuilderRef B = L->b;
    LLVMTypeRef tt = lw_type(L, to);
    if (from == to) return x;
    if (to == JX_BOOL) {
        if (lw_is_float(from)) return LLVMBuildFCmp(B, LLVMRealUNE, x, lw_const(L, from, 0), "");
        return LLVMBuildICmp(B, LLVMIntNE, x, lw_const(L, from, 0), "");
    }
    if (from == JX_BOOL) {
        if (lw_is_float(to)) return LLVMBuildUIToFP(B, x, tt, "");
        return LLVMBuildZExt(B, x, tt, "");
    }
    if (lw_is_float(from) && lw_is_float(to))
        return to == JX_F64 ? LLVMBuildFPExt(B, x, tt, "") : LLVMBuildFPTrunc(B, x, tt, "");
    if (lw_is_float(to))
        return from == JX_I32 ? LLVMBuildSIToFP(B, x, tt, "") : LLVMBuildUIToFP(B, x, tt, "");
    if (lw_is_float(from))
        return lw_intrin2(L, to == JX_I32 ? "llvm.fptosi.sat" : "llvm.fptoui.sat", tt,
                          lw_type(L, from), x);
    return x; /* i32 <-> u32: same bits */
}

/* See lower.h. */
LLVMValueRef lw_bitcast(lw *L, jx_dtype from, jx_dtype to, LLVMValueRef x) {
    if (lw_type(L, from) == lw_type(L, to)) return x;
    return LLVMBuildBitCast(L->b, x, lw_type(L, to), "");
}
