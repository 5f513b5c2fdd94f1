/* The compile cache (src/jit/cache.c): in-memory sharing of compiled code, the key (what
 * is in it, what is not: the thread count), the on-disk object cache (including a second
 * process that must not compile), trimming, the off switches. Damaged and non-regular
 * cache files, unusable directories and concurrent processes are in t_cache_faults.c.
 * Compiles are counted with jit_cache_get_stats, never timed. Every jitted result is
 * compared with jx_interp. */
#include <pthread.h>

#include "cachecheck.h"

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

/* The thread count is an argument of the compiled code at each call (exe.c), never a
 * constant in it: executables with different thread counts, from jx_jit_opts or from
 * JX_NUM_THREADS, share one compiled code and one disk entry. */
TEST(thread_count_is_not_part_of_the_key) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    jx_jit_opts one = {.n_threads = 1}, three = {.n_threads = 3};
    char p1[4300], p3[4300], pe1[4300], pe3[4300];
    CHECK(jit_cache_path(f, &one, p1, sizeof p1) == 0);
    CHECK(jit_cache_path(f, &three, p3, sizeof p3) == 0);
    mark();
    jx_exe *e[4] = {jx_jit(f, &one), jx_jit(f, &three)};
    const char *saved = getenv("JX_NUM_THREADS");
    char keep[64];
    snprintf(keep, sizeof keep, "%s", saved ? saved : "");
    setenv("JX_NUM_THREADS", "1", 1);
    CHECK(jit_cache_path(f, NULL, pe1, sizeof pe1) == 0);
    e[2] = jx_jit(f, NULL);
    setenv("JX_NUM_THREADS", "3", 1);
    CHECK(jit_cache_path(f, NULL, pe3, sizeof pe3) == 0);
    e[3] = jx_jit(f, NULL);
    if (saved) setenv("JX_NUM_THREADS", keep, 1);
    else unsetenv("JX_NUM_THREADS");
    jit_cache_stats s = since();
    CHECK(s.compiles == 1);
    CHECK(s.mem_hits == 3);
    CHECK(!strcmp(p1, p3) && !strcmp(p1, pe1) && !strcmp(p1, pe3));
    for (int i = 0; i < 4; i++) {
        CHECK(runs_right(e[i], f));
        jx_exe_free(e[i]);
    }
    jx_fn_free(f);
    drop_dir();
}

/* A kernel big enough to run on the thread pool (over 2^18 elements) gives the same
 * results from one shared code with 1 and 4 threads. */
TEST(shared_code_runs_right_with_any_thread_count) {
    fresh_dir();
    jx_fn *f = jx_fn_parse("{ lambda ; x:f32[512,640] y:f32[640]. let\n"
                           "    yy:f32[512,640] = broadcast_in_dim[shape=(512,640) "
                           "broadcast_dimensions=(1)] y\n"
                           "    t:f32[512,640] = tanh x\n"
                           "    u:f32[512,640] = mul t yy\n"
                           "    s:f32[512] = reduce_sum[axes=(1)] u\n"
                           "  in (u, s) }\n");
    CHECK(f != NULL);
    jx_jit_opts one = {.n_threads = 1}, four = {.n_threads = 4};
    mark();
    jx_exe *e1 = f ? jx_jit(f, &one) : NULL, *e4 = f ? jx_jit(f, &four) : NULL;
    jit_cache_stats s = since();
    CHECK(s.compiles == 1 && s.mem_hits == 1);
    CHECK(f && runs_right(e1, f));
    CHECK(f && runs_right(e4, f));
    jx_exe_free(e1);
    jx_exe_free(e4);
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

/* In a child (CHILD_ENV set): the jit of the parent's function must be a disk hit. */
TEST(child_disk_hit) {
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
    char path[4300];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    mark();
    jx_exe *e = jx_jit(f, NULL);
    CHECK(since().compiles == 1);
    CHECK(file_size(path) > 72);
    jx_exe_free(e);
    child_run("child_disk_hit", NULL, NULL, NULL, NULL);
    jx_fn_free(f);
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
