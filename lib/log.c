/*
 * log: JSON-lines logger. Every line is built with cJSON so messages and field values are
 * always escaped correctly, and written with a single write(2) so lines from librdkafka's
 * threads never interleave.
 */
#include "log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int log_min_level = LOG_INFO;
static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, log_level_names[i]) == 0)
            return i;
    return -1;
}

void log_set_level(enum log_level level)
{
    log_min_level = level;
}

int log_enabled(enum log_level level)
{
    return (int)level >= log_min_level;
}

static void log_timestamp(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

static int log_add_field(cJSON *obj, const struct log_field *f)
{
    switch (f->type) {
    case LOG_FIELD_STR:
        return cJSON_AddStringToObject(obj, f->key, f->s ? f->s : "") ? 0 : -1;
    case LOG_FIELD_INT:
        return cJSON_AddNumberToObject(obj, f->key, (double)f->i) ? 0 : -1;
    case LOG_FIELD_DBL:
        return cJSON_AddNumberToObject(obj, f->key, f->d) ? 0 : -1;
    default:
        return 0;
    }
}

void log_emit(enum log_level level, const char *msg, const struct log_field *fields)
{
    if (!log_enabled(level))
        return;
    char ts[40];
    log_timestamp(ts, sizeof(ts));
    cJSON *obj = cJSON_CreateObject();
    int ok = obj && cJSON_AddStringToObject(obj, "ts", ts) &&
             cJSON_AddStringToObject(obj, "level", log_level_names[level]) &&
             cJSON_AddStringToObject(obj, "msg", msg);
    for (const struct log_field *f = fields; ok && f && f->key; f++)
        ok = log_add_field(obj, f) == 0;
    char *line = ok ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!line) {
        /* Out of memory: still say something, without allocating. */
        static const char oom[] = "{\"level\":\"error\",\"msg\":\"log: out of memory\"}\n";
        ssize_t w = write(STDOUT_FILENO, oom, sizeof(oom) - 1);
        (void)w;
        return;
    }
    size_t len = strlen(line);
    char *buf = malloc(len + 2);
    if (buf) {
        memcpy(buf, line, len);
        buf[len] = '\n';
        ssize_t w = write(STDOUT_FILENO, buf, len + 1);
        (void)w;
        free(buf);
    }
    cJSON_free(line);
}
