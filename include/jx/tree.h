/* jx parameter trees: named leaves in one ordered list, their .npz files, and leaf lookup
 * inside a trace.
 * Included by <jx.h>. */
#ifndef JX_TREE_H
#define JX_TREE_H

#ifndef JX_H
#error "include <jx.h>, which includes this header"
#endif

/* ---- parameter trees and .npz files ---------------------------------------------------
 * A tree is named leaves in one ordered list: leaf i is leaves[i] at paths[i], a
 * '/'-separated path such as "layers/0/w" (non-empty, valid UTF-8, distinct). The order is
 * the one traced functions, transformations and executables see: a tree of n leaves
 * passes as n consecutive inputs or outputs (jx_exe_run(e, t->leaves, ...)). The tree owns
 * one reference to each leaf and a copy of each path. jx_tree_add appends a leaf
 * (retaining it); 0 or -1 naming the path (empty, NULL, invalid, already present).
 * jx_tree_find returns a path's index or -1, jx_tree_get its leaf (borrowed) or NULL,
 * neither setting an error. jx_tree_copy is a deep copy: new arrays with the same types and
 * bytes at the same paths, in the same order (keep one before donating a tree's leaves to
 * a step that updates them in place); NULL with jx_error set on a NULL tree or no memory. */
typedef struct jx_tree {
    int n;              /* leaves */
    const char **paths; /* n paths, owned by the tree */
    jx_array **leaves;  /* n arrays, one reference each owned by the tree */
    int cap;            /* allocated slots (jx_tree_add's business) */
} jx_tree;
jx_tree *jx_tree_new(void);
int jx_tree_add(jx_tree *t, const char *path, jx_array *leaf);
/* jx_tree_put is jx_tree_add at a printf-formatted path that takes the caller's reference
 * to leaf (freed on failure), so a fresh array goes in one call:
 *     jx_tree_put(t, jx_init_normal(k, type, 0.01), "layers/%d/w", l)
 * A NULL leaf fails keeping the error of the call that returned it as the cause. 0 or -1.
 * jx_tree_subtree finds the leaves at prefix or under it ("layers/0": "layers/0/w",
 * "layers/0/b"; not "layers/01"): it returns their count and sets *first to the first
 * one's index, so a subtree is an argument of a layout (JX_ARGS(n0, t->n - n0, 1)) and
 * gets its own in_axes, wrt or donation. -1 with a message naming prefix when no leaf is
 * under it or its leaves are not consecutive. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int jx_tree_put(jx_tree *t, jx_array *leaf, const char *fmt, ...);
int jx_tree_subtree(const jx_tree *t, const char *prefix, int *first);
int jx_tree_find(const jx_tree *t, const char *path);
jx_array *jx_tree_get(const jx_tree *t, const char *path);
jx_tree *jx_tree_copy(const jx_tree *t);
/* jx_tree_assign writes src's values into dst's leaves (the arrays stay, so a tree a
 * jx_train or a donated executable holds sees the new values): both trees must have the
 * same paths in the same order with the same types, else nothing is written and the
 * message names the first leaf that differs. 0 or -1. */
int jx_tree_assign(jx_tree *dst, const jx_tree *src);
void jx_tree_free(jx_tree *t);

/* .npz archives, as numpy's savez (stored) and savez_compressed (deflate) write them and
 * np.load reads them: a zip of .npy members named "<name>.npy", names following the
 * tree's path rules.
 *
 * jx_npz_save writes arrays[0..n-1] as members names[i] + ".npy" (.npy 1.0, as
 * jx_npy_save), in that order; flags JX_NPZ_STORED or JX_NPZ_COMPRESSED; jx_tree_save
 * writes a tree's leaves under their paths. The archive is written to a temporary file
 * in path's directory and renamed over path when complete, so a failed or interrupted
 * save never leaves a partial file under path (an existing file stays as it was). n == 0
 * writes an empty archive, as np.savez() does. Returns 0, or -1 with
 * "jx_npz_save: path: ..." (NULL/empty/duplicate names, NULL arrays, I/O).
 *
 * jx_tree_load reads every member into a tree (archive order; paths without ".npy"),
 * which the caller frees with jx_tree_free. jx_npz_load_one reads the member with the
 * given name. Both return NULL with "fn: path: member 'x.npy': ..." when the file is not
 * a zip, truncated or inconsistent, a member's name does not end in ".npy" or is just
 * ".npy", a name appears twice, a member is not a valid .npy (the rules of jx_npy_load),
 * its CRC does not match, or it is over the load limit: a member's declared uncompressed
 * size is checked before anything is inflated, so a zip bomb is refused cheaply.
 * jx_tree_parse is jx_tree_load on an archive image in memory. */
#define JX_NPZ_STORED 0
#define JX_NPZ_COMPRESSED 1
int jx_npz_save(const char *path, int n, const char *const *names, jx_array *const *arrays,
                int flags);
int jx_tree_save(const jx_tree *t, const char *path, int flags);
jx_tree *jx_tree_load(const char *path);
jx_tree *jx_tree_parse(const void *buf, size_t len);
jx_array *jx_npz_load_one(const char *path, const char *name);

/* Inside a trace whose inputs in[] begin with tree t's leaves in its order (a callback
 * traced on the tree's leaf types, or one given the tree as an argument of a layout):
 * the value of the leaf at the printf-formatted path, params["layers"][l]["w"] as
 *     jx_tree_val(params, in, "layers/%d/w", l)
 * A path that is not a leaf records "tree_val: no leaf 'p' in the tree of N leaves" on
 * the trace at the caller's line and returns poison. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
jx_val jx_tree_val_at(jx_loc loc, const jx_tree *t, const jx_val *in, const char *fmt, ...);
#define jx_tree_val(...) jx_tree_val_at(JX_HERE, __VA_ARGS__)

#endif
