/* The interface between the transformation drivers (grad.c, jvp.c, vmap.c, each a set of
 * hooks for the graph-replay driver in replay.c) and the per-family rules in src/prims/.
 * Rules emit ordinary primitives into the driver's trace (through trace_emit or the public
 * jx_*_at ops, passing n->loc so every emitted node carries the user's source line), so
 * transformed functions are ordinary jx_fns and transformations compose: grad(grad(f)),
 * vmap(grad(f)), jvp(grad(f)).
 *
 * Rule contracts (fields of jx_family, see prim.h):
 *
 *  vjp(t, n, x, y, ct, ct_in): reverse mode. x[k] are n's operands and y its output, as
 *    values of t; ct is the cotangent of y (never a symbolic zero, same type as y). Set
 *    ct_in[k] to the cotangent of operand k (same type as x[k]) or TX_ZERO when it has
 *    none (integer operands; positions with zero derivative). The driver pre-fills ct_in
 *    with TX_ZERO and ignores cotangents of operands that do not need one.
 *
 *  jvp(t, n, x, y, dx, dy): forward mode. dx[k] is the tangent of x[k] or TX_ZERO
 *    (at least one is not); set *dy to y's tangent or TX_ZERO.
 *
 *  batch(t, n, x, bd, bsize, y, ybd): vmap. x[k] carries a batch axis of size bsize at
 *    position bd[k], or bd[k] == TX_NOBATCH (at least one is batched). Emit the batched
 *    op; set *y and its batch axis *ybd (TX_NOBATCH if the result is not batched).
 *    Produce the efficient form: a batch axis moves into a free dim of dot_general when
 *    only one operand carries it (one GEMM, not B matvecs).
 *
 *  Multi-result nodes (JXF_MULTI, ir.h): the drivers visit such a node and its run of
 *  gets as one unit (replay.h) and call the family's multi rules instead; the gets just
 *  name the rule's results. A rule emits whole multi-result nodes with trace_emit_multi,
 *  never a lone get. k is the node's result count (the family's `results`):
 *
 *  jvp_multi(t, n, x, dx, ys, dys): dx as for jvp (operand tangents, TX_ZERO allowed, at
 *    least one not). Emit the primal results into ys[0..k) (the node is not re-emitted
 *    by the driver: a rule may compute primal and tangent in one node) and the tangents
 *    into dys[0..k), pre-filled with TX_ZERO; the driver drops tangents of non-float
 *    results.
 *
 *  vjp_multi(t, n, x, ys, cts, ct_in): ys[0..k) are the forward results; cts[j] the
 *    cotangent of result j or TX_ZERO (non-float results: always TX_ZERO; at least one
 *    is not). Set ct_in as for vjp; on entry ct_in[k] is TX_SKIP for operands that need
 *    no cotangent (the rule need not compute theirs; the driver ignores what it sets)
 *    and TX_ZERO for the others.
 *
 *  batch_multi(t, n, x, bd, bsize, ys, ybds): bd as for batch (at least one operand
 *    batched). Emit the batched computation; set ys[0..k) and their batch axes ybds.
 *
 *  All return 0, or -1 after recording an error with trace_fail naming the op.
 */
#ifndef JX_TRANSFORM_H
#define JX_TRANSFORM_H

#include "core/trace.h"

/* Declares a family's three rules prefix_vjp, prefix_jvp and prefix_batch (for families
 * whose rules live in a second file, like elementwise_tx.c). */
#define TX_RULES_DECL(prefix)                                                              \
    int prefix##_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,  \
                     jx_val *ct_in);                                                       \
    int prefix##_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y,             \
                     const jx_val *dx, jx_val *dy);                                        \
    int prefix##_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,      \
                       int64_t bsize, jx_val *y, int *ybd)

/* A symbolic zero (cotangent or tangent): never emitted, never an operand. */
#define TX_ZERO ((jx_val){NULL, -2})
#define TX_NOBATCH (-1)

/* 1 if v is the symbolic zero. */
static inline int tx_is_zero(jx_val v) { return v.t == NULL && v.id == -2; }
/* In vjp_multi's ct_in on entry: the operand needs no cotangent. */
#define TX_SKIP ((jx_val){NULL, -3})
static inline int tx_is_skip(jx_val v) { return v.t == NULL && v.id == -3; }

/* a + b where either may be TX_ZERO (returns the other). */
jx_val tx_add(jx_loc loc, jx_val a, jx_val b);
/* Materializes a zero of type ty in t (for outputs). */
jx_val tx_zeros(jx_loc loc, jx_trace *t, const jx_type *ty);
/* Emits op with n's location. */
jx_val tx_emit(jx_trace *t, const jx_node *n, jx_op op, int nin, const jx_val *in,
               const jx_attrs *at, const jx_type *hint);
/* Re-emits node n unchanged on new operands (same op, attrs, hint = n's type). */
jx_val tx_replay(jx_trace *t, const jx_node *n, const jx_val *in);
/* Ends a transformation's trace with its outputs and returns the simplified function
 * (NULL with jx_error set if tracing failed). Consumes t. */
jx_fn *tx_finish(jx_trace *t, int n_out, const jx_val *outs);
/* A function g with fn's inputs permuted and a selection of its outputs: g's input p is
 * fn's input in_idx[p] (in_idx a permutation of fn's inputs; NULL: the same order), g's
 * outputs are fn's outputs idx[0..n), simplified (what only the others needed is gone).
 * NULL with jx_error(). */
jx_fn *tx_rewire(const jx_fn *fn, const int *in_idx, int n, const int *idx);
/* dep[i] (f->n_nodes entries) = 1 if node i of f depends on an input i with in_mask[i] set
 * (in_mask: f->n_in entries; dep may be in_mask itself). With diff_only, only through
 * what carries a derivative: float inputs and nodes (or multi-result nodes), not through
 * JXF_NOGRAD primitives or stop_gradient (the nodes jvp/grad give a tangent). */
void tx_deps(const jx_fn *f, const unsigned char *in_mask, int diff_only, unsigned char *dep);
/* 1 if dt is a float dtype. */
int tx_is_float(jx_dtype dt);

/* Batching helpers. Moves axis `from` of x to position `to` (a transpose, or x itself). */
jx_val tx_moveaxis(jx_loc loc, jx_val x, int from, int to);
/* x with its batch axis at position 0: moved there if batched at bd, broadcast to a new
 * leading axis of size bsize if bd == TX_NOBATCH. */
jx_val tx_batch_front(jx_loc loc, jx_val x, int bd, int64_t bsize);
/* Reduces ct (type of a broadcast result) back to x's type: sums the dims that
 * broadcast_in_dim(shape, dims) created or stretched. */
jx_val tx_unbroadcast(jx_loc loc, jx_val ct, const jx_type *xt, jx_ints dims);

#endif
