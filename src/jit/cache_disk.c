/* The on-disk half of the compile cache (see cache.h): one file per key,
 * <dir>/<32 hex>.jxo, written to a temporary file and renamed (atomic for concurrent
 * processes). Layout (native byte order; the key pins the host):
 *   0  magic "JXOBJ\r\n\032"   8  u32 format   12 u32 name length
 *   16 key[16]   32 plan hash[16]   48 object hash[16]   64 u64 object length
 *   72 entry name, then the object file.
 * A file is used only if every field checks out (the plan hash guards the memory layout
 * the object was compiled for); anything else is a miss, and the recompile overwrites it.
 * A hit refreshes the file's modification time, which jit_cache_trim uses as its LRU
 * order. The directory is created 0700: it holds code that will be executed. */
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
#include "util.h"

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

/* Creates dir and its missing parents (mode 0700). 0 or -1. */
static int jcd_mkdirs(const char *dir) {
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p) return -1;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST) return -1;
        p[i] = c;
    }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
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

/* Reads all of path (under 1 GiB) into a malloc'd buffer. NULL with *absent = 1 if there
 * is no such file, or *absent = 0 if it cannot be read. */
static unsigned char *jcd_read(const char *path, size_t *len, int *absent) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *absent = fd < 0 && errno == ENOENT;
    if (fd < 0) return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 && st.st_size < (1 << 30))
        buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return buf;
}

/* See cache.h. */
int jcd_load(jit_code *c, const char *dir, const char *name) {
    char path[4200];
    unsigned char ph[16], h[16];
    size_t len = 0;
    int absent;
    if (jcd_file(dir, c->key, path, sizeof path) < 0) return 0;
    unsigned char *buf = jcd_read(path, &len, &absent);
    if (!buf) return absent ? 0 : -1;
    uint32_t fmt, nlen;
    uint64_t olen;
    int ok = len >= JCD_HDR && !memcmp(buf, jcd_magic, 8) && jcd_plan_hash(c->plan, ph) == 0;
    if (ok) {
        memcpy(&fmt, buf + 8, 4);
        memcpy(&nlen, buf + 12, 4);
        memcpy(&olen, buf + 64, 8);
        ok = fmt == JC_FORMAT && nlen == strlen(name) && len - JCD_HDR >= nlen &&
             olen == len - JCD_HDR - nlen && !memcmp(buf + 16, c->key, 16) &&
             !memcmp(buf + 32, ph, 16) && !memcmp(buf + JCD_HDR, name, nlen);
    }
    if (ok) {
        jcd_obj_hash(buf + JCD_HDR + nlen, (size_t)olen, h);
        ok = !memcmp(buf + 48, h, 16);
    }
    if (ok)
        ok = orc_load(buf + JCD_HDR + nlen, (size_t)olen, name, &c->entry, &c->tracker) == 0;
    free(buf);
    if (ok) utimensat(AT_FDCWD, path, NULL, 0); /* recently used */
    return ok ? 1 : -1;
}

/* Writes all of buf to fd; 0 or -1. */
static int jcd_write_all(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
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

/* See cache.h. */
int jcd_store(const jit_code *c, const char *dir, const char *name, const jit_obj *o) {
    static unsigned long long seq;
    char path[4200], tmp[4300];
    unsigned char hdr[JCD_HDR];
    uint32_t fmt = JC_FORMAT, nlen = (uint32_t)strlen(name);
    uint64_t olen = o->len;
    if (jcd_file(dir, c->key, path, sizeof path) < 0 || jcd_mkdirs(dir) < 0) return 0;
    memcpy(hdr, jcd_magic, 8);
    memcpy(hdr + 8, &fmt, 4);
    memcpy(hdr + 12, &nlen, 4);
    memcpy(hdr + 16, c->key, 16);
    if (jcd_plan_hash(c->plan, hdr + 32) < 0) return 0;
    jcd_obj_hash(o->data, o->len, hdr + 48);
    memcpy(hdr + 64, &olen, 8);
    pthread_mutex_lock(&jcd_mu);
    unsigned long long s = seq++;
    pthread_mutex_unlock(&jcd_mu);
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.%llu.tmp", path, (long)getpid(), s);
    if (n < 0 || (size_t)n >= sizeof tmp) return 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    int bad = jcd_write_all(fd, hdr, sizeof hdr) || jcd_write_all(fd, name, nlen) ||
              jcd_write_all(fd, o->data, o->len);
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return 0;
    }
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
