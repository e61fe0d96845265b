/*
 * producer: load generator. Wires flags + config (lib/config, shared with the worker), the
 * order generator (lib/order_gen), the send schedule (lib/pace) and an idempotent acks=all
 * Kafka producer (lib/kafka) or, with --dry-run, stdout. Owns signals and the send loop.
 * Exit codes: 0 all delivered, 1 a message failed delivery or a runtime error, 2 bad flags
 * or configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "order_gen.h"
#include "pace.h"

#define PROD_FLUSH_TIMEOUT_MS 30000
#define PROD_SEND_CHUNK 1000      /* messages between two polls of the producer */
#define PROD_AWAIT_BROKER_TRIES 3 /* metadata answers awaited before the first send */
#define PROD_AWAIT_BROKER_MS 2000 /* at most this long */

struct prod_opts {
    struct pace pace;
    struct order_gen_opts gen;
    int64_t count;     /* 0 = no limit */
    double duration_s; /* 0 = no limit */
    int seeded;
    const char *topic;
    int create_partitions; /* 0 = do not create */
    int dry_run;
    const char *config;
};

struct prod {
    const struct prod_opts *o;
    rd_kafka_t *rk; /* NULL in --dry-run */
    rd_kafka_topic_t *rkt;
    struct order_gen *gen;
    int64_t sent, acked, failed;
    int64_t start_ms, last_progress_ms, last_progress_sent;
    char last_error[600];
    struct kafka_fatal fatal; /* authentication / TLS failure seen by the error callback */
};

static volatile sig_atomic_t prod_stop;

static void prod_on_signal(int sig)
{
    (void)sig;
    prod_stop++;
}

static void prod_usage(FILE *out)
{
    fprintf(out,
            "usage: producer [flags]   generates simulated orders into kafka.topic\n"
            "  --rate N            orders/s (0 = as fast as possible; default 0)\n"
            "  --count N           stop after N orders\n"
            "  --duration SECONDS  stop after this long (first of count/duration wins;\n"
            "                      neither = until Ctrl-C)\n"
            "  --pattern P         steady|burst|ramp|wave (default steady)\n"
            "                      burst: --count (or --burst) orders at once, then idle until\n"
            "                      --duration ends; ramp: 0 -> --rate over --duration;\n"
            "                      wave: rate*(0.5+0.5*sin(2*pi*t/period))\n"
            "  --burst N           orders in the burst (default --count)\n"
            "  --period SECONDS    wave period (default 60)\n"
            "  --size BYTES        pad each order's JSON to this size\n"
            "  --customers N       distinct customers (default 1000)\n"
            "  --skew S            zipf exponent over customers (0 = uniform; default 0)\n"
            "  --key customer|order  message key (default customer = customerId)\n"
            "  --seed N            deterministic orders (createdAt from 2026-01-01, +1 ms each)\n"
            "  --updates F         fraction of new versions of earlier orders (0..1)\n"
            "  --bad-ratio F       fraction of malformed messages, all kinds in turn (0..1)\n"
            "  --topic NAME        overrides kafka.topic\n"
            "  --create-topic N    create the topic with N partitions first (exists = fine)\n"
            "  --dry-run           print orders to stdout, one per line; no Kafka\n"
            "  --config PATH       libconfig file (default: $ORDERSINK_CONFIG)\n"
            "  --help              this text\n"
            "Kafka settings come from the config file / ORDERSINK_* env vars, as for the "
            "worker.\n");
}

/* ---------- flags ---------- */

static int prod_flag_error(const char *flag, const char *what, const char *arg)
{
    fprintf(stderr, "producer: --%s: %s (got '%s')\n", flag, what, arg ? arg : "");
    return -1;
}

static int prod_parse_double(const char *flag, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "must be a number between %g and %g", lo, hi);
        return prod_flag_error(flag, what, arg);
    }
    *out = v;
    return 0;
}

static int prod_parse_int(const char *flag, const char *arg, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "must be an integer between %lld and %lld", (long long)lo,
                 (long long)hi);
        return prod_flag_error(flag, what, arg);
    }
    *out = v;
    return 0;
}

static int prod_parse_seed(const char *arg, struct prod_opts *o)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-')
        return prod_flag_error("seed", "must be an unsigned integer", arg);
    o->gen.seed = v;
    o->seeded = 1;
    return 0;
}

/* Applies one parsed option. Returns 0, 1 for --help, -1 for a bad value. */
static int prod_apply_flag(int opt, const char *name, const char *arg, struct prod_opts *o)
{
    int64_t i;
    switch (opt) {
    case 'r':
        return prod_parse_double(name, arg, 0, 1e9, &o->pace.rate);
    case 'n':
        return prod_parse_int(name, arg, 1, INT64_MAX / 2, &o->count);
    case 'd':
        return prod_parse_double(name, arg, 0.001, 1e9, &o->duration_s);
    case 'P':
        return pace_pattern_parse(arg, &o->pace.pattern)
                   ? prod_flag_error(name, "must be steady, burst, ramp or wave", arg)
                   : 0;
    case 'b':
        return prod_parse_int(name, arg, 1, INT64_MAX / 2, &o->pace.burst);
    case 'T':
        return prod_parse_double(name, arg, 0.001, 1e9, &o->pace.period_s);
    case 's':
        if (prod_parse_int(name, arg, 0, ORDER_MAX_DOC_BYTES, &i))
            return -1;
        o->gen.size = (size_t)i;
        return 0;
    case 'C':
        if (prod_parse_int(name, arg, 1, ORDER_GEN_MAX_CUSTOMERS, &i))
            return -1;
        o->gen.customers = (uint32_t)i;
        return 0;
    case 'k':
        return prod_parse_double(name, arg, 0, 100, &o->gen.skew);
    case 'K':
        if (strcmp(arg, "customer") != 0 && strcmp(arg, "order") != 0)
            return prod_flag_error(name, "must be customer or order", arg);
        o->gen.key_by_order = strcmp(arg, "order") == 0;
        return 0;
    case 'S':
        return prod_parse_seed(arg, o);
    case 'u':
        return prod_parse_double(name, arg, 0, 1, &o->gen.update_ratio);
    case 'B':
        return prod_parse_double(name, arg, 0, 1, &o->gen.bad_ratio);
    case 't':
        if (!*arg)
            return prod_flag_error(name, "must not be empty", arg);
        o->topic = arg;
        return 0;
    case 'x':
        if (prod_parse_int(name, arg, 1, 100000, &i))
            return -1;
        o->create_partitions = (int)i;
        return 0;
    case 'D':
        o->dry_run = 1;
        return 0;
    case 'c':
        o->config = arg;
        return 0;
    case 'h':
        return 1;
    default:
        return -1;
    }
}

/* Checks the flags against each other. Returns 0 or -1 (message printed). */
static int prod_check_flags(struct prod_opts *o)
{
    if (o->gen.bad_ratio + o->gen.update_ratio > 1)
        return prod_flag_error("updates", "--bad-ratio + --updates must not exceed 1", "");
    if (o->pace.pattern == PACE_RAMP && o->duration_s <= 0)
        return prod_flag_error("pattern", "ramp needs --duration", "ramp");
    if (o->pace.pattern == PACE_BURST) {
        if (!o->pace.burst)
            o->pace.burst = o->count;
        if (!o->pace.burst)
            return prod_flag_error("pattern", "burst needs --count or --burst", "burst");
        if (!o->count || o->count > o->pace.burst)
            o->count = o->pace.burst;
    }
    o->pace.duration_s = o->duration_s;
    return 0;
}

/* Parses argv into o. Returns 0, 1 when --help was printed, 2 for bad flags. */
static int prod_parse_flags(int argc, char **argv, struct prod_opts *o)
{
    static const struct option opts[] = {{"rate", required_argument, NULL, 'r'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"pattern", required_argument, NULL, 'P'},
                                         {"burst", required_argument, NULL, 'b'},
                                         {"period", required_argument, NULL, 'T'},
                                         {"size", required_argument, NULL, 's'},
                                         {"customers", required_argument, NULL, 'C'},
                                         {"skew", required_argument, NULL, 'k'},
                                         {"key", required_argument, NULL, 'K'},
                                         {"seed", required_argument, NULL, 'S'},
                                         {"updates", required_argument, NULL, 'u'},
                                         {"bad-ratio", required_argument, NULL, 'B'},
                                         {"topic", required_argument, NULL, 't'},
                                         {"create-topic", required_argument, NULL, 'x'},
                                         {"dry-run", no_argument, NULL, 'D'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int opt, idx = -1;
    while ((opt = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
        const char *name = idx >= 0 ? opts[idx].name : "help";
        int rc = opt == '?' ? -1 : prod_apply_flag(opt, name, optarg, o);
        idx = -1;
        if (rc == 1) {
            prod_usage(stdout);
            return 1;
        }
        if (rc != 0) {
            if (opt == '?')
                fprintf(stderr, "producer: see --help for the flags\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "producer: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    return prod_check_flags(o) ? 2 : 0;
}

/* ---------- Kafka ---------- */

static void prod_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct prod *p = opaque;
    if (!m->err) {
        p->acked++;
        return;
    }
    if (p->failed++ == 0)
        LOG(LOG_ERROR, "delivery failed", LF_STR("error", rd_kafka_err2str(m->err)));
    snprintf(p->last_error, sizeof(p->last_error), "%s", rd_kafka_err2str(m->err));
}

static void prod_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct prod *p = opaque;
    if (!kafka_fatal_note(&p->fatal, err, reason))
        LOG(LOG_WARN, "kafka client error", LF_STR("code", rd_kafka_err2name(err)),
            LF_STR("error", reason));
}

/*
 * Asks for the topic's metadata until a broker learned from the cluster (not the bootstrap
 * address) answers. librdkafka 2.15 retires the bootstrap connection once it knows the
 * brokers, and its idempotent producer asks for a producer id when a metadata answer arrives
 * and otherwise every 500 ms: the first answer comes from the bootstrap connection while no
 * learned broker is up yet, so nothing was sent for 500 ms (measured: 0.51 s to deliver one
 * message; kcat on librdkafka 2.0.2, which keeps the bootstrap connection, 0.01 s). A learned
 * broker's answer finds it up and the id is asked at once (0.06 s). Best effort, bounded by
 * PROD_AWAIT_BROKER_MS and PROD_AWAIT_BROKER_TRIES answers: any error leaves it to librdkafka.
 */
static void prod_await_broker(struct prod *p)
{
    int64_t deadline = clock_mono_ms() + PROD_AWAIT_BROKER_MS;
    for (int answers = 0; answers < PROD_AWAIT_BROKER_TRIES && !prod_stop;) {
        rd_kafka_poll(p->rk, 0); /* an authentication or TLS failure ends the wait */
        int64_t left = deadline - clock_mono_ms();
        if (kafka_fatal_is_set(&p->fatal) || left <= 0)
            return;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e =
            rd_kafka_metadata(p->rk, 0, p->rkt, &md, left < 200 ? (int)left : 200);
        if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
            continue;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        answers++;
        int learned = md->orig_broker_id >= 0;
        rd_kafka_metadata_destroy(md);
        if (learned)
            return;
    }
}

/* Creates the idempotent acks=all producer. Returns 0 or -1 with err filled. */
static int prod_kafka_open(struct prod *p, const struct cfg *c, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = kafka_producer_conf_new(c, "ordersink-producer", err, errsz);
    /* A bounded queue: generating is faster than sending, and librdkafka's default (100,000
     * messages) let the queue grow to ~95 MB RSS for 512 B orders, paid in page faults and
     * cold caches; 10,000 kept it at ~27 MB and cut CPU per order. Connections to every broker
     * at once: with sparse connections librdkafka held the partition leader's back ~50 ms
     * (one message exec -> exit 0.07 s, 0.01 s without). See docs/benchmarks.md. */
    if (!conf || kafka_conf_set_default(c, conf, "linger.ms", "10", err, errsz) ||
        kafka_conf_set_default(c, conf, "message.max.bytes", "4194304", err, errsz) ||
        kafka_conf_set_default(c, conf, "queue.buffering.max.messages", "10000", err, errsz) ||
        kafka_conf_set_default(c, conf, "enable.sparse.connections", "false", err, errsz)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, prod_on_delivery);
    rd_kafka_conf_set_error_cb(conf, prod_on_error);
    rd_kafka_conf_set_opaque(conf, p);
    char msg[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof(msg));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "kafka: cannot create producer: %s", msg);
        return -1;
    }
    if (p->o->create_partitions) {
        int r = kafka_create_topic(p->rk, c->kafka_topic, p->o->create_partitions, err, errsz);
        if (r < 0)
            return -1;
        fprintf(stderr, r ? "producer: topic %s already exists\n" : "producer: created topic %s\n",
                c->kafka_topic);
    }
    p->rkt = rd_kafka_topic_new(p->rk, c->kafka_topic, NULL);
    if (!p->rkt) {
        snprintf(err, errsz, "kafka: topic %s: %s", c->kafka_topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    prod_await_broker(p);
    return 0;
}

/* ---------- the send loop ---------- */

/* Sends one message. Returns 0 (sent or counted as failed), 1 when stopped while the queue
 * was full, -1 on an error after which nothing more can be sent. */
static int prod_send(struct prod *p, const struct order_msg *m)
{
    if (!p->rk) {
        if (fwrite(m->value, 1, m->len, stdout) != m->len || putchar('\n') == EOF) {
            snprintf(p->last_error, sizeof(p->last_error), "stdout: %s", strerror(errno));
            p->failed++;
            return -1;
        }
        p->sent++;
        p->acked++;
        return 0;
    }
    for (;;) {
        if (rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)m->value,
                             m->len, m->key, m->key_len, NULL) == 0) {
            p->sent++;
            return 0;
        }
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(p->last_error, sizeof(p->last_error), "%s", rd_kafka_err2str(e));
            p->failed++;
            return kafka_error_is_fatal(e, NULL) ? -1 : 0;
        }
        rd_kafka_poll(p->rk, 10);
        if (prod_stop)
            return 1;
    }
}

static void prod_wait(struct prod *p, int ms)
{
    if (p->rk) {
        rd_kafka_poll(p->rk, ms);
    } else {
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void prod_progress(struct prod *p, int64_t now, int force)
{
    if (!force && now - p->last_progress_ms < 1000)
        return;
    double secs = (double)(now - p->last_progress_ms) / 1000.0;
    fprintf(stderr,
            "producer: sent=%" PRId64 " acknowledged=%" PRId64 " failed=%" PRId64 " rate=%.0f/s\n",
            p->sent, p->acked, p->failed,
            secs > 0 ? (double)(p->sent - p->last_progress_sent) / secs : 0.0);
    p->last_progress_ms = now;
    p->last_progress_sent = p->sent;
}

/* Sends what the schedule allows by now (at most one chunk). Returns prod_send's result. */
static int prod_send_due(struct prod *p, int64_t due)
{
    for (int n = 0; p->sent < due && n < PROD_SEND_CHUNK && !prod_stop; n++) {
        struct order_msg m;
        if (order_gen_next(p->gen, &m) != 0) {
            snprintf(p->last_error, sizeof(p->last_error), "order generator: out of memory");
            return -1;
        }
        int rc = prod_send(p, &m);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Generates until count, duration or a signal. Returns 0, or -1 on a fatal error. */
static int prod_run(struct prod *p)
{
    const struct prod_opts *o = p->o;
    int64_t limit = o->count ? o->count : INT64_MAX;
    for (;;) {
        if (kafka_fatal_is_set(&p->fatal)) {
            fprintf(stderr, "producer: kafka: cannot connect securely or authenticate: %s\n",
                    p->fatal.reason);
            snprintf(p->last_error, sizeof(p->last_error), "%s", p->fatal.reason);
            return -1;
        }
        int64_t now = clock_mono_ms();
        prod_progress(p, now, 0);
        double t = (double)(now - p->start_ms) / 1000.0;
        if (prod_stop || (o->duration_s > 0 && t >= o->duration_s))
            return 0;
        if (p->sent >= limit) {
            if (o->pace.pattern != PACE_BURST || o->duration_s <= 0)
                return 0;
            prod_wait(p, 100); /* burst: idle until the duration ends */
            continue;
        }
        int64_t due = pace_due(&o->pace, t);
        if (due > limit)
            due = limit;
        if (p->sent >= due) {
            prod_wait(p, 1);
            continue;
        }
        int rc = prod_send_due(p, due);
        if (rc < 0)
            return -1;
        if (p->rk)
            rd_kafka_poll(p->rk, 0);
    }
}

/* Waits for outstanding deliveries; what is still undelivered at the timeout counts failed. */
static void prod_flush(struct prod *p)
{
    if (!p->rk) {
        fflush(stdout);
        return;
    }
    int64_t deadline = clock_mono_ms() + PROD_FLUSH_TIMEOUT_MS;
    while (rd_kafka_flush(p->rk, 100) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        prod_progress(p, clock_mono_ms(), 0);
        if (clock_mono_ms() >= deadline || prod_stop > 1 || kafka_fatal_is_set(&p->fatal))
            break;
    }
    int64_t lost = p->sent - p->acked - p->failed;
    if (lost > 0) {
        p->failed += lost;
        snprintf(p->last_error, sizeof(p->last_error), "%" PRId64 " not delivered in time", lost);
    }
}

static uint64_t prod_random_seed(void)
{
    uint64_t s;
    if (getrandom(&s, sizeof(s), 0) == (ssize_t)sizeof(s))
        return s;
    return (uint64_t)clock_wall_ms() ^ ((uint64_t)getpid() << 32);
}

/* Runs with an open sink (and topic name for the start line). Returns the exit code. */
static int prod_main(struct prod *p, const char *topic)
{
    const struct prod_opts *o = p->o;
    char err[512];
    p->gen = order_gen_new(&o->gen, err, sizeof(err));
    if (!p->gen) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "producer: start topic=%s pattern=%s rate=%g count=%" PRId64
            " duration=%g seed=%" PRIu64 "%s\n",
            topic, pace_pattern_name(o->pace.pattern), o->pace.rate, o->count, o->duration_s,
            o->gen.seed, o->dry_run ? " dry-run" : "");
    p->start_ms = p->last_progress_ms = clock_mono_ms();
    int rc = prod_run(p);
    prod_flush(p);
    int64_t end = clock_mono_ms();
    double secs = (double)(end - p->start_ms) / 1000.0;
    fprintf(stderr,
            "producer: done sent=%" PRId64 " acknowledged=%" PRId64 " failed=%" PRId64
            " seconds=%.2f rate=%.0f/s%s%s\n",
            p->sent, p->acked, p->failed, secs, secs > 0 ? (double)p->acked / secs : 0.0,
            p->last_error[0] ? " last_error=" : "", p->last_error);
    order_gen_free(p->gen);
    return rc != 0 || p->failed > 0 ? 1 : 0;
}

/* Loads the shared config (--topic wins over file and env) and opens the producer. */
static int prod_kafka_main(struct prod *p)
{
    char err[512];
    struct cfg c;
    if (p->o->topic && setenv("ORDERSINK_KAFKA_TOPIC", p->o->topic, 1) != 0) {
        fprintf(stderr, "producer: out of memory\n");
        return 1;
    }
    const char *path = p->o->config ? p->o->config : getenv("ORDERSINK_CONFIG");
    if (cfg_load(&c, path && *path ? path : NULL, CFG_PRODUCER, err, sizeof(err)) != 0) {
        fprintf(stderr, "producer: %s\n", err);
        cfg_free(&c);
        return 2;
    }
    log_set_level((enum log_level)log_level_parse(c.log_level));
    int rc = 1;
    if (prod_kafka_open(p, &c, err, sizeof(err)) != 0)
        fprintf(stderr, "producer: %s\n", err);
    else
        rc = prod_main(p, c.kafka_topic);
    if (p->rkt)
        rd_kafka_topic_destroy(p->rkt);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    cfg_free(&c);
    return rc;
}

int main(int argc, char **argv)
{
    struct prod_opts o = {
        .pace = {.pattern = PACE_STEADY, .rate = 0, .period_s = 60},
        .gen = {.customers = 1000},
    };
    /* First of all: a SIGTERM at any moment from here on is a clean stop. */
    struct sigaction sa = {.sa_handler = prod_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = prod_parse_flags(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (!o.seeded)
        o.gen.seed = prod_random_seed();
    o.gen.fixed_time = o.seeded;
    struct prod p = {.o = &o};
    if (o.dry_run) {
        static char outbuf[1 << 16];
        setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
        return prod_main(&p, o.topic ? o.topic : "-");
    }
    return prod_kafka_main(&p);
}
