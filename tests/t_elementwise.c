/* The elementwise family's unary and binary ops: every primitive against hand-computed
 * values for each allowed dtype, NaN/inf, integer wraparound and division edge cases.
 * Conversions, creation, rank 0 and empty arrays are in t_elementwise_convert.c, the
 * shape-rule error messages in t_elementwise_errors.c. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "core/trace.h"

#include "elt_util.h"

/* ---- unary ---------------------------------------------------------------------------- */

TEST(neg_abs_sign_float) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        UN(NEG, dt, (1.5, -2, 0, Inf, NaN), (-1.5, 2, 0, -Inf, NaN));
        UN(ABS, dt, (-1.5, 2, -0.0, -Inf, NaN), (1.5, 2, 0, Inf, NaN));
        UN(SIGN, dt, (-3, 2, 0, NaN, Inf, -Inf, 1e-30), (-1, 1, 0, NaN, 1, -1, 1));
    }
}

TEST(neg_abs_sign_signed_zero) {
    double z[2] = {0.0, -0.0};
    for (int k = 0; k < 2; k++) {
        jx_array *x = vec(floats[k], 2, z);
        jx_array *n = run(__LINE__, JX_OP_NEG, 0, &x);
        jx_array *a = run(__LINE__, JX_OP_ABS, 0, &x);
        jx_array *s = run(__LINE__, JX_OP_SIGN, 0, &x);
        if (n && a && s) {
            CHECK(signbit(jx_array_get(n, 0)) && !signbit(jx_array_get(n, 1)));
            CHECK(!signbit(jx_array_get(a, 1)));
            CHECK(!signbit(jx_array_get(s, 0)) && signbit(jx_array_get(s, 1)));
        }
        jx_array_free(n);
        jx_array_free(a);
        jx_array_free(s);
        jx_array_free(x);
    }
}

TEST(neg_abs_sign_i32) {
    UN(NEG, JX_I32, (5, -3, 0, I32MIN, I32MAX), (-5, 3, 0, I32MIN, -I32MAX));
    UN(ABS, JX_I32, (-5, 3, 0, I32MIN, -I32MAX), (5, 3, 0, I32MIN, I32MAX));
    UN(SIGN, JX_I32, (-7, 0, 9, I32MIN, I32MAX), (-1, 0, 1, -1, 1));
}

TEST(exp_log_family) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        UN(EXP, dt, (0, 1, -1, Inf, -Inf, NaN),
           (1, 2.718281828459045, 0.36787944117144233, Inf, 0, NaN));
        UN(LOG, dt, (1, 2.718281828459045, 0, -1, Inf, NaN), (0, 1, -Inf, NaN, Inf, NaN));
        UN(LOG1P, dt, (0, 1.718281828459045, -1, -2, Inf), (0, 1, -Inf, NaN, Inf));
        UN(EXPM1, dt, (0, 1, -Inf, Inf, NaN), (0, 1.718281828459045, -1, Inf, NaN));
    }
}

TEST(log1p_expm1_small_arguments_are_accurate) {
    for (int k = 0; k < 2; k++) {
        jx_array *x = vec(floats[k], 1, D(1e-10));
        jx_array *a = run(__LINE__, JX_OP_LOG1P, 0, &x);
        jx_array *b = run(__LINE__, JX_OP_EXPM1, 0, &x);
        if (a && b) {
            double x0 = jx_array_get(x, 0);
            CHECK_NEAR(jx_array_get(a, 0) / x0, 1, 1e-6);
            CHECK_NEAR(jx_array_get(b, 0) / x0, 1, 1e-6);
        }
        jx_array_free(a);
        jx_array_free(b);
        jx_array_free(x);
    }
}

TEST(tanh_logistic) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        UN(TANH, dt, (0, 1, -1, 20, -Inf, NaN),
           (0, 0.7615941559557649, -0.7615941559557649, 1, -1, NaN));
        /* stable for large |x|: no NaN from inf/inf, exact 0 and 1 at the ends */
        UN(LOGISTIC, dt, (0, 2, -2, 100, -1000, 1000, Inf, -Inf, NaN),
           (0.5, 0.8807970779778823, 0.11920292202211755, 1, 0, 1, 1, 0, NaN));
    }
    /* the tiny tail keeps its value (not flushed to 0 by 1 - x) */
    jx_array *x = vec(JX_F64, 1, D(-100));
    jx_array *y = run(__LINE__, JX_OP_LOGISTIC, 0, &x);
    if (y) CHECK_NEAR(jx_array_get(y, 0) / 3.720075976020836e-44, 1, 1e-12);
    jx_array_free(x);
    jx_array_free(y);
}

TEST(sqrt_rsqrt_sin_cos_floor) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        UN(SQRT, dt, (0, 4, 2, -1, Inf, NaN), (0, 2, 1.4142135623730951, NaN, Inf, NaN));
        UN(RSQRT, dt, (4, 0.25, 0, Inf, -1), (0.5, 2, Inf, 0, NaN));
        UN(SIN, dt, (0, 1.5707963267948966, -0.5235987755982988, Inf, NaN),
           (0, 1, -0.5, NaN, NaN));
        UN(COS, dt, (0, 3.141592653589793, 1.0471975511965976, -Inf, NaN),
           (1, -1, 0.5, NaN, NaN));
        UN(FLOOR, dt, (1.5, -1.5, 2, -0.25, 1e10, -Inf, NaN), (1, -2, 2, -1, 1e10, -Inf, NaN));
    }
}

TEST(not_on_bool_i32_u32) {
    UN(NOT, JX_BOOL, (0, 1), (1, 0));
    UN(NOT, JX_I32, (0, -1, 5, I32MIN), (-1, 0, -6, I32MAX));
    UN(NOT, JX_U32, (0, U32MAX, 5), (U32MAX, 0, 4294967290.0));
}

TEST(stop_gradient_every_dtype) {
    UN(STOP_GRADIENT, JX_F32, (1.5, NaN, -Inf), (1.5, NaN, -Inf));
    UN(STOP_GRADIENT, JX_F64, (0.1, NaN, Inf), (0.1, NaN, Inf));
    UN(STOP_GRADIENT, JX_I32, (I32MIN, -1, 7), (I32MIN, -1, 7));
    UN(STOP_GRADIENT, JX_U32, (U32MAX, 0), (U32MAX, 0));
    UN(STOP_GRADIENT, JX_BOOL, (1, 0), (1, 0));
}

/* ---- binary --------------------------------------------------------------------------- */

TEST(add_sub_mul_div_float) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        BIN(ADD, dt, dt, (1.5, -2, 7, Inf, Inf, NaN), (0.5, 4, -2, -Inf, 1, 1),
            (2, 2, 5, NaN, Inf, NaN));
        BIN(SUB, dt, dt, (1.5, -2, 7, Inf, NaN), (0.5, 4, -2, Inf, 1), (1, -6, 9, NaN, NaN));
        BIN(MUL, dt, dt, (1.5, -2, 7, Inf, 0), (0.5, 4, -2, 2, Inf), (0.75, -8, -14, Inf, NaN));
        BIN(DIV, dt, dt, (3, -2, 7, 1, -1, 0, Inf), (2, 4, -2, 0, 0, 0, Inf),
            (1.5, -0.5, -3.5, Inf, -Inf, NaN, NaN));
    }
}

TEST(pow_float) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        BIN(POW, dt, dt, (2, 9, 2, -8, 0, -2, 0, NaN), (10, 0.5, -1, 0.5, 0, 3, -1, 0),
            (1024, 3, 0.5, NaN, 1, -8, Inf, 1));
    }
}

TEST(max_min_propagate_nan) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        BIN(MAX, dt, dt, (1, -2, NaN, 3, -Inf, NaN), (2, -3, 1, NaN, 5, NaN),
            (2, -2, NaN, NaN, 5, NaN));
        BIN(MIN, dt, dt, (1, -2, NaN, 3, -Inf, NaN), (2, -3, 1, NaN, 5, NaN),
            (1, -3, NaN, NaN, -Inf, NaN));
    }
    BIN(MAX, JX_I32, JX_I32, (-5, 3, I32MIN), (1, -7, I32MAX), (1, 3, I32MAX));
    BIN(MIN, JX_I32, JX_I32, (-5, 3, I32MIN), (1, -7, I32MAX), (-5, -7, I32MIN));
    BIN(MAX, JX_U32, JX_U32, (U32MAX, 3), (1, 7), (U32MAX, 7));
    BIN(MIN, JX_U32, JX_U32, (U32MAX, 3), (1, 7), (1, 3));
}

TEST(rem_float_is_fmod) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        BIN(REM, dt, dt, (7, -7, 7.5, 7, 5, Inf, 3, NaN), (3, 3, 2, -3, 0, 2, Inf, 1),
            (1, -1, 1.5, 1, NaN, NaN, 3, NaN));
    }
}

TEST(i32_arithmetic_wraps) {
    BIN(ADD, JX_I32, JX_I32, (I32MAX, 5, -5), (1, -7, -3), (I32MIN, -2, -8));
    BIN(SUB, JX_I32, JX_I32, (I32MIN, 5, 0), (1, 7, I32MIN), (I32MAX, -2, I32MIN));
    BIN(MUL, JX_I32, JX_I32, (65536, -3, I32MAX, I32MIN), (65536, 4, 2, -1),
        (0, -12, -2, I32MIN));
}

TEST(i32_division_edge_cases) {
    BIN(DIV, JX_I32, JX_I32, (7, -7, 7, -7, 5, 0, I32MIN, -8, I32MIN),
        (2, 2, -2, -2, 0, 0, -1, 3, 1), (3, -3, -3, 3, 0, 0, I32MIN, -2, I32MIN));
    BIN(REM, JX_I32, JX_I32, (7, -7, 7, -7, 5, 0, I32MIN, -8, I32MIN),
        (2, 2, -2, -2, 0, 0, -1, 3, 7), (1, -1, 1, -1, 0, 0, 0, -2, -2));
}

TEST(u32_wraparound) {
    BIN(ADD, JX_U32, JX_U32, (U32MAX, 4000000000.0, 1), (1, 500000000, 2), (0, 205032704, 3));
    BIN(SUB, JX_U32, JX_U32, (0, 5, 3), (1, 7, 1), (U32MAX, 4294967294.0, 2));
    BIN(MUL, JX_U32, JX_U32, (65536, 2147483649.0, 3, U32MAX), (65536, 2, 5, U32MAX),
        (0, 2, 15, 1));
    BIN(DIV, JX_U32, JX_U32, (7, U32MAX, 5, 0), (2, 2, 0, 3), (3, 2147483647, 0, 0));
    BIN(REM, JX_U32, JX_U32, (7, 5, U32MAX), (2, 0, 10), (1, 0, 5));
}

TEST(comparisons_float_with_nan) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
#define CMP_A (1, 2, NaN, 3, -0.0, -Inf, NaN)
#define CMP_B (2, 2, NaN, 1, 0.0, -Inf, 1)
        BIN(EQ, dt, JX_BOOL, CMP_A, CMP_B, (0, 1, 0, 0, 1, 1, 0));
        BIN(NE, dt, JX_BOOL, CMP_A, CMP_B, (1, 0, 1, 1, 0, 0, 1));
        BIN(LT, dt, JX_BOOL, CMP_A, CMP_B, (1, 0, 0, 0, 0, 0, 0));
        BIN(LE, dt, JX_BOOL, CMP_A, CMP_B, (1, 1, 0, 0, 1, 1, 0));
        BIN(GT, dt, JX_BOOL, CMP_A, CMP_B, (0, 0, 0, 1, 0, 0, 0));
        BIN(GE, dt, JX_BOOL, CMP_A, CMP_B, (0, 1, 0, 1, 1, 1, 0));
    }
}

TEST(comparisons_integer_and_bool) {
    BIN(EQ, JX_I32, JX_BOOL, (-1, 5, 3, I32MIN), (1, 5, 2, I32MAX), (0, 1, 0, 0));
    BIN(LT, JX_I32, JX_BOOL, (-1, 5, 3, I32MIN), (1, 5, 2, I32MAX), (1, 0, 0, 1));
    BIN(GE, JX_I32, JX_BOOL, (-1, 5, 3, I32MIN), (1, 5, 2, I32MAX), (0, 1, 1, 0));
    /* u32 compares unsigned: 0xffffffff is the largest */
    BIN(LT, JX_U32, JX_BOOL, (U32MAX, 5, 0), (1, 5, 2), (0, 0, 1));
    BIN(GT, JX_U32, JX_BOOL, (U32MAX, 5, 0), (1, 5, 2), (1, 0, 0));
    BIN(LE, JX_U32, JX_BOOL, (U32MAX, 5, 0), (1, 5, 2), (0, 1, 1));
    BIN(NE, JX_U32, JX_BOOL, (U32MAX, 5, 0), (1, 5, 2), (1, 0, 1));
    BIN(EQ, JX_BOOL, JX_BOOL, (0, 1, 1, 0), (1, 1, 0, 0), (0, 1, 0, 1));
    BIN(LT, JX_BOOL, JX_BOOL, (0, 1, 1, 0), (1, 1, 0, 0), (1, 0, 0, 0));
}

TEST(and_or_xor) {
    BIN(AND, JX_BOOL, JX_BOOL, (0, 0, 1, 1), (0, 1, 0, 1), (0, 0, 0, 1));
    BIN(OR, JX_BOOL, JX_BOOL, (0, 0, 1, 1), (0, 1, 0, 1), (0, 1, 1, 1));
    BIN(XOR, JX_BOOL, JX_BOOL, (0, 0, 1, 1), (0, 1, 0, 1), (0, 1, 1, 0));
    BIN(AND, JX_I32, JX_I32, (240, -1, 12), (60, 5, 10), (48, 5, 8));
    BIN(OR, JX_I32, JX_I32, (240, -1, 12), (60, 5, 10), (252, -1, 14));
    BIN(XOR, JX_I32, JX_I32, (240, -1, 12), (60, 5, 10), (204, -6, 6));
    BIN(AND, JX_U32, JX_U32, (240, U32MAX, 12), (60, 5, 10), (48, 5, 8));
    BIN(OR, JX_U32, JX_U32, (240, U32MAX, 12), (60, 5, 10), (252, U32MAX, 14));
    BIN(XOR, JX_U32, JX_U32, (240, U32MAX, 12), (60, 5, 10), (204, 4294967290.0, 6));
}

TEST(shifts) {
    BIN(SHIFT_LEFT, JX_U32, JX_U32, (1, 1, 2147483648.0, U32MAX, 1, 7), (3, 31, 1, 4, 32, 100),
        (8, 2147483648.0, 0, 4294967280.0, 0, 0));
    BIN(SHIFT_RIGHT, JX_U32, JX_U32, (8, 1, 2147483648.0, U32MAX, U32MAX, 7),
        (3, 1, 1, 4, 32, 0), (1, 0, 1073741824, 268435455, 0, 7));
    /* i32: the shift amount is read as unsigned (negative -> huge -> 0); logical right */
    BIN(SHIFT_LEFT, JX_I32, JX_I32, (1, -1, -16, 5, 1), (4, 1, 2, -1, 31),
        (16, -2, -64, 0, I32MIN));
    BIN(SHIFT_RIGHT, JX_I32, JX_I32, (16, -1, -16, 5, I32MIN), (4, 1, 2, -1, 31),
        (1, I32MAX, 1073741820, 0, 1));
}

TEST(select_every_branch_dtype) {
    const jx_dtype dts[5] = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL};
    for (int k = 0; k < 5; k++)
        check_op(__LINE__, JX_OP_SELECT, 0, dts[k], dts[k], 4, D(1, 0, 1, 0), D(1, 0, 1, 1),
                 D(0, 1, 0, 0), D(1, 1, 1, 0));
    check_op(__LINE__, JX_OP_SELECT, 0, JX_F32, JX_F32, 3, D(1, 0, 1), D(NaN, 2, -Inf),
             D(4, NaN, 6), D(NaN, NaN, -Inf));
    check_op(__LINE__, JX_OP_SELECT, 0, JX_U32, JX_U32, 2, D(0, 1), D(1, 2), D(U32MAX, 7),
             D(U32MAX, 2));
}

TEST_MAIN()
