/* The .npy header dict, read as numpy reads it: numpy evaluates the header text with
 * ast.literal_eval (after, for format 1.0 and 2.0, dropping a Python 2 'L' that follows a
 * number) and then checks the dict. This file implements the part of Python's literal
 * grammar that can appear there: strings (prefixes, implicit concatenation, escapes,
 * triple quotes), numbers (underscores, 0x/0o/0b, floats, imaginary, no leading zeros),
 * True/False/None, tuples, lists, sets, dicts, a sign before a number and real +/-
 * imaginary; comments, backslash continuations and Python's rules on indentation at the
 * top level. Anything else (names, calls, other operators) fails like literal_eval.
 * tests/t_npy.c checks the verdicts against numpy itself. */
#include <stdio.h>
#include <string.h>

#include "lib/npy_lit.h"
#include "core/util.h"

/* Python's tokenizer refuses 200 nested brackets. */
#define PH_MAX_DEPTH 200

static int ph_expr(ph *P, pv *v);

/* Adds element e to tuple v (dims are kept while they are ints and fit the rank). */
static void ph_tuple_add(pv *v, const pv *e) {
    if (e->kind != PV_INT) v->all_int = 0;
    else if (v->n < JX_MAX_RANK) v->dims[v->n] = e->i;
    if (e->kind == PV_INT && e->big) v->any_big = 1;
    if (!e->hashable) v->hashable = 0;
    v->n++;
}

/* Reads '(' ... ')': the empty tuple, a parenthesized expression (v is that expression)
 * or a tuple. P->p is past the '('. */
static int ph_paren(ph *P, pv *v) {
    if (npy_ph_skip(P) < 0) return -1;
    memset(v, 0, sizeof *v);
    v->kind = PV_TUPLE;
    v->all_int = v->hashable = 1;
    if (P->p < P->end && *P->p == ')') {
        P->p++;
        return 0;
    }
    pv e;
    if (ph_expr(P, &e) < 0 || npy_ph_skip(P) < 0) return -1;
    if (P->p < P->end && *P->p == ')') { /* a group, not a tuple */
        P->p++;
        *v = e;
        return 0;
    }
    ph_tuple_add(v, &e);
    for (;;) {
        if (P->p >= P->end || *P->p != ',')
            return npy_ph_fail(P, "expected ',' or ')' in a tuple");
        P->p++;
        if (npy_ph_skip(P) < 0) return -1;
        if (P->p < P->end && *P->p == ')') break;
        if (ph_expr(P, &e) < 0 || npy_ph_skip(P) < 0) return -1;
        ph_tuple_add(v, &e);
        if (P->p < P->end && *P->p == ')') break;
    }
    P->p++;
    return 0;
}

/* The three keys numpy wants, and what a header dict holds for them (last one wins). */
typedef struct ph_dict {
    pv val[3];
    int have[3];
    int bad_key; /* a key other than the three (reported after the whole text parses) */
    char bad[PH_STR_CAP + 8];
} ph_dict;
static const char *const ph_keys[3] = {"descr", "fortran_order", "shape"};

/* Records key k -> value e of the top-level dict in D. */
static void ph_dict_put(ph_dict *D, const pv *k, const pv *e) {
    for (int i = 0; i < 3; i++)
        if (k->kind == PV_STR && k->str_ok && k->len == strlen(ph_keys[i]) &&
            !memcmp(k->s, ph_keys[i], k->len)) {
            D->val[i] = *e;
            D->have[i] = 1;
            return;
        }
    if (D->bad_key) return;
    D->bad_key = 1;
    if (k->kind == PV_STR && k->str_ok)
        snprintf(D->bad, sizeof D->bad, "'%.*s'", (int)k->len, k->s);
    else
        snprintf(D->bad, sizeof D->bad, "%s", k->kind == PV_STR ? "a string" : "a non-string");
}

/* Reads the elements of a list ('[' ... ']', closer ']') or of a set or dict after its
 * first element k ('{' k ..., closer '}'); D receives the entries of the top-level dict.
 * P->p is after the first element or the '['. */
static int ph_items(ph *P, pv *v, char closer, int is_dict, ph_dict *D) {
    pv k, e;
    for (int first = closer == '}';; first = 0) {
        if (!first) {
            if (npy_ph_skip(P) < 0) return -1;
            if (P->p < P->end && *P->p == closer) break;
            if (ph_expr(P, &k) < 0) return -1;
        } else {
            k = *v;
        }
        if (npy_ph_skip(P) < 0) return -1;
        if (is_dict) {
            if (P->p >= P->end || *P->p != ':')
                return npy_ph_fail(P, "expected ':' after a dict key");
            P->p++;
            if (ph_expr(P, &e) < 0 || npy_ph_skip(P) < 0) return -1;
            if (D) ph_dict_put(D, &k, &e);
        }
        if (closer == '}' && !k.hashable)
            return npy_ph_fail(P, "unhashable dict key or set element");
        if (P->p < P->end && *P->p == closer) break;
        if (P->p >= P->end || *P->p != ',')
            return npy_ph_fail(P, P->p >= P->end ? "the header ends inside the dict"
                                             : "expected ',' or '%c'", closer);
        P->p++;
    }
    P->p++;
    memset(v, 0, sizeof *v);
    v->kind = PV_OTHER;
    return 0;
}

/* Reads '{' ... '}' (P->p past the '{'): a dict, or a set; D as in ph_items. */
static int ph_brace(ph *P, pv *v, ph_dict *D) {
    if (npy_ph_skip(P) < 0) return -1;
    if (P->p < P->end && *P->p == '}') {
        P->p++;
        memset(v, 0, sizeof *v);
        v->kind = PV_OTHER;
        return 0;
    }
    if (ph_expr(P, v) < 0 || npy_ph_skip(P) < 0) return -1;
    int is_dict = P->p < P->end && *P->p == ':';
    if (D && !is_dict) return npy_ph_fail(P, "the header is a set, not a dict");
    return ph_items(P, v, '}', is_dict, D);
}

/* Reads an atom: a bracketed value, strings, a number, True/False/None. */
static int ph_atom(ph *P, pv *v) {
    if (npy_ph_skip(P) < 0) return -1;
    memset(v, 0, sizeof *v);
    if (P->p >= P->end) return npy_ph_fail(P, "the header ends inside the dict");
    char c = *P->p;
    if (c == '(' || c == '[' || c == '{') {
        if (++P->depth >= PH_MAX_DEPTH) return npy_ph_fail(P, "too many nested brackets");
        P->p++;
        int r = c == '(' ? ph_paren(P, v) : c == '[' ? ph_items(P, v, ']', 0, NULL)
                                                    : ph_brace(P, v, NULL);
        P->depth--;
        return r;
    }
    if (c == '\'' || c == '"') return npy_ph_strings(P, v);
    if (ph_digit(c) || (c == '.' && P->end - P->p > 1 && ph_digit(P->p[1])))
        return npy_ph_number(P, v);
    if (ph_ident0(c)) {
        const char *s = P->p;
        while (P->p < P->end && ph_ident(*P->p)) P->p++;
        size_t n = (size_t)(P->p - s);
        if (P->p < P->end && (*P->p == '\'' || *P->p == '"') && npy_ph_prefix(s, n)) {
            P->p = s;
            return npy_ph_strings(P, v);
        }
        v->konst = v->hashable = 1;
        if (n == 4 && !memcmp(s, "True", 4)) v->kind = PV_BOOL, v->i = 1;
        else if (n == 5 && !memcmp(s, "False", 5)) v->kind = PV_BOOL;
        else if (n == 4 && !memcmp(s, "None", 4)) v->kind = PV_NONE;
        else {
            P->p = s;
            return npy_ph_fail(P, "'%.*s' is not a literal", (int)(n > 40 ? 40 : n), s);
        }
        return 0;
    }
    if (c & 0x80) return npy_ph_fail(P, "a non-ASCII character outside a string");
    if (c >= 32 && c < 127) return npy_ph_fail(P, "unexpected '%c'", c);
    return npy_ph_fail(P, "unexpected byte 0x%02x", (unsigned char)c);
}

/* Reads a factor: an atom or a sign and a factor (literal_eval allows a sign only before
 * a bare number). */
static int ph_unary(ph *P, pv *v) {
    if (npy_ph_skip(P) < 0) return -1;
    if (P->p >= P->end || (*P->p != '+' && *P->p != '-')) return ph_atom(P, v);
    int neg = *P->p++ == '-';
    if (++P->depth >= PH_MAX_DEPTH) return npy_ph_fail(P, "too many nested signs");
    int r = ph_unary(P, v);
    P->depth--;
    if (r < 0) return -1;
    if (!v->konst || (v->kind != PV_INT && v->kind != PV_FLOAT && v->kind != PV_IMAG))
        return npy_ph_fail(P, "a sign may only precede a number");
    if (neg && v->kind == PV_INT && !v->big) v->i = -v->i;
    v->konst = 0;
    v->sign = 1;
    return 0;
}

/* Reads an expression: a factor, or real +/- imaginary (the one binary operation
 * literal_eval allows). */
static int ph_expr(ph *P, pv *v) {
    if (ph_unary(P, v) < 0) return -1;
    const char *save = P->p;
    if (npy_ph_skip(P) < 0) return -1;
    if (P->p >= P->end || (*P->p != '+' && *P->p != '-')) {
        P->p = save;
        return 0;
    }
    int real = (v->konst || v->sign) && (v->kind == PV_INT || v->kind == PV_FLOAT);
    P->p++;
    pv r;
    if (ph_unary(P, &r) < 0) return -1;
    if (!real || !r.konst || r.kind != PV_IMAG)
        return npy_ph_fail(P, "not a literal (only a real number +/- an imaginary one is)");
    memset(v, 0, sizeof *v);
    v->kind = PV_OTHER;
    v->hashable = 1;
    save = P->p;
    if (npy_ph_skip(P) < 0) return -1;
    if (P->p < P->end && (*P->p == '+' || *P->p == '-'))
        return npy_ph_fail(P, "not a literal (a chain of + and -)");
    P->p = save;
    return 0;
}

/* Skips spaces, tabs and form feeds at the start of a line; sets *blanks to their count
 * and returns the indentation Python's tokenizer sees (a '\f' resets it to 0). */
static int ph_blanks(ph *P, int *blanks) {
    int col = 0;
    for (*blanks = 0; P->p < P->end; P->p++, ++*blanks) {
        if (*P->p == ' ' || *P->p == '\t') col++;
        else if (*P->p == '\f') col = 0;
        else break;
    }
    return col;
}

/* Python's rules before the dict: literal_eval strips leading spaces and tabs; then blank
 * and comment lines may come ('\n', '\r' and "\r\n" end lines), and the '{' line must
 * not be indented ('\f' resets the count). Format 1.0/2.0 text first goes through numpy's
 * Python 2 filter (tokenize, untokenize), which splits lines only at '\n' and skips the
 * rest of one after a comment or a lone '\r' at its start (P->hidden); where it does
 * look, it turns the blanks before the dict into spaces: fine on the first line, an
 * indentation on a later one. */
static int ph_lead(ph *P) {
    int line = 0; /* '\n'-delimited */
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t')) P->p++;
    P->pl = P->s;
    for (;;) {
        int blanks, col = ph_blanks(P, &blanks);
        if (P->p < P->end && *P->p == '#') {
            npy_ph_comment(P);
            P->hidden = 1;
        }
        if (P->p >= P->end) return npy_ph_fail(P, "no dict (the header is blank)");
        if (*P->p != '\n' && *P->p != '\r') {
            int old = P->major <= 2 && !P->hidden;
            if (old ? line > 0 && blanks > 0 : col > 0)
                return npy_ph_fail(P, "the dict is indented");
            return 0;
        }
        if (*P->p == '\r' && (P->end - P->p < 2 || P->p[1] != '\n')) {
            P->hidden = 1;
            P->p++;
            continue;
        }
        npy_ph_newline(P);
        P->hidden = 0;
        P->pl = P->p;
        line++;
    }
}

/* Python's rules after the dict: the rest of its line and the lines after it may hold
 * only blanks and comments. A last line (no newline after it) of blanks is an unexpected
 * indentation for Python's tokenizer when it counts (spaces or tabs after the last '\f').
 * For 1.0/2.0, numpy's Python 2 filter drops such a line, unless it follows a lone '\r';
 * and if the dict was hidden from the filter (see ph_lead), the filter fails unless its
 * '\n'-delimited line ends with a '\n' or starts with a comment. */
static int ph_trail(ph *P) {
    int old = P->major <= 2 && !P->hidden;
    for (int first = 1, lone_cr = 0;; first = 0) {
        int blanks, col = ph_blanks(P, &blanks);
        int comment = P->p < P->end && *P->p == '#';
        if (comment) npy_ph_comment(P);
        if (P->p >= P->end) {
            int indent = !comment && (old ? lone_cr && blanks > 0 : col > 0);
            if (!first && indent)
                return npy_ph_fail(P, "a last line of blanks after the dict (an indentation)");
            if (P->major <= 2 && P->hidden) {
                const char *q = P->pl;
                while (q < P->end && npy_py_space(*q)) q++;
                if (*q != '#')
                    return npy_ph_fail(P, "numpy's Python 2 filter fails on a dict after a lone "
                                          "'\\r' on the last line");
            }
            return 0;
        }
        if (*P->p != '\n' && *P->p != '\r')
            return npy_ph_fail(P, "unexpected text after the dict");
        lone_cr = *P->p == '\r' && (P->end - P->p < 2 || P->p[1] != '\n');
        if (!lone_cr && P->hidden) { /* the filter looks again from the next line */
            P->hidden = 0;
            old = P->major <= 2;
        }
        npy_ph_newline(P);
    }
}

/* Checks the bytes of the header text: no NUL (Python refuses it), valid UTF-8 for
 * format 3.0, at most NPY_MAX_HEADER characters (numpy's limit). */
static int ph_text_ok(ph *P) {
    size_t len = (size_t)(P->end - P->s), chars = 0;
    const unsigned char *u = (const unsigned char *)P->s;
    if (memchr(P->s, 0, len)) return npy_ph_fail(P, "contains a NUL byte");
    for (size_t i = 0; i < len; chars++) {
        unsigned c = u[i];
        size_t n = P->major < 3 || c < 0x80    ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0; /* strict UTF-8, as Python decodes */
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        for (size_t k = 1; n > 1 && k < n; k++)
            if (i + k >= len || u[i + k] < (k == 1 ? lo : 0x80) ||
                u[i + k] > (k == 1 ? hi : 0xBF))
                n = 0;
        if (!n) {
            P->p = P->s + i;
            return npy_ph_fail(P, "invalid UTF-8 (format 3.0 headers are UTF-8)");
        }
        i += n;
    }
    if (chars > NPY_MAX_HEADER)
        return util_err("%s: %s: header of %zu characters exceeds numpy's limit of %d "
                        "(max_header_size)", P->fn, P->src, chars, NPY_MAX_HEADER);
    return 0;
}

/* numpy's checks of the dict's values, plus what jx cannot hold. */
static int ph_check(const ph *P, const ph_dict *D, npy_header *h) {
    const pv *d = &D->val[0], *f = &D->val[1], *s = &D->val[2];
    const char *fn = P->fn, *src = P->src;
    for (int i = 0; i < 3; i++)
        if (!D->have[i])
            return util_err("%s: %s: bad header: missing key '%s'", fn, src, ph_keys[i]);
    if (D->bad_key) return util_err("%s: %s: bad header: unexpected key %s", fn, src, D->bad);
    if (s->kind != PV_TUPLE || !s->all_int)
        return util_err("%s: %s: bad header: 'shape' must be a tuple of ints such as (2, 3) "
                        "or (3,) (a one-element tuple needs a trailing comma)%s", fn, src,
                        s->kind == PV_TUPLE ? ", found another value in the shape tuple" : "");
    if (f->kind != PV_BOOL)
        return util_err("%s: %s: bad header: 'fortran_order' must be True or False", fn, src);
    if (d->kind != PV_STR || !d->str_ok ||
        npy_descr_lookup(d->s, d->len, &h->dt, &h->big_endian) < 0) {
        if (d->kind == PV_STR && d->str_ok)
            return util_err("%s: %s: unsupported descr '%.*s' (jx reads numpy's float32, "
                            "float64, int32, uint32 and bool: '<f4', '<f8', '<i4', '<u4', "
                            "'|b1' and their other spellings)", fn, src, (int)d->len, d->s);
        return util_err("%s: %s: unsupported descr: %s", fn, src,
                        d->kind == PV_STR ? "a string that is no dtype jx reads"
                        : d->kind == PV_TUPLE || d->kind == PV_OTHER
                            ? "a structured or subarray dtype (jx reads f32, f64, i32, u32, bool)"
                            : "not a quoted string");
    }
    h->fortran = f->i != 0;
    if (s->n > JX_MAX_RANK)
        return util_err("%s: %s: bad shape: more than %d dimensions", fn, src, JX_MAX_RANK);
    h->rank = s->n;
    for (int i = 0; i < s->n; i++) {
        if (s->dims[i] < 0)
            return util_err("%s: %s: bad shape: negative dimension at axis %d", fn, src, i);
        h->shape[i] = s->dims[i];
    }
    if (s->any_big)
        return util_err("%s: %s: bad shape: a dimension is too large (over 2^63-1)", fn, src);
    return 0;
}

/* See npy.h. */
int npy_header_parse(const char *text, size_t len, int major, const char *fn,
                     const char *src, npy_header *h) {
    ph P = {text, text, text + len, major, 0, fn, src, 0, text};
    ph_dict D;
    pv top;
    memset(&D, 0, sizeof D);
    int parens = 0;
    if (ph_text_ok(&P) < 0 || ph_lead(&P) < 0) return -1;
    const char *start = P.p;
    while (*P.p == '(') { /* ((dict)) is the dict */
        P.p++;
        if (++parens >= PH_MAX_DEPTH) return npy_ph_fail(&P, "too many nested brackets");
        if (npy_ph_skip(&P) < 0) return -1;
        if (P.p >= P.end) return npy_ph_fail(&P, "the header ends inside parentheses");
    }
    if (*P.p != '{') return npy_ph_fail(&P, "expected '{' to start the header dict");
    P.p++;
    P.depth = parens + 1;
    if (ph_brace(&P, &top, &D) < 0) return -1;
    for (; parens > 0; parens--) {
        if (npy_ph_skip(&P) < 0) return -1;
        if (P.p >= P.end || *P.p != ')')
            return npy_ph_fail(&P, "the header is not a dict (expected ')' after it)");
        P.p++;
    }
    if (P.major <= 2 && P.hidden && memchr(start, '\n', (size_t)(P.p - start)))
        return npy_ph_fail(&P, "numpy's Python 2 filter cannot read a dict that starts after "
                               "a lone '\\r' or a comment and spans lines");
    if (ph_trail(&P) < 0) return -1;
    return ph_check(&P, &D, h);
}
