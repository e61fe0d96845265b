/*
 * pace: the producer's send schedule as closed-form integrals of each pattern's rate curve.
 */
#include "pace.h"

#include <math.h>
#include <string.h>

static const char *const pace_names[] = {
    [PACE_STEADY] = "steady",
    [PACE_BURST] = "burst",
    [PACE_RAMP] = "ramp",
    [PACE_WAVE] = "wave",
};

int pace_pattern_parse(const char *name, enum pace_pattern *out)
{
    for (unsigned i = 0; i < sizeof(pace_names) / sizeof(pace_names[0]); i++) {
        if (strcmp(name, pace_names[i]) == 0) {
            *out = (enum pace_pattern)i;
            return 0;
        }
    }
    return -1;
}

const char *pace_pattern_name(enum pace_pattern p)
{
    return (unsigned)p <= PACE_WAVE ? pace_names[p] : "unknown";
}

/* Messages allowed by the integral value n (floor, saturating at PACE_UNLIMITED - 1). */
static int64_t pace_count(double n)
{
    if (!(n > 0))
        return 0;
    if (n >= 9.0e18)
        return PACE_UNLIMITED - 1;
    /* A hair of tolerance so rate*t landing on k - 1e-12 by rounding still yields k. */
    return (int64_t)floor(n + 1e-9);
}

int64_t pace_due(const struct pace *p, double t)
{
    if (p->pattern == PACE_BURST)
        return p->burst;
    if (p->rate <= 0)
        return PACE_UNLIMITED;
    if (t < 0)
        t = 0;
    switch (p->pattern) {
    case PACE_RAMP: {
        double d = p->duration_s;
        if (t <= d)
            return pace_count(p->rate * t * t / (2 * d));
        return pace_count(p->rate * d / 2 + p->rate * (t - d));
    }
    case PACE_WAVE: {
        double w = 2 * M_PI / p->period_s;
        return pace_count(p->rate * (0.5 * t + 0.5 * (1 - cos(w * t)) / w));
    }
    default:
        return pace_count(p->rate * t);
    }
}

double pace_rate_at(const struct pace *p, double t)
{
    if (p->pattern == PACE_BURST || p->rate <= 0)
        return 0;
    if (t < 0)
        t = 0;
    switch (p->pattern) {
    case PACE_RAMP:
        return t >= p->duration_s ? p->rate : p->rate * t / p->duration_s;
    case PACE_WAVE:
        return p->rate * (0.5 + 0.5 * sin(2 * M_PI * t / p->period_s));
    default:
        return p->rate;
    }
}
