/* Helpers shared by the IR printer (text_print.c), the parser (text_parse.c), the DOT
 * writer (graphviz.c) and tools/jxc.c: variable names and literal spelling. */
#ifndef JX_TEXT_H
#define JX_TEXT_H

#include "core/ir.h"

/* Longest variable name plus its NUL (26^15 > 2^63). */
#define TXT_NAME_MAX 16
/* Longest spelled value plus its NUL ("-1.2345678901234567e-308"). */
#define TXT_VALUE_MAX 40

/* Writes the jaxpr-style name of variable number i (0 -> "a", 25 -> "z", 26 -> "ba", ...)
 * into buf (TXT_NAME_MAX bytes); i must be >= 0. */
void txt_var_name(int64_t i, char *buf);

/* Spells one value of dtype dt so that it parses back to the same value: f32 with %.9g,
 * f64 with %.17g, always with a '.' or 'e'; nan, inf, -inf; integers plain; true/false.
 * buf holds at least TXT_VALUE_MAX bytes. Returns buf. */
char *txt_value_str(jx_dtype dt, double v, char *buf);

/* 1 if node id of f is a rank-0 constant, which the text form prints inline as a literal
 * `VALUE:dtype[]` instead of as an equation. */
int txt_is_literal(const jx_fn *f, int32_t id);

/* The variable number of every node of f (inputs first, then equations in order; -1 for
 * inline literals), as a malloc'd array of f->n_nodes entries the caller frees. NULL (with
 * jx_error set) on out-of-memory. */
int32_t *txt_numbering(const jx_fn *f);

#endif
