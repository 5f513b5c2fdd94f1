/* Graphviz DOT output of an IR function: one node per input and equation (labelled with
 * its text-form name, primitive and type), edges from operands to users, and one marked
 * node per output. Rank-0 constants appear as small literal nodes. */
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

/* Writes the DOT node of node i. */
static void gv_node(const jx_fn *f, const int32_t *num, int32_t i, FILE *out) {
    const jx_node *n = &f->nodes[i];
    char name[TXT_NAME_MAX], ty[256], val[TXT_VALUE_MAX];
    jx_type_str(&n->type, ty, sizeof ty);
    if (num[i] < 0) {
        fprintf(out, "  n%d [shape=plaintext, label=\"%s:%s\"];\n", (int)i,
                txt_value_str(n->type.dtype, jx_array_get(n->at.value, 0), val), ty);
        return;
    }
    txt_var_name(num[i], name);
    if (i < f->n_in) {
        fprintf(out, "  n%d [shape=ellipse, label=\"%s\\ninput %d\\n%s\"];\n", (int)i, name,
                (int)i, ty);
        return;
    }
    const char *prim = (int)n->op >= 0 && n->op < JX_NOPS ? prim_info(n->op)->name : "?";
    fprintf(out, "  n%d [label=\"%s\\n%s\\n%s\"", (int)i, name, prim, ty);
    if (n->loc.file) {
        fputs(", tooltip=\"", out);
        gv_escape(n->loc.file, out);
        fprintf(out, ":%d\"", n->loc.line);
    }
    fputs("];\n", out);
}

/* Writes f as a Graphviz digraph to out. */
void jx_fn_dot(const jx_fn *f, FILE *out) {
    if (!f || !out) {
        util_err("dot: NULL %s", f ? "stream" : "function");
        return;
    }
    int32_t *num = txt_numbering(f);
    if (!num) return;
    fputs("digraph jx {\n  node [shape=box, fontname=\"monospace\"];\n", out);
    for (int32_t i = 0; i < f->n_nodes; i++) {
        const jx_node *n = &f->nodes[i];
        gv_node(f, num, i, out);
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && n->in[k] < f->n_nodes)
                fprintf(out, "  n%d -> n%d;\n", (int)n->in[k], (int)i);
    }
    for (int i = 0; i < f->n_out; i++) {
        fprintf(out, "  out%d [shape=doubleoctagon, style=bold, label=\"out %d\"];\n", i, i);
        if (f->outs[i] >= 0 && f->outs[i] < f->n_nodes)
            fprintf(out, "  n%d -> out%d [style=bold];\n", (int)f->outs[i], i);
    }
    fputs("}\n", out);
    free(num);
}
