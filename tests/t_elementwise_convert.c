/* Elementwise conversions (convert saturation, bitcast bits), the creation
 * primitives (iota along each dim, constants and their errors), and rank-0 and empty
 * operands. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "core/trace.h"

#include "elt_util.h"


/* ---- conversions ---------------------------------------------------------------------- */

TEST(convert_float_to_int_saturates_and_nan_is_zero) {
    for (int k = 0; k < 2; k++) {
        jx_dtype dt = floats[k];
        CONV(CONVERT, dt, JX_I32, (1.9, -1.9, 3e9, -3e9, NaN, Inf, -Inf, 0.5, -0.0),
             (1, -1, I32MAX, I32MIN, 0, I32MAX, I32MIN, 0, 0));
        CONV(CONVERT, dt, JX_U32, (1.9, -1.9, 5e9, NaN, Inf, -Inf, 3e9),
             (1, 0, U32MAX, 0, U32MAX, 0, 3e9));
        CONV(CONVERT, dt, JX_BOOL, (0, -0.0, 2, -0.5, NaN, Inf), (0, 0, 1, 1, 1, 1));
    }
    CONV(CONVERT, JX_F64, JX_I32, (2147483647.9, -2147483648.9, 4294967295.5),
         (I32MAX, I32MIN, I32MAX));
    CONV(CONVERT, JX_F64, JX_U32, (4294967295.9, 4294967296.0), (U32MAX, U32MAX));
}

TEST(convert_between_other_dtypes) {
    CONV(CONVERT, JX_I32, JX_F32, (16777217, -5, I32MIN), (16777216, -5, I32MIN));
    CONV(CONVERT, JX_I32, JX_F64, (16777217, -5, I32MAX), (16777217, -5, I32MAX));
    CONV(CONVERT, JX_U32, JX_F64, (U32MAX, 0), (U32MAX, 0));
    CONV(CONVERT, JX_U32, JX_F32, (U32MAX, 3), (4294967296.0, 3));
    /* integer <-> integer keeps the 32 bits */
    CONV(CONVERT, JX_I32, JX_U32, (-1, 5, I32MIN), (U32MAX, 5, 2147483648.0));
    CONV(CONVERT, JX_U32, JX_I32, (U32MAX, 2147483648.0, 5), (-1, I32MIN, 5));
    CONV(CONVERT, JX_I32, JX_BOOL, (0, -3, 1), (0, 1, 1));
    CONV(CONVERT, JX_U32, JX_BOOL, (0, U32MAX), (0, 1));
    CONV(CONVERT, JX_BOOL, JX_F64, (0, 1), (0, 1));
    CONV(CONVERT, JX_BOOL, JX_F32, (0, 1), (0, 1));
    CONV(CONVERT, JX_BOOL, JX_I32, (0, 1), (0, 1));
    CONV(CONVERT, JX_BOOL, JX_U32, (1, 0), (1, 0));
    CONV(CONVERT, JX_BOOL, JX_BOOL, (1, 0), (1, 0));
    CONV(CONVERT, JX_F64, JX_F32, (0.1, 1e300, -1e300, 1e-50, NaN),
         ((double)0.1f, Inf, -Inf, 0, NaN));
    CONV(CONVERT, JX_F32, JX_F64, (0.1, Inf, NaN), ((double)0.1f, Inf, NaN));
    CONV(CONVERT, JX_F32, JX_F32, (0.1, -Inf), ((double)0.1f, -Inf));
}

TEST(bitcast_one_is_0x3f800000) {
    CONV(BITCAST, JX_F32, JX_U32, (1.0, -0.0, -2.0, Inf), (0x3f800000, 0x80000000, 0xc0000000,
                                                           0x7f800000));
    CONV(BITCAST, JX_F32, JX_I32, (1.0, -2.0), (0x3f800000, -1073741824));
    CONV(BITCAST, JX_U32, JX_F32, (0x3f800000, 0x40490fdb, 0x7fc00000),
         (1, 3.1415927410125732, NaN));
    CONV(BITCAST, JX_I32, JX_U32, (-1, I32MIN), (U32MAX, 2147483648.0));
    CONV(BITCAST, JX_U32, JX_I32, (U32MAX, 7), (-1, 7));
    CONV(BITCAST, JX_I32, JX_F32, (0x3f800000, 0), (1, 0));
    CONV(BITCAST, JX_F64, JX_F64, (1.5, NaN), (1.5, NaN));
    CONV(BITCAST, JX_BOOL, JX_BOOL, (1, 0), (1, 0));
    /* round trip f32 -> u32 -> f32 keeps every bit (NaN payload included) */
    uint32_t bits[3] = {0x7fc00123u, 0x00000001u, 0xff800000u};
    int64_t n = 3;
    jx_array *x = jx_array_from(JX_U32, 1, &n, bits);
    jx_array *f = run(__LINE__, JX_OP_BITCAST, JX_F32, &x);
    jx_array *u = f ? run(__LINE__, JX_OP_BITCAST, JX_U32, &f) : NULL;
    if (u) CHECK(memcmp(jx_array_cdata(u), bits, sizeof bits) == 0);
    if (f) CHECK(isnan(jx_array_get(f, 0)) && jx_array_get(f, 1) == FLT_TRUE_MIN);
    jx_array_free(u);
    jx_array_free(f);
    jx_array_free(x);
}

/* ---- creation ------------------------------------------------------------------------- */

/* Traces a function with no inputs whose output is iota(type, dim), runs it, checks it. */
static void check_iota(int line, jx_type type, int dim, const double *want) {
    jx_trace *t = jx_trace_begin(0, NULL);
    jx_val y = jx_iota(t, type, dim);
    jx_fn *f = jx_trace_end(t, 1, &y);
    if (!f) {
        CHECK_FAIL_("line %d: iota failed: %s", line, jx_error());
        return;
    }
    jx_type o = jx_fn_out_type(f, 0);
    CHECK(jx_type_eq(&o, &type));
    CHECK(jx_fn_verify(f) == 0);
    jx_array *out = NULL;
    if (jx_interp(f, NULL, &out) != 0) CHECK_FAIL_("line %d: interp: %s", line, jx_error());
    expect(line, "iota", out, type.dtype, (int)jx_type_size(&type), want, 0);
    if (out) CHECK(jx_array_rank(out) == type.rank);
    jx_array_free(out);
    jx_fn_free(f);
}

TEST(iota_along_each_dimension) {
    const jx_dtype dts[4] = {JX_F32, JX_F64, JX_I32, JX_U32};
    for (int k = 0; k < 4; k++) {
        check_iota(__LINE__, JX_TYPE(dts[k], 2, 3), 0, D(0, 0, 0, 1, 1, 1));
        check_iota(__LINE__, JX_TYPE(dts[k], 2, 3), 1, D(0, 1, 2, 0, 1, 2));
    }
    check_iota(__LINE__, JX_TYPE(JX_I32, 5), 0, D(0, 1, 2, 3, 4));
    check_iota(__LINE__, JX_TYPE(JX_I32, 2, 1, 2), 2, D(0, 1, 0, 1));
    check_iota(__LINE__, JX_TYPE(JX_F32, 2, 0), 0, NULL);
    check_iota(__LINE__, JX_TYPE(JX_F32, 0), 0, NULL);
}

/* Traces a leaf made by mk on an empty trace and returns the trace's error (copied into
 * buf; "" if none), aborting the trace. */
static const char *leaf_error(jx_val (*mk)(jx_trace *t), char *buf, size_t len) {
    jx_trace *t = jx_trace_begin(0, NULL);
    jx_val y = mk(t);
    const char *e = jx_trace_error(t);
    snprintf(buf, len, "%s", e ? e : "");
    CHECK(!e || jx_val_bad(y));
    jx_trace_abort(t);
    return buf;
}

static jx_val iota_bad_dim(jx_trace *t) { return jx_iota(t, JX_TYPE(JX_F32, 2, 3), 2); }
static jx_val iota_neg_dim(jx_trace *t) { return jx_iota(t, JX_TYPE(JX_I32, 4), -1); }
static jx_val iota_bool(jx_trace *t) { return jx_iota(t, JX_TYPE(JX_BOOL, 4), 0); }
static jx_val iota_rank0(jx_trace *t) { return jx_iota(t, JX_SCALAR(JX_I32), 0); }
static jx_val const_null(jx_trace *t) { return jx_constant(t, NULL); }

TEST(iota_and_constant_errors) {
    char b[1024];
    leaf_error(iota_bad_dim, b, sizeof b);
    CHECK_CONTAINS(b, "iota");
    CHECK_CONTAINS(b, "dimension 2 out of range for rank 2");
    CHECK_CONTAINS(b, "t_elementwise_convert.c");
    CHECK_CONTAINS(leaf_error(iota_neg_dim, b, sizeof b), "dimension -1 out of range");
    CHECK_CONTAINS(leaf_error(iota_bool, b, sizeof b), "bool");
    CHECK_CONTAINS(leaf_error(iota_rank0, b, sizeof b), "out of range for rank 0");
    CHECK_CONTAINS(leaf_error(const_null, b, sizeof b), "constant");
    CHECK_CONTAINS(b, "t_elementwise_convert.c");
    /* the rule itself: a declared type that differs from the value's */
    jx_array *v = jx_array_new(JX_F32, 1, (int64_t[]){3});
    jx_attrs at = ir_attrs(NULL, NULL, NULL, NULL);
    at.value = v;
    jx_type hint = JX_TYPE(JX_F32, 4), out;
    char err[256] = "";
    CHECK(jx_family_create.infer(JX_OP_CONSTANT, 0, NULL, &at, &hint, &out, err, sizeof err) < 0);
    CHECK_CONTAINS(err, "f32[3]");
    CHECK_CONTAINS(err, "f32[4]");
    hint = JX_TYPE(JX_F32, 3);
    CHECK(jx_family_create.infer(JX_OP_CONSTANT, 0, NULL, &at, &hint, &out, err, sizeof err) == 0);
    CHECK(jx_type_eq(&out, &hint));
    jx_array_free(v);
}

TEST(constant_round_trip) {
    double vals[6] = {1.5, -2, NaN, Inf, 0, 1e300};
    jx_array *c = jx_array_from(JX_F64, 2, (int64_t[]){2, 3}, vals);
    jx_type ty = JX_TYPE(JX_F64, 2, 3);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val k = jx_constant(t, c);
    jx_val s = jx_scalar(t, JX_I32, 7.9);
    jx_val b = jx_scalar(t, JX_BOOL, 2);
    jx_val sum = trace_emit(JX_HERE, NULL, JX_OP_ADD, 2, (jx_val[]){k, jx_trace_input(t, 0)},
                            NULL, NULL);
    jx_array_free(c); /* the function holds its own reference */
    jx_val outs[4] = {k, s, b, sum};
    jx_fn *f = jx_trace_end(t, 4, outs);
    CHECK(f != NULL);
    if (!f) return;
    CHECK(jx_fn_verify(f) == 0);
    jx_type st = jx_fn_out_type(f, 1), want_st = JX_SCALAR(JX_I32);
    CHECK(jx_type_eq(&st, &want_st));
    jx_array *x = jx_array_new_type(&ty);
    jx_array_fill(x, 1);
    jx_array *out[4] = {NULL, NULL, NULL, NULL};
    CHECK(jx_interp(f, &x, out) == 0);
    expect(__LINE__, "constant", out[0], JX_F64, 6, vals, 0);
    if (out[0]) CHECK(jx_array_rank(out[0]) == 2 && jx_array_dim(out[0], 1) == 3);
    expect(__LINE__, "scalar", out[1], JX_I32, 1, D(7), 0);
    if (out[1]) CHECK(jx_array_rank(out[1]) == 0);
    expect(__LINE__, "scalar", out[2], JX_BOOL, 1, D(1), 0);
    expect(__LINE__, "constant+x", out[3], JX_F64, 6, D(2.5, -1, NaN, Inf, 1, 1e300), 0);
    for (int i = 0; i < 4; i++) jx_array_free(out[i]);
    jx_array_free(x);
    jx_fn_free(f);
}

/* ---- rank 0 and empty arrays ------------------------------------------------------------ */

/* Runs op (convert/bitcast target aux) on arrays of type ty filled with v and returns the
 * output (caller frees). */
static jx_array *run_filled(int line, jx_op op, int aux, jx_type ty, double v) {
    jx_array *in[3];
    int nin = prim_info(op)->arity;
    for (int i = 0; i < nin; i++) {
        jx_type ti = ty;
        if (op == JX_OP_SELECT && i == 0) ti.dtype = JX_BOOL;
        in[i] = jx_array_new_type(&ti);
        jx_array_fill(in[i], v);
    }
    jx_array *out = run(line, op, aux, in);
    for (int i = 0; i < nin; i++) jx_array_free(in[i]);
    return out;
}

TEST(rank0) {
    struct { jx_op op; int aux; jx_dtype dt, odt; double v, want; } cs[] = {
        {JX_OP_EXP, 0, JX_F32, JX_F32, 1, 2.718281828459045},
        {JX_OP_NEG, 0, JX_I32, JX_I32, 3, -3},
        {JX_OP_ADD, 0, JX_I32, JX_I32, 3, 6},
        {JX_OP_MUL, 0, JX_F64, JX_F64, -1.5, 2.25},
        {JX_OP_LT, 0, JX_U32, JX_BOOL, 3, 0},
        {JX_OP_SELECT, 0, JX_F64, JX_F64, 1, 1},
        {JX_OP_CONVERT, JX_I32, JX_F32, JX_I32, -2.5, -2},
        {JX_OP_BITCAST, JX_U32, JX_F32, JX_U32, 1, 0x3f800000},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        jx_array *o = run_filled(__LINE__, cs[i].op, cs[i].aux, JX_SCALAR(cs[i].dt), cs[i].v);
        if (o) CHECK(jx_array_rank(o) == 0);
        expect(__LINE__, prim_info(cs[i].op)->name, o, cs[i].odt, 1, &cs[i].want, 1e-6);
        jx_array_free(o);
    }
}

TEST(empty_arrays) {
    const jx_op ops[] = {JX_OP_NEG, JX_OP_LOG, JX_OP_NOT, JX_OP_ADD, JX_OP_DIV, JX_OP_GE,
                         JX_OP_XOR, JX_OP_SHIFT_LEFT, JX_OP_SELECT, JX_OP_CONVERT,
                         JX_OP_BITCAST};
    const jx_dtype dts[] = {JX_F32, JX_F64, JX_I32, JX_I32, JX_U32, JX_F64,
                            JX_BOOL, JX_U32, JX_I32, JX_F32, JX_F32};
    jx_type shapes[2] = {JX_TYPE(JX_F32, 0), JX_TYPE(JX_F32, 2, 0)};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            jx_type ty = shapes[s];
            ty.dtype = dts[i];
            jx_array *o = run_filled(__LINE__, ops[i], JX_I32, ty, 1);
            if (o) {
                CHECK(jx_array_size(o) == 0);
                CHECK(jx_array_rank(o) == ty.rank && jx_array_dim(o, 0) == ty.shape[0]);
                jx_dtype want = ops[i] == JX_OP_GE ? JX_BOOL
                                : ops[i] == JX_OP_CONVERT || ops[i] == JX_OP_BITCAST ? JX_I32
                                                                                     : ty.dtype;
                CHECK(jx_array_dtype(o) == want);
            }
            jx_array_free(o);
        }
    }
}

TEST_MAIN()
