/* Checkpoints of jx_train (jx/optim.h): the params at "params/<path>" and the state's
 * leaves (optimizer state, count, carry) at their paths in one .npz; loading checks every
 * member's presence and type, the injected hyperparameters and the count before writing
 * anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/nn/optim_int.h"
#include "lib/nn/train_int.h"

#include "core/util.h"

/* Number of checkpoint entries: the params, then the state's leaves (the carry's last). */
static int train_n_entries(const jx_train *tr) { return tr->np + tr->ns + tr->nc; }

/* Name and leaf of checkpoint entry i: the params, then the state. */
static const char *train_entry(const jx_train *tr, int i, jx_array **leaf) {
    if (i < tr->np) {
        *leaf = tr->params->leaves[i];
        return tr->pnames[i];
    }
    *leaf = tr->state->leaves[i - tr->np];
    return tr->state->paths[i - tr->np];
}

/* See jx/optim.h. */
int jx_train_save(const jx_train *tr, const char *path) {
    if (!tr) return util_err("jx_train_save: NULL trainer");
    int n = train_n_entries(tr);
    const char **names = malloc(sizeof *names * (size_t)n);
    jx_array **arrays = malloc(sizeof *arrays * (size_t)n);
    int rc = names && arrays ? 0 : util_err("jx_train_save: out of memory");
    for (int i = 0; rc == 0 && i < n; i++) names[i] = train_entry(tr, i, &arrays[i]);
    if (rc == 0) rc = jx_npz_save(path, n, names, arrays, JX_NPZ_STORED);
    free(names);
    free(arrays);
    return rc;
}

/* Checks that file tree f (read from path) has exactly tr's entries with their types,
 * valid injected hyperparameters and a count >= 0; fills idx[i] with entry i's index in
 * f. 0 or -1 naming the member. */
static int train_match(const jx_train *tr, const jx_tree *f, const char *path, int *idx) {
    char a[TRAIN_TBUF], b[TRAIN_TBUF];
    int n = train_n_entries(tr);
    for (int i = 0; i < n; i++) {
        jx_array *leaf;
        const char *name = train_entry(tr, i, &leaf);
        if ((idx[i] = jx_tree_find(f, name)) < 0)
            return util_err("jx_train_load: %s: no member '%s'", path, name);
        jx_type ft = jx_array_type(f->leaves[idx[i]]), tt = jx_array_type(leaf);
        if (!jx_type_eq(&ft, &tt))
            return util_err("jx_train_load: %s: member '%s' is %s, the trainer's is %s", path,
                            name, jx_type_str(&ft, a, sizeof a), jx_type_str(&tt, b, sizeof b));
    }
    int ids[OPT_NHP], nh = opt_hp_ids(&tr->o, ids);
    for (int k = 0; k < nh; k++) {
        double v = jx_array_get(f->leaves[idx[tr->np + k]], 0);
        if (opt_hp_check(&tr->o, ids[k], v) < 0) {
            char why[TRAIN_TBUF];
            snprintf(why, sizeof why, "%s", jx_error());
            return util_err("jx_train_load: %s: member '%s': %s", path, tr->state->paths[k], why);
        }
    }
    int64_t count = (int64_t)jx_array_get(f->leaves[idx[tr->np + tr->ns - 1]], 0);
    if (count < 0)
        return util_err("jx_train_load: %s: member 'opt/count' is %lld, not a step count", path,
                        (long long)count);
    for (int j = 0; f->n != n && j < f->n; j++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++) found = idx[i] == j;
        if (!found)
            return util_err("jx_train_load: %s: unexpected member '%s' (not a param or state "
                            "entry of this trainer)", path, f->paths[j]);
    }
    return 0;
}

/* See jx/optim.h. */
int jx_train_load(jx_train *tr, const char *path) {
    if (!tr) return util_err("jx_train_load: NULL trainer");
    jx_tree *f = jx_tree_load(path);
    if (!f) return -1;
    int n = train_n_entries(tr);
    int *idx = malloc(sizeof *idx * (size_t)n);
    int rc = idx ? train_match(tr, f, path, idx) : util_err("jx_train_load: out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        jx_array *leaf;
        train_entry(tr, i, &leaf);
        memcpy(jx_array_data(leaf), jx_array_cdata(f->leaves[idx[i]]), jx_array_nbytes(leaf));
    }
    free(idx);
    jx_tree_free(f);
    return rc;
}
