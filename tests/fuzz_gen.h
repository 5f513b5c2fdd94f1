/* Contraction, convolution and PRNG steps of the random program generator, and fz_build,
 * which assembles a whole program from a seed (see fuzz_meta.h for the value
 * descriptions; fuzz_elt.h and fuzz_shape.h hold the other steps). */
#ifndef JX_FUZZ_GEN_H
#define JX_FUZZ_GEN_H

#include "fuzz_shape.h"

/* ---- dot_general ---------------------------------------------------------------------- */

/* Description of a dot_general of a and b contracting k elements, or 0 if it would not
 * be comparable (float GEMMs are approximate; inf/NaN must not meet approximate
 * operands). */
static int fz_dot_meta(const fz_val *a, const fz_val *b, int64_t k, fz_val *o) {
    memset(o, 0, sizeof *o);
    o->t = a->t;
    o->isconst = a->isconst && b->isconst;
    o->isdot = fz_isf(a->t.dtype);
    if (!fz_isf(a->t.dtype)) {
        o->lo = -1e300, o->hi = 1e300;
        return fz_finish(o);
    }
    if (k == 0) return 1; /* zeros */
    if ((a->special && b->err > 0) || (b->special && a->err > 0)) return 0;
    double ma = fz_mag(a), mb = fz_mag(b), e = fz_eps(a->t.dtype), K = (double)k;
    o->lo = -K * ma * mb, o->hi = K * ma * mb;
    o->special = a->special || b->special, o->zamb = 1;
    o->err = K * (ma * b->err + mb * a->err + a->err * b->err) + 2 * K * K * e * ma * mb +
             fz_rnd(a->t.dtype, K * ma * mb);
    return fz_finish(o);
}

/* dot_general of a numeric value with a pool value sharing some dims, or with a new
 * constant built to contract/batch with it. */
static int fz_step_dot(fz_gen *g) {
    int i = fz_pick(g, fz_ok_numeric);
    if (i < 0) return 0;
    fz_val a = g->vals[i];
    jx_ints lc = fz_ints(0), rc = fz_ints(0), lb = fz_ints(0), rb = fz_ints(0);
    int j = -1;
    if (fz_chance(g, 0.5)) { /* a pool partner: pair up equal dims */
        int c[FZ_MAX_VALS], nc = 0;
        for (int k = 0; k < g->n; k++)
            if (g->vals[k].t.dtype == a.t.dtype) c[nc++] = k;
        j = c[fz_below(g, nc)];
        const jx_type *bt = &g->vals[j].t;
        int used_a[JX_MAX_RANK] = {0}, used_b[JX_MAX_RANK] = {0};
        int want = (int)fz_below(g, 4);
        for (int tries = 0; tries < 12 && lc.n + lb.n < want; tries++) {
            if (a.t.rank == 0 || bt->rank == 0) break;
            int x = (int)fz_below(g, a.t.rank), y = (int)fz_below(g, bt->rank);
            if (used_a[x] || used_b[y] || a.t.shape[x] != bt->shape[y]) continue;
            used_a[x] = used_b[y] = 1;
            if (fz_chance(g, 0.7)) lc.v[lc.n] = x, rc.v[rc.n] = y, lc.n++, rc.n++;
            else lb.v[lb.n] = x, rb.v[rb.n] = y, lb.n++, rb.n++;
        }
    } else { /* a new constant: [batch..., contract..., free...] in a random order */
        int nb = (int)fz_below(g, 2), ncn = (int)fz_below(g, 3), nf = (int)fz_below(g, 3);
        if (nb + ncn > a.t.rank) nb = 0;
        if (ncn > a.t.rank) ncn = a.t.rank;
        int64_t p[JX_MAX_RANK];
        fz_perm(g, a.t.rank, p);
        int rr = nb + ncn + nf;
        int64_t slot[JX_MAX_RANK];
        fz_perm(g, rr, slot);
        jx_type bt = {a.t.dtype, rr, {0}};
        for (int k = 0; k < nb; k++) {
            lb.v[k] = p[k], rb.v[k] = slot[k];
            bt.shape[slot[k]] = a.t.shape[p[k]];
        }
        for (int k = 0; k < ncn; k++) {
            lc.v[k] = p[nb + k], rc.v[k] = slot[nb + k];
            bt.shape[slot[nb + k]] = a.t.shape[p[nb + k]];
        }
        for (int k = 0; k < nf; k++) bt.shape[slot[nb + ncn + k]] = fz_dim(g);
        lb.n = rb.n = nb, lc.n = rc.n = ncn;
        if (jx_type_size(&bt) > g->cap) return 0;
        if (!fz_emit_const(g, bt)) return 0;
        j = g->n - 1;
        a = g->vals[i];
    }
    fz_val b = g->vals[j], o;
    /* sizes: K contracted, the output's element count (batch, lhs free, rhs free) */
    int64_t k = 1, out = 1;
    int ma_[JX_MAX_RANK] = {0}, mb_[JX_MAX_RANK] = {0};
    for (int d = 0; d < lc.n; d++) k *= a.t.shape[lc.v[d]], ma_[lc.v[d]] = 1, mb_[rc.v[d]] = 1;
    for (int d = 0; d < lb.n; d++) out *= a.t.shape[lb.v[d]], ma_[lb.v[d]] = 1, mb_[rb.v[d]] = 1;
    for (int d = 0; d < a.t.rank; d++)
        if (!ma_[d]) out *= a.t.shape[d];
    for (int d = 0; d < b.t.rank; d++)
        if (!mb_[d]) out *= b.t.shape[d];
    if (out > g->cap || k > 512) return 0;
    if (a.t.rank + b.t.rank - 2 * lc.n - lb.n > 5) return 0; /* output rank */
    if (!fz_dot_meta(&a, &b, k, &o)) return 0;
    if (fz_chance(g, 0.5)) { /* the other operand order */
        o.v = jx_dot_general(b.v, a.v, rc, lc, rb, lb);
    } else {
        o.v = jx_dot_general(a.v, b.v, lc, rc, lb, rb);
    }
    return fz_push(g, o, FZ_DOT);
}

static int fz_ok_float2(const fz_val *v) {
    return fz_isf(v->t.dtype) && v->t.rank == 2;
}

/* The pattern the JIT folds into one GEMM with beta = 1: w - c * dot(a, b) or
 * w + c * dot(a, b) (either order), c a scalar constant, w of the product's type. */
static int fz_step_gemm_update(fz_gen *g) {
    /* w first (often an input, so donation applies) or the product's lhs first */
    int wi = fz_chance(g, 0.5) ? fz_pick(g, fz_ok_float2) : -1, i = -1;
    if (wi < 0) i = fz_pick(g, fz_ok_float2);
    if (wi < 0 && i < 0) {
        jx_type t = fz_rand_type(g, fz_chance(g, 0.5) ? JX_F32 : JX_F64, 2);
        if (!fz_emit_const(g, t)) return 0;
        i = g->n - 1;
    }
    if (wi >= 0) { /* a: [m, k] of w's dtype, from the pool or new */
        const jx_type *wt = &g->vals[wi].t;
        jx_type at = {wt->dtype, 2, {wt->shape[0], fz_dim(g)}};
        for (int q = 0; q < g->n; q++)
            if (g->vals[q].t.dtype == at.dtype && g->vals[q].t.rank == 2 &&
                g->vals[q].t.shape[0] == at.shape[0] && fz_chance(g, 0.5))
                i = q;
        if (i < 0) {
            if (!fz_emit_const(g, at)) return 0;
            i = g->n - 1;
        }
    }
    fz_val a = g->vals[i];
    int64_t n = wi >= 0 ? g->vals[wi].t.shape[1] : fz_dim(g);
    int tb = fz_chance(g, 0.3); /* b stored as [n,k] */
    jx_type bt = {a.t.dtype, 2, {a.t.shape[1], n}};
    if (tb) bt.shape[0] = n, bt.shape[1] = a.t.shape[1];
    int j = -1;
    for (int k = 0; k < g->n; k++)
        if (jx_type_eq(&g->vals[k].t, &bt) && fz_chance(g, 0.5)) j = k;
    if (j < 0) {
        if (!fz_emit_const(g, bt)) return 0;
        j = g->n - 1;
    }
    fz_val b = g->vals[j], d, c, m, w, s;
    if (!fz_dot_meta(&a, &b, a.t.shape[1], &d)) return 0;
    d.v = jx_dot_general(a.v, b.v, JX_INTS(1), JX_INTS(tb ? 1 : 0), JX_NOINTS, JX_NOINTS);
    if (!fz_push(g, d, FZ_DOT)) return 0;
    d = g->vals[g->n - 1];
    static const double cs[8] = {0.5, -0.25, 2, 1, 0.01, -1, 3, 0}; /* 0 last */
    memset(&c, 0, sizeof c);
    c.t = (jx_type){a.t.dtype, 0, {0}};
    c.lo = c.hi = cs[fz_below(g, 8)], c.isconst = 1;
    if (!fz_binary_meta(FZ_MUL, &c, &d, &m)) return 0;
    int k = wi;
    for (int q = 0; q < g->n && k < 0; q++)
        if (jx_type_eq(&g->vals[q].t, &d.t) && q != g->n - 1 && fz_chance(g, 0.6)) k = q;
    if (k < 0) {
        if (!fz_emit_const(g, d.t)) return 0;
        k = g->n - 1;
    }
    w = g->vals[k];
    int sub = fz_chance(g, 0.5), wfirst = fz_chance(g, 0.5);
    if (!fz_binary_meta(sub ? FZ_SUB : FZ_ADD, &w, &m, &s)) return 0;
    c.v = jx_scalar(g->t, a.t.dtype, c.lo);
    m.v = fz_chance(g, 0.5) ? jx_mul(c.v, d.v) : jx_mul(d.v, c.v);
    if (!fz_push(g, m, FZ_BINARY)) return 0;
    if (sub) s.v = jx_sub(w.v, m.v);
    else s.v = wfirst ? jx_add(w.v, m.v) : jx_add(m.v, w.v);
    return fz_push(g, s, FZ_GEMM_UPDATE);
}

/* ---- convolution patches ---------------------------------------------------------------- */

/* Random window (1-3), strides (1-2) and padding (0-1) for a [N,H,W,C] image. */
static void fz_conv_params(fz_gen *g, jx_ints *win, jx_ints *st, jx_ints *plo, jx_ints *phi) {
    *win = fz_ints(2), *st = fz_ints(2), *plo = fz_ints(2), *phi = fz_ints(2);
    for (int d = 0; d < 2; d++) {
        win->v[d] = 1 + fz_below(g, 3), st->v[d] = 1 + fz_below(g, 2);
        plo->v[d] = fz_below(g, 2), phi->v[d] = fz_below(g, 2);
    }
}

static int fz_ok_conv_src(const fz_val *v) {
    return v->t.dtype == JX_F32 || v->t.dtype == JX_F64 || v->t.dtype == JX_I32;
}

/* Index of a rank-4 f32/f64/i32 value: from the pool, or a reshape of another one to a
 * random 4-d factorization of its size. -1 if none. */
static int fz_image(fz_gen *g) {
    int i = fz_pick(g, fz_ok_conv);
    if (i >= 0 && fz_chance(g, 0.7)) return i;
    i = fz_pick(g, fz_ok_conv_src);
    if (i < 0) return -1;
    fz_val x = g->vals[i];
    int64_t n = jx_type_size(&x.t), m = n;
    jx_ints s = fz_ints(4);
    for (int d = 0; d < 4; d++) s.v[d] = 1;
    if (n == 0) s.v[fz_below(g, 4)] = 0;
    for (int64_t f = 2; m > 1;) {
        if (m % f == 0) s.v[fz_below(g, 4)] *= f, m /= f;
        else f++;
    }
    x.v = jx_reshape(x.v, s);
    if (!fz_push(g, x, FZ_RESHAPE)) return -1;
    return g->n - 1;
}

/* conv_patches of a rank-4 f32/f64/i32 value. */
static int fz_step_conv(fz_gen *g) {
    int i = fz_image(g);
    if (i < 0) return 0;
    fz_val x = g->vals[i];
    jx_ints win, st, plo, phi;
    fz_conv_params(g, &win, &st, &plo, &phi);
    jx_type t = x.t;
    for (int d = 0; d < 2; d++) {
        int64_t padded = x.t.shape[1 + d] + plo.v[d] + phi.v[d];
        if (padded < 1) return 0;
        if (win.v[d] > padded) win.v[d] = padded;
        t.shape[1 + d] = (padded - win.v[d]) / st.v[d] + 1;
    }
    t.shape[3] = x.t.shape[3] * win.v[0] * win.v[1];
    if (jx_type_size(&t) > g->cap) return 0;
    fz_val o = fz_with_zero(x);
    o.v = jx_conv_patches(x.v, win, st, plo, phi);
    return fz_push(g, o, FZ_CONV);
}

/* conv_patches_t of a rank-4 value, with a window whose size divides its last dim and an
 * image size whose forward patches have its shape. */
static int fz_step_conv_t(fz_gen *g) {
    int i = fz_image(g);
    if (i < 0) return 0;
    fz_val x = g->vals[i];
    jx_ints win, st, plo, phi;
    fz_conv_params(g, &win, &st, &plo, &phi);
    int64_t kk = win.v[0] * win.v[1], last = x.t.shape[3];
    if (last % kk != 0) win.v[0] = win.v[1] = kk = 1;
    jx_ints hw = fz_ints(2);
    for (int d = 0; d < 2; d++) {
        int64_t oh = x.t.shape[1 + d];
        if (oh < 1) return 0;
        int64_t h = (oh - 1) * st.v[d] + win.v[d] - plo.v[d] - phi.v[d] + fz_below(g, st.v[d]);
        if (h < 0) return 0;
        hw.v[d] = h;
    }
    jx_type t = {x.t.dtype, 4, {x.t.shape[0], hw.v[0], hw.v[1], last / kk}};
    if (jx_type_size(&t) > g->cap) return 0;
    fz_val o = fz_with_zero(x);
    double c = (double)((win.v[0] + st.v[0] - 1) / st.v[0] * ((win.v[1] + st.v[1] - 1) / st.v[1]));
    if (fz_isf(x.t.dtype)) {
        double m = fz_mag(&x);
        o.lo = fmin(0, c * x.lo), o.hi = fmax(0, c * x.hi), o.zamb = 1;
        o.err = c * x.err + 2 * c * c * fz_eps(x.t.dtype) * m + fz_rnd(x.t.dtype, c * m);
        if (!fz_finish(&o)) return 0;
    } else {
        o.lo = -1e300, o.hi = 1e300;
        fz_finish(&o);
    }
    o.v = jx_conv_patches_t(x.v, hw, win, st, plo, phi);
    return fz_push(g, o, FZ_CONV_T);
}

/* ---- threefry ------------------------------------------------------------------------- */

static int fz_ok_counts(const fz_val *v) {
    return v->t.dtype == JX_U32 && v->t.rank >= 1 && v->t.shape[0] == 2;
}

/* threefry2x32 of a u32[2,...] value (or a new one) with a u32[2] or per-pair key. */
static int fz_step_threefry(fz_gen *g) {
    int i = fz_pick(g, fz_ok_counts);
    if (i < 0) {
        jx_type t = fz_rand_type(g, JX_U32, 1 + (int)fz_below(g, 3));
        t.shape[0] = 2;
        if (!fz_emit_const(g, t)) return 0;
        i = g->n - 1;
    }
    fz_val x = g->vals[i], o = x;
    jx_type kt = fz_chance(g, 0.7) ? JX_TYPE(JX_U32, 2) : x.t;
    int k = -1;
    for (int j = 0; j < g->n; j++)
        if (jx_type_eq(&g->vals[j].t, &kt) && fz_chance(g, 0.5)) k = j;
    if (k < 0) {
        if (!fz_emit_const(g, kt)) return 0;
        k = g->n - 1;
    }
    o.lo = -1e300, o.hi = 1e300, o.isconst = x.isconst && g->vals[k].isconst;
    fz_finish(&o);
    o.v = jx_threefry2x32(g->vals[k].v, x.v);
    return fz_push(g, o, FZ_THREEFRY);
}

/* ---- programs ------------------------------------------------------------------------- */

static int fz_step_ctl(fz_gen *g, int kind); /* tests/fuzz_ctl.h */

/* Takes one step of the given kind; 1 if a value was added. */
static int fz_step(fz_gen *g, int kind) {
    if (kind >= FZ_NBASE) return fz_step_ctl(g, kind);
    switch (kind) {
    case FZ_UNARY: return fz_step_unary(g);
    case FZ_IUNARY: return fz_step_iunary(g);
    case FZ_CONVERT: return fz_step_convert(g);
    case FZ_BITCAST: return fz_step_bitcast(g);
    case FZ_BINARY: return fz_step_binary(g);
    case FZ_IBINARY: return fz_step_ibinary(g);
    case FZ_COMPARE: return fz_step_compare(g);
    case FZ_LOGIC: return fz_step_logic(g);
    case FZ_SHIFT: return fz_step_shift(g);
    case FZ_SELECT: return fz_step_select(g);
    case FZ_BROADCAST: return fz_step_broadcast(g);
    case FZ_RESHAPE: return fz_step_reshape(g);
    case FZ_TRANSPOSE: return fz_step_transpose(g);
    case FZ_SLICE: return fz_step_slice(g);
    case FZ_PAD: return fz_step_pad(g);
    case FZ_CONCAT: return fz_step_concat(g);
    case FZ_REV: return fz_step_rev(g);
    case FZ_REDUCE: return fz_step_reduce(g);
    case FZ_ARGMAX: return fz_step_argmax(g);
    case FZ_DOT: return fz_step_dot(g);
    case FZ_CONV: return fz_step_conv(g);
    case FZ_CONV_T: return fz_step_conv_t(g);
    case FZ_IOTA: return fz_emit_iota(g, NULL);
    case FZ_GEMM_UPDATE: return fz_step_gemm_update(g);
    case FZ_CONST: {
        jx_type t = fz_rand_type(g, fz_rand_dtype(g), (int)fz_below(g, 4));
        return fz_emit_const(g, t);
    }
    default: return fz_step_threefry(g);
    }
}

/* The weight of step kind k in g: fz_kind_weight for the base kinds; the mix's for the
 * control-flow kinds (scaled by mix->nest per level of nesting, none past max_depth). */
static int fz_weight(const fz_gen *g, int k) {
    if (k < FZ_NBASE) return fz_kind_weight[k];
    if (!g->mix || g->depth >= g->mix->max_depth) return 0;
    double w = g->mix->w[k - FZ_NBASE];
    for (int d = 0; d < g->depth; d++) w *= g->mix->nest;
    return (int)(w + 0.5);
}

/* A random step kind, by fz_weight. */
static int fz_rand_kind(fz_gen *g) {
    int total = 0;
    for (int k = 0; k < FZ_NKINDS; k++) total += fz_weight(g, k);
    int r = (int)fz_below(g, total);
    for (int k = 0; k < FZ_NKINDS; k++) {
        if (r < fz_weight(g, k)) return k;
        r -= fz_weight(g, k);
    }
    return 0;
}

/* Frees what fz_build made. */
static void fz_prog_free(fz_prog *p) {
    jx_fn_free(p->fn);
    for (int i = 0; i < p->n_in; i++) jx_array_free(p->in[i]);
    memset(p->in, 0, sizeof p->in);
    p->fn = NULL;
}

/* Builds the program of `seed` into *p. Returns 0, or -1 with p->error set (a generator
 * bug or a disagreement with a shape rule). With tx != 0 (the transformation fuzzer,
 * tests/fuzz_tx.h) inputs and constants hold no NaN/inf/-0 and half as many programs get the
 * large dims, up to 16384 elements a value; tx == 0 gives the same programs as before the
 * flag existed. With a mix (tests/fuzz_ctl.h) the steps include control flow (cond, scan,
 * checkpoint, dynamic slices); mix == NULL gives the programs of before control flow. */
static int fz_build_mix(uint64_t seed, fz_prog *p, int tx, const fz_mix *mix) {
    memset(p, 0, sizeof *p);
    p->seed = seed;
    fz_gen *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(p->error, sizeof p->error, "out of memory");
        return -1;
    }
    g->s = seed * 0x9e3779b97f4a7c15ULL + 12345;
    g->p = p;
    g->tx = tx;
    g->mix = mix;
    static const int64_t dims[10] = {1, 2, 3, 4, 5, 6, 7, 8, 3, 16};
    static const int64_t big[6] = {17, 32, 33, 64, 100, 128};
    /* large loops: vector bodies, remainders, threads (tx: half as often, smaller) */
    int is_big = fz_chance(g, 0.08) && (!tx || fz_chance(g, 0.5));
    g->cap = is_big ? (tx ? 16384 : 65536) : 2048;
    for (int k = 0; k < 4; k++)
        g->palette[k] = is_big && k < 2 ? big[fz_below(g, 6)] : dims[fz_below(g, 10)];
    if (fz_chance(g, 0.12)) g->palette[fz_below(g, 4)] = 0;
    p->n_in = 1 + (int)fz_below(g, FZ_MAX_IN);
    jx_type types[FZ_MAX_IN];
    fz_val meta[FZ_MAX_IN];
    static const int ranks[9] = {0, 1, 1, 2, 2, 2, 3, 3, 4};
    for (int i = 0; i < p->n_in; i++) {
        types[i] = fz_rand_type(g, fz_rand_dtype(g), ranks[fz_below(g, 9)]);
        if (i > 0 && fz_chance(g, 0.3)) types[i] = types[i - 1]; /* donation candidates */
        p->in[i] = fz_rand_array(g, types[i], fz_chance(g, 0.25) && !tx, &meta[i]);
    }
    g->t = jx_trace_begin(p->n_in, types);
    for (int i = 0; i < p->n_in; i++) {
        meta[i].v = jx_trace_input(g->t, i);
        meta[i].t = types[i];
        g->vals[g->n++] = meta[i];
    }
    int n_ops = 4 + (int)fz_below(g, 26), n_first = g->n;
    for (int k = 0; k < n_ops; k++) {
        for (int attempt = 0; attempt < 40; attempt++) {
            if (fz_step(g, fz_rand_kind(g))) break;
            if (p->error[0]) break;
        }
        if (p->error[0]) break;
    }
    if (p->error[0]) {
        jx_trace_abort(g->t);
        free(g);
        return -1;
    }
    /* outputs: the last value, then random ones (now and then an input or a repeat) */
    jx_val outs[FZ_MAX_OUT];
    p->n_out = 1 + (int)fz_below(g, 4);
    for (int j = 0; j < p->n_out; j++) {
        int k = g->n - 1;
        if (j > 0 && g->n > n_first) {
            k = n_first + (int)fz_below(g, g->n - n_first);
            if (fz_chance(g, 0.08)) k = (int)fz_below(g, p->n_in);
        }
        p->out[j] = g->vals[k];
        outs[j] = g->vals[k].v;
    }
    p->donate = fz_chance(g, 0.2);
    p->threads = fz_chance(g, 0.3) ? 2 : 1;
    p->alias = fz_chance(g, 0.2);
    p->prealloc = fz_chance(g, 0.3);
    p->fn = jx_trace_end(g->t, p->n_out, outs);
    free(g);
    if (!p->fn) {
        snprintf(p->error, sizeof p->error, "generator: jx_trace_end failed: %s", jx_error());
        return -1;
    }
    return 0;
}

/* fz_build_mix without control flow. */
static inline int fz_build_mode(uint64_t seed, fz_prog *p, int tx) {
    return fz_build_mix(seed, p, tx, NULL);
}

/* The program of `seed` for the JIT/simplify/text fuzzer (see fz_build_mode). */
static inline int fz_build(uint64_t seed, fz_prog *p) {
    return fz_build_mode(seed, p, 0);
}

#include "fuzz_ctl.h"

#endif
