/* Traced hyperparameters (jx/optim.h, inject = 1) and schedules: an injected
 * hyperparameter set at run time gives exactly (bit for bit) the step compiled with that
 * constant, in the interpreter and the JIT, for every optimizer, with one compiled step
 * serving several learning rates; every schedule against its closed form over many
 * steps; the step count increments; bad names, values and schedules are clear errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jx/nn.h>
#include <jx/optim.h>

#include "check.h"
#include "transform/passes.h"

#define NB 8
#define M_PI_VAL 3.14159265358979323846
enum { NPAR = 2, NBATCH = 2, MAXS = 16 };

/* loss(W f32[4,3], b f32[3], x f32[8,4], y f32[8,3]) = mean((x W + b - y)^2): W's
 * gradient is a dot, so SGD's update of W is a GEMM fold candidate. */
static void f_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    jx_val r = jx_sub(jx_add(jx_matmul(in[2], in[0]), in[1]), in[3]);
    out[0] = jx_mean_all(jx_mul(r, r));
}

static jx_type loss_types[4];

/* Fills loss_types (JX_TYPE is not a constant expression). */
static void set_types(void) {
    loss_types[0] = JX_TYPE(JX_F32, 4, 3), loss_types[1] = JX_TYPE(JX_F32, 3);
    loss_types[2] = JX_TYPE(JX_F32, NB, 4), loss_types[3] = JX_TYPE(JX_F32, NB, 3);
}

/* An array of type t filled with sin(seed + 0.7 i). */
static jx_array *wave(jx_type t, double seed) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) jx_array_set(a, i, sin(seed + 0.7 * (double)i));
    return a;
}

/* A run of a training step: params and state (replaced by each step's outputs). */
typedef struct run {
    const jx_optim *o;
    jx_fn *step;
    jx_exe *exe; /* NULL: the interpreter */
    int ns;
    jx_array *ps[NPAR + MAXS];
} run;

/* Builds o's step (compiled when jit) with fresh params and state. 0 or -1. */
static int run_init(run *r, const jx_optim *o, int jit) {
    memset(r, 0, sizeof *r);
    set_types();
    r->o = o;
    jx_fn *loss = jx_trace(f_loss, 4, loss_types, 1, NULL);
    r->step = loss ? jx_optim_train_step(o, loss, NPAR) : NULL;
    jx_fn_free(loss);
    r->ns = jx_optim_n_state(o, NPAR);
    if (!r->step || r->ns < 0 || r->ns > MAXS) return -1;
    if (jit && !(r->exe = jx_jit(r->step, NULL))) return -1;
    r->ps[0] = wave(loss_types[0], 1), r->ps[1] = wave(loss_types[1], 2);
    return jx_optim_init(o, NPAR, r->ps, r->ps + NPAR) == r->ns ? 0 : -1;
}

/* k steps on the fixed batch. 0 or -1. */
static int run_steps(run *r, int k) {
    jx_array *x = wave(loss_types[2], 3), *y = wave(loss_types[3], 4);
    int rc = 0, n = NPAR + r->ns;
    for (int s = 0; s < k && rc == 0; s++) {
        jx_array *in[NPAR + MAXS + 2], *out[NPAR + MAXS + 1] = {0};
        for (int i = 0; i < n; i++) in[i] = r->ps[i];
        in[n] = x, in[n + 1] = y;
        rc = r->exe ? jx_exe_run(r->exe, in, out) : jx_interp(r->step, in, out);
        if (rc) break;
        for (int i = 0; i < n; i++) jx_array_free(r->ps[i]), r->ps[i] = out[i];
        jx_array_free(out[n]);
    }
    jx_array_free(x);
    jx_array_free(y);
    return rc;
}

static void run_free(run *r) {
    for (int i = 0; i < NPAR + r->ns && i < NPAR + MAXS; i++) jx_array_free(r->ps[i]);
    jx_exe_free(r->exe);
    jx_fn_free(r->step);
}

/* 1 if a and b hold the same bytes. */
static int same_bits(const jx_array *a, const jx_array *b) {
    return a && b && jx_array_nbytes(a) == jx_array_nbytes(b) &&
           !memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a));
}

/* The injected twin of c built with other starting values, then set to c's values. */
static jx_optim injected(const jx_optim *c) {
    jx_optim o = *c;
    o.inject = 1;
    o.lr = 0.3, o.mu = 0.5, o.b1 = 0.5, o.b2 = 0.5;
    if (o.weight_decay != 0) o.weight_decay = 0.7;
    if (o.decay != 0) o.decay = 0.5;
    if (o.l2 > 0) o.l2 = 0.9;
    return o;
}

/* Sets every injected hyperparameter of inj in r to c's value. 0 or -1. */
static int set_all(run *r, const jx_optim *inj, const jx_optim *c) {
    const double v[] = {c->lr, c->mu, c->b1, c->b2, c->weight_decay, c->decay, c->l2};
    static const char *const names[] = {"lr", "momentum", "b1", "b2", "weight_decay", "decay", "l2"};
    for (int i = 0; i < jx_optim_n_hparams(inj); i++) {
        const char *name = jx_optim_hparam_name(inj, i);
        for (int k = 0; k < 7; k++)
            if (!strcmp(name, names[k]) &&
                jx_optim_set_hparam(inj, r->ps + NPAR, name, v[k]) < 0)
                return -1;
    }
    return 0;
}

/* c's step against its injected twin (built with other values, then set to c's) over 3
 * steps, in the interpreter and the JIT: params and moments bit for bit. The JIT twin is
 * compiled once and serves lr and lr / 7 (and the constant step is recompiled). */
static void check_same_as_constant(jx_optim c, const char *what) {
    jx_optim inj = injected(&c);
    int nh = jx_optim_n_hparams(&inj);
    run ri;
    int ok = run_init(&ri, &inj, 1) == 0;
    for (int round = 0; round < 2 && ok; round++) {
        if (round == 1) { /* same compiled twin, fresh params and state, another lr */
            c.lr /= 7;
            for (int i = 0; i < NPAR + ri.ns; i++) jx_array_free(ri.ps[i]), ri.ps[i] = NULL;
            ri.ps[0] = wave(loss_types[0], 1), ri.ps[1] = wave(loss_types[1], 2);
            ok = jx_optim_init(&inj, NPAR, ri.ps, ri.ps + NPAR) == ri.ns;
        }
        for (int jit = 0; jit < 2 && ok; jit++) {
            run rc, rt;
            ok = run_init(&rc, &c, jit) == 0 && run_init(&rt, &inj, 0) == 0;
            run *twin = jit ? &ri : &rt;
            ok = ok && set_all(twin, &inj, &c) == 0 && run_steps(&rc, 3) == 0 &&
                 run_steps(twin, 3) == 0;
            for (int i = 0; ok && i < NPAR + rc.ns; i++)
                if (!same_bits(rc.ps[i], twin->ps[i < NPAR ? i : i + nh]))
                    CHECK_FAIL_("%s (%s, lr %g): array %d differs", what,
                                jit ? "jit" : "interp", c.lr, i);
            CHECK(ok);
            if (!ok) printf("  %s: %s\n", what, jx_error());
            run_free(&rc);
            run_free(&rt);
        }
    }
    CHECK(ok);
    run_free(&ri);
}

TEST(injected_equals_constant_every_optimizer) {
    jx_optim l2 = jx_sgd(0.05);
    l2.l2 = 0.01;
    l2.decay_all = 1;
    check_same_as_constant(jx_sgd(0.05), "sgd");
    check_same_as_constant(l2, "sgd+l2");
    check_same_as_constant(jx_momentum(0.05, 0.9, 0), "momentum");
    check_same_as_constant(jx_momentum(0.05, 0.8, 1), "nesterov");
    check_same_as_constant(jx_adam(0.01, 0.9, 0.999, 1e-8), "adam");
    check_same_as_constant(jx_adamw(0.01, 0.9, 0.99, 1e-8, 1e-3), "adamw");
    check_same_as_constant(jx_adagrad(0.1, 0.1, 1e-7), "adagrad");
    check_same_as_constant(jx_rmsprop(0.01, 0.9, 1e-8), "rmsprop");
}

/* sched(count i32[]) = jx_schedule_at(count). */
static void f_sched(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_schedule_at(JX_HERE, u, in[0]);
}

/* s traced, in the interpreter and the JIT, against jx_schedule_value and the closed form
 * ref over counts 0..n-1. */
static void check_schedule(jx_schedule s, double (*ref)(const jx_schedule *, int64_t), int n,
                           const char *what) {
    jx_type ct = JX_SCALAR(JX_I32);
    jx_fn *f = jx_trace(f_sched, 1, &ct, 1, &s);
    jx_exe *e = f ? jx_jit(f, NULL) : NULL;
    CHECK(e != NULL);
    if (!e) {
        printf("  %s: %s\n", what, jx_error());
        jx_fn_free(f);
        return;
    }
    jx_array *c = jx_array_new_type(&ct);
    int bad = 0;
    for (int k = 0; k < n && !bad; k++) {
        jx_array_set(c, 0, k);
        jx_array *oi = NULL, *oj = NULL;
        CHECK(jx_interp(f, &c, &oi) == 0 && jx_exe_run(e, &c, &oj) == 0);
        double want = ref(&s, k), host = jx_schedule_value(&s, k);
        double vi = oi ? jx_array_get(oi, 0) : NAN, vj = oj ? jx_array_get(oj, 0) : NAN;
        if (!check_near(host, want, 1e-13) || !check_near(vi, want, 1e-13) ||
            !check_near(vj, want, 1e-13)) {
            CHECK_FAIL_("%s at count %d: host %.17g interp %.17g jit %.17g, closed form %.17g",
                        what, k, host, vi, vj, want);
            bad = 1;
        }
        jx_array_free(oi);
        jx_array_free(oj);
    }
    jx_array_free(c);
    jx_exe_free(e);
    jx_fn_free(f);
}

/* The closed forms, written independently of optim_sched.c (optax's definitions). */
static double ref_exp(const jx_schedule *s, int64_t k) {
    double p = (double)k / (double)s->transition_steps;
    return s->init * pow(s->rate, s->staircase ? floor(p) : p);
}
static double ref_cos(const jx_schedule *s, int64_t k) {
    double t = (double)(k < s->decay_steps ? k : s->decay_steps) / (double)s->decay_steps;
    return s->init * (s->alpha + (1 - s->alpha) * (1 + cos(M_PI_VAL * t)) / 2);
}
static double ref_warm(const jx_schedule *s, int64_t k) {
    if (k < s->warmup_steps)
        return s->init + (s->peak - s->init) * (double)k / (double)s->warmup_steps;
    double d = (double)(s->decay_steps - s->warmup_steps), kk = (double)(k - s->warmup_steps);
    double t = (kk < d ? kk : d) / d;
    return s->end + (s->peak - s->end) * (1 + cos(M_PI_VAL * t)) / 2;
}
static double ref_piece(const jx_schedule *s, int64_t k) {
    double v = s->init;
    for (int i = 0; i < s->n_pieces; i++)
        if (k >= s->boundaries[i]) v *= s->scales[i];
    return v;
}
static double ref_const(const jx_schedule *s, int64_t k) { return s->init; }

TEST(schedules_match_closed_forms) {
    check_schedule(jx_sched_constant(0.125), ref_const, 5, "constant");
    check_schedule(jx_sched_exponential(0.1, 0.5, 10, 0), ref_exp, 200, "exponential");
    check_schedule(jx_sched_exponential(0.1, 0.9, 7, 1), ref_exp, 200, "exponential staircase");
    check_schedule(jx_sched_cosine(0.2, 150, 0.1), ref_cos, 200, "cosine");
    check_schedule(jx_sched_cosine(1.0, 1, 0.0), ref_cos, 5, "cosine 1 step");
    check_schedule(jx_sched_warmup_cosine(0.0, 0.5, 20, 120, 0.01), ref_warm, 200, "warmup cosine");
    check_schedule(jx_sched_warmup_cosine(0.3, 0.5, 0, 50, 0.0), ref_warm, 80, "no warmup");
    check_schedule(jx_sched_piecewise(0.5, 3, (int64_t[]){10, 10, 60}, (double[]){0.5, 0.1, 2.0}),
                   ref_piece, 100, "piecewise");
}

/* An f64 param p, loss 0.5 * |p|^2 (gradient p): SGD with a schedule over many steps is
 * p_k+1 = p_k (1 - lr(k)); the count increments and "lr" records the last rate used. */
static void f_quad(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    out[0] = jx_mul(jx_scalar(t, JX_F64, 0.5), jx_sum_all(jx_mul(in[0], in[0])));
}

TEST(scheduled_sgd_counts_and_decays) {
    jx_type pt = JX_TYPE(JX_F64, 2);
    jx_fn *loss = jx_trace(f_quad, 1, &pt, 1, NULL);
    jx_optim o = jx_sgd(0);
    o.inject = 1;
    o.schedule = jx_sched_warmup_cosine(0.0, 0.2, 5, 40, 0.02);
    jx_fn *step = loss ? jx_optim_train_step(&o, loss, 1) : NULL;
    jx_exe *e = step ? jx_jit(step, NULL) : NULL;
    CHECK(e != NULL && jx_optim_n_state(&o, 1) == 2); /* lr, count */
    jx_array *ps[3] = {jx_array_from(JX_F64, 1, (int64_t[]){2}, (double[]){1.0, -2.0})};
    CHECK(jx_optim_init(&o, 1, ps, ps + 1) == 2);
    double p0 = 1.0, lr = -1;
    CHECK(jx_optim_count(&o, 1, ps + 1) == 0);
    CHECK(jx_optim_get_hparam(&o, ps + 1, "lr", &lr) == 0 && lr == 0.0);
    for (int k = 0; e && k < 60; k++) {
        jx_array *out[4] = {0};
        CHECK(jx_exe_run(e, ps, out) == 0);
        for (int i = 0; i < 3; i++) jx_array_free(ps[i]), ps[i] = out[i];
        jx_array_free(out[3]);
        double want = jx_schedule_value(&o.schedule, k);
        p0 *= 1 - want;
        CHECK(jx_optim_count(&o, 1, ps + 1) == k + 1);
        CHECK(jx_optim_get_hparam(&o, ps + 1, "lr", &lr) == 0);
        CHECK_NEAR(lr, ref_warm(&o.schedule, k), 1e-13);
        CHECK_NEAR(jx_array_get(ps[0], 0), p0, 1e-12);
    }
    for (int i = 0; i < 3; i++) jx_array_free(ps[i]);
    jx_exe_free(e);
    jx_fn_free(step);
    jx_fn_free(loss);
}

TEST(count_increments_without_schedule) {
    /* SGD keeps no count unless injected or scheduled; with inject it counts */
    jx_optim plain = jx_sgd(0.1), o = jx_sgd(0.1);
    o.inject = 1;
    CHECK(jx_optim_n_state(&plain, 2) == 0 && jx_optim_n_state(&o, 2) == 2);
    CHECK(jx_optim_count(&plain, 2, NULL) == -1);
    CHECK_CONTAINS(jx_error(), "optim sgd: no step count");
    run r;
    CHECK(run_init(&r, &o, 0) == 0 && run_steps(&r, 4) == 0);
    CHECK(jx_optim_count(&o, NPAR, r.ps + NPAR) == 4);
    double lr = 0;
    CHECK(jx_optim_get_hparam(&o, r.ps + NPAR, "lr", &lr) == 0 && lr == 0.1);
    run_free(&r);
}

TEST(hparam_errors) {
    jx_optim o = jx_adamw(0.01, 0.9, 0.999, 1e-8, 1e-4);
    o.inject = 1;
    jx_array *p[1] = {jx_array_new_type(&(jx_type){JX_F32, 1, {3}})}, *st[8] = {0};
    int ns = jx_optim_init(&o, 1, p, st);
    CHECK(ns == 4 + 2 + 1 && jx_optim_n_hparams(&o) == 4);
    CHECK(jx_optim_set_hparam(&o, st, "bogus", 0.1) == -1);
    CHECK_CONTAINS(jx_error(), "optim adamw: no hyperparameter 'bogus' (known: lr, b1, b2, weight_decay)");
    CHECK(jx_optim_set_hparam(&o, st, "momentum", 0.1) == -1);
    CHECK_CONTAINS(jx_error(), "'momentum'");
    CHECK(jx_optim_set_hparam(&o, st, "lr", NAN) == -1);
    CHECK_CONTAINS(jx_error(), "optim adamw: bad value nan for 'lr'");
    CHECK(jx_optim_set_hparam(&o, st, "lr", -0.1) == -1);
    CHECK(jx_optim_set_hparam(&o, st, "b1", 1.0) == -1);
    CHECK_CONTAINS(jx_error(), "in [0, 1)");
    CHECK(jx_optim_set_hparam(&o, st, "b2", 0.95) == 0);
    double v = 0;
    CHECK(jx_optim_get_hparam(&o, st, "b2", &v) == 0 && v == 0.95);
    CHECK(jx_optim_get_hparam(&o, st + 4, "b2", &v) == -1); /* a moment is not an f64[] */
    CHECK_CONTAINS(jx_error(), "expected an f64 scalar");
    jx_optim plain = jx_sgd(0.1);
    CHECK(jx_optim_set_hparam(&plain, st, "lr", 0.1) == -1);
    CHECK_CONTAINS(jx_error(), "optim sgd: no hyperparameter 'lr': the optimizer was built without inject");
    jx_optim bad = o;
    bad.b1 = 1.5;
    CHECK(jx_optim_n_state(&bad, 1) == -1);
    CHECK_CONTAINS(jx_error(), "bad value 1.5 for 'b1'");
    jx_optim sch = jx_sgd(0);
    sch.inject = 1;
    sch.schedule = jx_sched_cosine(0.1, 100, 0);
    jx_array *s2[2] = {0};
    CHECK(jx_optim_init(&sch, 1, p, s2) == 2);
    CHECK(jx_optim_set_hparam(&sch, s2, "lr", 0.1) == -1);
    CHECK_CONTAINS(jx_error(), "'lr' comes from the schedule");
    sch.schedule.decay_steps = 0;
    CHECK(jx_optim_n_state(&sch, 1) == -1);
    CHECK_CONTAINS(jx_error(), "cosine schedule: need decay_steps > 0");
    CHECK(isnan(jx_schedule_value(&(jx_schedule){.kind = JX_SCHED_PIECEWISE, .n_pieces = 99}, 0)));
    CHECK_CONTAINS(jx_error(), "piecewise schedule: 99 pieces");
    CHECK(isnan(jx_schedule_value(&(jx_schedule){.kind = JX_SCHED_EXPONENTIAL, .init = 1}, 0)));
    CHECK_CONTAINS(jx_error(), "transition_steps > 0");
    for (int k = 0; k < ns; k++) jx_array_free(st[k]);
    for (int k = 0; k < 2; k++) jx_array_free(s2[k]);
    jx_array_free(p[0]);
}

TEST(schedule_count_must_be_an_integer_scalar) {
    jx_type ct = JX_SCALAR(JX_F32);
    jx_schedule s = jx_sched_constant(1);
    jx_fn *f = jx_trace(f_sched, 1, &ct, 1, &s);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "schedule");
    CHECK_CONTAINS(jx_error(), "integer scalar, got f32[]");
    jx_fn_free(f);
}

/* Dropout with a traced f64 rate (in[2]) or the constant rate *user (when >= 0). */
static void f_drop(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    double r = *(const double *)user;
    out[0] = r >= 0 ? jx_dropout(in[0], in[1], r, 1) : jx_dropout_rate(in[0], in[1], in[2], 1);
}

/* sum(dropout(x, rate)) for the gradient. */
static void f_drop_sum(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_sum_all(jx_dropout_rate(in[0], in[1], in[2], 1));
}

TEST(dropout_traced_rate_equals_constant) {
    jx_type ts[3] = {JX_TYPE(JX_U32, 2), JX_TYPE(JX_F32, 6, 50), JX_SCALAR(JX_F64)};
    double traced = -1;
    jx_fn *f = jx_trace(f_drop, 3, ts, 1, &traced);
    jx_exe *e = f ? jx_jit(f, NULL) : NULL; /* one compile for every rate */
    CHECK(e != NULL);
    jx_array *in[3] = {jx_array_new_type(&ts[0]), wave(ts[1], 5), jx_array_new_type(&ts[2])};
    jx_array_set(in[0], 0, 7), jx_array_set(in[0], 1, 11);
    const double rates[5] = {0.0, 0.1, 0.5, 0.9, 1.0};
    for (int k = 0; e && k < 5; k++) {
        double r = rates[k];
        jx_fn *fc = jx_trace(f_drop, 2, ts, 1, &r);
        jx_array_set(in[2], 0, r);
        jx_array *want = NULL, *oi = NULL, *oj = NULL;
        CHECK(fc && jx_interp(fc, in, &want) == 0);
        CHECK(jx_interp(f, in, &oi) == 0 && jx_exe_run(e, in, &oj) == 0);
        if (!same_bits(want, oi) || !same_bits(want, oj))
            CHECK_FAIL_("rate %g: traced dropout differs from the constant's", r);
        int64_t zeros = 0;
        for (int64_t i = 0; want && i < 300; i++) zeros += jx_array_get(want, i) == 0;
        CHECK(r == 0 ? zeros == 0 : r == 1 ? zeros == 300 : zeros > 0 && zeros < 300);
        jx_array_free(want), jx_array_free(oi), jx_array_free(oj);
        jx_fn_free(fc);
    }
    /* gradient wrt x at rate 1: zero, not NaN */
    jx_fn *fs = jx_trace(f_drop_sum, 3, ts, 1, NULL);
    jx_fn *gs = fs ? jx_grad(fs, 1, (int[]){1}) : NULL;
    jx_array *gx = NULL;
    jx_array_set(in[2], 0, 1.0);
    CHECK(gs && jx_interp(gs, in, &gx) == 0);
    for (int64_t i = 0; gx && i < 300; i++) CHECK(jx_array_get(gx, i) == 0);
    /* the rate must be a float scalar */
    jx_type bad[3] = {ts[0], ts[1], JX_TYPE(JX_F64, 2)};
    jx_fn *fb = jx_trace(f_drop, 3, bad, 1, &traced);
    CHECK(fb == NULL);
    CHECK_CONTAINS(jx_error(), "dropout");
    CHECK_CONTAINS(jx_error(), "rate f64[2]");
    jx_array_free(gx);
    for (int i = 0; i < 3; i++) jx_array_free(in[i]);
    jx_fn_free(gs), jx_fn_free(fs), jx_fn_free(fb);
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST(injected_sgd_step_keeps_the_gemm_fold) {
    /* W's update W - lr * dot(x^T, r) is one gemm after the JIT's passes, with the lr
     * constant and with it injected (alpha read from the state at run time) */
    for (int inject = 0; inject < 2; inject++) {
        jx_optim o = jx_sgd(0.05);
        o.inject = inject;
        run r;
        CHECK(run_init(&r, &o, 0) == 0);
        jx_fn *g = r.step ? pass_run_list(r.step, PASS_JIT_PIPELINE) : NULL;
        char *text = g ? jx_fn_to_string(g) : NULL;
        CHECK(text && strstr(text, "gemm["));
        if (text && !strstr(text, "gemm[")) printf("  inject %d: not folded:\n%s\n", inject, text);
        free(text);
        jx_fn_free(g);
        run_free(&r);
    }
}

TEST_MAIN()
