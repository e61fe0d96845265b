/*
 * lag_cmd: `worker lag`, the consumer group's lag as KEDA's Kafka scaler sees it (offsets from
 * lib/kafka_offsets, KEDA's rules from lib/lag, its memory between polls from lib/lag_state).
 */
#ifndef ORDERSINK_LAG_CMD_H
#define ORDERSINK_LAG_CMD_H

/* Runs `worker lag` with argv[0] = "lag"; returns the exit code: 0, 1 Kafka or state-file
 * error, 2 bad flag or configuration. */
int worker_lag(int argc, char **argv);

#endif
