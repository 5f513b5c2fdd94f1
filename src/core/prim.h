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
};

typedef enum jx_op {
    JX_OP_PARAM = -1, /* a function input, not a primitive */
#define X(id, name, arity, flags, family, attrs) JX_OP_##id,
#include "core/prims.def"
#undef X
    JX_NOPS
} jx_op;

struct jx_node;
struct jx_attrs;

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
} jx_family;

typedef struct jx_prim_info {
    const char *name;
    int arity; /* -1: variadic, at least one */
    unsigned flags;
    const jx_family *family;
    int n_attrs;
    const char *attr_names[4];
} jx_prim_info;

/* The row of op (op must be in [0, JX_NOPS)). */
const jx_prim_info *prim_info(jx_op op);
/* The op named name, or -1 (JX_OP_PARAM) if none. */
jx_op prim_lookup(const char *name);

#define X(id, name, arity, flags, family, attrs) extern const jx_family jx_family_##family;
#include "core/prims.def"
#undef X

#endif
