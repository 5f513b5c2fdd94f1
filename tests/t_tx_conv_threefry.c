/* Transformations (grad, vjp, jvp, vmap) of conv_patches / conv_patches_t and
 * threefry2x32: derivatives, batching along every axis without transposes, empty batches,
 * and keys/counters staying one op. */
#include "txcheck.h"
#include "core/ir.h"
#include "prims/threefry.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "tdc_util.h"

#define TDC_NDOTS 11

/* ---- conv_patches / conv_patches_t -------------------------------------------------- */

#define TDC_CONV_ATTRS JX_INTS(3, 2), JX_INTS(2, 1), JX_INTS(1, 0), JX_INTS(1, 1)

/* x[2,5,4,3] -> patches [2,3,4,18] with window 3x2, strides 2x1, padding (1,0)/(1,1). */
static void tdc_patches(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_conv_patches(in[0], TDC_CONV_ATTRS);
}

/* Its transpose: p[2,3,4,18] -> [2,5,4,3]. */
static void tdc_patches_t(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_conv_patches_t(in[0], JX_INTS(5, 4), TDC_CONV_ATTRS);
}

static jx_fn *tdc_conv_fn(int transpose, jx_dtype dt) {
    jx_type ty = transpose ? JX_TYPE(dt, 2, 3, 4, 18) : JX_TYPE(dt, 2, 5, 4, 3);
    return tdc_ok(jx_trace(transpose ? tdc_patches_t : tdc_patches, 1, &ty, 1, NULL));
}

TEST(conv_grad) {
    for (int k = 0; k < 2; k++) {
        jx_fn *f = tdc_conv_fn(k, JX_F64);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        /* the vjp of each op is the other op */
        jx_fn *g = f ? tdc_ok(jx_vjp(f, NULL)) : NULL;
        CHECK(tdc_count(g, k ? JX_OP_CONV_PATCHES : JX_OP_CONV_PATCHES_T) == 1);
        jx_fn_free(g);
        jx_fn_free(f);
    }
}

TEST(conv_vmap_every_axis) {
    int axes[6] = {0, 1, 2, 3, 4, -1};
    for (int k = 0; k < 2; k++) {
        jx_fn *f = tdc_conv_fn(k, JX_F64);
        for (int a = 0; f && a < 6; a++) txc_vmap(f, &axes[a], 3, -1, 1, 1e-12);
        jx_fn_free(f);
        f = tdc_conv_fn(k, JX_I32);
        for (int a = 0; f && a < 6; a += 5) txc_vmap(f, &axes[a], 2, 0, 0, 0);
        jx_fn_free(f);
    }
}

TEST(conv_vmap_merges_batch_without_transpose) {
    for (int k = 0; k < 2; k++) {
        jx_fn *f = tdc_conv_fn(k, JX_F64);
        for (int a = 0; f && a < 2; a++) {
            /* batch at 0 ([B,N,..]) or 1 ([N,B,..]): reshape, op, reshape; the result
             * keeps the batch axis where it was (out_axes = a) */
            int oa = a;
            jx_fn *g = tdc_ok(jx_vmap(f, &a, &oa, 3));
            CHECK(g != NULL);
            CHECK(tdc_count(g, JX_OP_TRANSPOSE) == 0);
            CHECK(tdc_count(g, k ? JX_OP_CONV_PATCHES_T : JX_OP_CONV_PATCHES) == 1);
            CHECK(tdc_count(g, JX_OP_RESHAPE) == 2);
            const jx_node *c = tdc_find(g, k ? JX_OP_CONV_PATCHES_T : JX_OP_CONV_PATCHES);
            CHECK(c && c->type.shape[0] == 6);
            jx_fn_free(g);
        }
        jx_fn_free(f);
    }
}

TEST(conv_vmap_empty_batch) {
    jx_fn *f = tdc_conv_fn(0, JX_F64);
    int a = 1;
    if (f) txc_vmap(f, &a, 0, -1, 1, 0);
    jx_fn_free(f);
}

/* A conv layer: conv_patches(x[1,5,5,2]) . reshape(w[3,3,2,4], [18,4]) -> [1,3,3,4], then
 * the squared norm as a scalar loss (a dot of the output with itself). */
static void tdc_conv_layer(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val p = jx_conv_patches(in[0], JX_INTS(3, 3), JX_INTS(1, 1), JX_INTS(0, 0),
                               JX_INTS(0, 0));
    jx_val w = jx_reshape(in[1], JX_INTS(18, 4));
    jx_val y = jx_dot_general(p, w, JX_INTS(3), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_dot_general(y, y, JX_INTS(0, 1, 2, 3), JX_INTS(0, 1, 2, 3), JX_NOINTS,
                            JX_NOINTS);
}

TEST(conv_layer_grad_grad_and_per_example) {
    jx_type ts[2] = {JX_TYPE(JX_F64, 1, 5, 5, 2), JX_TYPE(JX_F64, 3, 3, 2, 4)};
    jx_fn *f = tdc_ok(jx_trace(tdc_conv_layer, 2, ts, 1, NULL));
    CHECK(f != NULL);
    if (!f) return;
    /* quartic in (x, w) jointly: central differences carry O(h^2) error, still ~1e-11 */
    txc_grad(f, -1, 1, 1e-6);
    int wrt[2] = {0, 1};
    jx_fn *g = tdc_ok(jx_grad(f, 2, wrt));
    CHECK(g != NULL);
    if (g) txc_grad(g, -1, 1, 1e-6);
    /* per-example gradients over a batch of images, w shared */
    int axes[2] = {0, JX_NONE};
    if (g) txc_vmap(g, axes, 3, -1, 1, 1e-12);
    int axes2[2] = {-1, JX_NONE};
    if (g) txc_vmap(g, axes2, 2, -1, 1, 1e-12);
    int axes3[2] = {JX_NONE, 0};
    if (g) txc_vmap(g, axes3, 2, -1, 1, 1e-12);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* ---- threefry2x32 ------------------------------------------------------------------- */

/* A new u32 array of type ty with full-range pseudo-random values (lo, hi unused). */
static jx_array *tdc_u32(jx_type ty, double lo, double hi) {
    (void)lo, (void)hi;
    jx_array *a = jx_array_new_type(&ty);
    uint32_t *p = jx_array_data(a);
    for (int64_t i = 0; i < jx_array_size(a); i++)
        p[i] = (uint32_t)(txc_rand() * 4294967296.0);
    return a;
}

/* txc_vmap for all-u32 functions with full-range inputs (exact comparison). */
static void tdc_vmap_u32(const jx_fn *f, const int *in_axes, int64_t bsize) {
    txc_vmap_gen(f, in_axes, bsize, tdc_u32, 0, 0, 0);
}

/* f(key, x) = threefry2x32(key, x). */
static void tdc_threefry(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_threefry2x32(in[0], in[1]);
}

static jx_fn *tdc_rng_fn(jx_type key, jx_type x) {
    jx_type ts[2] = {key, x};
    return tdc_ok(jx_trace(tdc_threefry, 2, ts, 1, NULL));
}

TEST(threefry_vmap_every_in_axes) {
    /* (key type, x type): one key for all pairs, per-pair keys, single pairs */
    const jx_type cases[4][2] = {
        {JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3)},
        {JX_TYPE(JX_U32, 2, 3), JX_TYPE(JX_U32, 2, 3)},
        {JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2)},
        {JX_TYPE(JX_U32, 2, 2, 3), JX_TYPE(JX_U32, 2, 2, 3)},
    };
    for (int c = 0; c < 4; c++) {
        jx_fn *f = tdc_rng_fn(cases[c][0], cases[c][1]);
        CHECK(f != NULL);
        int a0[4], a1[4];
        int n0 = tdc_axes(cases[c][0].rank, a0), n1 = tdc_axes(cases[c][1].rank, a1);
        for (int i = 0; f && i < n0; i++)
            for (int j = 0; j < n1; j++) {
                int axes[2] = {a0[i], a1[j]};
                int before = check_failed_now;
                tdc_vmap_u32(f, axes, 3);
                if (check_failed_now && !before)
                    printf("  case %d in_axes (%d, %d)\n", c, axes[0], axes[1]);
            }
        jx_fn_free(f);
    }
}

TEST(threefry_vmap_counters_stay_one_op) {
    jx_fn *f = tdc_rng_fn(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3));
    /* x batched at 1 (or last), key shared: the batch axis is just another counter axis;
     * with out_axes at the same place nothing moves at all */
    int in1[2] = {JX_NONE, 1}, out1 = 1;
    jx_fn *g = f ? tdc_ok(jx_vmap(f, in1, &out1, 5)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
    CHECK(g && tdc_count(g, JX_OP_BROADCAST_IN_DIM) == 0);
    const jx_node *r = tdc_find(g, JX_OP_THREEFRY2X32);
    CHECK(r && r->in[0] == 0 && r->in[1] == 1); /* the key is used as it is */
    jx_fn_free(g);
    int in2[2] = {JX_NONE, -1}, out2 = -1;
    g = f ? tdc_ok(jx_vmap(f, in2, &out2, 5)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
    jx_fn_free(g);
    /* batch axis 0 moves behind the leading 2 (one transpose of x) */
    int in3[2] = {JX_NONE, 0}, out3 = 1;
    g = f ? tdc_ok(jx_vmap(f, in3, &out3, 5)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 1);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(threefry_vmap_keys_is_one_op) {
    /* a batch of keys u32[B,2] over shared counters: one threefry on [2,B,3] */
    jx_fn *f = tdc_rng_fn(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3));
    int in[2] = {0, JX_NONE};
    jx_fn *g = f ? tdc_ok(jx_vmap(f, in, NULL, 4)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1);
    const jx_node *r = tdc_find(g, JX_OP_THREEFRY2X32);
    CHECK(r && r->type.rank == 3 && r->type.shape[0] == 2 && r->type.shape[1] == 4 &&
          r->type.shape[2] == 3);
    jx_fn_free(g);
    /* vmap over keys of a vmap over counters, and of a vmap over keys */
    int a1[2] = {JX_NONE, 1};
    g = f ? tdc_ok(jx_vmap(f, a1, NULL, 3)) : NULL;
    int a2[2] = {0, JX_NONE};
    jx_fn *h = g ? tdc_ok(jx_vmap(g, a2, NULL, 2)) : NULL;
    CHECK(h && tdc_count(h, JX_OP_THREEFRY2X32) == 1);
    if (g) tdc_vmap_u32(g, a2, 2);
    int a3[2] = {0, 0};
    if (g) tdc_vmap_u32(g, a3, 2);
    jx_fn_free(h);
    jx_fn_free(g);
    int k1[2] = {0, JX_NONE};
    g = f ? tdc_ok(jx_vmap(f, k1, NULL, 3)) : NULL;
    int k2[2] = {1, JX_NONE};
    if (g) tdc_vmap_u32(g, k2, 2);
    int k3[2] = {-1, 2};
    if (g) tdc_vmap_u32(g, k3, 2);
    h = g ? tdc_ok(jx_vmap(g, k2, NULL, 2)) : NULL;
    CHECK(h && tdc_count(h, JX_OP_THREEFRY2X32) == 1);
    jx_fn_free(h);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(threefry_vmap_empty_batch) {
    jx_fn *f = tdc_rng_fn(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3));
    int in[2] = {0, 0};
    if (f) tdc_vmap_u32(f, in, 0);
    int in2[2] = {JX_NONE, 2};
    if (f) tdc_vmap_u32(f, in2, 0);
    jx_fn_free(f);
}

/* f(key, x) = <convert(threefry(key, counters)), x>: differentiable in x only. */
static void tdc_rng_weighted(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val c = jx_iota(t, JX_TYPE(JX_U32, 2, 3), 1);
    jx_val r = jx_convert(jx_threefry2x32(in[0], c), JX_F64);
    out[0] = jx_dot_general(r, in[1], JX_INTS(0, 1), JX_INTS(0, 1), JX_NOINTS, JX_NOINTS);
}

TEST(threefry_under_grad_and_vmap) {
    jx_type ts[2] = {JX_TYPE(JX_U32, 2), JX_TYPE(JX_F64, 2, 3)};
    jx_fn *f = tdc_ok(jx_trace(tdc_rng_weighted, 2, ts, 1, NULL));
    CHECK(f != NULL);
    if (!f) return;
    /* the drivers skip the NOGRAD threefry; the function is linear in x (tiny scale is
     * irrelevant: the tolerance is relative) */
    txc_grad(f, -1, 1, 1e-6);
    int wrt = 1;
    jx_fn *g = tdc_ok(jx_grad(f, 1, &wrt));
    CHECK(g != NULL);
    /* per-key gradients: vmap(grad) over a batch of keys, x shared or batched */
    int axes[2] = {0, JX_NONE};
    if (g) txc_vmap(g, axes, 3, -1, 1, 1e-12);
    int axes2[2] = {-1, 0};
    if (g) txc_vmap(g, axes2, 3, -1, 1, 1e-12);
    jx_fn *vg = g ? tdc_ok(jx_vmap(g, axes, NULL, 3)) : NULL;
    CHECK(vg && tdc_count(vg, JX_OP_THREEFRY2X32) == 1);
    jx_fn_free(vg);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
