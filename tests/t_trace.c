/* Tracing: recording, sticky errors with source lines, jx_call, the verifier, interp
 * argument checks. */
#include "check.h"
#include "core/ir.h"

static void sq_plus(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    out[0] = jx_add(jx_mul(in[0], in[0]), in[1]);
}

/* Runs f on two f32 vectors of length n and returns output 0 (caller frees). */
static jx_array *run2(const jx_fn *f, const float *a, const float *b, int64_t n) {
    jx_array *in[2] = {jx_array_from(JX_F32, 1, &n, a), jx_array_from(JX_F32, 1, &n, b)};
    jx_array *out[1] = {NULL};
    int rc = jx_interp(f, in, out);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    return rc == 0 ? out[0] : NULL;
}

TEST(trace_records_equations) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(sq_plus, 2, ty, 1, NULL);
    CHECK(f != NULL);
    if (!f) return;
    CHECK(jx_fn_n_in(f) == 2);
    CHECK(jx_fn_n_out(f) == 1);
    CHECK(jx_fn_n_eqns(f) == 2);
    CHECK(jx_fn_verify(f) == 0);
    jx_type o = jx_fn_out_type(f, 0);
    CHECK(jx_type_eq(&o, &ty[0]));
    CHECK(f->nodes[2].loc.line > 0);
    CHECK_CONTAINS(f->nodes[2].loc.file, "t_trace.c");
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    jx_array *r = run2(f, a, b, 3);
    CHECK(r != NULL);
    if (r) {
        CHECK_NEAR(jx_array_get(r, 0), 11, 0);
        CHECK_NEAR(jx_array_get(r, 2), 39, 0);
    }
    jx_array_free(r);
    jx_fn_free(f);
}

static int bad_line;
static void bad_shapes(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)user;
    bad_line = __LINE__ + 1;
    jx_val s = jx_add(in[0], in[1]); /* f32[3] + f32[4]: error, poison */
    jx_val e = jx_exp(s);            /* poison passes through, no new message */
    out[0] = jx_mul(e, in[0]);
}

TEST(errors_are_sticky_and_name_op_shapes_and_line) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 4)};
    jx_fn *f = jx_trace(bad_shapes, 2, ty, 1, NULL);
    CHECK(f == NULL);
    const char *e = jx_error();
    CHECK_CONTAINS(e, "add");
    CHECK_CONTAINS(e, "f32[3]");
    CHECK_CONTAINS(e, "f32[4]");
    char where[64];
    snprintf(where, sizeof where, "t_trace.c:%d", bad_line);
    CHECK_CONTAINS(e, where);
    jx_fn_free(f);
}

static void leave_output_unset(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    (void)in;
    (void)out;
    (void)user;
}

TEST(unset_output_is_an_error) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 2)};
    jx_fn *f = jx_trace(leave_output_unset, 1, ty, 1, NULL);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "output 0");
}

TEST(begin_end_without_callback) {
    jx_type ty[1] = {JX_TYPE(JX_F64, 2, 2)};
    jx_trace *t = jx_trace_begin(1, ty);
    CHECK(t != NULL);
    if (!t) return;
    jx_val x = jx_trace_input(t, 0);
    jx_val y = jx_neg(x);
    jx_val outs[2] = {y, x};
    jx_fn *f = jx_trace_end(t, 2, outs);
    CHECK(f != NULL);
    CHECK(jx_fn_n_out(f) == 2);
    jx_fn_free(f);
    t = jx_trace_begin(1, ty);
    jx_val bad = jx_trace_input(t, 5);
    CHECK(jx_val_bad(bad));
    CHECK_CONTAINS(jx_trace_error(t), "input 5 out of range");
    jx_trace_abort(t);
}

TEST(values_from_two_traces_do_not_mix) {
    jx_type ty[1] = {JX_TYPE(JX_F32, 2)};
    jx_trace *t1 = jx_trace_begin(1, ty), *t2 = jx_trace_begin(1, ty);
    jx_val a = jx_trace_input(t1, 0), b = jx_trace_input(t2, 0);
    jx_val c = jx_add(a, b);
    CHECK(jx_val_bad(c));
    CHECK_CONTAINS(jx_trace_error(t1), "different trace");
    jx_trace_abort(t1);
    jx_trace_abort(t2);
}

TEST(uninitialised_values_are_errors) {
    jx_val z = {NULL, -1};
    jx_val r = jx_exp(z);
    CHECK(jx_val_bad(r));
    CHECK_CONTAINS(jx_error(), "exp");
    CHECK_CONTAINS(jx_error(), "not traced");
}

TEST(bad_input_types_rejected) {
    jx_type bad[1] = {JX_TYPE(JX_F32, -1)};
    CHECK(jx_trace_begin(1, bad) == NULL);
    CHECK_CONTAINS(jx_error(), "input 0");
    CHECK(jx_trace_begin(1, NULL) == NULL);
    jx_type r9 = JX_SCALAR(JX_F32);
    r9.rank = 9;
    CHECK(jx_trace_begin(1, &r9) == NULL);
    CHECK(jx_trace(NULL, 0, NULL, 0, NULL) == NULL);
    CHECK(jx_trace_end(NULL, 0, NULL) == NULL);
}

static void call_twice(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_fn *inner = user;
    jx_val mid[1], args[2] = {in[0], in[1]};
    jx_call(inner, args, mid);
    jx_val args2[2] = {mid[0], in[1]};
    jx_call(inner, args2, out);
}

TEST(call_inlines_a_function) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 2), JX_TYPE(JX_F32, 2)};
    jx_fn *inner = jx_trace(sq_plus, 2, ty, 1, NULL);
    jx_fn *outer = jx_trace(call_twice, 2, ty, 1, inner);
    CHECK(outer != NULL);
    if (outer) {
        CHECK(jx_fn_n_eqns(outer) == 4);
        float a[2] = {2, 3}, b[2] = {1, -1};
        jx_array *r = run2(outer, a, b, 2);
        CHECK(r != NULL);
        if (r) {
            CHECK_NEAR(jx_array_get(r, 0), 26, 0); /* (2*2+1)^2 + 1 */
            CHECK_NEAR(jx_array_get(r, 1), 63, 0); /* (3*3-1)^2 - 1 */
        }
        jx_array_free(r);
    }
    jx_fn_free(outer);
    jx_fn_free(inner);
}

TEST(call_checks_argument_types) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 2), JX_TYPE(JX_F32, 2)};
    jx_fn *inner = jx_trace(sq_plus, 2, ty, 1, NULL);
    jx_type ty3[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)};
    jx_fn *outer = jx_trace(call_twice, 2, ty3, 1, inner);
    CHECK(outer == NULL);
    CHECK_CONTAINS(jx_error(), "call");
    CHECK_CONTAINS(jx_error(), "f32[3]");
    CHECK_CONTAINS(jx_error(), "f32[2]");
    jx_val o[1];
    CHECK(jx_call(NULL, NULL, o) < 0);
    jx_fn_free(inner);
}

TEST(interp_checks_inputs) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(sq_plus, 2, ty, 1, NULL);
    int64_t n = 4;
    jx_array *in[2] = {jx_array_new(JX_F32, 1, &n), jx_array_new(JX_F32, 1, &n)};
    jx_array *out[1] = {NULL};
    CHECK(jx_interp(f, in, out) < 0);
    CHECK_CONTAINS(jx_error(), "f32[4]");
    CHECK_CONTAINS(jx_error(), "f32[3]");
    jx_array *nul[2] = {NULL, NULL};
    CHECK(jx_interp(f, nul, out) < 0);
    CHECK(jx_interp(f, NULL, out) < 0);
    CHECK(jx_interp(NULL, in, out) < 0);
    jx_array_free(in[0]);
    jx_array_free(in[1]);
    jx_fn_free(f);
}

TEST(verifier_catches_corruption) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(sq_plus, 2, ty, 1, NULL);
    CHECK(jx_fn_verify(f) == 0);
    f->nodes[3].type.shape[0] = 7; /* add claims f32[7] */
    CHECK(jx_fn_verify(f) < 0);
    CHECK_CONTAINS(jx_error(), "add");
    f->nodes[3].type.shape[0] = 3;
    int32_t *ins = (int32_t *)f->nodes[2].in;
    ins[0] = 3; /* operand refers forward */
    CHECK(jx_fn_verify(f) < 0);
    CHECK_CONTAINS(jx_error(), "not an earlier node");
    ins[0] = 0;
    CHECK(jx_fn_verify(f) == 0);
    CHECK(jx_fn_verify(NULL) < 0);
    jx_fn_free(f);
}

TEST(type_helpers) {
    jx_type t = JX_TYPE(JX_I32, 2, 0, 5);
    char buf[64];
    CHECK(strcmp(jx_type_str(&t, buf, sizeof buf), "i32[2,0,5]") == 0);
    CHECK(jx_type_size(&t) == 0);
    jx_type s = JX_SCALAR(JX_BOOL);
    CHECK(strcmp(jx_type_str(&s, buf, sizeof buf), "bool[]") == 0);
    CHECK(jx_type_size(&s) == 1);
    CHECK(jx_dtype_size(JX_F64) == 8);
    CHECK(strcmp(jx_dtype_name((jx_dtype)99), "?") == 0);
    jx_type huge = JX_TYPE(JX_F32, (int64_t)1 << 40, (int64_t)1 << 40);
    CHECK(jx_type_size(&huge) < 0);
}

TEST_MAIN()
