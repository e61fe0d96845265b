/*
 * json_str: lossless handling of JSON string and number literals as they stand in a message.
 * Decodes a string literal to its exact UTF-8 bytes (NUL included, with an explicit length),
 * compares a literal with a key without decoding, writes bytes back as an ASCII-only literal
 * (as the Cosmos SDKs escape partition-key headers) and checks RFC 8259 number syntax.
 * Pure: no allocation, no I/O.
 */
#ifndef ORDERSINK_JSON_STR_H
#define ORDERSINK_JSON_STR_H

#include <stddef.h>

/*
 * Decodes the inside of a string literal in[0..len) (without its quotes) into out, which
 * must have room for len bytes (decoding never grows). Sets *out_len. Returns 0, or -1 when
 * the literal is not valid JSON: a bad escape, a lone or reversed surrogate, a raw control
 * character (< 0x20). The input must already be valid UTF-8.
 */
int jstr_decode(const char *in, size_t len, char *out, size_t *out_len);

/* 1 when the inside of a string literal in[0..len) is valid JSON (the checks of jstr_decode,
 * without writing anything), else 0. */
int jstr_valid(const char *in, size_t len);

/* jstr_equals once its first checks passed (not for other callers). */
int jstr_equals_rest(const char *in, size_t len, const char *lit, size_t lit_len);

/* 1 when the literal in[0..len) decodes to exactly lit[0..lit_len), else 0 (also when the
 * literal is invalid). No allocation; a literal without a backslash is compared as is.
 * Inline: an object's member names are compared with it, most of them rejected here. An
 * escape is always longer than what it stands for, so a literal shorter than lit never equals
 * it, and one that does not start with a backslash starts with its first decoded byte. */
static inline int jstr_equals(const char *in, size_t len, const char *lit, size_t lit_len)
{
    if (len < lit_len || (len > 0 && in[0] != '\\' && (lit_len == 0 || in[0] != lit[0])))
        return 0;
    return jstr_equals_rest(in, len, lit, lit_len);
}

/* Longest literal jstr_encode_ascii writes for n input bytes (quotes included). */
#define JSTR_ENCODED_MAX(n) (6 * (n) + 2)

/*
 * Writes s[0..n) (valid UTF-8, may hold NUL) as a quoted JSON string of printable ASCII only:
 * '"' and '\' escaped, \b \f \n \r \t, other control characters and DEL as \u00xx, every
 * non-ASCII character as \uxxxx (surrogate pairs above U+FFFF), lower-case hex as the JS SDK
 * writes them. out needs JSTR_ENCODED_MAX(n) bytes (no NUL is added). Returns the length
 * written, or 0 when s is not valid UTF-8.
 */
size_t jstr_encode_ascii(const char *s, size_t n, char *out);

/* Number literal kinds, see jstr_number. */
enum jstr_number_kind { JSTR_NOT_NUMBER = 0, JSTR_INTEGER, JSTR_DECIMAL };

/* Classifies s[0..len) by RFC 8259's number grammar: JSTR_INTEGER for -?(0|[1-9][0-9]*),
 * JSTR_DECIMAL when it also has a fraction or an exponent, JSTR_NOT_NUMBER otherwise
 * (01, 1., .5, +1, 1e, ...). */
enum jstr_number_kind jstr_number(const char *s, size_t len);

/* 1 when the number literal s[0..len) (JSON grammar) is stored unchanged by a reader that
 * keeps numbers as IEEE-754 doubles (Cosmos DB): integers within +-2^53, other values whose
 * shortest double form has the same decimal value (0.1, 5.5, 1e3 do; 0.1000000000000000001,
 * 1e400, 1e-400 and 9007199254740993 do not). 0 otherwise. Compared on digits, not doubles. */
int jstr_number_fits_double(const char *s, size_t len);

/* jstr_number_fits_double for a literal already known to follow the number grammar (a
 * json_scan number token): the same answer, a short one without reading it twice. */
int jstr_number_fits_double_valid(const char *s, size_t len);

#endif
