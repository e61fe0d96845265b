/*
 * config: every ordersink setting in one table (key, env var, type, default, limits),
 * loaded as defaults <- libconfig file <- ORDERSINK_* environment, validated, and printed
 * with secrets redacted. Worker and producer share it.
 */
#ifndef ORDERSINK_CONFIG_H
#define ORDERSINK_CONFIG_H

#include <stdint.h>
#include <stdio.h>

/* One librdkafka property passed through as is. */
struct cfg_property {
    char *name;
    char *value;
};

struct cfg {
    char *kafka_bootstrap_servers;
    char *kafka_topic;
    char *kafka_group_id;
    char *kafka_auto_offset_reset;
    char *kafka_group_protocol;
    char *kafka_assignor;
    char *kafka_group_remote_assignor;
    int64_t kafka_session_timeout_ms;
    int64_t kafka_max_poll_interval_ms;
    char *kafka_security_protocol;
    char *kafka_sasl_mechanism;
    char *kafka_sasl_username;
    char *kafka_sasl_password;
    char *kafka_sasl_password_file;
    char *kafka_ssl_ca_file;
    char *kafka_ssl_cert_file;
    char *kafka_ssl_key_file;
    char *kafka_ssl_key_password;
    int64_t kafka_insecure_skip_tls_verify;
    char *eventhubs_connection_string;
    int64_t batch_max_count;
    int64_t batch_max_bytes;
    int64_t batch_max_wait_ms;
    int64_t pipeline_max_batches;
    char *cosmos_endpoint;
    char *cosmos_key;
    char *cosmos_key_file;
    char *cosmos_database;
    char *cosmos_container;
    char *cosmos_partition_key_path;
    char *cosmos_ca_file;
    int64_t cosmos_max_in_flight;
    int64_t cosmos_request_timeout_ms;
    int64_t cosmos_bulk;
    char *cosmos_write_mode;
    int64_t cosmos_adaptive_concurrency;
    char *order_id_field;
    int64_t retry_max_attempts;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    char *dlq_topic;
    int64_t shutdown_timeout_ms;
    char *log_level;
    int64_t log_stats_interval_ms;
    int64_t metrics_port;
    char *metrics_bind;
    int64_t health_liveness_timeout_ms;
    unsigned char source[64];        /* per setting: where its value came from (internal) */
    struct cfg_property *librdkafka; /* passthrough properties, file first, then env */
    size_t librdkafka_count;
};

/* Which program loads the config: decides which settings are required. */
enum cfg_program { CFG_WORKER = 1, CFG_PRODUCER = 2 };

/*
 * Loads defaults, then the libconfig file at path (may be NULL), then ORDERSINK_* env vars,
 * reads cosmos.key_file, fills derived defaults and validates. Returns 0, or -1 with one line
 * in err naming the setting and what is wrong. Call cfg_free() in both cases.
 */
int cfg_load(struct cfg *c, const char *path, enum cfg_program program, char *err, size_t errsz);

/* Prints every setting as `key = value  # ENV_VAR, source`, secrets redacted. */
void cfg_print(const struct cfg *c, FILE *out);

/* Prints the settings table in Markdown (docs/configuration.md is checked against it). */
void cfg_print_markdown(FILE *out);

void cfg_free(struct cfg *c);

/* The passthrough value of a librdkafka property, or NULL when not passed through. */
const char *cfg_librdkafka_get(const struct cfg *c, const char *name);

/* Writes the env var name of a key (kafka.topic -> ORDERSINK_KAFKA_TOPIC) into buf. */
void cfg_env_name(const char *key, char *buf, size_t size);

#endif
