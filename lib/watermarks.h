/*
 * watermarks: the high watermark (end offset) of the partitions a consumer is assigned, kept
 * fresh also while they are paused. librdkafka learns a partition's end only from fetch
 * answers, so a paused partition's stays where it was; this asks the leaders itself: an
 * asynchronous ListOffsets (latest) on the consumer's own handle every interval, its answer
 * collected without blocking.
 */
#ifndef ORDERSINK_WATERMARKS_H
#define ORDERSINK_WATERMARKS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define WATERMARKS_UNKNOWN (-1)

struct watermarks;

/* A tracker asking through rk (which must outlive it) at most every interval_ms. Returns NULL
 * when out of memory. */
struct watermarks *watermarks_new(rd_kafka_t *rk, int64_t interval_ms);

/* Drops an answer still outstanding. NULL is a no-op. */
void watermarks_free(struct watermarks *w);

/* Never blocks. Takes the answer to the last request if it has arrived (partitions answered
 * with an error keep their previous value). Returns 1 when an answer was taken, else 0. */
int watermarks_collect(struct watermarks *w);

/* 1 when a request may be sent now: none is outstanding and the last one was sent
 * interval_ms ago or more. */
int watermarks_due(const struct watermarks *w, int64_t now_ms);

/* Asks, without waiting, for the end offsets of parts[0..n) of topic (n > 0); the answer
 * comes to watermarks_collect. A request still outstanding is not duplicated. */
void watermarks_ask(struct watermarks *w, const char *topic, const int32_t *parts, size_t n,
                    int64_t now_ms);

/* The last high watermark learnt for partition, or WATERMARKS_UNKNOWN. */
int64_t watermarks_high(const struct watermarks *w, int32_t partition);

#endif
