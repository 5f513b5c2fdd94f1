/* Helpers of the compile cache tests (t_cache.c, t_cache_faults.c): the test function,
 * "run and compare with the interpreter", cache counters, a fresh JX_CACHE_DIR per case,
 * file helpers, and child processes that rerun one case of this binary (a fresh process:
 * its own memory cache and warn-once state), with a hang guard. Include after check.h. */
#ifndef JX_CACHECHECK_H
#define JX_CACHECHECK_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "jit/cache.h"

/* Set in child processes; cases named child_* return at once without it. */
#define CHILD_ENV "T_CACHE_CHILD"
/* Seconds after which a child is killed (SIGALRM): a hang fails instead of blocking. */
#define CHILD_LIMIT 60

/* The test function: a GEMM, a bias, a constant row scaled by k and a reduction; m sets
 * the shapes. loc adds a source-location comment (which must not change the key). */
static inline jx_fn *make_fn(int m, double k, const char *loc) {
    char text[2048];
    snprintf(text, sizeof text,
             "{ lambda ; w:f32[%d,3] x:f32[3,5] b:f32[%d]. let\n"
             "    y:f32[%d,5] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() "
             "rhs_batch=()] w x    # %s\n"
             "    bb:f32[%d,5] = broadcast_in_dim[shape=(%d,5) broadcast_dimensions=(0)] b\n"
             "    z:f32[%d,5] = add y bb\n"
             "    c:f32[5] = constant[value=[%g,%g,%g,%g,%g]]\n"
             "    cc:f32[%d,5] = broadcast_in_dim[shape=(%d,5) broadcast_dimensions=(1)] c\n"
             "    t:f32[%d,5] = tanh z\n"
             "    u:f32[%d,5] = mul t cc\n"
             "    s:f32[%d] = reduce_sum[axes=(1)] u\n"
             "  in (s, z) }\n",
             m, m, m, loc, m, m, m, k, k + 1, k + 2, k + 3, k + 4, m, m, m, m, m);
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("parse: %s", jx_error());
    return f;
}

/* Runs e and the interpreter on the same deterministic inputs; 1 if all outputs agree
 * (tolerance 1e-5: GEMM and reduction order). */
static inline int runs_right(jx_exe *e, const jx_fn *f) {
    jx_array *in[8] = {0}, *got[8] = {0}, *want[8] = {0};
    int ok = e != NULL && f->n_in <= 8 && f->n_out <= 8;
    for (int i = 0; ok && i < f->n_in; i++) {
        jx_type t = jx_fn_in_type(f, i);
        in[i] = jx_array_new_type(&t);
        for (int64_t j = 0; j < jx_array_size(in[i]); j++)
            jx_array_set(in[i], j, 0.25 * (double)((j * 7 + i * 3) % 11) - 1.0);
    }
    if (ok && jx_exe_run(e, in, got) < 0) {
        CHECK_FAIL_("jx_exe_run: %s", jx_error());
        ok = 0;
    }
    if (ok && jx_interp(f, in, want) < 0) {
        CHECK_FAIL_("jx_interp: %s", jx_error());
        ok = 0;
    }
    for (int o = 0; ok && o < f->n_out; o++)
        for (int64_t j = 0; j < jx_array_size(want[o]); j++)
            if (!check_near(jx_array_get(got[o], j), jx_array_get(want[o], j), 1e-5)) {
                CHECK_FAIL_("output %d element %lld: jit %g, interp %g", o, (long long)j,
                            jx_array_get(got[o], j), jx_array_get(want[o], j));
                ok = 0;
                break;
            }
    for (int i = 0; i < 8; i++) {
        jx_array_free(in[i]);
        jx_array_free(got[i]);
        jx_array_free(want[i]);
    }
    return ok;
}

static jit_cache_stats st0 __attribute__((unused));

/* Starts counting (see since()). */
static inline void mark(void) {
    jit_cache_get_stats(&st0);
}

/* The counters since the last mark(). */
static inline jit_cache_stats since(void) {
    jit_cache_stats s;
    jit_cache_get_stats(&s);
    s.compiles -= st0.compiles;
    s.mem_hits -= st0.mem_hits;
    s.disk_hits -= st0.disk_hits;
    s.disk_writes -= st0.disk_writes;
    s.disk_rejects -= st0.disk_rejects;
    return s;
}

static char cache_dir[64] __attribute__((unused));

/* Points JX_CACHE_DIR at a fresh empty directory, with both caches on. */
static inline void fresh_dir(void) {
    snprintf(cache_dir, sizeof cache_dir, "/tmp/jx_t_cache_XXXXXX");
    if (!mkdtemp(cache_dir)) CHECK_FAIL_("mkdtemp failed");
    setenv("JX_CACHE_DIR", cache_dir, 1);
    unsetenv("JX_CACHE");
}

/* Number of entries in the cache directory whose name contains sub (NULL: all), removing
 * every entry (files, FIFOs, links, empty directories) when clear != 0. */
static inline int dir_count(const char *sub, int clear) {
    DIR *d = opendir(cache_dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        n += !sub || strstr(de->d_name, sub) != NULL;
        if (clear) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", cache_dir, de->d_name);
            if (unlink(p) < 0) rmdir(p);
        }
    }
    closedir(d);
    return n;
}

/* Number of entries in the cache directory (removing them when clear != 0). */
static inline int dir_files(int clear) {
    return dir_count(NULL, clear);
}

/* Removes the cache directory and its files. */
static inline void drop_dir(void) {
    chmod(cache_dir, 0700);
    dir_files(1);
    rmdir(cache_dir);
    unsetenv("JX_CACHE_DIR");
}

/* Size of a file (following links), or -1 if absent. */
static inline long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Writes len bytes to path (replacing it). */
static inline void put_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) CHECK_FAIL_("cannot write %s", path);
    if (f) fclose(f);
}

/* All of path as a NUL-terminated malloc'd string (*len: its size), or NULL. */
static inline char *get_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    long long size = file_size(path);
    char *buf = f && size >= 0 ? malloc((size_t)size + 1) : NULL;
    size_t n = buf ? fread(buf, 1, (size_t)size, f) : 0;
    if (f) fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* Number of times sub occurs in s. */
static inline int count_of(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s ? strstr(s, sub) : NULL; p; p = strstr(p + 1, sub)) n++;
    return n;
}

/* s with every line prefixed by "  | " (malloc'd; never NULL for the message), so that a
 * child's PASS/FAIL lines quoted in a failure are not counted as the parent's. */
static inline char *indented(const char *s) {
    size_t n = s ? strlen(s) : 0, k = 0;
    char *r = malloc(5 * n + 8);
    if (!r) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || s[i - 1] == '\n') k += (size_t)sprintf(r + k, "  | ");
        r[k++] = s[i];
    }
    r[k] = 0;
    return r;
}

/* Fails the case with what, quoting a child's stdout and stderr. */
#define CHILD_FAIL(what, out, err)                                                      \
    do {                                                                                \
        char *o_ = indented(out), *e_ = indented(err);                                  \
        CHECK_FAIL_("%s; child stdout:\n%s\n  child stderr:\n%s", what, o_ ? o_ : "",   \
                    e_ ? e_ : "");                                                      \
        free(o_);                                                                       \
        free(e_);                                                                       \
    } while (0)

/* A child process rerunning one case of this binary. */
typedef struct child {
    pid_t pid;
    int status;
    char out[64], err[64]; /* files holding its stdout and stderr */
} child;

/* Starts case `probe` of this binary in a child process (CHILD_ENV set, stdout and stderr
 * to temporary files, killed by SIGALRM after CHILD_LIMIT seconds). pre, if not NULL,
 * runs in the child just before exec (arg: its argument). 0, or -1 (case failed). */
static inline int child_start(child *c, const char *probe, void (*pre)(void *), void *arg) {
    c->status = -1;
    snprintf(c->out, sizeof c->out, "/tmp/jx_t_cache_out_XXXXXX");
    snprintf(c->err, sizeof c->err, "/tmp/jx_t_cache_err_XXXXXX");
    int fo = mkstemp(c->out), fe = mkstemp(c->err);
    fflush(stdout);
    setenv(CHILD_ENV, "1", 1);
    c->pid = fo >= 0 && fe >= 0 ? fork() : -1;
    if (c->pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        if (pre) pre(arg);
        alarm(CHILD_LIMIT);
        execl("/proc/self/exe", "t_cache_child", probe, (char *)NULL);
        _exit(127);
    }
    unsetenv(CHILD_ENV);
    if (fo >= 0) close(fo);
    if (fe >= 0) close(fe);
    if (c->pid < 0) CHECK_FAIL_("cannot start a child process");
    return c->pid < 0 ? -1 : 0;
}

/* Waits for c. Returns its stdout (malloc'd; the files are removed) and sets *err (if not
 * NULL) to its stderr. Fails the case if it hung. */
static inline char *child_wait(child *c, char **err) {
    if (c->pid > 0) waitpid(c->pid, &c->status, 0);
    if (c->pid > 0 && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGALRM)
        CHECK_FAIL_("child process hung (killed after %d s)", CHILD_LIMIT);
    char *out = get_file(c->out, NULL), *e = get_file(c->err, NULL);
    unlink(c->out);
    unlink(c->err);
    if (err) *err = e;
    else free(e);
    return out;
}

/* Runs probe in a child to its end; 1 if it exited 0 and passed (else fails the case).
 * *out and *err (if not NULL) receive its stdout and stderr (malloc'd). */
static inline int child_run(const char *probe, void (*pre)(void *), void *arg, char **out,
                            char **err) {
    child c;
    if (child_start(&c, probe, pre, arg) < 0) return 0;
    char *e = NULL, *o = child_wait(&c, &e), pass[128], what[160];
    snprintf(pass, sizeof pass, "PASS %s\n", probe);
    int ok = WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && o && strstr(o, pass);
    snprintf(what, sizeof what, "child %s failed (status %#x)", probe, (unsigned)c.status);
    if (!ok) CHILD_FAIL(what, o, e);
    if (err) *err = e;
    else free(e);
    if (out) *out = o;
    else free(o);
    return ok;
}

#endif
