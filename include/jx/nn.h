/* jx/nn.h: neural-network building blocks on top of jx.h (jax.random, jax.nn, Haiku and
 * optax-style losses).
 *
 * Everything traced here is a composite of the public primitives in jx.h, so grad, vmap,
 * jvp and jit apply to it like to any other op. As in jx.h, every traced function takes
 * its source location first and the public name is a macro passing JX_HERE; errors are
 * sticky trace errors naming the function, the shapes at fault and the user's line.
 *
 * Conventions follow the libraries the MNIST notebooks use:
 *  - PRNG keys are u32[2] values as in jax.random (threefry2x32, JAX's original counter
 *    layout): same seed, same numbers as JAX with jax_threefry_partitionable off.
 *  - Layers use Haiku's layouts: linear weights [in,out], conv inputs NHWC and kernels
 *    HWIO, TF/Haiku SAME padding. Initializers follow Haiku and jax.nn.initializers.
 */
#ifndef JX_NN_H
#define JX_NN_H

#include <jx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An absent optional operand (e.g. no bias). */
#define JX_NOVAL ((jx_val){NULL, INT32_MIN})

/* ---- special functions -------------------------------------------------------------- */

/* erf^-1(x) on (-1,1), +-inf at +-1, NaN outside. f32: Giles' single-precision
 * approximation, as XLA; f64: the same refined by three Newton steps (on erf, and on
 * log erfc in the tails), relative error < 1e-13. */
jx_val jx_erf_inv_at(jx_loc loc, jx_val x);
#define jx_erf_inv(...) jx_erf_inv_at(JX_HERE, __VA_ARGS__)

/* ---- PRNG keys (jax.random) --------------------------------------------------------- */

/* The key [0, seed] (jax.random.PRNGKey(seed)) as a constant u32[2] of t. */
jx_val jx_random_key_at(jx_loc loc, jx_trace *t, uint32_t seed);
/* n new keys u32[n,2] from key (jax.random.split). */
jx_val jx_random_split_at(jx_loc loc, jx_val key, int n);
/* Key i (u32[2]) of a split keys[n,2]: keys[i]. */
jx_val jx_random_subkey_at(jx_loc loc, jx_val keys, int i);
/* jax.random.fold_in: a new key from key and data (a u32 or i32 scalar, traced). */
jx_val jx_random_fold_in_at(jx_loc loc, jx_val key, jx_val data);
/* Random u32 bits of a shape (jax.random.bits). */
jx_val jx_random_bits_at(jx_loc loc, jx_val key, jx_ints shape);
/* Uniform floats in [lo, hi) of type (f32 or f64), bit-exact with jax.random.uniform. */
jx_val jx_random_uniform_at(jx_loc loc, jx_val key, jx_type type, double lo, double hi);
/* Standard normal floats (jax.random.normal: sqrt(2) erf_inv(uniform(-1, 1))). */
jx_val jx_random_normal_at(jx_loc loc, jx_val key, jx_type type);
/* Standard normal floats truncated to (lo, hi) by the inverse CDF
 * (jax.random.truncated_normal). */
jx_val jx_random_truncated_normal_at(jx_loc loc, jx_val key, jx_type type, double lo,
                                     double hi);
/* bool[shape], true with probability p (jax.random.bernoulli: uniform f32 < p). */
jx_val jx_random_bernoulli_at(jx_loc loc, jx_val key, double p, jx_ints shape);
#define jx_random_key(...) jx_random_key_at(JX_HERE, __VA_ARGS__)
#define jx_random_split(...) jx_random_split_at(JX_HERE, __VA_ARGS__)
#define jx_random_subkey(...) jx_random_subkey_at(JX_HERE, __VA_ARGS__)
#define jx_random_fold_in(...) jx_random_fold_in_at(JX_HERE, __VA_ARGS__)
#define jx_random_bits(...) jx_random_bits_at(JX_HERE, __VA_ARGS__)
#define jx_random_uniform(...) jx_random_uniform_at(JX_HERE, __VA_ARGS__)
#define jx_random_normal(...) jx_random_normal_at(JX_HERE, __VA_ARGS__)
#define jx_random_truncated_normal(...) jx_random_truncated_normal_at(JX_HERE, __VA_ARGS__)
#define jx_random_bernoulli(...) jx_random_bernoulli_at(JX_HERE, __VA_ARGS__)
/* Integers uniform in [minval, maxval) of shape, dtype i32 or u32 (jax.random.randint,
 * same bits as JAX: two words per value, ((hi % span) * m + lo % span) % span in wrapping
 * u32 with m = 2^32 % span, except that JAX's m wraps to 0 for spans above 2^16; slightly
 * biased unless the span is a power of 2, more so for large spans). Unlike JAX, which
 * returns minval for an empty range and clips bounds to the dtype, an empty range or a
 * bound outside the dtype ([min, max + 1]) is an error. */
jx_val jx_random_randint_at(jx_loc loc, jx_val key, jx_ints shape, int64_t minval,
                            int64_t maxval, jx_dtype dtype);
/* A random permutation of 0..n-1 as i32[n] (jax.random.permutation(key, n), same order as
 * JAX): ceil(3 ln n / ln(2^32-1)) rounds (1 up to n = 1625, 2 up to 2.6M) of a stable sort
 * by fresh random u32 keys. The sort is a bitonic network of slices and selects:
 * O(n log^2 n) work, log2(p)(log2(p)+1)/2 stages per round for p = n rounded up to a power
 * of 2 (136 for n = 60000), about 25 nodes each. */
jx_val jx_random_permutation_at(jx_loc loc, jx_val key, int64_t n);
/* x with its slices along axis in random order (jax.random.permutation(key, x, axis)):
 * x's slices in the order of jx_random_permutation(key, x's size along axis). The whole
 * slices ride through the sorting network (O(n log^2 n) times a slice's size), so for
 * large rows shuffling indices is cheaper. Differentiable in x. */
jx_val jx_random_permute_at(jx_loc loc, jx_val key, jx_val x, int axis);
/* Standard Gumbel floats of type (jax.random.gumbel, mode "low"):
 * -log(-log(uniform(key, tiny, 1))). */
jx_val jx_random_gumbel_at(jx_loc loc, jx_val key, jx_type type);
/* i32 category indices sampled from softmax(logits) along axis (negative counts from the
 * end), one per element of logits' other dims (jax.random.categorical: argmax(gumbel +
 * logits, axis)). The _shape form takes jax's shape argument: leading sample dims, then
 * dims that logits' batch dims (all but axis, size 1 broadcasting) equal. */
jx_val jx_random_categorical_at(jx_loc loc, jx_val key, jx_val logits, int axis);
jx_val jx_random_categorical_shape_at(jx_loc loc, jx_val key, jx_val logits, int axis,
                                      jx_ints shape);
#define jx_random_randint(...) jx_random_randint_at(JX_HERE, __VA_ARGS__)
#define jx_random_permutation(...) jx_random_permutation_at(JX_HERE, __VA_ARGS__)
#define jx_random_permute(...) jx_random_permute_at(JX_HERE, __VA_ARGS__)
#define jx_random_gumbel(...) jx_random_gumbel_at(JX_HERE, __VA_ARGS__)
#define jx_random_categorical(...) jx_random_categorical_at(JX_HERE, __VA_ARGS__)
#define jx_random_categorical_shape(...) jx_random_categorical_shape_at(JX_HERE, __VA_ARGS__)

/* ---- host keys and initial parameters (no trace needed) ----------------------------- */

/* A PRNG key held on the host: the two u32 words of a jax.random key. */
typedef struct jx_key {
    uint32_t k[2];
} jx_key;

/* jax.random.PRNGKey(seed) = {0, seed}. */
jx_key jx_key_new(uint32_t seed);
/* jax.random.split(key, n) into out[0..n-1]. Returns 0, or -1 if n < 0. */
int jx_key_split(jx_key key, int n, jx_key *out);
/* jax.random.fold_in(key, data). */
jx_key jx_key_fold_in(jx_key key, uint32_t data);
/* The key as a u32[2] array (caller frees) / as a constant of trace t. */
jx_array *jx_key_array(jx_key key);
jx_val jx_key_val_at(jx_loc loc, jx_trace *t, jx_key key);
#define jx_key_val(...) jx_key_val_at(JX_HERE, __VA_ARGS__)

/* Fans of a parameter shape as jax.nn.initializers computes them: rank 0: 1, 1; rank 1:
 * shape[0] for both; else fan_in = shape[-2] * rf, fan_out = shape[-1] * rf with rf the
 * product of the leading dims (so [in,out] and HWIO kernels do the right thing). */
void jx_fans(jx_type type, double *fan_in, double *fan_out);

typedef enum jx_fan_mode { JX_FAN_IN, JX_FAN_OUT, JX_FAN_AVG } jx_fan_mode;
typedef enum jx_distribution {
    JX_DIST_TRUNCATED_NORMAL, /* [-2,2] standard normal rescaled to unit variance */
    JX_DIST_NORMAL,
    JX_DIST_UNIFORM
} jx_distribution;

/* New arrays of a float type holding initial parameter values (caller frees); NULL with
 * jx_error() on a bad type. Each draws from key exactly as the JAX/Haiku call named. */
jx_array *jx_init_zeros(jx_type type);
jx_array *jx_init_constant(jx_type type, double v);
/* uniform(key, lo, hi). */
jx_array *jx_init_uniform(jx_key key, jx_type type, double lo, double hi);
/* stddev * jax.random.normal(key) (the JAX MLP notebook's scale * normal). */
jx_array *jx_init_normal(jx_key key, jx_type type, double stddev);
/* hk.initializers.TruncatedNormal(stddev): stddev * truncated_normal(key, -2, 2). */
jx_array *jx_init_truncated_normal(jx_key key, jx_type type, double stddev);
/* Haiku's default weight init for Linear and Conv2D: TruncatedNormal with
 * stddev 1/sqrt(fan_in), fan_in = product of all dims but the last. */
jx_array *jx_init_haiku(jx_key key, jx_type type);
/* jax.nn.initializers.variance_scaling(scale, mode, distribution). */
jx_array *jx_init_variance_scaling(jx_key key, jx_type type, double scale, jx_fan_mode mode,
                                   jx_distribution dist);
/* The named jax.nn.initializers (variance_scaling presets). */
jx_array *jx_init_glorot_uniform(jx_key key, jx_type type); /* 1, avg, uniform */
jx_array *jx_init_glorot_normal(jx_key key, jx_type type);  /* 1, avg, truncated */
jx_array *jx_init_he_uniform(jx_key key, jx_type type);     /* 2, in, uniform */
jx_array *jx_init_he_normal(jx_key key, jx_type type);      /* 2, in, truncated */
jx_array *jx_init_lecun_normal(jx_key key, jx_type type);   /* 1, in, truncated */

/* ---- layers ------------------------------------------------------------------------- */

/* x[..., in] @ w[in, out] + b[out] (hk.Linear); b may be JX_NOVAL. */
jx_val jx_linear_at(jx_loc loc, jx_val x, jx_val w, jx_val b);
#define jx_linear(...) jx_linear_at(JX_HERE, __VA_ARGS__)

typedef enum jx_padding { JX_VALID, JX_SAME } jx_padding;

/* 2-D convolution (hk.Conv2D): x[N,H,W,C] (or one image [H,W,C]), kernel w[KH,KW,C,O],
 * bias b[O] or JX_NOVAL; strides has 1 (both axes) or 2 entries. SAME pads like TF:
 * total = max((ceil(H/s)-1)*s + KH - H, 0), low = total/2; VALID does not pad. Built as
 * conv_patches + dot_general; the JIT computes it (and its gradients) with direct
 * convolution kernels when the channel counts are small (README: Compilation). */
jx_val jx_conv2d_at(jx_loc loc, jx_val x, jx_val w, jx_val b, jx_ints strides,
                    jx_padding padding);
/* Max / average pooling over the two spatial axes of x[N,H,W,C] (or [H,W,C]); window and
 * strides have 1 or 2 entries. SAME pads with -inf for max; avg divides by the number of
 * elements inside the image (as hk.avg_pool). Non-overlapping windows (window ==
 * strides) are a reshape + reduce; others take the max/sum of KH*KW strided slices. */
jx_val jx_max_pool_at(jx_loc loc, jx_val x, jx_ints window, jx_ints strides,
                      jx_padding padding);
jx_val jx_avg_pool_at(jx_loc loc, jx_val x, jx_ints window, jx_ints strides,
                      jx_padding padding);
/* x[N, ...] -> [N, prod(...)] (hk.Flatten). */
jx_val jx_flatten_at(jx_loc loc, jx_val x);
#define jx_conv2d(...) jx_conv2d_at(JX_HERE, __VA_ARGS__)
#define jx_max_pool(...) jx_max_pool_at(JX_HERE, __VA_ARGS__)
#define jx_avg_pool(...) jx_avg_pool_at(JX_HERE, __VA_ARGS__)
#define jx_flatten(...) jx_flatten_at(JX_HERE, __VA_ARGS__)

/* ---- activations (jax.nn; relu, sigmoid, tanh and the softmaxes are in jx.h) -------- */

/* gelu: approximate != 0 uses the tanh form (jax.nn.gelu's default), else x*Phi(x). */
jx_val jx_gelu_at(jx_loc loc, jx_val x, int approximate);
/* x >= 0 ? x : slope * x. */
jx_val jx_leaky_relu_at(jx_loc loc, jx_val x, double slope);
/* x > 0 ? x : alpha * expm1(x). */
jx_val jx_elu_at(jx_loc loc, jx_val x, double alpha);
/* log(1 + exp(x)), stable for large |x|. */
jx_val jx_softplus_at(jx_loc loc, jx_val x);
/* x * sigmoid(x). */
jx_val jx_silu_at(jx_loc loc, jx_val x);
/* log(sigmoid(x)) = -softplus(-x). */
jx_val jx_log_sigmoid_at(jx_loc loc, jx_val x);
#define jx_gelu(...) jx_gelu_at(JX_HERE, __VA_ARGS__)
#define jx_leaky_relu(...) jx_leaky_relu_at(JX_HERE, __VA_ARGS__)
#define jx_elu(...) jx_elu_at(JX_HERE, __VA_ARGS__)
#define jx_softplus(...) jx_softplus_at(JX_HERE, __VA_ARGS__)
#define jx_silu(...) jx_silu_at(JX_HERE, __VA_ARGS__)
#define jx_log_sigmoid(...) jx_log_sigmoid_at(JX_HERE, __VA_ARGS__)

/* ---- losses and metrics ------------------------------------------------------------- */

/* Per-example softmax cross-entropy of logits[..., K], returning [...]; take jx_mean_all
 * for the batch loss. With integer labels[...] (i32 or u32): -log_softmax(logits)[label]
 * (a label outside [0,K) gives 0; -inf logits of other classes are fine). With targets
 * [..., K] of logits' type: -sum(targets * log_softmax(logits), -1), as
 * optax.softmax_cross_entropy. */
jx_val jx_softmax_cross_entropy_at(jx_loc loc, jx_val logits, jx_val labels);
jx_val jx_softmax_cross_entropy_onehot_at(jx_loc loc, jx_val logits, jx_val targets);
/* Per-example categorical cross-entropy on probabilities: -sum(targets *
 * log(clip(probs, eps, 1-eps)), -1) (no clipping when eps <= 0). */
jx_val jx_categorical_cross_entropy_at(jx_loc loc, jx_val probs, jx_val targets, double eps);
/* Mean squared error over all elements: mean((pred - target)^2), a scalar. */
jx_val jx_mse_at(jx_loc loc, jx_val pred, jx_val target);
/* f32 scalar mean(argmax(logits, -1) == labels) for integer labels[...], or for one-hot
 * (float) labels of logits' shape (compared through their argmax). */
jx_val jx_accuracy_at(jx_loc loc, jx_val logits, jx_val labels);
/* The same hits summed rather than averaged: the f32 scalar number of rows whose argmax
 * is the label (exact up to 2^24), which sums over batches of any size. */
jx_val jx_count_correct_at(jx_loc loc, jx_val logits, jx_val labels);
/* Inverted dropout: with train != 0 and rate > 0, each element is zeroed with probability
 * rate and the others scaled by 1/(1-rate) (rate >= 1 zeroes everything); otherwise x. */
jx_val jx_dropout_at(jx_loc loc, jx_val key, jx_val x, double rate, int train);
/* Dropout with a traced rate (a float scalar, e.g. an input of the compiled step, so one
 * compile serves every rate): elements kept where uniform(key) < 1 - rate (in f32) and
 * scaled by 1/(1 - rate); rate >= 1 zeroes everything (gradient 0, not NaN). With an f64
 * rate the result is jx_dropout's at that constant rate bit for bit. */
jx_val jx_dropout_rate_at(jx_loc loc, jx_val key, jx_val x, jx_val rate, int train);
#define jx_softmax_cross_entropy(...) jx_softmax_cross_entropy_at(JX_HERE, __VA_ARGS__)
#define jx_softmax_cross_entropy_onehot(...)                                            \
    jx_softmax_cross_entropy_onehot_at(JX_HERE, __VA_ARGS__)
#define jx_categorical_cross_entropy(...) jx_categorical_cross_entropy_at(JX_HERE, __VA_ARGS__)
#define jx_mse(...) jx_mse_at(JX_HERE, __VA_ARGS__)
#define jx_accuracy(...) jx_accuracy_at(JX_HERE, __VA_ARGS__)
#define jx_count_correct(...) jx_count_correct_at(JX_HERE, __VA_ARGS__)
#define jx_dropout(...) jx_dropout_at(JX_HERE, __VA_ARGS__)
#define jx_dropout_rate(...) jx_dropout_rate_at(JX_HERE, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
