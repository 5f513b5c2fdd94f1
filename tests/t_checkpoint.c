/* jx_checkpoint (jax.checkpoint) and optimization_barrier: gradients through checkpointed
 * MLP layers equal the plain gradients bit for bit (interpreter and JIT) and finite
 * differences; vmap of grad, grad of grad and jvp compose; the JIT pipeline keeps the
 * backward pass's recomputation apart from the forward pass (one more GEMM per layer) and
 * the compiled step's arena is smaller; several outputs; the text round trip; errors. */
#include "check.h"
#include "core/ir.h"
#include "jit/jit.h"
#include "transform/passes.h"

#define F64(...) JX_TYPE(JX_F64, __VA_ARGS__)
#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)
#define MAXL 8

/* ---- the model ---------------------------------------------------------------------- */

/* One layer: relu(h @ w + b) on (h[B,D], w[D,D], b[D]). */
static void layer(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_relu(jx_add(jx_matmul(in[0], in[1]), in[2]));
}

/* How the MLP's loss is built: layers, and checkpointing (0 none, 1 each layer, 2 the
 * whole stack as one checkpoint of checkpoints). */
typedef struct mlp {
    int layers, ckpt;
} mlp;

/* All layers on inputs in[0..2L) = (w0, b0, ...) and in[2L] = x. */
static void stack(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    const mlp *m = u;
    jx_val h = in[2 * m->layers];
    for (int l = 0; l < m->layers; l++) {
        jx_val a[3] = {h, in[2 * l], in[2 * l + 1]};
        if (m->ckpt) jx_checkpoint(layer, NULL, 3, a, 1, &h);
        else layer(t, a, &h, NULL);
    }
    out[0] = h;
}

/* 0.5 * sum(tanh(mlp(x))^2) (tanh so the loss is not just a quadratic of the last relu). */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    const mlp *m = u;
    jx_val h;
    if (m->ckpt == 2) {
        mlp inner = {m->layers, 1};
        jx_checkpoint(stack, &inner, 2 * m->layers + 1, in, 1, &h);
    } else {
        stack(t, in, &h, u);
    }
    jx_val y = jx_tanh(h);
    out[0] = jx_mul(jx_lit(y, 0.5), jx_sum_all(jx_mul(y, y)));
}

/* The loss function of m over L layers of width d at batch b (dtype dt). */
static jx_fn *loss_fn(mlp *m, jx_dtype dt, int64_t b, int64_t d) {
    jx_type ty[2 * MAXL + 1];
    for (int l = 0; l < m->layers; l++) {
        ty[2 * l] = JX_TYPE(dt, d, d);
        ty[2 * l + 1] = JX_TYPE(dt, d);
    }
    ty[2 * m->layers] = JX_TYPE(dt, b, d);
    return jx_trace(loss, 2 * m->layers + 1, ty, 1, m);
}

/* Deterministic inputs for f: a hash of (input, element) in [-scale, scale). */
static void inputs(const jx_fn *f, jx_array **in, double scale) {
    for (int i = 0; i < jx_fn_n_in(f); i++) {
        jx_type t = jx_fn_in_type(f, i);
        in[i] = jx_array_new_type(&t);
        for (int64_t k = 0; k < jx_array_size(in[i]); k++) {
            uint32_t h = (uint32_t)(i * 7919 + k) * 2654435761u;
            h ^= h >> 15;
            h *= 2246822519u;
            h ^= h >> 13;
            jx_array_set(in[i], k, scale * ((double)(h % 20001) / 10000.0 - 1.0));
        }
    }
}

static void free_all(jx_array **a, int n) {
    for (int i = 0; i < n; i++) jx_array_free(a[i]);
}

/* 1 if a and b have equal types and bytes. */
static int same_bits(const jx_array *a, const jx_array *b) {
    return a && b && jx_array_nbytes(a) == jx_array_nbytes(b) &&
           !memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a));
}

/* Runs f (interpreter, or the JIT when jit is set) on in into out (n outputs). */
static int run(const jx_fn *f, jx_array **in, jx_array **out, int jit) {
    for (int j = 0; j < jx_fn_n_out(f); j++) out[j] = NULL;
    if (!jit) return jx_interp(f, in, out);
    jx_exe *e = jx_jit(f, NULL);
    int rc = e ? jx_exe_run(e, in, out) : -1;
    jx_exe_free(e);
    return rc;
}

/* Counts f's nodes of op. */
static int count_op(const jx_fn *f, jx_op op) {
    int c = 0;
    for (int i = 0; i < f->n_nodes; i++) c += f->nodes[i].op == op;
    return c;
}

/* ---- gradients ---------------------------------------------------------------------- */

/* value_and_grad of the plain and the checkpointed MLP (every input): equal bit for bit
 * in the interpreter and in the JIT, f32 and f64. */
static void check_same_grads(jx_dtype dt, int ckpt, int jit) {
    mlp plain = {3, 0}, ck = {3, ckpt};
    jx_fn *f0 = loss_fn(&plain, dt, 5, 6), *f1 = loss_fn(&ck, dt, 5, 6);
    int wrt[7] = {0, 1, 2, 3, 4, 5, 6};
    jx_fn *g0 = f0 ? jx_value_and_grad(f0, 7, wrt) : NULL;
    jx_fn *g1 = f1 ? jx_value_and_grad(f1, 7, wrt) : NULL;
    CHECK(g0 && g1);
    if (!g0 || !g1) goto done;
    CHECK(count_op(f1, JX_OP_CHECKPOINT) >= 1);
    jx_array *in[7], *o0[8], *o1[8];
    inputs(f0, in, 0.6);
    CHECK(run(g0, in, o0, jit) == 0 && run(g1, in, o1, jit) == 0);
    for (int j = 0; j < 8; j++) {
        if (!same_bits(o0[j], o1[j])) CHECK_FAIL_("%s %s ckpt %d: output %d differs",
                                                  jit ? "jit" : "interp", jx_dtype_name(dt),
                                                  ckpt, j);
    }
    free_all(o0, 8);
    free_all(o1, 8);
    free_all(in, 7);
done:
    jx_fn_free(g0);
    jx_fn_free(g1);
    jx_fn_free(f0);
    jx_fn_free(f1);
}

TEST(grad_equals_plain_grad_bit_for_bit_interp) {
    check_same_grads(JX_F64, 1, 0);
    check_same_grads(JX_F32, 1, 0);
    check_same_grads(JX_F32, 2, 0); /* nested: a checkpoint of checkpoints */
}

TEST(grad_equals_plain_grad_bit_for_bit_jit) {
    check_same_grads(JX_F64, 1, 1);
    check_same_grads(JX_F32, 1, 1);
    check_same_grads(JX_F32, 2, 1);
}

/* The checkpointed gradient against central differences of the loss (f64). */
TEST(grad_matches_finite_differences) {
    mlp ck = {2, 1};
    jx_fn *f = loss_fn(&ck, JX_F64, 3, 4);
    int wrt[5] = {0, 1, 2, 3, 4};
    jx_fn *g = f ? jx_grad(f, 5, wrt) : NULL;
    CHECK(g != NULL);
    if (!g) goto done;
    jx_array *in[5], *gr[5], *y[1];
    inputs(f, in, 0.8);
    CHECK(jx_interp(g, in, gr) == 0);
    const double h = 1e-6;
    for (int i = 0; i < 5; i++)
        for (int64_t k = 0; k < jx_array_size(in[i]); k++) {
            double x0 = jx_array_get(in[i], k), yp, ym;
            jx_array_set(in[i], k, x0 + h);
            CHECK(jx_interp(f, in, y) == 0);
            yp = jx_array_get(y[0], 0);
            jx_array_free(y[0]);
            jx_array_set(in[i], k, x0 - h);
            CHECK(jx_interp(f, in, y) == 0);
            ym = jx_array_get(y[0], 0);
            jx_array_free(y[0]);
            jx_array_set(in[i], k, x0);
            double fd = (yp - ym) / (2 * h);
            CHECK_NEAR(jx_array_get(gr[i], k), fd, 1e-7 * (1 + fabs(fd)));
        }
    free_all(gr, 5);
    free_all(in, 5);
done:
    jx_fn_free(g);
    jx_fn_free(f);
}

/* vmap(grad) over a batch of x (params unbatched): per-example gradients of the
 * checkpointed loss equal the plain loss's, bit for bit, and the plain per-example grads
 * run one by one agree. */
TEST(vmap_of_grad_of_checkpoint) {
    mlp plain = {2, 0}, ck = {2, 1};
    jx_fn *f0 = loss_fn(&plain, JX_F64, 2, 3), *f1 = loss_fn(&ck, JX_F64, 2, 3);
    int wrt[2] = {0, 2}, axes[5] = {JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0};
    jx_fn *g0 = f0 ? jx_grad(f0, 2, wrt) : NULL, *g1 = f1 ? jx_grad(f1, 2, wrt) : NULL;
    jx_fn *v0 = g0 ? jx_vmap(g0, axes, NULL, 4) : NULL;
    jx_fn *v1 = g1 ? jx_vmap(g1, axes, NULL, 4) : NULL;
    CHECK(v0 && v1);
    if (!v0 || !v1) goto done;
    CHECK(count_op(v1, JX_OP_CHECKPOINT) == 2); /* batched checkpoints, not inlined */
    jx_array *in[5], *o0[2], *o1[2], *oj[2];
    inputs(v0, in, 0.7);
    CHECK(jx_interp(v0, in, o0) == 0 && jx_interp(v1, in, o1) == 0);
    CHECK(same_bits(o0[0], o1[0]) && same_bits(o0[1], o1[1]));
    CHECK(run(v1, in, oj, 1) == 0);
    for (int j = 0; j < 2; j++)
        for (int64_t k = 0; oj[j] && k < jx_array_size(oj[j]); k++)
            CHECK_NEAR(jx_array_get(oj[j], k), jx_array_get(o1[j], k), 1e-12);
    /* example 2 alone through the plain grad */
    jx_type xt = F64(2, 3);
    jx_array *x2 = jx_array_new_type(&xt), *one[2], *in1[5] = {in[0], in[1], in[2], in[3], x2};
    for (int64_t k = 0; k < 6; k++) jx_array_set(x2, k, jx_array_get(in[4], 2 * 6 + k));
    CHECK(jx_interp(g0, in1, one) == 0);
    for (int64_t k = 0; k < 9; k++)
        CHECK_NEAR(jx_array_get(o1[0], 2 * 9 + k), jx_array_get(one[0], k), 1e-14);
    jx_array_free(x2);
    free_all(one, 2);
    free_all(o0, 2);
    free_all(o1, 2);
    free_all(oj, 2);
    free_all(in, 5);
done:
    jx_fn_free(v0);
    jx_fn_free(v1);
    jx_fn_free(g0);
    jx_fn_free(g1);
    jx_fn_free(f0);
    jx_fn_free(f1);
}

/* grad of grad: d/dw0 of sum(grad wrt x) through checkpoints equals the plain one; and
 * jvp (forward mode) of the checkpointed loss equals the plain jvp. */
static void sum_grad_x(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    jx_val g;
    jx_call_grad(loss, u, 5, JX_FLAT, in, 1, 1, (int[]){4}, &g);
    out[0] = jx_sum_all(jx_mul(g, g));
}

TEST(grad_of_grad_and_jvp_of_checkpoint) {
    mlp plain = {2, 0}, ck = {2, 1};
    jx_type ty[5] = {F64(3, 3), F64(3), F64(3, 3), F64(3), F64(2, 3)};
    jx_fn *f0 = jx_trace(sum_grad_x, 5, ty, 1, &plain), *f1 = jx_trace(sum_grad_x, 5, ty, 1, &ck);
    int wrt[3] = {0, 1, 4};
    jx_fn *g0 = f0 ? jx_grad(f0, 3, wrt) : NULL, *g1 = f1 ? jx_grad(f1, 3, wrt) : NULL;
    jx_fn *l0 = loss_fn(&plain, JX_F64, 2, 3), *l1 = loss_fn(&ck, JX_F64, 2, 3);
    jx_fn *j0 = l0 ? jx_jvp(l0, NULL) : NULL, *j1 = l1 ? jx_jvp(l1, NULL) : NULL;
    jx_fn *h1 = l1 ? jx_hessian(l1, 1, (int[]){1}) : NULL;
    jx_fn *h0 = l0 ? jx_hessian(l0, 1, (int[]){1}) : NULL;
    CHECK(g0 && g1 && j0 && j1 && h0 && h1);
    if (!g0 || !g1 || !j0 || !j1 || !h0 || !h1) goto done;
    CHECK(count_op(j1, JX_OP_CHECKPOINT) > 0); /* the tangents are checkpoints too */
    jx_array *in[10], *o0[4], *o1[4];
    inputs(j0, in, 0.7);
    CHECK(jx_interp(g0, in, o0) == 0 && jx_interp(g1, in, o1) == 0);
    for (int j = 0; j < 3; j++) CHECK(same_bits(o0[j], o1[j]));
    free_all(o0, 3);
    free_all(o1, 3);
    CHECK(jx_interp(j0, in, o0) == 0 && jx_interp(j1, in, o1) == 0);
    for (int j = 0; j < 2; j++)
        CHECK_NEAR(jx_array_get(o0[j], 0), jx_array_get(o1[j], 0), 1e-13);
    free_all(o0, 2);
    free_all(o1, 2);
    CHECK(jx_interp(h0, in, o0) == 0 && jx_interp(h1, in, o1) == 0);
    for (int64_t k = 0; o0[0] && o1[0] && k < 9; k++)
        CHECK_NEAR(jx_array_get(o0[0], k), jx_array_get(o1[0], k), 1e-12);
    free_all(o0, 1);
    free_all(o1, 1);
    free_all(in, 10);
done:
    jx_fn_free(h0);
    jx_fn_free(h1);
    jx_fn_free(j0);
    jx_fn_free(j1);
    jx_fn_free(l0);
    jx_fn_free(l1);
    jx_fn_free(g0);
    jx_fn_free(g1);
    jx_fn_free(f0);
    jx_fn_free(f1);
}

/* ---- what the JIT sees ---------------------------------------------------------------- */

/* After the JIT's passes the checkpointed step has one more GEMM per layer (the forward
 * product recomputed in the backward pass: cse did not merge it away) and no barrier; its
 * planned arena is smaller than the plain step's. */
TEST(jit_recomputes_and_plans_a_smaller_arena) {
    mlp plain = {4, 0}, ck = {4, 1};
    jx_fn *f0 = loss_fn(&plain, JX_F32, 16, 32), *f1 = loss_fn(&ck, JX_F32, 16, 32);
    int wrt[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    jx_fn *g0 = f0 ? jx_value_and_grad(f0, 8, wrt) : NULL;
    jx_fn *g1 = f1 ? jx_value_and_grad(f1, 8, wrt) : NULL;
    jx_fn *p0 = g0 ? pass_run_list(g0, PASS_JIT_PIPELINE) : NULL;
    jx_fn *p1 = g1 ? pass_run_list(g1, PASS_JIT_PIPELINE) : NULL;
    CHECK(p0 && p1);
    if (!p0 || !p1) goto done;
    CHECK(count_op(g1, JX_OP_OPT_BARRIER) == 4 * 3);
    CHECK(count_op(p1, JX_OP_OPT_BARRIER) == 0 && count_op(p1, JX_OP_CHECKPOINT) == 0);
    int d0 = count_op(p0, JX_OP_DOT_GENERAL), d1 = count_op(p1, JX_OP_DOT_GENERAL);
    if (d1 != d0 + 4) CHECK_FAIL_("%d GEMMs with checkpoints, %d without", d1, d0);
    jit_plan *q0 = jit_plan_build(p0), *q1 = jit_plan_build(p1);
    CHECK(q0 && q1 && jit_memplan(q0, NULL) == 0 && jit_memplan(q1, NULL) == 0);
    if (q0 && q1 && q1->arena_bytes >= q0->arena_bytes)
        CHECK_FAIL_("arena %lld bytes with checkpoints, %lld without",
                    (long long)q1->arena_bytes, (long long)q0->arena_bytes);
    jit_plan_free(q0);
    jit_plan_free(q1);
done:
    jx_fn_free(p0);
    jx_fn_free(p1);
    jx_fn_free(g0);
    jx_fn_free(g1);
    jx_fn_free(f0);
    jx_fn_free(f1);
}

/* cse and const-fold do not look through a barrier; drop-barriers removes it. */
TEST(barrier_is_opaque_to_simplify) {
    jx_type ty = F32(3);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0), c = jx_lit(x, 2.0);
    jx_val a = jx_exp(x), b = jx_exp(jx_optimization_barrier(x));
    jx_val k = jx_optimization_barrier(jx_scalar(t, JX_F32, 3.0));
    jx_val outs[2] = {jx_add(a, b), jx_mul(jx_mul(c, jx_broadcast_to(k, JX_INTS(3))), x)};
    jx_fn *f = jx_trace_end(t, 2, outs);
    jx_fn *s = f ? jx_simplify(f) : NULL, *d = s ? pass_drop_barriers(s) : NULL;
    CHECK(s && d);
    if (s) CHECK(count_op(s, JX_OP_EXP) == 2 && count_op(s, JX_OP_OPT_BARRIER) == 2);
    if (d) CHECK(count_op(d, JX_OP_EXP) == 2 && count_op(d, JX_OP_OPT_BARRIER) == 0);
    jx_array *in[1], *o0[2], *o1[2];
    inputs(f, in, 1.0);
    CHECK(run(f, in, o0, 0) == 0 && run(f, in, o1, 1) == 0);
    CHECK(same_bits(o0[0], o1[0]) && same_bits(o0[1], o1[1]));
    free_all(in, 1);
    free_all(o0, 2);
    free_all(o1, 2);
    jx_fn_free(d);
    jx_fn_free(s);
    jx_fn_free(f);
}

/* ---- several outputs -------------------------------------------------------------------- */

/* (sin(x) * w, sum(x * w)): two outputs sharing x * w. */
static void two_out(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val p = jx_mul(in[0], in[1]);
    out[0] = jx_mul(jx_sin(in[0]), in[1]);
    out[1] = jx_sum_all(p);
}

/* f(x, w) = sum(a^2) * b with (a, b) = two_out(x, w), checkpointed or not. */
static void two_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val ab[2];
    if (u) jx_checkpoint(two_out, NULL, 2, in, 2, ab);
    else two_out(t, in, ab, NULL);
    out[0] = jx_mul(jx_sum_all(jx_mul(ab[0], ab[0])), ab[1]);
}

TEST(several_outputs) {
    jx_type ty[2] = {F64(4), F64(4)};
    jx_fn *f0 = jx_trace(two_loss, 2, ty, 1, NULL), *f1 = jx_trace(two_loss, 2, ty, 1, (void *)1);
    jx_fn *g0 = f0 ? jx_value_and_grad(f0, 2, (int[]){0, 1}) : NULL;
    jx_fn *g1 = f1 ? jx_value_and_grad(f1, 2, (int[]){0, 1}) : NULL;
    CHECK(g0 && g1);
    if (!g0 || !g1) goto done;
    CHECK(count_op(f1, JX_OP_CHECKPOINT) == 2);
    jx_array *in[2], *o0[3], *o1[3];
    inputs(f0, in, 1.0);
    CHECK(jx_interp(g0, in, o0) == 0 && jx_interp(g1, in, o1) == 0);
    for (int j = 0; j < 3; j++)
        for (int64_t k = 0; o0[j] && o1[j] && k < jx_array_size(o0[j]); k++)
            CHECK_NEAR(jx_array_get(o0[j], k), jx_array_get(o1[j], k), 1e-14);
    free_all(o0, 3);
    free_all(o1, 3);
    CHECK(run(g1, in, o1, 1) == 0 && jx_interp(g0, in, o0) == 0);
    for (int j = 0; j < 3; j++)
        for (int64_t k = 0; o0[j] && o1[j] && k < jx_array_size(o0[j]); k++)
            CHECK_NEAR(jx_array_get(o0[j], k), jx_array_get(o1[j], k), 1e-13);
    free_all(o0, 3);
    free_all(o1, 3);
    free_all(in, 2);
done:
    jx_fn_free(g0);
    jx_fn_free(g1);
    jx_fn_free(f0);
    jx_fn_free(f1);
}

/* A traced function checkpointed through jx_fn_cb gives the same gradients. */
static void loss_fn_cb(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val h, a[3] = {in[2], in[0], in[1]};
    jx_checkpoint(jx_fn_cb, u, 3, a, 1, &h);
    out[0] = jx_sum_all(jx_mul(h, h));
    (void)t;
}

static void loss_plain(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val h, a[3] = {in[2], in[0], in[1]};
    layer(t, a, &h, u);
    out[0] = jx_sum_all(jx_mul(h, h));
}

TEST(checkpoint_of_a_traced_function) {
    jx_type lt[3] = {F64(2, 3), F64(3, 3), F64(3)}, ty[3] = {F64(3, 3), F64(3), F64(2, 3)};
    jx_fn *lf = jx_trace(layer, 3, lt, 1, NULL);
    jx_fn *f0 = jx_trace(loss_plain, 3, ty, 1, NULL), *f1 = jx_trace(loss_fn_cb, 3, ty, 1, lf);
    jx_fn *g0 = f0 ? jx_grad(f0, 2, (int[]){0, 2}) : NULL;
    jx_fn *g1 = f1 ? jx_grad(f1, 2, (int[]){0, 2}) : NULL;
    CHECK(g0 && g1);
    if (g0 && g1) {
        CHECK(count_op(f1, JX_OP_CHECKPOINT) == 1);
        jx_array *in[3], *o0[2], *o1[2];
        inputs(f0, in, 0.9);
        CHECK(jx_interp(g0, in, o0) == 0 && jx_interp(g1, in, o1) == 0);
        CHECK(same_bits(o0[0], o1[0]) && same_bits(o0[1], o1[1]));
        free_all(in, 3);
        free_all(o0, 2);
        free_all(o1, 2);
    }
    jx_fn_free(g0);
    jx_fn_free(g1);
    jx_fn_free(f0);
    jx_fn_free(f1);
    jx_fn_free(lf);
}

/* ---- text ----------------------------------------------------------------------------- */

/* The grad of a checkpointed MLP prints, parses back and prints the same, and the parsed
 * function computes the same gradients. */
TEST(text_round_trip_of_grad) {
    mlp ck = {2, 1};
    jx_fn *f = loss_fn(&ck, JX_F64, 2, 3);
    jx_fn *g = f ? jx_grad(f, 1, (int[]){0}) : NULL;
    char *s = g ? jx_fn_to_string(g) : NULL;
    jx_fn *p = s ? jx_fn_parse(s) : NULL;
    char *s2 = p ? jx_fn_to_string(p) : NULL;
    CHECK(s && s2 && !strcmp(s, s2));
    if (s) {
        CHECK_CONTAINS(s, "checkpoint[\n");
        CHECK_CONTAINS(s, "call={ lambda");
        CHECK_CONTAINS(s, "optimization_barrier");
    }
    if (p) {
        jx_array *in[5], *o0[1], *o1[1];
        inputs(g, in, 0.5);
        CHECK(jx_interp(g, in, o0) == 0 && jx_interp(p, in, o1) == 0);
        CHECK(same_bits(o0[0], o1[0]));
        free_all(in, 5);
        free_all(o0, 1);
        free_all(o1, 1);
    }
    free(s);
    free(s2);
    jx_fn_free(p);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* ---- errors ----------------------------------------------------------------------------- */

/* A checkpointed function whose body fails. */
static void bad_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_reshape(in[0], JX_INTS(2));
}

/* Calls jx_checkpoint with the case's arguments at a known line; the trace's error. */
static void err_case(int which, int *line, char *err, size_t len, int *poisoned) {
    jx_type ty = F32(3);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0), outs[2] = {x, x}, zero = {0};
    jx_val args2[2] = {x, zero};
    int rc = 0;
    switch (which) {
    case 0: *line = __LINE__; rc = jx_checkpoint(NULL, NULL, 1, &x, 1, outs); break;
    case 1: *line = __LINE__; rc = jx_checkpoint(layer, NULL, 0, &x, 1, outs); break;
    case 2: *line = __LINE__; rc = jx_checkpoint(layer, NULL, 1, &x, 65, outs); break;
    case 3: *line = __LINE__; rc = jx_checkpoint(layer, NULL, 1, NULL, 1, outs); break;
    case 4: *line = __LINE__; rc = jx_checkpoint(bad_body, NULL, 1, &x, 1, outs); break;
    case 5: *line = __LINE__; rc = jx_checkpoint(layer, NULL, 2, args2, 1, outs); break;
    default: *line = __LINE__; rc = jx_checkpoint(layer, NULL, 1, &x, 1, NULL); break;
    }
    CHECK(rc == -1);
    *poisoned = jx_val_bad(outs[0]);
    snprintf(err, len, "%s", jx_trace_error(t) ? jx_trace_error(t) : "(none)");
    jx_trace_abort(t);
    jx_clear_error();
}

TEST(errors_name_the_op_and_the_line) {
    static const char *want[] = {"NULL function", "0 inputs and 1 outputs",
                                 "1 inputs and 65 outputs", "NULL arguments",
                                 "tracing the function", "operand 1", "NULL outputs"};
    for (int c = 0; c < 7; c++) {
        int line = 0, poisoned = 0;
        char err[1024], where[64];
        err_case(c, &line, err, sizeof err, &poisoned);
        snprintf(where, sizeof where, "t_checkpoint.c:%d", line);
        CHECK_CONTAINS(err, "checkpoint");
        CHECK_CONTAINS(err, where);
        CHECK_CONTAINS(err, want[c]);
        if (c != 2 && c != 6) CHECK(poisoned); /* 65 outputs: none is written */
    }
}

TEST_MAIN()
