/* Executables: jx_jit (verify, then compiled code from cache.c: simplify, plan, memory
 * plan, lower, compile, or a cache hit; then a check that every GEMM fits OpenBLAS's
 * integer type), jx_exe_free, JX_DUMP and the inspection accessors. jx_exe_run and the
 * arena stack are in exe_run.c.
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
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit/exe.h"
#include "jx_rt.h"
#include "util.h"

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

/* The dot_general or gemm behind GEMM step s: the step's root or the first one fused
 * under it. */
static const jx_node *exe_gemm_dot(const jit_plan *p, int n, int depth) {
    const jx_node *x = &p->nodes[n];
    int dot = x->op == JX_OP_DOT_GENERAL || x->op == JX_OP_GEMM;
    if (dot || depth == 0) return dot ? x : NULL;
    for (int i = 0; i < x->nin; i++) {
        const jx_node *d = exe_gemm_dot(p, x->in[i], depth - 1);
        if (d) return d;
    }
    return NULL;
}

/* Checks that every GEMM's dimensions and leading dimensions fit OpenBLAS's integer
 * type. 0, or -1 with an error naming the dot_general, its operand types and place. */
static int exe_check_gemms(const jit_plan *p) {
    static const char *names[6] = {"M", "N", "K", "lda", "ldb", "ldc"};
    int64_t lim = jx_rt_blas_int_max();
    for (int s = 0; s < p->n_steps; s++) {
        const jp_step *st = &p->steps[s];
        if (st->kind != JS_GEMM) continue;
        const jp_gemm *g = &st->g;
        const int64_t dims[6] = {g->m, g->n, g->k, g->lda, g->ldb, g->ldc};
        for (int d = 0; d < 6; d++) {
            if (dims[d] <= lim) continue;
            const jx_node *dot = exe_gemm_dot(p, st->node, 4);
            const jx_node *at = dot ? dot : &p->nodes[st->node];
            jx_type ta = dot ? p->nodes[dot->in[0]].type : p->nodes[g->a].type;
            jx_type tb = dot ? p->nodes[dot->in[1]].type : p->nodes[g->b].type;
            char sa[160], sb[160];
            return util_err("%s:%d: jx_jit: dot_general of %s and %s needs a GEMM with %s = "
                            "%" PRId64 ", more than OpenBLAS's integer limit %" PRId64,
                            at->loc.file ? at->loc.file : "?", at->loc.line,
                            jx_type_str(&ta, sa, sizeof sa), jx_type_str(&tb, sb, sizeof sb),
                            names[d], dims[d], lim);
        }
    }
    return 0;
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
    if (exe_check_gemms(e->plan) < 0) goto fail;
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
