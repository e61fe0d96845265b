/*
 * order: message -> Cosmos document. json_scan validates the message (RFC 8259 exactly) and
 * gives the byte spans of its values in one pass; the id, the partition key and the document
 * body are then taken from the message's own bytes (json_str for string and number literals),
 * so no value is ever re-printed, cut or rounded, and no tree is built. UTF-8 validity is
 * checked by hand (Cosmos requires it).
 */
#include "order.h"

#include "cosmos_epk.h"
#include "json_scan.h"
#include "json_str.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tokens of the order being converted; grown as needed, kept per thread. */
static _Thread_local struct {
    jsmntok_t *t;
    unsigned cap;
} order_toks;

void order_thread_cleanup(void)
{
    free(order_toks.t);
    order_toks.t = NULL;
    order_toks.cap = 0;
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
    [ORDER_UNSTORABLE_NUMBER] = "unstorable_number",
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

/* Validates and tokenizes payload into order_toks: the token count, JSCAN_INVALID when it is
 * not one JSON value, or JSCAN_NOMEM when the tokens cannot be allocated. */
static int order_tokenize(const char *payload, size_t len)
{
    for (;;) {
        if (!order_toks.t) {
            order_toks.cap = 256;
            order_toks.t = malloc(order_toks.cap * sizeof(jsmntok_t));
            if (!order_toks.t)
                return JSCAN_NOMEM;
        }
        int n = jscan_parse(payload, len, order_toks.t, order_toks.cap);
        if (n != JSCAN_NOMEM)
            return n;
        jsmntok_t *t = realloc(order_toks.t, 2 * order_toks.cap * sizeof(jsmntok_t));
        if (!t)
            return JSCAN_NOMEM;
        order_toks.t = t;
        order_toks.cap *= 2;
    }
}

/* The index just past token i and everything nested in it. */
static int order_skip(const jsmntok_t *t, int n, int i)
{
    int j = i + 1;
    while (j < n && t[j].start < t[i].end)
        j++;
    return j;
}

/*
 * Checks every number (json_scan already held the message to JSON's grammar): one Cosmos
 * would store as another (it keeps doubles: 2^53 + 1, 0.1000000000000000001, 1e400) is
 * ORDER_UNSTORABLE_NUMBER. ORDER_OK otherwise.
 */
static enum order_reason order_tokens_check(const char *js, const jsmntok_t *t, int n, char *detail,
                                            size_t size)
{
    for (int i = 0; i < n; i++) {
        const char *s = js + t[i].start;
        size_t len = (size_t)(t[i].end - t[i].start);
        if (t[i].type != JSMN_PRIMITIVE || (*s != '-' && (*s < '0' || *s > '9')))
            continue;
        if (!jstr_number_fits_double(s, len)) {
            if (detail && size)
                snprintf(detail, size,
                         "the number %.*s%s would be stored as another (Cosmos keeps doubles); "
                         "send it as a string",
                         len > 40 ? 40 : (int)len, s, len > 40 ? "..." : "");
            return ORDER_UNSTORABLE_NUMBER;
        }
    }
    return ORDER_OK;
}

/* The member of object token obj whose key decodes to name[0..len): its value's index, or -1.
 * *count is the number of members with that key (JSON allows duplicates; we do not). */
static int order_member(const char *js, const jsmntok_t *t, int n, int obj, const char *name,
                        size_t len, int *count)
{
    int found = -1, i = obj + 1;
    *count = 0;
    for (int m = 0; m < t[obj].size && i + 1 < n; m++) {
        if (jstr_equals(js + t[i].start, (size_t)(t[i].end - t[i].start), name, len)) {
            found = i + 1;
            (*count)++;
        }
        i = order_skip(t, n, i + 1);
    }
    return found;
}

/* Follows a "/a/b" path through nested objects: the value's index, or -1 when a step is
 * missing. Sets *dup when a step's key occurs more than once. */
static int order_lookup_path(const char *js, const jsmntok_t *t, int n, const char *path, int *dup)
{
    int at = 0;
    const char *p = path;
    while (*p == '/') {
        p++;
        size_t len = strcspn(p, "/");
        int count;
        if (len == 0 || t[at].type != JSMN_OBJECT)
            return -1;
        at = order_member(js, t, n, at, p, len, &count);
        *dup |= count > 1;
        if (at < 0)
            return -1;
        p += len;
    }
    return at;
}

/* Cosmos ids (RIG.md "Limits", docs/cosmos.md "Limits"): 1..1,023 UTF-8 bytes, none of / \ ? #, no
 * control character (NUL included), no trailing space. */
static int order_id_valid(const char *id, size_t n)
{
    if (n == 0 || n > ORDER_MAX_ID_BYTES || id[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c == '/' || c == '\\' || c == '?' || c == '#' || c < 0x20 || c == 0x7F)
            return 0;
    }
    return 1;
}

/* The document id and its JSON literal for the body, taken from the id value's bytes. */
struct order_id {
    const char *lit; /* the literal to write after "id": */
    size_t lit_len;
    char num_lit[ORDER_MAX_ID_BYTES + 3]; /* "<digits>" for an integer id */
};

static enum order_reason order_take_id(const char *js, const jsmntok_t *v, struct order_doc *doc,
                                       struct order_id *out, char *detail, size_t size)
{
    const char *s = js + v->start;
    size_t len = (size_t)(v->end - v->start), n = 0;
    if (v->type == JSMN_PRIMITIVE && jstr_number(s, len) == JSTR_DECIMAL)
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id is a number with a fraction or an exponent; send an integer "
                          "or a string");
    if (v->type == JSMN_PRIMITIVE && jstr_number(s, len) == JSTR_INTEGER) {
        if (len > ORDER_MAX_ID_BYTES)
            return order_fail(ORDER_INVALID_ID, detail, size, "the id is longer than 1,023 bytes");
        out->num_lit[0] = '"';
        memcpy(out->num_lit + 1, s, len);
        out->num_lit[len + 1] = '"';
        out->lit = out->num_lit;
        out->lit_len = len + 2;
        doc->id = strndup(s, len); /* the message's own digits, never through a double */
        return doc->id ? ORDER_OK : ORDER_NO_MEMORY;
    }
    if (v->type != JSMN_STRING)
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id field is not a string or an integer");
    doc->id = malloc(len + 1);
    if (!doc->id)
        return ORDER_NO_MEMORY;
    if (jstr_decode(s, len, doc->id, &n) != 0)
        return order_fail(ORDER_INVALID_ID, detail, size, "the id is not a valid JSON string");
    doc->id[n] = '\0';
    if (!order_id_valid(doc->id, n))
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id is empty, longer than 1,023 bytes, ends with a space, or has "
                          "/ \\ ? # or a control character");
    out->lit = s - 1; /* the literal as the message wrote it: the same string */
    out->lit_len = len + 2;
    return ORDER_OK;
}

/* One component of the partition key: its literal for the header (ASCII only, as the SDKs send
 * it) and its typed value for the EPK. */
struct order_pk_part {
    char *lit; /* malloc'd: "c-1", "caf\u00e9", 5.5, true */
    size_t lit_len;
    char *raw; /* malloc'd: a string's UTF-8 bytes */
    struct epk_component value;
};

static void order_pk_parts_free(struct order_pk_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(parts[i].lit);
        free(parts[i].raw);
    }
}

/* Takes one partition key component from the key value's bytes. */
static enum order_reason order_take_pk(const char *js, const jsmntok_t *v,
                                       struct order_pk_part *part, char *detail, size_t size)
{
    const char *s = js + v->start;
    size_t len = (size_t)(v->end - v->start);
    if (v->type == JSMN_STRING) {
        size_t n = 0;
        if (!(part->raw = malloc(len + 1)))
            return ORDER_NO_MEMORY;
        if (jstr_decode(s, len, part->raw, &n) != 0)
            return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                              "the partition key is not a valid JSON string");
        if (n > ORDER_MAX_PK_BYTES)
            return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                              "the partition key is longer than 2,048 bytes");
        if (!(part->lit = malloc(JSTR_ENCODED_MAX(n) + 1)))
            return ORDER_NO_MEMORY;
        part->lit_len = jstr_encode_ascii(part->raw, n, part->lit);
        if (part->lit_len == 0)
            return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                              "the partition key is not valid UTF-8");
        part->value = (struct epk_component){EPK_STRING, 0, part->raw, n};
        return ORDER_OK;
    }
    /* Numbers were checked with the whole message (order_tokens_check): stored exactly. */
    if (v->type != JSMN_PRIMITIVE || (*s != 't' && *s != 'f' && jstr_number(s, len) == 0))
        return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                          "the partition key is not a string, number or boolean");
    if (!(part->lit = strndup(s, len))) /* the literal as the message wrote it */
        return ORDER_NO_MEMORY;
    part->lit_len = len;
    part->value.type = *s == 't' ? EPK_TRUE : *s == 'f' ? EPK_FALSE : EPK_NUMBER;
    if (part->value.type == EPK_NUMBER)
        part->value.number = strtod(part->lit, NULL); /* correctly rounded, as JSON.parse */
    return ORDER_OK;
}

/* Writes doc->pk_json (the header value: a JSON array of the components) and, when spec asks,
 * doc->epk from parts[0..n). */
static enum order_reason order_pk_finish(const struct order_spec *spec,
                                         const struct order_pk_part *parts, size_t n,
                                         struct order_doc *doc)
{
    size_t len = 2;
    for (size_t i = 0; i < n; i++)
        len += parts[i].lit_len + 1;
    if (!(doc->pk_json = malloc(len + 1)))
        return ORDER_NO_MEMORY;
    size_t at = 0;
    doc->pk_json[at++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            doc->pk_json[at++] = ',';
        memcpy(doc->pk_json + at, parts[i].lit, parts[i].lit_len);
        at += parts[i].lit_len;
    }
    doc->pk_json[at++] = ']';
    doc->pk_json[at] = '\0';
    if (!spec->epk_version)
        return ORDER_OK;
    struct epk_component values[EPK_MAX_COMPONENTS];
    for (size_t i = 0; i < n; i++)
        values[i] = parts[i].value;
    if (!(doc->epk = malloc(EPK_HEX_SIZE)))
        return ORDER_NO_MEMORY;
    if (epk_compute((enum epk_version)spec->epk_version, spec->multihash, values, n, doc->epk,
                    EPK_HEX_SIZE) != 0)
        return ORDER_NO_MEMORY; /* the only failure left with valid components */
    return ORDER_OK;
}

/* Fills doc->pk_json and doc->epk from the value at each of spec's partition key paths
 * ("/a" or, for hierarchical keys, "/a,/b,/c"), or says why it cannot. */
static enum order_reason order_keys_pk(const struct order_spec *spec, const char *js,
                                       const jsmntok_t *t, int n, struct order_doc *doc,
                                       char *detail, size_t size)
{
    struct order_pk_part parts[EPK_MAX_COMPONENTS];
    char path[512];
    size_t np = 0;
    enum order_reason r = ORDER_OK;
    memset(parts, 0, sizeof(parts));
    const char *p = spec->partition_key_path;
    size_t npaths = 1;
    for (const char *q = p; *q; q++)
        npaths += *q == ',';
    for (; r == ORDER_OK && *p && np < EPK_MAX_COMPONENTS; np++) {
        size_t len = strcspn(p, ",");
        snprintf(path, sizeof(path), "%.*s", (int)len, p);
        p += len + (p[len] == ',');
        int dup = 0, pkv = order_lookup_path(js, t, n, path, &dup);
        if (dup || pkv < 0 || (t[pkv].type == JSMN_PRIMITIVE && js[t[pkv].start] == 'n')) {
            r = dup ? ORDER_INVALID_PARTITION_KEY : ORDER_MISSING_PARTITION_KEY;
            if (detail && size && npaths > 1)
                snprintf(detail, size, "the partition key field %s (level %zu of %zu) %s", path,
                         np + 1, npaths, dup ? "appears more than once" : "is missing");
            else
                order_fail(r, detail, size,
                           dup ? "the partition key field appears more than once"
                               : "the partition key field is missing");
            break;
        }
        r = order_take_pk(js, &t[pkv], &parts[np], detail, size);
    }
    if (r == ORDER_OK)
        r = order_pk_finish(spec, parts, np, doc);
    order_pk_parts_free(parts, EPK_MAX_COMPONENTS);
    return r;
}

/* Fills doc->id, doc->pk_json and doc->epk (and the id literal for the body), or says why it
 * cannot. */
static enum order_reason order_keys(const struct order_spec *spec, const char *js,
                                    const jsmntok_t *t, int n, struct order_doc *doc,
                                    struct order_id *id, char *detail, size_t size)
{
    int count;
    int idv = order_member(js, t, n, 0, spec->id_field, strlen(spec->id_field), &count);
    if (idv < 0 || (t[idv].type == JSMN_PRIMITIVE && js[t[idv].start] == 'n'))
        return order_fail(ORDER_MISSING_ID, detail, size, "the id field is missing");
    if (count > 1)
        return order_fail(ORDER_INVALID_ID, detail, size, "the id field appears more than once");
    enum order_reason r = order_take_id(js, &t[idv], doc, id, detail, size);
    if (r != ORDER_OK)
        return r;
    return order_keys_pk(spec, js, t, n, doc, detail, size);
}

/* Appends n bytes to the body being built (room was reserved up front). */
static void order_put(char *body, size_t *at, const char *s, size_t n)
{
    memcpy(body + *at, s, n);
    *at += n;
}

/*
 * The document: the order's own members, byte for byte, except any "id" and "kafka" member,
 * then "id" and our "kafka" object. Nothing is re-printed, so every value stays as the
 * message had it. Returns 0, or -1 when out of memory.
 */
static int order_build_body(const char *js, size_t len, const jsmntok_t *t, int n,
                            const struct order_id *id, const struct order_meta *meta,
                            struct order_doc *doc)
{
    char ts[24] = "null", tail[320];
    if (meta->timestamp_ms >= 0)
        snprintf(ts, sizeof(ts), "%lld", (long long)meta->timestamp_ms);
    int tail_len = snprintf(tail, sizeof(tail),
                            ",\"kafka\":{\"topic\":\"%s\",\"partition\":%d,\"offset\":%lld,"
                            "\"timestamp\":%s}}",
                            meta->topic, (int)meta->partition, (long long)meta->offset, ts);
    if (tail_len < 0 || (size_t)tail_len >= sizeof(tail))
        return -1;
    char *body = malloc(len + id->lit_len + (size_t)tail_len + 8);
    if (!body)
        return -1;
    size_t at = 0;
    order_put(body, &at, "{", 1);
    for (int m = 0, i = 1; m < t[0].size && i + 1 < n; m++) {
        const jsmntok_t *k = &t[i], *v = &t[i + 1];
        const char *key = js + k->start;
        size_t key_len = (size_t)(k->end - k->start);
        i = order_skip(t, n, i + 1);
        if (jstr_equals(key, key_len, "id", 2) || jstr_equals(key, key_len, "kafka", 5))
            continue;
        size_t from = (size_t)k->start - 1, to = (size_t)v->end + (v->type == JSMN_STRING);
        if (at > 1)
            order_put(body, &at, ",", 1);
        order_put(body, &at, js + from, to - from);
    }
    if (at > 1)
        order_put(body, &at, ",", 1);
    order_put(body, &at, "\"id\":", 5);
    order_put(body, &at, id->lit, id->lit_len);
    order_put(body, &at, tail, (size_t)tail_len);
    body[at] = '\0';
    doc->body = body;
    doc->body_len = at;
    return 0;
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
    int n = order_tokenize(payload, len);
    if (n == JSCAN_NOMEM)
        return order_fail(ORDER_NO_MEMORY, detail, size, "out of memory");
    if (n < 1)
        return order_fail(ORDER_NOT_JSON, detail, size, "the message is not valid JSON");
    if (order_toks.t[0].type != JSMN_OBJECT)
        return order_fail(ORDER_NOT_OBJECT, detail, size, "the message is not a JSON object");
    enum order_reason r = order_tokens_check(payload, order_toks.t, n, detail, size);
    if (r != ORDER_OK)
        return r;
    struct order_id id;
    r = order_keys(spec, payload, order_toks.t, n, doc, &id, detail, size);
    if (r == ORDER_OK && order_build_body(payload, len, order_toks.t, n, &id, meta, doc) != 0)
        r = ORDER_NO_MEMORY;
    if (r == ORDER_OK && doc->body_len > ORDER_MAX_DOC_BYTES)
        r = order_fail(ORDER_TOO_LARGE, detail, size, "the document would exceed 2 MB");
    if (r != ORDER_OK)
        order_doc_free(doc);
    if (r == ORDER_NO_MEMORY)
        order_fail(r, detail, size, "out of memory");
    return r;
}

void order_doc_free(struct order_doc *doc)
{
    free(doc->id);
    free(doc->pk_json);
    free(doc->epk);
    free(doc->body);
    memset(doc, 0, sizeof(*doc));
}
