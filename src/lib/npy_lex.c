/* The token reader of the .npy header (see npy_lit.h): blanks, comments and backslash
 * continuations inside brackets, Python string literals (prefixes, quotes, escapes,
 * implicit concatenation) and number literals (underscores, 0x/0o/0b, no leading zeros,
 * floats, imaginary, and the Python 2 'L' suffix numpy drops from format 1.0/2.0). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/npy_lit.h"
#include "core/util.h"

/* Sets "fn: src: bad header: <message> (at header offset N)"; returns -1. */
int npy_ph_fail(const ph *P, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return util_err("%s: %s: bad header: %s (at header offset %td)", P->fn, P->src, msg,
                    P->p - P->s);
}

/* Skips a comment up to (not over) the end of its line. */
void npy_ph_comment(ph *P) {
    while (P->p < P->end && *P->p != '\n' && *P->p != '\r') P->p++;
}

/* Steps over a newline (\n, \r or \r\n) at the current position. */
void npy_ph_newline(ph *P) {
    if (*P->p++ == '\r' && P->p < P->end && *P->p == '\n') P->p++;
}

/* Skips what separates tokens inside brackets: blanks, newlines, comments, backslash
 * continuations. Returns 1 if it crossed a newline or a comment (a Python NL or COMMENT
 * token), 0 if not, -1 on a stray backslash. */
int npy_ph_skip(ph *P) {
    int nl = 0;
    while (P->p < P->end) {
        char c = *P->p;
        if (c == ' ' || c == '\t' || c == '\f') {
            P->p++;
        } else if (c == '\n' || c == '\r') {
            npy_ph_newline(P);
            nl = 1;
        } else if (c == '#') {
            npy_ph_comment(P);
            nl = 1;
        } else if (c == '\\') {
            if (P->p + 1 >= P->end || (P->p[1] != '\n' && P->p[1] != '\r'))
                return npy_ph_fail(P, "a backslash outside a string must end its line");
            P->p++;
            npy_ph_newline(P);
        } else {
            break;
        }
    }
    return nl;
}


/* Appends byte c to a string value (content beyond the cap or non-ASCII spoils it). */
static void ph_put(pv *v, unsigned c) {
    if (c >= 0x80 || v->len + 1 >= PH_STR_CAP) v->str_ok = 0;
    else v->s[v->len++] = (char)c;
}

/* The value of hex digit c, or -1. */
static int ph_hexval(char c) {
    if (ph_digit(c)) return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads n hex digits (exactly) after an escape; -1 if they are not there. */
static long ph_hex(ph *P, int n) {
    long x = 0;
    for (int k = 0; k < n; k++, P->p++) {
        char c = P->p < P->end ? *P->p : 0;
        int d = ph_hexval(c);
        if (d < 0) return -1;
        x = x * 16 + d;
    }
    return x;
}

/* The printable ASCII character whose Unicode name is s[0..n) (any case, as Python's
 * \N{...}), or -1 (another character, an alias, or no such name). */
static int ph_char_name(const char *s, size_t n) {
    static const char *const punct[] = {
        " SPACE", "!EXCLAMATION MARK", "\"QUOTATION MARK", "#NUMBER SIGN", "$DOLLAR SIGN",
        "%PERCENT SIGN", "&AMPERSAND", "'APOSTROPHE", "(LEFT PARENTHESIS",
        ")RIGHT PARENTHESIS", "*ASTERISK", "+PLUS SIGN", ",COMMA", "-HYPHEN-MINUS",
        ".FULL STOP", "/SOLIDUS", ":COLON", ";SEMICOLON", "<LESS-THAN SIGN", "=EQUALS SIGN",
        ">GREATER-THAN SIGN", "?QUESTION MARK", "@COMMERCIAL AT", "[LEFT SQUARE BRACKET",
        "\\REVERSE SOLIDUS", "]RIGHT SQUARE BRACKET", "^CIRCUMFLEX ACCENT", "_LOW LINE",
        "`GRAVE ACCENT", "{LEFT CURLY BRACKET", "|VERTICAL LINE", "}RIGHT CURLY BRACKET",
        "~TILDE"};
    static const char *const digits[] = {"ZERO", "ONE", "TWO", "THREE", "FOUR",
                                         "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"};
    char u[48], name[48];
    if (n >= sizeof u) return -1;
    for (size_t i = 0; i < n; i++) u[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
    u[n] = 0;
    for (size_t i = 0; i < sizeof punct / sizeof *punct; i++)
        if (!strcmp(u, punct[i] + 1)) return (unsigned char)punct[i][0];
    for (int d = 0; d < 10; d++) {
        snprintf(name, sizeof name, "DIGIT %s", digits[d]);
        if (!strcmp(u, name)) return '0' + d;
    }
    for (int c = 0; c < 26; c++) {
        snprintf(name, sizeof name, "LATIN SMALL LETTER %c", 'A' + c);
        if (!strcmp(u, name)) return 'a' + c;
        snprintf(name, sizeof name, "LATIN CAPITAL LETTER %c", 'A' + c);
        if (!strcmp(u, name)) return 'A' + c;
    }
    return -1;
}

/* Reads the escape after a backslash (P->p past the backslash) in a non-raw string. */
static int ph_escape(ph *P, pv *v, int bytes) {
    char d = *P->p++;
    static const char simple[] = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
    for (const char *e = simple; *e; e += 2)
        if (d == e[0]) {
            ph_put(v, (unsigned char)e[1]);
            return 0;
        }
    if (d == '\n' || d == '\r') { /* a continuation inside the string */
        if (d == '\r' && P->p < P->end && *P->p == '\n') P->p++;
        return 0;
    }
    if (d >= '0' && d <= '7') {
        unsigned x = (unsigned)(d - '0');
        for (int k = 0; k < 2 && P->p < P->end && *P->p >= '0' && *P->p <= '7'; k++)
            x = x * 8 + (unsigned)(*P->p++ - '0');
        ph_put(v, x);
        return 0;
    }
    int n = d == 'x' ? 2 : bytes ? 0 : d == 'u' ? 4 : d == 'U' ? 8 : 0;
    if (n) {
        long x = ph_hex(P, n);
        if (x < 0 || x > 0x10FFFF) return npy_ph_fail(P, "malformed \\%c escape in a string", d);
        ph_put(v, (unsigned)x);
        return 0;
    }
    if (d == 'N' && !bytes) {
        const char *close = NULL;
        if (P->p < P->end && *P->p == '{') close = memchr(P->p, '}', (size_t)(P->end - P->p));
        if (!close || close == P->p + 1)
            return npy_ph_fail(P, "malformed \\N{...} escape in a string");
        int c = ph_char_name(P->p + 1, (size_t)(close - P->p - 1));
        P->p = close + 1;
        if (c >= 0) ph_put(v, (unsigned)c);
        else v->str_ok = 0; /* another character: never part of a key or descr */
        return 0;
    }
    ph_put(v, '\\'); /* an unknown escape keeps its backslash */
    ph_put(v, (unsigned char)d);
    return 0;
}

/* Reads one quoted string token (P->p at the quote) into v. */
static int ph_string_token(ph *P, pv *v, int raw, int bytes) {
    char q = *P->p;
    int triple = P->end - P->p >= 3 && P->p[1] == q && P->p[2] == q;
    P->p += triple ? 3 : 1;
    for (;;) {
        if (P->p >= P->end) return npy_ph_fail(P, "unterminated string");
        char c = *P->p;
        if (c == q && (!triple || (P->end - P->p >= 3 && P->p[1] == q && P->p[2] == q))) {
            P->p += triple ? 3 : 1;
            return 0;
        }
        if (!triple && (c == '\n' || c == '\r'))
            return npy_ph_fail(P, "unterminated string (a line break inside quotes)");
        P->p++;
        if (c != '\\') {
            ph_put(v, (unsigned char)c);
        } else if (P->p >= P->end) {
            return npy_ph_fail(P, "unterminated string");
        } else if (raw) {
            ph_put(v, '\\');
            ph_put(v, (unsigned char)*P->p++);
        } else if (ph_escape(P, v, bytes) < 0) {
            return -1;
        }
    }
}

/* 1 if s[0..n) is a string prefix Python 3 accepts (any case): none, r, u, b, f, br, rb,
 * fr, rf. */
int npy_ph_prefix(const char *s, size_t n) {
    char a = n > 0 ? (char)(s[0] | 0x20) : 0, b = n > 1 ? (char)(s[1] | 0x20) : 0;
    if (n == 0) return 1;
    if (n == 1) return a == 'r' || a == 'u' || a == 'b' || a == 'f';
    if (n == 2)
        return (a == 'r' && (b == 'b' || b == 'f')) || (b == 'r' && (a == 'b' || a == 'f'));
    return 0;
}

/* Reads adjacent string tokens (implicit concatenation), P->p at a prefix or quote. */
int npy_ph_strings(ph *P, pv *v) {
    int first = 1;
    v->kind = PV_STR;
    v->str_ok = v->konst = v->hashable = 1;
    for (;;) {
        const char *pre = P->p;
        while (P->p < P->end && ph_ident0(*P->p)) P->p++;
        int raw = 0, bytes = 0, fstr = 0;
        for (const char *c = pre; c < P->p; c++) {
            raw |= (*c | 0x20) == 'r';
            bytes |= (*c | 0x20) == 'b';
            fstr |= (*c | 0x20) == 'f';
        }
        if (fstr) return npy_ph_fail(P, "an f-string is not a literal");
        if (!first && bytes != (v->kind == PV_BYTES))
            return npy_ph_fail(P, "cannot mix bytes and str literals");
        if (bytes) v->kind = PV_BYTES;
        if (ph_string_token(P, v, raw, bytes) < 0) return -1;
        first = 0;
        const char *save = P->p;
        if (npy_ph_skip(P) < 0) return -1;
        const char *q = P->p;
        while (q < P->end && ph_ident(*q)) q++;
        int more = q < P->end && (*q == '\'' || *q == '"') &&
                   npy_ph_prefix(P->p, (size_t)(q - P->p));
        if (!more) {
            P->p = save;
            return 0;
        }
    }
}

/* Reads digits of base `base` with single underscores between them; -1 if none or a
 * misplaced underscore. Accumulates the value into *x (setting *big on overflow). */
static int ph_digits(ph *P, int base, int lead_us, uint64_t *x, int *big) {
    int n = 0;
    for (;;) {
        const char *at = P->p;
        if (P->p < P->end && *P->p == '_' && (n || lead_us)) P->p++;
        char c = P->p < P->end ? *P->p : 0;
        int d = ph_hexval(c) < 0 ? 99 : ph_hexval(c);
        if (d >= base) {
            if (P->p != at) return -1; /* an underscore not followed by a digit */
            return n ? 0 : -1;
        }
        P->p++;
        n++;
        if (*x > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) *big = 1;
        else *x = *x * (uint64_t)base + (uint64_t)d;
    }
}

/* After a number: Python 2's 'L' suffix (dropped in format 1.0/2.0, also after blanks,
 * as numpy's _filter_header does); then no letter or digit may follow directly. */
static int ph_number_end(ph *P) {
    const char *q = P->p;
    while (q < P->end && ph_ident(*q)) q++;
    if (q > P->p) {
        if (P->major > 2 || q != P->p + 1 || *P->p != 'L')
            return npy_ph_fail(P, "invalid number literal");
        P->p = q;
    }
    while (P->major <= 2) { /* NUMBER NAME(L): each L is dropped, blanks or not between */
        const char *save = P->p;
        while (P->p < P->end) {
            if (*P->p == ' ' || *P->p == '\t' || *P->p == '\f') {
                P->p++;
            } else if (*P->p == '\\' && P->end - P->p > 1 &&
                       (P->p[1] == '\n' || P->p[1] == '\r')) {
                P->p++;
                npy_ph_newline(P);
            } else {
                break;
            }
        }
        for (q = P->p; q < P->end && ph_ident(*q); q++) {}
        if (q != P->p + 1 || *P->p != 'L') {
            P->p = save;
            break;
        }
        P->p = q;
    }
    return 0;
}

/* Reads a number: int (decimal without leading zeros, 0x, 0o, 0b), float or imaginary. */
int npy_ph_number(ph *P, pv *v) {
    const char *s = P->p;
    uint64_t x = 0, junk = 0;
    int big = 0, fl = 0, r = 0;
    int decimal = !(*s == '0' && P->end - s > 1 && strchr("xXoObB", s[1]));
    v->konst = v->hashable = 1;
    if (!decimal) {
        int base = (s[1] | 0x20) == 'x' ? 16 : (s[1] | 0x20) == 'o' ? 8 : 2;
        P->p += 2;
        r = ph_digits(P, base, 1, &x, &big);
    } else {
        if (*s != '.') r = ph_digits(P, 10, 0, &x, &big);
        if (r == 0 && P->p < P->end && *P->p == '.') {
            fl = 1;
            P->p++;
            if (P->p < P->end && ph_digit(*P->p)) r = ph_digits(P, 10, 0, &junk, &big);
        }
        if (r == 0 && P->p < P->end && (*P->p | 0x20) == 'e') {
            fl = 1;
            P->p++;
            if (P->p < P->end && (*P->p == '+' || *P->p == '-')) P->p++;
            r = ph_digits(P, 10, 0, &junk, &big);
        }
    }
    if (r < 0) return npy_ph_fail(P, "invalid number literal");
    if (P->p < P->end && (*P->p | 0x20) == 'j') {
        P->p++;
        v->kind = PV_IMAG;
    } else if (fl) {
        v->kind = PV_FLOAT;
    } else {
        if (decimal && *s == '0' && x != 0)
            return npy_ph_fail(P, "leading zeros in an int (write 3, not 03)");
        v->kind = PV_INT;
        v->big = big || x > (uint64_t)INT64_MAX;
        v->i = v->big ? INT64_MAX : (int64_t)x;
    }
    return ph_number_end(P);
}
