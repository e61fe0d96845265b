/*
 * log: structured logs, one JSON object per line on stdout
 * ({"ts":..., "level":..., "msg":..., <fields>}). Owns the process-wide log level.
 * Safe to call from librdkafka's threads (one write(2) per line).
 */
#ifndef ORDERSINK_LOG_H
#define ORDERSINK_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_field_type { LOG_FIELD_END = 0, LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_DBL };

struct log_field {
    const char *key;
    enum log_field_type type;
    const char *s;
    int64_t i;
    double d;
};

#define LF_STR(k, v)                                                                               \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_STR, .s = (v)                                                \
    }
#define LF_INT(k, v)                                                                               \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_INT, .i = (int64_t)(v)                                       \
    }
#define LF_DBL(k, v)                                                                               \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_DBL, .d = (double)(v)                                        \
    }

/* LOG(LOG_INFO, "message", LF_STR("topic", t), LF_INT("n", n)) */
#define LOG(level, msg, ...)                                                                       \
    log_emit((level), (msg), (const struct log_field[]){__VA_ARGS__ __VA_OPT__(, ){.key = NULL}})

/* Parses "debug|info|warn|error"; returns -1 for anything else. */
int log_level_parse(const char *name);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
/* fields is terminated by an entry with key == NULL. */
void log_emit(enum log_level level, const char *msg, const struct log_field *fields);

#endif
