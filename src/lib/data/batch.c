/* Deterministic shuffling (Fisher-Yates on a Threefry counter stream) and a batch
 * iterator that copies rows of a dataset, in permutation order, into buffers allocated
 * once. */
#include <stdlib.h>
#include <string.h>

#include "jx/data.h"
#include "prims/threefry.h"
#include "core/util.h"

/* The 64-bit value Threefry-2x32 gives for the 64-bit counter c under key k. */
static uint64_t bat_bits(const uint32_t k[2], uint64_t c) {
    uint32_t x[2] = {(uint32_t)c, (uint32_t)(c >> 32)};
    rng_threefry2x32(k[0], k[1], x);
    return ((uint64_t)x[0] << 32) | x[1];
}

/* Fills perm with a permutation of 0..n-1 determined by (seed, epoch). */
int jx_shuffle(int64_t n, uint64_t seed, uint64_t epoch, int64_t *perm) {
    if (n < 0) return util_err("jx_shuffle: negative size %lld", (long long)n);
    if (n > 0 && !perm) return util_err("jx_shuffle: NULL perm");
    const uint32_t k0[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    /* The epoch key: the epoch number encrypted under the seed key (like fold_in). */
    uint64_t e = bat_bits(k0, epoch);
    const uint32_t k[2] = {(uint32_t)(e >> 32), (uint32_t)e};
    uint64_t ctr = 0;
    jx_perm_identity(n, perm);
    for (int64_t i = n - 1; i > 0; i--) {
        /* Unbiased j in [0, i]: reject draws in the incomplete top block. */
        uint64_t bound = (uint64_t)i + 1, limit = UINT64_MAX - UINT64_MAX % bound, r;
        do r = bat_bits(k, ctr++);
        while (r >= limit);
        int64_t j = (int64_t)(r % bound), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return 0;
}

/* Fills perm with 0..n-1. */
void jx_perm_identity(int64_t n, int64_t *perm) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
}

/* A new zero array like a but with first dimension rows. */
static jx_array *bat_rows_like(const jx_array *a, int64_t rows) {
    int64_t shape[JX_MAX_RANK];
    int rank = jx_array_rank(a);
    memcpy(shape, jx_array_shape(a), sizeof(int64_t) * (size_t)rank);
    shape[0] = rows;
    return jx_array_new(jx_array_dtype(a), rank, shape);
}

/* Bytes in one row (everything past the first dimension) of a. */
static size_t bat_row_bytes(const jx_array *a) {
    int64_t n = util_numel(jx_array_rank(a) - 1, jx_array_shape(a) + 1);
    return (size_t)n * jx_dtype_size(jx_array_dtype(a));
}

/* Sets up the iterator (see jx/data.h). */
int jx_batch_iter_init(jx_batch_iter *it, const jx_array *images, const jx_array *labels,
                       int64_t batch, unsigned flags) {
    if (!it) return util_err("jx_batch_iter_init: NULL iterator");
    memset(it, 0, sizeof *it);
    if (!images) return util_err("jx_batch_iter_init: NULL images");
    if (jx_array_rank(images) < 1)
        return util_err("jx_batch_iter_init: images must have a batch dimension (rank 0)");
    int64_t n = jx_array_dim(images, 0);
    if (labels && (jx_array_rank(labels) < 1 || jx_array_dim(labels, 0) != n))
        return util_err("jx_batch_iter_init: labels have %lld rows, images %lld",
                        jx_array_rank(labels) < 1 ? 0ll : (long long)jx_array_dim(labels, 0),
                        (long long)n);
    if (batch < 1) return util_err("jx_batch_iter_init: batch size %lld < 1", (long long)batch);
    if (flags & ~(JX_BATCH_DROP_LAST | JX_BATCH_PAD_LAST))
        return util_err("jx_batch_iter_init: unknown flags 0x%x", flags);
    it->n = n;
    it->batch = batch;
    it->flags = flags;
    it->pos = 0;
    it->index = -1;
    int64_t rem = n % batch;
    int tail = rem && !(flags & (JX_BATCH_DROP_LAST | JX_BATCH_PAD_LAST));
    it->full_x = bat_rows_like(images, batch);
    if (labels) it->full_y = bat_rows_like(labels, batch);
    if (tail) {
        it->tail_x = bat_rows_like(images, rem);
        if (labels) it->tail_y = bat_rows_like(labels, rem);
    }
    if (!it->full_x || (labels && !it->full_y) || (tail && !it->tail_x) ||
        (tail && labels && !it->tail_y)) {
        jx_batch_iter_free(it);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", jx_error());
        return util_err("jx_batch_iter_init: cannot allocate batch buffers: %s", msg);
    }
    /* The arrays are only read; the refcount is mutable state of any array. */
    it->images = jx_array_retain((jx_array *)images);
    it->labels = labels ? jx_array_retain((jx_array *)labels) : NULL;
    return 0;
}

/* Starts an epoch in the order perm (NULL: identity). Entries out of 0..N-1 make the
 * epoch empty and return -1. */
int jx_batch_iter_reset(jx_batch_iter *it, const int64_t *perm) {
    it->perm = perm;
    it->pos = 0;
    it->index = -1;
    it->x = it->y = NULL;
    it->size = 0;
    it->partial = 0;
    for (int64_t i = 0; perm && i < it->n; i++)
        if (perm[i] < 0 || perm[i] >= it->n) {
            it->pos = it->n;
            it->perm = NULL;
            return util_err("jx_batch_iter_reset: perm[%lld] = %lld out of range 0..%lld",
                            (long long)i, (long long)perm[i], (long long)it->n - 1);
        }
    return 0;
}

/* Copies rows src[idx] of the epoch order [pos, pos+size) into dst's first size rows. */
static void bat_gather(const jx_batch_iter *it, const jx_array *src, jx_array *dst,
                       int64_t size) {
    size_t rb = bat_row_bytes(src);
    const char *s = jx_array_cdata(src);
    char *d = jx_array_data(dst);
    for (int64_t k = 0; k < size; k++) {
        int64_t i = it->pos + k, r = it->perm ? it->perm[i] : i;
        memcpy(d + (size_t)k * rb, s + (size_t)r * rb, rb);
    }
}

/* Produces the next batch; 1, or 0 at the end of the epoch. */
int jx_batch_iter_next(jx_batch_iter *it) {
    if (!it->full_x || it->pos >= it->n) return 0;
    int64_t size = it->n - it->pos < it->batch ? it->n - it->pos : it->batch;
    int partial = size < it->batch;
    if (partial && (it->flags & JX_BATCH_DROP_LAST)) {
        it->pos = it->n;
        return 0;
    }
    int pad = partial && (it->flags & JX_BATCH_PAD_LAST);
    jx_array *x = partial && !pad ? it->tail_x : it->full_x;
    jx_array *y = partial && !pad ? it->tail_y : it->full_y;
    bat_gather(it, it->images, x, size);
    if (y) bat_gather(it, it->labels, y, size);
    if (pad) {
        size_t rb = bat_row_bytes(it->images);
        memset((char *)jx_array_data(x) + (size_t)size * rb, 0,
               (size_t)(it->batch - size) * rb);
        if (y) {
            int fill = jx_array_dtype(y) == JX_I32 ? -1 : 0;
            int64_t per = jx_array_size(y) / it->batch;
            for (int64_t i = size * per; i < it->batch * per; i++) jx_array_set(y, i, fill);
        }
    }
    it->x = x;
    it->y = y;
    it->size = size;
    it->partial = partial;
    it->start = it->pos;
    it->index++;
    it->pos += size;
    return 1;
}

/* Batches per epoch. */
int64_t jx_batch_iter_count(const jx_batch_iter *it) {
    return jx_batch_count(it->n, it->batch, it->flags);
}

/* See jx/data.h. */
int64_t jx_batch_count(int64_t n, int64_t batch, unsigned flags) {
    if (n < 0 || batch < 1) return 0;
    return n / batch + (n % batch && !(flags & JX_BATCH_DROP_LAST));
}

/* Releases the iterator's buffers and references. */
void jx_batch_iter_free(jx_batch_iter *it) {
    if (!it) return;
    jx_array_free(it->full_x);
    jx_array_free(it->full_y);
    jx_array_free(it->tail_x);
    jx_array_free(it->tail_y);
    jx_array_free((jx_array *)it->images);
    jx_array_free((jx_array *)it->labels);
    memset(it, 0, sizeof *it);
}

/* ---- chunked evaluation ---------------------------------------------------------------- */

/* Runs f on the iterator's chunk and adds its scalar outputs to sums. 0 or -1. */
static int bat_eval_chunk(jx_jitfn *f, const jx_batch_iter *it, int n_fixed, jx_array **in,
                          int n_out, jx_array **out, double *sums) {
    in[n_fixed] = it->x;
    if (it->y) in[n_fixed + 1] = it->y;
    if (jx_jitfn_run(f, in, out) < 0) return -1;
    for (int i = 0; i < n_out; i++) {
        if (jx_array_size(out[i]) != 1)
            return util_err("jx_eval_sum: output %d has %lld elements, not a scalar", i,
                            (long long)jx_array_size(out[i]));
        sums[i] += jx_array_get(out[i], 0);
    }
    return 0;
}

/* See jx/data.h. */
int jx_eval_sum(jx_jitfn *f, int n_fixed, jx_array *const *fixed, const jx_array *x,
                const jx_array *y, int64_t chunk, int n_out, double *sums) {
    if (!f || !x || (n_out > 0 && !sums) || (n_fixed > 0 && !fixed))
        return util_err("jx_eval_sum: NULL %s", !f ? "function" : !x ? "x" : !sums ? "sums" : "fixed");
    if (n_fixed < 0 || n_out < 0 || chunk < 1)
        return util_err("jx_eval_sum: n_fixed %d, n_out %d, chunk %lld (need >= 0, >= 0, > 0)",
                        n_fixed, n_out, (long long)chunk);
    for (int i = 0; i < n_out; i++) sums[i] = 0;
    jx_batch_iter it = {0};
    int n_in = n_fixed + (y ? 2 : 1);
    jx_array **in = calloc((size_t)n_in, sizeof *in);
    jx_array **out = calloc((size_t)n_out + 1, sizeof *out);
    int rc = in && out ? jx_batch_iter_init(&it, x, y, chunk, 0) : util_err("jx_eval_sum: out of memory");
    for (int i = 0; rc == 0 && i < n_fixed; i++) in[i] = fixed[i];
    /* the scalar outputs of the first chunk are written in place by the later ones */
    while (rc == 0 && jx_batch_iter_next(&it))
        rc = bat_eval_chunk(f, &it, n_fixed, in, n_out, out, sums);
    for (int i = 0; out && i < n_out; i++) jx_array_free(out[i]);
    jx_batch_iter_free(&it);
    free(in);
    free(out);
    return rc;
}
