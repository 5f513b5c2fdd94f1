/* The differential fuzzer of the transformations (tests/fuzz_tx*.h): a short run, and
 * tests that its comparisons and checks do fail on wrong results.
 *
 * Environment (argv[1] is the harness's case-name filter):
 *   JX_FUZZ_SEED      first seed (default 1); case k uses seed JX_FUZZ_SEED + k
 *   JX_FUZZ_TX_COUNT  number of cases of fuzz_tx_smoke (default 100: about 2 s)
 *   JX_FUZZ_VERBOSE   print each seed and its chain before running it
 *   JX_FUZZ_DUMP      a directory: failing cases are written there (see fuzz_txrun.h)
 * Longer runs and single seeds: build/tools/jxfuzz-tx (./tools/fuzz-tx). */
#include "check.h"
#include "fuzz_txrun.h"

static uint64_t ftt_seed0(void) {
    const char *s = getenv("JX_FUZZ_SEED");
    return s && *s ? strtoull(s, NULL, 10) : 1;
}

/* The comparison must see each kind of difference. */
TEST(fuzz_tx_compare_selftest) {
    jx_array *a = jx_array_from(JX_F64, 1, (int64_t[]){4}, (double[]){1, NAN, -0.0, 100});
    jx_array *b = jx_array_copy(a);
    char why[400];
    ft_tol exact = ft_tol_for(JX_F64, FT_EXACT), loose = ft_tol_for(JX_F64, FT_LOOSE);
    ft_tol bits = ft_tol_for(JX_F64, FT_BITS);
    CHECK(ft_diff(a, b, &bits, NULL, NULL, why, sizeof why) == -1);
    jx_array_set(b, 2, 0.0);
    CHECK(ft_diff(a, b, &exact, NULL, NULL, why, sizeof why) == -1); /* -0 == +0 */
    CHECK(ft_diff(a, b, &bits, NULL, NULL, why, sizeof why) == 2);
    jx_array_set(b, 3, 100 * (1 + 1e-12));
    CHECK(ft_diff(a, b, &exact, NULL, NULL, why, sizeof why) == 3);
    CHECK(ft_diff(a, b, &loose, NULL, NULL, why, sizeof why) == -1);
    jx_array_set(b, 0, 1 + 1e-8);
    CHECK(ft_diff(a, b, &loose, NULL, NULL, why, sizeof why) == 0);
    CHECK_CONTAINS(why, "element 0 of f64[4]");
    double slack[4] = {1e-7, 0, 0, 0};
    loose.slack = slack;
    CHECK(ft_diff(a, b, &loose, NULL, NULL, why, sizeof why) == -1); /* the error estimate */
    slack[0] = INFINITY;
    jx_array_set(b, 0, 5);
    CHECK(ft_diff(a, b, &loose, NULL, NULL, why, sizeof why) == -1); /* unknown: not compared */
    jx_array_set(b, 1, 1);
    CHECK(ft_diff(a, b, &loose, NULL, NULL, why, sizeof why) == 1); /* NaN vs 1 */
    jx_array_free(b);
    b = jx_array_from(JX_I32, 1, (int64_t[]){4}, (int32_t[]){1, 2, 3, 4});
    CHECK(ft_diff(a, b, &loose, NULL, NULL, why, sizeof why) == 0);
    CHECK_CONTAINS(why, "type f64[4], expected i32[4]");
    jx_array_free(a);
    jx_array_free(b);
}

/* h(x) = sin(x) * x on f64[3], and a function that is not its derivative's partner. */
static void ftt_h(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    double s = user ? *(const double *)user : 1;
    out[0] = jx_mul(jx_mul(jx_sin(in[0]), in[0]), jx_lit(in[0], s));
}

/* A one-stage case on h (kind, fn of the stage): stage 0 is h with input [0.5, -1.25, 2];
 * *x is a fresh context of the case counting into st. */
static void ftt_case(ft_case *c, ft_ctx *x, ft_stats *st, jx_fn *h, int kind, jx_fn *fn) {
    memset(c, 0, sizeof *c);
    c->g = calloc(1, sizeof *c->g);
    c->g->s = 42;
    c->prog.fn = h, c->prog.n_in = 1;
    c->prog.in[0] = jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){0.5, -1.25, 2});
    c->st[0] = (ft_stage){.kind = FT_BASE, .fn = h};
    c->st[1] = (ft_stage){.kind = kind, .fn = fn, .bsize = 2, .default_out_axes = 1};
    c->st[1].in_axes[0] = 0, c->st[1].wrt[0] = 0, c->st[1].n_wrt = 1, c->st[1].mask[0] = 1;
    c->n = 2;
    memset(x, 0, sizeof *x);
    x->c = c, x->st = st;
}

/* The checks fail on a wrong jvp (dot product, finite differences), a wrong vmap and a
 * wrong grad, and pass on the right ones. */
TEST(fuzz_tx_checks_selftest) {
    jx_type ty = JX_TYPE(JX_F64, 3);
    double two = 2;
    jx_fn *h = jx_trace(ftt_h, 1, &ty, 1, NULL), *h2 = jx_trace(ftt_h, 1, &ty, 1, &two);
    for (int wrong = 0; wrong < 2; wrong++) {
        ft_stats st;
        memset(&st, 0, sizeof st);
        ft_case c;
        ft_ctx x;
        /* jvp: a->J of 2h instead of h */
        ftt_case(&c, &x, &st, h, FT_JVP, jx_jvp(h, NULL));
        ft_ad a;
        memset(&a, 0, sizeof a);
        CHECK(ft_ad_init(&x, &a, 1));
        if (wrong) {
            jx_fn_free(a.J);
            a.J = jx_jvp(h2, NULL);
            ft_free_all(2, a.PJ);
            CHECK(ft_interp2(a.J, a.x, 1, a.t, 1, a.PJ) == 0);
        }
        ft_check_dot(&x, &a);
        CHECK(st.failed[FTC_DOT] == wrong);
        ft_check_fd(&x, &a);
        CHECK(st.failed[FTC_FD] == wrong && st.elems[FTC_FD] > 0);
        ft_ad_free(&a, h);
        c.prog.fn = NULL; /* h is not the case's */
        ft_case_free(&c);
        /* vmap: of 2h instead of h */
        ftt_case(&c, &x, &st, h, FT_VMAP, jx_vmap(wrong ? h2 : h, (int[]){0}, NULL, 2));
        ft_check_vmap(&x, 1);
        CHECK(st.failed[FTC_VMAP] == wrong && st.run[FTC_VMAP] == 1);
        c.prog.fn = NULL;
        ft_case_free(&c);
        /* grad of sum(h) against the vjp of sum(2h) */
        jx_fn *sh = ft_apply(&(ft_stage){.kind = FT_SUM}, h), *sh2 = ft_apply(&(ft_stage){.kind = FT_SUM}, h2);
        ftt_case(&c, &x, &st, sh, FT_GRAD, jx_grad(sh, 1, (int[]){0}));
        memset(&a, 0, sizeof a);
        CHECK(ft_ad_init(&x, &a, 1));
        jx_fn *G = jx_grad(wrong ? sh2 : sh, 1, (int[]){0});
        ft_check_grad(&x, &a, &c.st[1], G);
        CHECK(st.failed[FTC_CONSIST] == wrong && st.run[FTC_CONSIST] == 1);
        jx_fn_free(G);
        ft_ad_free(&a, sh);
        ft_case_free(&c); /* frees sh as the case's program */
        jx_fn_free(sh2);
    }
    jx_fn_free(h);
    jx_fn_free(h2);
}

/* The jit comparison fails on a result off by a relative 1e-7 (an f64 function without
 * sums: its error estimate is a few ulps), and passes on the right one. */
TEST(fuzz_tx_jit_selftest) {
    jx_type ty = JX_TYPE(JX_F64, 3);
    jx_fn *h = jx_trace(ftt_h, 1, &ty, 1, NULL);
    for (int wrong = 0; wrong < 2; wrong++) {
        ft_stats st;
        memset(&st, 0, sizeof st);
        ft_case c;
        ft_ctx x;
        ftt_case(&c, &x, &st, h, FT_JVP, jx_jvp(h, NULL));
        jx_array *want[1], *got[1];
        CHECK(ft_interp(h, c.prog.in, want) == 0);
        got[0] = jx_array_copy(want[0]);
        if (wrong) jx_array_set(got[0], 1, jx_array_get(want[0], 1) * (1 + 1e-7));
        ft_jit_compare(&x, h, c.prog.in, want, got);
        CHECK(st.failed[FTC_JIT] == wrong && st.elems[FTC_JIT] == (wrong ? 2 : 3));
        if (wrong) CHECK_CONTAINS(x.what, "element 1 of f64[3]");
        ft_check_jit(&x, h, c.prog.in, want); /* the real JIT agrees */
        CHECK(st.run[FTC_JIT] == 1 && st.failed[FTC_JIT] == wrong);
        ft_free_all(1, want);
        ft_free_all(1, got);
        c.prog.fn = NULL;
        ft_case_free(&c);
    }
    jx_fn_free(h);
}

/* f(u) = exp(pad([58.95, 45.38, 39.81], u, lo -1, hi -1, interior 1)) = exp([u, 45.38, u]). */
static void ftt_pad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_array *c = jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){58.95, 45.38, 39.81});
    jx_val bm = jx_constant(t, c); /* retains c */
    jx_array_free(c);
    out[0] = jx_exp(jx_pad(bm, in[0], JX_INTS(-1), JX_INTS(-1), JX_INTS(1)));
}

/* Found by the fuzzer (seed 214924, dot-product test): pad's vjp took the padding value's
 * cotangent as sum(ct) - sum(ct at the operand's places), which cancels to 0 when the
 * operand's cotangents dominate (here exp(45.38) against exp(2)): vjp gave 0 where
 * d/du sum f = 2 exp(u). */
TEST(fuzz_tx_found_pad_vjp) {
    jx_type ty = JX_SCALAR(JX_F64);
    jx_fn *f = jx_trace(ftt_pad, 1, &ty, 1, NULL), *v = f ? jx_vjp(f, NULL) : NULL;
    CHECK(v != NULL);
    jx_array *in[2] = {jx_array_scalar(JX_F64, 2.0), jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){1, 1, 1})};
    jx_array *out[2] = {0};
    CHECK(v && jx_interp(v, in, out) == 0);
    if (out[1]) CHECK_NEAR(jx_array_get(out[1], 0), 2 * exp(2.0), 1e-12);
    ft_free_all(2, in);
    ft_free_all(2, out);
    jx_fn_free(v);
    jx_fn_free(f);
}

/* max(abs(x), 0) and min(0, abs(x)) on f64 and f32, jitted. */
static void ftt_maxabs(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val a = jx_abs(in[0]), z = jx_lit(in[0], 0);
    out[0] = jx_max(a, z);
    out[1] = jx_min(z, jx_neg(a));
}

/* Found by the fuzzer (seed 802968, jit vs interp): LLVM 19's InstCombine folds the
 * JIT's NaN-propagating max(fabs(x), 0) (select(isnan a, a, select(a > 0, a, 0))) into
 * select(x u> 0, fabs(x), 0), which is 0 for every negative x. */
TEST(fuzz_tx_found_max_abs) {
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F32 : JX_F64;
        jx_type ty = JX_TYPE(dt, 5);
        jx_fn *f = jx_trace(ftt_maxabs, 1, &ty, 2, NULL);
        jx_jit_opts o = {NULL, 1, 1};
        jx_exe *e = f ? jx_jit(f, &o) : NULL;
        jx_array *x = jx_array_new_type(&ty), *out[2] = {0};
        const double v[5] = {-2, -0.5, 0, 3, NAN};
        for (int i = 0; i < 5; i++) jx_array_set(x, i, v[i]);
        CHECK(e && jx_exe_run(e, &x, out) == 0);
        for (int i = 0; i < 5 && out[0] && out[1]; i++) {
            CHECK_NEAR(jx_array_get(out[0], i), fabs(v[i]), 0);
            CHECK_NEAR(jx_array_get(out[1], i), isnan(v[i]) ? NAN : -fabs(v[i]), 0);
        }
        ft_free_all(2, out);
        jx_array_free(x);
        jx_exe_free(e);
        jx_fn_free(f);
    }
}

/* Branch b of ftt_switch: the constant b + 1, no operand. */
static void ftt_br(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_scalar(t, JX_F32, (double)(*(const int *)user) + 1);
}
static void ftt_br0(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    ftt_br(t, in, out, &(int){0});
}
static void ftt_br1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    ftt_br(t, in, out, &(int){1});
}
static void ftt_br2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    ftt_br(t, in, out, &(int){2});
}

/* x * switch(i, 1, 2, 3) on (x f32[3], i i32[]), the branches taking no operand. */
static void ftt_switch(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val r;
    jx_switch(in[1], 3, (const jx_trace_cb[]){ftt_br0, ftt_br1, ftt_br2}, NULL, 0, NULL, 1, &r);
    out[0] = jx_mul(in[0], r);
}

/* Found by the fuzzer (jxfuzz-tx --ctl, seed 6): vmap of a cond with a batched index
 * whose branches take no operand failed ("call: a function without inputs needs a
 * trace"): the rule inlined each vmapped branch with jx_call, which finds the trace from
 * the operands. */
TEST(fuzz_tx_found_cond_vmap_no_operands) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 3), JX_SCALAR(JX_I32)};
    jx_fn *f = jx_trace(ftt_switch, 2, ty, 1, NULL);
    jx_fn *v = f ? jx_vmap(f, (int[]){JX_NONE, 0}, NULL, 4) : NULL;
    CHECK(v != NULL);
    if (!v) printf("  %s\n", jx_error());
    jx_array *in[2] = {jx_array_from(JX_F32, 1, (int64_t[]){3}, (float[]){1, 10, 100}),
                       jx_array_from(JX_I32, 1, (int64_t[]){4}, (int32_t[]){-1, 0, 1, 5})}, *out[1] = {0};
    CHECK(v && jx_interp(v, in, out) == 0);
    const double pick[4] = {1, 1, 2, 3}; /* the index clamped to [0, 2], plus 1 */
    for (int b = 0; out[0] && b < 4; b++)
        for (int e = 0; e < 3; e++) CHECK_NEAR(jx_array_get(out[0], 3 * b + e), pick[b] * jx_array_get(in[0], e), 0);
    ft_free_all(2, in);
    ft_free_all(1, out);
    jx_fn_free(v);
    jx_fn_free(f);
}

/* Chains of every kind and depth are built, and no transformation fails on them. */
TEST(fuzz_tx_chains) {
    ft_stats st;
    memset(&st, 0, sizeof st);
    uint64_t s0 = ftt_seed0();
    for (int k = 0; k < 300; k++) {
        ft_case c;
        int rc = ft_build(s0 + (uint64_t)k, &c);
        if (rc < 0) CHECK_FAIL_("seed %llu: %s", (unsigned long long)(s0 + (uint64_t)k), c.error);
        if (rc == 0) ft_count(&c, &st);
        ft_case_free(&c);
    }
    for (int k = 1; k < FT_NKINDS; k++)
        if (st.stages[k] == 0) CHECK_FAIL_("no chain used %s", ft_kind_names[k]);
    CHECK(st.depth[1] > 0 && st.depth[2] > 0 && st.depth[3] > 0);
}

/* Runs n cases (from seed0) of the control-flow mix; fails the case if any fails, or if
 * too few programs held control flow. */
static void ftt_ctl_run(const fz_mix *mix, int n) {
    int nreports = 0, bad = 0;
    ft_opts o = {getenv("JX_FUZZ_DUMP"), 1, getenv("JX_FUZZ_VERBOSE") != NULL, 3, 0};
    ft_stats st;
    memset(&st, 0, sizeof st);
    uint64_t s0 = ftt_seed0();
    ft_mix = mix;
    for (int k = 0; k < n; k++) bad += ft_run_case(s0 + (uint64_t)k, &st, &o, &nreports) > 0;
    ft_mix = NULL;
    ft_stats_print(&st, stdout);
    if (bad) CHECK_FAIL_("%d of %d cases failed", bad, n);
    CHECK(st.ctl_cases >= n / 2 && st.run[FTC_VMAP] > 0 && st.elems[FTC_FD] > 0);
}

/* A short run of every check on programs with control flow (tests/fuzz_txctl.h: cond,
 * scan, checkpoint, dynamic slices, each transformed only as far as its rules go),
 * JX_FUZZ_TX_CTL_COUNT cases (default 30). Its jit check fails while the JIT has no
 * lowering for cond and scan. */
TEST(fuzz_tx_ctl_smoke) {
    const char *s = getenv("JX_FUZZ_TX_CTL_COUNT");
    ftt_ctl_run(&ft_ctl_mix, s && *s ? atoi(s) : 30);
}

/* The same with while and fori loops (a third as many cases); the jit check fails until
 * the JIT lowers while. */
TEST(fuzz_tx_ctl_while_smoke) {
    const char *s = getenv("JX_FUZZ_TX_CTL_COUNT");
    ftt_ctl_run(&ft_ctl_mix_while, (s && *s ? atoi(s) : 30) / 3);
}

/* A short run of every check on random programs and chains. */
TEST(fuzz_tx_smoke) {
    const char *s = getenv("JX_FUZZ_TX_COUNT");
    int n = s && *s ? atoi(s) : 100, nreports = 0, bad = 0;
    ft_opts o = {getenv("JX_FUZZ_DUMP"), 1, getenv("JX_FUZZ_VERBOSE") != NULL, 3, 0};
    ft_stats st;
    memset(&st, 0, sizeof st);
    uint64_t s0 = ftt_seed0();
    for (int k = 0; k < n; k++) bad += ft_run_case(s0 + (uint64_t)k, &st, &o, &nreports) > 0;
    ft_stats_print(&st, stdout);
    if (bad) CHECK_FAIL_("%d of %d cases failed", bad, n);
    CHECK(st.run[FTC_JIT] > 0 && st.run[FTC_DOT] > 0 && st.elems[FTC_FD] > 0 && st.run[FTC_VMAP] > 0);
}

TEST_MAIN()
