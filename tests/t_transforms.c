/* Compositions of the transformations on whole programs: per-example gradients
 * (vmap(grad)), grad(grad), jvp(grad) Hessian-vector products, vmap(vmap), the notebook's
 * loss = mean over vmap(predict), jacobians and the Hessian against closed forms.
 * Tolerances: f64 throughout; finite differences with h = 1e-6 agree to ~1e-7 relative,
 * checked at 1e-5; closed forms are checked at 1e-10. */
#include "txcheck.h"
#include "core/ir.h"

/* ---- a small MLP: per-example predict and the batched loss ---- */
enum { NI = 5, NH = 4, NO = 3, NB = 6 };

/* predict(W1, b1, W2, b2, x) -> log-probabilities [NO] */
static void predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_matvec(in[0], in[4]), in[1]));
    out[0] = jx_log_softmax(jx_add(jx_matvec(in[2], h), in[3]), 0);
}

static jx_type mlp_types[5];
static void mlp_init_types(void) {
    mlp_types[0] = JX_TYPE(JX_F64, NH, NI);
    mlp_types[1] = JX_TYPE(JX_F64, NH);
    mlp_types[2] = JX_TYPE(JX_F64, NO, NH);
    mlp_types[3] = JX_TYPE(JX_F64, NO);
    mlp_types[4] = JX_TYPE(JX_F64, NI);
}

/* per-example loss(params, x, onehot) = -sum(logp * onehot) */
static void example_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_fn *pred = user;
    jx_val logp[1];
    jx_call(pred, in, logp);
    out[0] = jx_neg(jx_sum_all(jx_mul(logp[0], in[5])));
}

/* batched loss(params, X[NB,NI], Y[NB,NO]) = mean over vmap(predict) (the notebook's) */
static void batch_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const jx_fn *bpred = user;
    jx_val logp[1];
    jx_call(bpred, in, logp);
    out[0] = jx_neg(jx_mean_all(jx_sum(jx_mul(logp[0], in[5]), 1, 0)));
}

TEST(grad_of_loss_over_vmapped_predict) {
    mlp_init_types();
    jx_fn *pred = jx_trace(predict, 5, mlp_types, 1, NULL);
    int axes[5] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0};
    jx_fn *bpred = pred ? jx_vmap(pred, axes, NULL, NB) : NULL;
    CHECK(bpred != NULL);
    if (!bpred) {
        printf("  %s\n", jx_error());
        jx_fn_free(pred);
        return;
    }
    jx_type lt[6] = {mlp_types[0], mlp_types[1], mlp_types[2], mlp_types[3],
                     JX_TYPE(JX_F64, NB, NI), JX_TYPE(JX_F64, NB, NO)};
    jx_fn *loss = jx_trace(batch_loss, 6, lt, 1, bpred);
    CHECK(loss != NULL);
    if (loss) txc_grad(loss, -1, 1, 1e-5);
    /* the batched matvec became one matrix product: no dot_general has a batch dim */
    int dots = 0, batched_dots = 0;
    for (int i = 0; bpred && i < bpred->n_nodes; i++)
        if (bpred->nodes[i].op == JX_OP_DOT_GENERAL) {
            dots++;
            batched_dots += bpred->nodes[i].at.n[2] > 0;
        }
    CHECK(dots == 2);
    CHECK(batched_dots == 0);
    jx_fn_free(loss);
    jx_fn_free(bpred);
    jx_fn_free(pred);
}

TEST(per_example_gradients_match_separate_gradients) {
    mlp_init_types();
    jx_fn *pred = jx_trace(predict, 5, mlp_types, 1, NULL);
    jx_type et[6] = {mlp_types[0], mlp_types[1], mlp_types[2], mlp_types[3], mlp_types[4],
                     JX_TYPE(JX_F64, NO)};
    jx_fn *eloss = pred ? jx_trace(example_loss, 6, et, 1, pred) : NULL;
    int wrt[4] = {0, 1, 2, 3};
    jx_fn *g = eloss ? jx_grad(eloss, 4, wrt) : NULL;
    int axes[6] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0, 0};
    jx_fn *pg = g ? jx_vmap(g, axes, NULL, NB) : NULL;
    CHECK(pg != NULL);
    if (!pg) {
        printf("  %s\n", jx_error());
    } else {
        jx_array *in[6], *out[4] = {0};
        for (int i = 0; i < 6; i++) in[i] = txc_random(jx_fn_in_type(pg, i), -1, 1);
        CHECK(jx_interp(pg, in, out) == 0);
        for (int b = 0; b < NB && out[0]; b++) {
            jx_array *one[6], *go[4] = {0};
            for (int i = 0; i < 4; i++) one[i] = jx_array_retain(in[i]);
            one[4] = txc_take(in[4], 0, b);
            one[5] = txc_take(in[5], 0, b);
            CHECK(jx_interp(g, one, go) == 0);
            for (int k = 0; k < 4 && go[k]; k++) {
                jx_array *pk = txc_take(out[k], 0, b);
                for (int64_t e = 0; e < jx_array_size(pk); e++)
                    CHECK_NEAR(jx_array_get(pk, e), jx_array_get(go[k], e), 1e-12);
                jx_array_free(pk);
            }
            txc_free(6, one);
            txc_free(4, go);
        }
        txc_free(6, in);
        txc_free(4, out);
    }
    jx_fn_free(pg);
    jx_fn_free(g);
    jx_fn_free(eloss);
    jx_fn_free(pred);
}

/* ---- scalar functions with closed forms ---- */

/* f(x) = sum(x * x) */
static void sumsq(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_mul(in[0], in[0]));
}

TEST(grad_closed_form_and_errors) {
    jx_type ty[1] = {JX_TYPE(JX_F64, 4)};
    jx_fn *f = jx_trace(sumsq, 1, ty, 1, NULL);
    jx_fn *g = jx_grad(f, 0, NULL);
    CHECK(g != NULL);
    if (g) {
        double xs[4] = {1, -2, 0.5, 3};
        int64_t n = 4;
        jx_array *x = jx_array_from(JX_F64, 1, &n, xs), *o[1] = {0};
        CHECK(jx_interp(g, &x, o) == 0);
        for (int i = 0; i < 4 && o[0]; i++) CHECK_NEAR(jx_array_get(o[0], i), 2 * xs[i], 1e-15);
        jx_array_free(x);
        jx_array_free(o[0]);
    }
    jx_fn_free(g);
    int bad = 3;
    CHECK(jx_grad(f, 1, &bad) == NULL);
    CHECK_CONTAINS(jx_error(), "out of range");
    CHECK(jx_grad(NULL, 0, NULL) == NULL);
    jx_fn_free(f);
}

static void not_scalar(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_exp(in[0]);
}

TEST(grad_needs_a_float_scalar_and_float_wrt) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(not_scalar, 1, ty, 1, NULL);
    CHECK(jx_grad(f, 0, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "float scalar");
    CHECK_CONTAINS(jx_error(), "f32[3]");
    jx_fn_free(f);
    jx_type ti[2] = {JX_TYPE(JX_F64, 4), JX_TYPE(JX_I32, 4)};
    f = jx_trace(sumsq, 2, ti, 1, NULL);
    int w = 1;
    CHECK(jx_grad(f, 1, &w) == NULL);
    CHECK_CONTAINS(jx_error(), "i32[4]");
    jx_fn_free(f);
}

/* f(x) = (sum(tanh(x) * x), x * 2) : value and an auxiliary output */
static void with_aux(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_mul(jx_tanh(in[0]), in[0]));
    out[1] = jx_mul(in[0], jx_lit(in[0], 2));
}

TEST(value_and_grad_with_aux) {
    jx_type ty[1] = {JX_TYPE(JX_F64, 3)};
    jx_fn *f = jx_trace(with_aux, 1, ty, 2, NULL);
    jx_fn *g = jx_value_and_grad(f, 0, NULL);
    CHECK(g != NULL && jx_fn_n_out(g) == 3);
    if (g && jx_fn_n_out(g) == 3) {
        jx_array *x = txc_random(ty[0], -1, 1), *o[3] = {0};
        CHECK(jx_interp(g, &x, o) == 0);
        double v = 0;
        for (int i = 0; i < 3 && o[0]; i++) {
            double xi = jx_array_get(x, i), th = tanh(xi);
            v += th * xi;
            CHECK_NEAR(jx_array_get(o[1], i), 2 * xi, 1e-15);
            CHECK_NEAR(jx_array_get(o[2], i), th + xi * (1 - th * th), 1e-12);
        }
        if (o[0]) CHECK_NEAR(jx_array_get(o[0], 0), v, 1e-12);
        jx_array_free(x);
        txc_free(3, o);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

/* f(x) = sum(logistic(x) * x^2): smooth, non-trivial second derivatives */
static void smooth(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_mul(jx_logistic(in[0]), jx_mul(in[0], in[0])));
}

TEST(grad_of_grad_and_jvp_of_grad) {
    jx_type ty[1] = {JX_TYPE(JX_F64, 5)};
    jx_fn *f = jx_trace(smooth, 1, ty, 1, NULL);
    jx_fn *g = jx_grad(f, 0, NULL);
    CHECK(g != NULL);
    if (g) txc_grad(g, -2, 2, 1e-5); /* vjp(grad) and jvp(grad) = Hessian-vector products */
    jx_fn *gg = NULL;
    if (g) {
        /* grad of a scalar built from grad: sum(grad(f)(x)^2) */
        jx_type t1[1] = {ty[0]};
        jx_trace *tr = jx_trace_begin(1, t1);
        jx_val x = jx_trace_input(tr, 0), gx[1];
        jx_call(g, &x, gx);
        jx_val s = jx_sum_all(jx_mul(gx[0], gx[0]));
        jx_fn *h = jx_trace_end(tr, 1, &s);
        gg = h ? jx_grad(h, 0, NULL) : NULL;
        CHECK(gg != NULL);
        if (gg) txc_grad(gg, -2, 2, 1e-5);
        jx_fn_free(h);
    }
    jx_fn_free(gg);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* f(x, y) = x * y + sin(x) elementwise on [3, 4] */
static void two_args(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(jx_mul(in[0], in[1]), jx_sin(in[0]));
}

TEST(vmap_of_vmap_matches_double_loop) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 4), JX_TYPE(JX_F64, 4)};
    jx_fn *f = jx_trace(two_args, 2, ty, 1, NULL);
    int ax1[2] = {0, JX_NONE};
    jx_fn *v1 = jx_vmap(f, ax1, NULL, 3);
    CHECK(v1 != NULL);
    if (v1) {
        int ax2[2] = {1, 0};
        txc_vmap(v1, ax2, 2, -1, 1, 1e-15);
    }
    jx_fn_free(v1);
    jx_fn_free(f);
}

/* f(x) = x^T A x with A fixed: Hessian = A + A^T */
static void quad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_array *a = user;
    jx_val A = jx_constant(in[0].t, a);
    out[0] = jx_dot(in[0], jx_matvec(A, in[0]));
}

TEST(hessian_closed_form) {
    int64_t sh[2] = {3, 3};
    double av[9] = {1, 2, 0, -1, 3, 4, 0.5, 0, 2};
    jx_array *a = jx_array_from(JX_F64, 2, sh, av);
    jx_type ty[1] = {JX_TYPE(JX_F64, 3)};
    jx_fn *f = jx_trace(quad, 1, ty, 1, a);
    jx_fn *h = f ? jx_hessian(f, 0, NULL) : NULL;
    CHECK(h != NULL);
    if (!h) printf("  %s\n", jx_error());
    if (h) {
        jx_type ht = jx_fn_out_type(h, 0);
        CHECK(ht.rank == 2 && ht.shape[0] == 3 && ht.shape[1] == 3);
        jx_array *x = txc_random(ty[0], -1, 1), *o[1] = {0};
        CHECK(jx_interp(h, &x, o) == 0);
        for (int i = 0; i < 3 && o[0]; i++)
            for (int j = 0; j < 3; j++)
                CHECK_NEAR(jx_array_get(o[0], i * 3 + j), av[i * 3 + j] + av[j * 3 + i], 1e-10);
        jx_array_free(x);
        jx_array_free(o[0]);
    }
    jx_fn_free(h);
    jx_fn_free(f);
    jx_array_free(a);
}

static void tanh_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_tanh(in[0]);
}

TEST(jacrev_and_jacfwd_agree_with_closed_form) {
    jx_type ty[1] = {JX_TYPE(JX_F64, 2, 2)};
    jx_fn *f = jx_trace(tanh_fn, 1, ty, 1, NULL);
    jx_fn *jr = jx_jacrev(f, 0, NULL), *jf = jx_jacfwd(f, 0, NULL);
    CHECK(jr != NULL && jf != NULL);
    if (jr && jf) {
        jx_array *x = txc_random(ty[0], -1, 1), *o1[1] = {0}, *o2[1] = {0};
        CHECK(jx_interp(jr, &x, o1) == 0 && jx_interp(jf, &x, o2) == 0);
        CHECK(jx_array_rank(o1[0]) == 4);
        for (int i = 0; i < 4 && o1[0] && o2[0]; i++)
            for (int j = 0; j < 4; j++) {
                double th = tanh(jx_array_get(x, i));
                double want = i == j ? 1 - th * th : 0;
                CHECK_NEAR(jx_array_get(o1[0], i * 4 + j), want, 1e-12);
                CHECK_NEAR(jx_array_get(o2[0], i * 4 + j), want, 1e-12);
            }
        jx_array_free(x);
        jx_array_free(o1[0]);
        jx_array_free(o2[0]);
    } else {
        printf("  %s\n", jx_error());
    }
    jx_fn_free(jr);
    jx_fn_free(jf);
    jx_fn_free(f);
}

TEST(vmap_argument_errors) {
    jx_type ty[2] = {JX_TYPE(JX_F64, 4), JX_TYPE(JX_F64, 4)};
    jx_fn *f = jx_trace(two_args, 2, ty, 1, NULL);
    int bad[2] = {2, 0};
    CHECK(jx_vmap(f, bad, NULL, 3) == NULL);
    CHECK_CONTAINS(jx_error(), "in_axes[0] = 2");
    int ok[2] = {0, JX_NONE}, none_out[1] = {JX_NONE};
    CHECK(jx_vmap(f, ok, none_out, 3) == NULL);
    CHECK_CONTAINS(jx_error(), "batched");
    CHECK(jx_vmap(f, ok, NULL, -1) == NULL);
    CHECK(jx_vmap(NULL, ok, NULL, 3) == NULL);
    jx_fn_free(f);
}

TEST_MAIN()
