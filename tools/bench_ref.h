/* The hand-written C + OpenBLAS reference of the notebook MLP training step, used by
 * jxbench as the baseline: 784-512-512-10 (sizes configurable), relu hidden layers,
 * log-softmax output, loss = -mean(sum(logp * onehot)), plain SGD, f32, row-major.
 * Parameters use the JAX notebook's (n_out, n_in) layout: h = x @ W^T + b. */
#ifndef BENCH_REF_H
#define BENCH_REF_H

#include <stdint.h>

#define BREF_LAYERS 3

/* The model's state and every buffer a step needs, allocated once. */
typedef struct bref_mlp {
    int batch;
    int sizes[BREF_LAYERS + 1];           /* n_in, hidden, hidden, n_out */
    float *w[BREF_LAYERS], *b[BREF_LAYERS];  /* parameters, updated in place */
    float *dw[BREF_LAYERS], *db[BREF_LAYERS];
    float *h[BREF_LAYERS];   /* pre-softmax activations: h[0], h[1] relu'd, h[2] logits */
    float *dh[BREF_LAYERS];  /* gradients with respect to h[l] (pre-relu for l < 2) */
    float loss;
    int threads; /* 0: the unfolded step on OpenBLAS's current setting; > 0 (bench's
                  * reference): SGD folded into the GEMMs (W -= lr dh^T in, one sgemm
                  * with beta 1), sgemv/sger at batch 1, and jx's thread policy (products
                  * under 4e6 multiply-adds on one thread, the others on `threads`) */
} bref_mlp;

/* Allocates the buffers for the given batch and layer sizes (parameters zeroed).
 * Returns 0, or -1 on out of memory (m is then freed). */
int bref_init(bref_mlp *m, int batch, const int sizes[BREF_LAYERS + 1]);
/* Frees every buffer. */
void bref_free(bref_mlp *m);
/* One SGD step on the batch x[batch, n_in] with one-hot labels y[batch, n_out]: forward,
 * backward (3 + 5 GEMMs), params -= lr * grads (folded as m->threads says). Stores the step's loss (at the params
 * before the update) in m->loss. */
void bref_step(bref_mlp *m, const float *x, const float *y, float lr);
/* Only the 8 GEMMs of bref_step, on the same buffers and shapes (the results are
 * meaningless; used to time the GEMM floor of the step). */
void bref_gemms(bref_mlp *m, const float *x);

#endif
