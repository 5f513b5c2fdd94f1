/* Fixtures shared by the while_loop/fori_loop tests (t_while.c, t_while_tx.c): Newton's
 * square root and Collatz as while loops, a fori_loop body, and small helpers. Include
 * after txcheck.h. */
#ifndef JX_WHILE_UTIL_H
#define JX_WHILE_UTIL_H

#include <string.h>

#include "txcheck.h"

/* ---- Newton's square root: (y, a, it) while max|y^2 - a| > 1e-12 and it < 50 ---------- */

enum { N = 3 };
static const jx_type newton_t[3] = {{JX_F64, 1, {N}}, {JX_F64, 1, {N}}, {JX_I32, 0, {0}}};

static void newton_cond(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val err = jx_reduce_max(jx_abs(jx_sub(jx_mul(in[0], in[0]), in[1])), JX_INTS(0));
    out[0] = jx_and(jx_gt(err, jx_lit(err, 1e-12)), jx_lt(in[2], jx_lit(in[2], 50)));
}
static void newton_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_mul(jx_lit(in[0], 0.5), jx_add(in[0], jx_div(in[1], in[0])));
    out[1] = in[1];
    out[2] = jx_add(in[2], jx_lit(in[2], 1));
}
static int newton_line;
static void newton(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t;
    newton_line = __LINE__ + 1;
    jx_while_loop(newton_cond, newton_body, u, 3, in, out);
}

/* Runs f on arrays made from vals (one double per element, in order) of f's input types;
 * out gets the results (caller frees). 0 or -1. */
static inline int run(const jx_fn *f, const double *const *vals, jx_array **out) {
    jx_array *in[16] = {0};
    int ni = jx_fn_n_in(f);
    for (int i = 0; i < ni; i++) {
        jx_type ty = jx_fn_in_type(f, i);
        in[i] = jx_array_new_type(&ty);
        for (int64_t e = 0; e < jx_array_size(in[i]); e++) jx_array_set(in[i], e, vals[i][e]);
    }
    int rc = jx_interp(f, in, out);
    if (rc < 0) printf("  interp: %s\n", jx_error());
    txc_free(ni, in);
    return rc;
}

/* Occurrences of pat in s (0 for NULL s). */
static inline int count(const char *s, const char *pat) {
    int n = 0;
    for (const char *p = s ? strstr(s, pat) : NULL; p; p = strstr(p + 1, pat)) n++;
    return n;
}

/* ---- Collatz: (n, steps) while n != 1 ------------------------------------------------ */

static void not_one(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_ne(in[0], jx_lit(in[0], 1));
}
static void collatz_step(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val n = in[0], even = jx_eq(jx_rem(n, jx_lit(n, 2)), jx_lit(n, 0));
    out[0] = jx_select(even, jx_div(n, jx_lit(n, 2)), jx_add(jx_mul(n, jx_lit(n, 3)), jx_lit(n, 1)));
    out[1] = jx_add(in[1], jx_lit(in[1], 1));
}
static void collatz(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    jx_val c[2] = {in[0], jx_lit(in[0], 0)}, r[2];
    jx_while_loop(not_one, collatz_step, NULL, 2, c, r);
    out[0] = r[1];
}
static const jx_type i32s = {JX_I32, 0, {0}};

/* The number of Collatz steps from n to 1. */
static int collatz_c(int n) {
    int s = 0;
    for (; n != 1; s++) n = n % 2 == 0 ? n / 2 : 3 * n + 1;
    return s;
}

/* ---- a fori_loop body ----------------------------------------------------------------- */

/* (i, s, x) -> (s + i * x, x * 0.5) */
static void fori_body(jx_trace *t, const jx_val *in, jx_val *out, void *u) {
    (void)t, (void)u;
    out[0] = jx_add(in[1], jx_mul(jx_convert(in[0], JX_F64), in[2]));
    out[1] = jx_mul(in[2], jx_lit(in[2], 0.5));
}
static const jx_type fori_t[4] = {{JX_F64, 1, {N}}, {JX_F64, 1, {N}}, {JX_I32, 0, {0}},
                                  {JX_I32, 0, {0}}};

/* Random inputs: floats in [lo, hi], integers in 1..40 (Collatz starts), bounds below. */
static inline jx_array *gen_pos(jx_type ty, double lo, double hi) {
    jx_array *a = txc_random(ty, lo, hi);
    for (int64_t e = 0; a && ty.dtype == JX_I32 && e < jx_array_size(a); e++)
        jx_array_set(a, e, 1 + (int)(txc_rand() * 40));
    return a;
}

#endif
