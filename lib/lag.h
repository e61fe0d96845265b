/*
 * lag: consumer-group lag exactly as KEDA's Kafka scaler computes it (v2.21,
 * pkg/scalers/kafka_scaler.go; checked against KEDA's own code by `make keda-check`), and what
 * KEDA would do with it: the metric, active or idle, and the replica count the HPA would ask
 * for. Pure arithmetic; lib/kafka_offsets reads the offsets, lib/lag_state keeps what KEDA
 * remembers between polls.
 */
#ifndef ORDERSINK_LAG_H
#define ORDERSINK_LAG_H

#include <stddef.h>
#include <stdint.h>

#define LAG_NO_OFFSET (-1) /* no committed offset / no log start / nothing remembered */

struct lag_partition {
    int32_t partition;
    int64_t committed; /* LAG_NO_OFFSET when none */
    int64_t low;      /* log start offset (oldest record still in the log); LAG_NO_OFFSET unknown */
    int64_t high;     /* high watermark (offset of the next record) */
    int64_t previous; /* committed offset KEDA saw at its previous poll (excludePersistentLag);
                         LAG_NO_OFFSET when none. lag_compute replaces it with what KEDA keeps
                         for the next poll. */
    int64_t lag;      /* filled by lag_compute: what counts toward the metric */
    int64_t lag_with_persistent; /* filled: what counts toward activity */
};

/* The ScaledObject trigger metadata that matters here. */
struct lag_policy {
    int64_t lag_threshold;            /* lagThreshold (> 0) */
    int64_t activation_lag_threshold; /* activationLagThreshold (>= 0) */
    int offset_reset_latest;          /* offsetResetPolicy: 1 latest, 0 earliest */
    int scale_to_zero_on_invalid;     /* scaleToZeroOnInvalidOffset */
    int allow_idle_consumers;         /* allowIdleConsumers */
    int limit_to_partitions_with_lag; /* limitToPartitionsWithLag */
    int exclude_persistent_lag;       /* excludePersistentLag */
    int ensure_even_distribution;     /* ensureEvenDistributionOfPartitions */
    int64_t max_replicas;             /* maxReplicaCount (0: no cap) */
};

struct lag_result {
    int64_t total;                 /* sum of per-partition lags */
    int64_t total_with_persistent; /* the same with persistent lag counted (activity) */
    int64_t metric;                /* what the scaler reports (after its caps, never < 0) */
    int active;                    /* total_with_persistent > activationLagThreshold */
    int64_t replicas;              /* what the HPA asks for; 0 when idle */
};

/*
 * NULL when KEDA accepts the policy, else KEDA's reason (e.g. allowIdleConsumers together with
 * limitToPartitionsWithLag), naming the metadata keys.
 */
const char *lag_policy_error(const struct lag_policy *policy);

/*
 * Fills each partition's lag (and, with excludePersistentLag, its remembered offset) and the
 * result, for a policy lag_policy_error accepts.
 */
void lag_compute(struct lag_partition *parts, size_t n, const struct lag_policy *policy,
                 struct lag_result *out);

#endif
