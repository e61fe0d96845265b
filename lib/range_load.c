/*
 * range_load: per-range in-flight limits (see range_load.h).
 */
#include "range_load.h"

#include <stdlib.h>

/* The entry of range: requests without a range (no map, no EPK) share the last one. */
static size_t range_load_entry(const struct range_load *l, size_t range)
{
    return range < l->n - 1 ? range : l->n - 1;
}

void range_load_free(struct range_load *l)
{
    free(l->limit);
    free(l->busy);
    l->limit = NULL;
    l->busy = NULL;
    l->n = 0;
}

int range_load_reset(struct range_load *l, size_t ranges, int max)
{
    range_load_free(l);
    l->gen++;
    l->max = max < 1 ? 1 : max;
    l->limit = calloc(ranges + 1, sizeof(*l->limit));
    l->busy = calloc(ranges + 1, sizeof(*l->busy));
    if (!l->limit || !l->busy) {
        range_load_free(l);
        return -1;
    }
    l->n = ranges + 1;
    for (size_t i = 0; i < l->n; i++)
        aimd_init(&l->limit[i], l->max, l->max);
    return 0;
}

int range_load_open(const struct range_load *l, size_t range)
{
    if (l->n == 0)
        return 1;
    size_t e = range_load_entry(l, range);
    return l->busy[e] < aimd_limit(&l->limit[e]);
}

void range_load_start(struct range_load *l, size_t range, uint64_t *seq, int *saturated,
                      unsigned *gen)
{
    *gen = l->gen;
    *seq = 0;
    *saturated = 0;
    if (l->n == 0)
        return;
    size_t e = range_load_entry(l, range);
    *seq = aimd_start(&l->limit[e]);
    l->busy[e]++;
    *saturated = l->busy[e] >= aimd_limit(&l->limit[e]);
}

void range_load_done(struct range_load *l, unsigned gen, size_t range, uint64_t seq, int throttled,
                     int saturated)
{
    if (gen != l->gen || l->n == 0)
        return;
    size_t e = range_load_entry(l, range);
    if (l->busy[e] > 0)
        l->busy[e]--;
    uint64_t before = l->limit[e].cuts;
    aimd_done(&l->limit[e], seq, throttled, saturated);
    l->cuts += l->limit[e].cuts - before;
}

int range_load_limit(const struct range_load *l, size_t range)
{
    return l->n == 0 ? l->max : aimd_limit(&l->limit[range_load_entry(l, range)]);
}

long range_load_total(const struct range_load *l)
{
    if (l->n == 0)
        return 0;
    if (l->n == 1)
        return aimd_limit(&l->limit[0]);
    long sum = 0;
    for (size_t i = 0; i + 1 < l->n; i++)
        sum += aimd_limit(&l->limit[i]);
    return sum;
}
