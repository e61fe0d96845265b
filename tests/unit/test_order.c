/* Unit tests for lib/order: message -> Cosmos document, the dead-letter reasons, UTF-8. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_epk.h"
#include "order.h"

static const struct order_spec spec = {.id_field = "orderId", .partition_key_path = "/customerId"};
static const struct order_meta meta = {
    .topic = "orders", .partition = 3, .offset = 1234567, .timestamp_ms = 1700000000123};

/* Runs order_to_doc on an exact-length heap copy (Kafka payloads are not NUL-terminated). */
static enum order_reason to_doc_spec(const struct order_spec *sp, const char *p, size_t len,
                                     struct order_doc *doc, char *detail, size_t dsize)
{
    char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, len);
    enum order_reason r = order_to_doc(sp, copy, len, &meta, doc, detail, dsize);
    free(copy);
    return r;
}

/* Expects failure with reason want, a zeroed doc and a non-empty detail. */
static void expect_fail_spec(const struct order_spec *sp, const char *p, size_t len,
                             enum order_reason want)
{
    struct order_doc doc;
    char detail[256];
    enum order_reason r = to_doc_spec(sp, p, len, &doc, detail, sizeof(detail));
    if (r == ORDER_OK)
        order_doc_free(&doc); /* no leak report on top of the failure below */
    ck_assert_msg(r == want, "got %s, want %s", order_reason_name(r), order_reason_name(want));
    ck_assert_ptr_null(doc.id);
    ck_assert_ptr_null(doc.pk_json);
    ck_assert_ptr_null(doc.body);
    ck_assert_uint_gt(strlen(detail), 0);
}

static void expect_fail(const char *json, enum order_reason want)
{
    expect_fail_spec(&spec, json, strlen(json), want);
}

static void expect_ok(const char *json, struct order_doc *doc)
{
    char detail[256];
    enum order_reason r = to_doc_spec(&spec, json, strlen(json), doc, detail, sizeof(detail));
    ck_assert_msg(r == ORDER_OK, "got %s (%s)", order_reason_name(r), detail);
    ck_assert_ptr_nonnull(doc->body);
    ck_assert_uint_eq(doc->body_len, strlen(doc->body));
}

START_TEST(test_valid_order)
{
    struct order_doc doc;
    expect_ok("{\"orderId\":\"o-1\",\"customerId\":\"c-1\",\"total\":12.5,\"items\":[1,2]}", &doc);
    ck_assert_str_eq(doc.id, "o-1");
    ck_assert_str_eq(doc.pk_json, "[\"c-1\"]");
    cJSON *root = cJSON_ParseWithLength(doc.body, doc.body_len);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(root, "id")->valuestring, "o-1");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(root, "orderId")->valuestring, "o-1");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(root, "customerId")->valuestring, "c-1");
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(root, "total")->valuedouble, 12.5);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "items")), 2);
    cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kafka");
    ck_assert(cJSON_IsObject(k));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(k, "topic")->valuestring, "orders");
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(k, "partition")->valuedouble, 3);
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(k, "offset")->valuedouble, 1234567);
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(k, "timestamp")->valuedouble,
                        1700000000123.0);
    cJSON_Delete(root);
    order_doc_free(&doc);
    ck_assert_ptr_null(doc.body);
}
END_TEST

START_TEST(test_numeric_ids)
{
    struct order_doc doc;
    expect_ok("{\"orderId\":42,\"customerId\":\"c-1\"}", &doc);
    ck_assert_str_eq(doc.id, "42");
    cJSON *root = cJSON_Parse(doc.body);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(root, "id")->valuestring, "42");
    cJSON_Delete(root);
    order_doc_free(&doc);
    expect_ok("{\"orderId\":-7,\"customerId\":\"c-1\"}", &doc);
    ck_assert_str_eq(doc.id, "-7");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":9007199254740992,\"customerId\":\"c-1\"}", &doc);
    ck_assert_str_eq(doc.id, "9007199254740992");
    order_doc_free(&doc);
    expect_fail("{\"orderId\":42.5,\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":1e300,\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
}
END_TEST

START_TEST(test_invalid_ids)
{
    expect_fail("{\"orderId\":\"a/b\",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":\"a\\\\b\",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":\"a?b\",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":\"a#b\",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":\"a\\tb\",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":\"\",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":\"ab \",\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":true,\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":{\"a\":1},\"customerId\":\"c-1\"}", ORDER_INVALID_ID);
}
END_TEST

START_TEST(test_id_length_limit)
{
    /* The service counts UTF-8 bytes (1,023), not characters: 255 x "🛒" (1,020 bytes) is an
     * id, 256 of them (1,024 bytes) is not. */
    char json[1400], id[1100];
    struct order_doc doc;
    for (int i = 0; i < 255; i++)
        memcpy(id + 4 * i, "\xF0\x9F\x9B\x92", 4);
    id[1020] = '\0';
    snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"customerId\":\"c\"}", id);
    expect_ok(json, &doc);
    ck_assert_uint_eq(strlen(doc.id), 1020);
    order_doc_free(&doc);
    memcpy(id + 1020, "\xF0\x9F\x9B\x92", 5);
    snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"customerId\":\"c\"}", id);
    expect_fail(json, ORDER_INVALID_ID);
    memset(id, 'x', 1023);
    id[1023] = '\0';
    snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"customerId\":\"c\"}", id);
    expect_ok(json, &doc);
    order_doc_free(&doc);
    id[1023] = 'x';
    id[1024] = '\0';
    snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"customerId\":\"c\"}", id);
    expect_fail(json, ORDER_INVALID_ID);
}
END_TEST

/* Issue 11, defect 2: integer ids beyond 2^53 were printed from a double, so two orders
 * became one document. The id is the message's own digits; a number Cosmos would store as
 * another (it keeps doubles) is dead-lettered, never changed. */
START_TEST(test_big_integer_ids_stay_exact)
{
    struct order_doc a, b;
    expect_ok("{\"orderId\":9007199254740991,\"customerId\":\"c\"}", &a);
    expect_ok("{\"orderId\":9007199254740992,\"customerId\":\"c\"}", &b);
    ck_assert_str_eq(a.id, "9007199254740991");
    ck_assert_str_eq(b.id, "9007199254740992");
    ck_assert_ptr_nonnull(strstr(b.body, "\"id\":\"9007199254740992\""));
    order_doc_free(&a);
    order_doc_free(&b);
    expect_ok("{\"orderId\":-42,\"customerId\":\"c\"}", &a);
    ck_assert_str_eq(a.id, "-42");
    order_doc_free(&a);
    expect_fail("{\"orderId\":9007199254740993,\"customerId\":\"c\"}", ORDER_UNSTORABLE_NUMBER);
    expect_fail("{\"orderId\":-123456789012345678901234567890,\"customerId\":\"c\"}",
                ORDER_UNSTORABLE_NUMBER);
    /* A fraction or an exponent is not an id: dead-lettered, not rounded. */
    expect_fail("{\"orderId\":1.0,\"customerId\":\"c\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":1e3,\"customerId\":\"c\"}", ORDER_INVALID_ID);
    expect_fail("{\"orderId\":12.5,\"customerId\":\"c\"}", ORDER_INVALID_ID);
}
END_TEST

/* Any value: a number Cosmos cannot keep as written is dead-lettered with its reason. */
START_TEST(test_unstorable_numbers_are_dead_lettered)
{
    struct order_doc doc;
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"n\":123456789012345678901}",
                ORDER_UNSTORABLE_NUMBER);
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"a\":[0.1000000000000000001]}",
                ORDER_UNSTORABLE_NUMBER);
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"x\":{\"y\":1e-400}}",
                ORDER_UNSTORABLE_NUMBER);
    expect_ok("{\"orderId\":\"o\",\"customerId\":\"c\",\"p\":19.99,\"t\":1700000000123,"
              "\"e\":-2.5e-3,\"z\":0.30000000000000004}",
              &doc);
    order_doc_free(&doc);
}
END_TEST

/* Issue 11, defect 3: strings were cut at an escaped NUL. */
START_TEST(test_escaped_nul_never_cuts_a_value)
{
    struct order_doc doc;
    /* An id cannot hold a control character: dead-lettered, never "nul". */
    expect_fail("{\"orderId\":\"nul\\u0000a\",\"customerId\":\"c\"}", ORDER_INVALID_ID);
    /* A key with a NUL goes to the header whole, escaped. */
    expect_ok("{\"orderId\":\"o\",\"customerId\":\"c\\u0000x\"}", &doc);
    ck_assert_str_eq(doc.pk_json, "[\"c\\u0000x\"]");
    order_doc_free(&doc);
    /* A member key with a NUL is another member, not the id field. */
    expect_ok("{\"orderId\":\"o\",\"orderId\\u0000x\":\"p\",\"customerId\":\"c\"}", &doc);
    ck_assert_str_eq(doc.id, "o");
    order_doc_free(&doc);
    /* Re-written orders (own id/kafka members) keep every string whole. */
    expect_ok("{\"id\":\"old\",\"kafka\":1,\"orderId\":\"o\",\"customerId\":\"c\","
              "\"note\":\"a\\u0000b\",\"n\":9007199254740992}",
              &doc);
    ck_assert_str_eq(doc.body, "{\"orderId\":\"o\",\"customerId\":\"c\",\"note\":\"a\\u0000b\","
                               "\"n\":9007199254740992,\"id\":\"o\",\"kafka\":{\"topic\":"
                               "\"orders\",\"partition\":3,\"offset\":1234567,\"timestamp\":"
                               "1700000000123}}");
    order_doc_free(&doc);
}
END_TEST

/* Keys: exact, escaped as the SDKs send them; numbers as written unless Cosmos would change
 * them. */
START_TEST(test_partition_key_header_is_exact)
{
    struct order_doc doc;
    expect_ok("{\"orderId\":\"o\",\"customerId\":\"caf\xC3\xA9 \xF0\x9F\x9B\x92\\\"q\\\\\"}", &doc);
    ck_assert_str_eq(doc.pk_json, "[\"caf\\u00e9 \\ud83d\\uded2\\\"q\\\\\"]");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":\"o\",\"customerId\":\"\\u00e9\\/\\t\"}", &doc);
    ck_assert_str_eq(doc.pk_json, "[\"\\u00e9/\\t\"]");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":\"o\",\"customerId\":1E2}", &doc);
    ck_assert_str_eq(doc.pk_json, "[1E2]");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":\"o\",\"customerId\":-0.5}", &doc);
    ck_assert_str_eq(doc.pk_json, "[-0.5]");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":\"o\",\"customerId\":9007199254740992}", &doc);
    order_doc_free(&doc);
    expect_fail("{\"orderId\":\"o\",\"customerId\":9007199254740993}", ORDER_UNSTORABLE_NUMBER);
    expect_fail("{\"orderId\":\"o\",\"customerId\":1e999}", ORDER_UNSTORABLE_NUMBER);
}
END_TEST

/* What cJSON accepts but JSON (and Cosmos) does not. */
START_TEST(test_lenient_json_is_refused)
{
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"n\":01}", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"n\":1.}", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"n\":-}", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\",\"s\":\"a\tb\"}", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o\",\"customerId\":\"c\"\f}", ORDER_NOT_JSON);
}
END_TEST

START_TEST(test_missing_fields)
{
    expect_fail("{\"customerId\":\"c-1\"}", ORDER_MISSING_ID);
    expect_fail("{\"orderId\":null,\"customerId\":\"c-1\"}", ORDER_MISSING_ID);
    expect_fail("{\"OrderId\":\"o\",\"customerId\":\"c-1\"}", ORDER_MISSING_ID);
    expect_fail("{\"orderId\":\"o-1\"}", ORDER_MISSING_PARTITION_KEY);
    expect_fail("{\"orderId\":\"o-1\",\"customerId\":null}", ORDER_MISSING_PARTITION_KEY);
}
END_TEST

START_TEST(test_partition_key_types)
{
    struct order_doc doc;
    expect_fail("{\"orderId\":\"o\",\"customerId\":{\"a\":1}}", ORDER_INVALID_PARTITION_KEY);
    expect_fail("{\"orderId\":\"o\",\"customerId\":[\"c\"]}", ORDER_INVALID_PARTITION_KEY);
    expect_ok("{\"orderId\":\"o\",\"customerId\":7}", &doc);
    ck_assert_str_eq(doc.pk_json, "[7]");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":\"o\",\"customerId\":true}", &doc);
    ck_assert_str_eq(doc.pk_json, "[true]");
    order_doc_free(&doc);
    expect_ok("{\"orderId\":\"o\",\"customerId\":\"a\\\"b\"}", &doc);
    ck_assert_str_eq(doc.pk_json, "[\"a\\\"b\"]");
    order_doc_free(&doc);
}
END_TEST

START_TEST(test_nested_partition_key)
{
    const struct order_spec nested = {.id_field = "orderId", .partition_key_path = "/customer/id"};
    const char *ok = "{\"orderId\":\"o-9\",\"customer\":{\"id\":\"c-9\",\"name\":\"n\"}}";
    struct order_doc doc;
    char detail[128];
    ck_assert_int_eq(to_doc_spec(&nested, ok, strlen(ok), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.pk_json, "[\"c-9\"]");
    ck_assert_str_eq(doc.id, "o-9");
    order_doc_free(&doc);
    const char *miss = "{\"orderId\":\"o-9\",\"customer\":{\"name\":\"n\"}}";
    expect_fail_spec(&nested, miss, strlen(miss), ORDER_MISSING_PARTITION_KEY);
    const char *notobj = "{\"orderId\":\"o-9\",\"customer\":\"c-9\"}";
    expect_fail_spec(&nested, notobj, strlen(notobj), ORDER_MISSING_PARTITION_KEY);
}
END_TEST

START_TEST(test_not_json)
{
    expect_fail("not json", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o-1\",\"customerId\":\"c", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o-1\",", ORDER_NOT_JSON);
    expect_fail("[1,2]", ORDER_NOT_OBJECT);
    expect_fail("\"just a string\"", ORDER_NOT_OBJECT);
    expect_fail("42", ORDER_NOT_OBJECT);
}
END_TEST

START_TEST(test_trailing_data_not_json)
{
    /* One JSON value per message: anything after it but whitespace is not JSON. */
    expect_fail("{\"orderId\":\"o-1\",\"customerId\":\"c\"} trailing", ORDER_NOT_JSON);
    expect_fail("{\"orderId\":\"o-1\",\"customerId\":\"c\"}{\"orderId\":\"o-2\"}", ORDER_NOT_JSON);
}
END_TEST

START_TEST(test_surrounding_whitespace_ok)
{
    struct order_doc doc;
    expect_ok("  {\"orderId\":\"o-1\",\"customerId\":\"c\"}\r\n", &doc);
    ck_assert_str_eq(doc.id, "o-1");
    order_doc_free(&doc);
}
END_TEST

START_TEST(test_empty_payload)
{
    struct order_doc doc;
    char detail[64] = "";
    ck_assert_int_eq(order_to_doc(&spec, "", 0, &meta, &doc, detail, sizeof(detail)), ORDER_EMPTY);
    ck_assert_uint_gt(strlen(detail), 0);
    ck_assert_int_eq(order_to_doc(&spec, NULL, 0, &meta, &doc, NULL, 0), ORDER_EMPTY);
    ck_assert_ptr_null(doc.body);
}
END_TEST

START_TEST(test_invalid_utf8_payload)
{
    static const char bad[] = "{\"orderId\":\"o\xff\",\"customerId\":\"c\"}";
    expect_fail_spec(&spec, bad, sizeof(bad) - 1, ORDER_INVALID_UTF8);
    static const char nul[] = "{\"orderId\":\"o-1\",\"customerId\":\"c\"}\0";
    expect_fail_spec(&spec, nul, sizeof(nul) - 1, ORDER_INVALID_UTF8);
    static const char nul_mid[] = "{\"orderId\":\"o\0x\",\"customerId\":\"c\"}";
    expect_fail_spec(&spec, nul_mid, sizeof(nul_mid) - 1, ORDER_INVALID_UTF8);
}
END_TEST

START_TEST(test_deep_nesting)
{
    enum { DEPTH = 2000 };
    char *p = malloc(2 * DEPTH + 64);
    ck_assert_ptr_nonnull(p);
    size_t n = (size_t)sprintf(p, "{\"orderId\":\"o\",\"customerId\":\"c\",\"x\":");
    memset(p + n, '[', DEPTH);
    memset(p + n + DEPTH, ']', DEPTH);
    p[n + 2 * DEPTH] = '}';
    expect_fail_spec(&spec, p, n + 2 * DEPTH + 1, ORDER_NOT_JSON);
    free(p);
}
END_TEST

START_TEST(test_too_large)
{
    size_t len = ORDER_MAX_DOC_BYTES + 1;
    char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    const char *head = "{\"orderId\":\"o\",\"customerId\":\"c\",\"pad\":\"";
    memset(p, 'a', len);
    memcpy(p, head, strlen(head));
    p[len - 2] = '"';
    p[len - 1] = '}';
    expect_fail_spec(&spec, p, len, ORDER_TOO_LARGE);
    /* Within the limit as a message, over it once "id" and "kafka" are added. */
    len = ORDER_MAX_DOC_BYTES;
    p[len - 2] = '"';
    p[len - 1] = '}';
    expect_fail_spec(&spec, p, len, ORDER_TOO_LARGE);
    free(p);
}
END_TEST

START_TEST(test_existing_id_replaced)
{
    struct order_doc doc;
    expect_ok("{\"id\":\"old\",\"orderId\":\"o-5\",\"customerId\":\"c\",\"kafka\":\"x\"}", &doc);
    cJSON *root = cJSON_Parse(doc.body);
    ck_assert_ptr_nonnull(root);
    int ids = 0;
    for (cJSON *it = root->child; it; it = it->next)
        ids += strcmp(it->string, "id") == 0;
    ck_assert_int_eq(ids, 1);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(root, "id")->valuestring, "o-5");
    ck_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "kafka")));
    cJSON_Delete(root);
    order_doc_free(&doc);
}
END_TEST

START_TEST(test_missing_timestamp_is_null)
{
    const struct order_meta m = {.topic = "t", .partition = 0, .offset = 0, .timestamp_ms = -1};
    const char *json = "{\"orderId\":\"o\",\"customerId\":\"c\"}";
    struct order_doc doc;
    ck_assert_int_eq(order_to_doc(&spec, json, strlen(json), &m, &doc, NULL, 0), ORDER_OK);
    cJSON *root = cJSON_Parse(doc.body);
    cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kafka");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(k, "timestamp")));
    cJSON_Delete(root);
    order_doc_free(&doc);
}
END_TEST

START_TEST(test_reason_names)
{
    ck_assert_str_eq(order_reason_name(ORDER_OK), "ok");
    ck_assert_str_eq(order_reason_name(ORDER_EMPTY), "empty");
    ck_assert_str_eq(order_reason_name(ORDER_TOO_LARGE), "too_large");
    ck_assert_str_eq(order_reason_name(ORDER_INVALID_UTF8), "invalid_utf8");
    ck_assert_str_eq(order_reason_name(ORDER_NOT_JSON), "not_json");
    ck_assert_str_eq(order_reason_name(ORDER_NOT_OBJECT), "not_object");
    ck_assert_str_eq(order_reason_name(ORDER_MISSING_ID), "missing_id");
    ck_assert_str_eq(order_reason_name(ORDER_INVALID_ID), "invalid_id");
    ck_assert_str_eq(order_reason_name(ORDER_MISSING_PARTITION_KEY), "missing_partition_key");
    ck_assert_str_eq(order_reason_name(ORDER_INVALID_PARTITION_KEY), "invalid_partition_key");
    ck_assert_str_eq(order_reason_name(ORDER_NO_MEMORY), "no_memory");
    ck_assert_str_eq(order_reason_name((enum order_reason)99), "unknown");
}
END_TEST

#define UTF8(s) order_utf8_valid((s), sizeof(s) - 1)

START_TEST(test_utf8_valid)
{
    ck_assert_int_eq(UTF8("plain ascii"), 1);
    ck_assert_int_eq(UTF8("caf\xc3\xa9"), 1);      /* é */
    ck_assert_int_eq(UTF8("\xe2\x82\xac 5"), 1);   /* € */
    ck_assert_int_eq(UTF8("\xf0\x9f\x98\x80"), 1); /* 😀 */
    ck_assert_int_eq(UTF8("\xf4\x8f\xbf\xbf"), 1); /* U+10FFFF */
    ck_assert_int_eq(UTF8("\xed\x9f\xbf"), 1);     /* U+D7FF */
    ck_assert_int_eq(order_utf8_valid("", 0), 1);
}
END_TEST

START_TEST(test_utf8_invalid)
{
    ck_assert_int_eq(UTF8("\xc0\x80"), 0);         /* overlong NUL */
    ck_assert_int_eq(UTF8("\xc1\xbf"), 0);         /* overlong 2-byte */
    ck_assert_int_eq(UTF8("\xe0\x80\xaf"), 0);     /* overlong 3-byte */
    ck_assert_int_eq(UTF8("\xf0\x80\x80\xaf"), 0); /* overlong 4-byte */
    ck_assert_int_eq(UTF8("\xed\xa0\x80"), 0);     /* surrogate U+D800 */
    ck_assert_int_eq(UTF8("\xed\xbf\xbf"), 0);     /* surrogate U+DFFF */
    ck_assert_int_eq(UTF8("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
    ck_assert_int_eq(UTF8("\xf5\x80\x80\x80"), 0);
    ck_assert_int_eq(UTF8("\xff"), 0);
    ck_assert_int_eq(UTF8("\x80"), 0);         /* lone continuation byte */
    ck_assert_int_eq(UTF8("\xc3"), 0);         /* truncated é */
    ck_assert_int_eq(UTF8("ab\xe2\x82"), 0);   /* truncated € */
    ck_assert_int_eq(UTF8("\xf0\x9f\x98"), 0); /* truncated 😀 */
    ck_assert_int_eq(UTF8("\xe2\x82x"), 0);    /* bad continuation */
    ck_assert_int_eq(UTF8("a\0b"), 0);         /* NUL byte */
    /* The length bounds the check: a valid prefix of an invalid buffer. */
    ck_assert_int_eq(order_utf8_valid("ok\xff", 2), 1);
    ck_assert_int_eq(order_utf8_valid("\xc3\xa9", 1), 0);
}
END_TEST

/* The EPK of each order, computed once with its key: RIG.md's V1 and V2 vectors. */
START_TEST(test_epk_v1_v2)
{
    struct order_spec v1 = spec, v2 = spec;
    v1.epk_version = 1;
    v2.epk_version = 2;
    struct order_doc doc;
    char detail[256];
    const char *m = "{\"orderId\":\"o1\",\"customerId\":\"redmond\"}";
    ck_assert_int_eq(to_doc_spec(&v1, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.epk, "05C1EFE313830C087366656E706F6500");
    order_doc_free(&doc);
    ck_assert_int_eq(to_doc_spec(&v2, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.epk, "22E342F38A486A088463DFF7838A5963");
    order_doc_free(&doc);
    m = "{\"orderId\":\"o1\",\"customerId\":5.5}";
    ck_assert_int_eq(to_doc_spec(&v2, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.epk, "0E2EE47829D1AF775EEFB6540FD1D0ED");
    ck_assert_str_eq(doc.pk_json, "[5.5]");
    order_doc_free(&doc);
    m = "{\"orderId\":\"o1\",\"customerId\":true}";
    ck_assert_int_eq(to_doc_spec(&v1, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.epk, "05C1D7C5A903D803");
    order_doc_free(&doc);
    /* a key escaped in the message hashes as its UTF-8 bytes ("aa") */
    m = "{\"orderId\":\"o1\",\"customerId\":\"\\u0061a\"}";
    ck_assert_int_eq(to_doc_spec(&v2, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.epk, "05033626483AE80D00E44FBD35362B19");
    order_doc_free(&doc);
    /* no EPK asked: none computed */
    ck_assert_int_eq(to_doc_spec(&spec, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_ptr_null(doc.epk);
    order_doc_free(&doc);
}
END_TEST

/* Hierarchical keys: the header holds every component in the container's order, the EPK is
 * the V2 EPK of each concatenated; a missing component dead-letters the order naming it. */
START_TEST(test_hierarchical_key)
{
    struct order_spec mh = {.id_field = "orderId",
                            .partition_key_path = "/tenant,/user/id,/n",
                            .epk_version = 2,
                            .multihash = 1};
    struct order_doc doc;
    char detail[256];
    const char *m = "{\"orderId\":\"o1\",\"n\":5.5,\"user\":{\"id\":\"caf\u00e9\"},"
                    "\"tenant\":\"redmond\"}";
    ck_assert_int_eq(to_doc_spec(&mh, m, strlen(m), &doc, detail, sizeof(detail)), ORDER_OK);
    ck_assert_str_eq(doc.pk_json, "[\"redmond\",\"caf\\u00e9\",5.5]");
    struct epk_component parts[3] = {{EPK_STRING, 0, "redmond", 7},
                                     {EPK_STRING, 0, "caf\xc3\xa9", 5},
                                     {EPK_NUMBER, 5.5, NULL, 0}};
    char want[EPK_HEX_SIZE];
    ck_assert_int_eq(epk_compute(EPK_V2, 1, parts, 3, want, sizeof(want)), 0);
    ck_assert_str_eq(doc.epk, want);
    ck_assert_uint_eq(strlen(doc.epk), 96);
    ck_assert(strncmp(doc.epk, "22E342F38A486A088463DFF7838A5963", 32) == 0);
    order_doc_free(&doc);
    m = "{\"orderId\":\"o1\",\"tenant\":\"t\",\"n\":1,\"user\":{}}";
    ck_assert_int_eq(to_doc_spec(&mh, m, strlen(m), &doc, detail, sizeof(detail)),
                     ORDER_MISSING_PARTITION_KEY);
    ck_assert_str_eq(detail, "the partition key field /user/id (level 2 of 3) is missing");
    ck_assert_ptr_null(doc.pk_json);
    m = "{\"orderId\":\"o1\",\"tenant\":\"t\",\"user\":{\"id\":\"u\"},\"n\":null}";
    ck_assert_int_eq(to_doc_spec(&mh, m, strlen(m), &doc, detail, sizeof(detail)),
                     ORDER_MISSING_PARTITION_KEY);
    ck_assert_str_eq(detail, "the partition key field /n (level 3 of 3) is missing");
    m = "{\"orderId\":\"o1\",\"tenant\":[1],\"user\":{\"id\":\"u\"},\"n\":1}";
    ck_assert_int_eq(to_doc_spec(&mh, m, strlen(m), &doc, detail, sizeof(detail)),
                     ORDER_INVALID_PARTITION_KEY);
}
END_TEST

static Suite *order_suite(void)
{
    Suite *s = suite_create("order");
    TCase *tc = tcase_create("to_doc");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_valid_order);
    tcase_add_test(tc, test_numeric_ids);
    tcase_add_test(tc, test_invalid_ids);
    tcase_add_test(tc, test_id_length_limit);
    tcase_add_test(tc, test_big_integer_ids_stay_exact);
    tcase_add_test(tc, test_unstorable_numbers_are_dead_lettered);
    tcase_add_test(tc, test_escaped_nul_never_cuts_a_value);
    tcase_add_test(tc, test_partition_key_header_is_exact);
    tcase_add_test(tc, test_lenient_json_is_refused);
    tcase_add_test(tc, test_missing_fields);
    tcase_add_test(tc, test_partition_key_types);
    tcase_add_test(tc, test_nested_partition_key);
    tcase_add_test(tc, test_not_json);
    tcase_add_test(tc, test_trailing_data_not_json);
    tcase_add_test(tc, test_surrounding_whitespace_ok);
    tcase_add_test(tc, test_empty_payload);
    tcase_add_test(tc, test_invalid_utf8_payload);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_existing_id_replaced);
    tcase_add_test(tc, test_missing_timestamp_is_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("names_utf8");
    tcase_add_test(tc, test_reason_names);
    tcase_add_test(tc, test_utf8_valid);
    tcase_add_test(tc, test_utf8_invalid);
    tcase_add_test(tc, test_epk_v1_v2);
    tcase_add_test(tc, test_hierarchical_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(order_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
