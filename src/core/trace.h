/* The tracer's internal interface: one emitter that every op, helper, transformation and
 * the IR parser go through, so shape rules and sticky errors are applied in one place. */
#ifndef JX_TRACE_H
#define JX_TRACE_H

#include <pthread.h>

#include "core/ir.h"

struct jx_trace {
    jx_fn *fn;
    char err[1024]; /* first error; err[0] == 0 while none */
    /* the registry of live traces (begun, not yet ended or aborted), newest first: it
     * tells a value of a live trace from a stale or uninitialised one, and finds the
     * innermost open trace of a thread for errors of ops that have no trace */
    jx_trace *reg_prev, *reg_next;
    pthread_t owner; /* the thread that began the trace */
    int n_out;       /* outputs jx_trace_at asks the callback for; -1 for jx_trace_begin */
    /* closure capture (capture.c): a sub-function's trace (a scan body, a cond branch)
     * whose parent is the trace it is called from. A value of the parent (or of an
     * ancestor) used here is captured: it becomes a placeholder input node of this trace,
     * and the constructor passes the outer value as an extra operand. */
    jx_trace *parent;
    int n_cap;
    jx_val cap_outer[JX_MAX_OPERANDS]; /* the captured values, in the parent */
    int32_t cap_node[JX_MAX_OPERANDS]; /* their placeholder nodes here */
};

/* Emits one primitive. t may be NULL, in which case it is taken from the operands.
 * Checks that the operands belong to one trace and are not poison, runs the op's shape
 * rule, and appends the node. On failure records the first error on the trace (op name,
 * what is wrong, operand types, loc) and returns a poison value; a poison operand makes
 * the result poison without a new message. */
jx_val trace_emit(jx_loc loc, jx_trace *t, jx_op op, int nin, const jx_val *in,
                  const jx_attrs *at, const jx_type *hint);

/* Emits multi-result primitive op (JXF_MULTI) and the gets of its results (see ir.h);
 * outs[0..k) receive the results. Returns k, or -1 with the error recorded on the trace
 * and outs[0..max) poison (also when the op has more than max results). */
int trace_emit_multi(jx_loc loc, jx_trace *t, jx_op op, int nin, const jx_val *in,
                     const jx_attrs *at, int max, jx_val *outs);

/* Records a sticky error "file:line: op: message" on t (first one wins) and on
 * jx_error(). t == NULL or not live (an op that found no trace: uninitialised operands, a
 * NULL or ended trace, a bad operand count) records it on the innermost live trace that
 * this thread began, if any, so the op's own error wins over a later "output not set".
 * Returns a poison value of that trace. */
jx_val trace_fail(jx_trace *t, jx_loc loc, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* For helpers that pass an invalid operand through instead of emitting an op
 * (if (jx_val_bad(x)) return trace_bad_arg(loc, "sum", 0, x);): returns x unchanged when
 * it is poison from an error already recorded on its trace; otherwise (a zeroed, stale or
 * hand-made value) records "op: operand k <what is wrong>" at loc, so the helper's own
 * error wins, and returns poison. */
jx_val trace_bad_arg(jx_loc loc, const char *op, int k, jx_val x);

/* The trace of the first operand that belongs to a live trace, or NULL. */
jx_trace *trace_of(int n, const jx_val *v);

/* 1 if t is a live trace (begun and not yet ended or aborted). */
int trace_live(const jx_trace *t);

/* What is wrong with v as a value of trace t (NULL or live; NULL if nothing): a short
 * phrase for error messages. A poison value of t is fine once t has recorded an error (it
 * propagates). A value of t itself needs no registry lookup. */
const char *trace_val_problem(const jx_trace *t, jx_val v);

/* The type of node id in t (no checks). */
const jx_type *trace_type(const jx_trace *t, int32_t id);

/* Re-emits the equations of fn into t: map[0..n_in) hold the ids of fn's inputs in t;
 * fills map[n_in..n_nodes) with the ids of the re-emitted nodes (each keeps its own
 * location, or loc if it has none). Returns 0 or -1 (error recorded on t). */
int trace_inline(jx_trace *t, jx_loc loc, const jx_fn *fn, int32_t *map); /* call.c */

/* ---- closure capture (capture.c) ------------------------------------------------------ */

/* What a capturing trace took from its parent: outer[k] (values of the parent) stand for
 * placeholder node node[k] of the traced function. */
typedef struct trace_caps {
    int n;
    jx_val outer[JX_MAX_OPERANDS];
    int32_t node[JX_MAX_OPERANDS];
} trace_caps;

/* Traces f like jx_trace_at, as a sub-function of the live trace parent: values of parent
 * (or of its ancestors) used by f are captured into caps, their placeholders left in the
 * returned function as extra input nodes past n_in, which capture_lift turns into real
 * inputs. NULL with jx_error() on failure. */
jx_fn *trace_sub(jx_loc loc, jx_trace *parent, jx_trace_cb f, int n_in, const jx_type *in,
                 int n_out, void *user, trace_caps *caps);
/* The value v (of t or of an ancestor of t) as a value of t, capturing it through every
 * trace in between; poison with the error recorded on t if t cannot hold more captures. */
jx_val trace_capture(jx_trace *t, jx_val v);
/* The trace among the live traces of v[0..n) that every other one is an ancestor of (or
 * equal to), or the first live one when they are unrelated; NULL if none is live. */
jx_trace *trace_innermost(int n, const jx_val *v);
/* f (traced by trace_sub with captures caps) with its placeholders turned into inputs:
 * the result takes f's n_in inputs, then n_total more of the given types, placeholder k
 * becoming input n_in + slot[k] (slot NULL: k); inputs no placeholder maps to are unused.
 * NULL with jx_error() on out of memory. */
jx_fn *capture_lift(const jx_fn *f, const trace_caps *caps, int n_total, const int *slot,
                    const jx_type *types);

/* A value handle for node id of t. */
jx_val trace_val(jx_trace *t, int32_t id);

#endif
