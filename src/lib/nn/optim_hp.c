/* Optimizer state layout and injected hyperparameters (optax.inject_hyperparams): which
 * scalars lead the state, their names, host get/set with value checks, the step count,
 * and their traced reads. Formulas and the layout: jx/optim.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/nn/optim_int.h"

#include "core/trace.h"
#include "core/util.h"

static const char *const opt_hp_name[OPT_NHP] = {"lr", "momentum", "b1", "b2",
                                                  "weight_decay", "decay", "l2"};

/* See optim_int.h. */
const char *opt_kind_name(const jx_optim *o) {
    static const char *const names[] = {"sgd", "momentum", "adam", "adamw", "adagrad", "rmsprop"};
    return (unsigned)o->kind < sizeof names / sizeof names[0] ? names[o->kind] : "optimizer";
}

/* See optim_int.h. */
int opt_slots(const jx_optim *o) {
    switch (o->kind) {
    case JX_OPTIM_SGD: return 0;
    case JX_OPTIM_MOMENTUM: case JX_OPTIM_ADAGRAD: case JX_OPTIM_RMSPROP: return 1;
    case JX_OPTIM_ADAM: case JX_OPTIM_ADAMW: return 2;
    }
    return -1;
}

/* See optim_int.h. */
int opt_has_count(const jx_optim *o) {
    return o->kind == JX_OPTIM_ADAM || o->kind == JX_OPTIM_ADAMW || o->inject ||
           o->schedule.kind != JX_SCHED_NONE;
}

/* See optim_int.h. */
int opt_hp_ids(const jx_optim *o, int *ids) {
    int n = 0;
    if (!o->inject) return 0;
    ids[n++] = OPT_LR;
    if (o->kind == JX_OPTIM_MOMENTUM) ids[n++] = OPT_MU;
    if (o->kind == JX_OPTIM_ADAM || o->kind == JX_OPTIM_ADAMW) ids[n++] = OPT_B1, ids[n++] = OPT_B2;
    if (o->kind == JX_OPTIM_ADAMW && o->weight_decay != 0) ids[n++] = OPT_WD;
    if (o->kind == JX_OPTIM_RMSPROP) ids[n++] = OPT_DECAY;
    if (o->l2 > 0) ids[n++] = OPT_L2;
    return n;
}

/* The field of o holding hyperparameter id's initial value. */
static double opt_hp_field(const jx_optim *o, int id) {
    switch (id) {
    case OPT_LR: return o->lr;
    case OPT_MU: return o->mu;
    case OPT_B1: return o->b1;
    case OPT_B2: return o->b2;
    case OPT_WD: return o->weight_decay;
    case OPT_DECAY: return o->decay;
    default: return o->l2;
    }
}

/* See optim_int.h. */
double opt_hp_initial(const jx_optim *o, int i) {
    int ids[OPT_NHP], n = opt_hp_ids(o, ids);
    if (i < 0 || i >= n) return NAN;
    if (ids[i] == OPT_LR && o->schedule.kind != JX_SCHED_NONE)
        return jx_schedule_value(&o->schedule, 0);
    return opt_hp_field(o, ids[i]);
}

/* See optim.h. */
int jx_optim_n_hparams(const jx_optim *o) {
    int ids[OPT_NHP];
    return o ? opt_hp_ids(o, ids) : util_err("optim: NULL optimizer");
}

/* See optim.h. */
const char *jx_optim_hparam_name(const jx_optim *o, int i) {
    int ids[OPT_NHP], n = o ? opt_hp_ids(o, ids) : 0;
    return i >= 0 && i < n ? opt_hp_name[ids[i]] : NULL;
}

/* See optim.h. */
int jx_optim_hparam_index(const jx_optim *o, const char *name) {
    if (!o) return util_err("optim: NULL optimizer");
    int ids[OPT_NHP], n = opt_hp_ids(o, ids);
    if (!o->inject)
        return util_err("optim %s: no hyperparameter '%s': the optimizer was built without "
                        "inject = 1 (its hyperparameters are constants)", opt_kind_name(o),
                        name ? name : "(null)");
    for (int i = 0; i < n && name; i++)
        if (!strcmp(name, opt_hp_name[ids[i]])) return i;
    char known[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 opt_hp_name[ids[i]]);
    return util_err("optim %s: no hyperparameter '%s' (known: %s)", opt_kind_name(o),
                    name ? name : "(null)", known);
}

/* The state array of hyperparameter name, checked to be an f64 scalar; *id its id. NULL
 * with an error. */
static jx_array *opt_hp_array(const jx_optim *o, jx_array *const *state, const char *name,
                              int *id) {
    int i = jx_optim_hparam_index(o, name);
    if (i < 0) return NULL;
    int ids[OPT_NHP];
    opt_hp_ids(o, ids);
    *id = ids[i];
    jx_array *a = state ? state[i] : NULL;
    jx_type t = a ? jx_array_type(a) : JX_SCALAR(JX_F64);
    char b[64];
    if (!a || t.dtype != JX_F64 || t.rank != 0) {
        util_err("optim %s: state %d ('%s') is %s, expected an f64 scalar (a state list "
                 "from jx_optim_init of this optimizer)", opt_kind_name(o), i, name,
                 a ? jx_type_str(&t, b, sizeof b) : "NULL");
        return NULL;
    }
    return a;
}

/* See optim_int.h. */
int opt_hp_check(const jx_optim *o, int id, double v) {
    int unit = id == OPT_MU || id == OPT_B1 || id == OPT_B2 || id == OPT_DECAY;
    if (!isfinite(v) || v < 0 || (unit && v >= 1))
        return util_err("optim %s: bad value %g for '%s' (expected a finite number %s)",
                        opt_kind_name(o), v, opt_hp_name[id], unit ? "in [0, 1)" : ">= 0");
    return 0;
}

/* See optim.h. */
int jx_optim_set_hparam(const jx_optim *o, jx_array **state, const char *name, double v) {
    int id;
    jx_array *a = opt_hp_array(o, state, name, &id);
    if (!a) return -1;
    if (id == OPT_LR && o->schedule.kind != JX_SCHED_NONE)
        return util_err("optim %s: 'lr' comes from the schedule and cannot be set",
                        opt_kind_name(o));
    if (opt_hp_check(o, id, v) < 0) return -1;
    jx_array_set(a, 0, v);
    return 0;
}

/* See optim.h. */
int jx_optim_get_hparam(const jx_optim *o, jx_array *const *state, const char *name,
                        double *v) {
    int id;
    jx_array *a = opt_hp_array(o, state, name, &id);
    if (!a) return -1;
    *v = jx_array_get(a, 0);
    return 0;
}

/* See optim.h. */
int64_t jx_optim_count(const jx_optim *o, int n, jx_array *const *state) {
    int ns = jx_optim_n_state(o, n);
    if (ns < 0) return -1;
    if (!opt_has_count(o))
        return util_err("optim %s: no step count (only adam, adamw, inject = 1 or a schedule "
                        "keep one)", opt_kind_name(o));
    jx_array *c = state ? state[ns - 1] : NULL;
    jx_type t = c ? jx_array_type(c) : JX_SCALAR(JX_F64);
    if (!c || t.dtype != JX_I32 || t.rank != 0)
        return util_err("optim %s: state %d is not the i32 step count", opt_kind_name(o), ns - 1);
    return (int64_t)jx_array_get(c, 0);
}

/* See optim_int.h. */
void opt_hp_traced(const jx_optim *o, const jx_val *state, jx_val *hp) {
    int ids[OPT_NHP], n = opt_hp_ids(o, ids);
    for (int k = 0; k < OPT_NHP; k++) hp[k] = (jx_val){NULL, -1};
    for (int i = 0; i < n; i++) hp[ids[i]] = state[i];
}

/* See optim_int.h. */
jx_val opt_coef(jx_loc loc, const jx_val *hp, int id, double konst, jx_val like, int one_minus,
                int negate) {
    jx_dtype dt = jx_val_type(like).dtype;
    if (!hp[id].t) {
        double v = one_minus ? 1.0 - konst : negate ? -konst : konst;
        return jx_lit_at(loc, like, v);
    }
    jx_val v = hp[id];
    if (one_minus) v = jx_sub_at(loc, jx_lit_at(loc, v, 1.0), v);
    if (negate) v = jx_neg_at(loc, v);
    return dt == JX_F64 ? v : jx_convert_at(loc, v, dt);
}
