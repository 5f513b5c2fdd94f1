/* jx_exe_run: argument checks, where each output is computed, aliasing between the
 * caller's buffers, and the per-executable stack of arenas.
 *
 * The compiled code assumes that the only memory shared between its buffers is an
 * output written into its planned donor input (the same pointer). Every other overlap of
 * a written buffer with another buffer gives wrong elements: an output computed in place
 * reads inputs it has already overwritten. So each call first checks whether any buffer
 * the code will write (a caller-provided output, or a donated input updated in place)
 * overlaps any other buffer of the call, by byte ranges, not only by identical pointers:
 * sorting the ranges and sweeping them once, O(n log n), with no allocation for up to 16
 * inputs and 16 outputs. Only when something overlaps does the slower resolution run:
 *   - a donated input that overlaps another input or a caller-provided output is not
 *     updated in place: its output gets a fresh array (donation is a permission);
 *   - a caller-provided output that overlaps an input (other than being exactly its
 *     planned donor) is computed into a temporary and copied into place at the end, so
 *     the answer is right whatever the overlap;
 *   - two caller-provided outputs that overlap each other have no right answer: the call
 *     fails naming both outputs and their types. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/exe.h"
#include "jx_rt.h"
#include "core/util.h"

enum { SMALL = 16 };

/* Where output j is computed. */
enum { OUT_DIRECT, OUT_TEMP, OUT_INPLACE, OUT_FRESH };

/* A byte range [lo, hi) of one buffer; written != 0 if the compiled code writes it. */
typedef struct exe_span {
    uintptr_t lo, hi;
    int written;
} exe_span;

/* The state of one call: pointer lists and per-output modes, on the stack when small. */
typedef struct exe_call {
    void **inp, **outp, **tmp;
    unsigned char *mode;
    exe_span *span;
    void *inp_s[SMALL], *outp_s[SMALL], *tmp_s[SMALL];
    unsigned char mode_s[SMALL];
    exe_span span_s[2 * SMALL];
} exe_call;

/* See exe.h. */
char *exe_arena_new(size_t bytes) {
    size_t n = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

/* Pops an arena (allocating one if all are in use); NULL on OOM. */
static char *exe_arena_get(jx_exe *e) {
    char *a = NULL;
    pthread_mutex_lock(&e->mu);
    if (e->n_free > 0) a = e->free_arenas[--e->n_free];
    pthread_mutex_unlock(&e->mu);
    return a ? a : exe_arena_new(e->arena_bytes);
}

/* Returns an arena to the stack (growing it if needed). */
static void exe_arena_put(jx_exe *e, char *a) {
    pthread_mutex_lock(&e->mu);
    if (e->n_free == e->cap_free) {
        int nc = e->cap_free * 2 + 2;
        char **na = realloc(e->free_arenas, (size_t)nc * sizeof *na);
        if (!na) {
            pthread_mutex_unlock(&e->mu);
            free(a);
            return;
        }
        e->free_arenas = na;
        e->cap_free = nc;
    }
    e->free_arenas[e->n_free++] = a;
    pthread_mutex_unlock(&e->mu);
}

/* Checks the lists and every array's type. 0 or -1 with jx_error(). */
static int exe_check_args(const jx_exe *e, jx_array *const *in, jx_array **out) {
    char a[160], b[160];
    if (!e) return util_err("jx_exe_run: NULL executable");
    if (e->n_in > 0 && !in) return util_err("jx_exe_run: NULL input list for %d inputs", e->n_in);
    if (e->n_out > 0 && !out)
        return util_err("jx_exe_run: NULL output list for %d outputs", e->n_out);
    for (int i = 0; i < e->n_in; i++) {
        if (!in[i]) return util_err("jx_exe_run: input %d is NULL", i);
        jx_type t = jx_array_type(in[i]);
        if (!jx_type_eq(&t, &e->in_types[i]))
            return util_err("jx_exe_run: input %d has type %s, the function expects %s", i,
                            jx_type_str(&t, a, sizeof a), jx_type_str(&e->in_types[i], b, sizeof b));
    }
    for (int j = 0; j < e->n_out; j++) {
        if (!out[j]) continue;
        jx_type t = jx_array_type(out[j]);
        if (!jx_type_eq(&t, &e->out_types[j]))
            return util_err("jx_exe_run: output %d has type %s, the function returns %s", j,
                            jx_type_str(&t, a, sizeof a), jx_type_str(&e->out_types[j], b, sizeof b));
    }
    return 0;
}

/* Points c's lists at its stack storage, or allocates them for many inputs/outputs.
 * 0 or -1 with jx_error(). */
static int exe_call_init(exe_call *c, int n_in, int n_out) {
    size_t ni = (size_t)n_in, no = (size_t)n_out, ns = ni + no;
    int big_in = n_in > SMALL, big_out = n_out > SMALL;
    c->inp = big_in ? malloc(ni * sizeof *c->inp) : c->inp_s;
    c->outp = big_out ? malloc(no * sizeof *c->outp) : c->outp_s;
    c->tmp = big_out ? calloc(no, sizeof *c->tmp) : c->tmp_s;
    c->mode = big_out ? malloc(no) : c->mode_s;
    c->span = big_in || big_out ? malloc(ns * sizeof *c->span) : c->span_s;
    if (c->tmp && !big_out)
        for (int j = 0; j < n_out; j++) c->tmp[j] = NULL;
    if (c->mode) memset(c->mode, OUT_DIRECT, no);
    if (!c->inp || !c->outp || !c->tmp || !c->mode || !c->span)
        return util_err("jx_exe_run: out of memory allocating the call's pointer lists for %d "
                        "inputs and %d outputs (%zu bytes)", n_in, n_out,
                        ni * sizeof(void *) + no * (2 * sizeof(void *) + 1) + ns * sizeof(exe_span));
    return 0;
}

/* Frees what exe_call_init and the temporaries allocated. */
static void exe_call_free(exe_call *c, int n_out) {
    if (c->tmp)
        for (int j = 0; j < n_out; j++) free(c->tmp[j]);
    if (c->inp != c->inp_s) free(c->inp);
    if (c->outp != c->outp_s) free(c->outp);
    if (c->tmp != c->tmp_s) free(c->tmp);
    if (c->mode != c->mode_s) free(c->mode);
    if (c->span != c->span_s) free(c->span);
}

/* Orders spans by start address. */
static int exe_span_cmp(const void *x, const void *y) {
    const exe_span *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* 1 if some written span overlaps another span: after sorting by start, span k overlaps
 * an earlier one iff the largest end before it exceeds its start, and a later one iff
 * the next span starts before its end. */
static int exe_spans_conflict(exe_span *s, int n) {
    if (n <= 2 * SMALL) {
        for (int k = 1; k < n; k++) /* insertion sort: no call, no allocation */
            for (int m = k; m > 0 && s[m].lo < s[m - 1].lo; m--) {
                exe_span t = s[m];
                s[m] = s[m - 1];
                s[m - 1] = t;
            }
    } else {
        qsort(s, (size_t)n, sizeof *s, exe_span_cmp);
    }
    uintptr_t maxhi = 0;
    for (int k = 0; k < n; k++) {
        if (s[k].written && ((k > 0 && maxhi > s[k].lo) || (k + 1 < n && s[k + 1].lo < s[k].hi)))
            return 1;
        if (s[k].hi > maxhi) maxhi = s[k].hi;
    }
    return 0;
}

/* 1 if arrays x and y share at least one byte. */
static int exe_overlap(jx_array *x, jx_array *y) {
    uintptr_t a = (uintptr_t)jx_array_data(x), b = (uintptr_t)jx_array_data(y);
    size_t na = jx_array_nbytes(x), nb = jx_array_nbytes(y);
    return na > 0 && nb > 0 && a < b + nb && b < a + na;
}

/* 1 if caller output j is exactly its planned donor input (updated in place). */
static int exe_out_is_donor(const jx_exe *e, jx_array *const *in, jx_array **out, int j) {
    int d = e->plan->donor[j];
    return d >= 0 && jx_array_data(out[j]) == jx_array_data(in[d]);
}

/* The first pass: 1 if the default modes (caller outputs direct, donated inputs in
 * place) make a written buffer overlap another buffer. */
static int exe_alias_suspect(const jx_exe *e, exe_call *c, jx_array *const *in, jx_array **out) {
    int n = 0;
    for (int i = 0; i < e->n_in; i++) { /* span i is input i until the compaction below */
        uintptr_t lo = (uintptr_t)c->inp[i];
        c->span[n++] = (exe_span){lo, lo + jx_array_nbytes(in[i]), 0};
    }
    for (int j = 0; j < e->n_out; j++) {
        if (c->mode[j] == OUT_INPLACE || (out[j] && exe_out_is_donor(e, in, out, j))) {
            c->span[e->plan->donor[j]].written = 1;
        } else if (out[j]) {
            uintptr_t lo = (uintptr_t)jx_array_data(out[j]);
            c->span[n++] = (exe_span){lo, lo + jx_array_nbytes(out[j]), 1};
        }
    }
    int m = 0;
    for (int k = 0; k < n; k++)
        if (c->span[k].hi > c->span[k].lo) c->span[m++] = c->span[k]; /* empty: no overlap */
    return exe_spans_conflict(c->span, m);
}

/* The slow pass, run only when something overlaps: picks fresh arrays, temporaries or an
 * error as described at the top of the file. 0 or -1 with jx_error(). */
static int exe_alias_resolve(const jx_exe *e, exe_call *c, jx_array *const *in, jx_array **out) {
    char a[160], b[160];
    for (int j = 0; j < e->n_out; j++) {
        if (c->mode[j] != OUT_INPLACE) continue;
        int d = e->plan->donor[j], clash = 0;
        for (int i = 0; i < e->n_in && !clash; i++) clash = i != d && exe_overlap(in[d], in[i]);
        for (int k = 0; k < e->n_out && !clash; k++) clash = out[k] && exe_overlap(in[d], out[k]);
        if (clash) c->mode[j] = OUT_FRESH;
    }
    for (int j = 0; j < e->n_out; j++) {
        if (!out[j]) continue;
        for (int k = j + 1; k < e->n_out; k++)
            if (out[k] && exe_overlap(out[j], out[k]))
                return util_err("jx_exe_run: outputs %d (%s) and %d (%s) share memory; each "
                                "output needs its own buffer", j,
                                jx_type_str(&e->out_types[j], a, sizeof a), k,
                                jx_type_str(&e->out_types[k], b, sizeof b));
        int d = exe_out_is_donor(e, in, out, j) ? e->plan->donor[j] : -1;
        for (int i = 0; i < e->n_in; i++)
            if (i != d && exe_overlap(out[j], in[i])) c->mode[j] = OUT_TEMP;
    }
    return 0;
}

/* Sets every output's mode and pointer, allocating fresh arrays and temporaries.
 * 0 or -1 with jx_error() (fresh arrays already stored in out are freed by the caller). */
static int exe_place_outputs(const jx_exe *e, exe_call *c, jx_array *const *in, jx_array **out) {
    char a[160];
    for (int j = 0; j < e->n_out; j++)
        c->mode[j] = out[j] ? OUT_DIRECT : e->plan->donor[j] >= 0 ? OUT_INPLACE : OUT_FRESH;
    if (exe_alias_suspect(e, c, in, out) && exe_alias_resolve(e, c, in, out) < 0) return -1;
    for (int j = 0; j < e->n_out; j++) {
        if (c->mode[j] == OUT_INPLACE) {
            c->outp[j] = c->inp[e->plan->donor[j]];
        } else if (c->mode[j] == OUT_FRESH) {
            if (!(out[j] = jx_array_new_type(&e->out_types[j])))
                return util_err("jx_exe_run: out of memory allocating output %d (%s, %lld bytes)",
                                j, jx_type_str(&e->out_types[j], a, sizeof a),
                                (long long)(jx_type_size(&e->out_types[j]) *
                                            (int64_t)jx_dtype_size(e->out_types[j].dtype)));
            c->outp[j] = jx_array_data(out[j]);
        } else if (c->mode[j] == OUT_TEMP) {
            size_t nb = jx_array_nbytes(out[j]);
            if (!(c->tmp[j] = exe_arena_new(nb)))
                return util_err("jx_exe_run: out of memory allocating a %zu-byte temporary for "
                                "output %d (%s), which overlaps an input", nb, j,
                                jx_type_str(&e->out_types[j], a, sizeof a));
            c->outp[j] = c->tmp[j];
        } else {
            c->outp[j] = jx_array_data(out[j]);
        }
    }
    return 0;
}

/* See jx.h. */
int jx_exe_run(jx_exe *e, jx_array *const *in, jx_array **out) {
    if (exe_check_args(e, in, out) < 0) return -1;
    exe_call c;
    int rc = exe_call_init(&c, e->n_in, e->n_out);
    for (int i = 0; i < e->n_in && rc == 0; i++) c.inp[i] = jx_array_data(in[i]);
    if (rc == 0) rc = exe_place_outputs(e, &c, in, out);
    char *arena = rc == 0 ? exe_arena_get(e) : NULL;
    if (rc == 0 && !arena)
        rc = util_err("jx_exe_run: out of memory allocating a %zu-byte arena for a call "
                      "running concurrently with others", e->arena_bytes);
    if (rc == 0) {
        e->entry(c.inp, c.outp, arena, e->consts, e->n_threads);
        exe_arena_put(e, arena);
        for (int j = 0; j < e->n_out; j++) {
            if (c.mode[j] == OUT_TEMP) memcpy(jx_array_data(out[j]), c.tmp[j], jx_array_nbytes(out[j]));
            if (c.mode[j] == OUT_INPLACE) out[j] = jx_array_retain(in[e->plan->donor[j]]);
        }
    } else if (c.mode) {
        for (int j = 0; j < e->n_out; j++)
            if (c.mode[j] == OUT_FRESH && out[j]) {
                jx_array_free(out[j]);
                out[j] = NULL;
            }
    }
    exe_call_free(&c, e->n_out);
    return rc;
}
