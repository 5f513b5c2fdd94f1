/* The JIT's lowering of control flow (issue 11): cond/switch and scan compiled by jx_jit
 * agree with the interpreter (bit for bit where the body's ops do: arithmetic; within a
 * tolerance for the JIT's own tanh), nested, transformed (grad of cond, jvp of scan),
 * with a GEMM in the body, with the carry donated; the scan stays a loop in the LLVM IR
 * (its size does not grow with the length); the plan text nests the sub-plans; a changed
 * body never hits a stale disk cache entry. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jitcheck.h"
#include "cachecheck.h"
#include "jit/jit.h"

/* ---- cond ------------------------------------------------------------------------------ */

/* Branches of (x f64[5], s f64[]) -> (f64[5], f64[]). */
static void br_a(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(in[0], in[1]), jx_lit(in[1], 1));
    out[1] = jx_sum_all(in[0]);
}
static void br_b(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sub(in[0], in[1]);
    out[1] = in[1]; /* an input passed through */
}
static void br_c(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = in[0];
    out[1] = jx_lit(in[1], 7); /* a constant */
}
static const jx_trace_cb three[3] = {br_a, br_b, br_c};
static const jx_type c_types[3] = {{JX_I32, 0, {0}}, {JX_F64, 1, {5}}, {JX_F64, 0, {0}}};

/* f(i, x, s) = switch(i, n branches)(x, s), then an op on result 0. */
static void f_switch(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    int n = *(const int *)user;
    jx_val r[2];
    jx_switch(in[0], n, three, NULL, 2, in + 1, 2, r);
    out[0] = jx_mul(r[0], jx_lit(r[0], 2));
    out[1] = r[1];
}

/* f(p, x, s) = cond(p != 0 as a bool, br_a, br_b)(x, s). */
static void f_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val pred = jx_gt(in[0], jx_lit(in[0], 0));
    jx_cond(pred, br_a, br_b, NULL, 2, in + 1, 2, out);
}

/* Runs fn (traced from cb with user) through the JIT and the interpreter at index i. */
static void cond_case(jx_trace_cb cb, int n, int i, const char *what) {
    jx_fn *f = jx_trace(cb, 3, c_types, 2, &n);
    jx_array *in[3] = {jx_array_scalar(JX_I32, i), rand_array(c_types[1], -2, 2, 0),
                       jx_array_scalar(JX_F64, 0.75)};
    CHECK(jit_vs_interp(f, in, 0, what));
    for (int k = 0; k < 3; k++) jx_array_free(in[k]);
}

TEST(cond_two_branches_bool_pred) {
    cond_case(f_cond, 2, 3, "cond true");
    cond_case(f_cond, 2, -1, "cond false");
}

TEST(switch_three_branches_clamped) {
    const int idx[6] = {-7, 0, 1, 2, 3, 1000};
    for (int c = 0; c < 6; c++) cond_case(f_switch, 3, idx[c], "switch of 3");
    cond_case(f_switch, 2, 5, "switch of 2, clamped");
    cond_case(f_switch, 1, 5, "switch of 1");
}

/* The constant f64[5] vector k, k + 1, ... (a buffer in the constant table). */
static jx_val cvec(jx_trace *t, double k) {
    jx_type ty = JX_TYPE(JX_F64, 5);
    jx_array *a = jx_array_new_type(&ty);
    for (int i = 0; i < 5; i++) jx_array_set(a, i, k + i);
    jx_val v = jx_constant(t, a);
    jx_array_free(a);
    return v;
}
static void br_k1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    out[0] = jx_mul(in[0], cvec(t, 10));
    out[1] = in[1];
}
static void br_k2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    out[0] = jx_sub(in[0], cvec(t, 30));
    out[1] = jx_sum_all(jx_mul(in[0], cvec(t, 40)));
}
/* Constants in the top function (before and after the cond) and in each branch: each
 * sub-plan reads its own part of the one constant table, which grows for them. */
static void f_consts(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val r[2], args[2] = {jx_add(in[1], cvec(t, 100)), in[2]};
    jx_switch(in[0], 2, (const jx_trace_cb[]){br_k1, br_k2}, NULL, 2, args, 2, r);
    out[0] = jx_mul(jx_add(r[0], cvec(t, 200)), cvec(t, 300)); /* two constants after it */
    out[1] = jx_sum_all(jx_mul(r[0], cvec(t, 400)));
}

TEST(constants_of_sub_plans) {
    for (int i = 0; i < 2; i++) {
        jx_fn *f = jx_trace(f_consts, 3, c_types, 2, NULL);
        jx_array *in[3] = {jx_array_scalar(JX_I32, i), rand_array(c_types[1], -2, 2, 0),
                           jx_array_scalar(JX_F64, 0.75)};
        CHECK(jit_vs_interp(f, in, 0, "constants in branches"));
        for (int k = 0; k < 3; k++) jx_array_free(in[k]);
    }
}

/* ---- scan ------------------------------------------------------------------------------ */

/* body(h f64[4], k i32[], a f32[2], x f64[4]) -> (h', k', a', y f64[4], z i32[]) */
static void body3(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(in[0], jx_lit(in[0], 0.5)), in[3]);
    out[1] = jx_add(in[1], jx_lit(in[1], 3));
    out[2] = jx_mul(in[2], jx_lit(in[2], 1.5));
    out[3] = jx_sub(out[0], in[3]);
    out[4] = jx_mul(in[1], in[1]);
}

typedef struct scan_opts {
    int64_t len;
    int reverse;
} scan_opts;

static void f_scan3(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const scan_opts *o = user;
    jx_scan(body3, NULL, 3, in, 1, in + 3, o->len, o->reverse, 2, out, out + 3);
}

/* The scan of body3 over xs f64[len, 4], forward or reversed, JIT vs interpreter. */
static void scan3_case(int64_t len, int reverse) {
    scan_opts o = {len, reverse};
    jx_type ty[4] = {{JX_F64, 1, {4}}, {JX_I32, 0, {0}}, {JX_F32, 1, {2}}, {JX_F64, 2, {len, 4}}};
    jx_fn *f = jx_trace(f_scan3, 4, ty, 5, &o);
    jx_array *in[4];
    for (int k = 0; k < 4; k++) in[k] = rand_array(ty[k], -3, 3, 0);
    char what[64];
    snprintf(what, sizeof what, "scan len %lld reverse %d", (long long)len, reverse);
    CHECK(jit_vs_interp(f, in, 0, what));
    for (int k = 0; k < 4; k++) jx_array_free(in[k]);
}

TEST(scan_several_carries_forward_and_reverse) {
    for (int64_t len = 1; len <= 4; len++) { /* both parities of the double buffering */
        scan3_case(len, 0);
        scan3_case(len, 1);
    }
    scan3_case(37, 0);
    scan3_case(37, 1);
}

TEST(scan_length_zero) {
    scan3_case(0, 0);
    scan3_case(0, 1);
}

/* Carry returned unchanged, a y that is the x slice itself, and a constant y. */
static void body_pass(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = in[0];
    out[1] = jx_add(in[1], in[2]);
    out[2] = in[2];
    out[3] = jx_lit(in[2], 4);
}
static void f_pass(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_pass, NULL, 2, in, 1, in + 2, -1, 1, 2, out, out + 2);
}

TEST(scan_passthrough_carry_and_x) {
    jx_type ty[3] = {{JX_F32, 1, {3}}, {JX_F32, 1, {3}}, {JX_F32, 2, {6, 3}}};
    jx_fn *f = jx_trace(f_pass, 3, ty, 4, NULL);
    jx_array *in[3];
    for (int k = 0; k < 3; k++) in[k] = rand_array(ty[k], -3, 3, 0);
    CHECK(jit_vs_interp(f, in, 0, "scan passthrough"));
    for (int k = 0; k < 3; k++) jx_array_free(in[k]);
}

/* A fori_loop-like scan: a carry, no xs, no ys, the length given. */
static void body_fori(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(in[0], jx_lit(in[0], 1.5)), jx_lit(in[0], 1));
}
static void f_fori(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_fori, NULL, 1, in, 0, NULL, 6, 0, 0, out, NULL);
}

TEST(scan_without_xs) {
    jx_type ty = JX_TYPE(JX_F64, 2);
    jx_fn *f = jx_trace(f_fori, 1, &ty, 1, NULL);
    jx_array *in = rand_array(ty, -1, 1, 0);
    CHECK(jit_vs_interp(f, &in, 0, "scan without xs"));
    jx_array_free(in);
}

/* ---- nesting --------------------------------------------------------------------------- */

static void inner(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], in[1]);
    out[1] = jx_mul(out[0], in[1]);
}
/* outer body (c f64[], row f64[4]): an inner scan over the row, then a cond on its sum */
static void outer(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val c, ys, r[2], args[2];
    jx_scan(inner, NULL, 1, &in[0], 1, &in[1], -1, 0, 1, &c, &ys);
    args[0] = ys;
    args[1] = c;
    jx_cond(jx_gt(c, jx_lit(c, 10)), br_b, br_a, NULL, 2, args, 2, r);
    out[0] = r[1];
    out[1] = r[0];
}
static void f_nested(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(outer, NULL, 1, &in[0], 1, &in[1], -1, 0, 1, &out[0], &out[1]);
}
/* a branch holding a scan: (x f64[6,4] as [6] rows..., s) */
static void br_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(outer, NULL, 1, &in[1], 1, &in[0], -1, 1, 1, &out[1], &out[0]);
}
static void br_noscan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = in[1];
}
static void f_scan_in_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_cond(in[0], br_noscan, br_scan, NULL, 2, in + 1, 2, out);
}

TEST(scan_in_scan_and_cond_in_scan) {
    jx_type ty[2] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 6, 4)};
    jx_fn *f = jx_trace(f_nested, 2, ty, 2, NULL);
    jx_array *in[2] = {jx_array_scalar(JX_F64, 0.5), rand_array(ty[1], -1, 2, 0)};
    CHECK(jit_vs_interp(f, in, 0, "nested"));
    jx_array_free(in[0]), jx_array_free(in[1]);
}

/* body(h f64[5], x f64[5]): a cond with constants in its branches, and one of its own */
static void body_consts(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val r[2], args[2] = {jx_mul(in[0], cvec(t, 50)), jx_sum_all(in[1])};
    jx_cond(jx_gt(args[1], jx_lit(args[1], 0)), br_k1, br_k2, NULL, 2, args, 2, r);
    out[0] = jx_add(jx_mul(r[0], jx_lit(r[0], 0.001)), in[1]);
    out[1] = r[1];
}
static void f_scan_consts(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val h = jx_mul(in[0], cvec(t, 60));
    jx_scan(body_consts, NULL, 1, &h, 1, in + 1, -1, 0, 1, out, out + 1);
}

TEST(constants_of_nested_sub_plans) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 5), JX_TYPE(JX_F64, 7, 5)};
    jx_fn *f = jx_trace(f_scan_consts, 2, ty, 2, NULL);
    jx_array *in[2] = {rand_array(ty[0], -1, 1, 0), rand_array(ty[1], -1, 1, 0)};
    CHECK(jit_vs_interp(f, in, 0, "constants in nested sub-plans"));
    jx_array_free(in[0]), jx_array_free(in[1]);
}

TEST(scan_in_cond) {
    jx_type ty[3] = {JX_SCALAR(JX_BOOL), JX_TYPE(JX_F64, 6, 4), JX_SCALAR(JX_F64)};
    for (int p = 0; p < 2; p++) {
        jx_fn *f = jx_trace(f_scan_in_cond, 3, ty, 2, NULL);
        jx_array *in[3] = {jx_array_scalar(JX_BOOL, p), rand_array(ty[1], -1, 2, 0),
                           jx_array_scalar(JX_F64, 0.25)};
        CHECK(jit_vs_interp(f, in, 0, p ? "scan in cond (taken)" : "scan in cond (not taken)"));
        for (int k = 0; k < 3; k++) jx_array_free(in[k]);
    }
}

/* ---- transformed ----------------------------------------------------------------------- */

/* loss(p, x, s) = sum(cond(p > 0, br_a, br_b)(x, s)[0] * x) + result 1 */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val r[2], pred = jx_gt(in[0], jx_lit(in[0], 0));
    jx_cond(pred, br_a, br_b, NULL, 2, in + 1, 2, r);
    out[0] = jx_add(jx_sum_all(jx_mul(r[0], in[1])), r[1]);
}

TEST(grad_of_cond) {
    jx_type ty[3] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 5), JX_SCALAR(JX_F64)};
    for (int p = 0; p < 2; p++) {
        jx_fn *l = jx_trace(loss, 3, ty, 1, NULL);
        jx_fn *g = l ? jx_grad(l, 2, (int[]){1, 2}) : NULL;
        jx_array *in[3] = {jx_array_scalar(JX_F64, p ? 1 : -1), rand_array(ty[1], -2, 2, 0),
                           jx_array_scalar(JX_F64, 0.3)};
        CHECK(jit_vs_interp(g, in, 0, "grad of cond"));
        for (int k = 0; k < 3; k++) jx_array_free(in[k]);
        jx_fn_free(l);
    }
}

/* body(h f64[3], x f64[3]) -> (h*h*0.5 + x, h*x) */
static void body_sq(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(jx_mul(in[0], in[0]), jx_lit(in[0], 0.5)), in[1]);
    out[1] = jx_mul(in[0], in[1]);
}
static void f_sq(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    int64_t len = user ? *(const int64_t *)user : -1;
    jx_scan(body_sq, NULL, 1, in, 1, in + 1, len, 0, 1, out, out + 1);
}

/* Random inputs of f's types into in[0..n_in). */
static void rand_inputs(const jx_fn *f, jx_array **in, double lo, double hi) {
    for (int i = 0; i < jx_fn_n_in(f); i++) in[i] = rand_array(jx_fn_in_type(f, i), lo, hi, 0);
}

TEST(jvp_of_scan) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, 7, 3)};
    jx_fn *f = jx_trace(f_sq, 2, ty, 2, NULL);
    jx_fn *g = f ? jx_jvp(f, NULL) : NULL;
    CHECK(g != NULL);
    if (!g) return;
    jx_array *in[8] = {0};
    rand_inputs(g, in, -0.5, 0.5);
    int n = jx_fn_n_in(g);
    CHECK(jit_vs_interp(g, in, 0, "jvp of scan"));
    for (int k = 0; k < n; k++) jx_array_free(in[k]);
    jx_fn_free(f);
}

/* A body kernel big enough to run on the thread pool (jx_rt_parallel inside the body's
 * function), on 2 threads. */
static void f_big(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_sq, NULL, 1, in, 1, in + 1, -1, 1, 1, out, out + 1);
}

TEST(scan_with_parallel_body_kernel) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 1 << 18), JX_TYPE(JX_F64, 3, 1 << 18)};
    jx_fn *f = jx_trace(f_big, 2, ty, 2, NULL);
    jx_exe *e = f ? jit_compile_keep(f, NULL) : NULL;
    char *ll = e ? jit_exe_llvm(e, 0) : NULL;
    CHECK_CONTAINS(ll, "call void @jx_rt_parallel(ptr @s0_k0p");
    free(ll), jx_exe_free(e);
    jx_array *in[2] = {rand_array(ty[0], -1, 1, 0), rand_array(ty[1], -1, 1, 0)};
    CHECK(jit_vs_interp_opts(f, in, 0, "parallel body", &(jx_jit_opts){.n_threads = 2}));
    jx_array_free(in[0]), jx_array_free(in[1]);
}

/* body(H f32[4,8], W f32[8,8], x f32[4,8]) -> (tanh(H W) + x, W, sum(H)) */
static void body_gemm(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_tanh(jx_matmul(in[0], in[1])), in[2]);
    out[1] = in[1];
    out[2] = jx_sum_all(in[0]);
}
static void f_gemm(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_gemm, NULL, 2, in, 1, in + 2, -1, 0, 1, out, out + 2);
}

TEST(scan_with_gemm_in_body) {
    jx_type ty[3] = {JX_TYPE(JX_F32, 4, 8), JX_TYPE(JX_F32, 8, 8), JX_TYPE(JX_F32, 9, 4, 8)};
    jx_fn *f = jx_trace(f_gemm, 3, ty, 3, NULL);
    jx_exe *e = f ? jit_compile_keep(f, NULL) : NULL;
    char *plan = e ? jit_exe_plan(e) : NULL;
    CHECK_CONTAINS(plan, "gemm sgemm");
    free(plan), jx_exe_free(e);
    jx_array *in[3];
    for (int k = 0; k < 3; k++) in[k] = rand_array(ty[k], -0.5, 0.5, 0);
    CHECK(jit_vs_interp(f, in, 1e-5, "scan with a GEMM"));
    for (int k = 0; k < 3; k++) jx_array_free(in[k]);
}

/* ---- donation, code size, plan text, cache --------------------------------------------- */

/* body(h f64[3], x f64[3]) -> (rev(h) * 0.5 + x, h * x): reads h at other elements than
 * it writes, so computing it in its own input's memory would be wrong. */
static void body_rev(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(jx_rev(in[0], JX_INTS(0)), jx_lit(in[0], 0.5)), in[1]);
    out[1] = jx_mul(in[0], in[1]);
}
static void f_rev(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_rev, NULL, 1, in, 1, in + 1, -1, 0, 1, out, out + 1);
}

/* The carry donated (its result computed in the input's memory, both parities of the
 * length), equal to the interpreter on a copy; xs untouched. */
TEST(donated_carry) {
    for (int64_t len = 4; len <= 5; len++) {
        jx_type ty[2] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, len, 3)};
        jx_fn *f = jx_trace(f_rev, 2, ty, 2, NULL);
        jx_exe *e = f ? jit_compile_keep(f, &(jx_jit_opts){.donate = (unsigned char[]){1, 0}}) : NULL;
        char *plan = e ? jit_exe_plan(e) : NULL;
        CHECK_CONTAINS(plan, "out0 may reuse donated in0");
        free(plan);
        jx_array *in[2] = {rand_array(ty[0], -1, 1, 0), rand_array(ty[1], -1, 1, 0)};
        jx_array *keep[2] = {jx_array_copy(in[0]), jx_array_copy(in[1])};
        jx_array *want[2] = {0}, *got[2] = {0};
        CHECK(jx_interp(f, keep, want) == 0);
        CHECK(e && jx_exe_run(e, in, got) == 0);
        CHECK(got[0] && jx_array_data(got[0]) == jx_array_data(in[0])); /* in place */
        if (got[0] && got[1] && want[0] && want[1]) {
            CHECK(same_arrays(got[0], want[0], 0, "donated carry"));
            CHECK(same_arrays(got[1], want[1], 0, "ys with a donated carry"));
            CHECK(same_arrays(in[1], keep[1], 0, "xs untouched"));
        }
        for (int k = 0; k < 2; k++) {
            jx_array_free(in[k]), jx_array_free(keep[k]);
            jx_array_free(want[k]), jx_array_free(got[k]);
        }
        jx_exe_free(e), jx_fn_free(f);
    }
}

/* Lines of the LLVM IR (before or after optimization) of the scan of body_sq of length len. */
static int llvm_lines(int64_t len, int after) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, len, 3)};
    jx_fn *f = jx_trace(f_sq, 2, ty, 2, &len);
    jx_exe *e = f ? jit_compile_keep(f, NULL) : NULL;
    char *ll = e ? jit_exe_llvm(e, after) : NULL;
    int n = 0;
    for (const char *c = ll; c && *c; c++) n += *c == '\n';
    if (!ll) CHECK_FAIL_("no LLVM text: %s", jx_error());
    free(ll), jx_exe_free(e), jx_fn_free(f);
    return n;
}

TEST(scan_is_a_loop_in_llvm) {
    int a = llvm_lines(10, 0), b = llvm_lines(1000, 0), c = llvm_lines(10, 1),
        d = llvm_lines(1000, 1);
    CHECK(a > 0 && a == b);
    CHECK(c > 0 && c == d);
    if (a != b || c != d) printf("  lines: %d %d (before O3), %d %d (after)\n", a, b, c, d);
}

TEST(plan_text_nests_sub_plans) {
    jx_type ty[2] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 6, 4)};
    jx_fn *f = jx_trace(f_nested, 2, ty, 2, NULL);
    jx_exe *e = f ? jit_compile_keep(f, NULL) : NULL;
    char *plan = e ? jit_exe_plan(e) : NULL;
    CHECK_CONTAINS(plan, "  0: scan -> %");
    CHECK_CONTAINS(plan, "      body 0 (sub-plan s0, constants from const");
    CHECK_CONTAINS(plan, "\n        plan: ");         /* the body's plan, indented */
    CHECK_CONTAINS(plan, "\n                plan: "); /* the inner scan's, one level deeper */
    CHECK_CONTAINS(plan, "          branch 1 (sub-plan s");
    char *ll = e ? jit_exe_llvm(e, 0) : NULL;
    CHECK_CONTAINS(ll, "define internal void @s0(");
    CHECK_CONTAINS(ll, "define internal void @s0_s0(");
    free(plan), free(ll), jx_exe_free(e), jx_fn_free(f);
}

/* body_sq with a different constant (0.25): the same function but for the body. */
static void body_sq2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(jx_mul(in[0], in[0]), jx_lit(in[0], 0.25)), in[1]);
    out[1] = jx_mul(in[0], in[1]);
}
static void f_sq2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_sq2, NULL, 1, in, 1, in + 1, -1, 0, 1, out, out + 1);
}

/* Compiles f, runs it against the interpreter and frees the executable. */
static void jit_right(const jx_fn *f, const char *what) {
    jx_exe *e = jx_jit(f, NULL);
    jx_array *in[2] = {0};
    rand_inputs(f, in, -1, 1);
    jx_array *want[2] = {0}, *got[2] = {0};
    CHECK(e && jx_exe_run(e, in, got) == 0 && jx_interp(f, in, want) == 0);
    for (int j = 0; j < 2 && got[j] && want[j]; j++) CHECK(same_arrays(got[j], want[j], 0, what));
    for (int k = 0; k < 2; k++) jx_array_free(in[k]), jx_array_free(want[k]), jx_array_free(got[k]);
    jx_exe_free(e);
}

TEST(changed_body_misses_the_disk_cache) {
    fresh_dir();
    jx_type ty[2] = {JX_TYPE(JX_F64, 3), JX_TYPE(JX_F64, 5, 3)};
    jx_fn *f1 = jx_trace(f_sq, 2, ty, 2, NULL), *f2 = jx_trace(f_sq2, 2, ty, 2, NULL);
    jit_cache_stats s0, s1, s2, s3;
    jit_cache_get_stats(&s0);
    jit_right(f1, "first body");
    jit_cache_get_stats(&s1);
    jit_right(f1, "first body, again"); /* freed in between: from the disk */
    jit_cache_get_stats(&s2);
    jit_right(f2, "changed body");
    jit_cache_get_stats(&s3);
    CHECK(s1.disk_writes == s0.disk_writes + 1);
    CHECK(s2.disk_hits == s1.disk_hits + 1);
    CHECK(s3.disk_hits == s2.disk_hits && s3.compiles == s2.compiles + 1);
    dir_count(NULL, 1);
    rmdir(cache_dir);
    unsetenv("JX_CACHE_DIR");
    jx_fn_free(f1), jx_fn_free(f2);
}

TEST_MAIN()
