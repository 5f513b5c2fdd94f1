/* Shared by the MNIST examples: command-line options, the data, the training loop with
 * its progress line, evaluation, parameter init and an accuracy count.
 *
 * An example stays a self-contained recipe: it defines its model, its loss, its optimizer
 * and which data it trains on; what is the same in every example lives here. */
#ifndef JX_EXAMPLES_COMMON_H
#define JX_EXAMPLES_COMMON_H

#include <jx.h>
#include <jx/data.h>
#include <jx/nn.h>
#include <jx/optim.h>
#include <stdint.h>

/* Bounds of the helpers' fixed arrays: inputs or outputs of a jitted function, auxiliary
 * outputs of a training step. */
enum { EX_MAX_IO = 64, EX_MAX_AUX = 8 };

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

/* ---- parameters ----------------------------------------------------------------------- */

/* How one parameter array is drawn (scale: the stddev for EX_NORMAL). */
typedef enum ex_init_kind {
    EX_ZEROS,
    EX_NORMAL,          /* scale * normal */
    EX_NORMAL_FAN_IN,   /* normal / sqrt(fan_in) (jx_fans) */
    EX_GLOROT_UNIFORM,  /* jax.nn.initializers.glorot_uniform */
    EX_HAIKU,           /* Haiku's default: TruncatedNormal(1 / sqrt(fan_in)) */
} ex_init_kind;

/* How the seed's key is split among the layers' weights and biases. */
typedef enum ex_key_split {
    EX_KEY_PER_LAYER,       /* split(key, layers): W_l gets key l, b_l none */
    EX_KEY_PER_LAYER_PAIR,  /* split(key, layers), then each layer's key split into 2 */
    EX_KEY_PER_ARRAY,       /* split(key, 2 * layers): W_l key 2l, b_l key 2l+1 */
} ex_key_split;

/* An init scheme: key split, weight init, bias init. */
typedef struct ex_init {
    ex_key_split keys;
    ex_init_kind w;
    double w_scale;
    ex_init_kind b;
    double b_scale;
} ex_init;

/* The param types of a dense net with widths sizes[0..layers]: W_l f32 [sizes[l],
 * sizes[l+1]] and b_l f32 [sizes[l+1]] into types[2l], types[2l+1]. */
void ex_dense_types(int layers, const int64_t *sizes, jx_type *types);

/* New params[0..2*layers-1] (W_l, b_l pairs of the given types) drawn from seed as init
 * says. 0, or -1 with jx_error() (the arrays made so far are left in params to free). */
int ex_init_params(const ex_init *init, uint32_t seed, int layers, const jx_type *types,
                   jx_array **params);

/* ---- accuracy ------------------------------------------------------------------------- */

/* Inside a trace: the number of rows of scores[B,K] whose argmax equals labels[B] (i32),
 * as an f32 scalar (exact up to 2^24). */
jx_val ex_n_correct_at(jx_loc loc, jx_val scores, jx_val labels);
#define ex_n_correct(...) ex_n_correct_at(JX_HERE, __VA_ARGS__)

/* ---- training and evaluation ---------------------------------------------------------- */

typedef struct ex_trainer ex_trainer;

/* The training loop: each batch runs the jitted
 *   step(params..., state..., x, y, extra...) -> (params..., state..., loss, aux...)
 * with params and state updated in place (donate them, as jx_train_jitfn's step does).
 * The loss and the aux outputs are f32 scalars. */
struct ex_trainer {
    /* Set by the caller before ex_trainer_init. */
    jx_jitfn *step;
    int n_params, n_state, n_extra, n_aux;
    jx_array **params, **state, **extra; /* state: what each step reads and returns
                                          * updated (optimizer state, a PRNG key); extra:
                                          * more inputs, filled by before_step */
    int epochs;          /* shown by the progress line */
    int shuffle;         /* 1: each epoch in the order jx_shuffle(n, seed, epoch); 0: stored */
    uint32_t seed;
    int progress_every;  /* a progress line (on a terminal) every N steps and at the end */
    int loss_is_sum;     /* 1: the loss is summed over the batch (progress shows loss / size) */
    /* Optional hooks, 0 or -1 (stop with jx_error()): before_step may replace *x (the
     * batch's images, e.g. by an augmented copy) and fill extra; after_step may read
     * loss and aux. */
    int (*before_step)(ex_trainer *tr, jx_array **x);
    int (*after_step)(ex_trainer *tr);
    void *user;
    /* Set by ex_trainer_init and ex_train_epoch. */
    jx_batch_iter it;            /* the current batch: it.x, it.y, it.size, it.index */
    int64_t n, steps;            /* training examples, batches per epoch */
    int epoch;                   /* the current epoch, from 0 */
    double loss;                 /* the last step's loss */
    jx_array *aux[EX_MAX_AUX];   /* the last step's aux outputs */
    double seconds, loss_sum;    /* time and summed loss of the last epoch */
    jx_array *loss_out;
    int64_t *perm;
};

/* Prepares tr for batches of `batch` examples of (x, y) (jx_batch_iter_init flags).
 * 0, or -1 with a message (tr is then safe to free). */
int ex_trainer_init(ex_trainer *tr, const jx_array *x, const jx_array *y, int64_t batch,
                    unsigned flags);
/* Runs epoch `epoch` (from 0): sets tr->seconds and tr->loss_sum. 0 or -1. */
int ex_train_epoch(ex_trainer *tr, int epoch);
void ex_trainer_free(ex_trainer *tr);

/* The progress line for jx_train_epoch: its hook with a pointer to an ex_progress_opts as
 * user shows "epoch E/EPOCHS [===>  ] step/steps loss L N ex/s" on stderr when it is a
 * terminal, after every `every`-th step and the last (ex/s since t0, from ex_now). */
typedef struct ex_progress_opts {
    int epoch, epochs, every;
    double t0;
} ex_progress_opts;
int ex_progress_hook(jx_train *train, jx_train_batch *b, void *user);

/* Evaluates the jitted eval(params..., x[B,...], labels[B]) -> (number correct[, summed
 * loss]) (f32 scalars; the loss output only when loss is not NULL) on (x, y) in batches
 * of `batch` in the stored order (jx_eval_sum): *acc = correct / N, *loss = summed loss
 * / N. 0 or -1. */
int ex_evaluate(jx_jitfn *eval, int n_params, jx_array **params, const jx_array *x,
                const jx_array *y, int64_t batch, double *acc, double *loss);

/* What ex_report prints. */
enum { EX_TRAIN_SET = 1, EX_TEST_SET = 2, EX_WITH_LOSS = 4 };

/* Evaluates (ex_evaluate) and prints "Training set accuracy A" and/or "Test set accuracy
 * A" lines, each followed by " (loss L)" with EX_WITH_LOSS. 0 or -1. */
int ex_report(jx_jitfn *eval, int n_params, jx_array **params, const ex_data *d,
              int64_t batch, unsigned what);

#endif
