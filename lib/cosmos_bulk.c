/*
 * cosmos_bulk: batch request bodies and batch answers. The document bodies are copied
 * verbatim (they are already serialised by lib/order); only the partition key needs JSON
 * string escaping, because the batch format carries it as a string holding a JSON array.
 */
#include "cosmos_bulk.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int cosmos_buf_append(struct cosmos_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void cosmos_buf_free(struct cosmos_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static const char op_head[] = "{\"operationType\":\"Upsert\",\"partitionKey\":\"";
static const char op_mid[] = "\",\"resourceBody\":";

size_t cosmos_bulk_op_size(const char *pk_json, size_t body_len)
{
    /* Worst case every pk character is escaped; plus the frame and the comma. */
    return sizeof(op_head) + 2 * strlen(pk_json) + sizeof(op_mid) + body_len + 2;
}

/* Appends s as the inside of a JSON string: only '"' and '\' can occur in a pk_json. */
static int cosmos_bulk_escape(struct cosmos_buf *out, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        if (*s != '"' && *s != '\\')
            continue;
        if (cosmos_buf_append(out, run, (size_t)(s - run)) || cosmos_buf_append(out, "\\", 1))
            return -1;
        run = s;
    }
    return cosmos_buf_append(out, run, (size_t)(s - run));
}

int cosmos_bulk_body(struct cosmos_buf *out, const char *const *pk_json,
                     const char *const *bodies, const size_t *body_lens, size_t n)
{
    out->len = 0;
    if (cosmos_buf_append(out, "[", 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((i && cosmos_buf_append(out, ",", 1)) ||
            cosmos_buf_append(out, op_head, sizeof(op_head) - 1) ||
            cosmos_bulk_escape(out, pk_json[i]) ||
            cosmos_buf_append(out, op_mid, sizeof(op_mid) - 1) ||
            cosmos_buf_append(out, bodies[i], body_lens[i]) || cosmos_buf_append(out, "}", 1))
            return -1;
    }
    return cosmos_buf_append(out, "]", 1);
}

int cosmos_bulk_parse(const char *body, size_t len, struct cosmos_op_result *out, size_t n)
{
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    int rc = -1;
    if (!cJSON_IsArray(root) || (size_t)cJSON_GetArraySize(root) != n)
        goto done;
    size_t i = 0;
    const cJSON *op;
    cJSON_ArrayForEach(op, root)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(op, "statusCode");
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(op, "subStatusCode");
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(op, "retryAfterMilliseconds");
        if (!cJSON_IsNumber(st) || st->valuedouble < 100 || st->valuedouble > 599)
            goto done;
        out[i].status = (int)st->valuedouble;
        out[i].substatus = cJSON_IsNumber(sub) ? (int)sub->valuedouble : 0;
        out[i].retry_after_ms =
            cJSON_IsNumber(ra) && ra->valuedouble >= 0 && ra->valuedouble < 3.6e6
                ? (long)ra->valuedouble
                : -1;
        i++;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
