/* Aliased buffers in jx_exe_run and jx_jitfn_run: a donated input passed again as another
 * input (the same array, or memory overlapping it), a caller-provided output overlapping
 * an input, and outputs overlapping each other. Each case compares with jx_interp on
 * unaliased copies, or checks the error that names the outputs. */
#include <cblas.h>

#include "jitcheck.h"

/* f(a, b) = a + rev(b) on f32[8] */
static void add_rev(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_add(in[0], jx_rev(in[1], JX_INTS(0)));
}

/* f(w, x) = w - 0.125 * dot(x, x) on f32[GN,GN] (one GEMM accumulating into w); big
 * enough that OpenBLAS packs the operands in several blocks along K, so a C aliasing an
 * operand is read back after being written */
enum { GN = 1024 };
static void gemm_update(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val d = jx_dot_general(in[1], in[1], JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_sub(in[0], jx_mul(jx_lit(d, 0.125), d));
}

/* f(x) = (2 * x, x + 1) on f32[n] */
static void twice_inc(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], jx_lit(in[0], 2.0));
    out[1] = jx_add(in[0], jx_lit(in[0], 1.0));
}

/* A f32 array of the given shape wrapping data (not freed with it). */
static jx_array *wrap_f32(int rank, const int64_t *shape, float *data) {
    return jx_array_wrap(JX_F32, rank, shape, data, NULL, NULL);
}

/* Interprets f on deep copies of in[0..n) (no aliasing) into want. */
static void interp_copies(const jx_fn *f, jx_array **in, int n, jx_array **want) {
    jx_array *c[8];
    for (int i = 0; i < n; i++) c[i] = jx_array_copy(in[i]);
    CHECK(jx_interp(f, c, want) == 0);
    free_all(c, n);
}

/* The reproducer: a donated and passed as both inputs; a + rev(a) is all 7s. */
TEST(donated_input_passed_twice) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 8), JX_TYPE(JX_F32, 8)};
    jx_fn *f = jx_trace(add_rev, 2, ts, 1, NULL);
    unsigned char donate[2] = {1, 0};
    jx_exe *e = jx_jit(f, &(jx_jit_opts){donate, 1, 1});
    CHECK(e != NULL);
    for (int mode = 0; mode < 2 && e; mode++) { /* output NULL, then the donor itself */
        float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        jx_array *a = jx_array_from(JX_F32, 1, (int64_t[]){8}, v);
        jx_array *in[2] = {a, a}, *out[1] = {mode ? a : NULL};
        CHECK(jx_exe_run(e, in, out) == 0);
        for (int i = 0; out[0] && i < 8; i++) CHECK_NEAR(jx_array_get(out[0], i), 7.0, 0);
        if (!mode) jx_array_free(out[0]);
        else for (int i = 0; i < 8; i++) CHECK_NEAR(jx_array_get(a, i), 7.0, 0);
        jx_array_free(a);
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

/* The donated input and the other input overlap partly (views 4 floats apart). */
TEST(donated_input_overlaps_other_input) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 8), JX_TYPE(JX_F32, 8)};
    jx_fn *f = jx_trace(add_rev, 2, ts, 1, NULL);
    unsigned char donate[2] = {1, 0};
    jx_exe *e = jx_jit(f, &(jx_jit_opts){donate, 1, 1});
    CHECK(e != NULL);
    for (int order = 0; order < 2 && e; order++) {
        float buf[12];
        for (int i = 0; i < 12; i++) buf[i] = (float)(i * i);
        jx_array *a = wrap_f32(1, (int64_t[]){8}, buf + (order ? 4 : 0));
        jx_array *b = wrap_f32(1, (int64_t[]){8}, buf + (order ? 0 : 4));
        jx_array *in[2] = {a, b}, *want[1] = {0}, *out[1] = {NULL};
        interp_copies(f, in, 2, want);
        CHECK(jx_exe_run(e, in, out) == 0);
        if (out[0]) same_arrays(out[0], want[0], 0, "a + rev(b), a and b overlapping");
        free_all(out, 1);
        free_all(want, 1);
        jx_array_free(a);
        jx_array_free(b);
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

/* A GEMM accumulating into a donated w that is also the GEMM's operand; the reference
 * is OpenBLAS on separate copies (the interpreter would take a second). */
TEST(donated_gemm_operand) {
    jx_type ts[2] = {JX_TYPE(JX_F32, GN, GN), JX_TYPE(JX_F32, GN, GN)};
    jx_fn *f = jx_trace(gemm_update, 2, ts, 1, NULL);
    unsigned char donate[2] = {1, 0};
    jx_exe *e = jx_jit(f, &(jx_jit_opts){donate, 1, 1});
    CHECK(e != NULL);
    for (int mode = 0; mode < 2 && e; mode++) { /* output NULL, then w itself */
        jx_array *w = rand_array(ts[0], -1, 1, 0), *want = jx_array_copy(w);
        jx_array *x = jx_array_copy(w), *in[2] = {w, w}, *out[1] = {mode ? w : NULL};
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, GN, GN, GN, -0.125f,
                    jx_array_data(x), GN, jx_array_data(x), GN, 1.0f, jx_array_data(want), GN);
        CHECK(jx_exe_run(e, in, out) == 0);
        if (out[0]) same_arrays(out[0], want, 1e-4, "w - dot(w, w) / 8, w donated");
        if (!mode) jx_array_free(out[0]);
        jx_array_free(want);
        jx_array_free(x);
        jx_array_free(w);
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

/* Output 0 wraps memory `shift` floats from the input's start (both f32[32]). */
static void output_overlaps_input(jx_exe *e, jx_jitfn *jf, const jx_fn *f, int shift) {
    float buf[80];
    for (int i = 0; i < 80; i++) buf[i] = (float)i;
    float *x0 = buf + 24, *y0 = x0 + shift;
    jx_array *x = wrap_f32(1, (int64_t[]){32}, x0), *in[1] = {x}, *want[2] = {0};
    interp_copies(f, in, 1, want);
    jx_array *y = wrap_f32(1, (int64_t[]){32}, y0), *out[2] = {y, NULL};
    int rc = e ? jx_exe_run(e, in, out) : jx_jitfn_run(jf, in, out);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(out[0] == y);
        same_arrays(y, want[0], 0, "2 * x into an overlapping output");
        same_arrays(out[1], want[1], 0, "x + 1 with output 0 overlapping x");
    }
    jx_array_free(out[1]);
    free_all(want, 2);
    jx_array_free(x);
    jx_array_free(y);
}

TEST(output_overlaps_input) {
    jx_type t = JX_TYPE(JX_F32, 32);
    jx_fn *f = jx_trace(twice_inc, 1, &t, 2, NULL);
    for (int donated = 0; donated < 2; donated++) {
        unsigned char donate[1] = {(unsigned char)donated};
        jx_jit_opts o = {donate, 1, 1};
        jx_exe *e = jx_jit(f, &o);
        jx_jitfn *jf = jx_jit_trace(twice_inc, 1, 2, NULL, &o);
        CHECK(e != NULL && jf != NULL);
        for (int s = 0; s < 4 && e && jf; s++) {
            int shift = (int[]){16, -16, 1, -20}[s];
            output_overlaps_input(e, NULL, f, shift);
            output_overlaps_input(NULL, jf, f, shift);
        }
        jx_exe_free(e);
        jx_jitfn_free(jf);
    }
    jx_fn_free(f);
}

/* The reproducer through jx_jitfn_run (it shares jx_exe_run's path). */
TEST(jitfn_donated_input_passed_twice) {
    unsigned char donate[2] = {1, 0};
    jx_jitfn *jf = jx_jit_trace(add_rev, 2, 1, NULL, &(jx_jit_opts){donate, 1, 1});
    float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    jx_array *a = jx_array_from(JX_F32, 1, (int64_t[]){8}, v);
    jx_array *in[2] = {a, a}, *out[1] = {NULL};
    CHECK(jx_jitfn_run(jf, in, out) == 0);
    for (int i = 0; out[0] && i < 8; i++) CHECK_NEAR(jx_array_get(out[0], i), 7.0, 0);
    jx_array_free(out[0]);
    jx_array_free(a);
    jx_jitfn_free(jf);
}

/* Two outputs sharing memory have no right answer: a clear error naming both. */
TEST(outputs_overlapping_each_other_fail) {
    jx_type t = JX_TYPE(JX_F32, 32);
    jx_fn *f = jx_trace(twice_inc, 1, &t, 2, NULL);
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, 1, 1});
    jx_jitfn *jf = jx_jit_trace(twice_inc, 1, 2, NULL, &(jx_jit_opts){NULL, 1, 1});
    float buf[40] = {0};
    jx_array *x = jx_array_new_type(&t), *in[1] = {x};
    for (int k = 0; k < 2 && e; k++) {
        jx_array *y0 = wrap_f32(1, (int64_t[]){32}, buf), *y1 = k ? wrap_f32(1, (int64_t[]){32}, buf + 8)
                                                                 : jx_array_retain(y0);
        jx_array *out[2] = {y0, y1};
        CHECK(jx_exe_run(e, in, out) < 0);
        CHECK_CONTAINS(jx_error(), "outputs 0 (f32[32]) and 1 (f32[32]) share memory");
        CHECK(out[0] == y0 && out[1] == y1);
        CHECK(jx_jitfn_run(jf, in, out) < 0);
        CHECK_CONTAINS(jx_error(), "outputs 0 (f32[32]) and 1 (f32[32]) share memory");
        jx_array_free(y0);
        jx_array_free(y1);
    }
    jx_array_free(x);
    jx_jitfn_free(jf);
    jx_exe_free(e);
    jx_fn_free(f);
}

/* Output 1 (x + 1) is planned in place in donated x; the caller passes NULL for it and
 * an array overlapping x for output 0, or the other way round: the in-place output then
 * gets a fresh array, and both are right. */
TEST(output_overlaps_donor_of_other_output) {
    jx_type t = JX_TYPE(JX_F32, 32);
    jx_fn *f = jx_trace(twice_inc, 1, &t, 2, NULL);
    unsigned char donate[1] = {1};
    jx_exe *e = jx_jit(f, &(jx_jit_opts){donate, 1, 1});
    CHECK(e != NULL);
    for (int k = 0; k < 2 && e; k++) {
        float buf[48];
        for (int i = 0; i < 48; i++) buf[i] = (float)i;
        jx_array *x = wrap_f32(1, (int64_t[]){32}, buf), *in[1] = {x}, *want[2] = {0};
        interp_copies(f, in, 1, want);
        jx_array *y = wrap_f32(1, (int64_t[]){32}, buf + 16), *out[2] = {NULL, NULL};
        out[k] = y;
        CHECK(jx_exe_run(e, in, out) == 0);
        if (out[1 - k]) {
            CHECK(out[1 - k] != x && out[k] == y);
            same_arrays(out[0], want[0], 0, "2 * x");
            same_arrays(out[1], want[1], 0, "x + 1");
        }
        jx_array_free(out[1 - k]);
        free_all(want, 2);
        jx_array_free(x);
        jx_array_free(y);
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

/* Inputs sharing memory that nothing writes are fine, and donation in place still
 * happens when nothing else overlaps. */
TEST(unwritten_aliases_and_plain_donation) {
    jx_type ts[2] = {JX_TYPE(JX_F32, 8), JX_TYPE(JX_F32, 8)};
    jx_fn *f = jx_trace(add_rev, 2, ts, 1, NULL);
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, 1, 1});
    unsigned char donate[2] = {1, 0};
    jx_exe *d = jx_jit(f, &(jx_jit_opts){donate, 1, 1});
    float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    jx_array *a = jx_array_from(JX_F32, 1, (int64_t[]){8}, v), *b = jx_array_copy(a);
    jx_array *in[2] = {a, a}, *out[1] = {NULL};
    CHECK(e && jx_exe_run(e, in, out) == 0);
    for (int i = 0; out[0] && i < 8; i++) CHECK_NEAR(jx_array_get(out[0], i), 7.0, 0);
    jx_array_free(out[0]);
    jx_array *in2[2] = {a, b}, *out2[1] = {NULL};
    CHECK(d && jx_exe_run(d, in2, out2) == 0);
    CHECK(out2[0] == a); /* computed in place */
    for (int i = 0; i < 8; i++) CHECK_NEAR(jx_array_get(a, i), 7.0, 0);
    jx_array_free(out2[0]);
    jx_array_free(a);
    jx_array_free(b);
    jx_exe_free(e);
    jx_exe_free(d);
    jx_fn_free(f);
}

TEST_MAIN()
