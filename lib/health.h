/*
 * health: the worker's HTTP endpoint (libmicrohttpd, its own thread): /metrics (Prometheus
 * text from lib/metrics), /healthz (liveness: the loops made progress recently) and /readyz
 * (readiness: joined the consumer group and Cosmos answers).
 */
#ifndef ORDERSINK_HEALTH_H
#define ORDERSINK_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct health;

/* Starts serving on bind_addr:port. Returns NULL with err filled (e.g. port in use). */
struct health *health_start(struct metrics *m, const char *bind_addr, int port,
                            int64_t liveness_timeout_ms, char *err, size_t errsz);
void health_stop(struct health *h);

/* The decisions, exposed for tests: 1 = healthy/ready. */
int health_is_live(struct metrics *m, int64_t now_ms, int64_t liveness_timeout_ms);
int health_is_ready(struct metrics *m);

#endif
