/* PNG grids of gray images through libpng: the grid is composed in memory as 8-bit gray
 * pixels, then written in one go. libpng reports errors by longjmp; nothing that the
 * error path reads is modified after setjmp. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "jx/data.h"
#include "core/util.h"

/* 3x5 glyphs of the digits 0-9, one row per 3 bits (msb left), top row first. */
static const unsigned char grid_font[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};

/* The gray pixel layout of a grid. */
typedef struct grid_geom {
    int64_t h, w, scale, rows, cols, width, height;
} grid_geom;

/* Draws label (0..99) in white on a black box at the top-left of the cell whose
 * top-left pixel is (y0, x0), clipped to the cell. */
static void grid_label(unsigned char *pix, const grid_geom *g, int64_t y0, int64_t x0,
                       int label) {
    int digits[2], nd = 0;
    if (label >= 10) digits[nd++] = label / 10;
    digits[nd++] = label % 10;
    int64_t fp = (g->scale + 1) / 2; /* font pixel size */
    int64_t bw = (int64_t)(4 * nd + 1) * fp, bh = 7 * fp;
    int64_t cw = g->w * g->scale, ch = g->h * g->scale;
    for (int64_t y = 0; y < bh && y < ch; y++)
        for (int64_t x = 0; x < bw && x < cw; x++) {
            int64_t gy = y / fp - 1, gx = x / fp - 1;
            int on = 0;
            if (gy >= 0 && gy < 5 && gx >= 0 && gx % 4 < 3 && gx / 4 < nd)
                on = (grid_font[digits[gx / 4]][gy] >> (2 - gx % 4)) & 1;
            pix[(y0 + y) * g->width + x0 + x] = on ? 255 : 0;
        }
}

/* Composes the grid of images (f32/f64, n images of h*w) into pix (g->width*g->height). */
static void grid_compose(unsigned char *pix, const grid_geom *g, const jx_array *a,
                         int64_t n, jx_png_mode mode, const int32_t *labels) {
    memset(pix, 128, (size_t)(g->width * g->height));
    int64_t hw = g->h * g->w;
    for (int64_t cell = 0; cell < g->rows * g->cols; cell++) {
        int64_t y0 = (cell / g->cols) * (g->h * g->scale + 1);
        int64_t x0 = (cell % g->cols) * (g->w * g->scale + 1);
        double lo = 0, mul = mode == JX_PNG_UNIT ? 255.0 : 1.0;
        if (cell < n && mode == JX_PNG_PER_IMAGE) {
            double mn = INFINITY, mx = -INFINITY;
            for (int64_t i = 0; i < hw; i++) {
                double v = jx_array_get(a, cell * hw + i);
                if (v < mn) mn = v;
                if (v > mx) mx = v;
            }
            lo = mn;
            mul = mx > mn && isfinite(mx - mn) ? 255.0 / (mx - mn) : 0.0;
        }
        for (int64_t y = 0; y < g->h * g->scale; y++)
            for (int64_t x = 0; x < g->w * g->scale; x++) {
                unsigned char p = 0;
                if (cell < n) {
                    double v = (jx_array_get(a, cell * hw + (y / g->scale) * g->w +
                                                    x / g->scale) -
                                lo) *
                               mul;
                    p = !(v > 0) ? 0 : v >= 255 ? 255 : (unsigned char)(v + 0.5);
                }
                pix[(y0 + y) * g->width + x0 + x] = p;
            }
        if (cell < n && labels && labels[cell] >= 0 && labels[cell] <= 99)
            grid_label(pix, g, y0, x0, labels[cell]);
    }
}

/* libpng's error callback: keeps the message and unwinds to the setjmp. */
static void grid_png_error(png_structp png, png_const_charp msg) {
    char *buf = png_get_error_ptr(png);
    snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng's warning callback: ignored. */
static void grid_png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* Writes pix (g->width x g->height gray) to path. 0 or -1 with a message. */
static int grid_write(const char *path, const grid_geom *g, unsigned char *pix,
                      png_bytep *rows) {
    char msg[256] = "";
    FILE *f = fopen(path, "wb");
    if (!f) return util_err("jx_png_write_grid: cannot open %s: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, grid_png_error,
                                              grid_png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return util_err("jx_png_write_grid: %s: libpng out of memory", path);
    }
    for (int64_t y = 0; y < g->height; y++) rows[y] = pix + y * g->width;
    int failed = 0;
    if (setjmp(png_jmpbuf(png))) {
        failed = 1;
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)g->width, (png_uint_32)g->height, 8,
                     PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        png_set_rows(png, info, rows);
        png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    }
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        snprintf(msg, sizeof msg, "%s", strerror(errno));
    }
    if (failed) {
        remove(path);
        return util_err("jx_png_write_grid: %s: %s", path, msg[0] ? msg : "write error");
    }
    return 0;
}

/* Writes images as a PNG grid (see jx/data.h). */
int jx_png_write_grid(const char *path, const jx_array *images, int nrow, int ncol,
                      const jx_png_opts *opts) {
    if (!path || !images) return util_err("jx_png_write_grid: NULL %s", path ? "images" : "path");
    jx_type t = jx_array_type(images);
    char ts[256];
    jx_type_str(&t, ts, sizeof ts);
    if (t.dtype != JX_F32 && t.dtype != JX_F64)
        return util_err("jx_png_write_grid: %s: images %s must be f32 or f64", path, ts);
    int64_t n, h, w;
    if (t.rank == 2) n = 1, h = t.shape[0], w = t.shape[1];
    else if (t.rank == 3 || (t.rank == 4 && t.shape[3] == 1))
        n = t.shape[0], h = t.shape[1], w = t.shape[2];
    else
        return util_err("jx_png_write_grid: %s: images %s must be [H,W], [N,H,W] or [N,H,W,1]",
                        path, ts);
    jx_png_opts o = opts ? *opts : (jx_png_opts){0};
    if (o.scale <= 0) o.scale = 1;
    if ((unsigned)o.mode > JX_PNG_PER_IMAGE)
        return util_err("jx_png_write_grid: %s: unknown mode %d", path, (int)o.mode);
    if (nrow <= 0 && ncol <= 0) {
        ncol = 1;
        while ((int64_t)ncol * ncol < n) ncol++;
    }
    if (nrow <= 0) nrow = (int)((n + ncol - 1) / ncol) > 0 ? (int)((n + ncol - 1) / ncol) : 1;
    if (ncol <= 0) ncol = (int)((n + nrow - 1) / nrow) > 0 ? (int)((n + nrow - 1) / nrow) : 1;
    if (n > (int64_t)nrow * ncol)
        return util_err("jx_png_write_grid: %s: %lld images do not fit a %dx%d grid", path,
                        (long long)n, nrow, ncol);
    grid_geom g = {h, w, o.scale, nrow, ncol, INT64_MAX, INT64_MAX};
    if (h >= 1 && w >= 1 && h <= 32768 && w <= 32768 && o.scale <= 1000) {
        g.width = ncol * (w * o.scale + 1) - 1;
        g.height = nrow * (h * o.scale + 1) - 1;
    }
    if (g.width > 32768 || g.height > 32768)
        return util_err("jx_png_write_grid: %s: a %dx%d grid of %s at scale %d is not a "
                        "writable image (1..32768 pixels a side)",
                        path, nrow, ncol, ts, o.scale);
    unsigned char *pix = malloc((size_t)(g.width * g.height));
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)g.height);
    int rc = -1;
    if (!pix || !rows) util_err("jx_png_write_grid: %s: out of memory", path);
    else {
        grid_compose(pix, &g, images, n, o.mode, o.labels);
        rc = grid_write(path, &g, pix, rows);
    }
    free(pix);
    free(rows);
    return rc;
}
