/* Tests of jx/optim.h: every optimizer's traced update against a hand-written reference
 * over several steps (with L2 skipping biases, global-norm clipping, AdamW's decoupled
 * decay, Nesterov), state layout and init, error messages, and the training-step builder
 * on a tiny linear regression (the exact gradient-descent trajectory for SGD). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jx/nn.h>
#include <jx/optim.h>

#include "check.h"

/* ---- reference ---------------------------------------------------------------------- */

/* Two params: W [2,3] (rank 2, decayed by default) and b [3] (rank 1, skipped). */
#define NP 2
#define MAXE 6
static const int64_t ref_size[NP] = {6, 3};
static const int ref_rank[NP] = {2, 1};

typedef struct {
    double p[NP][MAXE], m[NP][MAXE], v[NP][MAXE];
    int count;
} ref_state;

/* The gradient the tests feed at step s: 2 (p - 0.5) + 0.3 sin(7k + 3i + s), a quadratic's
 * gradient plus a step-dependent wiggle, times scale. */
static double ref_grad(double p, int i, int k, int s, double scale) {
    return scale * (2 * (p - 0.5) + 0.3 * sin(7.0 * k + 3.0 * i + s));
}

/* 1 if param i is regularised under o. */
static int ref_decayed(const jx_optim *o, int i) {
    if (o->mask) return o->mask[i] != 0;
    return o->decay_all || ref_rank[i] >= 2;
}

/* One step of o on st with gradients g (modified: clipping and L2 are applied in place). */
static void ref_step(const jx_optim *o, ref_state *st, double g[NP][MAXE]) {
    if (o->clip_norm > 0) {
        double sq = 0;
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < ref_size[i]; k++) sq += g[i][k] * g[i][k];
        double norm = sqrt(sq), f = norm < o->clip_norm ? 1.0 : o->clip_norm / norm;
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < ref_size[i]; k++) g[i][k] *= f;
    }
    st->count++;
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < ref_size[i]; k++) {
            double p = st->p[i][k], gi = g[i][k], u = 0;
            if (o->l2 > 0 && ref_decayed(o, i)) gi += o->l2 * p;
            double *m = &st->m[i][k], *v = &st->v[i][k];
            switch (o->kind) {
            case JX_OPTIM_SGD: u = gi; break;
            case JX_OPTIM_MOMENTUM:
                *m = gi + o->mu * *m;
                u = o->nesterov ? gi + o->mu * *m : *m;
                break;
            case JX_OPTIM_ADAM:
            case JX_OPTIM_ADAMW: {
                *m = (1 - o->b1) * gi + o->b1 * *m;
                *v = (1 - o->b2) * gi * gi + o->b2 * *v;
                double mh = *m / (1 - pow(o->b1, st->count)), vh = *v / (1 - pow(o->b2, st->count));
                u = mh / (sqrt(vh) + o->eps);
                if (o->kind == JX_OPTIM_ADAMW && ref_decayed(o, i)) u += o->weight_decay * p;
                break;
            }
            case JX_OPTIM_ADAGRAD:
                *m = gi * gi + *m;
                u = *m > 0 ? gi / sqrt(*m + o->eps) : 0;
                break;
            case JX_OPTIM_RMSPROP:
                *v = (1 - o->decay) * gi * gi + o->decay * *v;
                u = gi / sqrt(*v + o->eps);
                break;
            }
            st->p[i][k] = p - o->lr * u;
        }
}

/* ---- traced update ------------------------------------------------------------------ */

/* The update as a function (params..., grads..., state...) -> (params..., state...). */
static jx_fn *update_fn(const jx_optim *o, jx_dtype dt) {
    int ns = jx_optim_n_state(o, NP);
    jx_type pt[NP] = {{dt, 2, {2, 3}}, {dt, 1, {3}}}, ty[2 * NP + 8];
    for (int i = 0; i < NP; i++) ty[i] = ty[NP + i] = pt[i];
    CHECK(jx_optim_state_types(o, NP, pt, ty + 2 * NP) == ns);
    jx_trace *t = jx_trace_begin(2 * NP + ns, ty);
    jx_val in[2 * NP + 8], out[NP + 8];
    for (int i = 0; i < 2 * NP + ns; i++) in[i] = jx_trace_input(t, i);
    int rc = jx_optim_update(o, NP, in, in + NP, in + 2 * NP, out, out + NP);
    CHECK(rc == 0);
    jx_fn *f = jx_trace_end(t, NP + ns, out);
    if (!f) printf("  trace: %s\n", jx_error());
    return f;
}

/* Runs `steps` steps of o both ways from the same start (params of dtype dt) and compares
 * params and moments after every step with relative tolerance tol. */
static void compare(const jx_optim *o, jx_dtype dt, int steps, double gscale, double tol) {
    jx_fn *f = update_fn(o, dt);
    CHECK(f != NULL);
    if (!f) return;
    int ns = jx_optim_n_state(o, NP);
    jx_array *p[NP], *st[8] = {0};
    ref_state r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < NP; i++) {
        jx_type ty = {dt, ref_rank[i], {ref_rank[i] == 2 ? 2 : 3, 3}};
        p[i] = jx_array_new_type(&ty);
        for (int k = 0; k < ref_size[i]; k++) {
            double v = 0.1 * (k + 1) * (i ? -1 : 1);
            jx_array_set(p[i], k, v);
            r.p[i][k] = jx_array_get(p[i], k);
        }
    }
    CHECK(jx_optim_init(o, NP, p, st) == ns);
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < ref_size[i]; k++)
            r.m[i][k] = o->kind == JX_OPTIM_ADAGRAD ? o->initial_accumulator : 0,
            r.v[i][k] = o->kind == JX_OPTIM_RMSPROP ? o->initial_accumulator : 0;
    for (int s = 0; s < steps; s++) {
        double g[NP][MAXE];
        jx_array *in[2 * NP + 8], *out[NP + 8] = {0};
        for (int i = 0; i < NP; i++) {
            in[i] = p[i];
            in[NP + i] = jx_array_copy(p[i]);
            for (int k = 0; k < ref_size[i]; k++) {
                g[i][k] = ref_grad(r.p[i][k], i, k, s, gscale);
                jx_array_set(in[NP + i], k, g[i][k]);
                g[i][k] = jx_array_get(in[NP + i], k); /* as the dtype holds it */
            }
        }
        for (int k = 0; k < ns; k++) in[2 * NP + k] = st[k];
        int rc = jx_interp(f, in, out);
        CHECK(rc == 0);
        ref_step(o, &r, g);
        for (int i = 0; i < NP; i++) jx_array_free(in[NP + i]);
        if (rc != 0) break;
        for (int i = 0; i < NP; i++) {
            jx_array_free(p[i]);
            p[i] = out[i];
            for (int k = 0; k < ref_size[i]; k++) CHECK_NEAR(jx_array_get(p[i], k), r.p[i][k], tol);
        }
        for (int k = 0; k < ns; k++) {
            jx_array_free(st[k]);
            st[k] = out[NP + k];
        }
        int slots = (ns - (o->kind == JX_OPTIM_ADAM || o->kind == JX_OPTIM_ADAMW)) / NP;
        for (int i = 0; i < NP && slots >= 1; i++)
            for (int k = 0; k < ref_size[i]; k++)
                CHECK_NEAR(jx_array_get(st[i], k),
                           o->kind == JX_OPTIM_RMSPROP ? r.v[i][k] : r.m[i][k], tol);
        if (o->kind == JX_OPTIM_ADAM || o->kind == JX_OPTIM_ADAMW) {
            CHECK(jx_array_get(st[ns - 1], 0) == s + 1);
            for (int i = 0; i < NP; i++)
                for (int k = 0; k < ref_size[i]; k++)
                    CHECK_NEAR(jx_array_get(st[NP + i], k), r.v[i][k], tol);
        }
    }
    for (int i = 0; i < NP; i++) jx_array_free(p[i]);
    for (int k = 0; k < ns; k++) jx_array_free(st[k]);
    jx_fn_free(f);
}

/* ---- per-optimizer cases ------------------------------------------------------------ */

TEST(sgd_steps) {
    jx_optim o = jx_sgd(0.1);
    compare(&o, JX_F64, 5, 1.0, 1e-13);
    compare(&o, JX_F32, 5, 1.0, 1e-6);
}

TEST(momentum_and_nesterov_steps) {
    jx_optim o = jx_momentum(0.05, 0.9, 0);
    compare(&o, JX_F64, 5, 1.0, 1e-13);
    o.nesterov = 1;
    compare(&o, JX_F64, 5, 1.0, 1e-13);
    o = jx_momentum(1e-2, 0.6, 0); /* the mlax notebook's setting */
    compare(&o, JX_F32, 4, 1.0, 1e-6);
}

TEST(adam_steps) {
    jx_optim o = jx_adam(1e-2, 0.9, 0.999, 1e-8);
    compare(&o, JX_F64, 5, 1.0, 1e-12);
    compare(&o, JX_F32, 5, 1.0, 1e-5);
}

TEST(adamw_decoupled_decay) {
    jx_optim o = jx_adamw(1e-2, 0.9, 0.999, 1e-8, 0.1);
    compare(&o, JX_F64, 5, 1.0, 1e-12);
    o.decay_all = 1;
    compare(&o, JX_F64, 3, 1.0, 1e-12);
    /* decoupled: with zero gradients Adam's step is 0 and only the decay acts,
     * p <- p - lr wd p on W, b untouched */
    jx_fn *f = update_fn(&(jx_optim){.kind = JX_OPTIM_ADAMW, .lr = 0.5, .b1 = 0.9, .b2 = 0.999,
                                     .eps = 1e-8, .weight_decay = 0.2},
                         JX_F64);
    jx_array *in[2 * NP + 5] = {0}, *out[NP + 5] = {0};
    in[0] = jx_init_constant(JX_TYPE(JX_F64, 2, 3), 2.0);
    in[1] = jx_init_constant(JX_TYPE(JX_F64, 3), 2.0);
    in[2] = jx_init_zeros(JX_TYPE(JX_F64, 2, 3));
    in[3] = jx_init_zeros(JX_TYPE(JX_F64, 3));
    in[4] = jx_init_zeros(JX_TYPE(JX_F64, 2, 3));
    in[5] = jx_init_zeros(JX_TYPE(JX_F64, 3));
    in[6] = jx_init_zeros(JX_TYPE(JX_F64, 2, 3));
    in[7] = jx_init_zeros(JX_TYPE(JX_F64, 3));
    in[8] = jx_array_scalar(JX_I32, 0);
    CHECK(f && jx_interp(f, in, out) == 0);
    if (out[0]) CHECK_NEAR(jx_array_get(out[0], 4), 2.0 - 0.5 * 0.2 * 2.0, 1e-15);
    if (out[1]) CHECK(jx_array_get(out[1], 1) == 2.0);
    for (int i = 0; i < 2 * NP + 5; i++) jx_array_free(in[i]);
    for (int i = 0; i < NP + 5; i++) jx_array_free(out[i]);
    jx_fn_free(f);
}

TEST(adagrad_rmsprop_steps) {
    jx_optim o = jx_adagrad(0.1, 0.1, 1e-7);
    compare(&o, JX_F64, 5, 1.0, 1e-12);
    o = jx_adagrad(0.1, 0.0, 1e-8); /* the numpy lab's simplified Adagrad (G starts at 0) */
    compare(&o, JX_F64, 4, 1.0, 1e-12);
    o = jx_rmsprop(1e-2, 0.9, 1e-8);
    compare(&o, JX_F64, 5, 1.0, 1e-12);
    compare(&o, JX_F32, 5, 1.0, 1e-5);
}

TEST(l2_skips_biases) {
    jx_optim o = jx_sgd(0.1);
    o.l2 = 0.05;
    compare(&o, JX_F64, 4, 1.0, 1e-13);
    o = jx_momentum(0.1, 0.2, 0); /* the numpy lab's L2 & momentum */
    o.l2 = 1e-3;
    compare(&o, JX_F64, 4, 1.0, 1e-13);
    o.decay_all = 1;
    compare(&o, JX_F64, 2, 1.0, 1e-13);
    unsigned char mask[NP] = {0, 1}; /* explicit: decay only the bias */
    o.mask = mask;
    compare(&o, JX_F64, 2, 1.0, 1e-13);
}

TEST(global_norm_clipping) {
    jx_optim o = jx_sgd(0.1);
    o.clip_norm = 0.5;
    compare(&o, JX_F64, 4, 10.0, 1e-13); /* large gradients: clipped every step */
    compare(&o, JX_F64, 2, 1e-3, 1e-13); /* small: untouched */
    o = jx_adam(1e-2, 0.9, 0.999, 1e-8);
    o.clip_norm = 1.0;
    o.l2 = 0.01;
    compare(&o, JX_F64, 3, 5.0, 1e-12);
}

TEST(state_layout_and_init) {
    jx_optim os[6] = {jx_sgd(1), jx_momentum(1, 0.9, 0), jx_adam(1, 0.9, 0.999, 1e-8),
                      jx_adamw(1, 0.9, 0.999, 1e-8, 1e-4), jx_adagrad(1, 0.1, 1e-7),
                      jx_rmsprop(1, 0.9, 1e-8)};
    int want[6] = {0, 3, 7, 7, 3, 3};
    for (int i = 0; i < 6; i++) CHECK(jx_optim_n_state(&os[i], 3) == want[i]);
    jx_array *p[2] = {jx_init_zeros(JX_TYPE(JX_F32, 4, 2)), jx_init_zeros(JX_TYPE(JX_F64, 2))};
    jx_array *st[5] = {0};
    CHECK(jx_optim_init(&os[2], 2, p, st) == 5);
    CHECK(st[4] && jx_array_dtype(st[4]) == JX_I32 && jx_array_rank(st[4]) == 0);
    CHECK(st[1] && jx_array_dtype(st[1]) == JX_F64 && jx_array_dim(st[1], 0) == 2);
    CHECK(st[2] && jx_array_dim(st[2], 0) == 4 && jx_array_dim(st[2], 1) == 2);
    for (int k = 0; k < 5; k++) jx_array_free(st[k]);
    CHECK(jx_optim_init(&os[4], 2, p, st) == 2);
    if (st[0]) CHECK_NEAR(jx_array_get(st[0], 7), 0.1, 1e-7);
    for (int k = 0; k < 2; k++) jx_array_free(st[k]);
    /* traced init gives the same values */
    jx_type pt[2] = {JX_TYPE(JX_F32, 4, 2), JX_TYPE(JX_F64, 2)};
    jx_trace *t = jx_trace_begin(2, pt);
    jx_val pv[2] = {jx_trace_input(t, 0), jx_trace_input(t, 1)}, sv[2];
    CHECK(jx_optim_init_traced(&os[5], 2, pv, sv) == 2);
    jx_fn *f = jx_trace_end(t, 2, sv);
    CHECK(f && jx_interp(f, p, st) == 0);
    if (st[1]) CHECK(jx_array_dtype(st[1]) == JX_F64 && jx_array_get(st[1], 1) == 0);
    for (int k = 0; k < 2; k++) jx_array_free(st[k]);
    jx_fn_free(f);
    /* integer params are refused */
    jx_array *ip = jx_array_new(JX_I32, 1, (int64_t[]){3});
    CHECK(jx_optim_init(&os[1], 1, &ip, st) < 0);
    CHECK_CONTAINS(jx_error(), "param 0 has type i32[3]");
    jx_array_free(ip);
    jx_array_free(p[0]);
    jx_array_free(p[1]);
}

TEST(update_errors) {
    jx_optim o = jx_adam(1e-3, 0.9, 0.999, 1e-8);
    jx_type ty[5] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 4), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3),
                     JX_SCALAR(JX_I32)};
    jx_trace *t = jx_trace_begin(5, ty);
    jx_val in[5], np_[1], ns_[3];
    for (int i = 0; i < 5; i++) in[i] = jx_trace_input(t, i);
    CHECK(jx_optim_update(&o, 1, in, in + 1, in + 2, np_, ns_) < 0);
    CHECK_CONTAINS(jx_trace_error(t), "optim_update");
    CHECK_CONTAINS(jx_trace_error(t), "grad 0 has type f32[4], its param f32[3]");
    CHECK_CONTAINS(jx_trace_error(t), "t_optim.c");
    jx_trace_abort(t);
    t = jx_trace_begin(5, ty);
    for (int i = 0; i < 5; i++) in[i] = jx_trace_input(t, i);
    CHECK(jx_optim_update(&o, 1, in, in + 2, in + 1, np_, ns_) < 0); /* state 0 is f32[4] */
    CHECK_CONTAINS(jx_trace_error(t), "state 0 has type f32[4], expected f32[3]");
    jx_trace_abort(t);
}

/* ---- training step ------------------------------------------------------------------ */

#define NX 8
static double lr_x[NX][3], lr_y[NX];

/* loss(w f64[3], b f64[], x f64[8,3], y f64[8]) = (mean((x w + b - y)^2), mean|r|). */
static void f_linreg(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val r = jx_sub(jx_add(jx_matvec(in[2], in[0]), in[1]), in[3]);
    out[0] = jx_mean_all(jx_mul(r, r));
    out[1] = jx_mean_all(jx_abs(r));
}

/* The data: y = 1.5 x0 - 2 x1 + 0.5 x2 + 0.3 plus a small deterministic wiggle. */
static void linreg_data(void) {
    for (int i = 0; i < NX; i++) {
        for (int j = 0; j < 3; j++) lr_x[i][j] = sin(1.3 * i + 2.1 * j + 0.4);
        lr_y[i] = 1.5 * lr_x[i][0] - 2 * lr_x[i][1] + 0.5 * lr_x[i][2] + 0.3 + 0.01 * cos(i);
    }
}

/* Runs 50 steps of the train step of o; stores the losses; compares with plain gradient
 * descent (lr) when ref != 0. */
static void train(const jx_optim *o, int ref, double *losses) {
    linreg_data();
    jx_type lt[4] = {JX_TYPE(JX_F64, 3), JX_SCALAR(JX_F64), JX_TYPE(JX_F64, NX, 3), JX_TYPE(JX_F64, NX)};
    jx_fn *loss = jx_trace(f_linreg, 4, lt, 2, NULL);
    jx_fn *step = loss ? jx_optim_train_step(o, loss, 2) : NULL;
    CHECK(step != NULL);
    if (!step) {
        printf("  %s\n", jx_error());
        jx_fn_free(loss);
        return;
    }
    int ns = jx_optim_n_state(o, 2);
    CHECK(jx_fn_n_in(step) == 2 + ns + 2 && jx_fn_n_out(step) == 2 + ns + 2);
    jx_array *p[2] = {jx_init_zeros(lt[0]), jx_init_zeros(lt[1])}, *st[8] = {0};
    jx_array *x = jx_array_from(JX_F64, 2, (int64_t[]){NX, 3}, lr_x);
    jx_array *y = jx_array_from(JX_F64, 1, (int64_t[]){NX}, lr_y);
    CHECK(jx_optim_init(o, 2, p, st) == ns);
    double w[3] = {0, 0, 0}, b = 0;
    for (int s = 0; s < 50; s++) {
        jx_array *in[12], *out[12] = {0};
        in[0] = p[0], in[1] = p[1];
        for (int k = 0; k < ns; k++) in[2 + k] = st[k];
        in[2 + ns] = x, in[3 + ns] = y;
        int rc = jx_interp(step, in, out);
        CHECK(rc == 0);
        if (rc) break;
        losses[s] = jx_array_get(out[2 + ns], 0);
        double mae = jx_array_get(out[3 + ns], 0);
        if (ref) { /* hand-computed loss and gradient at (w, b), then a GD step */
            double l = 0, gw[3] = {0, 0, 0}, gb = 0, a = 0;
            for (int i = 0; i < NX; i++) {
                double r = w[0] * lr_x[i][0] + w[1] * lr_x[i][1] + w[2] * lr_x[i][2] + b - lr_y[i];
                l += r * r / NX;
                a += fabs(r) / NX;
                for (int j = 0; j < 3; j++) gw[j] += 2 * r * lr_x[i][j] / NX;
                gb += 2 * r / NX;
            }
            CHECK_NEAR(losses[s], l, 1e-12);
            CHECK_NEAR(mae, a, 1e-12);
            for (int j = 0; j < 3; j++) w[j] -= o->lr * gw[j];
            b -= o->lr * gb;
        }
        for (int i = 0; i < 2; i++) jx_array_free(p[i]), p[i] = out[i];
        for (int k = 0; k < ns; k++) jx_array_free(st[k]), st[k] = out[2 + k];
        jx_array_free(out[2 + ns]);
        jx_array_free(out[3 + ns]);
        if (ref) {
            for (int j = 0; j < 3; j++) CHECK_NEAR(jx_array_get(p[0], j), w[j], 1e-12);
            CHECK_NEAR(jx_array_get(p[1], 0), b, 1e-12);
        }
    }
    for (int i = 0; i < 2; i++) jx_array_free(p[i]);
    for (int k = 0; k < ns; k++) jx_array_free(st[k]);
    jx_array_free(x);
    jx_array_free(y);
    jx_fn_free(step);
    jx_fn_free(loss);
}

TEST(train_step_sgd_matches_gradient_descent) {
    double losses[50] = {0};
    jx_optim o = jx_sgd(0.1);
    train(&o, 1, losses);
    int dec = 1;
    for (int s = 1; s < 50; s++) dec &= losses[s] < losses[s - 1];
    CHECK(dec);
    CHECK(losses[49] < 0.05 * losses[0]);
}

TEST(train_step_other_optimizers_decrease) {
    jx_optim os[5] = {jx_momentum(0.05, 0.9, 1), jx_adam(0.05, 0.9, 0.999, 1e-8),
                      jx_adamw(0.05, 0.9, 0.999, 1e-8, 1e-4), jx_adagrad(0.5, 0.1, 1e-7),
                      jx_rmsprop(0.02, 0.9, 1e-8)};
    for (int i = 0; i < 5; i++) {
        double losses[50] = {0};
        train(&os[i], 0, losses);
        CHECK(losses[49] < 0.2 * losses[0]);
        if (!(losses[49] < 0.2 * losses[0])) printf("  optimizer %d: %g -> %g\n", i, losses[0], losses[49]);
    }
}

TEST(train_step_jit_matches_interp) {
    /* the whole step (forward, backward, Adam) as one compiled function, params and state
     * donated and updated in place, against the interpreter */
    linreg_data();
    jx_type lt[4] = {JX_TYPE(JX_F64, 3), JX_SCALAR(JX_F64), JX_TYPE(JX_F64, NX, 3), JX_TYPE(JX_F64, NX)};
    jx_fn *loss = jx_trace(f_linreg, 4, lt, 2, NULL);
    jx_optim o = jx_adam(0.05, 0.9, 0.999, 1e-8);
    jx_fn *step = loss ? jx_optim_train_step(&o, loss, 2) : NULL;
    int ns = jx_optim_n_state(&o, 2); /* 5 */
    unsigned char donate[2 + 5 + 2] = {1, 1, 1, 1, 1, 1, 1, 0, 0};
    jx_exe *e = step ? jx_jit(step, &(jx_jit_opts){.donate = donate}) : NULL;
    CHECK(e != NULL);
    if (!e) printf("  %s\n", jx_error());
    jx_array *pj[7] = {jx_init_zeros(lt[0]), jx_init_zeros(lt[1])}, *pi[7] = {0};
    CHECK(jx_optim_init(&o, 2, pj, pj + 2) == ns);
    for (int k = 0; k < 2 + ns; k++) pi[k] = jx_array_copy(pj[k]);
    jx_array *x = jx_array_from(JX_F64, 2, (int64_t[]){NX, 3}, lr_x);
    jx_array *y = jx_array_from(JX_F64, 1, (int64_t[]){NX}, lr_y);
    for (int s = 0; e && s < 5; s++) {
        jx_array *in[9], *oj[9] = {0}, *oi[9] = {0};
        for (int k = 0; k < 7; k++) in[k] = pj[k], oj[k] = pj[k]; /* written in place */
        in[7] = x, in[8] = y;
        CHECK(jx_exe_run(e, in, oj) == 0);
        for (int k = 0; k < 7; k++) in[k] = pi[k];
        CHECK(jx_interp(step, in, oi) == 0);
        for (int k = 0; k < 9; k++)
            for (int64_t i = 0; oi[k] && oj[k] && i < jx_array_size(oi[k]); i++)
                CHECK_NEAR(jx_array_get(oj[k], i), jx_array_get(oi[k], i), 1e-12);
        for (int k = 0; k < 7; k++) {
            CHECK(oj[k] == pj[k]);
            jx_array_free(pi[k]);
            pi[k] = oi[k];
        }
        jx_array_free(oj[7]), jx_array_free(oj[8]), jx_array_free(oi[7]), jx_array_free(oi[8]);
    }
    for (int k = 0; k < 7; k++) jx_array_free(pj[k]), jx_array_free(pi[k]);
    jx_array_free(x);
    jx_array_free(y);
    jx_exe_free(e);
    jx_fn_free(step);
    jx_fn_free(loss);
}

static void f_bad_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_mul(in[0], in[0]);
}

TEST(train_step_errors) {
    jx_optim o = jx_sgd(0.1);
    jx_fn *l = jx_trace(f_bad_loss, 1, (jx_type[]){JX_TYPE(JX_F32, 3)}, 1, NULL);
    CHECK(jx_optim_train_step(&o, l, 1) == NULL);
    CHECK_CONTAINS(jx_error(), "train_step");
    CHECK_CONTAINS(jx_error(), "f32[3]");
    CHECK(jx_optim_train_step(&o, l, 2) == NULL);
    CHECK_CONTAINS(jx_error(), "n_params");
    jx_fn_free(l);
}

TEST_MAIN()
