/* Level-2 shapes of jx_rt_gemm, split over the jx pool (jx_rt_parallel) instead of left to
 * OpenBLAS's threads, with results that do not depend on the thread count.
 *
 * Matrix-vector products (M or N is 1) are ?gemv calls. jx_rt_gemm would run them on one
 * thread (far below RT_GEMM_PAR_MIN multiply-adds), and OpenBLAS's own threads are no
 * better for them: its 2-thread sgemv of 512x784 took 150 us against 20 us on one thread
 * on a busy machine (its workers sleep and wake per call). Here a gemv reading at least
 * RT_GEMV_PAR_BYTES of matrix on nthreads > 1 is split over the pool's dynamic chunks
 * (a preempted worker holds up at most one small chunk), each chunk OpenBLAS gemvs on one
 * thread. Each output is summed the same way whatever the thread count: chunks of a gemv
 * over rows (y = M x) start at multiples of RT_GEMV_ALIGN rows, where OpenBLAS's kernel
 * gives every row the same sum; a gemv over columns (y = M^T x) is always computed
 * RT_GEMV_COLS columns per call, because OpenBLAS's f32 kernel sums a column differently
 * depending on the number of columns in the call.
 *
 * Rank-1 products (K = 1: an SGD update w - lr * g x^T at batch 1, after the gemm-fold
 * pass) are OpenBLAS gemms of RT_RANK1_ROWS rows of C each, whatever the thread count (a
 * block's result depends on its size only: OpenBLAS picks its kernel by the product's
 * size; its small-matrix kernel rounds as the unfused ops do, c + alpha * (a_i * b_j)),
 * split over the pool when C is at least RT_RANK1_PAR_BYTES: the product is bound by
 * reading and writing C, which one thread of OpenBLAS's gemm did alone. */
#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "jx_rt.h"
#include "rt_blas.h"

#define RT_GEMV_PAR_BYTES (128 << 10)
#define RT_GEMV_ALIGN 64
#define RT_GEMV_COLS 64
#define RT_RANK1_PAR_BYTES (1 << 20)
#define RT_RANK1_ROWS 64

/* One gemv y = alpha op(M) x + beta y, with M row-major [rows, cols] (leading dimension
 * ld), over outputs [lo, hi): rows of M when not transposed, columns when transposed. */
typedef struct rt_gemv_job {
    int32_t dtype, trans;
    int64_t rows, cols, ld, incx, incy;
    double alpha, beta;
    const void *m, *x;
    void *y;
} rt_gemv_job;

/* jx_rt_parallel body: outputs [lo, hi) of job ctx (lo a multiple of RT_GEMV_COLS when
 * transposed), RT_GEMV_COLS columns per call when transposed. */
static void rt_gemv_part(void *ctx, int64_t lo, int64_t hi) {
    const rt_gemv_job *j = ctx;
    while (j->trans && hi - lo > RT_GEMV_COLS) {
        rt_gemv_part(ctx, lo, lo + RT_GEMV_COLS);
        lo += RT_GEMV_COLS;
    }
    size_t es = j->dtype == 0 ? sizeof(float) : sizeof(double);
    const char *m = (const char *)j->m + (size_t)(j->trans ? lo : lo * j->ld) * es;
    char *y = (char *)j->y + (size_t)(lo * j->incy) * es;
    blasint r = (blasint)(j->trans ? j->rows : hi - lo);
    blasint c = (blasint)(j->trans ? hi - lo : j->cols);
    enum CBLAS_TRANSPOSE t = j->trans ? CblasTrans : CblasNoTrans;
    if (j->dtype == 0)
        cblas_sgemv(CblasRowMajor, t, r, c, (float)j->alpha, (const float *)(const void *)m,
                    (blasint)j->ld, j->x, (blasint)j->incx, (float)j->beta, (float *)(void *)y,
                    (blasint)j->incy);
    else
        cblas_dgemv(CblasRowMajor, t, r, c, j->alpha, (const double *)(const void *)m,
                    (blasint)j->ld, j->x, (blasint)j->incx, j->beta, (double *)(void *)y,
                    (blasint)j->incy);
}

/* See rt_blas.h. */
void rt_gemv(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                    int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                    int64_t ldb, double beta, void *c, int64_t ldc, int32_t nthreads) {
    rt_gemv_job j = {dtype, 0, 0, 0, 0, 0, 0, alpha, beta, NULL, NULL, c};
    int64_t outs;
    if (n == 1) { /* c[:, 0] = op(A) op(B)[:, 0]: A [m, k] (or [k, m] transposed) */
        j.trans = trans_a, j.m = a, j.ld = lda, j.x = b, j.incx = trans_b ? 1 : ldb;
        j.rows = trans_a ? k : m, j.cols = trans_a ? m : k, j.incy = ldc, outs = m;
    } else { /* c[0, :] = op(B)^T op(A)[0, :]: B [k, n] (or [n, k] transposed) */
        j.trans = !trans_b, j.m = b, j.ld = ldb, j.x = a, j.incx = trans_a ? lda : 1;
        j.rows = trans_b ? n : k, j.cols = trans_b ? k : n, j.incy = 1, outs = n;
    }
    size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
    int par = nthreads > 1 && (double)m * (double)n * (double)k * (double)es >= RT_GEMV_PAR_BYTES &&
              outs >= 2 * RT_GEMV_ALIGN;
    rt_gate_enter(1);
    jx_rt_parallel(rt_gemv_part, &j, outs, j.trans ? RT_GEMV_COLS : RT_GEMV_ALIGN,
                   par ? nthreads : 1);
    rt_gate_leave();
}

/* A rank-1 product C = alpha op(A) op(B) + beta C (K = 1), row-major. */
typedef struct rt_rank1_job {
    int32_t dtype, trans_a, trans_b;
    int64_t n, lda, ldb, ldc;
    double alpha, beta;
    const void *a, *b;
    void *c;
} rt_rank1_job;

/* jx_rt_parallel body: rows [lo, hi) of rank-1 job ctx (lo a multiple of RT_RANK1_ROWS),
 * one single-threaded OpenBLAS gemm per RT_RANK1_ROWS rows. */
static void rt_rank1_part(void *ctx, int64_t lo, int64_t hi) {
    const rt_rank1_job *j = ctx;
    size_t es = j->dtype == 0 ? sizeof(float) : sizeof(double);
    for (; lo < hi; lo += RT_RANK1_ROWS) {
        blasint m = (blasint)(hi - lo < RT_RANK1_ROWS ? hi - lo : RT_RANK1_ROWS);
        const char *a = (const char *)j->a + (size_t)(j->trans_a ? lo : lo * j->lda) * es;
        char *c = (char *)j->c + (size_t)(lo * j->ldc) * es;
        enum CBLAS_TRANSPOSE ta = j->trans_a ? CblasTrans : CblasNoTrans;
        enum CBLAS_TRANSPOSE tb = j->trans_b ? CblasTrans : CblasNoTrans;
        if (j->dtype == 0)
            cblas_sgemm(CblasRowMajor, ta, tb, m, (blasint)j->n, 1, (float)j->alpha,
                        (const float *)(const void *)a, (blasint)j->lda, j->b, (blasint)j->ldb,
                        (float)j->beta, (float *)(void *)c, (blasint)j->ldc);
        else
            cblas_dgemm(CblasRowMajor, ta, tb, m, (blasint)j->n, 1, j->alpha,
                        (const double *)(const void *)a, (blasint)j->lda, j->b, (blasint)j->ldb,
                        j->beta, (double *)(void *)c, (blasint)j->ldc);
    }
}

/* See rt_blas.h. */
void rt_rank1(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
              double alpha, const void *a, int64_t lda, const void *b, int64_t ldb, double beta,
              void *c, int64_t ldc, int32_t nthreads) {
    rt_rank1_job j = {dtype, trans_a, trans_b, n, lda, ldb, ldc, alpha, beta, a, b, c};
    size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
    int par = nthreads > 1 && (double)m * (double)n * (double)es >= RT_RANK1_PAR_BYTES &&
              m > RT_RANK1_ROWS;
    rt_gate_enter(1);
    jx_rt_parallel(rt_rank1_part, &j, m, RT_RANK1_ROWS, par ? nthreads : 1);
    rt_gate_leave();
}
