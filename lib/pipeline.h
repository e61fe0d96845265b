/*
 * pipeline: the path of consumed messages to committed offsets. Owns the open microbatch,
 * the closed batches in flight (parse -> dead-letter the bad ones -> coalesce same ids ->
 * upsert to Cosmos -> dead-letter what Cosmos rejects -> DLQ acks), the commits (what to
 * commit is lib/commit's decision), fencing on rebalance (the work of partitions revoked or
 * lost is not sent, retried or committed any more), and backpressure (pausing the consumer).
 * Up to pipeline.max_batches batches are written at once while the next one fills; an
 * offset is committed only when every message at or below it is written or dead-lettered.
 */
#ifndef ORDERSINK_PIPELINE_H
#define ORDERSINK_PIPELINE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "batch.h"
#include "commit.h"
#include "config.h"
#include "cosmos.h"
#include "dlq.h"
#include "metrics.h"
#include "order.h"
#include "watermarks.h"

struct pipeline_batch;

struct pipeline {
    const struct cfg *cfg;
    rd_kafka_t *consumer;
    struct cosmos_client *cosmos;
    struct dlq *dlq;
    struct metrics *metrics; /* counters every turn that changed them; histograms per batch */
    struct order_spec spec;
    struct batch open;                  /* the batch being filled */
    struct pipeline_batch *head, *tail; /* closed batches in flight, oldest first */
    int in_flight, max_in_flight;       /* closed batches in flight, and the bound */
    struct commit commit;               /* epochs, batches' spans, what may be committed */
    int64_t commit_retry_ms; /* monotonic: when to retry a failed commit; 0 = no failure */
    int wake[2];             /* pipe the consumer and DLQ queues write to when they have events */
    int consumer_more;       /* the consumer's queue may hold more messages */
    int64_t blocked_ms;      /* monotonic: since when the pipeline has been full; 0 = not full */
    int paused;              /* the assigned partitions are paused for backpressure */
    struct metrics_counters stats;
    struct watermarks *watermarks; /* end offsets of the assigned partitions, for the lag */
    int64_t lag_total;             /* sum of the last published lags; -1 = not known yet */
    size_t lag_assigned;           /* partitions assigned when the lag was last published */
    int64_t deadline_ms;           /* monotonic; 0 = none. Set for shutdown. */
    int fatal;                     /* set when the worker must stop without committing */
    char fatal_error[512];
};

/* Returns 0, or -1 (out of memory, no pipe) with nothing to free. */
int pipeline_init(struct pipeline *p, const struct cfg *c, struct cosmos_client *cosmos,
                  struct dlq *dlq, struct metrics *metrics);

/* Connects the consumer: its queue wakes the pipeline's waits, and the lag is measured
 * through it. Returns 0, or -1 when out of memory (p->fatal set). */
int pipeline_attach(struct pipeline *p, rd_kafka_t *consumer);

/* Cancels what is in flight (nothing more is committed) and frees everything. */
void pipeline_free(struct pipeline *p);

/* 1 when the caller should poll the consumer now: there is room for messages, or the
 * partitions are paused (polling then only serves rebalances and errors). */
int pipeline_wants_messages(const struct pipeline *p);

/* Takes ownership of m (a message without error) into the open batch; a message of a
 * partition not assigned (a stale delivery) is destroyed. Returns 0 or -1 (out of memory:
 * m is destroyed, p->fatal set). */
int pipeline_add(struct pipeline *p, rd_kafka_message_t *m);

/*
 * One turn of the loop: closes and submits the open batch when it is due and there is room,
 * pauses or resumes the partitions, drives the Cosmos requests, waiting up to wait_cap_ms
 * (less when something falls due; not at all when consumer_more says the consumer's queue
 * may hold messages the pipeline wants), settles finished batches and commits what became
 * durable, in order. Sets p->fatal when the worker must stop.
 */
void pipeline_step(struct pipeline *p, int wait_cap_ms, int consumer_more);

/*
 * Submits the open batch, waits for every batch in flight (until p->deadline_ms if set),
 * and commits synchronously what is durable. For revocation and shutdown. Returns 0, or -1
 * when something could not be written (p->fatal set; what was durable is committed).
 */
int pipeline_drain(struct pipeline *p);

/* After partitions were assigned (each element's offset: the group's committed offset, or
 * negative when unknown): starts a new epoch for each, then pauses them too while the
 * pipeline is paused, else resumes them (clearing a pause flag librdkafka kept from before a
 * rebalance). */
void pipeline_on_assign(struct pipeline *p, const rd_kafka_topic_partition_list_t *parts);

/* Before partitions are taken away: writes and commits everything in flight (unless lost =
 * the group already gave them away), then fences them: their epoch ends, what is left of
 * theirs is dropped from the open batch, not sent or retried, and never committed. Then
 * resumes what the pipeline had paused. */
void pipeline_on_revoke(struct pipeline *p, const rd_kafka_topic_partition_list_t *parts, int lost);

#endif
