/* The primitive table (generated from prims.def) and the per-family rule interface.
 * Each family file in src/prims/ defines one `const jx_family jx_family_<name>` that holds
 * every rule of its primitives; the rules switch on the op where they differ. */
#ifndef JX_PRIM_H
#define JX_PRIM_H

#include "jx.h"

enum {
    JXF_LEAF = 1 << 0,    /* no operands (constant, iota) */
    JXF_ELT = 1 << 1,     /* elementwise: output shape = operand shape */
    JXF_LINEAR = 1 << 2,  /* linear in its (first) operand: transpose rule exists */
    JXF_REDUCE = 1 << 3,  /* reduction over axes */
    JXF_LIBCALL = 1 << 4, /* lowered to a library call (BLAS) */
    JXF_NOGRAD = 1 << 5,  /* integer/bool valued or piecewise constant: zero derivative */
    JXF_INDEX = 1 << 6,   /* an index map of its one operand (out[i] = x[map(i)]): fusing it
                           * costs a load, so passes and the planner recompute it freely */
    JXF_MATH = 1 << 7,    /* lowered to long polynomial code: kernels using it vectorize */
    JXF_CALL = 1 << 8,    /* equals its first sub-function applied to its operands: passes
                           * may inline that body (inline-custom) */
    JXF_MULTI = 1 << 9,   /* several results: the node has no value of its own and is
                           * followed at once by one `get` node per result (see ir.h) */
};

/* Sub-functions (function-valued attributes) a primitive's node may carry: at most this
 * many (a variadic row, such as cond's branches, takes 1 to JX_MAX_FNS). */
#define JX_MAX_FNS 8

typedef enum jx_op {
    JX_OP_PARAM = -1, /* a function input, not a primitive */
#define X(id, name, arity, flags, family, attrs) JX_OP_##id,
#include "core/prims.def"
#undef X
    JX_NOPS
} jx_op;

struct jx_node;
struct jx_attrs;
struct lw;
struct lw_ix;
struct lw_mstep;
struct LLVMOpaqueValue; /* LLVMValueRef, without making the core include LLVM */

/* Rules shared by a family of primitives. The transformation rules (vjp, jvp, batch) are
 * documented in src/transform/transform.h; a NULL rule is reported as "rule not implemented". */
typedef struct jx_family {
    /* Shape/dtype rule: from operand types and attributes, the output type. `hint` is
     * the requested output type for ops whose output is not determined by operands
     * and attributes (constant, iota, convert, bitcast, argmax, conv_patches_t); the
     * parser passes the printed type, so it is never NULL for those. On error writes a
     * message (what is wrong, in terms of shapes/attrs; the caller adds op name, operand
     * types and source line) and returns -1. */
    int (*infer)(jx_op op, int nin, const jx_type *in, const struct jx_attrs *at,
                 const jx_type *hint, jx_type *out, char *err, size_t errlen);
    /* Reference evaluation: out is preallocated with the node's type. Returns 0 or -1
     * (with jx_error set). */
    int (*interp)(const struct jx_node *n, jx_array *const *in, jx_array *out);
    int (*vjp)(jx_trace *t, const struct jx_node *n, const jx_val *x, jx_val y, jx_val ct,
               jx_val *ct_in);
    int (*jvp)(jx_trace *t, const struct jx_node *n, const jx_val *x, jx_val y,
               const jx_val *dx, jx_val *dy);
    int (*batch)(jx_trace *t, const struct jx_node *n, const jx_val *x, const int *bd,
                 int64_t bsize, jx_val *y, int *ybd);
    /* Loop lowering (the API is src/jit/lower.h): LLVM IR for element ix of node n, its
     * operands read through lw_eval. NULL when the planner never asks (float
     * dot_general and gemm are library calls, see src/jit/plan_gemm.c). */
    struct LLVMOpaqueValue *(*lower)(struct lw *L, const struct jx_node *n, struct lw_ix *ix);
    /* Fusion: 1 if n reads its operand slot k more than once per element of that operand,
     * so the planner gives the operand a buffer rather than recomputing it at each read.
     * NULL: never. */
    int (*rereads)(const struct jx_fn *f, const struct jx_node *n, int k);
    /* Family-private data for rule code shared between families (elementwise). */
    const void *impl;
    /* JXF_MULTI primitives. results: the result types of node n (operands and attributes
     * already checked by infer) into types[0..max); returns their count, or -1 when more
     * than max. interp_multi: the reference evaluation into out[0..count), preallocated
     * with those types; 0 or -1 (jx_error set). */
    int (*results)(const struct jx_node *n, jx_type *types, int max);
    int (*interp_multi)(const struct jx_node *n, jx_array *const *in, jx_array **out);
    /* Their transformation rules, for the node and its run of gets as one unit (contracts
     * in src/transform/transform.h): one primal result, tangent, cotangent or batch axis
     * per result. */
    int (*jvp_multi)(jx_trace *t, const struct jx_node *n, const jx_val *x, const jx_val *dx,
                     jx_val *ys, jx_val *dys);
    int (*vjp_multi)(jx_trace *t, const struct jx_node *n, const jx_val *x, const jx_val *ys,
                     const jx_val *cts, jx_val *ct_in);
    int (*batch_multi)(jx_trace *t, const struct jx_node *n, const jx_val *x, const int *bd,
                       int64_t bsize, jx_val *ys, int *ybds);
    /* Their JIT (src/jit/plan_sub.c, lower_sub.c; lower_multi NULL: none, the planner
     * refuses the node). multi_temps: bytes of temporaries the lowering needs besides the
     * sub-plans' arena (a need above 2^60 may be given as any value up to 2^61), or -1
     * when n's op has no lowering. multi_inplace (may be NULL): the operand slot whose
     * memory result j may reuse when that operand is a donated input (the lowering copes
     * with their being the same memory), or -1. lower_multi: emits the step through the
     * lw_mstep API of src/jit/lower.h; 0, or -1 (jx_error). */
    int64_t (*multi_temps)(const struct jx_node *n);
    int (*multi_inplace)(const struct jx_node *n, int j);
    int (*lower_multi)(struct lw *L, const struct lw_mstep *m);
} jx_family;

typedef struct jx_prim_info {
    const char *name;
    int arity; /* -1: variadic, at least one */
    unsigned flags;
    const jx_family *family;
    int n_attrs;
    const char *attr_names[4];
    int n_fns; /* sub-functions every node of the primitive carries, named fn_names; -1:
                * 1 to JX_MAX_FNS, each named fn_names[0] */
    const char *fn_names[JX_MAX_FNS];
} jx_prim_info;

/* The row of op (op must be in [0, JX_NOPS)). */
const jx_prim_info *prim_info(jx_op op);
/* 1 if op is a primitive (not a parameter) whose row has every bit of flags. */
int prim_has(jx_op op, unsigned flags);
/* The op named name, or -1 (JX_OP_PARAM) if none. */
jx_op prim_lookup(const char *name);
/* 1 if a node of p may carry n sub-functions. */
int prim_fns_ok(const jx_prim_info *p, int n);
/* The name of sub-function k of a node of p ("?" past the row's names). */
const char *prim_fn_name(const jx_prim_info *p, int k);

#define X(id, name, arity, flags, family, attrs) extern const jx_family jx_family_##family;
#include "core/prims.def"
#undef X

#endif
