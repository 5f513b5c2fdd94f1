/* Graph cleanup: jx_simplify = algebraic simplification + constant folding + CSE, then
 * DCE. Rewrites happen while replaying f into a new trace, so every result is checked by
 * the shape rules again. The registry of named passes is pass_registry.c. */
#include <stdlib.h>
#include <string.h>

#include "transform/passes.h"
#include "core/replay.h"
#include "transform/transform.h"
#include "core/util.h"

#define SIMP_FOLD_MAX 16 /* fold constant expressions with at most this many elements */

/* Table slots examined by simp_cse on this thread (see passes.h). */
static _Thread_local uint64_t simp_probes;

/* See passes.h. */
uint64_t simp_cse_probes(void) { return simp_probes; }

typedef struct simp {
    jx_trace *t;
    int32_t *table; /* CSE hash table of new ids, -1 empty */
    size_t cap;
    int simplify; /* SIMP_* rule groups to apply (0: copy only, as DCE's replay) */
} simp;

/* The simplifier's rule groups, each also a pass of its own (see the registry). */
enum { SIMP_IDENTITIES = 1, SIMP_CONST_FOLD = 2, SIMP_CSE = 4, SIMP_ALL = 7 };

static const jx_node *simp_node(const simp *s, int32_t id) { return &s->t->fn->nodes[id]; }

/* 1 (and *v) if new node id is a constant whose elements all equal *v. */
static int simp_splat(const simp *s, int32_t id, double *v) {
    const jx_node *n = simp_node(s, id);
    if (n->op == JX_OP_BROADCAST_IN_DIM) n = simp_node(s, n->in[0]);
    if (n->op != JX_OP_CONSTANT || !n->at.value) return 0;
    int64_t size = jx_array_size(n->at.value);
    if (size < 1 || size > 4096) return 0;
    *v = jx_array_get(n->at.value, 0);
    for (int64_t i = 1; i < size; i++)
        if (jx_array_get(n->at.value, i) != *v) return 0;
    return 1;
}

static int simp_is(const simp *s, int32_t id, double want) {
    double v;
    return simp_splat(s, id, &v) && v == want;
}

/* Hash of a node's identity (op, operands, attrs, type, small constant contents,
 * sub-functions). */
static uint64_t simp_hash(const jx_node *n) {
    uint64_t h = 1469598103934665603ULL;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ULL)
    MIX(n->op);
    MIX(n->nin);
    for (int k = 0; k < n->nin; k++) MIX(n->in[k]);
    MIX(n->type.dtype);
    MIX(n->type.rank);
    for (int d = 0; d < n->type.rank; d++) MIX(n->type.shape[d]);
    for (int k = 0; k < JX_MAX_ATTRS; k++)
        for (int i = 0; i < n->at.n[k]; i++) MIX(n->at.v[k][i]);
    if (n->at.value && jx_array_size(n->at.value) <= 64) {
        const unsigned char *p = jx_array_cdata(n->at.value);
        for (size_t i = 0; i < jx_array_nbytes(n->at.value); i++) MIX(p[i]);
    }
    for (int k = 0; k < n->at.n_fns; k++) MIX(ir_fn_hash(n->at.fns[k]));
#undef MIX
    return h;
}

/* 1 if a and b compute the same value: equal nodes that are not inputs (constants of
 * more than 64 elements only when they are the same array, to bound the compare). */
static int simp_same(const jx_node *a, const jx_node *b) {
    return a->op != JX_OP_PARAM && ir_node_equal(a, b, 64);
}

/* The id of an earlier node equal to new node id (which is then dead), or id itself.
 * Only nodes appended for the current equation may be passed: a rewrite that returns an
 * older node (an input, or an earlier equation's canonical node) must not be looked up
 * again, or every such return would add an entry to one probe chain (inputs never
 * compare equal), making CSE quadratic. */
static int32_t simp_cse(simp *s, int32_t id) {
    const jx_node *n = simp_node(s, id);
    size_t i = simp_hash(n) & (s->cap - 1);
    for (; s->table[i] >= 0; i = (i + 1) & (s->cap - 1)) {
        simp_probes++;
        if (simp_same(simp_node(s, s->table[i]), n)) return s->table[i];
    }
    simp_probes++;
    s->table[i] = id;
    return id;
}

/* Evaluates a node whose operands are all constants into a new constant node. */
static jx_val simp_fold(simp *s, const jx_node *n, const jx_val *x) {
    const jx_prim_info *p = prim_info(n->op);
    jx_array *ins[JX_MAX_OPERANDS], *out = jx_array_new_type(&n->type);
    jx_node tmp = *n;
    int32_t ids[JX_MAX_OPERANDS];
    for (int k = 0; k < n->nin; k++) {
        ids[k] = x[k].id;
        ins[k] = simp_node(s, x[k].id)->at.value;
    }
    tmp.in = ids;
    jx_val r = {NULL, -1};
    if (out && p->family->interp(&tmp, ins, out) == 0) r = jx_constant_at(n->loc, s->t, out);
    jx_array_free(out);
    return r;
}

/* The algebraic identities (x+0, x*1, x/1, neg neg, no-op convert/reshape/broadcast/
 * reduce/transpose, composed broadcasts/reshapes/transposes, select of equal branches):
 * the simpler form of n on new operands x, or an invalid value. */
static jx_val simp_identity(simp *s, const jx_node *n, const jx_val *x) {
    jx_val none = {NULL, -1};
    const jx_type *t0 = n->nin ? trace_type(s->t, x[0].id) : NULL;
    int same0 = t0 && jx_type_eq(t0, &n->type);
    int same1 = n->nin > 1 && jx_type_eq(trace_type(s->t, x[1].id), &n->type);
    switch (n->op) {
    case JX_OP_ADD:
        if (same0 && simp_is(s, x[1].id, 0)) return x[0];
        if (same1 && simp_is(s, x[0].id, 0)) return x[1];
        break;
    case JX_OP_SUB:
        if (same0 && simp_is(s, x[1].id, 0)) return x[0];
        break;
    case JX_OP_MUL:
        if (same0 && simp_is(s, x[1].id, 1)) return x[0];
        if (same1 && simp_is(s, x[0].id, 1)) return x[1];
        break;
    case JX_OP_DIV:
        if (same0 && simp_is(s, x[1].id, 1)) return x[0];
        break;
    case JX_OP_NEG: {
        const jx_node *a = simp_node(s, x[0].id);
        if (a->op == JX_OP_NEG) return trace_val(s->t, a->in[0]);
        break;
    }
    case JX_OP_CONVERT:
    case JX_OP_RESHAPE:
    case JX_OP_BROADCAST_IN_DIM:
        if (same0) return x[0];
        if (n->op == JX_OP_BROADCAST_IN_DIM &&
            simp_node(s, x[0].id)->op == JX_OP_BROADCAST_IN_DIM) {
            /* broadcast(broadcast(v, d1), d2) = broadcast(v, d2 o d1) */
            const jx_node *a = simp_node(s, x[0].id);
            jx_ints d1 = ir_attr_ints(a, 1), d2 = ir_attr_ints(n, 1), d = d1;
            for (int i = 0; i < d1.n; i++) d.v[i] = d2.v[d1.v[i]];
            return jx_broadcast_in_dim_at(n->loc, trace_val(s->t, a->in[0]), ir_attr_ints(n, 0), d);
        }
        if (n->op == JX_OP_RESHAPE && simp_node(s, x[0].id)->op == JX_OP_RESHAPE) {
            /* reshape(reshape(v)) = reshape(v), or v itself when the shapes match */
            jx_val inner = trace_val(s->t, simp_node(s, x[0].id)->in[0]);
            if (jx_type_eq(trace_type(s->t, inner.id), &n->type)) return inner;
            return tx_replay(s->t, n, &inner);
        }
        break;
    case JX_OP_REDUCE_SUM:
        if (n->at.n[0] == 0 && same0) return x[0];
        break;
    case JX_OP_SELECT:
        if (x[1].id == x[2].id) return x[1];
        break;
    case JX_OP_TRANSPOSE: {
        jx_ints p = ir_attr_ints(n, 0);
        const jx_node *a = simp_node(s, x[0].id);
        jx_val src = x[0];
        if (a->op == JX_OP_TRANSPOSE) {
            jx_ints q = ir_attr_ints(a, 0), c = p;
            for (int i = 0; i < p.n; i++) c.v[i] = q.v[p.v[i]];
            p = c;
            src = trace_val(s->t, a->in[0]);
        }
        int ident = 1;
        for (int i = 0; i < p.n; i++) ident &= p.v[i] == i;
        if (ident) return src;
        if (src.id != x[0].id) return jx_transpose_at(n->loc, src, p);
        break;
    }
    default:
        break;
    }
    return none;
}

/* Constant folding: n on new operands x evaluated into a constant when they are all
 * constants and n is small (but not a splat, a broadcast of a scalar), or an invalid
 * value. */
static jx_val simp_const_fold(simp *s, const jx_node *n, const jx_val *x) {
    jx_val none = {NULL, -1};
    /* a barrier is never folded: it must keep a checkpoint's recomputation apart */
    int all_const = n->nin > 0 && n->nin <= JX_MAX_OPERANDS && n->op != JX_OP_BROADCAST_IN_DIM &&
                    n->op != JX_OP_OPT_BARRIER;
    for (int k = 0; k < n->nin && all_const; k++)
        all_const = simp_node(s, x[k].id)->op == JX_OP_CONSTANT;
    int64_t size = jx_type_size(&n->type);
    if (all_const && size >= 0 && size <= SIMP_FOLD_MAX) return simp_fold(s, n, x);
    return none;
}

/* 1 for the nodes simplify leaves exactly as they are: multi-result nodes and their gets
 * (a get must follow its node, so neither is rewritten nor merged by CSE). */
static int simp_keep(const jx_node *n) {
    return prim_has(n->op, JXF_MULTI) || n->op == JX_OP_GET;
}

/* The simplified form of n on new operands x under s's rule groups, or an invalid value
 * to emit n as is. */
static jx_val simp_rewrite(simp *s, const jx_node *n, const jx_val *x) {
    jx_val y = {NULL, -1};
    if (simp_keep(n)) return y;
    if (s->simplify & SIMP_IDENTITIES) y = simp_identity(s, n, x);
    if (jx_val_bad(y) && (s->simplify & SIMP_CONST_FOLD)) y = simp_const_fold(s, n, x);
    return y;
}

/* The simplifier's rule for one node: its rewrite (when simplifying) or the node as it
 * is, then CSE of what the equation appended. */
static int simp_node_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    simp *s = r->ctx;
    const jx_node *n = &r->f->nodes[i];
    int32_t first_new = s->t->fn->n_nodes; /* nodes from here on are this equation's */
    *y = s->simplify ? simp_rewrite(s, n, x) : (jx_val){NULL, -1};
    if (jx_val_bad(*y)) *y = tx_replay(s->t, n, x);
    if (jx_val_bad(*y)) return -1;
    /* a rewrite may return an existing node (x*1 -> x): already canonical */
    if ((s->simplify & SIMP_CSE) && y->id >= first_new && !simp_keep(n))
        y->id = simp_cse(s, y->id);
    return 0;
}

/* Binds the rule's state to the new trace. */
static int simp_start(replay *r) {
    ((simp *)r->ctx)->t = r->t;
    return 0;
}

/* Replays f into a new function, skipping nodes not in live (NULL: all), simplifying
 * when simplify is set. */
static jx_fn *simp_replay(const jx_fn *f, const unsigned char *live, int simplify) {
    simp s = {NULL, NULL, 64, simplify};
    while (s.cap < 2 * (size_t)f->n_nodes) s.cap *= 2;
    s.table = malloc(s.cap * sizeof *s.table);
    if (!s.table) {
        util_err("simplify: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < s.cap; i++) s.table[i] = -1;
    replay_spec spec = {.what = "simplify", .n_out = f->n_out, .live = live,
                        .start = simp_start, .rule = simp_node_rule};
    jx_fn *g = replay_fn(f, &spec, &s);
    free(s.table);
    return g;
}

/* Dead code elimination: a copy of f without nodes that no output depends on. */
/* See passes.h. */
void pass_mark_live(const jx_fn *f, unsigned char *live, int *uses, int *consumer) {
    for (int j = 0; j < f->n_out; j++) {
        live[f->outs[j]] = 1;
        if (uses) uses[f->outs[j]]++;
    }
    for (int i = f->n_nodes - 1; i >= f->n_in; i--) {
        if (live[i] && ir_is_multi(f, i)) /* its gets stay with it, used or not */
            for (int j = ir_n_gets(f, i); j > 0; j--) live[i + j] = 1;
        if (live[i])
            for (int k = 0; k < f->nodes[i].nin; k++) {
                int32_t o = f->nodes[i].in[k];
                live[o] = 1;
                if (uses) uses[o]++;
                if (consumer) consumer[o] = i;
            }
    }
}

/* See passes.h. */
jx_fn *pass_dce(const jx_fn *f) {
    unsigned char *live = calloc((size_t)f->n_nodes + 1, 1);
    if (!live) {
        util_err("simplify: out of memory");
        return NULL;
    }
    pass_mark_live(f, live, NULL, NULL);
    jx_fn *g = simp_replay(f, live, 0);
    free(live);
    return g;
}

/* See jx.h. */
jx_fn *jx_simplify(const jx_fn *f) {
    if (!f) {
        util_err("simplify: NULL function");
        return NULL;
    }
    jx_fn *a = simp_replay(f, NULL, SIMP_ALL);
    if (!a) return NULL;
    jx_fn *b = pass_dce(a);
    jx_fn_free(a);
    return b;
}

/* ---- the simplifier's rule groups as passes (listed in pass_registry.c) ---------------- */

/* See passes.h. */
jx_fn *pass_identities(const jx_fn *f) { return simp_replay(f, NULL, SIMP_IDENTITIES); }

/* See passes.h. */
jx_fn *pass_const_fold(const jx_fn *f) { return simp_replay(f, NULL, SIMP_CONST_FOLD); }

/* See passes.h. */
jx_fn *pass_cse(const jx_fn *f) { return simp_replay(f, NULL, SIMP_CSE); }

/* See passes.h. */
jx_fn *pass_copy(const jx_fn *f) { return simp_replay(f, NULL, 0); }
