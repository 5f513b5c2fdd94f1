/* What JIT-compiled code calls at run time. The ORC layer defines these names as
 * absolute symbols (orc.c), so they resolve even when libjx is linked statically into an
 * executable that does not export its symbols. */
#ifndef JX_RT_H
#define JX_RT_H

#include <stdint.h>

/* Version of the calling convention between compiled code and this runtime (entry and
 * jx_rt_* signatures); cached object code built for another version must not be loaded. */
#define JX_RT_ABI 2

/* C = alpha * op(A) * op(B) + beta * C, row-major, for dtype 0 (f32) or 1 (f64);
 * trans_* != 0 transposes. K == 0 sets C to beta * C (zero when beta == 0); M or N == 0
 * does nothing. OpenBLAS runs it on nthreads threads (one for small products) while the
 * jx pool's idle workers sleep; concurrent calls are safe, and OpenBLAS's own thread
 * setting is restored when no jx GEMM is running (see rt_blas.c). Dimensions beyond the
 * BLAS integer type (which jx_jit rejects) are computed by jx_rt_gemm_loop. With beta != 0
 * and alpha 0, inf or NaN, C = beta C + alpha D elementwise after D = op(A) op(B), as the
 * unfused ops would give (BLAS skips the product when alpha is 0). */
void jx_rt_gemm(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                int64_t ldb, double beta, void *c, int64_t ldc, int32_t nthreads);
/* The same product (K >= 0, M, N >= 0) by a plain triple loop summing in double, for
 * dimensions OpenBLAS cannot take. No threads. */
void jx_rt_gemm_loop(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                     int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                     int64_t ldb, double beta, void *c, int64_t ldc);
/* The largest dimension or leading dimension OpenBLAS's blasint holds (2^31 - 1 for the
 * usual 32-bit build). */
int64_t jx_rt_blas_int_max(void);

/* Runs fn(ctx, lo, hi) over disjoint ranges covering [0, n) on up to nthreads threads
 * (the caller and pool workers; chunks are whole multiples of grain except the last) and
 * returns when all are done. Serial when nthreads <= 1, n <= grain, or another thread's
 * job is running. */
void jx_rt_parallel(void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx, int64_t n,
                    int64_t grain, int32_t nthreads);
/* Makes idle pool workers sleep at once instead of spinning (called before BLAS runs). */
void jx_rt_pool_park(void);
/* The thread count to use: requested if > 0, else $JX_NUM_THREADS if set, else the
 * number of online cores (at most 65). */
int jx_rt_threads(int requested);

/* Step profiling (compiled in when JX_PROFILE is set at compile time): step < 0 starts
 * a call's clock; step >= 0 charges the time since the previous mark to that step. The
 * totals per step are printed to stderr at exit. Not thread-safe; for diagnosis only. */
void jx_rt_prof_mark(int64_t step);

/* The address of every runtime symbol, NULL-terminated, for the JIT's symbol table. */
typedef struct jx_rt_sym {
    const char *name;
    void (*fn)(void);
} jx_rt_sym;
const jx_rt_sym *jx_rt_symbols(void);

#endif
