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
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"
#include "fuzz_gen.h"
#include "core/ir.h"

/* Run parameters from the environment. */
static uint64_t fz_seed0(void) {
    const char *s = getenv("JX_FUZZ_SEED");
    return s && *s ? strtoull(s, NULL, 10) : 1;
}
static int fz_count(void) {
    const char *s = getenv("JX_FUZZ_COUNT");
    return s && *s ? atoi(s) : 300;
}
/* ---- comparison ------------------------------------------------------------------------ */

enum { FZ_TOL_JIT, FZ_TOL_EQUAL, FZ_TOL_BITS };

/* 1 if float elements a (tested) and b (reference) agree under mode, for a value with
 * error bound err. */
static int fz_close(double a, double b, jx_dtype dt, double err, int mode, double *allowed) {
    *allowed = 0;
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (mode == FZ_TOL_BITS) return a == b && signbit(a) == signbit(b);
    if (isinf(a) || isinf(b) || mode == FZ_TOL_EQUAL || err == 0) return a == b;
    static int strict = -1;
    if (strict < 0) strict = getenv("JX_FUZZ_STRICT") != NULL;
    *allowed = 4 * err + (strict ? 0 : (dt == JX_F32 ? 1e-4 : 1e-10) * fabs(b));
    return fabs(a - b) <= *allowed;
}

/* Statistics of fuzz_jit: elements compared, how many approximately, and the largest
 * |difference| / allowed seen among those (to show the tolerance is not vacuous). */
static long fz_n_exact, fz_n_approx, fz_n_approx_differ;
static double fz_worst, fz_worst_model;

/* Index of the first element where got and want differ (got's type must equal want's,
 * else 0 is returned with *why set), or -1. */
static int64_t fz_diff(const jx_array *got, const jx_array *want, const fz_val *m, int mode,
                       char *why, size_t len) {
    jx_type a = jx_array_type(got), b = jx_array_type(want);
    char s1[128], s2[128];
    if (!jx_type_eq(&a, &b)) {
        snprintf(why, len, "type %s, expected %s", jx_type_str(&a, s1, sizeof s1),
                 jx_type_str(&b, s2, sizeof s2));
        return 0;
    }
    const unsigned char *p = jx_array_cdata(got), *q = jx_array_cdata(want);
    for (int64_t i = 0, n = jx_array_size(got); i < n; i++) {
        double x = jx_array_get(got, i), y = jx_array_get(want, i), allowed = 0;
        int ok;
        if (fz_isf(a.dtype)) {
            ok = fz_close(x, y, a.dtype, m ? m->err : 0, mode, &allowed);
            if (mode == FZ_TOL_JIT && allowed > 0) {
                fz_n_approx++;
                fz_n_approx_differ += x != y;
                if (fabs(x - y) / allowed > fz_worst) fz_worst = fabs(x - y) / allowed;
                if (ok && fabs(x - y) / (4 * m->err) > fz_worst_model)
                    fz_worst_model = fabs(x - y) / (4 * m->err);
            } else if (mode == FZ_TOL_JIT) {
                fz_n_exact++;
            }
        }
        else if (a.dtype == JX_BOOL) ok = (p[i] != 0) == (q[i] != 0);
        else ok = memcmp(p + 4 * i, q + 4 * i, 4) == 0;
        if (!ok) {
            int64_t idx[JX_MAX_RANK], r = i;
            int k = 0;
            for (int d = a.rank - 1; d >= 0; d--) idx[d] = r % a.shape[d], r /= a.shape[d];
            k += snprintf(why + k, len - (size_t)k, "element %lld [", (long long)i);
            for (int d = 0; d < a.rank && (size_t)k < len; d++)
                k += snprintf(why + k, len - (size_t)k, "%s%lld", d ? "," : "", (long long)idx[d]);
            int dig = a.dtype == JX_F64 ? 17 : 9;
            if ((size_t)k < len)
                snprintf(why + k, len - (size_t)k, "]: got %.*g, expected %.*g (allowed %.3g)",
                         dig, x, dig, y, allowed);
            return i;
        }
    }
    return -1;
}

/* ---- reports ------------------------------------------------------------------------------ */

/* Prints up to 16 elements of a. */
static void fz_print_values(const jx_array *a) {
    int64_t n = jx_array_size(a);
    printf("[");
    for (int64_t i = 0; i < n && i < 16; i++) printf("%s%.9g", i ? ", " : "", jx_array_get(a, i));
    printf("%s]\n", n > 16 ? ", ..." : "");
}

/* Prints a reproducible report of a failing program (the first few per test in full),
 * and writes it to $JX_FUZZ_DUMP when set. */
static void fz_report(const char *test, const fz_prog *p, const char *what, int *nreports) {
    printf("FUZZ %s seed=%llu: %s\n", test, (unsigned long long)p->seed, what);
    if ((*nreports)++ >= 3) return;
    printf("  reproduce: JX_FUZZ_SEED=%llu JX_FUZZ_COUNT=1 build/tests/t_fuzz %s\n",
           (unsigned long long)p->seed, test);
    printf("  jit options: donate=%d prealloc=%d alias=%d n_threads=%d\n", p->donate,
           p->prealloc, p->alias, p->threads);
    if (p->fn) {
        printf("  program:\n");
        jx_fn_print(p->fn, stdout);
    }
    for (int i = 0; i < p->n_in; i++) {
        jx_type t = jx_array_type(p->in[i]);
        char b[128];
        printf("  input %d %s = ", i, jx_type_str(&t, b, sizeof b));
        fz_print_values(p->in[i]);
    }
    const char *dir = getenv("JX_FUZZ_DUMP");
    if (dir && *dir && p->fn) {
        char path[1024];
        mkdir(dir, 0777);
        snprintf(path, sizeof path, "%s/fuzz_%llu.jx", dir, (unsigned long long)p->seed);
        FILE *f = fopen(path, "w");
        if (f) {
            jx_fn_print(p->fn, f);
            fclose(f);
        }
        for (int i = 0; i < p->n_in; i++) {
            snprintf(path, sizeof path, "%s/fuzz_%llu_in%d.npy", dir,
                     (unsigned long long)p->seed, i);
            jx_npy_save(path, p->in[i]);
        }
        printf("  written to %s/fuzz_%llu.jx; run it with: jxc run [--interp] %s/fuzz_%llu.jx",
               dir, (unsigned long long)p->seed, dir, (unsigned long long)p->seed);
        for (int i = 0; i < p->n_in; i++)
            printf(" %s/fuzz_%llu_in%d.npy", dir, (unsigned long long)p->seed, i);
        printf("\n");
    }
    fflush(stdout);
}

/* Compares outputs got[] with want[] (reference) under mode; on a difference writes a
 * description into what and returns 0. */
static int fz_same_outputs(const fz_prog *p, jx_array **got, jx_array **want, int mode,
                           const char *label, char *what, size_t len) {
    for (int j = 0; j < p->n_out; j++) {
        char why[320];
        if (!got[j] || !want[j]) {
            snprintf(what, len, "%s: output %d missing", label, j);
            return 0;
        }
        if (fz_diff(got[j], want[j], &p->out[j], mode, why, sizeof why) >= 0) {
            jx_type t = jx_array_type(want[j]);
            char b[128];
            snprintf(what, len, "%s: output %d (%s): %s", label, j,
                     jx_type_str(&t, b, sizeof b), why);
            return 0;
        }
    }
    return 1;
}

static void fz_free_arrays(int n, jx_array **a) {
    for (int j = 0; j < n; j++) {
        jx_array_free(a[j]);
        a[j] = NULL;
    }
}

/* Interprets f on p's inputs into out[]; 0 or -1 (then what says why). */
static int fz_interp(const jx_fn *f, const fz_prog *p, jx_array **out, const char *label,
                     char *what, size_t len) {
    for (int j = 0; j < FZ_MAX_OUT; j++) out[j] = NULL;
    if (jx_interp(f, p->in, out) == 0) return 0;
    snprintf(what, len, "%s: jx_interp failed: %s", label, jx_error());
    return -1;
}

/* ---- the four checks ------------------------------------------------------------------- */

/* Runs e on copies of p's inputs; preallocates outputs if asked, and with p->alias
 * passes an input's own array as each output of its type (in-place updates). */
static int fz_run_exe(jx_exe *e, const fz_prog *p, int prealloc, jx_array **out) {
    jx_array *in[FZ_MAX_IN] = {0};
    int used[FZ_MAX_IN] = {0};
    for (int i = 0; i < p->n_in; i++) in[i] = jx_array_copy(p->in[i]);
    for (int j = 0; j < p->n_out; j++) {
        jx_type t = jx_fn_out_type(p->fn, j);
        out[j] = prealloc ? jx_array_new_type(&t) : NULL;
        for (int i = 0; i < p->n_in && p->alias; i++) {
            jx_type u = jx_array_type(in[i]);
            if (!used[i] && jx_type_eq(&t, &u)) {
                jx_array_free(out[j]);
                out[j] = jx_array_retain(in[i]);
                used[i] = 1;
                break;
            }
        }
    }
    int rc = jx_exe_run(e, in, out);
    fz_free_arrays(p->n_in, in);
    return rc;
}

/* JIT vs interpreter on one program; 1 if they agree. */
static int fz_check_jit(const fz_prog *p, char *what, size_t len) {
    jx_array *want[FZ_MAX_OUT], *got[FZ_MAX_OUT] = {0}, *again[FZ_MAX_OUT] = {0};
    if (fz_interp(p->fn, p, want, "interp", what, len) < 0) return 0;
    unsigned char donate[FZ_MAX_IN] = {1, 1, 1, 1};
    jx_jit_opts o = {p->donate ? donate : NULL, p->threads, 1};
    jx_exe *e = jx_jit(p->fn, &o);
    int ok = 0;
    if (!e) {
        snprintf(what, len, "jx_jit failed: %s", jx_error());
    } else if (fz_run_exe(e, p, p->prealloc, got) < 0) {
        snprintf(what, len, "jx_exe_run failed: %s", jx_error());
    } else if (fz_same_outputs(p, got, want, FZ_TOL_JIT, "jit vs interp", what, len)) {
        if (fz_run_exe(e, p, !p->prealloc, again) < 0)
            snprintf(what, len, "second jx_exe_run failed: %s", jx_error());
        else ok = fz_same_outputs(p, again, got, FZ_TOL_BITS, "jit run 2 vs run 1", what, len);
    }
    jx_exe_free(e);
    fz_free_arrays(p->n_out, want);
    fz_free_arrays(p->n_out, got);
    fz_free_arrays(p->n_out, again);
    return ok;
}

/* interp(simplify(f)) vs interp(f); 1 if they agree. */
static int fz_check_simplify(const fz_prog *p, char *what, size_t len) {
    jx_array *want[FZ_MAX_OUT], *got[FZ_MAX_OUT];
    if (fz_interp(p->fn, p, want, "interp", what, len) < 0) return 0;
    jx_fn *s = jx_simplify(p->fn);
    int ok = 0;
    if (!s) {
        snprintf(what, len, "jx_simplify failed: %s", jx_error());
    } else if (jx_fn_verify(s) < 0) {
        snprintf(what, len, "simplified function does not verify: %s", jx_error());
    } else if (jx_fn_n_eqns(s) > jx_fn_n_eqns(p->fn)) {
        snprintf(what, len, "simplify grew the function from %d to %d equations",
                 jx_fn_n_eqns(p->fn), jx_fn_n_eqns(s));
    } else if (fz_interp(s, p, got, "interp(simplified)", what, len) == 0) {
        ok = fz_same_outputs(p, got, want, FZ_TOL_EQUAL, "simplified vs original", what, len);
        fz_free_arrays(p->n_out, got);
    }
    if (!ok && s) {
        printf("  simplified:\n");
        jx_fn_print(s, stdout);
    }
    jx_fn_free(s);
    fz_free_arrays(p->n_out, want);
    return ok;
}

/* print/parse round trip; 1 if the text and the results are the same. */
static int fz_check_text(const fz_prog *p, char *what, size_t len) {
    jx_array *want[FZ_MAX_OUT], *got[FZ_MAX_OUT];
    if (fz_interp(p->fn, p, want, "interp", what, len) < 0) return 0;
    char *text = jx_fn_to_string(p->fn), *text2 = NULL;
    jx_fn *q = text ? jx_fn_parse(text) : NULL;
    int ok = 0;
    if (!q) {
        snprintf(what, len, "jx_fn_parse of the printed text failed: %s", jx_error());
    } else if (!(text2 = jx_fn_to_string(q)) || strcmp(text, text2) != 0) {
        snprintf(what, len, "printing the parsed function gives a different text:\n%s",
                 text2 ? text2 : "(null)");
    } else if (fz_interp(q, p, got, "interp(parsed)", what, len) == 0) {
        ok = fz_same_outputs(p, got, want, FZ_TOL_BITS, "parsed vs original", what, len);
        fz_free_arrays(p->n_out, got);
    }
    free(text);
    free(text2);
    jx_fn_free(q);
    fz_free_arrays(p->n_out, want);
    return ok;
}

/* Runs check on every program of the run; fails the case with a summary if any fails. */
static void fz_run_all(const char *test, int (*check)(const fz_prog *, char *, size_t)) {
    uint64_t s0 = fz_seed0();
    int n = fz_count(), bad = 0, nreports = 0;
    int verbose = getenv("JX_FUZZ_VERBOSE") != NULL;
    char first[64] = "";
    for (int k = 0; k < n; k++) {
        fz_prog p;
        char what[1024];
        if (verbose) {
            printf("  %s: seed %llu\n", test, (unsigned long long)(s0 + (uint64_t)k));
            fflush(stdout);
        }
        if (fz_build(s0 + (uint64_t)k, &p) < 0) {
            snprintf(what, sizeof what, "%s", p.error);
            fz_report(test, &p, what, &nreports);
            bad++;
        } else if (!check(&p, what, sizeof what)) {
            fz_report(test, &p, what, &nreports);
            if (!bad) snprintf(first, sizeof first, "%llu", (unsigned long long)p.seed);
            bad++;
        }
        fz_prog_free(&p);
    }
    if (bad) CHECK_FAIL_("%d of %d programs failed (first seed %s)", bad, n, first);
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
    for (int i = 0; i < FZ_NKINDS; i++) printf(" %s=%d", fz_kind_names[i], kinds[i]);
    printf("\n  outputs: %d empty, %d exact float, %d approximate float, %d integer, %d bool\n",
           outs[0], outs[1], outs[2], outs[3], outs[4]);
    for (int i = 0; i < FZ_NKINDS && n >= 200; i++)
        if (kinds[i] == 0) CHECK_FAIL_("step kind %s was never generated", fz_kind_names[i]);
}

TEST(fuzz_jit) {
    fz_run_all("fuzz_jit", fz_check_jit);
    printf("  fuzz_jit: %ld float elements compared exactly, %ld with a tolerance (%ld of them "
           "differ; largest difference %.3g of the allowed, %.3g of the error model's 4*err)\n",
           fz_n_exact, fz_n_approx, fz_n_approx_differ, fz_worst, fz_worst_model);
}

TEST(fuzz_simplify) {
    fz_run_all("fuzz_simplify", fz_check_simplify);
}

TEST(fuzz_text) {
    fz_run_all("fuzz_text", fz_check_text);
}

TEST_MAIN()
