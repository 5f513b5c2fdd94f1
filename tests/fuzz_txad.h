/* The differential fuzzer of the transformations, part 4: the derivative checks of a
 * stage (see tests/fuzz_txcheck.h for what they compare). */
#ifndef JX_FUZZ_TXAD_H
#define JX_FUZZ_TXAD_H

#include "fuzz_txcmp.h"

/* What the derivative checks of one stage share: h (in the precision checked), its jvp
 * and full vjp, a point x, directions t (per input) and ct (per output), and the values
 * P = h(x), PJ = jvp(h)(x, t), PV = vjp(h)(x, ct). */
typedef struct ft_ad {
    const jx_fn *h;
    jx_fn *J, *V;
    int f64, n_in, n_out;
    jx_array *x[FT_MAX_ARGS], *t[FT_MAX_ARGS], *ct[FT_MAX_ARGS];
    jx_array *P[FT_MAX_ARGS], *PJ[2 * FT_MAX_ARGS], *PV[2 * FT_MAX_ARGS];
    int ctpos[FT_MAX_ARGS]; /* PV index of input i's cotangent, -1 if not a float input */
} ft_ad;

/* Interprets f on the concatenation of a[0..na-1] and b[0..nb-1]. */
static int ft_interp2(const jx_fn *f, jx_array **a, int na, jx_array **b, int nb, jx_array **out) {
    jx_array *in[2 * FT_MAX_ARGS];
    for (int i = 0; i < na; i++) in[i] = a[i];
    for (int i = 0; i < nb; i++) in[na + i] = b[i];
    return ft_interp(f, in, out);
}

/* sum_e a[e] * b[e] over two float arrays of one size; *mag += sum |a b|. */
static double ft_dot(const jx_array *a, const jx_array *b, double *mag) {
    double s = 0;
    for (int64_t e = 0, n = jx_array_size(a); e < n; e++) {
        double p = jx_array_get(a, e) * jx_array_get(b, e);
        s += p, *mag += fabs(p);
    }
    return s;
}

/* h(x0 + e t) into out. */
static int ft_eval_shifted(ft_ad *a, jx_array **x0, double e, jx_array **out) {
    jx_array *xs[FT_MAX_ARGS];
    for (int i = 0; i < a->n_in; i++) {
        xs[i] = jx_array_copy(x0[i]);
        for (int64_t q = 0; fz_isf(jx_array_dtype(xs[i])) && q < jx_array_size(xs[i]); q++)
            jx_array_set(xs[i], q, jx_array_get(x0[i], q) + e * jx_array_get(a->t[i], q));
    }
    int rc = ft_interp(a->h, xs, out);
    ft_free_all(a->n_in, xs);
    return rc;
}

/* The two sides of the dot-product test from jvp's outputs PJ and vjp's PV: <ct, J t>
 * and <J^T ct, t> over the float outputs and inputs; *mag gets the sum of |terms|. */
static void ft_dot_sides(const ft_ad *a, jx_array **PJ, jx_array **PV, double *lhs, double *rhs,
                         double *mag) {
    *lhs = *rhs = *mag = 0;
    for (int j = 0; j < a->n_out; j++)
        if (fz_isf(jx_array_dtype(a->P[j]))) *lhs += ft_dot(a->ct[j], PJ[a->n_out + j], mag);
    for (int i = 0; i < a->n_in; i++)
        if (a->ctpos[i] >= 0) *rhs += ft_dot(PV[a->ctpos[i]], a->t[i], mag);
}

/* How far rounding moves the two sides: |change| of each when jvp and vjp are computed
 * with noise after every op (ft_noisy), into *nl and *nr; infinity if that fails or is
 * not finite. */
static void ft_dot_noise(ft_ctx *x, const ft_ad *a, double lhs, double rhs, double *nl, double *nr) {
    jx_fn *NJ = ft_noisy(a->J, x->c->g, FT_NOISE_ALL), *NV = ft_noisy(a->V, x->c->g, FT_NOISE_ALL);
    jx_array *PJ[2 * FT_MAX_ARGS] = {0}, *PV[2 * FT_MAX_ARGS] = {0};
    double l = 0, r = 0, m = 0;
    *nl = *nr = INFINITY;
    if (NJ && NV && ft_interp2(NJ, (jx_array **)a->x, a->n_in, (jx_array **)a->t, a->n_in, PJ) == 0 &&
        ft_interp2(NV, (jx_array **)a->x, a->n_in, (jx_array **)a->ct, a->n_out, PV) == 0) {
        ft_dot_sides(a, PJ, PV, &l, &r, &m);
        *nl = isfinite(l) ? fabs(l - lhs) : INFINITY, *nr = isfinite(r) ? fabs(r - rhs) : INFINITY;
    }
    ft_free_all(2 * a->n_out, PJ);
    ft_free_all(a->n_out + a->n_in, PV);
    jx_fn_free(NJ);
    jx_fn_free(NV);
}

/* How far reverse mode's own rounding may move <vjp ct, t>, whatever its rules: each
 * node's cotangent is a sum rounded to 2 eps of its terms, and where these are huge
 * beside the result (a cotangent of 1e32 from exp(74) meets one of 1 at a node), every
 * vjp loses the small one. To first order the move is the sum over nodes v of
 * <ct_v, d_v t_v> for errors d_v of 2 eps: here the change of <ct, jvp t> when h's
 * tangents carry such errors at every node (ft_tangent_noisy; the larger of two samples
 * drawn from a copy of the case's generator, against h's jvp rebuilt: a->J may be the
 * one under test). Forward mode computes it, not the vjp, so a vjp rule that cancels
 * huge sums of its own making (pad's old rule) is not excused. 0 if it cannot be
 * computed or is not finite. */
static double ft_dot_reverse_noise(ft_ctx *x, const ft_ad *a) {
    fz_gen g = *x->c->g;
    double l[3], worst = 0;
    for (int rep = 0; rep < 3; rep++) { /* rep 0: without noise */
        jx_fn *N = rep ? ft_tangent_noisy(a->h, &g) : NULL, *NJ = jx_jvp(rep ? N : a->h, NULL);
        jx_array *PJ[2 * FT_MAX_ARGS] = {0};
        double sum = 0, m = 0;
        int ok = (N || !rep) && NJ &&
                 ft_interp2(NJ, (jx_array **)a->x, a->n_in, (jx_array **)a->t, a->n_in, PJ) == 0;
        for (int j = 0; ok && j < a->n_out; j++)
            if (fz_isf(jx_array_dtype(a->P[j]))) sum += ft_dot(a->ct[j], PJ[a->n_out + j], &m);
        l[rep] = ok ? sum : NAN;
        if (rep && isfinite(l[rep] - l[0]) && fabs(l[rep] - l[0]) > worst) worst = fabs(l[rep] - l[0]);
        ft_free_all(2 * a->n_out, PJ);
        jx_fn_free(NJ);
        jx_fn_free(N);
    }
    jx_clear_error();
    return worst;
}

/* Primal outputs of jvp and vjp against h's, and the dot-product test. Tolerance: 1e-9
 * (f64; 1e-3 f32) of the sum of |terms|, Jacobian entries below 1e-13 as noise, and 8
 * times how far rounding noise moves the two sides (reverse mode may add and cancel
 * cotangents far larger than the result: ct of h - h, 5e-4 of the result seen), but at
 * most 1e-2 of the larger side: a vjp that rounding moves by more than that is reported
 * (pad's vjp took the padding value's cotangent as a difference of two huge totals),
 * plus 8 times what any reverse mode's rounding may move it by (ft_dot_reverse_noise).
 * When noise moves the jvp's side by a tenth of itself or more, it holds no reliable
 * digit (a derivative that is 0 but comes out 1e-12) and the test is skipped; so it is
 * when reverse mode's rounding may move the vjp's side by a tenth of the jvp's (seed
 * 569849: a cotangent of exp(74) swamped one of 1 at a node both reach). */
static void ft_check_dot(ft_ctx *x, ft_ad *a) {
    x->st->run[FTC_PRIMAL]++;
    if (ft_same(x, FTC_PRIMAL, a->n_out, a->PJ, a->P, FT_TIGHT, NULL, "primal outputs of jvp(h) vs h"))
        ft_same(x, FTC_PRIMAL, a->n_out, a->PV, a->P, FT_TIGHT, NULL, "primal outputs of vjp(h) vs h");
    double lhs, rhs, mag;
    ft_dot_sides(a, a->PJ, a->PV, &lhs, &rhs, &mag);
    if (!isfinite(lhs) || !isfinite(rhs) || !isfinite(mag) || mag == 0) {
        x->st->skipped[FTC_DOT]++;
        x->st->dot_zero += mag == 0;
        return;
    }
    double nct = 0, nt = 0, nl, nr;
    ft_dot_noise(x, a, lhs, rhs, &nl, &nr);
    if (!(nl < 0.1 * fabs(lhs))) {
        x->st->skipped[FTC_DOT]++;
        return;
    }
    double noise = nl + nr;
    for (int j = 0; j < a->n_out; j++)
        if (fz_isf(jx_array_dtype(a->P[j]))) nct += ft_dot(a->ct[j], a->ct[j], &(double){0});
    for (int i = 0; i < a->n_in; i++)
        if (a->ctpos[i] >= 0) nt += ft_dot(a->t[i], a->t[i], &(double){0});
    double rev = 8 * ft_dot_reverse_noise(x, a);
    if (rev >= 0.1 * fabs(lhs)) {
        x->st->skipped[FTC_DOT]++;
        x->st->dot_reverse++;
        return;
    }
    noise = fmin(8 * noise, 1e-2 * fmax(fabs(lhs), fabs(rhs))) + rev;
    double allowed = (a->f64 ? 1e-9 : 1e-3) * mag + (a->f64 ? 1e-13 : 1e-5) * sqrt(nct * nt) + noise;
    if (!isfinite(allowed)) {
        x->st->skipped[FTC_DOT]++;
        return;
    }
    x->st->run[FTC_DOT]++;
    x->st->elems[FTC_DOT]++;
    if (fabs(lhs - rhs) > allowed)
        ft_fail(x, FTC_DOT, "<ct, jvp t> = %.17g but <vjp ct, t> = %.17g (allowed %.3g, sum of |terms| %.3g)",
                lhs, rhs, allowed, mag);
    else if (fabs(lhs - rhs) / allowed > x->st->worst[FTC_DOT]) x->st->worst[FTC_DOT] = fabs(lhs - rhs) / allowed;
}

/* 1 if finite differences cannot check h's derivative: h holds an op whose derivative
 * is zero by decree though its value moves with its operand (stop_gradient, a bitcast
 * back to float), or a staircase or sawtooth of floats (floor, rem, conversion to an
 * integer): of a large or fast-moving value its steps are far finer than any step size,
 * and differences at every step size see the slope of the staircase's envelope, not
 * the zero (floor) or unit (rem) slope of its treads. */
static int ft_has_cut(const jx_fn *h) {
    for (int i = h->n_in; i < h->n_nodes; i++) {
        const jx_node *nd = &h->nodes[i];
        int fin = nd->nin > 0 && fz_isf(h->nodes[nd->in[0]].type.dtype);
        if (nd->op == JX_OP_STOP_GRADIENT || nd->op == JX_OP_BITCAST ||
            (fin && (nd->op == JX_OP_REM || nd->op == JX_OP_FLOOR ||
                     (nd->op == JX_OP_CONVERT && !fz_isf(nd->type.dtype)))))
            return 1;
        for (int k = 0; k < nd->at.n_fns; k++) /* a branch, a loop body */
            if (ft_has_cut(nd->at.fns[k])) return 1;
    }
    return 0;
}

/* The step sizes of the finite differences (relative: directions scale with |x|): two
 * large ones compared with the jvp, and smaller ones that must agree with them. */
#define FT_FD_NSTEP 5
static const double ft_fd_step[FT_FD_NSTEP] = {1e-5, 5e-6, 1e-6, 1e-7, 1e-8};

/* One output element's differences: central ones d[k] at ft_fd_step[k], one-sided ones
 * at step 1 (fwd, bwd), the value P of h and its rounding noise (what rounding errors
 * move it by: a difference quotient cannot resolve less than noise / step), the jvp's T
 * and its rounding noise tnoise (the derivative of a difference that cancels, e.g.
 * x / c / x - 1 / c, is rounding error of the size of its terms). */
typedef struct ft_fd {
    double d[FT_FD_NSTEP], fwd, bwd, P, noise, T, tnoise;
} ft_fd;

/* Compares f.T with the differences. Each step k has its own error allowance: its
 * truncation error (16 |d[0] - d[1]| scaled by (step k / step 1)^2), its rounding error
 * (8 noise / step k), the jvp's rounding (8 tnoise) and 1e-6 relative. Returns 1 if T
 * agrees with the difference at some step, 0 if it agrees with none while the steps
 * agree with each other (then h is smooth there and the jvp is wrong), -1 if the element
 * is skipped: not finite, or the steps or the two sides disagree (a kink between the
 * steps, or a sawtooth finer than them). *allowed gets the tolerance at step 1 (or at
 * the step that agreed). */
static int ft_fd_elem(const ft_fd *f, double *allowed) {
    int finite = isfinite(f->P) && isfinite(f->T) && isfinite(f->fwd) && isfinite(f->bwd) &&
                 isfinite(f->noise) && isfinite(f->tnoise);
    for (int k = 0; k < FT_FD_NSTEP; k++) finite &= isfinite(f->d[k]);
    if (!finite) return -1;
    double d1 = f->d[0], d2 = f->d[1], sc = fabs(d1) + fabs(d2) + 1e-8 * (1 + fabs(f->P));
    if (fabs(d1 - d2) > 1e-3 * sc || fabs(f->fwd - f->bwd) > 1e-2 * sc) return -1;
    double err[FT_FD_NSTEP];
    for (int k = 0; k < FT_FD_NSTEP; k++) {
        double r = ft_fd_step[k] / ft_fd_step[1];
        err[k] = 16 * fabs(d1 - d2) * r * r + 1e-6 * (sc + fabs(f->T)) + 1e-9 * (1 + fabs(f->P)) +
                 8 * f->noise / ft_fd_step[k] + 8 * f->tnoise;
    }
    *allowed = err[1];
    for (int k = 1; k < FT_FD_NSTEP; k++)
        if (fabs(f->T - f->d[k]) <= err[k]) {
            *allowed = err[k] * fabs(f->T - d2) / fmax(fabs(f->T - f->d[k]), 1e-300); /* for worst */
            return 1;
        }
    for (int k = 2; k < FT_FD_NSTEP; k++)
        if (fabs(f->d[k] - d2) > err[k] + err[1]) return -1;
    return 0;
}

/* The values FD needs at a point xg: h and jvp(h) there, their noisy copies, and h at
 * xg +- step * t for each step. */
typedef struct ft_fd_vals {
    jx_array *P[FT_MAX_ARGS], *PJ[2 * FT_MAX_ARGS], *PN[FT_MAX_ARGS], *PJN[2 * FT_MAX_ARGS];
    jx_array *plus[FT_FD_NSTEP][FT_MAX_ARGS], *minus[FT_FD_NSTEP][FT_MAX_ARGS];
} ft_fd_vals;

/* Fills v at xg; 0 if an interpretation failed. */
static int ft_fd_eval(ft_ctx *x, ft_ad *a, jx_array **xg, ft_fd_vals *v) {
    jx_fn *N = ft_noisy(a->h, x->c->g, FT_NOISE_ALL), *NJ = ft_noisy(a->J, x->c->g, FT_NOISE_ALL);
    int ok = N && NJ && ft_interp(a->h, xg, v->P) == 0 &&
             ft_interp2(a->J, xg, a->n_in, a->t, a->n_in, v->PJ) == 0 && ft_interp(N, xg, v->PN) == 0 &&
             ft_interp2(NJ, xg, a->n_in, a->t, a->n_in, v->PJN) == 0;
    for (int k = 0; ok && k < FT_FD_NSTEP; k++)
        ok = ft_eval_shifted(a, xg, ft_fd_step[k], v->plus[k]) == 0 &&
             ft_eval_shifted(a, xg, -ft_fd_step[k], v->minus[k]) == 0;
    jx_fn_free(N);
    jx_fn_free(NJ);
    return ok;
}

/* Frees what ft_fd_eval made. */
static void ft_fd_vals_free(const ft_ad *a, ft_fd_vals *v) {
    ft_free_all(a->n_out, v->P);
    ft_free_all(2 * a->n_out, v->PJ);
    ft_free_all(a->n_out, v->PN);
    ft_free_all(2 * a->n_out, v->PJN);
    for (int k = 0; k < FT_FD_NSTEP; k++) {
        ft_free_all(a->n_out, v->plus[k]);
        ft_free_all(a->n_out, v->minus[k]);
    }
}

/* jvp(h)(x', t) against central differences of h along t at x' (f64 only), where x' is x
 * moved by a random relative 1e-3: ties (max(b, b), min(x, max(x)), relu(0)) make the
 * chain rule pick one of several valid derivatives where the composite is smooth, so
 * the check looks at a generic point. */
static void ft_check_fd(ft_ctx *x, ft_ad *a) {
    if (ft_has_cut(a->h)) {
        x->st->skipped[FTC_FD]++;
        return;
    }
    jx_array *xg[FT_MAX_ARGS];
    ft_fd_vals v;
    memset(&v, 0, sizeof v);
    for (int i = 0; i < a->n_in; i++) {
        xg[i] = jx_array_copy(a->x[i]);
        for (int64_t q = 0; fz_isf(jx_array_dtype(xg[i])) && q < jx_array_size(xg[i]); q++) {
            double e = jx_array_get(xg[i], q);
            jx_array_set(xg[i], q, e + 1e-3 * (fabs(e) + 1e-2) * (2 * fz_unif(x->c->g) - 1));
        }
    }
    int ok = ft_fd_eval(x, a, xg, &v);
    x->st->run[FTC_FD] += ok;
    x->st->skipped[FTC_FD] += !ok;
    for (int j = 0; ok && j < a->n_out; j++) {
        if (!fz_isf(jx_array_dtype(v.P[j]))) continue;
        for (int64_t q = 0, n = jx_array_size(v.P[j]); q < n && ok; q++) {
            ft_fd f;
            double allowed = 0, e2 = ft_fd_step[1];
            f.P = jx_array_get(v.P[j], q), f.T = jx_array_get(v.PJ[a->n_out + j], q);
            f.noise = fabs(jx_array_get(v.PN[j], q) - f.P);
            f.tnoise = fabs(jx_array_get(v.PJN[a->n_out + j], q) - f.T);
            for (int k = 0; k < FT_FD_NSTEP; k++)
                f.d[k] = (jx_array_get(v.plus[k][j], q) - jx_array_get(v.minus[k][j], q)) / (2 * ft_fd_step[k]);
            f.fwd = (jx_array_get(v.plus[1][j], q) - f.P) / e2, f.bwd = (f.P - jx_array_get(v.minus[1][j], q)) / e2;
            int r = ft_fd_elem(&f, &allowed);
            x->st->fd_unsmooth += r < 0;
            if (r < 0) continue;
            x->st->elems[FTC_FD]++;
            if (!r) {
                ft_fail(x, FTC_FD, "output %d element %lld: jvp gives %.17g, finite differences %.17g "
                        "(step %g: %.17g, step %g: %.17g; allowed %.3g; h = %.17g)", j, (long long)q, f.T,
                        f.d[1], ft_fd_step[0], f.d[0], ft_fd_step[FT_FD_NSTEP - 1], f.d[FT_FD_NSTEP - 1],
                        allowed, f.P);
                ok = 0;
            } else if (fabs(f.T - f.d[1]) / allowed > x->st->worst[FTC_FD]) {
                x->st->worst[FTC_FD] = fabs(f.T - f.d[1]) / allowed;
            }
        }
    }
    ft_free_all(a->n_in, xg);
    ft_fd_vals_free(a, &v);
}

/* Traced body: output 0 of the function `user`. */
static void ft_first_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_fn *h = user;
    jx_val y[FT_MAX_ARGS];
    out[0] = jx_call(h, in, y) < 0 ? jx_trace_fail(t, jx_error()) : y[0];
}

/* grad and value_and_grad against vjp of h's output 0 alone with the cotangent 1 (a full
 * vjp with zero cotangents for the other outputs may hold 0 * inf = NaN where grad has
 * none); vjp with a wrt subset against the full vjp with the same cotangents. */
static void ft_check_grad(ft_ctx *x, ft_ad *a, const ft_stage *s, const jx_fn *G) {
    jx_array *ct0[1] = {0}, *R[2 * FT_MAX_ARGS] = {0}, *got[2 * FT_MAX_ARGS] = {0}, *want[2 * FT_MAX_ARGS];
    int vjp = s->kind == FT_VJP, nw = 0, nr = a->n_out + ft_float_inputs(a->h, NULL), rpos = 0;
    jx_fn *V0 = NULL;
    if (!vjp) {
        jx_type in_t[FT_MAX_ARGS], y0 = ft_out_type(a->h, 0);
        for (int i = 0; i < a->n_in; i++) in_t[i] = a->h->nodes[i].type;
        jx_fn *h0 = jx_trace(ft_first_body, a->n_in, in_t, 1, (void *)a->h);
        V0 = h0 ? jx_vjp(h0, NULL) : NULL;
        jx_fn_free(h0);
        ct0[0] = jx_array_new_type(&y0);
        jx_array_fill(ct0[0], 1);
        nr = 1 + ft_float_inputs(a->h, NULL), rpos = 1 - a->n_out;
    }
    if (!vjp && !V0) ft_fail(x, FTC_BUILD, "vjp of output 0 of h failed: %s", jx_error());
    else if (!vjp && ft_interp2(V0, a->x, a->n_in, ct0, 1, R) < 0)
        ft_fail(x, FTC_CONSIST, "interp of vjp(h output 0) failed: %s", jx_error());
    else if (ft_interp2(G, a->x, a->n_in, a->ct, vjp ? a->n_out : 0, got) < 0)
        ft_fail(x, FTC_CONSIST, "interp of %s(h) failed: %s", ft_kind_names[s->kind], jx_error());
    else {
        jx_array **ref = vjp ? a->PV : R;
        if (s->kind != FT_GRAD)
            for (int j = 0; j < a->n_out; j++) want[nw++] = a->P[j];
        for (int i = 0; vjp && i < a->n_in; i++) /* vjp: one cotangent per input in the mask */
            if (s->mask[i]) want[nw++] = ref[a->ctpos[i] + rpos];
        for (int k = 0; !vjp && k < s->n_wrt; k++) /* grad: one gradient per wrt entry */
            want[nw++] = ref[a->ctpos[s->wrt[k]] + rpos];
        x->st->run[FTC_CONSIST]++;
        char label[96];
        snprintf(label, sizeof label, "%s(h) vs vjp(h)", ft_kind_names[s->kind]);
        if (nw != G->n_out) ft_fail(x, FTC_CONSIST, "%s: %d outputs, expected %d", label, G->n_out, nw);
        else ft_same(x, FTC_CONSIST, nw, got, want, FT_TIGHT, NULL, label);
    }
    ft_free_all(G->n_out, got);
    ft_free_all(nr, R);
    ft_free_all(1, ct0);
    jx_fn_free(V0);
}

/* jacfwd/jacrev of h wrt input w, contracted with t[w], against jvp(h)(x, t[w] only);
 * the tolerance includes 8 times how far rounding noise moves the jvp (a derivative that
 * is 0 may come out 6e-13 from cancelling terms). */
static void ft_check_jac(ft_ctx *x, ft_ad *a, const ft_stage *s, const jx_fn *G) {
    int w = s->wrt[0];
    jx_array *tw[FT_MAX_ARGS], *PJw[2 * FT_MAX_ARGS], *PJn[2 * FT_MAX_ARGS] = {0}, *Jm[1];
    for (int i = 0; i < a->n_in; i++) {
        jx_type ty = jx_array_type(a->x[i]);
        tw[i] = i == w ? jx_array_retain(a->t[i]) : jx_array_new_type(&ty);
    }
    jx_fn *NJ = ft_noisy(a->J, x->c->g, FT_NOISE_ALL); /* the jvp's rounding noise */
    if (!NJ || ft_interp2(NJ, a->x, a->n_in, tw, a->n_in, PJn) < 0) {
        x->st->skipped[FTC_CONSIST]++;
    } else if (ft_interp2(a->J, a->x, a->n_in, tw, a->n_in, PJw) < 0) {
        ft_fail(x, FTC_CONSIST, "interp of jvp(h) failed: %s", jx_error());
    } else {
        if (ft_interp(G, a->x, Jm) < 0) {
            ft_fail(x, FTC_CONSIST, "interp of %s(h) failed: %s", ft_kind_names[s->kind], jx_error());
        } else {
            const jx_array *T = PJw[a->n_out];
            int64_t no = jx_array_size(T), ni = jx_array_size(a->t[w]);
            x->st->run[FTC_CONSIST]++;
            if (jx_array_size(Jm[0]) != no * ni) {
                ft_fail(x, FTC_CONSIST, "%s: %lld elements, expected %lld x %lld",
                        ft_kind_names[s->kind], (long long)jx_array_size(Jm[0]), (long long)no, (long long)ni);
                no = 0;
            }
            for (int64_t o = 0, bad = 0; o < no && !bad; o++) {
                double sum = 0, mag = 0;
                for (int64_t i = 0; i < ni; i++) {
                    double p = jx_array_get(Jm[0], o * ni + i) * jx_array_get(a->t[w], i);
                    sum += p, mag += fabs(p);
                }
                double want = jx_array_get(T, o), nt = ft_dot(a->t[w], a->t[w], &(double){0});
                double noise = fabs(jx_array_get(PJn[a->n_out], o) - want);
                double allowed = (a->f64 ? 1e-9 : 1e-3) * (mag + fabs(want)) +
                                 (a->f64 ? 1e-13 : 1e-5) * sqrt(nt) + 8 * noise;
                if (!isfinite(sum) || !isfinite(want) || !isfinite(allowed))
                    continue; /* inf * 0 may be NaN in one only; unknown noise */
                x->st->elems[FTC_CONSIST]++;
                if ((bad = fabs(sum - want) > allowed))
                    ft_fail(x, FTC_CONSIST, "%s(h) contracted with t: element %lld is %.17g, jvp gives %.17g",
                            ft_kind_names[s->kind], (long long)o, sum, want);
            }
            ft_free_all(1, Jm);
        }
        ft_free_all(2 * a->n_out, PJw);
    }
    ft_free_all(2 * a->n_out, PJn);
    jx_fn_free(NJ);
    ft_free_all(a->n_in, tw);
}

/* Sets up a (jvp, vjp, point, directions, values) for the previous stage of k; 0 if
 * that failed (recorded as a failure of the transformation). */
static int ft_ad_init(ft_ctx *x, ft_ad *a, int k) {
    ft_case *c = x->c;
    const jx_fn *h0 = c->st[k - 1].fn;
    jx_fn *h64 = ft_retype(h0, "f32", "f64");
    if (!h64) x->st->retype_failed++;
    a->h = h64 ? h64 : h0, a->f64 = h64 != NULL, a->n_in = h0->n_in, a->n_out = h0->n_out;
    a->J = jx_jvp(a->h, NULL);
    int has_vjp = (ft_rules(a->h) & FT_R_VJP) != 0; /* else only jvp's checks (a while) */
    a->V = a->J && has_vjp ? jx_vjp(a->h, NULL) : NULL;
    if (!a->J || (has_vjp && !a->V)) {
        ft_fail(x, FTC_BUILD, "%s of stage %d failed: %s", a->J ? "vjp" : "jvp", k - 1, jx_error());
        return 0;
    }
    jx_array *raw[FT_MAX_ARGS];
    ft_inputs(c, k - 1, 1, raw);
    ft_inputs_for(a->h, a->n_in, raw, a->x);
    ft_free_all(a->n_in, raw);
    for (int i = 0, pos = a->n_out; i < a->n_in; i++) {
        jx_type ty = jx_array_type(a->x[i]);
        a->t[i] = ft_direction(c->g, &ty); /* scaled by |x| + 0.01: relative steps */
        for (int64_t q = 0; fz_isf(ty.dtype) && q < jx_array_size(a->t[i]); q++) {
            double v = fabs(jx_array_get(a->x[i], q));
            jx_array_set(a->t[i], q, jx_array_get(a->t[i], q) * ((isfinite(v) ? v : 0) + 1e-2));
        }
        a->ctpos[i] = fz_isf(ty.dtype) ? pos++ : -1;
    }
    for (int j = 0; j < a->n_out; j++) {
        jx_type ty = ft_out_type(a->h, j);
        a->ct[j] = ft_direction(c->g, &ty);
    }
    if (ft_interp(a->h, a->x, a->P) < 0 || ft_interp2(a->J, a->x, a->n_in, a->t, a->n_in, a->PJ) < 0 ||
        (a->V && ft_interp2(a->V, a->x, a->n_in, a->ct, a->n_out, a->PV) < 0)) {
        ft_fail(x, FTC_BUILD, "interp of stage %d, its jvp or its vjp failed: %s", k - 1, jx_error());
        return 0;
    }
    return 1;
}

/* Frees what ft_ad_init made. */
static void ft_ad_free(ft_ad *a, const jx_fn *h0) {
    if (a->h != h0) jx_fn_free((jx_fn *)a->h);
    jx_fn_free(a->J);
    jx_fn_free(a->V);
    ft_free_all(a->n_in, a->x);
    ft_free_all(a->n_in, a->t);
    ft_free_all(a->n_out, a->ct);
    ft_free_all(a->n_out, a->P);
    ft_free_all(2 * a->n_out, a->PJ);
    ft_free_all(a->n_out + a->n_in, a->PV);
}

/* The derivative checks of stage k (a jvp, vjp, grad, value_and_grad or jacobian). */
static void ft_check_ad(ft_ctx *x, int k) {
    ft_ad a;
    memset(&a, 0, sizeof a);
    const ft_stage *s = &x->c->st[k];
    x->stage = k;
    if (ft_ad_init(x, &a, k)) {
        if (a.V) {
            ft_check_dot(x, &a);
        } else { /* no vjp: the jvp's primal outputs only */
            x->st->run[FTC_PRIMAL]++, x->st->skipped[FTC_DOT]++;
            ft_same(x, FTC_PRIMAL, a.n_out, a.PJ, a.P, FT_TIGHT, NULL, "primal outputs of jvp(h) vs h");
        }
        if (a.f64) ft_check_fd(x, &a);
        else x->st->skipped[FTC_FD]++;
        if (s->kind != FT_JVP) {
            jx_fn *G = ft_apply(s, a.h);
            if (!G) ft_fail(x, FTC_BUILD, "%s of stage %d (f64 form) failed: %s", ft_kind_names[s->kind], k - 1, jx_error());
            else if (s->kind == FT_JACFWD || s->kind == FT_JACREV) ft_check_jac(x, &a, s, G);
            else ft_check_grad(x, &a, s, G);
            jx_fn_free(G);
        }
    }
    ft_ad_free(&a, x->c->st[k - 1].fn);
}

#endif
