/* The numpy-like helpers (src/lib/numpy.c), part 2: matrix products, activations,
 * logsumexp and softmax, one_hot, and the user's source line and poison through helpers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "primcheck.h"
#include "core/trace.h"
#include "jx.h"

/* ---- helpers ------------------------------------------------------------------------- */

#include "np_util.h"

/* The type of dtype dt with the given shape. */
static jx_type ty(jx_dtype dt, jx_ints shape) {
    jx_type t = {dt, shape.n, {0}};
    for (int i = 0; i < shape.n; i++) t.shape[i] = shape.v[i];
    return t;
}

/* ---- matrix products ----------------------------------------------------------------- */

/* Reference numpy.matmul of a (rank ra) and b (rank rb), both >= 1, for compatible
 * shapes; fills out and returns its type. */
static jx_type ref_matmul(const jx_type *at, const double *a, const jx_type *bt,
                          const double *b, double *out) {
    jx_type A = *at, B = *bt, O = {JX_F32, 0, {0}};
    int a1 = A.rank == 1, b1 = B.rank == 1;
    if (a1) A = (jx_type){A.dtype, 2, {1, A.shape[0]}};
    if (b1) B = (jx_type){B.dtype, 2, {B.shape[0], 1}};
    int nba = A.rank - 2, nbb = B.rank - 2, nb = nba > nbb ? nba : nbb;
    int64_t m = A.shape[A.rank - 2], k = A.shape[A.rank - 1], n = B.shape[B.rank - 1];
    int64_t bs[JX_MAX_RANK], nbatch = 1;
    for (int d = 0; d < nb; d++) {
        int ia = d - (nb - nba), ib = d - (nb - nbb);
        int64_t sa = ia >= 0 ? A.shape[ia] : 1, sb = ib >= 0 ? B.shape[ib] : 1;
        bs[d] = sa > sb ? sa : sb;
        nbatch *= bs[d];
    }
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t offa = 0, offb = 0, rem = bi, sta = m * k, stb = k * n;
        for (int d = nb - 1; d >= 0; d--) {
            int64_t c = rem % bs[d];
            rem /= bs[d];
            int ia = d - (nb - nba), ib = d - (nb - nbb);
            if (ia >= 0) {
                offa += (A.shape[ia] == 1 ? 0 : c) * sta;
                sta *= A.shape[ia];
            }
            if (ib >= 0) {
                offb += (B.shape[ib] == 1 ? 0 : c) * stb;
                stb *= B.shape[ib];
            }
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t q = 0; q < k; q++) s += a[offa + i * k + q] * b[offb + q * n + j];
                out[bi * m * n + i * n + j] = s;
            }
    }
    for (int d = 0; d < nb; d++) O.shape[O.rank++] = bs[d];
    if (!a1) O.shape[O.rank++] = m;
    if (!b1) O.shape[O.rank++] = n;
    return O;
}

/* Checks matmul of the given shapes against ref_matmul on arbitrary values. */
static int check_matmul(jx_ints sa, jx_ints sb, jx_type want) {
    jx_type at = ty(JX_F32, sa), bt = ty(JX_F32, sb);
    int64_t na = jx_type_size(&at), nb = jx_type_size(&bt);
    double *a = malloc(sizeof(double) * (size_t)na), *b = malloc(sizeof(double) * (size_t)nb);
    double *o = malloc(sizeof(double) * 1024);
    for (int64_t i = 0; i < na; i++) a[i] = (double)((i * 7) % 11) - 5;
    for (int64_t i = 0; i < nb; i++) b[i] = (double)((i * 5) % 13) - 6;
    jx_type rt = ref_matmul(&at, a, &bt, b, o);
    int ok = jx_type_eq(&rt, &want);
    if (!ok) printf("  reference type differs\n");
    jx_array *in[2] = {arr(JX_F32, sa, a), arr(JX_F32, sb, b)};
    jx_trace *t = begin(2, in);
    jx_val y = jx_matmul(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(count_op(t->fn, JX_OP_DOT_GENERAL) == 1);
    ok = same_tol(run(t, y, 2, in), want, o, TOL) && ok;
    free(a);
    free(b);
    free(o);
    return ok;
}

TEST(matmul_shapes) {
    CHECK(check_matmul(S(2, 3), S(3, 4), JX_TYPE(JX_F32, 2, 4)));
    CHECK(check_matmul(S(3), S(3, 4), JX_TYPE(JX_F32, 4)));
    CHECK(check_matmul(S(2, 3), S(3), JX_TYPE(JX_F32, 2)));
    CHECK(check_matmul(S(3), S(3), JX_SCALAR(JX_F32)));
    CHECK(check_matmul(S(5, 2, 3), S(3, 4), JX_TYPE(JX_F32, 5, 2, 4)));
    CHECK(check_matmul(S(5, 2, 3), S(1, 3, 4), JX_TYPE(JX_F32, 5, 2, 4)));
    CHECK(check_matmul(S(5, 2, 3), S(5, 3, 4), JX_TYPE(JX_F32, 5, 2, 4)));
    CHECK(check_matmul(S(2, 3), S(5, 3, 4), JX_TYPE(JX_F32, 5, 2, 4)));
    CHECK(check_matmul(S(3), S(5, 3, 4), JX_TYPE(JX_F32, 5, 4)));
    CHECK(check_matmul(S(5, 2, 3), S(3), JX_TYPE(JX_F32, 5, 2)));
    CHECK(check_matmul(S(2, 1, 2, 3), S(4, 3, 2), JX_TYPE(JX_F32, 2, 4, 2, 2)));
    CHECK(check_matmul(S(2, 3), S(1, 1, 3, 4), JX_TYPE(JX_F32, 1, 1, 2, 4)));
    CHECK(check_matmul(S(0, 3), S(3, 2), JX_TYPE(JX_F32, 0, 2)));
    CHECK(check_matmul(S(2, 0), S(0, 2), JX_TYPE(JX_F32, 2, 2)));
}

TEST(matmul_errors) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_F32, 4, 5)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_matmul(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "matmul", "f32[2,3]", "f32[4,5]");
    jx_type tv[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 4, 5)};
    t = jx_trace_begin(2, tv);
    jx_matmul(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "matmul", "inner dimensions", "(3 vs 4)");
    jx_type tb[2] = {JX_TYPE(JX_F32, 2, 2, 3), JX_TYPE(JX_F32, 3, 3, 4)};
    t = jx_trace_begin(2, tb);
    jx_matmul(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "matmul", "batch dimensions", "f32[3,3,4]");
    jx_type ts0[2] = {JX_SCALAR(JX_F32), JX_TYPE(JX_F32, 3)};
    t = jx_trace_begin(2, ts0);
    jx_matmul(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "matmul", "rank >= 1", NULL);
    t = jx_trace_begin(2, tv);
    jx_matvec(jx_trace_input(t, 1), jx_trace_input(t, 0));
    expect_error(t, "matvec", "f32[4,5]", "f32[3]");
    t = jx_trace_begin(2, tv);
    jx_matvec(jx_trace_input(t, 0), jx_trace_input(t, 0));
    expect_error(t, "matvec", "expected a matrix and a vector", NULL);
    t = jx_trace_begin(2, tv);
    jx_dot(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "dot", "expected two vectors", NULL);
    jx_type td[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 2)};
    t = jx_trace_begin(2, td);
    jx_dot(jx_trace_input(t, 0), jx_trace_input(t, 1));
    expect_error(t, "dot", "f32[3]", "f32[2]");
}

TEST(matvec_dot_values) {
    jx_array *in[2] = {arr(JX_F64, S(2, 3), D(1, 2, 3, 4, 5, 6)), arr(JX_F64, S(3), D(1, 0, -1))};
    jx_trace *t = begin(2, in);
    jx_val y = jx_matvec(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(same_tol(run(t, y, 2, in), JX_TYPE(JX_F64, 2), D(-2, -2), 0));
    jx_array *iv[2] = {arr(JX_F64, S(3), D(1, 2, 3)), arr(JX_F64, S(3), D(4, 5, 6))};
    t = begin(2, iv);
    y = jx_dot(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(same_tol(run(t, y, 2, iv), JX_SCALAR(JX_F64), D(32), 0));
}

/* ---- activations --------------------------------------------------------------------- */

TEST(relu_sigmoid_square_clip) {
    const double *v = D(-2, -0.5, 0, 0.5, 3);
    jx_array *in[1] = {arr(JX_F32, S(5), v)};
    jx_trace *t = begin(1, in);
    jx_val x = jx_trace_input(t, 0);
    jx_val parts[4] = {jx_relu(x), jx_sigmoid(x), jx_square(x), jx_clip(x, -1, 0.25)};
    for (int i = 0; i < 4; i++) parts[i] = jx_expand_dims(parts[i], 0);
    jx_val y = jx_concatenate(4, parts, 0);
    double want[20];
    for (int i = 0; i < 5; i++) {
        want[i] = v[i] > 0 ? v[i] : 0;
        want[5 + i] = 1 / (1 + exp(-v[i]));
        want[10 + i] = v[i] * v[i];
        want[15 + i] = v[i] < -1 ? -1 : v[i] > 0.25 ? 0.25 : v[i];
    }
    CHECK(same_tol(run(t, y, 1, in), JX_TYPE(JX_F32, 4, 5), want, TOL));

    jx_array *ii[1] = {arr(JX_I32, S(4), D(-5, 1, 7, 100))};
    t = begin(1, ii);
    x = jx_trace_input(t, 0);
    y = jx_add(jx_clip(x, 0, 10), jx_relu(x));
    CHECK(same_tol(run(t, y, 1, ii), JX_TYPE(JX_I32, 4), D(0, 2, 14, 110), 0));
}

/* ---- logsumexp and softmax ----------------------------------------------------------- */

enum { LSE, SOFTMAX, LOG_SOFTMAX };

/* Runs kind on a [rows, n] array of dtype dt along axis; checks against want. */
static int check_lse(int kind, jx_dtype dt, int rows, int n, int axis, const double *x,
                     jx_type want, const double *vals, double tol) {
    jx_array *in[1] = {arr(dt, S(rows, n), x)};
    jx_trace *t = begin(1, in);
    jx_val v = jx_trace_input(t, 0);
    jx_val y = kind == LSE ? jx_logsumexp(v, axis)
               : kind == SOFTMAX ? jx_softmax(v, axis)
                                 : jx_log_softmax(v, axis);
    return same_tol(run(t, y, 1, in), want, vals, tol);
}

TEST(logsumexp_values) {
    double s = log(exp(1.0) + exp(2.0) + exp(3.0));
    double big = 1e6 + log(1 + exp(-1.0) + exp(-2.0));
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        double tol = d ? 1e-12 : 1e-6;
        CHECK(check_lse(LSE, dt, 2, 3, 1, D(1, 2, 3, 1e6, 1e6 - 1, 1e6 - 2), ty(dt, S(2)),
                        D(s, big), tol));
        CHECK(check_lse(LSE, dt, 2, 3, -1, D(-INFINITY, -INFINITY, -INFINITY, 0, -INFINITY, 0),
                        ty(dt, S(2)), D(-INFINITY, log(2.0)), tol));
        CHECK(check_lse(LSE, dt, 2, 2, 0, D(INFINITY, 1, 0, 1), ty(dt, S(2)),
                        D(INFINITY, 1 + log(2.0)), tol));
        CHECK(check_lse(LSE, dt, 2, 2, 0, D(-1e6, -1e6, -1e6, 5), ty(dt, S(2)),
                        D(-1e6 + log(2.0), 5), tol));
        CHECK(check_lse(LSE, dt, 2, 0, 1, NULL, ty(dt, S(2)), D(-INFINITY, -INFINITY), tol));
        CHECK(check_lse(LSE, dt, 1, 2, 0, D(NAN, 1), ty(dt, S(2)), D(NAN, 1), tol));
    }
}

TEST(softmax_values) {
    double e1 = exp(-1.0), e2 = exp(-2.0), z = 1 + e1 + e2, l = log(z);
    for (int d = 0; d < 2; d++) {
        jx_dtype dt = d ? JX_F64 : JX_F32;
        double tol = d ? 1e-12 : 1e-6;
        CHECK(check_lse(SOFTMAX, dt, 1, 3, 1, D(1e6, 1e6 - 1, 1e6 - 2), ty(dt, S(1, 3)),
                        D(1 / z, e1 / z, e2 / z), tol));
        CHECK(check_lse(SOFTMAX, dt, 3, 1, 0, D(3, 2, 1), ty(dt, S(3, 1)),
                        D(1 / z, e1 / z, e2 / z), tol));
        CHECK(check_lse(SOFTMAX, dt, 1, 3, -1, D(-INFINITY, 0, -INFINITY), ty(dt, S(1, 3)),
                        D(0, 1, 0), tol));
        CHECK(check_lse(LOG_SOFTMAX, dt, 1, 3, 1, D(1e6, 1e6 - 1, 1e6 - 2), ty(dt, S(1, 3)),
                        D(-l, -1 - l, -2 - l), tol));
        CHECK(check_lse(LOG_SOFTMAX, dt, 2, 2, 0, D(-1e6, 0, -1e6, 0), ty(dt, S(2, 2)),
                        D(-log(2.0), -log(2.0), -log(2.0), -log(2.0)), tol));
        CHECK(check_lse(LOG_SOFTMAX, dt, 1, 2, 1, D(-INFINITY, 0), ty(dt, S(1, 2)),
                        D(-INFINITY, 0), tol));
    }
}

TEST(logsumexp_errors) {
    jx_type ti[1] = {JX_TYPE(JX_I32, 3)};
    jx_trace *t = jx_trace_begin(1, ti);
    jx_logsumexp(jx_trace_input(t, 0), 0);
    expect_error(t, "logsumexp", "floating-point", "i32[3]");
    jx_type tf[1] = {JX_TYPE(JX_F32, 3)};
    t = jx_trace_begin(1, tf);
    jx_softmax(jx_trace_input(t, 0), 1);
    expect_error(t, "softmax", "axis 1", "f32[3]");
    t = jx_trace_begin(1, tf);
    jx_log_softmax(jx_trace_input(t, 0), -2);
    expect_error(t, "log_softmax", "axis -2", NULL);
}

/* ---- one_hot ------------------------------------------------------------------------- */

TEST(one_hot) {
    jx_array *in[1] = {arr(JX_I32, S(3), D(0, 2, 1))};
    jx_trace *t = begin(1, in);
    jx_val y = jx_one_hot(jx_trace_input(t, 0), 3, JX_F32);
    CHECK(same_tol(run(t, y, 1, in), JX_TYPE(JX_F32, 3, 3), D(1, 0, 0, 0, 0, 1, 0, 1, 0), 0));

    jx_array *i2[1] = {arr(JX_U32, S(2, 1), D(1, 5))}; /* out of range -> zero row */
    t = begin(1, i2);
    y = jx_one_hot(jx_trace_input(t, 0), 2, JX_I32);
    CHECK(same_tol(run(t, y, 1, i2), JX_TYPE(JX_I32, 2, 1, 2), D(0, 1, 0, 0), 0));

    jx_array *i0[1] = {arr(JX_I32, JX_NOINTS, D(3))};
    t = begin(1, i0);
    y = jx_one_hot(jx_trace_input(t, 0), 4, JX_BOOL);
    CHECK(same_tol(run(t, y, 1, i0), JX_TYPE(JX_BOOL, 4), D(0, 0, 0, 1), 0));

    jx_type tf[1] = {JX_TYPE(JX_F32, 3)};
    t = jx_trace_begin(1, tf);
    jx_one_hot(jx_trace_input(t, 0), 3, JX_F32);
    expect_error(t, "one_hot", "integer", "f32[3]");
    jx_type tl[1] = {JX_TYPE(JX_I32, 3)};
    t = jx_trace_begin(1, tl);
    jx_one_hot(jx_trace_input(t, 0), -1, JX_F32);
    expect_error(t, "one_hot", "negative", NULL);
}

/* ---- locations and poison ------------------------------------------------------------ */

TEST(helpers_record_user_line) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_I32, 4)};
    jx_trace *t = jx_trace_begin(2, ts);
    int line = __LINE__ + 1;
    jx_val y = jx_sub(jx_log_softmax(jx_trace_input(t, 0), 1), jx_one_hot(jx_trace_input(t, 1), 3,
                      JX_F32));
    jx_val z = jx_mean_all(jx_matvec(y, jx_softmax(jx_logsumexp(y, 0), 0)));
    CHECK(!jx_val_bad(z));
    int n = 0;
    for (int i = 2; i < t->fn->n_nodes; i++) {
        const jx_node *nd = &t->fn->nodes[i];
        if (!nd->loc.file || !strstr(nd->loc.file, "t_numpy_matmul_softmax.c") ||
            nd->loc.line < line || nd->loc.line > line + 2) {
            CHECK_FAIL_("node %d (%s) has loc %s:%d", i, prim_info(nd->op)->name,
                        nd->loc.file ? nd->loc.file : "(null)", nd->loc.line);
            break;
        }
        n++;
    }
    CHECK(n > 20);
    jx_fn *f = jx_trace_end(t, 1, &z);
    CHECK(f != NULL);
    if (f) CHECK(jx_fn_verify(f) == 0);
    jx_fn_free(f);
}

TEST(poison_passes_through_helpers) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_I32, 5)};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val p = jx_sum(jx_trace_input(t, 0), 7, 0);
    CHECK(jx_val_bad(p));
    char first[1024];
    snprintf(first, sizeof first, "%s", jx_trace_error(t));
    jx_val outs[] = {jx_lit(p, 1), jx_zeros_like(p), jx_ones_like(p), jx_broadcast_to(p, S(2)),
                     jx_expand_dims(p, 0), jx_squeeze(p, 0), jx_sum(p, 0, 1), jx_amax(p, 0, 0),
                     jx_mean(p, 0, 0), jx_sum_all(p), jx_mean_all(p), jx_matmul(p, p),
                     jx_matvec(p, p), jx_dot(p, p), jx_relu(p), jx_sigmoid(p), jx_square(p),
                     jx_logsumexp(p, 0), jx_softmax(p, 0), jx_log_softmax(p, 0),
                     jx_one_hot(p, 3, JX_F32), jx_clip(p, 0, 1), jx_add(p, jx_trace_input(t, 0)),
                     jx_select(p, p, p)};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (!jx_val_bad(outs[i])) CHECK_FAIL_("helper %zu returned a valid value", i);
    CHECK(strcmp(first, jx_trace_error(t)) == 0);
    CHECK_CONTAINS(jx_error(), "sum: axis 7");
    jx_trace_abort(t);
}

TEST_MAIN()
