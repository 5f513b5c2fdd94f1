/* The per-example gradient rows of jxbench-all: the notebook MLP's per-example loss
 * -sum(logp * onehot), its gradient with respect to every param, vmapped over a batch
 * (jx_vmap of jx_grad, params unbatched), against functorch.vmap(functorch.grad) and
 * against a loop of the jitted single-example gradient writing into the same stacked
 * layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"
#include "bench_rows.h"

/* loss1(params..., x[784], y[10]) = -sum(predict(params, x) * y). */
static void pe_loss1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val logp;
    bm_predict(t, in, &logp, user);
    out[0] = jx_neg(jx_sum_all(jx_mul(logp, in[BM_NP + 1])));
}

/* Everything of one configuration. */
typedef struct pe_ctx {
    int B;
    jx_exe *ev, *e1;                    /* vmap(grad), grad */
    jx_array *in[BM_NP + 2];            /* params, x[B,784], y[B,10] */
    jx_array *vout[BM_NP], *lout[BM_NP]; /* stacked gradients [B, ...] of each */
    jx_array **xi, **yi, **gi;          /* loop: row views of x, y and of lout */
} pe_ctx;

static int pe_vmap(void *c) {
    pe_ctx *x = c;
    return jx_exe_run(x->ev, x->in, x->vout);
}

static int pe_loop(void *c) {
    pe_ctx *x = c;
    jx_array *in[BM_NP + 2];
    memcpy(in, x->in, sizeof in);
    for (int b = 0; b < x->B; b++) {
        in[BM_NP] = x->xi[b], in[BM_NP + 1] = x->yi[b];
        if (jx_exe_run(x->e1, in, x->gi + (size_t)b * BM_NP) < 0) return -1;
    }
    return 0;
}

/* A view of row b of a (rank-1 or more, leading axis B) as an array of the rest. */
static jx_array *pe_row(jx_array *a, int b) {
    jx_type t = jx_array_type(a);
    int64_t n = jx_array_size(a) / t.shape[0];
    return jx_array_wrap(t.dtype, t.rank - 1, t.shape + 1, (float *)jx_array_data(a) + b * n,
                         NULL, NULL);
}

/* Traces and compiles both functions, allocates the outputs and the loop's views. */
static int pe_setup(pe_ctx *c, bm_state *s, int T) {
    jx_type ty[8];
    bm_types(-1, ty);
    ty[7] = JX_TYPE(JX_F32, bm_sizes[3]);
    static const int wrt[BM_NP] = {0, 1, 2, 3, 4, 5};
    static const int axes[8] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0, 0};
    jx_fn *f = jx_trace(pe_loss1, 8, ty, 1, NULL);
    jx_fn *g = f ? jx_grad(f, BM_NP, wrt) : NULL;
    jx_fn *v = g ? jx_vmap(g, axes, NULL, c->B) : NULL;
    jx_jit_opts jo = {NULL, T, 0};
    c->ev = v ? jx_jit(v, &jo) : NULL;
    c->e1 = c->ev ? jx_jit(g, &jo) : NULL;
    int ok = c->e1 != NULL;
    for (int i = 0; i < BM_NP && ok; i++) {
        jx_type ot = jx_fn_out_type(v, i);
        ok = (c->vout[i] = jx_array_new_type(&ot)) && (c->lout[i] = jx_array_new_type(&ot));
    }
    jx_fn_free(f), jx_fn_free(g), jx_fn_free(v);
    for (int i = 0; i < BM_NP; i++) c->in[i] = s->p[i];
    c->in[BM_NP] = s->x, c->in[BM_NP + 1] = s->y;
    c->xi = ok ? calloc((size_t)c->B, sizeof *c->xi) : NULL;
    c->yi = ok ? calloc((size_t)c->B, sizeof *c->yi) : NULL;
    c->gi = ok ? calloc((size_t)c->B * BM_NP, sizeof *c->gi) : NULL;
    ok = c->xi && c->yi && c->gi;
    for (int b = 0; b < c->B && ok; b++) {
        ok = (c->xi[b] = pe_row(s->x, b)) && (c->yi[b] = pe_row(s->y, b));
        for (int i = 0; i < BM_NP && ok; i++) ok = (c->gi[(size_t)b * BM_NP + i] = pe_row(c->lout[i], b)) != NULL;
    }
    return ok ? 0 : -1;
}

/* Frees what pe_setup made. */
static void pe_free(pe_ctx *c) {
    for (int b = 0; c->xi && b < c->B; b++) {
        jx_array_free(c->xi[b]), jx_array_free(c->yi[b]);
        for (int i = 0; i < BM_NP && c->gi; i++) jx_array_free(c->gi[(size_t)b * BM_NP + i]);
    }
    free(c->xi), free(c->yi), free(c->gi);
    for (int i = 0; i < BM_NP; i++) jx_array_free(c->vout[i]), jx_array_free(c->lout[i]);
    jx_exe_free(c->ev), jx_exe_free(c->e1);
}

/* Max abs difference of vmap's and the loop's gradients into *diff, and the sum of all of
 * vmap's (functorch's check value) into *sum. */
static void pe_compare(const pe_ctx *c, double *diff, double *sum) {
    *diff = 0, *sum = 0;
    for (int i = 0; i < BM_NP; i++) {
        const float *a = jx_array_cdata(c->vout[i]), *b = jx_array_cdata(c->lout[i]);
        for (int64_t k = 0; k < jx_array_size(c->vout[i]); k++) {
            double d = fabs((double)a[k] - b[k]);
            *diff = d > *diff || d != d ? d : *diff;
            *sum += a[k];
        }
    }
}

/* One (batch, threads) configuration. 0 or -1. */
static int pe_config(const bu_opts *o, bu_peer *p, int B, int T) {
    bm_state s;
    pe_ctx c = {.B = B};
    int rc = -1;
    if (bm_state_init(&s, B) < 0 || pe_setup(&c, &s, T) < 0) goto done;
    bm_state_reset(&s);
    double t0 = bu_now_us();
    if (pe_vmap(&c) < 0) goto done;
    double tv = bu_now_us() - t0, diff, sum;
    if (pe_loop(&c) < 0) goto done;
    pe_compare(&c, &diff, &sum);
    char dir[512], json[1024];
    static bu_side sd[3];
    memset(sd, 0, sizeof sd);
    sd[0] = (bu_side){.name = "jx", .fn = pe_vmap, .ctx = &c};
    sd[1] = (bu_side){.name = "jx_loop", .fn = pe_loop, .ctx = &c};
    double fsum = NAN;
    if (br_dir(o, "pe", dir, sizeof dir) < 0) goto done;
    static const char *names[BM_NP] = {"W1", "b1", "W2", "b2", "W3", "b3"};
    for (int i = 0; i < BM_NP; i++)
        if (br_save(dir, names[i], s.p[i]) < 0) goto done;
    if (br_save(dir, "x", s.x) < 0 || br_save(dir, "y", s.y) < 0) goto done;
    snprintf(json, sizeof json, "{\"kind\":\"pe_grads\",\"lib\":\"functorch\",\"batch\":%d,"
             "\"threads\":%d,\"dir\":\"%s\",\"check\":1}", B, T, dir);
    fsum = br_peer_side(p, &sd[2], "functorch", "functorch", json);
    int rounds, block;
    br_plan(o, tv, &rounds, &block);
    if (bu_interleave(p, sd, 3, rounds, block) < 0) goto done;
    const char *keys[2] = {"batch", "threads"};
    long long vals[2] = {B, T};
    char extra[256];
    bu_check_fields(extra, sizeof extra, "pe_grads", "sum", sum, fsum, 1e-3);
    br_emit_side(o, "pe_grads", 2, keys, vals, sd[0].med, &sd[2], extra);
    snprintf(extra, sizeof extra, "\"max_abs_diff\":%.3g,\"check\":\"%s\"", diff,
             diff < 1e-4 ? "ok" : "FAILED");
    br_emit_side(o, "pe_grads", 2, keys, vals, sd[0].med, &sd[1], extra);
    bu_peer_drop(p, "functorch");
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench: pe_grads batch %d threads %d: %s\n", B, T, jx_error());
    pe_free(&c);
    bm_state_free(&s);
    return rc;
}

/* See bench_rows.h. */
int br_pe_grads(const bu_opts *o, bu_peer *p) {
    static const int batches[2] = {32, 128};
    for (int k = 0; k < o->nthr; k++) {
        bu_blas_threads(o->thr[k]);
        for (int b = 0; b < (o->smoke ? 1 : 2); b++)
            if (pe_config(o, p, o->smoke ? 4 : batches[b], o->thr[k]) < 0) return -1;
    }
    return 0;
}
