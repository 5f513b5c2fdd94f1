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

/* The cached executable for the types of in, compiling it on a miss; NULL on error. */
static jx_exe *jitfn_lookup(jx_jitfn *jf, jx_array *const *in) {
    jx_type *types = malloc(((size_t)jf->n_in + 1) * sizeof *types);
    if (!types) {
        util_err("jit_trace: out of memory");
        return NULL;
    }
    for (int i = 0; i < jf->n_in; i++) {
        if (!in[i]) {
            free(types);
            util_err("jit_trace: input %d is NULL", i);
            return NULL;
        }
        types[i] = jx_array_type(in[i]);
    }
    for (int e = 0; e < jf->n_entries; e++) {
        int same = 1;
        for (int i = 0; i < jf->n_in && same; i++)
            same = jx_type_eq(&types[i], &jf->entries[e].types[i]);
        if (same) {
            free(types);
            return jf->entries[e].exe;
        }
    }
    if (jf->n_entries == JITFN_MAX_ENTRIES) {
        free(types);
        util_err("jit_trace: more than %d input signatures", JITFN_MAX_ENTRIES);
        return NULL;
    }
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
