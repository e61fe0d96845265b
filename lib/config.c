/*
 * config: the settings table and its loader. The table below is the single place where a
 * setting's key, type, default, limits and meaning live; env var names are derived from keys.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <libconfig.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum cfg_type { CFG_STR, CFG_INT };
enum cfg_source { SRC_DEFAULT = 0, SRC_FILE, SRC_ENV, SRC_DERIVED };
static const char *const cfg_source_names[] = {"default", "file", "env", "derived"};

#define CFG_SECRET 1
#define CFG_DERIVED 2 /* its default is computed from other settings (cfg_derive) */

struct cfg_setting {
    const char *key;
    enum cfg_type type;
    size_t offset;
    const char *def_str;
    int64_t def_int, min, max;
    unsigned required; /* mask of enum cfg_program */
    unsigned flags;
    const char *help;
};

#define S(k, field, def, req, fl, h)                                                               \
    {                                                                                              \
        k, CFG_STR, offsetof(struct cfg, field), def, 0, 0, 0, req, fl, h                          \
    }
#define I(k, field, def, lo, hi, h)                                                                \
    {                                                                                              \
        k, CFG_INT, offsetof(struct cfg, field), NULL, def, lo, hi, 0, 0, h                        \
    }
#define BOTH (CFG_WORKER | CFG_PRODUCER)

static const struct cfg_setting cfg_settings[] = {
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
#define CFG_COUNT (sizeof(cfg_settings) / sizeof(cfg_settings[0]))
_Static_assert(CFG_COUNT <= sizeof(((struct cfg *)0)->source), "cfg.source too small");

static char **cfg_str(struct cfg *c, const struct cfg_setting *s)
{
    return (char **)((char *)c + s->offset);
}

static int64_t *cfg_int(struct cfg *c, const struct cfg_setting *s)
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

static void cfg_error(char *err, size_t errsz, const struct cfg_setting *s, const char *what)
{
    char env[96];
    cfg_env_name(s->key, env, sizeof(env));
    snprintf(err, errsz, "config: %s (%s): %s", s->key, env, what);
}

static int cfg_set_str(struct cfg *c, const struct cfg_setting *s, const char *v, int src)
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

static const struct cfg_setting *cfg_find(const char *key)
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

/* Reads a whole small file, dropping trailing whitespace. Returns malloc'd text or NULL. */
static char *cfg_read_secret_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    return buf;
}

static int cfg_valid_base64(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len % 4 != 0)
        return 0;
    unsigned char *out = malloc(len);
    if (!out)
        return 0;
    int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    free(out);
    return n > 0;
}

/* value_key may also come from the file named by file_key; not both. */
static int cfg_resolve_secret(struct cfg *c, const char *value_key, const char *file_key, char *err,
                              size_t errsz)
{
    const struct cfg_setting *vs = cfg_find(value_key), *fs = cfg_find(file_key);
    char **value = cfg_str(c, vs), **file = cfg_str(c, fs);
    if (!*file)
        return 0;
    if (*value) {
        char what[160];
        snprintf(what, sizeof(what), "set either %s or %s, not both", value_key, file_key);
        cfg_error(err, errsz, fs, what);
        return -1;
    }
    *value = cfg_read_secret_file(*file);
    if (!*value) {
        cfg_error(err, errsz, fs, "cannot read the file");
        return -1;
    }
    c->source[vs - cfg_settings] = SRC_DERIVED;
    return 0;
}

/*
 * cosmos.endpoint is the account's root: https://host[:port][/], nothing else. The worker
 * appends resource paths to it and signs them, so a path or query would make every request
 * fail its signature; the service speaks only HTTPS. Parsed by libcurl's URL API.
 */
static int cfg_check_endpoint(const char *endpoint, char *err, size_t errsz)
{
    const struct cfg_setting *s = cfg_find("cosmos.endpoint");
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL, *frag = NULL, *user = NULL;
    const char *what = NULL;
    if (!u) {
        snprintf(err, errsz, "config: out of memory");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        what = "is not a URL; expected https://<account>.documents.azure.com:443/";
    else if (strcmp(scheme, "https") != 0)
        what = "must start with https:// (Cosmos DB speaks only HTTPS)";
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        what = "must not hold a user name or password";
    else if ((curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0) ||
             curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
             curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
        what = "must be the account's root, https://host[:port]/, with no path, query or "
               "fragment";
    if (what)
        cfg_error(err, errsz, s, what);
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_free(query);
    curl_free(frag);
    curl_free(user);
    curl_url_cleanup(u);
    return what ? -1 : 0;
}

/* A secret pasted into an env var often keeps the newline of `echo` or of the file it came
 * from; the broker then answers only "invalid credentials". Name the newline instead. */
static int cfg_check_line_breaks(struct cfg *c, enum cfg_program program, char *err, size_t errsz)
{
    static const char *const keys[] = {"kafka.sasl_username", "kafka.sasl_password",
                                       "kafka.ssl_key_password", "eventhubs.connection_string",
                                       "cosmos.key"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct cfg_setting *s = cfg_find(keys[i]);
        const char *v = *cfg_str(c, s);
        if (program != CFG_WORKER && strncmp(keys[i], "cosmos.", 7) == 0)
            continue; /* only the worker uses it */
        if (v && strpbrk(v, "\r\n")) {
            cfg_error(err, errsz, s,
                      "contains a line break (often the trailing newline of `echo` or of a "
                      "file copied into an env var); remove it");
            return -1;
        }
    }
    return 0;
}

static int cfg_check_cosmos_key(struct cfg *c, char *err, size_t errsz)
{
    const struct cfg_setting *key = cfg_find("cosmos.key");
    if (!c->cosmos_key || !*c->cosmos_key) {
        cfg_error(err, errsz, key, "is required (or set cosmos.key_file)");
        return -1;
    }
    if (!cfg_valid_base64(c->cosmos_key)) {
        cfg_error(err, errsz, key, "is not a base64 master key");
        return -1;
    }
    return 0;
}

/*
 * Event Hubs: bootstrap <namespace>.servicebus.windows.net:9093 from Endpoint=sb://...
 * (unless kafka.bootstrap_servers is set), and the topic from EntityPath when present.
 */
static int cfg_apply_eventhubs(struct cfg *c, char *err, size_t errsz)
{
    const char *cs = c->eventhubs_connection_string;
    if (!cs)
        return 0;
    const struct cfg_setting *s = cfg_find("eventhubs.connection_string");
    const char *ep = strstr(cs, "Endpoint=sb://");
    if (!ep) {
        cfg_error(err, errsz, s, "has no Endpoint=sb://<namespace>.servicebus.windows.net/");
        return -1;
    }
    ep += strlen("Endpoint=sb://");
    size_t host_len = strcspn(ep, "/;:");
    if (host_len == 0 || host_len > 200) {
        cfg_error(err, errsz, s, "has an empty or overlong Endpoint host");
        return -1;
    }
    if (!c->kafka_bootstrap_servers) {
        char bootstrap[256];
        snprintf(bootstrap, sizeof(bootstrap), "%.*s:9093", (int)host_len, ep);
        if (cfg_set_str(c, cfg_find("kafka.bootstrap_servers"), bootstrap, SRC_DERIVED) != 0)
            return -1;
    }
    const char *entity = strstr(cs, "EntityPath=");
    if (entity) {
        entity += strlen("EntityPath=");
        size_t n = strcspn(entity, ";");
        if (!c->kafka_topic) {
            char topic[256];
            snprintf(topic, sizeof(topic), "%.*s", (int)(n < 255 ? n : 255), entity);
            if (cfg_set_str(c, cfg_find("kafka.topic"), topic, SRC_DERIVED) != 0)
                return -1;
        } else if (strlen(c->kafka_topic) != n || strncmp(c->kafka_topic, entity, n) != 0) {
            cfg_error(err, errsz, s, "its EntityPath differs from kafka.topic");
            return -1;
        }
    }
    static const char *const fixed[][2] = {{"kafka.security_protocol", "sasl_ssl"},
                                           {"kafka.sasl_mechanism", "PLAIN"},
                                           {"kafka.sasl_username", "$ConnectionString"}};
    for (size_t i = 0; i < 3; i++)
        if (cfg_set_str(c, cfg_find(fixed[i][0]), fixed[i][1], SRC_DERIVED) != 0)
            return -1;
    return cfg_set_str(c, cfg_find("kafka.sasl_password"), cs, SRC_DERIVED);
}

/* Security settings that only make sense together. */
static int cfg_check_kafka_security(struct cfg *c, char *err, size_t errsz)
{
    int sasl = strncmp(c->kafka_security_protocol, "sasl_", 5) == 0;
    if (sasl && !c->kafka_sasl_mechanism) {
        cfg_error(err, errsz, cfg_find("kafka.sasl_mechanism"), "is required with sasl_*");
        return -1;
    }
    if (sasl && (!c->kafka_sasl_username || !*c->kafka_sasl_username)) {
        cfg_error(err, errsz, cfg_find("kafka.sasl_username"), "is required with sasl_*");
        return -1;
    }
    if (sasl && !c->kafka_sasl_password) {
        cfg_error(err, errsz, cfg_find("kafka.sasl_password"),
                  "is required with sasl_* (or set kafka.sasl_password_file)");
        return -1;
    }
    if (!c->kafka_ssl_cert_file != !c->kafka_ssl_key_file) {
        cfg_error(err, errsz, cfg_find("kafka.ssl_key_file"),
                  "kafka.ssl_cert_file and kafka.ssl_key_file go together");
        return -1;
    }
    return 0;
}

/* 1 when the setting's value came from the file or the environment (not default or derived). */
static int cfg_given(const struct cfg *c, const char *key)
{
    unsigned char src = c->source[cfg_find(key) - cfg_settings];
    return src == SRC_FILE || src == SRC_ENV;
}

/*
 * The settings of one group protocol must not be given for the other: with consumer (KIP-848)
 * the broker assigns and keeps the session, so librdkafka refuses the classic properties;
 * Event Hubs offers only classic.
 */
static int cfg_check_group_protocol(const struct cfg *c, char *err, size_t errsz)
{
    static const char *const classic_only[] = {"session.timeout.ms", "heartbeat.interval.ms",
                                               "partition.assignment.strategy",
                                               "group.protocol.type"};
    static const char *const ours[] = {"group.protocol", "group.remote.assignor"};
    const struct cfg_setting *gp = cfg_find("kafka.group_protocol");
    char what[192];
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        if (cfg_librdkafka_get(c, ours[i])) {
            snprintf(what, sizeof(what), "set it instead of librdkafka's %s", ours[i]);
            cfg_error(err, errsz, gp, what);
            return -1;
        }
    }
    if (strcmp(c->kafka_group_protocol, "consumer") != 0) {
        if (c->kafka_group_remote_assignor) {
            cfg_error(err, errsz, cfg_find("kafka.group_remote_assignor"),
                      "applies to kafka.group_protocol=consumer only (classic: kafka.assignor)");
            return -1;
        }
        return 0;
    }
    if (c->eventhubs_connection_string) {
        cfg_error(err, errsz, gp, "Azure Event Hubs offers only the classic protocol");
        return -1;
    }
    if (cfg_given(c, "kafka.assignor")) {
        cfg_error(err, errsz, cfg_find("kafka.assignor"),
                  "applies to kafka.group_protocol=classic only (consumer: "
                  "kafka.group_remote_assignor)");
        return -1;
    }
    if (cfg_given(c, "kafka.session_timeout_ms")) {
        cfg_error(err, errsz, cfg_find("kafka.session_timeout_ms"),
                  "applies to kafka.group_protocol=classic only (consumer: the broker's "
                  "group.consumer.session.timeout.ms)");
        return -1;
    }
    for (size_t i = 0; i < sizeof(classic_only) / sizeof(classic_only[0]); i++) {
        if (cfg_librdkafka_get(c, classic_only[i])) {
            snprintf(what, sizeof(what),
                     "consumer does not take librdkafka's %s (the broker sets it)",
                     classic_only[i]);
            cfg_error(err, errsz, gp, what);
            return -1;
        }
    }
    return 0;
}

static int cfg_one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return 1;
    return 0;
}

/* Checks one setting on its own: presence, range, enumerations. */
static int cfg_validate_setting(struct cfg *c, const struct cfg_setting *s,
                                enum cfg_program program, char *err, size_t errsz)
{
    static const char *const resets[] = {"earliest", "latest", NULL};
    static const char *const assignors[] = {"range", "roundrobin", "cooperative-sticky", NULL};
    static const char *const group_protocols[] = {"classic", "consumer", NULL};
    static const char *const remote_assignors[] = {"uniform", "range", NULL};
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    static const char *const protocols[] = {"plaintext", "ssl", "sasl_ssl", "sasl_plaintext", NULL};
    static const char *const mechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};
    static const char *const write_modes[] = {"versioned", "upsert", NULL};
    if (s->type == CFG_INT) {
        int64_t v = *cfg_int(c, s);
        if (v < s->min || v > s->max) {
            char what[96];
            snprintf(what, sizeof(what), "must be between %lld and %lld (got %lld)",
                     (long long)s->min, (long long)s->max, (long long)v);
            cfg_error(err, errsz, s, what);
            return -1;
        }
        return 0;
    }
    const char *v = *cfg_str(c, s);
    if (v && !*v && (s->required & program)) {
        cfg_error(err, errsz, s, "must not be empty");
        return -1;
    }
    if (!v) {
        if (s->required & program) {
            cfg_error(err, errsz, s, "is required");
            return -1;
        }
        return 0;
    }
    const char *const *allowed = NULL;
    if (strcmp(s->key, "kafka.auto_offset_reset") == 0)
        allowed = resets;
    else if (strcmp(s->key, "kafka.assignor") == 0)
        allowed = assignors;
    else if (strcmp(s->key, "kafka.group_protocol") == 0)
        allowed = group_protocols;
    else if (strcmp(s->key, "kafka.group_remote_assignor") == 0)
        allowed = remote_assignors;
    else if (strcmp(s->key, "log.level") == 0)
        allowed = levels;
    else if (strcmp(s->key, "kafka.security_protocol") == 0)
        allowed = protocols;
    else if (strcmp(s->key, "kafka.sasl_mechanism") == 0)
        allowed = mechanisms;
    else if (strcmp(s->key, "cosmos.write_mode") == 0)
        allowed = write_modes;
    if (allowed && !cfg_one_of(v, allowed)) {
        cfg_error(err, errsz, s, "has a value that is not allowed");
        return -1;
    }
    return 0;
}

/* dlq.topic defaults to <kafka.topic>.dlq, whatever set the topic (file, env, EntityPath). */
static int cfg_derive_dlq_topic(struct cfg *c, char *err, size_t errsz)
{
    if (c->dlq_topic || !c->kafka_topic)
        return 0;
    size_t n = strlen(c->kafka_topic) + 5;
    char *topic = malloc(n);
    if (!topic) {
        snprintf(err, errsz, "config: out of memory");
        return -1;
    }
    snprintf(topic, n, "%s.dlq", c->kafka_topic);
    int rc = cfg_set_str(c, cfg_find("dlq.topic"), topic, SRC_DERIVED);
    free(topic);
    if (rc != 0)
        snprintf(err, errsz, "config: out of memory");
    return rc;
}

/*
 * Settings computed from other settings, each after everything it depends on: secrets from
 * their files, then Event Hubs (bootstrap, topic, SASL, password), then the DLQ topic (from
 * the topic, which Event Hubs may have set).
 */
static int cfg_derive(struct cfg *c, enum cfg_program program, char *err, size_t errsz)
{
    /* Only the worker talks to Cosmos: the producer ignores a key file it cannot read. */
    if ((program == CFG_WORKER &&
         cfg_resolve_secret(c, "cosmos.key", "cosmos.key_file", err, errsz)) ||
        cfg_resolve_secret(c, "kafka.sasl_password", "kafka.sasl_password_file", err, errsz) ||
        cfg_check_line_breaks(c, program, err, errsz) || cfg_apply_eventhubs(c, err, errsz) ||
        cfg_derive_dlq_topic(c, err, errsz))
        return -1;
    return 0;
}

/* cosmos.partition_key_path: 1 to 3 paths separated by ',', each starting with '/'. */
static int cfg_check_pk_paths(const char *v, char *err, size_t errsz)
{
    int n = 0;
    for (const char *p = v; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        size_t len = strcspn(p, ",");
        if (++n > 3 || p[0] != '/' || len < 2) {
            cfg_error(err, errsz, cfg_find("cosmos.partition_key_path"),
                      n > 3 ? "at most 3 paths (hierarchical keys)"
                            : "each path must start with '/' and name a field");
            return -1;
        }
    }
    return 0;
}

static int cfg_validate(struct cfg *c, enum cfg_program program, char *err, size_t errsz)
{
    for (size_t i = 0; i < CFG_COUNT; i++)
        if (cfg_validate_setting(c, &cfg_settings[i], program, err, errsz) != 0)
            return -1;
    if (cfg_check_pk_paths(c->cosmos_partition_key_path, err, errsz) != 0)
        return -1;
    if (!*c->order_id_field) {
        cfg_error(err, errsz, cfg_find("order.id_field"), "must not be empty");
        return -1;
    }
    if (cfg_check_kafka_security(c, err, errsz) != 0 ||
        cfg_check_group_protocol(c, err, errsz) != 0)
        return -1;
    if (c->retry_base_ms > c->retry_max_ms) {
        cfg_error(err, errsz, cfg_find("retry.base_ms"), "must not exceed retry.max_ms");
        return -1;
    }
    if (program == CFG_WORKER) {
        if (cfg_check_endpoint(c->cosmos_endpoint, err, errsz) != 0)
            return -1;
        if (cfg_check_cosmos_key(c, err, errsz) != 0)
            return -1;
        struct in_addr bind_addr;
        if (inet_pton(AF_INET, c->metrics_bind, &bind_addr) != 1) {
            cfg_error(err, errsz, cfg_find("metrics.bind"), "must be an IPv4 address");
            return -1;
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
