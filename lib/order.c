/*
 * order: message -> Cosmos document. json_scan validates the message (RFC 8259 exactly) and
 * gives the byte spans of its values in one pass; the id, the partition key and the document
 * body are then taken from the message's own bytes (json_str for string and number literals),
 * so no value is ever re-printed, cut or rounded, and no tree is built. UTF-8 validity
 * (Cosmos requires it) is checked by the same scan, inside the strings.
 */
#include "order.h"

#include "cosmos_epk.h"
#include "json_scan.h"
#include "json_str.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The tokens of the order being converted and scratch space for its id and key; grown as
 * needed, kept per thread (scratch up to ORDER_SCRATCH_KEEP bytes). */
#define ORDER_SCRATCH_KEEP (64 * 1024)
static _Thread_local struct {
    jsmntok_t *t;
    unsigned cap;
    int *keys; /* the root object's member names (token indexes), cap entries */
    char *scratch;
    size_t scratch_cap;
} order_toks;

void order_thread_cleanup(void)
{
    free(order_toks.t);
    free(order_toks.keys);
    free(order_toks.scratch);
    memset(&order_toks, 0, sizeof(order_toks));
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
#ifdef __SSE2__
        /* ASCII without NUL, 16 bytes a step (SSE2 is part of x86-64). */
        const __m128i zero = _mm_setzero_si128();
        while (i + 16 <= len) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            if (_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero))))
                break;
            i += 16;
        }
#endif
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
        if ((i = jscan_utf8_char(str, len, i)) == 0)
            return 0;
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
 * not one JSON value with valid UTF-8 strings, or JSCAN_NOMEM when the tokens cannot be
 * allocated. When it is an object, order_toks.keys lists its member names. *wide: the numbers
 * order_tokens_check must look at (jscan_parse_utf8). */
static int order_tokenize(const char *payload, size_t len, unsigned *wide)
{
    for (;;) {
        if (!order_toks.t) {
            order_toks.t = malloc(256 * sizeof(jsmntok_t));
            order_toks.keys = malloc(256 * sizeof(int));
            if (!order_toks.t || !order_toks.keys) {
                order_thread_cleanup();
                return JSCAN_NOMEM;
            }
            order_toks.cap = 256;
        }
        int n = jscan_parse_utf8(payload, len, order_toks.t, order_toks.cap, wide);
        if (n != JSCAN_NOMEM) {
            /* A member name of the root has the root as its parent (and never more members
             * than the tokens). */
            for (int i = 1, k = 0; n > 0 && i < n; i++)
                if (order_toks.t[i].parent == 0)
                    order_toks.keys[k++] = i;
            return n;
        }
        jsmntok_t *t = realloc(order_toks.t, 2 * order_toks.cap * sizeof(jsmntok_t));
        if (t)
            order_toks.t = t;
        int *keys = t ? realloc(order_toks.keys, 2 * order_toks.cap * sizeof(int)) : NULL;
        if (!keys)
            return JSCAN_NOMEM;
        order_toks.keys = keys;
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
        if (!jstr_number_fits_double_valid(s, len)) {
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
    if (obj == 0) { /* the root: its names are listed */
        for (int m = 0; m < t[0].size; m++) {
            int k = order_toks.keys[m];
            if (jstr_equals(js + t[k].start, (size_t)(t[k].end - t[k].start), name, len)) {
                found = k + 1;
                (*count)++;
            }
        }
        return found;
    }
    for (int m = 0; m < t[obj].size && i + 1 < n; m++) {
        if (jstr_equals(js + t[i].start, (size_t)(t[i].end - t[i].start), name, len)) {
            found = i + 1;
            (*count)++;
        }
        i = order_skip(t, n, i + 1);
    }
    return found;
}

/* Follows a "/a/b" path (path[0..plen), no NUL needed) through nested objects: the value's
 * index, or -1 when a step is missing. Sets *dup when a step's key occurs more than once. */
static int order_lookup_path(const char *js, const jsmntok_t *t, int n, const char *path,
                             size_t plen, int *dup)
{
    int at = 0;
    const char *p = path, *end = path + plen;
    while (p < end && *p == '/') {
        p++;
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = (size_t)((slash ? slash : end) - p);
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
    static const unsigned char bad[256] = {
        [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
        [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0A] = 1, [0x0B] = 1, [0x0C] = 1, [0x0D] = 1,
        [0x0E] = 1, [0x0F] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
        [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1A] = 1, [0x1B] = 1,
        [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x1F] = 1, ['/'] = 1,  ['\\'] = 1, ['?'] = 1,
        ['#'] = 1,  [0x7F] = 1};
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= bad[(unsigned char)id[i]];
    return !any;
}

/* The document id and its JSON literal for the body, taken from the id value's bytes. */
struct order_id {
    const char *lit; /* the literal to write after "id": */
    size_t lit_len;
    char num_lit[ORDER_MAX_ID_BYTES + 3]; /* "<digits>" for an integer id */
    const char *value;                    /* the id, in the thread's scratch */
    size_t len;
};

/* Grows the thread's scratch space to at least need bytes: it, or NULL when out of memory. */
static char *order_scratch(size_t need)
{
    if (need > order_toks.scratch_cap) {
        char *s = realloc(order_toks.scratch, need);
        if (!s)
            return NULL;
        order_toks.scratch = s;
        order_toks.scratch_cap = need;
    }
    return order_toks.scratch;
}

/* Takes the id from its value's bytes: decoded to out (room for the value's length + 1). */
static enum order_reason order_take_id(const char *js, const jsmntok_t *v, char *out,
                                       struct order_id *id, char *detail, size_t size)
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
        id->num_lit[0] = '"';
        memcpy(id->num_lit + 1, s, len);
        id->num_lit[len + 1] = '"';
        id->lit = id->num_lit;
        id->lit_len = len + 2;
        memcpy(out, s, len); /* the message's own digits, never through a double */
        id->value = out;
        id->len = len;
        return ORDER_OK;
    }
    if (v->type != JSMN_STRING)
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id field is not a string or an integer");
    if (jstr_decode(s, len, out, &n) != 0)
        return order_fail(ORDER_INVALID_ID, detail, size, "the id is not a valid JSON string");
    if (!order_id_valid(out, n))
        return order_fail(ORDER_INVALID_ID, detail, size,
                          "the id is empty, longer than 1,023 bytes, ends with a space, or has "
                          "/ \\ ? # or a control character");
    id->lit = s - 1; /* the literal as the message wrote it: the same string */
    id->lit_len = len + 2;
    id->value = out;
    id->len = n;
    return ORDER_OK;
}

/* The partition key: its header value (a JSON array of the components' ASCII literals) and
 * its EPK, in the thread's scratch. */
struct order_pk {
    char *json;
    size_t json_len;
    char epk[EPK_HEX_SIZE];
    size_t epk_len; /* 0: none asked */
};

/* Takes one partition key component from the key value's bytes: its literal appended to
 * pk->json, its typed value (a string decoded to raw, room for the value's length) to
 * *value. */
static enum order_reason order_take_pk(const char *js, const jsmntok_t *v, struct order_pk *pk,
                                       char *raw, struct epk_component *value, char *detail,
                                       size_t size)
{
    const char *s = js + v->start;
    size_t len = (size_t)(v->end - v->start);
    char *lit = pk->json + pk->json_len;
    if (v->type == JSMN_STRING) {
        size_t n = 0;
        if (jstr_decode(s, len, raw, &n) != 0)
            return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                              "the partition key is not a valid JSON string");
        if (n > ORDER_MAX_PK_BYTES)
            return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                              "the partition key is longer than 2,048 bytes");
        size_t lit_len = jstr_encode_ascii(raw, n, lit);
        if (lit_len == 0)
            return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                              "the partition key is not valid UTF-8");
        pk->json_len += lit_len;
        *value = (struct epk_component){EPK_STRING, 0, raw, n};
        return ORDER_OK;
    }
    /* Numbers were checked with the whole message (order_tokens_check): stored exactly. */
    if (v->type != JSMN_PRIMITIVE || (*s != 't' && *s != 'f' && jstr_number(s, len) == 0))
        return order_fail(ORDER_INVALID_PARTITION_KEY, detail, size,
                          "the partition key is not a string, number or boolean");
    memcpy(lit, s, len); /* the literal as the message wrote it */
    pk->json_len += len;
    value->type = *s == 't' ? EPK_TRUE : *s == 'f' ? EPK_FALSE : EPK_NUMBER;
    if (value->type == EPK_NUMBER) {
        memcpy(raw, s, len);
        raw[len] = '\0';
        value->number = strtod(raw, NULL); /* correctly rounded, as JSON.parse */
    }
    return ORDER_OK;
}

/* Where each of spec's partition key paths ("/a" or, for hierarchical keys, "/a,/b,/c")
 * leads in the message. */
struct order_pk_at {
    size_t n; /* paths */
    const char *path[EPK_MAX_COMPONENTS];
    size_t path_len[EPK_MAX_COMPONENTS];
    int v[EPK_MAX_COMPONENTS];   /* value token, -1 when missing */
    int dup[EPK_MAX_COMPONENTS]; /* a step's key occurs more than once */
    size_t paths;                /* paths in spec (for messages) */
};

static void order_pk_locate(const struct order_spec *spec, const char *js, const jsmntok_t *t,
                            int n, struct order_pk_at *at)
{
    const char *p = spec->partition_key_path;
    at->paths = 1;
    for (const char *q = p; *q; q++)
        at->paths += *q == ',';
    for (at->n = 0; *p && at->n < EPK_MAX_COMPONENTS; at->n++) {
        size_t len = strcspn(p, ",");
        size_t k = at->n;
        at->path[k] = p;
        at->path_len[k] = len < 511 ? len : 511; /* as the old 512-byte copy cut it */
        p += len + (p[len] == ',');
        at->dup[k] = 0;
        at->v[k] = order_lookup_path(js, t, n, at->path[k], at->path_len[k], &at->dup[k]);
    }
}

/* The longest header literal of a key value of len bytes (a longer string is refused). */
static size_t order_pk_lit_max(size_t len)
{
    size_t enc = JSTR_ENCODED_MAX(len < ORDER_MAX_PK_BYTES ? len : ORDER_MAX_PK_BYTES);
    return enc > len ? enc : len;
}

/* The bytes of the header value pk->json at most, and of the raw values, of at's keys. */
static size_t order_pk_json_max(const jsmntok_t *t, const struct order_pk_at *at, size_t *raw)
{
    size_t json = 2;
    *raw = 0;
    for (size_t k = 0; k < at->n; k++) {
        size_t len = at->v[k] < 0 ? 0 : (size_t)(t[at->v[k]].end - t[at->v[k]].start);
        json += order_pk_lit_max(len) + 1;
        *raw += len + 1;
    }
    return json;
}

/* Fills pk from the located key values, or says why it cannot. raw: room for every value. */
static enum order_reason order_keys_pk(const struct order_spec *spec, const char *js,
                                       const jsmntok_t *t, const struct order_pk_at *at,
                                       struct order_pk *pk, char *raw, char *detail, size_t size)
{
    struct epk_component values[EPK_MAX_COMPONENTS];
    pk->json[pk->json_len++] = '[';
    for (size_t k = 0; k < at->n; k++) {
        int v = at->v[k];
        if (at->dup[k] || v < 0 || (t[v].type == JSMN_PRIMITIVE && js[t[v].start] == 'n')) {
            enum order_reason r =
                at->dup[k] ? ORDER_INVALID_PARTITION_KEY : ORDER_MISSING_PARTITION_KEY;
            if (detail && size && at->paths > 1)
                snprintf(detail, size, "the partition key field %.*s (level %zu of %zu) %s",
                         (int)at->path_len[k], at->path[k], k + 1, at->paths,
                         at->dup[k] ? "appears more than once" : "is missing");
            else
                order_fail(r, detail, size,
                           at->dup[k] ? "the partition key field appears more than once"
                                      : "the partition key field is missing");
            return r;
        }
        if (k)
            pk->json[pk->json_len++] = ',';
        enum order_reason r = order_take_pk(js, &t[v], pk, raw, &values[k], detail, size);
        if (r != ORDER_OK)
            return r;
        raw += t[v].end - t[v].start + 1;
    }
    pk->json[pk->json_len++] = ']';
    pk->epk_len = 0;
    if (!spec->epk_version)
        return ORDER_OK;
    if (epk_compute((enum epk_version)spec->epk_version, spec->multihash, values, at->n, pk->epk,
                    sizeof(pk->epk)) != 0)
        return ORDER_NO_MEMORY; /* the only failure left with valid components */
    pk->epk_len = strlen(pk->epk);
    return ORDER_OK;
}

/* Finds and checks the id and the partition key (in the thread's scratch), or says why it
 * cannot. */
static enum order_reason order_keys(const struct order_spec *spec, const char *js,
                                    const jsmntok_t *t, int n, struct order_id *id,
                                    struct order_pk *pk, char *detail, size_t size)
{
    int count;
    int idv = order_member(js, t, n, 0, spec->id_field, strlen(spec->id_field), &count);
    if (idv < 0 || (t[idv].type == JSMN_PRIMITIVE && js[t[idv].start] == 'n'))
        return order_fail(ORDER_MISSING_ID, detail, size, "the id field is missing");
    if (count > 1)
        return order_fail(ORDER_INVALID_ID, detail, size, "the id field appears more than once");
    struct order_pk_at at;
    order_pk_locate(spec, js, t, n, &at);
    /* scratch: the id (decoding never grows), the header value, the raw key values */
    size_t id_max = (size_t)(t[idv].end - t[idv].start) + 1, raw_max;
    size_t json_max = order_pk_json_max(t, &at, &raw_max);
    char *scratch = order_scratch(id_max + json_max + raw_max);
    if (!scratch)
        return ORDER_NO_MEMORY;
    enum order_reason r = order_take_id(js, &t[idv], scratch, id, detail, size);
    if (r != ORDER_OK)
        return r;
    pk->json = scratch + id_max;
    pk->json_len = 0;
    return order_keys_pk(spec, js, t, &at, pk, pk->json + json_max, detail, size);
}

/* Appends n bytes to the body being built (room was reserved up front). */
static void order_put(char *body, size_t *at, const char *s, size_t n)
{
    memcpy(body + *at, s, n);
    *at += n;
}

/* Writes v in decimal at out; returns the length. */
static size_t order_put_int(char *out, long long v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "62636465666768697071727374757677787980818283848586878889909192"
                                "93949596979899";
    char tmp[24];
    size_t n = sizeof(tmp), len = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    while (u >= 100) { /* two digits a step */
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        tmp[--n] = pairs[d + 1];
        tmp[--n] = pairs[d];
    }
    if (u >= 10) {
        tmp[--n] = pairs[u * 2 + 1];
        tmp[--n] = pairs[u * 2];
    } else {
        tmp[--n] = (char)('0' + u);
    }
    if (v < 0)
        out[len++] = '-';
    memcpy(out + len, tmp + n, sizeof(tmp) - n);
    return len + sizeof(tmp) - n;
}

/* The document's last bytes: our "kafka" object and the closing brace. Its length (as
 * snprintf wrote it before), or 0 when it does not fit 320 bytes. */
static size_t order_tail(const struct order_meta *meta, char tail[448])
{
    size_t topic_len = strlen(meta->topic), at = 0;
    if (topic_len >= 320)
        return 0;
    order_put(tail, &at, ",\"kafka\":{\"topic\":\"", 19);
    order_put(tail, &at, meta->topic, topic_len);
    order_put(tail, &at, "\",\"partition\":", 14);
    at += order_put_int(tail + at, meta->partition);
    order_put(tail, &at, ",\"offset\":", 10);
    at += order_put_int(tail + at, meta->offset);
    order_put(tail, &at, ",\"timestamp\":", 13);
    if (meta->timestamp_ms >= 0)
        at += order_put_int(tail + at, meta->timestamp_ms);
    else
        order_put(tail, &at, "null", 4);
    order_put(tail, &at, "}}", 2);
    return at < 320 ? at : 0;
}

/*
 * The document, in one allocation with the id, the key and the EPK after it: the order's own
 * members, byte for byte, except any "id" and "kafka" member, then "id" and our "kafka"
 * object. Nothing is re-printed, so every value stays as the message had it. Returns 0, or
 * -1 when out of memory.
 */
static int order_build(const char *js, size_t len, const jsmntok_t *t, const struct order_id *id,
                       const struct order_pk *pk, const struct order_meta *meta,
                       struct order_doc *doc)
{
    char tail[448];
    size_t tail_len = order_tail(meta, tail);
    if (tail_len == 0)
        return -1;
    size_t body_cap = len + id->lit_len + tail_len + 8;
    char *body = malloc(body_cap + id->len + 1 + pk->json_len + 1 + pk->epk_len + 1);
    if (!body)
        return -1;
    size_t at = 0, run_from = 0, run_to = 0; /* members kept and not yet copied */
    order_put(body, &at, "{", 1);
    for (int m = 0; m < t[0].size; m++) {
        const jsmntok_t *k = &t[order_toks.keys[m]], *v = k + 1;
        const char *key = js + k->start;
        size_t key_len = (size_t)(k->end - k->start);
        if (jstr_equals(key, key_len, "id", 2) || jstr_equals(key, key_len, "kafka", 5))
            continue;
        size_t from = (size_t)k->start - 1, to = (size_t)v->end + (v->type == JSMN_STRING);
        /* Members joined by exactly "," in the message are copied as one run. */
        if (run_to > run_from && from == run_to + 1 && js[run_to] == ',') {
            run_to = to;
            continue;
        }
        if (run_to > run_from) {
            if (at > 1)
                order_put(body, &at, ",", 1);
            order_put(body, &at, js + run_from, run_to - run_from);
        }
        run_from = from;
        run_to = to;
    }
    if (run_to > run_from) {
        if (at > 1)
            order_put(body, &at, ",", 1);
        order_put(body, &at, js + run_from, run_to - run_from);
    }
    if (at > 1)
        order_put(body, &at, ",", 1);
    order_put(body, &at, "\"id\":", 5);
    order_put(body, &at, id->lit, id->lit_len);
    order_put(body, &at, tail, tail_len);
    body[at] = '\0';
    doc->body = body;
    doc->body_len = at;
    doc->id = body + body_cap;
    memcpy(doc->id, id->value, id->len);
    doc->id[id->len] = '\0';
    doc->pk_json = doc->id + id->len + 1;
    memcpy(doc->pk_json, pk->json, pk->json_len);
    doc->pk_json[pk->json_len] = '\0';
    if (pk->epk_len) {
        doc->epk = doc->pk_json + pk->json_len + 1;
        memcpy(doc->epk, pk->epk, pk->epk_len + 1);
    }
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
    /* The scan checks the strings' UTF-8 (outside them a JSON text is ASCII): a message it
     * accepts is valid UTF-8 without NUL. Only a refused one is read again, for the reason. */
    unsigned wide = 0;
    int n = order_tokenize(payload, len, &wide);
    if (n < 0 && !order_utf8_valid(payload, len))
        return order_fail(ORDER_INVALID_UTF8, detail, size,
                          "the message is not valid UTF-8 or contains NUL bytes");
    if (n == JSCAN_NOMEM)
        return order_fail(ORDER_NO_MEMORY, detail, size, "out of memory");
    if (n < 1)
        return order_fail(ORDER_NOT_JSON, detail, size, "the message is not valid JSON");
    if (order_toks.t[0].type != JSMN_OBJECT)
        return order_fail(ORDER_NOT_OBJECT, detail, size, "the message is not a JSON object");
    /* Only a wide number (exponent, or over 15 characters) can fail the check. */
    enum order_reason r =
        wide ? order_tokens_check(payload, order_toks.t, n, detail, size) : ORDER_OK;
    if (r != ORDER_OK)
        return r;
    struct order_id id;
    struct order_pk pk;
    r = order_keys(spec, payload, order_toks.t, n, &id, &pk, detail, size);
    if (r == ORDER_OK && order_build(payload, len, order_toks.t, &id, &pk, meta, doc) != 0)
        r = ORDER_NO_MEMORY;
    if (r == ORDER_OK && doc->body_len > ORDER_MAX_DOC_BYTES)
        r = order_fail(ORDER_TOO_LARGE, detail, size, "the document would exceed 2 MB");
    if (order_toks.scratch_cap > ORDER_SCRATCH_KEEP) { /* a huge key: give it back */
        free(order_toks.scratch);
        order_toks.scratch = NULL;
        order_toks.scratch_cap = 0;
    }
    if (r != ORDER_OK)
        order_doc_free(doc);
    if (r == ORDER_NO_MEMORY)
        order_fail(r, detail, size, "out of memory");
    return r;
}

void order_doc_free(struct order_doc *doc)
{
    free(doc->body); /* the one allocation: id, pk_json and epk are inside it */
    memset(doc, 0, sizeof(*doc));
}
