/* The IR text form: multiple outputs, scalar literals, NaN/inf, exact f32/f64
 * values, integer and bool constants, names and location comments, Graphviz output, and
 * the folded form (sub-functions as "..."). */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "core/ir.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)
#define U32(...) JX_TYPE(JX_U32, __VA_ARGS__)
#define BOOL(...) JX_TYPE(JX_BOOL, __VA_ARGS__)

#include "text_util.h"

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
    jx_fn *f = tx_parse_exact(text);
    jx_array *o[3] = {0};
    CHECK(!f || jx_interp(f, NULL, o) == 0);
    if (o[0]) CHECK(jx_array_get(o[0], 0) == -2147483648.0);
    if (o[1]) CHECK(jx_array_get(o[1], 1) == 4294967295.0);
    if (o[2]) CHECK(jx_array_get(o[2], 0) == 1 && jx_array_get(o[2], 1) == 0);
    for (int i = 0; i < 3; i++) jx_array_free(o[i]);
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
    jx_fn *f = tx_parse_exact(text);
    if (f) {
        CHECK_CONTAINS(f->nodes[1].loc.file, "some dir/with: colon.c");
        CHECK(f->nodes[1].loc.line == 77);
        CHECK(f->nodes[2].loc.file == NULL);
    }
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

/* ---- the folded form (jx_fn_print_opts with JX_PRINT_FOLD) --------------------------- */

/* relu (a custom_jvp), then x*x as a custom_jvp and as a custom_vjp, then an add. */
static void tx_customs(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val a = jx_relu(in[0]);
    jx_val b = jx_custom_jvp(tx_sq, tx_sq_jvp, 1, &a, NULL);
    jx_val c = jx_custom_vjp(tx_sq, tx_sq_fwd, tx_sq_bwd, 1, 1, &b, NULL);
    out[0] = jx_add(c, a);
}

/* Prints f with flags into a malloc'd string; NULL when jx_fn_print_opts fails. */
static char *tx_print_opts(const jx_fn *f, int flags) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = m ? jx_fn_print_opts(f, m, flags) : -1;
    if (m) fclose(m);
    if (rc < 0) free(buf);
    return rc < 0 ? NULL : buf;
}

TEST(fold_prints_custom_nodes_one_line_each) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(tx_customs, 1, &ty, 1, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *full = jx_fn_to_string(f), *plain = tx_print_opts(f, 0), *fold = tx_print_opts(f, JX_PRINT_FOLD);
    CHECK(full && plain && fold);
    if (full && plain) CHECK(!strcmp(full, plain)); /* 0: jx_fn_print's parseable form */
    if (full) CHECK_CONTAINS(full, "call={ lambda");
    if (fold) {
        CHECK_CONTAINS(fold, "{ lambda ; a:f32[3]. let\n    b:f32[3] = custom_jvp[...] a    # ");
        CHECK_CONTAINS(fold, "\n    c:f32[3] = custom_jvp[...] b    # ");
        CHECK_CONTAINS(fold, "\n    d:f32[3] = custom_vjp[...] c    # ");
        CHECK_CONTAINS(fold, "\n    e:f32[3] = add d b    # ");
        CHECK_CONTAINS(fold, "\n  in (e) }\n");
        int lines = 0;
        for (const char *p = fold; *p; p++) lines += *p == '\n';
        CHECK(lines == 6); /* header, 4 equations, in */
        CHECK(strstr(fold, "lambda") == fold + 2 && !strstr(fold + 3, "lambda"));
        jx_fn *g = jx_fn_parse(fold); /* not the parseable form, and the parser says so */
        CHECK(g == NULL);
        jx_fn_free(g);
        jx_clear_error();
    }
    free(full), free(plain), free(fold);
    CHECK(jx_fn_print_opts(f, stdout, 2) == -1);
    CHECK_CONTAINS(jx_error(), "print: unknown flags 0x2");
    CHECK(jx_fn_print_opts(NULL, stdout, JX_PRINT_FOLD) == -1);
    CHECK_CONTAINS(jx_error(), "print: NULL function");
    CHECK(jx_fn_print_opts(f, NULL, JX_PRINT_FOLD) == -1);
    CHECK_CONTAINS(jx_error(), "print: NULL stream");
    jx_clear_error();
    jx_fn_free(f);
}

TEST_MAIN()
