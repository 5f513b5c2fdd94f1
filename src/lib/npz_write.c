/* .npz writing with libzip: one member "<name>.npy" per array, each an .npy 1.0 image as
 * jx_npy_save writes it, stored or deflated (numpy's savez / savez_compressed).
 *
 * The member data is not copied: each member's source is two fragments, the .npy header
 * (npy_header_write) and the array's own bytes (on a little-endian host; elsewhere a
 * byte-swapped copy from jx_npy_dump). libzip writes the archive to a temporary file in
 * the target's directory on zip_close and renames it over the target only once it is
 * complete, so an interrupted or failed save leaves any previous file intact. (libzip
 * removes instead of writing an archive with no members, so the empty archive, a lone
 * end-of-central-directory record, goes through the same temp-and-rename here.) */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "jx.h"
#include "lib/npy.h"
#include "lib/tree.h"
#include "core/util.h"

/* Compares two names through pointers into an array of const char * (for qsort). */
static int npz_cmp_name(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Checks the arguments of jx_npz_save: names non-empty, valid UTF-8, short enough for a
 * zip name and distinct; arrays non-NULL; flags known. 0 or -1 with a message. */
static int npz_check_args(const char *path, int n, const char *const *names,
                          jx_array *const *arrays, int flags) {
    const char *fn = "jx_npz_save";
    if (!path) return util_err("%s: NULL path", fn);
    if (n < 0) return util_err("%s: %s: negative count %d", fn, path, n);
    if (n && (!names || !arrays))
        return util_err("%s: %s: NULL %s", fn, path, !names ? "names" : "arrays");
    if (flags & ~JX_NPZ_COMPRESSED) return util_err("%s: %s: unknown flags 0x%x", fn, path, flags);
    for (int i = 0; i < n; i++) {
        const char *s = names[i];
        char buf[96];
        const char *why = tree_path_problem(s, buf, sizeof buf);
        if (why) return util_err("%s: %s: names[%d] %s", fn, path, i, why);
        if (!arrays[i]) return util_err("%s: %s: arrays[%d] ('%.200s') is NULL", fn, path, i, s);
    }
    const char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) return util_err("%s: %s: out of memory", fn, path);
    if (n) memcpy(sorted, names, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, npz_cmp_name);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (!strcmp(sorted[i - 1], sorted[i]))
            rc = util_err("%s: %s: duplicate name '%.200s'", fn, path, sorted[i]);
    free(sorted);
    return rc;
}

/* Writes the empty archive (a 22-byte end-of-central-directory record, what numpy's
 * savez writes for no arrays) to a new file "<path>.<pid>.<k>" (mode 0666 less the umask,
 * as libzip's temporary files) and renames it over path. 0 or -1 with a message. */
static int npz_save_empty(const char *path) {
    static const unsigned char eocd[22] = {'P', 'K', 5, 6};
    static _Atomic unsigned npz_tmp_seq;
    size_t n = strlen(path) + 48;
    char *tmp = malloc(n);
    if (!tmp) return util_err("jx_npz_save: %s: out of memory", path);
    int fd = -1, e = 0;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, n, "%s.%ld.%u", path, (long)getpid(), npz_tmp_seq++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        e = errno;
        if (fd < 0 && e != EEXIST) break;
    }
    if (fd < 0) {
        free(tmp);
        return util_err("jx_npz_save: %s: cannot create a temporary file: %s", path,
                        strerror(e));
    }
    int ok = write(fd, eocd, sizeof eocd) == (ssize_t)sizeof eocd;
    e = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        util_err("jx_npz_save: %s: %s", path, strerror(e));
    }
    free(tmp);
    return ok ? 0 : -1;
}

/* Adds arrays[i] as member "<names[i]>.npy" of za with compression method cm. The header
 * goes to hdr (NPY_HEADER_WRITE_MAX bytes, kept by the caller until the archive is
 * closed); on a big-endian host *own receives a swapped copy the caller frees after.
 * 0 or -1 with a message. */
static int npz_add(zip_t *za, const char *path, const char *name, const jx_array *a,
                   zip_uint16_t cm, unsigned char *hdr, void **own) {
    zip_buffer_fragment_t fr[2];
    int nf = 0;
    if (npy_host_le()) {
        fr[nf++] = (zip_buffer_fragment_t){hdr, npy_header_write(a, hdr)};
        size_t nb = jx_array_nbytes(a);
        if (nb) fr[nf++] = (zip_buffer_fragment_t){(zip_uint8_t *)jx_array_cdata(a), nb};
    } else {
        size_t len = 0;
        if (!(*own = jx_npy_dump(a, &len))) return -1;
        fr[nf++] = (zip_buffer_fragment_t){*own, len};
    }
    size_t nlen = strlen(name);
    char *member = malloc(nlen + 5);
    zip_source_t *zs = member ? zip_source_buffer_fragment(za, fr, (zip_uint64_t)nf, 0) : NULL;
    zip_int64_t idx = -1;
    if (zs) {
        memcpy(member, name, nlen);
        memcpy(member + nlen, ".npy", 5);
        idx = zip_file_add(za, member, zs, ZIP_FL_ENC_UTF_8);
        if (idx < 0) zip_source_free(zs);
    }
    free(member);
    if (idx < 0 || zip_set_file_compression(za, (zip_uint64_t)idx, cm, 0) != 0)
        return util_err("jx_npz_save: %s: member '%.200s.npy': %s", path, name,
                        member ? zip_strerror(za) : "out of memory");
    return 0;
}

/* Builds the archive: opens path for writing (nothing touches it before zip_close),
 * adds the members and closes (libzip's temp file and rename). 0 or -1. */
static int npz_write(const char *path, int n, const char *const *names,
                     jx_array *const *arrays, zip_uint16_t cm) {
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        util_err("jx_npz_save: %s: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    unsigned char *hdr = malloc((size_t)n * NPY_HEADER_WRITE_MAX);
    void **own = calloc((size_t)n, sizeof *own);
    int rc = hdr && own ? 0 : util_err("jx_npz_save: %s: out of memory", path);
    for (int i = 0; i < n && !rc; i++)
        rc = npz_add(za, path, names[i], arrays[i], cm, hdr + (size_t)i * NPY_HEADER_WRITE_MAX,
                     &own[i]);
    if (!rc && zip_close(za) != 0)
        rc = util_err("jx_npz_save: %s: writing the archive: %s", path, zip_strerror(za));
    else if (!rc)
        za = NULL;
    if (za) zip_discard(za);
    for (int i = 0; own && i < n; i++) free(own[i]);
    free(own);
    free(hdr);
    return rc;
}

/* Saves n named arrays to path as an .npz (see jx.h). */
int jx_npz_save(const char *path, int n, const char *const *names, jx_array *const *arrays,
                int flags) {
    if (npz_check_args(path, n, names, arrays, flags) < 0) return -1;
    if (n == 0) return npz_save_empty(path);
    return npz_write(path, n, names, arrays,
                     flags & JX_NPZ_COMPRESSED ? ZIP_CM_DEFLATE : ZIP_CM_STORE);
}
