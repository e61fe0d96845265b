/* Unit tests for lib/lag: KEDA v2.21's Kafka scaler arithmetic, on known answers. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>

#include "lag.h"

static struct lag_policy policy(int64_t threshold, int64_t activation, int latest)
{
    return (struct lag_policy){.lag_threshold = threshold,
                               .activation_lag_threshold = activation,
                               .offset_reset_latest = latest,
                               .max_replicas = 100};
}

/* A partition: committed offset (LAG_NO_OFFSET: none), log start, high watermark. */
static struct lag_partition part(int32_t id, int64_t committed, int64_t low, int64_t high)
{
    return (struct lag_partition){.partition = id,
                                  .committed = committed,
                                  .low = low,
                                  .high = high,
                                  .previous = LAG_NO_OFFSET};
}

START_TEST(test_committed_partitions)
{
    struct lag_partition p[] = {part(0, 10, 0, 15), part(1, 7, 0, 7)};
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

START_TEST(test_no_offset_earliest_counts_records_still_in_the_log)
{
    /* 300 records each; retention moved partition 1's log start to 160 and deleted all of
     * partition 2's; partition 3 was never written. v2.20 counted 300 + 300 + 300 + 0. */
    struct lag_partition p[] = {part(0, LAG_NO_OFFSET, 0, 300), part(1, LAG_NO_OFFSET, 160, 300),
                                part(2, LAG_NO_OFFSET, 300, 300), part(3, LAG_NO_OFFSET, 0, 0)};
    struct lag_policy pol = policy(1000, 0, 0);
    struct lag_result r;
    lag_compute(p, 4, &pol, &r);
    ck_assert_int_eq(p[0].lag, 300);
    ck_assert_int_eq(p[1].lag, 140);
    ck_assert_int_eq(p[2].lag, 0);
    ck_assert_int_eq(p[3].lag, 0);
    ck_assert_int_eq(r.total, 440);
    ck_assert(r.active);
    ck_assert_int_eq(r.replicas, 1);
    lag_compute(&p[2], 1, &pol, &r); /* every record deleted: idle */
    ck_assert_int_eq(r.total, 0);
    ck_assert(!r.active);
    ck_assert_int_eq(r.replicas, 0);
}
END_TEST

START_TEST(test_no_offset_earliest_unknown_start_or_start_past_end)
{
    struct lag_partition p[] = {part(0, LAG_NO_OFFSET, LAG_NO_OFFSET, 2000),
                                part(1, LAG_NO_OFFSET, 50, 40)};
    struct lag_policy pol = policy(1000, 0, 0);
    struct lag_result r;
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(p[0].lag, 2000); /* no log start: the high watermark */
    ck_assert_int_eq(p[1].lag, 0);    /* retention passed the sampled end: never negative */
    ck_assert_int_eq(r.replicas, 2);
}
END_TEST

START_TEST(test_no_offset_latest_counts_one)
{
    struct lag_partition p[] = {part(0, LAG_NO_OFFSET, 0, 2000), part(1, LAG_NO_OFFSET, 0, 0)};
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
    pol.offset_reset_latest = 0; /* earliest too */
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(r.total, 0);
    ck_assert_int_eq(r.replicas, 0);
}
END_TEST

START_TEST(test_committed_below_log_start_counts_deleted_records)
{
    struct lag_partition p[] = {part(0, 100, 160, 300)};
    struct lag_policy pol = policy(1000, 0, 0);
    struct lag_result r;
    lag_compute(p, 1, &pol, &r);
    ck_assert_int_eq(p[0].lag, 200);
}
END_TEST

START_TEST(test_metric_capped_at_partitions)
{
    struct lag_partition p[6];
    for (int i = 0; i < 6; i++)
        p[i] = part(i, 0, 0, i < 5 ? 2000 : 0);
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

START_TEST(test_limit_to_partitions_with_lag)
{
    struct lag_partition p[6];
    for (int i = 0; i < 6; i++)
        p[i] = part(i, 0, 0, i < 2 ? 5000 : 0);
    struct lag_policy pol = policy(1000, 0, 0);
    pol.limit_to_partitions_with_lag = 1;
    struct lag_result r;
    lag_compute(p, 6, &pol, &r);
    ck_assert_int_eq(r.total, 10000);
    ck_assert_int_eq(r.metric, 2000); /* 2 partitions with lag x 1000 */
    ck_assert_int_eq(r.replicas, 2);
    for (int i = 0; i < 6; i++)
        p[i].high = 0; /* no partition with lag: the cap is 0 */
    lag_compute(p, 6, &pol, &r);
    ck_assert_int_eq(r.metric, 0);
    ck_assert(!r.active);
}
END_TEST

START_TEST(test_ensure_even_distribution)
{
    struct lag_partition p[12];
    for (int i = 0; i < 12; i++)
        p[i] = part(i, 0, 0, i == 0 ? 4500 : 0);
    struct lag_policy pol = policy(1000, 0, 0);
    pol.ensure_even_distribution = 1;
    struct lag_result r;
    lag_compute(p, 12, &pol, &r);
    ck_assert_int_eq(r.metric, 6000); /* 4.5 replicas -> the divisor of 12 above: 6 */
    ck_assert_int_eq(r.replicas, 6);
    p[0].high = 0; /* no lag: divisor 1, metric 1 x threshold, but idle */
    lag_compute(p, 12, &pol, &r);
    ck_assert_int_eq(r.metric, 1000);
    ck_assert(!r.active);
    ck_assert_int_eq(r.replicas, 0);
    p[0].high = 20000; /* past 12 partitions: 12 */
    lag_compute(p, 12, &pol, &r);
    ck_assert_int_eq(r.metric, 12000);
}
END_TEST

START_TEST(test_exclude_persistent_lag)
{
    struct lag_partition p[] = {part(0, 10, 0, 500), part(1, 20, 0, 700)};
    struct lag_policy pol = policy(200, 0, 0);
    pol.exclude_persistent_lag = 1;
    struct lag_result r;
    lag_compute(p, 2, &pol, &r); /* first poll: nothing remembered, everything counts */
    ck_assert_int_eq(r.total, 1170);
    ck_assert_int_eq(p[0].previous, 10);
    ck_assert_int_eq(p[1].previous, 20);
    p[1].committed = 400; /* partition 0 is stuck at 10, partition 1 moved */
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(p[0].lag, 0);
    ck_assert_int_eq(p[0].lag_with_persistent, 490);
    ck_assert_int_eq(p[1].lag, 300);
    ck_assert_int_eq(r.total, 300);
    ck_assert_int_eq(r.total_with_persistent, 790);
    ck_assert_int_eq(r.metric, 300);
    ck_assert_int_eq(r.replicas, 2);
    p[1].committed = 700; /* only the stuck lag is left: still active (1 replica), metric 0 */
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(r.metric, 0);
    ck_assert(r.active);
    ck_assert_int_eq(r.replicas, 1);
    pol.exclude_persistent_lag = 0; /* without the option nothing is remembered or excluded */
    p[0].previous = LAG_NO_OFFSET;
    lag_compute(p, 2, &pol, &r);
    ck_assert_int_eq(r.total, 490);
    ck_assert_int_eq(p[0].previous, LAG_NO_OFFSET);
}
END_TEST

START_TEST(test_activation_threshold)
{
    struct lag_partition p[] = {part(0, 0, 0, 50)};
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

START_TEST(test_negative_lag_reported_as_zero)
{
    struct lag_partition p[] = {part(0, 80, 0, 50)}; /* committed past the end */
    struct lag_policy pol = policy(10, 0, 0);
    struct lag_result r;
    lag_compute(p, 1, &pol, &r);
    ck_assert_int_eq(r.total, -30);
    ck_assert_int_eq(r.metric, 0);
    ck_assert(!r.active);
}
END_TEST

START_TEST(test_policy_errors)
{
    struct lag_policy pol = policy(1000, 0, 0);
    ck_assert_ptr_null(lag_policy_error(&pol));
    pol.allow_idle_consumers = pol.limit_to_partitions_with_lag = 1;
    ck_assert_ptr_nonnull(lag_policy_error(&pol));
    pol.allow_idle_consumers = 0;
    pol.ensure_even_distribution = 1;
    ck_assert_ptr_nonnull(lag_policy_error(&pol));
    pol.limit_to_partitions_with_lag = 0;
    pol.allow_idle_consumers = 1; /* KEDA allows this pair (the even cap still applies) */
    ck_assert_ptr_null(lag_policy_error(&pol));
    pol.lag_threshold = 0;
    ck_assert_ptr_nonnull(lag_policy_error(&pol));
}
END_TEST

/* A caller that wants only the lags (the worker's own gauge) may leave lagThreshold at 0: it
 * counts as 1, never a division by zero (SIGFPE killed the worker once lag was > 0). */
START_TEST(test_zero_threshold_counts_as_one)
{
    struct lag_partition parts[] = {part(0, 10, 0, 15), part(1, 0, 0, 3)};
    struct lag_policy policy = {.allow_idle_consumers = 1};
    struct lag_result r;
    lag_compute(parts, 2, &policy, &r);
    ck_assert_int_eq(r.total, 8);
    ck_assert(r.active);
    ck_assert_int_eq(r.replicas, 8);
    policy.allow_idle_consumers = 0;
    policy.ensure_even_distribution = 1;
    lag_compute(parts, 2, &policy, &r);
    ck_assert_int_eq(r.metric, 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lag");
    TCase *tc = tcase_create("keda");
    tcase_add_test(tc, test_committed_partitions);
    tcase_add_test(tc, test_no_offset_earliest_counts_records_still_in_the_log);
    tcase_add_test(tc, test_no_offset_earliest_unknown_start_or_start_past_end);
    tcase_add_test(tc, test_no_offset_latest_counts_one);
    tcase_add_test(tc, test_committed_below_log_start_counts_deleted_records);
    tcase_add_test(tc, test_metric_capped_at_partitions);
    tcase_add_test(tc, test_limit_to_partitions_with_lag);
    tcase_add_test(tc, test_ensure_even_distribution);
    tcase_add_test(tc, test_exclude_persistent_lag);
    tcase_add_test(tc, test_activation_threshold);
    tcase_add_test(tc, test_negative_lag_reported_as_zero);
    tcase_add_test(tc, test_policy_errors);
    tcase_add_test(tc, test_zero_threshold_counts_as_one);
    suite_add_tcase(s, tc);
    return check_run(s);
}
