/* The IR text form on bad input: malformed texts fail with line and column, shape
 * rule errors pass through, very long tokens, and truncations and mutations never crash. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "core/ir.h"

#define F32(...) JX_TYPE(JX_F32, __VA_ARGS__)
#define U32(...) JX_TYPE(JX_U32, __VA_ARGS__)
#define BOOL(...) JX_TYPE(JX_BOOL, __VA_ARGS__)

/* ---- helpers ----------------------------------------------------------------------- */


/* ---- malformed texts ----------------------------------------------------------------- */

#define HDR "{ lambda ; a:f32[2] b:f32[3]. let\n"

static const struct {
    const char *text, *want;
} tx_bad[] = {
    {"", "expected '{'"},
    {"{ lambda ; a:f32[2]. let\n  in (a)", "line 2, column 9: expected '}', got end of input"},
    {"{ lambda ; a:f32[2", "end of input"},
    {"{ lambda ; a:f32[2]. let\n    c:f32[2] = neg", "end of input"},
    {HDR "    c:f32[2] = foo a\n  in (c) }", "line 2, column 16: unknown primitive 'foo'"},
    {HDR "    c:f32[2] = neg q\n  in (c) }", "line 2, column 20: undefined variable 'q'"},
    {HDR "    a:f32[2] = neg a\n  in (a) }", "redefined variable 'a'"},
    {"{ lambda ; a:f32[2] a:f32[2]. let\n  in (a) }", "redefined variable 'a'"},
    {HDR "    c:f32[2] = neg a\n    c:f32[2] = neg a\n  in (c) }", "line 3, column 5: redefined"},
    {HDR "  in (z) }", "undefined variable 'z'"},
    {"{ lambda ; a:f16[2]. let\n  in (a) }", "unknown dtype 'f16'"},
    {HDR "    c:f32[] = reduce_sum[axis=(0)] a\n  in (c) }", "expected attribute 'axes'"},
    {HDR "    c:f32[] = reduce_sum a\n  in (c) }", "expected '[' and the attributes"},
    {HDR "    c:f32[2] = add[x=(1)] a a\n  in (c) }", "takes no attributes"},
    {HDR "    c:f32[2] = constant[value=[1.0,2.0,3.0]]\n  in (c) }", "too many values"},
    {HDR "    c:f32[2] = constant[value=[1.0]]\n  in (c) }", "too few values"},
    {HDR "    c:f32[2] = constant[values=[1.0]]\n  in (c) }", "expected 'value'"},
    {HDR "    c:f32[2] = transpose[permutation=(0,1,2,3,4,5,6,7,8)] a\n  in (c) }",
     "too many values in attribute 'permutation'"},
    {"{ lambda ; a:f32[1,1,1,1,1,1,1,1,1]. let\n  in (a) }", "rank exceeds"},
    {"{ lambda ; a:f32[99999999999999999999]. let\n  in (a) }", "integer out of range"},
    {"{ lambda ; a:f32[4294967296,4294967296]. let\n  in (a) }", "shape too large"},
    {"{ lambda ; a:f32[-1]. let\n  in (a) }", "negative dimension"},
    {HDR "  in (1e999:f32[]) }", "out of range"},
    {HDR "  in (3000000000:i32[]) }", "i32 value '3000000000' out of range"},
    {HDR "  in (-1:u32[]) }", "out of range"},
    {HDR "  in (1.5:i32[]) }", "bad i32 value '1.5'"},
    {HDR "  in (2:bool[]) }", "bad bool value"},
    {HDR "  in (nan:i32[]) }", "bad i32 value"},
    {HDR "  in (-nan:f32[]) }", "bad f32 value"},
    {HDR "  in (0x10:f32[]) }", "bad f32 value"},
    {HDR "  in (1.0:f32[2]) }", "scalar type"},
    {HDR "    c:f32[3] = add a a\n  in (c) }", "line 2, column 7: declared type f32[3]"},
    {HDR "    c:f32[2] = add a b\n  in (c) }", "line 2, column 16: "},
    {HDR "    c:f32[2] = neg a b\n  in (c) }", "neg takes 1 operand, got 2"},
    {HDR "    c:f32[2] = concatenate[dimension=(0)]\n  in (c) }", "at least 1 operand"},
    {HDR "    c:i32[3] = iota[dimension=(1)]\n  in (c) }", "out of range"},
    {HDR "    c:f32[2] = neg a    # nofileline\n  in (c) }", "bad location comment"},
    {HDR "    c:f32[2] neg a\n  in (c) }", "expected '='"},
    {HDR "    c:f32[2] = neg a\n  in (c) } extra", "unexpected 'extra' after '}'"},
    {HDR "  in a }", "expected '(' and the outputs after 'in', got 'a'"},
    {HDR "  in (a, b }", "expected ',' or ')'"},
    {HDR "  @", "got '@'"},
    {"{ lambda ; :f32[2]. let\n  in () }", "expected an input"},
    {"{ lambda ; a:f32[2] let\n  in () }", "column 21: expected an input 'name:type' or '.', got 'let'"},
    {HDR "    c:f32[] = iota[dimension=(99999999999999999999)]\n  in (c) }",
     "integer out of range"},
    {"{ lambda ; a:f32[2]. let\n    \x01", "byte 0x01"},
    {HDR "    c:f32[2] = neg a    # f.c:99999999999\n  in (c) }", "bad line number"},
};

TEST(malformed_texts_fail_with_line_and_column) {
    for (size_t i = 0; i < sizeof tx_bad / sizeof *tx_bad; i++) {
        jx_clear_error();
        jx_fn *f = jx_fn_parse(tx_bad[i].text);
        if (f) {
            CHECK_FAIL_("case %zu parsed:\n%s", i, tx_bad[i].text);
            jx_fn_free(f);
            continue;
        }
        if (strncmp(jx_error(), "line ", 5) || !strstr(jx_error(), tx_bad[i].want))
            CHECK_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, jx_error(), tx_bad[i].want);
    }
    CHECK(sizeof tx_bad / sizeof *tx_bad >= 25);
}

TEST(shape_rule_errors_pass_through) {
    jx_fn *f = jx_fn_parse(HDR "    c:f32[2] = add a b    # model.c:9\n  in (c) }");
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "line 2, column 16: model.c:9: add");
    CHECK_CONTAINS(jx_error(), "f32[3]");
}

TEST(very_long_identifiers_and_numbers) {
    size_t n = 100000;
    char *text = malloc(n + 200);
    strcpy(text, HDR "    c:f32[2] = neg ");
    size_t k = strlen(text);
    memset(text + k, 'q', n);
    strcpy(text + k + n, "\n  in (c) }");
    jx_fn *f = jx_fn_parse(text);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "undefined variable 'qqqq");
    CHECK(strlen(jx_error()) < 200);
    memset(text + k - 4, 'p', n); /* a very long primitive name */
    f = jx_fn_parse(text);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "unknown primitive 'pppp");
    strcpy(text, HDR "  in (");
    k = strlen(text);
    memset(text + k, '7', n);
    strcpy(text + k + n, ".0:f32[]) }");
    f = jx_fn_parse(text);
    CHECK(f == NULL);
    CHECK_CONTAINS(jx_error(), "too long");
    free(text);
    CHECK(jx_fn_parse(NULL) == NULL);
}

/* Every prefix and many one-byte mutations of a valid text: no crash or leak; anything
 * that parses prints to a fixed point. */
TEST(truncations_and_mutations_never_crash) {
    const char *text =
        "{ lambda ; a:f32[2,3] b:f32[3]. let\n"
        "    c:f32[2,3] = broadcast_in_dim[shape=(2,3) broadcast_dimensions=(1)] b    # g.c:1\n"
        "    d:f32[2,3] = add a c    # g.c:2\n"
        "    e:f32[2,2] = constant[value=[1.0,nan,-inf,3e-07]]\n"
        "    f:f32[2] = reduce_sum[axes=(1)] d    # g.c:3\n"
        "    g:f32[] = mul 0.5:f32[] -2.0:f32[]\n"
        "  in (f, g, e, true:bool[]) }\n";
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    int parsed = 0;
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(buf, text, cut);
        buf[cut] = 0;
        jx_fn *f = jx_fn_parse(buf);
        if (f) {
            CHECK(cut >= len - 1); /* only the final newline may go */
            jx_fn_free(f);
        } else if (strncmp(jx_error(), "line ", 5)) {
            CHECK_FAIL_("prefix %zu: %s", cut, jx_error());
        }
    }
    const char subs[] = " x0[:\n-9,(.#]";
    for (size_t i = 0; i < len; i++) {
        for (const char *c = subs; *c; c++) {
            memcpy(buf, text, len + 1);
            buf[i] = *c;
            jx_fn *f = jx_fn_parse(buf);
            if (!f) {
                if (strncmp(jx_error(), "line ", 5)) CHECK_FAIL_("mutation: %s", jx_error());
                continue;
            }
            parsed++;
            char *s1 = jx_fn_to_string(f);
            jx_fn *g = jx_fn_parse(s1);
            char *s2 = g ? jx_fn_to_string(g) : NULL;
            if (!s2 || strcmp(s1, s2)) CHECK_FAIL_("not a fixed point:\n%s", buf);
            free(s1);
            free(s2);
            jx_fn_free(g);
            jx_fn_free(f);
        }
    }
    CHECK(parsed > 0);
    free(buf);
}

TEST_MAIN()
