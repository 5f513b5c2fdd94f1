/* The random family: threefry2x32, the counter-based PRNG primitive (as in JAX).
 * key u32[2], x u32[2,...] -> u32[2,...]: for every j, (out[0,j], out[1,j]) is
 * threefry2x32_20(key, (x[0,j], x[1,j])). */
#include <stdio.h>
#include <string.h>

#include "ir.h"
#include "prims/threefry.h"
#include "trace.h"
#include "util.h"

/* Shape rule: key must be u32[2]; x must be u32 of rank >= 1 with first dim 2; the
 * output has x's type. */
static int rng_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (nin != 2) {
        snprintf(err, errlen, "expects 2 operands (key, x), got %d", nin);
        return -1;
    }
    const jx_type *key = &in[0], *x = &in[1];
    if (key->dtype != JX_U32 || key->rank != 1 || key->shape[0] != 2) {
        char buf[128];
        snprintf(err, errlen, "key must be u32[2], got %s", jx_type_str(key, buf, sizeof buf));
        return -1;
    }
    if (x->dtype != JX_U32) {
        snprintf(err, errlen, "x must have dtype u32, got %s", jx_dtype_name(x->dtype));
        return -1;
    }
    if (x->rank < 1 || x->shape[0] != 2) {
        char buf[128];
        snprintf(err, errlen, "x must have shape [2,...] (rank >= 1, first dim 2), got %s",
                 jx_type_str(x, buf, sizeof buf));
        return -1;
    }
    *out = *x;
    return 0;
}

/* Reference evaluation: applies the scalar threefry to each column (x[0,j], x[1,j]). */
static int rng_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const uint32_t *key = jx_array_cdata(in[0]);
    const uint32_t *x = jx_array_cdata(in[1]);
    uint32_t *y = jx_array_data(out);
    int64_t m = jx_array_size(in[1]) / 2;
    for (int64_t j = 0; j < m; j++) {
        uint32_t v[2] = {x[j], x[m + j]};
        rng_threefry2x32(key[0], key[1], v);
        y[j] = v[0];
        y[m + j] = v[1];
    }
    return 0;
}

const jx_family jx_family_random = {.infer = rng_infer, .interp = rng_interp};

/* Public wrapper: emits threefry2x32(key, x). */
jx_val jx_threefry2x32_at(jx_loc loc, jx_val key, jx_val x) {
    jx_val ins[2] = {key, x};
    return trace_emit(loc, NULL, JX_OP_THREEFRY2X32, 2, ins, NULL, NULL);
}
