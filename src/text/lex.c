/* The token reader of the IR parser: see text_lex.h. It knows the spelling of tokens
 * (identifiers, integers, types, values, location comments) but nothing of the grammar
 * of functions and equations, which lives in text_parse.c. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/lex.h"
#include "core/util.h"

/* Starts reading src at its first byte, line 1, with no error. */
void txt_lex_init(txt_lex *L, const char *src) {
    memset(L, 0, sizeof *L);
    L->src = src;
    L->p.line = 1;
}

/* Frees the location comment buffer (L itself belongs to the caller). */
void txt_lex_free(txt_lex *L) {
    free(L->file);
    L->file = NULL;
    L->file_cap = 0;
}

/* Records the first error at position at; later errors are dropped. Returns -1. */
int txt_fail(txt_lex *L, const txt_pos *at, const char *fmt, ...) {
    if (L->err[0]) return -1;
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, sizeof L->err, "line %ld, column %ld: %s", at->line,
             (long)(at->off - at->bol + 1), msg);
    return -1;
}

/* Records "out of memory" at the current position. */
int txt_oom(txt_lex *L) { return txt_fail(L, &L->p, "out of memory"); }

/* Doubles *cap (from 16) until it holds need elements of size sz; -1 on OOM/overflow. */
int txt_grow(void **buf, size_t *cap, size_t need, size_t sz) {
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

/* 1 if only blanks (space, tab, CR) precede the current position on its line. */
static int txt_at_line_start(const txt_lex *L) {
    size_t k = L->p.off;
    for (char c; k > L->p.bol && ((c = L->src[k - 1]) == ' ' || c == '\t' || c == '\r');) k--;
    return k == L->p.bol;
}

/* Skips whitespace and whole-line comments (a '#' preceded on its line only by blanks,
 * up to the end of the line), counting lines. A '#' after a token on the same line is
 * left for txt_comment (a location) or for the caller to report. */
void txt_skip_ws(txt_lex *L) {
    for (;;) {
        char c = L->src[L->p.off];
        if (c == '\n') {
            L->p.off++;
            L->p.line++;
            L->p.bol = L->p.off;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            L->p.off++;
        } else if (c == '#' && txt_at_line_start(L)) {
            L->p.off += strcspn(L->src + L->p.off, "\n");
        } else {
            return;
        }
    }
}

/* Skips whitespace; returns the position reached. */
txt_pos txt_here(txt_lex *L) {
    txt_skip_ws(L);
    return L->p;
}

/* Describes the token at the current position: a word (cut at 40 characters), a
 * printable character, a byte value or the end of input. */
const char *txt_what(const txt_lex *L, char *buf) {
    const char *s = L->src + L->p.off;
    unsigned char c = (unsigned char)*s;
    if (!c) return "end of input";
    if (txt_is_ident0((char)c) || txt_is_digit((char)c) || c == '-') {
        size_t n = 1;
        while (n < 41 && (txt_is_ident(s[n]) || s[n] == '.')) n++;
        snprintf(buf, TXT_WHAT_MAX, "'%.*s%s'", (int)(n > 40 ? 40 : n), s, n > 40 ? "..." : "");
    } else if (c == '#') {
        return "'#' (a comment must start its own line; after an equation on the same "
               "line only a '# file:line' location may follow)";
    } else if (c >= 32 && c < 127) {
        snprintf(buf, TXT_WHAT_MAX, "'%c'", c);
    } else {
        snprintf(buf, TXT_WHAT_MAX, "byte 0x%02x", c);
    }
    return buf;
}

/* Consumes c after whitespace, or fails naming what was expected and what was found. */
int txt_expect(txt_lex *L, char c, const char *what) {
    txt_skip_ws(L);
    if (txt_peek(L) == c) {
        L->p.off++;
        return 0;
    }
    char b[TXT_WHAT_MAX];
    return txt_fail(L, &L->p, "expected %s, got %s", what, txt_what(L, b));
}

/* Reads an identifier after whitespace; -1 (no error recorded) if there is none. */
int txt_ident(txt_lex *L, txt_str *out) {
    txt_skip_ws(L);
    const char *s = L->src + L->p.off;
    if (!txt_is_ident0(*s)) return -1;
    size_t n = 1;
    while (txt_is_ident(s[n])) n++;
    out->s = s;
    out->len = n;
    L->p.off += n;
    return 0;
}

/* Reads the identifier word; on mismatch restores the position and fails. */
int txt_keyword(txt_lex *L, const char *word) {
    txt_str id;
    txt_pos at = txt_here(L);
    if (txt_ident(L, &id) == 0 && txt_is(id, word)) return 0;
    L->p = at;
    char b[TXT_WHAT_MAX];
    return txt_fail(L, &at, "expected '%s', got %s", word, txt_what(L, b));
}

/* Reads [-]digits into *v, rejecting overflow of int64 and trailing letters or '.'. */
int txt_int(txt_lex *L, int64_t *v) {
    txt_pos at = txt_here(L);
    const char *s = L->src + L->p.off;
    int neg = *s == '-';
    size_t n = (size_t)neg;
    if (!txt_is_digit(s[n])) {
        char b[TXT_WHAT_MAX];
        return txt_fail(L, &at, "expected an integer, got %s", txt_what(L, b));
    }
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int over = 0;
    for (; txt_is_digit(s[n]); n++) {
        uint64_t d = (uint64_t)(s[n] - '0');
        if (acc > (lim - d) / 10) over = 1;
        else acc = acc * 10 + d;
    }
    if (over || txt_is_ident(s[n]) || s[n] == '.')
        return txt_fail(L, &at, over ? "integer out of range" : "malformed integer");
    L->p.off += n;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* Reads "dtype[d0,...]" into *t, checking the dtype name, rank, signs and total size. */
int txt_type(txt_lex *L, jx_type *t) {
    txt_str id;
    txt_pos at = txt_here(L);
    char b[TXT_WHAT_MAX];
    if (txt_ident(L, &id) < 0)
        return txt_fail(L, &at, "expected a dtype, got %s", txt_what(L, b));
    int dt = 0;
    while (dt < JX_NDTYPES && !txt_is(id, jx_dtype_name((jx_dtype)dt))) dt++;
    if (dt == JX_NDTYPES)
        return txt_fail(L, &at, "unknown dtype '%.*s'", (int)(id.len > 40 ? 40 : id.len), id.s);
    memset(t, 0, sizeof *t);
    t->dtype = (jx_dtype)dt;
    if (txt_expect(L, '[', "'[' after the dtype") < 0) return -1;
    txt_skip_ws(L);
    if (txt_peek(L) == ']') {
        L->p.off++;
        return 0;
    }
    for (;;) {
        txt_pos dp = txt_here(L);
        int64_t d;
        if (txt_int(L, &d) < 0) return -1;
        if (d < 0) return txt_fail(L, &dp, "negative dimension %lld", (long long)d);
        if (t->rank == JX_MAX_RANK)
            return txt_fail(L, &dp, "rank exceeds the maximum of %d", JX_MAX_RANK);
        t->shape[t->rank++] = d;
        if (util_numel(t->rank, t->shape) < 0)
            return txt_fail(L, &dp, "shape too large (more than 2^62 elements)");
        txt_skip_ws(L);
        if (txt_peek(L) == ']') {
            L->p.off++;
            return 0;
        }
        if (txt_expect(L, ',', "',' or ']' in the shape") < 0) return -1;
    }
}

/* Reads a value's spelling: [-] then identifier characters and '.', plus a sign right
 * after an 'e'/'E' when the token starts with a digit (an exponent). */
int txt_value_token(txt_lex *L, txt_str *out) {
    txt_skip_ws(L);
    const char *s = L->src + L->p.off;
    size_t n = *s == '-';
    if (!txt_is_ident(s[n])) {
        char b[TXT_WHAT_MAX];
        return txt_fail(L, &L->p, "expected a value, got %s", txt_what(L, b));
    }
    while (txt_is_ident(s[n]) || s[n] == '.' ||
           ((s[n] == '-' || s[n] == '+') && (s[n - 1] == 'e' || s[n - 1] == 'E') &&
            txt_is_digit(s[0] == '-' ? s[1] : s[0])))
        n++;
    out->s = s;
    out->len = n;
    L->p.off += n;
    return 0;
}

/* Interprets tok as a value of dt (see text_lex.h); errors name the dtype and the text. */
int txt_value(txt_lex *L, const txt_pos *at, txt_str tok, jx_dtype dt, double *v) {
    char buf[80];
    const char *name = jx_dtype_name(dt);
    int shown = (int)(tok.len > 40 ? 40 : tok.len);
    if (tok.len >= sizeof buf)
        return txt_fail(L, at, "bad %s value '%.*s...' (too long)", name, shown, tok.s);
    memcpy(buf, tok.s, tok.len);
    buf[tok.len] = 0;
    if (dt == JX_BOOL) {
        if (!strcmp(buf, "true") || !strcmp(buf, "false")) {
            *v = buf[0] == 't';
            return 0;
        }
        return txt_fail(L, at, "bad bool value '%s' (expected true or false)", buf);
    }
    const char *d = buf + (buf[0] == '-');
    if (dt == JX_I32 || dt == JX_U32) {
        size_t k = 0;
        while (txt_is_digit(d[k])) k++;
        if (k == 0 || d[k]) return txt_fail(L, at, "bad %s value '%s'", name, buf);
        errno = 0;
        long long x = strtoll(buf, NULL, 10);
        long long lo = dt == JX_I32 ? INT32_MIN : 0, hi = dt == JX_I32 ? INT32_MAX : UINT32_MAX;
        if (errno == ERANGE || x < lo || x > hi)
            return txt_fail(L, at, "%s value '%s' out of range", name, buf);
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
        return txt_fail(L, at, "bad %s value '%s'", name, buf);
    char *end;
    double x = dt == JX_F32 ? (double)strtof(buf, &end) : strtod(buf, &end);
    if (*end || end == buf) return txt_fail(L, at, "bad %s value '%s'", name, buf);
    if (isinf(x)) return txt_fail(L, at, "%s value '%s' out of range", name, buf);
    *v = x;
    return 0;
}

/* The words that spell values. */
int txt_is_lit_word(txt_str s) {
    return txt_is(s, "nan") || txt_is(s, "inf") || txt_is(s, "true") || txt_is(s, "false");
}

/* Reads "# file:line" up to the end of the line: the file is everything before the last
 * ':' (so it may hold colons and spaces), the line a decimal int. */
int txt_comment(txt_lex *L, jx_loc *loc) {
    *loc = (jx_loc){NULL, 0};
    txt_skip_ws(L);
    if (txt_peek(L) != '#') return 0;
    txt_pos at = L->p;
    const char *s = L->src + L->p.off + 1;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strcspn(s, "\n");
    L->p.off = (size_t)(s + n - L->src);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    size_t colon = n;
    while (colon > 0 && s[colon - 1] != ':') colon--;
    if (colon == 0 || colon == n)
        return txt_fail(L, &at, "bad location comment (expected '# file:line')");
    long line = 0;
    for (size_t k = colon; k < n; k++) {
        if (!txt_is_digit(s[k]) || line > (INT_MAX - 9) / 10)
            return txt_fail(L, &at, "bad line number in location comment");
        line = line * 10 + (s[k] - '0');
    }
    if (txt_grow((void **)&L->file, &L->file_cap, colon, 1) < 0) return txt_oom(L);
    memcpy(L->file, s, colon - 1);
    L->file[colon - 1] = 0;
    *loc = (jx_loc){L->file, (int)line};
    return 0;
}
