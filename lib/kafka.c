/*
 * kafka: client configuration, consumer creation, rebalance callback and commits.
 */
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka_group.h"
#include "kafka_offsets.h"
#include "log.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                   size_t errsz)
{
    char msg[256];
    if (rd_kafka_conf_set(conf, name, value, msg, sizeof(msg)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errsz, "kafka: %s: %s", name, msg);
        return -1;
    }
    return 0;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level l = level <= 3   ? LOG_ERROR
                       : level == 4 ? LOG_WARN
                       : level <= 6 ? LOG_INFO
                                    : LOG_DEBUG;
    LOG(l, buf, LF_STR("component", "librdkafka"), LF_STR("facility", fac),
        LF_STR("client", rk ? rd_kafka_name(rk) : ""));
}

int kafka_conf_set_default(const struct cfg *c, rd_kafka_conf_t *conf, const char *name,
                           const char *value, char *err, size_t errsz)
{
    if (cfg_librdkafka_get(c, name))
        return 0; /* passed through by the user: theirs wins */
    return kafka_conf_set(conf, name, value, err, errsz);
}

/* Maps the security settings (and the Event Hubs preset) onto librdkafka properties. */
static int kafka_conf_security(const struct cfg *c, rd_kafka_conf_t *conf, char *err, size_t errsz)
{
    struct {
        const char *name, *value;
    } props[] = {
        {"security.protocol", c->kafka_security_protocol},
        {"sasl.mechanisms", c->kafka_sasl_mechanism},
        {"sasl.username", c->kafka_sasl_username},
        {"sasl.password", c->kafka_sasl_password},
        {"ssl.ca.location", c->kafka_ssl_ca_file},
        {"ssl.certificate.location", c->kafka_ssl_cert_file},
        {"ssl.key.location", c->kafka_ssl_key_file},
        {"ssl.key.password", c->kafka_ssl_key_password},
        /* Verification on, host names included, unless explicitly turned off. */
        {"enable.ssl.certificate.verification",
         c->kafka_insecure_skip_tls_verify ? "false" : "true"},
        {"ssl.endpoint.identification.algorithm",
         c->kafka_insecure_skip_tls_verify ? "none" : "https"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (props[i].value && kafka_conf_set(conf, props[i].name, props[i].value, err, errsz))
            return -1;
    if (c->eventhubs_connection_string) {
        /* Microsoft's recommended client settings for the Event Hubs Kafka endpoint
         * (../shared/RIG.md): idle connections are closed by the service after 240 s. */
        static const char *const eh[][2] = {{"socket.keepalive.enable", "true"},
                                            {"metadata.max.age.ms", "180000"},
                                            {"connections.max.idle.ms", "180000"}};
        for (size_t i = 0; i < sizeof(eh) / sizeof(eh[0]); i++)
            if (kafka_conf_set(conf, eh[i][0], eh[i][1], err, errsz))
                return -1;
    }
    return 0;
}

rd_kafka_conf_t *kafka_conf_new(const struct cfg *c, const char *client_id, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, errsz, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (kafka_conf_set(conf, "bootstrap.servers", c->kafka_bootstrap_servers, err, errsz) ||
        kafka_conf_set(conf, "client.id", client_id, err, errsz) ||
        kafka_conf_set(conf, "log.connection.close", "false", err, errsz) ||
        kafka_conf_security(c, conf, err, errsz))
        goto fail;
    for (size_t i = 0; i < c->librdkafka_count; i++)
        if (kafka_conf_set(conf, c->librdkafka[i].name, c->librdkafka[i].value, err, errsz))
            goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void kafka_log_partitions(const char *what, const rd_kafka_topic_partition_list_t *parts)
{
    char list[512];
    size_t n = 0;
    list[0] = '\0';
    for (int i = 0; i < parts->cnt && n + 16 < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "",
                              parts->elems[i].partition);
    LOG(LOG_INFO, what, LF_INT("count", parts->cnt), LF_STR("partitions", list));
}

static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kafka_consumer_hooks *hooks = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        int64_t t0 = clock_mono_ms();
        kafka_log_partitions("partitions assigned", parts);
        char why[512];
        rd_kafka_topic_partition_list_t *committed = NULL;
        if (kafka_commit_start_positions(rk, parts, hooks->start_at_latest, hooks->offsets_retry_ms,
                                         &committed, why, sizeof(why)))
            LOG(LOG_ERROR, "cannot commit the start positions of new partitions",
                LF_STR("error", why));
        if (!committed) { /* the offsets are not known: the hook gets them as invalid */
            committed = rd_kafka_topic_partition_list_copy(parts);
            for (int i = 0; committed && i < committed->cnt; i++)
                committed->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        }
        /* Assigned with the group's offsets just read: librdkafka fetches from there at once
         * instead of asking for the committed offsets again (measured: the first message came
         * ~100 ms after the assignment that way; docs/benchmarks.md, "Start-up"). Invalid
         * offsets leave it to librdkafka as before. */
        rd_kafka_topic_partition_list_t *start = committed ? committed : parts;
        rd_kafka_error_t *e = NULL;
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, start);
        else
            rd_kafka_assign(rk, start);
        if (e) {
            LOG(LOG_ERROR, "assign failed", LF_STR("error", rd_kafka_error_string(e)));
            rd_kafka_error_destroy(e);
        }
        if (hooks->after_assign)
            hooks->after_assign(rk, committed ? committed : parts, hooks->opaque);
        if (committed)
            rd_kafka_topic_partition_list_destroy(committed);
        LOG(LOG_INFO, "partitions ready", LF_INT("count", parts->cnt),
            LF_INT("ms", clock_mono_ms() - t0));
        return;
    }
    kafka_log_partitions("partitions revoked", parts);
    if (hooks->before_revoke)
        hooks->before_revoke(rk, parts, rd_kafka_assignment_lost(rk), hooks->opaque);
    if (cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

int kafka_error_is_fatal(rd_kafka_resp_err_t err, const char *reason)
{
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
        return reason && (strstr(reason, "SSL routines") || strstr(reason, "SSL alert"));
    return err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
           err == RD_KAFKA_RESP_ERR__SSL || err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
           err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
           err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

/* Records the first fatal error: its reason is written before set is published. */
static void kafka_fatal_record(struct kafka_fatal *f, int err, const char *reason)
{
    if (__atomic_exchange_n(&f->claimed, 1, __ATOMIC_ACQ_REL))
        return;
    snprintf(f->reason, sizeof(f->reason), "%s: %s", rd_kafka_err2name(err),
             reason ? reason : rd_kafka_err2str(err));
    __atomic_store_n(&f->set, 1, __ATOMIC_RELEASE);
}

int kafka_fatal_note(struct kafka_fatal *f, int err, const char *reason)
{
    if (!kafka_error_is_fatal((rd_kafka_resp_err_t)err, reason))
        return 0;
    kafka_fatal_record(f, err, reason);
    return 1;
}

int kafka_fatal_is_set(const struct kafka_fatal *f)
{
    return __atomic_load_n(&f->set, __ATOMIC_ACQUIRE);
}

static void kafka_consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct kafka_consumer_hooks *hooks = opaque;
    if (!kafka_fatal_note(&hooks->fatal, err, reason))
        LOG(LOG_WARN, "kafka client error", LF_STR("code", rd_kafka_err2name(err)),
            LF_STR("error", reason));
}

/* The consumer's log callback: a broker without the consumer protocol is fatal (see
 * kafka_group_debug); debug lines the worker asked for only to see that are dropped. */
static void kafka_consumer_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kafka_consumer_hooks *hooks = rk ? rd_kafka_opaque(rk) : NULL;
    if (hooks && level >= 7) {
        if (kafka_group_log_says_unsupported(fac, buf))
            kafka_fatal_record(&hooks->fatal, RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, buf);
        if (!hooks->user_debug)
            return;
    }
    kafka_log_cb(rk, level, fac, buf);
}

rd_kafka_conf_t *kafka_consumer_conf_new(const struct cfg *c, char *err, size_t errsz)
{
    struct kafka_group_prop props[KAFKA_GROUP_PROPS_MAX];
    int n = kafka_group_props(c, rd_kafka_version(), props, err, errsz);
    if (n < 0)
        return NULL;
    rd_kafka_conf_t *conf = kafka_conf_new(c, "ordersink-worker", err, errsz);
    if (!conf)
        return NULL;
    /* The two commit settings are what at-least-once rests on: never overridable. */
    if (kafka_conf_set(conf, "group.id", c->kafka_group_id, err, errsz) ||
        kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errsz) ||
        kafka_conf_set(conf, "auto.offset.reset", c->kafka_auto_offset_reset, err, errsz))
        goto fail;
    for (int i = 0; i < n; i++)
        if (props[i].is_default
                ? kafka_conf_set_default(c, conf, props[i].name, props[i].value, err, errsz)
                : kafka_conf_set(conf, props[i].name, props[i].value, err, errsz))
            goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *kafka_consumer_new(const struct cfg *c, struct kafka_consumer_hooks *hooks, char *err,
                               size_t errsz)
{
    rd_kafka_conf_t *conf = kafka_consumer_conf_new(c, err, errsz);
    if (!conf)
        return NULL;
    const char *user_debug = cfg_librdkafka_get(c, "debug");
    char debug[256];
    int dbg = kafka_group_debug(c, user_debug, debug, sizeof(debug));
    if (dbg < 0 || (dbg > 0 && kafka_conf_set(conf, "debug", debug, err, errsz))) {
        if (dbg < 0)
            snprintf(err, errsz, "kafka: debug: value too long");
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    hooks->user_debug = user_debug != NULL;
    rd_kafka_conf_set_log_cb(conf, kafka_consumer_log_cb);
    hooks->start_at_latest = strcmp(c->kafka_auto_offset_reset, "latest") == 0;
    if (hooks->offsets_retry_ms <= 0)
        hooks->offsets_retry_ms = KAFKA_OFFSETS_RETRY_MS;
    rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_consumer_error_cb);
    rd_kafka_conf_set_opaque(conf, hooks);
    char msg[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, msg, sizeof(msg));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "kafka: cannot create consumer: %s", msg);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

int kafka_consumer_subscribe(rd_kafka_t *rk, const struct cfg *c, char *err, size_t errsz)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    if (!topics) {
        snprintf(err, errsz, "kafka: out of memory");
        return -1;
    }
    rd_kafka_topic_partition_list_add(topics, c->kafka_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errsz, "kafka: cannot subscribe to %s: %s", c->kafka_topic,
                 rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int kafka_commit_marks(rd_kafka_t *rk, const char *topic, const struct batch_mark *marks, size_t n,
                       char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    if (!list) {
        snprintf(err, errsz, "kafka: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topic, marks[i].partition)->offset =
            marks[i].next_offset;
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, list, 0);
    for (int i = 0; !e && i < list->cnt; i++)
        e = list->elems[i].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        snprintf(err, errsz, "kafka: commit failed: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* One CreateTopics round trip. Returns the topic's error (NO_ERROR when created). */
static rd_kafka_resp_err_t kafka_create_topic_once(rd_kafka_t *rk, const char *topic,
                                                   int partitions, int rf, char *err, size_t errsz)
{
    char msg[256] = "";
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, rf, msg, sizeof(msg));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    if (!nt || !q || !ao)
        goto out;
    rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, msg, sizeof(msg));
    rd_kafka_AdminOptions_set_request_timeout(ao, 30000, msg, sizeof(msg));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    ev = rd_kafka_queue_poll(q, 40000);
    if (!ev) {
        e = RD_KAFKA_RESP_ERR__TIMED_OUT;
        snprintf(msg, sizeof(msg), "no answer within 40 s");
    } else if ((e = rd_kafka_event_error(ev))) {
        snprintf(msg, sizeof(msg), "%s", rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        e = n ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
        const char *s = n ? rd_kafka_topic_result_error_string(res[0]) : NULL;
        snprintf(msg, sizeof(msg), "%s", s ? s : rd_kafka_err2str(e));
    }
out:
    if (e)
        snprintf(err, errsz, "kafka: create topic %s: %s", topic, *msg ? msg : "out of memory");
    if (ev)
        rd_kafka_event_destroy(ev);
    if (ao)
        rd_kafka_AdminOptions_destroy(ao);
    if (q)
        rd_kafka_queue_destroy(q);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    return e;
}

int kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions, char *err, size_t errsz)
{
    /* Replication factor: the broker's default (-1), else 1 for brokers that want a number. */
    rd_kafka_resp_err_t e = kafka_create_topic_once(rk, topic, partitions, -1, err, errsz);
    if (e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
        e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION || e == RD_KAFKA_RESP_ERR_INVALID_REQUEST ||
        e == RD_KAFKA_RESP_ERR__INVALID_ARG)
        e = kafka_create_topic_once(rk, topic, partitions, 1, err, errsz);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return 1;
    return e ? -1 : 0;
}

rd_kafka_conf_t *kafka_producer_conf_new(const struct cfg *c, const char *client_id, char *err,
                                         size_t errsz)
{
    rd_kafka_conf_t *conf = kafka_conf_new(c, client_id, err, errsz);
    if (conf && (kafka_conf_set(conf, "acks", "all", err, errsz) ||
                 kafka_conf_set(conf, "enable.idempotence", "true", err, errsz) ||
                 kafka_conf_set_default(c, conf, "message.timeout.ms", "30000", err, errsz))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
