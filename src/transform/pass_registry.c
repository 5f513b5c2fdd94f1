/* The registry of named passes: what `jxc passes` lists, `jxc opt --passes` runs, and
 * jit_prepare runs (PASS_JIT_PIPELINE). Each entry is one IR-to-IR rewrite. */
#include <stdio.h>
#include <string.h>

#include "transform/passes.h"
#include "core/util.h"

static const pass_info pass_table[] = {
    {"inline-custom", "replace custom_jvp/custom_vjp/checkpoint nodes by their call function "
                      "inlined (their rules only matter to transformations)", pass_inline_custom},
    {"simplify", "identities, const-fold and cse in one walk, then dce (jx_simplify)",
     jx_simplify},
    {"identities", "x+0, x-0, x*1, x/1, neg(neg x), no-op convert/reshape/broadcast/transpose/"
                   "reduce_sum, composed broadcasts/reshapes/transposes, select(p, x, x)",
     pass_identities},
    {"const-fold", "evaluate nodes of at most 16 elements whose operands are all constants "
                   "(not splats)", pass_const_fold},
    {"cse", "merge nodes that compute the same value (same op, operands, attributes)",
     pass_cse},
    {"dce", "drop the nodes no output depends on", pass_dce},
    {"conv-direct", "conv_patches + dot_general -> conv / conv_backprop_input / "
                    "conv_backprop_filter (direct kernels) where the shape suits them",
     pass_conv_direct},
    {"gemm-fold", "w - c*dot(a,b) (c a finite nonzero scalar constant) -> gemm(a, b, w, -c): one "
                  "GEMM with alpha and beta=1, in place on a donated w", pass_gemm_fold},
    {"outer-product", "dot(s, outer(x, g)) over the outer product's batch axes -> dot(x*s, g); "
                      "other float outer products (no contraction) -> mul of broadcasts, "
                      "fused instead of K=1 GEMMs", pass_outer},
    {"drop-barriers", "replace optimization_barrier nodes by their operands (after the last cse: "
                      "a checkpoint's recomputation stays apart from the forward pass)",
     pass_drop_barriers},
};

/* See passes.h. */
const pass_info *pass_list(int *n) {
    *n = (int)(sizeof pass_table / sizeof pass_table[0]);
    return pass_table;
}

/* See passes.h. */
const pass_info *pass_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof pass_table / sizeof pass_table[0]; i++)
        if (strlen(pass_table[i].name) == len && !strncmp(pass_table[i].name, name, len))
            return &pass_table[i];
    return NULL;
}

/* Checks that every name in the comma-separated list is a pass. 0 or -1 with jx_error(). */
static int pass_check_list(const char *names) {
    for (const char *p = names; *p;) {
        size_t len = strcspn(p, ",");
        if (!pass_find(p, len)) {
            char known[256] = "";
            for (size_t i = 0; i < sizeof pass_table / sizeof pass_table[0]; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                         i ? ", " : "", pass_table[i].name);
            return util_err("passes: unknown pass '%.*s' (known: %s)", (int)len, p, known);
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* See passes.h. */
jx_fn *pass_run_list(const jx_fn *f, const char *names) {
    if (!f || !names) {
        util_err("passes: NULL %s", f ? "pass list" : "function");
        return NULL;
    }
    if (pass_check_list(names) < 0) return NULL;
    if (!*names) return pass_copy(f);
    jx_fn *cur = NULL;
    for (const char *p = names; *p;) {
        size_t len = strcspn(p, ",");
        jx_fn *next = pass_find(p, len)->run(cur ? cur : f);
        jx_fn_free(cur);
        if (!(cur = next)) return NULL;
        p += len + (p[len] == ',');
    }
    return cur;
}
