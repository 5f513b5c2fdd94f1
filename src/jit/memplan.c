/* Memory planning: buffer liveness over steps, arena offsets and donation.
 *
 * Loop groups: consecutive kernel steps over the same shape, each reading the earlier
 * ones' outputs only at the element it writes, share one loop nest (bias add and relu in
 * one pass); their step's group field names the first step of the group.
 *
 * Arena buffers get 64-byte-aligned offsets by greedy first fit in step order; a buffer
 * whose last reader is step s is free for buffers defined after s (not at s: the step
 * that reads it may still be writing its own output), and after the end of s's loop
 * group (whose kernels run interleaved). Outputs live in the caller's arrays, never in
 * the arena.
 *
 * Donation: output j may be written into donated input i's buffer when they have the
 * same type, no step after s reads input i, and either output j is the root of an
 * elementwise kernel step s where every read of input i is at the element being written
 * (only through elementwise ops), and so is every read of i by the kernels before s in
 * its loop group, and none after s reads i; or step s is a GEMM accumulating into a copy
 * of input i that does not read i as an operand.
 * The lowering then makes the output's memory hold input i's value first (a copy unless
 * the caller passed the input's own array) and has step s read input i from there: each
 * element is read before it is overwritten, in the same loop iteration. A result of a
 * multi-result step (scan's final carry) may take the memory of the donated input its
 * family names (multi_inplace: that carry's initial value) when the step reads the input
 * only there; the family's lowering copes with the two being the same memory.
 *
 * Multi-result steps (plan_sub.c) write their scratch and all their results at once: they
 * are placed at the step, where the operands are still live, so they never share memory
 * with an operand. */
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"
#include "core/util.h"

/* Walks the fused tree of node n, calling visit on each buffer leaf. */
static void mp_leaves(const jit_plan *p, int n, int root, void (*visit)(void *, int),
                      void *ctx) {
    jp_kind k = p->buf[n].kind;
    if (n != root && k != JP_FUSED) {
        if (k != JP_IMM && k != JP_DEAD) visit(ctx, n);
        return;
    }
    for (int i = 0; i < p->nodes[n].nin; i++) mp_leaves(p, p->nodes[n].in[i], root, visit, ctx);
}

/* See jit.h. */
void jit_kernel_leaves(const jit_plan *p, int root, void (*visit)(void *ctx, int leaf),
                       void *ctx) {
    mp_leaves(p, root, root, visit, ctx);
}

/* Context of mp_mark_read. */
typedef struct mp_ctx {
    jit_plan *p;
    int step;
} mp_ctx;

/* Records that the current step reads buffer leaf. */
static void mp_mark_read(void *vctx, int leaf) {
    mp_ctx *c = vctx;
    if (c->p->buf[leaf].last < c->step) c->p->buf[leaf].last = c->step;
}

/* 1 if target occurs in the fused tree under n (n itself included). */
static int mp_contains(const jit_plan *p, int n, int target, int root) {
    if (n == target) return 1;
    if (n != root && p->buf[n].kind != JP_FUSED) return 0;
    for (int i = 0; i < p->nodes[n].nin; i++)
        if (mp_contains(p, p->nodes[n].in[i], target, root)) return 1;
    return 0;
}

/* 1 if every read of target under n is at n's own element index. */
static int mp_aligned(const jit_plan *p, int n, int target, int root) {
    if (n == target) return 1;
    if (n != root && p->buf[n].kind != JP_FUSED) return 1;
    if (!jit_is_elt(p, n)) return !mp_contains(p, n, target, root);
    for (int i = 0; i < p->nodes[n].nin; i++)
        if (!mp_aligned(p, p->nodes[n].in[i], target, root)) return 0;
    return 1;
}

/* An arena block in use. */
typedef struct mp_block {
    int64_t off, size;
    int last;
} mp_block;

/* 1 if kernel step t can share the loop of the kernel group of steps [g0, t-1]: both
 * plain kernels over the same shape, and t reads every earlier member's output only at
 * the element it writes. */
static int mp_can_join(const jit_plan *p, int g0, int t) {
    const jp_step *a = &p->steps[t - 1], *b = &p->steps[t];
    if (a->kind != JS_KERNEL || b->kind != JS_KERNEL || a->outer || b->outer) return 0;
    jx_type ta = p->nodes[p->steps[g0].node].type, tb = p->nodes[b->node].type;
    if (tb.rank == 0 || ta.rank != tb.rank || jx_type_size(&tb) == 0) return 0;
    for (int k = 0; k < tb.rank; k++)
        if (ta.shape[k] != tb.shape[k]) return 0;
    for (int m = g0; m < t; m++)
        if (!mp_aligned(p, b->node, p->steps[m].node, b->node)) return 0;
    return 1;
}

/* Donation into result o (output j) of multi step s: the operand the family allows
 * (multi_inplace), when it is a donated, untaken, live parameter of o's type that s reads
 * in that operand slot only and no later step reads. */
static void mp_donate_multi(jit_plan *p, const unsigned char *donate, unsigned char *taken,
                            int j, int o, int s) {
    int m = p->steps[s].node;
    const jx_node *nd = &p->nodes[m];
    const jx_family *fam = prim_info(nd->op)->family;
    int k = fam->multi_inplace ? fam->multi_inplace(nd, o - m - 1) : -1;
    if (k < 0 || k >= nd->nin) return;
    int i = nd->in[k];
    jx_type a = p->nodes[i].type, t = p->nodes[o].type;
    if (i >= p->n_in || !donate[i] || taken[i] || p->buf[i].kind != JP_PARAM ||
        p->buf[i].last > s || !jx_type_eq(&a, &t))
        return;
    for (int q = 0; q < nd->nin; q++)
        if (q != k && nd->in[q] == i) return;
    p->donor[j] = i;
    taken[i] = 1;
}

/* Picks donors (see the header comment); buffer liveness is per step here. */
static int mp_donate(jit_plan *p, const unsigned char *donate) {
    unsigned char *taken = calloc((size_t)p->n_in + 1, 1);
    if (!taken)
        return util_err("jit: out of memory allocating the donor table of %d inputs (%d bytes)",
                        p->n_in, p->n_in + 1);
    for (int j = 0; j < p->n_out && donate; j++) {
        int o = p->outs[j];
        p->donor[j] = -1;
        if (p->buf[o].kind != JP_OUT || p->buf[o].index != j) continue;
        int s = p->buf[o].def;
        if (s < 0) continue;
        const jp_step *st = &p->steps[s];
        if (st->kind == JS_MULTI) {
            mp_donate_multi(p, donate, taken, j, o, s);
            continue;
        }
        int folded = st->kind == JS_GEMM && st->g.init >= 0;
        if (!folded && (st->kind != JS_KERNEL || !jit_is_elt(p, o))) continue;
        for (int i = 0; i < p->n_in; i++) {
            /* only a live parameter buffer: a dead input (JP_DEAD, e.g. unused after
             * jx_simplify) has no pointer in the lowering to copy from */
            if (!donate[i] || taken[i] || p->buf[i].kind != JP_PARAM) continue;
            jx_type a = p->nodes[i].type, t = p->nodes[o].type;
            if (!jx_type_eq(&a, &t) || p->buf[i].last > s) continue;
            if (folded ? i != st->g.init || i == st->g.a || i == st->g.b : !mp_aligned(p, o, i, o))
                continue;
            /* in s's loop group, kernels before s may read i at their own element (before
             * s overwrites it in the same iteration), kernels after s not at all */
            int clash = 0;
            for (int m = st->group; !folded && m < p->n_steps && p->steps[m].group == st->group; m++) {
                int r = p->steps[m].node;
                if (m < s) clash |= !mp_aligned(p, r, i, r);
                if (m > s) clash |= mp_contains(p, r, i, r);
            }
            if (clash) continue;
            p->donor[j] = i;
            taken[i] = 1;
            break;
        }
    }
    free(taken);
    return 0;
}

/* The arena packing's state: the blocks in use, the arena's size so far, and per step
 * the last step of its loop group. */
typedef struct mp_pack {
    mp_block *live;
    int nlive;
    int64_t top;
    const int *gend;
} mp_pack;

/* Places node n's buffer, written at step s, if it is an arena buffer: first fit at the
 * lowest 64-byte-aligned offset not overlapping a block in use. 0, or -1 with jx_error()
 * when the arena would exceed JX_MAX_BYTES. */
static int mp_place(jit_plan *p, mp_pack *pk, int n, int s) {
    jp_buf *b = &p->buf[n];
    if (b->kind != JP_ARENA) return 0;
    int64_t size = (b->bytes + 63) / 64 * 64, off = 0;
    if (size == 0) size = 64;
    for (;;) { /* first fit: lowest offset not overlapping a live block */
        int moved = 0;
        for (int i = 0; i < pk->nlive; i++)
            if (off < pk->live[i].off + pk->live[i].size && pk->live[i].off < off + size) {
                off = pk->live[i].off + pk->live[i].size;
                moved = 1;
            }
        if (!moved) break;
    }
    /* off <= top <= JX_MAX_BYTES and size <= JX_MAX_BYTES + 63: the sum fits */
    if (off + size > JX_MAX_BYTES) {
        char ts[160];
        return util_err("jit: the arena would exceed the maximum of 2^60 bytes: buffer %%%d "
                        "(%s, %lld bytes) at offset %lld",
                        n, jx_type_str(&p->nodes[n].type, ts, sizeof ts),
                        (long long)b->bytes, (long long)off);
    }
    b->offset = off;
    int last = b->last > s ? pk->gend[b->last] : pk->gend[s];
    pk->live[pk->nlive++] = (mp_block){off, size, last};
    if (off + size > pk->top) pk->top = off + size;
    return 0;
}

/* See jit.h. */
int jit_memplan(jit_plan *p, const unsigned char *donate) {
    /* loop groups: runs of consecutive kernels that can share one loop nest */
    for (int s = 0; s < p->n_steps; s++)
        p->steps[s].group = s > 0 && mp_can_join(p, p->steps[s - 1].group, s)
                                ? p->steps[s - 1].group : s;
    /* liveness per step */
    for (int i = 0; i < p->n_nodes; i++) p->buf[i].def = p->buf[i].last = -1;
    for (int s = 0; s < p->n_steps; s++) {
        jp_step *st = &p->steps[s];
        mp_ctx c = {p, s};
        if (st->kind == JS_COPY) {
            mp_mark_read(&c, st->node);
            continue;
        }
        p->buf[st->node].def = s;
        if (st->kind == JS_MULTI) { /* writes its gets, reads its operands by pointer */
            const jx_node *nd = &p->nodes[st->node];
            for (int j = 1; j <= ir_n_gets(p->fn, st->node); j++) p->buf[st->node + j].def = s;
            for (int k = 0; k < nd->nin; k++) mp_mark_read(&c, nd->in[k]);
            continue;
        }
        if (st->kind == JS_GEMM) {
            mp_mark_read(&c, st->g.a);
            mp_mark_read(&c, st->g.b);
            if (st->g.init >= 0) mp_mark_read(&c, st->g.init);
            if (st->g.alpha_node >= 0) mp_mark_read(&c, st->g.alpha_node);
        } else {
            jit_kernel_leaves(p, st->node, mp_mark_read, &c);
        }
    }
    if (mp_donate(p, donate) < 0) return -1;
    /* arena packing: a buffer written or read by a loop group is live for all of it */
    int *gend = malloc(((size_t)p->n_steps + 1) * sizeof *gend);
    mp_block *live = calloc((size_t)p->n_nodes + 1, sizeof *live);
    if (!gend || !live) {
        free(gend);
        free(live);
        return util_err("jit: out of memory allocating the liveness tables of %d steps and %d "
                        "nodes (%zu bytes)", p->n_steps, p->n_nodes,
                        ((size_t)p->n_steps + 1) * sizeof *gend + ((size_t)p->n_nodes + 1) * sizeof *live);
    }
    for (int s = p->n_steps - 1; s >= 0; s--)
        gend[s] = s + 1 < p->n_steps && p->steps[s + 1].group == p->steps[s].group ? gend[s + 1] : s;
    mp_pack pk = {live, 0, 0, gend};
    int rc = 0;
    for (int s = 0; s < p->n_steps && rc == 0; s++) {
        int n = p->steps[s].node, g = p->steps[s].group;
        if (p->steps[s].kind == JS_COPY) continue;
        int k = 0;
        for (int i = 0; i < pk.nlive; i++) /* drop blocks whose last reader came before s */
            if (live[i].last >= g) live[k++] = live[i];
        pk.nlive = k;
        rc = mp_place(p, &pk, n, s);
        int ng = p->steps[s].kind == JS_MULTI ? ir_n_gets(p->fn, n) : 0;
        for (int j = 1; j <= ng && rc == 0; j++) rc = mp_place(p, &pk, n + j, s);
    }
    free(live);
    free(gend);
    p->arena_bytes = pk.top;
    return rc;
}
