/* jxsoak: memory soak of the whole pipeline. Each cycle traces a small function (a
 * fused elementwise chain, a reduction and a GEMM on f32[16,16]), jits it, runs it,
 * checks the result and frees everything. RSS is read from /proc/self/statm after the
 * warm-up cycles and at the end; the run fails when it grew by more than the tolerance.
 *
 *   jxsoak [--cycles N] [--warmup W] [--compile-every K] [--functions M] [--tolerance-kb T]
 *          [--quiet]
 *
 * By default (K = 1) every cycle is a real LLVM compile: the disk cache is off for the
 * compile (jx_jit_opts.no_disk_cache) and the in-memory cache holds code only while an
 * executable uses it, so the freed executable's code is gone before the next cycle.
 * With K > 1 an anchor executable of the function stays alive, so cycles are memory
 * cache hits (trace, cache lookup, executable setup, run, free) and every K-th cycle
 * traces a function with another constant, which compiles. The compiled functions differ
 * in a constant, M of them in turn (default 1000: new symbol names, new cache keys; with
 * M = 1 every compile is of the same function). The end prints one line:
 * cycles, compiles, RSS at start and end, growth, seconds. Exit 1 on growth beyond the
 * tolerance or a wrong result. In an ASan build RSS is not checked (the quarantine keeps
 * freed memory); LeakSanitizer reports leaks at exit. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jit/cache.h"
#include "jx.h"

/* Bytes of heap in use (glibc's mallinfo2: allocated and not freed), in KiB. */
static long soak_heap_kb(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return (long)((mi.uordblks + mi.hblkhd) / 1024);
#else
    return 0;
#endif
}

/* Resident set size in KiB (0 if unknown). */
static long soak_rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static double soak_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* f(a, b) = (sum over rows of tanh(a * b + c) + dot(a, b), as f32[16]); c in *user. */
static void soak_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    double c = *(const double *)user;
    jx_val e = jx_tanh(jx_add(jx_mul(in[0], in[1]), jx_lit(in[0], c)));
    jx_val d = jx_dot_general(in[0], in[1], JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_add(jx_reduce_sum(e, JX_INTS(1)), jx_reduce_sum(d, JX_INTS(1)));
}

/* The expected output 0 element i for constant c on the inputs below. */
static double soak_want(const float *a, const float *b, double c, int i) {
    double s = 0;
    for (int j = 0; j < 16; j++) {
        s += tanh((double)(float)(a[16 * i + j] * b[16 * i + j] + (float)c));
        for (int k = 0; k < 16; k++) s += (double)a[16 * i + k] * b[16 * k + j];
    }
    return s;
}

/* One cycle with constant c: trace, jit, run, check, free. 0 or -1 (message printed). */
static int soak_cycle(double c, jx_array *const *in, const jx_jit_opts *o) {
    jx_type ty = JX_TYPE(JX_F32, 16, 16);
    jx_type types[2] = {ty, ty};
    jx_fn *f = jx_trace(soak_fn, 2, types, 1, &c);
    jx_exe *e = f ? jx_jit(f, o) : NULL;
    jx_array *out = NULL;
    int rc = e && jx_exe_run(e, in, &out) == 0 ? 0 : -1;
    if (rc < 0) fprintf(stderr, "jxsoak: %s\n", jx_error());
    const float *a = jx_array_cdata(in[0]), *b = jx_array_cdata(in[1]);
    for (int i = 0; rc == 0 && i < 16; i++) {
        double got = jx_array_get(out, i), want = soak_want(a, b, c, i);
        if (!(fabs(got - want) <= 1e-4 * (1 + fabs(want)))) {
            fprintf(stderr, "jxsoak: element %d is %.9g, expected %.9g\n", i, got, want);
            rc = -1;
        }
    }
    jx_array_free(out);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc;
}

int main(int argc, char **argv) {
    long cycles = 100000, warmup = 200, every = 1, tol_kb = 4096, nfn = 1000;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--cycles")) cycles = atol(v), i++;
        else if (!strcmp(argv[i], "--warmup")) warmup = atol(v), i++;
        else if (!strcmp(argv[i], "--compile-every")) every = atol(v), i++;
        else if (!strcmp(argv[i], "--tolerance-kb")) tol_kb = atol(v), i++;
        else if (!strcmp(argv[i], "--functions")) nfn = atol(v), i++;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else {
            fprintf(stderr, "usage: jxsoak [--cycles N] [--warmup W] [--compile-every K] "
                            "[--functions M] [--tolerance-kb T] [--quiet]\n");
            return 2;
        }
    }
    if (cycles < 1 || warmup < 0 || every < 1 || tol_kb < 0 || nfn < 1) {
        fprintf(stderr, "jxsoak: counts must be positive\n");
        return 2;
    }
    jx_jit_opts o = {NULL, 1, 1};
    jx_array *in[2];
    for (int k = 0; k < 2; k++) {
        in[k] = jx_array_new(JX_F32, 2, (int64_t[]){16, 16});
        for (int64_t i = 0; i < 256; i++) jx_array_set(in[k], i, 0.01 * (double)((i * (k + 3)) % 37) - 0.15);
    }
    double c0 = 0.25;
    jx_type ty = JX_TYPE(JX_F32, 16, 16), types[2] = {ty, ty};
    jx_fn *af = every > 1 ? jx_trace(soak_fn, 2, types, 1, &c0) : NULL;
    jx_exe *anchor = af ? jx_jit(af, &o) : NULL; /* keeps c0's code in the memory cache */
    long rss0 = 0, peak = 0, heap0 = 0;
    double t0 = soak_now(), tw = t0;
    for (long n = 0; n < warmup + cycles; n++) {
        if (n == warmup) rss0 = soak_rss_kb(), heap0 = soak_heap_kb(), tw = soak_now();
        double c = every > 1 && n % every ? c0 : 0.5 + 1e-6 * (double)(n % nfn);
        if (soak_cycle(c, in, &o) < 0) return 1;
        long r = soak_rss_kb();
        if (r > peak) peak = r;
        if (!quiet && n >= warmup && (n - warmup) % (cycles / 10 > 0 ? cycles / 10 : 1) == 0)
            printf("  cycle %ld: RSS %ld KiB, heap in use %ld KiB, %.1f s\n", n - warmup, r, soak_heap_kb(),
                   soak_now() - tw), fflush(stdout);
    }
    long rss1 = soak_rss_kb(), heap1 = soak_heap_kb();
    jit_cache_stats st;
    jit_cache_get_stats(&st);
    printf("jxsoak: %ld cycles (after %ld warm-up), %ld LLVM compiles, %ld memory-cache hits; RSS "
           "%ld KiB after warm-up, %ld KiB at the end (%+ld KiB, peak %ld KiB); heap in use %ld -> %ld KiB "
           "(%+ld KiB); %.1f s (%.2f ms/cycle)\n",
           cycles, warmup, st.compiles, st.mem_hits, rss0, rss1, rss1 - rss0, peak, heap0, heap1, heap1 - heap0,
           soak_now() - tw, 1e3 * (soak_now() - tw) / (double)cycles);
    jx_exe_free(anchor);
    jx_fn_free(af);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan's quarantine holds freed memory (up to 256 MB): RSS grows by design. Leaks are
     * LeakSanitizer's to report at exit. */
    printf("jxsoak: RSS not checked in an ASan build\n");
    tol_kb = -1;
#endif
    if (tol_kb >= 0 && rss1 - rss0 > tol_kb) {
        printf("jxsoak: FAIL: RSS grew by %ld KiB (tolerance %ld KiB)\n", rss1 - rss0, tol_kb);
        return 1;
    }
    return 0;
}
