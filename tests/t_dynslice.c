/* dynamic_slice and dynamic_update_slice (lax.dynamic_slice / dynamic_update_slice):
 * the interpreter against a host reference (JAX's negative wrap, then XLA's clamp at both
 * ends), JAX's documented examples, the JIT equal to the interpreter bit for bit for many
 * runtime starts and fused neighbours, vjp/jvp (and those of grad) against finite
 * differences, vmap against a loop (batched operand, update, starts, nested), random
 * shapes, errors, a scan reading batches by index. */
#include <stdint.h>

#include "jitcheck.h"
#include "primcheck.h"
#include "prims/dynslice.h"
#include "txcheck.h"

#define N JX_NONE

/* ---- host reference ---------------------------------------------------------------- */

/* The start a window of size z in a dimension of size d begins at: JAX's wrap of a
 * negative start (when wrap), then XLA's clamp to [0, d - z]. */
static int64_t ref_start(int64_t s, int64_t d, int64_t z, int wrap) {
    if (wrap && s < 0) s += d;
    return s < 0 ? 0 : s > d - z ? d - z : s;
}

/* Linear index in shape dims of element j of a window of shape z placed at e. */
static int64_t ref_at(int r, const int64_t *dims, const int64_t *z, const int64_t *e, int64_t j) {
    int64_t off = 0, st = 1;
    for (int k = r - 1; k >= 0; k--) {
        off += (j % z[k] + e[k]) * st;
        j /= z[k];
        st *= dims[k];
    }
    return off;
}

/* Reference dynamic_slice (ds) or dynamic_update_slice (u != NULL) of x at starts s. */
static jx_array *ref_op(const jx_array *x, const jx_array *u, const int *s, const int64_t *z,
                        int wrap) {
    jx_type xt = jx_array_type(x), ot = xt;
    int64_t e[JX_MAX_RANK];
    for (int k = 0; k < xt.rank; k++) {
        e[k] = ref_start(s[k], xt.shape[k], z[k], wrap);
        if (!u) ot.shape[k] = z[k];
    }
    jx_array *o = u ? jx_array_copy(x) : jx_array_new_type(&ot);
    int64_t nz = 1;
    for (int k = 0; k < xt.rank; k++) nz *= z[k];
    for (int64_t j = 0; j < nz; j++) {
        int64_t w = ref_at(xt.rank, xt.shape, z, e, j);
        if (u) jx_array_set(o, w, jx_array_get(u, j));
        else jx_array_set(o, j, jx_array_get(x, w));
    }
    return o;
}

/* 1 if a and b have one type and the same bytes; reports the first difference. */
static int same_bits(const jx_array *a, const jx_array *b, const char *what) {
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    if (!jx_type_eq(&ta, &tb)) {
        CHECK_FAIL_("%s: types differ", what);
        return 0;
    }
    size_t es = jx_dtype_size(ta.dtype);
    for (int64_t i = 0; i < jx_array_size(a); i++)
        if (memcmp((const char *)jx_array_cdata(a) + i * es, (const char *)jx_array_cdata(b) + i * es, es)) {
            CHECK_FAIL_("%s: element %lld: %.17g vs %.17g", what, (long long)i,
                        jx_array_get(a, i), jx_array_get(b, i));
            return 0;
        }
    return 1;
}

/* Inputs for the transformation checks: i32 starts in [-6, 9] (out of range at both ends
 * for the shapes used), other dtypes as txc_random's. */
static jx_array *gen_i(jx_type ty, double lo, double hi) {
    if (ty.dtype != JX_I32) return txc_random(ty, lo, hi);
    jx_array *a = jx_array_new_type(&ty);
    for (int64_t i = 0; a && i < jx_array_size(a); i++)
        jx_array_set(a, i, (double)((int)(txc_rand() * 16) - 6));
    return a;
}

/* An i32[] scalar. */
static jx_array *i32s(int v) { return jx_array_from(JX_I32, 0, NULL, &v); }

/* Distinct values 0.5, 1.5, ... (0, 1, ... for integers; alternating for bool). */
static jx_array *distinct(jx_type t, double base) {
    jx_array *a = jx_array_new_type(&t);
    for (int64_t i = 0; i < jx_array_size(a); i++)
        jx_array_set(a, i, t.dtype == JX_BOOL ? (double)(i % 3 == 0) : base + (double)i +
                           (t.dtype == JX_F32 || t.dtype == JX_F64 ? 0.5 : 0));
    return a;
}

/* ---- traced cases ------------------------------------------------------------------ */

/* f(x, u, s...) = (dynamic_slice(x, s, z), dynamic_update_slice(x, u, s)); raw: the
 * primitives as emitted (no negative wrap). */
typedef struct both_spec {
    int r, raw;
    jx_ints z;
} both_spec;

/* both_cb: see both_spec. */
static void both_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const both_spec *b = user;
    if (b->raw) {
        out[0] = dyn_slice_emit(JX_HERE, t, in[0], b->r, in + 2, b->z);
        out[1] = dyn_update_emit(JX_HERE, t, in[0], in[1], b->r, in + 2);
    } else {
        out[0] = jx_dynamic_slice(in[0], b->r, in + 2, b->z);
        out[1] = jx_dynamic_update_slice(in[0], in[1], b->r, in + 2);
    }
}

/* Traces both_cb for x of type xt and window z (u of shape z). */
static jx_fn *both_fn(jx_type xt, const int64_t *z, int raw, both_spec *b) {
    jx_type ts[2 + JX_MAX_RANK];
    b->r = xt.rank;
    b->raw = raw;
    b->z.n = xt.rank;
    ts[0] = ts[1] = xt;
    for (int k = 0; k < xt.rank; k++) b->z.v[k] = ts[1].shape[k] = z[k];
    for (int k = 0; k < xt.rank; k++) ts[2 + k] = JX_SCALAR(JX_I32);
    return jx_trace(both_cb, 2 + xt.rank, ts, 2, b);
}

/* Runs f (a both_fn) at starts s on x and u: the interpreter against the reference, and
 * the executable e (if any) against the interpreter bit for bit. */
static void check_both(jx_fn *f, jx_exe *e, jx_array *x, jx_array *u, const int *s,
                       const int64_t *z, int wrap, const char *what) {
    int r = jx_array_rank(x);
    jx_array *in[2 + JX_MAX_RANK] = {x, u}, *got[2] = {0}, *jit[2] = {0};
    for (int k = 0; k < r; k++) in[2 + k] = i32s(s[k]);
    int rc = jx_interp(f, in, got);
    CHECK(rc == 0);
    if (rc == 0) {
        jx_array *want0 = ref_op(x, NULL, s, z, wrap), *want1 = ref_op(x, u, s, z, wrap);
        same_bits(got[0], want0, what);
        same_bits(got[1], want1, what);
        jx_array_free(want0), jx_array_free(want1);
        if (e) {
            CHECK(jx_exe_run(e, in, jit) == 0);
            if (jit[0]) same_bits(jit[0], got[0], what), same_bits(jit[1], got[1], what);
        }
    }
    free_all(got, 2), free_all(jit, 2), free_all(in + 2, r);
}

/* Every pair of starts in [-7, 9]: wrapped (the constructors) and raw (the primitives),
 * interpreter == reference, JIT == interpreter. */
static void sweep(jx_dtype dt, int raw) {
    jx_type xt = JX_TYPE(dt, 5, 4);
    int64_t z[2] = {2, 3};
    both_spec b;
    jx_fn *f = both_fn(xt, z, raw, &b);
    jx_exe *e = f ? jx_jit(f, NULL) : NULL;
    CHECK(f && e);
    jx_array *x = distinct(xt, 0), *u = distinct(JX_TYPE(dt, 2, 3), 100);
    for (int s0 = -7; s0 <= 9 && f && e; s0++)
        for (int s1 = -7; s1 <= 9; s1++) {
            char what[64];
            snprintf(what, sizeof what, "%s starts (%d,%d)", jx_dtype_name(dt), s0, s1);
            check_both(f, e, x, u, (int[]){s0, s1}, z, !raw, what);
        }
    jx_array_free(x), jx_array_free(u), jx_exe_free(e), jx_fn_free(f);
}

TEST(clamps_at_both_ends_interp_and_jit) {
    static const jx_dtype dts[5] = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL};
    for (int d = 0; d < 5; d++) sweep(dts[d], 0);
    sweep(JX_F32, 1);
}

/* The examples of JAX's documentation of lax.dynamic_slice / dynamic_update_slice. */
static void doc_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val s2 = jx_scalar(t, JX_I32, 2), s3 = jx_scalar(t, JX_I32, 3), s5 = jx_scalar(t, JX_I32, 5);
    jx_val s1 = jx_scalar(t, JX_I32, 1), s4 = jx_scalar(t, JX_I32, 4), one[2] = {s1, s1};
    out[0] = jx_dynamic_update_slice(in[0], in[1], 1, &s2);
    out[1] = jx_dynamic_update_slice(in[0], in[1], 1, &s3);
    out[2] = jx_dynamic_update_slice(in[0], in[1], 1, &s5);
    out[3] = jx_dynamic_slice(jx_reshape(in[2], JX_INTS(3, 4)), 2, one, JX_INTS(2, 3));
    out[4] = jx_dynamic_slice(jx_slice(in[2], JX_INTS(0), JX_INTS(5), JX_NOINTS), 1, &s4, JX_INTS(3));
}

TEST(jax_documentation_examples) {
    jx_type ts[3] = {JX_TYPE(JX_F32, 6), JX_TYPE(JX_F32, 3), JX_TYPE(JX_F32, 12)};
    jx_fn *f = jx_trace(doc_cb, 3, ts, 5, NULL);
    CHECK(f != NULL);
    if (!f) return;
    float z6[6] = {0}, o3[3] = {1, 1, 1}, ar[12];
    for (int i = 0; i < 12; i++) ar[i] = (float)i;
    jx_array *in[3] = {jx_array_from(JX_F32, 1, (int64_t[]){6}, z6),
                       jx_array_from(JX_F32, 1, (int64_t[]){3}, o3),
                       jx_array_from(JX_F32, 1, (int64_t[]){12}, ar)}, *out[5] = {0};
    CHECK(jx_interp(f, in, out) == 0);
    static const double w0[6] = {0, 0, 1, 1, 1, 0}, w1[6] = {0, 0, 0, 1, 1, 1};
    static const double w3[6] = {5, 6, 7, 9, 10, 11}, w4[3] = {2, 3, 4};
    CHECK(same(out[0], JX_TYPE(JX_F32, 6), w0));
    CHECK(same(out[1], JX_TYPE(JX_F32, 6), w1));
    CHECK(same(out[2], JX_TYPE(JX_F32, 6), w1));
    CHECK(same(out[3], JX_TYPE(JX_F32, 2, 3), w3));
    CHECK(same(out[4], JX_TYPE(JX_F32, 3), w4));
    free_all(in, 3);
    jx_fn_free(f);
}

/* Fused neighbours: computed operand, update and starts, and a consumer of the slice. */
static void fused_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val one = jx_scalar(t, JX_I32, 1), two = jx_scalar(t, JX_I32, 2);
    jx_val s[2] = {jx_sub(jx_mul(in[2], two), one), in[3]};
    out[0] = jx_add(jx_dynamic_slice(jx_mul(in[0], in[0]), 2, s, JX_INTS(2, 3)), in[1]);
    out[1] = jx_neg(jx_dynamic_update_slice(jx_add(in[0], in[0]), jx_max(in[1], in[1]), 2, s));
}

/* The JIT equals the interpreter with fused neighbours, for starts inside and past both ends. */
TEST(jit_fused_neighbours_bit_exact) {
    jx_type ts[4] = {JX_TYPE(JX_F32, 5, 4), JX_TYPE(JX_F32, 2, 3), JX_SCALAR(JX_I32),
                     JX_SCALAR(JX_I32)};
    jx_fn *f = jx_trace(fused_cb, 4, ts, 2, NULL);
    jx_exe *e = f ? jx_jit(f, NULL) : NULL;
    CHECK(f && e);
    jx_array *x = rand_array(ts[0], -3, 3, 0), *u = rand_array(ts[1], -3, 3, 0);
    for (int s0 = -4; s0 <= 5 && e; s0++)
        for (int s1 = -6; s1 <= 6; s1++) {
            jx_array *in[4] = {x, u, i32s(s0), i32s(s1)}, *a[2] = {0}, *b[2] = {0};
            CHECK(jx_interp(f, in, a) == 0 && jx_exe_run(e, in, b) == 0);
            if (a[0] && b[0]) same_bits(b[0], a[0], "slice"), same_bits(b[1], a[1], "update");
            free_all(a, 2), free_all(b, 2), free_all(in + 2, 2);
        }
    jx_array_free(x), jx_array_free(u), jx_exe_free(e), jx_fn_free(f);
}

/* ---- random shapes ----------------------------------------------------------------- */

TEST(random_shapes_interp_and_jit) {
    static const jx_dtype dts[4] = {JX_F32, JX_F64, JX_I32, JX_BOOL};
    for (int c = 0; c < 36; c++) {
        jx_type xt = {dts[c % 4], (int)(urand() * 4), {0}};
        int64_t z[JX_MAX_RANK];
        int s[JX_MAX_RANK];
        for (int k = 0; k < xt.rank; k++) {
            xt.shape[k] = (int64_t)(urand() * 6); /* 0..5, zero sizes included */
            z[k] = (int64_t)(urand() * (double)(xt.shape[k] + 1));
            s[k] = (int)(urand() * 17) - 8;
        }
        both_spec b;
        jx_fn *f = both_fn(xt, z, c % 5 == 0, &b);
        jx_exe *e = f ? jx_jit(f, NULL) : NULL;
        CHECK(f && e);
        jx_type ut = xt;
        for (int k = 0; k < xt.rank; k++) ut.shape[k] = z[k];
        jx_array *x = distinct(xt, 0), *u = distinct(ut, 1000);
        char what[64], ts[96];
        snprintf(what, sizeof what, "case %d: %s", c, jx_type_str(&xt, ts, sizeof ts));
        if (f && e) check_both(f, e, x, u, s, z, c % 5 != 0, what);
        jx_array_free(x), jx_array_free(u), jx_exe_free(e), jx_fn_free(f);
    }
}

/* ---- derivatives ------------------------------------------------------------------- */

/* g(x, u, s0, s1) = dus(sin(x), u * ds(x*x, s0, s1), s1, s0) plus a slice at constant
 * starts past both ends. */
static void grad_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val s[2] = {in[2], in[3]}, r[2] = {in[3], in[2]};
    jx_val far[2] = {jx_scalar(t, JX_I32, -9), jx_scalar(t, JX_I32, 99)};
    jx_val a = jx_dynamic_slice(jx_mul(in[0], in[0]), 2, s, JX_INTS(2, 3));
    out[0] = jx_dynamic_update_slice(jx_sin(in[0]), jx_mul(in[1], a), 2, r);
    out[1] = jx_dynamic_slice(jx_tanh(in[0]), 2, far, JX_INTS(3, 2));
}

static const jx_type grad_ts[4] = {{JX_F64, 2, {5, 4}}, {JX_F64, 2, {2, 3}},
                                   {JX_I32, 0, {0}}, {JX_I32, 0, {0}}};

TEST(vjp_and_jvp_against_finite_differences) {
    jx_fn *f = jx_trace(grad_cb, 4, grad_ts, 2, NULL);
    CHECK(f != NULL);
    for (int i = 0; f && i < 6; i++) txc_grad(f, -1, 1, 1e-6); /* starts 0..3: some clamp */
    jx_fn *v = f ? jx_vjp(f, NULL) : NULL;
    CHECK(v && count_op(v, JX_OP_DYNAMIC_UPDATE_SLICE) >= 2 && count_op(v, JX_OP_DYNAMIC_SLICE) >= 2);
    if (v) { /* the reverse pass compiles and matches the interpreter */
        jx_array *in[6];
        for (int i = 0; i < 6; i++) in[i] = gen_i(jx_fn_in_type(v, i), -1, 1);
        jit_vs_interp(v, in, 1e-12, "vjp");
        free_all(in, 6);
    }
    jx_fn_free(f);
}

/* sum(grad_cb's first output * x): a scalar to take the gradient of. */
static void loss_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val o[2];
    grad_cb(t, in, o, user);
    out[0] = jx_sum_all(jx_mul(o[0], in[0]));
}

TEST(second_order_grad_of_grad) {
    jx_fn *f = jx_trace(loss_cb, 4, grad_ts, 1, NULL);
    jx_fn *g = f ? jx_grad(f, 2, (int[]){0, 1}) : NULL;
    CHECK(g != NULL);
    for (int i = 0; g && i < 4; i++) txc_grad(g, -1, 1, 1e-6);
    jx_fn_free(g), jx_fn_free(f);
}

/* ---- vmap -------------------------------------------------------------------------- */

/* ds(x, s0, s1) with a 2x3 window; dus(x, u, s0, s1). */
static void ds_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_dynamic_slice(in[0], 2, in + 1, JX_INTS(2, 3));
}

static void dus_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_dynamic_update_slice(in[0], in[1], 2, in + 2);
}

static const jx_type ds_ts[3] = {{JX_F64, 2, {5, 4}}, {JX_I32, 0, {0}}, {JX_I32, 0, {0}}};
static const jx_type dus_ts[4] = {{JX_F64, 2, {5, 4}}, {JX_F64, 2, {2, 3}},
                                  {JX_I32, 0, {0}}, {JX_I32, 0, {0}}};

/* vmap(f, axes) against the loop, its JIT against its interpreter, and its derivatives
 * against finite differences. */
static void vmap_case(const jx_fn *f, const int *axes, int64_t bsize) {
    txc_vmap_gen(f, axes, bsize, gen_i, -2, 2, 0);
    jx_fn *g = jx_vmap(f, axes, NULL, bsize);
    if (!g) return;
    int ni = jx_fn_n_in(g);
    jx_array *in[8];
    for (int i = 0; i < ni; i++) in[i] = gen_i(jx_fn_in_type(g, i), -2, 2);
    txc_grad(g, -1, 1, 1e-6);
    jit_vs_interp(g, in, 0, "vmap");
    free_all(in, ni);
}

TEST(vmap_against_a_loop) {
    jx_fn *ds = jx_trace(ds_cb, 3, ds_ts, 1, NULL), *dus = jx_trace(dus_cb, 4, dus_ts, 1, NULL);
    CHECK(ds && dus);
    if (!ds || !dus) return;
    static const int dsa[][3] = {{0, N, N}, {1, N, N}, {2, N, N}, {N, 0, N}, {N, 0, 0},
                                 {0, 0, N}, {1, N, 0}, {0, 0, 0}};
    for (size_t i = 0; i < sizeof dsa / sizeof dsa[0]; i++) vmap_case(ds, dsa[i], 3);
    static const int dusa[][4] = {{0, N, N, N}, {N, 0, N, N}, {N, N, 0, N}, {1, 1, N, N},
                                  {2, 0, N, N}, {0, N, 0, 0}, {N, 0, 0, N}, {0, 0, 0, 0},
                                  {1, 0, N, 0}};
    for (size_t i = 0; i < sizeof dusa / sizeof dusa[0]; i++) vmap_case(dus, dusa[i], 3);
    jx_fn_free(ds), jx_fn_free(dus);
}

/* vmap of vmap: the inner vmap's batch of windows batched again (shared, per-window and
 * broadcast operands), against a loop over the outer batch. */
TEST(nested_vmap_against_a_loop) {
    jx_fn *ds = jx_trace(ds_cb, 3, ds_ts, 1, NULL), *dus = jx_trace(dus_cb, 4, dus_ts, 1, NULL);
    CHECK(ds && dus);
    if (!ds || !dus) return;
    static const int in1[][3] = {{N, 0, 0}, {0, N, N}, {0, 0, N}};
    static const int out1[][3] = {{0, N, N}, {N, 0, N}, {0, 0, 0}, {N, N, -1}};
    for (int i = 0; i < 3; i++) {
        jx_fn *g = jx_vmap(ds, in1[i], NULL, 3);
        CHECK(g != NULL);
        for (int j = 0; g && j < 4; j++) vmap_case(g, out1[j], 2);
        jx_fn_free(g);
    }
    static const int in2[][4] = {{N, N, 0, 0}, {0, 0, N, N}};
    static const int out2[][4] = {{0, N, N, N}, {N, 0, N, N}, {N, N, -1, N}, {0, 0, 0, 0}};
    for (int i = 0; i < 2; i++) {
        jx_fn *g = jx_vmap(dus, in2[i], NULL, 3);
        CHECK(g != NULL);
        for (int j = 0; g && j < 4; j++) vmap_case(g, out2[j], 2);
        jx_fn_free(g);
    }
    jx_fn_free(ds), jx_fn_free(dus);
}

/* ---- errors ------------------------------------------------------------------------ */

TEST(errors_name_the_op_types_and_line) {
    jx_type ts[4] = {JX_TYPE(JX_F32, 4, 5), JX_TYPE(JX_F32, 2, 3), JX_SCALAR(JX_I32),
                     JX_TYPE(JX_I32, 3)};
    jx_trace *t = jx_trace_begin(4, ts);
    jx_val x = jx_trace_input(t, 0), u = jx_trace_input(t, 1), s = jx_trace_input(t, 2);
    jx_val v = jx_trace_input(t, 3), ss[2] = {s, s};
    EXPECT_ERR(t, jx_dynamic_slice(x, 1, ss, JX_INTS(2)), "dynamic_slice", "f32[4,5]",
               "1 start indices for an operand of rank 2");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    jx_val fs[2] = {jx_trace_input(t, 2), jx_scalar(t, JX_F32, 1)};
    EXPECT_ERR(t, jx_dynamic_slice(x, 2, fs, JX_INTS(2, 2)), "dynamic_slice", "f32[]",
               "start index 1 has type f32[], expected i32[]");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    v = jx_trace_input(t, 3);
    jx_val mixed[2] = {s, v};
    EXPECT_ERR(t, jx_dynamic_slice(x, 2, mixed, JX_INTS(2, 2)), "dynamic_slice", "i32[3]",
               "start index 1 has type i32[3] but start index 0 has i32[]");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    ss[0] = ss[1] = s;
    EXPECT_ERR(t, jx_dynamic_slice(x, 2, ss, JX_INTS(2, 6)), "dynamic_slice", "f32[4,5]",
               "slice size 6 of dimension 1 is not in [0, 5]");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    ss[0] = ss[1] = s;
    EXPECT_ERR(t, jx_dynamic_slice(x, 2, ss, JX_INTS(2)), "dynamic_slice", "f32[4,5]",
               "slice_sizes has 1 entries, expected 2");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    EXPECT_ERR(t, jx_dynamic_slice(x, 2, NULL, JX_INTS(2, 2)), "dynamic_slice", "",
               "NULL start index list");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    EXPECT_ERR(t, jx_dynamic_slice(x, -1, ss, JX_INTS(2, 2)), "dynamic_slice", "",
               "-1 start indices");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), u = jx_trace_input(t, 1);
    s = jx_trace_input(t, 2), ss[0] = ss[1] = s;
    EXPECT_ERR(t, jx_dynamic_update_slice(u, x, 2, ss), "dynamic_update_slice", "f32[2,3]",
               "update f32[4,5] does not fit in operand f32[2,3]");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    ss[0] = ss[1] = s;
    EXPECT_ERR(t, jx_dynamic_update_slice(x, jx_convert(x, JX_I32), 2, ss),
               "dynamic_update_slice", "i32[4,5]", "update dtype i32 differs from operand dtype f32");
    t = jx_trace_begin(4, ts), x = jx_trace_input(t, 0), s = jx_trace_input(t, 2);
    ss[0] = ss[1] = s;
    EXPECT_ERR(t, jx_dynamic_update_slice(x, jx_reshape(x, JX_INTS(20)), 2, ss),
               "dynamic_update_slice", "f32[20]", "does not fit");
    /* a parsed node is checked by the same rule */
    CHECK(jx_fn_parse("{ lambda ; a:f32[4] b:i32[]. let\n"
                      "    c:f32[5] = dynamic_slice[slice_sizes=(5)] a b\n  in (c) }") == NULL);
    CHECK_CONTAINS(jx_error(), "slice size 5 of dimension 0 is not in [0, 4]");
}

/* ---- a scan reading batches by index ------------------------------------------------ */

/* body((acc, i), data) -> (acc + sum of rows [2i, 2i+2) of data, i + 1) */
static void batch_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val s[2] = {jx_mul(in[1], jx_scalar(t, JX_I32, 2)), jx_scalar(t, JX_I32, 0)};
    jx_val rows = jx_dynamic_slice(in[2], 2, s, JX_INTS(2, 3));
    out[0] = jx_add(in[0], jx_reduce_sum(rows, JX_INTS(0)));
    out[1] = jx_add(in[1], jx_scalar(t, JX_I32, 1));
    out[2] = in[2];
}

/* epoch(data) = the carried sum after scanning batch_body over 4 batches of 2 rows. */
static void epoch_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)user;
    jx_val init[3] = {jx_full(t, JX_TYPE(JX_F64, 3), 0), jx_scalar(t, JX_I32, 0), in[0]}, c[3];
    jx_scan(batch_body, NULL, 3, init, 0, NULL, 4, 0, 0, c, NULL);
    out[0] = c[0];
}

TEST(scan_reads_batches_by_index) {
    jx_type dt = JX_TYPE(JX_F64, 8, 3);
    jx_fn *f = jx_trace(epoch_cb, 1, &dt, 1, NULL);
    CHECK(f != NULL);
    if (!f) {
        printf("  %s\n", jx_error());
        return;
    }
    jx_array *d = distinct(dt, 0), *out[1] = {0};
    CHECK(jx_interp(f, &d, out) == 0);
    double want[3] = {0};
    for (int i = 0; i < 24; i++) want[i % 3] += jx_array_get(d, i);
    CHECK(same(out[0], JX_TYPE(JX_F64, 3), want));
    jx_array_free(d);
    jx_fn_free(f);
}

TEST_MAIN()
