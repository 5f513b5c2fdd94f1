/* Index-list contracts of the transformations, one rule for all (JAX's argnums):
 *  - jx_grad / jx_value_and_grad: one gradient per entry of the wrt list, in list order;
 *    an index listed twice gets its gradient twice (grad(f, argnums=(0, 0)) in JAX);
 *  - jx_vjp: a per-input mask (any nonzero entry selects), one cotangent per selected
 *    input in input order (a mask cannot repeat an input);
 *  - jx_jacrev / jx_jacfwd / jx_hessian: one input index, range-checked.
 * Values are checked on the interpreter against closed forms. */
#include "check.h"

static const jx_type ct_ty = {JX_F64, 1, {3}};
static const double ct_x[3] = {1.0, -2.0, 0.5}, ct_y[3] = {3.0, 0.25, -1.0};

/* f(x, y) = (sum(x*x*y), x + y): a scalar loss with an auxiliary output. */
static void ct_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_mul(jx_mul(in[0], in[0]), in[1]));
    out[1] = jx_add(in[0], in[1]);
}

/* g(x, y) = x*x*y (elementwise, a vector). */
static void ct_vec(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(jx_mul(in[0], in[0]), in[1]);
}

static jx_fn *ct_fn(jx_trace_cb cb, int n_out) {
    jx_type ts[2] = {ct_ty, ct_ty};
    jx_fn *f = jx_trace(cb, 2, ts, n_out, NULL);
    CHECK(f != NULL);
    return f;
}

/* Runs g on (ct_x, ct_y); out receives its outputs (at most 8). Returns 0 or -1. */
static int ct_run(const jx_fn *g, jx_array **out) {
    int64_t n = 3;
    jx_array *in[2] = {jx_array_from(JX_F64, 1, &n, ct_x), jx_array_from(JX_F64, 1, &n, ct_y)};
    int rc = g && jx_fn_n_out(g) <= 8 ? jx_interp(g, in, out) : -1;
    if (rc < 0) printf("  %s\n", jx_error());
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    return rc;
}

/* Checks a[i] == want(i) for i < n (want: 0 = d/dx = 2xy, 1 = d/dy = x^2). */
static void ct_expect_grad(const jx_array *a, int which) {
    CHECK(a != NULL && jx_array_size(a) == 3);
    for (int i = 0; a && i < 3 && i < jx_array_size(a); i++)
        CHECK_NEAR(jx_array_get(a, i), which == 0 ? 2 * ct_x[i] * ct_y[i] : ct_x[i] * ct_x[i],
                   1e-12);
}

static void ct_free(int n, jx_array **a) {
    for (int i = 0; i < n; i++) jx_array_free(a[i]);
}

/* Checks jx_grad(ct_loss, n, wrt) has n outputs, output k the gradient for input wrt[k]. */
static void ct_check_grad(int n, const int *wrt) {
    jx_fn *f = ct_fn(ct_loss, 2);
    jx_fn *g = f ? jx_grad(f, n, wrt) : NULL;
    CHECK(g && jx_fn_n_out(g) == n);
    jx_array *o[8] = {0};
    if (g && jx_fn_n_out(g) == n && ct_run(g, o) == 0)
        for (int k = 0; k < n; k++) ct_expect_grad(o[k], wrt[k]);
    ct_free(8, o);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(grad_repeated_index_returns_the_gradient_twice) {
    ct_check_grad(2, (int[]){0, 0});
}

TEST(grad_outputs_follow_the_wrt_order) {
    ct_check_grad(3, (int[]){1, 0, 1});
}

TEST(value_and_grad_repeated_index) {
    jx_fn *f = ct_fn(ct_loss, 2);
    jx_fn *g = f ? jx_value_and_grad(f, 3, (int[]){0, 1, 0}) : NULL;
    CHECK(g && jx_fn_n_out(g) == 5); /* y, aux, dx, dy, dx */
    jx_array *o[8] = {0};
    if (g && jx_fn_n_out(g) == 5 && ct_run(g, o) == 0) {
        double y = 0;
        for (int i = 0; i < 3; i++) y += ct_x[i] * ct_x[i] * ct_y[i];
        CHECK_NEAR(jx_array_get(o[0], 0), y, 1e-12);
        CHECK_NEAR(jx_array_get(o[1], 2), ct_x[2] + ct_y[2], 1e-12);
        ct_expect_grad(o[2], 0);
        ct_expect_grad(o[3], 1);
        ct_expect_grad(o[4], 0);
    }
    ct_free(8, o);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(grad_default_and_bad_lists) {
    jx_fn *f = ct_fn(ct_loss, 2);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL; /* input 0 */
    CHECK(g && jx_fn_n_out(g) == 1);
    jx_fn_free(g);
    CHECK(jx_grad(f, 2, (int[]){0, 2}) == NULL);
    CHECK_CONTAINS(jx_error(), "wrt index 2 out of range");
    CHECK(jx_grad(f, 1, (int[]){-1}) == NULL);
    CHECK_CONTAINS(jx_error(), "wrt index -1");
    CHECK(jx_value_and_grad(f, -3, (int[]){0}) == NULL);
    CHECK_CONTAINS(jx_error(), "value_and_grad: bad wrt list (count -3");
    CHECK(jx_grad(f, 2, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "NULL indices");
    jx_fn_free(f);
}

TEST(vjp_mask_selects_each_input_once_in_input_order) {
    jx_fn *f = ct_fn(ct_loss, 2);
    /* any nonzero entry selects; the cotangents come in input order */
    jx_fn *g = f ? jx_vjp(f, (const unsigned char[]){0, 7}) : NULL;
    CHECK(g && jx_fn_n_in(g) == 4 && jx_fn_n_out(g) == 3); /* y, aux, ct_y */
    jx_fn_free(g);
    g = f ? jx_vjp(f, NULL) : NULL; /* every float input */
    CHECK(g && jx_fn_n_out(g) == 4);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* Checks a 3x3 Jacobian/Hessian is diagonal with diag(i) = d(i). */
static void ct_expect_diag(const jx_array *a, const double *d) {
    CHECK(a && jx_array_size(a) == 9);
    for (int i = 0; a && jx_array_size(a) == 9 && i < 9; i++)
        CHECK_NEAR(jx_array_get(a, i), i % 4 == 0 ? d[i / 4] : 0.0, 1e-12);
}

TEST(jacobians_take_one_checked_index) {
    jx_fn *v = ct_fn(ct_vec, 1), *l = ct_fn(ct_loss, 2);
    double dx[3], dy[3], hxx[3], hyy[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        dx[i] = 2 * ct_x[i] * ct_y[i];
        dy[i] = ct_x[i] * ct_x[i];
        hxx[i] = 2 * ct_y[i];
    }
    jx_fn *(*const jac[2])(const jx_fn *, int, const int *) = {jx_jacrev, jx_jacfwd};
    for (int k = 0; k < 2; k++) {
        for (int w = 0; w < 2; w++) {
            jx_fn *j = v ? jac[k](v, 1, &w) : NULL;
            jx_array *o[8] = {0};
            CHECK(j && jx_fn_n_out(j) == 1);
            if (j && ct_run(j, o) == 0) ct_expect_diag(o[0], w ? dy : dx);
            ct_free(8, o);
            jx_fn_free(j);
        }
        CHECK(jac[k](v, 1, (int[]){2}) == NULL);
        CHECK_CONTAINS(jx_error(), "wrt 2 out of range");
        CHECK(jac[k](v, 1, (int[]){-1}) == NULL);
        CHECK_CONTAINS(jx_error(), "wrt -1 out of range");
    }
    for (int w = 0; w < 2; w++) {
        jx_fn *h = l ? jx_hessian(l, 1, &w) : NULL;
        jx_array *o[8] = {0};
        CHECK(h && jx_fn_n_out(h) == 1);
        if (h && ct_run(h, o) == 0) ct_expect_diag(o[0], w ? hyy : hxx);
        ct_free(8, o);
        jx_fn_free(h);
    }
    CHECK(jx_hessian(l, 1, (int[]){5}) == NULL);
    CHECK_CONTAINS(jx_error(), "wrt 5 out of range");
    jx_fn_free(v);
    jx_fn_free(l);
}

TEST_MAIN()
