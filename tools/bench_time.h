/* The small helpers every benchmark tool shares (jxbench, jxbench-all, bench_elt, bench_cnn,
 * bench_conv): clocks, sorting samples and their median / min / max, comma-separated
 * integer lists for options, and the machine's load average. No dependency beyond libc. */
#ifndef BENCH_TIME_H
#define BENCH_TIME_H

#include <time.h>

/* Monotonic time in microseconds. */
double bu_now_us(void);
/* Milliseconds on clock c (CLOCK_MONOTONIC: wall time; CLOCK_PROCESS_CPUTIME_ID: the CPU
 * time of every thread of the process). */
double bu_clock_ms(clockid_t c);

/* Sorts v[0..n-1] ascending. */
void bu_sort(double *v, int n);
/* Median of v[0..n-1] (sorts v; the mean of the middle two for even n); 0 for n <= 0. */
double bu_median(double *v, int n);
/* Median, min and max of v[0..n-1], n >= 1 (sorts v). */
void bu_stats(double *v, int n, double *med, double *lo, double *hi);

/* Parses a comma-separated list of integers, each in [lo, hi], into v[0..max_n). Returns
 * the count, or -1 if the list is empty, malformed, out of range or longer than max_n. */
int bu_int_list(const char *s, int *v, int max_n, int lo, int hi);

/* Prints "load average <when>: a b c" from /proc/loadavg on stdout (the machine is
 * shared); nothing if it cannot be read. */
void bu_loadavg(const char *when);

#endif
