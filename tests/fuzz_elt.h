/* Elementwise steps of the random program generator (see fuzz_meta.h for the value
 * descriptions and the rules that keep a JIT-vs-interpreter comparison meaningful). */
#ifndef JX_FUZZ_ELT_H
#define JX_FUZZ_ELT_H

#include "fuzz_meta.h"

/* ---- elementwise --------------------------------------------------------------------- */

enum { FZ_NEG, FZ_ABS, FZ_SIGN, FZ_EXP, FZ_LOG, FZ_LOG1P, FZ_EXPM1, FZ_TANH, FZ_LOGISTIC,
       FZ_SQRT, FZ_RSQRT, FZ_SIN, FZ_COS, FZ_FLOOR, FZ_STOPG, FZ_NUNARY };

/* Unary op `op` on one double (to find the finite images of infinities). */
static double fz_unary_ref(int op, double x) {
    switch (op) {
    case FZ_NEG: return -x;
    case FZ_ABS: return fabs(x);
    case FZ_SIGN: return x > 0 ? 1 : x < 0 ? -1 : x;
    case FZ_EXP: return exp(x);
    case FZ_LOG: return log(x);
    case FZ_LOG1P: return log1p(x);
    case FZ_EXPM1: return expm1(x);
    case FZ_TANH: return tanh(x);
    case FZ_LOGISTIC: return 1 / (1 + exp(-x));
    case FZ_SQRT: return sqrt(x);
    case FZ_RSQRT: return 1 / sqrt(x);
    case FZ_SIN: return sin(x);
    case FZ_COS: return cos(x);
    case FZ_FLOOR: return floor(x);
    default: return x;
    }
}

/* Description of unary float op `op` on x, or 0 if the comparison would be meaningless. */
static int fz_unary_meta(int op, const fz_val *x, fz_val *o) {
    jx_dtype dt = x->t.dtype;
    double lo = x->lo, hi = x->hi, e = x->err, m = fz_mag(x), fm = fz_fmax(dt);
    int ex = e == 0;
    *o = *x;
    o->err = 0;
    switch (op) {
    case FZ_NEG: o->lo = -hi, o->hi = -lo, o->err = e; break;
    case FZ_ABS: o->lo = lo > 0 ? lo : hi < 0 ? -hi : 0, o->hi = m, o->err = e; break;
    case FZ_STOPG: o->err = e; break;
    case FZ_SIGN:
        if (!ex) return 0;
        o->lo = lo < 0 ? -1 : lo > 0 ? 1 : 0, o->hi = hi > 0 ? 1 : hi < 0 ? -1 : 0;
        break;
    case FZ_FLOOR:
        if (!ex) return 0;
        o->lo = floor(lo), o->hi = floor(hi);
        break;
    case FZ_SQRT:
        if (!ex && lo - e <= 0) return 0;
        if (lo < 0) o->special = 1;
        o->lo = sqrt(fmax(lo, 0)), o->hi = sqrt(fmax(hi, 0));
        if (!ex) o->err = e * 0.5 / sqrt(lo - e) + fz_rnd(dt, o->hi);
        break;
    case FZ_RSQRT:
        if (!ex && lo - e <= 0) return 0;
        if (lo <= 0 && fz_zamb(x)) return 0;
        if (lo <= 0) o->special = 1;
        o->lo = hi > 0 ? 1 / sqrt(hi) : 0;
        o->hi = 1 / sqrt(lo > 0 ? lo : fz_tiny(dt));
        o->zamb = 0;
        if (!ex) o->err = e * 0.5 * pow(lo - e, -1.5) + fz_rnd(dt, o->hi);
        break;
    case FZ_EXP:
    case FZ_EXPM1:
        if (!ex && hi + e > log(fz_lim(dt))) return 0;
        o->lo = op == FZ_EXP ? exp(lo) : expm1(lo);
        o->hi = op == FZ_EXP ? exp(hi) : expm1(hi);
        if (op == FZ_EXP) o->zamb = 0;
        o->err = exp(fmin(hi + e, 709)) * e + fz_trn(dt, fmin(fz_mag(o), fm));
        break;
    case FZ_LOG:
    case FZ_LOG1P: {
        double dom = op == FZ_LOG ? 0 : -1;
        if (!ex && lo - e <= dom) return 0;
        if (lo <= dom) o->special = 1;
        double near = dom + (op == FZ_LOG ? fz_tiny(dt) : fz_eps(dt));
        double f_lo = op == FZ_LOG ? log(fmax(lo, near)) : log1p(fmax(lo, near));
        double f_hi = op == FZ_LOG ? log(fmax(hi, near)) : log1p(fmax(hi, near));
        if (op == FZ_LOG1P && lo <= dom) f_lo = log(fz_eps(dt));
        o->lo = f_lo, o->hi = f_hi, o->zamb = op == FZ_LOG1P && x->zamb;
        o->err = (ex ? 0 : e / (lo - e - dom)) + fz_trn(dt, fz_mag(o));
        break;
    }
    case FZ_TANH:
        o->lo = tanh(lo), o->hi = tanh(hi), o->err = e + fz_trn(dt, fz_mag(o));
        break;
    case FZ_LOGISTIC:
        o->lo = 1 / (1 + exp(-lo)), o->hi = 1 / (1 + exp(-hi)), o->zamb = 0;
        o->err = 0.25 * e + fz_trn(dt, 1);
        break;
    case FZ_SIN:
    case FZ_COS:
        if (m + e > (dt == JX_F32 ? 1e5 : 1e4)) return 0;
        o->lo = -1, o->hi = 1, o->err = e + fz_trn(dt, 1), o->zamb |= op == FZ_SIN;
        if (op == FZ_COS) o->zamb = 0;
        break;
    default: return 0;
    }
    if (x->special) { /* finite images of +-inf: exp(-inf) = 0, tanh(inf) = 1, ... */
        for (int s = -1; s <= 1; s += 2) {
            double v = fz_unary_ref(op, s * INFINITY);
            if (isfinite(v)) o->lo = fmin(o->lo, v), o->hi = fmax(o->hi, v);
        }
    }
    return fz_finish(o);
}

/* A unary float op on a float value. */
static int fz_step_unary(fz_gen *g) {
    int i = fz_pick(g, fz_ok_float);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o;
    int op = (int)fz_below(g, FZ_NUNARY);
    if (!fz_unary_meta(op, &x, &o)) return 0;
    switch (op) {
    case FZ_NEG: o.v = jx_neg(x.v); break;
    case FZ_ABS: o.v = jx_abs(x.v); break;
    case FZ_SIGN: o.v = jx_sign(x.v); break;
    case FZ_EXP: o.v = jx_exp(x.v); break;
    case FZ_LOG: o.v = jx_log(x.v); break;
    case FZ_LOG1P: o.v = jx_log1p(x.v); break;
    case FZ_EXPM1: o.v = jx_expm1(x.v); break;
    case FZ_TANH: o.v = jx_tanh(x.v); break;
    case FZ_LOGISTIC: o.v = jx_logistic(x.v); break;
    case FZ_SQRT: o.v = jx_sqrt(x.v); break;
    case FZ_RSQRT: o.v = jx_rsqrt(x.v); break;
    case FZ_SIN: o.v = jx_sin(x.v); break;
    case FZ_COS: o.v = jx_cos(x.v); break;
    case FZ_FLOOR: o.v = jx_floor(x.v); break;
    default: o.v = jx_stop_gradient(x.v); break;
    }
    return fz_push(g, o, FZ_UNARY);
}

/* neg/abs/sign of an i32 value, or not of an integer or bool value. */
static int fz_step_iunary(fz_gen *g) {
    int k = (int)fz_below(g, 4);
    int i = fz_pick(g, k < 3 ? fz_ok_i32 : fz_ok_logic);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    o.lo = -1e300, o.hi = 1e300; /* full range */
    if (k == 0) o.v = jx_neg(x.v);
    else if (k == 1) o.v = jx_abs(x.v);
    else if (k == 2) o.v = jx_sign(x.v), o.lo = -1, o.hi = 1;
    else o.v = jx_not(x.v);
    if (k == 3 && x.t.dtype == JX_BOOL) o.lo = 0, o.hi = 1;
    fz_finish(&o);
    return fz_push(g, o, FZ_IUNARY);
}

/* Description of convert_element_type of x to dt, or 0 if not comparable. */
static int fz_convert_meta(const fz_val *x, jx_dtype dt, fz_val *o) {
    jx_dtype sd = x->t.dtype;
    *o = *x;
    o->t.dtype = dt;
    if (fz_isf(sd) && !fz_isf(dt)) {
        if (!fz_exact(x)) return 0;
        if (dt == JX_BOOL) o->lo = 0, o->hi = 1;
        else {
            o->lo = trunc(x->lo), o->hi = trunc(x->hi);
            double a, b;
            fz_irange(dt, &a, &b);
            if (x->special) o->lo = a, o->hi = b; /* NaN -> 0, +-inf saturate */
            o->lo = fmin(fmax(o->lo, a), b), o->hi = fmin(fmax(o->hi, a), b);
        }
        return fz_finish(o);
    }
    if (fz_isf(dt)) {
        if (fz_isf(sd) && dt == JX_F32 && sd == JX_F64 && o->err > 0)
            o->err += fz_rnd(JX_F32, fz_mag(x));
        return fz_finish(o);
    }
    if (dt == JX_BOOL) o->lo = 0, o->hi = 1;
    else if (sd == JX_BOOL) o->lo = x->lo, o->hi = x->hi;
    else if (dt != sd) {
        double a, b;
        fz_irange(dt, &a, &b);
        if (!(x->lo >= a && x->hi <= b)) o->lo = a, o->hi = b;
    }
    return fz_finish(o);
}

/* convert_element_type of a random value to a random dtype. */
static int fz_step_convert(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o;
    jx_dtype dt = fz_rand_dtype(g);
    if (!fz_convert_meta(&x, dt, &o)) return 0;
    o.v = jx_convert(x.v, dt);
    return fz_push(g, o, FZ_CONVERT);
}

/* bitcast_convert_type between f32, i32 and u32 (float sources must be exact, finite
 * and free of ambiguous zeros). */
static int fz_step_bitcast(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    jx_dtype sd = x.t.dtype;
    if (sd != JX_F32 && sd != JX_I32 && sd != JX_U32) return 0;
    if (sd == JX_F32 && (!fz_exact(&x) || x.special || fz_zamb(&x))) return 0;
    static const jx_dtype d[3] = {JX_F32, JX_I32, JX_U32};
    jx_dtype dt = d[fz_below(g, 3)];
    if (dt == sd) return 0;
    o.t.dtype = dt;
    o.lo = -1e300, o.hi = 1e300, o.special = dt == JX_F32, o.zamb = 0, o.err = 0;
    fz_finish(&o);
    o.v = jx_bitcast(x.v, dt);
    return fz_push(g, o, FZ_BITCAST);
}

/* The NumPy broadcast of two shapes into *out; 0 if incompatible or too large. */
static int fz_bcast_shape(const jx_type *a, const jx_type *b, jx_type *out, int64_t cap) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) return 0;
        out->shape[i] = da == 1 ? db : da;
    }
    return jx_type_size(out) <= cap;
}

/* Index of a second operand for x: a pool value of dtype dt that NumPy-broadcasts with x
 * (accepted by ok), or a fresh constant or iota shaped like x with some dims set to 1 or
 * dropped. -1 if none could be made. */
static int fz_partner(fz_gen *g, const fz_val *x, jx_dtype dt, int (*ok)(const fz_val *)) {
    int c[FZ_MAX_VALS], nc = 0;
    jx_type bt;
    for (int i = 0; i < g->n; i++)
        if (g->vals[i].t.dtype == dt && fz_bcast_shape(&x->t, &g->vals[i].t, &bt, g->cap) &&
            (!ok || ok(&g->vals[i])))
            c[nc++] = i;
    if (nc > 0 && fz_chance(g, 0.7)) return c[fz_below(g, nc)];
    jx_type t = x->t;
    t.dtype = dt;
    int drop = (int)fz_below(g, t.rank + 1);
    if (fz_chance(g, 0.6)) drop = 0;
    for (int i = 0; i + drop < t.rank; i++) t.shape[i] = t.shape[i + drop];
    t.rank -= drop;
    for (int i = 0; i < t.rank; i++)
        if (fz_chance(g, 0.25)) t.shape[i] = 1;
    if (dt != JX_BOOL && t.rank > 0 && fz_chance(g, 0.2)) {
        if (!fz_emit_iota(g, &t)) return -1;
    } else if (!fz_emit_const(g, t)) {
        return -1;
    }
    int k = g->n - 1;
    if (ok && !ok(&g->vals[k])) return -1;
    return k;
}

enum { FZ_ADD, FZ_SUB, FZ_MUL, FZ_DIV, FZ_POW, FZ_MAX, FZ_MIN, FZ_REM, FZ_NBINARY };

/* fz_binary_meta's range and error of a / b into o (o's other fields set); 0 if the
 * quotient cannot be described (a zero divisor with approximate operands, ...). */
static int fz_div_meta(const fz_val *a, const fz_val *b, fz_val *o) {
    jx_dtype dt = a->t.dtype;
    double ea = a->err, eb = b->err, ma = fz_mag(a);
    int ex = ea == 0 && eb == 0, bz = b->lo <= 0 && b->hi >= 0;
    if (ex) {
        if (bz && fz_zamb(b)) return 0;
        if (bz) {
            o->lo = -INFINITY, o->hi = INFINITY;
            return 1;
        }
    } else if (fz_may_zero(b) || (b->special && ea > 0 && fz_may_zero(a)) ||
               (a->special && eb > 0)) {
        return 0;
    }
    double c[4] = {a->lo / b->lo, a->lo / b->hi, a->hi / b->lo, a->hi / b->hi};
    o->lo = fz_min4(c[0], c[1], c[2], c[3]), o->hi = fz_max4(c[0], c[1], c[2], c[3]);
    if (!ex) {
        double mn = fmin(fabs(b->lo), fabs(b->hi)) - eb;
        o->err = ea / mn + ma * eb / (mn * mn) + fz_rnd(dt, ma / mn);
    }
    return 1;
}

/* fz_binary_meta's range and error of pow(a, b) into o; 0 if not describable. */
static int fz_pow_meta(const fz_val *a, const fz_val *b, fz_val *o) {
    jx_dtype dt = a->t.dtype;
    double ea = a->err, eb = b->err, ma = fz_mag(a);
    /* approximate operands: a positive base away from 0 and no inf/NaN */
    if (!(ea == 0 && eb == 0) && (a->lo - ea <= 0 || a->special || b->special)) return 0;
    if (fz_zamb(a) && b->lo < 0) return 0; /* pow(-0, -1) = -inf */
    double mbx = fmax(fabs(b->lo), fabs(b->hi)) + eb;
    double amin = a->lo > 0 ? a->lo - ea : fz_tiny(dt), amax = fmax(ma + ea, amin);
    double c[4] = {pow(amin, b->lo - eb), pow(amin, b->hi + eb), pow(amax, b->lo - eb),
                   pow(amax, b->hi + eb)};
    double mo = fmax(fz_max4(c[0], c[1], c[2], c[3]), 1);
    double lnm = fmax(fabs(log(amin)), fabs(log(amax)));
    if (a->lo > 0) {
        o->lo = fz_min4(c[0], c[1], c[2], c[3]), o->hi = fz_max4(c[0], c[1], c[2], c[3]);
    } else { /* negative bases: either sign, NaN for fractional exponents */
        o->lo = -mo, o->hi = mo, o->special = 1;
    }
    o->zamb = a->zamb;
    mo = fmin(mo, fz_fmax(dt));
    /* f64: exp(y log|x|) loses about |y log x| ulps */
    o->err = dt == JX_F32 ? fz_trn(dt, mo) : (32 + 4 * mbx * lnm) * fz_eps(dt) * mo;
    if (ea > 0) o->err += mbx * mo / amin * ea;
    if (eb > 0) o->err += mo * lnm * eb;
    return 1;
}

/* Description of float binary op on a, b (already broadcast-compatible), or 0. */
static int fz_binary_meta(int op, const fz_val *a, const fz_val *b, fz_val *o) {
    jx_dtype dt = a->t.dtype;
    double ea = a->err, eb = b->err, ma = fz_mag(a), mb = fz_mag(b);
    int ex = ea == 0 && eb == 0;
    memset(o, 0, sizeof *o);
    o->t = a->t;
    o->special = a->special || b->special;
    o->zamb = a->zamb || b->zamb;
    o->isconst = a->isconst && b->isconst;
    o->scaled_dot = op == FZ_MUL && ((a->isdot && b->isconst) || (b->isdot && a->isconst));
    switch (op) {
    case FZ_ADD:
    case FZ_SUB:
        o->lo = op == FZ_ADD ? a->lo + b->lo : a->lo - b->hi;
        o->hi = op == FZ_ADD ? a->hi + b->hi : a->hi - b->lo;
        if (op == FZ_ADD && (a->isconst || b->isconst)) o->zamb = 1; /* x + 0 -> x */
        if (!ex) o->err = ea + eb + fz_rnd(dt, fmax(fabs(o->lo), fabs(o->hi)));
        break;
    case FZ_MUL: {
        if ((a->special && eb > 0 && fz_may_zero(b)) || (b->special && ea > 0 && fz_may_zero(a)))
            return 0;
        double c[4] = {a->lo * b->lo, a->lo * b->hi, a->hi * b->lo, a->hi * b->hi};
        o->lo = fz_min4(c[0], c[1], c[2], c[3]), o->hi = fz_max4(c[0], c[1], c[2], c[3]);
        if (!ex) o->err = ma * eb + mb * ea + ea * eb + fz_rnd(dt, ma * mb);
        break;
    }
    case FZ_DIV:
        if (!fz_div_meta(a, b, o)) return 0;
        break;
    case FZ_POW:
        if (!fz_pow_meta(a, b, o)) return 0;
        break;
    case FZ_MAX:
    case FZ_MIN:
        o->lo = op == FZ_MAX ? fmax(a->lo, b->lo) : fmin(a->lo, b->lo);
        o->hi = op == FZ_MAX ? fmax(a->hi, b->hi) : fmin(a->hi, b->hi);
        if (o->special) /* min(x, +inf) = x: any finite element can come through */
            o->lo = fmin(a->lo, b->lo), o->hi = fmax(a->hi, b->hi);
        o->err = fmax(ea, eb);
        break;
    case FZ_REM: {
        if (!ex) return 0;
        double r = b->special ? ma : fmin(ma, mb); /* fmod(x, inf) = x */
        o->lo = a->lo < 0 ? -r : 0, o->hi = a->hi > 0 ? r : 0;
        o->special |= b->lo <= 0 && b->hi >= 0;
        break;
    }
    default: return 0;
    }
    /* finite results of inf/NaN operands: x / inf = 0; x^inf, inf^y, NaN^0, 1^NaN in
     * {0, 1} */
    if ((op == FZ_DIV && b->special) || (op == FZ_POW && o->special))
        o->lo = fmin(o->lo, 0), o->hi = fmax(o->hi, op == FZ_POW ? 1 : 0);
    return fz_finish(o);
}

/* A float binary op through the broadcasting helpers. */
static int fz_step_binary(fz_gen *g) {
    int i = fz_pick(g, fz_ok_float);
    if (i < 0) return 0;
    int op = (int)fz_below(g, FZ_NBINARY);
    int j = fz_partner(g, &g->vals[i], g->vals[i].t.dtype, NULL);
    if (j < 0) return 0;
    fz_val a = g->vals[i], b = g->vals[j], o;
    if (fz_chance(g, 0.5)) { /* operand order */
        fz_val tmp = a;
        a = b, b = tmp;
    }
    if (!fz_binary_meta(op, &a, &b, &o)) return 0;
    switch (op) {
    case FZ_ADD: o.v = jx_add(a.v, b.v); break;
    case FZ_SUB: o.v = jx_sub(a.v, b.v); break;
    case FZ_MUL: o.v = jx_mul(a.v, b.v); break;
    case FZ_DIV: o.v = jx_div(a.v, b.v); break;
    case FZ_POW: o.v = jx_pow(a.v, b.v); break;
    case FZ_MAX: o.v = jx_max(a.v, b.v); break;
    case FZ_MIN: o.v = jx_min(a.v, b.v); break;
    default: o.v = jx_rem(a.v, b.v); break;
    }
    return fz_push(g, o, FZ_BINARY);
}

/* An integer binary op (add, sub, mul, div, rem, max, min): exact, full range. */
static int fz_step_ibinary(fz_gen *g) {
    int i = fz_pick(g, fz_ok_int);
    if (i < 0) return 0;
    int j = fz_partner(g, &g->vals[i], g->vals[i].t.dtype, NULL);
    if (j < 0) return 0;
    fz_val a = g->vals[i], b = g->vals[j], o = a;
    o.lo = -1e300, o.hi = 1e300;
    o.isconst = a.isconst && b.isconst;
    switch (fz_below(g, 7)) {
    case 0: o.v = jx_add(a.v, b.v); break;
    case 1: o.v = jx_sub(b.v, a.v); break;
    case 2: o.v = jx_mul(a.v, b.v); break;
    case 3: o.v = jx_div(a.v, b.v); break;
    case 4: o.v = jx_rem(b.v, a.v); break;
    case 5: o.v = jx_max(a.v, b.v), o.lo = fmax(a.lo, b.lo), o.hi = fmax(a.hi, b.hi); break;
    default: o.v = jx_min(a.v, b.v), o.lo = fmin(a.lo, b.lo), o.hi = fmin(a.hi, b.hi); break;
    }
    fz_finish(&o);
    return fz_push(g, o, FZ_IBINARY);
}

/* A comparison of two exact values of one dtype. */
static int fz_step_compare(fz_gen *g) {
    int i = fz_pick(g, fz_ok_exact);
    if (i < 0) return 0;
    int j = fz_partner(g, &g->vals[i], g->vals[i].t.dtype, fz_ok_exact);
    if (j < 0) return 0;
    fz_val a = g->vals[i], b = g->vals[j], o;
    memset(&o, 0, sizeof o);
    o.hi = 1, o.isconst = a.isconst && b.isconst;
    switch (fz_below(g, 6)) {
    case 0: o.v = jx_eq(a.v, b.v); break;
    case 1: o.v = jx_ne(a.v, b.v); break;
    case 2: o.v = jx_lt(a.v, b.v); break;
    case 3: o.v = jx_le(a.v, b.v); break;
    case 4: o.v = jx_gt(a.v, b.v); break;
    default: o.v = jx_ge(a.v, b.v); break;
    }
    return fz_push(g, o, FZ_COMPARE);
}

/* and/or/xor of integer or bool values. */
static int fz_step_logic(fz_gen *g) {
    int i = fz_pick(g, fz_ok_logic);
    if (i < 0) return 0;
    int j = fz_partner(g, &g->vals[i], g->vals[i].t.dtype, NULL);
    if (j < 0) return 0;
    fz_val a = g->vals[i], b = g->vals[j], o = a;
    o.lo = -1e300, o.hi = 1e300, o.isconst = a.isconst && b.isconst;
    int k = (int)fz_below(g, 3);
    o.v = k == 0 ? jx_and(a.v, b.v) : k == 1 ? jx_or(a.v, b.v) : jx_xor(a.v, b.v);
    fz_finish(&o);
    return fz_push(g, o, FZ_LOGIC);
}

/* shift_left / shift_right_logical of integers (shift amounts often >= 32). */
static int fz_step_shift(fz_gen *g) {
    int i = fz_pick(g, fz_ok_int);
    if (i < 0) return 0;
    int j = fz_partner(g, &g->vals[i], g->vals[i].t.dtype, NULL);
    if (j < 0) return 0;
    fz_val a = g->vals[i], b = g->vals[j], o = a;
    o.lo = -1e300, o.hi = 1e300, o.isconst = a.isconst && b.isconst;
    o.v = fz_chance(g, 0.5) ? jx_shift_left(a.v, b.v) : jx_shift_right(a.v, b.v);
    fz_finish(&o);
    return fz_push(g, o, FZ_SHIFT);
}

/* select(pred, a, b) with broadcasting of all three. */
static int fz_step_select(fz_gen *g) {
    int i = fz_pick(g, NULL);
    if (i < 0) return 0;
    fz_val a = g->vals[i];
    int j = fz_partner(g, &a, a.t.dtype, NULL);
    if (j < 0) return 0;
    fz_val b = g->vals[j];
    jx_type ab;
    if (!fz_bcast_shape(&a.t, &b.t, &ab, g->cap)) return 0;
    ab.dtype = a.t.dtype;
    fz_val tmp = {.t = ab};
    int k = fz_partner(g, &tmp, JX_BOOL, NULL);
    if (k < 0) return 0;
    fz_val c = g->vals[k], o = a;
    jx_type all;
    if (!fz_bcast_shape(&ab, &c.t, &all, g->cap)) return 0;
    o.lo = fmin(a.lo, b.lo), o.hi = fmax(a.hi, b.hi), o.err = fmax(a.err, b.err);
    o.special = a.special || b.special, o.zamb = a.zamb || b.zamb;
    o.isconst = a.isconst && b.isconst && c.isconst;
    o.v = jx_select(c.v, a.v, b.v);
    return fz_push(g, o, FZ_SELECT);
}

#endif
