/* Shared helpers of the dot/conv/random tests (t_dot_conv_random.c, t_conv_threefry.c):
 * deterministic pseudo-random and literal arrays, and trace-end + verify + interpret.
 * Helpers are static and marked unused. */
#ifndef JX_TESTS_DCR_UTIL_H
#define JX_TESTS_DCR_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"

/* Deterministic pseudo-random doubles in [-1, 1). */
static uint64_t tst_seed __attribute__((unused)) = 12345;
__attribute__((unused))
static double tst_rand(void) {
    tst_seed = tst_seed * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(tst_seed >> 11) / (double)(1ull << 52) - 1.0;
}

/* A new array of type t filled with pseudo-random values (integers in [-8, 8) for
 * integer dtypes). */
__attribute__((unused))
static jx_array *tst_random(jx_type t) {
    jx_array *a = jx_array_new_type(&t);
    int64_t n = jx_array_size(a);
    for (int64_t i = 0; i < n; i++) {
        double v = tst_rand();
        jx_array_set(a, i, t.dtype == JX_F32 || t.dtype == JX_F64 ? v : floor(v * 8));
    }
    return a;
}

/* A new array of type t holding the doubles v (converted). */
__attribute__((unused))
static jx_array *tst_from(jx_type t, const double *v) {
    jx_array *a = jx_array_new_type(&t);
    int64_t n = jx_array_size(a);
    for (int64_t i = 0; i < n; i++) jx_array_set(a, i, v[i]);
    return a;
}

/* Ends the trace t with outputs outs, checks the function verifies, runs it on in and
 * stores the outputs in out. Returns 0 on success (frees the function). */
__attribute__((unused))
static int tst_run(jx_trace *t, int n_out, const jx_val *outs, jx_array *const *in,
                   jx_array **out) {
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

#endif
