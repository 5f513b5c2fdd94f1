/* Shared by the tests that trace a function and check it on the interpreter (dcr_util.h,
 * nn_util.h): trace-end + verify + interpret, and arrays from literal doubles. Helpers are
 * static and marked unused. */
#ifndef JX_TESTS_INTERP_UTIL_H
#define JX_TESTS_INTERP_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "jx.h"

/* Ends the trace t with outputs outs, checks the function verifies, runs it on in and
 * stores the outputs in out. Returns 0, or -1 after printing why (frees the function). */
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

/* A new array of type t holding the doubles v (converted like jx_array_set). */
__attribute__((unused))
static jx_array *tst_from(jx_type t, const double *v) {
    jx_array *a = jx_array_new_type(&t);
    int64_t n = jx_array_size(a);
    for (int64_t i = 0; i < n; i++) jx_array_set(a, i, v[i]);
    return a;
}

#endif
