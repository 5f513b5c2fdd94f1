/* The IR text form: print -> parse -> print round trips for every primitive (with the
 * interpreter agreeing on the original and the parsed function), literals, names, location
 * comments, the DOT writer, and a catalog of malformed texts. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "ir.h"
#include "passes.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)
#define U32(...) JX_TYPE(JX_U32, __VA_ARGS__)
#define BOOL(...) JX_TYPE(JX_BOOL, __VA_ARGS__)

/* ---- helpers ----------------------------------------------------------------------- */

/* Deterministic test data for type t: positive floats, small ints (some >= 32, for the
 * shifts), alternating bools. */
static jx_array *tx_input(jx_type t, int salt) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) {
        int64_t k = i + 3 * salt;
        switch (t.dtype) {
        case JX_F32:
        case JX_F64: jx_array_set(a, i, 0.25 + 0.5 * (double)(k % 7) + 0.125 * salt); break;
        case JX_I32: jx_array_set(a, i, (double)(k % 5) - 1); break;
        case JX_U32: jx_array_set(a, i, (double)((k * 7 + 1) % 40)); break;
        default: jx_array_set(a, i, (double)(k % 2)); break;
        }
    }
    return a;
}

/* 1 if both arrays have equal types and identical elements (bit for bit, except that
 * any two NaNs are equal: the text form spells every NaN "nan"). */
static int tx_same(const jx_array *a, const jx_array *b) {
    if (!a || !b) return 0;
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    if (!jx_type_eq(&ta, &tb)) return 0;
    size_t w = jx_dtype_size(ta.dtype);
    const unsigned char *pa = jx_array_cdata(a), *pb = jx_array_cdata(b);
    for (int64_t i = 0; i < jx_array_size(a); i++) {
        double x = jx_array_get(a, i), y = jx_array_get(b, i);
        if (isnan(x) && isnan(y)) continue;
        if (memcmp(pa + (size_t)i * w, pb + (size_t)i * w, w)) return 0;
    }
    return 1;
}

/* Runs f and g on the same generated inputs; 1 if every output is bit-identical. */
static int tx_interp_agree(const jx_fn *f, const jx_fn *g) {
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f), ok = 1;
    if (n_in != jx_fn_n_in(g) || n_out != jx_fn_n_out(g)) return 0;
    jx_array *in[8] = {0}, *of[8] = {0}, *og[8] = {0};
    if (n_in > 8 || n_out > 8) return 0;
    for (int i = 0; i < n_in; i++) in[i] = tx_input(jx_fn_in_type(f, i), i);
    if (jx_interp(f, in, of) < 0 || jx_interp(g, in, og) < 0) {
        printf("  interp: %s\n", jx_error());
        ok = 0;
    }
    for (int i = 0; ok && i < n_out; i++) ok = tx_same(of[i], og[i]);
    for (int i = 0; i < n_in; i++) jx_array_free(in[i]);
    for (int i = 0; i < n_out; i++) {
        jx_array_free(of[i]);
        jx_array_free(og[i]);
    }
    return ok;
}

/* print(f), parse it, print again: the two texts must be equal, the parsed function must
 * verify and agree with f under the interpreter. Returns the first text (caller frees). */
static char *tx_round_trip(const jx_fn *f) {
    char *s1 = jx_fn_to_string(f);
    CHECK(s1 != NULL);
    if (!s1) return NULL;
    jx_fn *g = jx_fn_parse(s1);
    if (!g) CHECK_FAIL_("parse failed: %s\n%s", jx_error(), s1);
    char *s2 = g ? jx_fn_to_string(g) : NULL;
    if (g) {
        CHECK(s2 != NULL);
        if (s2 && strcmp(s1, s2) != 0) CHECK_FAIL_("texts differ:\n%s---\n%s", s1, s2);
        if (jx_fn_verify(g) < 0) CHECK_FAIL_("parsed function does not verify: %s", jx_error());
        CHECK(tx_interp_agree(f, g));
    }
    free(s2);
    jx_fn_free(g);
    return s1;
}

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

TEST(every_primitive_has_a_round_trip_case) {
    for (int op = 0; op < JX_NOPS; op++) {
        const char *name = prim_info((jx_op)op)->name;
        int found = 0;
        for (int i = 0; i < tx_ncovered; i++) found |= !strcmp(tx_covered[i], name);
        if (!found) CHECK_FAIL_("no round-trip case for primitive '%s'", name);
    }
}

/* ---- exact text ---------------------------------------------------------------------- */

static void tx_golden_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_loc l1 = {"golden.c", 1}, l2 = {"golden.c", 2}, l3 = {"dir/golden.c", 3};
    jx_val c = jx_broadcast_in_dim_at(l1, in[1], JX_INTS(2, 3), JX_INTS(1));
    jx_val d = jx_add_at(l2, in[0], c);
    out[0] = jx_reduce_sum_at(l3, d, JX_INTS(1));
    out[1] = jx_mul_at((jx_loc){"golden.c", 5}, jx_scalar(t, JX_F32, 0.5),
                       jx_scalar(t, JX_F32, 0.5));
    out[2] = in[0];
    out[3] = jx_scalar(t, JX_F32, 2);
}

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
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("%s", jx_error());
    char *s = f ? jx_fn_to_string(f) : NULL;
    if (s && strcmp(s, text)) CHECK_FAIL_("got:\n%s", s);
    CHECK(!f || jx_fn_n_eqns(f) == 5); /* four equations and the 0.0 literal */
    free(s);
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
        jx_fn *f = jx_fn_parse(texts[i]);
        if (!f) CHECK_FAIL_("%s: %s", texts[i], jx_error());
        char *s = f ? jx_fn_to_string(f) : NULL;
        if (s && strcmp(s, texts[i])) CHECK_FAIL_("got:\n%s", s);
        free(s);
        jx_fn_free(f);
    }
}

/* ---- outputs, literals, numbers, names, locations ------------------------------------ */

static void tx_multi(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    out[0] = jx_add(in[0], in[1]);
    out[1] = jx_mul(in[0], in[1]);
    out[2] = in[1]; /* an input as an output */
    out[3] = out[0];
}

TEST(multiple_outputs_and_input_as_output) {
    jx_type ty[2] = {F32(3), F32(3)};
    jx_fn *f = jx_trace(tx_multi, 2, ty, 4, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *s = tx_round_trip(f);
    CHECK_CONTAINS(s, "  in (c, d, b, c) }\n");
    free(s);
    jx_fn_free(f);
}

static void tx_lits(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    out[0] = jx_scalar(t, JX_F32, 1.0);
    out[1] = jx_scalar(t, JX_I32, -7);
    out[2] = jx_scalar(t, JX_U32, 4294967295.0);
    out[3] = jx_scalar(t, JX_BOOL, 1);
    out[4] = jx_scalar(t, JX_F64, -0.0);
    out[5] = jx_add(in[0], jx_scalar(t, JX_F32, 1e10));
    out[6] = jx_sub(jx_scalar(t, JX_F32, 3), in[0]);
}

TEST(scalar_literals_inline_as_operands_and_outputs) {
    jx_type ty[1] = {JX_SCALAR(JX_F32)};
    jx_fn *f = jx_trace(tx_lits, 1, ty, 7, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *s = tx_round_trip(f);
    CHECK_CONTAINS(s, "b:f32[] = add a 1e+10:f32[]");
    CHECK_CONTAINS(s, "c:f32[] = sub 3.0:f32[] a");
    CHECK_CONTAINS(s, "in (1.0:f32[], -7:i32[], 4294967295:u32[], true:bool[], -0.0:f64[], b, c)");
    free(s);
    jx_fn_free(f);
}

static void tx_nonfinite(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    out[0] = jx_max(in[0], jx_scalar(t, JX_F32, NAN));
    out[1] = jx_min(jx_scalar(t, JX_F64, INFINITY), jx_scalar(t, JX_F64, -INFINITY));
    out[2] = jx_scalar(t, JX_F32, -NAN);
}

TEST(nan_and_inf_literals) {
    jx_type ty[1] = {JX_SCALAR(JX_F32)};
    jx_fn *f = jx_trace(tx_nonfinite, 1, ty, 3, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *s = tx_round_trip(f);
    CHECK_CONTAINS(s, "max a nan:f32[]");
    CHECK_CONTAINS(s, "min inf:f64[] -inf:f64[]");
    CHECK_CONTAINS(s, "in (b, c, nan:f32[]) }");
    free(s);
    jx_array *in[1] = {jx_array_scalar(JX_F32, 2)}, *out[3] = {0};
    CHECK(jx_interp(f, in, out) == 0);
    if (out[2]) CHECK(isnan(jx_array_get(out[2], 0)));
    if (out[1]) CHECK(jx_array_get(out[1], 0) == -INFINITY);
    for (int i = 0; i < 3; i++) jx_array_free(out[i]);
    jx_array_free(in[0]);
    jx_fn_free(f);
}

/* Values that need every digit: check they survive print -> parse bit for bit. */
TEST(f64_and_f32_values_are_exact) {
    double d[] = {0.1, 1.0 / 3.0, 1e-300, 4.9406564584124654e-324, DBL_MAX, -0.0, 1.0,
                  123456789012345678.0, -2.5e-8, DBL_MIN, NAN, -INFINITY};
    float s[] = {0.1f, 1.0f / 3.0f, FLT_MIN, 1e-45f, FLT_MAX, -0.0f, 16777216.0f, 3.4e-20f};
    int64_t nd = (int64_t)(sizeof d / sizeof *d), ns = (int64_t)(sizeof s / sizeof *s);
    jx_array *ad = jx_array_from(JX_F64, 1, &nd, d), *as = jx_array_from(JX_F32, 1, &ns, s);
    jx_trace *t = jx_trace_begin(0, NULL);
    jx_val outs[4] = {jx_constant(t, ad), jx_constant(t, as), jx_scalar(t, JX_F64, 0.1),
                      jx_scalar(t, JX_F32, 1.0f / 3.0f)};
    jx_fn *f = jx_trace_end(t, 4, outs);
    CHECK(f != NULL);
    char *s1 = f ? jx_fn_to_string(f) : NULL;
    jx_fn *g = s1 ? jx_fn_parse(s1) : NULL;
    if (s1 && !g) CHECK_FAIL_("%s", jx_error());
    if (g) {
        jx_array *o[4] = {0};
        CHECK(jx_interp(g, NULL, o) == 0);
        CHECK(tx_same(o[0], ad));
        CHECK(tx_same(o[1], as));
        if (o[2]) CHECK(jx_array_get(o[2], 0) == 0.1);
        if (o[3]) CHECK((float)jx_array_get(o[3], 0) == 1.0f / 3.0f);
        for (int i = 0; i < 4; i++) jx_array_free(o[i]);
    }
    CHECK_CONTAINS(s1, "0.10000000000000001,0.33333333333333331,");
    CHECK_CONTAINS(s1, "4.9406564584124654e-324");
    CHECK_CONTAINS(s1, "-0.0,1.0,");
    CHECK_CONTAINS(s1, "nan,-inf]]");
    CHECK_CONTAINS(s1, "1.40129846e-45");
    CHECK_CONTAINS(s1, "16777216.0");
    free(s1);
    jx_fn_free(g);
    jx_fn_free(f);
    jx_array_free(ad);
    jx_array_free(as);
}

TEST(integer_and_bool_constants) {
    const char *text = "{ lambda ; . let\n"
                       "    a:i32[3] = constant[value=[-2147483648,0,2147483647]]\n"
                       "    b:u32[2] = constant[value=[0,4294967295]]\n"
                       "    c:bool[2,1] = constant[value=[true,false]]\n"
                       "  in (a, b, c) }\n";
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("%s", jx_error());
    char *s = f ? jx_fn_to_string(f) : NULL;
    if (s && strcmp(s, text)) CHECK_FAIL_("got:\n%s", s);
    jx_array *o[3] = {0};
    CHECK(!f || jx_interp(f, NULL, o) == 0);
    if (o[0]) CHECK(jx_array_get(o[0], 0) == -2147483648.0);
    if (o[1]) CHECK(jx_array_get(o[1], 1) == 4294967295.0);
    if (o[2]) CHECK(jx_array_get(o[2], 0) == 1 && jx_array_get(o[2], 1) == 0);
    for (int i = 0; i < 3; i++) jx_array_free(o[i]);
    free(s);
    jx_fn_free(f);
}

/* A long chain, so variables are named "ba", ..., "in", "inf", "let", "nan". */
static void tx_chain(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val x = in[0];
    for (int i = 0; i < 8850; i++)
        x = i % 3 == 2 ? jx_mul(x, jx_scalar(t, JX_F32, 1.0)) : jx_neg(x);
    out[0] = x;
}

TEST(names_past_z_and_names_that_look_like_keywords) {
    jx_type ty[1] = {JX_SCALAR(JX_F32)};
    jx_fn *f = jx_trace(tx_chain, 1, ty, 1, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *s = tx_round_trip(f);
    CHECK_CONTAINS(s, "\n    ba:f32[] = ");
    CHECK_CONTAINS(s, "\n    in:f32[] = ");
    CHECK_CONTAINS(s, "\n    inf:f32[] = ");
    CHECK_CONTAINS(s, "\n    let:f32[] = ");
    CHECK_CONTAINS(s, "\n    nan:f32[] = ");
    CHECK_CONTAINS(s, " nan 1.0:f32[]");
    free(s);
    jx_fn_free(f);
}

TEST(location_comments_are_kept_and_optional) {
    const char *text = "{ lambda ; a:f32[2]. let\n"
                       "    b:f32[2] = neg a    # some dir/with: colon.c:77\n"
                       "    c:f32[2] = exp b\n"
                       "    d:f32[2] = abs c    # :0\n"
                       "  in (d) }\n";
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("%s", jx_error());
    char *s = f ? jx_fn_to_string(f) : NULL;
    if (s && strcmp(s, text)) CHECK_FAIL_("got:\n%s", s);
    if (f) {
        CHECK_CONTAINS(f->nodes[1].loc.file, "some dir/with: colon.c");
        CHECK(f->nodes[1].loc.line == 77);
        CHECK(f->nodes[2].loc.file == NULL);
    }
    free(s);
    jx_fn_free(f);
}

/* ---- graphviz -------------------------------------------------------------------------- */

TEST(dot_has_nodes_edges_and_outputs) {
    jx_type ty[2] = {F32(2, 3), F32(3)};
    jx_fn *f = jx_trace(tx_golden_fn, 2, ty, 4, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    jx_fn_dot(f, m);
    fclose(m);
    CHECK_CONTAINS(buf, "digraph jx {");
    CHECK_CONTAINS(buf, "label=\"a\\ninput 0\\nf32[2,3]\"");
    CHECK_CONTAINS(buf, "label=\"d\\nadd\\nf32[2,3]\"");
    CHECK_CONTAINS(buf, "label=\"0.5:f32[]\"");
    CHECK_CONTAINS(buf, "n0 -> n3;");
    CHECK_CONTAINS(buf, "out3 [shape=doubleoctagon");
    CHECK_CONTAINS(buf, "n0 -> out2");
    CHECK(len > 0 && buf[len - 2] == '}');
    free(buf);
    jx_fn_free(f);
}

/* ---- malformed texts ----------------------------------------------------------------- */

#define HDR "{ lambda ; a:f32[2] b:f32[3]. let\n"

static const struct {
    const char *text, *want;
} tx_bad[] = {
    {"", "expected '{'"},
    {"{ lambda ; a:f32[2]. let\n  in (a)", "line 2, column 9: expected '}', got end of input"},
    {"{ lambda ; a:f32[2", "end of input"},
    {"{ lambda ; a:f32[2]. let\n    c:f32[2] = neg", "end of input"},
    {HDR "    c:f32[2] = foo a\n  in (c) }", "line 2, column 16: unknown primitive 'foo'"},
    {HDR "    c:f32[2] = neg q\n  in (c) }", "line 2, column 20: undefined variable 'q'"},
    {HDR "    a:f32[2] = neg a\n  in (a) }", "redefined variable 'a'"},
    {"{ lambda ; a:f32[2] a:f32[2]. let\n  in (a) }", "redefined variable 'a'"},
    {HDR "    c:f32[2] = neg a\n    c:f32[2] = neg a\n  in (c) }", "line 3, column 5: redefined"},
    {HDR "  in (z) }", "undefined variable 'z'"},
    {"{ lambda ; a:f16[2]. let\n  in (a) }", "unknown dtype 'f16'"},
    {HDR "    c:f32[] = reduce_sum[axis=(0)] a\n  in (c) }", "expected attribute 'axes'"},
    {HDR "    c:f32[] = reduce_sum a\n  in (c) }", "expected '[' and the attributes"},
    {HDR "    c:f32[2] = add[x=(1)] a a\n  in (c) }", "takes no attributes"},
    {HDR "    c:f32[2] = constant[value=[1.0,2.0,3.0]]\n  in (c) }", "too many values"},
    {HDR "    c:f32[2] = constant[value=[1.0]]\n  in (c) }", "too few values"},
    {HDR "    c:f32[2] = constant[values=[1.0]]\n  in (c) }", "expected 'value'"},
    {HDR "    c:f32[2] = transpose[permutation=(0,1,2,3,4,5,6,7,8)] a\n  in (c) }",
     "too many values in attribute 'permutation'"},
    {"{ lambda ; a:f32[1,1,1,1,1,1,1,1,1]. let\n  in (a) }", "rank exceeds"},
    {"{ lambda ; a:f32[99999999999999999999]. let\n  in (a) }", "integer out of range"},
    {"{ lambda ; a:f32[4294967296,4294967296]. let\n  in (a) }", "shape too large"},
    {"{ lambda ; a:f32[-1]. let\n  in (a) }", "negative dimension"},
    {HDR "  in (1e999:f32[]) }", "out of range"},
    {HDR "  in (3000000000:i32[]) }", "i32 value '3000000000' out of range"},
    {HDR "  in (-1:u32[]) }", "out of range"},
    {HDR "  in (1.5:i32[]) }", "bad i32 value '1.5'"},
    {HDR "  in (2:bool[]) }", "bad bool value"},
    {HDR "  in (nan:i32[]) }", "bad i32 value"},
    {HDR "  in (-nan:f32[]) }", "bad f32 value"},
    {HDR "  in (0x10:f32[]) }", "bad f32 value"},
    {HDR "  in (1.0:f32[2]) }", "scalar type"},
    {HDR "    c:f32[3] = add a a\n  in (c) }", "line 2, column 7: declared type f32[3]"},
    {HDR "    c:f32[2] = add a b\n  in (c) }", "line 2, column 16: "},
    {HDR "    c:f32[2] = neg a b\n  in (c) }", "neg takes 1 operand, got 2"},
    {HDR "    c:f32[2] = concatenate[dimension=(0)]\n  in (c) }", "at least 1 operand"},
    {HDR "    c:i32[3] = iota[dimension=(1)]\n  in (c) }", "out of range"},
    {HDR "    c:f32[2] = neg a    # nofileline\n  in (c) }", "bad location comment"},
    {HDR "    c:f32[2] neg a\n  in (c) }", "expected '='"},
    {HDR "    c:f32[2] = neg a\n  in (c) } extra", "unexpected 'extra' after '}'"},
    {HDR "  in a }", "expected '(' and the outputs after 'in', got 'a'"},
    {HDR "  in (a, b }", "expected ',' or ')'"},
    {HDR "  @", "got '@'"},
    {"{ lambda ; :f32[2]. let\n  in () }", "expected an input"},
    {"{ lambda ; a:f32[2] let\n  in () }", "column 21: expected an input 'name:type' or '.', got 'let'"},
    {HDR "    c:f32[] = iota[dimension=(99999999999999999999)]\n  in (c) }",
     "integer out of range"},
    {"{ lambda ; a:f32[2]. let\n    \x01", "byte 0x01"},
    {HDR "    c:f32[2] = neg a    # f.c:99999999999\n  in (c) }", "bad line number"},
};

TEST(malformed_texts_fail_with_line_and_column) {
    for (size_t i = 0; i < sizeof tx_bad / sizeof *tx_bad; i++) {
        jx_clear_error();
        jx_fn *f = jx_fn_parse(tx_bad[i].text);
        if (f) {
            CHECK_FAIL_("case %zu parsed:\n%s", i, tx_bad[i].text);
            jx_fn_free(f);
            continue;
        }
        if (strncmp(jx_error(), "line ", 5) || !strstr(jx_error(), tx_bad[i].want))
            CHECK_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, jx_error(), tx_bad[i].want);
    }
    CHECK(sizeof tx_bad / sizeof *tx_bad >= 25);
}

TEST(shape_rule_errors_pass_through) {
    jx_fn *f = jx_fn_parse(HDR "    c:f32[2] = add a b    # model.c:9\n  in (c) }");
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "line 2, column 16: model.c:9: add");
    CHECK_CONTAINS(jx_error(), "f32[3]");
}

TEST(very_long_identifiers_and_numbers) {
    size_t n = 100000;
    char *text = malloc(n + 200);
    strcpy(text, HDR "    c:f32[2] = neg ");
    size_t k = strlen(text);
    memset(text + k, 'q', n);
    strcpy(text + k + n, "\n  in (c) }");
    jx_fn *f = jx_fn_parse(text);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "undefined variable 'qqqq");
    CHECK(strlen(jx_error()) < 200);
    memset(text + k - 4, 'p', n); /* a very long primitive name */
    f = jx_fn_parse(text);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "unknown primitive 'pppp");
    strcpy(text, HDR "  in (");
    k = strlen(text);
    memset(text + k, '7', n);
    strcpy(text + k + n, ".0:f32[]) }");
    f = jx_fn_parse(text);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "too long");
    free(text);
    CHECK(jx_fn_parse(NULL) == NULL);
}

/* Every prefix and many one-byte mutations of a valid text: no crash or leak; anything
 * that parses prints to a fixed point. */
TEST(truncations_and_mutations_never_crash) {
    const char *text =
        "{ lambda ; a:f32[2,3] b:f32[3]. let\n"
        "    c:f32[2,3] = broadcast_in_dim[shape=(2,3) broadcast_dimensions=(1)] b    # g.c:1\n"
        "    d:f32[2,3] = add a c    # g.c:2\n"
        "    e:f32[2,2] = constant[value=[1.0,nan,-inf,3e-07]]\n"
        "    f:f32[2] = reduce_sum[axes=(1)] d    # g.c:3\n"
        "    g:f32[] = mul 0.5:f32[] -2.0:f32[]\n"
        "  in (f, g, e, true:bool[]) }\n";
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    int parsed = 0;
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(buf, text, cut);
        buf[cut] = 0;
        jx_fn *f = jx_fn_parse(buf);
        if (f) {
            CHECK(cut >= len - 1); /* only the final newline may go */
            jx_fn_free(f);
        } else if (strncmp(jx_error(), "line ", 5)) {
            CHECK_FAIL_("prefix %zu: %s", cut, jx_error());
        }
    }
    const char subs[] = " x0[:\n-9,(.#]";
    for (size_t i = 0; i < len; i++) {
        for (const char *c = subs; *c; c++) {
            memcpy(buf, text, len + 1);
            buf[i] = *c;
            jx_fn *f = jx_fn_parse(buf);
            if (!f) {
                if (strncmp(jx_error(), "line ", 5)) CHECK_FAIL_("mutation: %s", jx_error());
                continue;
            }
            parsed++;
            char *s1 = jx_fn_to_string(f);
            jx_fn *g = jx_fn_parse(s1);
            char *s2 = g ? jx_fn_to_string(g) : NULL;
            if (!s2 || strcmp(s1, s2)) CHECK_FAIL_("not a fixed point:\n%s", buf);
            free(s1);
            free(s2);
            jx_fn_free(g);
            jx_fn_free(f);
        }
    }
    CHECK(parsed > 0);
    free(buf);
}

TEST_MAIN()
