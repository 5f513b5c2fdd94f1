/* Shared pieces of jxbench-all (./tools/bench): options, timing, medians, the output rows
 * (a table line on stdout and a JSON line in the output file), the Python peer process
 * (tools/bench_peers.py) and the interleaved timing of several "sides" of one row.
 *
 * Interleaving: a row's sides (jx, a hand-written C reference, torch, numpy, ...) run in
 * rounds; each round runs a block of iterations of every side, the order rotating from
 * round to round; each iteration is one sample; a side's figure is the median of its
 * samples. Local sides are C callbacks; remote sides run in the peer process, which
 * times its own iterations with time.perf_counter and answers with the samples. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <sys/types.h>

#define BU_MAX_SAMPLES 4096
#define BU_MAX_SIDES 6
#define BU_MAX_CFG 4
#define BU_MAX_THREADS 4

/* Options of the run (bench_run.c parses them). */
typedef struct bu_opts {
    int quick;        /* --quick: few rounds, reduced sizes where a row is long */
    int smoke;        /* --smoke: the suite's minimal run (a few rows, tiny sizes) */
    int peers;        /* 0: --no-peers (the Python rows are skipped, saying so) */
    int nthr, thr[BU_MAX_THREADS]; /* thread counts of the threaded rows */
    const char *only; /* comma-separated row groups, or NULL: all */
    const char *data; /* Fashion-MNIST directory */
    const char *peer_script; /* tools/bench_peers.py */
    char tmp[256];    /* scratch directory: .npy files for the peers, the disk cache */
    FILE *json;       /* the JSON lines */
} bu_opts;

/* 1 if row group g is selected by --only. */
int bu_selected(const bu_opts *o, const char *g);

/* Monotonic time in microseconds. */
double bu_now_us(void);
/* Median of v[0..n-1] (sorts v); 0 for n = 0. */
double bu_median(double *v, int n);

/* One output row. cfg_key[i] = cfg_val[i] are its configuration (batch, threads, ...);
 * peer NULL: a jx-only row (peer_us and ratio null); skip non-NULL: the peer did not run,
 * and why (peer_us and ratio null, the reason in the table and in "skipped"); extra: more
 * JSON fields, already formatted ("\"eqns\":12,\"us_per_eqn\":0.4"), or NULL; ratio is
 * jx_us / peer_us unless ratio_set says otherwise. */
typedef struct bu_row {
    const char *name;
    int n_cfg;
    const char *cfg_key[BU_MAX_CFG];
    long long cfg_val[BU_MAX_CFG];
    double jx_us;
    const char *peer;
    double peer_us;
    const char *skip;
    const char *extra;
    int ratio_set;
    double ratio;
} bu_row;
/* Prints the table's header line. */
void bu_header(void);
/* Prints r as a table line on stdout and a JSON line into o->json. */
void bu_emit(const bu_opts *o, const bu_row *r);

/* ---- the Python peer ------------------------------------------------------------------- */

/* A running tools/bench_peers.py (up = 0: not running; why says so). */
typedef struct bu_peer {
    pid_t pid;
    FILE *to, *from;
    int up;
    char why[256];
    char hello[512]; /* its first line: the versions of torch, numpy and functorch */
} bu_peer;
/* Starts the peer (JX_BENCH_PYTHON or /usr/bin/python3, OMP_WAIT_POLICY=PASSIVE) unless
 * o->peers is 0. Never fails: p->up = 0 and p->why say why it is not there. */
void bu_peer_start(bu_peer *p, const bu_opts *o);
/* Sets up slot id in the peer ("setup ID JSON"). 0: ready (reply: its JSON, e.g. the loss
 * of a checked step); 1: skipped (reply: why); -1: the peer failed (reply: why). */
int bu_peer_setup(bu_peer *p, const char *id, const char *json, char *reply, size_t len);
/* Runs n iterations of slot id; us[0..n) get the per-iteration microseconds. 0 or -1. */
int bu_peer_run(bu_peer *p, const char *id, int n, double *us);
/* Frees slot id in the peer (its memory). */
void bu_peer_drop(bu_peer *p, const char *id);
/* Stops the peer. */
void bu_peer_stop(bu_peer *p);
/* The JSON fields of a numerics check into buf: "<what>_jx":jx,"<what>_peer":peer (null
 * when NaN: the peer did not run),"check":"ok" (relative difference under tol), "FAILED"
 * or "none"; a FAILED check is also printed on stderr with the row's name. */
void bu_check_fields(char *buf, size_t len, const char *row, const char *what, double jx,
                     double peer, double tol);
/* The number after "key": in a JSON text, or NAN. */
double bu_json_num(const char *json, const char *key);

/* ---- interleaved timing -------------------------------------------------------------- */

/* One iteration of a local side: 0 or -1. */
typedef int (*bu_fn)(void *ctx);

/* One side of a row: a local callback (fn) or a slot of the peer (peer_id); skip != 0
 * leaves it out (why says why). After bu_interleave: med, the median microseconds. */
typedef struct bu_side {
    const char *name;
    bu_fn fn;
    void *ctx;
    const char *peer_id;
    int skip;
    char why[256];
    double med;
    int n;
    double t[BU_MAX_SAMPLES];
} bu_side;
/* Runs one warm-up block, then `rounds` rounds of `block` iterations of every side that
 * is not skipped, the order rotating each round, and sets each side's median. A remote
 * side that fails is marked skipped with the peer's message. 0, or -1 if a local side
 * failed (jx_error() says why). */
int bu_interleave(bu_peer *p, bu_side *s, int ns, int rounds, int block);

/* Sets OpenBLAS's thread count in this process (openblas_set_num_threads). */
void bu_blas_threads(int n);

#endif
