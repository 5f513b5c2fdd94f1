/* The notebook MLP training step as jxbench and jxbench-all build it (784-512-512-10,
 * relu, log-softmax loss -mean(sum(logp * onehot, 1)), SGD lr 0.01): the jx step written
 * as a user writes it (per-example predict, jx_vmap, jx_value_and_grad, an update
 * function, jx_jit with the params donated) and the state shared with the hand-written
 * reference (bench_ref.h) so that both start from the same params and batch. */
#ifndef BENCH_MLP_H
#define BENCH_MLP_H

#include "bench_ref.h"
#include "jx.h"

#define BM_NP 6 /* parameter arrays: W1 b1 W2 b2 W3 b3, (n_out, n_in) layout */
#define BM_LR 0.01f

extern const int bm_sizes[4];

/* xorshift64: a deterministic double in [0, 1). */
double bm_urand(unsigned long long *s);
/* predict(W1,b1,W2,b2,W3,b3,x) for one example x[784]: relu MLP, log-softmax output. */
void bm_predict(jx_trace *t, const jx_val *in, jx_val *out, void *user);
/* The step's input types: the params, then x[batch, 784] (x[784] when batch < 0) and
 * y[batch, 10]. */
void bm_types(int batch, jx_type *ty);
/* Traces the whole training step (params..., x, y) -> (new params..., loss) for a batch;
 * NULL with jx_error() on failure. */
jx_fn *bm_step_fn(int batch);
/* Compiles the step with the params donated and n threads. */
jx_exe *bm_jit(const jx_fn *f, int n_threads, int no_disk_cache);

/* jx arrays (params, x, y, loss), the reference model, and the initial params. */
typedef struct bm_state {
    int batch;
    jx_array *p[BM_NP], *x, *y, *loss;
    float *p0[BM_NP];
    bref_mlp ref;
} bm_state;

/* Host pointer of parameter i of the reference model (W1 b1 W2 b2 W3 b3 order). */
float *bm_ref_param(bref_mlp *m, int i);
/* Allocates everything and fills the initial params (scaled like 1/sqrt(n_in)), a batch
 * of pixel-like inputs in [0,1) and random one-hot labels. 0 or -1. */
int bm_state_init(bm_state *s, int batch);
/* Resets both implementations' params to the initial values. */
void bm_state_reset(bm_state *s);
/* Frees everything bm_state_init allocated (also after it failed). */
void bm_state_free(bm_state *s);
/* One jx step: params updated in place, loss into s->loss. 0 or -1. */
int bm_jx_step(jx_exe *e, bm_state *s);
/* One reference step. */
void bm_ref_step(bm_state *s);
/* Runs 3 steps of both from the same start; 0 if they agree (params to 1e-4 relative,
 * updates to 1e-2, loss to 1e-4; the figures on stderr), 1 if not, -1 on a jx error. */
int bm_check(jx_exe *e, bm_state *s);

#endif
