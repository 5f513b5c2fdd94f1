/* The differential fuzzer of the transformations, part 3: the checks.
 *
 * On the function under test F (the last stage), with the case's inputs:
 *   jit_vs_interp    jx_jit + jx_exe_run against jx_interp. Tolerance per element: 8
 *                    times the largest difference that rounding noise of the size the two
 *                    paths may differ by (a few ulps after each transcendental, n eps
 *                    sum|x| after each sum of n terms, GEMM and conv_patches_t, 2 eps after
 *                    each op computed from those) makes when interpreted (ft_noisy, four
 *                    samples), plus 8 times the interpreter's own error (against F in
 *                    f64), plus 1e-4 |y| + 1e-5 max|y|
 *                    (f32) / 1e-10 |y| + 1e-11 max|y| (f64). Elements where the noise
 *                    turns a finite result into inf/NaN or back are not compared;
 *   simplify         jx_interp(jx_simplify(F)) equals jx_interp(F) (-0 == +0);
 *   text_round_trip  jx_fn_parse(jx_fn_print(F)) prints the same text and gives the
 *                    same bits.
 * For every stage k (transformation T applied to h, the previous stage), on fresh inputs:
 *   vmap_vs_loop     vmap: the batched function on stacked samples equals h on each
 *                    sample (tight tolerance);
 *   jvp_vjp_primal   jvp(h) and vjp(h) give h's outputs as their primal outputs;
 *   dot_product      <ct, jvp(h)(x, t)> == <vjp(h)(x, ct), t> for random t, ct (skipped
 *                    where any reverse mode's rounding may move the right side by 10%:
 *                    a cotangent of 1e32 and one of 1 summed at a node);
 *   finite_diff      jvp(h)(x, t) against central differences of h along t at two step
 *                    sizes (derivatives where the two disagree, or where forward and
 *                    backward differences disagree, i.e. h is not smooth there, are
 *                    skipped and counted);
 *   grad_consistency grad, value_and_grad and vjp with a wrt subset against the full vjp;
 *                    jacfwd/jacrev contracted with t against jvp.
 * The derivative checks run on h retyped to f64 when it can be (else in h's own
 * precision, without finite differences). */
#ifndef JX_FUZZ_TXCHECK_H
#define JX_FUZZ_TXCHECK_H

#include "fuzz_txcmp.h"

/* ---- the function under test --------------------------------------------------------- */

/* Marks in dep[j] the outputs of F computed from an approximate f32 op (ft_approx_op):
 * an f64 output converted from such a value may differ by an f32 ulp, and the noisy copies
 * of F, rounding in f32 too, may not show it. */
static void ft_f32_approx_outputs(const jx_fn *F, unsigned char *dep) {
    unsigned char *d = calloc((size_t)F->n_nodes + 1, 1);
    for (int i = F->n_in; d && i < F->n_nodes; i++) {
        const jx_node *nd = &F->nodes[i];
        d[i] = nd->type.dtype == JX_F32 && ft_approx_op(nd->op);
        for (int k = 0; k < nd->at.n_fns; k++) d[i] |= ft_fn_has_approx_dt(nd->at.fns[k], 1);
        for (int k = 0; k < nd->nin; k++) d[i] |= d[nd->in[k]];
    }
    for (int j = 0; j < F->n_out; j++) dep[j] = d && d[F->outs[j]];
    free(d);
}

/* Noisy copies of F per jit check: a cancelling difference may come out exactly 0 in
 * one copy (as in the interpreter) but not in the JIT; with 4 copies the chance that all
 * hide it is small. */
#define FT_NOISE_SAMPLES 4

/* Adds to slack[j] 8 |want - F's f64 form on in[]| per f32 element (and f64 elements of
 * mixed functions): the interpreter's own rounding error. An element whose error is half
 * its size or more holds no correct digit (a third derivative that is 0 but comes out
 * 1e-6 in f32): the JIT's value is noise of its own, and the element is not compared
 * (its slack becomes infinite, counted as unknown). Elements where either is not finite
 * are left alone. */
static void ft_jit_slack64(const jx_fn *F, jx_array **in, jx_array **want, double **slack) {
    jx_fn *f64 = ft_retype(F, "f32", "f64");
    jx_array *cv[FT_MAX_ARGS], *y[FT_MAX_ARGS] = {0};
    if (!f64) return;
    ft_inputs_for(f64, F->n_in, in, cv);
    if (ft_interp(f64, cv, y) == 0)
        for (int j = 0; j < F->n_out; j++)
            for (int64_t e = 0; slack[j] && e < jx_array_size(want[j]); e++) {
                double w = jx_array_get(want[j], e), d = fabs(w - jx_array_get(y[j], e));
                if (isfinite(d)) slack[j][e] += d > 0 && d >= 0.5 * fabs(w) ? INFINITY : 8 * d;
            }
    ft_free_all(F->n_in, cv);
    ft_free_all(F->n_out, y);
    jx_fn_free(f64);
}

/* The error estimate of want[] (F's outputs on in[]): 8 times the largest difference
 * FT_NOISE_SAMPLES noisy copies of F (ft_noisy) make, per element, plus 8 f32 ulps of
 * f64 elements computed from approximate f32 values, plus ft_jit_slack64's term, into
 * slack[] (malloc'd; NULL entries for non-float outputs). 0 if F could not be rebuilt
 * with noise. */
static int ft_jit_slack(ft_ctx *x, const jx_fn *F, jx_array **in, jx_array **want, double **slack) {
    unsigned char dep[FT_MAX_ARGS];
    ft_f32_approx_outputs(F, dep);
    for (int rep = 0; rep < FT_NOISE_SAMPLES; rep++) {
        jx_fn *N = ft_noisy(F, x->c->g, FT_NOISE_DOWNSTREAM);
        jx_array *yn[FT_MAX_ARGS];
        if (!N || ft_interp(N, in, yn) < 0) {
            jx_fn_free(N);
            return 0;
        }
        for (int j = 0; j < F->n_out; j++) {
            double *sj = fz_isf(jx_array_dtype(want[j])) ? ft_slack(want[j], yn[j], 8) : NULL;
            for (int64_t e = 0; sj && rep && e < jx_array_size(want[j]); e++)
                if (!(sj[e] <= slack[j][e])) slack[j][e] = sj[e];
            if (!rep) slack[j] = sj;
            else free(sj);
        }
        ft_free_all(F->n_out, yn);
        jx_fn_free(N);
    }
    for (int j = 0; j < F->n_out; j++)
        for (int64_t e = 0; dep[j] && jx_array_dtype(want[j]) == JX_F64 && e < jx_array_size(want[j]); e++)
            slack[j][e] += 8 * 0x1p-24 * fabs(jx_array_get(want[j], e));
    ft_jit_slack64(F, in, want, slack);
    return 1;
}

/* Compares got (F's outputs from the JIT) with want (the interpreter's, on in[]) under
 * ft_jit_slack's estimate plus ft_tol_for(FT_LOOSE); records a failure of jit_vs_interp. */
static void ft_jit_compare(ft_ctx *x, const jx_fn *F, jx_array **in, jx_array **want, jx_array **got) {
    double *slack[FT_MAX_ARGS] = {0};
    if (!ft_jit_slack(x, F, in, want, slack))
        ft_fail(x, FTC_JIT, "F could not be rebuilt with rounding noise: %s", jx_error());
    else
        ft_same(x, FTC_JIT, F->n_out, got, want, FT_LOOSE, slack, "jit vs interp");
    for (int j = 0; j < F->n_out; j++) free(slack[j]);
}

/* Runs e on copies of in[] (donated inputs may be overwritten), into new output arrays
 * or, with prealloc, into arrays of the output types made beforehand. */
static int ft_run_exe(jx_exe *e, const jx_fn *F, jx_array **in, int prealloc, jx_array **out) {
    jx_array *cp[FT_MAX_ARGS];
    for (int i = 0; i < F->n_in; i++) cp[i] = jx_array_copy(in[i]);
    for (int j = 0; j < F->n_out; j++) {
        jx_type t = ft_out_type(F, j);
        out[j] = prealloc ? jx_array_new_type(&t) : NULL;
    }
    int rc = jx_exe_run(e, cp, out);
    ft_free_all(F->n_in, cp);
    return rc;
}

/* jit vs interp of F on in[] (want: interp's outputs), with the program's jit options
 * (every input donated now and then, 1 or 2 threads, preallocated outputs); a second
 * run (preallocated or not, the other way) must repeat the first bit for bit. */
static void ft_check_jit(ft_ctx *x, const jx_fn *F, jx_array **in, jx_array **want) {
    jx_array *got[FT_MAX_ARGS] = {0}, *again[FT_MAX_ARGS] = {0};
    unsigned char donate[FT_MAX_ARGS];
    memset(donate, 1, sizeof donate);
    const fz_prog *p = &x->c->prog;
    x->st->run[FTC_JIT]++;
    jx_jit_opts o = {p->donate ? donate : NULL, p->threads, 1};
    jx_exe *e = jx_jit(F, &o);
    if (!e) ft_fail(x, FTC_JIT, "jx_jit failed: %s", jx_error());
    else if (ft_run_exe(e, F, in, p->prealloc, got) < 0) ft_fail(x, FTC_JIT, "jx_exe_run failed: %s", jx_error());
    else if (ft_jit_compare(x, F, in, want, got), x->nfail == 0) {
        if (ft_run_exe(e, F, in, !p->prealloc, again) < 0)
            ft_fail(x, FTC_JIT, "second jx_exe_run failed: %s", jx_error());
        else ft_same(x, FTC_JIT, F->n_out, again, got, FT_BITS, NULL, "jit run 2 vs run 1");
    }
    jx_exe_free(e);
    ft_free_all(F->n_out, got);
    ft_free_all(F->n_out, again);
}

/* interp(simplify(F)) vs interp(F). */
static void ft_check_simplify(ft_ctx *x, const jx_fn *F, jx_array **in, jx_array **want) {
    jx_array *got[FT_MAX_ARGS];
    jx_fn *s = jx_simplify(F);
    x->st->run[FTC_SIMPLIFY]++;
    if (!s) ft_fail(x, FTC_SIMPLIFY, "jx_simplify failed: %s", jx_error());
    else if (jx_fn_verify(s) < 0) ft_fail(x, FTC_SIMPLIFY, "simplified function does not verify: %s", jx_error());
    else if (jx_fn_n_eqns(s) > jx_fn_n_eqns(F))
        ft_fail(x, FTC_SIMPLIFY, "simplify grew the function from %d to %d equations", jx_fn_n_eqns(F), jx_fn_n_eqns(s));
    else if (ft_interp(s, in, got) < 0) ft_fail(x, FTC_SIMPLIFY, "interp of the simplified function failed: %s", jx_error());
    else {
        ft_same(x, FTC_SIMPLIFY, F->n_out, got, want, FT_EXACT, NULL, "simplified vs original");
        ft_free_all(F->n_out, got);
    }
    jx_fn_free(s);
}

/* print/parse round trip of F. */
static void ft_check_text(ft_ctx *x, const jx_fn *F, jx_array **in, jx_array **want) {
    jx_array *got[FT_MAX_ARGS];
    char *text = jx_fn_to_string(F), *text2 = NULL;
    jx_fn *q = text ? jx_fn_parse(text) : NULL;
    x->st->run[FTC_TEXT]++;
    if (!q) ft_fail(x, FTC_TEXT, "jx_fn_parse of the printed text failed: %s", jx_error());
    else if (!(text2 = jx_fn_to_string(q)) || strcmp(text, text2) != 0)
        ft_fail(x, FTC_TEXT, "printing the parsed function gives another text");
    else if (ft_interp(q, in, got) < 0) ft_fail(x, FTC_TEXT, "interp of the parsed function failed: %s", jx_error());
    else {
        ft_same(x, FTC_TEXT, F->n_out, got, want, FT_BITS, NULL, "parsed vs original");
        ft_free_all(F->n_out, got);
    }
    free(text);
    free(text2);
    jx_fn_free(q);
}

/* The checks of the function under test (jit: also compile it). */
static void ft_check_final(ft_ctx *x, int jit) {
    ft_case *c = x->c;
    x->stage = c->n - 1;
    const jx_fn *F = c->st[c->n - 1].fn;
    jx_array *in[FT_MAX_ARGS], *want[FT_MAX_ARGS];
    ft_inputs(c, c->n - 1, 0, in);
    if (ft_interp(F, in, want) < 0) {
        ft_fail(x, FTC_BUILD, "jx_interp of the transformed function failed: %s", jx_error());
    } else {
        if (jit) ft_check_jit(x, F, in, want);
        ft_check_simplify(x, F, in, want);
        ft_check_text(x, F, in, want);
        ft_free_all(F->n_out, want);
    }
    ft_free_all(F->n_in, in);
}

/* ---- vmap ------------------------------------------------------------------------------ */

/* vmap stage k against a loop over samples of the previous stage. */
static void ft_check_vmap(ft_ctx *x, int k) {
    ft_case *c = x->c;
    const ft_stage *s = &c->st[k];
    const jx_fn *h = c->st[k - 1].fn;
    if (s->bsize == 0) {
        x->st->skipped[FTC_VMAP]++;
        return;
    }
    jx_array *set[4][FT_MAX_ARGS], *in[FT_MAX_ARGS], *Y[FT_MAX_ARGS], *y[FT_MAX_ARGS];
    for (int64_t q = 0; q < s->bsize; q++) ft_inputs(c, k - 1, 1, set[q]);
    ft_vmap_inputs(c, k, set, in);
    x->st->run[FTC_VMAP]++;
    if (ft_interp(s->fn, in, Y) < 0) {
        ft_fail(x, FTC_VMAP, "interp of the vmapped function failed: %s", jx_error());
    } else {
        for (int64_t q = 0; q < s->bsize; q++) {
            jx_array *arg[FT_MAX_ARGS], *col[FT_MAX_ARGS];
            for (int i = 0; i < h->n_in; i++) arg[i] = set[s->in_axes[i] == JX_NONE ? 0 : q][i];
            if (ft_interp(h, arg, y) < 0) {
                ft_fail(x, FTC_VMAP, "interp of the unbatched function failed: %s", jx_error());
                break;
            }
            for (int j = 0; j < h->n_out; j++) { /* out_axes none: the unbatched output itself */
                int r = ft_out_type(h, j).rank + 1, ax = s->default_out_axes ? 0 : s->out_axes[j];
                col[j] = ax == JX_NONE ? jx_array_retain(Y[j]) : ft_unstack(Y[j], ft_axis(ax, r), q);
            }
            char label[64];
            snprintf(label, sizeof label, "vmapped, example %lld of %lld vs unbatched", (long long)q,
                     (long long)s->bsize);
            int ok = ft_same(x, FTC_VMAP, h->n_out, col, y, FT_TIGHT, NULL, label);
            ft_free_all(h->n_out, col);
            ft_free_all(h->n_out, y);
            if (!ok) break;
        }
        ft_free_all(s->fn->n_out, Y);
    }
    ft_free_all(h->n_in, in);
    for (int64_t q = 0; q < s->bsize; q++) ft_free_all(h->n_in, set[q]);
}

#include "fuzz_txad.h"

#endif
