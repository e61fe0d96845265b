/*
 * lag_cmd: `worker lag` - reads the group's offsets without joining it, applies KEDA's rules
 * with the trigger metadata given as flags, prints per partition and in total what KEDA would
 * report and what the HPA would do.
 */
#include "lag_cmd.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kafka_offsets.h"
#include "lag.h"
#include "lag_state.h"
#include "log.h"

struct lag_cmd {
    struct lag_policy policy;
    const char *config_path;
    const char *state_path; /* --state: KEDA's memory between polls (excludePersistentLag) */
};

static int lag_cmd_usage(FILE *out, int rc)
{
    fprintf(
        out,
        "usage: worker lag [--config PATH] [--lag-threshold N] [--activation-lag-threshold N]\n"
        "                  [--offset-reset-policy latest|earliest] [--max-replicas N]\n"
        "                  [--scale-to-zero-on-invalid-offset] [--allow-idle-consumers]\n"
        "                  [--limit-to-partitions-with-lag]\n"
        "                  [--ensure-even-distribution-of-partitions]\n"
        "                  [--exclude-persistent-lag --state FILE]\n"
        "Prints the group's lag per partition and in total as KEDA's Kafka scaler (v2.21)\n"
        "computes it, whether KEDA would see the trigger active, and the replicas the HPA would\n"
        "ask for. Defaults: lagThreshold 1000, activationLagThreshold 0, offsetResetPolicy from\n"
        "kafka.auto_offset_reset, maxReplicaCount = partitions. --state FILE keeps the committed\n"
        "offsets of this run for the next one, as KEDA keeps them between two polls.\n");
    return rc;
}

/* Parses the flags into cmd; returns -1 to go on, else the exit code (help, usage error). */
static int lag_cmd_options(int argc, char **argv, struct lag_cmd *cmd)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"lag-threshold", required_argument, NULL, 't'},
        {"activation-lag-threshold", required_argument, NULL, 'a'},
        {"offset-reset-policy", required_argument, NULL, 'o'},
        {"max-replicas", required_argument, NULL, 'm'},
        {"scale-to-zero-on-invalid-offset", no_argument, NULL, 'z'},
        {"allow-idle-consumers", no_argument, NULL, 'i'},
        {"limit-to-partitions-with-lag", no_argument, NULL, 'l'},
        {"ensure-even-distribution-of-partitions", no_argument, NULL, 'e'},
        {"exclude-persistent-lag", no_argument, NULL, 'p'},
        {"state", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char *end;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int64_t v = optarg ? strtoll(optarg, &end, 10) : 0;
        int bad_number = optarg && (*end || end == optarg || v < 0);
        struct lag_policy *p = &cmd->policy;
        switch (opt) {
        case 'c':
            cmd->config_path = optarg;
            break;
        case 't':
            if (bad_number || v == 0)
                return fprintf(stderr, "worker lag: --lag-threshold: a positive integer\n"), 2;
            p->lag_threshold = v;
            break;
        case 'a':
            if (bad_number)
                return fprintf(stderr, "worker lag: --activation-lag-threshold: an integer\n"), 2;
            p->activation_lag_threshold = v;
            break;
        case 'm':
            if (bad_number)
                return fprintf(stderr, "worker lag: --max-replicas: an integer\n"), 2;
            p->max_replicas = v;
            break;
        case 'o':
            if (strcmp(optarg, "latest") && strcmp(optarg, "earliest"))
                return fprintf(stderr, "worker lag: --offset-reset-policy: latest|earliest\n"), 2;
            p->offset_reset_latest = strcmp(optarg, "latest") == 0;
            break;
        case 'z':
            p->scale_to_zero_on_invalid = 1;
            break;
        case 'i':
            p->allow_idle_consumers = 1;
            break;
        case 'l':
            p->limit_to_partitions_with_lag = 1;
            break;
        case 'e':
            p->ensure_even_distribution = 1;
            break;
        case 'p':
            p->exclude_persistent_lag = 1;
            break;
        case 's':
            cmd->state_path = optarg;
            break;
        case 'h':
            return lag_cmd_usage(stdout, 0);
        default:
            return lag_cmd_usage(stderr, 2);
        }
    }
    const char *why = lag_policy_error(&cmd->policy);
    if (why)
        return fprintf(stderr, "worker lag: %s (as KEDA refuses it)\n", why), 2;
    if (cmd->policy.exclude_persistent_lag && !cmd->state_path)
        return fprintf(stderr, "worker lag: --exclude-persistent-lag needs --state FILE (KEDA "
                               "compares with its previous poll)\n"),
               2;
    return -1;
}

static void lag_cmd_print(const struct cfg *c, const struct lag_policy *p,
                          const struct lag_partition *parts, size_t n, const struct lag_result *r)
{
    printf("topic %s, group %s, %zu partitions\n", c->kafka_topic, c->kafka_group_id, n);
    for (size_t i = 0; i < n; i++) {
        char committed[24] = "none", start[24] = "unknown";
        if (parts[i].committed != LAG_NO_OFFSET)
            snprintf(committed, sizeof(committed), "%lld", (long long)parts[i].committed);
        if (parts[i].low != LAG_NO_OFFSET)
            snprintf(start, sizeof(start), "%lld", (long long)parts[i].low);
        printf("partition %d committed %s start %s high %lld lag %lld", parts[i].partition,
               committed, start, (long long)parts[i].high, (long long)parts[i].lag);
        if (parts[i].lag != parts[i].lag_with_persistent)
            printf(" (persistent lag %lld, not counted)", (long long)parts[i].lag_with_persistent);
        printf("\n");
    }
    printf("total lag %lld metric %lld", (long long)r->total, (long long)r->metric);
    if (r->total != r->total_with_persistent)
        printf(" (with persistent lag %lld)", (long long)r->total_with_persistent);
    printf("\n%s replicas %lld (lagThreshold %lld, activationLagThreshold %lld, "
           "offsetResetPolicy %s, maxReplicaCount %lld%s%s%s%s%s)\n",
           r->active ? "active" : "idle", (long long)r->replicas, (long long)p->lag_threshold,
           (long long)p->activation_lag_threshold, p->offset_reset_latest ? "latest" : "earliest",
           (long long)p->max_replicas,
           p->scale_to_zero_on_invalid ? ", scaleToZeroOnInvalidOffset" : "",
           p->allow_idle_consumers ? ", allowIdleConsumers" : "",
           p->limit_to_partitions_with_lag ? ", limitToPartitionsWithLag" : "",
           p->ensure_even_distribution ? ", ensureEvenDistributionOfPartitions" : "",
           p->exclude_persistent_lag ? ", excludePersistentLag" : "");
}

int worker_lag(int argc, char **argv)
{
    signal(SIGTERM, SIG_DFL); /* a one-shot command: a signal just ends it */
    signal(SIGINT, SIG_DFL);
    struct lag_cmd cmd = {.policy = {.lag_threshold = 1000, .offset_reset_latest = -1},
                          .config_path = getenv("ORDERSINK_CONFIG")};
    int rc = lag_cmd_options(argc, argv, &cmd);
    if (rc >= 0)
        return rc;
    struct cfg c;
    char err[512];
    const char *path = cmd.config_path;
    if (cfg_load(&c, path && *path ? path : NULL, CFG_PRODUCER, err, sizeof(err)) != 0) {
        fprintf(stderr, "worker lag: %s\n", err);
        cfg_free(&c);
        return 2;
    }
    log_set_level(LOG_ERROR);
    struct lag_policy *p = &cmd.policy;
    if (p->offset_reset_latest < 0)
        p->offset_reset_latest = strcmp(c.kafka_auto_offset_reset, "latest") == 0;
    struct lag_partition *parts = NULL;
    size_t n = 0;
    rc = 1;
    if (kafka_group_offsets(&c, KAFKA_OFFSETS_RETRY_MS, &parts, &n, err, sizeof(err)) != 0 ||
        (cmd.state_path &&
         lag_state_load(cmd.state_path, c.kafka_topic, parts, n, err, sizeof(err)) != 0)) {
        fprintf(stderr, "worker lag: %s\n", err);
        goto out;
    }
    if (p->max_replicas == 0)
        p->max_replicas = (int64_t)n;
    struct lag_result r;
    lag_compute(parts, n, p, &r);
    if (cmd.state_path && p->exclude_persistent_lag &&
        lag_state_save(cmd.state_path, c.kafka_topic, parts, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "worker lag: %s\n", err);
        goto out;
    }
    lag_cmd_print(&c, p, parts, n, &r);
    rc = 0;
out:
    free(parts);
    cfg_free(&c);
    return rc;
}
