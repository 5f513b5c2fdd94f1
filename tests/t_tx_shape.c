/* Transformation rules of the shape and reduction families: vjp and jvp of every
 * differentiable primitive against central differences (txc_grad), vmap of every primitive
 * against a loop over the batch for batch axes at the front, in the middle, at the end
 * and absent (txc_vmap), the efficient batched forms (no transposes where the batch axis
 * can stay in place), the tie rule of reduce_max/min, and second order.
 *
 * Tolerances: every op here is linear or piecewise linear, so in f64 with h = 1e-6 the
 * central differences are exact up to rounding (~1e-10 relative): grads are checked at
 * 1e-6 (reduce_max/min inputs are random, so ties closer than h are practically
 * impossible). vmap moves the same elements and sums in the same order as the loop, so it
 * is checked at 1e-12; integer outputs (argmax) exactly. Hand-computed values at 1e-12. */
#include "txcheck.h"
#include "primcheck.h"
#include "core/ir.h"

#define F64(...) JX_TYPE(JX_F64, __VA_ARGS__)
enum { B = 3 }; /* batch size of the vmap checks */

static const double GTOL = 1e-6, VTOL = 1e-12;

/* Traces a one-input function; fails the case (with the message) if tracing fails. */
static jx_fn *trace1(jx_trace_cb cb, jx_type ty, int n_out) {
    jx_fn *f = jx_trace(cb, 1, &ty, n_out, NULL);
    CHECK(f != NULL);
    if (!f) printf("  trace: %s\n", jx_error());
    return f;
}

static jx_fn *traceN(jx_trace_cb cb, int n_in, const jx_type *ty) {
    jx_fn *f = jx_trace(cb, n_in, ty, 1, NULL);
    CHECK(f != NULL);
    if (!f) printf("  trace: %s\n", jx_error());
    return f;
}

/* vmap of a one-input f with the batch axis first, second and last. */
static void vmap_axes1(const jx_fn *f) {
    int axes[3] = {0, 1, -1};
    for (int i = 0; i < 3; i++) txc_vmap(f, &axes[i], B, -2, 2, VTOL);
}

/* vmap(f, in_axes, out_axes) has exactly n_op nodes of op and no transpose. */
static void check_no_transpose(const jx_fn *f, const int *in_axes, const int *out_axes, jx_op op,
                               int n_op) {
    jx_fn *g = jx_vmap(f, in_axes, out_axes, B);
    CHECK(g != NULL);
    if (!g) {
        printf("  vmap: %s\n", jx_error());
        return;
    }
    CHECK(count_op(g, JX_OP_TRANSPOSE) == 0);
    CHECK(count_op(g, op) == n_op);
    if (count_op(g, JX_OP_TRANSPOSE) != 0) jx_fn_print(g, stdout);
    jx_fn_free(g);
}

/* grad and the transposition of the transposition: txc_grad on vjp(f) differentiates the
 * vjp rules' own output, a second-order check that needs only this family's rules. */
static void grad_and_vjp_grad(const jx_fn *f) {
    txc_grad(f, -2, 2, GTOL);
    jx_fn *g = jx_vjp(f, NULL);
    CHECK(g != NULL);
    if (g) txc_grad(g, -2, 2, GTOL);
    jx_fn_free(g);
}

/* ---- shape family -------------------------------------------------------------------- */

static void f_bcast(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_broadcast_in_dim(in[0], JX_INTS(2, 3, 4), JX_INTS(1, 2)); /* [3,1] */
}
static void f_bcast_scalar(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_broadcast_in_dim(in[0], JX_INTS(2, 3), JX_NOINTS);
}
static void f_bcast_mid(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_broadcast_in_dim(in[0], JX_INTS(3, 2, 4, 5), JX_INTS(0, 3)); /* [3,5] */
}

TEST(broadcast_in_dim) {
    jx_fn *f = trace1(f_bcast, F64(3, 1), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
    f = trace1(f_bcast_scalar, JX_SCALAR(JX_F64), 1);
    if (f) {
        int a = 0;
        txc_grad(f, -2, 2, GTOL);
        txc_vmap(f, &a, B, -2, 2, VTOL);
    }
    jx_fn_free(f);
    f = trace1(f_bcast_mid, F64(3, 5), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
}

TEST(broadcast_in_dim_batch_no_transpose) {
    jx_fn *f = trace1(f_bcast_mid, F64(3, 5), 1);
    /* x[3,B,5] -> batch axis lands right after output dim 0: [3,B,2,4,5] */
    int in = 1, out = 1;
    if (f) check_no_transpose(f, &in, &out, JX_OP_BROADCAST_IN_DIM, 1);
    in = -1, out = 4; /* x[3,5,B] -> [3,2,4,5,B] */
    if (f) check_no_transpose(f, &in, &out, JX_OP_BROADCAST_IN_DIM, 1);
    jx_fn_free(f);
}

static void f_reshape(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reshape(in[0], JX_INTS(6, 4));
}
static void f_reshape_scalar(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reshape(in[0], JX_INTS(1, 1));
}

TEST(reshape) {
    jx_fn *f = trace1(f_reshape, F64(2, 3, 4), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
    f = trace1(f_reshape_scalar, JX_SCALAR(JX_F64), 1);
    if (f) {
        int a = 0;
        grad_and_vjp_grad(f);
        txc_vmap(f, &a, B, -2, 2, VTOL);
    }
    jx_fn_free(f);
}

static void f_transpose(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_transpose(in[0], JX_INTS(2, 0, 1));
}

TEST(transpose) {
    jx_fn *f = trace1(f_transpose, F64(2, 3, 4), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    /* the batch axis folds into the one permutation */
    for (int a = -1; a <= 1 && f; a++) {
        jx_fn *g = jx_vmap(f, &a, NULL, B);
        CHECK(g && count_op(g, JX_OP_TRANSPOSE) == 1);
        jx_fn_free(g);
    }
    jx_fn_free(f);
}

static void f_slice(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_slice(in[0], JX_INTS(1, 0), JX_INTS(5, 7), JX_INTS(2, 3)); /* [5,7] -> [2,3] */
}
static void f_slice_empty(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_slice(in[0], JX_INTS(2, 1), JX_INTS(2, 4), JX_NOINTS); /* -> [0,3] */
}
static void f_slice_tail(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_slice(in[0], JX_INTS(3), JX_INTS(6), JX_NOINTS); /* [6] -> [3] */
}

TEST(slice) {
    jx_fn *f = trace1(f_slice, F64(5, 7), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    int in = 1, out = 1;
    if (f) check_no_transpose(f, &in, &out, JX_OP_SLICE, 1);
    jx_fn_free(f);
    f = trace1(f_slice_empty, F64(4, 5), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
    f = trace1(f_slice_tail, F64(6), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
}

/* The cotangent of a strided slice lands on the selected positions, zeros elsewhere. */
TEST(slice_vjp_values) {
    jx_fn *f = trace1(f_slice_tail, F64(6), 1);
    jx_fn *g = f ? jx_vjp(f, NULL) : NULL;
    CHECK(g != NULL);
    if (g) {
        jx_array *in[2] = {jx_array_new(JX_F64, 1, (int64_t[]){6}),
                           jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3})};
        jx_array *out[2] = {0};
        CHECK(jx_interp(g, in, out) == 0);
        double want[6] = {0, 0, 0, 1, 2, 3};
        for (int i = 0; out[1] && i < 6; i++) CHECK_NEAR(jx_array_get(out[1], i), want[i], VTOL);
        txc_free(2, in), txc_free(2, out);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

static void f_pad(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_pad(in[0], in[1], JX_INTS(1, -1), JX_INTS(2, 0), JX_INTS(1, 2)); /* [3,4] */
}
static void f_pad_crop(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_pad(in[0], in[1], JX_INTS(-2), JX_INTS(-1), JX_INTS(1)); /* [4] -> [4] */
}

TEST(pad) {
    jx_type ty[2] = {F64(3, 4), JX_SCALAR(JX_F64)};
    jx_fn *f = traceN(f_pad, 2, ty);
    if (f) {
        txc_grad(f, -2, 2, GTOL);
        int axes[][2] = {{0, JX_NONE}, {1, JX_NONE}, {-1, JX_NONE}, {0, 0},
                         {JX_NONE, 0}, {1, 0},       {-1, 0}};
        for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++)
            txc_vmap(f, axes[i], B, -2, 2, VTOL);
        int in[2] = {1, JX_NONE}, out = 1;
        check_no_transpose(f, in, &out, JX_OP_PAD, 1);
    }
    jx_fn_free(f);
    jx_type ty1[2] = {F64(4), JX_SCALAR(JX_F64)};
    f = traceN(f_pad_crop, 2, ty1);
    if (f) {
        txc_grad(f, -2, 2, GTOL);
        int axes[][2] = {{0, JX_NONE}, {0, 0}, {JX_NONE, 0}};
        for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++)
            txc_vmap(f, axes[i], B, -2, 2, VTOL);
    }
    jx_fn_free(f);
}

/* Cotangents of pad: the operand's are the kept positions, the padding value's the sum of
 * the rest (here x = [a,b], lo 1, hi 1, interior 1 -> [p,a,p,b,p]). */
TEST(pad_vjp_values) {
    jx_type ty[2] = {F64(2), JX_SCALAR(JX_F64)};
    jx_trace *t = jx_trace_begin(2, ty);
    jx_val y = jx_pad(jx_trace_input(t, 0), jx_trace_input(t, 1), JX_INTS(1), JX_INTS(1),
                      JX_INTS(1));
    jx_fn *f = jx_trace_end(t, 1, &y);
    jx_fn *g = f ? jx_vjp(f, NULL) : NULL;
    CHECK(g != NULL);
    if (g) {
        jx_array *in[3] = {jx_array_new(JX_F64, 1, (int64_t[]){2}), jx_array_scalar(JX_F64, 0),
                           jx_array_from(JX_F64, 1, (int64_t[]){5},
                                         (double[]){1, 2, 4, 8, 16})};
        jx_array *out[3] = {0};
        CHECK(jx_interp(g, in, out) == 0);
        if (out[1] && out[2]) {
            CHECK_NEAR(jx_array_get(out[1], 0), 2, VTOL);
            CHECK_NEAR(jx_array_get(out[1], 1), 8, VTOL);
            CHECK_NEAR(jx_array_get(out[2], 0), 1 + 4 + 16, VTOL);
        }
        txc_free(3, in), txc_free(3, out);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

static void f_concat(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_concatenate(3, in, 1); /* [2,3] [2,1] [2,2] -> [2,6] */
}
static void f_concat1(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_concatenate(1, in, 0);
}

TEST(concatenate) {
    jx_type ty[3] = {F64(2, 3), F64(2, 1), F64(2, 2)};
    jx_fn *f = traceN(f_concat, 3, ty);
    if (f) {
        grad_and_vjp_grad(f);
        int axes[][3] = {{0, 0, 0},       {1, 1, 1},          {-1, 0, JX_NONE},
                         {JX_NONE, 1, JX_NONE}, {0, JX_NONE, -1}, {JX_NONE, JX_NONE, 2}};
        for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++)
            txc_vmap(f, axes[i], B, -2, 2, VTOL);
        int in[3] = {2, 2, 2}, out = 2;
        check_no_transpose(f, in, &out, JX_OP_CONCATENATE, 1);
        int in2[3] = {0, JX_NONE, 0}, out2 = 0; /* unbatched operand broadcast in place */
        check_no_transpose(f, in2, &out2, JX_OP_CONCATENATE, 1);
    }
    jx_fn_free(f);
    jx_type ty1 = F64(4);
    f = traceN(f_concat1, 1, &ty1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
}

static void f_rev(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_rev(in[0], JX_INTS(0, 2));
}

TEST(rev) {
    jx_fn *f = trace1(f_rev, F64(3, 4, 2), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    int in = 1, out = 1;
    if (f) check_no_transpose(f, &in, &out, JX_OP_REV, 1);
    jx_fn_free(f);
}

/* ---- reduce family ------------------------------------------------------------------- */

static void f_sum(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_sum(in[0], JX_INTS(0, 2));
}
static void f_max(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_max(in[0], JX_INTS(0, 2));
}
static void f_min(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_min(in[0], JX_INTS(1));
}
static void f_max_all(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_max(in[0], JX_INTS(0));
}
static void f_min_all(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_min(in[0], JX_INTS(0));
}
static void f_sum_none(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_sum(in[0], JX_NOINTS);
}

TEST(reduce_sum) {
    jx_fn *f = trace1(f_sum, F64(3, 4, 5), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    /* x[3,4,5,B]: axes (0,2) stay, the batch axis ends up at 1 */
    int in = -1, out = 1;
    if (f) check_no_transpose(f, &in, &out, JX_OP_REDUCE_SUM, 1);
    in = 1, out = 0;
    if (f) check_no_transpose(f, &in, &out, JX_OP_REDUCE_SUM, 1);
    jx_fn_free(f);
    f = trace1(f_sum_none, F64(2, 3), 1);
    if (f) grad_and_vjp_grad(f), vmap_axes1(f);
    jx_fn_free(f);
}

TEST(reduce_max_min) {
    jx_fn *f = trace1(f_max, F64(3, 4, 5), 1);
    if (f) txc_grad(f, -2, 2, GTOL), vmap_axes1(f);
    int in = 2, out = 1;
    if (f) check_no_transpose(f, &in, &out, JX_OP_REDUCE_MAX, 1);
    jx_fn_free(f);
    f = trace1(f_min, F64(3, 4, 5), 1);
    if (f) txc_grad(f, -2, 2, GTOL), vmap_axes1(f);
    jx_fn_free(f);
    f = trace1(f_min_all, F64(6), 1);
    if (f) txc_grad(f, -2, 2, GTOL), vmap_axes1(f);
    jx_fn_free(f);
}

/* Ties share the derivative: max([1,3,3,2]) has gradient [0,.5,.5,0], and the tangent
 * [1,2,4,8] gives (2+4)/2; the same for min([2,1,5,1]). */
TEST(reduce_max_min_ties) {
    jx_trace_cb cbs[2] = {f_max_all, f_min_all};
    double xs[2][4] = {{1, 3, 3, 2}, {2, 1, 5, 1}};
    double want_g[2][4] = {{0, .5, .5, 0}, {0, .5, 0, .5}};
    double want_t[2] = {3, 5};
    for (int k = 0; k < 2; k++) {
        jx_fn *f = trace1(cbs[k], F64(4), 1);
        jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL;
        jx_fn *d = f ? jx_jvp(f, NULL) : NULL;
        CHECK(g && d);
        if (!g || !d) printf("  %s\n", jx_error());
        jx_array *x = jx_array_from(JX_F64, 1, (int64_t[]){4}, xs[k]);
        jx_array *v = jx_array_from(JX_F64, 1, (int64_t[]){4}, (double[]){1, 2, 4, 8});
        jx_array *gout[1] = {0}, *jin[2] = {x, v}, *jout[2] = {0};
        int ok_g = g && jx_interp(g, &x, gout) == 0, ok_d = d && jx_interp(d, jin, jout) == 0;
        CHECK(ok_g && ok_d);
        for (int i = 0; ok_g && i < 4; i++)
            CHECK_NEAR(jx_array_get(gout[0], i), want_g[k][i], VTOL);
        if (ok_d) CHECK_NEAR(jx_array_get(jout[1], 0), want_t[k], VTOL);
        txc_free(1, gout), txc_free(2, jout), txc_free(2, jin);
        jx_fn_free(g), jx_fn_free(d), jx_fn_free(f);
    }
}

static void f_argmax(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_argmax(in[0], 1, JX_I32);
}
static void f_argmax0(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_argmax(in[0], 0, JX_U32);
}
/* argmax next to a differentiable output: grad skips it (NOGRAD) */
static void f_argmax_aux(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_reduce_sum(jx_reduce_max(in[0], JX_INTS(1)), JX_INTS(0));
    out[1] = jx_argmax(in[0], 1, JX_I32);
}

TEST(argmax) {
    jx_fn *f = trace1(f_argmax, F64(3, 4), 1);
    if (f) vmap_axes1(f);
    int in = 1, out = 1; /* x[3,B,4] -> the batch axis stays at 1 */
    if (f) check_no_transpose(f, &in, &out, JX_OP_ARGMAX, 1);
    jx_fn_free(f);
    f = trace1(f_argmax0, F64(5, 2, 3), 1);
    if (f) vmap_axes1(f);
    jx_fn_free(f);
    f = trace1(f_argmax_aux, F64(3, 4), 2);
    if (f) {
        txc_grad(f, -2, 2, GTOL);
        jx_fn *g = jx_grad(f, 0, NULL);
        CHECK(g != NULL);
        if (g) vmap_axes1(g);
        jx_fn_free(g);
    }
    jx_fn_free(f);
}

/* ---- composition --------------------------------------------------------------------- */

/* A nonlinear scalar through every op of both families (pad, transpose, rev, reshape,
 * slice, concatenate, reduce_max/min, broadcast, reduce_sum) and mul. */
static void f_mix(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val x = in[0]; /* [3,4] */
    jx_val p = jx_pad(x, jx_scalar(t, JX_F64, 0.5), JX_INTS(1, 0), JX_INTS(0, 1), JX_INTS(0, 1));
    jx_val r = jx_rev(jx_transpose(p, JX_INTS(1, 0)), JX_INTS(0)); /* [8,4] */
    jx_val s = jx_slice(jx_reshape(r, JX_INTS(4, 8)), JX_INTS(0, 1), JX_INTS(4, 8), JX_NOINTS);
    jx_val c = jx_concatenate(2, (jx_val[]){s, s}, 1);
    jx_val m = jx_reduce_max(jx_mul(c, c), JX_INTS(1));
    jx_val b = jx_broadcast_in_dim(m, JX_INTS(4, 2), JX_INTS(0));
    jx_val mn = jx_broadcast_in_dim(jx_reduce_min(c, JX_INTS(1)), JX_INTS(4, 2), JX_INTS(0));
    out[0] = jx_reduce_sum(jx_mul(b, mn), JX_INTS(0, 1));
}

/* grad(grad) needs the elementwise family's rules too (mul, div, convert, eq). */
TEST(second_order) {
    jx_fn *f = trace1(f_mix, F64(3, 4), 1);
    if (f) {
        txc_grad(f, 0.1, 2, GTOL);
        jx_fn *g = jx_grad(f, 0, NULL);
        CHECK(g != NULL);
        if (!g) printf("  grad: %s\n", jx_error());
        if (g) {
            txc_grad(g, 0.1, 2, GTOL);
            vmap_axes1(g);
        }
        jx_fn_free(g);
    }
    jx_fn_free(f);
}

/* vmap of vjp: the slice/pad/concatenate transposes batch through their own rules. */
TEST(vmap_of_vjp) {
    jx_fn *f = trace1(f_slice, F64(5, 7), 1);
    jx_fn *g = f ? jx_vjp(f, NULL) : NULL;
    CHECK(g != NULL);
    if (g) {
        int axes[][2] = {{0, 0}, {1, JX_NONE}, {JX_NONE, -1}, {-1, 1}};
        for (int i = 0; i < 4; i++) txc_vmap(g, axes[i], B, -2, 2, VTOL);
    }
    jx_fn_free(g);
    jx_fn_free(f);
    jx_type ty[3] = {F64(2, 3), F64(2, 1), F64(2, 2)};
    f = traceN(f_concat, 3, ty);
    g = f ? jx_vjp(f, NULL) : NULL;
    CHECK(g != NULL);
    if (g) {
        int axes[4] = {JX_NONE, JX_NONE, JX_NONE, 1};
        txc_vmap(g, axes, B, -2, 2, VTOL);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

/* ---- errors -------------------------------------------------------------------------- */

static void f_bcast_rank8(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_broadcast_in_dim(in[0], JX_INTS(1, 1, 1, 1, 1, 1, 1, 2), JX_INTS(7));
}

/* A batched result past the rank limit is an error naming the op and the user's line. */
TEST(vmap_rank_limit) {
    jx_fn *f = trace1(f_bcast_rank8, F64(2), 1);
    int a = 0;
    jx_fn *g = f ? jx_vmap(f, &a, NULL, B) : NULL;
    CHECK(f && !g);
    CHECK_CONTAINS(jx_error(), "broadcast_in_dim");
    CHECK_CONTAINS(jx_error(), "t_tx_shape.c");
    CHECK_CONTAINS(jx_error(), "rank 9");
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
