/*
 * aimd: additive-increase / multiplicative-decrease concurrency limit.
 */
#include "aimd.h"

void aimd_init(struct aimd *a, int initial, int max)
{
    if (max < 1)
        max = 1;
    if (initial < 1)
        initial = 1;
    if (initial > max)
        initial = max;
    *a = (struct aimd){.limit = initial, .ssthresh = max, .max = max};
}

int aimd_limit(const struct aimd *a)
{
    int l = (int)a->limit;
    return l < 1 ? 1 : l;
}

uint64_t aimd_start(struct aimd *a)
{
    return ++a->started;
}

void aimd_done(struct aimd *a, uint64_t seq, int throttled, int saturated)
{
    if (throttled) {
        if (seq <= a->cut_at)
            return; /* already cut for this round trip */
        a->limit /= 2;
        if (a->limit < 1)
            a->limit = 1;
        a->ssthresh = a->limit;
        a->cut_at = a->started;
        a->cuts++;
        return;
    }
    if (!saturated)
        return;
    a->limit += a->limit < a->ssthresh ? 1.0 : 1.0 / a->limit;
    if (a->limit > a->max)
        a->limit = a->max;
}
