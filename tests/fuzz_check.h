/* The checks of the random-program fuzzers (tests/t_fuzz.c, tests/t_fuzz_ctl.c): comparing
 * outputs under the generator's error bounds, reports and dumps of failing programs, and
 * the JIT, simplify and text round-trip checks (see t_fuzz.c for what they compare and
 * the tolerance). Include after check.h. */
#ifndef JX_FUZZ_CHECK_H
#define JX_FUZZ_CHECK_H

#include <stdint.h>
#include <sys/stat.h>

#include "fuzz_gen.h"
#include "core/ir.h"

/* The test binary's name, for the reproduction line of a report. */
static const char *fz_binary = "t_fuzz";

/* Run parameters from the environment. */
static uint64_t fz_seed0(void) {
    const char *s = getenv("JX_FUZZ_SEED");
    return s && *s ? strtoull(s, NULL, 10) : 1;
}
/* The number of programs of a run: $name if set, else def. */
static int fz_count_env(const char *name, int def) {
    const char *s = getenv(name);
    return s && *s ? atoi(s) : def;
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
    printf("  reproduce: JX_FUZZ_SEED=%llu JX_FUZZ_COUNT=1 build/tests/%s %s\n",
           (unsigned long long)p->seed, fz_binary, test);
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

/* Runs check on the n programs of the run (made by build); fails the case with a summary
 * if any fails. */
static void fz_run_all(const char *test, int n, int (*build)(uint64_t, fz_prog *),
                       int (*check)(const fz_prog *, char *, size_t)) {
    uint64_t s0 = fz_seed0();
    int bad = 0, nreports = 0;
    int verbose = getenv("JX_FUZZ_VERBOSE") != NULL;
    char first[64] = "";
    for (int k = 0; k < n; k++) {
        fz_prog p;
        char what[1024];
        if (verbose) {
            printf("  %s: seed %llu\n", test, (unsigned long long)(s0 + (uint64_t)k));
            fflush(stdout);
        }
        if (build(s0 + (uint64_t)k, &p) < 0) {
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

#endif
