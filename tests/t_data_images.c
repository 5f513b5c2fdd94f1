/* Image data (src/lib/data/augment.c, src/lib/data/png.c): shift/rotate augmentation of
 * single images and batches, and PNG grids of images and MNIST samples. */
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data_util.h"
#include "jx/data.h"

/* A deterministic pseudo-random h*w image with values in [0,1). */
static void fill_image(float *p, int64_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 16777216.0f;
    }
}

TEST(augment_shift) {
    float src[4 * 5], dst[4 * 5];
    fill_image(src, 20, 1);
    jx_image_shift(src, dst, 4, 5, 0, 0);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    jx_image_shift(src, dst, 4, 5, 0, 1); /* right by one */
    for (int y = 0; y < 4; y++) {
        CHECK(dst[y * 5] == 0);
        for (int x = 1; x < 5; x++) CHECK(dst[y * 5 + x] == src[y * 5 + x - 1]);
    }
    jx_image_shift(src, dst, 4, 5, -1, 0); /* up by one */
    for (int x = 0; x < 5; x++) {
        CHECK(dst[3 * 5 + x] == 0);
        for (int y = 0; y < 3; y++) CHECK(dst[y * 5 + x] == src[(y + 1) * 5 + x]);
    }
    jx_image_shift(src, dst, 4, 5, 10, -10); /* everything out */
    for (int i = 0; i < 20; i++) CHECK(dst[i] == 0);
}

TEST(augment_rotate) {
    enum { N = 7 };
    float src[N * N], dst[N * N], back[N * N];
    fill_image(src, N * N, 2);
    jx_image_rotate(src, dst, N, N, 0);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    /* 90 degrees counter-clockwise = numpy rot90: dst[i][j] = src[j][N-1-i]
     * (transpose, then flip vertically), for odd and even sizes. */
    jx_image_rotate(src, dst, N, N, 90);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) CHECK_NEAR(dst[i * N + j], src[j * N + (N - 1 - i)], 1e-5);
    float s6[36], d6[36];
    fill_image(s6, 36, 3);
    jx_image_rotate(s6, d6, 6, 6, 90);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) CHECK_NEAR(d6[i * 6 + j], s6[j * 6 + (5 - i)], 1e-5);
    /* -90 undoes 90; 180 flips both axes; 360 is the identity */
    jx_image_rotate(dst, back, N, N, -90);
    for (int i = 0; i < N * N; i++) CHECK_NEAR(back[i], src[i], 1e-5);
    jx_image_rotate(src, dst, N, N, 180);
    for (int i = 0; i < N * N; i++) CHECK_NEAR(dst[i], src[N * N - 1 - i], 1e-5);
    jx_image_rotate(src, dst, N, N, 360);
    for (int i = 0; i < N * N; i++) CHECK_NEAR(dst[i], src[i], 1e-5);
    /* a small rotation of a centered blob keeps its mass and center */
    float blob[15 * 15] = {0}, rb[15 * 15];
    for (int y = 5; y <= 9; y++)
        for (int x = 5; x <= 9; x++) blob[y * 15 + x] = 1;
    jx_image_rotate(blob, rb, 15, 15, 10);
    double m = 0, my = 0;
    for (int i = 0; i < 225; i++) {
        m += rb[i];
        my += rb[i] * (i / 15);
    }
    CHECK_NEAR(m, 25.0, 0.05);
    CHECK_NEAR(my / m, 7.0, 1e-3);
    CHECK(rb[7 * 15 + 7] == 1.0f);
    CHECK(rb[5 * 15 + 5] < 1.0f); /* a corner moved */
}

TEST(augment_batch) {
    int64_t shape[3] = {16, 8, 8};
    jx_array *in = jx_array_new(JX_F32, 3, shape);
    jx_array *o1 = jx_array_new(JX_F32, 3, shape), *o2 = jx_array_new(JX_F32, 3, shape);
    jx_array *o3 = jx_array_new(JX_F32, 3, shape);
    fill_image(jx_array_data(in), 16 * 64, 4);
    jx_augment_opts none = {0, 0.0}, opts = {2, 10.0};
    CHECK(jx_augment_batch(in, o1, 8, 8, &none, 1, 0) == 0);
    CHECK(memcmp(jx_array_cdata(in), jx_array_cdata(o1), jx_array_nbytes(in)) == 0);
    CHECK(jx_augment_batch(in, o1, 8, 8, &opts, 1, 0) == 0);
    CHECK(jx_augment_batch(in, o2, 8, 8, &opts, 1, 0) == 0);
    CHECK(jx_augment_batch(in, o3, 8, 8, &opts, 1, 1) == 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(o2), jx_array_nbytes(in)) == 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(o3), jx_array_nbytes(in)) != 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(in), jx_array_nbytes(in)) != 0);
    /* shifts only: each output image is its input shifted by at most 2 pixels */
    jx_augment_opts sh = {2, 0.0};
    CHECK(jx_augment_batch(in, o1, 8, 8, &sh, 3, 7) == 0);
    float tmp[64];
    int found_all = 1, moved = 0;
    for (int b = 0; b < 16; b++) {
        const float *s = (const float *)jx_array_cdata(in) + b * 64;
        const float *d = (const float *)jx_array_cdata(o1) + b * 64;
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++) {
                jx_image_shift(s, tmp, 8, 8, dy, dx);
                if (!memcmp(tmp, d, sizeof tmp)) {
                    found = 1;
                    moved += dy || dx;
                }
            }
        found_all &= found;
    }
    CHECK(found_all);
    CHECK(moved > 8); /* 24 of 25 choices move: almost all of 16 */
    /* a [B,h*w] view works too */
    int64_t flat[2] = {16, 64};
    jx_array *fi = jx_data_reshape(in, 2, flat), *fo = jx_data_reshape(o2, 2, flat);
    CHECK(jx_augment_batch(fi, fo, 8, 8, &sh, 3, 7) == 0);
    CHECK(memcmp(jx_array_cdata(o1), jx_array_cdata(o2), jx_array_nbytes(in)) == 0);
    /* errors */
    CHECK(jx_augment_batch(in, in, 8, 8, &opts, 1, 0) < 0);
    CHECK_CONTAINS(jx_error(), "must not be the input");
    CHECK(jx_augment_batch(in, o1, 4, 8, &opts, 1, 0) < 0);
    CHECK_CONTAINS(jx_error(), "not 4x8 images");
    CHECK(jx_augment_batch(in, fo, 8, 8, &opts, 1, 0) < 0);
    CHECK_CONTAINS(jx_error(), "same f32 type");
    jx_augment_opts neg = {-1, 0};
    CHECK(jx_augment_batch(in, o1, 8, 8, &neg, 1, 0) < 0);
    CHECK(jx_augment_batch(in, o1, 8, 8, NULL, 1, 0) < 0);
    jx_array_free(fi);
    jx_array_free(fo);
    jx_array_free(in);
    jx_array_free(o1);
    jx_array_free(o2);
    jx_array_free(o3);
}

/* Reads a gray 8-bit PNG at path with libpng's simplified API into *pix (malloc'd).
 * Returns 0 and the size, -1 on failure. */
static int read_png(const char *path, unsigned *w, unsigned *h, unsigned char **pix) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return -1;
    im.format = PNG_FORMAT_GRAY;
    *pix = malloc(PNG_IMAGE_SIZE(im));
    if (!*pix || !png_image_finish_read(&im, NULL, *pix, 0, NULL)) {
        png_image_free(&im);
        free(*pix);
        *pix = NULL;
        return -1;
    }
    *w = im.width;
    *h = im.height;
    return 0;
}

TEST(png_grid) {
    int64_t shape[3] = {3, 4, 5};
    jx_array *a = jx_array_new(JX_F32, 3, shape);
    for (int64_t i = 0; i < 60; i++) jx_array_set(a, i, (double)(i % 20) * 10);
    jx_array_set(a, 0, 300); /* clamped */
    const char *p = tmp_path("grid.png");
    jx_png_opts o = {2, JX_PNG_RAW, NULL};
    CHECK(jx_png_write_grid(p, a, 2, 2, &o) == 0);
    /* signature and IHDR straight from the bytes: 2 cells of 10 px + 1 gap = 21 wide,
     * 2 cells of 8 px + 1 gap = 17 high */
    unsigned char hdr[24] = {0};
    FILE *f = fopen(p, "rb");
    CHECK(f && fread(hdr, 1, 24, f) == 24);
    if (f) fclose(f);
    CHECK(memcmp(hdr, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(memcmp(hdr + 12, "IHDR", 4) == 0);
    uint32_t w = (uint32_t)hdr[16] << 24 | (uint32_t)hdr[17] << 16 | hdr[18] << 8 | hdr[19];
    uint32_t h = (uint32_t)hdr[20] << 24 | (uint32_t)hdr[21] << 16 | hdr[22] << 8 | hdr[23];
    CHECK(w == 21 && h == 17);
    unsigned rw = 0, rh = 0;
    unsigned char *pix = NULL;
    CHECK(read_png(p, &rw, &rh, &pix) == 0);
    CHECK(rw == 21 && rh == 17);
    if (pix) {
        CHECK(pix[0] == 255 && pix[1] == 255 && pix[21] == 255); /* 300 clamped, scaled */
        CHECK(pix[2] == 10);                      /* image 0, pixel (0,1) */
        CHECK(pix[10] == 128);                    /* the gap column */
        CHECK(pix[11 + 2 * 21] == 50);            /* image 1, pixel (1,0) = 5*10 */
        CHECK(pix[9 * 21 + 0] == 0);              /* image 2, pixel (0,0) */
        CHECK(pix[16 * 21 + 20] == 0);            /* empty 4th cell is black */
    }
    free(pix);
    /* per-image normalization with labels, auto layout, one [H,W] image */
    int32_t labels[3] = {7, 1, 42};
    jx_png_opts o2 = {3, JX_PNG_PER_IMAGE, labels};
    CHECK(jx_png_write_grid(p, a, 0, 0, &o2) == 0);
    CHECK(read_png(p, &rw, &rh, &pix) == 0);
    CHECK(rw == 2 * 16 - 1 && rh == 2 * 13 - 1);
    free(pix);
    int64_t s2[2] = {4, 5};
    jx_array *one = jx_array_new(JX_F64, 2, s2);
    jx_array_fill(one, 0.5);
    jx_png_opts o3 = {1, JX_PNG_UNIT, NULL};
    CHECK(jx_png_write_grid(p, one, 1, 1, &o3) == 0);
    CHECK(read_png(p, &rw, &rh, &pix) == 0);
    CHECK(rw == 5 && rh == 4 && pix && pix[7] == 128);
    free(pix);
    /* errors name the path */
    CHECK(jx_png_write_grid(p, a, 1, 2, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "3 images do not fit a 1x2 grid");
    CHECK(jx_png_write_grid("/nonexistent_dir_jx/g.png", a, 2, 2, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "/nonexistent_dir_jx/g.png");
    jx_png_opts huge = {1 << 30, JX_PNG_RAW, NULL};
    CHECK(jx_png_write_grid(p, a, 2, 2, &huge) < 0);
    CHECK_CONTAINS(jx_error(), "not a writable image");
    jx_array *iz = jx_array_new(JX_I32, 3, shape);
    CHECK(jx_png_write_grid(p, iz, 2, 2, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "must be f32 or f64");
    jx_array_free(iz);
    jx_array_free(one);
    jx_array_free(a);
    remove(p);
}

TEST(png_mnist_samples) {
    if (!have_mnist()) return;
    jx_array *x = NULL, *y = NULL;
    CHECK(jx_mnist_load(NULL, "test", 1, &x, &y) == 0);
    if (!x) return;
    const char *p = tmp_path("mnist.png");
    jx_png_opts o = {2, JX_PNG_UNIT, jx_array_cdata(y)};
    int64_t s16[3] = {16, 28, 28};
    jx_array *first = jx_array_from(JX_F32, 3, s16, jx_array_cdata(x));
    CHECK(jx_png_write_grid(p, first, 4, 4, &o) == 0);
    unsigned w = 0, h = 0;
    unsigned char *pix = NULL;
    CHECK(read_png(p, &w, &h, &pix) == 0);
    CHECK(w == 4 * 57 - 1 && h == 4 * 57 - 1);
    free(pix);
    jx_array_free(first);
    jx_array_free(x);
    jx_array_free(y);
    remove(p);
}

TEST_MAIN()
