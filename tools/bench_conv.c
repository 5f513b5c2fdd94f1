/* bench_conv: one convolution layer's three products (the forward conv, the input
 * gradient and the filter gradient of jx_conv2d's patch form, as value_and_grad traces
 * them) through the direct kernels (JX_CONV=direct) and through the patch GEMMs
 * (JX_CONV=gemm), interleaved rep by rep, over a sweep of shapes: the data behind the
 * per-shape rule of src/prims/conv_direct.c (cd_choose_direct), which the last column
 * shows. Prints per shape the multiply-adds of the three products, each path's min and
 * median time in ms and its GMAC/s (from the min), and the load average before and after.
 *
 * usage: bench_conv [--threads T] [--reps R] [--batch N] [SHAPE...]
 *   SHAPE is HxWxC:O:K (image, channels in and out, a KxK window, SAME padding, stride 1),
 *   default a sweep from 28x28x1:4:4 to 7x7x128:128:3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jit/jit.h"
#include "jx.h"

/* A layer: batch, image, channels, window. */
typedef struct bv_shape {
    int64_t n, h, w, c, o, k;
} bv_shape;

static const char *const bv_default[] = {
    "28x28x1:4:4",   "28x28x4:4:4",   "28x28x4:16:3",  "28x28x16:16:3", "28x28x16:32:3",
    "28x28x32:32:3", "14x14x32:64:3", "14x14x64:64:3", "14x14x64:128:3", "7x7x128:128:3",
    "28x28x8:8:5",   "14x14x32:32:5",
};

/* Milliseconds on the monotonic clock. */
static double bv_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* qsort order of doubles. */
static int bv_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The three products of layer s in patch form (SAME: pads (k-1)/2 before, k/2 after). */
static jx_fn *bv_fn(const bv_shape *s) {
    int64_t lo = (s->k - 1) / 2, hi = s->k / 2;
    jx_type ts[3] = {JX_TYPE(JX_F32, s->n, s->h, s->w, s->c),
                     JX_TYPE(JX_F32, s->k * s->k * s->c, s->o),
                     JX_TYPE(JX_F32, s->n, s->h, s->w, s->o)};
    jx_trace *t = jx_trace_begin(3, ts);
    jx_val x = jx_trace_input(t, 0), w = jx_trace_input(t, 1), g = jx_trace_input(t, 2);
    jx_ints win = JX_INTS(s->k, s->k), st = JX_INTS(1, 1), pl = JX_INTS(lo, lo),
            ph = JX_INTS(hi, hi);
    jx_val p = jx_conv_patches(x, win, st, pl, ph), r[3];
    r[0] = jx_dot_general(p, w, JX_INTS(3), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    r[1] = jx_conv_patches_t(jx_dot_general(g, w, JX_INTS(3), JX_INTS(1), JX_NOINTS, JX_NOINTS),
                             JX_INTS(s->h, s->w), win, st, pl, ph);
    r[2] = jx_dot_general(p, g, JX_INTS(0, 1, 2), JX_INTS(0, 1, 2), JX_NOINTS, JX_NOINTS);
    return jx_trace_end(t, 3, r);
}

/* Compiles f with JX_CONV=mode (NULL: unset) and n threads. */
static jx_exe *bv_jit(const jx_fn *f, const char *mode, int nthr) {
    if (mode) setenv("JX_CONV", mode, 1);
    else unsetenv("JX_CONV");
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, nthr, 1});
    unsetenv("JX_CONV");
    return e;
}

/* Times layer s: prints its row. 0 or -1 with jx_error(). */
static int bv_layer(const bv_shape *s, int nthr, int reps, int rule_direct) {
    jx_fn *f = bv_fn(s);
    jx_exe *e[2] = {f ? bv_jit(f, "direct", nthr) : NULL, f ? bv_jit(f, "gemm", nthr) : NULL};
    jx_array *in[3] = {0}, *out[2][3] = {{0}};
    double *t[2] = {calloc((size_t)reps, sizeof(double)), calloc((size_t)reps, sizeof(double))};
    int rc = -1;
    if (!f || !e[0] || !e[1] || !t[0] || !t[1]) goto done;
    for (int i = 0; i < 3; i++) {
        jx_type ty = jx_fn_in_type(f, i);
        in[i] = jx_array_new_type(&ty);
        float *d = jx_array_data(in[i]);
        for (int64_t j = 0; j < jx_array_size(in[i]); j++)
            d[j] = (float)((j * 7919 % 2001) - 1000) * 1e-3f;
    }
    for (int r = -2; r < reps; r++)
        for (int v = 0; v < 2; v++) {
            double t0 = bv_ms();
            if (jx_exe_run(e[v], in, out[v]) < 0) goto done;
            if (r >= 0) t[v][r] = bv_ms() - t0;
        }
    double macs = 3.0 * (double)(s->n * s->h * s->w * s->o * s->k * s->k * s->c);
    printf("%4lld %3lldx%-3lld %4lld %4lld %2lldx%-2lld %8.1f", (long long)s->n, (long long)s->h,
           (long long)s->w, (long long)s->c, (long long)s->o, (long long)s->k, (long long)s->k,
           macs * 1e-6);
    for (int v = 0; v < 2; v++) {
        qsort(t[v], (size_t)reps, sizeof(double), bv_cmp);
        printf(" | %8.3f %8.3f %6.1f", t[v][0], t[v][reps / 2], macs / (t[v][0] * 1e6));
    }
    printf(" | %s\n", rule_direct ? "direct" : "gemm");
    rc = 0;
done:
    for (int i = 0; i < 3; i++) {
        jx_array_free(in[i]);
        jx_array_free(out[0][i]);
        jx_array_free(out[1][i]);
    }
    jx_exe_free(e[0]);
    jx_exe_free(e[1]);
    jx_fn_free(f);
    free(t[0]);
    free(t[1]);
    return rc;
}

/* 1 if the default rule's plan for layer s has a direct kernel. */
static int bv_rule(const bv_shape *s) {
    jx_fn *f = bv_fn(s);
    unsetenv("JX_CONV");
    jx_exe *e = f ? jit_compile_keep(f, &(jx_jit_opts){NULL, 1, 1}) : NULL;
    char *plan = e ? jit_exe_plan(e) : NULL;
    int d = plan && strstr(plan, "(direct") != NULL;
    free(plan);
    jx_exe_free(e);
    jx_fn_free(f);
    return d;
}

/* Prints /proc/loadavg's first three fields. */
static void bv_load(const char *when) {
    FILE *fp = fopen("/proc/loadavg", "r");
    double la[3];
    if (fp && fscanf(fp, "%lf %lf %lf", &la[0], &la[1], &la[2]) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, la[0], la[1], la[2]);
    if (fp) fclose(fp);
}

int main(int argc, char **argv) {
    int nthr = 1, reps = 7, nshape = 0;
    int64_t batch = 32;
    const char *shapes[64];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) nthr = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoll(argv[++i]);
        else if (argv[i][0] != '-' && nshape < 64) shapes[nshape++] = argv[i];
        else {
            fprintf(stderr,
                    "usage: bench_conv [--threads T] [--reps R] [--batch N] [HxWxC:O:K ...]\n");
            return 2;
        }
    }
    if (nthr < 1 || reps < 1 || batch < 1) return 2;
    if (!nshape)
        for (size_t i = 0; i < sizeof bv_default / sizeof bv_default[0]; i++)
            shapes[nshape++] = bv_default[i];
    bv_load("before");
    printf("conv layer: forward + input gradient + filter gradient, f32, %d thread%s, min and "
           "median of %d reps\n", nthr, nthr > 1 ? "s" : "", reps);
    printf("   N   HxW    C    O   win    MMAC |   direct   median  GMAC/s |     gemm   median  "
           "GMAC/s | rule\n");
    for (int i = 0; i < nshape; i++) {
        bv_shape s = {batch, 0, 0, 0, 0, 0};
        long long h, w, c, o, k;
        if (sscanf(shapes[i], "%lldx%lldx%lld:%lld:%lld", &h, &w, &c, &o, &k) != 5 || h < 1 ||
            w < 1 || c < 1 || o < 1 || k < 1) {
            fprintf(stderr, "bench_conv: bad shape '%s' (want HxWxC:O:K)\n", shapes[i]);
            return 2;
        }
        s.h = h, s.w = w, s.c = c, s.o = o, s.k = k;
        if (bv_layer(&s, nthr, reps, bv_rule(&s)) < 0) {
            fprintf(stderr, "bench_conv: %s\n", jx_error());
            return 1;
        }
        fflush(stdout);
    }
    bv_load("after");
    return 0;
}
