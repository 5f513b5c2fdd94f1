/* The IR text form: print -> parse -> print round trips for every primitive (with the
 * interpreter agreeing on the original and the parsed function) and the exact text.
 * Literals, names, locations and the DOT writer are in t_text_literals.c, malformed texts
 * in t_text_malformed.c. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "core/ir.h"
#include "prims/conv_direct.h"
#include "transform/passes.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)
#define U32(...) JX_TYPE(JX_U32, __VA_ARGS__)
#define BOOL(...) JX_TYPE(JX_BOOL, __VA_ARGS__)

#include "text_util.h"

/* 1 if text has an equation "= prim" followed by '[', ' ' or a newline. */
static int tx_has_eqn(const char *text, const char *prim) {
    size_t n = strlen(prim);
    for (const char *p = strstr(text, "= "); p; p = strstr(p + 1, "= "))
        if (!strncmp(p + 2, prim, n) && strchr("[ \n", p[2 + n])) return 1;
    return 0;
}

/* ---- one round-trip case per primitive --------------------------------------------- */

static const char *tx_covered[128];
static int tx_ncovered;

/* Records that prim has a round-trip case. */
static void tx_cover(const char *prim) {
    if (tx_ncovered < 128) tx_covered[tx_ncovered++] = prim;
}

typedef void (*tx_build_fn)(jx_trace *t, const jx_val *in, jx_val *out);

static void tx_trampoline(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    tx_build_fn b;
    memcpy(&b, user, sizeof b);
    b(t, in, out);
}

/* Traces build on inputs of the given types, round-trips it, and checks that the text
 * holds an equation of prim. */
static void tx_prim_case(const char *prim, int n_in, const jx_type *types, tx_build_fn build) {
    jx_fn *f = jx_trace(tx_trampoline, n_in, types, 1, (void *)&build);
    if (!f) {
        CHECK_FAIL_("tracing the %s case failed: %s", prim, jx_error());
        return;
    }
    char *s = tx_round_trip(f);
    if (s && !tx_has_eqn(s, prim)) CHECK_FAIL_("no '%s' equation in:\n%s", prim, s);
    if (s) CHECK_CONTAINS(s, "t_text.c:");
    free(s);
    jx_fn_free(f);
}

/* RT(id, "prim", n_in, body, input types...): a round-trip case for one primitive. */
#define RT(id, prim, nin, body, ...)                                                      \
    static void tx_b_##id(jx_trace *t, const jx_val *in, jx_val *out) {                  \
        (void)t;                                                                          \
        (void)in;                                                                         \
        body;                                                                             \
    }                                                                                     \
    __attribute__((constructor)) static void tx_reg_##id(void) { tx_cover(prim); }        \
    TEST(round_trip_##id) {                                                               \
        const jx_type ty_[] = {__VA_ARGS__};                                              \
        tx_prim_case(prim, nin, ty_, tx_b_##id);                                          \
    }

static jx_val tx_const22(jx_trace *t) {
    int64_t shape[2] = {2, 2};
    float v[4] = {1.0f, -2.5f, 0.1f, 3e-20f};
    jx_array *a = jx_array_from(JX_F32, 2, shape, v);
    jx_val r = jx_constant(t, a);
    jx_array_free(a);
    return r;
}

static jx_val tx_concat3(const jx_val *in) {
    jx_val xs[3] = {in[0], in[1], in[2]};
    return jx_concatenate(3, xs, 0);
}

RT(constant, "constant", 1, out[0] = jx_add(tx_const22(t), in[0]), F32(2, 2))
RT(iota, "iota", 1, out[0] = jx_add(jx_iota(t, JX_TYPE(JX_I32, 2, 3), 1), in[0]),
   JX_TYPE(JX_I32, 2, 3))
RT(neg, "neg", 1, out[0] = jx_neg(in[0]), F32(2, 3))
RT(abs, "abs", 1, out[0] = jx_abs(in[0]), F32(2, 3))
RT(sign, "sign", 1, out[0] = jx_sign(in[0]), F32(2, 3))
RT(exp, "exp", 1, out[0] = jx_exp(in[0]), F32(2, 3))
RT(log, "log", 1, out[0] = jx_log(in[0]), F32(2, 3))
RT(log1p, "log1p", 1, out[0] = jx_log1p(in[0]), F32(2, 3))
RT(expm1, "expm1", 1, out[0] = jx_expm1(in[0]), F32(2, 3))
RT(tanh, "tanh", 1, out[0] = jx_tanh(in[0]), F32(2, 3))
RT(logistic, "logistic", 1, out[0] = jx_logistic(in[0]), F32(2, 3))
RT(sqrt, "sqrt", 1, out[0] = jx_sqrt(in[0]), F32(2, 3))
RT(rsqrt, "rsqrt", 1, out[0] = jx_rsqrt(in[0]), F32(2, 3))
RT(sin, "sin", 1, out[0] = jx_sin(in[0]), F32(2, 3))
RT(cos, "cos", 1, out[0] = jx_cos(in[0]), F32(2, 3))
RT(erf, "erf", 1, out[0] = jx_erf(in[0]), JX_TYPE(JX_F64, 2, 3))
RT(floor, "floor", 1, out[0] = jx_floor(in[0]), F32(2, 3))
RT(not, "not", 1, out[0] = jx_not(in[0]), BOOL(5))
RT(stop_gradient, "stop_gradient", 1, out[0] = jx_stop_gradient(in[0]), F32(2, 3))
RT(convert, "convert_element_type", 1, out[0] = jx_convert(in[0], JX_I32), F32(2, 3))
RT(bitcast, "bitcast_convert_type", 1, out[0] = jx_bitcast(in[0], JX_U32), F32(2, 3))
RT(add, "add", 2, out[0] = jx_add(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(sub, "sub", 2, out[0] = jx_sub(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(mul, "mul", 2, out[0] = jx_mul(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(div, "div", 2, out[0] = jx_div(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(pow, "pow", 2, out[0] = jx_pow(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(atan2, "atan2", 2, out[0] = jx_atan2(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(max, "max", 2, out[0] = jx_max(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(min, "min", 2, out[0] = jx_min(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(rem, "rem", 2, out[0] = jx_rem(in[0], in[1]), JX_TYPE(JX_I32, 7), JX_TYPE(JX_I32, 7))
RT(eq, "eq", 2, out[0] = jx_eq(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(ne, "ne", 2, out[0] = jx_ne(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(lt, "lt", 2, out[0] = jx_lt(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(le, "le", 2, out[0] = jx_le(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(gt, "gt", 2, out[0] = jx_gt(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(ge, "ge", 2, out[0] = jx_ge(in[0], in[1]), F32(2, 3), F32(2, 3))
RT(and, "and", 2, out[0] = jx_and(in[0], in[1]), U32(6), U32(6))
RT(or, "or", 2, out[0] = jx_or(in[0], in[1]), BOOL(6), BOOL(6))
RT(xor, "xor", 2, out[0] = jx_xor(in[0], in[1]), U32(6), U32(6))
RT(shift_left, "shift_left", 2, out[0] = jx_shift_left(in[0], in[1]), U32(6), U32(6))
RT(shift_right, "shift_right_logical", 2, out[0] = jx_shift_right(in[0], in[1]), U32(6),
   U32(6))
RT(select, "select", 3, out[0] = jx_select(in[0], in[1], in[2]), BOOL(4), F32(4), F32(4))
RT(broadcast_in_dim, "broadcast_in_dim", 1,
   out[0] = jx_broadcast_in_dim(in[0], JX_INTS(2, 3), JX_INTS(1)), F32(3))
RT(reshape, "reshape", 1, out[0] = jx_reshape(in[0], JX_INTS(3, 2)), F32(2, 3))
RT(transpose, "transpose", 1, out[0] = jx_transpose(in[0], JX_INTS(1, 0)), F32(2, 3))
RT(slice, "slice", 1, out[0] = jx_slice(in[0], JX_INTS(1, 0), JX_INTS(3, 5), JX_INTS(1, 2)),
   F32(4, 5))
RT(pad, "pad", 1,
   out[0] = jx_pad(in[0], jx_scalar(t, JX_F32, 0.5), JX_INTS(1, 0), JX_INTS(0, -1),
                   JX_INTS(1, 0)),
   F32(2, 3))
RT(concatenate, "concatenate", 3, out[0] = tx_concat3(in), F32(2, 3), F32(1, 3), F32(2, 3))
RT(rev, "rev", 1, out[0] = jx_rev(in[0], JX_INTS(0, 1)), F32(2, 3))
RT(dynamic_slice, "dynamic_slice", 3, out[0] = jx_dynamic_slice(in[0], 2, in + 1, JX_INTS(2, 3)),
   F32(4, 5), JX_SCALAR(JX_I32), JX_SCALAR(JX_I32))
RT(dynamic_update_slice, "dynamic_update_slice", 3,
   out[0] = jx_dynamic_update_slice(in[0], in[1], 1, in + 2), F32(4), F32(2), JX_SCALAR(JX_I32))
RT(reduce_sum, "reduce_sum", 1, out[0] = jx_reduce_sum(in[0], JX_INTS(0, 2)), F32(2, 3, 4))
RT(reduce_max, "reduce_max", 1, out[0] = jx_reduce_max(in[0], JX_INTS(0, 2)), F32(2, 3, 4))
RT(reduce_min, "reduce_min", 1, out[0] = jx_reduce_min(in[0], JX_NOINTS), F32(2, 3, 4))
RT(argmax, "argmax", 1, out[0] = jx_argmax(in[0], 1, JX_I32), F32(3, 4))
RT(dot_general, "dot_general", 2,
   out[0] = jx_dot_general(in[0], in[1], JX_INTS(2), JX_INTS(1), JX_INTS(0), JX_INTS(0)),
   F32(2, 3, 4), F32(2, 4, 5))
RT(conv_patches, "conv_patches", 1,
   out[0] = jx_conv_patches(in[0], JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(1, 1)),
   F32(1, 4, 4, 2))
RT(conv_patches_t, "conv_patches_t", 1,
   out[0] = jx_conv_patches_t(in[0], JX_INTS(4, 4), JX_INTS(2, 2), JX_INTS(1, 1),
                              JX_INTS(0, 0), JX_INTS(0, 0)),
   F32(1, 3, 3, 8))
RT(threefry2x32, "threefry2x32", 2, out[0] = jx_threefry2x32(in[0], in[1]), U32(2), U32(2, 3))
RT(gemm, "gemm", 3,
   out[0] = dot_gemm_at(JX_HERE, in[0], in[1], in[2], jx_scalar(t, JX_F32, -0.5), JX_INTS(1),
                        JX_INTS(0), JX_NOINTS, JX_NOINTS),
   F32(2, 3), F32(3, 4), F32(2, 4))
/* the direct convolutions (made by the conv-direct pass): window 3x3, strides (1,2), pads
 * (1,0) and (1,2) on x [1,5,6,2], w [18,3], g [1,5,3,3] */
static jx_val tx_conv_case(int which, const jx_val *in) {
    jx_ints a[4] = {JX_INTS(3, 3), JX_INTS(1, 2), JX_INTS(1, 0), JX_INTS(1, 2)};
    return which == 0 ? cd_conv_at(JX_HERE, in[0], in[1], a)
           : which == 1 ? cd_backprop_input_at(JX_HERE, in[0], in[1], 5, 6, a)
                        : cd_backprop_filter_at(JX_HERE, in[0], in[1], 1, 1, a);
}
RT(conv, "conv", 2, out[0] = tx_conv_case(0, in), F32(1, 5, 6, 2), F32(18, 3))
RT(conv_backprop_input, "conv_backprop_input", 2, out[0] = tx_conv_case(1, in),
   F32(1, 5, 3, 3), F32(18, 3))
RT(conv_backprop_filter, "conv_backprop_filter", 2, out[0] = tx_conv_case(2, in),
   F32(1, 5, 6, 2), F32(1, 5, 3, 3))

RT(custom_jvp, "custom_jvp", 1, out[0] = jx_custom_jvp(tx_sq, tx_sq_jvp, 1, in, NULL), F32(3))
RT(custom_vjp, "custom_vjp", 1,
   out[0] = jx_custom_vjp(tx_sq, tx_sq_fwd, tx_sq_bwd, 1, 1, in, NULL), F32(3))
RT(checkpoint, "checkpoint", 1, jx_checkpoint(tx_sq, NULL, 1, in, 1, out), F32(3))
RT(optimization_barrier, "optimization_barrier", 1, out[0] = jx_optimization_barrier(in[0]), F32(3))

/* cond and scan: multi-result nodes, printed with their gets as the left-hand side. */
static void tx_br_neg(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_neg(in[0]);
    out[1] = jx_sum_all(in[0]);
}
static void tx_br_exp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_exp(in[0]);
    out[1] = jx_sum_all(jx_mul(in[0], in[0]));
}
static const jx_trace_cb tx_brs[2] = {tx_br_neg, tx_br_exp};
static jx_val tx_cond_case(jx_trace *t, const jx_val *in) {
    jx_val r[2];
    jx_switch(jx_scalar(t, JX_I32, 1), 2, tx_brs, NULL, 1, in, 2, r);
    return jx_add(r[0], jx_broadcast_to(r[1], JX_INTS(3)));
}
static jx_val tx_scan_case(const jx_val *in) {
    jx_val ys[2];
    jx_scan(tx_br_neg, NULL, 0, NULL, 1, in, -1, 1, 2, NULL, ys); /* reversed, no carry */
    return ys[0];
}
RT(cond, "cond", 1, out[0] = tx_cond_case(t, in), F32(3))
RT(scan, "scan", 1, out[0] = tx_scan_case(in), F32(2, 3))
static void tx_lt_ten(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_lt(jx_sum_all(in[0]), jx_lit(in[1], 10));
}
static void tx_double(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(in[0], in[0]), out[1] = in[1];
}
static jx_val tx_while_case(jx_trace *t, const jx_val *in) {
    jx_val c[2] = {in[0], jx_scalar(t, JX_F32, 10)}, r[2];
    jx_while_loop(tx_lt_ten, tx_double, NULL, 2, c, r);
    return r[0];
}
RT(while_, "while", 1, out[0] = tx_while_case(t, in), F32(3))
/* get: the left-hand side of the cond, scan and while equations above */
__attribute__((constructor)) static void tx_reg_get(void) { tx_cover("get"); }

TEST(every_primitive_has_a_round_trip_case) {
    for (int op = 0; op < JX_NOPS; op++) {
        const char *name = prim_info((jx_op)op)->name;
        int found = 0;
        for (int i = 0; i < tx_ncovered; i++) found |= !strcmp(tx_covered[i], name);
        if (!found) CHECK_FAIL_("no round-trip case for primitive '%s'", name);
    }
}

/* ---- exact text ---------------------------------------------------------------------- */

static const char tx_golden[] =
    "{ lambda ; a:f32[2,3] b:f32[3]. let\n"
    "    c:f32[2,3] = broadcast_in_dim[shape=(2,3) broadcast_dimensions=(1)] b    # golden.c:1\n"
    "    d:f32[2,3] = add a c    # golden.c:2\n"
    "    e:f32[2] = reduce_sum[axes=(1)] d    # dir/golden.c:3\n"
    "    f:f32[] = mul 0.5:f32[] 0.5:f32[]    # golden.c:5\n"
    "  in (e, f, a, 2.0:f32[]) }\n";

TEST(prints_the_documented_form) {
    jx_type ty[2] = {F32(2, 3), F32(3)};
    jx_fn *f = jx_trace(tx_golden_fn, 2, ty, 4, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *s = tx_round_trip(f);
    if (s && strcmp(s, tx_golden)) CHECK_FAIL_("got:\n%s", s);
    free(s);
    jx_fn_free(f);
}

TEST(parses_the_brief_example_exactly) {
    const char *text =
        "{ lambda ; a:f32[512,784] b:f32[512] c:f32[784]. let\n"
        "    d:f32[512] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() "
        "rhs_batch=()] a c    # mnist.c:42\n"
        "    e:f32[512] = add d b    # mnist.c:42\n"
        "    f:f32[512] = broadcast_in_dim[shape=(512) broadcast_dimensions=()] 0.0:f32[]    "
        "# mnist.c:43\n"
        "    g:f32[512] = max e f    # mnist.c:43\n"
        "  in (g) }\n";
    jx_fn *f = tx_parse_exact(text);
    CHECK(!f || jx_fn_n_eqns(f) == 5); /* four equations and the 0.0 literal */
    jx_fn_free(f);
}

TEST(free_whitespace_and_any_names_print_canonically) {
    const char *text = "{lambda;x_1:f32[ 2 ]\n\tyy:f32[2] .let zed : f32 [2]=add x_1\n yy\n"
                       "   in(zed,x_1,-1.5:f32[ ])}\n\n";
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("%s", jx_error());
    char *s = f ? jx_fn_to_string(f) : NULL;
    if (s)
        CHECK(!strcmp(s, "{ lambda ; a:f32[2] b:f32[2]. let\n    c:f32[2] = add a b\n"
                         "  in (c, a, -1.5:f32[]) }\n"));
    free(s);
    jx_fn_free(f);
}

TEST(no_inputs_no_outputs_and_empty_constants) {
    const char *texts[] = {
        "{ lambda ; . let\n  in () }\n",
        "{ lambda ; . let\n    a:f32[0,3] = constant[value=[]]\n  in (a) }\n",
        "{ lambda ; . let\n    a:i32[2] = iota[dimension=(0)]    # x.c:1\n  in (a, a) }\n",
        "{ lambda ; a:bool[]. let\n  in (true:bool[], false:bool[], a) }\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        jx_fn_free(tx_parse_exact(texts[i]));
    }
}

TEST_MAIN()
