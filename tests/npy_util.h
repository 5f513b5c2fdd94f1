/* Shared helpers of the .npy tests (t_array_npy.c, t_array_npy_files.c, t_npy.c): dtypes, temp
 * paths, hand-built .npy images and the numpy oracle. Helpers are static and marked unused. */
#ifndef JX_TESTS_NPY_UTIL_H
#define JX_TESTS_NPY_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jx.h"

/* Every dtype, for loops over them. */
static const jx_dtype all_dtypes[] __attribute__((unused)) = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL};
#define NDT 5

/* A unique path in /tmp for this process and tag. */
__attribute__((unused))
static void tmp_path(char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "/tmp/jx_t_array_%ld_%s.npy", (long)getpid(), tag);
}

/* A python3 command that can import numpy ("python3" on PATH, else the system one), or
 * NULL if there is none. */
__attribute__((unused))
static const char *numpy_python(void) {
    static const char *cands[] = {"python3", "/usr/bin/python3"};
    char cmd[256];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

/* The .npy bytes numpy writes for np.arange(6, dtype='<f4').reshape(2, 3). */
__attribute__((unused))
static size_t numpy_f32_2x3(unsigned char *out) {
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    size_t k = 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = 118; /* 128 - 10: the data starts at byte 128 */
    out[9] = 0;
    k = 10;
    memcpy(out + k, dict, strlen(dict));
    k += strlen(dict);
    while (k < 127) out[k++] = ' ';
    out[k++] = '\n';
    for (int i = 0; i < 6; i++) {
        float f = (float)i;
        memcpy(out + k, &f, 4); /* little-endian host assumed, as numpy's '<f4' */
        k += 4;
    }
    return k;
}

/* Builds an .npy image: magic, version major.0, the given header text padded to 64 with
 * a final '\n' (unless raw), then ndata bytes of data. Returns the malloc'd size. */
__attribute__((unused))
static unsigned char *make_npy(int major, const char *header, int raw, const void *data,
                               size_t ndata, size_t *len) {
    size_t pre = major == 1 ? 10 : 12, hl = strlen(header);
    size_t hlen = raw ? hl : hl + 1 + (64 - (pre + hl + 1) % 64) % 64;
    unsigned char *b = calloc(1, pre + hlen + ndata + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8 & 0xff);
    if (major != 1) {
        b[10] = (unsigned char)(hlen >> 16 & 0xff);
        b[11] = (unsigned char)(hlen >> 24 & 0xff);
    }
    memcpy(b + pre, header, hl);
    if (!raw) {
        memset(b + pre + hl, ' ', hlen - hl);
        b[pre + hlen - 1] = '\n';
    }
    if (ndata) memcpy(b + pre + hlen, data, ndata);
    *len = pre + hlen + ndata;
    return b;
}

#endif
