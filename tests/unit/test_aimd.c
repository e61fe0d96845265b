/* Unit tests for lib/aimd: slow start, additive increase, halving on 429 once per round trip. */
#include <check.h>
#include <stdlib.h>

#include "aimd.h"

/* n requests started one after the other, each finishing with the given outcome. */
static void aimd_run(struct aimd *a, int n, int throttled, int saturated)
{
    for (int i = 0; i < n; i++)
        aimd_done(a, aimd_start(a), throttled, saturated);
}

START_TEST(test_init_clamps)
{
    struct aimd a;
    aimd_init(&a, 0, 16);
    ck_assert_int_eq(aimd_limit(&a), 1);
    aimd_init(&a, 40, 16);
    ck_assert_int_eq(aimd_limit(&a), 16);
    aimd_init(&a, 4, 0);
    ck_assert_int_eq(aimd_limit(&a), 1);
}
END_TEST

START_TEST(test_slow_start_then_cap)
{
    struct aimd a;
    aimd_init(&a, 2, 16);
    aimd_run(&a, 3, 0, 1);
    ck_assert_int_eq(aimd_limit(&a), 5); /* +1 per success below ssthresh */
    aimd_run(&a, 100, 0, 1);
    ck_assert_int_eq(aimd_limit(&a), 16); /* never above max */
}
END_TEST

START_TEST(test_no_growth_when_not_saturated)
{
    struct aimd a;
    aimd_init(&a, 2, 16);
    aimd_run(&a, 50, 0, 0);
    ck_assert_int_eq(aimd_limit(&a), 2);
}
END_TEST

START_TEST(test_halves_once_per_round_trip)
{
    struct aimd a;
    aimd_init(&a, 16, 16);
    /* Eight requests in flight, all answered 429: one cut, not eight. */
    uint64_t seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = aimd_start(&a);
    for (int i = 0; i < 8; i++)
        aimd_done(&a, seq[i], 1, 1);
    ck_assert_int_eq(aimd_limit(&a), 8);
    ck_assert_uint_eq(a.cuts, 1);
    /* A request started after the cut and throttled cuts again. */
    aimd_done(&a, aimd_start(&a), 1, 1);
    ck_assert_int_eq(aimd_limit(&a), 4);
    ck_assert_uint_eq(a.cuts, 2);
}
END_TEST

START_TEST(test_additive_after_cut_and_floor)
{
    struct aimd a;
    aimd_init(&a, 8, 64);
    aimd_done(&a, aimd_start(&a), 1, 1); /* 8 -> 4, ssthresh 4 */
    ck_assert_int_eq(aimd_limit(&a), 4);
    aimd_run(&a, 4, 0, 1); /* congestion avoidance: +1/limit each: 4 -> 4.918 after 4 */
    ck_assert_int_eq(aimd_limit(&a), 4);
    ck_assert(a.limit > 4.9 && a.limit < 5.0);
    aimd_run(&a, 1, 0, 1);
    ck_assert_int_eq(aimd_limit(&a), 5);
    for (int i = 0; i < 10; i++)
        aimd_done(&a, aimd_start(&a), 1, 1);
    ck_assert_int_eq(aimd_limit(&a), 1); /* never below one */
}
END_TEST

static Suite *aimd_suite(void)
{
    Suite *s = suite_create("aimd");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_clamps);
    tcase_add_test(tc, test_slow_start_then_cap);
    tcase_add_test(tc, test_no_growth_when_not_saturated);
    tcase_add_test(tc, test_halves_once_per_round_trip);
    tcase_add_test(tc, test_additive_after_cut_and_floor);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(aimd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
