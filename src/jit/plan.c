/* Fusion: partitions a jx_fn into steps.
 *
 * Every primitive except float dot_general and gemm is "gather form": element o of its output is
 * a pure function of operand elements at indices computed from o (reductions, argmax,
 * integer dot and conv_patches_t with an inner loop). So a loop kernel is a root node
 * with a buffer plus the tree of FUSED nodes under it, recomputed at whatever index the
 * consumer asks for. The rules that keep this always right and never asymptotically
 * slower than the interpreter:
 *  - outputs, dot_general results and operands a consumer reads more than once per
 *    element of the operand (expanding broadcast, conv_patches, threefry, pad value,
 *    integer dot) get buffers, unless they are "index-only" (parameters, constants,
 *    iota, and broadcast/reshape/transpose/slice/rev of those or of buffers), which cost
 *    a load and are recomputed freely;
 *  - a node used by several consumers gets a buffer unless it is index-only;
 *  - a reduction over leading axes (its operand's last axis kept) of 1024 or more
 *    elements gets a buffer and its own kernel, which streams over the operand's rows
 *    (fused into its consumer, its inner loop would stride across rows);
 *  - everything else is fused into its single consumer.
 * Float dot_general becomes one cblas GEMM per batch element (plan_gemm.c); transposes
 * and reshapes of its operands fold into the trans flags and leading dimensions when the
 * strides allow, otherwise a synthetic transpose kernel copies the operand to a canonical
 * layout first. A gemm node (c + alpha * dot, made by the gemm-fold pass, see
 * pass_gemm_fold.c) becomes one GEMM with that alpha and beta = 1 accumulating into its
 * buffer, which starts as c's (in place when c is a donated input), so c always gets a
 * buffer; a traced alpha (not a constant) gets a buffer too, which the GEMM step reads
 * at run time. */
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"
#include "transform/passes.h"
#include "core/util.h"

/* 1 if n is elementwise. */
int jit_is_elt(const jit_plan *p, int n) { return prim_has(p->nodes[n].op, JXF_ELT); }

/* 1 if consumer c reads operand slot k more than once per operand element (its family's
 * `rereads` rule; none: never). */
static int pl_rereads(const jx_fn *f, const jx_node *c, int k) {
    const jx_family *fam = prim_info(c->op)->family;
    return fam->rereads ? fam->rereads(f, c, k) : 0;
}

/* See jit.h. */
int jit_plan_add_step(jit_plan *p, jp_step s) {
    jp_step *ns = realloc(p->steps, ((size_t)p->n_steps + 1) * sizeof *ns);
    if (!ns) return -1;
    p->steps = ns;
    s.group = p->n_steps;
    p->steps[p->n_steps] = s;
    return p->n_steps++;
}

/* 1 if reduction node nd keeps its operand's last axis and reduces some other one (its
 * inner loop would stride over rows, so it gets its own row-streaming kernel). */
static int pl_outer_reduction(const jit_plan *p, const jx_node *nd) {
    if (nd->op != JX_OP_REDUCE_SUM && nd->op != JX_OP_REDUCE_MAX && nd->op != JX_OP_REDUCE_MIN)
        return 0;
    const jx_type *xt = &p->nodes[nd->in[0]].type;
    jx_ints ax = ir_attr_ints(nd, 0);
    int last_reduced = 0;
    for (int k = 0; k < ax.n; k++) last_reduced |= ax.v[k] == xt->rank - 1;
    return xt->rank > 0 && !last_reduced && ax.n > 0;
}

/* The planner's per-node facts about f (nodes [0, n_fn) only). */
typedef struct pl_ctx {
    const jx_fn *f;
    unsigned char *live;       /* reachable from the outputs */
    unsigned char *is_out;
    unsigned char *index_only; /* recomputed from buffers by index (see the header) */
    unsigned char *needs_buf;  /* read where only a buffer will do (a gemm's c, a traced alpha) */
    int *consumer, *slot;      /* the last live reader and its operand slot */
} pl_ctx;

/* Frees the arrays of c. */
static void pl_ctx_free(pl_ctx *c) {
    free(c->live);
    free(c->is_out);
    free(c->index_only);
    free(c->needs_buf);
    free(c->consumer);
    free(c->slot);
}

/* Fills c for f: liveness, outputs, readers; counts p->uses. Returns 0 or -1 on OOM. */
static int pl_ctx_init(pl_ctx *c, jit_plan *p, const jx_fn *f) {
    size_t n = (size_t)f->n_nodes + 1;
    c->f = f;
    c->live = calloc(n, 1);
    c->is_out = calloc(n, 1);
    c->index_only = calloc(n, 1);
    c->needs_buf = calloc(n, 1);
    c->consumer = calloc(n, sizeof *c->consumer);
    c->slot = calloc(n, sizeof *c->slot);
    if (!c->live || !c->is_out || !c->index_only || !c->needs_buf || !c->consumer || !c->slot)
        return -1;
    for (int i = 0; i < f->n_out; i++) c->live[f->outs[i]] = c->is_out[f->outs[i]] = 1;
    for (int i = f->n_nodes - 1; i >= 0; i--)
        if (c->live[i])
            for (int k = 0; k < f->nodes[i].nin; k++) c->live[f->nodes[i].in[k]] = 1;
    for (int i = 0; i < f->n_nodes; i++) {
        if (!c->live[i]) continue;
        for (int k = 0; k < f->nodes[i].nin; k++) {
            int o = f->nodes[i].in[k];
            p->uses[o]++;
            c->consumer[o] = i;
            c->slot[o] = k;
            if ((f->nodes[i].op == JX_OP_GEMM &&
                 (k == 2 || (k == 3 && f->nodes[o].op != JX_OP_CONSTANT))) ||
                prim_has(f->nodes[i].op, JXF_MULTI)) /* read by pointer in a sub-plan */
                c->needs_buf[o] = 1;
        }
    }
    return 0;
}

/* Allocates the plan of f (its node copies and tables, room for the synthetic copies of
 * every dot's operands). NULL on OOM. */
static jit_plan *pl_new(const jx_fn *f) {
    jit_plan *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int n = f->n_nodes, ndots = 0;
    for (int i = 0; i < n; i++)
        ndots += prim_has(f->nodes[i].op, JXF_LIBCALL); /* dot_general, gemm */
    p->fn = f;
    p->n_in = f->n_in;
    p->n_out = f->n_out;
    p->n_fn = p->n_nodes = n;
    p->cap = n + 2 * ndots;
    p->pool_cap = ndots * (6 * JX_MAX_RANK + 8) + 8;
    p->nodes = calloc((size_t)p->cap + 1, sizeof *p->nodes);
    p->uses = calloc((size_t)p->cap + 1, sizeof *p->uses);
    p->buf = calloc((size_t)p->cap + 1, sizeof *p->buf);
    p->pool = calloc((size_t)p->pool_cap, sizeof *p->pool);
    p->outs = calloc((size_t)f->n_out + 1, sizeof *p->outs);
    p->donor = calloc((size_t)f->n_out + 1, sizeof *p->donor);
    p->consts = calloc((size_t)n + 1, sizeof *p->consts);
    if (!p->nodes || !p->uses || !p->buf || !p->pool || !p->outs || !p->donor || !p->consts) {
        jit_plan_free(p);
        return NULL;
    }
    memcpy(p->nodes, f->nodes, (size_t)n * sizeof *p->nodes);
    for (int i = 0; i < f->n_out; i++) {
        p->outs[i] = f->outs[i];
        p->donor[i] = -1;
    }
    return p;
}

/* Assigns the buffer of input or constant node i. Returns 1 if i is one (0 otherwise). */
static int pl_leaf(jit_plan *p, const pl_ctx *c, int i) {
    const jx_node *nd = &c->f->nodes[i];
    jp_buf *b = &p->buf[i];
    if (i < c->f->n_in) {
        *b = (jp_buf){JP_PARAM, i, 0, 0, -1, -1};
        return 1;
    }
    if (nd->op != JX_OP_CONSTANT) return 0;
    if (nd->type.rank == 0 && !c->is_out[i] && !c->needs_buf[i]) {
        b->kind = JP_IMM;
    } else {
        b->kind = JP_CONST;
        b->index = p->n_consts;
        p->consts[p->n_consts++] = jx_array_retain(nd->at.value);
    }
    return 1;
}

/* 1 if computed node i gets a buffer (see the header comment); sets index_only[i]. */
static int pl_materialize(const jit_plan *p, pl_ctx *c, int i) {
    const jx_fn *f = c->f;
    const jx_node *nd = &f->nodes[i];
    /* a leaf here is iota (constants got their buffers in pl_leaf) */
    c->index_only[i] = prim_has(nd->op, JXF_LEAF) ||
                       (prim_has(nd->op, JXF_INDEX) &&
                        (p->buf[nd->in[0]].kind != JP_FUSED || c->index_only[nd->in[0]]));
    if (c->is_out[i] || c->needs_buf[i] || prim_has(nd->op, JXF_LIBCALL)) /* dots: GEMMs */
        return 1;
    if (c->index_only[i]) return 0;
    if (p->uses[i] > 1) return 1;
    if (pl_outer_reduction(p, nd) && jx_type_size(&f->nodes[nd->in[0]].type) >= 1024) return 1;
    return pl_rereads(f, &f->nodes[c->consumer[i]], c->slot[i]);
}

/* Plans gemm node i (c + alpha * dot(a, b)) as one GEMM accumulating into a copy of c,
 * with a constant alpha or one read from alpha's buffer at run time. Returns 0 or -1. */
static int pl_gemm_node(jit_plan *p, int i) {
    const jx_node *nd = &p->nodes[i];
    double alpha = 0;
    if (pass_scalar_const(p->fn, nd->in[3], &alpha)) return jit_plan_gemm(p, i, alpha, -1, nd->in[2]);
    jp_kind k = p->buf[nd->in[3]].kind;
    if (k != JP_PARAM && k != JP_CONST && k != JP_ARENA && k != JP_OUT)
        return util_err("jit: gemm at %s:%d: its traced alpha has no buffer",
                        nd->loc.file ? nd->loc.file : "?", nd->loc.line);
    return jit_plan_gemm(p, i, 0.0, nd->in[3], nd->in[2]);
}

/* Assigns node i's buffer and appends its step if it has one. Returns 0 or -1. */
static int pl_node(jit_plan *p, pl_ctx *c, int i) {
    const jx_node *nd = &c->f->nodes[i];
    p->buf[i] = (jp_buf){JP_DEAD, -1, 0, 0, -1, -1};
    if (nd->op == JX_OP_GET) { /* a result of a live multi node: written by its step */
        if (c->live[nd->in[0]]) p->buf[i].kind = JP_ARENA;
        return 0;
    }
    if (c->live[i] && prim_has(nd->op, JXF_MULTI)) return jit_plan_multi(p, i);
    if (!c->live[i] || pl_leaf(p, c, i)) return 0;
    if (!pl_materialize(p, c, i)) {
        p->buf[i].kind = JP_FUSED;
        return 0;
    }
    p->buf[i].kind = JP_ARENA;
    if (nd->op == JX_OP_GEMM) return pl_gemm_node(p, i);
    if (nd->op == JX_OP_DOT_GENERAL && (nd->type.dtype == JX_F32 || nd->type.dtype == JX_F64))
        return jit_plan_gemm(p, i, 1.0, -1, -1);
    int outer = pl_outer_reduction(p, nd);
    return jit_plan_add_step(p, (jp_step){JS_KERNEL, i, outer, -1, {0}, 0, -1}) < 0 ? -1 : 0;
}

/* Outputs: the first output naming a computed node owns its buffer; params, constants
 * and repeated outputs are copied at the end. Returns 0 or -1 on OOM. */
static int pl_outputs(jit_plan *p) {
    for (int j = 0; j < p->n_out; j++) {
        int o = p->outs[j];
        jp_buf *b = &p->buf[o];
        if (b->kind == JP_ARENA) {
            b->kind = JP_OUT;
            b->index = j;
        } else if (jit_plan_add_step(p, (jp_step){JS_COPY, o, 0, j, {0}, 0, -1}) < 0) {
            return -1;
        }
    }
    return 0;
}

/* See jit.h. */
jit_plan *jit_plan_build(const jx_fn *f) {
    if (!f) {
        util_err("jit: NULL function");
        return NULL;
    }
    pl_ctx c;
    memset(&c, 0, sizeof c);
    jit_plan *p = pl_new(f);
    int rc = p && pl_ctx_init(&c, p, f) == 0 ? 0 : -1;
    for (int i = 0; i < f->n_nodes && rc == 0; i++) rc = pl_node(p, &c, i);
    if (rc == 0) rc = pl_outputs(p);
    pl_ctx_free(&c);
    if (rc < 0) {
        if (!jx_error()[0]) util_err("jit: out of memory while planning");
        jit_plan_free(p);
        return NULL;
    }
    /* every type of a traced function has at most JX_MAX_BYTES bytes (ir_type_check runs
     * on each input and op result), so this product and the view strides cannot overflow */
    for (int i = 0; i < p->n_nodes; i++) {
        jx_type t = p->nodes[i].type;
        if (!prim_has(p->nodes[i].op, JXF_MULTI)) /* a multi node's: its scratch (plan_sub.c) */
            p->buf[i].bytes = jx_type_size(&t) * (int64_t)jx_dtype_size(t.dtype);
    }
    return p;
}

/* Frees a plan and releases its constants. */
void jit_plan_free(jit_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_consts; i++) jx_array_free(p->consts[i]);
    free(p->consts);
    free(p->nodes);
    free(p->uses);
    free(p->buf);
    free(p->steps);
    free(p->outs);
    free(p->donor);
    free(p->pool);
    jit_plan_free_subs(p);
    jx_fn_free(p->own_fn);
    free(p);
}
