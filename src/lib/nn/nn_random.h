/* Internal helpers shared by the jax.random files (nn_random.c: keys and continuous
 * distributions; nn_random_discrete.c: randint, permutation, gumbel, categorical). Each
 * takes the op name that its error messages carry. */
#ifndef JX_NN_RANDOM_H
#define JX_NN_RANDOM_H

#include <stdint.h>

#include <jx/nn.h>

/* A poison value for a failed check on v (v itself when it already is poison). */
jx_val nnr_poison(jx_val v);
/* 0 if key is a u32[2] value; otherwise records an error for op (-1). */
int nnr_check_key(jx_loc loc, jx_val key, const char *op);
/* Number of elements of shape, or -1 (with an error for op) if the shape is bad or has
 * more elements than u32 counters can number. */
int64_t nnr_numel(jx_loc loc, jx_trace *t, jx_ints shape, const char *op);
/* Random u32 bits of a shape from a checked key (jax.random.bits). */
jx_val nnr_bits(jx_loc loc, jx_val key, jx_ints shape, const char *op);
/* jax.random's _uniform for a checked key and float type, with traced scalar bounds lo,
 * hi of type's dtype. */
jx_val nnr_uniform(jx_loc loc, jx_val key, jx_type type, jx_val lo, jx_val hi, const char *op);
/* vals sorted by keys (both u32[n], checked by the caller), stably: lax.sort_key_val as
 * a bitonic network of existing primitives (nn_random_discrete.c). */
jx_val nnr_sort_key_val(jx_loc loc, jx_val keys, jx_val vals);

#endif
