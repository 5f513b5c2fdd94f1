/* See bench_time.h. */
#include "bench_time.h"

#include <stdio.h>
#include <stdlib.h>

/* See bench_time.h. */
double bu_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* See bench_time.h. */
double bu_clock_ms(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* qsort order of doubles. */
static int bu_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* See bench_time.h. */
void bu_sort(double *v, int n) {
    if (n > 1) qsort(v, (size_t)n, sizeof *v, bu_cmp);
}

/* See bench_time.h. */
double bu_median(double *v, int n) {
    if (n <= 0) return 0;
    bu_sort(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* See bench_time.h. */
void bu_stats(double *v, int n, double *med, double *lo, double *hi) {
    *med = bu_median(v, n);
    *lo = v[0];
    *hi = v[n - 1];
}

/* See bench_time.h. */
int bu_int_list(const char *s, int *v, int max_n, int lo, int hi) {
    int n = 0;
    while (*s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < lo || x > hi || n == max_n) return -1;
        v[n++] = (int)x;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n > 0 ? n : -1;
}

/* See bench_time.h. */
void bu_loadavg(const char *when) {
    FILE *f = fopen("/proc/loadavg", "r");
    double la[3];
    if (f && fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, la[0], la[1], la[2]);
    if (f) fclose(f);
}
