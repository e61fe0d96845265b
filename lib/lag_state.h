/*
 * lag_state: what KEDA's Kafka scaler remembers between two polls (excludePersistentLag: the
 * committed offset of each partition at the previous poll), kept in a small text file so that
 * successive `worker lag` runs behave like successive KEDA polls of one ScaledObject.
 */
#ifndef ORDERSINK_LAG_STATE_H
#define ORDERSINK_LAG_STATE_H

#include <stddef.h>

#include "lag.h"

/*
 * Sets parts[i].previous from path's lines "<topic> <partition> <offset>" for topic
 * (LAG_NO_OFFSET for a partition not listed; a file that does not exist lists none).
 * Returns 0, or -1 with err for a file that cannot be read or a malformed line.
 */
int lag_state_load(const char *path, const char *topic, struct lag_partition *parts, size_t n,
                   char *err, size_t errsz);

/*
 * Replaces path with one line per partition of topic that has a remembered offset
 * (parts[i].previous != LAG_NO_OFFSET); written to path.tmp, then renamed. 0, or -1 with err.
 */
int lag_state_save(const char *path, const char *topic, const struct lag_partition *parts, size_t n,
                   char *err, size_t errsz);

#endif
