/* Unit tests for lib/config: defaults <- libconfig file <- ORDERSINK_* env, validation, print. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

/* RIG.md vector 1's key: valid base64, 64 bytes. */
#define KEY                                                                                        \
    "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw=="

static struct cfg c;
static char err[512];
static char tmp_path[64];

/* Removes every ORDERSINK_* variable (names collected first: unsetenv edits environ). */
static void setup(void)
{
    char *names[256];
    size_t n = 0;
    for (char **e = environ; *e && n < 256; e++)
        if (strncmp(*e, "ORDERSINK_", 10) == 0)
            names[n++] = strndup(*e, strcspn(*e, "="));
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
    memset(&c, 0, sizeof(c));
    err[0] = '\0';
    tmp_path[0] = '\0';
}

static void teardown(void)
{
    cfg_free(&c);
    if (tmp_path[0])
        unlink(tmp_path);
}

static void set_required(void)
{
    setenv("ORDERSINK_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092", 1);
    setenv("ORDERSINK_KAFKA_TOPIC", "orders", 1);
    setenv("ORDERSINK_COSMOS_ENDPOINT", "https://acct.documents.azure.com:443/", 1);
    setenv("ORDERSINK_COSMOS_KEY", KEY, 1);
    setenv("ORDERSINK_COSMOS_DATABASE", "shop", 1);
    setenv("ORDERSINK_COSMOS_CONTAINER", "orders", 1);
}

/* Writes text to a fresh temp file whose path is left in tmp_path (removed by teardown). */
static const char *write_tmp(const char *text)
{
    if (tmp_path[0])
        unlink(tmp_path);
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/ordersink-cfg-XXXXXX");
    int fd = mkstemp(tmp_path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static void expect_error(const char *path, enum cfg_program prog, const char *want1,
                         const char *want2)
{
    ck_assert_int_eq(cfg_load(&c, path, prog, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, want1) != NULL, "error \"%s\" lacks \"%s\"", err, want1);
    if (want2)
        ck_assert_msg(strstr(err, want2) != NULL, "error \"%s\" lacks \"%s\"", err, want2);
}

START_TEST(test_defaults)
{
    set_required();
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.kafka_bootstrap_servers, "localhost:9092");
    ck_assert_str_eq(c.kafka_topic, "orders");
    ck_assert_str_eq(c.kafka_group_id, "ordersink");
    ck_assert_str_eq(c.kafka_auto_offset_reset, "earliest");
    ck_assert_int_eq(c.batch_max_count, 0); /* 0: 100 per partition key range */
    ck_assert_int_eq(c.batch_max_bytes, 4194304);
    ck_assert_int_eq(c.batch_max_wait_ms, 500);
    ck_assert_ptr_null(c.cosmos_partition_key_path); /* read from the container */
    ck_assert_str_eq(c.order_id_field, "orderId");
    ck_assert_int_eq(c.shutdown_timeout_ms, 20000);
    ck_assert_int_eq(c.retry_max_attempts, 12);
    ck_assert_str_eq(c.dlq_topic, "orders.dlq");
    ck_assert_str_eq(c.cosmos_key, KEY);
    ck_assert_ptr_null(c.cosmos_key_file);
    ck_assert_ptr_null(c.cosmos_ca_file);
}
END_TEST

START_TEST(test_file_values_and_env_precedence)
{
    set_required();
    setenv("ORDERSINK_KAFKA_TOPIC", "env-topic", 1);
    setenv("ORDERSINK_BATCH_MAX_WAIT_MS", "750", 1);
    const char *path = write_tmp("kafka = { topic = \"file-topic\"; group_id = \"g-file\"; };\n"
                                 "batch = { max_count = 50; max_wait_ms = 900; };\n"
                                 "dlq = { topic = \"dead\"; };\n");
    ck_assert_msg(cfg_load(&c, path, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.kafka_topic, "env-topic");   /* env beats file */
    ck_assert_int_eq(c.batch_max_wait_ms, 750);     /* env beats file */
    ck_assert_str_eq(c.kafka_group_id, "g-file");   /* file beats default */
    ck_assert_int_eq(c.batch_max_count, 50);        /* file beats default */
    ck_assert_str_eq(c.dlq_topic, "dead");          /* explicit, not derived */
    ck_assert_int_eq(c.shutdown_timeout_ms, 20000); /* default stays */
}
END_TEST

START_TEST(test_dlq_derived_from_env_topic)
{
    set_required();
    setenv("ORDERSINK_KAFKA_TOPIC", "env-topic", 1);
    const char *path = write_tmp("kafka = { topic = \"file-topic\"; };\n");
    ck_assert_msg(cfg_load(&c, path, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.dlq_topic, "env-topic.dlq");
}
END_TEST

START_TEST(test_missing_required)
{
    set_required();
    unsetenv("ORDERSINK_COSMOS_ENDPOINT");
    expect_error(NULL, CFG_WORKER, "cosmos.endpoint", "ORDERSINK_COSMOS_ENDPOINT");
}
END_TEST

START_TEST(test_missing_topic)
{
    set_required();
    unsetenv("ORDERSINK_KAFKA_TOPIC");
    expect_error(NULL, CFG_WORKER, "kafka.topic", "ORDERSINK_KAFKA_TOPIC");
}
END_TEST

START_TEST(test_empty_required)
{
    set_required();
    setenv("ORDERSINK_COSMOS_DATABASE", "", 1);
    expect_error(NULL, CFG_WORKER, "cosmos.database", "ORDERSINK_COSMOS_DATABASE");
}
END_TEST

START_TEST(test_int_out_of_range_file)
{
    set_required();
    const char *path = write_tmp("batch = { max_count = -1; };\n");
    expect_error(path, CFG_WORKER, "batch.max_count", "ORDERSINK_BATCH_MAX_COUNT");
}
END_TEST

START_TEST(test_int_out_of_range_env)
{
    set_required();
    setenv("ORDERSINK_BATCH_MAX_COUNT", "100001", 1);
    expect_error(NULL, CFG_WORKER, "batch.max_count", "100001");
}
END_TEST

START_TEST(test_non_integer_env)
{
    set_required();
    setenv("ORDERSINK_BATCH_MAX_WAIT_MS", "12abc", 1);
    expect_error(NULL, CFG_WORKER, "batch.max_wait_ms", "ORDERSINK_BATCH_MAX_WAIT_MS");
    cfg_free(&c);
    setenv("ORDERSINK_BATCH_MAX_WAIT_MS", "", 1);
    expect_error(NULL, CFG_WORKER, "batch.max_wait_ms", "integer");
    cfg_free(&c);
    setenv("ORDERSINK_BATCH_MAX_WAIT_MS", "99999999999999999999", 1);
    expect_error(NULL, CFG_WORKER, "batch.max_wait_ms", NULL);
}
END_TEST

START_TEST(test_unknown_key_in_file)
{
    set_required();
    const char *path = write_tmp("batch = { max_count = 10; max_cuont = 5; };\n");
    expect_error(path, CFG_WORKER, "batch.max_cuont", "unknown");
}
END_TEST

START_TEST(test_top_level_scalar_in_file)
{
    set_required();
    const char *path = write_tmp("topic = \"orders\";\n");
    expect_error(path, CFG_WORKER, "topic", "group");
}
END_TEST

START_TEST(test_wrong_type_in_file)
{
    set_required();
    const char *path = write_tmp("batch = { max_count = \"10\"; };\n");
    expect_error(path, CFG_WORKER, "batch.max_count", "integer");
    cfg_free(&c);
    path = write_tmp("kafka = { group_id = 5; };\n");
    expect_error(path, CFG_WORKER, "kafka.group_id", "string");
}
END_TEST

START_TEST(test_file_syntax_error_and_missing_file)
{
    set_required();
    const char *path = write_tmp("batch = { max_count = ; };\n");
    ck_assert_int_eq(cfg_load(&c, path, CFG_WORKER, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, path) != NULL, "error \"%s\" lacks the path", err);
    cfg_free(&c);
    expect_error("/nonexistent/ordersink.cfg", CFG_WORKER, "/nonexistent/ordersink.cfg", NULL);
}
END_TEST

START_TEST(test_bad_auto_offset_reset)
{
    set_required();
    setenv("ORDERSINK_KAFKA_AUTO_OFFSET_RESET", "smallest", 1);
    expect_error(NULL, CFG_WORKER, "kafka.auto_offset_reset", "ORDERSINK_KAFKA_AUTO_OFFSET_RESET");
    cfg_free(&c);
    setenv("ORDERSINK_KAFKA_AUTO_OFFSET_RESET", "latest", 1);
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.kafka_auto_offset_reset, "latest");
}
END_TEST

START_TEST(test_key_and_key_file)
{
    set_required();
    const char *path = write_tmp(KEY "\n");
    setenv("ORDERSINK_COSMOS_KEY_FILE", path, 1);
    expect_error(NULL, CFG_WORKER, "cosmos.key_file", "not both");
}
END_TEST

START_TEST(test_key_file_read)
{
    set_required();
    unsetenv("ORDERSINK_COSMOS_KEY");
    const char *path = write_tmp(KEY "\n");
    setenv("ORDERSINK_COSMOS_KEY_FILE", path, 1);
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.cosmos_key, KEY);
    ck_assert_str_eq(c.cosmos_key_file, path);
}
END_TEST

START_TEST(test_key_file_unreadable)
{
    set_required();
    unsetenv("ORDERSINK_COSMOS_KEY");
    setenv("ORDERSINK_COSMOS_KEY_FILE", "/nonexistent/cosmos.key", 1);
    expect_error(NULL, CFG_WORKER, "cosmos.key_file", "ORDERSINK_COSMOS_KEY_FILE");
}
END_TEST

START_TEST(test_key_missing)
{
    set_required();
    unsetenv("ORDERSINK_COSMOS_KEY");
    expect_error(NULL, CFG_WORKER, "cosmos.key", "ORDERSINK_COSMOS_KEY");
}
END_TEST

START_TEST(test_invalid_base64_key)
{
    set_required();
    setenv("ORDERSINK_COSMOS_KEY", "not base64!!", 1);
    expect_error(NULL, CFG_WORKER, "cosmos.key", "base64");
    ck_assert_ptr_null(strstr(err, "not base64!!")); /* the secret is not echoed */
    cfg_free(&c);
    setenv("ORDERSINK_COSMOS_KEY", "abc", 1);
    expect_error(NULL, CFG_WORKER, "cosmos.key", NULL);
}
END_TEST

START_TEST(test_endpoint_scheme)
{
    set_required();
    setenv("ORDERSINK_COSMOS_ENDPOINT", "acct.documents.azure.com", 1);
    expect_error(NULL, CFG_WORKER, "cosmos.endpoint", "https://");
}
END_TEST

/* Issue 11, defect 1: with the topic from EntityPath, dlq.topic was derived before the topic
 * existed and stayed NULL (strdup(NULL) in lib/dlq.c). */
START_TEST(test_eventhubs_entity_path_derives_the_dlq_topic)
{
    set_required();
    unsetenv("ORDERSINK_KAFKA_TOPIC");
    unsetenv("ORDERSINK_KAFKA_BOOTSTRAP_SERVERS");
    setenv("EVENTHUBS_CONNECTION_STRING",
           "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=R;SharedAccessKey=abc=;"
           "EntityPath=orders",
           1);
    int rc = cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err));
    unsetenv("EVENTHUBS_CONNECTION_STRING");
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(c.kafka_topic, "orders");
    ck_assert_str_eq(c.dlq_topic, "orders.dlq");
    ck_assert_str_eq(c.kafka_bootstrap_servers, "ns1.servicebus.windows.net:9093");
}
END_TEST

/* Whatever sets the topic, the worker never gets a NULL where it needs a value. */
START_TEST(test_worker_settings_never_null)
{
    const char *topic_file = "kafka = { topic = \"from-file\"; };\n";
    for (int variant = 0; variant < 3; variant++) {
        setup();
        set_required();
        const char *path = NULL;
        if (variant == 1) {
            unsetenv("ORDERSINK_KAFKA_TOPIC");
            path = write_tmp(topic_file);
        } else if (variant == 2) {
            unsetenv("ORDERSINK_KAFKA_TOPIC");
            setenv("ORDERSINK_EVENTHUBS_CONNECTION_STRING",
                   "Endpoint=sb://n.servicebus.windows.net/;EntityPath=eh", 1);
        }
        int rc = cfg_load(&c, path, CFG_WORKER, err, sizeof(err));
        unsetenv("ORDERSINK_EVENTHUBS_CONNECTION_STRING");
        ck_assert_msg(rc == 0, "variant %d: %s", variant, err);
        const char *must[] = {c.kafka_bootstrap_servers,
                              c.kafka_topic,
                              c.kafka_group_id,
                              c.kafka_auto_offset_reset,
                              c.kafka_assignor,
                              c.kafka_security_protocol,
                              c.cosmos_endpoint,
                              c.cosmos_key,
                              c.cosmos_database,
                              c.cosmos_container,
                              c.order_id_field,
                              c.dlq_topic,
                              c.log_level,
                              c.metrics_bind};
        for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
            ck_assert_msg(must[i] != NULL, "variant %d: setting %zu is NULL", variant, i);
        cfg_free(&c);
        teardown();
    }
}
END_TEST

/* Issue 11, defect 5: a path or query passed config and failed every signature later. */
START_TEST(test_endpoint_must_be_the_account_root)
{
    const char *bad[] = {"https://h:8081/prefix/",
                         "https://h:8081/?a=b",
                         "https://h/#f",
                         "https://u:p@h/",
                         "http://h:8081/",
                         "ftp://h/",
                         "not a url"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setup();
        set_required();
        setenv("ORDERSINK_COSMOS_ENDPOINT", bad[i], 1);
        expect_error(NULL, CFG_WORKER, "cosmos.endpoint", NULL);
        cfg_free(&c);
    }
    const char *good[] = {"https://acct.documents.azure.com:443/", "https://127.0.0.1:8081",
                          "https://[::1]:8081/"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setup();
        set_required();
        setenv("ORDERSINK_COSMOS_ENDPOINT", good[i], 1);
        ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s: %s", good[i],
                      err);
        cfg_free(&c);
    }
}
END_TEST

/* Issue 11, defect 8: a password with the newline of `echo` failed only at the broker. */
START_TEST(test_secrets_with_line_breaks_are_named)
{
    set_required();
    setenv("ORDERSINK_KAFKA_SECURITY_PROTOCOL", "sasl_ssl", 1);
    setenv("ORDERSINK_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", 1);
    setenv("ORDERSINK_KAFKA_SASL_USERNAME", "user", 1);
    setenv("ORDERSINK_KAFKA_SASL_PASSWORD", "secret\n", 1);
    expect_error(NULL, CFG_WORKER, "kafka.sasl_password", "line break");
    cfg_free(&c);
    memset(&c, 0, sizeof(c));
    setenv("ORDERSINK_KAFKA_SASL_PASSWORD", "secret", 1);
    setenv("ORDERSINK_KAFKA_SASL_USERNAME", "user\r\n", 1);
    expect_error(NULL, CFG_PRODUCER, "kafka.sasl_username", "line break");
    cfg_free(&c);
    memset(&c, 0, sizeof(c));
    setenv("ORDERSINK_KAFKA_SASL_USERNAME", "user", 1);
    setenv("ORDERSINK_COSMOS_KEY", KEY "\n", 1);
    expect_error(NULL, CFG_WORKER, "cosmos.key", "line break");
}
END_TEST

START_TEST(test_producer_needs_no_cosmos)
{
    setenv("ORDERSINK_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092", 1);
    setenv("ORDERSINK_KAFKA_TOPIC", "orders", 1);
    ck_assert_msg(cfg_load(&c, NULL, CFG_PRODUCER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_null(c.cosmos_endpoint);
    ck_assert_ptr_null(c.cosmos_key);
    ck_assert_str_eq(c.dlq_topic, "orders.dlq");
    cfg_free(&c);
    /* The same environment is not enough for the worker. */
    expect_error(NULL, CFG_WORKER, "cosmos.", NULL);
    cfg_free(&c);
    unsetenv("ORDERSINK_KAFKA_BOOTSTRAP_SERVERS");
    expect_error(NULL, CFG_PRODUCER, "kafka.bootstrap_servers",
                 "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS");
}
END_TEST

START_TEST(test_print_redacts_key)
{
    set_required();
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    cfg_print(&c, f);
    fclose(f);
    ck_assert_ptr_null(strstr(buf, KEY));
    ck_assert_ptr_null(strstr(buf, "dsZQi3KtZmCv")); /* not even a prefix */
    ck_assert_ptr_nonnull(strstr(buf, "cosmos.key = \"<redacted>\""));
    ck_assert_ptr_nonnull(strstr(buf, "kafka.topic = \"orders\"  # ORDERSINK_KAFKA_TOPIC, env"));
    ck_assert_ptr_nonnull(strstr(buf, "batch.max_count = 0  # ORDERSINK_BATCH_MAX_COUNT, default"));
    ck_assert_ptr_nonnull(strstr(buf, "dlq.topic = \"orders.dlq\""));
    free(buf);
}
END_TEST

START_TEST(test_print_redacts_key_from_file)
{
    set_required();
    unsetenv("ORDERSINK_COSMOS_KEY");
    const char *path = write_tmp(KEY "\n");
    setenv("ORDERSINK_COSMOS_KEY_FILE", path, 1);
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_print(&c, f);
    fclose(f);
    ck_assert_ptr_null(strstr(buf, "dsZQi3KtZmCv"));
    ck_assert_ptr_nonnull(strstr(buf, "<redacted>"));
    free(buf);
}
END_TEST

START_TEST(test_env_name)
{
    char buf[64];
    cfg_env_name("kafka.bootstrap_servers", buf, sizeof(buf));
    ck_assert_str_eq(buf, "ORDERSINK_KAFKA_BOOTSTRAP_SERVERS");
    cfg_env_name("cosmos.key_file", buf, sizeof(buf));
    ck_assert_str_eq(buf, "ORDERSINK_COSMOS_KEY_FILE");
    char small[14];
    cfg_env_name("kafka.topic", small, sizeof(small));
    ck_assert_str_eq(small, "ORDERSINK_KAF");
}
END_TEST

START_TEST(test_group_protocol_values)
{
    set_required();
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.kafka_group_protocol, "classic");
    ck_assert_ptr_null(c.kafka_group_remote_assignor);
    cfg_free(&c);
    setenv("ORDERSINK_KAFKA_GROUP_PROTOCOL", "kip848", 1);
    expect_error(NULL, CFG_WORKER, "kafka.group_protocol", "ORDERSINK_KAFKA_GROUP_PROTOCOL");
    cfg_free(&c);
    setenv("ORDERSINK_KAFKA_GROUP_PROTOCOL", "consumer", 1);
    setenv("ORDERSINK_KAFKA_GROUP_REMOTE_ASSIGNOR", "cooperative-sticky", 1);
    expect_error(NULL, CFG_WORKER, "kafka.group_remote_assignor", "not allowed");
    cfg_free(&c);
    setenv("ORDERSINK_KAFKA_GROUP_REMOTE_ASSIGNOR", "range", 1);
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.kafka_group_protocol, "consumer");
    ck_assert_str_eq(c.kafka_group_remote_assignor, "range");
}
END_TEST

/* Each protocol's own settings are refused under the other, naming the setting. */
START_TEST(test_group_protocol_settings_do_not_mix)
{
    static const struct {
        const char *protocol, *env, *value, *want1, *want2;
    } cases[] = {
        {"consumer", "ORDERSINK_KAFKA_ASSIGNOR", "cooperative-sticky", "kafka.assignor",
         "kafka.group_remote_assignor"},
        {"consumer", "ORDERSINK_KAFKA_SESSION_TIMEOUT_MS", "6000", "kafka.session_timeout_ms",
         "group.consumer.session.timeout.ms"},
        {"consumer", "ORDERSINK_LIBRDKAFKA_HEARTBEAT_INTERVAL_MS", "1000", "kafka.group_protocol",
         "heartbeat.interval.ms"},
        {"consumer", "ORDERSINK_LIBRDKAFKA_PARTITION_ASSIGNMENT_STRATEGY", "range",
         "kafka.group_protocol", "partition.assignment.strategy"},
        {"consumer", "EVENTHUBS_CONNECTION_STRING",
         "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s",
         "kafka.group_protocol", "Event Hubs"},
        {"classic", "ORDERSINK_KAFKA_GROUP_REMOTE_ASSIGNOR", "uniform",
         "kafka.group_remote_assignor", "consumer only"},
        {"classic", "ORDERSINK_LIBRDKAFKA_GROUP_PROTOCOL", "consumer", "kafka.group_protocol",
         "group.protocol"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        set_required();
        setenv("ORDERSINK_KAFKA_GROUP_PROTOCOL", cases[i].protocol, 1);
        setenv(cases[i].env, cases[i].value, 1);
        expect_error(NULL, CFG_WORKER, cases[i].want1, cases[i].want2);
        cfg_free(&c);
        unsetenv(cases[i].env);
    }
    /* The same settings are fine under their own protocol. */
    setup();
    set_required();
    setenv("ORDERSINK_KAFKA_ASSIGNOR", "cooperative-sticky", 1);
    setenv("ORDERSINK_KAFKA_SESSION_TIMEOUT_MS", "6000", 1);
    ck_assert_msg(cfg_load(&c, NULL, CFG_WORKER, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_values_and_env_precedence);
    tcase_add_test(tc, test_dlq_derived_from_env_topic);
    tcase_add_test(tc, test_missing_required);
    tcase_add_test(tc, test_missing_topic);
    tcase_add_test(tc, test_empty_required);
    tcase_add_test(tc, test_int_out_of_range_file);
    tcase_add_test(tc, test_int_out_of_range_env);
    tcase_add_test(tc, test_non_integer_env);
    tcase_add_test(tc, test_unknown_key_in_file);
    tcase_add_test(tc, test_top_level_scalar_in_file);
    tcase_add_test(tc, test_wrong_type_in_file);
    tcase_add_test(tc, test_file_syntax_error_and_missing_file);
    tcase_add_test(tc, test_bad_auto_offset_reset);
    tcase_add_test(tc, test_key_and_key_file);
    tcase_add_test(tc, test_key_file_read);
    tcase_add_test(tc, test_key_file_unreadable);
    tcase_add_test(tc, test_key_missing);
    tcase_add_test(tc, test_invalid_base64_key);
    tcase_add_test(tc, test_endpoint_scheme);
    tcase_add_test(tc, test_eventhubs_entity_path_derives_the_dlq_topic);
    tcase_add_test(tc, test_worker_settings_never_null);
    tcase_add_test(tc, test_endpoint_must_be_the_account_root);
    tcase_add_test(tc, test_secrets_with_line_breaks_are_named);
    tcase_add_test(tc, test_producer_needs_no_cosmos);
    tcase_add_test(tc, test_print_redacts_key);
    tcase_add_test(tc, test_print_redacts_key_from_file);
    tcase_add_test(tc, test_env_name);
    tcase_add_test(tc, test_group_protocol_values);
    tcase_add_test(tc, test_group_protocol_settings_do_not_mix);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
