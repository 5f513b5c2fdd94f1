/* Shared helpers of the bad-input catalog (t_errors.c, t_errors_values.c): large sizes,
 * f32 types, and a small traced function for the driver cases. Helpers are static and
 * marked unused. */
#ifndef JX_TESTS_ERR_UTIL_H
#define JX_TESTS_ERR_UTIL_H

#include <stdint.h>

#include "errcheck.h"

#define P40 ((int64_t)1 << 40)
#define P31 ((int64_t)1 << 31)

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)
#define R8 F32(1, 1, 1, 1, 1, 1, 1, 1)

/* f(x) = sum(x * x) on f32[3]: a small function for the driver cases. */
__attribute__((unused))
static void err_sumsq(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_mul(in[0], in[0]));
}
/* err_sumsq traced on f32[3] (caller frees). */
__attribute__((unused))
static jx_fn *err_fn(void) {
    jx_type ty = F32(3);
    return jx_trace(err_sumsq, 1, &ty, 1, NULL);
}

#endif
