/* Unit tests for lib/pace: the cumulative send schedule of each traffic pattern. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "pace.h"

START_TEST(test_steady_rate_times_t)
{
    struct pace p = {.pattern = PACE_STEADY, .rate = 5000};
    ck_assert_int_eq(pace_due(&p, 0), 0);
    for (int ms = 0; ms <= 10000; ms += 7) {
        double t = ms / 1000.0;
        ck_assert(llabs(pace_due(&p, t) - (long long)(5000 * t)) <= 1);
    }
    ck_assert_int_eq(pace_due(&p, 4.0), 20000);
    ck_assert_int_eq(pace_due(&p, -3), 0);
    struct pace slow = {.pattern = PACE_STEADY, .rate = 0.5};
    ck_assert_int_eq(pace_due(&slow, 1.9), 0);
    ck_assert_int_eq(pace_due(&slow, 2.0), 1);
    ck_assert(fabs(pace_rate_at(&p, 3) - 5000) < 1e-9);
}
END_TEST

START_TEST(test_ramp_quadratic_then_flat)
{
    struct pace p = {.pattern = PACE_RAMP, .rate = 1000, .duration_s = 10};
    for (int ms = 0; ms <= 10000; ms += 13) {
        double t = ms / 1000.0;
        double want = 1000 * t * t / (2 * 10);
        ck_assert(fabs((double)pace_due(&p, t) - want) <= 1);
    }
    ck_assert_int_eq(pace_due(&p, 10), 5000);
    ck_assert_int_eq(pace_due(&p, 12), 7000); /* full rate after the ramp */
    ck_assert(fabs(pace_rate_at(&p, 5) - 500) < 1e-9);
}
END_TEST

START_TEST(test_burst_all_at_zero)
{
    struct pace p = {.pattern = PACE_BURST, .rate = 10, .burst = 3000};
    ck_assert_int_eq(pace_due(&p, 0), 3000);
    ck_assert_int_eq(pace_due(&p, 0.001), 3000);
    ck_assert_int_eq(pace_due(&p, 3600), 3000);
}
END_TEST

START_TEST(test_rate_zero_unlimited)
{
    enum pace_pattern pats[] = {PACE_STEADY, PACE_RAMP, PACE_WAVE};
    for (unsigned i = 0; i < 3; i++) {
        struct pace p = {.pattern = pats[i], .rate = 0, .duration_s = 10, .period_s = 60};
        ck_assert_int_eq(pace_due(&p, 0), PACE_UNLIMITED);
        ck_assert_int_eq(pace_due(&p, 5), PACE_UNLIMITED);
    }
}
END_TEST

START_TEST(test_wave_integral)
{
    struct pace p = {.pattern = PACE_WAVE, .rate = 1000, .period_s = 60};
    /* Over whole periods the sine averages out: half the rate. */
    ck_assert(llabs(pace_due(&p, 60) - 30000) <= 1);
    ck_assert(llabs(pace_due(&p, 120) - 60000) <= 1);
    /* First half-period is the crest: more than half the rate. */
    ck_assert_int_gt(pace_due(&p, 30), 15000);
    int64_t prev = 0;
    for (int ms = 0; ms <= 120000; ms += 100) {
        int64_t d = pace_due(&p, ms / 1000.0);
        ck_assert_int_ge(d, prev);
        prev = d;
    }
    ck_assert(fabs(pace_rate_at(&p, 15) - 1000) < 1e-6);
    ck_assert(fabs(pace_rate_at(&p, 45)) < 1e-6);
}
END_TEST

START_TEST(test_pattern_names)
{
    enum pace_pattern p;
    ck_assert_int_eq(pace_pattern_parse("steady", &p), 0);
    ck_assert_int_eq(p, PACE_STEADY);
    ck_assert_int_eq(pace_pattern_parse("burst", &p), 0);
    ck_assert_int_eq(p, PACE_BURST);
    ck_assert_int_eq(pace_pattern_parse("ramp", &p), 0);
    ck_assert_int_eq(p, PACE_RAMP);
    ck_assert_int_eq(pace_pattern_parse("wave", &p), 0);
    ck_assert_int_eq(p, PACE_WAVE);
    ck_assert_int_eq(pace_pattern_parse("nope", &p), -1);
    ck_assert_int_eq(pace_pattern_parse("", &p), -1);
    ck_assert_str_eq(pace_pattern_name(PACE_WAVE), "wave");
}
END_TEST

static Suite *pace_suite(void)
{
    Suite *s = suite_create("pace");
    TCase *tc = tcase_create("patterns");
    tcase_add_test(tc, test_steady_rate_times_t);
    tcase_add_test(tc, test_ramp_quadratic_then_flat);
    tcase_add_test(tc, test_burst_all_at_zero);
    tcase_add_test(tc, test_rate_zero_unlimited);
    tcase_add_test(tc, test_wave_integral);
    tcase_add_test(tc, test_pattern_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pace_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
