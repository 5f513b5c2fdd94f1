/* The differential fuzzer of the transformations. This file: transformation chains. The
 * other parts: fuzz_txin.h (the inputs of each stage), fuzz_txcmp.h (comparisons,
 * rounding-noise copies), fuzz_txcheck.h and fuzz_txad.h (the checks), fuzz_txrun.h
 * (running a case, reports, dumps); tests/t_fuzz_tx.c (a short run in the suite) and
 * tools/jxfuzz_tx.c (long runs, one seed) drive them.
 *
 * A case is one seed: the random program of tests/fuzz_gen.h (built with tx = 1: inputs
 * and constants without NaN/inf; in three cases of four one whose output depends on a
 * float input, trying up to 4 variants of the seed) followed by a chain of 1-3 random
 * transformations, each applied to the previous function: jvp; vjp (a random subset of
 * the float inputs, or NULL); grad and value_and_grad (a random wrt list, now and then
 * shuffled, with a repeated entry, or the default n_wrt = 0); vmap (batch size 0-3, random
 * in_axes including none, all none and negative axes, out_axes random, negative, none for
 * unbatched outputs, or default); jacfwd and jacrev (when the Jacobian is small). When
 * grad, value_and_grad or a Jacobian needs a float output 0 that the function lacks (or
 * its output 0 is constant), an adapter stage `sum` is inserted first: its output 0 is
 * the sum of all elements of a float output, the function's outputs follow as aux
 * outputs. Stage 0 is the program itself. Everything depends on the seed only.
 *
 * Every stage can also be looked at in f64: ft_retype rewrites the printed IR (every f32
 * to f64) and parses it; the derivative checks use that form. Internal names carry the
 * ft_ prefix. */
#ifndef JX_FUZZ_TX_H
#define JX_FUZZ_TX_H

#include "fuzz_gen.h"
#include "core/ir.h"

#define FT_MAX_STAGES 8 /* the program, up to 3 transformations, their sum adapters */
#define FT_MAX_ARGS 64  /* inputs or outputs of a transformed function */

enum { FT_BASE, FT_JVP, FT_VJP, FT_GRAD, FT_VAG, FT_VMAP, FT_JACFWD, FT_JACREV, FT_SUM, FT_NKINDS };
static const char *const ft_kind_names[FT_NKINDS] = {
    "program", "jvp", "vjp", "grad", "value_and_grad", "vmap", "jacfwd", "jacrev", "sum"};
/* Relative weights of the transformations (FT_JVP..FT_JACREV) in a chain. */
static const int ft_kind_weight[FT_NKINDS] = {0, 4, 4, 4, 2, 5, 1, 1, 0};

/* One stage: how it was made from the previous one, and the function it gives. */
typedef struct ft_stage {
    int kind;
    jx_fn *fn;                  /* owned (stage 0: the program's, owned by prog) */
    int n_wrt, wrt[FT_MAX_ARGS]; /* grad, value_and_grad (any order, repeats); jac*: wrt[0] */
    unsigned char mask[FT_MAX_ARGS]; /* vjp: the inputs differentiated */
    int default_wrt;            /* grad/value_and_grad: n_wrt = 0 (input 0); vjp: NULL mask */
    int in_axes[FT_MAX_ARGS], out_axes[FT_MAX_ARGS], default_out_axes;
    int64_t bsize;              /* vmap */
    int sum_out;                /* sum: the output summed */
} ft_stage;

typedef struct ft_case {
    uint64_t seed;
    fz_prog prog;
    int n;                       /* stages; st[n - 1] is the function under test */
    ft_stage st[FT_MAX_STAGES];
    fz_gen *g;                   /* random state of the chain, inputs and checks */
    char error[512];             /* why the case could not be built */
} ft_case;

#include "fuzz_txctl.h"

/* ---- small facts about functions --------------------------------------------------- */

/* The float inputs of h into idx (may be NULL); their number. */
static int ft_float_inputs(const jx_fn *h, int *idx) {
    int n = 0;
    for (int i = 0; i < h->n_in; i++)
        if (fz_isf(h->nodes[i].type.dtype)) {
            if (idx) idx[n] = i;
            n++;
        }
    return n;
}
/* The largest rank of any value of h (vmap adds one to each). */
static int ft_max_rank(const jx_fn *h) {
    int m = 0;
    for (int i = 0; i < h->n_nodes; i++)
        if (h->nodes[i].type.rank > m) m = h->nodes[i].type.rank;
    return m;
}

/* The largest element count of any value of h. */
static int64_t ft_max_size(const jx_fn *h) {
    int64_t m = 1;
    for (int i = 0; i < h->n_nodes; i++) {
        int64_t s = jx_type_size(&h->nodes[i].type);
        if (s > m) m = s;
    }
    return m;
}
static jx_type ft_out_type(const jx_fn *h, int j) {
    return h->nodes[h->outs[j]].type;
}

/* f with every occurrence of the dtype name `from` in its printed IR replaced by `to`
 * (source comments excepted), parsed and verified; NULL if that is not a valid function
 * (a bitcast between f32 and i32, a literal out of range, ...). */
static jx_fn *ft_retype(const jx_fn *f, const char *from, const char *to) {
    char *s = jx_fn_to_string(f);
    if (!s) return NULL;
    for (char *p = s, *c = NULL; *p; p++) {
        if (*p == '#') c = p;
        if (*p == '\n') c = NULL;
        if (!c && strncmp(p, from, 3) == 0) memcpy(p, to, 3);
    }
    jx_fn *g = jx_fn_parse(s);
    free(s);
    if (g && jx_fn_verify(g) < 0) {
        jx_fn_free(g);
        g = NULL;
    }
    jx_clear_error();
    return g;
}

/* ---- the stages ------------------------------------------------------------------------ */

/* What the sum adapter's traced body needs: the function and the output to sum. */
typedef struct ft_sum_ctx {
    const jx_fn *h;
    int k;
} ft_sum_ctx;

/* Traced body of the sum adapter: (sum of all of output k, outputs of h...). */
static void ft_sum_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    const ft_sum_ctx *s = user;
    jx_val y[FT_MAX_ARGS];
    if (jx_call(s->h, in, y) < 0) {
        for (int j = 0; j <= s->h->n_out; j++) out[j] = jx_trace_fail(t, jx_error());
        return;
    }
    jx_type yt = jx_val_type(y[s->k]);
    jx_ints axes = {yt.rank, {0}};
    for (int d = 0; d < yt.rank; d++) axes.v[d] = d;
    out[0] = jx_reduce_sum(y[s->k], axes);
    for (int j = 0; j < s->h->n_out; j++) out[1 + j] = y[j];
}

/* Applies stage s to h (h may be any precision form of the previous stage's function).
 * NULL with jx_error() if the transformation fails. */
static jx_fn *ft_apply(const ft_stage *s, const jx_fn *h) {
    switch (s->kind) {
    case FT_JVP: return jx_jvp(h, NULL);
    case FT_VJP: return jx_vjp(h, s->default_wrt ? NULL : s->mask);
    case FT_GRAD: return jx_grad(h, s->default_wrt ? 0 : s->n_wrt, s->wrt);
    case FT_VAG: return jx_value_and_grad(h, s->default_wrt ? 0 : s->n_wrt, s->wrt);
    case FT_VMAP:
        return jx_vmap(h, s->in_axes, s->default_out_axes ? NULL : s->out_axes, s->bsize);
    case FT_JACFWD: return jx_jacfwd(h, 1, &s->wrt[0]);
    case FT_JACREV: return jx_jacrev(h, 1, &s->wrt[0]);
    case FT_SUM: {
        ft_sum_ctx ctx = {h, s->sum_out};
        jx_type in_t[FT_MAX_ARGS];
        for (int i = 0; i < h->n_in; i++) in_t[i] = h->nodes[i].type;
        return jx_trace(ft_sum_body, h->n_in, in_t, h->n_out + 1, &ctx);
    }
    default: return NULL;
    }
}

/* Appends to buf a description of stage s ("vmap[size=2 in=0,none out=default]"). */
static void ft_stage_str(const ft_stage *s, int n_in, int n_out, char *buf, size_t len) {
    size_t k = strlen(buf);
    if (k >= len) return;
    k += (size_t)snprintf(buf + k, len - k, "%s", ft_kind_names[s->kind]);
    char b[256] = "";
    size_t m = 0;
    if (s->default_wrt) {
        snprintf(b, sizeof b, "[wrt=default]");
    } else if (s->kind == FT_GRAD || s->kind == FT_VAG) {
        for (int i = 0; i < s->n_wrt && m < sizeof b; i++)
            m += (size_t)snprintf(b + m, sizeof b - m, "%s%d", i ? "," : "[wrt=", s->wrt[i]);
        snprintf(b + m, sizeof b - m, "]");
    } else if (s->kind == FT_VJP) {
        for (int i = 0, c = 0; i < n_in && m < sizeof b; i++)
            if (s->mask[i]) m += (size_t)snprintf(b + m, sizeof b - m, "%s%d", c++ ? "," : "[wrt=", i);
        snprintf(b + m, sizeof b - m, "]");
    } else if (s->kind == FT_JACFWD || s->kind == FT_JACREV) {
        snprintf(b, sizeof b, "[wrt=%d]", s->wrt[0]);
    } else if (s->kind == FT_SUM) {
        snprintf(b, sizeof b, "[output %d]", s->sum_out);
    } else if (s->kind == FT_VMAP) {
        m += (size_t)snprintf(b, sizeof b, "[size=%lld in=", (long long)s->bsize);
        for (int i = 0; i < n_in && m < sizeof b; i++) {
            if (s->in_axes[i] == JX_NONE) m += (size_t)snprintf(b + m, sizeof b - m, "%snone", i ? "," : "");
            else m += (size_t)snprintf(b + m, sizeof b - m, "%s%d", i ? "," : "", s->in_axes[i]);
        }
        if (m < sizeof b) m += (size_t)snprintf(b + m, sizeof b - m, " out=");
        for (int j = 0; j < n_out && m < sizeof b && !s->default_out_axes; j++) {
            if (s->out_axes[j] == JX_NONE) m += (size_t)snprintf(b + m, sizeof b - m, "%snone", j ? "," : "");
            else m += (size_t)snprintf(b + m, sizeof b - m, "%s%d", j ? "," : "", s->out_axes[j]);
        }
        if (s->default_out_axes && m < sizeof b) m += (size_t)snprintf(b + m, sizeof b - m, "default");
        if (m < sizeof b) snprintf(b + m, sizeof b - m, "]");
    }
    if (k < len) snprintf(buf + k, len - k, "%s", b);
}

/* The chain of c as text: "program -> vjp[wrt=0] -> sum[output 1] -> grad[wrt=0]". */
static void ft_chain_str(const ft_case *c, char *buf, size_t len) {
    snprintf(buf, len, "program");
    for (int k = 1; k < c->n; k++) {
        size_t m = strlen(buf);
        if (m + 4 < len) snprintf(buf + m, len - m, " -> ");
        const jx_fn *h = c->st[k - 1].fn;
        ft_stage_str(&c->st[k], h->n_in, h->n_out, buf, len);
    }
}

/* ---- choosing a stage ------------------------------------------------------------------ */

/* A random wrt list into s: 1..n of the float inputs, mostly in increasing order, now and
 * then shuffled or with an entry repeated (grad and value_and_grad give one gradient per
 * entry, like JAX's argnums); now and then the default (grad: input 0; vjp: NULL, every
 * float input). The mask marks the inputs listed. */
static void ft_pick_wrt(fz_gen *g, const jx_fn *h, ft_stage *s) {
    int fl[FT_MAX_ARGS], nf = ft_float_inputs(h, fl);
    s->n_wrt = 0;
    s->default_wrt = fz_chance(g, 0.15) && (s->kind == FT_VJP || fz_isf(h->nodes[0].type.dtype));
    for (int i = 0; i < nf; i++)
        if (s->default_wrt ? s->kind == FT_VJP || fl[i] == 0 : fz_chance(g, 0.5)) s->wrt[s->n_wrt++] = fl[i];
    if (s->n_wrt == 0) s->wrt[s->n_wrt++] = fl[fz_below(g, nf)];
    int shuffle = !s->default_wrt && fz_chance(g, 0.2);
    for (int i = s->n_wrt - 1; i > 0 && shuffle; i--) {
        int j = (int)fz_below(g, i + 1), t = s->wrt[i];
        s->wrt[i] = s->wrt[j], s->wrt[j] = t;
    }
    if (!s->default_wrt && s->kind != FT_VJP && fz_chance(g, 0.15) && s->n_wrt < FT_MAX_ARGS / 2) {
        int again = s->wrt[fz_below(g, s->n_wrt)]; /* a repeated entry */
        s->wrt[s->n_wrt++] = again;
    }
    memset(s->mask, 0, sizeof s->mask);
    for (int i = 0; i < s->n_wrt; i++) s->mask[s->wrt[i]] = 1;
}

/* Marks in bat[j] the outputs of h that vmap with in_axes batches (those computed from a
 * batched input); the others may get out_axes none. */
static void ft_batched_outputs(const jx_fn *h, const int *in_axes, unsigned char *bat) {
    unsigned char *d = calloc((size_t)h->n_nodes + 1, 1);
    for (int i = 0; d && i < h->n_nodes; i++) {
        const jx_node *nd = &h->nodes[i];
        if (i < h->n_in) d[i] = in_axes[i] != JX_NONE;
        for (int k = 0; i >= h->n_in && k < nd->nin; k++) d[i] |= d[nd->in[k]];
    }
    for (int j = 0; j < h->n_out; j++) bat[j] = !d || d[h->outs[j]];
    free(d);
}

/* The parameters of a vmap of h into s; 0 if the batched function would be too large. */
static int ft_pick_vmap(fz_gen *g, const jx_fn *h, ft_stage *s) {
    static const int64_t sizes[8] = {1, 2, 2, 3, 3, 2, 1, 0};
    s->bsize = sizes[fz_below(g, 8)];
    if (ft_max_size(h) * s->bsize > 20000 || ft_max_rank(h) + 1 > JX_MAX_RANK) return 0;
    int any = 0;
    for (int i = 0; i < h->n_in; i++) {
        int r = h->nodes[i].type.rank + 1;
        if (r > JX_MAX_RANK || fz_chance(g, 0.3)) {
            s->in_axes[i] = JX_NONE;
            continue;
        }
        s->in_axes[i] = (int)fz_below(g, r);
        if (fz_chance(g, 0.2)) s->in_axes[i] -= r; /* the same axis counted from the end */
        any = 1;
    }
    if (!any && fz_chance(g, 0.9)) { /* all none now and then: every output broadcast */
        if (h->nodes[0].type.rank + 1 > JX_MAX_RANK) return 0;
        s->in_axes[0] = 0;
    }
    unsigned char bat[FT_MAX_ARGS];
    ft_batched_outputs(h, s->in_axes, bat);
    s->default_out_axes = fz_chance(g, 0.4);
    for (int j = 0; j < h->n_out; j++) {
        int r = ft_out_type(h, j).rank + 1;
        if (r > JX_MAX_RANK) return 0;
        s->out_axes[j] = (int)fz_below(g, r);
        if (fz_chance(g, 0.2)) s->out_axes[j] -= r;
        if (!bat[j] && fz_chance(g, 0.35)) s->out_axes[j] = JX_NONE;
    }
    return 1;
}

/* The parameters of jacfwd/jacrev of h into s; 0 if the Jacobian would be too large. */
static int ft_pick_jac(fz_gen *g, const jx_fn *h, ft_stage *s) {
    int fl[FT_MAX_ARGS], nf = ft_float_inputs(h, fl);
    jx_type yt = ft_out_type(h, 0);
    if (nf == 0 || !fz_isf(yt.dtype)) return 0;
    s->wrt[0] = fl[fz_below(g, nf)], s->n_wrt = 1;
    jx_type xt = h->nodes[s->wrt[0]].type;
    int64_t nb = jx_type_size(s->kind == FT_JACFWD ? &xt : &yt);
    return xt.rank + yt.rank <= JX_MAX_RANK - 1 && ft_max_rank(h) + 1 <= JX_MAX_RANK && nb <= 48 &&
           nb * ft_max_size(h) <= 60000 && jx_type_size(&xt) * jx_type_size(&yt) <= 4096;
}

/* 1 if h's output 0 is a float scalar. */
static int ft_scalar_out0(const jx_fn *h) {
    jx_type y = ft_out_type(h, 0);
    return y.rank == 0 && fz_isf(y.dtype);
}

/* Marks in dep[j] the outputs of h that depend on a float input through differentiable
 * ops (float values, no stop_gradient, no op without a derivative). */
static void ft_deriv_outputs(const jx_fn *h, unsigned char *dep) {
    unsigned char *d = calloc((size_t)h->n_nodes + 1, 1);
    for (int i = 0; d && i < h->n_nodes; i++) {
        const jx_node *nd = &h->nodes[i];
        if (!fz_isf(nd->type.dtype) && !ir_is_multi(h, i)) continue; /* multi: its gets' */
        if (i < h->n_in) {
            d[i] = 1;
            continue;
        }
        if (nd->op == JX_OP_STOP_GRADIENT || (prim_info(nd->op)->flags & JXF_NOGRAD)) continue;
        for (int k = 0; k < nd->nin; k++) d[i] |= d[nd->in[k]];
    }
    for (int j = 0; j < h->n_out; j++) dep[j] = d && d[h->outs[j]];
    free(d);
}

/* Chooses the sum adapter for h into s: a float output, preferably one that depends on a
 * float input (output 0 when it is one). 0 if h has no float output or would get too
 * many. */
static int ft_pick_sum(fz_gen *g, const jx_fn *h, ft_stage *s) {
    int c[FT_MAX_ARGS], n = 0;
    unsigned char dep[FT_MAX_ARGS];
    ft_deriv_outputs(h, dep);
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int j = 0; j < h->n_out; j++)
            if (fz_isf(ft_out_type(h, j).dtype) && (pass || dep[j])) c[n++] = j;
    if (n == 0 || h->n_out + 1 > FT_MAX_ARGS) return 0;
    memset(s, 0, sizeof *s);
    s->kind = FT_SUM;
    s->sum_out = c[0] == 0 && fz_chance(g, 0.6) ? 0 : c[fz_below(g, n)];
    return 1;
}

/* Chooses the next transformation of h into s (kind FT_JVP..FT_JACREV); 0 if none fits. An
 * adapter is needed first when the chosen one wants a float scalar (grad, value_and_grad)
 * or a float output 0 (jacobians) that h lacks: then *need_sum is set. */
static int ft_pick(fz_gen *g, const jx_fn *h, ft_stage *s, int *need_sum) {
    int nf = ft_float_inputs(h, NULL), any = 0;
    unsigned char dep[FT_MAX_ARGS];
    ft_deriv_outputs(h, dep);
    for (int j = 0; j < h->n_out; j++) any |= dep[j];
    int move = any && !dep[0]; /* output 0 is constant: differentiate another one */
    for (int attempt = 0; attempt < 20; attempt++) {
        memset(s, 0, sizeof *s);
        *need_sum = 0;
        int total = 0, r;
        for (int k = 0; k < FT_NKINDS; k++) total += ft_kind_weight[k];
        r = (int)fz_below(g, total);
        for (s->kind = 0; r >= ft_kind_weight[s->kind]; s->kind++) r -= ft_kind_weight[s->kind];
        if (ft_kind_needs(s->kind) & ~ft_rules(h)) continue; /* a primitive of h lacks the rule */
        int ok = 1;
        switch (s->kind) {
        case FT_JVP: ok = nf > 0 && 2 * h->n_in <= FT_MAX_ARGS && 2 * h->n_out <= FT_MAX_ARGS; break;
        case FT_VJP:
            ok = nf > 0 && h->n_in + h->n_out <= FT_MAX_ARGS;
            if (ok) ft_pick_wrt(g, h, s);
            break;
        case FT_GRAD:
        case FT_VAG:
            ok = nf > 0 && h->n_out + h->n_in + 1 <= FT_MAX_ARGS;
            if (ok) ft_pick_wrt(g, h, s), *need_sum = !ft_scalar_out0(h) || move;
            break;
        case FT_VMAP: ok = ft_pick_vmap(g, h, s); break;
        default: /* jacobians: of h, or of its sum adapter (a scalar output) */
            *need_sum = !fz_isf(ft_out_type(h, 0).dtype) || fz_chance(g, 0.2) || move;
            ok = *need_sum ? nf > 0 : ft_pick_jac(g, h, s);
        }
        if (ok) return 1;
    }
    return 0;
}

/* Frees the stages of c (and its program). */
static void ft_case_free(ft_case *c) {
    for (int k = 1; k < c->n; k++) jx_fn_free(c->st[k].fn);
    fz_prog_free(&c->prog);
    free(c->g);
    memset(c, 0, sizeof *c);
}

/* Appends stage s (its fn made from the last stage); 0 with c->error set on failure. */
static int ft_push(ft_case *c, ft_stage *s) {
    const jx_fn *h = c->st[c->n - 1].fn;
    s->fn = ft_apply(s, h);
    if (s->fn && jx_fn_verify(s->fn) == 0) {
        c->st[c->n++] = *s;
        return 1;
    }
    char d[256] = "";
    ft_stage_str(s, h->n_in, h->n_out, d, sizeof d);
    snprintf(c->error, sizeof c->error, "%s of stage %d %s: %s", d, c->n - 1,
             s->fn ? "does not verify" : "failed", jx_error());
    jx_fn_free(s->fn);
    s->fn = NULL;
    return 0;
}

/* Builds the case of `seed`: the program and a chain of 1-3 transformations. Returns 0;
 * -1 with c->error set if the generator or a transformation failed (a finding, unless
 * the generator failed: then prog.error says so); 1 if no transformation fits the
 * program (not a failure: the case is skipped). */
static int ft_build(uint64_t seed, ft_case *c) {
    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->g = calloc(1, sizeof *c->g);
    if (!c->g) return snprintf(c->error, sizeof c->error, "out of memory"), -1;
    c->g->s = seed * 0xd1342543de82ef95ULL + 777;
    /* mostly a program with an output that depends on a float input (else every
     * derivative is 0): up to 4 programs, from seed and 3 variants of it */
    int want_dep = fz_chance(c->g, 0.75);
    for (uint64_t v = 0; v < 4; v++) {
        if (v) fz_prog_free(&c->prog);
        if (fz_build_mix(seed ^ (v << 48), &c->prog, 1, ft_mix) < 0) {
            snprintf(c->error, sizeof c->error, "%s", c->prog.error);
            return -1;
        }
        unsigned char dep[FZ_MAX_OUT];
        ft_deriv_outputs(c->prog.fn, dep);
        if (!want_dep || memchr(dep, 1, (size_t)c->prog.n_out)) break;
    }
    c->st[0] = (ft_stage){.kind = FT_BASE, .fn = c->prog.fn};
    c->n = 1;
    int depth = 1 + (int)fz_below(c->g, 3), done = 0;
    for (int d = 0; d < depth && c->n + 2 <= FT_MAX_STAGES; d++) {
        ft_stage s, a;
        int need_sum;
        const jx_fn *h = c->st[c->n - 1].fn;
        if (!ft_pick(c->g, h, &s, &need_sum)) break;
        if (need_sum) {
            if (!ft_pick_sum(c->g, h, &a)) break;
            if (!ft_push(c, &a)) return -1;
            h = c->st[c->n - 1].fn;
            if ((s.kind == FT_JACFWD || s.kind == FT_JACREV) && !ft_pick_jac(c->g, h, &s)) break;
        }
        if (!ft_push(c, &s)) return -1;
        done++;
    }
    return done > 0 ? 0 : 1;
}

#endif
