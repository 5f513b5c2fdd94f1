/* Checks of the transformations against their definitions, shared by the rule tests:
 *   txc_grad:  vjp and jvp against central finite differences (f64),
 *   txc_vmap:  vmap against a loop over the batch, for given in_axes.
 * Include after check.h. Inputs are filled from a fixed-seed generator; integer inputs
 * get small values, float inputs values in [lo, hi]. */
#ifndef JX_TXCHECK_H
#define JX_TXCHECK_H

#include "check.h"

static unsigned long long txc_seed = 88172645463325252ULL;

/* Uniform in [0,1). */
static inline double txc_rand(void) {
    txc_seed ^= txc_seed << 13;
    txc_seed ^= txc_seed >> 7;
    txc_seed ^= txc_seed << 17;
    return (double)(txc_seed >> 11) / 9007199254740992.0;
}

/* A new array of type ty with random entries (floats in [lo,hi], ints in 0..3, bools). */
static inline jx_array *txc_random(jx_type ty, double lo, double hi) {
    jx_array *a = jx_array_new_type(&ty);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) {
        double r = txc_rand();
        if (ty.dtype == JX_F32 || ty.dtype == JX_F64) jx_array_set(a, i, lo + (hi - lo) * r);
        else if (ty.dtype == JX_BOOL) jx_array_set(a, i, r < 0.5);
        else jx_array_set(a, i, (double)(int)(r * 4));
    }
    return a;
}

/* Sum over outputs of <w_j, y_j> for float outputs. */
static inline double txc_dot(int n, jx_array **y, jx_array **w) {
    double s = 0;
    for (int j = 0; j < n; j++) {
        jx_dtype dt = jx_array_dtype(y[j]);
        if (dt != JX_F32 && dt != JX_F64) continue;
        for (int64_t i = 0; i < jx_array_size(y[j]); i++)
            s += jx_array_get(y[j], i) * jx_array_get(w[j], i);
    }
    return s;
}

static inline void txc_free(int n, jx_array **a) {
    for (int i = 0; i < n; i++) jx_array_free(a[i]), a[i] = NULL;
}

/* Checks jvp and vjp of f (float inputs should be f64) at a random point with inputs in
 * [lo, hi], along a random direction, against central differences: for random v and w,
 *   <w, J v>  ==  <w, (f(x+hv) - f(x-hv)) / 2h>  ==  <vjp(w), v>  ==  <w, jvp(v)>.
 * Relative tolerance tol (1e-6 is right for smooth f64 functions with h = 1e-6). */
static inline void txc_grad(const jx_fn *f, double lo, double hi, double tol) {
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_array *x[16] = {0}, *v[16] = {0}, *w[16] = {0}, *xp[16] = {0}, *xm[16] = {0};
    jx_array *yp[16] = {0}, *ym[16] = {0}, *dy[16] = {0};
    jx_array *gin[32] = {0}, *gout[32] = {0}, *jin[32] = {0}, *jout[32] = {0};
    const double h = 1e-6;
    CHECK(ni <= 16 && no <= 16);
    if (ni > 16 || no > 16) return;
    for (int i = 0; i < ni; i++) {
        jx_type ty = jx_fn_in_type(f, i);
        x[i] = txc_random(ty, lo, hi);
        v[i] = txc_random(ty, -1, 1);
        xp[i] = jx_array_copy(x[i]);
        xm[i] = jx_array_copy(x[i]);
        int fl = ty.dtype == JX_F32 || ty.dtype == JX_F64;
        for (int64_t k = 0; k < jx_array_size(x[i]); k++) {
            if (!fl) {
                jx_array_set(v[i], k, 0);
                continue;
            }
            jx_array_set(xp[i], k, jx_array_get(x[i], k) + h * jx_array_get(v[i], k));
            jx_array_set(xm[i], k, jx_array_get(x[i], k) - h * jx_array_get(v[i], k));
        }
    }
    for (int j = 0; j < no; j++) w[j] = txc_random(jx_fn_out_type(f, j), -1, 1);
    int ok = jx_interp(f, xp, yp) == 0 && jx_interp(f, xm, ym) == 0;
    CHECK(ok);
    double fd = 0;
    if (ok) {
        for (int j = 0; j < no; j++) {
            dy[j] = jx_array_copy(yp[j]);
            for (int64_t k = 0; k < jx_array_size(dy[j]); k++)
                jx_array_set(dy[j], k, (jx_array_get(yp[j], k) - jx_array_get(ym[j], k)) / (2 * h));
        }
        fd = txc_dot(no, dy, w);
    }
    jx_fn *g = jx_vjp(f, NULL);
    CHECK(g != NULL);
    if (!g) printf("  vjp: %s\n", jx_error());
    if (g && ok) {
        for (int i = 0; i < ni; i++) gin[i] = x[i];
        for (int j = 0; j < no; j++) gin[ni + j] = w[j];
        int rc = jx_interp(g, gin, gout);
        CHECK(rc == 0);
        if (rc == 0) {
            /* outputs: y..., then one cotangent per float input, in order */
            double s = 0;
            int k = no;
            for (int i = 0; i < ni; i++) {
                jx_dtype dt = jx_fn_in_type(f, i).dtype;
                if (dt != JX_F32 && dt != JX_F64) continue;
                for (int64_t e = 0; e < jx_array_size(v[i]); e++)
                    s += jx_array_get(gout[k], e) * jx_array_get(v[i], e);
                k++;
            }
            CHECK_NEAR(s, fd, tol);
            txc_free(jx_fn_n_out(g), gout);
        }
    }
    jx_fn *d = jx_jvp(f, NULL);
    CHECK(d != NULL);
    if (!d) printf("  jvp: %s\n", jx_error());
    if (d && ok) {
        for (int i = 0; i < ni; i++) jin[i] = x[i], jin[ni + i] = v[i];
        int rc = jx_interp(d, jin, jout);
        CHECK(rc == 0);
        if (rc == 0) {
            CHECK_NEAR(txc_dot(no, jout + no, w), fd, tol);
            txc_free(2 * no, jout);
        }
    }
    jx_fn_free(g);
    jx_fn_free(d);
    txc_free(ni, x), txc_free(ni, v), txc_free(ni, xp), txc_free(ni, xm);
    txc_free(no, w), txc_free(no, yp), txc_free(no, ym), txc_free(no, dy);
}

/* Slice b of a batched array along axis (a new array without that axis). */
static inline jx_array *txc_take(const jx_array *a, int axis, int64_t b) {
    int r = jx_array_rank(a);
    const int64_t *sh = jx_array_shape(a);
    int64_t out_shape[JX_MAX_RANK], outer = 1, inner = 1;
    for (int d = 0, k = 0; d < r; d++) {
        if (d != axis) out_shape[k++] = sh[d];
        if (d < axis) outer *= sh[d];
        if (d > axis) inner *= sh[d];
    }
    jx_array *o = jx_array_new(jx_array_dtype(a), r - 1, out_shape);
    for (int64_t i = 0; i < outer; i++)
        for (int64_t j = 0; j < inner; j++)
            jx_array_set(o, i * inner + j, jx_array_get(a, (i * sh[axis] + b) * inner + j));
    return o;
}

/* A new array of type ty for txc_vmap_gen's batched inputs. */
typedef jx_array *(*txc_gen)(jx_type ty, double lo, double hi);

/* Checks vmap(f, in_axes, out_axes = 0) against a loop over a batch of size bsize: for
 * each b, f(inputs sliced at b along their axes) == batched result [b]. Inputs come from
 * gen(type, lo, hi); floats compared with relative tolerance tol, others exactly. */
static inline void txc_vmap_gen(const jx_fn *f, const int *in_axes, int64_t bsize, txc_gen gen,
                                double lo, double hi, double tol) {
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_fn *g = jx_vmap(f, in_axes, NULL, bsize);
    CHECK(g != NULL);
    if (!g) {
        printf("  vmap: %s\n", jx_error());
        return;
    }
    jx_array *xb[16] = {0}, *yb[16] = {0}, *x1[16] = {0}, *y1[16] = {0};
    for (int i = 0; i < ni; i++) xb[i] = gen(jx_fn_in_type(g, i), lo, hi);
    int rc = jx_interp(g, xb, yb);
    CHECK(rc == 0);
    if (rc != 0) printf("  interp(vmap): %s\n", jx_error());
    for (int64_t b = 0; b < bsize && rc == 0; b++) {
        for (int i = 0; i < ni; i++)
            x1[i] = in_axes[i] == JX_NONE ? jx_array_retain(xb[i])
                                          : txc_take(xb[i], in_axes[i] < 0
                                                                ? in_axes[i] + jx_array_rank(xb[i])
                                                                : in_axes[i], b);
        CHECK(jx_interp(f, x1, y1) == 0);
        for (int j = 0; j < no; j++) {
            jx_array *yj = txc_take(yb[j], 0, b);
            int fl = jx_array_dtype(yj) == JX_F32 || jx_array_dtype(yj) == JX_F64;
            for (int64_t e = 0; y1[j] && e < jx_array_size(yj); e++)
                CHECK_NEAR(jx_array_get(yj, e), jx_array_get(y1[j], e), fl ? tol : 0);
            jx_array_free(yj);
        }
        txc_free(ni, x1);
        txc_free(no, y1);
    }
    txc_free(ni, xb);
    txc_free(no, yb);
    jx_fn_free(g);
}

/* txc_vmap_gen with txc_random inputs in [lo, hi]. */
static inline void txc_vmap(const jx_fn *f, const int *in_axes, int64_t bsize, double lo,
                            double hi, double tol) {
    txc_vmap_gen(f, in_axes, bsize, txc_random, lo, hi, tol);
}

#endif
