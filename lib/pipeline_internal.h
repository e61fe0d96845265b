/*
 * pipeline_internal: what lib/pipeline.c (the flow of batches) and lib/pipeline_rebalance.c
 * (partitions coming and going) share. Not for other modules.
 */
#ifndef ORDERSINK_PIPELINE_INTERNAL_H
#define ORDERSINK_PIPELINE_INTERNAL_H

#include "pipeline.h"

/* Per-message state of a closed batch. */
struct pipeline_entry {
    rd_kafka_message_t *msg;
    struct order_doc doc;
    enum order_reason reason;
    const char *dlq_reason; /* set when the message was dead-lettered */
    char detail[160];
};

/* A closed batch, from submission to commit. */
struct pipeline_batch {
    struct pipeline_batch *next;
    struct batch items;       /* the messages, owned */
    struct pipeline_entry *e; /* one per message */
    struct batch_key *keys;   /* one per parsed order */
    size_t nkeys;
    size_t *key_write;        /* keys[k] (not superseded) -> its write */
    struct batch_index index; /* over keys: later batches find their predecessors */
    struct cosmos_write *w;   /* one per distinct document */
    size_t *write_entry;      /* w[j] -> its entry */
    size_t nw;
    struct cosmos_run *run;
    struct dlq_tally dlq;
    int settled; /* Cosmos is done and its rejections are dead-lettered */
    int failed;  /* Cosmos failed it for good */
    uint64_t id; /* in p->commit, which knows the epoch each partition of it was read under */
    enum commit_state state; /* as last told to p->commit */
    int64_t t0;
};

/* Sets p->fatal with why (the first reason wins). Returns -1. */
int pipeline_fail(struct pipeline *p, const char *why);

/* Publishes the commit counters now (they change outside of finished batches too) and logs
 * new refusals. */
void pipeline_publish_commits(struct pipeline *p);

/* How often the end offsets of the assigned partitions are asked for (lib/watermarks). */
#define PIPELINE_LAG_INTERVAL_MS 1000

/*
 * The lag the worker reports (lib/pipeline_lag.c): collects the end offsets that arrived and
 * asks again when due, without blocking; publishes per assigned partition the lag by KEDA's
 * rules (lib/lag) on the committed offset (p->commit) and that end offset, when new end
 * offsets arrived or the assignment changed size. Sets p->lag_total.
 */
void pipeline_lag_step(struct pipeline *p, int64_t now_ms);

/* Pauses or resumes every assigned partition. */
void pipeline_set_paused(struct pipeline *p, int paused);

#endif
