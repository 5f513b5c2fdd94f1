/* jx_jit_trace: retracing per input signature, caching, donation through the cache, and
 * errors from a callback that fails. */
#include "check.h"

static int n_traces;

/* f(x, y) = sum over rows of x*y + 1, for any [B, n] shapes */
static void rowsum(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    n_traces++;
    out[0] = jx_add(jx_sum(jx_mul(in[0], in[1]), 1, 0), jx_lit(in[0], 1.0));
}

static jx_array *filled(int64_t b, int64_t n, double base) {
    int64_t sh[2] = {b, n};
    jx_array *a = jx_array_new(JX_F32, 2, sh);
    for (int64_t i = 0; i < b * n; i++) jx_array_set(a, i, base + (double)i);
    return a;
}

TEST(retraces_once_per_signature) {
    n_traces = 0;
    jx_jitfn *jf = jx_jit_trace(rowsum, 2, 1, NULL, NULL);
    CHECK(jf != NULL);
    int64_t shapes[3][2] = {{2, 3}, {4, 3}, {2, 3}};
    for (int k = 0; k < 3 && jf; k++) {
        jx_array *x = filled(shapes[k][0], shapes[k][1], 0), *y = filled(shapes[k][0], shapes[k][1], 1);
        jx_array *in[2] = {x, y}, *out[1] = {NULL};
        CHECK(jx_jitfn_run(jf, in, out) == 0);
        for (int64_t r = 0; out[0] && r < shapes[k][0]; r++) {
            double want = 1;
            for (int64_t c = 0; c < shapes[k][1]; c++) {
                double xv = (double)(r * shapes[k][1] + c);
                want += xv * (xv + 1);
            }
            CHECK_NEAR(jx_array_get(out[0], r), want, 1e-6);
        }
        jx_array_free(out[0]);
        jx_array_free(x);
        jx_array_free(y);
    }
    CHECK(n_traces == 2);
    CHECK(jx_jitfn_n_compiled(jf) == 2);
    jx_jitfn_free(jf);
}

/* sgd(w, g) = w - 0.5 * g, with w donated and updated in place */
static void sgd(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sub(in[0], jx_mul(jx_lit(in[0], 0.5), in[1]));
}

TEST(donated_input_updated_in_place) {
    unsigned char donate[2] = {1, 0};
    jx_jit_opts o = {donate, 0, 0};
    jx_jitfn *jf = jx_jit_trace(sgd, 2, 1, NULL, &o);
    jx_array *w = filled(1, 4, 1), *g = filled(1, 4, 2);
    for (int step = 0; step < 3; step++) {
        jx_array *in[2] = {w, g}, *out[1] = {w};
        CHECK(jx_jitfn_run(jf, in, out) == 0);
        CHECK(out[0] == w);
    }
    for (int i = 0; i < 4; i++) CHECK_NEAR(jx_array_get(w, i), (1.0 + i) - 1.5 * (2.0 + i), 1e-6);
    jx_array_free(w);
    jx_array_free(g);
    jx_jitfn_free(jf);
}

static void fails_on_rank1(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    if (jx_val_type(in[0]).rank == 1) {
        jx_trace_fail(t, "rank-1 inputs are not supported here");
        return;
    }
    out[0] = jx_exp(in[0]);
}

TEST(callback_errors_are_reported) {
    jx_jitfn *jf = jx_jit_trace(fails_on_rank1, 1, 1, NULL, NULL);
    int64_t n = 3;
    jx_array *x = jx_array_new(JX_F32, 1, &n), *out[1] = {NULL};
    CHECK(jx_jitfn_run(jf, &x, out) < 0);
    CHECK_CONTAINS(jx_error(), "rank-1 inputs are not supported");
    CHECK_CONTAINS(jx_error(), "t_jitfn.c");
    jx_array *nul[1] = {NULL};
    CHECK(jx_jitfn_run(jf, nul, out) < 0);
    CHECK_CONTAINS(jx_error(), "input 0 is NULL");
    CHECK(jx_jitfn_run(NULL, &x, out) < 0);
    CHECK(jx_jit_trace(NULL, 1, 1, NULL, NULL) == NULL);
    jx_array_free(x);
    jx_jitfn_free(jf);
}

TEST_MAIN()
