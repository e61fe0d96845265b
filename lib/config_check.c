/*
 * config_check: settings after loading: secrets read from their files, settings derived from
 * others (Event Hubs, the DLQ topic), and every rule the values must follow (ranges, choices,
 * the Cosmos endpoint and key, Kafka security and group protocol combinations), each error
 * naming the setting and its environment variable.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"

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
int cfg_derive(struct cfg *c, enum cfg_program program, char *err, size_t errsz)
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

int cfg_validate(struct cfg *c, enum cfg_program program, char *err, size_t errsz)
{
    for (size_t i = 0; i < cfg_settings_count; i++)
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
