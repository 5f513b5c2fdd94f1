/* The parser target's differential check of jx_simplify: the original and the simplified
 * function must compute the same outputs under the reference interpreter. */
#ifndef JX_FUZZ_INTERP_H
#define JX_FUZZ_INTERP_H

#include "fuzz_util.h"

/* Functions with a node of more elements than this are not interpreted (cost bound). */
#define FZ_INTERP_MAX_ELEMS 4096

/* Runs f and g (= jx_simplify(f)) on the same deterministic inputs and aborts (printing
 * text, the printed f) if g fails where f runs, or if any output differs (any NaN equals
 * any NaN, 0 equals -0). Skips functions with large nodes, more than 16 inputs or
 * outputs, or a while loop (which need not end). A failing f must leave a message. */
void fz_interp_agree(const jx_fn *f, const jx_fn *g, const char *text);

#endif
