/* experiments: the numpy "from scratch" lab's comparison in C with jx.
 *
 * Trains several variants of a small MLP, each for several learning rates x repeated
 * trainings (different seeds: initial params and shuffling differ), and prints the lab's
 * results table sorted by mean test accuracy: model, lr, mean accuracy +- std (population
 * std, as np.std). It also runs the lab's Task 0: jx_softmax is finite and correct on
 * inputs of 1e6 where a naive exp(x)/sum(exp(x)) overflows.
 *
 * As in the lab: sigmoid hidden layers, [784,30,10] unless said, biases ~ normal and
 * weights ~ normal / sqrt(fan_in), mini-batches of 100 (the last partial batch dropped),
 * 10 epochs, pixels in [0,1]. Unlike the lab (which walks the data in file order), the
 * training set is reshuffled every epoch. The variants (experiments_models.c):
 *   baseline       sigmoid output + MSE, SGD (the lab's starting point)
 *   softmax        softmax output + log-loss, SGD (Task 1)
 *   l2mom          baseline + L2 1e-5 (weights only) + momentum 0.2 (Task 2)
 *   softmax_l2mom  softmax + L2 1e-6 (weights only) + momentum 0.1 (Task 1 + 2)
 *   adamw          softmax + AdamW (b 0.9/0.999, eps 1e-8, decay 1e-2 on weights)
 *   adagrad        softmax + Adagrad (accumulator from 0, eps 1e-8)
 *   dropout        softmax_l2mom + dropout 0.1 on the hidden layer
 *   augment        softmax_l2mom + random shifts (+-1 px) and rotations (+-5 deg)
 *   deep           softmax_l2mom on [784,100,30,10] (Task 4)
 * Each model has its own default learning rates (--lrs overrides them for all).
 *
 * Per model, one per-example predict is vmapped over the batch inside the loss, and each
 * (model, lr) configuration is traced and compiled once (jx_optim_train_step under
 * jx_jit_trace, params and optimizer state donated) and reused by all its repeats: only
 * the initial params differ. */
#include <jx/nn.h>
#include <jx/optim.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "experiments.h"

enum { MAX_LRS = 8, MAX_REPEATS = 64 };

/* One line of the results table. */
typedef struct xp_row {
    const char *model;
    double lr, mean, std;
    int n;
} xp_row;

/* Sorts rows by mean accuracy, best first. */
static int xp_row_cmp(const void *a, const void *b) {
    double x = ((const xp_row *)a)->mean, y = ((const xp_row *)b)->mean;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Parses "0.1,0.01" into lrs (at most MAX_LRS, each > 0). Count or -1 with a message. */
static int xp_parse_lrs(const char *s, double *lrs) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v > 0) || n == MAX_LRS) {
            fprintf(stderr, "--lrs: expected up to %d positive numbers separated by commas, got '%s'\n",
                    MAX_LRS, s);
            return -1;
        }
        lrs[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (!n) fprintf(stderr, "--lrs: empty list\n");
    return n ? n : -1;
}

/* Marks the models named in "a,b,c" in sel[]. 0 or -1 with a message. */
static int xp_parse_models(const char *s, unsigned char *sel) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    int any = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int i = xp_model_find(tok);
        if (i < 0) {
            fprintf(stderr, "--models: unknown model '%s' (one of:", tok);
            for (int k = 0; k < xp_n_models; k++) fprintf(stderr, " %s", xp_models[k].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        sel[i] = 1, any = 1;
    }
    if (!any) fprintf(stderr, "--models: empty list\n");
    return any ? 0 : -1;
}

/* The options of this example alone. */
typedef struct xp_opts {
    int repeats;
    int n_lrs;
    double lrs[MAX_LRS];
    unsigned char sel[32];
    int any_sel;
    int no_softmax_check;
} xp_opts;

/* Takes --repeats N, --lrs L, --models M and --no-softmax-check out of argv (the rest go
 * to ex_parse). Returns the new argc, or -1 after a message. */
static int xp_own_opts(int argc, char **argv, xp_opts *x) {
    int n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = !strcmp(a, "--repeats") || !strcmp(a, "--lrs") || !strcmp(a, "--models");
        if (takes && i + 1 >= argc) {
            fprintf(stderr, "%s needs a value\n", a);
            return -1;
        }
        if (!strcmp(a, "--repeats")) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < 1 || v > MAX_REPEATS) {
                fprintf(stderr, "--repeats: expected 1..%d, got '%s'\n", MAX_REPEATS, argv[i]);
                return -1;
            }
            x->repeats = (int)v;
        } else if (!strcmp(a, "--lrs")) {
            if ((x->n_lrs = xp_parse_lrs(argv[++i], x->lrs)) < 0) return -1;
        } else if (!strcmp(a, "--models")) {
            if (xp_parse_models(argv[++i], x->sel) < 0) return -1;
            x->any_sel = 1;
        } else if (!strcmp(a, "--no-softmax-check")) {
            x->no_softmax_check = 1;
        } else {
            argv[n++] = argv[i];
        }
    }
    return n;
}

/* Mean and population standard deviation of v[0..n-1]. */
static void xp_stats(const double *v, int n, double *mean, double *std) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *std = n ? sqrt(q / n) : 0;
}

/* Prints the table like the lab's display_results: model, lr, "mean% ± std p.p.". */
static void xp_print_table(xp_row *rows, int n) {
    qsort(rows, (size_t)n, sizeof *rows, xp_row_cmp);
    printf("\n%-14s %8s  %s\n", "model", "lr", "accuracy (mean ± std over repeats)");
    for (int i = 0; i < n; i++)
        printf("%-14s %8g  %5.1f%% ± %.1f p.p. (n=%d)\n", rows[i].model, rows[i].lr,
               100 * rows[i].mean, 100 * rows[i].std, rows[i].n);
}

int main(int argc, char **argv) {
    ex_opts o = {NULL, 10, 0, 0, 100, 0, 1, 0};
    xp_opts x = {3, 0, {0}, {0}, 0, 0};
    argc = xp_own_opts(argc, argv, &x);
    if (argc < 0) return 2;
    int rc = ex_parse(argc, argv, &o,
                      "usage: experiments [--models a,b,c] [--lrs 0.1,0.01] [--repeats N] [options]\n"
                      "The numpy lab's comparison: sigmoid+MSE baseline, softmax+log-loss, L2 &\n"
                      "momentum, AdamW, Adagrad, dropout, augmentation, a deeper net; several\n"
                      "learning rates x repeated trainings; a results table sorted by accuracy.\n"
                      "  --models LIST  comma-separated, from: baseline softmax l2mom\n"
                      "                 softmax_l2mom adamw adagrad dropout augment deep (default all)\n"
                      "  --lrs LIST     learning rates for every model (default: per-model lists)\n"
                      "  --lr X         the same as --lrs X (0: per-model lists)\n"
                      "  --repeats N    trainings per (model, lr), seeds seed..seed+N-1 (default 3)\n"
                      "  --no-softmax-check  skip the stable-softmax check\n"
                      "  --smoke        2 epochs, 2 repeats, one lr per model, on 2000/500 examples");
    if (rc) return rc == 1 ? 0 : 2;
    if (o.lr > 0) x.n_lrs = 1, x.lrs[0] = o.lr;
    if (o.smoke) {
        if (o.epochs > 2) o.epochs = 2;
        if (x.repeats > 2) x.repeats = 2;
    }
    rc = 1;
    if (!x.no_softmax_check && xp_softmax_check(o.threads) < 0) return 1;
    jx_array *xtr = NULL, *ytr = NULL, *xte = NULL, *yte = NULL;
    xp_row *rows = calloc((size_t)xp_n_models * MAX_LRS, sizeof *rows);
    int n_rows = 0;
    if (!rows || ex_load(&o, "train", o.smoke ? 2000 : 0, 1, &xtr, &ytr) < 0 ||
        ex_load(&o, "test", o.smoke ? 500 : 0, 1, &xte, &yte) < 0)
        goto done;
    if (o.batch > jx_array_dim(xtr, 0)) {
        fprintf(stderr, "experiments: batch %lld is larger than the %lld training examples\n",
                (long long)o.batch, (long long)jx_array_dim(xtr, 0));
        jx_clear_error();
        goto done;
    }
    printf("experiments: %lld train / %lld test examples, batch %lld, %d epochs, %d repeats\n",
           (long long)jx_array_dim(xtr, 0), (long long)jx_array_dim(xte, 0), (long long)o.batch,
           o.epochs, x.repeats);
    double t_all = ex_now();
    for (int mi = 0; mi < xp_n_models; mi++) {
        const xp_model *m = &xp_models[mi];
        if (x.any_sel && !x.sel[mi]) continue;
        const double *lrs = x.n_lrs ? x.lrs : m->lrs;
        int n_lrs = x.n_lrs ? x.n_lrs : m->n_lrs;
        if (o.smoke && !x.n_lrs) lrs += n_lrs / 2, n_lrs = 1; /* the middle one */
        xp_ctx c;
        if (xp_ctx_init(&c, m, o.threads) < 0) goto done;
        printf("\n== %s: %s\n", m->name, m->desc);
        for (int li = 0; li < n_lrs; li++) {
            double acc[MAX_REPEATS];
            if (xp_ctx_set_lr(&c, lrs[li]) < 0) {
                xp_ctx_free(&c);
                goto done;
            }
            for (int r = 0; r < x.repeats; r++) {
                acc[r] = xp_train(&c, &o, o.seed + (uint32_t)r, xtr, ytr, xte, yte);
                if (acc[r] < 0) {
                    xp_ctx_free(&c);
                    goto done;
                }
            }
            xp_row *row = &rows[n_rows++];
            row->model = m->name, row->lr = lrs[li], row->n = x.repeats;
            xp_stats(acc, x.repeats, &row->mean, &row->std);
            printf("  %s lr %g: %.1f%% ± %.1f p.p. (%d training step compiled for %d repeats)\n",
                   m->name, lrs[li], 100 * row->mean, 100 * row->std, xp_ctx_n_compiled(&c),
                   x.repeats);
            fflush(stdout);
        }
        xp_ctx_free(&c);
    }
    xp_print_table(rows, n_rows);
    printf("total %.1f s\n", ex_now() - t_all);
    rc = 0;
done:
    if (rc && *jx_error()) fprintf(stderr, "experiments: %s\n", jx_error());
    free(rows);
    jx_array_free(xtr), jx_array_free(ytr), jx_array_free(xte), jx_array_free(yte);
    return rc;
}
