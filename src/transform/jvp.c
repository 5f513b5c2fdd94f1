/* Forward mode: jx_jvp. Walks f in order, re-emitting each primal node and calling its
 * family's jvp rule when any operand has a tangent. Tangents are symbolic zeros until a
 * differentiable input reaches them. */
#include <stdlib.h>

#include "core/replay.h"
#include "transform/transform.h"
#include "core/util.h"

/* The tangent of every node of f (indexed by f's node ids). */
typedef struct jvp_ctx {
    jx_val *tan;
    const unsigned char *wrt; /* inputs with a tangent input (NULL: all) */
} jvp_ctx;

/* Seeds the tangents of f's float inputs that have tangent inputs (in input order after
 * the primal inputs); the others are symbolic zeros. */
static int jvp_start(replay *r) {
    jvp_ctx *c = r->ctx;
    const jx_fn *f = r->f;
    for (int i = 0, k = f->n_in; i < f->n_in; i++) {
        int has = !c->wrt || c->wrt[i];
        c->tan[i] = has && tx_is_float(f->nodes[i].type.dtype) ? trace_val(r->t, k) : TX_ZERO;
        k += has;
    }
    return 0;
}

/* The jvp of multi-result node i and its gets (a unit, replay.h): copied when no operand
 * has a tangent, else the family's jvp_multi gives the results and their tangents, which
 * become the gets' values and tangents. */
static int jvp_unit(replay *r, int i, const jx_val *x, const jx_val *dx, int any, jx_val *ys) {
    jvp_ctx *c = r->ctx;
    const jx_node *nd = &r->f->nodes[i];
    const jx_prim_info *p = prim_info(nd->op);
    int k = ir_n_gets(r->f, i);
    jx_val dys[JX_MAX_RESULTS];
    for (int j = 0; j <= k; j++) c->tan[i + j] = TX_ZERO;
    if (!any || (p->flags & JXF_NOGRAD)) return replay_copy(r, i, x, ys);
    if (!p->family->jvp_multi) {
        trace_fail(r->t, nd->loc, "jvp", "differentiation rule for '%s' not implemented", p->name);
        return -1;
    }
    for (int j = 0; j < k; j++) dys[j] = TX_ZERO;
    if (p->family->jvp_multi(r->t, nd, x, dx, ys, dys) < 0) return -1;
    for (int j = 0; j < k; j++)
        if (tx_is_float(r->f->nodes[i + 1 + j].type.dtype)) c->tan[i + 1 + j] = dys[j];
    return 0;
}

/* The jvp rule of one node: the primal node, then its tangent when an operand has one. */
static int jvp_node(replay *r, int i, const jx_val *x, jx_val *y) {
    jvp_ctx *c = r->ctx;
    const jx_node *nd = &r->f->nodes[i];
    const jx_prim_info *p = prim_info(nd->op);
    jx_val dx[JX_MAX_OPERANDS];
    int any = 0;
    for (int k = 0; k < nd->nin; k++) {
        dx[k] = c->tan[nd->in[k]];
        any |= !tx_is_zero(dx[k]);
    }
    if (p->flags & JXF_MULTI) return jvp_unit(r, i, x, dx, any, y);
    *y = tx_replay(r->t, nd, x);
    c->tan[i] = TX_ZERO;
    if (jx_val_bad(*y)) return -1;
    if (!any || (p->flags & JXF_NOGRAD) || nd->op == JX_OP_STOP_GRADIENT ||
        !tx_is_float(nd->type.dtype))
        return 0;
    if (!p->family->jvp) {
        trace_fail(r->t, nd->loc, "jvp", "differentiation rule for '%s' not implemented", p->name);
        return -1;
    }
    return p->family->jvp(r->t, nd, x, *y, dx, &c->tan[i]);
}

/* The outputs: f's primal outputs, then their tangents (materialized zeros if none). */
static int jvp_end(replay *r, jx_val *outs) {
    jvp_ctx *c = r->ctx;
    const jx_fn *f = r->f;
    for (int j = 0; j < f->n_out; j++) {
        int32_t o = f->outs[j];
        outs[j] = trace_val(r->t, r->map[o]);
        outs[f->n_out + j] = tx_is_zero(c->tan[o])
                                 ? tx_zeros(f->nodes[o].loc, r->t, &f->nodes[o].type)
                                 : c->tan[o];
    }
    return 0;
}

/* See jx.h. */
jx_fn *jx_jvp(const jx_fn *f, const unsigned char *wrt) {
    if (!f) {
        util_err("jvp: NULL function");
        return NULL;
    }
    jx_type *in_t = malloc((size_t)(2 * f->n_in + 1) * sizeof *in_t);
    jvp_ctx c = {malloc((size_t)(f->n_nodes + 1) * sizeof *c.tan), wrt};
    jx_fn *g = NULL;
    if (!in_t || !c.tan) {
        util_err("jvp: out of memory");
    } else {
        int n = f->n_in;
        for (int i = 0; i < f->n_in; i++) {
            in_t[i] = f->nodes[i].type;
            if (!wrt || wrt[i]) in_t[n++] = f->nodes[i].type;
        }
        replay_spec spec = {.what = "jvp", .n_in = n, .in_types = in_t,
                            .n_out = 2 * f->n_out, .units = 1, .start = jvp_start, .rule = jvp_node,
                            .end = jvp_end, .finish = tx_finish};
        g = replay_fn(f, &spec, &c);
    }
    free(in_t);
    free(c.tan);
    return g;
}
