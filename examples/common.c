/* Shared example helpers: options, data, clock, error line. The training loop with its
 * progress line, evaluation, parameter init and the accuracy count are in common_train.c. */
#include "common.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- options -------------------------------------------------------------------------- */

/* Length of an option's name without its placeholder ("--clip C" -> 6). */
static int opt_len(const ex_opt *r) { return (int)strcspn(r->name, " "); }

/* The row of table (NULL-terminated, may be NULL) named a, or NULL. */
static const ex_opt *opt_find(const ex_opt *table, const char *a) {
    for (const ex_opt *r = table; r && r->name; r++)
        if (!strncmp(r->name, a, (size_t)opt_len(r)) && a[opt_len(r)] == 0) return r;
    return NULL;
}

/* Prints one --help line (and its continuation lines): name, help, default. */
static void opt_help(const ex_opt *r) {
    int col = printf("  %s", r->name);
    printf("%*s", col <= 16 ? 18 - col : 2, "");
    for (const char *h = r->help; *h; h++)
        if (*h == '\n') printf("\n%18s", "");
        else putchar(*h);
    if (!strstr(r->help, "(default")) {
        switch (r->kind) {
        case EX_FLAG: if (*(int *)r->value) printf(" (default)"); break;
        case EX_FLAG_OFF: if (!*(int *)r->value) printf(" (default)"); break;
        case EX_INT: printf(" (default %d)", *(int *)r->value); break;
        case EX_I64: printf(" (default %lld)", (long long)*(int64_t *)r->value); break;
        case EX_U32: printf(" (default %u)", (unsigned)*(uint32_t *)r->value); break;
        case EX_DOUBLE: printf(" (default %g)", *(double *)r->value); break;
        case EX_STRING:
            if (*(const char **)r->value) printf(" (default %s)", *(const char **)r->value);
            break;
        }
    }
    putchar('\n');
}

/* Parses v as the value of row r and stores it. 0, or -1 after a message. */
static int opt_set(const ex_opt *r, const char *v) {
    int n = opt_len(r);
    if (r->kind == EX_STRING) {
        *(const char **)r->value = v;
        return 0;
    }
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x)) {
        fprintf(stderr, "%.*s: '%s' is not a number\n", n, r->name, v);
        return -1;
    }
    /* The type's range [lo, hi) for the integer kinds. */
    double lo = -INFINITY, hi = INFINITY;
    if (r->kind == EX_INT) lo = INT_MIN, hi = INT_MAX + 1.0;
    else if (r->kind == EX_I64) lo = -0x1p63, hi = 0x1p63;
    else if (r->kind == EX_U32) lo = 0, hi = 0x1p32;
    if (r->kind != EX_DOUBLE && x != floor(x)) {
        fprintf(stderr, "%.*s: '%s' is not an integer\n", n, r->name, v);
        return -1;
    }
    int ranged = r->min < r->max;
    int ok = x >= lo && x < hi &&
             (!ranged || ((r->above_min ? x > r->min : x >= r->min) && x <= r->max));
    if (!ok) {
        fprintf(stderr, "%.*s: %s is out of range", n, r->name, v);
        if (!ranged) fprintf(stderr, " (expected %.0f..%.0f)\n", lo, hi - 1);
        else if (r->above_min) fprintf(stderr, " (expected > %g)\n", r->min);
        else if (r->max >= hi - 1) fprintf(stderr, " (expected >= %g)\n", r->min);
        else fprintf(stderr, " (expected %g..%g)\n", r->min, r->max);
        return -1;
    }
    switch (r->kind) {
    case EX_INT: *(int *)r->value = (int)x; break;
    case EX_I64: *(int64_t *)r->value = (int64_t)x; break;
    case EX_U32: *(uint32_t *)r->value = (uint32_t)x; break;
    default: *(double *)r->value = x; break;
    }
    return 0;
}

/* Prints the usage and the option tables. */
static void opt_usage(const char *usage, const ex_opt *extra, const ex_opt *common) {
    printf("%s\n", usage);
    if (extra && extra->name) {
        printf("\noptions:\n");
        for (const ex_opt *r = extra; r->name; r++) opt_help(r);
    }
    printf("\ncommon options:\n");
    for (const ex_opt *r = common; r->name; r++) opt_help(r);
}

void ex_parse(int argc, char **argv, ex_opts *o, const ex_opt *extra, const char *usage) {
    if (!o->data) o->data = JX_MNIST_DEFAULT_DIR;
    if (!o->smoke_epochs) o->smoke_epochs = 1;
    if (!o->smoke_train) o->smoke_train = 2048;
    if (!o->smoke_test) o->smoke_test = 512;
    char smoke_help[160];
    snprintf(smoke_help, sizeof smoke_help,
             "a short run for tests: the first %lld/%lld examples,\n%d epoch%s unless --epochs "
             "is given",
             (long long)o->smoke_train, (long long)o->smoke_test, o->smoke_epochs,
             o->smoke_epochs == 1 ? "" : "s");
    const ex_opt common[] = {
        {"--data DIR", EX_STRING, &o->data, .help = "IDX files"},
        {"--epochs N", EX_INT, &o->epochs, .help = "passes over the training set", .min = 1,
         .max = INT_MAX},
        {"--seed N", EX_U32, &o->seed, .help = "PRNG seed"},
        {"--batch N", EX_I64, &o->batch, .help = "batch size", .min = 1, .max = 0x1p63},
        {"--lr X", EX_DOUBLE, &o->lr, .help = "learning rate"},
        {"--normalize", EX_FLAG, &o->normalize, .help = "scale pixels to [0,1]"},
        {"--no-normalize", EX_FLAG_OFF, &o->normalize, .help = "raw 0..255 pixels"},
        {"--threads N", EX_INT, &o->threads, .max = INT_MAX,
         .help = "compute threads (default: JX_NUM_THREADS or all cores)"},
        {"--smoke", EX_FLAG, &o->smoke, .help = smoke_help},
        {0},
    };
    int epochs_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            opt_usage(usage, extra, common);
            exit(0);
        }
        const ex_opt *r = opt_find(extra, a);
        if (!r) r = opt_find(common, a);
        if (!r) {
            fprintf(stderr, "unknown argument '%s' (try --help)\n", a);
            exit(2);
        }
        if (r->kind == EX_FLAG || r->kind == EX_FLAG_OFF) {
            *(int *)r->value = r->kind == EX_FLAG;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s needs a value\n", a);
            exit(2);
        }
        if (opt_set(r, argv[++i]) < 0) exit(2);
        epochs_given |= r->value == (void *)&o->epochs;
    }
    if (o->smoke && !epochs_given && o->epochs > o->smoke_epochs) o->epochs = o->smoke_epochs;
}

const char *ex_pixels(const ex_opts *o) { return o->normalize ? "[0,1]" : "raw 0..255"; }

void ex_print_error(const char *prog) {
    if (*jx_error()) fprintf(stderr, "%s: %s\n", prog, jx_error());
}

double ex_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- data ----------------------------------------------------------------------------- */

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

/* Loads split "train" or "test" as images *x and labels *y, keeping only the first
 * `limit` examples when limit > 0. 0 or -1 with jx_error(). */
static int ex_load(const ex_opts *o, const char *split, int64_t limit, ex_layout layout,
                   jx_array **x, jx_array **y) {
    jx_array *img = NULL, *lab = NULL;
    if (jx_mnist_load(o->data, split, o->normalize, &img, &lab) < 0) return -1;
    int64_t n = jx_array_dim(img, 0);
    if (limit > 0 && limit < n) {
        jx_array *a = ex_head(img, limit), *b = ex_head(lab, limit);
        jx_array_free(img), jx_array_free(lab);
        img = a, lab = b, n = limit;
    }
    int64_t flat_shape[2] = {n, 784}, nhwc[4] = {n, 28, 28, 1};
    *x = img ? layout == EX_FLAT ? jx_data_reshape(img, 2, flat_shape)
                                 : jx_data_reshape(img, 4, nhwc)
             : NULL;
    *y = lab;
    jx_array_free(img);
    return *x && *y ? 0 : -1;
}

int ex_load_mnist(const ex_opts *o, ex_layout layout, ex_data *d) {
    *d = (ex_data){NULL, NULL, NULL, NULL};
    if (ex_load(o, "train", o->smoke ? o->smoke_train : 0, layout, &d->xtr, &d->ytr) < 0 ||
        ex_load(o, "test", o->smoke ? o->smoke_test : 0, layout, &d->xte, &d->yte) < 0)
        return -1;
    return 0;
}

void ex_data_free(ex_data *d) {
    jx_array_free(d->xtr), jx_array_free(d->ytr), jx_array_free(d->xte), jx_array_free(d->yte);
    *d = (ex_data){NULL, NULL, NULL, NULL};
}
