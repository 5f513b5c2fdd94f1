/* Internal to the .npy header reader: the literal values and the parser state shared by
 * the token reader (npy_lex.c: blanks, comments, strings, numbers) and the grammar of
 * values and the header dict (npy_header.c). */
#ifndef JX_NPY_LIT_H
#define JX_NPY_LIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/npy.h"

/* Longest string content kept (the keys and descrs that mean anything are shorter). */
#define PH_STR_CAP 64

/* Kinds of literal values. */
enum { PV_OTHER, PV_STR, PV_BYTES, PV_INT, PV_FLOAT, PV_IMAG, PV_BOOL, PV_NONE, PV_TUPLE };

/* A literal value, reduced to what the header checks need. */
typedef struct pv {
    int kind;
    int konst;    /* a bare literal token (parenthesized or not): a sign may apply to it */
    int sign;     /* a signed number (-3): may be the left side of real + imaginary */
    int hashable; /* may be a dict key or set element */
    /* PV_STR */
    int str_ok; /* content kept whole and ASCII */
    size_t len;
    char s[PH_STR_CAP];
    /* PV_INT (PV_BOOL: i is 0 or 1) */
    int64_t i;
    int big; /* magnitude over INT64_MAX */
    /* PV_TUPLE */
    int n, all_int, any_big;
    int64_t dims[JX_MAX_RANK];
} pv;

/* The parser state: the text, the position, the format major version, the nesting depth
 * and the names used in messages. */
typedef struct ph {
    const char *s, *p, *end;
    int major, depth;
    const char *fn, *src;
    /* Format 1.0/2.0: the dict starts where numpy's Python 2 filter does not look (after a
     * comment or a lone '\r' that starts a line, up to the next '\n'); pl is the start of
     * that '\n'-delimited line. */
    int hidden;
    const char *pl;
} ph;

static inline int ph_digit(char c) { return c >= '0' && c <= '9'; }
/* Python identifier characters (any non-ASCII byte counts: it is never valid outside a
 * string or comment, and a name is never a literal). */
static inline int ph_ident0(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c & 0x80);
}
static inline int ph_ident(char c) { return ph_ident0(c) || ph_digit(c); }

/* Sets "fn: src: bad header: <message> (at header offset N)"; returns -1. */
int npy_ph_fail(const ph *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Skips a comment up to (not over) the end of its line. */
void npy_ph_comment(ph *P);
/* Steps over a newline (\n, \r or \r\n) at the current position. */
void npy_ph_newline(ph *P);
/* Skips what separates tokens inside brackets: blanks, newlines, comments, backslash
 * continuations. Returns 1 if it crossed a newline or a comment, 0 if not, -1 (message
 * set) on a stray backslash. */
int npy_ph_skip(ph *P);
/* Reads adjacent string tokens (implicit concatenation), P->p at a prefix or a quote. */
int npy_ph_strings(ph *P, pv *v);
/* 1 if s[0..n) is a string prefix Python 3 accepts (any case): none, r, u, b, f, br, rb,
 * fr, rf. */
int npy_ph_prefix(const char *s, size_t n);
/* Reads a number (P->p at a digit or '.digit'): an int, a float or an imaginary. */
int npy_ph_number(ph *P, pv *v);

#endif
