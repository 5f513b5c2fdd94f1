/* The graph-replay driver shared by every IR-to-IR transformation: grad, jvp, vmap,
 * inlining (jx_call) and the simplifier walk a function's equations through a per-node
 * rule with this one loop, which maps operands, records each node's new value, and stops
 * at the first error. It depends on the tracer only (trace.h), so the tracer itself can
 * use it for inlining. */
#ifndef JX_REPLAY_H
#define JX_REPLAY_H

#include "core/trace.h"

typedef struct replay replay;

/* A per-node rule, called for equation i of r->f with x[k] = the value in r->t of its
 * operand k (through r->map). Forward walk: set *y to the node's value in r->t (the driver
 * stores it in r->map[i]). Backward walk: *y holds the node's value on entry (the forward
 * walk's result) and the map is left alone. Returns 0, or -1 after recording an error on
 * r->t (trace_fail).
 *
 * Units (r->units set): a multi-result node i (ir.h) and the k gets after it are visited
 * once, as one unit, and the gets never on their own. The rule is called for i with y
 * pointing to k values, its results: forward, it sets y[j] to the value of get i + 1 + j
 * (the driver maps the gets to them; node i itself maps to no value, -1), so a rule may
 * replace the node by any nodes, or by another multi-result node and its gets; backward,
 * y[j] holds get i + 1 + j's forward value. Without units every node, get or not, is
 * visited on its own. */
typedef int (*replay_rule)(replay *r, int i, const jx_val *x, jx_val *y);

/* One replay of f into t. */
struct replay {
    const jx_fn *f;             /* the function replayed */
    jx_trace *t;                /* the trace it is replayed into */
    int32_t *map;               /* f's node id -> id in t (f->n_nodes entries) */
    const unsigned char *live;  /* f's equations to visit (NULL: all) */
    jx_loc loc;                 /* location for re-emitted nodes that have none */
    void *ctx;                  /* the rule's own state */
    int units;                  /* multi-result nodes visited as units (see replay_rule) */
};

/* Walks f's equations (ids n_in..n_nodes-1 with live[i] set) first to last, or last to
 * first when backward is set, calling rule on each (NULL, forward only: re-emit the node
 * unchanged, with its own location or r->loc). Stops at the first node whose rule fails,
 * yields no value of r->t (forward), or records a new error on r->t; an error already on
 * t when the walk starts does not stop it. Returns 0 or -1 (error recorded on r->t). */
int replay_walk(replay *r, int backward, replay_rule rule);

/* The default forward rule: node i re-emitted unchanged on x (with its own location, or
 * r->loc); with r->units, a multi-result node is re-emitted with its gets
 * (trace_emit_multi) into y[0..k). */
int replay_copy(replay *r, int i, const jx_val *x, jx_val *y);

/* How replay_fn builds one transformed function from f. */
typedef struct replay_spec {
    const char *what;          /* the transformation's name, for errors ("jvp") */
    int n_in;                  /* inputs of the new function: f's inputs come first, */
    const jx_type *in_types;   /*   then any extra ones; NULL: exactly f's inputs */
    int n_out;                 /* outputs of the new function */
    const unsigned char *live; /* f's equations to replay (NULL: all) */
    int units;                 /* visit multi-result nodes as units (see replay_rule) */
    /* after f's inputs are mapped to the new inputs 0..f->n_in-1, before the walk */
    int (*start)(replay *r);
    replay_rule rule; /* the forward rule (NULL: re-emit nodes unchanged) */
    /* after the walk: fills outs[0..n_out) (may walk again, as grad's backward pass);
     * NULL: outs are f's outputs through the map (n_out == f->n_out) */
    int (*end)(replay *r, jx_val *outs);
    /* ends the trace (consuming it); NULL: jx_trace_end (e.g. tx_finish to simplify) */
    jx_fn *(*finish)(jx_trace *t, int n_out, const jx_val *outs);
} replay_spec;

/* Replays f through spec's hooks into a new trace and returns the new function, or NULL
 * with jx_error() set (the trace's first error when the replay failed). */
jx_fn *replay_fn(const jx_fn *f, const replay_spec *spec, void *ctx);

#endif
