/*
 * lag: consumer-group lag exactly as KEDA's Kafka scaler computes it (v2.20,
 * pkg/scalers/kafka_scaler.go), and what KEDA would do with it: the metric, active or idle,
 * and the replica count the HPA would ask for. Pure arithmetic; lib/kafka reads the offsets.
 */
#ifndef ORDERSINK_LAG_H
#define ORDERSINK_LAG_H

#include <stddef.h>
#include <stdint.h>

#define LAG_NO_OFFSET (-1) /* the group has no committed offset for the partition */

struct lag_partition {
    int32_t partition;
    int64_t committed; /* LAG_NO_OFFSET when none */
    int64_t high;      /* high watermark (newest offset) */
    int64_t lag;       /* filled by lag_compute */
};

/* The ScaledObject trigger metadata that matters here. */
struct lag_policy {
    int64_t lag_threshold;            /* lagThreshold (> 0) */
    int64_t activation_lag_threshold; /* activationLagThreshold */
    int offset_reset_latest;          /* offsetResetPolicy: 1 latest, 0 earliest */
    int scale_to_zero_on_invalid;     /* scaleToZeroOnInvalidOffset */
    int allow_idle_consumers;         /* allowIdleConsumers */
    int64_t max_replicas;             /* maxReplicaCount */
};

struct lag_result {
    int64_t total;  /* sum of per-partition lags */
    int64_t metric; /* what the scaler reports: total, capped at partitions x lagThreshold */
    int active;     /* total > activationLagThreshold */
    int64_t replicas;
};

/* Fills each partition's lag and the result. */
void lag_compute(struct lag_partition *parts, size_t n, const struct lag_policy *policy,
                 struct lag_result *out);

#endif
