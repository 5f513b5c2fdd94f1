/* What JIT-compiled code calls at run time. The ORC layer defines these names as
 * absolute symbols (orc.c), so they resolve even when libjx is linked statically into an
 * executable that does not export its symbols. */
#ifndef JX_RT_H
#define JX_RT_H

#include <stdint.h>

/* C = alpha * op(A) * op(B) + beta * C, row-major, for dtype 0 (f32) or 1 (f64);
 * trans_* != 0 transposes. K == 0 sets C to beta * C (zero when beta == 0); M or N == 0
 * does nothing. Dimensions must fit in the BLAS integer type. */
void jx_rt_gemm(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                int64_t ldb, double beta, void *c, int64_t ldc);

/* The address of every runtime symbol, NULL-terminated, for the JIT's symbol table. */
typedef struct jx_rt_sym {
    const char *name;
    void (*fn)(void);
} jx_rt_sym;
const jx_rt_sym *jx_rt_symbols(void);

#endif
