/* The random family: threefry2x32, the counter-based PRNG primitive (as in JAX).
 * x u32[2,...] holds counter pairs (x[0,j], x[1,j]); key is either u32[2], one key for
 * every pair, or has x's type, pairing key (key[0,j], key[1,j]) with counter j (so a
 * vmap over keys stays one primitive). out[:,j] = threefry2x32_20(key_j, x[:,j]). */
#include <stdio.h>
#include <string.h>

#include "core/ir.h"
#include "prims/threefry.h"
#include "core/trace.h"
#include "transform/transform.h"
#include "core/util.h"
#include "jit/lower.h"

/* Shape rule: x must be u32 of rank >= 1 with first dim 2; key must be u32[2] or of x's
 * type; the output has x's type. */
static int rng_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at,
                     const jx_type *hint, jx_type *out, char *err, size_t errlen) {
    if (nin != 2) {
        snprintf(err, errlen, "expects 2 operands (key, x), got %d", nin);
        return -1;
    }
    const jx_type *key = &in[0], *x = &in[1];
    char xs[128], ks[128];
    if (x->dtype != JX_U32) {
        snprintf(err, errlen, "x must have dtype u32, got %s", jx_dtype_name(x->dtype));
        return -1;
    }
    if (x->rank < 1 || x->shape[0] != 2) {
        snprintf(err, errlen, "x must have shape [2,...] (rank >= 1, first dim 2), got %s",
                 jx_type_str(x, xs, sizeof xs));
        return -1;
    }
    int small = key->dtype == JX_U32 && key->rank == 1 && key->shape[0] == 2;
    if (!small && !jx_type_eq(key, x)) {
        snprintf(err, errlen, "key must be u32[2] or have x's type %s, got %s",
                 jx_type_str(x, xs, sizeof xs), jx_type_str(key, ks, sizeof ks));
        return -1;
    }
    *out = *x;
    return 0;
}

/* Reference evaluation: applies the scalar threefry to each column (x[0,j], x[1,j]) under
 * the key (key[0], key[1]) or, for a key of x's shape, (key[0,j], key[1,j]). */
static int rng_interp(const jx_node *n, jx_array *const *in, jx_array *out) {
    const uint32_t *key = jx_array_cdata(in[0]);
    const uint32_t *x = jx_array_cdata(in[1]);
    uint32_t *y = jx_array_data(out);
    int64_t m = jx_array_size(in[1]) / 2;
    int per_pair = jx_array_size(in[0]) == 2 * m; /* also true for x u32[2]: same thing */
    for (int64_t j = 0; j < m; j++) {
        uint32_t v[2] = {x[j], x[m + j]};
        if (per_pair) rng_threefry2x32(key[j], key[m + j], v);
        else rng_threefry2x32(key[0], key[1], v);
        y[j] = v[0];
        y[m + j] = v[1];
    }
    return 0;
}

/* v (of type [2, rest...], or [2, B] when with_b) broadcast to [2, B, rest...] where rest
 * is per-example x's shape after its leading 2 (x1 is n->type). */
static jx_val rng_widen(jx_loc loc, jx_val v, const jx_type *x1, int64_t bsize, int with_b) {
    jx_type vt = jx_val_type(v);
    jx_ints shape = {x1->rank + 1, {2, bsize}}, dims = {vt.rank, {0}};
    for (int d = 1; d < x1->rank; d++) shape.v[d + 1] = x1->shape[d];
    if (with_b && vt.rank == shape.n) return v; /* already [2, B, rest...] */
    for (int d = 1; d < vt.rank; d++) dims.v[d] = with_b ? d : d + 1;
    return jx_broadcast_in_dim_at(loc, v, shape, dims);
}

/* batch: with one key u32[2] for all and batched counters, the batch axis just becomes
 * another counter axis (moved off axis 0 if it is there). Otherwise (a batched key, or a
 * per-pair key) key and counters are brought to the full batched shape [2, B, ...] and
 * paired elementwise; the result's batch axis is 1. */
static int rng_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                     int64_t bsize, jx_val *y, int *ybd) {
    const jx_type *x1 = &n->type; /* per-example x (and output) type */
    int kb = bd[0], xb = bd[1];
    int krank = trace_type(t, x[0].id)->rank - (kb != TX_NOBATCH);
    int key_small = krank == 1;
    jx_val key = x[0], cnt = x[1];
    if (kb == TX_NOBATCH && key_small) {
        *ybd = xb == 0 ? 1 : xb;
        cnt = tx_moveaxis(n->loc, cnt, xb, *ybd);
    } else {
        *ybd = 1;
        if (kb != TX_NOBATCH) {
            key = tx_moveaxis(n->loc, key, kb, 1);
            if (key_small) key = rng_widen(n->loc, key, x1, bsize, 1);
        } else {
            key = rng_widen(n->loc, key, x1, bsize, 0);
        }
        cnt = xb != TX_NOBATCH ? tx_moveaxis(n->loc, cnt, xb, 1)
                               : rng_widen(n->loc, cnt, x1, bsize, 0);
    }
    *y = tx_emit(t, n, JX_OP_THREEFRY2X32, 2, (jx_val[2]){key, cnt}, NULL, NULL);
    return jx_val_bad(*y) ? -1 : 0;
}

/* ---- loop lowering (the API is src/jit/lower.h) ----------------------------------- */

/* threefry2x32(key, x) at ix = (w, rest...): word w of the encrypted pair. */
static LLVMValueRef rng_lower(lw *L, const jx_node *nd, lw_ix *ix) {
    static const unsigned rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
    LLVMBuilderRef B = L->b;
    const jx_type *kt = &L->p->nodes[nd->in[0]].type, *xt = &L->p->nodes[nd->in[1]].type;
    lw_multi(L, ix);
    LLVMValueRef k[3], x[2];
    for (int w = 0; w < 2; w++) {
        lw_ix ki = lw_ix_new(kt), xi = lw_ix_new(xt);
        ki.multi = xi.multi = 1;
        for (int d = 0; d < xt->rank; d++) xi.v[d] = d == 0 ? lw_i64(L, w) : ix->v[d];
        /* key u32[2] (shared) or x's type (per-pair keys) */
        for (int d = 0; d < kt->rank; d++) ki.v[d] = xi.v[d];
        k[w] = lw_eval(L, nd->in[0], &ki);
        x[w] = lw_eval(L, nd->in[1], &xi);
    }
    k[2] = LLVMBuildXor(B, LLVMBuildXor(B, k[0], k[1], ""), LLVMConstInt(L->i32, 0x1BD11BDAu, 0), "");
    LLVMValueRef x0 = LLVMBuildAdd(B, x[0], k[0], ""), x1 = LLVMBuildAdd(B, x[1], k[1], "");
    for (unsigned inj = 1; inj <= 5; inj++) {
        const unsigned *r = &rot[((inj - 1) & 1u) * 4];
        for (int i = 0; i < 4; i++) {
            x0 = LLVMBuildAdd(B, x0, x1, "");
            LLVMValueRef args[3] = {x1, x1, LLVMConstInt(L->i32, r[i], 0)};
            x1 = lw_intrin(L, "llvm.fshl", L->i32, 3, args);
            x1 = LLVMBuildXor(B, x1, x0, "");
        }
        x0 = LLVMBuildAdd(B, x0, k[inj % 3], "");
        x1 = LLVMBuildAdd(B, x1, LLVMBuildAdd(B, k[(inj + 1) % 3], LLVMConstInt(L->i32, inj, 0), ""), "");
    }
    LLVMValueRef first = LLVMBuildICmp(B, LLVMIntEQ, ix->v[0], lw_i64(L, 0), "");
    return LLVMBuildSelect(B, first, x0, x1, "");
}

/* Fusion: each output word reads both words of its pair (and of its key). */
static int rng_rereads(const jx_fn *f, const jx_node *n, int k) { return 1; }

/* NOGRAD: no vjp/jvp (the drivers skip it); the batch rule and the lowering. */
const jx_family jx_family_random = {.infer = rng_infer,
                                    .interp = rng_interp,
                                    .batch = rng_batch,
                                    .lower = rng_lower,
                                    .rereads = rng_rereads};

/* Public wrapper: emits threefry2x32(key, x). */
jx_val jx_threefry2x32_at(jx_loc loc, jx_val key, jx_val x) {
    jx_val ins[2] = {key, x};
    return trace_emit(loc, NULL, JX_OP_THREEFRY2X32, 2, ins, NULL, NULL);
}
