/* Image augmentation: integer shifts and bilinear rotations of h x w f32 images with
 * zero fill, and a batch version whose random parameters come from Threefry keyed by
 * (seed, step) and counted by image index. */
#include <math.h>
#include <string.h>

#include "jx/data.h"
#include "prims/threefry.h"
#include "core/util.h"

/* Pixel (y, x) of src, 0 outside the image. */
static float aug_at(const float *src, int64_t h, int64_t w, int64_t y, int64_t x) {
    return (y < 0 || y >= h || x < 0 || x >= w) ? 0.0f : src[y * w + x];
}

/* Rounds v to the nearest integer if it is within 1e-6 of it (so rotations by multiples
 * of 90 degrees land exactly on pixels despite cos(pi/2) != 0 in floating point). */
static double aug_snap(double v) {
    double r = nearbyint(v);
    return fabs(v - r) < 1e-6 ? r : v;
}

/* dst = shift(rotate(src, degrees), dy, dx): each output pixel samples src bilinearly at
 * the inverse-rotated position of (y - dy, x - dx) about the image center. */
static void aug_warp(const float *src, float *dst, int64_t h, int64_t w, double degrees,
                     int64_t dy, int64_t dx) {
    if (degrees == 0.0) {
        jx_image_shift(src, dst, h, w, dy, dx);
        return;
    }
    const double pi = 3.14159265358979323846;
    double th = degrees * pi / 180.0, c = cos(th), s = sin(th);
    double cy = (double)(h - 1) / 2, cx = (double)(w - 1) / 2;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            double ry = (double)(y - dy) - cy, rx = (double)(x - dx) - cx;
            double sx = aug_snap(cx + rx * c - ry * s), sy = aug_snap(cy + rx * s + ry * c);
            double fx0 = floor(sx), fy0 = floor(sy);
            float v = 0.0f;
            if (fx0 > -2 && fx0 < (double)w && fy0 > -2 && fy0 < (double)h) {
                int64_t x0 = (int64_t)fx0, y0 = (int64_t)fy0;
                double ax = sx - fx0, ay = sy - fy0;
                double top = (1 - ax) * aug_at(src, h, w, y0, x0) +
                             ax * aug_at(src, h, w, y0, x0 + 1);
                double bot = (1 - ax) * aug_at(src, h, w, y0 + 1, x0) +
                             ax * aug_at(src, h, w, y0 + 1, x0 + 1);
                v = (float)((1 - ay) * top + ay * bot);
            }
            dst[y * w + x] = v;
        }
}

/* dst[y][x] = src[y-dy][x-dx], zero outside. */
void jx_image_shift(const float *src, float *dst, int64_t h, int64_t w, int64_t dy,
                    int64_t dx) {
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) dst[y * w + x] = aug_at(src, h, w, y - dy, x - dx);
}

/* Bilinear rotation by degrees counter-clockwise (as displayed) about the center. */
void jx_image_rotate(const float *src, float *dst, int64_t h, int64_t w, double degrees) {
    if (degrees == 0.0) memcpy(dst, src, sizeof(float) * (size_t)(h * w));
    else aug_warp(src, dst, h, w, degrees, 0, 0);
}

/* The 64-bit Threefry output for counter c under key k. */
static uint64_t aug_bits(const uint32_t k[2], uint64_t c) {
    uint32_t x[2] = {(uint32_t)c, (uint32_t)(c >> 32)};
    rng_threefry2x32(k[0], k[1], x);
    return ((uint64_t)x[0] << 32) | x[1];
}

/* Random rotation then shift of every image of in, into out (see jx/data.h). */
int jx_augment_batch(const jx_array *in, jx_array *out, int64_t h, int64_t w,
                     const jx_augment_opts *opts, uint64_t seed, uint64_t step) {
    if (!in || !out || !opts)
        return util_err("jx_augment_batch: NULL %s", !in ? "input" : !out ? "output" : "opts");
    jx_type ti = jx_array_type(in), to = jx_array_type(out);
    char s1[256], s2[256];
    if (ti.dtype != JX_F32 || ti.rank < 1 || !jx_type_eq(&ti, &to))
        return util_err("jx_augment_batch: input %s and output %s must be the same f32 "
                        "type with a batch dimension",
                        jx_type_str(&ti, s1, sizeof s1), jx_type_str(&to, s2, sizeof s2));
    int64_t b = ti.shape[0], n = jx_array_size(in);
    if (h < 1 || w < 1 || (b > 0 && n / b != h * w))
        return util_err("jx_augment_batch: rows of %s are not %lldx%lld images",
                        jx_type_str(&ti, s1, sizeof s1), (long long)h, (long long)w);
    if (opts->max_shift < 0 || !(opts->max_degrees >= 0) || !isfinite(opts->max_degrees))
        return util_err("jx_augment_batch: max_shift %d and max_degrees %g must be >= 0",
                        opts->max_shift, opts->max_degrees);
    if (n && jx_array_cdata(in) == jx_array_cdata(out))
        return util_err("jx_augment_batch: output must not be the input buffer");
    const float *src = jx_array_cdata(in);
    float *dst = jx_array_data(out);
    /* A key for this step, tagged so it differs from jx_shuffle's for the same seed. */
    const uint32_t k0[2] = {(uint32_t)seed ^ 0x61756721u, (uint32_t)(seed >> 32)};
    uint64_t e = aug_bits(k0, step);
    const uint32_t k[2] = {(uint32_t)(e >> 32), (uint32_t)e};
    uint64_t span = 2 * (uint64_t)opts->max_shift + 1;
    for (int64_t i = 0; i < b; i++) {
        uint64_t r1 = aug_bits(k, 2 * (uint64_t)i), r2 = aug_bits(k, 2 * (uint64_t)i + 1);
        int64_t dy = (int64_t)((r1 >> 32) % span) - opts->max_shift;
        int64_t dx = (int64_t)((r1 & 0xFFFFFFFFu) % span) - opts->max_shift;
        double u = (double)(r2 >> 11) * (1.0 / 9007199254740992.0); /* [0,1) */
        double deg = (2 * u - 1) * opts->max_degrees;
        aug_warp(src + i * h * w, dst + i * h * w, h, w, deg, dy, dx);
    }
    return 0;
}
