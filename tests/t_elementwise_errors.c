/* Shape-rule errors of the elementwise family (wrong dtypes, mismatched shapes
 * or dtypes, select, bitcast widths, convert) and the output types of every op. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "core/trace.h"

#include "elt_util.h"

/* ---- shape-rule errors ------------------------------------------------------------------ */

/* Traces op (convert/bitcast target aux) on inputs of the given types, expects it to
 * fail, and returns the trace's first error copied into buf. Also checks that jx_trace_end
 * returns NULL with the same message in jx_error(). */
static const char *op_error(jx_op op, int aux, int nin, const jx_type *types, char *buf,
                            size_t len) {
    jx_trace *t = jx_trace_begin(nin, types);
    jx_val x[3];
    for (int i = 0; i < nin; i++) x[i] = jx_trace_input(t, i);
    jx_val y = build(x, op, aux);
    CHECK(jx_val_bad(y));
    jx_val z = jx_exp(y); /* poison passes through without a new message */
    const char *e = jx_trace_error(t);
    snprintf(buf, len, "%s", e ? e : "");
    CHECK(jx_val_bad(z));
    jx_fn *f = jx_trace_end(t, 1, &z);
    CHECK(f == NULL);
    CHECK(strcmp(jx_error(), buf) == 0);
    jx_fn_free(f);
    return buf;
}

/* Checks that msg contains every string in subs (NULL-terminated). */
static void expect_msg(int line, const char *msg, const char *const *subs) {
    for (int i = 0; subs[i]; i++)
        if (!strstr(msg, subs[i]))
            CHECK_FAIL_("line %d: \"%s\" does not contain \"%s\"", line, msg, subs[i]);
}
#define ERR(op, aux, types, ...)                                                            \
    do {                                                                                  \
        char b_[1024];                                                                    \
        jx_type ts_[] = {UNPAREN types};                                                  \
        op_error(JX_OP_##op, aux, (int)(sizeof ts_ / sizeof ts_[0]), ts_, b_, sizeof b_); \
        expect_msg(__LINE__, b_,                                                        \
                   (const char *const[]){"t_elementwise_errors.c", __VA_ARGS__, NULL}); \
    } while (0)
#define UNPAREN(...) __VA_ARGS__

TEST(error_wrong_dtype) {
    ERR(NEG, 0, (JX_TYPE(JX_U32, 3)), "neg", "u32[3]", "expected f32, f64 or i32");
    ERR(ABS, 0, (JX_TYPE(JX_BOOL, 2)), "abs", "bool[2]");
    ERR(SIGN, 0, (JX_SCALAR(JX_U32)), "sign", "u32[]");
    ERR(EXP, 0, (JX_TYPE(JX_I32, 3)), "exp", "i32[3]", "expected f32 or f64");
    ERR(SQRT, 0, (JX_TYPE(JX_BOOL, 1)), "sqrt", "bool[1]");
    ERR(FLOOR, 0, (JX_TYPE(JX_U32, 1)), "floor", "u32[1]");
    ERR(NOT, 0, (JX_TYPE(JX_F32, 3)), "not", "f32[3]", "expected i32, u32 or bool");
    ERR(ADD, 0, (JX_TYPE(JX_BOOL, 3), JX_TYPE(JX_BOOL, 3)), "add", "bool[3]");
    ERR(POW, 0, (JX_TYPE(JX_I32, 3), JX_TYPE(JX_I32, 3)), "pow", "i32[3]", "f32 or f64");
    ERR(AND, 0, (JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)), "and", "f32[3]");
    ERR(SHIFT_LEFT, 0, (JX_TYPE(JX_F64, 2), JX_TYPE(JX_F64, 2)), "shift_left", "f64[2]");
    ERR(SHIFT_RIGHT, 0, (JX_TYPE(JX_BOOL, 2), JX_TYPE(JX_BOOL, 2)), "shift_right_logical",
        "bool[2]");
}

TEST(error_mismatched_shapes) {
    ERR(ADD, 0, (JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 4)), "add", "f32[3]", "f32[4]", "shapes");
    ERR(EQ, 0, (JX_TYPE(JX_I32, 2, 3), JX_TYPE(JX_I32, 3, 2)), "eq", "i32[2,3]", "i32[3,2]");
    ERR(SUB, 0, (JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 1)), "sub", "f64[]", "f64[1]");
}

TEST(error_mismatched_dtypes) {
    ERR(MUL, 0, (JX_TYPE(JX_F32, 3), JX_TYPE(JX_I32, 3)), "mul", "f32[3]", "i32[3]", "dtypes");
    ERR(LT, 0, (JX_TYPE(JX_U32, 2), JX_TYPE(JX_I32, 2)), "lt", "u32[2]", "i32[2]");
    ERR(OR, 0, (JX_TYPE(JX_BOOL, 2), JX_TYPE(JX_I32, 2)), "or", "bool[2]", "i32[2]");
}

TEST(error_select) {
    ERR(SELECT, 0, (JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)), "select",
        "predicate f32[3]", "bool");
    ERR(SELECT, 0, (JX_TYPE(JX_BOOL, 3), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 4)), "select",
        "f32[3]", "f32[4]", "shapes");
    ERR(SELECT, 0, (JX_SCALAR(JX_BOOL), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)), "select",
        "bool[]", "f32[3]");
    ERR(SELECT, 0, (JX_TYPE(JX_BOOL, 3), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F64, 3)), "select",
        "f32[3]", "f64[3]", "dtypes");
}

TEST(error_bitcast_width) {
    ERR(BITCAST, JX_I32, (JX_TYPE(JX_F64, 2)), "bitcast_convert_type", "f64[2]", "i32",
        "width");
    ERR(BITCAST, JX_U32, (JX_TYPE(JX_BOOL, 2)), "bitcast_convert_type", "bool[2]", "u32");
    ERR(BITCAST, JX_F64, (JX_TYPE(JX_F32, 2)), "bitcast_convert_type", "f32[2]", "f64");
    ERR(CONVERT, JX_NDTYPES, (JX_TYPE(JX_F32, 2)), "convert_element_type", "f32[2]",
        "invalid target dtype");
}

TEST(error_convert_shape_in_rule) {
    /* the rule (as the parser calls it) rejects a declared type of another shape */
    jx_type in = JX_TYPE(JX_F32, 3), hint = JX_TYPE(JX_I32, 4), out;
    char err[256] = "";
    CHECK(prim_info(JX_OP_CONVERT)->family->infer(JX_OP_CONVERT, 1, &in, NULL, &hint, &out, err,
                                      sizeof err) < 0);
    CHECK_CONTAINS(err, "i32[4]");
    CHECK_CONTAINS(err, "f32[3]");
    CHECK(prim_info(JX_OP_BITCAST)->family->infer(JX_OP_BITCAST, 1, &in, NULL, NULL, &out, err,
                                      sizeof err) < 0);
    CHECK_CONTAINS(err, "target type");
    hint = JX_TYPE(JX_U32, 3);
    CHECK(prim_info(JX_OP_BITCAST)->family->infer(JX_OP_BITCAST, 1, &in, NULL, &hint, &out, err,
                                      sizeof err) == 0);
    CHECK(jx_type_eq(&out, &hint));
    CHECK(prim_info(JX_OP_ADD)->family->infer(JX_OP_ADD, 1, &in, NULL, NULL, &out, err,
                                              sizeof err) < 0);
    CHECK_CONTAINS(err, "operands");
}

TEST(output_types) {
    jx_type ty = JX_TYPE(JX_F64, 2, 3), out;
    jx_type two[2] = {ty, ty};
    char err[256];
    for (int op = JX_OP_EQ; op <= JX_OP_GE; op++) {
        CHECK(prim_info((jx_op)op)->family->infer((jx_op)op, 2, two, NULL, NULL, &out, err,
                                          sizeof err) == 0);
        CHECK(out.dtype == JX_BOOL && out.rank == 2 && out.shape[1] == 3);
    }
    CHECK(prim_info(JX_OP_ADD)->family->infer(JX_OP_ADD, 2, two, NULL, NULL, &out, err,
                                              sizeof err) == 0);
    CHECK(jx_type_eq(&out, &ty));
}

TEST_MAIN()
