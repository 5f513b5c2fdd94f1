/* IR functions: creation, appending nodes, outputs, the verifier, accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"
#include "core/util.h"

/* A new function with n_in inputs of the given types; NULL (with jx_error) on bad types
 * or OOM. */
jx_fn *ir_fn_new(int n_in, const jx_type *in_types) {
    if (n_in < 0 || n_in > (1 << 20) || (n_in > 0 && !in_types)) {
        util_err("trace: bad input count %d or NULL input types", n_in);
        return NULL;
    }
    for (int i = 0; i < n_in; i++) {
        char why[400], ts[160];
        if (ir_type_check(&in_types[i], why, sizeof why) < 0) {
            util_err("trace: input %d (%s) %s", i, jx_type_str(&in_types[i], ts, sizeof ts), why);
            return NULL;
        }
    }
    jx_fn *f = calloc(1, sizeof *f);
    if (!f || !(f->arena = ir_arena_new())) {
        free(f);
        util_err("trace: out of memory");
        return NULL;
    }
    for (int i = 0; i < n_in; i++) {
        if (ir_fn_append(f, JX_OP_PARAM, 0, NULL, &in_types[i], NULL, (jx_loc){0}) < 0) {
            jx_fn_free(f);
            return NULL;
        }
    }
    f->n_in = n_in;
    return f;
}

/* Interns a location's file name: one arena copy per run of equal names. */
static const char *ir_intern_file(jx_fn *f, const char *file) {
    if (!file) return NULL;
    if (f->last_file && strcmp(f->last_file, file) == 0) return f->last_file;
    const char *s = ir_arena_strdup(f->arena, file);
    if (s) f->last_file = s;
    return s;
}

/* Gives node n (being appended to f) references to at's sub-functions, in f's arena.
 * -1 on OOM or a bad list (the node then holds none). */
static int ir_append_fns(jx_fn *f, jx_node *n, const jx_attrs *at) {
    if (at->n_fns > JX_MAX_FNS || !at->fns) return util_err("trace: bad sub-function list");
    for (int k = 0; k < at->n_fns; k++)
        if (!at->fns[k]) return util_err("trace: sub-function %d is NULL", k);
    const jx_fn **fns = ir_arena_alloc(f->arena, (size_t)at->n_fns * sizeof *fns);
    if (!fns) return util_err("trace: out of memory");
    for (int k = 0; k < at->n_fns; k++) fns[k] = ir_fn_retain(at->fns[k]);
    n->at.fns = fns;
    n->at.n_fns = at->n_fns;
    return 0;
}

/* Appends a node; copies operands and attribute vectors into the arena and retains the
 * constant value. Returns the new id or -1 on OOM. */
int32_t ir_fn_append(jx_fn *f, jx_op op, int nin, const int32_t *in, const jx_type *type,
                     const jx_attrs *at, jx_loc loc) {
    if (f->n_nodes == f->cap) {
        if (f->cap >= (1 << 28)) return util_err("trace: function too large");
        int cap = f->cap ? 2 * f->cap : 32;
        jx_node *nn = realloc(f->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return util_err("trace: out of memory");
        f->nodes = nn;
        f->cap = cap;
    }
    jx_node *n = &f->nodes[f->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->nin = nin;
    n->type = *type;
    if (nin > 0) {
        int32_t *ins = ir_arena_alloc(f->arena, (size_t)nin * sizeof *ins);
        if (!ins) return util_err("trace: out of memory");
        memcpy(ins, in, (size_t)nin * sizeof *ins);
        n->in = ins;
    }
    if (at) {
        for (int k = 0; k < JX_MAX_ATTRS; k++) {
            if (at->n[k] <= 0) continue;
            int64_t *v = ir_arena_alloc(f->arena, (size_t)at->n[k] * sizeof *v);
            if (!v) return util_err("trace: out of memory");
            memcpy(v, at->v[k], (size_t)at->n[k] * sizeof *v);
            n->at.n[k] = at->n[k];
            n->at.v[k] = v;
        }
        if (at->n_fns > 0 && ir_append_fns(f, n, at) < 0) return -1;
        if (at->value) n->at.value = jx_array_retain(at->value); /* nothing fails after */
    }
    n->loc.line = loc.line;
    n->loc.file = ir_intern_file(f, loc.file);
    return f->n_nodes++;
}

/* Sets the outputs (copied into the arena); -1 on a bad id or OOM. */
int ir_fn_set_outputs(jx_fn *f, int n_out, const int32_t *outs) {
    if (n_out < 0) return util_err("trace: negative output count");
    int32_t *o = ir_arena_alloc(f->arena, (size_t)(n_out ? n_out : 1) * sizeof *o);
    if (!o) return util_err("trace: out of memory");
    for (int i = 0; i < n_out; i++) {
        if (outs[i] < 0 || outs[i] >= f->n_nodes) return util_err("trace: bad output %d", i);
        o[i] = outs[i];
    }
    f->outs = o;
    f->n_out = n_out;
    return 0;
}

/* Attribute k as a jx_ints (at most JX_MAX_RANK entries). */
jx_ints ir_attr_ints(const jx_node *n, int k) {
    jx_ints r = {0, {0}};
    if (k < 0 || k >= JX_MAX_ATTRS) return r;
    r.n = n->at.n[k] > JX_MAX_RANK ? JX_MAX_RANK : n->at.n[k];
    for (int i = 0; i < r.n; i++) r.v[i] = n->at.v[k][i];
    return r;
}

const jx_type ir_multi_type = {JX_NDTYPES, 0, {0}};

/* See ir.h. */
int ir_is_multi(const jx_fn *f, int i) {
    return i >= f->n_in && i < f->n_nodes && prim_has(f->nodes[i].op, JXF_MULTI);
}

/* See ir.h. */
int ir_n_gets(const jx_fn *f, int i) {
    int k = 0;
    while (i + 1 + k < f->n_nodes && f->nodes[i + 1 + k].op == JX_OP_GET &&
           f->nodes[i + 1 + k].nin == 1 && f->nodes[i + 1 + k].in[0] == i)
        k++;
    return k;
}

/* An attrs struct pointing into the given lists (NULL: absent). */
jx_attrs ir_attrs(const jx_ints *a0, const jx_ints *a1, const jx_ints *a2, const jx_ints *a3) {
    jx_attrs at;
    memset(&at, 0, sizeof at);
    const jx_ints *a[JX_MAX_ATTRS] = {a0, a1, a2, a3};
    for (int k = 0; k < JX_MAX_ATTRS; k++) {
        if (!a[k]) continue;
        at.n[k] = a[k]->n;
        at.v[k] = a[k]->v;
    }
    return at;
}

/* Drops one reference to f (see ir_fn_retain); the last one frees f, its arena and its
 * references to constants and sub-functions (NULL is ignored). */
void jx_fn_free(jx_fn *f) {
    if (!f) return;
    if (atomic_fetch_sub(&f->refs, 1) > 0) return;
    for (int i = 0; i < f->n_nodes; i++) {
        jx_array_free(f->nodes[i].at.value);
        for (int k = 0; k < f->nodes[i].at.n_fns; k++) jx_fn_free((jx_fn *)f->nodes[i].at.fns[k]);
    }
    free(f->nodes);
    ir_arena_free(f->arena);
    free(f);
}

int jx_fn_n_in(const jx_fn *f) { return f ? f->n_in : 0; }
int jx_fn_n_out(const jx_fn *f) { return f ? f->n_out : 0; }
int jx_fn_n_eqns(const jx_fn *f) { return f ? f->n_nodes - f->n_in : 0; }

/* Type of input i (a zero type with dtype JX_NDTYPES when out of range). */
jx_type jx_fn_in_type(const jx_fn *f, int i) {
    jx_type bad = {JX_NDTYPES, 0, {0}};
    return f && i >= 0 && i < f->n_in ? f->nodes[i].type : bad;
}

/* Type of output i (a zero type with dtype JX_NDTYPES when out of range). */
jx_type jx_fn_out_type(const jx_fn *f, int i) {
    jx_type bad = {JX_NDTYPES, 0, {0}};
    return f && i >= 0 && i < f->n_out ? f->nodes[f->outs[i]].type : bad;
}

static int ir_verify(const jx_fn *f, int depth);

/* Checks node i's sub-functions: the count its primitive names, each present, not nested
 * deeper than JX_MAX_FN_DEPTH, and itself valid. (Their types against the operands are
 * the shape rule's business.) */
static int ir_verify_fns(const jx_node *n, int i, int depth) {
    const jx_prim_info *p = prim_info(n->op);
    if (!prim_fns_ok(p, n->at.n_fns) || (n->at.n_fns > 0 && !n->at.fns))
        return util_err("verify: node %d (%s) has %d sub-functions, expected %s%d", i, p->name,
                        n->at.n_fns, p->n_fns < 0 ? "1 to " : "",
                        p->n_fns < 0 ? JX_MAX_FNS : p->n_fns);
    for (int k = 0; k < n->at.n_fns; k++) {
        if (!n->at.fns[k])
            return util_err("verify: node %d (%s) sub-function '%s' is NULL", i, p->name,
                            prim_fn_name(p, k));
        if (depth + 1 > JX_MAX_FN_DEPTH)
            return util_err("verify: node %d (%s) nests sub-functions deeper than %d", i,
                            p->name, JX_MAX_FN_DEPTH);
        if (ir_verify(n->at.fns[k], depth + 1) < 0) {
            char e[900];
            snprintf(e, sizeof e, "%s", jx_error());
            return util_err("verify: node %d (%s) sub-function '%s': %s", i, p->name,
                            prim_fn_name(p, k), e);
        }
    }
    return 0;
}

/* Checks the multi-result rules at node i (see ir.h): a multi node is followed by exactly
 * its results' gets, in order and of the results' types; a get reads the multi node
 * right before its run at its own position; no other node reads a multi node. */
static int ir_verify_multi(const jx_fn *f, int i) {
    const jx_node *n = &f->nodes[i];
    const char *name = prim_info(n->op)->name;
    if (ir_is_multi(f, i)) {
        jx_type r[JX_MAX_RESULTS];
        int k = prim_info(n->op)->family->results(n, r, JX_MAX_RESULTS);
        if (k < 0) return util_err("verify: node %d (%s) has too many results", i, name);
        if (ir_n_gets(f, i) != k)
            return util_err("verify: node %d (%s) has %d results but is followed by %d gets of "
                            "it", i, name, k, ir_n_gets(f, i));
        for (int j = 0; j < k; j++) {
            const jx_node *g = &f->nodes[i + 1 + j];
            char a[160], b[160];
            if (g->at.n[0] != 1 || g->at.v[0][0] != j)
                return util_err("verify: node %d (get) should be result %d of node %d", i + 1 + j,
                                j, i);
            if (!jx_type_eq(&g->type, &r[j]))
                return util_err("verify: node %d (get) has type %s but result %d of node %d "
                                "(%s) is %s", i + 1 + j, jx_type_str(&g->type, a, sizeof a), j,
                                i, name, jx_type_str(&r[j], b, sizeof b));
        }
        return 0;
    }
    for (int k = 0; k < n->nin; k++) {
        int p = n->in[k];
        if (!ir_is_multi(f, p)) continue;
        if (n->op != JX_OP_GET || i > p + ir_n_gets(f, p))
            return util_err("verify: node %d (%s) reads multi-result node %d directly or out "
                            "of its run of gets", i, name, p);
    }
    if (n->op == JX_OP_GET && !ir_is_multi(f, n->in[0]))
        return util_err("verify: node %d (get) reads node %d, which has no results", i, n->in[0]);
    return 0;
}

/* Checks order, operand ranges, arities and every node's type against its shape rule. */
int jx_fn_verify(const jx_fn *f) { return ir_verify(f, 0); }

/* jx_fn_verify of a function nested depth levels deep. */
static int ir_verify(const jx_fn *f, int depth) {
    if (!f) return util_err("verify: NULL function");
    for (int i = 0; i < f->n_nodes; i++) {
        const jx_node *n = &f->nodes[i];
        if (i < f->n_in) {
            if (n->op != JX_OP_PARAM) return util_err("verify: node %d should be an input", i);
            continue;
        }
        if ((int)n->op < 0 || n->op >= JX_NOPS)
            return util_err("verify: node %d has a bad op %d", i, (int)n->op);
        const jx_prim_info *p = prim_info(n->op);
        if (p->arity >= 0 ? n->nin != p->arity : n->nin < 1)
            return util_err("verify: node %d (%s) has %d operands", i, p->name, n->nin);
        if (n->nin > JX_MAX_OPERANDS)
            return util_err("verify: node %d (%s) has too many operands", i, p->name);
        jx_type in[JX_MAX_OPERANDS];
        for (int k = 0; k < n->nin; k++) {
            if (n->in[k] < 0 || n->in[k] >= i)
                return util_err("verify: node %d (%s) operand %d refers to %d, not an earlier node",
                                i, p->name, k, n->in[k]);
            in[k] = f->nodes[n->in[k]].type;
        }
        if (ir_verify_fns(n, i, depth) < 0) return -1;
        jx_type out;
        char err[512] = "";
        if (p->family->infer(n->op, n->nin, in, &n->at, &n->type, &out, err, sizeof err) < 0)
            return util_err("verify: node %d (%s): %s", i, p->name, err);
        if (!(p->flags & JXF_MULTI) && ir_type_check(&out, err, sizeof err) < 0)
            return util_err("verify: node %d (%s): result %s", i, p->name, err);
        if (!jx_type_eq(&out, &n->type)) {
            char a[160], b[160];
            return util_err("verify: node %d (%s) has type %s but its rule gives %s", i, p->name,
                            jx_type_str(&n->type, a, sizeof a), jx_type_str(&out, b, sizeof b));
        }
        if (ir_verify_multi(f, i) < 0) return -1;
    }
    if (f->n_out > 0 && !f->outs) return util_err("verify: outputs not set");
    for (int i = 0; i < f->n_out; i++)
        if (f->outs[i] < 0 || f->outs[i] >= f->n_nodes)
            return util_err("verify: output %d refers to missing node %d", i, f->outs[i]);
        else if (ir_is_multi(f, f->outs[i]))
            return util_err("verify: output %d is multi-result node %d, not one of its results",
                            i, f->outs[i]);
    return 0;
}
