/* Parameter trees on the host (src/lib/tree.c): building, finding, path rules, who owns
 * what, a save/load round trip through .npz keeping order, and a tree's leaves passed
 * straight to an executable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jx.h"

TEST(add_find_get_in_order) {
    jx_tree *t = jx_tree_new();
    CHECK(t && t->n == 0);
    char path[32];
    for (int i = 0; i < 1000; i++) { /* past several growths */
        snprintf(path, sizeof path, "layers/%d/%s", i / 2, i % 2 ? "b" : "w");
        jx_array *a = jx_array_scalar(JX_F32, i);
        CHECK(jx_tree_add(t, path, a) == 0);
        jx_array_free(a); /* the tree holds its own reference */
    }
    CHECK(t->n == 1000);
    CHECK(jx_tree_find(t, "layers/0/w") == 0 && jx_tree_find(t, "layers/499/b") == 999);
    CHECK(jx_tree_find(t, "layers/500/w") == -1 && jx_tree_find(t, NULL) == -1);
    jx_array *b = jx_tree_get(t, "layers/7/b");
    CHECK(b && jx_array_get(b, 0) == 15);
    CHECK(!strcmp(t->paths[42], "layers/21/w") && jx_array_get(t->leaves[42], 0) == 42);
    CHECK(jx_tree_get(t, "nope") == NULL && jx_tree_get(NULL, "x") == NULL);
    jx_tree_free(t);
    jx_tree_free(NULL);
}

TEST(path_rules_and_nulls) {
    jx_tree *t = jx_tree_new();
    jx_array *a = jx_array_scalar(JX_F64, 1);
    CHECK(jx_tree_add(t, "w", a) == 0);
    CHECK(jx_tree_add(t, "w", a) == -1);
    CHECK_CONTAINS(jx_error(), "jx_tree_add: 'w' is already a leaf of the tree");
    CHECK(jx_tree_add(t, "", a) == -1);
    CHECK_CONTAINS(jx_error(), "jx_tree_add: path is empty");
    CHECK(jx_tree_add(t, NULL, a) == -1);
    CHECK_CONTAINS(jx_error(), "jx_tree_add: path is NULL");
    CHECK(jx_tree_add(t, "bad\xff", a) == -1);
    CHECK_CONTAINS(jx_error(), "not valid UTF-8");
    CHECK(jx_tree_add(t, "x", NULL) == -1);
    CHECK_CONTAINS(jx_error(), "'x': NULL leaf");
    CHECK(jx_tree_add(NULL, "x", a) == -1);
    CHECK_CONTAINS(jx_error(), "NULL tree");
    CHECK(t->n == 1); /* failed adds leave the tree as it was */
    CHECK(jx_tree_save(NULL, "/tmp/x.npz", JX_NPZ_STORED) == -1);
    jx_array_free(a);
    jx_tree_free(t);
}

TEST(save_load_round_trip_keeps_order) {
    jx_tree *t = jx_tree_new();
    const char *paths[3] = {"z/last_name_first", "a/w", "m"};
    for (int i = 0; i < 3; i++) {
        jx_array *a = jx_array_new(JX_F32, 2, (int64_t[]){2, 3});
        for (int k = 0; k < 6; k++) ((float *)jx_array_data(a))[k] = (float)(10 * i + k);
        CHECK(jx_tree_add(t, paths[i], a) == 0);
        jx_array_free(a);
    }
    char file[] = "/tmp/jx_tree_XXXXXX";
    int fd = mkstemp(file);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(jx_tree_save(t, file, JX_NPZ_COMPRESSED) == 0);
    jx_tree *u = jx_tree_load(file);
    CHECK(u && u->n == 3);
    for (int i = 0; u && i < 3; i++) {
        CHECK(!strcmp(u->paths[i], paths[i]));
        CHECK(jx_array_nbytes(u->leaves[i]) == jx_array_nbytes(t->leaves[i]) &&
              !memcmp(jx_array_cdata(u->leaves[i]), jx_array_cdata(t->leaves[i]),
                      jx_array_nbytes(t->leaves[i])));
    }
    /* a loaded tree grows like a new one */
    jx_array *s = jx_array_scalar(JX_I32, 7);
    CHECK(u && jx_tree_add(u, "extra", s) == 0 && u->n == 4 && jx_tree_find(u, "extra") == 3);
    jx_array_free(s);
    unlink(file);
    jx_tree_free(u);
    jx_tree_free(t);
}

/* jx_tree_copy: new arrays with the same bytes, the same paths in the same order; writing
 * the copy's leaves in place (as donation does) leaves the original as it was. */
TEST(copy_is_deep) {
    jx_tree *t = jx_tree_new();
    const char *paths[3] = {"layers/1/w", "layers/0/b", "step"};
    jx_array *w = jx_array_new(JX_F32, 2, (int64_t[]){2, 3});
    for (int k = 0; k < 6; k++) ((float *)jx_array_data(w))[k] = (float)k + 0.5f;
    jx_array *b = jx_array_new(JX_F64, 1, (int64_t[]){4});
    for (int k = 0; k < 4; k++) ((double *)jx_array_data(b))[k] = -k;
    jx_array *s = jx_array_scalar(JX_I32, 7);
    CHECK(jx_tree_add(t, paths[0], w) == 0 && jx_tree_add(t, paths[1], b) == 0 &&
          jx_tree_add(t, paths[2], s) == 0);
    jx_array_free(w), jx_array_free(b), jx_array_free(s);
    jx_tree *c = jx_tree_copy(t);
    CHECK(c && c->n == 3);
    for (int i = 0; c && i < 3; i++) {
        CHECK(!strcmp(c->paths[i], paths[i]) && c->paths[i] != t->paths[i]);
        CHECK(c->leaves[i] != t->leaves[i]);
        jx_type a = jx_array_type(c->leaves[i]), o = jx_array_type(t->leaves[i]);
        char sa[64], so[64];
        CHECK(!strcmp(jx_type_str(&a, sa, sizeof sa), jx_type_str(&o, so, sizeof so)));
        CHECK(jx_array_nbytes(c->leaves[i]) == jx_array_nbytes(t->leaves[i]) &&
              !memcmp(jx_array_cdata(c->leaves[i]), jx_array_cdata(t->leaves[i]),
                      jx_array_nbytes(t->leaves[i])));
    }
    if (c) {
        ((float *)jx_array_data(c->leaves[0]))[1] = 99.0f; /* the copy written in place */
        CHECK(jx_array_get(t->leaves[0], 1) == 1.5);
        jx_array *x = jx_array_scalar(JX_F32, 1);
        CHECK(jx_tree_add(c, "extra", x) == 0 && c->n == 4 && t->n == 3); /* grows alone */
        jx_array_free(x);
    }
    jx_tree_free(c);
    jx_tree_free(t);
    jx_tree *e = jx_tree_new(), *ec = jx_tree_copy(e);
    CHECK(ec && ec->n == 0);
    jx_tree_free(ec), jx_tree_free(e);
    CHECK(jx_tree_copy(NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_tree_copy: NULL tree");
    jx_clear_error();
}

/* f(w, b) = (w * 2, b + 1): the tree's leaves are the inputs and receive the outputs. */
static void step(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    out[0] = jx_mul(in[0], jx_lit(in[0], 2));
    out[1] = jx_add(in[1], jx_lit(in[1], 1));
}

TEST(leaves_run_through_an_executable) {
    jx_tree *t = jx_tree_new();
    jx_array *w = jx_array_scalar(JX_F32, 3), *b = jx_array_scalar(JX_F32, 5);
    CHECK(jx_tree_add(t, "w", w) == 0 && jx_tree_add(t, "b", b) == 0);
    jx_array_free(w), jx_array_free(b);
    jx_type ty[2] = {JX_SCALAR(JX_F32), JX_SCALAR(JX_F32)};
    jx_fn *f = jx_trace(step, 2, ty, 2, NULL);
    jx_exe *e = f ? jx_jit(f, NULL) : NULL;
    CHECK(e != NULL);
    if (e) CHECK(jx_exe_run(e, t->leaves, t->leaves) == 0); /* written in place */
    CHECK(jx_array_get(jx_tree_get(t, "w"), 0) == 6 && jx_array_get(jx_tree_get(t, "b"), 0) == 6);
    jx_exe_free(e);
    jx_fn_free(f);
    jx_tree_free(t);
}

TEST(put_takes_the_reference_and_formats_the_path) {
    jx_tree *t = jx_tree_new();
    for (int l = 0; l < 3; l++) {
        CHECK(jx_tree_put(t, jx_array_scalar(JX_F32, 2 * l), "layers/%d/w", l) == 0);
        CHECK(jx_tree_put(t, jx_array_scalar(JX_F32, 2 * l + 1), "layers/%d/b", l) == 0);
    }
    CHECK(t->n == 6 && !strcmp(t->paths[3], "layers/1/b") && jx_array_get(t->leaves[3], 0) == 3);
    /* failures free the leaf (the sanitizer run checks it) and name the path */
    CHECK(jx_tree_put(t, jx_array_scalar(JX_F32, 9), "layers/%d/w", 1) == -1);
    CHECK_CONTAINS(jx_error(), "'layers/1/w' is already a leaf");
    jx_array *none = jx_array_new_type(&JX_TYPE(JX_F32, -1)); /* fails, setting jx_error */
    CHECK(none == NULL);
    CHECK(jx_tree_put(t, none, "extra/%s", "w") == -1);
    CHECK_CONTAINS(jx_error(), "jx_tree_put: 'extra/w': no leaf: ");
    CHECK(jx_tree_put(t, jx_array_scalar(JX_F32, 9), NULL) == -1);
    CHECK_CONTAINS(jx_error(), "NULL path format");
    char longp[600];
    memset(longp, 'a', sizeof longp - 1), longp[sizeof longp - 1] = 0;
    CHECK(jx_tree_put(t, jx_array_scalar(JX_F32, 9), "%s", longp) == -1);
    CHECK_CONTAINS(jx_error(), "longer than 511");
    CHECK(t->n == 6);
    jx_tree_free(t);
}

TEST(subtree_ranges) {
    jx_tree *t = jx_tree_new();
    const char *paths[] = {"layers/0/w", "layers/0/b", "layers/01/w", "layers/1/w", "head", "layers/1/b"};
    for (int i = 0; i < 6; i++) CHECK(jx_tree_put(t, jx_array_scalar(JX_F32, i), "%s", paths[i]) == 0);
    int first = -7;
    CHECK(jx_tree_subtree(t, "layers/0", &first) == 2 && first == 0); /* not layers/01 */
    CHECK(jx_tree_subtree(t, "layers/01", &first) == 1 && first == 2);
    CHECK(jx_tree_subtree(t, "head", &first) == 1 && first == 4);     /* a leaf is a subtree */
    CHECK(jx_tree_subtree(t, "layers/1", &first) == -1);
    CHECK_CONTAINS(jx_error(), "under 'layers/1' are not consecutive ('layers/1/w' is leaf 3, "
                               "'layers/1/b' leaf 5)");
    CHECK(jx_tree_subtree(t, "layers/2", &first) == -1);
    CHECK_CONTAINS(jx_error(), "no leaf of the tree (6 leaves) is under 'layers/2'");
    CHECK(jx_tree_subtree(t, "lay", &first) == -1);
    CHECK(jx_tree_subtree(NULL, "x", &first) == -1 && jx_tree_subtree(t, NULL, &first) == -1);
    CHECK(first == 4);
    jx_tree_free(t);
}

/* loss(layers/0/{w,b}, layers/1/{w,b}, x) = sum(tanh(x * w0 + b0) * w1 + b1). */
static void loss2(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_val h = jx_tanh(jx_add(jx_mul(in[4], in[0]), in[1]));
    out[0] = jx_sum_all(jx_add(jx_mul(h, in[2]), in[3]));
}

/* grad(loss) only on the second subtree of both: wrt per subtree through a layout. */
static void grad_sub(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const int *n0 = user;
    jx_call_grad(loss2, NULL, 5, JX_ARGS(*n0, 4 - *n0, 1), in, 1, 1, (int[]){1}, out);
}
static void grad_all(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t, (void)user;
    jx_call_grad(loss2, NULL, 5, JX_ARGS(4, 1), in, 1, 0, NULL, out);
}

TEST(subtree_is_a_layout_argument) {
    jx_tree *t = jx_tree_new();
    const char *paths[4] = {"layers/0/w", "layers/0/b", "layers/1/w", "layers/1/b"};
    for (int i = 0; i < 4; i++)
        CHECK(jx_tree_put(t, jx_array_scalar(JX_F64, 0.3 * (i + 1)), "%s", paths[i]) == 0);
    int first, n0 = jx_tree_subtree(t, "layers/0", &first);
    CHECK(n0 == 2 && first == 0);
    jx_type ty[5];
    for (int i = 0; i < 5; i++) ty[i] = JX_SCALAR(JX_F64);
    jx_fn *fs = jx_trace(grad_sub, 5, ty, 2, &n0), *fa = jx_trace(grad_all, 5, ty, 4, NULL);
    CHECK(fs && fa);
    jx_array *in[5], *gs[2] = {0}, *ga[4] = {0};
    for (int i = 0; i < 4; i++) in[i] = t->leaves[i];
    in[4] = jx_array_scalar(JX_F64, 0.7);
    if (fs && fa) CHECK(jx_interp(fs, in, gs) == 0 && jx_interp(fa, in, ga) == 0);
    for (int i = 0; i < 2; i++)
        if (gs[i] && ga[2 + i]) CHECK(jx_array_get(gs[i], 0) == jx_array_get(ga[2 + i], 0));
    if (gs[1]) CHECK(jx_array_get(gs[1], 0) == 1); /* d/d b1 */
    for (int i = 0; i < 2; i++) jx_array_free(gs[i]);
    for (int i = 0; i < 4; i++) jx_array_free(ga[i]);
    jx_array_free(in[4]);
    jx_fn_free(fs), jx_fn_free(fa);
    jx_tree_free(t);
}

TEST(assign_writes_into_the_leaves) {
    jx_tree *a = jx_tree_new(), *b = jx_tree_new();
    CHECK(jx_tree_put(a, jx_array_scalar(JX_F32, 1), "w") == 0 &&
          jx_tree_put(a, jx_array_scalar(JX_F64, 2), "b") == 0);
    CHECK(jx_tree_put(b, jx_array_scalar(JX_F32, 5), "w") == 0 &&
          jx_tree_put(b, jx_array_scalar(JX_F64, 6), "b") == 0);
    jx_array *w = a->leaves[0];
    CHECK(jx_tree_assign(a, b) == 0);
    CHECK(a->leaves[0] == w && jx_array_get(w, 0) == 5 && jx_array_get(a->leaves[1], 0) == 6);
    CHECK(jx_tree_assign(a, a) == 0 && jx_array_get(w, 0) == 5); /* onto itself */
    jx_tree *c = jx_tree_new(), *d = jx_tree_new(), *e = jx_tree_new();
    CHECK(jx_tree_put(c, jx_array_scalar(JX_F32, 7), "w") == 0 &&
          jx_tree_put(c, jx_array_scalar(JX_F32, 8), "b") == 0); /* b has another dtype */
    CHECK(jx_tree_assign(a, c) == -1);
    CHECK_CONTAINS(jx_error(), "jx_tree_assign: 'b' is f32[] in the source, f64[] in the destination");
    CHECK(jx_array_get(w, 0) == 5); /* nothing written */
    CHECK(jx_tree_put(d, jx_array_scalar(JX_F32, 7), "v") == 0 &&
          jx_tree_put(d, jx_array_scalar(JX_F64, 8), "b") == 0);
    CHECK(jx_tree_assign(a, d) == -1);
    CHECK_CONTAINS(jx_error(), "leaf 0 is 'v' in the source, 'w' in the destination");
    CHECK(jx_tree_assign(a, e) == -1);
    CHECK_CONTAINS(jx_error(), "the source has 0 leaves, the destination 2");
    CHECK(jx_tree_assign(NULL, e) == -1 && jx_tree_assign(a, NULL) == -1);
    jx_tree_free(a), jx_tree_free(b), jx_tree_free(c), jx_tree_free(d), jx_tree_free(e);
}

/* y = sum(w * x + b) with w, b looked up by path in the tree given as user. */
static void by_path(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    const jx_tree *p = user;
    jx_val w = jx_tree_val(p, in, "layer/%d/w", 0), b = jx_tree_val(p, in, "layer/%d/b", 0);
    out[0] = jx_sum_all(jx_add(jx_mul(w, in[p->n]), b));
}
static int missing_line;
static void by_bad_path(jx_trace *t, const jx_val *in, jx_val *out, void *user) {
    (void)t;
    missing_line = __LINE__ + 1;
    jx_val w = jx_tree_val((const jx_tree *)user, in, "layer/%d/w", 7);
    CHECK(jx_val_bad(w));
    out[0] = jx_sum_all(w);
}

TEST(leaf_values_by_path_inside_a_trace) {
    jx_tree *p = jx_tree_new();
    CHECK(jx_tree_put(p, jx_array_scalar(JX_F64, 1), "layer/0/b") == 0); /* b before w */
    CHECK(jx_tree_put(p, jx_array_scalar(JX_F64, 3), "layer/0/w") == 0);
    jx_type ty[3] = {JX_SCALAR(JX_F64), JX_SCALAR(JX_F64), JX_SCALAR(JX_F64)};
    jx_fn *f = jx_trace(by_path, 3, ty, 1, p);
    CHECK(f != NULL);
    jx_array *in[3] = {p->leaves[0], p->leaves[1], jx_array_scalar(JX_F64, 5)}, *out = NULL;
    if (f) CHECK(jx_interp(f, in, &out) == 0);
    if (out) CHECK(jx_array_get(out, 0) == 3 * 5 + 1);
    jx_array_free(out), jx_array_free(in[2]), jx_fn_free(f);
    CHECK(jx_trace(by_bad_path, 3, ty, 1, p) == NULL);
    char want[64];
    snprintf(want, sizeof want, "t_tree.c:%d", missing_line);
    CHECK_CONTAINS(jx_error(), want);
    CHECK_CONTAINS(jx_error(), "tree_val: no leaf 'layer/7/w' in the tree of 2 leaves");
    CHECK(jx_trace(by_bad_path, 3, ty, 1, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "tree_val: NULL tree");
    jx_tree_free(p);
}

TEST_MAIN()
