/* while_loop under the JIT (issue 11): the loop is a loop around one call of the cond and
 * one of the body per iteration, and agrees with the interpreter bit for
 * bit: Newton's square root, Collatz (integer carries, zero trips), a counter, vmap with a
 * batched predicate, a while inside a scan, a donated carry. Also a scan whose body has
 * constants followed by more constants in the caller (the sub-plan's constants grew the
 * caller's table too little: a heap overflow found by the control-flow fuzzer). */
#include "while_util.h"

/* Runs f through the interpreter and the JIT (1 thread, then donating every input when
 * donate is set) on inputs from vals; every output must be bit-identical. */
static void jit_matches(const jx_fn *f, const double *const *vals, int donate) {
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_array *in[8] = {0}, *ref[8] = {0}, *got[8] = {0};
    unsigned char don[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    jx_jit_opts o = {donate ? don : NULL, 1, 1};
    CHECK(run(f, vals, ref) == 0);
    for (int i = 0; i < ni; i++) {
        jx_type ty = jx_fn_in_type(f, i);
        in[i] = jx_array_new_type(&ty);
        for (int64_t e = 0; e < jx_array_size(in[i]); e++) jx_array_set(in[i], e, vals[i][e]);
    }
    jx_exe *e = jx_jit(f, &o);
    CHECK(e != NULL);
    if (!e) printf("  jit: %s\n", jx_error());
    if (e) CHECK(jx_exe_run(e, in, got) == 0);
    for (int j = 0; e && j < no && ref[j] && got[j]; j++)
        for (int64_t k = 0; k < jx_array_size(ref[j]); k++)
            CHECK(jx_array_get(ref[j], k) == jx_array_get(got[j], k));
    jx_exe_free(e);
    txc_free(ni, in), txc_free(no, ref), txc_free(no, got);
}

TEST(newton_and_collatz_match_the_interpreter) {
    jx_fn *f = jx_trace(newton, 3, newton_t, 3, NULL);
    jx_fn *g = jx_trace(collatz, 1, &i32s, 1, NULL);
    CHECK(f != NULL && g != NULL);
    double y[N] = {1, 1, 1}, a[N] = {2, 9, 1e6}, it = 0;
    for (int donate = 0; f && donate < 2; donate++)
        jit_matches(f, (const double *[]){y, a, &it}, donate);
    for (int n = 1; g && n <= 30; n += 3) {
        double v = n;
        jit_matches(g, (const double *[]){&v}, n & 1);
    }
    jx_exe *e = g ? jx_jit(g, NULL) : NULL;
    jx_array *in = jx_array_scalar(JX_I32, 27), *out = NULL;
    CHECK(e && jx_exe_run(e, &in, &out) == 0 && out && jx_array_get(out, 0) == collatz_c(27));
    jx_array_free(in), jx_array_free(out), jx_exe_free(e);
    jx_fn_free(f), jx_fn_free(g);
}

/* (i, x) while i < 10: (i + 3, 2x); from i >= 10 the body never runs. */
static void lt_ten(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_lt(in[0], jx_lit(in[0], 10));
}
static void add_three(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(in[0], jx_lit(in[0], 3));
    out[1] = jx_mul(in[1], jx_lit(in[1], 2));
}
static void counter(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_while_loop(lt_ten, add_three, NULL, 2, in, out);
}

TEST(counter_zero_and_odd_and_even_trip_counts) {
    const jx_type ty[2] = {{JX_I32, 0, {0}}, {JX_F32, 1, {5}}};
    jx_fn *f = jx_trace(counter, 2, ty, 2, NULL);
    CHECK(f != NULL);
    double x[5] = {1.5, -2, 0, 3, 1e30};
    for (int i0 = 4; f && i0 <= 12; i0++) { /* 2, 2, 2, 1, 1, 1, 0, 0, 0 trips */
        double i = i0;
        jit_matches(f, (const double *[]){&i, x}, 0);
        jit_matches(f, (const double *[]){&i, x}, 1);
    }
    jx_fn_free(f);
}

TEST(vmap_with_a_batched_predicate) {
    jx_fn *f = jx_trace(collatz, 1, &i32s, 1, NULL);
    jx_fn *v = f ? jx_vmap(f, (const int[]){0}, NULL, 6) : NULL;
    CHECK(v != NULL);
    double n[6] = {27, 1, 6, 7, 2, 97};
    if (v) jit_matches(v, (const double *[]){n}, 0);
    jx_fn_free(f), jx_fn_free(v);
}

/* fori_loop(lo, hi, fori_body) with traced bounds: a while over (i, hi, s, x). */
static void fori_traced(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_fori_loop(in[2], in[3], fori_body, NULL, 2, in, out);
}

TEST(fori_loop_with_traced_bounds) {
    const jx_type ty[4] = {{JX_F64, 1, {N}}, {JX_F64, 1, {N}}, i32s, i32s};
    jx_fn *f = jx_trace(fori_traced, 4, ty, 2, NULL);
    CHECK(f != NULL);
    double s[N] = {1, 2, -1}, x[N] = {0.25, -3, 8};
    for (int lo = -2; f && lo <= 3; lo++)
        for (int hi = -1; hi <= 5; hi += 2) {
            double l = lo, h = hi;
            jit_matches(f, (const double *[]){s, x, &l, &h}, (lo + hi) & 1);
        }
    jx_fn_free(f);
}

/* A scan whose body runs a while (Newton on each x slice) and carries the sum. */
static void scan_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c[3] = {jx_ones_like(in[1]), in[1], jx_scalar(t, JX_I32, 0)}, r[3];
    jx_while_loop(newton_cond, newton_body, NULL, 3, c, r);
    out[0] = jx_add(in[0], jx_sum_all(r[0]));
    out[1] = r[2];
}
static void scan_of_while(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_scan(scan_body, NULL, 1, in, 1, in + 1, -1, 0, 1, out, out + 1);
}

TEST(while_inside_scan) {
    const jx_type ty[2] = {{JX_F64, 0, {0}}, {JX_F64, 2, {4, N}}};
    jx_fn *f = jx_trace(scan_of_while, 2, ty, 2, NULL);
    CHECK(f != NULL);
    double s = 0.5, xs[4 * N] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    if (f) jit_matches(f, (const double *[]){&s, xs}, 0);
    jx_fn_free(f);
}

/* A constant f64[N] array {k, k + 1, k + 2} (distinct per k, so nothing merges them). */
static jx_val vec_const(jx_trace *t, int k) {
    jx_type ty = {JX_F64, 1, {N}};
    jx_array *a = jx_array_new_type(&ty);
    for (int e = 0; e < N; e++) jx_array_set(a, e, k + e);
    jx_val v = jx_constant(t, a);
    jx_array_free(a);
    return v;
}

/* A scan body with an array constant, then eight array constants after the scan. */
static void const_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    out[0] = jx_add(jx_mul(in[0], jx_lit(in[0], 0.5)), vec_const(t, 100));
}
static void consts_after_scan(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    jx_val c;
    jx_scan(const_body, NULL, 1, in, 0, NULL, 3, 0, 0, &c, NULL);
    for (int k = 0; k < 8; k++) c = jx_mul(c, vec_const(t, k + 1));
    out[0] = c;
}

TEST(constants_after_a_scan_with_constants) {
    const jx_type ty = {JX_F64, 1, {N}};
    jx_fn *f = jx_trace(consts_after_scan, 1, &ty, 1, NULL);
    CHECK(f != NULL);
    double x[N] = {1, -2, 4};
    if (f) jit_matches(f, (const double *[]){x}, 0);
    jx_fn_free(f);
}

TEST_MAIN()
