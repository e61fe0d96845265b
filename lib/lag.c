/*
 * lag: KEDA v2.21's rules, written down (pkg/scalers/kafka_scaler.go, getLagForPartition and
 * getTotalLag):
 * - no committed offset: latest -> 1; earliest -> the records still in the log (high - log
 *   start; the high watermark when the log start is unknown); 0 for both with
 *   scaleToZeroOnInvalidOffset;
 * - otherwise high - committed; with excludePersistentLag, a committed offset that has not moved
 *   since the previous poll counts 0 toward the metric (but still toward activity);
 * - unless allowIdleConsumers, the metric is capped at partitions x lagThreshold (partitions with
 *   lag, with limitToPartitionsWithLag); ensureEvenDistributionOfPartitions first rounds it up
 *   to the smallest divisor of the partition count x lagThreshold;
 * - active when the total (persistent lag included) exceeds activationLagThreshold; the HPA
 *   then asks for ceil(metric / lagThreshold) replicas (at least 1, at most maxReplicaCount);
 *   idle -> 0.
 */
#include "lag.h"

const char *lag_policy_error(const struct lag_policy *p)
{
    if (p->lag_threshold <= 0)
        return "lagThreshold must be a positive number";
    if (p->activation_lag_threshold < 0)
        return "activationLagThreshold must be a non-negative number";
    if (p->allow_idle_consumers && p->limit_to_partitions_with_lag)
        return "allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously";
    if (p->limit_to_partitions_with_lag && p->ensure_even_distribution)
        return "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set "
               "simultaneously";
    return NULL;
}

/* One partition's lag (toward the metric) into lp->lag and toward activity into
 * lp->lag_with_persistent; updates lp->previous as KEDA's memory of the last poll. */
static void lag_partition_compute(struct lag_partition *lp, const struct lag_policy *p)
{
    if (lp->committed == LAG_NO_OFFSET) {
        int64_t lag;
        if (p->scale_to_zero_on_invalid)
            lag = 0;
        else if (p->offset_reset_latest)
            lag = 1;
        else if (lp->low == LAG_NO_OFFSET)
            lag = lp->high;
        else
            lag = lp->high > lp->low ? lp->high - lp->low : 0; /* retention may pass high */
        lp->lag = lp->lag_with_persistent = lag;
        return;
    }
    lp->lag = lp->lag_with_persistent = lp->high - lp->committed;
    if (!p->exclude_persistent_lag)
        return;
    if (lp->previous != LAG_NO_OFFSET && lp->previous == lp->committed)
        lp->lag = 0; /* no progress since the last poll: maybe a message it cannot consume */
    lp->previous = lp->committed;
}

/* The smallest divisor d of partitions with d x threshold >= total, else partitions. */
static int64_t lag_even_factor(int64_t total, int64_t partitions, int64_t threshold)
{
    for (int64_t d = 1; d <= partitions; d++)
        if (partitions % d == 0 && d * threshold >= total)
            return d;
    return partitions;
}

void lag_compute(struct lag_partition *parts, size_t n, const struct lag_policy *p,
                 struct lag_result *out)
{
    int64_t total = 0, with_persistent = 0, with_lag = 0;
    for (size_t i = 0; i < n; i++) {
        lag_partition_compute(&parts[i], p);
        total += parts[i].lag;
        with_persistent += parts[i].lag_with_persistent;
        with_lag += parts[i].lag > 0;
    }
    int64_t metric = total;
    /* KEDA refuses lagThreshold <= 0 (worker lag checks its flag); a caller that only wants the
     * lags may leave it 0: count it as 1 instead of dividing by zero. */
    const int64_t threshold = p->lag_threshold > 0 ? p->lag_threshold : 1;
    if (!p->allow_idle_consumers || p->limit_to_partitions_with_lag ||
        p->ensure_even_distribution) {
        int64_t upper = (int64_t)n;
        if (p->ensure_even_distribution)
            metric = lag_even_factor(metric, (int64_t)n, threshold) * threshold;
        if (p->limit_to_partitions_with_lag)
            upper = with_lag;
        if (metric / threshold > upper)
            metric = upper * threshold;
    }
    out->total = total;
    out->total_with_persistent = with_persistent;
    out->metric = metric > 0 ? metric : 0; /* KEDA reports a negative lag as 0 */
    out->active = with_persistent > p->activation_lag_threshold;
    int64_t replicas = 0;
    if (out->active) {
        replicas = (out->metric + threshold - 1) / threshold;
        if (replicas < 1)
            replicas = 1;
        if (p->max_replicas > 0 && replicas > p->max_replicas)
            replicas = p->max_replicas;
    }
    out->replicas = replicas;
}
