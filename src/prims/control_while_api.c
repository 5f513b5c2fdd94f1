/* The public loop constructors (jx/control.h): jx_while_loop traces the user's cond and
 * body callbacks on the carry's types and emits one while node (control_while.c);
 * jx_fori_loop is a while over (i, upper, carry...), or, when both bounds are constants,
 * a scan of upper - lower steps over (i, carry...) as JAX does (so grad works). Errors are
 * recorded on the carry's trace with the op's name and the caller's line, and every
 * output is poison. */
#include <stdio.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/callargs.h"
#include "prims/control_while.h"

/* Sets outs[0..n) to poison of t (none when outs is NULL). Returns -1. */
static int cwa_poison(jx_trace *t, int n, jx_val *outs) {
    for (int j = 0; outs && j < n; j++) outs[j] = (jx_val){t, -1};
    return -1;
}

/* Checks op's carry counts and arrays (1 to max values, init and carry_out not NULL),
 * then the operands ops[0..n_ops) (the carry, after fori_loop's bounds; values of an
 * enclosing trace captured into the innermost one) and fills their types. 0 with *t
 * set, or -1 with the error recorded (or passed on from a poison value) and *t the trace
 * to poison outputs of. */
static int cwa_args(jx_loc loc, const char *op, int n, const jx_val *init,
                    const jx_val *carry_out, int max, int n_ops, jx_val *ops, jx_trace **t,
                    jx_type *types) {
    jx_val res;
    *t = n > 0 && n <= max && init ? trace_innermost(n_ops, ops) : NULL;
    if (n < 1 || n > max || !init || !carry_out) {
        trace_fail(*t, loc, op, "bad arguments (%d carry values%s%s; 1 to %d allowed)", n,
                   init ? "" : " in a NULL init", carry_out ? "" : ", NULL carry_out", max);
        return -1;
    }
    cua_unify(n_ops, ops);
    if (cua_operands(loc, op, n_ops, ops, t, types, &res) < 0) {
        *t = res.t;
        return -1;
    }
    return 0;
}

/* Traces body (n_in inputs of types in, closing over values of t into *caps) and checks
 * that it returns the carry's types (the n_out types out). NULL after recording the
 * error on t. */
static jx_fn *cwa_body(jx_loc loc, jx_trace *t, const char *op, jx_trace_cb body, void *user,
                       int n_in, const jx_type *in, int n_out, const jx_type *out,
                       trace_caps *caps) {
    jx_fn *g = cua_trace_sub(loc, t, op, "body_fn", body, n_in, in, n_out, user, caps);
    int ok = g != NULL;
    jx_type got[JX_MAX_OPERANDS];
    for (int j = 0; ok && j < n_out; j++) got[j] = jx_fn_out_type(g, j);
    for (int j = 0; ok && j < n_out; j++) ok = jx_type_eq(&got[j], &out[j]);
    if (g && !ok) {
        char w[400], h[400];
        ir_types_str(n_out, out, w, sizeof w);
        ir_types_str(n_out, got, h, sizeof h);
        trace_fail(t, loc, op, "body_fn must return the carry's types (%s), got (%s)", w, h);
        jx_fn_free(g);
        g = NULL;
    }
    return g;
}

/* Traces cond (n inputs of types in, closing over values of t into *caps) and checks
 * that it returns bool[], as lax.while_loop requires. NULL after recording the error on
 * t. */
static jx_fn *cwa_cond(jx_loc loc, jx_trace *t, const char *op, jx_trace_cb cond, void *user,
                       int n, const jx_type *in, trace_caps *caps) {
    jx_fn *g = cua_trace_sub(loc, t, op, "cond_fn", cond, n, in, 1, user, caps);
    jx_type got = g ? jx_fn_out_type(g, 0) : cw_pred_type;
    if (!jx_type_eq(&got, &cw_pred_type)) {
        char ts[160];
        trace_fail(t, loc, op, "cond_fn must return a bool[] scalar, got %s",
                   jx_type_str(&got, ts, sizeof ts));
        jx_fn_free(g);
        g = NULL;
    }
    return g;
}

/* Closure capture (trace.h): appends to ops[n_ops..) the union of the values of t that
 * fns[0..nf) captured (caps) and lifts each fns[k] to take them, in that order, after
 * its declared inputs. Returns their count, or -1 with the error recorded on t. */
static int cwa_close(jx_loc loc, jx_trace *t, const char *op, int nf, jx_fn **fns,
                     const trace_caps *caps, int n_ops, jx_val *ops) {
    int n_all = 0, slot[2][JX_MAX_OPERANDS];
    jx_type types[JX_MAX_OPERANDS];
    for (int k = 0; k < nf; k++)
        for (int c = 0; c < caps[k].n; c++) {
            int i = 0;
            while (i < n_all && ops[n_ops + i].id != caps[k].outer[c].id) i++;
            if (i == n_all && n_ops + n_all >= JX_MAX_OPERANDS) {
                trace_fail(t, loc, op, "more than %d carry values with the values the loop uses "
                           "from the enclosing trace", JX_MAX_OPERANDS);
                return -1;
            }
            if (i == n_all) types[n_all] = jx_val_type(caps[k].outer[c]);
            if (i == n_all) ops[n_ops + n_all++] = caps[k].outer[c];
            slot[k][c] = i;
        }
    for (int k = 0; k < nf && n_all; k++) {
        jx_fn *g = capture_lift(fns[k], &caps[k], n_all, slot[k], types);
        if (!g) {
            trace_fail(t, loc, op, "%s", jx_error());
            return -1;
        }
        jx_fn_free(fns[k]);
        fns[k] = g;
    }
    return n_all;
}

/* fn (inputs (carry..., captured...) from input `first` on) returning its captured
 * inputs unchanged after its own outputs, so they ride through the loop as carry (fn
 * itself when there are none). NULL with jx_error(). */
static jx_fn *cwa_keep(const jx_fn *fn, int first) {
    jx_type in[JX_MAX_OPERANDS];
    jx_val args[JX_MAX_OPERANDS], outs[2 * JX_MAX_OPERANDS];
    if (fn->n_in == first) return ir_fn_retain(fn);
    for (int k = 0; k < fn->n_in; k++) in[k] = fn->nodes[k].type;
    jx_trace *t = jx_trace_begin(fn->n_in, in);
    if (!t) return NULL;
    for (int k = 0; k < fn->n_in; k++) args[k] = jx_trace_input(t, k);
    if (jx_call_at((jx_loc){"while_loop", 0}, fn, args, outs) < 0)
        for (int j = 0; j < fn->n_out; j++) outs[j] = (jx_val){t, -1};
    for (int k = first; k < fn->n_in; k++) outs[fn->n_out + k - first] = args[k];
    return jx_trace_end(t, fn->n_out + fn->n_in - first, outs);
}

/* See jx/control.h. Values of the enclosing trace that cond_fn or body_fn use ride
 * through the loop as carry values the body returns unchanged. */
int jx_while_loop_at(jx_loc loc, jx_trace_cb cond_fn, jx_trace_cb body_fn, void *user,
                     int n_carry, const jx_val *init, jx_val *carry_out) {
    const char *op = "while_loop";
    jx_val ops[JX_MAX_OPERANDS], res[JX_MAX_OPERANDS];
    jx_type ty[JX_MAX_OPERANDS];
    jx_trace *t;
    trace_caps caps[2];
    for (int j = 0; init && j < n_carry && j < JX_MAX_OPERANDS; j++) ops[j] = init[j];
    if (cwa_args(loc, op, n_carry, init, carry_out, JX_MAX_OPERANDS, n_carry, ops, &t, ty) < 0)
        return cwa_poison(t, n_carry, carry_out);
    jx_fn *fns[2] = {cwa_cond(loc, t, op, cond_fn, user, n_carry, ty, &caps[0]), NULL}, *body;
    if (fns[0]) fns[1] = cwa_body(loc, t, op, body_fn, user, n_carry, ty, n_carry, ty, &caps[1]);
    int nk = fns[1] ? cwa_close(loc, t, op, 2, fns, caps, n_carry, ops) : -1, rc = -1;
    if (nk >= 0 && !(body = cwa_keep(fns[1], n_carry)))
        trace_fail(t, loc, op, "%s", jx_error());
    else if (nk >= 0)
        rc = cw_emit(loc, t, fns[0], body, n_carry + nk, ops, res), jx_fn_free(body);
    for (int j = 0; rc == 0 && j < n_carry; j++) carry_out[j] = res[j];
    jx_fn_free(fns[0]), jx_fn_free(fns[1]);
    return rc < 0 ? cwa_poison(t, n_carry, carry_out) : 0;
}

/* fori_loop's scan body, (i, carry..., captured...) -> (i + 1, body(i, carry...,
 * captured...)..., captured...), body the traced user body given as user. */
static void cwa_scan_step(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_fn *body = user;
    int n = body->n_out, nk = body->n_in - 1 - n;
    (void)t;
    out[0] = jx_add(in[0], jx_lit(in[0], 1));
    if (jx_call(body, in, out + 1) < 0)
        for (int j = 0; j < n; j++) out[1 + j] = out[0];
    for (int k = 0; k < nk; k++) out[1 + n + k] = in[1 + n + k];
}

/* fori_loop's while cond, (i, upper, ...) -> i < upper. */
static void cwa_while_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_lt(in[0], in[1]);
}

/* fori_loop's while body, (i, upper, carry..., captured...) -> (i + 1, upper,
 * body(i, carry..., captured...)..., captured...). */
static void cwa_while_step(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_fn *body = user;
    int n = body->n_out, nk = body->n_in - 1 - n;
    jx_val args[JX_MAX_OPERANDS];
    (void)t;
    args[0] = in[0];
    for (int j = 0; j < n + nk; j++) args[1 + j] = in[2 + j];
    out[0] = jx_add(in[0], jx_lit(in[0], 1));
    out[1] = in[1];
    if (jx_call(body, args, out + 2) < 0)
        for (int j = 0; j < n; j++) out[2 + j] = out[0];
    for (int k = 0; k < nk; k++) out[2 + n + k] = in[2 + n + k];
}

/* 1 and *v set if x is a constant scalar node of t (a bound JAX would see as concrete). */
static int cwa_const(const jx_trace *t, jx_val x, int64_t *v) {
    const jx_node *nd = &t->fn->nodes[x.id];
    if (nd->op != JX_OP_CONSTANT || !nd->at.value) return 0;
    *v = (int64_t)jx_array_get(nd->at.value, 0);
    return 1;
}

/* Emits fori_loop's loop on ops (lower, upper, init..., captured...; n_ops of them) with
 * the traced user body (i, carry..., captured...) -> carry..., its final carry into
 * carry_out. 0, or -1 with the error recorded on t. */
static int cwa_fori_emit(jx_loc loc, jx_trace *t, jx_fn *body, int n_ops, const jx_val *ops,
                         jx_val *carry_out) {
    jx_val init[JX_MAX_OPERANDS], res[JX_MAX_OPERANDS];
    jx_type types[JX_MAX_OPERANDS];
    int64_t lo, hi;
    int rc = -1, n = body->n_out;
    if (cwa_const(t, ops[0], &lo) && cwa_const(t, ops[1], &hi)) { /* JAX: a scan */
        init[0] = ops[0];
        for (int j = 2; j < n_ops; j++) init[j - 1] = ops[j];
        rc = jx_scan_at(loc, cwa_scan_step, body, n_ops - 1, init, 0, NULL,
                        hi > lo ? hi - lo : 0, 0, 0, res, NULL);
        for (int j = 0; rc == 0 && j < n; j++) carry_out[j] = res[1 + j];
        return rc;
    }
    for (int k = 0; k < n_ops; k++) types[k] = jx_val_type(ops[k]);
    jx_fn *wc = jx_trace_at(loc, cwa_while_cond, n_ops, types, 1, NULL);
    jx_fn *wb = wc ? jx_trace_at(loc, cwa_while_step, n_ops, types, n_ops, body) : NULL;
    if (!wb) trace_fail(t, loc, "fori_loop", "%s", jx_error());
    else rc = cw_emit(loc, t, wc, wb, n_ops, ops, res);
    for (int j = 0; rc == 0 && j < n; j++) carry_out[j] = res[2 + j];
    jx_fn_free(wc), jx_fn_free(wb);
    return rc;
}

/* See jx/control.h. */
int jx_fori_loop_at(jx_loc loc, jx_val lower, jx_val upper, jx_trace_cb body_fn, void *user,
                    int n_carry, const jx_val *init, jx_val *carry_out) {
    const char *op = "fori_loop";
    jx_val ops[JX_MAX_OPERANDS];
    jx_type types[JX_MAX_OPERANDS], bt[JX_MAX_OPERANDS], i32 = {JX_I32, 0, {0}};
    jx_trace *t;
    trace_caps caps;
    int max = JX_MAX_OPERANDS - 2;
    ops[0] = lower, ops[1] = upper;
    for (int j = 0; init && j < n_carry && j < max; j++) ops[2 + j] = init[j];
    if (cwa_args(loc, op, n_carry, init, carry_out, max, n_carry + 2, ops, &t, types) < 0)
        return cwa_poison(t, n_carry, carry_out);
    if (!jx_type_eq(&types[0], &i32) || !jx_type_eq(&types[1], &i32)) {
        char a[160], b[160];
        trace_fail(t, loc, op, "lower and upper must be i32[] scalars, got %s and %s",
                   jx_type_str(&types[0], a, sizeof a), jx_type_str(&types[1], b, sizeof b));
        return cwa_poison(t, n_carry, carry_out);
    }
    bt[0] = i32; /* the body's inputs: (i, carry...) */
    for (int j = 0; j < n_carry; j++) bt[1 + j] = types[2 + j];
    jx_fn *body = cwa_body(loc, t, op, body_fn, user, n_carry + 1, bt, n_carry, types + 2, &caps);
    int nk = body ? cwa_close(loc, t, op, 1, &body, &caps, n_carry + 2, ops) : -1;
    int rc = nk >= 0 ? cwa_fori_emit(loc, t, body, n_carry + 2 + nk, ops, carry_out) : -1;
    jx_fn_free(body);
    return rc < 0 ? cwa_poison(t, n_carry, carry_out) : 0;
}
