/* jx/optim.h: optax-like gradient optimizers as traced functions.
 *
 * An optimizer is a plain description (jx_optim, made by the constructors below and
 * tweaked through its fields) plus two functions: a state initializer and a traced update
 * that maps (params, grads, state) to (new params, new state). Because the update is
 * traced, a whole training step (forward, backward, optimizer) becomes one jx_fn, which
 * jx_jit compiles into one native function (donate params and state to update in place).
 *
 * The update applies, in order (as optax.chain would):
 *   1. clip_norm > 0: clip_by_global_norm — if ||g|| (over every param) >= clip_norm, all
 *      gradients are scaled by clip_norm / ||g||;
 *   2. l2 > 0: g += l2 * p on the decayed params (coupled L2, as PyTorch weight_decay);
 *   3. the optimizer's update u (formulas at jx_optim_kind);
 *   4. p += u.
 * "Decayed params" (for l2 and AdamW's weight_decay) are, by default, those of rank >= 2,
 * so biases (rank <= 1) are skipped; decay_all = 1 decays everything, and a non-NULL mask
 * (one byte per param, nonzero = decay) overrides both.
 */
#ifndef JX_OPTIM_H
#define JX_OPTIM_H

#include <jx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The update rules (g after clipping and L2; lr > 0; state starts at zero unless said):
 *   SGD:      u = -lr g
 *   MOMENTUM: m = g + mu m;  u = -lr (nesterov ? g + mu m : m)          (optax.sgd)
 *   ADAM:     t += 1;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *             u = -lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)       (optax.adam)
 *   ADAMW:    ADAM's u - lr wd p on decayed params                      (optax.adamw)
 *   ADAGRAD:  s = s + g^2 (s starts at initial_accumulator);
 *             u = -lr g / sqrt(s + eps) (0 where s == 0)                (optax.adagrad)
 *   RMSPROP:  v = decay v + (1-decay) g^2 (v starts at initial_accumulator);
 *             u = -lr g / sqrt(v + eps)                                 (optax.rmsprop) */
typedef enum jx_optim_kind {
    JX_OPTIM_SGD,
    JX_OPTIM_MOMENTUM,
    JX_OPTIM_ADAM,
    JX_OPTIM_ADAMW,
    JX_OPTIM_ADAGRAD,
    JX_OPTIM_RMSPROP
} jx_optim_kind;

/* Learning-rate schedules, evaluated in the traced update at the optimizer's step count
 * (count = the number of updates before this one, so the first update uses lr(0)), with
 * optax's formulas (c = count):
 *   CONSTANT:       lr = init
 *   EXPONENTIAL:    p = max(c - begin, 0) / transition_steps (floor(p) when staircase);
 *                   lr = init * rate^p                       (optax.exponential_decay)
 *   COSINE:         d = min(c, decay_steps) / decay_steps;
 *                   lr = init * ((1 - alpha) * (1 + cos(pi d)) / 2 + alpha)
 *                                                            (optax.cosine_decay_schedule)
 *   WARMUP_COSINE:  c < warmup_steps: lr = init + (peak - init) * c / warmup_steps;
 *                   else COSINE from peak over decay_steps - warmup_steps steps at
 *                   c - warmup_steps, with alpha = end / peak
 *                                                  (optax.warmup_cosine_decay_schedule)
 *   PIECEWISE:      lr = init * prod of scales[i] over the boundaries[i] <= c
 *                                                  (optax.piecewise_constant_schedule)
 * The schedule is computed in f64 and converted to each param's dtype. NONE (the zero
 * value) means lr is the constant (or injected) jx_optim.lr. */
typedef enum jx_sched_kind {
    JX_SCHED_NONE,
    JX_SCHED_CONSTANT,
    JX_SCHED_EXPONENTIAL,
    JX_SCHED_COSINE,
    JX_SCHED_WARMUP_COSINE,
    JX_SCHED_PIECEWISE
} jx_sched_kind;

#define JX_SCHED_MAX_PIECES 16

typedef struct jx_schedule {
    jx_sched_kind kind;
    double init;               /* init_value (every kind) */
    double rate;               /* EXPONENTIAL: decay_rate */
    int64_t transition_steps;  /* EXPONENTIAL: > 0 */
    int64_t begin;             /* EXPONENTIAL: transition_begin (>= 0) */
    int staircase;             /* EXPONENTIAL: integer powers */
    int64_t decay_steps;       /* COSINE, WARMUP_COSINE (total steps, warmup included): > 0 */
    double alpha;              /* COSINE: final multiplier */
    double peak, end;          /* WARMUP_COSINE: peak_value, end_value */
    int64_t warmup_steps;      /* WARMUP_COSINE: 0 <= warmup_steps <= decay_steps */
    int n_pieces;              /* PIECEWISE: number of (boundary, scale) pairs */
    int64_t boundaries[JX_SCHED_MAX_PIECES]; /* PIECEWISE: nondecreasing, >= 0 */
    double scales[JX_SCHED_MAX_PIECES];
} jx_schedule;

jx_schedule jx_sched_constant(double value);
jx_schedule jx_sched_exponential(double init, double rate, int64_t transition_steps,
                                 int staircase);
jx_schedule jx_sched_cosine(double init, int64_t decay_steps, double alpha);
jx_schedule jx_sched_warmup_cosine(double init, double peak, int64_t warmup_steps,
                                   int64_t decay_steps, double end);
/* n <= JX_SCHED_MAX_PIECES pairs (copied). */
jx_schedule jx_sched_piecewise(double init, int n, const int64_t *boundaries,
                               const double *scales);
/* Host value of s at step count (the closed forms above, in double). NaN with jx_error()
 * on a bad schedule. */
double jx_schedule_value(const jx_schedule *s, int64_t count);
/* Traced value of s (an f64 scalar) at the i32 (or other integer) scalar count. Poison
 * with a trace error on a bad schedule. */
jx_val jx_schedule_at(jx_loc loc, const jx_schedule *s, jx_val count);

typedef struct jx_optim {
    jx_optim_kind kind;
    double lr;
    double mu;       /* MOMENTUM: momentum */
    int nesterov;    /* MOMENTUM: Nesterov's variant */
    double b1, b2;   /* ADAM, ADAMW */
    double eps;      /* ADAM, ADAMW, ADAGRAD, RMSPROP */
    double weight_decay;        /* ADAMW: decoupled decay */
    double decay;               /* RMSPROP */
    double initial_accumulator; /* ADAGRAD, RMSPROP: initial value of the accumulator */
    double l2;        /* > 0: coupled L2 regularisation coefficient (any optimizer) */
    double clip_norm; /* > 0: global-norm clipping threshold (any optimizer) */
    int decay_all;    /* 1: l2 / weight_decay also apply to params of rank <= 1 */
    const unsigned char *mask; /* per-param decay mask (overrides decay_all); not copied */
    /* inject = 1 (optax.inject_hyperparams): the hyperparameters are f64 scalars at the
     * start of the state, read by the traced update, so one compiled step takes any
     * value at run time (jx_optim_set_hparam); the fields above give their initial
     * values. Names, in state order: "lr", then "momentum" (MOMENTUM), "b1", "b2" (ADAM,
     * ADAMW), "weight_decay" (ADAMW, when nonzero at build time), "decay" (RMSPROP), and
     * "l2" (when l2 > 0 at build time). A step count follows the moments. */
    int inject;
    /* kind != NONE: lr = schedule(count) inside the update (the state gets a count; with
     * inject, the "lr" entry holds the last rate used and cannot be set). */
    jx_schedule schedule;
} jx_optim;

/* Constructors with optax's defaults in the comments. */
jx_optim jx_sgd(double lr);
jx_optim jx_momentum(double lr, double mu, int nesterov);
jx_optim jx_adam(double lr, double b1, double b2, double eps);  /* 0.9, 0.999, 1e-8 */
jx_optim jx_adamw(double lr, double b1, double b2, double eps,
                  double weight_decay);                          /* ..., 1e-4 */
jx_optim jx_adagrad(double lr, double initial_accumulator, double eps); /* 0.1, 1e-7 */
jx_optim jx_rmsprop(double lr, double decay, double eps);               /* 0.9, 1e-8 */

/* Number of state arrays for n params: the injected hyperparameters first (inject),
 * then the moments: MOMENTUM, ADAGRAD, RMSPROP one per param; ADAM and ADAMW two per
 * param (all first moments, then all second moments); SGD none; then a step count (i32
 * scalar) last for ADAM, ADAMW, and any optimizer with inject or a schedule. -1
 * (jx_error) on a bad optimizer. */
int jx_optim_n_state(const jx_optim *o, int n);
/* The state types for params of types params[0..n-1] into out[0..n_state-1]: each
 * moment has its param's type. Returns n_state or -1. */
int jx_optim_state_types(const jx_optim *o, int n, const jx_type *params, jx_type *out);
/* Host init: new state arrays (caller frees) for the given params. Returns n_state or -1
 * (nothing allocated) with jx_error(). */
int jx_optim_init(const jx_optim *o, int n, jx_array *const *params, jx_array **state);
/* Traced init: state values for traced params. Returns n_state or -1. */
int jx_optim_init_at(jx_loc loc, const jx_optim *o, int n, const jx_val *params,
                     jx_val *state);
/* Traced update: new_params[0..n-1] and new_state[0..n_state-1] from params, grads (of the
 * params' types) and state. Returns 0, or -1 with a trace error naming the bad operand. */
int jx_optim_update_at(jx_loc loc, const jx_optim *o, int n, const jx_val *params,
                       const jx_val *grads, const jx_val *state, jx_val *new_params,
                       jx_val *new_state);
#define jx_optim_init_traced(...) jx_optim_init_at(JX_HERE, __VA_ARGS__)
#define jx_optim_update(...) jx_optim_update_at(JX_HERE, __VA_ARGS__)

/* Injected hyperparameters (inject = 1): their number (0 without inject), the i-th's
 * name (NULL out of range), and the state index of the one called name (-1 with an error
 * naming the optimizer, the name and the known names). They lead the state, so the index
 * does not depend on the number of params. */
int jx_optim_n_hparams(const jx_optim *o);
const char *jx_optim_hparam_name(const jx_optim *o, int i);
int jx_optim_hparam_index(const jx_optim *o, const char *name);
/* Host access to hyperparameter name in a state list (from jx_optim_init or a step's
 * outputs): sets it to v (checked: finite; lr, weight_decay, l2 >= 0; momentum, b1, b2,
 * decay in [0, 1)) or reads it into *v. 0, or -1 with jx_error() naming the optimizer and
 * the name or value (also when "lr" comes from a schedule: it cannot be set). */
int jx_optim_set_hparam(const jx_optim *o, jx_array **state, const char *name, double v);
int jx_optim_get_hparam(const jx_optim *o, jx_array *const *state, const char *name,
                        double *v);
/* The step count in a state list of n params (-1 with jx_error() if o keeps none). */
int64_t jx_optim_count(const jx_optim *o, int n, jx_array *const *state);

/* Builds one training step from loss, whose inputs are n_params float params followed
 * by the batch inputs and whose output 0 is the scalar loss (other outputs: auxiliary,
 * e.g. accuracy):
 *   step(params..., state..., batch...) -> (new params..., new state..., loss, aux...)
 * = value_and_grad of loss w.r.t. the params, then jx_optim_update. NULL with jx_error()
 * on failure. Compile it with jx_jit, donating the params and the state. */
jx_fn *jx_optim_train_step(const jx_optim *o, const jx_fn *loss, int n_params);

/* ---- the training state: a jitted step over a parameter tree -------------------------
 * jx_train holds what a training loop carries from step to step: the parameter tree (the
 * caller's, updated in place), the optimizer state (a tree the trainer owns) and the
 * compiled step. loss is traced like a jx_trace callback on (params' leaves..., batch...)
 * with output 0 the float scalar loss and outputs 1..n_aux auxiliary (e.g. accuracy);
 * user is passed through. The step is value_and_grad(loss) + jx_optim_update
 * (jx_optim_train_step), traced and compiled per batch signature like jx_jit_trace, so a
 * smaller last batch gets its own executable, with the params and the state donated: each
 * step writes the new values into the same arrays (the tree's leaf pointers never change).
 *
 * The state tree's leaves are the optimizer's state in jx_optim_init's order, then a
 * step count, at paths
 *   "opt/<hparam>"               injected hyperparameters (f64[]): "opt/lr", ...
 *   "opt/<moment>/<param path>"  moments: "trace" (MOMENTUM), "mu" and "nu" (ADAM,
 *                                ADAMW), "sum_of_squares" (ADAGRAD), "nu" (RMSPROP)
 *   "opt/count"                  i32[] step count, last of "opt/": the optimizer's own
 *                                when it keeps one, else the trainer's (incremented by
 *                                the step)
 *   "<carry path>"               the carried leaves (jx_train_opts.carry), if any
 * so jx_optim_set_hparam(o, jx_train_state(tr)->leaves, "lr", v), or writing the leaf,
 * changes the next step without recompiling.
 *
 * jx_train_new copies *o (o->mask is not copied: it must outlive the trainer) and
 * borrows params (non-empty float leaves; it must outlive the trainer, and its leaves
 * must not be replaced while it lives). opts may be NULL; opts->donate is ignored (the
 * params and the state are always donated, the batch never). NULL with jx_error(). */
typedef struct jx_train jx_train;
jx_train *jx_train_new(const jx_optim *o, jx_trace_cb loss, void *user, jx_tree *params,
                       int n_batch, int n_aux, const jx_jit_opts *opts);

/* jx_train_new_opts is jx_train_new with options: carried state and a gradient callback
 * (jx_train_new(o, loss, user, params, nb, na, jo) is jx_train_new_opts(o, params,
 * &(jx_train_opts){.loss = loss, .user = user, .n_batch = nb, .n_aux = na, .jit = *jo})).
 * Both callbacks are traced on (params' leaves..., carry leaves..., batch...):
 *   loss  -> (loss, new carry..., aux...): the step is value_and_grad of the loss with
 *            respect to the params (the new carry and aux are its auxiliary outputs, as
 *            with has_aux=True), then the optimizer update;
 *   grads -> (loss, grads..., new carry..., aux...): the callback computes the gradients
 *            itself, one per param of its type, in the params' order (per-example
 *            gradients by jx_call_vmap of jx_call_value_and_grad, clipping and noise for
 *            DP-SGD; any gradient transformation); the loss (a float scalar) is reported.
 * Exactly one of them is set. The library keeps the rest: the update (jx_optim's own
 * clipping and L2 included), the step count, the donation and the compilation per batch
 * signature.
 * carry (may be NULL or empty): state the step reads and returns updated besides the
 * params, never differentiated: a PRNG key split every step ("rng/key"), batch-norm
 * statistics, running averages. Its leaves (any dtype) join the state tree after
 * "opt/count" at their paths, retained, not copied: the step writes the new values into
 * the same arrays, so the caller's tree sees them (or may be freed at once). They are
 * donated like the params, saved and loaded by jx_train_save/jx_train_load at their
 * paths, and jx_train_reset writes back the values they had at jx_train_new_opts. Paths
 * at or under "opt" or "params", and a leaf that is also a param or carried twice, are
 * refused.
 * A callback's outputs are checked when the step is traced: a loss that is not a float
 * scalar, a gradient or a new carry whose type differs from its param's or carry's, an
 * output left unset or one set in the 16 entries past the end fails the step
 * (jx_train_step: -1, nothing changed) with a message naming jx_train, the output and
 * both types, at the jx_train_new_opts call's line ("f.c:12: jx_train: grads output 2
 * (the gradient of param 'lin/b') is f32[4], the param is f32[3]"). A callback has 1 +
 * n_carry + n_aux outputs (loss) or 1 + n_params + n_carry + n_aux (grads). */
typedef struct jx_train_opts {
    jx_trace_cb loss;      /* (params..., carry..., batch...) -> (loss, new carry..., aux...) */
    jx_trace_cb grads;     /* ... -> (loss, grads..., new carry..., aux...) */
    void *user;            /* passed to the callback */
    int n_batch, n_aux;    /* batch inputs and aux outputs, each 0..1024 */
    const jx_tree *carry;  /* carried leaves, or NULL */
    jx_jit_opts jit;       /* threads, disk cache (donate is ignored) */
} jx_train_opts;
jx_train *jx_train_new_opts_at(jx_loc loc, const jx_optim *o, jx_tree *params,
                               const jx_train_opts *opts);
#define jx_train_new_opts(...) jx_train_new_opts_at(JX_HERE, __VA_ARGS__)
/* One step on batch[0..n_batch): params and state updated in place; *loss (may be NULL)
 * gets the loss; aux (may be NULL: discarded) gets the n_aux aux outputs as jx_exe_run
 * fills outputs (a non-NULL array of the right type is written in place, else a new
 * array is stored that the caller frees). 0, or -1 with jx_error() (the batch's types,
 * the loss's trace errors; params and state are then unchanged unless the run itself
 * failed midway). */
int jx_train_step(jx_train *tr, jx_array *const *batch, double *loss, jx_array **aux);
/* The parameter tree (the caller's) and the optimizer state tree (the trainer's; its
 * leaves may be written, not replaced). */
jx_tree *jx_train_params(const jx_train *tr);
jx_tree *jx_train_state(const jx_train *tr);
/* Steps taken ("opt/count"; restored by jx_train_load). */
int64_t jx_train_count(const jx_train *tr);
/* Executables compiled so far (one per batch signature). */
int jx_train_n_compiled(const jx_train *tr);
/* The compiled step for a loop of one's own: step(params leaves..., state leaves...,
 * batch...) -> (params..., state..., loss, aux...) (the state's leaves: the optimizer's,
 * the count, the carry), params and state donated (pass the
 * leaves as both inputs and outputs to update them in place). Owned by tr. */
jx_jitfn *jx_train_jitfn(const jx_train *tr);
/* Checkpoints: jx_train_save writes the params at "params/<path>" and the state leaves at
 * their paths into one .npz (JX_NPZ_STORED; written whole or not at all, as
 * jx_tree_save). jx_train_load reads such a file into the existing leaves: every member
 * must be present with the trainer's dtype and shape, and no other member, else nothing
 * is changed and the error names the file and the member ("jx_train_load: f.npz: member
 * 'params/0/w' is f32[3,4], the trainer's is f32[4,3]"). 0 or -1. */
int jx_train_save(const jx_train *tr, const char *path);
int jx_train_load(jx_train *tr, const char *path);
/* Starts training afresh without recompiling: the optimizer state becomes the initial
 * state for the params as they are now (write new params into their leaves first), the
 * count 0, injected hyperparameters their values in the optimizer given to jx_train_new,
 * the carried leaves the values they had then (write others into them after the reset
 * to change them, e.g. a new PRNG key). So reset + steps equal a new trainer's steps on
 * the same params. Leaves are written, not replaced. 0 or -1. */
int jx_train_reset(jx_train *tr);
/* Frees the trainer and its state (not the params tree). NULL is ignored. */
void jx_train_free(jx_train *tr);

/* ---- an epoch of steps ----------------------------------------------------------------
 * jx_train_epoch runs one pass of jx_train_step over the rows of x [N,...] and y [N]
 * (y may be NULL) in minibatches of jx/data.h's jx_batch_iter: in the order
 * jx_shuffle(N, seed, epoch) when shuffle, else in order; flags JX_BATCH_DROP_LAST or
 * JX_BATCH_PAD_LAST as there. Each step's batch inputs are in[0] = the x rows, in[1] =
 * the y rows (when y), the rest NULL until the hook fills them. */
typedef struct jx_train_batch {
    jx_array **in;   /* the step's n_batch inputs; before the step the hook may replace or
                      * fill entries (borrowed: they must live until the step is done) */
    jx_array **aux;  /* after the step: its n_aux aux outputs (owned by the epoch) */
    int64_t index;   /* number of this batch in the epoch, from 0 */
    int64_t count;   /* batches in the epoch */
    int64_t size;    /* rows in this batch */
    int64_t done;    /* rows of the epoch up to and including this batch */
    double loss;     /* after the step: its loss (NaN before) */
    int after;       /* 0: called before the step, 1: after it */
    uint64_t epoch;  /* jx_epoch_opts.epoch */
    double loss_sum; /* the sum of the epoch's step losses so far, this step's included
                      * after it (for a loss summed over the batch, loss_sum / done is the
                      * mean per example) */
} jx_train_batch;
/* Called before and after every step; a negative return stops the epoch (-1, the error
 * saying which batch, followed by the hook's own jx_error() message if it set one). */
typedef int (*jx_train_hook)(jx_train *tr, jx_train_batch *b, void *user);

typedef struct jx_epoch_opts {
    int64_t batch;      /* rows per step, > 0 */
    unsigned flags;     /* JX_BATCH_DROP_LAST, JX_BATCH_PAD_LAST (jx/data.h) or 0 */
    int shuffle;        /* 1: shuffled by (seed, epoch); 0: in order */
    uint64_t seed, epoch;
    jx_train_hook hook; /* may be NULL */
    void *user;         /* passed to hook */
} jx_epoch_opts;
/* One epoch as above; *mean_loss (may be NULL) gets the mean of the steps' losses (0 for
 * no step). 0, or -1 with jx_error() (bad options, x and y of different lengths, a batch
 * input left NULL, a step's error, a hook's stop); the steps before an error are kept. */
int jx_train_epoch(jx_train *tr, const jx_array *x, const jx_array *y,
                   const jx_epoch_opts *opts, double *mean_loss);

#ifdef __cplusplus
}
#endif
#endif
