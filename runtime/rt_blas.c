/* BLAS entry points for JIT code. Calling cblas_* from here also keeps OpenBLAS linked
 * under --as-needed.
 *
 * OpenBLAS's thread count is one process-wide setting (Debian 12 ships 0.3.21, which has
 * no per-call or per-thread count: openblas_set_num_threads_local came in 0.3.27), yet
 * each executable wants its own count per GEMM (jx_jit_opts.n_threads, one thread for
 * small products). Flipping the setting around each call (set, call, restore) races when
 * two executables run at once: A saves the user's 3 and sets 2, B saves A's 2 and sets
 * 1, A restores 3, B "restores" 2, and the user's setting is lost for good; meanwhile
 * either GEMM may run on the other's count.
 *
 * So every jx GEMM passes a process-wide gate: GEMMs that want the same thread count run
 * together, one that wants a different count waits until those in flight have left. The
 * first GEMM into an empty gate saves OpenBLAS's current setting (the user's) and sets
 * its count; the last one out restores the saved setting. Entry is in ticket order (a
 * later arrival never passes a waiting one), so a steady stream of GEMMs of one count
 * cannot starve another count; GEMMs of equal count that queue one behind another are
 * let in together. The gate costs one uncontended mutex lock and unlock on the way in
 * and on the way out, plus the same two openblas_set_num_threads calls as before when
 * the count differs from the user's. It serializes only GEMMs of different counts that
 * arrive at the same moment (multithreaded ones already queue on a lock inside
 * OpenBLAS's level-3 driver); the single-executable path never waits.
 *
 * What it cannot do: a user thread that calls openblas_set_num_threads or a BLAS routine
 * while a jx GEMM is in flight still sees jx's count, and a setting the user makes then
 * is overwritten by the restore. Between jx GEMMs the user's setting is in force.
 *
 * Results do not depend on the thread count: OpenBLAS splits a GEMM by blocks of C
 * (rows and columns of M and N), never along K, so every element is summed by the same
 * kernel in the same order whatever the count (t_concurrency checks this bit for bit).
 *
 * Dimensions beyond OpenBLAS's 32-bit blasint are rejected when jx_jit plans the GEMM
 * (plan_gemm.c); should one reach the runtime anyway it is computed by a plain loop rather
 * than truncated. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jx_rt.h"
#include "rt_blas.h"

/* GEMMs with fewer multiply-adds than this run on one OpenBLAS thread. */
#define RT_GEMM_PAR_MIN 4e6

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_active;               /* jx GEMMs inside the gate */
static int gate_count;                /* their OpenBLAS thread count (when active > 0) */
static int gate_saved;                /* OpenBLAS's setting before the first one entered */
static unsigned long gate_next;       /* next ticket to hand out */
static unsigned long gate_serving;    /* the ticket allowed to enter next */
static int gate_waiting;              /* threads blocked in rt_gate_enter */

/* See rt_blas.h. */
void rt_gate_enter(int want) {
    pthread_mutex_lock(&gate_mu);
    unsigned long me = gate_next++;
    while (me != gate_serving || (gate_active > 0 && gate_count != want)) {
        gate_waiting++;
        pthread_cond_wait(&gate_cv, &gate_mu);
        gate_waiting--;
    }
    gate_serving++;
    if (gate_active++ == 0) {
        gate_saved = openblas_get_num_threads();
        gate_count = want;
        if (gate_saved != want) openblas_set_num_threads(want);
    }
    /* the next ticket may be of the same count and enter alongside */
    if (gate_waiting > 0) pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* See rt_blas.h. */
void rt_gate_leave(void) {
    pthread_mutex_lock(&gate_mu);
    if (--gate_active == 0) {
        if (gate_saved != gate_count) openblas_set_num_threads(gate_saved);
        if (gate_waiting > 0) pthread_cond_broadcast(&gate_cv);
    }
    pthread_mutex_unlock(&gate_mu);
}

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
static double rt_at(int32_t dtype, const void *x, int trans, int64_t ld, int64_t i, int64_t j) {
    int64_t off = trans ? j * ld + i : i * ld + j;
    return dtype == 0 ? (double)((const float *)x)[off] : ((const double *)x)[off];
}

/* See jx_rt.h. */
void jx_rt_gemm_loop(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                     int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                     int64_t ldb, double beta, void *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += rt_at(dtype, a, trans_a, lda, i, p) * rt_at(dtype, b, trans_b, ldb, p, j);
            if (dtype == 0) {
                float *cij = (float *)c + i * ldc + j;
                *cij = (float)(alpha * s + (beta == 0 ? 0.0 : beta * (double)*cij));
            } else {
                double *cij = (double *)c + i * ldc + j;
                *cij = alpha * s + (beta == 0 ? 0.0 : beta * *cij);
            }
        }
}

/* See jx_rt.h. */
int64_t jx_rt_blas_int_max(void) {
    return sizeof(blasint) >= sizeof(int64_t) ? INT64_MAX : (int64_t)INT_MAX;
}

/* C = beta * C when K == 0 (BLAS may reject K == 0 with these leading dimensions). */
static void rt_scale(int32_t dtype, int64_t m, int64_t n, double beta, void *c, int64_t ldc) {
    size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
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
}

/* C = beta C + alpha D with D = op(A) op(B) computed by its own GEMM first (alpha 1,
 * beta 0), elementwise in the dtype's arithmetic: the unfused ops' result for an alpha
 * of 0, inf or NaN, where BLAS would skip or scale the product differently (a traced
 * alpha of the gemm-fold pass can be anything at run time). */
static void rt_gemm_unfused(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m,
                            int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
                            const void *b, int64_t ldb, double beta, void *c, int64_t ldc,
                            int32_t nthreads) {
    size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
    void *d = malloc((size_t)m * (size_t)n * es + 1);
    if (!d) { /* no room for D: the same sum by the loop (rounding may differ) */
        jx_rt_gemm_loop(dtype, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    jx_rt_gemm(dtype, trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb, 0.0, d, n, nthreads);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            if (dtype == 0) {
                float *cij = (float *)c + i * ldc + j, p = (float)alpha * ((float *)d)[i * n + j];
                float old = beta == 1 ? *cij : (float)beta * *cij;
                *cij = old + p;
            } else {
                double *cij = (double *)c + i * ldc + j, p = alpha * ((double *)d)[i * n + j];
                double old = beta == 1 ? *cij : beta * *cij;
                *cij = old + p;
            }
        }
    free(d);
}

/* See jx_rt.h. */
void jx_rt_gemm(int32_t dtype, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n,
                int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                int64_t ldb, double beta, void *c, int64_t ldc, int32_t nthreads) {
    if (m <= 0 || n <= 0) return;
    if (beta != 0 && (alpha == 0 || !isfinite(alpha))) {
        rt_gemm_unfused(dtype, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                        nthreads);
        return;
    }
    if (k <= 0) {
        rt_scale(dtype, m, n, beta, c, ldc);
        return;
    }
    int64_t lim = jx_rt_blas_int_max();
    if (m > lim || n > lim || k > lim || lda > lim || ldb > lim || ldc > lim) {
        jx_rt_gemm_loop(dtype, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (m == 1 || n == 1 || k == 1) { /* matrix-vector and rank-1 (rt_blas2.c) */
        rt_level2(dtype, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nthreads);
        return;
    }
    /* OpenBLAS runs the GEMM on `want` threads: one below RT_GEMM_PAR_MIN multiply-adds,
     * where splitting costs more than it saves (OpenBLAS's own cut-off is 2^18: a
     * 128x10x512 GEMM took 53 us on 2 threads, 30 us on 1); meanwhile the jx pool's
     * workers sleep */
    int want = (double)m * (double)n * (double)k < RT_GEMM_PAR_MIN || nthreads < 1 ? 1 : nthreads;
    rt_gate_enter(want);
    jx_rt_pool_park();
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    if (dtype == 0)
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, (float)alpha,
                    a, (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                    (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
    rt_gate_leave();
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
