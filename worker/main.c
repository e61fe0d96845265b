/*
 * worker: Kafka -> Cosmos DB order worker. Wires config, logging, the Cosmos client, the DLQ
 * producer, the consumer and the pipeline; owns signals and the main loop.
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad configuration, 3 Cosmos refused
 * the credentials or the container does not exist.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "cosmos.h"
#include "dlq.h"
#include "health.h"
#include "kafka.h"
#include "kafka_group.h"
#include "kafka_offsets.h"
#include "lag_cmd.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "retry.h"

#ifndef ORDERSINK_VERSION
#define ORDERSINK_VERSION "dev"
#endif

static volatile sig_atomic_t worker_stop;

static void worker_on_signal(int sig)
{
    (void)sig;
    worker_stop = 1;
}

/*
 * SIGTERM/SIGINT become a clean stop (exit 0) from the first instant: this runs from
 * .preinit_array, before the shared libraries' constructors (OpenSSL, GnuTLS, p11-kit, ...),
 * which take several milliseconds between exec and main(); a pod stopped right after it
 * started was killed by the signal (exit 143) in that window.
 */
static void worker_install_signals(void)
{
    struct sigaction sa = {.sa_handler = worker_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
__attribute__((section(".preinit_array"),
               used)) static void (*const worker_preinit)(void) = worker_install_signals;

static void worker_usage(FILE *out)
{
    fprintf(out, "usage: worker [--config PATH] [--check-config] [--print-settings] [--version]\n"
                 "       worker lag [--help]   consumer-group lag as KEDA computes it\n"
                 "  --config PATH     libconfig file (default: $ORDERSINK_CONFIG)\n"
                 "  --check-config    validate, print the effective config (secrets redacted)\n"
                 "  --print-settings  print the table of settings in Markdown\n"
                 "Every setting can be overridden by its ORDERSINK_* env var (see "
                 "docs/configuration.md).\n");
}

static void worker_on_revoke(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts, int lost,
                             void *opaque)
{
    (void)rk;
    struct pipeline *p = opaque;
    pipeline_on_revoke(p, parts, lost);
    atomic_fetch_sub(&p->metrics->live.assigned, parts->cnt);
}

static void worker_on_assign(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                             void *opaque)
{
    (void)rk;
    struct pipeline *p = opaque;
    pipeline_on_assign(p, parts);
    atomic_fetch_add(&p->metrics->live.assigned, parts->cnt);
    atomic_store(&p->metrics->live.joined, 1);
}

/* One progress line; lag (as /metrics reports it) only while the consumer is open. */
static void worker_log_progress(struct pipeline *p, int open)
{
    const struct cosmos_stats *cs = cosmos_client_stats(p->cosmos);
    LOG(LOG_INFO, "progress", LF_INT("consumed", p->stats.consumed),
        LF_INT("written", p->stats.written), LF_INT("coalesced", p->stats.coalesced),
        LF_INT("dead_lettered", p->stats.dead_lettered), LF_INT("batches", p->stats.batches),
        LF_INT("commits", p->stats.commits), LF_INT("lag", open ? p->lag_total : 0),
        LF_INT("cosmos_requests", cs->requests), LF_INT("cosmos_retries", cs->retries),
        LF_INT("cosmos_throttled", cs->throttled), LF_DBL("request_units", cs->request_units),
        LF_INT("concurrency_limit", cs->concurrency_limit),
        LF_INT("concurrency_cuts", cs->limit_cuts), LF_INT("batches_in_flight", p->in_flight),
        LF_INT("superseded", cs->superseded), LF_INT("cosmos_reads", cs->reads));
}

/* Handles a consumer event that carries an error. Returns 1 when the worker must stop. */
static int worker_consumer_error(const rd_kafka_message_t *m)
{
    int fatal = kafka_error_is_fatal(m->err, rd_kafka_message_errstr(m));
    LOG(fatal ? LOG_ERROR : LOG_WARN, "kafka consumer error",
        LF_STR("error", rd_kafka_message_errstr(m)), LF_STR("code", rd_kafka_err2name(m->err)));
    return fatal;
}

/* Most messages taken from the consumer per turn before the pipeline gets a turn. */
#define WORKER_POLL_BURST 1000

static int worker_run(struct pipeline *p, rd_kafka_t *rk, const struct cfg *c,
                      const struct kafka_fatal *kafka_fatal)
{
    int64_t next_stats = clock_mono_ms() + c->log_stats_interval_ms;
    int failed = 0;
    int more = 1; /* the consumer's queue may hold messages: it was not polled empty */
    while (!worker_stop && !p->fatal && !failed) {
        int polled = 0;
        while (pipeline_wants_messages(p) && !failed) {
            if (polled == WORKER_POLL_BURST) {
                more = 1;
                break;
            }
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
            if (!m) {
                more = 0; /* librdkafka writes to the wake pipe when it fills again */
                break;
            }
            polled++;
            more = 1;
            if (m->err) {
                failed = worker_consumer_error(m);
                rd_kafka_message_destroy(m);
            } else {
                pipeline_add(p, m);
            }
        }
        if (kafka_fatal_is_set(kafka_fatal)) {
            const char *hint = kafka_group_fatal_hint(c, kafka_fatal->reason);
            LOG(LOG_ERROR,
                hint ? hint
                     : "kafka: cannot connect securely or authenticate; check the Kafka "
                       "security settings",
                LF_STR("error", kafka_fatal->reason));
            failed = 1;
            break;
        }
        pipeline_step(p, 100, more);
        if (c->log_stats_interval_ms > 0 && clock_mono_ms() >= next_stats) {
            worker_log_progress(p, 1);
            next_stats = clock_mono_ms() + c->log_stats_interval_ms;
        }
    }
    return failed;
}

/* SIGTERM path: write and commit within the shutdown timeout, then leave the group. */
static void worker_shutdown(struct pipeline *p, rd_kafka_t *rk, const struct cfg *c)
{
    int64_t start = clock_mono_ms();
    /* Leave a quarter of the budget for leaving the group. */
    p->deadline_ms = start + c->shutdown_timeout_ms * 3 / 4;
    pipeline_drain(p);
    rd_kafka_consumer_close(rk);
    LOG(LOG_INFO, "shutdown complete", LF_INT("ms", clock_mono_ms() - start));
}

/*
 * Reads the container's definition before anything is consumed: its partition key path routes
 * every order. While Cosmos cannot be reached, tries again with the retry backoff, up to
 * retry.max_attempts attempts, as a write would (nothing is read from Kafka meanwhile;
 * /readyz says unreachable). Returns COSMOS_OK, COSMOS_FATAL (exit 3: refused, missing, wrong
 * key path), COSMOS_GAVE_UP (exit 1: unreachable, err says so) or COSMOS_RUNNING when a signal
 * stopped the wait.
 */
static enum cosmos_result worker_read_container(struct cosmos_client *cosmos, const struct cfg *c,
                                                char *err, size_t errsz)
{
    for (int attempt = 1;; attempt++) {
        enum cosmos_result cr = cosmos_check_container(cosmos, err, errsz);
        if (cr != COSMOS_GAVE_UP)
            return cr;
        if (attempt >= c->retry_max_attempts) {
            size_t n = strlen(err);
            snprintf(err + n, errsz - n, " (container read %d times at start; nothing consumed)",
                     attempt);
            return COSMOS_GAVE_UP;
        }
        struct retry_policy policy = {(int)c->retry_max_attempts, c->retry_base_ms,
                                      c->retry_max_ms};
        int64_t backoff = retry_backoff_ms(&policy, attempt, -1, (uint32_t)clock_mono_ms());
        LOG(LOG_WARN,
            "cosmos not reachable at start; reading the container again before "
            "consuming",
            LF_STR("error", err), LF_INT("attempt", attempt), LF_INT("retry_in_ms", backoff));
        for (int64_t until = clock_mono_ms() + backoff; !worker_stop && clock_mono_ms() < until;)
            nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        if (worker_stop)
            return COSMOS_RUNNING;
    }
}

/*
 * Creates the Cosmos client and reads the container (worker_read_container). Returns 0 with
 * *out set; else the exit code (3 refused or missing, 0 stopped by a signal, 1 other) with
 * nothing left open.
 */
static int worker_open_cosmos(const struct cfg *c, struct metrics *metrics,
                              struct cosmos_client **out)
{
    char err[512];
    struct cosmos_opts co = {
        .endpoint = c->cosmos_endpoint,
        .key_b64 = c->cosmos_key,
        .database = c->cosmos_database,
        .container = c->cosmos_container,
        .ca_file = c->cosmos_ca_file,
        .max_in_flight = (int)c->cosmos_max_in_flight,
        .adaptive = (int)c->cosmos_adaptive_concurrency,
        .request_timeout_ms = (long)c->cosmos_request_timeout_ms,
        .retry = {(int)c->retry_max_attempts, c->retry_base_ms, c->retry_max_ms},
        .live = &metrics->live.cosmos,
        .bulk = (int)c->cosmos_bulk,
        .partition_key_path = c->cosmos_partition_key_path,
        .write_mode = strcmp(c->cosmos_write_mode, "upsert") == 0 ? COSMOS_WRITE_UPSERT
                                                                  : COSMOS_WRITE_VERSIONED,
    };
    struct cosmos_client *cosmos = cosmos_client_new(&co, err, sizeof(err));
    if (!cosmos) {
        LOG(LOG_ERROR, err);
        return 1;
    }
    enum cosmos_result cr = worker_read_container(cosmos, c, err, sizeof(err));
    if (cr != COSMOS_OK) {
        if (cr != COSMOS_RUNNING)
            LOG(LOG_ERROR, err);
        cosmos_client_free(cosmos);
        return cr == COSMOS_FATAL ? 3 : cr == COSMOS_GAVE_UP ? 1 : 0; /* 0: stopped by a signal */
    }
    LOG(LOG_INFO, "container", LF_STR("container", c->cosmos_container),
        LF_STR("partition_key_path", cosmos_partition_key_path(cosmos)),
        LF_STR("from", c->cosmos_partition_key_path ? "config, checked" : "container"));
    *out = cosmos;
    return 0;
}

static int worker_main(const struct cfg *c, struct metrics *metrics)
{
    char err[512];
    if (worker_stop)
        return 0; /* stopped while starting: nothing read, nothing to commit */
    struct pipeline p;
    struct kafka_consumer_hooks hooks = {
        .before_revoke = worker_on_revoke, .after_assign = worker_on_assign, .opaque = &p};
    /* Created before the Cosmos reads but subscribed only after them: its broker connection
     * (TLS, SASL) and coordinator lookup overlap the reads, and no partition is taken before
     * the worker can write (docs/benchmarks.md, "Start-up"). No callback runs before the
     * subscription: they are served by rd_kafka_consumer_poll. */
    rd_kafka_t *rk = kafka_consumer_new(c, &hooks, err, sizeof(err));
    if (!rk) {
        LOG(LOG_ERROR, err);
        return 1;
    }
    struct cosmos_client *cosmos = NULL;
    int rc = worker_open_cosmos(c, metrics, &cosmos); /* without cosmos: the exit code */
    struct dlq *dlq = cosmos ? dlq_new(c, err, sizeof(err)) : NULL;
    if (!cosmos || !dlq || pipeline_init(&p, c, cosmos, dlq, metrics) != 0) {
        if (cosmos)
            LOG(LOG_ERROR, dlq ? "out of memory" : err);
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); /* never subscribed */
        dlq_free(dlq);
        cosmos_client_free(cosmos);
        return cosmos ? 1 : rc;
    }
    rc = 1;
    if (pipeline_attach(&p, rk) != 0) {
        LOG(LOG_ERROR, p.fatal_error);
        goto out;
    }
    if (kafka_consumer_subscribe(rk, c, err, sizeof(err)) != 0) {
        LOG(LOG_ERROR, err);
        goto out;
    }
    LOG(LOG_INFO, "worker started", LF_STR("version", ORDERSINK_VERSION),
        LF_STR("topic", c->kafka_topic), LF_STR("group", c->kafka_group_id),
        LF_STR("group_protocol", c->kafka_group_protocol),
        LF_STR("container", c->cosmos_container));
    int consumer_failed = worker_run(&p, rk, c, &hooks.fatal);
    worker_shutdown(&p, rk, c);
    worker_log_progress(&p, 0);
    if (p.fatal)
        LOG(LOG_ERROR, "stopped without committing what was not yet written",
            LF_STR("error", p.fatal_error));
    rc = p.fatal || consumer_failed ? 1 : 0;
out:
    /* Before rd_kafka_destroy, which waits until every message the pipeline holds is gone. */
    pipeline_free(&p);
    rd_kafka_destroy(rk);
    dlq_free(dlq);
    cosmos_client_free(cosmos);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "lag") == 0)
        return worker_lag(argc - 1, argv + 1);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"check-config", no_argument, NULL, 'k'},
        {"print-settings", no_argument, NULL, 'p'}, {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *path = getenv("ORDERSINK_CONFIG");
    int check = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = 1;
            break;
        case 'p':
            cfg_print_markdown(stdout);
            return 0;
        case 'v':
            printf("ordersink worker %s (librdkafka %s, %s)\n", ORDERSINK_VERSION,
                   rd_kafka_version_str(), curl_version());
            return 0;
        case 'h':
            worker_usage(stdout);
            return 0;
        default:
            worker_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "worker: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    struct cfg c;
    char err[512];
    if (cfg_load(&c, path && *path ? path : NULL, CFG_WORKER, err, sizeof(err)) != 0) {
        fprintf(stderr, "worker: %s\n", err);
        cfg_free(&c);
        return 2;
    }
    /* librdkafka judges the Kafka properties (passthrough included): a bad one is config. */
    rd_kafka_conf_t *probe = kafka_consumer_conf_new(&c, err, sizeof(err));
    if (!probe) {
        fprintf(stderr, "worker: config: %s\n", err);
        cfg_free(&c);
        return 2;
    }
    rd_kafka_conf_destroy(probe);
    if (check) {
        cfg_print(&c, stdout);
        cfg_free(&c);
        return 0;
    }
    log_set_level((enum log_level)log_level_parse(c.log_level));
    if (c.kafka_insecure_skip_tls_verify)
        LOG(LOG_WARN, "kafka.insecure_skip_tls_verify=1: broker certificates and host names "
                      "are NOT verified; anyone on the path can read and alter the traffic");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "worker: libcurl initialisation failed\n");
        cfg_free(&c);
        return 1;
    }
    struct metrics metrics;
    struct health *health = NULL;
    int rc = 1;
    if (metrics_init(&metrics, ORDERSINK_VERSION) != 0) {
        fprintf(stderr, "worker: cannot initialise metrics\n");
        goto out;
    }
    if (c.metrics_port > 0) {
        health = health_start(&metrics, c.metrics_bind, (int)c.metrics_port,
                              c.health_liveness_timeout_ms, err, sizeof(err));
        if (!health) {
            LOG(LOG_ERROR, err);
            metrics_free(&metrics);
            goto out;
        }
    }
    rc = worker_main(&c, &metrics);
    health_stop(health);
    metrics_free(&metrics);
out:
    curl_global_cleanup();
    cfg_free(&c);
    return rc;
}
