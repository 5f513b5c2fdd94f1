/* The plan as text (jxc fuse, JX_DUMP): each step with its kind, the nodes a kernel
 * fuses, the buffers it reads and writes (inputs, outputs, constants, arena offsets),
 * GEMM shapes and flags, loop groups and donations; a multi-result step (cond, scan)
 * with its scratch and its sub-plans' text nested under it, indented. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"
#include "jit/lower.h"
#include "core/util.h"

/* A growing string buffer. */
typedef struct pl_sb {
    char *s;
    size_t len, cap;
} pl_sb;

/* Appends formatted text to sb (growing it; drops the text on OOM). */
__attribute__((format(printf, 2, 3))) static void pl_printf(pl_sb *sb, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = sb->cap - sb->len;
        va_start(ap, fmt);
        int k = sb->s ? vsnprintf(sb->s + sb->len, room, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) {
            sb->len += (size_t)k;
            return;
        }
        size_t nc = sb->cap * 2 + (k > 0 ? (size_t)k : 0) + 256;
        char *ns = realloc(sb->s, nc);
        if (!ns) return;
        sb->s = ns;
        sb->cap = nc;
    }
}

/* Describes where node n lives. */
static void pl_print_buf(pl_sb *sb, const jit_plan *p, int n) {
    const jp_buf *b = &p->buf[n];
    char ts[160];
    jx_type t = p->nodes[n].type;
    jx_type_str(&t, ts, sizeof ts);
    switch (b->kind) {
    case JP_PARAM: pl_printf(sb, "%%%d:%s=in%d", n, ts, b->index); break;
    case JP_CONST: pl_printf(sb, "%%%d:%s=const%d", n, ts, b->index); break;
    case JP_IMM: pl_printf(sb, "%%%d:%s=imm", n, ts); break;
    case JP_OUT: pl_printf(sb, "%%%d:%s=out%d", n, ts, b->index); break;
    case JP_ARENA:
        pl_printf(sb, "%%%d:%s=arena[%lld,+%lld)", n, ts, (long long)b->offset,
                  (long long)b->bytes);
        break;
    default: pl_printf(sb, "%%%d:%s", n, ts); break;
    }
}

/* Lists the fused nodes under root (post-order). */
static void pl_print_fused(pl_sb *sb, const jit_plan *p, int n, int root) {
    if (n != root && p->buf[n].kind != JP_FUSED) return;
    for (int k = 0; k < p->nodes[n].nin; k++) pl_print_fused(sb, p, p->nodes[n].in[k], root);
    if (n != root) pl_printf(sb, " %%%d=%s", n, prim_info(p->nodes[n].op)->name);
}

/* Visitor for jit_kernel_leaves: prints one leaf (ctx = {pl_sb *, const jit_plan *}). */
static void pl_leaf_print(void *ctx, int leaf) {
    void **c = ctx;
    pl_printf(c[0], " ");
    pl_print_buf(c[0], c[1], leaf);
}

/* Appends text with every line indented by `indent` spaces. */
static void pl_indent(pl_sb *sb, const char *text, int indent) {
    for (const char *l = text; l && *l;) {
        const char *e = strchr(l, '\n');
        int len = e ? (int)(e - l) : (int)strlen(l);
        pl_printf(sb, "%*s%.*s\n", indent, "", len, l);
        l = e ? e + 1 : NULL;
    }
}

/* Prints multi step st (s): its results, operands, scratch, and each sub-plan nested. */
static void pl_print_multi(pl_sb *sb, const jit_plan *p, int s, const jp_step *st) {
    const jx_node *nd = &p->nodes[st->node];
    const jx_prim_info *pi = prim_info(nd->op);
    pl_printf(sb, "  %d: %s ->", s, pi->name);
    for (int j = 1; j <= ir_n_gets(p->fn, st->node); j++) {
        pl_printf(sb, " ");
        pl_print_buf(sb, p, st->node + j);
    }
    pl_printf(sb, "\n      reads");
    for (int k = 0; k < nd->nin; k++) {
        pl_printf(sb, " ");
        pl_print_buf(sb, p, nd->in[k]);
    }
    const jp_buf *b = &p->buf[st->node];
    pl_printf(sb, "\n      scratch arena[%lld,+%lld) temporaries from +%lld\n",
              (long long)b->offset, (long long)b->bytes,
              (long long)jit_multi_temps_offset(p, s));
    for (int k = 0; k < nd->at.n_fns; k++) {
        const jit_plan *q = p->subs[st->sub + k];
        pl_printf(sb, "      %s %d (sub-plan s%d, constants from const%d):\n",
                  prim_fn_name(pi, k), k, st->sub + k, q->const_base);
        char *t = jit_plan_str(q);
        pl_indent(sb, t, 8);
        free(t);
    }
}

/* See jit.h. */
char *jit_plan_str(const jit_plan *p) {
    pl_sb sb = {NULL, 0, 0};
    pl_printf(&sb, "plan: %d steps, arena %lld bytes\n", p->n_steps, (long long)p->arena_bytes);
    for (int s = 0; s < p->n_steps; s++) {
        const jp_step *st = &p->steps[s];
        const jx_node *nd = &p->nodes[st->node];
        if (st->kind == JS_MULTI) {
            pl_print_multi(&sb, p, s, st);
            continue;
        }
        if (st->kind == JS_COPY) {
            pl_printf(&sb, "  %d: copy out%d <- ", s, st->out);
            pl_print_buf(&sb, p, st->node);
            pl_printf(&sb, "\n");
            continue;
        }
        if (st->kind == JS_GEMM) {
            const jp_gemm *g = &st->g;
            int64_t nbt = 1;
            for (int i = 0; i < g->nb; i++) nbt *= g->bshape[i];
            pl_printf(&sb, "  %d: gemm %s batch=%lld M=%lld N=%lld K=%lld A%s(lda=%lld) "
                      "B%s(ldb=%lld)", s, nd->type.dtype == JX_F32 ? "sgemm" : "dgemm",
                      (long long)nbt, (long long)g->m, (long long)g->n, (long long)g->k,
                      g->trans_a ? "^T" : "", (long long)g->lda, g->trans_b ? "^T" : "",
                      (long long)g->ldb);
            if (g->alpha_node >= 0) pl_printf(&sb, " alpha=%%%d", g->alpha_node);
            else if (g->init >= 0) pl_printf(&sb, " alpha=%g", g->alpha);
            if (g->init >= 0) pl_printf(&sb, " beta=1 C=%%%d", g->init);
            pl_printf(&sb, " -> ");
            pl_print_buf(&sb, p, st->node);
            pl_printf(&sb, "\n      reads ");
            pl_print_buf(&sb, p, g->a);
            pl_printf(&sb, " ");
            pl_print_buf(&sb, p, g->b);
            pl_printf(&sb, "\n");
            continue;
        }
        pl_printf(&sb, "  %d: kernel %s%s", s, prim_info(nd->op)->name,
                  st->outer ? " (outer reduction)" : "");
        char conv[200];
        if (lw_conv_describe(p, st->node, conv, sizeof conv)) pl_printf(&sb, " (%s)", conv);
        if (st->group != s) pl_printf(&sb, " (in the loop of step %d)", st->group);
        pl_printf(&sb, " -> ");
        pl_print_buf(&sb, p, st->node);
        pl_printf(&sb, "\n      fuses");
        pl_print_fused(&sb, p, st->node, st->node);
        pl_printf(&sb, "\n      reads");
        void *ctx[2] = {&sb, (void *)p};
        jit_kernel_leaves(p, st->node, pl_leaf_print, ctx);
        pl_printf(&sb, "\n");
    }
    for (int j = 0; j < p->n_out; j++)
        if (p->donor[j] >= 0) pl_printf(&sb, "  out%d may reuse donated in%d\n", j, p->donor[j]);
    return sb.s;
}
