/* libFuzzer target: the IDX reader (src/lib/data/idx.c) on the raw input bytes, which may be
 * a plain IDX file or a gzip'd one (the reader detects gzip from the content). The checks
 * (see fuzz_idx.h): both flag sets and the memory reader agree, a loaded array saves
 * and loads back unchanged, every rejection has a message; sanitizer reports and leaks
 * are crashes too.
 * Seeds: tests/fuzz/corpus/idx (plain and gzip'd files). */
#include "fuzz_idx.h"

/* One input: the bytes as an IDX file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jx_array_free(fz_idx_check(data, size));
    return 0;
}
