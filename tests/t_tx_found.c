/* Cases found by the transformation fuzzer (tests/fuzz_tx*.h, build/tools/jxfuzz-tx) that
 * were not rule bugs but false reports of its checks, each with a test that the check
 * still catches the kind of bug it is there for. */
#include "check.h"
#include "fuzz_txrun.h"

/* A one-stage case (stage 1 a vjp of h) with the program input in0; *x is a fresh
 * context of the case counting into st. */
static void ttf_case(ft_case *c, ft_ctx *x, ft_stats *st, jx_fn *h, jx_array *in0) {
    memset(c, 0, sizeof *c);
    c->g = calloc(1, sizeof *c->g);
    c->g->s = 42;
    c->prog.fn = h, c->prog.n_in = 1, c->prog.in[0] = in0;
    c->st[0] = (ft_stage){.kind = FT_BASE, .fn = h};
    c->st[1] = (ft_stage){.kind = FT_VJP, .fn = jx_vjp(h, NULL)};
    c->n = 2;
    memset(x, 0, sizeof *x);
    x->c = c, x->st = st;
}

/* Frees the case (h is the caller's). */
static void ttf_case_free(ft_case *c) {
    c->prog.fn = NULL;
    ft_case_free(c);
}

/* h(a) = (exp((g - a) + a), (g - a) - a) with g near 74: the first output does not move
 * with a, but its cotangent exp(74) ct0 ~ 1e32 reaches g - a and a beside the second
 * output's cotangent ~ 1, which it swamps (ct of g - a is 1e32 + ct1). */
static void ttf_cancel(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_array *c = jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){74.2, 71.5, 73.9});
    jx_val g = jx_constant(t, c), k = jx_sub(g, in[0]);
    jx_array_free(c);
    out[0] = jx_exp(jx_add(k, in[0]));
    out[1] = jx_sub(k, in[0]);
}

/* Found by the fuzzer (seed 569849, dot-product test at stage 3): a program whose reverse
 * mode must add a cotangent of 1e32 and one of 1 at one node (exp(|reduce_min(...)|) of
 * a value that cancels, beside a min/dot_general path) lost the small one, as any vjp in
 * f64 would; the test flagged it because its rounding allowance was capped at 1e-2 of
 * the result. The check must skip this case as holding no reliable digit, and the vjp
 * must really be off by more than the old cap (else the case tests nothing). */
TEST(fuzz_tx_found_dot_reverse_cancel) {
    jx_type ty = JX_TYPE(JX_F64, 3);
    jx_fn *h = jx_trace(ttf_cancel, 1, &ty, 2, NULL);
    CHECK(h != NULL);
    ft_stats st;
    memset(&st, 0, sizeof st);
    ft_case c;
    ft_ctx x;
    ttf_case(&c, &x, &st, h, jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){0.5, -1.25, 2}));
    ft_ad a;
    memset(&a, 0, sizeof a);
    CHECK(ft_ad_init(&x, &a, 1));
    double lhs, rhs, mag;
    ft_dot_sides(&a, a.PJ, a.PV, &lhs, &rhs, &mag);
    CHECK(fabs(lhs - rhs) > 0.1 * fabs(lhs)); /* the vjp's rounding */
    ft_check_dot(&x, &a);
    CHECK(st.failed[FTC_DOT] == 0 && st.skipped[FTC_DOT] == 1 && st.dot_reverse == 1);
    if (st.failed[FTC_DOT]) printf("  %s\n", x.what);
    ft_ad_free(&a, h);
    ttf_case_free(&c);
    jx_fn_free(h);
}

/* h(u) = exp(pad([58.95, 45.38, 39.81], u, lo -1, hi -1, interior 1)) = exp([u, 45.38, u]). */
static void ttf_pad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_array *c = jx_array_from(JX_F64, 1, (int64_t[]){3}, (double[]){58.95, 45.38, 39.81});
    jx_val bm = jx_constant(t, c);
    jx_array_free(c);
    out[0] = jx_exp(jx_pad(bm, in[0], JX_INTS(-1), JX_INTS(-1), JX_INTS(1)));
}

/* The vjp of ttf_pad with pad's old rule (fixed in f1ca96f): u's cotangent as
 * sum(ct_y) - ct_y[1], which cancels to 0 beside exp(45.38). */
static void ttf_pad_old_vjp(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val y[1];
    ttf_pad(t, in, y, NULL);
    jx_val cy = jx_mul(in[1], y[0]);
    out[0] = y[0];
    jx_val mid = jx_slice(cy, JX_INTS(1), JX_INTS(2), JX_INTS(1));
    out[1] = jx_sub(jx_reduce_sum(cy, JX_INTS(0)), jx_reduce_sum(mid, JX_INTS(0)));
}

/* The dot-product test still reports a vjp rule that cancels huge cotangents of its own
 * making (pad's old rule), where the program's reverse mode holds no such sum. */
TEST(fuzz_tx_dot_rule_cancel_caught) {
    jx_type ty = JX_SCALAR(JX_F64), vt[2] = {JX_SCALAR(JX_F64), JX_TYPE(JX_F64, 3)};
    jx_fn *h = jx_trace(ttf_pad, 1, &ty, 1, NULL);
    CHECK(h != NULL);
    for (int wrong = 0; wrong < 2 && h; wrong++) {
        ft_stats st;
        memset(&st, 0, sizeof st);
        ft_case c;
        ft_ctx x;
        ttf_case(&c, &x, &st, h, jx_array_scalar(JX_F64, 2.0));
        ft_ad a;
        memset(&a, 0, sizeof a);
        CHECK(ft_ad_init(&x, &a, 1));
        if (wrong) {
            jx_fn_free(a.V);
            a.V = jx_trace(ttf_pad_old_vjp, 2, vt, 2, NULL);
            ft_free_all(2, a.PV);
            CHECK(ft_interp2(a.V, a.x, 1, a.ct, 1, a.PV) == 0);
        }
        ft_check_dot(&x, &a);
        CHECK(st.run[FTC_DOT] == 1 && st.failed[FTC_DOT] == wrong);
        ft_ad_free(&a, h);
        ttf_case_free(&c);
    }
    jx_fn_free(h);
}

/* (The fuzzer's own seed 569849 is not replayed here: the programs a seed generates
 * depend on the primitive table, so any new primitive changes them. The reduced case
 * above is the regression test.) */

TEST_MAIN()
