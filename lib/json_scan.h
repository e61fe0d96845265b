/*
 * json_scan: one strict pass over a JSON text (RFC 8259 exactly, nesting up to 1,000 levels)
 * that validates it and writes the byte spans of its values as tokens in jsmn's layout
 * (jsmntok_t with parent links), so no tree is built and nothing is allocated.
 * Pure: no allocation, no I/O. tests/fuzz/fuzz_json_scan.c checks it against cJSON + jsmn.
 */
#ifndef ORDERSINK_JSON_SCAN_H
#define ORDERSINK_JSON_SCAN_H

#include <stddef.h>

/* The token layout is jsmn's (Debian libjsmn-dev), with parent links; only its type is used. */
#ifndef JSMN_PARENT_LINKS
#define JSMN_PARENT_LINKS
#endif
#ifndef JSMN_H
#define JSMN_HEADER
#endif
#include <jsmn.h>

/* Deepest nesting of arrays and objects accepted: cJSON's CJSON_NESTING_LIMIT. */
#define JSCAN_MAX_DEPTH 1000

enum {
    JSCAN_INVALID = -1, /* not exactly one JSON value with only white space around it */
    JSCAN_NOMEM = -2,   /* valid so far, but more than cap tokens are needed */
};

/*
 * Scans js[0..len): one JSON value (RFC 8259: numbers by its grammar, strings without raw
 * control characters, escapes \" \\ \/ \b \f \n \r \t \uXXXX with a high surrogate always
 * followed by its low half and no lone low surrogate, literals true/false/null, white space
 * only space, tab, LF and CR) nested at most JSCAN_MAX_DEPTH deep. Bytes >= 0x80 inside
 * strings are not checked (UTF-8 validity is the caller's).
 * Writes the tokens as jsmn (strict mode, parent links) writes them for the same text: a
 * string's span is inside its quotes, a key has size 1 and is its value's parent, an object's
 * size counts its members, an array's its elements; the first token is the whole value.
 * Returns the token count (>= 1), JSCAN_INVALID, or JSCAN_NOMEM when cap tokens are too few.
 */
int jscan_parse(const char *js, size_t len, jsmntok_t *toks, unsigned cap);

/*
 * jscan_parse that also requires every string's bytes to be valid UTF-8 (jscan_utf8_char).
 * Outside strings a JSON text is ASCII, so an accepted text is valid UTF-8 as a whole and
 * holds no NUL: the order path needs no separate pass. An input jscan_parse accepts but with
 * invalid UTF-8 in a string is JSCAN_INVALID. *wide counts the number tokens with an exponent
 * or of more than 15 characters (the only ones a double may not hold exactly), so that a
 * caller checking numbers knows when there is nothing to check.
 */
int jscan_parse_utf8(const char *js, size_t len, jsmntok_t *toks, unsigned cap, unsigned *wide);

/*
 * The index after the UTF-8 sequence that starts at s[i] (a byte >= 0x80) in s[0..len): two to
 * four bytes, no overlong form, no surrogate, nothing above U+10FFFF. 0 when it is not one.
 */
size_t jscan_utf8_char(const char *s, size_t len, size_t i);

#endif
