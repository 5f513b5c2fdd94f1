/* BLAS entry points for JIT code. Calling cblas_* from here also keeps OpenBLAS linked
 * under --as-needed. */
#include <cblas.h>
#include <string.h>

#include "jx_rt.h"

/* See jx_rt.h. */
void jx_rt_gemm(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                int64_t ldb, double beta, void *c, int64_t ldc) {
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
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    if (dtype == 0)
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, (float)alpha,
                    a, (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                    (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

/* See jx_rt.h. */
const jx_rt_sym *jx_rt_symbols(void) {
    static const jx_rt_sym syms[] = {
        {"jx_rt_gemm", (void (*)(void))jx_rt_gemm},
        {NULL, NULL},
    };
    return syms;
}
