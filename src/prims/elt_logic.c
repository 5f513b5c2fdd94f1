/* Elementwise group "logic": the comparisons eq, ne, lt, le, gt, ge (any dtype, bool
 * result; NaN compares unequal to everything, u32 and bool unsigned), the bitwise not,
 * and, or, xor (i32, u32, bool) and the shifts shift_left, shift_right_logical (i32,
 * u32; a shift by >= 32 gives 0). All have zero derivative (NOGRAD in prims.def). Each
 * primitive's evaluation, LLVM emission, row and public constructor sit together. */
#include "prims/elementwise.h"

/* The comparison predicates in LLVM, indexed by op - JX_OP_EQ: float (ordered, but
 * une for ne), signed, unsigned. */
static const LLVMRealPredicate cmp_fp[6] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                            LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
static const LLVMIntPredicate cmp_sp[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT,
                                           LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
static const LLVMIntPredicate cmp_up[6] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT,
                                           LLVMIntULE, LLVMIntUGT, LLVMIntUGE};

/* Comparison k (op - JX_OP_EQ) of a and b in LLVM. */
static LLVMValueRef cmp_emit(lw *L, int k, jx_dtype dt, LLVMValueRef *a) {
    if (dt == JX_F32 || dt == JX_F64) return LLVMBuildFCmp(L->b, cmp_fp[k], a[0], a[1], "");
    return LLVMBuildICmp(L->b, dt == JX_I32 ? cmp_sp[k] : cmp_up[k], a[0], a[1], "");
}

/* Each comparison: f32, f64, integer (signed for i32) evaluation and LLVM emission. */
#define CMP_OP(name, OP, EXPR)                                                             \
    static float name##_f32(const float *a) { return (float)(a[0] EXPR a[1]); }            \
    static double name##_f64(const double *a) { return (double)(a[0] EXPR a[1]); }         \
    static uint32_t name##_ints(jx_dtype dt, const uint32_t *a) {                          \
        if (dt == JX_I32) return (int32_t)a[0] EXPR(int32_t) a[1];                         \
        return a[0] EXPR a[1];                                                             \
    }                                                                                      \
    static LLVMValueRef name##_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {   \
        (void)out;                                                                         \
        return cmp_emit(L, JX_OP_##OP - JX_OP_EQ, dt, a);                                  \
    }
CMP_OP(eq, EQ, ==)
CMP_OP(ne, NE, !=)
CMP_OP(lt, LT, <)
CMP_OP(le, LE, <=)
CMP_OP(gt, GT, >)
CMP_OP(ge, GE, >=)
#undef CMP_OP

/* ---- not (bool: logical, integers: bitwise) ---- */
static uint32_t not_ints(jx_dtype dt, const uint32_t *a) {
    return dt == JX_BOOL ? !a[0] : ~a[0];
}
static LLVMValueRef not_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return LLVMBuildNot(L->b, a[0], "");
}

/* ---- and, or, xor ---- */
static uint32_t and_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0] & a[1]; }
static LLVMValueRef and_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return LLVMBuildAnd(L->b, a[0], a[1], "");
}
static uint32_t or_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0] | a[1]; }
static LLVMValueRef or_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return LLVMBuildOr(L->b, a[0], a[1], "");
}
static uint32_t xor_ints(jx_dtype dt, const uint32_t *a) { (void)dt; return a[0] ^ a[1]; }
static LLVMValueRef xor_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return LLVMBuildXor(L->b, a[0], a[1], "");
}

/* ---- shift_left, shift_right_logical ---- */
static uint32_t shl_ints(jx_dtype dt, const uint32_t *a) {
    (void)dt;
    return a[1] >= 32 ? 0 : a[0] << a[1];
}
static uint32_t shr_ints(jx_dtype dt, const uint32_t *a) {
    (void)dt;
    return a[1] >= 32 ? 0 : a[0] >> a[1];
}
/* a << b or a >> b (logical), 0 for b >= 32. */
static LLVMValueRef shift_emit(lw *L, int left, LLVMValueRef a, LLVMValueRef b) {
    LLVMBuilderRef B = L->b;
    LLVMValueRef big = LLVMBuildICmp(B, LLVMIntUGE, b, LLVMConstInt(L->i32, 32, 0), "");
    LLVMValueRef sh = LLVMBuildAnd(B, b, LLVMConstInt(L->i32, 31, 0), "");
    LLVMValueRef r = left ? LLVMBuildShl(B, a, sh, "") : LLVMBuildLShr(B, a, sh, "");
    return LLVMBuildSelect(B, big, LLVMConstInt(L->i32, 0, 0), r, "");
}
static LLVMValueRef shl_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return shift_emit(L, 1, a[0], a[1]);
}
static LLVMValueRef shr_emit(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a) {
    (void)dt, (void)out;
    return shift_emit(L, 0, a[0], a[1]);
}

/* ---- the group ---- */
#define CMP_ROW(name, OP)                                                                  \
    {.op = JX_OP_##OP, .dtypes = ELT_ANY, .out_bool = 1, .f32 = name##_f32,                \
     .f64 = name##_f64, .ints = name##_ints, .emit = name##_emit}
#define BIT_ROW(name, OP, DT)                                                              \
    {.op = JX_OP_##OP, .dtypes = DT, .ints = name##_ints, .emit = name##_emit}
static const elt_op logic_ops[] = {
    CMP_ROW(eq, EQ), CMP_ROW(ne, NE), CMP_ROW(lt, LT),
    CMP_ROW(le, LE), CMP_ROW(gt, GT), CMP_ROW(ge, GE),
    BIT_ROW(not, NOT, ELT_LOGIC), BIT_ROW(and, AND, ELT_LOGIC),
    BIT_ROW(or, OR, ELT_LOGIC), BIT_ROW(xor, XOR, ELT_LOGIC),
    BIT_ROW(shl, SHIFT_LEFT, ELT_INT), BIT_ROW(shr, SHIFT_RIGHT, ELT_INT),
};
ELT_FAMILY(elt_logic, logic_ops);

ELT_UNARY(not, NOT)
ELT_BINARY(eq, EQ)
ELT_BINARY(ne, NE)
ELT_BINARY(lt, LT)
ELT_BINARY(le, LE)
ELT_BINARY(gt, GT)
ELT_BINARY(ge, GE)
ELT_BINARY(and, AND)
ELT_BINARY(or, OR)
ELT_BINARY(xor, XOR)
ELT_BINARY(shift_left, SHIFT_LEFT)
ELT_BINARY(shift_right, SHIFT_RIGHT)
