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

/* Makes every branch take the union of the values the branches captured (closure
 * capture, trace.h): fns[k] is lifted to take them after its n declared inputs, and
 * they are appended to ops[first..). Returns the new operand count, or -1 with the
 * error recorded on t. */
static int ctla_close_branches(jx_loc loc, jx_trace *t, int n_br, jx_fn **fns,
                               const trace_caps *caps, jx_val *ops, int first) {
    int n_all = 0, slot[JX_MAX_FNS][JX_MAX_OPERANDS];
    for (int k = 0; k < n_br; k++)
        for (int c = 0; c < caps[k].n; c++) {
            int i = 0;
            while (i < n_all && ops[first + i].id != caps[k].outer[c].id) i++;
            if (i == n_all && first + n_all >= JX_MAX_OPERANDS)
                return trace_fail(t, loc, "cond", "more than %d operands with the values the "
                                  "branches use from the enclosing trace", JX_MAX_OPERANDS).id;
            if (i == n_all) ops[first + n_all++] = caps[k].outer[c];
            slot[k][c] = i;
        }
    jx_type types[JX_MAX_OPERANDS];
    for (int i = 0; i < n_all; i++) types[i] = jx_val_type(ops[first + i]);
    for (int k = 0; k < n_br && n_all; k++) {
        jx_fn *g = capture_lift(fns[k], &caps[k], n_all, slot[k], types);
        if (!g) return trace_fail(t, loc, "cond", "%s", jx_error()).id;
        jx_fn_free(fns[k]);
        fns[k] = g;
    }
    return first + n_all;
}

/* Traces the n_br branches on the operand types (ops[1..n_in]) and emits the cond node on
 * ops (ops[0] the i32[] index, room for JX_MAX_OPERANDS), with the values the branches
 * capture as extra operands. 0 or -1. */
static int ctla_emit(jx_loc loc, jx_trace *t, int n_br, const jx_trace_cb *branches,
                     void *user, int n_in, jx_val *ops, const jx_type *types, int n_out,
                     jx_val *outs) {
    jx_fn *fns[JX_MAX_FNS] = {0};
    trace_caps caps[JX_MAX_FNS];
    int rc = 0, nops = n_in + 1;
    for (int k = 0; k < n_br && rc == 0; k++) {
        char what[32];
        snprintf(what, sizeof what, "branch %d", k);
        fns[k] = cua_trace_sub(loc, t, "cond", what, branches[k], n_in, types + 1, n_out, user,
                               &caps[k]);
        if (!fns[k]) rc = -1;
    }
    if (rc == 0 && (nops = ctla_close_branches(loc, t, n_br, fns, caps, ops, n_in + 1)) < 0)
        rc = -1;
    if (rc == 0) {
        jx_attrs at = ir_attrs(NULL, NULL, NULL, NULL);
        at.n_fns = n_br;
        at.fns = (const jx_fn *const *)fns;
        int k = trace_emit_multi(loc, t, JX_OP_COND, nops, ops, &at, n_out, outs);
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
    cua_unify(n_in + 1, ops);
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
    if (dt != JX_I32) ops[0] = jx_convert_at(loc, ops[0], JX_I32), types[0].dtype = JX_I32;
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
    cua_unify(n, ops);
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

/* The scan body fn (inputs carry[nc], x[nx], then the placeholders of the values it
 * captured, caps) as a body taking the captured values as carries it returns unchanged:
 * (carry, captured, x) -> (carry', captured, y). NULL with jx_error(). */
static jx_fn *ctla_scan_close(const jx_fn *fn, const trace_caps *caps, int nc, int nx) {
    jx_type ct[JX_MAX_OPERANDS];
    for (int k = 0; k < caps->n; k++) ct[k] = jx_val_type(caps->outer[k]);
    jx_fn *lifted = capture_lift(fn, caps, caps->n, NULL, ct), *g = NULL;
    int n = nc + caps->n + nx, no = fn->n_out;
    jx_type in[JX_MAX_OPERANDS];
    jx_val args[JX_MAX_OPERANDS], outs[2 * JX_MAX_RESULTS], res[2 * JX_MAX_RESULTS];
    jx_trace *t = NULL;
    if (lifted && n <= JX_MAX_OPERANDS && no + caps->n <= JX_MAX_RESULTS) {
        for (int k = 0; k < n; k++) /* lifted's inputs are (carry, x, captured) */
            in[k] = lifted->nodes[k < nc ? k : k < nc + caps->n ? k + nx : k - caps->n].type;
        t = jx_trace_begin(n, in);
    } else if (lifted) {
        util_err("more than %d operands or %d results with the captured values",
                 JX_MAX_OPERANDS, JX_MAX_RESULTS);
    }
    if (t) {
        for (int k = 0; k < n; k++)
            args[k < nc ? k : k < nc + caps->n ? k + nx : k - caps->n] = jx_trace_input(t, k);
        if (jx_call_at((jx_loc){"scan", 0}, lifted, args, outs) < 0)
            for (int j = 0; j < no; j++) outs[j] = (jx_val){t, -1};
        int q = 0;
        for (int j = 0; j < nc; j++) res[q++] = outs[j];
        for (int k = 0; k < caps->n; k++) res[q++] = jx_trace_input(t, nc + k);
        for (int j = nc; j < no; j++) res[q++] = outs[j];
        g = jx_trace_end(t, q, res);
    }
    jx_fn_free(lifted);
    return g;
}

/* See jx.h. A value of the enclosing trace that the body uses rides through the scan as
 * a carry the body returns unchanged (JAX passes such consts as operands). */
int jx_scan_at(jx_loc loc, jx_trace_cb body, void *user, int n_carry, const jx_val *init,
               int n_x, const jx_val *xs, int64_t length, int reverse, int n_y,
               jx_val *carry_out, jx_val *ys) {
    jx_val ops[JX_MAX_OPERANDS], res, r[JX_MAX_RESULTS];
    jx_type types[JX_MAX_OPERANDS];
    jx_trace *t = NULL;
    trace_caps caps;
    int n_out = n_carry + n_y, rc = -1;
    if (ctla_scan_args(loc, n_carry, init, n_x, xs, &length, n_out, &t, ops, types, &res) < 0)
        t = res.t;
    else if ((n_carry && !carry_out) || (n_y && !ys))
        trace_fail(t, loc, "scan", "NULL %s", n_carry && !carry_out ? "carry_out" : "ys");
    else {
        jx_fn *fn = cua_trace_sub(loc, t, "scan", "body", body, n_carry + n_x, types, n_out,
                                  user, &caps);
        if (fn && caps.n) {
            jx_fn *g = ctla_scan_close(fn, &caps, n_carry, n_x);
            jx_fn_free(fn);
            if (!(fn = g)) trace_fail(t, loc, "scan", "%s", jx_error());
            for (int k = n_carry + n_x - 1; fn && k >= n_carry; k--) ops[k + caps.n] = ops[k];
            for (int k = 0; fn && k < caps.n; k++) ops[n_carry + k] = caps.outer[k];
        }
        if (fn) {
            int nc = n_carry + caps.n;
            jx_ints L = {1, {length}}, C = {1, {nc}}, R = {1, {reverse != 0}};
            jx_attrs at = ir_attrs(&L, &C, &R, NULL);
            at.n_fns = 1;
            at.fns = (const jx_fn *const *)&fn;
            rc = trace_emit_multi(loc, t, JX_OP_SCAN, nc + n_x, ops, &at, JX_MAX_RESULTS, r) ==
                         n_out + caps.n ? 0 : -1;
            for (int j = 0; rc == 0 && j < n_y; j++) r[n_carry + j] = r[nc + j];
            jx_fn_free(fn);
        }
    }
    for (int j = 0; j < n_carry && carry_out; j++) carry_out[j] = rc ? (jx_val){t, -1} : r[j];
    for (int j = 0; j < n_y && ys; j++) ys[j] = rc ? (jx_val){t, -1} : r[n_carry + j];
    return rc;
}
