/* The differential fuzzer of the transformations (see tests/fuzz_tx.h) on programs with
 * control flow: which transformations a function may get, given the control-flow
 * primitives it holds (at any depth) and the rules they have.
 *
 * ft_mix (NULL: none) is the control-flow mix of the generated programs (tests/fuzz_ctl.h);
 * the drivers set it. ft_rule_table says which transformations each control-flow
 * primitive has rules for; a chain only applies to a function what every primitive in it
 * supports (grad, value_and_grad and jacrev need vjp; jacfwd jvp; jacrev and jacfwd
 * vmap too), and the derivative checks of a stage use vjp (the dot-product test) only
 * when the function has it. Widen the table as rules land, or set JX_FUZZ_TX_RULES, e.g.
 * "while=jvp,vmap;scan=jvp,vjp,vmap" (a primitive not named keeps its entry). checkpoint,
 * dynamic_slice and dynamic_update_slice have every rule. */
#ifndef JX_FUZZ_TXCTL_H
#define JX_FUZZ_TXCTL_H

#include "core/ir.h"

enum { FT_R_JVP = 1, FT_R_VJP = 2, FT_R_VMAP = 4, FT_R_ALL = 7 };

static const fz_mix *ft_mix;

/* The control-flow mixes of t_fuzz_tx's fuzz_tx_ctl_smoke and jxfuzz-tx --ctl (what the
 * JIT lowers), and of fuzz_tx_ctl_while_smoke and jxfuzz-tx --ctl-while (mostly while and
 * fori loops, which the JIT does not lower yet: their jit check fails until it does):
 * weights of cond, scan, checkpoint, dynamic_slice, dynamic_update_slice, while_loop,
 * fori_loop; a quarter of them inside a body, two deep, scans up to 8 long, captures in
 * 30% of the sub-programs. */
static const fz_mix ft_ctl_mix = {{5, 6, 2, 2, 2, 0, 0}, 0.25, 2, 8, 0.3, 0};
static const fz_mix ft_ctl_mix_while = {{1, 1, 1, 0, 0, 6, 4}, 0.25, 2, 8, 0.3, 0};

/* The rules of each control-flow primitive (as of the while loop's commit: while has jvp
 * and vmap; grad of a while is an error, as in JAX). */
static struct {
    jx_op op;
    const char *name;
    int rules;
} ft_rule_table[] = {
    {JX_OP_COND, "cond", FT_R_ALL},
    {JX_OP_SCAN, "scan", FT_R_ALL},
    {JX_OP_WHILE, "while", FT_R_JVP | FT_R_VMAP},
};
#define FT_NRULES ((int)(sizeof ft_rule_table / sizeof ft_rule_table[0]))

/* Applies $JX_FUZZ_TX_RULES to ft_rule_table (once). */
static void ft_rules_env(void) {
    static int done;
    const char *s = getenv("JX_FUZZ_TX_RULES");
    if (done++ || !s) return;
    while (*s) {
        size_t n = strcspn(s, "=;"), m;
        for (int r = 0; r < FT_NRULES && s[n] == '='; r++) {
            const char *name = ft_rule_table[r].name;
            if (strlen(name) != n || strncmp(s, name, n) != 0) continue;
            ft_rule_table[r].rules = 0;
            for (const char *v = s + n + 1; *v && *v != ';'; v += m + (v[m] == ',')) {
                m = strcspn(v, ",;");
                if (m == 3 && !strncmp(v, "jvp", 3)) ft_rule_table[r].rules |= FT_R_JVP;
                if (m == 3 && !strncmp(v, "vjp", 3)) ft_rule_table[r].rules |= FT_R_VJP;
                if (m == 4 && !strncmp(v, "vmap", 4)) ft_rule_table[r].rules |= FT_R_VMAP;
            }
        }
        s += strcspn(s, ";");
        if (*s) s++;
    }
}

/* The transformations every control-flow primitive of h (at any depth) has rules for. */
static int ft_rules(const jx_fn *h) {
    int mask = FT_R_ALL;
    ft_rules_env();
    for (int i = h->n_in; i < h->n_nodes; i++) {
        const jx_node *nd = &h->nodes[i];
        for (int r = 0; r < FT_NRULES; r++)
            if (nd->op == ft_rule_table[r].op) mask &= ft_rule_table[r].rules;
        for (int k = 0; k < nd->at.n_fns; k++) mask &= ft_rules(nd->at.fns[k]);
    }
    return mask;
}

/* The rules transformation `kind` (FT_JVP..FT_JACREV, FT_SUM) needs. */
static int ft_kind_needs(int kind) {
    switch (kind) {
    case FT_JVP: return FT_R_JVP;
    case FT_VJP: case FT_GRAD: case FT_VAG: return FT_R_VJP;
    case FT_VMAP: return FT_R_VMAP;
    case FT_JACFWD: return FT_R_JVP | FT_R_VMAP;
    case FT_JACREV: return FT_R_VJP | FT_R_VMAP;
    default: return 0;
    }
}

/* 1 if h holds a control-flow node (cond, scan, while, checkpoint) at any depth. */
static int ft_has_ctl(const jx_fn *h) {
    for (int i = h->n_in; i < h->n_nodes; i++)
        if (h->nodes[i].at.n_fns > 0 || h->nodes[i].op == JX_OP_DYNAMIC_SLICE ||
            h->nodes[i].op == JX_OP_DYNAMIC_UPDATE_SLICE)
            return 1;
    return 0;
}

#endif
