/* The graph-replay driver (src/core/replay.c) shared by grad, jvp, vmap, inlining and the
 * simplifier: visiting order (forward, backward, live mask), where a walk stops (a failing
 * rule, a rule that records an error or yields no value, but not an error already on the
 * trace), the operand cap, and replay_fn's hooks and error path. */
#include "check.h"
#include "core/replay.h"
#include "transform/transform.h"

/* f(a) = add(sin a, sin a), with a dead node neg a (node 2) in between. */
static const char *rp_text = "{ lambda ; a:f32[3]. let\n"
                             "    b:f32[3] = sin a\n"
                             "    c:f32[3] = neg a\n"
                             "    d:f32[3] = add b b\n"
                             "  in (d) }";

/* What a test rule saw and how it should misbehave. */
typedef struct rp_log {
    int seen[16], n;
    int ok_y; /* backward: every *y on entry was the node's forward value */
    int fail_at, error_at, no_value_at;
} rp_log;

/* Records i; re-emits the node (forward); fails, records an error or yields nothing at
 * the node the log names. */
static int rp_rule(replay *r, int i, const jx_val *x, jx_val *y) {
    rp_log *lg = r->ctx;
    lg->seen[lg->n++] = i;
    if (i == lg->fail_at) {
        trace_fail(r->t, r->f->nodes[i].loc, "rp", "rule failed at %d", i);
        return -1;
    }
    if (i == lg->error_at) trace_fail(r->t, r->f->nodes[i].loc, "rp", "error at %d", i);
    if (i == lg->no_value_at) return 0; /* leaves *y as the driver set it */
    *y = tx_replay(r->t, &r->f->nodes[i], x);
    return 0;
}

/* Backward rule: records i and checks *y against the map. */
static int rp_back(replay *r, int i, const jx_val *x, jx_val *y) {
    rp_log *lg = r->ctx;
    (void)x;
    lg->seen[lg->n++] = i;
    lg->ok_y &= y->t == r->t && y->id == r->map[i];
    return 0;
}

/* A trace with f's inputs and a replay of f into it (map has 8 entries). */
static replay rp_begin(const jx_fn *f, int32_t *map, rp_log *lg) {
    jx_type ty = JX_TYPE(JX_F32, 3);
    replay r = {f, jx_trace_begin(1, &ty), map, NULL, {"t_replay", 0}, lg, 0};
    map[0] = 0;
    *lg = (rp_log){{0}, 0, 1, -1, -1, -1};
    return r;
}

TEST(forward_then_backward_order_with_live_mask) {
    jx_fn *f = jx_fn_parse(rp_text);
    CHECK(f != NULL);
    int32_t map[8] = {0};
    rp_log lg;
    replay r = rp_begin(f, map, &lg);
    unsigned char live[4] = {1, 1, 0, 1};
    r.live = live;
    CHECK(replay_walk(&r, 0, rp_rule) == 0);
    CHECK(lg.n == 2 && lg.seen[0] == 1 && lg.seen[1] == 3);
    CHECK(r.t->fn->n_nodes == 3); /* the dead node was not emitted */
    lg.n = 0;
    CHECK(replay_walk(&r, 1, rp_back) == 0);
    CHECK(lg.n == 2 && lg.seen[0] == 3 && lg.seen[1] == 1);
    CHECK(lg.ok_y);
    jx_trace_abort(r.t);
    jx_fn_free(f);
}

TEST(a_failing_rule_stops_the_walk) {
    jx_fn *f = jx_fn_parse(rp_text);
    int32_t map[8] = {0};
    rp_log lg;
    replay r = rp_begin(f, map, &lg);
    lg.fail_at = 2;
    CHECK(replay_walk(&r, 0, rp_rule) == -1);
    CHECK(lg.n == 2 && lg.seen[1] == 2); /* node 3 never visited */
    CHECK_CONTAINS(jx_trace_error(r.t), "rule failed at 2");
    jx_trace_abort(r.t);
    jx_fn_free(f);
}

TEST(an_error_recorded_by_a_rule_stops_the_walk) {
    jx_fn *f = jx_fn_parse(rp_text);
    int32_t map[8] = {0};
    rp_log lg;
    replay r = rp_begin(f, map, &lg);
    lg.error_at = 1; /* records an error, still returns a value and 0 */
    CHECK(replay_walk(&r, 0, rp_rule) == -1);
    CHECK(lg.n == 1);
    CHECK_CONTAINS(jx_trace_error(r.t), "error at 1");
    jx_trace_abort(r.t);
    jx_fn_free(f);
}

TEST(a_rule_without_a_value_stops_the_walk) {
    jx_fn *f = jx_fn_parse(rp_text);
    int32_t map[8] = {-7, -7, -7, -7, -7, -7, -7, -7};
    rp_log lg;
    replay r = rp_begin(f, map, &lg);
    lg.no_value_at = 2;
    CHECK(replay_walk(&r, 0, rp_rule) == -1);
    CHECK(lg.n == 2 && map[2] == -7); /* the map keeps no bad id */
    jx_trace_abort(r.t);
    jx_fn_free(f);
}

/* An error the user's trace already has does not stop inlining (jx_call): the call's
 * equations are still emitted and its outputs are real values. */
TEST(an_earlier_error_does_not_stop_inlining) {
    jx_fn *f = jx_fn_parse(rp_text);
    jx_type ty = JX_TYPE(JX_F32, 3);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_trace_fail(t, "an earlier error");
    jx_val a = trace_val(t, 0), out = {NULL, -1};
    CHECK(jx_call(f, &a, &out) == 0);
    CHECK(!jx_val_bad(out));
    CHECK_CONTAINS(jx_trace_error(t), "an earlier error");
    jx_trace_abort(t);
    jx_fn_free(f);
}

/* concatenate of n copies of a: f32[n]; through jx_simplify (simp_replay). */
static jx_fn *rp_concat(int n) {
    jx_type ty = JX_TYPE(JX_F32, 1), out = JX_TYPE(JX_F32, n);
    jx_fn *f = ir_fn_new(1, &ty);
    int32_t ins[JX_MAX_OPERANDS + 1] = {0}, id = -1;
    int64_t dim = 0;
    jx_attrs at = {{1, 0, 0, 0}, {&dim, NULL, NULL, NULL}, NULL, 0, NULL};
    if (f) id = ir_fn_append(f, JX_OP_CONCATENATE, n, ins, &out, &at, (jx_loc){"rp", 1});
    if (id < 0 || ir_fn_set_outputs(f, 1, &id) < 0) {
        jx_fn_free(f);
        return NULL;
    }
    return f;
}

TEST(operand_cap_is_checked_not_overrun) {
    jx_fn *f = rp_concat(JX_MAX_OPERANDS);
    CHECK(f != NULL);
    jx_fn *g = jx_simplify(f);
    CHECK(g != NULL);
    jx_fn_free(g);
    jx_fn_free(f);
    f = rp_concat(JX_MAX_OPERANDS + 1);
    CHECK(f != NULL);
    g = jx_simplify(f);
    CHECK(g == NULL);
    CHECK_CONTAINS(jx_error(), "at most 64");
    jx_fn_free(f);
}

/* replay_fn hooks: counts finish calls; end fails on demand. */
static int rp_finish_calls;
static jx_fn *rp_finish(jx_trace *t, int n_out, const jx_val *outs) {
    rp_finish_calls++;
    return jx_trace_end(t, n_out, outs);
}
static int rp_end(replay *r, jx_val *outs) {
    int *fail = r->ctx;
    if (*fail) {
        trace_fail(r->t, r->loc, "rp_end", "end hook failed");
        return -1;
    }
    outs[0] = trace_val(r->t, r->map[r->f->outs[0]]);
    outs[1] = trace_val(r->t, 0);
    return 0;
}

TEST(replay_fn_hooks_and_failure) {
    jx_fn *f = jx_fn_parse(rp_text);
    int fail = 0;
    rp_finish_calls = 0;
    replay_spec spec = {.what = "rp", .n_out = 2, .end = rp_end, .finish = rp_finish};
    jx_fn *g = replay_fn(f, &spec, &fail);
    CHECK(g != NULL && jx_fn_n_out(g) == 2 && rp_finish_calls == 1);
    CHECK(g && g->n_nodes == 4); /* replayed as is, dead node included (no live mask) */
    jx_fn_free(g);
    fail = 1;
    g = replay_fn(f, &spec, &fail);
    CHECK(g == NULL && rp_finish_calls == 1);
    CHECK_CONTAINS(jx_error(), "end hook failed");
    jx_fn_free(f);
}

TEST_MAIN()
