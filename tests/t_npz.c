/* .npz archives (src/lib/npz_read.c, npz_write.c): round trips of every dtype (rank 0 and
 * empty arrays included) stored and deflated, names, argument errors, the temp-and-rename
 * save, malformed archives (not a zip, truncated, bad CRC, member not .npy, duplicate
 * members, a zip bomb over the load limit), and numpy interoperability both ways
 * (np.savez / np.savez_compressed read by jx; jx's files read by np.load with
 * allow_pickle=False). numpy is required for the last, as in t_npy.c (python3-numpy,
 * installed by tools/deps). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "jx.h"

#include "npy_util.h"

/* A fresh directory /tmp/jx_t_npz_<pid>_<tag>/ in buf (removed by rm_dir). */
static void tmp_dir(char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "/tmp/jx_t_npz_%ld_%s", (long)getpid(), tag);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    if (system(cmd) != 0) printf("  cannot create %s\n", buf);
}

/* Removes directory d and its contents. */
static void rm_dir(const char *d) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) printf("  cannot remove %s\n", d);
}

/* The number of entries of directory d (without . and ..). */
static int dir_count(const char *d) {
    DIR *dp = opendir(d);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (dp) closedir(dp);
    return n;
}

/* Reads the whole file p (malloc'd; *len its size), NULL if it cannot. */
static unsigned char *slurp(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

/* Writes b[0..len) to file p; 0 or -1. */
static int spit(const char *p, const void *b, size_t len) {
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* 1 if a and b have the same dtype, shape and bytes. */
static int same_array(const jx_array *a, const jx_array *b) {
    if (!a || !b || jx_array_dtype(a) != jx_array_dtype(b) || jx_array_rank(a) != jx_array_rank(b))
        return 0;
    for (int k = 0; k < jx_array_rank(a); k++)
        if (jx_array_dim(a, k) != jx_array_dim(b, k)) return 0;
    size_t n = jx_array_nbytes(a);
    return n == jx_array_nbytes(b) && (!n || !memcmp(jx_array_cdata(a), jx_array_cdata(b), n));
}

/* A set of test arrays: every dtype at ranks 0 to 3, and empty ones. */
#define NSET 12
typedef struct set {
    const char *names[NSET];
    jx_array *a[NSET];
} set;

/* Fills s with arrays of varied values (NaN, inf, negative zero, extremes included). */
static void make_set(set *s) {
    static const int64_t s0[1] = {0}, s23[2] = {2, 3}, s234[3] = {2, 3, 4}, s03[2] = {0, 3},
                         s7[1] = {7}, s20[2] = {2, 0};
    static const char *const names[NSET] = {
        "f32_scalar", "f64_2x3", "i32_234", "u32_7", "bool_2x3", "f32_empty", "layers/0/w",
        "layers/0/b", "f64_empty20", "i32_scalar", "u32_2x3", "\xce\xb1/beta"};
    const jx_dtype dt[NSET] = {JX_F32, JX_F64, JX_I32, JX_U32, JX_BOOL, JX_F32,
                               JX_F32, JX_F64, JX_F64, JX_I32, JX_U32, JX_BOOL};
    const int rk[NSET] = {0, 2, 3, 1, 2, 2, 2, 1, 2, 0, 2, 1};
    const int64_t *sh[NSET] = {s0, s23, s234, s7, s23, s03, s23, s7, s20, s0, s23, s7};
    for (int i = 0; i < NSET; i++) {
        s->names[i] = names[i];
        s->a[i] = jx_array_new(dt[i], rk[i], sh[i]);
        int64_t n = jx_array_size(s->a[i]);
        for (int64_t k = 0; k < n; k++)
            jx_array_set(s->a[i], k, (double)((k * 7919 + i * 31) % 23) - 11.5);
    }
    float *f = jx_array_data(s->a[6]);
    f[0] = 0.0f / 0.0f;
    f[1] = -0.0f;
    f[2] = 1.0f / 0.0f;
    f[3] = 3.4e38f;
    int32_t *q = jx_array_data(s->a[2]);
    q[0] = INT32_MIN;
    q[1] = INT32_MAX;
    uint32_t *u = jx_array_data(s->a[3]);
    u[0] = UINT32_MAX;
}

/* Frees the arrays of s. */
static void free_set(set *s) {
    for (int i = 0; i < NSET; i++) jx_array_free(s->a[i]);
}

/* Checks that z holds exactly the arrays of s, in order. */
static void check_set(const jx_tree *z, const set *s) {
    CHECK(z && z->n == NSET);
    for (int i = 0; z && i < z->n && i < NSET; i++) {
        CHECK(!strcmp(z->paths[i], s->names[i]));
        if (!same_array(z->leaves[i], s->a[i])) CHECK_FAIL_("member %s differs", s->names[i]);
        CHECK(jx_tree_get(z, s->names[i]) == z->leaves[i]);
    }
}

TEST(npz_round_trip_every_dtype) {
    char d[256], p[512];
    tmp_dir(d, sizeof d, "rt");
    set s;
    make_set(&s);
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/rt%d.npz", d, c);
        CHECK(jx_npz_save(p, NSET, s.names, s.a, c ? JX_NPZ_COMPRESSED : JX_NPZ_STORED) == 0);
        jx_tree *z = jx_tree_load(p);
        if (!z) CHECK_FAIL_("load: %s", jx_error());
        check_set(z, &s);
        jx_tree_free(z);
        for (int i = 0; i < NSET; i++) {
            jx_array *a = jx_npz_load_one(p, s.names[i]);
            if (!same_array(a, s.a[i])) CHECK_FAIL_("load_one %s: %s", s.names[i], jx_error());
            jx_array_free(a);
        }
        /* The same bytes from memory. */
        size_t len = 0;
        unsigned char *img = slurp(p, &len);
        z = img ? jx_tree_parse(img, len) : NULL;
        check_set(z, &s);
        jx_tree_free(z);
        free(img);
    }
    /* Compressed is smaller for these (repetitive) arrays: the flag is honoured. */
    size_t l0 = 0, l1 = 0;
    snprintf(p, sizeof p, "%s/rt0.npz", d);
    free(slurp(p, &l0));
    snprintf(p, sizeof p, "%s/rt1.npz", d);
    free(slurp(p, &l1));
    CHECK(l1 < l0);
    /* Only the two archives are left in the directory: no temporary files. */
    CHECK(dir_count(d) == 2);
    free_set(&s);
    rm_dir(d);
}

TEST(npz_empty_archive_and_get) {
    char d[256], p[512];
    tmp_dir(d, sizeof d, "empty");
    snprintf(p, sizeof p, "%s/e.npz", d);
    CHECK(jx_npz_save(p, 0, NULL, NULL, JX_NPZ_STORED) == 0);
    jx_tree *z = jx_tree_load(p);
    CHECK(z && z->n == 0);
    CHECK(jx_tree_get(z, "x") == NULL);
    jx_tree_free(z);
    jx_tree_free(NULL);
    CHECK(dir_count(d) == 1);
    CHECK(jx_npz_load_one(p, "x") == NULL);
    CHECK_CONTAINS(jx_error(), "no member 'x.npy'");
    /* The empty archive's file gets the mode libzip gives the others (0666 less umask). */
    char p2[512];
    snprintf(p2, sizeof p2, "%s/one.npz", d);
    jx_array *a = jx_array_scalar(JX_I32, 3);
    const char *nm[1] = {"a"};
    CHECK(jx_npz_save(p2, 1, nm, &a, JX_NPZ_STORED) == 0);
    jx_array_free(a);
    struct stat s1, s2;
    CHECK(stat(p, &s1) == 0 && stat(p2, &s2) == 0 && s1.st_mode == s2.st_mode);
    rm_dir(d);
}

TEST(npz_argument_errors_keep_the_old_file) {
    char d[256], p[512];
    tmp_dir(d, sizeof d, "args");
    snprintf(p, sizeof p, "%s/keep.npz", d);
    CHECK(spit(p, "old contents", 12) == 0);
    jx_array *a = jx_array_scalar(JX_F32, 1.5);
    jx_array *arr2[2] = {a, a};
    const char *dup[2] = {"w", "w"}, *empty[1] = {""}, *null_name[1] = {NULL};
    const char *bad_utf8[1] = {"w\xff"}, *ok[1] = {"w"};
    jx_array *null_arr[1] = {NULL};
    CHECK(jx_npz_save(p, 2, dup, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "duplicate name 'w'");
    CHECK(jx_npz_save(p, 1, empty, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "names[0] is empty");
    CHECK(jx_npz_save(p, 1, null_name, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "names[0] is NULL");
    CHECK(jx_npz_save(p, 1, bad_utf8, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "not valid UTF-8");
    CHECK(jx_npz_save(p, 1, ok, null_arr, 0) == -1);
    CHECK_CONTAINS(jx_error(), "arrays[0] ('w') is NULL");
    CHECK(jx_npz_save(p, 1, NULL, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "NULL names");
    CHECK(jx_npz_save(p, 1, ok, arr2, 4) == -1);
    CHECK_CONTAINS(jx_error(), "unknown flags");
    CHECK(jx_npz_save(NULL, 1, ok, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "jx_npz_save: NULL path");
    CHECK(jx_npz_save("/nonexistent_jx_dir/x.npz", 1, ok, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), "jx_npz_save: /nonexistent_jx_dir/x.npz");
    /* A directory as the target: the save fails and the directory is untouched. */
    CHECK(jx_npz_save(d, 1, ok, arr2, 0) == -1);
    CHECK_CONTAINS(jx_error(), d);
    size_t len = 0;
    unsigned char *b = slurp(p, &len);
    CHECK(b && len == 12 && !memcmp(b, "old contents", 12));
    free(b);
    CHECK(dir_count(d) == 1);
    /* Loading: NULL arguments and missing files. */
    CHECK(jx_tree_load(NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "jx_tree_load: NULL path");
    CHECK(jx_tree_parse(NULL, 3) == NULL);
    CHECK_CONTAINS(jx_error(), "NULL buffer");
    CHECK(jx_npz_load_one(p, NULL) == NULL);
    CHECK_CONTAINS(jx_error(), "NULL name");
    CHECK(jx_npz_load_one(p, "") == NULL);
    CHECK_CONTAINS(jx_error(), "empty name");
    CHECK(jx_npz_load_one(NULL, "w") == NULL);
    CHECK_CONTAINS(jx_error(), "NULL path");
    snprintf(p, sizeof p, "%s/missing.npz", d);
    CHECK(jx_tree_load(p) == NULL);
    CHECK_CONTAINS(jx_error(), p);
    /* Saving over an existing archive replaces it. */
    CHECK(jx_npz_save(p, 1, ok, arr2, 0) == 0);
    CHECK(jx_npz_save(p, 1, ok, arr2, JX_NPZ_COMPRESSED) == 0);
    jx_array *r = jx_npz_load_one(p, "w");
    CHECK(same_array(r, a));
    jx_array_free(r);
    CHECK(dir_count(d) == 2);
    jx_array_free(a);
    rm_dir(d);
}

#include "t_npz_bad.h"
#include "t_npz_numpy.h"

TEST_MAIN()
