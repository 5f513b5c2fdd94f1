/* Shared by the MNIST examples: command-line options, loading the data they select, the
 * progress line and the printed reports. Everything about models, parameters, tracing,
 * transformations, training and compilation is the public API (jx.h, jx/nn.h,
 * jx/optim.h, jx/data.h), written out in each example.
 *
 * An example stays a self-contained recipe: it defines its model, its init, its loss, its
 * optimizer and which data it trains on; what is the same in every example lives here. */
#ifndef JX_EXAMPLES_COMMON_H
#define JX_EXAMPLES_COMMON_H

#include <jx.h>
#include <jx/data.h>
#include <jx/nn.h>
#include <jx/optim.h>
#include <stdint.h>

/* ---- options -------------------------------------------------------------------------- */

/* The options every example takes. An example sets its defaults with a designated
 * initializer; fields left 0 get the defaults said here. */
typedef struct ex_opts {
    const char *data;   /* --data DIR (NULL: JX_MNIST_DEFAULT_DIR) */
    int epochs;         /* --epochs N */
    uint32_t seed;      /* --seed N */
    int smoke;          /* --smoke: a short run on a slice, for tests */
    int64_t batch;      /* --batch N */
    double lr;          /* --lr X */
    int normalize;      /* --normalize (1) / --no-normalize (0): pixels in [0,1] or 0..255 */
    int threads;        /* --threads N (0: JX_NUM_THREADS or all cores) */
    int smoke_epochs;   /* epochs of --smoke unless --epochs is given (0: 1) */
    int64_t smoke_train, smoke_test; /* examples kept by --smoke (0: 2048 and 512) */
} ex_opts;

/* What an example-specific option holds. */
typedef enum ex_kind {
    EX_FLAG,     /* no value; sets *(int *)value = 1 */
    EX_FLAG_OFF, /* no value; sets *(int *)value = 0 (e.g. --no-png) */
    EX_INT,      /* int */
    EX_I64,      /* int64_t */
    EX_U32,      /* uint32_t */
    EX_DOUBLE,   /* double */
    EX_STRING,   /* const char * (pointing into argv) */
} ex_kind;

/* One row of an option table, e.g. {"--clip C", EX_DOUBLE, &clip, .help = "clip norm",
 * .min = 0, .max = INFINITY, .above_min = 1}; a table ends with {0}. */
typedef struct ex_opt {
    const char *name;  /* "--clip", or with the value's placeholder for --help: "--clip C" */
    ex_kind kind;
    void *value;       /* where the value goes; its initial value is the default */
    const char *help;  /* '\n' starts a continuation line. --help appends "(default X)"
                        * from *value (numbers, non-NULL strings) unless help already says
                        * "(default", and "(default)" to a flag that is already in effect */
    double min, max;   /* numbers: the allowed range (inclusive) when min < max; integer
                        * kinds are also limited to their type's range */
    int above_min;     /* 1: the value must be > min (not >= min) */
} ex_opt;

/* Parses argv into o (which holds the example's defaults) and into the example's own
 * options (extra, may be NULL). --help / -h prints usage, the extra options and the common
 * ones with their defaults, and exits 0; an unknown argument, a missing value, a value
 * that is not a number (or not an integer) or out of range prints a message and exits 2.
 * --smoke caps the epochs at o->smoke_epochs unless --epochs is given. */
void ex_parse(int argc, char **argv, ex_opts *o, const ex_opt *extra, const char *usage);

/* "[0,1]" or "raw 0..255": the pixel scale o selects, for the examples' header lines. */
const char *ex_pixels(const ex_opts *o);

/* Prints "prog: <jx_error()>" on stderr if there is an error message. */
void ex_print_error(const char *prog);

/* Seconds from a monotonic clock. */
double ex_now(void);

/* Clears the progress line of ex_train_epoch (if any), before printing something else. */
void ex_progress_done(void);

/* ---- data ----------------------------------------------------------------------------- */

/* The train and test splits: images f32 [N,784] (EX_FLAT) or [N,28,28,1] (EX_NHWC),
 * labels i32 [N]. */
typedef struct ex_data {
    jx_array *xtr, *ytr, *xte, *yte;
} ex_data;

typedef enum ex_layout { EX_FLAT, EX_NHWC } ex_layout;

/* Loads both splits of o->data (pixels scaled as o->normalize says); with --smoke only
 * the first o->smoke_train / o->smoke_test examples. 0, or -1 with jx_error() (d is then
 * safe to free). */
int ex_load_mnist(const ex_opts *o, ex_layout layout, ex_data *d);
void ex_data_free(ex_data *d);

/* ---- training and evaluation ---------------------------------------------------------- */

/* The progress line for jx_train_epoch: its hook with a pointer to an ex_progress_opts as
 * user shows "epoch E/EPOCHS [===>  ] step/steps loss L N ex/s" on stderr when it is a
 * terminal, after every `every`-th step and the last (ex/s since t0, from ex_now). */
typedef struct ex_progress_opts {
    int epoch, epochs, every;
    double t0;
} ex_progress_opts;
int ex_progress_hook(jx_train *train, jx_train_batch *b, void *user);

/* One epoch, jx_train_epoch(train, x, y, eo) with eo->epoch = epoch, timed and with the
 * progress line: prog (the options eo's hook passes to ex_progress_hook, or NULL) gets
 * the epoch and its start time, and the line is cleared after the epoch. *seconds and
 * *loss (the mean step loss; either may be NULL) are set. 0, or -1 with jx_error(). */
int ex_epoch(jx_train *train, const jx_array *x, const jx_array *y, jx_epoch_opts *eo,
             ex_progress_opts *prog, int epoch, double *seconds, double *loss);

/* What ex_report prints. */
enum { EX_TRAIN_SET = 1, EX_TEST_SET = 2, EX_WITH_LOSS = 4 };

/* Evaluates the jitted eval(params..., x[B,...], labels[B]) -> (number correct[, summed
 * loss]) (f32 scalars; the loss output only with EX_WITH_LOSS) on the train and/or test
 * set in batches of `batch` rows (jx_eval_sum), and prints "Training set accuracy A"
 * and/or "Test set accuracy A" lines (hits / N), each followed by " (loss L)" (summed
 * loss / N) with EX_WITH_LOSS. 0 or -1. */
int ex_report(jx_jitfn *eval, int n_params, jx_array **params, const ex_data *d,
              int64_t batch, unsigned what);

#endif
