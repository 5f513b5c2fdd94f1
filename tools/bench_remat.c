/* bench_remat: what jx_checkpoint buys. value_and_grad of a deep ReLU MLP's loss
 * (0.5 * sum(tanh(mlp(x))^2), every weight and bias differentiated), compiled with jx_jit,
 * with no checkpoint, then with every K consecutive layers in one checkpoint for each K
 * given; per variant the planned arena of the executable (the "arena N bytes" of its plan,
 * as `jxc fuse` prints it: every intermediate, outputs and inputs excluded), its GEMM
 * count, and the median step time over --reps runs. The gradients of every variant are
 * compared with the plain one's bit for bit.
 *
 *   bench_remat [--layers 16] [--width 1024] [--batch 256] [--every 1,4] [--reps 5]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jx.h>
#include <jx/nn.h>

#include "jit/jit.h"

#define MAX_LAYERS 64

/* One layer: relu(h @ w + b). */
static void layer(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_relu(jx_add(jx_matmul(in[0], in[1]), in[2]));
}

/* Layers [lo, hi) on in = (h, w_lo, b_lo, ..., w_hi-1, b_hi-1); user: int[2] = {lo, hi}. */
static void block(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    const int *r = u;
    jx_val h = in[0];
    for (int l = 0; l < r[1] - r[0]; l++) {
        jx_val a[3] = {h, in[1 + 2 * l], in[2 + 2 * l]};
        layer(t, a, &h, NULL);
    }
    out[0] = h;
}

typedef struct cfg {
    int layers, every; /* every: layers per checkpoint (0: no checkpoint) */
} cfg;

/* The loss on in = (w0, b0, ..., x). */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    const cfg *c = u;
    jx_val h = in[2 * c->layers], a[2 * MAX_LAYERS + 1];
    for (int lo = 0; lo < c->layers;) {
        int hi = c->every ? lo + c->every : c->layers;
        if (hi > c->layers) hi = c->layers;
        int r[2] = {lo, hi};
        a[0] = h;
        for (int k = 0; k < 2 * (hi - lo); k++) a[1 + k] = in[2 * lo + k];
        if (c->every) jx_checkpoint(block, r, 1 + 2 * (hi - lo), a, 1, &h);
        else block(t, a, &h, r);
        lo = hi;
    }
    jx_val y = jx_tanh(h);
    out[0] = jx_mul(jx_lit(y, 0.5), jx_sum_all(jx_mul(y, y)));
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One variant: its executable, figures and gradients. */
typedef struct variant {
    cfg c;
    jx_exe *e;
    long long arena;
    int gemms;
    double t[64];
    jx_array *out[2 * MAX_LAYERS + 1];
} variant;

/* Traces, differentiates and compiles v's step; reads its plan's arena and GEMM count.
 * 0 or -1 (message printed). */
static int build(variant *v, int64_t batch, int64_t width) {
    int n_in = 2 * v->c.layers + 1, wrt[2 * MAX_LAYERS];
    jx_type ty[2 * MAX_LAYERS + 1];
    for (int l = 0; l < v->c.layers; l++) {
        ty[2 * l] = JX_TYPE(JX_F32, width, width);
        ty[2 * l + 1] = JX_TYPE(JX_F32, width);
        wrt[2 * l] = 2 * l, wrt[2 * l + 1] = 2 * l + 1;
    }
    ty[2 * v->c.layers] = JX_TYPE(JX_F32, batch, width);
    jx_fn *f = jx_trace(loss, n_in, ty, 1, &v->c);
    jx_fn *g = f ? jx_value_and_grad(f, 2 * v->c.layers, wrt) : NULL;
    v->e = g ? jit_compile_keep(g, NULL) : NULL;
    char *plan = v->e ? jit_exe_plan(v->e) : NULL;
    const char *a = plan ? strstr(plan, "arena ") : NULL;
    if (a) {
        v->arena = atoll(a + 6);
        for (const char *p = strstr(plan, ": gemm "); p; p = strstr(p + 1, ": gemm ")) v->gemms++;
    } else {
        fprintf(stderr, "bench_remat: %s\n", jx_error());
    }
    free(plan);
    jx_fn_free(g);
    jx_fn_free(f);
    return a ? 0 : -1;
}

/* Runs v once into its outputs; the seconds it took, or -1. */
static double run_once(variant *v, jx_array **in) {
    double t0 = now();
    if (jx_exe_run(v->e, in, v->out) < 0) {
        fprintf(stderr, "bench_remat: %s\n", jx_error());
        return -1;
    }
    return now() - t0;
}

/* Prints one line per variant (vs[0] the plain step), its times sorted in place. */
static void report(variant *vs, int nv, int n_out, int reps) {
    printf("%-22s %14s %10s %6s %10s %s\n", "checkpointing", "arena bytes", "arena MiB",
           "gemms", "step ms", "grads vs none");
    for (int v = 0; v < nv; v++) {
        char name[64], same[32] = "-";
        if (v == 0)
            snprintf(name, sizeof name, "none");
        else
            snprintf(name, sizeof name, "every %d layer%s", vs[v].c.every,
                     vs[v].c.every > 1 ? "s" : "");
        if (v > 0) {
            int eq = 1;
            for (int j = 0; j < n_out; j++)
                eq &= !memcmp(jx_array_cdata(vs[0].out[j]), jx_array_cdata(vs[v].out[j]),
                              jx_array_nbytes(vs[v].out[j]));
            snprintf(same, sizeof same, "%s", eq ? "bit-identical" : "DIFFERENT");
        }
        qsort(vs[v].t, (size_t)reps, sizeof vs[v].t[0], cmp_d);
        printf("%-22s %14lld %10.1f %6d %10.2f %s\n", name, vs[v].arena,
               (double)vs[v].arena / (1 << 20), vs[v].gemms, 1e3 * vs[v].t[reps / 2], same);
    }
}

/* Parses "1,4" into list; returns the count. */
static int parse_list(const char *s, int *list, int max) {
    int n = 0;
    for (char *end; *s && n < max; s = *end ? end + 1 : end) list[n++] = (int)strtol(s, &end, 10);
    return n;
}

int main(int argc, char **argv) {
    cfg c = {16, 0};
    int64_t batch = 256, width = 1024;
    int reps = 5, every[16] = {1, 4}, n_every = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--layers")) c.layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--width")) width = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--every")) n_every = parse_list(argv[i + 1], every, 16);
        else {
            fprintf(stderr, "usage: bench_remat [--layers N] [--width D] [--batch B] "
                            "[--every K,...] [--reps R]\n");
            return 2;
        }
    }
    int every_ok = n_every >= 1;
    for (int k = 0; k < n_every; k++) every_ok &= every[k] >= 1;
    if (c.layers < 1 || c.layers > MAX_LAYERS || width < 1 || batch < 1 || reps < 1 || !every_ok) {
        fprintf(stderr, "bench_remat: layers in [1, %d]; width, batch, reps and every >= 1\n",
                MAX_LAYERS);
        return 2;
    }
    int n_in = 2 * c.layers + 1, n_out = 1 + 2 * c.layers;
    jx_array *in[2 * MAX_LAYERS + 1];
    jx_key key = jx_key_new(0);
    for (int i = 0; i < n_in; i++) { /* weights ~ N(0, 2/width): activations stay O(1) */
        jx_type t = i == n_in - 1 ? JX_TYPE(JX_F32, batch, width)
                    : i % 2 ? JX_TYPE(JX_F32, width) : JX_TYPE(JX_F32, width, width);
        double sd = i == n_in - 1 ? 1.0 : i % 2 ? 0.1 : sqrt(2.0 / (double)width);
        in[i] = jx_init_normal(jx_key_fold_in(key, (uint32_t)i), t, sd);
    }
    double act = (double)batch * (double)width * 4 / (1 << 20);
    printf("value_and_grad of a %d-layer ReLU MLP, width %lld, batch %lld, f32 "
           "(one activation: %.1f MiB); step times: medians of %d interleaved runs\n",
           c.layers, (long long)width, (long long)batch, act, reps);
    variant vs[17];
    int nv = 1 + n_every, rc = 0;
    if (reps > 64) reps = 64;
    memset(vs, 0, sizeof vs);
    for (int v = 0; v < nv && rc == 0; v++) {
        vs[v].c = (cfg){c.layers, v == 0 ? 0 : every[v - 1]};
        rc = build(&vs[v], batch, width) < 0 || run_once(&vs[v], in) < 0; /* warm up */
    }
    for (int i = 0; i < reps && rc == 0; i++) /* interleaved: load changes hit every variant */
        for (int v = 0; v < nv && rc == 0; v++) rc = (vs[v].t[i] = run_once(&vs[v], in)) < 0;
    if (rc == 0) report(vs, nv, n_out, reps);
    for (int v = 0; v < nv; v++) {
        for (int j = 0; j < n_out; j++) jx_array_free(vs[v].out[j]);
        jx_exe_free(vs[v].e);
    }
    for (int i = 0; i < n_in; i++) jx_array_free(in[i]);
    return rc;
}
