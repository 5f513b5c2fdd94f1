/* The compile cache's key (see cache.h): a 128-bit hash of the prepared function, the
 * options that change code, the JX_* environment, and the build of this process (jx's
 * runtime ABI, LLVM's version, the target, and the identity of the binary holding jx). */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <link.h>
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jit/cache.h"
#include "jx_rt.h"
#include "core/util.h"

extern char **environ;

/* ---- hashing -------------------------------------------------------------------------- */

/* See cache.h (this and the other jc_ helpers shared with cache_disk.c). */
jc_hash jc_hash_new(void) {
    return (jc_hash){0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0};
}

/* Rotates x left by r (0 < r < 64). */
static uint64_t jc_rotl(uint64_t x, int r) {
    return x << r | x >> (64 - r);
}

/* Mixes one 64-bit word into h. */
static void jc_word(jc_hash *h, uint64_t w) {
    h->a = jc_rotl(h->a + w * 0xc2b2ae3d27d4eb4fULL, 31) * 0x9e3779b185ebca87ULL;
    h->b = (jc_rotl(h->b ^ (w * 0x165667b19e3779f9ULL), 29) + h->a) * 0x85ebca77c2b2ae63ULL;
    h->n++;
}

/* Mixes n bytes (and their count) into h. */
void jc_bytes(jc_hash *h, const void *p, size_t n) {
    const unsigned char *c = p;
    jc_word(h, n);
    for (; n >= 8; n -= 8, c += 8) {
        uint64_t w;
        memcpy(&w, c, 8);
        jc_word(h, w);
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, c, n);
        jc_word(h, w ^ 0xff51afd7ed558ccdULL);
    }
}

/* Mixes a NUL-terminated string (NULL like "") into h. */
void jc_str(jc_hash *h, const char *s) {
    jc_bytes(h, s ? s : "", s ? strlen(s) : 0);
}

/* The murmur3 64-bit finalizer. */
static uint64_t jc_fmix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* The 16-byte digest of h. */
void jc_digest(const jc_hash *h, unsigned char out[16]) {
    uint64_t x = jc_fmix(h->a ^ h->n), y = jc_fmix(h->b + x);
    x = jc_fmix(x ^ jc_rotl(y, 17));
    memcpy(out, &x, 8);
    memcpy(out + 8, &y, 8);
}

/* Lower-case hex of 16 bytes into out[33]. */
void jc_hex(const unsigned char k[16], char out[33]) {
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", k[i]);
}

/* ---- the key -------------------------------------------------------------------------- */

/* Mixes a type into h. */
static void jc_type(jc_hash *h, const jx_type *t) {
    jc_word(h, (uint64_t)t->dtype);
    jc_word(h, (uint64_t)t->rank);
    for (int r = 0; r < t->rank && r < JX_MAX_RANK; r++) jc_word(h, (uint64_t)t->shape[r]);
}

/* Mixes f's structure into h: everything but source locations, sub-functions included
 * (their nesting is bounded by the verifier, JX_MAX_FN_DEPTH). */
static void jc_fn(jc_hash *h, const jx_fn *f) {
    jc_word(h, (uint64_t)f->n_in);
    jc_word(h, (uint64_t)f->n_nodes);
    jc_word(h, (uint64_t)f->n_out);
    for (int i = 0; i < f->n_out; i++) jc_word(h, (uint64_t)f->outs[i]);
    for (int i = 0; i < f->n_nodes; i++) {
        const jx_node *n = &f->nodes[i];
        jc_word(h, (uint64_t)n->op);
        jc_word(h, (uint64_t)n->nin);
        for (int k = 0; k < n->nin; k++) jc_word(h, (uint64_t)n->in[k]);
        jc_type(h, &n->type);
        for (int k = 0; k < JX_MAX_ATTRS; k++) {
            jc_word(h, (uint64_t)n->at.n[k]);
            for (int j = 0; j < n->at.n[k]; j++) jc_word(h, (uint64_t)n->at.v[k][j]);
        }
        if (n->at.value) {
            jx_type t = jx_array_type(n->at.value);
            jc_type(h, &t);
            jc_bytes(h, jx_array_data(n->at.value), jx_array_nbytes(n->at.value));
        } else {
            jc_word(h, 0);
        }
        jc_word(h, (uint64_t)n->at.n_fns);
        for (int k = 0; k < n->at.n_fns; k++) jc_fn(h, n->at.fns[k]);
    }
}

/* Variables that do not change the generated code (everything else named JX_* might).
 * JX_NUM_THREADS sets the thread count, which compiled code takes at each call. */
static int jc_env_ignored(const char *kv) {
    static const char *const skip[] = {"JX_CACHE",      "JX_CACHE_DIR",   "JX_CACHE_MAX_MB",
                                       "JX_DUMP",       "JX_JIT_TIMING", "JX_JIT_CPUTIME",
                                       "JX_DEBUG_IR",   "JX_NUM_THREADS"};
    size_t len = strcspn(kv, "=");
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strlen(skip[i]) == len && !strncmp(kv, skip[i], len)) return 1;
    return 0;
}

/* qsort comparison of two strings. */
static int jc_strcmp(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Mixes the JX_* environment into h, sorted by name. Returns 0 or -1 (out of memory). */
static int jc_env(jc_hash *h) {
    size_t n = 0, k = 0;
    for (char **e = environ; e && *e; e++) n++;
    const char **v = malloc((n + 1) * sizeof *v);
    if (!v)
        return util_err("jx_jit: out of memory allocating the list of %zu environment variables "
                        "for the cache key (%zu bytes)", n, (n + 1) * sizeof *v);
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, "JX_", 3) && !jc_env_ignored(*e)) v[k++] = *e;
    qsort(v, k, sizeof *v, jc_strcmp);
    jc_word(h, k);
    for (size_t i = 0; i < k; i++) jc_str(h, v[i]);
    free(v);
    return 0;
}

/* What identifies the binary holding this code: its GNU build id, or else the file's
 * identity (device, inode, size, modification time). */
typedef struct jc_bin {
    uintptr_t addr;
    int found;
    unsigned char id[64];
    size_t id_len;
    char path[4096];
} jc_bin;

/* dl_iterate_phdr callback: finds the object mapping b->addr and its build id. */
static int jc_bin_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
    jc_bin *b = ctx;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        mine = ph->p_type == PT_LOAD && b->addr >= lo && b->addr < lo + ph->p_memsz;
    }
    if (!mine) return 0;
    b->found = 1;
    snprintf(b->path, sizeof b->path, "%s", info->dlpi_name && *info->dlpi_name
                                                ? info->dlpi_name : "/proc/self/exe");
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        size_t off = 0;
        while (off + sizeof(ElfW(Nhdr)) <= ph->p_memsz) {
            ElfW(Nhdr) nh;
            memcpy(&nh, p + off, sizeof nh);
            size_t name = off + sizeof nh, desc = name + ((nh.n_namesz + 3u) & ~3u);
            size_t next = desc + ((nh.n_descsz + 3u) & ~3u);
            if (next > ph->p_memsz) break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && !memcmp(p + name, "GNU", 4) &&
                nh.n_descsz <= sizeof b->id) {
                memcpy(b->id, p + desc, nh.n_descsz);
                b->id_len = nh.n_descsz;
                return 1;
            }
            off = next;
        }
    }
    return 1;
}

static pthread_once_t jc_host_once = PTHREAD_ONCE_INIT;
static jc_hash jc_host_hash;
static int jc_host_known;

/* Hashes what pins the machine code to this host and this build (once). */
static void jc_host_init(void) {
    jc_hash h = jc_hash_new();
    jc_str(&h, "jx compile cache");
    jc_word(&h, JC_FORMAT);
    jc_word(&h, JX_RT_ABI); /* the argument lists of the runtime functions compiled code calls */
    unsigned maj, min, pat;
    LLVMGetVersion(&maj, &min, &pat);
    jc_word(&h, maj);
    jc_word(&h, min);
    jc_word(&h, pat);
    char *triple = LLVMGetDefaultTargetTriple();
    jc_str(&h, triple);
    LLVMDisposeMessage(triple);
    jc_str(&h, orc_cpu());
    jc_str(&h, orc_features());
    jc_bin b = {.addr = (uintptr_t)&jc_bin_cb};
    dl_iterate_phdr(jc_bin_cb, &b);
    struct stat st;
    if (b.id_len) {
        jc_bytes(&h, b.id, b.id_len);
        jc_host_known = 1;
    } else if (b.found && stat(b.path, &st) == 0) {
        jc_word(&h, (uint64_t)st.st_dev);
        jc_word(&h, (uint64_t)st.st_ino);
        jc_word(&h, (uint64_t)st.st_size);
        jc_word(&h, (uint64_t)st.st_mtim.tv_sec);
        jc_word(&h, (uint64_t)st.st_mtim.tv_nsec);
        jc_host_known = 1;
    }
    jc_host_hash = h;
}

/* See cache.h. */
int jc_build_known(void) {
    pthread_once(&jc_host_once, jc_host_init);
    return jc_host_known;
}

/* See cache.h. */
int jc_env_zero(const char *name) {
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
}

/* See cache.h. */
int jc_key(const jx_fn *f, const jx_jit_opts *opts, unsigned char key[16]) {
    pthread_once(&jc_host_once, jc_host_init);
    jc_hash h = jc_host_hash;
    jc_fn(&h, f);
    for (int i = 0; i < f->n_in; i++) jc_word(&h, opts && opts->donate && opts->donate[i]);
    /* not the thread count: it is an argument of the entry at each call (exe.c) */
    if (jc_env(&h) < 0) return -1;
    jc_digest(&h, key);
    return 0;
}

