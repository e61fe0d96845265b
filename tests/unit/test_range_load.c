/* range_load: per-range in-flight limits. */
#include <check.h>

#include "range_load.h"
#include "check_run.h"

START_TEST(test_a_hot_range_cuts_only_its_own_limit)
{
    struct range_load l = {0};
    ck_assert_int_eq(range_load_reset(&l, 4, 8), 0);
    uint64_t seq[8];
    int sat[8];
    unsigned gen[8];
    for (int i = 0; i < 8; i++) {
        ck_assert(range_load_open(&l, 1));
        range_load_start(&l, 1, &seq[i], &sat[i], &gen[i]);
    }
    ck_assert(!range_load_open(&l, 1));                /* range 1 is full at 8 */
    ck_assert(range_load_open(&l, 0));                 /* the others are not */
    range_load_done(&l, gen[0], 1, seq[0], 1, sat[0]); /* 429 */
    ck_assert_int_eq(range_load_limit(&l, 1), 4);
    ck_assert_int_eq(range_load_limit(&l, 0), 8);
    ck_assert_int_eq(range_load_limit(&l, 3), 8);
    /* Answers to requests started before the cut do not cut again (one cut per round trip). */
    range_load_done(&l, gen[1], 1, seq[1], 1, sat[1]);
    ck_assert_int_eq(range_load_limit(&l, 1), 4);
    ck_assert_uint_eq(l.cuts, 1);
    ck_assert_int_eq(range_load_total(&l), 8 + 4 + 8 + 8);
    for (int i = 2; i < 8; i++)
        range_load_done(&l, gen[i], 1, seq[i], 0, sat[i]);
    ck_assert(range_load_open(&l, 1));
    range_load_free(&l);
}
END_TEST

START_TEST(test_a_new_map_forgets_old_requests)
{
    struct range_load l = {0};
    ck_assert_int_eq(range_load_reset(&l, 2, 2), 0);
    uint64_t seq[2];
    int sat[2];
    unsigned gen[2];
    range_load_start(&l, 0, &seq[0], &sat[0], &gen[0]);
    range_load_start(&l, 0, &seq[1], &sat[1], &gen[1]);
    ck_assert(!range_load_open(&l, 0));
    ck_assert_int_eq(range_load_reset(&l, 3, 2), 0); /* a split: 3 ranges now */
    ck_assert(range_load_open(&l, 0));
    range_load_done(&l, gen[0], 0, seq[0], 1, sat[0]); /* an old 429: no cut, no count */
    ck_assert_int_eq(range_load_limit(&l, 0), 2);
    ck_assert_uint_eq(l.cuts, 0);
    range_load_free(&l);
}
END_TEST

START_TEST(test_requests_without_a_range_share_one_limit)
{
    struct range_load l = {0};
    ck_assert_int_eq(range_load_reset(&l, 0, 1), 0); /* no map yet */
    uint64_t seq;
    int sat;
    unsigned gen;
    ck_assert(range_load_open(&l, (size_t)-1));
    range_load_start(&l, (size_t)-1, &seq, &sat, &gen);
    ck_assert(sat);
    ck_assert(!range_load_open(&l, (size_t)-2));
    range_load_done(&l, gen, (size_t)-1, seq, 0, sat);
    ck_assert(range_load_open(&l, 5));
    range_load_free(&l);
    struct range_load empty = {0}; /* after a failed reset: everything open */
    ck_assert(range_load_open(&empty, 0));
    ck_assert_int_eq(range_load_total(&empty), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("range_load");
    TCase *tc = tcase_create("limits");
    tcase_add_test(tc, test_a_hot_range_cuts_only_its_own_limit);
    tcase_add_test(tc, test_a_new_map_forgets_old_requests);
    tcase_add_test(tc, test_requests_without_a_range_share_one_limit);
    suite_add_tcase(s, tc);
    return check_run(s);
}
