/* Level-2 shapes of jx_rt_gemm: matrix-vector products (M or N is 1) and rank-1 products
 * (K is 1: the SGD update w - lr * g x^T at batch 1, after the gemm-fold pass). They read
 * or write a whole matrix for one multiply-add per element, so OpenBLAS's thread rule for
 * GEMMs (jx_rt_gemm: one thread below RT_GEMM_PAR_MIN multiply-adds) kept them on one
 * thread, and OpenBLAS's own threads are no better for them: its 2-thread sgemv of 512x784
 * took 150 us against 20 us on one thread on a busy machine (its workers sleep and wake).
 *
 * Here the output is cut into units of RT_L2_UNIT rows of C (columns when M is 1), each
 * one single-threaded OpenBLAS gemm, and when the matrix has at least RT_L2_PAR_BYTES the
 * units are split over the jx pool, one contiguous run per thread. The pool's caller
 * takes the first run and its worker the last (rt_pool.c), so a batch-1 layer's weights
 * are read by the same core call after call, the forward gemv's rows and the update's
 * rows alike, and stay in that core's L2 cache. The units are the same whatever the
 * thread count, so every output is computed by the same call and results do not depend
 * on it (OpenBLAS picks its kernel by the call's size; below about 10^6 multiply-adds
 * its small-matrix kernel gives each output the same sum in a call of any width, so on
 * one thread the units cost what one call did). */
#include <cblas.h>
#include <stdint.h>

#include "jx_rt.h"
#include "rt_blas.h"

#define RT_L2_UNIT 64
#define RT_L2_PAR_BYTES (256 << 10)

/* A level-2 GEMM C = alpha op(A) op(B) + beta C (row-major), cut by columns of C when
 * by_cols, else by rows. */
typedef struct rt_l2_job {
    int32_t dtype, trans_a, trans_b, by_cols;
    int64_t m, n, k, lda, ldb, ldc;
    double alpha, beta;
    const void *a, *b;
    void *c;
} rt_l2_job;

/* One single-threaded gemm of job j over outputs [lo, lo + w): rows of C (and of op(A)),
 * or columns of C (and of op(B)). */
static void rt_l2_unit(const rt_l2_job *j, int64_t lo, int64_t w) {
    size_t es = j->dtype == 0 ? sizeof(float) : sizeof(double);
    int64_t aoff = 0, boff = 0, coff = j->by_cols ? lo : lo * j->ldc;
    if (j->by_cols) boff = j->trans_b ? lo * j->ldb : lo;
    else aoff = j->trans_a ? lo : lo * j->lda;
    const char *a = (const char *)j->a + (size_t)aoff * es;
    const char *b = (const char *)j->b + (size_t)boff * es;
    char *c = (char *)j->c + (size_t)coff * es;
    blasint m = (blasint)(j->by_cols ? j->m : w), n = (blasint)(j->by_cols ? w : j->n);
    enum CBLAS_TRANSPOSE ta = j->trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = j->trans_b ? CblasTrans : CblasNoTrans;
    if (j->dtype == 0)
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, (blasint)j->k, (float)j->alpha,
                    (const float *)(const void *)a, (blasint)j->lda,
                    (const float *)(const void *)b, (blasint)j->ldb, (float)j->beta,
                    (float *)(void *)c, (blasint)j->ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, (blasint)j->k, j->alpha,
                    (const double *)(const void *)a, (blasint)j->lda,
                    (const double *)(const void *)b, (blasint)j->ldb, j->beta,
                    (double *)(void *)c, (blasint)j->ldc);
}

/* jx_rt_parallel body: outputs [lo, hi) of job ctx (lo a multiple of RT_L2_UNIT), one
 * gemm per unit. */
static void rt_l2_part(void *ctx, int64_t lo, int64_t hi) {
    for (; lo < hi; lo += RT_L2_UNIT)
        rt_l2_unit(ctx, lo, hi - lo < RT_L2_UNIT ? hi - lo : RT_L2_UNIT);
}

/* See rt_blas.h. */
void rt_level2(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
               int64_t k, double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
               double beta, void *c, int64_t ldc, int32_t nthreads) {
    rt_l2_job j = {dtype, trans_a, trans_b, m == 1 && k > 1, m, n, k, lda, ldb, ldc,
                   alpha, beta, a, b, c};
    int64_t outs = j.by_cols ? n : m;
    /* the matrix: A or B of a gemv, C of a rank-1 product (one of m, n, k is 1) */
    double bytes = (double)m * (double)n * (double)k * (dtype == 0 ? 4.0 : 8.0);
    int par = nthreads > 1 && bytes >= RT_L2_PAR_BYTES && outs >= 2 * RT_L2_UNIT;
    int64_t per = par ? (outs + nthreads - 1) / nthreads : outs; /* one run per thread */
    per = (per + RT_L2_UNIT - 1) / RT_L2_UNIT * RT_L2_UNIT;
    rt_gate_enter(1);
    jx_rt_parallel(rt_l2_part, &j, outs, per, par ? nthreads : 1);
    rt_gate_leave();
}
