/* The while primitive (lax.while_loop), a multi-result node like cond and scan (control.c,
 * ir.h): its operands are the initial carry, its sub-functions
 *
 *   cond (carry...) -> bool[]        body (carry...) -> (carry...)   (same types)
 *
 * and its results the final carry: body applied while cond holds (zero times when cond is
 * false at once). Printed as one equation with its gets:
 *
 *   c:f32[3] d:i32[] = while[cond={ lambda ... } body={ lambda ... }] a b
 *
 * The rules are here (shape, results, interpreter) and in control_while_tx.c (jvp, vjp's
 * error, batching); the API (jx_while_loop, jx_fori_loop) in control_while_api.c. The JIT
 * has no lowering for it yet (src/jit/plan.c refuses it with the op and line). */
#include <stdio.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/callargs.h"
#include "prims/control_while.h"

/* See control_while.h. */
const jx_type cw_pred_type = {JX_BOOL, 0, {0}};

/* Shape rule: cond maps the carry's types to bool[], body maps them to themselves. */
static int cw_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                    const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    (void)op, (void)hint;
    if (nin < 1 || nin > JX_MAX_RESULTS) {
        snprintf(err, errlen, "needs 1 to %d carry operands, has %d", JX_MAX_RESULTS, nin);
        return -1;
    }
    if (cua_check_sig(at->fns[0], "cond", nin, in, 1, &cw_pred_type, err, errlen) < 0 ||
        cua_check_sig(at->fns[1], "body", nin, in, nin, in, err, errlen) < 0)
        return -1;
    *out = ir_multi_type;
    return 0;
}

/* Result types: the carry's, which are body's outputs (infer checked them). */
static int cw_results(const jx_node *n, jx_type *types, int max) {
    const jx_fn *body = n->at.fns[1];
    if (body->n_out > max) return -1;
    for (int j = 0; j < body->n_out; j++) types[j] = jx_fn_out_type(body, j);
    return body->n_out;
}

/* cond on carry[0..n): 1 (holds), 0, or -1 (jx_error set). */
static int cw_holds(const jx_fn *cond, jx_array *const *carry) {
    jx_array *p = NULL;
    if (jx_interp(cond, carry, &p) < 0) return -1;
    int holds = jx_array_get(p, 0) != 0;
    jx_array_free(p);
    return holds;
}

/* Reference evaluation: out[] starts as copies of the operands; each iteration replaces
 * it by body's outputs, until cond is false. */
static int cw_interp_multi(const jx_node *n, jx_array *const *in, jx_array **out) {
    const jx_fn *cond = n->at.fns[0], *body = n->at.fns[1];
    int nc = n->nin, rc = 0, holds;
    for (int k = 0; k < nc; k++)
        if (!(out[k] = jx_array_copy(in[k]))) rc = util_err("interp: while: out of memory");
    while (rc == 0 && (holds = cw_holds(cond, out)) != 0) {
        jx_array *res[JX_MAX_RESULTS] = {0};
        if (holds < 0 || jx_interp(body, out, res) < 0) {
            rc = -1;
            break;
        }
        for (int k = 0; k < nc; k++) jx_array_free(out[k]), out[k] = res[k];
    }
    if (rc < 0)
        for (int k = 0; k < nc; k++) jx_array_free(out[k]), out[k] = NULL;
    return rc;
}

/* See control_while.h. */
int cw_emit(jx_loc loc, jx_trace *t, const jx_fn *cond, const jx_fn *body, int n,
            const jx_val *ops, jx_val *res) {
    const jx_fn *fns[2] = {cond, body};
    jx_attrs at = ir_attrs(NULL, NULL, NULL, NULL);
    at.n_fns = 2;
    at.fns = fns;
    int k = trace_emit_multi(loc, t, JX_OP_WHILE, n, ops, &at, n, res);
    if (k >= 0 && k != n) {
        trace_fail(t, loc, "while", "%d results, expected %d", k, n);
        for (int j = 0; j < n; j++) res[j] = (jx_val){t, -1};
    }
    return k == n ? 0 : -1;
}

/* No single-value rule: the interpreter calls interp_multi. Called only on a malformed
 * graph. */
static int cw_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    (void)n, (void)in, (void)out;
    return util_err("interp: while has several results (interp_multi)");
}

const jx_family jx_family_control_while = {.infer = cw_infer,
                                           .interp = cw_interp,
                                           .results = cw_results,
                                           .interp_multi = cw_interp_multi,
                                           .jvp_multi = cw_jvp_multi,
                                           .vjp_multi = cw_vjp_multi,
                                           .batch_multi = cw_batch_multi,
                                           .multi_temps = cw_multi_temps,
                                           .multi_inplace = cw_multi_inplace,
                                           .lower_multi = cw_lower_multi};
