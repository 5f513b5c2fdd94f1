/* .npy reading and writing for the five jx dtypes.
 *
 * Format (numpy.lib.format): magic "\x93NUMPY", major and minor version bytes, a
 * little-endian header length (u16 for 1.0, u32 for 2.0 and 3.0), then an ASCII (3.0:
 * UTF-8) Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ending in '\n', then the raw C-order data. We read 1.0-3.0 and
 * write 1.0 with the data at a multiple of 64 bytes, as numpy does. Every malformed input
 * gives NULL and a message "<function>: <source>: <problem>"; nothing is leaked. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jx.h"
#include "util.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64

/* The descr string of each dtype, indexed by jx_dtype. */
static const char *const npy_descr[JX_NDTYPES] = {"<f4", "<f8", "<i4", "<u4", "|b1"};

/* Cursor over the header dict text; fn and src name the caller and the input in
 * messages. */
typedef struct npy_lex {
    const char *start, *p, *end;
    const char *fn, *src;
} npy_lex;

/* Skips spaces, tabs, CR and LF. */
static void npy_ws(npy_lex *lx) {
    while (lx->p < lx->end &&
           (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
}

/* Consumes character c (after whitespace) or fails with a message saying what was
 * expected. Returns 0 or -1. */
static int npy_expect(npy_lex *lx, char c, const char *what) {
    npy_ws(lx);
    if (lx->p < lx->end && *lx->p == c) {
        lx->p++;
        return 0;
    }
    if (lx->p >= lx->end)
        return util_err("%s: %s: bad header: expected %s but the header ends", lx->fn,
                        lx->src, what);
    return util_err("%s: %s: bad header: expected %s at header offset %td, found '%c'",
                    lx->fn, lx->src, what, lx->p - lx->start, *lx->p);
}

/* Consumes c if it is next (after whitespace); returns 1 if it was. */
static int npy_accept(npy_lex *lx, char c) {
    npy_ws(lx);
    if (lx->p < lx->end && *lx->p == c) {
        lx->p++;
        return 1;
    }
    return 0;
}

/* Reads a quoted Python string ('...' or "...", no escapes) into out (NUL-terminated,
 * truncated to cap-1; longer strings fail). Returns 0 or -1. */
static int npy_string(npy_lex *lx, char *out, size_t cap, const char *what) {
    npy_ws(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
        return util_err("%s: %s: bad header: expected a quoted string for %s", lx->fn,
                        lx->src, what);
    char q = *lx->p++;
    size_t n = 0;
    while (lx->p < lx->end && *lx->p != q) {
        if (*lx->p == '\\' || *lx->p == '\n')
            return util_err("%s: %s: bad header: unsupported character in string for %s",
                            lx->fn, lx->src, what);
        if (n + 1 >= cap)
            return util_err("%s: %s: bad header: string for %s is too long", lx->fn,
                            lx->src, what);
        out[n++] = *lx->p++;
    }
    if (lx->p >= lx->end)
        return util_err("%s: %s: bad header: unterminated string for %s", lx->fn, lx->src,
                        what);
    lx->p++;
    out[n] = 0;
    return 0;
}

/* Reads a bare word of letters and underscores (True, False) into out. Returns 0 or -1. */
static int npy_word(npy_lex *lx, char *out, size_t cap) {
    npy_ws(lx);
    size_t n = 0;
    while (lx->p < lx->end && n + 1 < cap &&
           ((*lx->p >= 'A' && *lx->p <= 'Z') || (*lx->p >= 'a' && *lx->p <= 'z') ||
            *lx->p == '_'))
        out[n++] = *lx->p++;
    out[n] = 0;
    return n ? 0 : -1;
}

/* Reads a non-negative decimal integer (an optional Python 2 'L' suffix is allowed) for
 * axis `axis`. Fails on a sign, no digits or a value over INT64_MAX. Returns 0 or -1. */
static int npy_dim(npy_lex *lx, int axis, int64_t *v) {
    npy_ws(lx);
    if (lx->p < lx->end && *lx->p == '-')
        return util_err("%s: %s: bad shape: negative dimension at axis %d", lx->fn, lx->src,
                        axis);
    if (lx->p >= lx->end || *lx->p < '0' || *lx->p > '9')
        return util_err("%s: %s: bad shape: expected an integer at axis %d", lx->fn,
                        lx->src, axis);
    int64_t x = 0;
    while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
        int d = *lx->p++ - '0';
        if (x > (INT64_MAX - d) / 10)
            return util_err("%s: %s: bad shape: dimension at axis %d is too large", lx->fn,
                            lx->src, axis);
        x = x * 10 + d;
    }
    if (lx->p < lx->end && (*lx->p == 'L' || *lx->p == 'l')) lx->p++;
    *v = x;
    return 0;
}

/* Reads a shape tuple: (), (3,), (2, 3), (2, 3,). At most JX_MAX_RANK dims. */
static int npy_shape(npy_lex *lx, int *rank, int64_t *shape) {
    if (npy_expect(lx, '(', "'(' to start the shape tuple") < 0) return -1;
    int n = 0;
    if (npy_accept(lx, ')')) {
        *rank = 0;
        return 0;
    }
    for (;;) {
        int64_t d = 0;
        if (n == JX_MAX_RANK)
            return util_err("%s: %s: bad shape: more than %d dimensions", lx->fn, lx->src,
                            JX_MAX_RANK);
        if (npy_dim(lx, n, &d) < 0) return -1;
        shape[n++] = d;
        if (npy_accept(lx, ')')) {
            if (n == 1)
                return util_err("%s: %s: bad shape: a one-element tuple needs a trailing "
                                "comma, as in (3,)", lx->fn, lx->src);
            break;
        }
        if (npy_expect(lx, ',', "',' or ')' in the shape tuple") < 0) return -1;
        if (npy_accept(lx, ')')) break;
    }
    *rank = n;
    return 0;
}

/* The parsed header dict. */
typedef struct npy_header {
    jx_dtype dt;
    int rank;
    int64_t shape[JX_MAX_RANK];
} npy_header;

/* Parses the header dict text [p, end) into h. Keys may come in any order; each of
 * 'descr', 'fortran_order' and 'shape' must appear exactly once and no other key may. */
static int npy_dict(npy_lex *lx, npy_header *h) {
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (npy_expect(lx, '{', "'{' to start the header dict") < 0) return -1;
    while (!npy_accept(lx, '}')) {
        char key[32], val[32];
        if (npy_string(lx, key, sizeof key, "a dict key") < 0) return -1;
        if (npy_expect(lx, ':', "':' after a dict key") < 0) return -1;
        if (!strcmp(key, "descr")) {
            if (have_descr++)
                return util_err("%s: %s: bad header: duplicate key 'descr'", lx->fn, lx->src);
            if (npy_string(lx, val, sizeof val, "'descr'") < 0) return -1;
            int dt = -1;
            for (int i = 0; i < JX_NDTYPES; i++)
                if (!strcmp(val, npy_descr[i])) dt = i;
            if (dt < 0)
                return util_err("%s: %s: unsupported descr '%s' (supported: '<f4', '<f8', "
                                "'<i4', '<u4', '|b1')", lx->fn, lx->src, val);
            h->dt = (jx_dtype)dt;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++)
                return util_err("%s: %s: bad header: duplicate key 'fortran_order'", lx->fn,
                                lx->src);
            if (npy_word(lx, val, sizeof val) < 0 ||
                (strcmp(val, "True") && strcmp(val, "False")))
                return util_err("%s: %s: bad header: 'fortran_order' must be True or False",
                                lx->fn, lx->src);
            if (!strcmp(val, "True"))
                return util_err("%s: %s: fortran_order True is not supported (only C-order "
                                "arrays)", lx->fn, lx->src);
        } else if (!strcmp(key, "shape")) {
            if (have_shape++)
                return util_err("%s: %s: bad header: duplicate key 'shape'", lx->fn, lx->src);
            if (npy_shape(lx, &h->rank, h->shape) < 0) return -1;
        } else {
            return util_err("%s: %s: bad header: unexpected key '%s'", lx->fn, lx->src, key);
        }
        if (npy_accept(lx, '}')) break;
        if (npy_expect(lx, ',', "',' or '}' after a dict value") < 0) return -1;
    }
    if (!have_descr || !have_fortran || !have_shape)
        return util_err("%s: %s: bad header: missing key '%s'", lx->fn, lx->src,
                        !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    npy_ws(lx);
    if (lx->p != lx->end)
        return util_err("%s: %s: bad header: unexpected text after the dict", lx->fn,
                        lx->src);
    return 0;
}

/* 1 if this machine stores integers little-endian. */
static int npy_host_le(void) {
    uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses the bytes of each of n elements of size es in place (no-op for es == 1). */
static void npy_swap(void *data, int64_t n, size_t es) {
    unsigned char *p = data;
    if (es == 1) return;
    for (int64_t i = 0; i < n; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Parses an .npy image; fn and src name the caller and the input in messages. */
static jx_array *npy_parse_named(const void *buf, size_t len, const char *fn,
                                 const char *src) {
    const unsigned char *b = buf;
    if (!buf && len) {
        util_err("%s: %s: NULL buffer", fn, src);
        return NULL;
    }
    size_t m = len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN;
    if (m && memcmp(b, NPY_MAGIC, m)) {
        util_err("%s: %s: bad magic (not an .npy file)", fn, src);
        return NULL;
    }
    if (len < NPY_MAGIC_LEN + 2) {
        util_err("%s: %s: truncated: %zu bytes, too short for the magic and version", fn,
                 src, len);
        return NULL;
    }
    int major = b[6], minor = b[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        util_err("%s: %s: unsupported format version %d.%d (supported: 1.0, 2.0, 3.0)", fn,
                 src, major, minor);
        return NULL;
    }
    size_t pre = major == 1 ? 10 : 12;
    if (len < pre) {
        util_err("%s: %s: truncated: %zu bytes, no room for the header length", fn, src, len);
        return NULL;
    }
    size_t hlen = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                             : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                                   (size_t)b[11] << 24;
    if (hlen > len - pre) {
        util_err("%s: %s: header length %zu runs past the end of the data (%zu bytes after "
                 "the prefix)", fn, src, hlen, len - pre);
        return NULL;
    }
    npy_header h = {JX_NDTYPES, 0, {0}};
    const char *hp = (const char *)b + pre;
    npy_lex lx = {hp, hp, hp + hlen, fn, src};
    if (memchr(lx.p, 0, hlen)) {
        util_err("%s: %s: bad header: contains a NUL byte", fn, src);
        return NULL;
    }
    if (npy_dict(&lx, &h) < 0) return NULL;
    int64_t n = util_numel(h.rank, h.shape);
    size_t es = jx_dtype_size(h.dt);
    size_t avail = len - pre - hlen;
    if (n < 0 || (uint64_t)n > (uint64_t)(SIZE_MAX / 2) / es) {
        util_err("%s: %s: bad shape: element count overflows", fn, src);
        return NULL;
    }
    size_t need = (size_t)n * es;
    if (avail < need) {
        util_err("%s: %s: data too short: shape needs %zu bytes but only %zu are present",
                 fn, src, need, avail);
        return NULL;
    }
    jx_array *a = jx_array_from(h.dt, h.rank, h.shape, b + pre + hlen);
    if (!a) return NULL;
    if (!npy_host_le()) npy_swap(jx_array_data(a), n, es);
    if (h.dt == JX_BOOL) {
        uint8_t *p = jx_array_data(a);
        for (int64_t i = 0; i < n; i++) p[i] = p[i] != 0;
    }
    return a;
}

/* Parses an .npy image held in memory; NULL with a message on malformed input. */
jx_array *jx_npy_parse(const void *buf, size_t len) {
    return npy_parse_named(buf, len, "jx_npy_parse", "<buffer>");
}

/* Serializes a to an .npy 1.0 image (malloc'd; *len receives its size). The header is
 * space-padded and ends in '\n' so the data starts at a multiple of 64 bytes. */
void *jx_npy_dump(const jx_array *a, size_t *len) {
    if (!a) {
        util_err("jx_npy_dump: NULL array");
        return NULL;
    }
    jx_dtype dt = jx_array_dtype(a);
    int rank = jx_array_rank(a);
    const int64_t *shape = jx_array_shape(a);
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     npy_descr[dt]);
    for (int i = 0; i < rank; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, i ? ", %lld" : "%lld",
                      (long long)shape[i]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, rank == 1 ? ",), }" : "), }");
    size_t hlen = (size_t)k + 1; /* + '\n' */
    size_t pad = (NPY_ALIGN - (10 + hlen) % NPY_ALIGN) % NPY_ALIGN;
    hlen += pad;
    size_t nbytes = jx_array_nbytes(a);
    size_t total = 10 + hlen + nbytes;
    unsigned char *out = malloc(total);
    if (!out) {
        util_err("jx_npy_dump: out of memory (%zu bytes)", total);
        return NULL;
    }
    memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
    out[6] = 1;
    out[7] = 0;
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memcpy(out + 10, dict, (size_t)k);
    memset(out + 10 + k, ' ', pad);
    out[10 + hlen - 1] = '\n';
    if (nbytes) memcpy(out + 10 + hlen, jx_array_cdata(a), nbytes);
    if (!npy_host_le()) npy_swap(out + 10 + hlen, jx_array_size(a), jx_dtype_size(dt));
    if (len) *len = total;
    return out;
}

/* Reads the whole file into a malloc'd buffer; NULL with "fn: path: strerror" on error. */
static unsigned char *npy_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        util_err("jx_npy_load: %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            util_err("jx_npy_load: %s: out of memory", path);
            fclose(f);
            return NULL;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (ferror(f)) {
        util_err("jx_npy_load: %s: read error: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Loads an .npy file; NULL with a message naming the path on I/O errors or malformed
 * content. */
jx_array *jx_npy_load(const char *path) {
    if (!path) {
        util_err("jx_npy_load: NULL path");
        return NULL;
    }
    size_t len = 0;
    unsigned char *buf = npy_read_file(path, &len);
    if (!buf) return NULL;
    jx_array *a = npy_parse_named(buf, len, "jx_npy_load", path);
    free(buf);
    return a;
}

/* Writes a to path as .npy 1.0. Returns 0, or -1 with "jx_npy_save: path: strerror". */
int jx_npy_save(const char *path, const jx_array *a) {
    if (!path) return util_err("jx_npy_save: NULL path");
    if (!a) return util_err("jx_npy_save: %s: NULL array", path);
    size_t len = 0;
    void *buf = jx_npy_dump(a, &len);
    if (!buf) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(buf);
        return util_err("jx_npy_save: %s: %s", path, strerror(e));
    }
    size_t w = fwrite(buf, 1, len, f);
    int e = errno;
    free(buf);
    if (w != len) {
        fclose(f);
        return util_err("jx_npy_save: %s: write error: %s", path, strerror(e));
    }
    if (fclose(f) != 0) return util_err("jx_npy_save: %s: %s", path, strerror(errno));
    return 0;
}
