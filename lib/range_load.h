/*
 * range_load: how many requests may be in flight to each partition key range. Cosmos DB
 * throttles (429) per physical partition, each with its share of the container's RU/s, so a
 * hot range cuts only its own limit (an aimd per range) and the other ranges keep theirs.
 * Ranges are indexes into the client's current range map; a new map starts new limits.
 * Pure bookkeeping, no I/O.
 */
#ifndef ORDERSINK_RANGE_LOAD_H
#define ORDERSINK_RANGE_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "aimd.h"

struct range_load {
    struct aimd *limit; /* per range, plus one last entry for requests without a range */
    int *busy;          /* requests in flight per entry */
    size_t n;           /* entries: ranges + 1 */
    int max;            /* the most requests one range may have in flight */
    unsigned gen;       /* bumped by range_load_reset: answers to older requests are ignored */
    uint64_t cuts;      /* limit cuts over all ranges, ever */
};

/*
 * (Re)starts l for a map of `ranges` ranges, each allowed max requests (>= 1) in flight.
 * Requests started before are forgotten (their range_load_done is ignored). Returns 0, or -1
 * when out of memory (l is then empty: every range is open, nothing is counted).
 */
int range_load_reset(struct range_load *l, size_t ranges, int max);
void range_load_free(struct range_load *l);

/* 1 when one more request to range (an index of the map, or anything else for "no range")
 * may start now. */
int range_load_open(const struct range_load *l, size_t range);

/* A request to range starts: fills *seq and *saturated for range_load_done, and *gen. */
void range_load_start(struct range_load *l, size_t range, uint64_t *seq, int *saturated,
                      unsigned *gen);

/* The request (started in gen with seq) finished; throttled when it, or one of its batch's
 * operations, was answered 429 (see aimd_done). */
void range_load_done(struct range_load *l, unsigned gen, size_t range, uint64_t seq, int throttled,
                     int saturated);

/* The current limit of range (for logs and tests). */
int range_load_limit(const struct range_load *l, size_t range);

/* The sum of the ranges' limits (with no map: the limit of requests without a range); 0 when
 * l is empty (nothing limited). */
long range_load_total(const struct range_load *l);

#endif
