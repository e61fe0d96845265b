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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *js = (const char *)data;
    int n = jscan_parse(js, size, got, MAX_TOKS);
    CHECK(n != JSCAN_NOMEM, "more than %d tokens", MAX_TOKS);
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
