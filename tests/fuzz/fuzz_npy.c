/* libFuzzer target: the .npy reader (src/lib/npy.c), from memory and from a file.
 * For any input:
 *   - jx_npy_parse (memory) and jx_npy_load (the same bytes as a file) agree: both fail
 *     with a message, or both give the same array;
 *   - an array read back through jx_npy_dump + jx_npy_parse is unchanged.
 * A broken invariant aborts, so libFuzzer saves the input; so do sanitizer reports and
 * leaks. Seeds: tests/fuzz/corpus/npy. */
#include <stdlib.h>

#include "fuzz_util.h"

static fz_file fz_npy_file;

/* Creates the in-memory file once. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_file_init(&fz_npy_file, "fuzz_npy");
    return 0;
}

/* One input: the bytes as an .npy image. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jx_array *a = jx_npy_parse(data, size);
    if (!a) fz_need_error("jx_npy_parse");
    jx_clear_error();
    jx_array *b = jx_npy_load(fz_file_put(&fz_npy_file, data, size));
    if (!b) fz_need_error("jx_npy_load");
    if (!a != !b)
        fz_fail("jx_npy_parse %s but jx_npy_load %s the same bytes", a ? "accepts" : "rejects",
                b ? "accepts" : "rejects");
    if (a && !fz_array_same(a, b)) fz_fail("jx_npy_parse and jx_npy_load give different arrays");
    if (a) {
        size_t n = 0;
        void *img = jx_npy_dump(a, &n);
        if (!img) fz_fail("jx_npy_dump of a loaded array failed: %s", jx_error());
        jx_array *c = jx_npy_parse(img, n);
        if (!c) fz_fail("jx_npy_parse rejects jx_npy_dump's output: %s", jx_error());
        if (!fz_array_same(a, c)) fz_fail("dump + parse changes the array");
        jx_array_free(c);
        free(img);
    }
    jx_array_free(a);
    jx_array_free(b);
    jx_clear_error();
    return 0;
}
