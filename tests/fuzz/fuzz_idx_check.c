/* The IDX reader checks shared by the IDX fuzz targets (see fuzz_idx.h). */
#include <math.h>

#include <jx/data.h>

#include "fuzz_idx.h"

static fz_file fz_idx_in, fz_idx_out;
static int fz_idx_ready;

/* Checks that b (f32, normalized) holds a's values divided by 255. */
static void fz_idx_same_values(const jx_array *a, const jx_array *b) {
    if (jx_array_rank(a) != jx_array_rank(b) || jx_array_size(a) != jx_array_size(b))
        fz_fail("idx: flags change the shape");
    for (int i = 0; i < jx_array_rank(a); i++)
        if (jx_array_dim(a, i) != jx_array_dim(b, i)) fz_fail("idx: flags change dim %d", i);
    if (jx_array_dtype(b) != JX_F32) fz_fail("idx: JX_IDX_F32 does not give f32");
    if (jx_array_dtype(a) != (jx_array_rank(a) == 1 ? JX_I32 : JX_F32))
        fz_fail("idx: wrong default dtype for rank %d", jx_array_rank(a));
    for (int64_t i = 0; i < jx_array_size(a); i++) {
        double v = jx_array_get(a, i), w = jx_array_get(b, i);
        if (!(v >= 0 && v <= 255 && v == floor(v))) fz_fail("idx: value %g is not a byte", v);
        if (fabs(w * 255.0 - v) > 1e-3) fz_fail("idx: normalized %g is not %g / 255", w, v);
    }
}

/* Saves a (gzip'd if gz) to the scratch file and checks that it loads back unchanged. */
static void fz_idx_resave(const jx_array *a, int gz) {
    if (jx_idx_save(fz_idx_out.path, a, gz) != 0)
        fz_fail("idx: jx_idx_save(gz=%d) of a loaded array failed: %s", gz, jx_error());
    jx_array *c = jx_idx_load(fz_idx_out.path);
    if (!c) fz_fail("idx: a file written by jx_idx_save(gz=%d) does not load: %s", gz, jx_error());
    if (!fz_array_same(a, c)) fz_fail("idx: save(gz=%d) + load changes the array", gz);
    jx_array_free(c);
}

/* See fuzz_idx.h. */
jx_array *fz_idx_check(const void *data, size_t size) {
    if (!fz_idx_ready) {
        fz_file_init(&fz_idx_in, "fuzz_idx_in");
        fz_file_init(&fz_idx_out, "fuzz_idx_out");
        fz_idx_ready = 1;
    }
    const char *path = fz_file_put(&fz_idx_in, data, size);
    jx_array *a = jx_idx_load_flags(path, 0);
    if (!a) fz_need_error("jx_idx_load_flags(0)");
    jx_clear_error();
    jx_array *b = jx_idx_load_flags(path, JX_IDX_F32 | JX_IDX_NORMALIZE);
    if (!b) fz_need_error("jx_idx_load_flags(F32|NORMALIZE)");
    jx_clear_error();
    if (!a != !b) fz_fail("idx: the flags change whether the file is accepted");
    jx_array *m = jx_idx_parse(data, size, 0);
    if (!m) fz_need_error("jx_idx_parse");
    jx_clear_error();
    if (!a != !m)
        fz_fail("idx: jx_idx_load %s but jx_idx_parse %s the same bytes",
                a ? "accepts" : "rejects", m ? "accepts" : "rejects");
    if (a && !fz_array_same(a, m)) fz_fail("idx: jx_idx_load and jx_idx_parse differ");
    jx_array_free(m);
    if (a) {
        fz_idx_same_values(a, b);
        fz_idx_resave(a, 0);
        fz_idx_resave(a, 1);
    }
    jx_array_free(b);
    jx_clear_error();
    return a;
}
