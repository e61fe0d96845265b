/*
 * kafka_offsets: committed offsets, watermarks and start-position commits, retried through
 * the broker's transient states within a bounded time.
 */
#include "kafka_offsets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "retry.h"

/* Backoff between attempts: 100 ms doubling up to 2 s, with jitter (lib/retry). */
static const struct retry_policy kafka_offsets_backoff = {0, 100, 2000};
/* Longest wait for one answer: a dead broker costs one attempt, not the whole budget. */
#define KAFKA_OFFSETS_ATTEMPT_MS 10000

int kafka_error_is_retriable(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
        return 1;
    default:
        return 0;
    }
}

/* The call's error, else the first partition's. */
static rd_kafka_resp_err_t kafka_first_error(rd_kafka_resp_err_t e,
                                             const rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; !e && i < list->cnt; i++)
        e = list->elems[i].err;
    return e;
}

/* One attempt; returns the first error (the call's or a partition's). */
typedef rd_kafka_resp_err_t (*kafka_attempt_fn)(rd_kafka_t *rk,
                                                rd_kafka_topic_partition_list_t *list,
                                                int timeout_ms, int latest);

/* The group's committed offset of each partition into list (RD_KAFKA_OFFSET_INVALID: none). */
static rd_kafka_resp_err_t kafka_attempt_committed(rd_kafka_t *rk,
                                                   rd_kafka_topic_partition_list_t *list,
                                                   int timeout_ms, int latest)
{
    (void)latest;
    for (int i = 0; i < list->cnt; i++) {
        list->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    return kafka_first_error(rd_kafka_committed(rk, list, timeout_ms), list);
}

/* Each partition's high (latest) or low watermark into list. */
static rd_kafka_resp_err_t kafka_attempt_watermarks(rd_kafka_t *rk,
                                                    rd_kafka_topic_partition_list_t *list,
                                                    int timeout_ms, int latest)
{
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *p = &list->elems[i];
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &low, &high, timeout_ms);
        if (e)
            return e;
        p->offset = latest ? high : low;
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* A synchronous commit of the offsets in list. */
static rd_kafka_resp_err_t kafka_attempt_commit(rd_kafka_t *rk,
                                                rd_kafka_topic_partition_list_t *list,
                                                int timeout_ms, int latest)
{
    (void)timeout_ms, (void)latest;
    for (int i = 0; i < list->cnt; i++)
        list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    return kafka_first_error(rd_kafka_commit(rk, list, 0), list);
}

/*
 * Runs attempt until it succeeds, fails with an error that is not transient, or the monotonic
 * deadline (ms) would pass before the next attempt. Returns 0, or -1 with err: "kafka: <what>:
 * <error>[ (still failing after N ms, K attempt(s))]". An attempt waits for its answer at most
 * what is left (at least 1 s, at most 10 s); a commit takes no timeout (librdkafka decides
 * when it fails), so the deadline can be overrun by one attempt.
 */
static int kafka_retry(rd_kafka_t *rk, kafka_attempt_fn attempt,
                       rd_kafka_topic_partition_list_t *list, int latest, int64_t deadline,
                       const char *what, char *err, size_t errsz)
{
    int64_t start = clock_mono_ms();
    uint32_t rng = (uint32_t)start;
    for (int attempts = 1;; attempts++) {
        int64_t left = deadline - clock_mono_ms();
        int timeout = (int)(left < 1000                       ? 1000
                            : left > KAFKA_OFFSETS_ATTEMPT_MS ? KAFKA_OFFSETS_ATTEMPT_MS
                                                              : left);
        rd_kafka_resp_err_t e = attempt(rk, list, timeout, latest);
        if (!e)
            return 0;
        rng = rng * 1103515245u + 12345u;
        int64_t wait = retry_backoff_ms(&kafka_offsets_backoff, attempts, -1, rng >> 8);
        int64_t now = clock_mono_ms();
        if (!kafka_error_is_retriable(e)) {
            snprintf(err, errsz, "kafka: %s: %s", what, rd_kafka_err2str(e));
            return -1;
        }
        if (now + wait >= deadline) {
            snprintf(err, errsz, "kafka: %s: %s (still failing after %lld ms, %d attempt(s))", what,
                     rd_kafka_err2str(e), (long long)(now - start), attempts);
            return -1;
        }
        LOG(LOG_INFO, "transient Kafka error, retrying", LF_STR("operation", what),
            LF_STR("error", rd_kafka_err2name(e)), LF_INT("attempt", attempts),
            LF_INT("wait_ms", wait));
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

int kafka_commit_start_positions(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                                 int start_at_latest, int64_t retry_ms,
                                 rd_kafka_topic_partition_list_t **committed_out, char *err,
                                 size_t errsz)
{
    int rc = -1;
    int64_t deadline = clock_mono_ms() + retry_ms; /* one budget for all three steps */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_topic_partition_list_t *start = rd_kafka_topic_partition_list_new(parts->cnt);
    if (committed_out)
        *committed_out = NULL;
    if (!committed || !start) {
        snprintf(err, errsz, "kafka: out of memory");
        goto out;
    }
    if (kafka_retry(rk, kafka_attempt_committed, committed, 0, deadline,
                    "read committed offsets of new partitions", err, errsz))
        goto out;
    for (int i = 0; i < committed->cnt; i++)
        if (committed->elems[i].offset < 0)
            rd_kafka_topic_partition_list_add(start, committed->elems[i].topic,
                                              committed->elems[i].partition);
    if (start->cnt == 0 ||
        (!kafka_retry(rk, kafka_attempt_watermarks, start, start_at_latest, deadline,
                      "read watermarks of new partitions", err, errsz) &&
         !kafka_retry(rk, kafka_attempt_commit, start, 0, deadline, "commit start positions", err,
                      errsz)))
        rc = 0;
    if (rc == 0 && start->cnt > 0)
        LOG(LOG_INFO, "committed start positions", LF_INT("partitions", start->cnt));
    /* The group's offsets now: what it had, or the start position just committed. */
    for (int i = 0; rc == 0 && i < start->cnt; i++)
        rd_kafka_topic_partition_list_find(committed, start->elems[i].topic,
                                           start->elems[i].partition)
            ->offset = start->elems[i].offset;
    if (rc == 0 && committed_out) {
        *committed_out = committed;
        committed = NULL;
    }
out:
    if (committed)
        rd_kafka_topic_partition_list_destroy(committed);
    if (start)
        rd_kafka_topic_partition_list_destroy(start);
    return rc;
}

/* Partition count of topic from the cluster's metadata; -1 with err on failure. */
static int kafka_partition_count(rd_kafka_t *rk, const char *topic, char *err, size_t errsz)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    int count = -1;
    if (!e && md->topic_cnt == 1 && !md->topics[0].err)
        count = md->topics[0].partition_cnt;
    else
        snprintf(err, errsz, "kafka: cannot describe topic %s: %s", topic,
                 e                   ? rd_kafka_err2str(e)
                 : md->topic_cnt > 0 ? rd_kafka_err2str(md->topics[0].err)
                                     : "not in the metadata");
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return count;
}

/* A consumer of c's group that never subscribes: reads the group's offsets only. */
static rd_kafka_t *kafka_offsets_client(const struct cfg *c, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = kafka_conf_new(c, "ordersink-lag", err, errsz);
    if (!conf || kafka_conf_set(conf, "group.id", c->kafka_group_id, err, errsz) ||
        kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char msg[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, msg, sizeof(msg));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "kafka: %s", msg);
    }
    return rk;
}

int kafka_group_offsets(const struct cfg *c, int64_t retry_ms, struct lag_partition **out,
                        size_t *n, char *err, size_t errsz)
{
    *out = NULL;
    *n = 0;
    rd_kafka_t *rk = kafka_offsets_client(c, err, errsz);
    if (!rk)
        return -1;
    int rc = -1;
    rd_kafka_topic_partition_list_t *committed = NULL, *low = NULL, *high = NULL;
    int count = kafka_partition_count(rk, c->kafka_topic, err, errsz);
    if (count < 0)
        goto out;
    committed = rd_kafka_topic_partition_list_new(count);
    low = rd_kafka_topic_partition_list_new(count);
    high = rd_kafka_topic_partition_list_new(count);
    *out = calloc((size_t)count + 1, sizeof(**out));
    if (!committed || !low || !high || !*out) {
        snprintf(err, errsz, "kafka: out of memory");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        rd_kafka_topic_partition_list_add(committed, c->kafka_topic, i);
        rd_kafka_topic_partition_list_add(low, c->kafka_topic, i);
        rd_kafka_topic_partition_list_add(high, c->kafka_topic, i);
    }
    int64_t deadline = clock_mono_ms() + retry_ms;
    if (kafka_retry(rk, kafka_attempt_committed, committed, 0, deadline,
                    "read the group's committed offsets", err, errsz) ||
        kafka_retry(rk, kafka_attempt_watermarks, high, 1, deadline, "read watermarks", err,
                    errsz) ||
        kafka_retry(rk, kafka_attempt_watermarks, low, 0, deadline, "read log start offsets", err,
                    errsz))
        goto out;
    for (int i = 0; i < count; i++)
        (*out)[i] = (struct lag_partition){
            .partition = i,
            .committed =
                committed->elems[i].offset >= 0 ? committed->elems[i].offset : LAG_NO_OFFSET,
            .low = low->elems[i].offset >= 0 ? low->elems[i].offset : LAG_NO_OFFSET,
            .high = high->elems[i].offset,
            .previous = LAG_NO_OFFSET};
    *n = (size_t)count;
    rc = 0;
out:
    if (committed)
        rd_kafka_topic_partition_list_destroy(committed);
    if (low)
        rd_kafka_topic_partition_list_destroy(low);
    if (high)
        rd_kafka_topic_partition_list_destroy(high);
    rd_kafka_destroy(rk);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
