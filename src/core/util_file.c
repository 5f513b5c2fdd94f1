/* Opening and reading the files a loader loads: one place for the checks every loader
 * needs (the load limit, the open checks, bounded reading). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"

/* The first buffer size of util_read_grown for large inputs. */
#define UTIL_READ_CHUNK ((size_t)1 << 20)

/* The loaders' limit on the bytes of one array (see jx.h). */
static _Atomic size_t util_load_limit = JX_LOAD_LIMIT_DEFAULT;

/* Sets the load limit (0: the default); returns the previous one. */
size_t jx_set_load_limit(size_t bytes) {
    return atomic_exchange(&util_load_limit, bytes ? bytes : JX_LOAD_LIMIT_DEFAULT);
}

/* The current load limit. */
size_t jx_load_limit(void) { return atomic_load(&util_load_limit); }

/* See util.h. */
FILE *util_open_read(const char *who, const char *path, struct stat *st) {
    if (!path) {
        util_err("%s: NULL path", who);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        util_err("%s: cannot open %s: %s", who, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), st) != 0) util_err("%s: %s: %s", who, path, strerror(errno));
    else if (S_ISDIR(st->st_mode)) util_err("%s: %s: is a directory", who, path);
    else return f;
    fclose(f);
    return NULL;
}

/* See util.h. */
int util_read_grown(util_read_fn rd, void *ctx, size_t n, const char *who, const char *src,
                    unsigned char **out, size_t *got) {
    size_t cap = n < UTIL_READ_CHUNK ? n + 1 : UTIL_READ_CHUNK;
    unsigned char *buf = malloc(cap);
    *out = NULL;
    *got = 0;
    while (buf && *got < n) {
        if (*got == cap) {
            size_t nc = cap > n / 2 ? n : cap * 2;
            unsigned char *nb = realloc(buf, nc);
            if (!nb) break;
            buf = nb;
            cap = nc;
        }
        size_t want = cap - *got < n - *got ? cap - *got : n - *got;
        int64_t r = rd(ctx, buf + *got, want);
        if (r >= 0) *got += (size_t)r;
        if (r < 0 || (size_t)r < want) {
            free(buf);
            return r < 0 ? -1 : 1;
        }
    }
    if (!buf || *got < n) {
        free(buf);
        return util_err("%s: %s: out of memory reading %zu bytes", who, src, n);
    }
    *out = buf;
    return 0;
}

/* See util.h. */
int util_mkdirs(const char *dir, unsigned mode) {
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) return -1;
        p[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) < 0) return -1;
    if (!S_ISDIR(st.st_mode)) errno = ENOTDIR;
    return S_ISDIR(st.st_mode) ? 0 : -1;
}
