/* The control family's transformation rules (control_tx.c, control_scan_tx.c), for its
 * table in control.c: the multi-result rules of transform.h, and a helper they share. */
#ifndef JX_PRIMS_CONTROL_H
#define JX_PRIMS_CONTROL_H

#include "core/trace.h"

int ctl_jvp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx, jx_val *ys,
                  jx_val *dys);
int ctl_vjp_multi(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *ys,
                  const jx_val *cts, jx_val *ct_in);
int ctl_batch_multi(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                    int64_t bsize, jx_val *ys, int *ybds);
/* scan's jvp (control_scan_tx.c), called by ctl_jvp_multi. */
int ctl_scan_jvp(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *dx, jx_val *ys,
                 jx_val *dys);

/* The JIT lowering (control_lower.c): the family's multi_temps, multi_inplace and
 * lower_multi rules (src/core/prim.h). */
struct lw;
struct lw_mstep;
int64_t ctl_multi_temps(const jx_node *n);
int ctl_multi_inplace(const jx_node *n, int j);
int ctl_lower_multi(struct lw *L, const struct lw_mstep *m);

/* The per-iteration type of a scanned operand or output: t without its leading axis. */
jx_type ctl_unstack(jx_type t);


#endif
