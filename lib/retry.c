/* retry: status classification and backoff for Cosmos writes. */
#include "retry.h"

enum retry_verdict retry_classify(long status, int substatus, int transport_failed)
{
    if (transport_failed)
        return RETRY_AGAIN;
    if (status >= 200 && status < 300)
        return RETRY_DONE;
    switch (status) {
    case 403:
        if (substatus == 1014) /* the logical partition is full: that document only */
            return RETRY_REJECT;
        return substatus == 3 ? RETRY_AGAIN : RETRY_FATAL; /* 3: writes forbidden (failover) */
    case 401:
        return RETRY_FATAL;
    case 404:
        return substatus == 1002 ? RETRY_AGAIN : RETRY_FATAL; /* 1002: read session not there */
    case 413:
        return substatus == 3402 ? RETRY_AGAIN : RETRY_REJECT; /* 3402: batch answer too large */
    case 408:                                                  /* timeout */
    case 410: /* gone: a range split or moved (sub-status says which) */
    case 424: /* failed dependency: another operation of the batch failed first */
    case 429: /* throttled */
    case 449: /* retry with */
    case 502:
    case 503:
    case 504:
        return RETRY_AGAIN;
    case 500: /* an error of the service: not retried (retry guidance) */
        return RETRY_REJECT;
    default:
        break;
    }
    if (status >= 500)
        return RETRY_AGAIN;
    if (status >= 400)
        return RETRY_REJECT;
    return RETRY_AGAIN; /* 1xx/3xx are not answers Cosmos gives to a write */
}

int retry_range_gone(long status, int substatus)
{
    return status == 410 &&
           (substatus == 1002 || substatus == 1007 || substatus == 1008 || substatus == 1000);
}

int retry_counts(long status)
{
    return status != 429;
}

int64_t retry_backoff_ms(const struct retry_policy *p, int failures, int64_t retry_after_ms,
                         uint32_t rnd)
{
    if (retry_after_ms >= 0)
        return retry_after_ms;
    int64_t e = p->base_ms;
    for (int i = 1; i < failures && e < p->max_ms; i++)
        e *= 2;
    if (e > p->max_ms)
        e = p->max_ms;
    int64_t half = e / 2;
    int64_t d = half + (int64_t)(rnd % (uint64_t)(e - half + 1));
    return d;
}
