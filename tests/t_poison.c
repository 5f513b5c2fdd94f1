/* The first real error wins: an op given an invalid jx_val (a zeroed struct, a value of
 * another trace, of a trace that has ended, a hand-made poison) or a bad operand count
 * names itself, what was wrong and the user's line, instead of the trace later reporting
 * "output 0 was not set by the traced function" (which only appears when that is the
 * problem). Cases run in child processes (errcheck.h): misuse must not crash. */
#include <pthread.h>

#include "check.h"
#include "errcheck.h"

static const jx_type ps_ty = {JX_F32, 1, {3}};
static int ps_line;     /* the line of the bad op in the callback */
static jx_val ps_other; /* a value of another (live or ended) trace */

/* Traces cb on one f32[3] input; expects failure with the op's error on line ps_line. */
static void ps_expect(jx_trace_cb cb, const char *op, const char *what) {
    jx_fn *f = jx_trace(cb, 1, &ps_ty, 1, NULL);
    CHECK(f == NULL);
    char where[64];
    snprintf(where, sizeof where, "t_poison.c:%d: %s: ", ps_line, op);
    HAS(jx_error(), where, what);
    CHECK(!strstr(jx_error(), "output 0"));
    jx_fn_free(f);
}

static void ps_zeroed(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)in, (void)u;
    jx_val z = {0};
    ps_line = __LINE__ + 1;
    out[0] = jx_neg(z);
}
ITEST(zeroed_operand_names_the_op) { ps_expect(ps_zeroed, "neg", "operand 0 is not a traced value"); }

static void ps_zeroed2(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val z;
    memset(&z, 0, sizeof z);
    ps_line = __LINE__ + 1;
    out[0] = jx_exp(jx_dot_general(in[0], z, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS));
}
ITEST(zeroed_second_operand) { ps_expect(ps_zeroed2, "dot_general", "operand 1 is not a traced"); }

static void ps_foreign(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    ps_line = __LINE__ + 1;
    out[0] = jx_add(ps_other, in[0]); /* the foreign value comes first */
}
ITEST(value_of_another_trace) {
    jx_trace *o = jx_trace_begin(1, &ps_ty);
    ps_other = jx_trace_input(o, 0);
    ps_expect(ps_foreign, "add", "operands 0 and 1 belong to different traces");
    jx_trace_abort(o);
}

static void ps_stale(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)in, (void)u;
    ps_line = __LINE__ + 1;
    out[0] = jx_neg(ps_other);
}
ITEST(value_of_an_ended_trace) {
    jx_trace *o = jx_trace_begin(1, &ps_ty);
    ps_other = jx_exp(jx_trace_input(o, 0));
    jx_trace_abort(o);
    ps_expect(ps_stale, "neg", "operand 0 belongs to a trace that has ended");
    /* the accessors do not touch the freed trace either */
    CHECK(jx_val_bad(ps_other));
    CHECK(jx_val_type(ps_other).dtype == JX_NDTYPES);
    CHECK(jx_trace_end(o, 1, &ps_other) == NULL);
    HAS(jx_error(), "trace_end", "already ended");
    jx_trace_abort(o); /* ignored */
    CHECK(jx_val_bad(jx_trace_input(o, 0)));
    HAS(jx_error(), "trace_input", "ended");
}

static void ps_negative_count(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    ps_line = __LINE__ + 1;
    out[0] = jx_concatenate(-1, in, 0);
}
ITEST(negative_operand_count) { ps_expect(ps_negative_count, "concatenate", "-1"); }

static void ps_huge_count(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)in, (void)u;
    jx_val one[1] = {{0}}; /* only one element: the count must be checked before reading */
    ps_line = __LINE__ + 1;
    out[0] = jx_concatenate(100, one, 0);
}
ITEST(operand_count_over_the_cap) {
    ps_expect(ps_huge_count, "concatenate", "bad operand count 100 (at most 64)");
}

static void ps_handmade(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)in, (void)u;
    ps_line = __LINE__ + 1;
    out[0] = jx_neg((jx_val){t, -1});
}
ITEST(poison_without_an_error) {
    ps_expect(ps_handmade, "neg", "operand 0 is a poison value but no error was recorded");
}

static void ps_first_wins(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val z = {0};
    ps_line = __LINE__ + 1;
    jx_val a = jx_neg(z);
    jx_val b = jx_reshape(in[0], JX_INTS(7)); /* a second, later error */
    out[0] = jx_add(a, b);
}
ITEST(first_error_wins) { ps_expect(ps_first_wins, "neg", "operand 0 is not a traced value"); }

static void ps_null_fn(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_fn *g = jx_grad(NULL, 0, NULL); /* fails: NULL */
    ps_line = __LINE__ + 1;
    jx_call(g, in, out);
}
ITEST(call_of_a_failed_transformation_keeps_its_message) {
    ps_expect(ps_null_fn, "call", "NULL function; last error: grad: NULL function");
}

static void ps_unset(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)in, (void)out, (void)u;
}
ITEST(unset_output_is_still_reported) {
    CHECK(jx_trace(ps_unset, 1, &ps_ty, 1, NULL) == NULL);
    HAS(jx_error(), "output 0 was not set by the traced function");
}

/* The jax.numpy-like helpers that pass poison through name themselves too. */
static void ps_helpers(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    jx_val z = {0};
    int which = *(const int *)u;
    switch (which) {
    case 0: ps_line = __LINE__, out[0] = jx_sum_all(z); break;
    case 1: ps_line = __LINE__, out[0] = jx_matmul(jx_reshape(in[0], JX_INTS(1, 3)), z); break;
    case 2: ps_line = __LINE__, out[0] = jx_softmax(ps_other, 0); break;
    case 3: ps_line = __LINE__, out[0] = jx_add(in[0], jx_lit(z, 1.0)); break;
    default: ps_line = __LINE__, out[0] = jx_mean(jx_one_hot(z, 3, JX_F32), 0, 0); break;
    }
}
ITEST(helpers_name_themselves) {
    static const char *const ops[5] = {"sum_all", "matmul", "softmax", "lit", "one_hot"};
    static const char *const what[5] = {"operand 0 is not a traced value",
                                        "operand 1 is not a traced value",
                                        "operand 0 belongs to a trace that has ended",
                                        "operand 0 is not a traced value",
                                        "operand 0 is not a traced value"};
    jx_trace *o = jx_trace_begin(1, &ps_ty);
    ps_other = jx_trace_input(o, 0);
    jx_trace_abort(o);
    for (int i = 0; i < 5; i++) {
        jx_fn *f = jx_trace(ps_helpers, 1, &ps_ty, 1, &i);
        CHECK(f == NULL);
        char where[64];
        snprintf(where, sizeof where, "t_poison.c:%d: %s: ", ps_line, ops[i]);
        HAS(jx_error(), where, what[i]);
        jx_fn_free(f);
    }
}

/* An op with no trace on another thread must not fail this thread's trace. */
static void *ps_thread(void *arg) {
    (void)arg;
    jx_val z = {0};
    jx_val r = jx_neg(z);
    return (void *)(intptr_t)(jx_val_bad(r) && strstr(jx_error(), "neg"));
}
ITEST(errors_of_ops_without_a_trace_stay_on_their_thread) {
    jx_trace *t = jx_trace_begin(1, &ps_ty);
    pthread_t th;
    void *ok = NULL;
    CHECK(pthread_create(&th, NULL, ps_thread, NULL) == 0 && pthread_join(th, &ok) == 0);
    CHECK(ok != NULL);
    CHECK(jx_trace_error(t) == NULL);
    jx_val y = jx_neg(jx_trace_input(t, 0));
    jx_fn *f = jx_trace_end(t, 1, &y);
    CHECK(f != NULL);
    jx_fn_free(f);
}

TEST_MAIN()
