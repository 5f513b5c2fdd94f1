/* Graphviz DOT output of an IR function: one node per input and equation (labelled with
 * its text-form name, primitive and type), edges from operands to users, and one marked
 * node per output. Rank-0 constants appear as small literal nodes. A node's sub-functions
 * are drawn as dashed clusters (labelled "name: fn") beside it, joined to it by a dotted
 * edge from each sub-function's outputs. */
#include <stdlib.h>

#include "text/text.h"
#include "core/util.h"

/* Writes s with '"' and '\' escaped for a DOT string (s may be NULL). */
static void gv_escape(const char *s, FILE *out) {
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        if (*s == '\n') fputs("\\n", out);
        else fputc(*s, out);
    }
}

/* Writes the DOT node of node i (ids prefixed by pre). */
static void gv_node(const jx_fn *f, const int32_t *num, int32_t i, const char *pre, FILE *out) {
    const jx_node *n = &f->nodes[i];
    char name[TXT_NAME_MAX], ty[256], val[TXT_VALUE_MAX];
    jx_type_str(&n->type, ty, sizeof ty);
    if (num[i] < 0) {
        fprintf(out, "  %sn%d [shape=plaintext, label=\"%s:%s\"];\n", pre, (int)i,
                txt_value_str(n->type.dtype, jx_array_get(n->at.value, 0), val), ty);
        return;
    }
    txt_var_name(num[i], name);
    if (i < f->n_in) {
        fprintf(out, "  %sn%d [shape=ellipse, label=\"%s\\ninput %d\\n%s\"];\n", pre, (int)i, name,
                (int)i, ty);
        return;
    }
    const char *prim = (int)n->op >= 0 && n->op < JX_NOPS ? prim_info(n->op)->name : "?";
    fprintf(out, "  %sn%d [label=\"%s\\n%s\\n%s\"", pre, (int)i, name, prim, ty);
    if (n->loc.file) {
        fputs(", tooltip=\"", out);
        gv_escape(n->loc.file, out);
        fprintf(out, ":%d\"", n->loc.line);
    }
    fputs("];\n", out);
}

static void gv_body(const jx_fn *f, const char *pre, int depth, FILE *out);

/* Writes node i's sub-functions as clusters, each joined to the node by dotted edges. */
static void gv_subs(const jx_fn *f, int32_t i, const char *pre, int depth, FILE *out) {
    const jx_node *n = &f->nodes[i];
    if ((int)n->op < 0 || n->op >= JX_NOPS || depth >= JX_MAX_FN_DEPTH) return;
    const jx_prim_info *p = prim_info(n->op);
    for (int k = 0; k < n->at.n_fns && prim_fns_ok(p, n->at.n_fns); k++) {
        const jx_fn *g = n->at.fns[k];
        char sub[256];
        snprintf(sub, sizeof sub, "%sn%d_%d_", pre, (int)i, k);
        fprintf(out, "  subgraph cluster_%s {\n  style=dashed; label=\"%s: fn\";\n", sub,
                prim_fn_name(p, k));
        gv_body(g, sub, depth + 1, out);
        fputs("  }\n", out);
        for (int j = 0; j < g->n_out; j++)
            if (g->outs[j] >= 0 && g->outs[j] < g->n_nodes)
                fprintf(out, "  %sn%d -> %sn%d [style=dotted];\n", sub, (int)g->outs[j], pre,
                        (int)i);
    }
}

/* Writes f's nodes and edges with ids prefixed by pre (sub-functions as clusters). */
static void gv_body(const jx_fn *f, const char *pre, int depth, FILE *out) {
    int32_t *num = txt_numbering(f);
    if (!num) return;
    for (int32_t i = 0; i < f->n_nodes; i++) {
        const jx_node *n = &f->nodes[i];
        gv_node(f, num, i, pre, out);
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && n->in[k] < f->n_nodes)
                fprintf(out, "  %sn%d -> %sn%d;\n", pre, (int)n->in[k], pre, (int)i);
        if (n->at.n_fns > 0) gv_subs(f, i, pre, depth, out);
    }
    free(num);
}

/* Writes f as a Graphviz digraph to out. */
void jx_fn_dot(const jx_fn *f, FILE *out) {
    if (!f || !out) {
        util_err("dot: NULL %s", f ? "stream" : "function");
        return;
    }
    fputs("digraph jx {\n  node [shape=box, fontname=\"monospace\"];\n", out);
    gv_body(f, "", 0, out);
    for (int i = 0; i < f->n_out; i++) {
        fprintf(out, "  out%d [shape=doubleoctagon, style=bold, label=\"out %d\"];\n", i, i);
        if (f->outs[i] >= 0 && f->outs[i] < f->n_nodes)
            fprintf(out, "  n%d -> out%d [style=bold];\n", (int)f->outs[i], i);
    }
    fputs("}\n", out);
}
