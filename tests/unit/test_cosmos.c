/* Unit tests for lib/cosmos: cosmos_error_message, the readable form of a Cosmos error body. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos.h"

/* Calls cosmos_error_message on an exact-length heap copy (bodies are not NUL-terminated). */
static void error_message(const char *body, size_t len, char *out, size_t size)
{
    char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, len);
    cosmos_error_message(copy, len, out, size);
    free(copy);
}

START_TEST(test_cosmos_json_error)
{
    const char *body = "{\"code\":\"BadRequest\",\"message\":\"One of the specified inputs is "
                       "invalid\\r\\nActivityId: x\"}";
    char out[256];
    error_message(body, strlen(body), out, sizeof(out));
    /* One line, and a CRLF reads as one space (as the brief for this test specifies). */
    ck_assert_ptr_null(strpbrk(out, "\r\n"));
    ck_assert_str_eq(out, "BadRequest: One of the specified inputs is invalid ActivityId: x");
}
END_TEST

START_TEST(test_message_without_code)
{
    const char *body = "{\"message\":\"Request rate is large\"}";
    char out[128];
    error_message(body, strlen(body), out, sizeof(out));
    ck_assert_str_eq(out, "Request rate is large");
}
END_TEST

START_TEST(test_non_json_body)
{
    const char *body = "<html>502 Bad\tGateway\n</html>";
    char out[128];
    error_message(body, strlen(body), out, sizeof(out));
    ck_assert_str_eq(out, "<html>502 Bad Gateway </html>");
}
END_TEST

START_TEST(test_non_json_binary_bytes)
{
    const char body[] = {'o', 'k', '\0', '\x01', '\xff', 'z'};
    char out[64];
    error_message(body, sizeof(body), out, sizeof(out));
    ck_assert_str_eq(out, "ok   z");
}
END_TEST

START_TEST(test_json_without_message_falls_back)
{
    const char *body = "{\"code\":\"NotFound\"}";
    char out[128];
    error_message(body, strlen(body), out, sizeof(out));
    ck_assert_str_eq(out, "{\"code\":\"NotFound\"}");
}
END_TEST

START_TEST(test_empty_inputs)
{
    char out[16];
    memset(out, 'X', sizeof(out));
    cosmos_error_message(NULL, 0, out, sizeof(out));
    ck_assert_str_eq(out, "");
    memset(out, 'X', sizeof(out));
    cosmos_error_message("abc", 0, out, sizeof(out));
    ck_assert_str_eq(out, "");
    memset(out, 'X', sizeof(out));
    cosmos_error_message(NULL, 5, out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_size_zero_writes_nothing)
{
    char out[4] = {'X', 'X', 'X', 'X'};
    cosmos_error_message("{\"message\":\"m\"}", 15, out, 0);
    ck_assert_int_eq(out[0], 'X');
}
END_TEST

START_TEST(test_truncated_json_message)
{
    const char *body = "{\"code\":\"BadRequest\",\"message\":\"abcdefghijklmnop\"}";
    char out[12];
    memset(out, 'X', sizeof(out));
    error_message(body, strlen(body), out, sizeof(out));
    ck_assert_str_eq(out, "BadRequest:");
    ck_assert_uint_eq(strlen(out), sizeof(out) - 1);
}
END_TEST

START_TEST(test_truncated_raw_body)
{
    const char *body = "Service Unavailable, try again later";
    char out[8];
    memset(out, 'X', sizeof(out));
    error_message(body, strlen(body), out, sizeof(out));
    ck_assert_str_eq(out, "Service");
    char one[1] = {'X'};
    error_message(body, strlen(body), one, sizeof(one));
    ck_assert_int_eq(one[0], '\0');
}
END_TEST

START_TEST(test_body_length_is_respected)
{
    /* Only the first len bytes are the body. */
    const char *body = "short body and trailing garbage";
    char out[64];
    error_message(body, 10, out, sizeof(out));
    ck_assert_str_eq(out, "short body");
}
END_TEST

static Suite *cosmos_suite(void)
{
    Suite *s = suite_create("cosmos");
    TCase *tc = tcase_create("error_message");
    tcase_add_test(tc, test_cosmos_json_error);
    tcase_add_test(tc, test_message_without_code);
    tcase_add_test(tc, test_non_json_body);
    tcase_add_test(tc, test_non_json_binary_bytes);
    tcase_add_test(tc, test_json_without_message_falls_back);
    tcase_add_test(tc, test_empty_inputs);
    tcase_add_test(tc, test_size_zero_writes_nothing);
    tcase_add_test(tc, test_truncated_json_message);
    tcase_add_test(tc, test_truncated_raw_body);
    tcase_add_test(tc, test_body_length_is_respected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cosmos_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
