/* Jacobians and Hessians built from the other transformations, with respect to several
 * inputs (JAX's argnums tuple): jacrev = vmap of one vjp over the basis of the output
 * space (every selected input's rows at once), jacfwd = per selected input, vmap of a jvp
 * over the basis of that input's space, hessian = jacfwd(jacrev). Each is an ordinary
 * jx_fn with f's inputs and one output per selected input (hessian: per pair). */
#include <stdlib.h>

#include "transform/transform.h"
#include "core/util.h"

/* One vmapped vjp or jvp and where its basis goes: inputs (f's n_in inputs, then the
 * extra ones), the extra input basis_arg gets the identity basis of basis_t. */
typedef struct jac_part {
    jx_fn *batched;
    int basis_arg;
    jx_type basis_t;
} jac_part;

/* The jacobian for one selected input: output res of part `part`, of shape [nb, ...]. */
typedef struct jac_out {
    int part, res;
    jx_type xt;
} jac_out;

typedef struct jac_ctx {
    int n_in_f, fwd, n_parts, n;
    jac_part *parts;
    jac_out *outs;
    jx_type yt;
} jac_ctx;

/* The identity basis of size nb, reshaped to [nb, *shape of ty]. */
static jx_val jac_basis(jx_trace *t, const jx_type *ty) {
    jx_loc loc = {"jacobian", 0};
    int64_t nb = jx_type_size(ty);
    jx_type sq = JX_TYPE(JX_I32, nb, nb);
    jx_val eye = jx_convert_at(loc, jx_eq_at(loc, jx_iota_at(loc, t, sq, 0),
                                             jx_iota_at(loc, t, sq, 1)), ty->dtype);
    jx_ints shape = {ty->rank + 1, {nb}};
    for (int d = 0; d < ty->rank; d++) shape.v[d + 1] = ty->shape[d];
    return jx_reshape_at(loc, eye, shape);
}

/* Part p called on in (f's inputs) and the basis, zeros for its other extra inputs.
 * res receives its outputs. 0 or -1. */
static int jac_call_part(jx_trace *t, const jac_ctx *c, const jac_part *p, const jx_val *in,
                         jx_val *res) {
    jx_loc loc = {"jacobian", 0};
    int nin = jx_fn_n_in(p->batched);
    jx_val *args = malloc((size_t)nin * sizeof *args);
    if (!args) {
        trace_fail(t, loc, "jacobian", "out of memory");
        return -1;
    }
    for (int i = 0; i < nin; i++) {
        jx_type ty = jx_fn_in_type(p->batched, i);
        args[i] = i < c->n_in_f         ? in[i]
                  : i == p->basis_arg ? jac_basis(t, &p->basis_t)
                                        : jx_full_at(loc, t, ty, 0.0);
    }
    int rc = jx_call_at(loc, p->batched, args, res);
    free(args);
    return rc;
}

/* Rows j ([nb, ...]) of one jacobian reshaped to Y + X (jacfwd's rows run over X, so
 * they are transposed first). */
static jx_val jac_shape(const jac_ctx *c, const jac_out *o, jx_val j) {
    jx_loc loc = {"jacobian", 0};
    int64_t nx = jx_type_size(&o->xt), ny = jx_type_size(&c->yt);
    if (c->fwd) j = jx_transpose_at(loc, jx_reshape_at(loc, j, JX_INTS(nx, ny)), JX_INTS(1, 0));
    jx_ints shape = {c->yt.rank + o->xt.rank, {0}};
    for (int d = 0; d < c->yt.rank; d++) shape.v[d] = c->yt.shape[d];
    for (int d = 0; d < o->xt.rank; d++) shape.v[c->yt.rank + d] = o->xt.shape[d];
    return jx_reshape_at(loc, j, shape);
}

/* Traced body: calls every part on its basis and shapes each selected input's rows. */
static void jac_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jac_ctx *c = user;
    int per = 0;
    for (int p = 0; p < c->n_parts; p++)
        if (jx_fn_n_out(c->parts[p].batched) > per) per = jx_fn_n_out(c->parts[p].batched);
    jx_val *res = malloc((size_t)(c->n_parts * per + 1) * sizeof *res);
    int ok = res != NULL;
    if (!ok) trace_fail(t, (jx_loc){"jacobian", 0}, "jacobian", "out of memory");
    for (int p = 0; ok && p < c->n_parts; p++)
        ok = jac_call_part(t, c, &c->parts[p], in, &res[p * per]) == 0;
    for (int k = 0; k < c->n; k++)
        out[k] = ok ? jac_shape(c, &c->outs[k], res[c->outs[k].part * per + c->outs[k].res])
                    : (jx_val){t, -1};
    free(res);
}

/* Checks f, its output `out` and the wrt list; fills c->yt and c->outs[k].xt. 0 or -1. */
static int jac_check(const jx_fn *f, int out, int n, const int *wrt, jac_ctx *c,
                     const char *what) {
    if (!f) return util_err("%s: NULL function", what);
    if (out < 0 || out >= f->n_out) return util_err("%s: the function has no outputs", what);
    if (n > JX_MAX_OPERANDS) return util_err("%s: %d wrt entries (at most %d)", what, n,
                                             JX_MAX_OPERANDS);
    c->yt = f->nodes[f->outs[out]].type;
    char xs[160], ys[160];
    for (int k = 0; k < n; k++) {
        if (wrt[k] < 0 || wrt[k] >= f->n_in)
            return util_err("%s: wrt %d out of range (entry %d of %d; %d inputs)", what,
                            wrt[k], k, n, f->n_in);
        jx_type xt = c->outs[k].xt = f->nodes[wrt[k]].type;
        if (!tx_is_float(xt.dtype) || !tx_is_float(c->yt.dtype) ||
            xt.rank + c->yt.rank > JX_MAX_RANK || xt.rank + 1 > JX_MAX_RANK ||
            c->yt.rank + 1 > JX_MAX_RANK)
            return util_err("%s: needs float input and output with rank(in) + rank(out) <= "
                            "%d, got input %d %s -> %s", what, JX_MAX_RANK, wrt[k],
                            jx_type_str(&xt, xs, sizeof xs),
                            jx_type_str(&c->yt, ys, sizeof ys));
    }
    return 0;
}

/* in_axes/out_axes of a part: 0 for the basis input and for outputs from first_out on,
 * JX_NONE elsewhere; then the vmap over nb. NULL with jx_error(). */
static jx_fn *jac_vmap(jx_fn *inner, int basis_arg, int first_out, int64_t nb) {
    if (!inner) return NULL;
    int nin = jx_fn_n_in(inner), nout = jx_fn_n_out(inner);
    int *axes = malloc((size_t)(nin + nout) * sizeof *axes);
    jx_fn *b = NULL;
    if (!axes) {
        util_err("jacobian: out of memory");
    } else {
        for (int i = 0; i < nin; i++) axes[i] = i == basis_arg ? 0 : JX_NONE;
        for (int j = 0; j < nout; j++) axes[nin + j] = j >= first_out ? 0 : JX_NONE;
        b = jx_vmap(inner, axes, axes + nin, nb);
    }
    free(axes);
    jx_fn_free(inner);
    return b;
}

/* jacrev's one part: the vjp selecting every listed input, vmapped over Y's basis; the
 * rows of input wrt[k] are the vjp's cotangent output for it. 0 or -1. */
static int jac_rev_parts(const jx_fn *f, int out, int n, const int *wrt, jac_ctx *c) {
    unsigned char *m = calloc((size_t)f->n_in + 1, 1);
    if (!m) return util_err("jacrev: out of memory");
    for (int k = 0; k < n; k++) m[wrt[k]] = 1;
    c->parts[0] = (jac_part){NULL, f->n_in + out, c->yt};
    c->parts[0].batched = jac_vmap(jx_vjp(f, m), f->n_in + out, f->n_out, jx_type_size(&c->yt));
    for (int k = 0; k < n; k++) {
        int sel = 0;
        for (int i = 0; i < wrt[k]; i++) sel += m[i];
        c->outs[k].part = 0;
        c->outs[k].res = f->n_out + sel;
    }
    free(m);
    c->n_parts = 1;
    return c->parts[0].batched ? 0 : -1;
}

/* jacfwd's parts: per listed input, the jvp with that input's tangent only, vmapped over
 * its basis; the rows are the tangent of output `out`. 0 or -1. */
static int jac_fwd_parts(const jx_fn *f, int out, int n, const int *wrt, jac_ctx *c) {
    unsigned char *m = calloc((size_t)f->n_in + 1, 1);
    if (!m) return util_err("jacfwd: out of memory");
    for (int k = 0; k < n; k++) {
        m[wrt[k]] = 1;
        jac_part *p = &c->parts[k];
        *p = (jac_part){NULL, f->n_in, c->outs[k].xt};
        p->batched = jac_vmap(jx_jvp(f, m), f->n_in, f->n_out, jx_type_size(&p->basis_t));
        m[wrt[k]] = 0;
        c->outs[k].part = k;
        c->outs[k].res = f->n_out + out;
        c->n_parts = k + 1;
        if (!p->batched) break;
    }
    free(m);
    return c->n_parts == n && c->parts[n - 1].batched ? 0 : -1;
}

/* The jacobians of output `out` of f with respect to inputs wrt[0..n) (n == 0: input
 * 0), by reverse (fwd = 0) or forward mode: one output per entry, Y + X_k. */
static jx_fn *jac_build(const jx_fn *f, int out, int n, const int *wrt, int fwd,
                        const char *what) {
    static const int first[1] = {0};
    if (n <= 0) n = 1, wrt = first;
    if (!wrt) return util_err("%s: NULL wrt list", what), NULL;
    jac_ctx c = {f ? f->n_in : 0, fwd, 0, n, calloc((size_t)n, sizeof *c.parts),
                 calloc((size_t)n, sizeof *c.outs), {0}};
    jx_fn *g = NULL;
    if (!c.parts || !c.outs) {
        util_err("%s: out of memory", what);
    } else if (jac_check(f, out, n, wrt, &c, what) == 0 &&
               (fwd ? jac_fwd_parts : jac_rev_parts)(f, out, n, wrt, &c) == 0) {
        jx_type *in_t = malloc((size_t)(f->n_in + 1) * sizeof *in_t);
        for (int i = 0; in_t && i < f->n_in; i++) in_t[i] = f->nodes[i].type;
        jx_fn *raw = in_t ? jx_trace(jac_body, f->n_in, in_t, n, &c) : NULL;
        if (raw) g = jx_simplify(raw);
        jx_fn_free(raw);
        free(in_t);
    }
    for (int p = 0; c.parts && p < c.n_parts; p++) jx_fn_free(c.parts[p].batched);
    free(c.parts);
    free(c.outs);
    return g;
}

/* See jx.h. */
jx_fn *jx_jacrev(const jx_fn *f, int n_wrt, const int *wrt) {
    return jac_build(f, 0, n_wrt, wrt, 0, "jacrev");
}

/* See jx.h. */
jx_fn *jx_jacfwd(const jx_fn *f, int n_wrt, const int *wrt) {
    return jac_build(f, 0, n_wrt, wrt, 1, "jacfwd");
}

/* Traced body of the hessian: the n row functions called on the inputs, outputs in order. */
static void jac_rows_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_fn *const *rows = user;
    (void)t;
    for (int i = 0; rows[i]; i++) {
        if (jx_call_at((jx_loc){"hessian", 0}, rows[i], in, out) < 0) return;
        out += jx_fn_n_out(rows[i]);
    }
}

/* See jx.h: row i of the Hessian is jacfwd of jacrev's output i. */
jx_fn *jx_hessian(const jx_fn *f, int n_wrt, const int *wrt) {
    static const int first[1] = {0};
    if (n_wrt <= 0) n_wrt = 1, wrt = first;
    if (f && f->n_out > 0 && jx_type_size(&f->nodes[f->outs[0]].type) != 1)
        return util_err("hessian: output 0 must be a scalar"), NULL;
    jx_fn *g = jx_jacrev(f, n_wrt, wrt), *h = NULL;
    jx_fn **rows = g ? calloc((size_t)n_wrt + 1, sizeof *rows) : NULL;
    int ok = rows != NULL;
    for (int i = 0; ok && i < n_wrt; i++) ok = (rows[i] = jac_build(g, i, n_wrt, wrt, 1,
                                                                    "hessian")) != NULL;
    if (ok) {
        jx_type *in_t = malloc((size_t)(f->n_in + 1) * sizeof *in_t);
        for (int i = 0; in_t && i < f->n_in; i++) in_t[i] = f->nodes[i].type;
        if (in_t) h = jx_trace(jac_rows_body, f->n_in, in_t, n_wrt * n_wrt, rows);
        free(in_t);
    } else if (g && !rows) {
        util_err("hessian: out of memory");
    }
    for (int i = 0; rows && i < n_wrt; i++) jx_fn_free(rows[i]);
    free(rows);
    jx_fn_free(g);
    return h;
}
