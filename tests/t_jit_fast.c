/* The JIT's fast paths, each checked against the interpreter: merged loops over
 * broadcasts, native f32 transcendentals (in ulps), GEMMs accumulating into a copy of w
 * (w - lr * dot folded into beta = 1), row-streaming kernels for reductions over leading
 * axes, the thread pool (big kernels split across threads, concurrent callers) and the
 * thread-count policy.
 *
 * Tolerances: elementwise f32 arithmetic is exact (the JIT evaluates the same float
 * operations in the same order); f32 exp/log/log1p/expm1/tanh/logistic within 3 ulp of
 * glibc; f32 GEMMs and reductions 1e-5 relative (other summation orders), f64 1e-12. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "jit/jit.h"
#include "jitcheck.h"
#include "core/trace.h"

int jx_rt_threads(int requested); /* runtime/jx_rt.h */

/* ---- merged loops --------------------------------------------------------------------- */

/* add(mul(x, broadcast(y)), broadcast(z)) over shape sh, y and z keeping the dims whose
 * bit is set in ym / zm (extent 1 where the bit in y1 / z1 is set). */
static void check_bcast(int rank, const int64_t *sh, int ym, int y1, int zm, int z1) {
    jx_type xt = {JX_F32, rank, {0}}, yt = {JX_F32, 0, {0}}, zt = {JX_F32, 0, {0}};
    jx_ints shape = {rank, {0}}, yd = {0, {0}}, zd = {0, {0}};
    for (int k = 0; k < rank; k++) {
        xt.shape[k] = shape.v[k] = sh[k];
        if (ym >> k & 1) {
            yd.v[yd.n++] = k;
            yt.shape[yt.rank++] = y1 >> k & 1 ? 1 : sh[k];
        }
        if (zm >> k & 1) {
            zd.v[zd.n++] = k;
            zt.shape[zt.rank++] = z1 >> k & 1 ? 1 : sh[k];
        }
    }
    jx_type ts[3] = {xt, yt, zt};
    jx_trace *tr = jx_trace_begin(3, ts);
    jx_val x = jx_trace_input(tr, 0), y = jx_trace_input(tr, 1), z = jx_trace_input(tr, 2);
    jx_val by = jx_broadcast_in_dim(y, shape, yd);
    jx_val bz = jx_broadcast_in_dim(z, shape, zd);
    jx_val r = jx_add(jx_mul(x, by), bz);
    jx_fn *f = jx_trace_end(tr, 1, &r);
    jx_array *in[3] = {rand_array(xt, -2, 2, 0), rand_array(yt, -2, 2, 0), rand_array(zt, -2, 2, 0)};
    char what[96];
    snprintf(what, sizeof what, "broadcast rank %d y %x/%x z %x/%x", rank, ym, y1, zm, z1);
    jit_vs_interp(f, in, 0, what);
    free_all(in, 3);
}

TEST(merged_broadcast_loops) {
    static const int64_t shapes[4][4] = {{3, 1, 5, 7}, {4, 6, 1, 9}, {1, 5, 3, 2}, {2, 3, 4, 1}};
    int n = 0;
    for (int s = 0; s < 4; s++)
        for (int rank = 1; rank <= 4; rank++)
            for (int ym = 0; ym < 1 << rank; ym++)
                for (int zm = 0; zm < 1 << rank; zm += 3) {
                    int y1 = (ym * 5 + s) & ym & 0x5, z1 = (zm * 3 + s) & zm & 0xa;
                    check_bcast(rank, shapes[s], ym, y1, zm, z1);
                    n++;
                }
    CHECK(n > 100);
}

/* Non-mergeable ops inside a merged tree: transposes, reshapes, inner reductions, iota. */
static void mixed_tree(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val x = in[0], w = in[1], v = in[2]; /* x [6,1,8], w [8,1,6], v [48] */
    jx_val a = jx_add(x, jx_transpose(w, JX_INTS(2, 1, 0)));
    jx_val b = jx_mul(a, jx_reshape(v, JX_INTS(6, 1, 8)));
    jx_val rs = jx_reduce_sum(b, JX_INTS(2));
    out[0] = jx_sub(b, jx_broadcast_in_dim(rs, JX_INTS(6, 1, 8), JX_INTS(0, 1)));
    jx_val io = jx_convert(jx_iota(x.t, JX_TYPE(JX_I32, 6, 1, 8), 2), JX_F32);
    out[1] = jx_add(jx_exp(x), io);
}

TEST(merged_loops_around_other_ops) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 6, 1, 8), JX_TYPE(JX_F32, 8, 1, 6), JX_TYPE(JX_F32, 48)};
    jx_fn *f = jx_trace(mixed_tree, 3, ts, 2, NULL);
    jx_array *in[3];
    for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -2, 2, 0);
    jit_vs_interp(f, in, 1e-6, "transpose/reshape/reduce/iota under merged loops");
    free_all(in, 3);
}

/* ---- f32 transcendentals ------------------------------------------------------------- */

/* Order-preserving integer image of a float (ulp distance = difference). */
static int64_t ulp_ord(float f) {
    int32_t i;
    memcpy(&i, &f, 4);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
}

TEST(f32_transcendentals_within_3_ulp) {
    enum { N = 60000 };
    static const jx_op ops[6] = {JX_OP_EXP, JX_OP_LOG, JX_OP_LOG1P, JX_OP_EXPM1, JX_OP_TANH,
                                 JX_OP_LOGISTIC};
    jx_type t = JX_TYPE(JX_F32, N);
    for (int k = 0; k < 6; k++) {
        jx_trace *tr = jx_trace_begin(1, &t);
        jx_val x = jx_trace_input(tr, 0);
        jx_val r = trace_emit(JX_HERE, tr, ops[k], 1, &x, NULL, NULL);
        jx_fn *f = jx_trace_end(tr, 1, &r);
        jx_array *in = jx_array_new_type(&t);
        float *d = jx_array_data(in);
        for (int i = 0; i < N; i++) { /* each op's whole interesting range, subnormals too */
            double u = (double)i / N;
            if (ops[k] == JX_OP_EXP) d[i] = (float)(-104 + 193 * u);
            else if (ops[k] == JX_OP_LOG) d[i] = (float)exp(-100 + 188 * u);
            else if (ops[k] == JX_OP_LOG1P) d[i] = (float)(i % 2 ? -1 + exp(-30 + 30 * u) : exp(-40 + 80 * u));
            else d[i] = (float)(i % 3 ? -30 + 60 * u : (u - 0.5) * 1e-3);
        }
        jx_array *want[1] = {0}, *got[1] = {0};
        CHECK(jx_interp(f, &in, want) == 0);
        jx_exe *e = jx_jit(f, NULL);
        CHECK(e && jx_exe_run(e, &in, got) == 0);
        int64_t worst = 0, at = 0;
        const float *a = jx_array_cdata(got[0]), *b = jx_array_cdata(want[0]);
        for (int i = 0; i < N && got[0]; i++) {
            int64_t u = ulp_ord(a[i]) - ulp_ord(b[i]);
            if (u < 0) u = -u;
            if (u > worst) worst = u, at = i;
        }
        if (worst > 3)
            CHECK_FAIL_("%s: %lld ulp at x = %.9g (jit %.9g, glibc %.9g)", prim_info(ops[k])->name,
                        (long long)worst, d[at], a[at], b[at]);
        jx_array_free(want[0]);
        jx_array_free(got[0]);
        jx_array_free(in);
        jx_exe_free(e);
        jx_fn_free(f);
    }
}

/* ---- GEMMs accumulating into w ---------------------------------------------------------- */

/* Variants of s = w (+|-) c * dot(a, b) (see fold_fn). */
typedef struct fold_case {
    int form;     /* 0: w - c*d, 1: w - d*c, 2: w + c*d, 3: c*d + w */
    int trans;    /* contract dim 0 of both operands (a^T b) */
    int batch;    /* a leading batch dim */
    int w_in_dot; /* w is also the dot's lhs (must not fold onto itself) */
    int reuse;    /* the dot result is an output too (must not fold) */
} fold_case;

/* in = w, a, b; out = s (and d when reuse). */
static void fold_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const fold_case *c = user;
    jx_val a = c->w_in_dot ? in[0] : in[1], b = in[2];
    jx_ints ca = c->trans ? JX_INTS(c->batch) : JX_INTS(c->batch + 1);
    jx_ints bd = c->batch ? JX_INTS(0) : JX_NOINTS;
    jx_val d = jx_dot_general(a, b, ca, JX_INTS(c->batch), bd, bd);
    jx_val lr = jx_lit(d, 0.25);
    switch (c->form) {
    case 0: out[0] = jx_sub(in[0], jx_mul(lr, d)); break;
    case 1: out[0] = jx_sub(in[0], jx_mul(d, lr)); break;
    case 2: out[0] = jx_add(in[0], jx_mul(lr, d)); break;
    default: out[0] = jx_add(jx_mul(lr, d), in[0]); break;
    }
    if (c->reuse) out[1] = d;
}

/* Checks one case with f32 or f64, donated or not, in place or into other arrays. */
static void check_fold(fold_case c, jx_dtype dt) {
    int64_t n = 24, k = 24; /* square so that w can be the lhs */
    jx_type wt = c.batch ? JX_TYPE(dt, 3, n, n) : JX_TYPE(dt, n, n);
    jx_type at = c.batch ? JX_TYPE(dt, 3, k, n) : JX_TYPE(dt, k, n);
    if (!c.trans) at = c.batch ? JX_TYPE(dt, 3, n, k) : JX_TYPE(dt, n, k);
    jx_type ts[3] = {wt, at, c.batch ? JX_TYPE(dt, 3, k, n) : JX_TYPE(dt, k, n)};
    int nout = c.reuse ? 2 : 1;
    jx_fn *f = jx_trace(fold_fn, 3, ts, nout, &c);
    CHECK(f != NULL);
    if (!f) return;
    double tol = dt == JX_F32 ? 1e-5 : 1e-12;
    char what[128];
    snprintf(what, sizeof what, "fold form %d trans %d batch %d w_in_dot %d reuse %d %s", c.form,
             c.trans, c.batch, c.w_in_dot, c.reuse, jx_dtype_name(dt));
    /* the plan folds exactly when it may */
    unsigned char donate[3] = {1, 0, 0};
    jx_jit_opts o = {donate, 1, 1};
    jx_exe *e = jit_compile_keep(f, &o);
    CHECK(e != NULL);
    char *plan = jit_exe_plan(e);
    int folded = plan && strstr(plan, "beta=1") != NULL;
    if (folded != (!c.w_in_dot && !c.reuse)) CHECK_FAIL_("%s: folded=%d\n%s", what, folded, plan);
    free(plan);
    jx_array *in[3];
    for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -1, 1, 0);
    /* in place, twice (the second step starts from the first's result) */
    for (int step = 0; step < 2 && e; step++) {
        jx_array *want[2] = {0};
        CHECK(jx_interp(f, in, want) == 0);
        jx_array *out[2] = {in[0], NULL};
        CHECK(jx_exe_run(e, in, out) == 0);
        CHECK(out[0] == in[0]);
        same_arrays(in[0], want[0], tol, what);
        if (c.reuse) same_arrays(out[1], want[1], tol, what);
        jx_array_free(out[1]);
        free_all(want, nout);
    }
    /* donated but written into another array: the input keeps its value */
    jx_array *want[2] = {0}, *w0 = jx_array_copy(in[0]);
    CHECK(jx_interp(f, in, want) == 0);
    jx_array *other = jx_array_new_type(&wt), *out[2] = {other, NULL};
    CHECK(e && jx_exe_run(e, in, out) == 0);
    same_arrays(other, want[0], tol, what);
    same_arrays(in[0], w0, 0, "donated input written elsewhere");
    jx_array_free(out[1]);
    jx_array_free(other);
    jx_array_free(w0);
    free_all(want, nout);
    jx_exe_free(e);
    /* not donated */
    jit_vs_interp(f, in, tol, what);
    free_all(in, 3);
}

TEST(gemm_accumulates_into_w) {
    for (int form = 0; form < 4; form++) check_fold((fold_case){form, 0, 0, 0, 0}, JX_F32);
    check_fold((fold_case){0, 1, 0, 0, 0}, JX_F32);
    check_fold((fold_case){1, 1, 1, 0, 0}, JX_F64);
    check_fold((fold_case){2, 0, 1, 0, 0}, JX_F32);
    check_fold((fold_case){0, 0, 0, 1, 0}, JX_F32);
    check_fold((fold_case){3, 1, 0, 0, 1}, JX_F64);
}

/* ---- loop groups ------------------------------------------------------------------------ */

/* Kernels sharing one loop, with donated inputs read by other members of the loop. */
static void grouped(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val x = in[0], y = in[1], z = in[2];
    jx_val m = jx_mul(x, y);
    out[0] = m;                                   /* reads x before ... */
    out[1] = jx_add(m, x);                        /* ... x is overwritten here (donated) */
    out[2] = jx_exp(jx_add(z, jx_lit(z, 1)));     /* z donated but read again below */
    out[3] = jx_mul(jx_relu(out[2]), jx_sub(z, y));
}

TEST(loop_groups_and_donation) {
    jx_type t = JX_TYPE(JX_F32, 64, 70);
    jx_type ts[3] = {t, t, t};
    jx_fn *f = jx_trace(grouped, 3, ts, 4, NULL);
    unsigned char donate[3] = {1, 0, 1};
    jx_jit_opts o = {donate, 1, 1};
    jx_exe *e = jit_compile_keep(f, &o);
    char *plan = jit_exe_plan(e);
    CHECK(plan && strstr(plan, "(in the loop of step") != NULL);
    CHECK(plan && strstr(plan, "out1 may reuse donated in0") != NULL);
    CHECK(plan && strstr(plan, "out3 may reuse donated in2") != NULL); /* the last reader */
    CHECK(plan && strstr(plan, "out2 may reuse") == NULL);
    free(plan);
    jx_array *in[3];
    for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -2, 2, 0);
    for (int step = 0; step < 2 && e; step++) { /* in place: out1 = x, out3 = z */
        jx_array *want[4] = {0};
        CHECK(jx_interp(f, in, want) == 0);
        jx_array *out[4] = {NULL, in[0], NULL, in[2]};
        CHECK(jx_exe_run(e, in, out) == 0);
        for (int j = 0; j < 4; j++) same_arrays(out[j], want[j], 1e-6, "loop group in place");
        jx_array_free(out[0]);
        jx_array_free(out[2]);
        free_all(want, 4);
    }
    jx_exe_free(e);
    jit_vs_interp(f, in, 1e-6, "loop group, fresh outputs");
    free_all(in, 3);
}

/* ---- reductions over leading axes -------------------------------------------------------- */

/* b - 0.5 * sum(x^2, 0) and max over axes (0, 2) of x * y: row-streaming kernels. */
static void colred(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val x = in[0], b = in[1], y = in[2];
    out[0] = jx_sub(b, jx_mul(jx_lit(b, 0.5), jx_reduce_sum(jx_square(x), JX_INTS(0))));
    jx_val x3 = jx_reshape(x, JX_INTS(30, 10, 64));
    out[1] = jx_reduce_max(jx_mul(x3, jx_reshape(y, JX_INTS(30, 10, 64))), JX_INTS(0, 2));
    out[2] = jx_reduce_min(x3, JX_INTS(0));
}

TEST(reductions_over_leading_axes) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 300, 64), JX_TYPE(JX_F32, 64), JX_TYPE(JX_F32, 300, 64)};
    jx_fn *f = jx_trace(colred, 3, ts, 3, NULL);
    jx_exe *e = jit_compile_keep(f, NULL);
    char *plan = jit_exe_plan(e);
    CHECK(plan && strstr(plan, "(outer reduction)") != NULL);
    free(plan);
    jx_exe_free(e);
    jx_array *in[3];
    for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -1, 1, 0);
    jit_vs_interp(f, in, 1e-5, "reductions over leading axes");
    free_all(in, 3);
}

/* ---- threads ---------------------------------------------------------------------------- */

/* Big kernels of every shape the pool splits: flat, merged with a broadcast, rows with an
 * inner reduction, a transpose, an outer reduction (not split) and a donated update. */
static void big(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val x = in[0], b = in[1], w = in[2]; /* x [515, 601], b [601], w [601, 515] */
    out[0] = jx_mul(jx_exp(x), jx_tanh(x));
    out[1] = jx_relu(jx_add(x, jx_broadcast_in_dim(b, JX_INTS(515, 601), JX_INTS(1))));
    out[2] = jx_log_softmax(x, 1);
    out[3] = jx_add(x, jx_transpose(w, JX_INTS(1, 0)));
    out[4] = jx_reduce_sum(jx_logistic(x), JX_INTS(0));
    out[5] = jx_sub(w, jx_mul(jx_lit(w, 0.5), jx_square(w)));
}

TEST(parallel_kernels_match) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 515, 601), JX_TYPE(JX_F32, 601), JX_TYPE(JX_F32, 601, 515)};
    static const int threads[4] = {1, 2, 3, 5};
    jx_fn *f0 = jx_trace(big, 3, ts, 6, NULL);
    jx_exe *e0 = jit_compile_keep(f0, NULL);
    char *ll = jit_exe_llvm(e0, 0);
    CHECK(ll && strstr(ll, "jx_rt_parallel") != NULL); /* these kernels are split */
    free(ll);
    jx_exe_free(e0);
    jx_fn_free(f0);
    for (int k = 0; k < 4; k++) {
        jx_fn *f = jx_trace(big, 3, ts, 6, NULL);
        jx_array *in[3];
        for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -3, 3, 0);
        char what[64];
        snprintf(what, sizeof what, "big kernels on %d threads", threads[k]);
        jit_vs_interp_opts(f, in, 1e-5, what, &(jx_jit_opts){NULL, threads[k], 1});
        /* the donated update in place, split across threads */
        f = jx_trace(big, 3, ts, 6, NULL);
        unsigned char donate[3] = {0, 0, 1};
        jx_exe *e = jx_jit(f, &(jx_jit_opts){donate, threads[k], 1});
        jx_array *want[6] = {0}, *out[6] = {0};
        CHECK(jx_interp(f, in, want) == 0);
        out[5] = in[2];
        CHECK(e && jx_exe_run(e, in, out) == 0);
        for (int j = 0; j < 6; j++) same_arrays(out[j], want[j], 1e-5, what);
        out[5] = NULL;
        free_all(out, 6);
        free_all(want, 6);
        jx_exe_free(e);
        jx_fn_free(f);
        free_all(in, 3);
    }
}

/* Shared state of the concurrent-callers test. */
typedef struct par_ctx {
    jx_exe *e;
    jx_array *in[3], *want[6];
    int ok;
} par_ctx;

static void *par_main(void *arg) {
    par_ctx *c = arg;
    c->ok = 1;
    for (int it = 0; it < 15 && c->ok; it++) {
        jx_array *out[6] = {0};
        if (jx_exe_run(c->e, c->in, out) < 0) c->ok = 0;
        for (int j = 0; j < 6 && c->ok; j++) {
            int64_t n = jx_array_size(out[j]);
            for (int64_t i = 0; i < n && c->ok; i++)
                if (!check_near(jx_array_get(out[j], i), jx_array_get(c->want[j], i), 1e-5)) c->ok = 0;
        }
        free_all(out, 6);
    }
    return NULL;
}

/* Two threads calling one executable whose kernels use the pool: one gets the pool, the
 * other runs its loops serially; both results are right. */
TEST(parallel_kernels_concurrent_callers) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 515, 601), JX_TYPE(JX_F32, 601), JX_TYPE(JX_F32, 601, 515)};
    jx_fn *f = jx_trace(big, 3, ts, 6, NULL);
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, 2, 1});
    CHECK(e != NULL);
    par_ctx c[2];
    for (int k = 0; k < 2; k++) {
        c[k].e = e;
        for (int i = 0; i < 3; i++) c[k].in[i] = rand_array(ts[i], -3, 3, 0);
        CHECK(jx_interp(f, c[k].in, c[k].want) == 0);
    }
    pthread_t th[2];
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, par_main, &c[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK(c[k].ok);
        free_all(c[k].in, 3);
        free_all(c[k].want, 6);
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST(thread_count_policy) {
    CHECK(jx_rt_threads(3) == 3);
    CHECK(jx_rt_threads(1000) == 65);
    const char *old = getenv("JX_NUM_THREADS");
    char *saved = old ? strdup(old) : NULL;
    setenv("JX_NUM_THREADS", "5", 1);
    CHECK(jx_rt_threads(0) == 5);
    CHECK(jx_rt_threads(2) == 2);
    setenv("JX_NUM_THREADS", "junk", 1);
    CHECK(jx_rt_threads(0) >= 1);
    unsetenv("JX_NUM_THREADS");
    CHECK(jx_rt_threads(0) >= 1);
    if (saved) setenv("JX_NUM_THREADS", saved, 1);
    free(saved);
}

TEST_MAIN()
