/*
 * retry: the retry policy for Cosmos writes. Decides what an HTTP status (or a transport
 * failure) means, and how long to wait before the next attempt (capped exponential backoff
 * with jitter, never shorter than the server's x-ms-retry-after-ms).
 */
#ifndef ORDERSINK_RETRY_H
#define ORDERSINK_RETRY_H

#include <stdint.h>

/* The service's retry guidance (docs/cosmos.md "Statuses"). */
enum retry_verdict {
    RETRY_DONE,   /* durable: 2xx */
    RETRY_AGAIN,  /* transient: 408, 410, 424, 429, 449, 413/3402, 403/3, 404/1002, 502-504
                     and other 5xx but 500, connection errors */
    RETRY_REJECT, /* that document cannot be written: 400, 409, 412, 413, 403/1014, 500 and
                     other 4xx -> dead letter with the status */
    RETRY_FATAL,  /* 401/403 (key or clock), 404 (database/container missing) */
};

struct retry_policy {
    int max_attempts; /* attempts per write, the first one included */
    int64_t base_ms;
    int64_t max_ms;
};

/* http_status is 0 when transport_failed is non-zero (no answer); substatus is
 * x-ms-substatus or the operation's subStatusCode (0 if none). */
enum retry_verdict retry_classify(long http_status, int substatus, int transport_failed);

/* 1 when the answer says the partition key range map is out of date (410 with sub-status
 * 1002 PartitionKeyRangeGone, 1007 CompletingSplit, 1008 CompletingPartitionMigration or
 * 1000 NameCacheIsStale): re-read the ranges, route again. */
int retry_range_gone(long http_status, int substatus);

/* 0 for throttling (429): back-pressure, not a failed attempt (it never counts toward
 * retry.max_attempts); 1 for every other retried status. */
int retry_counts(long http_status);

/*
 * Delay before attempt number failures+1, after `failures` failed attempts (>= 1):
 * exactly retry_after_ms when the server sent one (>= 0, as Cosmos's x-ms-retry-after-ms);
 * otherwise uniform in [e/2, e] with e = min(max_ms, base_ms * 2^(failures-1)), chosen by rnd.
 */
int64_t retry_backoff_ms(const struct retry_policy *p, int failures, int64_t retry_after_ms,
                         uint32_t rnd);

#endif
