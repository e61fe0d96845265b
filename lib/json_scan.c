/*
 * json_scan: a strict single-pass JSON tokenizer. The order path used to parse every message
 * twice (cJSON to validate, jsmn for the spans) and then re-check strings and numbers that
 * cJSON lets through; this does all of it in one pass over the bytes. The differences from
 * cJSON are listed in tests/fuzz/fuzz_json_scan.c, which checks them.
 */
#include "json_scan.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline size_t jscan_ws(const unsigned char *s, size_t len, size_t i)
{
    if (i < len && s[i] > ' ')
        return i; /* the usual case: no white space at all */
    while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

static int jscan_hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = (v << 4) | d;
    }
    *out = v;
    return 0;
}

#ifndef __SSE2__
/* 1 when one of the 8 bytes of w is '"', '\\' or a control character (< 0x20). */
static int jscan_special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high ? 1 : 0;
}
#endif

/* Checks the escape at s[i] (a backslash); returns the index after it, or 0 when invalid. */
static size_t jscan_escape(const unsigned char *s, size_t len, size_t i)
{
    if (i + 1 >= len)
        return 0;
    switch (s[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return i + 2;
    case 'u':
        break;
    default:
        return 0;
    }
    unsigned cp, lo;
    if (i + 6 > len || jscan_hex4(s + i + 2, &cp) != 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0; /* a low surrogate first */
    i += 6;
    if (cp < 0xD800 || cp > 0xDBFF)
        return i;
    if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u' || jscan_hex4(s + i + 2, &lo) != 0 ||
        lo < 0xDC00 || lo > 0xDFFF)
        return 0; /* a high surrogate without its low half */
    return i + 6;
}

/* The index of the first '"', '\\' or control character (< 0x20) in s[i..len) (with utf8, or
 * byte >= 0x80), or len. */
static inline __attribute__((always_inline)) size_t
jscan_special(const unsigned char *s, size_t len, size_t i, const int utf8)
{
#ifdef __SSE2__
    /* 16 bytes a step (SSE2 is part of x86-64); the mask says where the first one is. */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  c1f = _mm_set1_epi8(0x1F);
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                         _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v));
        unsigned mask = (unsigned)_mm_movemask_epi8(utf8 ? _mm_or_si128(hit, v) : hit);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#else
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (jscan_special8(w) || (utf8 && (w & 0x8080808080808080ull)))
            break;
        i += 8;
    }
#endif
    while (i < len && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20 && (!utf8 || s[i] < 0x80))
        i++;
    return i;
}

size_t jscan_utf8_char(const char *str, size_t len, size_t i)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[i], cp;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t k = 1; k <= n; k++) {
        if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return i + n + 1;
}

/* The index of the closing quote of the string opened at s[i], or 0 when it is invalid. */
static inline __attribute__((always_inline)) size_t jscan_string(const unsigned char *s, size_t len,
                                                                 size_t i, const int utf8)
{
    i++;
    for (;;) {
        i = jscan_special(s, len, i, utf8);
        if (i >= len)
            return 0;
        unsigned c = s[i];
        if (c == '"')
            return i;
        if (c < 0x20)
            return 0;
        if (utf8 && c >= 0x80)
            i = jscan_utf8_char((const char *)s, len, i);
        else
            i = jscan_escape(s, len, i);
        if (i == 0)
            return 0;
    }
}

static size_t jscan_digits(const unsigned char *s, size_t len, size_t i)
{
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* The index after the number starting at s[i] (RFC 8259 grammar), or 0 when there is none;
 * *exp is set when it has an exponent. */
static size_t jscan_number(const unsigned char *s, size_t len, size_t i, int *exp)
{
    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return 0;
    i = s[i] == '0' ? i + 1 : jscan_digits(s, len, i);
    if (i < len && s[i] == '.') {
        size_t j = jscan_digits(s, len, i + 1);
        if (j == i + 1)
            return 0;
        i = j;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        *exp = 1;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t j = jscan_digits(s, len, i);
        if (j == i)
            return 0;
        i = j;
    }
    return i;
}

/* jscan_scalar for a number or a literal; a wide number (exponent, or more than 15
 * characters) is counted in *wide when wide is not NULL. */
static __attribute__((noinline)) size_t jscan_primitive(const unsigned char *s, size_t len,
                                                        size_t i, jsmntok_t *t, unsigned *wide)
{
    size_t end;
    t->type = JSMN_PRIMITIVE;
    if (s[i] == 't' || s[i] == 'n') {
        end = len - i >= 4 && memcmp(s + i, s[i] == 't' ? "true" : "null", 4) == 0 ? i + 4 : 0;
    } else if (s[i] == 'f') {
        end = len - i >= 5 && memcmp(s + i, "false", 5) == 0 ? i + 5 : 0;
    } else {
        int exp = 0;
        end = jscan_number(s, len, i, &exp);
        if (wide && end && (exp || end - i > 15))
            (*wide)++;
    }
    t->end = (int)end;
    return end;
}

/* The index after a scalar value (string, number, literal) at s[i] and its type and span;
 * 0 when there is none. Inlined: it runs for every value and key. */
static inline __attribute__((always_inline)) size_t jscan_scalar(const unsigned char *s, size_t len,
                                                                 size_t i, jsmntok_t *t,
                                                                 const int utf8, unsigned *wide)
{
    if (s[i] != '"')
        return jscan_primitive(s, len, i, t, wide);
    size_t end = jscan_string(s, len, i, utf8);
    t->type = JSMN_STRING;
    t->start = (int)i + 1;
    t->end = (int)end;
    return end ? end + 1 : 0;
}

/* The container enclosing token c (an object's member value has its key as parent). */
static int jscan_enclosing(const jsmntok_t *toks, int c)
{
    int p = toks[c].parent;
    return p >= 0 && toks[p].type == JSMN_STRING ? toks[p].parent : p;
}

/* Reads an object's key at s[i] and the colon after it; returns the index after the colon,
 * or 0 when invalid. */
static inline __attribute__((always_inline)) size_t jscan_key(const unsigned char *s, size_t len,
                                                              size_t i, jsmntok_t *toks, unsigned n,
                                                              int obj, const int utf8)
{
    if (i >= len || s[i] != '"')
        return 0;
    jsmntok_t *k = &toks[n];
    size_t end = jscan_scalar(s, len, i, k, utf8, NULL); /* a string */
    k->size = 0;
    k->parent = obj;
    toks[obj].size++;
    i = end ? jscan_ws(s, len, end) : len;
    return i < len && s[i] == ':' ? i + 1 : 0;
}

/* jscan_parse, and with utf8 jscan_parse_utf8 (the flag is a constant in each: two copies). */
static inline __attribute__((always_inline)) int
jscan_run(const char *js, size_t len, jsmntok_t *toks, unsigned cap, const int utf8, unsigned *wide)
{
    const unsigned char *s = (const unsigned char *)js;
    size_t i = 0;
    unsigned n = 0;
    int cur = -1, depth = 0; /* the innermost open container, and how many are open */
    int in_object = 0;       /* cur is an object (kept here: read for every token) */
    if (len >= INT_MAX)
        return JSCAN_INVALID;
    for (;;) {
        /* A value is expected at s[i]. */
        i = jscan_ws(s, len, i);
        if (i >= len)
            return JSCAN_INVALID;
        if (n >= cap)
            return JSCAN_NOMEM;
        jsmntok_t *t = &toks[n];
        t->parent = in_object ? (int)n - 1 : cur;
        t->start = (int)i;
        t->size = 0;
        if (t->parent >= 0)
            toks[t->parent].size++;
        n++;
        if (s[i] == '{' || s[i] == '[') {
            if (depth == JSCAN_MAX_DEPTH)
                return JSCAN_INVALID;
            depth++;
            in_object = s[i] == '{';
            t->type = in_object ? JSMN_OBJECT : JSMN_ARRAY;
            t->end = -1;
            cur = (int)n - 1;
            i = jscan_ws(s, len, i + 1);
            if (i < len && s[i] == (in_object ? '}' : ']'))
                goto close;
            if (!in_object)
                continue;
            goto key;
        }
        if ((i = jscan_scalar(s, len, i, t, utf8, wide)) == 0)
            return JSCAN_INVALID;
        for (;;) {
            /* After a value: a comma, the end of the innermost container, or the end. */
            i = jscan_ws(s, len, i);
            if (cur < 0)
                return i == len ? (int)n : JSCAN_INVALID;
            if (i >= len)
                return JSCAN_INVALID;
            if (s[i] == ',') {
                i = jscan_ws(s, len, i + 1);
                if (!in_object)
                    break;
                goto key;
            }
            if (s[i] != (in_object ? '}' : ']'))
                return JSCAN_INVALID;
        close:
            toks[cur].end = (int)i + 1;
            i++;
            depth--;
            cur = jscan_enclosing(toks, cur);
            in_object = cur >= 0 && toks[cur].type == JSMN_OBJECT;
        }
        continue;
    key:
        if (n >= cap)
            return JSCAN_NOMEM;
        if ((i = jscan_key(s, len, i, toks, n, cur, utf8)) == 0)
            return JSCAN_INVALID;
        n++;
    }
}

int jscan_parse(const char *js, size_t len, jsmntok_t *toks, unsigned cap)
{
    return jscan_run(js, len, toks, cap, 0, NULL);
}

int jscan_parse_utf8(const char *js, size_t len, jsmntok_t *toks, unsigned cap, unsigned *wide)
{
    *wide = 0;
    return jscan_run(js, len, toks, cap, 1, wide);
}
