/*
 * watermarks: periodic asynchronous ListOffsets (latest, read_uncommitted: the high watermark
 * KEDA reads too) on a queue of our own, polled with a zero timeout.
 */
#include "watermarks.h"

#include <stdlib.h>
#include <string.h>

/* How long the brokers get to answer one request; a lost answer costs one interval or so. */
#define WATERMARKS_REQUEST_TIMEOUT_MS 5000

struct watermarks {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q; /* the answers */
    rd_kafka_AdminOptions_t *opts;
    int64_t interval_ms;
    int64_t asked_ms; /* monotonic: when the last request was sent */
    int outstanding;  /* a request has not been answered yet */
    int64_t *high;    /* by partition id; WATERMARKS_UNKNOWN where none was learnt */
    size_t nhigh;
};

struct watermarks *watermarks_new(rd_kafka_t *rk, int64_t interval_ms)
{
    struct watermarks *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    char err[256];
    w->rk = rk;
    w->interval_ms = interval_ms;
    w->q = rd_kafka_queue_new(rk);
    w->opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTOFFSETS);
    if (!w->q || !w->opts ||
        rd_kafka_AdminOptions_set_request_timeout(w->opts, WATERMARKS_REQUEST_TIMEOUT_MS, err,
                                                  sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        watermarks_free(w);
        return NULL;
    }
    return w;
}

void watermarks_free(struct watermarks *w)
{
    if (!w)
        return;
    if (w->opts)
        rd_kafka_AdminOptions_destroy(w->opts);
    if (w->q)
        rd_kafka_queue_destroy(w->q); /* an answer still to come is dropped with it */
    free(w->high);
    free(w);
}

/* Records partition's high watermark, growing the table. Returns 0 or -1 (out of memory). */
static int watermarks_set(struct watermarks *w, int32_t partition, int64_t high)
{
    if (partition < 0)
        return 0;
    if ((size_t)partition >= w->nhigh) {
        size_t n = (size_t)partition + 1;
        int64_t *grown = realloc(w->high, n * sizeof(*grown));
        if (!grown)
            return -1;
        for (size_t i = w->nhigh; i < n; i++)
            grown[i] = WATERMARKS_UNKNOWN;
        w->high = grown;
        w->nhigh = n;
    }
    w->high[partition] = high;
    return 0;
}

int watermarks_collect(struct watermarks *w)
{
    if (!w->outstanding)
        return 0;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(w->q, 0);
    if (!ev)
        return 0;
    const rd_kafka_ListOffsets_result_t *res = rd_kafka_event_ListOffsets_result(ev);
    if (res && !rd_kafka_event_error(ev)) {
        size_t n = 0;
        const rd_kafka_ListOffsetsResultInfo_t **infos = rd_kafka_ListOffsets_result_infos(res, &n);
        for (size_t i = 0; i < n; i++) {
            const rd_kafka_topic_partition_t *tp =
                rd_kafka_ListOffsetsResultInfo_topic_partition(infos[i]);
            if (!tp->err && tp->offset >= 0 && watermarks_set(w, tp->partition, tp->offset) != 0)
                break; /* out of memory: that partition stays unknown */
        }
    }
    rd_kafka_event_destroy(ev);
    w->outstanding = 0;
    return 1;
}

int watermarks_due(const struct watermarks *w, int64_t now_ms)
{
    return !w->outstanding && (w->asked_ms == 0 || now_ms - w->asked_ms >= w->interval_ms);
}

void watermarks_ask(struct watermarks *w, const char *topic, const int32_t *parts, size_t n,
                    int64_t now_ms)
{
    if (w->outstanding || n == 0)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topic, parts[i])->offset =
            RD_KAFKA_OFFSET_SPEC_LATEST;
    rd_kafka_ListOffsets(w->rk, list, w->opts, w->q); /* copies list */
    rd_kafka_topic_partition_list_destroy(list);
    w->outstanding = 1;
    w->asked_ms = now_ms;
}

int64_t watermarks_high(const struct watermarks *w, int32_t partition)
{
    return partition >= 0 && (size_t)partition < w->nhigh ? w->high[partition] : WATERMARKS_UNKNOWN;
}
