/* The control family: primitives with several results and sub-functions (JAX's
 * lax.switch/cond; scan and while_loop follow the same pattern), and `get`, which names
 * one result. A multi-result node has no value of its own (its type is ir_multi_type); the
 * k nodes after it are get[index=(0)] .. get[index=(k-1)] of it, in order (ir.h):
 *
 *   c:f32[3] d:f32[] = cond[branch={ lambda ... } branch={ lambda ... }] i a b
 *
 * is one cond node and two gets. cond's operand 0 is the i32[] branch index, clamped to
 * [0, branches) as lax.switch does; the others are the operands of the chosen branch,
 * whose outputs are the results. Every branch has the same signature. scan (lax.scan):
 *
 *   e:f32[3] f:f32[5,3] = scan[length=(5) n_carry=(1) reverse=(0) body={ lambda ... }] c xs
 *
 * runs body (carry..., x slice...) -> (carry..., y...) over the leading axis of the xs,
 * in reverse when reverse=(1) (ys stay aligned with xs, as in JAX); the results are the
 * final carry and the ys stacked. */
#include <stdio.h>
#include <string.h>

#include "core/ir.h"
#include "core/util.h"
#include "prims/callargs.h"
#include "prims/control.h"

/* cond's shape rule: an i32[] index and branches of one signature taking the other
 * operands. */
static int ctl_infer_cond(int nin, const jx_type *in, const jx_attrs *at, char *err,
                          size_t errlen) {
    if (in[0].dtype != JX_I32 || in[0].rank != 0) {
        snprintf(err, errlen, "the index (operand 0) must be i32[]");
        return -1;
    }
    const jx_fn *b0 = at->fns[0];
    if (b0->n_out < 1 || b0->n_out > JX_MAX_RESULTS) {
        snprintf(err, errlen, "a branch must have 1 to %d outputs, branch 0 has %d",
                 JX_MAX_RESULTS, b0->n_out);
        return -1;
    }
    jx_type outs[JX_MAX_RESULTS];
    for (int j = 0; j < b0->n_out; j++) outs[j] = jx_fn_out_type(b0, j);
    for (int k = 0; k < at->n_fns; k++) {
        char name[32];
        snprintf(name, sizeof name, "branch %d", k);
        if (cua_check_sig(at->fns[k], name, nin - 1, in + 1, b0->n_out, outs, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* See control.h. */
jx_type ctl_unstack(jx_type t) {
    for (int d = 1; d < t.rank; d++) t.shape[d - 1] = t.shape[d];
    t.rank--;
    return t;
}

/* scan's shape rule: attributes length=(L) n_carry=(C) reverse=(0|1); operands C carry
 * values then the xs, each with leading axis L; body (carry..., x slices...) ->
 * (carry..., y...) with the carry's types unchanged. */
static int ctl_infer_scan(int nin, const jx_type *in, const jx_attrs *at, char *err,
                          size_t errlen) {
    if (at->n[0] != 1 || at->n[1] != 1 || at->n[2] != 1 || at->v[0][0] < 0 ||
        at->v[1][0] < 0 || at->v[1][0] > nin || (at->v[2][0] != 0 && at->v[2][0] != 1)) {
        snprintf(err, errlen, "needs length=(L >= 0) n_carry=(0..%d) reverse=(0 or 1)", nin);
        return -1;
    }
    int64_t len = at->v[0][0];
    int nc = (int)at->v[1][0];
    const jx_fn *body = at->fns[0];
    jx_type bin[JX_MAX_OPERANDS];
    for (int k = 0; k < nin; k++) {
        if (k >= nc && (in[k].rank < 1 || in[k].shape[0] != len)) {
            char ts[160];
            snprintf(err, errlen, "scanned operand %d is %s, expected a leading axis of length "
                     "%lld", k, jx_type_str(&in[k], ts, sizeof ts), (long long)len);
            return -1;
        }
        bin[k] = k < nc ? in[k] : ctl_unstack(in[k]);
    }
    if (body->n_out < nc || body->n_out > JX_MAX_RESULTS) {
        snprintf(err, errlen, "the body must return the %d carry values then the ys (at most "
                 "%d outputs), it has %d", nc, JX_MAX_RESULTS, body->n_out);
        return -1;
    }
    jx_type bout[JX_MAX_RESULTS];
    for (int j = 0; j < body->n_out; j++) bout[j] = j < nc ? in[j] : jx_fn_out_type(body, j);
    return cua_check_sig(body, "body", nin, bin, body->n_out, bout, err, errlen);
}

/* Shape rule. get: the type the tracer computed from its producer (hint; the tracer and
 * the verifier check it against the producer). cond: ir_multi_type. */
static int ctl_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (op == JX_OP_GET) {
        if (!hint || at->n[0] != 1 || at->v[0][0] < 0) {
            snprintf(err, errlen, "needs index=(j) with j >= 0 and its result's type");
            return -1;
        }
        *out = *hint;
        return 0;
    }
    int rc = op == JX_OP_SCAN ? ctl_infer_scan(nin, in, at, err, errlen)
                              : ctl_infer_cond(nin, in, at, err, errlen);
    if (rc < 0) return -1;
    *out = ir_multi_type;
    return 0;
}

/* Result types: cond's branch outputs; scan's final carry, then each y stacked along a
 * new leading axis of the length. */
static int ctl_results(const jx_node *n, jx_type *types, int max) {
    const jx_fn *b0 = n->at.fns[0];
    if (b0->n_out > max) return -1;
    for (int j = 0; j < b0->n_out; j++) types[j] = jx_fn_out_type(b0, j);
    if (n->op != JX_OP_SCAN) return b0->n_out;
    for (int j = (int)n->at.v[1][0]; j < b0->n_out; j++) {
        if (types[j].rank == JX_MAX_RANK) return -1;
        for (int d = types[j].rank; d > 0; d--) types[j].shape[d] = types[j].shape[d - 1];
        types[j].shape[0] = n->at.v[0][0];
        types[j].rank++;
    }
    return b0->n_out;
}

/* Copies slice i of stacked array a (leading axis) into or out of per-iteration array s. */
static void ctl_slice(jx_array *a, int64_t i, jx_array *s, int into_a) {
    size_t nb = jx_array_nbytes(s);
    char *p = (char *)jx_array_data(a) + (size_t)i * nb;
    if (into_a) memcpy(p, jx_array_cdata(s), nb);
    else memcpy(jx_array_data(s), p, nb);
}

/* One scan iteration i: body on (carry, x slices) into *carry (replaced) and ys[.][i]. */
static int ctl_scan_step(const jx_node *n, jx_array *const *in, jx_array **carry, int64_t i,
                         jx_array **xs, jx_array **ys) {
    const jx_fn *body = n->at.fns[0];
    int nc = (int)n->at.v[1][0], nin = n->nin, ny = body->n_out - nc;
    jx_array *args[JX_MAX_OPERANDS], *res[JX_MAX_RESULTS] = {0};
    for (int k = 0; k < nin; k++) {
        if (k < nc) args[k] = carry[k];
        else ctl_slice(in[k], i, args[k] = xs[k - nc], 0);
    }
    if (jx_interp(body, args, res) < 0) return -1;
    for (int k = 0; k < nc; k++) {
        for (int j = nc; j < nin && res[k]; j++) /* an x slice returned as the carry: the */
            if (res[k] == args[j]) {           /* next step's slice would overwrite it */
                jx_array *c = jx_array_copy(res[k]);
                jx_array_free(res[k]);
                res[k] = c;
            }
        jx_array_free(carry[k]), carry[k] = res[k];
    }
    for (int k = 0; k < nc; k++)
        if (!carry[k]) return util_err("interp: scan: out of memory");
    for (int j = 0; j < ny; j++) ctl_slice(ys[j], i, res[nc + j], 1), jx_array_free(res[nc + j]);
    return 0;
}

/* scan's reference evaluation: the body run length times, in reverse order when asked. */
static int ctl_interp_scan(const jx_node *n, jx_array *const *in, jx_array **out) {
    const jx_fn *body = n->at.fns[0];
    int nc = (int)n->at.v[1][0], nx = n->nin - nc, ny = body->n_out - nc, rc = 0;
    int64_t len = n->at.v[0][0];
    jx_type r[JX_MAX_RESULTS];
    jx_array *xs[JX_MAX_OPERANDS] = {0};
    ctl_results(n, r, JX_MAX_RESULTS);
    for (int k = 0; k < nc; k++) out[k] = jx_array_copy(in[k]);
    for (int j = 0; j < ny; j++) out[nc + j] = jx_array_new_type(&r[nc + j]);
    for (int k = 0; k < nx; k++) {
        jx_type t = ctl_unstack(jx_array_type(in[nc + k]));
        xs[k] = jx_array_new_type(&t);
    }
    for (int k = 0; k < body->n_out && rc == 0; k++)
        if (!out[k]) rc = util_err("interp: scan: out of memory");
    for (int k = 0; k < nx && rc == 0; k++)
        if (!xs[k]) rc = util_err("interp: scan: out of memory");
    for (int64_t s = 0; s < len && rc == 0; s++)
        rc = ctl_scan_step(n, in, out, n->at.v[2][0] ? len - 1 - s : s, xs, out + nc);
    for (int k = 0; k < nx; k++) jx_array_free(xs[k]);
    if (rc < 0)
        for (int k = 0; k < body->n_out; k++) jx_array_free(out[k]), out[k] = NULL;
    return rc;
}

/* Reference evaluation: scan's loop, or cond's chosen branch run by the interpreter on
 * operands 1.. */
static int ctl_interp_multi(const jx_node *n, jx_array *const *in, jx_array **out) {
    if (n->op == JX_OP_SCAN) return ctl_interp_scan(n, in, out);
    int64_t i = (int64_t)jx_array_get(in[0], 0), nb = n->at.n_fns;
    i = i < 0 ? 0 : i >= nb ? nb - 1 : i;
    return jx_interp(n->at.fns[i], in + 1, out);
}

/* get has no value rule of its own: the interpreter and the planner read the results of
 * its producer. Called only on a malformed graph. */
static int ctl_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    (void)in, (void)out;
    return util_err("interp: %s outside a multi-result node's results",
                    prim_info(n->op)->name);
}

const jx_family jx_family_control = {.infer = ctl_infer,
                                     .interp = ctl_interp,
                                     .results = ctl_results,
                                     .interp_multi = ctl_interp_multi,
                                     .jvp_multi = ctl_jvp_multi,
                                     .vjp_multi = ctl_vjp_multi,
                                     .batch_multi = ctl_batch_multi,
                                     .multi_temps = ctl_multi_temps,
                                     .multi_inplace = ctl_multi_inplace,
                                     .lower_multi = ctl_lower_multi};
