/*
 * batch: microbatch accumulation, removal by partition and coalescing (one pass over a hash
 * table of the batch's keys, which then indexes it). All O(n) over the batch; batches hold at
 * most batch.max_count items.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

int batch_init(struct batch *b, size_t max_count, size_t max_bytes, int64_t max_wait_ms)
{
    memset(b, 0, sizeof(*b));
    b->items = calloc(max_count, sizeof(*b->items));
    if (!b->items)
        return -1;
    b->cap = max_count;
    b->max_count = max_count;
    b->max_bytes = max_bytes;
    b->max_wait_ms = max_wait_ms;
    return 0;
}

void batch_free(struct batch *b)
{
    free(b->items);
    memset(b, 0, sizeof(*b));
}

int batch_add(struct batch *b, void *msg, int32_t partition, int64_t offset, size_t bytes,
              int64_t now_ms)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct batch_item *items = realloc(b->items, cap * sizeof(*items));
        if (!items)
            return -1;
        b->items = items;
        b->cap = cap;
    }
    if (b->count == 0)
        b->opened_ms = now_ms;
    b->items[b->count++] = (struct batch_item){msg, partition, offset, bytes};
    b->bytes += bytes;
    return 0;
}

int batch_full(const struct batch *b)
{
    return b->count > 0 && (b->count >= b->max_count || b->bytes >= b->max_bytes);
}

int batch_ready(const struct batch *b, int64_t now_ms)
{
    return batch_full(b) || (b->count > 0 && now_ms - b->opened_ms >= b->max_wait_ms);
}

int64_t batch_time_left_ms(const struct batch *b, int64_t now_ms)
{
    if (b->count == 0)
        return -1;
    int64_t left = b->opened_ms + b->max_wait_ms - now_ms;
    return left > 0 ? left : 0;
}

void batch_clear(struct batch *b)
{
    b->count = 0;
    b->bytes = 0;
    b->opened_ms = 0;
}

size_t batch_remove_if(struct batch *b, int (*drop)(const struct batch_item *it, void *arg),
                       void *arg)
{
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < b->count; i++) {
        if (drop(&b->items[i], arg)) {
            b->bytes -= b->items[i].bytes;
            removed++;
            continue;
        }
        b->items[kept++] = b->items[i];
    }
    b->count = kept;
    if (kept == 0)
        batch_clear(b);
    return removed;
}

/* 1 when key a holds a newer version than key b of the same document: the later offset;
 * for equal offsets the lower partition (as the sort this replaced kept them). */
static int batch_key_newer(const struct batch_key *a, const struct batch_key *b)
{
    return a->offset != b->offset ? a->offset > b->offset : a->partition < b->partition;
}

size_t batch_coalesce(struct batch_key *keys, size_t n)
{
    struct batch_index ix;
    size_t superseded;
    if (batch_index_coalesce(&ix, keys, n, &superseded) != 0)
        return (size_t)-1;
    batch_index_free(&ix);
    return superseded;
}

/* FNV-1a over pk, a separator no JSON text contains, and id. */
uint64_t batch_key_hash(const char *pk, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)pk; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* An empty index with room for n keys (at most half full). Returns 0 or -1. */
static int batch_index_alloc(struct batch_index *ix, const struct batch_key *keys, size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    ix->keys = keys;
    ix->mask = cap - 1;
    ix->slots = calloc(cap, sizeof(*ix->slots));
    return ix->slots ? 0 : -1;
}

int batch_index_coalesce(struct batch_index *ix, struct batch_key *keys, size_t n,
                         size_t *superseded)
{
    *superseded = 0;
    if (batch_index_alloc(ix, keys, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct batch_key *k = &keys[i];
        k->hash = batch_key_hash(k->pk, k->id);
        k->superseded = 0;
        size_t h = (size_t)k->hash & ix->mask;
        for (; ix->slots[h].key; h = (h + 1) & ix->mask) {
            const struct batch_key *o = &keys[ix->slots[h].key - 1];
            if (ix->slots[h].hash == k->hash && strcmp(o->id, k->id) == 0 &&
                strcmp(o->pk, k->pk) == 0)
                break;
        }
        struct batch_slot *s = &ix->slots[h];
        if (!s->key) {
            *s = (struct batch_slot){k->hash, i + 1};
            continue;
        }
        struct batch_key *o = &keys[s->key - 1];
        (*superseded)++;
        if (batch_key_newer(k, o)) {
            o->superseded = 1;
            s->key = i + 1;
        } else {
            k->superseded = 1;
        }
    }
    return 0;
}

int batch_index_build(struct batch_index *ix, struct batch_key *keys, size_t n)
{
    if (batch_index_alloc(ix, keys, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].superseded)
            continue;
        keys[i].hash = batch_key_hash(keys[i].pk, keys[i].id);
        size_t h = (size_t)keys[i].hash & ix->mask;
        while (ix->slots[h].key)
            h = (h + 1) & ix->mask;
        ix->slots[h] = (struct batch_slot){keys[i].hash, i + 1};
    }
    return 0;
}

long batch_index_find(const struct batch_index *ix, const char *pk, const char *id)
{
    return ix->slots ? batch_index_find_hashed(ix, batch_key_hash(pk, id), pk, id) : -1;
}

long batch_index_find_hashed(const struct batch_index *ix, uint64_t hash, const char *pk,
                             const char *id)
{
    if (!ix->slots)
        return -1;
    for (size_t h = (size_t)hash & ix->mask; ix->slots[h].key; h = (h + 1) & ix->mask) {
        if (ix->slots[h].hash != hash)
            continue;
        const struct batch_key *k = &ix->keys[ix->slots[h].key - 1];
        if (strcmp(k->id, id) == 0 && strcmp(k->pk, pk) == 0)
            return (long)(ix->slots[h].key - 1);
    }
    return -1;
}

void batch_index_free(struct batch_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
}
