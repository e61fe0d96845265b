/*
 * batch: microbatch accumulation, removal by partition and coalescing. All O(n) or O(n log n) over
 * the batch; batches hold at most batch.max_count items.
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

/* A key and its hash, for sorting: equal keys have equal hashes, so sorting by hash first
 * keeps them together while most comparisons end at the hash. */
struct batch_sort_key {
    uint64_t hash;
    struct batch_key *key;
};

static int batch_key_cmp(const void *a, const void *b)
{
    const struct batch_sort_key *sx = a, *sy = b;
    if (sx->hash != sy->hash)
        return sx->hash < sy->hash ? -1 : 1;
    const struct batch_key *x = sx->key, *y = sy->key;
    int c = strcmp(x->pk, y->pk);
    if (c == 0)
        c = strcmp(x->id, y->id);
    if (c == 0) /* newest first: the partition only breaks ties of equal offsets */
        c = x->offset != y->offset ? (x->offset < y->offset ? 1 : -1)
                                   : (x->partition > y->partition) - (x->partition < y->partition);
    return c;
}

size_t batch_coalesce(struct batch_key *keys, size_t n)
{
    if (n < 2)
        return 0;
    struct batch_sort_key *order = malloc(n * sizeof(*order));
    if (!order)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        order[i] = (struct batch_sort_key){batch_key_hash(keys[i].pk, keys[i].id), &keys[i]};
    qsort(order, n, sizeof(*order), batch_key_cmp);
    size_t superseded = 0;
    for (size_t i = 1; i < n; i++) {
        if (order[i].hash == order[i - 1].hash &&
            strcmp(order[i].key->pk, order[i - 1].key->pk) == 0 &&
            strcmp(order[i].key->id, order[i - 1].key->id) == 0) {
            order[i].key->superseded = 1;
            superseded++;
        }
    }
    free(order);
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

int batch_index_build(struct batch_index *ix, const struct batch_key *keys, size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    ix->keys = keys;
    ix->mask = cap - 1;
    ix->slots = calloc(cap, sizeof(*ix->slots));
    if (!ix->slots)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].superseded)
            continue;
        size_t h = (size_t)batch_key_hash(keys[i].pk, keys[i].id) & ix->mask;
        while (ix->slots[h])
            h = (h + 1) & ix->mask;
        ix->slots[h] = i + 1;
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
    for (size_t h = (size_t)hash & ix->mask; ix->slots[h]; h = (h + 1) & ix->mask) {
        const struct batch_key *k = &ix->keys[ix->slots[h] - 1];
        if (strcmp(k->id, id) == 0 && strcmp(k->pk, pk) == 0)
            return (long)(ix->slots[h] - 1);
    }
    return -1;
}

void batch_index_free(struct batch_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
}
