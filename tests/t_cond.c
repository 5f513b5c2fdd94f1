/* Control flow, first part (issue 11): cond/switch as one multi-result node whose results
 * are the gets after it. The interpreter picks the branch (index clamped); the text form
 * prints the node with its results on the left and parses back to the same function; bad
 * branches, indices and hand-written IR are refused with clear messages. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

/* Three branches of (x[3], s[]) -> (f64[3], f64[]). */
static void br0(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], in[1]);
    out[1] = jx_sum_all(in[0]);
}
static void br1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], in[1]);
    out[1] = jx_neg(in[1]);
}
static void br2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_tanh(in[0]);
    out[1] = in[1];
}
static const jx_trace_cb three[3] = {br0, br1, br2};

/* f(i, x, s) = switch(i, three, x, s), plus x * 2 after it (an op reading a result). */
static void f_switch(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val r[2];
    if (jx_switch(in[0], 3, three, NULL, 2, in + 1, 2, r) < 0) return;
    out[0] = jx_mul(r[0], jx_lit(r[0], 2));
    out[1] = r[1];
}

static const jx_type sw_types[3] = {{JX_I32, 0, {0}}, {JX_F64, 1, {3}}, {JX_F64, 0, {0}}};

/* Runs fn on (i, x = [1,2,3], s = 0.5) and returns outputs in o. */
static int run_at(const jx_fn *fn, int i, jx_array **o) {
    jx_array *in[3] = {jx_array_scalar(JX_I32, i), jx_array_new_type(&sw_types[1]),
                       jx_array_scalar(JX_F64, 0.5)};
    for (int k = 0; k < 3; k++) jx_array_set(in[1], k, k + 1);
    int rc = jx_interp(fn, in, o);
    txc_free(3, in);
    return rc;
}

TEST(switch_picks_the_branch_clamped) {
    jx_fn *f = jx_trace(f_switch, 3, sw_types, 2, NULL);
    CHECK(f != NULL && jx_fn_verify(f) == 0);
    if (!f) return;
    const int idx[6] = {-3, 0, 1, 2, 3, 99};
    const double want0[6] = {3, 3, 1, 2 * tanh(1), 2 * tanh(1), 2 * tanh(1)};
    const double want1[6] = {6, 6, -0.5, 0.5, 0.5, 0.5};
    for (int c = 0; c < 6; c++) {
        jx_array *o[2] = {0};
        CHECK(run_at(f, idx[c], o) == 0);
        if (o[0]) CHECK_NEAR(jx_array_get(o[0], 0), want0[c], 1e-15);
        if (o[1]) CHECK_NEAR(jx_array_get(o[1], 0), want1[c], 1e-15);
        txc_free(2, o);
    }
    jx_fn_free(f);
}

/* cond(x[0] > 0, tanh-branch, add-branch) on a bool predicate. */
static void f_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val pred = jx_gt(jx_sum_all(in[1]), jx_lit(in[2], 0));
    jx_cond(pred, br2, br0, NULL, 2, in + 1, 2, out);
}

TEST(cond_on_a_bool) {
    jx_fn *f = jx_trace(f_cond, 3, sw_types, 2, NULL);
    CHECK(f != NULL);
    jx_array *o[2] = {0};
    if (f) CHECK(run_at(f, 0, o) == 0); /* sum = 6 > 0: the true branch, br2 */
    if (o[0]) CHECK_NEAR(jx_array_get(o[0], 2), tanh(3), 1e-15);
    if (o[1]) CHECK(jx_array_get(o[1], 0) == 0.5);
    txc_free(2, o);
    jx_fn_free(f);
}

TEST(text_round_trip) {
    jx_fn *f = jx_trace(f_switch, 3, sw_types, 2, NULL);
    char *s1 = f ? jx_fn_to_string(f) : NULL;
    CHECK(s1 && strstr(s1, ":f64[3] ") && strstr(s1, " = cond[\n") && strstr(s1, "branch={ lambda"));
    jx_fn *g = s1 ? jx_fn_parse(s1) : NULL;
    if (!g) printf("  %s\n", jx_error());
    char *s2 = g ? jx_fn_to_string(g) : NULL;
    CHECK(s2 && !strcmp(s1, s2));
    CHECK(g && jx_fn_verify(g) == 0);
    jx_array *o[2] = {0};
    if (g) CHECK(run_at(g, 1, o) == 0);
    if (o[1]) CHECK(jx_array_get(o[1], 0) == -0.5);
    txc_free(2, o);
    free(s1), free(s2);
    jx_fn_free(f), jx_fn_free(g);
}

/* A branch whose outputs differ from branch 0's. */
static void br_bad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = in[0];
    out[1] = jx_convert(in[1], JX_F32);
}
static int bad_line;
static void f_bad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    int which = *(int *)user;
    jx_val idx = which == 1 ? in[2] : in[0];
    jx_trace_cb brs[2] = {br0, which == 2 ? NULL : br_bad};
    bad_line = __LINE__ + 1;
    int rc = jx_switch(idx, which == 3 ? 0 : 2, brs, NULL, 2, in + 1, 2, out);
    CHECK(rc == -1 && jx_val_bad(out[0]) && jx_val_bad(out[1]));
}

TEST(bad_branches_and_indices) {
    const char *want[4] = {"cond: rule 'branch 1' maps (f64[3], f64[]) -> (f64[3], f32[]), expected "
                           "(f64[3], f64[]) -> (f64[3], f64[])",
                           "cond: the index must be an integer or bool scalar, got f64[]",
                           "cond: NULL 'branch 1' callback", "cond: 0 branches"};
    for (int which = 0; which < 4; which++) {
        CHECK(jx_trace(f_bad, 3, sw_types, 2, &which) == NULL);
        CHECK_CONTAINS(jx_error(), want[which]);
        char line[32];
        snprintf(line, sizeof line, "t_cond.c:%d", bad_line);
        CHECK_CONTAINS(jx_error(), line);
    }
}

TEST(hand_written_ir_is_checked) {
    const char *head = "{ lambda ; a:i32[] b:f64[]. let\n"
                       "    c:f64[] d:f64[] = cond[branch={ lambda ; a:f64[]. let\n"
                       "        b:f64[] = neg a\n      in (b, a) }] a b\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s    e:f64[] = add c d\n  in (e) }", head);
    jx_fn *f = jx_fn_parse(buf);
    CHECK(f != NULL && jx_fn_verify(f) == 0);
    jx_fn_free(f);
    /* one name too few, a wrong declared type */
    snprintf(buf, sizeof buf, "{ lambda ; a:i32[] b:f64[]. let\n"
             "    c:f64[] = cond[branch={ lambda ; a:f64[]. let\n"
             "        b:f64[] = neg a\n      in (b, a) }] a b\n  in (c) }");
    CHECK(jx_fn_parse(buf) == NULL);
    CHECK_CONTAINS(jx_error(), "2 results, room for 1");
    snprintf(buf, sizeof buf, "{ lambda ; a:i32[] b:f64[]. let\n"
             "    c:f64[] d:f32[] = cond[branch={ lambda ; a:f64[]. let\n"
             "        b:f64[] = neg a\n      in (b, a) }] a b\n  in (c) }");
    CHECK(jx_fn_parse(buf) == NULL);
    CHECK_CONTAINS(jx_error(), "declared type f32[] does not match the type f64[] that cond gives");
    /* a lone get, and two results on a single-result op */
    CHECK(jx_fn_parse("{ lambda ; a:f64[]. let\n    b:f64[] = get[index=(0)] a\n  in (b) }") == NULL);
    CHECK_CONTAINS(jx_error(), "get: must directly follow the node whose results it names");
    CHECK(jx_fn_parse("{ lambda ; a:f64[]. let\n    b:f64[] c:f64[] = neg a\n  in (b) }") == NULL);
    CHECK_CONTAINS(jx_error(), "neg gives 1 result, the equation names 2");
}

/* The JIT runs cond like the interpreter (up to its own tanh), clamped indices too (more:
 * t_jit_control.c). */
TEST(jit_runs_cond) {
    jx_fn *f = jx_trace(f_switch, 3, sw_types, 2, NULL);
    jx_exe *e = f ? jx_jit(f, NULL) : NULL;
    CHECK(e != NULL);
    if (!e) printf("  %s\n", jx_error());
    const int idx[4] = {-3, 1, 2, 99};
    for (int c = 0; e && c < 4; c++) {
        jx_array *in[3] = {jx_array_scalar(JX_I32, idx[c]), jx_array_new_type(&sw_types[1]),
                           jx_array_scalar(JX_F64, 0.5)}, *o[2] = {0}, *w[2] = {0};
        for (int k = 0; k < 3; k++) jx_array_set(in[1], k, k + 1);
        CHECK(jx_exe_run(e, in, o) == 0 && jx_interp(f, in, w) == 0);
        for (int j = 0; j < 2 && o[j] && w[j]; j++)
            for (int k = 0; k < jx_array_size(w[j]); k++)
                CHECK_NEAR(jx_array_get(o[j], k), jx_array_get(w[j], k), 1e-15); /* tanh */
        txc_free(3, in), txc_free(2, o), txc_free(2, w);
    }
    jx_exe_free(e), jx_fn_free(f);
}

/* Two equal switches and a first result nobody reads: simplify keeps each node's run of
 * gets whole (no CSE across it, DCE keeps unused results) and the value is unchanged. */
static void f_twice(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val r[2], q[2];
    jx_switch(in[0], 3, three, NULL, 2, in + 1, 2, r);
    jx_switch(in[0], 3, three, NULL, 2, in + 1, 2, q);
    out[0] = jx_add(r[1], q[1]); /* only result 1 of each */
}

TEST(simplify_keeps_result_runs) {
    jx_fn *f = jx_trace(f_twice, 3, sw_types, 1, NULL);
    jx_fn *g = f ? jx_simplify(f) : NULL;
    CHECK(g != NULL && jx_fn_verify(g) == 0);
    if (!g) printf("  %s\n", jx_error());
    for (int i = -1; g && i < 4; i++) {
        jx_array *a = NULL, *b = NULL;
        CHECK(run_at(f, i, &a) == 0 && run_at(g, i, &b) == 0);
        if (a && b) CHECK(jx_array_get(a, 0) == jx_array_get(b, 0));
        jx_array_free(a), jx_array_free(b);
    }
    jx_fn_free(f), jx_fn_free(g);
}

TEST_MAIN()
