/* Tests of the jax.numpy-like layer (src/lib/numpy.c), part 1: NumPy broadcasting of the
 * binary ops and select, creation and reshape helpers, reductions and their error
 * messages (matmul, softmax, one_hot and locations are in t_numpy_matmul_softmax.c).
 * Every case traces, runs on the reference interpreter and compares against
 * hand-computed values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "primcheck.h"
#include "core/trace.h"
#include "jx.h"

#include "np_util.h"

/* ---- broadcasting -------------------------------------------------------------------- */

TEST(add_scalar_matrix) {
    jx_array *in[2] = {arr(JX_F32, S(2, 3), D(1, 2, 3, 4, 5, 6)), arr(JX_F32, JX_NOINTS, D(10))};
    jx_trace *t = begin(2, in);
    jx_val x = jx_trace_input(t, 0), s = jx_trace_input(t, 1);
    jx_val y = jx_sub(jx_add(x, s), jx_add(s, x)); /* both orders broadcast */
    y = jx_add(y, jx_add(s, x));
    jx_fn *f = jx_trace_end(t, 1, &y);
    CHECK(f != NULL);
    if (!f) return;
    CHECK(count_op(f, JX_OP_BROADCAST_IN_DIM) == 3); /* the matrix is never broadcast */
    jx_array *out = NULL;
    CHECK(jx_interp(f, in, &out) == 0);
    CHECK(same_tol(out, JX_TYPE(JX_F32, 2, 3), D(11, 12, 13, 14, 15, 16), TOL));
    jx_fn_free(f);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
}

TEST(add_column_row) {
    jx_array *in[2] = {arr(JX_F32, S(3, 1), D(10, 20, 30)), arr(JX_F32, S(1, 4), D(1, 2, 3, 4))};
    jx_trace *t = begin(2, in);
    jx_val y = jx_add(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(same_tol(run(t, y, 2, in), JX_TYPE(JX_F32, 3, 4),
               D(11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34), TOL));
}

TEST(add_matrix_vector) {
    jx_array *in[2] = {arr(JX_F64, S(2, 3), D(1, 2, 3, 4, 5, 6)), arr(JX_F64, S(3), D(10, 20, 30))};
    jx_trace *t = begin(2, in);
    jx_val y = jx_sub(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(same_tol(run(t, y, 2, in), JX_TYPE(JX_F64, 2, 3), D(-9, -18, -27, -6, -15, -24), 0));
}

TEST(add_rank0) {
    jx_array *in[2] = {arr(JX_I32, JX_NOINTS, D(7)), arr(JX_I32, JX_NOINTS, D(-3))};
    jx_trace *t = begin(2, in);
    jx_val y = jx_add(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(t->fn->n_nodes == 3); /* no broadcast emitted */
    CHECK(same_tol(run(t, y, 2, in), JX_SCALAR(JX_I32), D(4), 0));
}

TEST(add_empty_dims) {
    jx_array *in[3] = {arr(JX_F32, S(0, 3), NULL), arr(JX_F32, S(3), D(1, 2, 3)),
                       arr(JX_F32, S(1), D(5))};
    jx_trace *t = begin(3, in);
    jx_val a = jx_trace_input(t, 0), b = jx_trace_input(t, 1), c = jx_trace_input(t, 2);
    jx_val y = jx_add(jx_add(a, b), c); /* [0,3] + [3] + [1] -> [0,3] */
    CHECK(same_tol(run(t, y, 3, in), JX_TYPE(JX_F32, 0, 3), NULL, 0));

    jx_array *in2[2] = {arr(JX_F32, S(2, 0), NULL), arr(JX_F32, S(2, 1), D(1, 2))};
    t = begin(2, in2);
    y = jx_mul(jx_trace_input(t, 1), jx_trace_input(t, 0)); /* [2,1] * [2,0] -> [2,0] */
    CHECK(same_tol(run(t, y, 2, in2), JX_TYPE(JX_F32, 2, 0), NULL, 0));
}

TEST(add_incompatible) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 4)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val y = jx_add(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(y));
    CHECK_CONTAINS(jx_error(), "add: shapes f32[3] and f32[4] cannot be broadcast together");
    /* later ops pass the poison through without replacing the first message */
    jx_val z = jx_mul(y, jx_trace_input(t, 0));
    z = jx_sum_all(jx_relu(jx_logsumexp(z, 0)));
    CHECK(jx_val_bad(z));
    CHECK_CONTAINS(jx_trace_error(t), "add: shapes");
    expect_error(t, "add", "f32[3]", "f32[4]");

    /* trailing dims are aligned: [2,3] with [2] fails */
    jx_type ts2[2] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 2)};
    t = jx_trace_begin(2, ts2);
    jx_sub(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "sub", "f32[2,3]", "f32[2]");
}

TEST(dtype_mismatch_is_the_primitive_error) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F64, 3)};
    jx_trace *t = jx_trace_begin(2, ts);
    CHECK(jx_val_bad(jx_mul(jx_trace_input(t, 0), jx_trace_input(t, 1))));
    expect_error(t, "mul", "f64", NULL);
}

TEST(select_broadcast) {
    jx_array *in[3] = {arr(JX_BOOL, S(3, 1), D(1, 0, 1)), arr(JX_F32, S(4), D(1, 2, 3, 4)),
                       arr(JX_F32, JX_NOINTS, D(-1))};
    jx_trace *t = begin(3, in);
    jx_val y = jx_select(jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2));
    CHECK(same_tol(run(t, y, 3, in), JX_TYPE(JX_F32, 3, 4),
               D(1, 2, 3, 4, -1, -1, -1, -1, 1, 2, 3, 4), 0));

    jx_array *in0[3] = {arr(JX_BOOL, JX_NOINTS, D(0)), arr(JX_F64, JX_NOINTS, D(1)),
                        arr(JX_F64, JX_NOINTS, D(2))};
    t = begin(3, in0);
    y = jx_select(jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2));
    CHECK(same_tol(run(t, y, 3, in0), JX_SCALAR(JX_F64), D(2), 0));

    jx_array *ine[3] = {arr(JX_BOOL, S(0, 1), NULL), arr(JX_F32, S(2), D(1, 2)),
                        arr(JX_F32, S(1, 2), D(3, 4))};
    t = begin(3, ine);
    y = jx_select(jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2));
    CHECK(same_tol(run(t, y, 3, ine), JX_TYPE(JX_F32, 0, 2), NULL, 0));
}

TEST(select_incompatible) {
    jx_type ts[3] = {JX_TYPE(JX_BOOL, 2), JX_TYPE(JX_F32, 3), JX_SCALAR(JX_F32)};
    jx_trace *t = jx_trace_begin(3, ts);
    jx_select(jx_trace_input(t, 0), jx_trace_input(t, 1), jx_trace_input(t, 2));
    expect_error(t, "select", "bool[2], f32[3] and f32[]", "cannot be broadcast");
}

TEST(binary_ops_map_to_primitives) {
    jx_array *in[2] = {arr(JX_F32, S(2), D(6, -3)), arr(JX_F32, JX_NOINTS, D(2))};
    jx_trace *t = begin(2, in);
    jx_val a = jx_trace_input(t, 0), b = jx_trace_input(t, 1);
    jx_val parts[] = {jx_add(a, b), jx_sub(a, b), jx_mul(a, b), jx_div(a, b), jx_pow(a, b),
                      jx_max(a, b), jx_min(a, b), jx_rem(a, b)};
    jx_val all = jx_concatenate(8, (jx_val[]){jx_expand_dims(parts[0], 0),
        jx_expand_dims(parts[1], 0), jx_expand_dims(parts[2], 0), jx_expand_dims(parts[3], 0),
        jx_expand_dims(parts[4], 0), jx_expand_dims(parts[5], 0), jx_expand_dims(parts[6], 0),
        jx_expand_dims(parts[7], 0)}, 0);
    CHECK(same_tol(run(t, all, 2, in), JX_TYPE(JX_F32, 8, 2),
               D(8, -1, 4, -5, 12, -6, 3, -1.5, 36, 9, 6, 2, 2, -3, 0, -1), TOL));

    jx_array *ic[2] = {arr(JX_I32, S(3), D(1, 2, 3)), arr(JX_I32, JX_NOINTS, D(2))};
    t = begin(2, ic);
    a = jx_trace_input(t, 0), b = jx_trace_input(t, 1);
    jx_val cmp[] = {jx_eq(a, b), jx_ne(a, b), jx_lt(a, b), jx_le(a, b), jx_gt(a, b), jx_ge(a, b)};
    jx_val cs[6];
    for (int i = 0; i < 6; i++) cs[i] = jx_expand_dims(jx_convert(cmp[i], JX_I32), 0);
    all = jx_concatenate(6, cs, 0);
    CHECK(same_tol(run(t, all, 2, ic), JX_TYPE(JX_I32, 6, 3),
               D(0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1), 0));

    jx_array *iu[2] = {arr(JX_U32, S(2), D(12, 10)), arr(JX_U32, JX_NOINTS, D(6))};
    t = begin(2, iu);
    a = jx_trace_input(t, 0), b = jx_trace_input(t, 1);
    jx_val bits[] = {jx_and(a, b), jx_or(a, b), jx_xor(a, b),
                     jx_shift_left(a, jx_lit(a, 1)), jx_shift_right(a, jx_lit(a, 2))};
    for (int i = 0; i < 5; i++) bits[i] = jx_expand_dims(bits[i], 0);
    all = jx_concatenate(5, bits, 0);
    CHECK(same_tol(run(t, all, 2, iu), JX_TYPE(JX_U32, 5, 2), D(4, 2, 14, 14, 10, 12, 24, 20, 3, 2),
               0));
}

/* ---- creation and reshapes ----------------------------------------------------------- */

TEST(lit_full_zeros_ones) {
    jx_array *in[1] = {arr(JX_F64, S(2), D(5, 6))};
    jx_trace *t = begin(1, in);
    jx_val x = jx_trace_input(t, 0);
    jx_val l = jx_lit(x, 0.25);
    CHECK(jx_val_type(l).dtype == JX_F64 && jx_val_type(l).rank == 0);
    jx_val y = jx_add(jx_add(x, l), jx_add(jx_zeros_like(x), jx_ones_like(x)));
    CHECK(same_tol(run(t, y, 1, in), JX_TYPE(JX_F64, 2), D(6.25, 7.25), 0));

    jx_array *none[1] = {arr(JX_F32, JX_NOINTS, D(0))};
    t = begin(1, none);
    jx_val full = jx_full(t, JX_TYPE(JX_I32, 2, 2), 3);
    CHECK(same_tol(run(t, full, 1, none), JX_TYPE(JX_I32, 2, 2), D(3, 3, 3, 3), 0));

    jx_array *n2[1] = {arr(JX_F32, JX_NOINTS, D(0))};
    t = begin(1, n2);
    full = jx_full(t, JX_SCALAR(JX_F32), -1.5);
    CHECK(same_tol(run(t, full, 1, n2), JX_SCALAR(JX_F32), D(-1.5), 0));

    jx_array *n3[1] = {arr(JX_BOOL, S(0, 2), NULL)};
    t = begin(1, n3);
    full = jx_ones_like(jx_trace_input(t, 0));
    CHECK(same_tol(run(t, full, 1, n3), JX_TYPE(JX_BOOL, 0, 2), NULL, 0));
}

TEST(broadcast_to) {
    jx_array *in[1] = {arr(JX_F32, S(3, 1), D(1, 2, 3))};
    jx_trace *t = begin(1, in);
    jx_val y = jx_broadcast_to(jx_trace_input(t, 0), S(2, 3, 2));
    CHECK(same_tol(run(t, y, 1, in), JX_TYPE(JX_F32, 2, 3, 2), D(1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3),
               0));

    jx_array *in0[1] = {arr(JX_F32, JX_NOINTS, D(4))};
    t = begin(1, in0);
    y = jx_broadcast_to(jx_trace_input(t, 0), S(2));
    CHECK(same_tol(run(t, y, 1, in0), JX_TYPE(JX_F32, 2), D(4, 4), 0));

    jx_type ts[1] = {JX_TYPE(JX_F32, 3)};
    t = jx_trace_begin(1, ts);
    jx_broadcast_to(jx_trace_input(t, 0), S(4));
    expect_error(t, "broadcast_to", "f32[3]", "[4]");
    t = jx_trace_begin(1, ts);
    jx_broadcast_to(jx_trace_input(t, 0), JX_NOINTS); /* cannot drop dims */
    expect_error(t, "broadcast_to", "f32[3]", NULL);
}

TEST(expand_dims_squeeze) {
    int axes[] = {0, 1, 2, -1, -3};
    jx_type want[] = {JX_TYPE(JX_F32, 1, 2, 3), JX_TYPE(JX_F32, 2, 1, 3), JX_TYPE(JX_F32, 2, 3, 1),
                      JX_TYPE(JX_F32, 2, 3, 1), JX_TYPE(JX_F32, 1, 2, 3)};
    for (int i = 0; i < 5; i++) {
        jx_array *in[1] = {arr(JX_F32, S(2, 3), D(1, 2, 3, 4, 5, 6))};
        jx_trace *t = begin(1, in);
        jx_val y = jx_expand_dims(jx_trace_input(t, 0), axes[i]);
        CHECK(same_tol(run(t, y, 1, in), want[i], D(1, 2, 3, 4, 5, 6), 0));
    }
    jx_array *in[1] = {arr(JX_F32, S(2, 1, 3), D(1, 2, 3, 4, 5, 6))};
    jx_trace *t = begin(1, in);
    jx_val y = jx_squeeze(jx_trace_input(t, 0), -2);
    CHECK(same_tol(run(t, y, 1, in), JX_TYPE(JX_F32, 2, 3), D(1, 2, 3, 4, 5, 6), 0));

    jx_array *in0[1] = {arr(JX_I32, S(1), D(9))};
    t = begin(1, in0);
    y = jx_squeeze(jx_trace_input(t, 0), 0);
    CHECK(same_tol(run(t, y, 1, in0), JX_SCALAR(JX_I32), D(9), 0));

    jx_array *in1[1] = {arr(JX_I32, JX_NOINTS, D(9))};
    t = begin(1, in1);
    y = jx_expand_dims(jx_trace_input(t, 0), -1);
    CHECK(same_tol(run(t, y, 1, in1), JX_TYPE(JX_I32, 1), D(9), 0));
}

TEST(expand_dims_squeeze_errors) {
    jx_type ts[1] = {JX_TYPE(JX_F32, 2, 1)};
    jx_trace *t = jx_trace_begin(1, ts);
    jx_expand_dims(jx_trace_input(t, 0), 3);
    expect_error(t, "expand_dims", "axis 3", "f32[2,1]");
    t = jx_trace_begin(1, ts);
    jx_expand_dims(jx_trace_input(t, 0), -4);
    expect_error(t, "expand_dims", "axis -4", NULL);
    t = jx_trace_begin(1, ts);
    jx_squeeze(jx_trace_input(t, 0), 0);
    expect_error(t, "squeeze", "size 2", "f32[2,1]");
    t = jx_trace_begin(1, ts);
    jx_squeeze(jx_trace_input(t, 0), 2);
    expect_error(t, "squeeze", "axis 2", NULL);
    jx_type full = JX_TYPE(JX_F32, 1, 1, 1, 1, 1, 1, 1, 1);
    t = jx_trace_begin(1, &full);
    jx_expand_dims(jx_trace_input(t, 0), 0);
    expect_error(t, "expand_dims", "maximum rank", NULL);
}

/* ---- reductions ---------------------------------------------------------------------- */

TEST(sum_amax_mean_axis) {
    const double *v = D(1, 5, 3, 4, 2, 6);
    struct {
        int axis, keep, kind; /* kind 0 sum, 1 amax, 2 mean */
        jx_type want;
        const double *vals;
    } cases[] = {
        {0, 0, 0, JX_TYPE(JX_F32, 3), D(5, 7, 9)},
        {1, 0, 0, JX_TYPE(JX_F32, 2), D(9, 12)},
        {-1, 1, 0, JX_TYPE(JX_F32, 2, 1), D(9, 12)},
        {-2, 1, 0, JX_TYPE(JX_F32, 1, 3), D(5, 7, 9)},
        {1, 0, 1, JX_TYPE(JX_F32, 2), D(5, 6)},
        {0, 1, 1, JX_TYPE(JX_F32, 1, 3), D(4, 5, 6)},
        {0, 0, 2, JX_TYPE(JX_F32, 3), D(2.5, 3.5, 4.5)},
        {-1, 0, 2, JX_TYPE(JX_F32, 2), D(3, 4)},
        {1, 1, 2, JX_TYPE(JX_F32, 2, 1), D(3, 4)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jx_array *in[1] = {arr(JX_F32, S(2, 3), v)};
        jx_trace *t = begin(1, in);
        jx_val x = jx_trace_input(t, 0), y;
        if (cases[i].kind == 0) y = jx_sum(x, cases[i].axis, cases[i].keep);
        else if (cases[i].kind == 1) y = jx_amax(x, cases[i].axis, cases[i].keep);
        else y = jx_mean(x, cases[i].axis, cases[i].keep);
        if (!same_tol(run(t, y, 1, in), cases[i].want, cases[i].vals, TOL))
            CHECK_FAIL_("case %zu", i);
    }
}

TEST(reduce_all_and_edges) {
    jx_array *in[1] = {arr(JX_F64, S(2, 2), D(1, 2, 3, 10))};
    jx_trace *t = begin(1, in);
    jx_val x = jx_trace_input(t, 0);
    jx_val y = jx_add(jx_mul(jx_sum_all(x), jx_lit(x, 100)), jx_mean_all(x));
    CHECK(same_tol(run(t, y, 1, in), JX_SCALAR(JX_F64), D(1604), 0));

    jx_array *in0[1] = {arr(JX_F32, JX_NOINTS, D(3))};
    t = begin(1, in0);
    x = jx_trace_input(t, 0);
    y = jx_add(jx_sum_all(x), jx_mean_all(x));
    CHECK(same_tol(run(t, y, 1, in0), JX_SCALAR(JX_F32), D(6), 0));

    jx_array *ie[1] = {arr(JX_F32, S(2, 0), NULL)};
    t = begin(1, ie);
    x = jx_trace_input(t, 0);
    y = jx_sum(x, 1, 0);
    CHECK(same_tol(run(t, y, 1, ie), JX_TYPE(JX_F32, 2), D(0, 0), 0));
    jx_array *ie2[1] = {arr(JX_F32, S(2, 0), NULL)};
    t = begin(1, ie2);
    y = jx_mean(jx_trace_input(t, 0), 1, 1); /* 0/0 like numpy */
    CHECK(same_tol(run(t, y, 1, ie2), JX_TYPE(JX_F32, 2, 1), D(NAN, NAN), 0));
}

TEST(reduction_axis_errors) {
    jx_type ts[1] = {JX_TYPE(JX_F32, 2, 3)};
    jx_trace *t = jx_trace_begin(1, ts);
    jx_sum(jx_trace_input(t, 0), 2, 0);
    expect_error(t, "sum", "axis 2 out of range", "f32[2,3]");
    t = jx_trace_begin(1, ts);
    jx_amax(jx_trace_input(t, 0), -3, 1);
    expect_error(t, "amax", "axis -3", NULL);
    t = jx_trace_begin(1, ts);
    jx_mean(jx_trace_input(t, 0), 5, 0);
    expect_error(t, "mean", "axis 5", NULL);
    jx_type s0 = JX_SCALAR(JX_F32);
    t = jx_trace_begin(1, &s0);
    jx_sum(jx_trace_input(t, 0), 0, 0);
    expect_error(t, "sum", "f32[]", NULL);
}

TEST_MAIN()
