/* optax-like optimizers: state layout, host and traced init, the traced update, and the
 * training-step builder (value_and_grad + update as one jx_fn). Formulas: jx/optim.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/nn/optim_int.h"

#include "core/trace.h"
#include "core/util.h"

#define OPT_TBUF 200 /* room for a type string */

/* ---- constructors --------------------------------------------------------------------- */

/* Plain SGD. */
jx_optim jx_sgd(double lr) { return (jx_optim){.kind = JX_OPTIM_SGD, .lr = lr}; }

/* SGD with (Nesterov) momentum. */
jx_optim jx_momentum(double lr, double mu, int nesterov) {
    return (jx_optim){.kind = JX_OPTIM_MOMENTUM, .lr = lr, .mu = mu, .nesterov = nesterov};
}

/* Adam. */
jx_optim jx_adam(double lr, double b1, double b2, double eps) {
    return (jx_optim){.kind = JX_OPTIM_ADAM, .lr = lr, .b1 = b1, .b2 = b2, .eps = eps};
}

/* Adam with decoupled weight decay. */
jx_optim jx_adamw(double lr, double b1, double b2, double eps, double weight_decay) {
    return (jx_optim){.kind = JX_OPTIM_ADAMW, .lr = lr, .b1 = b1, .b2 = b2, .eps = eps,
                      .weight_decay = weight_decay};
}

/* Adagrad. */
jx_optim jx_adagrad(double lr, double initial_accumulator, double eps) {
    return (jx_optim){.kind = JX_OPTIM_ADAGRAD, .lr = lr,
                      .initial_accumulator = initial_accumulator, .eps = eps};
}

/* RMSprop. */
jx_optim jx_rmsprop(double lr, double decay, double eps) {
    return (jx_optim){.kind = JX_OPTIM_RMSPROP, .lr = lr, .decay = decay, .eps = eps};
}

/* ---- state layout --------------------------------------------------------------------- */

/* Total state arrays for n params. */
int jx_optim_n_state(const jx_optim *o, int n) {
    if (!o) return util_err("optim: NULL optimizer");
    int s = opt_slots(o);
    if (s < 0) return util_err("optim: unknown optimizer kind %d", (int)o->kind);
    if (n < 0 || n > (1 << 20)) return util_err("optim: bad number of params %d", n);
    if (o->schedule.kind != JX_SCHED_NONE && isnan(jx_schedule_value(&o->schedule, 0)))
        return -1;
    int ids[OPT_NHP], nh = opt_hp_ids(o, ids);
    for (int k = 0; k < nh; k++)
        if (opt_hp_check(o, ids[k], opt_hp_initial(o, k)) < 0) return -1;
    return nh + s * n + opt_has_count(o);
}

/* Initial value of every moment of o. */
static double opt_init_value(const jx_optim *o) {
    return o->kind == JX_OPTIM_ADAGRAD || o->kind == JX_OPTIM_RMSPROP ? o->initial_accumulator : 0.0;
}

/* 1 if param i (of type ty) is regularised (l2, weight_decay). */
static int opt_decayed(const jx_optim *o, int i, const jx_type *ty) {
    if (o->mask) return o->mask[i] != 0;
    return o->decay_all || ty->rank >= 2;
}

/* State types (see optim.h). */
int jx_optim_state_types(const jx_optim *o, int n, const jx_type *params, jx_type *out) {
    int ns = jx_optim_n_state(o, n);
    if (ns < 0) return -1;
    char b[OPT_TBUF];
    for (int i = 0; i < n; i++)
        if (params[i].dtype != JX_F32 && params[i].dtype != JX_F64)
            return util_err("optim: param %d has type %s; optimizers need f32 or f64 params", i,
                            jx_type_str(&params[i], b, sizeof b));
    int slots = opt_slots(o), ids[OPT_NHP], nh = opt_hp_ids(o, ids);
    for (int k = 0; k < nh; k++) out[k] = JX_SCALAR(JX_F64);
    for (int s = 0; s < slots; s++)
        for (int i = 0; i < n; i++) out[nh + s * n + i] = params[i];
    if (opt_has_count(o)) out[ns - 1] = JX_SCALAR(JX_I32);
    return ns;
}

/* Host init: moments of the params' types filled with the initial value, count 0. */
int jx_optim_init(const jx_optim *o, int n, jx_array *const *params, jx_array **state) {
    int ns = jx_optim_n_state(o, n);
    if (ns < 0) return -1;
    jx_type *pt = malloc(sizeof *pt * ((size_t)n + 1)), *st = malloc(sizeof *st * ((size_t)ns + 1));
    int rc = pt && st ? 0 : util_err("optim_init: out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        if (!params[i]) rc = util_err("optim_init: param %d is NULL", i);
        else pt[i] = jx_array_type(params[i]);
    }
    if (rc == 0 && jx_optim_state_types(o, n, pt, st) < 0) rc = -1;
    for (int k = 0; k < ns && rc == 0; k++) {
        state[k] = jx_array_new_type(&st[k]);
        if (!state[k]) {
            for (int j = 0; j < k; j++) jx_array_free(state[j]), state[j] = NULL;
            rc = util_err("optim_init: cannot allocate state %d", k);
            break;
        }
        if (!(opt_has_count(o) && k == ns - 1))
            jx_array_fill(state[k], k < jx_optim_n_hparams(o) ? opt_hp_initial(o, k)
                                                               : opt_init_value(o));
    }
    free(pt);
    free(st);
    return rc < 0 ? -1 : ns;
}

/* Traced init: full(type, initial value) per state array. */
int jx_optim_init_at(jx_loc loc, const jx_optim *o, int n, const jx_val *params,
                     jx_val *state) {
    int ns = jx_optim_n_state(o, n);
    if (ns < 0) return -1;
    jx_trace *t = trace_of(n, params);
    if (!t) return util_err("optim_init: no traced params");
    jx_type *pt = malloc(sizeof *pt * ((size_t)n + 1)), *st = malloc(sizeof *st * ((size_t)ns + 1));
    int rc = pt && st ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++) {
        if (jx_val_bad(params[i])) rc = -1;
        else pt[i] = jx_val_type(params[i]);
    }
    if (rc == 0 && jx_optim_state_types(o, n, pt, st) < 0) {
        trace_fail(t, loc, "optim_init", "%s", jx_error());
        rc = -1;
    }
    for (int k = 0; k < ns && rc == 0; k++) {
        int cnt = opt_has_count(o) && k == ns - 1, hp = k < jx_optim_n_hparams(o);
        state[k] = jx_full_at(loc, t, st[k],
                              cnt ? 0.0 : hp ? opt_hp_initial(o, k) : opt_init_value(o));
    }
    free(pt);
    free(st);
    return rc < 0 ? -1 : ns;
}

/* ---- update --------------------------------------------------------------------------- */

/* Checks the operands of an update: params float, grads of the params' types, state of
 * the state types. 0, or -1 with an error on t naming the operand. */
static int opt_check(jx_trace *t, jx_loc loc, const jx_optim *o, int n, const jx_val *params,
                     const jx_val *grads, const jx_val *state, int ns) {
    char a[OPT_TBUF], b[OPT_TBUF];
    jx_type *pt = malloc(sizeof *pt * ((size_t)n + 1)), *st = malloc(sizeof *st * ((size_t)ns + 1));
    int rc = 0;
    if (!pt || !st) {
        trace_fail(t, loc, "optim_update", "out of memory");
        rc = -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        if (jx_val_bad(params[i]) || jx_val_bad(grads[i]) || params[i].t != t || grads[i].t != t) {
            if (!jx_trace_error(t))
                trace_fail(t, loc, "optim_update", "param or grad %d is not a value of the trace", i);
            rc = -1;
            break;
        }
        pt[i] = jx_val_type(params[i]);
        jx_type gt = jx_val_type(grads[i]);
        if (!jx_type_eq(&pt[i], &gt)) {
            trace_fail(t, loc, "optim_update", "grad %d has type %s, its param %s", i,
                       jx_type_str(&gt, a, sizeof a), jx_type_str(&pt[i], b, sizeof b));
            rc = -1;
        }
    }
    if (rc == 0 && jx_optim_state_types(o, n, pt, st) < 0) {
        trace_fail(t, loc, "optim_update", "%s", jx_error());
        rc = -1;
    }
    for (int k = 0; k < ns && rc == 0; k++) {
        if (jx_val_bad(state[k]) || state[k].t != t) {
            if (!jx_trace_error(t))
                trace_fail(t, loc, "optim_update", "state %d is not a value of the trace", k);
            rc = -1;
            break;
        }
        jx_type have = jx_val_type(state[k]);
        if (!jx_type_eq(&have, &st[k])) {
            trace_fail(t, loc, "optim_update", "state %d has type %s, expected %s", k,
                       jx_type_str(&have, a, sizeof a), jx_type_str(&st[k], b, sizeof b));
            rc = -1;
        }
    }
    free(pt);
    free(st);
    return rc;
}

/* clip_by_global_norm: g *= (norm < c ? 1 : c / norm), norm over every gradient, summed in
 * the first param's dtype. */
static void opt_clip(jx_loc loc, double c, int n, jx_val *g) {
    if (n == 0) return;
    jx_dtype dt0 = jx_val_type(g[0]).dtype;
    jx_val sq = {NULL, -1};
    for (int i = 0; i < n; i++) {
        jx_val s = jx_sum_all_at(loc, jx_mul_at(loc, g[i], g[i]));
        if (jx_val_type(s).dtype != dt0) s = jx_convert_at(loc, s, dt0);
        sq = i == 0 ? s : jx_add_at(loc, sq, s);
    }
    jx_val norm = jx_sqrt_at(loc, sq), cv = jx_lit_at(loc, norm, c);
    jx_val f = jx_select_at(loc, jx_lt_at(loc, norm, cv), jx_lit_at(loc, norm, 1.0),
                            jx_div_at(loc, cv, norm));
    for (int i = 0; i < n; i++) {
        jx_dtype dt = jx_val_type(g[i]).dtype;
        g[i] = jx_mul_at(loc, g[i], dt == dt0 ? f : jx_convert_at(loc, f, dt));
    }
}

/* b * m + (1 - b) * x (optax's (1-b) x + b m; x is g or g^2), b hyperparameter id. */
static jx_val opt_moment(jx_loc loc, const jx_val *hp, int id, double b, jx_val m, jx_val x) {
    return jx_add_at(loc, jx_mul_at(loc, opt_coef(loc, hp, id, b, x, 1, 0), x),
                     jx_mul_at(loc, opt_coef(loc, hp, id, b, m, 0, 0), m));
}

/* What the per-param rule reads: the traced hyperparameters, the moments (mom[s * n + i]
 * is moment s of param i) and the incremented count. */
typedef struct opt_ctx {
    const jx_optim *o;
    int n;
    const jx_val *hp, *mom;
    jx_val *new_mom;
    jx_val count;
} opt_ctx;

/* Adam's direction for param i (see optim.h), new moments into c->new_mom. */
static jx_val opt_adam(jx_loc loc, const opt_ctx *c, int i, jx_val p, jx_val gi) {
    const jx_optim *o = c->o;
    jx_type pt = jx_val_type(p);
    jx_val m = opt_moment(loc, c->hp, OPT_B1, o->b1, c->mom[i], gi);
    jx_val v = opt_moment(loc, c->hp, OPT_B2, o->b2, c->mom[c->n + i], jx_mul_at(loc, gi, gi));
    c->new_mom[i] = m;
    c->new_mom[c->n + i] = v;
    jx_val k = jx_convert_at(loc, c->count, pt.dtype), one = jx_lit_at(loc, k, 1.0);
    jx_val bc1 = jx_sub_at(loc, one, jx_pow_at(loc, opt_coef(loc, c->hp, OPT_B1, o->b1, k, 0, 0), k));
    jx_val bc2 = jx_sub_at(loc, one, jx_pow_at(loc, opt_coef(loc, c->hp, OPT_B2, o->b2, k, 0, 0), k));
    jx_val den = jx_add_at(loc, jx_sqrt_at(loc, jx_div_at(loc, v, bc2)), jx_lit_at(loc, v, o->eps));
    jx_val u = jx_div_at(loc, jx_div_at(loc, m, bc1), den);
    if (o->kind == JX_OPTIM_ADAMW && o->weight_decay != 0 && opt_decayed(o, i, &pt))
        u = jx_add_at(loc, u, jx_mul_at(loc, opt_coef(loc, c->hp, OPT_WD, o->weight_decay, p, 0, 0), p));
    return u;
}

/* The direction u of param i (p += -lr u), new moments into c->new_mom. */
static jx_val opt_direction(jx_loc loc, const opt_ctx *c, int i, jx_val p, jx_val gi) {
    const jx_optim *o = c->o;
    switch (o->kind) {
    case JX_OPTIM_MOMENTUM: {
        jx_val mu = opt_coef(loc, c->hp, OPT_MU, o->mu, gi, 0, 0);
        jx_val m = jx_add_at(loc, gi, jx_mul_at(loc, mu, c->mom[i]));
        c->new_mom[i] = m;
        return o->nesterov ? jx_add_at(loc, gi, jx_mul_at(loc, mu, m)) : m;
    }
    case JX_OPTIM_ADAM:
    case JX_OPTIM_ADAMW: return opt_adam(loc, c, i, p, gi);
    case JX_OPTIM_ADAGRAD: {
        jx_val s = jx_add_at(loc, jx_mul_at(loc, gi, gi), c->mom[i]);
        c->new_mom[i] = s;
        jx_val zero = jx_lit_at(loc, s, 0.0);
        jx_val inv = jx_select_at(loc, jx_gt_at(loc, s, zero),
                                  jx_rsqrt_at(loc, jx_add_at(loc, s, jx_lit_at(loc, s, o->eps))),
                                  zero);
        return jx_mul_at(loc, inv, gi);
    }
    case JX_OPTIM_RMSPROP: {
        jx_val v = opt_moment(loc, c->hp, OPT_DECAY, o->decay, c->mom[i], jx_mul_at(loc, gi, gi));
        c->new_mom[i] = v;
        return jx_mul_at(loc, gi, jx_rsqrt_at(loc, jx_add_at(loc, v, jx_lit_at(loc, v, o->eps))));
    }
    default: return gi;
    }
}

/* The hyperparameters and the count: hp from the state (inject), lr from the schedule at
 * the old count (also written to the state's "lr" with inject), count + 1 into
 * new_state. Returns the incremented count (or {NULL, -1}). */
static jx_val opt_hp_count(jx_loc loc, const jx_optim *o, const jx_val *state, int ns,
                           jx_val *new_state, jx_val *hp) {
    opt_hp_traced(o, state, hp);
    int nh = jx_optim_n_hparams(o);
    for (int k = 0; k < nh; k++) new_state[k] = state[k];
    if (!opt_has_count(o)) return (jx_val){NULL, -1};
    jx_val old = state[ns - 1];
    if (o->schedule.kind != JX_SCHED_NONE) {
        hp[OPT_LR] = jx_schedule_at(loc, &o->schedule, old);
        if (nh > 0) new_state[0] = hp[OPT_LR]; /* "lr" is always the first */
    }
    new_state[ns - 1] = jx_add_at(loc, old, jx_lit_at(loc, old, 1));
    return new_state[ns - 1];
}

/* The update (see optim.h). */
int jx_optim_update_at(jx_loc loc, const jx_optim *o, int n, const jx_val *params,
                       const jx_val *grads, const jx_val *state, jx_val *new_params,
                       jx_val *new_state) {
    int ns = jx_optim_n_state(o, n);
    if (ns < 0) return -1;
    if ((n > 0 && (!params || !grads || !new_params)) || (ns > 0 && (!state || !new_state)))
        return util_err("optim_update: NULL operand list");
    jx_trace *t = n > 0 ? trace_of(n, params) : trace_of(ns, state);
    if (!t) return util_err("optim_update: no traced operands");
    if (opt_check(t, loc, o, n, params, grads, state, ns) < 0) return -1;
    jx_val *g = malloc(sizeof *g * ((size_t)n + 1));
    if (!g) {
        trace_fail(t, loc, "optim_update", "out of memory");
        return -1;
    }
    jx_val hp[OPT_NHP];
    int nh = jx_optim_n_hparams(o);
    opt_ctx c = {o, n, hp, state + nh, new_state + nh, {NULL, -1}};
    c.count = opt_hp_count(loc, o, state, ns, new_state, hp);
    memcpy(g, grads, sizeof *g * (size_t)n);
    if (o->clip_norm > 0) opt_clip(loc, o->clip_norm, n, g);
    for (int i = 0; i < n; i++) {
        jx_type pt = jx_val_type(params[i]);
        if (o->l2 > 0 && opt_decayed(o, i, &pt))
            g[i] = jx_add_at(loc, g[i],
                             jx_mul_at(loc, opt_coef(loc, hp, OPT_L2, o->l2, g[i], 0, 0), params[i]));
    }
    for (int i = 0; i < n; i++) {
        jx_val u = opt_direction(loc, &c, i, params[i], g[i]);
        u = jx_mul_at(loc, opt_coef(loc, hp, OPT_LR, o->lr, u, 0, 1), u);
        new_params[i] = jx_add_at(loc, params[i], u);
    }
    free(g);
    return jx_trace_error(t) ? -1 : 0;
}

/* ---- training step -------------------------------------------------------------------- */

/* step(params, state, batch) = (update(params, grads, state), loss, aux) with (loss, aux,
 * grads) = value_and_grad(loss)(params, batch). */
jx_fn *jx_optim_train_step(const jx_optim *o, const jx_fn *loss, int n_params) {
    if (!loss) {
        util_err("train_step: NULL loss function");
        return NULL;
    }
    int n_in = jx_fn_n_in(loss), n_out = jx_fn_n_out(loss);
    if (n_params < 1 || n_params > n_in || n_out < 1) {
        util_err("train_step: need 1 <= n_params (%d) <= inputs (%d) and an output (%d)",
                 n_params, n_in, n_out);
        return NULL;
    }
    jx_type lt = jx_fn_out_type(loss, 0);
    char b[OPT_TBUF];
    if (lt.rank != 0 || (lt.dtype != JX_F32 && lt.dtype != JX_F64)) {
        util_err("train_step: output 0 of the loss must be a float scalar, got %s",
                 jx_type_str(&lt, b, sizeof b));
        return NULL;
    }
    int ns = jx_optim_n_state(o, n_params);
    if (ns < 0) return NULL;
    int nb = n_in - n_params, n_tin = n_params + ns + nb, n_vg = n_out + n_params;
    jx_type *ty = malloc(sizeof *ty * ((size_t)n_tin + 1));
    int *wrt = malloc(sizeof *wrt * ((size_t)n_params + 1));
    jx_val *args = malloc(sizeof *args * ((size_t)n_in + 1));
    jx_val *vout = malloc(sizeof *vout * ((size_t)n_vg + 1));
    jx_val *outs = malloc(sizeof *outs * ((size_t)n_params + ns + n_out + 1));
    jx_fn *vg = NULL, *step = NULL;
    jx_trace *t = NULL;
    jx_loc loc = {__FILE__, __LINE__};
    if (!ty || !wrt || !args || !vout || !outs) {
        util_err("train_step: out of memory");
        goto done;
    }
    for (int i = 0; i < n_params; i++) ty[i] = jx_fn_in_type(loss, i), wrt[i] = i;
    if (jx_optim_state_types(o, n_params, ty, ty + n_params) < 0) goto done;
    for (int i = 0; i < nb; i++) ty[n_params + ns + i] = jx_fn_in_type(loss, n_params + i);
    vg = jx_value_and_grad(loss, n_params, wrt);
    if (!vg) goto done;
    t = jx_trace_begin(n_tin, ty);
    if (!t) goto done;
    for (int i = 0; i < n_params; i++) args[i] = jx_trace_input(t, i);
    for (int i = 0; i < nb; i++) args[n_params + i] = jx_trace_input(t, n_params + ns + i);
    for (int j = 0; j < n_params + ns + n_out; j++) outs[j] = (jx_val){NULL, -1};
    if (jx_call_at(loc, vg, args, vout) == 0) {
        jx_val *st_in = malloc(sizeof *st_in * ((size_t)ns + 1));
        if (st_in) {
            for (int k = 0; k < ns; k++) st_in[k] = jx_trace_input(t, n_params + k);
            jx_optim_update_at(loc, o, n_params, args, vout + n_out, st_in, outs, outs + n_params);
            free(st_in);
        } else {
            trace_fail(t, loc, "train_step", "out of memory");
        }
        for (int j = 0; j < n_out; j++) outs[n_params + ns + j] = vout[j];
    } else if (!jx_trace_error(t)) {
        trace_fail(t, loc, "train_step", "%s", jx_error());
    }
    step = jx_trace_end(t, n_params + ns + n_out, outs);
done:
    jx_fn_free(vg);
    free(ty);
    free(wrt);
    free(args);
    free(vout);
    free(outs);
    return step;
}
