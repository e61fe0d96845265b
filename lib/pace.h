/*
 * pace: how many messages a load generator may have sent by a given time, for the producer's
 * traffic patterns (steady, burst, ramp, wave). A pure schedule over elapsed time, so the
 * achieved rate stays accurate however late the caller wakes up (no sleep-per-message drift).
 */
#ifndef ORDERSINK_PACE_H
#define ORDERSINK_PACE_H

#include <stdint.h>

/* pace_due's answer when no limit applies. */
#define PACE_UNLIMITED INT64_MAX

enum pace_pattern { PACE_STEADY = 0, PACE_BURST, PACE_RAMP, PACE_WAVE };

struct pace {
    enum pace_pattern pattern;
    double rate;       /* messages/s; <= 0 = as fast as possible (steady, ramp, wave) */
    double duration_s; /* ramp: time to reach rate; must be > 0 for PACE_RAMP */
    double period_s;   /* wave: period of the sine; must be > 0 for PACE_WAVE */
    int64_t burst;     /* burst: messages allowed at t = 0 */
};

/* Parses "steady|burst|ramp|wave" into *out. Returns 0, or -1 for anything else. */
int pace_pattern_parse(const char *name, enum pace_pattern *out);

/* Stable lower-case name of a pattern. */
const char *pace_pattern_name(enum pace_pattern p);

/*
 * Cumulative number of messages that may have been sent t seconds after the start
 * (t < 0 counts as 0): steady floor(rate*t); ramp (rate growing linearly from 0 to rate over
 * duration_s, then flat) floor(rate*t^2/(2*duration_s)); wave with instantaneous rate
 * rate*(0.5+0.5*sin(2*pi*t/period_s)) its integral; burst the whole burst at once.
 * PACE_UNLIMITED when rate <= 0 (burst excepted).
 */
int64_t pace_due(const struct pace *p, double t);

/* The instantaneous target rate at t seconds (messages/s); 0 for burst; 0 if unlimited. */
double pace_rate_at(const struct pace *p, double t);

#endif
