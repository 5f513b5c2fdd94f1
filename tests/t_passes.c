/* jx_simplify: algebraic identities, constant folding, CSE and DCE, each checked on the
 * rewritten graph and for unchanged results. */
#include "check.h"
#include "primcheck.h"
#include "core/ir.h"

/* Runs f and g on the same f32 input of n elements filled with 0.5*i-1; checks equality. */
static void same_results(const jx_fn *f, const jx_fn *g) {
    jx_type ty = jx_fn_in_type(f, 0);
    jx_array *x = jx_array_new_type(&ty), *a[4] = {0}, *b[4] = {0};
    for (int64_t i = 0; i < jx_array_size(x); i++) jx_array_set(x, i, 0.5 * (double)i - 1);
    CHECK(jx_interp(f, &x, a) == 0);
    CHECK(jx_interp(g, &x, b) == 0);
    for (int j = 0; j < jx_fn_n_out(f) && a[j] && b[j]; j++) {
        CHECK(jx_array_size(a[j]) == jx_array_size(b[j]));
        for (int64_t i = 0; i < jx_array_size(a[j]); i++)
            CHECK_NEAR(jx_array_get(a[j], i), jx_array_get(b[j], i), 0);
        jx_array_free(a[j]);
        jx_array_free(b[j]);
    }
    jx_array_free(x);
}

static void identities(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val x = in[0];
    jx_val a = jx_mul(x, jx_lit(x, 1.0));                         /* x*1 */
    jx_val b = jx_add(a, jx_full(x.t, jx_val_type(x), 0.0));       /* + broadcast 0 */
    jx_val c = jx_neg(jx_neg(b));                                  /* neg neg */
    jx_val d = jx_transpose(jx_transpose(c, JX_INTS(1, 0)), JX_INTS(1, 0));
    jx_val e = jx_div(jx_sub(d, jx_lit(x, 0.0)), jx_lit(x, 1.0));
    out[0] = jx_exp(e);
}

TEST(identities_vanish) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 2, 3)};
    jx_fn *f = jx_trace(identities, 1, ty, 1, NULL);
    jx_fn *g = jx_simplify(f);
    CHECK(g != NULL);
    if (g) {
        CHECK(jx_fn_n_eqns(g) == 1); /* only exp remains */
        CHECK(count_op(g, JX_OP_EXP) == 1);
        same_results(f, g);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

static void common(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val a = jx_exp(in[0]), b = jx_exp(in[0]);
    jx_val unused = jx_log(in[0]);
    (void)unused;
    out[0] = jx_add(a, b);
    out[1] = jx_mul(jx_exp(in[0]), jx_lit(in[0], 3.0));
}

TEST(cse_and_dce) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 4)};
    jx_fn *f = jx_trace(common, 1, ty, 2, NULL);
    jx_fn *g = jx_simplify(f);
    CHECK(g != NULL);
    if (g) {
        CHECK(count_op(g, JX_OP_EXP) == 1);
        CHECK(count_op(g, JX_OP_LOG) == 0);
        same_results(f, g);
        CHECK(jx_fn_verify(g) == 0);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

static void folding(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val c = jx_mul(jx_scalar(t, JX_F32, 2.0), jx_scalar(t, JX_F32, 3.0));
    out[0] = jx_mul(in[0], jx_add(c, jx_scalar(t, JX_F32, 1.0)));
}

TEST(constant_folding) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(folding, 1, ty, 1, NULL);
    jx_fn *g = jx_simplify(f);
    CHECK(g != NULL);
    if (g) {
        CHECK(count_op(g, JX_OP_ADD) == 0);
        CHECK(count_op(g, JX_OP_MUL) == 1);
        same_results(f, g);
        char *s = jx_fn_to_string(g);
        CHECK_CONTAINS(s, "7.0:f32[]");
        free(s);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

static void keep_nan_semantics(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], jx_lit(in[0], 0.0)); /* x*0 is NaN for x = inf: must stay */
}

TEST(no_unsafe_rewrites) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(keep_nan_semantics, 1, ty, 1, NULL);
    jx_fn *g = jx_simplify(f);
    CHECK(g && count_op(g, JX_OP_MUL) == 1);
    jx_fn_free(g);
    jx_fn_free(f);
    CHECK(jx_simplify(NULL) == NULL);
}

static void reshape_round_trip(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_exp(jx_reshape(jx_reshape(in[0], JX_INTS(6)), JX_INTS(2, 3)));
}

TEST(reshape_chain_back_to_the_input_shape_vanishes) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 2, 3)};
    jx_fn *f = jx_trace(reshape_round_trip, 1, ty, 1, NULL);
    jx_fn *g = jx_simplify(f);
    CHECK(g && count_op(g, JX_OP_RESHAPE) == 0 && jx_fn_n_eqns(g) == 1);
    if (g) same_results(f, g);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
