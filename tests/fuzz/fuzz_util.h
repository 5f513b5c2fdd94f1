/* Helpers shared by the libFuzzer targets in tests/fuzz (see tools/fuzz):
 * a reusable in-memory file for readers that only take a path, and a way to report a
 * broken invariant as a crash that libFuzzer records. */
#ifndef JX_FUZZ_UTIL_H
#define JX_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jx.h>

/* A memory-backed file (memfd) and a path that opens it, "/proc/self/fd/N". */
typedef struct fz_file {
    int fd;
    char path[64];
} fz_file;

/* Creates the file once (name is only for /proc listings); aborts on failure. */
void fz_file_init(fz_file *f, const char *name);

/* Replaces the file's content with data[0..n-1]; aborts on failure. Returns f->path. */
const char *fz_file_put(fz_file *f, const void *data, size_t n);

/* Reports a broken invariant (printf-style) on stderr and aborts, so libFuzzer keeps the
 * input as a crash. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Aborts unless jx_error() holds a non-empty message (every failing reader call must say
 * why); what names the call for the report. */
void fz_need_error(const char *what);

/* 1 if a and b have the same dtype, shape and bytes; 0 otherwise. NULLs compare equal only
 * to each other. */
int fz_array_same(const jx_array *a, const jx_array *b);

#endif
