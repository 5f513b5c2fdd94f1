/* Small internal helpers shared by every module: error reporting and checked sizes. */
#ifndef JX_UTIL_H
#define JX_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct stat;

#include "jx.h"

/* Sets jx_error() to the formatted message. Returns -1 for `return util_err(...)`. */
int util_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int util_verr(const char *fmt, va_list ap);
/* Writes a formatted message into a rule's err buffer (errlen may be 0); returns -1. */
int util_errbuf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Product of dims with overflow and negativity checks: -1 on a negative dim or a product
 * over 2^62. */
int64_t util_numel(int rank, const int64_t *shape);

/* Row-major strides (in elements) of a shape. */
void util_strides(int rank, const int64_t *shape, int64_t *strides);

/* Opens path for binary reading and fstats it into *st; NULL with "who: ..." in
 * jx_error() for a NULL path, an open or stat failure, or a directory. */
FILE *util_open_read(const char *who, const char *path, struct stat *st);
/* Creates dir and its missing parents as mkdir -p does (mode less the umask). 0, or -1
 * with errno (ENOTDIR: dir or a parent exists but is not a directory; ENOENT: empty dir;
 * ENAMETOOLONG: over 4095 bytes). */
int util_mkdirs(const char *dir, unsigned mode);

/* A source of bytes for util_read_grown: reads up to len bytes into buf and returns the
 * count (fewer than len only at the end of the input), or -1 with a message. */
typedef int64_t (*util_read_fn)(void *ctx, void *buf, size_t len);

/* Reads n bytes from rd into a malloc'd buffer (at least 1 byte) that grows as the data
 * arrives (from 1 MiB, doubling), so a size a header claims but the input does not hold
 * is never allocated whole. Returns 0 with *out holding all n bytes (the caller frees
 * it); 1 if the input ends first, after *got bytes (no message, no buffer); -1 on a read
 * error (rd's message) or out of memory ("who: src: out of memory reading n bytes"). */
int util_read_grown(util_read_fn rd, void *ctx, size_t n, const char *who, const char *src,
                    unsigned char **out, size_t *got);

#endif
