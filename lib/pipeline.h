/*
 * pipeline: what happens to one microbatch. Owns the open batch of consumed messages and
 * turns it into durable state: parse -> dead-letter the bad ones -> coalesce same ids ->
 * upsert to Cosmos -> dead-letter what Cosmos rejects -> wait for DLQ acks -> commit.
 * Nothing is committed unless every message of the batch is written or dead-lettered.
 */
#ifndef ORDERSINK_PIPELINE_H
#define ORDERSINK_PIPELINE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "cosmos.h"
#include "dlq.h"
#include "metrics.h"
#include "order.h"

struct pipeline {
    const struct cfg *cfg;
    rd_kafka_t *consumer;
    struct cosmos_client *cosmos;
    struct dlq *dlq;
    struct batch batch;
    struct order_spec spec;
    struct metrics_counters stats;
    struct metrics *metrics; /* updated once per batch */
    int64_t deadline_ms; /* monotonic; 0 = none. Set for shutdown. */
    int fatal;           /* set when the worker must stop without committing */
    char fatal_error[512];
};

int pipeline_init(struct pipeline *p, const struct cfg *c, struct cosmos_client *cosmos,
                  struct dlq *dlq, struct metrics *metrics);
void pipeline_free(struct pipeline *p);

/* Takes ownership of m (a message without error) into the open batch. Returns 0 or -1
 * (out of memory: m is destroyed, nothing committed past it, p->fatal set). */
int pipeline_add(struct pipeline *p, rd_kafka_message_t *m);

/* 1 when the open batch must be flushed now. */
int pipeline_due(const struct pipeline *p);

/* Poll timeout for the consumer: time until the open batch is due, at most cap_ms. */
int pipeline_wait_ms(const struct pipeline *p, int cap_ms);

/* Writes and commits the open batch. Returns 0, or -1 with p->fatal set: then nothing of
 * the batch was committed and its messages are released (they will be redelivered). */
int pipeline_flush(struct pipeline *p);

#endif
