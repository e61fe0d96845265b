/*
 * retry: the retry policy for Cosmos writes. Decides what an HTTP status (or a transport
 * failure) means, and how long to wait before the next attempt (capped exponential backoff
 * with jitter, never shorter than the server's x-ms-retry-after-ms).
 */
#ifndef ORDERSINK_RETRY_H
#define ORDERSINK_RETRY_H

#include <stdint.h>

enum retry_verdict {
    RETRY_DONE,   /* durable: 2xx */
    RETRY_AGAIN,  /* transient: 408, 410, 429, 449, 5xx, connection errors */
    RETRY_REJECT, /* the document can never be written: other 4xx -> dead letter */
    RETRY_FATAL,  /* 401/403 (key or clock), 404 (database/container missing) */
};

struct retry_policy {
    int max_attempts; /* attempts per write, the first one included */
    int64_t base_ms;
    int64_t max_ms;
};

/* http_status is 0 when transport_failed is non-zero (no answer). */
enum retry_verdict retry_classify(long http_status, int transport_failed);

/*
 * Delay before attempt number failures+1, after `failures` failed attempts (>= 1):
 * exactly retry_after_ms when the server sent one (>= 0, as Cosmos's x-ms-retry-after-ms);
 * otherwise uniform in [e/2, e] with e = min(max_ms, base_ms * 2^(failures-1)), chosen by rnd.
 */
int64_t retry_backoff_ms(const struct retry_policy *p, int failures, int64_t retry_after_ms,
                         uint32_t rnd);

#endif
