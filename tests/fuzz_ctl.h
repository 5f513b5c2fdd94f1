/* Control-flow steps of the random program generator (enabled by a fz_mix, see
 * fuzz_meta.h): cond/switch, checkpoint, dynamic_slice and dynamic_update_slice here;
 * scan, while_loop and fori_loop in fuzz_ctl_loop.h.
 *
 * Sub-programs. A cond branch, a scan body or a checkpointed function is a random
 * sub-program (fz_sub): a child generator whose pool starts with the sub-function's
 * inputs and, now and then, values of the enclosing pool (closure capture: used inside,
 * they become operands of the node), takes a few random steps (control flow among them at
 * a lower weight, up to the mix's depth), and returns values coerced to the types the
 * construct needs (a scan's carries, the types of branch 0 for the other branches) or free
 * ones (branch 0's outputs, a scan's ys). A sub-program is determined by its seed and the
 * descriptions of its inputs: run again with other input descriptions it takes the same
 * steps unless a description changes a decision of the generator (an op refused for an
 * approximate operand, ...), which its signature (the hash of its steps) shows. A dry run
 * generates it into a throwaway trace to learn its outputs' descriptions without emitting
 * anything.
 *
 * Descriptions (error bounds) through control flow are conservative: a cond's result is
 * the union of its branches' (every branch generated on the same operands); a scan's
 * carries are iterated through the body's dry runs, one per step of the loop (each on the
 * previous step's carry descriptions), the ys are the union over the steps, and the scan
 * is given up (the step not taken) if a step's dry run would take other steps than the
 * first (the traced body must be valid for every iteration's operands); dynamic slices
 * hold elements of their operand (and update). Indices and starts are exact integers:
 * constants (out of range now and then: cond clamps, dynamic slices clamp) or computed from
 * exact data (an element, converted to i32, often reduced modulo a small constant so that
 * negative and past-the-end values occur). */
#ifndef JX_FUZZ_CTL_H
#define JX_FUZZ_CTL_H

#define FZ_SUB_MAX 8 /* declared inputs, captured values, outputs of a sub-program */

/* Control-flow features counted per program (fz_prog.feats). */
enum {
    FZF_CAPTURE, FZF_NESTED, FZF_DATA_INDEX, FZF_CONST_INDEX, FZF_OOR_INDEX, FZF_REVERSE,
    FZF_LEN0, FZF_NO_XS, FZF_GIVEUP, FZF_SWITCH3, FZF_DATA_BOUND, FZF_NFEAT
};
static const char *const fz_feat_names[FZF_NFEAT] = {
    "captures", "nested", "data_index", "const_index", "out_of_range_const", "reverse",
    "length0", "scan_without_xs", "loop_given_up", "switch3", "loop_data_bounds"};

/* A sub-program: what it takes, what it must return, and (after a run) what it returned. */
typedef struct fz_sub {
    int n_in, n_cap, n_fixed, n_free;
    fz_val in[FZ_SUB_MAX];     /* descriptions of the declared inputs (v unused) */
    fz_val cap[FZ_SUB_MAX];    /* values of the enclosing pool it may use (v in its trace) */
    jx_type fixed[FZ_SUB_MAX]; /* the types of outputs 0..n_fixed) */
    int64_t free_mul;          /* free outputs have at most cap / free_mul elements */
    uint64_t seed;             /* the child generator's random state */
    int n_steps;
    fz_val out[FZ_SUB_MAX];    /* the last run's outputs (fixed, then free) */
    uint64_t sig;              /* the last run's signature */
} fz_sub;

/* A fresh child generator of g for sub-program s (pool empty). NULL on OOM. */
static fz_gen *fz_child(const fz_gen *g, const fz_sub *s, jx_trace *t, fz_prog *p) {
    fz_gen *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->s = s->seed, c->t = t, c->p = p, c->tx = g->tx, c->mix = g->mix;
    c->depth = g->depth + 1, c->cap = g->cap;
    memcpy(c->palette, g->palette, sizeof c->palette);
    return c;
}

/* Index of a pool value of exactly type want: one of the pool (mostly), or one made from
 * another value (converted, flattened, sliced or padded, reshaped), or a constant. -1 if
 * a step failed (p->error set). */
static int fz_coerce(fz_gen *g, jx_type want) {
    int c[FZ_MAX_VALS], nc = 0, i = -1;
    for (int k = 0; k < g->n; k++)
        if (jx_type_eq(&g->vals[k].t, &want)) c[nc++] = k;
    if (nc > 0 && fz_chance(g, 0.8)) return fz_chance(g, 0.6) ? c[nc - 1] : c[fz_below(g, nc)];
    nc = 0;
    for (int k = 0; k < g->n; k++)
        if (g->vals[k].t.dtype == want.dtype) c[nc++] = k;
    i = nc > 0 && fz_chance(g, 0.7) ? c[nc - 1 - fz_below(g, nc < 3 ? nc : 3)] : fz_pick(g, NULL);
    if (i < 0) return fz_emit_const(g, want) ? g->n - 1 : -1;
    fz_val x = g->vals[i], o;
    if (x.t.dtype != want.dtype) {
        if (!fz_convert_meta(&x, want.dtype, &o)) return fz_emit_const(g, want) ? g->n - 1 : -1;
        o.v = jx_convert(x.v, want.dtype);
        if (!fz_push(g, o, FZ_CONVERT)) return -1;
        x = g->vals[g->n - 1];
    }
    int64_t n = jx_type_size(&x.t), m = jx_type_size(&want);
    jx_ints flat = fz_ints(1);
    flat.v[0] = n;
    o = x, o.v = jx_reshape(x.v, flat);
    if (!fz_push(g, o, FZ_RESHAPE)) return -1;
    x = g->vals[g->n - 1];
    if (n > m) {
        jx_ints st = fz_ints(1), li = fz_ints(1), sd = fz_ints(1);
        st.v[0] = fz_below(g, n - m + 1), li.v[0] = st.v[0] + m, sd.v[0] = 1;
        o = x, o.v = jx_slice(x.v, st, li, sd);
        if (!fz_push(g, o, FZ_SLICE)) return -1;
    } else if (n < m) {
        if (!fz_emit_const(g, (jx_type){want.dtype, 0, {0}})) return -1;
        fz_val pv = g->vals[g->n - 1];
        jx_ints lo = fz_ints(1), hi = fz_ints(1), in = fz_ints(1);
        lo.v[0] = fz_below(g, m - n + 1), hi.v[0] = m - n - lo.v[0];
        o = fz_union(x, &pv), o.v = jx_pad(x.v, pv.v, lo, hi, in);
        if (!fz_push(g, o, FZ_PAD)) return -1;
    }
    x = g->vals[g->n - 1];
    jx_ints shape = fz_ints(want.rank);
    for (int d = 0; d < want.rank; d++) shape.v[d] = want.shape[d];
    o = x, o.v = jx_reshape(x.v, shape);
    return fz_push(g, o, FZ_RESHAPE) ? g->n - 1 : -1;
}

/* Index of a value for a free output of a sub-program: a recent pool value of rank <= 4
 * with at most cap / mul elements (preferring those computed in the sub-program, from
 * index `first` on), else one coerced to a small random type. -1 on failure. */
static int fz_free_out(fz_gen *g, int64_t mul, int first) {
    int c[FZ_MAX_VALS], nc = 0;
    for (int pass = 0; pass < 2 && nc == 0; pass++)
        for (int k = pass ? 0 : first; k < g->n; k++)
            if (g->vals[k].t.rank <= 4 && jx_type_size(&g->vals[k].t) * mul <= g->cap) c[nc++] = k;
    if (nc > 0 && fz_chance(g, 0.9))
        return fz_chance(g, 0.7) ? c[nc - 1 - fz_below(g, nc < 3 ? nc : 3)] : c[fz_below(g, nc)];
    jx_type t = fz_rand_type(g, fz_rand_dtype(g), (int)fz_below(g, 3));
    while (jx_type_size(&t) * mul > g->cap)
        for (int d = 0; d < t.rank; d++) t.shape[d] /= 2;
    return fz_coerce(g, t);
}

/* Generates sub-program s into trace t, whose inputs are in[] (described by s->in) and
 * whose captured values are cap[] (described by s->cap): s->n_steps random steps, then
 * the outputs into out[] (descriptions into s->out) and the signature into s->sig. Counts
 * kinds and features into p. 0, or -1 with p->error set (outputs are then poison). */
static int fz_sub_gen(const fz_gen *g, fz_sub *s, jx_trace *t, const jx_val *in,
                      const jx_val *cap, jx_val *out, fz_prog *p) {
    int n_out = s->n_fixed + s->n_free, rc = 0;
    for (int j = 0; j < n_out; j++) out[j] = (jx_val){t, -1};
    fz_gen *c = fz_child(g, s, t, p);
    if (!c) return snprintf(p->error, sizeof p->error, "out of memory"), -1;
    for (int i = 0; i < s->n_in + s->n_cap; i++) {
        fz_val d = i < s->n_in ? s->in[i] : s->cap[i - s->n_in];
        d.v = i < s->n_in ? in[i] : cap[i - s->n_in];
        d.t = jx_val_type(d.v);
        c->vals[c->n++] = d;
    }
    int first = c->n;
    for (int k = 0; k < s->n_steps && !p->error[0]; k++)
        for (int attempt = 0; attempt < 40 && !p->error[0]; attempt++)
            if (fz_step(c, fz_rand_kind(c))) break;
    for (int j = 0; j < n_out && !p->error[0]; j++) {
        int k = -1, same[FZ_SUB_MAX], ns = 0;
        for (int i = 0; j < s->n_fixed && i < s->n_in; i++) /* an input as it is: a carry */
            if (jx_type_eq(&c->vals[i].t, &s->fixed[j])) same[ns++] = i; /* kept, swapped, an x */
        if (ns > 0 && fz_chance(c, 0.2)) k = same[fz_below(c, ns)];
        else k = j < s->n_fixed ? fz_coerce(c, s->fixed[j]) : fz_free_out(c, s->free_mul, first);
        if (k < 0) break;
        s->out[j] = c->vals[k];
        out[j] = c->vals[k].v;
    }
    if (p->error[0]) {
        for (int j = 0; j < n_out; j++) out[j] = (jx_val){t, -1};
        rc = -1;
    }
    s->sig = c->sig ^ c->s;
    free(c);
    return rc;
}

/* A dry run of s: generated into a throwaway trace whose inputs stand for the declared
 * inputs and the captured values; sets s->out and s->sig as a real run on the same
 * descriptions would. 0, or -1 with g's program's error set. */
static int fz_sub_dry(fz_gen *g, fz_sub *s) {
    jx_type ty[2 * FZ_SUB_MAX];
    jx_val v[2 * FZ_SUB_MAX], out[FZ_SUB_MAX];
    int n = s->n_in + s->n_cap;
    for (int i = 0; i < n; i++) ty[i] = i < s->n_in ? s->in[i].t : s->cap[i - s->n_in].t;
    fz_prog *scratch = calloc(1, sizeof *scratch);
    jx_trace *t = scratch ? jx_trace_begin(n, ty) : NULL;
    int rc = -1;
    if (t) {
        for (int i = 0; i < n; i++) v[i] = jx_trace_input(t, i);
        rc = fz_sub_gen(g, s, t, v, v + s->n_in, out, scratch);
        if (rc < 0) memcpy(g->p->error, scratch->error, sizeof g->p->error);
        jx_trace_abort(t);
    } else {
        snprintf(g->p->error, sizeof g->p->error, "generator: dry run: %s", jx_error());
    }
    free(scratch);
    return rc;
}

/* What the traced callbacks of one construct share: its sub-programs, in the order the
 * constructor traces them. */
typedef struct fz_cb {
    fz_gen *g;
    fz_sub *subs;
    int n, next, rc;
    int branches; /* cond: sub-programs 1.. return the types of sub-program 0's outputs */
} fz_cb;

/* jx_trace_cb of every construct: generates the next sub-program of user (a fz_cb) on the
 * callback's inputs; for a cond branch after the first, with branch 0's output types. */
static void fz_sub_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    fz_cb *cb = user;
    int k = cb->next++;
    if (k >= cb->n) {
        snprintf(cb->g->p->error, sizeof cb->g->p->error, "generator: callback called %d times",
                 k + 1);
        cb->rc = -1;
        return;
    }
    fz_sub *s = &cb->subs[k];
    for (int j = 0; cb->branches && k > 0 && j < s->n_fixed; j++)
        s->fixed[j] = cb->subs[0].out[j].t;
    jx_val cap[FZ_SUB_MAX];
    for (int c = 0; c < s->n_cap; c++) cap[c] = s->cap[c].v;
    if (fz_sub_gen(cb->g, s, t, in, cap, out, cb->g->p) < 0) cb->rc = -1;
}

/* Sets up s with declared inputs described by in[0..n_in) and, with the mix's capture
 * chance, 1-2 values of g's pool it may use. */
static void fz_sub_init(fz_gen *g, fz_sub *s, int n_in, const fz_val *in) {
    memset(s, 0, sizeof *s);
    s->n_in = n_in;
    for (int i = 0; i < n_in; i++) s->in[i] = in[i];
    if (g->mix && fz_chance(g, g->mix->capture) && g->n > 0)
        for (int k = 0, n = 1 + (int)fz_below(g, 2); k < n; k++)
            s->cap[s->n_cap++] = g->vals[fz_pick(g, NULL)];
    s->seed = fz_next(g);
    s->n_steps = 1 + (int)fz_below(g, 6);
    s->free_mul = 1;
}

/* 1 unless every one of vals[0..n) belongs to a trace enclosing g's: then jx would emit
 * a construct on them into that trace, whose sub-functions could not use g's values (a
 * cond inside a scan body on values of the enclosing function, with a branch using a body
 * value: "operands 0 and 1 belong to different traces"; JAX traces it in the body). The
 * generator avoids that unless the mix's hoist is set: *v (one of the operands) is then
 * passed through a select of g's trace. */
static void fz_keep_here(fz_gen *g, int n, const jx_val *vals, jx_val *v) {
    int here = g->depth == 0 || g->mix->hoist;
    for (int i = 0; i < n && !here; i++) here = vals[i].t == g->t;
    if (!here) *v = jx_select(jx_scalar(g->t, JX_BOOL, 1), *v, *v);
}

/* ---- indices ---------------------------------------------------------------------------- */

static int fz_ok_index_src(const fz_val *v) {
    return fz_exact(v) && jx_type_size(&v->t) > 0;
}

/* Index of a new i32[] value computed from exact data: an element of a pool value,
 * converted to i32, often reduced modulo n + 2 (so values in (-(n+2), n+2): negative and
 * past-the-end ones occur). -1 if none could be made (p->error set if a step failed). */
static int fz_index_data(fz_gen *g, int64_t n) {
    int i = fz_pick(g, fz_ok_index_src);
    if (i < 0) return -1;
    fz_val x = g->vals[i], o;
    if (x.t.rank > 0) {
        int64_t sz = jx_type_size(&x.t);
        jx_ints flat = fz_ints(1), st = fz_ints(1), li = fz_ints(1), sd = fz_ints(1);
        flat.v[0] = sz, st.v[0] = fz_below(g, sz), li.v[0] = st.v[0] + 1, sd.v[0] = 1;
        o = x, o.v = jx_reshape(jx_slice(jx_reshape(x.v, flat), st, li, sd), fz_ints(0));
        if (!fz_push(g, o, FZ_SLICE)) return -1;
        x = g->vals[i = g->n - 1];
    }
    if (x.t.dtype != JX_I32) {
        if (!fz_convert_meta(&x, JX_I32, &o)) return -1;
        o.v = jx_convert(x.v, JX_I32);
        if (!fz_push(g, o, FZ_CONVERT)) return -1;
        x = g->vals[i = g->n - 1];
    }
    if (fz_chance(g, 0.6)) {
        o = x, o.lo = -(double)(n + 1), o.hi = (double)(n + 1), o.isconst = x.isconst;
        o.v = jx_rem(x.v, jx_scalar(g->t, JX_I32, (double)(n + 2)));
        if (!fz_push(g, o, FZ_IBINARY)) return -1;
        i = g->n - 1;
    }
    g->p->feats[FZF_DATA_INDEX]++;
    return i;
}

/* Index of an i32[] index or start for a dimension or branch count n: computed from data
 * (fz_index_data) or a constant in [-3, n + 2] (out of range now and then). -1 on
 * failure. */
static int fz_index(fz_gen *g, int64_t n) {
    if (fz_chance(g, 0.5)) {
        int k = fz_index_data(g, n);
        if (k >= 0 || g->p->error[0]) return k;
    }
    int64_t v = fz_chance(g, 0.75) ? fz_below(g, n > 0 ? n : 1) : fz_below(g, n + 6) - 3;
    fz_val o;
    memset(&o, 0, sizeof o);
    o.lo = o.hi = (double)v, o.isconst = 1;
    o.v = jx_scalar(g->t, JX_I32, (double)v);
    g->p->feats[FZF_CONST_INDEX]++;
    g->p->feats[FZF_OOR_INDEX] += v < 0 || v >= n;
    return fz_push(g, o, FZ_CONST) ? g->n - 1 : -1;
}

/* ---- cond / switch -------------------------------------------------------------------- */

/* Pushes the results of a construct: values res[0..n) described by the union of the
 * descriptions d[b * stride + j] over b < nd (a result may be any of them), counted as
 * kind. 1, or 0 with p->error set. */
static int fz_push_union(fz_gen *g, int n, const jx_val *res, const fz_val *d, int nd, int stride,
                         int kind) {
    for (int j = 0; j < n; j++) {
        fz_val o = d[j];
        int isconst = o.isconst;
        for (int b = 1; b < nd; b++)
            o = fz_union(o, &d[b * stride + j]), isconst |= d[b * stride + j].isconst;
        o.isconst = isconst, o.isdot = o.scaled_dot = 0;
        o.v = res[j];
        if (!fz_push(g, o, kind)) return 0;
    }
    return 1;
}

/* switch (2-3 branches, an index from data or a constant) or cond (a predicate) on 0-3
 * pool values: branch 0 returns 1-2 free values, the others the same types. */
static int fz_step_cond(fz_gen *g) {
    int is_cond = fz_chance(g, 0.3), nb = is_cond ? 2 : 2 + (int)fz_below(g, 2);
    int k = fz_index(g, nb);
    if (k < 0) return 0;
    jx_val index = g->vals[k].v;
    if (is_cond && fz_chance(g, 0.5)) index = jx_ne(index, jx_scalar(g->t, JX_I32, 0)); /* bool */
    int n_in = g->n > 0 ? (int)fz_below(g, 4) : 0, n_out = 1 + (int)fz_below(g, 2);
    fz_val in[FZ_SUB_MAX];
    jx_val args[FZ_SUB_MAX], res[FZ_SUB_MAX];
    memset(in, 0, sizeof in);
    for (int i = 0; i < n_in; i++) in[i] = g->vals[fz_pick(g, NULL)], args[i] = in[i].v;
    fz_sub subs[3];
    fz_sub_init(g, &subs[0], n_in, in);
    subs[0].n_free = n_out;
    for (int b = 1; b < nb; b++) {
        subs[b] = subs[0];
        subs[b].seed = fz_next(g), subs[b].n_steps = 1 + (int)fz_below(g, 6);
        subs[b].n_free = 0, subs[b].n_fixed = n_out;
    }
    jx_val ops[FZ_SUB_MAX + 1] = {index};
    for (int i = 0; i < n_in; i++) ops[1 + i] = args[i];
    fz_keep_here(g, n_in + 1, ops, &index);
    fz_cb cb = {g, subs, nb, 0, 0, 1};
    const jx_trace_cb br[3] = {fz_sub_cb, fz_sub_cb, fz_sub_cb};
    int rc = is_cond ? jx_cond(index, fz_sub_cb, fz_sub_cb, &cb, n_in, args, n_out, res)
                     : jx_switch(index, nb, br, &cb, n_in, args, n_out, res);
    (void)rc; /* a failure shows as poison results (fz_push reports the trace's error) */
    if (g->p->error[0] || cb.rc < 0) return 0;
    fz_val d[3 * FZ_SUB_MAX];
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < n_out; j++) d[b * n_out + j] = subs[b].out[j];
    g->p->feats[FZF_CAPTURE] += subs[0].n_cap > 0;
    g->p->feats[FZF_SWITCH3] += nb == 3;
    return fz_push_union(g, n_out, res, d, nb, n_out, FZ_COND);
}

/* ---- checkpoint ------------------------------------------------------------------------- */

/* jx_checkpoint of a sub-program on 1-3 pool values, with 1-2 free outputs. A
 * checkpointed function cannot capture and takes values of one trace: a value of an
 * enclosing trace (captured, or computed from captured values only) is passed through a
 * select in this trace (not a step: dry and real runs decide alike). */
static int fz_step_checkpoint(fz_gen *g) {
    if (g->n == 0) return 0;
    int n_in = 1 + (int)fz_below(g, 3), n_out = 1 + (int)fz_below(g, 2);
    fz_val in[FZ_SUB_MAX];
    jx_val args[FZ_SUB_MAX], res[FZ_SUB_MAX];
    for (int i = 0; i < n_in; i++) {
        in[i] = g->vals[fz_pick(g, NULL)], args[i] = in[i].v;
        if (args[i].t != g->t) args[i] = jx_select(jx_scalar(g->t, JX_BOOL, 1), args[i], args[i]);
    }
    fz_sub s;
    fz_sub_init(g, &s, n_in, in);
    s.n_cap = 0, s.n_free = n_out;
    fz_cb cb = {g, &s, 1, 0, 0, 0};
    jx_checkpoint(fz_sub_cb, &cb, n_in, args, n_out, res);
    if (g->p->error[0] || cb.rc < 0) return 0;
    return fz_push_union(g, n_out, res, s.out, 1, n_out, FZ_CHECKPOINT);
}

/* ---- dynamic slices --------------------------------------------------------------------- */

/* Starts for a value of type t into starts[] (fz_index per dimension). 0 on failure. */
static int fz_starts(fz_gen *g, const jx_type *t, jx_val *starts) {
    for (int d = 0; d < t->rank; d++) {
        int k = fz_index(g, t->shape[d]);
        if (k < 0) return 0;
        starts[d] = g->vals[k].v;
    }
    return 1;
}

/* dynamic_slice of a ranked value: random window sizes, traced starts. */
static int fz_step_dynslice(fz_gen *g) {
    int i = fz_pick(g, fz_ok_ranked);
    if (i < 0) return 0;
    fz_val x = g->vals[i], o = x;
    jx_ints sizes = fz_ints(x.t.rank);
    for (int d = 0; d < x.t.rank; d++)
        sizes.v[d] = fz_chance(g, 0.3) ? x.t.shape[d] : fz_below(g, x.t.shape[d] + 1);
    jx_val starts[JX_MAX_RANK];
    if (!fz_starts(g, &x.t, starts)) return 0;
    o.v = jx_dynamic_slice(x.v, x.t.rank, starts, sizes);
    return fz_push(g, o, FZ_DYNSLICE);
}

/* dynamic_update_slice of a ranked value with a pool value or constant that fits. */
static int fz_step_dus(fz_gen *g) {
    int i = fz_pick(g, fz_ok_ranked);
    if (i < 0) return 0;
    fz_val x = g->vals[i];
    int c[FZ_MAX_VALS], nc = 0, u = -1;
    for (int k = 0; k < g->n; k++) {
        const jx_type *t = &g->vals[k].t;
        int fits = t->dtype == x.t.dtype && t->rank == x.t.rank;
        for (int d = 0; fits && d < t->rank; d++) fits = t->shape[d] <= x.t.shape[d];
        if (fits) c[nc++] = k;
    }
    if (nc > 0 && fz_chance(g, 0.5)) {
        u = c[fz_below(g, nc)];
    } else {
        jx_type ut = x.t;
        for (int d = 0; d < ut.rank; d++) ut.shape[d] = fz_below(g, x.t.shape[d] + 1);
        if (!fz_emit_const(g, ut)) return 0;
        u = g->n - 1;
    }
    fz_val upd = g->vals[u], o = fz_union(x, &upd);
    o.isconst = x.isconst || upd.isconst;
    jx_val starts[JX_MAX_RANK];
    if (!fz_starts(g, &x.t, starts)) return 0;
    o.v = jx_dynamic_update_slice(x.v, upd.v, x.t.rank, starts);
    return fz_push(g, o, FZ_DUS);
}

#include "fuzz_ctl_loop.h"

#endif
