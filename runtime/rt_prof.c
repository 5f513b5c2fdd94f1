/* Step profiling for JX_PROFILE builds of JIT code: wall time per plan step (mean and
 * minimum over calls), printed at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "jx_rt.h"

enum { PROF_MAX = 4096 };
static double prof_sum[PROF_MAX], prof_min[PROF_MAX];
static long prof_cnt[PROF_MAX];
static double prof_last;
static int prof_registered;

/* Seconds on the monotonic clock. */
static double prof_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints the per-step totals (atexit handler). */
static void prof_print(void) {
    double all = 0;
    for (int i = 0; i < PROF_MAX; i++) all += prof_sum[i];
    for (int i = 0; i < PROF_MAX; i++)
        if (prof_cnt[i])
            fprintf(stderr, "jx profile: step %3d: %9.2f us/call, min %9.2f (%5.1f%%) over %ld calls\n",
                    i, prof_sum[i] / (double)prof_cnt[i] * 1e6, prof_min[i] * 1e6,
                    100 * prof_sum[i] / all, prof_cnt[i]);
}

/* See jx_rt.h. */
void jx_rt_prof_mark(int64_t step) {
    double t = prof_now();
    if (!prof_registered) {
        prof_registered = 1;
        atexit(prof_print);
    }
    if (step >= 0 && step < PROF_MAX) {
        double d = t - prof_last;
        prof_sum[step] += d;
        if (prof_cnt[step]++ == 0 || d < prof_min[step]) prof_min[step] = d;
    }
    prof_last = prof_now();
}
