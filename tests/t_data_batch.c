/* Minibatches (src/lib/data/batch.c): epoch coverage, drop/pad of the last batch, and their
 * errors. */
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "jx/data.h"


/* images [n,2,3] with image i filled with i, labels i32 [n] = i. */
static void make_data(int64_t n, jx_array **x, jx_array **y) {
    int64_t sx[3] = {n, 2, 3};
    *x = jx_array_new(JX_F32, 3, sx);
    *y = jx_array_new(JX_I32, 1, sx);
    for (int64_t i = 0; i < n * 6; i++) jx_array_set(*x, i, (double)(i / 6));
    for (int64_t i = 0; i < n; i++) jx_array_set(*y, i, (double)i);
}

TEST(batch_covers_epoch) {
    jx_array *x, *y;
    make_data(10, &x, &y);
    jx_batch_iter it;
    CHECK(jx_batch_iter_init(&it, x, y, 4, 0) == 0);
    CHECK(jx_batch_iter_count(&it) == 3);
    int64_t perm[10];
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        jx_shuffle(10, 5, epoch, perm);
        CHECK(jx_batch_iter_reset(&it, epoch == 2 ? NULL : perm) == 0);
        int seen[10] = {0}, nb = 0;
        jx_array *first_x = NULL;
        while (jx_batch_iter_next(&it)) {
            CHECK(it.index == nb);
            CHECK(it.start == 4 * nb);
            if (nb == 0) first_x = it.x;
            if (nb == 1) CHECK(it.x == first_x); /* the same buffer every batch */
            CHECK(it.size == (nb < 2 ? 4 : 2));
            CHECK(it.partial == (nb == 2));
            CHECK(jx_array_dim(it.x, 0) == it.size && jx_array_dim(it.y, 0) == it.size);
            CHECK(jx_array_dim(it.x, 1) == 2 && jx_array_dim(it.x, 2) == 3);
            for (int64_t k = 0; k < it.size; k++) {
                int32_t l = ((const int32_t *)jx_array_cdata(it.y))[k];
                CHECK(l >= 0 && l < 10);
                if (l < 0 || l >= 10) continue;
                seen[l]++;
                CHECK(l == (epoch == 2 ? it.start + k : perm[it.start + k]));
                for (int e = 0; e < 6; e++) CHECK(jx_array_get(it.x, k * 6 + e) == l);
            }
            nb++;
        }
        CHECK(nb == 3);
        for (int i = 0; i < 10; i++) CHECK(seen[i] == 1);
        CHECK(jx_batch_iter_next(&it) == 0); /* stays at the end */
    }
    jx_batch_iter_free(&it);
    jx_array_free(x);
    jx_array_free(y);
}

TEST(batch_drop_and_pad) {
    jx_array *x, *y;
    make_data(10, &x, &y);
    jx_batch_iter it;
    CHECK(jx_batch_iter_init(&it, x, y, 4, JX_BATCH_DROP_LAST) == 0);
    CHECK(jx_batch_iter_count(&it) == 2);
    jx_batch_iter_reset(&it, NULL);
    int nb = 0, total = 0;
    while (jx_batch_iter_next(&it)) {
        CHECK(!it.partial && it.size == 4);
        nb++;
        total += (int)it.size;
    }
    CHECK(nb == 2 && total == 8);
    jx_batch_iter_free(&it);

    CHECK(jx_batch_iter_init(&it, x, y, 4, JX_BATCH_PAD_LAST) == 0);
    CHECK(jx_batch_iter_count(&it) == 3);
    int64_t perm[10];
    jx_shuffle(10, 9, 0, perm);
    jx_batch_iter_reset(&it, perm);
    nb = 0;
    while (jx_batch_iter_next(&it)) {
        CHECK(jx_array_dim(it.x, 0) == 4 && jx_array_dim(it.y, 0) == 4);
        if (it.partial) {
            CHECK(it.size == 2);
            const int32_t *l = jx_array_cdata(it.y);
            CHECK(l[0] == perm[8] && l[1] == perm[9] && l[2] == -1 && l[3] == -1);
            for (int e = 12; e < 24; e++) CHECK(jx_array_get(it.x, e) == 0);
        }
        nb++;
    }
    CHECK(nb == 3);
    jx_batch_iter_free(&it);

    /* without labels; exact multiple; batch larger than N */
    CHECK(jx_batch_iter_init(&it, x, NULL, 5, 0) == 0);
    jx_batch_iter_reset(&it, NULL);
    nb = 0;
    while (jx_batch_iter_next(&it)) {
        CHECK(it.y == NULL && it.size == 5 && !it.partial);
        nb++;
    }
    CHECK(nb == 2);
    jx_batch_iter_free(&it);
    CHECK(jx_batch_iter_init(&it, x, y, 32, 0) == 0);
    CHECK(jx_batch_iter_next(&it) == 1 && it.partial && it.size == 10);
    CHECK(jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    CHECK(jx_batch_iter_init(&it, x, y, 32, JX_BATCH_DROP_LAST) == 0);
    CHECK(jx_batch_iter_count(&it) == 0 && jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    jx_array_free(x);
    jx_array_free(y);
}

TEST(batch_errors) {
    jx_array *x, *y, *x9, *y2, *x0, *y0;
    make_data(10, &x, &y);
    make_data(9, &x9, &y2);
    make_data(0, &x0, &y0);
    jx_batch_iter it;
    CHECK(jx_batch_iter_init(&it, x, y2, 4, 0) < 0);
    CHECK_CONTAINS(jx_error(), "labels have 9 rows, images 10");
    jx_batch_iter_free(&it);
    CHECK(jx_batch_iter_init(&it, x, y, 0, 0) < 0);
    CHECK_CONTAINS(jx_error(), "batch size 0");
    CHECK(jx_batch_iter_init(&it, NULL, y, 4, 0) < 0);
    CHECK(jx_batch_iter_init(&it, x, y, 4, 64) < 0);
    CHECK(jx_batch_iter_init(&it, x, y, 4, 0) == 0);
    int64_t perm[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10};
    CHECK(jx_batch_iter_reset(&it, perm) < 0);
    CHECK_CONTAINS(jx_error(), "perm[9] = 10 out of range 0..9");
    CHECK(jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    /* an empty dataset has no batches */
    CHECK(jx_batch_iter_init(&it, x0, y0, 4, 0) == 0);
    jx_batch_iter_reset(&it, NULL);
    CHECK(jx_batch_iter_count(&it) == 0 && jx_batch_iter_next(&it) == 0);
    jx_batch_iter_free(&it);
    jx_batch_iter_free(NULL);
    jx_array_free(x);
    jx_array_free(y);
    jx_array_free(x9);
    jx_array_free(y2);
    jx_array_free(x0);
    jx_array_free(y0);
}

TEST(batch_count_without_an_iterator) {
    CHECK(jx_batch_count(10, 4, 0) == 3 && jx_batch_count(10, 4, JX_BATCH_DROP_LAST) == 2);
    CHECK(jx_batch_count(12, 4, 0) == 3 && jx_batch_count(12, 4, JX_BATCH_DROP_LAST) == 3);
    CHECK(jx_batch_count(10, 4, JX_BATCH_PAD_LAST) == 3 && jx_batch_count(0, 4, 0) == 0);
    CHECK(jx_batch_count(3, 4, JX_BATCH_DROP_LAST) == 0 && jx_batch_count(3, 4, 0) == 1);
    CHECK(jx_batch_count(10, 0, 0) == 0 && jx_batch_count(-1, 4, 0) == 0);
    CHECK(jx_batch_count(60000, 128, 0) == 469 && jx_batch_count(60000, 128, JX_BATCH_DROP_LAST) == 468);
}

TEST_MAIN()
