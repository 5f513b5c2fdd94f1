/* bench_pex: per-example gradients and batch-1 predict of the notebook MLP (784-512-512-10,
 * relu, log-softmax; W[out,in] as jx_matvec takes it), issue 12 deliverables 3 and 4.
 *
 * Rows, each compiled once per thread count (jx_jit_opts.n_threads) and timed interleaved
 * rep by rep, thread count by thread count:
 *   pex      vmap(grad(loss), in_axes=(None, 0, 0))(params, x[B,784], labels[B]): every
 *            example's 6 gradients [B,...] (jx_call_vmap of jx_call_grad);
 *   loop     the same from B runs of the jitted grad of one example (preallocated inputs,
 *            each example's gradients written into its rows of pex's outputs);
 *   dpsgd    DP-SGD's gradients as examples/per_example_grads.c builds them: per-example
 *            grads, their norms over all params, each clipped to norm 1, the clipped sum
 *            as a contraction over the batch plus Gaussian noise, divided by B;
 *   floor    non-temporal stores of the pex outputs' bytes on jx's thread pool (the
 *            store bandwidth that materialising the per-example gradients needs);
 *   predict1 predict(params, x[784]) at batch 1 (median over 200 calls per rep);
 *   handc1   the same by hand: cblas_sgemv per layer on OpenBLAS's T threads, bias, relu
 *            and log-softmax in C.
 * Prints medians (and min) per row and thread count; --json adds JSON lines. Before
 * timing, pex is checked against loop and predict1 against handc1 (max abs differences
 * on stderr; exit 1 past 1e-5). --dump DIR writes the traced functions as DIR/pex.jx,
 * DIR/dpsgd.jx, DIR/grad1.jx, DIR/predict1.jx for jxc fuse. Exit 2 on usage errors. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __SSE2__
#include <immintrin.h>
#endif

#include "../runtime/jx_rt.h"
#include "bench_time.h"
#include "jx.h"
#include "jx/nn.h"

enum { BP_NL = 3, BP_NP = 6, BP_MAXT = 4, BP_ROWS = 6, BP_PRED_CALLS = 200 };
static const int64_t bp_sizes[BP_NL + 1] = {784, 512, 512, 10};
static const char *const bp_row_names[BP_ROWS] = {"pex",  "loop",     "dpsgd",
                                                  "floor", "predict1", "handc1"};

static const char bp_usage[] =
    "usage: bench_pex [--batch B] [--reps R] [--threads T,...] [--rows a,b,...] [--json]\n"
    "                 [--dump DIR] [--help]\n"
    "  --batch B    examples per batch (default 128)\n"
    "  --reps R     timed reps per row, interleaved (default 11)\n"
    "  --threads T  comma-separated thread counts (default 1,2)\n"
    "  --rows       rows to time (default all): pex,loop,dpsgd,floor,predict1,handc1\n";

/* ---- the traced functions ------------------------------------------------------------ */

/* The notebook MLP on one x[784]: log-softmax of the logits. */
static jx_val bp_net(const jx_val *p, jx_val a) {
    for (int l = 0; l < BP_NL - 1; l++) a = jx_relu(jx_add(jx_matvec(p[2 * l], a), p[2 * l + 1]));
    jx_val logits = jx_add(jx_matvec(p[4], a), p[5]);
    return jx_sub(logits, jx_logsumexp(logits, 0));
}

/* (params, x[784]) -> log-probabilities [10]. */
static void bp_predict_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = bp_net(in, in[BP_NP]);
}

/* (params, x[784], label) -> the example's cross-entropy. */
static void bp_loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_softmax_cross_entropy(bp_net(in, in[BP_NP]), in[BP_NP + 1]);
}

/* (params, x[784], label) -> grad of the loss wrt the params. */
static void bp_grad1_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_grad(bp_loss_cb, NULL, BP_NP + 2, JX_ARGS(BP_NP, 1, 1), in, 1, 1, (int[]){0}, out);
}

/* (params, x[B,784], labels[B]) -> per-example grads [B,...]. */
static void bp_pex_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_vmap(bp_grad1_cb, NULL, BP_NP + 2, JX_ARGS(BP_NP, 1, 1), (int[]){JX_NONE, 0, 0}, in,
                 BP_NP, NULL, out);
}

/* (params, key u32[2], x[B,784], labels[B]) -> DP-SGD's noisy mean of the per-example
 * gradients clipped to norm 1 (noise stddev 1 / B), as per_example_grads.c. */
static void bp_dpsgd_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val args[BP_NP + 2], g[BP_NP];
    for (int i = 0; i < BP_NP; i++) args[i] = in[i];
    args[BP_NP] = in[BP_NP + 1], args[BP_NP + 1] = in[BP_NP + 2];
    int64_t B = jx_val_type(in[BP_NP + 1]).shape[0];
    if (jx_call_vmap(bp_grad1_cb, NULL, BP_NP + 2, JX_ARGS(BP_NP, 1, 1),
                     (int[]){JX_NONE, 0, 0}, args, BP_NP, NULL, g) < 0)
        return;
    jx_val sq = jx_reduce_sum(jx_square(g[0]), JX_INTS(1, 2));
    for (int i = 1; i < BP_NP; i++) {
        jx_ints ax = jx_val_type(g[i]).rank == 3 ? JX_INTS(1, 2) : JX_INTS(1);
        sq = jx_add(sq, jx_reduce_sum(jx_square(g[i]), ax));
    }
    jx_val norm = jx_sqrt(sq), one = jx_lit(norm, 1.0);
    jx_val scale = jx_div(one, jx_max(one, norm));
    jx_val nkeys = jx_random_split(in[BP_NP], BP_NP);
    for (int i = 0; i < BP_NP; i++) {
        jx_val csum = jx_dot_general(scale, g[i], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
        jx_val noise = jx_random_normal(jx_random_subkey(nkeys, i), jx_val_type(in[i]));
        out[i] = jx_div(jx_add(csum, noise), jx_lit(csum, (double)B));
    }
}

/* ---- the hand-written predict -------------------------------------------------------- */

/* predict by hand: sgemv per layer (OpenBLAS's current thread count), bias, relu, then
 * log-softmax. h0, h1: scratch of 512 floats. */
static void bp_handc(float *const *w, const float *x, float *h0, float *h1, float *y) {
    const float *a = x;
    float *dst[BP_NL] = {h0, h1, y};
    for (int l = 0; l < BP_NL; l++) {
        int m = (int)bp_sizes[l + 1], n = (int)bp_sizes[l];
        memcpy(dst[l], w[2 * l + 1], (size_t)m * sizeof(float));
        cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, w[2 * l], n, a, 1, 1.0f, dst[l], 1);
        if (l < BP_NL - 1)
            for (int i = 0; i < m; i++) dst[l][i] = dst[l][i] > 0 ? dst[l][i] : 0;
        a = dst[l];
    }
    float mx = y[0], s = 0;
    for (int i = 1; i < 10; i++) mx = y[i] > mx ? y[i] : mx;
    for (int i = 0; i < 10; i++) s += expf(y[i] - mx);
    float lse = mx + logf(s);
    for (int i = 0; i < 10; i++) y[i] -= lse;
}

/* ---- the store-bandwidth floor ------------------------------------------------------- */

/* jx_rt_parallel body: fills 64-byte blocks [lo, hi) of the buffer ctx with non-temporal
 * stores where the ISA has them (a plain store loop, and glibc's memset, read each line
 * before writing it: about twice the time for a buffer far beyond the caches). */
static void bp_fill_run(void *ctx, int64_t lo, int64_t hi) {
    float *p = (float *)ctx + lo * 16; /* 64-byte aligned */
    size_t n = (size_t)(hi - lo) * 16;
#if defined __AVX512F__
    __m512 v = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) _mm512_stream_ps(p + i, v);
    _mm_sfence();
#elif defined __SSE2__
    __m128 v = _mm_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 4) _mm_stream_ps(p + i, v);
    _mm_sfence();
#else
    memset(p, 1, n * sizeof(float));
#endif
}

/* Stores n bytes at p (64-byte aligned, n a multiple of 64) on T threads of jx's pool
 * (the threads the jitted kernels use). */
static void bp_floor(char *p, size_t n, int T) {
    jx_rt_parallel(bp_fill_run, p, (int64_t)(n / 64), 1024, T);
}

/* ---- setup -------------------------------------------------------------------------- */

/* Everything one thread count needs: compiled functions and their arrays. */
typedef struct bp_set {
    int T;
    jx_exe *pex, *grad1, *dpsgd, *pred;
} bp_set;

/* The shared data: params, batch, outputs. */
typedef struct bp_data {
    int64_t B;
    jx_array *params[BP_NP], *key, *x, *labels, *x1[1024], *lab1[1024];
    jx_array *g[BP_NP], *g1[BP_NP], *dp[BP_NP], *logp, *floor;
    jx_array *gb[1024][BP_NP]; /* example b's gradients: views of the rows of g */
    float hx[1024], hy[16], h0[512], h1[512];
} bp_data;

/* Uniform in [-1, 1) from a xorshift state. */
static float bp_rand(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2 - 1);
}

/* Fills d: params scaled by 1/sqrt(fan_in), images in [0, 1), labels mod 10. 0 or -1. */
static int bp_data_init(bp_data *d, int64_t B) {
    uint64_t s = 88172645463325252ull;
    d->B = B;
    for (int l = 0; l < BP_NL; l++) {
        int64_t shw[2] = {bp_sizes[l + 1], bp_sizes[l]};
        d->params[2 * l] = jx_array_new(JX_F32, 2, shw);
        d->params[2 * l + 1] = jx_array_new(JX_F32, 1, shw);
        if (!d->params[2 * l] || !d->params[2 * l + 1]) return -1;
        float *w = jx_array_data(d->params[2 * l]), *b = jx_array_data(d->params[2 * l + 1]);
        for (int64_t i = 0; i < shw[0] * shw[1]; i++) w[i] = bp_rand(&s) / sqrtf((float)shw[1]);
        for (int64_t i = 0; i < shw[0]; i++) b[i] = 0.1f * bp_rand(&s);
    }
    int64_t shx[2] = {B, 784}, k2 = 2;
    d->x = jx_array_new(JX_F32, 2, shx);
    d->labels = jx_array_new(JX_I32, 1, &B);
    d->key = jx_array_new(JX_U32, 1, &k2);
    if (!d->x || !d->labels || !d->key) return -1;
    float *x = jx_array_data(d->x);
    for (int64_t i = 0; i < B * 784; i++) x[i] = 0.5f + 0.5f * bp_rand(&s);
    for (int64_t b = 0; b < B; b++) {
        jx_array_set(d->labels, b, (double)(b * 7 % 10));
        d->x1[b] = jx_array_from(JX_F32, 1, shx + 1, x + b * 784);
        d->lab1[b] = jx_array_scalar(JX_I32, (double)(b * 7 % 10));
        if (!d->x1[b] || !d->lab1[b]) return -1;
    }
    jx_array_set(d->key, 1, 42);
    memcpy(d->hx, x, 784 * sizeof(float));
    size_t gbytes = 0;
    for (int i = 0; i < BP_NP; i++) {
        jx_type t = jx_array_type(d->params[i]), tb = t;
        memmove(tb.shape + 1, tb.shape, (size_t)t.rank * sizeof tb.shape[0]);
        tb.shape[0] = B, tb.rank++;
        d->g[i] = jx_array_new_type(&tb);
        d->g1[i] = jx_array_new_type(&t);
        d->dp[i] = jx_array_new_type(&t);
        if (!d->g[i] || !d->g1[i] || !d->dp[i]) return -1;
        gbytes += jx_array_nbytes(d->g[i]);
        for (int64_t b = 0; b < B; b++) {
            char *row = (char *)jx_array_data(d->g[i]) + b * (int64_t)jx_array_nbytes(d->g1[i]);
            if (!(d->gb[b][i] = jx_array_wrap(JX_F32, t.rank, t.shape, row, NULL, NULL))) return -1;
        }
    }
    int64_t n10 = 10, nfl = (int64_t)gbytes;
    d->logp = jx_array_new(JX_F32, 1, &n10);
    d->floor = jx_array_new(JX_U32, 1, (int64_t[]){nfl / 4});
    return d->logp && d->floor ? 0 : -1;
}

/* Traces cb on types (n_in of them, n_out outputs), writes it to dir/name.jx when dir is
 * set, and compiles it for T threads. NULL with jx_error() on failure. */
static jx_exe *bp_compile(jx_trace_cb cb, int n_in, const jx_type *types, int n_out, int T,
                          const char *dir, const char *name) {
    jx_fn *f = jx_trace(cb, n_in, types, n_out, NULL);
    if (!f) return NULL;
    if (dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.jx", dir, name);
        FILE *fp = fopen(path, "w");
        if (fp) jx_fn_print(f, fp), fclose(fp);
    }
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, T, 1});
    jx_fn_free(f);
    return e;
}

/* Compiles every function of set s for d. 0 or -1. */
static int bp_set_init(bp_set *s, const bp_data *d, const char *dir) {
    jx_type ty[BP_NP + 3];
    for (int i = 0; i < BP_NP; i++) ty[i] = jx_array_type(d->params[i]);
    ty[BP_NP] = JX_TYPE(JX_F32, 784), ty[BP_NP + 1] = JX_SCALAR(JX_I32);
    if (!(s->pred = bp_compile(bp_predict_cb, BP_NP + 1, ty, 1, s->T, dir, "predict1")) ||
        !(s->grad1 = bp_compile(bp_grad1_cb, BP_NP + 2, ty, BP_NP, s->T, dir, "grad1")))
        return -1;
    ty[BP_NP] = jx_array_type(d->x), ty[BP_NP + 1] = jx_array_type(d->labels);
    if (!(s->pex = bp_compile(bp_pex_cb, BP_NP + 2, ty, BP_NP, s->T, dir, "pex"))) return -1;
    ty[BP_NP] = jx_array_type(d->key);
    ty[BP_NP + 1] = jx_array_type(d->x), ty[BP_NP + 2] = jx_array_type(d->labels);
    s->dpsgd = bp_compile(bp_dpsgd_cb, BP_NP + 3, ty, BP_NP, s->T, dir, "dpsgd");
    return s->dpsgd ? 0 : -1;
}

/* Runs row r of set s once on d. 0 or -1. */
static int bp_run(const bp_set *s, bp_data *d, int r) {
    jx_array *in[BP_NP + 3];
    memcpy(in, d->params, sizeof d->params);
    float *w[BP_NP];
    switch (r) {
    case 0:
        in[BP_NP] = d->x, in[BP_NP + 1] = d->labels;
        return jx_exe_run(s->pex, in, d->g);
    case 1:
        for (int64_t b = 0; b < d->B; b++) {
            in[BP_NP] = d->x1[b], in[BP_NP + 1] = d->lab1[b];
            if (jx_exe_run(s->grad1, in, d->gb[b]) < 0) return -1;
        }
        return 0;
    case 2:
        in[BP_NP] = d->key, in[BP_NP + 1] = d->x, in[BP_NP + 2] = d->labels;
        return jx_exe_run(s->dpsgd, in, d->dp);
    case 3:
        bp_floor(jx_array_data(d->floor), jx_array_nbytes(d->floor), s->T);
        return 0;
    case 4:
        in[BP_NP] = d->x1[0];
        for (int i = 0; i < BP_PRED_CALLS; i++)
            if (jx_exe_run(s->pred, in, &d->logp) < 0) return -1;
        return 0;
    default:
        for (int i = 0; i < BP_NP; i++) w[i] = jx_array_data(d->params[i]);
        openblas_set_num_threads(s->T);
        for (int i = 0; i < BP_PRED_CALLS; i++) bp_handc(w, d->hx, d->h0, d->h1, d->hy);
        return 0;
    }
}

/* Max abs difference of pex against the loop (every example) and of predict1 against
 * handc1; -1 on failure. */
static double bp_check(const bp_set *s, bp_data *d) {
    if (bp_run(s, d, 0) < 0) return -1;
    jx_array *in[BP_NP + 2];
    memcpy(in, d->params, sizeof d->params);
    double md = 0;
    for (int64_t b = 0; b < d->B; b++) {
        in[BP_NP] = d->x1[b], in[BP_NP + 1] = d->lab1[b];
        if (jx_exe_run(s->grad1, in, d->g1) < 0) return -1;
        for (int i = 0; i < BP_NP; i++) {
            int64_t n = jx_array_size(d->g1[i]);
            const float *gb = (const float *)jx_array_cdata(d->g[i]) + b * n;
            const float *g1 = jx_array_cdata(d->g1[i]);
            for (int64_t k = 0; k < n; k++) md = fmax(md, fabs((double)gb[k] - g1[k]));
        }
    }
    in[BP_NP] = d->x1[0];
    float *w[BP_NP];
    for (int i = 0; i < BP_NP; i++) w[i] = jx_array_data(d->params[i]);
    if (jx_exe_run(s->pred, in, &d->logp) < 0) return -1;
    bp_handc(w, d->hx, d->h0, d->h1, d->hy);
    const float *lp = jx_array_cdata(d->logp);
    for (int i = 0; i < 10; i++) md = fmax(md, fabs((double)lp[i] - d->hy[i]));
    return md;
}

/* Parses --rows into on[]; 0 or -1. */
static int bp_rows(const char *s, int *on) {
    memset(on, 0, BP_ROWS * sizeof *on);
    while (*s) {
        size_t len = strcspn(s, ",");
        int r = 0;
        while (r < BP_ROWS && (strlen(bp_row_names[r]) != len || strncmp(s, bp_row_names[r], len)))
            r++;
        if (r == BP_ROWS) return -1;
        on[r] = 1;
        s += len + (s[len] == ',');
    }
    return 0;
}

/* Options. */
typedef struct bp_opts {
    int reps, nt, ts[BP_MAXT], json, on[BP_ROWS];
    long batch;
    const char *dir;
} bp_opts;

/* Parses argv into o; 0, or 2 on a usage error (printed), 1 for --help. */
static int bp_parse(int argc, char **argv, bp_opts *o) {
    *o = (bp_opts){.reps = 11, .nt = 2, .ts = {1, 2}, .on = {1, 1, 1, 1, 1, 1}, .batch = 128};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--help")) return fputs(bp_usage, stdout), 1;
        else if (!v) bad = 1;
        else if (!strcmp(a, "--batch")) bad = (o->batch = strtol(v, NULL, 10)) < 1, i++;
        else if (!strcmp(a, "--reps")) bad = (o->reps = atoi(v)) < 1, i++;
        else if (!strcmp(a, "--threads")) bad = (o->nt = bu_int_list(v, o->ts, BP_MAXT, 1, 4)) < 0, i++;
        else if (!strcmp(a, "--rows")) bad = bp_rows(v, o->on) < 0, i++;
        else if (!strcmp(a, "--dump")) o->dir = v, i++;
        else bad = 1;
        if (bad || o->batch > 1024)
            return fprintf(stderr, "bench_pex: bad argument '%s'\n%s", a, bp_usage), 2;
    }
    return 0;
}

/* Times the rows o selects, interleaved (two warm-up reps first), into
 * t[(k * BP_ROWS + r) * reps + rep] for thread count k. 0 or -1. */
static int bp_time(const bp_opts *o, const bp_set *s, bp_data *d, double *t) {
    for (int rep = -2; rep < o->reps; rep++)
        for (int k = 0; k < o->nt; k++)
            for (int r = 0; r < BP_ROWS; r++) {
                if (!o->on[r]) continue;
                double t0 = bu_clock_ms(CLOCK_MONOTONIC);
                if (bp_run(&s[k], d, r) < 0) return -1;
                if (rep >= 0) t[(k * BP_ROWS + r) * o->reps + rep] = bu_clock_ms(CLOCK_MONOTONIC) - t0;
            }
    return 0;
}

/* Prints the table (and JSON lines) of the times t (sorted here). */
static void bp_print(const bp_opts *o, double *t) {
    int reps = o->reps;
    printf("batch %ld, %d reps (median / min); predict1 and handc1 per call\n", o->batch, reps);
    printf("%-9s", "row");
    for (int k = 0; k < o->nt; k++) printf("   %2d thr: median      min", o->ts[k]);
    printf("\n");
    for (int r = 0; r < BP_ROWS; r++) {
        if (!o->on[r]) continue;
        const char *unit = r >= 4 ? "us" : "ms";
        double scale = r >= 4 ? 1e3 / BP_PRED_CALLS : 1;
        printf("%-9s", bp_row_names[r]);
        for (int k = 0; k < o->nt; k++) {
            double *v = t + (k * BP_ROWS + r) * reps;
            bu_sort(v, reps);
            printf("   %10.3f %s %8.3f %s", v[reps / 2] * scale, unit, v[0] * scale, unit);
        }
        printf("\n");
        for (int k = 0; o->json && k < o->nt; k++)
            printf("{\"name\": \"%s\", \"batch\": %ld, \"threads\": %d, \"median_%s\": %.3f}\n",
                   bp_row_names[r], o->batch, o->ts[k], unit,
                   t[(k * BP_ROWS + r) * reps + reps / 2] * scale);
    }
}

int main(int argc, char **argv) {
    bp_opts o;
    int rc = bp_parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    static bp_data d;
    bp_set s[BP_MAXT];
    memset(s, 0, sizeof s);
    if (bp_data_init(&d, o.batch) < 0) return fprintf(stderr, "bench_pex: %s\n", jx_error()), 1;
    for (int k = 0; k < o.nt; k++) {
        s[k].T = o.ts[k];
        if (bp_set_init(&s[k], &d, k == 0 ? o.dir : NULL) < 0)
            return fprintf(stderr, "bench_pex: %s\n", jx_error()), 1;
        double md = bp_check(&s[k], &d);
        fprintf(stderr, "threads %d: max abs difference pex vs loop, predict vs hand C: %.3g\n",
                o.ts[k], md);
        if (md < 0 || md > 1e-5)
            return fprintf(stderr, "bench_pex: check failed %s\n", jx_error()), 1;
    }
    double *t = calloc((size_t)(o.reps * BP_ROWS * o.nt), sizeof *t);
    if (!t || bp_time(&o, s, &d, t) < 0) return fprintf(stderr, "bench_pex: %s\n", jx_error()), 1;
    bp_print(&o, t);
    free(t);
    return 0;
}
