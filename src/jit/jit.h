/* The JIT backend's internal interface: the execution plan (fusion into steps, buffers,
 * arena offsets), the LLVM lowering, the ORC wrapper and the inspection hooks used by
 * jxc. Data flow: jx_fn --jit_plan_build--> plan --jit_memplan--> offsets --jit_lower-->
 * LLVM module --orc_compile--> native entry. */
#ifndef JX_JIT_H
#define JX_JIT_H

#include <llvm-c/Core.h>

#include "core/ir.h"

/* ---- plan (plan.c, plan_gemm.c) ------------------------------------------------------------ */

/* Where a node's value lives. FUSED nodes have no buffer: they are recomputed inside each
 * consumer's loop nest. IMM: a rank-0 constant emitted as an immediate. */
typedef enum jp_kind { JP_DEAD, JP_FUSED, JP_IMM, JP_PARAM, JP_CONST, JP_ARENA, JP_OUT } jp_kind;

typedef struct jp_buf {
    jp_kind kind;
    int index;      /* PARAM: input index; CONST: constant-table index; OUT: output index */
    int64_t offset; /* ARENA: byte offset in the arena */
    int64_t bytes;
    int def, last;  /* producing step and last reading step (-1: none) */
} jp_buf;

/* One cblas_?gemm per batch element: C[b] = alpha op(A[b]) op(B[b]) + beta C[b],
 * row-major. With init >= 0, C first holds a copy of node init's buffer (skipped when
 * they are the same memory, as for a donated input updated in place) and beta is 1:
 * that is how a gemm node (w - lr * dot(a, b) after the gemm-fold pass) becomes one
 * GEMM. */
typedef struct jp_gemm {
    int a, b;                  /* operand buffer nodes (possibly viewed through transposes) */
    int init;                  /* node whose value C starts from, or -1 (beta = 0) */
    double alpha;              /* the constant alpha, when alpha_node < 0 */
    int alpha_node;            /* >= 0: a rank-0 buffer node read for alpha at run time */
    int trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    int nb;                    /* batch axes */
    int64_t bshape[JX_MAX_RANK], a_bstride[JX_MAX_RANK], b_bstride[JX_MAX_RANK];
} jp_gemm;

/* JS_MULTI: a multi-result node (cond, scan; JXF_MULTI) run by its family's lower_multi
 * rule, which calls the sub-plans of its sub-functions (plan_sub.c, lower_sub.c). */
typedef enum jp_step_kind { JS_KERNEL, JS_GEMM, JS_COPY, JS_MULTI } jp_step_kind;

typedef struct jp_step {
    jp_step_kind kind;
    int node;  /* KERNEL/GEMM: the root node written; COPY: the source node; MULTI: the
                * multi-result node (its buffer is the step's scratch: the sub-plans'
                * arena, then the family's temporaries; the results are its gets' buffers) */
    int outer; /* KERNEL with a reduction root: accumulate into the output (reduced axes
                * outside the kept ones) instead of a register accumulator */
    int out;   /* COPY: the output index written */
    jp_gemm g;
    int group; /* KERNEL: first step of the loop nest it shares (itself if alone); set by
                * jit_memplan */
    int sub;   /* MULTI: index in the plan's subs of the sub-plan of the node's sub-function
                * 0 (sub-function k's is sub + k) */
} jp_step;

typedef struct jit_plan {
    const jx_fn *fn;
    int n_in, n_out;
    int n_nodes, cap;     /* nodes[0..n_fn) copy fn's nodes; later ones are synthetic copies */
    int n_fn;
    jx_node *nodes;
    int *uses;            /* operand slots referring to each node, from live consumers */
    jp_buf *buf;
    int n_steps;
    jp_step *steps;
    int *outs;            /* output node ids */
    int *donor;           /* per output: the donated input whose buffer it may reuse, or -1 */
    int n_consts;
    jx_array **consts;    /* retained constant values, by constant-table index */
    int64_t arena_bytes;
    int64_t *pool;        /* attribute storage of synthetic nodes */
    int pool_used, pool_cap;
    /* sub-plans (plan_sub.c): one per sub-function of each multi-result node, each planned
     * on its own (arena, constants) and lowered to its own function; a sub-plan's
     * constants are also appended to this plan's table, from its const_base on */
    int n_subs;
    struct jit_plan **subs;
    int const_base;       /* a sub-plan: its constant 0 in its parent's table */
    jx_fn *own_fn;        /* a sub-plan: fn, prepared for the JIT and owned by the plan */
} jit_plan;

/* Partitions f into kernel, GEMM and copy steps and decides which nodes get buffers.
 * NULL with jx_error() on failure. */
jit_plan *jit_plan_build(const jx_fn *f);
void jit_plan_free(jit_plan *p);
/* The plan as text: steps with their fused nodes and buffers (malloc'd). */
char *jit_plan_str(const jit_plan *p);
/* 1 if node n of p is elementwise (JXF_ELT). */
int jit_is_elt(const jit_plan *p, int n);
/* Appends step s to p (plan.c); returns its index or -1 on OOM. */
int jit_plan_add_step(jit_plan *p, jp_step s);
/* Plans the float dot_general or gemm node d (plan_gemm.c) as a GEMM step (adding
 * canonical copies of its operands first when their layouts cannot be folded) writing
 * d's buffer as alpha * dot(a, b), plus node init's value if init >= 0; alpha is the
 * value of the rank-0 buffer node alpha_node at run time when alpha_node >= 0. Returns 0, or
 * -1 with jx_error() (out of memory, or a dimension beyond OpenBLAS's integer type,
 * naming the dot_general, its operand types and its line). */
int jit_plan_gemm(jit_plan *p, int d, double alpha, int alpha_node, int init);
/* Plans the multi-result node i (plan_sub.c): a sub-plan (prepared, planned and
 * memory-planned) per sub-function, the scratch buffer of node i, buffers for its gets
 * and one JS_MULTI step. Returns 0, or -1 with jx_error() (out of memory, a sub-function
 * that cannot be compiled, or a primitive whose family has no JIT lowering). */
int jit_plan_multi(jit_plan *p, int i);
/* Frees the sub-plans of p (plan_sub.c). */
void jit_plan_free_subs(jit_plan *p);
/* The offset in JS_MULTI step `step`'s scratch of its family's temporaries (after the
 * sub-plans' arena). */
int64_t jit_multi_temps_offset(const jit_plan *p, int step);

/* ---- memory (memplan.c) -------------------------------------------------------------- */

/* Computes liveness, packs arena buffers (64-byte aligned, reused after their last use)
 * and picks donated inputs for outputs (donate may be NULL). Returns 0 or -1. */
int jit_memplan(jit_plan *p, const unsigned char *donate);
/* Calls visit(ctx, leaf) for every buffer node a kernel rooted at `root` reads
 * (duplicates possible). */
void jit_kernel_leaves(const jit_plan *p, int root, void (*visit)(void *ctx, int leaf),
                       void *ctx);

/* ---- lowering (lower.c, lower_elt.c, lower_math.c) ----------------------------------- */

/* Builds the module with one external function
 *   void <entry>(void **in, void **out, char *arena, void **consts, int32_t nthreads)
 * in context cx (nthreads: threads for the big loops and BLAS, >= 1). NULL with
 * jx_error() on failure. */
LLVMModuleRef jit_lower(const jit_plan *p, LLVMContextRef cx, const char *entry);
/* Emits p into module m of cx as a function `name` with the entry's signature (internal
 * linkage unless external), its kernels named prefix + "k<step>" and its sub-plans' functions
 * prefix + "s<k>" (lowered first, recursively). The function, or NULL with jx_error(). */
LLVMValueRef jit_lower_into(const jit_plan *p, LLVMContextRef cx, LLVMModuleRef m,
                            const char *name, const char *prefix, int external);

/* ---- ORC (orc.c) --------------------------------------------------------------------- */

typedef void (*jit_entry_fn)(void **in, void **out, char *arena, void **consts,
                             int32_t nthreads);

/* Texts captured during a compile (each malloc'd or NULL). */
typedef struct jit_texts {
    char *llvm_before, *llvm_after, *asm_text;
} jit_texts;

/* An object file's bytes (malloc'd). */
typedef struct jit_obj {
    void *data;
    size_t len;
} jit_obj;

/* Lowers, optimizes (O3 with the host target machine) and JIT-links p under a fresh
 * resource tracker. The entry symbol is `name` (unique among live code; NULL: a fresh
 * jx_entry_N). If texts is non-NULL, fills it; if obj is non-NULL, it receives a copy of
 * the object file (for the disk cache). Returns 0 or -1 with jx_error(). */
int orc_compile(const jit_plan *p, const char *name, jit_entry_fn *entry, void **tracker,
                jit_texts *texts, jit_obj *obj);
/* Links an object file made by orc_compile (possibly in another process) under a fresh
 * resource tracker and looks up its entry `name`. Returns 0 or -1 with jx_error(). */
int orc_load(const void *data, size_t len, const char *name, jit_entry_fn *entry,
             void **tracker);
/* Removes the code of a tracker returned by orc_compile. */
void orc_release(void *tracker);
/* The CPU name and feature string used for code generation. */
const char *orc_cpu(void);
const char *orc_features(void);
/* The widest vector register width in bits that the code generation features allow
 * (512 with AVX-512 unless 512-bit EVEX is turned off, 256 with AVX, else 128): the
 * kernels' "prefer-vector-width" (LLVM's default on AVX-512 hosts is 256). */
int orc_vector_bits(void);

/* ---- inspection (exe.c) -------------------------------------------------------------- */

/* Compiles like jx_jit, keeping every stage's text for the accessors below. */
jx_exe *jit_compile_keep(const jx_fn *f, const jx_jit_opts *opts);
/* Each returns a malloc'd copy (NULL if the exe kept no texts): the plan, the LLVM IR
 * before or after O3, and the host assembly. */
char *jit_exe_plan(const jx_exe *e);
char *jit_exe_llvm(const jx_exe *e, int after_opt);
char *jit_exe_asm(const jx_exe *e);

#endif
