/* The shape family: broadcast_in_dim, reshape, transpose, slice, pad, concatenate, rev.
 * These move elements without computing on them, so the interpreter copies whole
 * elements (dtype size bytes) and never looks at their values. Semantics follow XLA.
 * This file: the family's table and the rules of the index maps (broadcast_in_dim,
 * reshape, transpose, slice, rev: out[i] = x[map(i)]); pad and concatenate are in
 * shape_pad.c, the transformation rules of all seven in shape_tx.c. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transform/transform.h"
#include "core/util.h"
#include "prims/shape.h"


/* Attribute k of at (an empty vector when at is NULL or the slot is empty). */
static shp_vec shp_attr(const jx_attrs *at, int k) {
    shp_vec r = {0, NULL};
    if (at && at->n[k] > 0 && at->v[k]) {
        r.n = at->n[k];
        r.v = at->v[k];
    }
    return r;
}

/* Formats a vector as "(a,b,c)" into buf (truncated to fit); returns buf. */
static const char *shp_vec_str(shp_vec a, char *buf, size_t len) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < a.n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)a.v[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
    return buf;
}

/* 0 if the vector `name` has exactly `want` entries, else an error naming it. */
int shp_want_len(const char *name, shp_vec a, int want, const char *of, char *err,
                        size_t errlen) {
    if (a.n == want) return 0;
    char b[256];
    return util_errbuf(err, errlen, "%s %s has %d entries, expected %d (the %s)", name,
                    shp_vec_str(a, b, sizeof b), a.n, want, of);
}

/* Checks that `name` holds distinct axes in [0, rank); 0 or -1 with a message. */
static int shp_check_axes(const char *name, shp_vec a, int rank, char *err, size_t errlen) {
    char b[256];
    for (int i = 0; i < a.n; i++) {
        if (a.v[i] < 0 || a.v[i] >= rank)
            return util_errbuf(err, errlen, "axis %lld out of range for rank %d",
                            (long long)a.v[i], rank);
        for (int j = 0; j < i; j++)
            if (a.v[j] == a.v[i])
                return util_errbuf(err, errlen, "axis %lld appears twice in %s %s",
                                (long long)a.v[i], name, shp_vec_str(a, b, sizeof b));
    }
    return 0;
}

/* Checks a shape given as an attribute (rank <= JX_MAX_RANK, dims >= 0, element count
 * representable) and copies it into out with dtype dt. */
static int shp_shape_attr(const char *name, shp_vec s, jx_dtype dt, jx_type *out, char *err,
                          size_t errlen) {
    char b[256];
    if (s.n > JX_MAX_RANK)
        return util_errbuf(err, errlen, "%s %s has rank %d, more than %d", name,
                        shp_vec_str(s, b, sizeof b), s.n, JX_MAX_RANK);
    for (int i = 0; i < s.n; i++)
        if (s.v[i] < 0)
            return util_errbuf(err, errlen, "%s %s has a negative dimension", name,
                            shp_vec_str(s, b, sizeof b));
    if (util_numel(s.n, s.v) < 0)
        return util_errbuf(err, errlen, "%s %s has too many elements", name,
                        shp_vec_str(s, b, sizeof b));
    out->dtype = dt;
    out->rank = s.n;
    memset(out->shape, 0, sizeof out->shape);
    for (int i = 0; i < s.n; i++) out->shape[i] = s.v[i];
    return 0;
}

/* ---- shape rules ------------------------------------------------------------------- */

/* broadcast_in_dim: operand dim i goes to output dim dims[i] (strictly increasing); its
 * size must be 1 or the output's. */
static int shp_infer_broadcast(const jx_type *x, shp_vec shape, shp_vec dims, jx_type *out,
                               char *err, size_t errlen) {
    char b[256];
    if (shp_shape_attr("shape", shape, x->dtype, out, err, errlen) < 0) return -1;
    if (shp_want_len("broadcast_dimensions", dims, x->rank, "operand rank", err, errlen) < 0)
        return -1;
    for (int i = 0; i < dims.n; i++) {
        if (dims.v[i] < 0 || dims.v[i] >= out->rank)
            return util_errbuf(err, errlen, "broadcast_dimensions %s: %lld out of range for "
                            "output rank %d", shp_vec_str(dims, b, sizeof b),
                            (long long)dims.v[i], out->rank);
        if (i > 0 && dims.v[i] <= dims.v[i - 1])
            return util_errbuf(err, errlen, "broadcast_dimensions %s must be strictly increasing",
                            shp_vec_str(dims, b, sizeof b));
    }
    for (int i = 0; i < dims.n; i++) {
        int64_t want = out->shape[dims.v[i]];
        if (x->shape[i] != 1 && x->shape[i] != want)
            return util_errbuf(err, errlen, "operand dimension %d has size %lld, cannot broadcast "
                            "to size %lld (output dimension %lld of shape %s)", i,
                            (long long)x->shape[i], (long long)want, (long long)dims.v[i],
                            shp_vec_str(shape, b, sizeof b));
    }
    return 0;
}

/* reshape: same element count, row-major. */
static int shp_infer_reshape(const jx_type *x, shp_vec sizes, jx_type *out, char *err,
                             size_t errlen) {
    char b[256];
    if (shp_shape_attr("new_sizes", sizes, x->dtype, out, err, errlen) < 0) return -1;
    int64_t have = util_numel(x->rank, x->shape), want = util_numel(out->rank, out->shape);
    if (have != want)
        return util_errbuf(err, errlen, "cannot reshape %lld elements into %s", (long long)have,
                        shp_vec_str(sizes, b, sizeof b));
    return 0;
}

/* transpose: output dim i is operand dim perm[i]; perm is a permutation of 0..rank-1. */
static int shp_infer_transpose(const jx_type *x, shp_vec perm, jx_type *out, char *err,
                               size_t errlen) {
    char b[256];
    if (shp_want_len("permutation", perm, x->rank, "operand rank", err, errlen) < 0) return -1;
    for (int i = 0; i < perm.n; i++) {
        int bad = perm.v[i] < 0 || perm.v[i] >= x->rank;
        for (int j = 0; j < i && !bad; j++) bad = perm.v[j] == perm.v[i];
        if (bad)
            return util_errbuf(err, errlen, "permutation %s is not a permutation of 0..%d",
                            shp_vec_str(perm, b, sizeof b), x->rank - 1);
    }
    *out = *x;
    for (int i = 0; i < perm.n; i++) out->shape[i] = x->shape[perm.v[i]];
    return 0;
}

/* slice: 0 <= start <= limit <= dim, stride >= 1, out = ceil((limit - start) / stride). */
static int shp_infer_slice(const jx_type *x, shp_vec start, shp_vec limit, shp_vec strides,
                           jx_type *out, char *err, size_t errlen) {
    if (shp_want_len("start_indices", start, x->rank, "operand rank", err, errlen) < 0 ||
        shp_want_len("limit_indices", limit, x->rank, "operand rank", err, errlen) < 0 ||
        shp_want_len("strides", strides, x->rank, "operand rank", err, errlen) < 0)
        return -1;
    *out = *x;
    for (int i = 0; i < x->rank; i++) {
        long long s = start.v[i], l = limit.v[i], st = strides.v[i], d = x->shape[i];
        if (s < 0) return util_errbuf(err, errlen, "dimension %d: start %lld is negative", i, s);
        if (s > l)
            return util_errbuf(err, errlen, "dimension %d: start %lld is past limit %lld", i, s, l);
        if (l > d)
            return util_errbuf(err, errlen, "dimension %d: limit %lld is past the size %lld", i,
                            l, d);
        if (st < 1) return util_errbuf(err, errlen, "dimension %d: stride %lld must be >= 1", i, st);
        out->shape[i] = l == s ? 0 : (l - s - 1) / st + 1;
    }
    return 0;
}

/* Shape rule of the family: checks the operand types are well formed, then dispatches. */
static int shp_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    int want = op == JX_OP_PAD ? 2 : op == JX_OP_CONCATENATE ? -1 : 1;
    if (want >= 0 ? nin != want : nin < 1)
        return util_errbuf(err, errlen, "got %d operands", nin);
    for (int k = 0; k < nin; k++)
        if ((unsigned)in[k].dtype >= JX_NDTYPES || util_numel(in[k].rank, in[k].shape) < 0)
            return util_errbuf(err, errlen, "operand %d has an invalid type", k);
    shp_vec a0 = shp_attr(at, 0), a1 = shp_attr(at, 1), a2 = shp_attr(at, 2);
    switch (op) {
    case JX_OP_BROADCAST_IN_DIM: return shp_infer_broadcast(&in[0], a0, a1, out, err, errlen);
    case JX_OP_RESHAPE: return shp_infer_reshape(&in[0], a0, out, err, errlen);
    case JX_OP_TRANSPOSE: return shp_infer_transpose(&in[0], a0, out, err, errlen);
    case JX_OP_SLICE: return shp_infer_slice(&in[0], a0, a1, a2, out, err, errlen);
    case JX_OP_PAD: return shp_infer_pad(&in[0], &in[1], a0, a1, a2, out, err, errlen);
    case JX_OP_CONCATENATE: return shp_infer_concat(nin, in, a0, out, err, errlen);
    case JX_OP_REV:
        if (shp_check_axes("dimensions", a0, in[0].rank, err, errlen) < 0) return -1;
        *out = in[0];
        return 0;
    default: return util_errbuf(err, errlen, "not a shape primitive");
    }
}

/* ---- reference interpreter --------------------------------------------------------- */

/* The multi-index of row-major flat index i in shape (rank dims). */
void shp_unravel(int64_t i, int rank, const int64_t *shape, int64_t *idx) {
    for (int k = rank - 1; k >= 0; k--) {
        idx[k] = shape[k] ? i % shape[k] : 0;
        i = shape[k] ? i / shape[k] : 0;
    }
}

/* Copies element si of src to element di of dst (esz bytes each). */
void shp_copy1(char *dst, int64_t di, const char *src, int64_t si, size_t esz) {
    memcpy(dst + (size_t)di * esz, src + (size_t)si * esz, esz);
}

/* out[o] = x[index of o in x] for the gather-style ops (broadcast, transpose, slice, rev):
 * each output element reads exactly one operand element. */
static void shp_gather(const jx_node *n, const jx_array *x, jx_array *out) {
    const jx_type *ot = &n->type;
    jx_type xt = jx_array_type(x);
    size_t esz = jx_dtype_size(ot->dtype);
    int64_t xs[JX_MAX_RANK], o[JX_MAX_RANK], size = jx_array_size(out);
    util_strides(xt.rank, xt.shape, xs);
    const char *src = jx_array_cdata(x);
    char *dst = jx_array_data(out);
    jx_ints a0 = ir_attr_ints(n, 0), a1 = ir_attr_ints(n, 1), a2 = ir_attr_ints(n, 2);
    for (int64_t i = 0; i < size; i++) {
        shp_unravel(i, ot->rank, ot->shape, o);
        int64_t si = 0;
        switch (n->op) {
        case JX_OP_BROADCAST_IN_DIM: /* a1 = broadcast_dimensions */
            for (int k = 0; k < xt.rank; k++)
                si += (xt.shape[k] == 1 ? 0 : o[a1.v[k]]) * xs[k];
            break;
        case JX_OP_TRANSPOSE: /* output dim k is operand dim perm[k] */
            for (int k = 0; k < xt.rank; k++) si += o[k] * xs[a0.v[k]];
            break;
        case JX_OP_SLICE: /* start + o * stride */
            for (int k = 0; k < xt.rank; k++) si += (a0.v[k] + o[k] * a2.v[k]) * xs[k];
            break;
        default: { /* REV */
            int64_t idx[JX_MAX_RANK];
            memcpy(idx, o, sizeof idx);
            for (int j = 0; j < a0.n; j++) {
                int k = (int)a0.v[j];
                idx[k] = xt.shape[k] - 1 - o[k];
            }
            for (int k = 0; k < xt.rank; k++) si += idx[k] * xs[k];
        }
        }
        shp_copy1(dst, i, src, si, esz);
    }
}

/* Reference evaluation of the family. Re-checks the node against its shape rule on the
 * actual operand types first, so a malformed node is an error, never a bad access. */
static int shp_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const char *name = prim_info(n->op)->name;
    if (n->nin < 1) return util_err("%s: no operands", name);
    jx_type *ts = malloc((size_t)n->nin * sizeof *ts);
    if (!ts) return util_err("%s: out of memory", name);
    for (int k = 0; k < n->nin; k++) ts[k] = jx_array_type(in[k]);
    jx_type t, ot = jx_array_type(out);
    char err[512] = "";
    int rc = shp_infer(n->op, n->nin, ts, &n->at, &n->type, &t, err, sizeof err);
    free(ts);
    if (rc < 0) return util_err("%s: %s", name, err);
    if (!jx_type_eq(&t, &n->type) || !jx_type_eq(&ot, &n->type))
        return util_err("%s: node type does not match its operands", name);
    switch (n->op) {
    case JX_OP_RESHAPE:
        if (jx_array_nbytes(out))
            memcpy(jx_array_data(out), jx_array_cdata(in[0]), jx_array_nbytes(out));
        return 0;
    case JX_OP_PAD: shp_interp_pad(n, in[0], in[1], out); return 0;
    case JX_OP_CONCATENATE: shp_interp_concat(n, in, out); return 0;
    default: shp_gather(n, in[0], out); return 0;
    }
}

/* ---- loop lowering (the API is src/jit/lower.h) ----------------------------------- */

/* broadcast_in_dim node nd at ix: its operand at the index it maps to (in merged mode the
 * same group index, the operand's dims running along fewer root dims). */
static LLVMValueRef shp_lower_broadcast(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    lw_ix xi = lw_ix_new(xt);
    jx_ints dims = ir_attr_ints(nd, 1);
    if (ix->merged) {
        xi.merged = 1;
        for (int k = 0; k < xt->rank; k++) xi.root_dim[k] = ix->root_dim[dims.v[k]];
        return lw_eval(L, nd->in[0], &xi);
    }
    lw_multi(L, ix);
    xi.multi = 1;
    for (int k = 0; k < xt->rank; k++)
        xi.v[k] = xt->shape[k] == 1 ? lw_i64(L, 0) : ix->v[dims.v[k]];
    return lw_eval(L, nd->in[0], &xi);
}

/* The multi-index of the operand element that index map nd (transpose, slice, rev) reads
 * at output index ix, into xi. */
static void shp_lower_map(lw *L, const jx_node *nd, lw_ix *ix, lw_ix *xi) {
    LLVMBuilderRef B = L->b;
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    jx_ints a0 = ir_attr_ints(nd, 0);
    lw_multi(L, ix);
    xi->multi = 1;
    if (nd->op == JX_OP_TRANSPOSE) {
        for (int i = 0; i < a0.n; i++) xi->v[a0.v[i]] = ix->v[i];
    } else if (nd->op == JX_OP_SLICE) {
        jx_ints sd = ir_attr_ints(nd, 2);
        for (int k = 0; k < xt->rank; k++)
            xi->v[k] = LLVMBuildAdd(B, lw_i64(L, a0.v[k]),
                                    LLVMBuildMul(B, ix->v[k], lw_i64(L, sd.v[k]), ""), "");
    } else { /* rev */
        for (int k = 0; k < xt->rank; k++) xi->v[k] = ix->v[k];
        for (int j = 0; j < a0.n; j++) {
            int k = (int)a0.v[j];
            xi->v[k] = LLVMBuildSub(B, lw_i64(L, xt->shape[k] - 1), ix->v[k], "");
        }
    }
}

/* Loop lowering of the family at output index ix: the index maps evaluate their operand
 * at the mapped index (reshape at the same linear index); pad and concatenate select. */
static LLVMValueRef shp_lower(lw *L, const jx_node *nd, lw_ix *ix) {
    lw_ix xi = lw_ix_new(&L->p->nodes[nd->in[0]].type);
    switch (nd->op) {
    case JX_OP_BROADCAST_IN_DIM: return shp_lower_broadcast(L, nd, ix);
    case JX_OP_RESHAPE: xi.lin = lw_lin(L, ix); break;
    case JX_OP_PAD: return shp_lower_pad(L, nd, ix);
    case JX_OP_CONCATENATE: return shp_lower_concat(L, nd, ix);
    default: shp_lower_map(L, nd, ix, &xi); break;
    }
    return lw_eval(L, nd->in[0], &xi);
}

/* Fusion: an expanding broadcast reads each operand element many times, and pad its
 * padding value (slot 1) at every padded place; the other ops read each element once. */
static int shp_rereads(const jx_fn *f, const jx_node *n, int k) {
    if (n->op == JX_OP_PAD) return k == 1;
    if (n->op != JX_OP_BROADCAST_IN_DIM) return 0;
    jx_type t = n->type, x = f->nodes[n->in[0]].type;
    return jx_type_size(&t) > jx_type_size(&x);
}

/* The transformation rules, in shape_tx.c. */
TX_RULES_DECL(shp);

const jx_family jx_family_shape = {.infer = shp_infer,
                                   .interp = shp_interp,
                                   .vjp = shp_vjp,
                                   .jvp = shp_jvp,
                                   .batch = shp_batch,
                                   .lower = shp_lower,
                                   .rereads = shp_rereads};

/* ---- public wrappers --------------------------------------------------------------- */

/* 1 if every list has a valid length (0..JX_MAX_RANK); otherwise records the error on
 * x's trace (unless x is already poison) and returns 0. */
int shp_lists_ok(jx_loc loc, jx_val x, const char *op, int n, const jx_ints *l) {
    for (int i = 0; i < n; i++)
        if (l[i].n < 0 || l[i].n > JX_MAX_RANK) {
            if (!jx_val_bad(x))
                trace_fail(x.t, loc, op, "integer list has %d entries (must be 0..%d)", l[i].n,
                           JX_MAX_RANK);
            return 0;
        }
    return 1;
}

/* Emits op with operand x and the given attribute lists (NULL: absent). */
static jx_val shp_emit1(jx_loc loc, jx_op op, jx_val x, const jx_ints *a0, const jx_ints *a1,
                        const jx_ints *a2) {
    const jx_ints *l[3] = {a0, a1, a2};
    for (int i = 0; i < 3; i++)
        if (l[i] && !shp_lists_ok(loc, x, prim_info(op)->name, 1, l[i])) return (jx_val){x.t, -1};
    jx_attrs at = ir_attrs(a0, a1, a2, NULL);
    return trace_emit(loc, NULL, op, 1, &x, &at, NULL);
}

/* Broadcasts x to shape; operand dim i becomes output dim dims[i]. */
jx_val jx_broadcast_in_dim_at(jx_loc loc, jx_val x, jx_ints shape, jx_ints dims) {
    return shp_emit1(loc, JX_OP_BROADCAST_IN_DIM, x, &shape, &dims, NULL);
}

/* Reshapes x (row-major) to shape. */
jx_val jx_reshape_at(jx_loc loc, jx_val x, jx_ints shape) {
    return shp_emit1(loc, JX_OP_RESHAPE, x, &shape, NULL, NULL);
}

/* Permutes the dims of x: output dim i is x's dim perm[i]. */
jx_val jx_transpose_at(jx_loc loc, jx_val x, jx_ints perm) {
    return shp_emit1(loc, JX_OP_TRANSPOSE, x, &perm, NULL, NULL);
}

/* x[start:limit:strides] per dimension; empty strides mean all 1 (stored explicitly). */
jx_val jx_slice_at(jx_loc loc, jx_val x, jx_ints start, jx_ints limit, jx_ints strides) {
    if (strides.n == 0) {
        jx_type t = jx_val_type(x);
        strides.n = t.rank >= 0 && t.rank <= JX_MAX_RANK ? t.rank : 0;
        for (int i = 0; i < strides.n; i++) strides.v[i] = 1;
    }
    return shp_emit1(loc, JX_OP_SLICE, x, &start, &limit, &strides);
}

/* Reverses x along each axis in dims. */
jx_val jx_rev_at(jx_loc loc, jx_val x, jx_ints dims) {
    return shp_emit1(loc, JX_OP_REV, x, &dims, NULL, NULL);
}
