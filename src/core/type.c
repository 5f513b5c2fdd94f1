/* Dtypes, types and shape arithmetic. */
#include <string.h>

#include "core/ir.h"
#include "core/util.h"

static const char *const type_names[JX_NDTYPES] = {"f32", "f64", "i32", "u32", "bool"};
static const size_t type_sizes[JX_NDTYPES] = {4, 8, 4, 4, 1};

/* Name of dt, or "?" for an invalid dtype. */
const char *jx_dtype_name(jx_dtype dt) {
    return (unsigned)dt < JX_NDTYPES ? type_names[dt] : "?";
}

/* Bytes per element of dt, 0 for an invalid dtype. */
size_t jx_dtype_size(jx_dtype dt) { return (unsigned)dt < JX_NDTYPES ? type_sizes[dt] : 0; }

/* Element count of t, or -1 if a dim is negative or the count overflows. */
int64_t jx_type_size(const jx_type *t) { return t ? util_numel(t->rank, t->shape) : -1; }

/* Formats "f32[2,3]" into buf. */
char *jx_type_str(const jx_type *t, char *buf, size_t len) {
    if (!buf || !len) return buf;
    if (!t) {
        snprintf(buf, len, "(null type)");
        return buf;
    }
    size_t k = (size_t)snprintf(buf, len, "%s[", jx_dtype_name(t->dtype));
    int rank = t->rank < 0 ? 0 : t->rank > JX_MAX_RANK ? JX_MAX_RANK : t->rank;
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}

/* 1 if a and b have the same dtype and shape. */
int jx_type_eq(const jx_type *a, const jx_type *b) {
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Product of dims; -1 on a negative dim, a bad rank or a product past 2^62. */
int64_t util_numel(int rank, const int64_t *shape) {
    if (rank < 0 || rank > JX_MAX_RANK) return -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) n = 0;
    }
    if (n == 0) return 0;
    for (int i = 0; i < rank; i++) {
        if (shape[i] > ((int64_t)1 << 62) / n) return -1;
        n *= shape[i];
    }
    return n;
}

/* See ir.h: dtype, rank, dims >= 0, and the extent (dims with zeros counted as 1) times
 * the dtype size at most JX_MAX_BYTES, so every sub-product of dims, every stride and
 * every byte size of the type fits in int64 with room to add a few. */
int ir_type_check(const jx_type *t, char *why, size_t len) {
    if ((unsigned)t->dtype >= JX_NDTYPES)
        return util_errbuf(why, len, "has an invalid dtype %d", (int)t->dtype);
    if (t->rank < 0 || t->rank > JX_MAX_RANK)
        return util_errbuf(why, len, "has rank %d, outside 0..%d", t->rank, JX_MAX_RANK);
    int64_t limit = JX_MAX_BYTES / (int64_t)jx_dtype_size(t->dtype), extent = 1;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->shape[i];
        if (d < 0) return util_errbuf(why, len, "has a negative dimension %lld", (long long)d);
        if (d > 1 && extent > limit / d)
            return util_errbuf(why, len, "is too large: more than the maximum of 2^60 bytes "
                                         "(JX_MAX_BYTES, zero dims counted as 1)");
        if (d > 1) extent *= d;
    }
    return 0;
}

/* Row-major element strides of a shape. */
void util_strides(int rank, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

/* Formats "f32[2], i32[]" into buf. */
void ir_types_str(int n, const jx_type *t, char *buf, size_t len) {
    size_t k = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < n && k + 1 < len; i++) {
        char one[160];
        jx_type_str(&t[i], one, sizeof one);
        k += (size_t)snprintf(buf + k, len - k, i ? ", %s" : "%s", one);
    }
}
