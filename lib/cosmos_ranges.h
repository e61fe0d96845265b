/*
 * cosmos_ranges: a container's partition key range map, built from the pages of
 * `GET dbs/{db}/colls/{coll}/pkranges`, and the lookup of the range that owns an EPK
 * (cosmos_epk). Pure: the caller fetches the pages and follows x-ms-continuation.
 */
#ifndef ORDERSINK_COSMOS_RANGES_H
#define ORDERSINK_COSMOS_RANGES_H

#include <stddef.h>

/* One range: it owns the EPKs e with min <= e < max (upper-case hex; "" is the lowest, "FF"
 * is above every EPK). */
struct ranges_range {
    char *id;
    char *min; /* minInclusive */
    char *max; /* maxExclusive */
    char **parents;
    size_t nparents;
};

/* Zero-initialise (or ranges_init) before use; ranges_free releases everything. */
struct ranges_map {
    struct ranges_range *r;
    size_t n, cap;
    int finished;
};

void ranges_init(struct ranges_map *m);

/*
 * Adds the ranges of one answer body[0..len) ({"PartitionKeyRanges":[{"id", "minInclusive",
 * "maxExclusive", "parents":[...]}, ...]}). Returns 0, or -1 with err set (nothing from this
 * page is kept) when the body is not that shape, a boundary is not upper-case hex (or "FF"),
 * memory runs out, or the map is already finished.
 */
int ranges_add_page(struct ranges_map *m, const char *body, size_t len, char *err, size_t err_size);

/*
 * After the last page: drops every range whose id is a parent of another range (a split
 * leaves the parent in the answer), sorts by minInclusive, and checks that the ranges cover
 * "" .. "FF" with no gap and no overlap. Returns 0 (the map can then be searched), or -1 with
 * err naming the first problem.
 */
int ranges_finish(struct ranges_map *m, char *err, size_t err_size);

/* The range with min <= epk_hex < max, or NULL (map not finished, or epk_hex >= "FF").
 * epk_hex is upper-case hex as epk_compute writes it. */
const struct ranges_range *ranges_find(const struct ranges_map *m, const char *epk_hex);

void ranges_free(struct ranges_map *m);

#endif
