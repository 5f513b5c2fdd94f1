/* Shared helpers of the jx/nn.h tests (t_nn*.c): elementwise checks and statistics (with
 * interp_util.h's tst_run and tst_from). Helpers are static and marked unused. */
#ifndef JX_TESTS_NN_UTIL_H
#define JX_TESTS_NN_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "interp_util.h"

/* Checks every element of a against want[] with tolerance tol. */
__attribute__((unused))
static void check_arr(const jx_array *a, const double *want, int64_t n, double tol) {
    CHECK(a != NULL);
    if (!a) return;
    CHECK(jx_array_size(a) == n);
    for (int64_t i = 0; i < n && i < jx_array_size(a); i++) CHECK_NEAR(jx_array_get(a, i), want[i], tol);
}

/* Mean and variance of a's elements. */
__attribute__((unused))
static void stats(const jx_array *a, double *mean, double *var) {
    int64_t n = jx_array_size(a);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += jx_array_get(a, i);
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = jx_array_get(a, i) - *mean;
        s2 += d * d;
    }
    *var = s2 / (double)n;
}

/* A builder of one value in a trace (run0 and friends). */
typedef jx_val (*build_fn)(jx_trace *t, void *user);

#endif
