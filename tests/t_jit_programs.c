/* The JIT on whole programs against the interpreter: compositions (MLP, matvec,
 * conv as patches and GEMM, rank 0 and empty, odd outputs), transformed functions (a
 * training step), the calling convention (donation, call-time type errors, two threads on
 * one executable) and regressions found by t_fuzz.c. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "jitcheck.h"
#include "core/trace.h"

#include "jit_util.h"

/* ---- compositions ---------------------------------------------------------------------- */

/* MLP forward: relu(W1 x + b1) -> W2 h + b2 -> log_softmax, batched as matmuls. */
static void mlp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val h = jx_relu(jx_add(jx_matmul(in[0], in[1]), in[2]));
    jx_val logits = jx_add(jx_matmul(h, in[3]), in[4]);
    out[0] = jx_log_softmax(logits, 1);
    out[1] = jx_mean_all(jx_neg(jx_reduce_max(out[0], JX_INTS(1))));
    out[2] = jx_argmax(logits, 1, JX_I32);
}

TEST(mlp_forward) {
    jx_type ts[5] = {JX_TYPE(JX_F32, 16, 20), JX_TYPE(JX_F32, 20, 32), JX_TYPE(JX_F32, 32),
                     JX_TYPE(JX_F32, 32, 10), JX_TYPE(JX_F32, 10)};
    jx_fn *f = jx_trace(mlp, 5, ts, 3, NULL);
    jx_array *in[5];
    for (int i = 0; i < 5; i++) in[i] = rand_array(ts[i], -1, 1, 0);
    jit_vs_interp(f, in, 1e-5, "mlp forward");
    free_all(in, 5);
}

/* Per-example matvec MLP (the DESIGN.md predict) and broadcasting compositions. */
static void predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val a = jx_relu(jx_add(jx_matvec(in[0], in[2]), in[1]));
    out[0] = jx_log_softmax(a, 0);
    out[1] = jx_sigmoid(jx_sub(jx_expand_dims(a, 1), jx_expand_dims(in[2], 0)));
    out[2] = jx_tanh(jx_add(jx_mul(in[0], jx_lit(a, 0.5)), jx_expand_dims(in[1], 1)));
}

TEST(matvec_and_broadcasting) {
    jx_type ts[3] = {JX_TYPE(JX_F64, 12, 9), JX_TYPE(JX_F64, 12), JX_TYPE(JX_F64, 9)};
    jx_fn *f = jx_trace(predict, 3, ts, 3, NULL);
    jx_array *in[3];
    for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -2, 2, 0);
    jit_vs_interp(f, in, 1e-12, "matvec + broadcasting");
    free_all(in, 3);
}

TEST(conv_as_patches_and_gemm) {
    jx_type xt = JX_TYPE(JX_F32, 2, 8, 8, 3), wt = JX_TYPE(JX_F32, 3, 3, 3, 4);
    jx_type ts[2] = {xt, wt};
    jx_trace *tr = jx_trace_begin(2, ts);
    jx_val x = jx_trace_input(tr, 0), w = jx_trace_input(tr, 1);
    jx_val p = jx_conv_patches(x, JX_INTS(3, 3), JX_INTS(1, 1), JX_INTS(1, 1), JX_INTS(1, 1));
    jx_val y = jx_dot_general(p, jx_reshape(w, JX_INTS(27, 4)), JX_INTS(3), JX_INTS(0),
                              JX_NOINTS, JX_NOINTS);
    jx_val pooled = jx_reduce_max(jx_reshape(jx_relu(y), JX_INTS(2, 4, 2, 4, 2, 4)), JX_INTS(2, 4));
    jx_val outs[2] = {y, pooled};
    jx_fn *f = jx_trace_end(tr, 2, outs);
    jx_array *in[2] = {rand_array(xt, -1, 1, 0), rand_array(wt, -1, 1, 0)};
    jit_vs_interp(f, in, 1e-5, "conv via patches + gemm + pool");
    free_all(in, 2);
}

TEST(rank0_and_empty) {
    CHECK_UNARY(JX_SCALAR(JX_F32), -3, 3, 1e-6, jx_exp(jx_add(x, x)));
    CHECK_UNARY(JX_SCALAR(JX_I32), -3, 3, 0, jx_mul(x, x));
    CHECK_UNARY(JX_TYPE(JX_F32, 0, 3), -3, 3, 0, jx_exp(x));
    CHECK_UNARY(JX_TYPE(JX_F32, 0, 3), -3, 3, 0, jx_reduce_sum(x, JX_INTS(0)));
    CHECK_UNARY(JX_TYPE(JX_F32, 3, 0), -3, 3, 0, jx_reduce_max(x, JX_INTS(1)));
    CHECK_UNARY(JX_TYPE(JX_I32, 3, 0), -3, 3, 0, jx_reduce_min(x, JX_INTS(1)));
    CHECK_UNARY(JX_TYPE(JX_F32, 0, 3), -3, 3, 0, jx_transpose(x, JX_INTS(1, 0)));
    CHECK_UNARY(JX_TYPE(JX_F32, 0, 3), -3, 3, 0,
                jx_pad(x, jx_scalar(x.t, JX_F32, 1), JX_INTS(1, 0), JX_INTS(1, 0), JX_INTS(0, 0)));
    CHECK_UNARY(JX_TYPE(JX_F32, 2, 0, 3), -3, 3, 0,
                jx_dot_general(x, x, JX_INTS(1), JX_INTS(1), JX_INTS(0), JX_INTS(0)));
}

/* Outputs that are inputs, constants or repeated, and an unused input. */
TEST(odd_outputs) {
    jx_type t = JX_TYPE(JX_F32, 4);
    jx_type ts[2] = {t, t};
    jx_trace *tr = jx_trace_begin(2, ts);
    jx_val x = jx_trace_input(tr, 0);
    jx_val s = jx_exp(x);
    jx_val outs[5] = {x, s, s, jx_scalar(tr, JX_F32, 3), jx_add(s, jx_lit(s, 1))};
    jx_fn *f = jx_trace_end(tr, 5, outs);
    jx_array *in[2] = {rand_array(t, -1, 1, 0), rand_array(t, -1, 1, 0)};
    jit_vs_interp(f, in, 1e-6, "odd outputs");
    free_all(in, 2);
}

/* ---- transformed functions: a whole training step ---------------------------------- */

/* Cross-entropy loss of a 2-layer MLP: in = W1, b1, W2, b2, x, one-hot y. */
static void mlp_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val h = jx_relu(jx_add(jx_matmul(in[4], in[0]), in[1]));
    jx_val logits = jx_add(jx_matmul(h, in[2]), in[3]);
    out[0] = jx_neg(jx_mean_all(jx_mul(jx_log_softmax(logits, 1), in[5])));
}

/* SGD update built by composition: params - 0.1 * grad(loss)(params, x, y). */
static void mlp_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_fn *vg = user;
    jx_val r[5];
    if (jx_call(vg, in, r) < 0) return;
    for (int i = 0; i < 4; i++) out[i] = jx_sub(in[i], jx_mul(jx_lit(in[i], 0.1), r[1 + i]));
    out[4] = r[0];
}

TEST(training_step_value_and_grad) {
    jx_type ts[6] = {JX_TYPE(JX_F32, 20, 32), JX_TYPE(JX_F32, 32), JX_TYPE(JX_F32, 32, 10),
                     JX_TYPE(JX_F32, 10), JX_TYPE(JX_F32, 16, 20), JX_TYPE(JX_F32, 16, 10)};
    jx_fn *loss = jx_trace(mlp_loss, 6, ts, 1, NULL);
    CHECK(loss != NULL);
    if (!loss) return;
    int wrt[4] = {0, 1, 2, 3};
    jx_fn *vg = jx_value_and_grad(loss, 4, wrt);
    CHECK(vg != NULL);
    if (!vg) {
        jx_fn_free(loss);
        return;
    }
    jx_array *in[6];
    for (int i = 0; i < 6; i++) in[i] = rand_array(ts[i], -1, 1, 0);
    jit_vs_interp(jx_value_and_grad(loss, 4, wrt), in, 1e-5, "value_and_grad(mlp loss)");
    jx_fn *upd = jx_trace(mlp_update, 6, ts, 5, vg);
    CHECK(upd != NULL);
    if (upd) {
        unsigned char donate[6] = {1, 1, 1, 1, 0, 0};
        jx_exe *e = jx_jit(upd, &(jx_jit_opts){.donate = donate});
        CHECK(e != NULL);
        jx_array *ref[6];
        for (int i = 0; i < 6; i++) ref[i] = jx_array_copy(in[i]);
        for (int step = 0; step < 3 && e; step++) {
            jx_array *want[5] = {0};
            CHECK(jx_interp(upd, ref, want) == 0);
            jx_array *out[5] = {in[0], in[1], in[2], in[3], NULL};
            CHECK(jx_exe_run(e, in, out) == 0);
            for (int i = 0; i < 4; i++) {
                same_arrays(in[i], want[i], 1e-5, "updated param");
                jx_array_free(ref[i]);
                ref[i] = jx_array_retain(want[i]);
            }
            same_arrays(out[4], want[4], 1e-5, "loss");
            jx_array_free(out[4]);
            free_all(want, 5);
        }
        free_all(ref, 6);
        jx_exe_free(e);
        jx_fn_free(upd);
    }
    /* per-example gradients: vmap(grad) over x and y */
    jx_type ets[6] = {ts[0], ts[1], ts[2], ts[3], JX_TYPE(JX_F32, 1, 20), JX_TYPE(JX_F32, 1, 10)};
    jx_fn *el = jx_trace(mlp_loss, 6, ets, 1, NULL);
    jx_fn *eg = el ? jx_grad(el, 4, wrt) : NULL;
    int in_axes[6] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0, 0};
    jx_fn *pg = eg ? jx_vmap(eg, in_axes, NULL, 16) : NULL;
    CHECK(pg != NULL);
    if (pg) {
        jx_type bx = JX_TYPE(JX_F32, 16, 1, 20), by = JX_TYPE(JX_F32, 16, 1, 10);
        jx_array *vin[6] = {in[0], in[1], in[2], in[3], rand_array(bx, -1, 1, 0),
                            rand_array(by, 0, 1, 0)};
        jit_vs_interp(pg, vin, 1e-5, "vmap(grad(mlp loss))");
        jx_array_free(vin[4]);
        jx_array_free(vin[5]);
    }
    jx_fn_free(eg);
    jx_fn_free(el);
    free_all(in, 6);
    jx_fn_free(vg);
    jx_fn_free(loss);
}

/* ---- calling convention: donation, preallocated outputs, errors, threads --------------- */

/* One SGD step: w' = w - lr * (x^T (x w - y)), donated w. */
static void sgd(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    jx_val w = in[0], x = in[1], y = in[2];
    jx_val err = jx_sub(jx_matvec(x, w), y);
    jx_val g = jx_dot_general(x, err, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_sub(w, jx_mul(jx_lit(w, 0.1), g));
    out[1] = jx_sum_all(jx_square(err));
}

TEST(donation_in_place) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 8), JX_TYPE(JX_F32, 16, 8), JX_TYPE(JX_F32, 16)};
    jx_fn *f = jx_trace(sgd, 3, ts, 2, NULL);
    CHECK(f != NULL);
    if (!f) return;
    unsigned char donate[3] = {1, 0, 0};
    jx_exe *e = jx_jit(f, &(jx_jit_opts){.donate = donate});
    CHECK(e != NULL);
    jx_array *in[3];
    for (int i = 0; i < 3; i++) in[i] = rand_array(ts[i], -1, 1, 0);
    jx_array *w_ref = jx_array_copy(in[0]);
    for (int step = 0; step < 3 && e; step++) {
        /* reference step on a copy */
        jx_array *rin[3] = {w_ref, in[1], in[2]}, *want[2] = {0};
        CHECK(jx_interp(f, rin, want) == 0);
        jx_array_free(w_ref);
        w_ref = want[0];
        /* in place: out[0] is the donated input itself */
        jx_array *out[2] = {in[0], NULL};
        CHECK(jx_exe_run(e, in, out) == 0);
        CHECK(out[0] == in[0]);
        same_arrays(in[0], w_ref, 1e-5, "donated w");
        same_arrays(out[1], want[1], 1e-5, "loss");
        jx_array_free(out[1]);
        jx_array_free(want[1]);
    }
    /* NULL output with a donated input: the result is the input's buffer */
    jx_array *out[2] = {NULL, NULL};
    CHECK(jx_exe_run(e, in, out) == 0);
    CHECK(out[0] == in[0]);
    jx_array_free(out[0]);
    jx_array_free(out[1]);
    /* an output aliasing a non-donated input is still computed correctly */
    jx_exe *e2 = jx_jit(f, NULL);
    jx_array *want[2] = {0};
    CHECK(jx_interp(f, in, want) == 0);
    jx_array *wcopy = jx_array_copy(in[0]);
    jx_array *in2[3] = {wcopy, in[1], in[2]}, *out2[2] = {wcopy, NULL};
    CHECK(jx_exe_run(e2, in2, out2) == 0);
    same_arrays(wcopy, want[0], 1e-5, "aliased output without donation");
    jx_array_free(out2[1]);
    free_all(want, 2);
    jx_array_free(wcopy);
    jx_exe_free(e2);
    jx_array_free(w_ref);
    free_all(in, 3);
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST(call_time_type_errors) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_I32, 2)};
    jx_trace *tr = jx_trace_begin(2, ts);
    jx_val r = jx_exp(jx_trace_input(tr, 0));
    jx_fn *f = jx_trace_end(tr, 1, &r);
    jx_exe *e = jx_jit(f, NULL);
    CHECK(e != NULL);
    jx_array *good0 = jx_array_new_type(&ts[0]), *good1 = jx_array_new_type(&ts[1]);
    jx_type bt = JX_TYPE(JX_F64, 2);
    jx_array *bad = jx_array_new_type(&bt);
    jx_array *in[2] = {good0, bad}, *out[1] = {NULL};
    CHECK(jx_exe_run(e, in, out) < 0);
    CHECK_CONTAINS(jx_error(), "input 1");
    CHECK_CONTAINS(jx_error(), "f64[2]");
    CHECK_CONTAINS(jx_error(), "i32[2]");
    CHECK(out[0] == NULL);
    in[1] = good1;
    jx_array *wrong_out = jx_array_new_type(&bt);
    out[0] = wrong_out;
    CHECK(jx_exe_run(e, in, out) < 0);
    CHECK_CONTAINS(jx_error(), "output 0");
    out[0] = NULL;
    CHECK(jx_exe_run(e, in, out) == 0);
    /* preallocated output: written in place */
    jx_array *pre = jx_array_new_type(&ts[0]);
    jx_array *outp[1] = {pre};
    CHECK(jx_exe_run(e, in, outp) == 0 && outp[0] == pre);
    CHECK_NEAR(jx_array_get(pre, 0), 1.0, 0);
    CHECK(jx_exe_run(NULL, in, out) < 0);
    CHECK(jx_jit(NULL, NULL) == NULL);
    jx_array_free(out[0]);
    jx_array_free(pre);
    jx_array_free(wrong_out);
    jx_array_free(bad);
    jx_array_free(good0);
    jx_array_free(good1);
    jx_exe_free(e);
    jx_fn_free(f);
}

/* Shared state of the threaded test. */
typedef struct thr_ctx {
    jx_exe *e;
    jx_array *in[5];
    jx_array *want[3];
    int ok;
} thr_ctx;

static void *thr_main(void *arg) {
    thr_ctx *c = arg;
    c->ok = 1;
    for (int it = 0; it < 50 && c->ok; it++) {
        jx_array *out[3] = {0};
        if (jx_exe_run(c->e, c->in, out) < 0) c->ok = 0;
        for (int j = 0; j < 3 && c->ok; j++) {
            int64_t n = jx_array_size(out[j]);
            for (int64_t i = 0; i < n; i++)
                if (!check_near(jx_array_get(out[j], i), jx_array_get(c->want[j], i), 1e-5)) c->ok = 0;
        }
        free_all(out, 3);
    }
    return NULL;
}

TEST(two_threads_one_exe) {
    jx_type ts[5] = {JX_TYPE(JX_F32, 16, 20), JX_TYPE(JX_F32, 20, 32), JX_TYPE(JX_F32, 32),
                     JX_TYPE(JX_F32, 32, 10), JX_TYPE(JX_F32, 10)};
    jx_fn *f = jx_trace(mlp, 5, ts, 3, NULL);
    jx_exe *e = jx_jit(f, NULL);
    CHECK(e != NULL);
    if (!e) return;
    thr_ctx c[2];
    for (int k = 0; k < 2; k++) {
        c[k].e = e;
        for (int i = 0; i < 5; i++) c[k].in[i] = rand_array(ts[i], -1, 1, 0);
        CHECK(jx_interp(f, c[k].in, c[k].want) == 0);
    }
    pthread_t th[2];
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, thr_main, &c[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK(c[k].ok);
        free_all(c[k].in, 5);
        free_all(c[k].want, 3);
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

/* ---- regressions found by t_fuzz.c ------------------------------------------------------ */

/* A new f32 array of the given shape holding v[0..]. */
static jx_array *reg_f32(int rank, const int64_t *shape, const float *v) {
    return jx_array_from(JX_F32, rank, shape, v);
}

/* Both operands of an add are "scalar constant x dot": only one GEMM may fold into s
 * (the other one was never planned and its buffer read uninitialized: jit 48, not 28). */
TEST(regress_double_gemm_fold) {
    jx_fn *f = jx_fn_parse(
        "{ lambda ; a:f32[1,1] b:f32[1,1] c:f32[1,1] d:f32[1,1]. let\n"
        "  x:f32[1,1] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] a b\n"
        "  y:f32[1,1] = dot_general[lhs_contract=(1) rhs_contract=(0) lhs_batch=() rhs_batch=()] c d\n"
        "  k:f32[1,1] = broadcast_in_dim[shape=(1,1) broadcast_dimensions=()] 2.0:f32[]\n"
        "  px:f32[1,1] = mul k x\n"
        "  py:f32[1,1] = mul k y\n"
        "  s:f32[1,1] = add px py\n"
        "in (s) }");
    CHECK(f != NULL);
    if (!f) return;
    int64_t sh[2] = {1, 1};
    float v[4] = {1, 2, 3, 4};
    jx_array *in[4];
    for (int i = 0; i < 4; i++) in[i] = reg_f32(2, sh, &v[i]);
    jx_array *want[1] = {0};
    CHECK(jx_interp(f, in, want) == 0);
    CHECK_NEAR(jx_array_get(want[0], 0), 28.0, 0);
    CHECK(jit_vs_interp(f, in, 0, "2*dot(a,b) + 2*dot(c,d)"));
    free_all(want, 1);
    free_all(in, 4);
}

/* w + 0.0 * dot(t, u) must not become a GEMM with alpha = 0 (BLAS skips the product, so
 * the -inf in u would not make NaN): interp [nan, 6]. */
TEST(regress_gemm_fold_alpha_zero) {
    jx_fn *f = jx_fn_parse(
        "{ lambda ; w:f32[1,2] t:f32[1,2] u:f32[2,2]. let\n"
        "  v:f32[1,2] = dot_general[lhs_contract=(1) rhs_contract=(1) lhs_batch=() rhs_batch=()] t u\n"
        "  x:f32[1,2] = broadcast_in_dim[shape=(1,2) broadcast_dimensions=()] 0.0:f32[]\n"
        "  y:f32[1,2] = mul x v\n"
        "  z:f32[1,2] = add w y\n"
        "in (z) }");
    CHECK(f != NULL);
    if (!f) return;
    int64_t s12[2] = {1, 2}, s22[2] = {2, 2};
    float w[2] = {5, 6}, t[2] = {1, 1}, u[4] = {-INFINITY, 1, 1, 1};
    jx_array *in[3] = {reg_f32(2, s12, w), reg_f32(2, s12, t), reg_f32(2, s22, u)};
    jx_array *want[1] = {0};
    CHECK(jx_interp(f, in, want) == 0);
    CHECK(isnan(jx_array_get(want[0], 0)));
    CHECK(jit_vs_interp(f, in, 0, "w + 0 * dot(t, u)"));
    free_all(want, 1);
    free_all(in, 3);
}

/* A donated input that no output needs (a) must not be picked as a donor: lowering had
 * no pointer for it and copied from NULL. */
TEST(regress_dead_input_not_donor) {
    jx_fn *f = jx_fn_parse("{ lambda ; a:f32[3] b:f32[3]. let c:f32[3] = neg b in (c) }");
    CHECK(f != NULL);
    if (!f) return;
    int64_t sh[1] = {3};
    float a[3] = {1, 2, 3}, b[3] = {-1, 0.5f, INFINITY};
    jx_array *in[2] = {reg_f32(1, sh, a), reg_f32(1, sh, b)};
    unsigned char donate[2] = {1, 1};
    CHECK(jit_vs_interp_opts(f, in, 0, "neg b, a and b donated", &(jx_jit_opts){.donate = donate}));
    free_all(in, 2);
}

/* Input a donated to output `don`; the caller passes NULL there and a's own array for
 * the other output. Both orders of the outputs: results equal the interpreter's, the
 * caller's array holds its output, the other output is a distinct array. */
TEST(regress_donor_array_passed_as_other_output) {
    static const char *texts[2] = {
        "{ lambda ; a:f32[1,5]. let b:f32[1,5] = mul a a\n k:f32[1,5] = tanh b in (b, k) }",
        "{ lambda ; a:f32[1,5]. let b:f32[1,5] = mul a a\n k:f32[1,5] = tanh b in (k, b) }"};
    for (int v = 0; v < 2; v++) {
        jx_fn *f = jx_fn_parse(texts[v]);
        CHECK(f != NULL);
        if (!f) continue;
        int64_t sh[2] = {1, 5};
        float av[5] = {0.5f, -1, 2, 0, 0.25f};
        jx_array *in[1] = {reg_f32(2, sh, av)}, *want[2] = {0};
        CHECK(jx_interp(f, in, want) == 0);
        unsigned char donate[1] = {1};
        jx_exe *e = jx_jit(f, &(jx_jit_opts){.donate = donate});
        CHECK(e != NULL);
        int don = v == 0 ? 0 : 1; /* the output a*a (donated a), passed as NULL */
        jx_array *out[2];
        out[don] = NULL;
        out[1 - don] = in[0];
        if (e && jx_exe_run(e, in, out) == 0) {
            CHECK(out[0] != out[1]);
            CHECK(out[1 - don] == in[0]);
            same_arrays(out[0], want[0], 1e-6, "output 0");
            same_arrays(out[1], want[1], 1e-6, "output 1");
            jx_array_free(out[don]);
        } else {
            CHECK_FAIL_("run failed: %s", jx_error());
        }
        jx_exe_free(e);
        free_all(want, 2);
        free_all(in, 1);
        jx_fn_free(f);
    }
}

TEST_MAIN()
