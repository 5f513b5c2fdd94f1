/* Training loops of the library: jx_train_epoch (jx/optim.h) equals jx_shuffle +
 * jx_batch_iter + jx_train_step by hand bit for bit (shuffled, in order, a partial last
 * batch, DROP_LAST, PAD_LAST), with a hook that fills an extra batch input and sees the
 * aux outputs; jx_eval_sum (jx/data.h) over chunks equals one call; bad arguments. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jx/data.h>
#include <jx/optim.h>

#include "check.h"

enum { N = 10 };

/* loss(W f32[4,3], b f32[3], x f32[B,4], y f32[B,3][, s f32[]]) = mean((x W + b - y)^2)
 * (times s when a third batch input is given: user != NULL); aux (user != NULL): sum(z). */
static void f_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    jx_val z = jx_add(jx_matmul(in[2], in[0]), in[1]), r = jx_sub(z, in[3]);
    out[0] = jx_mean_all(jx_mul(r, r));
    if (u) out[0] = jx_mul(out[0], in[4]), out[1] = jx_sum_all(z);
}

/* An array of type t filled with sin(seed + 0.7 i). */
static jx_array *wave(jx_type t, double seed) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) jx_array_set(a, i, sin(seed + 0.7 * (double)i));
    return a;
}

/* A new tree {"lin/w", "lin/b"} of fixed initial params. */
static jx_tree *new_params(void) {
    jx_tree *t = jx_tree_new();
    jx_array *w = wave(JX_TYPE(JX_F32, 4, 3), 1.0), *b = wave(JX_TYPE(JX_F32, 3), 2.0);
    jx_tree_add(t, "lin/w", w);
    jx_tree_add(t, "lin/b", b);
    jx_array_free(w), jx_array_free(b);
    return t;
}

/* 1 if the two trees' leaves have the same bits. */
static int same_tree(const jx_tree *a, const jx_tree *b) {
    int ok = a->n == b->n;
    for (int i = 0; ok && i < a->n; i++)
        ok = jx_array_nbytes(a->leaves[i]) == jx_array_nbytes(b->leaves[i]) &&
             !memcmp(jx_array_cdata(a->leaves[i]), jx_array_cdata(b->leaves[i]), jx_array_nbytes(a->leaves[i]));
    return ok;
}

/* The scale input of batch i (for the hook and by hand): 1 + i / 4. */
static jx_array *scale_of(int64_t i) {
    jx_array *s = jx_array_scalar(JX_F32, 1.0 + (double)i / 4);
    return s;
}

/* The hook's record: the scale arrays it made, and after each step the loss and aux. */
typedef struct rec {
    jx_array *scale[8];
    double loss[8], aux[8], sum[8];
    int before, after, stop_at, bad_epoch;
} rec;

/* Fails the way a hook's own failing library call does, with jx_error() set (here
 * jx_tree_subtree's message naming why); returns -1. */
static int util_err_like(const char *why) {
    jx_tree *t = jx_tree_new();
    int first, rc = jx_tree_subtree(t, why, &first);
    jx_tree_free(t);
    return rc;
}

/* Fills in[2] with scale_of(index) before each step; records loss and aux after. */
static int hook(jx_train *tr, jx_train_batch *b, void *user) {
    rec *r = user;
    (void)tr;
    if (b->index == r->stop_at) return b->index == 3 ? util_err_like("no key for batch 3") : -1;
    if (b->epoch != 1) r->bad_epoch = 1;
    if (!b->after) {
        r->before++;
        if (b->in[2] != NULL || b->index >= 8) return -1;
        b->in[2] = r->scale[b->index] = scale_of(b->index);
        return 0;
    }
    r->loss[b->index] = b->loss, r->aux[b->index] = jx_array_get(b->aux[0], 0);
    r->sum[b->index] = b->loss_sum;
    r->after++;
    return 0;
}

/* By hand: the epoch's order, jx_batch_iter, jx_train_step (with the scale input when
 * scaled); the mean loss, losses[i] and aux[i] per step. */
static double by_hand(jx_train *tr, const jx_array *x, const jx_array *y,
                      const jx_epoch_opts *o, int scaled, double *losses, double *aux) {
    int64_t perm[N];
    jx_batch_iter it;
    double sum = 0;
    int64_t steps = 0;
    if (o->shuffle) jx_shuffle(N, o->seed, o->epoch, perm);
    if (jx_batch_iter_init(&it, x, y, o->batch, o->flags) < 0) return NAN;
    jx_batch_iter_reset(&it, o->shuffle ? perm : NULL);
    while (jx_batch_iter_next(&it)) {
        jx_array *in[3] = {it.x, it.y, scaled ? scale_of(it.index) : NULL}, *ax[1] = {NULL};
        double l = NAN;
        if (jx_train_step(tr, in, &l, scaled ? ax : NULL) < 0) l = NAN;
        if (losses) losses[it.index] = l;
        if (aux && ax[0]) aux[it.index] = jx_array_get(ax[0], 0);
        sum += l, steps++;
        jx_array_free(in[2]), jx_array_free(ax[0]);
    }
    jx_batch_iter_free(&it);
    return sum / (double)steps;
}

/* Runs two epochs of o (epochs e and e+1) with jx_train_epoch and by hand on two
 * trainers from the same params; checks the mean losses and the trees bit for bit. */
static void epoch_vs_hand(jx_epoch_opts o, int expect_compiled) {
    jx_array *x = wave(JX_TYPE(JX_F32, N, 4), 0.3), *y = wave(JX_TYPE(JX_F32, N, 3), 0.9);
    jx_tree *pa = new_params(), *pb = new_params();
    jx_optim opt = jx_adam(0.05, 0.9, 0.999, 1e-8);
    jx_train *a = jx_train_new(&opt, f_loss, NULL, pa, 2, 0, NULL);
    jx_train *b = jx_train_new(&opt, f_loss, NULL, pb, 2, 0, NULL);
    CHECK(a && b);
    for (int e = 0; a && b && e < 2; e++, o.epoch++) {
        double ma = NAN, mb = by_hand(b, x, y, &o, 0, NULL, NULL);
        CHECK(jx_train_epoch(a, x, y, &o, &ma) == 0);
        CHECK(isfinite(mb) && ma == mb);
        CHECK(same_tree(pa, pb));
        CHECK(same_tree(jx_train_state(a), jx_train_state(b)));
    }
    if (a) CHECK(jx_train_n_compiled(a) == expect_compiled);
    jx_train_free(a), jx_train_free(b);
    jx_tree_free(pa), jx_tree_free(pb);
    jx_array_free(x), jx_array_free(y);
}

TEST(epoch_shuffled_partial_last) {
    epoch_vs_hand((jx_epoch_opts){.batch = 4, .shuffle = 1, .seed = 5, .epoch = 3}, 2);
}

TEST(epoch_in_order_drop_last) {
    epoch_vs_hand((jx_epoch_opts){.batch = 4, .flags = JX_BATCH_DROP_LAST}, 1);
}

TEST(epoch_pad_last) {
    epoch_vs_hand((jx_epoch_opts){.batch = 4, .flags = JX_BATCH_PAD_LAST, .shuffle = 1, .seed = 9}, 1);
}

TEST(epoch_hook_fills_input_and_sees_aux) {
    jx_array *x = wave(JX_TYPE(JX_F32, N, 4), 0.3), *y = wave(JX_TYPE(JX_F32, N, 3), 0.9);
    jx_tree *pa = new_params(), *pb = new_params();
    jx_optim opt = jx_sgd(0.05);
    int u = 1;
    jx_train *a = jx_train_new(&opt, f_loss, &u, pa, 3, 1, NULL);
    jx_train *b = jx_train_new(&opt, f_loss, &u, pb, 3, 1, NULL);
    rec r = {.stop_at = -1};
    jx_epoch_opts o = {.batch = 3, .shuffle = 1, .seed = 11, .epoch = 1, .hook = hook, .user = &r};
    double la[8], xa[8], ma = NAN;
    double mb = a && b ? by_hand(b, x, y, &o, 1, la, xa) : NAN;
    CHECK(a && b && jx_train_epoch(a, x, y, &o, &ma) == 0);
    CHECK(r.before == 4 && r.after == 4);
    CHECK(isfinite(mb) && ma == mb);
    for (int i = 0; i < 4; i++) CHECK(r.loss[i] == la[i] && r.aux[i] == xa[i]);
    CHECK(!r.bad_epoch && r.sum[0] == la[0] && r.sum[3] == ((la[0] + la[1]) + la[2]) + la[3]);
    CHECK(same_tree(pa, pb));
    /* A hook that stops: -1 with a message; the steps before are kept. */
    for (int i = 0; i < 8; i++) jx_array_free(r.scale[i]), r.scale[i] = NULL;
    r.stop_at = 2;
    CHECK(jx_train_epoch(a, x, y, &o, &ma) == -1);
    CHECK_CONTAINS(jx_error(), "jx_train_epoch: the hook stopped the epoch before batch 2");
    CHECK(strstr(jx_error(), "batch 2:") == NULL); /* the hook set no message of its own */
    CHECK(a && jx_train_count(a) == 6);
    /* A hook's own message is kept after the epoch's. */
    for (int i = 0; i < 8; i++) jx_array_free(r.scale[i]), r.scale[i] = NULL;
    r.stop_at = 3;
    CHECK(jx_train_epoch(a, x, y, &o, &ma) == -1);
    CHECK_CONTAINS(jx_error(), "the hook stopped the epoch before batch 3: jx_tree_subtree: no leaf of the tree (0 leaves) is under 'no key for batch 3'");
    CHECK(a && jx_train_count(a) == 9);
    /* No hook: batch input 2 stays NULL. */
    o.hook = NULL;
    CHECK(jx_train_epoch(a, x, y, &o, NULL) == -1);
    CHECK_CONTAINS(jx_error(), "batch input 2 of batch 0 is NULL");
    for (int i = 0; i < 8; i++) jx_array_free(r.scale[i]);
    jx_train_free(a), jx_train_free(b);
    jx_tree_free(pa), jx_tree_free(pb);
    jx_array_free(x), jx_array_free(y);
}

TEST(epoch_bad_arguments) {
    jx_array *x = wave(JX_TYPE(JX_F32, N, 4), 0.3), *y = wave(JX_TYPE(JX_F32, N - 1, 3), 0.9);
    jx_tree *p = new_params();
    jx_optim opt = jx_sgd(0.05);
    jx_train *a = jx_train_new(&opt, f_loss, NULL, p, 2, 0, NULL);
    jx_epoch_opts o = {.batch = 0};
    CHECK(jx_train_epoch(a, x, y, &o, NULL) == -1);
    CHECK_CONTAINS(jx_error(), "jx_train_epoch: batch 0, not > 0");
    o.batch = 4;
    CHECK(jx_train_epoch(a, x, y, &o, NULL) == -1);
    CHECK(jx_train_epoch(a, x, y, NULL, NULL) == -1);
    CHECK_CONTAINS(jx_error(), "jx_train_epoch: NULL options");
    CHECK(jx_train_count(a) == 0);
    jx_train_free(a);
    jx_tree_free(p);
    jx_array_free(x), jx_array_free(y);
}

/* eval(w f32[4,3], x f32[B,4], y i32[B]) = (sum(x w), sum(y), B): integer-valued, so the
 * chunked sums are exact. */
static void f_eval(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sum_all(jx_matmul(in[1], in[0]));
    out[1] = jx_sum_all(jx_convert(in[2], JX_F32));
    out[2] = jx_sum_all(jx_ones_like(jx_convert(in[2], JX_F32)));
}

TEST(eval_sum_chunks_equal_one_call) {
    jx_type tw = JX_TYPE(JX_F32, 4, 3), tx = JX_TYPE(JX_F32, N, 4), ty = JX_TYPE(JX_I32, N);
    jx_array *w = jx_array_new_type(&tw), *x = jx_array_new_type(&tx), *y = jx_array_new_type(&ty);
    for (int64_t i = 0; i < 12; i++) jx_array_set(w, i, (double)(i % 5) - 2);
    for (int64_t i = 0; i < 4 * N; i++) jx_array_set(x, i, (double)(i % 7) - 3);
    for (int64_t i = 0; i < N; i++) jx_array_set(y, i, (double)(i * 3 % 10));
    jx_jitfn *f = jx_jit_trace(f_eval, 3, 3, NULL, NULL);
    double s3[3], s10[3], one[3];
    jx_array *in[3] = {w, x, y}, *out[3] = {NULL, NULL, NULL};
    CHECK(f && jx_jitfn_run(f, in, out) == 0);
    for (int i = 0; i < 3; i++) one[i] = out[i] ? jx_array_get(out[i], 0) : NAN, jx_array_free(out[i]);
    CHECK(jx_eval_sum(f, 1, &w, x, y, 3, 3, s3) == 0);
    CHECK(jx_eval_sum(f, 1, &w, x, y, 100, 3, s10) == 0);
    for (int i = 0; i < 3; i++) CHECK(s3[i] == one[i] && s10[i] == one[i]);
    CHECK(one[2] == N && one[0] != 0);
    CHECK(jx_jitfn_n_compiled(f) == 3); /* rows [10], [3] and the last chunk [1] */
    jx_jitfn_free(f);
    jx_array_free(w), jx_array_free(x), jx_array_free(y);
}

/* A non-scalar output: eval(x) = the row sums of x. */
static void f_rows(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sum(in[0], 1, 0);
}

TEST(eval_sum_bad_arguments) {
    jx_array *x = wave(JX_TYPE(JX_F32, N, 4), 0.3);
    jx_jitfn *f = jx_jit_trace(f_rows, 1, 1, NULL, NULL);
    double s = 1;
    CHECK(jx_eval_sum(f, 0, NULL, x, NULL, 4, 1, &s) == -1);
    CHECK_CONTAINS(jx_error(), "jx_eval_sum: output 0 has 4 elements, not a scalar");
    CHECK(jx_eval_sum(f, 0, NULL, x, NULL, 0, 1, &s) == -1);
    CHECK_CONTAINS(jx_error(), "chunk 0");
    CHECK(jx_eval_sum(NULL, 0, NULL, x, NULL, 4, 1, &s) == -1);
    jx_jitfn_free(f);
    jx_array_free(x);
}

TEST_MAIN()
