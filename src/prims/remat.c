/* The remat family: checkpoint (jax.checkpoint / jax.remat) and optimization_barrier.
 *
 *   checkpoint[call] x...     call: x... -> y; the value is call(x...)
 *   optimization_barrier x    = x; no pass looks through it
 *
 * A checkpoint's intermediates are not kept for the backward pass: its vjp rule re-emits
 * call's forward pass in the backward pass, on its operands passed through
 * optimization_barrier, followed by call's vjp (both as jx_vjp(call), inlined). The
 * forward pass keeps the checkpoint node itself, so it reads only the operands and
 * produces only y; what the backward pass needs from it is the operands. The barrier is
 * what JAX's prevent_cse does (jax/_src/ad_checkpoint.py): without it the recomputation
 * would be the same nodes on the same operands as the forward pass, and CSE would merge
 * them back, storing the intermediates after all. The recomputation is emitted where the
 * backward walk reaches the checkpoint, and the planner executes nodes in order, so it
 * runs late and its buffers live only there.
 *
 * jvp: a checkpoint of call's tangent map (x..., dx...) -> dy, so grad of a jvp still
 * recomputes. batch: a checkpoint of the vmapped call. Both transformations of the
 * barrier are barriers again (JAX's optimization_barrier rules). No loop lowering for
 * checkpoint: the inline-custom pass (first in the JIT pipeline) substitutes call; the
 * barrier lowers as a read of its operand, and the drop-barriers pass removes it before
 * planning anyway (after the last cse).
 *
 * One output per node: jx_checkpoint with several outputs emits one checkpoint node per
 * output, each on call restricted to that output (see jx.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/trace.h"
#include "jit/lower.h"
#include "transform/transform.h"
#include "core/util.h"

/* ---- shape rule and interpreter ------------------------------------------------------- */

/* Shape rule: the barrier's type is its operand's; a checkpoint's is its call's single
 * output, and call must take exactly the operands' types. */
static int rm_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                    const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    (void)hint;
    if (op == JX_OP_OPT_BARRIER) {
        *out = in[0];
        return 0;
    }
    if (at->n_fns != 1 || !at->fns || !at->fns[0]) {
        snprintf(err, errlen, "needs 1 sub-function, got %d", at->n_fns);
        return -1;
    }
    const jx_fn *call = at->fns[0];
    if (call->n_out != 1 || call->n_in != nin) {
        snprintf(err, errlen, "function 'call' has %d inputs and %d outputs, expected %d "
                 "inputs (the operands) and 1 output", call->n_in, call->n_out, nin);
        return -1;
    }
    for (int k = 0; k < nin; k++) {
        if (jx_type_eq(&call->nodes[k].type, &in[k])) continue;
        char a[160], b[160];
        snprintf(err, errlen, "function 'call' takes %s as input %d, the operand is %s",
                 jx_type_str(&call->nodes[k].type, a, sizeof a), k,
                 jx_type_str(&in[k], b, sizeof b));
        return -1;
    }
    *out = jx_fn_out_type(call, 0);
    return 0;
}

/* Reference evaluation: the barrier copies, a checkpoint runs call on the operands. */
static int rm_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    if (n->op == JX_OP_OPT_BARRIER) {
        memcpy(jx_array_data(out), jx_array_cdata(in[0]), jx_array_nbytes(out));
        return 0;
    }
    jx_array *y = NULL;
    if (jx_interp(n->at.fns[0], in, &y) < 0) return -1;
    memcpy(jx_array_data(out), jx_array_cdata(y), jx_array_nbytes(out));
    jx_array_free(y);
    return 0;
}

/* ---- transformation rules ------------------------------------------------------------- */

/* Emits checkpoint[call=g] on args (g's inputs) at n's location. */
static jx_val rm_emit(jx_trace *t, const jx_node *n, const jx_fn *g, const jx_val *args) {
    jx_attrs at;
    memset(&at, 0, sizeof at);
    at.n_fns = 1;
    at.fns = &g;
    return tx_emit(t, n, JX_OP_CHECKPOINT, g->n_in, args, &at, NULL);
}

/* Records "op: <what>: <jx_error()>" on t at n's line. Returns -1. */
static int rm_fail(jx_trace *t, const jx_node *n, const char *op, const char *what) {
    char e[800];
    snprintf(e, sizeof e, "%s", jx_error());
    trace_fail(t, n->loc, op, "%s of checkpoint: %s", what, e);
    return -1;
}

/* vjp: the barrier passes ct through; a checkpoint inlines jx_vjp(call) on its
 * operands behind barriers and ct, so call's forward pass is recomputed here, in the
 * backward pass. Integer operands get no cotangent. */
static int rm_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
                  jx_val *ct_in) {
    (void)y;
    if (n->op == JX_OP_OPT_BARRIER) {
        ct_in[0] = ct;
        return 0;
    }
    unsigned char wrt[JX_MAX_OPERANDS];
    int n_sel = 0;
    for (int k = 0; k < n->nin; k++)
        n_sel += wrt[k] = (unsigned char)tx_is_float(jx_val_type(x[k]).dtype);
    if (n_sel == 0) return 0;
    jx_fn *g = jx_vjp(n->at.fns[0], wrt); /* (x..., ct) -> (y, ct_x for wrt...) */
    if (!g) return rm_fail(t, n, "grad", "the vjp");
    jx_val args[JX_MAX_OPERANDS + 1], outs[JX_MAX_OPERANDS + 1];
    for (int k = 0; k < n->nin; k++)
        args[k] = tx_emit(t, n, JX_OP_OPT_BARRIER, 1, &x[k], NULL, NULL);
    args[n->nin] = ct;
    int rc = jx_call_at(n->loc, g, args, outs);
    jx_fn_free(g);
    if (rc < 0) return -1;
    for (int k = 0, j = 1; k < n->nin; k++)
        if (wrt[k]) ct_in[k] = outs[j++];
    return 0;
}

/* call's tangent map: (x..., dx for wrt...) -> dy, from jx_jvp(call, wrt) without its
 * primal output (simplified, so what only y needed is gone). NULL with jx_error(). */
static jx_fn *rm_tangent_fn(const jx_fn *call, const unsigned char *wrt) {
    jx_fn *jv = jx_jvp(call, wrt);
    jx_fn *r = jv ? tx_rewire(jv, NULL, 1, (const int[]){1}) : NULL;
    jx_fn_free(jv);
    return r;
}

/* jvp: the barrier's tangent is a barrier of dx; a checkpoint's is a checkpoint of call's
 * tangent map on (x..., the nonzero float tangents...). */
static int rm_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
                  jx_val *dy) {
    (void)y;
    if (n->op == JX_OP_OPT_BARRIER) {
        *dy = tx_emit(t, n, JX_OP_OPT_BARRIER, 1, dx, NULL, NULL);
        return jx_val_bad(*dy) ? -1 : 0;
    }
    unsigned char wrt[JX_MAX_OPERANDS];
    jx_val args[2 * JX_MAX_OPERANDS];
    int na = n->nin;
    for (int k = 0; k < n->nin; k++) {
        args[k] = x[k];
        wrt[k] = (unsigned char)(!tx_is_zero(dx[k]) && tx_is_float(jx_val_type(x[k]).dtype));
        if (wrt[k]) args[na++] = dx[k];
    }
    jx_fn *g = rm_tangent_fn(n->at.fns[0], wrt);
    if (!g) return rm_fail(t, n, "jvp", "the jvp");
    *dy = rm_emit(t, n, g, args);
    jx_fn_free(g);
    return jx_val_bad(*dy) ? -1 : 0;
}

/* batch: the barrier keeps its operand's batch axis; a checkpoint becomes a checkpoint
 * of the vmapped call (result batched at axis 0). */
static int rm_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                    int64_t bsize, jx_val *y, int *ybd) {
    if (n->op == JX_OP_OPT_BARRIER) {
        *y = tx_emit(t, n, JX_OP_OPT_BARRIER, 1, x, NULL, NULL);
        *ybd = bd[0];
        return jx_val_bad(*y) ? -1 : 0;
    }
    int ax[JX_MAX_OPERANDS];
    for (int k = 0; k < n->nin; k++) ax[k] = bd[k] == TX_NOBATCH ? JX_NONE : bd[k];
    jx_fn *g = jx_vmap(n->at.fns[0], ax, NULL, bsize);
    if (!g) return rm_fail(t, n, "vmap", "batching");
    *y = rm_emit(t, n, g, x);
    *ybd = 0;
    jx_fn_free(g);
    return jx_val_bad(*y) ? -1 : 0;
}

/* Loop lowering of the barrier: its operand's element (a checkpoint never reaches the
 * planner: inline-custom substitutes it). */
static LLVMValueRef rm_lower(lw *L, const jx_node *n, lw_ix *ix) {
    return lw_eval(L, n->in[0], ix);
}

const jx_family jx_family_remat = {.infer = rm_infer,
                                   .interp = rm_interp,
                                   .vjp = rm_vjp,
                                   .jvp = rm_jvp,
                                   .batch = rm_batch,
                                   .lower = rm_lower};

/* ---- public API ------------------------------------------------------------------------ */

/* See jx/prims.h. */
jx_val jx_optimization_barrier_at(jx_loc loc, jx_val x) {
    if (jx_val_bad(x)) return trace_bad_arg(loc, "optimization_barrier", 0, x);
    return trace_emit(loc, x.t, JX_OP_OPT_BARRIER, 1, &x, NULL, NULL);
}

/* Sets outs[0..n_out) to poison after recording "checkpoint: msg" on t at loc. -1. */
static int rm_api_fail(jx_loc loc, jx_trace *t, int n_out, jx_val *outs, const char *msg) {
    jx_val bad = trace_fail(t, loc, "checkpoint", "%s", msg);
    for (int j = 0; j < n_out; j++) outs[j] = bad;
    return -1;
}

/* Checks jx_checkpoint's arguments and fills types; *t is the arguments' trace. 0, or -1
 * with the error recorded and outs poisoned (when outs and n_out allow). */
static int rm_api_check(jx_loc loc, jx_trace_cb f, int n_in, const jx_val *args, int n_out,
                        jx_val *outs, jx_trace **t, jx_type *types) {
    int counts_ok = n_in >= 1 && n_in <= JX_MAX_OPERANDS && n_out >= 1 && n_out <= JX_MAX_OPERANDS;
    *t = args && counts_ok ? trace_of(n_in, args) : NULL;
    int n_poison = n_out >= 1 && n_out <= JX_MAX_OPERANDS ? n_out : 0;
    char msg[160];
    if (!outs) return trace_fail(*t, loc, "checkpoint", "NULL outputs"), -1;
    if (!counts_ok) {
        snprintf(msg, sizeof msg, "%d inputs and %d outputs (inputs and outputs from 1 to %d)",
                 n_in, n_out, JX_MAX_OPERANDS);
        return rm_api_fail(loc, *t, n_poison, outs, msg);
    }
    if (!f) return rm_api_fail(loc, *t, n_poison, outs, "NULL function");
    if (!args) return rm_api_fail(loc, *t, n_poison, outs, "NULL arguments");
    for (int k = 0; k < n_in; k++) {
        if (jx_val_bad(args[k])) {
            jx_val bad = trace_bad_arg(loc, "checkpoint", k, args[k]);
            for (int j = 0; j < n_out; j++) outs[j] = bad;
            return -1;
        }
        if (args[k].t != args[0].t) {
            snprintf(msg, sizeof msg, "arguments 0 and %d belong to different traces", k);
            return rm_api_fail(loc, *t, n_poison, outs, msg);
        }
        types[k] = jx_val_type(args[k]);
    }
    return 0;
}

/* See jx.h. */
int jx_checkpoint_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, const jx_val *args,
                     int n_out, jx_val *outs) {
    jx_trace *t;
    jx_type types[JX_MAX_OPERANDS];
    if (rm_api_check(loc, f, n_in, args, n_out, outs, &t, types) < 0) return -1;
    char msg[1024];
    jx_fn *fn = jx_trace_at(loc, f, n_in, types, n_out, user);
    if (!fn) {
        snprintf(msg, sizeof msg, "tracing the function: %s", jx_error());
        return rm_api_fail(loc, t, n_out, outs, msg);
    }
    int rc = 0;
    for (int j = 0; j < n_out && rc == 0; j++) {
        jx_fn *g = n_out == 1 ? ir_fn_retain(fn) : tx_rewire(fn, NULL, 1, &j);
        if (!g) {
            snprintf(msg, sizeof msg, "output %d: %s", j, jx_error());
            rc = rm_api_fail(loc, t, n_out, outs, msg);
            break;
        }
        jx_attrs at;
        memset(&at, 0, sizeof at);
        at.n_fns = 1;
        at.fns = (const jx_fn *const *)&g;
        outs[j] = trace_emit(loc, t, JX_OP_CHECKPOINT, n_in, args, &at, NULL);
        jx_fn_free(g);
        if (jx_val_bad(outs[j])) {
            for (int k = 0; k < n_out; k++) outs[k] = outs[j];
            rc = -1;
        }
    }
    jx_fn_free(fn);
    return rc;
}
