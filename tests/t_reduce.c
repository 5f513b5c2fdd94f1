/* Reductions (reduce_sum, reduce_max, reduce_min, argmax): reference results against
 * hand-computed values (empty reductions, NaN, ties, integer wraparound), and shape-rule
 * errors. */
#include <stdint.h>

#include "check.h"
#include "primcheck.h"
#include "core/ir.h"
#include "core/trace.h"

enum { SUM, MAX, MIN };

/* Traces reduce_{sum,max,min}(x, axes) for x of type xt and runs it on xv. */
static jx_array *run_red(int which, jx_type xt, const double *xv, jx_ints axes) {
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val x = jx_trace_input(t, 0);
    jx_val y = which == SUM ? jx_reduce_sum(x, axes)
               : which == MAX ? jx_reduce_max(x, axes)
                              : jx_reduce_min(x, axes);
    return eval1(t, y, xt, xv);
}

/* Traces argmax(x, axis, idt) for x of type xt and runs it on xv. */
static jx_array *run_argmax(jx_type xt, const double *xv, int axis, jx_dtype idt) {
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_argmax(jx_trace_input(t, 0), axis, idt);
    return eval1(t, y, xt, xv);
}

#define V(...) ((const double[]){__VA_ARGS__})
#define X23 V(1, 2, 3, 4, 5, 6)

/* ---- reduce_sum -------------------------------------------------------------------- */

TEST(sum_rows_columns_all) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    CHECK(same(run_red(SUM, xt, X23, JX_INTS(1)), JX_TYPE(JX_F32, 2), V(6, 15)));
    CHECK(same(run_red(SUM, xt, X23, JX_INTS(0)), JX_TYPE(JX_F32, 3), V(5, 7, 9)));
    /* all axes, given in non-sorted order, to a scalar */
    CHECK(same(run_red(SUM, xt, X23, JX_INTS(1, 0)), JX_SCALAR(JX_F32), V(21)));
    /* no axes: identity */
    CHECK(same(run_red(SUM, xt, X23, JX_NOINTS), xt, X23));
}

TEST(sum_rank3_unsorted_axes_f64) {
    /* x[i,j,k] = 12i + 4j + k over [2,3,4]; summing i and k: 48 + 32j + 12 */
    double xv[24];
    for (int i = 0; i < 24; i++) xv[i] = i;
    jx_type xt = JX_TYPE(JX_F64, 2, 3, 4);
    CHECK(same(run_red(SUM, xt, xv, JX_INTS(2, 0)), JX_TYPE(JX_F64, 3), V(60, 92, 124)));
    /* summing j only: out[i,k] = 3(12i + k) + 12 */
    CHECK(same(run_red(SUM, xt, xv, JX_INTS(1)), JX_TYPE(JX_F64, 2, 4),
               V(12, 15, 18, 21, 48, 51, 54, 57)));
    /* f64 stays f64: 0.1 + 0.2 is the double sum */
    CHECK(same(run_red(SUM, JX_TYPE(JX_F64, 2), V(0.1, 0.2), JX_INTS(0)), JX_SCALAR(JX_F64),
               V(0.1 + 0.2)));
}

TEST(sum_rank0_and_empty) {
    CHECK(same(run_red(SUM, JX_SCALAR(JX_F32), V(2.5), JX_NOINTS), JX_SCALAR(JX_F32), V(2.5)));
    /* reducing an empty axis gives zeros; keeping an empty axis gives an empty result */
    jx_type xt = JX_TYPE(JX_F32, 2, 0);
    CHECK(same(run_red(SUM, xt, NULL, JX_INTS(1)), JX_TYPE(JX_F32, 2), V(0, 0)));
    CHECK(same(run_red(SUM, xt, NULL, JX_INTS(0)), JX_TYPE(JX_F32, 0), NULL));
    CHECK(same(run_red(SUM, JX_TYPE(JX_I32, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_I32), V(0)));
}

TEST(sum_integers_wrap) {
    CHECK(same(run_red(SUM, JX_TYPE(JX_I32, 2), V(INT32_MAX, 1), JX_INTS(0)), JX_SCALAR(JX_I32),
               V(INT32_MIN)));
    CHECK(same(run_red(SUM, JX_TYPE(JX_I32, 2, 2), V(-5, 3, 7, -10), JX_INTS(1)),
               JX_TYPE(JX_I32, 2), V(-2, -3)));
    CHECK(same(run_red(SUM, JX_TYPE(JX_U32, 2), V(UINT32_MAX, 2), JX_INTS(0)), JX_SCALAR(JX_U32),
               V(1)));
}

TEST(sum_nan_inf) {
    jx_type xt = JX_TYPE(JX_F32, 3, 2);
    CHECK(same(run_red(SUM, xt, V(1, NAN, INFINITY, -INFINITY, INFINITY, 1), JX_INTS(1)),
               JX_TYPE(JX_F32, 3), V(NAN, NAN, INFINITY)));
}

/* ---- reduce_max / reduce_min ------------------------------------------------------- */

TEST(max_min_basic) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    const double *xv = V(3, -1, 4, 1, 5, -9);
    CHECK(same(run_red(MAX, xt, xv, JX_INTS(1)), JX_TYPE(JX_F32, 2), V(4, 5)));
    CHECK(same(run_red(MIN, xt, xv, JX_INTS(1)), JX_TYPE(JX_F32, 2), V(-1, -9)));
    CHECK(same(run_red(MAX, xt, xv, JX_INTS(0)), JX_TYPE(JX_F32, 3), V(3, 5, 4)));
    CHECK(same(run_red(MIN, xt, xv, JX_INTS(1, 0)), JX_SCALAR(JX_F32), V(-9)));
}

TEST(max_min_rank3_unsorted_axes_i32) {
    /* x[i,j,k] = (i - j) * 10 + k over [2,2,2] = {0,1,-10,-9, 10,11,0,1}; axes (2,0) */
    jx_type xt = JX_TYPE(JX_I32, 2, 2, 2);
    const double *xv = V(0, 1, -10, -9, 10, 11, 0, 1);
    CHECK(same(run_red(MAX, xt, xv, JX_INTS(2, 0)), JX_TYPE(JX_I32, 2), V(11, 1)));
    CHECK(same(run_red(MIN, xt, xv, JX_INTS(2, 0)), JX_TYPE(JX_I32, 2), V(0, -10)));
    CHECK(same(run_red(MAX, JX_TYPE(JX_I32, 2), V(INT32_MIN, INT32_MIN + 1), JX_INTS(0)),
               JX_SCALAR(JX_I32), V(INT32_MIN + 1)));
    /* u32 compares unsigned */
    CHECK(same(run_red(MAX, JX_TYPE(JX_U32, 3), V(7, UINT32_MAX, 0), JX_INTS(0)),
               JX_SCALAR(JX_U32), V(UINT32_MAX)));
    CHECK(same(run_red(MIN, JX_TYPE(JX_U32, 3), V(7, UINT32_MAX, 0), JX_INTS(0)),
               JX_SCALAR(JX_U32), V(0)));
}

TEST(max_min_empty_identities) {
    CHECK(same(run_red(MAX, JX_TYPE(JX_F32, 2, 0), NULL, JX_INTS(1)), JX_TYPE(JX_F32, 2),
               V(-INFINITY, -INFINITY)));
    CHECK(same(run_red(MIN, JX_TYPE(JX_F64, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_F64),
               V(INFINITY)));
    CHECK(same(run_red(MAX, JX_TYPE(JX_I32, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_I32),
               V(INT32_MIN)));
    CHECK(same(run_red(MIN, JX_TYPE(JX_I32, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_I32),
               V(INT32_MAX)));
    CHECK(same(run_red(MAX, JX_TYPE(JX_U32, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_U32), V(0)));
    CHECK(same(run_red(MIN, JX_TYPE(JX_U32, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_U32),
               V(UINT32_MAX)));
}

TEST(max_min_nan_propagates) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    const double *xv = V(1, NAN, 3, -INFINITY, 2, INFINITY);
    CHECK(same(run_red(MAX, xt, xv, JX_INTS(1)), JX_TYPE(JX_F32, 2), V(NAN, INFINITY)));
    CHECK(same(run_red(MIN, xt, xv, JX_INTS(1)), JX_TYPE(JX_F32, 2), V(NAN, -INFINITY)));
    CHECK(same(run_red(MAX, xt, xv, JX_INTS(0)), JX_TYPE(JX_F32, 3), V(1, NAN, INFINITY)));
    /* NaN last in the row still wins; f64 */
    CHECK(same(run_red(MIN, JX_TYPE(JX_F64, 3), V(-1e300, 5, NAN), JX_INTS(0)),
               JX_SCALAR(JX_F64), V(NAN)));
}

TEST(max_min_bool) {
    jx_type xt = JX_TYPE(JX_BOOL, 2, 2);
    CHECK(same(run_red(MAX, xt, V(0, 0, 0, 1), JX_INTS(1)), JX_TYPE(JX_BOOL, 2), V(0, 1)));
    CHECK(same(run_red(MIN, xt, V(0, 1, 1, 1), JX_INTS(1)), JX_TYPE(JX_BOOL, 2), V(0, 1)));
    CHECK(same(run_red(MIN, JX_TYPE(JX_BOOL, 0), NULL, JX_INTS(0)), JX_SCALAR(JX_BOOL), V(1)));
}

/* ---- argmax ------------------------------------------------------------------------ */

TEST(argmax_basic_axes) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    const double *xv = V(3, -1, 4, 1, 5, -9);
    CHECK(same(run_argmax(xt, xv, 1, JX_I32), JX_TYPE(JX_I32, 2), V(2, 1)));
    CHECK(same(run_argmax(xt, xv, 0, JX_I32), JX_TYPE(JX_I32, 3), V(0, 1, 0)));
    CHECK(same(run_argmax(JX_TYPE(JX_F64, 4), V(-3, -1, -2, -7), 0, JX_U32), JX_SCALAR(JX_U32),
               V(1)));
    /* axis of size 1, and an empty kept dim */
    CHECK(same(run_argmax(JX_TYPE(JX_F32, 3, 1), V(5, 6, 7), 1, JX_I32), JX_TYPE(JX_I32, 3),
               V(0, 0, 0)));
    CHECK(same(run_argmax(JX_TYPE(JX_F32, 0, 4), NULL, 1, JX_I32), JX_TYPE(JX_I32, 0), NULL));
}

TEST(argmax_ties_first_index) {
    CHECK(same(run_argmax(JX_TYPE(JX_F32, 5), V(1, 7, 2, 7, 7), 0, JX_I32), JX_SCALAR(JX_I32),
               V(1)));
    CHECK(same(run_argmax(JX_TYPE(JX_I32, 2, 3), V(4, 4, 4, -1, 9, 9), 1, JX_I32),
               JX_TYPE(JX_I32, 2), V(0, 1)));
    CHECK(same(run_argmax(JX_TYPE(JX_F32, 3), V(-INFINITY, -INFINITY, -INFINITY), 0, JX_I32),
               JX_SCALAR(JX_I32), V(0)));
    CHECK(same(run_argmax(JX_TYPE(JX_U32, 3), V(1, UINT32_MAX, 2), 0, JX_I32),
               JX_SCALAR(JX_I32), V(1)));
    CHECK(same(run_argmax(JX_TYPE(JX_BOOL, 3), V(0, 1, 1), 0, JX_U32), JX_SCALAR(JX_U32), V(1)));
}

TEST(argmax_nan_is_max) {
    /* the first NaN wins over larger values before and after it, and over a later NaN */
    CHECK(same(run_argmax(JX_TYPE(JX_F32, 5), V(9, 1, NAN, INFINITY, NAN), 0, JX_I32),
               JX_SCALAR(JX_I32), V(2)));
    CHECK(same(run_argmax(JX_TYPE(JX_F64, 2, 2), V(NAN, 1, 0, NAN), 1, JX_I32),
               JX_TYPE(JX_I32, 2), V(0, 1)));
}

/* ---- errors ------------------------------------------------------------------------ */

TEST(err_axis_out_of_range) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_val y = jx_reduce_sum(x, JX_INTS(2));
    EXPECT_ERR(t, y, "reduce_sum", "f32[2,3]", "axis 2 out of range for rank 2");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_reduce_max(x, JX_INTS(0, -1));
    EXPECT_ERR(t, y, "reduce_max", "f32[2,3]", "axis -1 out of range for rank 2");
    t = begin1(JX_SCALAR(JX_F64), &x);
    y = jx_reduce_min(x, JX_INTS(0));
    EXPECT_ERR(t, y, "reduce_min", "f64[]", "axis 0 out of range for rank 0");
}

TEST(err_axis_repeated) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_I32, 2, 3), &x);
    jx_val y = jx_reduce_sum(x, JX_INTS(1, 1));
    EXPECT_ERR(t, y, "reduce_sum", "i32[2,3]", "axis 1 appears twice in axes (1,1)");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_reduce_min(x, JX_INTS(0, 1, 0));
    EXPECT_ERR(t, y, "reduce_min", "f32[2,3]", "axis 0 appears twice in axes (0,1,0)");
}

TEST(err_sum_bool) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_BOOL, 4), &x);
    jx_val y = jx_reduce_sum(x, JX_INTS(0));
    EXPECT_ERR(t, y, "reduce_sum", "bool[4]", "needs a numeric dtype, got bool");
}

TEST(err_argmax) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 0), &x);
    jx_val y = jx_argmax(x, 1, JX_I32);
    EXPECT_ERR(t, y, "argmax", "f32[2,0]", "axis 1 has size 0");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_argmax(x, 2, JX_I32);
    EXPECT_ERR(t, y, "argmax", "f32[2,3]", "axis 2 out of range for rank 2");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_argmax(x, 0, JX_F32);
    EXPECT_ERR(t, y, "argmax", "f32[2,3]", "index dtype must be i32 or u32, got f32");
    t = begin1(JX_SCALAR(JX_F32), &x);
    y = jx_argmax(x, 0, JX_I32);
    EXPECT_ERR(t, y, "argmax", "f32[]", "axis 0 out of range for rank 0");
}

TEST(err_argmax_raw_attrs) {
    /* through the emitter directly: two axes, and no hint */
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_ints two = JX_INTS(0, 1);
    jx_attrs at = ir_attrs(&two, NULL, NULL, NULL);
    jx_type hint = JX_SCALAR(JX_I32);
    jx_val y = trace_emit(JX_HERE, NULL, JX_OP_ARGMAX, 1, &x, &at, &hint);
    EXPECT_ERR(t, y, "argmax", "f32[2,3]", "exactly one axis, got 2");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_ints one = JX_INTS(1);
    at = ir_attrs(&one, NULL, NULL, NULL);
    y = trace_emit(JX_HERE, NULL, JX_OP_ARGMAX, 1, &x, &at, NULL);
    EXPECT_ERR(t, y, "argmax", "f32[2,3]", "needs an index dtype");
}

TEST(err_malformed_list_and_sticky) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_ints bad = {-1, {0}};
    jx_val y = jx_reduce_sum(x, bad);
    CHECK(jx_val_bad(y));
    CHECK_CONTAINS(jx_trace_error(t), "reduce_sum");
    CHECK_CONTAINS(jx_trace_error(t), "t_reduce.c");
    jx_val z = jx_argmax(jx_reduce_max(y, JX_INTS(0)), 0, JX_I32);
    CHECK(jx_val_bad(z));
    CHECK_CONTAINS(jx_trace_error(t), "reduce_sum");
    jx_fn *f = jx_trace_end(t, 1, &z);
    CHECK(f == NULL);
}

/* The family's shape rule on raw attributes, as the parser would pass them: long and
 * absurd vectors are errors, never out-of-bounds reads. */
TEST(rule_rejects_garbage_attrs) {
    static int64_t big[4096];
    for (int i = 0; i < 4096; i++) big[i] = i % 2 ? INT64_MIN : INT64_MAX;
    jx_type in = JX_TYPE(JX_F32, 2, 3), hint = JX_SCALAR(JX_I32);
    jx_op ops[] = {JX_OP_REDUCE_SUM, JX_OP_REDUCE_MAX, JX_OP_REDUCE_MIN, JX_OP_ARGMAX};
    int lens[] = {1, 2, 3, 9, 4096};
    for (size_t k = 0; k < 4; k++)
        for (size_t a = 0; a < 5; a++) {
            jx_attrs at;
            memset(&at, 0, sizeof at);
            at.n[0] = lens[a];
            at.v[0] = big;
            jx_type out;
            char err[512] = "";
            CHECK(jx_family_reduce.infer(ops[k], 1, &in, &at, &hint, &out, err, sizeof err) < 0);
            CHECK(err[0] != 0);
        }
    jx_type out;
    char err[512] = "";
    CHECK(jx_family_reduce.infer(JX_OP_ARGMAX, 1, &in, NULL, &hint, &out, err, sizeof err) < 0);
    CHECK(jx_family_reduce.infer(JX_OP_REDUCE_SUM, 2, &in, NULL, NULL, &out, err, sizeof err) < 0);
}

TEST_MAIN()
