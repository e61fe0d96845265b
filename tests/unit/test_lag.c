/* Unit tests for lib/lag: KEDA's Kafka scaler arithmetic. */
#include <check.h>
#include <stdlib.h>

#include "lag.h"

static struct lag_policy policy(int64_t threshold, int64_t activation, int latest)
{
    return (struct lag_policy){.lag_threshold = threshold,
                               .activation_lag_threshold = activation,
                               .offset_reset_latest = latest,
                               .max_replicas = 100};
}

START_TEST(test_committed_partitions)
{
    struct lag_partition p[] = {{0, 10, 15, 0}, {1, 7, 7, 0}};
    struct lag_policy pol = policy(2, 0, 0);
    struct lag_result r;
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(p[0].lag, 5);
    ck_assert_int_eq(p[1].lag, 0);
    ck_assert_int_eq(r.total, 5);
    ck_assert_int_eq(r.metric, 5); /* 5/2 = 2 is not above 2 partitions: no cap */
    p[0].high = 17;                /* total 7: 7/2 = 3 > 2 partitions -> 2 x 2 */
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(r.total, 7);
    ck_assert_int_eq(r.metric, 4);
    ck_assert_int_eq(r.replicas, 2);
}
END_TEST

START_TEST(test_no_offset_earliest_counts_whole_partition)
{
    struct lag_partition p[] = {{0, LAG_NO_OFFSET, 2000, 0}, {1, LAG_NO_OFFSET, 0, 0}};
    struct lag_policy pol = policy(1000, 0, 0);
    struct lag_result r;
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(p[0].lag, 2000);
    ck_assert_int_eq(p[1].lag, 0);
    ck_assert_int_eq(r.total, 2000);
    ck_assert(r.active);
    ck_assert_int_eq(r.replicas, 2);
}
END_TEST

START_TEST(test_no_offset_latest_counts_one)
{
    struct lag_partition p[] = {{0, LAG_NO_OFFSET, 2000, 0}, {1, LAG_NO_OFFSET, 0, 0}};
    struct lag_policy pol = policy(1000, 0, 1);
    struct lag_result r;
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(p[0].lag, 1);
    ck_assert_int_eq(p[1].lag, 1); /* even an empty partition keeps one replica */
    ck_assert(r.active);
    ck_assert_int_eq(r.replicas, 1);
    pol.scale_to_zero_on_invalid = 1;
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(r.total, 0);
    ck_assert(!r.active);
    ck_assert_int_eq(r.replicas, 0);
}
END_TEST

START_TEST(test_metric_capped_at_partitions)
{
    struct lag_partition p[6];
    for (int i = 0; i < 6; i++)
        p[i] = (struct lag_partition){i, 0, i < 5 ? 2000 : 0, 0};
    struct lag_policy pol = policy(1000, 0, 0);
    struct lag_result r;
    lag_compute(p, 6, &pol, &r);
    ck_assert_int_eq(r.total, 10000);
    ck_assert_int_eq(r.metric, 6000);
    ck_assert_int_eq(r.replicas, 6);
    pol.allow_idle_consumers = 1;
    pol.max_replicas = 8;
    lag_compute(p, 6, &pol, &r);
    ck_assert_int_eq(r.metric, 10000);
    ck_assert_int_eq(r.replicas, 8);
}
END_TEST

START_TEST(test_activation_threshold)
{
    struct lag_partition p[] = {{0, 0, 50, 0}};
    struct lag_policy pol = policy(1000, 50, 0);
    struct lag_result r;
    lag_compute(p, 1, &pol, &r);
    ck_assert(!r.active); /* active only when total > activationLagThreshold */
    ck_assert_int_eq(r.replicas, 0);
    p[0].high = 51;
    lag_compute(p, 1, &pol, &r);
    ck_assert(r.active);
    ck_assert_int_eq(r.replicas, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lag");
    TCase *tc = tcase_create("keda");
    tcase_add_test(tc, test_committed_partitions);
    tcase_add_test(tc, test_no_offset_earliest_counts_whole_partition);
    tcase_add_test(tc, test_no_offset_latest_counts_one);
    tcase_add_test(tc, test_metric_capped_at_partitions);
    tcase_add_test(tc, test_activation_threshold);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
