/* The elementwise primitives: one interface for the shared rule code (elementwise.c: shape
 * rule, reference evaluation loops, loop lowering, broadcasting constructors;
 * elementwise_tx.c: vjp, jvp, batching) and the op-group files that hold every rule of
 * their primitives side by side (elt_math.c, elt_arith.c, elt_logic.c, elt_convert.c).
 *
 * Each group file defines one row (elt_op) per primitive: its dtypes, its scalar
 * evaluation, its partial derivative, its scalar LLVM emission and, next to them, its
 * public constructor; and one family (ELT_FAMILY) whose `impl` is its elt_group, so the
 * shared rules find an op's row through prim_info(op)->family->impl. Adding an
 * elementwise primitive is a row in src/core/prims.def and a row in a group file. */
#ifndef JX_PRIMS_ELEMENTWISE_H
#define JX_PRIMS_ELEMENTWISE_H

#include <stdint.h>

#include "core/ir.h"
#include "core/trace.h"
#include "jit/lower.h"
#include "transform/transform.h"

/* Dtype sets as bit masks over jx_dtype. */
#define ELT_BIT(dt) (1u << (dt))
#define ELT_FLOAT (ELT_BIT(JX_F32) | ELT_BIT(JX_F64))
#define ELT_SIGNED (ELT_FLOAT | ELT_BIT(JX_I32))
#define ELT_NUMERIC (ELT_SIGNED | ELT_BIT(JX_U32))
#define ELT_INT (ELT_BIT(JX_I32) | ELT_BIT(JX_U32))
#define ELT_LOGIC (ELT_INT | ELT_BIT(JX_BOOL))
#define ELT_ANY (ELT_NUMERIC | ELT_BIT(JX_BOOL))

/* The rules of one elementwise primitive. Scalar hooks take the op's operands a[0..arity)
 * of one element; a NULL hook means the op has no form for that dtype class. The output
 * has the operands' dtype, or bool with out_bool (a hook's nonzero result is true). */
typedef struct elt_op {
    jx_op op;
    unsigned dtypes; /* operand dtypes accepted (ELT_*; of operand 0 for select) */
    int out_bool;    /* comparisons: the output is bool */
    float (*f32)(const float *a);
    double (*f64)(const double *a);
    /* i32, u32 and bool elements as 32-bit patterns (bool 0/1); dt says which */
    uint32_t (*ints)(jx_dtype dt, const uint32_t *a);
    /* g * dy/dx[k] (x the operands, y the output, g of y's type), emitted at loc; NULL:
     * identically zero (TX_ZERO), as for NOGRAD and piecewise-constant ops */
    jx_val (*partial)(jx_loc loc, const jx_val *x, jx_val y, int k, jx_val g);
    /* scalar LLVM IR of the op on operand values a (operand 0 of dtype dt; output dtype
     * out) at the builder's position; branch-free so loops vectorize, except the
     * libm calls (lw_call_pure: erf, atan2), which keep their loops scalar */
    LLVMValueRef (*emit)(lw *L, jx_dtype dt, jx_dtype out, LLVMValueRef *a);
    /* overrides for ops outside the scheme above (convert, bitcast, select); NULL: the
     * shared rule. infer is called after the arity check; eval on the checked arrays. */
    int (*infer)(jx_op op, const jx_type *in, const jx_type *hint, jx_type *out, char *err,
                 size_t errlen);
    void (*eval)(jx_array *const *in, jx_array *out);
    int (*vjp)(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, jx_val ct,
               jx_val *ct_in);
    int (*jvp)(jx_trace *t, const jx_node *n, const jx_val *x, jx_val y, const jx_val *dx,
               jx_val *dy);
} elt_op;

/* A group's rows (the family's impl). */
typedef struct elt_group {
    int n;
    const elt_op *ops;
} elt_group;

/* The shared rules (elementwise.c, elementwise_tx.c), see jx_family. */
int elt_infer(jx_op op, int nin, const jx_type *in, const jx_attrs *at, const jx_type *hint,
              jx_type *out, char *err, size_t errlen);
int elt_interp(const jx_node *n, jx_array *const *in, jx_array *out);
LLVMValueRef elt_lower(lw *L, const jx_node *n, lw_ix *ix);
TX_RULES_DECL(elt);

/* Defines family jx_family_<name> from the rows ops[] of its group. */
#define ELT_FAMILY(name, rows)                                                             \
    static const elt_group elt_group_##name = {(int)(sizeof rows / sizeof rows[0]), rows}; \
    const jx_family jx_family_##name = {.infer = elt_infer,                                \
                                        .interp = elt_interp,                              \
                                        .vjp = elt_vjp,                                    \
                                        .jvp = elt_jvp,                                    \
                                        .batch = elt_batch,                                \
                                        .lower = elt_lower,                                \
                                        .impl = &elt_group_##name}

/* The row of elementwise op, or NULL if op is not in an elementwise group. */
const elt_op *elt_row(jx_op op);
/* Checks that operand type t has a dtype in op's row; else writes an error. */
int elt_check_dtype(const elt_op *row, const jx_type *t, char *err, size_t errlen);
/* 1 if a and b have the same rank and dims (dtype ignored). */
int elt_same_shape(const jx_type *a, const jx_type *b);

/* Public constructors: jx_<name>_at(loc, x) emits the unary op on x; the binary form
 * NumPy-broadcasts a and b first (elt_emit_broadcast). */
#define ELT_UNARY(name, OP)                                                                \
    jx_val jx_##name##_at(jx_loc loc, jx_val x) {                                          \
        return trace_emit(loc, NULL, JX_OP_##OP, 1, &x, NULL, NULL);                       \
    }
#define ELT_BINARY(name, OP)                                                               \
    jx_val jx_##name##_at(jx_loc loc, jx_val a, jx_val b) {                                \
        jx_val in[2] = {a, b};                                                             \
        return elt_emit_broadcast(loc, JX_OP_##OP, 2, in);                                 \
    }

/* Emits elementwise op on n (2 or 3) operands after broadcasting them to their common
 * NumPy shape. Poison operands, operands of different traces and untraced values go
 * straight to trace_emit, which reports (or silently propagates) them. */
jx_val elt_emit_broadcast(jx_loc loc, jx_op op, int n, const jx_val *in);
/* A scalar literal v of like's dtype (broadcast by the public binary ops). */
static inline jx_val elt_lit(jx_loc loc, jx_val like, double v) {
    return jx_lit_at(loc, like, v);
}

#endif
