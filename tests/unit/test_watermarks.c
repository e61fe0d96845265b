/*
 * Unit tests for lib/watermarks against librdkafka's in-process mock cluster: the end offsets
 * of paused partitions keep up with what is produced, where librdkafka's own cached watermark
 * (learnt from fetches) stays where it was when the partitions were paused.
 */
#include <check.h>

#include "check_run.h"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka_mock.h"
#include "watermarks.h"

#define TOPIC "orders"

struct mock {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *producer, *consumer;
};

/* One broker, TOPIC with 2 partitions; a producer and a consumer assigned both partitions. */
static void mock_start(struct mock *m)
{
    char err[256];
    memset(m, 0, sizeof(*m));
    m->host = rd_kafka_new(RD_KAFKA_PRODUCER, quiet_conf(NULL), err, sizeof(err));
    ck_assert_ptr_nonnull(m->host);
    m->mc = rd_kafka_mock_cluster_new(m->host, 1);
    ck_assert_ptr_nonnull(m->mc);
    ck_assert_int_eq(rd_kafka_mock_topic_create(m->mc, TOPIC, 2, 1), 0);
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
    m->producer = rd_kafka_new(RD_KAFKA_PRODUCER, quiet_conf(bootstraps), err, sizeof(err));
    ck_assert_ptr_nonnull(m->producer);
    rd_kafka_conf_t *cc = quiet_conf(bootstraps);
    ck_assert_int_eq(rd_kafka_conf_set(cc, "group.id", "wm-test", err, sizeof(err)), 0);
    m->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    ck_assert_ptr_nonnull(m->consumer);
    rd_kafka_poll_set_consumer(m->consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(parts, TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(parts, TOPIC, 1)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(m->consumer, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
}

static void mock_stop(struct mock *m)
{
    rd_kafka_consumer_close(m->consumer);
    rd_kafka_destroy(m->consumer);
    rd_kafka_destroy(m->producer);
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->host);
}

static void produce(struct mock *m, int32_t partition, int count)
{
    for (int i = 0; i < count; i++)
        ck_assert_int_eq(rd_kafka_producev(m->producer, RD_KAFKA_V_TOPIC(TOPIC),
                                           RD_KAFKA_V_PARTITION(partition),
                                           RD_KAFKA_V_VALUE("{}", 2), RD_KAFKA_V_END),
                         0);
    ck_assert_int_eq(rd_kafka_flush(m->producer, 10000), 0);
}

/* Consumes until count messages came (the fetcher has seen the partitions' ends). */
static void consume(struct mock *m, int count)
{
    int64_t deadline = clock_mono_ms() + 20000;
    while (count > 0 && clock_mono_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->consumer, 100);
        if (msg) {
            count -= !msg->err;
            rd_kafka_message_destroy(msg);
        }
    }
    ck_assert_int_eq(count, 0);
}

/* Polls w (serving the consumer meanwhile) until both partitions read want0 / want1. */
static void wait_highs(struct mock *m, struct watermarks *w, int64_t want0, int64_t want1)
{
    static const int32_t parts[] = {0, 1};
    int64_t deadline = clock_mono_ms() + 20000;
    while (clock_mono_ms() < deadline) {
        watermarks_collect(w);
        if (watermarks_due(w, clock_mono_ms()))
            watermarks_ask(w, TOPIC, parts, 2, clock_mono_ms());
        if (watermarks_high(w, 0) == want0 && watermarks_high(w, 1) == want1)
            return;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->consumer, 20);
        ck_assert_msg(!msg || msg->err, "a paused partition delivered a message");
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    ck_abort_msg("watermarks %lld/%lld, want %lld/%lld", (long long)watermarks_high(w, 0),
                 (long long)watermarks_high(w, 1), (long long)want0, (long long)want1);
}

START_TEST(test_high_watermark_moves_while_paused)
{
    struct mock m;
    mock_start(&m);
    produce(&m, 0, 5);
    produce(&m, 1, 3);
    consume(&m, 8);
    rd_kafka_topic_partition_list_t *assigned = NULL;
    ck_assert_int_eq(rd_kafka_assignment(m.consumer, &assigned), 0);
    ck_assert_int_eq(rd_kafka_pause_partitions(m.consumer, assigned), 0);
    rd_kafka_topic_partition_list_destroy(assigned);

    struct watermarks *w = watermarks_new(m.consumer, 50);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(watermarks_high(w, 0), WATERMARKS_UNKNOWN);
    wait_highs(&m, w, 5, 3);
    produce(&m, 0, 4); /* paused: nothing fetches partition 0 any more */
    wait_highs(&m, w, 9, 3);
    produce(&m, 1, 2);
    wait_highs(&m, w, 9, 5);
    /* What librdkafka itself knows of partition 0's end: the value from its last fetch. */
    int64_t low = 0, high = 0;
    ck_assert_int_eq(rd_kafka_get_watermark_offsets(m.consumer, TOPIC, 0, &low, &high), 0);
    ck_assert_int_eq(high, 5);
    ck_assert_int_eq(watermarks_high(w, 7), WATERMARKS_UNKNOWN);
    ck_assert_int_eq(watermarks_high(w, -1), WATERMARKS_UNKNOWN);
    watermarks_free(w);
    mock_stop(&m);
}
END_TEST

START_TEST(test_nothing_asked_without_partitions)
{
    struct mock m;
    mock_start(&m);
    produce(&m, 0, 2);
    struct watermarks *w = watermarks_new(m.consumer, 0);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(watermarks_due(w, clock_mono_ms()), 1);
    watermarks_ask(w, TOPIC, NULL, 0, clock_mono_ms()); /* no partitions: no request */
    ck_assert_int_eq(watermarks_due(w, clock_mono_ms()), 1);
    int64_t until = clock_mono_ms() + 500;
    while (clock_mono_ms() < until) /* so never an answer */
        ck_assert_int_eq(watermarks_collect(w), 0);
    ck_assert_int_eq(watermarks_high(w, 0), WATERMARKS_UNKNOWN);
    watermarks_free(w);
    watermarks_free(NULL);
    mock_stop(&m);
}
END_TEST

START_TEST(test_answer_outstanding_at_free)
{
    struct mock m;
    mock_start(&m);
    static const int32_t parts[] = {0, 1};
    struct watermarks *w = watermarks_new(m.consumer, 0);
    ck_assert_ptr_nonnull(w);
    watermarks_ask(w, TOPIC, parts, 2, clock_mono_ms());     /* asked, not answered yet */
    ck_assert_int_eq(watermarks_due(w, clock_mono_ms()), 0); /* one request at a time */
    watermarks_free(w);                                      /* the answer is dropped */
    mock_stop(&m);
}
END_TEST

START_TEST(test_one_request_per_interval)
{
    struct mock m;
    mock_start(&m);
    static const int32_t parts[] = {0};
    struct watermarks *w = watermarks_new(m.consumer, 1000);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(watermarks_due(w, 5000), 1); /* never asked */
    watermarks_ask(w, TOPIC, parts, 1, 5000);
    int64_t deadline = clock_mono_ms() + 20000;
    while (!watermarks_collect(w) && clock_mono_ms() < deadline)
        ck_assert_int_eq(watermarks_due(w, 1000000), 0); /* outstanding: never due */
    ck_assert_int_eq(watermarks_high(w, 0), 0);
    ck_assert_int_eq(watermarks_collect(w), 0); /* one answer per request */
    ck_assert_int_eq(watermarks_due(w, 5999), 0);
    ck_assert_int_eq(watermarks_due(w, 6000), 1);
    watermarks_free(w);
    mock_stop(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watermarks");
    TCase *tc = tcase_create("mock cluster");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_high_watermark_moves_while_paused);
    tcase_add_test(tc, test_nothing_asked_without_partitions);
    tcase_add_test(tc, test_answer_outstanding_at_free);
    tcase_add_test(tc, test_one_request_per_interval);
    suite_add_tcase(s, tc);
    return check_run(s);
}
