/* scan under the JIT, beyond t_jit_control: bodies whose kernels are split over threads
 * next to split kernels of the caller (the runtime's parallel-for was declared once per
 * sub-plan: a second declaration was renamed and failed to link), and carries the body
 * returns unchanged (values it closes over: read in place every iteration, not copied)
 * under donation, jvp and grad, against the interpreter. */
#include "txcheck.h"

/* Runs f through the interpreter and the JIT (n_threads, donating every input when
 * donate is set) on random inputs in [-1, 1]; the outputs must agree to the JIT's
 * transcendentals' accuracy (a few ulps of each step, relative 1e-5 in f32, 1e-12 in
 * f64). */
static void jit_matches(const jx_fn *f, int n_threads, int donate) {
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_array *in[16] = {0}, *copy[16] = {0}, *ref[16] = {0}, *got[16] = {0};
    unsigned char don[16];
    for (int i = 0; i < 16; i++) don[i] = 1;
    jx_jit_opts o = {donate ? don : NULL, n_threads, 1};
    for (int i = 0; i < ni; i++) {
        in[i] = txc_random(jx_fn_in_type(f, i), -1, 1);
        copy[i] = jx_array_copy(in[i]);
    }
    CHECK(jx_interp(f, copy, ref) == 0);
    jx_exe *e = jx_jit(f, &o);
    CHECK(e != NULL);
    if (!e) printf("  jit: %s\n", jx_error());
    if (e) CHECK(jx_exe_run(e, in, got) == 0);
    for (int j = 0; e && j < no && ref[j] && got[j]; j++) {
        double tol = jx_fn_out_type(f, j).dtype == JX_F32 ? 1e-5 : 1e-12;
        for (int64_t k = 0; k < jx_array_size(ref[j]); k++)
            CHECK_NEAR(jx_array_get(got[j], k), jx_array_get(ref[j], k),
                       tol * (1 + fabs(jx_array_get(ref[j], k))));
    }
    jx_exe_free(e);
    txc_free(ni, in), txc_free(ni, copy), txc_free(no, ref), txc_free(no, got);
}

enum { BIG = 1 << 20 };

/* Body: c' = tanh(c) * 0.5 + x^2 (4 MiB of f32: split over threads; no cancellation). */
static void big_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(jx_mul(jx_tanh(in[0]), jx_lit(in[0], 0.5)), jx_mul(in[1], in[1]));
}
static void big_scan(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c0 = jx_exp(jx_neg(jx_abs(in[0]))), c; /* a split kernel of the caller */
    jx_scan(big_body, NULL, 1, &c0, 1, in + 1, -1, 0, 0, &c, NULL);
    out[0] = jx_sqrt(jx_add(c, jx_lit(c, 1))); /* and another after the loop */
}

TEST(split_kernels_in_the_body_and_the_caller) {
    const jx_type ty[2] = {{JX_F32, 1, {BIG}}, {JX_F32, 2, {2, BIG}}};
    jx_fn *f = jx_trace(big_scan, 2, ty, 1, NULL);
    CHECK(f != NULL);
    if (f) jit_matches(f, 2, 0), jit_matches(f, 1, 0);
    jx_fn_free(f);
}

/* An Elman cell closing over w and u (the outer inputs, user): invariant carries. */
static void cell(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_val *p = user;
    jx_val h = jx_tanh(jx_add(jx_matvec(p[0], in[0]), jx_matvec(p[1], in[1])));
    out[0] = h, out[1] = jx_sum_all(h);
}
static void rnn(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val h, ys;
    jx_scan(cell, (void *)in, 1, in + 2, 1, in + 3, -1, 0, 1, &h, &ys);
    out[0] = jx_add(jx_sum_all(h), jx_sum_all(ys));
}

TEST(invariant_carries_under_donation_jvp_and_grad) {
    const jx_type ty[4] = {{JX_F64, 2, {6, 6}}, {JX_F64, 2, {6, 3}}, {JX_F64, 1, {6}},
                           {JX_F64, 2, {5, 3}}};
    jx_fn *f = jx_trace(rnn, 4, ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL, *d = f ? jx_jvp(f, NULL) : NULL;
    CHECK(f != NULL && g != NULL && d != NULL);
    for (int donate = 0; donate < 2; donate++) {
        if (f) jit_matches(f, 1, donate);
        if (g) jit_matches(g, 1, donate);
        if (d) jit_matches(d, 1, donate);
    }
    jx_fn_free(f), jx_fn_free(g), jx_fn_free(d);
}

TEST_MAIN()
