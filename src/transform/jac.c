/* Jacobians and Hessians built from the other transformations: jacrev = vmap of vjp over
 * the basis of the output space, jacfwd = vmap of jvp over the basis of the input space,
 * hessian = jacfwd(jacrev). Each is an ordinary jx_fn with f's inputs and one output. */
#include <stdlib.h>

#include "transform/transform.h"
#include "core/util.h"

typedef struct jac_ctx {
    const jx_fn *batched; /* vmapped vjp or jvp */
    int wrt, fwd;
    int64_t nb; /* basis size */
    jx_type basis_t, xt, yt;
} jac_ctx;

/* The identity basis of size nb, reshaped to [nb, *shape of ty]. */
static jx_val jac_basis(jx_trace *t, int64_t nb, const jx_type *ty) {
    jx_loc loc = {"jacobian", 0};
    jx_type sq = JX_TYPE(JX_I32, nb, nb);
    jx_val eye = jx_convert_at(loc, jx_eq_at(loc, jx_iota_at(loc, t, sq, 0), jx_iota_at(loc, t, sq, 1)),
                               ty->dtype);
    jx_ints shape = {ty->rank + 1, {nb}};
    for (int d = 0; d < ty->rank; d++) shape.v[d + 1] = ty->shape[d];
    return jx_reshape_at(loc, eye, shape);
}

/* Traced body: calls the batched function on the basis and reshapes to Y + X. */
static void jac_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jac_ctx *c = user;
    const jx_fn *b = c->batched;
    jx_loc loc = {"jacobian", 0};
    jx_val *args = malloc((size_t)(jx_fn_n_in(b) + 1) * sizeof *args);
    jx_val *res = malloc((size_t)(jx_fn_n_out(b) + 1) * sizeof *res);
    if (!args || !res) {
        free(args);
        free(res);
        out[0] = trace_fail(t, loc, "jacobian", "out of memory");
        return;
    }
    /* f's own inputs come first: jvp has (x..., t...), vjp has (x..., ct_y...) */
    int n_in_f = c->fwd ? jx_fn_n_in(b) / 2 : jx_fn_n_in(b) - (jx_fn_n_out(b) - 1);
    for (int i = 0; i < n_in_f; i++) args[i] = in[i];
    for (int i = n_in_f; i < jx_fn_n_in(b); i++) {
        int is_basis = c->fwd ? i == n_in_f + c->wrt : i == n_in_f;
        jx_type ty = jx_fn_in_type(b, i);
        args[i] = is_basis ? jac_basis(t, c->nb, &c->basis_t) : jx_full_at(loc, t, ty, 0.0);
    }
    jx_val j = {t, -1};
    if (jx_call_at(loc, b, args, res) == 0) {
        /* vjp: last output is [Ny, *X]; jvp: output n_out/2 is [Nx, *Y] */
        j = c->fwd ? res[jx_fn_n_out(b) / 2] : res[jx_fn_n_out(b) - 1];
        int64_t nx_el = jx_type_size(&c->xt), ny_el = jx_type_size(&c->yt);
        if (c->fwd)
            j = jx_transpose_at(loc, jx_reshape_at(loc, j, JX_INTS(nx_el, ny_el)), JX_INTS(1, 0));
        jx_ints shape = {c->yt.rank + c->xt.rank, {0}};
        for (int d = 0; d < c->yt.rank; d++) shape.v[d] = c->yt.shape[d];
        for (int d = 0; d < c->xt.rank; d++) shape.v[c->yt.rank + d] = c->xt.shape[d];
        j = jx_reshape_at(loc, j, shape);
    }
    out[0] = j;
    free(args);
    free(res);
}

/* Shared driver of jacrev (fwd = 0) and jacfwd (fwd = 1). */
static jx_fn *jac_build(const jx_fn *f, int wrt, int fwd, const char *what) {
    if (!f) {
        util_err("%s: NULL function", what);
        return NULL;
    }
    if (wrt < 0 || wrt >= f->n_in || f->n_out < 1) {
        util_err("%s: wrt %d out of range or no outputs (%d inputs, %d outputs)", what, wrt,
                 f->n_in, f->n_out);
        return NULL;
    }
    jac_ctx c = {NULL, wrt, fwd, 0, {0}, f->nodes[wrt].type, f->nodes[f->outs[0]].type};
    char xs[160], ys[160];
    if (!tx_is_float(c.xt.dtype) || !tx_is_float(c.yt.dtype) || c.xt.rank + c.yt.rank > JX_MAX_RANK ||
        c.xt.rank + 1 > JX_MAX_RANK || c.yt.rank + 1 > JX_MAX_RANK) {
        util_err("%s: needs float input and output with rank(in) + rank(out) <= %d, got %s -> %s",
                 what, JX_MAX_RANK, jx_type_str(&c.xt, xs, sizeof xs), jx_type_str(&c.yt, ys, sizeof ys));
        return NULL;
    }
    c.basis_t = fwd ? c.xt : c.yt;
    c.nb = jx_type_size(&c.basis_t);
    jx_fn *inner = NULL;
    int nin, nout;
    if (fwd) {
        inner = jx_jvp(f);
        nin = 2 * f->n_in;
        nout = 2 * f->n_out;
    } else {
        unsigned char *m = calloc((size_t)f->n_in + 1, 1);
        if (m) m[wrt] = 1;
        inner = m ? jx_vjp(f, m) : NULL;
        free(m);
        nin = f->n_in + f->n_out;
        nout = f->n_out + 1;
    }
    if (!inner) return NULL;
    int *in_axes = malloc((size_t)nin * sizeof *in_axes), *out_axes = malloc((size_t)nout * sizeof *out_axes);
    jx_fn *g = NULL;
    if (in_axes && out_axes) {
        for (int i = 0; i < nin; i++)
            in_axes[i] = (fwd ? i == f->n_in + wrt : i == f->n_in) ? 0 : JX_NONE;
        for (int j = 0; j < nout; j++) out_axes[j] = (fwd ? j >= f->n_out : j == nout - 1) ? 0 : JX_NONE;
        c.batched = jx_vmap(inner, in_axes, out_axes, c.nb);
    }
    if (c.batched) {
        jx_type *in_t = malloc((size_t)(f->n_in + 1) * sizeof *in_t);
        for (int i = 0; in_t && i < f->n_in; i++) in_t[i] = f->nodes[i].type;
        jx_fn *raw = in_t ? jx_trace(jac_body, f->n_in, in_t, 1, &c) : NULL;
        if (raw) g = jx_simplify(raw);
        jx_fn_free(raw);
        free(in_t);
    }
    free(in_axes);
    free(out_axes);
    jx_fn_free((jx_fn *)c.batched);
    jx_fn_free(inner);
    return g;
}

/* See jx.h. */
jx_fn *jx_jacrev(const jx_fn *f, int wrt) { return jac_build(f, wrt, 0, "jacrev"); }
/* See jx.h. */
jx_fn *jx_jacfwd(const jx_fn *f, int wrt) { return jac_build(f, wrt, 1, "jacfwd"); }

/* See jx.h: jacfwd of jacrev, for a scalar output. */
jx_fn *jx_hessian(const jx_fn *f, int wrt) {
    jx_fn *g = jx_jacrev(f, wrt);
    if (!g) return NULL;
    jx_fn *h = jx_jacfwd(g, wrt);
    jx_fn_free(g);
    return h;
}
