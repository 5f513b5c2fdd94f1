/* The compile cache (cache.c): compiled code shared in memory by executables built from
 * equal functions and options, and object files on disk so that a second process start
 * does not run LLVM again.
 *
 * Key (128-bit): the function's structure (ops, operands, types, attributes, full constant
 * bytes; not source locations), the donation mask, every JX_* environment variable that
 * may steer code generation, the CPU name and features, the target triple, the LLVM
 * version, the build id of the binary holding libjx and the cache format version. Not the
 * thread count (jx_jit_opts.n_threads, JX_NUM_THREADS): compiled code receives it as an
 * argument at each call, so executables with different thread counts share one code.
 * A disk entry also records a hash of the plan it was compiled for and a 128-bit hash of
 * the object; a mismatch, a damaged file or anything but a regular file counts as a miss
 * (recompile, overwrite). See cache_disk.c for the file layout and the atomic writes.
 *
 * Environment: JX_CACHE=0 turns both caches off; JX_CACHE_DIR sets the directory (default
 * $XDG_CACHE_HOME/jx, else ~/.cache/jx; one warning per process on stderr when it cannot
 * be written); jx_jit_opts.no_disk_cache turns the disk cache off for one compile. */
#ifndef JX_JIT_CACHE_H
#define JX_JIT_CACHE_H

#include "jit/jit.h"

/* Compiled code for one key. Immutable once built; shared by reference. */
typedef struct jit_code {
    jx_fn *fn;          /* the function as compiled (after jx_simplify), owned */
    jit_plan *plan;     /* its plan (refers to fn) */
    void **consts;      /* data pointers of plan->consts */
    jit_entry_fn entry;
    void *tracker;      /* ORC resource tracker */
    unsigned char key[16];
    int refs, ready, in_table;
    struct jit_code *next; /* bucket chain of the in-memory table */
} jit_code;

/* The code for f under opts (may be NULL): from the in-memory cache, else from the disk
 * cache, else compiled (and stored on disk). With texts non-NULL the code is compiled
 * afresh, outside both caches, and texts receives the LLVM stages (the inspection path).
 * Equal requests from several threads compile once. NULL with jx_error() on failure. */
jit_code *jit_code_get(const jx_fn *f, const jx_jit_opts *opts, jit_texts *texts);
/* Drops one reference; the last one removes the code. NULL is ignored. */
void jit_code_release(jit_code *c);

/* The IR-level passes the JIT runs before planning (PASS_JIT_PIPELINE). A new function,
 * or NULL with jx_error(). */
jx_fn *jit_prepare(const jx_fn *f);

/* Counters since the process started. */
typedef struct jit_cache_stats {
    long compiles;     /* LLVM compiles (orc_compile calls) */
    long mem_hits;     /* requests served by live code in memory */
    long disk_hits;    /* requests served by an object file from the disk cache */
    long disk_writes;  /* object files written */
    long disk_rejects; /* cache files ignored: damaged, mismatched or not linkable */
} jit_cache_stats;
void jit_cache_get_stats(jit_cache_stats *s);

/* Writes the disk cache file that f under opts would use into buf. Returns 0, or -1
 * (with jx_error()) when the disk cache is off or the path does not fit. */
int jit_cache_path(const jx_fn *f, const jx_jit_opts *opts, char *buf, size_t len);
/* Removes the least recently used object files of the cache directory dir while they
 * hold more than max_mb megabytes, down to 3/4 of that, and temporaries older than an
 * hour. Returns the number of files removed. Called after a store (the first one of a
 * process and every 32nd) with JX_CACHE_MAX_MB (default 512). */
int jit_cache_trim(const char *dir, double max_mb);

/* ---- internal: shared by cache.c and cache_disk.c ------------------------------------- */

/* The cache format version: part of every key and of every file's header. Bump it when
 * the key or the file layout changes. */
enum { JC_FORMAT = 1 };

/* A 128-bit streaming hash (two multiply-rotate lanes and a murmur finalizer); not
 * cryptographic. */
typedef struct jc_hash {
    uint64_t a, b, n;
} jc_hash;
jc_hash jc_hash_new(void);
void jc_bytes(jc_hash *h, const void *p, size_t n);
void jc_str(jc_hash *h, const char *s);
void jc_digest(const jc_hash *h, unsigned char out[16]);
/* Lower-case hex of a 16-byte digest into out[33]. */
void jc_hex(const unsigned char k[16], char out[33]);
/* The key of f under opts. Returns 0 or -1 with jx_error(). */
int jc_key(const jx_fn *f, const jx_jit_opts *opts, unsigned char key[16]);
/* 1 if the binary holding jx could be identified (else nothing may be stored on disk). */
int jc_build_known(void);
/* 1 if the environment variable is set to "0". */
int jc_env_zero(const char *name);

/* The disk cache directory for opts into buf; 0, or -1 if the disk cache is off. */
int jcd_dir(const jx_jit_opts *opts, char *buf, size_t len);
/* Links the object stored in dir for c (planned, keyed) under its entry name, setting
 * c->entry and c->tracker. 1: loaded; 0: no file; -1: a damaged or mismatched file, or
 * something else than a regular file (never followed if a link, never blocks). */
int jcd_load(jit_code *c, const char *dir, const char *name);
/* Stores the object o of c in dir (a temporary file renamed into place; the first failure
 * of a process is reported on stderr, then compiling goes on). 1 if written. */
int jcd_store(const jit_code *c, const char *dir, const char *name, const jit_obj *o);

#endif
