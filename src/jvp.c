/* Forward mode: jx_jvp. Walks f in order, re-emitting each primal node and calling its
 * family's jvp rule when any operand has a tangent. Tangents are symbolic zeros until a
 * differentiable input reaches them. */
#include <stdlib.h>

#include "transform.h"
#include "util.h"

/* See jx.h. */
jx_fn *jx_jvp(const jx_fn *f) {
    if (!f) {
        util_err("jvp: NULL function");
        return NULL;
    }
    int n = f->n_nodes;
    jx_type *in_t = malloc((size_t)(2 * f->n_in + 1) * sizeof *in_t);
    int32_t *map = malloc((size_t)(n + 1) * sizeof *map);
    jx_val *tan = malloc((size_t)(n + 1) * sizeof *tan);
    jx_val *outs = malloc((size_t)(2 * f->n_out + 1) * sizeof *outs);
    jx_trace *t = NULL;
    jx_fn *g = NULL;
    if (!in_t || !map || !tan || !outs) {
        util_err("jvp: out of memory");
        goto done;
    }
    for (int i = 0; i < f->n_in; i++) in_t[i] = in_t[f->n_in + i] = f->nodes[i].type;
    t = jx_trace_begin(2 * f->n_in, in_t);
    if (!t) goto done;
    for (int i = 0; i < f->n_in; i++) {
        map[i] = i;
        tan[i] = tx_is_float(f->nodes[i].type.dtype) ? trace_val(t, f->n_in + i) : TX_ZERO;
    }
    for (int i = f->n_in; i < n; i++) {
        const jx_node *nd = &f->nodes[i];
        const jx_prim_info *p = prim_info(nd->op);
        jx_val x[64], dx[64];
        int any = 0;
        for (int k = 0; k < nd->nin && k < 64; k++) {
            x[k] = trace_val(t, map[nd->in[k]]);
            dx[k] = tan[nd->in[k]];
            any |= !tx_is_zero(dx[k]);
        }
        jx_val y = tx_replay(t, nd, x);
        if (jx_val_bad(y)) goto fail;
        map[i] = y.id;
        tan[i] = TX_ZERO;
        if (!any || (p->flags & JXF_NOGRAD) || nd->op == JX_OP_STOP_GRADIENT ||
            !tx_is_float(nd->type.dtype))
            continue;
        if (!p->family->jvp) {
            trace_fail(t, nd->loc, "jvp", "differentiation rule for '%s' not implemented",
                       p->name);
            goto fail;
        }
        if (p->family->jvp(t, nd, x, y, dx, &tan[i]) < 0 || jx_trace_error(t)) goto fail;
    }
    for (int j = 0; j < f->n_out; j++) {
        int32_t o = f->outs[j];
        outs[j] = trace_val(t, map[o]);
        outs[f->n_out + j] = tx_is_zero(tan[o]) ? tx_zeros(f->nodes[o].loc, t, &f->nodes[o].type)
                                                : tan[o];
    }
    g = tx_finish(t, 2 * f->n_out, outs);
    goto done;
fail:
    tx_abort(t);
done:
    free(in_t);
    free(map);
    free(tan);
    free(outs);
    return g;
}
