/* jx/prims.h: one constructor per IR primitive (lax-level ops), included by <jx.h>.
 * Operands must agree exactly except where a primitive says otherwise; the binary
 * elementwise ops broadcast NumPy-style. Each takes its source location first; the
 * unsuffixed names are macros passing JX_HERE. */
#ifndef JX_PRIMS_H
#define JX_PRIMS_H

#ifndef JX_H
#error "include <jx.h>, which includes this header"
#endif

/* ---- primitives (one op per IR primitive; operands must agree exactly) ------------- */

/* Leaves: need the trace. */
jx_val jx_constant_at(jx_loc loc, jx_trace *t, jx_array *value); /* retains value */
jx_val jx_scalar_at(jx_loc loc, jx_trace *t, jx_dtype dt, double v);
jx_val jx_iota_at(jx_loc loc, jx_trace *t, jx_type type, int dimension);
#define jx_constant(...) jx_constant_at(JX_HERE, __VA_ARGS__)
#define jx_scalar(...) jx_scalar_at(JX_HERE, __VA_ARGS__)
#define jx_iota(...) jx_iota_at(JX_HERE, __VA_ARGS__)

/* Unary elementwise. */
jx_val jx_neg_at(jx_loc loc, jx_val x);
jx_val jx_abs_at(jx_loc loc, jx_val x);
jx_val jx_sign_at(jx_loc loc, jx_val x);
jx_val jx_exp_at(jx_loc loc, jx_val x);
jx_val jx_log_at(jx_loc loc, jx_val x);
jx_val jx_log1p_at(jx_loc loc, jx_val x);
jx_val jx_expm1_at(jx_loc loc, jx_val x);
jx_val jx_tanh_at(jx_loc loc, jx_val x);
jx_val jx_logistic_at(jx_loc loc, jx_val x);
jx_val jx_sqrt_at(jx_loc loc, jx_val x);
jx_val jx_rsqrt_at(jx_loc loc, jx_val x);
jx_val jx_sin_at(jx_loc loc, jx_val x);
jx_val jx_cos_at(jx_loc loc, jx_val x);
jx_val jx_erf_at(jx_loc loc, jx_val x);
jx_val jx_floor_at(jx_loc loc, jx_val x);
jx_val jx_not_at(jx_loc loc, jx_val x);
jx_val jx_stop_gradient_at(jx_loc loc, jx_val x);
jx_val jx_convert_at(jx_loc loc, jx_val x, jx_dtype dt);
jx_val jx_bitcast_at(jx_loc loc, jx_val x, jx_dtype dt);
#define jx_neg(...) jx_neg_at(JX_HERE, __VA_ARGS__)
#define jx_abs(...) jx_abs_at(JX_HERE, __VA_ARGS__)
#define jx_sign(...) jx_sign_at(JX_HERE, __VA_ARGS__)
#define jx_exp(...) jx_exp_at(JX_HERE, __VA_ARGS__)
#define jx_log(...) jx_log_at(JX_HERE, __VA_ARGS__)
#define jx_log1p(...) jx_log1p_at(JX_HERE, __VA_ARGS__)
#define jx_expm1(...) jx_expm1_at(JX_HERE, __VA_ARGS__)
#define jx_tanh(...) jx_tanh_at(JX_HERE, __VA_ARGS__)
#define jx_logistic(...) jx_logistic_at(JX_HERE, __VA_ARGS__)
#define jx_sqrt(...) jx_sqrt_at(JX_HERE, __VA_ARGS__)
#define jx_rsqrt(...) jx_rsqrt_at(JX_HERE, __VA_ARGS__)
#define jx_sin(...) jx_sin_at(JX_HERE, __VA_ARGS__)
#define jx_cos(...) jx_cos_at(JX_HERE, __VA_ARGS__)
#define jx_erf(...) jx_erf_at(JX_HERE, __VA_ARGS__)
#define jx_floor(...) jx_floor_at(JX_HERE, __VA_ARGS__)
#define jx_not(...) jx_not_at(JX_HERE, __VA_ARGS__)
#define jx_stop_gradient(...) jx_stop_gradient_at(JX_HERE, __VA_ARGS__)
#define jx_convert(...) jx_convert_at(JX_HERE, __VA_ARGS__)
#define jx_bitcast(...) jx_bitcast_at(JX_HERE, __VA_ARGS__)

/* Binary elementwise. These helpers broadcast NumPy-style (inserting broadcast_in_dim)
 * before emitting the primitive; dtypes must match. */
jx_val jx_add_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_sub_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_mul_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_div_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_pow_at(jx_loc loc, jx_val a, jx_val b);
/* The angle of the point (x, y) in [-pi, pi] (lax.atan2, jnp.arctan2); floats only. */
jx_val jx_atan2_at(jx_loc loc, jx_val y, jx_val x);
/* max and min: at a tie (a == b) the derivative is split, 0.5 to each operand (JAX's
 * lax.max convention), so d/dx max(x, x) = 1. jx_relu does not inherit it: see there. */
jx_val jx_max_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_min_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_rem_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_eq_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_ne_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_lt_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_le_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_gt_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_ge_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_and_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_or_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_xor_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_shift_left_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_shift_right_at(jx_loc loc, jx_val a, jx_val b);
/* pred ? a : b, broadcasting all three. */
jx_val jx_select_at(jx_loc loc, jx_val pred, jx_val a, jx_val b);
#define jx_add(...) jx_add_at(JX_HERE, __VA_ARGS__)
#define jx_sub(...) jx_sub_at(JX_HERE, __VA_ARGS__)
#define jx_mul(...) jx_mul_at(JX_HERE, __VA_ARGS__)
#define jx_div(...) jx_div_at(JX_HERE, __VA_ARGS__)
#define jx_pow(...) jx_pow_at(JX_HERE, __VA_ARGS__)
#define jx_atan2(...) jx_atan2_at(JX_HERE, __VA_ARGS__)
#define jx_max(...) jx_max_at(JX_HERE, __VA_ARGS__)
#define jx_min(...) jx_min_at(JX_HERE, __VA_ARGS__)
#define jx_rem(...) jx_rem_at(JX_HERE, __VA_ARGS__)
#define jx_eq(...) jx_eq_at(JX_HERE, __VA_ARGS__)
#define jx_ne(...) jx_ne_at(JX_HERE, __VA_ARGS__)
#define jx_lt(...) jx_lt_at(JX_HERE, __VA_ARGS__)
#define jx_le(...) jx_le_at(JX_HERE, __VA_ARGS__)
#define jx_gt(...) jx_gt_at(JX_HERE, __VA_ARGS__)
#define jx_ge(...) jx_ge_at(JX_HERE, __VA_ARGS__)
#define jx_and(...) jx_and_at(JX_HERE, __VA_ARGS__)
#define jx_or(...) jx_or_at(JX_HERE, __VA_ARGS__)
#define jx_xor(...) jx_xor_at(JX_HERE, __VA_ARGS__)
#define jx_shift_left(...) jx_shift_left_at(JX_HERE, __VA_ARGS__)
#define jx_shift_right(...) jx_shift_right_at(JX_HERE, __VA_ARGS__)
#define jx_select(...) jx_select_at(JX_HERE, __VA_ARGS__)

/* Shape primitives. */
jx_val jx_broadcast_in_dim_at(jx_loc loc, jx_val x, jx_ints shape, jx_ints dims);
jx_val jx_reshape_at(jx_loc loc, jx_val x, jx_ints shape);
jx_val jx_transpose_at(jx_loc loc, jx_val x, jx_ints perm);
jx_val jx_slice_at(jx_loc loc, jx_val x, jx_ints start, jx_ints limit, jx_ints strides);
jx_val jx_pad_at(jx_loc loc, jx_val x, jx_val padval, jx_ints lo, jx_ints hi, jx_ints interior);
jx_val jx_concatenate_at(jx_loc loc, int n, const jx_val *xs, int dimension);
jx_val jx_rev_at(jx_loc loc, jx_val x, jx_ints dims);
#define jx_broadcast_in_dim(...) jx_broadcast_in_dim_at(JX_HERE, __VA_ARGS__)
#define jx_reshape(...) jx_reshape_at(JX_HERE, __VA_ARGS__)
#define jx_transpose(...) jx_transpose_at(JX_HERE, __VA_ARGS__)
#define jx_slice(...) jx_slice_at(JX_HERE, __VA_ARGS__)
#define jx_pad(...) jx_pad_at(JX_HERE, __VA_ARGS__)
#define jx_concatenate(...) jx_concatenate_at(JX_HERE, __VA_ARGS__)
#define jx_rev(...) jx_rev_at(JX_HERE, __VA_ARGS__)

/* Dynamic slicing (lax.dynamic_slice, lax.dynamic_update_slice): starts[0..n_idx) are
 * traced i32[] scalars, one per dimension of x (n_idx = x's rank). As in JAX, a negative
 * start counts from the end of its dimension (s + dim), then every start is clamped to
 * [0, dim - window size] so the window stays inside x. The window's size is static.
 * jx_dynamic_slice: x[s0 : s0 + sizes[0], ...]. jx_dynamic_update_slice: x with update
 * (same dtype and rank, no larger) written at the window. Differentiable in x and update
 * (not the starts); vmap takes batched x, update and starts (batched starts make one
 * window per example, see src/prims/dynslice.c). */
jx_val jx_dynamic_slice_at(jx_loc loc, jx_val x, int n_idx, const jx_val *starts,
                           jx_ints sizes);
jx_val jx_dynamic_update_slice_at(jx_loc loc, jx_val x, jx_val update, int n_idx,
                                  const jx_val *starts);
#define jx_dynamic_slice(...) jx_dynamic_slice_at(JX_HERE, __VA_ARGS__)
#define jx_dynamic_update_slice(...) jx_dynamic_update_slice_at(JX_HERE, __VA_ARGS__)

/* Reductions over a set of axes (removed from the shape). */
jx_val jx_reduce_sum_at(jx_loc loc, jx_val x, jx_ints axes);
jx_val jx_reduce_max_at(jx_loc loc, jx_val x, jx_ints axes);
jx_val jx_reduce_min_at(jx_loc loc, jx_val x, jx_ints axes);
/* Index of the first maximum along axis, as index_dtype (JX_I32 or JX_U32). */
jx_val jx_argmax_at(jx_loc loc, jx_val x, int axis, jx_dtype index_dtype);
#define jx_reduce_sum(...) jx_reduce_sum_at(JX_HERE, __VA_ARGS__)
#define jx_reduce_max(...) jx_reduce_max_at(JX_HERE, __VA_ARGS__)
#define jx_reduce_min(...) jx_reduce_min_at(JX_HERE, __VA_ARGS__)
#define jx_argmax(...) jx_argmax_at(JX_HERE, __VA_ARGS__)

/* XLA-style dot_general: output dims are batch, lhs free, rhs free. */
jx_val jx_dot_general_at(jx_loc loc, jx_val a, jx_val b, jx_ints lhs_contract,
                         jx_ints rhs_contract, jx_ints lhs_batch, jx_ints rhs_batch);
#define jx_dot_general(...) jx_dot_general_at(JX_HERE, __VA_ARGS__)

/* Image patches of x[N,H,W,C] for a (kh,kw) window with strides and padding:
 * -> [N,OH,OW,kh*kw*C], features ordered (kh,kw,c). */
jx_val jx_conv_patches_at(jx_loc loc, jx_val x, jx_ints window, jx_ints strides, jx_ints pad_lo,
                          jx_ints pad_hi);
/* Its linear transpose: p[N,OH,OW,kh*kw*C] -> [N,H,W,C] (overlaps summed). */
jx_val jx_conv_patches_t_at(jx_loc loc, jx_val p, jx_ints image_hw, jx_ints window,
                            jx_ints strides, jx_ints pad_lo, jx_ints pad_hi);
#define jx_conv_patches(...) jx_conv_patches_at(JX_HERE, __VA_ARGS__)
#define jx_conv_patches_t(...) jx_conv_patches_t_at(JX_HERE, __VA_ARGS__)

/* Threefry-2x32 (20 rounds) on the counter pairs (x[0,j], x[1,j]) of x u32[2,...] ->
 * u32[2,...]. key is u32[2] (one key for every pair) or has x's type (pair j uses key
 * (key[0,j], key[1,j]), so a batch of keys is one op). */
jx_val jx_threefry2x32_at(jx_loc loc, jx_val key, jx_val x);
#define jx_threefry2x32(...) jx_threefry2x32_at(JX_HERE, __VA_ARGS__)

/* x itself, as a node that simplify, cse and const-fold do not look through (JAX's
 * lax.optimization_barrier, one operand): what jx_checkpoint's backward pass reads its
 * arguments through. Derivatives pass through it; the JIT drops it after its last cse. */
jx_val jx_optimization_barrier_at(jx_loc loc, jx_val x);
#define jx_optimization_barrier(...) jx_optimization_barrier_at(JX_HERE, __VA_ARGS__)

#endif
