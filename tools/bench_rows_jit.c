/* The compiler-level rows of jxbench-all: the elementwise chain (against memcpy and hand
 * C through bench_elt, against numpy and torch here), compile times (cold, memory-cached
 * and disk-cached for the notebook MLP step; cold against the depth of a width-64 MLP
 * step), and the per-call dispatch cost. */
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_chain.h"
#include "bench_mlp.h"
#include "bench_rows.h"
#include "jx/nn.h"
#include "jx/optim.h"

/* ---- elementwise chain ------------------------------------------------------------------ */

/* Runs bench_elt (next to this binary) and emits its rows (jx vs memcpy and vs C). */
static int el_bench_elt(const bu_opts *o, long long n) {
    char self[1024], cmd[1400], thr[64] = "";
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len < 0) return -1;
    self[len] = 0;
    for (int k = 0, at = 0; k < o->nthr; k++)
        at += snprintf(thr + at, sizeof thr - (size_t)at, "%s%d", k ? "," : "", o->thr[k]);
    snprintf(cmd, sizeof cmd, "'%s/bench_elt' --json --n %lld --reps %d --threads %s",
             dirname(self), n, o->smoke ? 1 : o->quick ? 5 : 21, thr);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '{') continue;
        const char *pp = strstr(line, "\"peer\":\"");
        char peer[32] = "?";
        if (pp) sscanf(pp + 8, "%31[^\"]", peer);
        bu_row r = {.name = "elt_chain", .n_cfg = 2, .cfg_key = {"n", "threads"},
                    .cfg_val = {(long long)bu_json_num(line, "n"),
                                (long long)bu_json_num(line, "threads")},
                    .jx_us = bu_json_num(line, "jx_us"), .peer = peer,
                    .peer_us = bu_json_num(line, "peer_us")};
        bu_emit(o, &r);
    }
    return pclose(f) == 0 ? 0 : -1;
}

/* Context of the jx side of the chain. */
typedef struct el_ctx {
    jx_exe *e;
    jx_array *x, *y;
} el_ctx;

static int el_jx(void *c) {
    el_ctx *x = c;
    return jx_exe_run(x->e, &x->x, &x->y);
}

/* See bench_rows.h. */
int br_elt(const bu_opts *o, bu_peer *p) {
    long long n = o->smoke ? 1 << 16 : o->quick ? 4 << 20 : 16 << 20;
    if (el_bench_elt(o, n) < 0) {
        fprintf(stderr, "bench: bench_elt failed\n");
        return -1;
    }
    jx_type t = JX_TYPE(JX_F32, n);
    jx_fn *f = jx_trace(bench_chain_jx, 1, &t, 1, NULL);
    el_ctx c = {NULL, jx_array_new_type(&t), jx_array_new_type(&t)};
    int rc = f && c.x && c.y ? 0 : -1;
    float *x = c.x ? jx_array_data(c.x) : NULL;
    for (long long i = 0; x && i < n; i++) x[i] = (float)(8.0 * (double)(i % 65521) / 65521.0 - 4.0);
    for (int k = 0; k < o->nthr && rc == 0; k++) {
        jx_jit_opts jo = {NULL, o->thr[k], 0};
        jx_exe_free(c.e);
        if (!(c.e = jx_jit(f, &jo)) || el_jx(&c) < 0) {
            rc = -1;
            break;
        }
        static bu_side sd[3];
        sd[0] = (bu_side){.name = "jx", .fn = el_jx, .ctx = &c};
        static const char *libs[2] = {"numpy", "torch"};
        char json[256];
        for (int l = 0; l < 2; l++) {
            snprintf(json, sizeof json, "{\"kind\":\"elt\",\"lib\":\"%s\",\"n\":%lld,\"threads\":%d}",
                     libs[l], n, o->thr[k]);
            br_peer_side(p, &sd[1 + l], libs[l], libs[l], json);
        }
        double t0 = bu_now_us();
        rc = el_jx(&c);
        int rounds, block;
        br_plan(o, bu_now_us() - t0, &rounds, &block);
        if (rc == 0) rc = bu_interleave(p, sd, 3, rounds, block);
        const char *keys[2] = {"n", "threads"};
        long long vals[2] = {n, o->thr[k]};
        for (int l = 0; l < 2 && rc == 0; l++) {
            br_emit_side(o, "elt_chain", 2, keys, vals, sd[0].med, &sd[1 + l], NULL);
            bu_peer_drop(p, libs[l]);
        }
    }
    if (rc) fprintf(stderr, "bench: elt_chain: %s\n", jx_error());
    jx_exe_free(c.e);
    jx_fn_free(f);
    jx_array_free(c.x), jx_array_free(c.y);
    return rc;
}

/* ---- compile times ---------------------------------------------------------------------- */

/* loss(w0, b0, ..., x) = mean(h^2), h = relu(...relu(x @ w0 + b0)...); user: the layers. */
static void cp_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    int L = *(const int *)user;
    jx_val h = in[2 * L];
    for (int l = 0; l < L; l++) h = jx_relu(jx_linear(h, in[2 * l], in[2 * l + 1]));
    out[0] = jx_mean_all(jx_mul(h, h));
}

/* The SGD training step of an L-layer, width-64 MLP on a batch of 32, and its donation
 * mask (the params) in *donate (caller frees). NULL with jx_error(). */
static jx_fn *cp_step(int L, unsigned char **donate) {
    jx_type *ty = calloc((size_t)(2 * L + 1), sizeof *ty);
    jx_fn *loss = NULL, *step = NULL;
    if (ty) {
        for (int l = 0; l < L; l++) ty[2 * l] = JX_TYPE(JX_F32, 64, 64), ty[2 * l + 1] = JX_TYPE(JX_F32, 64);
        ty[2 * L] = JX_TYPE(JX_F32, 32, 64);
        jx_optim sgd = jx_sgd(0.01);
        loss = jx_trace(cp_loss, 2 * L + 1, ty, 1, &L);
        step = loss ? jx_optim_train_step(&sgd, loss, 2 * L) : NULL;
    }
    *donate = step ? calloc((size_t)jx_fn_n_in(step), 1) : NULL;
    if (*donate) memset(*donate, 1, (size_t)(2 * L));
    free(ty);
    jx_fn_free(loss);
    return step;
}

/* Median microseconds of `reps` compiles of f: cold (fresh each time, no disk cache, the
 * previous code freed), from memory (an executable of f alive) or from disk (stored once,
 * then each compile after the code left memory). */
enum { CP_COLD, CP_MEM, CP_DISK };
static double cp_time(const jx_fn *f, const unsigned char *donate, int how, int reps) {
    jx_jit_opts jo = {donate, 1, how == CP_COLD};
    jx_exe *keep = how != CP_COLD ? jx_jit(f, &jo) : NULL;
    if (how != CP_COLD && !keep) return -1;
    if (how == CP_DISK) jx_exe_free(keep), keep = NULL;
    double t[64];
    int n = reps < 64 ? reps : 64;
    for (int r = 0; r < n; r++) {
        double t0 = bu_now_us();
        jx_exe *e = jx_jit(f, &jo);
        t[r] = bu_now_us() - t0;
        if (!e) {
            jx_exe_free(keep);
            return -1;
        }
        jx_exe_free(e);
    }
    jx_exe_free(keep);
    return bu_median(t, n);
}

/* compile_cold, compile_mem and compile_disk of the notebook MLP step (batch 128). 0 or -1. */
static int cp_cached(const bu_opts *o, int reps) {
    static const char *names[3] = {"compile_cold", "compile_mem", "compile_disk"};
    static const unsigned char donate[8] = {1, 1, 1, 1, 1, 1, 0, 0};
    jx_fn *f = bm_step_fn(128);
    double us[3] = {-1, -1, -1};
    for (int h = 0; h < 3 && f; h++)
        if ((us[h] = cp_time(f, donate, h, reps)) < 0) break;
    int eqns = f ? jx_fn_n_eqns(f) : 0;
    jx_fn_free(f);
    for (int h = 0; h < 3 && us[2] >= 0; h++) {
        bu_row r = {.name = names[h], .n_cfg = 2, .cfg_key = {"batch", "eqns"},
                    .cfg_val = {128, eqns}, .jx_us = us[h]};
        bu_emit(o, &r);
    }
    return us[2] >= 0 ? 0 : -1;
}

/* See bench_rows.h. */
int br_compile(const bu_opts *o, bu_peer *p) {
    (void)p;
    static const int depths[4] = {2, 8, 32, 128};
    int reps = o->smoke ? 1 : o->quick ? 3 : 7;
    if (!o->smoke && cp_cached(o, reps) < 0) {
        fprintf(stderr, "bench: compile, the MLP step: %s\n", jx_error());
        return -1;
    }
    for (int d = 0; d < (o->smoke ? 1 : 4); d++) {
        int L = depths[d];
        unsigned char *donate;
        jx_fn *f = cp_step(L, &donate);
        double us = f && donate ? cp_time(f, donate, CP_COLD, L >= 32 ? (o->quick ? 1 : 3) : reps) : -1;
        int eqns = f ? jx_fn_n_eqns(f) : 0;
        free(donate);
        jx_fn_free(f);
        if (us < 0) {
            fprintf(stderr, "bench: compile, %d layers: %s\n", L, jx_error());
            return -1;
        }
        char extra[96];
        snprintf(extra, sizeof extra, "\"us_per_eqn\":%.2f", us / eqns);
        bu_row r = {.name = "compile_depth", .n_cfg = 2, .cfg_key = {"layers", "eqns"},
                    .cfg_val = {L, eqns}, .jx_us = us, .extra = extra};
        bu_emit(o, &r);
    }
    return 0;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

#define DP_CALLS 1000

/* y = x + 1 */
static void dp_plus1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], jx_lit(in[0], 1.0));
}

/* Its hand-written counterpart, called through a volatile pointer. */
static void dp_plus1_c(const float *x, float *y) {
    for (int i = 0; i < 4; i++) y[i] = x[i] + 1.0f;
}

typedef struct dp_ctx {
    jx_exe *e;
    jx_array *x, *y;
} dp_ctx;

static int dp_jx(void *c) {
    dp_ctx *d = c;
    for (int i = 0; i < DP_CALLS; i++)
        if (jx_exe_run(d->e, &d->x, &d->y) < 0) return -1;
    return 0;
}

static int dp_c(void *c) {
    dp_ctx *d = c;
    void (*volatile f)(const float *, float *) = dp_plus1_c;
    for (int i = 0; i < DP_CALLS; i++) f(jx_array_cdata(d->x), jx_array_data(d->y));
    return 0;
}

/* See bench_rows.h. */
int br_dispatch(const bu_opts *o, bu_peer *p) {
    jx_type ty = JX_TYPE(JX_F32, 4);
    jx_fn *f = jx_trace(dp_plus1, 1, &ty, 1, NULL);
    jx_jit_opts jo = {NULL, 1, 0};
    dp_ctx c = {f ? jx_jit(f, &jo) : NULL, jx_array_new_type(&ty), jx_array_new_type(&ty)};
    int rc = c.e && c.x && c.y ? 0 : -1;
    static bu_side sd[4];
    sd[0] = (bu_side){.name = "jx", .fn = dp_jx, .ctx = &c};
    sd[1] = (bu_side){.name = "c_call", .fn = dp_c, .ctx = &c};
    br_peer_side(p, &sd[2], "torch", "torch", "{\"kind\":\"dispatch\",\"lib\":\"torch\",\"threads\":1}");
    br_peer_side(p, &sd[3], "numpy", "numpy", "{\"kind\":\"dispatch\",\"lib\":\"numpy\",\"threads\":1}");
    if (rc == 0) rc = bu_interleave(p, sd, 4, o->smoke ? 1 : o->quick ? 5 : 21, o->smoke ? 1 : 5);
    for (int k = 0; k < 2; k++) sd[k].med /= DP_CALLS; /* the peer reports per call */
    const char *keys[1] = {"threads"};
    long long vals[1] = {1};
    for (int k = 1; k < 4 && rc == 0; k++) br_emit_side(o, "dispatch", 1, keys, vals, sd[0].med, &sd[k], NULL);
    if (rc) fprintf(stderr, "bench: dispatch: %s\n", jx_error());
    bu_peer_drop(p, "torch"), bu_peer_drop(p, "numpy");
    jx_exe_free(c.e);
    jx_fn_free(f);
    jx_array_free(c.x), jx_array_free(c.y);
    return rc;
}
