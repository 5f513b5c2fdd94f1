/* scan's vjp (issue 11): grad through lax.scan is a forward scan stacking what the
 * backward pass needs and a reverse scan of the body's vjp. Checked against the grad of
 * the same computation unrolled (an Elman RNN in f64 and f32, forward and reversed, an
 * integer counter carry, some inputs not differentiated), against finite differences,
 * second order (grad of grad, jvp of grad, hessian), a scan and a cond inside the body,
 * and the structure of the result (two scans, the backward one reversed, no unrolling). */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

#include "scan_models.h"

/* Runs a and b on the same random inputs in [-1, 1]; every output within relative tol. */
static void same_values(const jx_fn *a, const jx_fn *b, double tol) {
    int ni = jx_fn_n_in(a), no = jx_fn_n_out(a);
    CHECK(ni == jx_fn_n_in(b) && no == jx_fn_n_out(b) && ni <= 16 && no <= 16);
    if (ni != jx_fn_n_in(b) || no != jx_fn_n_out(b) || ni > 16 || no > 16) return;
    jx_array *in[16] = {0}, *ya[16] = {0}, *yb[16] = {0};
    for (int i = 0; i < ni; i++) in[i] = txc_random(jx_fn_in_type(a, i), -1, 1);
    int ra = jx_interp(a, in, ya), rb = jx_interp(b, in, yb);
    CHECK(ra == 0 && rb == 0);
    if (ra || rb) printf("  interp: %s\n", jx_error());
    for (int j = 0; j < no && ya[j] && yb[j]; j++)
        for (int64_t e = 0; e < jx_array_size(ya[j]); e++)
            CHECK_NEAR(jx_array_get(ya[j], e), jx_array_get(yb[j], e), tol);
    txc_free(ni, in), txc_free(no, ya), txc_free(no, yb);
}

/* g(a) and g(b) for a transformation g, compared on random inputs; returns g(a) (or NULL,
 * after a failed CHECK) for further checks. */
static jx_fn *same_after(jx_fn *(*g)(const jx_fn *), const jx_fn *a, const jx_fn *b,
                         double tol) {
    jx_fn *ga = a ? g(a) : NULL, *gb = b ? g(b) : NULL;
    CHECK(ga && gb);
    if (!ga || !gb) printf("  %s\n", jx_error());
    if (ga && gb) same_values(ga, gb, tol);
    jx_fn_free(gb);
    return ga;
}

static jx_fn *grad_all5(const jx_fn *f) { return jx_grad(f, 5, (int[]){0, 1, 2, 3, 4}); }
static jx_fn *grad_w_xs(const jx_fn *f) { return jx_grad(f, 2, (int[]){0, 4}); }
static jx_fn *vjp_all(const jx_fn *f) { return jx_vjp(f, NULL); }

/* Counts the scan nodes of f's printed text; *flipped gets the number of those whose
 * reverse flag is `flip`. */
static int count_scans(const jx_fn *f, int flip, int *flipped) {
    char *s = jx_fn_to_string(f), want[32];
    int k = 0;
    snprintf(want, sizeof want, "reverse=(%d)", flip);
    *flipped = 0;
    for (const char *p = s; p && (p = strstr(p, "= scan[")); p++) {
        const char *e = strchr(p, '\n');
        k++;
        *flipped += e && strstr(p, want) && strstr(p, want) < e;
    }
    free(s);
    return k;
}

/* 1 if f's text has `what` after its last scan (the backward one, emitted last). */
static int after_last_scan(const jx_fn *f, const char *what) {
    char *s = jx_fn_to_string(f);
    const char *last = NULL;
    for (const char *p = s; p && (p = strstr(p, "= scan[")); p++) last = p;
    int found = last && strstr(last, what);
    free(s);
    return found;
}

/* The RNN's grad wrt W, U, b, h0 and xs == the unrolled one's: f64 to 1e-12, f32 to
 * 1e-6; scans (the backward one reversed), not the unrolled loop. */
TEST(rnn_grad_equals_the_unrolled_grad) {
    jx_type ty[5];
    for (int d = 0; d < 2; d++) {
        rnn_types(d ? JX_F32 : JX_F64, ty);
        for (int reverse = 0; reverse < 2; reverse++) {
            jx_fn *a = jx_trace(rnn_scan, 5, ty, 1, &reverse);
            jx_fn *b = jx_trace(rnn_unrolled, 5, ty, 1, &reverse);
            jx_fn *g = same_after(grad_all5, a, b, d ? 1e-6 : 1e-12);
            int back = 0, ns = g ? count_scans(g, !reverse, &back) : 0;
            CHECK(ns >= 2 && ns <= 3 && back == 1 && jx_fn_n_eqns(g) < 40);
            CHECK(g && !after_last_scan(g, "tanh")); /* stored, not recomputed */
            jx_fn_free(same_after(grad_w_xs, a, b, d ? 1e-6 : 1e-12));
            jx_fn_free(same_after(vjp_all, a, b, d ? 1e-6 : 1e-12));
            jx_fn_free(g), jx_fn_free(a), jx_fn_free(b);
        }
    }
}

/* vjp and jvp against central differences (f64), forward and reversed. */
TEST(rnn_grad_matches_finite_differences) {
    jx_type ty[5];
    rnn_types(JX_F64, ty);
    for (int reverse = 0; reverse < 2; reverse++) {
        jx_fn *f = jx_trace(rnn_scan, 5, ty, 1, &reverse);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
}

/* Several carries, one an integer counter: (h, W, n, x) -> (tanh(W h + x n), W, n + 1,
 * sum(h')). */
static void cell_n(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_matvec(in[1], in[0]), jx_mul(in[3], jx_convert(in[2], JX_F64))));
    out[0] = h, out[1] = in[1], out[2] = jx_add(in[2], jx_lit(in[2], 1)), out[3] = jx_sum_all(h);
}
static void counted(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val c[3], ys[L];
    if (user) {
        for (int k = 0; k < 3; k++) c[k] = in[k];
        for (int i = 0; i < L; i++) {
            jx_val a[4] = {c[0], c[1], c[2], row(in[3], i)}, o[4];
            cell_n(t, a, o, NULL);
            for (int k = 0; k < 3; k++) c[k] = o[k];
            ys[i] = jx_reshape(o[3], JX_INTS(1));
        }
        ys[0] = jx_concatenate(L, ys, 0);
    } else {
        jx_scan(cell_n, NULL, 3, in, 1, in + 3, -1, 0, 1, c, ys);
    }
    out[0] = jx_add(jx_sum_all(jx_mul(c[0], c[0])), jx_sum_all(jx_mul(ys[0], ys[0])));
    out[1] = c[2];
}
static jx_fn *grad_h_w_xs(const jx_fn *f) { return jx_grad(f, 3, (int[]){0, 1, 3}); }
static jx_fn *grad_xs(const jx_fn *f) { return jx_grad(f, 1, (int[]){3}); }

TEST(integer_counter_carry) {
    const jx_type ty[4] = {{JX_F64, 1, {H}}, {JX_F64, 2, {H, H}}, {JX_I32, 0, {0}},
                           {JX_F64, 2, {L, H}}};
    jx_fn *a = jx_trace(counted, 4, ty, 2, NULL), *b = jx_trace(counted, 4, ty, 2, "u");
    jx_fn_free(same_after(grad_h_w_xs, a, b, 1e-12));
    jx_fn_free(same_after(grad_xs, a, b, 1e-12)); /* h's cotangent flows though h0 has none */
    jx_fn_free(same_after(vjp_all, a, b, 1e-12));
    if (a) txc_grad(a, -1, 1, 1e-6);
    jx_fn_free(a), jx_fn_free(b);
}

/* A scalar scan: c' = sin(c x) + c, y = c x; f(a) = c_L + sum(ys) from c0 = a. */
static void sc_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val cx = jx_mul(in[0], in[1]);
    out[0] = jx_add(jx_sin(cx), in[0]), out[1] = cx;
}
static void scalar_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val c = in[0], ys[L];
    if (user) {
        for (int i = 0; i < L; i++) {
            jx_val x = row(jx_reshape(in[1], JX_INTS(L, 1)), i);
            jx_val a[2] = {c, jx_reshape(x, (jx_ints){0, {0}})};
            jx_val o[2];
            sc_body(t, a, o, NULL);
            c = o[0], ys[i] = jx_reshape(o[1], JX_INTS(1));
        }
        ys[0] = jx_concatenate(L, ys, 0);
    } else {
        jx_scan(sc_body, NULL, 1, in, 1, in + 1, -1, 0, 1, &c, ys);
    }
    out[0] = jx_add(c, jx_sum_all(ys[0]));
}
static jx_fn *grad0(const jx_fn *f) { return jx_grad(f, 1, (int[]){0}); }
static jx_fn *grad_grad0(const jx_fn *f) {
    jx_fn *g = jx_grad(f, 1, (int[]){0}), *gg = g ? jx_grad(g, 2, (int[]){0, 1}) : NULL;
    jx_fn_free(g);
    return gg;
}
static jx_fn *jvp_grad(const jx_fn *f) {
    jx_fn *g = jx_grad(f, 2, (int[]){0, 1}), *j = g ? jx_jvp(g, NULL) : NULL;
    jx_fn_free(g);
    return j;
}
static jx_fn *hessian(const jx_fn *f) { return jx_hessian(f, 2, (int[]){0, 1}); }

TEST(second_order) {
    const jx_type ty[2] = {{JX_F64, 0, {0}}, {JX_F64, 1, {L}}};
    jx_fn *a = jx_trace(scalar_scan, 2, ty, 1, NULL), *b = jx_trace(scalar_scan, 2, ty, 1, "u");
    jx_fn_free(same_after(grad0, a, b, 1e-12));
    jx_fn_free(same_after(grad_grad0, a, b, 1e-12));
    jx_fn_free(same_after(jvp_grad, a, b, 1e-12));
    jx_fn_free(same_after(hessian, a, b, 1e-12));
    jx_fn *g = a ? grad0(a) : NULL; /* grad's own vjp and jvp against differences */
    if (g) txc_grad(g, -1, 1, 1e-6);
    jx_fn_free(g), jx_fn_free(a), jx_fn_free(b);
}

static jx_fn *grad01(const jx_fn *f) { return jx_grad(f, 2, (int[]){0, 1}); }

TEST(scan_and_cond_inside_the_body) { /* and a scan alone */
    const jx_type ty[2] = {{JX_F64, 0, {0}}, {JX_F64, 2, {L, X}}};
    jx_fn *a = jx_trace(nested, 2, ty, 1, NULL), *b = jx_trace(nested, 2, ty, 1, "u");
    for (int rep = 0; rep < 4; rep++) { /* random xs take both branches */
        jx_fn_free(same_after(grad01, a, b, 1e-12));
        jx_fn_free(same_after(jvp_grad, a, b, 1e-12));
    }
    if (a) txc_grad(a, -1, 1, 1e-6);
    jx_fn_free(a), jx_fn_free(b);
    a = jx_trace(nested_direct, 2, ty, 1, NULL), b = jx_trace(nested_direct, 2, ty, 1, "u");
    jx_fn_free(same_after(grad01, a, b, 1e-12));
    jx_fn_free(same_after(jvp_grad, a, b, 1e-12));
    jx_fn_free(same_after(grad_grad0, a, b, 1e-12));
    jx_fn_free(a), jx_fn_free(b);
}

/* A body whose vjp needs more residuals than a scan may have results (70 cosines): the
 * backward body recomputes the forward pass from the stacked carry instead (remat). */
static void sines(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_add(in[0], in[1]);
    for (int i = 0; i < 70; i++) h = jx_sin(h);
    out[0] = h, out[1] = jx_sum_all(h);
}
static void many_residuals(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val c = in[0], ys[L];
    if (user) {
        for (int i = 0; i < L; i++) {
            jx_val a[2] = {c, row(in[1], i)}, o[2];
            sines(t, a, o, NULL);
            c = o[0], ys[i] = jx_reshape(o[1], JX_INTS(1));
        }
        ys[0] = jx_concatenate(L, ys, 0);
    } else {
        jx_scan(sines, NULL, 1, in, 1, in + 1, -1, 0, 1, &c, ys);
    }
    out[0] = jx_add(jx_sum_all(jx_mul(c, c)), jx_sum_all(ys[0]));
}

TEST(too_many_residuals_recompute_the_body) {
    const jx_type ty[2] = {{JX_F64, 1, {X}}, {JX_F64, 2, {L, X}}};
    jx_fn *a = jx_trace(many_residuals, 2, ty, 1, NULL);
    jx_fn *b = jx_trace(many_residuals, 2, ty, 1, "u");
    jx_fn *g = same_after(grad01, a, b, 1e-12);
    CHECK(g && after_last_scan(g, "= sin "));
    jx_fn_free(g), jx_fn_free(a), jx_fn_free(b);
}

/* 40 carries whose cotangents and stacked values need 80 operands in the backward scan,
 * even remat: an error naming scan, the limits and the user's line. */
enum { NBIG = 40 };
static void big_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    for (int k = 0; k < NBIG; k++) out[k] = jx_sin(jx_mul(in[k], in[NBIG]));
}
static int big_line;
static void big(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val init[NBIG], c[NBIG];
    for (int k = 0; k < NBIG; k++) init[k] = in[0];
    big_line = __LINE__ + 1;
    jx_scan(big_body, NULL, NBIG, init, 1, in + 1, -1, 0, 0, c, NULL);
    out[0] = jx_sum_all(jx_concatenate(NBIG, c, 0));
}

TEST(too_many_carries_is_a_clear_error) {
    const jx_type ty[2] = {{JX_F64, 1, {X}}, {JX_F64, 2, {L, X}}};
    jx_fn *f = jx_trace(big, 2, ty, 1, NULL), *g = f ? jx_grad(f, 1, (int[]){0}) : NULL;
    char line[32];
    snprintf(line, sizeof line, "t_scan_grad.c:%d", big_line);
    CHECK(f && !g);
    CHECK_CONTAINS(jx_error(), "grad: scan: its vjp needs 40 carry values, 40 stacked carries");
    CHECK_CONTAINS(jx_error(), line);
    jx_fn_free(f), jx_fn_free(g);
}

/* grad's text form prints and parses back to the same function. */
TEST(grad_prints_and_parses_back) {
    jx_type ty[5];
    int reverse = 0;
    rnn_types(JX_F32, ty);
    jx_fn *f = jx_trace(rnn_scan, 5, ty, 1, &reverse), *g = f ? grad_all5(f) : NULL;
    char *s1 = g ? jx_fn_to_string(g) : NULL;
    jx_fn *p = s1 ? jx_fn_parse(s1) : NULL;
    char *s2 = p ? jx_fn_to_string(p) : NULL;
    CHECK(s1 && s2 && !strcmp(s1, s2));
    if (p) same_values(g, p, 0);
    free(s1), free(s2);
    jx_fn_free(f), jx_fn_free(g), jx_fn_free(p);
}

TEST_MAIN()
