/* Internals shared by the optimizer files: the state layout (optim_hp.c), the injected
 * hyperparameters (optim_hp.c) and the schedules (optim_sched.c). Private to src/lib/nn. */
#ifndef JX_LIB_OPTIM_INT_H
#define JX_LIB_OPTIM_INT_H

#include <jx/optim.h>

/* Hyperparameter ids, in state order. */
enum { OPT_LR, OPT_MU, OPT_B1, OPT_B2, OPT_WD, OPT_DECAY, OPT_L2, OPT_NHP };

/* The optimizer's display name ("sgd", "adam", ...). */
const char *opt_kind_name(const jx_optim *o);
/* State arrays per param (moments) for o's kind; -1 for a bad kind. */
int opt_slots(const jx_optim *o);
/* 1 if o keeps a step count (the last state array, i32[]). */
int opt_has_count(const jx_optim *o);
/* The ids of o's injected hyperparameters in state order into ids (room for OPT_NHP);
 * returns their number (0 without inject). */
int opt_hp_ids(const jx_optim *o, int *ids);
/* Initial value of injected hyperparameter i (state index i): its field, or the
 * schedule's value at count 0 for a scheduled lr; NaN out of range. */
double opt_hp_initial(const jx_optim *o, int i);
/* 0 if v is a valid value of hyperparameter id (finite; lr, weight_decay, l2 >= 0;
 * momentum, b1, b2, decay in [0, 1)), else -1 with an error naming o and the name. */
int opt_hp_check(const jx_optim *o, int id, double v);
/* The traced hyperparameters: hp[id] = the f64 scalar state entry of each injected one,
 * {NULL, -1} for the others (constants). */
void opt_hp_traced(const jx_optim *o, const jx_val *state, jx_val *hp);
/* A coefficient from hyperparameter id as a rank-0 value of like's dtype: k(v) = v,
 * 1 - v (one_minus) or -v (negate), where v is hp[id] when traced (computed in f64,
 * then converted) and the constant konst otherwise (computed in double, then a literal),
 * so both round alike. */
jx_val opt_coef(jx_loc loc, const jx_val *hp, int id, double konst, jx_val like, int one_minus,
                int negate);

#endif
