/*
 * fuzz_json_str: differential target for lib/json_str against cJSON, the library it stands in
 * for where values must stay exact. For any bytes b taken as the inside of a string literal:
 * - jstr_decode accepts  =>  cJSON accepts "b", and (when the value holds no NUL, which cJSON
 *   cannot represent) both give the same bytes;
 * - cJSON accepts "b", b has no raw control character and no "\\u" with non-hex digits (cJSON
 *   reads those as U+0000; JSON has no such escape)  =>  jstr_decode accepts;
 * - jstr_equals(b, decoded) holds, and differs for a changed value;
 * - jstr_encode_ascii(decoded) is printable ASCII, and decodes (by us and by cJSON) to the value.
 * For b taken as a number literal: jstr_number accepts => cJSON parses [b] to strtod(b).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_str.h"
#include "order.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_json_str: invariant failed: %s: ", #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* cJSON reads "\\u" followed by non-hex digits as U+0000 instead of refusing it (JSON has no
 * such escape): the one place where refusing is right and cJSON is not. */
static int has_bad_u_escape(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != '\\')
            continue;
        if (b[i + 1] == 'u')
            for (size_t k = 2; k < 6; k++)
                if (i + k >= n || !strchr("0123456789abcdefABCDEF", b[i + k]) || !b[i + k])
                    return 1;
        i++;
    }
    return 0;
}

static void check_string(const char *b, size_t n)
{
    char *lit = malloc(n + 3), *dec = malloc(n + 1), *enc = NULL, *dec2 = NULL;
    CHECK(lit && dec, "malloc");
    lit[0] = '"';
    memcpy(lit + 1, b, n);
    lit[n + 1] = '"';
    lit[n + 2] = '\0';
    cJSON *ref = cJSON_ParseWithLength(lit, n + 2);
    int ref_ok = cJSON_IsString(ref);
    size_t dn = 0;
    int ok = jstr_decode(b, n, dec, &dn) == 0;
    int raw_ctl = 0, has_quote = 0;
    for (size_t i = 0; i < n; i++) {
        raw_ctl |= (unsigned char)b[i] < 0x20;
        /* An unescaped quote ends the literal early: cJSON sees a shorter string. */
        has_quote |= b[i] == '"';
        i += b[i] == '\\'; /* the escaped character is not a quote that ends it */
    }
    if (ok && !has_quote) {
        CHECK(ref_ok, "we accept what cJSON refuses: %.*s", (int)n, b);
        if (!memchr(dec, '\0', dn))
            CHECK(strlen(ref->valuestring) == dn && memcmp(ref->valuestring, dec, dn) == 0,
                  "decoded values differ for %.*s", (int)n, b);
    }
    CHECK(jstr_valid(b, n) == ok, "jstr_valid and jstr_decode disagree");
    if (ref_ok && !raw_ctl && !has_quote && !has_bad_u_escape(b, n))
        CHECK(ok, "cJSON accepts what we refuse: %.*s", (int)n, b);
    if (ok) {
        CHECK(jstr_equals(b, n, dec, dn), "equals(decoded) fails");
        if (dn > 0) {
            dec[dn - 1] ^= 1;
            CHECK(!jstr_equals(b, n, dec, dn), "equals ignores a changed byte");
            dec[dn - 1] ^= 1;
        }
        dec[dn] = 'x';
        CHECK(!jstr_equals(b, n, dec, dn + 1), "equals ignores length");
        { /* the decoded value is valid UTF-8 (NULs included): escapes make only scalars */
            enc = malloc(JSTR_ENCODED_MAX(dn) + 1);
            CHECK(enc, "malloc");
            size_t en = jstr_encode_ascii(dec, dn, enc);
            CHECK(en >= 2, "encode refused a decoded value");
            {
                for (size_t i = 0; i < en; i++)
                    CHECK(enc[i] >= 0x20 && enc[i] < 0x7F, "encoded byte %02x", enc[i]);
                dec2 = malloc(en);
                size_t dn2 = 0;
                CHECK(dec2 && jstr_decode(enc + 1, en - 2, dec2, &dn2) == 0, "re-decode failed");
                CHECK(dn2 == dn && memcmp(dec2, dec, dn) == 0, "round trip changed the value");
                cJSON *back = cJSON_ParseWithLength(enc, en);
                CHECK(cJSON_IsString(back), "cJSON refuses our encoding %.*s", (int)en, enc);
                if (!memchr(dec, '\0', dn))
                    CHECK(strlen(back->valuestring) == dn &&
                              memcmp(back->valuestring, dec, dn) == 0,
                          "cJSON reads our encoding as another value");
                cJSON_Delete(back);
            }
        }
    }
    cJSON_Delete(ref);
    free(lit);
    free(dec);
    free(enc);
    free(dec2);
}

static void check_number(const char *b, size_t n)
{
    enum jstr_number_kind k = jstr_number(b, n);
    if (k == JSTR_NOT_NUMBER || n > 200)
        return;
    char buf[256];
    snprintf(buf, sizeof(buf), "[%.*s]", (int)n, b);
    cJSON *ref = cJSON_Parse(buf);
    CHECK(cJSON_IsArray(ref) && cJSON_IsNumber(cJSON_GetArrayItem(ref, 0)),
          "cJSON refuses number %s", buf);
    double want = strtod(buf + 1, NULL), got = cJSON_GetArrayItem(ref, 0)->valuedouble;
    CHECK(memcmp(&want, &got, sizeof(got)) == 0 || (want != want && got != got),
          "cJSON reads %s as %.17g", buf, got);
    for (size_t i = 0; i < n; i++)
        if (k == JSTR_INTEGER)
            CHECK(b[i] == '-' || (b[i] >= '0' && b[i] <= '9'), "integer with %c", b[i]);
    cJSON_Delete(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    if (order_utf8_valid(b, size)) /* as in the order path: the message was checked first */
        check_string(b, size);
    check_number(b, size);
    return 0;
}
