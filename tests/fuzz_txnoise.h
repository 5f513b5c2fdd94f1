/* The differential fuzzer of the transformations: rounding noise (see tests/fuzz_tx.h).
 * Copies of a function with small perturbations after the ops whose rounding the JIT and
 * the interpreter may do differently (ft_noisy), or of every derivative (ft_tangent_noisy),
 * through sub-functions too (cond branches, scan and while bodies, checkpointed
 * functions: their noise is part of the node's). Interpreted, they show how far rounding
 * moves each result. */
#ifndef JX_FUZZ_TXNOISE_H
#define JX_FUZZ_TXNOISE_H

#include "core/trace.h"


/* The ops whose results the JIT and the interpreter may round differently: f32
 * transcendentals are computed by the JIT's polynomials (within 1 ulp) and by libm in
 * double, f64 ones within a few ulps of each other; sums, GEMMs and conv_patches_t are
 * accumulated in another order (and f32 ones in double by the interpreter). Every other
 * op is correctly rounded by both. */
static int ft_approx_op(jx_op op) {
    switch (op) {
    case JX_OP_EXP: case JX_OP_LOG: case JX_OP_LOG1P: case JX_OP_EXPM1: case JX_OP_TANH:
    case JX_OP_LOGISTIC: case JX_OP_SIN: case JX_OP_COS: case JX_OP_POW: case JX_OP_RSQRT:
    case JX_OP_REDUCE_SUM: case JX_OP_DOT_GENERAL: case JX_OP_CONV_PATCHES_T: return 1;
    default: return 0;
    }
}

/* y + d * bound, d a constant of y's type holding c * (random sign) * (0.5..1), where
 * bound is |y| for a transcendental, and for an accumulation the same op on the absolute
 * values of the operands (sum |x|, |a| . |b|, overlaps of |x|): the size of the
 * rounding error either path may make there. */
static jx_val ft_noise(jx_trace *t, fz_gen *g, const jx_node *nd, const jx_val *x, jx_val y) {
    jx_dtype dt = nd->type.dtype;
    double eps = dt == JX_F32 ? 0x1p-24 : 0x1p-53, c = dt == JX_F32 ? 4 * eps : 32 * eps;
    if (!ft_approx_op(nd->op)) c = 2 * eps; /* a correctly rounded op */
    jx_val b = y;
    if (nd->op == JX_OP_REDUCE_SUM || nd->op == JX_OP_DOT_GENERAL ||
        nd->op == JX_OP_CONV_PATCHES_T) {
        jx_val ax[2];
        for (int i = 0; i < nd->nin; i++) ax[i] = jx_abs(x[i]);
        b = tx_replay(t, nd, ax);
        jx_type t0 = jx_val_type(x[0]);
        jx_ints at = ir_attr_ints(nd, 0); /* axes, lhs_contract or window */
        int64_t k = 1; /* terms per result: reduced elements, contraction length, overlaps */
        if (nd->op == JX_OP_CONV_PATCHES_T) k = at.v[0] * at.v[1];
        else
            for (int i = 0; i < at.n; i++) k *= t0.shape[at.v[i]];
        c = 2 * eps * (double)(k > 1 ? k : 1);
    }
    jx_array *d = jx_array_new_type(&nd->type);
    for (int64_t i = 0, n = jx_array_size(d); i < n; i++)
        jx_array_set(d, i, c * (fz_chance(g, 0.5) ? 1 : -1) * (0.5 + 0.5 * fz_unif(g)));
    jx_val r = jx_add(y, jx_mul(b, jx_constant(t, d)));
    jx_array_free(d);
    return r;
}

/* 1 if node nd of f rounds its result (arithmetic, transcendentals, accumulations, a
 * conversion f64 -> f32); data movement (reshape, transpose, slice, pad, select, ...),
 * neg/abs, max/min and max/min reductions are exact and get no noise: noise there
 * would split values that are equal by construction (x == max(x) in max's derivative). */
static int ft_rounding_op(const jx_fn *f, const jx_node *nd) {
    switch (nd->op) {
    case JX_OP_ADD: case JX_OP_SUB: case JX_OP_MUL: case JX_OP_DIV: case JX_OP_SQRT: return 1;
    case JX_OP_CONVERT: return nd->type.dtype == JX_F32 && f->nodes[nd->in[0]].type.dtype == JX_F64;
    default: return ft_approx_op(nd->op);
    }
}

/* Where ft_noisy puts noise: after the approximate ops and every float op computed from
 * one (the ops whose rounding may differ between the JIT and the interpreter, and those
 * where such a difference can change how a later op rounds: x * y / z - x * (y / z) is
 * pure rounding error whose value changes with any ulp of y); or after every float op. */
enum { FT_NOISE_DOWNSTREAM, FT_NOISE_ALL };

/* 1 if f or one of its sub-functions (at any depth) holds an approximate op of a float
 * dtype (f32 only: of f32). */
static int ft_fn_has_approx_dt(const jx_fn *f, int f32_only) {
    for (int i = f->n_in; i < f->n_nodes; i++) {
        const jx_node *nd = &f->nodes[i];
        jx_dtype dt = nd->type.dtype;
        if ((f32_only ? dt == JX_F32 : fz_isf(dt)) && ft_approx_op(nd->op)) return 1;
        for (int k = 0; k < nd->at.n_fns; k++)
            if (ft_fn_has_approx_dt(nd->at.fns[k], f32_only)) return 1;
    }
    return 0;
}
static int ft_fn_has_approx(const jx_fn *f) {
    return ft_fn_has_approx_dt(f, 0);
}

/* Node nd re-emitted into t on operands x with each sub-function replaced by
 * xf(sub, g, where) (a noisy copy); nodes without sub-functions as they are. Poison if a
 * copy failed (the rebuilt function then fails to finish). */
static jx_val ft_replay_fns(jx_trace *t, const jx_node *nd, const jx_val *x,
                            jx_fn *(*xf)(const jx_fn *, fz_gen *, int), fz_gen *g, int where) {
    if (nd->at.n_fns == 0) return tx_replay(t, nd, x);
    jx_fn *fns[JX_MAX_FNS] = {0};
    jx_val r = {t, -1};
    int ok = nd->at.n_fns <= JX_MAX_FNS;
    for (int k = 0; ok && k < nd->at.n_fns; k++)
        ok = (fns[k] = xf(nd->at.fns[k], g, where)) != NULL;
    if (ok) {
        jx_attrs at = nd->at;
        at.fns = (const jx_fn *const *)fns;
        r = trace_emit(nd->loc, t, nd->op, nd->nin, x, &at, &nd->type);
    }
    for (int k = 0; k < JX_MAX_FNS; k++) jx_fn_free(fns[k]);
    return r;
}

/* f with rounding noise (ft_noise) after the float ops that round (ft_rounding_op) and
 * `where` selects: approximate ones get a few ulps (or n eps sum|x| for accumulations),
 * correctly rounded ones 2 eps relative. A node with sub-functions gets noisy copies of
 * them (everywhere in them when an operand is computed from an approximate op); its
 * results count as computed from one when an operand is or a sub-function holds one.
 * Interpreted, it shows how far rounding differences move each result. NULL if f cannot
 * be rebuilt so. */
static jx_fn *ft_noisy(const jx_fn *f, fz_gen *g, int where) {
    jx_type in_t[FT_MAX_ARGS];
    for (int i = 0; i < f->n_in; i++) in_t[i] = f->nodes[i].type;
    jx_trace *t = jx_trace_begin(f->n_in, in_t);
    jx_val *v = malloc((size_t)(f->n_nodes + 1) * sizeof *v), outs[FT_MAX_ARGS], x[64];
    unsigned char *taint = calloc((size_t)f->n_nodes + 1, 1); /* computed from an approximate op */
    for (int i = 0; v && taint && i < f->n_nodes; i++) {
        const jx_node *nd = &f->nodes[i];
        if (i < f->n_in) {
            v[i] = jx_trace_input(t, i);
            continue;
        }
        int in_taint = 0;
        for (int k = 0; k < nd->nin && k < 64; k++)
            x[k] = v[nd->in[k]], in_taint |= taint[nd->in[k]];
        taint[i] = in_taint || (fz_isf(nd->type.dtype) && ft_approx_op(nd->op));
        for (int k = 0; k < nd->at.n_fns && !taint[i]; k++)
            taint[i] = ft_fn_has_approx(nd->at.fns[k]);
        v[i] = ft_replay_fns(t, nd, x, ft_noisy, g, in_taint ? FT_NOISE_ALL : where);
        if (fz_isf(nd->type.dtype) && (where == FT_NOISE_ALL || taint[i]) &&
            ft_rounding_op(f, nd) && !jx_val_bad(v[i]))
            v[i] = ft_noise(t, g, nd, x, v[i]);
    }
    for (int j = 0; v && taint && j < f->n_out; j++) outs[j] = v[f->outs[j]];
    jx_fn *r = v && taint ? jx_trace_end(t, f->n_out, outs) : (jx_trace_abort(t), NULL);
    free(v);
    free(taint);
    jx_clear_error();
    return r;
}

/* v with its derivative scaled by 1 + d (d a constant of 2 eps, random sign per element)
 * and its value unchanged: v + d * (v - stop_gradient(v)) is v for finite v. */
static jx_val ft_tnoise(jx_trace *t, fz_gen *g, const jx_type *ty, jx_val v) {
    jx_array *d = jx_array_new_type(ty);
    double c = ty->dtype == JX_F32 ? 0x1p-23 : 0x1p-52;
    for (int64_t e = 0, n = jx_array_size(d); e < n; e++)
        jx_array_set(d, e, c * (fz_chance(g, 0.5) ? 1 : -1) * (0.5 + 0.5 * fz_unif(g)));
    v = jx_add(v, jx_mul(jx_constant(t, d), jx_sub(v, jx_stop_gradient(v))));
    jx_array_free(d);
    return v;
}

static jx_fn *ft_tangent_noisy(const jx_fn *f, fz_gen *g);

/* ft_tangent_noisy as a sub-function transform of ft_replay_fns. */
static jx_fn *ft_tangent_noisy_sub(const jx_fn *f, fz_gen *g, int where) {
    (void)where;
    return ft_tangent_noisy(f, g);
}

/* f with every float node's derivative scaled by 1 + d (ft_tnoise; sub-functions too; the
 * results of a multi-result node once its run of gets is complete). The jvp of it shows
 * how far errors of 2 eps in every tangent (or, by transposition, in every cotangent,
 * each a rounded sum in reverse mode) move a result. NULL if f cannot be rebuilt so. */
static jx_fn *ft_tangent_noisy(const jx_fn *f, fz_gen *g) {
    jx_type in_t[FT_MAX_ARGS];
    for (int i = 0; i < f->n_in; i++) in_t[i] = f->nodes[i].type;
    jx_trace *t = jx_trace_begin(f->n_in, in_t);
    jx_val *v = malloc((size_t)(f->n_nodes + 1) * sizeof *v), outs[FT_MAX_ARGS], x[64];
    for (int i = 0, run = -1; v && i < f->n_nodes; i++) {
        const jx_node *nd = &f->nodes[i];
        if (i < f->n_in) {
            v[i] = jx_trace_input(t, i);
            continue;
        }
        for (int k = 0; k < nd->nin && k < 64; k++) x[k] = v[nd->in[k]];
        v[i] = ft_replay_fns(t, nd, x, ft_tangent_noisy_sub, g, 0);
        if (ir_is_multi(f, i)) {
            run = i; /* its gets follow: noise after the last one */
            continue;
        }
        if (nd->op == JX_OP_GET) {
            const jx_node *next = i + 1 < f->n_nodes ? &f->nodes[i + 1] : NULL;
            if (next && next->op == JX_OP_GET && next->in[0] == run) continue;
            for (int k = run + 1; k <= i; k++)
                if (fz_isf(f->nodes[k].type.dtype) && !jx_val_bad(v[k]))
                    v[k] = ft_tnoise(t, g, &f->nodes[k].type, v[k]);
            continue;
        }
        if (fz_isf(nd->type.dtype) && nd->nin > 0 && !jx_val_bad(v[i]))
            v[i] = ft_tnoise(t, g, &nd->type, v[i]);
    }
    for (int j = 0; v && j < f->n_out; j++) outs[j] = v[f->outs[j]];
    jx_fn *r = v ? jx_trace_end(t, f->n_out, outs) : (jx_trace_abort(t), NULL);
    free(v);
    jx_clear_error();
    return r;
}

#endif
