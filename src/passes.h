/* Internal instrumentation of jx_simplify (passes.c), for tests that count work instead
 * of timing it. */
#ifndef JX_PASSES_H
#define JX_PASSES_H

#include <stdint.h>

/* Hash-table slots examined by jx_simplify's CSE on the calling thread since it started
 * (cumulative; compare two readings). Each lookup of a new node costs at least one. */
uint64_t simp_cse_probes(void);

#endif
