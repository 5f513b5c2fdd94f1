/* Random programs with control flow (the generator of tests/fuzz_gen.h with the control-flow
 * steps of tests/fuzz_ctl.h: cond/switch, scan, checkpoint, dynamic_slice,
 * dynamic_update_slice, nested and closing over values of the enclosing program), each
 * checked these ways:
 *   fuzz_ctl_generator  every program (three times as many) traces and verifies; every
 *                       control-flow kind and feature (captures, nesting, computed and
 *                       out-of-range indices, reverse, length 0, ...) occurs;
 *   fuzz_ctl_unroll     jx_interp of the program and of its unrolled form (tests/fuzz_unroll.h:
 *                       scans unrolled, conds replaced by the chosen branch or by every
 *                       branch and selects, checkpoints inlined) agree bit for bit, and the
 *                       JIT of the unrolled form agrees with the interpreter within the
 *                       generator's error bounds (which go through the control flow: see
 *                       fuzz_ctl.h);
 *   fuzz_ctl_jit        jx_jit of the program itself against jx_interp, as tests/t_fuzz.c's
 *                       fuzz_jit, on programs without while loops (it fails while the JIT
 *                       has no lowering for cond/scan); fuzz_ctl_jit_while the same on
 *                       programs with while and fori loops (fails until while lowers);
 *   fuzz_ctl_simplify, fuzz_ctl_text  as t_fuzz's.
 * Environment: JX_FUZZ_SEED (first seed, default 1), JX_FUZZ_CTL_COUNT (programs, default
 * 40), JX_FUZZ_VERBOSE, JX_FUZZ_STRICT, JX_FUZZ_DUMP as in tests/t_fuzz.c. */
#include "check.h"
#include "fuzz_check.h"
#include "fuzz_unroll.h"

/* The control-flow mixes of this test: weights of cond, scan, checkpoint, dynamic_slice,
 * dynamic_update_slice, while_loop, fori_loop, a quarter of them inside a body, nesting
 * two deep, scans up to 12 long, captures in 30% of the sub-programs, no construct on
 * enclosing values only inside a body (hoist 0: jx cannot trace all of them yet). fzc_mix
 * has every kind; fzc_mix_jit all but the while loops (fori_loop with traced bounds is
 * one), which the JIT has no lowering for yet: fuzz_ctl_jit_while (fzc_mix_while) fails
 * until it has. */
static const fz_mix fzc_mix = {{5, 6, 2, 2, 2, 3, 2}, 0.25, 2, 12, 0.3, 0};
static const fz_mix fzc_mix_jit = {{5, 6, 2, 2, 2, 0, 0}, 0.25, 2, 12, 0.3, 0};
static const fz_mix fzc_mix_while = {{1, 1, 1, 0, 0, 6, 4}, 0.25, 2, 12, 0.3, 0};

static int fzc_count(void) {
    return fz_count_env("JX_FUZZ_CTL_COUNT", 40);
}

/* The program of seed with control flow (every kind). */
static int fzc_build(uint64_t seed, fz_prog *p) {
    return fz_build_mix(seed, p, 0, &fzc_mix);
}
/* ... with what the JIT lowers. */
static int fzc_build_jit(uint64_t seed, fz_prog *p) {
    return fz_build_mix(seed, p, 0, &fzc_mix_jit);
}
/* ... mostly while and fori loops. */
static int fzc_build_while(uint64_t seed, fz_prog *p) {
    return fz_build_mix(seed, p, 0, &fzc_mix_while);
}

/* interp(unrolled f) == interp(f) bit for bit, and jit(unrolled f) vs interp(f) within
 * the error bounds; 1 if they agree. */
static int fzc_check_unroll(const fz_prog *p, char *what, size_t len) {
    jx_array *want[FZ_MAX_OUT], *got[FZ_MAX_OUT] = {0};
    if (fz_interp(p->fn, p, want, "interp", what, len) < 0) return 0;
    jx_fn *u = fz_unroll(p->fn);
    int ok = 0;
    if (!u) {
        snprintf(what, len, "unrolling failed: %s", jx_error());
    } else if (jx_fn_verify(u) < 0) {
        snprintf(what, len, "the unrolled function does not verify: %s", jx_error());
    } else if (fz_interp(u, p, got, "interp(unrolled)", what, len) == 0) {
        ok = fz_same_outputs(p, got, want, FZ_TOL_BITS, "unrolled vs original", what, len);
        fz_free_arrays(p->n_out, got);
        int loops = fz_count_op(u, JX_OP_SCAN) + fz_count_op(u, JX_OP_COND) +
                    fz_count_op(u, JX_OP_WHILE);
        if (ok && loops == 0) {
            fz_prog q = *p;
            q.fn = u;
            ok = fz_check_jit(&q, what, len);
            size_t m = strlen(what);
            if (!ok) snprintf(what + m, len - m, " (the JIT of the unrolled form)");
        }
    }
    if (!ok && u) {
        printf("  unrolled:\n");
        jx_fn_print(u, stdout);
    }
    jx_fn_free(u);
    fz_free_arrays(p->n_out, want);
    return ok;
}

/* Body of fzc_found_f: (c[2,3]) -> (c + o, select(p, c, 0)) with o f32[1,3] and p
 * bool[3] of the enclosing function (user). */
static void fzc_found_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_val *outer = user;
    out[0] = jx_add(in[0], outer[1]);
    out[1] = jx_select(outer[2], in[0], jx_scalar(t, JX_F32, 0));
}

/* scan of fzc_found_body, 2 steps, on (c0 f32[2,3], o f32[1,3], p bool[3]). */
static void fzc_found_f(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_scan(fzc_found_body, (void *)in, 1, in, 0, NULL, 2, 0, 1, out, out + 1);
}

/* Found by the fuzzer (its first runs): the NumPy broadcasting of elementwise ops was
 * skipped when the operands belonged to two traces (a scan body's value and a value of the
 * enclosing function it closes over): "add: operand shapes differ: f32[2,3] vs f32[1,3]". */
TEST(fuzz_ctl_found_capture_broadcast) {
    jx_type ty[3] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 1, 3), JX_TYPE(JX_BOOL, 3)};
    jx_fn *f = jx_trace(fzc_found_f, 3, ty, 2, NULL);
    CHECK(f != NULL);
    if (!f) {
        printf("  %s\n", jx_error());
        return;
    }
    jx_array *in[3] = {jx_array_from(JX_F32, 2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}),
                       jx_array_from(JX_F32, 2, (int64_t[]){1, 3}, (float[]){10, 20, 30}),
                       jx_array_from(JX_BOOL, 1, (int64_t[]){3}, (unsigned char[]){1, 0, 1})};
    jx_array *out[2] = {0};
    CHECK(jx_interp(f, in, out) == 0);
    for (int64_t e = 0; out[0] && out[1] && e < 6; e++) {
        double x = jx_array_get(in[0], e), o = jx_array_get(in[1], e % 3);
        CHECK_NEAR(jx_array_get(out[0], e), x + 2 * o, 0);
        CHECK_NEAR(jx_array_get(out[1], 6 + e), e % 3 == 1 ? 0 : x + o, 0); /* step 2: c = x + o */
    }
    fz_free_arrays(3, in);
    fz_free_arrays(2, out);
    jx_fn_free(f);
}

/* Body of fzc_found_g: (c, x) -> (x, c * x): the x slice itself is the new carry. */
static void fzc_xcarry_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = in[1];
    out[1] = jx_mul(in[0], in[1]);
}

/* scan of fzc_xcarry_body over xs f64[3] from c0 f64[], forward and reversed. */
static void fzc_found_g(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_scan(fzc_xcarry_body, NULL, 1, in, 1, in + 1, -1, 0, 1, out, out + 1);
    jx_scan(fzc_xcarry_body, NULL, 1, in, 1, in + 1, -1, 1, 1, out + 2, out + 3);
}

/* Found by the fuzzer (jxfuzz-tx --ctl, seed 3155, vmap vs loop): the interpreter's scan
 * kept a body output that is the body's x slice itself as the next carry, and the next
 * step's slice overwrote it: ys = c * x came out as x * x. */
TEST(fuzz_ctl_found_scan_x_as_carry) {
    jx_type ty[2] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 3)};
    jx_fn *f = jx_trace(fzc_found_g, 2, ty, 4, NULL);
    CHECK(f != NULL);
    jx_array *in[2] = {jx_array_scalar(JX_F64, 0.5),
                       jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){-1, 1, 2})};
    jx_array *out[4] = {0};
    CHECK(f && jx_interp(f, in, out) == 0);
    const double fwd[3] = {-0.5, -1, 2}, rev[3] = {-1, 2, 1}; /* c * x, c the previous x */
    for (int e = 0; out[1] && out[3] && e < 3; e++) {
        CHECK_NEAR(jx_array_get(out[1], e), fwd[e], 0);
        CHECK_NEAR(jx_array_get(out[3], e), rev[e], 0);
    }
    if (out[0] && out[2]) CHECK(jx_array_get(out[0], 0) == 2 && jx_array_get(out[2], 0) == -1);
    fz_free_arrays(2, in);
    fz_free_arrays(4, out);
    jx_fn_free(f);
}

TEST(fuzz_ctl_generator) {
    fz_binary = "t_fuzz_ctl";
    uint64_t s0 = fz_seed0();
    int n = 3 * fzc_count(), bad = 0, kinds[FZ_NKINDS] = {0}, feats[FZF_NFEAT] = {0}, nreports = 0;
    int with_ctl = 0;
    long eqns = 0;
    for (int k = 0; k < n; k++) {
        fz_prog p;
        if (fzc_build(s0 + (uint64_t)k, &p) < 0 || jx_fn_verify(p.fn) < 0) {
            char what[600];
            snprintf(what, sizeof what, "%s", p.error[0] ? p.error : jx_error());
            fz_report("fuzz_ctl_generator", &p, what, &nreports);
            bad++;
        } else {
            int ctl = 0;
            eqns += jx_fn_n_eqns(p.fn);
            for (int i = 0; i < FZ_NKINDS; i++)
                kinds[i] += p.kinds[i], ctl += i >= FZ_NBASE && p.kinds[i];
            for (int i = 0; i < FZF_NFEAT; i++) feats[i] += p.feats[i];
            with_ctl += ctl > 0;
        }
        fz_prog_free(&p);
    }
    CHECK(bad == 0);
    printf("  %d programs (%d with control flow), %ld equations; control-flow results:", n,
           with_ctl, eqns);
    for (int i = FZ_NBASE; i < FZ_NKINDS; i++) printf(" %s=%d", fz_kind_names[i], kinds[i]);
    printf("\n  features:");
    for (int i = 0; i < FZF_NFEAT; i++) printf(" %s=%d", fz_feat_names[i], feats[i]);
    printf("\n");
    for (int i = FZ_NBASE; i < FZ_NKINDS && n >= 100; i++)
        if (kinds[i] == 0 && fzc_mix.w[i - FZ_NBASE] > 0 && (i < FZ_WHILE || FZ_HAVE_WHILE))
            CHECK_FAIL_("control-flow kind %s was never generated", fz_kind_names[i]);
    for (int i = 0; i < FZF_NFEAT && n >= 100; i++)
        if (feats[i] == 0 && i != FZF_GIVEUP)
            CHECK_FAIL_("feature %s never occurred", fz_feat_names[i]);
    CHECK(with_ctl >= n / 2);
}

TEST(fuzz_ctl_unroll) {
    fz_binary = "t_fuzz_ctl";
    fz_run_all("fuzz_ctl_unroll", fzc_count(), fzc_build, fzc_check_unroll);
    printf("  JIT of the unrolled forms: %ld float elements compared exactly, %ld with a tolerance "
           "(largest difference %.3g of the allowed)\n", fz_n_exact, fz_n_approx, fz_worst);
}

TEST(fuzz_ctl_jit) {
    fz_binary = "t_fuzz_ctl";
    fz_run_all("fuzz_ctl_jit", fzc_count(), fzc_build_jit, fz_check_jit);
}

TEST(fuzz_ctl_jit_while) {
    fz_binary = "t_fuzz_ctl";
    fz_run_all("fuzz_ctl_jit_while", fzc_count() / 4, fzc_build_while, fz_check_jit);
}

TEST(fuzz_ctl_simplify) {
    fz_binary = "t_fuzz_ctl";
    fz_run_all("fuzz_ctl_simplify", fzc_count(), fzc_build, fz_check_simplify);
}

TEST(fuzz_ctl_text) {
    fz_binary = "t_fuzz_ctl";
    fz_run_all("fuzz_ctl_text", fzc_count(), fzc_build, fz_check_text);
}

TEST_MAIN()
