/*
 * commit: which Kafka offsets may be committed, decided without I/O. Owns, per partition,
 * the assignment epoch (bumped on every assign), the batches in flight with the offsets they
 * read and their state, the offset durable in order but not yet committed, and the last
 * committed one. Only contiguous, in-order durable work of the current epoch is committed,
 * never at or below the last committed offset; work of a revoked or lost assignment is
 * fenced for good: it never commits, and commit_batch_current tells the writer to drop it.
 */
#ifndef ORDERSINK_COMMIT_H
#define ORDERSINK_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

enum commit_state {
    COMMIT_WRITING = 0, /* being written */
    COMMIT_DLQ_WAIT,    /* written; dead letters not acknowledged yet */
    COMMIT_DURABLE,     /* every message written or dead-lettered */
    COMMIT_FAILED,      /* failed for good: nothing after it on its partitions commits */
};

/* One partition of the assignment. */
struct commit_part {
    int32_t partition;
    uint32_t epoch;    /* of the current (or last) assignment; starts at 1 */
    int assigned;      /* 0 after a revoke or loss, until the next assign */
    int64_t committed; /* next offset last committed (or the group's at assign); -1 = unknown */
    int64_t durable;   /* next offset durable in order, not committed yet; -1 = none */
    int64_t proposed;  /* handed out by commit_ready, awaiting commit_done; -1 = none */
    int blocked;       /* scratch of the fold */
};

/* One partition's part of one batch: offsets [first, next) read under epoch. */
struct commit_span {
    uint64_t batch;
    int32_t partition;
    uint32_t epoch;
    int64_t first, next;
    enum commit_state state;
};

struct commit {
    struct commit_part *parts;
    size_t nparts, parts_cap;
    struct commit_span *spans; /* oldest batch first */
    size_t nspans, spans_cap;
    struct batch_mark *ready; /* commit_ready's answer: parts_cap entries */
    uint64_t next_batch;
    uint64_t refused; /* commits refused: stale epoch, or not above the last committed */
};

void commit_init(struct commit *c);
void commit_free(struct commit *c);

/*
 * partition was assigned: a new epoch starts, clean. committed is the group's committed
 * offset for it (-1 when unknown): nothing at or below it is ever committed. Work read
 * under an earlier epoch stays fenced. Returns 0, or -1 when out of memory (nothing changed).
 */
int commit_assign(struct commit *c, int32_t partition, int64_t committed);

/* partition was revoked or lost: its epoch ends. Its batches in flight are fenced for good
 * and what was durable but not committed is discarded (counted as refused). */
void commit_revoke(struct commit *c, int32_t partition);

/* The epoch of partition's current assignment, or 0 when it is not assigned. */
uint32_t commit_epoch(const struct commit *c, int32_t partition);

/*
 * Registers a closed batch: one span per partition among items[0..n) (its lowest offset to
 * its highest + 1), each stamped with the partition's current epoch (a partition not
 * assigned gets a span fenced from the start). State COMMIT_WRITING. Sets *id. Returns 0,
 * or -1 when out of memory (nothing registered).
 */
int commit_batch_add(struct commit *c, const struct batch_item *items, size_t n, uint64_t *id);

/*
 * Batch id moved to state. Its spans of the current epoch count towards the commit once they
 * and every earlier span of their partition are COMMIT_DURABLE; a COMMIT_FAILED span blocks
 * its partition for the rest of the epoch. A fenced span that ends (durable: counted as
 * refused; failed) is forgotten.
 */
void commit_batch_set(struct commit *c, uint64_t id, enum commit_state state);

/* 1 when batch id read partition under its current epoch: its writes may still be sent and
 * retried, its rejections dead-lettered. 0 when fenced (or not in the batch). */
int commit_batch_current(const struct commit *c, uint64_t id, int32_t partition);

/* 1 when some assigned partition has durable work not committed yet. */
int commit_pending(const struct commit *c);

/*
 * The check before every commit: the next offsets to commit now, one per assigned partition
 * with durable work above its last committed offset, in *marks (owned by c, valid until the
 * next call). Durable work not above the last committed offset is dropped and counted as
 * refused. Follow with commit_done before any other call that changes c. Returns how many.
 */
size_t commit_ready(struct commit *c, const struct batch_mark **marks);

/* The commit of what commit_ready returned succeeded (ok = 1: those offsets are the last
 * committed now) or failed (ok = 0: they stay durable, for the next commit_ready). */
void commit_done(struct commit *c, int ok);

#endif
