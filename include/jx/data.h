/* jx/data.h: datasets for training loops on the host (IDX files such as MNIST and
 * Fashion-MNIST, deterministic shuffling, batching, augmentation, PNG image grids).
 *
 * Everything here works on jx_array host buffers; nothing is traced. Functions that can
 * fail return NULL or -1 and leave a message in jx_error() that names the file or the
 * argument at fault. Random choices come from Threefry-2x32 keyed by the caller's seed,
 * so they are the same on every platform and independent of call order.
 */
#ifndef JX_DATA_H
#define JX_DATA_H

#include <jx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files --------------------------------------------------------------------- */

/* Flags of jx_idx_load_flags. */
#define JX_IDX_NORMALIZE 1u /* f32 results are divided by 255 (pixels in [0,1]) */
#define JX_IDX_F32 2u       /* rank-1 files too become f32 (default: i32) */

/* Loads an IDX file of unsigned bytes (dtype 0x08), gzip-compressed or plain (detected
 * from the content: gzip starts with 1f 8b). Rank-1 files (labels, magic 0x00000801)
 * become i32 [N]; files of rank >= 2 (images, magic 0x00000803 is [N,H,W]) become f32
 * with the raw values 0..255. NULL with a message naming the path on a missing file, a
 * bad magic, another IDX dtype, a rank above JX_MAX_RANK, absurd dims, an array over the
 * load limit (jx_set_load_limit in jx.h; checked before the data is read), a truncated
 * file or trailing data; for gzip, also on a stream that ends early (e.g. a cut-off
 * CRC/length trailer), a wrong CRC or length, or bytes after the last gzip member
 * (concatenated members are read, as gzip does). */
jx_array *jx_idx_load(const char *path);
/* The same with JX_IDX_* flags. */
jx_array *jx_idx_load_flags(const char *path, unsigned flags);
/* The same on an image in memory (gzip'd or plain); messages name "<buffer>". */
jx_array *jx_idx_parse(const void *data, size_t len, unsigned flags);
/* Writes a u8 IDX file (gzip'd if gz, else plain) whose values are a's elements
 * converted to bytes (rounded, clamped to 0..255); rank 1..JX_MAX_RANK. 0 or -1. */
int jx_idx_save(const char *path, const jx_array *a, int gz);

/* Divides every element of an f32/f64 array by 255 in place (raw pixels -> [0,1]).
 * Returns 0, or -1 for other dtypes. */
int jx_data_normalize(jx_array *a);

/* A new array of the given shape sharing a's buffer (a is retained until the view is
 * freed). Sizes must match. E.g. images [N,28,28] -> [N,784] or [N,28,28,1]. */
jx_array *jx_data_reshape(jx_array *a, int rank, const int64_t *shape);

/* Debian's dataset-fashion-mnist location. */
#define JX_MNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

/* Loads an (Fashion-)MNIST split from dir (NULL: JX_MNIST_DEFAULT_DIR): split "train"
 * reads train-{images-idx3,labels-idx1}-ubyte.gz, split "test" (or "t10k") the t10k-
 * files; the uncompressed names without .gz are tried if the .gz file is missing.
 * *images = f32 [N,H,W] (raw 0..255, or [0,1] if normalize), *labels = i32 [N].
 * Checks that the counts agree. 0, or -1 with both outputs NULL. */
int jx_mnist_load(const char *dir, const char *split, int normalize, jx_array **images,
                  jx_array **labels);

/* ---- shuffling ----------------------------------------------------------------------- */

/* Fills perm[0..n-1] with a permutation of 0..n-1 that depends only on (seed, epoch):
 * a Fisher-Yates shuffle driven by Threefry-2x32 with a key derived from seed and epoch.
 * Different epochs give (almost surely) different permutations. Returns 0, -1 if n < 0
 * or perm is NULL with n > 0. */
int jx_shuffle(int64_t n, uint64_t seed, uint64_t epoch, int64_t *perm);
/* Fills perm with 0..n-1 (the test-set order). */
void jx_perm_identity(int64_t n, int64_t *perm);

/* ---- batching ------------------------------------------------------------------------ */

/* Flags of jx_batch_iter_init. */
#define JX_BATCH_DROP_LAST 1u /* skip the last batch if it is partial */
#define JX_BATCH_PAD_LAST 2u  /* deliver the partial batch in the full-size buffers, rows
                               * past size zero-filled and their labels set to -1 if
                               * i32, else 0 (one_hot of -1 gives zero rows) */

/* Iterates over the examples of images [N,...] and labels [N] (labels may be NULL) in
 * batches, in the order of a permutation. All buffers are allocated by init: next()
 * never allocates. Typical use:
 *
 *   jx_batch_iter it;
 *   if (jx_batch_iter_init(&it, images, labels, 128, 0) < 0) ...;
 *   for (epoch...) {
 *       jx_shuffle(n, seed, epoch, perm);
 *       jx_batch_iter_reset(&it, perm);
 *       while (jx_batch_iter_next(&it)) use(it.x, it.y, it.size);
 *   }
 *   jx_batch_iter_free(&it);
 */
typedef struct jx_batch_iter {
    /* Current batch (borrowed, owned by the iterator, valid until the next call): x is
     * [batch,...] or, for a partial last batch without JX_BATCH_PAD_LAST, [size,...];
     * y likewise (NULL without labels). */
    jx_array *x, *y;
    int64_t size;    /* examples in the current batch (<= batch) */
    int partial;     /* 1 if size < batch */
    int64_t index;   /* number of the current batch in this epoch, from 0 */
    int64_t start;   /* position of its first example in the epoch order */
    /* Configuration and state (read-only for users). */
    const jx_array *images, *labels;
    const int64_t *perm; /* NULL: identity */
    int64_t n, batch, pos;
    unsigned flags;
    jx_array *full_x, *full_y, *tail_x, *tail_y;
} jx_batch_iter;

/* Sets up it for batches of `batch` rows of images/labels (retained until free). Labels
 * must have N rows too. The iterator starts at an epoch in identity order. 0 or -1 (it
 * is then safe to pass to jx_batch_iter_free). */
int jx_batch_iter_init(jx_batch_iter *it, const jx_array *images, const jx_array *labels,
                       int64_t batch, unsigned flags);
/* Starts a new epoch in the order perm[0..N-1] (borrowed, must stay unchanged during the
 * epoch; NULL: identity order). Returns 0, or -1 (and an empty epoch) if an entry is out
 * of 0..N-1. */
int jx_batch_iter_reset(jx_batch_iter *it, const int64_t *perm);
/* Fills the next batch into it->x / it->y. Returns 1, or 0 at the end of the epoch. */
int jx_batch_iter_next(jx_batch_iter *it);
/* Number of batches per epoch under it's flags. */
int64_t jx_batch_iter_count(const jx_batch_iter *it);
/* The same without an iterator: batches of `batch` rows in an epoch of n rows under flags
 * (JX_BATCH_DROP_LAST drops a partial last batch); 0 when n < 0 or batch < 1. */
int64_t jx_batch_count(int64_t n, int64_t batch, unsigned flags);
/* Releases the buffers and the references to images and labels. */
void jx_batch_iter_free(jx_batch_iter *it);

/* ---- chunked evaluation ---------------------------------------------------------------- */

/* Runs f(fixed[0..n_fixed), x rows, y rows) (y may be NULL: no y input) over the rows of
 * x [N,...] and y [N] in order, in chunks of `chunk` rows (the last one smaller, its own
 * signature), and adds up its n_out outputs, each a scalar, into sums[0..n_out) (set to
 * 0 first). The sums equal one call on all rows up to rounding (exactly, when the
 * outputs are integer-valued counts). 0, or -1 with jx_error(). */
int jx_eval_sum(jx_jitfn *f, int n_fixed, jx_array *const *fixed, const jx_array *x,
                const jx_array *y, int64_t chunk, int n_out, double *sums);

/* ---- augmentation -------------------------------------------------------------------- */

/* Single-image warps of a row-major h x w f32 image, src and dst distinct buffers,
 * with zero fill outside the source. Shift: dst[y][x] = src[y-dy][x-dx] (positive dy
 * moves content down, positive dx right). Rotate: by `degrees` counter-clockwise as
 * displayed (y pointing down) about the image center ((h-1)/2, (w-1)/2), bilinear. */
void jx_image_shift(const float *src, float *dst, int64_t h, int64_t w, int64_t dy, int64_t dx);
void jx_image_rotate(const float *src, float *dst, int64_t h, int64_t w, double degrees);

/* Random augmentation parameters. */
typedef struct jx_augment_opts {
    int max_shift;     /* integer shifts uniform in [-max_shift, max_shift] on each axis */
    double max_degrees; /* rotations uniform in [-max_degrees, max_degrees] */
} jx_augment_opts;

/* Applies a random rotation then a random shift to each image of in (f32, first dim B,
 * each row h*w elements: [B,h,w], [B,h,w,1] or [B,h*w]) writing out (same type, not the
 * same buffer). Image b's parameters depend only on (seed, step, b), so a training loop
 * passes e.g. step = epoch * batches + batch index. 0 or -1. */
int jx_augment_batch(const jx_array *in, jx_array *out, int64_t h, int64_t w,
                     const jx_augment_opts *opts, uint64_t seed, uint64_t step);

/* ---- PNG ------------------------------------------------------------------------------ */

/* How jx_png_write_grid maps values to gray levels. */
typedef enum jx_png_mode {
    JX_PNG_RAW = 0,       /* values are 0..255 (clamped) */
    JX_PNG_UNIT = 1,      /* values are 0..1 (scaled by 255, clamped) */
    JX_PNG_PER_IMAGE = 2, /* each image min..max -> 0..255 (e.g. learned weights) */
} jx_png_mode;

typedef struct jx_png_opts {
    int scale;             /* integer upscaling of every pixel (0 or 1: none) */
    jx_png_mode mode;
    const int32_t *labels; /* optional: labels[i] (0..99) drawn in cell i's corner */
} jx_png_opts;

/* Writes images ([N,H,W] or [N,H,W,1], or one [H,W] image; f32 or f64; view [N,784]
 * data with jx_data_reshape first)
 * as an 8-bit gray PNG grid of nrow x ncol cells separated by 1-pixel gaps, row by row
 * (nrow or ncol <= 0: chosen to fit N). N must be <= nrow*ncol; empty cells are black.
 * opts may be NULL. 0, or -1 with a message naming the path. */
int jx_png_write_grid(const char *path, const jx_array *images, int nrow, int ncol,
                      const jx_png_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
