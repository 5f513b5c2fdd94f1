/* bench_cnn: the Haiku CNN training step (examples/mnist_cnn.c's model) in jx against
 * PyTorch eager, interleaved round by round.
 *
 *   conv(4x4, 1->4, SAME) -> relu -> conv(4x4, 4->4, SAME) -> relu -> max_pool(2x2) ->
 *   flatten -> linear(784 -> 10); loss: softmax cross-entropy summed over the batch;
 *   SGD (lr 1e-3), parameters updated in place (jx_train: params donated).
 *
 * For each batch size (8 and 128 by default) and thread count (1 and 2) a jx_train is
 * compiled with jx_jit_opts.n_threads; the PyTorch peer (tools/bench_cnn_torch.py, one
 * child process per thread count, torch.set_num_threads(T), OMP_WAIT_POLICY=PASSIVE, the
 * same model in NCHW, torch.optim.SGD) runs the same step on its own random batch. Each
 * round times --reps steps of every configuration, jx then PyTorch; --rounds rounds.
 * Prints the median and min wall time and the median process CPU time (all threads) of
 * a step in ms over all rounds' samples, the ratios jx / PyTorch of each, and the load
 * average before and after: on a shared machine the min and (at 1 thread) the CPU time
 * are the figures least disturbed by other processes;
 * --json adds one JSON line per configuration. --no-torch times jx alone (also when
 * python3 cannot import torch). Exit 2 on usage errors. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jx.h"
#include "jx/nn.h"
#include "jx/optim.h"

#define BC_MAX 8

static const char bc_usage[] =
    "usage: bench_cnn [--batch B,...] [--threads T,...] [--reps R] [--rounds K]\n"
    "                 [--python PATH] [--no-torch] [--json]\n"
    "  --batch B     comma-separated batch sizes (default 8,128)\n"
    "  --threads T   comma-separated thread counts (default 1,2)\n"
    "  --reps R      timed steps per configuration and round (default 10)\n"
    "  --rounds K    interleaved rounds (default 5)\n"
    "  --python P    the python3 that imports torch (default /usr/bin/python3)\n"
    "  --no-torch    time jx alone\n"
    "  --json        one JSON line per configuration\n";

typedef struct bc_opts {
    int nb, nt, reps, rounds, torch, json;
    int64_t batch[BC_MAX];
    int thr[BC_MAX];
    const char *python;
} bc_opts;

/* Milliseconds on clock c. */
static double bc_ms(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* qsort order of doubles. */
static int bc_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses a comma-separated list of integers in [1, max] into v; the count, or -1. */
static int bc_list(const char *s, int64_t *v, int64_t max) {
    int n = 0;
    char *end;
    for (; *s && n < BC_MAX; s = *end ? end + 1 : end) {
        long long x = strtoll(s, &end, 10);
        if (end == s || x < 1 || x > max) return -1;
        v[n++] = x;
    }
    return n > 0 ? n : -1;
}

/* Parses argv into o; 0, 1 for --help, -1 on a bad argument. */
static int bc_parse(int argc, char **argv, bc_opts *o) {
    *o = (bc_opts){.nb = 2, .nt = 2, .reps = 10, .rounds = 5, .torch = 1,
                   .batch = {8, 128}, .thr = {1, 2}, .python = "/usr/bin/python3"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (!strcmp(a, "--json") || !strcmp(a, "--no-torch")) {
            *(a[2] == 'j' ? &o->json : &o->torch) = a[2] == 'j';
            continue;
        }
        if (!v) return -1;
        i++;
        int64_t t[BC_MAX];
        if (!strcmp(a, "--batch")) o->nb = bc_list(v, o->batch, 1 << 20);
        else if (!strcmp(a, "--threads")) {
            o->nt = bc_list(v, t, 64);
            for (int k = 0; k < o->nt; k++) o->thr[k] = (int)t[k];
        } else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--rounds")) o->rounds = atoi(v);
        else if (!strcmp(a, "--python")) o->python = v;
        else return -1;
    }
    return o->nb > 0 && o->nt > 0 && o->reps >= 1 && o->rounds >= 1 ? 0 : -1;
}

/* ---- jx ------------------------------------------------------------------------------ */

/* The CNN's loss on (params..., x[B,28,28,1], labels[B]). */
static void bc_loss(jx_trace *t, const jx_val *p, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_relu(jx_conv2d(p[6], p[0], p[1], JX_INTS(1), JX_SAME));
    h = jx_relu(jx_conv2d(h, p[2], p[3], JX_INTS(1), JX_SAME));
    h = jx_max_pool(h, JX_INTS(2), JX_INTS(2), JX_VALID);
    h = jx_linear(jx_flatten(h), p[4], p[5]);
    out[0] = jx_sum_all(jx_softmax_cross_entropy(h, p[7]));
}

/* One jx configuration: its params, trainer and batch. */
typedef struct bc_jx {
    jx_tree *params;
    jx_train *train;
    jx_array *batch[2];
} bc_jx;

/* Builds configuration j for batch size b and nthr threads and runs 5 warm-up steps
 * (the first compiles). 0 or -1 with jx_error(). */
static int bc_jx_new(bc_jx *j, int64_t b, int nthr) {
    static const char *const name[3] = {"conv1", "conv2", "linear"};
    const jx_type w[3] = {JX_TYPE(JX_F32, 4, 4, 1, 4), JX_TYPE(JX_F32, 4, 4, 4, 4),
                          JX_TYPE(JX_F32, 784, 10)};
    const jx_type bt[3] = {JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 10)};
    jx_key keys[3];
    jx_key_split(jx_key_new(0), 3, keys);
    j->params = jx_tree_new();
    for (int l = 0; l < 3; l++)
        if (!j->params ||
            jx_tree_put(j->params, jx_init_haiku(keys[l], w[l]), "%s/w", name[l]) < 0 ||
            jx_tree_put(j->params, jx_init_zeros(bt[l]), "%s/b", name[l]) < 0)
            return -1;
    j->batch[0] = jx_array_new(JX_F32, 4, (int64_t[]){b, 28, 28, 1});
    j->batch[1] = jx_array_new(JX_I32, 1, (int64_t[]){b});
    if (!j->batch[0] || !j->batch[1]) return -1;
    float *x = jx_array_data(j->batch[0]);
    int32_t *y = jx_array_data(j->batch[1]);
    uint32_t s = 12345;
    for (int64_t i = 0; i < b * 784; i++)
        x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f;
    for (int64_t i = 0; i < b; i++) y[i] = (int32_t)((s = s * 1664525u + 1013904223u) >> 28) % 10;
    jx_optim opt = jx_sgd(1e-3);
    jx_jit_opts jo = {.n_threads = nthr, .no_disk_cache = 1};
    if (!(j->train = jx_train_new(&opt, bc_loss, NULL, j->params, 2, 0, &jo))) return -1;
    for (int i = 0; i < 5; i++)
        if (jx_train_step(j->train, j->batch, NULL, NULL) < 0) return -1;
    return 0;
}

/* Frees configuration j. */
static void bc_jx_free(bc_jx *j) {
    jx_train_free(j->train);
    jx_tree_free(j->params);
    jx_array_free(j->batch[0]);
    jx_array_free(j->batch[1]);
}

/* ---- the PyTorch peer ------------------------------------------------------------------ */

/* A child python process: its pid and the pipes to its stdin and from its stdout. */
typedef struct bc_peer {
    pid_t pid;
    FILE *in, *out;
} bc_peer;

/* Starts the peer script with nthr threads; 0 once it printed "ready", else -1. */
static int bc_peer_start(bc_peer *pe, const char *python, const char *script, int nthr) {
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0) return -1;
    char t[16];
    snprintf(t, sizeof t, "%d", nthr);
    pe->pid = fork();
    if (pe->pid < 0) return -1;
    if (pe->pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execl(python, python, script, t, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    pe->in = fdopen(to[1], "w");
    pe->out = fdopen(from[0], "r");
    char line[64];
    if (!pe->in || !pe->out || !fgets(line, sizeof line, pe->out) || strncmp(line, "ready", 5))
        return -1;
    return 0;
}

/* Times reps steps of batch b in the peer: wall ms into ms[0..reps), process CPU ms into
 * cpu[0..reps). 0 or -1. */
static int bc_peer_run(bc_peer *pe, int64_t b, int reps, double *ms, double *cpu) {
    fprintf(pe->in, "%lld %d\n", (long long)b, reps);
    fflush(pe->in);
    size_t cap = (size_t)reps * 32 + 64;
    char *line = malloc(cap), *s = line, *end;
    int n = 0;
    if (line && fgets(line, (int)cap, pe->out))
        for (; n < reps; n++, s = end) {
            ms[n] = strtod(s, &end);
            if (end == s || *end != ',') break;
            s = end + 1;
            cpu[n] = strtod(s, &end);
            if (end == s) break;
        }
    free(line);
    return n == reps ? 0 : -1;
}

/* Stops the peer. */
static void bc_peer_stop(bc_peer *pe) {
    if (pe->in) {
        fputs("quit\n", pe->in);
        fclose(pe->in);
    }
    if (pe->out) fclose(pe->out);
    if (pe->pid > 0) waitpid(pe->pid, NULL, 0);
}

/* Prints /proc/loadavg's first three fields (the machine is shared). */
static void bc_load(const char *when) {
    FILE *f = fopen("/proc/loadavg", "r");
    double la[3];
    if (f && fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, la[0], la[1], la[2]);
    if (f) fclose(f);
}

/* ---- the run --------------------------------------------------------------------------- */

/* Median, min and max of v[0..n) (sorts v). */
static void bc_stats(double *v, int n, double *med, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, bc_cmp);
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    *lo = v[0];
    *hi = v[n - 1];
}

/* Prints the table row (and JSON line) of one configuration: jx's and the peer's samples,
 * n wall times then n CPU times each. */
static void bc_row(const bc_opts *o, int64_t b, int thr, double *jx, double *pt) {
    int n = o->reps * o->rounds;
    double j[6] = {0}, q[6] = {0}, hi; /* wall median, min; cpu median, min */
    bc_stats(jx, n, &j[0], &j[1], &hi);
    bc_stats(jx + n, n, &j[2], &j[3], &hi);
    if (o->torch) {
        bc_stats(pt, n, &q[0], &q[1], &hi);
        bc_stats(pt + n, n, &q[2], &q[3], &hi);
    }
    printf("%5lld %7d | %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f | %6.2f %6.2f %6.2f\n", (long long)b,
           thr, j[0], j[1], j[2], q[0], q[1], q[2], o->torch ? j[0] / q[0] : 0.0,
           o->torch ? j[1] / q[1] : 0.0, o->torch ? j[2] / q[2] : 0.0);
    if (o->json)
        printf("{\"name\":\"cnn_step\",\"batch\":%lld,\"threads\":%d,\"jx_us\":%.1f,"
               "\"jx_min_us\":%.1f,\"jx_cpu_us\":%.1f,\"peer\":\"pytorch\",\"peer_us\":%.1f,"
               "\"peer_min_us\":%.1f,\"peer_cpu_us\":%.1f,\"ratio\":%.3f}\n", (long long)b, thr,
               j[0] * 1e3, j[1] * 1e3, j[2] * 1e3, q[0] * 1e3, q[1] * 1e3, q[2] * 1e3,
               o->torch ? j[0] / q[0] : 0.0);
}

/* The peer script's path: tools/bench_cnn_torch.py beside this source (BC_SCRIPT from
 * meson), or the environment's BENCH_CNN_TORCH. */
static const char *bc_script(void) {
    const char *e = getenv("BENCH_CNN_TORCH");
#ifdef BC_SCRIPT
    return e ? e : BC_SCRIPT;
#else
    return e ? e : "tools/bench_cnn_torch.py";
#endif
}

/* Sets up every configuration and peer, times the rounds, prints the table. 0 or -1. */
static int bc_run(const bc_opts *o) {
    int nc = o->nb * o->nt, n = o->reps * o->rounds, rc = -1;
    bc_jx *jx = calloc((size_t)nc, sizeof *jx);
    bc_peer pe[BC_MAX] = {{0, NULL, NULL}};
    double *tj = calloc((size_t)(2 * nc * n), sizeof *tj),
           *tp = calloc((size_t)(2 * nc * n), sizeof *tp);
    if (!jx || !tj || !tp) goto done;
    for (int c = 0; c < nc; c++)
        if (bc_jx_new(&jx[c], o->batch[c / o->nt], o->thr[c % o->nt]) < 0) goto done;
    for (int t = 0; t < o->nt && o->torch; t++)
        if (bc_peer_start(&pe[t], o->python, bc_script(), o->thr[t]) < 0) {
            fprintf(stderr, "bench_cnn: cannot start the PyTorch peer (%s %s)\n", o->python,
                    bc_script());
            goto done;
        }
    for (int r = 0; r < o->rounds; r++)
        for (int c = 0; c < nc; c++) {
            double *js = tj + (size_t)c * 2 * n + (size_t)r * o->reps;
            double *ps = tp + (size_t)c * 2 * n + (size_t)r * o->reps;
            for (int i = 0; i < o->reps; i++) {
                double t0 = bc_ms(CLOCK_MONOTONIC), c0 = bc_ms(CLOCK_PROCESS_CPUTIME_ID);
                if (jx_train_step(jx[c].train, jx[c].batch, NULL, NULL) < 0) goto done;
                js[i] = bc_ms(CLOCK_MONOTONIC) - t0;
                js[n + i] = bc_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
            }
            if (o->torch && bc_peer_run(&pe[c % o->nt], o->batch[c / o->nt], o->reps, ps,
                                        ps + n) < 0) {
                fprintf(stderr, "bench_cnn: the PyTorch peer failed\n");
                goto done;
            }
        }
    bc_load("after");
    printf("CNN step: %d reps x %d rounds, interleaved\n", o->reps,
           o->rounds);
    printf(
        "                      jx (ms)           |      PyTorch (ms)          |  jx / PyTorch\n");
    printf("batch threads |   median      min  cpu_med |   median      min  cpu_med |    med    "
           "min    cpu\n");
    for (int c = 0; c < nc; c++)
        bc_row(o, o->batch[c / o->nt], o->thr[c % o->nt], tj + (size_t)c * 2 * n,
               tp + (size_t)c * 2 * n);
    rc = 0;
done:
    if (rc < 0 && jx_error()[0]) fprintf(stderr, "bench_cnn: %s\n", jx_error());
    for (int t = 0; t < o->nt; t++) bc_peer_stop(&pe[t]);
    for (int c = 0; jx && c < nc; c++) bc_jx_free(&jx[c]);
    free(jx);
    free(tj);
    free(tp);
    return rc;
}

int main(int argc, char **argv) {
    bc_opts o;
    int pr = bc_parse(argc, argv, &o);
    if (pr != 0) {
        fputs(bc_usage, pr > 0 ? stdout : stderr);
        return pr > 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    bc_load("before");
    return bc_run(&o) < 0 ? 1 : 0;
}
