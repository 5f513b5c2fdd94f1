/* Parameter trees on the host: named leaves in one ordered list (jx_tree, see jx.h), the
 * structure a model's parameters and an optimizer's state pass through jit, the
 * optimizers and .npz files as. Loading is in npz_read.c, saving in npz_write.c. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "lib/tree.h"

/* 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int tree_utf8_ok(const unsigned char *s, size_t n) {
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                 : (c & 0xf8) == 0xf0 ? 3 : 4; /* continuation bytes */
        if (k == 4 || k >= n - i) return 0;
        uint32_t cp = k ? c & (0x3fu >> k) : c;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += k + 1;
    }
    return 1;
}

/* See tree.h. */
const char *tree_path_problem(const char *path, char *buf, size_t len) {
    if (!path) return "is NULL";
    size_t n = strlen(path);
    if (!n) return "is empty";
    if (n > TREE_PATH_MAX) {
        snprintf(buf, len, "is %zu bytes, over the limit of %d", n, TREE_PATH_MAX);
        return buf;
    }
    return tree_utf8_ok((const unsigned char *)path, n) ? NULL : "is not valid UTF-8";
}

/* See jx.h. */
jx_tree *jx_tree_new(void) {
    jx_tree *t = calloc(1, sizeof *t);
    if (!t) util_err("jx_tree_new: out of memory");
    return t;
}

/* See jx.h. */
int jx_tree_find(const jx_tree *t, const char *path) {
    for (int i = 0; t && path && i < t->n; i++)
        if (!strcmp(t->paths[i], path)) return i;
    return -1;
}

/* See jx.h. */
jx_array *jx_tree_get(const jx_tree *t, const char *path) {
    int i = jx_tree_find(t, path);
    return i < 0 ? NULL : t->leaves[i];
}

/* Makes room for one more leaf. 0 or -1 (out of memory). */
static int tree_grow(jx_tree *t) {
    if (t->n < t->cap) return 0;
    int cap = t->cap ? 2 * t->cap : 8;
    const char **p = realloc(t->paths, (size_t)cap * sizeof *p);
    if (p) t->paths = p;
    jx_array **l = p ? realloc(t->leaves, (size_t)cap * sizeof *l) : NULL;
    if (l) t->leaves = l;
    if (!p || !l) return -1;
    t->cap = cap;
    return 0;
}

/* See jx.h. */
int jx_tree_add(jx_tree *t, const char *path, jx_array *leaf) {
    char buf[96];
    const char *why = tree_path_problem(path, buf, sizeof buf);
    if (!t) return util_err("jx_tree_add: NULL tree");
    if (why) return util_err("jx_tree_add: path %s", why);
    if (!leaf) return util_err("jx_tree_add: '%.200s': NULL leaf", path);
    if (jx_tree_find(t, path) >= 0)
        return util_err("jx_tree_add: '%.200s' is already a leaf of the tree", path);
    char *copy = strdup(path);
    if (!copy || tree_grow(t) < 0) {
        free(copy);
        return util_err("jx_tree_add: '%.200s': out of memory", path);
    }
    t->paths[t->n] = copy;
    t->leaves[t->n++] = jx_array_retain(leaf);
    return 0;
}

/* Formats a path from fmt into buf: the vsnprintf count (>= len: too long), or -1 for a
 * NULL fmt. */
static int tree_vpath(char *buf, size_t len, const char *fmt, va_list ap) {
    return fmt ? vsnprintf(buf, len, fmt, ap) : -1;
}

/* See jx.h. */
int jx_tree_put(jx_tree *t, jx_array *leaf, const char *fmt, ...) {
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    int n = tree_vpath(path, sizeof path, fmt, ap);
    va_end(ap);
    int rc;
    if (!fmt || n < 0 || (size_t)n >= sizeof path)
        rc = util_err("jx_tree_put: %s", fmt ? "path longer than 511 bytes" : "NULL path format");
    else if (!leaf) {
        char why[256]; /* the error of the call that made no leaf, kept as the cause */
        snprintf(why, sizeof why, "%s", jx_error());
        rc = util_err("jx_tree_put: '%.200s': no leaf%s%s", path, why[0] ? ": " : "", why);
    } else
        rc = jx_tree_add(t, path, leaf);
    jx_array_free(leaf);
    return rc;
}

/* See tree.h. */
int tree_path_under(const char *path, const char *prefix) {
    size_t len = strlen(prefix);
    return !strncmp(path, prefix, len) && (path[len] == '\0' || path[len] == '/');
}

/* See jx.h. */
int jx_tree_subtree(const jx_tree *t, const char *prefix, int *first) {
    if (!t || !prefix || !first) return util_err("jx_tree_subtree: NULL argument");
    int lo = -1, n = 0;
    for (int i = 0; i < t->n; i++) {
        if (!tree_path_under(t->paths[i], prefix)) continue;
        if (lo >= 0 && i != lo + n)
            return util_err("jx_tree_subtree: the leaves under '%.200s' are not consecutive "
                            "('%.200s' is leaf %d, '%.200s' leaf %d)", prefix,
                            t->paths[lo + n - 1], lo + n - 1, t->paths[i], i);
        if (lo < 0) lo = i;
        n++;
    }
    if (!n) return util_err("jx_tree_subtree: no leaf of the tree (%d leaves) is under '%.200s'",
                            t->n, prefix);
    *first = lo;
    return n;
}

/* See jx.h. */
jx_tree *jx_tree_copy(const jx_tree *t) {
    if (!t) {
        util_err("jx_tree_copy: NULL tree");
        return NULL;
    }
    jx_tree *c = jx_tree_new();
    for (int i = 0; c && i < t->n; i++) {
        jx_array *leaf = jx_array_copy(t->leaves[i]);
        int rc = leaf ? jx_tree_add(c, t->paths[i], leaf) : -1;
        jx_array_free(leaf);
        if (rc < 0) {
            char why[256]; /* jx_error's buffer is the one util_err writes */
            snprintf(why, sizeof why, "%s", jx_error());
            util_err("jx_tree_copy: '%.200s' (leaf %d of %d): %s", t->paths[i], i + 1, t->n,
                     why);
            jx_tree_free(c);
            c = NULL;
        }
    }
    return c;
}

/* See jx.h. */
int jx_tree_assign(jx_tree *dst, const jx_tree *src) {
    if (!dst || !src) return util_err("jx_tree_assign: NULL tree");
    if (dst->n != src->n)
        return util_err("jx_tree_assign: the source has %d leaves, the destination %d", src->n,
                        dst->n);
    for (int i = 0; i < dst->n; i++) {
        jx_type a = jx_array_type(dst->leaves[i]), b = jx_array_type(src->leaves[i]);
        char as[96], bs[96];
        if (strcmp(dst->paths[i], src->paths[i]))
            return util_err("jx_tree_assign: leaf %d is '%.200s' in the source, '%.200s' in "
                            "the destination", i, src->paths[i], dst->paths[i]);
        if (!jx_type_eq(&a, &b))
            return util_err("jx_tree_assign: '%.200s' is %s in the source, %s in the "
                            "destination", dst->paths[i], jx_type_str(&b, bs, sizeof bs),
                            jx_type_str(&a, as, sizeof as));
    }
    for (int i = 0; i < dst->n; i++) /* memmove: a leaf may be shared by both trees */
        memmove(jx_array_data(dst->leaves[i]), jx_array_cdata(src->leaves[i]),
                jx_array_nbytes(src->leaves[i]));
    return 0;
}

/* See jx.h. */
jx_val jx_tree_val_at(jx_loc loc, const jx_tree *t, const jx_val *in, const char *fmt, ...) {
    char path[512], msg[768];
    va_list ap;
    va_start(ap, fmt);
    int n = tree_vpath(path, sizeof path, fmt, ap);
    va_end(ap);
    int i = n >= 0 && (size_t)n < sizeof path ? jx_tree_find(t, path) : -1;
    if (t && in && i >= 0) return in[i];
    if (!t || !in || n < 0)
        snprintf(msg, sizeof msg, "tree_val: NULL %s", !t ? "tree" : !in ? "inputs" : "path");
    else
        snprintf(msg, sizeof msg, "tree_val: no leaf '%.200s%s' in the tree of %d leaves", path,
                 (size_t)n >= sizeof path ? "..." : "", t->n);
    return jx_trace_fail_at(loc, in ? in[0].t : NULL, msg);
}

/* See jx.h. */
void jx_tree_free(jx_tree *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free((char *)t->paths[i]);
        jx_array_free(t->leaves[i]);
    }
    free(t->paths);
    free(t->leaves);
    free(t);
}

/* See jx.h. */
int jx_tree_save(const jx_tree *t, const char *path, int flags) {
    if (!t) return util_err("jx_tree_save: NULL tree");
    return jx_npz_save(path, t->n, t->paths, t->leaves, flags);
}
