/* Shared helpers of the IR text tests (t_text*.c): deterministic inputs, bitwise output
 * comparison, print -> parse -> print round trips, parse -> print exactly, and the golden function of the exact-text
 * tests. Every helper is static and marked unused so each binary takes what it needs. */
#ifndef JX_TESTS_TEXT_UTIL_H
#define JX_TESTS_TEXT_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/ir.h"

/* Deterministic test data for type t: positive floats, small ints (some >= 32, for the
 * shifts), alternating bools. */
__attribute__((unused))
static jx_array *tx_input(jx_type t, int salt) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; a && i < jx_array_size(a); i++) {
        int64_t k = i + 3 * salt;
        switch (t.dtype) {
        case JX_F32:
        case JX_F64: jx_array_set(a, i, 0.25 + 0.5 * (double)(k % 7) + 0.125 * salt); break;
        case JX_I32: jx_array_set(a, i, (double)(k % 5) - 1); break;
        case JX_U32: jx_array_set(a, i, (double)((k * 7 + 1) % 40)); break;
        default: jx_array_set(a, i, (double)(k % 2)); break;
        }
    }
    return a;
}

/* 1 if both arrays have equal types and identical elements (bit for bit, except that
 * any two NaNs are equal: the text form spells every NaN "nan"). */
__attribute__((unused))
static int tx_same(const jx_array *a, const jx_array *b) {
    if (!a || !b) return 0;
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    if (!jx_type_eq(&ta, &tb)) return 0;
    size_t w = jx_dtype_size(ta.dtype);
    const unsigned char *pa = jx_array_cdata(a), *pb = jx_array_cdata(b);
    for (int64_t i = 0; i < jx_array_size(a); i++) {
        double x = jx_array_get(a, i), y = jx_array_get(b, i);
        if (isnan(x) && isnan(y)) continue;
        if (memcmp(pa + (size_t)i * w, pb + (size_t)i * w, w)) return 0;
    }
    return 1;
}

/* Runs f and g on the same generated inputs; 1 if every output is bit-identical. */
__attribute__((unused))
static int tx_interp_agree(const jx_fn *f, const jx_fn *g) {
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f), ok = 1;
    if (n_in != jx_fn_n_in(g) || n_out != jx_fn_n_out(g)) return 0;
    jx_array *in[8] = {0}, *of[8] = {0}, *og[8] = {0};
    if (n_in > 8 || n_out > 8) return 0;
    for (int i = 0; i < n_in; i++) in[i] = tx_input(jx_fn_in_type(f, i), i);
    if (jx_interp(f, in, of) < 0 || jx_interp(g, in, og) < 0) {
        printf("  interp: %s\n", jx_error());
        ok = 0;
    }
    for (int i = 0; ok && i < n_out; i++) ok = tx_same(of[i], og[i]);
    for (int i = 0; i < n_in; i++) jx_array_free(in[i]);
    for (int i = 0; i < n_out; i++) {
        jx_array_free(of[i]);
        jx_array_free(og[i]);
    }
    return ok;
}

/* print(f), parse it, print again: the two texts must be equal, the parsed function must
 * verify and agree with f under the interpreter. Returns the first text (caller frees). */
__attribute__((unused))
static char *tx_round_trip(const jx_fn *f) {
    char *s1 = jx_fn_to_string(f);
    CHECK(s1 != NULL);
    if (!s1) return NULL;
    jx_fn *g = jx_fn_parse(s1);
    if (!g) CHECK_FAIL_("parse failed: %s\n%s", jx_error(), s1);
    char *s2 = g ? jx_fn_to_string(g) : NULL;
    if (g) {
        CHECK(s2 != NULL);
        if (s2 && strcmp(s1, s2) != 0) CHECK_FAIL_("texts differ:\n%s---\n%s", s1, s2);
        if (jx_fn_verify(g) < 0) CHECK_FAIL_("parsed function does not verify: %s", jx_error());
        CHECK(tx_interp_agree(f, g));
    }
    free(s2);
    jx_fn_free(g);
    return s1;
}

/* Parses text, which must print back exactly as given (a failed check otherwise). Returns
 * the function (caller frees) or NULL. */
__attribute__((unused))
static jx_fn *tx_parse_exact(const char *text) {
    jx_fn *f = jx_fn_parse(text);
    if (!f) CHECK_FAIL_("%s\n%s", jx_error(), text);
    char *s = f ? jx_fn_to_string(f) : NULL;
    if (s && strcmp(s, text)) CHECK_FAIL_("got:\n%s", s);
    free(s);
    return f;
}

/* The golden function of the exact-text tests: located ops, a scalar product, a
 * passed-through input and a constant output. */
__attribute__((unused))
static void tx_golden_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_loc l1 = {"golden.c", 1}, l2 = {"golden.c", 2}, l3 = {"dir/golden.c", 3};
    jx_val c = jx_broadcast_in_dim_at(l1, in[1], JX_INTS(2, 3), JX_INTS(1));
    jx_val d = jx_add_at(l2, in[0], c);
    out[0] = jx_reduce_sum_at(l3, d, JX_INTS(1));
    out[1] = jx_mul_at((jx_loc){"golden.c", 5}, jx_scalar(t, JX_F32, 0.5),
                       jx_scalar(t, JX_F32, 0.5));
    out[2] = in[0];
    out[3] = jx_scalar(t, JX_F32, 2);
}

/* x*x as a custom_jvp (rule 2 x dx) and a custom_vjp (residual x, cotangent 2 x ct):
 * the primal, the jvp rule, fwd and bwd callbacks. */
static inline void tx_sq(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
}
static inline void tx_sq_jvp(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = jx_mul(jx_lit(in[0], 2.0), jx_mul(in[0], in[1]));
}
static inline void tx_sq_fwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(in[0], in[0]);
    out[1] = in[0];
}
static inline void tx_sq_bwd(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(jx_lit(in[0], 2.0), jx_mul(in[0], in[1]));
}

#endif
