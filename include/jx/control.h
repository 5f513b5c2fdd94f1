/* jx control flow (lax.switch, lax.cond, lax.scan), custom derivatives (jax.custom_jvp,
 * jax.custom_vjp) and rematerialization (jax.checkpoint): constructors that trace user
 * callbacks into sub-functions of one node.
 * Included by <jx.h>. */
#ifndef JX_CONTROL_H
#define JX_CONTROL_H

#ifndef JX_H
#error "include <jx.h>, which includes this header"
#endif

/* ---- control flow (lax.switch, lax.cond, lax.scan, lax.while_loop, lax.fori_loop) --------------
 * jx_switch is lax.switch(index, branches, *args): branches[index](args...) with index
 * (an integer or bool scalar, converted to i32) clamped to [0, n_branches), as one cond
 * node whose results are outs[0..n_out). Each branch is a callback traced like jx_trace
 * on the args' types with n_out outputs (user passed through); every branch must give
 * the same output types. jx_cond is lax.cond(pred, true_fn, false_fn, *args): pred a
 * bool or integer scalar (nonzero is true). At most JX_MAX_FNS (8) branches, n_in < 64
 * operands and 1 to 64 outputs. Errors (a branch that fails to trace or differs in its
 * output types, a float index, bad counts) are recorded on the args' trace with the
 * caller's line, and every output is poison. Each returns 0 or -1.
 * The interpreter and jx_jit run cond and scan (the JIT compiles each branch and the scan
 * body once, as functions called from a switch or a loop). cond has every transformation (jvp; vjp/grad, whose backward
 * branch recomputes the taken branch's forward pass; vmap, where a batched index runs
 * every branch and selects per example); so has scan: jvp (a scan of the body's jvp),
 * vjp/grad (a forward scan that also stacks the residuals, the values of each step that
 * the body's vjp reads, then a reverse scan of the body's vjp from them; loop-invariant
 * carries such as captured values are carried, not stacked; when the residuals exceed a
 * scan's 64 operands, the backward body recomputes the forward pass from the stacked
 * carry instead) and vmap (a scan of the vmapped body; a carry is batched when its init
 * is or the body makes it depend on a batched value; the ys come out batched along axis
 * 1). */
int jx_switch_at(jx_loc loc, jx_val index, int n_branches, const jx_trace_cb *branches,
                 void *user, int n_in, const jx_val *args, int n_out, jx_val *outs);
int jx_cond_at(jx_loc loc, jx_val pred, jx_trace_cb true_fn, jx_trace_cb false_fn, void *user,
               int n_in, const jx_val *args, int n_out, jx_val *outs);
/* jx_scan is lax.scan(body, init, xs, length, reverse): body, traced like jx_trace on
 * (carry..., x slices...) -> (carry..., y...) (n_carry + n_x inputs, n_carry + n_y
 * outputs; the carry keeps its types), runs over the leading axis of the xs (each of
 * length `length`; -1 takes it from the xs), backwards when reverse (the ys still line up
 * with the xs). carry_out[0..n_carry) get the final carry and ys[0..n_y) the ys stacked
 * along a new leading axis. One scan node: the body is traced once, not unrolled. Errors
 * as jx_switch's. 0 or -1. */
int jx_scan_at(jx_loc loc, jx_trace_cb body, void *user, int n_carry, const jx_val *init,
               int n_x, const jx_val *xs, int64_t length, int reverse, int n_y,
               jx_val *carry_out, jx_val *ys);
/* jx_while_loop is lax.while_loop(cond_fn, body_fn, init): cond_fn (carry...) -> bool[]
 * and body_fn (carry...) -> (carry...), traced like jx_trace on the carry's types
 * (n_carry inputs; 1 output for cond_fn, n_carry of the carry's own types for body_fn;
 * user passed through), as one while node; carry_out[0..n_carry) get the carry once
 * cond_fn is false (init itself when it is false at once). n_carry from 1 to 64.
 * jx_fori_loop is lax.fori_loop(lower, upper, body_fn, init): body_fn (i, carry...) ->
 * (carry...) for i = lower, ..., upper - 1 (i32[]; none when upper <= lower); lower and
 * upper are i32[] values of the carry's trace. When both are constants (jx_scalar), the
 * loop is a scan of upper - lower steps, as in JAX (so grad works); otherwise a while
 * over (i, upper, carry...). n_carry from 1 to 62. jvp and vmap (a batched predicate runs
 * until every example's is false, each example keeping its carry once its own is) work
 * on both; grad/vjp of a while is an error naming the loop's line (the trip count is
 * not known; use scan or fori_loop with constant bounds), as in JAX. Errors (a cond_fn
 * not returning bool[], a body_fn changing the carry's types, bad counts or bounds) are
 * recorded on the carry's trace with the caller's line, and every output is poison.
 * Values of the enclosing trace that the callbacks use are captured (ride through the
 * loop as carry values the body returns unchanged). Only the interpreter runs a while
 * so far (the JIT reports no lowering). Each returns 0 or -1. */
int jx_while_loop_at(jx_loc loc, jx_trace_cb cond_fn, jx_trace_cb body_fn, void *user,
                     int n_carry, const jx_val *init, jx_val *carry_out);
int jx_fori_loop_at(jx_loc loc, jx_val lower, jx_val upper, jx_trace_cb body_fn, void *user,
                    int n_carry, const jx_val *init, jx_val *carry_out);
#define jx_while_loop(...) jx_while_loop_at(JX_HERE, __VA_ARGS__)
#define jx_fori_loop(...) jx_fori_loop_at(JX_HERE, __VA_ARGS__)
#define jx_scan(...) jx_scan_at(JX_HERE, __VA_ARGS__)
#define jx_switch(...) jx_switch_at(JX_HERE, __VA_ARGS__)
#define jx_cond(...) jx_cond_at(JX_HERE, __VA_ARGS__)

/* ---- custom derivatives (jax.custom_jvp, jax.custom_vjp) ---------------------------- */

/* y = f(args) with a derivative rule of the user's, as one custom_jvp or custom_vjp node
 * in args' trace (one output; n_in from 1 to 64 traced operands). The rules are traced
 * like jx_trace callbacks on the operands' types (user passed through); they take
 * everything as inputs: a value of the surrounding trace used inside a rule is an error.
 * Every transformation respects the rule and they compose (grad of grad, vmap of grad,
 * jvp of grad); the JIT and the interpreter compute y with f (the inline-custom pass).
 *
 * custom_jvp: jvp(x[0..n_in), dx[0..n_in)) -> (y, dy), dx of x's types; dy must be
 *   linear in dx. jvp uses it directly; grad transposes dx -> dy (so only linear ops of
 *   dx may appear in dy, as in JAX).
 * custom_vjp: fwd(x...) -> (y, res[0..n_res)); bwd(res..., ct) -> (ct_x[0..n_in)), each
 *   ct_x[k] of x[k]'s type (ignored for integer operands). grad and vmap use them; jvp
 *   and jacfwd of a custom_vjp function are errors, as in JAX. (hessian = jacfwd(jacrev)
 *   works: jacrev leaves bwd's ops, which jacfwd differentiates like any others.)
 *
 * Errors (bad operands, a rule that fails to trace or returns the wrong count or types:
 * "custom_jvp: rule 'jvp' maps (f32[3], f32[3]) -> (f32[3]), expected ...") are recorded
 * on args' trace with the caller's line; the result is then poison. The _fn forms take
 * functions already traced (their references are kept; the caller still frees them). */
jx_val jx_custom_jvp_at(jx_loc loc, jx_trace_cb f, jx_trace_cb jvp, int n_in,
                        const jx_val *args, void *user);
jx_val jx_custom_vjp_at(jx_loc loc, jx_trace_cb f, jx_trace_cb fwd, jx_trace_cb bwd,
                        int n_res, int n_in, const jx_val *args, void *user);
jx_val jx_custom_jvp_fn_at(jx_loc loc, const jx_fn *f, const jx_fn *jvp, int n_in,
                           const jx_val *args);
jx_val jx_custom_vjp_fn_at(jx_loc loc, const jx_fn *f, const jx_fn *fwd, const jx_fn *bwd,
                           int n_in, const jx_val *args);
#define jx_custom_jvp(...) jx_custom_jvp_at(JX_HERE, __VA_ARGS__)
#define jx_custom_vjp(...) jx_custom_vjp_at(JX_HERE, __VA_ARGS__)
#define jx_custom_jvp_fn(...) jx_custom_jvp_fn_at(JX_HERE, __VA_ARGS__)
#define jx_custom_vjp_fn(...) jx_custom_vjp_fn_at(JX_HERE, __VA_ARGS__)

/* ---- rematerialization (jax.checkpoint) --------------------------------------------- */

/* outs[0..n_out) = f(args[0..n_in)) (f traced like a jx_trace callback on the arguments'
 * types, user passed through), as checkpoint nodes in the arguments' trace: under grad,
 * f's intermediates are not stored for the backward pass but recomputed there from the
 * arguments, which are all a checkpoint keeps (jax.checkpoint with prevent_cse=True: the
 * recomputation reads the arguments through optimization_barrier, so cse cannot merge
 * it back into the forward pass). Values are those of f; gradients are those of f, bit
 * for bit. jvp, vmap and grad of grad compose; jx_fn_cb checkpoints a traced function.
 * Several outputs give one checkpoint node per output, each holding the part of f that
 * output needs: the forward pass computes shared parts once (cse), but under grad each
 * output's backward pass runs on its own, so shared work is differentiated once per
 * output with a nonzero cotangent (split f instead when that matters).
 * Errors (NULL f, args or outs, counts outside [1, 64], bad or foreign arguments, f
 * failing to trace) are recorded on the arguments' trace as "checkpoint: ..." at the
 * caller's line; every output is then poison. Returns 0 or -1. */
int jx_checkpoint_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, const jx_val *args,
                     int n_out, jx_val *outs);
#define jx_checkpoint(...) jx_checkpoint_at(JX_HERE, __VA_ARGS__)

#endif
