/* jx_jitfn: jit with retracing per input signature (jax.jit's cache keyed by types).
 *
 * Locking: `mu` guards the entry table and is held only to look a signature up or to
 * add one, never while tracing or compiling, so a call whose signature is compiled
 * already runs at once even while another thread compiles a new signature. A miss takes
 * `compile_mu` for the trace and compile: the user's callback therefore never runs on
 * two threads at once (as before), and two threads missing on the same signature
 * compile it once (the second finds the first's entry when it gets compile_mu). The
 * entry count is atomic so jx_jitfn_n_compiled can read it without a lock; entries are
 * only appended, and freed with the jitfn, so an executable found under the lock stays
 * valid after it is released. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define JITFN_MAX_ENTRIES 64

typedef struct jitfn_entry {
    jx_type *types; /* n_in input types */
    jx_exe *exe;
} jitfn_entry;

struct jx_jitfn {
    jx_loc loc;
    jx_trace_cb f;
    int n_in, n_out;
    void *user;
    jx_jit_opts opts;
    unsigned char *donate;      /* copy of opts.donate (n_in entries) or NULL */
    pthread_mutex_t mu;         /* guards entries (see the top of the file) */
    pthread_mutex_t compile_mu; /* held by the one thread tracing and compiling */
    jitfn_entry entries[JITFN_MAX_ENTRIES];
    _Atomic int n_entries;      /* written under mu */
};

/* See jx.h. */
jx_jitfn *jx_jit_trace_at(jx_loc loc, jx_trace_cb f, int n_in, int n_out, void *user,
                          const jx_jit_opts *opts) {
    if (!f || n_in < 0 || n_out < 0 || n_in > (1 << 16) || n_out > (1 << 16)) {
        util_err("%s:%d: jit_trace: NULL function or bad input/output counts (%d, %d)",
                 loc.file ? loc.file : "?", loc.line, n_in, n_out);
        return NULL;
    }
    jx_jitfn *jf = calloc(1, sizeof *jf);
    if (!jf) {
        util_err("jit_trace: out of memory allocating the jitted function (%zu bytes)", sizeof *jf);
        return NULL;
    }
    jf->loc = loc;
    jf->f = f;
    jf->n_in = n_in;
    jf->n_out = n_out;
    jf->user = user;
    if (opts) jf->opts = *opts;
    if (opts && opts->donate) {
        jf->donate = malloc((size_t)n_in + 1);
        if (!jf->donate) {
            free(jf);
            util_err("jit_trace: out of memory allocating the donation mask (%d bytes)", n_in + 1);
            return NULL;
        }
        memcpy(jf->donate, opts->donate, (size_t)n_in);
        jf->opts.donate = jf->donate;
    }
    pthread_mutex_init(&jf->mu, NULL);
    pthread_mutex_init(&jf->compile_mu, NULL);
    return jf;
}

/* 1 if the arrays in[0..n) have exactly the types t[0..n). */
static int jitfn_matches(const jx_type *t, jx_array *const *in, int n) {
    for (int i = 0; i < n; i++) {
        jx_type have = jx_array_type(in[i]);
        if (!jx_type_eq(&have, &t[i])) return 0;
    }
    return 1;
}

/* The executable of the entry matching the types of in, or NULL. Takes mu. */
static jx_exe *jitfn_find(jx_jitfn *jf, jx_array *const *in) {
    jx_exe *exe = NULL;
    pthread_mutex_lock(&jf->mu);
    int n = atomic_load_explicit(&jf->n_entries, memory_order_relaxed);
    for (int e = 0; e < n && !exe; e++)
        if (jitfn_matches(jf->entries[e].types, in, jf->n_in)) exe = jf->entries[e].exe;
    pthread_mutex_unlock(&jf->mu);
    return exe;
}

/* Traces and compiles jf for the types of in and adds the entry; called with compile_mu
 * held, without mu. The executable, or NULL with jx_error(). */
static jx_exe *jitfn_compile(jx_jitfn *jf, jx_array *const *in) {
    if (atomic_load(&jf->n_entries) == JITFN_MAX_ENTRIES) { /* only this thread adds */
        util_err("jit_trace: more than %d input signatures", JITFN_MAX_ENTRIES);
        return NULL;
    }
    size_t nb = ((size_t)jf->n_in + 1) * sizeof(jx_type);
    jx_type *types = malloc(nb);
    if (!types) {
        util_err("jit_trace: out of memory allocating the %zu-byte signature of %d inputs", nb,
                 jf->n_in);
        return NULL;
    }
    for (int i = 0; i < jf->n_in; i++) types[i] = jx_array_type(in[i]);
    jx_fn *fn = jx_trace_at(jf->loc, jf->f, jf->n_in, types, jf->n_out, jf->user);
    jx_exe *exe = fn ? jx_jit(fn, &jf->opts) : NULL;
    jx_fn_free(fn);
    if (!exe) {
        free(types);
        return NULL;
    }
    pthread_mutex_lock(&jf->mu);
    int n = atomic_load_explicit(&jf->n_entries, memory_order_relaxed);
    jf->entries[n] = (jitfn_entry){types, exe};
    atomic_store_explicit(&jf->n_entries, n + 1, memory_order_release);
    pthread_mutex_unlock(&jf->mu);
    return exe;
}

/* The cached executable for the types of in, tracing and compiling it on a miss; NULL on
 * error. A hit allocates nothing and holds mu only for the lookup (this is the per-call
 * path). */
static jx_exe *jitfn_lookup(jx_jitfn *jf, jx_array *const *in) {
    for (int i = 0; i < jf->n_in; i++)
        if (!in[i]) {
            util_err("jit_trace: input %d is NULL", i);
            return NULL;
        }
    jx_exe *exe = jitfn_find(jf, in);
    if (exe) return exe;
    pthread_mutex_lock(&jf->compile_mu);
    exe = jitfn_find(jf, in); /* another thread may have compiled it meanwhile */
    if (!exe) exe = jitfn_compile(jf, in);
    pthread_mutex_unlock(&jf->compile_mu);
    return exe;
}

/* See jx.h. */
int jx_jitfn_run(jx_jitfn *jf, jx_array *const *in, jx_array **out) {
    if (!jf || (jf->n_in && !in)) return util_err("jit_trace: NULL function or inputs");
    jx_exe *exe = jitfn_lookup(jf, in);
    return exe ? jx_exe_run(exe, in, out) : -1;
}

/* See jx.h. */
int jx_jitfn_n_compiled(const jx_jitfn *jf) {
    return jf ? atomic_load_explicit(&jf->n_entries, memory_order_acquire) : 0;
}

/* See jx.h. */
void jx_jitfn_free(jx_jitfn *jf) {
    if (!jf) return;
    int n = atomic_load(&jf->n_entries);
    for (int e = 0; e < n; e++) {
        jx_exe_free(jf->entries[e].exe);
        free(jf->entries[e].types);
    }
    pthread_mutex_destroy(&jf->mu);
    pthread_mutex_destroy(&jf->compile_mu);
    free(jf->donate);
    free(jf);
}
