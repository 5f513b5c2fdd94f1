/* The compile cache (src/jit/cache.c): in-memory sharing of compiled code, the on-disk
 * object cache (including a second process that must not compile), damaged cache files,
 * the off switches. Compiles are counted with jit_cache_get_stats, never timed. Every
 * jitted result is compared with jx_interp (tolerance 1e-5: GEMM and reduction order). */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "jit/cache.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* The test function: a GEMM, a bias, a constant row scaled by k and a reduction; m sets
 * the shapes. loc adds a source-location comment (which must not change the key). */
static jx_fn *make_fn(int m, double k, const char *loc) {
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

/* Runs e and the interpreter on the same deterministic inputs; 1 if all outputs agree. */
static int runs_right(jx_exe *e, const jx_fn *f) {
    jx_array *in[3] = {0}, *got[2] = {0}, *want[2] = {0};
    int ok = e != NULL;
    for (int i = 0; i < 3; i++) {
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
    for (int o = 0; ok && o < 2; o++)
        for (int64_t j = 0; j < jx_array_size(want[o]); j++)
            if (!check_near(jx_array_get(got[o], j), jx_array_get(want[o], j), 1e-5)) {
                CHECK_FAIL_("output %d element %lld: jit %g, interp %g", o, (long long)j,
                            jx_array_get(got[o], j), jx_array_get(want[o], j));
                ok = 0;
                break;
            }
    for (int i = 0; i < 3; i++) jx_array_free(in[i]);
    for (int o = 0; o < 2; o++) {
        jx_array_free(got[o]);
        jx_array_free(want[o]);
    }
    return ok;
}

static jit_cache_stats st0;

/* Starts counting (see since()). */
static void mark(void) {
    jit_cache_get_stats(&st0);
}

/* The counters since the last mark(). */
static jit_cache_stats since(void) {
    jit_cache_stats s;
    jit_cache_get_stats(&s);
    s.compiles -= st0.compiles;
    s.mem_hits -= st0.mem_hits;
    s.disk_hits -= st0.disk_hits;
    s.disk_writes -= st0.disk_writes;
    s.disk_rejects -= st0.disk_rejects;
    return s;
}

static char cache_dir[64];

/* Points JX_CACHE_DIR at a fresh empty directory, with both caches on. */
static void fresh_dir(void) {
    snprintf(cache_dir, sizeof cache_dir, "/tmp/jx_t_cache_XXXXXX");
    if (!mkdtemp(cache_dir)) CHECK_FAIL_("mkdtemp failed");
    setenv("JX_CACHE_DIR", cache_dir, 1);
    unsetenv("JX_CACHE");
}

/* Number of entries in the cache directory (removing them when clear != 0). */
static int dir_files(int clear) {
    DIR *d = opendir(cache_dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, ".."))) continue;
        n++;
        if (clear) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", cache_dir, de->d_name);
            unlink(p);
        }
    }
    closedir(d);
    return n;
}

/* Removes the cache directory and its files. */
static void drop_dir(void) {
    dir_files(1);
    rmdir(cache_dir);
    unsetenv("JX_CACHE_DIR");
}

/* Size of a file, or -1 if absent. */
static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Writes len bytes to path (replacing it). */
static void put_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) CHECK_FAIL_("cannot write %s", path);
    if (f) fclose(f);
}

/* ---- in memory ------------------------------------------------------------------------ */

TEST(same_ir_twice_compiles_once) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1"), *g = make_fn(4, 1, "elsewhere.c:99");
    mark();
    jx_exe *e1 = jx_jit(f, NULL), *e2 = jx_jit(g, NULL);
    jit_cache_stats s = since();
    CHECK(e1 && e2);
    CHECK(s.compiles == 1);
    CHECK(s.mem_hits == 1);
    CHECK(runs_right(e1, f));
    CHECK(runs_right(e2, g));
    jx_exe_free(e1); /* the shared code stays for e2 */
    CHECK(runs_right(e2, g));
    jx_exe_free(e2);
    jx_fn_free(f);
    jx_fn_free(g);
    drop_dir();
}

TEST(different_shapes_constants_donation_miss) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1"), *shape = make_fn(6, 1, "a.c:1"),
          *konst = make_fn(4, 2, "a.c:1");
    static const unsigned char donate[3] = {0, 0, 1};
    jx_jit_opts don = {.donate = donate};
    mark();
    jx_exe *e[4] = {jx_jit(f, NULL), jx_jit(shape, NULL), jx_jit(konst, NULL), jx_jit(f, &don)};
    jit_cache_stats s = since();
    CHECK(s.compiles == 4);
    CHECK(s.mem_hits == 0);
    CHECK(runs_right(e[0], f));
    CHECK(runs_right(e[1], shape));
    CHECK(runs_right(e[2], konst));
    CHECK(runs_right(e[3], f));
    CHECK(dir_files(0) == 4);
    for (int i = 0; i < 4; i++) jx_exe_free(e[i]);
    jx_fn_free(f);
    jx_fn_free(shape);
    jx_fn_free(konst);
    drop_dir();
}

TEST(jx_environment_is_part_of_the_key) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    mark();
    jx_exe *e1 = jx_jit(f, NULL);
    setenv("JX_T_CACHE_KNOB", "1", 1);
    jx_exe *e2 = jx_jit(f, NULL);
    unsetenv("JX_T_CACHE_KNOB");
    jx_exe *e3 = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(s.compiles == 2);
    CHECK(s.mem_hits == 1);
    CHECK(runs_right(e2, f));
    jx_exe_free(e1);
    jx_exe_free(e2);
    jx_exe_free(e3);
    jx_fn_free(f);
    drop_dir();
}

typedef struct par_job {
    const jx_fn *f;
    jx_exe *e;
} par_job;

/* Thread body: jits job->f. */
static void *par_jit(void *arg) {
    par_job *j = arg;
    j->e = jx_jit(j->f, NULL);
    return NULL;
}

TEST(concurrent_equal_requests_compile_once) {
    fresh_dir();
    jx_fn *f = make_fn(5, 3, "a.c:1");
    par_job jobs[4];
    pthread_t th[4];
    mark();
    for (int i = 0; i < 4; i++) {
        jobs[i] = (par_job){f, NULL};
        pthread_create(&th[i], NULL, par_jit, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    jit_cache_stats s = since();
    CHECK(s.compiles == 1);
    CHECK(s.mem_hits == 3);
    for (int i = 0; i < 4; i++) {
        CHECK(runs_right(jobs[i].e, f));
        jx_exe_free(jobs[i].e);
    }
    jx_fn_free(f);
    drop_dir();
}

TEST(inspection_compiles_beside_cached_code) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    mark();
    jx_exe *e = jx_jit(f, NULL), *k = jit_compile_keep(f, NULL);
    jit_cache_stats s = since();
    CHECK(e && k);
    CHECK(s.compiles == 2); /* the inspection path never uses the caches */
    char *ll = jit_exe_llvm(k, 0), *as = jit_exe_asm(k);
    CHECK_CONTAINS(ll, "define");
    CHECK(as && strlen(as) > 0);
    free(ll);
    free(as);
    CHECK(runs_right(e, f));
    CHECK(runs_right(k, f));
    jx_exe_free(k);
    jx_exe_free(e);
    jx_fn_free(f);
    drop_dir();
}

/* ---- on disk -------------------------------------------------------------------------- */

TEST(disk_hit_in_the_same_process) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    CHECK(strstr(path, cache_dir) == path);
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(s.compiles == 1 && s.disk_writes == 1 && s.disk_hits == 0);
    CHECK(file_size(path) > 72);
    CHECK(dir_files(0) == 1); /* no temporary left behind */
    jx_exe_free(e);
    mark();
    e = jx_jit(f, NULL);
    s = since();
    CHECK(s.compiles == 0 && s.disk_hits == 1 && s.mem_hits == 0);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    jx_fn_free(f);
    drop_dir();
}

/* Set in the child process started by disk_hit_in_a_child_process. */
#define CHILD_ENV "T_CACHE_CHILD"

/* In a child (CHILD_ENV set): the jit of the parent's function must be a disk hit. */
TEST(disk_child_probe) {
    if (!getenv(CHILD_ENV)) return;
    jx_fn *f = make_fn(7, 5, "child.c:1");
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(s.compiles == 0);
    CHECK(s.disk_hits == 1);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST(disk_hit_in_a_child_process) {
    if (getenv(CHILD_ENV)) return;
    fresh_dir();
    jx_fn *f = make_fn(7, 5, "parent.c:1");
    char path[4300], self[4096], cmd[4300 + 64], line[256];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    mark();
    jx_exe *e = jx_jit(f, NULL);
    CHECK(since().compiles == 1);
    CHECK(file_size(path) > 72);
    jx_exe_free(e);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    if (n > 0) {
        self[n] = 0;
        snprintf(cmd, sizeof cmd, "'%s' disk_child_probe 2>&1", self);
        setenv(CHILD_ENV, "1", 1);
        FILE *p = popen(cmd, "r");
        unsetenv(CHILD_ENV);
        int passed = 0;
        char last[256] = "";
        while (p && fgets(line, sizeof line, p)) {
            passed |= !strncmp(line, "PASS disk_child_probe", 21);
            snprintf(last, sizeof last, "%s", line);
        }
        int status = p ? pclose(p) : -1;
        CHECK(p != NULL);
        if (!passed || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            CHECK_FAIL_("child process: status %d, last line: %s", status, last);
    }
    jx_fn_free(f);
    drop_dir();
}

/* Damages the cache file of f in one of several ways and checks the next jit recompiles,
 * runs right, and leaves a good file behind (a third jit is a disk hit). */
static void damage_case(int how) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1"), *other = make_fn(3, 1, "a.c:1");
    char path[4300], opath[4300];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    CHECK(jit_cache_path(other, NULL, opath, sizeof opath) == 0);
    jx_exe_free(jx_jit(f, NULL));
    jx_exe_free(jx_jit(other, NULL));
    long long size = file_size(path);
    CHECK(size > 72);
    FILE *fp = fopen(path, "rb");
    char *buf = calloc((size_t)(size > 0 ? size : 1), 1);
    if (fp && buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) CHECK_FAIL_("short read");
    if (fp) fclose(fp);
    switch (how) {
    case 0: put_file(path, buf, (size_t)size / 2); break;            /* truncated */
    case 1: put_file(path, "", 0); break;                             /* empty */
    case 2: put_file(path, "garbage, not an object", 22); break;      /* garbage */
    case 3: buf[size - 1] ^= 0x5a; put_file(path, buf, (size_t)size); break; /* bit flip */
    case 4: buf[9] ^= 1; put_file(path, buf, (size_t)size); break;   /* format version */
    default: {                                                        /* another key's file */
        FILE *o = fopen(opath, "rb");
        char other_buf[1 << 16];
        size_t on = o ? fread(other_buf, 1, sizeof other_buf, o) : 0;
        if (o) fclose(o);
        put_file(path, other_buf, on);
    }
    }
    free(buf);
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(e != NULL);
    CHECK(s.disk_rejects == 1 && s.compiles == 1 && s.disk_hits == 0 && s.disk_writes == 1);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    mark();
    e = jx_jit(f, NULL);
    s = since();
    CHECK(s.disk_hits == 1 && s.compiles == 0);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    jx_fn_free(f);
    jx_fn_free(other);
    drop_dir();
}

TEST(damaged_file_truncated) {
    damage_case(0);
}
TEST(damaged_file_empty) {
    damage_case(1);
}
TEST(damaged_file_garbage) {
    damage_case(2);
}
TEST(damaged_file_object_bit_flip) {
    damage_case(3);
}
TEST(damaged_file_format_version) {
    damage_case(4);
}
TEST(damaged_file_from_another_key) {
    damage_case(5);
}

TEST(unwritable_cache_dir_still_compiles) {
    fresh_dir();
    char sub[128];
    snprintf(sub, sizeof sub, "%s/file", cache_dir);
    put_file(sub, "x", 1);
    setenv("JX_CACHE_DIR", sub, 1); /* a regular file where the directory should be */
    jx_fn *f = make_fn(4, 1, "a.c:1");
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(e != NULL && s.compiles == 1 && s.disk_writes == 0);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    jx_fn_free(f);
    setenv("JX_CACHE_DIR", cache_dir, 1);
    drop_dir();
}

/* Sets the modification time of path to t seconds after the epoch. */
static void set_mtime(const char *path, long t) {
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    if (utimensat(AT_FDCWD, path, ts, 0) < 0) CHECK_FAIL_("utimensat %s", path);
}

TEST(trim_removes_least_recently_used) {
    fresh_dir();
    jx_fn *f[4];
    char path[4][4300], stale[200], live[200];
    long long size[4], total = 0;
    for (int i = 0; i < 4; i++) {
        f[i] = make_fn(2 + i, 1, "a.c:1");
        CHECK(jit_cache_path(f[i], NULL, path[i], sizeof path[i]) == 0);
        jx_exe_free(jx_jit(f[i], NULL));
        set_mtime(path[i], 1000000 + 100 * i);
        total += size[i] = file_size(path[i]);
    }
    mark();
    jx_exe_free(jx_jit(f[1], NULL)); /* a disk hit makes f[1] the most recently used */
    CHECK(since().disk_hits == 1);
    snprintf(stale, sizeof stale, "%s/dead.jxo.1.0.tmp", cache_dir);
    snprintf(live, sizeof live, "%s/busy.jxo.2.0.tmp", cache_dir);
    put_file(stale, "x", 1);
    put_file(live, "x", 1);
    set_mtime(stale, 1000000);
    /* the budget holds 90% of the files; trimming goes down to 75% of it, oldest first:
     * f[0], then f[2], f[3] (f[1] was used last) */
    double max = 0.9 * (double)total;
    static const int order[4] = {0, 2, 3, 1};
    int gone[4] = {0}, want_removed = 1;
    for (int k = 0; k < 4 && (double)total > 0.75 * max; k++) {
        gone[order[k]] = 1;
        total -= size[order[k]];
        want_removed++;
    }
    CHECK(want_removed >= 2);
    CHECK(jit_cache_trim(cache_dir, max / 1048576.0) == want_removed);
    for (int i = 0; i < 4; i++) CHECK((file_size(path[i]) < 0) == gone[i]);
    CHECK(file_size(stale) < 0);
    CHECK(file_size(live) == 1);
    CHECK(jit_cache_trim(cache_dir, 512) == 0);
    CHECK(jit_cache_trim("/nonexistent/jx/cache", 1) == 0);
    for (int i = 0; i < 4; i++) jx_fn_free(f[i]);
    drop_dir();
}

/* ---- off switches --------------------------------------------------------------------- */

TEST(jx_cache_0_turns_both_caches_off) {
    fresh_dir();
    setenv("JX_CACHE", "0", 1);
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) < 0);
    CHECK_CONTAINS(jx_error(), "off");
    mark();
    jx_exe *e1 = jx_jit(f, NULL), *e2 = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(s.compiles == 2 && s.mem_hits == 0 && s.disk_writes == 0);
    CHECK(dir_files(0) == 0);
    CHECK(runs_right(e1, f));
    CHECK(runs_right(e2, f));
    jx_exe_free(e1);
    jx_exe_free(e2);
    jx_fn_free(f);
    unsetenv("JX_CACHE");
    drop_dir();
}

TEST(no_disk_cache_option) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    jx_jit_opts o = {.no_disk_cache = 1};
    char path[4300];
    CHECK(jit_cache_path(f, &o, path, sizeof path) < 0);
    mark();
    jx_exe *e1 = jx_jit(f, &o), *e2 = jx_jit(f, &o);
    jit_cache_stats s = since();
    CHECK(s.compiles == 1 && s.mem_hits == 1 && s.disk_writes == 0 && s.disk_hits == 0);
    CHECK(dir_files(0) == 0);
    jx_exe_free(e1);
    jx_exe_free(e2);
    mark();
    e1 = jx_jit(f, &o); /* nothing on disk: compiles again */
    CHECK(since().compiles == 1);
    CHECK(runs_right(e1, f));
    jx_exe_free(e1);
    jx_fn_free(f);
    drop_dir();
}

TEST_MAIN()
