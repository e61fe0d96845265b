/*
 * dlq: the dead-letter producer. Sends a message that can never be written to the DLQ topic
 * with its original key and value and headers giving the reason and where it came from, and
 * tells the caller whether every dead letter was acknowledged (acks=all) before it commits.
 */
#ifndef ORDERSINK_DLQ_H
#define ORDERSINK_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

/* Header names on every dead letter. */
#define DLQ_H_REASON "ordersink.reason"
#define DLQ_H_ERROR "ordersink.error"
#define DLQ_H_TOPIC "ordersink.topic"
#define DLQ_H_PARTITION "ordersink.partition"
#define DLQ_H_OFFSET "ordersink.offset"

struct dlq;

/* Dead letters of one batch: how many await their ack, how many failed and why. Filled in by
 * delivery reports, which dlq_poll serves; must outlive them (see dlq_abandon). */
struct dlq_tally {
    unsigned long pending;
    unsigned long acked;
    unsigned long failed;
    char error[256];
};

struct dlq *dlq_new(const struct cfg *c, char *err, size_t errsz);
/* Waits up to 5 s for outstanding dead letters, then destroys the producer. */
void dlq_free(struct dlq *d);

/* Queues a dead letter for message m, counted in tally. Returns 0, or -1 with err (queue
 * full, no memory). */
int dlq_send(struct dlq *d, const rd_kafka_message_t *m, const char *reason, const char *detail,
             struct dlq_tally *tally, char *err, size_t errsz);

/* Serves delivery reports without waiting (updates the tallies). */
void dlq_poll(struct dlq *d);

/* Makes the producer write a byte to fd whenever a delivery report is ready. */
void dlq_wake_fd(struct dlq *d, int fd);

/* Dead letters not yet acknowledged or failed. */
unsigned long dlq_outstanding(const struct dlq *d);

/* Waits up to timeout_ms for every outstanding delivery report. Returns 0 when none is left. */
int dlq_drain(struct dlq *d, int timeout_ms);

/* Purges what is not yet delivered and serves its (failed) reports, so that no report can
 * touch a tally afterwards. */
void dlq_abandon(struct dlq *d);

/* Dead letters acknowledged since start. */
unsigned long dlq_delivered(const struct dlq *d);

#endif
