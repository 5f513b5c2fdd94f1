/* scan (issue 11): one node, the body traced once; the interpreter's loop against the
 * same computation unrolled by hand, forward and reversed; nested scans; the text form's
 * round trip; bad arguments refused. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

enum { L = 6, D = 4 };

/* An Elman-like cell: h' = tanh(W h + x), y = sum(h'). */
static void cell(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_matvec(in[1], in[0]), in[2]));
    out[0] = h;
    out[1] = in[1]; /* W carried unchanged */
    out[2] = jx_sum_all(h);
}

/* scanned(h0, W, xs[L,D]) = scan(cell) -> (h_L, ys[L]) */
static void scanned(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    int reverse = *(const int *)user;
    jx_val carry[2];
    jx_scan(cell, NULL, 2, in, 1, in + 2, -1, reverse, 1, carry, out + 1);
    out[0] = carry[0];
}

/* The same unrolled: L copies of the cell, in order or reversed. */
static void unrolled(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    int reverse = *(const int *)user;
    jx_val h = in[0], ys[L];
    for (int s = 0; s < L; s++) {
        int i = reverse ? L - 1 - s : s;
        jx_val x = jx_reshape(jx_slice(in[2], JX_INTS(i, 0), JX_INTS(i + 1, D), JX_INTS(1, 1)),
                              JX_INTS(D));
        jx_val args[3] = {h, in[1], x}, o[3];
        cell(t, args, o, NULL);
        h = o[0];
        ys[i] = jx_reshape(o[2], JX_INTS(1));
    }
    out[0] = h;
    out[1] = jx_concatenate(L, ys, 0);
}

static const jx_type types[3] = {{JX_F64, 1, {D}}, {JX_F64, 2, {D, D}}, {JX_F64, 2, {L, D}}};

/* scan equals its unrolling bit for bit, forward and reversed. */
static void scan_vs_unrolled(int reverse) {
    jx_fn *a = jx_trace(scanned, 3, types, 2, &reverse);
    jx_fn *b = jx_trace(unrolled, 3, types, 2, &reverse);
    CHECK(a && b);
    if (!a || !b) {
        printf("  %s\n", jx_error());
        jx_fn_free(a), jx_fn_free(b);
        return;
    }
    CHECK(jx_fn_n_eqns(a) < 10); /* one scan node and its gets, not L copies */
    jx_array *in[3], *ya[2] = {0}, *yb[2] = {0};
    for (int i = 0; i < 3; i++) in[i] = txc_random(types[i], -1, 1);
    CHECK(jx_interp(a, in, ya) == 0 && jx_interp(b, in, yb) == 0);
    for (int j = 0; j < 2; j++)
        if (ya[j] && yb[j])
            CHECK(jx_array_nbytes(ya[j]) == jx_array_nbytes(yb[j]) &&
                  !memcmp(jx_array_cdata(ya[j]), jx_array_cdata(yb[j]), jx_array_nbytes(ya[j])));
    txc_free(3, in), txc_free(2, ya), txc_free(2, yb);
    jx_fn_free(a), jx_fn_free(b);
}

TEST(scan_equals_unrolled) { scan_vs_unrolled(0); }
TEST(reverse_scan_equals_reversed_unrolling) { scan_vs_unrolled(1); }

/* Inner: cumulative sum over a row; outer: scans the inner over the rows of m[3,4]. */
static void inner(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], in[1]);
    out[1] = out[0];
}
static void outer(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val c, ys;
    jx_scan(inner, NULL, 1, &in[0], 1, &in[1], -1, 0, 1, &c, &ys);
    out[0] = c;  /* the row's total carries into the next row */
    out[1] = ys; /* the row's running sums */
}
static void nested(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(outer, NULL, 1, &in[0], 1, &in[1], -1, 0, 1, &out[0], &out[1]);
}

TEST(scan_inside_scan_and_round_trip) {
    jx_type ty[2] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 3, 4)};
    jx_fn *f = jx_trace(nested, 2, ty, 2, NULL);
    CHECK(f != NULL && jx_fn_verify(f) == 0);
    if (!f) return;
    jx_array *in[2] = {jx_array_scalar(JX_F64, 0), jx_array_new_type(&ty[1])}, *o[2] = {0};
    for (int i = 0; i < 12; i++) jx_array_set(in[1], i, i + 1);
    CHECK(jx_interp(f, in, o) == 0);
    if (o[0]) CHECK(jx_array_get(o[0], 0) == 78); /* 1 + ... + 12 */
    for (int i = 0; o[1] && i < 12; i++) CHECK(jx_array_get(o[1], i) == (i + 1) * (i + 2) / 2);
    char *s1 = jx_fn_to_string(f);
    jx_fn *g = s1 ? jx_fn_parse(s1) : NULL;
    char *s2 = g ? jx_fn_to_string(g) : NULL;
    CHECK(s1 && s2 && !strcmp(s1, s2));
    CHECK(s1 && strstr(s1, "scan[length=(3) n_carry=(1) reverse=(0)"));
    CHECK(s1 && strstr(s1, "scan[length=(4) n_carry=(1) reverse=(0)"));
    free(s1), free(s2);
    txc_free(2, in), txc_free(2, o);
    jx_fn_free(f), jx_fn_free(g);
}

/* The body changes the carry's type: refused. */
static void bad_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_convert(in[0], JX_F32);
    out[1] = in[1];
}
static int bad_line;
static void bad_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    int which = *(const int *)user;
    jx_val c;
    bad_line = __LINE__ + 1; /* each call's own line: bad_line + which */
    int rc = which == 0 ? jx_scan(bad_body, NULL, 1, in, 1, in + 1, -1, 0, 1, &c, out)
           : which == 1 ? jx_scan(inner, NULL, 1, in, 1, in + 1, 5, 0, 1, &c, out)
                        : jx_scan(inner, NULL, 1, in, 0, NULL, -1, 0, 1, &c, out);
    CHECK(rc == -1 && jx_val_bad(out[0]));
}

TEST(bad_scans) {
    jx_type ty[2] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 4)};
    const char *want[3] = {"scan: rule 'body' maps (f64[], f64[]) -> (f32[], f64[]), expected "
                           "(f64[], f64[]) -> (f64[], f64[])",
                           "scan: xs 0 is f64[4], expected a leading axis of length 5",
                           "scan: no length: give one, or xs with a leading axis"};
    for (int which = 0; which < 3; which++) {
        CHECK(jx_trace(bad_scan, 2, ty, 1, &which) == NULL);
        CHECK_CONTAINS(jx_error(), want[which]);
        char line[32];
        snprintf(line, sizeof line, "t_scan.c:%d", bad_line + which);
        CHECK_CONTAINS(jx_error(), line);
    }
    CHECK(jx_fn_parse("{ lambda ; a:f64[] b:f64[4]. let\n"
                      "    c:f64[] d:f64[4] = scan[length=(3) n_carry=(1) reverse=(0)\n"
                      "      body={ lambda ; a:f64[] b:f64[]. let\n"
                      "          c:f64[] = add a b\n        in (c, c) }] a b\n  in (c) }") == NULL);
    CHECK_CONTAINS(jx_error(), "scanned operand 1 is f64[4], expected a leading axis of length 3");
}

TEST_MAIN()
