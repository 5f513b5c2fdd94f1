/* Shared helpers of the dot/conv/random tests (t_dot_conv_random.c, t_conv_threefry.c):
 * deterministic pseudo-random arrays and type checks (literal arrays and trace-end + verify + interpret
 * are interp_util.h's tst_from and tst_run). Helpers are static and marked unused. */
#ifndef JX_TESTS_DCR_UTIL_H
#define JX_TESTS_DCR_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "interp_util.h"

/* Deterministic pseudo-random doubles in [-1, 1). */
static uint64_t tst_seed __attribute__((unused)) = 12345;
__attribute__((unused))
static double tst_rand(void) {
    tst_seed = tst_seed * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(tst_seed >> 11) / (double)(1ull << 52) - 1.0;
}

/* A new array of type t filled with pseudo-random values (integers in [-8, 8) for
 * integer dtypes). */
__attribute__((unused))
static jx_array *tst_random(jx_type t) {
    jx_array *a = jx_array_new_type(&t);
    int64_t n = jx_array_size(a);
    for (int64_t i = 0; i < n; i++) {
        double v = tst_rand();
        jx_array_set(a, i, t.dtype == JX_F32 || t.dtype == JX_F64 ? v : floor(v * 8));
    }
    return a;
}

/* 1 if array a (may be NULL) has type t. */
__attribute__((unused))
static int tst_has_type(const jx_array *a, jx_type t) {
    jx_type at = jx_array_type(a);
    return a && jx_type_eq(&at, &t);
}

#endif
