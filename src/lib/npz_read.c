/* .npz reading: a zip archive (read with libzip) whose members are .npy images named
 * "<key>.npy", as numpy's savez and savez_compressed write them.
 *
 * Every member must be named "<key>.npy" with a non-empty key, hold an .npy image (read by
 * npy_read of npy.c, so the header rules and the load limit are those of jx_npy_load),
 * and appear once. Before a member is inflated, its declared uncompressed size is checked
 * against the load limit (plus the largest .npy header), so a zip bomb is refused
 * without decompressing it; the data read never exceeds what the .npy header declares.
 * Each member is read to its end so that libzip checks its CRC and size. Names are
 * decoded as the zip format says (UTF-8 when flagged, else CP437), as Python's zipfile
 * does. Errors: NULL and "<function>: <file>: [member '<name>': ]<problem>". */
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "jx.h"
#include "lib/npy.h"
#include "core/util.h"

/* The most bytes an .npy member may declare beyond its array: the 12-byte prefix and
 * numpy's header limit (4 bytes a character for UTF-8 headers). */
#define NPZ_HEADER_SLACK (12 + 4 * (size_t)NPY_MAX_HEADER)

/* An open archive and how to name it in messages. */
typedef struct npz_in {
    zip_t *za;
    const char *fn;  /* the public function */
    const char *src; /* the path, or "<buffer>" */
} npz_in;

/* An open member: libzip's handle and the "file: member 'x'" source text. */
typedef struct npz_member {
    zip_file_t *zf;
    const npz_in *in;
    char src[600];
} npz_member;

/* Reads up to len bytes of the member ctx (a util_read_fn; zip_fread returns short only
 * at the end). -1 with libzip's message (e.g. "CRC error") on a read error. */
static int64_t npz_fread(void *ctx, void *buf, size_t len) {
    npz_member *m = ctx;
    zip_int64_t r = len ? zip_fread(m->zf, buf, len) : 0;
    if (r < 0) {
        util_err("%s: %s: %s", m->in->fn, m->src, zip_file_strerror(m->zf));
        return -1;
    }
    return r;
}

/* Opens archive in->src (data/len when data is non-NULL, else the file) with libzip
 * flags; NULL with the error in *ze. *empty is set for a 0-byte input. */
static zip_t *npz_open_src(const npz_in *in, const void *data, size_t len, int flags,
                           zip_error_t *ze, int *empty) {
    zip_source_t *zs = data ? zip_source_buffer_create(data, len, 0, ze)
                            : zip_source_file_create(in->src, 0, -1, ze);
    zip_stat_t st;
    zip_stat_init(&st);
    *empty = zs && zip_source_stat(zs, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && !st.size;
    zip_t *za = zs && !*empty ? zip_open_from_source(zs, flags, ze) : NULL;
    if (zs && !za) zip_source_free(zs);
    return za;
}

static int npz_check_unique(const npz_in *in, char **keys, int n);

/* Names the duplicate member of the archive, which libzip's consistency check refused:
 * opens it without that check and compares the names. Returns -1 with a message. */
static int npz_report_dup(npz_in *in, const void *data, size_t len) {
    zip_error_t ze;
    zip_error_init(&ze);
    int empty = 0;
    zip_t *za = npz_open_src(in, data, len, ZIP_RDONLY, &ze, &empty);
    zip_error_fini(&ze);
    zip_int64_t n = za ? zip_get_num_entries(za, 0) : 0;
    char **names = n > 0 && n <= INT32_MAX ? calloc((size_t)n, sizeof *names) : NULL;
    int k = 0;
    while (names && k < n) {
        const char *s = zip_get_name(za, (zip_uint64_t)k, ZIP_FL_ENC_STRICT);
        size_t l = s ? strlen(s) : 0;
        if (!s || !(names[k] = malloc(l + 1))) break;
        memcpy(names[k], s, l + 1);
        if (l >= 4 && !strcmp(names[k] + l - 4, ".npy")) names[k][l - 4] = '\0';
        k++;
    }
    if (!names || k < n || npz_check_unique(in, names, k) == 0)
        util_err("%s: %s: duplicate member names in the archive", in->fn, in->src);
    for (int i = 0; names && i < k; i++) free(names[i]);
    free(names);
    if (za) zip_discard(za);
    return -1;
}

/* Opens archive src (data/len when data is non-NULL, else the file src) into *in, with
 * libzip's consistency checks (central directory against local headers, duplicates).
 * Returns 0 or -1 with a message (empty, not a zip, truncated, unreadable). */
static int npz_open(npz_in *in, const void *data, size_t len) {
    zip_error_t ze;
    zip_error_init(&ze);
    int empty = 0;
    in->za = npz_open_src(in, data, len, ZIP_RDONLY | ZIP_CHECKCONS, &ze, &empty);
    int code = zip_error_code_zip(&ze);
    if (in->za)
        code = ZIP_ER_OK;
    else if (empty)
        util_err("%s: %s: empty file (not a zip archive)", in->fn, in->src);
    else if (code == ZIP_ER_EXISTS)
        npz_report_dup(in, data, len);
    else if (code == ZIP_ER_NOZIP)
        util_err("%s: %s: not a zip archive (no end of central directory: not an .npz, or "
                 "truncated)", in->fn, in->src);
    else if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN)
        util_err("%s: cannot open %s: %s", in->fn, in->src, zip_error_strerror(&ze));
    else
        util_err("%s: %s: bad or truncated zip archive: %s", in->fn, in->src,
                 zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return in->za ? 0 : -1;
}

/* The key of member i ("<key>.npy" without ".npy") in a malloc'd string, or NULL with a
 * message: a name that does not end in .npy, an empty key, a directory. */
static char *npz_key(const npz_in *in, zip_uint64_t i) {
    const char *name = zip_get_name(in->za, i, ZIP_FL_ENC_STRICT);
    if (!name) {
        util_err("%s: %s: member %llu: %s", in->fn, in->src, (unsigned long long)i,
                 zip_strerror(in->za));
        return NULL;
    }
    size_t n = strlen(name);
    if (n < 4 || strcmp(name + n - 4, ".npy") != 0) {
        util_err("%s: %s: member '%s' is not an .npy member (its name does not end in "
                 "'.npy')", in->fn, in->src, name);
        return NULL;
    }
    if (n == 4) {
        util_err("%s: %s: member '.npy' has an empty name (key)", in->fn, in->src);
        return NULL;
    }
    char *key = malloc(n - 3);
    if (!key) {
        util_err("%s: %s: out of memory", in->fn, in->src);
        return NULL;
    }
    memcpy(key, name, n - 4);
    key[n - 4] = '\0';
    return key;
}

/* Reads the rest of member m (libzip checks the CRC and size at the end). 0 or -1. */
static int npz_drain(npz_member *m) {
    unsigned char scratch[4096];
    int64_t r;
    while ((r = npz_fread(m, scratch, sizeof scratch)) > 0) {
    }
    return r < 0 ? -1 : 0;
}

/* Reads member i (named key) as an array; NULL with a message. */
static jx_array *npz_member_read(const npz_in *in, zip_uint64_t i, const char *key) {
    npz_member m = {NULL, in, {0}};
    snprintf(m.src, sizeof m.src, "%s: member '%.500s.npy'", in->src, key);
    zip_stat_t st;
    if (zip_stat_index(in->za, i, 0, &st) != 0) {
        util_err("%s: %s: %s", in->fn, m.src, zip_strerror(in->za));
        return NULL;
    }
    size_t limit = jx_load_limit();
    if (!(st.valid & ZIP_STAT_SIZE)) {
        util_err("%s: %s: the archive does not give the member's size", in->fn, m.src);
        return NULL;
    }
    if (st.size > (zip_uint64_t)limit + NPZ_HEADER_SLACK) {
        util_err("%s: %s: declared size %llu bytes is over the load limit of %zu bytes "
                 "(raise it with jx_set_load_limit)", in->fn, m.src,
                 (unsigned long long)st.size, limit);
        return NULL;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        util_err("%s: %s: the member is encrypted", in->fn, m.src);
        return NULL;
    }
    m.zf = zip_fopen_index(in->za, i, 0);
    if (!m.zf) {
        util_err("%s: %s: %s", in->fn, m.src, zip_strerror(in->za));
        return NULL;
    }
    jx_array *a = npy_read(npz_fread, &m, (int64_t)st.size, in->fn, m.src);
    if (a && npz_drain(&m) < 0) {
        jx_array_free(a);
        a = NULL;
    }
    zip_fclose(m.zf);
    return a;
}

/* Compares two keys through pointers into an array of char * (for qsort). */
static int npz_cmp_key(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Fails with a message if two of the n keys are equal. 0 or -1. */
static int npz_check_unique(const npz_in *in, char **keys, int n) {
    char **s = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) return util_err("%s: %s: out of memory", in->fn, in->src);
    memcpy(s, keys, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, npz_cmp_key);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (!strcmp(s[i - 1], s[i]))
            rc = util_err("%s: %s: duplicate member '%.500s.npy'", in->fn, in->src, s[i]);
    free(s);
    return rc;
}

/* Reads every member of the open archive into a new jx_tree; NULL with a message. */
static jx_tree *npz_read_all(const npz_in *in) {
    zip_int64_t ne = zip_get_num_entries(in->za, 0);
    if (ne < 0 || ne > INT32_MAX) {
        util_err("%s: %s: bad number of members %lld", in->fn, in->src, (long long)ne);
        return NULL;
    }
    int n = (int)ne;
    jx_tree *z = calloc(1, sizeof *z);
    char **keys = calloc((size_t)(n ? n : 1), sizeof *keys);
    jx_array **arr = calloc((size_t)(n ? n : 1), sizeof *arr);
    if (!z || !keys || !arr) {
        free(z);
        free(keys);
        free(arr);
        util_err("%s: %s: out of memory", in->fn, in->src);
        return NULL;
    }
    z->paths = (const char **)keys;
    z->leaves = arr;
    z->cap = n ? n : 1;
    for (; z->n < n; z->n++)
        if (!(keys[z->n] = npz_key(in, (zip_uint64_t)z->n))) goto fail;
    if (npz_check_unique(in, keys, n) < 0) goto fail;
    for (int i = 0; i < n; i++)
        if (!(arr[i] = npz_member_read(in, (zip_uint64_t)i, keys[i]))) goto fail;
    return z;
fail:
    jx_tree_free(z);
    return NULL;
}

/* Opens, reads all members and closes; the shared body of jx_tree_load and _parse. */
static jx_tree *npz_load_all(const char *fn, const char *src, const void *data, size_t len) {
    npz_in in = {NULL, fn, src};
    if (npz_open(&in, data, len) < 0) return NULL;
    jx_tree *z = npz_read_all(&in);
    zip_discard(in.za);
    return z;
}

/* Loads every member of the .npz file at path. */
jx_tree *jx_tree_load(const char *path) {
    if (!path) {
        util_err("jx_tree_load: NULL path");
        return NULL;
    }
    return npz_load_all("jx_tree_load", path, NULL, 0);
}

/* The same from an archive image in memory. */
jx_tree *jx_tree_parse(const void *buf, size_t len) {
    if (!buf) {
        util_err("jx_tree_parse: <buffer>: NULL buffer");
        return NULL;
    }
    return npz_load_all("jx_tree_parse", "<buffer>", buf, len);
}

/* Finds the member of the open archive whose key is name; reads it. Every member's name
 * is checked as jx_tree_load does (a second member of that name is an error). */
static jx_array *npz_read_one(const npz_in *in, const char *name) {
    zip_int64_t ne = zip_get_num_entries(in->za, 0), at = -1;
    for (zip_int64_t i = 0; i < ne; i++) {
        char *key = npz_key(in, (zip_uint64_t)i);
        if (!key) return NULL;
        int same = !strcmp(key, name);
        free(key);
        if (same && at >= 0) {
            util_err("%s: %s: duplicate member '%.500s.npy'", in->fn, in->src, name);
            return NULL;
        }
        if (same) at = i;
    }
    if (at < 0) {
        util_err("%s: %s: no member '%.500s.npy' (the archive has %lld members)", in->fn,
                 in->src, name, (long long)ne);
        return NULL;
    }
    return npz_member_read(in, (zip_uint64_t)at, name);
}

/* Loads the member named name (its key, without ".npy") of the .npz file at path. */
jx_array *jx_npz_load_one(const char *path, const char *name) {
    const char *fn = "jx_npz_load_one";
    if (!path || !name || !*name) {
        util_err("%s: %s%s", fn, path ? path : "NULL path",
                 !path ? "" : !name ? ": NULL name" : ": empty name");
        return NULL;
    }
    npz_in in = {NULL, fn, path};
    if (npz_open(&in, NULL, 0) < 0) return NULL;
    jx_array *a = npz_read_one(&in, name);
    zip_discard(in.za);
    return a;
}
