/*
 * kafka_group: group protocol and prefetch properties of the consumer, by protocol and by the
 * librdkafka version linked.
 */
#include "kafka_group.h"

#include <stdio.h>
#include <string.h>

static int kafka_group_add(struct kafka_group_prop *props, int n, const char *name,
                           const char *value, int is_default)
{
    props[n].name = name;
    snprintf(props[n].value, sizeof(props[n].value), "%s", value);
    props[n].is_default = is_default;
    return n + 1;
}

int kafka_group_props(const struct cfg *c, int rdk_version, struct kafka_group_prop *props,
                      char *err, size_t errsz)
{
    int n = 0;
    char num[32];
    if (strcmp(c->kafka_group_protocol, "consumer") == 0) {
        if (rdk_version < KAFKA_GROUP_CONSUMER_PROTO_VERSION) {
            snprintf(err, errsz,
                     "config: kafka.group_protocol (ORDERSINK_KAFKA_GROUP_PROTOCOL): consumer "
                     "needs librdkafka >= 2.4.0 (linked: 0x%08x); use classic",
                     (unsigned)rdk_version);
            return -1;
        }
        /* KIP-848: assignment and session live on the broker; librdkafka refuses
         * partition.assignment.strategy, session.timeout.ms and heartbeat.interval.ms. */
        n = kafka_group_add(props, n, "group.protocol", "consumer", 0);
        if (c->kafka_group_remote_assignor)
            n = kafka_group_add(props, n, "group.remote.assignor", c->kafka_group_remote_assignor,
                                0);
    } else {
        n = kafka_group_add(props, n, "partition.assignment.strategy", c->kafka_assignor, 0);
        snprintf(num, sizeof(num), "%lld", (long long)c->kafka_session_timeout_ms);
        n = kafka_group_add(props, n, "session.timeout.ms", num, 1);
    }
    snprintf(num, sizeof(num), "%lld", (long long)c->kafka_max_poll_interval_ms);
    n = kafka_group_add(props, n, "max.poll.interval.ms", num, 1);
    /* The prefetch queue is the one buffer the pipeline does not bound itself (librdkafka's
     * default is 64 MB). Once it is full, librdkafka fetches again fetch.queue.backoff.ms
     * later; before 2.1.0 only when the broker thread wakes, up to 1 s later. Measured on the
     * rig (../shared/RIG.md, 30k 1 KB orders, 6 partitions): 2.0.2 + 8 MB ≈ 10.4k orders/s at
     * 37-39 MB RSS; 2.12.1 + 1 MB + 10 ms ≈ 15.6k at 23.6 MB; 1 MB without the backoff
     * collapses to ≈ 1.9k on any version. With 2.15.1 (docs/benchmarks.md), 256 KB + 10 ms
     * keeps the sink's pace at the lowest peak RSS (≈ 23.3-23.8 MB vs 24.0 at 1 MB): messages
     * held by batches in flight pin their fetch buffers, so a smaller queue pins less. */
    if (rdk_version >= KAFKA_GROUP_FETCH_BACKOFF_VERSION) {
        n = kafka_group_add(props, n, "queued.max.messages.kbytes", KAFKA_GROUP_QUEUE_KBYTES, 1);
        n = kafka_group_add(props, n, "fetch.queue.backoff.ms", KAFKA_GROUP_FETCH_BACKOFF_MS, 1);
    } else {
        n = kafka_group_add(props, n, "queued.max.messages.kbytes", KAFKA_GROUP_QUEUE_KBYTES_OLD,
                            1);
    }
    /* A fetch answered as soon as one byte is there (librdkafka's fetch.min.bytes 1) wakes the
     * broker thread and then the pipeline for every few orders when they trickle in. Waiting
     * for 64 KB or 100 ms (a fifth of batch.max_wait_ms' default) cut the worker's CPU per order
     * at 2,000 orders/s from 26-32 us to 12-13.5 and at 200/s from 140 to 23 (context switches
     * 955-1,395/s -> 346-430/s; docs/benchmarks.md); a backlog's fetches fill at once. */
    n = kafka_group_add(props, n, "fetch.min.bytes", KAFKA_GROUP_FETCH_MIN_BYTES, 1);
    n = kafka_group_add(props, n, "fetch.wait.max.ms", KAFKA_GROUP_FETCH_WAIT_MS, 1);
    return n;
}

const char *kafka_group_fatal_hint(const struct cfg *c, const char *reason)
{
    if (!reason || strcmp(c->kafka_group_protocol, "consumer") != 0 ||
        !strstr(reason, "ConsumerGroupHeartbeat"))
        return NULL;
    return "the broker does not offer kafka.group_protocol=consumer (KIP-848 needs Apache "
           "Kafka >= 4.0 with the consumer group coordinator; Azure Event Hubs offers only "
           "classic): set ORDERSINK_KAFKA_GROUP_PROTOCOL=classic";
}

/* The text librdkafka logs (rd_kafka_ConsumerGroupHeartbeatRequest, facility COORD) when the
 * coordinator's ApiVersions lack ConsumerGroupHeartbeat. */
#define KAFKA_GROUP_UNSUPPORTED_LINE "ConsumerGroupHeartbeatRequest not supported by broker"

int kafka_group_debug(const struct cfg *c, const char *user_debug, char *buf, size_t bufsz)
{
    if (strcmp(c->kafka_group_protocol, "consumer") != 0)
        return 0;
    int n;
    if (!user_debug || !*user_debug)
        n = snprintf(buf, bufsz, "cgrp");
    else if (strstr(user_debug, "cgrp") || strstr(user_debug, "all"))
        return 0; /* the user's value already has it */
    else
        n = snprintf(buf, bufsz, "%s,cgrp", user_debug);
    return n < 0 || (size_t)n >= bufsz ? -1 : 1;
}

int kafka_group_log_says_unsupported(const char *fac, const char *line)
{
    return fac && line && strcmp(fac, "COORD") == 0 && strstr(line, KAFKA_GROUP_UNSUPPORTED_LINE);
}
