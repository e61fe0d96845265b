/*
 * cosmos_route: range of an EPK (binary search through lib/cosmos_ranges) and the filling of
 * one batch request with operations of a single range, as the SDKs' bulk executors group them
 * (JS BulkExecutor, .NET BatchAsyncStreamer: one streamer per partition key range).
 */
#include "cosmos_route.h"

size_t route_range(const struct ranges_map *m, const char *epk_hex)
{
    if (!m->finished || m->n == 0)
        return ROUTE_NONE;
    if (m->n == 1)
        return 0;
    const struct ranges_range *r = epk_hex ? ranges_find(m, epk_hex) : NULL;
    return r ? (size_t)(r - m->r) : ROUTE_UNROUTED;
}

void route_group_start(struct route_group *g, size_t range, size_t size, size_t max_ops,
                       size_t max_bytes)
{
    g->range = range;
    g->ops = 1;
    g->bytes = 2 + size;
    g->max_ops = max_ops;
    g->max_bytes = max_bytes;
}

enum route_fit route_group_offer(struct route_group *g, size_t range, size_t size)
{
    if (g->range == ROUTE_UNROUTED || g->ops >= g->max_ops ||
        g->bytes + ROUTE_MIN_OP_BYTES > g->max_bytes)
        return ROUTE_FULL;
    if (range != g->range || g->bytes + size > g->max_bytes)
        return ROUTE_SKIP;
    g->ops++;
    g->bytes += size;
    return ROUTE_TAKE;
}
