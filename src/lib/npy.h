/* Internal interface between the .npy container code (npy.c), the header dict parser
 * (npy_header.c, npy_descr.c) and the .npz archives (npz.c). */
#ifndef JX_NPY_H
#define JX_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "jx.h"
#include "core/util.h"

/* numpy's read limit for the header dict (numpy.lib.format._MAX_HEADER_SIZE): longer
 * headers are refused as unsafe to evaluate. Counted in characters after decoding, as
 * numpy does (UTF-8 for format 3.0, Latin-1 for 1.0 and 2.0). */
#define NPY_MAX_HEADER 10000

/* What the header says: dtype, whether the data is big-endian (swap on a little-endian
 * host), whether it is in Fortran (column-major) order, and the shape. */
typedef struct npy_header {
    jx_dtype dt;
    int big_endian;
    int fortran;
    int rank;
    int64_t shape[JX_MAX_RANK];
} npy_header;

/* 1 if this machine stores integers little-endian. */
static inline int npy_host_le(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* Python's \s on ASCII text (what str.strip and re's \s skip): C's spaces and the
 * separators 0x1c-0x1f. */
static inline int npy_py_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Parses the header dict text[0..len) of a format `major`.0 file the way numpy does:
 * ast.literal_eval of a Python literal (after dropping Python 2 'L' suffixes for 1.0 and
 * 2.0), which must be a dict with exactly the keys 'descr', 'fortran_order' and 'shape'
 * (a repeated key: the last value counts); shape a tuple of ints, fortran_order a bool,
 * descr a dtype string numpy accepts. Rejects, besides, what jx cannot hold: dtypes
 * other than f32/f64/i32/u32/bool, negative dims, rank > 8. Returns 0,
 * or -1 with "fn: src: ..." in jx_error(). */
int npy_header_parse(const char *text, size_t len, int major, const char *fn,
                     const char *src, npy_header *h);

/* Maps a numpy dtype string (any spelling numpy.dtype accepts for the five jx dtypes:
 * '<f4', 'f4', '=f4', '|f4', 'f', 'float32', 'single', '?', 'b1', 'bool', 'i', 'I', ...,
 * and '>f4' etc. as big-endian) to *dt and *big. Returns 0, or -1 if numpy rejects the
 * string or means another dtype (no message). */
int npy_descr_lookup(const char *s, size_t n, jx_dtype *dt, int *big);

/* Room for the prefix and header npy_header_write produces (a rank-8 shape of 20-digit
 * dims comes to 256 bytes after padding). */
#define NPY_HEADER_WRITE_MAX 320

/* Writes the prefix and header of a's .npy 1.0 image (what jx_npy_dump puts before the
 * data: '<' dtypes, C order, data at a multiple of 64 bytes) to out; returns its size. */
size_t npy_header_write(const jx_array *a, unsigned char out[NPY_HEADER_WRITE_MAX]);

/* Reads one .npy image from rd (see util_read_fn): prefix, header, then exactly the data
 * it declares. avail is the number of bytes the source holds when known (the data is
 * then read straight into the array; too few gives "data too short" before reading),
 * or -1 (read in growing chunks). Checks numpy's header limit and the load limit as
 * jx_npy_load does. Returns the array, or NULL with "fn: src: ..." in jx_error(). */
jx_array *npy_read(util_read_fn rd, void *ctx, int64_t avail, const char *fn,
                   const char *src);

#endif
