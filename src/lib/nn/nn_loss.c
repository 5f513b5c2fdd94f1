/* Losses, accuracy and dropout, as composites of jx.h primitives. Shapes are checked up
 * front so a mismatch names the loss and both operand types at the user's line. */
#include <stdio.h>
#include <string.h>

#include <jx/nn.h>

#include "core/trace.h"

#define NNS_TBUF 200 /* room for a type string */

/* A poison value for a failed check on v (v itself when it already is poison). */
static jx_val nns_poison(jx_val v) { return jx_val_bad(v) ? v : trace_val(v.t, -1); }

static int nns_is_float(jx_dtype dt) { return dt == JX_F32 || dt == JX_F64; }
static int nns_is_int(jx_dtype dt) { return dt == JX_I32 || dt == JX_U32; }

/* Records "what" for op with both operand types; returns poison. */
static jx_val nns_fail2(jx_loc loc, const char *op, jx_val a, jx_val b, const char *what) {
    jx_type at = jx_val_type(a), bt = jx_val_type(b);
    char sa[NNS_TBUF], sb[NNS_TBUF];
    return trace_fail(a.t, loc, op, "%s (got %s and %s)", what, jx_type_str(&at, sa, sizeof sa),
                      jx_type_str(&bt, sb, sizeof sb));
}

/* 1 if labels has the shape of logits without its last axis. */
static int nns_label_shape(const jx_type *logits, const jx_type *labels) {
    if (labels->rank != logits->rank - 1) return 0;
    for (int i = 0; i < labels->rank; i++)
        if (labels->shape[i] != logits->shape[i]) return 0;
    return 1;
}

/* Checks logits (float, rank >= 1) against integer labels[...]; 0 or -1 (error named op). */
static int nns_check_labels(jx_loc loc, const char *op, jx_val logits, jx_val labels) {
    if (jx_val_bad(logits) || jx_val_bad(labels)) return -1;
    jx_type lt = jx_val_type(logits), yt = jx_val_type(labels);
    if (!nns_is_float(lt.dtype) || lt.rank < 1) {
        nns_fail2(loc, op, logits, labels, "logits must be floating point of rank >= 1");
        return -1;
    }
    if (!nns_is_int(yt.dtype)) {
        nns_fail2(loc, op, logits, labels, "labels must be integer (i32 or u32)");
        return -1;
    }
    if (!nns_label_shape(&lt, &yt)) {
        nns_fail2(loc, op, logits, labels,
                  "labels must have the shape of logits without the class axis");
        return -1;
    }
    return 0;
}

/* -log_softmax(logits)[label], selected with eq(iota, label) so that -inf logits of other
 * classes do not turn into NaN. */
jx_val jx_softmax_cross_entropy_at(jx_loc loc, jx_val logits, jx_val labels) {
    if (nns_check_labels(loc, "softmax_cross_entropy", logits, labels) < 0)
        return nns_poison(jx_val_bad(logits) ? logits : labels);
    jx_type lt = jx_val_type(logits);
    jx_val ls = jx_log_softmax_at(loc, logits, -1);
    jx_val hot = jx_one_hot_at(loc, labels, (int)lt.shape[lt.rank - 1], JX_BOOL);
    jx_val picked = jx_select_at(loc, hot, ls, jx_lit_at(loc, ls, 0.0));
    return jx_neg_at(loc, jx_sum_at(loc, picked, -1, 0));
}

/* -sum(targets * log_softmax(logits), -1). */
jx_val jx_softmax_cross_entropy_onehot_at(jx_loc loc, jx_val logits, jx_val targets) {
    const char *op = "softmax_cross_entropy_onehot";
    if (jx_val_bad(logits)) return logits;
    if (jx_val_bad(targets)) return nns_poison(targets);
    jx_type lt = jx_val_type(logits), tt = jx_val_type(targets);
    if (!nns_is_float(lt.dtype) || lt.rank < 1 || !jx_type_eq(&lt, &tt))
        return nns_fail2(loc, op, logits, targets,
                         "logits and targets must be floating point of one type, rank >= 1");
    jx_val ls = jx_log_softmax_at(loc, logits, -1);
    return jx_neg_at(loc, jx_sum_at(loc, jx_mul_at(loc, targets, ls), -1, 0));
}

/* -sum(targets * log(clip(probs, eps, 1 - eps)), -1). */
jx_val jx_categorical_cross_entropy_at(jx_loc loc, jx_val probs, jx_val targets, double eps) {
    const char *op = "categorical_cross_entropy";
    if (jx_val_bad(probs)) return probs;
    if (jx_val_bad(targets)) return nns_poison(targets);
    jx_type pt = jx_val_type(probs), tt = jx_val_type(targets);
    if (!nns_is_float(pt.dtype) || pt.rank < 1 || !jx_type_eq(&pt, &tt))
        return nns_fail2(loc, op, probs, targets,
                         "probs and targets must be floating point of one type, rank >= 1");
    jx_val p = eps > 0 ? jx_clip_at(loc, probs, eps, 1.0 - eps) : probs;
    return jx_neg_at(loc, jx_sum_at(loc, jx_mul_at(loc, targets, jx_log_at(loc, p)), -1, 0));
}

/* mean((pred - target)^2) over every element. */
jx_val jx_mse_at(jx_loc loc, jx_val pred, jx_val target) {
    if (jx_val_bad(pred)) return pred;
    if (jx_val_bad(target)) return nns_poison(target);
    jx_type pt = jx_val_type(pred), tt = jx_val_type(target);
    if (!nns_is_float(pt.dtype) || !jx_type_eq(&pt, &tt))
        return nns_fail2(loc, "mse", pred, target,
                         "pred and target must be floating point of one type");
    jx_val d = jx_sub_at(loc, pred, target);
    return jx_mean_all_at(loc, jx_mul_at(loc, d, d));
}

/* argmax(logits, -1) == labels as f32 (one-hot labels through their argmax), for op;
 * poison after recording the error on bad operands. */
static jx_val nns_hits(jx_loc loc, const char *op, jx_val logits, jx_val labels) {
    if (jx_val_bad(logits)) return logits;
    if (jx_val_bad(labels)) return nns_poison(labels);
    jx_type lt = jx_val_type(logits), yt = jx_val_type(labels);
    if (lt.rank < 1 || !nns_is_float(lt.dtype))
        return nns_fail2(loc, op, logits, labels, "logits must be floating point of rank >= 1");
    int ax = lt.rank - 1;
    jx_val y = labels;
    if (nns_is_float(yt.dtype) && jx_type_eq(&lt, &yt)) y = jx_argmax_at(loc, labels, ax, JX_I32);
    else if (!nns_is_int(yt.dtype) || !nns_label_shape(&lt, &yt))
        return nns_fail2(loc, op, logits, labels,
                         "labels must be integers of logits' shape without the class axis, "
                         "or one-hot of logits' type");
    jx_val pred = jx_argmax_at(loc, logits, ax, jx_val_type(y).dtype);
    return jx_convert_at(loc, jx_eq_at(loc, pred, y), JX_F32);
}

/* mean(argmax(logits, -1) == labels) as f32. */
jx_val jx_accuracy_at(jx_loc loc, jx_val logits, jx_val labels) {
    return jx_mean_all_at(loc, nns_hits(loc, "accuracy", logits, labels));
}

/* sum(argmax(logits, -1) == labels) as f32. */
jx_val jx_count_correct_at(jx_loc loc, jx_val logits, jx_val labels) {
    return jx_sum_all_at(loc, nns_hits(loc, "count_correct", logits, labels));
}

/* select(bernoulli(key, 1 - rate), x / (1 - rate), 0) when training. */
jx_val jx_dropout_at(jx_loc loc, jx_val key, jx_val x, double rate, int train) {
    if (jx_val_bad(x)) return x;
    if (!train || !(rate > 0)) return x;
    jx_type xt = jx_val_type(x);
    char sx[NNS_TBUF];
    if (!nns_is_float(xt.dtype))
        return trace_fail(x.t, loc, "dropout", "expected a floating-point x, got %s",
                          jx_type_str(&xt, sx, sizeof sx));
    if (rate >= 1) return jx_zeros_like_at(loc, x);
    if (jx_val_bad(key))
        return key.t ? key : trace_fail(x.t, loc, "dropout", "training needs a key u32[2]");
    jx_ints shape = {xt.rank, {0}};
    for (int i = 0; i < xt.rank; i++) shape.v[i] = xt.shape[i];
    jx_val keep = jx_random_bernoulli_at(loc, key, 1.0 - rate, shape);
    jx_val scaled = jx_div_at(loc, x, jx_lit_at(loc, x, 1.0 - rate));
    return jx_select_at(loc, keep, scaled, jx_lit_at(loc, x, 0.0));
}

/* select(uniform(key) < 1 - rate, x / (1 - rate), 0) when training, the divisor 1 where
 * 1 - rate <= 0 (nothing is kept there) so that no inf/NaN reaches the gradient. */
jx_val jx_dropout_rate_at(jx_loc loc, jx_val key, jx_val x, jx_val rate, int train) {
    if (jx_val_bad(x)) return x;
    if (jx_val_bad(rate)) return rate.t ? rate : trace_fail(x.t, loc, "dropout", "NULL rate");
    jx_type xt = jx_val_type(x), rt = jx_val_type(rate);
    char sx[NNS_TBUF], sr[NNS_TBUF];
    if (!nns_is_float(xt.dtype) || !nns_is_float(rt.dtype) || rt.rank != 0)
        return trace_fail(x.t, loc, "dropout", "expected a floating-point x and a float scalar "
                          "rate, got x %s and rate %s", jx_type_str(&xt, sx, sizeof sx),
                          jx_type_str(&rt, sr, sizeof sr));
    if (!train) return x;
    if (jx_val_bad(key))
        return key.t ? key : trace_fail(x.t, loc, "dropout", "training needs a key u32[2]");
    jx_type ut = xt;
    ut.dtype = JX_F32;
    jx_val u = jx_random_uniform_at(loc, key, ut, 0.0, 1.0);
    jx_val p = jx_sub_at(loc, jx_lit_at(loc, rate, 1.0), rate); /* keep probability */
    jx_val pf = rt.dtype == JX_F32 ? p : jx_convert_at(loc, p, JX_F32);
    jx_val keep = jx_lt_at(loc, u, pf);
    jx_val den = jx_select_at(loc, jx_gt_at(loc, p, jx_lit_at(loc, p, 0.0)), p, jx_lit_at(loc, p, 1.0));
    if (rt.dtype != xt.dtype) den = jx_convert_at(loc, den, xt.dtype);
    return jx_select_at(loc, keep, jx_div_at(loc, x, den), jx_lit_at(loc, x, 0.0));
}
