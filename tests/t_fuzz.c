/* Random well-typed programs (the generator: tests/fuzz_meta.h, fuzz_elt.h, fuzz_shape.h,
 * fuzz_gen.h), each run four ways and compared:
 *   fuzz_jit       jx_jit + jx_exe_run against jx_interp (twice, with donated inputs,
 *                  preallocated outputs, inputs' own arrays as outputs and 2 threads now
 *                  and then; the second run must repeat the first bit for bit);
 *   fuzz_simplify  jx_interp of jx_simplify(f) against jx_interp of f;
 *   fuzz_text      jx_fn_parse(jx_fn_print(f)) prints the same text and interprets to the
 *                  same bits;
 *   fuzz_generator every program traces and verifies, and every step kind was used.
 *
 * Environment (argv[1] is the harness's case-name filter):
 *   JX_FUZZ_SEED   first seed (default 1); program k uses seed JX_FUZZ_SEED + k
 *   JX_FUZZ_COUNT  number of programs (default 300: a few seconds, mostly LLVM compiles)
 *   JX_FUZZ_VERBOSE  print each seed before running it (to find a crashing one)
 *   JX_FUZZ_STRICT  drop the relative slack: allow only the error model's 4 * err
 *   JX_FUZZ_DUMP   a directory: each failing program is written there as fuzz_<seed>.jx
 *                  with its inputs as fuzz_<seed>_in<i>.npy (for jxc run)
 * A failure prints the seed, the reproduction command, the output and element that differ
 * and the program text.
 *
 * Tolerance of fuzz_jit. Integers, bools and every float value the generator marks exact
 * (IEEE +,-,*,/, sqrt, rsqrt, floor, comparisons, shape ops, conversions, max/min of
 * exact values, ...) must agree exactly (-0 == +0; NaN must match NaN; infs must match).
 * Other float values (transcendentals, pow, float sums, GEMMs, conv_patches_t, and what
 * is computed from them) must satisfy
 *     |jit - interp| <= 4 * err + rel * |interp|,  rel = 1e-4 (f32), 1e-10 (f64),
 * where err is the generator's propagated bound (fuzz_meta.h): each approximate op adds a
 * few ulps of its output magnitude (f32 transcendentals: 2 ulps, the JIT's polynomials
 * being within 1 ulp; f64: 16 ulps; pow f64: (16 + 2|y log x|) ulps; sums and GEMMs of n
 * terms: 2 n^2 eps max|x|, since the interpreter accumulates f32 in double and the JIT in
 * float in any order), and errors of operands propagate through the op's Lipschitz
 * constant on the operand's interval. Over 100,000 programs the largest difference seen
 * was a quarter of 4 * err (the test prints this figure for its run).
 *
 * Edge cases the two paths legitimately treat differently, which the generator avoids
 * (see fuzz_meta.h): the sign of a zero produced by float max/min reductions (the JIT
 * uses llvm.maximum, which orders -0 < +0), sums and GEMMs, or by x + 0 (which
 * jx_simplify and the JIT's IR passes fold to x); NaN payloads (never observed:
 * bitcast of NaN is not generated); discontinuous ops (comparisons, floor, sign, rem,
 * float->int, argmax) of approximate values; overflow of approximate values; sin/cos of
 * |x| > 1e5 (f32) / 1e4 (f64). Cases the two paths must agree on and that are
 * generated: integer division and remainder by 0 (0), INT32_MIN / -1, shifts by >= 32,
 * saturating float->int, NaN/inf through every op, exp/log of huge/tiny values, empty
 * arrays, 0^0, pow of negative bases.
 */
#include "check.h"
#include "fuzz_check.h"

/* Programs of a run: JX_FUZZ_COUNT (default 300: a few seconds, mostly LLVM compiles). */
static int fz_count(void) {
    return fz_count_env("JX_FUZZ_COUNT", 300);
}

/* The harness itself: fz_diff must see differences of each kind. */
TEST(fuzz_compare_selftest) {
    jx_array *a = jx_array_from(JX_F32, 1, (int64_t[]){4}, (float[]){1, NAN, -0.0f, 2});
    jx_array *b = jx_array_copy(a);
    fz_val exact = {.err = 0}, approx = {.err = 1e-3};
    char why[320];
    CHECK(fz_diff(a, b, &exact, FZ_TOL_JIT, why, sizeof why) == -1);
    jx_array_set(b, 2, 0.0);
    CHECK(fz_diff(a, b, &exact, FZ_TOL_JIT, why, sizeof why) == -1);  /* -0 == +0 */
    CHECK(fz_diff(a, b, &exact, FZ_TOL_BITS, why, sizeof why) == 2);
    jx_array_set(b, 3, 2.001);
    CHECK(fz_diff(a, b, &exact, FZ_TOL_JIT, why, sizeof why) == 3);
    CHECK_CONTAINS(why, "element 3 [3]");
    CHECK(fz_diff(a, b, &approx, FZ_TOL_JIT, why, sizeof why) == -1); /* 4 * err */
    CHECK(fz_diff(a, b, &approx, FZ_TOL_EQUAL, why, sizeof why) == 3);
    jx_array_set(b, 1, 1.0);
    CHECK(fz_diff(a, b, &approx, FZ_TOL_JIT, why, sizeof why) == 1); /* NaN vs 1 */
    jx_array_free(b);
    b = jx_array_from(JX_I32, 1, (int64_t[]){4}, (int32_t[]){1, 2, 3, 4});
    CHECK(fz_diff(a, b, &exact, FZ_TOL_JIT, why, sizeof why) == 0);
    CHECK_CONTAINS(why, "type f32[4], expected i32[4]");
    jx_array_free(a);
    a = jx_array_from(JX_I32, 1, (int64_t[]){4}, (int32_t[]){1, 2, 3, 5});
    CHECK(fz_diff(a, b, &exact, FZ_TOL_JIT, why, sizeof why) == 3);
    jx_array_free(a);
    jx_array_free(b);
}

TEST(fuzz_generator) {
    uint64_t s0 = fz_seed0();
    int n = fz_count(), bad = 0, kinds[FZ_NKINDS] = {0}, nreports = 0;
    int outs[5] = {0}; /* empty, exact float, approximate float, integer, bool */
    long eqns = 0;
    for (int k = 0; k < n; k++) {
        fz_prog p;
        if (fz_build(s0 + (uint64_t)k, &p) < 0 || jx_fn_verify(p.fn) < 0) {
            char what[600];
            snprintf(what, sizeof what, "%s", p.error[0] ? p.error : jx_error());
            fz_report("fuzz_generator", &p, what, &nreports);
            bad++;
        } else {
            eqns += jx_fn_n_eqns(p.fn);
            for (int i = 0; i < FZ_NKINDS; i++) kinds[i] += p.kinds[i];
            for (int j = 0; j < p.n_out; j++) {
                const fz_val *o = &p.out[j];
                outs[jx_type_size(&o->t) == 0       ? 0
                     : fz_isf(o->t.dtype)           ? (o->err > 0 ? 2 : 1)
                     : o->t.dtype == JX_BOOL ? 4 : 3]++;
            }
        }
        fz_prog_free(&p);
    }
    CHECK(bad == 0);
    printf("  %d programs, %ld equations; steps:", n, eqns);
    for (int i = 0; i < FZ_NBASE; i++) printf(" %s=%d", fz_kind_names[i], kinds[i]);
    printf("\n  outputs: %d empty, %d exact float, %d approximate float, %d integer, %d bool\n",
           outs[0], outs[1], outs[2], outs[3], outs[4]);
    for (int i = 0; i < FZ_NBASE && n >= 200; i++)
        if (kinds[i] == 0) CHECK_FAIL_("step kind %s was never generated", fz_kind_names[i]);
}

TEST(fuzz_jit) {
    fz_run_all("fuzz_jit", fz_count(), fz_build, fz_check_jit);
    printf("  fuzz_jit: %ld float elements compared exactly, %ld with a tolerance (%ld of them "
           "differ; largest difference %.3g of the allowed, %.3g of the error model's 4*err)\n",
           fz_n_exact, fz_n_approx, fz_n_approx_differ, fz_worst, fz_worst_model);
}

TEST(fuzz_simplify) {
    fz_run_all("fuzz_simplify", fz_count(), fz_build, fz_check_simplify);
}

TEST(fuzz_text) {
    fz_run_all("fuzz_text", fz_count(), fz_build, fz_check_text);
}

TEST_MAIN()
