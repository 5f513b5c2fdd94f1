/* libFuzzer target: the IR text parser (src/text/parse.c) and what follows it.
 * Any input either fails to parse with a message, or parses to a function that
 *   - verifies (jx_fn_verify),
 *   - prints to text that parses back and prints identically (round trip),
 *   - simplifies (jx_simplify) to a function that verifies and round-trips too,
 *   - and computes what the simplified function computes under the reference
 *     interpreter (small functions; see fuzz_interp.h).
 * A broken invariant aborts, so libFuzzer saves the input; so do sanitizer reports and
 * leaks. Seeds: tests/fuzz/corpus/parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_interp.h"

/* Prints f, re-parses the text, prints again and checks both prints match. what names
 * the function (parsed / simplified) for the report. Returns the print (caller frees). */
static char *fz_round_trip(const jx_fn *f, const char *what) {
    if (jx_fn_verify(f) != 0) fz_fail("%s function does not verify: %s", what, jx_error());
    char *s1 = jx_fn_to_string(f);
    if (!s1) fz_fail("jx_fn_to_string of the %s function failed: %s", what, jx_error());
    jx_fn *g = jx_fn_parse(s1);
    if (!g) fz_fail("the print of the %s function does not parse: %s\n%s", what, jx_error(), s1);
    if (jx_fn_verify(g) != 0)
        fz_fail("the re-parsed %s function does not verify: %s\n%s", what, jx_error(), s1);
    char *s2 = jx_fn_to_string(g);
    if (!s2) fz_fail("jx_fn_to_string of the re-parsed %s function failed", what);
    if (strcmp(s1, s2) != 0)
        fz_fail("print/parse/print of the %s function differs:\n%s\n---\n%s", what, s1, s2);
    free(s2);
    jx_fn_free(g);
    return s1;
}

/* One input: the bytes as a NUL-terminated IR text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    jx_fn *f = jx_fn_parse(text);
    free(text);
    if (!f) {
        fz_need_error("jx_fn_parse");
        jx_clear_error();
        return 0;
    }
    char *tf = fz_round_trip(f, "parsed");
    jx_fn *s = jx_simplify(f);
    if (!s) fz_fail("jx_simplify of a verified function failed: %s\n%s", jx_error(), tf);
    free(fz_round_trip(s, "simplified"));
    fz_interp_agree(f, s, tf);
    free(tf);
    jx_fn_free(s);
    jx_fn_free(f);
    jx_clear_error();
    return 0;
}
