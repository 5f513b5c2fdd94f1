/* Jacobians and Hessians with respect to several inputs (JAX's argnums tuple): jx_jacrev,
 * jx_jacfwd and jx_hessian with a wrt list, against closed forms in f64 (1e-12), in list
 * order, with repeated entries; the error for a bad list. */
#include "txcheck.h"

static const double X[3] = {0.5, -1.25, 2.0}, Y[2] = {1.5, -0.75};

/* s(x[3], y[2]) = sum(x^2) y0 + x0 y1^3 (a scalar) */
static void s_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val x = in[0], y0 = jx_slice(in[1], JX_INTS(0), JX_INTS(1), JX_INTS(1));
    jx_val y1 = jx_slice(in[1], JX_INTS(1), JX_INTS(2), JX_INTS(1));
    jx_val x0 = jx_slice(x, JX_INTS(0), JX_INTS(1), JX_INTS(1));
    out[0] = jx_add(jx_mul(jx_sum_all(jx_square(x)), jx_sum_all(y0)),
                    jx_sum_all(jx_mul(x0, jx_mul(y1, jx_square(y1)))));
}

/* w(x[3], y[2]) = [x0 y1, x1 + x2 y0] */
static void w_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val x = in[0], y = in[1];
    jx_val a = jx_mul(jx_slice(x, JX_INTS(0), JX_INTS(1), JX_INTS(1)),
                      jx_slice(y, JX_INTS(1), JX_INTS(2), JX_INTS(1)));
    jx_val b = jx_add(jx_slice(x, JX_INTS(1), JX_INTS(2), JX_INTS(1)),
                      jx_mul(jx_slice(x, JX_INTS(2), JX_INTS(3), JX_INTS(1)),
                             jx_slice(y, JX_INTS(0), JX_INTS(1), JX_INTS(1))));
    out[0] = jx_concatenate(2, (jx_val[]){a, b}, 0);
}

static jx_fn *make(jx_trace_cb cb) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, 2)};
    return jx_trace(cb, 2, ty, 1, NULL);
}

/* Runs g on (X, Y); checks output k against want[k] (n_el[k] values each). */
static void expect(jx_fn *g, int n, const int *n_el, const double *const *want) {
    CHECK(g != NULL);
    if (!g) {
        printf("  %s\n", jx_error());
        return;
    }
    CHECK(jx_fn_n_out(g) == n);
    jx_array *in[2] = {jx_array_from(JX_F64, 1, (int64_t[]){3}, X),
                       jx_array_from(JX_F64, 1, (int64_t[]){2}, Y)};
    jx_array *out[16] = {0};
    CHECK(jx_interp(g, in, out) == 0);
    for (int k = 0; k < n && out[k]; k++) {
        CHECK(jx_array_size(out[k]) == n_el[k]);
        for (int i = 0; i < n_el[k] && i < jx_array_size(out[k]); i++)
            CHECK_NEAR(jx_array_get(out[k], i), want[k][i], 1e-12);
    }
    txc_free(2, in), txc_free(n, out);
    jx_fn_free(g);
}

TEST(jacobians_of_a_vector_function_in_list_order) {
    jx_fn *w = make(w_cb);
    /* J_y [2,2] and J_x [2,3], asked for as wrt = (1, 0) */
    const double jy[4] = {0, X[0], X[2], 0}, jx[6] = {Y[1], 0, 0, 0, 1, Y[0]};
    const double *want[2] = {jy, jx};
    const int n_el[2] = {4, 6}, wrt[2] = {1, 0};
    expect(jx_jacrev(w, 2, wrt), 2, n_el, want);
    expect(jx_jacfwd(w, 2, wrt), 2, n_el, want);
    jx_fn_free(w);
}

TEST(repeated_entries_give_repeated_jacobians) {
    jx_fn *s = make(s_cb);
    double gx[3], gy[2] = {X[0] * X[0] + X[1] * X[1] + X[2] * X[2], 3 * X[0] * Y[1] * Y[1]};
    for (int i = 0; i < 3; i++) gx[i] = 2 * X[i] * Y[0] + (i == 0 ? Y[1] * Y[1] * Y[1] : 0);
    const double *want[3] = {gy, gx, gy};
    const int n_el[3] = {2, 3, 2}, wrt[3] = {1, 0, 1};
    expect(jx_jacrev(s, 3, wrt), 3, n_el, want);
    expect(jx_jacfwd(s, 3, wrt), 3, n_el, want);
    jx_fn_free(s);
}

TEST(hessian_blocks) {
    jx_fn *s = make(s_cb);
    double hxx[9] = {0}, hxy[6] = {0}, hyx[6] = {0}, hyy[4] = {0, 0, 0, 6 * X[0] * Y[1]};
    for (int i = 0; i < 3; i++) {
        hxx[i * 3 + i] = 2 * Y[0];
        hxy[i * 2 + 0] = hyx[0 * 3 + i] = 2 * X[i];
    }
    hxy[0 * 2 + 1] = hyx[1 * 3 + 0] = 3 * Y[1] * Y[1];
    const double *want[4] = {hxx, hxy, hyx, hyy};
    const int n_el[4] = {9, 6, 6, 4}, wrt[2] = {0, 1};
    expect(jx_hessian(s, 2, wrt), 4, n_el, want);
    /* the default (n_wrt 0) is input 0 alone */
    expect(jx_hessian(s, 0, NULL), 1, n_el, want);
    jx_fn_free(s);
}

TEST(bad_wrt_lists) {
    jx_fn *s = make(s_cb);
    CHECK(jx_jacrev(s, 2, (int[]){0, 2}) == NULL);
    CHECK_CONTAINS(jx_error(), "jacrev: wrt 2 out of range (entry 1 of 2; 2 inputs)");
    CHECK(jx_jacfwd(s, 2, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jacfwd: NULL wrt list");
    jx_fn *w = make(w_cb);
    CHECK(jx_hessian(w, 0, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "hessian: output 0 must be a scalar");
    jx_fn_free(s);
    jx_fn_free(w);
}

TEST_MAIN()
