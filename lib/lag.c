/*
 * lag: KEDA's rules, written down:
 * - no committed offset: latest -> 1, earliest -> the high watermark; 0 for both with
 *   scaleToZeroOnInvalidOffset;
 * - otherwise high - committed;
 * - unless allowIdleConsumers, the metric is capped at partitions x lagThreshold;
 * - active when the total exceeds activationLagThreshold; the HPA then asks for
 *   ceil(metric / lagThreshold) replicas (at least 1, at most maxReplicaCount); idle -> 0.
 */
#include "lag.h"

void lag_compute(struct lag_partition *parts, size_t n, const struct lag_policy *p,
                 struct lag_result *out)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct lag_partition *lp = &parts[i];
        if (lp->committed == LAG_NO_OFFSET)
            lp->lag = p->scale_to_zero_on_invalid ? 0 : p->offset_reset_latest ? 1 : lp->high;
        else
            lp->lag = lp->high - lp->committed;
        total += lp->lag;
    }
    int64_t metric = total;
    if (!p->allow_idle_consumers && p->lag_threshold > 0 && metric / p->lag_threshold > (int64_t)n)
        metric = (int64_t)n * p->lag_threshold;
    out->total = total;
    out->metric = metric;
    out->active = total > p->activation_lag_threshold;
    int64_t replicas = 0;
    if (out->active) {
        replicas = p->lag_threshold > 0 ? (metric + p->lag_threshold - 1) / p->lag_threshold : 1;
        if (replicas < 1)
            replicas = 1;
        if (p->max_replicas > 0 && replicas > p->max_replicas)
            replicas = p->max_replicas;
    }
    out->replicas = replicas;
}
