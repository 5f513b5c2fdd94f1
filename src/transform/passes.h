/* The IR-to-IR passes, by name (pass_registry.c holds the registry, passes.c the
 * simplifier, dce and liveness, pass_gemm_fold.c the GEMM fold), and internal instrumentation of jx_simplify for tests
 * that count work instead of timing it. */
#ifndef JX_PASSES_H
#define JX_PASSES_H

#include <stdint.h>

#include "core/ir.h"

/* One named pass: a function from a jx_fn to a new one (NULL with jx_error()). */
typedef struct pass_info {
    const char *name;    /* as given to jxc opt --passes */
    const char *summary; /* one line for jxc passes */
    jx_fn *(*run)(const jx_fn *f);
} pass_info;

/* The passes the JIT runs before planning, in order (jit_prepare). */
#define PASS_JIT_PIPELINE "inline-custom,simplify,conv-direct,outer-product,gemm-fold,drop-barriers"

/* The registered passes: *n receives their count. */
const pass_info *pass_list(int *n);
/* The pass called name (the first len bytes of it), or NULL. */
const pass_info *pass_find(const char *name, size_t len);
/* Runs the comma-separated passes `names` on f in order ("" runs none: a copy of f).
 * A new function, or NULL with jx_error() (an unknown name lists the known ones). */
jx_fn *pass_run_list(const jx_fn *f, const char *names);

/* Marks in live[] (zeroed, n_nodes + 1 entries) the nodes of f reachable from its
 * outputs. When uses is given, counts each node's reads by live nodes plus its output
 * slots; when consumer is given, records the last live node reading each node. */
void pass_mark_live(const jx_fn *f, unsigned char *live, int *uses, int *consumer);
/* The dce pass: f without the nodes its outputs do not reach. NULL with jx_error(). */
jx_fn *pass_dce(const jx_fn *f);

/* The simplifier's rule groups alone, one walk each (passes.c): identities (x+0, x*1,
 * composed reshapes, ...), const-fold (small all-constant nodes evaluated), cse (nodes
 * computing the same value merged); pass_copy replays f with no rewrite. A new
 * function, or NULL with jx_error(). */
jx_fn *pass_identities(const jx_fn *f);
jx_fn *pass_const_fold(const jx_fn *f);
jx_fn *pass_cse(const jx_fn *f);
jx_fn *pass_copy(const jx_fn *f);

/* inline-custom (pass_inline.c): every custom_jvp/custom_vjp/checkpoint node (JXF_CALL)
 * replaced by its call sub-function inlined on its operands. A new function, or NULL with
 * jx_error(). */
jx_fn *pass_inline_custom(const jx_fn *f);

/* drop-barriers (pass_barrier.c): every optimization_barrier node replaced by its operand;
 * the JIT runs it after the last cse. A new function, or NULL with jx_error(). */
jx_fn *pass_drop_barriers(const jx_fn *f);

/* gemm-fold (pass_gemm_fold.c): w - c * dot(a, b) (also dot * c, and + for add), with c
 * a finite nonzero scalar constant, the dot and the product read only there, becomes
 * gemm(a, b, w, -c). A new function, or NULL with jx_error(). */
jx_fn *pass_gemm_fold(const jx_fn *f);

/* outer-product (pass_outer.c): a float dot_general contracting over an outer product's
 * batch axes becomes one GEMM of the scaled operand, and every other float dot_general
 * that contracts nothing becomes mul(broadcast(a), broadcast(b)), which the JIT fuses. A
 * new function, or NULL with jx_error(). */
jx_fn *pass_outer(const jx_fn *f);

/* conv-direct (src/prims/conv_pass.c, beside the primitives it makes): the patch form of a convolution (conv_patches + dot_general,
 * conv_patches_t of a dot_general) becomes conv / conv_backprop_input /
 * conv_backprop_filter where their shape rule prefers the direct kernels. A new function,
 * or NULL with jx_error(). */
jx_fn *pass_conv_direct(const jx_fn *f);

/* 1 if node id of f is a rank-0 constant or a broadcast of one; its value in *v
 * (pass_gemm_fold.c; the fold and the JIT planner read gemm's alpha this way). */
int pass_scalar_const(const jx_fn *f, int32_t id, double *v);

/* Emits gemm(a, b, c, alpha) = c + alpha * dot_general(a, b) with dot_general's axis
 * lists (prims/dot.c). */
jx_val dot_gemm_at(jx_loc loc, jx_val a, jx_val b, jx_val c, jx_val alpha, jx_ints lhs_contract,
                   jx_ints rhs_contract, jx_ints lhs_batch, jx_ints rhs_batch);

/* Hash-table slots examined by jx_simplify's CSE on the calling thread since it started
 * (cumulative; compare two readings). Each lookup of a new node costs at least one. */
uint64_t simp_cse_probes(void);

#endif
