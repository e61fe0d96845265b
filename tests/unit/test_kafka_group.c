/* Unit tests for lib/kafka_group: the consumer's group and prefetch properties per protocol and
 * per librdkafka version. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "kafka_group.h"

#define V2_0_2 0x020002ff
#define V2_1_0 0x020100ff
#define V2_3_0 0x020300ff
#define V2_15_1 0x020f01ff

static struct cfg base(const char *protocol)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    c.kafka_group_protocol = (char *)protocol;
    c.kafka_assignor = "cooperative-sticky";
    c.kafka_session_timeout_ms = 30000;
    c.kafka_max_poll_interval_ms = 300000;
    return c;
}

/* The property called name in props, or NULL. */
static const struct kafka_group_prop *find(const struct kafka_group_prop *props, int n,
                                           const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(props[i].name, name) == 0)
            return &props[i];
    return NULL;
}

static void expect(const struct kafka_group_prop *props, int n, const char *name, const char *value,
                   int is_default)
{
    const struct kafka_group_prop *p = find(props, n, name);
    ck_assert_msg(p != NULL, "%s missing", name);
    ck_assert_str_eq(p->value, value);
    ck_assert_int_eq(p->is_default, is_default);
}

START_TEST(test_classic_on_2_15_1)
{
    struct cfg c = base("classic");
    struct kafka_group_prop props[KAFKA_GROUP_PROPS_MAX];
    char err[256];
    int n = kafka_group_props(&c, V2_15_1, props, err, sizeof(err));
    ck_assert_int_eq(n, 7);
    expect(props, n, "partition.assignment.strategy", "cooperative-sticky", 0);
    expect(props, n, "session.timeout.ms", "30000", 1);
    expect(props, n, "max.poll.interval.ms", "300000", 1);
    expect(props, n, "queued.max.messages.kbytes", "256", 1);
    expect(props, n, "fetch.queue.backoff.ms", "10", 1);
    expect(props, n, "fetch.min.bytes", "65536", 1);
    expect(props, n, "fetch.wait.max.ms", "100", 1);
    ck_assert_ptr_null(find(props, n, "group.protocol")); /* 2.0.2 has no such property */
}
END_TEST

START_TEST(test_consumer_leaves_the_broker_side_settings_out)
{
    struct cfg c = base("consumer");
    struct kafka_group_prop props[KAFKA_GROUP_PROPS_MAX];
    char err[256];
    int n = kafka_group_props(&c, V2_15_1, props, err, sizeof(err));
    ck_assert_int_eq(n, 6);
    expect(props, n, "group.protocol", "consumer", 0);
    ck_assert_ptr_null(find(props, n, "group.remote.assignor")); /* the broker's default */
    ck_assert_ptr_null(find(props, n, "partition.assignment.strategy"));
    ck_assert_ptr_null(find(props, n, "session.timeout.ms"));
    expect(props, n, "max.poll.interval.ms", "300000", 1);
    c.kafka_group_remote_assignor = "range";
    n = kafka_group_props(&c, V2_15_1, props, err, sizeof(err));
    ck_assert_int_eq(n, 7);
    expect(props, n, "group.remote.assignor", "range", 0);
}
END_TEST

/* 2.0.2 (Debian 12, LIBRDKAFKA=system) refuses fetch.queue.backoff.ms: it gets the large queue. */
START_TEST(test_prefetch_by_version)
{
    struct cfg c = base("classic");
    struct kafka_group_prop props[KAFKA_GROUP_PROPS_MAX];
    char err[256];
    int n = kafka_group_props(&c, V2_0_2, props, err, sizeof(err));
    expect(props, n, "queued.max.messages.kbytes", "8192", 1);
    ck_assert_ptr_null(find(props, n, "fetch.queue.backoff.ms"));
    n = kafka_group_props(&c, V2_1_0, props, err, sizeof(err));
    expect(props, n, "queued.max.messages.kbytes", "256", 1);
    expect(props, n, "fetch.queue.backoff.ms", "10", 1);
    /* The fetch wait applies to every version (both properties are librdkafka 1.x's). */
    n = kafka_group_props(&c, V2_0_2, props, err, sizeof(err));
    expect(props, n, "fetch.min.bytes", "65536", 1);
    expect(props, n, "fetch.wait.max.ms", "100", 1);
}
END_TEST

START_TEST(test_consumer_needs_2_4)
{
    struct cfg c = base("consumer");
    struct kafka_group_prop props[KAFKA_GROUP_PROPS_MAX];
    char err[256] = "";
    ck_assert_int_eq(kafka_group_props(&c, V2_3_0, props, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "kafka.group_protocol") && strstr(err, "2.4.0"), "%s", err);
    ck_assert_int_eq(kafka_group_props(&c, 0x02040000, props, err, sizeof(err)), 6);
}
END_TEST

START_TEST(test_fatal_hint)
{
    struct cfg c = base("consumer");
    const char *reason = "Fatal error: Local: Required feature not supported by broker: "
                         "ConsumerGroupHeartbeat fatal error";
    const char *hint = kafka_group_fatal_hint(&c, reason);
    ck_assert_ptr_nonnull(hint);
    ck_assert_ptr_nonnull(strstr(hint, "ORDERSINK_KAFKA_GROUP_PROTOCOL=classic"));
    ck_assert_ptr_null(kafka_group_fatal_hint(&c, "SASL authentication error"));
    ck_assert_ptr_null(kafka_group_fatal_hint(&c, NULL));
    c = base("classic");
    ck_assert_ptr_null(kafka_group_fatal_hint(&c, reason));
}
END_TEST

START_TEST(test_consumer_protocol_turns_cgrp_debug_on)
{
    char buf[64];
    struct cfg c = base("classic");
    ck_assert_int_eq(kafka_group_debug(&c, NULL, buf, sizeof(buf)), 0);
    c = base("consumer");
    ck_assert_int_eq(kafka_group_debug(&c, NULL, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "cgrp");
    ck_assert_int_eq(kafka_group_debug(&c, "broker,fetch", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "broker,fetch,cgrp");
    ck_assert_int_eq(kafka_group_debug(&c, "consumer,cgrp", buf, sizeof(buf)), 0);
    ck_assert_int_eq(kafka_group_debug(&c, "all", buf, sizeof(buf)), 0);
    ck_assert_int_eq(kafka_group_debug(&c, "broker,fetch,protocol", buf, 8), -1);
}
END_TEST

/* The line librdkafka 2.15.1 logged against Kafka 3.9.1 (debug=cgrp, group.protocol=consumer). */
START_TEST(test_unsupported_line_is_recognised)
{
    const char *line = "Group \"g\": marking the coordinator (1) dead: Local: Required feature "
                       "not supported by broker: ConsumerGroupHeartbeatRequest not supported by "
                       "broker";
    ck_assert_int_eq(kafka_group_log_says_unsupported("COORD", line), 1);
    ck_assert_int_eq(kafka_group_log_says_unsupported("HEARTBEAT", line), 0);
    ck_assert_int_eq(kafka_group_log_says_unsupported("COORD", "Group \"g\": marking the "
                                                               "coordinator (1) dead: timed out"),
                     0);
    ck_assert_int_eq(kafka_group_log_says_unsupported(NULL, line), 0);
    ck_assert_int_eq(kafka_group_log_says_unsupported("COORD", NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_group");
    TCase *tc = tcase_create("props");
    tcase_add_test(tc, test_classic_on_2_15_1);
    tcase_add_test(tc, test_consumer_leaves_the_broker_side_settings_out);
    tcase_add_test(tc, test_prefetch_by_version);
    tcase_add_test(tc, test_consumer_needs_2_4);
    tcase_add_test(tc, test_fatal_hint);
    tcase_add_test(tc, test_consumer_protocol_turns_cgrp_debug_on);
    tcase_add_test(tc, test_unsupported_line_is_recognised);
    suite_add_tcase(s, tc);
    return check_run(s);
}
