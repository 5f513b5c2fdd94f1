/* Tests of the dot family: dot_general's shape rules and reference interpreter (conv and
 * threefry2x32 are in t_conv_threefry.c, the error messages of all three in
 * t_dot_conv_errors.c). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "prims/threefry.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "dcr_util.h"

/* Traces dot_general(a, b) on inputs of types ta, tb and runs it. NULL on failure. */
static jx_array *tst_dot(jx_type ta, jx_type tb, jx_array *a, jx_array *b, jx_ints lc,
                         jx_ints rc, jx_ints lb, jx_ints rb) {
    jx_type ts[2] = {ta, tb};
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val r = jx_dot_general(jx_trace_input(t, 0), jx_trace_input(t, 1), lc, rc, lb, rb);
    jx_array *in[2] = {a, b}, *out = NULL;
    if (tst_run(t, 1, &r, in, &out) < 0) return NULL;
    return out;
}

/* ---- dot_general -------------------------------------------------------------------- */

TEST(dot_matmul) {
    double av[] = {1, 2, 3, 4, 5, 6}, bv[] = {7, 8, 9, 10, 11, 12};
    jx_type ta = JX_TYPE(JX_F32, 2, 3), tb = JX_TYPE(JX_F32, 3, 2);
    jx_array *a = tst_from(ta, av), *b = tst_from(tb, bv);
    jx_array *r = tst_dot(ta, tb, a, b, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 2, 2)));
    double want[] = {58, 64, 139, 154};
    for (int i = 0; r && i < 4; i++) CHECK_NEAR(jx_array_get(r, i), want[i], 0);
    jx_array_free(r);
    /* a^T b^T: contract lhs axis 0 with rhs axis 1 -> [3,3]. */
    r = tst_dot(ta, tb, a, b, JX_INTS(0), JX_INTS(1), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 3, 3)));
    for (int i = 0; r && i < 3; i++)
        for (int j = 0; j < 3; j++)
            CHECK_NEAR(jx_array_get(r, i * 3 + j), av[i] * bv[j * 2] + av[3 + i] * bv[j * 2 + 1],
                       0);
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(b);
}

TEST(dot_matvec_and_vector) {
    double av[] = {1, 2, 3, 4, 5, 6}, xv[] = {1, 0, -1}, yv[] = {4, 5, 6};
    jx_type ta = JX_TYPE(JX_F32, 2, 3), tx = JX_TYPE(JX_F32, 3);
    jx_array *a = tst_from(ta, av), *x = tst_from(tx, xv), *y = tst_from(tx, yv);
    jx_array *r = tst_dot(ta, tx, a, x, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 2)));
    if (r) {
        CHECK_NEAR(jx_array_get(r, 0), -2, 0);
        CHECK_NEAR(jx_array_get(r, 1), -2, 0);
    }
    jx_array_free(r);
    /* vector . vector -> rank 0 */
    jx_array *x2 = tst_from(tx, (double[]){1, 2, 3});
    r = tst_dot(tx, tx, x2, y, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_SCALAR(JX_F32)));
    if (r) CHECK_NEAR(jx_array_get(r, 0), 32, 0);
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(x);
    jx_array_free(x2);
    jx_array_free(y);
}

TEST(dot_outer_and_scalars) {
    jx_type t2 = JX_TYPE(JX_F64, 2), t3 = JX_TYPE(JX_F64, 3);
    jx_array *a = tst_from(t2, (double[]){1, 2}), *b = tst_from(t3, (double[]){3, 4, 5});
    jx_array *r = tst_dot(t2, t3, a, b, JX_NOINTS, JX_NOINTS, JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F64, 2, 3)));
    double want[] = {3, 4, 5, 6, 8, 10};
    for (int i = 0; r && i < 6; i++) CHECK_NEAR(jx_array_get(r, i), want[i], 0);
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(b);
    /* rank 0 x rank 0: a plain product */
    jx_type s = JX_SCALAR(JX_F64);
    jx_array *p = jx_array_scalar(JX_F64, 1.5), *q = jx_array_scalar(JX_F64, -4);
    r = tst_dot(s, s, p, q, JX_NOINTS, JX_NOINTS, JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, s));
    if (r) CHECK_NEAR(jx_array_get(r, 0), -6, 0);
    jx_array_free(r);
    jx_array_free(p);
    jx_array_free(q);
}

TEST(dot_batched_nonleading) {
    /* lhs [3,2,4] batch axis 1, rhs [4,2,5] batch axis 1 -> out[b,i,j] = sum_k L[i,b,k] R[k,b,j] */
    jx_type tl = JX_TYPE(JX_F64, 3, 2, 4), tr = JX_TYPE(JX_F64, 4, 2, 5);
    jx_array *l = tst_random(tl), *rr = tst_random(tr);
    jx_array *r = tst_dot(tl, tr, l, rr, JX_INTS(2), JX_INTS(0), JX_INTS(1), JX_INTS(1));
    CHECK(tst_has_type(r, JX_TYPE(JX_F64, 2, 3, 5)));
    for (int b = 0; r && b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                double s = 0;
                for (int k = 0; k < 4; k++)
                    s += jx_array_get(l, (i * 2 + b) * 4 + k) *
                         jx_array_get(rr, (k * 2 + b) * 5 + j);
                CHECK_NEAR(jx_array_get(r, (b * 3 + i) * 5 + j), s, 1e-14);
            }
    jx_array_free(r);
    jx_array_free(l);
    jx_array_free(rr);
}

TEST(dot_two_batch_dims_in_lhs_order) {
    /* lhs [2,3,4,5] batch (3,0), rhs [5,4,2,6] batch (0,2), contract lhs 2 / rhs 1:
     * out[e,a,b,f] = sum_c L[a,b,c,e] R[e,c,a,f], shape [5,2,3,6]. */
    jx_type tl = JX_TYPE(JX_F64, 2, 3, 4, 5), tr = JX_TYPE(JX_F64, 5, 4, 2, 6);
    jx_array *l = tst_random(tl), *rr = tst_random(tr);
    jx_array *r = tst_dot(tl, tr, l, rr, JX_INTS(2), JX_INTS(1), JX_INTS(3, 0), JX_INTS(0, 2));
    CHECK(tst_has_type(r, JX_TYPE(JX_F64, 5, 2, 3, 6)));
    for (int e = 0; r && e < 5; e++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 3; b++)
                for (int f = 0; f < 6; f++) {
                    double s = 0;
                    for (int c = 0; c < 4; c++)
                        s += jx_array_get(l, ((a * 3 + b) * 4 + c) * 5 + e) *
                             jx_array_get(rr, ((e * 4 + c) * 2 + a) * 6 + f);
                    CHECK_NEAR(jx_array_get(r, ((e * 2 + a) * 3 + b) * 6 + f), s, 1e-14);
                }
    jx_array_free(r);
    jx_array_free(l);
    jx_array_free(rr);
}

TEST(dot_contract_two_axes) {
    /* lhs [2,3,4], rhs [4,3,5], contract lhs (1,2) with rhs (1,0): out[i,j] =
     * sum_{a,b} L[i,a,b] R[b,a,j]. */
    jx_type tl = JX_TYPE(JX_F32, 2, 3, 4), tr = JX_TYPE(JX_F32, 4, 3, 5);
    jx_array *l = tst_random(tl), *rr = tst_random(tr);
    jx_array *r = tst_dot(tl, tr, l, rr, JX_INTS(1, 2), JX_INTS(1, 0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 2, 5)));
    for (int i = 0; r && i < 2; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 4; b++)
                    s += jx_array_get(l, (i * 3 + a) * 4 + b) *
                         jx_array_get(rr, (b * 3 + a) * 5 + j);
            CHECK_NEAR(jx_array_get(r, i * 5 + j), (float)s, 0);
        }
    jx_array_free(r);
    jx_array_free(l);
    jx_array_free(rr);
}

TEST(dot_empty) {
    /* k = 0: the sum is empty, every output is 0 */
    jx_type ta = JX_TYPE(JX_F32, 2, 0), tb = JX_TYPE(JX_F32, 0, 3);
    jx_array *a = jx_array_new_type(&ta), *b = jx_array_new_type(&tb);
    jx_array *r = tst_dot(ta, tb, a, b, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F32, 2, 3)));
    for (int i = 0; r && i < 6; i++) CHECK(jx_array_get(r, i) == 0);
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(b);
    /* an empty free dim: [0,3] x [3,2] -> [0,2] */
    jx_type tc = JX_TYPE(JX_I32, 0, 3), td = JX_TYPE(JX_I32, 3, 2);
    jx_array *c = jx_array_new_type(&tc), *d = tst_random(td);
    r = tst_dot(tc, td, c, d, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_I32, 0, 2)));
    CHECK(jx_array_size(r) == 0);
    jx_array_free(r);
    jx_array_free(c);
    jx_array_free(d);
}

TEST(dot_f32_accumulates_in_double) {
    /* In float, 2^24 + 1 + 1 rounds to 2^24 step by step; in double it is exact and
     * rounds once to 2^24 + 2. */
    jx_type t = JX_TYPE(JX_F32, 3);
    jx_array *a = tst_from(t, (double[]){16777216.0, 1, 1}), *b = tst_from(t, (double[]){1, 1, 1});
    jx_array *r = tst_dot(t, t, a, b, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    if (r) CHECK(jx_array_get(r, 0) == 16777218.0);
    CHECK(r != NULL);
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(b);
}

TEST(dot_f64) {
    jx_type ta = JX_TYPE(JX_F64, 2, 2), tb = JX_TYPE(JX_F64, 2, 1);
    jx_array *a = tst_from(ta, (double[]){0.1, 0.2, 1e300, -1e300});
    jx_array *b = tst_from(tb, (double[]){3, 1});
    jx_array *r = tst_dot(ta, tb, a, b, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_F64, 2, 1)));
    if (r) {
        CHECK(jx_array_get(r, 0) == 0.1 * 3 + 0.2);
        CHECK(jx_array_get(r, 1) == 2e300);
    }
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(b);
}

TEST(dot_i32_u32_wrap) {
    jx_type t = JX_TYPE(JX_I32, 2, 2), tv = JX_TYPE(JX_I32, 2);
    /* row 0: 2147483647*2 + 2*1 = 2^32 -> 0; row 1: -3*2 + 4*1 = -2 */
    jx_array *a = tst_from(t, (double[]){2147483647.0, 2, -3, 4});
    jx_array *x = tst_from(tv, (double[]){2, 1});
    jx_array *r = tst_dot(t, tv, a, x, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_TYPE(JX_I32, 2)));
    if (r) {
        CHECK(((const int32_t *)jx_array_cdata(r))[0] == 0);
        CHECK(((const int32_t *)jx_array_cdata(r))[1] == -2);
    }
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(x);
    /* i32 overflow to INT32_MIN: 2^30 * 2 = 2^31 wraps to -2^31 */
    jx_type s = JX_TYPE(JX_I32, 1);
    jx_array *p = tst_from(s, (double[]){1073741824.0}), *q = tst_from(s, (double[]){2});
    r = tst_dot(s, s, p, q, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    if (r) CHECK(((const int32_t *)jx_array_cdata(r))[0] == INT32_MIN);
    CHECK(r != NULL);
    jx_array_free(r);
    jx_array_free(p);
    jx_array_free(q);
    /* u32: 0xffffffff*2 + 1*1 = 0x1ffffffff -> 0xffffffff */
    jx_type tu = JX_TYPE(JX_U32, 2);
    uint32_t uv[2] = {0xffffffffu, 1}, wv[2] = {2, 1};
    jx_array *u = jx_array_from(JX_U32, 1, tu.shape, uv);
    jx_array *w = jx_array_from(JX_U32, 1, tu.shape, wv);
    r = tst_dot(tu, tu, u, w, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    CHECK(tst_has_type(r, JX_SCALAR(JX_U32)));
    if (r) CHECK(((const uint32_t *)jx_array_cdata(r))[0] == 0xffffffffu);
    jx_array_free(r);
    jx_array_free(u);
    jx_array_free(w);
}

TEST(dot_nan_inf) {
    jx_type ta = JX_TYPE(JX_F32, 3, 2), tb = JX_TYPE(JX_F32, 2);
    jx_array *a = tst_from(ta, (double[]){NAN, 1, INFINITY, 1, INFINITY, -INFINITY});
    jx_array *b = tst_from(tb, (double[]){0, 1});
    jx_array *r = tst_dot(ta, tb, a, b, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    if (r) {
        CHECK(isnan(jx_array_get(r, 0)));  /* NaN*0 + 1 */
        CHECK(isnan(jx_array_get(r, 1)));  /* inf*0 + 1 */
        CHECK(isnan(jx_array_get(r, 2)));  /* inf*0 - inf */
    }
    CHECK(r != NULL);
    jx_array_free(r);
    jx_array_free(b);
    b = tst_from(tb, (double[]){1, 1});
    r = tst_dot(ta, tb, a, b, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    if (r) {
        CHECK(isnan(jx_array_get(r, 0)));
        CHECK(jx_array_get(r, 1) == INFINITY);
        CHECK(isnan(jx_array_get(r, 2))); /* inf - inf */
    }
    jx_array_free(r);
    jx_array_free(a);
    jx_array_free(b);
}

TEST_MAIN()
