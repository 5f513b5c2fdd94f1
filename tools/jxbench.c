/* jxbench: jx against hand-written C + OpenBLAS, one JSON line per row on stdout.
 *
 * Rows:
 *   mlp_train_step   the notebook MLP training step (784-512-512-10, relu, log-softmax
 *                    loss, SGD lr 0.01), built as a user would: per-example predict,
 *                    jx_vmap, jx_value_and_grad, an update function, jx_jit with the params
 *                    donated, jx_exe_run writing the new params into the param arrays.
 *                    ref_us: the hand-written step (bench_ref.c).
 *   mlp_gemms_only   jx_us: the same jx step; ref_us: the reference step's 8 GEMMs alone.
 *   mlp_compile_cold jx_us: the first jx_jit of the step in this process, from a fresh
 *                    jx_fn, without the disk cache; ref_us and ratio null.
 *   dispatch_trivial jx_us: one jx_exe_run of y = x + 1 on f32[4] with a preallocated
 *                    output (the per-call overhead); ref_us: the same loop as a C function
 *                    called through a function pointer.
 * Times are medians over --iters steps after a warm-up, jx and reference interleaved.
 * Before timing, both run 3 steps from the same params and batch and must agree; the
 * verdict and other notes go to stderr. Exit code: 0, 1 on a mismatch or jx error,
 * 2 on usage errors. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_mlp.h"

#define BN_MAX_THREADS 8

static const char bn_usage[] =
    "usage: jxbench [--iters N] [--threads T,...] [--batch B] [--help]\n"
    "  --iters N     timed steps per row (default 200; warm-up is N/10, at least 5)\n"
    "  --threads T   comma-separated thread counts (default 1,2): OpenBLAS threads for\n"
    "                both, jx_jit_opts.n_threads for jx\n"
    "  --batch B     batch size of the MLP step (default 128)\n"
    "Prints one JSON line per row on stdout ({name, batch, threads, jx_us, ref_us,\n"
    "ratio = jx_us / ref_us}); the correctness check and notes go to stderr.\n";

/* Monotonic time in microseconds. */
static double bn_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* Median of v[0..n-1] (sorts v). */
static int bn_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double bn_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bn_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- timing ------------------------------------------------------------------------------- */

/* Prints one row (ref_us < 0 prints null for ref_us and ratio). */
static void bn_row(const char *name, int batch, int threads, double jx_us, double ref_us) {
    if (ref_us < 0)
        printf("{\"name\":\"%s\",\"batch\":%d,\"threads\":%d,\"jx_us\":%.3f,\"ref_us\":null,"
               "\"ratio\":null}\n", name, batch, threads, jx_us);
    else
        printf("{\"name\":\"%s\",\"batch\":%d,\"threads\":%d,\"jx_us\":%.3f,\"ref_us\":%.3f,"
               "\"ratio\":%.3f}\n", name, batch, threads, jx_us, ref_us, jx_us / ref_us);
    fflush(stdout);
}

/* Times the jx step, the reference step and the reference GEMMs, interleaved (the order
 * alternates each iteration), and prints the mlp_train_step and mlp_gemms_only rows.
 * Returns 0 or -1 on a jx error. */
static int bn_time(jx_exe *e, bm_state *s, int threads, int iters) {
    double *tj = malloc((size_t)iters * sizeof *tj), *tr = malloc((size_t)iters * sizeof *tr);
    double *tg = malloc((size_t)iters * sizeof *tg);
    int rc = 0;
    if (!tj || !tr || !tg) {
        fprintf(stderr, "jxbench: out of memory\n");
        rc = -1;
        goto done;
    }
    bm_state_reset(s);
    int warm = iters / 10 > 5 ? iters / 10 : 5;
    for (int i = 0; i < warm && rc == 0; i++) {
        rc = bm_jx_step(e, s);
        bm_ref_step(s);
        bref_gemms(&s->ref, jx_array_cdata(s->x));
    }
    for (int i = 0; i < iters && rc == 0; i++) {
        for (int k = 0; k < 3 && rc == 0; k++) {
            int which = (k + i) % 3;
            double t0 = bn_now_us();
            if (which == 0) rc = bm_jx_step(e, s);
            else if (which == 1) bm_ref_step(s);
            else bref_gemms(&s->ref, jx_array_cdata(s->x));
            double dt = bn_now_us() - t0;
            (which == 0 ? tj : which == 1 ? tr : tg)[i] = dt;
        }
    }
    if (rc) goto done;
    double mj = bn_median(tj, iters), mr = bn_median(tr, iters), mg = bn_median(tg, iters);
    bn_row("mlp_train_step", s->batch, threads, mj, mr);
    bn_row("mlp_gemms_only", s->batch, threads, mj, mg);
done:
    free(tj);
    free(tr);
    free(tg);
    return rc;
}

/* Parses "1,2" into th[0..]; returns the count, or -1 if malformed. */
static int bn_parse_threads(const char *s, int *th) {
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256 || n == BN_MAX_THREADS) return -1;
        th[n++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n > 0 ? n : -1;
}

/* y = x + 1 */
static void bn_plus1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], jx_lit(in[0], 1.0));
}

/* The hand-written counterpart of bn_plus1. */
static void bn_plus1_ref(const float *x, float *y) {
    for (int i = 0; i < 4; i++) y[i] = x[i] + 1.0f;
}

/* Median per-call microseconds of the jitted trivial function and of its C counterpart
 * (blocks of 10000 calls). Returns 0 or -1. */
static int bn_dispatch(double *jx_us, double *ref_us) {
    jx_type ty = JX_TYPE(JX_F32, 4);
    jx_fn *f = jx_trace(bn_plus1, 1, &ty, 1, NULL);
    jx_jit_opts o = {NULL, 1, 1};
    jx_exe *e = f ? jx_jit(f, &o) : NULL;
    jx_array *x = jx_array_new_type(&ty), *y = jx_array_new_type(&ty);
    void (*volatile ref)(const float *, float *) = bn_plus1_ref;
    enum { BLOCKS = 21, CALLS = 10000 };
    double tj[BLOCKS], tr[BLOCKS];
    int rc = e && x && y ? 0 : -1;
    for (int b = 0; b < BLOCKS && rc == 0; b++) {
        double t0 = bn_now_us();
        for (int i = 0; i < CALLS && rc == 0; i++) rc = jx_exe_run(e, &x, &y);
        double t1 = bn_now_us();
        for (int i = 0; i < CALLS; i++) ref(jx_array_cdata(x), jx_array_data(y));
        double t2 = bn_now_us();
        tj[b] = (t1 - t0) / CALLS;
        tr[b] = (t2 - t1) / CALLS;
    }
    if (rc == 0) {
        *jx_us = bn_median(tj, BLOCKS);
        *ref_us = bn_median(tr, BLOCKS);
    }
    jx_array_free(x);
    jx_array_free(y);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc;
}

/* Parses jxbench's arguments into *iters, *batch and th[0..*nth). 0; 1 after printing the
 * usage for --help; -1 after printing it to stderr for a bad argument. */
static int bn_parse_args(int argc, char **argv, int *iters, int *batch, int *th, int *nth) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(bn_usage, stdout);
            return 1;
        } else if (!strcmp(a, "--iters") && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 10000000) goto usage;
            *iters = (int)n;
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000) goto usage;
            *batch = (int)n;
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            if ((*nth = bn_parse_threads(v, th)) < 0) goto usage;
            i++;
        } else {
            fprintf(stderr, "jxbench: bad argument '%s'\n", a);
            goto usage;
        }
    }
    return 0;
usage:
    fputs(bn_usage, stderr);
    return -1;
}

/* A second compile of a fresh step in this process, timed on stderr: the share of
 * one-time LLVM setup in the first. */
static void bn_second_compile(int batch, int threads) {
    jx_fn *f2 = bm_step_fn(batch);
    double t3 = bn_now_us();
    jx_exe *e2 = f2 ? bm_jit(f2, threads, 1) : NULL;
    fprintf(stderr, "jxbench: second jx_jit in this process (fresh jx_fn, no disk cache) "
            "%.1f ms\n", (bn_now_us() - t3) * 1e-3);
    jx_exe_free(e2);
    jx_fn_free(f2);
}

/* Times the step at each thread count th[0..nth) (recompiling *e, compiled for th[0], for
 * the others). 0, or 1 with a message on stderr. */
static int bn_time_threads(const jx_fn *f, jx_exe **e, bm_state *s, const int *th, int nth,
                           int iters) {
    for (int k = 0; k < nth; k++) {
        openblas_set_num_threads(th[k]);
        s->ref.threads = th[k]; /* the careful reference: SGD folded, jx's thread policy */
        if (k > 0) {
            jx_exe_free(*e);
            *e = bm_jit(f, th[k], 0);
            if (!*e) {
                fprintf(stderr, "jxbench: %s\n", jx_error());
                return 1;
            }
        }
        if (bn_time(*e, s, th[k], iters) < 0) {
            fprintf(stderr, "jxbench: %s\n", jx_error());
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int iters = 200, batch = 128, th[BN_MAX_THREADS] = {1, 2}, nth = 2;
    int parsed = bn_parse_args(argc, argv, &iters, &batch, th, &nth);
    if (parsed != 0) return parsed < 0 ? 2 : 0;
    /* cold compile: the first jx_jit in the process, from a freshly traced step */
    double t0 = bn_now_us();
    jx_fn *f = bm_step_fn(batch);
    double t1 = bn_now_us();
    openblas_set_num_threads(th[0]);
    jx_exe *e = f ? bm_jit(f, th[0], 1) : NULL;
    double t2 = bn_now_us();
    if (!e) {
        fprintf(stderr, "jxbench: %s\n", jx_error());
        jx_fn_free(f);
        return 1;
    }
    fprintf(stderr, "jxbench: step traced and transformed in %.1f ms (%d equations); "
            "cold jx_jit %.1f ms\n", (t1 - t0) * 1e-3, jx_fn_n_eqns(f), (t2 - t1) * 1e-3);
    bm_state s;
    int rc = 0;
    if (bm_state_init(&s, batch) < 0) {
        fprintf(stderr, "jxbench: out of memory\n");
        bm_state_free(&s);
        jx_exe_free(e);
        jx_fn_free(f);
        return 1;
    }
    rc = bm_check(e, &s);
    if (rc < 0) fprintf(stderr, "jxbench: %s\n", jx_error());
    if (rc == 0) bn_second_compile(batch, th[0]);
    if (rc == 0) rc = bn_time_threads(f, &e, &s, th, nth, iters);
    if (rc == 0) bn_row("mlp_compile_cold", batch, th[0], t2 - t1, -1);
    double dj, dr;
    if (rc == 0 && bn_dispatch(&dj, &dr) == 0) bn_row("dispatch_trivial", 1, 1, dj, dr);
    else if (rc == 0) rc = 1, fprintf(stderr, "jxbench: %s\n", jx_error());
    bm_state_free(&s);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc ? 1 : 0;
}
