/*
 * fuzz_order: libFuzzer target for order_to_doc over arbitrary message bytes, with a flat
 * spec (orderId, /customerId) and a nested one (id, /customer/id). Checks the contract in
 * lib/order.h: on ORDER_OK the body is one JSON object whose single "id" member equals doc.id
 * and pk_json is a one-element array equal to the value at the key path; otherwise doc is zeroed.
 * Set ORDERSINK_FUZZ_ALLOW_DUP_KEYS=1 to skip the duplicate-member checks.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

static int allow_dup_keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *v = getenv("ORDERSINK_FUZZ_ALLOW_DUP_KEYS");
    allow_dup_keys = v && *v == '1';
    return 0;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_order: invariant failed: %s: ", #cond);                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int count_members(const cJSON *obj, const char *name)
{
    int n = 0;
    for (const cJSON *it = obj->child; it; it = it->next)
        if (it->string && strcmp(it->string, name) == 0)
            n++;
    return n;
}

/* The value at "/a/b" in obj (first member of each name, like the library). */
static const cJSON *lookup(const cJSON *obj, const char *path)
{
    char step[256];
    while (obj && *path == '/') {
        path++;
        size_t n = strcspn(path, "/");
        if (n >= sizeof(step) || !cJSON_IsObject(obj))
            return NULL;
        memcpy(step, path, n);
        step[n] = '\0';
        obj = cJSON_GetObjectItemCaseSensitive(obj, step);
        path += n;
    }
    return obj;
}

static void check_one(const struct order_spec *spec, const uint8_t *data, size_t size)
{
    static const struct order_doc zero;
    struct order_meta meta = {"orders", 3, 42, (int64_t)size - 1};
    struct order_doc doc;
    char detail[128];
    memset(&doc, 0xA5, sizeof(doc)); /* the callee must zero it, not us */
    enum order_reason r =
        order_to_doc(spec, (const char *)data, size, &meta, &doc, detail, sizeof(detail));
    CHECK(memchr(detail, '\0', sizeof(detail)), "detail not NUL-terminated");
    CHECK(strcmp(order_reason_name(r), "unknown") != 0, "reason %d", (int)r);
    if (r != ORDER_OK) {
        CHECK(memcmp(&doc, &zero, sizeof(doc)) == 0, "doc not zeroed for %s", order_reason_name(r));
        CHECK(detail[0] != '\0', "no detail for %s", order_reason_name(r));
        return;
    }
    CHECK(doc.id && doc.pk_json && doc.body, "missing field on ok");
    CHECK(strlen(doc.body) == doc.body_len, "body_len %zu vs %zu", doc.body_len, strlen(doc.body));
    CHECK(doc.body_len <= ORDER_MAX_DOC_BYTES, "body too large");
    CHECK(order_utf8_valid(doc.id, strlen(doc.id)), "id not UTF-8");

    cJSON *body = cJSON_ParseWithLength(doc.body, doc.body_len);
    CHECK(cJSON_IsObject(body), "body is not a JSON object: %.200s", doc.body);
    /* cJSON cuts strings at an escaped NUL ("id\u0000" reads as "id"): where one occurs it
     * cannot judge member names or values; tests/property checks those cases with Python's
     * json module instead. */
    if (strstr(doc.body, "\\u0000")) {
        cJSON_Delete(body);
        order_doc_free(&doc);
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
    CHECK(cJSON_IsString(id) && strcmp(id->valuestring, doc.id) == 0,
          "body id differs from doc.id %s", doc.id);
    if (!allow_dup_keys) {
        CHECK(count_members(body, "id") == 1, "body has %d \"id\" members: %.300s",
              count_members(body, "id"), doc.body);
        CHECK(count_members(body, "kafka") == 1, "body has %d \"kafka\" members: %.300s",
              count_members(body, "kafka"), doc.body);
    }
    const cJSON *k = NULL; /* the last "kafka" member is the one the library added */
    for (const cJSON *it = body->child; it; it = it->next)
        if (it->string && strcmp(it->string, "kafka") == 0)
            k = it;
    CHECK(cJSON_IsObject(k) && cJSON_GetObjectItemCaseSensitive(k, "offset"), "no kafka object");

    cJSON *pk = cJSON_Parse(doc.pk_json);
    CHECK(cJSON_IsArray(pk) && cJSON_GetArraySize(pk) == 1, "pk_json %s", doc.pk_json);
    const cJSON *pkv = cJSON_GetArrayItem(pk, 0);
    CHECK(cJSON_IsString(pkv) || cJSON_IsNumber(pkv) || cJSON_IsBool(pkv) || cJSON_IsNull(pkv),
          "pk element type, pk_json %s", doc.pk_json);
    /* The header's key must be the document's key, or Cosmos rejects the write. "kafka" and
       "id" are rewritten by the library, so a path through them is skipped. */
    if (strncmp(spec->partition_key_path, "/kafka", 6) != 0 &&
        strcmp(spec->partition_key_path, "/id") != 0) {
        const cJSON *inbody = lookup(body, spec->partition_key_path);
        CHECK(inbody && cJSON_Compare(inbody, pkv, 1), "pk %s differs from the body's: %.300s",
              doc.pk_json, doc.body);
    }
    cJSON_Delete(pk);
    cJSON_Delete(body);
    order_doc_free(&doc);
    CHECK(memcmp(&doc, &zero, sizeof(doc)) == 0, "order_doc_free did not zero the doc");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct order_spec flat = {
        .id_field = "orderId", .partition_key_path = "/customerId", .epk_version = 2};
    static const struct order_spec nested = {
        .id_field = "id", .partition_key_path = "/customer/id", .epk_version = 1};
    check_one(&flat, data, size);
    check_one(&nested, data, size);
    return 0;
}
