/* A seeded generator of random well-typed jx programs, for tests/t_fuzz.c, in four
 * parts: fuzz_meta.h (this file: random numbers, value descriptions, the value pool,
 * random data and leaves), fuzz_elt.h (elementwise steps), fuzz_shape.h (shape and
 * reduction steps) and fuzz_gen.h (contraction, convolution and PRNG steps, and
 * fz_build).
 *
 * fz_build(seed, &prog) picks input types (f32/f64/i32/u32/bool, rank 0-4, dims from a
 * small per-program palette that includes 0 and 1; one program in 12 gets large dims and
 * up to 65536 elements per value), fills the inputs, then traces a random
 * sequence of public ops chosen among those valid for the values built so far, and ends
 * with 1-4 outputs. Everything depends on the seed only.
 *
 * Every value carries a static description (fz_val) used to keep the program meaningful
 * for a JIT-vs-interpreter comparison:
 *   lo, hi   bounds of its finite elements (interval arithmetic);
 *   err      a bound on |jit - interp| for its finite float elements: 0 means the two
 *            must agree exactly (IEEE +,-,*,/,sqrt, shape ops, integer ops, ...);
 *            transcendentals, pow, float sums and GEMMs are "approximate": each adds a
 *            few ulps of its output bound, and errors of operands propagate through the
 *            op's Lipschitz bound on the interval;
 *   special  may hold inf or NaN;
 *   zamb     zeros may differ in sign between the two paths (float max/min reductions,
 *            sums, GEMMs, x + constant which jx_simplify may turn into x).
 * The generator refuses an op when the comparison would not be meaningful:
 *  - discontinuous ops (comparisons, floor, sign, rem, float->int/bool convert, argmax,
 *    bitcast) only get exact operands;
 *  - sqrt/rsqrt/log/log1p/pow/div of an approximate operand need its interval (widened by
 *    err) strictly inside the domain and away from the pole; division, rsqrt and pow by a
 *    zero of ambiguous sign is refused;
 *  - an approximate value whose magnitude bound may overflow (f32 > 1e30, f64 > 1e290) or
 *    whose error bound is not small against it is refused;
 *  - inf/NaN never meet an approximate operand in mul/div/pow (inf * (0 vs 1e-45));
 *  - sin/cos of |x| > 1e5 (f32) or 1e4 (f64), where the JIT's range reduction is not
 *    claimed accurate;
 *  - bitcast of floats that may hold NaN (payloads are not specified by either path).
 * Include after check.h. Internal names carry the fz_ prefix. */
#ifndef JX_FUZZ_META_H
#define JX_FUZZ_META_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jx.h"

#define FZ_MAX_IN 4
#define FZ_MAX_OUT 5
#define FZ_MAX_VALS 256

/* The kinds of steps the generator takes (coverage is counted per kind). */
enum {
    FZ_UNARY, FZ_IUNARY, FZ_CONVERT, FZ_BITCAST, FZ_BINARY, FZ_IBINARY, FZ_COMPARE, FZ_LOGIC,
    FZ_SHIFT, FZ_SELECT, FZ_BROADCAST, FZ_RESHAPE, FZ_TRANSPOSE, FZ_SLICE, FZ_PAD, FZ_CONCAT,
    FZ_REV, FZ_REDUCE, FZ_ARGMAX, FZ_DOT, FZ_CONV, FZ_CONV_T, FZ_IOTA, FZ_CONST, FZ_THREEFRY,
    FZ_GEMM_UPDATE, FZ_NBASE,
    /* control flow and dynamic slicing (tests/fuzz_ctl.h): only with a fz_mix */
    FZ_COND = FZ_NBASE, FZ_SCAN, FZ_CHECKPOINT, FZ_DYNSLICE, FZ_DUS, FZ_WHILE, FZ_FORI, FZ_NKINDS
};
#define FZ_NCTL (FZ_NKINDS - FZ_NBASE)
static const char *const fz_kind_names[FZ_NKINDS] = {
    "unary", "int_unary", "convert", "bitcast", "binary", "int_binary", "compare", "logic",
    "shift", "select", "broadcast_in_dim", "reshape", "transpose", "slice", "pad",
    "concatenate", "rev", "reduce", "argmax", "dot_general", "conv_patches",
    "conv_patches_t", "iota", "constant", "threefry2x32", "gemm_update", "cond", "scan",
    "checkpoint", "dynamic_slice", "dynamic_update_slice", "while_loop", "fori_loop"};
/* Relative weights of the base kinds (the control-flow ones come from a fz_mix). */
static const int fz_kind_weight[FZ_NBASE] = {12, 3, 5, 2, 14, 4, 5, 3, 2, 4, 4, 4, 4, 4, 3,
                                              3, 2, 6, 2, 6, 2, 1, 2, 3, 1, 3};

/* What is known statically about a traced value (see the file comment). */
typedef struct fz_val {
    jx_val v;
    jx_type t;
    double lo, hi, err;
    int special, zamb, isconst;
    int isdot, scaled_dot; /* a float dot_general; a product of one with a constant */
} fz_val;

/* A generated program: the function, its inputs and what is known of its outputs. */
typedef struct fz_prog {
    uint64_t seed;
    jx_fn *fn;
    int n_in, n_out;
    jx_array *in[FZ_MAX_IN];
    fz_val out[FZ_MAX_OUT];
    int donate;      /* run the JIT with every input donated */
    int prealloc;    /* pass preallocated output arrays to jx_exe_run */
    int threads;     /* jx_jit_opts.n_threads */
    int alias;       /* pass inputs' own arrays as outputs of their type */
    int kinds[FZ_NKINDS];
    int feats[16];   /* control-flow features used (tests/fuzz_ctl.h: FZF_...) */
    char error[512]; /* generator failure (a generator bug or a shape-rule disagreement) */
} fz_prog;

/* The control-flow mix of a generator (tests/fuzz_ctl.h): weights of the kinds FZ_COND..
 * at the top level, the factor on them inside a sub-program (nesting: scan in scan, cond
 * in scan), how deep sub-programs nest, the longest scan, and how often a sub-program
 * may use values of the enclosing program (closure capture). */
typedef struct fz_mix {
    int w[FZ_NCTL];
    double nest;
    int max_depth;
    int max_len;
    double capture;
    int hoist; /* also constructs inside a body whose operands all belong to an enclosing
                * trace (jx emits them there, and their sub-functions cannot use the
                * body's values: see tests/fuzz_ctl.h) */
} fz_mix;

typedef struct fz_gen {
    uint64_t s;
    jx_trace *t;
    fz_val vals[FZ_MAX_VALS];
    int n;
    int64_t palette[4];
    int64_t cap; /* most elements of a value */
    fz_prog *p;
    int tx;      /* for the transformation fuzzer: constants without NaN/inf */
    const fz_mix *mix; /* control flow (NULL: none) */
    int depth;   /* 0: the program; 1: a sub-program of it (a scan body, a branch); ... */
    uint64_t sig; /* a hash of the steps taken (kinds and types), to compare two runs */
} fz_gen;

/* ---- random numbers ------------------------------------------------------------------ */

/* splitmix64: the next 64 random bits. */
static inline uint64_t fz_next(fz_gen *g) {
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* Uniform integer in [0, n) (n >= 1). */
static inline int64_t fz_below(fz_gen *g, int64_t n) {
    return n <= 1 ? 0 : (int64_t)(fz_next(g) % (uint64_t)n);
}
/* Uniform double in [0, 1). */
static inline double fz_unif(fz_gen *g) {
    return (double)(fz_next(g) >> 11) / 9007199254740992.0;
}
/* 1 with probability p. */
static inline int fz_chance(fz_gen *g, double p) {
    return fz_unif(g) < p;
}

/* ---- dtype facts and interval helpers --------------------------------------------- */

static inline int fz_isf(jx_dtype dt) {
    return dt == JX_F32 || dt == JX_F64;
}
static inline int fz_isint(jx_dtype dt) {
    return dt == JX_I32 || dt == JX_U32;
}
/* Unit roundoff. */
static inline double fz_eps(jx_dtype dt) {
    return dt == JX_F32 ? 0x1p-24 : 0x1p-53;
}
static inline double fz_fmax(jx_dtype dt) {
    return dt == JX_F32 ? FLT_MAX : DBL_MAX;
}
/* Largest magnitude an approximate value may have. */
static inline double fz_lim(jx_dtype dt) {
    return dt == JX_F32 ? 1e30 : 1e290;
}
/* Smallest positive (subnormal) value. */
static inline double fz_tiny(jx_dtype dt) {
    return dt == JX_F32 ? 0x1p-149 : 0x1p-1074;
}
/* Two ulps of magnitude m: the rounding difference of one correctly rounded op. */
static inline double fz_rnd(jx_dtype dt, double m) {
    return 4 * fz_eps(dt) * m + 4 * fz_tiny(dt);
}
/* The allowed difference of a transcendental result of magnitude m: the JIT's polynomials
 * are within 1 ulp (f32, computed in double) or a few ulps (f64) of libm. */
static inline double fz_trn(jx_dtype dt, double m) {
    return (dt == JX_F32 ? 4 : 32) * fz_eps(dt) * m + 4 * fz_tiny(dt);
}
static inline double fz_mag(const fz_val *v) {
    return fmax(fabs(v->lo), fabs(v->hi));
}
/* 1 if v's interval widened by its error contains 0. */
static inline int fz_may_zero(const fz_val *v) {
    return v->lo - v->err <= 0 && v->hi + v->err >= 0;
}
/* 1 if a zero of v may have a different sign in the two paths. */
static inline int fz_zamb(const fz_val *v) {
    return fz_may_zero(v) && (v->zamb || v->err > 0);
}
static inline int fz_exact(const fz_val *v) {
    return v->err == 0;
}
static inline double fz_min4(double a, double b, double c, double d) {
    return fmin(fmin(a, b), fmin(c, d));
}
static inline double fz_max4(double a, double b, double c, double d) {
    return fmax(fmax(a, b), fmax(c, d));
}
/* Integer dtype range. */
static inline void fz_irange(jx_dtype dt, double *lo, double *hi) {
    if (dt == JX_I32) *lo = -2147483648.0, *hi = 2147483647.0;
    else if (dt == JX_U32) *lo = 0, *hi = 4294967295.0;
    else *lo = 0, *hi = 1;
}

/* Normalizes a result description: integer bounds outside the dtype become the full
 * range; float bounds beyond the dtype mean overflow (inf) is possible. Returns 0 if an
 * approximate result is too large or too imprecise to be compared, else 1. */
static inline int fz_finish(fz_val *o) {
    jx_dtype dt = o->t.dtype;
    if (!fz_isf(dt)) {
        double lo, hi;
        fz_irange(dt, &lo, &hi);
        if (!(o->lo >= lo && o->hi <= hi && o->lo <= o->hi)) o->lo = lo, o->hi = hi;
        o->err = 0, o->special = 0, o->zamb = 0;
        return 1;
    }
    double fm = fz_fmax(dt);
    if (isnan(o->lo) || isnan(o->hi)) o->lo = -fm, o->hi = fm, o->special = 1;
    if (o->lo < -fm) o->lo = -fm, o->special = 1;
    if (o->hi > fm) o->hi = fm, o->special = 1;
    if (o->lo > fm) o->lo = fm, o->special = 1;
    if (o->hi < -fm) o->hi = -fm, o->special = 1;
    if (o->err > 0) {
        double m = fz_mag(o);
        if (!(m < fz_lim(dt)) || !(o->err <= 1e-3 * (m + 1e-3))) return 0;
    }
    return 1;
}

/* ---- the value pool ------------------------------------------------------------------ */

/* Records a new value (emitted with description d, whose v was just traced). Returns 1,
 * or 0 with p->error set if the op failed to trace (the generator and a shape rule
 * disagree) or the pool is full. */
static inline int fz_push(fz_gen *g, fz_val d, int kind) {
    if (jx_val_bad(d.v)) {
        snprintf(g->p->error, sizeof g->p->error, "generator: %s step failed to trace: %s",
                 fz_kind_names[kind], jx_trace_error(g->t) ? jx_trace_error(g->t) : "?");
        return 0;
    }
    if (g->n >= FZ_MAX_VALS) {
        snprintf(g->p->error, sizeof g->p->error, "generator: value pool full");
        return 0;
    }
    d.t = jx_val_type(d.v);
    g->vals[g->n++] = d;
    g->p->kinds[kind]++;
    g->sig = g->sig * 0x100000001b3ULL + (uint64_t)kind * 131 + (uint64_t)d.t.dtype * 7 +
             (uint64_t)jx_type_size(&d.t) + (uint64_t)d.t.rank * 1009;
    return 1;
}

/* Index of a random pool value accepted by ok (NULL: any), preferring recent ones; -1 if
 * none. */
static inline int fz_pick(fz_gen *g, int (*ok)(const fz_val *)) {
    int c[FZ_MAX_VALS], nc = 0;
    for (int i = 0; i < g->n; i++)
        if (!ok || ok(&g->vals[i])) c[nc++] = i;
    if (nc == 0) return -1;
    if (fz_chance(g, 0.75)) return c[nc - 1 - fz_below(g, nc < 3 ? nc : 3)];
    return c[fz_below(g, nc)];
}

static int fz_ok_float(const fz_val *v) { return fz_isf(v->t.dtype); }
static int fz_ok_int(const fz_val *v) { return fz_isint(v->t.dtype); }
static int fz_ok_i32(const fz_val *v) { return v->t.dtype == JX_I32; }
static int fz_ok_logic(const fz_val *v) { return v->t.dtype != JX_F32 && v->t.dtype != JX_F64; }
static int fz_ok_numeric(const fz_val *v) { return v->t.dtype != JX_BOOL; }
static int fz_ok_exact(const fz_val *v) { return fz_exact(v); }
static int fz_ok_ranked(const fz_val *v) { return v->t.rank > 0; }
static int fz_ok_conv(const fz_val *v) {
    return v->t.rank == 4 && (v->t.dtype == JX_F32 || v->t.dtype == JX_F64 || v->t.dtype == JX_I32);
}

/* ---- data ---------------------------------------------------------------------------- */

/* A random dimension from the program's palette (1 now and then). */
static inline int64_t fz_dim(fz_gen *g) {
    return fz_chance(g, 0.15) ? 1 : g->palette[fz_below(g, 4)];
}

/* A random type of dtype dt and rank r with dims from the palette, at most g->cap
 * elements (dims are halved until it fits). */
static inline jx_type fz_rand_type(fz_gen *g, jx_dtype dt, int r) {
    jx_type t = {dt, r, {0}};
    for (int i = 0; i < r; i++) t.shape[i] = fz_dim(g);
    while (jx_type_size(&t) > g->cap)
        for (int i = 0; i < r; i++) t.shape[i] = (t.shape[i] + 1) / 2;
    return t;
}

static inline jx_dtype fz_rand_dtype(fz_gen *g) {
    static const jx_dtype d[10] = {JX_F32, JX_F32, JX_F32, JX_F32, JX_F64,
                                   JX_F64, JX_I32, JX_I32, JX_U32, JX_BOOL};
    return d[fz_below(g, 10)];
}

/* A new array of type t with random contents, and its description in *d (bounds are the
 * actual extremes). Floats: uniform in a random range, often small integers (so that
 * comparisons tie), and with specials (NaN, +-inf, -0) when `specials`; integers: a
 * random range, with edge values (INT32_MIN, INT32_MAX, 0, -1, 31, 32) when `specials`. */
static jx_array *fz_rand_array(fz_gen *g, jx_type t, int specials, fz_val *d) {
    jx_array *a = jx_array_new_type(&t);
    int64_t n = jx_array_size(a);
    static const double ranges[6] = {0.5, 2, 10, 100, 1e4, 3};
    double r = ranges[fz_below(g, 6)], lo = fz_chance(g, 0.3) ? r / 64 : -r;
    double ir = fz_chance(g, 0.2) ? 4294967295.0 : fz_chance(g, 0.5) ? 5 : 1000;
    int ints = fz_chance(g, 0.3);
    memset(d, 0, sizeof *d);
    d->lo = INFINITY, d->hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (fz_isf(t.dtype)) {
            v = ints ? (double)(fz_below(g, 5) - 2) : lo + (r - lo) * fz_unif(g);
            if (t.dtype == JX_F32) v = (float)v;
            if (specials && fz_chance(g, 0.2)) {
                static const double sp[4] = {NAN, INFINITY, -INFINITY, -0.0};
                v = sp[fz_below(g, 4)];
                d->special |= !isfinite(v);
                d->zamb |= v == 0;
            }
            jx_array_set(a, i, v);
        } else if (t.dtype == JX_BOOL) {
            v = (double)fz_below(g, 2);
            jx_array_set(a, i, v);
        } else {
            double lo_i = t.dtype == JX_I32 ? -fmin(ir, 2147483648.0) : 0;
            double hi_i = t.dtype == JX_I32 ? fmin(ir, 2147483647.0) : ir;
            v = floor(lo_i + (hi_i - lo_i + 1) * fz_unif(g));
            if (v > hi_i) v = hi_i;
            if (specials && fz_chance(g, 0.2)) {
                static const double sp[6] = {-2147483648.0, 2147483647.0, 0, -1, 31, 32};
                v = sp[fz_below(g, 6)];
                if (t.dtype == JX_U32 && v < 0) v = v == -1 ? 4294967295.0 : 2147483648.0;
            }
            if (t.dtype == JX_I32) {
                int32_t x = (int32_t)v;
                memcpy((char *)jx_array_data(a) + 4 * i, &x, 4);
            } else {
                uint32_t x = (uint32_t)v;
                memcpy((char *)jx_array_data(a) + 4 * i, &x, 4);
            }
        }
        if (isfinite(v)) d->lo = fmin(d->lo, v), d->hi = fmax(d->hi, v);
    }
    if (d->lo > d->hi) d->lo = d->hi = 0; /* no finite element */
    return a;
}

/* ---- leaves ---------------------------------------------------------------------------- */

/* Emits a random constant of type t (a scalar through jx_scalar now and then). */
static int fz_emit_const(fz_gen *g, jx_type t) {
    fz_val d;
    if (t.rank == 0 && fz_chance(g, 0.5)) {
        static const double sv[10] = {0, 1, -1, 2, 0.5, 3, -2.5, NAN, INFINITY, -INFINITY};
        double v = sv[fz_below(g, fz_isf(t.dtype) && !g->tx ? 10 : 7)];
        if (t.dtype == JX_BOOL) v = v != 0;
        if (t.dtype == JX_U32 && v < 0) v = 7;
        if (fz_isint(t.dtype)) v = floor(v);
        memset(&d, 0, sizeof d);
        d.lo = d.hi = isfinite(v) ? v : 0;
        d.special = !isfinite(v);
        d.v = jx_scalar(g->t, t.dtype, v);
    } else {
        jx_array *a = fz_rand_array(g, t, fz_chance(g, 0.3) && !g->tx, &d);
        d.v = jx_constant(g->t, a);
        jx_array_free(a);
    }
    d.isconst = 1;
    return fz_push(g, d, FZ_CONST);
}

/* Emits an iota of a random numeric type (or of type t if t is non-NULL). */
static int fz_emit_iota(fz_gen *g, const jx_type *t) {
    jx_type ty;
    if (t) ty = *t;
    else {
        static const jx_dtype d[4] = {JX_F32, JX_F64, JX_I32, JX_U32};
        ty = fz_rand_type(g, d[fz_below(g, 4)], 1 + (int)fz_below(g, 3));
    }
    if (ty.rank == 0 || ty.dtype == JX_BOOL) return 0;
    int dim = (int)fz_below(g, ty.rank);
    fz_val d;
    memset(&d, 0, sizeof d);
    d.lo = 0, d.hi = ty.shape[dim] > 0 ? (double)ty.shape[dim] - 1 : 0;
    d.isconst = 1;
    d.v = jx_iota(g->t, ty, dim);
    return fz_push(g, d, FZ_IOTA);
}

#endif
