/* Shared by the jx/data.h tests (t_data.c, t_data_images.c, t_idx.c): per-process
 * temporary paths and whether the Fashion-MNIST files are installed. Helpers are static
 * and marked unused. */
#ifndef JX_TESTS_DATA_UTIL_H
#define JX_TESTS_DATA_UTIL_H

#include <stdio.h>
#include <unistd.h>

#include "jx/data.h"

/* A per-process temporary path for name (one of 4 static buffers used in turn). */
__attribute__((unused))
static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "/tmp/jx_t_data_%ld_%s", (long)getpid(), name);
    return buf[k];
}

/* 1 if the Debian Fashion-MNIST files are installed. */
__attribute__((unused))
static int have_mnist(void) {
    return access(JX_MNIST_DEFAULT_DIR "/t10k-images-idx3-ubyte.gz", R_OK) == 0;
}

#endif
