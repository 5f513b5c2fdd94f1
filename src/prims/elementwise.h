/* Internal interface of the elementwise family between elementwise.c (rules) and
 * elementwise_eval.c (reference evaluation). */
#ifndef JX_PRIMS_ELEMENTWISE_H
#define JX_PRIMS_ELEMENTWISE_H

#include "core/ir.h"

/* Evaluates elementwise op (nin operands in[], already checked against the family's
 * rule) into out, preallocated with the node's type. 0, or -1 if op has no evaluation
 * rule for the operands' dtype (the caller reports it). */
int elt_eval(jx_op op, int nin, jx_array *const *in, jx_array *out);

#endif
