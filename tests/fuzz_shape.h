/* Shape and reduction steps of the random program generator (see fuzz_meta.h for the
 * value descriptions). */
#ifndef JX_FUZZ_SHAPE_H
#define JX_FUZZ_SHAPE_H

#include "fuzz_elt.h"

/* An empty jx_ints of length n. */
static inline jx_ints fz_ints(int n) {
    jx_ints r;
    memset(&r, 0, sizeof r);
    r.n = n;
    return r;
}

/* A random permutation of 0..n-1 into p. */
static inline void fz_perm(fz_gen *g, int n, int64_t *p) {
    for (int i = 0; i < n; i++) p[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)fz_below(g, i + 1);
        int64_t t = p[i];
        p[i] = p[j], p[j] = t;
    }
}

/* The description of x with bounds widened to include 0 (padding, empty sums). */
static inline fz_val fz_with_zero(fz_val x) {
    x.lo = fmin(x.lo, 0), x.hi = fmax(x.hi, 0);
    return x;
}

/* The union of two descriptions (for values whose elements come from either). */
static inline fz_val fz_union(fz_val a, const fz_val *b) {
    a.lo = fmin(a.lo, b->lo), a.hi = fmax(a.hi, b->hi), a.err = fmax(a.err, b->err);
    a.special |= b->special, a.zamb |= b->zamb, a.isconst &= b->isconst;
    return a;
}

/* ---- shape ops ---------------------------------------------------------------------- */

/* broadcast_in_dim to a random rank >= the operand's, expanding size-1 dims. */
static int fz_step_broadcast(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    int r = x.t.rank + (int)fz_below(g, 3);
    if (r > 4) r = x.t.rank > 4 ? x.t.rank : 4;
    jx_ints shape = fz_ints(r), dims = fz_ints(x.t.rank);
    int64_t pos[JX_MAX_RANK];
    fz_perm(g, r, pos); /* the first x.rank entries, sorted, are the mapped dims */
    for (int a = 0; a < x.t.rank; a++)
        for (int b = a + 1; b < x.t.rank; b++)
            if (pos[b] < pos[a]) {
                int64_t t = pos[a];
                pos[a] = pos[b], pos[b] = t;
            }
    for (int d = 0; d < r; d++) shape.v[d] = fz_dim(g);
    for (int a = 0; a < x.t.rank; a++) {
        dims.v[a] = pos[a];
        if (x.t.shape[a] != 1 || fz_chance(g, 0.3)) shape.v[pos[a]] = x.t.shape[a];
    }
    jx_type t = {x.t.dtype, r, {0}};
    memcpy(t.shape, shape.v, sizeof t.shape);
    if (jx_type_size(&t) > g->cap) return 0;
    o.v = jx_broadcast_in_dim(x.v, shape, dims);
    return fz_push(g, o, FZ_BROADCAST);
}

/* reshape to a random factorization of the element count (rank 0-4). */
static int fz_step_reshape(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    int64_t n = jx_type_size(&x.t);
    int r = (int)fz_below(g, 5);
    if (n != 1 && r == 0) r = 1;
    jx_ints s = fz_ints(r);
    for (int d = 0; d < r; d++) s.v[d] = 1;
    if (n == 0) {
        for (int d = 0; d < r; d++) s.v[d] = fz_dim(g);
        s.v[fz_below(g, r)] = 0;
    } else {
        int64_t m = n;
        for (int64_t f = 2; m > 1;) { /* give each prime factor to a random dim */
            if (m % f == 0) {
                s.v[fz_below(g, r)] *= f;
                m /= f;
            } else {
                f++;
            }
        }
    }
    o.v = jx_reshape(x.v, s);
    return fz_push(g, o, FZ_RESHAPE);
}

/* transpose by a random permutation. */
static int fz_step_transpose(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    jx_ints p = fz_ints(x.t.rank);
    fz_perm(g, x.t.rank, p.v);
    o.v = jx_transpose(x.v, p);
    return fz_push(g, o, FZ_TRANSPOSE);
}

/* slice with random bounds and strides 1-3. */
static int fz_step_slice(fz_gen *g) {
    int i = fz_pick(g, fz_ok_ranked);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    int r = x.t.rank;
    jx_ints st = fz_ints(r), li = fz_ints(r), sd = fz_ints(r);
    for (int d = 0; d < r; d++) {
        int64_t n = x.t.shape[d];
        st.v[d] = fz_below(g, n + 1);
        li.v[d] = st.v[d] + fz_below(g, n - st.v[d] + 1);
        if (li.v[d] == st.v[d] && n > 0 && fz_chance(g, 0.8)) /* mostly non-empty */
            st.v[d] = fz_below(g, n), li.v[d] = st.v[d] + 1 + fz_below(g, n - st.v[d]);
        if (fz_chance(g, 0.4)) st.v[d] = 0, li.v[d] = n;
        sd.v[d] = 1 + fz_below(g, 3);
    }
    o.v = jx_slice(x.v, st, li, sd);
    return fz_push(g, o, FZ_SLICE);
}

/* pad with a scalar (a pool scalar or a new constant): lo/hi in -1..2, interior 0..2. */
static int fz_step_pad(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i];
    int c[FZ_MAX_VALS], nc = 0;
    for (int k = 0; k < g->n; k++)
        if (g->vals[k].t.rank == 0 && g->vals[k].t.dtype == x.t.dtype) c[nc++] = k;
    int k = nc > 0 && fz_chance(g, 0.5) ? c[fz_below(g, nc)] : -1;
    if (k < 0) {
        jx_type st = {x.t.dtype, 0, {0}};
        if (!fz_emit_const(g, st)) return 0;
        k = g->n - 1;
    }
    fz_val pv = g->vals[k];
    int r = x.t.rank;
    jx_ints lo = fz_ints(r), hi = fz_ints(r), in = fz_ints(r);
    jx_type t = x.t;
    for (int d = 0; d < r; d++) {
        int64_t n = x.t.shape[d];
        lo.v[d] = fz_below(g, 4) - 1, hi.v[d] = fz_below(g, 4) - 1;
        in.v[d] = fz_chance(g, 0.7) ? 0 : fz_below(g, 3);
        t.shape[d] = lo.v[d] + hi.v[d] + n + (n > 0 ? n - 1 : 0) * in.v[d];
        if (t.shape[d] < 0) lo.v[d] = hi.v[d] = 0, t.shape[d] = n + (n > 0 ? n - 1 : 0) * in.v[d];
    }
    if (jx_type_size(&t) > g->cap) return 0;
    fz_val o = fz_union(x, &pv);
    o.v = jx_pad(x.v, pv.v, lo, hi, in);
    return fz_push(g, o, FZ_PAD);
}

/* concatenate 2-3 operands along a random axis: x, pool values that fit, slices of x, or
 * new constants with another size along the axis. */
static int fz_step_concat(fz_gen *g) {
    int i = fz_pick(g, fz_ok_ranked);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    int ax = (int)fz_below(g, x.t.rank), n = 2 + (int)fz_below(g, 2);
    jx_val xs[3];
    int64_t total = x.t.shape[ax];
    xs[0] = x.v;
    for (int k = 1; k < n; k++) {
        int c[FZ_MAX_VALS], nc = 0;
        for (int j = 0; j < g->n; j++) {
            const jx_type *u = &g->vals[j].t;
            int fits = u->dtype == x.t.dtype && u->rank == x.t.rank;
            for (int d = 0; fits && d < u->rank; d++) fits = d == ax || u->shape[d] == x.t.shape[d];
            if (fits) c[nc++] = j;
        }
        int j = -1, how = (int)fz_below(g, 3);
        if (how == 0 && nc > 0) {
            j = c[fz_below(g, nc)];
        } else if (how == 1) { /* a slice of x along the axis */
            jx_ints st = fz_ints(x.t.rank), li = fz_ints(x.t.rank), sd = fz_ints(x.t.rank);
            for (int d = 0; d < x.t.rank; d++) li.v[d] = x.t.shape[d], sd.v[d] = 1;
            st.v[ax] = fz_below(g, x.t.shape[ax] + 1);
            fz_val s = x;
            s.v = jx_slice(x.v, st, li, sd);
            if (!fz_push(g, s, FZ_SLICE)) return 0;
            j = g->n - 1;
        } else {
            jx_type t = x.t;
            t.shape[ax] = fz_dim(g);
            if (!fz_emit_const(g, t)) return 0;
            j = g->n - 1;
        }
        xs[k] = g->vals[j].v;
        total += g->vals[j].t.shape[ax];
        o = fz_union(o, &g->vals[j]);
    }
    jx_type t = x.t;
    t.shape[ax] = total;
    if (jx_type_size(&t) > g->cap) return 0;
    o.v = jx_concatenate(n, xs, ax);
    return fz_push(g, o, FZ_CONCAT);
}

/* rev along a random non-empty set of axes. */
static int fz_step_rev(fz_gen *g) {
    int i = fz_pick(g, fz_ok_ranked);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    jx_ints d = fz_ints(0);
    for (int a = 0; a < x.t.rank; a++)
        if (fz_chance(g, 0.5)) d.v[d.n++] = a;
    if (d.n == 0) d.v[d.n++] = fz_below(g, x.t.rank);
    o.v = jx_rev(x.v, d);
    return fz_push(g, o, FZ_REV);
}

/* ---- reductions --------------------------------------------------------------------- */

/* reduce_sum/max/min over a random set of axes (sometimes through jx_sum/jx_amax with
 * keepdims). */
static int fz_step_reduce(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    jx_dtype dt = x.t.dtype;
    int kind = (int)fz_below(g, 3); /* 0 sum, 1 max, 2 min */
    if (kind == 0 && dt == JX_BOOL) kind = 1;
    jx_ints axes = fz_ints(0);
    int64_t n = 1;
    for (int a = 0; a < x.t.rank; a++)
        if (fz_chance(g, 0.5)) axes.v[axes.n++] = a, n *= x.t.shape[a];
    int helper = x.t.rank > 0 && kind < 2 && fz_chance(g, 0.25);
    if (helper) { /* one axis, keepdims */
        axes.n = 1, axes.v[0] = fz_below(g, x.t.rank), n = x.t.shape[axes.v[0]];
    }
    if (n == 0) { /* every output element is the identity */
        o.err = 0, o.special = 0, o.zamb = 0;
        if (kind == 0) o.lo = o.hi = 0;
        else if (fz_isf(dt)) o.lo = o.hi = 0, o.special = 1;
        else {
            double a, b;
            fz_irange(dt, &a, &b);
            o.lo = o.hi = kind == 1 ? a : b;
        }
    } else if (kind == 0) {
        o.lo = n * x.lo, o.hi = n * x.hi;
        if (fz_isf(dt)) {
            double m = fz_mag(&x), e = fz_eps(dt);
            /* f32: the interpreter sums in double, the JIT in float (any order); f64:
             * both in double, the JIT reassociated */
            if (x.err > 0 || n > (dt == JX_F32 ? 1 : 2))
                o.err = n * x.err + 2.0 * (double)n * (double)n * e * m + fz_rnd(dt, n * m);
            o.zamb = o.lo <= 0 && o.hi >= 0;
        }
    } else if (fz_isf(dt)) {
        o.zamb |= fz_may_zero(&x); /* llvm.maximum orders -0 < +0, the interpreter not */
    }
    if (!fz_finish(&o)) return 0;
    if (helper) o.v = kind == 0 ? jx_sum(x.v, (int)axes.v[0], 1) : jx_amax(x.v, (int)axes.v[0], 1);
    else if (kind == 0) o.v = jx_reduce_sum(x.v, axes);
    else if (kind == 1) o.v = jx_reduce_max(x.v, axes);
    else o.v = jx_reduce_min(x.v, axes);
    return fz_push(g, o, FZ_REDUCE);
}

/* argmax of an exact value along a non-empty axis, as i32 or u32. */
static int fz_step_argmax(fz_gen *g) {
    int i = fz_pick(g, fz_ok_exact);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o;
    if (x.t.rank == 0) return 0;
    int ax = (int)fz_below(g, x.t.rank);
    if (x.t.shape[ax] == 0) return 0;
    memset(&o, 0, sizeof o);
    o.hi = (double)x.t.shape[ax] - 1, o.isconst = x.isconst;
    o.v = jx_argmax(x.v, ax, fz_chance(g, 0.5) ? JX_I32 : JX_U32);
    return fz_push(g, o, FZ_ARGMAX);
}

#endif
