/* The IR printer: the jaxpr-like text form that text_parse.c reads back.
 *
 *   { lambda ; a:f32[3] b:f32[3]. let
 *       c:f32[3] = add a b    # model.c:12
 *       d:f32[2,2] = constant[value=[1.0,2.0,3.0,4.0]]
 *     in (c, 0.5:f32[]) }
 *
 * A node's sub-functions follow its integer attributes inside the brackets, one per line,
 * each a whole function in the same form, indented under its equation:
 *
 *       b:f32[3] = custom_jvp[
 *         call={ lambda ; a:f32[3]. let
 *             b:f32[3] = max a 0.0:f32[]
 *           in (b) }
 *         jvp={ lambda ; a:f32[3] b:f32[3]. let ... in (c, d) }
 *       ] a
 *
 * jx_fn_print_opts(f, out, JX_PRINT_FOLD) prints the same without the sub-functions'
 * bodies, `b:f32[3] = custom_jvp[...] a`: a compact view for reading, not parseable.
 *
 * Rank-0 constants are printed inline as literals wherever they are used; every other
 * node gets a name in order of definition. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"
#include "core/util.h"

/* Writes the name of variable number i (jaxpr's alphabetic numbering). */
void txt_var_name(int64_t i, char *buf) {
    char tmp[TXT_NAME_MAX];
    int n = 0;
    if (i < 0) i = 0;
    do {
        tmp[n++] = (char)('a' + i % 26);
        i /= 26;
    } while (i > 0 && n < TXT_NAME_MAX - 1);
    for (int k = 0; k < n; k++) buf[k] = tmp[n - 1 - k];
    buf[n] = 0;
}

/* Spells v as a dtype-dt literal that round-trips exactly (see text.h). */
char *txt_value_str(jx_dtype dt, double v, char *buf) {
    switch (dt) {
    case JX_F32:
    case JX_F64:
        if (isnan(v)) {
            snprintf(buf, TXT_VALUE_MAX, "nan");
        } else if (isinf(v)) {
            snprintf(buf, TXT_VALUE_MAX, v < 0 ? "-inf" : "inf");
        } else {
            if (dt == JX_F32) snprintf(buf, TXT_VALUE_MAX, "%.9g", (double)(float)v);
            else snprintf(buf, TXT_VALUE_MAX, "%.17g", v);
            if (!strpbrk(buf, ".e")) strcat(buf, ".0");
        }
        break;
    case JX_BOOL: snprintf(buf, TXT_VALUE_MAX, "%s", v != 0 ? "true" : "false"); break;
    default:
        /* i32 and u32 values are exact in a double; anything else is not an element */
        if (!(v >= -9.0e18 && v <= 9.0e18)) v = 0;
        snprintf(buf, TXT_VALUE_MAX, "%lld", (long long)v);
        break;
    }
    return buf;
}

/* 1 if node id is a rank-0 constant (printed inline). */
int txt_is_literal(const jx_fn *f, int32_t id) {
    const jx_node *n = &f->nodes[id];
    return n->op == JX_OP_CONSTANT && n->type.rank == 0 && n->at.value;
}

/* Variable numbers of all nodes; literals get -1. */
int32_t *txt_numbering(const jx_fn *f) {
    int32_t *num = malloc(((size_t)f->n_nodes + 1) * sizeof *num);
    if (!num) {
        util_err("print: out of memory");
        return NULL;
    }
    int32_t next = 0;
    for (int32_t i = 0; i < f->n_nodes; i++)
        num[i] = txt_is_literal(f, i) || ir_is_multi(f, i) ? -1 : next++;
    return num;
}

/* Prints the operand/output reference to node id: its name or an inline literal. */
static void txt_print_ref(const jx_fn *f, const int32_t *num, int32_t id, FILE *out) {
    char buf[TXT_VALUE_MAX];
    if (id < 0 || id >= f->n_nodes || ir_is_multi(f, id)) {
        fputs("?", out); /* not a valid graph; jx_fn_verify reports it */
        return;
    }
    if (num[id] < 0) {
        const jx_node *n = &f->nodes[id];
        fprintf(out, "%s:%s[]", txt_value_str(n->type.dtype, jx_array_get(n->at.value, 0), buf),
                jx_dtype_name(n->type.dtype));
        return;
    }
    txt_var_name(num[id], buf);
    fputs(buf, out);
}

/* Prints "name:type". */
static void txt_print_def(const jx_fn *f, const int32_t *num, int32_t id, FILE *out) {
    char name[TXT_NAME_MAX], ty[256];
    txt_var_name(num[id], name);
    fprintf(out, "%s:%s", name, jx_type_str(&f->nodes[id].type, ty, sizeof ty));
}

static void txt_print_fn(const jx_fn *f, FILE *out, int indent, int depth, int flags);

/* Prints n's sub-functions, one per line as name={ lambda ... }, the lines indented by
 * indent + 2 and the closing ']' by indent (the equation's own indentation). */
static void txt_print_fns(const jx_node *n, FILE *out, int indent, int depth, int flags) {
    const jx_prim_info *p = prim_info(n->op);
    for (int k = 0; k < n->at.n_fns; k++) {
        fprintf(out, "\n%*s%s=", indent + 2, "", prim_fn_name(p, k));
        if (depth >= JX_MAX_FN_DEPTH) fputs("{ ... }", out); /* not valid: verify says why */
        else txt_print_fn(n->at.fns[k], out, indent + 2, depth + 1, flags);
    }
    fprintf(out, "\n%*s", indent, "");
}

/* Prints the bracketed attributes of node n (nothing for attribute-less primitives); the
 * equation is indented by indent spaces. With JX_PRINT_FOLD the sub-functions are one
 * "..." after the integer attributes: custom_jvp[...]. */
static void txt_print_attrs(const jx_node *n, FILE *out, int indent, int depth, int flags) {
    char buf[TXT_VALUE_MAX];
    if (n->op == JX_OP_CONSTANT) {
        int64_t size = n->at.value ? jx_array_size(n->at.value) : 0;
        fputs("[value=[", out);
        for (int64_t i = 0; i < size; i++) {
            if (i) fputc(',', out);
            fputs(txt_value_str(n->type.dtype, jx_array_get(n->at.value, i), buf), out);
        }
        fputs("]]", out);
        return;
    }
    const jx_prim_info *p = prim_info(n->op);
    if (p->n_attrs == 0 && n->at.n_fns == 0) return;
    fputc('[', out);
    for (int k = 0; k < p->n_attrs; k++) {
        fprintf(out, "%s%s=(", k ? " " : "", p->attr_names[k]);
        for (int i = 0; i < n->at.n[k]; i++)
            fprintf(out, i ? ",%lld" : "%lld", (long long)n->at.v[k][i]);
        fputc(')', out);
    }
    if (n->at.n_fns > 0 && n->at.fns) {
        if (flags & JX_PRINT_FOLD) fputs(p->n_attrs ? " ..." : "...", out);
        else txt_print_fns(n, out, indent, depth, flags);
    }
    fputc(']', out);
}

/* Prints equation i: "name:type = prim[attrs] operands    # file:line"; a multi-result
 * node (n_gets > 0) has the gets that follow it as its names: "c:f32[] d:f32[3] = cond..." */
static void txt_print_eqn(const jx_fn *f, const int32_t *num, int32_t i, int n_gets, FILE *out,
                          int indent, int depth, int flags) {
    const jx_node *n = &f->nodes[i];
    fprintf(out, "%*s", indent + 4, "");
    if (ir_is_multi(f, i)) {
        for (int j = 0; j < n_gets; j++) {
            if (j) fputc(' ', out);
            txt_print_def(f, num, i + 1 + j, out);
        }
        if (n_gets == 0) fputs("?", out); /* not a valid graph; jx_fn_verify reports it */
    } else {
        txt_print_def(f, num, i, out);
    }
    fprintf(out, " = %s", (int)n->op >= 0 && n->op < JX_NOPS ? prim_info(n->op)->name : "?");
    if ((int)n->op >= 0 && n->op < JX_NOPS) txt_print_attrs(n, out, indent + 4, depth, flags);
    for (int k = 0; k < n->nin; k++) {
        fputc(' ', out);
        txt_print_ref(f, num, n->in[k], out);
    }
    if (n->loc.file) fprintf(out, "    # %s:%d", n->loc.file, n->loc.line);
    fputc('\n', out);
}

/* Prints f in the text form without a final newline: equations indented by indent + 4,
 * the 'in' line by indent + 2; depth is f's nesting level (0 at the top); flags as
 * jx_fn_print_opts. */
static void txt_print_fn(const jx_fn *f, FILE *out, int indent, int depth, int flags) {
    int32_t *num = f ? txt_numbering(f) : NULL;
    if (!num) {
        fputs("{ ? }", out);
        return;
    }
    fputs("{ lambda ; ", out);
    for (int32_t i = 0; i < f->n_in; i++) {
        if (i) fputc(' ', out);
        txt_print_def(f, num, i, out);
    }
    fputs(". let\n", out);
    for (int32_t i = f->n_in; i < f->n_nodes; i++) {
        if (ir_is_multi(f, i)) { /* its results' gets are its left-hand side */
            int gets = ir_n_gets(f, i);
            txt_print_eqn(f, num, i, gets, out, indent, depth, flags);
            i += gets;
        } else if (num[i] >= 0) {
            txt_print_eqn(f, num, i, 0, out, indent, depth, flags);
        }
    }
    fprintf(out, "%*sin (", indent + 2, "");
    for (int i = 0; i < f->n_out; i++) {
        if (i) fputs(", ", out);
        txt_print_ref(f, num, f->outs[i], out);
    }
    fputs(") }", out);
    free(num);
}

/* Prints f in the text form (see the top of this file). */
void jx_fn_print(const jx_fn *f, FILE *out) {
    jx_fn_print_opts(f, out, 0);
}

/* Prints f in the text form, or with JX_PRINT_FOLD the compact form; 0, or -1 with
 * jx_error set (NULL function or stream, unknown flags), printing nothing. */
int jx_fn_print_opts(const jx_fn *f, FILE *out, int flags) {
    if (!f || !out) return util_err("print: NULL %s", f ? "stream" : "function");
    if (flags & ~JX_PRINT_FOLD)
        return util_err("print: unknown flags 0x%x (known: JX_PRINT_FOLD = 0x%x)",
                        (unsigned)(flags & ~JX_PRINT_FOLD), (unsigned)JX_PRINT_FOLD);
    txt_print_fn(f, out, 0, 0, flags);
    fputc('\n', out);
    return 0;
}

/* The text form as a malloc'd string (NULL with jx_error set on failure). */
char *jx_fn_to_string(const jx_fn *f) {
    if (!f) {
        util_err("print: NULL function");
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        util_err("print: out of memory");
        return NULL;
    }
    jx_fn_print(f, m);
    if (fclose(m) != 0) {
        free(buf);
        util_err("print: out of memory");
        return NULL;
    }
    return buf;
}
