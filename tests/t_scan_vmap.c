/* scan's batching rule (issue 11): vmap of a scan is a scan of the vmapped body, carry
 * values batched by JAX's fixpoint. Checked against a loop over the examples for batched
 * xs only, batched init only, both, a batched loop-invariant carry, xs batched along a
 * later axis, reversed scans, an integer counter carry, a cond and a scan inside the body;
 * vmap of grad (per-example gradients through an RNN) against a loop of grads, grad of
 * vmap against the unrolled program's, and the batched scan staying one scan. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"
#include "scan_models.h"

enum { B = 3 };

/* The RNN's final h and ys: (W, U, b, h0, xs) -> (h_L, ys), user &reverse. */
static void rnn_outs(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val init[4] = {in[3], in[0], in[1], in[2]}, c[4];
    jx_scan(cell, NULL, 4, init, 1, in + 4, -1, *(const int *)user, 1, c, out + 1);
    out[0] = c[0];
}

/* vmap(f, ax) == the loop over B examples (txc_vmap), f64 to 1e-12. */
static void vmap_ok(const jx_fn *f, const int *ax) {
    CHECK(f != NULL);
    if (f) txc_vmap(f, ax, B, -1, 1, 1e-12);
}

TEST(rnn_vmap_equals_a_loop) {
    const int N = JX_NONE;
    const int axes[][5] = {{N, N, N, N, 0},  /* xs only */
                           {N, N, N, 0, N},  /* h0 only */
                           {N, N, N, 0, 0},  /* both */
                           {0, N, N, N, N},  /* W: a batched invariant carry */
                           {N, 1, N, N, 1},  /* U and xs along axis 1 */
                           {N, N, 0, -1, 2}, /* b, h0 last axis, xs last axis */
                           {0, 0, 0, 0, 0}};
    jx_type ty[5];
    rnn_types(JX_F64, ty);
    for (int reverse = 0; reverse < 2; reverse++) {
        jx_fn *f = jx_trace(rnn_outs, 5, ty, 2, &reverse);
        for (size_t k = 0; k < sizeof axes / sizeof axes[0]; k++) vmap_ok(f, axes[k]);
        jx_fn_free(f);
    }
}

/* The batched scan is one scan node with a batched body, not B scans. */
TEST(batched_scan_stays_one_scan) {
    jx_type ty[5];
    int reverse = 0;
    rnn_types(JX_F32, ty);
    jx_fn *f = jx_trace(rnn_outs, 5, ty, 2, &reverse);
    jx_fn *v = f ? jx_vmap(f, (const int[]){JX_NONE, JX_NONE, JX_NONE, JX_NONE, 0}, NULL, 7)
                 : NULL;
    char *s = v ? jx_fn_to_string(v) : NULL;
    CHECK(s && strstr(s, "= scan[") && !strstr(strstr(s, "= scan[") + 1, "= scan["));
    CHECK(s && strstr(s, "f32[5,7,2]")); /* xs moved to [L, B, X] */
    CHECK(v && jx_fn_out_type(v, 1).shape[0] == 7 && jx_fn_out_type(v, 1).shape[1] == L);
    free(s);
    jx_fn_free(v), jx_fn_free(f);
}

/* An integer counter carry (unbatched: it depends on nothing batched) next to a batched
 * float carry: (h, n, x) -> (h + x n, n + 1, n). */
static void cnt_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], jx_mul(in[2], jx_convert(in[1], JX_F64)));
    out[1] = jx_add(in[1], jx_lit(in[1], 1));
    out[2] = in[1];
}
static void counted(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(cnt_body, NULL, 2, in, 1, in + 2, -1, 1, 1, out, out + 2);
}
/* The counter batched too: n' = n + 1 depends on it. */
TEST(integer_counter_carry) {
    const jx_type ty[3] = {{JX_F64, 1, {H}}, {JX_I32, 0, {0}}, {JX_F64, 2, {L, H}}};
    jx_fn *f = jx_trace(counted, 3, ty, 3, NULL);
    vmap_ok(f, (const int[]){JX_NONE, JX_NONE, 0});
    vmap_ok(f, (const int[]){0, JX_NONE, JX_NONE});
    vmap_ok(f, (const int[]){JX_NONE, 0, JX_NONE});
    vmap_ok(f, (const int[]){0, 0, 1});
    jx_fn_free(f);
}

/* A cond (batched predicate: every branch and a select) holding a scan, in the body. */
TEST(cond_and_scan_inside_the_body) {
    const jx_type ty[2] = {{JX_F64, 0, {0}}, {JX_F64, 2, {L, X}}};
    jx_fn *f = jx_trace(nested, 2, ty, 1, NULL);
    vmap_ok(f, (const int[]){JX_NONE, 0});
    vmap_ok(f, (const int[]){0, JX_NONE});
    vmap_ok(f, (const int[]){0, 1});
    jx_fn_free(f);
    f = jx_trace(nested_direct, 2, ty, 1, NULL); /* a scan alone */
    vmap_ok(f, (const int[]){JX_NONE, 0});
    vmap_ok(f, (const int[]){0, JX_NONE});
    jx_fn *g = f ? jx_grad(f, 2, (int[]){0, 1}) : NULL;
    vmap_ok(g, (const int[]){0, 1});
    jx_fn_free(f), jx_fn_free(g);
}

/* Per-example gradients through the RNN: vmap(grad) == a loop of grads, with the
 * parameters shared and h0, xs per example, and with everything per example. */
TEST(vmap_of_grad_equals_a_loop_of_grads) {
    jx_type ty[5];
    int reverse = 0;
    rnn_types(JX_F64, ty);
    jx_fn *f = jx_trace(rnn_scan, 5, ty, 1, &reverse);
    jx_fn *g = f ? jx_grad(f, 5, (int[]){0, 1, 2, 3, 4}) : NULL;
    vmap_ok(g, (const int[]){JX_NONE, JX_NONE, JX_NONE, 0, 0});
    vmap_ok(g, (const int[]){0, 0, 0, 0, 0});
    jx_fn *h = f ? jx_value_and_grad(f, 2, (int[]){0, 4}) : NULL;
    vmap_ok(h, (const int[]){JX_NONE, JX_NONE, JX_NONE, JX_NONE, 1});
    jx_fn_free(f), jx_fn_free(g), jx_fn_free(h);
}

/* The mean loss over a batch, by vmap of the per-example loss. */
static void batch_loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_fn *v = user;
    jx_val l;
    jx_call(v, in, &l);
    out[0] = jx_sum_all(l);
}

/* grad(vmap(scan)) == grad(vmap(unrolled)); and grad of vmap of grad (second order
 * through both rules) likewise. */
TEST(grad_of_vmap) {
    jx_type ty[5], bt[5];
    int reverse = 1;
    const int ax[5] = {JX_NONE, JX_NONE, JX_NONE, 0, 0};
    rnn_types(JX_F64, ty);
    jx_fn *f[2] = {jx_trace(rnn_scan, 5, ty, 1, &reverse), jx_trace(rnn_unrolled, 5, ty, 1,
                                                                    &reverse)};
    jx_fn *v[2] = {0}, *bl[2] = {0}, *g[2] = {0};
    for (int k = 0; k < 2; k++) {
        v[k] = f[k] ? jx_vmap(f[k], ax, NULL, B) : NULL;
        for (int i = 0; v[k] && i < 5; i++) bt[i] = jx_fn_in_type(v[k], i);
        bl[k] = v[k] ? jx_trace(batch_loss, 5, bt, 1, v[k]) : NULL;
        g[k] = bl[k] ? jx_grad(bl[k], 5, (int[]){0, 1, 2, 3, 4}) : NULL;
    }
    CHECK(g[0] && g[1]);
    if (g[0] && g[1]) {
        jx_array *in[5], *ya[5] = {0}, *yb[5] = {0};
        for (int i = 0; i < 5; i++) in[i] = txc_random(bt[i], -1, 1);
        CHECK(jx_interp(g[0], in, ya) == 0 && jx_interp(g[1], in, yb) == 0);
        for (int j = 0; j < 5 && ya[j] && yb[j]; j++)
            for (int64_t e = 0; e < jx_array_size(ya[j]); e++)
                CHECK_NEAR(jx_array_get(ya[j], e), jx_array_get(yb[j], e), 1e-12);
        txc_free(5, in), txc_free(5, ya), txc_free(5, yb);
        txc_grad(bl[0], -1, 1, 1e-6);
    }
    for (int k = 0; k < 2; k++)
        jx_fn_free(f[k]), jx_fn_free(v[k]), jx_fn_free(bl[k]), jx_fn_free(g[k]);
}

TEST_MAIN()
