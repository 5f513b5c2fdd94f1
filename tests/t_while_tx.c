/* while_loop and fori_loop (issue 11), transformations: jvp against finite differences
 * (incl. a tangent the carry fixpoint must start) and jacfwd, grad's clear error, vmap
 * with an unbatched and a batched predicate (lanes with different trip counts) against a
 * loop over examples, a while in a scan and a cond in a while, loops closing over outer
 * values, and text round trips of all of these. */
#include <stdlib.h>

#include "while_util.h"

/* ---- jvp: (y, a, it) Newton with a fixed trip count (it < 6), so f is smooth ------------ */

static void six_steps(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_lt(in[2], jx_lit(in[2], 6));
}
static void newton6(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c[3];
    jx_while_loop(six_steps, newton_body, NULL, 3, in, c);
    out[0] = jx_mul(c[0], c[1]);
    out[1] = c[2];
}

/* jvp(f, wrt) at (y, a) in [1, 2] along a random direction == central differences. */
static void jvp_vs_fd(const jx_fn *f, const unsigned char *wrt) {
    jx_fn *j = jx_jvp(f, wrt);
    CHECK(j != NULL);
    if (!j) {
        printf("  %s\n", jx_error());
        return;
    }
    jx_array *x[3], *v[2], *xp[3], *xm[3], *in[5], *out[4] = {0}, *yp[2] = {0}, *ym[2] = {0};
    const double h = 1e-6;
    int ni = 3;
    for (int i = 0; i < 3; i++) {
        x[i] = txc_random(newton_t[i], 1, 2);
        xp[i] = jx_array_copy(x[i]), xm[i] = jx_array_copy(x[i]);
        in[i] = x[i];
    }
    jx_array_set(x[2], 0, 0), jx_array_set(xp[2], 0, 0), jx_array_set(xm[2], 0, 0);
    for (int i = 0; i < 2; i++) {
        v[i] = txc_random(newton_t[i], -1, 1);
        if (wrt && !wrt[i]) /* no tangent: no perturbation */
            for (int64_t e = 0; e < N; e++) jx_array_set(v[i], e, 0);
        else in[ni++] = v[i];
        for (int64_t e = 0; e < N; e++) {
            jx_array_set(xp[i], e, jx_array_get(x[i], e) + h * jx_array_get(v[i], e));
            jx_array_set(xm[i], e, jx_array_get(x[i], e) - h * jx_array_get(v[i], e));
        }
    }
    CHECK(jx_interp(j, in, out) == 0 && jx_interp(f, xp, yp) == 0 && jx_interp(f, xm, ym) == 0);
    for (int64_t e = 0; out[2] && yp[0] && e < N; e++)
        CHECK_NEAR(jx_array_get(out[2], e),
                   (jx_array_get(yp[0], e) - jx_array_get(ym[0], e)) / (2 * h), 1e-6);
    CHECK(out[1] && jx_array_get(out[1], 0) == 6);
    txc_free(3, x), txc_free(2, v), txc_free(3, xp), txc_free(3, xm);
    txc_free(4, out), txc_free(2, yp), txc_free(2, ym);
    jx_fn_free(j);
}

TEST(jvp_matches_finite_differences) {
    jx_fn *f = jx_trace(newton6, 3, newton_t, 2, NULL);
    CHECK(f != NULL);
    if (!f) return;
    const unsigned char all[3] = {1, 1, 0}, a_only[3] = {0, 1, 0}, y_only[3] = {1, 0, 0};
    jvp_vs_fd(f, all);
    jvp_vs_fd(f, a_only); /* y's tangent starts in the loop: the carry fixpoint */
    jvp_vs_fd(f, y_only);
    jx_fn *j = jx_jvp(f, all);
    char *txt = j ? jx_fn_to_string(j) : NULL;
    CHECK(count(txt, "= while[") == 1); /* one loop carrying (y, a, it, dy, da) */
    free(txt);
    jx_fn_free(j);
    jx_fn_free(f);
}

/* jacfwd (vmap of the jvp: a while of batched tangents) == the jvp along each axis. */
static void newton6_y(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val o[2];
    newton6(t, in, o, u);
    out[0] = o[0];
}
/* A while with integer carry only: its jvp is the primal loop and zero tangents. */
TEST(jvp_of_an_integer_loop) {
    jx_fn *f = jx_trace(collatz, 1, &i32s, 1, NULL), *j = f ? jx_jvp(f, NULL) : NULL;
    CHECK(j != NULL);
    if (!j) printf("  %s\n", jx_error());
    double n = 27, dn = 1;
    jx_array *out[2] = {0};
    CHECK(j && run(j, (const double *[]){&n, &dn}, out) == 0);
    CHECK(out[0] && out[1] && jx_array_get(out[0], 0) == 111 && jx_array_get(out[1], 0) == 0);
    txc_free(2, out);
    jx_fn_free(f), jx_fn_free(j);
}

TEST(jacfwd_of_a_while) {
    jx_fn *f = jx_trace(newton6_y, 3, newton_t, 1, NULL);
    jx_fn *jf = f ? jx_jacfwd(f, 1, (int[]){1}) : NULL;
    CHECK(jf != NULL);
    if (!jf) printf("  %s\n", jx_error());
    jx_array *x[3] = {0}, *jo[1] = {0}, *y[1] = {0}, *yp[1] = {0};
    for (int i = 0; i < 3; i++) x[i] = txc_random(newton_t[i], 1, 2);
    jx_array_set(x[2], 0, 0);
    CHECK(jf && jx_interp(jf, x, jo) == 0 && jx_interp(f, x, y) == 0);
    for (int k = 0; jo[0] && k < N; k++) { /* column k: d y / d a[k] (diagonal here) */
        const double h = 1e-6, a = jx_array_get(x[1], k);
        jx_array_set(x[1], k, a + h);
        CHECK(jx_interp(f, x, yp) == 0);
        jx_array_set(x[1], k, a);
        for (int i = 0; yp[0] && i < N; i++)
            CHECK_NEAR(jx_array_get(jo[0], i * N + k),
                       (jx_array_get(yp[0], i) - jx_array_get(y[0], i)) / h, 1e-5);
        txc_free(1, yp);
    }
    txc_free(3, x), txc_free(1, jo), txc_free(1, y);
    jx_fn_free(f), jx_fn_free(jf);
}

/* ---- grad: a clear error at the loop's line; fori_loop with traced bounds too ---------- */

static void newton6_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val o[2];
    newton6(t, in, o, u);
    out[0] = jx_sum_all(o[0]);
}
static int fori_line;
static void fori_traced_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c[2];
    fori_line = __LINE__ + 1;
    jx_fori_loop(in[2], in[3], fori_body, NULL, 2, in, c);
    out[0] = jx_sum_all(jx_mul(c[0], c[1]));
}

TEST(grad_is_a_clear_error) {
    jx_fn *f = jx_trace(newton6_loss, 3, newton_t, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 1, (int[]){1}) : NULL;
    CHECK(f != NULL && g == NULL);
    CHECK_CONTAINS(jx_error(), "while_loop: reverse-mode differentiation (grad/vjp) is not "
                               "supported: the trip count is not known");
    CHECK_CONTAINS(jx_error(), "use scan, or fori_loop with constant bounds");
    char line[32];
    jx_fn *h = jx_trace(newton, 3, newton_t, 3, NULL), *v = h ? jx_vjp(h, NULL) : NULL;
    snprintf(line, sizeof line, "while_util.h:%d", newton_line);
    CHECK(h != NULL && v == NULL);
    CHECK_CONTAINS(jx_error(), line);
    CHECK_CONTAINS(jx_error(), "while_loop: reverse-mode");
    jx_fn *ff = jx_trace(fori_traced_loss, 4, fori_t, 1, NULL);
    jx_fn *gf = ff ? jx_grad(ff, 1, (int[]){0}) : NULL;
    snprintf(line, sizeof line, "t_while_tx.c:%d", fori_line);
    CHECK(ff != NULL && gf == NULL);
    CHECK_CONTAINS(jx_error(), line);
    CHECK_CONTAINS(jx_error(), "while_loop: reverse-mode");
    jx_fn_free(f), jx_fn_free(g), jx_fn_free(h), jx_fn_free(v), jx_fn_free(ff), jx_fn_free(gf);
}

/* grad wrt an input the loop does not depend on works (no cotangent reaches it). */
static void loop_and_other(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val o[3], w[3] = {in[0], in[0], in[2]};
    newton(t, w, o, u);
    out[0] = jx_add(jx_sum_all(jx_mul(in[1], in[1])), jx_convert(o[2], JX_F64));
}
TEST(grad_of_what_the_loop_does_not_touch) {
    jx_fn *f = jx_trace(loop_and_other, 3, newton_t, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 1, (int[]){1}) : NULL;
    CHECK(g != NULL);
    if (!g) printf("  %s\n", jx_error());
    double y[N] = {1, 2, 3}, a[N] = {0.5, -1, 2}, it = 0;
    jx_array *out[1] = {0};
    CHECK(g && run(g, (const double *[]){y, a, &it}, out) == 0);
    for (int i = 0; out[0] && i < N; i++) CHECK(jx_array_get(out[0], i) == 2 * a[i]);
    txc_free(1, out);
    jx_fn_free(f), jx_fn_free(g);
}

/* ---- vmap --------------------------------------------------------------------------------- */

TEST(vmap_unbatched_predicate) {
    jx_fn *f = jx_trace(newton6, 3, newton_t, 2, NULL);
    CHECK(f != NULL);
    if (!f) return;
    const int ax[3] = {0, 1, JX_NONE}; /* y and a batched (a along axis 1), it not */
    txc_vmap(f, ax, 4, 1, 2, 1e-12);
    jx_fn *v = jx_vmap(f, ax, NULL, 4);
    char *txt = v ? jx_fn_to_string(v) : NULL;
    CHECK(count(txt, "= while[") == 1 && count(txt, "reduce_max") == 0);
    CHECK(count(txt, "select") == 0);
    free(txt);
    jx_fn_free(v), jx_fn_free(f);
}

TEST(vmap_batched_predicate_lanes_stop_on_their_own) {
    jx_fn *c = jx_trace(collatz, 1, &i32s, 1, NULL);
    CHECK(c != NULL);
    if (!c) return;
    txc_vmap_gen(c, (const int[]){0}, 7, gen_pos, 0, 0, 0); /* up to 111 steps per lane */
    jx_fn *v = jx_vmap(c, (const int[]){0}, NULL, 7);
    char *txt = v ? jx_fn_to_string(v) : NULL;
    CHECK(count(txt, "= while[") == 1 && count(txt, "reduce_max") == 1 && count(txt, "select") >= 2);
    free(txt);
    if (v) txc_vmap_gen(v, (const int[]){1}, 3, gen_pos, 0, 0, 0); /* vmap of vmap */
    jx_fn_free(v);
    /* the exact counts per lane: 27 takes 111 steps, 1 none, 6 eight */
    jx_fn *vc = jx_vmap(c, (const int[]){0}, NULL, 3);
    int64_t sh[1] = {3};
    jx_array *n = jx_array_new(JX_I32, 1, sh), *out[1] = {0};
    jx_array_set(n, 0, 27), jx_array_set(n, 1, 1), jx_array_set(n, 2, 6);
    CHECK(vc && jx_interp(vc, &n, out) == 0);
    CHECK(out[0] && jx_array_get(out[0], 0) == 111 && jx_array_get(out[0], 1) == 0 &&
          jx_array_get(out[0], 2) == 8);
    jx_array_free(n), txc_free(1, out);
    jx_fn_free(vc), jx_fn_free(c);
    /* Newton with a tolerance: the trip counts (output 2) differ per lane and must each be
     * the lane's own (a lane kept iterating would count on) */
    jx_fn *f = jx_trace(newton, 3, newton_t, 3, NULL);
    if (f) txc_vmap(f, (const int[]){JX_NONE, 0, JX_NONE}, 5, 0.01, 100, 0);
    jx_fn_free(f);
}

static void fori_upper(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c[2];
    jx_fori_loop(in[2], in[3], fori_body, NULL, 2, in, c);
    out[0] = c[0], out[1] = c[1];
}
TEST(vmap_fori_loop_with_batched_bounds) {
    jx_fn *f = jx_trace(fori_upper, 4, fori_t, 2, NULL);
    CHECK(f != NULL);
    if (!f) return;
    txc_vmap_gen(f, (const int[]){JX_NONE, 0, JX_NONE, 0}, 6, gen_pos, -1, 1, 0);
    txc_vmap_gen(f, (const int[]){0, JX_NONE, 0, JX_NONE}, 6, gen_pos, -1, 1, 0);
    jx_fn_free(f);
}

/* ---- nesting: a while in a scan body, a cond in a while body ----------------------------- */

/* scan body (s, x) -> (s + collatz steps of x, steps): a while per scanned element */
static void scan_cell(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val r[1];
    collatz(t, in + 1, r, u);
    out[0] = jx_add(in[0], r[0]);
    out[1] = r[0];
}
static void while_in_scan(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    jx_val s0 = jx_lit(in[0], 0);
    jx_scan(scan_cell, u, 1, &s0, 1, in, -1, 0, 1, out, out + 1);
}

/* while body with a cond: (n, steps) -> (even ? n / 2 : 3n + 1, steps + 1) via lax.cond */
static void half(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_div(in[0], jx_lit(in[0], 2));
}
static void triple(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(jx_mul(in[0], jx_lit(in[0], 3)), jx_lit(in[0], 1));
}
static void collatz_cond_step(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val even = jx_eq(jx_rem(in[0], jx_lit(in[0], 2)), jx_lit(in[0], 0));
    jx_cond(even, half, triple, NULL, 1, in, 1, out);
    out[1] = jx_add(in[1], jx_lit(in[1], 1));
}
static void cond_in_while(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c[2] = {in[0], jx_lit(in[0], 0)}, r[2];
    jx_while_loop(not_one, collatz_cond_step, NULL, 2, c, r);
    out[0] = r[1];
}

TEST(while_in_scan_and_cond_in_while) {
    const jx_type xs_t = {JX_I32, 1, {6}};
    jx_fn *f = jx_trace(while_in_scan, 1, &xs_t, 2, NULL);
    CHECK(f != NULL);
    double xs[6] = {27, 1, 6, 7, 12, 3}, total = 0;
    jx_array *out[2] = {0};
    CHECK(f && run(f, (const double *[]){xs}, out) == 0);
    for (int i = 0; out[1] && i < 6; i++) {
        total += collatz_c((int)xs[i]);
        CHECK(jx_array_get(out[1], i) == collatz_c((int)xs[i]));
    }
    CHECK(out[0] && jx_array_get(out[0], 0) == total);
    txc_free(2, out);
    if (f) txc_vmap_gen(f, (const int[]){0}, 3, gen_pos, 0, 0, 0); /* vmap: scan of while */
    jx_fn *g = jx_trace(cond_in_while, 1, &i32s, 1, NULL);
    CHECK(g != NULL);
    for (int n = 1; g && n <= 30; n++) {
        double v = n;
        CHECK(run(g, (const double *[]){&v}, out) == 0);
        CHECK(out[0] && jx_array_get(out[0], 0) == collatz_c(n));
        txc_free(1, out);
    }
    if (g) txc_vmap_gen(g, (const int[]){0}, 5, gen_pos, 0, 0, 0); /* batched cond index */
    jx_fn_free(f), jx_fn_free(g);
}

/* ---- text --------------------------------------------------------------------------------- */

/* f prints, parses back to the same text, and the parsed function gives the same values. */
static void round_trip(const jx_fn *f, const char *must) {
    char *s1 = jx_fn_to_string(f);
    jx_fn *p = s1 ? jx_fn_parse(s1) : NULL;
    char *s2 = p ? jx_fn_to_string(p) : NULL;
    CHECK(s1 && s2 && !strcmp(s1, s2));
    if (!p) printf("  %s\n%s\n", jx_error(), s1 ? s1 : "");
    CHECK(s1 && strstr(s1, must));
    CHECK(p && jx_fn_verify(p) == 0);
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_array *x[8] = {0}, *a[8] = {0}, *b[8] = {0};
    for (int i = 0; p && i < ni; i++) x[i] = gen_pos(jx_fn_in_type(f, i), 1, 2);
    CHECK(!p || (jx_interp(f, x, a) == 0 && jx_interp(p, x, b) == 0));
    for (int j = 0; j < no && a[j] && b[j]; j++)
        for (int64_t e = 0; e < jx_array_size(a[j]); e++)
            CHECK(jx_array_get(a[j], e) == jx_array_get(b[j], e));
    txc_free(ni, x), txc_free(no, a), txc_free(no, b);
    free(s1), free(s2);
    jx_fn_free(p);
}

TEST(text_round_trip) {
    jx_fn *f = jx_trace(newton, 3, newton_t, 3, NULL);
    if (f) round_trip(f, "d:f64[3] e:f64[3] f:i32[] = while[\n      cond={ lambda ; a:f64[3] b:f64[3] c:i32[]. let");
    jx_fn *j = f ? jx_jvp(f, (const unsigned char[]){1, 1, 0}) : NULL;
    if (j) round_trip(j, "= while[");
    jx_fn *v = f ? jx_vmap(f, (const int[]){JX_NONE, 0, JX_NONE}, NULL, 2) : NULL;
    if (v) round_trip(v, "reduce_max");
    jx_fn *g = jx_trace(while_in_scan, 1, &(jx_type){JX_I32, 1, {4}}, 2, NULL);
    if (g) round_trip(g, "= while[");
    CHECK(f && j && v && g);
    jx_fn_free(f), jx_fn_free(j), jx_fn_free(v), jx_fn_free(g);
}

/* ---- closures: cond_fn and body_fn using values of the enclosing trace ------------------- */

/* (y, it) with a and the iteration limit from the enclosing trace (user: its inputs) */
static void closed_cond(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    const jx_val *outer = u;
    out[0] = jx_lt(in[1], outer[2]);
}
static void closed_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    const jx_val *outer = u;
    jx_val w[3] = {in[0], outer[1], in[1]}, o[3];
    newton_body(t, w, o, NULL);
    out[0] = o[0], out[1] = o[2];
}
/* (y, a, limit) -> y after `limit` Newton steps, a and limit closed over */
static void closed(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    jx_val c[2] = {in[0], jx_scalar(t, JX_I32, 0)}, r[2];
    jx_while_loop(closed_cond, closed_body, (void *)in, 2, c, r);
    out[0] = r[0];
}
/* the same with a and limit as carry */
static void lim_cond(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_lt(in[2], in[3]);
}
static void lim_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    newton_body(t, in, out, u);
    out[3] = in[3];
}
static void explicit_(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    jx_val c[4] = {in[0], in[1], jx_scalar(t, JX_I32, 0), in[2]}, r[4];
    jx_while_loop(lim_cond, lim_body, NULL, 4, c, r);
    out[0] = r[0];
}
/* fori_loop whose body closes over a: (i, y) -> Newton step on a */
static void fori_closed_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    const jx_val *outer = u;
    jx_val w[3] = {in[1], outer[1], in[0]}, o[3];
    newton_body(t, w, o, NULL);
    out[0] = o[0];
}
static void fori_closed(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_fori_loop(jx_scalar(t, JX_I32, 0), u ? in[2] : jx_scalar(t, JX_I32, 4), fori_closed_body,
                 (void *)in, 1, in, out);
}

TEST(loops_close_over_outer_values) {
    jx_fn *f = jx_trace(closed, 3, newton_t, 1, NULL), *g = jx_trace(explicit_, 3, newton_t, 1, NULL);
    CHECK(f && g);
    if (!f || !g) {
        printf("  %s\n", jx_error());
        jx_fn_free(f), jx_fn_free(g);
        return;
    }
    CHECK(jx_fn_verify(f) == 0);
    for (int rep = 0; rep < 3; rep++) {
        double y[N] = {1, 2, 3}, a[N] = {2, 5, 7}, lim = 2 * rep + 1;
        jx_array *o1[1] = {0}, *o2[1] = {0};
        CHECK(run(f, (const double *[]){y, a, &lim}, o1) == 0);
        CHECK(run(g, (const double *[]){y, a, &lim}, o2) == 0);
        for (int i = 0; o1[0] && o2[0] && i < N; i++)
            CHECK(jx_array_get(o1[0], i) == jx_array_get(o2[0], i));
        txc_free(1, o1), txc_free(1, o2);
    }
    txc_vmap_gen(f, (const int[]){0, 0, 0}, 4, gen_pos, 1, 2, 0); /* batched limit too */
    /* jvp: the captured a's tangent is carried like an explicit carry's */
    const unsigned char wrt[3] = {1, 1, 0};
    jx_fn *jf = jx_jvp(f, wrt), *jg = jx_jvp(g, wrt);
    CHECK(jf && jg);
    jx_array *xs[5] = {0}, *d1[2] = {0}, *d2[2] = {0};
    for (int i = 0; jf && i < 5; i++) xs[i] = gen_pos(jx_fn_in_type(jf, i), 1, 2);
    CHECK(jf && jg && jx_interp(jf, xs, d1) == 0 && jx_interp(jg, xs, d2) == 0);
    for (int i = 0; d1[1] && d2[1] && i < N; i++)
        CHECK(jx_array_get(d1[1], i) == jx_array_get(d2[1], i) && jx_array_get(d1[1], i) != 0);
    txc_free(5, xs), txc_free(2, d1), txc_free(2, d2);
    jx_fn_free(jf), jx_fn_free(jg);
    for (int traced = 0; traced < 2; traced++) {
        jx_fn *h = jx_trace(fori_closed, 3, newton_t, 1, traced ? "traced" : NULL);
        CHECK(h != NULL);
        double y[N] = {1, 2, 3}, a[N] = {2, 5, 7}, lim = 4;
        jx_array *o1[1] = {0}, *o2[1] = {0};
        CHECK(h && run(h, (const double *[]){y, a, &lim}, o1) == 0);
        CHECK(run(g, (const double *[]){y, a, &lim}, o2) == 0);
        for (int i = 0; o1[0] && o2[0] && i < N; i++)
            CHECK(jx_array_get(o1[0], i) == jx_array_get(o2[0], i));
        txc_free(1, o1), txc_free(1, o2);
        if (h && !traced) txc_grad(h, 1, 2, 1e-6); /* a scan: a's cotangent through the capture */
        jx_fn_free(h);
    }
    jx_fn_free(f), jx_fn_free(g);
}

TEST_MAIN()
