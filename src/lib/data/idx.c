/* IDX files (the MNIST format): a big-endian header 00 00 <dtype> <rank>, rank u32 dims,
 * then the data. Only the unsigned-byte dtype (0x08) is supported. A file or buffer is
 * gzip data when it starts with 1f 8b (inflated with zlib, member after member as gzip(1)
 * does; a stream that ends early, a bad CRC or length, or bytes after the last member
 * fail) and plain IDX otherwise. The declared size is checked against the load limit
 * (jx_set_load_limit) and, for plain data of known size, against what is there, before
 * anything that large is allocated; the data goes into a buffer that grows with what
 * really arrives. Every message names the file ("<buffer>" for jx_idx_parse). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "jx/data.h"
#include "core/util.h"

#define IDX_CHUNK (1u << 20)
#define IDX_IN_CHUNK (1u << 16)
/* Largest element count accepted (16 GiB of f32): beyond it the dims are "absurd". */
#define IDX_MAX_ELEMS ((int64_t)1 << 32)

/* Where the bytes come from (a file or memory) and, for gzip data, the inflater. */
typedef struct idx_src {
    const char *name;
    FILE *f;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    int64_t size; /* raw size if known (memory, regular file), else -1 */
    int gz, zinit, member_done;
    z_stream zs;
    unsigned char in[IDX_IN_CHUNK];
} idx_src;

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

/* Reads up to n raw bytes; returns the count (0 at the end) or -1 on a read error. */
static int64_t idx_raw(idx_src *S, unsigned char *buf, size_t n) {
    if (!S->f) {
        size_t k = S->mem_len - S->mem_pos < n ? S->mem_len - S->mem_pos : n;
        if (k) memcpy(buf, S->mem + S->mem_pos, k);
        S->mem_pos += k;
        return (int64_t)k;
    }
    size_t k = fread(buf, 1, n, S->f);
    if (k < n && ferror(S->f))
        return util_err("idx: %s: read error: %s", S->name, strerror(errno));
    return (int64_t)k;
}

/* Tops the inflater's input up to at least `want` bytes (fewer at the end of the
 * input). Returns 0 or -1. */
static int idx_fill(idx_src *S, size_t want) {
    if (S->zs.avail_in >= want) return 0;
    if (S->zs.avail_in) memmove(S->in, S->zs.next_in, S->zs.avail_in);
    S->zs.next_in = S->in;
    while (S->zs.avail_in < want) {
        int64_t r = idx_raw(S, S->in + S->zs.avail_in, sizeof S->in - S->zs.avail_in);
        if (r < 0) return -1;
        if (r == 0) break;
        S->zs.avail_in += (uInt)r;
    }
    return 0;
}

/* Inflates up to n bytes into buf; returns the count (less than n only at the end of the
 * last gzip member) or -1 with a message. Checks what zlib checks (CRC-32 and length of
 * each member) and that nothing but further members follows. */
static int64_t idx_inflate(idx_src *S, unsigned char *buf, size_t n) {
    S->zs.next_out = buf;
    S->zs.avail_out = (uInt)n;
    while (S->zs.avail_out) {
        if (S->member_done) { /* another member, the end, or garbage */
            if (idx_fill(S, 2) < 0) return -1;
            if (!S->zs.avail_in) break;
            if (S->zs.avail_in < 2 || S->zs.next_in[0] != 0x1f || S->zs.next_in[1] != 0x8b)
                return util_err("idx: %s: trailing garbage after the gzip data", S->name);
            if (inflateReset(&S->zs) != Z_OK)
                return util_err("idx: %s: zlib: cannot reset the inflater", S->name);
            S->member_done = 0;
        }
        if (idx_fill(S, 1) < 0) return -1;
        if (!S->zs.avail_in)
            return util_err("idx: %s: truncated gzip data (the stream ends before its "
                            "end-of-data mark, CRC and length)", S->name);
        int rc = inflate(&S->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) S->member_done = 1;
        else if (rc == Z_MEM_ERROR) return util_err("idx: %s: out of memory in zlib", S->name);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return util_err("idx: %s: corrupt gzip data: %s", S->name,
                            S->zs.msg ? S->zs.msg : "zlib error");
    }
    return (int64_t)(n - S->zs.avail_out);
}

/* Reads up to n bytes of plain data: first those idx_start looked at, then the rest. */
static int64_t idx_plain(idx_src *S, unsigned char *buf, size_t n) {
    size_t k = S->zs.avail_in < n ? S->zs.avail_in : n;
    if (k) memcpy(buf, S->zs.next_in, k);
    S->zs.next_in += k;
    S->zs.avail_in -= (uInt)k;
    if (k == n) return (int64_t)k;
    int64_t r = idx_raw(S, buf + k, n - k);
    return r < 0 ? -1 : (int64_t)k + r;
}

/* Reads up to len decoded bytes into buf: returns len, fewer at the end of the data, or
 * -1 with a message naming the source. */
static int64_t idx_read(idx_src *S, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int64_t r = S->gz ? idx_inflate(S, (unsigned char *)buf + got, want)
                          : idx_plain(S, (unsigned char *)buf + got, want);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

/* Starts reading: gzip if the data starts with 1f 8b. Returns 0 or -1. */
static int idx_start(idx_src *S) {
    if (idx_fill(S, 2) < 0) return -1; /* zs.next_in/avail_in hold the first bytes */
    S->gz = S->zs.avail_in >= 2 && S->in[0] == 0x1f && S->in[1] == 0x8b;
    if (S->gz) {
        if (inflateInit2(&S->zs, 15 + 16) != Z_OK) /* gzip wrapper only */
            return util_err("idx: %s: zlib: cannot start the inflater", S->name);
        S->zinit = 1;
    }
    return 0;
}

/* Formats dims as "[d0,d1,...]" into s (16 * JX_MAX_RANK + 2 bytes). */
static void idx_dims_str(const jx_type *t, char *s, size_t cap) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < t->rank && k < cap; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    if (k < cap) snprintf(s + k, cap - k, "]");
}

/* Reads the header into *type's rank/shape (dtype left to the caller) and *numel.
 * Returns 0, or -1 with a message naming the source. */
static int idx_header(idx_src *S, jx_type *type, int64_t *numel) {
    unsigned char h[4], d[4 * JX_MAX_RANK];
    const char *path = S->name;
    int64_t r = idx_read(S, h, 4);
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
    r = idx_read(S, d, 4 * (size_t)rank);
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
        char s[16 * JX_MAX_RANK + 2];
        idx_dims_str(type, s, sizeof s);
        return util_err("idx: %s: absurd dims %s (more than 2^32 elements)", path, s);
    }
    *numel = n;
    return 0;
}

/* Checks the declared size before any data is read: the result (4 bytes an element)
 * against the load limit, and plain data of known size against what is there. */
static int idx_check_size(const idx_src *S, const jx_type *t, int64_t n) {
    size_t limit = jx_load_limit();
    if ((uint64_t)n > limit / 4) {
        char s[16 * JX_MAX_RANK + 2];
        idx_dims_str(t, s, sizeof s);
        return util_err("idx: %s: dims %s make an array of %llu bytes, over the load limit "
                        "of %zu bytes (raise it with jx_set_load_limit)", S->name, s,
                        (unsigned long long)n * 4, limit);
    }
    int64_t avail = S->size - 4 - 4 * (int64_t)t->rank;
    if (!S->gz && S->size >= 0 && avail < n)
        return util_err("idx: %s: truncated data: %lld of %lld bytes", S->name,
                        (long long)avail, (long long)n);
    if (!S->gz && S->size >= 0 && avail > n)
        return util_err("idx: %s: trailing data after %lld bytes", S->name, (long long)n);
    return 0;
}

/* util_read_fn over an idx_src (idx_read). */
static int64_t idx_read_fn(void *S, void *buf, size_t len) { return idx_read(S, buf, len); }

/* Reads the n data bytes (util_read_grown), then checks that nothing follows (for gzip:
 * that the stream ends properly). Returns the malloc'd buffer (at least 1 byte), or NULL
 * with a message. */
static unsigned char *idx_data(idx_src *S, int64_t n) {
    unsigned char *buf, extra;
    size_t got;
    int r = util_read_grown(idx_read_fn, S, (size_t)n, "idx", S->name, &buf, &got);
    if (r > 0)
        util_err("idx: %s: truncated data: %zu of %lld bytes", S->name, got, (long long)n);
    if (r) return NULL;
    int64_t k = idx_read(S, &extra, 1);
    if (k != 0) {
        free(buf);
        if (k > 0) util_err("idx: %s: trailing data after %lld bytes", S->name, (long long)n);
        return NULL;
    }
    return buf;
}

/* Loads the IDX data of S (see jx/data.h for flags and results). */
static jx_array *idx_load_src(idx_src *S, unsigned flags) {
    jx_type t = {0};
    int64_t n = 0;
    unsigned char *buf = NULL;
    if (idx_start(S) == 0 && idx_header(S, &t, &n) == 0 && idx_check_size(S, &t, n) == 0)
        buf = idx_data(S, n);
    if (S->zinit) inflateEnd(&S->zs);
    if (!buf) return NULL;
    int as_int = t.rank == 1 && !(flags & JX_IDX_F32);
    t.dtype = as_int ? JX_I32 : JX_F32;
    jx_array *a = jx_array_new_type(&t);
    if (!a) {
        free(buf);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", jx_error());
        util_err("idx: %s: %s", S->name, msg);
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

/* Loads path (see jx/data.h). */
jx_array *jx_idx_load_flags(const char *path, unsigned flags) {
    struct stat st;
    FILE *f = util_open_read("idx", path, &st);
    if (!f) return NULL;
    idx_src *S = calloc(1, sizeof *S);
    jx_array *a = NULL;
    if (!S) {
        util_err("idx: %s: out of memory", path);
    } else {
        int64_t size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
        *S = (idx_src){.name = path, .f = f, .size = size};
        a = idx_load_src(S, flags);
    }
    free(S);
    fclose(f);
    return a;
}

/* Loads path with default flags (labels i32, images raw f32). */
jx_array *jx_idx_load(const char *path) { return jx_idx_load_flags(path, 0); }

/* Loads an IDX image held in memory (see jx/data.h). */
jx_array *jx_idx_parse(const void *data, size_t len, unsigned flags) {
    if (!data && len) {
        util_err("idx: <buffer>: NULL buffer");
        return NULL;
    }
    idx_src *S = calloc(1, sizeof *S);
    if (!S) {
        util_err("idx: <buffer>: out of memory");
        return NULL;
    }
    *S = (idx_src){.name = "<buffer>", .mem = data, .mem_len = len, .size = (int64_t)len};
    jx_array *a = idx_load_src(S, flags);
    free(S);
    return a;
}

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
