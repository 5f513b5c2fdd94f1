/* The primitive table, generated from prims.def. */
#include <string.h>

#include "core/prim.h"

#define JX__ATTRS(n, ...) n, { __VA_ARGS__ }
#define X(id, name, arity, flags, family, attrs) \
    {name, arity, flags, &jx_family_##family, JX__ATTRS attrs, 0, {NULL}},
#define XF(id, name, arity, flags, family, attrs, fns) \
    {name, arity, flags, &jx_family_##family, JX__ATTRS attrs, JX__ATTRS fns},
static const jx_prim_info prim_table[JX_NOPS] = {
#include "core/prims.def"
};
#undef X
#undef XF

/* Row of op; op must be a primitive. */
const jx_prim_info *prim_info(jx_op op) { return &prim_table[op]; }

/* See prim.h. */
int prim_has(jx_op op, unsigned flags) {
    return op >= 0 && op < JX_NOPS && (prim_table[op].flags & flags) == flags;
}

/* The op with this name, or JX_OP_PARAM. */
jx_op prim_lookup(const char *name) {
    for (int i = 0; i < JX_NOPS; i++)
        if (strcmp(prim_table[i].name, name) == 0) return (jx_op)i;
    return JX_OP_PARAM;
}

/* See prim.h. */
int prim_fns_ok(const jx_prim_info *p, int n) {
    return p->n_fns >= 0 ? n == p->n_fns : n >= 1 && n <= JX_MAX_FNS;
}

/* See prim.h. */
const char *prim_fn_name(const jx_prim_info *p, int k) {
    if (p->n_fns < 0) return p->fn_names[0];
    return k >= 0 && k < p->n_fns ? p->fn_names[k] : "?";
}
