/*
 * kafka_group: the librdkafka properties of the worker's group membership and prefetch, from
 * kafka.group_protocol (classic: the client-side assignor and session timeout; consumer, KIP-848:
 * the broker assigns and keeps the session) and from the librdkafka version linked (the prefetch
 * backoff exists from 2.1.0, the consumer protocol from 2.4.0). Pure: no I/O.
 */
#ifndef ORDERSINK_KAFKA_GROUP_H
#define ORDERSINK_KAFKA_GROUP_H

#include <stddef.h>

#include "config.h"

/* rd_kafka_version() of the first releases with what this module relies on (0xMMmmrrxx). */
#define KAFKA_GROUP_FETCH_BACKOFF_VERSION 0x02010000  /* fetch.queue.backoff.ms: 2.1.0 */
#define KAFKA_GROUP_CONSUMER_PROTO_VERSION 0x02040000 /* group.protocol=consumer GA: 2.4.0 */

/* Prefetch queue with and without fetch.queue.backoff.ms (see kafka_group_props). */
#define KAFKA_GROUP_QUEUE_KBYTES "256"
#define KAFKA_GROUP_FETCH_BACKOFF_MS "10"
#define KAFKA_GROUP_QUEUE_KBYTES_OLD "8192"
#define KAFKA_GROUP_FETCH_MIN_BYTES "65536"
#define KAFKA_GROUP_FETCH_WAIT_MS "100"

struct kafka_group_prop {
    const char *name;
    char value[64];
    int is_default; /* 1: a passthrough property of the same name wins */
};

#define KAFKA_GROUP_PROPS_MAX 8

/*
 * Fills props (KAFKA_GROUP_PROPS_MAX entries) with what the consumer needs for c's group
 * protocol and the prefetch queue, for librdkafka version rdk_version (rd_kafka_version()).
 * Returns the count, or -1 with err filled when the version cannot do what c asks.
 */
int kafka_group_props(const struct cfg *c, int rdk_version, struct kafka_group_prop *props,
                      char *err, size_t errsz);

/*
 * A hint for a fatal client error under c's group protocol: when the broker refused the
 * consumer protocol (ConsumerGroupHeartbeat unsupported), what to do; NULL otherwise.
 */
const char *kafka_group_fatal_hint(const struct cfg *c, const char *reason);

/*
 * librdkafka (checked on 2.15.1) does not report a broker without the consumer protocol as an
 * error: it logs, under debug context "cgrp" only, that ConsumerGroupHeartbeat is not supported,
 * marks the coordinator dead and asks again for ever. Under kafka.group_protocol=consumer the
 * worker therefore turns "cgrp" on and reads that line.
 *
 * kafka_group_debug writes into buf (bufsz) the librdkafka "debug" value the consumer needs:
 * user_debug (the passthrough's, may be NULL) plus "cgrp" under the consumer protocol. Returns
 * 1 if buf was filled (set it), 0 if nothing needs setting, -1 if buf is too small.
 */
int kafka_group_debug(const struct cfg *c, const char *user_debug, char *buf, size_t bufsz);

/* 1 when a librdkafka log line (facility fac, text line) says the broker lacks the consumer
 * protocol (KIP-848), 0 otherwise. */
int kafka_group_log_says_unsupported(const char *fac, const char *line);

#endif
