/* The IR text's comments: whole-line '#' comments are skipped anywhere whitespace may be
 * (so a FileCheck test file is itself a valid input), a '#' after an equation on the same
 * line is its '# file:line' location, and a '#' after any other token is an error that
 * says where comments may go. Printing then parsing still round-trips. */
#include <stdint.h>

#include "check.h"
#include "core/ir.h"

/* The canonical print of the function the commented texts below describe. */
static const char *const plain =
    "{ lambda ; a:f32[2] b:f32[2]. let\n"
    "    c:f32[2] = add a b    # model.c:3\n"
    "    d:f32[2] = neg c\n"
    "  in (d) }\n";

/* Parses text, checks it prints as `plain`; fails the case with the parser's message. */
static void parses_to_plain(const char *text) {
    jx_fn *f = jx_fn_parse(text);
    if (!f) {
        CHECK_FAIL_("did not parse: %s\n%s", jx_error(), text);
        return;
    }
    char *s = jx_fn_to_string(f);
    if (!s || strcmp(s, plain)) CHECK_FAIL_("printed as:\n%s", s ? s : "(null)");
    free(s);
    jx_fn_free(f);
}

TEST(whole_line_comments_anywhere) {
    parses_to_plain("# RUN: jxc simplify %s | FileCheck %s\n"
                    "# CHECK: add\n"
                    "{ lambda ; a:f32[2]\n"
                    "  # between the inputs: file.c:12 (not a location)\n"
                    "  b:f32[2]. let\n"
                    "#\n"
                    "    c:f32[2] = add a b    # model.c:3\n"
                    "\t# CHECK-NEXT: neg\n"
                    "    d:f32[2] = neg c\n"
                    "    # before in\n"
                    "  in (d) }\n"
                    "# after the function\n"
                    "# and at the end without a newline");
    /* CRLF line ends, a comment line right after the location of an equation. */
    parses_to_plain("{ lambda ; a:f32[2] b:f32[2]. let\r\n"
                    "    c:f32[2] = add a b    # model.c:3\r\n"
                    "  # x.c:4 is a comment line, not the next equation's location\r\n"
                    "    d:f32[2] = neg c\r\n"
                    "  in (d) }\r\n");
    /* A comment line in the middle of an equation's operands or type. */
    parses_to_plain("{ lambda ; a:f32[2] b:f32[2]. let\n"
                    "    c:f32[\n# two\n2] = add a\n    # the second operand\n"
                    "  b    # model.c:3\n"
                    "    d:f32[2] = neg c\n"
                    "  in (\n# out\n d) }\n");
}

TEST(a_comment_line_does_not_become_a_location) {
    jx_fn *f = jx_fn_parse("{ lambda ; a:f32[2]. let\n"
                           "    b:f32[2] = neg a\n"
                           "    # other.c:9\n"
                           "    c:f32[2] = exp b\n"
                           "  in (c) }\n");
    CHECK(f != NULL);
    if (!f) return;
    for (int32_t i = 0; i < f->n_nodes; i++) CHECK(f->nodes[i].loc.file == NULL);
    jx_fn_free(f);
}

/* Texts with a '#' after a token where only a location may be, or none at all. */
static const struct {
    const char *text, *want;
} bad[] = {
    {"{ lambda ; a:f32[2]. let  # hi\n  in (a) }", "line 1, column 27: expected an equation"},
    {"{ lambda ; a:f32[2] # x\n. let\n  in (a) }", "a comment must start its own line"},
    {"{ lambda ; a:f32[2]. let\n  in (a) } # x:1\n", "unexpected '#' (a comment must start"},
    {"{ lambda ; a:f32[2]. let\n  in (a  # x.c:1\n) }", "a comment must start its own line"},
    {"{ lambda ; a:f32[2]. let\n    b:f32[2] = neg a    # just words\n  in (b) }",
     "bad location comment"},
    {"{ lambda ; a:f32[2]. let\n    b:f32[2] = # x.c:1\n neg a\n  in (b) }",
     "expected a primitive name, got '#'"},
};

TEST(a_comment_after_a_token_is_an_error_saying_where_comments_go) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jx_clear_error();
        jx_fn *f = jx_fn_parse(bad[i].text);
        if (f) {
            CHECK_FAIL_("case %zu parsed:\n%s", i, bad[i].text);
            jx_fn_free(f);
            continue;
        }
        if (!strstr(jx_error(), bad[i].want))
            CHECK_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, jx_error(), bad[i].want);
    }
}

/* A traced function with locations and literals; every line of its print gets a comment
 * line before it, and the result must print as the original. */
static void comments_fn(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val s = jx_add(in[0], in[1]);
    out[0] = jx_mul(jx_exp(s), jx_scalar(t, JX_F32, 0.5));
    out[1] = jx_reduce_sum(s, (jx_ints){1, {0}});
}

TEST(print_parse_round_trip_with_comment_lines) {
    jx_type ty[2] = {JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 3)};
    jx_fn *f = jx_trace(comments_fn, 2, ty, 2, NULL);
    CHECK(f != NULL);
    if (!f) return;
    char *s = jx_fn_to_string(f);
    CHECK(s && strstr(s, "    # ")); /* it has location comments */
    size_t n = strlen(s), k = 0;
    char *c = malloc(4 * n + 64);
    for (const char *p = s; *p;) {
        k += (size_t)sprintf(c + k, "  # comment: %zu\n", k);
        const char *e = strchr(p, '\n');
        size_t m = e ? (size_t)(e - p) + 1 : strlen(p);
        memcpy(c + k, p, m);
        k += m;
        p += m;
    }
    strcpy(c + k, "# end\n");
    jx_fn *g = jx_fn_parse(c);
    if (!g) CHECK_FAIL_("%s\n%s", jx_error(), c);
    char *s2 = g ? jx_fn_to_string(g) : NULL;
    if (s2 && strcmp(s, s2)) CHECK_FAIL_("got:\n%s\nexpected:\n%s", s2, s);
    free(s2);
    jx_fn_free(g);
    free(c);
    free(s);
    jx_fn_free(f);
}

TEST_MAIN()
