/*
 * Unit tests for lib/metrics: labelled series declared in advance are exported at 0 and then
 * counted in place, the usual Cosmos statuses are there before any request, the lag gauges are
 * replaced as a whole.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* The exposition of m (caller frees). */
static char *render(struct metrics *m)
{
    size_t len = 0;
    char *text = metrics_render(m, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

static void assert_has(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "missing: %s", line);
}

START_TEST(test_declared_reasons_start_at_zero_and_count_in_place)
{
    struct metrics m;
    ck_assert_int_eq(metrics_init(&m, "t"), 0);
    metrics_declare_reason(&m, "not_json");
    metrics_declare_reason(&m, "cosmos_rejected");
    metrics_declare_reason(&m, "not_json"); /* twice: one series */
    char *text = render(&m);
    assert_has(text, "ordersink_orders_dead_lettered_total{reason=\"not_json\"} 0\n");
    assert_has(text, "ordersink_orders_dead_lettered_total{reason=\"cosmos_rejected\"} 0\n");
    free(text);
    metrics_lock(&m);
    metrics_count_reason(&m, "cosmos_rejected");
    metrics_count_reason(&m, "cosmos_rejected");
    metrics_count_reason(&m, "too_large"); /* not declared: added when it happens */
    metrics_unlock(&m);
    ck_assert_uint_eq(m.nreasons, 3);
    text = render(&m);
    assert_has(text, "ordersink_orders_dead_lettered_total{reason=\"not_json\"} 0\n");
    assert_has(text, "ordersink_orders_dead_lettered_total{reason=\"cosmos_rejected\"} 2\n");
    assert_has(text, "ordersink_orders_dead_lettered_total{reason=\"too_large\"} 1\n");
    free(text);
    metrics_free(&m);
}
END_TEST

START_TEST(test_reason_table_full)
{
    static const char *names[METRICS_MAX_REASONS + 1] = {"r0",  "r1",  "r2",  "r3",  "r4",  "r5",
                                                         "r6",  "r7",  "r8",  "r9",  "r10", "r11",
                                                         "r12", "r13", "r14", "r15", "r16"};
    struct metrics m;
    ck_assert_int_eq(metrics_init(&m, "t"), 0);
    for (int i = 0; i <= METRICS_MAX_REASONS; i++)
        metrics_declare_reason(&m, names[i]);
    metrics_count_reason(&m, names[METRICS_MAX_REASONS]); /* no room: dropped, no overflow */
    ck_assert_uint_eq(m.nreasons, METRICS_MAX_REASONS);
    metrics_free(&m);
}
END_TEST

START_TEST(test_known_statuses_before_any_request)
{
    struct metrics m;
    ck_assert_int_eq(metrics_init(&m, "t"), 0);
    char *text = render(&m);
    static const char *const known[] = {"none", "200", "201", "207", "401", "403", "404",
                                        "408",  "410", "429", "449", "500", "503"};
    char line[96];
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        snprintf(line, sizeof(line), "ordersink_cosmos_requests_total{status=\"%s\"} 0\n",
                 known[i]);
        assert_has(text, line);
    }
    ck_assert_ptr_null(strstr(text, "status=\"409\""));
    free(text);
    m.cosmos.by_status[409] = 3; /* others appear once they happen */
    m.cosmos.by_status[429] = 5;
    text = render(&m);
    assert_has(text, "ordersink_cosmos_requests_total{status=\"409\"} 3\n");
    assert_has(text, "ordersink_cosmos_requests_total{status=\"429\"} 5\n");
    free(text);
    metrics_free(&m);
}
END_TEST

START_TEST(test_lag_replaced_as_a_whole)
{
    struct metrics m;
    ck_assert_int_eq(metrics_init(&m, "t"), 0);
    const struct metrics_lag two[] = {{0, 750}, {3, 12}};
    ck_assert_int_eq(metrics_set_lag(&m, two, 2), 0);
    char *text = render(&m);
    assert_has(text, "ordersink_consumer_lag{partition=\"0\"} 750\n");
    assert_has(text, "ordersink_consumer_lag{partition=\"3\"} 12\n");
    free(text);
    const struct metrics_lag one[] = {{0, 1500}};
    ck_assert_int_eq(metrics_set_lag(&m, one, 1), 0);
    text = render(&m);
    assert_has(text, "ordersink_consumer_lag{partition=\"0\"} 1500\n");
    ck_assert_ptr_null(strstr(text, "partition=\"3\""));
    free(text);
    ck_assert_int_eq(metrics_set_lag(&m, NULL, 0), 0);
    text = render(&m);
    ck_assert_ptr_null(strstr(text, "ordersink_consumer_lag{"));
    assert_has(text, "# TYPE ordersink_consumer_lag gauge\n");
    free(text);
    metrics_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_declared_reasons_start_at_zero_and_count_in_place);
    tcase_add_test(tc, test_reason_table_full);
    tcase_add_test(tc, test_known_statuses_before_any_request);
    tcase_add_test(tc, test_lag_replaced_as_a_whole);
    suite_add_tcase(s, tc);
    return check_run(s);
}
