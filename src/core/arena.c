/* A bump allocator: chained blocks, freed all at once. */
#include <stdlib.h>
#include <string.h>

#include "core/ir.h"

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

struct jx_arena {
    arena_block *head;
};

/* A new empty arena, or NULL. */
jx_arena *ir_arena_new(void) { return calloc(1, sizeof(jx_arena)); }

/* Frees every block and the arena (NULL is ignored). */
void ir_arena_free(jx_arena *a) {
    if (!a) return;
    for (arena_block *b = a->head, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    free(a);
}

/* n zeroed bytes aligned to 16, valid until the arena is freed; NULL on OOM. */
void *ir_arena_alloc(jx_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = malloc(sizeof(arena_block) + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

/* A copy of s in the arena (NULL for NULL or OOM). */
const char *ir_arena_strdup(jx_arena *a, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = ir_arena_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}
