/* IDX files (the MNIST format): a big-endian header 00 00 <dtype> <rank>, rank u32 dims,
 * then the data. Read through zlib's gz* functions, which read gzip and plain files
 * alike. Only the unsigned-byte dtype (0x08) is supported. The data is read into a
 * buffer that grows with what the file really holds, so a header claiming absurd dims
 * fails as a truncated file instead of allocating the claimed size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "jx/data.h"
#include "util.h"

#define IDX_CHUNK (1u << 20)
/* Largest element count accepted (16 GiB of f32): beyond it the dims are "absurd". */
#define IDX_MAX_ELEMS ((int64_t)1 << 32)

/* The name of an IDX dtype byte, for messages. */
static const char *idx_dtype_name(int code) {
    switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown";
    }
}

/* Reads exactly len bytes from f into buf. Returns len, fewer at end of file, or -1 on a
 * read error (message set, naming path). */
static int64_t idx_read(gzFile f, const char *path, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            const char *m = gzerror(f, &code);
            util_err("idx: %s: read error: %s", path, m ? m : "unknown");
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

/* Reads the header of f into *type's rank/shape (dtype left to the caller) and returns 0,
 * or -1 with a message naming path. */
static int idx_header(gzFile f, const char *path, jx_type *type, int64_t *numel) {
    unsigned char h[4], d[4 * JX_MAX_RANK];
    int64_t r = idx_read(f, path, h, 4);
    if (r < 0) return -1;
    if (r < 4) return util_err("idx: %s: truncated header (%lld of 4 magic bytes)", path,
                               (long long)r);
    if (h[0] || h[1])
        return util_err("idx: %s: bad magic 0x%02X%02X%02X%02X (not an IDX file; expected "
                        "00 00 <dtype> <rank>, e.g. 0x00000803)",
                        path, h[0], h[1], h[2], h[3]);
    if (h[2] != 0x08)
        return util_err("idx: %s: IDX dtype 0x%02X (%s) is not supported; only 0x08 "
                        "(unsigned byte)",
                        path, h[2], idx_dtype_name(h[2]));
    if (h[3] < 1 || h[3] > JX_MAX_RANK)
        return util_err("idx: %s: rank %d out of range 1..%d", path, h[3], JX_MAX_RANK);
    int rank = h[3];
    r = idx_read(f, path, d, 4 * (size_t)rank);
    if (r < 0) return -1;
    if (r < 4 * rank)
        return util_err("idx: %s: truncated header (%lld of %d dimension bytes)", path,
                        (long long)r, 4 * rank);
    type->rank = rank;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        const unsigned char *p = d + 4 * i;
        int64_t v = (int64_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                              ((uint32_t)p[2] << 8) | p[3]);
        type->shape[i] = v;
        if (v && n > IDX_MAX_ELEMS / v) n = IDX_MAX_ELEMS + 1;
        else n *= v;
    }
    if (n > IDX_MAX_ELEMS) {
        char s[16 * JX_MAX_RANK + 2] = "[";
        for (int i = 0; i < rank; i++) {
            size_t k = strlen(s);
            snprintf(s + k, sizeof s - k, "%s%lld", i ? "," : "", (long long)type->shape[i]);
        }
        strcat(s, "]");
        return util_err("idx: %s: absurd dims %s (more than 2^32 elements)", path, s);
    }
    *numel = n;
    return 0;
}

/* Reads n data bytes of path into a malloc'd buffer grown as data arrives, then checks
 * that nothing follows. Returns the buffer (NULL and a message on error). For n = 0
 * returns a 1-byte buffer. */
static unsigned char *idx_data(gzFile f, const char *path, int64_t n) {
    size_t cap = n < IDX_CHUNK ? (size_t)n + 1 : IDX_CHUNK, got = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        util_err("idx: %s: out of memory", path);
        return NULL;
    }
    while (got < (size_t)n) {
        if (got == cap) {
            size_t nc = cap * 2 > (size_t)n ? (size_t)n : cap * 2;
            unsigned char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                util_err("idx: %s: out of memory for %lld bytes", path, (long long)n);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t want = cap - got < (size_t)n - got ? cap - got : (size_t)n - got;
        int64_t r = idx_read(f, path, buf + got, want);
        if (r < 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
        if ((size_t)r < want) {
            free(buf);
            util_err("idx: %s: truncated data: %zu of %lld bytes", path, got, (long long)n);
            return NULL;
        }
    }
    unsigned char extra;
    int64_t r = idx_read(f, path, &extra, 1);
    if (r != 0) {
        free(buf);
        if (r > 0) util_err("idx: %s: trailing data after %lld bytes", path, (long long)n);
        return NULL;
    }
    return buf;
}

/* Loads path (see jx/data.h). */
jx_array *jx_idx_load_flags(const char *path, unsigned flags) {
    if (!path) {
        util_err("idx: NULL path");
        return NULL;
    }
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        util_err("idx: cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    gzbuffer(f, 1u << 17);
    jx_type t = {0};
    int64_t n = 0;
    unsigned char *buf = NULL;
    if (idx_header(f, path, &t, &n) == 0) buf = idx_data(f, path, n);
    gzclose(f);
    if (!buf) return NULL;
    int as_int = t.rank == 1 && !(flags & JX_IDX_F32);
    t.dtype = as_int ? JX_I32 : JX_F32;
    jx_array *a = jx_array_new_type(&t);
    if (!a) {
        free(buf);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", jx_error());
        util_err("idx: %s: %s", path, msg);
        return NULL;
    }
    if (as_int) {
        int32_t *o = jx_array_data(a);
        for (int64_t i = 0; i < n; i++) o[i] = buf[i];
    } else {
        float *o = jx_array_data(a);
        float s = (flags & JX_IDX_NORMALIZE) ? 1.0f / 255.0f : 1.0f;
        for (int64_t i = 0; i < n; i++) o[i] = (float)buf[i] * s;
    }
    free(buf);
    return a;
}

/* Loads path with default flags (labels i32, images raw f32). */
jx_array *jx_idx_load(const char *path) { return jx_idx_load_flags(path, 0); }

/* Converts element i of a to a byte (rounded, clamped; NaN -> 0). */
static unsigned char idx_byte(const jx_array *a, int64_t i) {
    double v = jx_array_get(a, i);
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (unsigned char)(v + 0.5);
}

/* Writes a as a u8 IDX file (see jx/data.h). */
int jx_idx_save(const char *path, const jx_array *a, int gz) {
    if (!path || !a) return util_err("jx_idx_save: NULL %s", path ? "array" : "path");
    int rank = jx_array_rank(a);
    if (rank < 1) return util_err("jx_idx_save: %s: rank 0 arrays have no IDX form", path);
    const int64_t *shape = jx_array_shape(a);
    for (int i = 0; i < rank; i++)
        if (shape[i] > 0xFFFFFFFFll)
            return util_err("jx_idx_save: %s: dim %lld does not fit in 32 bits", path,
                            (long long)shape[i]);
    errno = 0;
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    if (!f)
        return util_err("jx_idx_save: cannot open %s: %s", path,
                        errno ? strerror(errno) : "out of memory");
    unsigned char h[4 + 4 * JX_MAX_RANK] = {0, 0, 0x08, (unsigned char)rank};
    for (int i = 0; i < rank; i++) {
        uint32_t d = (uint32_t)shape[i];
        unsigned char *p = h + 4 + 4 * i;
        p[0] = (unsigned char)(d >> 24);
        p[1] = (unsigned char)(d >> 16);
        p[2] = (unsigned char)(d >> 8);
        p[3] = (unsigned char)d;
    }
    int ok = gzwrite(f, h, 4 + 4 * (unsigned)rank) == (int)(4 + 4 * rank);
    unsigned char chunk[4096];
    int64_t n = jx_array_size(a);
    for (int64_t i = 0; ok && i < n;) {
        unsigned k = 0;
        while (k < sizeof chunk && i < n) chunk[k++] = idx_byte(a, i++);
        ok = gzwrite(f, chunk, k) == (int)k;
    }
    if (gzclose(f) != Z_OK) ok = 0;
    if (!ok) return util_err("jx_idx_save: %s: write error", path);
    return 0;
}

/* Divides an f32/f64 array by 255 in place. */
int jx_data_normalize(jx_array *a) {
    if (!a) return util_err("jx_data_normalize: NULL array");
    int64_t n = jx_array_size(a);
    if (jx_array_dtype(a) == JX_F32) {
        float *p = jx_array_data(a);
        for (int64_t i = 0; i < n; i++) p[i] /= 255.0f;
    } else if (jx_array_dtype(a) == JX_F64) {
        double *p = jx_array_data(a);
        for (int64_t i = 0; i < n; i++) p[i] /= 255.0;
    } else {
        return util_err("jx_data_normalize: dtype %s is not f32 or f64",
                        jx_dtype_name(jx_array_dtype(a)));
    }
    return 0;
}

/* Release callback of jx_data_reshape views: drops the reference on the base array. */
static void idx_view_release(void *ctx, void *data) {
    (void)data;
    jx_array_free(ctx);
}

/* A view of a with another shape of the same size. */
jx_array *jx_data_reshape(jx_array *a, int rank, const int64_t *shape) {
    if (!a) {
        util_err("jx_data_reshape: NULL array");
        return NULL;
    }
    if (rank < 0 || rank > JX_MAX_RANK || (rank > 0 && !shape)) {
        util_err("jx_data_reshape: bad rank %d", rank);
        return NULL;
    }
    int64_t n = util_numel(rank, shape);
    if (n != jx_array_size(a)) {
        util_err("jx_data_reshape: %lld elements cannot be viewed as a shape of %lld",
                 (long long)jx_array_size(a), (long long)n);
        return NULL;
    }
    jx_array *v = jx_array_wrap(jx_array_dtype(a), rank, shape, jx_array_data(a),
                                idx_view_release, a);
    if (v) jx_array_retain(a);
    return v;
}

/* Opens dir/name.gz, or dir/name if the .gz file does not exist. */
static jx_array *idx_load_either(const char *dir, const char *name, unsigned flags) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.gz", dir, name);
    FILE *probe = fopen(p, "rb");
    if (probe) fclose(probe);
    else snprintf(p, sizeof p, "%s/%s", dir, name);
    return jx_idx_load_flags(p, flags);
}

/* Loads an MNIST-layout split (see jx/data.h). */
int jx_mnist_load(const char *dir, const char *split, int normalize, jx_array **images,
                  jx_array **labels) {
    if (!images || !labels) return util_err("jx_mnist_load: NULL output pointer");
    *images = *labels = NULL;
    if (!dir) dir = JX_MNIST_DEFAULT_DIR;
    const char *pre;
    if (split && !strcmp(split, "train")) pre = "train";
    else if (split && (!strcmp(split, "test") || !strcmp(split, "t10k"))) pre = "t10k";
    else
        return util_err("jx_mnist_load: split '%s' is not \"train\" or \"test\"",
                        split ? split : "(null)");
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
    jx_array *x = idx_load_either(dir, name, normalize ? JX_IDX_NORMALIZE : 0);
    if (!x) return -1;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
    jx_array *y = idx_load_either(dir, name, 0);
    if (!y) {
        jx_array_free(x);
        return -1;
    }
    if (jx_array_rank(x) != 3 || jx_array_rank(y) != 1 ||
        jx_array_dim(x, 0) != jx_array_dim(y, 0)) {
        char sx[128], sy[128];
        jx_type tx = jx_array_type(x), ty = jx_array_type(y);
        util_err("jx_mnist_load: %s: images %s and labels %s do not match (expected "
                 "[N,H,W] and [N])",
                 dir, jx_type_str(&tx, sx, sizeof sx), jx_type_str(&ty, sy, sizeof sy));
        jx_array_free(x);
        jx_array_free(y);
        return -1;
    }
    *images = x;
    *labels = y;
    return 0;
}
