/* Shape-rule errors of dot_general, conv_patches(_t) and threefry2x32: each
 * names the op and the offending shapes, dtypes or attributes. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "prims/threefry.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* Checks that r is poison and the trace's message names op, the operand type strings
 * ty1 and ty2, this file, and contains `what`; then ends the trace (which must fail). */
#define EXPECT_ERR(t, r, op, ty1, ty2, what)                                            \
    do {                                                                                \
        CHECK(jx_val_bad(r));                                                           \
        const char *m_ = jx_trace_error(t);                                             \
        CHECK_CONTAINS(m_, op);                                                         \
        CHECK_CONTAINS(m_, ty1);                                                        \
        CHECK_CONTAINS(m_, ty2);                                                        \
        CHECK_CONTAINS(m_, "t_dot_conv_errors.c");                                      \
        CHECK_CONTAINS(m_, what);                                                       \
        CHECK_CONTAINS(jx_error(), op);                                                 \
        CHECK(jx_trace_end(t, 1, &(r)) == NULL);                                        \
    } while (0)


/* ---- shape-rule errors -------------------------------------------------------------- */

/* Begins a trace with inputs of types a and b. */
static jx_trace *tst_begin2(jx_type a, jx_type b) {
    jx_type ts[2] = {a, b};
    return jx_trace_begin(2, ts);
}
#define IN0 jx_trace_input(t, 0)
#define IN1 jx_trace_input(t, 1)

TEST(err_dot_contract_sizes) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 4, 5));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[2,3]", "f32[4,5]", "contracting dimension sizes differ");
}

TEST(err_dot_contract_lengths) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 3, 2));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(1), JX_INTS(0, 1), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[2,3]", "f32[3,2]", "different lengths");
}

TEST(err_dot_axis_range) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 3, 2));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(2), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[2,3]", "f32[3,2]", "axis 2 out of range");
    t = tst_begin2(JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 3, 2));
    r = jx_dot_general(IN0, IN1, JX_INTS(1), JX_INTS(-1), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[2,3]", "f32[3,2]", "axis -1 out of range");
}

TEST(err_dot_duplicate_axis) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 3, 3), JX_TYPE(JX_F32, 3, 3));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(1), JX_INTS(0), JX_INTS(1), JX_INTS(1));
    EXPECT_ERR(t, r, "dot_general", "f32[3,3]", "f32[3,3]", "lhs axis 1 used twice");
    t = tst_begin2(JX_TYPE(JX_F32, 3, 3), JX_TYPE(JX_F32, 3, 3));
    r = jx_dot_general(IN0, IN1, JX_INTS(0, 1), JX_INTS(0, 0), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[3,3]", "f32[3,3]", "rhs axis 0 used twice");
}

TEST(err_dot_dtypes) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F64, 3, 2));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[2,3]", "f64[3,2]", "dtypes differ");
    t = tst_begin2(JX_TYPE(JX_BOOL, 2), JX_TYPE(JX_BOOL, 2));
    r = jx_dot_general(IN0, IN1, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "bool[2]", "bool[2]", "not numeric");
}

TEST(err_dot_batch) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 2, 3, 4), JX_TYPE(JX_F32, 5, 4, 6));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(2), JX_INTS(1), JX_INTS(0), JX_INTS(0));
    EXPECT_ERR(t, r, "dot_general", "f32[2,3,4]", "f32[5,4,6]", "batch dimension sizes differ");
    t = tst_begin2(JX_TYPE(JX_F32, 2, 3, 4), JX_TYPE(JX_F32, 2, 4, 6));
    r = jx_dot_general(IN0, IN1, JX_INTS(2), JX_INTS(1), JX_INTS(0), JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[2,3,4]", "f32[2,4,6]", "different lengths");
}

TEST(err_dot_output_rank) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 1, 1, 1, 1, 1), JX_TYPE(JX_F32, 1, 1, 1, 1, 1));
    jx_val r = jx_dot_general(IN0, IN1, JX_NOINTS, JX_NOINTS, JX_NOINTS, JX_NOINTS);
    EXPECT_ERR(t, r, "dot_general", "f32[1,1,1,1,1]", "", "output rank 10");
}

TEST(err_dot_poison_propagates) {
    /* After a failed op, later ops on its poison result keep the first message. */
    jx_trace *t = tst_begin2(JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 4, 5));
    jx_val r = jx_dot_general(IN0, IN1, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    jx_val r2 = jx_dot_general(r, IN1, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    jx_val r3 = jx_conv_patches_t(r2, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(1, 1),
                                  JX_INTS(0, 0), JX_INTS(0, 0));
    CHECK(jx_val_bad(r2) && jx_val_bad(r3));
    EXPECT_ERR(t, r3, "dot_general", "f32[2,3]", "f32[4,5]", "contracting dimension sizes");
}

TEST(err_conv_rank) {
    jx_type tx = JX_TYPE(JX_F32, 2, 3, 4);
    jx_trace *t = jx_trace_begin(1, &tx);
    jx_val r = jx_conv_patches(IN0, JX_INTS(1, 1), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[2,3,4]", "", "must have rank 4");
}

TEST(err_conv_window_too_large) {
    jx_type tx = JX_TYPE(JX_F32, 1, 2, 5, 1);
    jx_trace *t = jx_trace_begin(1, &tx);
    jx_val r = jx_conv_patches(IN0, JX_INTS(4, 3), JX_INTS(1, 1), JX_INTS(1, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[1,2,5,1]", "",
               "window height 4 is larger than the padded input height 3");
}

TEST(err_conv_bad_attrs) {
    jx_type tx = JX_TYPE(JX_F32, 1, 4, 4, 1);
    jx_trace *t = jx_trace_begin(1, &tx);
    jx_val r = jx_conv_patches(IN0, JX_INTS(2, 2), JX_INTS(0, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[1,4,4,1]", "", "strides (0,1) must be >= 1");
    t = jx_trace_begin(1, &tx);
    r = jx_conv_patches(IN0, JX_INTS(2, 0), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[1,4,4,1]", "", "window (2,0) must be >= 1");
    t = jx_trace_begin(1, &tx);
    r = jx_conv_patches(IN0, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(-1, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[1,4,4,1]", "", "pad_lo (-1,0) must be >= 0");
    t = jx_trace_begin(1, &tx);
    r = jx_conv_patches(IN0, JX_INTS(3), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[1,4,4,1]", "", "window must have 2 entries");
    t = jx_trace_begin(1, &tx);
    r = jx_conv_patches(IN0, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0),
                        JX_INTS((int64_t)1 << 50, 0));
    EXPECT_ERR(t, r, "conv_patches", "f32[1,4,4,1]", "", "pad_hi");
    /* huge windows over a padded (empty) image: KH*KW would overflow (an image of
     * 2^40 x 2^40 itself is past JX_MAX_BYTES, so the padding makes room) */
    int64_t big = (int64_t)1 << 40;
    jx_type te = JX_TYPE(JX_F32, 0, 1, 1, 1);
    t = jx_trace_begin(1, &te);
    r = jx_conv_patches(IN0, JX_INTS(big, big), JX_INTS(1, 1), JX_INTS(0, 0),
                        JX_INTS(big - 1, big - 1));
    EXPECT_ERR(t, r, "conv_patches", "f32[0,1,1,1]", "",
               "window (1099511627776,1099511627776) is too large");
    t = jx_trace_begin(1, &te);
    r = jx_conv_patches_t(IN0, JX_INTS(big, big), JX_INTS(big, big), JX_INTS(1, 1),
                          JX_INTS(0, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches_t", "f32[0,1,1,1]", "", "too large");
}

TEST(err_conv_dtype) {
    jx_type tx = JX_TYPE(JX_U32, 1, 4, 4, 1);
    jx_trace *t = jx_trace_begin(1, &tx);
    jx_val r = jx_conv_patches(IN0, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches", "u32[1,4,4,1]", "", "dtype u32 is not supported");
}

TEST(err_conv_t_features) {
    jx_type tp = JX_TYPE(JX_F32, 1, 2, 2, 5);
    jx_trace *t = jx_trace_begin(1, &tp);
    jx_val r = jx_conv_patches_t(IN0, JX_INTS(3, 3), JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0),
                                 JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches_t", "f32[1,2,2,5]", "", "not divisible by the window size 2x2");
}

TEST(err_conv_t_image_size) {
    jx_type tp = JX_TYPE(JX_F32, 1, 3, 2, 4);
    jx_trace *t = jx_trace_begin(1, &tp);
    jx_val r = jx_conv_patches_t(IN0, JX_INTS(3, 3), JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0),
                                 JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches_t", "f32[1,3,2,4]", "", "image 3x3 gives 2x2 patches");
    t = jx_trace_begin(1, &tp);
    r = jx_conv_patches_t(IN0, JX_INTS(3), JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0),
                          JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches_t", "f32[1,3,2,4]", "", "image_hw must have 2 entries");
    t = jx_trace_begin(1, &tp);
    r = jx_conv_patches_t(IN0, JX_INTS(0, 3), JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0),
                          JX_INTS(0, 0));
    EXPECT_ERR(t, r, "conv_patches_t", "f32[1,3,2,4]", "", "window height 2 is larger");
}

TEST(err_threefry_key) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_U32, 3), JX_TYPE(JX_U32, 2, 4));
    jx_val r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "u32[3]", "u32[2,4]",
               "key must be u32[2] or have x's type u32[2,4], got u32[3]");
    t = tst_begin2(JX_TYPE(JX_I32, 2), JX_TYPE(JX_U32, 2, 4));
    r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "i32[2]", "u32[2,4]",
               "key must be u32[2] or have x's type u32[2,4], got i32[2]");
    /* a per-pair key must match x exactly */
    t = tst_begin2(JX_TYPE(JX_U32, 2, 3), JX_TYPE(JX_U32, 2, 4));
    r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "u32[2,3]", "u32[2,4]",
               "key must be u32[2] or have x's type u32[2,4], got u32[2,3]");
    t = tst_begin2(JX_TYPE(JX_I32, 2, 4), JX_TYPE(JX_U32, 2, 4));
    r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "i32[2,4]", "u32[2,4]", "got i32[2,4]");
    t = tst_begin2(JX_TYPE(JX_U32, 2, 4, 1), JX_TYPE(JX_U32, 2, 4));
    r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "u32[2,4,1]", "u32[2,4]", "got u32[2,4,1]");
}

TEST(err_threefry_x) {
    jx_trace *t = tst_begin2(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 3, 2));
    jx_val r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "u32[2]", "u32[3,2]", "x must have shape [2,...]");
    t = tst_begin2(JX_TYPE(JX_U32, 2), JX_SCALAR(JX_U32));
    r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "u32[2]", "u32[]", "x must have shape [2,...]");
    t = tst_begin2(JX_TYPE(JX_U32, 2), JX_TYPE(JX_F32, 2, 3));
    r = jx_threefry2x32(IN0, IN1);
    EXPECT_ERR(t, r, "threefry2x32", "u32[2]", "f32[2,3]", "x must have dtype u32");
}

TEST_MAIN()
