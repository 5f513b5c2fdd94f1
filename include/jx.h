/* jx: a tracing JIT compiler for array programs.
 *
 * A user writes an ordinary C function that calls jx ops on jx_val handles; jx records
 * the calls into an IR graph (a jx_fn), which can be printed, parsed back, interpreted,
 * transformed (grad, vmap, jvp) and compiled.
 *
 * Conventions:
 *  - Ops take their source location first; the public names are macros that pass
 *    JX_HERE, so every IR node records the user's file:line.
 *  - Errors while tracing are sticky: the first bad op records a message naming the op,
 *    the operand types and the source line, and returns a poison value that later ops
 *    pass through. jx_trace returns NULL and jx_error() holds the message.
 *  - Functions that can fail return NULL or a negative code and leave a message in
 *    jx_error() (thread-local). Nothing aborts the process on user error.
 */
#ifndef JX_H
#define JX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basic types ------------------------------------------------------------------- */

typedef enum jx_dtype { JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL, JX_NDTYPES } jx_dtype;

#define JX_MAX_RANK 8

/* The largest type jx accepts anywhere (a traced input, any op's result, an IR text
 * annotation): its byte size, with zero dims counted as 1, is at most JX_MAX_BYTES
 * (2^60 bytes). Larger types are rejected where they are made, naming the op and the
 * shapes, so every size, stride and product of dims fits in int64 with room to spare. */
#define JX_MAX_BYTES ((int64_t)1 << 60)

/* A static array type: dtype and shape. */
typedef struct jx_type {
    jx_dtype dtype;
    int rank;
    int64_t shape[JX_MAX_RANK];
} jx_type;

/* A short list of integers: a shape, a permutation, a set of axes. */
typedef struct jx_ints {
    int n;
    int64_t v[JX_MAX_RANK];
} jx_ints;

/* A user source location. */
typedef struct jx_loc {
    const char *file;
    int line;
} jx_loc;

#define JX_HERE ((jx_loc){__FILE__, __LINE__})

#define JX__NARG(...) JX__NARG_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define JX__NARG_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
/* JX_INTS(2, 3) is the list {2, 3}; JX_NOINTS is the empty list. */
#define JX_INTS(...) ((jx_ints){JX__NARG(__VA_ARGS__), {__VA_ARGS__}})
#define JX_NOINTS ((jx_ints){0, {0}})
/* JX_TYPE(JX_F32, 2, 3) is f32[2,3]; JX_SCALAR(JX_F32) is f32[]. */
#define JX_TYPE(dt, ...) ((jx_type){(dt), JX__NARG(__VA_ARGS__), {__VA_ARGS__}})
#define JX_SCALAR(dt) ((jx_type){(dt), 0, {0}})

/* The message of the last failed call on this thread ("" if none). */
const char *jx_error(void);
/* Clears jx_error(). */
void jx_clear_error(void);

/* Name of a dtype ("f32"); size of one element in bytes. */
const char *jx_dtype_name(jx_dtype dt);
size_t jx_dtype_size(jx_dtype dt);
/* Number of elements of a type (1 for rank 0). */
int64_t jx_type_size(const jx_type *t);
/* Writes "f32[2,3]" into buf (always NUL-terminated); returns buf. */
char *jx_type_str(const jx_type *t, char *buf, size_t len);
/* 1 if both types are equal. */
int jx_type_eq(const jx_type *a, const jx_type *b);

/* ---- host arrays ------------------------------------------------------------------- */

/* A refcounted, 64-byte-aligned host array. */
typedef struct jx_array jx_array;

/* New zero-filled array; NULL on bad dtype/rank/shape or overflow. */
jx_array *jx_array_new(jx_dtype dt, int rank, const int64_t *shape);
/* New array of type t, zero-filled. */
jx_array *jx_array_new_type(const jx_type *t);
/* New array holding a copy of data (size * dtype size bytes). */
jx_array *jx_array_from(jx_dtype dt, int rank, const int64_t *shape, const void *data);
/* New rank-0 array holding v converted to dt. */
jx_array *jx_array_scalar(jx_dtype dt, double v);
/* Wraps caller memory without copying; release(ctx, data) runs when the last reference
 * goes (release may be NULL). data must be aligned to the dtype size. */
jx_array *jx_array_wrap(jx_dtype dt, int rank, const int64_t *shape, void *data,
                        void (*release)(void *ctx, void *data), void *ctx);
/* Deep copy. */
jx_array *jx_array_copy(const jx_array *a);
/* Adds a reference; returns a. */
jx_array *jx_array_retain(jx_array *a);
/* Drops a reference (NULL is ignored); frees at zero. */
void jx_array_free(jx_array *a);

jx_dtype jx_array_dtype(const jx_array *a);
int jx_array_rank(const jx_array *a);
const int64_t *jx_array_shape(const jx_array *a);
int64_t jx_array_dim(const jx_array *a, int axis);
int64_t jx_array_size(const jx_array *a);
size_t jx_array_nbytes(const jx_array *a);
void *jx_array_data(jx_array *a);
const void *jx_array_cdata(const jx_array *a);
jx_type jx_array_type(const jx_array *a);

/* Sets every element to v (converted to the dtype). */
void jx_array_fill(jx_array *a, double v);
/* Element i (flat, row-major) as a double / set from a double. */
double jx_array_get(const jx_array *a, int64_t i);
void jx_array_set(jx_array *a, int64_t i, double v);

/* .npy files (format 1.0-3.0) for the five dtypes. Load reads the header as numpy does
 * (any dtype spelling numpy accepts for them, e.g. '<f4', 'f4', 'float32', '?', '|b1';
 * big-endian data is byte-swapped, Fortran-order data copied to C order) and returns NULL
 * with a message naming the file on what numpy rejects, on other dtypes, truncated data
 * or an array over the load limit. Save writes format 1.0, little-endian, C order;
 * returns 0 or -1. */
jx_array *jx_npy_load(const char *path);
int jx_npy_save(const char *path, const jx_array *a);
/* The same on memory buffers. Save returns a malloc'd buffer and its size. */
jx_array *jx_npy_parse(const void *buf, size_t len);
void *jx_npy_dump(const jx_array *a, size_t *len);

/* The load limit: the largest array, in bytes of the result, that the loaders
 * (jx_npy_load/jx_npy_parse, each member of jx_tree_load/jx_tree_parse/jx_npz_load_one,
 * and jx_idx_load/jx_idx_parse/jx_mnist_load of jx/data.h) create. A file whose header
 * declares more fails with a message naming the file, the size and the limit, before
 * anything that large is allocated or read (a small gzip'd file cannot inflate into
 * gigabytes). The default, 1 GiB, holds the Fashion-MNIST
 * training images as f32 (188 MB) five times over. jx_set_load_limit sets it for the
 * whole process (0 restores the default) and returns the previous value; both calls are
 * thread-safe. */
#define JX_LOAD_LIMIT_DEFAULT ((size_t)1 << 30)
size_t jx_set_load_limit(size_t bytes);
size_t jx_load_limit(void);

/* ---- IR functions and tracing ------------------------------------------------------ */

typedef struct jx_trace jx_trace;
typedef struct jx_fn jx_fn;

/* A traced value: the trace it belongs to and its node. id < 0 is a poison value. */
typedef struct jx_val {
    jx_trace *t;
    int32_t id;
} jx_val;

/* A user function to trace: fill out[0..n_out-1] from in[0..n_in-1]. */
typedef void (*jx_trace_cb)(jx_trace *t, const jx_val *in, jx_val *out, void *user);

/* Traces f on inputs of the given types. Returns NULL (and sets jx_error) if any op
 * failed or an output was left unset. */
jx_fn *jx_trace_at(jx_loc loc, jx_trace_cb f, int n_in, const jx_type *in_types, int n_out,
                   void *user);
#define jx_trace(...) jx_trace_at(JX_HERE, __VA_ARGS__)

/* Callback-free tracing: begin a trace, build with ops, end it with the outputs.
 * jx_trace_end always consumes t; it returns NULL if tracing failed. */
jx_trace *jx_trace_begin(int n_in, const jx_type *in_types);
jx_val jx_trace_input(jx_trace *t, int i);
jx_fn *jx_trace_end(jx_trace *t, int n_out, const jx_val *outs);
/* Discards a trace without building a function. */
void jx_trace_abort(jx_trace *t);
/* Records a user error on t (first one wins), e.g. when a nested jx_vmap/jx_grad failed
 * inside a trace callback; returns a poison value. */
jx_val jx_trace_fail_at(jx_loc loc, jx_trace *t, const char *msg);
#define jx_trace_fail(...) jx_trace_fail_at(JX_HERE, __VA_ARGS__)
/* The first error recorded on t, or NULL. */
const char *jx_trace_error(const jx_trace *t);
/* The type of a traced value (dtype JX_NDTYPES, rank 0 for poison). */
jx_type jx_val_type(jx_val v);
/* 1 if v is not a value of a live trace: poison (an earlier op failed), uninitialised
 * (zeroed), or a value of a trace that has ended. An op given such a value records its
 * own error (naming the op, the operand and the source line) unless it is poison from an
 * error already recorded; an op that finds no trace at all records it on the innermost
 * trace this thread has open. Not detected: a value of an ended trace whose memory a
 * newer trace reuses. */
int jx_val_bad(jx_val v);

/* Inlines fn into the current trace: outs[i] = fn(args...)[i]. Returns 0 or -1. */
int jx_call_at(jx_loc loc, const jx_fn *fn, const jx_val *args, jx_val *outs);
#define jx_call(...) jx_call_at(JX_HERE, __VA_ARGS__)
/* A jx_trace_cb that calls the jx_fn given as user (jx_call on the callback's inputs and
 * outputs), so a function already traced goes wherever a callback does:
 *     jx_call_vmap(jx_fn_cb, predict_fn, 7, JX_ARGS(6, 1), axes, in, 1, NULL, &y);
 * jx_trace(jx_fn_cb, ...) re-traces a function. The function's input and output counts
 * must be the trace's, and its input types the types it is traced on, else the error
 * is recorded on the trace. */
void jx_fn_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user);

void jx_fn_free(jx_fn *f);
int jx_fn_n_in(const jx_fn *f);
int jx_fn_n_out(const jx_fn *f);
jx_type jx_fn_in_type(const jx_fn *f, int i);
jx_type jx_fn_out_type(const jx_fn *f, int i);
/* Number of equations (nodes that are not inputs). */
int jx_fn_n_eqns(const jx_fn *f);
/* Checks the graph: topological order, operand ranges, every node's type equals its
 * shape rule's. Returns 0 or -1 with a message. */
int jx_fn_verify(const jx_fn *f);

/* Prints the jaxpr-like text form. */
void jx_fn_print(const jx_fn *f, FILE *out);
/* jx_fn_print with flags: JX_PRINT_FOLD prints each node's sub-functions (custom_jvp's and
 * custom_vjp's function and rules) as "..." (`y:f32[3] = custom_jvp[...] x`), a compact
 * view to read that jx_fn_parse does not take. 0 prints as jx_fn_print. Returns 0, or -1
 * with jx_error set (NULL function or stream, unknown flags), printing nothing. */
#define JX_PRINT_FOLD 1
int jx_fn_print_opts(const jx_fn *f, FILE *out, int flags);
/* The text form as a malloc'd string. */
char *jx_fn_to_string(const jx_fn *f);
/* Parses exactly what jx_fn_print prints; NULL with a message naming line:column. */
jx_fn *jx_fn_parse(const char *text);
/* Graphviz DOT of the graph. */
void jx_fn_dot(const jx_fn *f, FILE *out);

/* Runs f on the reference interpreter. in[i] must match f's input types. out[i] receive
 * new arrays (caller frees). Returns 0 or -1 with a message. */
int jx_interp(const jx_fn *f, jx_array *const *in, jx_array **out);

/* ---- parameter trees and .npz files, in <jx/tree.h> ------------------------------ */
#include <jx/tree.h>

/* ---- primitives: one constructor per IR primitive, in <jx/prims.h> ----------------- */
#include <jx/prims.h>

/* ---- transformations (each returns a new jx_fn; the argument is not modified) ------ */

/* in_axes/out_axes value for "not batched". */
#define JX_NONE (-1000)

/* Reverse mode: g(x..., ct_y...) = (f(x)..., ct_x...) with one cotangent per input
 * selected by wrt (wrt[i] != 0; NULL selects every float input). Cotangent inputs have
 * the outputs' types; integer outputs' cotangents are ignored. */
jx_fn *jx_vjp(const jx_fn *f, const unsigned char *wrt);
/* Gradient of output 0 (a float scalar) with respect to inputs wrt[0..n_wrt-1]
 * (n_wrt == 0: input 0): g(x...) = (dy/dx_wrt[0], dy/dx_wrt[1], ...), one output per list
 * entry in list order, like JAX's argnums: an index listed twice gets its gradient twice.
 * Other outputs of f are auxiliary. */
jx_fn *jx_grad(const jx_fn *f, int n_wrt, const int *wrt);
/* Like jx_grad but g(x...) = (y, aux..., dy/dx_wrt...): JAX's has_aux form. */
jx_fn *jx_value_and_grad(const jx_fn *f, int n_wrt, const int *wrt);
/* Forward mode: g(x..., t_x...) = (f(x)..., t_y...) with one tangent input per input
 * selected by wrt (wrt[i] != 0; NULL selects every input), in input order; unselected
 * inputs have zero tangent, integer inputs' tangents are ignored. */
jx_fn *jx_jvp(const jx_fn *f, const unsigned char *wrt);
/* Vectorizing map over a batch of size batch_size: input i is batched along in_axes[i]
 * (or JX_NONE), output j gets its batch axis at out_axes[j] (NULL: all 0). Negative axes
 * count from the end of the batched type. */
jx_fn *jx_vmap(const jx_fn *f, const int *in_axes, const int *out_axes, int64_t batch_size);
/* Jacobians of output 0 with respect to inputs wrt[0..n_wrt) (n_wrt == 0: input 0), like
 * JAX's argnums: one output per entry, of shape out_shape + in_shape, by reverse or
 * forward mode. Hessian = jacfwd(jacrev) of a scalar output 0: n_wrt * n_wrt outputs,
 * output i * n_wrt + j = d2y / dx_wrt[i] dx_wrt[j] of shape in_shape_i + in_shape_j. */
jx_fn *jx_jacrev(const jx_fn *f, int n_wrt, const int *wrt);
jx_fn *jx_jacfwd(const jx_fn *f, int n_wrt, const int *wrt);
jx_fn *jx_hessian(const jx_fn *f, int n_wrt, const int *wrt);
/* Transform-and-call inside a trace: each traces f (n_in inputs, n_out outputs, user
 * passed through) on the types the transformation needs, read from the traced args,
 * transforms it, calls the result on args in their trace and frees what it made.
 * The inputs are grouped into arguments by a layout, the leaf count of each argument:
 * JX_ARGS(6, 1) is a tree of 6 leaves (say the params) then one array; JX_FLAT makes
 * every input its own argument. in_axes and wrt name arguments, as JAX's in_axes and
 * argnums do for the top level of a pytree, and apply to every leaf of one. So JAX's
 * vmap(predict, in_axes=(None, 0))(params, x) over 6 param leaves is
 *     jx_call_vmap(predict, NULL, 7, JX_ARGS(6, 1), (int[]){JX_NONE, 0}, in, 1, NULL, &y);
 * Errors (of f, of the transformation, bad or mismatched args or layout) are recorded on
 * the args' trace with the caller's line, and every output is poison (for a bad layout or
 * wrt list of grad, the first max(n_wrt, 1)). Each returns 0 or -1.
 * vmap: f is traced on the per-example types (each batched input without its axis,
 *   negative counting from the end of the input's type); the batch size is the batched
 *   inputs' common size along their axes; outs[0..n_out) batched along out_axes (one per
 *   output; NULL: all 0). At least one input must be batched.
 * grad: the gradients for every leaf of the arguments wrt[0..n_wrt) lists (n_wrt == 0:
 *   argument 0), argument by argument, leaves in order: the same structure.
 * value_and_grad: outs = (f's n_out outputs, then those gradients).
 * vjp: outs = (f's outputs, then the cotangents of the inputs of the arguments wrt
 *   selects: one byte per argument, NULL: every float input), given cts[0..n_out).
 * jvp: outs = (f's outputs, then their tangents), given tangents for the inputs of the
 *   arguments wrt selects (NULL: every input) in input order; the others are zero. */
#define JX_ARGS(...) JX_INTS(__VA_ARGS__)
#define JX_FLAT JX_NOINTS
int jx_call_vmap_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                    const int *in_axes, const jx_val *args, int n_out, const int *out_axes,
                    jx_val *outs);
int jx_call_grad_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                    const jx_val *args, int n_out, int n_wrt, const int *wrt, jx_val *grads);
int jx_call_value_and_grad_at(jx_loc loc, jx_trace_cb f, void *user, int n_in,
                              jx_ints layout, const jx_val *args, int n_out, int n_wrt,
                              const int *wrt, jx_val *outs);
int jx_call_vjp_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                   const jx_val *args, const unsigned char *wrt, int n_out, const jx_val *cts,
                   jx_val *outs);
int jx_call_jvp_at(jx_loc loc, jx_trace_cb f, void *user, int n_in, jx_ints layout,
                   const jx_val *args, const unsigned char *wrt, const jx_val *tangents,
                   int n_out, jx_val *outs);
#define jx_call_vmap(...) jx_call_vmap_at(JX_HERE, __VA_ARGS__)
#define jx_call_grad(...) jx_call_grad_at(JX_HERE, __VA_ARGS__)
#define jx_call_value_and_grad(...) jx_call_value_and_grad_at(JX_HERE, __VA_ARGS__)
#define jx_call_vjp(...) jx_call_vjp_at(JX_HERE, __VA_ARGS__)
#define jx_call_jvp(...) jx_call_jvp_at(JX_HERE, __VA_ARGS__)
/* Dead code and common subexpression elimination and algebraic simplification (x*1, x+0,
 * neg(neg x), transpose(transpose x), broadcasts of scalar constants, constant folding of
 * small constants). Returns a new function. */
jx_fn *jx_simplify(const jx_fn *f);

/* ---- compilation (LLVM 19 ORC) ----------------------------------------------------- */

typedef struct jx_exe jx_exe;

typedef struct jx_jit_opts {
    /* donate[i] != 0: input i's buffer may be reused for an output of the same type
     * (params updated in place). NULL: nothing donated. */
    const unsigned char *donate;
    int n_threads; /* 0: JX_NUM_THREADS or the core count */
    int no_disk_cache; /* 1: never read or write the on-disk object cache */
} jx_jit_opts;

/* Compiles f to native code (opts may be NULL). NULL with jx_error() on failure. */
jx_exe *jx_jit(const jx_fn *f, const jx_jit_opts *opts);
/* Runs e. in[i] must match the function's input types. For each output, if out[i] is a
 * non-NULL array of the right type it is written in place; otherwise a new array is
 * stored there (caller frees): the donated input's own array (retained) when the output
 * was computed in place in it, else a fresh one. Returns 0 or -1 (jx_error()).
 * Aliasing: any arrays may share memory, wholly or partly, and the results are as if
 * every input were read before any output is written, with two exceptions. A donated
 * input that shares memory with another input or with a caller's output is not updated
 * in place: its output gets a fresh array. A caller's output that shares memory with an
 * input (other than being exactly its donated input) is computed into a temporary and
 * copied into place at the end, overwriting that input's memory. Two caller outputs that
 * share memory are an error naming both (there is no right answer). Only aliased calls
 * pay for this (an overlap check without allocation on every call). Calls are
 * thread-safe, also on one executable; arrays written by one call must not be used by
 * another running at the same time. */
int jx_exe_run(jx_exe *e, jx_array *const *in, jx_array **out);
void jx_exe_free(jx_exe *e);

/* A jitted function that traces itself per input signature, like jax.jit: on a call with
 * input types not seen before, f is traced on those types (it may read them with
 * jx_val_type and build vmaps/grads of the right sizes inside), compiled and cached;
 * later calls with the same types run the cached executable. */
typedef struct jx_jitfn jx_jitfn;
jx_jitfn *jx_jit_trace_at(jx_loc loc, jx_trace_cb f, int n_in, int n_out, void *user,
                          const jx_jit_opts *opts);
#define jx_jit_trace(...) jx_jit_trace_at(JX_HERE, __VA_ARGS__)
/* Runs jf on in (retracing on a new signature); outputs as in jx_exe_run. 0 or -1. */
int jx_jitfn_run(jx_jitfn *jf, jx_array *const *in, jx_array **out);
/* Number of signatures compiled so far. */
int jx_jitfn_n_compiled(const jx_jitfn *jf);
void jx_jitfn_free(jx_jitfn *jf);

/* ---- control flow, custom derivatives and checkpoint, in <jx/control.h> ------------ */
#include <jx/control.h>

/* ---- jax.numpy-like helpers (built from primitives) -------------------------------- */

/* A scalar of x's dtype on x's trace. */
jx_val jx_lit_at(jx_loc loc, jx_val like, double v);
/* Full array of a type. */
jx_val jx_full_at(jx_loc loc, jx_trace *t, jx_type type, double v);
jx_val jx_zeros_like_at(jx_loc loc, jx_val x);
jx_val jx_ones_like_at(jx_loc loc, jx_val x);
/* NumPy-style broadcast of x to shape. */
jx_val jx_broadcast_to_at(jx_loc loc, jx_val x, jx_ints shape);
jx_val jx_expand_dims_at(jx_loc loc, jx_val x, int axis);
jx_val jx_squeeze_at(jx_loc loc, jx_val x, int axis);
/* Single-axis reductions; negative axes count from the end; keepdims keeps a size-1 dim. */
jx_val jx_sum_at(jx_loc loc, jx_val x, int axis, int keepdims);
jx_val jx_amax_at(jx_loc loc, jx_val x, int axis, int keepdims);
jx_val jx_mean_at(jx_loc loc, jx_val x, int axis, int keepdims);
/* Reductions over all elements to a scalar. */
jx_val jx_sum_all_at(jx_loc loc, jx_val x);
jx_val jx_mean_all_at(jx_loc loc, jx_val x);
/* a[m,k] @ b[k,n]; matvec a[m,k] @ x[k]; dot of two vectors. Batched leading dims of
 * matmul are broadcast like numpy.matmul. */
jx_val jx_matmul_at(jx_loc loc, jx_val a, jx_val b);
jx_val jx_matvec_at(jx_loc loc, jx_val a, jx_val x);
jx_val jx_dot_at(jx_loc loc, jx_val a, jx_val b);
/* relu(x) = max(x, 0) with derivative 0 at x == 0 (x > 0 ? 1 : 0), as jax.nn.relu and
 * PyTorch: a custom_jvp, not max's 0.5 tie rule. */
jx_val jx_relu_at(jx_loc loc, jx_val x);
jx_val jx_sigmoid_at(jx_loc loc, jx_val x);
jx_val jx_square_at(jx_loc loc, jx_val x);
/* Numerically stable along axis (max subtracted, kept finite on inputs of 1e6). */
jx_val jx_logsumexp_at(jx_loc loc, jx_val x, int axis);
jx_val jx_softmax_at(jx_loc loc, jx_val x, int axis);
jx_val jx_log_softmax_at(jx_loc loc, jx_val x, int axis);
/* labels (integer, any shape) -> one-hot of dtype dt with a new last axis of size n. */
jx_val jx_one_hot_at(jx_loc loc, jx_val labels, int n, jx_dtype dt);
jx_val jx_clip_at(jx_loc loc, jx_val x, double lo, double hi);
#define jx_lit(...) jx_lit_at(JX_HERE, __VA_ARGS__)
#define jx_full(...) jx_full_at(JX_HERE, __VA_ARGS__)
#define jx_zeros_like(...) jx_zeros_like_at(JX_HERE, __VA_ARGS__)
#define jx_ones_like(...) jx_ones_like_at(JX_HERE, __VA_ARGS__)
#define jx_broadcast_to(...) jx_broadcast_to_at(JX_HERE, __VA_ARGS__)
#define jx_expand_dims(...) jx_expand_dims_at(JX_HERE, __VA_ARGS__)
#define jx_squeeze(...) jx_squeeze_at(JX_HERE, __VA_ARGS__)
#define jx_sum(...) jx_sum_at(JX_HERE, __VA_ARGS__)
#define jx_amax(...) jx_amax_at(JX_HERE, __VA_ARGS__)
#define jx_mean(...) jx_mean_at(JX_HERE, __VA_ARGS__)
#define jx_sum_all(...) jx_sum_all_at(JX_HERE, __VA_ARGS__)
#define jx_mean_all(...) jx_mean_all_at(JX_HERE, __VA_ARGS__)
#define jx_matmul(...) jx_matmul_at(JX_HERE, __VA_ARGS__)
#define jx_matvec(...) jx_matvec_at(JX_HERE, __VA_ARGS__)
#define jx_dot(...) jx_dot_at(JX_HERE, __VA_ARGS__)
#define jx_relu(...) jx_relu_at(JX_HERE, __VA_ARGS__)
#define jx_sigmoid(...) jx_sigmoid_at(JX_HERE, __VA_ARGS__)
#define jx_square(...) jx_square_at(JX_HERE, __VA_ARGS__)
#define jx_logsumexp(...) jx_logsumexp_at(JX_HERE, __VA_ARGS__)
#define jx_softmax(...) jx_softmax_at(JX_HERE, __VA_ARGS__)
#define jx_log_softmax(...) jx_log_softmax_at(JX_HERE, __VA_ARGS__)
#define jx_one_hot(...) jx_one_hot_at(JX_HERE, __VA_ARGS__)
#define jx_clip(...) jx_clip_at(JX_HERE, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
