/* Internal interface of the dynamic slicing family between dynslice.c (the table, shape
 * rules, interpreter, lowering and constructors) and dynslice_tx.c (vjp, jvp, batch).
 * The emitters are also for rule code elsewhere that wants the primitive's own clamping
 * semantics without the constructors' JAX-style wrapping of negative starts (a scan's
 * lowering reading xs[i] and writing ys[i], say). */
#ifndef JX_PRIMS_DYNSLICE_H
#define JX_PRIMS_DYNSLICE_H

#include "transform/transform.h"

/* Emits dynamic_slice[slice_sizes=sizes] x s[0..r) at loc (t may be NULL: taken from the
 * operands). Starts are used as they are (clamped by the primitive, never wrapped). */
jx_val dyn_slice_emit(jx_loc loc, jx_trace *t, jx_val x, int r, const jx_val *s, jx_ints sizes);
/* Emits dynamic_update_slice x u s[0..r) at loc, starts used as they are. */
jx_val dyn_update_emit(jx_loc loc, jx_trace *t, jx_val x, jx_val u, int r, const jx_val *s);

/* The transformation rules (dynslice_tx.c). */
TX_RULES_DECL(dyn);

#endif
