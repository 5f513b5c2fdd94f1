/* The public custom-derivative API (jx.h): jx_custom_jvp / jx_custom_vjp trace the user's
 * function and rules as callbacks on the operands' types and emit one custom node (rules
 * in custom.c); the _fn forms take functions already traced. Every error (bad arguments,
 * a rule that fails to trace, a rule of the wrong signature) is recorded on the operands'
 * trace with the op's name and the caller's line, and the result is poison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "core/util.h"
#include "prims/callargs.h"

/* See callargs.h. */
int cua_operands(jx_loc loc, const char *op, int n_in, const jx_val *args, jx_trace **t,
                        jx_type *types, jx_val *res) {
    *t = NULL;
    if (n_in < 1 || n_in > JX_MAX_OPERANDS || !args) {
        *res = trace_fail(args ? trace_of(n_in > 0 && n_in <= JX_MAX_OPERANDS ? n_in : 0, args)
                               : NULL,
                          loc, op, "bad operand list (%d operands%s; 1 to %d allowed)", n_in,
                          args ? "" : ", NULL array", JX_MAX_OPERANDS);
        return -1;
    }
    for (int k = 0; k < n_in; k++) {
        if (jx_val_bad(args[k])) {
            *res = trace_bad_arg(loc, op, k, args[k]);
            return -1;
        }
    }
    *t = args[0].t;
    for (int k = 0; k < n_in; k++) {
        if (args[k].t != *t) {
            *res = trace_fail(*t, loc, op, "operands 0 and %d belong to different traces", k);
            return -1;
        }
        types[k] = jx_val_type(args[k]);
    }
    return 0;
}

/* See callargs.h. */
jx_fn *cua_trace(jx_loc loc, jx_trace *t, const char *op, const char *what,
                        jx_trace_cb cb, int n_in, const jx_type *in, int n_out, void *user) {
    return cua_trace_sub(loc, t, op, what, cb, n_in, in, n_out, user, NULL);
}

/* See callargs.h (caps NULL: no capture, as cua_trace). */
jx_fn *cua_trace_sub(jx_loc loc, jx_trace *t, const char *op, const char *what, jx_trace_cb cb,
                     int n_in, const jx_type *in, int n_out, void *user, trace_caps *caps) {
    if (!cb) {
        trace_fail(t, loc, op, "NULL '%s' callback", what);
        return NULL;
    }
    jx_fn *g = caps ? trace_sub(loc, t, cb, n_in, in, n_out, user, caps)
                    : jx_trace_at(loc, cb, n_in, in, n_out, user);
    if (!g) {
        char e[800];
        snprintf(e, sizeof e, "%s", jx_error());
        trace_fail(t, loc, op, "tracing '%s': %s", what, e);
    }
    return g;
}

/* See callargs.h. */
void cua_unify(int n, jx_val *ops) {
    jx_trace *t = trace_innermost(n, ops);
    for (int k = 0; k < n && t; k++)
        if (trace_live(ops[k].t) && ops[k].t != t) ops[k] = trace_capture(t, ops[k]);
}

/* Emits the custom node op on args with sub-functions fns[0..nf) (none NULL). */
static jx_val cua_emit(jx_loc loc, jx_trace *t, jx_op op, int n_in, const jx_val *args,
                       int nf, jx_fn *const *fns) {
    jx_attrs at;
    memset(&at, 0, sizeof at);
    at.n_fns = nf;
    at.fns = (const jx_fn *const *)fns;
    return trace_emit(loc, t, op, n_in, args, &at, NULL);
}

/* See jx.h. */
jx_val jx_custom_jvp_fn_at(jx_loc loc, const jx_fn *f, const jx_fn *jvp, int n_in,
                           const jx_val *args) {
    jx_trace *t;
    jx_type types[JX_MAX_OPERANDS];
    jx_val res;
    if (cua_operands(loc, "custom_jvp", n_in, args, &t, types, &res) < 0) return res;
    if (!f || !jvp) return trace_fail(t, loc, "custom_jvp", "NULL %s", f ? "jvp rule" : "function");
    jx_fn *fns[2] = {(jx_fn *)f, (jx_fn *)jvp};
    return cua_emit(loc, t, JX_OP_CUSTOM_JVP, n_in, args, 2, fns);
}

/* See jx.h. */
jx_val jx_custom_vjp_fn_at(jx_loc loc, const jx_fn *f, const jx_fn *fwd, const jx_fn *bwd,
                           int n_in, const jx_val *args) {
    jx_trace *t;
    jx_type types[JX_MAX_OPERANDS];
    jx_val res;
    if (cua_operands(loc, "custom_vjp", n_in, args, &t, types, &res) < 0) return res;
    if (!f || !fwd || !bwd)
        return trace_fail(t, loc, "custom_vjp", "NULL %s", !f ? "function" : !fwd ? "fwd" : "bwd");
    jx_fn *fns[3] = {(jx_fn *)f, (jx_fn *)fwd, (jx_fn *)bwd};
    return cua_emit(loc, t, JX_OP_CUSTOM_VJP, n_in, args, 3, fns);
}

/* See jx.h: f and jvp traced on the operands' types. */
jx_val jx_custom_jvp_at(jx_loc loc, jx_trace_cb f, jx_trace_cb jvp, int n_in,
                        const jx_val *args, void *user) {
    jx_trace *t;
    jx_type types[2 * JX_MAX_OPERANDS];
    jx_val res;
    const char *op = "custom_jvp";
    if (cua_operands(loc, op, n_in, args, &t, types, &res) < 0) return res;
    for (int k = 0; k < n_in; k++) types[n_in + k] = types[k];
    jx_fn *fns[2] = {cua_trace(loc, t, op, "f", f, n_in, types, 1, user), NULL};
    if (fns[0]) fns[1] = cua_trace(loc, t, op, "jvp", jvp, 2 * n_in, types, 2, user);
    res = fns[1] ? cua_emit(loc, t, JX_OP_CUSTOM_JVP, n_in, args, 2, fns) : (jx_val){t, -1};
    jx_fn_free(fns[0]);
    jx_fn_free(fns[1]);
    return res;
}

/* See jx.h: f and fwd traced on the operands' types, bwd on fwd's residual types and y's. */
jx_val jx_custom_vjp_at(jx_loc loc, jx_trace_cb f, jx_trace_cb fwd, jx_trace_cb bwd,
                        int n_res, int n_in, const jx_val *args, void *user) {
    jx_trace *t;
    jx_type types[JX_MAX_OPERANDS], bt[JX_MAX_OPERANDS];
    jx_val res;
    const char *op = "custom_vjp";
    if (cua_operands(loc, op, n_in, args, &t, types, &res) < 0) return res;
    if (n_res < 0 || n_res >= JX_MAX_OPERANDS)
        return trace_fail(t, loc, op, "residual count %d out of range (0 to %d)", n_res,
                          JX_MAX_OPERANDS - 1);
    jx_fn *fns[3] = {cua_trace(loc, t, op, "f", f, n_in, types, 1, user), NULL, NULL};
    if (fns[0]) fns[1] = cua_trace(loc, t, op, "fwd", fwd, n_in, types, 1 + n_res, user);
    if (fns[1]) {
        for (int k = 0; k < n_res; k++) bt[k] = jx_fn_out_type(fns[1], k + 1);
        bt[n_res] = jx_fn_out_type(fns[0], 0);
        fns[2] = cua_trace(loc, t, op, "bwd", bwd, n_res + 1, bt, n_in, user);
    }
    res = fns[2] ? cua_emit(loc, t, JX_OP_CUSTOM_VJP, n_in, args, 3, fns) : (jx_val){t, -1};
    for (int k = 0; k < 3; k++) jx_fn_free(fns[k]);
    return res;
}
