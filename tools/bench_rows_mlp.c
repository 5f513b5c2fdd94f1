/* The MLP rows of jxbench-all: the notebook MLP training step (bench_mlp.h) against the
 * hand-written C step (bench_ref.c: SGD folded into the GEMMs, jx's BLAS thread policy),
 * PyTorch eager and numpy; the step's GEMM throughput against sgemm 2048^3; per-example
 * gradients by vmap(grad) against functorch and against a loop of single-example grads. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mlp.h"
#include "bench_rows.h"

/* Context of the local sides of the MLP step row. */
typedef struct mr_ctx {
    jx_exe *e;
    bm_state *s;
} mr_ctx;

static int mr_jx(void *c) {
    mr_ctx *m = c;
    return bm_jx_step(m->e, m->s);
}

static int mr_ref(void *c) {
    mr_ctx *m = c;
    bm_ref_step(m->s);
    return 0;
}

/* Writes the initial params, x and y of s into dir for the peers (after a reset). */
static int mr_save(bm_state *s, const char *dir) {
    static const char *names[BM_NP] = {"W1", "b1", "W2", "b2", "W3", "b3"};
    bm_state_reset(s);
    for (int i = 0; i < BM_NP; i++)
        if (br_save(dir, names[i], s->p[i]) < 0) return -1;
    return br_save(dir, "x", s->x) < 0 || br_save(dir, "y", s->y) < 0 ? -1 : 0;
}

/* Multiply-adds of the step's GEMMs at batch B: 3 forward, 3 weight-gradient and 2
 * input-gradient products. */
static double mr_macs(int B) {
    double m = 0;
    for (int l = 0; l < 3; l++) m += (l ? 3.0 : 2.0) * B * bm_sizes[l] * bm_sizes[l + 1];
    return m;
}

/* Median microseconds of an n^3 sgemm on OpenBLAS's current thread count (reps runs). */
static double mr_sgemm_us(int n, int reps) {
    float *a = calloc((size_t)n * n, sizeof *a), *b = calloc((size_t)n * n, sizeof *b);
    float *c = calloc((size_t)n * n, sizeof *c);
    double t[16], med = -1;
    if (a && b && c) {
        for (int64_t k = 0; k < (int64_t)n * n; k++) a[k] = b[k] = (float)(k % 7) * 0.1f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        for (int r = 0; r < reps && r < 16; r++) {
            double t0 = bu_now_us();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            t[r] = bu_now_us() - t0;
        }
        med = bu_median(t, reps < 16 ? reps : 16);
    }
    free(a), free(b), free(c);
    return med;
}

/* The first-step loss of jx from the initial params (the params are reset after). */
static double mr_jx_loss(jx_exe *e, bm_state *s) {
    bm_state_reset(s);
    double l = bm_jx_step(e, s) < 0 ? NAN : *(const float *)jx_array_cdata(s->loss);
    bm_state_reset(s);
    return l;
}

/* Emits the rows of one (batch, threads) configuration. */
static void mr_emit(const bu_opts *o, int B, int T, bu_side *sd, int ref_ok, double jl,
                    const double *pl, double sg_us, int sg_n) {
    const char *keys[2] = {"batch", "threads"};
    long long vals[2] = {B, T};
    char extra[256];
    snprintf(extra, sizeof extra, "\"check\":\"%s\"", ref_ok ? "ok" : "FAILED");
    br_emit_side(o, "mlp_step", 2, keys, vals, sd[0].med, &sd[1], extra);
    for (int k = 2; k < 4; k++) {
        bu_check_fields(extra, sizeof extra, "mlp_step", "loss", jl, pl[k], 1e-4);
        br_emit_side(o, "mlp_step", 2, keys, vals, sd[0].med, &sd[k], extra);
    }
    if (sg_us <= 0) return;
    double macs = mr_macs(B), jg = 2 * macs / sd[0].med * 1e-3;
    double pg = 2.0 * sg_n * sg_n * sg_n / sg_us * 1e-3;
    char name[32];
    snprintf(name, sizeof name, "sgemm_%d", sg_n);
    snprintf(extra, sizeof extra, "\"jx_gflops\":%.2f,\"peer_gflops\":%.2f", jg, pg);
    bu_row r = {.name = "mlp_gemm_gflops", .n_cfg = 2, .cfg_key = {"batch", "threads"},
                .cfg_val = {B, T}, .jx_us = sd[0].med, .peer = name, .peer_us = sg_us,
                .extra = extra, .ratio_set = 1, .ratio = pg / jg};
    bu_emit(o, &r);
}

/* One (batch, threads) configuration: compile, check, time the four sides, emit. */
static int mr_config(const bu_opts *o, bu_peer *p, int B, int T, double sg_us, int sg_n) {
    bm_state s;
    jx_fn *f = NULL;
    jx_exe *e = NULL;
    int rc = -1;
    if (bm_state_init(&s, B) < 0 || !(f = bm_step_fn(B)) || !(e = bm_jit(f, T, 0))) goto done;
    s.ref.threads = T;
    int check = bm_check(e, &s);
    if (check < 0) goto done;
    double jl = mr_jx_loss(e, &s), pl[4] = {NAN, NAN, NAN, NAN};
    mr_ctx c = {e, &s};
    static bu_side sd[4];
    memset(sd, 0, sizeof sd);
    sd[0] = (bu_side){.name = "jx", .fn = mr_jx, .ctx = &c};
    sd[1] = (bu_side){.name = "hand_c", .fn = mr_ref, .ctx = &c};
    char dir[512], json[1024];
    if (br_dir(o, "mlp", dir, sizeof dir) < 0 || mr_save(&s, dir) < 0) goto done;
    static const char *libs[2] = {"torch", "numpy"};
    for (int k = 0; k < 2; k++) {
        snprintf(json, sizeof json, "{\"kind\":\"mlp\",\"lib\":\"%s\",\"batch\":%d,\"threads\":%d,"
                 "\"lr\":%g,\"dir\":\"%s\",\"check\":1}", libs[k], B, T, (double)BM_LR, dir);
        pl[2 + k] = br_peer_side(p, &sd[2 + k], libs[k], libs[k], json);
    }
    bm_state_reset(&s);
    double t0 = bu_now_us();
    if (bm_jx_step(e, &s) < 0) goto done;
    int rounds, block;
    br_plan(o, bu_now_us() - t0, &rounds, &block);
    if (bu_interleave(p, sd, 4, rounds, block) < 0) goto done;
    mr_emit(o, B, T, sd, check == 0, jl, pl, sg_us, sg_n);
    for (int k = 0; k < 2; k++) bu_peer_drop(p, libs[k]);
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench: mlp_step batch %d threads %d: %s\n", B, T, jx_error());
    bm_state_free(&s);
    jx_exe_free(e);
    jx_fn_free(f);
    return rc;
}

/* See bench_rows.h. */
int br_mlp(const bu_opts *o, bu_peer *p) {
    static const int full[4] = {1, 32, 128, 1024}, smoke[1] = {32};
    const int *batches = o->smoke ? smoke : full;
    int nb = o->smoke ? 1 : 4, sg_n = o->smoke ? 256 : 2048;
    for (int k = 0; k < o->nthr; k++) {
        bu_blas_threads(o->thr[k]);
        double sg = mr_sgemm_us(sg_n, o->quick ? 1 : 5);
        for (int b = 0; b < nb; b++)
            if (mr_config(o, p, batches[b], o->thr[k], sg, sg_n) < 0) return -1;
    }
    return 0;
}
