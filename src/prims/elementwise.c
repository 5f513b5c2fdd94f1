/* The rules shared by every elementwise group (see elementwise.h): the shape/dtype rule,
 * the reference evaluation loops, the loop lowering, and NumPy broadcasting for the binary
 * constructors. Operands have equal shapes; the output has that shape. Each rule finds
 * the op's own rules (dtypes, scalar evaluation, scalar emission) in its group's row. */
#include <stdio.h>
#include <string.h>

#include "prims/elementwise.h"
#include "prims/elt_broadcast.h"
#include "core/util.h"

#define ELT_TBUF 200 /* room for the longest type string ("bool[" + 8 dims + "]") */

/* See elementwise.h. */
const elt_op *elt_row(jx_op op) {
    if (op < 0 || op >= JX_NOPS) return NULL;
    const jx_family *fam = prim_info(op)->family;
    if (fam->infer != elt_infer || !fam->impl) return NULL;
    const elt_group *g = fam->impl;
    for (int i = 0; i < g->n; i++)
        if (g->ops[i].op == op) return &g->ops[i];
    return NULL;
}

/* Writes "f32, f64 or i32" (the dtypes in mask) into buf; returns buf. */
static char *elt_mask_str(unsigned mask, char *buf, size_t len) {
    size_t k = 0;
    int count = 0, total = 0;
    for (int d = 0; d < JX_NDTYPES; d++) total += (mask >> d) & 1;
    buf[0] = 0;
    for (int d = 0; d < JX_NDTYPES && k < len; d++) {
        if (!((mask >> d) & 1)) continue;
        const char *sep = count == 0 ? "" : count == total - 1 ? " or " : ", ";
        k += (size_t)snprintf(buf + k, len - k, "%s%s", sep, jx_dtype_name((jx_dtype)d));
        count++;
    }
    return buf;
}

/* See elementwise.h. */
int elt_check_dtype(const elt_op *row, const jx_type *t, char *err, size_t errlen) {
    unsigned mask = row->dtypes;
    if ((unsigned)t->dtype < JX_NDTYPES && (mask & ELT_BIT(t->dtype))) return 0;
    char b[64];
    snprintf(err, errlen, "operand dtype %s is not supported (expected %s)",
             jx_dtype_name(t->dtype), elt_mask_str(mask, b, sizeof b));
    return -1;
}

/* See elementwise.h. */
int elt_same_shape(const jx_type *a, const jx_type *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Shape/dtype rule of the groups (see jx_family.infer): unary ops keep the operand type;
 * binary ops need equal shapes and dtypes and keep them (comparisons give bool); a row's
 * own infer (convert, bitcast, select) replaces all but the arity check. */
int elt_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at, const jx_type *hint,
              jx_type *out, char *err, size_t errlen) {
    char b1[ELT_TBUF], b2[ELT_TBUF];
    (void)at;
    const elt_op *row = elt_row(op);
    if (!row) {
        snprintf(err, errlen, "not an elementwise primitive");
        return -1;
    }
    int arity = prim_info(op)->arity;
    if (nin != arity) {
        snprintf(err, errlen, "takes %d operand%s, got %d", arity, arity == 1 ? "" : "s", nin);
        return -1;
    }
    if (row->infer) return row->infer(op, in, hint, out, err, errlen);
    if (nin == 2) {
        if (!elt_same_shape(&in[0], &in[1])) {
            snprintf(err, errlen, "operand shapes differ: %s vs %s",
                     jx_type_str(&in[0], b1, sizeof b1), jx_type_str(&in[1], b2, sizeof b2));
            return -1;
        }
        if (in[0].dtype != in[1].dtype) {
            snprintf(err, errlen, "operand dtypes differ: %s vs %s",
                     jx_type_str(&in[0], b1, sizeof b1), jx_type_str(&in[1], b2, sizeof b2));
            return -1;
        }
    }
    if (elt_check_dtype(row, &in[0], err, errlen)) return -1;
    *out = in[0];
    if (row->out_bool) out->dtype = JX_BOOL;
    return 0;
}

/* The scalar loops of row's op over float operands p[0..nin) into q; out_bool stores
 * nonzero results as bool. FLOAT is float or double, HOOK the row's f32 or f64. */
#define ELT_FLOAT_LOOP(FLOAT, HOOK)                                                        \
    for (int64_t i = 0; i < size; i++) {                                                   \
        FLOAT a[2] = {0, 0};                                                               \
        for (int k = 0; k < nin; k++) a[k] = ((const FLOAT *)p[k])[i];                     \
        FLOAT r = row->HOOK(a);                                                            \
        if (row->out_bool) ((uint8_t *)q)[i] = r != 0;                                     \
        else ((FLOAT *)q)[i] = r;                                                          \
    }

/* Evaluates row's op with its scalar hooks (nin = 1 or 2 operands of one dtype) into out.
 * 0, or -1 if the row has no hook for the dtype. */
static int elt_eval_scalar(const elt_op *row, int nin, jx_array *const *in, jx_array *out) {
    jx_dtype dt = jx_array_dtype(in[0]);
    const void *p[2] = {jx_array_cdata(in[0]), nin > 1 ? jx_array_cdata(in[1]) : NULL};
    void *q = jx_array_data(out);
    int64_t size = jx_array_size(out);
    if (dt == JX_F32) {
        if (!row->f32) return -1;
        ELT_FLOAT_LOOP(float, f32)
        return 0;
    }
    if (dt == JX_F64) {
        if (!row->f64) return -1;
        ELT_FLOAT_LOOP(double, f64)
        return 0;
    }
    if ((dt != JX_I32 && dt != JX_U32 && dt != JX_BOOL) || !row->ints) return -1;
    for (int64_t i = 0; i < size; i++) {
        uint32_t a[2] = {0, 0};
        for (int k = 0; k < nin; k++)
            a[k] = dt == JX_BOOL ? ((const uint8_t *)p[k])[i] != 0 : ((const uint32_t *)p[k])[i];
        uint32_t r = row->ints(dt, a);
        if (row->out_bool || dt == JX_BOOL) ((uint8_t *)q)[i] = r != 0;
        else ((uint32_t *)q)[i] = r;
    }
    return 0;
}
#undef ELT_FLOAT_LOOP

/* Reference evaluation of one elementwise node (see jx_family.interp): in[] hold the
 * operands, out is preallocated with n->type. Returns 0 or -1 with jx_error set. */
int elt_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const char *name = prim_info(n->op)->name;
    /* re-check the rule on the actual arrays, so a malformed graph cannot read out of
     * bounds */
    jx_type types[3], want = jx_array_type(out), got;
    char err[512];
    if (n->nin < 1 || n->nin > 3) return util_err("%s: bad operand count %d", name, n->nin);
    for (int k = 0; k < n->nin; k++) {
        if (!in[k]) return util_err("%s: operand %d is missing", name, k);
        types[k] = jx_array_type(in[k]);
    }
    if (elt_infer(n->op, n->nin, types, &n->at, &want, &got, err, sizeof err) < 0)
        return util_err("%s: %s", name, err);
    if (!jx_type_eq(&got, &want)) return util_err("%s: output array has the wrong type", name);
    const elt_op *row = elt_row(n->op);
    if (row->eval) {
        row->eval(in, out);
        return 0;
    }
    if (n->nin > 2 || elt_eval_scalar(row, n->nin, in, out)) {
        char b[ELT_TBUF];
        jx_type t = jx_array_type(in[0]);
        return util_err("%s: no evaluation rule for operand %s", name,
                        jx_type_str(&t, b, sizeof b));
    }
    return 0;
}

/* Loop lowering of the groups (see jx_family.lower): the operands at the same index,
 * then the op's scalar emission. */
LLVMValueRef elt_lower(lw *L, const jx_node *n, lw_ix *ix) {
    const elt_op *row = elt_row(n->op);
    jx_dtype xd = L->p->nodes[n->in[0]].type.dtype;
    LLVMValueRef a[3];
    for (int k = 0; k < n->nin && k < 3; k++) a[k] = lw_eval(L, n->in[k], ix);
    return row && row->emit ? row->emit(L, xd, n->type.dtype, a) : NULL;
}

/* ---- NumPy broadcasting for the constructors --------------------------------------------- */

/* See elt_broadcast.h. */
int elt_broadcast_shapes(int n, const jx_type *ts, jx_type *out) {
    int rank = 0;
    for (int i = 0; i < n; i++)
        if (ts[i].rank > rank) rank = ts[i].rank;
    memset(out, 0, sizeof *out);
    out->rank = rank;
    for (int d = 0; d < rank; d++) { /* d counts from the last dim */
        int64_t size = 1;
        for (int i = 0; i < n; i++) {
            if (d >= ts[i].rank) continue;
            int64_t s = ts[i].shape[ts[i].rank - 1 - d];
            if (s == 1) continue;
            if (size == 1) size = s;
            else if (size != s) return -1;
        }
        out->shape[rank - 1 - d] = size;
    }
    return 0;
}

/* See elt_broadcast.h. */
jx_val elt_broadcast_val(jx_loc loc, jx_val x, const jx_type *xt, const jx_type *to) {
    jx_ints shape = JX_NOINTS, dims = JX_NOINTS;
    shape.n = to->rank;
    for (int i = 0; i < to->rank; i++) shape.v[i] = to->shape[i];
    if (elt_same_shape(xt, to)) return x;
    dims.n = xt->rank;
    for (int j = 0; j < xt->rank; j++) dims.v[j] = to->rank - xt->rank + j;
    return jx_broadcast_in_dim_at(loc, x, shape, dims);
}

/* See elementwise.h. */
jx_val elt_emit_broadcast(jx_loc loc, jx_op op, int n, const jx_val *in) {
    jx_type ts[3], shape;
    jx_val args[3];
    memset(ts, 0, sizeof ts);
    /* a body's value and one of an enclosing trace it closes over: the outer one is
     * captured first; operands of unrelated traces go to trace_emit, which says so */
    jx_trace *t = trace_innermost(n, in);
    for (int i = 0; i < n; i++) {
        args[i] = t && !jx_val_bad(in[i]) ? trace_capture(t, in[i]) : in[i];
        if (jx_val_bad(args[i]) || args[i].t != t)
            return trace_emit(loc, NULL, op, n, in, NULL, NULL);
    }
    for (int i = 0; i < n; i++) ts[i] = jx_val_type(args[i]);
    if (elt_broadcast_shapes(n, ts, &shape) < 0) {
        char b[3][ELT_TBUF];
        for (int i = 0; i < n; i++) jx_type_str(&ts[i], b[i], sizeof b[i]);
        if (n == 2)
            return trace_fail(t, loc, prim_info(op)->name,
                              "shapes %s and %s cannot be broadcast together", b[0], b[1]);
        return trace_fail(t, loc, prim_info(op)->name,
                          "shapes %s, %s and %s cannot be broadcast together", b[0], b[1], b[2]);
    }
    for (int i = 0; i < n; i++) {
        args[i] = elt_broadcast_val(loc, args[i], &ts[i], &shape);
        if (jx_val_bad(args[i])) return args[i];
    }
    return trace_emit(loc, NULL, op, n, args, NULL, NULL);
}
