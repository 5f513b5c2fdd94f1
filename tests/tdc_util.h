/* Shared helpers of the dot/conv/threefry transformation tests (t_tx_dot_conv_random.c,
 * t_tx_conv_threefry.c): counting and finding nodes, failing on NULL transforms, and the
 * dot_general configuration type. Helpers are static and marked unused. */
#ifndef JX_TESTS_TDC_UTIL_H
#define JX_TESTS_TDC_UTIL_H

#include "core/ir.h"
#include "txcheck.h"

/* Number of nodes of f with op op. */
__attribute__((unused))
static int tdc_count(const jx_fn *f, jx_op op) {
    int c = 0;
    for (int i = 0; f && i < f->n_nodes; i++) c += f->nodes[i].op == op;
    return c;
}

/* The first node of f with op op, or NULL. */
__attribute__((unused))
static const jx_node *tdc_find(const jx_fn *f, jx_op op) {
    for (int i = 0; f && i < f->n_nodes; i++)
        if (f->nodes[i].op == op) return &f->nodes[i];
    return NULL;
}

/* Fails the case with jx_error() if f is NULL (a transformation that should have
 * succeeded); returns f. */
__attribute__((unused))
static jx_fn *tdc_ok(jx_fn *f) {
    if (!f) CHECK_FAIL_("unexpected NULL function: %s", jx_error());
    return f;
}

/* A dot_general configuration: operand types and the four axis lists. */
typedef struct tdc_dot {
    const char *name;
    jx_type a, b;
    jx_ints lc, rc, lb, rb;
} tdc_dot;

/* The in_axes choices for an operand of per-example rank r: 0, 1 (if r >= 1), -1, none. */
__attribute__((unused))
static int tdc_axes(int r, int *ax) {
    int n = 0;
    ax[n++] = 0;
    if (r >= 1) ax[n++] = 1;
    ax[n++] = -1;
    ax[n++] = JX_NONE;
    return n;
}

#endif
