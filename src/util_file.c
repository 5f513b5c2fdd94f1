/* Opening the files a reader loads: one place for the checks every loader needs. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* See util.h. */
FILE *util_open_read(const char *who, const char *path, struct stat *st) {
    if (!path) {
        util_err("%s: NULL path", who);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        util_err("%s: cannot open %s: %s", who, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), st) != 0) util_err("%s: %s: %s", who, path, strerror(errno));
    else if (S_ISDIR(st->st_mode)) util_err("%s: %s: is a directory", who, path);
    else return f;
    fclose(f);
    return NULL;
}
