/*
 * aimd: the adaptive concurrency limit of Cosmos requests. Additive increase while requests
 * succeed with the limit in use, multiplicative decrease on throttling (429), with a slow
 * start up to the first cut, as TCP does; so a worker finds its share of the container's
 * RU/s without a hand-tuned number. Pure arithmetic, no I/O.
 */
#ifndef ORDERSINK_AIMD_H
#define ORDERSINK_AIMD_H

#include <stdint.h>

struct aimd {
    double limit;    /* current limit, in [1, max] */
    double ssthresh; /* below it: +1 per success (slow start); above: +1/limit */
    int max;
    uint64_t started; /* requests started so far (sequence numbers) */
    uint64_t cut_at;  /* sequence number of the last request started before the last cut */
    uint64_t cuts;    /* how many times the limit was cut */
};

/* Starts at initial (clamped to [1, max]) in slow start. */
void aimd_init(struct aimd *a, int initial, int max);

/* The whole number of requests that may be in flight now (>= 1). */
int aimd_limit(const struct aimd *a);

/* Records a request start; returns its sequence number for aimd_done. */
uint64_t aimd_start(struct aimd *a);

/*
 * Records a finished request: seq from aimd_start; throttled when it (or one of its batch
 * operations) was answered 429; saturated when the limit was fully used at its start (only
 * then does success say that more would also succeed). A 429 cuts the limit in half at most
 * once per round trip: answers to requests started before the last cut do not cut again.
 */
void aimd_done(struct aimd *a, uint64_t seq, int throttled, int saturated);

#endif
