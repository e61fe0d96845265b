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

struct dlq *dlq_new(const struct cfg *c, char *err, size_t errsz);
void dlq_free(struct dlq *d);

/* Queues a dead letter for message m. Returns 0, or -1 with err (queue full, no memory). */
int dlq_send(struct dlq *d, const rd_kafka_message_t *m, const char *reason, const char *detail,
             char *err, size_t errsz);

/* Waits until every dead letter queued since the last call is acknowledged. Returns 0, or -1
 * with err when one failed or the timeout passed (the caller must then not commit). */
int dlq_flush(struct dlq *d, int timeout_ms, char *err, size_t errsz);

/* Dead letters acknowledged since start. */
unsigned long dlq_delivered(const struct dlq *d);

#endif
