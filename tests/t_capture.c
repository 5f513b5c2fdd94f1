/* Closure capture (issue 11): a scan body or cond branch may use values of the trace it
 * is called from, as a JAX body closes over outer tracers. The captured values become
 * operands of the node (scan: carries the body returns unchanged; cond: extra operands of
 * every branch), at any nesting depth; values of unrelated traces are still refused. */
#include <stdlib.h>
#include <string.h>

#include "txcheck.h"

/* The outer function's inputs, for the callbacks: (w[3,3], u[3,2], h0[3], xs[4,2]). */
static const jx_type rnn_types[4] = {{JX_F64, 2, {3, 3}}, {JX_F64, 2, {3, 2}},
                                     {JX_F64, 1, {3}}, {JX_F64, 2, {4, 2}}};

/* Elman cell closing over the outer w and u (user: the outer inputs): (h, x) -> (h', h'). */
static void cell_closed(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_val *outer = user;
    jx_val h = jx_tanh(jx_add(jx_matvec(outer[0], in[0]), jx_matvec(outer[1], in[1])));
    out[0] = h, out[1] = h;
}

/* The same cell taking w and u as carries: (h, w, u, x) -> (h', w, u, h'). */
static void cell_explicit(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_matvec(in[1], in[0]), jx_matvec(in[2], in[3])));
    out[0] = h, out[1] = in[1], out[2] = in[2], out[3] = h;
}

static void f_closed(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(cell_closed, (void *)in, 1, in + 2, 1, in + 3, -1, 0, 1, out, out + 1);
}

static void f_explicit(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val init[3] = {in[2], in[0], in[1]}, c[3];
    jx_scan(cell_explicit, NULL, 3, init, 1, in + 3, -1, 0, 1, c, out + 1);
    out[0] = c[0];
}

/* Runs f and g on the same random inputs; their outputs must be equal. */
static void same_outputs(const jx_fn *f, const jx_fn *g) {
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_array *x[8] = {0}, *a[8] = {0}, *b[8] = {0};
    for (int i = 0; i < ni; i++) x[i] = txc_random(jx_fn_in_type(f, i), -1, 1);
    CHECK(jx_interp(f, x, a) == 0 && jx_interp(g, x, b) == 0);
    for (int j = 0; j < no && a[j] && b[j]; j++)
        for (int64_t k = 0; k < jx_array_size(a[j]); k++)
            CHECK(jx_array_get(a[j], k) == jx_array_get(b[j], k));
    txc_free(ni, x), txc_free(no, a), txc_free(no, b);
}

TEST(scan_body_closes_over_outer_values) {
    jx_fn *f = jx_trace(f_closed, 4, rnn_types, 2, NULL);
    jx_fn *g = jx_trace(f_explicit, 4, rnn_types, 2, NULL);
    CHECK(f != NULL && g != NULL);
    if (!f) printf("  %s\n", jx_error());
    if (f && g) {
        CHECK(jx_fn_verify(f) == 0);
        same_outputs(f, g);
        char *txt = jx_fn_to_string(f);
        /* w and u ride as carries: the scan has 3 carries and reads the outer w and u */
        CHECK_CONTAINS(txt, "n_carry=(3)");
        jx_fn *back = txt ? jx_fn_parse(txt) : NULL;
        char *txt2 = back ? jx_fn_to_string(back) : NULL;
        CHECK(txt && txt2 && !strcmp(txt, txt2));
        jx_fn_free(back);
        free(txt), free(txt2);
        txc_grad(f, -1, 1, 1e-6); /* vjp (if scan has one) and jvp against differences */
    }
    jx_fn_free(f), jx_fn_free(g);
}

/* Traces f on rnn_types with n_out outputs and runs it on random inputs x (in [-1, 1])
 * into o. The function, or NULL after printing why (x and o left empty). */
static jx_fn *trace_and_run(jx_trace_cb f, int n_out, jx_array **x, jx_array **o) {
    jx_fn *fn = jx_trace(f, 4, rnn_types, n_out, NULL);
    CHECK(fn != NULL);
    if (!fn) {
        printf("  %s\n", jx_error());
        return NULL;
    }
    for (int i = 0; i < 4; i++) x[i] = txc_random(rnn_types[i], -1, 1);
    CHECK(jx_interp(fn, x, o) == 0);
    return fn;
}

/* A body using an outer value alone (an op of outer values only is computed outside the
 * loop) and returning an outer value as it is. */
static void cell_hoist(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_val *outer = user;
    jx_val w2 = jx_mul(outer[0], outer[0]); /* outer operands only: an outer op */
    out[0] = jx_add(in[0], jx_matvec(w2, in[0]));
    out[1] = outer[2]; /* h0 itself as y */
}

static void f_hoist(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(cell_hoist, (void *)in, 1, in + 2, 0, NULL, 3, 0, 1, out, out + 1);
}

TEST(outer_only_ops_and_returned_outer_values) {
    jx_array *x[4] = {0}, *o[2] = {0};
    jx_fn *f = trace_and_run(f_hoist, 2, x, o);
    if (!f) return;
    if (o[0] && o[1]) {
        double h[3], w2[9];
        for (int k = 0; k < 9; k++) w2[k] = jx_array_get(x[0], k) * jx_array_get(x[0], k);
        for (int k = 0; k < 3; k++) h[k] = jx_array_get(x[2], k);
        for (int s = 0; s < 3; s++) {
            double n[3];
            for (int r = 0; r < 3; r++)
                n[r] = h[r] + w2[3 * r] * h[0] + w2[3 * r + 1] * h[1] + w2[3 * r + 2] * h[2];
            memcpy(h, n, sizeof h);
        }
        for (int k = 0; k < 3; k++) CHECK_NEAR(jx_array_get(o[0], k), h[k], 1e-12);
        for (int s = 0; s < 3; s++)
            for (int k = 0; k < 3; k++)
                CHECK(jx_array_get(o[1], 3 * s + k) == jx_array_get(x[2], k));
    }
    txc_free(4, x), txc_free(2, o);
    jx_fn_free(f);
}

/* Branches closing over different outer values: w only, u only. */
static void br_w(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    out[0] = jx_matvec(((const jx_val *)user)[0], in[0]);
}
static void br_u(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_val *outer = user;
    out[0] = jx_add(in[0], jx_sum(outer[1], 1, 0));
}

static void f_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val pred = jx_gt(jx_sum_all(in[2]), jx_lit(in[2], 0));
    jx_cond(pred, br_w, br_u, (void *)in, 1, in + 2, 1, out);
}

TEST(cond_branches_close_over_different_values) {
    jx_fn *f = jx_trace(f_cond, 4, rnn_types, 1, NULL);
    CHECK(f != NULL);
    if (!f) {
        printf("  %s\n", jx_error());
        return;
    }
    for (int c = 0; c < 2; c++) {
        jx_array *x[4] = {0}, *o[1] = {0};
        for (int i = 0; i < 4; i++) x[i] = txc_random(rnn_types[i], -1, 1);
        for (int k = 0; k < 3; k++) jx_array_set(x[2], k, c ? 1 + k : -1 - k);
        CHECK(jx_interp(f, x, o) == 0);
        for (int r = 0; o[0] && r < 3; r++) {
            double want = c ? 0 : jx_array_get(x[2], r);
            for (int k = 0; k < 3; k++)
                want += c ? jx_array_get(x[0], 3 * r + k) * jx_array_get(x[2], k) : 0;
            for (int k = 0; !c && k < 2; k++) want += jx_array_get(x[1], 2 * r + k);
            CHECK_NEAR(jx_array_get(o[0], r), want, 1e-12);
        }
        txc_free(4, x), txc_free(1, o);
    }
    txc_grad(f, 0.1, 1, 1e-6); /* cond's vjp and jvp with the captured operands */
    jx_fn_free(f);
}

/* Nested: an inner scan in the outer body uses the outermost trace's w. */
static void inner_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    out[0] = jx_tanh(jx_matvec(((const jx_val *)user)[0], in[0]));
}
static void outer_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val c[1];
    jx_scan(inner_body, user, 1, in, 0, NULL, 2, 0, 0, c, NULL);
    out[0] = jx_add(c[0], in[1]);
}
static void f_nested(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val xs3 = jx_slice(in[3], JX_INTS(0, 0), JX_INTS(4, 2), JX_INTS(1, 1));
    jx_val xs = jx_pad(xs3, jx_lit(xs3, 0), JX_INTS(0, 0), JX_INTS(0, 1), JX_INTS(0, 0));
    jx_scan(outer_body, (void *)in, 1, in + 2, 1, &xs, -1, 0, 0, out, NULL);
}

TEST(nested_scans_capture_through_two_levels) {
    jx_array *x[4] = {0}, *o[1] = {0};
    jx_fn *f = trace_and_run(f_nested, 1, x, o);
    if (!f) return;
    double h[3];
    for (int k = 0; k < 3; k++) h[k] = jx_array_get(x[2], k);
    for (int s = 0; s < 4; s++) {
        for (int it = 0; it < 2; it++) {
            double n[3];
            for (int r = 0; r < 3; r++) {
                double a = 0;
                for (int k = 0; k < 3; k++) a += jx_array_get(x[0], 3 * r + k) * h[k];
                n[r] = tanh(a);
            }
            memcpy(h, n, sizeof h);
        }
        for (int k = 0; k < 3; k++) h[k] += k < 2 ? jx_array_get(x[3], 2 * s + k) : 0;
    }
    for (int k = 0; o[0] && k < 3; k++) CHECK_NEAR(jx_array_get(o[0], k), h[k], 1e-12);
    txc_free(4, x), txc_free(1, o);
    txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
}

/* A value of an unrelated trace is still refused, naming the op. */
static jx_val stray;
static void body_stray(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], stray);
}
static void f_stray(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_scan(body_stray, NULL, 1, in + 2, 0, NULL, 2, 0, 0, out, NULL);
}

TEST(a_value_of_an_unrelated_trace_is_an_error) {
    jx_type s = {JX_F64, 1, {3}};
    jx_trace *other = jx_trace_begin(1, &s);
    stray = jx_trace_input(other, 0);
    jx_fn *f = jx_trace(f_stray, 4, rnn_types, 1, NULL);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "add");
    CHECK_CONTAINS(jx_error(), "different trace");
    jx_trace_abort(other);
}

/* A cond inside a scan body whose operands are all outer values, while its branches use
 * the body's own value (user): emitted in the body (was: in the outer trace, where the
 * branches could not reach the body's value). */
static void br_add_h(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    out[0] = jx_add(in[0], *(const jx_val *)user);
}
static void br_sub_h(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    out[0] = jx_sub(in[0], *(const jx_val *)user);
}
static void body_outer_cond(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_val *outer = user; /* h0 and a bool from the outer function */
    jx_val h = in[0];
    jx_cond(outer[1], br_add_h, br_sub_h, (void *)&h, 1, outer, 1, out);
}
static void f_outer_cond(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val outer[2] = {in[2], jx_gt(jx_sum_all(in[2]), jx_lit(in[2], 0))};
    jx_scan(body_outer_cond, outer, 1, in + 2, 0, NULL, 3, 0, 0, out, NULL);
}

TEST(control_flow_of_outer_values_inside_a_body) {
    jx_array *x[4] = {0}, *o[1] = {0};
    jx_fn *f = trace_and_run(f_outer_cond, 1, x, o);
    if (!f) return;
    double s = 0;
    for (int k = 0; k < 3; k++) s += jx_array_get(x[2], k);
    for (int k = 0; o[0] && k < 3; k++) { /* h = h0 + h (4 h0 after 3 steps) or h0 - h (0) */
        double h0 = jx_array_get(x[2], k);
        CHECK_NEAR(jx_array_get(o[0], k), s > 0 ? 4 * h0 : 0, 1e-12);
    }
    txc_free(4, x), txc_free(1, o);
    jx_fn_free(f);
}

/* A jx_call_vmap callback closing over a value of the enclosing trace: a clear error
 * (each transformation would need to take the value as an argument), not "different
 * traces"; a callback using outer values only in ops of its own (hoisted) is fine. */
static void scaled(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    out[0] = jx_mul(in[0], jx_sum_all(*(const jx_val *)user)); /* sum_all: an outer op */
}
static void f_vmap_closure(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_call_vmap(scaled, (void *)&in[2], 1, JX_FLAT, (const int[]){0}, in + 3, 1, NULL, out);
}

TEST(a_closure_in_a_call_vmap_callback_is_a_clear_error) {
    jx_fn *f = jx_trace(f_vmap_closure, 4, rnn_types, 1, NULL);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "closure");
    CHECK_CONTAINS(jx_error(), "t_capture.c");
    jx_fn_free(f);
}

TEST_MAIN()
