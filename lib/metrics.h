/*
 * metrics: what the worker is doing, for operators. Owns the counters and gauges (published
 * by the main thread under one mutex every loop turn that changed them; histograms and dead
 * letters by reason once per batch), the live health signals (atomics touched from the hot
 * loops), and the Prometheus text exposition of all of it.
 */
#ifndef ORDERSINK_METRICS_H
#define ORDERSINK_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmos.h"

/* Counters the pipeline keeps (also the fields of the progress log line). */
struct metrics_counters {
    uint64_t consumed;      /* messages taken into batches */
    uint64_t written;       /* documents Cosmos acknowledged */
    uint64_t coalesced;     /* orders folded into a newer version in the same batch */
    uint64_t dead_lettered; /* messages sent to the DLQ and acknowledged */
    uint64_t batches;
    uint64_t commits;
    uint64_t commit_failures;
    uint64_t commits_refused; /* stale assignment, or not above the committed offset */
};

#define METRICS_MAX_BUCKETS 16
#define METRICS_MAX_REASONS 16

struct metrics_histogram {
    const double *bounds; /* upper bounds, ascending; +Inf is implicit */
    size_t nbounds;
    uint64_t counts[METRICS_MAX_BUCKETS + 1];
    double sum;
    uint64_t count;
};

struct metrics_lag {
    int32_t partition;
    int64_t lag;
};

/* Signals written from the hot loops without the lock. */
struct metrics_live {
    _Atomic int64_t heartbeat_ms;  /* monotonic ms of the last sign of progress */
    _Atomic int joined;            /* the consumer got an assignment from the group */
    _Atomic int assigned;          /* partitions currently assigned */
    _Atomic int paused;            /* partitions currently paused */
    _Atomic int batches_in_flight; /* closed batches being written */
    struct cosmos_live cosmos;     /* reachable, in flight */
};

struct metrics {
    pthread_mutex_t lock;
    struct metrics_counters counters;
    struct cosmos_stats cosmos;
    const char *reasons[METRICS_MAX_REASONS]; /* dead letters by reason (static strings) */
    uint64_t reason_counts[METRICS_MAX_REASONS];
    size_t nreasons;
    struct metrics_lag *lag;
    size_t nlag;
    struct metrics_histogram batch_size, batch_seconds, e2e_seconds;
    char version[64];
    struct metrics_live live;
};

/* Returns 0, or -1 when the mutex cannot be created. */
int metrics_init(struct metrics *m, const char *version);
void metrics_free(struct metrics *m);

void metrics_lock(struct metrics *m);
void metrics_unlock(struct metrics *m);

/* With the lock held: */
void metrics_observe(struct metrics_histogram *h, double value);
void metrics_count_reason(struct metrics *m, const char *reason); /* reason: static string */

/* Exports reason (a static string) at 0 until it is counted, so that the first increase of a
 * reason is an increase of a series Prometheus already has (rate() cannot see a new series'
 * first value). Before the health endpoint serves, or with the lock held. */
void metrics_declare_reason(struct metrics *m, const char *reason);

/* Replaces the per-partition lag gauges with lag[0..n) (copied). Takes the lock. Returns 0, or
 * -1 when out of memory (the old gauges stay). */
int metrics_set_lag(struct metrics *m, const struct metrics_lag *lag, size_t n);

/* Marks progress now (lock-free). */
void metrics_heartbeat(struct metrics *m);

/* The Prometheus text exposition (version 0.0.4), malloc'd; *len set. NULL if out of memory. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
