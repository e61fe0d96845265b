/* Unit tests for lib/json_str: exact decoding, comparison, ASCII encoding, number grammar. */
#include <check.h>

#include "check_run.h"
#include <string.h>

#include "json_str.h"

/* Decodes lit (the inside of a string literal) and compares with want[0..want_len). */
static void expect_decode(const char *lit, const char *want, size_t want_len)
{
    char out[256];
    size_t n = 99;
    ck_assert_int_eq(jstr_decode(lit, strlen(lit), out, &n), 0);
    ck_assert_uint_eq(n, want_len);
    ck_assert(memcmp(out, want, n) == 0);
    ck_assert(jstr_equals(lit, strlen(lit), want, want_len));
    ck_assert(jstr_valid(lit, strlen(lit)));
}

static void expect_invalid(const char *lit)
{
    char out[256];
    size_t n;
    ck_assert_int_eq(jstr_decode(lit, strlen(lit), out, &n), -1);
    ck_assert(!jstr_valid(lit, strlen(lit)));
}

START_TEST(test_decode_keeps_nul_and_pairs)
{
    expect_decode("nul\\u0000a", "nul\0a", 5);
    expect_decode("\\ud83d\\uded2", "\xF0\x9F\x9B\x92", 4);
    expect_decode("\\u00E9\\/\\\\\\\"\\b\\f\\n\\r\\t", "\xC3\xA9/\\\"\b\f\n\r\t", 10);
    expect_decode("", "", 0);
    ck_assert(!jstr_equals("nul\\u0000a", 10, "nul", 3)); /* never cut at the NUL */
    ck_assert(!jstr_equals("abc", 3, "abcd", 4));
}
END_TEST

START_TEST(test_decode_refuses_what_json_refuses)
{
    expect_invalid("\\ud800");        /* high surrogate alone */
    expect_invalid("\\udc00\\ud800"); /* reversed pair */
    expect_invalid("\\ud800\\u0041"); /* high surrogate, then no low one */
    expect_invalid("\\uZZZZ");        /* cJSON reads this as U+0000 */
    expect_invalid("\\x41");
    expect_invalid("a\tb"); /* raw control character */
    expect_invalid("\\");
    expect_invalid("\\u12");
}
END_TEST

START_TEST(test_encode_ascii_as_the_sdks)
{
    char out[128];
    size_t n = jstr_encode_ascii("caf\xC3\xA9 \xF0\x9F\x9B\x92\"\\\x01\x7F\n\0x", 17, out);
    out[n] = '\0';
    ck_assert_str_eq(out, "\"caf\\u00e9 \\ud83d\\uded2\\\"\\\\\\u0001\\u007f\\n\\u0000x\"");
    ck_assert_uint_eq(jstr_encode_ascii("\xC3", 1, out), 0); /* not UTF-8 */
    ck_assert_uint_eq(jstr_encode_ascii("\xED\xA0\x80", 3, out), 0);
}
END_TEST

START_TEST(test_number_grammar)
{
    ck_assert_int_eq(jstr_number("0", 1), JSTR_INTEGER);
    ck_assert_int_eq(jstr_number("-0", 2), JSTR_INTEGER);
    ck_assert_int_eq(jstr_number("9007199254740993", 16), JSTR_INTEGER);
    ck_assert_int_eq(jstr_number("1.5", 3), JSTR_DECIMAL);
    ck_assert_int_eq(jstr_number("1e3", 3), JSTR_DECIMAL);
    ck_assert_int_eq(jstr_number("-2.5E-3", 7), JSTR_DECIMAL);
    const char *bad[] = {"01", "1.", ".5", "+1", "-", "1e", "1e+", "1.e5", "0x1", "1 ", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(jstr_number(bad[i], strlen(bad[i])) == JSTR_NOT_NUMBER, "%s", bad[i]);
}
END_TEST

START_TEST(test_number_fits_double)
{
    const char *fits[] = {"0",
                          "-0",
                          "5.5",
                          "0.1",
                          "19.99",
                          "1e3",
                          "9007199254740992",
                          "0.30000000000000004",
                          "5e-324",
                          "1e308",
                          "0e999999999999999999"};
    const char *not_fits[] = {"9007199254740993",
                              "1e400",
                              "1e-400",
                              "4.9e-324",
                              "0.1000000000000000001",
                              "1e9223372036854775807",
                              "-1e-9223372036854775808",
                              "123456789012345678901"};
    for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++)
        ck_assert_msg(jstr_number_fits_double(fits[i], strlen(fits[i])), "%s", fits[i]);
    for (size_t i = 0; i < sizeof(not_fits) / sizeof(not_fits[0]); i++)
        ck_assert_msg(!jstr_number_fits_double(not_fits[i], strlen(not_fits[i])), "%s",
                      not_fits[i]);
}
END_TEST

START_TEST(test_fits_double_huge_exponents)
{
    /* Found by fuzz_order (UBSan): the exponent overflowed a long. */
    const char *out_of_range[] = {"19999e9999999999999999999999999999999999990",
                                  "1000e9223372036854775807", "1e-9223372036854775808",
                                  "0.5e99999999999999999999", "1.5e-400"};
    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++)
        ck_assert_msg(!jstr_number_fits_double(out_of_range[i], strlen(out_of_range[i])), "%s",
                      out_of_range[i]);
    const char *fit[] = {"0e99999999999999999999",
                         "-0.0e-99999999999999999",
                         "1.5e300",
                         "123456789012345e-307",
                         "5e-324",
                         "1e308"};
    for (size_t i = 0; i < sizeof(fit) / sizeof(fit[0]); i++)
        ck_assert_msg(jstr_number_fits_double(fit[i], strlen(fit[i])), "%s", fit[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_str");
    TCase *tc = tcase_create("json_str");
    tcase_add_test(tc, test_decode_keeps_nul_and_pairs);
    tcase_add_test(tc, test_decode_refuses_what_json_refuses);
    tcase_add_test(tc, test_encode_ascii_as_the_sdks);
    tcase_add_test(tc, test_number_grammar);
    tcase_add_test(tc, test_number_fits_double);
    tcase_add_test(tc, test_fits_double_huge_exponents);
    suite_add_tcase(s, tc);
    return check_run(s);
}
