/* The compile cache's in-memory part (the key is made in cache_key.c, the disk part is in
 * cache_disk.c); see cache.h for the key and the environment.
 *
 * In memory: a table of live jit_code by key. A request that finds its key shares the
 * code (refcount); one that finds it still being built waits on a condition variable, so
 * equal concurrent requests compile once. Entry symbols are named after the key
 * ("jx_<32 hex>"), which is unique among live code because the table holds at most one
 * code per key, and which lets an object written by one process link in another. The last
 * release removes the code from the table and its ORC tracker under the table lock, so a
 * new compile of the same key cannot meet the old symbol.
 *
 * A request that misses in memory plans the function (cheap and deterministic), then asks
 * the disk cache for the object; only on a miss there does LLVM run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jit/cache.h"
#include "transform/passes.h"
#include "core/util.h"

enum { JC_BUCKETS = 64 };

static pthread_mutex_t jc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jc_cv = PTHREAD_COND_INITIALIZER;
static jit_code *jc_table[JC_BUCKETS];
static jit_cache_stats jc_stats;

/* ---- code objects and the in-memory table --------------------------------------------- */

/* Milliseconds on the monotonic clock (for JX_JIT_TIMING). */
static double jc_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Frees c and everything it owns (its tracker must already be released or unshared). */
static void jc_free(jit_code *c) {
    orc_release(c->tracker);
    jit_plan_free(c->plan);
    jx_fn_free(c->fn);
    free(c->consts);
    free(c);
}

/* The bucket of a key. */
static jit_code **jc_bucket(const unsigned char key[16]) {
    return &jc_table[key[0] % JC_BUCKETS];
}

/* Unlinks c from the table (caller holds jc_mu). */
static void jc_unlink(jit_code *c) {
    for (jit_code **p = jc_bucket(c->key); *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    c->in_table = 0;
}

/* The ready code for fresh->key, with a new reference (and fresh freed), or fresh itself
 * inserted as pending when nobody has the key: the caller must then build it. */
static jit_code *jc_acquire(jit_code *fresh) {
    pthread_mutex_lock(&jc_mu);
    for (;;) {
        jit_code *c = *jc_bucket(fresh->key);
        while (c && memcmp(c->key, fresh->key, 16)) c = c->next;
        if (!c) break;
        if (c->ready) {
            c->refs++;
            jc_stats.mem_hits++;
            pthread_mutex_unlock(&jc_mu);
            free(fresh);
            return c;
        }
        pthread_cond_wait(&jc_cv, &jc_mu);
    }
    fresh->next = *jc_bucket(fresh->key);
    *jc_bucket(fresh->key) = fresh;
    fresh->in_table = 1;
    pthread_mutex_unlock(&jc_mu);
    return fresh;
}

/* See cache.h. */
jx_fn *jit_prepare(const jx_fn *f) {
    return pass_run_list(f, PASS_JIT_PIPELINE);
}

/* Prepares f and plans c (function, plan, memory, constants). 0 or -1 with jx_error(). */
static int jc_plan(jit_code *c, const jx_fn *f, const jx_jit_opts *opts) {
    if (!(c->fn = jit_prepare(f))) return -1;
    if (!(c->plan = jit_plan_build(c->fn))) return -1;
    if (jit_memplan(c->plan, opts ? opts->donate : NULL) < 0) return -1;
    c->consts = calloc((size_t)c->plan->n_consts + 1, sizeof *c->consts);
    if (!c->consts)
        return util_err("jx_jit: out of memory allocating the table of %d constants (%zu bytes)",
                        c->plan->n_consts, ((size_t)c->plan->n_consts + 1) * sizeof *c->consts);
    for (int i = 0; i < c->plan->n_consts; i++) c->consts[i] = jx_array_data(c->plan->consts[i]);
    return 0;
}

/* Builds c: plans it, then loads its object from disk or compiles it (storing the object
 * when the disk cache is on). cached: c has a key and is in the table. */
static int jc_build(jit_code *c, const jx_fn *f, const jx_jit_opts *opts, jit_texts *texts,
                    int cached, const char **how) {
    if (jc_plan(c, f, opts) < 0) return -1;
    char dir[4096], name[40], hex[33];
    int disk = cached && jcd_dir(opts, dir, sizeof dir) == 0;
    jc_hex(c->key, hex);
    snprintf(name, sizeof name, "jx_%s", hex);
    if (disk) {
        int r = jcd_load(c, dir, name);
        pthread_mutex_lock(&jc_mu);
        if (r > 0) jc_stats.disk_hits++;
        if (r < 0) jc_stats.disk_rejects++;
        pthread_mutex_unlock(&jc_mu);
        if (r > 0) {
            *how = "disk cache hit";
            return 0;
        }
    }
    jit_obj obj = {NULL, 0};
    pthread_mutex_lock(&jc_mu);
    jc_stats.compiles++;
    pthread_mutex_unlock(&jc_mu);
    if (orc_compile(c->plan, cached ? name : NULL, &c->entry, &c->tracker, texts,
                    disk ? &obj : NULL) < 0)
        return -1;
    if (disk) {
        int w = jcd_store(c, dir, name, &obj);
        pthread_mutex_lock(&jc_mu);
        jc_stats.disk_writes += w;
        pthread_mutex_unlock(&jc_mu);
        free(obj.data);
        *how = w ? "compiled, stored" : "compiled, not stored";
    }
    return 0;
}

/* See cache.h. */
jit_code *jit_code_get(const jx_fn *f, const jx_jit_opts *opts, jit_texts *texts) {
    int cached = !texts && !jc_env_zero("JX_CACHE");
    const char *how = "compiled";
    double t0 = jc_ms();
    jit_code *c = calloc(1, sizeof *c);
    if (!c) {
        util_err("jx_jit: out of memory allocating the compiled-code record (%zu bytes)", sizeof *c);
        return NULL;
    }
    c->refs = 1;
    if (cached) {
        if (jc_key(f, opts, c->key) < 0) {
            free(c);
            return NULL;
        }
        jit_code *got = jc_acquire(c);
        if (got != c) {
            if (getenv("JX_JIT_TIMING"))
                fprintf(stderr, "jx jit: %.3f ms (memory cache hit)\n", jc_ms() - t0);
            return got;
        }
    }
    int rc = jc_build(c, f, opts, texts, cached, &how);
    if (cached) {
        pthread_mutex_lock(&jc_mu);
        if (rc < 0) jc_unlink(c);
        else c->ready = 1;
        pthread_cond_broadcast(&jc_cv);
        pthread_mutex_unlock(&jc_mu);
    }
    if (rc < 0) {
        jc_free(c);
        return NULL;
    }
    if (getenv("JX_JIT_TIMING")) fprintf(stderr, "jx jit: %.3f ms (%s)\n", jc_ms() - t0, how);
    return c;
}

/* See cache.h. */
void jit_code_release(jit_code *c) {
    if (!c) return;
    pthread_mutex_lock(&jc_mu);
    int last = --c->refs == 0;
    if (last && c->in_table) {
        jc_unlink(c);
        orc_release(c->tracker); /* under jc_mu: the key's symbol is gone before a rebuild */
        c->tracker = NULL;
    }
    pthread_mutex_unlock(&jc_mu);
    if (last) jc_free(c);
}

/* See cache.h. */
void jit_cache_get_stats(jit_cache_stats *s) {
    pthread_mutex_lock(&jc_mu);
    *s = jc_stats;
    pthread_mutex_unlock(&jc_mu);
}
