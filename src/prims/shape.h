/* Internal interface of the shape family between shape.c (the index maps: broadcast_in_dim,
 * reshape, transpose, slice, rev; the family's table) and shape_pad.c (pad and
 * concatenate); their transformation rules are in shape_tx.c. */
#ifndef JX_PRIMS_SHAPE_H
#define JX_PRIMS_SHAPE_H

#include <stdint.h>

#include "core/ir.h"
#include "jit/lower.h"

/* An attribute vector as stored in a node (n may be anything if it came from text). */
typedef struct shp_vec {
    int n;
    const int64_t *v;
} shp_vec;

/* 0 if the vector `name` has exactly `want` entries, else an error naming it. */
int shp_want_len(const char *name, shp_vec a, int want, const char *of, char *err,
                 size_t errlen);
/* The multi-index of row-major flat index i in shape (rank dims). */
void shp_unravel(int64_t i, int rank, const int64_t *shape, int64_t *idx);
/* Copies element si of src to element di of dst (esz bytes each). */
void shp_copy1(char *dst, int64_t di, const char *src, int64_t si, size_t esz);
/* 1 if every list has a valid length (0..JX_MAX_RANK); otherwise records the error on
 * x's trace (unless x is already poison) and returns 0. */
int shp_lists_ok(jx_loc loc, jx_val x, const char *op, int n, const jx_ints *l);

/* pad and concatenate (shape_pad.c): shape rules (0, or -1 with a message in err),
 * reference evaluation into out (the node already checked against its rule), and loop
 * lowering at output index ix. */
int shp_infer_pad(const jx_type *x, const jx_type *pv, shp_vec lo, shp_vec hi, shp_vec in,
                  jx_type *out, char *err, size_t errlen);
int shp_infer_concat(int nin, const jx_type *in, shp_vec dim, jx_type *out, char *err,
                     size_t errlen);
void shp_interp_pad(const jx_node *n, const jx_array *x, const jx_array *pv, jx_array *out);
void shp_interp_concat(const jx_node *n, jx_array *const *in, jx_array *out);
LLVMValueRef shp_lower_pad(lw *L, const jx_node *nd, lw_ix *ix);
LLVMValueRef shp_lower_concat(lw *L, const jx_node *nd, lw_ix *ix);

#endif
