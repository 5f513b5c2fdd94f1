/* Errors of custom derivatives: rules of the wrong signature, rules that fail to trace or
 * reach into the surrounding trace, bad operands, jvp of a custom_vjp function. Each names
 * the op, the types and the user's line, and propagates into the surrounding trace. */
#include "check.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)

static void sq(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
}
/* A jvp rule whose tangent has the wrong shape. */
static void bad_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = jx_slice(in[1], JX_INTS(0), JX_INTS(2), JX_INTS(1));
}
static void good_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = jx_mul(jx_lit(in[0], 2.0), jx_mul(in[0], in[1]));
}
/* A function whose body fails (shapes do not broadcast): the op's own error. */
static void bad_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)u;
    out[0] = jx_add(in[0], jx_zeros_like(jx_iota(t, F32(2), 0)));
}
/* A rule that uses a value of the surrounding trace (rules must take it as an input). */
static jx_val captured;
static void closure_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = jx_mul(captured, in[1]);
}
/* fwd that sets y only although two residuals are declared. */
static void short_fwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
}
static void sq_fwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = in[0];
}
/* bwd returning a cotangent of the wrong dtype. */
static void bad_bwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_convert(jx_mul(in[0], in[1]), JX_F64);
}
static void sq_bwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(jx_lit(in[0], 2.0), jx_mul(in[0], in[1]));
}

enum { E_BAD_JVP, E_BAD_BODY, E_CLOSURE, E_SHORT_FWD, E_BAD_BWD, E_NO_ARGS, E_NULL_CB,
       E_POISON, E_FN_TYPES };

/* The outer function: one failing custom call (kind *u), then more ops on its result. */
static void outer(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    int kind = *(const int *)u;
    jx_val x = in[0], y = x;
    captured = x;
    switch (kind) {
    case E_BAD_JVP: y = jx_custom_jvp(sq, bad_jvp, 1, &x, NULL); break;
    case E_BAD_BODY: y = jx_custom_jvp(bad_body, good_jvp, 1, &x, NULL); break;
    case E_CLOSURE: y = jx_custom_jvp(sq, closure_jvp, 1, &x, NULL); break;
    case E_SHORT_FWD: y = jx_custom_vjp(sq, short_fwd, sq_bwd, 2, 1, &x, NULL); break;
    case E_BAD_BWD: y = jx_custom_vjp(sq, sq_fwd, bad_bwd, 1, 1, &x, NULL); break;
    case E_NO_ARGS: y = jx_custom_jvp(sq, good_jvp, 0, &x, NULL); break;
    case E_NULL_CB: y = jx_custom_jvp(sq, NULL, 1, &x, NULL); break;
    case E_POISON:
        y = jx_add(x, jx_iota(t, F32(2), 0)); /* the first error */
        y = jx_custom_jvp(sq, good_jvp, 1, &y, NULL);
        break;
    case E_FN_TYPES: {
        jx_type t2 = F32(2);
        jx_fn *f2 = jx_trace(sq, 1, &t2, 1, NULL);
        jx_fn *j = jx_trace(good_jvp, 2, (jx_type[]){F32(3), F32(3)}, 2, NULL);
        y = jx_custom_jvp_fn(f2, j, 1, &x);
        jx_fn_free(f2);
        jx_fn_free(j);
        break;
    }
    }
    out[0] = jx_sum_all(jx_exp(y));
}

/* Traces outer for kind; expects failure with every string of want in the message. */
static void expect_error(int kind, const char *const *want, int n) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(outer, 1, &ty, 1, &kind);
    CHECK(f == NULL);
    jx_fn_free(f);
    for (int i = 0; i < n; i++) CHECK_CONTAINS(jx_error(), want[i]);
}

#define EXPECT(kind, ...)                                                               \
    do {                                                                                \
        const char *w_[] = {__VA_ARGS__};                                               \
        expect_error(kind, w_, (int)(sizeof w_ / sizeof w_[0]));                        \
    } while (0)

TEST(rule_of_the_wrong_type_names_op_types_and_line) {
    EXPECT(E_BAD_JVP, "t_custom_errors.c:64: custom_jvp: rule 'jvp' maps (f32[3], f32[3]) -> "
                      "(f32[3], f32[2]), expected (f32[3], f32[3]) -> (f32[3], f32[3])");
    EXPECT(E_BAD_BWD, "t_custom_errors.c:68: custom_vjp: rule 'bwd' maps (f32[3], f32[3]) -> "
                      "(f64[3]), expected (f32[3], f32[3]) -> (f32[3])");
    EXPECT(E_FN_TYPES, "custom_jvp: rule 'call' maps (f32[2]) -> (f32[2]), expected (f32[3]) -> "
                       "(f32[2])", "t_custom_errors.c:79");
}

TEST(rule_that_fails_to_trace_keeps_its_own_error) {
    /* the body's own op error, with the body's line, inside the custom op's message */
    EXPECT(E_BAD_BODY, "t_custom_errors.c:65: custom_jvp: tracing 'f': ",
           "t_custom_errors.c:26: add: ");
    EXPECT(E_SHORT_FWD, "t_custom_errors.c:67: custom_vjp: tracing 'fwd': ",
           "output 1 was not set");
    /* the mixed-trace op fails in both traces; its message wins in the outer one */
    EXPECT(E_CLOSURE, "t_custom_errors.c:33: mul: operands 0 and 1 belong to different traces");
}

TEST(bad_operands_and_callbacks) {
    EXPECT(E_NO_ARGS, "t_custom_errors.c:69: custom_jvp: bad operand list (0 operands");
    EXPECT(E_NULL_CB, "t_custom_errors.c:70: custom_jvp: NULL 'jvp' callback");
    /* a poison operand passes the first error on */
    EXPECT(E_POISON, "t_custom_errors.c:72: add: ");
}

/* y = sum(custom_vjp(sq)(x)). */
static void vjp_sum(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_sum_all(jx_custom_vjp(sq, sq_fwd, sq_bwd, 1, 1, in, NULL));
}

TEST(forward_mode_of_custom_vjp_is_refused) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(vjp_sum, 1, &ty, 1, NULL);
    CHECK(f != NULL);
    jx_fn *j = f ? jx_jvp(f, NULL) : NULL;
    CHECK(j == NULL);
    CHECK_CONTAINS(jx_error(), "jvp: a custom_vjp function cannot be differentiated in forward "
                               "mode");
    CHECK_CONTAINS(jx_error(), "t_custom_errors.c:132");
    jx_fn *jf = f ? jx_jacfwd(f, 1, (int[]){0}) : NULL;
    CHECK(jf == NULL);
    CHECK_CONTAINS(jx_error(), "cannot be differentiated in forward mode");
    jx_fn *g = f ? jx_grad(f, 0, NULL) : NULL; /* reverse mode is fine */
    CHECK(g != NULL);
    /* and so is hessian = jacfwd(jacrev): jacrev leaves bwd's ordinary ops only (JAX
     * refuses this one; the result is the derivative of the rule's gradient, here 2 I) */
    jx_fn *h = f ? jx_hessian(f, 1, (int[]){0}) : NULL;
    jx_array *x = jx_array_new_type(&ty), *hx = NULL;
    CHECK(h && jx_interp(h, &x, &hx) == 0);
    CHECK(hx && jx_array_get(hx, 0) == 2.0 && jx_array_get(hx, 1) == 0.0 && jx_array_get(hx, 8) == 2.0);
    jx_array_free(x);
    jx_array_free(hx);
    jx_fn_free(g);
    jx_fn_free(j);
    jx_fn_free(h);
    jx_fn_free(f);
}

TEST_MAIN()
