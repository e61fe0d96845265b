/*
 * json_str: JSON string and number literals, byte-exact. Used where a value must reach Cosmos
 * exactly as the message had it (document id, partition key), where a general parser would
 * cut strings at NUL or turn numbers into doubles. tests/fuzz/fuzz_json_str.c checks it
 * against cJSON.
 */
#include "json_str.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int jstr_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t jstr_put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape at in[*i] (in[*i] == '\\') into out; advances *i past it. Returns the
 * bytes written, or 0 when the escape is invalid. */
static size_t jstr_escape(const char *in, size_t len, size_t *i, char *out)
{
    size_t p = *i + 1;
    if (p >= len)
        return 0;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = in[p] ? strchr(from, in[p]) : NULL;
    if (hit) {
        *out = to[hit - from];
        *i = p + 1;
        return 1;
    }
    unsigned cp, lo;
    if (in[p] != 'u' || p + 5 > len || jstr_hex4(in + p + 1, &cp) != 0)
        return 0;
    p += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return 0; /* a low surrogate first */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p + 6 > len || in[p] != '\\' || in[p + 1] != 'u' || jstr_hex4(in + p + 2, &lo) != 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return 0; /* a high surrogate without its low half */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    *i = p;
    return jstr_put_utf8(cp, out);
}

int jstr_decode(const char *in, size_t len, char *out, size_t *out_len)
{
    size_t n = 0, i = 0;
    while (i < len) {
        const char *bs = memchr(in + i, '\\', len - i);
        size_t run = bs ? (size_t)(bs - (in + i)) : len - i;
        for (size_t k = 0; k < run; k++)
            if ((unsigned char)in[i + k] < 0x20)
                return -1;
        memmove(out + n, in + i, run);
        n += run;
        i += run;
        if (i == len)
            break;
        size_t w = jstr_escape(in, len, &i, out + n);
        if (w == 0)
            return -1;
        n += w;
    }
    *out_len = n;
    return 0;
}

int jstr_valid(const char *in, size_t len)
{
    size_t i = 0;
    char tmp[4];
    while (i < len) {
        if ((unsigned char)in[i] < 0x20)
            return 0;
        if (in[i] != '\\')
            i++;
        else if (jstr_escape(in, len, &i, tmp) == 0)
            return 0;
    }
    return 1;
}

/* jstr_equals for a literal holding an escape, longer than lit. */
static int jstr_equals_escaped(const char *in, size_t len, const char *lit, size_t lit_len)
{
    size_t i = 0, n = 0;
    char tmp[4];
    while (i < len) {
        if (in[i] != '\\') {
            if (n >= lit_len || in[i] != lit[n] || (unsigned char)in[i] < 0x20)
                return 0;
            i++, n++;
            continue;
        }
        size_t w = jstr_escape(in, len, &i, tmp);
        if (w == 0 || n + w > lit_len || memcmp(tmp, lit + n, w) != 0)
            return 0;
        n += w;
    }
    return n == lit_len;
}

int jstr_equals_rest(const char *in, size_t len, const char *lit, size_t lit_len)
{
    /* A literal as long as lit equals it only without any escape (see jstr_equals). */
    if (len == lit_len)
        return memcmp(in, lit, len) == 0 && !memchr(in, '\\', len);
    return memchr(in, '\\', len) ? jstr_equals_escaped(in, len, lit, lit_len) : 0;
}

/* Reads one UTF-8 character at s[*i]; returns its code point or -1 when invalid. */
static long jstr_next_cp(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i], cp, need;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07;
    else
        return -1;
    if (*i + need >= n)
        return -1;
    for (unsigned k = 1; k <= need; k++) {
        if ((s[*i + k] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += need + 1;
    return (long)cp;
}

static size_t jstr_put_u(unsigned unit, char *out)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'u';
    out[2] = hex[(unit >> 12) & 15];
    out[3] = hex[(unit >> 8) & 15];
    out[4] = hex[(unit >> 4) & 15];
    out[5] = hex[unit & 15];
    return 6;
}

size_t jstr_encode_ascii(const char *str, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0, i = 0;
    out[o++] = '"';
    while (i < n) {
        long cp = jstr_next_cp(s, n, &i);
        if (cp < 0)
            return 0;
        const char *short_esc = NULL;
        switch (cp) {
        case '"':
            short_esc = "\\\"";
            break;
        case '\\':
            short_esc = "\\\\";
            break;
        case '\b':
            short_esc = "\\b";
            break;
        case '\f':
            short_esc = "\\f";
            break;
        case '\n':
            short_esc = "\\n";
            break;
        case '\r':
            short_esc = "\\r";
            break;
        case '\t':
            short_esc = "\\t";
            break;
        default:
            break;
        }
        if (short_esc) {
            out[o++] = short_esc[0];
            out[o++] = short_esc[1];
        } else if (cp >= 0x20 && cp < 0x7F) {
            out[o++] = (char)cp;
        } else if (cp < 0x10000) {
            o += jstr_put_u((unsigned)cp, out + o);
        } else {
            unsigned v = (unsigned)cp - 0x10000;
            o += jstr_put_u(0xD800 + (v >> 10), out + o);
            o += jstr_put_u(0xDC00 + (v & 0x3FF), out + o);
        }
    }
    out[o++] = '"';
    return o;
}

static size_t jstr_digits(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* jstr_number; *exponent says whether the number has one. */
static enum jstr_number_kind jstr_number_exp(const char *s, size_t len, int *exponent)
{
    size_t i = 0;
    *exponent = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return JSTR_NOT_NUMBER;
    i = s[i] == '0' ? i + 1 : jstr_digits(s, len, i);
    enum jstr_number_kind kind = JSTR_INTEGER;
    if (i < len && s[i] == '.') {
        size_t j = jstr_digits(s, len, i + 1);
        if (j == i + 1)
            return JSTR_NOT_NUMBER;
        i = j;
        kind = JSTR_DECIMAL;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t j = jstr_digits(s, len, i);
        if (j == i)
            return JSTR_NOT_NUMBER;
        i = j;
        kind = JSTR_DECIMAL;
        *exponent = 1;
    }
    return i == len ? kind : JSTR_NOT_NUMBER;
}

enum jstr_number_kind jstr_number(const char *s, size_t len)
{
    int exponent;
    return jstr_number_exp(s, len, &exponent);
}

/* A number's decimal value as significant digits (no leading or trailing zeros) and the
 * power of ten of the first one; zero has no digits. */
struct jstr_decimal {
    int negative;
    char digits[800];
    size_t n;
    long exp10;
};

/* Reads a literal of the JSON number grammar (also the output of printf's %e). Returns 0, or
 * -1 when it has more significant digits than fit. */
static int jstr_decimal_parse(const char *s, size_t len, struct jstr_decimal *d)
{
    size_t i = 0;
    long point = 0; /* digits before the decimal point, counted from the first kept digit */
    int seen_point = 0, leading = 1;
    d->n = 0;
    d->negative = len > 0 && s[0] == '-';
    i += d->negative;
    d->exp10 = 0;
    for (; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            seen_point = 1;
            continue;
        }
        if (leading && s[i] == '0') {
            if (seen_point)
                point--; /* 0.00123: the first digit is further right */
            continue;
        }
        leading = 0;
        if (d->n >= sizeof(d->digits))
            return -1;
        d->digits[d->n++] = s[i];
        if (!seen_point)
            point++;
    }
    /* The exponent, saturated: past 10^8 every value is 0 or infinite for a double, and
     * point - 1 + e must not overflow (strtol's LONG_MAX did). */
    long e = 0;
    if (i < len) {
        size_t k = i + 1;
        int neg = k < len && s[k] == '-';
        k += k < len && (s[k] == '-' || s[k] == '+');
        for (; k < len && s[k] >= '0' && s[k] <= '9'; k++)
            if (e < 100000000)
                e = e * 10 + (s[k] - '0');
        e = neg ? -e : e;
    }
    while (d->n > 0 && d->digits[d->n - 1] == '0')
        d->n--;
    d->exp10 = point - 1 + e;
    return 0;
}

int jstr_number_fits_double(const char *s, size_t len)
{
    int exponent;
    enum jstr_number_kind kind = jstr_number_exp(s, len, &exponent);
    if (kind == JSTR_NOT_NUMBER)
        return 0;
    /* No exponent and at most 16 characters (a point among them): at most 15 significant
     * digits, the first within 10^-15..10^15, which the rule below keeps, known without
     * reading the digits (every price, every total). */
    if (kind == JSTR_DECIMAL && !exponent && len <= 16)
        return 1;
    if (kind == JSTR_INTEGER) {
        static const char max[] = "9007199254740992"; /* 2^53 */
        const char *digits = s + (*s == '-');
        size_t n = len - (size_t)(*s == '-'), m = sizeof(max) - 1;
        return n < m || (n == m && memcmp(digits, max, m) <= 0);
    }
    char text[820];
    struct jstr_decimal want, got;
    if (len >= sizeof(text) || jstr_decimal_parse(s, len, &want) != 0)
        return 0;
    /* Zero, or up to 15 significant digits well inside the normal range (10^-307..10^308): a
     * double keeps the value (as below), known without converting it. */
    if (want.n == 0 || (want.n <= DBL_DIG && want.exp10 >= -307 && want.exp10 <= 307))
        return 1;
    memcpy(text, s, len);
    text[len] = '\0';
    double v = strtod(text, NULL);
    if (!isfinite(v))
        return 0;
    if (want.n == 0)
        return 1; /* zero */
    if (want.n <= DBL_DIG && fabs(v) >= DBL_MIN)
        return 1; /* 15 significant digits survive a double in its normal range */
    for (int prec = 1; prec <= 17; prec++) { /* the shortest form that reads back as v */
        snprintf(text, sizeof(text), "%.*e", prec - 1, v);
        if (strtod(text, NULL) == v)
            break;
    }
    if (jstr_decimal_parse(text, strlen(text), &got) != 0)
        return 0;
    return got.n == want.n && got.exp10 == want.exp10 && got.negative == want.negative &&
           memcmp(got.digits, want.digits, want.n) == 0;
}

int jstr_number_fits_double_valid(const char *s, size_t len)
{
    /* Without an exponent, 15 characters hold at most 15 significant digits of an integer
     * below 10^15 or a decimal within 10^-14..10^15: kept by a double (as above). */
    if (len <= 15) {
        size_t i = 0;
        while (i < len && s[i] != 'e' && s[i] != 'E')
            i++;
        if (i == len)
            return 1;
    }
    return jstr_number_fits_double(s, len);
}
