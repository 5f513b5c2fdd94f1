/* Shared example helpers: options, progress, clock, data, accuracy. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Parses one numeric option value; 0 or -1. */
static int ex_num(const char *flag, const char *v, double *out) {
    char *end;
    if (!v) {
        fprintf(stderr, "%s needs a value\n", flag);
        return -1;
    }
    *out = strtod(v, &end);
    if (end == v || *end) {
        fprintf(stderr, "%s: '%s' is not a number\n", flag, v);
        return -1;
    }
    return 0;
}

int ex_parse(int argc, char **argv, ex_opts *o, const char *usage) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s\n\ncommon options:\n"
                   "  --data DIR     IDX files (default %s)\n"
                   "  --epochs N     passes over the training set (default %d)\n"
                   "  --seed N       PRNG seed (default %u)\n"
                   "  --batch N      batch size (default %lld)\n"
                   "  --lr X         learning rate (default %g)\n"
                   "  --normalize    scale pixels to [0,1] (default: %s)\n"
                   "  --threads N    compute threads (default: JX_NUM_THREADS or all cores)\n"
                   "  --smoke        a few steps on a small slice (for tests)\n",
                   usage, JX_MNIST_DEFAULT_DIR, o->epochs, o->seed, (long long)o->batch, o->lr,
                   o->normalize ? "on" : "raw 0..255 pixels");
            return 1;
        } else if (!strcmp(a, "--data") && v) {
            o->data = v, i++;
        } else if (!strcmp(a, "--smoke")) {
            o->smoke = 1;
        } else if (!strcmp(a, "--normalize")) {
            o->normalize = 1;
        } else if (!strcmp(a, "--epochs") || !strcmp(a, "--seed") || !strcmp(a, "--batch") ||
                   !strcmp(a, "--lr") || !strcmp(a, "--threads")) {
            if (ex_num(a, v, &x) < 0) return 2;
            i++;
            if (a[2] == 'e') o->epochs = (int)x;
            else if (a[2] == 's') o->seed = (uint32_t)x;
            else if (a[2] == 'b') o->batch = (int64_t)x;
            else if (a[2] == 'l') o->lr = x;
            else o->threads = (int)x;
            if ((a[2] == 'e' && x < 0) || (a[2] == 'b' && x < 1) || (a[2] == 't' && x < 0)) {
                fprintf(stderr, "%s: %g is out of range\n", a, x);
                return 2;
            }
        } else {
            fprintf(stderr, "unknown argument '%s' (try --help)\n", a);
            return 2;
        }
    }
    return 0;
}

double ex_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int ex_progress_shown;

void ex_progress(int epoch, int epochs, int64_t step, int64_t steps, double loss,
                 double ex_per_s) {
    if (!isatty(STDERR_FILENO)) return;
    char bar[31];
    int fill = steps > 0 ? (int)(30 * step / steps) : 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[30] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f ex/s ", epoch, epochs, bar,
            (long long)step, (long long)steps, loss, ex_per_s);
    ex_progress_shown = 1;
}

void ex_progress_done(void) {
    if (ex_progress_shown) fprintf(stderr, "\r%80s\r", "");
    ex_progress_shown = 0;
}

/* A copy of the first n rows of a (caller frees). */
static jx_array *ex_head(jx_array *a, int64_t n) {
    int r = jx_array_rank(a);
    const int64_t *sh = jx_array_shape(a);
    int64_t shape[JX_MAX_RANK];
    for (int d = 0; d < r; d++) shape[d] = sh[d];
    if (n > shape[0]) n = shape[0];
    shape[0] = n;
    return jx_array_from(jx_array_dtype(a), r, shape, jx_array_data(a));
}

int ex_load(const ex_opts *o, const char *split, int64_t limit, int flat, jx_array **x,
            jx_array **y) {
    jx_array *img = NULL, *lab = NULL;
    *x = *y = NULL;
    if (jx_mnist_load(o->data, split, o->normalize, &img, &lab) < 0) return -1;
    int64_t n = jx_array_dim(img, 0);
    if (limit > 0 && limit < n) {
        jx_array *a = ex_head(img, limit), *b = ex_head(lab, limit);
        jx_array_free(img), jx_array_free(lab);
        img = a, lab = b, n = limit;
    }
    int64_t flat_shape[2] = {n, 784}, nhwc[4] = {n, 28, 28, 1};
    *x = flat ? jx_data_reshape(img, 2, flat_shape) : jx_data_reshape(img, 4, nhwc);
    *y = lab;
    jx_array_free(img);
    return *x ? 0 : -1;
}

double ex_accuracy(jx_jitfn *predict, int n_params, jx_array **params, const jx_array *x,
                   const jx_array *y, int64_t batch) {
    jx_batch_iter it;
    if (jx_batch_iter_init(&it, x, y, batch, 0) < 0) return -1;
    jx_array *in[64];
    int64_t correct = 0, total = 0;
    for (int i = 0; i < n_params && i < 63; i++) in[i] = params[i];
    jx_batch_iter_reset(&it, NULL);
    while (jx_batch_iter_next(&it)) {
        in[n_params] = it.x;
        jx_array *cls = NULL;
        if (jx_jitfn_run(predict, in, &cls) < 0) {
            jx_batch_iter_free(&it);
            return -1;
        }
        const int32_t *c = jx_array_cdata(cls), *l = jx_array_cdata(it.y);
        for (int64_t b = 0; b < it.size; b++) correct += c[b] == l[b];
        total += it.size;
        jx_array_free(cls);
    }
    jx_batch_iter_free(&it);
    return total ? (double)correct / (double)total : 0;
}
