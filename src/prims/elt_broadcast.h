/* NumPy broadcasting of the elementwise constructors (src/prims/elementwise.c), also
 * used by the helpers in src/lib/numpy.c (broadcast_to, matmul's batch dims). */
#ifndef JX_PRIMS_ELT_BROADCAST_H
#define JX_PRIMS_ELT_BROADCAST_H

#include "jx.h"

/* Broadcasts the shapes of the n types NumPy-style (trailing dims aligned, a dim of 1
 * stretches) into out (dtype left 0). Returns 0, or -1 if they are incompatible. */
int elt_broadcast_shapes(int n, const jx_type *ts, jx_type *out);
/* x (of type xt) broadcast to the shape of `to` by one broadcast_in_dim with trailing
 * dims aligned; x itself when the shapes already agree. The shapes must be compatible. */
jx_val elt_broadcast_val(jx_loc loc, jx_val x, const jx_type *xt, const jx_type *to);

#endif
