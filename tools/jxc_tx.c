/* jxc grad|value-and-grad|vjp|jvp|vmap|simplify F.jx [options]: the transformations that
 * parse F.jx, transform it, verify the result and print it as IR. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jxc.h"

/* The transformations that print IR, and the options each accepts. */
enum { JXC_WRT = 1, JXC_IN_AXES = 2, JXC_OUT_AXES = 4, JXC_SIZE = 8 };
typedef enum { JXC_GRAD, JXC_VALUE_AND_GRAD, JXC_VJP, JXC_JVP, JXC_VMAP, JXC_SIMPLIFY } jxc_kind;
struct jxc_tx {
    const char *name;
    jxc_kind kind;
    unsigned opts;
};
static const jxc_tx jxc_txs[] = {
    {"grad", JXC_GRAD, JXC_WRT},
    {"value-and-grad", JXC_VALUE_AND_GRAD, JXC_WRT},
    {"vjp", JXC_VJP, JXC_WRT},
    {"jvp", JXC_JVP, JXC_WRT},
    {"vmap", JXC_VMAP, JXC_IN_AXES | JXC_OUT_AXES | JXC_SIZE},
    {"simplify", JXC_SIMPLIFY, 0},
};

/* The options of a transformation's command line; lists have n < 0 and size < 0 when
 * not given. */
typedef struct jxc_tx_args {
    const char *src;
    jxc_list wrt, in_axes, out_axes;
    long long size;
} jxc_tx_args;

/* The transformation named cmd, or NULL (see jxc.h). */
const jxc_tx *jxc_tx_find(const char *cmd) {
    for (size_t k = 0; k < sizeof jxc_txs / sizeof jxc_txs[0]; k++)
        if (!strcmp(cmd, jxc_txs[k].name)) return &jxc_txs[k];
    return NULL;
}

/* Expands an axes list to n entries: absent -> all 0, one value -> repeated. NULL with a
 * message on stderr if the count does not match. */
static int *jxc_axes(const jxc_list *l, int n, const char *opt, const char *src,
                     const char *what) {
    int *a = calloc((size_t)n + 1, sizeof *a);
    if (!a) {
        fprintf(stderr, "jxc: out of memory\n");
        return NULL;
    }
    if (l->n < 0) return a;
    if (l->n != n && l->n != 1) {
        fprintf(stderr, "jxc: %s has %d value(s) but %s has %d %s(s)\n", opt, l->n, src, n,
                what);
        free(a);
        return NULL;
    }
    for (int i = 0; i < n; i++) a[i] = l->v[l->n == 1 ? 0 : i];
    return a;
}

/* Applies the transformation tx to f with the parsed options. On failure returns NULL
 * with either a message already on stderr (*printed = 1) or one in jx_error(), which
 * names the transformation itself. */
static jx_fn *jxc_apply(const jxc_tx *tx, const jx_fn *f, const char *src, const jxc_list *wrt,
                        const jxc_list *in_axes, const jxc_list *out_axes, long long size,
                        int *printed) {
    int n_in = jx_fn_n_in(f);
    int n_wrt = wrt->n < 0 ? 0 : wrt->n;
    jx_fn *g = NULL;
    *printed = 0;
    switch (tx->kind) {
    case JXC_GRAD:
        return jx_grad(f, n_wrt, wrt->v);
    case JXC_VALUE_AND_GRAD:
        return jx_value_and_grad(f, n_wrt, wrt->v);
    case JXC_VJP:
    case JXC_JVP: {
        unsigned char *mask = wrt->n < 0 ? NULL : jxc_mask("--wrt", wrt, n_in, src);
        *printed = wrt->n >= 0 && !mask;
        if (*printed) return NULL;
        g = tx->kind == JXC_VJP ? jx_vjp(f, mask) : jx_jvp(f, mask);
        free(mask);
        return g;
    }
    case JXC_SIMPLIFY:
        return jx_simplify(f);
    case JXC_VMAP: {
        *printed = 1;
        int *ia = jxc_axes(in_axes, n_in, "--in-axes", src, "input");
        int *oa = ia ? jxc_axes(out_axes, jx_fn_n_out(f), "--out-axes", src, "output") : NULL;
        if (ia && oa) {
            *printed = 0;
            g = jx_vmap(f, ia, oa, size);
        }
        free(ia);
        free(oa);
        return g;
    }
    }
    fprintf(stderr, "jxc: out of memory\n");
    *printed = 1;
    return NULL;
}

/* Parses the value val of the option with bit `bit` into *a. 0, or -1 with a complaint
 * on stderr. */
static int jxc_tx_value(unsigned bit, const char *val, jxc_tx_args *a) {
    switch (bit) {
    case JXC_WRT: return jxc_parse_list("--wrt", val, 0, &a->wrt);
    case JXC_IN_AXES: return jxc_parse_list("--in-axes", val, 1, &a->in_axes);
    case JXC_OUT_AXES: return jxc_parse_list("--out-axes", val, 1, &a->out_axes);
    default:
        if (jxc_int(val, 0, LLONG_MAX, &a->size) < 0) {
            fprintf(stderr, "jxc: bad value '%s' for --size (expected a count >= 0)\n", val);
            return -1;
        }
        return 0;
    }
}

/* Parses the arguments of the transformation tx into *a (options as "--opt V" or
 * "--opt=V"). 0, or -1 with a complaint on stderr (the caller prints the usage). */
static int jxc_tx_parse(const jxc_tx *tx, int argc, char **argv, jxc_tx_args *a) {
    static const struct {
        const char *name;
        unsigned bit;
    } opts[] = {{"--wrt", JXC_WRT}, {"--in-axes", JXC_IN_AXES}, {"--out-axes", JXC_OUT_AXES},
                {"--size", JXC_SIZE}};
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !arg[1]) {
            if (a->src) {
                fprintf(stderr, "jxc: %s takes one IR file, got '%s' and '%s'\n", tx->name,
                        a->src, arg);
                return -1;
            }
            a->src = arg;
            continue;
        }
        size_t k = 0, nlen = strcspn(arg, "=");
        while (k < sizeof opts / sizeof opts[0] &&
               !(strlen(opts[k].name) == nlen && !strncmp(arg, opts[k].name, nlen)))
            k++;
        if (k == sizeof opts / sizeof opts[0] || !(tx->opts & opts[k].bit)) {
            fprintf(stderr, "jxc: %s does not take the option %.*s\n", tx->name, (int)nlen, arg);
            return -1;
        }
        const char *val = arg[nlen] == '=' ? arg + nlen + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!val) {
            fprintf(stderr, "jxc: %s needs a value\n", opts[k].name);
            return -1;
        }
        if (jxc_tx_value(opts[k].bit, val, a)) return -1;
    }
    if (!a->src) {
        fprintf(stderr, "jxc: %s needs an IR file\n", tx->name);
        return -1;
    }
    if ((tx->opts & JXC_SIZE) && a->size < 0) {
        fprintf(stderr, "jxc: %s needs --size N (the batch size)\n", tx->name);
        return -1;
    }
    return 0;
}

/* Loads, transforms, verifies and prints as parsed in a. The exit code: 0, or 1 with a
 * message on stderr. */
static int jxc_tx_print(const jxc_tx *tx, const jxc_tx_args *a) {
    jx_fn *f = jxc_load(a->src), *g = NULL;
    int rc = 1;
    if (!f) return 1;
    const char *shown = strcmp(a->src, "-") ? a->src : "<stdin>";
    int printed;
    g = jxc_apply(tx, f, shown, &a->wrt, &a->in_axes, &a->out_axes, a->size, &printed);
    if (!g) {
        if (!printed) fprintf(stderr, "jxc: %s: %s\n", shown, jx_error());
    } else if (jx_fn_verify(g) < 0) {
        fprintf(stderr, "jxc: %s: %s produced an invalid function: %s\n", shown, tx->name,
                jx_error());
    } else {
        jx_fn_print(g, stdout);
        if (fflush(stdout) != 0) fprintf(stderr, "jxc: cannot write the output\n");
        else rc = 0;
    }
    jx_fn_free(g);
    jx_fn_free(f);
    return rc;
}

/* jxc <transformation> F.jx [options]; the exit code (see jxc.h). */
int jxc_transform(const jxc_tx *tx, int argc, char **argv) {
    jxc_tx_args a = {NULL, {-1, NULL}, {-1, NULL}, {-1, NULL}, -1};
    int rc = jxc_tx_parse(tx, argc, argv, &a) ? jxc_usage_err(NULL) : jxc_tx_print(tx, &a);
    free(a.wrt.v);
    free(a.in_axes.v);
    free(a.out_axes.v);
    return rc;
}
