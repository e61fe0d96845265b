/*
 * batch: the microbatch accumulator. Owns the close rules (count, bytes, wait time), removing
 * items (those of partitions taken away), and same-id coalescing. Knows nothing of Kafka or
 * Cosmos: items carry an opaque message pointer. (Commit marks: lib/commit.)
 */
#ifndef ORDERSINK_BATCH_H
#define ORDERSINK_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct batch_item {
    void *msg; /* owned by the caller */
    int32_t partition;
    int64_t offset;
    size_t bytes;
};

struct batch {
    struct batch_item *items;
    size_t count, cap, bytes;
    int64_t opened_ms; /* when the first item arrived */
    size_t max_count, max_bytes;
    int64_t max_wait_ms;
};

/* Next offset to commit for one partition (lib/commit decides them). */
struct batch_mark {
    int32_t partition;
    int64_t next_offset;
};

/* A document's identity for coalescing; superseded is set by batch_coalesce. */
struct batch_key {
    const char *id;
    const char *pk;
    int64_t offset;
    int32_t partition;
    int superseded;
    uint64_t hash; /* batch_key_hash(pk, id), set by batch_index_coalesce / batch_index_build */
};

int batch_init(struct batch *b, size_t max_count, size_t max_bytes, int64_t max_wait_ms);
void batch_free(struct batch *b);

/* Appends one item. Returns 0, or -1 when out of memory (the batch is unchanged). */
int batch_add(struct batch *b, void *msg, int32_t partition, int64_t offset, size_t bytes,
              int64_t now_ms);

/* 1 when the batch holds max_count items or max_bytes bytes: it takes no more. */
int batch_full(const struct batch *b);

/* 1 when the batch must be written now: count or bytes reached, or its wait time is up. */
int batch_ready(const struct batch *b, int64_t now_ms);

/* Milliseconds until the wait rule closes the batch (0 if due); -1 for an empty batch. */
int64_t batch_time_left_ms(const struct batch *b, int64_t now_ms);

/* Empties the batch (the caller has released the messages). */
void batch_clear(struct batch *b);

/*
 * Removes the items for which drop(item, arg) returns 1 (drop releases their messages); the
 * others keep their order. Returns how many were removed.
 */
size_t batch_remove_if(struct batch *b, int (*drop)(const struct batch_item *it, void *arg),
                       void *arg);

/*
 * Marks every key that has a later offset with the same (pk, id) as superseded, so each
 * document is written once with its newest content. Returns how many were superseded, or
 * (size_t)-1 when out of memory (nothing marked).
 */
size_t batch_coalesce(struct batch_key *keys, size_t n);

/* A hash index over the keys of one batch that are not superseded, to find the write of the
 * same document in an earlier batch still in flight. */
struct batch_slot {
    uint64_t hash; /* the key's hash, kept here: a probe reads no key it does not match */
    size_t key;    /* key index + 1; 0 = empty */
};
struct batch_index {
    const struct batch_key *keys;
    struct batch_slot *slots;
    size_t mask;
};

/* Indexes keys[0..n) (not the superseded ones; no two of those may be equal) and sets their
 * hash; keys must outlive the index. Returns 0 or -1 (out of memory). */
int batch_index_build(struct batch_index *ix, struct batch_key *keys, size_t n);

/*
 * batch_coalesce and batch_index_build in one pass over a hash table: sets every key's hash,
 * marks the superseded ones (*superseded: how many) and leaves ix indexing the others. Returns
 * 0, or -1 when out of memory (nothing marked, ix empty).
 */
int batch_index_coalesce(struct batch_index *ix, struct batch_key *keys, size_t n,
                         size_t *superseded);

/* Index in keys of the entry with this partition key and id, or -1. */
long batch_index_find(const struct batch_index *ix, const char *pk, const char *id);

/* The hash of (pk, id) the indexes use: computed once, a key is looked up in several
 * indexes with batch_index_find_hashed (same answer as batch_index_find). */
uint64_t batch_key_hash(const char *pk, const char *id);
long batch_index_find_hashed(const struct batch_index *ix, uint64_t hash, const char *pk,
                             const char *id);

void batch_index_free(struct batch_index *ix);

#endif
