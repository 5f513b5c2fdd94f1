/* jxbench: jx against hand-written C + OpenBLAS, one JSON line per row on stdout.
 *
 * Rows:
 *   mlp_train_step   the notebook MLP training step (784-512-512-10, relu, log-softmax
 *                    loss, SGD lr 0.01), built as a user would: per-example predict,
 *                    jx_vmap, jx_value_and_grad, an update function, jx_jit with the params
 *                    donated, jx_exe_run writing the new params into the param arrays.
 *                    ref_us: the hand-written step (bench_ref.c).
 *   mlp_gemms_only   jx_us: the same jx step; ref_us: the reference step's 8 GEMMs alone.
 *   mlp_compile_cold jx_us: the first jx_jit of the step in this process, from a fresh
 *                    jx_fn, without the disk cache; ref_us and ratio null.
 *   dispatch_trivial jx_us: one jx_exe_run of y = x + 1 on f32[4] with a preallocated
 *                    output (the per-call overhead); ref_us: the same loop as a C function
 *                    called through a function pointer.
 * Times are medians over --iters steps after a warm-up, jx and reference interleaved.
 * Before timing, both run 3 steps from the same params and batch and must agree; the
 * verdict and other notes go to stderr. Exit code: 0, 1 on a mismatch or jx error,
 * 2 on usage errors. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_ref.h"
#include "jx.h"

#define BN_NP 6        /* parameter arrays */
#define BN_LR 0.01f
#define BN_MAX_THREADS 8

static const int bn_sizes[4] = {784, 512, 512, 10};

static const char bn_usage[] =
    "usage: jxbench [--iters N] [--threads T,...] [--batch B] [--help]\n"
    "  --iters N     timed steps per row (default 200; warm-up is N/10, at least 5)\n"
    "  --threads T   comma-separated thread counts (default 1,2): OpenBLAS threads for\n"
    "                both, jx_jit_opts.n_threads for jx\n"
    "  --batch B     batch size of the MLP step (default 128)\n"
    "Prints one JSON line per row on stdout ({name, batch, threads, jx_us, ref_us,\n"
    "ratio = jx_us / ref_us}); the correctness check and notes go to stderr.\n";

/* Monotonic time in microseconds. */
static double bn_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* Median of v[0..n-1] (sorts v). */
static int bn_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double bn_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bn_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* xorshift64: a deterministic double in [0, 1). */
static double bn_urand(unsigned long long *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* ---- the jx step, as a user writes it -------------------------------------------------- */

/* predict(W1,b1,W2,b2,W3,b3,x) for one example: relu MLP with log-softmax output. */
static void bn_predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val a = in[6];
    for (int l = 0; l < 2; l++) a = jx_relu(jx_add(jx_matvec(in[2 * l], a), in[2 * l + 1]));
    jx_val logits = jx_add(jx_matvec(in[4], a), in[5]);
    out[0] = jx_sub(logits, jx_logsumexp(logits, 0));
}

/* Context of bn_loss and bn_update: the function they call. */
typedef struct bn_ctx {
    const jx_fn *callee;
} bn_ctx;

/* loss(params..., x[B,784], y[B,10]) = -mean(sum(batched_predict(params, x) * y, 1)). */
static void bn_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const bn_ctx *c = user;
    jx_val logp;
    jx_call(c->callee, in, &logp); /* params..., x */
    out[0] = jx_neg(jx_mean(jx_sum(jx_mul(logp, in[7]), 1, 0), 0, 0));
}

/* update(params..., x, y) = (params - lr * grads..., loss). */
static void bn_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const bn_ctx *c = user;
    jx_val vg[1 + BN_NP];
    jx_call(c->callee, in, vg);
    for (int i = 0; i < BN_NP; i++) out[i] = jx_sub(in[i], jx_mul(jx_lit(vg[1 + i], BN_LR), vg[1 + i]));
    out[BN_NP] = vg[0];
}

/* The input types: W1 b1 W2 b2 W3 b3 (n_out, n_in layout), then x[batch, 784] (or x[784]
 * when batch < 0) and y[batch, 10]. */
static void bn_types(int batch, jx_type *ty) {
    for (int l = 0; l < 3; l++) {
        ty[2 * l] = JX_TYPE(JX_F32, bn_sizes[l + 1], bn_sizes[l]);
        ty[2 * l + 1] = JX_TYPE(JX_F32, bn_sizes[l + 1]);
    }
    ty[6] = batch < 0 ? JX_TYPE(JX_F32, bn_sizes[0]) : JX_TYPE(JX_F32, batch, bn_sizes[0]);
    ty[7] = JX_TYPE(JX_F32, batch, bn_sizes[3]);
}

/* Traces the whole training step for a batch; NULL with jx_error() on failure. */
static jx_fn *bn_step_fn(int batch) {
    jx_type ty1[8], ty[8];
    bn_types(-1, ty1);
    bn_types(batch, ty);
    jx_fn *pred = jx_trace(bn_predict, 7, ty1, 1, NULL);
    static const int in_axes[7] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0};
    jx_fn *bpred = pred ? jx_vmap(pred, in_axes, NULL, batch) : NULL;
    bn_ctx c = {bpred};
    jx_fn *loss = bpred ? jx_trace(bn_loss, 8, ty, 1, &c) : NULL;
    static const int wrt[BN_NP] = {0, 1, 2, 3, 4, 5};
    jx_fn *vg = loss ? jx_value_and_grad(loss, BN_NP, wrt) : NULL;
    c.callee = vg;
    jx_fn *step = vg ? jx_trace(bn_update, 8, ty, BN_NP + 1, &c) : NULL;
    jx_fn_free(pred);
    jx_fn_free(bpred);
    jx_fn_free(loss);
    jx_fn_free(vg);
    return step;
}

/* Compiles the step with the params donated and n threads. */
static jx_exe *bn_jit(const jx_fn *f, int n_threads, int no_disk_cache) {
    static const unsigned char donate[8] = {1, 1, 1, 1, 1, 1, 0, 0};
    jx_jit_opts o = {donate, n_threads, no_disk_cache};
    return jx_jit(f, &o);
}

/* ---- state shared by both implementations ------------------------------------------------ */

/* jx arrays (params, x, y, loss), the reference model, and the initial params. */
typedef struct bn_state {
    int batch;
    jx_array *p[BN_NP], *x, *y, *loss;
    float *p0[BN_NP];
    bref_mlp ref;
} bn_state;

/* Host pointer of parameter i of the reference model (W1 b1 W2 b2 W3 b3 order). */
static float *bn_ref_param(bref_mlp *m, int i) {
    return i % 2 ? m->b[i / 2] : m->w[i / 2];
}

/* Allocates everything and fills the initial params (scaled like 1/sqrt(n_in)), a batch of
 * pixel-like inputs in [0,1) and random one-hot labels. Returns 0 or -1. */
static int bn_state_init(bn_state *s, int batch) {
    memset(s, 0, sizeof *s);
    s->batch = batch;
    jx_type ty[8];
    bn_types(batch, ty);
    if (bref_init(&s->ref, batch, bn_sizes) < 0) return -1;
    unsigned long long seed = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < BN_NP; i++) {
        s->p[i] = jx_array_new_type(&ty[i]);
        int64_t n = jx_type_size(&ty[i]);
        s->p0[i] = malloc((size_t)n * sizeof(float));
        if (!s->p[i] || !s->p0[i]) return -1;
        double scale = 1.0 / sqrt((double)bn_sizes[i / 2]);
        for (int64_t k = 0; k < n; k++)
            s->p0[i][k] = (float)(scale * (2.0 * bn_urand(&seed) - 1.0) * (i % 2 ? 0.1 : 1.7));
    }
    s->x = jx_array_new_type(&ty[6]);
    s->y = jx_array_new_type(&ty[7]);
    jx_type st = JX_SCALAR(JX_F32);
    s->loss = jx_array_new_type(&st);
    if (!s->x || !s->y || !s->loss) return -1;
    float *x = jx_array_data(s->x), *y = jx_array_data(s->y);
    for (int64_t k = 0; k < jx_array_size(s->x); k++) x[k] = (float)bn_urand(&seed);
    for (int b = 0; b < batch; b++) y[(int64_t)b * bn_sizes[3] + (int)(bn_urand(&seed) * 10)] = 1;
    return 0;
}

/* Resets both implementations' params to the initial values. */
static void bn_state_reset(bn_state *s) {
    for (int i = 0; i < BN_NP; i++) {
        size_t nb = jx_array_nbytes(s->p[i]);
        memcpy(jx_array_data(s->p[i]), s->p0[i], nb);
        memcpy(bn_ref_param(&s->ref, i), s->p0[i], nb);
    }
}

/* Frees everything bn_state_init allocated. */
static void bn_state_free(bn_state *s) {
    for (int i = 0; i < BN_NP; i++) {
        jx_array_free(s->p[i]);
        free(s->p0[i]);
    }
    jx_array_free(s->x);
    jx_array_free(s->y);
    jx_array_free(s->loss);
    bref_free(&s->ref);
}

/* One jx step: params updated in place, loss into s->loss. Returns 0 or -1. */
static int bn_jx_step(jx_exe *e, bn_state *s) {
    jx_array *in[8] = {s->p[0], s->p[1], s->p[2], s->p[3], s->p[4], s->p[5], s->x, s->y};
    jx_array *out[BN_NP + 1] = {s->p[0], s->p[1], s->p[2], s->p[3], s->p[4], s->p[5], s->loss};
    return jx_exe_run(e, in, out);
}

/* One reference step. */
static void bn_ref_step(bn_state *s) {
    bref_step(&s->ref, jx_array_cdata(s->x), jx_array_cdata(s->y), BN_LR);
}

/* ---- correctness ---------------------------------------------------------------------------- */

/* Runs 3 steps of both from the same start; 0 if every param agrees to 1e-4 relative (max
 * abs difference over the array's max abs value) and the updates (param - initial) to 1e-2
 * relative, 1 otherwise, -1 on a jx error. */
static int bn_check(jx_exe *e, bn_state *s) {
    bn_state_reset(s);
    float jl[3], rl[3];
    for (int k = 0; k < 3; k++) {
        if (bn_jx_step(e, s) < 0) return -1;
        jl[k] = *(const float *)jx_array_cdata(s->loss);
        bn_ref_step(s);
        rl[k] = s->ref.loss;
    }
    static const char *names[BN_NP] = {"W1", "b1", "W2", "b2", "W3", "b3"};
    double worst_p = 0, worst_d = 0;
    for (int i = 0; i < BN_NP; i++) {
        const float *a = jx_array_cdata(s->p[i]), *b = bn_ref_param(&s->ref, i), *p0 = s->p0[i];
        double dmax = 0, mag = 0, ddmax = 0, dmag = 0;
        for (int64_t k = 0; k < jx_array_size(s->p[i]); k++) {
            double d = fabs((double)a[k] - b[k]), dd = fabs(((double)a[k] - p0[k]) - ((double)b[k] - p0[k]));
            dmax = d > dmax || d != d ? d : dmax;
            ddmax = dd > ddmax || dd != dd ? dd : ddmax;
            mag = fabs(b[k]) > mag ? fabs(b[k]) : mag;
            dmag = fabs((double)b[k] - p0[k]) > dmag ? fabs((double)b[k] - p0[k]) : dmag;
        }
        double rp = dmax / (mag > 0 ? mag : 1), rd = ddmax / (dmag > 0 ? dmag : 1);
        fprintf(stderr, "jxbench: %s: param rel err %.2e, update rel err %.2e (max |update| %.2e)\n",
                names[i], rp, rd, dmag);
        worst_p = rp > worst_p || rp != rp ? rp : worst_p;
        worst_d = rd > worst_d || rd != rd ? rd : worst_d;
    }
    fprintf(stderr, "jxbench: losses jx %.6f %.6f %.6f, ref %.6f %.6f %.6f\n", jl[0], jl[1], jl[2],
            rl[0], rl[1], rl[2]);
    double lerr = fabs((double)jl[2] - rl[2]) / fabs((double)rl[2]);
    int ok = worst_p <= 1e-4 && worst_d <= 1e-2 && lerr <= 1e-4;
    fprintf(stderr, "jxbench: correctness %s: after 3 steps params agree to %.2e relative "
            "(limit 1e-4), updates to %.2e (limit 1e-2), loss to %.2e\n",
            ok ? "OK" : "FAILED", worst_p, worst_d, lerr);
    return ok ? 0 : 1;
}

/* ---- timing ------------------------------------------------------------------------------- */

/* Prints one row (ref_us < 0 prints null for ref_us and ratio). */
static void bn_row(const char *name, int batch, int threads, double jx_us, double ref_us) {
    if (ref_us < 0)
        printf("{\"name\":\"%s\",\"batch\":%d,\"threads\":%d,\"jx_us\":%.3f,\"ref_us\":null,"
               "\"ratio\":null}\n", name, batch, threads, jx_us);
    else
        printf("{\"name\":\"%s\",\"batch\":%d,\"threads\":%d,\"jx_us\":%.3f,\"ref_us\":%.3f,"
               "\"ratio\":%.3f}\n", name, batch, threads, jx_us, ref_us, jx_us / ref_us);
    fflush(stdout);
}

/* Times the jx step, the reference step and the reference GEMMs, interleaved (the order
 * alternates each iteration), and prints the mlp_train_step and mlp_gemms_only rows.
 * Returns 0 or -1 on a jx error. */
static int bn_time(jx_exe *e, bn_state *s, int threads, int iters) {
    double *tj = malloc((size_t)iters * sizeof *tj), *tr = malloc((size_t)iters * sizeof *tr);
    double *tg = malloc((size_t)iters * sizeof *tg);
    int rc = 0;
    if (!tj || !tr || !tg) {
        fprintf(stderr, "jxbench: out of memory\n");
        rc = -1;
        goto done;
    }
    bn_state_reset(s);
    int warm = iters / 10 > 5 ? iters / 10 : 5;
    for (int i = 0; i < warm && rc == 0; i++) {
        rc = bn_jx_step(e, s);
        bn_ref_step(s);
        bref_gemms(&s->ref, jx_array_cdata(s->x));
    }
    for (int i = 0; i < iters && rc == 0; i++) {
        for (int k = 0; k < 3 && rc == 0; k++) {
            int which = (k + i) % 3;
            double t0 = bn_now_us();
            if (which == 0) rc = bn_jx_step(e, s);
            else if (which == 1) bn_ref_step(s);
            else bref_gemms(&s->ref, jx_array_cdata(s->x));
            double dt = bn_now_us() - t0;
            (which == 0 ? tj : which == 1 ? tr : tg)[i] = dt;
        }
    }
    if (rc) goto done;
    double mj = bn_median(tj, iters), mr = bn_median(tr, iters), mg = bn_median(tg, iters);
    bn_row("mlp_train_step", s->batch, threads, mj, mr);
    bn_row("mlp_gemms_only", s->batch, threads, mj, mg);
done:
    free(tj);
    free(tr);
    free(tg);
    return rc;
}

/* Parses "1,2" into th[0..]; returns the count, or -1 if malformed. */
static int bn_parse_threads(const char *s, int *th) {
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256 || n == BN_MAX_THREADS) return -1;
        th[n++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n > 0 ? n : -1;
}

/* y = x + 1 */
static void bn_plus1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], jx_lit(in[0], 1.0));
}

/* The hand-written counterpart of bn_plus1. */
static void bn_plus1_ref(const float *x, float *y) {
    for (int i = 0; i < 4; i++) y[i] = x[i] + 1.0f;
}

/* Median per-call microseconds of the jitted trivial function and of its C counterpart
 * (blocks of 10000 calls). Returns 0 or -1. */
static int bn_dispatch(double *jx_us, double *ref_us) {
    jx_type ty = JX_TYPE(JX_F32, 4);
    jx_fn *f = jx_trace(bn_plus1, 1, &ty, 1, NULL);
    jx_jit_opts o = {NULL, 1, 1};
    jx_exe *e = f ? jx_jit(f, &o) : NULL;
    jx_array *x = jx_array_new_type(&ty), *y = jx_array_new_type(&ty);
    void (*volatile ref)(const float *, float *) = bn_plus1_ref;
    enum { BLOCKS = 21, CALLS = 10000 };
    double tj[BLOCKS], tr[BLOCKS];
    int rc = e && x && y ? 0 : -1;
    for (int b = 0; b < BLOCKS && rc == 0; b++) {
        double t0 = bn_now_us();
        for (int i = 0; i < CALLS && rc == 0; i++) rc = jx_exe_run(e, &x, &y);
        double t1 = bn_now_us();
        for (int i = 0; i < CALLS; i++) ref(jx_array_cdata(x), jx_array_data(y));
        double t2 = bn_now_us();
        tj[b] = (t1 - t0) / CALLS;
        tr[b] = (t2 - t1) / CALLS;
    }
    if (rc == 0) {
        *jx_us = bn_median(tj, BLOCKS);
        *ref_us = bn_median(tr, BLOCKS);
    }
    jx_array_free(x);
    jx_array_free(y);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc;
}

/* Parses jxbench's arguments into *iters, *batch and th[0..*nth). 0; 1 after printing the
 * usage for --help; -1 after printing it to stderr for a bad argument. */
static int bn_parse_args(int argc, char **argv, int *iters, int *batch, int *th, int *nth) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(bn_usage, stdout);
            return 1;
        } else if (!strcmp(a, "--iters") && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 10000000) goto usage;
            *iters = (int)n;
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000) goto usage;
            *batch = (int)n;
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            if ((*nth = bn_parse_threads(v, th)) < 0) goto usage;
            i++;
        } else {
            fprintf(stderr, "jxbench: bad argument '%s'\n", a);
            goto usage;
        }
    }
    return 0;
usage:
    fputs(bn_usage, stderr);
    return -1;
}

/* A second compile of a fresh step in this process, timed on stderr: the share of
 * one-time LLVM setup in the first. */
static void bn_second_compile(int batch, int threads) {
    jx_fn *f2 = bn_step_fn(batch);
    double t3 = bn_now_us();
    jx_exe *e2 = f2 ? bn_jit(f2, threads, 1) : NULL;
    fprintf(stderr, "jxbench: second jx_jit in this process (fresh jx_fn, no disk cache) "
            "%.1f ms\n", (bn_now_us() - t3) * 1e-3);
    jx_exe_free(e2);
    jx_fn_free(f2);
}

/* Times the step at each thread count th[0..nth) (recompiling *e, compiled for th[0], for
 * the others). 0, or 1 with a message on stderr. */
static int bn_time_threads(const jx_fn *f, jx_exe **e, bn_state *s, const int *th, int nth,
                           int iters) {
    for (int k = 0; k < nth; k++) {
        openblas_set_num_threads(th[k]);
        if (k > 0) {
            jx_exe_free(*e);
            *e = bn_jit(f, th[k], 0);
            if (!*e) {
                fprintf(stderr, "jxbench: %s\n", jx_error());
                return 1;
            }
        }
        if (bn_time(*e, s, th[k], iters) < 0) {
            fprintf(stderr, "jxbench: %s\n", jx_error());
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int iters = 200, batch = 128, th[BN_MAX_THREADS] = {1, 2}, nth = 2;
    int parsed = bn_parse_args(argc, argv, &iters, &batch, th, &nth);
    if (parsed != 0) return parsed < 0 ? 2 : 0;
    /* cold compile: the first jx_jit in the process, from a freshly traced step */
    double t0 = bn_now_us();
    jx_fn *f = bn_step_fn(batch);
    double t1 = bn_now_us();
    openblas_set_num_threads(th[0]);
    jx_exe *e = f ? bn_jit(f, th[0], 1) : NULL;
    double t2 = bn_now_us();
    if (!e) {
        fprintf(stderr, "jxbench: %s\n", jx_error());
        jx_fn_free(f);
        return 1;
    }
    fprintf(stderr, "jxbench: step traced and transformed in %.1f ms (%d equations); "
            "cold jx_jit %.1f ms\n", (t1 - t0) * 1e-3, jx_fn_n_eqns(f), (t2 - t1) * 1e-3);
    bn_state s;
    int rc = 0;
    if (bn_state_init(&s, batch) < 0) {
        fprintf(stderr, "jxbench: out of memory\n");
        bn_state_free(&s);
        jx_exe_free(e);
        jx_fn_free(f);
        return 1;
    }
    rc = bn_check(e, &s);
    if (rc < 0) fprintf(stderr, "jxbench: %s\n", jx_error());
    if (rc == 0) bn_second_compile(batch, th[0]);
    if (rc == 0) rc = bn_time_threads(f, &e, &s, th, nth, iters);
    if (rc == 0) bn_row("mlp_compile_cold", batch, th[0], t2 - t1, -1);
    double dj, dr;
    if (rc == 0 && bn_dispatch(&dj, &dr) == 0) bn_row("dispatch_trivial", 1, 1, dj, dr);
    else if (rc == 0) rc = 1, fprintf(stderr, "jxbench: %s\n", jx_error());
    bn_state_free(&s);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc ? 1 : 0;
}
