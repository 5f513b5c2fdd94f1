/* Shared by the examples: command-line options, a progress bar, a clock, and the
 * evaluation loop. */
#ifndef JX_EXAMPLES_COMMON_H
#define JX_EXAMPLES_COMMON_H

#include <jx.h>
#include <jx/data.h>
#include <stdint.h>

/* The options every example takes, plus a few that several use. */
typedef struct ex_opts {
    const char *data;  /* --data DIR (default: Debian's Fashion-MNIST) */
    int epochs;        /* --epochs N */
    uint32_t seed;     /* --seed N */
    int smoke;         /* --smoke: a few steps on a slice, for tests */
    int64_t batch;     /* --batch N */
    double lr;         /* --lr X */
    int normalize;     /* --normalize: pixels in [0,1] instead of raw 0..255 */
    int threads;       /* --threads N (0: default) */
} ex_opts;

/* Parses argv into o (which holds the example's defaults). Prints usage and returns 1
 * for --help, 2 after an error message for a bad argument, 0 otherwise. */
int ex_parse(int argc, char **argv, ex_opts *o, const char *usage);

/* Seconds from a monotonic clock. */
double ex_now(void);

/* A progress line on stderr when it is a terminal: "epoch 1/8 [=====>    ] 312/469
 * loss 0.412 1830 ex/s". Does nothing when stderr is not a terminal. */
void ex_progress(int epoch, int epochs, int64_t step, int64_t steps, double loss,
                 double ex_per_s);
/* Clears the progress line (if any). */
void ex_progress_done(void);

/* Loads split "train" or "test" as images [N,784] (f32) and labels [N] (i32), keeping
 * only the first `limit` examples when limit > 0. Returns 0 or -1 with a message. */
int ex_load(const ex_opts *o, const char *split, int64_t limit, int flat, jx_array **x,
            jx_array **y);

/* Fraction of examples whose predicted class equals the label: predict is a jitted
 * function (params..., x[B,...]) -> (class i32[B]); params are its first n_params
 * inputs. Evaluates in batches of `batch` (the last partial batch is its own size). */
double ex_accuracy(jx_jitfn *predict, int n_params, jx_array **params, const jx_array *x,
                   const jx_array *y, int64_t batch);

#endif
