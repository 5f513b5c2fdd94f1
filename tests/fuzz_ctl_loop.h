/* Loop steps of the random program generator (see fuzz_ctl.h for sub-programs and how
 * descriptions go through control flow): scan, and while_loop / fori_loop when jx has
 * them; fz_step_ctl, the control-flow step dispatcher. */
#ifndef JX_FUZZ_CTL_LOOP_H
#define JX_FUZZ_CTL_LOOP_H

#ifdef jx_while_loop
#define FZ_HAVE_WHILE 1
#else
#define FZ_HAVE_WHILE 0
#endif

/* Index of a value with a leading axis of length L and at most g->cap elements: a pool
 * value, a pool value broadcast along a new leading axis, or a constant. -1 on failure. */
static int fz_scan_xs(fz_gen *g, int64_t L) {
    int c[FZ_MAX_VALS], nc = 0;
    for (int k = 0; k < g->n; k++) {
        const jx_type *t = &g->vals[k].t;
        if (t->rank >= 1 && t->rank < 5 && t->shape[0] == L) c[nc++] = k;
    }
    if (nc > 0 && fz_chance(g, 0.6)) return c[nc - 1 - fz_below(g, nc < 3 ? nc : 3)];
    int i = fz_pick(g, NULL);
    if (i >= 0 && fz_chance(g, 0.5) && g->vals[i].t.rank <= 3 &&
        jx_type_size(&g->vals[i].t) * (L > 0 ? L : 1) <= g->cap) {
        fz_val x = g->vals[i], o = x;
        jx_ints shape = fz_ints(x.t.rank + 1), dims = fz_ints(x.t.rank);
        shape.v[0] = L;
        for (int d = 0; d < x.t.rank; d++) shape.v[d + 1] = x.t.shape[d], dims.v[d] = d + 1;
        o.v = jx_broadcast_in_dim(x.v, shape, dims);
        return fz_push(g, o, FZ_BROADCAST) ? g->n - 1 : -1;
    }
    jx_type t = fz_rand_type(g, fz_rand_dtype(g), 1 + (int)fz_below(g, 3));
    t.shape[0] = L;
    while (jx_type_size(&t) > g->cap)
        for (int d = 1; d < t.rank; d++) t.shape[d] /= 2;
    return fz_emit_const(g, t) ? g->n - 1 : -1;
}

/* The type of one slice of xs (its leading axis dropped). */
static jx_type fz_unstack_type(jx_type t) {
    jx_type r = {t.dtype, t.rank - 1, {0}};
    for (int d = 1; d < t.rank; d++) r.shape[d - 1] = t.shape[d];
    return r;
}

/* Iterates sub-program s's descriptions through `steps` steps of a loop whose carry is
 * inputs in0..in0+n_carry of s and its first n_carry outputs, starting from C[] (left as
 * the final carry's), by dry runs, one per step, each on the previous step's carry
 * descriptions (at least one dry run, for the signature *sig). With Y, the union over the
 * steps of the free outputs (after the carry) goes there; with every_step, C gets the
 * union over all steps' carries (a loop that may stop after any step). pred (or NULL), a
 * loop predicate on s's inputs, is dry-run on the carry before every step and after the
 * last, with its signature in *psig. Returns 1; 0 if a step's run takes other steps than
 * the first (the traced body would not be valid for that step's operands); -1 if a dry
 * run failed (p->error set). */
static int fz_chain(fz_gen *g, fz_sub *s, int in0, int n_carry, int64_t steps, fz_val *C, fz_val *Y,
                    int every_step, uint64_t *sig, fz_sub *pred, uint64_t *psig) {
    fz_val U[FZ_SUB_MAX];
    for (int c = 0; c < n_carry; c++) U[c] = C[c];
    for (int64_t it = 0; it <= steps; it++) {
        for (int c = 0; c < n_carry; c++) s->in[in0 + c] = C[c];
        if (pred) {
            for (int c = 0; c < n_carry; c++) pred->in[in0 + c] = C[c];
            if (fz_sub_dry(g, pred) < 0) return -1;
            if (it == 0) *psig = pred->sig;
            else if (pred->sig != *psig) return 0;
        }
        if (it == steps && it > 0) break;
        if (fz_sub_dry(g, s) < 0) return -1;
        if (it == 0) *sig = s->sig;
        else if (s->sig != *sig) return 0;
        if (it == steps) break;
        for (int c = 0; c < n_carry; c++) {
            int isconst = C[c].isconst;
            C[c] = s->out[c], C[c].isconst |= isconst, C[c].isdot = C[c].scaled_dot = 0;
            U[c] = fz_union(U[c], &C[c]), U[c].isconst |= C[c].isconst;
        }
        for (int j = 0; Y && j < s->n_free; j++)
            Y[j] = it == 0 ? s->out[n_carry + j] : fz_union(Y[j], &s->out[n_carry + j]);
    }
    for (int c = 0; every_step && c < n_carry; c++) C[c] = U[c];
    return 1;
}

/* scan with 1-2 carries (pool values), 0-2 xs, 0-2 ys, length 0-5 (longer now and then,
 * up to the mix's max_len), forward or reverse, on a random body. The carries' and ys'
 * descriptions come from fz_chain; the step is given up when the chain fails. */
static int fz_step_scan(fz_gen *g) {
    int64_t L = fz_below(g, 6);
    if (g->mix->max_len > 5 && fz_chance(g, 0.1)) L = 6 + fz_below(g, g->mix->max_len - 5);
    int nc = 1 + (int)fz_below(g, 2), nx = (int)fz_below(g, 3), ny = (int)fz_below(g, 3);
    int rev = fz_chance(g, 0.4);
    fz_val in[FZ_SUB_MAX], C[FZ_SUB_MAX], Y[FZ_SUB_MAX];
    jx_val init[2], xs[2], res[2 * FZ_SUB_MAX];
    for (int c = 0; c < nc; c++) {
        int i = fz_pick(g, fz_chance(g, 0.7) ? fz_ok_float : NULL);
        if (i < 0) i = fz_pick(g, NULL);
        if (i < 0) return 0;
        in[c] = g->vals[i], init[c] = in[c].v;
    }
    for (int k = 0; k < nx; k++) {
        jx_type st = {in[0].t.dtype, in[0].t.rank + 1, {L}}; /* slices of a carry's type */
        for (int d = 0; d < in[0].t.rank; d++) st.shape[d + 1] = in[0].t.shape[d];
        int same = k == 0 && st.rank <= 5 && jx_type_size(&st) <= g->cap && fz_chance(g, 0.3);
        int j = same ? (fz_emit_const(g, st) ? g->n - 1 : -1) : fz_scan_xs(g, L);
        if (j < 0) return 0;
        in[nc + k] = g->vals[j], xs[k] = in[nc + k].v;
        in[nc + k].t = fz_unstack_type(in[nc + k].t);
    }
    fz_sub s;
    fz_sub_init(g, &s, nc + nx, in);
    s.n_fixed = nc, s.n_free = ny, s.free_mul = L > 0 ? L : 1;
    for (int c = 0; c < nc; c++) s.fixed[c] = in[c].t, C[c] = in[c];
    uint64_t sig = 0;
    int ok = fz_chain(g, &s, 0, nc, L, C, Y, 0, &sig, NULL, NULL);
    if (ok <= 0) {
        g->p->feats[FZF_GIVEUP] += ok == 0;
        return 0;
    }
    for (int c = 0; c < nc; c++) s.in[c] = in[c];
    jx_val ops[4] = {init[0], init[nc > 1], xs[0], xs[nx > 1]};
    fz_keep_here(g, nx > 0 ? 4 : 2, ops, &init[0]);
    fz_cb cb = {g, &s, 1, 0, 0, 0};
    int64_t len = nx > 0 && fz_chance(g, 0.5) ? -1 : L; /* -1: from the xs */
    jx_scan(fz_sub_cb, &cb, nc, init, nx, xs, len, rev, ny, res, res + nc);
    if (g->p->error[0] || cb.rc < 0) return 0;
    if (s.sig != sig) {
        snprintf(g->p->error, sizeof g->p->error, "generator: a scan body's real run took other "
                 "steps than its dry run");
        return 0;
    }
    for (int j = 0; L == 0 && j < ny; j++) memset(&Y[j], 0, sizeof Y[j]); /* empty ys */
    g->p->feats[FZF_CAPTURE] += s.n_cap > 0;
    g->p->feats[FZF_REVERSE] += rev;
    g->p->feats[FZF_LEN0] += L == 0;
    g->p->feats[FZF_NO_XS] += nx == 0;
    return fz_push_union(g, nc, res, C, 1, nc, FZ_SCAN) &&
           fz_push_union(g, ny, res + nc, Y, 1, ny, FZ_SCAN);
}

#if FZ_HAVE_WHILE
/* What the callbacks of a while loop share: the predicate's sub-program (subs[0]) and the
 * body's (subs[1]), both on (carry..., counter), and the counter's limit (a value of the
 * enclosing trace, which the predicate closes over). */
typedef struct fz_wcb {
    fz_cb cb;
    jx_val limit;
    int nc; /* carries besides the counter */
} fz_wcb;

/* cond_fn of a while loop: counter < limit and the predicate sub-program's bool[]. */
static void fz_while_cond_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    fz_wcb *w = user;
    jx_val cap[FZ_SUB_MAX];
    fz_sub *s = &w->cb.subs[0];
    for (int c = 0; c < s->n_cap; c++) cap[c] = s->cap[c].v;
    if (fz_sub_gen(w->cb.g, s, t, in, cap, out, w->cb.g->p) < 0) w->cb.rc = -1;
    out[0] = jx_and(jx_lt(in[w->nc], w->limit), out[0]);
}

/* body_fn of a while loop: the body sub-program's carries, and the counter plus one. */
static void fz_while_body_cb(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    fz_wcb *w = user;
    jx_val cap[FZ_SUB_MAX];
    fz_sub *s = &w->cb.subs[1];
    for (int c = 0; c < s->n_cap; c++) cap[c] = s->cap[c].v;
    if (fz_sub_gen(w->cb.g, s, t, in, cap, out, w->cb.g->p) < 0) w->cb.rc = -1;
    out[w->nc] = jx_add(in[w->nc], jx_scalar(t, JX_I32, 1));
}

/* Index into the pool of an i32[] value in [lo, hi]: data (fz_index_data) clamped, or a
 * constant (then *isc = 1). -1 on failure. */
static int fz_bound(fz_gen *g, int64_t lo, int64_t hi, int *isc) {
    int k = fz_chance(g, 0.5) ? fz_index_data(g, hi) : -1;
    fz_val o;
    memset(&o, 0, sizeof o);
    *isc = k < 0;
    if (k < 0) {
        if (g->p->error[0]) return -1;
        o.lo = o.hi = (double)(lo + fz_below(g, hi - lo + 1)), o.isconst = 1;
        o.v = jx_scalar(g->t, JX_I32, o.lo);
        return fz_push(g, o, FZ_CONST) ? g->n - 1 : -1;
    }
    o.lo = (double)lo, o.hi = (double)hi;
    jx_val a = jx_scalar(g->t, JX_I32, (double)lo), b = jx_scalar(g->t, JX_I32, (double)hi);
    o.v = jx_min(jx_max(g->vals[k].v, a), b);
    return fz_push(g, o, FZ_IBINARY) ? g->n - 1 : -1;
}

/* 1-2 carries from the pool (carry descriptions into in[] and C[], values into init[]);
 * 0 if the pool is empty. */
static int fz_carries(fz_gen *g, int nc, fz_val *in, fz_val *C, jx_val *init) {
    for (int c = 0; c < nc; c++) {
        int i = fz_pick(g, fz_chance(g, 0.7) ? fz_ok_float : NULL);
        if (i < 0) i = fz_pick(g, NULL);
        if (i < 0) return 0;
        in[c] = C[c] = g->vals[i], init[c] = in[c].v;
    }
    return 1;
}

/* while_loop over 1-2 pool values and an i32 counter (from 0 or 1), while counter < limit
 * (a constant or data clamped to [-1, 5]) and a predicate sub-program of the carry
 * holds; the body sub-program updates the carries, the counter goes up by one. The
 * results are the union of the carries after 0..max trips (fz_chain). */
static int fz_step_while(fz_gen *g) {
    int nc = 1 + (int)fz_below(g, 2), isc;
    fz_val in[FZ_SUB_MAX], C[FZ_SUB_MAX], U[FZ_SUB_MAX];
    jx_val init[FZ_SUB_MAX], res[FZ_SUB_MAX];
    if (!fz_carries(g, nc, in, C, init)) return 0;
    int64_t c0 = fz_below(g, 2);
    int lk = fz_bound(g, -1, 5, &isc);
    if (lk < 0) return 0;
    memset(&in[nc], 0, sizeof in[nc]);
    in[nc].t = (jx_type){JX_I32, 0, {0}}, in[nc].lo = (double)c0, in[nc].hi = 5;
    init[nc] = jx_scalar(g->t, JX_I32, (double)c0);
    fz_sub subs[2];
    fz_sub_init(g, &subs[1], nc + 1, in);
    subs[1].n_fixed = nc;
    for (int c = 0; c < nc; c++) subs[1].fixed[c] = in[c].t;
    subs[0] = subs[1];
    subs[0].seed = fz_next(g), subs[0].n_steps = 1 + (int)fz_below(g, 4);
    subs[0].n_fixed = 1, subs[0].fixed[0] = (jx_type){JX_BOOL, 0, {0}};
    uint64_t sig = 0, psig = 0;
    int ok = fz_chain(g, &subs[1], 0, nc, 5 - c0, C, NULL, 1, &sig, &subs[0], &psig);
    if (ok <= 0) {
        g->p->feats[FZF_GIVEUP] += ok == 0;
        return 0;
    }
    for (int c = 0; c < nc; c++) subs[0].in[c] = subs[1].in[c] = in[c], U[c] = C[c];
    fz_wcb w = {{g, subs, 2, 0, 0, 0}, g->vals[lk].v, nc};
    jx_while_loop(fz_while_cond_cb, fz_while_body_cb, &w, nc + 1, init, res);
    if (g->p->error[0] || w.cb.rc < 0) return 0;
    if (subs[1].sig != sig || subs[0].sig != psig) {
        snprintf(g->p->error, sizeof g->p->error, "generator: a while loop's real run took other "
                 "steps than its dry run");
        return 0;
    }
    U[nc] = in[nc];
    g->p->feats[FZF_CAPTURE] += subs[1].n_cap > 0;
    g->p->feats[FZF_DATA_BOUND] += !isc;
    return fz_push_union(g, nc + 1, res, U, 1, nc + 1, FZ_WHILE);
}

/* fori_loop over 1-2 pool values with bounds lower in [-2, 2] and upper in [-2, 6]
 * (constants: a scan of upper - lower steps; data: a while loop); the body sub-program
 * takes (i, carry...). Results: the carries after the constant trip count, or the union
 * over 0..8 trips. */
static int fz_step_fori(fz_gen *g) {
    int nc = 1 + (int)fz_below(g, 2), lc, uc;
    fz_val in[FZ_SUB_MAX], C[FZ_SUB_MAX];
    jx_val init[FZ_SUB_MAX], res[FZ_SUB_MAX];
    if (!fz_carries(g, nc, in + 1, C, init)) return 0;
    int lk = fz_bound(g, -2, 2, &lc), uk = lk < 0 ? -1 : fz_bound(g, -2, 6, &uc);
    if (uk < 0) return 0;
    fz_val lo = g->vals[lk], hi = g->vals[uk];
    memset(&in[0], 0, sizeof in[0]);
    in[0].t = (jx_type){JX_I32, 0, {0}}, in[0].lo = lo.lo, in[0].hi = fmax(lo.lo, hi.hi - 1);
    fz_sub s;
    fz_sub_init(g, &s, nc + 1, in);
    s.n_fixed = nc;
    for (int c = 0; c < nc; c++) s.fixed[c] = in[1 + c].t;
    int exact = lc && uc;
    int64_t trips = exact ? (int64_t)fmax(hi.lo - lo.lo, 0) : (int64_t)fmax(hi.hi - lo.lo, 0);
    uint64_t sig = 0;
    int ok = fz_chain(g, &s, 1, nc, trips, C, NULL, !exact, &sig, NULL, NULL);
    if (ok <= 0) {
        g->p->feats[FZF_GIVEUP] += ok == 0;
        return 0;
    }
    for (int c = 0; c < nc; c++) s.in[1 + c] = in[1 + c];
    fz_cb cb = {g, &s, 1, 0, 0, 0};
    jx_fori_loop(lo.v, hi.v, fz_sub_cb, &cb, nc, init, res);
    if (g->p->error[0] || cb.rc < 0) return 0;
    if (s.sig != sig) {
        snprintf(g->p->error, sizeof g->p->error, "generator: a fori_loop body's real run took "
                 "other steps than its dry run");
        return 0;
    }
    g->p->feats[FZF_CAPTURE] += s.n_cap > 0;
    g->p->feats[FZF_DATA_BOUND] += !exact;
    return fz_push_union(g, nc, res, C, 1, nc, FZ_FORI);
}
#endif

/* Takes one control-flow step of the given kind; 1 if a value was added. */
static int fz_step_ctl(fz_gen *g, int kind) {
    int ok = 0;
    switch (kind) {
    case FZ_COND: ok = fz_step_cond(g); break;
    case FZ_SCAN: ok = fz_step_scan(g); break;
    case FZ_CHECKPOINT: ok = fz_step_checkpoint(g); break;
    case FZ_DYNSLICE: ok = fz_step_dynslice(g); break;
    case FZ_DUS: ok = fz_step_dus(g); break;
#if FZ_HAVE_WHILE
    case FZ_WHILE: ok = fz_step_while(g); break;
    case FZ_FORI: ok = fz_step_fori(g); break;
#endif
    default: ok = 0; break;
    }
    if (ok && g->depth > 0 && kind != FZ_DYNSLICE && kind != FZ_DUS) g->p->feats[FZF_NESTED]++;
    return ok;
}

#endif
