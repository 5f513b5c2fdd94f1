/* The IR: a function is a flat SSA list of nodes in topological order, like a jaxpr.
 * Nodes 0..n_in-1 are the inputs (op JX_OP_PARAM); every other node is one equation
 * `out = prim[attrs] operands...` whose operands are earlier node ids. Operand lists and
 * attribute vectors live in the function's arena; constants are refcounted arrays that
 * the function releases when freed. */
#ifndef JX_IR_H
#define JX_IR_H

#include <stdatomic.h>

#include "jx.h"
#include "core/prim.h"

/* A bump allocator: memory lives until the arena is freed. */
typedef struct jx_arena jx_arena;
jx_arena *ir_arena_new(void);
void ir_arena_free(jx_arena *a);
/* Zeroed, 16-byte-aligned memory of n bytes; NULL on out-of-memory. */
void *ir_arena_alloc(jx_arena *a, size_t n);
/* Copy of a NUL-terminated string in the arena. */
const char *ir_arena_strdup(jx_arena *a, const char *s);

#define JX_MAX_ATTRS 4
/* Operands of one primitive: at most this many (the tracer, parser and verifier check it). */
#define JX_MAX_OPERANDS 64

/* Nesting depth limit of sub-functions (a sub-function's own sub-functions are one level
 * deeper): the parser and the verifier refuse deeper nesting, so no recursive walk over
 * nested functions can exhaust the stack on hostile input. */
#define JX_MAX_FN_DEPTH 16

/* Attributes of one node: up to four named integer vectors (names from prims.def), for
 * constants the value, and the node's sub-functions (function-valued attributes such as
 * custom_jvp's call and jvp rule, named by the prims.def row's fns column, in that order).
 * Sub-functions are finished, immutable functions: a node holds a reference to each
 * (ir_fn_retain), released when its function is freed, so replaying a node shares them. */
typedef struct jx_attrs {
    int n[JX_MAX_ATTRS];
    const int64_t *v[JX_MAX_ATTRS];
    jx_array *value;
    int n_fns;
    const jx_fn *const *fns;
} jx_attrs;

typedef struct jx_node {
    jx_op op;
    int nin;
    const int32_t *in; /* operand node ids, all smaller than this node's id */
    jx_type type;      /* output type */
    jx_attrs at;
    jx_loc loc;        /* user source location; file is interned in the arena */
} jx_node;

struct jx_fn {
    atomic_int refs; /* references beyond the first (ir_fn_retain); jx_fn_free drops one */
    jx_arena *arena;
    int n_in, n_out;
    int32_t *outs; /* output node ids */
    jx_node *nodes;
    int n_nodes, cap;
    const char *last_file; /* most recently interned loc file (interning cache) */
};

/* A new function with n_in inputs of the given types and no equations; NULL on OOM. */
jx_fn *ir_fn_new(int n_in, const jx_type *in_types);
/* Appends a node (operands, attributes copied into the arena; the constant value and the
 * sub-functions, if any, retained). Does not check types: that is the tracer's job. Returns the id or -1. */
int32_t ir_fn_append(jx_fn *f, jx_op op, int nin, const int32_t *in, const jx_type *type,
                     const jx_attrs *at, jx_loc loc);
/* Sets the outputs (copied). Returns 0 or -1. */
int ir_fn_set_outputs(jx_fn *f, int n_out, const int32_t *outs);
/* Attribute k of node n as a jx_ints (truncated to JX_MAX_RANK entries). */
jx_ints ir_attr_ints(const jx_node *n, int k);
/* Fills an attrs struct from up to four jx_ints (NULL for absent); vectors point into the
 * given jx_ints, so copy before they go out of scope (ir_fn_append does). */
jx_attrs ir_attrs(const jx_ints *a0, const jx_ints *a1, const jx_ints *a2, const jx_ints *a3);

/* Sub-functions (ir_fns.c). A new reference to the finished function f (f itself): each
 * reference is dropped by one jx_fn_free, the last one frees f. Finished functions are
 * never modified, so references may be shared between functions and threads. */
jx_fn *ir_fn_retain(const jx_fn *f);
/* 1 if a and b are the same function up to source locations: same inputs, equations
 * (op, operands, type, attributes, constants, sub-functions recursively) and outputs. */
int ir_fn_equal(const jx_fn *a, const jx_fn *b);
/* 1 if nodes a and b are equal up to location: op, operands, type, attributes,
 * sub-functions (ir_fn_equal), and constants of at most max_const elements by value
 * (max_const < 0: any size; larger ones only when they are the same array). */
int ir_node_equal(const jx_node *a, const jx_node *b, int64_t max_const);
/* A hash of f consistent with ir_fn_equal (locations ignored). */
uint64_t ir_fn_hash(const jx_fn *f);
/* 1 if the attributes' sub-functions are pairwise ir_fn_equal (both lists of equal length). */
int ir_fns_equal(const jx_attrs *a, const jx_attrs *b);

/* Multi-result nodes (primitives flagged JXF_MULTI, such as cond): the node's own type is
 * ir_multi_type (it has no value); its k results (the family's `results` rule, at most
 * JX_MAX_RESULTS) are the k nodes right after it, get[index=(j)] at id + 1 + j, each
 * with its result's type. The tracer emits them together (trace_emit_multi), the
 * verifier checks the run, and passes keep it whole. */
#define JX_MAX_RESULTS 64
extern const jx_type ir_multi_type;
/* 1 if node i of f is a multi-result node. */
int ir_is_multi(const jx_fn *f, int i);
/* The number of get nodes of f that follow node i and read it (0 for other nodes). */
int ir_n_gets(const jx_fn *f, int i);
/* Checks that t may appear in a function: a valid dtype and rank, no negative dim, and
 * a byte size of at most JX_MAX_BYTES with zero dims counted as 1. Every input type and
 * every op's result type is checked, so later stages (interpreter, planner, lowering)
 * can compute sizes, strides and products of dims without overflow. Returns 0, or -1
 * with a phrase saying what is wrong ("is too large: ...") in why. */
int ir_type_check(const jx_type *t, char *why, size_t len);

/* Formats a type list "f32[2,3], i32[]" for error messages. */
void ir_types_str(int n, const jx_type *t, char *buf, size_t len);

#endif
