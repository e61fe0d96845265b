/*
 * cosmos_route: which partition key range a write goes to, and which writes one batch request
 * carries: the first write due and the later ones of the same range that fit the service's
 * limits (100 operations, 220,201 bytes). Pure: the range map comes from lib/cosmos_ranges,
 * the EPKs from lib/cosmos_epk (through lib/order).
 */
#ifndef ORDERSINK_COSMOS_ROUTE_H
#define ORDERSINK_COSMOS_ROUTE_H

#include <stddef.h>

#include "cosmos_ranges.h"

/* No range: the map was not read (one request may then carry any write, without range id). */
#define ROUTE_NONE ((size_t)-1)
/* An EPK the map does not cover (NULL, or not below "FF"): sent alone, without range id. */
#define ROUTE_UNROUTED ((size_t)-2)

/*
 * The index in m->r of the range that owns epk_hex (minInclusive <= EPK < maxExclusive):
 * ROUTE_NONE when the map is empty, index 0 when it has one range (whatever the EPK),
 * ROUTE_UNROUTED when epk_hex is NULL or no range owns it.
 */
size_t route_range(const struct ranges_map *m, const char *epk_hex);

/* One request being filled. */
struct route_group {
    size_t range;   /* the range of its first operation */
    size_t ops;     /* operations in it */
    size_t bytes;   /* body bytes, the array's brackets included */
    size_t max_ops; /* limits */
    size_t max_bytes;
};

/* The least an operation adds to a body (cosmos_bulk_op_size_of never returns less). */
#define ROUTE_MIN_OP_BYTES 96

enum route_fit {
    ROUTE_TAKE, /* the operation joins the request (counted in) */
    ROUTE_SKIP, /* another range, or too large for the room left: try the next one */
    ROUTE_FULL, /* nothing more can join: stop looking */
};

/* Starts g with its first operation: range, size bytes; limits max_ops and max_bytes. */
void route_group_start(struct route_group *g, size_t range, size_t size, size_t max_ops,
                       size_t max_bytes);

/*
 * Offers an operation of range and size bytes to g. A request carries only operations of its
 * first operation's range; an unrouted one (ROUTE_UNROUTED) shares a request with no other.
 */
enum route_fit route_group_offer(struct route_group *g, size_t range, size_t size);

#endif
