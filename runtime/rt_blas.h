/* Internal interface between the runtime's BLAS files: the gate around OpenBLAS's
 * process-wide thread count (rt_blas.c) and the level-2 shapes of jx_rt_gemm
 * (rt_blas2.c). Not part of what JIT code calls (that is jx_rt.h). */
#ifndef JX_RT_BLAS_H
#define JX_RT_BLAS_H

#include <stdint.h>

/* Enters the gate with OpenBLAS set to `want` threads; returns when admitted. Every
 * OpenBLAS call of the runtime happens between this and rt_gate_leave. */
void rt_gate_enter(int want);
/* Leaves the gate; the last one out restores OpenBLAS's saved setting. */
void rt_gate_leave(void);

/* jx_rt_gemm for M, N or K equal to 1 (K > 0, dimensions within OpenBLAS's blasint): units
 * of 64 rows (columns when M is 1) of C, each a single-threaded OpenBLAS gemm, split over
 * the jx pool when the matrix is large enough (rt_blas2.c). */
void rt_level2(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
               int64_t k, double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
               double beta, void *c, int64_t ldc, int32_t nthreads);

#endif
