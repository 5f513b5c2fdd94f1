/* Shared example helpers: parameter init, the accuracy count, the training loop with its
 * progress line, and evaluation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

/* ---- parameters ----------------------------------------------------------------------- */

void ex_dense_types(int layers, const int64_t *sizes, jx_type *types) {
    for (int l = 0; l < layers; l++) {
        types[2 * l] = JX_TYPE(JX_F32, sizes[l], sizes[l + 1]);
        types[2 * l + 1] = JX_TYPE(JX_F32, sizes[l + 1]);
    }
}

/* A new array of type t drawn from key as kind and scale say; NULL with jx_error(). */
static jx_array *ex_draw(ex_init_kind kind, double scale, jx_key key, jx_type t) {
    double fan_in, fan_out;
    switch (kind) {
    case EX_ZEROS: return jx_init_zeros(t);
    case EX_NORMAL: return jx_init_normal(key, t, scale);
    case EX_NORMAL_FAN_IN:
        jx_fans(t, &fan_in, &fan_out);
        return jx_init_normal(key, t, 1.0 / sqrt(fan_in));
    case EX_GLOROT_UNIFORM: return jx_init_glorot_uniform(key, t);
    case EX_HAIKU: return jx_init_haiku(key, t);
    }
    return NULL;
}

int ex_init_params(const ex_init *init, uint32_t seed, int layers, const jx_type *types,
                   jx_array **params) {
    jx_key keys[EX_MAX_IO], pair[2];
    if (layers < 1 || 2 * layers > EX_MAX_IO) {
        fprintf(stderr, "ex_init_params: %d layers (1..%d)\n", layers, EX_MAX_IO / 2);
        return -1;
    }
    jx_key_split(jx_key_new(seed), init->keys == EX_KEY_PER_ARRAY ? 2 * layers : layers, keys);
    for (int l = 0; l < layers; l++) {
        jx_key kw = keys[l], kb = keys[l];
        if (init->keys == EX_KEY_PER_LAYER_PAIR) {
            jx_key_split(keys[l], 2, pair);
            kw = pair[0], kb = pair[1];
        } else if (init->keys == EX_KEY_PER_ARRAY) {
            kw = keys[2 * l], kb = keys[2 * l + 1];
        }
        params[2 * l] = ex_draw(init->w, init->w_scale, kw, types[2 * l]);
        params[2 * l + 1] = ex_draw(init->b, init->b_scale, kb, types[2 * l + 1]);
        if (!params[2 * l] || !params[2 * l + 1]) return -1;
    }
    return 0;
}

/* ---- accuracy ------------------------------------------------------------------------- */

jx_val ex_n_correct_at(jx_loc loc, jx_val scores, jx_val labels) {
    jx_val hit = jx_eq_at(loc, jx_argmax_at(loc, scores, 1, JX_I32), labels);
    return jx_sum_all_at(loc, jx_convert_at(loc, hit, JX_F32));
}

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

/* ---- training ------------------------------------------------------------------------- */

int ex_trainer_init(ex_trainer *tr, const jx_array *x, const jx_array *y, int64_t batch,
                    unsigned flags) {
    jx_type scalar = JX_SCALAR(JX_F32);
    if (tr->n_params + tr->n_state + 2 + tr->n_extra > EX_MAX_IO || tr->n_aux > EX_MAX_AUX) {
        fprintf(stderr, "ex_trainer_init: too many step inputs or outputs\n");
        return -1;
    }
    tr->n = jx_array_dim(x, 0);
    tr->perm = malloc((size_t)(tr->n > 0 ? tr->n : 1) * sizeof *tr->perm);
    if (!tr->perm) {
        fprintf(stderr, "ex_trainer_init: out of memory\n");
        return -1;
    }
    if (!(tr->loss_out = jx_array_new_type(&scalar))) return -1;
    for (int i = 0; i < tr->n_aux; i++)
        if (!(tr->aux[i] = jx_array_new_type(&scalar))) return -1;
    if (jx_batch_iter_init(&tr->it, x, y, batch, flags) < 0) return -1;
    tr->steps = jx_batch_iter_count(&tr->it);
    return 0;
}

/* Runs the step on the current batch of tr->it. 0 or -1. */
static int ex_train_step(ex_trainer *tr) {
    jx_array *in[EX_MAX_IO], *out[EX_MAX_IO], *x = tr->it.x;
    int np = tr->n_params, nps = tr->n_params + tr->n_state;
    for (int i = 0; i < np; i++) in[i] = out[i] = tr->params[i];
    for (int i = np; i < nps; i++) in[i] = out[i] = tr->state[i - np];
    if (tr->before_step && tr->before_step(tr, &x) < 0) return -1;
    in[nps] = x, in[nps + 1] = tr->it.y;
    for (int i = 0; i < tr->n_extra; i++) in[nps + 2 + i] = tr->extra[i];
    out[nps] = tr->loss_out;
    for (int i = 0; i < tr->n_aux; i++) out[nps + 1 + i] = tr->aux[i];
    if (jx_jitfn_run(tr->step, in, out) < 0) return -1;
    tr->loss = jx_array_get(tr->loss_out, 0);
    tr->loss_sum += tr->loss;
    return tr->after_step ? tr->after_step(tr) : 0;
}

int ex_train_epoch(ex_trainer *tr, int epoch) {
    jx_batch_iter *it = &tr->it;
    double t0 = ex_now();
    tr->epoch = epoch, tr->loss_sum = 0;
    if (tr->shuffle) jx_shuffle(tr->n, tr->seed, (uint64_t)epoch, tr->perm);
    if (jx_batch_iter_reset(it, tr->shuffle ? tr->perm : NULL) < 0) return -1;
    while (jx_batch_iter_next(it)) {
        if (ex_train_step(tr) < 0) {
            ex_progress_done();
            return -1;
        }
        if ((tr->progress_every > 0 && it->index % tr->progress_every == 0) ||
            it->index + 1 == tr->steps)
            ex_progress(epoch + 1, tr->epochs, it->index + 1, tr->steps,
                        tr->loss_is_sum ? tr->loss / (double)it->size : tr->loss,
                        (double)(it->start + it->size) / (ex_now() - t0));
    }
    ex_progress_done();
    tr->seconds = ex_now() - t0;
    return 0;
}

void ex_trainer_free(ex_trainer *tr) {
    jx_batch_iter_free(&tr->it);
    free(tr->perm);
    jx_array_free(tr->loss_out);
    for (int i = 0; i < EX_MAX_AUX; i++) jx_array_free(tr->aux[i]);
    tr->perm = NULL, tr->loss_out = NULL;
    for (int i = 0; i < EX_MAX_AUX; i++) tr->aux[i] = NULL;
}

/* ---- evaluation ----------------------------------------------------------------------- */

int ex_evaluate(jx_jitfn *eval, int n_params, jx_array **params, const jx_array *x,
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
