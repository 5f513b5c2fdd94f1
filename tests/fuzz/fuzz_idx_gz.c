/* libFuzzer target: the IDX reader (src/lib/data/idx.c) through gzip. The target compresses
 * the input itself, so the fuzzer explores the IDX layout while the reader inflates. On
 * top of the checks of fuzz_idx.h:
 *   - the gzip'd bytes load exactly as the plain bytes do (both fail, or the same array);
 *   - the gzip'd bytes with the end of their trailer (CRC32, ISIZE) cut off are rejected.
 * Seeds: tests/fuzz/corpus/idx_gz (plain IDX files). */
#include <stdlib.h>
#include <zlib.h>

#include "fuzz_idx.h"

/* gzip-compresses data into a malloc'd buffer (*out_len bytes); aborts on failure. */
static unsigned char *fz_gzip(const uint8_t *data, size_t size, size_t *out_len) {
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        fz_fail("zlib: deflateInit2 failed");
    size_t cap = deflateBound(&z, (uLong)size) + 32;
    unsigned char *out = malloc(cap);
    if (!out) fz_fail("out of memory");
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) fz_fail("zlib: deflate did not finish");
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* One input: the bytes of a plain IDX file, gzip'd here. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = 0;
    unsigned char *gz = fz_gzip(data, size, &n);
    jx_array *g = fz_idx_check(gz, n);
    /* Plain bytes that are themselves gzip would be inflated once more by the reader. */
    if (!(size >= 2 && data[0] == 0x1f && data[1] == 0x8b)) {
        jx_array *p = fz_idx_check(data, size);
        if (!p != !g)
            fz_fail("idx: the plain bytes are %s but their gzip is %s", p ? "accepted" : "rejected",
                    g ? "accepted" : "rejected");
        if (p && !fz_array_same(p, g)) fz_fail("idx: plain and gzip'd loads differ");
        jx_array_free(p);
    }
    if (g) {
        size_t cut = 1 + size % 8; /* 1..8 bytes of the 8-byte trailer */
        jx_array *t = fz_idx_check(gz, n - cut);
        if (t) fz_fail("idx: a gzip file missing the last %zu trailer bytes is accepted", cut);
        jx_array_free(t);
    }
    jx_array_free(g);
    free(gz);
    return 0;
}
