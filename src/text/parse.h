/* The IR parser's internal interface (parse.c: the grammar of functions and equations,
 * the name table and the calls into the tracer; parse_attrs.c: an equation's bracketed
 * attributes, including nested sub-functions, which it reads with a parser of their own). */
#ifndef JX_TEXT_PARSE_H
#define JX_TEXT_PARSE_H

#include "text/lex.h"
#include "core/trace.h"

/* An operand or output: a variable (slot into vals) or a literal. */
typedef struct txt_atom {
    int lit;
    int32_t slot;
    jx_dtype dt;
    double v;
} txt_atom;

/* A name table entry (open addressing; s == NULL is empty). */
typedef struct txt_ent {
    txt_str name;
    int32_t slot;
} txt_ent;

/* The parser: the token reader, the trace being built and the name table. */
typedef struct txt_parser {
    txt_lex *L; /* the token reader: text, position, first error (shared when nested) */
    int depth;  /* nesting level of the function being read (0: the whole text) */
    jx_trace *t;
    txt_ent *tab; /* name -> slot */
    size_t tab_cap, tab_n;
    jx_val *vals; /* slot -> value (inputs first) */
    size_t nvals, vals_cap;
    jx_type *in_types;
    size_t n_in, in_cap;
    txt_atom *atoms;
    size_t natoms, atoms_cap;
    double *nums;
    size_t nnums, nums_cap;
} txt_parser;

/* The attributes read for one equation: the integer vectors, the constant's value and the
 * sub-functions (each a reference the reader owns; txt_attrs_free drops them). */
typedef struct txt_attrs_read {
    jx_ints ints[JX_MAX_ATTRS];
    jx_array *value;
    int n_fns;
    jx_fn *fns[JX_MAX_FNS];
} txt_attrs_read;

/* Reads the bracketed attributes of an equation of op declared with type ty (parse_attrs.c):
 * "[value=[...]]" for a constant, else "[a=(..) b=(..) f={ lambda ... } ...]" with every
 * integer attribute and then every sub-function of op in prims.def order (nothing for a
 * primitive with neither). Fills *a (zeroed first); returns 0 or -1 (error on P->L), in
 * both cases with *a for txt_attrs_free. */
int txt_attrs_read_all(txt_parser *P, jx_op op, const jx_type *ty, txt_attrs_read *a);
/* The jx_attrs view of a (pointing into it) for trace_emit. */
jx_attrs txt_attrs_view(const txt_attrs_read *a, jx_op op);
/* Releases what txt_attrs_read_all kept. */
void txt_attrs_free(txt_attrs_read *a);

/* Reads one whole function "{ lambda ; ... in (...) }" with P (fresh, P->L and P->depth
 * set) and ends its trace into *fn (parse.c). At depth 0 nothing may follow the '}'.
 * Returns 0 or -1 (error on P->L); releases P's tables and trace either way (not P). */
int txt_fn_read(txt_parser *P, jx_fn **fn);

#endif
