/* Vectorizing map: jx_vmap. Each value of the new trace carries the position of its batch
 * axis (or TX_NOBATCH). Nodes with no batched operand are replayed as they are; the rest go
 * through their family's batch rule, which emits the batched primitive directly. */
#include <stdlib.h>

#include "transform.h"
#include "util.h"

/* Normalizes axis a for a batched rank (per-example rank + 1); -1 if out of range. */
static int vmap_axis(int a, int batched_rank) {
    if (a < 0) a += batched_rank;
    return a >= 0 && a < batched_rank ? a : -1;
}

/* Checks the axes and builds the batched input types. */
static int vmap_in_types(const jx_fn *f, const int *in_axes, int64_t bsize, jx_type *in_t,
                         int *bd) {
    for (int i = 0; i < f->n_in; i++) {
        jx_type ty = f->nodes[i].type;
        int a = in_axes ? in_axes[i] : 0;
        if (a == JX_NONE) {
            in_t[i] = ty;
            bd[i] = TX_NOBATCH;
            continue;
        }
        char ts[160];
        if (ty.rank + 1 > JX_MAX_RANK)
            return util_err("vmap: input %d of type %s cannot get a batch axis (rank limit %d)",
                            i, jx_type_str(&ty, ts, sizeof ts), JX_MAX_RANK);
        int na = vmap_axis(a, ty.rank + 1);
        if (na < 0)
            return util_err("vmap: in_axes[%d] = %d out of range for input type %s", i, a,
                            jx_type_str(&ty, ts, sizeof ts));
        in_t[i].dtype = ty.dtype;
        in_t[i].rank = ty.rank + 1;
        for (int d = 0, s = 0; d < ty.rank + 1; d++)
            in_t[i].shape[d] = d == na ? bsize : ty.shape[s++];
        bd[i] = na;
        char why[200];
        if (ir_type_check(&in_t[i], why, sizeof why) < 0)
            return util_err("vmap: input %d of type %s batched %lld times %s", i,
                            jx_type_str(&ty, ts, sizeof ts), (long long)bsize, why);
    }
    return 0;
}

/* See jx.h. */
jx_fn *jx_vmap(const jx_fn *f, const int *in_axes, const int *out_axes, int64_t batch_size) {
    if (!f) {
        util_err("vmap: NULL function");
        return NULL;
    }
    if (batch_size < 0 || batch_size > ((int64_t)1 << 40)) {
        util_err("vmap: batch size %lld out of range", (long long)batch_size);
        return NULL;
    }
    int n = f->n_nodes;
    jx_type *in_t = malloc((size_t)(f->n_in + 1) * sizeof *in_t);
    int32_t *map = malloc((size_t)(n + 1) * sizeof *map);
    int *bd = malloc((size_t)(n + 1) * sizeof *bd);
    jx_val *outs = malloc((size_t)(f->n_out + 1) * sizeof *outs);
    jx_trace *t = NULL;
    jx_fn *g = NULL;
    if (!in_t || !map || !bd || !outs) {
        util_err("vmap: out of memory");
        goto done;
    }
    if (vmap_in_types(f, in_axes, batch_size, in_t, bd) < 0) goto done;
    t = jx_trace_begin(f->n_in, in_t);
    if (!t) goto done;
    for (int i = 0; i < f->n_in; i++) map[i] = i;
    for (int i = f->n_in; i < n; i++) {
        const jx_node *nd = &f->nodes[i];
        const jx_prim_info *p = prim_info(nd->op);
        jx_val x[64];
        int xbd[64], any = 0;
        for (int k = 0; k < nd->nin && k < 64; k++) {
            x[k] = trace_val(t, map[nd->in[k]]);
            xbd[k] = bd[nd->in[k]];
            any |= xbd[k] != TX_NOBATCH;
        }
        jx_val y;
        bd[i] = TX_NOBATCH;
        if (!any) {
            y = tx_replay(t, nd, x);
        } else if (!p->family->batch) {
            trace_fail(t, nd->loc, "vmap", "batching rule for '%s' not implemented", p->name);
            goto fail;
        } else if (p->family->batch(t, nd, x, xbd, batch_size, &y, &bd[i]) < 0) {
            goto fail;
        }
        if (jx_val_bad(y)) goto fail;
        map[i] = y.id;
    }
    for (int j = 0; j < f->n_out; j++) {
        int32_t o = f->outs[j];
        const jx_node *nd = &f->nodes[o];
        jx_val y = trace_val(t, map[o]);
        int a = out_axes ? out_axes[j] : 0;
        if (a == JX_NONE) {
            if (bd[o] != TX_NOBATCH) {
                trace_fail(t, nd->loc, "vmap", "output %d is batched but out_axes[%d] is none", j, j);
                goto fail;
            }
            outs[j] = y;
            continue;
        }
        int na = vmap_axis(a, nd->type.rank + 1);
        if (na < 0 || nd->type.rank + 1 > JX_MAX_RANK) {
            trace_fail(t, nd->loc, "vmap", "out_axes[%d] = %d out of range for output rank %d", j,
                       a, nd->type.rank);
            goto fail;
        }
        y = tx_batch_front(nd->loc, y, bd[o], batch_size);
        outs[j] = tx_moveaxis(nd->loc, y, 0, na);
    }
    g = tx_finish(t, f->n_out, outs);
    goto done;
fail:
    tx_abort(t);
done:
    free(in_t);
    free(map);
    free(bd);
    free(outs);
    return g;
}
