/* The token reader of the IR parser (text_lex.c), used by text_parse.c: positions and
 * error recording, whitespace, identifiers, integers, types, value spellings and location
 * comments. Every reader skips leading whitespace first; on failure it records the first
 * error as "line L, column C: message" in L->err and returns -1. */
#ifndef JX_TEXT_LEX_H
#define JX_TEXT_LEX_H

#include <string.h>

#include "text/text.h"

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

/* The reader state: the NUL-terminated text, the current position, the first error
 * (err[0] == 0 while none) and the file of the last location comment. */
typedef struct txt_lex {
    const char *src;
    txt_pos p;
    char err[1600];
    char *file;
    size_t file_cap;
} txt_lex;

/* Size of the buffer txt_what needs. */
#define TXT_WHAT_MAX 64

/* Starts reading src (which must outlive L) at line 1; txt_lex_free releases it. */
void txt_lex_init(txt_lex *L, const char *src);
void txt_lex_free(txt_lex *L);

/* Records the first error at position at ("line L, column C: ..."); returns -1. */
int txt_fail(txt_lex *L, const txt_pos *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records "out of memory" at the current position; returns -1. */
int txt_oom(txt_lex *L);

/* Grows *buf (elements of size sz) to hold at least need elements; -1 on OOM. */
int txt_grow(void **buf, size_t *cap, size_t need, size_t sz);

static inline int txt_is_ident0(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static inline int txt_is_digit(char c) { return c >= '0' && c <= '9'; }
static inline int txt_is_ident(char c) { return txt_is_ident0(c) || txt_is_digit(c); }
/* The character at the current position (NUL at the end). */
static inline char txt_peek(const txt_lex *L) { return L->src[L->p.off]; }
/* 1 if the slice equals the string lit. */
static inline int txt_is(txt_str a, const char *lit) {
    return a.len == strlen(lit) && memcmp(a.s, lit, a.len) == 0;
}

/* Skips spaces, tabs, carriage returns, newlines and whole-line '#' comments (a '#'
 * preceded on its line only by blanks). */
void txt_skip_ws(txt_lex *L);
/* Skips whitespace and returns the position reached. */
txt_pos txt_here(txt_lex *L);
/* Describes the token at the current position ("'abc'", "end of input", "byte 0x01")
 * for "got ..." messages, in buf (TXT_WHAT_MAX bytes); returns a string. */
const char *txt_what(const txt_lex *L, char *buf);

/* Consumes the character c or fails with "expected <what>, got ...". */
int txt_expect(txt_lex *L, char c, const char *what);
/* Reads an identifier ([a-z_][a-z0-9_]*) into *out; -1 without an error if none. */
int txt_ident(txt_lex *L, txt_str *out);
/* Reads the identifier word or fails with "expected 'word'" (position unchanged). */
int txt_keyword(txt_lex *L, const char *word);
/* Reads a decimal integer with an optional '-'; fails on overflow or no digits. */
int txt_int(txt_lex *L, int64_t *v);
/* Reads a type "dtype[d0,d1,...]" (known dtype, rank <= 8, dims >= 0, at most 2^62
 * elements). */
int txt_type(txt_lex *L, jx_type *t);

/* Reads the spelling of a value (an optional '-' then letters, digits, '.', and a sign
 * after an exponent 'e') without interpreting it. */
int txt_value_token(txt_lex *L, txt_str *out);
/* Converts the spelling tok (read at position at) to a value of dtype dt: integers in
 * range, true/false, decimal floats finite in the dtype, nan, inf, -inf. */
int txt_value(txt_lex *L, const txt_pos *at, txt_str tok, jx_dtype dt, double *v);
/* 1 if s spells a value (nan, inf, true, false) rather than a variable. */
int txt_is_lit_word(txt_str s);

/* Reads an optional location comment "# file:line" into *loc ({NULL, 0} if none); the
 * file name lives in L->file until the next comment. */
int txt_comment(txt_lex *L, jx_loc *loc);

#endif
