/* Shared helpers of the numpy-layer tests (t_numpy*.c): arrays from literals, tracing on
 * their types, verify + interpret, and checks of located error messages. Helpers are
 * static and marked unused. */
#ifndef JX_TESTS_NP_UTIL_H
#define JX_TESTS_NP_UTIL_H

#include <stdio.h>

#include "check.h"
#include "jx.h"

/* An array of dtype dt and the given shape holding vals (NULL: zeros). */
__attribute__((unused))
static jx_array *arr(jx_dtype dt, jx_ints shape, const double *vals) {
    jx_array *a = jx_array_new(dt, shape.n, shape.v);
    if (a && vals)
        for (int64_t i = 0; i < jx_array_size(a); i++) jx_array_set(a, i, vals[i]);
    return a;
}

/* A trace whose inputs have the types of the n arrays. */
__attribute__((unused))
static jx_trace *begin(int n, jx_array **in) {
    jx_type ts[8];
    for (int i = 0; i < n; i++) ts[i] = jx_array_type(in[i]);
    return jx_trace_begin(n, ts);
}

/* Ends t with output out, verifies the function and runs it on in; frees the n inputs and
 * the function. Returns the output (caller frees) or NULL. */
__attribute__((unused))
static jx_array *run(jx_trace *t, jx_val out, int n, jx_array **in) {
    jx_fn *f = jx_trace_end(t, 1, &out);
    jx_array *res = NULL;
    if (!f) printf("  trace failed: %s\n", jx_error());
    else if (jx_fn_verify(f) < 0) printf("  verify failed: %s\n", jx_error());
    else if (jx_interp(f, in, &res) < 0) {
        printf("  interp failed: %s\n", jx_error());
        res = NULL;
    }
    jx_fn_free(f);
    for (int i = 0; i < n; i++) jx_array_free(in[i]);
    return res;
}

#define D(...) ((const double[]){__VA_ARGS__})
#define S(...) JX_INTS(__VA_ARGS__)
#define TOL 1e-6

/* Ends t (whose last op failed) and checks the error names op, every needle and file
 * (the calling test's source file). */
__attribute__((unused))
static void np_expect_error_in(jx_trace *t, const char *op, const char *n1, const char *n2,
                               const char *file) {
    const char *e = jx_trace_error(t);
    CHECK(e != NULL);
    CHECK_CONTAINS(e, op);
    CHECK_CONTAINS(e, file);
    if (n1) CHECK_CONTAINS(e, n1);
    if (n2) CHECK_CONTAINS(e, n2);
    CHECK(jx_trace_end(t, 0, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), op);
}
/* expect_error(t, op, n1, n2): np_expect_error_in naming the calling file. */
#define expect_error(t, op, n1, n2) np_expect_error_in(t, op, n1, n2, __FILE__)

#endif
