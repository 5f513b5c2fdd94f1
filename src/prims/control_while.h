/* The while primitive's family (control_while.c) and what its files share: the
 * transformation rules (control_while_tx.c) for the family's table, and the emitter the
 * API (control_while_api.c) and the rules use. */
#ifndef JX_PRIMS_CONTROL_WHILE_H
#define JX_PRIMS_CONTROL_WHILE_H

#include "core/trace.h"

/* bool[], the type cond must return. */
extern const jx_type cw_pred_type;

/* Emits while[cond=cond body=body] on the carry ops[0..n) at loc; its results (the final
 * carry) into res[0..n). 0, or -1 with the error recorded on t and res poison. */
int cw_emit(jx_loc loc, jx_trace *t, const jx_fn *cond, const jx_fn *body, int n,
            const jx_val *ops, jx_val *res);

/* The multi-result rules of transform.h (control_while_tx.c). */
int cw_jvp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx, jx_val *ys,
                 jx_val *dys);
int cw_vjp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *ys,
                 const jx_val *cts, jx_val *ct_in);
int cw_batch_multi(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                   int64_t bsize, jx_val *ys, int *ybds);

/* The JIT lowering (control_while_lower.c): the family's multi_temps, multi_inplace and
 * lower_multi rules (src/core/prim.h). */
struct lw;
struct lw_mstep;
int64_t cw_multi_temps(const jx_node *n);
int cw_multi_inplace(const jx_node *n, int j);
int cw_lower_multi(struct lw *L, const struct lw_mstep *m);

#endif
