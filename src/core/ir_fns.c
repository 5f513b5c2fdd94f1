/* Sub-functions of IR nodes (function-valued attributes): shared references, and the
 * structural equality and hash that CSE uses to merge two nodes only when their
 * sub-functions are the same function. */
#include <string.h>

#include "core/ir.h"

/* See ir.h. */
jx_fn *ir_fn_retain(const jx_fn *f) {
    jx_fn *m = (jx_fn *)f; /* the count is the only field a reference changes */
    if (m) atomic_fetch_add(&m->refs, 1);
    return m;
}

/* 1 if the constants a and b (either may be NULL) are one array, or hold the same type
 * and bytes and have at most max elements (max < 0: any number). */
static int ir_value_equal(jx_array *a, jx_array *b, int64_t max) {
    if (a == b) return 1;
    if (!a || !b || (max >= 0 && jx_array_size(a) > max)) return 0;
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    size_t nb = jx_array_nbytes(a);
    return jx_type_eq(&ta, &tb) && nb == jx_array_nbytes(b) &&
           memcmp(jx_array_cdata(a), jx_array_cdata(b), nb) == 0;
}

/* See ir.h. */
int ir_node_equal(const jx_node *a, const jx_node *b, int64_t max_const) {
    if (a->op != b->op || a->nin != b->nin || !jx_type_eq(&a->type, &b->type)) return 0;
    for (int k = 0; k < a->nin; k++)
        if (a->in[k] != b->in[k]) return 0;
    for (int k = 0; k < JX_MAX_ATTRS; k++) {
        if (a->at.n[k] != b->at.n[k]) return 0;
        for (int i = 0; i < a->at.n[k]; i++)
            if (a->at.v[k][i] != b->at.v[k][i]) return 0;
    }
    return ir_value_equal(a->at.value, b->at.value, max_const) && ir_fns_equal(&a->at, &b->at);
}

/* See ir.h. */
int ir_fn_equal(const jx_fn *a, const jx_fn *b) {
    if (a == b) return 1;
    if (!a || !b || a->n_in != b->n_in || a->n_nodes != b->n_nodes || a->n_out != b->n_out)
        return 0;
    for (int i = 0; i < a->n_out; i++)
        if (a->outs[i] != b->outs[i]) return 0;
    for (int i = 0; i < a->n_nodes; i++)
        if (!ir_node_equal(&a->nodes[i], &b->nodes[i], -1)) return 0;
    return 1;
}

/* See ir.h. */
int ir_fns_equal(const jx_attrs *a, const jx_attrs *b) {
    if (a->n_fns != b->n_fns) return 0;
    for (int k = 0; k < a->n_fns; k++)
        if (!ir_fn_equal(a->fns[k], b->fns[k])) return 0;
    return 1;
}

#define IR_MIX(h, x) ((h) = ((h) ^ (uint64_t)(x)) * 1099511628211ULL)

/* See ir.h: FNV-1a over the structure ir_fn_equal compares (constants by size only). */
uint64_t ir_fn_hash(const jx_fn *f) {
    uint64_t h = 1469598103934665603ULL;
    if (!f) return h;
    IR_MIX(h, f->n_in);
    IR_MIX(h, f->n_nodes);
    IR_MIX(h, f->n_out);
    for (int i = 0; i < f->n_out; i++) IR_MIX(h, f->outs[i]);
    for (int i = 0; i < f->n_nodes; i++) {
        const jx_node *n = &f->nodes[i];
        IR_MIX(h, n->op);
        IR_MIX(h, n->nin);
        for (int k = 0; k < n->nin; k++) IR_MIX(h, n->in[k]);
        IR_MIX(h, n->type.dtype);
        IR_MIX(h, n->type.rank);
        for (int d = 0; d < n->type.rank && d < JX_MAX_RANK; d++) IR_MIX(h, n->type.shape[d]);
        for (int k = 0; k < JX_MAX_ATTRS; k++)
            for (int j = 0; j < n->at.n[k]; j++) IR_MIX(h, n->at.v[k][j]);
        IR_MIX(h, n->at.value ? jx_array_nbytes(n->at.value) : 0);
        for (int k = 0; k < n->at.n_fns; k++) IR_MIX(h, ir_fn_hash(n->at.fns[k]));
    }
    return h;
}
