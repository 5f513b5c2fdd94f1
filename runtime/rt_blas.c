/* BLAS entry points for JIT code. Calling cblas_* from here also keeps OpenBLAS linked
 * under --as-needed. */
#include <cblas.h>
#include <string.h>

#include "jx_rt.h"

/* GEMMs with fewer multiply-adds than this run on one OpenBLAS thread. */
#define RT_GEMM_PAR_MIN 4e6

/* See jx_rt.h. */
void jx_rt_gemm(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                int64_t ldb, double beta, void *c, int64_t ldc, int32_t nthreads) {
    if (m <= 0 || n <= 0) return;
    size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
    if (k <= 0) {
        /* BLAS may reject K == 0 with these leading dimensions; do it by hand. */
        for (int64_t i = 0; i < m; i++) {
            char *row = (char *)c + (size_t)(i * ldc) * es;
            if (beta == 0) {
                memset(row, 0, (size_t)n * es);
            } else {
                for (int64_t j = 0; j < n; j++) {
                    if (dtype == 0) ((float *)(void *)row)[j] *= (float)beta;
                    else ((double *)(void *)row)[j] *= beta;
                }
            }
        }
        return;
    }
    /* OpenBLAS runs the GEMM on `want` threads (restoring its own setting after): one
     * below RT_GEMM_PAR_MIN multiply-adds, where splitting costs more than it saves
     * (OpenBLAS's own cut-off is 2^18: a 128x10x512 GEMM took 53 us on 2 threads, 30 us
     * on 1); meanwhile the jx pool's workers sleep */
    int want = (double)m * (double)n * (double)k < RT_GEMM_PAR_MIN || nthreads < 1 ? 1 : nthreads;
    int prev = openblas_get_num_threads();
    if (prev != want) openblas_set_num_threads(want);
    jx_rt_pool_park();
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    if (dtype == 0)
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, (float)alpha,
                    a, (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                    (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
    if (prev != want) openblas_set_num_threads(prev);
}

/* See jx_rt.h. */
const jx_rt_sym *jx_rt_symbols(void) {
    static const jx_rt_sym syms[] = {
        {"jx_rt_gemm", (void (*)(void))jx_rt_gemm},
        {"jx_rt_prof_mark", (void (*)(void))jx_rt_prof_mark},
        {"jx_rt_parallel", (void (*)(void))jx_rt_parallel},
        {NULL, NULL},
    };
    return syms;
}
