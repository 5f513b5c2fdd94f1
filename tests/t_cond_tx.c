/* Transformations of cond/switch (issue 11): jvp, vjp and grad against central finite
 * differences for every branch index (clamped ones too), grad(grad), vmap against a loop
 * with batched operands and a batched index, vmap(grad), a cond inside a jvp taken in a
 * trace, the text round trip of the transformed functions, a branch holding a scan; the
 * JIT compiles the transformed conds. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

/* Four branches of (x:f64[3], s:f64[], m:i32[]) -> (f64[3], f64[], i32[]): an integer
 * operand and an integer result, and a branch (3) whose first result is constant. */
static void b0(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], in[1]);
    out[1] = jx_mul(jx_sum_all(jx_mul(in[0], in[0])), jx_convert(in[2], JX_F64));
    out[2] = in[2];
}
static void b1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], in[1]);
    out[1] = jx_neg(jx_exp(in[1]));
    out[2] = jx_add(in[2], jx_lit(in[2], 1));
}
static void b2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_tanh(in[0]);
    out[1] = in[1];
    out[2] = in[2];
}
static void b3(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    out[0] = jx_full(t, JX_TYPE(JX_F64, 3), 1.0);
    out[1] = jx_sin(in[1]);
    out[2] = jx_full(t, JX_SCALAR(JX_I32), 7);
}
static const jx_trace_cb four[4] = {b0, b1, b2, b3};

/* The switch with ops around it: (x * 2 + r0, r1 * s, r2). */
static void sw_body(jx_val idx, const jx_val *in, jx_val *out) {
    jx_val r[3];
    if (jx_switch(idx, 4, four, NULL, 3, in, 3, r) < 0) return;
    out[0] = jx_add(jx_mul(in[0], jx_lit(in[0], 2)), r[0]);
    out[1] = jx_mul(r[1], in[1]);
    out[2] = r[2];
}

/* f(i, x, s, m): the index an input. */
static void f_idx(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    sw_body(in[0], in + 1, out);
}

/* f_c(x, s, m) with the index a constant *(int *)user. */
static void f_const(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    sw_body(jx_full(t, JX_SCALAR(JX_I32), *(const int *)user), in, out);
}

static const jx_type ty4[4] = {{JX_I32, 0, {0}}, {JX_F64, 1, {3}}, {JX_F64, 0, {0}},
                               {JX_I32, 0, {0}}};
static const int idxs[7] = {-3, 0, 1, 2, 3, 4, 99};

TEST(jvp_and_vjp_match_finite_differences_for_every_index) {
    for (int c = 0; c < 7; c++) {
        jx_fn *f = jx_trace(f_const, 3, ty4 + 1, 3, (void *)&idxs[c]);
        CHECK(f != NULL);
        if (!f) return;
        txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
    jx_fn *f = jx_trace(f_idx, 4, ty4, 3, NULL); /* the index an input, random in 0..3 */
    for (int rep = 0; f && rep < 4; rep++) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
}

/* A scalar loss of the switch: sum(out0) + out1 (grad wants a float scalar). */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val o[3];
    sw_body(in[0], in + 1, o);
    out[0] = jx_add(jx_sum_all(o[0]), o[1]);
}

/* grad wrt x and s runs the backward cond (and does not need the index's cotangent). */
TEST(grad_of_switch_and_its_derivatives) {
    jx_fn *f = jx_trace(loss, 4, ty4, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 2, (int[]){1, 2}) : NULL;
    CHECK(g != NULL);
    if (!g) printf("  %s\n", jx_error());
    char *s = g ? jx_fn_to_string(g) : NULL;
    CHECK(s && strstr(s, "= cond[")); /* the backward pass is a cond of the branches' vjps */
    free(s);
    for (int rep = 0; g && rep < 4; rep++) txc_grad(g, -1, 1, 1e-6); /* grad's own jvp/vjp */
    /* wrt x alone: the backward cond gives x's cotangent only, not s's */
    jx_fn *gx = f ? jx_grad(f, 1, (int[]){1}) : NULL;
    s = gx ? jx_fn_to_string(gx) : NULL;
    CHECK(s && strstr(s, ":f64[3] = cond[") && !strstr(s, ":f64[] = cond["));
    free(s);
    jx_fn_free(gx), jx_fn_free(g), jx_fn_free(f);
}

/* h(s) = switch(i, s^3, sin s, exp s) for the constant index *(int *)user. */
static void c3(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(jx_mul(in[0], in[0]), in[0]);
}
static void c_sin(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sin(in[0]);
}
static void c_exp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_exp(in[0]);
}
static void h_scalar(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_trace_cb br[3] = {c3, c_sin, c_exp};
    jx_switch(jx_full(t, JX_SCALAR(JX_I32), *(const int *)user), 3, br, NULL, 1, in, 1, out);
}

TEST(grad_of_grad_is_the_second_derivative) {
    const jx_type st = JX_SCALAR(JX_F64);
    const double s = 0.7;
    for (int c = 0; c < 7; c++) {
        int i = idxs[c] < 0 ? 0 : idxs[c] > 2 ? 2 : idxs[c];
        double want = i == 0 ? 6 * s : i == 1 ? -sin(s) : exp(s);
        jx_fn *h = jx_trace(h_scalar, 1, &st, 1, (void *)&idxs[c]);
        jx_fn *g = h ? jx_grad(h, 0, NULL) : NULL;
        jx_fn *gg = g ? jx_grad(g, 0, NULL) : NULL;
        jx_fn *hess = h ? jx_hessian(h, 0, NULL) : NULL;
        CHECK(gg && hess);
        if (!gg || !hess) printf("  %s\n", jx_error());
        jx_array *x = jx_array_scalar(JX_F64, s), *y = NULL, *z = NULL;
        if (gg) CHECK(jx_interp(gg, &x, &y) == 0);
        if (hess) CHECK(jx_interp(hess, &x, &z) == 0);
        if (y) CHECK_NEAR(jx_array_get(y, 0), want, 1e-12);
        if (z) CHECK_NEAR(jx_array_get(z, 0), want, 1e-12);
        jx_array_free(x), jx_array_free(y), jx_array_free(z);
        jx_fn_free(h), jx_fn_free(g), jx_fn_free(gg), jx_fn_free(hess);
    }
}

/* Inputs for vmap checks: indices from -2 to 5 (clamped ones included), floats in [lo, hi]. */
static jx_array *gen_wide(jx_type ty, double lo, double hi) {
    jx_array *a = txc_random(ty, lo, hi);
    if (ty.dtype == JX_I32)
        for (int64_t i = 0; a && i < jx_array_size(a); i++)
            jx_array_set(a, i, (double)((int)(txc_rand() * 8) - 2));
    return a;
}

/* 1 if vmap(f, axes) contains a cond node. */
static int vmapped_has_cond(const jx_fn *f, const int *axes, int64_t bsize) {
    jx_fn *v = jx_vmap(f, axes, NULL, bsize);
    char *s = v ? jx_fn_to_string(v) : NULL;
    int has = s && strstr(s, "= cond[") != NULL;
    free(s);
    jx_fn_free(v);
    return has;
}

TEST(vmap_matches_a_loop) {
    jx_fn *f = jx_trace(f_idx, 4, ty4, 3, NULL);
    CHECK(f != NULL);
    if (!f) return;
    const int axes[6][4] = {{JX_NONE, 0, JX_NONE, JX_NONE}, /* unbatched index: a cond */
                            {JX_NONE, 1, 0, 0},
                            {0, JX_NONE, JX_NONE, JX_NONE}, /* batched index: selects */
                            {0, 0, JX_NONE, 0},
                            {0, 1, 0, JX_NONE},
                            {0, 0, 0, 0}};
    for (int a = 0; a < 6; a++) {
        for (int rep = 0; rep < 3; rep++) txc_vmap_gen(f, axes[a], 6, gen_wide, -1, 1, 1e-14);
        CHECK(vmapped_has_cond(f, axes[a], 6) == (axes[a][0] == JX_NONE));
    }
    /* only m batched: result 0 depends on m in no branch, so it stays unbatched */
    const int m_only[4] = {JX_NONE, JX_NONE, JX_NONE, 0};
    jx_fn *v = jx_vmap(f, m_only, (const int[]){JX_NONE, 0, 0}, 6);
    CHECK(v != NULL);
    if (!v) printf("  %s\n", jx_error());
    jx_fn_free(v);
    jx_fn_free(f);
}

TEST(vmap_of_grad_matches_a_loop) {
    jx_fn *f = jx_trace(loss, 4, ty4, 1, NULL);
    jx_fn *g = f ? jx_value_and_grad(f, 2, (int[]){1, 2}) : NULL;
    CHECK(g != NULL);
    if (!g) return;
    const int axes[3][4] = {{JX_NONE, 0, 0, JX_NONE}, {0, 0, JX_NONE, 0}, {0, JX_NONE, JX_NONE, 0}};
    for (int a = 0; a < 3; a++)
        for (int rep = 0; rep < 3; rep++) txc_vmap_gen(g, axes[a], 5, gen_wide, -1, 1, 1e-13);
    jx_fn_free(g), jx_fn_free(f);
}

/* grad of vmap: the per-example loss summed over a batch with batched indices. */
static void batch_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val y;
    jx_call_vmap(loss, NULL, 4, JX_FLAT, (const int *)user, in, 1, NULL, &y);
    out[0] = jx_sum_all(y);
}

TEST(grad_of_vmap_matches_finite_differences) {
    const int axes[2][4] = {{0, 0, JX_NONE, JX_NONE}, {JX_NONE, 0, 0, 0}};
    for (int a = 0; a < 2; a++) {
        jx_type bt[4];
        for (int k = 0; k < 4; k++) {
            bt[k] = ty4[k];
            if (axes[a][k] == 0) { /* a leading batch axis of 4 */
                for (int d = bt[k].rank; d > 0; d--) bt[k].shape[d] = bt[k].shape[d - 1];
                bt[k].shape[0] = 4;
                bt[k].rank++;
            }
        }
        jx_fn *f = jx_trace(batch_loss, 4, bt, 1, (void *)axes[a]);
        CHECK(f != NULL);
        if (!f) printf("  %s\n", jx_error());
        for (int rep = 0; f && rep < 3; rep++) txc_grad(f, -1, 1, 1e-6);
        jx_fn_free(f);
    }
}

/* A cond inside a jvp taken in a trace: out = (y, dy) of f_idx along the tangent
 * (dx, ds) given as inputs, plus a use of dy after it. */
static void jvp_inside(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val o[6], tan[2] = {in[4], in[5]};
    unsigned char wrt[4] = {0, 1, 1, 0};
    if (jx_call_jvp(f_idx, NULL, 4, JX_FLAT, in, wrt, tan, 3, o) < 0) return;
    out[0] = jx_add(o[0], o[3]);
    out[1] = jx_mul(o[4], o[1]);
}

TEST(cond_inside_a_jvp_matches_finite_differences) {
    jx_type t6[6] = {ty4[0], ty4[1], ty4[2], ty4[3], ty4[1], ty4[2]};
    jx_fn *f = jx_trace(jvp_inside, 6, t6, 2, NULL);
    CHECK(f != NULL);
    if (!f) printf("  %s\n", jx_error());
    for (int rep = 0; f && rep < 4; rep++) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
}

/* Text round trip of g: print, parse, print again is the same text, and both give the
 * same values on random inputs. */
static void round_trip(const jx_fn *g) {
    char *s1 = jx_fn_to_string(g);
    jx_fn *p = s1 ? jx_fn_parse(s1) : NULL;
    if (!p) printf("  parse: %s\n", jx_error());
    char *s2 = p ? jx_fn_to_string(p) : NULL;
    CHECK(s1 && s2 && !strcmp(s1, s2));
    CHECK(p && jx_fn_verify(p) == 0);
    int ni = jx_fn_n_in(g), no = jx_fn_n_out(g);
    jx_array *in[16] = {0}, *a[16] = {0}, *b[16] = {0};
    for (int i = 0; i < ni && i < 16; i++) in[i] = gen_wide(jx_fn_in_type(g, i), -1, 1);
    CHECK(p && jx_interp(g, in, a) == 0 && jx_interp(p, in, b) == 0);
    for (int j = 0; j < no && a[j] && b[j]; j++)
        for (int64_t e = 0; e < jx_array_size(a[j]); e++)
            CHECK(jx_array_get(a[j], e) == jx_array_get(b[j], e));
    txc_free(ni, in), txc_free(no, a), txc_free(no, b);
    free(s1), free(s2);
    jx_fn_free(p);
}

TEST(transformed_functions_print_and_parse_back) {
    jx_fn *f = jx_trace(f_idx, 4, ty4, 3, NULL), *l = jx_trace(loss, 4, ty4, 1, NULL);
    CHECK(f && l);
    if (!f || !l) return;
    jx_fn *gs[4] = {jx_jvp(f, NULL), jx_vjp(f, NULL), jx_grad(l, 2, (int[]){1, 2}),
                    jx_vmap(f, (const int[]){JX_NONE, 0, 0, JX_NONE}, NULL, 3)};
    for (int k = 0; k < 4; k++) {
        CHECK(gs[k] != NULL);
        if (gs[k]) round_trip(gs[k]);
        jx_fn_free(gs[k]);
    }
    jx_fn_free(f), jx_fn_free(l);
}

/* The JIT compiles transformed conds (jvp, grad, vmap) and agrees with the interpreter. */
TEST(jit_runs_transformed_cond) {
    jx_fn *f = jx_trace(f_idx, 4, ty4, 3, NULL), *l = jx_trace(loss, 4, ty4, 1, NULL);
    CHECK(f && l);
    if (!f || !l) return;
    jx_fn *gs[3] = {jx_jvp(f, NULL), jx_grad(l, 2, (int[]){1, 2}),
                    jx_vmap(f, (const int[]){JX_NONE, 0, 0, JX_NONE}, NULL, 3)};
    for (int k = 0; k < 3; k++) {
        jx_exe *e = gs[k] ? jx_jit(gs[k], NULL) : NULL;
        CHECK(gs[k] && e);
        if (!e) printf("  %s\n", jx_error());
        int ni = gs[k] ? jx_fn_n_in(gs[k]) : 0, no = gs[k] ? jx_fn_n_out(gs[k]) : 0;
        jx_array *in[16] = {0}, *o[16] = {0}, *w[16] = {0};
        for (int i = 0; e && i < ni; i++) in[i] = txc_random(jx_fn_in_type(gs[k], i), -1, 1);
        CHECK(!e || (jx_exe_run(e, in, o) == 0 && jx_interp(gs[k], in, w) == 0));
        for (int j = 0; e && j < no && o[j] && w[j]; j++)
            for (int64_t q = 0; q < jx_array_size(w[j]); q++)
                CHECK_NEAR(jx_array_get(o[j], q), jx_array_get(w[j], q), 1e-12);
        txc_free(ni, in), txc_free(no, o), txc_free(no, w);
        jx_exe_free(e), jx_fn_free(gs[k]);
    }
    jx_fn_free(f), jx_fn_free(l);
}

/* A scan in a cond branch: the cond's grad, jvp and vmap take the branch's scan's. */
static void cell(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_tanh(in[0]), in[1]);
    out[1] = jx_sum_all(out[0]);
}
static void br_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val ys;
    jx_scan(cell, NULL, 1, in, 1, in + 1, -1, 0, 1, out, &ys);
}
static void br_plain(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = in[0];
}
static void f_cond_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_cond(jx_gt(jx_sum_all(in[0]), jx_lit(in[0], 0)), br_scan, br_plain, NULL, 2, in, 1, out);
}

TEST(scan_in_a_branch_has_every_rule) {
    const jx_type st[2] = {{JX_F64, 1, {3}}, {JX_F64, 2, {4, 3}}};
    jx_fn *c = jx_trace(f_cond_scan, 2, st, 1, NULL);
    CHECK(c != NULL);
    if (!c) return;
    for (int rep = 0; rep < 4; rep++) txc_grad(c, -1, 1, 1e-6); /* both branches */
    txc_vmap(c, (const int[]){0, 0}, 3, -1, 1, 1e-12);
    txc_vmap(c, (const int[]){JX_NONE, 1}, 3, -1, 1, 1e-12);
    jx_fn_free(c);
}

TEST_MAIN()
