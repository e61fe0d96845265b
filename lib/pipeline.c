/*
 * pipeline: one microbatch from consumed messages to committed offsets.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"

/* Per-message state while a batch is flushed. */
struct pipeline_entry {
    rd_kafka_message_t *msg;
    struct order_doc doc;
    enum order_reason reason;
    const char *dlq_reason; /* set when the message was dead-lettered */
    char detail[160];
};

int pipeline_init(struct pipeline *p, const struct cfg *c, struct cosmos_client *cosmos,
                  struct dlq *dlq, struct metrics *metrics)
{
    memset(p, 0, sizeof(*p));
    p->metrics = metrics;
    p->cfg = c;
    p->cosmos = cosmos;
    p->dlq = dlq;
    p->spec.id_field = c->order_id_field;
    p->spec.partition_key_path = c->cosmos_partition_key_path;
    return batch_init(&p->batch, (size_t)c->batch_max_count, (size_t)c->batch_max_bytes,
                      c->batch_max_wait_ms);
}

static void pipeline_release(struct pipeline *p)
{
    for (size_t i = 0; i < p->batch.count; i++)
        rd_kafka_message_destroy(p->batch.items[i].msg);
    batch_clear(&p->batch);
}

void pipeline_free(struct pipeline *p)
{
    pipeline_release(p);
    batch_free(&p->batch);
}

static int pipeline_fail(struct pipeline *p, const char *why)
{
    p->fatal = 1;
    snprintf(p->fatal_error, sizeof(p->fatal_error), "%s", why);
    pipeline_release(p);
    return -1;
}

int pipeline_add(struct pipeline *p, rd_kafka_message_t *m)
{
    if (batch_add(&p->batch, m, m->partition, m->offset, m->len, clock_mono_ms()) != 0) {
        rd_kafka_message_destroy(m);
        return pipeline_fail(p, "out of memory adding to the batch");
    }
    p->stats.consumed++;
    return 0;
}

int pipeline_due(const struct pipeline *p)
{
    return batch_ready(&p->batch, clock_mono_ms());
}

int pipeline_wait_ms(const struct pipeline *p, int cap_ms)
{
    int64_t left = batch_time_left_ms(&p->batch, clock_mono_ms());
    return left < 0 || left > cap_ms ? cap_ms : (int)left;
}

/* Parses every message; bad ones go to the DLQ at once. */
static int pipeline_parse(struct pipeline *p, struct pipeline_entry *e, size_t n)
{
    char err[512];
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = p->batch.items[i].msg;
        rd_kafka_timestamp_type_t tstype;
        struct order_meta meta = {rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                                  rd_kafka_message_timestamp(m, &tstype)};
        e[i].msg = m;
        e[i].reason = order_to_doc(&p->spec, m->payload, m->len, &meta, &e[i].doc, e[i].detail,
                                   sizeof(e[i].detail));
        if (e[i].reason == ORDER_NO_MEMORY)
            return pipeline_fail(p, "out of memory parsing an order");
        if (e[i].reason == ORDER_OK)
            continue;
        e[i].dlq_reason = order_reason_name(e[i].reason);
        if (dlq_send(p->dlq, m, e[i].dlq_reason, e[i].detail, err, sizeof(err)))
            return pipeline_fail(p, err);
    }
    return 0;
}

/* Builds the list of writes, one per distinct (partition key, id), newest offset wins. */
static size_t pipeline_plan_writes(struct pipeline *p, struct pipeline_entry *e, size_t n,
                                   struct batch_key *keys, struct cosmos_write *w, size_t *map)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i].reason == ORDER_OK)
            keys[k++] = (struct batch_key){e[i].doc.id, e[i].doc.pk_json, e[i].msg->offset,
                                           e[i].msg->partition, 0};
    size_t folded = batch_coalesce(keys, k);
    if (folded == (size_t)-1)
        folded = 0; /* out of memory: write every version, still correct, in offset order */
    p->stats.coalesced += folded;
    size_t nw = 0, ki = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].reason != ORDER_OK)
            continue;
        if (!keys[ki++].superseded) {
            w[nw] = (struct cosmos_write){.id = e[i].doc.id,
                                          .pk_json = e[i].doc.pk_json,
                                          .body = e[i].doc.body,
                                          .body_len = e[i].doc.body_len};
            map[nw++] = i;
        }
    }
    return nw;
}

/* Dead-letters what Cosmos rejected, waits for every DLQ ack, then commits. */
static int pipeline_settle(struct pipeline *p, struct pipeline_entry *e, struct cosmos_write *w,
                           size_t nw, const size_t *map)
{
    char err[512], detail[320];
    for (size_t j = 0; j < nw; j++) {
        if (w[j].outcome == COSMOS_WRITTEN) {
            p->stats.written++;
            continue;
        }
        snprintf(detail, sizeof(detail), "HTTP %d: %s", w[j].status, w[j].error);
        e[map[j]].dlq_reason = "cosmos_rejected";
        if (dlq_send(p->dlq, e[map[j]].msg, "cosmos_rejected", detail, err, sizeof(err)))
            return pipeline_fail(p, err);
    }
    unsigned long before = dlq_delivered(p->dlq);
    if (dlq_flush(p->dlq, 30000, err, sizeof(err)) != 0)
        return pipeline_fail(p, err);
    p->stats.dead_lettered += dlq_delivered(p->dlq) - before;
    struct batch_mark *marks = malloc(p->batch.count * sizeof(*marks));
    if (!marks)
        return pipeline_fail(p, "out of memory committing");
    size_t nm = batch_watermarks(&p->batch, marks);
    if (kafka_commit_marks(p->consumer, p->cfg->kafka_topic, marks, nm, err, sizeof(err))) {
        /* Everything is durable; a failed commit only means redelivery (upserts are
         * idempotent), e.g. after the group rebalanced under us. */
        p->stats.commit_failures++;
        LOG(LOG_WARN, "commit failed; the batch will be redelivered", LF_STR("error", err));
    } else {
        p->stats.commits++;
    }
    free(marks);
    return 0;
}

/* Publishes the batch to the metrics registry: one lock per batch. */
static void pipeline_publish(struct pipeline *p, const struct pipeline_entry *e, size_t n,
                             int64_t t0)
{
    if (!p->metrics)
        return;
    struct metrics *m = p->metrics;
    int64_t now = clock_wall_ms();
    metrics_lock(m);
    m->counters = p->stats;
    m->cosmos = *cosmos_client_stats(p->cosmos);
    metrics_observe(&m->batch_size, (double)n);
    metrics_observe(&m->batch_seconds, (double)(clock_mono_ms() - t0) / 1000.0);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(e[i].msg, &type);
        if (ts >= 0)
            metrics_observe(&m->e2e_seconds, (double)(now - ts) / 1000.0);
        if (e[i].dlq_reason)
            metrics_count_reason(m, e[i].dlq_reason);
    }
    metrics_unlock(m);
}

int pipeline_flush(struct pipeline *p)
{
    size_t n = p->batch.count;
    if (n == 0)
        return 0;
    int64_t t0 = clock_mono_ms();
    struct pipeline_entry *e = calloc(n, sizeof(*e));
    struct batch_key *keys = calloc(n, sizeof(*keys));
    struct cosmos_write *w = calloc(n, sizeof(*w));
    size_t *map = calloc(n, sizeof(*map));
    int rc = -1;
    char err[512];
    if (!e || !keys || !w || !map) {
        pipeline_fail(p, "out of memory flushing a batch");
        goto out;
    }
    if (pipeline_parse(p, e, n) != 0)
        goto out;
    size_t nw = pipeline_plan_writes(p, e, n, keys, w, map);
    enum cosmos_result r = cosmos_upsert_all(p->cosmos, w, nw, p->deadline_ms, err, sizeof(err));
    if (r != COSMOS_OK) {
        pipeline_fail(p, err);
        goto out;
    }
    if (pipeline_settle(p, e, w, nw, map) != 0)
        goto out;
    p->stats.batches++;
    pipeline_publish(p, e, n, t0);
    LOG(LOG_DEBUG, "batch done", LF_INT("messages", n), LF_INT("writes", nw),
        LF_INT("ms", clock_mono_ms() - t0));
    pipeline_release(p);
    rc = 0;
out:
    for (size_t i = 0; e && i < n; i++)
        order_doc_free(&e[i].doc);
    free(e);
    free(keys);
    free(w);
    free(map);
    return rc;
}
