/* The thread-local error message behind jx_error(). */
#include <stdio.h>

#include "core/util.h"

static _Thread_local char err_buf[2048];

/* The message of the last failed call on this thread. */
const char *jx_error(void) { return err_buf; }

/* Clears the message. */
void jx_clear_error(void) { err_buf[0] = 0; }

/* Sets the message from a format and its arguments; returns -1. */
int util_verr(const char *fmt, va_list ap) {
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    return -1;
}

/* Sets the message; returns -1. */
int util_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    util_verr(fmt, ap);
    va_end(ap);
    return -1;
}

/* Formats into err (a shape rule's message buffer); returns -1. */
int util_errbuf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
