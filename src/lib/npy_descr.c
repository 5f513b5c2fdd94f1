/* numpy dtype strings ("descr") for the five jx dtypes, read the way numpy.dtype(str)
 * reads them (numpy 1.24, checked against it by tests/t_npy.c):
 *   - an optional byte order '<' '>' '=' '|' ('|' and '=' mean native; '<' and '>' also
 *     pick native/non-native), then a one-letter code ('f' 'd' 'i' 'I' '?', or a control
 *     character holding numpy's type number, as '\x0b' for float32) or a kind
 *     letter and an item size read with C strtol ('f4', 'f8', 'i4', 'u4', 'b1', and
 *     also 'f04', 'f 4', 'f+4', as numpy takes them);
 *   - without a byte order, a type name ('float32', 'single', 'float', 'double', 'int32',
 *     'intc', 'uint32', 'uintc', 'bool', 'bool_', and numpy 1.x's 'float_', 'bool8');
 *   - numpy's comma-string form with a single field: 'f4,', '<f4 , ', '()f4', '=()<f4,'.
 * Everything else numpy accepts (other kinds and sizes, structured and subarray dtypes)
 * is a dtype jx does not have, and is refused like a spelling numpy refuses. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "lib/npy.h"

/* numpy's byte-order characters. */
static int descr_is_order(char c) { return c == '<' || c == '>' || c == '|' || c == '='; }
static int descr_is_digit(char c) { return c >= '0' && c <= '9'; }
/* What C isspace() accepts in the C locale (numpy's strtol skips these). */
static int descr_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The dtype of a one-character type code, or -1: a letter, or (numpy takes these too)
 * the character whose value is numpy's type number (NPY_BOOL 0, NPY_INT 5, NPY_UINT 6,
 * NPY_LONG 7, NPY_ULONG 8, NPY_FLOAT 11, NPY_DOUBLE 12). C long ('l', 'L', 7, 8) is
 * 32-bit only where long is. */
static int descr_code(char c) {
    switch (c) {
    case 0: return JX_BOOL;
    case 5: return JX_I32;
    case 6: return JX_U32;
    case 7: return sizeof(long) == 4 ? JX_I32 : -1;
    case 8: return sizeof(long) == 4 ? JX_U32 : -1;
    case 11: return JX_F32;
    case 12: return JX_F64;
    case 'f': return JX_F32;
    case 'd': return JX_F64;
    case 'i': return JX_I32;
    case 'I': return JX_U32;
    case '?': return JX_BOOL;
    case 'l': return sizeof(long) == 4 ? JX_I32 : -1;
    case 'L': return sizeof(long) == 4 ? JX_U32 : -1;
    default: return -1;
    }
}

/* The dtype of kind letter + item size (numpy truncates the size to a C int), or -1. */
static int descr_kind(char kind, uint32_t size) {
    if (kind == 'f' && size == 4) return JX_F32;
    if (kind == 'f' && size == 8) return JX_F64;
    if (kind == 'i' && size == 4) return JX_I32;
    if (kind == 'u' && size == 4) return JX_U32;
    if (kind == 'b' && size == 1) return JX_BOOL;
    return -1;
}

/* The type names numpy.sctypeDict maps to the jx dtypes (exact match, no byte order). */
static int descr_name(const char *s, size_t n) {
    static const struct {
        const char *name;
        jx_dtype dt;
    } names[] = {
        {"float32", JX_F32}, {"single", JX_F32}, {"float64", JX_F64}, {"double", JX_F64},
        {"float", JX_F64},   {"float_", JX_F64}, {"int32", JX_I32},   {"intc", JX_I32},
        {"uint32", JX_U32},  {"uintc", JX_U32},  {"bool", JX_BOOL},   {"bool_", JX_BOOL},
        {"bool8", JX_BOOL},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i].name) == n && !memcmp(names[i].name, s, n)) return (int)names[i].dt;
    return -1;
}

/* numpy's strtol of an item size over exactly [p, end): C spaces, a sign, decimal
 * digits (saturating like strtol), the low 32 bits of the result (numpy's cast to int).
 * Returns 0, or -1 if the text is not exactly that. */
static int descr_size(const char *p, const char *end, uint32_t *size) {
    while (p < end && descr_c_space(*p)) p++;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
    if (p == end || !descr_is_digit(*p)) return -1;
    unsigned long v = 0;
    int sat = 0;
    for (; p < end && descr_is_digit(*p); p++) {
        unsigned long d = (unsigned long)(*p - '0');
        if (v > ((unsigned long)LONG_MAX - d) / 10) sat = 1;
        else v = v * 10 + d;
    }
    if (p != end) return -1;
    if (sat) v = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
    *size = (uint32_t)(neg ? 0 - v : v);
    return 0;
}

/* numpy's _check_for_commastring: a leading digit, a leading "()", or a comma outside
 * square brackets sends the string to the comma-string parser. */
static int descr_is_comma(const char *s, size_t n) {
    if (descr_is_digit(s[0]) || (n > 1 && descr_is_order(s[0]) && descr_is_digit(s[1])))
        return 1;
    if ((n > 1 && s[0] == '(' && s[1] == ')') ||
        (n > 3 && descr_is_order(s[0]) && s[1] == '(' && s[2] == ')'))
        return 1;
    int sq = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',' && sq == 0) return 1;
        sq += (s[i] == '[') - (s[i] == ']');
    }
    return 0;
}

static int descr_plain(const char *s, size_t n, int comma_ok, jx_dtype *dt, int *big);

/* 1 if the repeat count text [p, end) of a comma-string field evaluates to () (only
 * spaces around and inside a pair of parentheses); anything else is a subarray shape,
 * a deprecated '1type' or a syntax error. */
static int descr_empty_repeat(const char *p, const char *end) {
    while (p < end && *p == ' ') p++;
    if (p == end || *p++ != '(') return 0;
    while (p < end && *p == ' ') p++;
    if (p == end || *p++ != ')') return 0;
    while (p < end && *p == ' ') p++;
    return p == end;
}

/* numpy's _commastring for a single field: [order] [repeat] [order] name, then blanks or
 * one separating comma. Two or more fields make a structured dtype (refused). */
static int descr_comma(const char *s, size_t n, jx_dtype *dt, int *big) {
    const char *p = s, *end = s + n, *r0, *r1, *d0;
    char o1 = 0, o2 = 0;
    if (p < end && descr_is_order(*p)) o1 = *p++;
    r0 = p;
    while (p < end && *p == ' ') p++;
    if (p < end && *p == '(') p++;
    while (p < end && (*p == ' ' || *p == ',' || descr_is_digit(*p))) p++;
    if (p < end && *p == ')') p++;
    while (p < end && *p == ' ') p++;
    r1 = p;
    if (p < end && descr_is_order(*p)) o2 = *p++;
    d0 = p;
    while (p < end && (descr_is_digit(*p) || (*p >= 'a' && *p <= 'z') ||
                       (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '?'))
        p++;
    size_t dn = (size_t)(p - d0);
    const char *q = p;
    while (q < end && npy_py_space(*q)) q++;
    if (q < end) { /* not just padding: a separator, then nothing (one field) */
        if (*q != ',') return -1;
        for (q++; q < end && npy_py_space(*q); q++) {}
        if (q < end) return -1;
    }
    if (r1 > r0 && !descr_empty_repeat(r0, r1)) return -1;
    char native = npy_host_le() ? '<' : '>', o = o1 ? o1 : o2;
    if (o1 && o2) {
        char m1 = o1 == '=' ? native : o1, m2 = o2 == '=' ? native : o2;
        if (m1 != m2) return -1;
        o = m1;
    }
    if (o == '|' || o == '=' || o == native) o = 0;
    char item[64];
    if (dn + 2 > sizeof item) return -1;
    size_t k = 0;
    if (o) item[k++] = o;
    memcpy(item + k, d0, dn);
    return descr_plain(item, k + dn, 0, dt, big);
}

/* numpy's _convert_from_str on s[0..n) (see the top of this file). */
static int descr_plain(const char *s, size_t n, int comma_ok, jx_dtype *dt, int *big) {
    if (n == 0) return -1;
    if (descr_is_comma(s, n)) return comma_ok ? descr_comma(s, n, dt, big) : -1;
    const char *p = s, *end = s + n;
    char order = '=';
    if (descr_is_order(*p)) order = *p++ == '|' ? '=' : p[-1];
    if (p == end) return -1;
    int d = -1;
    uint32_t size;
    if (end - p == 1) d = descr_code(*p);
    else if (descr_size(p + 1, end, &size) == 0) d = descr_kind(*p, size);
    if (d < 0 && p == s) d = descr_name(s, n);
    if (d < 0) return -1;
    *dt = (jx_dtype)d;
    *big = d != JX_BOOL && (order == '>' || (order == '=' && !npy_host_le()));
    return 0;
}

/* See npy.h. */
int npy_descr_lookup(const char *s, size_t n, jx_dtype *dt, int *big) {
    return descr_plain(s, n, 1, dt, big);
}
