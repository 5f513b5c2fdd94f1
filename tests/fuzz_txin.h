/* The differential fuzzer of the transformations (see tests/fuzz_tx.h): the inputs of a
 * case's stages. Stage 0 gets the program's own arrays or resamples of them (the same
 * values in other places, so the generator's bounds still hold); jvp adds tangents and
 * vjp cotangents (floats uniform in [-1, 1]); vmap stacks independent samples of the
 * previous stage's inputs along their batch axes. */
#ifndef JX_FUZZ_TXIN_H
#define JX_FUZZ_TXIN_H

#include "fuzz_tx.h"

/* A copy of a whose elements are drawn (with repetition) from a's own elements: the same
 * range and the same kinds of values as the generator's inputs, other values. */
static jx_array *ft_resample(fz_gen *g, const jx_array *a) {
    jx_array *r = jx_array_copy(a);
    int64_t n = jx_array_size(a);
    size_t es = jx_dtype_size(jx_array_dtype(a));
    const char *src = jx_array_cdata(a);
    char *dst = jx_array_data(r);
    for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src + (size_t)fz_below(g, n) * es, es);
    return r;
}

/* A tangent or cotangent of type t: floats uniform in [-1, 1], zeros otherwise. */
static jx_array *ft_direction(fz_gen *g, const jx_type *t) {
    jx_array *a = jx_array_new_type(t);
    if (a && fz_isf(t->dtype))
        for (int64_t i = 0, n = jx_array_size(a); i < n; i++) jx_array_set(a, i, 2 * fz_unif(g) - 1);
    return a;
}

/* The normalized batch axis a of a rank-r batched type. */
static int ft_axis(int a, int r) {
    return a < 0 ? a + r : a;
}

/* Samples x[0..b-1] (arrays of one type) stacked along axis ax into a new array. */
static jx_array *ft_stack(int64_t b, jx_array *const *x, const jx_type *t, int ax) {
    jx_type bt = {t->dtype, t->rank + 1, {0}};
    for (int d = 0, s = 0; d < bt.rank; d++) bt.shape[d] = d == ax ? b : t->shape[s++];
    jx_array *r = jx_array_new_type(&bt);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < t->rank; d++) *(d < ax ? &outer : &inner) *= t->shape[d];
    size_t es = jx_dtype_size(t->dtype), row = (size_t)inner * es;
    char *dst = jx_array_data(r);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < b; k++)
            memcpy(dst + (size_t)(o * b + k) * row, (const char *)jx_array_cdata(x[k]) + (size_t)o * row, row);
    return r;
}

/* Slice k along axis ax of a batched array (the inverse of ft_stack). */
static jx_array *ft_unstack(const jx_array *a, int ax, int64_t k) {
    jx_type bt = jx_array_type(a), t = {bt.dtype, bt.rank - 1, {0}};
    for (int d = 0, s = 0; d < bt.rank; d++)
        if (d != ax) t.shape[s++] = bt.shape[d];
    jx_array *r = jx_array_new_type(&t);
    int64_t outer = 1, inner = 1, b = bt.shape[ax];
    for (int d = 0; d < t.rank; d++) *(d < ax ? &outer : &inner) *= t.shape[d];
    size_t es = jx_dtype_size(t.dtype), row = (size_t)inner * es;
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)jx_array_data(r) + (size_t)o * row,
               (const char *)jx_array_cdata(a) + (size_t)(o * b + k) * row, row);
    return r;
}

static void ft_free_all(int n, jx_array **a) {
    for (int i = 0; i < n; i++) {
        jx_array_free(a[i]);
        a[i] = NULL;
    }
}

/* The inputs of vmap stage k from samples set[0..bsize-1] of the previous stage's
 * inputs: batched inputs stacked along their axis, unbatched ones from set[0]. */
static void ft_vmap_inputs(const ft_case *c, int k, jx_array *(*set)[FT_MAX_ARGS], jx_array **in) {
    const ft_stage *s = &c->st[k];
    const jx_fn *h = c->st[k - 1].fn;
    for (int i = 0; i < h->n_in; i++) {
        jx_type t = h->nodes[i].type;
        if (s->in_axes[i] == JX_NONE) {
            in[i] = jx_array_retain(set[0][i]);
            continue;
        }
        jx_array *col[4];
        for (int64_t q = 0; q < s->bsize; q++) col[q] = set[q][i];
        in[i] = ft_stack(s->bsize, col, &t, ft_axis(s->in_axes[i], t.rank + 1));
    }
}

/* Inputs for stage k's function into in[] (new references). Stage 0's inputs are the
 * program's own arrays unless `fresh` (then a resample of them); jvp adds tangents, vjp
 * cotangents; vmap stacks independent samples of the previous stage's inputs (the first
 * one not fresh unless `fresh`; unbatched inputs come from it). */
static void ft_inputs(ft_case *c, int k, int fresh, jx_array **in) {
    const ft_stage *s = &c->st[k];
    if (k == 0) {
        for (int i = 0; i < c->prog.n_in; i++)
            in[i] = fresh ? ft_resample(c->g, c->prog.in[i]) : jx_array_retain(c->prog.in[i]);
        return;
    }
    const jx_fn *h = c->st[k - 1].fn;
    if (s->kind != FT_VMAP) {
        ft_inputs(c, k - 1, fresh, in);
        for (int i = 0; s->kind == FT_JVP && i < h->n_in; i++) {
            jx_type t = h->nodes[i].type;
            in[h->n_in + i] = ft_direction(c->g, &t);
        }
        for (int j = 0; s->kind == FT_VJP && j < h->n_out; j++) {
            jx_type t = ft_out_type(h, j);
            in[h->n_in + j] = ft_direction(c->g, &t);
        }
        return;
    }
    int64_t nset = s->bsize > 0 ? s->bsize : 1;
    jx_array *(*set)[FT_MAX_ARGS] = calloc((size_t)nset, sizeof *set);
    for (int64_t q = 0; q < nset; q++) ft_inputs(c, k - 1, fresh || q > 0, set[q]);
    ft_vmap_inputs(c, k, set, in);
    for (int64_t q = 0; q < nset; q++) ft_free_all(h->n_in, set[q]);
    free(set);
}

#endif
