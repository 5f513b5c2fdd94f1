/* Faults of the on-disk compile cache (src/jit/cache_disk.c): damaged entries (every
 * header field, the object, truncation, an empty file), non-regular files in place of an
 * entry (FIFO, directory, symlinks), a read-only directory, JX_CACHE_DIR naming a file,
 * two processes compiling the same functions at once, and writers killed mid-write. Each
 * case checks that the results stay right, that a damaged entry is a miss which the
 * recompile replaces with a good one, and that an unusable directory is reported once.
 * Cases that could hang or that print warnings run in a child process (cachecheck.h). */
#define _DEFAULT_SOURCE /* setgroups */
#include <grp.h>

#include "cachecheck.h"

/* ---- the probe: jits run in a child process ------------------------------------------ */

/* Drops root (to nobody) so that directory permissions apply; fails the case if that is
 * impossible. */
static void drop_root(void) {
    if (geteuid() != 0) return;
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
        CHECK_FAIL_("cannot drop root privileges: %s", strerror(errno));
}

/* In a child: T_CACHE_JITS lists functions "m,k m,k ..." (make_fn); jits each one, runs
 * it against the interpreter, frees it, and prints "jit m,k: c=compiles h=disk hits
 * r=rejects w=writes" per jit. T_CACHE_DROP=1: drop root first; T_CACHE_RO names a
 * directory that must then be unwritable. */
TEST(child_jits) {
    if (!getenv(CHILD_ENV)) return;
    const char *list = getenv("T_CACHE_JITS"), *ro = getenv("T_CACHE_RO");
    if (getenv("T_CACHE_DROP")) drop_root();
    if (ro && access(ro, W_OK) == 0) CHECK_FAIL_("%s is writable", ro);
    for (const char *p = list ? list : ""; *p;) {
        int m, k, used;
        if (sscanf(p, " %d,%d%n", &m, &k, &used) != 2) break;
        p += used;
        jx_fn *f = make_fn(m, k, "child.c:1");
        mark();
        jx_exe *e = jx_jit(f, NULL);
        jit_cache_stats s = since();
        if (!e) CHECK_FAIL_("jx_jit %d,%d: %s", m, k, jx_error());
        CHECK(runs_right(e, f));
        printf("jit %d,%d: c=%ld h=%ld r=%ld w=%ld\n", m, k, s.compiles, s.disk_hits,
               s.disk_rejects, s.disk_writes);
        jx_exe_free(e);
        jx_fn_free(f);
    }
}

/* Runs child_jits on list (with pre before exec) and checks its output contains want and
 * its stderr has `warnings` lines "jx: warning", each containing the strings of
 * warn_has (NULL-terminated). */
static void check_child(const char *list, void (*pre)(void *), void *arg, const char *want,
                        int warnings, const char *const *warn_has) {
    char *out = NULL, *err = NULL;
    setenv("T_CACHE_JITS", list, 1);
    child_run("child_jits", pre, arg, &out, &err);
    unsetenv("T_CACHE_JITS");
    char what[256];
    if (!out || !strstr(out, want)) CHILD_FAIL("unexpected cache counters", out, err);
    snprintf(what, sizeof what, "%d warning(s) expected", warnings);
    if (count_of(err, "jx: warning") != warnings) CHILD_FAIL(what, out, err);
    for (int i = 0; warnings && warn_has && warn_has[i]; i++)
        if (!strstr(err, warn_has[i])) {
            snprintf(what, sizeof what, "the warning does not name \"%s\"", warn_has[i]);
            CHILD_FAIL(what, out, err);
        }
    free(out);
    free(err);
}

/* ---- damaged entries ------------------------------------------------------------------ */

/* Compiles f (and keeps its entry's bytes), lets damage() spoil the entry, then checks the
 * next jit rejects it, recompiles, runs right, and leaves a good entry (a disk hit). */
static void damage_case(void (*damage)(const char *path, char *buf, size_t len, int arg),
                        int arg) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300];
    size_t len = 0;
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    jx_exe_free(jx_jit(f, NULL));
    char *buf = get_file(path, &len);
    CHECK(buf && len > 72);
    if (buf && len > 72) damage(path, buf, len, arg);
    free(buf);
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(e != NULL);
    if (s.disk_rejects != 1 || s.compiles != 1 || s.disk_hits != 0 || s.disk_writes != 1)
        CHECK_FAIL_("damage %d: rejects %ld compiles %ld hits %ld writes %ld", arg,
                    s.disk_rejects, s.compiles, s.disk_hits, s.disk_writes);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    mark();
    e = jx_jit(f, NULL);
    s = since();
    CHECK(s.disk_hits == 1 && s.compiles == 0);
    CHECK(runs_right(e, f));
    CHECK(dir_files(0) == 1);
    jx_exe_free(e);
    jx_fn_free(f);
    drop_dir();
}

/* Damages: flips byte `at` (negative: from the end; 1000: the middle of the object). */
static void flip_byte(const char *path, char *buf, size_t len, int at) {
    size_t obj = 72 + 35; /* header, then the entry name "jx_<32 hex>" */
    size_t i = at == 1000 ? obj + (len - obj) / 2 : at < 0 ? len - (size_t)-at : (size_t)at;
    buf[i] ^= 0x5a;
    put_file(path, buf, len);
}

/* Damages: keeps the first n bytes (n < 0: all but -n). */
static void truncate_to(const char *path, char *buf, size_t len, int n) {
    put_file(path, buf, n < 0 ? len - (size_t)-n : (size_t)n);
}

/* Damages: replaces the entry with the entry of another function. */
static void other_entry(const char *path, char *buf, size_t len, int arg) {
    jx_fn *g = make_fn(3, 1, "a.c:1");
    char gpath[4300];
    size_t glen = 0;
    CHECK(jit_cache_path(g, NULL, gpath, sizeof gpath) == 0);
    jx_exe_free(jx_jit(g, NULL));
    char *gbuf = get_file(gpath, &glen);
    put_file(path, gbuf ? gbuf : "", glen);
    unlink(gpath);
    free(gbuf);
    jx_fn_free(g);
}

TEST(damaged_header_fields) {
    /* magic, format, name length, key, plan hash, object hash, object length, entry name */
    static const int at[] = {0, 7, 8, 11, 12, 16, 31, 32, 47, 48, 63, 64, 68, 71, 72, 106};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) damage_case(flip_byte, at[i]);
}
TEST(damaged_object_middle_and_end) {
    damage_case(flip_byte, 1000);
    damage_case(flip_byte, -1);
}
TEST(damaged_truncated) {
    damage_case(truncate_to, 40);     /* inside the header */
    damage_case(truncate_to, 72 + 20); /* inside the name */
    damage_case(truncate_to, -1);     /* one byte short */
}
TEST(damaged_empty) {
    damage_case(truncate_to, 0);
}
TEST(damaged_entry_of_another_function) {
    damage_case(other_entry, 0);
}

/* ---- a killed writer ------------------------------------------------------------------ */

TEST(partial_temporary_and_partial_entry) {
    /* what a writer that wrote in place and one that died before its rename leave */
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300], tmp[4400];
    size_t len = 0;
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    jx_exe_free(jx_jit(f, NULL));
    char *buf = get_file(path, &len);
    CHECK(buf && len > 72);
    snprintf(tmp, sizeof tmp, "%s.%d.0.tmp", path, 99999);
    put_file(tmp, buf, len / 2);
    put_file(path, buf, len / 3);
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(s.disk_rejects == 1 && s.compiles == 1 && s.disk_writes == 1);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    mark();
    e = jx_jit(f, NULL);
    CHECK(since().disk_hits == 1);
    CHECK(runs_right(e, f));
    CHECK(file_size(tmp) == (long long)(len / 2)); /* jit_cache_trim removes it in an hour */
    jx_exe_free(e);
    free(buf);
    jx_fn_free(f);
    drop_dir();
}

/* Before exec: limits files to *(long *)arg bytes, so the child's write of its entry
 * stops halfway and SIGXFSZ kills it (no core dump). */
static void limit_file_size(void *arg) {
    struct rlimit fs = {(rlim_t) * (long *)arg, (rlim_t) * (long *)arg}, core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    setrlimit(RLIMIT_FSIZE, &fs);
    signal(SIGXFSZ, SIG_DFL);
}

TEST(writer_killed_mid_write) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    jx_exe_free(jx_jit(f, NULL));
    long half = (long)file_size(path) / 2;
    CHECK(half > 36);
    dir_files(1);
    child c;
    setenv("T_CACHE_JITS", "4,1", 1);
    if (child_start(&c, "child_jits", limit_file_size, &half) == 0) free(child_wait(&c, NULL));
    unsetenv("T_CACHE_JITS");
    if (!WIFSIGNALED(c.status) || WTERMSIG(c.status) != SIGXFSZ)
        CHECK_FAIL_("the child was not killed by SIGXFSZ (status %#x)", c.status);
    CHECK(dir_count(".tmp", 0) == 1); /* its partial temporary */
    mark();
    jx_exe *e = jx_jit(f, NULL);
    jit_cache_stats s = since();
    CHECK(s.disk_rejects == 0); /* readers never see a partial entry */
    CHECK(s.compiles == 1 && s.disk_writes == 1);
    CHECK(runs_right(e, f));
    jx_exe_free(e);
    mark();
    e = jx_jit(f, NULL);
    CHECK(since().disk_hits == 1);
    jx_exe_free(e);
    jx_fn_free(f);
    drop_dir();
}

/* Before exec: leaves the temporary that a killed writer with the child's process id (a
 * reused pid) and the first sequence number would have left, at *(char **)arg. */
static void stale_temporary_of_this_pid(void *arg) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.%ld.0.tmp", *(char **)arg, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0 && write(fd, "JXOBJ", 5) == 5) close(fd);
}

TEST(temporary_left_by_a_dead_writer_with_the_same_pid) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300], *p = path;
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    check_child("4,1 4,1", stale_temporary_of_this_pid, &p,
                "jit 4,1: c=1 h=0 r=0 w=1\njit 4,1: c=0 h=1 r=0 w=0\n", 0, NULL);
    jx_fn_free(f);
    drop_dir();
}

/* ---- non-regular files in place of an entry ------------------------------------------- */

/* Puts a non-regular file at the entry of make_fn(4, 1), runs child_jits "4,1 4,1" and
 * checks the first jit is a rejected miss; the second is a hit when the store could
 * replace the file (second_hit), else another compile. */
static void nonregular_case(const char *kind, int second_hit) {
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300], fifo[4400];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    snprintf(fifo, sizeof fifo, "%s/a_fifo", cache_dir);
    int rc = 0;
    if (!strcmp(kind, "fifo")) rc = mkfifo(path, 0600);
    else if (!strcmp(kind, "dir")) rc = mkdir(path, 0700);
    else if (!strcmp(kind, "zero")) rc = symlink("/dev/zero", path);
    else if (!strcmp(kind, "fifo_link")) rc = mkfifo(fifo, 0600) || symlink(fifo, path);
    CHECK(rc == 0);
    const char *want = second_hit ? "jit 4,1: c=1 h=0 r=1 w=1\njit 4,1: c=0 h=1 r=0 w=0\n"
                                  : "jit 4,1: c=1 h=0 r=1 w=0\njit 4,1: c=1 h=0 r=1 w=0\n";
    const char *has[] = {path, "Is a directory", NULL};
    check_child("4,1 4,1", NULL, NULL, want, !second_hit, has);
    jx_fn_free(f);
    drop_dir();
}

TEST(fifo_in_place_of_an_entry) {
    nonregular_case("fifo", 1);
}
TEST(symlink_to_a_fifo_in_place_of_an_entry) {
    nonregular_case("fifo_link", 1);
}
TEST(symlink_to_dev_zero_in_place_of_an_entry) {
    nonregular_case("zero", 1);
}
TEST(directory_in_place_of_an_entry) {
    nonregular_case("dir", 0);
}

/* ---- unusable directories ------------------------------------------------------------- */

TEST(read_only_directory) {
    /* an entry already there is used; new code is compiled each time, with one warning */
    fresh_dir();
    jx_fn *f = make_fn(4, 1, "a.c:1");
    char path[4300];
    CHECK(jit_cache_path(f, NULL, path, sizeof path) == 0);
    jx_exe_free(jx_jit(f, NULL));
    CHECK(chmod(path, 0644) == 0 && chmod(cache_dir, 0555) == 0);
    setenv("T_CACHE_DROP", "1", 1);
    setenv("T_CACHE_RO", cache_dir, 1);
    const char *has[] = {cache_dir, strerror(EACCES), NULL};
    check_child("4,1 5,1 5,1 6,1", NULL, NULL,
                "jit 4,1: c=0 h=1 r=0 w=0\njit 5,1: c=1 h=0 r=0 w=0\n"
                "jit 5,1: c=1 h=0 r=0 w=0\njit 6,1: c=1 h=0 r=0 w=0\n",
                1, has);
    unsetenv("T_CACHE_DROP");
    unsetenv("T_CACHE_RO");
    CHECK(dir_files(0) == 1);
    jx_fn_free(f);
    drop_dir();
}

TEST(cache_dir_is_a_regular_file) {
    fresh_dir();
    char file[128], below[160];
    snprintf(file, sizeof file, "%s/file", cache_dir);
    snprintf(below, sizeof below, "%s/sub", file);
    put_file(file, "x", 1);
    const char *has[] = {file, strerror(ENOTDIR), NULL};
    setenv("JX_CACHE_DIR", file, 1);
    check_child("4,1 4,1 5,1", NULL, NULL,
                "jit 4,1: c=1 h=0 r=0 w=0\njit 4,1: c=1 h=0 r=0 w=0\njit 5,1: c=1 h=0 r=0 w=0\n",
                1, has);
    setenv("JX_CACHE_DIR", below, 1); /* a path through a file */
    check_child("4,1", NULL, NULL, "jit 4,1: c=1 h=0 r=0 w=0\n", 1, has);
    setenv("JX_CACHE_DIR", cache_dir, 1);
    CHECK(file_size(file) == 1);
    drop_dir();
}

/* ---- concurrent processes ------------------------------------------------------------- */

TEST(two_processes_compile_the_same_functions) {
    /* both compile and store the same 24 keys at the same time (in step, as both start
     * together), each key twice: the second jit reads the entry while the other process
     * may be replacing it */
    enum { N = 24 };
    fresh_dir();
    char list[N * 16] = "";
    for (int i = 0; i < N; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "4,%d 4,%d ", 10 + i, 10 + i);
    setenv("T_CACHE_JITS", list, 1);
    child c[2];
    int started[2];
    for (int i = 0; i < 2; i++) started[i] = child_start(&c[i], "child_jits", NULL, NULL) == 0;
    unsetenv("T_CACHE_JITS");
    for (int i = 0; i < 2; i++) {
        char *err = NULL, *out = started[i] ? child_wait(&c[i], &err) : NULL;
        int ok = out && WIFEXITED(c[i].status) && WEXITSTATUS(c[i].status) == 0;
        if (!ok || !strstr(out, "PASS child_jits") || count_of(out, "jit 4,") != 2 * N ||
            count_of(out, " r=0 ") != 2 * N || (err && *err))
            CHILD_FAIL(i ? "child 1 failed" : "child 0 failed", out, err);
        free(out);
        free(err);
    }
    CHECK(dir_files(0) == N); /* one entry per key, no temporary left */
    mark();
    for (int i = 0; i < N; i++) {
        jx_fn *f = make_fn(4, 10 + i, "a.c:1");
        jx_exe *e = jx_jit(f, NULL);
        CHECK(runs_right(e, f));
        jx_exe_free(e);
        jx_fn_free(f);
    }
    jit_cache_stats s = since();
    CHECK(s.disk_hits == N && s.compiles == 0 && s.disk_rejects == 0);
    drop_dir();
}

TEST_MAIN()
