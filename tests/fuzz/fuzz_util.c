/* Helpers of the libFuzzer targets (see fuzz_util.h). */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Creates the memfd behind f; aborts if the kernel refuses. */
void fz_file_init(fz_file *f, const char *name) {
    f->fd = memfd_create(name, MFD_CLOEXEC);
    if (f->fd < 0) fz_fail("fuzz: memfd_create(%s) failed", name);
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

/* Truncates f and writes data at offset 0. */
const char *fz_file_put(fz_file *f, const void *data, size_t n) {
    if (ftruncate(f->fd, 0) != 0) fz_fail("fuzz: ftruncate(%s) failed", f->path);
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(f->fd, (const char *)data + done, n - done, (off_t)done);
        if (w <= 0) fz_fail("fuzz: pwrite(%s) failed", f->path);
        done += (size_t)w;
    }
    return f->path;
}

/* Prints the message and aborts. */
void fz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ INVARIANT BROKEN: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Checks that the last failure left a message. */
void fz_need_error(const char *what) {
    const char *e = jx_error();
    if (!e || !e[0]) fz_fail("%s failed without a message in jx_error()", what);
}

/* Compares dtype, shape and raw bytes. */
int fz_array_same(const jx_array *a, const jx_array *b) {
    if (!a || !b) return a == b;
    if (jx_array_dtype(a) != jx_array_dtype(b) || jx_array_rank(a) != jx_array_rank(b))
        return 0;
    for (int i = 0; i < jx_array_rank(a); i++)
        if (jx_array_dim(a, i) != jx_array_dim(b, i)) return 0;
    size_t n = jx_array_nbytes(a);
    return n == jx_array_nbytes(b) && (n == 0 || !memcmp(jx_array_cdata(a), jx_array_cdata(b), n));
}
