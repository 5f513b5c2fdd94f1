/* The executable object shared by exe.c (compile, free, inspection) and exe_run.c
 * (jx_exe_run: argument checks, aliasing, arenas). Private to those two files. */
#ifndef JX_EXE_H
#define JX_EXE_H

#include <pthread.h>

#include "jit/cache.h"
#include "jit/jit.h"

struct jx_exe {
    int n_threads;     /* for the big loops and BLAS (jx_rt_threads) */
    jit_code *code;    /* shared compiled code (cache.c); the next three point into it */
    jit_plan *plan;
    jit_entry_fn entry;
    void **consts;
    int n_in, n_out;
    jx_type *in_types, *out_types;
    size_t arena_bytes;
    pthread_mutex_t mu; /* guards the arena stack below */
    char **free_arenas;
    int n_free, cap_free;
    char *plan_text, *fn_text, *opt_text;
    jit_texts texts;
};

/* A new 64-byte-aligned block of at least `bytes` bytes (at least 64); NULL on OOM. */
char *exe_arena_new(size_t bytes);

#endif
