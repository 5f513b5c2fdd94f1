/* Executables: jx_jit (verify, then compiled code from cache.c: simplify, plan, memory
 * plan, lower, compile, or a cache hit), jx_exe_run and jx_exe_free, JX_DUMP and the
 * inspection accessors.
 *
 * Two executables built from equal functions and options share one jit_code (the plan,
 * constants and machine code are read-only); each keeps its own arenas.
 *
 * Thread safety: the compiled code keeps all intermediates in the arena passed to it,
 * so each concurrent call needs its own arena. An executable keeps a small stack of
 * arenas under a mutex (two allocated at compile time); a call pops one, or allocates a
 * new one when more threads than that run at once, and pushes it back afterwards. With
 * preallocated outputs a call therefore does no malloc. The thread count (opts, else
 * JX_NUM_THREADS, else the cores) is passed to the compiled code at each call: its big
 * loops run on the runtime pool and its GEMMs on as many OpenBLAS threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/cache.h"
#include "jit/jit.h"
#include "jx_rt.h"
#include "util.h"

struct jx_exe {
    int n_threads; /* for the big loops and BLAS (jx_rt_threads) */
    jit_code *code;    /* shared compiled code (cache.c); the next three point into it */
    jit_plan *plan;
    jit_entry_fn entry;
    void **consts;
    int n_in, n_out;
    jx_type *in_types, *out_types;
    size_t arena_bytes;
    pthread_mutex_t mu;
    char **free_arenas;
    int n_free, cap_free;
    char *plan_text, *fn_text, *opt_text;
    jit_texts texts;
};

/* A new 64-byte-aligned arena (at least 64 bytes). */
static char *exe_arena_new(size_t bytes) {
    size_t n = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

/* Writes text to dir/name; ignores failures (dumping is best effort). */
static void exe_dump_file(const char *dir, unsigned long long id, const char *name,
                          const char *text) {
    if (!text) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/jx_%04llu.%s", dir, id, name);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Frees an executable (also a partially built one). */
void jx_exe_free(jx_exe *e) {
    if (!e) return;
    jit_code_release(e->code);
    for (int i = 0; i < e->n_free; i++) free(e->free_arenas[i]);
    free(e->free_arenas);
    pthread_mutex_destroy(&e->mu);
    free(e->in_types);
    free(e->out_types);
    free(e->plan_text);
    free(e->fn_text);
    free(e->opt_text);
    free(e->texts.llvm_before);
    free(e->texts.llvm_after);
    free(e->texts.asm_text);
    free(e);
}

/* Compiles f; keep != 0 keeps every stage's text. */
static jx_exe *exe_compile(const jx_fn *f, const jx_jit_opts *opts, int keep) {
    static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
    static unsigned long long next_id;
    if (!f) {
        util_err("jx_jit: NULL function");
        return NULL;
    }
    if (jx_fn_verify(f) < 0) return NULL;
    const char *dump = getenv("JX_DUMP");
    if (dump && !*dump) dump = NULL;
    keep = keep || dump;
    jx_exe *e = calloc(1, sizeof *e);
    if (!e) {
        util_err("jx_jit: out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    e->n_in = f->n_in;
    e->n_out = f->n_out;
    e->in_types = calloc((size_t)f->n_in + 1, sizeof *e->in_types);
    e->out_types = calloc((size_t)f->n_out + 1, sizeof *e->out_types);
    if (!e->in_types || !e->out_types) goto oom;
    for (int i = 0; i < f->n_in; i++) e->in_types[i] = f->nodes[i].type;
    for (int i = 0; i < f->n_out; i++) e->out_types[i] = f->nodes[f->outs[i]].type;
    e->code = jit_code_get(f, opts, keep ? &e->texts : NULL);
    if (!e->code) goto fail;
    e->plan = e->code->plan;
    e->entry = e->code->entry;
    e->n_threads = jx_rt_threads(opts ? opts->n_threads : 0);
    e->consts = e->code->consts;
    e->arena_bytes = (size_t)e->plan->arena_bytes;
    if (keep) {
        e->plan_text = jit_plan_str(e->plan);
        e->fn_text = jx_fn_to_string(f);
        e->opt_text = jx_fn_to_string(e->code->fn);
    }
    e->cap_free = 2;
    e->free_arenas = calloc((size_t)e->cap_free, sizeof *e->free_arenas);
    if (!e->free_arenas) goto oom;
    for (int i = 0; i < 2; i++) {
        char *a = exe_arena_new(e->arena_bytes);
        if (!a) goto oom;
        e->free_arenas[e->n_free++] = a;
    }
    if (dump) {
        pthread_mutex_lock(&id_mu);
        unsigned long long id = ++next_id;
        pthread_mutex_unlock(&id_mu);
        exe_dump_file(dump, id, "ir.txt", e->fn_text);
        exe_dump_file(dump, id, "opt.txt", e->opt_text);
        exe_dump_file(dump, id, "plan.txt", e->plan_text);
        exe_dump_file(dump, id, "before.ll", e->texts.llvm_before);
        exe_dump_file(dump, id, "after.ll", e->texts.llvm_after);
        exe_dump_file(dump, id, "s", e->texts.asm_text);
    }
    return e;
oom:
    util_err("jx_jit: out of memory");
fail:
    jx_exe_free(e);
    return NULL;
}

/* See jx.h. */
jx_exe *jx_jit(const jx_fn *f, const jx_jit_opts *opts) {
    return exe_compile(f, opts, 0);
}

/* See jit.h. */
jx_exe *jit_compile_keep(const jx_fn *f, const jx_jit_opts *opts) {
    return exe_compile(f, opts, 1);
}

/* strdup that passes NULL through; the accessors below are documented in jit.h. */
static char *exe_dup(const char *s) {
    return s ? strdup(s) : NULL;
}
char *jit_exe_plan(const jx_exe *e) {
    return e ? exe_dup(e->plan_text) : NULL;
}
char *jit_exe_llvm(const jx_exe *e, int after_opt) {
    return e ? exe_dup(after_opt ? e->texts.llvm_after : e->texts.llvm_before) : NULL;
}
char *jit_exe_asm(const jx_exe *e) {
    return e ? exe_dup(e->texts.asm_text) : NULL;
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

/* 1 if a caller-provided output other than j shares memory with array x. */
static int exe_out_shares(const jx_exe *e, jx_array *x, jx_array *const *out, int j) {
    for (int k = 0; k < e->n_out; k++)
        if (k != j && out[k] && (out[k] == x || jx_array_data(out[k]) == jx_array_data(x)))
            return 1;
    return 0;
}

/* See jx.h. */
int jx_exe_run(jx_exe *e, jx_array *const *in, jx_array **out) {
    char a[160], b[160];
    if (!e) return util_err("jx_exe_run: NULL executable");
    if (e->n_in > 0 && !in) return util_err("jx_exe_run: NULL input list for %d inputs", e->n_in);
    if (e->n_out > 0 && !out)
        return util_err("jx_exe_run: NULL output list for %d outputs", e->n_out);
    enum { SMALL = 16 };
    void *inp_s[SMALL], *outp_s[SMALL];
    void **inp = e->n_in <= SMALL ? inp_s : malloc((size_t)e->n_in * sizeof *inp);
    void **outp = e->n_out <= SMALL ? outp_s : malloc((size_t)e->n_out * sizeof *outp);
    unsigned char fresh_s[SMALL], *fresh = e->n_out <= SMALL ? fresh_s : malloc((size_t)e->n_out);
    void *tmp_s[SMALL], **tmp = e->n_out <= SMALL ? tmp_s : malloc((size_t)e->n_out * sizeof *tmp);
    int rc = 0;
    if (!inp || !outp || !fresh || !tmp) {
        rc = util_err("jx_exe_run: out of memory");
        goto done;
    }
    for (int j = 0; j < e->n_out; j++) {
        fresh[j] = 0;
        tmp[j] = NULL;
    }
    for (int i = 0; i < e->n_in && rc == 0; i++) {
        if (!in[i]) {
            rc = util_err("jx_exe_run: input %d is NULL", i);
            break;
        }
        jx_type t = jx_array_type(in[i]);
        if (!jx_type_eq(&t, &e->in_types[i]))
            rc = util_err("jx_exe_run: input %d has type %s, the function expects %s", i,
                          jx_type_str(&t, a, sizeof a), jx_type_str(&e->in_types[i], b, sizeof b));
        inp[i] = jx_array_data(in[i]);
    }
    for (int j = 0; j < e->n_out && rc == 0; j++) {
        if (!out[j]) continue;
        jx_type t = jx_array_type(out[j]);
        if (!jx_type_eq(&t, &e->out_types[j]))
            rc = util_err("jx_exe_run: output %d has type %s, the function returns %s", j,
                          jx_type_str(&t, a, sizeof a), jx_type_str(&e->out_types[j], b, sizeof b));
    }
    if (rc) goto done;
    for (int j = 0; j < e->n_out; j++) {
        int d = e->plan->donor[j];
        if (out[j]) {
            outp[j] = jx_array_data(out[j]);
            /* a caller output sharing memory with an input that was not planned as its
             * donor: compute into a temporary and copy at the end */
            size_t nb = jx_array_nbytes(out[j]);
            for (int i = 0; i < e->n_in && nb > 0; i++)
                if (jx_array_data(in[i]) == outp[j] && i != d) {
                    tmp[j] = malloc(nb);
                    if (!tmp[j]) {
                        rc = util_err("jx_exe_run: out of memory");
                        goto done;
                    }
                    outp[j] = tmp[j];
                    break;
                }
        } else if (d >= 0 && !exe_out_shares(e, in[d], out, j)) {
            outp[j] = jx_array_data(in[d]);
        } else {
            /* no donor, or the caller passed the donor's own array as another output:
             * then output j cannot become that array too (the compiled code copies the
             * donated input into this fresh array before updating it) */
            out[j] = jx_array_new_type(&e->out_types[j]);
            if (!out[j]) {
                rc = util_err("jx_exe_run: cannot allocate output %d", j);
                goto done;
            }
            fresh[j] = 1;
            outp[j] = jx_array_data(out[j]);
        }
    }
    char *arena = exe_arena_get(e);
    if (!arena) {
        rc = util_err("jx_exe_run: out of memory");
        goto done;
    }
    e->entry(inp, outp, arena, e->consts, e->n_threads);
    exe_arena_put(e, arena);
    for (int j = 0; j < e->n_out; j++) {
        if (tmp[j]) memcpy(jx_array_data(out[j]), tmp[j], jx_array_nbytes(out[j]));
        if (!out[j]) out[j] = jx_array_retain(in[e->plan->donor[j]]); /* computed in place */
    }
done:
    if (rc && fresh)
        for (int j = 0; j < e->n_out; j++)
            if (fresh[j]) {
                jx_array_free(out[j]);
                out[j] = NULL;
            }
    if (tmp)
        for (int j = 0; j < e->n_out; j++) free(tmp[j]);
    if (inp != inp_s) free(inp);
    if (outp != outp_s) free(outp);
    if (fresh != fresh_s) free(fresh);
    if (tmp != tmp_s) free(tmp);
    return rc;
}
