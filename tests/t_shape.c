/* Shape primitives (broadcast_in_dim, reshape, transpose, slice, pad, concatenate, rev):
 * reference results against hand-computed values, and shape-rule errors. */
#include "check.h"
#include "primcheck.h"
#include "core/ir.h"
#include "core/trace.h"

#define V(...) ((const double[]){__VA_ARGS__})

/* ---- broadcast_in_dim -------------------------------------------------------------- */

TEST(broadcast_scalar) {
    jx_type xt = JX_SCALAR(JX_F32);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_broadcast_in_dim(jx_trace_input(t, 0), JX_INTS(2, 3), JX_NOINTS);
    CHECK(same(eval1(t, y, xt, V(7.5)), JX_TYPE(JX_F32, 2, 3), V(7.5, 7.5, 7.5, 7.5, 7.5, 7.5)));
}

TEST(broadcast_vector_rows_and_columns) {
    jx_type xt = JX_TYPE(JX_F32, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_broadcast_in_dim(jx_trace_input(t, 0), JX_INTS(2, 3), JX_INTS(1));
    CHECK(same(eval1(t, y, xt, V(1, 2, 3)), JX_TYPE(JX_F32, 2, 3), V(1, 2, 3, 1, 2, 3)));
    xt = JX_TYPE(JX_F32, 2);
    t = jx_trace_begin(1, &xt);
    y = jx_broadcast_in_dim(jx_trace_input(t, 0), JX_INTS(2, 3), JX_INTS(0));
    CHECK(same(eval1(t, y, xt, V(1, 2)), JX_TYPE(JX_F32, 2, 3), V(1, 1, 1, 2, 2, 2)));
}

TEST(broadcast_size1_dims_i32) {
    /* i32[1,3] -> i32[2,2,3] with dims (0,2): out[i,j,k] = x[0,k] */
    jx_type xt = JX_TYPE(JX_I32, 1, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_broadcast_in_dim(jx_trace_input(t, 0), JX_INTS(2, 2, 3), JX_INTS(0, 2));
    CHECK(same(eval1(t, y, xt, V(-1, 5, 9)), JX_TYPE(JX_I32, 2, 2, 3),
               V(-1, 5, 9, -1, 5, 9, -1, 5, 9, -1, 5, 9)));
    /* f64[2,1] -> f64[2,3] with dims (0,1): the size-1 dim broadcasts in place */
    xt = JX_TYPE(JX_F64, 2, 1);
    t = jx_trace_begin(1, &xt);
    y = jx_broadcast_in_dim(jx_trace_input(t, 0), JX_INTS(2, 3), JX_INTS(0, 1));
    CHECK(same(eval1(t, y, xt, V(0.25, -3)), JX_TYPE(JX_F64, 2, 3),
               V(0.25, 0.25, 0.25, -3, -3, -3)));
}

TEST(broadcast_to_empty) {
    jx_type xt = JX_TYPE(JX_F32, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_broadcast_in_dim(jx_trace_input(t, 0), JX_INTS(0, 3), JX_INTS(1));
    CHECK(same(eval1(t, y, xt, V(1, 2, 3)), JX_TYPE(JX_F32, 0, 3), NULL));
}

/* ---- reshape / transpose ----------------------------------------------------------- */

TEST(reshape_row_major) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_reshape(jx_trace_input(t, 0), JX_INTS(3, 1, 2));
    CHECK(same(eval1(t, y, xt, V(1, 2, 3, 4, 5, 6)), JX_TYPE(JX_F32, 3, 1, 2),
               V(1, 2, 3, 4, 5, 6)));
}

TEST(reshape_to_and_from_rank0) {
    jx_type xt = JX_TYPE(JX_F64, 1, 1);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_reshape(jx_trace_input(t, 0), JX_NOINTS);
    CHECK(same(eval1(t, y, xt, V(-2.5)), JX_SCALAR(JX_F64), V(-2.5)));
    xt = JX_SCALAR(JX_I32);
    t = jx_trace_begin(1, &xt);
    y = jx_reshape(jx_trace_input(t, 0), JX_INTS(1, 1, 1));
    CHECK(same(eval1(t, y, xt, V(42)), JX_TYPE(JX_I32, 1, 1, 1), V(42)));
}

TEST(reshape_empty) {
    jx_type xt = JX_TYPE(JX_F32, 0, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_reshape(jx_trace_input(t, 0), JX_INTS(3, 0, 2));
    CHECK(same(eval1(t, y, xt, NULL), JX_TYPE(JX_F32, 3, 0, 2), NULL));
}

TEST(transpose_2d_and_3d) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_transpose(jx_trace_input(t, 0), JX_INTS(1, 0));
    CHECK(same(eval1(t, y, xt, V(1, 2, 3, 4, 5, 6)), JX_TYPE(JX_F32, 3, 2),
               V(1, 4, 2, 5, 3, 6)));
    /* f64[2,3,2] x[i,j,k] = 100i + 10j + k; perm (2,0,1): out[k,i,j] = x[i,j,k] */
    xt = JX_TYPE(JX_F64, 2, 3, 2);
    t = jx_trace_begin(1, &xt);
    y = jx_transpose(jx_trace_input(t, 0), JX_INTS(2, 0, 1));
    CHECK(same(eval1(t, y, xt, V(0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121)),
               JX_TYPE(JX_F64, 2, 2, 3),
               V(0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121)));
}

TEST(transpose_rank0_and_bool) {
    jx_type xt = JX_SCALAR(JX_F32);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_transpose(jx_trace_input(t, 0), JX_NOINTS);
    CHECK(same(eval1(t, y, xt, V(3)), JX_SCALAR(JX_F32), V(3)));
    xt = JX_TYPE(JX_BOOL, 2, 2);
    t = jx_trace_begin(1, &xt);
    y = jx_transpose(jx_trace_input(t, 0), JX_INTS(1, 0));
    CHECK(same(eval1(t, y, xt, V(1, 1, 0, 1)), JX_TYPE(JX_BOOL, 2, 2), V(1, 0, 1, 1)));
}

/* ---- slice ------------------------------------------------------------------------- */

TEST(slice_with_strides) {
    /* x[4,5] = 0..19; rows 1:4:2 = {1,3}, cols 0:5:2 = {0,2,4} */
    double xv[20];
    for (int i = 0; i < 20; i++) xv[i] = i;
    jx_type xt = JX_TYPE(JX_F32, 4, 5);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_slice(jx_trace_input(t, 0), JX_INTS(1, 0), JX_INTS(4, 5), JX_INTS(2, 2));
    CHECK(same(eval1(t, y, xt, xv), JX_TYPE(JX_F32, 2, 3), V(5, 7, 9, 15, 17, 19)));
    /* cols 1:5:3 = {1,4}: ceil(4/3) = 2 */
    t = jx_trace_begin(1, &xt);
    y = jx_slice(jx_trace_input(t, 0), JX_INTS(2, 1), JX_INTS(3, 5), JX_INTS(1, 3));
    CHECK(same(eval1(t, y, xt, xv), JX_TYPE(JX_F32, 1, 2), V(11, 14)));
}

TEST(slice_default_strides_are_stored) {
    jx_type xt = JX_TYPE(JX_I32, 5);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_slice(jx_trace_input(t, 0), JX_INTS(1), JX_INTS(4), JX_NOINTS);
    CHECK(!jx_val_bad(y));
    if (!jx_val_bad(y)) {
        jx_ints s = ir_attr_ints(&t->fn->nodes[y.id], 2);
        CHECK(s.n == 1 && s.v[0] == 1);
    }
    CHECK(same(eval1(t, y, xt, V(10, 11, 12, 13, 14)), JX_TYPE(JX_I32, 3), V(11, 12, 13)));
}

TEST(slice_empty_and_rank0) {
    jx_type xt = JX_TYPE(JX_F32, 3, 2);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_slice(jx_trace_input(t, 0), JX_INTS(2, 0), JX_INTS(2, 2), JX_INTS(3, 1));
    CHECK(same(eval1(t, y, xt, V(1, 2, 3, 4, 5, 6)), JX_TYPE(JX_F32, 0, 2), NULL));
    xt = JX_SCALAR(JX_F64);
    t = jx_trace_begin(1, &xt);
    y = jx_slice(jx_trace_input(t, 0), JX_NOINTS, JX_NOINTS, JX_NOINTS);
    CHECK(same(eval1(t, y, xt, V(9)), JX_SCALAR(JX_F64), V(9)));
}

/* ---- pad --------------------------------------------------------------------------- */

/* Traces pad(x, p) with x:xt, p:scalar of xt's dtype, and runs it. */
static jx_array *run_pad(jx_type xt, const double *xv, double pv, jx_ints lo, jx_ints hi,
                         jx_ints in) {
    jx_type ts[2] = {xt, JX_SCALAR(xt.dtype)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), lo, hi, in);
    const double *vals[2] = {xv, &pv};
    return evaln(t, y, 2, ts, vals);
}

TEST(pad_edges_and_interior) {
    CHECK(same(run_pad(JX_TYPE(JX_F32, 3), V(1, 2, 3), 0, JX_INTS(1), JX_INTS(2), JX_INTS(1)),
               JX_TYPE(JX_F32, 8), V(0, 1, 0, 2, 0, 3, 0, 0)));
    /* 2-D: rows lo 1 hi 0 interior 0; cols lo 0 hi 1 interior 1 */
    CHECK(same(run_pad(JX_TYPE(JX_F32, 2, 2), V(1, 2, 3, 4), -1, JX_INTS(1, 0), JX_INTS(0, 1),
                       JX_INTS(0, 1)),
               JX_TYPE(JX_F32, 3, 4), V(-1, -1, -1, -1, 1, -1, 2, -1, 3, -1, 4, -1)));
}

TEST(pad_negative_crops) {
    CHECK(same(run_pad(JX_TYPE(JX_F32, 5), V(1, 2, 3, 4, 5), 0, JX_INTS(-1), JX_INTS(-2),
                       JX_INTS(0)),
               JX_TYPE(JX_F32, 2), V(2, 3)));
    /* [1,p,2,p,3] minus 2 in front, plus 1 at the back: [2,p,3,p] */
    CHECK(same(run_pad(JX_TYPE(JX_F64, 3), V(1, 2, 3), 9, JX_INTS(-2), JX_INTS(1), JX_INTS(1)),
               JX_TYPE(JX_F64, 4), V(2, 9, 3, 9)));
    /* crop everything: 3 - 2 - 1 = 0 */
    CHECK(same(run_pad(JX_TYPE(JX_F32, 3), V(1, 2, 3), 0, JX_INTS(-2), JX_INTS(-1), JX_INTS(0)),
               JX_TYPE(JX_F32, 0), NULL));
}

TEST(pad_empty_rank0_and_i32) {
    /* size 0 operand: interior adds nothing, result is all padding */
    CHECK(same(run_pad(JX_TYPE(JX_F32, 0), NULL, 4, JX_INTS(2), JX_INTS(1), JX_INTS(3)),
               JX_TYPE(JX_F32, 3), V(4, 4, 4)));
    CHECK(same(run_pad(JX_SCALAR(JX_F32), V(6), 0, JX_NOINTS, JX_NOINTS, JX_NOINTS),
               JX_SCALAR(JX_F32), V(6)));
    CHECK(same(run_pad(JX_TYPE(JX_I32, 2), V(5, 6), -7, JX_INTS(0), JX_INTS(1), JX_INTS(2)),
               JX_TYPE(JX_I32, 5), V(5, -7, -7, 6, -7)));
}

/* ---- concatenate / rev ------------------------------------------------------------- */

TEST(concatenate_three_with_empty) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 2, 2), JX_TYPE(JX_F32, 0, 2), JX_TYPE(JX_F32, 1, 2)};
    jx_trace *t = jx_trace_begin(3, ts);
    jx_val xs[3] = {jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2)};
    jx_val y = jx_concatenate(3, xs, 0);
    const double *vals[3] = {V(1, 2, 3, 4), NULL, V(5, 6)};
    CHECK(same(evaln(t, y, 3, ts, vals), JX_TYPE(JX_F32, 3, 2), V(1, 2, 3, 4, 5, 6)));
}

TEST(concatenate_inner_dim_f64) {
    jx_type ts[3] = {JX_TYPE(JX_F64, 2, 1), JX_TYPE(JX_F64, 2, 0), JX_TYPE(JX_F64, 2, 3)};
    jx_trace *t = jx_trace_begin(3, ts);
    jx_val xs[3] = {jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2)};
    jx_val y = jx_concatenate(3, xs, 1);
    const double *vals[3] = {V(1, 2), NULL, V(10, 11, 12, 20, 21, 22)};
    CHECK(same(evaln(t, y, 3, ts, vals), JX_TYPE(JX_F64, 2, 4),
               V(1, 10, 11, 12, 2, 20, 21, 22)));
}

TEST(concatenate_single_operand) {
    jx_type xt = JX_TYPE(JX_I32, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val x = jx_trace_input(t, 0);
    jx_val y = jx_concatenate(1, &x, 0);
    CHECK(same(eval1(t, y, xt, V(1, 2, 3)), JX_TYPE(JX_I32, 3), V(1, 2, 3)));
}

TEST(rev_two_axes) {
    jx_type xt = JX_TYPE(JX_F32, 2, 3);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_rev(jx_trace_input(t, 0), JX_INTS(1, 0));
    CHECK(same(eval1(t, y, xt, V(1, 2, 3, 4, 5, 6)), JX_TYPE(JX_F32, 2, 3),
               V(6, 5, 4, 3, 2, 1)));
    /* one axis of three, u32 */
    xt = JX_TYPE(JX_U32, 2, 2, 2);
    t = jx_trace_begin(1, &xt);
    y = jx_rev(jx_trace_input(t, 0), JX_INTS(1));
    CHECK(same(eval1(t, y, xt, V(0, 1, 2, 3, 4, 5, 6, 7)), JX_TYPE(JX_U32, 2, 2, 2),
               V(2, 3, 0, 1, 6, 7, 4, 5)));
    /* no axes, and an empty dim */
    xt = JX_TYPE(JX_F32, 2);
    t = jx_trace_begin(1, &xt);
    y = jx_rev(jx_trace_input(t, 0), JX_NOINTS);
    CHECK(same(eval1(t, y, xt, V(1, 2)), JX_TYPE(JX_F32, 2), V(1, 2)));
    xt = JX_TYPE(JX_F32, 0, 2);
    t = jx_trace_begin(1, &xt);
    y = jx_rev(jx_trace_input(t, 0), JX_INTS(0, 1));
    CHECK(same(eval1(t, y, xt, NULL), JX_TYPE(JX_F32, 0, 2), NULL));
}

TEST(ops_compose_nan_passes_through) {
    /* transpose(reshape(x)) then slice: NaN and inf are only moved */
    jx_type xt = JX_TYPE(JX_F32, 4);
    jx_trace *t = jx_trace_begin(1, &xt);
    jx_val y = jx_reshape(jx_trace_input(t, 0), JX_INTS(2, 2));
    y = jx_transpose(y, JX_INTS(1, 0));
    y = jx_slice(y, JX_INTS(0, 0), JX_INTS(2, 1), JX_NOINTS);
    CHECK(same(eval1(t, y, xt, V(NAN, 1, INFINITY, 2)), JX_TYPE(JX_F32, 2, 1),
               V(NAN, 1)));
}

/* ---- errors ------------------------------------------------------------------------ */

TEST(err_broadcast_dims_not_increasing) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 2), &x);
    jx_val y = jx_broadcast_in_dim(x, JX_INTS(2, 2), JX_INTS(0, 0));
    EXPECT_ERR(t, y, "broadcast_in_dim", "f32[2,2]",
               "broadcast_dimensions (0,0) must be strictly increasing");
}

TEST(err_broadcast_size_mismatch) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 3), &x);
    jx_val y = jx_broadcast_in_dim(x, JX_INTS(2, 4), JX_INTS(1));
    EXPECT_ERR(t, y, "broadcast_in_dim", "f32[3]", "operand dimension 0 has size 3");
}

TEST(err_broadcast_dims_count_and_range) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_val y = jx_broadcast_in_dim(x, JX_INTS(2, 3), JX_INTS(0));
    EXPECT_ERR(t, y, "broadcast_in_dim", "f32[2,3]", "has 1 entries, expected 2");
    t = begin1(JX_TYPE(JX_I32, 3), &x);
    y = jx_broadcast_in_dim(x, JX_INTS(3), JX_INTS(1));
    EXPECT_ERR(t, y, "broadcast_in_dim", "i32[3]", "1 out of range for output rank 1");
    t = begin1(JX_TYPE(JX_F32, 3), &x);
    y = jx_broadcast_in_dim(x, JX_INTS(-1, 3), JX_INTS(1));
    EXPECT_ERR(t, y, "broadcast_in_dim", "f32[3]", "shape (-1,3) has a negative dimension");
}

TEST(err_reshape_count) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_val y = jx_reshape(x, JX_INTS(4, 2));
    EXPECT_ERR(t, y, "reshape", "f32[2,3]", "cannot reshape 6 elements into (4,2)");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_reshape(x, JX_INTS(-2, -3));
    EXPECT_ERR(t, y, "reshape", "f32[2,3]", "negative dimension");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_reshape(x, JX_INTS((int64_t)1 << 40, (int64_t)1 << 40));
    EXPECT_ERR(t, y, "reshape", "f32[2,3]", "too many elements");
}

TEST(err_transpose_not_permutation) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_val y = jx_transpose(x, JX_INTS(0, 0));
    EXPECT_ERR(t, y, "transpose", "f32[2,3]", "permutation (0,0) is not a permutation of 0..1");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_transpose(x, JX_INTS(1, 0, 2));
    EXPECT_ERR(t, y, "transpose", "f32[2,3]", "has 3 entries, expected 2");
}

TEST(err_slice_bounds) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_val y = jx_slice(x, JX_INTS(0, 2), JX_INTS(2, 1), JX_NOINTS);
    EXPECT_ERR(t, y, "slice", "f32[2,3]", "dimension 1: start 2 is past limit 1");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_slice(x, JX_INTS(0, 0), JX_INTS(2, 4), JX_NOINTS);
    EXPECT_ERR(t, y, "slice", "f32[2,3]", "dimension 1: limit 4 is past the size 3");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_slice(x, JX_INTS(-1, 0), JX_INTS(2, 3), JX_NOINTS);
    EXPECT_ERR(t, y, "slice", "f32[2,3]", "dimension 0: start -1 is negative");
}

TEST(err_slice_strides_and_lengths) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_val y = jx_slice(x, JX_INTS(0, 0), JX_INTS(2, 3), JX_INTS(1, 0));
    EXPECT_ERR(t, y, "slice", "f32[2,3]", "dimension 1: stride 0 must be >= 1");
    t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    y = jx_slice(x, JX_INTS(0), JX_INTS(2, 3), JX_NOINTS);
    EXPECT_ERR(t, y, "slice", "f32[2,3]", "start_indices (0) has 1 entries, expected 2");
}

TEST(err_pad) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 3), JX_SCALAR(JX_F32)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(-3), JX_INTS(-1),
                      JX_INTS(0));
    EXPECT_ERR(t, y, "pad", "f32[3]", "dimension 0: padded size -1 is negative");
    t = jx_trace_begin(2, ts);
    y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(0), JX_INTS(0), JX_INTS(-1));
    EXPECT_ERR(t, y, "pad", "f32[3]", "interior padding -1 is negative");
    t = jx_trace_begin(2, ts);
    y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(INT64_MAX), JX_INTS(0),
               JX_INTS(0));
    EXPECT_ERR(t, y, "pad", "f32[3]", "overflows");
    t = jx_trace_begin(2, ts);
    y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(0, 0), JX_INTS(0),
               JX_INTS(0));
    EXPECT_ERR(t, y, "pad", "f32[3]", "low (0,0) has 2 entries, expected 1");
}

TEST(err_pad_value) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 1)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(0), JX_INTS(0),
                      JX_INTS(0));
    EXPECT_ERR(t, y, "pad", "f32[3]", "padding value must be a scalar, got f32[1]");
    jx_type ts2[2] = {JX_TYPE(JX_F32, 3), JX_SCALAR(JX_I32)};
    t = jx_trace_begin(2, ts2);
    y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(0), JX_INTS(0), JX_INTS(0));
    EXPECT_ERR(t, y, "pad", "i32[]", "padding value dtype i32 differs from operand dtype f32");
}

TEST(err_concatenate) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 2, 4), JX_TYPE(JX_I32, 2, 3)};
    jx_trace *t = jx_trace_begin(3, ts);
    jx_val xs[3] = {jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2)};
    jx_val y = jx_concatenate(2, xs, 0);
    EXPECT_ERR(t, y, "concatenate", "f32[2,4]",
               "operand 1 has size 4 in dimension 1, operand 0 has 3");
    t = jx_trace_begin(3, ts);
    for (int i = 0; i < 3; i++) xs[i] = jx_trace_input(t, i);
    jx_val ys[2] = {xs[0], xs[2]};
    y = jx_concatenate(2, ys, 1);
    EXPECT_ERR(t, y, "concatenate", "i32[2,3]", "operand 1 has dtype i32, operand 0 has f32");
    t = jx_trace_begin(3, ts);
    for (int i = 0; i < 3; i++) xs[i] = jx_trace_input(t, i);
    y = jx_concatenate(2, xs, 2);
    EXPECT_ERR(t, y, "concatenate", "f32[2,3]", "axis 2 out of range for rank 2");
}

TEST(err_concatenate_rank) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 2), JX_TYPE(JX_F32, 2, 1)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val xs[2] = {jx_trace_input(t, 0), jx_trace_input(t, 1)};
    jx_val y = jx_concatenate(2, xs, 0);
    EXPECT_ERR(t, y, "concatenate", "f32[2,1]", "operand 1 has rank 2, operand 0 has rank 1");
    jx_type s = JX_SCALAR(JX_F32);
    t = jx_trace_begin(1, &s);
    xs[0] = jx_trace_input(t, 0);
    y = jx_concatenate(1, xs, 0);
    EXPECT_ERR(t, y, "concatenate", "f32[]", "axis 0 out of range for rank 0");
    y = jx_concatenate(0, NULL, 0);
    CHECK(jx_val_bad(y));
    CHECK_CONTAINS(jx_error(), "concatenate");
    CHECK_CONTAINS(jx_error(), "t_shape.c");
}

TEST(err_rev_axes) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F64, 2, 3), &x);
    jx_val y = jx_rev(x, JX_INTS(1, 1));
    EXPECT_ERR(t, y, "rev", "f64[2,3]", "axis 1 appears twice");
    t = begin1(JX_TYPE(JX_F64, 2, 3), &x);
    y = jx_rev(x, JX_INTS(2));
    EXPECT_ERR(t, y, "rev", "f64[2,3]", "axis 2 out of range for rank 2");
}

TEST(err_malformed_list_and_sticky) {
    jx_val x;
    jx_trace *t = begin1(JX_TYPE(JX_F32, 2, 3), &x);
    jx_ints bad = {9, {0}};
    jx_val y = jx_transpose(x, bad);
    CHECK(jx_val_bad(y));
    CHECK_CONTAINS(jx_trace_error(t), "transpose");
    CHECK_CONTAINS(jx_trace_error(t), "t_shape.c");
    /* later ops on poison stay poison and keep the first message */
    jx_val z = jx_reshape(y, JX_INTS(6));
    z = jx_rev(z, bad);
    CHECK(jx_val_bad(z));
    CHECK_CONTAINS(jx_trace_error(t), "transpose");
    jx_fn *f = jx_trace_end(t, 1, &z);
    CHECK(f == NULL);
}

/* The family's shape rule on raw attributes, as the parser would pass them: long, short
 * and absurd vectors are errors, never out-of-bounds reads. */
TEST(rule_rejects_garbage_attrs) {
    static int64_t big[4096];
    for (int i = 0; i < 4096; i++) big[i] = i % 3 ? INT64_MIN : INT64_MAX;
    jx_type in[2] = {JX_TYPE(JX_F32, 2, 3), JX_SCALAR(JX_F32)};
    jx_op ops[] = {JX_OP_BROADCAST_IN_DIM, JX_OP_RESHAPE, JX_OP_TRANSPOSE, JX_OP_SLICE,
                   JX_OP_PAD, JX_OP_CONCATENATE, JX_OP_REV};
    int lens[] = {0, 1, 2, 3, 9, 4096};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++) {
            jx_attrs at;
            memset(&at, 0, sizeof at);
            for (int s = 0; s < 4; s++) {
                at.n[s] = lens[(a + (size_t)s) % 6];
                at.v[s] = at.n[s] ? big : NULL;
            }
            jx_type out;
            char err[512] = "";
            int nin = ops[k] == JX_OP_PAD ? 2 : 1;
            int rc = jx_family_shape.infer(ops[k], nin, in, &at, NULL, &out, err, sizeof err);
            if (ops[k] == JX_OP_REV && at.n[0] == 0) continue; /* rev of no axes is fine */
            CHECK(rc == -1);
            CHECK(err[0] != 0);
        }
    /* and an operand count the op does not take */
    jx_type out;
    char err[512] = "";
    CHECK(jx_family_shape.infer(JX_OP_RESHAPE, 2, in, NULL, NULL, &out, err, sizeof err) < 0);
}

TEST_MAIN()
