/*
 * order: message -> Cosmos document. Parsing and re-serialising go through cJSON; the only
 * hand-written check is UTF-8 validity, which cJSON does not do and Cosmos requires.
 * cJSON allocates every node of a tree on its own; the tree of the order being parsed lives
 * in a per-thread bump arena instead, dropped as a whole (see order_arena_*).
 */
#include "order.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for the parsed tree of orders up to ~50 KB; larger trees spill over to malloc. */
#define ORDER_ARENA_BYTES (256 * 1024)

/* The arena of this thread: active only while cJSON parses one order. */
static _Thread_local struct {
    char *base;
    size_t used;
    int active;
} order_arena;

static void *order_arena_malloc(size_t n)
{
    if (order_arena.active && order_arena.base) {
        size_t need = (n + 15) & ~(size_t)15;
        if (need >= n && need <= ORDER_ARENA_BYTES - order_arena.used) {
            void *p = order_arena.base + order_arena.used;
            order_arena.used += need;
            return p;
        }
    }
    return malloc(n);
}

static void order_arena_free(void *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)order_arena.base;
    if (base && a >= base && a < base + ORDER_ARENA_BYTES)
        return; /* dropped with the arena */
    free(p);
}

static pthread_once_t order_hooks_once = PTHREAD_ONCE_INIT;

static void order_hooks_init(void)
{
    cJSON_Hooks hooks = {order_arena_malloc, order_arena_free};
    cJSON_InitHooks(&hooks);
}

/* Parses payload with the arena active (allocated on first use; without it, malloc). */
static cJSON *order_parse(const char *payload, size_t len, const char **end)
{
    pthread_once(&order_hooks_once, order_hooks_init);
    if (!order_arena.base)
        order_arena.base = malloc(ORDER_ARENA_BYTES);
    order_arena.used = 0;
    order_arena.active = 1;
    cJSON *root = cJSON_ParseWithLengthOpts(payload, len, end, 0);
    order_arena.active = 0;
    return root;
}

void order_thread_cleanup(void)
{
    free(order_arena.base);
    order_arena.base = NULL;
}

static const char *const order_reason_names[] = {
    [ORDER_OK] = "ok",
    [ORDER_EMPTY] = "empty",
    [ORDER_TOO_LARGE] = "too_large",
    [ORDER_INVALID_UTF8] = "invalid_utf8",
    [ORDER_NOT_JSON] = "not_json",
    [ORDER_NOT_OBJECT] = "not_object",
    [ORDER_MISSING_ID] = "missing_id",
    [ORDER_INVALID_ID] = "invalid_id",
    [ORDER_MISSING_PARTITION_KEY] = "missing_partition_key",
    [ORDER_INVALID_PARTITION_KEY] = "invalid_partition_key",
    [ORDER_NO_MEMORY] = "no_memory",
};

const char *order_reason_name(enum order_reason r)
{
    return (unsigned)r <= ORDER_NO_MEMORY ? order_reason_names[r] : "unknown";
}

int order_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII without NUL, eight bytes at a time: no byte >= 0x80, no zero byte. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) ||
                ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0) /* a raw NUL byte is never valid in a JSON text */
                return 0;
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static enum order_reason order_fail(enum order_reason r, char *detail, size_t size,
                                    const char *what)
{
    if (detail && size)
        snprintf(detail, size, "%s", what);
    return r;
}

/* How many members of obj are named key (JSON allows duplicates; we do not). */
static int order_key_count(const cJSON *obj, const char *key)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        n += it->string && strcmp(it->string, key) == 0;
    }
    return n;
}

/* Removes every member named key. */
static void order_delete_all(cJSON *obj, const char *key)
{
    while (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

/* Follows a "/a/b" path through nested objects; NULL when a step is missing. Sets *dup when
 * a step's key occurs more than once (which value was meant is then ambiguous). */
static cJSON *order_lookup_path(cJSON *obj, const char *path, int *dup)
{
    char step[256];
    const char *p = path;
    while (obj && *p == '/') {
        p++;
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof(step) || !cJSON_IsObject(obj))
            return NULL;
        memcpy(step, p, n);
        step[n] = '\0';
        *dup |= order_key_count(obj, step) > 1;
        obj = cJSON_GetObjectItemCaseSensitive(obj, step);
        p += n;
    }
    return obj;
}

/* Cosmos ids: 1..255 chars, none of / \ ? #, no control characters, no trailing space. */
static int order_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 255 || id[n - 1] == ' ')
        return 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p == '/' || *p == '\\' || *p == '?' || *p == '#' || *p < 0x20 || *p == 0x7F)
            return 0;
    return 1;
}

/* The id as a string: strings as they are, integral numbers in decimal. NULL otherwise. */
static char *order_id_string(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d != floor(d) || fabs(d) > 9007199254740992.0)
            return NULL;
        char buf[32];
        snprintf(buf, sizeof(buf), "%.0f", d);
        return strdup(buf);
    }
    return NULL;
}

static enum order_reason order_add_kafka(cJSON *root, const struct order_meta *meta)
{
    cJSON *k = cJSON_CreateObject();
    if (!k)
        return ORDER_NO_MEMORY;
    order_delete_all(root, "kafka");
    if (!cJSON_AddItemToObject(root, "kafka", k)) {
        cJSON_Delete(k);
        return ORDER_NO_MEMORY;
    }
    if (!cJSON_AddStringToObject(k, "topic", meta->topic) ||
        !cJSON_AddNumberToObject(k, "partition", meta->partition) ||
        !cJSON_AddNumberToObject(k, "offset", (double)meta->offset) ||
        !(meta->timestamp_ms >= 0
              ? cJSON_AddNumberToObject(k, "timestamp", (double)meta->timestamp_ms)
              : cJSON_AddNullToObject(k, "timestamp")))
        return ORDER_NO_MEMORY;
    return ORDER_OK;
}

/*
 * Fast path: the document is the order's own bytes with "id" and "kafka" appended before the
 * closing brace, so numbers and strings are never re-printed. Only for orders that have
 * neither member already (else the members are replaced through cJSON). Returns 0 or -1 (no
 * memory).
 */
static int order_append_fields(const char *payload, size_t len, const char *id,
                               const struct order_meta *meta, struct order_doc *doc)
{
    size_t close = len;
    while (close > 0 && payload[close - 1] != '}')
        close--; /* trailing white space; parsing already proved the '}' is there */
    char ts[24] = "null", tail[320];
    if (meta->timestamp_ms >= 0)
        snprintf(ts, sizeof(ts), "%lld", (long long)meta->timestamp_ms);
    int tail_len = snprintf(tail, sizeof(tail),
                            "\",\"kafka\":{\"topic\":\"%s\",\"partition\":%d,\"offset\":%lld,"
                            "\"timestamp\":%s}}",
                            meta->topic, (int)meta->partition, (long long)meta->offset, ts);
    if (tail_len < 0 || (size_t)tail_len >= sizeof(tail))
        return -1;
    size_t id_len = strlen(id), quotes = 0;
    for (const char *q = id; *q; q++)
        quotes += *q == '"'; /* the only character of a valid id that needs escaping */
    size_t total = (close - 1) + 7 + id_len + quotes + (size_t)tail_len;
    char *body = cJSON_malloc(total + 1);
    if (!body)
        return -1;
    size_t n = close - 1;
    memcpy(body, payload, n);
    memcpy(body + n, ",\"id\":\"", 7);
    n += 7;
    for (const char *q = id; *q; q++) {
        if (*q == '"')
            body[n++] = '\\';
        body[n++] = *q;
    }
    memcpy(body + n, tail, (size_t)tail_len);
    n += (size_t)tail_len;
    body[n] = '\0';
    doc->body = body;
    doc->body_len = n;
    return 0;
}

/* Fills doc->id and doc->pk_json from the parsed order, or says why it cannot. */
static enum order_reason order_keys(const struct order_spec *spec, cJSON *root,
                                    struct order_doc *doc, char *detail, size_t size)
{
    cJSON *idv = cJSON_GetObjectItemCaseSensitive(root, spec->id_field);
    if (!idv || cJSON_IsNull(idv))
        return order_fail(ORDER_MISSING_ID, detail, size, "the id field is missing");
    if (order_key_count(root, spec->id_field) > 1)
        return order_fail(ORDER_INVALID_ID, detail, size, "the id field appears more than once");
    doc->id = order_id_string(idv);
    if (!doc->id)
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id field is not a string or an integer");
    if (!order_id_valid(doc->id))
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id is empty, longer than 255 or has / \\ ? # or control chars");
    int dup = 0;
    cJSON *pkv = order_lookup_path(root, spec->partition_key_path, &dup);
    if (dup)
        return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                          "the partition key field appears more than once");
    if (!pkv || cJSON_IsNull(pkv))
        return order_fail(ORDER_MISSING_PARTITION_KEY, detail, size,
                          "the partition key field is missing");
    if (!cJSON_IsString(pkv) && !cJSON_IsNumber(pkv) && !cJSON_IsBool(pkv))
        return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                          "the partition key is not a string, number or boolean");
    if (cJSON_IsNumber(pkv) && !isfinite(pkv->valuedouble))
        return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                          "the partition key is a number out of range");
    cJSON *arr = cJSON_CreateArray();
    cJSON *pk_copy = cJSON_Duplicate(pkv, 0);
    if (!arr || !pk_copy || !cJSON_AddItemToArray(arr, pk_copy)) {
        cJSON_Delete(arr);
        cJSON_Delete(pk_copy);
        return ORDER_NO_MEMORY;
    }
    doc->pk_json = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!doc->pk_json)
        return ORDER_NO_MEMORY;
    /* Cosmos accepts partition key values up to 2 KB. */
    if (strlen(doc->pk_json) > 2048 + 4)
        return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                          "the partition key is longer than 2 KB");
    return ORDER_OK;
}

enum order_reason order_to_doc(const struct order_spec *spec, const char *payload, size_t len,
                               const struct order_meta *meta, struct order_doc *doc, char *detail,
                               size_t size)
{
    memset(doc, 0, sizeof(*doc));
    if (detail && size)
        detail[0] = '\0';
    if (!payload || len == 0)
        return order_fail(ORDER_EMPTY, detail, size, "the message has no value");
    if (len > ORDER_MAX_DOC_BYTES)
        return order_fail(ORDER_TOO_LARGE, detail, size, "the message exceeds 2 MB");
    if (!order_utf8_valid(payload, len))
        return order_fail(ORDER_INVALID_UTF8, detail, size,
                          "the message is not valid UTF-8 or contains NUL bytes");
    const char *end = NULL;
    cJSON *root = order_parse(payload, len, &end);
    /* One JSON value and nothing after it but white space: "{..}{..}" is not one order. */
    while (root && end < payload + len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (root && end != payload + len) {
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root)
        return order_fail(ORDER_NOT_JSON, detail, size, "the message is not valid JSON");
    enum order_reason r = ORDER_OK;
    if (!cJSON_IsObject(root)) {
        r = order_fail(ORDER_NOT_OBJECT, detail, size, "the message is not a JSON object");
        goto out;
    }
    r = order_keys(spec, root, doc, detail, size);
    if (r != ORDER_OK)
        goto out;
    if (!cJSON_GetObjectItemCaseSensitive(root, "id") &&
        !cJSON_GetObjectItemCaseSensitive(root, "kafka")) {
        if (order_append_fields(payload, len, doc->id, meta, doc) != 0)
            r = ORDER_NO_MEMORY;
        goto sized;
    }
    cJSON *idnew = cJSON_CreateString(doc->id);
    if (!idnew) {
        r = ORDER_NO_MEMORY;
        goto out;
    }
    order_delete_all(root, "id");
    if (!cJSON_AddItemToObject(root, "id", idnew)) {
        cJSON_Delete(idnew);
        r = ORDER_NO_MEMORY;
        goto out;
    }
    r = order_add_kafka(root, meta);
    if (r != ORDER_OK)
        goto out;
    doc->body = cJSON_PrintUnformatted(root);
    if (!doc->body) {
        r = ORDER_NO_MEMORY;
        goto out;
    }
    doc->body_len = strlen(doc->body);
sized:
    if (r == ORDER_OK && doc->body_len > ORDER_MAX_DOC_BYTES)
        r = order_fail(ORDER_TOO_LARGE, detail, size, "the document would exceed 2 MB");
out:
    cJSON_Delete(root);
    if (r != ORDER_OK)
        order_doc_free(doc);
    if (r == ORDER_NO_MEMORY)
        order_fail(r, detail, size, "out of memory");
    return r;
}

void order_doc_free(struct order_doc *doc)
{
    free(doc->id);
    cJSON_free(doc->pk_json);
    cJSON_free(doc->body);
    memset(doc, 0, sizeof(*doc));
}
