/* The on-disk half of the compile cache (see cache.h): one file per key,
 * <dir>/<32 hex>.jxo, written to a unique temporary file (<entry>.XXXXXX.tmp) and renamed,
 * so that readers, concurrent writers included, only ever see complete entries; a writer
 * that dies leaves its temporary, which jit_cache_trim removes after an hour.
 * Layout (native byte order; the key pins the host):
 *   0  magic "JXOBJ\r\n\032"   8  u32 format   12 u32 name length
 *   16 key[16]   32 plan hash[16]   48 object hash[16]   64 u64 object length
 *   72 entry name, then the object file.
 * Every byte is checked before use: the header fields must match the request (the plan
 * hash guards the memory layout the object was compiled for), the file's size must be
 * the header's, the name must match and the object must hash to the header's 128-bit hash.
 * Anything else, and anything that is not a regular file (opened without following a
 * link, without blocking on a FIFO), is a miss; the recompile then replaces it. A hit
 * refreshes the file's modification time, which jit_cache_trim uses as its LRU order. The
 * directory is created 0700: it holds code that will be executed. A directory that cannot
 * be written (read-only, or a file) is reported once per process on stderr. */
#define _GNU_SOURCE /* mkostemps */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jit/cache.h"
#include "core/util.h"

enum { JCD_HDR = 72 };
static const char jcd_magic[8] = {'J', 'X', 'O', 'B', 'J', '\r', '\n', '\032'};
static pthread_mutex_t jcd_mu = PTHREAD_MUTEX_INITIALIZER;

/* See cache.h. */
int jcd_dir(const jx_jit_opts *opts, char *buf, size_t len) {
    if ((opts && opts->no_disk_cache) || jc_env_zero("JX_CACHE") || !jc_build_known()) return -1;
    const char *d = getenv("JX_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (d && *d) n = snprintf(buf, len, "%s", d);
    else if (x && x[0] == '/') n = snprintf(buf, len, "%s/jx", x);
    else if (home && *home) n = snprintf(buf, len, "%s/.cache/jx", home);
    else return -1;
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* The cache file of key in dir into buf; 0 or -1 if it does not fit. */
static int jcd_file(const char *dir, const unsigned char key[16], char *buf, size_t len) {
    char hex[33];
    jc_hex(key, hex);
    int n = snprintf(buf, len, "%s/%s.jxo", dir, hex);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* See cache.h. */
int jit_cache_path(const jx_fn *f, const jx_jit_opts *opts, char *buf, size_t len) {
    char dir[4096];
    unsigned char key[16];
    if (!f) return util_err("jit_cache_path: NULL function");
    if (jcd_dir(opts, dir, sizeof dir) < 0) return util_err("jit cache: the disk cache is off");
    if (jc_key(f, opts, key) < 0) return -1;
    if (jcd_file(dir, key, buf, len) < 0) return util_err("jit cache: path too long");
    return 0;
}

/* Warns once per process on stderr that the disk cache cannot be written: what failed,
 * on which path, and why (err). Compiling goes on without the disk cache. */
static void jcd_warn(const char *what, const char *path, int err) {
    static int warned;
    pthread_mutex_lock(&jcd_mu);
    if (!warned)
        fprintf(stderr,
                "jx: warning: compile cache: cannot %s %s: %s; compiled code is not cached on "
                "disk (JX_CACHE_DIR sets the directory, JX_CACHE=0 turns the cache off)\n",
                what, path, strerror(err));
    warned = 1;
    pthread_mutex_unlock(&jcd_mu);
}

/* Hash of a plan's text (the memory layout an object depends on); -1 on OOM. */
static int jcd_plan_hash(const jit_plan *p, unsigned char out[16]) {
    char *s = jit_plan_str(p);
    if (!s) return -1;
    jc_hash h = jc_hash_new();
    jc_str(&h, s);
    free(s);
    jc_digest(&h, out);
    return 0;
}

/* Hash of an object's bytes. */
static void jcd_obj_hash(const void *obj, size_t len, unsigned char out[16]) {
    jc_hash h = jc_hash_new();
    jc_bytes(&h, obj, len);
    jc_digest(&h, out);
}

/* Opens path for reading if it is a regular file of a plausible size (a header, under
 * 1 GiB), without following a symbolic link or blocking on a FIFO. The descriptor, with
 * *size set; or -1 with *absent = 1 if nothing is there, else *absent = 0. */
static int jcd_open(const char *path, off_t *size, int *absent) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    *absent = fd < 0 && (errno == ENOENT || errno == ENOTDIR);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < JCD_HDR ||
        st.st_size >= (off_t)1 << 30) {
        close(fd);
        return -1;
    }
    *size = st.st_size;
    return fd;
}

/* Reads exactly len bytes from fd into buf; 0, or -1 (error or end of file). */
static int jcd_read_all(int fd, void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* 1 if hdr is the header of c's entry named with nlen bytes in a file of size bytes
 * (setting *olen, the object's length), else 0. */
static int jcd_header_ok(const unsigned char *hdr, const jit_code *c, size_t nlen, off_t size,
                         uint64_t *olen) {
    unsigned char ph[16];
    uint32_t fmt, hn;
    memcpy(&fmt, hdr + 8, 4);
    memcpy(&hn, hdr + 12, 4);
    memcpy(olen, hdr + 64, 8);
    return !memcmp(hdr, jcd_magic, 8) && fmt == JC_FORMAT && hn == nlen &&
           (uint64_t)size >= JCD_HDR + nlen && *olen == (uint64_t)size - JCD_HDR - nlen &&
           !memcmp(hdr + 16, c->key, 16) && jcd_plan_hash(c->plan, ph) == 0 && !memcmp(hdr + 32, ph, 16);
}

/* See cache.h. */
int jcd_load(jit_code *c, const char *dir, const char *name) {
    char path[4200];
    unsigned char hdr[JCD_HDR], h[16], *rest = NULL;
    size_t nlen = strlen(name);
    uint64_t olen = 0;
    off_t size = 0;
    int absent;
    if (jcd_file(dir, c->key, path, sizeof path) < 0) return 0;
    int fd = jcd_open(path, &size, &absent);
    if (fd < 0) return absent ? 0 : -1;
    int ok = jcd_read_all(fd, hdr, JCD_HDR) == 0 && jcd_header_ok(hdr, c, nlen, size, &olen) &&
             (rest = malloc(nlen + (size_t)olen + 1)) != NULL &&
             jcd_read_all(fd, rest, nlen + (size_t)olen) == 0 && !memcmp(rest, name, nlen);
    if (ok) {
        jcd_obj_hash(rest + nlen, (size_t)olen, h);
        ok = !memcmp(hdr + 48, h, 16);
    }
    if (ok) ok = orc_load(rest + nlen, (size_t)olen, name, &c->entry, &c->tracker) == 0;
    if (ok) futimens(fd, NULL); /* recently used (fails quietly in a read-only directory) */
    close(fd);
    free(rest);
    return ok ? 1 : -1;
}

/* Writes all of buf to fd; 0 or -1 with errno. */
static int jcd_write_all(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w == 0) errno = EIO;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* JX_CACHE_MAX_MB, or 512. */
static double jcd_max_mb(void) {
    const char *v = getenv("JX_CACHE_MAX_MB");
    char *end;
    double mb = v ? strtod(v, &end) : 0;
    return v && end != v && mb > 0 ? mb : 512;
}

/* The header of c's entry named name holding o into hdr; 0 or -1 (out of memory). */
static int jcd_header(const jit_code *c, const char *name, const jit_obj *o,
                      unsigned char hdr[JCD_HDR]) {
    uint32_t fmt = JC_FORMAT, nlen = (uint32_t)strlen(name);
    uint64_t olen = o->len;
    memcpy(hdr, jcd_magic, 8);
    memcpy(hdr + 8, &fmt, 4);
    memcpy(hdr + 12, &nlen, 4);
    memcpy(hdr + 16, c->key, 16);
    jcd_obj_hash(o->data, o->len, hdr + 48);
    memcpy(hdr + 64, &olen, 8);
    return jcd_plan_hash(c->plan, hdr + 32);
}

/* See cache.h. */
int jcd_store(const jit_code *c, const char *dir, const char *name, const jit_obj *o) {
    static unsigned long long stores;
    char path[4200], tmp[4300];
    unsigned char hdr[JCD_HDR];
    if (jcd_file(dir, c->key, path, sizeof path) < 0) return 0;
    if (util_mkdirs(dir, 0700) < 0) {
        jcd_warn("use the directory", dir, errno);
        return 0;
    }
    int n = snprintf(tmp, sizeof tmp, "%s.XXXXXX.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp || jcd_header(c, name, o, hdr) < 0) return 0;
    int fd = mkostemps(tmp, 4, O_CLOEXEC); /* a fresh name, even after a dead writer's */
    if (fd < 0) {
        jcd_warn("create a file in", dir, errno);
        return 0;
    }
    int bad = jcd_write_all(fd, hdr, sizeof hdr) || jcd_write_all(fd, name, strlen(name)) ||
              jcd_write_all(fd, o->data, o->len);
    int err = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 2;
        err = errno;
    }
    if (bad) {
        unlink(tmp);
        jcd_warn(bad == 2 ? "replace" : "write", bad == 2 ? path : tmp, err);
        return 0;
    }
    pthread_mutex_lock(&jcd_mu);
    unsigned long long s = stores++;
    pthread_mutex_unlock(&jcd_mu);
    if (s % 32 == 0) jit_cache_trim(dir, jcd_max_mb());
    return 1;
}

/* An object file found by jit_cache_trim. */
typedef struct jcd_entry {
    struct timespec mtime;
    long long size;
    char name[64];
} jcd_entry;

/* qsort order: oldest modification first. */
static int jcd_older(const void *x, const void *y) {
    const jcd_entry *a = x, *b = y;
    if (a->mtime.tv_sec != b->mtime.tv_sec) return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
    return (a->mtime.tv_nsec > b->mtime.tv_nsec) - (a->mtime.tv_nsec < b->mtime.tv_nsec);
}

/* 1 if name ends with suffix. */
static int jcd_ends(const char *name, const char *suffix) {
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && !strcmp(name + n - k, suffix);
}

/* See cache.h. */
int jit_cache_trim(const char *dir, double max_mb) {
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) return 0;
    jcd_entry *e = NULL;
    size_t n = 0, cap = 0;
    long long total = 0;
    int removed = 0;
    char path[4400];
    time_t now = time(NULL);
    for (struct dirent *de; (de = readdir(d));) {
        int obj = jcd_ends(de->d_name, ".jxo"), tmp = jcd_ends(de->d_name, ".tmp");
        struct stat st;
        if ((!obj && !tmp) || strlen(de->d_name) >= sizeof e->name) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
        if (tmp) { /* a writer that died; live ones rename within milliseconds */
            if (now - st.st_mtim.tv_sec > 3600 && unlink(path) == 0) removed++;
            continue;
        }
        if (n == cap) {
            cap = cap * 2 + 64;
            jcd_entry *ne = realloc(e, cap * sizeof *e);
            if (!ne) break;
            e = ne;
        }
        e[n].mtime = st.st_mtim;
        e[n].size = (long long)st.st_size;
        memcpy(e[n].name, de->d_name, strlen(de->d_name) + 1); /* length checked above */
        total += e[n++].size;
    }
    closedir(d);
    double max = max_mb * 1048576.0;
    if ((double)total > max) {
        qsort(e, n, sizeof *e, jcd_older);
        for (size_t i = 0; i < n && (double)total > 0.75 * max; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
            if (unlink(path) == 0) {
                total -= e[i].size;
                removed++;
            }
        }
    }
    free(e);
    return removed;
}
