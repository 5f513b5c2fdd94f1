/* Neural-network losses (softmax cross-entropy as in the notebook, categorical
 * CE, MSE, their gradients and errors), accuracy and dropout. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jx/nn.h>

#include "check.h"
#include "prims/threefry.h"
#include "txcheck.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "nn_util.h"

/* ---- losses ------------------------------------------------------------------------- */

static void f_ce(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_softmax_cross_entropy(in[0], in[1]);
    out[1] = jx_softmax_cross_entropy_onehot(in[0], jx_one_hot(in[1], 3, jx_val_type(in[0]).dtype));
    out[2] = jx_sum_all(out[0]);
}

TEST(softmax_cross_entropy_notebook) {
    /* the Haiku notebook's check: [[0,0,0],[1,-1e8,-1e7]] with labels [1,0] sums to log 3 */
    jx_type ts[2] = {JX_TYPE(JX_F32, 2, 3), JX_TYPE(JX_I32, 2)};
    jx_fn *f = jx_trace(f_ce, 2, ts, 3, NULL);
    double x[6] = {0, 0, 0, 1, -1e8, -1e7}, y[2] = {1, 0};
    jx_array *in[2] = {tst_from(ts[0], x), tst_from(ts[1], y)}, *o[3] = {0};
    CHECK(f && jx_interp(f, in, o) == 0);
    double want[2] = {log(3.0), 0};
    check_arr(o[0], want, 2, 1e-6);
    check_arr(o[1], want, 2, 1e-6);
    if (o[2]) CHECK_NEAR(jx_array_get(o[2], 0), 1.09861228867, 1e-6);
    txc_free(3, o);
    txc_free(2, in);
    jx_fn_free(f);
    /* -inf logits of other classes stay finite with integer labels */
    jx_trace *t = jx_trace_begin(0, NULL);
    double lv[3] = {-INFINITY, 0.0, -INFINITY};
    jx_array *la = tst_from(JX_TYPE(JX_F32, 3), lv);
    jx_val r = jx_softmax_cross_entropy(jx_constant(t, la), jx_scalar(t, JX_I32, 1));
    jx_array_free(la);
    jx_array *ro = NULL;
    CHECK(tst_run(t, 1, &r, NULL, &ro) == 0);
    if (ro) CHECK(jx_array_get(ro, 0) == 0);
    jx_array_free(ro);
}

static void f_losses(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_mean_all(jx_softmax_cross_entropy(in[0], in[2]));
    out[1] = jx_mean_all(jx_softmax_cross_entropy_onehot(in[0], in[1]));
    out[2] = jx_mean_all(jx_categorical_cross_entropy(jx_softmax(in[0], -1), in[1], 1e-7));
    out[3] = jx_mse(jx_sigmoid(in[0]), in[1]);
}

TEST(loss_grads) {
    jx_type ts[3] = {JX_TYPE(JX_F64, 3, 5), JX_TYPE(JX_F64, 3, 5), JX_TYPE(JX_I32, 3)};
    jx_fn *f = jx_trace(f_losses, 3, ts, 4, NULL);
    CHECK(f != NULL);
    if (f) txc_grad(f, -2, 2, 1e-6);
    jx_fn_free(f);
}

TEST(categorical_ce_mse_values) {
    jx_trace *t = jx_trace_begin(0, NULL);
    double p[6] = {1, 0, 0, 0.2, 0.3, 0.5}, y[6] = {0, 1, 0, 0, 0, 1};
    jx_array *pa = tst_from(JX_TYPE(JX_F32, 2, 3), p), *ya = tst_from(JX_TYPE(JX_F32, 2, 3), y);
    jx_val pv = jx_constant(t, pa), yv = jx_constant(t, ya);
    jx_val outs[3] = {jx_categorical_cross_entropy(pv, yv, 1e-7), jx_mse(pv, yv),
                      jx_categorical_cross_entropy(pv, yv, 0)};
    jx_array *o[3] = {0};
    CHECK(tst_run(t, 3, outs, NULL, o) == 0);
    double want[2] = {-log(1e-7), -log(0.5)};
    check_arr(o[0], want, 2, 1e-5);
    if (o[1]) CHECK_NEAR(jx_array_get(o[1], 0), (1 + 1 + 0.04 + 0.09 + 0.25) / 6, 1e-6);
    if (o[2]) CHECK(isnan(jx_array_get(o[2], 0))); /* 0 * log 0, as numpy */
    txc_free(3, o);
    jx_array_free(pa);
    jx_array_free(ya);
}

TEST(accuracy_values) {
    jx_trace *t = jx_trace_begin(0, NULL);
    double l[6] = {1, 2, 3, 0, 0, 1}, y[3] = {1, 1, 1}, oh[6] = {0, 1, 0, 1, 1, 0};
    jx_array *la = tst_from(JX_TYPE(JX_F32, 3, 2), l), *ya = tst_from(JX_TYPE(JX_I32, 3), y);
    jx_array *oa = tst_from(JX_TYPE(JX_F32, 3, 2), oh);
    jx_val lv = jx_constant(t, la);
    jx_val outs[4] = {jx_accuracy(lv, jx_constant(t, ya)), jx_accuracy(lv, jx_constant(t, oa)),
                      jx_count_correct(lv, jx_constant(t, ya)),
                      jx_count_correct(lv, jx_constant(t, oa))};
    jx_array *o[4] = {0};
    CHECK(tst_run(t, 4, outs, NULL, o) == 0);
    if (o[0]) CHECK_NEAR(jx_array_get(o[0], 0), 2.0 / 3, 1e-7);
    if (o[1]) CHECK_NEAR(jx_array_get(o[1], 0), 1.0 / 3, 1e-7);
    if (o[2]) CHECK(jx_array_get(o[2], 0) == 2);
    if (o[3]) CHECK(jx_array_get(o[3], 0) == 1);
    for (int i = 0; i < 4; i++)
        if (o[i]) CHECK(jx_array_dtype(o[i]) == JX_F32 && jx_array_rank(o[i]) == 0);
    txc_free(4, o);
    jx_array_free(la);
    jx_array_free(ya);
    jx_array_free(oa);
}

TEST(loss_errors) {
    jx_trace *t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_I32, 3)});
    jx_val r = jx_softmax_cross_entropy(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "softmax_cross_entropy");
    CHECK_CONTAINS(jx_trace_error(t), "f32[4,10]");
    CHECK_CONTAINS(jx_trace_error(t), "i32[3]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn_losses.c");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_F32, 4, 9)});
    r = jx_mse(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "mse");
    CHECK_CONTAINS(jx_trace_error(t), "f32[4,9]");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_F32, 4)});
    r = jx_accuracy(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "accuracy");
    jx_trace_abort(t);
    t = jx_trace_begin(2, (jx_type[]){JX_TYPE(JX_F32, 4, 10), JX_TYPE(JX_I32, 5)});
    r = jx_count_correct(jx_trace_input(t, 0), jx_trace_input(t, 1));
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "count_correct");
    CHECK_CONTAINS(jx_trace_error(t), "i32[5]");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn_losses.c");
    jx_trace_abort(t);
}

TEST(dropout) {
    jx_trace *t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 100, 100)});
    jx_val x = jx_trace_input(t, 0), k = jx_random_key(t, 9);
    jx_val outs[3] = {jx_dropout(k, x, 0.25, 1), jx_dropout(JX_NOVAL, x, 0.25, 0),
                      jx_dropout(k, x, 1.0, 1)};
    CHECK(outs[1].id == x.id); /* eval mode is the identity */
    jx_array *in = jx_init_constant(JX_TYPE(JX_F32, 100, 100), 3.0), *o[3] = {0};
    CHECK(tst_run(t, 3, outs, &in, o) == 0);
    if (o[0]) {
        int64_t kept = 0, ok = 1;
        for (int64_t i = 0; i < 10000; i++) {
            double v = jx_array_get(o[0], i);
            kept += v != 0;
            ok &= v == 0 || v == 4.0f;
        }
        CHECK(ok);
        CHECK(kept > 7300 && kept < 7700);
    }
    if (o[2]) CHECK(jx_array_get(o[2], 17) == 0);
    txc_free(3, o);
    jx_array_free(in);
    t = jx_trace_begin(1, (jx_type[]){JX_TYPE(JX_F32, 3)});
    jx_val r = jx_dropout(JX_NOVAL, jx_trace_input(t, 0), 0.5, 1);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_trace_error(t), "dropout");
    CHECK_CONTAINS(jx_trace_error(t), "t_nn_losses.c");
    jx_trace_abort(t);
}

TEST_MAIN()
