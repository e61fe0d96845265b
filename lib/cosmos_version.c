/* cosmos_version: a stored document's Kafka position and _etag, and the version rule. */
#include "cosmos_version.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* The value of an integer member within +-2^53, or -1 with *ok = 0. */
static int64_t cosmos_version_int(const cJSON *obj, const char *name, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 9007199254740992.0) {
        *ok = 0;
        return -1;
    }
    return (int64_t)v->valuedouble;
}

int cosmos_version_read(const char *doc, size_t len, struct cosmos_stored *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = doc && len ? cJSON_ParseWithLength(doc, len) : NULL;
    const cJSON *etag = cJSON_GetObjectItemCaseSensitive(root, "_etag");
    int rc = -1;
    if (cJSON_IsObject(root) && cJSON_IsString(etag) && etag->valuestring[0] &&
        strlen(etag->valuestring) < sizeof(out->etag)) {
        rc = 0;
        for (const char *c = etag->valuestring; *c; c++)
            if (*c < 0x20 || *c > 0x7E)
                rc = -1;
    }
    if (rc == 0) {
        snprintf(out->etag, sizeof(out->etag), "%s", etag->valuestring);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kafka");
        const cJSON *topic = cJSON_GetObjectItemCaseSensitive(k, "topic");
        int ok = cJSON_IsString(topic) && strlen(topic->valuestring) < sizeof(out->topic);
        out->partition = cosmos_version_int(k, "partition", &ok);
        out->offset = cosmos_version_int(k, "offset", &ok);
        if (ok)
            snprintf(out->topic, sizeof(out->topic), "%s", topic->valuestring);
        out->has_position = ok;
    }
    cJSON_Delete(root);
    return rc;
}

int cosmos_version_superseded(const struct cosmos_stored *s, const char *topic, int64_t partition,
                              int64_t offset)
{
    return s->has_position && strcmp(s->topic, topic) == 0 && s->partition == partition &&
           s->offset >= offset;
}

enum cosmos_next cosmos_version_next(enum cosmos_phase phase, int status, int superseded)
{
    int ok = status >= 200 && status < 300;
    switch (phase) {
    case COSMOS_PHASE_WRITE:
        return ok ? COSMOS_NEXT_WRITTEN : status == 409 ? COSMOS_NEXT_READ : COSMOS_NEXT_CLASSIFY;
    case COSMOS_PHASE_READ:
        if (status == 200)
            return superseded ? COSMOS_NEXT_SUPERSEDED : COSMOS_NEXT_REPLACE;
        return status == 404 ? COSMOS_NEXT_CREATE : COSMOS_NEXT_CLASSIFY;
    case COSMOS_PHASE_REPLACE:
        if (ok)
            return COSMOS_NEXT_WRITTEN;
        return status == 412   ? COSMOS_NEXT_READ
               : status == 404 ? COSMOS_NEXT_CREATE
                               : COSMOS_NEXT_CLASSIFY;
    }
    return COSMOS_NEXT_CLASSIFY;
}
