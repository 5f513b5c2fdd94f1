/* JIT vs interpreter: every primitive, compiled with jx_jit and compared with jx_interp
 * on the same inputs (helpers in jitcheck.h; whole programs are in t_jit_programs.c, the
 * fast paths, threads and GEMM folds in t_jit_fast.c).
 *
 * Tolerances (CHECK_NEAR's |a-b| <= tol*(1+|b|); NaNs must match NaNs, infs exactly):
 *  - integer, bool and shape ops, conversions, f32/f64 +,-,*,/, max/min, floor, sqrt:
 *    exact (tol 0);
 *  - f32 transcendentals: 1e-6 (exp, log, log1p, expm1, tanh, logistic are native f32
 *    polynomials within 3 ulp, checked in ulps by t_jit_fast.c; sin, cos and pow are
 *    computed in double and rounded: within 1 ulp);
 *  - f64 transcendentals: 1e-13; f64 pow: 1e-12 (exp(y log x) loses |y log x| ulp);
 *  - f32 reductions, GEMMs and compositions: 1e-5 (different summation order; the
 *    interpreter accumulates f32 in double); f64 ones: 1e-12. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "jitcheck.h"
#include "core/trace.h"
#include "jit_util.h"

/* ---- every elementwise primitive, every dtype its rule accepts ------------------------- */

/* Input range for op on dtype dt (keeps pow/log meaningful and integers varied). */
static void op_range(jx_op op, jx_dtype dt, double *lo, double *hi) {
    *lo = -10;
    *hi = 10;
    if (dt == JX_U32) *lo = 0;
    if (op == JX_OP_SHIFT_LEFT || op == JX_OP_SHIFT_RIGHT) *lo = 0, *hi = 40;
    if (op == JX_OP_EXP) *lo = -100, *hi = 100;
    if (op == JX_OP_SIN || op == JX_OP_COS) *lo = -100, *hi = 100;
    if (op == JX_OP_LOG || op == JX_OP_SQRT || op == JX_OP_RSQRT) *lo = -1, *hi = 1000;
    if (op == JX_OP_LOG1P) *lo = -1.5, *hi = 3;
    if (op == JX_OP_EXPM1 || op == JX_OP_TANH || op == JX_OP_LOGISTIC) *lo = -20, *hi = 20;
    if (op == JX_OP_POW) *lo = -4, *hi = 4;
}

/* Tolerance of op on dtype dt (see the header comment). */
static double op_tol(jx_op op, jx_dtype dt) {
    switch (op) {
    case JX_OP_EXP: case JX_OP_LOG: case JX_OP_LOG1P: case JX_OP_EXPM1: case JX_OP_TANH:
    case JX_OP_LOGISTIC: case JX_OP_SIN: case JX_OP_COS:
        return dt == JX_F32 ? 1e-6 : 1e-13;
    case JX_OP_POW: return dt == JX_F32 ? 1e-6 : 1e-12;
    default: return 0;
    }
}

TEST(every_elementwise_prim) {
    static const jx_dtype dts[5] = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL};
    int tried = 0;
    for (int op = 0; op < JX_NOPS; op++) {
        const jx_prim_info *pi = prim_info((jx_op)op);
        if (!(pi->flags & JXF_ELT) || op == JX_OP_CONVERT || op == JX_OP_BITCAST) continue;
        for (int d = 0; d < 5; d++) {
            jx_type t = JX_TYPE(dts[d], 3, 37), pt = JX_TYPE(JX_BOOL, 3, 37);
            jx_type ts[3] = {t, t, t};
            if (op == JX_OP_SELECT) ts[0] = pt;
            int nin = pi->arity;
            jx_trace *tr = jx_trace_begin(nin, ts);
            jx_val ins[3];
            for (int k = 0; k < nin; k++) ins[k] = jx_trace_input(tr, k);
            jx_val r = trace_emit(JX_HERE, tr, (jx_op)op, nin, ins, NULL, NULL);
            if (jx_val_bad(r)) { /* dtype not accepted by the rule */
                jx_trace_abort(tr);
                jx_clear_error();
                continue;
            }
            jx_fn *f = jx_trace_end(tr, 1, &r);
            double lo, hi;
            op_range((jx_op)op, dts[d], &lo, &hi);
            jx_array *in[3];
            for (int k = 0; k < nin; k++) in[k] = rand_array(ts[k], lo, hi, 1);
            char what[96];
            snprintf(what, sizeof what, "%s %s", pi->name, jx_dtype_name(dts[d]));
            jit_vs_interp(f, in, op_tol((jx_op)op, dts[d]), what);
            free_all(in, nin);
            tried++;
        }
    }
    CHECK(tried > 60);
}

TEST(convert_and_bitcast_all_pairs) {
    static const jx_dtype dts[5] = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL};
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int bc = 0; bc < 2; bc++) {
                jx_type t = JX_TYPE(dts[a], 50);
                jx_trace *tr = jx_trace_begin(1, &t);
                jx_val x = jx_trace_input(tr, 0);
                jx_val r = bc ? jx_bitcast(x, dts[b]) : jx_convert(x, dts[b]);
                if (jx_val_bad(r)) {
                    jx_trace_abort(tr);
                    jx_clear_error();
                    continue;
                }
                jx_fn *f = jx_trace_end(tr, 1, &r);
                jx_array *in = rand_array(t, -3e9, 5e9, 1);
                char what[64];
                snprintf(what, sizeof what, "%s %s->%s", bc ? "bitcast" : "convert",
                         jx_dtype_name(dts[a]), jx_dtype_name(dts[b]));
                jit_vs_interp(f, &in, 0, what);
                jx_array_free(in);
            }
}

/* Transcendentals on special and extreme values (f32 and f64). */
TEST(transcendental_edges) {
    static const double xs[] = {0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 1, -1, 2,
                                88.5, 88.8, -87.5, -103.5, -104, 709.5, 710, -745, -746,
                                1e10, -1e10, 1e30, 1e-310, 3.14159265, 1e6, NAN, INFINITY,
                                -INFINITY};
    static const jx_op ops[] = {JX_OP_EXP, JX_OP_LOG, JX_OP_LOG1P, JX_OP_EXPM1, JX_OP_TANH,
                                JX_OP_LOGISTIC, JX_OP_SIN, JX_OP_COS};
    int n = (int)(sizeof xs / sizeof xs[0]);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            jx_type t = JX_TYPE(dt, n);
            jx_trace *tr = jx_trace_begin(1, &t);
            jx_val x = jx_trace_input(tr, 0);
            jx_val r = trace_emit(JX_HERE, tr, ops[k], 1, &x, NULL, NULL);
            jx_fn *f = jx_trace_end(tr, 1, &r);
            jx_array *in = jx_array_new_type(&t);
            for (int i = 0; i < n; i++) jx_array_set(in, i, xs[i]);
            /* sin/cos of 1e10 and larger are outside the documented accurate range */
            if (ops[k] == JX_OP_SIN || ops[k] == JX_OP_COS)
                for (int i = 0; i < n; i++)
                    if (fabs(xs[i]) >= 1e10 && isfinite(xs[i])) jx_array_set(in, i, 1.0);
            char what[64];
            snprintf(what, sizeof what, "%s %s edges", prim_info(ops[k])->name, jx_dtype_name(dt));
            jit_vs_interp(f, &in, dt == JX_F32 ? 1e-6 : 1e-13, what);
            jx_array_free(in);
        }
    }
}

TEST(pow_special_cases) {
    static const double v[] = {0.0, -0.0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 2.5, INFINITY,
                               -INFINITY, NAN};
    int n = (int)(sizeof v / sizeof v[0]);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        jx_type t = JX_TYPE(dt, n * n);
        jx_type ts[2] = {t, t};
        jx_trace *tr = jx_trace_begin(2, ts);
        jx_val r = jx_pow(jx_trace_input(tr, 0), jx_trace_input(tr, 1));
        jx_fn *f = jx_trace_end(tr, 1, &r);
        jx_array *in[2] = {jx_array_new_type(&t), jx_array_new_type(&t)};
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                jx_array_set(in[0], i * n + j, v[i]);
                jx_array_set(in[1], i * n + j, v[j]);
            }
        jit_vs_interp(f, in, d ? 1e-12 : 1e-6, "pow specials");
        free_all(in, 2);
    }
}

/* ---- shape, reduction, creation and the other primitives ------------------------------- */

TEST(shape_prims) {
    jx_type t = JX_TYPE(JX_F32, 3, 4, 5);
    CHECK_UNARY(t, -5, 5, 0, jx_transpose(x, JX_INTS(2, 0, 1)));
    CHECK_UNARY(t, -5, 5, 0, jx_reshape(x, JX_INTS(12, 5)));
    CHECK_UNARY(t, -5, 5, 1e-6, jx_exp(jx_reshape(jx_transpose(x, JX_INTS(1, 0, 2)), JX_INTS(60))));
    CHECK_UNARY(t, -5, 5, 0, jx_broadcast_in_dim(x, JX_INTS(2, 3, 4, 5), JX_INTS(1, 2, 3)));
    CHECK_UNARY(JX_TYPE(JX_I32, 3, 1), -5, 5, 0,
                jx_broadcast_in_dim(x, JX_INTS(3, 4), JX_INTS(0, 1)));
    CHECK_UNARY(t, -5, 5, 0, jx_slice(x, JX_INTS(1, 0, 1), JX_INTS(3, 4, 5), JX_INTS(1, 2, 3)));
    CHECK_UNARY(t, -5, 5, 0, jx_rev(x, JX_INTS(0, 2)));
    CHECK_UNARY(t, -5, 5, 0,
                jx_pad(x, jx_scalar(x.t, JX_F32, 7), JX_INTS(1, -1, 0), JX_INTS(0, 2, -2),
                       JX_INTS(1, 0, 2)));
    CHECK_UNARY(JX_TYPE(JX_I32, 2, 3), -5, 5, 0,
                jx_pad(x, jx_scalar(x.t, JX_I32, -1), JX_INTS(2, 1), JX_INTS(1, 1), JX_INTS(0, 1)));
    CHECK_UNARY(t, -5, 5, 0,
                jx_concatenate(3, ((jx_val[]){x, jx_neg(x), jx_slice(x, JX_INTS(0, 0, 0), JX_INTS(3, 4, 2), JX_NOINTS)}), 2));
    CHECK_UNARY(JX_TYPE(JX_BOOL, 4, 3), 0, 1, 0, jx_not(jx_transpose(x, JX_INTS(1, 0))));
}

TEST(reductions_and_argmax) {
    jx_type t = JX_TYPE(JX_F32, 4, 5, 6);
    for (int a = 0; a < 3; a++) {
        CHECK_UNARY(t, -5, 5, 1e-5, jx_reduce_sum(x, JX_INTS(a)));
        CHECK_UNARY(t, -5, 5, 0, jx_reduce_max(x, JX_INTS(a)));
        CHECK_UNARY(t, -5, 5, 0, jx_reduce_min(x, JX_INTS(a)));
        CHECK_UNARY(t, -5, 5, 0, jx_argmax(x, a, JX_I32));
        CHECK_UNARY(JX_TYPE(JX_I32, 4, 5, 6), -100, 100, 0, jx_reduce_sum(x, JX_INTS(a)));
        CHECK_UNARY(JX_TYPE(JX_U32, 4, 5, 6), 0, 100, 0, jx_reduce_max(x, JX_INTS(a)));
        CHECK_UNARY(JX_TYPE(JX_I32, 4, 5, 6), -100, 100, 0, jx_argmax(x, a, JX_U32));
        CHECK_UNARY(JX_TYPE(JX_BOOL, 4, 5, 6), 0, 1, 0, jx_reduce_max(x, JX_INTS(a)));
        CHECK_UNARY(JX_TYPE(JX_BOOL, 4, 5, 6), 0, 1, 0, jx_reduce_min(x, JX_INTS(a)));
    }
    CHECK_UNARY(t, -5, 5, 1e-5, jx_reduce_sum(x, JX_INTS(0, 2)));
    CHECK_UNARY(t, -5, 5, 1e-5, jx_reduce_sum(x, JX_INTS(0, 1, 2)));
    CHECK_UNARY(JX_TYPE(JX_F64, 4, 5, 6), -5, 5, 1e-12, jx_reduce_sum(x, JX_INTS(1, 0)));
    CHECK_UNARY(t, -5, 5, 0, jx_reduce_max(x, JX_NOINTS));
    /* a reduction after an elementwise chain, and one feeding another */
    CHECK_UNARY(t, -2, 2, 1e-5, jx_reduce_sum(jx_exp(jx_mul(x, x)), JX_INTS(2)));
    CHECK_UNARY(t, -2, 2, 1e-5, jx_log(jx_reduce_sum(jx_exp(x), JX_INTS(0))));
    CHECK_UNARY(t, -2, 2, 1e-5, jx_reduce_sum(jx_reduce_max(x, JX_INTS(2)), JX_INTS(0)));
    /* NaN propagation and first-NaN argmax */
    jx_fn *f;
    UNARY_FN(f, t, jx_argmax(x, 2, JX_I32));
    jx_array *in = rand_array(t, -5, 5, 1);
    jit_vs_interp(f, &in, 0, "argmax with NaN");
    UNARY_FN(f, t, jx_reduce_max(x, JX_INTS(2)));
    jit_vs_interp(f, &in, 0, "reduce_max with NaN");
    UNARY_FN(f, t, jx_reduce_min(x, JX_INTS(0)));
    jit_vs_interp(f, &in, 0, "reduce_min with NaN (outer)");
    jx_array_free(in);
}

TEST(creation_prims) {
    jx_type t = JX_TYPE(JX_F32, 2, 3);
    CHECK_UNARY(t, -1, 1, 0, jx_add(x, jx_iota(x.t, JX_TYPE(JX_F32, 2, 3), 1)));
    CHECK_UNARY(t, -1, 1, 0, jx_iota(x.t, JX_TYPE(JX_I32, 4, 3, 2), 0));
    CHECK_UNARY(t, -1, 1, 0, jx_iota(x.t, JX_TYPE(JX_U32, 7), 0));
    double cv[6] = {1, -2, 3.5, NAN, INFINITY, 0};
    jx_array *c = jx_array_from(JX_F64, 2, (int64_t[]){2, 3}, cv);
    CHECK_UNARY(JX_TYPE(JX_F64, 2, 3), -1, 1, 0, jx_mul(x, jx_constant(x.t, c)));
    CHECK_UNARY(JX_TYPE(JX_F64, 2, 3), -1, 1, 0, jx_constant(x.t, c));
    CHECK_UNARY(JX_TYPE(JX_F64, 2, 3), -1, 1, 0, jx_scalar(x.t, JX_F64, 2.5));
    jx_array_free(c);
}

TEST(threefry) {
    jx_type kt = JX_TYPE(JX_U32, 2), xt = JX_TYPE(JX_U32, 2, 3, 5);
    jx_type ts[2] = {kt, xt};
    jx_trace *tr = jx_trace_begin(2, ts);
    jx_val r = jx_threefry2x32(jx_trace_input(tr, 0), jx_trace_input(tr, 1));
    jx_val r2 = jx_threefry2x32(jx_trace_input(tr, 0), jx_iota(tr, xt, 2));
    jx_val r3 = jx_threefry2x32(jx_add(jx_trace_input(tr, 1), jx_trace_input(tr, 1)),
                                jx_trace_input(tr, 1));
    jx_val outs[3] = {r, r2, r3};
    jx_fn *f = jx_trace_end(tr, 3, outs);
    jx_array *in[2] = {rand_array(kt, 0, 4e9, 0), rand_array(xt, 0, 4e9, 0)};
    jit_vs_interp(f, in, 0, "threefry2x32");
    free_all(in, 2);
}

TEST(conv_patches_both_ways) {
    jx_type t = JX_TYPE(JX_F32, 2, 6, 7, 3);
    CHECK_UNARY(t, -1, 1, 0,
                jx_conv_patches(x, JX_INTS(3, 2), JX_INTS(1, 2), JX_INTS(1, 0), JX_INTS(1, 1)));
    CHECK_UNARY(JX_TYPE(JX_I32, 2, 5, 5, 2), -9, 9, 0,
                jx_conv_patches(x, JX_INTS(2, 2), JX_INTS(2, 2), JX_INTS(0, 0), JX_INTS(1, 1)));
    /* patches_t of patches of x: [2,6,7,3] -> [2,OH,OW,18] -> back */
    CHECK_UNARY(t, -1, 1, 1e-5,
                jx_conv_patches_t(jx_conv_patches(x, JX_INTS(3, 2), JX_INTS(1, 2), JX_INTS(1, 0),
                                                  JX_INTS(1, 1)),
                                  JX_INTS(6, 7), JX_INTS(3, 2), JX_INTS(1, 2), JX_INTS(1, 0),
                                  JX_INTS(1, 1)));
    CHECK_UNARY(JX_TYPE(JX_F64, 1, 4, 4, 6), -1, 1, 1e-12,
                jx_conv_patches_t(jx_mul(x, x), JX_INTS(5, 5), JX_INTS(2, 3), JX_INTS(1, 1),
                                  JX_INTS(0, 0), JX_INTS(0, 1)));
}

/* ---- dot_general: GEMM mapping -------------------------------------------------------- */

/* lhs/rhs stored as [m,k]/[k,n] or transposed, contracted as a matrix product. */
static void check_matmul(jx_dtype dt, int ta, int tb, int via_transpose) {
    int64_t m = 5, k = 7, n = 3;
    jx_type lt = ta ? JX_TYPE(dt, k, m) : JX_TYPE(dt, m, k);
    jx_type rt = tb ? JX_TYPE(dt, n, k) : JX_TYPE(dt, k, n);
    jx_type ts[2] = {lt, rt};
    jx_trace *tr = jx_trace_begin(2, ts);
    jx_val a = jx_trace_input(tr, 0), b = jx_trace_input(tr, 1), r;
    if (via_transpose) {
        if (ta) a = jx_transpose(a, JX_INTS(1, 0));
        if (tb) b = jx_transpose(b, JX_INTS(1, 0));
        r = jx_dot_general(a, b, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    } else {
        r = jx_dot_general(a, b, JX_INTS(ta ? 0 : 1), JX_INTS(tb ? 1 : 0), JX_NOINTS, JX_NOINTS);
    }
    jx_fn *f = jx_trace_end(tr, 1, &r);
    jx_array *in[2] = {rand_array(lt, -1, 1, 0), rand_array(rt, -1, 1, 0)};
    char what[80];
    snprintf(what, sizeof what, "matmul %s ta=%d tb=%d via_transpose=%d", jx_dtype_name(dt), ta,
             tb, via_transpose);
    jit_vs_interp(f, in, dt == JX_F32 ? 1e-5 : dt == JX_F64 ? 1e-12 : 0, what);
    free_all(in, 2);
}

TEST(dot_general_trans_combinations) {
    static const jx_dtype dts[4] = {JX_F32, JX_F64, JX_I32, JX_U32};
    for (int d = 0; d < 4; d++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int v = 0; v < 2; v++) check_matmul(dts[d], ta, tb, v);
}

TEST(dot_general_batched_and_odd_layouts) {
    /* batch dims in different positions, two contraction axes, vector/matrix cases */
    jx_type lt = JX_TYPE(JX_F32, 4, 3, 2, 5), rt = JX_TYPE(JX_F32, 5, 2, 4, 6);
    jx_type ts[2] = {lt, rt};
    jx_trace *tr = jx_trace_begin(2, ts);
    jx_val a = jx_trace_input(tr, 0), b = jx_trace_input(tr, 1);
    jx_val outs[4] = {
        jx_dot_general(a, b, JX_INTS(3), JX_INTS(0), JX_INTS(0, 2), JX_INTS(2, 1)),
        jx_dot_general(a, b, JX_INTS(2, 3), JX_INTS(1, 0), JX_INTS(0), JX_INTS(2)),
        jx_dot_general(a, b, JX_INTS(3, 2), JX_INTS(0, 1), JX_NOINTS, JX_NOINTS),
        jx_dot_general(jx_exp(a), b, JX_INTS(0, 3), JX_INTS(2, 0), JX_INTS(2), JX_INTS(1)),
    };
    jx_fn *f = jx_trace_end(tr, 4, outs);
    jx_array *in[2] = {rand_array(lt, -1, 1, 0), rand_array(rt, -1, 1, 0)};
    jit_vs_interp(f, in, 1e-5, "batched dot_general");
    free_all(in, 2);
    /* matvec, vector dot, outer product, K = 0, f64 */
    jx_type mt = JX_TYPE(JX_F64, 6, 4), vt = JX_TYPE(JX_F64, 4), et = JX_TYPE(JX_F64, 3, 0);
    jx_type ts2[3] = {mt, vt, et};
    tr = jx_trace_begin(3, ts2);
    jx_val mm = jx_trace_input(tr, 0), v = jx_trace_input(tr, 1), e = jx_trace_input(tr, 2);
    jx_val o2[4] = {jx_matvec(mm, v), jx_dot(v, v),
                    jx_dot_general(v, v, JX_NOINTS, JX_NOINTS, JX_NOINTS, JX_NOINTS),
                    jx_dot_general(e, e, JX_INTS(1), JX_INTS(1), JX_NOINTS, JX_NOINTS)};
    f = jx_trace_end(tr, 4, o2);
    jx_array *in2[3] = {rand_array(mt, -1, 1, 0), rand_array(vt, -1, 1, 0), rand_array(et, 0, 1, 0)};
    jit_vs_interp(f, in2, 1e-12, "matvec/dot/outer/K=0");
    free_all(in2, 3);
}

TEST_MAIN()
