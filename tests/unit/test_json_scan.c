/* Unit tests for lib/json_scan: spans as jsmn writes them, RFC 8259 exactly, and every
 * leniency of cJSON refused (cJSON is asked too, so each case shows a real difference). */
#include <check.h>

#include "check_run.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

static jsmntok_t toks[4096];

static int scan(const char *js)
{
    return jscan_parse(js, strlen(js), toks, sizeof(toks) / sizeof(toks[0]));
}

static void expect_tok(int i, jsmntype_t type, int start, int end, int size, int parent)
{
    ck_assert_int_eq(toks[i].type, type);
    ck_assert_int_eq(toks[i].start, start);
    ck_assert_int_eq(toks[i].end, end);
    ck_assert_int_eq(toks[i].size, size);
    ck_assert_int_eq(toks[i].parent, parent);
}

/* 1 when cJSON takes js as one value with only white space after it (the old order path). */
static int cjson_accepts(const char *js)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(js, strlen(js), &end, 0);
    while (root && *end && strchr(" \t\r\n", *end))
        end++;
    int ok = root && *end == '\0';
    cJSON_Delete(root);
    return ok;
}

START_TEST(test_spans_are_jsmns)
{
    /*                0123456789012345678901234567890 */
    const char *js = "{\"a\":[1,\"x\"],\"b\":{\"c\":true}}";
    ck_assert_int_eq(scan(js), 9);
    expect_tok(0, JSMN_OBJECT, 0, 28, 2, -1);
    expect_tok(1, JSMN_STRING, 2, 3, 1, 0);    /* key "a": its value's parent */
    expect_tok(2, JSMN_ARRAY, 5, 12, 2, 1);    /* [1,"x"] */
    expect_tok(3, JSMN_PRIMITIVE, 6, 7, 0, 2); /* 1 */
    expect_tok(4, JSMN_STRING, 9, 10, 0, 2);   /* "x": inside the quotes */
    expect_tok(5, JSMN_STRING, 14, 15, 1, 0);  /* key "b" */
    expect_tok(6, JSMN_OBJECT, 17, 27, 1, 5);
    expect_tok(7, JSMN_STRING, 19, 20, 1, 6);
    expect_tok(8, JSMN_PRIMITIVE, 22, 26, 0, 7);
}
END_TEST

START_TEST(test_rfc8259_values)
{
    const char *ok[] = {"{}",
                        "[]",
                        " {} \r\n\t",
                        "0",
                        "-0",
                        "1.5e+300",
                        "-2.5E-3",
                        "1e5",
                        "\"\"",
                        "true",
                        "false",
                        "null",
                        "[[],{}]",
                        "\"\\u00e9\\/\\\\\\\"\\b\\f\\n\\r\\t\"",
                        "\"\\ud83d\\ude00\"",
                        "\"\\u0000\"",
                        "\"\xc3\xa9\"",
                        "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(scan(ok[i]) >= 1, "refused %s", ok[i]);
        ck_assert_msg(cjson_accepts(ok[i]), "cJSON refuses %s", ok[i]);
    }
    const char *bad[] = {"",
                         " ",
                         "{",
                         "}",
                         "[1,]",
                         "{\"a\":1,}",
                         "{\"a\"}",
                         "{1:2}",
                         "[1 2]",
                         "{} {}",
                         "tru",
                         "truex",
                         "nul",
                         "-",
                         "+1",
                         ".5",
                         "1e",
                         "1e+",
                         "0x10",
                         "\"abc",
                         "\"\\x\"",
                         "\"\\u12\"",
                         "[\"\\ud800\"]",
                         "[\"\\udc00\"]",
                         "[\"\\ud800\\u0041\"]",
                         "NaN",
                         "[Infinity]",
                         "{\"a\" 1}",
                         "[1]]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(scan(bad[i]) == JSCAN_INVALID, "accepted %s", bad[i]);
        ck_assert_msg(!cjson_accepts(bad[i]), "cJSON accepts %s", bad[i]);
    }
}
END_TEST

/* The differences listed in tests/fuzz/fuzz_json_scan.c, each on a known answer. */
START_TEST(test_cjson_leniencies_refused)
{
    const char *lenient[] = {
        "[01]",          "[-01]",       "[1.]",   "[1.e5]", "[-.5]", "[00]", /* 1: numbers */
        "[\"a\tb\"]",    "[\"a\x01\"]",                                      /* 2: control chars */
        "[\"\\uZZZZ\"]",                                                     /* 3: bad \u digits */
        "\x0c{}",        "[1,\x0b 2]",  "{\x1f}",                            /* 4: white space */
    };
    for (size_t i = 0; i < sizeof(lenient) / sizeof(lenient[0]); i++) {
        ck_assert_msg(cjson_accepts(lenient[i]), "cJSON refuses %s", lenient[i]);
        ck_assert_msg(scan(lenient[i]) == JSCAN_INVALID, "accepted %s", lenient[i]);
    }
    /* Long numbers are JSON; cJSON 1.7.15 (Debian) takes them too. */
    char num[128] = "[1.";
    memset(num + 3, '0', 70);
    strcpy(num + 73, "]");
    ck_assert(cjson_accepts(num));
    ck_assert_int_eq(scan(num), 2);
    ck_assert_int_eq(toks[1].end - toks[1].start, 72);
}
END_TEST

START_TEST(test_nesting_limit_is_cjsons)
{
    static char js[2 * (JSCAN_MAX_DEPTH + 1) + 1];
    for (int depth = JSCAN_MAX_DEPTH; depth <= JSCAN_MAX_DEPTH + 1; depth++) {
        memset(js, '[', (size_t)depth);
        memset(js + depth, ']', (size_t)depth);
        js[2 * depth] = '\0';
        int want_ok = depth <= JSCAN_MAX_DEPTH;
        ck_assert_int_eq(cjson_accepts(js), want_ok);
        ck_assert_int_eq(scan(js), want_ok ? depth : JSCAN_INVALID);
    }
    ck_assert_int_eq(toks[JSCAN_MAX_DEPTH - 1].parent, JSCAN_MAX_DEPTH - 2);
}
END_TEST

START_TEST(test_too_few_tokens_and_nul)
{
    jsmntok_t two[2];
    ck_assert_int_eq(jscan_parse("[1,2]", 5, two, 2), JSCAN_NOMEM);
    ck_assert_int_eq(jscan_parse("[1]", 3, two, 2), 2);
    ck_assert_int_eq(jscan_parse("{\"a\":1}", 7, two, 2), JSCAN_NOMEM);
    ck_assert_int_eq(jscan_parse("[\"a\0\"]", 6, toks, 8), JSCAN_INVALID);
    ck_assert_int_eq(jscan_parse("{}\0", 3, toks, 8), JSCAN_INVALID);
    ck_assert_int_eq(jscan_parse("[1] ", 3, toks, 8), 2); /* the length bounds the text */
    ck_assert_int_eq(jscan_parse("[12]", 2, toks, 8), JSCAN_INVALID);
}
END_TEST

START_TEST(test_utf8_variant)
{
    /* jscan_parse_utf8 is jscan_parse plus valid UTF-8 in every string. */
    static const char *const ok[] = {
        "{\"a\":\"caf\xc3\xa9\"}",                                  /* 2 bytes */
        "[\"\xe2\x82\xac\",\"\xef\xbf\xbf\"]",                      /* 3 bytes, U+FFFF */
        "{\"\xf0\x9f\x98\x80\":1}",                                 /* 4 bytes, in a key */
        "[\"\xf4\x8f\xbf\xbf\"]",                                   /* U+10FFFF */
        "[\"xxxxxxxxxxxxxxx\xc3\xa9xxxxxxxxxxxxxxxx\\n\xc3\xa9\"]", /* across 16-byte steps */
    };
    static const char *const bad[] = {
        "[\"\xc0\x80\"]",         /* overlong NUL */
        "[\"\xe0\x80\xaf\"]",     /* overlong '/' */
        "[\"\xed\xa0\x80\"]",     /* a surrogate */
        "[\"\xf4\x90\x80\x80\"]", /* above U+10FFFF */
        "[\"\xc3\"]",             /* cut by the closing quote */
        "[\"\x80\"]",             /* a lone continuation byte */
        "[\"\xff\"]",
        "{\"k\xe2\x82\":1}", /* in a key */
        "[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\"]",
    };
    jsmntok_t a[16], b[16];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int n = jscan_parse(ok[i], strlen(ok[i]), a, 16);
        ck_assert_int_gt(n, 0);
        unsigned wide;
        ck_assert_int_eq(jscan_parse_utf8(ok[i], strlen(ok[i]), b, 16, &wide), n);
        ck_assert_uint_eq(wide, 0);
        ck_assert_mem_eq(a, b, (size_t)n * sizeof(a[0]));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_gt(jscan_parse(bad[i], strlen(bad[i]), a, 16), 0); /* JSON, not UTF-8 */
        unsigned wide;
        ck_assert_int_eq(jscan_parse_utf8(bad[i], strlen(bad[i]), b, 16, &wide), JSCAN_INVALID);
    }
    /* Outside strings no byte >= 0x80 is JSON for either. */
    ck_assert_int_eq(jscan_parse("[1,\xc3\xa9]", 6, a, 16), JSCAN_INVALID);
    unsigned wide;
    ck_assert_int_eq(jscan_parse_utf8("[1,\xc3\xa9]", 6, a, 16, &wide), JSCAN_INVALID);
    /* Wide numbers: an exponent, or more than 15 characters. */
    const char *nums = "[1e2,123456789012345,1234567890123456,-0.5E-3,12.5,\"1e9\"]";
    ck_assert_int_eq(jscan_parse_utf8(nums, strlen(nums), a, 16, &wide), 7);
    ck_assert_uint_eq(wide, 3);
    ck_assert_uint_eq(jscan_utf8_char("\xc3\xa9", 2, 0), 2);
    ck_assert_uint_eq(jscan_utf8_char("\xc3\xa9", 1, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_scan");
    TCase *tc = tcase_create("scan");
    tcase_add_test(tc, test_spans_are_jsmns);
    tcase_add_test(tc, test_rfc8259_values);
    tcase_add_test(tc, test_cjson_leniencies_refused);
    tcase_add_test(tc, test_nesting_limit_is_cjsons);
    tcase_add_test(tc, test_utf8_variant);
    tcase_add_test(tc, test_too_few_tokens_and_nul);
    suite_add_tcase(s, tc);
    return check_run(s);
}
