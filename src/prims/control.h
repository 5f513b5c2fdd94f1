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

/* scan's vjp (control_scan_vjp.c) and batching rule (control_scan_batch.c), called by
 * ctl_vjp_multi and ctl_batch_multi. */
int ctl_scan_vjp(jx_trace *t, const jx_node *n, const jx_val *x, const jx_val *cts,
                 jx_val *ct_in);
int ctl_scan_batch(jx_trace *t, const jx_node *n, const jx_val *x, const int *bd,
                   int64_t bsize, jx_val *ys, int *ybds);
/* Helpers of scan's rules (control_scan_tx.c). out_dep[j] = whether output j of fn
 * depends on an input i with mask[i] set (tx_deps; with diff_only, through what carries
 * a derivative); 0, or -1 on out-of-memory. */
int ctl_out_deps(const jx_fn *fn, const unsigned char *mask, int diff_only,
                 unsigned char *out_dep);
/* The carry fixpoint of scan's rules (JAX's): sets mask[j] for each carry j < nc that
 * the body makes depend on an input with mask set (ctl_out_deps), until nothing changes.
 * 0, or -1 on out-of-memory. */
int ctl_scan_fixpoint(const jx_fn *body, int nc, int diff_only, unsigned char *mask);
/* Emits scan[length of n, n_carry=nc, reverse, body=g] on ops[0..nops) into
 * res[0..want), with n's line. 0, or -1 (error recorded on t). */
int ctl_scan_emit(jx_trace *t, const jx_node *n, const jx_fn *g, int nc, int reverse,
                  int nops, const jx_val *ops, int want, jx_val *res);
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
