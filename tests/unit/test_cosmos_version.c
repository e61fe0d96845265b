/* Unit tests for lib/cosmos_version: a stored document's position and _etag, the version rule,
 * and the phase after each answer of a versioned write. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_version.h"

static int read_doc(const char *doc, struct cosmos_stored *st)
{
    return cosmos_version_read(doc, strlen(doc), st);
}

START_TEST(test_read_position_and_etag)
{
    struct cosmos_stored st;
    const char *doc = "{\"id\":\"o1\",\"kafka\":{\"topic\":\"orders\",\"partition\":3,\"offset\":"
                      "9007199254740991,\"timestamp\":null},\"_etag\":\"\\\"0000-01\\\"\","
                      "\"_ts\":1}";
    ck_assert_int_eq(read_doc(doc, &st), 0);
    ck_assert_str_eq(st.etag, "\"0000-01\"");
    ck_assert_int_eq(st.has_position, 1);
    ck_assert_str_eq(st.topic, "orders");
    ck_assert_int_eq(st.partition, 3);
    ck_assert_int_eq(st.offset, 9007199254740991LL);
}
END_TEST

START_TEST(test_read_without_position)
{
    struct cosmos_stored st;
    static const char *const docs[] = {
        "{\"_etag\":\"e\"}",
        "{\"_etag\":\"e\",\"kafka\":\"x\"}",
        "{\"_etag\":\"e\",\"kafka\":{\"topic\":\"t\",\"partition\":1}}",
        "{\"_etag\":\"e\",\"kafka\":{\"topic\":\"t\",\"partition\":1,\"offset\":1.5}}",
        "{\"_etag\":\"e\",\"kafka\":{\"topic\":7,\"partition\":1,\"offset\":2}}",
        "{\"_etag\":\"e\",\"kafka\":{\"topic\":\"t\",\"partition\":\"1\",\"offset\":2}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        ck_assert_int_eq(read_doc(docs[i], &st), 0);
        ck_assert_msg(st.has_position == 0, "doc %zu", i);
        ck_assert_str_eq(st.etag, "e");
    }
}
END_TEST

START_TEST(test_read_refuses_unusable)
{
    struct cosmos_stored st;
    static const char *const docs[] = {"",
                                       "[]",
                                       "{\"id\":\"o1\"}",
                                       "{\"_etag\":\"\"}",
                                       "{\"_etag\":5}",
                                       "{\"_etag\":\"a\\nb\"}",
                                       "{\"_etag\":\"e\"",
                                       "not json"};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        ck_assert_msg(read_doc(docs[i], &st) == -1, "doc %zu", i);
    char big[300];
    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"_etag\":\"", 10);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    ck_assert_int_eq(read_doc(big, &st), -1);
}
END_TEST

START_TEST(test_superseded_rule)
{
    struct cosmos_stored st = {
        .etag = "e", .has_position = 1, .topic = "orders", .partition = 2, .offset = 100};
    ck_assert_int_eq(cosmos_version_superseded(&st, "orders", 2, 99), 1);  /* stored is newer */
    ck_assert_int_eq(cosmos_version_superseded(&st, "orders", 2, 100), 1); /* same version */
    ck_assert_int_eq(cosmos_version_superseded(&st, "orders", 2, 101), 0); /* ours is newer */
    ck_assert_int_eq(cosmos_version_superseded(&st, "orders", 3, 5), 0);   /* other partition */
    ck_assert_int_eq(cosmos_version_superseded(&st, "other", 2, 5), 0);    /* other topic */
    st.has_position = 0;
    ck_assert_int_eq(cosmos_version_superseded(&st, "orders", 2, 5), 0); /* no position */
}
END_TEST

START_TEST(test_next_after_each_answer)
{
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_WRITE, 201, 0), COSMOS_NEXT_WRITTEN);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_WRITE, 409, 0), COSMOS_NEXT_READ);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_WRITE, 429, 0), COSMOS_NEXT_CLASSIFY);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_WRITE, 412, 0), COSMOS_NEXT_CLASSIFY);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_READ, 200, 1), COSMOS_NEXT_SUPERSEDED);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_READ, 200, 0), COSMOS_NEXT_REPLACE);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_READ, 404, 0), COSMOS_NEXT_CREATE);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_READ, 503, 0), COSMOS_NEXT_CLASSIFY);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_REPLACE, 200, 0), COSMOS_NEXT_WRITTEN);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_REPLACE, 412, 0), COSMOS_NEXT_READ);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_REPLACE, 404, 0), COSMOS_NEXT_CREATE);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_REPLACE, 400, 0), COSMOS_NEXT_CLASSIFY);
    ck_assert_int_eq(cosmos_version_next(COSMOS_PHASE_REPLACE, 0, 0), COSMOS_NEXT_CLASSIFY);
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("cosmos_version");
    TCase *tc = tcase_create("version");
    tcase_add_test(tc, test_read_position_and_etag);
    tcase_add_test(tc, test_read_without_position);
    tcase_add_test(tc, test_read_refuses_unusable);
    tcase_add_test(tc, test_superseded_rule);
    tcase_add_test(tc, test_next_after_each_answer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(version_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
