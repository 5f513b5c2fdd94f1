/* Executables: jx_jit (verify, then compiled code from cache.c: simplify, plan, memory
 * plan, lower, compile, or a cache hit), jx_exe_free, JX_DUMP (dir created as by mkdir -p;
 * what cannot be written is warned about once on stderr) and the inspection accessors. jx_exe_run and the arena stack are in exe_run.c.
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
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jit/exe.h"
#include "jx_rt.h"
#include "core/util.h"

/* Warns once per process on stderr that JX_DUMP cannot be honoured: what failed on which
 * path and why (err). Compiling goes on; dumping is best effort. */
static void exe_dump_warn(const char *what, const char *path, int err) {
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&warned)) return;
    fprintf(stderr, "jx: warning: JX_DUMP: cannot %s %s: %s; the compile stages are not "
            "dumped\n", what, path, strerror(err));
}

/* Writes text to dir/name; a failure is warned about once (dumping is best effort). */
static void exe_dump_file(const char *dir, unsigned long long id, const char *name,
                          const char *text) {
    if (!text) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/jx_%04llu.%s", dir, id, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        exe_dump_warn("write", path, errno);
        return;
    }
    fputs(text, f);
    if (fclose(f) != 0) exe_dump_warn("write", path, errno);
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
        util_err("jx_jit: out of memory allocating the executable (%zu bytes)", sizeof *e);
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    e->n_in = f->n_in;
    e->n_out = f->n_out;
    e->in_types = calloc((size_t)f->n_in + 1, sizeof *e->in_types);
    e->out_types = calloc((size_t)f->n_out + 1, sizeof *e->out_types);
    if (!e->in_types || !e->out_types) {
        util_err("jx_jit: out of memory allocating the type lists of %d inputs and %d outputs "
                 "(%zu bytes)", f->n_in, f->n_out, ((size_t)f->n_in + f->n_out + 2) * sizeof(jx_type));
        goto fail;
    }
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
    if (!e->free_arenas) {
        util_err("jx_jit: out of memory allocating the arena list (%zu bytes)",
                 (size_t)e->cap_free * sizeof *e->free_arenas);
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        char *a = exe_arena_new(e->arena_bytes);
        if (!a) {
            util_err("jx_jit: out of memory allocating arena %d of 2 for the intermediates "
                     "(%zu bytes)", i + 1, e->arena_bytes);
            goto fail;
        }
        e->free_arenas[e->n_free++] = a;
    }
    if (dump && util_mkdirs(dump, 0777) < 0) {
        exe_dump_warn("create the directory", dump, errno);
        dump = NULL;
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
