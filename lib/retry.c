/* retry: status classification and backoff for Cosmos writes. */
#include "retry.h"

enum retry_verdict retry_classify(long status, int transport_failed)
{
    if (transport_failed)
        return RETRY_AGAIN;
    if (status >= 200 && status < 300)
        return RETRY_DONE;
    if (status == 401 || status == 403 || status == 404)
        return RETRY_FATAL;
    if (status == 408 || status == 410 || status == 429 || status == 449 || status >= 500)
        return RETRY_AGAIN;
    if (status >= 400)
        return RETRY_REJECT;
    return RETRY_AGAIN; /* 1xx/3xx are not answers Cosmos gives to a write */
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
