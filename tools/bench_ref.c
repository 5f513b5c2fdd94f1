/* The hand-written reference MLP training step (see bench_ref.h): cblas_sgemm for the 3
 * forward and 5 backward GEMMs, plain loops for everything else, no allocation per step.
 * Loop pointers are restrict-qualified and tools/meson.build compiles this file with -O3
 * -march=native, so the loops vectorize for the host ISA as the JIT's code does (at the
 * project's default -O2 GCC 12 leaves them scalar, which would flatter jx). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_ref.h"

/* A 64-byte-aligned zeroed buffer of n floats, or NULL. */
static float *bref_alloc(int64_t n) {
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* See bench_ref.h. */
void bref_free(bref_mlp *m) {
    for (int l = 0; l < BREF_LAYERS; l++) {
        free(m->w[l]);
        free(m->b[l]);
        free(m->dw[l]);
        free(m->db[l]);
        free(m->h[l]);
        free(m->dh[l]);
        m->w[l] = m->b[l] = m->dw[l] = m->db[l] = m->h[l] = m->dh[l] = NULL;
    }
}

/* See bench_ref.h. */
int bref_init(bref_mlp *m, int batch, const int sizes[BREF_LAYERS + 1]) {
    memset(m, 0, sizeof *m);
    m->batch = batch;
    memcpy(m->sizes, sizes, sizeof m->sizes);
    int ok = 1;
    for (int l = 0; l < BREF_LAYERS; l++) {
        int64_t ni = sizes[l], no = sizes[l + 1];
        ok &= (m->w[l] = bref_alloc(no * ni)) != NULL;
        ok &= (m->dw[l] = bref_alloc(no * ni)) != NULL;
        ok &= (m->b[l] = bref_alloc(no)) != NULL;
        ok &= (m->db[l] = bref_alloc(no)) != NULL;
        ok &= (m->h[l] = bref_alloc((int64_t)batch * no)) != NULL;
        ok &= (m->dh[l] = bref_alloc((int64_t)batch * no)) != NULL;
    }
    if (!ok) {
        bref_free(m);
        return -1;
    }
    return 0;
}

/* GEMMs with fewer multiply-adds than this run on one OpenBLAS thread: jx's policy
 * (RT_GEMM_PAR_MIN in runtime/rt_blas.c), so that both sides thread the same products. */
#define BREF_PAR_MIN 4e6

/* Sets OpenBLAS's thread count for a product of macs multiply-adds (m->threads > 0). */
static void bref_threads(const bref_mlp *m, double macs) {
    if (m->threads > 0) openblas_set_num_threads(macs < BREF_PAR_MIN ? 1 : m->threads);
}

/* Forward product of layer l: h[l] = in @ W[l]^T (sgemv for one example). */
static void bref_fwd_gemm(bref_mlp *m, int l, const float *in) {
    int ni = m->sizes[l], no = m->sizes[l + 1];
    bref_threads(m, (double)m->batch * no * ni);
    if (m->batch == 1 && m->threads > 0)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, no, ni, 1.0f, m->w[l], ni, in, 1, 0.0f, m->h[l], 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m->batch, no, ni, 1.0f, in, ni,
                    m->w[l], ni, 0.0f, m->h[l], no);
}

/* Backward GEMMs of layer l: dW[l] = dh[l]^T @ in and, for l > 0, dh[l-1] = dh[l] @ W[l]. */
static void bref_bwd_gemms(bref_mlp *m, int l, const float *in) {
    int ni = m->sizes[l], no = m->sizes[l + 1];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, m->batch, 1.0f, m->dh[l], no,
                in, ni, 0.0f, m->dw[l], ni);
    if (l > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->batch, ni, no, 1.0f,
                    m->dh[l], no, m->w[l], ni, 0.0f, m->dh[l - 1], ni);
}

/* The backward products of layer l with SGD folded in, as jx's gemm-fold does: first
 * dh[l-1] = dh[l] @ W[l] (l > 0, with the old W), then W[l] -= lr * dh[l]^T @ in as one
 * GEMM (alpha -lr, beta 1) on W itself; for one example sgemv and a rank-1 sger. */
static void bref_bwd_fold(bref_mlp *m, int l, const float *in, float lr) {
    int ni = m->sizes[l], no = m->sizes[l + 1], B = m->batch;
    bref_threads(m, (double)B * no * ni);
    if (B == 1 && m->threads > 0) {
        if (l > 0)
            cblas_sgemv(CblasRowMajor, CblasTrans, no, ni, 1.0f, m->w[l], ni, m->dh[l], 1, 0.0f,
                        m->dh[l - 1], 1);
        cblas_sger(CblasRowMajor, no, ni, -lr, m->dh[l], 1, in, 1, m->w[l], ni);
        return;
    }
    if (l > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, ni, no, 1.0f, m->dh[l], no,
                    m->w[l], ni, 0.0f, m->dh[l - 1], ni);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, B, -lr, m->dh[l], no, in, ni,
                1.0f, m->w[l], ni);
}

/* See bench_ref.h. */
void bref_step(bref_mlp *m, const float *x, const float *y, float lr) {
    const int B = m->batch, L = BREF_LAYERS;
    /* forward: h[l] = relu(in @ W^T + b), the last layer without relu */
    for (int l = 0; l < L; l++) {
        const float *in = l ? m->h[l - 1] : x;
        int no = m->sizes[l + 1];
        bref_fwd_gemm(m, l, in);
        float *restrict h = m->h[l];
        const float *restrict b = m->b[l];
        for (int i = 0; i < B; i++) {
            float *restrict row = h + (int64_t)i * no;
            if (l < L - 1) {
                for (int j = 0; j < no; j++) {
                    float v = row[j] + b[j];
                    row[j] = v > 0.0f ? v : 0.0f;
                }
            } else {
                for (int j = 0; j < no; j++) row[j] += b[j];
            }
        }
    }
    /* loss = -mean(sum(logp * y)); dlogits = (softmax * sum(y) - y) / B */
    int nc = m->sizes[L];
    double loss = 0;
    for (int i = 0; i < B; i++) {
        const float *restrict z = m->h[L - 1] + (int64_t)i * nc;
        const float *restrict yi = y + (int64_t)i * nc;
        float *restrict dz = m->dh[L - 1] + (int64_t)i * nc;
        float mx = z[0];
        for (int j = 1; j < nc; j++) mx = z[j] > mx ? z[j] : mx;
        float s = 0, ys = 0, dot = 0;
        for (int j = 0; j < nc; j++) s += expf(z[j] - mx);
        float lse = mx + logf(s);
        for (int j = 0; j < nc; j++) {
            ys += yi[j];
            dot += yi[j] * (z[j] - lse);
        }
        loss += dot;
        for (int j = 0; j < nc; j++) dz[j] = (expf(z[j] - lse) * ys - yi[j]) / (float)B;
    }
    m->loss = (float)(-loss / B);
    /* backward, SGD folded into the products and the bias sums */
    for (int l = L - 1; l >= 0; l--) {
        const float *in = l ? m->h[l - 1] : x;
        int no = m->sizes[l + 1];
        float *restrict b = m->b[l], *restrict db = m->db[l];
        const float *restrict dh = m->dh[l];
        for (int j = 0; j < no; j++) db[j] = 0;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < no; j++) db[j] += dh[(int64_t)i * no + j];
        for (int j = 0; j < no; j++) b[j] -= lr * db[j];
        if (m->threads > 0) {
            bref_bwd_fold(m, l, in, lr);
        } else { /* the unfolded form: dW, then the SGD loop */
            int64_t nw = (int64_t)no * m->sizes[l];
            bref_bwd_gemms(m, l, in);
            float *restrict w = m->w[l];
            const float *restrict dw = m->dw[l];
            for (int64_t k = 0; k < nw; k++) w[k] -= lr * dw[k];
        }
        if (l > 0) { /* through the relu of layer l-1 */
            int64_t n = (int64_t)B * m->sizes[l];
            float *restrict d = m->dh[l - 1];
            const float *restrict h = m->h[l - 1];
            for (int64_t k = 0; k < n; k++) d[k] = h[k] > 0.0f ? d[k] : 0.0f;
        }
    }
    if (m->threads > 0) openblas_set_num_threads(m->threads); /* the caller's setting back */
}

/* See bench_ref.h. */
void bref_gemms(bref_mlp *m, const float *x) {
    int threads = m->threads;
    m->threads = 0; /* as set by the caller; sgemm at every batch */
    for (int l = 0; l < BREF_LAYERS; l++) bref_fwd_gemm(m, l, l ? m->h[l - 1] : x);
    for (int l = BREF_LAYERS - 1; l >= 0; l--) bref_bwd_gemms(m, l, l ? m->h[l - 1] : x);
    m->threads = threads;
}
