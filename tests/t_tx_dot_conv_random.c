/* Transformation rules of dot_general (conv and threefry2x32 are in
 * t_tx_conv_threefry.c): vjp and jvp against finite differences; vmap against a
 * loop over the batch for every in_axes choice; the efficient forms of the batch rules
 * (one dot_general per batched matvec, no transposes of unbatched operands); compositions
 * (grad of grad, vmap of grad, grad of vmap, vmap of vmap).
 *
 * Tolerances: the functions here are linear or quadratic in f64, so central differences
 * with h = 1e-6 are exact up to rounding (~1e-10 relative); txc_grad is checked at 1e-6.
 * vmap results are compared at 1e-12 (f64: the batched op adds the same products in the
 * same order as the per-example op, so they agree to rounding) and exactly for integers. */
#include "txcheck.h"
#include "core/ir.h"
#include "prims/threefry.h"

/* ---- helpers ------------------------------------------------------------------------ */

#include "tdc_util.h"

/* Number of nodes with op op (a transpose, a broadcast) applied directly to input `in` of
 * f (any input if in < 0). */
static int tdc_moves_of_input(const jx_fn *f, jx_op op, int in) {
    int c = 0;
    for (int i = f ? f->n_in : 0; f && i < f->n_nodes; i++)
        if (f->nodes[i].op == op && f->nodes[i].nin > 0 &&
            (in < 0 ? f->nodes[i].in[0] < f->n_in : f->nodes[i].in[0] == in))
            c++;
    return c;
}

/* 1 if attribute k of n equals the list v. */
static int tdc_attr_is(const jx_node *n, int k, jx_ints v) {
    jx_ints a = ir_attr_ints(n, k);
    if (a.n != v.n) return 0;
    for (int i = 0; i < a.n; i++)
        if (a.v[i] != v.v[i]) return 0;
    return 1;
}

/* Traces f(a, b) = dot_general(a, b) for configuration d with dtype dt. */
static jx_fn *tdc_dot_fn(const tdc_dot *d, jx_dtype dt) {
    jx_type ts[2] = {d->a, d->b};
    ts[0].dtype = ts[1].dtype = dt;
    jx_trace *t = jx_trace_begin(2, ts);
    jx_val r = jx_dot_general(jx_trace_input(t, 0), jx_trace_input(t, 1), d->lc, d->rc, d->lb,
                              d->rb);
    return tdc_ok(jx_trace_end(t, 1, &r));
}

#define TDC_NDOTS 11
static tdc_dot tdc_dots[TDC_NDOTS];

/* Fills tdc_dots (compound literals are not constant initializers in C11). */
static void tdc_init_dots(void) {
#define F JX_F64
    const tdc_dot d[TDC_NDOTS] = {
    {"matmul", JX_TYPE(F, 3, 4), JX_TYPE(F, 4, 5), JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS},
    {"matvec", JX_TYPE(F, 3, 4), JX_TYPE(F, 4), JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS},
    {"vecmat", JX_TYPE(F, 4), JX_TYPE(F, 4, 3), JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS},
    {"vdot", JX_TYPE(F, 4), JX_TYPE(F, 4), JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS},
    {"outer", JX_TYPE(F, 3), JX_TYPE(F, 2), JX_NOINTS, JX_NOINTS, JX_NOINTS, JX_NOINTS},
    {"scalar_times_matrix", JX_SCALAR(F), JX_TYPE(F, 2, 3), JX_NOINTS, JX_NOINTS, JX_NOINTS,
     JX_NOINTS},
    {"matmul_t_t", JX_TYPE(F, 4, 3), JX_TYPE(F, 5, 4), JX_INTS(0), JX_INTS(1), JX_NOINTS,
     JX_NOINTS},
    /* batch axis 1 on both, contracting lhs 2 with rhs 0 */
    {"batched_nonleading", JX_TYPE(F, 3, 2, 4), JX_TYPE(F, 4, 2, 5), JX_INTS(2), JX_INTS(0),
     JX_INTS(1), JX_INTS(1)},
    /* two contracting axes whose rhs order is not sorted: the cotangent of lhs must undo it */
    {"contract_two_unsorted", JX_TYPE(F, 2, 3, 4), JX_TYPE(F, 4, 5, 2), JX_INTS(0, 2),
     JX_INTS(2, 0), JX_NOINTS, JX_NOINTS},
    /* two batch axes listed in different orders on each side */
    {"two_batch_dims", JX_TYPE(F, 2, 3, 4), JX_TYPE(F, 3, 2, 4, 5), JX_INTS(2), JX_INTS(2),
     JX_INTS(1, 0), JX_INTS(0, 1)},
    /* batch and contraction only: no free dims */
    {"batched_vdot", JX_TYPE(F, 3, 4), JX_TYPE(F, 4, 3), JX_INTS(1), JX_INTS(0), JX_INTS(0),
     JX_INTS(1)},
    };
#undef F
    memcpy(tdc_dots, d, sizeof d);
}

/* txc_vmap of a two-input f for every pair of in_axes choices; returns the count. */
static int tdc_vmap_all2(const jx_fn *f, int64_t bsize, double lo, double hi, double tol) {
    int a0[4], a1[4], n = 0;
    int n0 = tdc_axes(jx_fn_in_type(f, 0).rank, a0), n1 = tdc_axes(jx_fn_in_type(f, 1).rank, a1);
    for (int i = 0; i < n0; i++)
        for (int j = 0; j < n1; j++) {
            int axes[2] = {a0[i], a1[j]};
            int before = check_failed_now;
            txc_vmap(f, axes, bsize, lo, hi, tol);
            if (check_failed_now && !before) printf("  in_axes (%d, %d)\n", axes[0], axes[1]);
            n++;
        }
    return n;
}

/* ---- dot_general -------------------------------------------------------------------- */

TEST(dot_grad) {
    tdc_init_dots();
    for (int i = 0; i < TDC_NDOTS; i++) {
        jx_fn *f = tdc_dot_fn(&tdc_dots[i], JX_F64);
        CHECK(f != NULL);
        int before = check_failed_now;
        if (f) txc_grad(f, -1, 1, 1e-6);
        if (check_failed_now && !before) printf("  case %s\n", tdc_dots[i].name);
        jx_fn_free(f);
    }
}

TEST(dot_vmap_every_in_axes) {
    tdc_init_dots();
    int n = 0;
    for (int i = 0; i < TDC_NDOTS; i++) {
        jx_fn *f = tdc_dot_fn(&tdc_dots[i], JX_F64);
        CHECK(f != NULL);
        int before = check_failed_now;
        if (f) n += tdc_vmap_all2(f, 3, -1, 1, 1e-12);
        if (check_failed_now && !before) printf("  case %s\n", tdc_dots[i].name);
        jx_fn_free(f);
    }
    CHECK(n >= 4 * 4 * TDC_NDOTS - 2 * 4);
}

TEST(dot_vmap_integer_exact) {
    tdc_init_dots();
    for (int i = 0; i < TDC_NDOTS; i += 3) {
        jx_fn *f = tdc_dot_fn(&tdc_dots[i], JX_I32);
        CHECK(f != NULL);
        if (f) tdc_vmap_all2(f, 2, 0, 0, 0);
        jx_fn_free(f);
        f = tdc_dot_fn(&tdc_dots[i], JX_U32);
        if (f) tdc_vmap_all2(f, 2, 0, 0, 0);
        jx_fn_free(f);
    }
}

TEST(dot_vmap_empty_batch_and_dims) {
    tdc_init_dots();
    /* batch size 0 and an operand with a zero dim */
    jx_fn *f = tdc_dot_fn(&tdc_dots[0], JX_F64);
    int axes[2] = {JX_NONE, 0};
    if (f) txc_vmap(f, axes, 0, -1, 1, 0);
    jx_fn_free(f);
    tdc_dot d = {"zero", JX_TYPE(JX_F64, 3, 0), JX_TYPE(JX_F64, 0, 2), JX_INTS(1), JX_INTS(0),
                 JX_NOINTS, JX_NOINTS};
    f = tdc_dot_fn(&d, JX_F64);
    CHECK(f != NULL);
    if (f) tdc_vmap_all2(f, 2, -1, 1, 0);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(f);
}

/* W[3,4] @ x[4] vmapped over x (at axis ax) with W unbatched. */
static jx_fn *tdc_vmapped_matvec(int ax, int64_t bsize, const int *out_axes) {
    jx_fn *f = tdc_dot_fn(&tdc_dots[1], JX_F64);
    int axes[2] = {JX_NONE, ax};
    jx_fn *g = f ? tdc_ok(jx_vmap(f, axes, out_axes, bsize)) : NULL;
    jx_fn_free(f);
    return g;
}

TEST(dot_vmap_matvec_is_one_gemm) {
    tdc_init_dots();
    for (int k = 0; k < 2; k++) {
        int ax = k == 0 ? 0 : -1;
        jx_fn *g = tdc_vmapped_matvec(ax, 7, NULL);
        CHECK(g != NULL);
        if (!g) continue;
        /* one dot_general straight on the inputs X and W[3,4] (operands swapped so the
         * batch lands first): X . W^T -> [7,3]; nothing touches W, nothing is moved */
        CHECK(tdc_count(g, JX_OP_DOT_GENERAL) == 1);
        const jx_node *d = tdc_find(g, JX_OP_DOT_GENERAL);
        CHECK(d && d->in[0] == 1 && d->in[1] == 0);
        CHECK(tdc_count(g, JX_OP_TRANSPOSE) == 0);
        CHECK(tdc_count(g, JX_OP_BROADCAST_IN_DIM) == 0);
        CHECK(tdc_count(g, JX_OP_REDUCE_SUM) == 0);
        /* no dot batch dims: a plain matrix-matrix product */
        CHECK(d && tdc_attr_is(d, 2, JX_NOINTS) && tdc_attr_is(d, 3, JX_NOINTS));
        CHECK(d && tdc_attr_is(d, 0, JX_INTS(ax == 0 ? 1 : 0)) && tdc_attr_is(d, 1, JX_INTS(1)));
        CHECK(d && d->type.rank == 2 && d->type.shape[0] == 7 && d->type.shape[1] == 3);
        jx_fn_free(g);
    }
    /* out_axes = 1 asks for [3,B]: the only transpose is of the result, never of W */
    int oa = 1;
    jx_fn *g = tdc_vmapped_matvec(0, 7, &oa);
    CHECK(g && tdc_count(g, JX_OP_DOT_GENERAL) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 1);
    CHECK(g && tdc_moves_of_input(g, JX_OP_TRANSPOSE, -1) == 0);
    jx_fn_free(g);
    /* x[b] @ W (vecmat) over x at 0 or -1: the batch is lhs's free dim, already first */
    jx_fn *f = tdc_dot_fn(&tdc_dots[2], JX_F64);
    for (int k = 0; f && k < 2; k++) {
        int axes[2] = {k == 0 ? 0 : -1, JX_NONE};
        g = tdc_ok(jx_vmap(f, axes, NULL, 7));
        const jx_node *d = tdc_find(g, JX_OP_DOT_GENERAL);
        CHECK(g && tdc_count(g, JX_OP_DOT_GENERAL) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
        CHECK(d && d->in[0] == 0 && d->in[1] == 1);
        jx_fn_free(g);
    }
    jx_fn_free(f);
    /* A @ X[b] with X having another free dim: no swap (that would reorder the free dims);
     * the result keeps B between A's and X's free dims, the operands are untouched */
    f = tdc_dot_fn(&tdc_dots[0], JX_F64);
    int axes[2] = {JX_NONE, 0}, oa1 = 1;
    g = f ? tdc_ok(jx_vmap(f, axes, &oa1, 2)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_DOT_GENERAL) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(dot_vmap_both_batched_is_one_batched_dot) {
    tdc_init_dots();
    jx_fn *f = tdc_dot_fn(&tdc_dots[0], JX_F64); /* matmul [3,4] x [4,5] */
    int axes[2] = {0, 0};
    jx_fn *g = f ? tdc_ok(jx_vmap(f, axes, NULL, 6)) : NULL;
    CHECK(g != NULL);
    const jx_node *d = tdc_find(g, JX_OP_DOT_GENERAL);
    CHECK(tdc_count(g, JX_OP_DOT_GENERAL) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
    CHECK(d && tdc_attr_is(d, 2, JX_INTS(0)) && tdc_attr_is(d, 3, JX_INTS(0)));
    CHECK(d && tdc_attr_is(d, 0, JX_INTS(2)) && tdc_attr_is(d, 1, JX_INTS(1)));
    jx_fn_free(g);
    /* batch axes elsewhere: still one dot_general, operands untouched, batch dim prepended */
    int axes2[2] = {-1, 1};
    g = f ? tdc_ok(jx_vmap(f, axes2, NULL, 6)) : NULL;
    d = tdc_find(g, JX_OP_DOT_GENERAL);
    CHECK(g && tdc_count(g, JX_OP_DOT_GENERAL) == 1);
    CHECK(tdc_moves_of_input(g, JX_OP_TRANSPOSE, -1) == 0);
    CHECK(d && tdc_attr_is(d, 2, JX_INTS(2)) && tdc_attr_is(d, 3, JX_INTS(1)));
    CHECK(d && tdc_attr_is(d, 0, JX_INTS(1)) && tdc_attr_is(d, 1, JX_INTS(0)));
    jx_fn_free(g);
    /* an existing batch dim stays after the new leading one */
    jx_fn *h = tdc_dot_fn(&tdc_dots[7], JX_F64); /* [3,2,4] x [4,2,5], batch 1/1 */
    int axes3[2] = {0, 2};
    g = h ? tdc_ok(jx_vmap(h, axes3, NULL, 2)) : NULL;
    d = tdc_find(g, JX_OP_DOT_GENERAL);
    CHECK(d && tdc_attr_is(d, 2, JX_INTS(0, 2)) && tdc_attr_is(d, 3, JX_INTS(2, 1)));
    CHECK(d && tdc_attr_is(d, 0, JX_INTS(3)) && tdc_attr_is(d, 1, JX_INTS(0)));
    jx_fn_free(g);
    jx_fn_free(h);
    jx_fn_free(f);
}

TEST(dot_vmap_outer_product_result_axis) {
    tdc_init_dots();
    /* outer(u[3], v[2]) -> [3,2]: batching u puts B among the lhs free dims, v among the
     * rhs free dims; the rule reports where, and vmap moves it to 0. */
    jx_fn *f = tdc_dot_fn(&tdc_dots[4], JX_F64);
    for (int k = 0; k < 3; k++) {
        int axes[2] = {k == 1 ? JX_NONE : 0, k == 0 ? JX_NONE : -1};
        jx_fn *g = f ? tdc_ok(jx_vmap(f, axes, NULL, 4)) : NULL;
        CHECK(g && tdc_count(g, JX_OP_DOT_GENERAL) == 1);
        CHECK(tdc_moves_of_input(g, JX_OP_TRANSPOSE, -1) == 0);
        jx_fn_free(g);
    }
    jx_fn_free(f);
}

TEST(dot_vmap_of_vmap) {
    tdc_init_dots();
    /* matvec vmapped over x twice: still one dot_general, no loops */
    jx_fn *f = tdc_dot_fn(&tdc_dots[1], JX_F64);
    int a1[2] = {JX_NONE, 0};
    jx_fn *g = f ? tdc_ok(jx_vmap(f, a1, NULL, 3)) : NULL;
    int a2[2] = {JX_NONE, 1};
    jx_fn *h = g ? tdc_ok(jx_vmap(g, a2, NULL, 2)) : NULL;
    CHECK(h && tdc_count(h, JX_OP_DOT_GENERAL) == 1);
    CHECK(h && tdc_moves_of_input(h, JX_OP_TRANSPOSE, 0) == 0);
    if (g) tdc_vmap_all2(g, 2, -1, 1, 1e-12);
    /* and both operands batched at the second level */
    int a3[2] = {0, 0};
    if (g) txc_vmap(g, a3, 2, -1, 1, 1e-12);
    jx_fn_free(h);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(dot_vjp_is_two_dots) {
    tdc_init_dots();
    jx_fn *f = tdc_dot_fn(&tdc_dots[0], JX_F64);
    jx_fn *g = f ? tdc_ok(jx_vjp(f, NULL)) : NULL;
    CHECK(g != NULL);
    /* forward + one per cotangent; matmul cotangents need no transposes */
    CHECK(tdc_count(g, JX_OP_DOT_GENERAL) == 3);
    CHECK(tdc_count(g, JX_OP_TRANSPOSE) == 0);
    CHECK(g && jx_fn_verify(g) == 0);
    jx_fn_free(g);
    /* no transposes either for the other layouts whose cotangents come out in order from
     * dot(ct, other) or dot(other, ct): matvec, vecmat, vdot, outer, scalar, a^T b^T */
    const int plain[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++) {
        jx_fn *fi = tdc_dot_fn(&tdc_dots[plain[i]], JX_F64);
        jx_fn *gi = fi ? tdc_ok(jx_vjp(fi, NULL)) : NULL;
        CHECK(gi && tdc_count(gi, JX_OP_DOT_GENERAL) == 3 && tdc_count(gi, JX_OP_TRANSPOSE) == 0);
        if (check_failed_now) printf("  case %s\n", tdc_dots[plain[i]].name);
        jx_fn_free(gi);
        jx_fn_free(fi);
    }
    /* only the rhs differentiated: the lhs cotangent is dead code, removed */
    unsigned char wrt[2] = {0, 1};
    g = f ? tdc_ok(jx_vjp(f, wrt)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_DOT_GENERAL) == 2);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* f(W, x) = W x with W a constant: only one tangent is non-zero. */
static void tdc_const_matvec(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_array *w = txc_random(JX_TYPE(JX_F64, 3, 4), -1, 1);
    out[0] = jx_dot_general(jx_constant(t, w), in[0], JX_INTS(1), JX_INTS(0), JX_NOINTS,
                            JX_NOINTS);
    jx_array_free(w);
}

TEST(dot_jvp_skips_zero_tangents) {
    jx_type xt = JX_TYPE(JX_F64, 4);
    jx_fn *f = tdc_ok(jx_trace(tdc_const_matvec, 1, &xt, 1, NULL));
    jx_fn *d = f ? tdc_ok(jx_jvp(f, NULL)) : NULL;
    CHECK(d != NULL);
    CHECK(tdc_count(d, JX_OP_DOT_GENERAL) == 2); /* primal W x and tangent W dx */
    CHECK(tdc_count(d, JX_OP_ADD) == 0);
    if (f) txc_grad(f, -1, 1, 1e-6);
    jx_fn_free(d);
    jx_fn_free(f);
}

/* s(A, x) = x . (A x): quadratic, so its gradient is linear and grad(grad) is constant. */
static void tdc_quad(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val ax = jx_dot_general(in[0], in[1], JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_dot_general(in[1], ax, JX_INTS(0), JX_INTS(0), JX_NOINTS, JX_NOINTS);
}

TEST(dot_grad_of_grad) {
    jx_type ts[2] = {JX_TYPE(JX_F64, 3, 3), JX_TYPE(JX_F64, 3)};
    jx_fn *f = tdc_ok(jx_trace(tdc_quad, 2, ts, 1, NULL));
    int wrt[2] = {0, 1};
    jx_fn *g = f ? tdc_ok(jx_grad(f, 2, wrt)) : NULL;
    CHECK(g != NULL);
    if (f) txc_grad(f, -1, 1, 1e-6);
    if (g) txc_grad(g, -1, 1, 1e-6);
    /* closed form: dA = x x^T, dx = (A + A^T) x */
    jx_array *in[2] = {txc_random(ts[0], -1, 1), txc_random(ts[1], -1, 1)}, *out[2] = {0};
    CHECK(g && jx_interp(g, in, out) == 0);
    for (int i = 0; out[0] && out[1] && i < 3; i++) {
        double dx = 0;
        for (int j = 0; j < 3; j++) {
            CHECK_NEAR(jx_array_get(out[0], i * 3 + j),
                       jx_array_get(in[1], i) * jx_array_get(in[1], j), 1e-12);
            dx += (jx_array_get(in[0], i * 3 + j) + jx_array_get(in[0], j * 3 + i)) *
                  jx_array_get(in[1], j);
        }
        CHECK_NEAR(jx_array_get(out[1], i), dx, 1e-12);
    }
    txc_free(2, in);
    txc_free(2, out);
    /* Hessian-vector products through jvp(grad) */
    jx_fn *hv = g ? tdc_ok(jx_jvp(g, NULL)) : NULL;
    CHECK(hv != NULL);
    jx_fn_free(hv);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(dot_vmap_of_grad_per_example) {
    /* per-example gradients of x . (A x) with respect to A, A shared */
    jx_type ts[2] = {JX_TYPE(JX_F64, 3, 3), JX_TYPE(JX_F64, 3)};
    jx_fn *f = tdc_ok(jx_trace(tdc_quad, 2, ts, 1, NULL));
    jx_fn *g = f ? tdc_ok(jx_grad(f, 0, NULL)) : NULL;
    CHECK(g != NULL);
    int axes[2] = {JX_NONE, 0};
    if (g) txc_vmap(g, axes, 4, -1, 1, 1e-12);
    int axes2[2] = {JX_NONE, -1};
    if (g) txc_vmap(g, axes2, 4, -1, 1, 1e-12);
    if (g) tdc_vmap_all2(g, 3, -1, 1, 1e-12);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(dot_grad_of_vmap_reduces_with_gemm) {
    tdc_init_dots();
    /* h(W, X) = vmap(W x)(X): the cotangent of W sums over the batch inside one
     * dot_general (a GEMM contracting B), not a batched outer product + reduce_sum. */
    jx_fn *f = tdc_dot_fn(&tdc_dots[1], JX_F64);
    int axes[2] = {JX_NONE, 0};
    jx_fn *h = f ? tdc_ok(jx_vmap(f, axes, NULL, 5)) : NULL;
    jx_fn *g = h ? tdc_ok(jx_vjp(h, NULL)) : NULL;
    CHECK(g != NULL);
    CHECK(tdc_count(g, JX_OP_DOT_GENERAL) == 3);
    CHECK(tdc_count(g, JX_OP_REDUCE_SUM) == 0);
    CHECK(tdc_count(g, JX_OP_TRANSPOSE) == 0);
    for (int i = 0; g && i < g->n_nodes; i++) {
        const jx_node *n = &g->nodes[i];
        if (n->op == JX_OP_DOT_GENERAL) CHECK(ir_attr_ints(n, 2).n == 0);
    }
    if (h) txc_grad(h, -1, 1, 1e-6);
    jx_fn_free(g);
    jx_fn_free(h);
    jx_fn_free(f);
}

TEST_MAIN()
