/* The library's custom derivatives: relu'(0) = 0 (jax.nn.relu) while max keeps its 0.5
 * tie rule, softplus'(0) = 0.5, logsumexp's gradient (softmax, 0 on an all -inf row),
 * each through the interpreter and the JIT, which must agree. */
#include <jx/nn.h>

#include "check.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)

/* Runs f on in with the interpreter and the JIT; returns the interpreter's output 0 and
 * checks that the JIT's equals it bit for bit (tol 0) or within tol. */
static jx_array *both(const jx_fn *f, jx_array *in, double tol) {
    jx_array *yi = NULL, *yj = NULL;
    CHECK(f != NULL);
    if (!f) return NULL;
    CHECK(jx_interp(f, &in, &yi) == 0);
    jx_exe *e = jx_jit(f, NULL);
    CHECK(e != NULL);
    if (!e) printf("%s\n", jx_error());
    CHECK(e && jx_exe_run(e, &in, &yj) == 0);
    for (int64_t i = 0; yi && yj && i < jx_array_size(yi); i++) {
        double a = jx_array_get(yi, i), b = jx_array_get(yj, i);
        CHECK(a == b || (isnan(a) && isnan(b)) || fabs(a - b) <= tol * (1 + fabs(a)));
    }
    jx_array_free(yj);
    jx_exe_free(e);
    return yi;
}

static jx_array *vec(jx_type t, const double *v) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; i < jx_array_size(a); i++) jx_array_set(a, i, v[i]);
    return a;
}

/* sum(act(x)) for the activation named by user ("relu", "max0", "softplus"). */
static void act_sum(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    const char *which = u;
    jx_val x = in[0], y;
    if (!strcmp(which, "relu")) y = jx_relu(x);
    else if (!strcmp(which, "max0")) y = jx_max(x, jx_lit(x, 0.0));
    else y = jx_softplus(x);
    out[0] = jx_sum_all(y);
}

/* grad of sum(act(x)) at x = (-1, 0, 2, 0), through the interpreter and the JIT. */
static jx_array *act_grad(const char *which) {
    jx_type ty = F32(4);
    jx_fn *f = jx_trace(act_sum, 1, &ty, 1, (void *)which);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
    jx_array *x = vec(ty, (double[]){-1, 0, 2, 0}), *gx = both(g, x, 0);
    jx_array_free(x);
    jx_fn_free(g);
    jx_fn_free(f);
    return gx;
}

TEST(relu_derivative_at_zero_is_zero) {
    jx_array *g = act_grad("relu");
    CHECK(g && jx_array_get(g, 0) == 0.0 && jx_array_get(g, 1) == 0.0);
    CHECK(g && jx_array_get(g, 2) == 1.0 && jx_array_get(g, 3) == 0.0);
    jx_array_free(g);
}

TEST(max_keeps_its_tie_rule) {
    jx_array *g = act_grad("max0");
    CHECK(g && jx_array_get(g, 1) == 0.5 && jx_array_get(g, 2) == 1.0 && jx_array_get(g, 0) == 0.0);
    jx_array_free(g);
}

TEST(softplus_derivative_at_zero_is_one_half) {
    jx_array *g = act_grad("softplus");
    CHECK(g && jx_array_get(g, 1) == 0.5 && jx_array_get(g, 3) == 0.5);
    CHECK(g && fabs(jx_array_get(g, 0) - 1 / (1 + exp(1.0))) < 1e-7);
    jx_array_free(g);
}

/* relu's jvp at 0 through jx_jvp, the interpreter and the JIT: tangent 0. */
static void relu1(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_relu(in[0]);
}

TEST(relu_jvp_at_zero_and_jit_forward) {
    jx_type ty = F32(3);
    jx_type two[2] = {ty, ty};
    jx_fn *f = jx_trace(relu1, 1, &ty, 1, NULL), *j = f ? jx_jvp(f, NULL) : NULL;
    jx_array *in[2] = {vec(ty, (double[]){0, -2, 3}), vec(ty, (double[]){1, 1, 1})}, *out[2] = {0};
    CHECK(j && jx_interp(j, in, out) == 0);
    CHECK(out[1] && jx_array_get(out[1], 0) == 0.0 && jx_array_get(out[1], 2) == 1.0);
    (void)two;
    jx_array *y = both(f, in[0], 0); /* the JIT runs relu's inlined call */
    CHECK(y && jx_array_get(y, 0) == 0.0 && jx_array_get(y, 2) == 3.0);
    jx_array *list[] = {in[0], in[1], out[0], out[1], y};
    for (int i = 0; i < 5; i++) jx_array_free(list[i]);
    jx_fn_free(j);
    jx_fn_free(f);
}

/* sum(logsumexp(x, axis 1) * (1, 2)). */
static void lse_sum(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val l = jx_logsumexp(in[0], 1);
    out[0] = jx_sum_all(jx_mul(l, jx_add(jx_iota(t, jx_val_type(l), 0), jx_lit(l, 1.0))));
}

TEST(logsumexp_gradient_is_softmax_and_zero_on_dead_rows) {
    jx_type ty = F32(2, 3);
    jx_fn *f = jx_trace(lse_sum, 1, &ty, 1, NULL), *g = f ? jx_grad(f, 0, NULL) : NULL;
    double v[6] = {1000, 1001, 999, -INFINITY, -INFINITY, -INFINITY};
    jx_array *x = vec(ty, v), *gx = both(g, x, 1e-6), *y = both(f, x, 1e-6);
    double e0 = exp(-1.0), e2 = exp(-2.0), s = e0 + 1 + e2;
    CHECK(gx && fabs(jx_array_get(gx, 0) - e0 / s) < 1e-6 && fabs(jx_array_get(gx, 1) - 1 / s) < 1e-6);
    for (int i = 3; gx && i < 6; i++) CHECK(jx_array_get(gx, i) == 0.0); /* not NaN */
    CHECK(y && jx_array_get(y, 0) == -INFINITY); /* 1001 + log(s) - 2 * inf */
    jx_array *list[] = {x, gx, y};
    for (int i = 0; i < 3; i++) jx_array_free(list[i]);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
