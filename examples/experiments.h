/* The models and training loop of examples/experiments (experiments_models.c), used by
 * its main (experiments.c). Private to that example. */
#ifndef JX_EXAMPLES_EXPERIMENTS_H
#define JX_EXAMPLES_EXPERIMENTS_H

#include "common.h"

enum { XP_MAXL = 3 };

/* One variant of the lab's network and training. */
typedef struct xp_model {
    const char *name, *desc;
    int nl;                      /* layers */
    int64_t sizes[XP_MAXL + 1];  /* widths, sizes[0] = 784, sizes[nl] = 10 */
    int mse;                     /* 1: sigmoid output + MSE; 0: softmax + log-loss */
    jx_optim_kind kind;          /* SGD, MOMENTUM, ADAMW or ADAGRAD */
    double mu, l2, wd;           /* momentum, coupled L2, AdamW's decoupled decay */
    double dropout;              /* rate on the hidden layers while training (0: none) */
    int augment;                 /* 1: random shifts and rotations of the training batches */
    int n_lrs;
    double lrs[4];               /* default learning rates */
} xp_model;

extern const xp_model xp_models[];
extern const int xp_n_models;

/* Index of the model called name in xp_models, or -1. */
int xp_model_find(const char *name);

/* What the per-example predict of a model reads from its user pointer: the model, and
 * whether it is training (dropout on) or evaluating. */
typedef struct xp_pred_ctx {
    const xp_model *m;
    int train;
} xp_pred_ctx;

/* A model's traced functions and its training state, whose learning rate (and the
 * optimizer's other hyperparameters) are injected state (jx/optim.h's inject = 1), so one
 * compiled step serves every learning rate. */
typedef struct xp_ctx {
    const xp_model *m;
    jx_optim opt;
    double lr;              /* the current learning rate, set into each training's state */
    int np;                 /* number of params (2 per layer) */
    xp_pred_ctx pred_train; /* per-example predict (with dropout when the model has it) */
    xp_pred_ctx pred_eval;  /* per-example predict for evaluation (no dropout) */
    jx_tree *params;        /* layers/<l>/{w,b}, redrawn in place by each xp_train */
    jx_train *train;        /* the params, the optimizer state and the compiled step
                             * (params, state, x, y[, key]) -> (params, state, loss) */
    jx_jitfn *eval;         /* (params, x, y) -> number of correct argmax predictions */
} xp_ctx;

/* Builds m's training state (a jx_train over a params tree) and its evaluation. 0, or -1
 * with jx_error(). */
int xp_ctx_init(xp_ctx *c, const xp_model *m, int threads);
/* Sets the learning rate of the next trainings (the step is made once, by xp_ctx_init,
 * compiled on its first run and reused for every learning rate). 0, or -1 for a bad lr. */
int xp_ctx_set_lr(xp_ctx *c, double lr);
/* Number of signatures the step has compiled. */
int xp_ctx_n_compiled(const xp_ctx *c);
void xp_ctx_free(xp_ctx *c);

/* One training from fresh params drawn from seed (also the shuffling and augmentation
 * seed): o->epochs epochs of batches of o->batch. Prints one line with the test accuracy
 * after each epoch. Returns the final test accuracy, or -1 with jx_error(). */
double xp_train(xp_ctx *c, const ex_opts *o, uint32_t seed, const ex_data *d);

/* The lab's Task 0 on the JIT: jx_softmax on [1e6, 1e6-1, ..., 1e6-9] against the exact
 * values (a naive exp/sum gives NaN), on a [10,10,32] block of 1e6 (all 1/32), and on
 * random [100,32] inputs against the naive formula. Prints the results; 0 if all pass,
 * -1 with jx_error() otherwise. */
int xp_softmax_check(int threads);

#endif
