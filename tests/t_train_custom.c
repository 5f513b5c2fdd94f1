/* jx_train_new_opts (jx/optim.h): carried state (a PRNG key split every step, running
 * statistics) updated in place in the caller's arrays, saved and loaded, restored by
 * jx_train_reset; a grads callback that computes value_and_grad itself equals the loss
 * path bit for bit (params, optimizer state, carry, losses, aux); a DP-SGD-like grads
 * callback through jx_train_epoch; errors in the callbacks' outputs and in the options
 * name jx_train, the output and the types, and change nothing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jx/data.h>
#include <jx/nn.h>
#include <jx/optim.h>

#include "check.h"

enum { NP = 2 };

/* An array of type t filled with sin(seed + 0.7 i). */
static jx_array *wave(jx_type t, double seed) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++)
        jx_array_set(a, i, sin(seed + 0.7 * (double)i));
    return a;
}

/* A new tree {"lin/w" f32[4,3], "lin/b" f32[3]}. */
static jx_tree *new_params(void) {
    jx_tree *t = jx_tree_new();
    jx_tree_put(t, wave(JX_TYPE(JX_F32, 4, 3), 1.0), "lin/w");
    jx_tree_put(t, wave(JX_TYPE(JX_F32, 3), 2.0), "lin/b");
    return t;
}

/* Batch number i of size b into xy[0..1]: x f32[b,4], y f32[b,3]. */
static void batch(int i, int64_t b, jx_array **xy) {
    xy[0] = wave(JX_TYPE(JX_F32, b, 4), 1.3 * i + 0.1);
    xy[1] = wave(JX_TYPE(JX_F32, b, 3), 2.1 * i + 0.5);
}

/* 1 if a and b have the same type and bits. */
static int same_bits(const jx_array *a, const jx_array *b) {
    if (!a || !b) return 0;
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    return jx_type_eq(&ta, &tb) &&
           !memcmp(jx_array_cdata(a), jx_array_cdata(b), jx_array_nbytes(a));
}

/* A new temporary file name in path (a buffer of 32); 0 or -1. */
static int temp_path(char *path) {
    strcpy(path, "/tmp/jx_t_train_custom_XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    return fd >= 0 ? 0 : -1;
}

/* ---- running statistics as carry -------------------------------------------------------- */

/* loss(W, b, mean f32[3], n i32[], x, y) = mean((x W + b - y)^2) -> (loss, new mean =
 * 0.9 mean + 0.1 mean_rows(y), n + 1): a running mean that depends on the batch only. */
static void stats_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val r = jx_sub(jx_add(jx_matmul(in[4], in[0]), in[1]), in[5]);
    out[0] = jx_mean_all(jx_mul(r, r));
    jx_val ymean = jx_mean(in[5], 0, 0);
    out[1] = jx_add(jx_mul(jx_lit(in[2], 0.9), in[2]), jx_mul(jx_lit(in[2], 0.1), ymean));
    out[2] = jx_add(in[3], jx_lit(in[3], 1));
}

/* The carry {"stats/mean" f32[3] zeros, "stats/n" i32[] 0}. */
static jx_tree *new_stats(void) {
    jx_tree *c = jx_tree_new();
    jx_tree_put(c, jx_array_new_type(&JX_TYPE(JX_F32, 3)), "stats/mean");
    jx_tree_put(c, jx_array_scalar(JX_I32, 0), "stats/n");
    return c;
}

/* A trainer (SGD) of stats_loss over params with carry. */
static jx_train *stats_trainer(jx_tree *params, const jx_tree *carry) {
    jx_optim o = jx_sgd(0.1);
    return jx_train_new_opts(&o, params,
                             &(jx_train_opts){.loss = stats_loss, .n_batch = 2, .carry = carry});
}

/* Steps tr on batches first..first+k-1 (size 8); 0 or -1. */
static int steps(jx_train *tr, int first, int k) {
    int rc = 0;
    for (int i = first; rc == 0 && i < first + k; i++) {
        jx_array *xy[2];
        batch(i, 8, xy);
        rc = jx_train_step(tr, xy, NULL, NULL);
        jx_array_free(xy[0]), jx_array_free(xy[1]);
    }
    if (rc) printf("  step: %s\n", jx_error());
    return rc;
}

TEST(carry_updated_in_place) {
    jx_tree *params = new_params(), *carry = new_stats();
    jx_array *mean = carry->leaves[0], *n = carry->leaves[1];
    jx_train *tr = stats_trainer(params, carry);
    CHECK(tr != NULL);
    if (!tr) return;
    jx_tree *st = jx_train_state(tr);
    CHECK(st->n == 3 && !strcmp(st->paths[0], "opt/count") && !strcmp(st->paths[2], "stats/n"));
    CHECK(steps(tr, 0, 3) == 0);
    /* the same arrays, in the caller's tree and the state tree, hold the new values */
    CHECK(carry->leaves[0] == mean && jx_tree_get(st, "stats/mean") == mean);
    CHECK(jx_tree_get(st, "stats/n") == n && jx_array_get(n, 0) == 3);
    CHECK(jx_train_count(tr) == 3);
    /* the running mean by hand, from the batches' y */
    double m[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        jx_array *xy[2];
        batch(i, 8, xy);
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int r = 0; r < 8; r++) s += jx_array_get(xy[1], r * 3 + j);
            m[j] = 0.9 * m[j] + 0.1 * s / 8;
        }
        jx_array_free(xy[0]), jx_array_free(xy[1]);
    }
    for (int j = 0; j < 3; j++) CHECK_NEAR(jx_array_get(mean, j), m[j], 1e-6);
    /* the caller's tree may go: the trainer keeps its references */
    jx_tree_free(carry);
    CHECK(steps(tr, 3, 1) == 0 && jx_array_get(jx_tree_get(st, "stats/n"), 0) == 4);
    jx_train_free(tr);
    jx_tree_free(params);
}

TEST(carry_saved_loaded_and_reset) {
    char path[32];
    CHECK(temp_path(path) == 0);
    jx_tree *pa = new_params(), *pb = new_params(), *ca = new_stats(), *cb = new_stats();
    jx_train *a = stats_trainer(pa, ca), *b = stats_trainer(pb, cb);
    CHECK(a && b);
    if (!a || !b) return;
    CHECK(steps(a, 0, 3) == 0 && jx_train_save(a, path) == 0);
    jx_tree *f = jx_tree_load(path);
    CHECK(f && f->n == 5 && jx_tree_find(f, "stats/mean") >= 0 && jx_tree_find(f, "stats/n") >= 0);
    CHECK(f && jx_array_get(jx_tree_get(f, "stats/n"), 0) == 3);
    jx_tree_free(f);
    /* a new trainer loaded from the file, then 2 steps, equals 5 uninterrupted steps */
    CHECK(jx_train_load(b, path) == 0 && jx_array_get(cb->leaves[1], 0) == 3);
    CHECK(steps(a, 3, 2) == 0 && steps(b, 3, 2) == 0);
    for (int i = 0; i < 2; i++) CHECK(same_bits(ca->leaves[i], cb->leaves[i]));
    for (int i = 0; i < NP; i++) CHECK(same_bits(pa->leaves[i], pb->leaves[i]));
    /* a checkpoint without the carry is refused, naming the member, changing nothing */
    jx_tree *no_carry = jx_tree_new();
    for (int i = 0; i < NP; i++) {
        char name[32];
        snprintf(name, sizeof name, "params/%s", pa->paths[i]);
        jx_tree_add(no_carry, name, pa->leaves[i]);
    }
    jx_tree_add(no_carry, "opt/count", jx_train_state(a)->leaves[0]);
    CHECK(jx_tree_save(no_carry, path, JX_NPZ_STORED) == 0);
    CHECK(jx_train_load(b, path) < 0);
    CHECK_CONTAINS(jx_error(), "no member 'stats/mean'");
    CHECK(jx_array_get(cb->leaves[1], 0) == 5 && jx_train_count(b) == 5);
    jx_tree_free(no_carry);
    /* reset: the carry's values at jx_train_new_opts, the count 0 */
    CHECK(jx_train_reset(b) == 0 && jx_array_get(cb->leaves[1], 0) == 0);
    CHECK(jx_array_get(cb->leaves[0], 0) == 0 && jx_train_count(b) == 0);
    unlink(path);
    jx_train_free(a), jx_train_free(b);
    jx_tree_free(pa), jx_tree_free(pb), jx_tree_free(ca), jx_tree_free(cb);
}

/* ---- a PRNG key as carry: the loss path and a grads callback ----------------------------- */

/* loss(W, b, key u32[2], x, y) = mean((x W + b + 0.01 noise - y)^2), noise drawn from a
 * subkey; -> (loss, next key, aux sum(x W + b)). The key splits into (next, noise). */
static void key_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val keys = jx_random_split(in[2], 2), z = jx_add(jx_matmul(in[3], in[0]), in[1]);
    jx_val noise = jx_random_normal(jx_random_subkey(keys, 1), jx_val_type(z));
    jx_val r = jx_sub(jx_add(z, jx_mul(jx_lit(z, 0.01), noise)), in[4]);
    out[0] = jx_mean_all(jx_mul(r, r));
    out[1] = jx_random_subkey(keys, 0);
    out[2] = jx_sum_all(z);
}

/* What the grads callbacks below do wrong (user of the trainer). */
enum { OK, WRONG_GRAD_TYPE, ONE_GRAD_SHORT, ONE_OUTPUT_MORE, CARRY_TO_F32, BAD_OP };

/* grads(W, b, key, x, y) = (loss, dW, db, next key, aux) by value_and_grad of key_loss
 * with respect to the params (argument 0 of the layout (params, key, x, y)); *u selects
 * a mistake. */
static void key_grads(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    int bad = u ? *(const int *)u : OK;
    jx_val r[5]; /* loss, next key, aux, dW, db */
    if (jx_call_value_and_grad(key_loss, NULL, 5, JX_ARGS(NP, 1, 1, 1), in, 3, 1, (int[]){0}, r))
        return;
    if (bad == ONE_GRAD_SHORT) { /* (loss, dW, key, aux): db forgotten, one output unset */
        out[0] = r[0], out[1] = r[3], out[2] = r[1], out[3] = r[2];
        return;
    }
    out[0] = r[0], out[1] = r[3], out[2] = r[4], out[3] = r[1], out[4] = r[2];
    if (bad == WRONG_GRAD_TYPE) out[2] = jx_concatenate(2, (jx_val[]){r[4], r[4]}, 0);
    if (bad == ONE_OUTPUT_MORE) out[5] = r[2];
    if (bad == CARRY_TO_F32) out[3] = jx_convert(r[1], JX_F32);
    if (bad == BAD_OP) out[4] = jx_matmul(in[0], in[0]); /* f32[4,3] @ f32[4,3] */
}

/* A trainer (Adam) over params with carry {"rng/key"} of key_loss (grads == 0) or
 * key_grads (grads == 1, user *mistake), one aux. */
static jx_train *key_trainer(jx_tree *params, jx_tree *carry, int grads, int *mistake) {
    jx_optim o = jx_adam(0.01, 0.9, 0.999, 1e-8);
    jx_train_opts op = {.user = mistake, .n_batch = 2, .n_aux = 1, .carry = carry};
    if (grads) op.grads = key_grads;
    else op.loss = key_loss;
    return jx_train_new_opts(&o, params, &op);
}

/* The carry {"rng/key"} = PRNGKey(7). */
static jx_tree *new_key(void) {
    jx_tree *c = jx_tree_new();
    jx_tree_put(c, jx_key_array(jx_key_new(7)), "rng/key");
    return c;
}

TEST(grads_callback_equals_loss_path) {
    jx_tree *pa = new_params(), *pb = new_params(), *ca = new_key(), *cb = new_key();
    jx_train *a = key_trainer(pa, ca, 0, NULL), *b = key_trainer(pb, cb, 1, NULL);
    CHECK(a && b);
    if (!a || !b) return;
    const int64_t sizes[4] = {8, 8, 5, 8};
    jx_key key = jx_key_new(7), pair[2];
    for (int i = 0; i < 4; i++) {
        jx_array *xy[2], *aux_a[1] = {NULL}, *aux_b[1] = {NULL};
        double la = NAN, lb = NAN;
        batch(i, sizes[i], xy);
        CHECK(jx_train_step(a, xy, &la, aux_a) == 0 && jx_train_step(b, xy, &lb, aux_b) == 0);
        CHECK(!isnan(la) && la == lb && same_bits(aux_a[0], aux_b[0]));
        jx_array_free(aux_a[0]), jx_array_free(aux_b[0]);
        jx_array_free(xy[0]), jx_array_free(xy[1]);
        jx_key_split(key, 2, pair);
        key = pair[0];
    }
    for (int i = 0; i < NP; i++) CHECK(same_bits(pa->leaves[i], pb->leaves[i]));
    jx_tree *sa = jx_train_state(a), *sb = jx_train_state(b);
    CHECK(sa->n == 2 * NP + 2 && sb->n == sa->n);
    for (int i = 0; i < sa->n && i < sb->n; i++) CHECK(same_bits(sa->leaves[i], sb->leaves[i]));
    /* the key was split every step: next = split(key)[0] */
    jx_array *want = jx_key_array(key);
    CHECK(same_bits(ca->leaves[0], want) && same_bits(cb->leaves[0], want));
    CHECK(jx_train_count(b) == 4 && jx_train_n_compiled(b) == 2);
    jx_array_free(want);
    jx_train_free(a), jx_train_free(b);
    jx_tree_free(pa), jx_tree_free(pb), jx_tree_free(ca), jx_tree_free(cb);
}

/* Steps a key_trainer with grads callback mistake m once: it must fail with a message
 * containing want, leaving the params, the key and the count as they were. */
static void check_mistake(int m, const char *want) {
    jx_tree *params = new_params(), *carry = new_key(), *p0 = jx_tree_copy(params);
    jx_train *tr = key_trainer(params, carry, 1, &m);
    CHECK(tr != NULL);
    if (!tr) return;
    jx_array *xy[2], *k0 = jx_array_copy(carry->leaves[0]);
    batch(0, 8, xy);
    CHECK(jx_train_step(tr, xy, NULL, NULL) < 0);
    CHECK_CONTAINS(jx_error(), want);
    CHECK_CONTAINS(jx_error(), "t_train_custom.c");
    for (int i = 0; i < NP; i++) CHECK(same_bits(params->leaves[i], p0->leaves[i]));
    CHECK(same_bits(carry->leaves[0], k0) && jx_train_count(tr) == 0);
    jx_array_free(xy[0]), jx_array_free(xy[1]), jx_array_free(k0);
    jx_train_free(tr);
    jx_tree_free(params), jx_tree_free(carry), jx_tree_free(p0);
}

TEST(grads_callback_errors_name_the_output) {
    check_mistake(WRONG_GRAD_TYPE,
                  "jx_train: grads output 2 (the gradient of param 'lin/b') is f32[6], the param "
                  "is f32[3]");
    check_mistake(ONE_GRAD_SHORT,
                  "jx_train: the grads callback left output 4 (aux 0) unset; its 5 outputs are "
                  "the loss, 2 grads, 1 carry, 1 aux");
    check_mistake(ONE_OUTPUT_MORE, "jx_train: the grads callback set output 5, past its 5 outputs");
    check_mistake(CARRY_TO_F32,
                  "jx_train: grads output 3 (the new carry 'rng/key') is f32[2], the carry is "
                  "u32[2]");
    check_mistake(BAD_OP, "jx_train: grads callback: ");
    check_mistake(BAD_OP, "matmul");
}

/* loss(W, b, key, x, y) with the new key as f32 (a carry type changed) or a loss that is
 * not a scalar (*u = 1). */
static void bad_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    key_loss(t, in, out, NULL);
    if (u) out[0] = jx_sum(jx_mul(in[3], in[3]), 1, 0);
    else out[1] = jx_convert(out[1], JX_F32);
}

TEST(loss_callback_errors_name_the_output) {
    jx_optim o = jx_sgd(0.1);
    for (int nonscalar = 0; nonscalar < 2; nonscalar++) {
        jx_tree *params = new_params(), *carry = new_key();
        jx_train_opts op = {.loss = bad_loss, .user = nonscalar ? (void *)1 : NULL,
                            .n_batch = 2, .n_aux = 1, .carry = carry};
        jx_train *tr = jx_train_new_opts(&o, params, &op);
        jx_array *xy[2];
        batch(0, 8, xy);
        CHECK(tr && jx_train_step(tr, xy, NULL, NULL) < 0);
        if (nonscalar)
            CHECK_CONTAINS(jx_error(), "jx_train: loss output 0 (the loss) is f32[8], not a float "
                                       "scalar");
        else
            CHECK_CONTAINS(jx_error(), "jx_train: loss output 1 (the new carry 'rng/key') is "
                                       "f32[2], the carry is u32[2]");
        jx_array_free(xy[0]), jx_array_free(xy[1]);
        jx_train_free(tr);
        jx_tree_free(params), jx_tree_free(carry);
    }
}

TEST(bad_options) {
    jx_optim o = jx_sgd(0.1);
    jx_tree *params = new_params(), *carry = jx_tree_new();
    jx_train_opts both = {.loss = stats_loss, .grads = key_grads};
    CHECK(jx_train_new_opts(&o, params, &both) == NULL);
    CHECK_CONTAINS(jx_error(), "both a loss and a grads callback");
    CHECK(jx_train_new_opts(&o, params, &(jx_train_opts){.n_batch = 2}) == NULL);
    CHECK_CONTAINS(jx_error(), "NULL loss");
    CHECK(jx_train_new_opts(&o, params, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "NULL options");
    const char *reserved[3] = {"opt/key", "opt", "params/key"};
    for (int i = 0; i < 3; i++) {
        jx_tree *c = jx_tree_new();
        jx_tree_put(c, jx_key_array(jx_key_new(1)), "%s", reserved[i]);
        jx_train_opts op = {.loss = key_loss, .carry = c};
        CHECK(jx_train_new_opts(&o, params, &op) == NULL);
        CHECK_CONTAINS(jx_error(), "is reserved");
        jx_tree_free(c);
    }
    jx_tree_add(carry, "optimizer/x", params->leaves[1]); /* "optimizer" is not under "opt" */
    jx_train_opts op = {.loss = key_loss, .carry = carry};
    CHECK(jx_train_new_opts(&o, params, &op) == NULL);
    CHECK_CONTAINS(jx_error(), "carry 'optimizer/x' is the array of param 'lin/b'");
    jx_tree *twice = jx_tree_new();
    jx_array *k = jx_key_array(jx_key_new(1));
    jx_tree_add(twice, "a", k), jx_tree_add(twice, "b", k);
    op.carry = twice;
    CHECK(jx_train_new_opts(&o, params, &op) == NULL);
    CHECK_CONTAINS(jx_error(), "carry 'b' is the array of carry 'a'");
    jx_array_free(k);
    jx_tree_free(twice), jx_tree_free(carry), jx_tree_free(params);
}

/* ---- DP-SGD through jx_train_epoch ------------------------------------------------------- */

/* Per-example loss(W, b, x[4], y[3]) = sum((x W + b - y)^2). */
static void ex_loss(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val r = jx_sub(jx_add(jx_matvec(jx_transpose(in[0], JX_INTS(1, 0)), in[2]), in[1]), in[3]);
    out[0] = jx_sum_all(jx_mul(r, r));
}

/* value_and_grad(ex_loss) wrt the params. */
static void ex_vg(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_call_value_and_grad(ex_loss, NULL, 4, JX_ARGS(NP, 1, 1), in, 1, 1, (int[]){0}, out);
}

/* grads(W, b, key, x, y): per-example gradients by vmap(value_and_grad), each clipped to
 * norm 1, averaged, plus noise 0.1 / B from a subkey; aux: the largest per-example norm. */
static void dp_grads(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val args[4] = {in[0], in[1], in[3], in[4]}, r[3];
    if (jx_call_vmap(ex_vg, NULL, 4, JX_ARGS(NP, 1, 1), (int[]){JX_NONE, 0, 0}, args, 3, NULL, r))
        return;
    jx_val sq = jx_add(jx_sum(jx_sum(jx_square(r[1]), 2, 0), 1, 0), jx_sum(jx_square(r[2]), 1, 0));
    jx_val norm = jx_sqrt(sq), one = jx_lit(norm, 1.0);
    jx_val scale = jx_div(one, jx_max(one, norm)), keys = jx_random_split(in[2], 3);
    double b = (double)jx_val_type(in[3]).shape[0];
    for (int i = 0; i < NP; i++) {
        jx_val g = jx_dot_general(scale, r[1 + i], JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
        jx_val noise = jx_random_normal(jx_random_subkey(keys, 1 + i), jx_val_type(g));
        out[1 + i] = jx_div(jx_add(g, jx_mul(jx_lit(g, 0.1), noise)), jx_lit(g, b));
    }
    out[0] = jx_mean_all(r[0]);
    out[3] = jx_random_subkey(keys, 0);
    out[4] = jx_reduce_max(norm, JX_INTS(0));
}

/* Hook after each step: counts the steps whose aux (max norm) is > 0. */
static int dp_hook(jx_train *tr, jx_train_batch *b, void *user) {
    (void)tr;
    if (b->after && jx_array_get(b->aux[0], 0) > 0) ++*(int *)user;
    return 0;
}

TEST(dp_sgd_epoch) {
    jx_tree *params = new_params(), *carry = new_key(), *p0 = jx_tree_copy(params);
    jx_optim o = jx_sgd(0.05);
    jx_train *tr = jx_train_new_opts(&o, params, &(jx_train_opts){.grads = dp_grads,
                                     .n_batch = 2, .n_aux = 1, .carry = carry});
    jx_array *xy[2];
    batch(0, 20, xy);
    int hits = 0;
    jx_epoch_opts eo = {.batch = 8, .hook = dp_hook, .user = &hits};
    double loss = NAN;
    CHECK(tr && jx_train_epoch(tr, xy[0], xy[1], &eo, &loss) == 0);
    CHECK(isfinite(loss) && hits == 3 && jx_train_count(tr) == 3 && jx_train_n_compiled(tr) == 2);
    CHECK(!same_bits(params->leaves[0], p0->leaves[0]));
    jx_array *k0 = jx_key_array(jx_key_new(7));
    CHECK(!same_bits(carry->leaves[0], k0));
    jx_array_free(k0);
    jx_array_free(xy[0]), jx_array_free(xy[1]);
    jx_train_free(tr);
    jx_tree_free(params), jx_tree_free(carry), jx_tree_free(p0);
}

TEST_MAIN()
