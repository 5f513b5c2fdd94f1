/* Shared helpers of the jx/nn.h tests (t_nn*.c): trace-end + verify + interpret, arrays
 * from literals and elementwise checks. Helpers are static and marked unused. */
#ifndef JX_TESTS_NN_UTIL_H
#define JX_TESTS_NN_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "check.h"

/* Ends t with outs, verifies and interprets it on in into out. 0 or -1 (printed). */
__attribute__((unused))
static int run(jx_trace *t, int n_out, const jx_val *outs, jx_array *const *in, jx_array **out) {
    jx_fn *f = jx_trace_end(t, n_out, outs);
    if (!f) {
        printf("  trace failed: %s\n", jx_error());
        return -1;
    }
    int rc = jx_fn_verify(f);
    if (rc == 0) rc = jx_interp(f, in, out);
    if (rc < 0) printf("  verify/interp failed: %s\n", jx_error());
    jx_fn_free(f);
    return rc;
}

/* A new array of type ty holding the doubles v. */
__attribute__((unused))
static jx_array *arr(jx_type ty, const double *v) {
    jx_array *a = jx_array_new_type(&ty);
    for (int64_t i = 0; i < jx_array_size(a); i++) jx_array_set(a, i, v[i]);
    return a;
}

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
