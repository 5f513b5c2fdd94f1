/* The 8-op elementwise chain of bench_elt and jxbench-all's elt rows:
 *   y = tanh(0.5 x + 0.25) * exp(-|x|) + x      (mul, add, tanh, abs, neg, exp, mul, add) */
#ifndef BENCH_CHAIN_H
#define BENCH_CHAIN_H

#include "jx.h"

/* The chain as a jx_trace callback on one input. */
static inline void bench_chain_jx(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val x = in[0];
    jx_val a = jx_tanh(jx_add(jx_mul(x, jx_lit(x, 0.5)), jx_lit(x, 0.25)));
    out[0] = jx_add(jx_mul(a, jx_exp(jx_neg(jx_abs(x)))), x);
}

#endif
