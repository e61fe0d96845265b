/*
 * config: the settings table and its loader. The table below is the single place where a
 * setting's key, type, default, limits and meaning live; env var names are derived from keys.
 * Loading: defaults, the libconfig file, the environment, the librdkafka passthrough; then
 * lib/config_check derives and validates.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define S(k, field, def, req, fl, h)                                                               \
    {                                                                                              \
        k, CFG_STR, offsetof(struct cfg, field), def, 0, 0, 0, req, fl, h                          \
    }
#define I(k, field, def, lo, hi, h)                                                                \
    {                                                                                              \
        k, CFG_INT, offsetof(struct cfg, field), NULL, def, lo, hi, 0, 0, h                        \
    }
#define BOTH (CFG_WORKER | CFG_PRODUCER)

const struct cfg_setting cfg_settings[] = {
    S("kafka.bootstrap_servers", kafka_bootstrap_servers, NULL, BOTH, 0,
      "Kafka bootstrap servers, host:port[,host:port]"),
    S("kafka.topic", kafka_topic, NULL, BOTH, 0, "Topic the orders are read from"),
    S("kafka.group_id", kafka_group_id, "ordersink", 0, 0, "Consumer group id"),
    S("kafka.auto_offset_reset", kafka_auto_offset_reset, "earliest", 0, 0,
      "Where a partition without a committed offset starts: earliest or latest"),
    S("kafka.group_protocol", kafka_group_protocol, "classic", 0, 0,
      "Consumer group protocol: classic, or consumer (KIP-848: Apache Kafka >= 4.0; not on "
      "Event Hubs)"),
    S("kafka.assignor", kafka_assignor, "range", 0, 0,
      "classic protocol: partition.assignment.strategy, range, roundrobin or "
      "cooperative-sticky"),
    S("kafka.group_remote_assignor", kafka_group_remote_assignor, NULL, 0, 0,
      "consumer protocol: the broker's assignor, uniform or range (unset: the broker's "
      "default, uniform)"),
    I("kafka.session_timeout_ms", kafka_session_timeout_ms, 45000, 6000, 300000,
      "classic protocol: consumer group session timeout (consumer protocol: the broker's "
      "group.consumer.session.timeout.ms)"),
    I("kafka.max_poll_interval_ms", kafka_max_poll_interval_ms, 300000, 10000, 86400000,
      "Longest time one batch may take before the group evicts the worker"),
    S("kafka.security_protocol", kafka_security_protocol, "plaintext", 0, 0,
      "plaintext, ssl, sasl_ssl or sasl_plaintext"),
    S("kafka.sasl_mechanism", kafka_sasl_mechanism, NULL, 0, 0,
      "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (required with sasl_*)"),
    S("kafka.sasl_username", kafka_sasl_username, NULL, 0, 0, "SASL user name"),
    S("kafka.sasl_password", kafka_sasl_password, NULL, 0, CFG_SECRET,
      "SASL password; or use kafka.sasl_password_file"),
    S("kafka.sasl_password_file", kafka_sasl_password_file, NULL, 0, 0,
      "File holding the SASL password (mounted secret)"),
    S("kafka.ssl_ca_file", kafka_ssl_ca_file, NULL, 0, 0,
      "PEM CA bundle for the brokers' certificates (default: system store)"),
    S("kafka.ssl_cert_file", kafka_ssl_cert_file, NULL, 0, 0,
      "PEM client certificate (mTLS); needs kafka.ssl_key_file"),
    S("kafka.ssl_key_file", kafka_ssl_key_file, NULL, 0, 0, "PEM client private key (mTLS)"),
    S("kafka.ssl_key_password", kafka_ssl_key_password, NULL, 0, CFG_SECRET,
      "Password of an encrypted client key"),
    I("kafka.insecure_skip_tls_verify", kafka_insecure_skip_tls_verify, 0, 0, 1,
      "1 turns OFF broker certificate and host-name verification (logs a warning)"),
    S("eventhubs.connection_string", eventhubs_connection_string, NULL, 0, CFG_SECRET,
      "Azure Event Hubs connection string; sets bootstrap, SASL_SSL/PLAIN and Microsoft's "
      "client settings. Env also EVENTHUBS_CONNECTION_STRING"),
    I("batch.max_count", batch_max_count, 0, 0, 100000,
      "A batch closes at this many orders; 0: 100 per partition key range of the container, at "
      "most 2,000 (batch requests carry one range's operations: docs/cosmos.md)"),
    I("batch.max_bytes", batch_max_bytes, 4194304, 1024, 1073741824,
      "A batch closes at this many payload bytes"),
    I("batch.max_wait_ms", batch_max_wait_ms, 500, 1, 600000,
      "A batch closes this long after its first order arrived"),
    I("pipeline.max_batches", pipeline_max_batches, 8, 1, 64,
      "Batches written at once while the next one fills; when all are in flight and the next "
      "is full, the consumer stops (then pauses) until one is committed"),
    S("cosmos.endpoint", cosmos_endpoint, NULL, CFG_WORKER, 0,
      "Account endpoint, e.g. https://myaccount.documents.azure.com:443/"),
    S("cosmos.key", cosmos_key, NULL, 0, CFG_SECRET, "Master key (base64); or use cosmos.key_file"),
    S("cosmos.key_file", cosmos_key_file, NULL, 0, 0,
      "File holding the master key (mounted secret); trailing whitespace ignored"),
    S("cosmos.database", cosmos_database, NULL, CFG_WORKER, 0, "Database id"),
    S("cosmos.container", cosmos_container, NULL, CFG_WORKER, 0, "Container id"),
    S("cosmos.partition_key_path", cosmos_partition_key_path, NULL, 0, 0,
      "The order field the container is partitioned on, e.g. /customerId or /customer/id "
      "(hierarchical keys: the paths comma-separated, /tenant,/user); unset: read from the "
      "container at start. When set and different from the container's, the worker exits 3"),
    S("cosmos.ca_file", cosmos_ca_file, NULL, 0, 0,
      "PEM CA bundle to verify Cosmos with instead of the system store"),
    I("cosmos.max_in_flight", cosmos_max_in_flight, 16, 1, 256,
      "Most concurrent Cosmos requests (connections)"),
    I("cosmos.adaptive_concurrency", cosmos_adaptive_concurrency, 1, 0, 1,
      "1: requests in flight adapt between 1 and cosmos.max_in_flight (start 4, grow while "
      "writes succeed, halve on 429); 0: always cosmos.max_in_flight"),
    I("cosmos.request_timeout_ms", cosmos_request_timeout_ms, 10000, 100, 600000,
      "Timeout of one Cosmos request"),
    I("cosmos.bulk", cosmos_bulk, 1, 0, 1,
      "1: non-atomic batch requests of up to 100 upserts / 220 KB (as the SDKs' bulk mode); "
      "0: one request per document"),
    S("cosmos.write_mode", cosmos_write_mode, "versioned", 0, 0,
      "versioned: a write never replaces a document holding a newer Kafka offset of the same "
      "partition (Create, else Read + Replace if-match; docs/write-modes.md); upsert: last "
      "writer wins"),
    S("order.id_field", order_id_field, "orderId", 0, 0,
      "Order field whose value becomes the document id"),
    I("retry.max_attempts", retry_max_attempts, 12, 1, 1000,
      "Attempts per write before the worker gives up and exits without committing"),
    I("retry.base_ms", retry_base_ms, 100, 1, 60000, "First retry backoff"),
    I("retry.max_ms", retry_max_ms, 5000, 1, 600000, "Backoff cap"),
    S("dlq.topic", dlq_topic, NULL, CFG_WORKER, CFG_DERIVED,
      "Dead-letter topic (default <kafka.topic>.dlq)"),
    I("shutdown.timeout_ms", shutdown_timeout_ms, 20000, 1000, 600000,
      "On SIGTERM: time to flush, commit and leave the group"),
    S("log.level", log_level, "info", 0, 0, "debug, info, warn or error"),
    I("log.stats_interval_ms", log_stats_interval_ms, 10000, 0, 3600000,
      "Interval of the progress log line (0 = off)"),
    I("metrics.port", metrics_port, 9464, 0, 65535,
      "Port of /metrics, /healthz, /readyz (0 = no HTTP endpoint)"),
    S("metrics.bind", metrics_bind, "0.0.0.0", 0, 0, "IPv4 address the HTTP endpoint binds"),
    I("health.liveness_timeout_ms", health_liveness_timeout_ms, 60000, 1000, 3600000,
      "/healthz fails when the loops made no progress for this long"),
};
const size_t cfg_settings_count = sizeof(cfg_settings) / sizeof(cfg_settings[0]);
#define CFG_COUNT (sizeof(cfg_settings) / sizeof(cfg_settings[0]))
_Static_assert(CFG_COUNT <= sizeof(((struct cfg *)0)->source), "cfg.source too small");

char **cfg_str(struct cfg *c, const struct cfg_setting *s)
{
    return (char **)((char *)c + s->offset);
}

int64_t *cfg_int(struct cfg *c, const struct cfg_setting *s)
{
    return (int64_t *)((char *)c + s->offset);
}

void cfg_env_name(const char *key, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "ORDERSINK_");
    for (const char *p = key; *p && n + 1 < size; p++)
        buf[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    buf[n < size ? n : size - 1] = '\0';
}

void cfg_error(char *err, size_t errsz, const struct cfg_setting *s, const char *what)
{
    char env[96];
    cfg_env_name(s->key, env, sizeof(env));
    snprintf(err, errsz, "config: %s (%s): %s", s->key, env, what);
}

int cfg_set_str(struct cfg *c, const struct cfg_setting *s, const char *v, int src)
{
    char *copy = v ? strdup(v) : NULL;
    if (v && !copy)
        return -1;
    free(*cfg_str(c, s));
    *cfg_str(c, s) = copy;
    c->source[s - cfg_settings] = (unsigned char)src;
    return 0;
}

static int cfg_parse_int(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

const struct cfg_setting *cfg_find(const char *key)
{
    for (size_t i = 0; i < CFG_COUNT; i++)
        if (strcmp(cfg_settings[i].key, key) == 0)
            return &cfg_settings[i];
    return NULL;
}

static int cfg_set_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const struct cfg_setting *s = &cfg_settings[i];
        if (s->type == CFG_INT)
            *cfg_int(c, s) = s->def_int;
        else if (cfg_set_str(c, s, s->def_str, SRC_DEFAULT) != 0)
            return -1;
    }
    return 0;
}

/* Applies one libconfig setting ("group.name") to c. */
static int cfg_apply_file_setting(struct cfg *c, config_setting_t *st, const char *key, char *err,
                                  size_t errsz)
{
    const struct cfg_setting *s = cfg_find(key);
    if (!s) {
        snprintf(err, errsz, "config: %s: unknown setting (line %d)", key,
                 config_setting_source_line(st));
        return -1;
    }
    int t = config_setting_type(st);
    if (s->type == CFG_STR) {
        if (t != CONFIG_TYPE_STRING) {
            cfg_error(err, errsz, s, "must be a string in the config file");
            return -1;
        }
        return cfg_set_str(c, s, config_setting_get_string(st), SRC_FILE);
    }
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        cfg_error(err, errsz, s, "must be an integer in the config file");
        return -1;
    }
    *cfg_int(c, s) = config_setting_get_int64(st);
    c->source[s - cfg_settings] = SRC_FILE;
    return 0;
}

/* Adds or replaces a passthrough property (later sources win). */
static int cfg_passthrough_put(struct cfg *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->librdkafka_count; i++) {
        if (strcmp(c->librdkafka[i].name, name) == 0) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(c->librdkafka[i].value);
            c->librdkafka[i].value = v;
            return 0;
        }
    }
    struct cfg_property *p =
        realloc(c->librdkafka, (c->librdkafka_count + 1) * sizeof(*c->librdkafka));
    if (!p)
        return -1;
    c->librdkafka = p;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    c->librdkafka[c->librdkafka_count++] = (struct cfg_property){n, v};
    return 0;
}

/* librdkafka properties use dots; config keys and env vars use underscores. */
static void cfg_property_name(const char *key, char *out, size_t size)
{
    size_t n = 0;
    for (; *key && n + 1 < size; key++)
        out[n++] = *key == '_' ? '.' : (char)tolower((unsigned char)*key);
    out[n] = '\0';
}

static int cfg_load_passthrough_file(struct cfg *c, config_setting_t *group, char *err,
                                     size_t errsz)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        config_setting_t *st = config_setting_get_elem(group, (unsigned)i);
        char name[128], value[64];
        const char *v = value;
        cfg_property_name(config_setting_name(st), name, sizeof(name));
        switch (config_setting_type(st)) {
        case CONFIG_TYPE_STRING:
            v = config_setting_get_string(st);
            break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
            snprintf(value, sizeof(value), "%lld", (long long)config_setting_get_int64(st));
            break;
        case CONFIG_TYPE_BOOL:
            snprintf(value, sizeof(value), "%s", config_setting_get_bool(st) ? "true" : "false");
            break;
        default:
            snprintf(err, errsz, "config: librdkafka.%s: must be a string, integer or boolean",
                     config_setting_name(st));
            return -1;
        }
        if (cfg_passthrough_put(c, name, v) != 0) {
            snprintf(err, errsz, "config: out of memory");
            return -1;
        }
    }
    return 0;
}

extern char **environ;

static int cfg_load_passthrough_env(struct cfg *c, char *err, size_t errsz)
{
    static const char prefix[] = "ORDERSINK_LIBRDKAFKA_";
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        char key[128], name[128];
        size_t klen = (size_t)(eq - *e) - (sizeof(prefix) - 1);
        if (!eq || klen == 0 || klen >= sizeof(key))
            continue;
        memcpy(key, *e + sizeof(prefix) - 1, klen);
        key[klen] = '\0';
        cfg_property_name(key, name, sizeof(name));
        if (cfg_passthrough_put(c, name, eq + 1) != 0) {
            snprintf(err, errsz, "config: out of memory");
            return -1;
        }
    }
    return 0;
}

const char *cfg_librdkafka_get(const struct cfg *c, const char *name)
{
    for (size_t i = 0; i < c->librdkafka_count; i++)
        if (strcmp(c->librdkafka[i].name, name) == 0)
            return c->librdkafka[i].value;
    return NULL;
}

static int cfg_property_is_secret(const char *name)
{
    static const char *const words[] = {"password", "secret", "jaas", "ssl.key", "token", NULL};
    for (const char *const *w = words; *w; w++)
        if (strstr(name, *w))
            return 1;
    return 0;
}

static int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errsz)
{
    config_t lc;
    config_init(&lc);
    int rc = -1;
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            snprintf(err, errsz, "config: cannot read config file %s", path);
        else
            snprintf(err, errsz, "config: %s:%d: %s", path, config_error_line(&lc),
                     config_error_text(&lc));
        goto out;
    }
    config_setting_t *root = config_root_setting(&lc);
    for (int g = 0; g < config_setting_length(root); g++) {
        config_setting_t *group = config_setting_get_elem(root, (unsigned)g);
        const char *gname = config_setting_name(group);
        if (strcmp(gname, "librdkafka") == 0 && config_setting_type(group) == CONFIG_TYPE_GROUP) {
            if (cfg_load_passthrough_file(c, group, err, errsz) != 0)
                goto out;
            continue;
        }
        if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
            snprintf(err, errsz, "config: %s: expected a group like `%s = { ... };` (line %d)",
                     gname, gname, config_setting_source_line(group));
            goto out;
        }
        for (int i = 0; i < config_setting_length(group); i++) {
            config_setting_t *st = config_setting_get_elem(group, (unsigned)i);
            char key[128];
            snprintf(key, sizeof(key), "%s.%s", gname, config_setting_name(st));
            if (cfg_apply_file_setting(c, st, key, err, errsz) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    config_destroy(&lc);
    return rc;
}

static int cfg_load_env(struct cfg *c, char *err, size_t errsz)
{
    if (cfg_load_passthrough_env(c, err, errsz) != 0)
        return -1;
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const struct cfg_setting *s = &cfg_settings[i];
        char env[96];
        cfg_env_name(s->key, env, sizeof(env));
        const char *v = getenv(env);
        if (!v && strcmp(s->key, "eventhubs.connection_string") == 0)
            v = getenv("EVENTHUBS_CONNECTION_STRING"); /* the name Azure's docs use */
        if (!v)
            continue;
        if (s->type == CFG_STR) {
            if (cfg_set_str(c, s, v, SRC_ENV) != 0) {
                snprintf(err, errsz, "config: out of memory");
                return -1;
            }
        } else {
            if (cfg_parse_int(v, cfg_int(c, s)) != 0) {
                cfg_error(err, errsz, s, "must be an integer");
                return -1;
            }
            c->source[i] = SRC_ENV;
        }
    }
    return 0;
}

int cfg_load(struct cfg *c, const char *path, enum cfg_program program, char *err, size_t errsz)
{
    if (cfg_set_defaults(c) != 0) {
        snprintf(err, errsz, "config: out of memory");
        return -1;
    }
    if (path && cfg_load_file(c, path, err, errsz) != 0)
        return -1;
    if (cfg_load_env(c, err, errsz) != 0 || cfg_derive(c, program, err, errsz) != 0)
        return -1;
    return cfg_validate(c, program, err, errsz);
}

static const char *const cfg_source_names[] = {"default", "file", "env", "derived"};

void cfg_print(const struct cfg *c, FILE *out)
{
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const struct cfg_setting *s = &cfg_settings[i];
        char env[96];
        cfg_env_name(s->key, env, sizeof(env));
        const char *src = cfg_source_names[c->source[i]];
        if (s->type == CFG_INT) {
            fprintf(out, "%s = %lld  # %s, %s\n", s->key, (long long)*cfg_int((struct cfg *)c, s),
                    env, src);
            continue;
        }
        const char *v = *cfg_str((struct cfg *)c, s);
        if (!v)
            fprintf(out, "%s = (unset)  # %s\n", s->key, env);
        else if (s->flags & CFG_SECRET)
            fprintf(out, "%s = \"<redacted>\"  # %s, %s\n", s->key, env, src);
        else
            fprintf(out, "%s = \"%s\"  # %s, %s\n", s->key, v, env, src);
    }
    for (size_t i = 0; i < c->librdkafka_count; i++)
        fprintf(out, "librdkafka.%s = \"%s\"  # passthrough\n", c->librdkafka[i].name,
                cfg_property_is_secret(c->librdkafka[i].name) ? "<redacted>"
                                                              : c->librdkafka[i].value);
}

void cfg_print_markdown(FILE *out)
{
    fprintf(out, "| Config key | Env var | Default | Meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const struct cfg_setting *s = &cfg_settings[i];
        char env[96], def[64];
        cfg_env_name(s->key, env, sizeof(env));
        if (s->type == CFG_INT)
            snprintf(def, sizeof(def), "%lld", (long long)s->def_int);
        else if (s->def_str)
            snprintf(def, sizeof(def), "`%s`", s->def_str);
        else if (s->flags & CFG_DERIVED)
            snprintf(def, sizeof(def), "derived");
        else
            snprintf(def, sizeof(def), "%s", s->required ? "**required**" : "—");
        fprintf(out, "| `%s` | `%s` | %s | %s |\n", s->key, env, def, s->help);
    }
}

void cfg_free(struct cfg *c)
{
    for (size_t i = 0; i < c->librdkafka_count; i++) {
        free(c->librdkafka[i].name);
        free(c->librdkafka[i].value);
    }
    free(c->librdkafka);
    c->librdkafka = NULL;
    c->librdkafka_count = 0;
    for (size_t i = 0; i < CFG_COUNT; i++)
        if (cfg_settings[i].type == CFG_STR) {
            free(*cfg_str(c, &cfg_settings[i]));
            *cfg_str(c, &cfg_settings[i]) = NULL;
        }
}
