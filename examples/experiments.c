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
 * Per model, one per-example predict is vmapped over the batch inside the loss, and the
 * training step is traced and compiled once (a jx_train: value_and_grad + the optimizer,
 * params and optimizer state donated) and reused by all its learning rates and repeats:
 * the optimizer injects its hyperparameters (jx/optim.h's inject = 1), so the rate is a
 * state entry set at run time (jx_optim_set_hparam) and only the initial params and that
 * entry differ. The epochs run through jx_train_epoch, whose hook swaps in the augmented
 * images and the dropout key. */
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
            fprintf(stderr,
                    "--lrs: expected up to %d positive numbers separated by commas, got '%s'\n",
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

/* Trains model m `repeats` times at each of the n_lrs learning rates lrs (one compiled
 * training step for all: the rate is injected state), printing a line per rate and the
 * compile count, and appending a row to rows[*n_rows].
 * 0, or -1 with jx_error(). */
static int xp_run_model(const xp_model *m, const double *lrs, int n_lrs, int repeats,
                        const ex_opts *o, const ex_data *d, xp_row *rows, int *n_rows) {
    xp_ctx c;
    if (xp_ctx_init(&c, m, o->threads) < 0) return -1;
    printf("\n== %s: %s\n", m->name, m->desc);
    for (int li = 0; li < n_lrs; li++) {
        double acc[MAX_REPEATS];
        if (xp_ctx_set_lr(&c, lrs[li]) < 0) {
            xp_ctx_free(&c);
            return -1;
        }
        for (int r = 0; r < repeats; r++) {
            acc[r] = xp_train(&c, o, o->seed + (uint32_t)r, d);
            if (acc[r] < 0) {
                xp_ctx_free(&c);
                return -1;
            }
        }
        xp_row *row = &rows[(*n_rows)++];
        row->model = m->name, row->lr = lrs[li], row->n = repeats;
        xp_stats(acc, repeats, &row->mean, &row->std);
        printf("  %s lr %g: %.1f%% ± %.1f p.p. (%d training step compiled for %d repeats)\n",
               m->name, lrs[li], 100 * row->mean, 100 * row->std, xp_ctx_n_compiled(&c),
               repeats);
        fflush(stdout);
    }
    printf("  %s: %d compile%s of the training step for %d learning rate%s\n", m->name,
           xp_ctx_n_compiled(&c), xp_ctx_n_compiled(&c) == 1 ? "" : "s", n_lrs,
           n_lrs == 1 ? "" : "s");
    xp_ctx_free(&c);
    return 0;
}

int main(int argc, char **argv) {
    ex_opts o = {.epochs = 10, .batch = 100, .lr = 0, .normalize = 1, .smoke_epochs = 2,
                 .smoke_train = 2000, .smoke_test = 500};
    const char *models = NULL, *lr_list = NULL;
    int repeats = 0, softmax_check = 1;
    const ex_opt own[] = {
        {"--models LIST", EX_STRING, &models,
         .help = "comma-separated, from: baseline softmax l2mom\nsoftmax_l2mom adamw adagrad "
                 "dropout augment deep (default all)"},
        {"--lrs LIST", EX_STRING, &lr_list,
         .help = "learning rates for every model (default: per-model lists)"},
        {"--repeats N", EX_INT, &repeats, .min = 1, .max = MAX_REPEATS,
         .help = "trainings per (model, lr), seeds seed..seed+N-1\n(default 3, 2 with --smoke)"},
        {"--no-softmax-check", EX_FLAG_OFF, &softmax_check,
         .help = "skip the stable-softmax check"},
        {0},
    };
    ex_parse(argc, argv, &o, own,
             "usage: experiments [--models a,b,c] [--lrs 0.1,0.01] [--repeats N] [options]\n"
             "The numpy lab's comparison: sigmoid+MSE baseline, softmax+log-loss, L2 &\n"
             "momentum, AdamW, Adagrad, dropout, augmentation, a deeper net; several\n"
             "learning rates x repeated trainings; a results table sorted by accuracy.\n"
             "--lr X is the same as --lrs X (0: the per-model lists). --smoke also trains\n"
             "2 repeats and the middle lr of each model unless --repeats / --lrs are given.");
    int n_lrs = 0;
    double lrs[MAX_LRS];
    unsigned char sel[32] = {0};
    if ((lr_list && (n_lrs = xp_parse_lrs(lr_list, lrs)) < 0) ||
        (models && xp_parse_models(models, sel) < 0))
        return 2;
    if (o.lr > 0) n_lrs = 1, lrs[0] = o.lr;
    if (!repeats) repeats = o.smoke ? 2 : 3;
    if (softmax_check && xp_softmax_check(o.threads) < 0) return 1;
    ex_data d = {0};
    xp_row *rows = calloc((size_t)xp_n_models * MAX_LRS, sizeof *rows);
    int n_rows = 0, rc = 1;
    if (!rows || ex_load_mnist(&o, EX_FLAT, &d) < 0) goto done;
    if (o.batch > jx_array_dim(d.xtr, 0)) {
        fprintf(stderr, "experiments: batch %lld is larger than the %lld training examples\n",
                (long long)o.batch, (long long)jx_array_dim(d.xtr, 0));
        jx_clear_error();
        goto done;
    }
    printf("experiments: %lld train / %lld test examples, batch %lld, %d epochs, %d repeats\n",
           (long long)jx_array_dim(d.xtr, 0), (long long)jx_array_dim(d.xte, 0), (long long)o.batch,
           o.epochs, repeats);
    double t_all = ex_now();
    for (int mi = 0; mi < xp_n_models; mi++) {
        const xp_model *m = &xp_models[mi];
        if (models && !sel[mi]) continue;
        const double *mlrs = n_lrs ? lrs : m->lrs;
        int n_mlrs = n_lrs ? n_lrs : m->n_lrs;
        if (o.smoke && !n_lrs) mlrs += n_mlrs / 2, n_mlrs = 1; /* the middle one */
        if (xp_run_model(m, mlrs, n_mlrs, repeats, &o, &d, rows, &n_rows) < 0) goto done;
    }
    xp_print_table(rows, n_rows);
    printf("total %.1f s\n", ex_now() - t_all);
    rc = 0;
done:
    if (rc) ex_print_error("experiments");
    free(rows);
    ex_data_free(&d);
    return rc;
}
