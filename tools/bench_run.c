/* jxbench-all: every row of ./tools/bench (issue 12) in one run, jx and its peers
 * interleaved within each row (bench_util.h), medians. Prints a table on stdout and
 * writes one JSON line per row (name, config such as batch and threads, jx_us, peer,
 * peer_us, ratio = jx_us / peer_us, and row-specific fields) to --out. The Python peers
 * (torch, functorch, numpy) run in tools/bench_peers.py; without them their rows are
 * printed as skipped, with the reason. Exit 0, 1 when jx failed, 2 on usage errors. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_rows.h"

static const char br_usage[] =
    "usage: jxbench-all [--quick] [--smoke] [--no-peers] [--out FILE] [--threads 1,2]\n"
    "                   [--only GROUP,...] [--data DIR] [--peer-script PATH]\n"
    "  --quick      few rounds and reduced sizes (well under a minute)\n"
    "  --smoke      the suite's minimal run: tiny sizes, one round, no peers\n"
    "  --no-peers   do not start the Python peers (their rows say skipped)\n"
    "  --out FILE   the JSON lines (default build/bench.jsonl)\n"
    "  --threads T  thread counts of the threaded rows (default 1,2)\n"
    "  --only G     row groups: mlp, pe_grads, cnn, elt, compile, dispatch, epoch\n"
    "  --data DIR   Fashion-MNIST (default $JX_MNIST_DIR or /usr/share/datasets/fashion-mnist)\n";

/* See bench_rows.h. */
void br_plan(const bu_opts *o, double us, int *rounds, int *block) {
    double target = o->smoke ? 1e3 : o->quick ? 15e3 : 60e3;
    double b = us > 0 ? target / us : 1;
    *block = b < 1 ? 1 : b > 200 ? 200 : (int)b;
    *rounds = o->smoke ? 1 : o->quick ? (us > 50e3 ? 2 : 3) : 9;
}

/* See bench_rows.h. */
double br_peer_side(bu_peer *p, bu_side *s, const char *id, const char *lib, const char *json) {
    memset(s, 0, sizeof *s);
    s->name = lib;
    s->peer_id = id;
    char reply[512];
    int rc = p->up ? bu_peer_setup(p, id, json, reply, sizeof reply) : -1;
    if (rc == 0) return bu_json_num(reply, "value");
    s->skip = 1;
    snprintf(s->why, sizeof s->why, "%.250s", p->up || rc == 0 ? reply : p->why);
    if (rc < 0 && p->up) fprintf(stderr, "bench: peer %s failed: %s\n", lib, reply);
    return NAN;
}

/* See bench_rows.h. */
int br_dir(const bu_opts *o, const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s", o->tmp, name);
    if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "bench: cannot make %s: %s\n", buf, strerror(errno));
        return -1;
    }
    return 0;
}

/* See bench_rows.h. */
int br_save(const char *dir, const char *name, const jx_array *a) {
    char path[768];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    return jx_npy_save(path, a);
}

/* See bench_rows.h. */
void br_emit_side(const bu_opts *o, const char *name, int n_cfg, const char *const *keys,
                  const long long *vals, double jx_us, const bu_side *s, const char *extra) {
    bu_row r = {.name = name, .n_cfg = n_cfg, .jx_us = jx_us, .peer = s->name,
                .peer_us = s->med, .skip = s->skip ? s->why : NULL, .extra = extra};
    for (int i = 0; i < n_cfg && i < BU_MAX_CFG; i++) r.cfg_key[i] = keys[i], r.cfg_val[i] = vals[i];
    bu_emit(o, &r);
}

/* Parses "1,2" into o->thr. 0 or -1. */
static int br_threads(bu_opts *o, const char *s) {
    o->nthr = 0;
    for (char *end; *s; s = *end ? end + 1 : end) {
        long t = strtol(s, &end, 10);
        if (end == s || t < 1 || t > 64 || o->nthr == BU_MAX_THREADS || (*end && *end != ','))
            return -1;
        o->thr[o->nthr++] = (int)t;
    }
    return o->nthr ? 0 : -1;
}

/* Parses argv into o and *out. 0, 1 for --help, -1 on a bad argument. */
static int br_parse(int argc, char **argv, bu_opts *o, const char **out) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        else if (!strcmp(a, "--quick")) o->quick = 1;
        else if (!strcmp(a, "--smoke")) o->smoke = 1, o->peers = 0, o->quick = 1;
        else if (!strcmp(a, "--no-peers")) o->peers = 0;
        else if (!strcmp(a, "--peers")) o->peers = !o->smoke;
        else if (!v) return -1;
        else if (!strcmp(a, "--out")) *out = v, i++;
        else if (!strcmp(a, "--only")) o->only = v, i++;
        else if (!strcmp(a, "--data")) o->data = v, i++;
        else if (!strcmp(a, "--peer-script")) o->peer_script = v, i++;
        else if (!strcmp(a, "--threads")) {
            if (br_threads(o, v) < 0) return -1;
            i++;
        } else return -1;
    }
    return 0;
}

/* The default peer script: tools/bench_peers.py of the source tree (JX_SOURCE_DIR, set by
 * meson, or relative to the working directory). */
static const char *br_default_script(void) {
    static char buf[1024];
    const char *src = getenv("JX_BENCH_SOURCE");
    snprintf(buf, sizeof buf, "%s/tools/bench_peers.py", src && *src ? src : JX_SOURCE_DIR);
    return buf;
}

/* The row groups in order. */
static const struct {
    const char *name;
    int (*run)(const bu_opts *, bu_peer *);
} br_groups[] = {{"mlp", br_mlp},         {"pe_grads", br_pe_grads}, {"cnn", br_cnn},
                 {"elt", br_elt},         {"compile", br_compile},   {"dispatch", br_dispatch},
                 {"epoch", br_epoch}};

/* OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) before sleeping, and those of the
 * side that just ran would take a core from the next side (jx here, torch and numpy in
 * the peer: the same OpenBLAS). 2^22 cycles (~1.5 ms) keeps them spinning between the
 * GEMMs of one step and quiet after a block; OpenBLAS reads the setting when it loads, so
 * the process re-executes itself once with it (the peer inherits it). */
#define BR_BLAS_TIMEOUT "22"
static void br_blas_timeout(char **argv) {
    if (getenv("OPENBLAS_THREAD_TIMEOUT")) return;
    setenv("OPENBLAS_THREAD_TIMEOUT", BR_BLAS_TIMEOUT, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "bench: cannot re-execute with OPENBLAS_THREAD_TIMEOUT set: %s\n", strerror(errno));
}

int main(int argc, char **argv) {
    br_blas_timeout(argv);
    bu_opts o = {.peers = 1, .nthr = 2, .thr = {1, 2}};
    const char *out = "build/bench.jsonl";
    int pr = br_parse(argc, argv, &o, &out);
    if (pr) {
        fputs(br_usage, pr > 0 ? stdout : stderr);
        return pr > 0 ? 0 : 2;
    }
    if (!o.data) o.data = getenv("JX_MNIST_DIR");
    if (!o.data || !*o.data) o.data = "/usr/share/datasets/fashion-mnist";
    if (!o.peer_script) o.peer_script = br_default_script();
    const char *tmp = getenv("TMPDIR");
    snprintf(o.tmp, sizeof o.tmp, "%s/jxbench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(o.tmp) || !(o.json = fopen(out, "w"))) {
        fprintf(stderr, "bench: cannot create %s: %s\n", o.json ? o.tmp : out, strerror(errno));
        return 1;
    }
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", o.tmp);
    setenv("JX_CACHE_DIR", cache, 1); /* disk-cache rows measure this run's own entries */
    bu_peer peer;
    bu_peer_start(&peer, &o);
    printf("jx bench%s%s: OPENBLAS_THREAD_TIMEOUT=%s, peers %s\n", o.quick ? " --quick" : "",
           o.smoke ? " --smoke" : "", getenv("OPENBLAS_THREAD_TIMEOUT"), peer.up ? peer.hello : peer.why);
    bu_header();
    int rc = 0;
    for (size_t g = 0; g < sizeof br_groups / sizeof br_groups[0] && rc == 0; g++) {
        if (!bu_selected(&o, br_groups[g].name)) continue;
        double t0 = bu_now_us();
        rc = br_groups[g].run(&o, &peer);
        fprintf(stderr, "bench: %s rows took %.1f s\n", br_groups[g].name, (bu_now_us() - t0) * 1e-6);
    }
    bu_peer_stop(&peer);
    fclose(o.json);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", o.tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", o.tmp);
    printf("JSON lines: %s\n", out);
    return rc ? 1 : 0;
}
