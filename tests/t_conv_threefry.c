/* conv_patches / conv_patches_t (against direct convolution and as each other's
 * transpose, empty shapes, text round trip) and threefry2x32 (known answers, shapes,
 * per-pair keys). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "prims/threefry.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "dcr_util.h"

/* ---- conv_patches ------------------------------------------------------------------- */

/* Traces patches = conv_patches(x) for x of type tx and runs it. */
static jx_array *tst_patches(jx_type tx, jx_array *x, jx_ints win, jx_ints str, jx_ints lo,
                             jx_ints hi) {
    jx_trace *t = jx_trace_begin(1, &tx);
    jx_val r = jx_conv_patches(jx_trace_input(t, 0), win, str, lo, hi);
    jx_array *out = NULL;
    if (tst_run(t, 1, &r, &x, &out) < 0) return NULL;
    return out;
}

TEST(conv_patches_values) {
    /* x = 1..9 as [1,3,3,1], 2x2 window, VALID */
    jx_type tx = JX_TYPE(JX_F32, 1, 3, 3, 1);
    jx_array *x = tst_from(tx, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    jx_array *r = tst_patches(tx, x, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 1, 2, 2, 4)));
    double want[] = {1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9};
    for (int i = 0; r && i < 16; i++) CHECK_NEAR(jx_array_get(r, i), want[i], 0);
    jx_array_free(r);
    /* pad_lo (1,1): the first patch reads three zeros, then x[0,0] */
    r = tst_patches(tx, x, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(1, 1), JX_INTS(0, 0));
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 1, 3, 3, 4)));
    double want2[] = {0, 0, 0, 1, 0, 0, 1, 2, 0, 0, 2, 3};
    for (int i = 0; r && i < 12; i++) CHECK_NEAR(jx_array_get(r, i), want2[i], 0);
    jx_array_free(r);
    /* stride 2 with pad_hi 1: [1,2,2,4], the last patch is (9,0,0,0) */
    r = tst_patches(tx, x, JX_INTS(2, 2), JX_INTS(2, 2), JX_INTS(0, 0), JX_INTS(1, 1));
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 1, 2, 2, 4)));
    double want3[] = {1, 2, 4, 5, 3, 0, 6, 0, 7, 8, 0, 0, 9, 0, 0, 0};
    for (int i = 0; r && i < 16; i++) CHECK_NEAR(jx_array_get(r, i), want3[i], 0);
    jx_array_free(r);
    jx_array_free(x);
    /* features ordered (kh,kw,c): a 2x2x2 image with a 2x2 window is one patch equal to
     * the image itself, flattened row-major */
    jx_type ty = JX_TYPE(JX_I32, 1, 2, 2, 2);
    jx_array *y = tst_from(ty, (double[]){1, 2, 3, 4, 5, 6, 7, 8});
    r = tst_patches(ty, y, JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    CHECK(tst_has_type(r, JX_TYPE(JX_I32, 1, 1, 1, 8)));
    for (int i = 0; r && i < 8; i++) CHECK(jx_array_get(r, i) == i + 1);
    jx_array_free(r);
    jx_array_free(y);
}

/* One convolution configuration: window, strides, pads. */
typedef struct tst_conv_cfg {
    int64_t kh, kw, sh, sw, ph0, pw0, ph1, pw1;
} tst_conv_cfg;

/* conv(x, w) = dot_general(conv_patches(x), w as [KH*KW*C, O]) against a direct loop. */
static void tst_conv_vs_direct(jx_dtype dt, tst_conv_cfg g, double tol) {
    const int64_t n = 2, h = 5, w = 6, c = 3, o = 4;
    jx_type tx = JX_TYPE(dt, n, h, w, c);
    jx_type tw = JX_TYPE(dt, g.kh * g.kw * c, o); /* HWIO data, row-major == [KH*KW*C,O] */
    jx_array *x = tst_random(tx), *wt = tst_random(tw);
    jx_type ts[2] = {tx, tw};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val p = jx_conv_patches(jx_trace_input(t, 0), JX_INTS(g.kh, g.kw), JX_INTS(g.sh, g.sw),
                               JX_INTS(g.ph0, g.pw0), JX_INTS(g.ph1, g.pw1));
    jx_val r = jx_dot_general(p, jx_trace_input(t, 1), JX_INTS(3), JX_INTS(0), JX_NOINTS,
                              JX_NOINTS);
    jx_array *in[2] = {x, wt}, *out = NULL;
    int rc = tst_run(t, 1, &r, in, &out);
    CHECK(rc == 0);
    int64_t oh = (h + g.ph0 + g.ph1 - g.kh) / g.sh + 1, ow = (w + g.pw0 + g.pw1 - g.kw) / g.sw + 1;
    CHECK(rc < 0 || tst_has_type(out, JX_TYPE(dt, n, oh, ow, o)));
    for (int64_t b = 0; rc == 0 && b < n; b++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                for (int64_t q = 0; q < o; q++) {
                    double s = 0;
                    for (int64_t kh = 0; kh < g.kh; kh++)
                        for (int64_t kw = 0; kw < g.kw; kw++)
                            for (int64_t ch = 0; ch < c; ch++) {
                                int64_t y = i * g.sh - g.ph0 + kh, xx = j * g.sw - g.pw0 + kw;
                                if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                                s += jx_array_get(x, ((b * h + y) * w + xx) * c + ch) *
                                     jx_array_get(wt, ((kh * g.kw + kw) * c + ch) * o + q);
                            }
                    CHECK_NEAR(jx_array_get(out, ((b * oh + i) * ow + j) * o + q), s, tol);
                }
    jx_array_free(out);
    jx_array_free(x);
    jx_array_free(wt);
}

TEST(conv_vs_direct) {
    tst_conv_cfg cfgs[] = {
        {3, 3, 1, 1, 0, 0, 0, 0}, /* VALID, stride 1 */
        {3, 3, 1, 1, 1, 1, 1, 1}, /* SAME, stride 1 */
        {3, 3, 2, 2, 0, 0, 0, 0}, /* VALID, stride 2 */
        {3, 3, 2, 2, 1, 0, 1, 1}, /* SAME, stride 2 (H 5: pad 1+1; W 6: pad 0+1) */
        {2, 3, 2, 1, 0, 1, 1, 1}, /* non-square window, mixed strides */
        {1, 1, 1, 1, 0, 0, 0, 0}, /* 1x1 */
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        tst_conv_vs_direct(JX_F64, cfgs[i], 1e-13);
        tst_conv_vs_direct(JX_F32, cfgs[i], 1e-5);
        tst_conv_vs_direct(JX_I32, cfgs[i], 0);
    }
}

/* <conv_patches(x), p> == <x, conv_patches_t(p)> for random x, p. */
static void tst_conv_transpose(jx_type tx, tst_conv_cfg g) {
    jx_ints win = JX_INTS(g.kh, g.kw), str = JX_INTS(g.sh, g.sw), lo = JX_INTS(g.ph0, g.pw0),
            hi = JX_INTS(g.ph1, g.pw1);
    int64_t oh = (tx.shape[1] + g.ph0 + g.ph1 - g.kh) / g.sh + 1;
    int64_t ow = (tx.shape[2] + g.pw0 + g.pw1 - g.kw) / g.sw + 1;
    jx_type tp = JX_TYPE(tx.dtype, tx.shape[0], oh, ow, g.kh * g.kw * tx.shape[3]);
    jx_array *x = tst_random(tx), *p = tst_random(tp);
    jx_type ts[2] = {tx, tp};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val outs[2];
    outs[0] = jx_conv_patches(jx_trace_input(t, 0), win, str, lo, hi);
    outs[1] = jx_conv_patches_t(jx_trace_input(t, 1), JX_INTS(tx.shape[1], tx.shape[2]), win,
                                str, lo, hi);
    jx_array *in[2] = {x, p}, *out[2] = {NULL, NULL};
    int rc = tst_run(t, 2, outs, in, out);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(tst_has_type(out[0], tp));
        CHECK(tst_has_type(out[1], tx));
        double lhs = 0, rhs = 0;
        for (int64_t i = 0; i < jx_array_size(p); i++)
            lhs += jx_array_get(out[0], i) * jx_array_get(p, i);
        for (int64_t i = 0; i < jx_array_size(x); i++)
            rhs += jx_array_get(x, i) * jx_array_get(out[1], i);
        CHECK_NEAR(lhs, rhs, tx.dtype == JX_F32 ? 1e-5 : 1e-12);
    }
    jx_array_free(out[0]);
    jx_array_free(out[1]);
    jx_array_free(x);
    jx_array_free(p);
}

TEST(conv_patches_t_is_transpose) {
    tst_conv_cfg cfgs[] = {
        {3, 3, 1, 1, 0, 0, 0, 0}, {3, 3, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 0, 1, 1},
        {2, 2, 3, 3, 0, 0, 0, 0}, /* stride > window: some pixels are never read */
        {2, 3, 2, 1, 3, 0, 2, 4}, /* pads larger than the window */
        {5, 6, 1, 1, 0, 0, 0, 0}, /* window = whole image */
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        tst_conv_transpose(JX_TYPE(JX_F64, 2, 5, 6, 3), cfgs[i]);
        tst_conv_transpose(JX_TYPE(JX_F32, 1, 5, 6, 2), cfgs[i]);
        tst_conv_transpose(JX_TYPE(JX_I32, 2, 5, 6, 1), cfgs[i]);
    }
}

TEST(conv_patches_t_values) {
    /* all-ones patches of a 3x3 image with a 2x2 window: each pixel's use count */
    jx_type tp = JX_TYPE(JX_I32, 1, 2, 2, 4);
    jx_array *p = jx_array_new_type(&tp);
    jx_array_fill(p, 1);
    jx_trace *t = jx_trace_begin(1, &tp);
    jx_val r = jx_conv_patches_t(jx_trace_input(t, 0), JX_INTS(3, 3), JX_INTS(2, 2),
                                 JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0));
    jx_type vt = jx_val_type(r), want_t = JX_TYPE(JX_I32, 1, 3, 3, 1);
    CHECK(jx_type_eq(&vt, &want_t));
    jx_array *out = NULL;
    CHECK(tst_run(t, 1, &r, &p, &out) == 0);
    double want[] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
    for (int i = 0; out && i < 9; i++) CHECK(jx_array_get(out, i) == want[i]);
    jx_array_free(out);
    jx_array_free(p);
}

TEST(conv_empty) {
    /* N = 0 and C = 0 give empty outputs of the right shapes */
    jx_type t0 = JX_TYPE(JX_F32, 0, 4, 4, 2), tc = JX_TYPE(JX_F32, 1, 4, 4, 0);
    jx_array *x0 = jx_array_new_type(&t0), *xc = jx_array_new_type(&tc);
    jx_array *r = tst_patches(t0, x0, JX_INTS(3, 3), JX_INTS(1, 1), JX_INTS(1, 1), JX_INTS(1, 1));
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 0, 4, 4, 18)));
    jx_array_free(r);
    r = tst_patches(tc, xc, JX_INTS(2, 2), JX_INTS(2, 2), JX_INTS(0, 0), JX_INTS(0, 0));
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 1, 2, 2, 0)));
    jx_array_free(r);
    jx_array_free(x0);
    jx_array_free(xc);
    jx_type tp = JX_TYPE(JX_F64, 0, 2, 2, 4);
    jx_trace *t = jx_trace_begin(1, &tp);
    jx_val v = jx_conv_patches_t(jx_trace_input(t, 0), JX_INTS(3, 3), JX_INTS(2, 2),
                                 JX_INTS(2, 2), JX_INTS(1, 1), JX_INTS(0, 0));
    jx_array *p = jx_array_new_type(&tp), *out = NULL;
    CHECK(tst_run(t, 1, &v, &p, &out) == 0);
    CHECK(tst_has_type(out, JX_TYPE(JX_F64, 0, 3, 3, 1)));
    jx_array_free(out);
    jx_array_free(p);
}

TEST(conv_text_roundtrip) {
    /* The printed form carries conv_patches_t's output type; parse it back and rerun. */
    jx_type tp = JX_TYPE(JX_F64, 1, 2, 2, 8);
    jx_trace *t = jx_trace_begin(1, &tp);
    jx_val v = jx_conv_patches_t(jx_trace_input(t, 0), JX_INTS(4, 3), JX_INTS(2, 2),
                                 JX_INTS(2, 2), JX_INTS(0, 1), JX_INTS(1, 0));
    jx_val d = jx_dot_general(v, v, JX_INTS(1, 2), JX_INTS(1, 2), JX_INTS(0), JX_INTS(0));
    jx_fn *f = jx_trace_end(t, 1, &d);
    CHECK(f != NULL);
    char *s = f ? jx_fn_to_string(f) : NULL;
    jx_fn *g = s ? jx_fn_parse(s) : NULL;
    CHECK(g != NULL);
    if (s) CHECK_CONTAINS(s, "conv_patches_t");
    if (g) CHECK(jx_fn_verify(g) == 0);
    if (f && g) {
        jx_array *p = tst_random(tp), *o1 = NULL, *o2 = NULL;
        CHECK(jx_interp(f, &p, &o1) == 0 && jx_interp(g, &p, &o2) == 0);
        CHECK(tst_has_type(o1, JX_TYPE(JX_F64, 1, 2, 2)));
        for (int i = 0; o1 && o2 && i < 4; i++) CHECK(jx_array_get(o1, i) == jx_array_get(o2, i));
        jx_array_free(o1);
        jx_array_free(o2);
        jx_array_free(p);
    }
    free(s);
    jx_fn_free(f);
    jx_fn_free(g);
}

/* ---- threefry2x32 ------------------------------------------------------------------- */

/* Random123 kat_vectors: ctr0 ctr1 key0 key1 -> out0 out1. */
static const uint32_t tst_kat[3][6] = {
    {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6b200159u, 0x99ba4efeu},
    {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x1cb996fcu, 0xbb002be7u},
    {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xc4923a9cu, 0x483df7a0u},
};

TEST(threefry_scalar_kat) {
    for (int i = 0; i < 3; i++) {
        uint32_t x[2] = {tst_kat[i][0], tst_kat[i][1]};
        rng_threefry2x32(tst_kat[i][2], tst_kat[i][3], x);
        CHECK(x[0] == tst_kat[i][4] && x[1] == tst_kat[i][5]);
    }
}

/* Traces threefry2x32(key, x) with x of type tx and runs it on (key, xv). */
static jx_array *tst_threefry(jx_type tx, const uint32_t key[2], const uint32_t *xv) {
    jx_type ts[2] = {JX_TYPE(JX_U32, 2), tx};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val r = jx_threefry2x32(jx_trace_input(t, 0), jx_trace_input(t, 1));
    jx_array *in[2] = {jx_array_from(JX_U32, 1, ts[0].shape, key),
                       jx_array_from(JX_U32, tx.rank, tx.shape, xv)};
    jx_array *out = NULL;
    int rc = tst_run(t, 1, &r, in, &out);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    return rc < 0 ? NULL : out;
}

TEST(threefry_kat_u32_2x3) {
    /* For each KAT key: x u32[2,3] holds the KAT counter in column i and two other
     * counters; column i must give the KAT output, the others the scalar function. */
    for (int i = 0; i < 3; i++) {
        uint32_t key[2] = {tst_kat[i][2], tst_kat[i][3]};
        uint32_t xv[6] = {1, 2, 3, 0xdeadbeefu, 5, 6};
        xv[i] = tst_kat[i][0];
        xv[3 + i] = tst_kat[i][1];
        jx_array *r = tst_threefry(JX_TYPE(JX_U32, 2, 3), key, xv);
        CHECK(tst_has_type(r, JX_TYPE(JX_U32, 2, 3)));
        if (!r) continue;
        const uint32_t *y = jx_array_cdata(r);
        CHECK(y[i] == tst_kat[i][4]);
        CHECK(y[3 + i] == tst_kat[i][5]);
        for (int j = 0; j < 3; j++) {
            uint32_t v[2] = {xv[j], xv[3 + j]};
            rng_threefry2x32(key[0], key[1], v);
            CHECK(y[j] == v[0] && y[3 + j] == v[1]);
        }
        jx_array_free(r);
    }
}

TEST(threefry_shapes) {
    uint32_t key[2] = {0, 42};
    /* rank 1: x u32[2] is one counter pair */
    uint32_t x1[2] = {0, 0};
    jx_array *r = tst_threefry(JX_TYPE(JX_U32, 2), key, x1);
    CHECK(tst_has_type(r, JX_TYPE(JX_U32, 2)));
    if (r) {
        uint32_t v[2] = {0, 0};
        rng_threefry2x32(0, 42, v);
        CHECK(((const uint32_t *)jx_array_cdata(r))[0] == v[0]);
        CHECK(((const uint32_t *)jx_array_cdata(r))[1] == v[1]);
    }
    jx_array_free(r);
    /* rank 3: x u32[2,2,2], pairs (x[0,a,b], x[1,a,b]) */
    uint32_t x3[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    r = tst_threefry(JX_TYPE(JX_U32, 2, 2, 2), key, x3);
    CHECK(tst_has_type(r, JX_TYPE(JX_U32, 2, 2, 2)));
    for (int j = 0; r && j < 4; j++) {
        uint32_t v[2] = {x3[j], x3[4 + j]};
        rng_threefry2x32(0, 42, v);
        CHECK(((const uint32_t *)jx_array_cdata(r))[j] == v[0]);
        CHECK(((const uint32_t *)jx_array_cdata(r))[4 + j] == v[1]);
    }
    jx_array_free(r);
    /* empty: u32[2,0] */
    r = tst_threefry(JX_TYPE(JX_U32, 2, 0), key, x1);
    CHECK(tst_has_type(r, JX_TYPE(JX_U32, 2, 0)));
    jx_array_free(r);
}

TEST(threefry_per_pair_key) {
    /* key u32[2,2,3] of x's type: pair (a,b) uses key (key[0,a,b], key[1,a,b]) */
    jx_type tx = JX_TYPE(JX_U32, 2, 2, 3);
    uint32_t kv[12], xv[12];
    for (int i = 0; i < 12; i++) {
        kv[i] = 0x9e3779b9u * (uint32_t)(i + 1);
        xv[i] = (uint32_t)i * 7u;
    }
    kv[0] = tst_kat[2][2], kv[6] = tst_kat[2][3], xv[0] = tst_kat[2][0], xv[6] = tst_kat[2][1];
    jx_type ts[2] = {tx, tx};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val r = jx_threefry2x32(jx_trace_input(t, 0), jx_trace_input(t, 1));
    jx_array *in[2] = {jx_array_from(JX_U32, 3, tx.shape, kv),
                       jx_array_from(JX_U32, 3, tx.shape, xv)};
    jx_array *out = NULL;
    CHECK(tst_run(t, 1, &r, in, &out) == 0);
    CHECK(tst_has_type(out, tx));
    const uint32_t *y = out ? jx_array_cdata(out) : NULL;
    for (int j = 0; y && j < 6; j++) {
        uint32_t v[2] = {xv[j], xv[6 + j]};
        rng_threefry2x32(kv[j], kv[6 + j], v);
        CHECK(y[j] == v[0] && y[6 + j] == v[1]);
    }
    if (y) CHECK(y[0] == tst_kat[2][4] && y[6] == tst_kat[2][5]);
    jx_array_free(out);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    /* empty: key and x u32[2,0] */
    ts[0] = ts[1] = JX_TYPE(JX_U32, 2, 0);
    t = jx_trace_begin(2, ts);
    r = jx_threefry2x32(jx_trace_input(t, 0), jx_trace_input(t, 1));
    jx_array *e[2] = {jx_array_new_type(&ts[0]), jx_array_new_type(&ts[1])};
    CHECK(tst_run(t, 1, &r, e, &out) == 0);
    CHECK(tst_has_type(out, ts[0]));
    jx_array_free(out);
    jx_array_free(e[0]);
    jx_array_free(e[1]);
}

TEST_MAIN()
