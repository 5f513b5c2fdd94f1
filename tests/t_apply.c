/* Transform-and-call inside a trace (src/transform/apply.c): jx_call_vmap, jx_call_grad,
 * jx_call_value_and_grad, jx_call_vjp and jx_call_jvp give exactly what the explicit
 * trace + transform + jx_call + free sequence gives (compared bit for bit through the
 * interpreter on random inputs), and their errors land on the surrounding trace with the
 * caller's line, poisoning every output. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

enum { NI = 5, NO = 3, NB = 4 };

/* predict(W[NO,NI], x[NI]) -> tanh(W x) [NO] */
static void predict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_tanh(jx_matvec(in[0], in[1]));
}

/* loss(W, x) -> (sum(predict(W, x)^2), mean(x)): a scalar and an aux output */
static void loss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val y[1];
    predict(t, in, y, user);
    out[0] = jx_sum_all(jx_square(y[0]));
    out[1] = jx_mean_all(in[1]);
}

/* Which jx_call_* a test traces: the same computation done by hand is `explicit_of`. */
typedef enum { AP_VMAP, AP_GRAD, AP_VALUE_AND_GRAD, AP_VJP, AP_JVP } ap_kind;
static const int vm_axes[2] = {JX_NONE, 0};
static const int g_wrt[2] = {1, 0};
static const unsigned char j_wrt[2] = {0, 1};

/* The outer function, calling the transformation in one step. Inputs: W, X[NB,NI] for
 * vmap, else W, x, and a cotangent/tangent last. */
static void one_step(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    switch (*(const ap_kind *)user) {
    case AP_VMAP: jx_call_vmap(predict, NULL, 2, JX_FLAT, vm_axes, in, 1, NULL, out); break;
    case AP_GRAD: jx_call_grad(loss, NULL, 2, JX_FLAT, in, 2, 2, g_wrt, out); break;
    case AP_VALUE_AND_GRAD: jx_call_value_and_grad(loss, NULL, 2, JX_FLAT, in, 2, 2, g_wrt, out); break;
    case AP_VJP: jx_call_vjp(predict, NULL, 2, JX_FLAT, in, NULL, 1, &in[2], out); break;
    case AP_JVP: jx_call_jvp(predict, NULL, 2, JX_FLAT, in, j_wrt, &in[2], 1, out); break;
    }
}

/* The same by hand: trace, transform, jx_call, free. */
static void by_hand(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    ap_kind k = *(const ap_kind *)user;
    jx_type ty[2] = {jx_val_type(in[0]), jx_val_type(in[1])};
    if (k == AP_VMAP) ty[1] = JX_TYPE(JX_F64, NI);
    jx_fn *f = k == AP_GRAD || k == AP_VALUE_AND_GRAD ? jx_trace(loss, 2, ty, 2, NULL)
                                                        : jx_trace(predict, 2, ty, 1, NULL);
    jx_fn *g = NULL;
    switch (k) {
    case AP_VMAP: g = jx_vmap(f, vm_axes, NULL, NB); break;
    case AP_GRAD: g = jx_grad(f, 2, g_wrt); break;
    case AP_VALUE_AND_GRAD: g = jx_value_and_grad(f, 2, g_wrt); break;
    case AP_VJP: g = jx_vjp(f, NULL); break;
    case AP_JVP: { /* a jvp with tangents for both, W's zero */
        g = jx_jvp(f, NULL);
        jx_val args[4] = {in[0], in[1], jx_zeros_like(in[0]), in[2]};
        if (g) jx_call(g, args, out);
        jx_fn_free(f), jx_fn_free(g);
        return;
    }
    }
    if (!g) jx_trace_fail(t, jx_error());
    else jx_call(g, in, out);
    jx_fn_free(f), jx_fn_free(g);
}

/* Traces one_step and by_hand for kind k and checks they compute the same bits. */
static void same_as_by_hand(ap_kind k, int n_out) {
    jx_type ty[3] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NI), JX_TYPE(JX_F64, NO)};
    int n_in = k == AP_VMAP || k == AP_GRAD || k == AP_VALUE_AND_GRAD ? 2 : 3;
    if (k == AP_VMAP) ty[1] = JX_TYPE(JX_F64, NB, NI);
    if (k == AP_JVP) ty[2] = JX_TYPE(JX_F64, NI);
    jx_fn *a = jx_trace(one_step, n_in, ty, n_out, &k);
    jx_fn *b = jx_trace(by_hand, n_in, ty, n_out, &k);
    CHECK(a != NULL && b != NULL);
    if (!a || !b) printf("  %s\n", jx_error());
    jx_array *in[3] = {0}, *ya[4] = {0}, *yb[4] = {0};
    for (int i = 0; i < n_in; i++) in[i] = txc_random(ty[i], -1, 1);
    if (a && b) {
        CHECK(jx_interp(a, in, ya) == 0 && jx_interp(b, in, yb) == 0);
        for (int j = 0; j < n_out; j++) {
            CHECK(ya[j] && yb[j] && jx_array_nbytes(ya[j]) == jx_array_nbytes(yb[j]));
            if (ya[j] && yb[j])
                CHECK(!memcmp(jx_array_cdata(ya[j]), jx_array_cdata(yb[j]),
                              jx_array_nbytes(ya[j])));
        }
    }
    txc_free(n_in, in), txc_free(n_out, ya), txc_free(n_out, yb);
    jx_fn_free(a), jx_fn_free(b);
}

TEST(vmap_matches_by_hand) { same_as_by_hand(AP_VMAP, 1); }
TEST(grad_matches_by_hand) { same_as_by_hand(AP_GRAD, 2); }
TEST(value_and_grad_matches_by_hand) { same_as_by_hand(AP_VALUE_AND_GRAD, 4); }
TEST(vjp_matches_by_hand) { same_as_by_hand(AP_VJP, 3); }
TEST(jvp_with_wrt_matches_by_hand) { same_as_by_hand(AP_JVP, 2); }

/* ---- errors land on the surrounding trace ---- */

typedef struct bad_case {
    int axes[2];
    jx_type x_type;
    int poison_w;
} bad_case;

static int bad_line;

/* vmap of predict with the case's axes and x type; W poisoned when asked. */
static void bad_vmap(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const bad_case *c = user;
    jx_val args[2] = {in[0], in[1]};
    if (c->poison_w) args[0] = (jx_val){0};
    jx_val y[1];
    bad_line = __LINE__ + 1;
    int rc = jx_call_vmap(predict, NULL, 2, JX_FLAT, c->axes, args, 1, NULL, y);
    CHECK(rc == -1 && jx_val_bad(y[0]));
    (void)t;
    out[0] = y[0];
}

/* Traces bad_vmap for c; expects failure whose message holds want and the call's line. */
static void expect_vmap_error(bad_case c, const char *want) {
    jx_type ty[2] = {JX_TYPE(JX_F64, NO, NI), c.x_type};
    jx_fn *f = jx_trace(bad_vmap, 2, ty, 1, &c);
    CHECK(f == NULL);
    char line[32];
    snprintf(line, sizeof line, "t_apply.c:%d", bad_line);
    CHECK_CONTAINS(jx_error(), want);
    CHECK_CONTAINS(jx_error(), line);
    jx_fn_free(f);
}

TEST(vmap_errors) {
    expect_vmap_error((bad_case){{JX_NONE, JX_NONE}, JX_TYPE(JX_F64, NB, NI), 0},
                      "no batched argument");
    expect_vmap_error((bad_case){{JX_NONE, 2}, JX_TYPE(JX_F64, NB, NI), 0},
                      "in_axes[1] = 2 out of range for input 1 of type f64[4,5]");
    expect_vmap_error((bad_case){{0, 0}, JX_TYPE(JX_F64, NB, NI), 0},
                      "input 1 has batch size 4 along axis 0, input 0 has 3");
    expect_vmap_error((bad_case){{JX_NONE, 0}, JX_TYPE(JX_F64, NB, NI), 1}, "vmap: operand 0");
    /* predict's own error (matvec of [3,5] with [6]) names predict's op */
    expect_vmap_error((bad_case){{JX_NONE, 0}, JX_TYPE(JX_F64, NB, NI + 1), 0}, "matvec");
}

/* grad of a function whose output 0 is not a scalar: the transformation's error. */
static void bad_grad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val g[1];
    bad_line = __LINE__ + 1;
    CHECK(jx_call_grad(predict, NULL, 2, JX_FLAT, in, 1, 0, NULL, g) == -1 && jx_val_bad(g[0]));
    out[0] = g[0];
}

TEST(grad_error_names_the_call) {
    jx_type ty[2] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NI)};
    jx_fn *f = jx_trace(bad_grad, 2, ty, 1, NULL);
    CHECK(f == NULL);
    char line[32];
    snprintf(line, sizeof line, "t_apply.c:%d", bad_line);
    CHECK_CONTAINS(jx_error(), "grad");
    CHECK_CONTAINS(jx_error(), "scalar");
    CHECK_CONTAINS(jx_error(), line);
    jx_fn_free(f);
}

/* NULL function and NULL tangents: errors, outputs poison, no crash. */
static void null_args(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val y[2];
    CHECK(jx_call_vmap(NULL, NULL, 2, JX_FLAT, vm_axes, in, 1, NULL, y) == -1 &&
          jx_val_bad(y[0]));
    CHECK(jx_call_jvp(predict, NULL, 2, JX_FLAT, in, NULL, NULL, 1, y) == -1 &&
          jx_val_bad(y[1]));
    CHECK(jx_call_grad(loss, NULL, 2, JX_FLAT, NULL, 2, 0, NULL, y) == -1 && jx_val_bad(y[0]));
    CHECK(jx_call_vmap(predict, NULL, 2, JX_FLAT, vm_axes, in, 1, NULL, NULL) == -1);
    out[0] = y[0];
}

TEST(null_arguments) {
    jx_type ty[2] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NB, NI)};
    jx_fn *f = jx_trace(null_args, 2, ty, 1, NULL);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "vmap: NULL function");
    jx_fn_free(f);
}

/* ---- layouts: arguments of several leaves ---- */

/* tpredict((W, b), x) = tanh(W x + b): a 2-leaf tree then an array */
static void tpredict(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_tanh(jx_add(jx_matvec(in[0], in[1 + 1]), in[1]));
}

/* tloss((W, b), X[NB,NI]) = sum(vmap(tpredict, in_axes=(None, 0))((W, b), X)^2) */
static void tloss(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val y[1];
    jx_call_vmap(tpredict, NULL, 3, JX_ARGS(2, 1), (int[]){JX_NONE, 0}, in, 1, NULL, y);
    out[0] = jx_sum_all(jx_square(y[0]));
}

/* grad of tloss with respect to argument 0, the whole tree: both leaves' gradients */
static void tree_grad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_grad(tloss, NULL, 3, JX_ARGS(2, 1), in, 1, 0, NULL, out);
}

/* tloss with per-input axes (JX_FLAT) instead of the layout. */
static void tloss_flat(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val y[1];
    jx_call_vmap(tpredict, NULL, 3, JX_FLAT, (int[]){JX_NONE, JX_NONE, 0}, in, 1, NULL, y);
    out[0] = jx_sum_all(jx_square(y[0]));
}

/* The same gradient by hand, per leaf: jx_grad of tloss_flat with respect to inputs 0, 1. */
static void tree_grad_by_hand(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_type ty[3] = {jx_val_type(in[0]), jx_val_type(in[1]), jx_val_type(in[2])};
    jx_fn *l = jx_trace(tloss_flat, 3, ty, 1, NULL);
    jx_fn *g = l ? jx_grad(l, 2, (int[]){0, 1}) : NULL;
    if (g) jx_call(g, in, out);
    else jx_trace_fail(t, jx_error());
    jx_fn_free(l), jx_fn_free(g);
}

TEST(tree_argument_grad_matches_per_leaf) {
    jx_type ty[3] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NO), JX_TYPE(JX_F64, NB, NI)};
    jx_fn *a = jx_trace(tree_grad, 3, ty, 2, NULL), *b = jx_trace(tree_grad_by_hand, 3, ty, 2, NULL);
    CHECK(a && b);
    if (!a || !b) printf("  %s\n", jx_error());
    jx_array *in[3], *ya[2] = {0}, *yb[2] = {0};
    for (int i = 0; i < 3; i++) in[i] = txc_random(ty[i], -1, 1);
    if (a && b && jx_interp(a, in, ya) == 0 && jx_interp(b, in, yb) == 0) {
        for (int j = 0; j < 2; j++)
            CHECK(jx_array_nbytes(ya[j]) == jx_array_nbytes(yb[j]) &&
                  !memcmp(jx_array_cdata(ya[j]), jx_array_cdata(yb[j]), jx_array_nbytes(ya[j])));
    } else {
        CHECK(0);
    }
    txc_free(3, in), txc_free(2, ya), txc_free(2, yb);
    jx_fn_free(a), jx_fn_free(b);
}

/* A layout whose leaves do not add up, and a wrt argument out of range. */
static void bad_layouts(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val y[2];
    CHECK(jx_call_vmap(tpredict, NULL, 3, JX_ARGS(2, 2), (int[]){JX_NONE, 0}, in, 1, NULL,
                       y) == -1 && jx_val_bad(y[0]));
    CHECK(jx_call_grad(tloss, NULL, 3, JX_ARGS(2, 1), in, 1, 1, (int[]){2}, y) == -1);
    out[0] = y[0];
}

TEST(bad_layouts) {
    jx_type ty[3] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NO), JX_TYPE(JX_F64, NB, NI)};
    jx_fn *f = jx_trace(bad_layouts, 3, ty, 1, NULL);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "vmap: argument 1 of the layout has 2 leaves; 1 inputs remain");
    jx_fn_free(f);
}

/* vmap over a traced jx_fn (user) through jx_fn_cb. */
static void vmap_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_call_vmap(jx_fn_cb, user, 2, JX_FLAT, vm_axes, in, 1, NULL, out);
}

TEST(jx_fn_cb_takes_a_traced_function) {
    jx_type per[2] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NI)};
    jx_type bat[2] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NB, NI)};
    jx_fn *p = jx_trace(predict, 2, per, 1, NULL);
    jx_fn *a = jx_trace(vmap_fn, 2, bat, 1, p);
    ap_kind k = AP_VMAP;
    jx_fn *b = jx_trace(one_step, 2, bat, 1, &k);
    jx_fn *again = jx_trace(jx_fn_cb, 2, per, 1, p); /* a re-trace prints the same */
    CHECK(p && a && b && again);
    char *sa = a ? jx_fn_to_string(a) : NULL, *sb = b ? jx_fn_to_string(b) : NULL;
    char *sp = p ? jx_fn_to_string(p) : NULL, *sg = again ? jx_fn_to_string(again) : NULL;
    CHECK(sa && sb && !strcmp(sa, sb)); /* the callback and the jx_fn trace alike */
    CHECK(sp && sg && !strcmp(sp, sg));
    free(sa), free(sb), free(sp), free(sg);
    /* counts and types must match the trace's */
    CHECK(jx_trace(jx_fn_cb, 2, per, 2, p) == NULL);
    CHECK_CONTAINS(jx_error(), "fn_cb: the function has 2 inputs and 1 outputs, the trace 2 and 2");
    CHECK(jx_trace(jx_fn_cb, 1, per, 1, p) == NULL);
    CHECK_CONTAINS(jx_error(), "the trace 1 and 1");
    CHECK(jx_trace(jx_fn_cb, 2, bat, 1, p) == NULL);
    CHECK_CONTAINS(jx_error(), "argument 1 has type f64[4,5], the function expects f64[5]");
    CHECK(jx_trace(jx_fn_cb, 2, per, 1, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "fn_cb: user is NULL, not a jx_fn");
    jx_fn_free(p), jx_fn_free(a), jx_fn_free(b), jx_fn_free(again);
}

/* wrt naming argument 0 (two leaves) 33 times: 66 gradients, past the 64 allowed. */
static void too_many_wrt(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    int wrt[33];
    jx_val g[64];
    for (int k = 0; k < 33; k++) wrt[k] = 0;
    CHECK(jx_call_grad(tloss, NULL, 3, JX_ARGS(2, 1), in, 1, 33, wrt, g) == -1);
    out[0] = g[0];
}

TEST(too_many_wrt_leaves_is_an_error) {
    jx_type ty[3] = {JX_TYPE(JX_F64, NO, NI), JX_TYPE(JX_F64, NO), JX_TYPE(JX_F64, NB, NI)};
    CHECK(jx_trace(too_many_wrt, 3, ty, 1, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "wrt lists more than 64 leaves");
}

TEST_MAIN()
