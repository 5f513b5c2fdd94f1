/* Matrix-vector products (issue 12.4): the runtime sends GEMMs with M or N = 1 to gemv,
 * split over the thread pool by output slices. Checked: every transpose and stride of
 * both shapes (and the dot product, M = N = 1) against the reference loop, with beta 0 and
 * 1, for both dtypes; 1 and 2 threads bit for bit (the split keeps each output's sum);
 * a batch-1 MLP predict jitted for 1 and 2 threads agrees bit for bit and with the
 * interpreter; a NaN in C is overwritten when beta is 0. */
#include <string.h>

#include "../runtime/jx_rt.h"
#include "jitcheck.h"

/* Fills v[0..n) with values in [-0.5, 0.5). */
static void fill(double *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) v[i] = urand() - 0.5;
}

/* Element i of a f32 (dt 0) or f64 (dt 1) buffer, as a double; and its store. */
static double get(const char *v, int dt, int64_t i) {
    return dt ? ((const double *)(const void *)v)[i] : ((const float *)(const void *)v)[i];
}
static void put(char *v, int dt, int64_t i, double x) {
    if (dt) ((double *)(void *)v)[i] = x;
    else ((float *)(void *)v)[i] = (float)x;
}

/* One jx_rt_gemm of shape (m, n, k), transposes ta/tb, leading dimensions padded by pad,
 * beta, dtype dt: against jx_rt_gemm_loop, and on 2 threads against 1 bit for bit. */
static void check_shape(int dt, int64_t m, int64_t n, int64_t k, int ta, int tb, int pad,
                        double beta) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    int64_t na = ar * lda, nb = br * ldb, nc = m * ldc;
    double *a = malloc((size_t)na * 8), *b = malloc((size_t)nb * 8), *c = malloc((size_t)nc * 8);
    size_t es = dt == 0 ? 4 : 8;
    char *av = malloc((size_t)na * es), *bv = malloc((size_t)nb * es);
    char *c0 = malloc((size_t)nc * es), *c1 = malloc((size_t)nc * es);
    char *c2 = malloc((size_t)nc * es);
    fill(a, na), fill(b, nb), fill(c, nc);
    if (nc > 0) c[0] = NAN; /* read only when beta != 0 */
    for (int64_t i = 0; i < na; i++) put(av, dt, i, a[i]);
    for (int64_t i = 0; i < nb; i++) put(bv, dt, i, b[i]);
    for (int64_t i = 0; i < nc; i++) put(c0, dt, i, c[i]);
    memcpy(c1, c0, (size_t)nc * es), memcpy(c2, c0, (size_t)nc * es);
    jx_rt_gemm_loop(dt, ta, tb, m, n, k, 0.75, av, lda, bv, ldb, beta, c0, ldc);
    jx_rt_gemm(dt, ta, tb, m, n, k, 0.75, av, lda, bv, ldb, beta, c1, ldc, 1);
    jx_rt_gemm(dt, ta, tb, m, n, k, 0.75, av, lda, bv, ldb, beta, c2, ldc, 2);
    for (int64_t i = 0; i < m && !check_failed_now; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t o = i * ldc + j;
            double x = get(c0, dt, o), y = get(c1, dt, o);
            if (!check_near(y, x, 1e-5) || memcmp(c1 + o * (int64_t)es, c2 + o * (int64_t)es, es)) {
                CHECK_FAIL_("dtype %d %lldx%lldx%lld trans %d,%d pad %d beta %g: (%lld, %lld): "
                            "loop %.9g, gemv %.9g", dt, (long long)m, (long long)n, (long long)k,
                            ta, tb, pad, beta, (long long)i, (long long)j, x, y);
                break;
            }
        }
    free(a), free(b), free(c), free(av), free(bv), free(c0), free(c1), free(c2);
}

TEST(gemv_shapes_match_reference_and_threads) {
    /* big enough to split over 2 threads (>= 128 KiB of matrix), and small ones */
    static const int64_t shapes[][3] = {{1, 600, 200}, {600, 1, 200}, {1, 1, 300},
                                        {1, 7, 5},     {9, 1, 4},     {301, 1, 130}};
    rng_state = 31337;
    for (int dt = 0; dt < 2; dt++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int v = 0; v < 16 && !check_failed_now; v++)
                check_shape(dt, shapes[s][0], shapes[s][1], shapes[s][2], v & 1, (v >> 1) & 1,
                            (v >> 2) & 1 ? 3 : 0, (v >> 3) & 1 ? 1.0 : 0.0);
}

/* A batch-1 MLP predict: log-softmax(W3 relu(W2 relu(W1 x + b1) + b2) + b3), W[out, in]. */
static void predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val a = in[6];
    for (int l = 0; l < 2; l++) a = jx_relu(jx_add(jx_matvec(in[2 * l], a), in[2 * l + 1]));
    jx_val z = jx_add(jx_matvec(in[4], a), in[5]);
    out[0] = jx_sub(z, jx_logsumexp(z, 0));
}

TEST(batch1_predict_threads_agree) {
    jx_type ty[7] = {JX_TYPE(JX_F32, 256, 300), JX_TYPE(JX_F32, 256),
                     JX_TYPE(JX_F32, 256, 256), JX_TYPE(JX_F32, 256),
                     JX_TYPE(JX_F32, 10, 256),  JX_TYPE(JX_F32, 10), JX_TYPE(JX_F32, 300)};
    jx_array *in[7], *o1 = NULL, *o2 = NULL;
    rng_state = 7;
    for (int i = 0; i < 7; i++) in[i] = rand_array(ty[i], -0.1, 0.1, 0);
    jx_fn *f = jx_trace(predict, 7, ty, 1, NULL);
    jx_exe *e1 = f ? jx_jit(f, &(jx_jit_opts){NULL, 1, 1}) : NULL;
    jx_exe *e2 = f ? jx_jit(f, &(jx_jit_opts){NULL, 2, 1}) : NULL;
    CHECK(e1 && e2);
    for (int rep = 0; e1 && e2 && rep < 3; rep++) { /* the pool warm and cold */
        CHECK(jx_exe_run(e1, in, &o1) == 0 && jx_exe_run(e2, in, &o2) == 0);
        CHECK(o1 && o2 && !memcmp(jx_array_cdata(o1), jx_array_cdata(o2), 40));
    }
    jx_exe_free(e1), jx_exe_free(e2);
    jx_array_free(o1), jx_array_free(o2);
    jit_vs_interp_opts(f, in, 1e-5, "predict", &(jx_jit_opts){NULL, 2, 1}); /* frees f */
    free_all(in, 7);
}

TEST_MAIN()
