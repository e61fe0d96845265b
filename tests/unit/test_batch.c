/* Unit tests for lib/batch: close rules, removal, clearing, growth and coalescing. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch.h"

static int dummy[64]; /* opaque message pointers */

START_TEST(test_empty_not_ready)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 3, 1000, 50), 0);
    ck_assert_int_eq(batch_ready(&b, 0), 0);
    ck_assert_int_eq(batch_ready(&b, 1000000), 0);
    ck_assert_int_eq(batch_time_left_ms(&b, 123), -1);
    ck_assert_uint_eq(b.count, 0);
    batch_free(&b);
}
END_TEST

START_TEST(test_ready_at_max_count)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 3, 1000000, 60000), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 0, 10, 5, 1000), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[1], 0, 11, 5, 1001), 0);
    ck_assert_int_eq(batch_ready(&b, 1002), 0);
    ck_assert_int_eq(batch_full(&b), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[2], 0, 12, 5, 1002), 0);
    ck_assert_int_eq(batch_ready(&b, 1002), 1);
    ck_assert_int_eq(batch_full(&b), 1);
    ck_assert_uint_eq(b.count, 3);
    ck_assert_uint_eq(b.bytes, 15);
    ck_assert_ptr_eq(b.items[2].msg, &dummy[2]);
    ck_assert_int_eq(b.items[1].offset, 11);
    batch_free(&b);
}
END_TEST

START_TEST(test_ready_at_max_bytes)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 100, 1000, 60000), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 0, 1, 600, 0), 0);
    ck_assert_int_eq(batch_ready(&b, 0), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[1], 0, 2, 399, 0), 0);
    ck_assert_uint_eq(b.bytes, 999);
    ck_assert_int_eq(batch_ready(&b, 0), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[2], 0, 3, 1, 0), 0);
    ck_assert_uint_eq(b.bytes, 1000);
    ck_assert_int_eq(batch_ready(&b, 0), 1);
    batch_free(&b);
}
END_TEST

START_TEST(test_single_oversized_item_ready)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 100, 1000, 60000), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 0, 1, 5000, 0), 0);
    ck_assert_int_eq(batch_ready(&b, 0), 1);
    batch_free(&b);
}
END_TEST

START_TEST(test_ready_at_max_wait)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 100, 1000000, 500), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 0, 1, 1, 10000), 0);
    /* Later items do not move the opening time. */
    ck_assert_int_eq(batch_add(&b, &dummy[1], 0, 2, 1, 10400), 0);
    ck_assert_int_eq(b.opened_ms, 10000);
    ck_assert_int_eq(batch_ready(&b, 10000), 0);
    ck_assert_int_eq(batch_ready(&b, 10499), 0);
    ck_assert_int_eq(batch_ready(&b, 10500), 1);
    ck_assert_int_eq(batch_ready(&b, 20000), 1);
    batch_free(&b);
}
END_TEST

START_TEST(test_time_left)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 100, 1000000, 500), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 0, 1, 1, 10000), 0);
    ck_assert_int_eq(batch_time_left_ms(&b, 10000), 500);
    ck_assert_int_eq(batch_time_left_ms(&b, 10123), 377);
    ck_assert_int_eq(batch_time_left_ms(&b, 10499), 1);
    ck_assert_int_eq(batch_time_left_ms(&b, 10500), 0);
    ck_assert_int_eq(batch_time_left_ms(&b, 99999), 0);
    batch_free(&b);
}
END_TEST

static int drop_partition_2(const struct batch_item *it, void *arg)
{
    int *released = arg;
    if (it->partition != 2)
        return 0;
    (*released)++;
    return 1;
}

START_TEST(test_remove_if_keeps_order_and_bytes)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 100, 1000000, 500), 0);
    static const int32_t part[] = {0, 2, 0, 1, 2, 0, 2};
    for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++)
        ck_assert_int_eq(batch_add(&b, &dummy[i], part[i], 100 + (int64_t)i, 10 + i, 1000), 0);
    int released = 0;
    ck_assert_uint_eq(batch_remove_if(&b, drop_partition_2, &released), 3);
    ck_assert_int_eq(released, 3);
    ck_assert_uint_eq(b.count, 4);
    ck_assert_uint_eq(b.bytes, 10 + 12 + 13 + 15);
    static const size_t kept[] = {0, 2, 3, 5};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_ptr_eq(b.items[i].msg, &dummy[kept[i]]);
        ck_assert_int_eq(b.items[i].offset, 100 + (int64_t)kept[i]);
    }
    ck_assert_int_eq(b.opened_ms, 1000); /* the batch keeps its clock */
    batch_free(&b);
}
END_TEST

START_TEST(test_remove_if_all_empties)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 4, 1000, 500), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 2, 5, 7, 1000), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[1], 2, 6, 7, 1001), 0);
    int released = 0;
    ck_assert_uint_eq(batch_remove_if(&b, drop_partition_2, &released), 2);
    ck_assert_uint_eq(b.count, 0);
    ck_assert_uint_eq(b.bytes, 0);
    ck_assert_int_eq(batch_time_left_ms(&b, 2000), -1);
    ck_assert_uint_eq(batch_remove_if(&b, drop_partition_2, &released), 0);
    batch_free(&b);
}
END_TEST

START_TEST(test_clear_resets)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 2, 100, 500), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[0], 3, 7, 60, 1000), 0);
    ck_assert_int_eq(batch_add(&b, &dummy[1], 3, 8, 60, 1100), 0);
    ck_assert_int_eq(batch_ready(&b, 1100), 1);
    batch_clear(&b);
    ck_assert_uint_eq(b.count, 0);
    ck_assert_uint_eq(b.bytes, 0);
    ck_assert_int_eq(batch_ready(&b, 5000), 0);
    ck_assert_int_eq(batch_time_left_ms(&b, 5000), -1);
    /* The next item opens a new batch with its own clock and byte count. */
    ck_assert_int_eq(batch_add(&b, &dummy[2], 3, 9, 10, 5000), 0);
    ck_assert_int_eq(b.opened_ms, 5000);
    ck_assert_uint_eq(b.bytes, 10);
    ck_assert_int_eq(batch_ready(&b, 5499), 0);
    ck_assert_int_eq(batch_time_left_ms(&b, 5100), 400);
    ck_assert_int_eq(b.items[0].offset, 9);
    batch_free(&b);
}
END_TEST

START_TEST(test_add_grows_past_capacity)
{
    struct batch b;
    ck_assert_int_eq(batch_init(&b, 2, 1u << 30, 500), 0);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(batch_add(&b, &dummy[i], i % 4, 1000 + i, 3, 0), 0);
    ck_assert_uint_eq(b.count, 50);
    ck_assert_uint_ge(b.cap, 50);
    ck_assert_uint_eq(b.bytes, 150);
    for (int i = 0; i < 50; i++) {
        ck_assert_ptr_eq(b.items[i].msg, &dummy[i]);
        ck_assert_int_eq(b.items[i].partition, i % 4);
        ck_assert_int_eq(b.items[i].offset, 1000 + i);
    }
    batch_free(&b);
}
END_TEST

START_TEST(test_coalesce_same_key_keeps_newest)
{
    struct batch_key k[] = {
        {.id = "o1", .pk = "c1", .offset = 10, .partition = 0},
        {.id = "o1", .pk = "c1", .offset = 30, .partition = 0},
        {.id = "o1", .pk = "c1", .offset = 20, .partition = 0},
    };
    ck_assert_uint_eq(batch_coalesce(k, 3), 2);
    ck_assert_int_eq(k[0].superseded, 1);
    ck_assert_int_eq(k[1].superseded, 0);
    ck_assert_int_eq(k[2].superseded, 1);
}
END_TEST

START_TEST(test_coalesce_different_pk_kept)
{
    struct batch_key k[] = {
        {.id = "o1", .pk = "c1", .offset = 1, .partition = 0},
        {.id = "o1", .pk = "c2", .offset = 2, .partition = 0},
        {.id = "o2", .pk = "c1", .offset = 3, .partition = 0},
    };
    ck_assert_uint_eq(batch_coalesce(k, 3), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(k[i].superseded, 0);
}
END_TEST

START_TEST(test_coalesce_mixed)
{
    struct batch_key k[] = {
        {.id = "a", .pk = "p1", .offset = 5, .partition = 1},
        {.id = "b", .pk = "p1", .offset = 6, .partition = 1},
        {.id = "a", .pk = "p2", .offset = 7, .partition = 1},
        {.id = "a", .pk = "p1", .offset = 8, .partition = 1},
        {.id = "b", .pk = "p1", .offset = 4, .partition = 1},
        {.id = "a", .pk = "p2", .offset = 3, .partition = 1},
        {.id = "c", .pk = "p1", .offset = 1, .partition = 1},
    };
    static const int want[] = {1, 0, 0, 0, 1, 1, 0};
    ck_assert_uint_eq(batch_coalesce(k, 7), 3);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(k[i].superseded == want[i], "key %d: superseded %d, want %d", i,
                      k[i].superseded, want[i]);
}
END_TEST

START_TEST(test_coalesce_small_inputs)
{
    struct batch_key k[] = {{.id = "x", .pk = "y", .offset = 1, .partition = 0}};
    ck_assert_uint_eq(batch_coalesce(k, 1), 0);
    ck_assert_int_eq(k[0].superseded, 0);
    ck_assert_uint_eq(batch_coalesce(k, 0), 0);
}
END_TEST

START_TEST(test_index_finds_live_keys_only)
{
    struct batch_key keys[] = {
        {"o1", "[\"c1\"]", 10, 0, 1, 0}, /* superseded: not indexed */
        {"o1", "[\"c1\"]", 11, 0, 0, 0},
        {"o1", "[\"c2\"]", 12, 0, 0, 0},
        {"o2", "[\"c1\"]", 13, 1, 0, 0},
    };
    struct batch_index ix;
    ck_assert_int_eq(batch_index_build(&ix, keys, 4), 0);
    ck_assert_int_eq(batch_index_find(&ix, "[\"c1\"]", "o1"), 1);
    ck_assert_int_eq(batch_index_find(&ix, "[\"c2\"]", "o1"), 2);
    ck_assert_int_eq(batch_index_find(&ix, "[\"c1\"]", "o2"), 3);
    ck_assert_int_eq(batch_index_find(&ix, "[\"c2\"]", "o2"), -1);
    ck_assert_int_eq(batch_index_find(&ix, "[\"c1\"]", "o3"), -1);
    /* The separator keeps ("ab","c") and ("a","bc") apart. */
    ck_assert_int_eq(batch_index_find(&ix, "[\"c1\"]o", "1"), -1);
    batch_index_free(&ix);
}
END_TEST

START_TEST(test_index_many_keys)
{
    enum { N = 1000 };
    static struct batch_key keys[N];
    static char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "id-%d", i);
        keys[i] = (struct batch_key){ids[i], "[\"c\"]", i, 0, 0, 0};
    }
    struct batch_index ix;
    ck_assert_int_eq(batch_index_build(&ix, keys, N), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(batch_index_find(&ix, "[\"c\"]", ids[i]), i);
    ck_assert_int_eq(batch_index_find(&ix, "[\"c\"]", "id-1000"), -1);
    batch_index_free(&ix);
    struct batch_index empty;
    ck_assert_int_eq(batch_index_build(&empty, keys, 0), 0);
    ck_assert_int_eq(batch_index_find(&empty, "[\"c\"]", "id-1"), -1);
    batch_index_free(&empty);
}
END_TEST

START_TEST(test_coalesce_ties_and_random_against_pairwise)
{
    /* Equal offsets: the lower partition wins; a full tie: the first one. */
    struct batch_key t[] = {
        {.id = "o", .pk = "c", .offset = 7, .partition = 3},
        {.id = "o", .pk = "c", .offset = 7, .partition = 1},
        {.id = "o", .pk = "c", .offset = 7, .partition = 1},
    };
    ck_assert_uint_eq(batch_coalesce(t, 3), 2);
    ck_assert_int_eq(t[0].superseded, 1);
    ck_assert_int_eq(t[1].superseded, 0);
    ck_assert_int_eq(t[2].superseded, 1);
    /* Random batches with many repeats: the hash pass marks exactly what a pairwise comparison
     * does, and its index finds each survivor. */
    enum { N = 300 };
    static struct batch_key k[N];
    static char ids[8][8], pks[4][8];
    for (int i = 0; i < 8; i++)
        snprintf(ids[i], sizeof(ids[i]), "id%d", i);
    for (int i = 0; i < 4; i++)
        snprintf(pks[i], sizeof(pks[i]), "[\"%d\"]", i);
    unsigned rng = 12345;
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(round % N) + 1;
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1103515245u + 12345u;
            k[i] = (struct batch_key){.id = ids[(rng >> 8) % 8],
                                      .pk = pks[(rng >> 12) % 4],
                                      .offset = (rng >> 16) % 20,
                                      .partition = (rng >> 24) % 3};
        }
        struct batch_index ix;
        size_t superseded, want = 0;
        ck_assert_int_eq(batch_index_coalesce(&ix, k, n, &superseded), 0);
        for (size_t i = 0; i < n; i++) {
            int lost = 0;
            for (size_t j = 0; j < n && !lost; j++) {
                if (j == i || strcmp(k[i].id, k[j].id) || strcmp(k[i].pk, k[j].pk))
                    continue;
                int jn = k[j].offset != k[i].offset ? k[j].offset > k[i].offset
                                                    : k[j].partition < k[i].partition;
                int tie = k[j].offset == k[i].offset && k[j].partition == k[i].partition;
                lost = jn || (tie && j < i);
            }
            want += (size_t)lost;
            ck_assert_int_eq(k[i].superseded, lost);
            if (!lost)
                ck_assert_int_eq(batch_index_find(&ix, k[i].pk, k[i].id), (long)i);
        }
        ck_assert_uint_eq(superseded, want);
        batch_index_free(&ix);
    }
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("close_rules");
    tcase_add_test(tc, test_empty_not_ready);
    tcase_add_test(tc, test_ready_at_max_count);
    tcase_add_test(tc, test_ready_at_max_bytes);
    tcase_add_test(tc, test_single_oversized_item_ready);
    tcase_add_test(tc, test_ready_at_max_wait);
    tcase_add_test(tc, test_time_left);
    suite_add_tcase(s, tc);
    tc = tcase_create("contents");
    tcase_add_test(tc, test_remove_if_keeps_order_and_bytes);
    tcase_add_test(tc, test_remove_if_all_empties);
    tcase_add_test(tc, test_clear_resets);
    tcase_add_test(tc, test_add_grows_past_capacity);
    suite_add_tcase(s, tc);
    tc = tcase_create("coalesce");
    tcase_add_test(tc, test_coalesce_same_key_keeps_newest);
    tcase_add_test(tc, test_coalesce_different_pk_kept);
    tcase_add_test(tc, test_coalesce_mixed);
    tcase_add_test(tc, test_coalesce_small_inputs);
    suite_add_tcase(s, tc);
    tc = tcase_create("index");
    tcase_add_test(tc, test_index_finds_live_keys_only);
    tcase_add_test(tc, test_index_many_keys);
    tcase_add_test(tc, test_coalesce_ties_and_random_against_pairwise);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(batch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
