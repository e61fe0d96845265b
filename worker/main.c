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
#include "kafka_offsets.h"
#include "lag_cmd.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"

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

static void worker_on_stats(const char *json, size_t len, void *opaque)
{
    struct pipeline *p = opaque;
    metrics_update_lag(p->metrics, json, len);
}

/* One progress line; lag only while the consumer is open (rk != NULL). */
static void worker_log_progress(struct pipeline *p, rd_kafka_t *rk)
{
    const struct cosmos_stats *cs = cosmos_client_stats(p->cosmos);
    LOG(LOG_INFO, "progress", LF_INT("consumed", p->stats.consumed),
        LF_INT("written", p->stats.written), LF_INT("coalesced", p->stats.coalesced),
        LF_INT("dead_lettered", p->stats.dead_lettered), LF_INT("batches", p->stats.batches),
        LF_INT("commits", p->stats.commits), LF_INT("lag", rk ? kafka_consumer_lag(rk) : 0),
        LF_INT("cosmos_requests", cs->requests), LF_INT("cosmos_retries", cs->retries),
        LF_INT("cosmos_throttled", cs->throttled), LF_DBL("request_units", cs->request_units),
        LF_INT("concurrency_limit", cs->concurrency_limit),
        LF_INT("concurrency_cuts", cs->limit_cuts), LF_INT("batches_in_flight", p->in_flight));
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
        if (kafka_fatal->set) {
            LOG(LOG_ERROR,
                "kafka: cannot connect securely or authenticate; check the Kafka "
                "security settings",
                LF_STR("error", kafka_fatal->reason));
            failed = 1;
            break;
        }
        pipeline_step(p, 100, more);
        if (c->log_stats_interval_ms > 0 && clock_mono_ms() >= next_stats) {
            worker_log_progress(p, rk);
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
 * Reads the container's definition before anything is consumed: the partition key path
 * routes every order. While Cosmos cannot be reached, tries again with the retry backoff
 * (nothing is read from Kafka meanwhile; /readyz says unreachable). Returns COSMOS_OK,
 * COSMOS_FATAL (exit 3: refused, missing, wrong key path) or COSMOS_GAVE_UP when stopped.
 */
static enum cosmos_result worker_read_container(struct cosmos_client *cosmos, const struct cfg *c,
                                                char *err, size_t errsz)
{
    int64_t backoff = c->retry_base_ms;
    for (;;) {
        enum cosmos_result cr = cosmos_check_container(cosmos, err, errsz);
        if (cr != COSMOS_GAVE_UP || worker_stop)
            return worker_stop && cr == COSMOS_GAVE_UP ? COSMOS_GAVE_UP : cr;
        LOG(LOG_WARN,
            "cosmos not reachable at start; reading the container again before "
            "consuming",
            LF_STR("error", err), LF_INT("retry_in_ms", backoff));
        for (int64_t until = clock_mono_ms() + backoff; !worker_stop && clock_mono_ms() < until;)
            nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        if (worker_stop)
            return COSMOS_GAVE_UP;
        backoff = backoff * 2 > c->retry_max_ms ? c->retry_max_ms : backoff * 2;
    }
}

static int worker_main(const struct cfg *c, struct metrics *metrics)
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
    };
    if (worker_stop)
        return 0; /* stopped while starting: nothing read, nothing to commit */
    struct cosmos_client *cosmos = cosmos_client_new(&co, err, sizeof(err));
    if (!cosmos) {
        LOG(LOG_ERROR, err);
        return 1;
    }
    enum cosmos_result cr = worker_read_container(cosmos, c, err, sizeof(err));
    if (cr != COSMOS_OK) {
        if (cr == COSMOS_FATAL)
            LOG(LOG_ERROR, err);
        cosmos_client_free(cosmos);
        return cr == COSMOS_FATAL ? 3 : 0; /* else stopped by a signal while waiting */
    }
    LOG(LOG_INFO, "container", LF_STR("container", c->cosmos_container),
        LF_STR("partition_key_path", cosmos_partition_key_path(cosmos)),
        LF_STR("from", c->cosmos_partition_key_path ? "config, checked" : "container"));
    int rc = 1;
    struct pipeline p;
    struct dlq *dlq = dlq_new(c, err, sizeof(err));
    if (!dlq || pipeline_init(&p, c, cosmos, dlq, metrics) != 0) {
        LOG(LOG_ERROR, dlq ? "out of memory" : err);
        dlq_free(dlq);
        cosmos_client_free(cosmos);
        return 1;
    }
    struct kafka_consumer_hooks hooks = {.before_revoke = worker_on_revoke,
                                         .after_assign = worker_on_assign,
                                         .on_stats = worker_on_stats,
                                         .opaque = &p};
    rd_kafka_t *rk = kafka_consumer_new(c, &hooks, err, sizeof(err));
    if (!rk) {
        LOG(LOG_ERROR, err);
        goto out;
    }
    pipeline_attach(&p, rk);
    LOG(LOG_INFO, "worker started", LF_STR("version", ORDERSINK_VERSION),
        LF_STR("topic", c->kafka_topic), LF_STR("group", c->kafka_group_id),
        LF_STR("container", c->cosmos_container));
    int consumer_failed = worker_run(&p, rk, c, &hooks.fatal);
    worker_shutdown(&p, rk, c);
    worker_log_progress(&p, NULL);
    if (p.fatal)
        LOG(LOG_ERROR, "stopped without committing what was not yet written",
            LF_STR("error", p.fatal_error));
    rc = p.fatal || consumer_failed ? 1 : 0;
out:
    /* Before rd_kafka_destroy, which waits until every message the pipeline holds is gone. */
    pipeline_free(&p);
    if (rk)
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
    rd_kafka_conf_t *probe = kafka_conf_new(&c, "ordersink-worker", err, sizeof(err));
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
