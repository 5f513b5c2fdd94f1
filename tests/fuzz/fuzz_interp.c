/* The interpreter check of the parser target (see fuzz_interp.h). */
#include <math.h>

#include "fuzz_interp.h"
#include "core/ir.h"

#define FZ_MAX_IO 16

/* 1 if every node of f has at most max_elems elements (so interpreting it is cheap). */
static int fz_small(const jx_fn *f, int64_t max_elems) {
    for (int i = 0; i < f->n_nodes; i++) {
        int64_t n = 1;
        for (int d = 0; d < f->nodes[i].type.rank; d++) {
            int64_t s = f->nodes[i].type.shape[d];
            if (s > max_elems || (s && n > max_elems / s)) return 0;
            n *= s;
        }
        if (n > max_elems) return 0;
    }
    return 1;
}

/* 1 if f or a sub-function of it (to depth levels) has a while node: a while need not
 * terminate (cond may stay true), so such functions are not interpreted. */
static int fz_has_while(const jx_fn *f, int depth) {
    for (int i = 0; i < f->n_nodes; i++) {
        const jx_node *nd = &f->nodes[i];
        if (nd->op == JX_OP_WHILE) return 1;
        for (int k = 0; k < nd->at.n_fns && depth > 0; k++)
            if (fz_has_while(nd->at.fns[k], depth - 1)) return 1;
    }
    return 0;
}

/* Deterministic input number `salt` of type t: floats in -1.5..1.5 (zero included),
 * small ints (zero included), u32 up to 39 (shifts past 31), alternating bools. */
static jx_array *fz_input(jx_type t, int salt) {
    jx_array *a = jx_array_new_type(&t);
    if (!a) fz_fail("interp check: cannot allocate an input: %s", jx_error());
    for (int64_t i = 0; i < jx_array_size(a); i++) {
        int64_t k = i + 3 * salt;
        switch (t.dtype) {
        case JX_F32:
        case JX_F64: jx_array_set(a, i, 0.5 * (double)(k % 7) - 1.5); break;
        case JX_I32: jx_array_set(a, i, (double)(k % 5) - 2); break;
        case JX_U32: jx_array_set(a, i, (double)((k * 7 + 1) % 40)); break;
        default: jx_array_set(a, i, (double)(k % 2)); break;
        }
    }
    return a;
}

/* 1 if a and b have the same type and equal elements (any NaN equals any NaN; 0 == -0). */
static int fz_agree(const jx_array *a, const jx_array *b) {
    jx_type ta = jx_array_type(a), tb = jx_array_type(b);
    if (!jx_type_eq(&ta, &tb)) return 0;
    for (int64_t i = 0; i < jx_array_size(a); i++) {
        double x = jx_array_get(a, i), y = jx_array_get(b, i);
        if (!(x == y || (isnan(x) && isnan(y)))) return 0;
    }
    return 1;
}

/* See fuzz_interp.h. */
void fz_interp_agree(const jx_fn *f, const jx_fn *g, const char *text) {
    int n_in = jx_fn_n_in(f), n_out = jx_fn_n_out(f);
    if (n_in > FZ_MAX_IO || n_out > FZ_MAX_IO || !fz_small(f, FZ_INTERP_MAX_ELEMS) ||
        !fz_small(g, FZ_INTERP_MAX_ELEMS) || fz_has_while(f, JX_MAX_FN_DEPTH))
        return;
    if (jx_fn_n_in(g) != n_in || jx_fn_n_out(g) != n_out)
        fz_fail("simplify changed the signature:\n%s", text);
    jx_array *in[FZ_MAX_IO] = {0}, *of[FZ_MAX_IO] = {0}, *og[FZ_MAX_IO] = {0};
    for (int i = 0; i < n_in; i++) in[i] = fz_input(jx_fn_in_type(f, i), i);
    int rf = jx_interp(f, in, of);
    if (rf != 0) fz_need_error("jx_interp");
    jx_clear_error();
    int rg = jx_interp(g, in, og);
    if (rf == 0 && rg != 0)
        fz_fail("the simplified function fails in the interpreter (%s), the original does "
                "not:\n%s", jx_error(), text);
    for (int i = 0; rf == 0 && i < n_out; i++)
        if (!fz_agree(of[i], og[i]))
            fz_fail("simplify changed output %d under the interpreter:\n%s", i, text);
    for (int i = 0; i < n_in; i++) jx_array_free(in[i]);
    for (int i = 0; i < n_out; i++) {
        jx_array_free(of[i]);
        jx_array_free(og[i]);
    }
    jx_clear_error();
}
