/* scan's jvp (issue 11): a scan of the body's jvp, carry tangents carried. Checked
 * against the jvp of the same computation unrolled (forward and reversed, all tangents
 * or only the xs', whose carry tangent the fixpoint must start), against central finite
 * differences, jvp of jvp, a scan inside a cond branch, an integer carry, and the text
 * round trip. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

enum { L = 5, D = 3 };

/* (h, W, n, x) -> (tanh(W h + x * n), W, n + 1, sum(h')): n an integer carry. */
static void cell(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_matvec(in[1], in[0]), jx_mul(in[3], jx_convert(in[2], JX_F64))));
    out[0] = h;
    out[1] = in[1];
    out[2] = jx_add(in[2], jx_lit(in[2], 1));
    out[3] = jx_sum_all(h);
}

/* (h0, W, n0, xs[L,D]) -> (h_L, n_L, ys[L]) */
static void scanned(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val c[3], ys;
    jx_scan(cell, NULL, 3, in, 1, in + 3, -1, *(const int *)user, 1, c, &ys);
    out[0] = jx_mul(c[0], c[0]);
    out[1] = c[2];
    out[2] = ys;
}

static void unrolled(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    int reverse = *(const int *)user;
    jx_val c[3] = {in[0], in[1], in[2]}, ys[L];
    for (int s = 0; s < L; s++) {
        int i = reverse ? L - 1 - s : s;
        jx_val x = jx_reshape(jx_slice(in[3], JX_INTS(i, 0), JX_INTS(i + 1, D), JX_INTS(1, 1)),
                              JX_INTS(D));
        jx_val a[4] = {c[0], c[1], c[2], x}, o[4];
        cell(t, a, o, NULL);
        c[0] = o[0], c[1] = o[1], c[2] = o[2];
        ys[i] = jx_reshape(o[3], JX_INTS(1));
    }
    out[0] = jx_mul(c[0], c[0]);
    out[1] = c[2];
    out[2] = jx_concatenate(L, ys, 0);
}

static const jx_type types[4] = {{JX_F64, 1, {D}}, {JX_F64, 2, {D, D}}, {JX_I32, 0, {0}},
                                 {JX_F64, 2, {L, D}}};

/* Runs a and b on the same random inputs; every output equal within tol. */
static void same_values(const jx_fn *a, const jx_fn *b, double tol) {
    int ni = jx_fn_n_in(a), no = jx_fn_n_out(a);
    CHECK(ni == jx_fn_n_in(b) && no == jx_fn_n_out(b) && ni <= 16 && no <= 16);
    if (ni != jx_fn_n_in(b) || no != jx_fn_n_out(b) || ni > 16 || no > 16) return;
    jx_array *in[16] = {0}, *ya[16] = {0}, *yb[16] = {0};
    for (int i = 0; i < ni; i++) in[i] = txc_random(jx_fn_in_type(a, i), -1, 1);
    CHECK(jx_interp(a, in, ya) == 0 && jx_interp(b, in, yb) == 0);
    for (int j = 0; j < no && ya[j] && yb[j]; j++)
        for (int64_t e = 0; e < jx_array_size(ya[j]); e++)
            CHECK_NEAR(jx_array_get(ya[j], e), jx_array_get(yb[j], e), tol);
    txc_free(ni, in), txc_free(no, ya), txc_free(no, yb);
}

/* jvp(scanned, wrt) == jvp(unrolled, wrt), the scan's jvp still one scan node. */
static void jvp_vs_unrolled(int reverse, const unsigned char *wrt) {
    jx_fn *a = jx_trace(scanned, 4, types, 3, &reverse);
    jx_fn *b = jx_trace(unrolled, 4, types, 3, &reverse);
    jx_fn *ja = a ? jx_jvp(a, wrt) : NULL, *jb = b ? jx_jvp(b, wrt) : NULL;
    CHECK(ja && jb);
    if (!ja || !jb) printf("  %s\n", jx_error());
    if (ja && jb) {
        same_values(ja, jb, 1e-12);
        CHECK(jx_fn_n_eqns(ja) < 20);
    }
    jx_fn *jja = ja ? jx_jvp(ja, NULL) : NULL, *jjb = jb ? jx_jvp(jb, NULL) : NULL;
    CHECK(jja && jjb);
    if (jja && jjb) same_values(jja, jjb, 1e-12);
    jx_fn_free(a), jx_fn_free(b), jx_fn_free(ja), jx_fn_free(jb), jx_fn_free(jja),
        jx_fn_free(jjb);
}

TEST(jvp_equals_the_unrolled_jvp) {
    const unsigned char xs_only[4] = {0, 0, 0, 1}, w_only[4] = {0, 1, 0, 0};
    for (int reverse = 0; reverse < 2; reverse++) {
        jvp_vs_unrolled(reverse, NULL);
        jvp_vs_unrolled(reverse, xs_only); /* h's tangent starts in the loop (fixpoint) */
        jvp_vs_unrolled(reverse, w_only);
    }
}

/* The jvp against central differences (float inputs, h = 1e-6). */
TEST(jvp_matches_finite_differences) {
    int reverse = 1;
    jx_fn *f = jx_trace(scanned, 4, types, 3, &reverse), *j = f ? jx_jvp(f, NULL) : NULL;
    CHECK(j != NULL);
    if (!j) return;
    jx_array *x[4], *v[4], *xp[4], *xm[4], *in[8], *out[6] = {0}, *yp[3] = {0}, *ym[3] = {0};
    const double h = 1e-6;
    for (int i = 0; i < 4; i++) {
        x[i] = txc_random(types[i], -1, 1), v[i] = txc_random(types[i], -1, 1);
        xp[i] = jx_array_copy(x[i]), xm[i] = jx_array_copy(x[i]);
        for (int64_t e = 0; i != 2 && e < jx_array_size(x[i]); e++) {
            jx_array_set(xp[i], e, jx_array_get(x[i], e) + h * jx_array_get(v[i], e));
            jx_array_set(xm[i], e, jx_array_get(x[i], e) - h * jx_array_get(v[i], e));
        }
        in[i] = x[i], in[4 + i] = v[i];
    }
    CHECK(jx_interp(j, in, out) == 0 && jx_interp(f, xp, yp) == 0 && jx_interp(f, xm, ym) == 0);
    for (int k = 0; k < 3; k += 2) /* the float outputs */
        for (int64_t e = 0; out[3 + k] && yp[k] && e < jx_array_size(yp[k]); e++)
            CHECK_NEAR(jx_array_get(out[3 + k], e),
                       (jx_array_get(yp[k], e) - jx_array_get(ym[k], e)) / (2 * h), 1e-6);
    txc_free(4, x), txc_free(4, v), txc_free(4, xp), txc_free(4, xm);
    txc_free(6, out), txc_free(3, yp), txc_free(3, ym);
    jx_fn_free(f), jx_fn_free(j);
}

/* A scan inside a cond branch: the cond's jvp takes the branch's jvp, hence the scan's. */
static void br_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val o[3];
    int fwd = 0;
    (void)user;
    scanned(t, in, o, &fwd);
    out[0] = jx_sum_all(o[2]);
}
static void br_unrolled(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val o[3];
    int fwd = 0;
    (void)user;
    unrolled(t, in, o, &fwd);
    out[0] = jx_sum_all(o[2]);
}
static void br_other(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_sin(in[3]));
}
static void in_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val p = jx_gt(jx_sum_all(in[0]), jx_lit(in[0], 0));
    jx_cond(p, user ? br_unrolled : br_scan, br_other, NULL, 4, in, 1, out);
}

TEST(scan_inside_a_cond_branch) {
    jx_fn *a = jx_trace(in_cond, 4, types, 1, NULL), *b = jx_trace(in_cond, 4, types, 1, "u");
    jx_fn *ja = a ? jx_jvp(a, NULL) : NULL, *jb = b ? jx_jvp(b, NULL) : NULL;
    CHECK(ja && jb);
    if (!ja) printf("  %s\n", jx_error());
    for (int rep = 0; ja && jb && rep < 4; rep++) same_values(ja, jb, 1e-12);
    jx_fn_free(a), jx_fn_free(b), jx_fn_free(ja), jx_fn_free(jb);
}

TEST(jvp_prints_and_parses_back) {
    int reverse = 1;
    jx_fn *f = jx_trace(scanned, 4, types, 3, &reverse), *j = f ? jx_jvp(f, NULL) : NULL;
    char *s1 = j ? jx_fn_to_string(j) : NULL;
    jx_fn *p = s1 ? jx_fn_parse(s1) : NULL;
    char *s2 = p ? jx_fn_to_string(p) : NULL;
    CHECK(s1 && strstr(s1, "= scan[") && s2 && !strcmp(s1, s2));
    if (p) same_values(j, p, 0);
    free(s1), free(s2);
    jx_fn_free(f), jx_fn_free(j), jx_fn_free(p);
}

TEST_MAIN()
