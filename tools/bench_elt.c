/* bench_elt: an 8-op elementwise chain on N f32 (16M by default) against the memory limit.
 *
 *   y = tanh(0.5 x + 0.25) * exp(-|x|) + x      (mul, add, tanh, abs, neg, exp, mul, add)
 *
 * For each thread count (1 and 2 by default) one run times, interleaved rep by rep:
 *   jx      the chain traced with jx ops and compiled by jx_jit (jx_jit_opts.n_threads),
 *           run with a preallocated output;
 *   memcpy  memcpy of the same bytes (in -> out), the range split between the threads;
 *   C       a hand-written loop of the same chain in this file, compiled -O3 -march=native
 *           with 512-bit vectors, FMA contraction and -fno-trapping-math (without it GCC
 *           keeps floorf scalar; tools/meson.build): branch-free polynomial exp and tanh
 *           (Cephes coefficients, written as a careful person writes them so that the
 *           loop vectorizes), the range split between the threads.
 * Prints a table of medians over --reps reps (after warm-up), min and max (the spread),
 * the median process CPU time (all threads: less than wall time x threads when other
 * processes preempt ours; spinning pool workers count too), GB/s counting the bytes read
 * and written once (8 N), and the ratios to memcpy and to C at the same thread count;
 * --json adds one JSON line per (threads, peer) pair. Before timing, jx's output is
 * checked against the C loop and against libm in double (max abs error on stderr; exit 1
 * if it exceeds 1e-5). Exit 2 on usage errors. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_chain.h"
#include "jx.h"

#define BE_MAX_THREADS 8

static const char be_usage[] =
    "usage: bench_elt [--n N] [--reps R] [--threads T,...] [--json] [--help]\n"
    "  --n N        elements (default 16777216)\n"
    "  --reps R     timed reps per variant, interleaved (default 21, at least 15 recommended)\n"
    "  --threads T  comma-separated thread counts (default 1,2)\n"
    "  --json       also print one JSON line per thread count and peer\n";

/* Milliseconds on clock c. */
static double be_clock_ms(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* qsort order of doubles. */
static int be_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, min and max of v[0..n-1] (sorts v). */
static void be_stats(double *v, int n, double *med, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, be_cmp);
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    *lo = v[0];
    *hi = v[n - 1];
}

/* ---- the hand-written chain ------------------------------------------------------------ */

/* e^x for x in [-87, 88] (clamped): x = n ln2 + r, degree-5 polynomial, 2^n by the
 * exponent field. Branch-free so that the loop vectorizes. */
static inline float be_expf(float x) {
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return y * s;
}

/* tanh x: odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) with x's sign above. */
static inline float be_tanhf(float x) {
    float a = fabsf(x), z = x * x;
    float p = -5.70498872745E-3f;
    p = p * z + 2.06390887954E-2f;
    p = p * z - 5.37397155531E-2f;
    p = p * z + 1.33314422036E-1f;
    p = p * z - 3.33332819422E-1f;
    float small = p * z * x + x;
    float e = be_expf(2.0f * (a < 44.0f ? a : 44.0f));
    float big = copysignf(1.0f - 2.0f / (e + 1.0f), x);
    return a > 0.625f ? big : small;
}

/* The chain on x[lo, hi) into y. */
static void be_chain_c(const float *restrict x, float *restrict y, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        float v = x[i];
        y[i] = be_tanhf(0.5f * v + 0.25f) * be_expf(-fabsf(v)) + v;
    }
}

/* ---- a minimal fork-join pool for the C loop and memcpy -------------------------------- */

/* One job: fn over [0, n) split into nthreads contiguous parts (64-byte multiples). */
typedef struct be_pool {
    int nthreads;
    pthread_t tid[BE_MAX_THREADS];
    pthread_barrier_t start, done;
    void (*fn)(void *ctx, int64_t lo, int64_t hi);
    void *ctx;
    int64_t n;
    int quit;
} be_pool;

/* Worker k's part of the current job: [lo, hi). */
static void be_part(const be_pool *p, int k, int64_t *lo, int64_t *hi) {
    int64_t per = (p->n / p->nthreads + 15) / 16 * 16;
    *lo = per * k < p->n ? per * k : p->n;
    *hi = k == p->nthreads - 1 || per * (k + 1) > p->n ? p->n : per * (k + 1);
}

/* Argument of a worker thread. */
typedef struct be_warg {
    be_pool *p;
    int k;
} be_warg;
static be_warg be_wargs[BE_MAX_THREADS];

/* Worker k: waits for a job, runs its part, reports. */
static void *be_worker(void *arg) {
    be_warg *w = arg;
    for (;;) {
        pthread_barrier_wait(&w->p->start);
        if (w->p->quit) return NULL;
        int64_t lo, hi;
        be_part(w->p, w->k, &lo, &hi);
        if (hi > lo) w->p->fn(w->p->ctx, lo, hi);
        pthread_barrier_wait(&w->p->done);
    }
}

/* Starts nthreads - 1 workers. 0 or -1. */
static int be_pool_init(be_pool *p, int nthreads) {
    memset(p, 0, sizeof *p);
    p->nthreads = nthreads;
    if (nthreads == 1) return 0;
    pthread_barrier_init(&p->start, NULL, (unsigned)nthreads);
    pthread_barrier_init(&p->done, NULL, (unsigned)nthreads);
    for (int k = 1; k < nthreads; k++) {
        be_wargs[k] = (be_warg){p, k};
        if (pthread_create(&p->tid[k], NULL, be_worker, &be_wargs[k]) != 0) return -1;
    }
    return 0;
}

/* Runs fn over [0, n) on the pool (the caller takes part 0). */
static void be_pool_run(be_pool *p, void (*fn)(void *, int64_t, int64_t), void *ctx, int64_t n) {
    if (p->nthreads == 1) {
        fn(ctx, 0, n);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    pthread_barrier_wait(&p->start);
    int64_t lo, hi;
    be_part(p, 0, &lo, &hi);
    if (hi > lo) fn(ctx, lo, hi);
    pthread_barrier_wait(&p->done);
}

/* Stops the workers. */
static void be_pool_free(be_pool *p) {
    if (p->nthreads == 1) return;
    p->quit = 1;
    pthread_barrier_wait(&p->start);
    for (int k = 1; k < p->nthreads; k++) pthread_join(p->tid[k], NULL);
    pthread_barrier_destroy(&p->start);
    pthread_barrier_destroy(&p->done);
}

/* The buffers of a job. */
typedef struct be_bufs {
    const float *x;
    float *y;
} be_bufs;

static void be_memcpy_part(void *ctx, int64_t lo, int64_t hi) {
    be_bufs *b = ctx;
    memcpy(b->y + lo, b->x + lo, (size_t)(hi - lo) * sizeof(float));
}

static void be_chain_part(void *ctx, int64_t lo, int64_t hi) {
    be_bufs *b = ctx;
    be_chain_c(b->x, b->y, lo, hi);
}

/* ---- the jx chain ----------------------------------------------------------------------- */

/* Max abs difference of y from the C loop's output and from libm in double. */
static void be_check(const float *x, const float *y, const float *yc, int64_t n, double *dc,
                     double *dd) {
    *dc = *dd = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], ref = tanh(0.5 * v + 0.25) * exp(-fabs(v)) + v;
        double a = fabs((double)y[i] - yc[i]), b = fabs((double)y[i] - ref);
        if (!(a <= *dc)) *dc = a;
        if (!(b <= *dd)) *dd = b;
    }
}

/* ---- driver ---------------------------------------------------------------------------- */

/* Options. */
typedef struct be_opts {
    int64_t n;
    int reps, nthr, json;
    int thr[BE_MAX_THREADS];
} be_opts;

/* Parses argv into o; 0, 1 for --help, -1 on a bad argument. */
static int be_parse(int argc, char **argv, be_opts *o) {
    *o = (be_opts){.n = 16 << 20, .reps = 21, .nthr = 2, .thr = {1, 2}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--n")) o->n = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--threads")) {
            o->nthr = 0;
            char *end;
            for (const char *s = v; *s && o->nthr < BE_MAX_THREADS; s = *end ? end + 1 : end) {
                long t = strtol(s, &end, 10);
                if (end == s || t < 1 || t > BE_MAX_THREADS) return -1;
                o->thr[o->nthr++] = (int)t;
            }
        } else return -1;
    }
    return o->n >= 16 && o->reps >= 1 && o->nthr >= 1 ? 0 : -1;
}

/* Per thread count: the executable, the pool and the samples of the three variants. */
typedef struct be_row {
    jx_exe *exe;
    be_pool pool;
    int pool_ok;
    double *t[3], *cpu[3]; /* wall and process CPU time per rep */
} be_row;

enum { BE_JX, BE_MEMCPY, BE_C };
static const char *const be_names[3] = {"jx", "memcpy", "C -O3"};

/* Times variant v of row r once (wall ms; the process CPU ms in *cpu). -1 on a jx error. */
static double be_time(be_row *r, int v, jx_array *xa, jx_array *ya, be_bufs *b, int64_t n,
                      double *cpu) {
    double c0 = be_clock_ms(CLOCK_PROCESS_CPUTIME_ID), t0 = be_clock_ms(CLOCK_MONOTONIC);
    if (v == BE_JX) {
        if (jx_exe_run(r->exe, &xa, &ya) < 0) return -1;
    } else {
        be_pool_run(&r->pool, v == BE_MEMCPY ? be_memcpy_part : be_chain_part, b, n);
    }
    double t1 = be_clock_ms(CLOCK_MONOTONIC);
    *cpu = be_clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
    return t1 - t0;
}

/* Prints the table (and JSON lines) of the rows. */
static void be_report(const be_opts *o, be_row *rows) {
    double gb = 8.0 * (double)o->n / 1e9;
    printf("chain y = tanh(0.5*x + 0.25) * exp(-|x|) + x (8 ops), n = %lld f32, %.0f MB read + "
           "written, median of %d interleaved reps\n", (long long)o->n, gb * 1e3, o->reps);
    printf("%-7s %-7s %9s %9s %9s %7s %10s %7s %8s\n", "threads", "variant", "median_ms",
           "min_ms", "max_ms", "GB/s", "x_memcpy", "x_C", "cpu_ms");
    for (int k = 0; k < o->nthr; k++) {
        double med[3], lo[3], hi[3], cmed, clo, chi;
        for (int v = 0; v < 3; v++) be_stats(rows[k].t[v], o->reps, &med[v], &lo[v], &hi[v]);
        for (int v = 0; v < 3; v++) {
            be_stats(rows[k].cpu[v], o->reps, &cmed, &clo, &chi);
            printf("%-7d %-7s %9.2f %9.2f %9.2f %7.1f %10.2f %7.2f %8.2f\n", o->thr[k],
                   be_names[v], med[v], lo[v], hi[v], gb / (med[v] * 1e-3),
                   med[v] / med[BE_MEMCPY], med[v] / med[BE_C], cmed);
        }
        for (int v = 1; v < 3 && o->json; v++)
            printf("{\"name\":\"elt_chain\",\"n\":%lld,\"threads\":%d,\"jx_us\":%.1f,"
                   "\"peer\":\"%s\",\"peer_us\":%.1f,\"ratio\":%.3f}\n", (long long)o->n,
                   o->thr[k], med[BE_JX] * 1e3, v == BE_MEMCPY ? "memcpy" : "c_O3",
                   med[v] * 1e3, med[BE_JX] / med[v]);
    }
}

/* Compiles the chain for each thread count, starts the pools, allocates the samples.
 * 0 or -1. */
static int be_setup(const be_opts *o, be_row *rows) {
    jx_type t = JX_TYPE(JX_F32, o->n);
    jx_fn *f = jx_trace(bench_chain_jx, 1, &t, 1, NULL);
    int ok = f != NULL;
    for (int k = 0; k < o->nthr && ok; k++) {
        jx_jit_opts jo = {.n_threads = o->thr[k], .no_disk_cache = 1};
        ok = (rows[k].exe = jx_jit(f, &jo)) != NULL;
        for (int v = 0; v < 3 && ok; v++) {
            rows[k].t[v] = calloc((size_t)o->reps, sizeof(double));
            rows[k].cpu[v] = calloc((size_t)o->reps, sizeof(double));
            ok = rows[k].t[v] && rows[k].cpu[v];
        }
        ok = ok && be_pool_init(&rows[k].pool, o->thr[k]) == 0;
        rows[k].pool_ok = ok;
    }
    jx_fn_free(f);
    return ok ? 0 : -1;
}

/* Checks jx against C and libm, then times every variant interleaved. 0 or -1. */
static int be_run(const be_opts *o, be_row *rows, jx_array *xa, jx_array *ya, float *yc) {
    be_bufs bc = {jx_array_data(xa), yc}, bm = {jx_array_data(xa), jx_array_data(ya)};
    if (jx_exe_run(rows[0].exe, &xa, &ya) < 0) return -1;
    be_chain_c(bc.x, yc, 0, o->n);
    double dc, dd;
    be_check(bc.x, jx_array_data(ya), yc, o->n, &dc, &dd);
    fprintf(stderr, "check: max |jx - C| = %.3g, max |jx - libm double| = %.3g\n", dc, dd);
    if (!(dc <= 1e-5 && dd <= 1e-5)) {
        fprintf(stderr, "bench_elt: jx's result is off\n");
        return -1;
    }
    int warm = 3;
    for (int rep = -warm; rep < o->reps; rep++)
        for (int k = 0; k < o->nthr; k++)
            for (int v = 0; v < 3; v++) {
                double cpu, ms = be_time(&rows[k], v, xa, ya, v == BE_C ? &bc : &bm, o->n, &cpu);
                if (ms < 0) return -1;
                if (rep >= 0) rows[k].t[v][rep] = ms, rows[k].cpu[v][rep] = cpu;
            }
    return 0;
}

int main(int argc, char **argv) {
    be_opts o;
    int pr = be_parse(argc, argv, &o);
    if (pr != 0) {
        fputs(be_usage, pr > 0 ? stdout : stderr);
        return pr > 0 ? 0 : 2;
    }
    jx_type t = JX_TYPE(JX_F32, o.n);
    jx_array *xa = jx_array_new_type(&t), *ya = jx_array_new_type(&t);
    float *yc = malloc((size_t)o.n * sizeof(float));
    be_row rows[BE_MAX_THREADS];
    memset(rows, 0, sizeof rows);
    int rc = 1;
    if (xa && ya && yc) {
        float *x = jx_array_data(xa);
        unsigned long long s = 0x9E3779B97F4A7C15ull;
        for (int64_t i = 0; i < o.n; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            x[i] = (float)(8.0 * ((double)(s >> 11) / 9007199254740992.0) - 4.0);
        }
        memset(jx_array_data(ya), 0, jx_array_nbytes(ya));
        memset(yc, 0, (size_t)o.n * sizeof(float));
        if (be_setup(&o, rows) == 0 && be_run(&o, rows, xa, ya, yc) == 0) {
            be_report(&o, rows);
            rc = 0;
        }
    }
    if (rc) fprintf(stderr, "bench_elt: failed: %s\n", jx_error() ? jx_error() : "out of memory");
    for (int k = 0; k < o.nthr; k++) {
        jx_exe_free(rows[k].exe);
        if (rows[k].pool_ok) be_pool_free(&rows[k].pool);
        for (int v = 0; v < 3; v++) free(rows[k].t[v]), free(rows[k].cpu[v]);
    }
    jx_array_free(xa);
    jx_array_free(ya);
    free(yc);
    return rc;
}
