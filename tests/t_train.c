/* The training state (jx/optim.h, jx_train): a step equals jx_optim_train_step + jx_jit
 * run by hand bit for bit (SGD, Adam, a smaller last batch); params and state update in
 * place; a run of N steps equals K steps, save, free, a new trainer, load, N - K steps,
 * bit for bit; load errors name the member; an injected lr written into the state tree
 * changes the next step without a recompile; the state's paths; bad arguments. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jx/optim.h>

#include "check.h"

enum { NP = 2, NB = 2, MAXS = 16 };

/* loss(W f32[4,3], b f32[3], x f32[B,4], y f32[B,3]) = mean((x W + b - y)^2); aux (when
 * asked for by user != NULL): sum(x W + b). */
static void f_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    jx_val z = jx_add(jx_matmul(in[2], in[0]), in[1]), r = jx_sub(z, in[3]);
    out[0] = jx_mean_all(jx_mul(r, r));
    if (u) out[1] = jx_sum_all(z);
}

/* An array of type t filled with sin(seed + 0.7 i). */
static jx_array *wave(jx_type t, double seed) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) jx_array_set(a, i, sin(seed + 0.7 * (double)i));
    return a;
}

/* Initial param p (0: W, 1: b). */
static jx_array *param0(int p) {
    return p ? wave(JX_TYPE(JX_F32, 3), 2.0) : wave(JX_TYPE(JX_F32, 4, 3), 1.0);
}

/* A new tree {"lin/w", "lin/b"} of the initial params (zeros when zero). */
static jx_tree *new_params(int zero) {
    jx_tree *t = jx_tree_new();
    for (int p = 0; t && p < NP; p++) {
        jx_array *a = param0(p);
        if (zero && a) jx_array_fill(a, 0);
        jx_tree_add(t, p ? "lin/b" : "lin/w", a);
        jx_array_free(a);
    }
    return t;
}

/* Batch number i of size b into xy[0..1]. */
static void batch(int i, int64_t b, jx_array **xy) {
    xy[0] = wave(JX_TYPE(JX_F32, b, 4), 1.3 * i + 0.1);
    xy[1] = wave(JX_TYPE(JX_F32, b, 3), 2.1 * i + 0.5);
}

/* 1 if a and b have the same type and bits. */
static int same_bits(const jx_array *a, const jx_array *b) {
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    return a && b && jx_type_eq(&ta, &tb) && !memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a));
}

/* A step by hand: jx_optim_train_step of the traced loss, jx_jit with params and state
 * donated (recompiled when the batch size changes), params and state passed in and out. */
typedef struct hand {
    const jx_optim *o;
    jx_array *ps[NP + MAXS];
    int ns;
    int64_t b;
    jx_exe *exe;
} hand;

static void hand_init(hand *h, const jx_optim *o) {
    memset(h, 0, sizeof *h);
    h->o = o;
    for (int p = 0; p < NP; p++) h->ps[p] = param0(p);
    h->ns = jx_optim_init(o, NP, h->ps, h->ps + NP);
}

/* One step on batch i of size b; returns the loss (NaN on failure). */
static double hand_step(hand *h, int i, int64_t b) {
    if (h->b != b) {
        jx_exe_free(h->exe);
        jx_type ty[4] = {JX_TYPE(JX_F32, 4, 3), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, b, 4),
                         JX_TYPE(JX_F32, b, 3)};
        jx_fn *loss = jx_trace(f_loss, 4, ty, 1, NULL);
        jx_fn *step = loss ? jx_optim_train_step(h->o, loss, NP) : NULL;
        unsigned char donate[NP + MAXS + NB] = {0};
        for (int k = 0; k < NP + h->ns; k++) donate[k] = 1;
        jx_jit_opts jo = {donate, 0, 0};
        h->exe = step ? jx_jit(step, &jo) : NULL;
        h->b = b;
        jx_fn_free(step);
        jx_fn_free(loss);
    }
    jx_array *in[NP + MAXS + NB], *out[NP + MAXS + 1], *xy[2];
    batch(i, b, xy);
    int n = NP + h->ns;
    for (int k = 0; k < n; k++) in[k] = out[k] = h->ps[k];
    in[n] = xy[0], in[n + 1] = xy[1], out[n] = NULL;
    double loss = NAN;
    if (h->exe && jx_exe_run(h->exe, in, out) == 0) loss = jx_array_get(out[n], 0);
    jx_array_free(out[n]);
    jx_array_free(xy[0]), jx_array_free(xy[1]);
    return loss;
}

static void hand_free(hand *h) {
    jx_exe_free(h->exe);
    for (int k = 0; k < NP + MAXS; k++) jx_array_free(h->ps[k]);
}

/* One trainer step on batch i of size b; the loss (NaN on failure). */
static double train_step(jx_train *tr, int i, int64_t b) {
    jx_array *xy[2];
    batch(i, b, xy);
    double loss = NAN;
    if (jx_train_step(tr, xy, &loss, NULL) < 0) loss = NAN;
    jx_array_free(xy[0]), jx_array_free(xy[1]);
    return loss;
}

/* Runs o for the batch sizes bs[0..n) by trainer and by hand: same losses, params and
 * optimizer state bit for bit, count n; returns the trainer's compile count (-1 when
 * something differs). */
static int compare_by_hand(const jx_optim *o, int n, const int64_t *bs) {
    jx_tree *params = new_params(0);
    jx_train *tr = jx_train_new(o, f_loss, NULL, params, NB, 0, NULL);
    hand h;
    hand_init(&h, o);
    int ok = tr != NULL && h.ns >= 0;
    if (!tr) printf("  jx_train_new: %s\n", jx_error());
    for (int i = 0; ok && i < n; i++) {
        double a = train_step(tr, i, bs[i]), b = hand_step(&h, i, bs[i]);
        ok = a == b && !isnan(a);
    }
    for (int p = 0; ok && p < NP; p++) ok = same_bits(params->leaves[p], h.ps[p]);
    for (int k = 0; ok && k < h.ns; k++) ok = same_bits(jx_train_state(tr)->leaves[k], h.ps[NP + k]);
    ok = ok && jx_train_count(tr) == n;
    int nc = ok ? jx_train_n_compiled(tr) : -1;
    hand_free(&h);
    jx_train_free(tr);
    jx_tree_free(params);
    return nc;
}

TEST(sgd_and_adam_equal_train_step_by_hand) {
    const int64_t bs[3] = {8, 8, 8};
    jx_optim sgd = jx_sgd(0.1), adam = jx_adam(0.01, 0.9, 0.999, 1e-8);
    jx_optim mom = jx_momentum(0.05, 0.9, 1);
    CHECK(compare_by_hand(&sgd, 3, bs) == 1);
    CHECK(compare_by_hand(&adam, 3, bs) == 1);
    CHECK(compare_by_hand(&mom, 3, bs) == 1);
}

TEST(smaller_last_batch_gets_its_own_executable) {
    const int64_t bs[4] = {8, 8, 5, 8};
    jx_optim adam = jx_adam(0.01, 0.9, 0.999, 1e-8);
    CHECK(compare_by_hand(&adam, 4, bs) == 2);
}

TEST(params_and_state_update_in_place) {
    jx_tree *params = new_params(0);
    jx_optim adam = jx_adam(0.01, 0.9, 0.999, 1e-8);
    jx_train *tr = jx_train_new(&adam, f_loss, (void *)1, params, NB, 1, NULL);
    CHECK(tr != NULL);
    if (!tr) return;
    jx_tree *st = jx_train_state(tr);
    jx_array *pw = params->leaves[0], *mu = jx_tree_get(st, "opt/mu/lin/w");
    jx_array *before = jx_array_copy(pw), *mu0 = jx_array_copy(mu);
    jx_array *aux[1] = {NULL}, *xy[2];
    batch(0, 8, xy);
    double loss = NAN;
    CHECK(jx_train_step(tr, xy, &loss, aux) == 0);
    CHECK(params->leaves[0] == pw && jx_tree_get(st, "opt/mu/lin/w") == mu);
    CHECK(jx_train_params(tr) == params);
    CHECK(!same_bits(pw, before) && !same_bits(mu, mu0));
    CHECK(loss > 0 && aux[0] && jx_array_rank(aux[0]) == 0 && isfinite(jx_array_get(aux[0], 0)));
    CHECK(jx_train_count(tr) == 1);
    jx_array_free(aux[0]);
    jx_array_free(xy[0]), jx_array_free(xy[1]);
    jx_array_free(before), jx_array_free(mu0);
    jx_train_free(tr);
    jx_tree_free(params);
}

TEST(state_paths) {
    jx_tree *params = new_params(0);
    jx_optim adam = jx_adam(0.01, 0.9, 0.999, 1e-8), mom = jx_momentum(0.1, 0.9, 0);
    mom.inject = 1;
    jx_train *a = jx_train_new(&adam, f_loss, NULL, params, NB, 0, NULL);
    jx_train *m = jx_train_new(&mom, f_loss, NULL, params, NB, 0, NULL);
    CHECK(a && m);
    if (!a || !m) return;
    const char *pa[] = {"opt/mu/lin/w", "opt/mu/lin/b", "opt/nu/lin/w", "opt/nu/lin/b", "opt/count"};
    const char *pm[] = {"opt/lr", "opt/momentum", "opt/trace/lin/w", "opt/trace/lin/b", "opt/count"};
    CHECK(jx_train_state(a)->n == 5 && jx_train_state(m)->n == 5);
    for (int i = 0; i < 5; i++) {
        CHECK(!strcmp(jx_train_state(a)->paths[i], pa[i]));
        CHECK(!strcmp(jx_train_state(m)->paths[i], pm[i]));
    }
    CHECK(jx_array_get(jx_tree_get(jx_train_state(m), "opt/momentum"), 0) == 0.9);
    jx_train_free(a), jx_train_free(m);
    jx_tree_free(params);
}

/* Runs k steps of o on a new trainer over a tree of zeros after loading from (when not
 * NULL), starting at batch `first`, saving to `to` (when not NULL); returns it. */
static jx_train *run_steps(const jx_optim *o, jx_tree **params, const char *from, int first,
                           int k, const char *to) {
    *params = new_params(from != NULL);
    jx_train *tr = jx_train_new(o, f_loss, NULL, *params, NB, 0, NULL);
    if (tr && from && jx_train_load(tr, from) < 0) printf("  load: %s\n", jx_error());
    for (int i = first; tr && i < first + k; i++) train_step(tr, i, i == 5 ? 3 : 8);
    if (tr && to && jx_train_save(tr, to) < 0) printf("  save: %s\n", jx_error());
    return tr;
}

TEST(resume_equals_uninterrupted_run) {
    char path[] = "/tmp/jx_t_train_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    jx_optim opts[2] = {jx_adam(0.01, 0.9, 0.999, 1e-8), jx_momentum(0.05, 0.9, 0)};
    opts[1].inject = 1;
    for (int oi = 0; oi < 2; oi++) {
        jx_tree *p_full, *p_a, *p_b;
        jx_train *full = run_steps(&opts[oi], &p_full, NULL, 0, 6, NULL);
        jx_train *a = run_steps(&opts[oi], &p_a, NULL, 0, 3, path);
        jx_train_free(a);
        jx_tree_free(p_a);
        jx_train *b = run_steps(&opts[oi], &p_b, path, 3, 3, NULL);
        CHECK(full && b);
        if (!full || !b) return;
        for (int i = 0; i < NP; i++) CHECK(same_bits(p_full->leaves[i], p_b->leaves[i]));
        jx_tree *sf = jx_train_state(full), *sb = jx_train_state(b);
        CHECK(sf->n == sb->n);
        for (int i = 0; i < sf->n && i < sb->n; i++) CHECK(same_bits(sf->leaves[i], sb->leaves[i]));
        CHECK(jx_train_count(b) == 6);
        /* numpy's view of the file: the params and the state under their paths */
        jx_tree *f = jx_tree_load(path);
        CHECK(f && f->n == NP + sf->n && jx_tree_get(f, "params/lin/w") && jx_tree_get(f, "opt/count"));
        jx_tree_free(f);
        jx_train_free(full), jx_train_free(b);
        jx_tree_free(p_full), jx_tree_free(p_b);
    }
    unlink(path);
}

TEST(load_errors_name_the_member) {
    char path[] = "/tmp/jx_t_train_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    jx_optim adam = jx_adam(0.01, 0.9, 0.999, 1e-8);
    jx_tree *p0;
    jx_train *t0 = run_steps(&adam, &p0, NULL, 0, 1, path);
    /* a wrong shape: nothing is loaded */
    jx_tree *p1 = jx_tree_new();
    jx_array *w = wave(JX_TYPE(JX_F32, 3, 4), 1.0), *b = param0(1), *c = wave(JX_TYPE(JX_F32, 2), 0);
    jx_tree_add(p1, "lin/w", w), jx_tree_add(p1, "lin/b", b);
    jx_train *t1 = jx_train_new(&adam, f_loss, NULL, p1, NB, 0, NULL);
    jx_array *b_before = jx_array_copy(b);
    CHECK(t1 && jx_train_load(t1, path) < 0);
    CHECK_CONTAINS(jx_error(), path);
    CHECK_CONTAINS(jx_error(), "'params/lin/w' is f32[4,3], the trainer's is f32[3,4]");
    CHECK(same_bits(b, b_before));
    /* a missing leaf */
    jx_tree *p2 = new_params(0);
    jx_tree_add(p2, "lin/c", c);
    jx_train *t2 = jx_train_new(&adam, f_loss, NULL, p2, NB + 1, 0, NULL);
    CHECK(t2 && jx_train_load(t2, path) < 0);
    CHECK_CONTAINS(jx_error(), "no member 'params/lin/c'");
    /* a member the trainer does not have */
    jx_tree *p3 = jx_tree_new();
    jx_tree_add(p3, "lin/w", p0->leaves[0]);
    jx_train *t3 = jx_train_new(&adam, f_loss, NULL, p3, NB + 1, 0, NULL);
    CHECK(t3 && jx_train_load(t3, path) < 0);
    CHECK_CONTAINS(jx_error(), "unexpected member 'params/lin/b'");
    /* an optimizer with another state */
    jx_optim sgd = jx_sgd(0.1);
    jx_tree *p4 = new_params(0);
    jx_train *t4 = jx_train_new(&sgd, f_loss, NULL, p4, NB, 0, NULL);
    CHECK(t4 && jx_train_load(t4, path) < 0);
    CHECK_CONTAINS(jx_error(), "unexpected member 'opt/mu/lin/w'");
    CHECK(t4 && jx_train_load(t4, "/nonexistent/x.npz") < 0);
    CHECK_CONTAINS(jx_error(), "/nonexistent/x.npz");
    /* a bad injected hyperparameter in the file */
    jx_optim mom = jx_momentum(0.1, 0.9, 0);
    mom.inject = 1;
    jx_tree *p5;
    jx_train *t5 = run_steps(&mom, &p5, NULL, 0, 0, NULL);
    jx_array_set(jx_tree_get(jx_train_state(t5), "opt/momentum"), 0, 1.5);
    CHECK(jx_train_save(t5, path) == 0);
    jx_array_set(jx_tree_get(jx_train_state(t5), "opt/momentum"), 0, 0.5);
    CHECK(jx_train_load(t5, path) < 0);
    CHECK_CONTAINS(jx_error(), "member 'opt/momentum': optim momentum: bad value 1.5");
    CHECK(jx_array_get(jx_tree_get(jx_train_state(t5), "opt/momentum"), 0) == 0.5);
    jx_train_free(t5), jx_tree_free(p5);
    jx_array_free(w), jx_array_free(b), jx_array_free(c), jx_array_free(b_before);
    jx_train_free(t0), jx_train_free(t1), jx_train_free(t2), jx_train_free(t3), jx_train_free(t4);
    jx_tree_free(p0), jx_tree_free(p1), jx_tree_free(p2), jx_tree_free(p3), jx_tree_free(p4);
    unlink(path);
}

TEST(injected_lr_in_the_state_tree_without_recompiling) {
    jx_optim o = jx_sgd(0.1);
    o.inject = 1;
    jx_tree *pa = new_params(0), *pb = new_params(0);
    jx_train *a = jx_train_new(&o, f_loss, NULL, pa, NB, 0, NULL);
    jx_train *b = jx_train_new(&o, f_loss, NULL, pb, NB, 0, NULL);
    hand h;
    hand_init(&h, &o);
    CHECK(a && b && h.ns == 2);
    if (!a || !b) return;
    train_step(a, 0, 8), train_step(b, 0, 8), hand_step(&h, 0, 8);
    CHECK(jx_optim_set_hparam(&o, jx_train_state(a)->leaves, "lr", 0.03) == 0);
    jx_array_set(jx_tree_get(jx_train_state(b), "opt/lr"), 0, 0.1); /* written directly */
    CHECK(jx_optim_set_hparam(&o, h.ps + NP, "lr", 0.03) == 0);
    train_step(a, 1, 8), train_step(b, 1, 8), hand_step(&h, 1, 8);
    CHECK(jx_train_n_compiled(a) == 1);
    for (int p = 0; p < NP; p++) {
        CHECK(same_bits(pa->leaves[p], h.ps[p]));
        CHECK(!same_bits(pa->leaves[p], pb->leaves[p]));
    }
    CHECK(jx_train_count(a) == 2);
    hand_free(&h);
    jx_train_free(a), jx_train_free(b);
    jx_tree_free(pa), jx_tree_free(pb);
}

TEST(bad_arguments) {
    jx_optim o = jx_sgd(0.1);
    jx_tree *p = new_params(0), *empty = jx_tree_new(), *ints = jx_tree_new();
    jx_array *i32 = jx_array_new_type(&JX_TYPE(JX_I32, 3));
    jx_tree_add(ints, "count", i32);
    CHECK(jx_train_new(&o, f_loss, NULL, empty, NB, 0, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "empty");
    CHECK(jx_train_new(&o, f_loss, NULL, ints, NB, 0, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "param 'count' is i32");
    CHECK(jx_train_new(&o, NULL, NULL, p, NB, 0, NULL) == NULL);
    jx_train *tr = jx_train_new(&o, f_loss, NULL, p, NB, 0, NULL);
    CHECK(tr != NULL);
    jx_array *before = jx_array_copy(p->leaves[0]), *xy[2];
    batch(0, 8, xy);
    jx_array *bad[2] = {xy[1], xy[0]}; /* x f32[8,3] does not multiply W f32[4,3] */
    CHECK(jx_train_step(tr, bad, NULL, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "t_train.c");
    CHECK(same_bits(before, p->leaves[0]) && jx_train_count(tr) == 0);
    jx_array *null_batch[2] = {xy[0], NULL};
    CHECK(jx_train_step(tr, null_batch, NULL, NULL) < 0);
    CHECK_CONTAINS(jx_error(), "batch input 1 is NULL");
    jx_array_free(xy[0]), jx_array_free(xy[1]), jx_array_free(before), jx_array_free(i32);
    jx_train_free(tr);
    jx_tree_free(p), jx_tree_free(empty), jx_tree_free(ints);
}

/* After steps, new params written into the leaves and jx_train_reset: the same steps as a
 * new trainer from those params, bit for bit, without another compile; for Adam (its own
 * count and moments) and SGD (the trainer's count). */
TEST(reset_equals_a_new_trainer) {
    jx_optim opts[2] = {jx_adam(0.01, 0.9, 0.999, 1e-8), jx_sgd(0.05)};
    for (int k = 0; k < 2; k++) {
        jx_tree *pa = new_params(0), *pb = new_params(0);
        jx_train *a = jx_train_new(&opts[k], f_loss, NULL, pa, NB, 0, NULL);
        jx_train *b = jx_train_new(&opts[k], f_loss, NULL, pb, NB, 0, NULL);
        CHECK(a && b);
        if (!a || !b) return;
        for (int i = 0; i < 3; i++) train_step(a, i, 8);
        for (int p = 0; p < NP; p++) { /* back to the initial params, in place */
            jx_array *init = param0(p);
            memcpy(jx_array_data(pa->leaves[p]), jx_array_cdata(init), jx_array_nbytes(init));
            jx_array_free(init);
        }
        CHECK(jx_train_reset(a) == 0 && jx_train_count(a) == 0);
        for (int i = 0; i < 2; i++) CHECK(train_step(a, i, 8) == train_step(b, i, 8));
        for (int p = 0; p < NP; p++) CHECK(same_bits(pa->leaves[p], pb->leaves[p]));
        for (int s = 0; s < jx_train_state(a)->n; s++)
            CHECK(same_bits(jx_train_state(a)->leaves[s], jx_train_state(b)->leaves[s]));
        CHECK(jx_train_n_compiled(a) == 1);
        jx_train_free(a), jx_train_free(b);
        jx_tree_free(pa), jx_tree_free(pb);
    }
    CHECK(jx_train_reset(NULL) == -1);
}

TEST_MAIN()
