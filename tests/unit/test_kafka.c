/*
 * Unit tests for lib/kafka against librdkafka's in-process mock cluster (rdkafka_mock.h):
 * group offsets read while the coordinator answers with retriable errors, as a freshly started
 * broker does.
 */
#include <check.h>

#include "check_run.h"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka_mock.h"
#include "kafka.h"
#include "kafka_offsets.h"

#define TOPIC "orders"
#define GROUP "ordersink-test"
/* Kafka protocol ApiKeys (rdkafka_protocol.h is not installed). */
#define API_OFFSET_COMMIT 8
#define API_OFFSET_FETCH 9

struct mock {
    rd_kafka_t *host; /* the client that owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    struct cfg cfg;
};

/* One broker, TOPIC with 3 partitions holding 10, 8 and 0 messages; the group GROUP has
 * committed 5 on partition 0, 7 on partition 1 and nothing on partition 2. */
static void mock_start(struct mock *m)
{
    char err[256];
    memset(m, 0, sizeof(*m));
    m->host = rd_kafka_new(RD_KAFKA_PRODUCER, quiet_conf(NULL), err, sizeof(err));
    ck_assert_ptr_nonnull(m->host);
    m->mc = rd_kafka_mock_cluster_new(m->host, 1);
    ck_assert_ptr_nonnull(m->mc);
    ck_assert_int_eq(rd_kafka_mock_topic_create(m->mc, TOPIC, 3, 1), 0);
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);

    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, quiet_conf(bootstraps), err, sizeof(err));
    ck_assert_ptr_nonnull(p);
    for (int part = 0; part < 2; part++)
        for (int i = 0; i < (part == 0 ? 10 : 8); i++)
            ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC),
                                               RD_KAFKA_V_PARTITION(part),
                                               RD_KAFKA_V_VALUE("{}", 2), RD_KAFKA_V_END),
                             0);
    ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);

    rd_kafka_conf_t *cc = quiet_conf(bootstraps);
    ck_assert_int_eq(rd_kafka_conf_set(cc, "group.id", GROUP, err, sizeof(err)), 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(offsets, TOPIC, 0)->offset = 5;
    rd_kafka_topic_partition_list_add(offsets, TOPIC, 1)->offset = 7;
    ck_assert_int_eq(rd_kafka_commit(c, offsets, 0), 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    rd_kafka_destroy(c);

    m->cfg.kafka_bootstrap_servers = (char *)bootstraps;
    m->cfg.kafka_topic = TOPIC;
    m->cfg.kafka_group_id = GROUP;
    static struct cfg_property quiet = {"log_level", "0"};
    m->cfg.librdkafka = &quiet;
    m->cfg.librdkafka_count = 1;
}

static void mock_stop(struct mock *m)
{
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->host);
}

/* kafka_group_offsets reads what mock_start set up. */
static void assert_reads_offsets(const struct mock *m)
{
    struct lag_partition *parts = NULL;
    size_t n = 0;
    char err[512] = "";
    ck_assert_msg(kafka_group_offsets(&m->cfg, 20000, &parts, &n, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(parts[0].committed, 5);
    ck_assert_int_eq(parts[0].low, 0); /* the log start: nothing deleted */
    ck_assert_int_eq(parts[0].high, 10);
    ck_assert_int_eq(parts[0].previous, LAG_NO_OFFSET);
    ck_assert_int_eq(parts[1].committed, 7);
    ck_assert_int_eq(parts[1].high, 8);
    ck_assert_int_eq(parts[2].committed, LAG_NO_OFFSET);
    ck_assert_int_eq(parts[2].high, 0);
    free(parts);
}

START_TEST(test_group_offsets)
{
    struct mock m;
    mock_start(&m);
    assert_reads_offsets(&m);
    mock_stop(&m);
}
END_TEST

/* A coordinator that is loading or not yet elected answers OffsetFetch with errors for a
 * while: the read waits them out instead of failing or reporting "no committed offset". */
START_TEST(test_group_offsets_retry_coordinator_errors)
{
    struct mock m;
    mock_start(&m);
    rd_kafka_mock_push_request_errors(
        m.mc, API_OFFSET_FETCH, 6, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_reads_offsets(&m);
    mock_stop(&m);
}
END_TEST

/* Brokers before OffsetFetch v2 report errors only per partition: they count as errors too
 * (before, such a partition was reported as having no committed offset). */
START_TEST(test_group_offsets_retry_partition_errors)
{
    struct mock m;
    mock_start(&m);
    ck_assert_int_eq(rd_kafka_mock_set_apiversion(m.mc, API_OFFSET_FETCH, 1, 1), 0);
    rd_kafka_mock_push_request_errors(
        m.mc, API_OFFSET_FETCH, 3, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    assert_reads_offsets(&m);
    mock_stop(&m);
}
END_TEST

/* Still failing when the time is up: an error naming the cause and how long it tried. */
START_TEST(test_group_offsets_give_up_after_the_budget)
{
    struct mock m;
    mock_start(&m);
    rd_kafka_resp_err_t errs[200];
    for (size_t i = 0; i < 200; i++)
        errs[i] = RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    rd_kafka_mock_push_request_errors_array(m.mc, API_OFFSET_FETCH, 200, errs);
    struct lag_partition *parts = NULL;
    size_t n = 0;
    char err[512] = "";
    int64_t t0 = clock_mono_ms();
    ck_assert_int_eq(kafka_group_offsets(&m.cfg, 1500, &parts, &n, err, sizeof(err)), -1);
    int64_t took = clock_mono_ms() - t0;
    ck_assert_msg(took >= 700 && took < 5000, "gave up after %lld ms", (long long)took);
    ck_assert_ptr_null(parts);
    /* librdkafka itself retries a loading coordinator until the attempt's timeout. */
    ck_assert_msg(strstr(err, "committed offsets") &&
                      (strstr(err, "loading") || strstr(err, "Timed out")) &&
                      strstr(err, "still failing after"),
                  "%s", err);
    mock_stop(&m);
}
END_TEST

/* An error that does not go away by waiting fails at once. */
START_TEST(test_group_offsets_do_not_retry_authorization_errors)
{
    struct mock m;
    mock_start(&m);
    rd_kafka_mock_push_request_errors(m.mc, API_OFFSET_FETCH, 1,
                                      RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
    struct lag_partition *parts = NULL;
    size_t n = 0;
    char err[512] = "";
    int64_t t0 = clock_mono_ms();
    ck_assert_int_eq(kafka_group_offsets(&m.cfg, 20000, &parts, &n, err, sizeof(err)), -1);
    ck_assert_int_lt(clock_mono_ms() - t0, 2000);
    ck_assert_msg(strstr(err, "uthoriz") && !strstr(err, "still failing"), "%s", err);
    mock_stop(&m);
}
END_TEST

static void on_assign(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)rk;
    *(int *)opaque += parts->cnt;
}

/* The start positions a new member commits on assignment get through a coordinator that
 * answers OffsetCommit with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS for a while. */
START_TEST(test_start_positions_committed_through_coordinator_errors)
{
    /* _i: 0 the classic protocol (cooperative-sticky), 1 the consumer protocol (KIP-848). */
    struct mock m;
    mock_start(&m);
    m.cfg.kafka_group_protocol = _i ? "consumer" : "classic";
    m.cfg.kafka_group_id = _i ? "ordersink-fresh-848" : "ordersink-fresh";
    m.cfg.kafka_auto_offset_reset = "earliest";
    m.cfg.kafka_assignor = "cooperative-sticky";
    m.cfg.kafka_session_timeout_ms = 30000; /* the mock expires members that stop heartbeating */
    m.cfg.kafka_max_poll_interval_ms = 300000;
    /* More than librdkafka retries OffsetCommit by itself (4 in a row fail without ours). */
    rd_kafka_resp_err_t errs[8];
    errs[0] = RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
    for (size_t i = 1; i < 8; i++)
        errs[i] = RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    rd_kafka_mock_push_request_errors_array(m.mc, API_OFFSET_COMMIT, 8, errs);
    int assigned = 0;
    struct kafka_consumer_hooks hooks = {.after_assign = on_assign, .opaque = &assigned};
    char err[512] = "";
    rd_kafka_t *rk = kafka_consumer_new(&m.cfg, &hooks, err, sizeof(err));
    ck_assert_msg(rk != NULL, "%s", err);
    ck_assert_msg(kafka_consumer_subscribe(rk, &m.cfg, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 300 && assigned < 3; i++) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    ck_assert_int_eq(assigned, 3);
    struct lag_partition *parts = NULL;
    size_t n = 0;
    ck_assert_msg(kafka_group_offsets(&m.cfg, 20000, &parts, &n, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(parts[i].committed == 0, "partition %zu committed %lld", i,
                      (long long)parts[i].committed); /* earliest: the low watermark */
    free(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    mock_stop(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("mock cluster");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_group_offsets);
    tcase_add_test(tc, test_group_offsets_retry_coordinator_errors);
    tcase_add_test(tc, test_group_offsets_retry_partition_errors);
    tcase_add_test(tc, test_group_offsets_give_up_after_the_budget);
    tcase_add_test(tc, test_group_offsets_do_not_retry_authorization_errors);
    tcase_add_loop_test(tc, test_start_positions_committed_through_coordinator_errors, 0, 2);
    suite_add_tcase(s, tc);
    return check_run(s);
}
