/*
 * metrics: registry and Prometheus text exposition. Names follow Prometheus conventions:
 * ordersink_ prefix, _total counters, base units (seconds, request units as a count).
 */
#include "metrics.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

static const double batch_size_bounds[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
static const double batch_seconds_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,    2.5,   5,    10,  30};
static const double e2e_seconds_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

int metrics_init(struct metrics *m, const char *version)
{
    memset(m, 0, sizeof(*m));
    if (pthread_mutex_init(&m->lock, NULL) != 0)
        return -1;
    m->batch_size.bounds = batch_size_bounds;
    m->batch_size.nbounds = NBOUNDS(batch_size_bounds);
    m->batch_seconds.bounds = batch_seconds_bounds;
    m->batch_seconds.nbounds = NBOUNDS(batch_seconds_bounds);
    m->e2e_seconds.bounds = e2e_seconds_bounds;
    m->e2e_seconds.nbounds = NBOUNDS(e2e_seconds_bounds);
    snprintf(m->version, sizeof(m->version), "%s", version);
    m->live.cosmos.heartbeat_ms = &m->live.heartbeat_ms;
    atomic_store(&m->live.cosmos.reachable, 1);
    metrics_heartbeat(m);
    return 0;
}

void metrics_free(struct metrics *m)
{
    free(m->lag);
    m->lag = NULL;
    pthread_mutex_destroy(&m->lock);
}

void metrics_lock(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
}

void metrics_unlock(struct metrics *m)
{
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe(struct metrics_histogram *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++; /* cumulated when rendered */
    h->sum += v;
    h->count++;
}

/* The index of reason, registering it at 0 when new; -1 when the table is full. */
static long metrics_reason_slot(struct metrics *m, const char *reason)
{
    for (size_t i = 0; i < m->nreasons; i++)
        if (strcmp(m->reasons[i], reason) == 0)
            return (long)i;
    if (m->nreasons == METRICS_MAX_REASONS)
        return -1;
    m->reasons[m->nreasons] = reason;
    m->reason_counts[m->nreasons] = 0;
    return (long)m->nreasons++;
}

void metrics_count_reason(struct metrics *m, const char *reason)
{
    long i = metrics_reason_slot(m, reason);
    if (i >= 0)
        m->reason_counts[i]++;
}

void metrics_declare_reason(struct metrics *m, const char *reason)
{
    metrics_reason_slot(m, reason);
}

void metrics_heartbeat(struct metrics *m)
{
    atomic_store(&m->live.heartbeat_ms, clock_mono_ms());
}

int metrics_set_lag(struct metrics *m, const struct metrics_lag *lag, size_t n)
{
    struct metrics_lag *copy = NULL;
    if (n > 0) {
        copy = malloc(n * sizeof(*copy));
        if (!copy)
            return -1;
        memcpy(copy, lag, n * sizeof(*copy));
    }
    metrics_lock(m);
    free(m->lag);
    m->lag = copy;
    m->nlag = n;
    metrics_unlock(m);
    return 0;
}

/* A growing text buffer; on allocation failure it stays failed and render returns NULL. */
struct metrics_text {
    char *buf;
    size_t len, cap;
    int failed;
};

static void mt_printf(struct metrics_text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static void mt_counter(struct metrics_text *t, const char *name, const char *help, double v)
{
    mt_printf(t, "# HELP %s %s\n# TYPE %s counter\n%s %.17g\n", name, help, name, name, v);
}

static void mt_gauge(struct metrics_text *t, const char *name, const char *help, double v)
{
    mt_printf(t, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void mt_histogram(struct metrics_text *t, const char *name, const char *help,
                         const struct metrics_histogram *h)
{
    mt_printf(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->counts[i];
        mt_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->nbounds];
    mt_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n", name,
              (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}

/* Statuses exported from the start, at 0 until they happen (rate() and increase() then see
 * their first occurrence): no answer, the successes, and every status lib/retry names. */
static int metrics_known_status(int s)
{
    static const int known[] = {0, 200, 201, 207, 401, 403, 404, 408, 410, 429, 449, 500, 503};
    for (size_t i = 0; i < NBOUNDS(known); i++)
        if (known[i] == s)
            return 1;
    return 0;
}

static void metrics_render_cosmos(struct metrics_text *t, const struct metrics *m)
{
    mt_printf(t, "# HELP ordersink_cosmos_requests_total Cosmos requests by HTTP status "
                 "(status=\"none\": no answer)\n# TYPE ordersink_cosmos_requests_total counter\n");
    const int nstatus = (int)(sizeof(m->cosmos.by_status) / sizeof(m->cosmos.by_status[0]));
    for (int s = 0; s < nstatus; s++) {
        if (!m->cosmos.by_status[s] && !metrics_known_status(s))
            continue;
        char status[8] = "none";
        if (s)
            snprintf(status, sizeof(status), "%d", s);
        mt_printf(t, "ordersink_cosmos_requests_total{status=\"%s\"} %llu\n", status,
                  (unsigned long long)m->cosmos.by_status[s]);
    }
    mt_counter(t, "ordersink_cosmos_request_units_total",
               "Request units charged by Cosmos (sum of x-ms-request-charge)",
               m->cosmos.request_units);
    mt_counter(t, "ordersink_cosmos_throttled_total", "Cosmos answers 429 (throttled)",
               (double)m->cosmos.throttled);
    mt_counter(t, "ordersink_cosmos_retries_total", "Cosmos writes retried",
               (double)m->cosmos.retries);
    mt_counter(t, "ordersink_cosmos_operations_total",
               "Operations sent to Cosmos (per batch request: its operations); divided by the "
               "requests: how full batch requests are",
               (double)m->cosmos.operations);
    mt_counter(t, "ordersink_cosmos_range_refreshes_total",
               "Reads of the partition key ranges after a 410 named a range gone (split)",
               (double)m->cosmos.range_refreshes);
    mt_counter(t, "ordersink_cosmos_superseded_total",
               "Versioned writes not made: Cosmos already held that version or a newer one",
               (double)m->cosmos.superseded);
    mt_gauge(t, "ordersink_cosmos_in_flight_requests", "Cosmos requests on the wire",
             atomic_load(&m->live.cosmos.in_flight));
    mt_gauge(t, "ordersink_cosmos_concurrency_limit", "Adaptive limit of Cosmos requests in flight",
             m->cosmos.concurrency_limit);
    mt_counter(t, "ordersink_cosmos_concurrency_cuts_total",
               "Times throttling halved the concurrency limit", (double)m->cosmos.limit_cuts);
    mt_gauge(t, "ordersink_batches_in_flight", "Closed batches being written",
             atomic_load(&m->live.batches_in_flight));
}

static void metrics_render_counters(struct metrics_text *t, const struct metrics *m)
{
    const struct metrics_counters *c = &m->counters;
    mt_counter(t, "ordersink_orders_consumed_total", "Messages consumed from Kafka",
               (double)c->consumed);
    mt_counter(t, "ordersink_orders_written_total", "Documents written (upserted) to Cosmos",
               (double)c->written);
    mt_counter(t, "ordersink_orders_coalesced_total",
               "Orders folded into a newer version of the same id in one batch",
               (double)c->coalesced);
    mt_printf(t, "# HELP ordersink_orders_dead_lettered_total Messages sent to the DLQ, by "
                 "reason\n# TYPE ordersink_orders_dead_lettered_total counter\n");
    for (size_t i = 0; i < m->nreasons; i++)
        mt_printf(t, "ordersink_orders_dead_lettered_total{reason=\"%s\"} %llu\n", m->reasons[i],
                  (unsigned long long)m->reason_counts[i]);
    mt_counter(t, "ordersink_batches_total", "Batches written and committed", (double)c->batches);
    mt_counter(t, "ordersink_commits_total", "Successful offset commits", (double)c->commits);
    mt_counter(t, "ordersink_commit_failures_total", "Failed offset commits",
               (double)c->commit_failures);
    mt_counter(t, "ordersink_commits_refused_total",
               "Commits refused: work of a revoked or lost assignment, or an offset not above "
               "the last committed one",
               (double)c->commits_refused);
}

char *metrics_render(struct metrics *m, size_t *len)
{
    struct metrics_text t = {0};
    metrics_lock(m);
    metrics_render_counters(&t, m);
    metrics_render_cosmos(&t, m);
    mt_histogram(&t, "ordersink_batch_size", "Messages per batch", &m->batch_size);
    mt_histogram(&t, "ordersink_batch_write_duration_seconds",
                 "Time from a batch closing to its commit", &m->batch_seconds);
    mt_histogram(&t, "ordersink_end_to_end_latency_seconds",
                 "Time from the Kafka message timestamp to the commit", &m->e2e_seconds);
    mt_printf(&t, "# HELP ordersink_consumer_lag Messages between the committed offset and the "
                  "high watermark, by assigned partition (end offsets asked every second, also "
                  "while paused)\n# TYPE ordersink_consumer_lag gauge\n");
    for (size_t i = 0; i < m->nlag; i++)
        mt_printf(&t, "ordersink_consumer_lag{partition=\"%d\"} %lld\n", m->lag[i].partition,
                  (long long)m->lag[i].lag);
    metrics_unlock(m);
    mt_gauge(&t, "ordersink_assigned_partitions", "Partitions assigned to this worker",
             atomic_load(&m->live.assigned));
    mt_gauge(&t, "ordersink_paused_partitions", "Partitions paused for backpressure",
             atomic_load(&m->live.paused));
    mt_printf(&t,
              "# HELP ordersink_build_info Build information\n# TYPE ordersink_build_info gauge\n"
              "ordersink_build_info{version=\"%s\",librdkafka=\"%s\"} 1\n",
              m->version, rd_kafka_version_str());
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
