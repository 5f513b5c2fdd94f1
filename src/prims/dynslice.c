/* The dynamic slicing family: dynamic_slice and dynamic_update_slice (XLA's DynamicSlice
 * and DynamicUpdateSlice, lax.dynamic_slice / lax.dynamic_update_slice). This file: the
 * family's table, shape rules, reference interpreter, loop lowering and the public
 * constructors; the transformation rules are in dynslice_tx.c.
 *
 *   dynamic_slice[slice_sizes=z] x s_0 .. s_{r-1}           x: d_0..d_{r-1}  -> z
 *   dynamic_update_slice x u s_0 .. s_{r-1}                  u: z, z_k <= d_k -> x's type
 *
 * Each start s_k is an i32 scalar, clamped to e_k = min(max(s_k, 0), d_k - z_k) so the
 * window [e, e + z) lies inside x (XLA's rule; the constructors first wrap a negative
 * start to s + d as lax.dynamic_slice does by default). Elements are moved, never
 * computed on, so every dtype works and the JIT matches the interpreter bit for bit.
 *
 * Batch of windows (what vmap emits for batched starts, a gather with one window per
 * index): the starts may all have one array shape S (rank m) instead of being scalars.
 * Then dynamic_slice's result is S ++ z, window p read from a shared x (rank r) or from
 * slab p of a per-window x of shape S ++ d; dynamic_update_slice's x and u are S ++ d and
 * S ++ z, window p written into slab p. Cost stays O(output): each output element reads
 * one element. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "jit/lower.h"
#include "prims/dynslice.h"

/* ---- shape rules ------------------------------------------------------------------- */

/* The layout of a node: r starts of common shape S (rank m); x per-window (rank m + r,
 * leading dims S) or shared (rank r); dims = x's last r dims, sizes = the window's. */
typedef struct dyn_form {
    int r, m, per;
    int64_t dims[JX_MAX_RANK], sizes[JX_MAX_RANK];
} dyn_form;

/* Checks the r starts s[0..r) (i32, one common shape); their rank, or -1 with a message. */
static int dyn_starts(const jx_type *s, int r, char *err, size_t errlen) {
    char b1[160], b2[160];
    if (r > JX_MAX_RANK)
        return util_errbuf(err, errlen, "%d start indices, more than the rank limit %d", r,
                           JX_MAX_RANK);
    for (int k = 0; k < r; k++) {
        if (s[k].dtype != JX_I32)
            return util_errbuf(err, errlen, "start index %d has type %s, expected i32[]", k,
                               jx_type_str(&s[k], b1, sizeof b1));
        if (!jx_type_eq(&s[k], &s[0]))
            return util_errbuf(err, errlen, "start index %d has type %s but start index 0 has "
                               "%s (they must agree)", k, jx_type_str(&s[k], b1, sizeof b1),
                               jx_type_str(&s[0], b2, sizeof b2));
    }
    return r ? s[0].rank : 0;
}

/* 1 if a's first m dims equal s's shape (m = s's rank). */
static int dyn_lead_eq(const jx_type *a, const jx_type *s, int m) {
    if (a->rank < m) return 0;
    for (int i = 0; i < m; i++)
        if (a->shape[i] != s->shape[i]) return 0;
    return 1;
}

/* Fills f for operand x (per-window or shared) and r starts s[0..r). 0 or -1. */
static int dyn_form_of(const jx_type *x, const jx_type *s, int r, int shared_ok, dyn_form *f,
                       char *err, size_t errlen) {
    char b[160];
    int m = dyn_starts(s, r, err, errlen);
    if (m < 0) return -1;
    f->r = r;
    f->m = m;
    int lead = x->rank == m + r && (m == 0 || dyn_lead_eq(x, &s[0], m));
    f->per = m > 0 && lead;
    if (!lead && !(shared_ok && x->rank == r)) {
        if (m == 0)
            return util_errbuf(err, errlen, "%d start indices for an operand of rank %d (one i32[] "
                               "per dimension)", r, x->rank);
        return util_errbuf(err, errlen, "%d start indices of type %s (a batch of windows) need "
                           "an operand of rank %d whose leading dims are the starts' shape%s",
                           r, jx_type_str(&s[0], b, sizeof b), m + r,
                           shared_ok ? ", or one of rank r shared by every window" : "");
    }
    for (int k = 0; k < r; k++) f->dims[k] = x->shape[x->rank - r + k];
    return 0;
}

/* dynamic_slice: the window sizes (0 <= z_k <= d_k); result S ++ z. */
static int dyn_infer_slice(int nin, const jx_type *in, const jx_attrs *at, jx_type *out,
                           char *err, size_t errlen) {
    dyn_form f;
    if (dyn_form_of(&in[0], in + 1, nin - 1, 1, &f, err, errlen) < 0) return -1;
    int n = at ? at->n[0] : 0;
    if (n != f.r)
        return util_errbuf(err, errlen, "slice_sizes has %d entries, expected %d (one per start "
                           "index)", n, f.r);
    if (f.m + f.r > JX_MAX_RANK)
        return util_errbuf(err, errlen, "result rank %d exceeds the limit %d", f.m + f.r,
                           JX_MAX_RANK);
    out->dtype = in[0].dtype;
    out->rank = f.m + f.r;
    memset(out->shape, 0, sizeof out->shape);
    for (int i = 0; i < f.m; i++) out->shape[i] = in[1].shape[i];
    for (int k = 0; k < f.r; k++) {
        int64_t z = at->v[0][k];
        if (z < 0 || z > f.dims[k])
            return util_errbuf(err, errlen, "slice size %lld of dimension %d is not in [0, %lld] "
                               "(the operand's size there)", (long long)z, k,
                               (long long)f.dims[k]);
        out->shape[f.m + k] = z;
    }
    return 0;
}

/* dynamic_update_slice: update of x's dtype and rank, no larger than x in any dimension
 * (S ++ z against S ++ d); result x's type. */
static int dyn_infer_update(int nin, const jx_type *in, jx_type *out, char *err,
                            size_t errlen) {
    char b1[160], b2[160];
    if (nin < 2) return util_errbuf(err, errlen, "needs an operand and an update, got %d", nin);
    dyn_form f;
    if (dyn_form_of(&in[0], in + 2, nin - 2, 0, &f, err, errlen) < 0) return -1;
    const jx_type *x = &in[0], *u = &in[1];
    if (u->dtype != x->dtype)
        return util_errbuf(err, errlen, "update dtype %s differs from operand dtype %s",
                           jx_dtype_name(u->dtype), jx_dtype_name(x->dtype));
    int bad = u->rank != x->rank || !dyn_lead_eq(u, x, f.m);
    for (int i = 0; i < u->rank && !bad; i++) bad = u->shape[i] > x->shape[i];
    if (bad)
        return util_errbuf(err, errlen, "update %s does not fit in operand %s", jx_type_str(u, b1,
                           sizeof b1), jx_type_str(x, b2, sizeof b2));
    *out = *x;
    return 0;
}

/* Shape rule of the family. */
static int dyn_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    (void)hint;
    if (nin < 1) return util_errbuf(err, errlen, "got %d operands", nin);
    for (int k = 0; k < nin; k++)
        if ((unsigned)in[k].dtype >= JX_NDTYPES || in[k].rank < 0 || in[k].rank > JX_MAX_RANK ||
            util_numel(in[k].rank, in[k].shape) < 0)
            return util_errbuf(err, errlen, "operand %d has an invalid type", k);
    if (op == JX_OP_DYNAMIC_SLICE) return dyn_infer_slice(nin, in, at, out, err, errlen);
    if (op == JX_OP_DYNAMIC_UPDATE_SLICE) return dyn_infer_update(nin, in, out, err, errlen);
    return util_errbuf(err, errlen, "not a dynamic slicing primitive");
}

/* ---- reference interpreter --------------------------------------------------------- */

/* The clamped starts e[0..r) of window p: s[k][p] clamped to [0, dims[k] - sizes[k]]. */
static void dyn_clamped(jx_array *const *s, int r, int64_t p, const int64_t *dims,
                        const int64_t *sizes, int64_t *e) {
    for (int k = 0; k < r; k++) {
        int32_t v;
        memcpy(&v, (const char *)jx_array_cdata(s[k]) + 4 * p, 4);
        int64_t hi = dims[k] - sizes[k], c = v;
        e[k] = c < 0 ? 0 : c > hi ? hi : c;
    }
}

/* Linear index in a (dims) block of window element o (in a sizes block) shifted by e. */
static int64_t dyn_offset(int r, int64_t j, const int64_t *sizes, const int64_t *strides,
                          const int64_t *e) {
    int64_t off = 0;
    for (int k = r - 1; k >= 0; k--) {
        int64_t o = sizes[k] ? j % sizes[k] : 0;
        j = sizes[k] ? j / sizes[k] : 0;
        off += (o + e[k]) * strides[k];
    }
    return off;
}

/* Moves every window: dynamic_slice copies window p of x into block p of out;
 * dynamic_update_slice (out already holds x) copies block p of u into window p of out. */
static void dyn_move(const jx_node *n, const dyn_form *f, jx_array *const *in, jx_array *out) {
    int upd = n->op == JX_OP_DYNAMIC_UPDATE_SLICE;
    size_t esz = jx_dtype_size(n->type.dtype);
    jx_array *const *s = in + 1 + upd;
    int64_t strides[JX_MAX_RANK], e[JX_MAX_RANK];
    util_strides(f->r, f->dims, strides);
    int64_t np = f->r ? jx_array_size(s[0]) : 1, zsize = util_numel(f->r, f->sizes);
    int64_t slab = f->per || upd ? util_numel(f->r, f->dims) : 0;
    const char *src = jx_array_cdata(in[upd]);
    char *dst = jx_array_data(out);
    for (int64_t p = 0; p < np && zsize > 0; p++) {
        dyn_clamped(s, f->r, p, f->dims, f->sizes, e);
        for (int64_t j = 0; j < zsize; j++) {
            int64_t w = p * slab + dyn_offset(f->r, j, f->sizes, strides, e), b = p * zsize + j;
            memcpy(dst + (size_t)(upd ? w : b) * esz, src + (size_t)(upd ? b : w) * esz, esz);
        }
    }
}

/* Reference evaluation. Re-checks the node against its shape rule on the actual operand
 * types first, so a malformed node is an error, never a bad access. */
static int dyn_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const char *name = prim_info(n->op)->name;
    if (n->nin < 1 || n->nin > JX_MAX_OPERANDS) return util_err("%s: bad operand count", name);
    jx_type ts[JX_MAX_OPERANDS], t, ot = jx_array_type(out);
    for (int k = 0; k < n->nin; k++) ts[k] = jx_array_type(in[k]);
    char err[512] = "";
    if (dyn_infer(n->op, n->nin, ts, &n->at, &n->type, &t, err, sizeof err) < 0)
        return util_err("%s: %s", name, err);
    if (!jx_type_eq(&t, &n->type) || !jx_type_eq(&ot, &n->type))
        return util_err("%s: node type does not match its operands", name);
    int upd = n->op == JX_OP_DYNAMIC_UPDATE_SLICE;
    dyn_form f;
    dyn_form_of(&ts[0], ts + 1 + upd, n->nin - 1 - upd, !upd, &f, err, sizeof err);
    for (int k = 0; k < f.r; k++)
        f.sizes[k] = upd ? ts[1].shape[ts[1].rank - f.r + k] : n->at.v[0][k];
    if (upd && jx_array_nbytes(out))
        memcpy(jx_array_data(out), jx_array_cdata(in[0]), jx_array_nbytes(out));
    dyn_move(n, &f, in, out);
    return 0;
}

/* ---- loop lowering (the API is src/jit/lower.h) ----------------------------------- */

/* The clamped starts e[0..r) (i64) of the window that output index ix (multi-index
 * available) lies in: the starts read at ix's first m dims. */
static void dyn_lower_starts(lw *L, const jx_node *nd, int first, const dyn_form *f, lw_ix *ix,
                             LLVMValueRef *e) {
    LLVMBuilderRef B = L->b;
    if (f->r == 0) return;
    lw_ix si = lw_ix_new(&L->p->nodes[nd->in[first]].type);
    si.multi = 1;
    for (int i = 0; i < f->m; i++) si.v[i] = ix->v[i];
    lw_lin(L, &si); /* computed here, before any operand's code, so it dominates */
    for (int k = 0; k < f->r; k++) {
        lw_ix c = si;
        LLVMValueRef v = LLVMBuildSExt(B, lw_eval(L, nd->in[first + k], &c), L->i64, "");
        LLVMValueRef hi = lw_i64(L, f->dims[k] - f->sizes[k]), zero = lw_i64(L, 0);
        v = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, v, zero, ""), zero, v, "");
        e[k] = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, v, hi, ""), hi, v, "");
    }
}

/* The layout of node nd in the plan (checked by its shape rule when it was made). */
static dyn_form dyn_plan_form(lw *L, const jx_node *nd) {
    int upd = nd->op == JX_OP_DYNAMIC_UPDATE_SLICE;
    const jx_type *x = &L->p->nodes[nd->in[0]].type, *u = upd ? &L->p->nodes[nd->in[1]].type : x;
    dyn_form f;
    f.r = nd->nin - 1 - upd;
    f.m = f.r ? L->p->nodes[nd->in[1 + upd]].type.rank : 0;
    f.per = f.m > 0 && x->rank == f.m + f.r;
    for (int k = 0; k < f.r; k++) {
        f.dims[k] = x->shape[x->rank - f.r + k];
        f.sizes[k] = upd ? u->shape[u->rank - f.r + k] : ir_attr_ints(nd, 0).v[k];
    }
    return f;
}

/* dynamic_slice at ix: x at the window's element (an index map with runtime offsets). */
static LLVMValueRef dyn_lower_slice(lw *L, const jx_node *nd, lw_ix *ix) {
    dyn_form f = dyn_plan_form(L, nd);
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    LLVMValueRef e[JX_MAX_RANK];
    lw_multi(L, ix);
    dyn_lower_starts(L, nd, 1, &f, ix, e);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    for (int i = 0; i < f.m && f.per; i++) xi.v[i] = ix->v[i];
    for (int k = 0; k < f.r; k++)
        xi.v[xt->rank - f.r + k] = LLVMBuildAdd(L->b, ix->v[f.m + k], e[k], "");
    return lw_eval(L, nd->in[0], &xi);
}

/* dynamic_update_slice at ix: the update's element where ix is inside the window (its
 * index elsewhere 0, never out of bounds), x's otherwise; a select, no branch. */
static LLVMValueRef dyn_lower_update(lw *L, const jx_node *nd, lw_ix *ix) {
    LLVMBuilderRef B = L->b;
    const jx_type *ut = &L->p->nodes[nd->in[1]].type;
    lw_multi(L, ix);
    lw_ix xi = *ix;
    if (jx_type_size(ut) == 0) return lw_eval(L, nd->in[0], &xi);
    dyn_form f = dyn_plan_form(L, nd);
    LLVMValueRef e[JX_MAX_RANK], rel[JX_MAX_RANK], in = LLVMConstInt(L->i1, 1, 0);
    dyn_lower_starts(L, nd, 2, &f, ix, e);
    for (int k = 0; k < f.r; k++) {
        rel[k] = LLVMBuildSub(B, ix->v[f.m + k], e[k], "");
        in = LLVMBuildAnd(B, in, LLVMBuildICmp(B, LLVMIntULT, rel[k], lw_i64(L, f.sizes[k]), ""), "");
    }
    lw_ix ui = lw_ix_new(ut);
    ui.multi = 1;
    for (int i = 0; i < f.m; i++) ui.v[i] = ix->v[i];
    for (int k = 0; k < f.r; k++) ui.v[f.m + k] = LLVMBuildSelect(B, in, rel[k], lw_i64(L, 0), "");
    LLVMValueRef vu = lw_eval(L, nd->in[1], &ui), vx = lw_eval(L, nd->in[0], &xi);
    return LLVMBuildSelect(B, in, vu, vx, "");
}

/* Loop lowering of the family at output index ix. */
static LLVMValueRef dyn_lower(lw *L, const jx_node *nd, lw_ix *ix) {
    return nd->op == JX_OP_DYNAMIC_SLICE ? dyn_lower_slice(L, nd, ix) : dyn_lower_update(L, nd, ix);
}

/* Fusion: the starts are read at every output element; a shared x under a batch of
 * windows may be read once per window; an update smaller than x is read at index 0
 * outside its window. Otherwise each operand element is read at most once. */
static int dyn_rereads(const jx_fn *f, const jx_node *n, int k) {
    int upd = n->op == JX_OP_DYNAMIC_UPDATE_SLICE;
    if (k > upd) return 1;
    jx_type t = n->type, a = f->nodes[n->in[k]].type;
    if (upd) return k == 1 && jx_type_size(&a) < jx_type_size(&t);
    int r = n->nin - 1;
    return r > 0 && a.rank == r && f->nodes[n->in[1]].type.rank > 0 &&
           jx_type_size(&f->nodes[n->in[1]].type) > 1;
}

const jx_family jx_family_dynslice = {.infer = dyn_infer,
                                      .interp = dyn_interp,
                                      .vjp = dyn_vjp,
                                      .jvp = dyn_jvp,
                                      .batch = dyn_batch,
                                      .lower = dyn_lower,
                                      .rereads = dyn_rereads};

/* ---- emitters and public constructors --------------------------------------------- */

/* See dynslice.h. */
jx_val dyn_slice_emit(jx_loc loc, jx_trace *t, jx_val x, int r, const jx_val *s, jx_ints sizes) {
    jx_val ops[1 + JX_MAX_RANK];
    ops[0] = x;
    for (int k = 0; k < r; k++) ops[1 + k] = s[k];
    jx_attrs at = ir_attrs(&sizes, NULL, NULL, NULL);
    return trace_emit(loc, t, JX_OP_DYNAMIC_SLICE, 1 + r, ops, &at, NULL);
}

/* See dynslice.h. */
jx_val dyn_update_emit(jx_loc loc, jx_trace *t, jx_val x, jx_val u, int r, const jx_val *s) {
    jx_val ops[2 + JX_MAX_RANK];
    ops[0] = x;
    ops[1] = u;
    for (int k = 0; k < r; k++) ops[2 + k] = s[k];
    return trace_emit(loc, t, JX_OP_DYNAMIC_UPDATE_SLICE, 2 + r, ops, NULL, NULL);
}

/* 1 if n start indices (and `sizes` entries, when given) are a valid count; otherwise
 * records the error on the operands' trace and returns 0. */
static int dyn_counts_ok(jx_loc loc, const char *op, jx_val x, int n, const jx_val *starts,
                         const jx_ints *sizes) {
    jx_trace *t = trace_of(1, &x);
    if (n < 0 || n > JX_MAX_RANK)
        trace_fail(t, loc, op, "%d start indices (must be 0..%d, one per dimension)", n,
                   JX_MAX_RANK);
    else if (n > 0 && !starts)
        trace_fail(t, loc, op, "NULL start index list (count %d)", n);
    else if (sizes && (sizes->n < 0 || sizes->n > JX_MAX_RANK))
        trace_fail(t, loc, op, "slice_sizes has %d entries (must be 0..%d)", sizes->n,
                   JX_MAX_RANK);
    else
        return 1;
    return 0;
}

/* Start k of r as lax.dynamic_slice takes it: a negative start counts from the end of its
 * dimension (s < 0 ? s + d : s), then the primitive clamps. Left as it is when it or x is
 * not a valid i32 start of a valid operand (the shape rule reports that) or when d does
 * not fit in i32 (such a dimension has no negative start that wraps inside i32). */
static jx_val dyn_wrap(jx_loc loc, jx_val x, int r, jx_val s, int k) {
    if (jx_val_bad(x) || jx_val_bad(s)) return s;
    jx_type xt = jx_val_type(x), st = jx_val_type(s);
    if (st.dtype != JX_I32 || xt.rank < r) return s;
    int64_t d = xt.shape[xt.rank - r + k];
    if (d > INT32_MAX) return s;
    jx_val neg = jx_lt_at(loc, s, jx_scalar_at(loc, s.t, JX_I32, 0));
    return jx_select_at(loc, neg, jx_add_at(loc, s, jx_scalar_at(loc, s.t, JX_I32, (double)d)), s);
}

/* lax.dynamic_slice(x, starts, sizes): see jx/prims.h. */
jx_val jx_dynamic_slice_at(jx_loc loc, jx_val x, int n_idx, const jx_val *starts,
                           jx_ints sizes) {
    if (!dyn_counts_ok(loc, "dynamic_slice", x, n_idx, starts, &sizes)) return (jx_val){x.t, -1};
    jx_val s[JX_MAX_RANK];
    for (int k = 0; k < n_idx; k++) s[k] = dyn_wrap(loc, x, n_idx, starts[k], k);
    return dyn_slice_emit(loc, NULL, x, n_idx, s, sizes);
}

/* lax.dynamic_update_slice(x, update, starts): see jx/prims.h. */
jx_val jx_dynamic_update_slice_at(jx_loc loc, jx_val x, jx_val update, int n_idx,
                                  const jx_val *starts) {
    if (!dyn_counts_ok(loc, "dynamic_update_slice", x, n_idx, starts, NULL))
        return (jx_val){x.t, -1};
    jx_val s[JX_MAX_RANK];
    for (int k = 0; k < n_idx; k++) s[k] = dyn_wrap(loc, x, n_idx, starts[k], k);
    return dyn_update_emit(loc, NULL, x, update, n_idx, s);
}
