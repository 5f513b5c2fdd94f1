/* A catalog of bad input across the public API (include/jx.h) that the per-module tests
 * do not already cover: NULL arguments, poison and untraced values, values mixed across
 * traces, absurd sizes, out-of-range axes and results past the rank limit. Every case
 * must end in a clear error (naming the op and the shapes or the problem), not a crash or
 * a leak. This file holds NULL arguments, bad dtypes and functions without outputs;
 * t_errors_values.c the bad values, sizes and axes.
 *
 * Each case runs in a child process (fork, see errcheck.h), so a crash shows up as a
 * failure of that one case ("crashed with signal N") instead of ending the binary; the
 * child's exit status also carries sanitizer verdicts (ASan, UBSan, LSan leaks) back. */
#include <stdint.h>
#include <sys/resource.h>

#include "check.h"
#include "errcheck.h"

#include "err_util.h"

/* f() = 1.0: a function without inputs, for cases needing no inputs. */
static void err_one(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)in, (void)user;
    out[0] = jx_scalar(t, JX_F32, 1);
}

/* ---- NULL arguments ------------------------------------------------------------------ */

ITEST(null_fn_print_and_dot) {
    jx_fn *f = err_fn();
    FILE *out = tmpfile();
    jx_clear_error();
    jx_fn_print(NULL, out);
    HAS(jx_error(), "NULL");
    jx_clear_error();
    jx_fn_dot(NULL, out);
    HAS(jx_error(), "NULL");
    jx_clear_error();
    jx_fn_print(f, NULL);
    HAS(jx_error(), "NULL");
    jx_clear_error();
    jx_fn_dot(f, NULL);
    HAS(jx_error(), "NULL");
    CHECK(out && ftell(out) == 0);
    if (out) fclose(out);
    CHECK(jx_fn_to_string(NULL) == NULL);
    HAS(jx_error(), "NULL function");
    jx_fn_free(f);
}

ITEST(null_fn_accessors) {
    jx_fn *f = err_fn();
    jx_fn_free(NULL);
    CHECK(jx_fn_n_in(NULL) == 0 && jx_fn_n_out(NULL) == 0 && jx_fn_n_eqns(NULL) == 0);
    CHECK(jx_fn_in_type(NULL, 0).dtype == JX_NDTYPES);
    CHECK(jx_fn_out_type(NULL, 0).dtype == JX_NDTYPES);
    CHECK(jx_fn_in_type(f, -1).dtype == JX_NDTYPES && jx_fn_in_type(f, 1).dtype == JX_NDTYPES);
    CHECK(jx_fn_out_type(f, 1).dtype == JX_NDTYPES);
    jx_fn_free(f);
}

ITEST(null_interp_output_list) {
    jx_fn *f = err_fn();
    jx_type ty = F32(3);
    jx_array *x = jx_array_new_type(&ty);
    CHECK(jx_interp(f, &x, NULL) < 0);
    HAS(jx_error(), "interp", "NULL output list");
    jx_array_free(x);
    jx_fn_free(f);
    /* no inputs: a NULL input list is fine */
    jx_fn *g = jx_trace(err_one, 0, NULL, 1, NULL);
    jx_array *o = NULL;
    CHECK(g && jx_interp(g, NULL, &o) == 0 && o && jx_array_get(o, 0) == 1);
    jx_array_free(o);
    jx_fn_free(g);
}

ITEST(null_array_functions) {
    jx_array_fill(NULL, 1);
    HAS(jx_error(), "jx_array_fill", "NULL");
    jx_array_set(NULL, 0, 1);
    HAS(jx_error(), "jx_array_set", "NULL");
    CHECK(jx_array_dim(NULL, 0) < 0);
    HAS(jx_error(), "jx_array_dim", "NULL");
    CHECK(jx_array_rank(NULL) == 0 && jx_array_shape(NULL) == NULL);
    CHECK(jx_array_nbytes(NULL) == 0 && jx_array_cdata(NULL) == NULL);
    CHECK(jx_array_type(NULL).dtype == JX_NDTYPES);
    CHECK(jx_array_from(JX_F32, 2, NULL, (float[]){1}) == NULL);
    HAS(jx_error(), "jx_array_from", "NULL shape");
    float buf[4] = {0};
    CHECK(jx_array_wrap(JX_F32, 1, NULL, buf, NULL, NULL) == NULL);
    HAS(jx_error(), "jx_array_wrap", "NULL shape");
    int64_t n = 2;
    CHECK(jx_array_wrap(JX_F32, 1, &n, (char *)buf + 1, NULL, NULL) == NULL);
    HAS(jx_error(), "jx_array_wrap", "aligned");
}

ITEST(null_npy) {
    CHECK(jx_npy_load(NULL) == NULL);
    HAS(jx_error(), "jx_npy_load", "NULL");
    jx_array *a = jx_array_scalar(JX_F32, 1);
    CHECK(jx_npy_save(NULL, a) == -1);
    HAS(jx_error(), "jx_npy_save", "NULL");
    CHECK(jx_npy_parse(NULL, 128) == NULL);
    HAS(jx_error(), "NULL");
    void *d = jx_npy_dump(a, NULL); /* no length wanted: either fine or an error */
    free(d);
    jx_array_free(a);
}

ITEST(null_transformations) {
    CHECK(jx_vjp(NULL, NULL) == NULL);
    HAS(jx_error(), "vjp", "NULL function");
    CHECK(jx_value_and_grad(NULL, 0, NULL) == NULL);
    HAS(jx_error(), "value_and_grad", "NULL function");
    CHECK(jx_jvp(NULL, NULL) == NULL);
    HAS(jx_error(), "jvp", "NULL function");
    CHECK(jx_jacrev(NULL, 0, NULL) == NULL);
    HAS(jx_error(), "jacrev", "NULL");
    CHECK(jx_jacfwd(NULL, 0, NULL) == NULL);
    HAS(jx_error(), "jacfwd", "NULL");
    CHECK(jx_hessian(NULL, 0, NULL) == NULL);
    HAS(jx_error(), "NULL"); /* reported as jacrev's */
    CHECK(jx_simplify(NULL) == NULL);
    HAS(jx_error(), "simplify", "NULL function");
    jx_fn *f = err_fn();
    CHECK(jx_grad(f, 2, NULL) == NULL);
    HAS(jx_error(), "grad", "wrt");
    CHECK(jx_grad(f, -1, (int[]){0}) == NULL);
    HAS(jx_error(), "grad", "wrt");
    CHECK(jx_value_and_grad(f, 1, NULL) == NULL);
    HAS(jx_error(), "value_and_grad", "wrt");
    jx_fn_free(f);
}

ITEST(null_call_arguments) {
    jx_fn *f = err_fn();
    jx_type ty = F32(3);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0), o;
    CHECK(jx_call(f, NULL, &o) < 0);
    HAS(jx_error(), "call", "NULL");
    CHECK(jx_call(f, &x, NULL) < 0);
    HAS(jx_error(), "call", "NULL");
    jx_val untraced = {NULL, -1};
    CHECK(jx_call(f, &untraced, &o) < 0 && jx_val_bad(o));
    HAS(jx_error(), "call", "not traced");
    jx_trace_abort(t);
    jx_fn_free(f);
}

ITEST(call_without_inputs_needs_trace) {
    jx_fn *f = jx_trace(err_one, 0, NULL, 1, NULL);
    jx_val o;
    CHECK(f && jx_call(f, NULL, &o) < 0);
    HAS(jx_error(), "call", "needs a trace");
    jx_fn_free(f);
}

ITEST(null_trace_functions) {
    CHECK(jx_val_bad(jx_trace_input(NULL, 0)));
    CHECK(jx_trace_error(NULL) == NULL);
    jx_trace_abort(NULL);
    jx_type ty = F32(3);
    jx_trace *t = jx_trace_begin(1, &ty);
    CHECK(jx_trace_end(t, 1, NULL) == NULL);
    HAS(jx_error(), "trace_end", "bad output list");
    t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0);
    CHECK(jx_trace_end(t, -1, &x) == NULL);
    HAS(jx_error(), "trace_end", "-1");
    jx_val bad = {NULL, -1};
    CHECK(jx_val_type(bad).dtype == JX_NDTYPES);
    CHECK(jx_trace_begin(-1, NULL) == NULL);
    HAS(jx_error(), "trace", "-1");
}

ITEST(null_leaf_arguments) {
    jx_type ty = F32(3);
    jx_trace *t = jx_trace_begin(1, &ty);
    POISON(t, jx_constant(t, NULL), "constant", "NULL");
    jx_trace_abort(t);
    jx_array *a = jx_array_scalar(JX_F32, 2);
    /* a leaf has no operands to take the trace from: the message must say it is NULL */
    CHECK(jx_val_bad(jx_constant(NULL, a)));
    HAS(jx_error(), "constant", "NULL trace", "t_errors.c");
    jx_array_free(a);
    CHECK(jx_val_bad(jx_scalar(NULL, JX_F32, 1)));
    HAS(jx_error(), "constant", "NULL trace", "t_errors.c");
    CHECK(jx_val_bad(jx_iota(NULL, F32(3), 0)));
    HAS(jx_error(), "iota", "NULL trace", "t_errors.c");
    CHECK(jx_val_bad(jx_full(NULL, F32(3), 1)));
    HAS(jx_error(), "NULL trace", "t_errors.c");
    t = jx_trace_begin(1, &ty);
    POISON(t, jx_scalar(t, (jx_dtype)77, 1), "constant", "dtype 77");
    jx_trace_abort(t);
}

ITEST(null_type_size) { CHECK(jx_type_size(NULL) < 0); }

ITEST(null_type_eq) {
    jx_type ty = F32(2, 3);
    CHECK(jx_type_eq(NULL, &ty) == 0);
    CHECK(jx_type_eq(&ty, NULL) == 0);
}

ITEST(null_type_str) {
    jx_type ty = F32(2, 3);
    char buf[32] = "x";
    CHECK(jx_type_str(NULL, buf, sizeof buf) == buf && strlen(buf) < sizeof buf);
    CHECK(jx_type_str(&ty, NULL, 16) == NULL);
    CHECK(strcmp(jx_dtype_name((jx_dtype)99), "?") == 0 && jx_dtype_size((jx_dtype)-3) == 0);
}

ITEST(null_exe_run_lists) {
    jx_fn *f = err_fn();
    jx_exe *e = jx_jit(f, &(jx_jit_opts){.no_disk_cache = 1});
    CHECK(e != NULL);
    jx_type ty = F32(3);
    jx_array *x = jx_array_new_type(&ty), *none[1] = {NULL}, *o[1] = {NULL};
    CHECK(e && jx_exe_run(e, NULL, o) < 0 && o[0] == NULL);
    HAS(jx_error(), "NULL");
    CHECK(e && jx_exe_run(e, &x, NULL) < 0);
    HAS(jx_error(), "NULL");
    CHECK(e && jx_exe_run(e, none, o) < 0 && o[0] == NULL);
    HAS(jx_error(), "input 0");
    jx_exe_free(e);
    jx_exe_free(NULL);
    jx_array_free(x);
    jx_fn_free(f);
}

/* Without an operand list there is no trace to record on: the error is in jx_error(). */
ITEST(concatenate_null_list_and_negative_count) {
    jx_type ty = F32(3);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val x = jx_trace_input(t, 0);
    CHECK(jx_val_bad(jx_concatenate(2, NULL, 0)));
    HAS(jx_error(), "concatenate", "NULL", "t_errors.c");
    CHECK(jx_val_bad(jx_concatenate(-1, &x, 0)));
    HAS(jx_error(), "concatenate", "-1", "t_errors.c");
    jx_trace_abort(t);
}

ITEST(concatenate_too_many_operands) {
    jx_type ty = F32(1);
    jx_trace *t = jx_trace_begin(1, &ty);
    jx_val xs[70];
    for (int i = 0; i < 70; i++) xs[i] = jx_trace_input(t, 0);
    POISON(t, jx_concatenate(70, xs, 0), "concatenate", "70");
    jx_trace_abort(t);
}

/* ---- bad dtypes and functions without outputs -------------------------------------- */

ERR1(dtype_convert_invalid, F32(2), jx_convert(x, (jx_dtype)99), "convert_element_type", "99")
ERR1(dtype_bitcast_invalid, F32(2), jx_bitcast(x, (jx_dtype)-1), "bitcast_convert_type", "-1")
ERR1(dtype_bitcast_width, F32(2), jx_bitcast(x, JX_F64), "bitcast_convert_type", "f32[2]")
ERR1(dtype_iota_invalid, F32(2), jx_iota(t, JX_TYPE((jx_dtype)42, 3), 0), "iota", "42")
ERR1(dtype_full_invalid, F32(2), jx_full(t, JX_TYPE((jx_dtype)42, 3), 0), "42")
ERR1(dtype_argmax_index, F32(2), jx_argmax(x, 0, JX_F64), "argmax", "f64")
ERR1(rank_full_negative, F32(2), jx_full(t, ((jx_type){JX_F32, -1, {0}}), 0), "full", "-1")

/* f(x) = (): no outputs. */
static void err_nothing(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)in, (void)out, (void)user;
}

ITEST(transform_function_without_outputs) {
    jx_type ty = F32(3);
    jx_fn *f = jx_trace(err_nothing, 1, &ty, 0, NULL);
    CHECK(f != NULL);
    CHECK(jx_grad(f, 0, NULL) == NULL);
    HAS(jx_error(), "grad", "no outputs");
    CHECK(jx_jacrev(f, 0, NULL) == NULL);
    HAS(jx_error(), "jacrev", "no outputs");
    jx_fn *g = jx_vmap(f, NULL, NULL, 4), *h = jx_jvp(f, NULL), *k = jx_vjp(f, NULL);
    CHECK(g && h && k); /* nothing to do is not an error */
    jx_fn_free(g);
    jx_fn_free(h);
    jx_fn_free(k);
    jx_fn_free(f);
}

TEST_MAIN()
