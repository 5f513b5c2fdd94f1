/* Huge shapes are rejected where the type is made, naming the op and the shapes: every
 * type in a function has at most JX_MAX_BYTES (2^60) bytes, zero dims counted as 1, so
 * the interpreter, the planner and the lowering compute sizes, strides and products of
 * dims without overflow (UBSan used to report 2^62 * 4 in the planner). Types at the
 * limit are accepted. Cases run in child processes (errcheck.h). */
#include "check.h"
#include "errcheck.h"

#define P(k) ((int64_t)1 << (k))

/* Begins a trace with one input of type ty; 1 if accepted (the trace is discarded). */
static int ov_accepts(jx_type ty) {
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_trace_abort(t);
    return t != NULL;
}

ITEST(input_types_at_and_past_the_limit) {
    CHECK(ov_accepts(JX_TYPE(JX_F32, P(58))));      /* 2^60 bytes */
    CHECK(ov_accepts(JX_TYPE(JX_F64, P(57))));
    CHECK(ov_accepts(JX_TYPE(JX_BOOL, P(60))));
    CHECK(ov_accepts(JX_TYPE(JX_F32, 0, P(20), P(20))));
    CHECK(!ov_accepts(JX_TYPE(JX_F32, P(58) + 1)));
    HAS(jx_error(), "input 0 (f32[288230376151711745]) is too large", "2^60 bytes");
    CHECK(!ov_accepts(JX_TYPE(JX_F64, P(57) + 1)));
    HAS(jx_error(), "input 0 (f64[144115188075855873]) is too large");
    CHECK(!ov_accepts(JX_TYPE(JX_F32, P(61))));     /* the planner's 2^61 * 4 */
    CHECK(!ov_accepts(JX_TYPE(JX_F32, P(62))));     /* the UBSan report: 2^62 * 4 */
    HAS(jx_error(), "f32[4611686018427387904]", "too large");
    CHECK(!ov_accepts(JX_TYPE(JX_BOOL, P(60) + 1)));
    /* zero elements, but strides would overflow: rejected too */
    CHECK(!ov_accepts(JX_TYPE(JX_F32, 0, P(40), P(40))));
    HAS(jx_error(), "f32[0,1099511627776,1099511627776]", "zero dims counted as 1");
}

/* Traces expr on one input x of type ty; expects the trace to fail with an error that
 * names this file, the op and each string. */
#define OV1(name, ty, expr, ...)                                                        \
    ITEST(name) {                                                                       \
        jx_type ty_ = ty;                                                               \
        jx_trace *t = jx_trace_begin(1, &ty_);                                          \
        CHECK(t != NULL);                                                               \
        if (!t) return;                                                                 \
        jx_val x = jx_trace_input(t, 0);                                                \
        jx_val r = (expr);                                                              \
        (void)x;                                                                        \
        POISON(t, r, "too large", __VA_ARGS__);                                         \
        jx_fn *f = jx_trace_end(t, 1, &r);                                              \
        CHECK(f == NULL);                                                               \
    }

OV1(broadcast_past_the_limit, JX_SCALAR(JX_F32),
    jx_broadcast_in_dim(x, JX_INTS(P(58) + 1), JX_NOINTS), "broadcast_in_dim",
    "result f32[288230376151711745]", "operands: f32[]")
OV1(full_past_the_limit, JX_SCALAR(JX_F32), jx_full(t, JX_TYPE(JX_F32, P(59)), 1.0),
    "broadcast_in_dim", "f32[576460752303423488]")
OV1(iota_past_the_limit, JX_SCALAR(JX_F32), jx_iota(t, JX_TYPE(JX_I32, P(59)), 0), "iota",
    "i32[576460752303423488]")
/* the same element count in a wider dtype */
OV1(convert_widens_past_the_limit, JX_TYPE(JX_F32, P(58)), jx_convert(x, JX_F64), "convert",
    "result f64[288230376151711744]", "operands: f32[288230376151711744]")
OV1(concatenate_past_the_limit, JX_TYPE(JX_F32, P(58)),
    jx_concatenate(2, ((jx_val[]){x, jx_slice(x, JX_INTS(0), JX_INTS(1), JX_INTS(1))}), 0),
    "concatenate", "result f32[288230376151711745]")
OV1(pad_interior_past_the_limit, JX_TYPE(JX_F32, P(57)),
    jx_pad(x, jx_lit(x, 0), JX_INTS(0), JX_INTS(0), JX_INTS(2)), "pad",
    "operands: f32[144115188075855872], f32[]")
OV1(dot_general_past_the_limit, JX_TYPE(JX_F32, P(30), 1),
    jx_dot_general(x, jx_reshape(x, JX_INTS(1, P(30))), JX_INTS(1), JX_INTS(0), JX_NOINTS,
                   JX_NOINTS),
    "dot_general", "result f32[1073741824,1073741824]")
OV1(conv_patches_past_the_limit, JX_TYPE(JX_F32, 1, P(28), P(28), 1),
    jx_conv_patches(x, JX_INTS(4, 4), JX_INTS(1, 1), JX_INTS(0, 0), JX_INTS(0, 0)),
    "conv_patches", "f32[1,268435453,268435453,16]")
OV1(reshape_to_huge_empty, JX_TYPE(JX_F32, 0), jx_reshape(x, JX_INTS(0, P(40), P(40))),
    "reshape", "f32[0,1099511627776,1099511627776]")

/* f(x) = sum(x * x) on f32[2^40]: vmapped 2^20 times, its input has 2^62 bytes. */
static void ov_sumsq(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_sum_all(jx_mul(in[0], in[0]));
}
ITEST(vmap_batch_past_the_limit) {
    jx_type ty = JX_TYPE(JX_F32, P(40));
    jx_fn *f = jx_trace(ov_sumsq, 1, &ty, 1, NULL);
    int ax = 0;
    CHECK(f && jx_vmap(f, &ax, NULL, P(20)) == NULL);
    HAS(jx_error(), "vmap", "batched 1048576 times", "too large");
    jx_fn_free(f);
}

/* The text form goes through the same checks: the annotation of an oversized result. */
ITEST(ir_text_past_the_limit) {
    const char *src = "{ lambda ; a:f32[]. let\n"
                      "    b:f32[288230376151711745] = broadcast_in_dim[shape=(288230376151711745) "
                      "broadcast_dimensions=()] a\n"
                      "  in (b) }\n";
    CHECK(jx_fn_parse(src) == NULL);
    HAS(jx_error(), "broadcast_in_dim", "f32[288230376151711745]", "too large");
    const char *in = "{ lambda ; a:f32[4611686018427387904]. let\n"
                     "    b:f32[4611686018427387904] = neg a\n"
                     "  in (b) }\n";
    CHECK(jx_fn_parse(in) == NULL);
    HAS(jx_error(), "f32[4611686018427387904]");
}

/* f(x: f32[]) = sum of OV_NBUF terms b_i + rev(b_i), b_i = exp(broadcast(x) + i) of
 * f32[2^57] (2^59 bytes): each b_i is read twice, so it gets an arena buffer, and all
 * are live at once. Their sum (2^63 bytes) used to overflow the planner's int64. */
#define OV_NBUF 17
static void ov_buffers(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val a = jx_broadcast_in_dim(in[0], JX_INTS(P(57)), JX_NOINTS), s = a;
    jx_val b[OV_NBUF];
    for (int i = 0; i < OV_NBUF; i++) b[i] = jx_exp(jx_add(a, jx_lit(a, i + 1)));
    for (int i = 0; i < OV_NBUF; i++) s = jx_mul(s, jx_add(b[i], jx_rev(b[i], JX_INTS(0))));
    out[0] = s;
}
ITEST(jit_arena_past_the_limit) {
    jx_type ty = JX_SCALAR(JX_F32);
    jx_fn *f = jx_trace(ov_buffers, 1, &ty, 1, NULL);
    CHECK(f != NULL);
    jx_jit_opts o = {.no_disk_cache = 1};
    jx_exe *e = f ? jx_jit(f, &o) : NULL;
    CHECK(e == NULL);
    HAS(jx_error(), "arena", "2^60 bytes", "f32[144115188075855872]");
    jx_exe_free(e);
    jx_fn_free(f);
}

TEST_MAIN()
