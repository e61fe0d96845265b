/*
 * kafka: librdkafka client setup shared by worker and producer (bootstrap, logging routed to
 * lib/log), the consumer's rebalance handling (commit start positions of new partitions through
 * lib/kafka_offsets, let the owner flush before partitions are revoked) and synchronous offset
 * commits.
 */
#ifndef ORDERSINK_KAFKA_H
#define ORDERSINK_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"

/* Called before partitions are taken away, so their batches can be written and committed;
 * lost = 1 when the group already gave them to another member (commits would fail). */
typedef void (*kafka_revoke_fn)(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                                int lost, void *opaque);

/* Called after partitions are assigned; each element's offset is the group's committed
 * offset for it (after the start-position commit), negative when it could not be read. */
typedef void (*kafka_assign_fn)(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                                void *opaque);
/* Called with librdkafka's statistics JSON (statistics.interval.ms). */

/* The first fatal client error (authentication, TLS, authorization) an error callback saw. */
struct kafka_fatal {
    int set;     /* read with kafka_fatal_is_set: written by librdkafka's threads */
    int claimed; /* the first writer's; the reason is complete once set is 1 */
    char reason[512];
};

/* Records err/reason in f when it is fatal (see kafka_error_is_fatal). Returns 1 if so. */
int kafka_fatal_note(struct kafka_fatal *f, int err, const char *reason);

/* 1 once a fatal error is recorded in f; f->reason is then complete. Any thread. */
int kafka_fatal_is_set(const struct kafka_fatal *f);

struct kafka_consumer_hooks {
    kafka_revoke_fn before_revoke;
    kafka_assign_fn after_assign;
    void *opaque;
    int start_at_latest;      /* set by kafka_consumer_new from kafka.auto_offset_reset */
    int64_t offsets_retry_ms; /* start-position commit retries; 0: KAFKA_OFFSETS_RETRY_MS */
    struct kafka_fatal fatal; /* set by the consumer's error and log callbacks */
    int user_debug;           /* set by kafka_consumer_new: librdkafka "debug" passed through */
};

/*
 * A conf with what every client shares: bootstrap, security (SASL/TLS, the Event Hubs
 * preset), logging, then the user's librdkafka passthrough properties, which win over all
 * of the above. Returns NULL with err filled (librdkafka's own message for a bad property).
 */
rd_kafka_conf_t *kafka_conf_new(const struct cfg *c, const char *client_id, char *err,
                                size_t errsz);

/* Sets one property; on failure fills err with "kafka: <name>: <librdkafka's message>". */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                   size_t errsz);

/* Sets name=value unless the user passed name through (then theirs stays). */
int kafka_conf_set_default(const struct cfg *c, rd_kafka_conf_t *conf, const char *name,
                           const char *value, char *err, size_t errsz);

/*
 * The consumer's conf: kafka_conf_new, manual commits, no offset store, the group protocol's
 * and the prefetch queue's properties (lib/kafka_group). Returns NULL with err filled.
 */
rd_kafka_conf_t *kafka_consumer_conf_new(const struct cfg *c, char *err, size_t errsz);

/*
 * Creates the consumer (kafka_consumer_conf_new + callbacks), not yet subscribed: it connects
 * to the brokers meanwhile. hooks must outlive the consumer; they are called only from
 * rd_kafka_consumer_poll. Returns NULL with err filled.
 */
rd_kafka_t *kafka_consumer_new(const struct cfg *c, struct kafka_consumer_hooks *hooks, char *err,
                               size_t errsz);

/* Subscribes the consumer to kafka.topic. Returns 0, or -1 with err filled. */
int kafka_consumer_subscribe(rd_kafka_t *rk, const struct cfg *c, char *err, size_t errsz);

/* Synchronously commits next offsets per partition of topic. Returns 0 or -1 with err. */
int kafka_commit_marks(rd_kafka_t *rk, const char *topic, const struct batch_mark *marks, size_t n,
                       char *err, size_t errsz);

/* A conf for an idempotent acks=all producer (kafka_conf_new + those settings). */
rd_kafka_conf_t *kafka_producer_conf_new(const struct cfg *c, const char *client_id, char *err,
                                         size_t errsz);

/* Creates topic with the admin API: 0 created, 1 it already existed, -1 error (err filled). */
int kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions, char *err, size_t errsz);

/*
 * 1 for errors after which the client cannot go on: fatal, authentication, TLS (also the
 * transport errors carrying a TLS alert, which is how a refused client certificate shows up
 * in librdkafka 2.0.2), authorization. reason may be NULL.
 */
int kafka_error_is_fatal(rd_kafka_resp_err_t err, const char *reason);

#endif
