/* Unit tests for lib/retry: HTTP status classification and capped exponential backoff. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "retry.h"

START_TEST(test_classify_done)
{
    ck_assert_int_eq(retry_classify(200, 0, 0), RETRY_DONE);
    ck_assert_int_eq(retry_classify(201, 0, 0), RETRY_DONE);
    ck_assert_int_eq(retry_classify(204, 0, 0), RETRY_DONE);
}
END_TEST

/* The service's retry guidance (RIG.md "Retry guidance"): 408, 410, 429, 449, 503 and the
 * bulk cases 424 and 413/3402; 403/3 (writes forbidden during a failover), 404/1002. */
START_TEST(test_classify_again)
{
    static const long statuses[][2] = {{429, 3200}, {429, 0},    {408, 0},    {449, 0},   {503, 0},
                                       {410, 0},    {410, 1002}, {410, 1007}, {502, 0},   {504, 0},
                                       {424, 0},    {413, 3402}, {403, 3},    {404, 1002}};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        ck_assert_msg(retry_classify(statuses[i][0], (int)statuses[i][1], 0) == RETRY_AGAIN,
                      "status %ld/%ld not AGAIN", statuses[i][0], statuses[i][1]);
}
END_TEST

START_TEST(test_classify_transport_failure)
{
    ck_assert_int_eq(retry_classify(0, 0, 1), RETRY_AGAIN);
    /* A transport failure wins over whatever status is passed along. */
    ck_assert_int_eq(retry_classify(200, 0, 1), RETRY_AGAIN);
    ck_assert_int_eq(retry_classify(400, 0, 1), RETRY_AGAIN);
}
END_TEST

START_TEST(test_classify_fatal)
{
    ck_assert_int_eq(retry_classify(401, 0, 0), RETRY_FATAL);
    ck_assert_int_eq(retry_classify(403, 0, 0), RETRY_FATAL);
    ck_assert_int_eq(retry_classify(403, 5, 0), RETRY_FATAL);
    ck_assert_int_eq(retry_classify(404, 0, 0), RETRY_FATAL);
}
END_TEST

/* Never retried: 400, 409, 412, 413 (not 3402), 500; 403/1014 = that document's logical
 * partition is full. */
START_TEST(test_classify_reject)
{
    static const long statuses[][2] = {{400, 0}, {409, 0}, {413, 0},    {412, 0},
                                       {422, 0}, {500, 0}, {403, 1014}, {400, 1001}};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        ck_assert_msg(retry_classify(statuses[i][0], (int)statuses[i][1], 0) == RETRY_REJECT,
                      "status %ld/%ld not REJECT", statuses[i][0], statuses[i][1]);
}
END_TEST

START_TEST(test_range_gone_and_counting)
{
    static const int gone[] = {1002, 1007, 1008, 1000};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        ck_assert(retry_range_gone(410, gone[i]));
    ck_assert(!retry_range_gone(410, 0));
    ck_assert(!retry_range_gone(410, 1001));
    ck_assert(!retry_range_gone(404, 1002));
    ck_assert(!retry_counts(429));
    ck_assert(retry_counts(410));
    ck_assert(retry_counts(503));
    ck_assert(retry_counts(0));
}
END_TEST

START_TEST(test_backoff_uses_retry_after)
{
    struct retry_policy p = {.max_attempts = 5, .base_ms = 100, .max_ms = 5000};
    ck_assert_int_eq(retry_backoff_ms(&p, 1, 0, 12345), 0);
    ck_assert_int_eq(retry_backoff_ms(&p, 1, 37, 0), 37);
    ck_assert_int_eq(retry_backoff_ms(&p, 3, 37, UINT32_MAX), 37);
    /* The server's value is used as is, even above max_ms. */
    ck_assert_int_eq(retry_backoff_ms(&p, 2, 9000, 7), 9000);
}
END_TEST

static int64_t expected_cap(const struct retry_policy *p, int failures)
{
    int64_t e = p->base_ms;
    for (int i = 1; i < failures; i++) {
        if (e >= p->max_ms)
            break;
        e *= 2;
    }
    return e < p->max_ms ? e : p->max_ms;
}

START_TEST(test_backoff_within_bounds)
{
    struct retry_policy p = {.max_attempts = 12, .base_ms = 100, .max_ms = 5000};
    static const uint32_t rnds[] = {0, 1, 12345, UINT32_MAX / 2, UINT32_MAX - 1, UINT32_MAX};
    for (int f = 1; f <= 10; f++) {
        int64_t e = expected_cap(&p, f);
        for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
            int64_t d = retry_backoff_ms(&p, f, -1, rnds[r]);
            ck_assert_msg(d >= e / 2 && d <= e, "failures %d rnd %u: %lld not in [%lld, %lld]", f,
                          rnds[r], (long long)d, (long long)(e / 2), (long long)e);
        }
    }
}
END_TEST

START_TEST(test_backoff_exact_values)
{
    struct retry_policy p = {.max_attempts = 12, .base_ms = 100, .max_ms = 5000};
    /* rnd 0 gives the lower end e/2. */
    ck_assert_int_eq(retry_backoff_ms(&p, 1, -1, 0), 50);
    ck_assert_int_eq(retry_backoff_ms(&p, 2, -1, 0), 100);
    ck_assert_int_eq(retry_backoff_ms(&p, 3, -1, 0), 200);
    ck_assert_int_eq(retry_backoff_ms(&p, 4, -1, 0), 400);
    ck_assert_int_eq(retry_backoff_ms(&p, 7, -1, 0), 2500); /* 6400 capped at 5000 */
    /* e - e/2 + 1 = 51 choices for failures 1: rnd 50 gives the upper end. */
    ck_assert_int_eq(retry_backoff_ms(&p, 1, -1, 50), 100);
    ck_assert_int_eq(retry_backoff_ms(&p, 1, -1, 51), 50);
}
END_TEST

START_TEST(test_backoff_spreads)
{
    struct retry_policy p = {.max_attempts = 12, .base_ms = 1000, .max_ms = 60000};
    int64_t lo = retry_backoff_ms(&p, 3, -1, 0);
    int64_t hi = retry_backoff_ms(&p, 3, -1, 2000);
    ck_assert_int_eq(lo, 2000);
    ck_assert_int_eq(hi, 4000);
}
END_TEST

START_TEST(test_backoff_caps_large_failures)
{
    struct retry_policy p = {.max_attempts = 1000, .base_ms = 100, .max_ms = 5000};
    static const int fails[] = {13, 50, 64, 100, 1000};
    for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
        ck_assert_int_eq(retry_backoff_ms(&p, fails[i], -1, 0), 2500);
        ck_assert_int_eq(retry_backoff_ms(&p, fails[i], -1, 2500), 5000);
        int64_t d = retry_backoff_ms(&p, fails[i], -1, UINT32_MAX);
        ck_assert_int_ge(d, 2500);
        ck_assert_int_le(d, 5000);
    }
    /* A cap that is not base * 2^k. */
    struct retry_policy q = {.max_attempts = 1000, .base_ms = 3, .max_ms = 1000};
    ck_assert_int_eq(retry_backoff_ms(&q, 50, -1, 0), 500);
    ck_assert_int_eq(retry_backoff_ms(&q, 50, -1, 500), 1000);
}
END_TEST

START_TEST(test_backoff_base_equals_max)
{
    struct retry_policy p = {.max_attempts = 3, .base_ms = 1, .max_ms = 1};
    for (int f = 1; f < 40; f++) {
        int64_t d = retry_backoff_ms(&p, f, -1, (uint32_t)f);
        ck_assert_int_ge(d, 0);
        ck_assert_int_le(d, 1);
    }
}
END_TEST

static Suite *retry_suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("classify");
    tcase_add_test(tc, test_classify_done);
    tcase_add_test(tc, test_classify_again);
    tcase_add_test(tc, test_classify_transport_failure);
    tcase_add_test(tc, test_classify_fatal);
    tcase_add_test(tc, test_classify_reject);
    tcase_add_test(tc, test_range_gone_and_counting);
    suite_add_tcase(s, tc);
    tc = tcase_create("backoff");
    tcase_add_test(tc, test_backoff_uses_retry_after);
    tcase_add_test(tc, test_backoff_within_bounds);
    tcase_add_test(tc, test_backoff_exact_values);
    tcase_add_test(tc, test_backoff_spreads);
    tcase_add_test(tc, test_backoff_caps_large_failures);
    tcase_add_test(tc, test_backoff_base_equals_max);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(retry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
