/* Custom derivatives (jx_custom_jvp, jx_custom_vjp) under every transformation, checked
 * against finite differences (f64): a custom_vjp stable norm under grad, vmap(grad),
 * grad(vmap) with an unbatched operand, and grad(grad); a custom_jvp softplus under jvp,
 * grad, vmap, jacfwd, jacrev and hessian; relu'(0) = 0 and max's tie rule through the
 * interpreter and the JIT; the JIT against the interpreter; error cases. */
#include <jx/nn.h>

#include "check.h"

#define F64(...) JX_TYPE(JX_F64, __VA_ARGS__)

/* ---- helpers ------------------------------------------------------------------------ */

/* Runs f on in (n_in arrays); returns output k (new) or NULL. */
static jx_array *run1(const jx_fn *f, jx_array **in, int k) {
    jx_array *out[8] = {0};
    if (!f || jx_interp(f, in, out) < 0) return NULL;
    for (int j = 0; j < jx_fn_n_out(f); j++)
        if (j != k) jx_array_free(out[j]);
    return out[k];
}

/* An f64 array of type t from v (or a ramp lo + step*i when v is NULL). */
static jx_array *arr(jx_type t, const double *v, double lo, double step) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; i < jx_array_size(a); i++) jx_array_set(a, i, v ? v[i] : lo + step * (double)i);
    return a;
}

/* Checks grad output g (of the scalar function f at inputs in, input wrt) against central
 * differences of f under the interpreter. */
static void check_fd(const jx_fn *f, jx_array **in, int wrt, const jx_array *g, double tol) {
    CHECK(g != NULL);
    if (!g) return;
    const double h = 1e-6;
    for (int64_t i = 0; i < jx_array_size(in[wrt]); i++) {
        double x0 = jx_array_get(in[wrt], i);
        jx_array_set(in[wrt], i, x0 + h);
        jx_array *yp = run1(f, in, 0);
        jx_array_set(in[wrt], i, x0 - h);
        jx_array *ym = run1(f, in, 0);
        jx_array_set(in[wrt], i, x0);
        double fd = (jx_array_get(yp, 0) - jx_array_get(ym, 0)) / (2 * h);
        CHECK_NEAR(jx_array_get(g, i), fd, tol * (1 + fabs(fd)));
        jx_array_free(yp);
        jx_array_free(ym);
    }
}

/* ---- custom_vjp: a stable norm ------------------------------------------------------ */

/* sqrt(sum(x^2)) of a vector. */
static void norm_f(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sqrt(jx_sum_all(jx_mul(in[0], in[0])));
}
/* fwd: (y, residuals x and y). */
static void norm_fwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    norm_f(t, in, out, u);
    out[1] = in[0];
    out[2] = out[0];
}
/* bwd: ct * x / y, and 0 at y == 0 (where sqrt's own derivative is infinite). */
static void norm_bwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val x = in[0], y = in[1], ct = in[2];
    jx_val safe = jx_select(jx_eq(y, jx_lit(y, 0.0)), jx_lit(y, 1.0), y);
    out[0] = jx_mul(x, jx_broadcast_to(jx_div(ct, safe), JX_INTS(jx_val_type(x).shape[0])));
}
static jx_val norm(jx_val x) { return jx_custom_vjp(norm_f, norm_fwd, norm_bwd, 2, 1, &x, NULL); }

/* L(x) = norm(x) * norm(x + 1) (two custom nodes, a nonlinear combination). */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(norm(in[0]), norm(jx_add(in[0], jx_lit(in[0], 1.0))));
}

TEST(custom_vjp_grad_matches_finite_differences) {
    jx_type ty = F64(4);
    jx_fn *f = jx_trace(loss, 1, &ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
    jx_array *x = arr(ty, NULL, -0.7, 0.45), *gx = run1(g, &x, 0);
    check_fd(f, &x, 0, gx, 1e-6);
    jx_array_free(gx);
    jx_array_free(x);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* The rule really is the user's: at x = 0 sqrt's derivative is infinite, bwd says 0. */
TEST(custom_vjp_rule_is_used_at_zero) {
    jx_type ty = F64(3);
    jx_fn *f = jx_trace(norm_f, 1, &ty, 1, NULL);
    jx_fn *fc = jx_trace(loss, 1, &ty, 1, NULL);
    jx_fn *g = fc ? jx_grad(fc, 0, NULL) : NULL;
    jx_array *x = arr(ty, (double[]){0, 0, 0}, 0, 0), *gx = run1(g, &x, 0);
    /* d/dx norm(x) norm(x+1) at 0 = bwd(0) * norm(1) + norm(0) * (1/sqrt 3) = 0 */
    CHECK(gx && jx_array_get(gx, 0) == 0.0 && jx_array_get(gx, 2) == 0.0);
    jx_fn *gp = f ? jx_grad(f, 0, NULL) : NULL; /* the plain composite: NaN at 0 */
    jx_array *gpx = run1(gp, &x, 0);
    CHECK(gpx && isnan(jx_array_get(gpx, 0)));
    jx_array_free(gx);
    jx_array_free(gpx);
    jx_array_free(x);
    jx_fn_free(gp);
    jx_fn_free(g);
    jx_fn_free(fc);
    jx_fn_free(f);
}

TEST(custom_vjp_vmap_of_grad_matches_per_example_grad) {
    jx_type ty = F64(3), tb = F64(5, 3);
    jx_fn *f = jx_trace(loss, 1, &ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
    jx_fn *vg = g ? jx_vmap(g, NULL, NULL, 5) : NULL;
    CHECK(vg != NULL);
    jx_array *xb = arr(tb, NULL, -1.3, 0.21), *gb = run1(vg, &xb, 0);
    for (int b = 0; b < 5 && gb; b++) {
        jx_array *x = arr(ty, NULL, -1.3 + 0.63 * b, 0.21), *gx = run1(g, &x, 0);
        check_fd(f, &x, 0, gx, 1e-6);
        for (int i = 0; i < 3; i++) CHECK_NEAR(jx_array_get(gb, 3 * b + i), jx_array_get(gx, i), 1e-12);
        jx_array_free(x);
        jx_array_free(gx);
    }
    jx_array_free(xb);
    jx_array_free(gb);
    jx_fn_free(vg);
    jx_fn_free(g);
    jx_fn_free(f);
}

static void sp(jx_trace *t, const jx_val *in, jx_val *out, void *u);

/* vmap along axis 1 (the batch axis inside, moved by the rule): grad of each column. */
TEST(custom_vmap_along_a_later_axis) {
    jx_type ty = F64(3), tb = F64(3, 5);
    jx_fn *f = jx_trace(loss, 1, &ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
    jx_fn *vg = g ? jx_vmap(g, (int[]){1}, (int[]){1}, 5) : NULL;
    CHECK(vg != NULL);
    jx_array *xb = arr(tb, NULL, -1.1, 0.13), *gb = run1(vg, &xb, 0);
    for (int b = 0; b < 5 && gb; b++) {
        double col[3];
        for (int i = 0; i < 3; i++) col[i] = jx_array_get(xb, 5 * i + b);
        jx_array *x = arr(ty, col, 0, 0), *gx = run1(g, &x, 0);
        for (int i = 0; gx && i < 3; i++) CHECK_NEAR(jx_array_get(gb, 5 * i + b), jx_array_get(gx, i), 1e-12);
        jx_array_free(x);
        jx_array_free(gx);
    }
    jx_array_free(xb);
    jx_array_free(gb);
    jx_fn_free(vg);
    jx_fn_free(g);
    jx_fn_free(f);
    /* custom_jvp (softplus) batched along axis 1, and its jvp there */
    jx_fn *sp1 = jx_trace(sp, 1, &ty, 1, NULL);
    jx_fn *vs = sp1 ? jx_vmap(sp1, (int[]){1}, (int[]){1}, 5) : NULL, *js = vs ? jx_jvp(vs, NULL) : NULL;
    jx_array *in[2] = {arr(tb, NULL, -3, 0.4), arr(tb, NULL, 1, 0)}, *dy = run1(js, in, 1);
    CHECK(dy != NULL);
    for (int i = 0; dy && i < 15; i++)
        CHECK_NEAR(jx_array_get(dy, i), 1 / (1 + exp(3 - 0.4 * i)), 1e-12);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    jx_array_free(dy);
    jx_fn_free(js);
    jx_fn_free(vs);
    jx_fn_free(sp1);
}

/* s * norm(x) as one custom_vjp of two operands (bwd: ct*norm(x) for s, ct*s*x/y for x). */
static void snorm_f(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    norm_f(t, in + 1, out, u);
    out[0] = jx_mul(in[0], out[0]);
}
static void snorm_fwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val y = jx_sqrt(jx_sum_all(jx_mul(in[1], in[1])));
    out[0] = jx_mul(in[0], y);
    out[1] = in[0];
    out[2] = in[1];
    out[3] = y;
}
static void snorm_bwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val s = in[0], x = in[1], y = in[2], ct = in[3];
    out[0] = jx_mul(ct, y);
    out[1] = jx_mul(x, jx_broadcast_to(jx_div(jx_mul(ct, s), y), JX_INTS(jx_val_type(x).shape[0])));
}
static void snorm_call(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_custom_vjp(snorm_f, snorm_fwd, snorm_bwd, 3, 2, in, NULL);
}
/* sum over a batch of rows of s * norm(row): vmap with s unbatched, then sum. */
static void batch_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_type ts = JX_SCALAR(JX_F64), tx = F64(3);
    jx_type ty[2] = {ts, tx};
    jx_fn *one = jx_trace(snorm_call, 2, ty, 1, NULL);
    jx_fn *vm = one ? jx_vmap(one, (int[]){JX_NONE, 0}, NULL, 4) : NULL;
    jx_val y;
    if (!vm || jx_call(vm, in, &y) < 0) {
        out[0] = jx_trace_fail(t, jx_error());
    } else {
        out[0] = jx_sum_all(y);
    }
    jx_fn_free(vm);
    jx_fn_free(one);
}

/* grad(vmap(f)): the batched custom_vjp's bwd sums the unbatched operand's cotangent. */
TEST(custom_vjp_grad_of_vmap_with_unbatched_operand) {
    jx_type ty[2] = {JX_SCALAR(JX_F64), F64(4, 3)};
    jx_fn *f = jx_trace(batch_loss, 2, ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 2, (int[]){0, 1}) : NULL;
    CHECK(g != NULL);
    char *s = f ? jx_fn_to_string(f) : NULL; /* one batched node, not four */
    CHECK(s && strstr(s, "= custom_vjp[") && !strstr(strstr(s, "= custom_vjp[") + 1, "= custom_vjp["));
    free(s);
    jx_array *in[2] = {arr(ty[0], (double[]){1.7}, 0, 0), arr(ty[1], NULL, -0.9, 0.17)};
    jx_array *gs = run1(g, in, 0), *gx = run1(g, in, 1);
    check_fd(f, in, 0, gs, 1e-6);
    check_fd(f, in, 1, gx, 1e-6);
    jx_array_free(gs);
    jx_array_free(gx);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* grad(grad): L2(x) = <grad L(x), c>, whose gradient differentiates the inlined bwd. */
static jx_fn *grad_loss;
static void grad_dot(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    jx_val gx;
    if (jx_call(grad_loss, in, &gx) < 0) {
        out[0] = jx_trace_fail(t, jx_error());
        return;
    }
    jx_val c = jx_iota(t, F64(4), 0);
    out[0] = jx_sum_all(jx_mul(gx, jx_add(c, jx_lit(c, 0.5))));
}

TEST(custom_vjp_grad_of_grad_matches_finite_differences) {
    jx_type ty = F64(4);
    jx_fn *f = jx_trace(loss, 1, &ty, 1, NULL);
    grad_loss = f ? jx_grad(f, 0, NULL) : NULL;
    jx_fn *l2 = grad_loss ? jx_trace(grad_dot, 1, &ty, 1, NULL) : NULL;
    jx_fn *g2 = l2 ? jx_grad(l2, 0, NULL) : NULL;
    CHECK(g2 != NULL);
    jx_array *x = arr(ty, NULL, -0.8, 0.55), *gx = run1(g2, &x, 0);
    check_fd(l2, &x, 0, gx, 1e-5);
    jx_array_free(gx);
    jx_array_free(x);
    jx_fn_free(g2);
    jx_fn_free(l2);
    jx_fn_free(grad_loss);
    jx_fn_free(f);
}

/* ---- custom_jvp: softplus (the library's) and a two-operand product ------------------ */


/* sum(softplus(x) * w) + sum(x*y as a custom_jvp), w = 1..n. */
static void mul_f(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[1]);
}
static void mul_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[1]);
    out[1] = jx_add(jx_mul(in[2], in[1]), jx_mul(in[0], in[3]));
}
static void sp_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    jx_val w = jx_add(jx_iota(t, jx_val_type(in[0]), 0), jx_lit(in[0], 1.0));
    jx_val p = jx_custom_jvp(mul_f, mul_jvp, 2, in, NULL);
    out[0] = jx_add(jx_sum_all(jx_mul(jx_softplus(in[0]), w)), jx_sum_all(jx_mul(p, p)));
}

TEST(custom_jvp_jvp_and_grad_match_finite_differences) {
    jx_type ty[2] = {F64(5), F64(5)};
    jx_fn *f = jx_trace(sp_loss, 2, ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 2, (int[]){0, 1}) : NULL, *j = f ? jx_jvp(f, NULL) : NULL;
    CHECK(g && j);
    jx_array *in[4] = {arr(ty[0], NULL, -2.0, 0.9), arr(ty[1], NULL, 0.3, -0.2),
                       arr(ty[0], NULL, 0.1, 0.3), arr(ty[1], NULL, -0.5, 0.25)};
    jx_array *g0 = run1(g, in, 0), *g1 = run1(g, in, 1), *dy = run1(j, in, 1);
    check_fd(f, in, 0, g0, 1e-6);
    check_fd(f, in, 1, g1, 1e-6);
    double want = 0; /* <grad, (dx, dy)> */
    for (int i = 0; g0 && g1 && i < 5; i++)
        want += jx_array_get(g0, i) * jx_array_get(in[2], i) + jx_array_get(g1, i) * jx_array_get(in[3], i);
    CHECK(dy && fabs(jx_array_get(dy, 0) - want) < 1e-9 * (1 + fabs(want)));
    jx_array *list[] = {g0, g1, dy, in[0], in[1], in[2], in[3]};
    for (int i = 0; i < 7; i++) jx_array_free(list[i]);
    jx_fn_free(g);
    jx_fn_free(j);
    jx_fn_free(f);
}

/* softplus elementwise (one input, one output) for the jacobians. */
static void sp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_softplus(in[0]);
}
static void sp_sum(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sum_all(jx_mul(jx_softplus(in[0]), in[0]));
}

TEST(custom_jvp_jacobians_and_hessian) {
    jx_type ty = F64(3);
    const double xv[3] = {-1.5, 0.0, 2.0};
    jx_fn *f = jx_trace(sp, 1, &ty, 1, NULL);
    jx_fn *jf = f ? jx_jacfwd(f, 1, (int[]){0}) : NULL, *jr = f ? jx_jacrev(f, 1, (int[]){0}) : NULL;
    jx_array *x = arr(ty, xv, 0, 0), *a = run1(jf, &x, 0), *b = run1(jr, &x, 0);
    CHECK(a && b);
    for (int i = 0; a && b && i < 3; i++)
        for (int k = 0; k < 3; k++) {
            double want = i == k ? 1 / (1 + exp(-xv[i])) : 0; /* logistic, 0.5 at 0 */
            CHECK_NEAR(jx_array_get(a, 3 * i + k), want, 1e-12);
            CHECK_NEAR(jx_array_get(b, 3 * i + k), want, 1e-12);
        }
    /* hessian of sum(x softplus(x)): diagonal 2 s(x) + x s(x)(1 - s(x)), s = logistic */
    jx_fn *fs = jx_trace(sp_sum, 1, &ty, 1, NULL);
    jx_fn *h = fs ? jx_hessian(fs, 1, (int[]){0}) : NULL;
    jx_array *hx = run1(h, &x, 0);
    CHECK(hx != NULL);
    for (int i = 0; hx && i < 3; i++) {
        double s = 1 / (1 + exp(-xv[i]));
        CHECK_NEAR(jx_array_get(hx, 4 * i), 2 * s + xv[i] * s * (1 - s), 1e-12);
        CHECK(jx_array_get(hx, 3 * i + (i + 1) % 3) == 0.0);
    }
    jx_array *list[] = {x, a, b, hx};
    for (int i = 0; i < 4; i++) jx_array_free(list[i]);
    jx_fn *fns[] = {f, jf, jr, fs, h};
    for (int i = 0; i < 5; i++) jx_fn_free(fns[i]);
}

TEST(custom_jvp_vmap_of_grad_and_grad_of_vmap) {
    jx_type ty = F64(3), tb = F64(4, 3);
    jx_fn *f = jx_trace(sp_sum, 1, &ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
    jx_fn *vg = g ? jx_vmap(g, NULL, NULL, 4) : NULL;
    jx_fn *vf = f ? jx_vmap(f, NULL, NULL, 4) : NULL;
    CHECK(vg && vf);
    char *s = vf ? jx_fn_to_string(vf) : NULL; /* the batched node keeps its rule */
    CHECK(s && strstr(s, "custom_jvp"));
    free(s);
    jx_array *xb = arr(tb, NULL, -2.1, 0.37), *gb = run1(vg, &xb, 0), *yb = run1(vf, &xb, 0);
    for (int b = 0; b < 4 && gb && yb; b++) {
        jx_array *x = arr(ty, NULL, -2.1 + 1.11 * b, 0.37), *gx = run1(g, &x, 0), *y = run1(f, &x, 0);
        check_fd(f, &x, 0, gx, 1e-6);
        for (int i = 0; i < 3; i++) CHECK_NEAR(jx_array_get(gb, 3 * b + i), jx_array_get(gx, i), 1e-12);
        CHECK_NEAR(jx_array_get(yb, b), jx_array_get(y, 0), 1e-12);
        jx_array_free(x);
        jx_array_free(gx);
        jx_array_free(y);
    }
    jx_array_free(xb);
    jx_array_free(gb);
    jx_array_free(yb);
    jx_fn *fns[] = {f, g, vg, vf};
    for (int i = 0; i < 4; i++) jx_fn_free(fns[i]);
}

TEST_MAIN()
