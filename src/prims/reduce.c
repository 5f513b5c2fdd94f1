/* The reduction family: reduce_sum, reduce_max, reduce_min over a set of axes (removed
 * from the shape) and argmax along one axis. Semantics follow XLA/JAX: empty max/min give
 * the dtype's identity, NaN propagates through max/min and counts as the maximum in
 * argmax, integer sums wrap around. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "transform/transform.h"
#include "core/util.h"
#include "jit/lower.h"

/* Formats n values as "(a,b,c)" into buf (truncated to fit); returns buf. */
static const char *red_ints_str(int n, const int64_t *v, char *buf, size_t len) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)v[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
    return buf;
}

/* Checks that v[0..n-1] are distinct axes in [0, rank) and sets mask[axis] for each.
 * 0 or -1 with a message. */
static int red_axes(int n, const int64_t *v, int rank, int *mask, char *err, size_t errlen) {
    char b[256];
    memset(mask, 0, JX_MAX_RANK * sizeof *mask);
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= rank)
            return util_errbuf(err, errlen, "axis %lld out of range for rank %d", (long long)v[i],
                            rank);
        if (mask[v[i]])
            return util_errbuf(err, errlen, "axis %lld appears twice in axes %s", (long long)v[i],
                            red_ints_str(n, v, b, sizeof b));
        mask[v[i]] = 1;
    }
    return 0;
}

/* x's type without the axes in mask, with dtype dt. */
static jx_type red_drop(const jx_type *x, const int *mask, jx_dtype dt) {
    jx_type t = {dt, 0, {0}};
    for (int i = 0; i < x->rank; i++)
        if (!mask[i]) t.shape[t.rank++] = x->shape[i];
    return t;
}

/* Shape rule: reduce_* drop their axes and keep the dtype (reduce_sum: not bool); argmax
 * drops its one axis (non-empty) and takes the index dtype (i32 or u32) from the hint. */
static int red_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (nin != 1) return util_errbuf(err, errlen, "takes one operand, got %d", nin);
    const jx_type *x = &in[0];
    if ((unsigned)x->dtype >= JX_NDTYPES || util_numel(x->rank, x->shape) < 0)
        return util_errbuf(err, errlen, "operand has an invalid type");
    int n = at && at->v[0] ? at->n[0] : 0, mask[JX_MAX_RANK];
    const int64_t *v = n > 0 ? at->v[0] : NULL;
    switch (op) {
    case JX_OP_REDUCE_SUM:
    case JX_OP_REDUCE_MAX:
    case JX_OP_REDUCE_MIN:
        if (op == JX_OP_REDUCE_SUM && x->dtype == JX_BOOL)
            return util_errbuf(err, errlen, "needs a numeric dtype, got bool");
        if (red_axes(n, v, x->rank, mask, err, errlen) < 0) return -1;
        *out = red_drop(x, mask, x->dtype);
        return 0;
    case JX_OP_ARGMAX: {
        if (n != 1)
            return util_errbuf(err, errlen, "axis must hold exactly one axis, got %d", n);
        if (red_axes(n, v, x->rank, mask, err, errlen) < 0) return -1;
        int64_t size = x->shape[v[0]];
        if (size == 0)
            return util_errbuf(err, errlen, "axis %lld has size 0: argmax of an empty axis is "
                            "undefined", (long long)v[0]);
        if (!hint) return util_errbuf(err, errlen, "needs an index dtype");
        if (hint->dtype != JX_I32 && hint->dtype != JX_U32)
            return util_errbuf(err, errlen, "index dtype must be i32 or u32, got %s",
                            jx_dtype_name(hint->dtype));
        if (hint->dtype == JX_I32 ? size - 1 > INT32_MAX : size - 1 > (int64_t)UINT32_MAX)
            return util_errbuf(err, errlen, "axis size %lld does not fit index dtype %s",
                            (long long)size, jx_dtype_name(hint->dtype));
        *out = red_drop(x, mask, hint->dtype);
        return 0;
    }
    default: return util_errbuf(err, errlen, "not a reduction primitive");
    }
}

/* ---- reference interpreter --------------------------------------------------------- */

/* How output elements map to operand elements: kept and reduced axes (ascending), their
 * sizes and the operand strides along them. */
typedef struct red_plan {
    int nk, nr;
    int64_t kshape[JX_MAX_RANK], kstride[JX_MAX_RANK];
    int64_t rshape[JX_MAX_RANK], rstride[JX_MAX_RANK];
    int64_t rcount; /* elements reduced into each output */
} red_plan;

/* Builds the plan for operand type x and reduced-axis mask. */
static red_plan red_plan_make(const jx_type *x, const int *mask) {
    red_plan p;
    memset(&p, 0, sizeof p);
    int64_t xs[JX_MAX_RANK];
    util_strides(x->rank, x->shape, xs);
    p.rcount = 1;
    for (int i = 0; i < x->rank; i++) {
        if (mask[i]) {
            p.rshape[p.nr] = x->shape[i];
            p.rstride[p.nr++] = xs[i];
            p.rcount *= x->shape[i];
        } else {
            p.kshape[p.nk] = x->shape[i];
            p.kstride[p.nk++] = xs[i];
        }
    }
    return p;
}

/* Flat offset of row-major index i over dims (shape, stride) of the operand. */
static int64_t red_offset(int64_t i, int n, const int64_t *shape, const int64_t *stride) {
    int64_t off = 0;
    for (int k = n - 1; k >= 0; k--) {
        off += (i % shape[k]) * stride[k];
        i /= shape[k];
    }
    return off;
}

/* The operand element index of the r-th reduced element of output element o. */
static int64_t red_index(const red_plan *p, int64_t o, int64_t r) {
    return red_offset(o, p->nk, p->kshape, p->kstride) +
           red_offset(r, p->nr, p->rshape, p->rstride);
}

/* Identity of max (is_max) or min for dt: -inf/+inf, INT32_MIN/INT32_MAX, 0/UINT32_MAX,
 * false/true. */
static double red_identity(jx_dtype dt, int is_max) {
    switch (dt) {
    case JX_F32:
    case JX_F64: return is_max ? -INFINITY : INFINITY;
    case JX_I32: return is_max ? (double)INT32_MIN : (double)INT32_MAX;
    case JX_U32: return is_max ? 0.0 : (double)UINT32_MAX;
    default: return is_max ? 0.0 : 1.0;
    }
}

/* reduce_sum: floats accumulate in double (rounded once at the end), integers in
 * uint32_t with wraparound. */
static void red_sum(const red_plan *p, const jx_array *x, jx_array *out) {
    jx_dtype dt = jx_array_dtype(x);
    int64_t size = jx_array_size(out);
    for (int64_t o = 0; o < size; o++) {
        if (dt == JX_I32 || dt == JX_U32) {
            const uint32_t *xv = jx_array_cdata(x);
            uint32_t acc = 0;
            for (int64_t r = 0; r < p->rcount; r++) acc += xv[red_index(p, o, r)];
            ((uint32_t *)jx_array_data(out))[o] = acc;
        } else {
            double acc = 0;
            for (int64_t r = 0; r < p->rcount; r++) acc += jx_array_get(x, red_index(p, o, r));
            jx_array_set(out, o, acc);
        }
    }
}

/* reduce_max / reduce_min: every dtype's values are exact in double; NaN propagates. */
static void red_minmax(const red_plan *p, const jx_array *x, jx_array *out, int is_max) {
    int64_t size = jx_array_size(out);
    for (int64_t o = 0; o < size; o++) {
        double m = red_identity(jx_array_dtype(x), is_max);
        for (int64_t r = 0; r < p->rcount; r++) {
            double v = jx_array_get(x, red_index(p, o, r));
            if (isnan(v)) {
                m = v;
                break;
            }
            if (is_max ? v > m : v < m) m = v;
        }
        jx_array_set(out, o, m);
    }
}

/* argmax: the first index of the maximum along the axis; the first NaN wins. */
static void red_argmax(const red_plan *p, const jx_array *x, jx_array *out) {
    int64_t size = jx_array_size(out);
    uint32_t *ov = jx_array_data(out);
    for (int64_t o = 0; o < size; o++) {
        int64_t bi = 0;
        double bv = jx_array_get(x, red_index(p, o, 0));
        for (int64_t r = 1; r < p->rcount && !isnan(bv); r++) {
            double v = jx_array_get(x, red_index(p, o, r));
            if (isnan(v) || v > bv) {
                bi = r;
                bv = v;
            }
        }
        ov[o] = (uint32_t)bi;
    }
}

/* Reference evaluation of the family. Re-checks the node against its shape rule on the
 * actual operand type first, so a malformed node is an error, never a bad access. */
static int red_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const char *name = prim_info(n->op)->name;
    if (n->nin != 1) return util_err("%s: takes one operand, got %d", name, n->nin);
    jx_type xt = jx_array_type(in[0]), t, ot = jx_array_type(out);
    char err[512] = "";
    if (red_infer(n->op, 1, &xt, &n->at, &n->type, &t, err, sizeof err) < 0)
        return util_err("%s: %s", name, err);
    if (!jx_type_eq(&t, &n->type) || !jx_type_eq(&ot, &n->type))
        return util_err("%s: node type does not match its operand", name);
    int mask[JX_MAX_RANK] = {0};
    for (int i = 0; i < n->at.n[0]; i++) mask[n->at.v[0][i]] = 1;
    red_plan p = red_plan_make(&xt, mask);
    switch (n->op) {
    case JX_OP_REDUCE_SUM: red_sum(&p, in[0], out); break;
    case JX_OP_REDUCE_MAX: red_minmax(&p, in[0], out, 1); break;
    case JX_OP_REDUCE_MIN: red_minmax(&p, in[0], out, 0); break;
    default: red_argmax(&p, in[0], out); break;
    }
    return 0;
}

/* ---- public wrappers --------------------------------------------------------------- */

/* Emits a reduction of x over axes (a list of 0..JX_MAX_RANK distinct axes). */
static jx_val red_emit(jx_loc loc, jx_op op, jx_val x, jx_ints axes, const jx_type *hint) {
    if ((axes.n < 0 || axes.n > JX_MAX_RANK) && jx_val_bad(x)) return (jx_val){x.t, -1};
    if (axes.n < 0 || axes.n > JX_MAX_RANK)
        return trace_fail(x.t, loc, prim_info(op)->name,
                          "axes list has %d entries (must be 0..%d)", axes.n, JX_MAX_RANK);
    jx_attrs at = ir_attrs(&axes, NULL, NULL, NULL);
    return trace_emit(loc, NULL, op, 1, &x, &at, hint);
}

/* Sum of x over axes. */
jx_val jx_reduce_sum_at(jx_loc loc, jx_val x, jx_ints axes) {
    return red_emit(loc, JX_OP_REDUCE_SUM, x, axes, NULL);
}

/* Maximum of x over axes. */
jx_val jx_reduce_max_at(jx_loc loc, jx_val x, jx_ints axes) {
    return red_emit(loc, JX_OP_REDUCE_MAX, x, axes, NULL);
}

/* Minimum of x over axes. */
jx_val jx_reduce_min_at(jx_loc loc, jx_val x, jx_ints axes) {
    return red_emit(loc, JX_OP_REDUCE_MIN, x, axes, NULL);
}

/* Index (as index_dtype) of the first maximum of x along axis. The hint is x's type
 * without the axis (when the axis is valid) with dtype index_dtype. */
jx_val jx_argmax_at(jx_loc loc, jx_val x, int axis, jx_dtype index_dtype) {
    jx_type xt = jx_val_type(x), hint = {index_dtype, 0, {0}};
    if (axis >= 0 && axis < xt.rank && xt.rank <= JX_MAX_RANK)
        for (int i = 0; i < xt.rank; i++)
            if (i != axis) hint.shape[hint.rank++] = xt.shape[i];
    return red_emit(loc, JX_OP_ARGMAX, x, (jx_ints){1, {axis}}, &hint);
}

/* ---- transformation rules (see src/transform/transform.h) ------------------------------------- */

/* The reduced-axis list of n and the complementary list of kept axes of x (rank dims),
 * which is where broadcast_in_dim puts the reduced result back. */
static void red_split_axes(const jx_node *n, int rank, jx_ints *axes, jx_ints *kept) {
    int mask[JX_MAX_RANK] = {0};
    *axes = ir_attr_ints(n, 0);
    for (int i = 0; i < axes->n; i++) mask[axes->v[i]] = 1;
    kept->n = 0;
    for (int i = 0; i < rank; i++)
        if (!mask[i]) kept->v[kept->n++] = i;
}

/* v (of the reduced type) broadcast back to x's type xt. */
static jx_val red_unreduce(jx_loc loc, jx_val v, const jx_type *xt, jx_ints kept) {
    jx_ints shape = {xt->rank, {0}};
    for (int i = 0; i < xt->rank; i++) shape.v[i] = xt->shape[i];
    return jx_broadcast_in_dim_at(loc, v, shape, kept);
}

/* For reduce_max/min with result y: *ind = 1.0 where x equals the extremum (x's float
 * dtype), *cnt = the number of such positions per result (ties share the derivative). */
static void red_indicators(jx_loc loc, jx_val x, jx_val y, const jx_node *n, jx_val *ind,
                           jx_val *cnt) {
    jx_type xt = jx_val_type(x);
    jx_ints axes, kept;
    red_split_axes(n, xt.rank, &axes, &kept);
    *ind = jx_convert_at(loc, jx_eq_at(loc, x, red_unreduce(loc, y, &xt, kept)), xt.dtype);
    *cnt = jx_reduce_sum_at(loc, *ind, axes);
}

/* Reverse mode: reduce_sum's cotangent is ct broadcast back over the reduced axes;
 * reduce_max/min send it to the positions of the extremum, split evenly among ties (JAX's
 * rule). argmax is NOGRAD and never reaches here. */
static int red_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
                   jx_val *ct_in) {
    jx_loc loc = n->loc;
    jx_type xt = jx_val_type(x[0]);
    jx_ints axes, kept;
    red_split_axes(n, xt.rank, &axes, &kept);
    switch (n->op) {
    case JX_OP_REDUCE_SUM: ct_in[0] = red_unreduce(loc, ct, &xt, kept); break;
    case JX_OP_REDUCE_MAX:
    case JX_OP_REDUCE_MIN: {
        jx_val ind, cnt;
        red_indicators(loc, x[0], y, n, &ind, &cnt);
        ct_in[0] = jx_mul_at(loc, ind, red_unreduce(loc, jx_div_at(loc, ct, cnt), &xt, kept));
        break;
    }
    default:
        trace_fail(t, loc, prim_info(n->op)->name, "has no derivative");
        return -1;
    }
    return jx_val_bad(ct_in[0]) ? -1 : 0;
}

/* Forward mode: reduce_sum of the tangent; for reduce_max/min the mean of the tangent
 * over the positions of the extremum. */
static int red_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
                   jx_val *dy) {
    jx_loc loc = n->loc;
    switch (n->op) {
    case JX_OP_REDUCE_SUM: *dy = tx_replay(t, n, dx); break;
    case JX_OP_REDUCE_MAX:
    case JX_OP_REDUCE_MIN: {
        jx_val ind, cnt;
        red_indicators(loc, x[0], y, n, &ind, &cnt);
        jx_val s = jx_reduce_sum_at(loc, jx_mul_at(loc, dx[0], ind), ir_attr_ints(n, 0));
        *dy = jx_div_at(loc, s, cnt);
        break;
    }
    default:
        trace_fail(t, loc, prim_info(n->op)->name, "has no derivative");
        return -1;
    }
    return jx_val_bad(*dy) ? -1 : 0;
}

/* vmap: the batch axis stays where it is; reduced axes are renumbered around it, and the
 * result's batch axis moves left by the number of reduced axes before it. */
static int red_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                     int64_t bsize, jx_val *y, int *ybd) {
    int b = bd[0], before = 0;
    jx_ints axes = ir_attr_ints(n, 0);
    for (int i = 0; i < axes.n; i++) {
        before += axes.v[i] < b;
        if (axes.v[i] >= b) axes.v[i]++;
    }
    if (n->op == JX_OP_ARGMAX) {
        jx_type hint = n->type;
        for (int i = hint.rank; i > b - before; i--) hint.shape[i] = hint.shape[i - 1];
        hint.shape[b - before] = bsize;
        hint.rank++;
        *y = red_emit(n->loc, n->op, x[0], axes, &hint);
    } else {
        *y = red_emit(n->loc, n->op, x[0], axes, NULL);
    }
    *ybd = b - before;
    return jx_val_bad(*y) ? -1 : 0;
}

/* ---- loop lowering (the API is src/jit/lower.h) ----------------------------------- */

/* Reduction node n (reduce_*) at output index ix with a register accumulator. */
static LLVMValueRef red_lower_reduce(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    jx_ints ax = ir_attr_ints(nd, 0);
    int red[JX_MAX_RANK] = {0};
    for (int i = 0; i < ax.n; i++) red[ax.v[i]] = 1;
    lw_multi(L, ix);
    jx_dtype dt = nd->type.dtype;
    LLVMValueRef acc = lw_alloca(L, lw_type(L, dt));
    LLVMBuildStore(L->b, lw_red_identity(L, nd->op, dt), acc);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    lw_loop lp[JX_MAX_RANK];
    int nl = 0;
    for (int k = 0, kk = 0; k < xt->rank; k++) {
        if (red[k]) {
            lp[nl] = lw_loop_begin(L, xt->shape[k]);
            xi.v[k] = lp[nl++].iv;
        } else {
            xi.v[k] = ix->v[kk++];
        }
    }
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    LLVMValueRef a = LLVMBuildLoad2(L->b, lw_type(L, dt), acc, "");
    LLVMBuildStore(L->b, lw_red_combine(L, nd->op, dt, a, v), acc);
    while (nl > 0) lw_loop_end(L, &lp[--nl]);
    return LLVMBuildLoad2(L->b, lw_type(L, dt), acc, "");
}

/* argmax: first index of the maximum along the axis; the first NaN wins. */
static LLVMValueRef red_lower_argmax(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *xt = &L->p->nodes[nd->in[0]].type;
    int axis = (int)ir_attr_ints(nd, 0).v[0];
    jx_dtype xd = xt->dtype;
    lw_multi(L, ix);
    LLVMValueRef bv = lw_alloca(L, lw_type(L, xd)), bi = lw_alloca(L, L->i64);
    LLVMBuildStore(L->b, lw_const(L, xd, 0), bv);
    LLVMBuildStore(L->b, lw_i64(L, 0), bi);
    lw_ix xi = lw_ix_new(xt);
    xi.multi = 1;
    lw_loop lp = lw_loop_begin(L, xt->shape[axis]);
    for (int k = 0, kk = 0; k < xt->rank; k++) xi.v[k] = k == axis ? lp.iv : ix->v[kk++];
    LLVMValueRef v = lw_eval(L, nd->in[0], &xi);
    LLVMValueRef best = LLVMBuildLoad2(L->b, lw_type(L, xd), bv, "");
    LLVMValueRef take;
    if (xd == JX_F32 || xd == JX_F64) {
        LLVMValueRef bnan = LLVMBuildFCmp(L->b, LLVMRealUNO, best, best, "");
        LLVMValueRef better = LLVMBuildFCmp(L->b, LLVMRealUGT, v, best, ""); /* v NaN or v > best */
        take = LLVMBuildAnd(L->b, LLVMBuildNot(L->b, bnan, ""), better, "");
    } else {
        take = LLVMBuildICmp(L->b, xd == JX_I32 ? LLVMIntSGT : LLVMIntUGT, v, best, "");
    }
    take = LLVMBuildOr(L->b, take, LLVMBuildICmp(L->b, LLVMIntEQ, lp.iv, lw_i64(L, 0), ""), "");
    LLVMBuildStore(L->b, LLVMBuildSelect(L->b, take, v, best, ""), bv);
    LLVMValueRef oi = LLVMBuildLoad2(L->b, L->i64, bi, "");
    LLVMBuildStore(L->b, LLVMBuildSelect(L->b, take, lp.iv, oi, ""), bi);
    lw_loop_end(L, &lp);
    return LLVMBuildTrunc(L->b, LLVMBuildLoad2(L->b, L->i64, bi, ""), L->i32, "");
}

/* Loop lowering of the family at output index ix: an inner loop over the reduced axes
 * with a register accumulator. (A reduction over leading axes of a large operand gets its
 * own row-streaming kernel instead, see src/jit/lower_kernel.c.) */
static LLVMValueRef red_lower(lw *L, const jx_node *nd, lw_ix *ix) {
    return nd->op == JX_OP_ARGMAX ? red_lower_argmax(L, nd, ix) : red_lower_reduce(L, nd, ix);
}

const jx_family jx_family_reduce = {.infer = red_infer,
                                    .interp = red_interp,
                                    .vjp = red_vjp,
                                    .jvp = red_jvp,
                                    .batch = red_batch,
                                    .lower = red_lower};
