/* Scan programs shared by the scan rule tests (t_scan_grad, t_scan_vmap), each with its
 * unrolled equivalent: an Elman RNN, a body holding a cond whose branch holds a scan,
 * and a body holding a scan. Include after check.h. */
#ifndef JX_SCAN_MODELS_H
#define JX_SCAN_MODELS_H

enum { L = 5, H = 3, X = 2 };

/* The Elman cell: carry (h, W, U, b), x -> h' = tanh(W h + U x + b), y = h'. */
static inline void cell(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_add(jx_matvec(in[1], in[0]), jx_matvec(in[2], in[4])), in[3]));
    out[0] = h, out[1] = in[1], out[2] = in[2], out[3] = in[3], out[4] = h;
}

/* A loss on the final h and on the ys: sum(h_L^2) + sum(sin(ys)). */
static inline jx_val rnn_loss(jx_val hL, jx_val ys) {
    return jx_add(jx_sum_all(jx_mul(hL, hL)), jx_sum_all(jx_sin(ys)));
}

/* (W, U, b, h0, xs[L,X]) -> loss, by scan; user: &reverse. */
static inline void rnn_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val init[4] = {in[3], in[0], in[1], in[2]}, c[4], ys;
    jx_scan(cell, NULL, 4, init, 1, in + 4, -1, *(const int *)user, 1, c, &ys);
    out[0] = rnn_loss(c[0], ys);
}

/* Row i of xs (rank 2) as a vector. */
static inline jx_val row(jx_val xs, int i) {
    jx_type ty = jx_val_type(xs);
    return jx_reshape(jx_slice(xs, JX_INTS(i, 0), JX_INTS(i + 1, ty.shape[1]), JX_INTS(1, 1)),
                      JX_INTS(ty.shape[1]));
}

/* rnn_scan unrolled by hand. */
static inline void rnn_unrolled(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    int reverse = *(const int *)user;
    jx_val c[4] = {in[3], in[0], in[1], in[2]}, ys[L];
    for (int s = 0; s < L; s++) {
        int i = reverse ? L - 1 - s : s;
        jx_val a[5] = {c[0], c[1], c[2], c[3], row(in[4], i)}, o[5];
        cell(t, a, o, NULL);
        for (int k = 0; k < 4; k++) c[k] = o[k];
        ys[i] = jx_reshape(o[4], JX_INTS(1, H));
    }
    out[0] = rnn_loss(c[0], jx_concatenate(L, ys, 0));
}

static inline void rnn_types(jx_dtype dt, jx_type *ty) {
    ty[0] = (jx_type){dt, 2, {H, H}}, ty[1] = (jx_type){dt, 2, {H, X}};
    ty[2] = (jx_type){dt, 1, {H}}, ty[3] = (jx_type){dt, 1, {H}};
    ty[4] = (jx_type){dt, 2, {L, X}};
}

/* A scan and a cond inside the body: (h, x) -> h' = cond(sum(x) > 0, inner scan of
 * tanh over x's entries (reversed), h * sum(x)). */
static inline void inner_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_tanh(jx_add(jx_mul(in[0], in[1]), in[1]));
    out[1] = jx_mul(out[0], out[0]);
}
static inline void br_scan(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val y;
    if (user) { /* unrolled, reversed */
        out[0] = in[0];
        for (int i = X - 1; i >= 0; i--) {
            jx_val a[2] = {out[0], jx_reshape(row(jx_reshape(in[1], JX_INTS(X, 1)), i),
                                              (jx_ints){0, {0}})}, o[2];
            inner_body(t, a, o, NULL);
            out[0] = o[0];
        }
        return;
    }
    jx_scan(inner_body, NULL, 1, in, 1, in + 1, -1, 1, 1, out, &y);
    (void)y;
}
static inline void br_mul(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], jx_sum_all(in[1]));
}
static inline void nested_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    jx_val p = jx_gt(jx_sum_all(in[1]), jx_lit(in[1], 0)), o;
    jx_cond(p, br_scan, br_mul, user, 2, in, 1, &o);
    out[0] = o, out[1] = jx_mul(o, o);
}
/* The inner scan straight in the body, no cond: (h, x) -> (h', h' sin(h')). */
static inline void direct_body(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    jx_val o;
    br_scan(t, in, &o, user);
    out[0] = o, out[1] = jx_mul(o, jx_sin(o));
}
/* (h0:f64[], xs[L,X]) -> h_L + sum(ys) by a scan of body; unrolled: user set. */
static inline void nested_with(jx_trace *t, const jx_val *in, jx_val *out, void *user,
                               jx_trace_cb body) {
    jx_val c = in[0], ys;
    if (user) {
        jx_val yl[L];
        for (int i = 0; i < L; i++) {
            jx_val a[2] = {c, row(in[1], i)}, o[2];
            body(t, a, o, user);
            c = o[0], yl[i] = jx_reshape(o[1], JX_INTS(1));
        }
        ys = jx_concatenate(L, yl, 0);
    } else {
        jx_scan(body, NULL, 1, in, 1, in + 1, -1, 0, 1, &c, &ys);
    }
    out[0] = jx_add(c, jx_sum_all(ys));
}
/* A cond holding a scan in the body; user: unroll both scans. */
static inline void nested(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    nested_with(t, in, out, user, nested_body);
}
/* A scan in the body's scan; user: unroll both. */
static inline void nested_direct(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    nested_with(t, in, out, user, direct_body);
}
#endif
