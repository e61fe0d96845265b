/*
 * kafka_offsets: group offsets read and written outside the consume loop (committed offsets,
 * watermarks, the start positions committed on assignment, `worker lag`), each retried while
 * the broker answers with a transient error, e.g. a coordinator that is still loading after a
 * broker start, within a bounded time.
 */
#ifndef ORDERSINK_KAFKA_OFFSETS_H
#define ORDERSINK_KAFKA_OFFSETS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lag.h"

/* How long a group offset read or commit keeps retrying transient errors (a freshly started
 * broker answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS for a while; RIG.md). */
#define KAFKA_OFFSETS_RETRY_MS 30000

/*
 * 1 for errors that go away by themselves: the group coordinator moving, loading or not yet
 * available, leaders moving, timeouts and dropped connections. Authentication, authorization
 * and unknown topics or partitions are not.
 */
int kafka_error_is_retriable(rd_kafka_resp_err_t err);

/*
 * For the partitions in parts without a committed offset, commits where consumption starts
 * (low watermark, or high when start_at_latest), so lag-based autoscalers see 0 on an empty
 * partition instead of "unknown". Retries transient errors for up to retry_ms. Returns 0 and,
 * when committed_out is not NULL, a list (to destroy) with the group's committed offset of
 * every partition (the start position where it was just committed); or -1 with err filled
 * and *committed_out NULL.
 */
int kafka_commit_start_positions(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                                 int start_at_latest, int64_t retry_ms,
                                 rd_kafka_topic_partition_list_t **committed_out, char *err,
                                 size_t errsz);

/*
 * Reads, for every partition of c->kafka_topic, the group's committed offset (without joining
 * the group), the log start offset and the high watermark, retrying transient errors (also
 * per-partition ones) for up to retry_ms. *out is malloc'd (free it). Returns 0 or -1 with err.
 */
int kafka_group_offsets(const struct cfg *c, int64_t retry_ms, struct lag_partition **out,
                        size_t *n, char *err, size_t errsz);

#endif
