/* libFuzzer target: the .npz reader (src/lib/npz_read.c) and writer (npz_write.c).
 * For any input:
 *   - jx_tree_parse (memory) and jx_tree_load (the same bytes as a file) agree: both fail
 *     with a message, or both give the same names and arrays;
 *   - each member read alone (jx_npz_load_one) equals the one jx_tree_load gave;
 *   - an archive read is saved again by jx_npz_save (stored or deflated, by the input's
 *     size) and reads back unchanged.
 * A broken invariant aborts, so libFuzzer saves the input; so do sanitizer reports and
 * leaks. The load limit is lowered to 16 MiB so lying member sizes stay cheap.
 * Seeds: tests/fuzz/corpus/npz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

static fz_file fz_npz_file;
static char fz_npz_dir[32], fz_npz_out[64];

/* Removes the temporary directory at exit. */
static void fz_npz_cleanup(void) {
    unlink(fz_npz_out);
    rmdir(fz_npz_dir);
}

/* Creates the in-memory file and a temporary directory for the re-saved archive. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_file_init(&fz_npz_file, "fuzz_npz");
    snprintf(fz_npz_dir, sizeof fz_npz_dir, "/tmp/jx_fuzz_npz_XXXXXX");
    if (!mkdtemp(fz_npz_dir)) fz_fail("fuzz_npz: mkdtemp failed");
    snprintf(fz_npz_out, sizeof fz_npz_out, "%s/out.npz", fz_npz_dir);
    atexit(fz_npz_cleanup);
    jx_set_load_limit((size_t)16 << 20);
    return 0;
}

/* 1 if a and b hold the same names and arrays, in order. */
static int fz_npz_same(const jx_tree *a, const jx_tree *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->paths[i], b->paths[i]) || !fz_array_same(a->leaves[i], b->leaves[i]))
            return 0;
    return 1;
}

/* Checks load_one against z for every member, then the save + load round trip. */
static void fz_npz_checks(const jx_tree *z, const char *path, int flags) {
    for (int i = 0; i < z->n; i++) {
        jx_array *one = jx_npz_load_one(path, z->paths[i]);
        if (!one) fz_fail("jx_npz_load_one '%s' fails on a readable archive: %s", z->paths[i],
                          jx_error());
        if (!fz_array_same(one, z->leaves[i])) fz_fail("jx_npz_load_one '%s' differs", z->paths[i]);
        jx_array_free(one);
    }
    if (jx_npz_save(fz_npz_out, z->n, z->paths, z->leaves, flags) != 0)
        fz_fail("jx_npz_save of a loaded archive failed: %s", jx_error());
    jx_tree *c = jx_tree_load(fz_npz_out);
    if (!c) fz_fail("jx_tree_load rejects jx_npz_save's output: %s", jx_error());
    if (!fz_npz_same(z, c)) fz_fail("save + load changes the archive");
    jx_tree_free(c);
}

/* One input: the bytes as an .npz image. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jx_tree *a = jx_tree_parse(data ? (const void *)data : "", size);
    if (!a) fz_need_error("jx_tree_parse");
    jx_clear_error();
    const char *path = fz_file_put(&fz_npz_file, data, size);
    jx_tree *b = jx_tree_load(path);
    if (!b) fz_need_error("jx_tree_load");
    if (!a != !b)
        fz_fail("jx_tree_parse %s but jx_tree_load %s the same bytes", a ? "accepts" : "rejects",
                b ? "accepts" : "rejects");
    if (a && !fz_npz_same(a, b)) fz_fail("jx_tree_parse and jx_tree_load give different archives");
    if (a) fz_npz_checks(a, path, size & 1 ? JX_NPZ_COMPRESSED : JX_NPZ_STORED);
    jx_tree_free(a);
    jx_tree_free(b);
    jx_clear_error();
    return 0;
}
