/*
 * fuzz_json_scan: differential libFuzzer target for lib/json_scan against the parse the order
 * path used before it (cJSON 1.7.15 to validate, then jsmn 1.1.0 in strict mode with parent
 * links for the spans, then json_str's checks of every string and number token).
 *
 * jscan_parse must accept exactly the inputs the reference accepts, with exactly jsmn's tokens
 * (type, start, end, size, parent, count). What cJSON lets through and RFC 8259 does not, all
 * refused by jscan_parse (the reference refuses them through jsmn and json_str;
 * tests/unit/test_json_scan.c shows each on a known answer):
 *   1. numbers outside the grammar: 01, -01, 00, 1., 1.e5, -.5 (cJSON reads them with strtod);
 *   2. raw control characters (bytes 0x01-0x1F) inside strings;
 *   3. \u escapes with non-hex digits ("\uZZZZ" reads as U+0000);
 *   4. white space other than space, tab, LF and CR (cJSON skips every byte <= 0x20).
 * Nothing cJSON 1.7.15 (Debian's, whose numbers have no length limit) refuses is accepted.
 * The same on both sides: lone or reversed surrogates are refused, nesting deeper than 1,000
 * arrays/objects is refused, only true/false/null literals, nothing but white space after the
 * value. The reference runs only on inputs without NUL bytes (the order path refuses those
 * before parsing; jsmn stops at a NUL); jscan_parse must refuse every input holding one.
 * jsmn reads each input with a space appended (strict jsmn refuses a primitive that ends the
 * input, "true" alone; the old path had told non-objects apart with cJSON before).
 *
 * jscan_parse_utf8 (the order path's scan, which also checks the strings' UTF-8) must give
 * jscan_parse's answer on every input that is valid UTF-8 as a whole, and refuse every other:
 * the whole-input check the order path ran before it (order_utf8_valid) is the reference, and
 * is itself held here to well_formed_utf8, written from the Unicode Standard's table 3-7 of
 * well-formed byte sequences independently of both. Its count of wide numbers (exponent, or
 * more than 15 characters) must be that of its tokens, and every other number must pass
 * jstr_number_fits_double_valid (the order path skips that check when there is no wide one).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "json_scan.h"
#include "json_str.h"
#include "order.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_json_scan: invariant failed: %s: ", #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_TOKS 8192
static jsmntok_t ref[MAX_TOKS], got[MAX_TOKS];
static char spaced[8192 + 1];

/* jsmn's tokens for js[0..len): jsmn in strict mode refuses a primitive at the very end of the
 * input ("true" alone, never an order), so it reads the text with one space after it. */
static int jsmn_tokens(const char *js, size_t len)
{
    CHECK(len < sizeof(spaced), "input longer than %zu", sizeof(spaced) - 1);
    memcpy(spaced, js, len);
    spaced[len] = ' ';
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, spaced, len + 1, ref, MAX_TOKS);
    CHECK(n != JSMN_ERROR_NOMEM, "more than %d tokens", MAX_TOKS);
    return n;
}

/* The previous order path's verdict: the jsmn token count, or -1 when it refused. */
static int reference(const char *js, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(js, len, &end, 0);
    while (root && end < js + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    int valid = root && end == js + len;
    cJSON_Delete(root);
    if (!valid)
        return -1;
    int n = jsmn_tokens(js, len);
    if (n < 1)
        return -1;
    for (int i = 0; i < n; i++) {
        const char *s = js + ref[i].start;
        size_t l = (size_t)(ref[i].end - ref[i].start);
        if (ref[i].type == JSMN_STRING && !jstr_valid(s, l))
            return -1;
        if (ref[i].type == JSMN_PRIMITIVE && (*s == '-' || (*s >= '0' && *s <= '9')) &&
            jstr_number(s, l) == JSTR_NOT_NUMBER)
            return -1;
    }
    return n;
}

static jsmntok_t got8[MAX_TOKS];

/* Unicode 15, table 3-7: the well-formed UTF-8 byte sequences, range by range (NUL excluded:
 * the order path refuses it with invalid UTF-8). */
static int well_formed_utf8(const uint8_t *s, size_t len)
{
    static const struct {
        uint8_t lo[4], hi[4];
        int n;
    } seq[] = {
        {{0x01}, {0x7F}, 1},
        {{0xC2, 0x80}, {0xDF, 0xBF}, 2},
        {{0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}, 3},
        {{0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}, 3},
        {{0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}, 3},
        {{0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}, 3},
        {{0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}, 4},
        {{0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}, 4},
        {{0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, 4},
    };
    size_t i = 0;
    while (i < len) {
        size_t k, m = sizeof(seq) / sizeof(seq[0]);
        for (k = 0; k < m; k++) {
            int ok = i + (size_t)seq[k].n <= len;
            for (int b = 0; ok && b < seq[k].n; b++)
                ok = s[i + b] >= seq[k].lo[b] && s[i + b] <= seq[k].hi[b];
            if (ok)
                break;
        }
        if (k == m)
            return 0;
        i += (size_t)seq[k].n;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *js = (const char *)data;
    int n = jscan_parse(js, size, got, MAX_TOKS);
    CHECK(n != JSCAN_NOMEM, "more than %d tokens", MAX_TOKS);
    int utf8 = well_formed_utf8(data, size);
    CHECK(order_utf8_valid(js, size) == utf8, "order_utf8_valid says %d: %.*s", !utf8,
          (int)(size < 200 ? size : 200), js);
    unsigned wide = 0, want_wide = 0;
    int n8 = jscan_parse_utf8(js, size, got8, MAX_TOKS, &wide);
    for (int i = 0; i < n8; i++) {
        const char *t = js + got8[i].start;
        size_t l = (size_t)(got8[i].end - got8[i].start);
        if (got8[i].type != JSMN_PRIMITIVE || (*t != '-' && (*t < '0' || *t > '9')))
            continue;
        int is_wide = l > 15 || memchr(t, 'e', l) || memchr(t, 'E', l);
        want_wide += (unsigned)is_wide;
        /* The order path skips the doubles check when there is no wide number. */
        CHECK(is_wide || jstr_number_fits_double_valid(t, l), "narrow %.*s does not fit", (int)l,
              t);
    }
    CHECK(n8 < 1 || wide == want_wide, "wide numbers %u, counted %u: %.200s", wide, want_wide, js);
    CHECK(n8 == (utf8 ? n : JSCAN_INVALID), "jscan_parse %d, utf8 %d, jscan_parse_utf8 %d: %.*s", n,
          utf8, n8, (int)(size < 200 ? size : 200), js);
    if (n8 > 0)
        CHECK(memcmp(got8, got, (size_t)n8 * sizeof(got[0])) == 0, "tokens differ: %.200s", js);
    if (memchr(data, '\0', size)) {
        CHECK(n == JSCAN_INVALID, "accepted a NUL byte: %d tokens", n);
        return 0;
    }
    int want = reference(js, size);
    CHECK(n == (want > 0 ? want : JSCAN_INVALID), "reference says %d tokens, jscan %d: %.*s", want,
          n, (int)(size < 200 ? size : 200), js);
    for (int i = 0; i < n; i++)
        CHECK(got[i].type == ref[i].type && got[i].start == ref[i].start &&
                  got[i].end == ref[i].end && got[i].size == ref[i].size &&
                  got[i].parent == ref[i].parent,
              "token %d: jscan {%d %d %d %d %d} jsmn {%d %d %d %d %d}: %.200s", i, got[i].type,
              got[i].start, got[i].end, got[i].size, got[i].parent, ref[i].type, ref[i].start,
              ref[i].end, ref[i].size, ref[i].parent, js);
    return 0;
}
