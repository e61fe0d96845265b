/* Unit tests for lib/cosmos_bulk: batch request bodies and reading batch answers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_bulk.h"

/* Parses body (no terminating NUL past len: a heap copy of exactly strlen bytes). */
static int parse(const char *body, struct cosmos_op_result *out, size_t n)
{
    size_t len = strlen(body);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    struct cosmos_tokens scratch = {0};
    int rc = cosmos_bulk_parse(copy, len, out, n, &scratch);
    cosmos_tokens_free(&scratch);
    free(copy);
    return rc;
}

START_TEST(test_parse_skips_echoed_documents)
{
    /* The local server echoes each document; keys named like ours inside it are not ours. */
    const char *body = "[{\"statusCode\":201,\"requestCharge\":1,\"resourceBody\":{\"id\":\"a\","
                       "\"statusCode\":500,\"lines\":[{\"statusCode\":418},[1,2,{\"x\":\"}]\"}]],"
                       "\"subStatusCode\":7}},"
                       " {\"resourceBody\":{\"retryAfterMilliseconds\":9},\"statusCode\":200}]";
    struct cosmos_op_result r[2];
    ck_assert_int_eq(parse(body, r, 2), 0);
    ck_assert_int_eq(r[0].status, 201);
    ck_assert_int_eq(r[0].substatus, 0);
    ck_assert_int_eq(r[0].retry_after_ms, -1);
    ck_assert_int_eq(r[1].status, 200);
    ck_assert_int_eq(r[1].retry_after_ms, -1);
}
END_TEST

START_TEST(test_parse_throttled_operation)
{
    const char *body =
        "[{\"statusCode\":429,\"subStatusCode\":3200,\"retryAfterMilliseconds\":125},"
        "{\"statusCode\":424}]";
    struct cosmos_op_result r[2];
    ck_assert_int_eq(parse(body, r, 2), 0);
    ck_assert_int_eq(r[0].status, 429);
    ck_assert_int_eq(r[0].substatus, 3200);
    ck_assert_int_eq(r[0].retry_after_ms, 125);
    ck_assert_int_eq(r[1].status, 424);
}
END_TEST

START_TEST(test_parse_rejects_malformed)
{
    struct cosmos_op_result r[2];
    ck_assert_int_eq(parse("[{\"statusCode\":201}]", r, 2), -1);    /* count */
    ck_assert_int_eq(parse("[{\"statusCode\":201},{}]", r, 2), -1); /* no status */
    ck_assert_int_eq(parse("[{\"statusCode\":\"201\"},{\"statusCode\":1}]", r, 2), -1);
    ck_assert_int_eq(parse("{\"statusCode\":201}", r, 1), -1);     /* not an array */
    ck_assert_int_eq(parse("[{\"statusCode\":201", r, 1), -1);     /* truncated */
    ck_assert_int_eq(parse("[{statusCode:201}]", r, 1), -1);       /* not JSON */
    ck_assert_int_eq(parse("[{\"statusCode\":2e400}]", r, 1), -1); /* out of range */
    ck_assert_int_eq(parse("[1]", r, 1), -1);
    ck_assert_int_eq(parse("", r, 1), -1);
}
END_TEST

START_TEST(test_parse_large_answer_grows_scratch)
{
    enum { N = 100 };
    struct cosmos_buf b = {0};
    ck_assert_int_eq(cosmos_buf_append(&b, "[", 1), 0);
    for (int i = 0; i < N; i++) {
        const char *op = "{\"statusCode\":201,\"resourceBody\":{\"a\":[1,2,3,4,5,6,7,8,9,10],"
                         "\"b\":{\"c\":{\"d\":[{},{},{}]}}}}";
        if (i)
            ck_assert_int_eq(cosmos_buf_append(&b, ",", 1), 0);
        ck_assert_int_eq(cosmos_buf_append(&b, op, strlen(op)), 0);
    }
    ck_assert_int_eq(cosmos_buf_append(&b, "]", 1), 0);
    struct cosmos_op_result r[N];
    struct cosmos_tokens scratch = {0};
    ck_assert_int_eq(cosmos_bulk_parse(b.data, b.len, r, N, &scratch), 0);
    ck_assert_uint_gt(scratch.cap, 1024); /* grown past its first size */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(r[i].status, 201);
    cosmos_tokens_free(&scratch);
    cosmos_buf_free(&b);
}
END_TEST

START_TEST(test_body_escapes_partition_key)
{
    struct cosmos_buf b = {0};
    const char *pks[] = {"[\"c\\\"1\"]", "[42]"};
    const char *bodies[] = {"{\"id\":\"a\"}", "{\"id\":\"b\"}"};
    size_t lens[] = {10, 10};
    ck_assert_int_eq(cosmos_bulk_body(&b, pks, bodies, lens, 2), 0);
    ck_assert_str_eq(b.data,
                     "[{\"operationType\":\"Upsert\",\"partitionKey\":\"[\\\"c\\\\\\\"1\\\"]\","
                     "\"minimalReturnPreference\":true,\"resourceBody\":{\"id\":\"a\"}},"
                     "{\"operationType\":\"Upsert\",\"partitionKey\":\"[42]\","
                     "\"minimalReturnPreference\":true,\"resourceBody\":{\"id\":\"b\"}}]");
    ck_assert_uint_le(b.len + 1, cosmos_bulk_op_size(pks[0], lens[0]) +
                                     cosmos_bulk_op_size(pks[1], lens[1]) + 2);
    cosmos_buf_free(&b);
}
END_TEST

START_TEST(test_versioned_operations)
{
    /* Create, Read and Replace with ifMatch as the SDKs serialise them (JS utils/batch.ts):
     * the id as a JSON string (non-ASCII escaped), the etag's quotes escaped. */
    struct cosmos_buf b = {0};
    struct cosmos_bulk_op ops[] = {
        {COSMOS_OP_CREATE, "o1", "[\"c1\"]", "{\"id\":\"o1\"}", 11, NULL},
        {COSMOS_OP_READ, "o\xc3\xa9\"2", "[\"c2\"]", NULL, 0, NULL},
        {COSMOS_OP_REPLACE, "o3", "[3]", "{\"id\":\"o3\"}", 11, "\"00-ab\""},
    };
    ck_assert_int_eq(cosmos_bulk_ops_body(&b, ops, 3), 0);
    ck_assert_str_eq(b.data,
                     "[{\"operationType\":\"Create\",\"partitionKey\":\"[\\\"c1\\\"]\","
                     "\"minimalReturnPreference\":true,\"resourceBody\":{\"id\":\"o1\"}},"
                     "{\"operationType\":\"Read\",\"id\":\"o\\u00e9\\\"2\","
                     "\"partitionKey\":\"[\\\"c2\\\"]\"},"
                     "{\"operationType\":\"Replace\",\"id\":\"o3\",\"partitionKey\":\"[3]\","
                     "\"ifMatch\":\"\\\"00-ab\\\"\",\"minimalReturnPreference\":true,"
                     "\"resourceBody\":{\"id\":\"o3\"}}]");
    size_t max = 2;
    for (int i = 0; i < 3; i++)
        max += cosmos_bulk_op_size_of(&ops[i]);
    ck_assert_uint_le(b.len + 1, max);
    cosmos_buf_free(&b);
}
END_TEST

START_TEST(test_gather_reads_and_rewinds)
{
    /* The pieces read in any chunk size, and again after a seek to any offset, give exactly
     * the bytes of the flat body; the documents are referenced, not copied. */
    char doc0[] = "{\"id\":\"o1\",\"n\":1}";
    struct cosmos_bulk_op ops[] = {
        {COSMOS_OP_CREATE, "o1", "[\"c1\"]", doc0, sizeof(doc0) - 1, NULL},
        {COSMOS_OP_READ, "o2", "[\"c2\"]", NULL, 0, NULL},
        {COSMOS_OP_REPLACE, "o3", "[3]", "{\"id\":\"o3\"}", 11, "\"00-ab\""},
        {COSMOS_OP_UPSERT, NULL, "[true]", "{}", 2, NULL},
    };
    struct cosmos_buf flat = {0};
    struct cosmos_gather g = {0};
    ck_assert_int_eq(cosmos_bulk_ops_body(&flat, ops, 4), 0);
    ck_assert_int_eq(cosmos_bulk_ops_gather(&g, ops, 4), 0);
    ck_assert_uint_eq(g.total, flat.len);
    char out[1024];
    for (size_t chunk = 1; chunk <= flat.len + 1; chunk++) {
        ck_assert_int_eq(cosmos_gather_seek(&g, 0), 0);
        size_t got = 0, n;
        while ((n = cosmos_gather_read(&g, out + got, chunk)) > 0) {
            ck_assert_uint_le(n, chunk);
            got += n;
        }
        ck_assert_uint_eq(got, flat.len);
        ck_assert_mem_eq(out, flat.data, flat.len);
    }
    for (size_t off = 0; off <= flat.len; off++) {
        ck_assert_int_eq(cosmos_gather_seek(&g, off), 0);
        size_t n = cosmos_gather_read(&g, out, sizeof(out));
        ck_assert_uint_eq(n, flat.len - off);
        ck_assert_mem_eq(out, flat.data + off, n);
    }
    ck_assert_int_eq(cosmos_gather_seek(&g, flat.len + 1), -1);
    doc0[8] = 'X'; /* by reference: the read follows the document */
    ck_assert_int_eq(cosmos_gather_seek(&g, 0), 0);
    ck_assert_uint_eq(cosmos_gather_read(&g, out, sizeof(out) - 1), flat.len);
    out[flat.len] = '\0';
    ck_assert_ptr_nonnull(strstr(out, "\"oX\""));
    /* A second body in the same gather starts afresh. */
    ck_assert_int_eq(cosmos_bulk_ops_gather(&g, ops + 3, 1), 0);
    ck_assert_uint_eq(cosmos_gather_read(&g, out, sizeof(out)), g.total);
    out[g.total] = '\0';
    ck_assert_str_eq(out, "[{\"operationType\":\"Upsert\",\"partitionKey\":\"[true]\","
                          "\"minimalReturnPreference\":true,\"resourceBody\":{}}]");
    cosmos_gather_free(&g);
    cosmos_buf_free(&flat);
}
END_TEST

START_TEST(test_parse_read_document_span)
{
    const char *body = "[{\"statusCode\":409,\"requestCharge\":1},"
                       "{\"statusCode\":200,\"resourceBody\":{\"id\":\"o1\",\"_etag\":\"e\"}}]";
    struct cosmos_op_result r[2];
    ck_assert_int_eq(parse(body, r, 2), 0);
    ck_assert_int_eq(r[0].status, 409);
    ck_assert_uint_eq(r[0].doc_len, 0);
    ck_assert_int_eq(r[1].status, 200);
    ck_assert_uint_eq(r[1].doc_len, strlen("{\"id\":\"o1\",\"_etag\":\"e\"}"));
    ck_assert_int_eq(memcmp(body + r[1].doc_off, "{\"id\":\"o1\",\"_etag\":\"e\"}", r[1].doc_len),
                     0);
}
END_TEST

static Suite *cosmos_bulk_suite(void)
{
    Suite *s = suite_create("cosmos_bulk");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_skips_echoed_documents);
    tcase_add_test(tc, test_parse_throttled_operation);
    tcase_add_test(tc, test_parse_rejects_malformed);
    tcase_add_test(tc, test_parse_large_answer_grows_scratch);
    tcase_add_test(tc, test_parse_read_document_span);
    suite_add_tcase(s, tc);
    tc = tcase_create("body");
    tcase_add_test(tc, test_body_escapes_partition_key);
    tcase_add_test(tc, test_versioned_operations);
    tcase_add_test(tc, test_gather_reads_and_rewinds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cosmos_bulk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
