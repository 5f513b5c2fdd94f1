/* vmap of the elementwise family: unary and binary ops along each axis, select,
 * vmap of grad, and the shape of batched graphs (no needless transposes, the majority
 * axis, axes carried through unary ops); transforms verify and keep locations. */
#include "txcheck.h"
#include "core/trace.h"

#include "tx_elt_util.h"

/* ---- vmap ---------------------------------------------------------------------------------- */

/* vmap of f for each in_axes row (nrow rows of f's arity), batch 4. */
static void vmap_rows(const jx_fn *f, int nrow, const int (*rows)[3], double lo, double hi,
                      const char *what) {
    for (int r = 0; r < nrow; r++) {
        txc_vmap(f, rows[r], 4, lo, hi, 1e-12);
        char b[64];
        snprintf(b, sizeof b, "in_axes (%d, %d, %d)", rows[r][0], rows[r][1], rows[r][2]);
        note(what, b);
    }
}

static const int unary_axes[][3] = {{0}, {1}, {-1}, {2}};

TEST(vmap_unary_float) {
    jx_type tys[2] = {T(JX_F64, 2, 3), T(JX_F32, 3, 2)};
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N_UNARY; i++) {
            jx_fn *f = mk(unary_ranges[i].op, tys[r].dtype, 1, &tys[r]);
            if (f) vmap_rows(f, 4, unary_axes, unary_ranges[i].lo, unary_ranges[i].hi,
                             prim_info(unary_ranges[i].op)->name);
            jx_fn_free(f);
        }
}

TEST(vmap_unary_rank0) {
    static const int axes[][3] = {{0}, {-1}};
    jx_type ty = S(JX_F64);
    jx_fn *f = mk(JX_OP_EXP, JX_F64, 1, &ty);
    if (f) vmap_rows(f, 2, axes, -1, 1, "exp rank 0");
    jx_fn_free(f);
}

/* Integer/bool unary ops, stop_gradient, conversions and bitcasts. */
TEST(vmap_unary_other) {
    static const struct {
        jx_op op;
        jx_dtype from, to;
    } cases[] = {
        {JX_OP_NEG, JX_I32, JX_I32},     {JX_OP_ABS, JX_I32, JX_I32},
        {JX_OP_SIGN, JX_I32, JX_I32},    {JX_OP_NOT, JX_I32, JX_I32},
        {JX_OP_NOT, JX_U32, JX_U32},     {JX_OP_NOT, JX_BOOL, JX_BOOL},
        {JX_OP_STOP_GRADIENT, JX_F64, JX_F64}, {JX_OP_STOP_GRADIENT, JX_BOOL, JX_BOOL},
        {JX_OP_CONVERT, JX_F64, JX_I32}, {JX_OP_CONVERT, JX_I32, JX_F32},
        {JX_OP_CONVERT, JX_F32, JX_F64}, {JX_OP_CONVERT, JX_BOOL, JX_F64},
        {JX_OP_CONVERT, JX_F64, JX_BOOL}, {JX_OP_CONVERT, JX_U32, JX_I32},
        {JX_OP_BITCAST, JX_F32, JX_I32}, {JX_OP_BITCAST, JX_I32, JX_U32},
        {JX_OP_BITCAST, JX_U32, JX_F32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jx_type ty = T(cases[i].from, 2, 3);
        jx_fn *f = mk(cases[i].op, cases[i].to, 1, &ty);
        char what[80];
        snprintf(what, sizeof what, "%s %s -> %s", prim_info(cases[i].op)->name,
                 jx_dtype_name(cases[i].from), jx_dtype_name(cases[i].to));
        if (f) vmap_rows(f, 4, unary_axes, -3, 3, what);
        jx_fn_free(f);
    }
}

static const int binary_axes[][3] = {{0, 0}, {1, 1}, {0, 1}, {-1, 0}, {2, -1},
                                     {0, NONE}, {NONE, -1}, {1, NONE}, {NONE, 0}};
#define N_BINARY_AXES ((int)(sizeof binary_axes / sizeof binary_axes[0]))

TEST(vmap_binary_float) {
    for (int i = 0; i < N_BINARY; i++) {
        jx_type ty[2] = {T(JX_F64, 2, 3), T(JX_F64, 2, 3)};
        jx_fn *f = mk(binary_ranges[i].op, JX_F64, 2, ty);
        if (f) vmap_rows(f, N_BINARY_AXES, binary_axes, binary_ranges[i].lo,
                         binary_ranges[i].hi, prim_info(binary_ranges[i].op)->name);
        jx_fn_free(f);
    }
}

/* Comparisons (float and int), integer arithmetic, logical ops and shifts. */
TEST(vmap_binary_other) {
    static const struct {
        jx_op op;
        jx_dtype dt;
    } cases[] = {
        {JX_OP_EQ, JX_F64},  {JX_OP_NE, JX_F64},  {JX_OP_LT, JX_F64},  {JX_OP_LE, JX_I32},
        {JX_OP_GT, JX_U32},  {JX_OP_GE, JX_F64},  {JX_OP_EQ, JX_BOOL}, {JX_OP_ADD, JX_I32},
        {JX_OP_MUL, JX_U32}, {JX_OP_DIV, JX_I32}, {JX_OP_REM, JX_U32}, {JX_OP_MAX, JX_I32},
        {JX_OP_AND, JX_BOOL}, {JX_OP_OR, JX_I32}, {JX_OP_XOR, JX_U32},
        {JX_OP_SHIFT_LEFT, JX_I32}, {JX_OP_SHIFT_RIGHT, JX_U32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jx_type ty[2] = {T(cases[i].dt, 3, 2), T(cases[i].dt, 3, 2)};
        jx_fn *f = mk(cases[i].op, cases[i].dt, 2, ty);
        char what[64];
        snprintf(what, sizeof what, "%s %s", prim_info(cases[i].op)->name,
                 jx_dtype_name(cases[i].dt));
        if (f) vmap_rows(f, N_BINARY_AXES, binary_axes, -1, 1, what);
        jx_fn_free(f);
    }
}

TEST(vmap_select) {
    static const int axes[][3] = {{0, 0, 0},       {1, 1, 1},    {-1, 0, 1},
                                  {NONE, 0, 1},    {0, NONE, NONE}, {NONE, NONE, -1},
                                  {1, 0, NONE},    {NONE, 2, 2}};
    jx_type ty[3] = {T(JX_BOOL, 2, 3), T(JX_F64, 2, 3), T(JX_F64, 2, 3)};
    jx_fn *f = mk(JX_OP_SELECT, JX_F64, 3, ty);
    if (f) vmap_rows(f, (int)(sizeof axes / sizeof axes[0]), axes, -1, 1, "select");
    jx_fn_free(f);
    jx_type ti[3] = {S(JX_BOOL), S(JX_I32), S(JX_I32)};
    f = mk(JX_OP_SELECT, JX_I32, 3, ti);
    static const int axes0[][3] = {{0, 0, 0}, {NONE, 0, NONE}, {0, NONE, NONE}};
    if (f) vmap_rows(f, 3, axes0, -1, 1, "select rank 0 i32");
    jx_fn_free(f);
}

/* Per-example gradients: vmap(grad(f)) for f(x, w) = tanh(x * w) * x, x batched. */
TEST(vmap_of_grad) {
    jx_type ty[2] = {S(JX_F64), S(JX_F64)};
    jx_trace *t = jx_trace_begin(2, ty);
    jx_val x = jx_trace_input(t, 0), w = jx_trace_input(t, 1);
    jx_val y = jx_mul(jx_tanh(jx_mul(x, w)), x);
    jx_fn *f = jx_trace_end(t, 1, &y);
    int wrt = 1;
    jx_fn *g = f ? jx_grad(f, 1, &wrt) : NULL;
    CHECK(g != NULL);
    static const int axes[][3] = {{0, NONE}, {0, 0}, {NONE, 0}};
    if (g) vmap_rows(g, 3, axes, -1, 1, "vmap(grad)");
    jx_fn_free(f);
    jx_fn_free(g);
}

/* ---- the shape of batched graphs ------------------------------------------------------------ */

/* Number of nodes of g with op; *on_input counts those whose operand 0 is an input. */
static int count_op(const jx_fn *g, jx_op op, int *on_input) {
    int c = 0;
    if (on_input) *on_input = 0;
    for (int i = g->n_in; i < g->n_nodes; i++) {
        if (g->nodes[i].op != op) continue;
        c++;
        if (on_input && g->nodes[i].nin > 0 && g->nodes[i].in[0] < g->n_in) (*on_input)++;
    }
    return c;
}

/* mul(x batched at axis 1, y unbatched): y is broadcast into axis 1 and x is used as is;
 * with out_axes 1 the graph has no transpose at all, with out_axes 0 only the result is
 * moved. */
TEST(vmap_unbatched_operand_not_transposed) {
    jx_type ty[2] = {T(JX_F64, 2, 3), T(JX_F64, 2, 3)};
    jx_fn *f = mk(JX_OP_MUL, JX_F64, 2, ty);
    int in_axes[2] = {1, NONE}, out1 = 1;
    jx_fn *g = f ? jx_vmap(f, in_axes, &out1, 4) : NULL;
    CHECK(g != NULL);
    if (g) {
        int on_in = 0;
        CHECK(jx_fn_verify(g) == 0);
        CHECK(count_op(g, JX_OP_TRANSPOSE, NULL) == 0);
        CHECK(count_op(g, JX_OP_BROADCAST_IN_DIM, &on_in) == 1);
        CHECK(on_in == 1);
        CHECK(count_op(g, JX_OP_MUL, NULL) == 1);
        jx_type o = jx_fn_out_type(g, 0);
        CHECK(o.rank == 3 && o.shape[0] == 2 && o.shape[1] == 4 && o.shape[2] == 3);
        /* the broadcast puts y's dims around the batch axis: dims (0, 2) */
        for (int i = g->n_in; i < g->n_nodes; i++)
            if (g->nodes[i].op == JX_OP_BROADCAST_IN_DIM) {
                jx_ints d = ir_attr_ints(&g->nodes[i], 1);
                CHECK(d.n == 2 && d.v[0] == 0 && d.v[1] == 2);
            }
    }
    jx_fn_free(g);
    g = f ? jx_vmap(f, in_axes, NULL, 4) : NULL;
    CHECK(g != NULL);
    if (g) {
        int on_in = 0;
        CHECK(count_op(g, JX_OP_TRANSPOSE, &on_in) == 1);
        CHECK(on_in == 0); /* only the result is moved to axis 0 */
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

/* select(pred at 0, a at 1, b at 1): the majority position 1 wins, so only pred (one
 * operand) is transposed; an unbatched pred is broadcast, never the branches moved. */
TEST(vmap_select_majority_axis) {
    jx_type ty[3] = {T(JX_BOOL, 2, 3), T(JX_F64, 2, 3), T(JX_F64, 2, 3)};
    jx_fn *f = mk(JX_OP_SELECT, JX_F64, 3, ty);
    int a1[3] = {0, 1, 1}, a2[3] = {NONE, 2, 2}, out1 = 1, out2 = 2;
    jx_fn *g = f ? jx_vmap(f, a1, &out1, 4) : NULL;
    CHECK(g != NULL);
    if (g) {
        int on_in = 0;
        CHECK(count_op(g, JX_OP_TRANSPOSE, &on_in) == 1);
        CHECK(on_in == 1);
        for (int i = g->n_in; i < g->n_nodes; i++)
            if (g->nodes[i].op == JX_OP_TRANSPOSE) CHECK(g->nodes[i].in[0] == 0);
    }
    jx_fn_free(g);
    g = f ? jx_vmap(f, a2, &out2, 4) : NULL;
    CHECK(g != NULL);
    if (g) {
        CHECK(count_op(g, JX_OP_TRANSPOSE, NULL) == 0);
        CHECK(count_op(g, JX_OP_BROADCAST_IN_DIM, NULL) == 1);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

/* Unary ops just carry the batch axis: no transpose, no broadcast. */
TEST(vmap_unary_carries_axis) {
    jx_type ty = T(JX_F64, 2, 3);
    jx_fn *f = mk(JX_OP_TANH, JX_F64, 1, &ty);
    int in_axes = 2, out = 2;
    jx_fn *g = f ? jx_vmap(f, &in_axes, &out, 5) : NULL;
    CHECK(g != NULL);
    if (g) {
        CHECK(jx_fn_n_eqns(g) == 1);
        jx_type o = jx_fn_out_type(g, 0);
        CHECK(o.rank == 3 && o.shape[2] == 5);
    }
    jx_fn_free(g);
    jx_fn_free(f);
}

/* The transformed graphs of every family member verify, and keep the user's file. */
TEST(transforms_verify_and_keep_loc) {
    jx_type ty[2] = {T(JX_F64, 3), T(JX_F64, 3)};
    for (int i = 0; i < N_BINARY; i++) {
        jx_fn *f = mk(binary_ranges[i].op, JX_F64, 2, ty);
        if (f) verify_transforms(f);
        jx_fn *g = f ? jx_vjp(f, NULL) : NULL;
        for (int k = g ? g->n_in : 0; g && k < g->n_nodes; k++)
            if (g->nodes[k].op != JX_OP_CONSTANT && g->nodes[k].op != JX_OP_BROADCAST_IN_DIM)
                CHECK_CONTAINS(g->nodes[k].loc.file, "t_tx_elementwise_vmap.c");
        note(prim_info(binary_ranges[i].op)->name, NULL);
        jx_fn_free(g);
        jx_fn_free(f);
    }
    for (int i = 0; i < N_UNARY; i++) {
        jx_fn *f = mk(unary_ranges[i].op, JX_F64, 1, ty);
        if (f) verify_transforms(f);
        jx_fn_free(f);
    }
}

TEST_MAIN()
