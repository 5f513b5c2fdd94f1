/* The IR parser's attribute reader (see parse.h): integer vectors, a constant's values,
 * and sub-functions, each read by a nested parser (a fresh scope: sub-functions are
 * closed, their names their own) sharing the token reader, at most JX_MAX_FN_DEPTH deep. */
#include <stdlib.h>
#include <string.h>

#include "text/parse.h"
#include "core/util.h"

/* Reads "name=" for the attribute or sub-function `want` of primitive pi. */
static int txt_attr_name(txt_lex *L, const jx_prim_info *pi, const char *want,
                         const char *kind) {
    txt_pos at = txt_here(L);
    txt_str id;
    char b[TXT_WHAT_MAX];
    if (txt_ident(L, &id) < 0 || !txt_is(id, want)) {
        L->p = at;
        return txt_fail(L, &at, "expected %s '%s' of %s, got %s", kind, want, pi->name,
                        txt_what(L, b));
    }
    return txt_expect(L, '=', "'='");
}

/* 1 if the next token is the identifier want (nothing consumed). */
static int txt_next_is(txt_lex *L, const char *want) {
    txt_pos at = txt_here(L);
    txt_str id;
    int yes = txt_ident(L, &id) == 0 && txt_is(id, want);
    L->p = at;
    return yes;
}

/* Reads "(a,b,...)" (attribute `name`, at most JX_MAX_RANK values) into *v. */
static int txt_int_list(txt_lex *L, const char *name, jx_ints *v) {
    if (txt_expect(L, '(', "'('") < 0) return -1;
    v->n = 0;
    txt_skip_ws(L);
    if (txt_peek(L) == ')') {
        L->p.off++;
        return 0;
    }
    for (;;) {
        txt_pos vp = txt_here(L);
        if (v->n == JX_MAX_RANK)
            return txt_fail(L, &vp, "too many values in attribute '%s' (at most %d)", name,
                            JX_MAX_RANK);
        if (txt_int(L, &v->v[v->n++]) < 0) return -1;
        txt_skip_ws(L);
        if (txt_peek(L) == ')') {
            L->p.off++;
            return 0;
        }
        if (txt_expect(L, ',', "',' or ')'") < 0) return -1;
    }
}

/* Reads one sub-function "{ lambda ... }" one level below P into *fn. */
static int txt_sub_fn(txt_parser *P, jx_fn **fn) {
    txt_lex *L = P->L;
    txt_pos at = txt_here(L);
    if (P->depth + 1 > JX_MAX_FN_DEPTH)
        return txt_fail(L, &at, "sub-functions nested deeper than %d levels", JX_MAX_FN_DEPTH);
    txt_parser *C = calloc(1, sizeof *C);
    if (!C) return txt_oom(L);
    C->L = L;
    C->depth = P->depth + 1;
    int rc = txt_fn_read(C, fn);
    free(C);
    return rc;
}

/* Reads "[a=(..) b=(..) f={...}]" for op: all integer attributes, then all sub-functions. */
static int txt_attrs(txt_parser *P, jx_op op, txt_attrs_read *a) {
    txt_lex *L = P->L;
    const jx_prim_info *pi = prim_info(op);
    txt_skip_ws(L);
    if (pi->n_attrs == 0 && pi->n_fns == 0) {
        if (txt_peek(L) == '[')
            return txt_fail(L, &L->p, "primitive '%s' takes no attributes", pi->name);
        return 0;
    }
    if (txt_expect(L, '[', "'[' and the attributes") < 0) return -1;
    for (int k = 0; k < pi->n_attrs; k++)
        if (txt_attr_name(L, pi, pi->attr_names[k], "attribute") < 0 ||
            txt_int_list(L, pi->attr_names[k], &a->ints[k]) < 0)
            return -1;
    int max = pi->n_fns < 0 ? JX_MAX_FNS : pi->n_fns;
    for (int k = 0; k < max; k++) {
        if (pi->n_fns < 0 && k > 0 && !txt_next_is(L, pi->fn_names[0])) break;
        if (txt_attr_name(L, pi, prim_fn_name(pi, k), "sub-function") < 0 ||
            txt_sub_fn(P, &a->fns[k]) < 0)
            return -1;
        a->n_fns = k + 1;
    }
    txt_skip_ws(L);
    if (txt_peek(L) != ']') {
        char b[TXT_WHAT_MAX];
        return txt_fail(L, &L->p, "expected ']' after the %d attribute(s) of %s, got %s",
                        pi->n_attrs + a->n_fns, pi->name, txt_what(L, b));
    }
    L->p.off++;
    return 0;
}

/* Reads "[value=[v,...]]" for a constant of type t into a new array *out. */
static int txt_constant(txt_parser *P, const jx_type *t, jx_array **out) {
    txt_lex *L = P->L;
    char ts[256];
    int64_t size = util_numel(t->rank, t->shape);
    if (txt_expect(L, '[', "'[value=[...]]'") < 0 || txt_keyword(L, "value") < 0 ||
        txt_expect(L, '=', "'='") < 0 || txt_expect(L, '[', "'[' and the values") < 0)
        return -1;
    P->nnums = 0;
    txt_skip_ws(L);
    if (txt_peek(L) == ']') {
        L->p.off++;
    } else {
        for (;;) {
            txt_pos vp = txt_here(L);
            txt_str tok;
            if ((int64_t)P->nnums == size)
                return txt_fail(L, &vp, "too many values for a constant of type %s (%lld)",
                                jx_type_str(t, ts, sizeof ts), (long long)size);
            if (txt_grow((void **)&P->nums, &P->nums_cap, P->nnums + 1, sizeof *P->nums) < 0)
                return txt_oom(L);
            if (txt_value_token(L, &tok) < 0 ||
                txt_value(L, &vp, tok, t->dtype, &P->nums[P->nnums++]) < 0)
                return -1;
            txt_skip_ws(L);
            if (txt_peek(L) == ']') {
                L->p.off++;
                break;
            }
            if (txt_expect(L, ',', "',' or ']' in the values") < 0) return -1;
        }
    }
    if ((int64_t)P->nnums != size)
        return txt_fail(L, &L->p, "too few values for a constant of type %s (%lld, got %zu)",
                        jx_type_str(t, ts, sizeof ts), (long long)size, P->nnums);
    if (txt_expect(L, ']', "']' after the values") < 0) return -1;
    *out = jx_array_new_type(t);
    if (!*out) return txt_fail(L, &L->p, "%s", jx_error());
    for (size_t i = 0; i < P->nnums; i++) jx_array_set(*out, (int64_t)i, P->nums[i]);
    return 0;
}


/* See parse.h. */
int txt_attrs_read_all(txt_parser *P, jx_op op, const jx_type *ty, txt_attrs_read *a) {
    memset(a, 0, sizeof *a);
    return op == JX_OP_CONSTANT ? txt_constant(P, ty, &a->value) : txt_attrs(P, op, a);
}

/* See parse.h. */
jx_attrs txt_attrs_view(const txt_attrs_read *a, jx_op op) {
    const jx_prim_info *pi = prim_info(op);
    jx_attrs at = ir_attrs(pi->n_attrs > 0 ? &a->ints[0] : NULL,
                           pi->n_attrs > 1 ? &a->ints[1] : NULL,
                           pi->n_attrs > 2 ? &a->ints[2] : NULL,
                           pi->n_attrs > 3 ? &a->ints[3] : NULL);
    at.n_fns = a->n_fns;
    at.fns = (const jx_fn *const *)a->fns;
    return at;
}

/* See parse.h. */
void txt_attrs_free(txt_attrs_read *a) {
    jx_array_free(a->value);
    for (int k = 0; k < a->n_fns; k++) jx_fn_free(a->fns[k]);
    memset(a, 0, sizeof *a);
}
