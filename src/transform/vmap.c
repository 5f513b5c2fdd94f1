/* Vectorizing map: jx_vmap. Each value of the new trace carries the position of its batch
 * axis (or TX_NOBATCH). Nodes with no batched operand are replayed as they are; the rest go
 * through their family's batch rule, which emits the batched primitive directly. */
#include <stdlib.h>

#include "core/replay.h"
#include "transform/transform.h"
#include "core/util.h"

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

/* The batch axis of every node of f (TX_NOBATCH if unbatched) and the batch size. */
typedef struct vmap_ctx {
    int *bd;
    int64_t bsize;
    const int *out_axes;
} vmap_ctx;

/* The batching rule of multi-result node i and its gets (a unit, replay.h): copied when
 * no operand is batched, else the family's batch_multi gives the results and their batch
 * axes, which become the gets' values and axes. */
static int vmap_unit(replay *r, int i, const jx_val *x, const int *xbd, int any, jx_val *ys) {
    vmap_ctx *c = r->ctx;
    const jx_node *nd = &r->f->nodes[i];
    const jx_prim_info *p = prim_info(nd->op);
    int k = ir_n_gets(r->f, i);
    for (int j = 0; j <= k; j++) c->bd[i + j] = TX_NOBATCH;
    if (!any) return replay_copy(r, i, x, ys);
    if (!p->family->batch_multi) {
        trace_fail(r->t, nd->loc, "vmap", "batching rule for '%s' not implemented", p->name);
        return -1;
    }
    return p->family->batch_multi(r->t, nd, x, xbd, c->bsize, ys, c->bd + i + 1);
}

/* The batching rule of one node: replayed as it is when no operand is batched. */
static int vmap_node(replay *r, int i, const jx_val *x, jx_val *y) {
    vmap_ctx *c = r->ctx;
    const jx_node *nd = &r->f->nodes[i];
    const jx_prim_info *p = prim_info(nd->op);
    int xbd[JX_MAX_OPERANDS], any = 0;
    for (int k = 0; k < nd->nin; k++) {
        xbd[k] = c->bd[nd->in[k]];
        any |= xbd[k] != TX_NOBATCH;
    }
    c->bd[i] = TX_NOBATCH;
    if (p->flags & JXF_MULTI) return vmap_unit(r, i, x, xbd, any, y);
    if (!any) {
        *y = tx_replay(r->t, nd, x);
        return 0;
    }
    if (!p->family->batch) {
        trace_fail(r->t, nd->loc, "vmap", "batching rule for '%s' not implemented", p->name);
        return -1;
    }
    return p->family->batch(r->t, nd, x, xbd, c->bsize, y, &c->bd[i]);
}

/* The outputs with their batch axes moved to out_axes (or checked unbatched for none). */
static int vmap_end(replay *r, jx_val *outs) {
    vmap_ctx *c = r->ctx;
    const jx_fn *f = r->f;
    for (int j = 0; j < f->n_out; j++) {
        int32_t o = f->outs[j];
        const jx_node *nd = &f->nodes[o];
        jx_val y = trace_val(r->t, r->map[o]);
        int a = c->out_axes ? c->out_axes[j] : 0;
        if (a == JX_NONE) {
            if (c->bd[o] != TX_NOBATCH) {
                trace_fail(r->t, nd->loc, "vmap", "output %d is batched but out_axes[%d] is none",
                           j, j);
                return -1;
            }
            outs[j] = y;
            continue;
        }
        int na = vmap_axis(a, nd->type.rank + 1);
        if (na < 0 || nd->type.rank + 1 > JX_MAX_RANK) {
            trace_fail(r->t, nd->loc, "vmap", "out_axes[%d] = %d out of range for output rank %d",
                       j, a, nd->type.rank);
            return -1;
        }
        y = tx_batch_front(nd->loc, y, c->bd[o], c->bsize);
        outs[j] = tx_moveaxis(nd->loc, y, 0, na);
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
    jx_type *in_t = malloc((size_t)(f->n_in + 1) * sizeof *in_t);
    vmap_ctx c = {malloc((size_t)(f->n_nodes + 1) * sizeof *c.bd), batch_size, out_axes};
    jx_fn *g = NULL;
    if (!in_t || !c.bd) {
        util_err("vmap: out of memory");
    } else if (vmap_in_types(f, in_axes, batch_size, in_t, c.bd) == 0) {
        replay_spec spec = {.what = "vmap", .n_in = f->n_in, .in_types = in_t,
                            .n_out = f->n_out, .units = 1, .rule = vmap_node, .end = vmap_end,
                            .finish = tx_finish};
        g = replay_fn(f, &spec, &c);
    }
    free(in_t);
    free(c.bd);
    return g;
}
