/* Limits of the executor: GEMM dimensions beyond OpenBLAS's 32-bit integers are rejected
 * by jx_jit with the dot_general's shapes (and computed by a plain loop if one reached
 * the runtime), and an allocation failure names the buffer and its size. None of these
 * allocates the huge arrays: jx_jit only plans them. */
#include <cblas.h>

#include "../runtime/jx_rt.h"
#include "jit/cache.h"
#include "jitcheck.h"

/* The 256 TB arena below must fail as NULL, not abort, under the sanitizers too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

/* dot(a, b) contracting a's last axis with b's first */
static void matmul(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_dot_general(in[0], in[1], JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
}

TEST(gemm_dims_beyond_blasint_rejected_by_jit) {
    const int64_t big = (int64_t)1 << 31;
    struct {
        jx_type a, b;
        const char *what;
    } cases[3] = {
        {JX_TYPE(JX_F32, 1, big), JX_TYPE(JX_F32, big, 1), "K = 2147483648"},
        {JX_TYPE(JX_F32, big, 1), JX_TYPE(JX_F32, 1, 1), "M = 2147483648"},
        {JX_TYPE(JX_F64, 2, 3), JX_TYPE(JX_F64, 3, big), "N = 2147483648"},
    };
    for (int c = 0; c < 3; c++) {
        jx_type ts[2] = {cases[c].a, cases[c].b};
        jx_fn *f = jx_trace(matmul, 2, ts, 1, NULL);
        CHECK(f != NULL);
        jit_cache_stats before, after;
        jit_cache_get_stats(&before);
        jx_exe *e = f ? jx_jit(f, &(jx_jit_opts){NULL, 1, 1}) : NULL;
        jit_cache_get_stats(&after);
        CHECK(e == NULL);
        CHECK(after.compiles == before.compiles); /* refused by the planner, not compiled */
        if (!e && f) {
            char sa[64], sb[64], both[160];
            snprintf(both, sizeof both, "dot_general of %s and %s", jx_type_str(&ts[0], sa, sizeof sa),
                     jx_type_str(&ts[1], sb, sizeof sb));
            CHECK_CONTAINS(jx_error(), both);
            CHECK_CONTAINS(jx_error(), cases[c].what);
            CHECK_CONTAINS(jx_error(), "2147483647");
            CHECK_CONTAINS(jx_error(), "t_exe_limits.c:");
        }
        jx_exe_free(e);
        jx_fn_free(f);
    }
    /* the largest that fits is accepted */
    jx_type ok[2] = {JX_TYPE(JX_F32, 1, big - 1), JX_TYPE(JX_F32, big - 1, 1)};
    jx_fn *f = jx_trace(matmul, 2, ok, 1, NULL);
    jx_exe *e = jx_jit(f, &(jx_jit_opts){NULL, 1, 1});
    CHECK(e != NULL);
    jx_exe_free(e);
    jx_fn_free(f);
}

/* The runtime's fallback for dimensions OpenBLAS cannot take agrees with OpenBLAS, for
 * both dtypes, all transposes, beta 0 and 1, padded leading dimensions and K = 0. */
TEST(gemm_loop_matches_blas) {
    enum { M = 5, N = 7, K = 6, LD = 9 };
    for (int dt = 0; dt < 2; dt++)
        for (int tr = 0; tr < 4; tr++)
            for (int bk = 0; bk < 4; bk++) {
                int ta = tr & 1, tb = tr >> 1, k = bk < 2 ? K : 0;
                double beta = bk & 1 ? 1.0 : 0.0;
                double a[LD * LD], b[LD * LD], c0[LD * LD], c1[LD * LD];
                float af[LD * LD], bf[LD * LD], c0f[LD * LD], c1f[LD * LD];
                for (int i = 0; i < LD * LD; i++) {
                    a[i] = af[i] = (float)(urand() - 0.5);
                    b[i] = bf[i] = (float)(urand() - 0.5);
                    c0[i] = c1[i] = c0f[i] = c1f[i] = (float)(urand() - 0.5);
                }
                if (dt == 0) {
                    jx_rt_gemm_loop(0, ta, tb, M, N, k, 0.5, af, LD, bf, LD, beta, c0f, LD);
                    jx_rt_gemm(0, ta, tb, M, N, k, 0.5, af, LD, bf, LD, beta, c1f, LD, 1);
                } else {
                    jx_rt_gemm_loop(1, ta, tb, M, N, k, 0.5, a, LD, b, LD, beta, c0, LD);
                    jx_rt_gemm(1, ta, tb, M, N, k, 0.5, a, LD, b, LD, beta, c1, LD, 1);
                }
                for (int i = 0; i < LD * LD; i++) {
                    double x = dt ? c0[i] : c0f[i], y = dt ? c1[i] : c1f[i];
                    if (!check_near(x, y, 1e-6)) {
                        CHECK_FAIL_("dtype %d trans %d,%d k %d beta %g: element %d: loop %.9g, "
                                    "blas %.9g", dt, ta, tb, k, beta, i, x, y);
                        return;
                    }
                }
            }
}

/* sum(outer(x, x)) for x f32[2^23]: the outer product is an arena buffer of 2^48 bytes */
static void outer_sum(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val x = jx_reshape(in[0], JX_INTS(1 << 23, 1)), y = jx_reshape(in[0], JX_INTS(1, 1 << 23));
    jx_val o = jx_dot_general(x, y, JX_INTS(1), JX_INTS(0), JX_NOINTS, JX_NOINTS);
    out[0] = jx_sum_all(jx_exp(o));
}

TEST(out_of_memory_names_buffer_and_size) {
    jx_type t = JX_TYPE(JX_F32, 1 << 23);
    jx_fn *f = jx_trace(outer_sum, 1, &t, 1, NULL);
    CHECK(f != NULL);
    jx_exe *e = f ? jx_jit(f, &(jx_jit_opts){NULL, 1, 1}) : NULL;
    CHECK(e == NULL);
    if (!e) {
        CHECK_CONTAINS(jx_error(), "jx_jit: out of memory allocating arena 1 of 2");
        CHECK_CONTAINS(jx_error(), "(281474976710656 bytes)");
    }
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST_MAIN()
