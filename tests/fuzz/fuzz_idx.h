/* The checks shared by the IDX fuzz targets (fuzz_idx.c: raw input bytes; fuzz_idx_gz.c:
 * the input gzip'd by the target). */
#ifndef JX_FUZZ_IDX_H
#define JX_FUZZ_IDX_H

#include "fuzz_util.h"

/* Loads data[0..size-1] as an IDX file with flags 0 and with JX_IDX_F32 |
 * JX_IDX_NORMALIZE, and from memory (jx_idx_parse), checks that they agree, saves a loaded array plain and gzip'd and
 * checks that both load back unchanged. Returns the flags-0 array (caller frees) or NULL
 * if the reader rejected the bytes (with a message). Aborts on a broken invariant. */
jx_array *fz_idx_check(const void *data, size_t size);

#endif
