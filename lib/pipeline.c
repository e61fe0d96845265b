/*
 * pipeline: batches from consumed messages to committed offsets, several in flight at once.
 * (Partitions coming and going: lib/pipeline_rebalance.c.)
 */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "pipeline_internal.h"

/* Backpressure shorter than this only stops polling the consumer (its prefetch queue is
 * bounded); longer, the partitions are paused so that polling can go on serving rebalances
 * and errors without taking more messages. */
#define PIPELINE_PAUSE_AFTER_MS 250
/* A failed commit is retried this long after, with whatever became durable since. */
#define PIPELINE_COMMIT_RETRY_MS 1000
/* The dead-letter reason of a write Cosmos refused for good. */
static const char pipeline_cosmos_rejected[] = "cosmos_rejected";

int pipeline_fail(struct pipeline *p, const char *why)
{
    if (!p->fatal) {
        p->fatal = 1;
        snprintf(p->fatal_error, sizeof(p->fatal_error), "%s", why);
    }
    return -1;
}

static int pipeline_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    }
    return 0;
}

/* Orders per batch: batch.max_count, or 0 (default): 100 per partition key range of the
 * container now, at most 2,000, so that each range's batch requests stay near 100 operations
 * (a request carries one range's operations). */
static size_t pipeline_batch_count(const struct pipeline *p)
{
    if (p->cfg->batch_max_count > 0)
        return (size_t)p->cfg->batch_max_count;
    size_t n = (size_t)cosmos_range_count(p->cosmos) * 100;
    return n > 2000 ? 2000 : n;
}

int pipeline_init(struct pipeline *p, const struct cfg *c, struct cosmos_client *cosmos,
                  struct dlq *dlq, struct metrics *metrics)
{
    memset(p, 0, sizeof(*p));
    p->wake[0] = p->wake[1] = -1;
    p->lag_total = -1;
    p->metrics = metrics;
    p->cfg = c;
    p->cosmos = cosmos;
    p->dlq = dlq;
    p->max_in_flight = (int)c->pipeline_max_batches;
    p->spec.id_field = c->order_id_field;
    p->spec.partition_key_path = cosmos_partition_key_path(cosmos);
    cosmos_partition_key_kind(cosmos, &p->spec.epk_version, &p->spec.multihash);
    if (!p->spec.partition_key_path)
        return -1; /* the container was not read: nothing can be routed */
    commit_init(&p->commit);
    if (batch_init(&p->open, pipeline_batch_count(p), (size_t)c->batch_max_bytes,
                   c->batch_max_wait_ms) != 0)
        return -1;
    if (pipeline_pipe(p->wake) != 0) {
        batch_free(&p->open);
        return -1;
    }
    dlq_wake_fd(dlq, p->wake[1]);
    if (metrics) { /* every reason exported at 0 from the first scrape */
        metrics_lock(metrics);
        for (enum order_reason r = ORDER_OK + 1; r < ORDER_NO_MEMORY; r++)
            metrics_declare_reason(metrics, order_reason_name(r));
        metrics_declare_reason(metrics, pipeline_cosmos_rejected);
        metrics_unlock(metrics);
    }
    return 0;
}

int pipeline_attach(struct pipeline *p, rd_kafka_t *consumer)
{
    p->consumer = consumer;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(consumer);
    if (q) {
        static const char one = 1;
        rd_kafka_queue_io_event_enable(q, p->wake[1], &one, 1);
        rd_kafka_queue_destroy(q);
    }
    p->watermarks = watermarks_new(consumer, PIPELINE_LAG_INTERVAL_MS);
    return p->watermarks ? 0 : pipeline_fail(p, "out of memory measuring the lag");
}

static void pipeline_release_items(struct batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        rd_kafka_message_destroy(b->items[i].msg);
    batch_clear(b);
}

static void pipeline_batch_free(struct pipeline_batch *pb)
{
    if (!pb)
        return;
    cosmos_run_free(pb->run);
    for (size_t i = 0; pb->e && i < pb->items.count; i++)
        order_doc_free(&pb->e[i].doc);
    pipeline_release_items(&pb->items);
    batch_free(&pb->items);
    batch_index_free(&pb->index);
    free(pb->e);
    free(pb->keys);
    free(pb->key_write);
    free(pb->w);
    free(pb->write_entry);
    free(pb);
}

void pipeline_free(struct pipeline *p)
{
    if (p->head && p->dlq)
        dlq_abandon(p->dlq); /* no delivery report may touch a tally freed below */
    while (p->head) {
        struct pipeline_batch *pb = p->head;
        p->head = pb->next;
        pipeline_batch_free(pb);
    }
    p->tail = NULL;
    p->in_flight = 0;
    pipeline_release_items(&p->open);
    batch_free(&p->open);
    commit_free(&p->commit);
    watermarks_free(p->watermarks);
    p->watermarks = NULL;
    for (int i = 0; i < 2; i++)
        if (p->wake[i] >= 0)
            close(p->wake[i]);
    p->wake[0] = p->wake[1] = -1;
    order_thread_cleanup();
}

/* The open batch cannot take more and cannot be submitted. */
static int pipeline_full(const struct pipeline *p)
{
    return batch_full(&p->open) && p->in_flight >= p->max_in_flight;
}

int pipeline_wants_messages(const struct pipeline *p)
{
    return !p->fatal && (p->paused || !batch_full(&p->open));
}

int pipeline_add(struct pipeline *p, rd_kafka_message_t *m)
{
    if (!commit_epoch(&p->commit, m->partition)) {
        LOG(LOG_DEBUG, "message of a partition not assigned dropped",
            LF_INT("partition", m->partition), LF_INT("offset", m->offset));
        rd_kafka_message_destroy(m);
        return 0;
    }
    if (batch_add(&p->open, m, m->partition, m->offset, m->len, clock_mono_ms()) != 0) {
        rd_kafka_message_destroy(m);
        return pipeline_fail(p, "out of memory adding to the batch");
    }
    if (p->stats.consumed++ == 0) /* start-up latency: see docs/benchmarks.md */
        LOG(LOG_INFO, "first message", LF_INT("partition", m->partition),
            LF_INT("offset", m->offset));
    return 0;
}

/* Parses every message; bad ones go to the DLQ at once. Returns 0 or -1 (p->fatal set). */
static int pipeline_parse(struct pipeline *p, struct pipeline_batch *pb)
{
    char err[512];
    for (size_t i = 0; i < pb->items.count; i++) {
        struct pipeline_entry *e = &pb->e[i];
        rd_kafka_message_t *m = pb->items.items[i].msg;
        rd_kafka_timestamp_type_t tstype;
        struct order_meta meta = {rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                                  rd_kafka_message_timestamp(m, &tstype)};
        e->msg = m;
        e->reason = order_to_doc(&p->spec, m->payload, m->len, &meta, &e->doc, e->detail,
                                 sizeof(e->detail));
        if (e->reason == ORDER_NO_MEMORY)
            return pipeline_fail(p, "out of memory parsing an order");
        if (e->reason == ORDER_OK)
            continue;
        e->dlq_reason = order_reason_name(e->reason);
        if (dlq_send(p->dlq, m, e->dlq_reason, e->detail, &pb->dlq, err, sizeof(err)))
            return pipeline_fail(p, err);
    }
    return 0;
}

/* The newest write of document (pk, id) in the batches already in flight, or NULL. */
static const struct cosmos_write *pipeline_predecessor(const struct pipeline *p,
                                                       const struct batch_key *key)
{
    const struct cosmos_write *found = NULL;
    const char *pk = key->pk, *id = key->id;
    uint64_t hash = key->hash;
    for (const struct pipeline_batch *b = p->head; b; b = b->next) {
        long k = batch_index_find_hashed(&b->index, hash, pk, id);
        if (k >= 0)
            found = &b->w[b->key_write[k]]; /* later batches overwrite: newest wins */
    }
    return found;
}

/*
 * Builds the writes, one per distinct (partition key, id), newest offset wins, each after
 * its predecessor in an earlier batch. Returns 0 or -1 (p->fatal set).
 */
static int pipeline_plan(struct pipeline *p, struct pipeline_batch *pb)
{
    size_t n = pb->items.count, k = 0;
    for (size_t i = 0; i < n; i++)
        if (pb->e[i].reason == ORDER_OK)
            pb->keys[k++] = (struct batch_key){pb->e[i].doc.id,
                                               pb->e[i].doc.pk_json,
                                               pb->e[i].msg->offset,
                                               pb->e[i].msg->partition,
                                               0,
                                               0};
    pb->nkeys = k;
    /* Indexed into a local: pb is linked in already, and its own index must stay empty while
     * its writes look for their predecessors. */
    struct batch_index index;
    size_t folded;
    if (batch_index_coalesce(&index, pb->keys, k, &folded) != 0)
        return pipeline_fail(p, "out of memory coalescing a batch");
    p->stats.coalesced += folded;
    size_t ki = 0;
    for (size_t i = 0; i < n; i++) {
        if (pb->e[i].reason != ORDER_OK)
            continue;
        if (pb->keys[ki].superseded) {
            ki++;
            continue;
        }
        const struct order_doc *d = &pb->e[i].doc;
        pb->w[pb->nw] = (struct cosmos_write){.id = d->id,
                                              .pk_json = d->pk_json,
                                              .epk = d->epk,
                                              .body = d->body,
                                              .body_len = d->body_len,
                                              .after = pipeline_predecessor(p, &pb->keys[ki]),
                                              .topic = rd_kafka_topic_name(pb->e[i].msg->rkt),
                                              .partition = pb->e[i].msg->partition,
                                              .offset = pb->e[i].msg->offset};
        pb->key_write[ki++] = pb->nw;
        pb->write_entry[pb->nw++] = i;
    }
    pb->index = index;
    return 0;
}

/* Closes the open batch and starts writing it. Returns 0 or -1 (p->fatal set). */
static int pipeline_submit(struct pipeline *p)
{
    struct pipeline_batch *pb = calloc(1, sizeof(*pb));
    if (!pb)
        return pipeline_fail(p, "out of memory closing a batch");
    pb->items = p->open;
    pb->t0 = clock_mono_ms();
    if (batch_init(&p->open, pipeline_batch_count(p), (size_t)p->cfg->batch_max_bytes,
                   p->cfg->batch_max_wait_ms) != 0) {
        p->open = pb->items; /* keep the messages where they were */
        free(pb);
        return pipeline_fail(p, "out of memory opening a batch");
    }
    size_t n = pb->items.count;
    /* Not zeroed whole (a write has a 256-byte message, an entry a 160-byte detail):
     * pipeline_plan writes every write it uses, and an entry needs only its document and
     * dead-letter reason empty until pipeline_parse fills it. */
    pb->e = malloc((n ? n : 1) * sizeof(*pb->e));
    pb->keys = calloc(n, sizeof(*pb->keys));
    pb->key_write = calloc(n, sizeof(*pb->key_write));
    pb->w = malloc((n ? n : 1) * sizeof(*pb->w));
    pb->write_entry = calloc(n, sizeof(*pb->write_entry));
    for (size_t i = 0; pb->e && i < n; i++) {
        memset(&pb->e[i].doc, 0, sizeof(pb->e[i].doc));
        pb->e[i].msg = NULL;
        pb->e[i].reason = ORDER_OK;
        pb->e[i].dlq_reason = NULL;
        pb->e[i].detail[0] = '\0';
    }
    /* Linked in first: from now on pipeline_free releases it whatever happens. */
    if (p->tail)
        p->tail->next = pb;
    else
        p->head = pb;
    p->tail = pb;
    p->in_flight++;
    if (p->metrics)
        atomic_store(&p->metrics->live.batches_in_flight, p->in_flight);
    if (!pb->e || !pb->keys || !pb->key_write || !pb->w || !pb->write_entry ||
        commit_batch_add(&p->commit, pb->items.items, n, &pb->id) != 0)
        return pipeline_fail(p, "out of memory closing a batch");
    if (pipeline_parse(p, pb) != 0 || pipeline_plan(p, pb) != 0)
        return -1;
    pb->run = cosmos_run_new(p->cosmos, pb->w, pb->nw);
    if (!pb->run)
        return pipeline_fail(p, "out of memory starting the writes of a batch");
    return 0;
}

/* Cosmos is done with pb: dead-letters what it rejected. Returns 0 or -1 (p->fatal set). */
static int pipeline_settle(struct pipeline *p, struct pipeline_batch *pb)
{
    char err[512], detail[320];
    enum cosmos_result r = cosmos_run_result(pb->run, err, sizeof(err));
    if (r == COSMOS_RUNNING)
        return 0;
    if (r != COSMOS_OK) {
        pb->failed = 1;
        return pipeline_fail(p, err);
    }
    for (size_t j = 0; j < pb->nw; j++) {
        struct cosmos_write *w = &pb->w[j];
        if (w->outcome == COSMOS_WRITTEN) {
            p->stats.written++;
            continue;
        }
        struct pipeline_entry *e = &pb->e[pb->write_entry[j]];
        if (w->outcome == COSMOS_CANCELLED ||
            !commit_batch_current(&p->commit, pb->id, e->msg->partition))
            continue; /* fenced: the partition's new owner reads it again */
        snprintf(detail, sizeof(detail), "HTTP %d: %s", w->status, w->error);
        e->dlq_reason = pipeline_cosmos_rejected;
        if (dlq_send(p->dlq, e->msg, e->dlq_reason, detail, &pb->dlq, err, sizeof(err)))
            return pipeline_fail(p, err);
    }
    pb->settled = 1;
    return 0;
}

/* Publishes the counters and the Cosmos client's totals when they changed (one lock then):
 * every turn, so that they move while no batch finishes (e.g. every write throttled). The main
 * thread is the registry's only writer: it may compare without the lock. */
static void pipeline_publish_counters(struct pipeline *p)
{
    struct metrics *m = p->metrics;
    if (!m)
        return;
    const struct cosmos_stats *cs = cosmos_client_stats(p->cosmos);
    if (memcmp(&m->counters, &p->stats, sizeof(p->stats)) == 0 &&
        memcmp(&m->cosmos, cs, sizeof(*cs)) == 0)
        return;
    metrics_lock(m);
    memcpy(&m->counters, &p->stats, sizeof(p->stats));
    memcpy(&m->cosmos, cs, sizeof(*cs)); /* padding too: the next memcmp stays exact */
    metrics_unlock(m);
}

/* Publishes a finished batch's histograms and dead letters: one lock per batch. */
static void pipeline_publish(struct pipeline *p, const struct pipeline_batch *pb)
{
    if (!p->metrics)
        return;
    struct metrics *m = p->metrics;
    int64_t now = clock_wall_ms();
    metrics_lock(m);
    metrics_observe(&m->batch_size, (double)pb->items.count);
    metrics_observe(&m->batch_seconds, (double)(clock_mono_ms() - pb->t0) / 1000.0);
    for (size_t i = 0; i < pb->items.count; i++) {
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(pb->e[i].msg, &type);
        if (ts >= 0)
            metrics_observe(&m->e2e_seconds, (double)(now - ts) / 1000.0);
        if (pb->e[i].dlq_reason)
            metrics_count_reason(m, pb->e[i].dlq_reason);
    }
    metrics_unlock(m);
}

/* Removes the finished head batch; later batches stop pointing at its writes. */
static void pipeline_retire_head(struct pipeline *p)
{
    struct pipeline_batch *pb = p->head;
    p->head = pb->next;
    if (!p->head)
        p->tail = NULL;
    p->in_flight--;
    if (p->metrics)
        atomic_store(&p->metrics->live.batches_in_flight, p->in_flight);
    for (struct pipeline_batch *b = p->head; b; b = b->next)
        for (size_t j = 0; j < b->nw; j++)
            if (b->w[j].after >= pb->w && b->w[j].after < pb->w + pb->nw)
                b->w[j].after = NULL;
    pipeline_batch_free(pb);
}

/* pb's state for the commit decision. */
static enum commit_state pipeline_state(const struct pipeline_batch *pb)
{
    if (pb->failed || (pb->settled && !pb->dlq.pending && pb->dlq.failed))
        return COMMIT_FAILED;
    if (!pb->settled)
        return COMMIT_WRITING;
    return pb->dlq.pending ? COMMIT_DLQ_WAIT : COMMIT_DURABLE;
}

/* Tells p->commit where pb is; a dead letter not acknowledged stops the worker. */
static void pipeline_track(struct pipeline *p, struct pipeline_batch *pb)
{
    enum commit_state st = pipeline_state(pb);
    if (st == pb->state)
        return;
    pb->state = st;
    commit_batch_set(&p->commit, pb->id, st);
    if (st == COMMIT_FAILED && !pb->failed) {
        char msg[400];
        snprintf(msg, sizeof(msg), "dlq: %lu dead letters not acknowledged: %s", pb->dlq.failed,
                 pb->dlq.error);
        pipeline_fail(p, msg);
    }
}

/* Settles every batch Cosmos is done with, tells p->commit the state of each (durable ones
 * may commit out of batch order on partitions they do not share with older ones), and
 * retires the durable ones at the head, in order. Returns how many were retired. */
static int pipeline_collect(struct pipeline *p)
{
    for (struct pipeline_batch *pb = p->head; pb; pb = pb->next) {
        if (!pb->settled && !p->fatal)
            pipeline_settle(p, pb);
        pipeline_track(p, pb);
    }
    int retired = 0;
    while (!p->fatal && p->head && p->head->state == COMMIT_DURABLE) {
        struct pipeline_batch *pb = p->head;
        p->stats.dead_lettered += pb->dlq.acked;
        if (p->stats.batches++ == 0)
            LOG(LOG_INFO, "first batch durable", LF_INT("messages", pb->items.count),
                LF_INT("ms", clock_mono_ms() - pb->t0));
        pipeline_publish(p, pb);
        LOG(LOG_DEBUG, "batch done", LF_INT("messages", pb->items.count), LF_INT("writes", pb->nw),
            LF_INT("ms", clock_mono_ms() - pb->t0));
        pipeline_retire_head(p);
        retired++;
    }
    return retired;
}

void pipeline_publish_commits(struct pipeline *p)
{
    if (p->stats.commits_refused != p->commit.refused)
        LOG(LOG_WARN, "commits refused: stale assignment, or not above the committed offset",
            LF_INT("refused_total", p->commit.refused));
    p->stats.commits_refused = p->commit.refused;
    if (!p->metrics)
        return;
    metrics_lock(p->metrics);
    p->metrics->counters.commits = p->stats.commits;
    p->metrics->counters.commit_failures = p->stats.commit_failures;
    p->metrics->counters.commits_refused = p->stats.commits_refused;
    metrics_unlock(p->metrics);
}

/* Commits, synchronously, what p->commit allows now. A failure is retried later
 * (PIPELINE_COMMIT_RETRY_MS) with the durable work kept: only redelivery is at stake. */
static void pipeline_commit(struct pipeline *p)
{
    char err[512];
    const struct batch_mark *marks;
    size_t n = commit_ready(&p->commit, &marks);
    int ok = n == 0 ||
             kafka_commit_marks(p->consumer, p->cfg->kafka_topic, marks, n, err, sizeof(err)) == 0;
    commit_done(&p->commit, ok);
    if (!ok) {
        p->stats.commit_failures++;
        p->commit_retry_ms = clock_mono_ms() + PIPELINE_COMMIT_RETRY_MS;
        LOG(LOG_WARN, "commit failed; retrying", LF_STR("error", err));
    } else {
        if (n > 0 && p->stats.commits++ == 0)
            LOG(LOG_INFO, "first commit", LF_INT("partitions", n));
        p->commit_retry_ms = 0;
    }
    pipeline_publish_commits(p);
}

/* Network, wake-ups, DLQ reports, settling: the part of a turn drain shares. */
static void pipeline_turn(struct pipeline *p, int wait_ms)
{
    char sink[64];
    cosmos_step(p->cosmos, wait_ms, p->wake[0]);
    while (read(p->wake[0], sink, sizeof(sink)) > 0)
        ;
    dlq_poll(p->dlq);
    int retired = pipeline_collect(p);
    if (p->commit.refused != p->stats.commits_refused)
        pipeline_publish_commits(p); /* a fenced batch finished */
    pipeline_publish_counters(p);
    pipeline_lag_step(p, clock_mono_ms());
    /* Liveness: idle, or something finished. A request hanging with nothing else finishing
     * is no progress; each finished Cosmos request also counts (lib/cosmos). */
    if (p->metrics && (retired || p->in_flight == 0))
        metrics_heartbeat(p->metrics);
}

static int64_t pipeline_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

void pipeline_step(struct pipeline *p, int wait_cap_ms, int consumer_more)
{
    if (p->fatal)
        return;
    int64_t now = clock_mono_ms();
    while (!p->fatal && p->in_flight < p->max_in_flight && batch_ready(&p->open, now))
        pipeline_submit(p);
    if (pipeline_full(p)) {
        if (!p->blocked_ms)
            p->blocked_ms = now;
        if (!p->paused && now - p->blocked_ms >= PIPELINE_PAUSE_AFTER_MS)
            pipeline_set_paused(p, 1);
    } else {
        p->blocked_ms = 0;
        if (p->paused)
            pipeline_set_paused(p, 0);
    }
    int64_t wait = wait_cap_ms;
    if (consumer_more && pipeline_wants_messages(p))
        wait = 0;
    if (p->open.count > 0 && p->in_flight < p->max_in_flight)
        wait = pipeline_min(wait, batch_time_left_ms(&p->open, now));
    if (p->blocked_ms && !p->paused)
        wait = pipeline_min(wait, p->blocked_ms + PIPELINE_PAUSE_AFTER_MS - now);
    if (p->commit_retry_ms && commit_pending(&p->commit))
        wait = pipeline_min(wait, p->commit_retry_ms - now);
    pipeline_turn(p, wait < 0 ? 0 : (int)wait);
    if (!p->fatal && commit_pending(&p->commit) &&
        (!p->commit_retry_ms || clock_mono_ms() >= p->commit_retry_ms))
        pipeline_commit(p);
}

int pipeline_drain(struct pipeline *p)
{
    if (!p->fatal && p->open.count > 0)
        pipeline_submit(p);
    while (!p->fatal && p->head) {
        if (p->deadline_ms && clock_mono_ms() >= p->deadline_ms) {
            char msg[160];
            snprintf(msg, sizeof(msg), "deadline passed with %d batches not written", p->in_flight);
            pipeline_fail(p, msg);
            break;
        }
        pipeline_turn(p, 100);
    }
    if (commit_pending(&p->commit))
        pipeline_commit(p); /* what is durable, also after a failure */
    return p->fatal ? -1 : 0;
}
