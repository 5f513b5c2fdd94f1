/* The IR parser: reads exactly what text_print.c prints and rebuilds the function through
 * the tracer (jx_trace_begin, trace_emit per equation, jx_trace_end), so every equation
 * passes the same shape rules as traced code. Errors read "line L, column C: message".
 *
 *   fn    := '{' 'lambda' ';' (name ':' type)* '.' 'let' eqn* 'in' '(' [atom (',' atom)*] ')' '}'
 *   eqn   := name ':' type '=' prim ['[' attrs ']'] atom* ['#' file ':' line]
 *   atom  := name | value ':' type          (a literal has a rank-0 type)
 *   attrs := attr_name '=' '(' [int (',' int)*] ')' ...   (all, in prims.def order)
 *            fn_name '=' fn ...                          (then all sub-functions, in order)
 *          | 'value' '=' '[' [value (',' value)*] ']'        (constant only)
 *
 * A sub-function is a whole closed function with names of its own; nesting is limited to
 * JX_MAX_FN_DEPTH levels, so hostile input cannot exhaust the stack.
 *
 * A line whose first non-blank character is '#' is a comment, skipped like whitespace
 * anywhere (so a FileCheck test file with its RUN/CHECK lines is valid input); a '#' after
 * tokens on a line is only allowed after an equation, as its '# file:line' location.
 * Tokens (identifiers, integers, types, values, location comments) are read by
 * text_lex.c; this file holds the grammar, the name table and the calls into the tracer;
 * the attributes (and nested sub-functions) are read by parse_attrs.c.
 */
#include <stdlib.h>
#include <string.h>

#include "text/parse.h"
#include "core/util.h"

/* FNV-1a hash of a name. */
static size_t txt_hash(txt_str s) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++) h = (h ^ (unsigned char)s.s[i]) * 1099511628211ull;
    return (size_t)h;
}

/* The slot bound to name, or -1. */
static int32_t txt_lookup(const txt_parser *P, txt_str name) {
    if (!P->tab_cap) return -1;
    for (size_t i = txt_hash(name) & (P->tab_cap - 1);; i = (i + 1) & (P->tab_cap - 1)) {
        const txt_ent *e = &P->tab[i];
        if (!e->name.s) return -1;
        if (e->name.len == name.len && !memcmp(e->name.s, name.s, name.len)) return e->slot;
    }
}

/* Binds name (not yet bound) to slot; -1 on OOM. */
static int txt_bind(txt_parser *P, txt_str name, int32_t slot) {
    txt_lex *L = P->L;
    if (2 * (P->tab_n + 1) > P->tab_cap) {
        size_t cap = P->tab_cap ? 2 * P->tab_cap : 64;
        txt_ent *nt = calloc(cap, sizeof *nt);
        if (!nt) return txt_oom(L);
        for (size_t k = 0; k < P->tab_cap; k++) {
            if (!P->tab[k].name.s) continue;
            size_t i = txt_hash(P->tab[k].name) & (cap - 1);
            while (nt[i].name.s) i = (i + 1) & (cap - 1);
            nt[i] = P->tab[k];
        }
        free(P->tab);
        P->tab = nt;
        P->tab_cap = cap;
    }
    size_t i = txt_hash(name) & (P->tab_cap - 1);
    while (P->tab[i].name.s) i = (i + 1) & (P->tab_cap - 1);
    P->tab[i] = (txt_ent){name, slot};
    P->tab_n++;
    return 0;
}

/* Fails if name is already bound ("redefined variable"). */
static int txt_check_new(txt_parser *P, const txt_pos *at, txt_str name) {
    txt_lex *L = P->L;
    if (txt_lookup(P, name) < 0) return 0;
    return txt_fail(L, at, "redefined variable '%.*s%s'", (int)(name.len > 40 ? 40 : name.len),
                    name.s, name.len > 40 ? "..." : "");
}

/* Appends v as a new slot and binds name to it. */
static int txt_define(txt_parser *P, txt_str name, jx_val v) {
    txt_lex *L = P->L;
    if (txt_grow((void **)&P->vals, &P->vals_cap, P->nvals + 1, sizeof *P->vals) < 0)
        return txt_oom(L);
    P->vals[P->nvals] = v;
    return txt_bind(P, name, (int32_t)P->nvals++);
}

/* Reads an atom: a bound variable, or a literal `value:dtype[]`. */
static int txt_atom_read(txt_parser *P, txt_atom *a) {
    txt_lex *L = P->L;
    txt_pos at = txt_here(L);
    txt_str id;
    memset(a, 0, sizeof *a);
    if (txt_ident(L, &id) == 0) {
        txt_skip_ws(L);
        if (!(txt_is_lit_word(id) && txt_peek(L) == ':')) {
            a->slot = txt_lookup(P, id);
            if (a->slot >= 0) return 0;
            return txt_fail(L, &at, "undefined variable '%.*s%s'",
                            (int)(id.len > 40 ? 40 : id.len), id.s, id.len > 40 ? "..." : "");
        }
        L->p = at;
    }
    txt_str tok;
    jx_type t;
    if (txt_value_token(L, &tok) < 0 || txt_expect(L, ':', "':' and a type after the value") < 0)
        return -1;
    txt_pos tp = txt_here(L);
    if (txt_type(L, &t) < 0) return -1;
    if (t.rank != 0) return txt_fail(L, &tp, "a literal must have a scalar type like f32[]");
    a->lit = 1;
    a->dt = t.dtype;
    return txt_value(L, &at, tok, t.dtype, &a->v);
}

/* 1 if the next token starts another operand of the current equation (rather than the
 * next equation "name:type =" or the final "in ("). Restores the position. */
static int txt_more_operands(txt_parser *P) {
    txt_lex *L = P->L;
    txt_pos save = txt_here(L);
    char c = txt_peek(L);
    if (txt_is_digit(c) || c == '-') return 1;
    txt_str id;
    if (txt_ident(L, &id) < 0) return 0;
    txt_skip_ws(L);
    int more = 1;
    if (txt_peek(L) == ':') {
        more = 0;
        if (txt_is_lit_word(id)) { /* "nan:f32[]" literal or "nan:f32[] = ..." equation */
            jx_type t;
            L->p.off++;
            if (txt_type(L, &t) == 0) {
                txt_skip_ws(L);
                more = txt_peek(L) != '=';
            } else {
                more = 1; /* let the operand reader report the bad type */
                L->err[0] = 0; /* no error was pending, or we would not be here */
            }
        }
    } else if (txt_peek(L) == '(' && txt_is(id, "in")) {
        more = 0;
    }
    L->p = save;
    return more;
}

/* Wraps the trace's error (after a failed emit) at position at. */
static int txt_trace_fail(txt_parser *P, const txt_pos *at) {
    txt_lex *L = P->L;
    const char *e = jx_trace_error(P->t);
    return txt_fail(L, at, "%s", e ? e : jx_error());
}

/* Turns the literal atoms of P->atoms into constant nodes; fills ins. */
static int txt_emit_atoms(txt_parser *P, const txt_pos *at, jx_loc loc, jx_val *ins) {
    for (size_t k = 0; k < P->natoms; k++) {
        const txt_atom *a = &P->atoms[k];
        ins[k] = a->lit ? jx_scalar_at(loc, P->t, a->dt, a->v) : P->vals[a->slot];
        if (jx_val_bad(ins[k])) return txt_trace_fail(P, at);
    }
    return 0;
}

/* A parsed left-hand side: the names and declared types of an equation's results. */
typedef struct txt_lhs {
    int n;
    txt_str name[JX_MAX_RESULTS];
    jx_type ty[JX_MAX_RESULTS];
    txt_pos at[JX_MAX_RESULTS]; /* where each type is written */
} txt_lhs;

/* 1 if the next tokens are "name :" (another result of the left-hand side); nothing
 * consumed. */
static int txt_lhs_more(txt_lex *L) {
    txt_pos at = txt_here(L);
    txt_str id;
    int more = txt_ident(L, &id) == 0 && (txt_skip_ws(L), txt_peek(L) == ':');
    L->p = at;
    return more;
}

/* Reads "a:t1 b:t2 ... =" (names not yet defined, at most JX_MAX_RESULTS) into h. */
static int txt_read_lhs(txt_parser *P, txt_lhs *h) {
    txt_lex *L = P->L;
    char b[TXT_WHAT_MAX];
    for (h->n = 0;; h->n++) {
        txt_pos at = txt_here(L);
        txt_str name;
        if (h->n == JX_MAX_RESULTS)
            return txt_fail(L, &at, "more than %d results in one equation", JX_MAX_RESULTS);
        if (txt_ident(L, &name) < 0)
            return txt_fail(L, &at, "expected an equation or 'in', got %s", txt_what(L, b));
        txt_skip_ws(L);
        if (h->n == 0 && txt_is(name, "in") && txt_peek(L) != ':')
            return txt_fail(L, &L->p, "expected '(' and the outputs after 'in', got %s",
                            txt_what(L, b));
        if (txt_check_new(P, &at, name) < 0 || txt_expect(L, ':', "':' and a type") < 0)
            return -1;
        for (int j = 0; j < h->n; j++)
            if (h->name[j].len == name.len && !memcmp(h->name[j].s, name.s, name.len))
                return txt_fail(L, &at, "'%.*s' named twice in one equation",
                                (int)(name.len > 40 ? 40 : name.len), name.s);
        h->name[h->n] = name;
        h->at[h->n] = txt_here(L);
        if (txt_type(L, &h->ty[h->n]) < 0) return -1;
        txt_skip_ws(L);
        if (txt_peek(L) == '=') {
            L->p.off++;
            h->n++;
            return 0;
        }
        if (!txt_lhs_more(L))
            return txt_fail(L, &L->p, "expected '=' (or another 'name:type'), got %s",
                            txt_what(L, b));
    }
}

/* Emits op on ins with attrs and binds the left-hand side h to its result(s), each of
 * the declared type. pp: where the primitive is written. */
static int txt_emit_eqn(txt_parser *P, const txt_pos *pp, jx_op op, jx_loc loc, int nin,
                        const jx_val *ins, const txt_attrs_read *ar, const txt_lhs *h) {
    txt_lex *L = P->L;
    const jx_prim_info *pi = prim_info(op);
    jx_val v[JX_MAX_RESULTS];
    char b1[256], b2[256];
    int k = 1;
    jx_attrs attrs = txt_attrs_view(ar, op);
    if (op == JX_OP_CONSTANT) v[0] = jx_constant_at(loc, P->t, ar->value);
    else if (pi->flags & JXF_MULTI) k = trace_emit_multi(loc, P->t, op, nin, ins, &attrs, h->n, v);
    else v[0] = trace_emit(loc, P->t, op, nin, ins, &attrs, &h->ty[0]);
    if (k < 0 || jx_val_bad(v[0])) return txt_trace_fail(P, pp);
    if (k != h->n)
        return txt_fail(L, pp, "%s gives %d result%s, the equation names %d", pi->name, k,
                        k == 1 ? "" : "s", h->n);
    for (int j = 0; j < k; j++) {
        jx_type got = jx_val_type(v[j]);
        if (!jx_type_eq(&got, &h->ty[j]))
            return txt_fail(L, &h->at[j], "declared type %s does not match the type %s that "
                            "%s gives", jx_type_str(&h->ty[j], b1, sizeof b1),
                            jx_type_str(&got, b2, sizeof b2), pi->name);
        if (txt_define(P, h->name[j], v[j]) < 0) return -1;
    }
    return 0;
}

/* Reads and emits one equation. */
static int txt_eqn(txt_parser *P) {
    txt_lex *L = P->L;
    txt_pos pp;
    txt_str prim;
    char b[TXT_WHAT_MAX];
    txt_lhs *h = malloc(sizeof *h);
    if (!h) return txt_oom(L);
    int rc = txt_read_lhs(P, h);
    pp = txt_here(L);
    if (rc == 0 && txt_ident(L, &prim) < 0)
        rc = txt_fail(L, &pp, "expected a primitive name, got %s", txt_what(L, b));
    char pname[64] = "";
    if (rc == 0) snprintf(pname, sizeof pname, "%.*s", (int)(prim.len > 63 ? 63 : prim.len), prim.s);
    jx_op op = rc == 0 && prim.len < 63 ? prim_lookup(pname) : JX_OP_PARAM;
    if (rc == 0 && ((int)op < 0 || op >= JX_NOPS))
        rc = txt_fail(L, &pp, "unknown primitive '%.40s%s'", pname, prim.len > 40 ? "..." : "");
    if (rc < 0) {
        free(h);
        return -1;
    }
    const jx_prim_info *pi = prim_info(op);
    txt_attrs_read ar;
    rc = txt_attrs_read_all(P, op, &h->ty[0], &ar);
    P->natoms = 0;
    while (rc == 0 && txt_more_operands(P)) {
        if (txt_grow((void **)&P->atoms, &P->atoms_cap, P->natoms + 1, sizeof *P->atoms) < 0)
            rc = txt_oom(L);
        else if (txt_atom_read(P, &P->atoms[P->natoms++]) < 0)
            rc = -1;
    }
    jx_loc loc = {NULL, 0};
    if (rc == 0) rc = txt_comment(L, &loc);
    if (rc == 0 && (txt_skip_ws(L), !txt_peek(L)))
        rc = txt_fail(L, &L->p, "unexpected end of input after an equation");
    if (rc == 0 && (pi->arity >= 0 ? (int)P->natoms != pi->arity : P->natoms < 1))
        rc = txt_fail(L, &pp, "%s takes %s%d operand%s, got %zu", pi->name,
                      pi->arity < 0 ? "at least " : "", pi->arity < 0 ? 1 : pi->arity,
                      pi->arity == 1 || pi->arity < 0 ? "" : "s", P->natoms);
    if (rc == 0 && P->natoms > JX_MAX_OPERANDS)
        rc = txt_fail(L, &pp, "too many operands (at most %d)", JX_MAX_OPERANDS);
    jx_val ins[JX_MAX_OPERANDS];
    if (rc == 0) rc = txt_emit_atoms(P, &pp, loc, ins);
    if (rc == 0) rc = txt_emit_eqn(P, &pp, op, loc, (int)P->natoms, ins, &ar, h);
    txt_attrs_free(&ar);
    free(h);
    return rc;
}

/* Reads the input declarations "a:f32[2] b:i32[]" up to '.', then starts the trace. */
static int txt_inputs(txt_parser *P) {
    txt_lex *L = P->L;
    for (;;) {
        txt_pos at = txt_here(L);
        if (txt_peek(L) == '.') break;
        txt_str name;
        char b[TXT_WHAT_MAX];
        if (txt_ident(L, &name) < 0)
            return txt_fail(L, &at, "expected an input 'name:type' or '.', got %s",
                            txt_what(L, b));
        if (P->n_in >= (1 << 20)) return txt_fail(L, &at, "too many inputs");
        txt_skip_ws(L);
        if (txt_peek(L) != ':') {
            L->p = at;
            return txt_fail(L, &at, "expected an input 'name:type' or '.', got %s",
                            txt_what(L, b));
        }
        L->p.off++;
        if (txt_check_new(P, &at, name) < 0) return -1;
        if (txt_grow((void **)&P->in_types, &P->in_cap, P->n_in + 1, sizeof *P->in_types) < 0)
            return txt_oom(L);
        if (txt_type(L, &P->in_types[P->n_in]) < 0) return -1;
        if (txt_bind(P, name, (int32_t)P->n_in++) < 0) return -1;
    }
    L->p.off++; /* the '.' */
    P->t = jx_trace_begin((int)P->n_in, P->in_types);
    if (!P->t) return txt_fail(L, &L->p, "%s", jx_error());
    if (txt_grow((void **)&P->vals, &P->vals_cap, P->n_in + 1, sizeof *P->vals) < 0)
        return txt_oom(L);
    for (size_t i = 0; i < P->n_in; i++) P->vals[i] = jx_trace_input(P->t, (int)i);
    P->nvals = P->n_in;
    return 0;
}

/* Reads "in (atom, ...) }" and the end of the text; ends the trace into *fn. */
static int txt_outputs(txt_parser *P, jx_fn **fn) {
    txt_lex *L = P->L;
    if (txt_keyword(L, "in") < 0 || txt_expect(L, '(', "'(' and the outputs") < 0) return -1;
    txt_pos at = txt_here(L);
    P->natoms = 0;
    if (txt_peek(L) == ')') {
        L->p.off++;
    } else {
        for (;;) {
            if (txt_grow((void **)&P->atoms, &P->atoms_cap, P->natoms + 1, sizeof *P->atoms) < 0)
                return txt_oom(L);
            if (txt_atom_read(P, &P->atoms[P->natoms++]) < 0) return -1;
            txt_skip_ws(L);
            if (txt_peek(L) == ')') {
                L->p.off++;
                break;
            }
            if (txt_expect(L, ',', "',' or ')' in the outputs") < 0) return -1;
        }
    }
    if (txt_expect(L, '}', "'}'") < 0) return -1;
    txt_skip_ws(L);
    if (P->depth == 0 && txt_peek(L)) {
        char b[TXT_WHAT_MAX];
        return txt_fail(L, &L->p, "unexpected %s after '}'", txt_what(L, b));
    }
    jx_val *outs = malloc((P->natoms + 1) * sizeof *outs);
    if (!outs) return txt_oom(L);
    int rc = txt_emit_atoms(P, &at, (jx_loc){NULL, 0}, outs);
    if (rc == 0) {
        jx_trace *t = P->t;
        P->t = NULL; /* consumed */
        *fn = jx_trace_end(t, (int)P->natoms, outs);
        if (!*fn) rc = txt_fail(L, &at, "%s", jx_error());
    }
    free(outs);
    return rc;
}

/* See parse.h. */
int txt_fn_read(txt_parser *P, jx_fn **fn) {
    txt_lex *L = P->L;
    int rc = 0;
    if (txt_expect(L, '{', "'{'") < 0 || txt_keyword(L, "lambda") < 0 ||
        txt_expect(L, ';', "';'") < 0 || txt_inputs(P) < 0 || txt_keyword(L, "let") < 0)
        rc = -1;
    while (rc == 0) {
        txt_pos save = txt_here(L);
        txt_str id;
        if (txt_ident(L, &id) == 0 && txt_is(id, "in") && (txt_skip_ws(L), txt_peek(L) == '(')) {
            L->p = save;
            rc = txt_outputs(P, fn);
            break;
        }
        L->p = save;
        rc = txt_eqn(P);
    }
    jx_trace_abort(P->t);
    P->t = NULL;
    free(P->tab);
    free(P->vals);
    free(P->in_types);
    free(P->atoms);
    free(P->nums);
    if (rc < 0) {
        jx_fn_free(*fn);
        *fn = NULL;
    }
    return rc;
}

/* Parses the text form (see the top of this file); NULL with "line L, column C: ..." in
 * jx_error() on any malformed or ill-typed input. */
jx_fn *jx_fn_parse(const char *text) {
    if (!text) {
        util_err("parse: NULL text");
        return NULL;
    }
    txt_parser *P = calloc(1, sizeof *P);
    txt_lex *L = calloc(1, sizeof *L);
    if (!P || !L) {
        free(P);
        free(L);
        util_err("parse: out of memory");
        return NULL;
    }
    txt_lex_init(L, text);
    P->L = L;
    jx_fn *fn = NULL;
    if (txt_fn_read(P, &fn) < 0) util_err("%s", L->err[0] ? L->err : "parse failed");
    txt_lex_free(L);
    free(L);
    free(P);
    return fn;
}
