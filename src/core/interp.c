/* The reference interpreter: runs a jx_fn node by node with each family's interp rule.
 * Naive and obviously right; the oracle every compiled path is tested against. */
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/util.h"

/* Checks the arguments of jx_interp against f's input types. */
static int interp_check_args(const jx_fn *f, jx_array *const *in, jx_array **out) {
    if (!f) return util_err("interp: NULL function");
    if (f->n_in > 0 && !in) return util_err("interp: NULL input list for %d inputs", f->n_in);
    if (f->n_out > 0 && !out) return util_err("interp: NULL output list for %d outputs", f->n_out);
    for (int i = 0; i < f->n_in; i++) {
        if (!in[i]) return util_err("interp: input %d is NULL", i);
        jx_type have = jx_array_type(in[i]);
        if (!jx_type_eq(&have, &f->nodes[i].type)) {
            char a[160], b[160];
            return util_err("interp: input %d has type %s, the function expects %s", i,
                            jx_type_str(&have, a, sizeof a),
                            jx_type_str(&f->nodes[i].type, b, sizeof b));
        }
    }
    return 0;
}

/* Evaluates single-result node nd (primitive p) on ins into a new array *out. 0, or -1
 * with jx_error set. */
static int interp_node(const jx_node *nd, const jx_prim_info *p, jx_array *const *ins,
                       jx_array **out) {
    *out = jx_array_new_type(&nd->type);
    if (!*out) {
        char ts[160];
        return util_err("interp: %s (%s:%d): cannot allocate %s", p->name,
                        nd->loc.file ? nd->loc.file : "?", nd->loc.line,
                        jx_type_str(&nd->type, ts, sizeof ts));
    }
    return p->family->interp(nd, ins, *out);
}

/* Runs f on in, storing new arrays in out (see jx.h). */
int jx_interp(const jx_fn *f, jx_array *const *in, jx_array **out) {
    if (interp_check_args(f, in, out) < 0) return -1;
    for (int i = 0; i < f->n_out; i++) out[i] = NULL;
    int n = f->n_nodes;
    jx_array **val = calloc((size_t)n + 1, sizeof *val);
    int *last = malloc(((size_t)n + 1) * sizeof *last);
    if (!val || !last) {
        free(val);
        free(last);
        return util_err("interp: out of memory");
    }
    /* last use of each node, so intermediates are released early; outputs live to the end */
    for (int i = 0; i < n; i++) last[i] = i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < f->nodes[i].nin; k++) last[f->nodes[i].in[k]] = i;
    for (int i = 0; i < f->n_out; i++) last[f->outs[i]] = n;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const jx_node *nd = &f->nodes[i];
        if (i < f->n_in) {
            val[i] = jx_array_retain(in[i]);
            continue;
        }
        const jx_prim_info *p = prim_info(nd->op);
        if (nd->op == JX_OP_GET) continue; /* filled by its multi-result node */
        jx_array *ins[JX_MAX_OPERANDS];
        for (int k = 0; k < nd->nin && k < JX_MAX_OPERANDS; k++) ins[k] = val[nd->in[k]];
        if (p->flags & JXF_MULTI) {
            /* the results go straight to the gets that follow (ir.h) */
            if (p->family->interp_multi(nd, ins, val + i + 1) < 0) rc = -1;
        } else if (interp_node(nd, p, ins, &val[i]) < 0) {
            rc = -1;
        }
        if (rc < 0) break;
        for (int k = 0; k < nd->nin; k++) {
            int32_t o = nd->in[k];
            if (last[o] == i && val[o]) {
                jx_array_free(val[o]);
                val[o] = NULL;
            }
        }
    }
    if (rc == 0)
        for (int i = 0; i < f->n_out; i++) out[i] = jx_array_retain(val[f->outs[i]]);
    for (int i = 0; i < n; i++) jx_array_free(val[i]);
    free(val);
    free(last);
    return rc;
}
