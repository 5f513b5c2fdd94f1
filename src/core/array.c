/* Host arrays: refcounted, 64-byte-aligned, row-major buffers of one of the five dtypes.
 *
 * An array owns its buffer (allocated here with aligned_alloc) or wraps caller memory
 * and calls the caller's release callback when the last reference goes. The refcount is
 * a C11 atomic so retain/free may race across threads. Bad arguments never crash: they
 * return NULL (or a neutral value) and leave a message naming the function in jx_error(). */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jx.h"
#include "core/util.h"

#define ARR_ALIGN 64

struct jx_array {
    atomic_long refs;
    jx_type type;
    int64_t size;   /* number of elements */
    size_t nbytes;  /* size * dtype size */
    void *data;     /* never NULL for owned arrays; may be NULL for empty wrapped ones */
    void (*release)(void *ctx, void *data); /* wrapped arrays only (may be NULL) */
    void *ctx;
    int owned;      /* 1: data came from aligned_alloc and is freed here */
};

/* Writes "dt[d0,d1,...]" for a possibly invalid dtype/rank/shape into buf (at most the
 * first 12 dims of a longer shape, then "..."). Returns buf. */
static const char *arr_shape_str(jx_dtype dt, int rank, const int64_t *shape, char *buf,
                                 size_t len) {
    size_t k = 0;
    const char *name = (unsigned)dt < JX_NDTYPES ? jx_dtype_name(dt) : "?";
    int w = (unsigned)dt < JX_NDTYPES ? snprintf(buf, len, "%s[", name)
                                      : snprintf(buf, len, "dtype(%d)[", (int)dt);
    if (w < 0) return buf;
    k = (size_t)w < len ? (size_t)w : len - 1;
    if (!shape && rank > 0) {
        snprintf(buf + k, len - k, "<NULL shape, rank %d>]", rank);
        return buf;
    }
    for (int i = 0; i < rank && k + 1 < len; i++) {
        if (i == 12) {
            w = snprintf(buf + k, len - k, ",...");
        } else {
            w = snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)shape[i]);
        }
        if (w < 0) return buf;
        k += (size_t)w < len - k ? (size_t)w : len - k - 1;
        if (i == 12) break;
    }
    if (k + 1 < len) snprintf(buf + k, len - k, "]");
    return buf;
}

/* Validates dtype, rank and shape for function fn; on success stores the element count
 * and byte size and returns 0, else sets jx_error() ("fn: <problem> in f32[2,-1]") and
 * returns -1. */
static int arr_check(const char *fn, jx_dtype dt, int rank, const int64_t *shape,
                     int64_t *size, size_t *nbytes) {
    char s[256];
    if ((unsigned)dt >= JX_NDTYPES)
        return util_err("%s: bad dtype %d (shape %s)", fn, (int)dt,
                        arr_shape_str(dt, rank, shape, s, sizeof s));
    if (rank < 0 || rank > JX_MAX_RANK)
        return util_err("%s: rank %d out of range 0..%d (shape %s)", fn, rank, JX_MAX_RANK,
                        arr_shape_str(dt, rank > 0 ? rank : 0, shape, s, sizeof s));
    if (rank > 0 && !shape)
        return util_err("%s: NULL shape with rank %d", fn, rank);
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0)
            return util_err("%s: negative dimension %lld at axis %d in shape %s", fn,
                            (long long)shape[i], i, arr_shape_str(dt, rank, shape, s, sizeof s));
    int64_t n = util_numel(rank, shape);
    size_t es = jx_dtype_size(dt);
    if (n < 0 || (uint64_t)n > ((uint64_t)PTRDIFF_MAX - ARR_ALIGN) / es)
        return util_err("%s: shape %s is too large (byte size overflows)", fn,
                        arr_shape_str(dt, rank, shape, s, sizeof s));
    *size = n;
    *nbytes = (size_t)n * es;
    return 0;
}

/* A new header with refcount 1 and the given (already checked) type; NULL on OOM. */
static jx_array *arr_header(jx_dtype dt, int rank, const int64_t *shape, int64_t size,
                            size_t nbytes) {
    jx_array *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    atomic_init(&a->refs, 1);
    a->type.dtype = dt;
    a->type.rank = rank;
    for (int i = 0; i < rank; i++) a->type.shape[i] = shape[i];
    a->size = size;
    a->nbytes = nbytes;
    return a;
}

/* An owned, uninitialized array (checked); NULL with a message naming fn on error. */
/* The largest allocation worth attempting: the machine's physical memory (so absurd sizes
 * get a clear error instead of an allocator abort or an endless zero-fill). */
static size_t arr_max_bytes(void) {
    static _Atomic size_t cached; /* computed once; a race computes the same value twice */
    size_t v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v) return v;
    v = (size_t)1 << 40;
#ifdef _SC_PHYS_PAGES
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0) v = (size_t)pages * (size_t)psize;
#endif
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

static jx_array *arr_alloc(const char *fn, jx_dtype dt, int rank, const int64_t *shape) {
    int64_t size;
    size_t nbytes;
    if (arr_check(fn, dt, rank, shape, &size, &nbytes) < 0) return NULL;
    size_t cap = (nbytes + ARR_ALIGN - 1) / ARR_ALIGN * ARR_ALIGN;
    if (cap == 0) cap = ARR_ALIGN;
    if (cap > arr_max_bytes()) {
        char s[256];
        util_err("%s: %s needs %zu bytes, more than this machine's memory", fn,
                 arr_shape_str(dt, rank, shape, s, sizeof s), cap);
        return NULL;
    }
    jx_array *a = arr_header(dt, rank, shape, size, nbytes);
    void *data = a ? aligned_alloc(ARR_ALIGN, cap) : NULL;
    if (!data) {
        char s[256];
        free(a);
        util_err("%s: out of memory allocating %zu bytes for %s", fn, cap,
                 arr_shape_str(dt, rank, shape, s, sizeof s));
        return NULL;
    }
    a->data = data;
    a->owned = 1;
    return a;
}

/* New zero-filled array; NULL with a message on bad dtype/rank/shape or overflow. */
jx_array *jx_array_new(jx_dtype dt, int rank, const int64_t *shape) {
    jx_array *a = arr_alloc("jx_array_new", dt, rank, shape);
    if (a) memset(a->data, 0, a->nbytes);
    return a;
}

/* New zero-filled array of type t (NULL t is an error). */
jx_array *jx_array_new_type(const jx_type *t) {
    if (!t) {
        util_err("jx_array_new_type: NULL type");
        return NULL;
    }
    jx_array *a = arr_alloc("jx_array_new_type", t->dtype, t->rank, t->shape);
    if (a) memset(a->data, 0, a->nbytes);
    return a;
}

/* New array holding a copy of size * dtype-size bytes from data (data may be NULL only
 * when the array is empty). */
jx_array *jx_array_from(jx_dtype dt, int rank, const int64_t *shape, const void *data) {
    jx_array *a = arr_alloc("jx_array_from", dt, rank, shape);
    if (!a) return NULL;
    if (a->nbytes && !data) {
        char s[256];
        util_err("jx_array_from: NULL data for non-empty shape %s",
                 arr_shape_str(dt, rank, shape, s, sizeof s));
        jx_array_free(a);
        return NULL;
    }
    if (a->nbytes) memcpy(a->data, data, a->nbytes);
    return a;
}

/* New rank-0 array holding v converted to dt (see jx_array_set for the conversion). */
jx_array *jx_array_scalar(jx_dtype dt, double v) {
    jx_array *a = arr_alloc("jx_array_scalar", dt, 0, NULL);
    if (a) jx_array_set(a, 0, v);
    return a;
}

/* Wraps caller memory without copying; release(ctx, data) runs exactly once when the
 * last reference goes (release may be NULL). data must be non-NULL for a non-empty
 * shape and aligned to the dtype size. On error release is NOT called. */
jx_array *jx_array_wrap(jx_dtype dt, int rank, const int64_t *shape, void *data,
                        void (*release)(void *ctx, void *data), void *ctx) {
    int64_t size;
    size_t nbytes;
    char s[256];
    if (arr_check("jx_array_wrap", dt, rank, shape, &size, &nbytes) < 0) return NULL;
    if (nbytes && !data) {
        util_err("jx_array_wrap: NULL data for non-empty shape %s",
                 arr_shape_str(dt, rank, shape, s, sizeof s));
        return NULL;
    }
    if ((uintptr_t)data % jx_dtype_size(dt)) {
        util_err("jx_array_wrap: data %p is not aligned to %zu bytes for %s", data,
                 jx_dtype_size(dt), arr_shape_str(dt, rank, shape, s, sizeof s));
        return NULL;
    }
    jx_array *a = arr_header(dt, rank, shape, size, nbytes);
    if (!a) {
        util_err("jx_array_wrap: out of memory");
        return NULL;
    }
    a->data = data;
    a->release = release;
    a->ctx = ctx;
    a->owned = 0;
    return a;
}

/* Deep copy into a new owned array (NULL a is an error). */
jx_array *jx_array_copy(const jx_array *a) {
    if (!a) {
        util_err("jx_array_copy: NULL array");
        return NULL;
    }
    jx_array *b = arr_alloc("jx_array_copy", a->type.dtype, a->type.rank, a->type.shape);
    if (b && a->nbytes) memcpy(b->data, a->data, a->nbytes);
    return b;
}

/* Adds a reference; returns a (NULL stays NULL). */
jx_array *jx_array_retain(jx_array *a) {
    if (a) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

/* Drops a reference; the last one frees the buffer (or calls release) and the header. */
void jx_array_free(jx_array *a) {
    if (!a) return;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
    if (a->owned) free(a->data);
    else if (a->release) a->release(a->ctx, a->data);
    free(a);
}

/* Accessors: NULL arrays give neutral values (JX_NDTYPES, 0, NULL). */
jx_dtype jx_array_dtype(const jx_array *a) { return a ? a->type.dtype : JX_NDTYPES; }
int jx_array_rank(const jx_array *a) { return a ? a->type.rank : 0; }
const int64_t *jx_array_shape(const jx_array *a) { return a ? a->type.shape : NULL; }
int64_t jx_array_size(const jx_array *a) { return a ? a->size : 0; }
size_t jx_array_nbytes(const jx_array *a) { return a ? a->nbytes : 0; }
void *jx_array_data(jx_array *a) { return a ? a->data : NULL; }
const void *jx_array_cdata(const jx_array *a) { return a ? a->data : NULL; }

/* Extent of axis (negative axes count from the end); -1 with a message if out of range. */
int64_t jx_array_dim(const jx_array *a, int axis) {
    if (!a) {
        util_err("jx_array_dim: NULL array");
        return -1;
    }
    int ax = axis < 0 ? axis + a->type.rank : axis;
    if (ax < 0 || ax >= a->type.rank) {
        util_err("jx_array_dim: axis %d out of range for rank %d", axis, a->type.rank);
        return -1;
    }
    return a->type.shape[ax];
}

/* The array's type (dtype JX_NDTYPES, rank 0 for NULL). */
jx_type jx_array_type(const jx_array *a) {
    if (!a) return (jx_type){JX_NDTYPES, 0, {0}};
    return a->type;
}

/* double -> int32 by truncation toward zero, saturating; NaN gives 0. */
static int32_t arr_to_i32(double v) {
    if (isnan(v)) return 0;
    if (v <= (double)INT32_MIN) return INT32_MIN;
    if (v >= (double)INT32_MAX) return INT32_MAX;
    return (int32_t)v;
}

/* double -> uint32 by truncation toward zero, saturating; NaN and negatives give 0. */
static uint32_t arr_to_u32(double v) {
    if (isnan(v) || v <= 0) return 0;
    if (v >= (double)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)v;
}

/* Stores v converted to dt at p: floats round to nearest, integers truncate toward zero
 * and saturate (NaN -> 0), bool is v != 0 (NaN -> 1). */
static void arr_store(jx_dtype dt, void *p, double v) {
    switch (dt) {
    case JX_F32: *(float *)p = (float)v; break;
    case JX_F64: *(double *)p = v; break;
    case JX_I32: *(int32_t *)p = arr_to_i32(v); break;
    case JX_U32: *(uint32_t *)p = arr_to_u32(v); break;
    case JX_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
    }
}

/* Loads the element at p as a double (bool: any nonzero byte reads as 1). */
static double arr_load(jx_dtype dt, const void *p) {
    switch (dt) {
    case JX_F32: return *(const float *)p;
    case JX_F64: return *(const double *)p;
    case JX_I32: return *(const int32_t *)p;
    case JX_U32: return *(const uint32_t *)p;
    case JX_BOOL: return *(const uint8_t *)p != 0;
    default: return NAN;
    }
}

/* Sets every element to v converted to the dtype (NULL array is an error). */
void jx_array_fill(jx_array *a, double v) {
    if (!a) {
        util_err("jx_array_fill: NULL array");
        return;
    }
    size_t es = jx_dtype_size(a->type.dtype);
    char *p = a->data;
    for (int64_t i = 0; i < a->size; i++) arr_store(a->type.dtype, p + (size_t)i * es, v);
}

/* Element i (flat, row-major) as a double; NaN with a message if a is NULL or i is out
 * of range. */
double jx_array_get(const jx_array *a, int64_t i) {
    if (!a) {
        util_err("jx_array_get: NULL array");
        return NAN;
    }
    if (i < 0 || i >= a->size) {
        char s[256];
        util_err("jx_array_get: index %lld out of range for %s (size %lld)", (long long)i,
                 arr_shape_str(a->type.dtype, a->type.rank, a->type.shape, s, sizeof s),
                 (long long)a->size);
        return NAN;
    }
    return arr_load(a->type.dtype,
                    (const char *)a->data + (size_t)i * jx_dtype_size(a->type.dtype));
}

/* Sets element i from v (converted as in arr_store); out of range leaves the array
 * unchanged and sets a message. */
void jx_array_set(jx_array *a, int64_t i, double v) {
    if (!a) {
        util_err("jx_array_set: NULL array");
        return;
    }
    if (i < 0 || i >= a->size) {
        char s[256];
        util_err("jx_array_set: index %lld out of range for %s (size %lld)", (long long)i,
                 arr_shape_str(a->type.dtype, a->type.rank, a->type.shape, s, sizeof s),
                 (long long)a->size);
        return;
    }
    arr_store(a->type.dtype, (char *)a->data + (size_t)i * jx_dtype_size(a->type.dtype), v);
}
