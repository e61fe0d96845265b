/*
 * Unit tests for lib/cosmos_auth: master-key signing against the known-answer vectors of
 * ../../../shared/RIG.md ("Cosmos DB REST"), key decoding and the RFC 1123 date.
 */
#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_auth.h"

/* RIG.md vector 1. */
#define V1_KEY                                                                                     \
    "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw=="
#define V1_LINK "dbs/ToDoList"
#define V1_DATE "Thu, 27 Apr 2017 00:51:12 GMT"
#define V1_HEADER                                                                                  \
    "type%3dmaster%26ver%3d1.0%26sig%3dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2bc%2bc%3d"

/* RIG.md vector 2. */
#define V2_KEY                                                                                     \
    "8F8xXXOptJxkblM1DBXW7a6NMI5oE8NnwPGYBmwxLCKfejOK7B7yhcCHMGvN3PBrlMLIOeol1Hv9RCdzAZR5sg=="
#define V2_LINK "dbs/MyDatabase/colls/MyCollection"
#define V2_DATE "Mon, 01 Jan 1900 01:00:00 GMT"
#define V2_SIG "Qkz/r+1N2+PEnNijxGbGB/ADvLsLBQmZ7uBBMuIwf4I="

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes in into out; returns 0, or -1 on a malformed escape. */
static int url_decode(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (n + 1 >= size)
            return -1;
        if (*p == '%') {
            int hi = p[1] ? hexval(p[1]) : -1;
            int lo = hi >= 0 && p[2] ? hexval(p[2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            out[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return 0;
}

/* Signs with a base64 key; fails the test if decoding or signing fails. */
static void sign(const char *key_b64, const char *verb, const char *type, const char *link,
                 const char *date, char out[COSMOS_AUTH_MAX])
{
    unsigned char key[COSMOS_KEY_MAX];
    int klen = cosmos_key_decode(key_b64, key);
    ck_assert_int_eq(klen, 64);
    memset(out, 'X', COSMOS_AUTH_MAX);
    ck_assert_int_eq(cosmos_auth_header(key, (size_t)klen, verb, type, link, date, out), 0);
    ck_assert_uint_lt(strlen(out), COSMOS_AUTH_MAX);
}

START_TEST(test_vector1_full_header)
{
    char h[COSMOS_AUTH_MAX];
    sign(V1_KEY, "GET", "dbs", V1_LINK, V1_DATE, h);
    ck_assert_str_eq(h, V1_HEADER);
}
END_TEST

START_TEST(test_vector2_signature)
{
    char h[COSMOS_AUTH_MAX], plain[COSMOS_AUTH_MAX];
    sign(V2_KEY, "GET", "dbs", V2_LINK, V2_DATE, h);
    ck_assert_int_eq(url_decode(h, plain, sizeof(plain)), 0);
    ck_assert_str_eq(plain, "type=master&ver=1.0&sig=" V2_SIG);
    /* The encoded form, with lower-case hex as in vector 1. */
    ck_assert_str_eq(h, "type%3dmaster%26ver%3d1.0%26sig%3dQkz%2fr%2b1N2%2bPEnNijxGbGB%2fADvLsLBQmZ"
                        "7uBBMuIwf4I%3d");
}
END_TEST

START_TEST(test_header_is_fully_encoded)
{
    char h[COSMOS_AUTH_MAX];
    sign(V2_KEY, "POST", "docs", "dbs/db/colls/c", V2_DATE, h);
    /* No raw reserved characters may remain in a header value built this way. */
    ck_assert_ptr_null(strpbrk(h, "=&+/ "));
    ck_assert_int_eq(strncmp(h, "type%3dmaster%26ver%3d1.0%26sig%3d", 34), 0);
}
END_TEST

START_TEST(test_verb_type_date_lowercased)
{
    char upper[COSMOS_AUTH_MAX], lower[COSMOS_AUTH_MAX], mixed[COSMOS_AUTH_MAX];
    sign(V1_KEY, "GET", "DBS", V1_LINK, "THU, 27 APR 2017 00:51:12 GMT", upper);
    sign(V1_KEY, "get", "dbs", V1_LINK, "thu, 27 apr 2017 00:51:12 gmt", lower);
    sign(V1_KEY, "Get", "Dbs", V1_LINK, V1_DATE, mixed);
    ck_assert_str_eq(upper, V1_HEADER);
    ck_assert_str_eq(lower, V1_HEADER);
    ck_assert_str_eq(mixed, V1_HEADER);
}
END_TEST

START_TEST(test_resource_link_case_preserved)
{
    char h[COSMOS_AUTH_MAX];
    sign(V1_KEY, "GET", "dbs", "dbs/todolist", V1_DATE, h);
    ck_assert_str_ne(h, V1_HEADER);
    ck_assert_int_eq(strncmp(h, "type%3dmaster%26ver%3d1.0%26sig%3d", 34), 0);
}
END_TEST

START_TEST(test_other_inputs_change_signature)
{
    char verb[COSMOS_AUTH_MAX], type[COSMOS_AUTH_MAX], date[COSMOS_AUTH_MAX];
    sign(V1_KEY, "POST", "dbs", V1_LINK, V1_DATE, verb);
    sign(V1_KEY, "GET", "colls", V1_LINK, V1_DATE, type);
    sign(V1_KEY, "GET", "dbs", V1_LINK, "Thu, 27 Apr 2017 00:51:13 GMT", date);
    ck_assert_str_ne(verb, V1_HEADER);
    ck_assert_str_ne(type, V1_HEADER);
    ck_assert_str_ne(date, V1_HEADER);
    ck_assert_str_ne(verb, type);
}
END_TEST

START_TEST(test_key_decode_lengths)
{
    unsigned char key[COSMOS_KEY_MAX];
    ck_assert_int_eq(cosmos_key_decode(V1_KEY, key), 64);
    ck_assert_int_eq(key[0], 0x76); /* 'dsZQ' -> 76 c6 50 */
    ck_assert_int_eq(key[1], 0xc6);
    ck_assert_int_eq(key[2], 0x50);
    ck_assert_int_eq(cosmos_key_decode(V2_KEY, key), 64);
    ck_assert_int_eq(cosmos_key_decode("YWJj", key), 3);
    ck_assert_int_eq(memcmp(key, "abc", 3), 0);
    ck_assert_int_eq(cosmos_key_decode("YWI=", key), 2);
    ck_assert_int_eq(cosmos_key_decode("YQ==", key), 1);
    ck_assert_int_eq(key[0], 'a');
}
END_TEST

START_TEST(test_key_decode_rejects_bad_base64)
{
    unsigned char key[COSMOS_KEY_MAX];
    ck_assert_int_eq(cosmos_key_decode("", key), -1);
    ck_assert_int_eq(cosmos_key_decode("abc", key), -1);  /* not a multiple of 4 */
    ck_assert_int_eq(cosmos_key_decode("ab!d", key), -1); /* bad character */
    ck_assert_int_eq(cosmos_key_decode("not base64!!", key), -1);
    ck_assert_int_eq(cosmos_key_decode("****", key), -1);
    /* Longer than COSMOS_KEY_MAX bytes once decoded. */
    char big[COSMOS_KEY_MAX / 3 * 4 + 9];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(cosmos_key_decode(big, key), -1);
}
END_TEST

START_TEST(test_http_date_epoch)
{
    char d[COSMOS_DATE_MAX];
    cosmos_http_date(0, d);
    ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
}
END_TEST

START_TEST(test_http_date_known)
{
    char d[COSMOS_DATE_MAX];
    cosmos_http_date(1493254272, d);
    ck_assert_str_eq(d, V1_DATE);
    cosmos_http_date(784111777, d); /* RFC 7231's example date */
    ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    cosmos_http_date(951782400, d); /* leap day */
    ck_assert_str_eq(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    cosmos_http_date(1735689599, d);
    ck_assert_str_eq(d, "Tue, 31 Dec 2024 23:59:59 GMT");
}
END_TEST

START_TEST(test_http_date_ignores_tz)
{
    char d[COSMOS_DATE_MAX];
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", "America/New_York", 1);
    cosmos_http_date(1493254272, d);
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    ck_assert_str_eq(d, V1_DATE);
}
END_TEST

static Suite *cosmos_auth_suite(void)
{
    Suite *s = suite_create("cosmos_auth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_vector1_full_header);
    tcase_add_test(tc, test_vector2_signature);
    tcase_add_test(tc, test_header_is_fully_encoded);
    tcase_add_test(tc, test_verb_type_date_lowercased);
    tcase_add_test(tc, test_resource_link_case_preserved);
    tcase_add_test(tc, test_other_inputs_change_signature);
    tcase_add_test(tc, test_key_decode_lengths);
    tcase_add_test(tc, test_key_decode_rejects_bad_base64);
    tcase_add_test(tc, test_http_date_epoch);
    tcase_add_test(tc, test_http_date_known);
    tcase_add_test(tc, test_http_date_ignores_tz);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cosmos_auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
