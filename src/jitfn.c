/* jx_jitfn: jit with retracing per input signature (jax.jit's cache keyed by types). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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
    unsigned char *donate; /* copy of opts.donate (n_in entries) or NULL */
    pthread_mutex_t mu;
    jitfn_entry entries[JITFN_MAX_ENTRIES];
    int n_entries;
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
        util_err("jit_trace: out of memory");
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
            util_err("jit_trace: out of memory");
            return NULL;
        }
        memcpy(jf->donate, opts->donate, (size_t)n_in);
        jf->opts.donate = jf->donate;
    }
    pthread_mutex_init(&jf->mu, NULL);
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

/* The cached executable for the types of in, tracing and compiling it on a miss; NULL on
 * error. A hit allocates nothing (this is the per-call path). */
static jx_exe *jitfn_lookup(jx_jitfn *jf, jx_array *const *in) {
    for (int i = 0; i < jf->n_in; i++)
        if (!in[i]) {
            util_err("jit_trace: input %d is NULL", i);
            return NULL;
        }
    for (int e = 0; e < jf->n_entries; e++)
        if (jitfn_matches(jf->entries[e].types, in, jf->n_in)) return jf->entries[e].exe;
    if (jf->n_entries == JITFN_MAX_ENTRIES) {
        util_err("jit_trace: more than %d input signatures", JITFN_MAX_ENTRIES);
        return NULL;
    }
    jx_type *types = malloc(((size_t)jf->n_in + 1) * sizeof *types);
    if (!types) {
        util_err("jit_trace: out of memory");
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
    jf->entries[jf->n_entries++] = (jitfn_entry){types, exe};
    return exe;
}

/* See jx.h. */
int jx_jitfn_run(jx_jitfn *jf, jx_array *const *in, jx_array **out) {
    if (!jf || (jf->n_in && !in)) return util_err("jit_trace: NULL function or inputs");
    pthread_mutex_lock(&jf->mu);
    jx_exe *exe = jitfn_lookup(jf, in);
    pthread_mutex_unlock(&jf->mu);
    return exe ? jx_exe_run(exe, in, out) : -1;
}

/* See jx.h. */
int jx_jitfn_n_compiled(const jx_jitfn *jf) { return jf ? jf->n_entries : 0; }

/* See jx.h. */
void jx_jitfn_free(jx_jitfn *jf) {
    if (!jf) return;
    for (int e = 0; e < jf->n_entries; e++) {
        jx_exe_free(jf->entries[e].exe);
        free(jf->entries[e].types);
    }
    pthread_mutex_destroy(&jf->mu);
    free(jf->donate);
    free(jf);
}
