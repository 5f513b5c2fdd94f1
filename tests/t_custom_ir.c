/* Sub-functions in the IR (function-valued attributes of custom_jvp / custom_vjp nodes):
 * the text round trip of nested functions, malformed and too-deep nesting, the verifier,
 * CSE (merged only when identical), the JIT cache key and the DOT output. */
#include "check.h"
#include "core/ir.h"
#include "transform/passes.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)

/* x*x, with rule 2 x dx (jvp) or residual x and cotangent 2 x ct (vjp). */
static void sq(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
}
static void sq_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = jx_mul(jx_lit(in[0], 2.0), jx_mul(in[0], in[1]));
}
/* A different rule of the same types (3 x dx). */
static void sq_jvp3(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = jx_mul(jx_lit(in[0], 3.0), jx_mul(in[0], in[1]));
}
static void cube(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], jx_mul(in[0], in[0]));
}
static void cube_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], jx_mul(in[0], in[0]));
    out[1] = jx_mul(jx_lit(in[0], 3.0), jx_mul(jx_mul(in[0], in[0]), in[1]));
}
/* f(x) = custom_jvp(sq)(x) + 1, whose call is itself custom (nested two levels). */
static void outer_call(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(jx_custom_jvp(sq, sq_jvp, 1, in, NULL), jx_lit(in[0], 1.0));
}
static void outer_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(jx_mul(in[0], in[0]), jx_lit(in[0], 1.0));
    out[1] = jx_mul(jx_lit(in[0], 2.0), jx_mul(in[0], in[1]));
}
static void nested(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_custom_jvp(outer_call, outer_jvp, 1, in, NULL);
}

/* Counts the nodes of op in f (not inside sub-functions). */
static int count_op(const jx_fn *f, jx_op op) {
    int c = 0;
    for (int i = 0; i < f->n_nodes; i++) c += f->nodes[i].op == op;
    return c;
}

TEST(nested_round_trip) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(nested, 1, &ty, 1, NULL);
    CHECK(f != NULL);
    CHECK(jx_fn_verify(f) == 0);
    char *s1 = jx_fn_to_string(f);
    jx_fn *g = jx_fn_parse(s1);
    CHECK(g != NULL);
    if (!g) printf("%s\n%s\n", jx_error(), s1);
    char *s2 = g ? jx_fn_to_string(g) : NULL;
    CHECK(s2 && !strcmp(s1, s2));
    CHECK_CONTAINS(s1, "= custom_jvp[\n      call={ lambda ; a:f32[3]. let\n");
    CHECK_CONTAINS(s1, "          b:f32[3] = custom_jvp[\n            call={ lambda ; a:f32[3]. let");
    CHECK_CONTAINS(s1, "      jvp={ lambda ; a:f32[3] b:f32[3]. let");
    CHECK_CONTAINS(s1, "    ] a    # ");
    jx_fn *g2 = jx_fn_parse(s1); /* equal structure, separate sub-functions */
    CHECK(g && g2 && g->nodes[1].at.fns[0] != g2->nodes[1].at.fns[0] && ir_fn_equal(g, g2));
    jx_fn_free(g2);
    /* both compute 2 * 2 + 1 = 5 at x = 2 */
    jx_array *x = jx_array_new_type(&ty), *y = NULL;
    for (int i = 0; i < 3; i++) jx_array_set(x, i, 2.0);
    CHECK(g && jx_interp(g, &x, &y) == 0);
    CHECK(y && jx_array_get(y, 2) == 5.0);
    jx_array_free(x);
    jx_array_free(y);
    free(s1);
    free(s2);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* "{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call=<depth-1> jvp=...] a in (b) }". */
static char *deep_text(int depth) {
    const char *jvp = "jvp={ lambda ; a:f32[] b:f32[]. let in (a, b) }] a in (b) }";
    const char *head = "{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call=";
    size_t len = (strlen(head) + strlen(jvp) + 1) * (size_t)depth + 64;
    char *s = malloc(len), *p = s;
    for (int d = 0; d < depth; d++) p += sprintf(p, "%s", head);
    p += sprintf(p, "{ lambda ; a:f32[]. let in (a) } ");
    for (int d = 0; d < depth; d++) p += sprintf(p, "%s ", jvp);
    return s;
}

TEST(nesting_depth_limit) {
    char *ok = deep_text(JX_MAX_FN_DEPTH);
    jx_fn *f = jx_fn_parse(ok);
    CHECK(f != NULL);
    if (!f) printf("%s\n", jx_error());
    CHECK(f && jx_fn_verify(f) == 0);
    jx_fn_free(f);
    free(ok);
    char *bad = deep_text(JX_MAX_FN_DEPTH + 1);
    CHECK(jx_fn_parse(bad) == NULL);
    CHECK_CONTAINS(jx_error(), "nested deeper than 16 levels");
    free(bad);
    /* far deeper than any stack could take if the parser recursed without a limit */
    char *huge = deep_text(100000);
    CHECK(jx_fn_parse(huge) == NULL);
    CHECK_CONTAINS(jx_error(), "nested deeper than");
    free(huge);
}

/* Parses text, expecting failure with want in the message. */
static void parse_fails(const char *text, const char *want) {
    jx_fn *f = jx_fn_parse(text);
    CHECK(f == NULL);
    jx_fn_free(f);
    CHECK_CONTAINS(jx_error(), want);
}

TEST(malformed_nesting) {
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call={ lambda ; a:f32[]. let in (a) "
                "}] a in (b) }",
                "expected sub-function 'jvp' of custom_jvp");
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call={ lambda ; a:f32[]. let in (a) "
                "} jvp={ lambda ; a:f32[] c:f32[]. let in (a) }] a in (b) }",
                "rule 'jvp' maps (f32[], f32[]) -> (f32[]), expected (f32[], f32[]) -> "
                "(f32[], f32[])");
    /* sub-functions are closed: the outer 'a' is not visible inside */
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call={ lambda ; c:f32[]. let in (a) "
                "} jvp={ lambda ; a:f32[] c:f32[]. let in (a, c) }] a in (b) }",
                "undefined variable 'a'");
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call={ lambda ; a:f32[]. let",
                "line 1");
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = custom_jvp[call={ lambda ; a:f32[]. let in (a) "
                "} jvp={ lambda ; a:f32[] c:f32[]. let in (a, c) } x=(1)] a in (b) }",
                "expected ']' after the 2 attribute(s) of custom_jvp");
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = add[call={ lambda ; a:f32[]. let in (a) }] a a "
                "in (b) }",
                "primitive 'add' takes no attributes");
    parse_fails("{ lambda ; a:f32[]. let b:f32[] = custom_jvp a in (b) }",
                "expected '[' and the attributes");
}

TEST(verify_checks_sub_functions) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(nested, 1, &ty, 1, NULL);
    CHECK(f && jx_fn_verify(f) == 0);
    /* a node whose sub-function count is wrong is caught */
    jx_node *n = &f->nodes[f->outs[0]];
    CHECK(n->op == JX_OP_CUSTOM_JVP && n->at.n_fns == 2);
    n->at.n_fns = 1;
    CHECK(jx_fn_verify(f) < 0);
    CHECK_CONTAINS(jx_error(), "has 1 sub-functions, expected 2");
    n->at.n_fns = 2;
    jx_fn_free(f);
}

/* y = custom_jvp(sq, rule_a)(x) + custom_jvp(sq, rule_b)(x). */
static void two_customs(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    jx_trace_cb second = u ? (jx_trace_cb)sq_jvp3 : (jx_trace_cb)sq_jvp;
    out[0] = jx_add(jx_custom_jvp(sq, sq_jvp, 1, in, NULL), jx_custom_jvp(sq, second, 1, in, NULL));
}

TEST(cse_merges_only_identical_sub_functions) {
    jx_type ty = F32(3);
    int different = 1;
    jx_fn *same = jx_trace(two_customs, 1, &ty, 1, NULL);
    jx_fn *diff = jx_trace(two_customs, 1, &ty, 1, &different);
    jx_fn *s1 = same ? jx_simplify(same) : NULL, *s2 = diff ? jx_simplify(diff) : NULL;
    CHECK(s1 && count_op(s1, JX_OP_CUSTOM_JVP) == 1);
    CHECK(s2 && count_op(s2, JX_OP_CUSTOM_JVP) == 2);
    jx_fn *c = s2 ? pass_run_list(s2, "cse") : NULL;
    CHECK(c && count_op(c, JX_OP_CUSTOM_JVP) == 2);
    jx_fn_free(c);
    jx_fn_free(s1);
    jx_fn_free(s2);
    jx_fn_free(same);
    jx_fn_free(diff);
}

static void one_custom(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    out[0] = u ? jx_custom_jvp(cube, cube_jvp, 1, in, NULL) : jx_custom_jvp(sq, sq_jvp, 1, in, NULL);
}

/* Two functions that differ only inside a sub-function must not share a compiled
 * executable: the cache key hashes sub-functions. */
TEST(jit_cache_key_sees_sub_functions) {
    jx_type ty = F32(4);
    int c = 1;
    jx_fn *fs = jx_trace(one_custom, 1, &ty, 1, NULL), *fc = jx_trace(one_custom, 1, &ty, 1, &c);
    jx_exe *es = fs ? jx_jit(fs, NULL) : NULL, *ec = fc ? jx_jit(fc, NULL) : NULL;
    CHECK(es && ec);
    jx_array *x = jx_array_new_type(&ty), *ys = NULL, *yc = NULL;
    for (int i = 0; i < 4; i++) jx_array_set(x, i, 3.0);
    CHECK(es && jx_exe_run(es, &x, &ys) == 0 && jx_array_get(ys, 0) == 9.0);
    CHECK(ec && jx_exe_run(ec, &x, &yc) == 0 && jx_array_get(yc, 0) == 27.0);
    jx_array_free(x);
    jx_array_free(ys);
    jx_array_free(yc);
    jx_exe_free(es);
    jx_exe_free(ec);
    jx_fn_free(fs);
    jx_fn_free(fc);
}

TEST(inline_custom_pass_and_dot) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(nested, 1, &ty, 1, NULL);
    jx_fn *g = f ? pass_run_list(f, "inline-custom") : NULL;
    CHECK(g && count_op(g, JX_OP_CUSTOM_JVP) == 0 && count_op(g, JX_OP_MUL) == 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    jx_fn_dot(f, m);
    fclose(m);
    CHECK_CONTAINS(buf, "subgraph cluster_n1_0_ {");
    CHECK_CONTAINS(buf, "label=\"call: fn\"");
    CHECK_CONTAINS(buf, "label=\"jvp: fn\"");
    int clusters = 0; /* outer call and jvp, the inner custom's call and jvp */
    for (const char *p = strstr(buf, "subgraph cluster_n1_0_n"); p; p = strstr(p + 1, "subgraph cluster_"))
        clusters++;
    CHECK(clusters == 3);
    CHECK_CONTAINS(buf, " -> n1 [style=dotted]");
    free(buf);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
