/* Reverse mode: jx_vjp, jx_grad, jx_value_and_grad. One driver replays f forward into a
 * new trace, then walks the nodes backwards calling each family's vjp rule, summing
 * cotangents per node. Only nodes that depend on a differentiated input (through
 * differentiable primitives) get cotangents; absent cotangents stay symbolic zeros. */
#include <stdlib.h>
#include <string.h>

#include "core/replay.h"
#include "transform/transform.h"
#include "core/util.h"

typedef enum { GRAD_VJP, GRAD_GRAD, GRAD_VALUE_AND_GRAD } grad_mode;

/* Marks the nodes that carry a derivative with respect to the float inputs among
 * sel[0..n_sel-1]. */
static void grad_mark(const jx_fn *f, int n_sel, const int *sel, unsigned char *needs) {
    memset(needs, 0, (size_t)f->n_in);
    for (int k = 0; k < n_sel; k++) needs[sel[k]] = 1;
    tx_deps(f, needs, 1, needs);
}

/* The reverse-mode state: per node of f, whether it needs a cotangent and its
 * cotangent so far; the mode and the inputs whose cotangents are returned. */
typedef struct grad_ctx {
    unsigned char *needs;
    jx_val *ct;
    grad_mode mode;
    int n_sel;
    const int *sel;
} grad_ctx;

/* Adds the operand cotangents ct_in[0..) of node n to the operands' that need one. */
static int grad_accum(replay *r, const jx_node *n, const jx_val *ct_in) {
    grad_ctx *c = r->ctx;
    for (int k = 0; k < n->nin; k++) {
        int32_t o = n->in[k];
        if (!c->needs[o] || tx_is_zero(ct_in[k])) continue;
        if (jx_val_bad(ct_in[k])) return -1;
        c->ct[o] = tx_add(n->loc, c->ct[o], ct_in[k]);
    }
    return 0;
}

/* The vjp of multi-result node i and its gets (a unit, replay.h; the walk has passed
 * every use of the gets, so their cotangents are complete): the family's vjp_multi on
 * the gets' cotangents (TX_ZERO for results without one). */
static int grad_unit_vjp(replay *r, int i, const jx_val *x, const jx_val *ys) {
    grad_ctx *c = r->ctx;
    const jx_node *n = &r->f->nodes[i];
    const jx_prim_info *p = prim_info(n->op);
    int k = ir_n_gets(r->f, i), any = 0;
    jx_val cts[JX_MAX_RESULTS], ct_in[JX_MAX_OPERANDS];
    for (int j = 0; j < k; j++) {
        cts[j] = c->needs[i + 1 + j] ? c->ct[i + 1 + j] : TX_ZERO;
        any |= !tx_is_zero(cts[j]);
    }
    if (!c->needs[i] || !any) return 0;
    if (!p->family->vjp_multi) {
        trace_fail(r->t, n->loc, "grad", "differentiation rule for '%s' not implemented",
                   p->name);
        return -1;
    }
    for (int o = 0; o < n->nin; o++) ct_in[o] = c->needs[n->in[o]] ? TX_ZERO : TX_SKIP;
    if (p->family->vjp_multi(r->t, n, x, ys, cts, ct_in) < 0) return -1;
    return grad_accum(r, n, ct_in);
}

/* The vjp rule of one node (backward walk): adds the cotangents of its operands. */
static int grad_node_vjp(replay *r, int i, const jx_val *x, jx_val *y) {
    grad_ctx *c = r->ctx;
    const jx_node *n = &r->f->nodes[i];
    if (ir_is_multi(r->f, i)) return grad_unit_vjp(r, i, x, y);
    if (!c->needs[i] || tx_is_zero(c->ct[i])) return 0;
    const jx_prim_info *p = prim_info(n->op);
    if (!p->family->vjp) {
        trace_fail(r->t, n->loc, "grad", "differentiation rule for '%s' not implemented",
                   p->name);
        return -1;
    }
    jx_val ct_in[JX_MAX_OPERANDS];
    for (int k = 0; k < n->nin; k++) ct_in[k] = TX_ZERO;
    if (p->family->vjp(r->t, n, x, *y, c->ct[i], ct_in) < 0) return -1;
    return grad_accum(r, n, ct_in);
}

/* After the forward replay: seeds the output cotangents, walks backwards, and collects
 * the outputs (primal outputs unless grad, then the selected inputs' cotangents). */
static int grad_end(replay *r, jx_val *outs) {
    grad_ctx *c = r->ctx;
    const jx_fn *f = r->f;
    jx_val *ct = c->ct;
    grad_mark(f, c->n_sel, c->sel, c->needs);
    for (int i = 0; i < f->n_nodes; i++) ct[i] = TX_ZERO;
    if (c->mode == GRAD_VJP) {
        for (int j = 0; j < f->n_out; j++)
            if (c->needs[f->outs[j]])
                ct[f->outs[j]] = tx_add(r->loc, ct[f->outs[j]], trace_val(r->t, f->n_in + j));
    } else if (c->needs[f->outs[0]]) {
        ct[f->outs[0]] = jx_scalar_at(r->loc, r->t, f->nodes[f->outs[0]].type.dtype, 1.0);
    }
    if (replay_walk(r, 1, grad_node_vjp) < 0) return -1;
    int no = 0;
    if (c->mode != GRAD_GRAD)
        for (int j = 0; j < f->n_out; j++) outs[no++] = trace_val(r->t, r->map[f->outs[j]]);
    for (int k = 0; k < c->n_sel; k++) {
        int i = c->sel[k];
        if (tx_is_zero(ct[i])) ct[i] = tx_zeros(r->loc, r->t, &f->nodes[i].type);
        outs[no++] = ct[i];
    }
    return 0;
}

/* Builds the vjp/grad/value_and_grad function of f (see jx.h for the layouts): the
 * differentiated inputs and the gradient outputs are the cotangents of inputs
 * sel[0..n_sel-1], in that order (an input may be listed more than once). */
static jx_fn *grad_build(const jx_fn *f, int n_sel, const int *sel, grad_mode mode,
                         const char *what) {
    if (!f) {
        util_err("%s: NULL function", what);
        return NULL;
    }
    int n_ct = mode == GRAD_VJP ? f->n_out : 0;
    if (mode != GRAD_VJP) {
        jx_type y = f->n_out > 0 ? f->nodes[f->outs[0]].type : (jx_type){JX_NDTYPES, 0, {0}};
        char ys[160];
        if (f->n_out < 1 || y.rank != 0 || !tx_is_float(y.dtype)) {
            util_err("%s: output 0 must be a float scalar, got %s", what,
                     f->n_out < 1 ? "no outputs" : jx_type_str(&y, ys, sizeof ys));
            return NULL;
        }
    }
    jx_type *in_t = malloc((size_t)(f->n_in + n_ct + 1) * sizeof *in_t);
    grad_ctx c = {malloc((size_t)f->n_nodes + 1),
                  malloc((size_t)(f->n_nodes + 1) * sizeof *c.ct), mode, n_sel, sel};
    jx_fn *g = NULL;
    if (!in_t || !c.needs || !c.ct) {
        util_err("%s: out of memory", what);
    } else {
        for (int i = 0; i < f->n_in; i++) in_t[i] = f->nodes[i].type;
        for (int j = 0; j < n_ct; j++) in_t[f->n_in + j] = f->nodes[f->outs[j]].type;
        replay_spec spec = {.what = what, .n_in = f->n_in + n_ct, .in_types = in_t,
                            .n_out = (mode != GRAD_GRAD ? f->n_out : 0) + n_sel,
                            .units = 1, .end = grad_end, .finish = tx_finish};
        g = replay_fn(f, &spec, &c);
    }
    free(in_t);
    free(c.needs);
    free(c.ct);
    return g;
}

/* The grad/value_and_grad function of f for the index list wrt (JAX's argnums: n_wrt == 0
 * means input 0; an index may repeat); checks count, range and float dtype. NULL with
 * jx_error() on a bad list. */
static jx_fn *grad_list(const jx_fn *f, int n_wrt, const int *wrt, grad_mode mode,
                        const char *what) {
    static const int input0 = 0;
    if (!f) {
        util_err("%s: NULL function", what);
        return NULL;
    }
    if (n_wrt == 0) {
        n_wrt = 1;
        wrt = &input0;
    }
    if (n_wrt < 0 || n_wrt > (1 << 20) || !wrt) {
        util_err("%s: bad wrt list (count %d%s)", what, n_wrt, wrt ? "" : ", NULL indices");
        return NULL;
    }
    for (int k = 0; k < n_wrt; k++) {
        int i = wrt[k];
        if (i < 0 || i >= f->n_in) {
            util_err("%s: wrt index %d out of range (%d inputs)", what, i, f->n_in);
            return NULL;
        }
        if (!tx_is_float(f->nodes[i].type.dtype)) {
            char ts[160];
            util_err("%s: input %d has type %s; only float inputs can be differentiated", what,
                     i, jx_type_str(&f->nodes[i].type, ts, sizeof ts));
            return NULL;
        }
    }
    return grad_build(f, n_wrt, wrt, mode, what);
}

/* See jx.h: one cotangent per selected input, in input order. */
jx_fn *jx_vjp(const jx_fn *f, const unsigned char *wrt) {
    if (!f) {
        util_err("vjp: NULL function");
        return NULL;
    }
    int *sel = malloc(((size_t)f->n_in + 1) * sizeof *sel), n_sel = 0;
    if (!sel) {
        util_err("vjp: out of memory");
        return NULL;
    }
    for (int i = 0; i < f->n_in; i++)
        if (wrt ? wrt[i] != 0 : tx_is_float(f->nodes[i].type.dtype)) sel[n_sel++] = i;
    jx_fn *g = grad_build(f, n_sel, sel, GRAD_VJP, "vjp");
    free(sel);
    return g;
}

/* See jx.h: gradients in the order of wrt, repeated indices honoured. */
jx_fn *jx_grad(const jx_fn *f, int n_wrt, const int *wrt) {
    return grad_list(f, n_wrt, wrt, GRAD_GRAD, "grad");
}

/* See jx.h: (y, aux..., gradients in the order of wrt). */
jx_fn *jx_value_and_grad(const jx_fn *f, int n_wrt, const int *wrt) {
    return grad_list(f, n_wrt, wrt, GRAD_VALUE_AND_GRAD, "value_and_grad");
}
