/* Shared macros of the JIT-vs-interpreter tests (t_jit.c, t_jit_programs.c): trace a
 * one-input function from an expression on x and check it on random data. */
#ifndef JX_TESTS_JIT_UTIL_H
#define JX_TESTS_JIT_UTIL_H

#include "jitcheck.h"
#include "core/trace.h"

/* Traces a one-input function of type t, whose body is given by a statement on x. */
#define UNARY_FN(f, t, expr)                                                            \
    do {                                                                                \
        jx_type t_ = (t);                                                               \
        jx_trace *tr_ = jx_trace_begin(1, &t_);                                         \
        jx_val x = jx_trace_input(tr_, 0);                                              \
        (void)x;                                                                        \
        jx_val r_ = (expr);                                                             \
        f = jx_trace_end(tr_, 1, &r_);                                                  \
    } while (0)

/* Checks a one-input function on random data. */
#define CHECK_UNARY(t, lo, hi, tol, expr)                                               \
    do {                                                                                \
        jx_fn *f_;                                                                      \
        UNARY_FN(f_, t, expr);                                                          \
        jx_array *in_ = rand_array((t), (lo), (hi), 0);                                 \
        jit_vs_interp(f_, &in_, (tol), #expr);                                          \
        jx_array_free(in_);                                                             \
    } while (0)

#endif
