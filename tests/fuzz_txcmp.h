/* The differential fuzzer of the transformations, part 2: comparing arrays, precision
 * forms of arrays, interpreting, and the statistics and failure records the checks
 * (tests/fuzz_txcheck.h) fill in. */
#ifndef JX_FUZZ_TXCMP_H
#define JX_FUZZ_TXCMP_H

#include <stdarg.h>

#include "fuzz_txin.h"
#include "transform/transform.h"

/* The checks. */
enum {
    FTC_BUILD, FTC_JIT, FTC_SIMPLIFY, FTC_TEXT, FTC_VMAP, FTC_PRIMAL, FTC_DOT, FTC_FD, FTC_CONSIST,
    FTC_N
};
static const char *const ftc_names[FTC_N] = {
    "transform",   "jit_vs_interp", "simplify",    "text_round_trip", "vmap_vs_loop",
    "jvp_vjp_primal", "dot_product", "finite_diff", "grad_consistency"};

/* Counters of a run. */
typedef struct ft_stats {
    long cases, no_chain, gen_failed, stages[FT_NKINDS], depth[4];
    long ctl_cases;     /* cases whose program holds control flow (tests/fuzz_txctl.h) */
    long run[FTC_N], skipped[FTC_N], failed[FTC_N];
    long elems[FTC_N];  /* float elements compared (finite differences: derivatives) */
    double worst[FTC_N]; /* largest |difference| / allowed among passing elements */
    long differ[FTC_N];  /* float elements compared that were not equal */
    long unknown[FTC_N]; /* float elements not compared (no error estimate) */
    long dot_zero;      /* dot-product tests skipped because every term is 0 */
    long dot_reverse;   /* ... because reverse mode's own rounding may move the vjp's side by 10% */
    long fd_unsmooth;   /* derivatives skipped: the two step sizes disagree */
    long retype_failed; /* stages with no f64 form */
} ft_stats;

/* What a check needs to record a result. */
typedef struct ft_ctx {
    ft_case *c;
    ft_stats *st;
    int stage;       /* the stage under test */
    int nfail;       /* failures of this case so far */
    char what[2048]; /* the first failure of the case */
    int what_check, what_stage;
} ft_ctx;

/* Records a failure of check `chk` (printf-style description). */
static void ft_fail(ft_ctx *x, int chk, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ft_fail(ft_ctx *x, int chk, const char *fmt, ...) {
    x->st->failed[chk]++;
    if (x->nfail++ > 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->what, sizeof x->what, fmt, ap);
    va_end(ap);
    x->what_check = chk, x->what_stage = x->stage;
}

/* ---- comparison ----------------------------------------------------------------------- */

/* How close two arrays must be. A float element passes when both are NaN, both are the
 * same infinity, or |got - want| <= slack[i] + rtol |want| + ntol max|want| + atol (max
 * over the array's finite elements); an element whose slack is not finite is not
 * compared (its error estimate is unknown). bits: the same bits (NaN matches any NaN). Integers and
 * bools must be equal. */
typedef struct ft_tol {
    double rtol, ntol, atol;
    const double *slack; /* per element, or NULL */
    int bits;
    long *unknown, *differ; /* counters (may be NULL): elements not compared; compared
                             * float elements that are not equal */
} ft_tol;

/* Index of the first element where got differs from want under tol, or -1; *why says
 * how. A type mismatch is reported at element 0. worst (may be NULL) gets the largest
 * |difference| / allowed among compared elements; *n the number of float elements
 * compared. */
static int64_t ft_diff(const jx_array *got, const jx_array *want, const ft_tol *tol,
                       double *worst, long *n, char *why, size_t len) {
    jx_type a = jx_array_type(got), b = jx_array_type(want);
    char s1[128], s2[128];
    if (!jx_type_eq(&a, &b)) {
        snprintf(why, len, "type %s, expected %s", jx_type_str(&a, s1, sizeof s1),
                 jx_type_str(&b, s2, sizeof s2));
        return 0;
    }
    int64_t cnt = jx_array_size(want);
    size_t es = jx_dtype_size(b.dtype);
    const char *p = jx_array_cdata(got), *q = jx_array_cdata(want);
    double big = 0;
    for (int64_t i = 0; fz_isf(b.dtype) && i < cnt; i++) {
        double w = jx_array_get(want, i);
        if (isfinite(w) && fabs(w) > big) big = fabs(w);
    }
    for (int64_t i = 0; i < cnt; i++) {
        double x = jx_array_get(got, i), y = jx_array_get(want, i), allowed = 0;
        int ok;
        if (!fz_isf(b.dtype) || tol->bits) {
            ok = memcmp(p + (size_t)i * es, q + (size_t)i * es, es) == 0 || (isnan(x) && isnan(y));
            if (b.dtype == JX_BOOL) ok = (x != 0) == (y != 0);
        } else if (isnan(x) || isnan(y)) {
            ok = isnan(x) && isnan(y);
        } else if (isinf(x) || isinf(y)) {
            ok = x == y;
        } else {
            double s = tol->slack ? tol->slack[i] : 0;
            if (!isfinite(s)) {
                if (tol->unknown) (*tol->unknown)++;
                continue;
            }
            allowed = s + tol->rtol * fabs(y) + tol->ntol * big + tol->atol;
            ok = fabs(x - y) <= allowed;
            if (n) (*n)++;
            if (tol->differ && x != y) (*tol->differ)++;
            if (ok && worst && allowed > 0 && fabs(x - y) / allowed > *worst) *worst = fabs(x - y) / allowed;
        }
        if (!ok) {
            int dig = b.dtype == JX_F64 ? 17 : 9;
            snprintf(why, len, "element %lld of %s: got %.*g, expected %.*g (allowed %.3g)",
                     (long long)i, jx_type_str(&b, s1, sizeof s1), dig, x, dig, y, allowed);
            return i;
        }
    }
    return -1;
}

/* Comparison modes: EXACT (floats equal, -0 == +0), TIGHT (the same computation
 * rearranged: vmap vs a loop, primal outputs of jvp/vjp), LOOSE (the same math computed
 * differently: jit vs interp, derivatives by two routes), BITS. */
enum { FT_EXACT, FT_TIGHT, FT_LOOSE, FT_BITS };

/* The tolerance of mode for results of dtype dt. */
static ft_tol ft_tol_for(jx_dtype dt, int mode) {
    ft_tol t = {0, 0, 0, NULL, mode == FT_BITS, NULL, NULL};
    int f32 = dt == JX_F32;
    if (mode == FT_TIGHT) t.rtol = f32 ? 1e-5 : 1e-12, t.ntol = f32 ? 1e-6 : 1e-13;
    if (mode == FT_LOOSE) t.rtol = f32 ? 1e-4 : 1e-10, t.ntol = f32 ? 1e-5 : 1e-11;
    if (mode == FT_LOOSE) t.atol = 16 * (f32 ? 0x1p-149 : 0x1p-1074); /* subnormals' spacing */
    return t;
}

/* ---- arrays in another precision --------------------------------------------------- */

/* a with its float elements converted to dtype dt (f32 or f64); other arrays retained. */
static jx_array *ft_array_as(jx_array *a, jx_dtype dt) {
    jx_dtype d = jx_array_dtype(a);
    if (!fz_isf(d) || d == dt) return jx_array_retain(a);
    jx_array *r = jx_array_new(dt, jx_array_rank(a), jx_array_shape(a));
    for (int64_t i = 0, n = jx_array_size(a); i < n; i++) jx_array_set(r, i, jx_array_get(a, i));
    return r;
}

/* Converts in[0..n-1] to the input types of f (an f64 or f32 form of their function):
 * new references in out[]. */
static void ft_inputs_for(const jx_fn *f, int n, jx_array **in, jx_array **out) {
    for (int i = 0; i < n; i++) out[i] = ft_array_as(in[i], f->nodes[i].type.dtype);
}

/* Interprets f on in[] into out[] (NULLs on failure, then -1 and jx_error()). */
static int ft_interp(const jx_fn *f, jx_array **in, jx_array **out) {
    for (int j = 0; j < f->n_out; j++) out[j] = NULL;
    if (jx_interp(f, in, out) == 0) return 0;
    ft_free_all(f->n_out, out);
    return -1;
}

/* The error estimate of y (a result of the function under test) from the same result
 * computed with rounding noise (ref): per element scale * |y - ref| when both are finite,
 * 0 when both are the same non-finite value, infinity otherwise (unknown). A malloc'd
 * array, or NULL when ref is NULL. */
static double *ft_slack(const jx_array *y, const jx_array *ref, double scale) {
    if (!ref || jx_array_size(ref) != jx_array_size(y)) return NULL;
    int64_t n = jx_array_size(y);
    double *s = malloc((size_t)(n + 1) * sizeof *s);
    for (int64_t i = 0; s && i < n; i++) {
        double a = jx_array_get(y, i), b = jx_array_get(ref, i);
        if (isfinite(a) && isfinite(b)) s[i] = scale * fabs(a - b);
        else s[i] = a == b || (isnan(a) && isnan(b)) ? 0 : INFINITY;
    }
    return s;
}

#include "fuzz_txnoise.h"

/* Compares outputs got[0..n-1] with want[], each under ft_tol_for(dtype, mode) plus
 * slack[j] when given; on a difference records a failure of check chk. Returns 1 if all
 * agree. */
static int ft_same(ft_ctx *x, int chk, int n, jx_array **got, jx_array **want, int mode,
                   double **slack, const char *label) {
    for (int j = 0; j < n; j++) {
        char why[400];
        if (!got[j] || !want[j]) {
            ft_fail(x, chk, "%s: output %d missing", label, j);
            return 0;
        }
        ft_tol t = ft_tol_for(jx_array_dtype(want[j]), mode);
        t.slack = slack ? slack[j] : NULL;
        t.unknown = &x->st->unknown[chk], t.differ = &x->st->differ[chk];
        if (ft_diff(got[j], want[j], &t, &x->st->worst[chk], &x->st->elems[chk], why, sizeof why) >= 0) {
            ft_fail(x, chk, "%s: output %d: %s", label, j, why);
            return 0;
        }
    }
    return 1;
}

#endif
