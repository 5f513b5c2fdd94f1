/* The shape family's pad and concatenate: every rule of theirs but the transformation
 * rules (shape_tx.c, with the rest of the family's). pad writes its operand on a strided
 * grid inside a field of the padding value; concatenate joins its operands along one
 * axis. Semantics follow XLA. */
#include <stdint.h>
#include <string.h>

#include "core/trace.h"
#include "core/util.h"
#include "prims/shape.h"

/* ---- shape rules ------------------------------------------------------------------- */

/* pad: x and a scalar padding value of its dtype; out = lo + hi + dim + max(dim-1,0) *
 * interior >= 0 per dimension (lo, hi may be negative, interior >= 0). */
int shp_infer_pad(const jx_type *x, const jx_type *pv, shp_vec lo, shp_vec hi,
                  shp_vec in, jx_type *out, char *err, size_t errlen) {
    char b[160];
    if (pv->rank != 0)
        return util_errbuf(err, errlen, "padding value must be a scalar, got %s",
                        jx_type_str(pv, b, sizeof b));
    if (pv->dtype != x->dtype)
        return util_errbuf(err, errlen, "padding value dtype %s differs from operand dtype %s",
                        jx_dtype_name(pv->dtype), jx_dtype_name(x->dtype));
    if (shp_want_len("low", lo, x->rank, "operand rank", err, errlen) < 0 ||
        shp_want_len("high", hi, x->rank, "operand rank", err, errlen) < 0 ||
        shp_want_len("interior", in, x->rank, "operand rank", err, errlen) < 0)
        return -1;
    const int64_t lim = (int64_t)1 << 62;
    *out = *x;
    for (int i = 0; i < x->rank; i++) {
        int64_t d = x->shape[i], n;
        if (in.v[i] < 0)
            return util_errbuf(err, errlen, "dimension %d: interior padding %lld is negative", i,
                            (long long)in.v[i]);
        if (lo.v[i] < -lim || lo.v[i] > lim || hi.v[i] < -lim || hi.v[i] > lim ||
            in.v[i] > lim || __builtin_mul_overflow(d > 0 ? d - 1 : 0, in.v[i], &n) ||
            __builtin_add_overflow(n, d, &n) || __builtin_add_overflow(n, lo.v[i], &n) ||
            __builtin_add_overflow(n, hi.v[i], &n))
            return util_errbuf(err, errlen, "dimension %d: padded size overflows", i);
        if (n < 0)
            return util_errbuf(err, errlen, "dimension %d: padded size %lld is negative (size "
                            "%lld, low %lld, high %lld, interior %lld)", i, (long long)n,
                            (long long)d, (long long)lo.v[i], (long long)hi.v[i],
                            (long long)in.v[i]);
        out->shape[i] = n;
    }
    if (util_numel(out->rank, out->shape) < 0)
        return util_errbuf(err, errlen, "padded shape %s has too many elements",
                        jx_type_str(out, b, sizeof b));
    return 0;
}

/* concatenate: one or more operands of one dtype and rank, equal except along
 * `dimension`, which sums. */
int shp_infer_concat(int nin, const jx_type *in, shp_vec dim, jx_type *out, char *err,
                     size_t errlen) {
    if (nin < 1) return util_errbuf(err, errlen, "needs at least one operand");
    if (dim.n != 1)
        return util_errbuf(err, errlen, "dimension must hold exactly one axis, got %d", dim.n);
    const jx_type *x = &in[0];
    int64_t d = dim.v[0];
    if (d < 0 || d >= x->rank)
        return util_errbuf(err, errlen, "axis %lld out of range for rank %d", (long long)d,
                        x->rank);
    *out = *x;
    for (int k = 1; k < nin; k++) {
        const jx_type *y = &in[k];
        if (y->dtype != x->dtype)
            return util_errbuf(err, errlen, "operand %d has dtype %s, operand 0 has %s", k,
                            jx_dtype_name(y->dtype), jx_dtype_name(x->dtype));
        if (y->rank != x->rank)
            return util_errbuf(err, errlen, "operand %d has rank %d, operand 0 has rank %d", k,
                            y->rank, x->rank);
        for (int i = 0; i < x->rank; i++)
            if (i != d && y->shape[i] != x->shape[i])
                return util_errbuf(err, errlen, "operand %d has size %lld in dimension %d, "
                                "operand 0 has %lld (only dimension %lld may differ)", k,
                                (long long)y->shape[i], i, (long long)x->shape[i],
                                (long long)d);
        if (__builtin_add_overflow(out->shape[d], y->shape[d], &out->shape[d]) ||
            util_numel(out->rank, out->shape) < 0)
            return util_errbuf(err, errlen, "concatenated shape has too many elements");
    }
    return 0;
}

/* ---- reference interpreter --------------------------------------------------------- */

/* pad: fills out with the padding value, then writes each operand element at
 * lo + i * (interior + 1) when that lands inside the output (negative lo/hi crop). */
void shp_interp_pad(const jx_node *n, const jx_array *x, const jx_array *pv, jx_array *out) {
    const jx_type *ot = &n->type;
    jx_type xt = jx_array_type(x);
    size_t esz = jx_dtype_size(ot->dtype);
    int64_t os[JX_MAX_RANK], idx[JX_MAX_RANK], size = jx_array_size(out);
    util_strides(ot->rank, ot->shape, os);
    char *dst = jx_array_data(out);
    const char *src = jx_array_cdata(x);
    for (int64_t i = 0; i < size; i++) shp_copy1(dst, i, jx_array_cdata(pv), 0, esz);
    jx_ints lo = ir_attr_ints(n, 0), in = ir_attr_ints(n, 2);
    int64_t xsize = jx_array_size(x);
    for (int64_t i = 0; i < xsize; i++) {
        shp_unravel(i, xt.rank, xt.shape, idx);
        int64_t di = 0;
        int inside = 1;
        for (int k = 0; k < xt.rank && inside; k++) {
            int64_t p = lo.v[k] + idx[k] * (in.v[k] + 1);
            inside = p >= 0 && p < ot->shape[k];
            di += p * os[k];
        }
        if (inside) shp_copy1(dst, di, src, i, esz);
    }
}

/* concatenate: copies each operand into its slab of the output along `dimension`. */
void shp_interp_concat(const jx_node *n, jx_array *const *in, jx_array *out) {
    const jx_type *ot = &n->type;
    int d = (int)n->at.v[0][0];
    size_t esz = jx_dtype_size(ot->dtype);
    int64_t os[JX_MAX_RANK], idx[JX_MAX_RANK], offset = 0;
    util_strides(ot->rank, ot->shape, os);
    char *dst = jx_array_data(out);
    for (int k = 0; k < n->nin; k++) {
        jx_type xt = jx_array_type(in[k]);
        const char *src = jx_array_cdata(in[k]);
        int64_t xsize = jx_array_size(in[k]);
        for (int64_t i = 0; i < xsize; i++) {
            shp_unravel(i, xt.rank, xt.shape, idx);
            idx[d] += offset;
            int64_t di = 0;
            for (int j = 0; j < xt.rank; j++) di += idx[j] * os[j];
            shp_copy1(dst, di, src, i, esz);
        }
        offset += xt.shape[d];
    }
}

/* ---- loop lowering (the API is src/jit/lower.h) ----------------------------------- */

/* pad at ix: the operand element that lands there, else the padding value. */
LLVMValueRef shp_lower_pad(lw *L, const jx_node *nd, lw_ix *ix) {
    LLVMBuilderRef B = L->b;
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    lw_ix none = lw_ix_new(&L->p->nodes[nd->in[1]].type);
    none.lin = lw_i64(L, 0);
    LLVMValueRef pv = lw_eval(L, nd->in[1], &none);
    if (jx_type_size(xt) == 0) return pv;
    jx_ints lo = ir_attr_ints(nd, 0), in = ir_attr_ints(nd, 2);
    lw_multi(L, ix);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    LLVMValueRef ok = LLVMConstInt(L->i1, 1, 0);
    LLVMValueRef q[JX_MAX_RANK];
    for (int k = 0; k < xt->rank; k++) {
        LLVMValueRef p = LLVMBuildSub(B, ix->v[k], lw_i64(L, lo.v[k]), "");
        int64_t s = in.v[k] + 1;
        q[k] = s == 1 ? p : LLVMBuildSDiv(B, p, lw_i64(L, s), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSGE, p, lw_i64(L, 0), ""), "");
        ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntSLT, q[k], lw_i64(L, xt->shape[k]), ""), "");
        if (s != 1)
            ok = LLVMBuildAnd(B, ok, LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildSRem(B, p, lw_i64(L, s), ""), lw_i64(L, 0), ""), "");
    }
    for (int k = 0; k < xt->rank; k++) xi.v[k] = LLVMBuildSelect(B, ok, q[k], lw_i64(L, 0), "");
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    return LLVMBuildSelect(B, ok, v, pv, "");
}

/* concatenate at ix: a branch per operand along the axis. */
LLVMValueRef shp_lower_concat(lw *L, const jx_node *nd, lw_ix *ix) {
    LLVMBuilderRef B = L->b;
    int d = (int)ir_attr_ints(nd, 0).v[0];
    jx_dtype dt = nd->type.dtype;
    lw_multi(L, ix);
    LLVMValueRef res = lw_alloca(L, lw_type(L, dt));
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(L->cx, L->fn, "cat");
    int64_t off = 0;
    int last = -1;
    for (int k = 0; k < nd->nin; k++)
        if (L->p->nodes[nd->in[k]].type.shape[d] > 0) last = k;
    for (int k = 0; k <= last; k++) {
        const jx_type *xt = &L->p->nodes[nd->in[k]].type;
        int64_t sz = xt->shape[d];
        if (sz == 0) continue;
        LLVMBasicBlockRef next = NULL;
        if (k != last) {
            LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->cx, L->fn, "part");
            next = LLVMAppendBasicBlockInContext(L->cx, L->fn, "next");
            LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, ix->v[d], lw_i64(L, off + sz), ""), then, next);
            LLVMPositionBuilderAtEnd(B, then);
        }
        lw_ix xi = lw_ix_new(xt);
        xi.multi = 1;
        for (int j = 0; j < xt->rank; j++) xi.v[j] = ix->v[j];
        xi.v[d] = LLVMBuildSub(B, ix->v[d], lw_i64(L, off), "");
        LLVMBuildStore(B, lw_eval(L, nd->in[k], &xi), res);
        LLVMBuildBr(B, merge);
        if (next) LLVMPositionBuilderAtEnd(B, next);
        off += sz;
    }
    if (last < 0) LLVMBuildBr(B, merge); /* empty output: never evaluated */
    LLVMPositionBuilderAtEnd(B, merge);
    return LLVMBuildLoad2(B, lw_type(L, dt), res, "");
}

/* ---- public wrappers --------------------------------------------------------------- */

/* Pads x with the scalar padval: lo/hi elements at each end (negative crops) and
 * interior elements between neighbours. */
jx_val jx_pad_at(jx_loc loc, jx_val x, jx_val padval, jx_ints lo, jx_ints hi, jx_ints interior) {
    jx_ints l[3] = {lo, hi, interior};
    if (!shp_lists_ok(loc, x, "pad", 3, l)) return (jx_val){x.t, -1};
    jx_attrs at = ir_attrs(&lo, &hi, &interior, NULL);
    jx_val ins[2] = {x, padval};
    return trace_emit(loc, NULL, JX_OP_PAD, 2, ins, &at, NULL);
}

/* Joins xs[0..n-1] along dimension. */
jx_val jx_concatenate_at(jx_loc loc, int n, const jx_val *xs, int dimension) {
    if (!xs) return trace_fail(NULL, loc, "concatenate", "NULL operand list (count %d)", n);
    if (n < 1)
        return trace_fail(NULL, loc, "concatenate", "needs at least one operand, got %d", n);
    jx_ints d = {1, {dimension}};
    jx_attrs at = ir_attrs(&d, NULL, NULL, NULL);
    return trace_emit(loc, NULL, JX_OP_CONCATENATE, n, xs, &at, NULL);
}
