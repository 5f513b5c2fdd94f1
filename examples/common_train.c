/* Shared example helpers that print: the progress line, an epoch run with it, and the
 * accuracy report. */
#include <stdio.h>
#include <unistd.h>

#include "common.h"

/* ---- progress line -------------------------------------------------------------------- */

static int ex_progress_shown;

/* Shows "epoch 1/8 [=====>    ] 312/469 loss 0.412 1830 ex/s" on stderr when it is a
 * terminal. */
static void ex_progress(int epoch, int epochs, int64_t step, int64_t steps, double loss,
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

int ex_progress_hook(jx_train *train, jx_train_batch *b, void *user) {
    ex_progress_opts *p = user;
    (void)train;
    if (b->after && ((p->every > 0 && b->index % p->every == 0) || b->index + 1 == b->count))
        ex_progress(p->epoch + 1, p->epochs, b->index + 1, b->count, b->loss,
                    (double)b->done / (ex_now() - p->t0));
    return 0;
}

void ex_progress_done(void) {
    if (ex_progress_shown) fprintf(stderr, "\r%80s\r", "");
    ex_progress_shown = 0;
}

/* ---- an epoch ------------------------------------------------------------------------- */

int ex_epoch(jx_train *train, const jx_array *x, const jx_array *y, jx_epoch_opts *eo,
             ex_progress_opts *prog, int epoch, double *seconds, double *loss) {
    double t0 = ex_now();
    if (prog) prog->epoch = epoch, prog->t0 = t0;
    eo->epoch = (uint64_t)epoch;
    int rc = jx_train_epoch(train, x, y, eo, loss);
    ex_progress_done();
    if (seconds) *seconds = ex_now() - t0;
    return rc;
}

/* ---- evaluation ----------------------------------------------------------------------- */

/* *acc = eval's summed hit count over (x, y) / N, *loss (when not NULL) its summed loss
 * / N, through jx_eval_sum in chunks of batch rows. 0 or -1. */
static int ex_evaluate(jx_jitfn *eval, int n_params, jx_array **params, const jx_array *x,
                       const jx_array *y, int64_t batch, double *acc, double *loss) {
    double sums[2] = {0, 0};
    int64_t n = jx_array_dim(x, 0);
    if (jx_eval_sum(eval, n_params, params, x, y, batch, loss ? 2 : 1, sums) < 0) return -1;
    *acc = n ? sums[0] / (double)n : 0;
    if (loss) *loss = n ? sums[1] / (double)n : 0;
    return 0;
}

int ex_report(jx_jitfn *eval, int n_params, jx_array **params, const ex_data *d,
              int64_t batch, unsigned what) {
    for (int s = 0; s < 2; s++) {
        double acc, loss;
        if (!(what & (s ? EX_TEST_SET : EX_TRAIN_SET))) continue;
        if (ex_evaluate(eval, n_params, params, s ? d->xte : d->xtr, s ? d->yte : d->ytr, batch,
                        &acc, what & EX_WITH_LOSS ? &loss : NULL) < 0)
            return -1;
        printf("%s set accuracy %.4f", s ? "Test" : "Training", acc);
        if (what & EX_WITH_LOSS) printf(" (loss %.4f)", loss);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}
