/* Helpers shared by the primitive tests: build inputs, run a traced function on the
 * interpreter, compare a result with expected values, and check shape-rule errors.
 * Include after check.h. */
#ifndef JX_PRIMCHECK_H
#define JX_PRIMCHECK_H

#include <string.h>

#include "check.h"
#include "core/ir.h"

/* A new array of type t holding v[0..size-1]. */
static inline jx_array *mk(jx_type t, const double *v) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) jx_array_set(a, i, v[i]);
    return a;
}

/* Ends t with output y, checks the function verifies, runs it on inputs of types ts with
 * values vals, and returns the output (caller frees) or NULL. Consumes t. */
static inline jx_array *evaln(jx_trace *t, jx_val y, int n, const jx_type *ts,
                              const double *const *vals) {
    jx_fn *f = jx_trace_end(t, 1, &y);
    if (!f) {
        printf("  trace failed: %s\n", jx_error());
        return NULL;
    }
    jx_array *in[8] = {NULL}, *out[1] = {NULL};
    for (int i = 0; i < n && i < 8; i++) in[i] = mk(ts[i], vals[i]);
    int rc = jx_fn_verify(f);
    if (rc == 0) rc = jx_interp(f, in, out);
    if (rc < 0) printf("  verify/interp failed: %s\n", jx_error());
    for (int i = 0; i < n && i < 8; i++) jx_array_free(in[i]);
    jx_fn_free(f);
    return rc == 0 ? out[0] : NULL;
}

/* evaln with one input. */
static inline jx_array *eval1(jx_trace *t, jx_val y, jx_type xt, const double *xv) {
    return evaln(t, y, 1, &xt, &xv);
}

/* 1 if a has type want and its elements are near v (relative tol; NaN equals NaN);
 * prints the first difference otherwise. Frees a. */
static inline int same_tol(jx_array *a, jx_type want, const double *v, double tol) {
    if (!a) return 0;
    jx_type t = jx_array_type(a);
    int ok = jx_type_eq(&t, &want);
    char b1[160], b2[160];
    if (!ok)
        printf("  type %s, expected %s\n", jx_type_str(&t, b1, sizeof b1),
               jx_type_str(&want, b2, sizeof b2));
    for (int64_t i = 0; ok && i < jx_array_size(a); i++)
        if (!check_near(jx_array_get(a, i), v[i], tol)) {
            printf("  element %lld = %.17g, expected %.17g\n", (long long)i, jx_array_get(a, i),
                   v[i]);
            ok = 0;
        }
    jx_array_free(a);
    return ok;
}

/* same_tol with exact comparison. */
static inline int same(jx_array *a, jx_type want, const double *v) {
    return same_tol(a, want, v, 0);
}

/* A trace with one input of type xt; *x receives the input. */
static inline jx_trace *begin1(jx_type xt, jx_val *x) {
    jx_trace *t = jx_trace_begin(1, &xt);
    *x = jx_trace_input(t, 0);
    return t;
}

/* Number of nodes of f with primitive op. */
static inline int count_op(const jx_fn *f, jx_op op) {
    int c = 0;
    for (int i = 0; f && i < f->n_nodes; i++) c += f->nodes[i].op == op;
    return c;
}

/* The file name part of a path (__FILE__ may carry directories). */
static inline const char *pc_base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Checks that y is poison and the trace error names the op, the operand type, the test
 * file and the problem; then aborts the trace. */
#define EXPECT_ERR(t, y, op, type, what)                                                \
    do {                                                                                \
        CHECK(jx_val_bad(y));                                                           \
        const char *e_ = jx_trace_error(t);                                             \
        CHECK_CONTAINS(e_, op);                                                         \
        CHECK_CONTAINS(e_, type);                                                       \
        CHECK_CONTAINS(e_, pc_base(__FILE__));                                          \
        CHECK_CONTAINS(e_, what);                                                       \
        jx_trace_abort(t);                                                              \
    } while (0)

#endif
