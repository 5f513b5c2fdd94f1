/* The IR parser: reads exactly what text_print.c prints and rebuilds the function through
 * the tracer (jx_trace_begin, trace_emit per equation, jx_trace_end), so every equation
 * passes the same shape rules as traced code. Errors read "line L, column C: message".
 *
 *   fn    := '{' 'lambda' ';' (name ':' type)* '.' 'let' eqn* 'in' '(' [atom (',' atom)*] ')' '}'
 *   eqn   := name ':' type '=' prim ['[' attrs ']'] atom* ['#' file ':' line]
 *   atom  := name | value ':' type          (a literal has a rank-0 type)
 *   attrs := attr_name '=' '(' [int (',' int)*] ')' ...   (all, in prims.def order)
 *          | 'value' '=' '[' [value (',' value)*] ']'        (constant only)
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "trace.h"
#include "util.h"

/* A position in the text: byte offset, line number and offset of the line's start. */
typedef struct txt_pos {
    size_t off;
    long line;
    size_t bol;
} txt_pos;

/* A slice of the text. */
typedef struct txt_str {
    const char *s;
    size_t len;
} txt_str;

/* An operand or output: a variable (slot into vals) or a literal. */
typedef struct txt_atom {
    int lit;
    int32_t slot;
    jx_dtype dt;
    double v;
} txt_atom;

/* A name table entry (open addressing; s == NULL is empty). */
typedef struct txt_ent {
    txt_str name;
    int32_t slot;
} txt_ent;

typedef struct txt_parser {
    const char *src;
    txt_pos p;
    char err[1600];
    jx_trace *t;
    txt_ent *tab; /* name -> slot */
    size_t tab_cap, tab_n;
    jx_val *vals; /* slot -> value (inputs first) */
    size_t nvals, vals_cap;
    jx_type *in_types;
    size_t n_in, in_cap;
    txt_atom *atoms;
    size_t natoms, atoms_cap;
    double *nums;
    size_t nnums, nums_cap;
    char *file; /* NUL-terminated file of the current location comment */
    size_t file_cap;
} txt_parser;

/* Records the first error at position at; returns -1. */
__attribute__((format(printf, 3, 4))) static int txt_fail(txt_parser *P, const txt_pos *at,
                                                          const char *fmt, ...) {
    if (P->err[0]) return -1;
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(P->err, sizeof P->err, "line %ld, column %ld: %s", at->line,
             (long)(at->off - at->bol + 1), msg);
    return -1;
}

/* Grows *buf (elements of size sz) to hold at least need elements; -1 on OOM. */
static int txt_grow(void **buf, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / sz / 2) return -1;
    void *nb = realloc(*buf, c * sz);
    if (!nb) return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

static int txt_oom(txt_parser *P) { return txt_fail(P, &P->p, "out of memory"); }

static char txt_peek(const txt_parser *P) { return P->src[P->p.off]; }

static int txt_is_ident0(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static int txt_is_ident(char c) { return txt_is_ident0(c) || (c >= '0' && c <= '9'); }
static int txt_is_digit(char c) { return c >= '0' && c <= '9'; }

/* Skips spaces, tabs, carriage returns and newlines. */
static void txt_skip_ws(txt_parser *P) {
    for (;;) {
        char c = P->src[P->p.off];
        if (c == '\n') {
            P->p.off++;
            P->p.line++;
            P->p.bol = P->p.off;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            P->p.off++;
        } else {
            return;
        }
    }
}

/* Describes the token at the current position for "got ..." messages. */
static const char *txt_what(const txt_parser *P, char *buf, size_t len) {
    const char *s = P->src + P->p.off;
    unsigned char c = (unsigned char)*s;
    if (!c) return "end of input";
    if (txt_is_ident0((char)c) || txt_is_digit((char)c) || c == '-') {
        size_t n = 1;
        while (n < 41 && (txt_is_ident(s[n]) || s[n] == '.')) n++;
        snprintf(buf, len, "'%.*s%s'", (int)(n > 40 ? 40 : n), s, n > 40 ? "..." : "");
    } else if (c >= 32 && c < 127) {
        snprintf(buf, len, "'%c'", c);
    } else {
        snprintf(buf, len, "byte 0x%02x", c);
    }
    return buf;
}

/* Consumes the character c (after whitespace) or fails with "expected <what>". */
static int txt_expect(txt_parser *P, char c, const char *what) {
    txt_skip_ws(P);
    if (txt_peek(P) == c) {
        P->p.off++;
        return 0;
    }
    char b[64];
    return txt_fail(P, &P->p, "expected %s, got %s", what, txt_what(P, b, sizeof b));
}

/* Reads an identifier (after whitespace) into *out; 0, or -1 without an error if none. */
static int txt_ident(txt_parser *P, txt_str *out) {
    txt_skip_ws(P);
    const char *s = P->src + P->p.off;
    if (!txt_is_ident0(*s)) return -1;
    size_t n = 1;
    while (txt_is_ident(s[n])) n++;
    out->s = s;
    out->len = n;
    P->p.off += n;
    return 0;
}

static int txt_is(txt_str a, const char *lit) {
    return a.len == strlen(lit) && memcmp(a.s, lit, a.len) == 0;
}

/* Reads the identifier `word` or fails with "expected 'word'". */
static int txt_keyword(txt_parser *P, const char *word) {
    txt_str id;
    txt_pos at = (txt_skip_ws(P), P->p);
    if (txt_ident(P, &id) == 0 && txt_is(id, word)) return 0;
    P->p = at;
    char b[64];
    return txt_fail(P, &at, "expected '%s', got %s", word, txt_what(P, b, sizeof b));
}

/* Reads a decimal integer with an optional '-' into *v; fails on overflow or no digits. */
static int txt_int(txt_parser *P, int64_t *v) {
    txt_skip_ws(P);
    txt_pos at = P->p;
    const char *s = P->src + P->p.off;
    int neg = *s == '-';
    size_t n = (size_t)neg;
    if (!txt_is_digit(s[n])) {
        char b[64];
        return txt_fail(P, &at, "expected an integer, got %s", txt_what(P, b, sizeof b));
    }
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int over = 0;
    for (; txt_is_digit(s[n]); n++) {
        uint64_t d = (uint64_t)(s[n] - '0');
        if (acc > (lim - d) / 10) over = 1;
        else acc = acc * 10 + d;
    }
    if (over || txt_is_ident(s[n]) || s[n] == '.')
        return txt_fail(P, &at, over ? "integer out of range" : "malformed integer");
    P->p.off += n;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* Reads a type "dtype[d0,d1,...]" into *t (valid dtype, rank <= 8, no overflow). */
static int txt_type(txt_parser *P, jx_type *t) {
    txt_str id;
    txt_pos at = (txt_skip_ws(P), P->p);
    char b[64];
    if (txt_ident(P, &id) < 0)
        return txt_fail(P, &at, "expected a dtype, got %s", txt_what(P, b, sizeof b));
    int dt = 0;
    while (dt < JX_NDTYPES && !txt_is(id, jx_dtype_name((jx_dtype)dt))) dt++;
    if (dt == JX_NDTYPES)
        return txt_fail(P, &at, "unknown dtype '%.*s'", (int)(id.len > 40 ? 40 : id.len), id.s);
    memset(t, 0, sizeof *t);
    t->dtype = (jx_dtype)dt;
    if (txt_expect(P, '[', "'[' after the dtype") < 0) return -1;
    txt_skip_ws(P);
    if (txt_peek(P) == ']') {
        P->p.off++;
        return 0;
    }
    for (;;) {
        txt_pos dp = (txt_skip_ws(P), P->p);
        int64_t d;
        if (txt_int(P, &d) < 0) return -1;
        if (d < 0) return txt_fail(P, &dp, "negative dimension %lld", (long long)d);
        if (t->rank == JX_MAX_RANK)
            return txt_fail(P, &dp, "rank exceeds the maximum of %d", JX_MAX_RANK);
        t->shape[t->rank++] = d;
        if (util_numel(t->rank, t->shape) < 0)
            return txt_fail(P, &dp, "shape too large (more than 2^62 elements)");
        txt_skip_ws(P);
        if (txt_peek(P) == ']') {
            P->p.off++;
            return 0;
        }
        if (txt_expect(P, ',', "',' or ']' in the shape") < 0) return -1;
    }
}

/* Reads the spelling of a value (an optional '-' then letters, digits, '.', and a sign
 * after an exponent 'e') without interpreting it. */
static int txt_value_token(txt_parser *P, txt_str *out) {
    txt_skip_ws(P);
    const char *s = P->src + P->p.off;
    size_t n = *s == '-';
    if (!txt_is_ident(s[n])) {
        char b[64];
        return txt_fail(P, &P->p, "expected a value, got %s", txt_what(P, b, sizeof b));
    }
    while (txt_is_ident(s[n]) || s[n] == '.' ||
           ((s[n] == '-' || s[n] == '+') && (s[n - 1] == 'e' || s[n - 1] == 'E') &&
            txt_is_digit(s[0] == '-' ? s[1] : s[0])))
        n++;
    out->s = s;
    out->len = n;
    P->p.off += n;
    return 0;
}

/* Converts the spelling tok (read at position at) to a value of dtype dt. */
static int txt_value(txt_parser *P, const txt_pos *at, txt_str tok, jx_dtype dt, double *v) {
    char buf[80];
    const char *name = jx_dtype_name(dt);
    int shown = (int)(tok.len > 40 ? 40 : tok.len);
    if (tok.len >= sizeof buf)
        return txt_fail(P, at, "bad %s value '%.*s...' (too long)", name, shown, tok.s);
    memcpy(buf, tok.s, tok.len);
    buf[tok.len] = 0;
    if (dt == JX_BOOL) {
        if (!strcmp(buf, "true") || !strcmp(buf, "false")) {
            *v = buf[0] == 't';
            return 0;
        }
        return txt_fail(P, at, "bad bool value '%s' (expected true or false)", buf);
    }
    const char *d = buf + (buf[0] == '-');
    if (dt == JX_I32 || dt == JX_U32) {
        size_t k = 0;
        while (txt_is_digit(d[k])) k++;
        if (k == 0 || d[k]) return txt_fail(P, at, "bad %s value '%s'", name, buf);
        errno = 0;
        long long x = strtoll(buf, NULL, 10);
        long long lo = dt == JX_I32 ? INT32_MIN : 0, hi = dt == JX_I32 ? INT32_MAX : UINT32_MAX;
        if (errno == ERANGE || x < lo || x > hi)
            return txt_fail(P, at, "%s value '%s' out of range", name, buf);
        *v = (double)x;
        return 0;
    }
    if (!strcmp(d, "nan") && d == buf) {
        *v = NAN;
        return 0;
    }
    if (!strcmp(d, "inf")) {
        *v = d == buf ? INFINITY : -INFINITY;
        return 0;
    }
    if (!txt_is_digit(d[0]) || d[strspn(d, "0123456789.eE+-")])
        return txt_fail(P, at, "bad %s value '%s'", name, buf);
    char *end;
    double x = dt == JX_F32 ? (double)strtof(buf, &end) : strtod(buf, &end);
    if (*end || end == buf) return txt_fail(P, at, "bad %s value '%s'", name, buf);
    if (isinf(x)) return txt_fail(P, at, "%s value '%s' out of range", name, buf);
    *v = x;
    return 0;
}

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
    if (2 * (P->tab_n + 1) > P->tab_cap) {
        size_t cap = P->tab_cap ? 2 * P->tab_cap : 64;
        txt_ent *nt = calloc(cap, sizeof *nt);
        if (!nt) return txt_oom(P);
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
    if (txt_lookup(P, name) < 0) return 0;
    return txt_fail(P, at, "redefined variable '%.*s%s'", (int)(name.len > 40 ? 40 : name.len),
                    name.s, name.len > 40 ? "..." : "");
}

/* Appends v as a new slot and binds name to it. */
static int txt_define(txt_parser *P, txt_str name, jx_val v) {
    if (txt_grow((void **)&P->vals, &P->vals_cap, P->nvals + 1, sizeof *P->vals) < 0)
        return txt_oom(P);
    P->vals[P->nvals] = v;
    return txt_bind(P, name, (int32_t)P->nvals++);
}

/* 1 if name spells a literal value rather than a variable when followed by ':'. */
static int txt_is_lit_word(txt_str s) {
    return txt_is(s, "nan") || txt_is(s, "inf") || txt_is(s, "true") || txt_is(s, "false");
}

/* Reads an atom: a bound variable, or a literal `value:dtype[]`. */
static int txt_atom_read(txt_parser *P, txt_atom *a) {
    txt_pos at = (txt_skip_ws(P), P->p);
    txt_str id;
    memset(a, 0, sizeof *a);
    if (txt_ident(P, &id) == 0) {
        txt_skip_ws(P);
        if (!(txt_is_lit_word(id) && txt_peek(P) == ':')) {
            a->slot = txt_lookup(P, id);
            if (a->slot >= 0) return 0;
            return txt_fail(P, &at, "undefined variable '%.*s%s'",
                            (int)(id.len > 40 ? 40 : id.len), id.s, id.len > 40 ? "..." : "");
        }
        P->p = at;
    }
    txt_str tok;
    jx_type t;
    if (txt_value_token(P, &tok) < 0 || txt_expect(P, ':', "':' and a type after the value") < 0)
        return -1;
    txt_pos tp = (txt_skip_ws(P), P->p);
    if (txt_type(P, &t) < 0) return -1;
    if (t.rank != 0) return txt_fail(P, &tp, "a literal must have a scalar type like f32[]");
    a->lit = 1;
    a->dt = t.dtype;
    return txt_value(P, &at, tok, t.dtype, &a->v);
}

/* 1 if the next token starts another operand of the current equation (rather than the
 * next equation "name:type =" or the final "in ("). Restores the position. */
static int txt_more_operands(txt_parser *P) {
    txt_pos save = (txt_skip_ws(P), P->p);
    char c = txt_peek(P);
    if (txt_is_digit(c) || c == '-') return 1;
    txt_str id;
    if (txt_ident(P, &id) < 0) return 0;
    txt_skip_ws(P);
    int more = 1;
    if (txt_peek(P) == ':') {
        more = 0;
        if (txt_is_lit_word(id)) { /* "nan:f32[]" literal or "nan:f32[] = ..." equation */
            jx_type t;
            P->p.off++;
            if (txt_type(P, &t) == 0) {
                txt_skip_ws(P);
                more = txt_peek(P) != '=';
            } else {
                more = 1; /* let the operand reader report the bad type */
                P->err[0] = 0; /* no error was pending, or we would not be here */
            }
        }
    } else if (txt_peek(P) == '(' && txt_is(id, "in")) {
        more = 0;
    }
    P->p = save;
    return more;
}

/* Reads the optional location comment "# file:line" into *loc (file kept in P->file). */
static int txt_comment(txt_parser *P, jx_loc *loc) {
    *loc = (jx_loc){NULL, 0};
    txt_skip_ws(P);
    if (txt_peek(P) != '#') return 0;
    txt_pos at = P->p;
    const char *s = P->src + P->p.off + 1;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strcspn(s, "\n");
    P->p.off = (size_t)(s + n - P->src);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    size_t colon = n;
    while (colon > 0 && s[colon - 1] != ':') colon--;
    if (colon == 0 || colon == n)
        return txt_fail(P, &at, "bad location comment (expected '# file:line')");
    long line = 0;
    for (size_t k = colon; k < n; k++) {
        if (!txt_is_digit(s[k]) || line > (INT_MAX - 9) / 10)
            return txt_fail(P, &at, "bad line number in location comment");
        line = line * 10 + (s[k] - '0');
    }
    if (txt_grow((void **)&P->file, &P->file_cap, colon, 1) < 0) return txt_oom(P);
    memcpy(P->file, s, colon - 1);
    P->file[colon - 1] = 0;
    *loc = (jx_loc){P->file, (int)line};
    return 0;
}

/* Reads "[a=(..) b=(..)]" for op into ints (all attributes, in order). */
static int txt_attrs(txt_parser *P, jx_op op, jx_ints *ints) {
    const jx_prim_info *pi = prim_info(op);
    txt_skip_ws(P);
    if (pi->n_attrs == 0) {
        if (txt_peek(P) == '[')
            return txt_fail(P, &P->p, "primitive '%s' takes no attributes", pi->name);
        return 0;
    }
    if (txt_expect(P, '[', "'[' and the attributes") < 0) return -1;
    for (int k = 0; k < pi->n_attrs; k++) {
        txt_pos at = (txt_skip_ws(P), P->p);
        txt_str id;
        char b[64];
        if (txt_ident(P, &id) < 0 || !txt_is(id, pi->attr_names[k])) {
            P->p = at;
            return txt_fail(P, &at, "expected attribute '%s' of %s, got %s", pi->attr_names[k],
                            pi->name, txt_what(P, b, sizeof b));
        }
        if (txt_expect(P, '=', "'='") < 0 || txt_expect(P, '(', "'('") < 0) return -1;
        ints[k].n = 0;
        txt_skip_ws(P);
        if (txt_peek(P) == ')') {
            P->p.off++;
            continue;
        }
        for (;;) {
            txt_pos vp = (txt_skip_ws(P), P->p);
            if (ints[k].n == JX_MAX_RANK)
                return txt_fail(P, &vp, "too many values in attribute '%s' (at most %d)",
                                pi->attr_names[k], JX_MAX_RANK);
            if (txt_int(P, &ints[k].v[ints[k].n++]) < 0) return -1;
            txt_skip_ws(P);
            if (txt_peek(P) == ')') {
                P->p.off++;
                break;
            }
            if (txt_expect(P, ',', "',' or ')'") < 0) return -1;
        }
    }
    txt_skip_ws(P);
    if (txt_peek(P) != ']') {
        char b[64];
        return txt_fail(P, &P->p, "expected ']' after the %d attribute(s) of %s, got %s",
                        pi->n_attrs, pi->name, txt_what(P, b, sizeof b));
    }
    P->p.off++;
    return 0;
}

/* Reads "[value=[v,...]]" for a constant of type t into a new array *out. */
static int txt_constant(txt_parser *P, const jx_type *t, jx_array **out) {
    char ts[256];
    int64_t size = util_numel(t->rank, t->shape);
    if (txt_expect(P, '[', "'[value=[...]]'") < 0 || txt_keyword(P, "value") < 0 ||
        txt_expect(P, '=', "'='") < 0 || txt_expect(P, '[', "'[' and the values") < 0)
        return -1;
    P->nnums = 0;
    txt_skip_ws(P);
    if (txt_peek(P) == ']') {
        P->p.off++;
    } else {
        for (;;) {
            txt_pos vp = (txt_skip_ws(P), P->p);
            txt_str tok;
            if ((int64_t)P->nnums == size)
                return txt_fail(P, &vp, "too many values for a constant of type %s (%lld)",
                                jx_type_str(t, ts, sizeof ts), (long long)size);
            if (txt_grow((void **)&P->nums, &P->nums_cap, P->nnums + 1, sizeof *P->nums) < 0)
                return txt_oom(P);
            if (txt_value_token(P, &tok) < 0 ||
                txt_value(P, &vp, tok, t->dtype, &P->nums[P->nnums++]) < 0)
                return -1;
            txt_skip_ws(P);
            if (txt_peek(P) == ']') {
                P->p.off++;
                break;
            }
            if (txt_expect(P, ',', "',' or ']' in the values") < 0) return -1;
        }
    }
    if ((int64_t)P->nnums != size)
        return txt_fail(P, &P->p, "too few values for a constant of type %s (%lld, got %zu)",
                        jx_type_str(t, ts, sizeof ts), (long long)size, P->nnums);
    if (txt_expect(P, ']', "']' after the values") < 0) return -1;
    *out = jx_array_new_type(t);
    if (!*out) return txt_fail(P, &P->p, "%s", jx_error());
    for (size_t i = 0; i < P->nnums; i++) jx_array_set(*out, (int64_t)i, P->nums[i]);
    return 0;
}

/* Wraps the trace's error (after a failed emit) at position at. */
static int txt_trace_fail(txt_parser *P, const txt_pos *at) {
    const char *e = jx_trace_error(P->t);
    return txt_fail(P, at, "%s", e ? e : jx_error());
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

/* Reads and emits one equation. */
static int txt_eqn(txt_parser *P) {
    txt_pos at = (txt_skip_ws(P), P->p), tp, pp;
    txt_str name, prim;
    jx_type ty;
    char b[64], b1[256], b2[256];
    if (txt_ident(P, &name) < 0)
        return txt_fail(P, &at, "expected an equation or 'in', got %s", txt_what(P, b, sizeof b));
    txt_skip_ws(P);
    if (txt_is(name, "in") && txt_peek(P) != ':')
        return txt_fail(P, &P->p, "expected '(' and the outputs after 'in', got %s",
                        txt_what(P, b, sizeof b));
    if (txt_check_new(P, &at, name) < 0 || txt_expect(P, ':', "':' and a type") < 0) return -1;
    tp = (txt_skip_ws(P), P->p);
    if (txt_type(P, &ty) < 0 || txt_expect(P, '=', "'='") < 0) return -1;
    pp = (txt_skip_ws(P), P->p);
    if (txt_ident(P, &prim) < 0)
        return txt_fail(P, &pp, "expected a primitive name, got %s", txt_what(P, b, sizeof b));
    char pname[64];
    snprintf(pname, sizeof pname, "%.*s", (int)(prim.len > 63 ? 63 : prim.len), prim.s);
    jx_op op = prim.len < 63 ? prim_lookup(pname) : JX_OP_PARAM;
    if ((int)op < 0 || op >= JX_NOPS)
        return txt_fail(P, &pp, "unknown primitive '%.40s%s'", pname, prim.len > 40 ? "..." : "");
    const jx_prim_info *pi = prim_info(op);
    jx_ints ints[JX_MAX_ATTRS];
    jx_array *value = NULL;
    memset(ints, 0, sizeof ints);
    if ((op == JX_OP_CONSTANT ? txt_constant(P, &ty, &value) : txt_attrs(P, op, ints)) < 0)
        return -1;
    P->natoms = 0;
    while (txt_more_operands(P)) {
        if (txt_grow((void **)&P->atoms, &P->atoms_cap, P->natoms + 1, sizeof *P->atoms) < 0) {
            jx_array_free(value);
            return txt_oom(P);
        }
        if (txt_atom_read(P, &P->atoms[P->natoms++]) < 0) {
            jx_array_free(value);
            return -1;
        }
    }
    jx_loc loc;
    int rc = txt_comment(P, &loc);
    if (rc == 0 && (txt_skip_ws(P), !txt_peek(P)))
        rc = txt_fail(P, &P->p, "unexpected end of input after an equation");
    if (rc == 0 && (pi->arity >= 0 ? (int)P->natoms != pi->arity : P->natoms < 1))
        rc = txt_fail(P, &pp, "%s takes %s%d operand%s, got %zu", pi->name,
                      pi->arity < 0 ? "at least " : "", pi->arity < 0 ? 1 : pi->arity,
                      pi->arity == 1 || pi->arity < 0 ? "" : "s", P->natoms);
    if (rc == 0 && P->natoms > 64) rc = txt_fail(P, &pp, "too many operands (at most 64)");
    jx_val ins[64], v = {NULL, -1};
    if (rc == 0) rc = txt_emit_atoms(P, &pp, loc, ins);
    if (rc == 0) {
        if (op == JX_OP_CONSTANT) {
            v = jx_constant_at(loc, P->t, value);
        } else {
            jx_attrs attrs = ir_attrs(pi->n_attrs > 0 ? &ints[0] : NULL,
                                      pi->n_attrs > 1 ? &ints[1] : NULL,
                                      pi->n_attrs > 2 ? &ints[2] : NULL,
                                      pi->n_attrs > 3 ? &ints[3] : NULL);
            v = trace_emit(loc, P->t, op, (int)P->natoms, ins, pi->n_attrs ? &attrs : NULL, &ty);
        }
        if (jx_val_bad(v)) rc = txt_trace_fail(P, &pp);
    }
    jx_array_free(value);
    if (rc < 0) return -1;
    jx_type got = jx_val_type(v);
    if (!jx_type_eq(&got, &ty))
        return txt_fail(P, &tp, "declared type %s does not match the type %s that %s gives",
                        jx_type_str(&ty, b1, sizeof b1), jx_type_str(&got, b2, sizeof b2),
                        pi->name);
    return txt_define(P, name, v);
}

/* Reads the input declarations "a:f32[2] b:i32[]" up to '.', then starts the trace. */
static int txt_inputs(txt_parser *P) {
    for (;;) {
        txt_pos at = (txt_skip_ws(P), P->p);
        if (txt_peek(P) == '.') break;
        txt_str name;
        char b[64];
        if (txt_ident(P, &name) < 0)
            return txt_fail(P, &at, "expected an input 'name:type' or '.', got %s",
                            txt_what(P, b, sizeof b));
        if (P->n_in >= (1 << 20)) return txt_fail(P, &at, "too many inputs");
        txt_skip_ws(P);
        if (txt_peek(P) != ':') {
            P->p = at;
            return txt_fail(P, &at, "expected an input 'name:type' or '.', got %s",
                            txt_what(P, b, sizeof b));
        }
        P->p.off++;
        if (txt_check_new(P, &at, name) < 0) return -1;
        if (txt_grow((void **)&P->in_types, &P->in_cap, P->n_in + 1, sizeof *P->in_types) < 0)
            return txt_oom(P);
        if (txt_type(P, &P->in_types[P->n_in]) < 0) return -1;
        if (txt_bind(P, name, (int32_t)P->n_in++) < 0) return -1;
    }
    P->p.off++; /* the '.' */
    P->t = jx_trace_begin((int)P->n_in, P->in_types);
    if (!P->t) return txt_fail(P, &P->p, "%s", jx_error());
    if (txt_grow((void **)&P->vals, &P->vals_cap, P->n_in + 1, sizeof *P->vals) < 0)
        return txt_oom(P);
    for (size_t i = 0; i < P->n_in; i++) P->vals[i] = jx_trace_input(P->t, (int)i);
    P->nvals = P->n_in;
    return 0;
}

/* Reads "in (atom, ...) }" and the end of the text; ends the trace into *fn. */
static int txt_outputs(txt_parser *P, jx_fn **fn) {
    if (txt_keyword(P, "in") < 0 || txt_expect(P, '(', "'(' and the outputs") < 0) return -1;
    txt_pos at = (txt_skip_ws(P), P->p);
    P->natoms = 0;
    if (txt_peek(P) == ')') {
        P->p.off++;
    } else {
        for (;;) {
            if (txt_grow((void **)&P->atoms, &P->atoms_cap, P->natoms + 1, sizeof *P->atoms) < 0)
                return txt_oom(P);
            if (txt_atom_read(P, &P->atoms[P->natoms++]) < 0) return -1;
            txt_skip_ws(P);
            if (txt_peek(P) == ')') {
                P->p.off++;
                break;
            }
            if (txt_expect(P, ',', "',' or ')' in the outputs") < 0) return -1;
        }
    }
    if (txt_expect(P, '}', "'}'") < 0) return -1;
    txt_skip_ws(P);
    if (txt_peek(P)) {
        char b[64];
        return txt_fail(P, &P->p, "unexpected %s after '}'", txt_what(P, b, sizeof b));
    }
    jx_val *outs = malloc((P->natoms + 1) * sizeof *outs);
    if (!outs) return txt_oom(P);
    int rc = txt_emit_atoms(P, &at, (jx_loc){NULL, 0}, outs);
    if (rc == 0) {
        jx_trace *t = P->t;
        P->t = NULL; /* consumed */
        *fn = jx_trace_end(t, (int)P->natoms, outs);
        if (!*fn) rc = txt_fail(P, &at, "%s", jx_error());
    }
    free(outs);
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
    if (!P) {
        util_err("parse: out of memory");
        return NULL;
    }
    P->src = text;
    P->p.line = 1;
    jx_fn *fn = NULL;
    int rc = 0;
    if (txt_expect(P, '{', "'{'") < 0 || txt_keyword(P, "lambda") < 0 ||
        txt_expect(P, ';', "';'") < 0 || txt_inputs(P) < 0 || txt_keyword(P, "let") < 0)
        rc = -1;
    while (rc == 0) {
        txt_pos save = (txt_skip_ws(P), P->p);
        txt_str id;
        if (txt_ident(P, &id) == 0 && txt_is(id, "in") && (txt_skip_ws(P), txt_peek(P) == '(')) {
            P->p = save;
            rc = txt_outputs(P, &fn);
            break;
        }
        P->p = save;
        rc = txt_eqn(P);
    }
    jx_trace_abort(P->t);
    free(P->tab);
    free(P->vals);
    free(P->in_types);
    free(P->atoms);
    free(P->nums);
    free(P->file);
    if (rc < 0) {
        jx_fn_free(fn);
        fn = NULL;
        util_err("%s", P->err[0] ? P->err : "parse failed");
    }
    free(P);
    return fn;
}
