/*
 * fuzz_config: libFuzzer target for cfg_load on arbitrary libconfig files (the worker's
 * program), then cfg_print. The input is written to one file per process under /tmp,
 * rewritten each run. The settings a worker must have come from the environment, so most
 * inputs reach validation; a Cosmos key file for seeds lives at FUZZ_KEY_FILE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define FUZZ_KEY_FILE "/tmp/ordersink-fuzz-cosmos-key"

extern char **environ;

static char cfg_path[64];
static FILE *devnull;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: invariant failed: %s: ", #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void remove_cfg(void)
{
    unlink(cfg_path);
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Only our settings: drop whatever ORDERSINK_* the calling shell had. */
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "ORDERSINK_", 10) == 0 || strncmp(*e, "EVENTHUBS_", 10) == 0) {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
    setenv("ORDERSINK_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", 1);
    setenv("ORDERSINK_KAFKA_TOPIC", "orders", 1);
    setenv("ORDERSINK_COSMOS_ENDPOINT", "https://localhost:8081/", 1);
    setenv("ORDERSINK_COSMOS_DATABASE", "shop", 1);
    setenv("ORDERSINK_COSMOS_CONTAINER", "orders", 1);
    setenv("ORDERSINK_LIBRDKAFKA_CLIENT_ID", "fuzz", 1); /* env passthrough over the file's */
    static const char key[] =
        "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/"
        "Jw==\n";
    write_file(FUZZ_KEY_FILE, key, sizeof(key) - 1);
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/ordersink-fuzz-config-%ld.cfg", (long)getpid());
    atexit(remove_cfg);
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_file(cfg_path, data, size);
    struct cfg c;
    char err[256];
    memset(err, 0x5A, sizeof(err));
    err[sizeof(err) - 1] = '\0';
    int rc = cfg_load(&c, cfg_path, CFG_WORKER, err, sizeof(err));
    CHECK(rc == 0 || rc == -1, "rc %d", rc);
    if (rc == 0) {
        /* A loaded worker config has what the worker dereferences without checking. */
        CHECK(c.kafka_bootstrap_servers && c.kafka_topic && c.kafka_group_id && c.cosmos_endpoint &&
                  c.cosmos_key && c.cosmos_database && c.cosmos_container && c.order_id_field &&
                  c.dlq_topic && c.kafka_security_protocol && c.log_level && c.metrics_bind,
              "a required setting is NULL after a successful load");
        /* Optional (read from the container when unset); when set, a path. */
        CHECK(!c.cosmos_partition_key_path || c.cosmos_partition_key_path[0] == '/', "pk path %s",
              c.cosmos_partition_key_path);
        for (size_t i = 0; i < c.librdkafka_count; i++)
            CHECK(c.librdkafka[i].name && c.librdkafka[i].value, "passthrough %zu", i);
        CHECK(cfg_librdkafka_get(&c, "client.id") != NULL, "env passthrough lost");
    } else {
        CHECK(strncmp(err, "config", 6) == 0, "error text: %.200s", err);
    }
    cfg_print(&c, devnull);
    cfg_free(&c);
    cfg_free(&c); /* the contract: safe after free (pointers reset) */
    return 0;
}
