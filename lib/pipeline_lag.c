/*
 * pipeline_lag: the consumer lag the worker reports, per assigned partition: the end offset
 * (lib/watermarks: asked every PIPELINE_LAG_INTERVAL_MS, so it keeps growing while the
 * partitions are paused for backpressure) minus the committed offset (lib/commit), by KEDA's
 * rules (lib/lag), the same number `worker lag` prints and KEDA scales on.
 */
#include <stdlib.h>
#include <string.h>

#include "lag.h"
#include "pipeline_internal.h"

/* The assigned partitions' lags into lag (room for p->commit.nparts). Returns how many are
 * known (an end offset was learnt); *assigned: how many partitions are assigned. */
static size_t pipeline_lag_fill(const struct pipeline *p, struct lag_partition *parts,
                                size_t *assigned)
{
    size_t n = 0;
    *assigned = 0;
    for (size_t i = 0; i < p->commit.nparts; i++) {
        const struct commit_part *cp = &p->commit.parts[i];
        if (!cp->assigned)
            continue;
        (*assigned)++;
        int64_t high = watermarks_high(p->watermarks, cp->partition);
        if (high == WATERMARKS_UNKNOWN)
            continue;
        /* An end offset asked before the latest commit may be below it: it is at least that. */
        if (cp->committed > high)
            high = cp->committed;
        parts[n++] = (struct lag_partition){.partition = cp->partition,
                                            .committed = cp->committed,
                                            .low = LAG_NO_OFFSET, /* not asked: high counts */
                                            .high = high,
                                            .previous = LAG_NO_OFFSET};
    }
    return n;
}

/* Publishes the lags now. Returns 0, or -1 when out of memory (the last ones stay). */
static int pipeline_lag_publish(struct pipeline *p)
{
    size_t cap = p->commit.nparts ? p->commit.nparts : 1, assigned;
    struct lag_partition *parts = malloc(cap * sizeof(*parts));
    struct metrics_lag *out = malloc(cap * sizeof(*out));
    if (!parts || !out) {
        free(parts);
        free(out);
        return -1;
    }
    size_t n = pipeline_lag_fill(p, parts, &assigned);
    struct lag_policy policy = {
        .offset_reset_latest = strcmp(p->cfg->kafka_auto_offset_reset, "latest") == 0,
        .allow_idle_consumers = 1, /* per partition: no cap */
        .lag_threshold = 1,        /* replicas are not wanted here; the rules need a threshold */
    };
    struct lag_result r;
    lag_compute(parts, n, &policy, &r);
    for (size_t i = 0; i < n; i++)
        out[i] = (struct metrics_lag){parts[i].partition, parts[i].lag};
    int rc = p->metrics ? metrics_set_lag(p->metrics, out, n) : 0;
    if (rc == 0) {
        p->lag_total = r.total;
        p->lag_assigned = assigned;
    }
    free(parts);
    free(out);
    return rc;
}

void pipeline_lag_step(struct pipeline *p, int64_t now_ms)
{
    if (!p->watermarks)
        return;
    int answered = watermarks_collect(p->watermarks);
    size_t assigned = 0;
    for (size_t i = 0; i < p->commit.nparts; i++)
        assigned += p->commit.parts[i].assigned != 0;
    if (assigned > 0 && watermarks_due(p->watermarks, now_ms)) {
        int32_t *ids = malloc(assigned * sizeof(*ids));
        if (ids) {
            size_t n = 0;
            for (size_t i = 0; i < p->commit.nparts; i++)
                if (p->commit.parts[i].assigned)
                    ids[n++] = p->commit.parts[i].partition;
            watermarks_ask(p->watermarks, p->cfg->kafka_topic, ids, n, now_ms);
            free(ids);
        }
    }
    if (answered || assigned != p->lag_assigned)
        pipeline_lag_publish(p);
}
