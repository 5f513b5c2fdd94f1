/* The dot family: dot_general with XLA semantics, and gemm (c + alpha * dot_general, the
 * gemm-fold pass's output; jx_family_gemm).
 *
 * Attributes (prims.def order): lhs_contract, rhs_contract, lhs_batch, rhs_batch.
 * Output dims are the batch dims (in lhs_batch order), then the lhs free dims, then the
 * rhs free dims, each in increasing axis order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "transform/passes.h"
#include "core/trace.h"
#include "transform/transform.h"
#include "core/util.h"
#include "jit/lower.h"

enum { DOT_LC, DOT_RC, DOT_LB, DOT_RB };

static const char *const dot_attr_names[4] = {"lhs_contract", "rhs_contract", "lhs_batch",
                                              "rhs_batch"};

/* Copies attribute k of at (absent or NULL at: empty) into *out. Returns -1 with a
 * message if the length is negative or over JX_MAX_RANK. */
static int dot_attr(const jx_attrs *at, int k, jx_ints *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!at || at->n[k] == 0) return 0;
    if (at->n[k] < 0 || at->n[k] > JX_MAX_RANK || !at->v[k]) {
        snprintf(err, errlen, "%s has a bad length %d (maximum %d)",
                 dot_attr_names[k], at->n[k], JX_MAX_RANK);
        return -1;
    }
    out->n = at->n[k];
    for (int i = 0; i < out->n; i++) out->v[i] = at->v[k][i];
    return 0;
}

/* Checks that every axis of `axes` (attribute k, on operand `side` of rank `rank`) is in
 * range and not already marked in used[]; marks them. Returns 0 or -1 with a message. */
static int dot_mark(const jx_ints *axes, int k, const char *side, int rank, int *used,
                    char *err, size_t errlen) {
    for (int i = 0; i < axes->n; i++) {
        int64_t a = axes->v[i];
        if (a < 0 || a >= rank) {
            snprintf(err, errlen, "%s axis %lld out of range for %s rank %d", dot_attr_names[k],
                     (long long)a, side, rank);
            return -1;
        }
        if (used[a]) {
            snprintf(err, errlen, "%s axis %lld used twice (in %s)", side, (long long)a,
                     dot_attr_names[k]);
            return -1;
        }
        used[a] = 1;
    }
    return 0;
}

/* Checks that paired axes lk[i] of lhs and rk[i] of rhs have equal sizes. */
static int dot_pair_sizes(const jx_ints *lk, const jx_ints *rk, const jx_type *l,
                          const jx_type *r, const char *what, char *err, size_t errlen) {
    for (int i = 0; i < lk->n; i++) {
        int64_t ls = l->shape[lk->v[i]], rs = r->shape[rk->v[i]];
        if (ls != rs) {
            snprintf(err, errlen,
                     "%s dimension sizes differ: lhs axis %lld has size %lld, rhs axis %lld "
                     "has size %lld",
                     what, (long long)lk->v[i], (long long)ls, (long long)rk->v[i],
                     (long long)rs);
            return -1;
        }
    }
    return 0;
}

/* Free (neither contracted nor batch) axes of a rank-`rank` operand, in order. */
static int dot_free_axes(int rank, const jx_ints *c, const jx_ints *b, int *free_axes) {
    int used[JX_MAX_RANK] = {0}, n = 0;
    for (int i = 0; i < c->n; i++) used[c->v[i]] = 1;
    for (int i = 0; i < b->n; i++) used[b->v[i]] = 1;
    for (int a = 0; a < rank; a++)
        if (!used[a]) free_axes[n++] = a;
    return n;
}

/* Shape rule of dot_general: equal numeric dtypes, valid and consistent axis lists;
 * output (batch, lhs free, rhs free). */
static int dot_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (nin != 2) {
        snprintf(err, errlen, "expects 2 operands, got %d", nin);
        return -1;
    }
    const jx_type *l = &in[0], *r = &in[1];
    if (l->dtype != r->dtype) {
        snprintf(err, errlen, "operand dtypes differ (%s vs %s)", jx_dtype_name(l->dtype),
                 jx_dtype_name(r->dtype));
        return -1;
    }
    if (l->dtype != JX_F32 && l->dtype != JX_F64 && l->dtype != JX_I32 && l->dtype != JX_U32) {
        snprintf(err, errlen, "dtype %s is not numeric (need f32, f64, i32 or u32)",
                 jx_dtype_name(l->dtype));
        return -1;
    }
    jx_ints ax[4];
    for (int k = 0; k < 4; k++)
        if (dot_attr(at, k, &ax[k], err, errlen) < 0) return -1;
    if (ax[DOT_LC].n != ax[DOT_RC].n) {
        snprintf(err, errlen, "lhs_contract and rhs_contract have different lengths (%d vs %d)",
                 ax[DOT_LC].n, ax[DOT_RC].n);
        return -1;
    }
    if (ax[DOT_LB].n != ax[DOT_RB].n) {
        snprintf(err, errlen, "lhs_batch and rhs_batch have different lengths (%d vs %d)",
                 ax[DOT_LB].n, ax[DOT_RB].n);
        return -1;
    }
    int lused[JX_MAX_RANK] = {0}, rused[JX_MAX_RANK] = {0};
    if (dot_mark(&ax[DOT_LB], DOT_LB, "lhs", l->rank, lused, err, errlen) < 0 ||
        dot_mark(&ax[DOT_LC], DOT_LC, "lhs", l->rank, lused, err, errlen) < 0 ||
        dot_mark(&ax[DOT_RB], DOT_RB, "rhs", r->rank, rused, err, errlen) < 0 ||
        dot_mark(&ax[DOT_RC], DOT_RC, "rhs", r->rank, rused, err, errlen) < 0)
        return -1;
    if (dot_pair_sizes(&ax[DOT_LB], &ax[DOT_RB], l, r, "batch", err, errlen) < 0 ||
        dot_pair_sizes(&ax[DOT_LC], &ax[DOT_RC], l, r, "contracting", err, errlen) < 0)
        return -1;
    int lfree[JX_MAX_RANK], rfree[JX_MAX_RANK];
    int nlf = dot_free_axes(l->rank, &ax[DOT_LC], &ax[DOT_LB], lfree);
    int nrf = dot_free_axes(r->rank, &ax[DOT_RC], &ax[DOT_RB], rfree);
    int nb = ax[DOT_LB].n, rank = nb + nlf + nrf;
    if (rank > JX_MAX_RANK) {
        snprintf(err, errlen, "output rank %d exceeds the maximum rank %d", rank, JX_MAX_RANK);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->dtype = l->dtype;
    out->rank = rank;
    for (int i = 0; i < nb; i++) out->shape[i] = l->shape[ax[DOT_LB].v[i]];
    for (int i = 0; i < nlf; i++) out->shape[nb + i] = l->shape[lfree[i]];
    for (int i = 0; i < nrf; i++) out->shape[nb + nlf + i] = r->shape[rfree[i]];
    if (util_numel(out->rank, out->shape) < 0) {
        snprintf(err, errlen, "output has too many elements");
        return -1;
    }
    return 0;
}

/* Reference dot_general: for each output element, a naive loop over the contraction
 * index space. Floats accumulate in double and round once; integers wrap (uint32_t). */
static int dot_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    jx_ints ax[4];
    for (int k = 0; k < 4; k++) ax[k] = ir_attr_ints(n, k);
    const jx_array *la = in[0], *ra = in[1];
    int lrank = jx_array_rank(la), rrank = jx_array_rank(ra);
    const int64_t *lsh = jx_array_shape(la), *rsh = jx_array_shape(ra);
    int64_t lst[JX_MAX_RANK], rst[JX_MAX_RANK];
    util_strides(lrank, lsh, lst);
    util_strides(rrank, rsh, rst);
    int lfree[JX_MAX_RANK], rfree[JX_MAX_RANK];
    int nlf = dot_free_axes(lrank, &ax[DOT_LC], &ax[DOT_LB], lfree);
    int nrf = dot_free_axes(rrank, &ax[DOT_RC], &ax[DOT_RB], rfree);
    int nb = ax[DOT_LB].n, nc = ax[DOT_LC].n;
    int64_t csize = 1, cshape[JX_MAX_RANK];
    for (int i = 0; i < nc; i++) {
        cshape[i] = lsh[ax[DOT_LC].v[i]];
        csize *= cshape[i];
    }
    const jx_type *ot = &n->type;
    int64_t osize = jx_array_size(out);
    jx_dtype dt = ot->dtype;
    const void *lp = jx_array_cdata(la), *rp = jx_array_cdata(ra);
    void *op = jx_array_data(out);

    for (int64_t o = 0; o < osize; o++) {
        /* Output multi-index (row-major), then the fixed parts of the operand indices. */
        int64_t oi[JX_MAX_RANK], rem = o;
        for (int d = ot->rank - 1; d >= 0; d--) {
            oi[d] = rem % ot->shape[d];
            rem /= ot->shape[d];
        }
        int64_t lbase = 0, rbase = 0;
        for (int i = 0; i < nb; i++) {
            lbase += oi[i] * lst[ax[DOT_LB].v[i]];
            rbase += oi[i] * rst[ax[DOT_RB].v[i]];
        }
        for (int i = 0; i < nlf; i++) lbase += oi[nb + i] * lst[lfree[i]];
        for (int i = 0; i < nrf; i++) rbase += oi[nb + nlf + i] * rst[rfree[i]];

        double accf = 0.0;
        uint32_t acci = 0;
        for (int64_t c = 0; c < csize; c++) {
            int64_t lo = lbase, ro = rbase, crem = c;
            for (int i = nc - 1; i >= 0; i--) {
                int64_t ci = crem % cshape[i];
                crem /= cshape[i];
                lo += ci * lst[ax[DOT_LC].v[i]];
                ro += ci * rst[ax[DOT_RC].v[i]];
            }
            switch (dt) {
            case JX_F32:
                accf += (double)((const float *)lp)[lo] * (double)((const float *)rp)[ro];
                break;
            case JX_F64: accf += ((const double *)lp)[lo] * ((const double *)rp)[ro]; break;
            case JX_I32:
                acci += (uint32_t)((const int32_t *)lp)[lo] * (uint32_t)((const int32_t *)rp)[ro];
                break;
            case JX_U32: acci += ((const uint32_t *)lp)[lo] * ((const uint32_t *)rp)[ro]; break;
            default: return util_err("dot_general: unsupported dtype %s", jx_dtype_name(dt));
            }
        }
        switch (dt) {
        case JX_F32: ((float *)op)[o] = (float)accf; break;
        case JX_F64: ((double *)op)[o] = accf; break;
        case JX_I32: {
            /* Two's-complement reinterpretation without implementation-defined casts. */
            int32_t v;
            memcpy(&v, &acci, sizeof v);
            ((int32_t *)op)[o] = v;
            break;
        }
        case JX_U32: ((uint32_t *)op)[o] = acci; break;
        default: return util_err("dot_general: unsupported dtype %s", jx_dtype_name(dt));
        }
    }
    return 0;
}

/* ---- transformation rules ------------------------------------------------------------ */

/* Cotangent of operand x of a dot_general whose other operand is o (JAX's
 * _dot_general_transpose_lhs; swap = 1 when x is the rhs, so ct's free dims are (o free,
 * x free)). xc/oc and xb/ob are the paired contracting and batch axes of x and o.
 * ct_x contracts ct's o-free dims with o's free dims and batches ct's batch dims with ob.
 * dot_general(ct, o) yields x's axes in the order (batch, free, contracting in o's axis
 * order) and dot_general(o, ct) in the order (batch, contracting, free); whichever is
 * already x's order is emitted (e.g. both cotangents of a matmul), else the first plus a
 * transpose. */
static jx_val dot_transpose(jx_loc loc, jx_val ct, jx_val o, int xrank, jx_ints xc, jx_ints oc,
                           jx_ints xb, jx_ints ob, int swap) {
    int orank = jx_val_type(o).rank;
    int xfree[JX_MAX_RANK], ofree[JX_MAX_RANK];
    int nxf = dot_free_axes(xrank, &xc, &xb, xfree);
    int nof = dot_free_axes(orank, &oc, &ob, ofree);
    int nb = xb.n, ostart = swap ? nb : nb + nxf;
    jx_ints c_ct = {nof, {0}}, c_o = {nof, {0}}, b_ct = {nb, {0}};
    for (int i = 0; i < nof; i++) {
        c_ct.v[i] = ostart + i;
        c_o.v[i] = ofree[i];
    }
    for (int i = 0; i < nb; i++) b_ct.v[i] = i;
    /* x's contracting axes in increasing order of their o partners */
    int64_t xc_by_o[JX_MAX_RANK];
    int nc = 0;
    for (int a = 0; a < orank; a++)
        for (int i = 0; i < oc.n; i++)
            if (oc.v[i] == a) xc_by_o[nc++] = xc.v[i];
    /* src1/src2[j]: the x axis that result axis j holds, for (ct, o) / (o, ct) order */
    int64_t src1[JX_MAX_RANK], src2[JX_MAX_RANK];
    int k1 = 0, k2 = 0, id1 = 1, id2 = 1;
    for (int i = 0; i < nb; i++) src1[k1++] = src2[k2++] = xb.v[i];
    for (int i = 0; i < nxf; i++) src1[k1++] = xfree[i];
    for (int i = 0; i < nc; i++) src1[k1++] = src2[k2++] = xc_by_o[i];
    for (int i = 0; i < nxf; i++) src2[k2++] = xfree[i];
    for (int j = 0; j < xrank; j++) {
        id1 &= src1[j] == j;
        id2 &= src2[j] == j;
    }
    if (!id1 && id2) return jx_dot_general_at(loc, o, ct, c_o, c_ct, ob, b_ct);
    jx_val r = jx_dot_general_at(loc, ct, o, c_ct, c_o, b_ct, ob);
    if (id1) return r;
    jx_ints perm = {xrank, {0}};
    for (int j = 0; j < xrank; j++) perm.v[src1[j]] = j;
    return jx_transpose_at(loc, r, perm);
}

/* vjp: each float operand's cotangent is the other operand contracted with ct. */
static int dot_vjp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
                   jx_val *ct_in) {
    jx_ints lc = ir_attr_ints(n, DOT_LC), rc = ir_attr_ints(n, DOT_RC);
    jx_ints lb = ir_attr_ints(n, DOT_LB), rb = ir_attr_ints(n, DOT_RB);
    if (!tx_is_float(n->type.dtype)) return 0;
    int lrank = trace_type(t, x[0].id)->rank, rrank = trace_type(t, x[1].id)->rank;
    ct_in[0] = dot_transpose(n->loc, ct, x[1], lrank, lc, rc, lb, rb, 0);
    ct_in[1] = dot_transpose(n->loc, ct, x[0], rrank, rc, lc, rb, lb, 1);
    return jx_val_bad(ct_in[0]) || jx_val_bad(ct_in[1]) ? -1 : 0;
}

/* jvp: bilinear, dy = dot(dx, y) + dot(x, dy), skipping zero tangents. */
static int dot_jvp(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
                   jx_val *dy) {
    jx_val r = TX_ZERO;
    if (!tx_is_zero(dx[0])) r = tx_replay(t, n, (jx_val[2]){dx[0], x[1]});
    if (!tx_is_zero(dx[1])) r = tx_add(n->loc, r, tx_replay(t, n, (jx_val[2]){x[0], dx[1]}));
    *dy = r;
    return jx_val_bad(r) ? -1 : 0;
}

/* Shifts every axis >= at in a up by one (an axis was inserted at `at`). */
static void dot_shift(jx_ints *a, int at) {
    for (int i = 0; i < a->n; i++)
        if (a->v[i] >= at) a->v[i]++;
}

/* Position of axis a among the free axes of a rank-`rank` operand. */
static int dot_free_pos(int rank, const jx_ints *c, const jx_ints *b, int a) {
    int fr[JX_MAX_RANK], pos = 0;
    int nfree = dot_free_axes(rank, c, b, fr);
    for (int i = 0; i < nfree; i++)
        if (fr[i] == a) pos = i;
    return pos;
}

/* batch: with one batched operand, its batch axis becomes a free dim (so W @ x[b] is one
 * GEMM) and the result's batch axis is where that free dim lands in (batch, lhs free, rhs
 * free) -- except that when it is the rhs's only free dim the operands are swapped so it
 * lands right after the batch dims; with two, the batch axes become a new leading dot
 * batch dim (result axis 0). Operands are never transposed. */
static int dot_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                     int64_t bsize, jx_val *y, int *ybd) {
    jx_ints lc = ir_attr_ints(n, DOT_LC), rc = ir_attr_ints(n, DOT_RC);
    jx_ints lb = ir_attr_ints(n, DOT_LB), rb = ir_attr_ints(n, DOT_RB);
    /* ranks of the operands as given (a batched one includes its batch axis) */
    int lrank = trace_type(t, x[0].id)->rank, rrank = trace_type(t, x[1].id)->rank;
    int nb = lb.n;
    if (bd[0] != TX_NOBATCH) dot_shift(&lc, bd[0]), dot_shift(&lb, bd[0]);
    if (bd[1] != TX_NOBATCH) dot_shift(&rc, bd[1]), dot_shift(&rb, bd[1]);
    if (bd[0] != TX_NOBATCH && bd[1] != TX_NOBATCH) {
        /* nb + 1 <= the batched rank <= JX_MAX_RANK, so the lists have room */
        memmove(&lb.v[1], &lb.v[0], (size_t)nb * sizeof lb.v[0]);
        memmove(&rb.v[1], &rb.v[0], (size_t)nb * sizeof rb.v[0]);
        lb.v[0] = bd[0];
        rb.v[0] = bd[1];
        lb.n = rb.n = nb + 1;
        *ybd = 0;
    } else if (bd[0] != TX_NOBATCH) {
        *ybd = nb + dot_free_pos(lrank, &lc, &lb, bd[0]);
    } else {
        int lfree[JX_MAX_RANK], rfree[JX_MAX_RANK];
        int nlf = dot_free_axes(lrank, &lc, &lb, lfree);
        int nrf = dot_free_axes(rrank, &rc, &rb, rfree);
        if (nrf == 1 && nlf > 0) {
            /* the batch axis is rhs's only free dim (W @ x[b]): swapping the operands
             * gives (batch, B, lhs free), the same non-batch order with B in front, so
             * no transpose of the result is needed later */
            *ybd = nb;
            *y = jx_dot_general_at(n->loc, x[1], x[0], rc, lc, rb, lb);
            return jx_val_bad(*y) ? -1 : 0;
        }
        *ybd = nb + nlf + dot_free_pos(rrank, &rc, &rb, bd[1]);
    }
    *y = jx_dot_general_at(n->loc, x[0], x[1], lc, rc, lb, rb);
    return jx_val_bad(*y) ? -1 : 0;
}

/* Loop lowering of integer dot_general at output index ix: a loop over the contraction
 * space. Float dot_general is a library call (a GEMM step, src/jit/plan_gemm.c), which the
 * planner never fuses, so it never comes here. */
static LLVMValueRef dot_lower(lw *L, const jx_node *nd, lw_ix *ix) {
    const jx_type *lt = &L->p->nodes[nd->in[0]].type, *rt = &L->p->nodes[nd->in[1]].type;
    jx_ints lc = ir_attr_ints(nd, 0), rc = ir_attr_ints(nd, 1), lb = ir_attr_ints(nd, 2),
            rb = ir_attr_ints(nd, 3);
    lw_multi(L, ix);
    lw_ix li = lw_ix_new(lt), ri = lw_ix_new(rt);
    li.multi = ri.multi = 1;
    int lused[JX_MAX_RANK] = {0}, rused[JX_MAX_RANK] = {0}, o = 0;
    for (int i = 0; i < lb.n; i++, o++) {
        li.v[lb.v[i]] = ix->v[o];
        ri.v[rb.v[i]] = ix->v[o];
        lused[lb.v[i]] = rused[rb.v[i]] = 1;
    }
    for (int i = 0; i < lc.n; i++) lused[lc.v[i]] = rused[rc.v[i]] = 1;
    for (int k = 0; k < lt->rank; k++)
        if (!lused[k]) li.v[k] = ix->v[o++];
    for (int k = 0; k < rt->rank; k++)
        if (!rused[k]) ri.v[k] = ix->v[o++];
    LLVMValueRef acc = lw_alloca(L, L->i32);
    LLVMBuildStore(L->b, LLVMConstInt(L->i32, 0, 0), acc);
    lw_loop lp[JX_MAX_RANK];
    for (int i = 0; i < lc.n; i++) {
        lp[i] = lw_loop_begin(L, lt->shape[lc.v[i]]);
        li.v[lc.v[i]] = ri.v[rc.v[i]] = lp[i].iv;
    }
    LLVMValueRef a = lw_eval(L, nd->in[0], &li), b = lw_eval(L, nd->in[1], &ri);
    LLVMValueRef s = LLVMBuildAdd(L->b, LLVMBuildLoad2(L->b, L->i32, acc, ""),
                                  LLVMBuildMul(L->b, a, b, ""), "");
    LLVMBuildStore(L->b, s, acc);
    for (int i = lc.n - 1; i >= 0; i--) lw_loop_end(L, &lp[i]);
    return LLVMBuildLoad2(L->b, L->i32, acc, "");
}

/* Fusion: a dot reads each operand element once per element of the other's free dims. */
static int dot_rereads(const jx_fn *f, const jx_node *n, int k) { return 1; }

const jx_family jx_family_dot = {.infer = dot_infer,
                                 .interp = dot_interp,
                                 .vjp = dot_vjp,
                                 .jvp = dot_jvp,
                                 .batch = dot_batch,
                                 .lower = dot_lower,
                                 .rereads = dot_rereads};

/* Public wrapper: emits dot_general(a, b) with the four axis lists. */
jx_val jx_dot_general_at(jx_loc loc, jx_val a, jx_val b, jx_ints lhs_contract,
                         jx_ints rhs_contract, jx_ints lhs_batch, jx_ints rhs_batch) {
    jx_val ins[2] = {a, b};
    jx_attrs at = ir_attrs(&lhs_contract, &rhs_contract, &lhs_batch, &rhs_batch);
    return trace_emit(loc, NULL, JX_OP_DOT_GENERAL, 2, ins, &at, NULL);
}

/* ---- gemm(a, b, c, alpha) = c + alpha * dot_general(a, b) ---------------------------- */

/* Shape rule of gemm: a and b as for dot_general (float only), c of the dot's type and
 * alpha a rank-0 scalar of the same dtype; the output has the dot's type. */
static int gemm_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                      const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (nin != 4) {
        snprintf(err, errlen, "expects 4 operands (a, b, c, alpha), got %d", nin);
        return -1;
    }
    if (dot_infer(op, 2, in, at, hint, out, err, errlen) < 0) return -1;
    if (out->dtype != JX_F32 && out->dtype != JX_F64) {
        snprintf(err, errlen, "dtype %s is not a float (need f32 or f64)",
                 jx_dtype_name(out->dtype));
        return -1;
    }
    char want[160], got[160];
    if (!jx_type_eq(&in[2], out)) {
        snprintf(err, errlen, "the accumulator c has type %s, but dot_general(a, b) has %s",
                 jx_type_str(&in[2], got, sizeof got), jx_type_str(out, want, sizeof want));
        return -1;
    }
    if (in[3].rank != 0 || in[3].dtype != out->dtype) {
        snprintf(err, errlen, "alpha must be a %s[] scalar, got %s", jx_dtype_name(out->dtype),
                 jx_type_str(&in[3], got, sizeof got));
        return -1;
    }
    return 0;
}

/* Reference gemm: the dot_general interpreter's result d (rounded to the dtype), then
 * c + (alpha * d) with each operation rounded to the dtype, as the unfused ops would. */
static int gemm_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    if (dot_interp(n, in, out) < 0) return -1;
    int64_t size = jx_array_size(out);
    double alpha = jx_array_get(in[3], 0);
    if (n->type.dtype == JX_F32) {
        float *o = jx_array_data(out), a = (float)alpha;
        const float *c = jx_array_cdata(in[2]);
        for (int64_t i = 0; i < size; i++) {
            float p = a * o[i];
            o[i] = c[i] + p;
        }
    } else {
        double *o = jx_array_data(out);
        const double *c = jx_array_cdata(in[2]);
        for (int64_t i = 0; i < size; i++) {
            double p = alpha * o[i];
            o[i] = c[i] + p;
        }
    }
    return 0;
}

/* Fusion: a and b as for dot_general; c is read once per element (and gets a buffer
 * anyway: the GEMM accumulates into it), alpha is a constant. */
static int gemm_rereads(const jx_fn *f, const jx_node *n, int k) { return k < 2; }

/* No transformation rules: gemm exists only after the JIT's passes ("rule not
 * implemented" names it if a hand-written gemm is transformed). No lowering: gemm is a
 * library call (a GEMM step, src/jit/plan_gemm.c). */
const jx_family jx_family_gemm = {.infer = gemm_infer,
                                  .interp = gemm_interp,
                                  .rereads = gemm_rereads};

/* See passes.h. */
jx_val dot_gemm_at(jx_loc loc, jx_val a, jx_val b, jx_val c, jx_val alpha, jx_ints lhs_contract,
                   jx_ints rhs_contract, jx_ints lhs_batch, jx_ints rhs_batch) {
    jx_val ins[4] = {a, b, c, alpha};
    jx_attrs at = ir_attrs(&lhs_contract, &rhs_contract, &lhs_batch, &rhs_batch);
    return trace_emit(loc, NULL, JX_OP_GEMM, 4, ins, &at, NULL);
}
