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
    unsigned long queued, acked, failed, delivered_total;
    char last_error[256];
};

static void dlq_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct dlq *d = opaque;
    if (m->err) {
        d->failed++;
        snprintf(d->last_error, sizeof(d->last_error), "%s", rd_kafka_err2str(m->err));
    } else {
        d->acked++;
        d->delivered_total++;
    }
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
             char *err, size_t errsz)
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
        RD_KAFKA_V_HEADER(DLQ_H_OFFSET, offset, -1), RD_KAFKA_V_END);
    if (e) {
        snprintf(err, errsz, "dlq: cannot queue dead letter for %s/%s/%s: %s", topic, partition,
                 offset, rd_kafka_err2str(e));
        return -1;
    }
    d->queued++;
    LOG(LOG_WARN, "dead-lettered", LF_STR("reason", reason), LF_STR("error", detail),
        LF_STR("topic", topic), LF_INT("partition", m->partition), LF_INT("offset", m->offset));
    return 0;
}

int dlq_flush(struct dlq *d, int timeout_ms, char *err, size_t errsz)
{
    if (d->queued == 0)
        return 0;
    rd_kafka_flush(d->rk, timeout_ms);
    int ok = d->failed == 0 && d->acked == d->queued;
    if (!ok)
        snprintf(err, errsz, "dlq: %lu of %lu dead letters to %s not acknowledged: %s",
                 d->queued - d->acked, d->queued, d->topic,
                 d->failed ? d->last_error : "timed out");
    d->queued = d->acked = d->failed = 0;
    return ok ? 0 : -1;
}

unsigned long dlq_delivered(const struct dlq *d)
{
    return d->delivered_total;
}
