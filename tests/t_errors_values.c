/* Bad values across the public API: poison, untraced and foreign values, absurd
 * sizes, wrong axes, lists longer than the rank limit and results past it. Each case runs
 * in a child process (errcheck.h), so a crash fails that case only. */
#include <stdint.h>
#include <sys/resource.h>

#include "check.h"
#include "errcheck.h"

#include "err_util.h"

/* ---- poison, untraced and foreign values ---------------------------------------------- */

ITEST(poison_through_every_primitive) {
    jx_type ts[2] = {F32(2, 3), JX_TYPE(JX_U32, 2)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val x = jx_trace_input(t, 0), k = jx_trace_input(t, 1);
    jx_val p = jx_reshape(x, JX_INTS(7));
    char first[1024];
    snprintf(first, sizeof first, "%s", jx_trace_error(t) ? jx_trace_error(t) : "");
    HAS(first, "reshape", "f32[2,3]", "t_errors_values.c");
    jx_ints no = JX_NOINTS, one = JX_INTS(1), two = JX_INTS(1, 1);
    jx_val cat[2] = {x, p};
    jx_val outs[] = {
        jx_neg(p), jx_abs(p), jx_sign(p), jx_exp(p), jx_log(p), jx_log1p(p), jx_expm1(p),
        jx_tanh(p), jx_logistic(p), jx_sqrt(p), jx_rsqrt(p), jx_sin(p), jx_cos(p), jx_floor(p),
        jx_not(p), jx_stop_gradient(p), jx_convert(p, JX_I32), jx_bitcast(p, JX_U32),
        jx_add(x, p), jx_sub(p, x), jx_mul(p, p), jx_div(p, x), jx_pow(p, x), jx_max(p, x),
        jx_min(p, x), jx_rem(p, x), jx_eq(p, x), jx_ne(p, x), jx_lt(p, x), jx_le(p, x),
        jx_gt(p, x), jx_ge(p, x), jx_and(p, x), jx_or(p, x), jx_xor(p, x),
        jx_shift_left(p, x), jx_shift_right(p, x), jx_select(p, x, x), jx_select(x, x, p),
        jx_broadcast_in_dim(p, JX_INTS(2, 3), JX_INTS(0, 1)), jx_reshape(p, JX_INTS(6)),
        jx_transpose(p, JX_INTS(1, 0)), jx_slice(p, JX_INTS(0, 0), JX_INTS(1, 1), no),
        jx_pad(p, jx_lit(x, 0), one, one, no), jx_pad(x, p, two, two, JX_INTS(0, 0)),
        jx_concatenate(2, cat, 0), jx_rev(p, JX_INTS(0)), jx_reduce_sum(p, one),
        jx_reduce_max(p, one), jx_reduce_min(p, one), jx_argmax(p, 0, JX_I32),
        jx_dot_general(p, x, one, one, no, no), jx_dot_general(x, p, one, one, no, no),
        jx_conv_patches(p, two, two, JX_INTS(0, 0), JX_INTS(0, 0)),
        jx_conv_patches_t(p, two, two, two, JX_INTS(0, 0), JX_INTS(0, 0)),
        jx_threefry2x32(k, p), jx_threefry2x32(p, k),
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (!jx_val_bad(outs[i])) CHECK_FAIL_("op %zu returned a valid value for poison", i);
    HAS(jx_trace_error(t), first);
    jx_fn *f = err_fn();
    jx_val o;
    CHECK(jx_call(f, &p, &o) < 0 && jx_val_bad(o));
    HAS(jx_trace_error(t), first);
    CHECK(jx_trace_end(t, 1, &o) == NULL);
    HAS(jx_error(), first);
    jx_fn_free(f);
}

ERR1(untraced_operand_of_dot, F32(2, 2),
     jx_dot_general((jx_val){NULL, -1}, x, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS),
     "dot_general", "not a traced value")
ERR1(missing_node_operand, F32(2), jx_exp((jx_val){t, 12345}), "exp", "missing node")
ERR1(missing_node_in_pad_value, F32(2),
     jx_pad(x, (jx_val){t, 999}, JX_INTS(1), JX_INTS(1), JX_INTS(0)), "pad", "missing node")

/* helpers that pass poison through name themselves (the first error wins) */
ITEST(garbage_ids_are_reported_by_the_helper) {
    jx_type ty = F32(2);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val r[3] = {jx_sum_all((jx_val){t, 999}), jx_expand_dims((jx_val){t, -7}, 0),
                   jx_trace_input(t, 0)};
    CHECK(jx_val_bad(r[0]) && jx_val_bad(r[1]));
    CHECK(jx_trace_end(t, 3, r) == NULL);
    HAS(jx_error(), "sum_all", "operand 0 refers to a missing node");
}

/* Two traces of one f32[2,2] input each: ops mixing them fail on both (either may be
 * the one the caller is building, so its own error must not be a later, vaguer one). */
#define MIX(name, expr, ...)                                                            \
    ITEST(name) {                                                                       \
        jx_type ty_ = F32(2, 2);                                                        \
        jx_trace *t = jx_trace_begin(1, &ty_), *t2 = jx_trace_begin(1, &ty_);           \
        jx_val x = jx_trace_input(t, 0), y = jx_trace_input(t2, 0);                     \
        jx_val r = (expr);                                                              \
        POISON(t, r, "different trace", __VA_ARGS__);                                   \
        CHECK_CONTAINS(jx_trace_error(t2), "different trace");                          \
        jx_trace_abort(t);                                                              \
        jx_trace_abort(t2);                                                             \
    }
MIX(mix_select, jx_select(jx_gt(x, x), x, y), "select")
MIX(mix_pad_value, jx_pad(x, jx_lit(y, 0), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0)), "pad")
MIX(mix_concatenate, jx_concatenate(2, ((jx_val[]){x, y}), 0), "concatenate")
MIX(mix_dot_general, jx_dot_general(x, y, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS),
    "dot_general")
MIX(mix_matmul, jx_matmul(x, y), "dot_general")
MIX(mix_threefry,
    jx_threefry2x32(jx_convert(jx_reshape(jx_slice(x, JX_INTS(0, 0), JX_INTS(1, 2), JX_NOINTS),
                                          JX_INTS(2)),
                               JX_U32),
                    jx_convert(y, JX_U32)),
    "threefry2x32")
MIX(mix_broadcasting_add, jx_add(x, jx_reshape(y, JX_INTS(4, 1))), "add")

ITEST(mix_call_arguments) {
    jx_type ty[2] = {F32(3), F32(3)};
    jx_fn *f = jx_trace(err_sumsq, 1, ty, 1, NULL);
    jx_fn *g = jx_vjp(f, NULL); /* two inputs: x and the cotangent */
    jx_trace *t = jx_trace_begin(1, ty);
    jx_type s = JX_SCALAR(JX_F32);
    jx_trace *t3 = jx_trace_begin(1, &s);
    jx_val args[2] = {jx_trace_input(t, 0), jx_trace_input(t3, 0)}, o[2];
    CHECK(g && jx_call(g, args, o) < 0 && jx_val_bad(o[0]) && jx_val_bad(o[1]));
    HAS(jx_trace_error(t), "call", "argument 1", "t_errors_values.c");
    jx_trace_abort(t);
    jx_trace_abort(t3);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* ---- absurd sizes -------------------------------------------------------------------- */

ITEST(huge_trace_input_rejected) {
    jx_type ty = F32(P40, P40);
    CHECK(jx_trace_begin(1, &ty) == NULL);
    HAS(jx_error(), "input 0", "f32[1099511627776,1099511627776]");
    jx_type ty2 = JX_TYPE(JX_F64, P31, P31, 4);
    CHECK(jx_trace_begin(1, &ty2) == NULL);
    HAS(jx_error(), "input 0", "f64[2147483648,2147483648,4]");
}

ERR1(huge_full, F32(2), jx_full(t, F32(P40, P40), 1), "1099511627776,1099511627776")
ERR1(huge_iota, F32(2), jx_iota(t, JX_TYPE(JX_I32, P40, P40), 0), "iota",
     "i32[1099511627776,1099511627776]")
ERR1(huge_broadcast_in_dim, JX_SCALAR(JX_F32),
     jx_broadcast_in_dim(x, JX_INTS(P40, P40), JX_NOINTS), "broadcast_in_dim",
     "1099511627776,1099511627776")
ERR1(huge_broadcast_to, F32(1), jx_broadcast_to(x, JX_INTS(P40, P40, 1)), "broadcast_to",
     "1099511627776")
ERR1(huge_one_hot, JX_TYPE(JX_I32, P40), jx_one_hot(x, 1 << 30, JX_F32),
     "i32[1099511627776,1073741824]")
ERR2(huge_concatenate_overflows, F32((int64_t)1 << 58), F32((int64_t)1 << 58),
     jx_concatenate(2, ((jx_val[]){x, y}), 0), "concatenate", "576460752303423488")
ERR1(huge_pad_interior_overflows, F32(3),
     jx_pad(x, jx_lit(x, 0), JX_INTS(0), JX_INTS(0), JX_INTS((int64_t)1 << 62)), "pad",
     "f32[3]")
ERR2(huge_dot_general_output, F32((int64_t)1 << 32, 1), F32(1, (int64_t)1 << 32),
     jx_dot_general(x, y, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS), "dot_general",
     "f32[4294967296,1]")
ERR1(huge_conv_padding_overflows, F32(1, 4, 4, 1),
     jx_conv_patches(x, JX_INTS(1, 1), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(INT64_MAX, 0)),
     "conv_patches", "f32[1,4,4,1]")

/* Not an error: a stride of INT64_MAX takes one element (and must not overflow). */
ITEST(huge_slice_stride_is_fine) {
    jx_type ty = F32(5);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val r = jx_slice(jx_trace_input(t, 0), JX_INTS(1), JX_INTS(5), JX_INTS(INT64_MAX));
    jx_type want = F32(1), got = jx_val_type(r);
    CHECK(jx_type_eq(&got, &want));
    jx_trace_abort(t);
}

ITEST(huge_vmap_batch) {
    jx_fn *f = err_fn();
    int ax = 0;
    jx_type big = F32(P40 / 2);
    jx_fn *g = jx_trace(err_sumsq, 1, &big, 1, NULL);
    CHECK(g && jx_vmap(g, &ax, NULL, P40) == NULL);
    HAS(jx_error(), "vmap");
    CHECK(jx_vmap(f, &ax, NULL, INT64_MAX) == NULL);
    HAS(jx_error(), "vmap", "batch size");
    jx_fn_free(g);
    jx_fn_free(f);
}

/* f(x: f32[]) = sum(broadcast(x, shape)): a tiny function with an absurd intermediate. */
static void err_bcast_sum(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    out[0] = jx_sum_all(jx_broadcast_in_dim(in[0], *(const jx_ints *)user, JX_NOINTS));
}

/* Runs err_bcast_sum on shape; expects interp to refuse with a message naming the op.
 * Runs in the case's child: outside ASan (which has its own allocation limit) the address
 * space is capped at 1 TiB first, so that an attempted allocation fails here whatever the
 * machine's overcommit policy, instead of being granted and zero-filled. */
static void err_interp_refuses(jx_ints shape, const char *shape_str) {
#ifndef __SANITIZE_ADDRESS__
    struct rlimit lim = {(rlim_t)1 << 40, (rlim_t)1 << 40};
    setrlimit(RLIMIT_AS, &lim);
#endif
    jx_type s = JX_SCALAR(JX_F32);
    jx_fn *f = jx_trace(err_bcast_sum, 1, &s, 1, &shape);
    CHECK(f != NULL);
    jx_array *x = jx_array_scalar(JX_F32, 1), *o = NULL;
    CHECK(f && jx_interp(f, &x, &o) < 0 && o == NULL);
    HAS(jx_error(), "interp", "broadcast_in_dim", shape_str);
    jx_array_free(x);
    jx_array_free(o);
    jx_fn_free(f);
}

/* 2^64 bytes: past JX_MAX_BYTES, so the trace already refuses it */
ITEST(trace_refuses_intermediate_past_the_size_limit) {
    jx_type s = JX_SCALAR(JX_F32);
    jx_ints shape = JX_INTS(P31, P31);
    CHECK(jx_trace(err_bcast_sum, 1, &s, 1, &shape) == NULL);
    HAS(jx_error(), "broadcast_in_dim", "f32[2147483648,2147483648]", "too large");
}

ITEST(interp_refuses_absurd_intermediate) {
    err_interp_refuses(JX_INTS(P40, 16), "f32[1099511627776,16]"); /* 64 TiB */
}

/* ---- wrong axes (negative or past the rank) ------------------------------------------ */

ERR1(axis_iota_negative, F32(1), jx_iota(t, F32(2, 3), -1), "iota", "dimension -1")
ERR1(axis_iota_past_rank, F32(1), jx_iota(t, F32(2, 3), 2), "iota", "dimension 2")
ERR1(axis_iota_rank0, F32(1), jx_iota(t, JX_SCALAR(JX_I32), 0), "iota", "rank 0")
ERR1(axis_broadcast_dims_negative, F32(3),
     jx_broadcast_in_dim(x, JX_INTS(2, 3), JX_INTS(-1)), "broadcast_in_dim", "-1")
ERR1(axis_transpose_negative, F32(2, 3), jx_transpose(x, JX_INTS(-1, 0)), "transpose", "f32[2,3]")
ERR1(axis_rev_negative, F32(2, 3), jx_rev(x, JX_INTS(-1)), "rev", "-1", "f32[2,3]")
ERR2(axis_concatenate_negative, F32(2), F32(2), jx_concatenate(2, ((jx_val[]){x, y}), -1),
     "concatenate", "-1")
ERR1(axis_reduce_sum_negative, F32(2, 3), jx_reduce_sum(x, JX_INTS(-1)), "reduce_sum", "-1",
     "f32[2,3]")
ERR1(axis_reduce_min_past_rank, F32(2, 3), jx_reduce_min(x, JX_INTS(1, 2)), "reduce_min", "2",
     "f32[2,3]")
ERR1(axis_argmax_negative, F32(2, 3), jx_argmax(x, -1, JX_I32), "argmax", "-1", "f32[2,3]")
ERR1(axis_argmax_rank0, JX_SCALAR(JX_F32), jx_argmax(x, 0, JX_I32), "argmax", "f32[]")
ERR1(axis_squeeze_negative, F32(1, 2), jx_squeeze(x, -3), "squeeze", "-3", "f32[1,2]")
ERR1(axis_expand_dims_past_rank, F32(2), jx_expand_dims(x, 2), "expand_dims", "axis 2", "f32[2]")
ERR1(axis_sum_keepdims_negative, F32(2, 3), jx_sum(x, -3, 1), "sum", "-3", "f32[2,3]")
ERR1(axis_mean_negative, F32(2, 3), jx_mean(x, -5, 0), "mean", "-5", "f32[2,3]")
ERR1(axis_amax_rank0, JX_SCALAR(JX_F32), jx_amax(x, 0, 1), "amax", "f32[]")
ERR1(axis_logsumexp_past_rank, F32(2, 3), jx_logsumexp(x, 2), "logsumexp", "axis 2", "f32[2,3]")
ERR1(axis_softmax_negative, F32(2, 3), jx_softmax(x, -3), "softmax", "-3", "f32[2,3]")
ERR2(axis_dot_contract_negative, F32(2, 3), F32(3, 4),
     jx_dot_general(x, y, JX_INTS(-1), JX_INTS(0), JX_NOINTS, JX_NOINTS), "dot_general", "-1")
ERR2(axis_dot_batch_past_rank, F32(2, 3), F32(2, 3),
     jx_dot_general(x, y, JX_INTS(1), JX_INTS(1), JX_INTS(2), JX_INTS(0)), "dot_general", "2")

ITEST(axis_vmap_in_and_out) {
    jx_fn *f = err_fn();
    int in_neg[1] = {-3}, in_ok[1] = {0}, out_far[1] = {1}, out_neg[1] = {-2};
    CHECK(jx_vmap(f, in_neg, NULL, 2) == NULL);
    HAS(jx_error(), "vmap", "in_axes[0] = -3", "f32[3]");
    CHECK(jx_vmap(f, in_ok, out_far, 2) == NULL); /* the output is a scalar: axes 0 / -1 */
    HAS(jx_error(), "vmap", "out_axes[0] = 1");
    CHECK(jx_vmap(f, in_ok, out_neg, 2) == NULL);
    HAS(jx_error(), "vmap", "out_axes[0] = -2");
    jx_fn_free(f);
}

ITEST(axis_jacobian_wrt) {
    jx_fn *f = err_fn();
    CHECK(jx_jacrev(f, 1, (int[]){-1}) == NULL);
    HAS(jx_error(), "jacrev", "-1");
    CHECK(jx_jacfwd(f, 1, (int[]){1}) == NULL);
    HAS(jx_error(), "jacfwd", "1");
    CHECK(jx_hessian(f, 1, (int[]){5}) == NULL);
    HAS(jx_error(), "wrt 5"); /* reported as jacrev's */
    jx_fn_free(f);
}

/* ---- lists longer than the rank limit, and results past rank 8 ------------------------ */

/* A jx_ints claiming n entries (its storage holds only JX_MAX_RANK). */
static jx_ints err_long(int n) {
    jx_ints l = JX_INTS(0, 0, 0, 0, 0, 0, 0, 0);
    l.n = n;
    return l;
}

ERR1(list9_broadcast_shape, F32(1), jx_broadcast_in_dim(x, err_long(9), JX_INTS(0)),
     "broadcast_in_dim", "9")
ERR1(list9_reshape, F32(1), jx_reshape(x, err_long(9)), "reshape", "9")
ERR1(list9_slice, F32(1), jx_slice(x, err_long(9), err_long(9), JX_NOINTS), "slice", "9")
ERR1(list9_pad, F32(1), jx_pad(x, jx_lit(x, 0), err_long(9), JX_INTS(0), JX_INTS(0)), "pad", "9")
ERR1(list9_reduce_max, F32(1), jx_reduce_max(x, err_long(9)), "reduce_max", "9")
ERR1(list9_broadcast_to, F32(1), jx_broadcast_to(x, err_long(9)), "broadcast_to", "9")
ERR2(list9_dot_general, F32(1), F32(1),
     jx_dot_general(x, y, err_long(9), JX_INTS(0), JX_NOINTS, JX_NOINTS), "dot_general")
ERR2(list100_dot_general, F32(1), F32(1),
     jx_dot_general(x, y, JX_INTS(0), JX_INTS(0), err_long(100), err_long(100)), "dot_general")
ERR1(list9_conv_patches, F32(1, 4, 4, 1),
     jx_conv_patches(x, err_long(9), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0)),
     "conv_patches")
ERR1(list_negative_conv_patches_t, F32(1, 3, 3, 4),
     jx_conv_patches_t(x, JX_INTS(4, 4), err_long(-1), JX_INTS(1, 1), JX_INTS(0, 0),
                       JX_INTS(0, 0)),
     "conv_patches_t")
ERR1(list5000_transpose, F32(1), jx_transpose(x, err_long(5000)), "transpose")

ERR1(rank9_one_hot, JX_TYPE(JX_I32, 1, 1, 1, 1, 1, 1, 1, 1), jx_one_hot(x, 3, JX_F32), "one_hot",
     "maximum rank")

/* f(x: f32[2]) = reshape(x, [2,1,1,1,1,1,1,1]): rank 8 inside, so vmap needs rank 9. */
static void err_to_rank8(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_reshape(in[0], JX_INTS(2, 1, 1, 1, 1, 1, 1, 1));
}

ITEST(rank9_vmap_of_rank8_intermediate) {
    jx_type ty = F32(2);
    jx_fn *f = jx_trace(err_to_rank8, 1, &ty, 1, NULL);
    int ax = 0;
    CHECK(f && jx_vmap(f, &ax, NULL, 3) == NULL);
    HAS(jx_error(), "vmap");
    jx_fn *g = f ? jx_vmap(f, (int[]){JX_NONE}, (int[]){JX_NONE}, 3) : NULL;
    CHECK(g != NULL); /* nothing batched: no rank growth */
    jx_fn_free(g);
    jx_fn_free(f);
}

ITEST(rank9_vmap_input) {
    jx_type ty = R8;
    jx_fn *f = jx_trace(err_sumsq, 1, &ty, 1, NULL);
    int ax = -1;
    CHECK(f && jx_vmap(f, &ax, NULL, 2) == NULL);
    HAS(jx_error(), "vmap", "rank limit", "f32[1,1,1,1,1,1,1,1]");
    jx_fn_free(f);
}

/* f(x: f32[1,1,1,1,1]) = x * x: Jacobian rank 10, Hessian of its sum rank 10. */
static void err_square(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], in[0]);
}

ITEST(rank9_jacobians) {
    jx_type ty = F32(1, 1, 1, 1, 1);
    jx_fn *f = jx_trace(err_square, 1, &ty, 1, NULL), *s = jx_trace(err_sumsq, 1, &ty, 1, NULL);
    CHECK(f && jx_jacrev(f, 0, NULL) == NULL);
    HAS(jx_error(), "jacrev", "f32[1,1,1,1,1]");
    CHECK(f && jx_jacfwd(f, 0, NULL) == NULL);
    HAS(jx_error(), "jacfwd", "f32[1,1,1,1,1]");
    CHECK(s && jx_hessian(s, 0, NULL) == NULL);
    HAS(jx_error(), "f32[1,1,1,1,1]");
    jx_fn_free(f);
    jx_fn_free(s);
}

TEST_MAIN()
