/*
 * commit: the commit decision. Linear scans over the partitions of the assignment and the
 * spans of the batches in flight (at most pipeline.max_batches batches times the partitions
 * each read), with no I/O, so every rule here is unit-tested on known answers.
 */
#include "commit.h"

#include <stdlib.h>
#include <string.h>

void commit_init(struct commit *c)
{
    memset(c, 0, sizeof(*c));
    c->next_batch = 1;
}

void commit_free(struct commit *c)
{
    free(c->parts);
    free(c->spans);
    free(c->ready);
    memset(c, 0, sizeof(*c));
}

static struct commit_part *commit_find(const struct commit *c, int32_t partition)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].partition == partition)
            return &c->parts[i];
    return NULL;
}

/* A span counts for its partition: assigned, and read under the current epoch. */
static int commit_live(const struct commit *c, const struct commit_span *s)
{
    const struct commit_part *p = commit_find(c, s->partition);
    return p && p->assigned && p->epoch == s->epoch;
}

/* Forgets the fenced spans that ended; a durable one is a stale epoch's completion: refused. */
static void commit_drop_ended(struct commit *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->nspans; i++) {
        const struct commit_span *s = &c->spans[i];
        if ((s->state == COMMIT_DURABLE || s->state == COMMIT_FAILED) && !commit_live(c, s)) {
            c->refused += s->state == COMMIT_DURABLE;
            continue;
        }
        c->spans[kept++] = *s;
    }
    c->nspans = kept;
}

int commit_assign(struct commit *c, int32_t partition, int64_t committed)
{
    struct commit_part *p = commit_find(c, partition);
    if (!p) {
        if (c->nparts == c->parts_cap) {
            size_t cap = c->parts_cap ? c->parts_cap * 2 : 16;
            struct commit_part *parts = realloc(c->parts, cap * sizeof(*parts));
            if (!parts)
                return -1;
            c->parts = parts;
            struct batch_mark *ready = realloc(c->ready, cap * sizeof(*ready));
            if (!ready)
                return -1; /* the larger parts array is kept, unused */
            c->ready = ready;
            c->parts_cap = cap;
        }
        p = &c->parts[c->nparts++];
        *p = (struct commit_part){.partition = partition};
    }
    p->epoch = p->epoch + 1 ? p->epoch + 1 : 1;
    p->assigned = 1;
    p->committed = committed >= 0 ? committed : -1;
    p->durable = -1;
    p->proposed = -1;
    commit_drop_ended(c);
    return 0;
}

void commit_revoke(struct commit *c, int32_t partition)
{
    struct commit_part *p = commit_find(c, partition);
    if (!p || !p->assigned)
        return;
    if (p->durable >= 0)
        c->refused++; /* durable, never to be committed by this epoch */
    p->assigned = 0;
    p->durable = -1;
    p->proposed = -1;
    commit_drop_ended(c);
}

uint32_t commit_epoch(const struct commit *c, int32_t partition)
{
    const struct commit_part *p = commit_find(c, partition);
    return p && p->assigned ? p->epoch : 0;
}

/* The span of batch id for partition, or NULL. */
static struct commit_span *commit_span_find(const struct commit *c, uint64_t id, int32_t partition)
{
    for (size_t i = 0; i < c->nspans; i++)
        if (c->spans[i].batch == id && c->spans[i].partition == partition)
            return &c->spans[i];
    return NULL;
}

int commit_batch_add(struct commit *c, const struct batch_item *items, size_t n, uint64_t *id)
{
    if (c->nspans + n > c->spans_cap) { /* a batch has at most n partitions */
        size_t cap = c->spans_cap ? c->spans_cap : 64;
        while (cap < c->nspans + n)
            cap *= 2;
        struct commit_span *spans = realloc(c->spans, cap * sizeof(*spans));
        if (!spans)
            return -1;
        c->spans = spans;
        c->spans_cap = cap;
    }
    uint64_t b = c->next_batch++;
    size_t start = c->nspans;
    for (size_t i = 0; i < n; i++) {
        const struct batch_item *it = &items[i];
        size_t k = start;
        while (k < c->nspans && c->spans[k].partition != it->partition)
            k++;
        if (k == c->nspans) {
            c->spans[c->nspans++] =
                (struct commit_span){b,          it->partition,  commit_epoch(c, it->partition),
                                     it->offset, it->offset + 1, COMMIT_WRITING};
            continue;
        }
        struct commit_span *s = &c->spans[k];
        if (it->offset < s->first)
            s->first = it->offset;
        if (it->offset + 1 > s->next)
            s->next = it->offset + 1;
    }
    *id = b;
    return 0;
}

/* Moves the durable prefix of every assigned partition's live spans into its durable mark. */
static void commit_fold(struct commit *c)
{
    for (size_t i = 0; i < c->nparts; i++)
        c->parts[i].blocked = 0;
    size_t kept = 0;
    for (size_t i = 0; i < c->nspans; i++) {
        struct commit_span *s = &c->spans[i];
        struct commit_part *p = commit_find(c, s->partition);
        if (p && p->assigned && p->epoch == s->epoch && !p->blocked) {
            if (s->state == COMMIT_DURABLE) {
                if (s->next > p->durable)
                    p->durable = s->next;
                continue; /* folded: forgotten */
            }
            p->blocked = 1;
        }
        c->spans[kept++] = *s;
    }
    c->nspans = kept;
}

void commit_batch_set(struct commit *c, uint64_t id, enum commit_state state)
{
    for (size_t i = 0; i < c->nspans; i++)
        if (c->spans[i].batch == id)
            c->spans[i].state = state;
    commit_drop_ended(c);
    commit_fold(c);
}

int commit_batch_current(const struct commit *c, uint64_t id, int32_t partition)
{
    const struct commit_span *s = commit_span_find(c, id, partition);
    return s && commit_live(c, s);
}

int commit_pending(const struct commit *c)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].assigned && c->parts[i].durable >= 0)
            return 1;
    return 0;
}

size_t commit_ready(struct commit *c, const struct batch_mark **marks)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nparts; i++) {
        struct commit_part *p = &c->parts[i];
        p->proposed = -1;
        if (!p->assigned || p->durable < 0)
            continue;
        if (p->durable <= p->committed) {
            c->refused++; /* would not move the committed offset forward */
            p->durable = -1;
            continue;
        }
        p->proposed = p->durable;
        c->ready[n++] = (struct batch_mark){p->partition, p->durable};
    }
    *marks = c->ready;
    return n;
}

void commit_done(struct commit *c, int ok)
{
    for (size_t i = 0; i < c->nparts; i++) {
        struct commit_part *p = &c->parts[i];
        if (p->proposed < 0)
            continue;
        if (ok && p->assigned) {
            p->committed = p->proposed;
            if (p->durable == p->proposed)
                p->durable = -1;
        }
        p->proposed = -1;
    }
}
