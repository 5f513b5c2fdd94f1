/* Transformation rules of the dot, conv and random families: vjp and jvp of dot_general,
 * conv_patches and conv_patches_t against finite differences; vmap of all three against a
 * loop over the batch for every in_axes choice; the efficient forms of the batch rules
 * (one dot_general per batched matvec, no transposes of unbatched operands); compositions
 * (grad of grad, vmap of grad, grad of vmap, vmap of vmap).
 *
 * Tolerances: the functions here are linear or quadratic in f64, so central differences
 * with h = 1e-6 are exact up to rounding (~1e-10 relative); txc_grad is checked at 1e-6.
 * vmap results are compared at 1e-12 (f64: the batched op adds the same products in the
 * same order as the per-example op, so they agree to rounding) and exactly for integers. */
#include "txcheck.h"
#include "ir.h"
#include "prims/threefry.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* Number of nodes of f with op op. */
static int tdc_count(const jx_fn *f, jx_op op) {
    int c = 0;
    for (int i = 0; f && i < f->n_nodes; i++) c += f->nodes[i].op == op;
    return c;
}

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

/* The first node of f with op op, or NULL. */
static const jx_node *tdc_find(const jx_fn *f, jx_op op) {
    for (int i = 0; f && i < f->n_nodes; i++)
        if (f->nodes[i].op == op) return &f->nodes[i];
    return NULL;
}

/* 1 if attribute k of n equals the list v. */
static int tdc_attr_is(const jx_node *n, int k, jx_ints v) {
    jx_ints a = ir_attr_ints(n, k);
    if (a.n != v.n) return 0;
    for (int i = 0; i < a.n; i++)
        if (a.v[i] != v.v[i]) return 0;
    return 1;
}

/* Fails the case with jx_error() if f is NULL (a transformation that should have
 * succeeded); returns f. */
static jx_fn *tdc_ok(jx_fn *f) {
    if (!f) CHECK_FAIL_("unexpected NULL function: %s", jx_error());
    return f;
}

/* A dot_general configuration: operand types and the four axis lists. */
typedef struct tdc_dot {
    const char *name;
    jx_type a, b;
    jx_ints lc, rc, lb, rb;
} tdc_dot;

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

/* The in_axes choices for an operand of per-example rank r: 0, 1 (if r >= 1), -1, none. */
static int tdc_axes(int r, int *ax) {
    int n = 0;
    ax[n++] = 0;
    if (r >= 1) ax[n++] = 1;
    ax[n++] = -1;
    ax[n++] = JX_NONE;
    return n;
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
    jx_fn *d = f ? tdc_ok(jx_jvp(f)) : NULL;
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
    jx_fn *hv = g ? tdc_ok(jx_jvp(g)) : NULL;
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

/* ---- conv_patches / conv_patches_t -------------------------------------------------- */

#define TDC_CONV_ATTRS JX_INTS(3, 2), JX_INTS(2, 1), JX_INTS(1, 0), JX_INTS(1, 1)

/* x[2,5,4,3] -> patches [2,3,4,18] with window 3x2, strides 2x1, padding (1,0)/(1,1). */
static void tdc_patches(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_conv_patches(in[0], TDC_CONV_ATTRS);
}

/* Its transpose: p[2,3,4,18] -> [2,5,4,3]. */
static void tdc_patches_t(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_conv_patches_t(in[0], JX_INTS(5, 4), TDC_CONV_ATTRS);
}

static jx_fn *tdc_conv_fn(int transpose, jx_dtype dt) {
    jx_type ty = transpose ? JX_TYPE(dt, 2, 3, 4, 18) : JX_TYPE(dt, 2, 5, 4, 3);
    return tdc_ok(jx_trace(transpose ? tdc_patches_t : tdc_patches, 1, &ty, 1, NULL));
}

TEST(conv_grad) {
    for (int k = 0; k < 2; k++) {
        jx_fn *f = tdc_conv_fn(k, JX_F64);
        CHECK(f != NULL);
        if (f) txc_grad(f, -1, 1, 1e-6);
        /* the vjp of each op is the other op */
        jx_fn *g = f ? tdc_ok(jx_vjp(f, NULL)) : NULL;
        CHECK(tdc_count(g, k ? JX_OP_CONV_PATCHES : JX_OP_CONV_PATCHES_T) == 1);
        jx_fn_free(g);
        jx_fn_free(f);
    }
}

TEST(conv_vmap_every_axis) {
    int axes[6] = {0, 1, 2, 3, 4, -1};
    for (int k = 0; k < 2; k++) {
        jx_fn *f = tdc_conv_fn(k, JX_F64);
        for (int a = 0; f && a < 6; a++) txc_vmap(f, &axes[a], 3, -1, 1, 1e-12);
        jx_fn_free(f);
        f = tdc_conv_fn(k, JX_I32);
        for (int a = 0; f && a < 6; a += 5) txc_vmap(f, &axes[a], 2, 0, 0, 0);
        jx_fn_free(f);
    }
}

TEST(conv_vmap_merges_batch_without_transpose) {
    for (int k = 0; k < 2; k++) {
        jx_fn *f = tdc_conv_fn(k, JX_F64);
        for (int a = 0; f && a < 2; a++) {
            /* batch at 0 ([B,N,..]) or 1 ([N,B,..]): reshape, op, reshape; the result
             * keeps the batch axis where it was (out_axes = a) */
            int oa = a;
            jx_fn *g = tdc_ok(jx_vmap(f, &a, &oa, 3));
            CHECK(g != NULL);
            CHECK(tdc_count(g, JX_OP_TRANSPOSE) == 0);
            CHECK(tdc_count(g, k ? JX_OP_CONV_PATCHES_T : JX_OP_CONV_PATCHES) == 1);
            CHECK(tdc_count(g, JX_OP_RESHAPE) == 2);
            const jx_node *c = tdc_find(g, k ? JX_OP_CONV_PATCHES_T : JX_OP_CONV_PATCHES);
            CHECK(c && c->type.shape[0] == 6);
            jx_fn_free(g);
        }
        jx_fn_free(f);
    }
}

TEST(conv_vmap_empty_batch) {
    jx_fn *f = tdc_conv_fn(0, JX_F64);
    int a = 1;
    if (f) txc_vmap(f, &a, 0, -1, 1, 0);
    jx_fn_free(f);
}

/* A conv layer: conv_patches(x[1,5,5,2]) . reshape(w[3,3,2,4], [18,4]) -> [1,3,3,4], then
 * the squared norm as a scalar loss (a dot of the output with itself). */
static void tdc_conv_layer(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val p = jx_conv_patches(in[0], JX_INTS(3, 3), JX_INTS(1, 1), JX_INTS(0, 0),
                               JX_INTS(0, 0));
    jx_val w = jx_reshape(in[1], JX_INTS(18, 4));
    jx_val y = jx_dot_general(p, w, JX_INTS(3), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_dot_general(y, y, JX_INTS(0, 1, 2, 3), JX_INTS(0, 1, 2, 3), JX_NOINTS,
                            JX_NOINTS);
}

TEST(conv_layer_grad_grad_and_per_example) {
    jx_type ts[2] = {JX_TYPE(JX_F64, 1, 5, 5, 2), JX_TYPE(JX_F64, 3, 3, 2, 4)};
    jx_fn *f = tdc_ok(jx_trace(tdc_conv_layer, 2, ts, 1, NULL));
    CHECK(f != NULL);
    if (!f) return;
    /* quartic in (x, w) jointly: central differences carry O(h^2) error, still ~1e-11 */
    txc_grad(f, -1, 1, 1e-6);
    int wrt[2] = {0, 1};
    jx_fn *g = tdc_ok(jx_grad(f, 2, wrt));
    CHECK(g != NULL);
    if (g) txc_grad(g, -1, 1, 1e-6);
    /* per-example gradients over a batch of images, w shared */
    int axes[2] = {0, JX_NONE};
    if (g) txc_vmap(g, axes, 3, -1, 1, 1e-12);
    int axes2[2] = {-1, JX_NONE};
    if (g) txc_vmap(g, axes2, 2, -1, 1, 1e-12);
    int axes3[2] = {JX_NONE, 0};
    if (g) txc_vmap(g, axes3, 2, -1, 1, 1e-12);
    jx_fn_free(g);
    jx_fn_free(f);
}

/* ---- threefry2x32 ------------------------------------------------------------------- */

/* A new u32 array of type ty with full-range pseudo-random values. */
static jx_array *tdc_u32(jx_type ty) {
    jx_array *a = jx_array_new_type(&ty);
    uint32_t *p = jx_array_data(a);
    for (int64_t i = 0; i < jx_array_size(a); i++)
        p[i] = (uint32_t)(txc_rand() * 4294967296.0);
    return a;
}

/* txc_vmap for all-u32 functions with full-range inputs (exact comparison). */
static void tdc_vmap_u32(const jx_fn *f, const int *in_axes, int64_t bsize) {
    int ni = jx_fn_n_in(f), no = jx_fn_n_out(f);
    jx_fn *g = jx_vmap(f, in_axes, NULL, bsize);
    CHECK(g != NULL);
    if (!g) {
        printf("  vmap: %s\n", jx_error());
        return;
    }
    jx_array *xb[4] = {0}, *yb[4] = {0}, *x1[4] = {0}, *y1[4] = {0};
    for (int i = 0; i < ni; i++) xb[i] = tdc_u32(jx_fn_in_type(g, i));
    int rc = jx_interp(g, xb, yb);
    CHECK(rc == 0);
    for (int64_t b = 0; b < bsize && rc == 0; b++) {
        for (int i = 0; i < ni; i++) {
            int a = in_axes[i] < 0 && in_axes[i] != JX_NONE ? in_axes[i] + jx_array_rank(xb[i])
                                                            : in_axes[i];
            x1[i] = a == JX_NONE ? jx_array_retain(xb[i]) : txc_take(xb[i], a, b);
        }
        CHECK(jx_interp(f, x1, y1) == 0);
        for (int j = 0; j < no && y1[j]; j++) {
            jx_array *yj = txc_take(yb[j], 0, b);
            CHECK(jx_array_nbytes(yj) == jx_array_nbytes(y1[j]));
            CHECK(memcmp(jx_array_cdata(yj), jx_array_cdata(y1[j]), jx_array_nbytes(yj)) == 0);
            jx_array_free(yj);
        }
        txc_free(ni, x1);
        txc_free(no, y1);
    }
    txc_free(ni, xb);
    txc_free(no, yb);
    jx_fn_free(g);
}

/* f(key, x) = threefry2x32(key, x). */
static void tdc_threefry(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    out[0] = jx_threefry2x32(in[0], in[1]);
}

static jx_fn *tdc_rng_fn(jx_type key, jx_type x) {
    jx_type ts[2] = {key, x};
    return tdc_ok(jx_trace(tdc_threefry, 2, ts, 1, NULL));
}

TEST(threefry_vmap_every_in_axes) {
    /* (key type, x type): one key for all pairs, per-pair keys, single pairs */
    const jx_type cases[4][2] = {
        {JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3)},
        {JX_TYPE(JX_U32, 2, 3), JX_TYPE(JX_U32, 2, 3)},
        {JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2)},
        {JX_TYPE(JX_U32, 2, 2, 3), JX_TYPE(JX_U32, 2, 2, 3)},
    };
    for (int c = 0; c < 4; c++) {
        jx_fn *f = tdc_rng_fn(cases[c][0], cases[c][1]);
        CHECK(f != NULL);
        int a0[4], a1[4];
        int n0 = tdc_axes(cases[c][0].rank, a0), n1 = tdc_axes(cases[c][1].rank, a1);
        for (int i = 0; f && i < n0; i++)
            for (int j = 0; j < n1; j++) {
                int axes[2] = {a0[i], a1[j]};
                int before = check_failed_now;
                tdc_vmap_u32(f, axes, 3);
                if (check_failed_now && !before)
                    printf("  case %d in_axes (%d, %d)\n", c, axes[0], axes[1]);
            }
        jx_fn_free(f);
    }
}

TEST(threefry_vmap_counters_stay_one_op) {
    jx_fn *f = tdc_rng_fn(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3));
    /* x batched at 1 (or last), key shared: the batch axis is just another counter axis;
     * with out_axes at the same place nothing moves at all */
    int in1[2] = {JX_NONE, 1}, out1 = 1;
    jx_fn *g = f ? tdc_ok(jx_vmap(f, in1, &out1, 5)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
    CHECK(g && tdc_count(g, JX_OP_BROADCAST_IN_DIM) == 0);
    const jx_node *r = tdc_find(g, JX_OP_THREEFRY2X32);
    CHECK(r && r->in[0] == 0 && r->in[1] == 1); /* the key is used as it is */
    jx_fn_free(g);
    int in2[2] = {JX_NONE, -1}, out2 = -1;
    g = f ? tdc_ok(jx_vmap(f, in2, &out2, 5)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 0);
    jx_fn_free(g);
    /* batch axis 0 moves behind the leading 2 (one transpose of x) */
    int in3[2] = {JX_NONE, 0}, out3 = 1;
    g = f ? tdc_ok(jx_vmap(f, in3, &out3, 5)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1 && tdc_count(g, JX_OP_TRANSPOSE) == 1);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(threefry_vmap_keys_is_one_op) {
    /* a batch of keys u32[B,2] over shared counters: one threefry on [2,B,3] */
    jx_fn *f = tdc_rng_fn(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3));
    int in[2] = {0, JX_NONE};
    jx_fn *g = f ? tdc_ok(jx_vmap(f, in, NULL, 4)) : NULL;
    CHECK(g && tdc_count(g, JX_OP_THREEFRY2X32) == 1);
    const jx_node *r = tdc_find(g, JX_OP_THREEFRY2X32);
    CHECK(r && r->type.rank == 3 && r->type.shape[0] == 2 && r->type.shape[1] == 4 &&
          r->type.shape[2] == 3);
    jx_fn_free(g);
    /* vmap over keys of a vmap over counters, and of a vmap over keys */
    int a1[2] = {JX_NONE, 1};
    g = f ? tdc_ok(jx_vmap(f, a1, NULL, 3)) : NULL;
    int a2[2] = {0, JX_NONE};
    jx_fn *h = g ? tdc_ok(jx_vmap(g, a2, NULL, 2)) : NULL;
    CHECK(h && tdc_count(h, JX_OP_THREEFRY2X32) == 1);
    if (g) tdc_vmap_u32(g, a2, 2);
    int a3[2] = {0, 0};
    if (g) tdc_vmap_u32(g, a3, 2);
    jx_fn_free(h);
    jx_fn_free(g);
    int k1[2] = {0, JX_NONE};
    g = f ? tdc_ok(jx_vmap(f, k1, NULL, 3)) : NULL;
    int k2[2] = {1, JX_NONE};
    if (g) tdc_vmap_u32(g, k2, 2);
    int k3[2] = {-1, 2};
    if (g) tdc_vmap_u32(g, k3, 2);
    h = g ? tdc_ok(jx_vmap(g, k2, NULL, 2)) : NULL;
    CHECK(h && tdc_count(h, JX_OP_THREEFRY2X32) == 1);
    jx_fn_free(h);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST(threefry_vmap_empty_batch) {
    jx_fn *f = tdc_rng_fn(JX_TYPE(JX_U32, 2), JX_TYPE(JX_U32, 2, 3));
    int in[2] = {0, 0};
    if (f) tdc_vmap_u32(f, in, 0);
    int in2[2] = {JX_NONE, 2};
    if (f) tdc_vmap_u32(f, in2, 0);
    jx_fn_free(f);
}

/* f(key, x) = <convert(threefry(key, counters)), x>: differentiable in x only. */
static void tdc_rng_weighted(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val c = jx_iota(t, JX_TYPE(JX_U32, 2, 3), 1);
    jx_val r = jx_convert(jx_threefry2x32(in[0], c), JX_F64);
    out[0] = jx_dot_general(r, in[1], JX_INTS(0, 1), JX_INTS(0, 1), JX_NOINTS, JX_NOINTS);
}

TEST(threefry_under_grad_and_vmap) {
    jx_type ts[2] = {JX_TYPE(JX_U32, 2), JX_TYPE(JX_F64, 2, 3)};
    jx_fn *f = tdc_ok(jx_trace(tdc_rng_weighted, 2, ts, 1, NULL));
    CHECK(f != NULL);
    if (!f) return;
    /* the drivers skip the NOGRAD threefry; the function is linear in x (tiny scale is
     * irrelevant: the tolerance is relative) */
    txc_grad(f, -1, 1, 1e-6);
    int wrt = 1;
    jx_fn *g = tdc_ok(jx_grad(f, 1, &wrt));
    CHECK(g != NULL);
    /* per-key gradients: vmap(grad) over a batch of keys, x shared or batched */
    int axes[2] = {0, JX_NONE};
    if (g) txc_vmap(g, axes, 3, -1, 1, 1e-12);
    int axes2[2] = {-1, 0};
    if (g) txc_vmap(g, axes2, 3, -1, 1, 1e-12);
    jx_fn *vg = g ? tdc_ok(jx_vmap(g, axes, NULL, 3)) : NULL;
    CHECK(vg && tdc_count(vg, JX_OP_THREEFRY2X32) == 1);
    jx_fn_free(vg);
    jx_fn_free(g);
    jx_fn_free(f);
}

TEST_MAIN()
