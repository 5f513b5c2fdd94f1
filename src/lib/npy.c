/* .npy reading and writing for the five jx dtypes.
 *
 * Format (numpy.lib.format): magic "\x93NUMPY", major and minor version bytes, a
 * little-endian header length (u16 for 1.0, u32 for 2.0 and 3.0), then a header: a Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces and ending in '\n' (Latin-1 for 1.0/2.0, UTF-8 for 3.0), then the raw C-order
 * data (Fortran order if fortran_order is True). The header is read as numpy reads it
 * (npy_header.c, npy_descr.c); big-endian data is byte-swapped and Fortran-order data
 * copied into C order. We write 1.0 with the data at a multiple of 64 bytes, as numpy does.
 * Every malformed input gives NULL and a message "<function>: <source>: <problem>";
 * nothing is leaked. Reading is bounded: numpy's header limit, and the load limit
 * (jx_set_load_limit) on the array, checked before anything of that size is allocated;
 * a file (or pipe) is read only as far as the header says. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jx.h"
#include "lib/npy.h"
#include "core/util.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* Longest prefix: magic, version, 4-byte header length. */
#define NPY_PRE_MAX 12

/* The descr string jx writes for each dtype, indexed by jx_dtype. */
static const char *const npy_descr[JX_NDTYPES] = {"<f4", "<f8", "<i4", "<u4", "|b1"};

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

/* Reads the prefix b[0..len) (len may be short): magic, version, header length. Sets
 * *major, *pre (prefix size) and *hlen (header bytes). Returns 0 or -1 with a message. */
static int npy_prefix(const unsigned char *b, size_t len, const char *fn, const char *src,
                      int *major, size_t *pre, size_t *hlen) {
    size_t m = len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN;
    if (m && memcmp(b, NPY_MAGIC, m))
        return util_err("%s: %s: bad magic (not an .npy file)", fn, src);
    if (len < NPY_MAGIC_LEN + 2)
        return util_err("%s: %s: truncated: %zu bytes, too short for the magic and version",
                        fn, src, len);
    *major = b[6];
    if ((*major != 1 && *major != 2 && *major != 3) || b[7] != 0)
        return util_err("%s: %s: unsupported format version %d.%d (supported: 1.0, 2.0, 3.0)",
                        fn, src, b[6], b[7]);
    *pre = *major == 1 ? 10 : 12;
    if (len < *pre)
        return util_err("%s: %s: truncated: %zu bytes, no room for the header length", fn,
                        src, len);
    *hlen = *major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                        : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                              (size_t)b[11] << 24;
    /* numpy refuses headers over NPY_MAX_HEADER characters; UTF-8 takes up to 4 bytes. */
    size_t max = *major == 3 ? 4 * (size_t)NPY_MAX_HEADER : NPY_MAX_HEADER;
    if (*hlen > max)
        return util_err("%s: %s: header length %zu exceeds numpy's limit of %d characters "
                        "(max_header_size)", fn, src, *hlen, NPY_MAX_HEADER);
    return 0;
}

/* The data size of header h: element count *n and bytes *need, checked against the load
 * limit. Returns 0 or -1 with a message. */
static int npy_size(const npy_header *h, const char *fn, const char *src, int64_t *n,
                    size_t *need) {
    size_t es = jx_dtype_size(h->dt), limit = jx_load_limit();
    *n = util_numel(h->rank, h->shape);
    if (*n < 0 || (uint64_t)*n > (uint64_t)(SIZE_MAX / 2) / es)
        return util_err("%s: %s: bad shape: element count overflows", fn, src);
    *need = (size_t)*n * es;
    if (*need > limit)
        return util_err("%s: %s: the array needs %zu bytes, over the load limit of %zu bytes "
                        "(raise it with jx_set_load_limit)", fn, src, *need, limit);
    return 0;
}

/* A C-order copy of a, whose data is in Fortran order (a is freed). NULL on OOM. */
static jx_array *npy_c_order(jx_array *a) {
    int r = jx_array_rank(a);
    const int64_t *s = jx_array_shape(a);
    size_t es = jx_dtype_size(jx_array_dtype(a));
    int64_t n = jx_array_size(a), fs[JX_MAX_RANK], idx[JX_MAX_RANK] = {0}, off = 0;
    jx_array *b = jx_array_new(jx_array_dtype(a), r, s);
    const unsigned char *src = jx_array_cdata(a);
    unsigned char *dst = b ? jx_array_data(b) : NULL;
    for (int k = 0; k < r; k++) fs[k] = k ? fs[k - 1] * s[k - 1] : 1;
    for (int64_t i = 0; dst && i < n; i++) { /* C order over b, Fortran offset into a */
        memcpy(dst + (size_t)i * es, src + (size_t)off * es, es);
        for (int k = r - 1; k >= 0; k--) {
            off += fs[k];
            if (++idx[k] < s[k]) break;
            off -= fs[k] * s[k];
            idx[k] = 0;
        }
    }
    jx_array_free(a);
    return b;
}

/* Turns freshly read data into jx's form: byte order, bool bytes as 0/1, C order.
 * Returns the array (another one after a Fortran-order copy), NULL on OOM. */
static jx_array *npy_fix(jx_array *a, const npy_header *h) {
    int64_t n = jx_array_size(a);
    if (h->big_endian == npy_host_le()) npy_swap(jx_array_data(a), n, jx_dtype_size(h->dt));
    if (h->dt == JX_BOOL) {
        uint8_t *p = jx_array_data(a);
        for (int64_t i = 0; i < n; i++) p[i] = p[i] != 0;
    }
    return h->fortran && h->rank > 1 ? npy_c_order(a) : a;
}

/* Parses an .npy image; fn and src name the caller and the input in messages. */
static jx_array *npy_parse_named(const void *buf, size_t len, const char *fn,
                                 const char *src) {
    const unsigned char *b = buf;
    if (!buf && len) {
        util_err("%s: %s: NULL buffer", fn, src);
        return NULL;
    }
    int major = 0;
    size_t pre = 0, hlen = 0, need = 0;
    if (npy_prefix(b, len, fn, src, &major, &pre, &hlen) < 0) return NULL;
    if (hlen > len - pre) {
        util_err("%s: %s: header length %zu runs past the end of the data (%zu bytes after "
                 "the prefix)", fn, src, hlen, len - pre);
        return NULL;
    }
    npy_header h;
    int64_t n = 0;
    if (npy_header_parse((const char *)b + pre, hlen, major, fn, src, &h) < 0 ||
        npy_size(&h, fn, src, &n, &need) < 0)
        return NULL;
    size_t avail = len - pre - hlen;
    if (avail < need) {
        util_err("%s: %s: data too short: shape needs %zu bytes but only %zu are present",
                 fn, src, need, avail);
        return NULL;
    }
    jx_array *a = jx_array_from(h.dt, h.rank, h.shape, b + pre + hlen);
    return a ? npy_fix(a, &h) : NULL;
}

/* Parses an .npy image held in memory; NULL with a message on malformed input. */
jx_array *jx_npy_parse(const void *buf, size_t len) {
    return npy_parse_named(buf, len, "jx_npy_parse", "<buffer>");
}

/* See npy.h: the prefix and padded header of a's .npy 1.0 image. */
size_t npy_header_write(const jx_array *a, unsigned char out[NPY_HEADER_WRITE_MAX]) {
    int rank = jx_array_rank(a);
    const int64_t *shape = jx_array_shape(a);
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     npy_descr[jx_array_dtype(a)]);
    for (int i = 0; i < rank; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, i ? ", %lld" : "%lld",
                      (long long)shape[i]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, rank == 1 ? ",), }" : "), }");
    size_t hlen = (size_t)k + 1; /* + '\n' */
    size_t pad = (NPY_ALIGN - (10 + hlen) % NPY_ALIGN) % NPY_ALIGN;
    hlen += pad;
    memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
    out[6] = 1;
    out[7] = 0;
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memcpy(out + 10, dict, (size_t)k);
    memset(out + 10 + k, ' ', pad);
    out[10 + hlen - 1] = '\n';
    return 10 + hlen;
}

/* Serializes a to an .npy 1.0 image (malloc'd; *len receives its size). The header is
 * space-padded and ends in '\n' so the data starts at a multiple of 64 bytes. */
void *jx_npy_dump(const jx_array *a, size_t *len) {
    if (!a) {
        util_err("jx_npy_dump: NULL array");
        return NULL;
    }
    unsigned char head[NPY_HEADER_WRITE_MAX];
    size_t hsize = npy_header_write(a, head), nbytes = jx_array_nbytes(a);
    size_t total = hsize + nbytes;
    unsigned char *out = malloc(total);
    if (!out) {
        util_err("jx_npy_dump: out of memory (%zu bytes)", total);
        return NULL;
    }
    memcpy(out, head, hsize);
    if (nbytes) memcpy(out + hsize, jx_array_cdata(a), nbytes);
    if (!npy_host_le())
        npy_swap(out + hsize, jx_array_size(a), jx_dtype_size(jx_array_dtype(a)));
    if (len) *len = total;
    return out;
}

/* An open .npy file; src names it in messages. */
typedef struct npy_in {
    FILE *f;
    const char *src;
} npy_in;

/* Reads up to len bytes of the npy_in ctx into buf; returns the count, or -1 with a
 * message on a read error (a util_read_fn). */
static int64_t npy_fread(void *ctx, void *buf, size_t len) {
    npy_in *in = ctx;
    size_t got = len ? fread(buf, 1, len, in->f) : 0;
    if (got < len && ferror(in->f)) {
        util_err("jx_npy_load: %s: read error: %s", in->src, strerror(errno));
        return -1;
    }
    return (int64_t)got;
}

/* Reads the data of header h (need bytes after the first off) from rd into a new array.
 * With a known source size (avail >= 0) the size is checked first and the data read
 * straight into the array; a source of unknown size (a pipe or device) is read as far as
 * the data goes (util_read_grown). */
static jx_array *npy_read_data(util_read_fn rd, void *ctx, int64_t avail, const char *fn,
                               const char *src, const npy_header *h, size_t off,
                               size_t need) {
    if (avail >= 0) {
        size_t left = (uint64_t)avail > off ? (size_t)avail - off : 0;
        if (left < need) {
            util_err("%s: %s: data too short: shape needs %zu bytes but only %zu are "
                     "present", fn, src, need, left);
            return NULL;
        }
        jx_array *a = jx_array_new(h->dt, h->rank, h->shape);
        if (!a) util_err("%s: %s: out of memory (%zu bytes)", fn, src, need);
        int64_t got = a ? rd(ctx, jx_array_data(a), need) : -1;
        if (got >= 0 && (size_t)got < need)
            util_err("%s: %s: data too short: shape needs %zu bytes but only %lld are "
                     "present", fn, src, need, (long long)got);
        if (got < 0 || (size_t)got < need) {
            jx_array_free(a);
            return NULL;
        }
        return a;
    }
    unsigned char *buf;
    size_t got;
    int r = util_read_grown(rd, ctx, need, fn, src, &buf, &got);
    if (r > 0)
        util_err("%s: %s: data too short: shape needs %zu bytes but only %zu are present",
                 fn, src, need, got);
    if (r) return NULL;
    jx_array *a = jx_array_from(h->dt, h->rank, h->shape, buf);
    free(buf);
    return a;
}

/* See npy.h: reads the prefix and header from rd, then the data (npy_read_data). */
jx_array *npy_read(util_read_fn rd, void *ctx, int64_t avail, const char *fn,
                   const char *src) {
    unsigned char pre_buf[NPY_PRE_MAX];
    int64_t r = rd(ctx, pre_buf, NPY_MAGIC_LEN + 2);
    if (r < 0) return NULL;
    size_t plen = (size_t)r, pre = 0, hlen = 0, need = 0;
    int major = 0;
    if (plen == NPY_MAGIC_LEN + 2) { /* the length field: 2 bytes for 1.0, else 4 */
        r = rd(ctx, pre_buf + plen, pre_buf[6] == 1 ? 2 : 4);
        if (r < 0) return NULL;
        plen += (size_t)r;
    }
    if (npy_prefix(pre_buf, plen, fn, src, &major, &pre, &hlen) < 0) return NULL;
    char *text = malloc(hlen + 1);
    r = text ? rd(ctx, text, hlen) : -1;
    if (!text) util_err("%s: %s: out of memory", fn, src);
    if (r >= 0 && (size_t)r < hlen)
        util_err("%s: %s: header length %zu runs past the end of the data (%lld bytes after "
                 "the prefix)", fn, src, hlen, (long long)r);
    npy_header h;
    int64_t n = 0;
    int ok = r >= 0 && (size_t)r == hlen &&
             npy_header_parse(text, hlen, major, fn, src, &h) == 0 &&
             npy_size(&h, fn, src, &n, &need) == 0;
    free(text);
    if (!ok) return NULL;
    jx_array *a = npy_read_data(rd, ctx, avail, fn, src, &h, pre + hlen, need);
    return a ? npy_fix(a, &h) : NULL;
}

/* Loads an .npy file; NULL with a message naming the path on I/O errors or malformed
 * content. */
jx_array *jx_npy_load(const char *path) {
    struct stat st;
    FILE *f = util_open_read("jx_npy_load", path, &st);
    if (!f) return NULL;
    npy_in in = {f, path};
    jx_array *a = npy_read(npy_fread, &in, S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1,
                           "jx_npy_load", path);
    fclose(f);
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
