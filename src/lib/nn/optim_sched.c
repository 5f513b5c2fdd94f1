/* Learning-rate schedules (optax's formulas, listed in jx/optim.h): constructors, checks,
 * the host closed forms, and the same formulas traced in f64 from the step count. */
#include <math.h>
#include <string.h>

#include "lib/nn/optim_int.h"

#include "core/trace.h"
#include "core/util.h"

#define OS_PI 3.14159265358979323846

/* Constant schedule. */
jx_schedule jx_sched_constant(double value) {
    return (jx_schedule){.kind = JX_SCHED_CONSTANT, .init = value};
}

/* optax.exponential_decay (transition_begin 0, no end_value). */
jx_schedule jx_sched_exponential(double init, double rate, int64_t transition_steps,
                                 int staircase) {
    return (jx_schedule){.kind = JX_SCHED_EXPONENTIAL, .init = init, .rate = rate,
                         .transition_steps = transition_steps, .staircase = staircase};
}

/* optax.cosine_decay_schedule (exponent 1). */
jx_schedule jx_sched_cosine(double init, int64_t decay_steps, double alpha) {
    return (jx_schedule){.kind = JX_SCHED_COSINE, .init = init, .decay_steps = decay_steps,
                         .alpha = alpha};
}

/* optax.warmup_cosine_decay_schedule (exponent 1). */
jx_schedule jx_sched_warmup_cosine(double init, double peak, int64_t warmup_steps,
                                   int64_t decay_steps, double end) {
    return (jx_schedule){.kind = JX_SCHED_WARMUP_COSINE, .init = init, .peak = peak,
                         .warmup_steps = warmup_steps, .decay_steps = decay_steps, .end = end};
}

/* optax.piecewise_constant_schedule; n out of range gives a schedule that fails its check. */
jx_schedule jx_sched_piecewise(double init, int n, const int64_t *boundaries,
                               const double *scales) {
    jx_schedule s = {.kind = JX_SCHED_PIECEWISE, .init = init, .n_pieces = n};
    for (int i = 0; i < n && i < JX_SCHED_MAX_PIECES && boundaries && scales; i++) {
        s.boundaries[i] = boundaries[i];
        s.scales[i] = scales[i];
    }
    return s;
}

/* 0 if s is a valid schedule, else -1 with an error naming the bad field. */
static int os_check(const jx_schedule *s) {
    if (!s) return util_err("schedule: NULL");
    if (!isfinite(s->init)) return util_err("schedule: init %g is not finite", s->init);
    switch (s->kind) {
    case JX_SCHED_CONSTANT: return 0;
    case JX_SCHED_EXPONENTIAL:
        if (s->transition_steps <= 0 || s->begin < 0 || !isfinite(s->rate) || s->rate <= 0)
            return util_err("exponential schedule: need transition_steps > 0 (got %lld), "
                            "begin >= 0 (%lld) and a finite rate > 0 (%g)",
                            (long long)s->transition_steps, (long long)s->begin, s->rate);
        return 0;
    case JX_SCHED_COSINE:
        if (s->decay_steps <= 0 || !isfinite(s->alpha))
            return util_err("cosine schedule: need decay_steps > 0 (got %lld) and a finite "
                            "alpha (%g)", (long long)s->decay_steps, s->alpha);
        return 0;
    case JX_SCHED_WARMUP_COSINE:
        if (s->warmup_steps < 0 || s->decay_steps <= s->warmup_steps || !isfinite(s->peak) ||
            s->peak == 0 || !isfinite(s->end))
            return util_err("warmup_cosine schedule: need 0 <= warmup_steps (%lld) < "
                            "decay_steps (%lld), a finite nonzero peak (%g) and finite end (%g)",
                            (long long)s->warmup_steps, (long long)s->decay_steps, s->peak,
                            s->end);
        return 0;
    case JX_SCHED_PIECEWISE:
        if (s->n_pieces < 0 || s->n_pieces > JX_SCHED_MAX_PIECES)
            return util_err("piecewise schedule: %d pieces, expected 0..%d", s->n_pieces,
                            JX_SCHED_MAX_PIECES);
        for (int i = 0; i < s->n_pieces; i++)
            if (s->boundaries[i] < 0 || (i && s->boundaries[i] < s->boundaries[i - 1]) ||
                !isfinite(s->scales[i]))
                return util_err("piecewise schedule: piece %d (boundary %lld, scale %g): "
                                "boundaries must be >= 0 and nondecreasing, scales finite", i,
                                (long long)s->boundaries[i], s->scales[i]);
        return 0;
    default: return util_err("schedule: unknown kind %d", (int)s->kind);
    }
}

/* optax's cosine decay from init over steps at count c (clamped to steps). */
static double os_cosine(double init, double steps, double alpha, double c) {
    c = c < steps ? c : steps;
    double cd = 0.5 * (1.0 + cos(OS_PI * c / steps));
    return init * ((1.0 - alpha) * cd + alpha);
}

/* See optim.h. */
double jx_schedule_value(const jx_schedule *s, int64_t count) {
    if (os_check(s) < 0) return NAN;
    double c = (double)count;
    switch (s->kind) {
    case JX_SCHED_EXPONENTIAL: {
        double x = c - (double)s->begin, p = (x > 0 ? x : 0) / (double)s->transition_steps;
        return s->init * pow(s->rate, s->staircase ? floor(p) : p);
    }
    case JX_SCHED_COSINE: return os_cosine(s->init, (double)s->decay_steps, s->alpha, c);
    case JX_SCHED_WARMUP_COSINE: {
        double w = (double)s->warmup_steps;
        if (c < w) {
            double x = c > 0 ? c : 0;
            return (s->init - s->peak) * (1.0 - x / w) + s->peak;
        }
        return os_cosine(s->peak, (double)s->decay_steps - w, s->end / s->peak, c - w);
    }
    case JX_SCHED_PIECEWISE: {
        double v = s->init;
        for (int i = 0; i < s->n_pieces; i++)
            if (count >= s->boundaries[i]) v = v * s->scales[i];
        return v;
    }
    default: return s->init;
    }
}

/* os_cosine traced: c an f64 scalar. */
static jx_val os_cosine_at(jx_loc loc, double init, double steps, double alpha, jx_val c) {
    jx_val st = jx_lit_at(loc, c, steps);
    c = jx_min_at(loc, c, st);
    jx_val ang = jx_div_at(loc, jx_mul_at(loc, jx_lit_at(loc, c, OS_PI), c), st);
    jx_val cd = jx_mul_at(loc, jx_lit_at(loc, c, 0.5),
                          jx_add_at(loc, jx_lit_at(loc, c, 1.0), jx_cos_at(loc, ang)));
    jx_val d = jx_add_at(loc, jx_mul_at(loc, jx_lit_at(loc, c, 1.0 - alpha), cd),
                         jx_lit_at(loc, c, alpha));
    return jx_mul_at(loc, jx_lit_at(loc, c, init), d);
}

/* The traced formula of the (checked) schedule s at the f64 count c. */
static jx_val os_value_at(jx_loc loc, const jx_schedule *s, jx_val c) {
    switch (s->kind) {
    case JX_SCHED_EXPONENTIAL: {
        jx_val x = jx_sub_at(loc, c, jx_lit_at(loc, c, (double)s->begin));
        x = jx_max_at(loc, x, jx_lit_at(loc, c, 0.0));
        jx_val p = jx_div_at(loc, x, jx_lit_at(loc, c, (double)s->transition_steps));
        if (s->staircase) p = jx_floor_at(loc, p);
        return jx_mul_at(loc, jx_lit_at(loc, c, s->init), jx_pow_at(loc, jx_lit_at(loc, c, s->rate), p));
    }
    case JX_SCHED_COSINE: return os_cosine_at(loc, s->init, (double)s->decay_steps, s->alpha, c);
    case JX_SCHED_WARMUP_COSINE: {
        double w = (double)s->warmup_steps;
        jx_val wv = jx_lit_at(loc, c, w);
        jx_val cos = os_cosine_at(loc, s->peak, (double)s->decay_steps - w, s->end / s->peak,
                                  jx_sub_at(loc, c, wv));
        if (s->warmup_steps == 0) return cos;
        jx_val x = jx_max_at(loc, c, jx_lit_at(loc, c, 0.0));
        jx_val frac = jx_sub_at(loc, jx_lit_at(loc, c, 1.0), jx_div_at(loc, x, wv));
        jx_val lin = jx_add_at(loc, jx_mul_at(loc, jx_lit_at(loc, c, s->init - s->peak), frac),
                               jx_lit_at(loc, c, s->peak));
        return jx_select_at(loc, jx_lt_at(loc, c, wv), lin, cos);
    }
    case JX_SCHED_PIECEWISE: {
        jx_val v = jx_lit_at(loc, c, s->init);
        for (int i = 0; i < s->n_pieces; i++) {
            jx_val hit = jx_ge_at(loc, c, jx_lit_at(loc, c, (double)s->boundaries[i]));
            v = jx_select_at(loc, hit, jx_mul_at(loc, v, jx_lit_at(loc, c, s->scales[i])), v);
        }
        return v;
    }
    default: return jx_lit_at(loc, c, s->init);
    }
}

/* See optim.h. */
jx_val jx_schedule_at(jx_loc loc, const jx_schedule *s, jx_val count) {
    if (jx_val_bad(count)) return count;
    jx_type ct = jx_val_type(count);
    char b[64];
    if (ct.rank != 0 || ct.dtype == JX_F32 || ct.dtype == JX_F64)
        return trace_fail(count.t, loc, "schedule", "the count must be an integer scalar, got %s",
                          jx_type_str(&ct, b, sizeof b));
    if (os_check(s) < 0) return trace_fail(count.t, loc, "schedule", "%s", jx_error());
    return os_value_at(loc, s, jx_convert_at(loc, count, JX_F64));
}
