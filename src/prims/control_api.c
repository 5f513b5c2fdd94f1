/* The public control-flow constructors (jx.h): jx_switch and jx_cond trace the user's
 * branch callbacks on the operands' types and emit one cond node with its results (the
 * rules are in control.c). Errors are recorded on the operands' trace with the op's name
 * and the caller's line, and every output is poison. */
#include <stdio.h>
#include <stdlib.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/callargs.h"
#include "prims/control.h"

/* Sets outs[0..n_out) to poison of t. Returns -1. */
static int ctla_poison(jx_trace *t, int n_out, jx_val *outs) {
    for (int j = 0; outs && j < n_out; j++) outs[j] = (jx_val){t, -1};
    return -1;
}

/* Traces the n_br branches on the operand types (ops[1..n_in]) and emits the cond node on
 * ops (ops[0] the i32[] index). 0 or -1. */
static int ctla_emit(jx_loc loc, jx_trace *t, int n_br, const jx_trace_cb *branches,
                     void *user, int n_in, const jx_val *ops, const jx_type *types, int n_out,
                     jx_val *outs) {
    jx_fn *fns[JX_MAX_FNS] = {0};
    int rc = 0;
    for (int k = 0; k < n_br && rc == 0; k++) {
        char what[32];
        snprintf(what, sizeof what, "branch %d", k);
        fns[k] = cua_trace(loc, t, "cond", what, branches[k], n_in, types + 1, n_out, user);
        if (!fns[k]) rc = -1;
    }
    if (rc == 0) {
        jx_attrs at = ir_attrs(NULL, NULL, NULL, NULL);
        at.n_fns = n_br;
        at.fns = (const jx_fn *const *)fns;
        int k = trace_emit_multi(loc, t, JX_OP_COND, n_in + 1, ops, &at, n_out, outs);
        if (k >= 0 && k != n_out) /* the branches were traced with n_out outputs */
            rc = trace_fail(t, loc, "cond", "%d results, expected %d", k, n_out).id;
        else if (k < 0)
            rc = -1;
    }
    for (int k = 0; k < n_br; k++) jx_fn_free(fns[k]);
    return rc < 0 ? ctla_poison(t, n_out, outs) : 0;
}

/* See jx.h. */
int jx_switch_at(jx_loc loc, jx_val index, int n_branches, const jx_trace_cb *branches,
                 void *user, int n_in, const jx_val *args, int n_out, jx_val *outs) {
    jx_val ops[JX_MAX_OPERANDS], res;
    jx_type types[JX_MAX_OPERANDS];
    jx_trace *t = NULL;
    if (!outs || n_out < 1 || n_out > JX_MAX_RESULTS || n_in < 0 ||
        n_in >= JX_MAX_OPERANDS || (n_in > 0 && !args)) {
        trace_fail(trace_of(1, &index), loc, "cond",
                   "bad arguments (%d operands%s, %d outputs%s; 1 to %d outputs allowed)", n_in,
                   n_in > 0 && !args ? " in a NULL array" : "", n_out, outs ? "" : " into NULL",
                   JX_MAX_RESULTS);
        return ctla_poison(trace_of(1, &index), outs ? n_out : 0, outs);
    }
    ops[0] = index;
    for (int k = 0; k < n_in; k++) ops[k + 1] = args[k];
    if (cua_operands(loc, "cond", n_in + 1, ops, &t, types, &res) < 0)
        return ctla_poison(res.t, n_out, outs);
    if (n_branches < 1 || n_branches > JX_MAX_FNS || !branches) {
        trace_fail(t, loc, "cond", "%d branches%s (1 to %d allowed)", n_branches,
                   branches ? "" : " in a NULL array", JX_MAX_FNS);
        return ctla_poison(t, n_out, outs);
    }
    jx_dtype dt = types[0].dtype;
    if (types[0].rank != 0 || dt == JX_F32 || dt == JX_F64) {
        char ts[160];
        trace_fail(t, loc, "cond", "the index must be an integer or bool scalar, got %s",
                   jx_type_str(&types[0], ts, sizeof ts));
        return ctla_poison(t, n_out, outs);
    }
    if (dt != JX_I32) ops[0] = jx_convert_at(loc, index, JX_I32), types[0].dtype = JX_I32;
    return ctla_emit(loc, t, n_branches, branches, user, n_in, ops, types, n_out, outs);
}

/* See jx.h. */
int jx_cond_at(jx_loc loc, jx_val pred, jx_trace_cb true_fn, jx_trace_cb false_fn, void *user,
               int n_in, const jx_val *args, int n_out, jx_val *outs) {
    jx_trace_cb br[2] = {false_fn, true_fn};
    jx_type pt = jx_val_type(pred);
    jx_val index = pred;
    if (!jx_val_bad(pred) && pt.rank == 0 && pt.dtype != JX_BOOL && pt.dtype != JX_F32 &&
        pt.dtype != JX_F64)
        index = jx_ne_at(loc, pred, jx_lit_at(loc, pred, 0)); /* nonzero: true, as lax.cond */
    return jx_switch_at(loc, index, 2, br, user, n_in, args, n_out, outs);
}

/* Checks scan's counts and fills ops (init then xs) and the body's input types; sets
 * *len from the xs when it is -1. 0, or -1 with the error recorded (poison in *res). */
static int ctla_scan_args(jx_loc loc, int n_carry, const jx_val *init, int n_x,
                          const jx_val *xs, int64_t *len, int n_out, jx_trace **t, jx_val *ops,
                          jx_type *types, jx_val *res) {
    int n = n_carry + n_x;
    if (n_carry < 0 || n_x < 0 || n < 1 || n > JX_MAX_OPERANDS || (n_carry && !init) ||
        (n_x && !xs) || n_out < 1 || n_out > JX_MAX_RESULTS) {
        *res = trace_fail(n_carry > 0 && init ? trace_of(1, init) : n_x > 0 && xs ? trace_of(1, xs)
                                                                                  : NULL,
                          loc, "scan", "bad arguments (%d carry values, %d xs, %d outputs; "
                          "1 to %d operands and outputs)", n_carry, n_x, n_out,
                          JX_MAX_OPERANDS);
        return -1;
    }
    for (int k = 0; k < n; k++) ops[k] = k < n_carry ? init[k] : xs[k - n_carry];
    if (cua_operands(loc, "scan", n, ops, t, types, res) < 0) return -1;
    if (*len < 0 && n_x > 0 && types[n_carry].rank > 0) *len = types[n_carry].shape[0];
    if (*len < 0) {
        *res = trace_fail(*t, loc, "scan", "no length: give one, or xs with a leading axis");
        return -1;
    }
    for (int k = n_carry; k < n; k++) {
        if (types[k].rank < 1 || types[k].shape[0] != *len) {
            char ts[160];
            *res = trace_fail(*t, loc, "scan", "xs %d is %s, expected a leading axis of length "
                              "%lld", k - n_carry, jx_type_str(&types[k], ts, sizeof ts),
                              (long long)*len);
            return -1;
        }
        types[k] = ctl_unstack(types[k]);
    }
    return 0;
}

/* See jx.h. */
int jx_scan_at(jx_loc loc, jx_trace_cb body, void *user, int n_carry, const jx_val *init,
               int n_x, const jx_val *xs, int64_t length, int reverse, int n_y,
               jx_val *carry_out, jx_val *ys) {
    jx_val ops[JX_MAX_OPERANDS], res, r[JX_MAX_RESULTS];
    jx_type types[JX_MAX_OPERANDS];
    jx_trace *t = NULL;
    int n_out = n_carry + n_y, rc = -1;
    if (ctla_scan_args(loc, n_carry, init, n_x, xs, &length, n_out, &t, ops, types, &res) < 0)
        t = res.t;
    else if ((n_carry && !carry_out) || (n_y && !ys))
        trace_fail(t, loc, "scan", "NULL %s", n_carry && !carry_out ? "carry_out" : "ys");
    else {
        jx_fn *fn = cua_trace(loc, t, "scan", "body", body, n_carry + n_x, types, n_out, user);
        if (fn) {
            jx_ints L = {1, {length}}, C = {1, {n_carry}}, R = {1, {reverse != 0}};
            jx_attrs at = ir_attrs(&L, &C, &R, NULL);
            at.n_fns = 1;
            at.fns = (const jx_fn *const *)&fn;
            rc = trace_emit_multi(loc, t, JX_OP_SCAN, n_carry + n_x, ops, &at, n_out, r) ==
                         n_out ? 0 : -1;
            jx_fn_free(fn);
        }
    }
    for (int j = 0; j < n_carry && carry_out; j++) carry_out[j] = rc ? (jx_val){t, -1} : r[j];
    for (int j = 0; j < n_y && ys; j++) ys[j] = rc ? (jx_val){t, -1} : r[n_carry + j];
    return rc;
}
