/* The custom family: custom_jvp and custom_vjp, user functions with user derivative rules
 * (JAX's jax.custom_jvp / jax.custom_vjp). A node carries its sub-functions (see ir.h):
 *
 *   custom_jvp[call jvp] x...      call: x... -> y;  jvp: (x..., dx...) -> (y, dy)
 *   custom_vjp[call fwd bwd] x...  call: x... -> y;  fwd: x... -> (y, res...);
 *                                  bwd: (res..., ct) -> (ct_x...)
 *
 * One output per node (multi-output custom functions wait for multi-result nodes, issue
 * 11). The rules inline sub-functions into the transformation's trace as ordinary ops, so
 * transformations compose: grad of grad differentiates the inlined rules. vjp of custom_jvp
 * transposes the rule's tangent map dx -> dy (the vjp of that map with respect to dx,
 * built with jx_vjp and evaluated at dx = 0); jvp of custom_vjp is refused, as in JAX.
 * Batching vmaps the sub-functions and emits a new custom node. No loop lowering: the
 * inline-custom pass (first in the JIT pipeline) replaces the node by its call body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/trace.h"
#include "transform/transform.h"
#include "core/util.h"
#include "prims/callargs.h"

/* Formats "(t0, t1, ...)" of n types into buf (len >= 3). */
static void cu_types_paren(int n, const jx_type *t, char *buf, size_t len) {
    buf[0] = '(';
    ir_types_str(n, t, buf + 1, len - 2);
    strcat(buf, ")");
}

/* Formats "(t0, t1, ...)" of the types of a function's inputs or outputs. */
static void cu_sig_str(const jx_fn *g, int outs, char *buf, size_t len) {
    jx_type t[JX_MAX_OPERANDS * 2 + 1];
    int n = outs ? g->n_out : g->n_in;
    if (n > (int)(sizeof t / sizeof t[0])) n = (int)(sizeof t / sizeof t[0]);
    for (int i = 0; i < n; i++) t[i] = outs ? jx_fn_out_type(g, i) : jx_fn_in_type(g, i);
    cu_types_paren(n, t, buf, len);
}

/* See callargs.h. */
int cua_check_sig(const jx_fn *g, const char *name, int n_in, const jx_type *in,
                        int n_out, const jx_type *out, char *err, size_t errlen) {
    int ok = g->n_in == n_in && g->n_out == n_out;
    for (int i = 0; ok && i < n_in; i++) ok = jx_type_eq(&g->nodes[i].type, &in[i]);
    for (int i = 0; ok && i < n_out; i++) {
        jx_type t = jx_fn_out_type(g, i);
        ok = jx_type_eq(&t, &out[i]);
    }
    if (ok) return 0;
    char gi[120], go[120], wi[120], wo[120];
    cu_sig_str(g, 0, gi, sizeof gi);
    cu_sig_str(g, 1, go, sizeof go);
    cu_types_paren(n_in, in, wi, sizeof wi);
    cu_types_paren(n_out, out, wo, sizeof wo);
    snprintf(err, errlen, "rule '%s' maps %s -> %s, expected %s -> %s", name, gi, go, wi, wo);
    return -1;
}

/* Shape rule: the output type is call's; every sub-function's signature must fit the
 * operands (see the top of this file). */
static int cu_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                    const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    (void)hint;
    int need = op == JX_OP_CUSTOM_JVP ? 2 : 3;
    if (at->n_fns != need || !at->fns) {
        snprintf(err, errlen, "needs %d sub-functions, got %d", need, at->n_fns);
        return -1;
    }
    const jx_fn *call = at->fns[0];
    if (call->n_out != 1) {
        snprintf(err, errlen, "function 'call' must have one output, got %d", call->n_out);
        return -1;
    }
    jx_type y = jx_fn_out_type(call, 0), two[2 * JX_MAX_OPERANDS + 1];
    if (cua_check_sig(call, "call", nin, in, 1, &y, err, errlen) < 0) return -1;
    if (op == JX_OP_CUSTOM_JVP) {
        for (int k = 0; k < nin; k++) two[k] = two[nin + k] = in[k];
        jx_type yy[2] = {y, y};
        if (cua_check_sig(at->fns[1], "jvp", 2 * nin, two, 2, yy, err, errlen) < 0) return -1;
    } else {
        const jx_fn *fwd = at->fns[1];
        int n_res = fwd->n_out - 1;
        if (n_res < 0 || n_res >= JX_MAX_OPERANDS) {
            snprintf(err, errlen, "rule 'fwd' must return (y, residuals...) with at most %d "
                     "residuals, got %d outputs", JX_MAX_OPERANDS - 1, fwd->n_out);
            return -1;
        }
        for (int k = 0; k <= n_res; k++) two[k] = jx_fn_out_type(fwd, k);
        two[0] = y;
        if (cua_check_sig(fwd, "fwd", nin, in, n_res + 1, two, err, errlen) < 0) return -1;
        for (int k = 0; k < n_res; k++) two[k] = two[k + 1];
        two[n_res] = y;
        if (cua_check_sig(at->fns[2], "bwd", n_res + 1, two, nin, in, err, errlen) < 0) return -1;
    }
    *out = y;
    return 0;
}

/* Reference evaluation: the call sub-function on the operands. */
static int cu_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    jx_array *y = NULL;
    if (jx_interp(n->at.fns[0], in, &y) < 0) return -1;
    memcpy(jx_array_data(out), jx_array_cdata(y), jx_array_nbytes(out));
    jx_array_free(y);
    return 0;
}

/* Inlines sub-function g of n on args into t (outs: g's outputs). 0 or -1 (recorded). */
static int cu_inline(jx_trace *t, const jx_node *n, const jx_fn *g, const jx_val *args,
                     jx_val *outs) {
    (void)t;
    return jx_call_at(n->loc, g, args, outs);
}

/* The tangents dx with symbolic zeros materialized (x's types). */
static void cu_tangents(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx,
                        jx_val *out) {
    for (int k = 0; k < n->nin; k++) {
        jx_type xt = jx_val_type(x[k]);
        out[k] = dx && !tx_is_zero(dx[k]) ? dx[k] : tx_zeros(n->loc, t, &xt);
    }
}

/* jvp: custom_jvp inlines its rule on (x, dx); custom_vjp has no forward-mode rule. */
static int cu_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
                  jx_val *dy) {
    (void)y;
    if (n->op == JX_OP_CUSTOM_VJP) {
        trace_fail(t, n->loc, "jvp",
                   "a custom_vjp function cannot be differentiated in forward mode (jvp, "
                   "jacfwd): it only has a reverse-mode rule, as in JAX; define it "
                   "with custom_jvp to get both");
        return -1;
    }
    jx_val args[2 * JX_MAX_OPERANDS], outs[2];
    for (int k = 0; k < n->nin; k++) args[k] = x[k];
    cu_tangents(t, n, x, dx, args + n->nin);
    if (cu_inline(t, n, n->at.fns[1], args, outs) < 0) return -1;
    *dy = outs[1];
    return 0;
}

/* vjp of custom_jvp: the transpose of dx -> dy, as the vjp of the tangent map with respect
 * to dx at dx = 0 (linear in dx, so any point gives the same map). */
static int cu_jvp_transpose(jx_trace *t, const jx_node *n, const jx_val *x, jx_val ct,
                            jx_val *ct_in) {
    int nin = n->nin, n_sel = 0;
    unsigned char wrt[2 * JX_MAX_OPERANDS];
    for (int k = 0; k < nin; k++) {
        wrt[k] = 0;
        wrt[nin + k] = (unsigned char)tx_is_float(n->at.fns[0]->nodes[k].type.dtype);
        n_sel += wrt[nin + k];
    }
    jx_fn *g = tx_rewire(n->at.fns[1], NULL, 1, (const int[]){1}); /* dy only */
    jx_fn *lin = g ? jx_vjp(g, wrt) : NULL;
    jx_fn_free(g);
    if (!lin) {
        char e[800];
        snprintf(e, sizeof e, "%s", jx_error());
        trace_fail(t, n->loc, "custom_jvp", "transposing the jvp rule for reverse mode: %s", e);
        return -1;
    }
    jx_val args[2 * JX_MAX_OPERANDS + 1], outs[JX_MAX_OPERANDS + 1];
    for (int k = 0; k < nin; k++) args[k] = x[k];
    cu_tangents(t, n, x, NULL, args + nin);
    args[2 * nin] = ct;
    int rc = cu_inline(t, n, lin, args, outs);
    jx_fn_free(lin);
    if (rc < 0) return -1;
    for (int k = 0, j = 1; k < nin && j <= n_sel; k++)
        if (wrt[nin + k]) ct_in[k] = outs[j++];
    return 0;
}

/* vjp: custom_vjp inlines fwd on x, then bwd on (residuals, ct); custom_jvp transposes its
 * jvp rule. Integer operands get no cotangent. */
static int cu_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
                  jx_val *ct_in) {
    (void)y;
    if (n->op == JX_OP_CUSTOM_JVP) return cu_jvp_transpose(t, n, x, ct, ct_in);
    const jx_fn *fwd = n->at.fns[1], *bwd = n->at.fns[2];
    jx_val fo[JX_MAX_OPERANDS + 1], bo[JX_MAX_OPERANDS];
    if (cu_inline(t, n, fwd, x, fo) < 0) return -1;
    int n_res = fwd->n_out - 1;
    for (int k = 0; k < n_res; k++) fo[k] = fo[k + 1];
    fo[n_res] = ct;
    if (cu_inline(t, n, bwd, fo, bo) < 0) return -1;
    for (int k = 0; k < n->nin; k++)
        ct_in[k] = tx_is_float(jx_val_type(x[k]).dtype) ? bo[k] : TX_ZERO;
    return 0;
}

/* bwd batched for custom_vjp's batch rule: takes residuals and ct batched at axis 0 and
 * returns each operand's cotangent with the operand's batching (moved to bd[k], or summed
 * over the batch for an unbatched operand). NULL with jx_error(). */
static jx_fn *cu_batch_bwd(const jx_fn *bwd, const int *bd, int64_t bsize) {
    jx_fn *b0 = jx_vmap(bwd, NULL, NULL, bsize);
    if (!b0) return NULL;
    jx_type in[JX_MAX_OPERANDS + 1];
    for (int i = 0; i < b0->n_in; i++) in[i] = b0->nodes[i].type;
    jx_trace *t = jx_trace_begin(b0->n_in, in);
    jx_val args[JX_MAX_OPERANDS + 1], outs[JX_MAX_OPERANDS];
    jx_loc loc = {"custom_vjp", 0};
    if (t) {
        for (int i = 0; i < b0->n_in; i++) args[i] = jx_trace_input(t, i);
        if (jx_call_at(loc, b0, args, outs) == 0)
            for (int k = 0; k < b0->n_out; k++)
                outs[k] = bd[k] == TX_NOBATCH ? jx_reduce_sum_at(loc, outs[k], JX_INTS(0))
                                              : tx_moveaxis(loc, outs[k], 0, bd[k]);
    }
    jx_fn *r = t ? jx_trace_end(t, b0->n_out, outs) : NULL;
    jx_fn_free(b0);
    return r;
}

/* batch: the sub-functions vmapped with the operands' batch axes (outputs batched at 0)
 * in a new node of the same primitive, whose result is batched at axis 0. */
static int cu_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                    int64_t bsize, jx_val *y, int *ybd) {
    int nin = n->nin, ax[2 * JX_MAX_OPERANDS];
    for (int k = 0; k < nin; k++) ax[k] = ax[nin + k] = bd[k] == TX_NOBATCH ? JX_NONE : bd[k];
    jx_fn *fns[3] = {jx_vmap(n->at.fns[0], ax, NULL, bsize), NULL, NULL};
    int nf = n->op == JX_OP_CUSTOM_JVP ? 2 : 3;
    if (fns[0]) fns[1] = jx_vmap(n->at.fns[1], ax, NULL, bsize);
    if (fns[1] && nf == 3) fns[2] = cu_batch_bwd(n->at.fns[2], bd, bsize);
    int rc = 0;
    if (!fns[nf - 1]) {
        char e[800];
        snprintf(e, sizeof e, "%s", jx_error());
        trace_fail(t, n->loc, "vmap", "batching %s: %s", prim_info(n->op)->name, e);
        rc = -1;
    } else {
        jx_attrs at = n->at;
        at.fns = (const jx_fn *const *)fns;
        *y = tx_emit(t, n, n->op, nin, x, &at, NULL);
        *ybd = 0;
    }
    for (int k = 0; k < nf; k++) jx_fn_free(fns[k]);
    return rc;
}

const jx_family jx_family_custom = {.infer = cu_infer,
                                    .interp = cu_interp,
                                    .vjp = cu_vjp,
                                    .jvp = cu_jvp,
                                    .batch = cu_batch};
