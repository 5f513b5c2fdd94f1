/* Helpers of the JIT tests (t_jit.c, t_jit_programs.c, t_jit_fast.c): deterministic
 * random arrays, array comparison with a tolerance, and "compile, run, compare with the
 * interpreter". Each test file includes this once (the helpers are static). */
#ifndef JX_JITCHECK_H
#define JX_JITCHECK_H

#include <stdint.h>

#include "check.h"

static uint64_t rng_state __attribute__((unused)) = 88172645463325252ull;

/* A deterministic pseudo-random double in [0, 1). */
static inline double urand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A new array of type t filled with values in [lo, hi) (integers: rounded down; bool:
 * random 0/1). With specials != 0, float arrays start with NaN, inf, -inf, 0, -0, 1, -1
 * and integer arrays with 0, -1, INT32_MIN, INT32_MAX, 31, 32, 33. */
static inline jx_array *rand_array(jx_type t, double lo, double hi, int specials) {
    jx_array *a = jx_array_new_type(&t);
    int64_t n = jx_array_size(a);
    static const double fs[7] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, -1.0};
    static const double is[7] = {0, -1, -2147483648.0, 2147483647.0, 31, 32, 33};
    for (int64_t i = 0; i < n; i++) {
        double v = lo + (hi - lo) * urand();
        if (t.dtype == JX_I32 || t.dtype == JX_U32) v = floor(v);
        if (t.dtype == JX_BOOL) v = urand() < 0.5;
        if (specials && i < 7) {
            if (t.dtype == JX_F32 || t.dtype == JX_F64) v = fs[i];
            else if (t.dtype == JX_I32) v = is[i];
            else if (t.dtype == JX_U32) v = is[i] < 0 ? 4294967295.0 - (is[i] == -1 ? 0 : 2147483647.0) : is[i];
        }
        if (t.dtype == JX_F32 || t.dtype == JX_F64) {
            jx_array_set(a, i, v);
        } else if (t.dtype == JX_I32) {
            int32_t x = (int32_t)v;
            memcpy((char *)jx_array_data(a) + 4 * i, &x, 4);
        } else if (t.dtype == JX_U32) {
            uint32_t x = (uint32_t)v;
            memcpy((char *)jx_array_data(a) + 4 * i, &x, 4);
        } else {
            jx_array_set(a, i, v);
        }
    }
    return a;
}

/* Compares arrays elementwise: floats with CHECK_NEAR(tol), others bit-exactly. Reports
 * the first mismatch with `what`. Returns 1 if equal. */
static inline int same_arrays(const jx_array *got, const jx_array *want, double tol, const char *what) {
    jx_type a = jx_array_type(got), b = jx_array_type(want);
    if (!jx_type_eq(&a, &b)) {
        CHECK_FAIL_("%s: types differ", what);
        return 0;
    }
    int64_t n = jx_array_size(got);
    for (int64_t i = 0; i < n; i++) {
        if (a.dtype == JX_F32 || a.dtype == JX_F64) {
            double x = jx_array_get(got, i), y = jx_array_get(want, i);
            if (!check_near(x, y, tol)) {
                CHECK_FAIL_("%s: element %lld: jit %.17g, interp %.17g", what, (long long)i, x, y);
                return 0;
            }
        } else {
            size_t es = jx_dtype_size(a.dtype);
            const char *p = jx_array_cdata(got), *q = jx_array_cdata(want);
            int eq = a.dtype == JX_BOOL ? (p[i] != 0) == (q[i] != 0)
                                        : memcmp(p + i * (int64_t)es, q + i * (int64_t)es, es) == 0;
            if (!eq) {
                CHECK_FAIL_("%s: element %lld: jit %.17g, interp %.17g", what, (long long)i,
                            jx_array_get(got, i), jx_array_get(want, i));
                return 0;
            }
        }
    }
    return 1;
}

/* Runs f through jx_jit (with opts, which may be NULL) and jx_interp on in[] and compares
 * every output. Frees f. */
static inline int jit_vs_interp_opts(jx_fn *f, jx_array **in, double tol, const char *what,
                              const jx_jit_opts *opts) {
    if (!f) {
        CHECK_FAIL_("%s: trace failed: %s", what, jx_error());
        return 0;
    }
    int n_out = jx_fn_n_out(f), ok = 1;
    jx_array *want[8] = {0}, *got[8] = {0};
    if (jx_interp(f, in, want) < 0) {
        CHECK_FAIL_("%s: interp failed: %s", what, jx_error());
        jx_fn_free(f);
        return 0;
    }
    jx_exe *e = jx_jit(f, opts);
    if (!e) {
        CHECK_FAIL_("%s: jit failed: %s", what, jx_error());
        ok = 0;
    } else if (jx_exe_run(e, in, got) < 0) {
        CHECK_FAIL_("%s: run failed: %s", what, jx_error());
        ok = 0;
    } else {
        for (int j = 0; j < n_out && ok; j++) ok = same_arrays(got[j], want[j], tol, what);
    }
    for (int j = 0; j < n_out; j++) {
        jx_array_free(want[j]);
        jx_array_free(got[j]);
    }
    jx_exe_free(e);
    jx_fn_free(f);
    return ok;
}

/* Runs f through jx_jit and jx_interp on in[] and compares every output. Frees f. */
static inline int jit_vs_interp(jx_fn *f, jx_array **in, double tol, const char *what) {
    return jit_vs_interp_opts(f, in, tol, what, NULL);
}

/* Frees a[0..n-1]. */
static inline void free_all(jx_array **a, int n) {
    for (int i = 0; i < n; i++) jx_array_free(a[i]);
}

#endif
