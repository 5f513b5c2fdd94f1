/* Argument handling shared by the primitives whose public constructors trace user
 * callbacks into sub-functions (custom_jvp/custom_vjp in custom_api.c, cond/switch in
 * control_api.c). */
#ifndef JX_PRIMS_CALLARGS_H
#define JX_PRIMS_CALLARGS_H

#include "core/trace.h"

/* Checks the operand list of op and finds its trace: 0 with *t set and types filled, or
 * -1 with *res set to poison (the error recorded, or passed on from a poison operand). */
int cua_operands(jx_loc loc, const char *op, int n_in, const jx_val *args, jx_trace **t,
                 jx_type *types, jx_val *res);

/* Traces the callback cb of op (rule `what`) on n_in inputs of the given types with n_out
 * outputs. NULL after recording "op: tracing 'what': <its error>" on t. */
jx_fn *cua_trace(jx_loc loc, jx_trace *t, const char *op, const char *what, jx_trace_cb cb,
                 int n_in, const jx_type *in, int n_out, void *user);

/* cua_trace for a sub-function that may use values of t (closure capture, trace.h): the
 * function returned still holds the placeholders caps lists (capture_lift). */
jx_fn *cua_trace_sub(jx_loc loc, jx_trace *t, const char *op, const char *what, jx_trace_cb cb,
                     int n_in, const jx_type *in, int n_out, void *user, trace_caps *caps);

/* Captures every live value of ops[0..n) into the innermost of their traces (a value of
 * an enclosing trace used in a sub-function's trace becomes a captured input there). */
void cua_unify(int n, jx_val *ops);

/* Checks that sub-function g (called name) takes the n_in types in and returns the n_out
 * types out; else writes "rule 'jvp' maps (..) -> (..), expected (..) -> (..)" to err and
 * returns -1. */
int cua_check_sig(const jx_fn *g, const char *name, int n_in, const jx_type *in, int n_out,
                  const jx_type *out, char *err, size_t errlen);

#endif
