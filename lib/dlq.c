/*
 * dlq: idempotent librdkafka producer (acks=all) for dead letters, with delivery accounting.
 */
#include "dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "log.h"

struct dlq {
    rd_kafka_t *rk;
    char *topic;
    unsigned long outstanding, delivered_total;
    int abandoned; /* set by dlq_abandon: reports no longer touch tallies */
};

static void dlq_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct dlq *d = opaque;
    struct dlq_tally *t = d->abandoned ? NULL : m->_private;
    d->outstanding--;
    if (m->err) {
        if (t) {
            t->failed++;
            snprintf(t->error, sizeof(t->error), "%s", rd_kafka_err2str(m->err));
        }
    } else {
        d->delivered_total++;
        if (t)
            t->acked++;
    }
    if (t)
        t->pending--;
}

struct dlq *dlq_new(const struct cfg *c, char *err, size_t errsz)
{
    struct dlq *d = calloc(1, sizeof(*d));
    if (!d || !(d->topic = strdup(c->dlq_topic))) {
        free(d);
        snprintf(err, errsz, "dlq: out of memory");
        return NULL;
    }
    rd_kafka_conf_t *conf = kafka_producer_conf_new(c, "ordersink-dlq", err, errsz);
    if (!conf || kafka_conf_set_default(c, conf, "message.max.bytes", "10485760", err, errsz) ||
        kafka_conf_set_default(c, conf, "linger.ms", "5", err, errsz)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        dlq_free(d);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dlq_on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
    char msg[512];
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof(msg));
    if (!d->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "dlq: cannot create producer: %s", msg);
        dlq_free(d);
        return NULL;
    }
    return d;
}

void dlq_free(struct dlq *d)
{
    if (!d)
        return;
    if (d->rk) {
        rd_kafka_flush(d->rk, 5000);
        rd_kafka_destroy(d->rk);
    }
    free(d->topic);
    free(d);
}

int dlq_send(struct dlq *d, const rd_kafka_message_t *m, const char *reason, const char *detail,
             struct dlq_tally *tally, char *err, size_t errsz)
{
    char partition[16], offset[32];
    snprintf(partition, sizeof(partition), "%" PRId32, m->partition);
    snprintf(offset, sizeof(offset), "%" PRId64, m->offset);
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    rd_kafka_resp_err_t e = rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(d->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_HEADER(DLQ_H_REASON, reason, -1),
        RD_KAFKA_V_HEADER(DLQ_H_ERROR, detail ? detail : "", -1),
        RD_KAFKA_V_HEADER(DLQ_H_TOPIC, topic, -1),
        RD_KAFKA_V_HEADER(DLQ_H_PARTITION, partition, -1),
        RD_KAFKA_V_HEADER(DLQ_H_OFFSET, offset, -1), RD_KAFKA_V_OPAQUE(tally), RD_KAFKA_V_END);
    if (e) {
        snprintf(err, errsz, "dlq: cannot queue dead letter for %s/%s/%s: %s", topic, partition,
                 offset, rd_kafka_err2str(e));
        return -1;
    }
    d->outstanding++;
    if (tally)
        tally->pending++;
    LOG(LOG_WARN, "dead-lettered", LF_STR("reason", reason), LF_STR("error", detail),
        LF_STR("topic", topic), LF_INT("partition", m->partition), LF_INT("offset", m->offset));
    return 0;
}

void dlq_poll(struct dlq *d)
{
    rd_kafka_poll(d->rk, 0); /* also serves the producer's error events while idle */
}

void dlq_wake_fd(struct dlq *d, int fd)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(d->rk);
    if (!q)
        return;
    static const char one = 1;
    rd_kafka_queue_io_event_enable(q, fd, &one, 1);
    rd_kafka_queue_destroy(q);
}

unsigned long dlq_outstanding(const struct dlq *d)
{
    return d->outstanding;
}

int dlq_drain(struct dlq *d, int timeout_ms)
{
    if (d->outstanding)
        rd_kafka_flush(d->rk, timeout_ms);
    return d->outstanding ? -1 : 0;
}

void dlq_abandon(struct dlq *d)
{
    if (!d->outstanding)
        return;
    rd_kafka_purge(d->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(d->rk, 1000);
    d->abandoned = 1;
}

unsigned long dlq_delivered(const struct dlq *d)
{
    return d->delivered_total;
}
