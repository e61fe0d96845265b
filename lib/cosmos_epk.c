/*
 * cosmos_epk: EPK computation as the SDKs do it (Java PartitionKeyInternalHelper and
 * {Number,String}PartitionKeyComponent, JS utils/hashing, Python partition_key.py):
 * - hashing form of a component: type byte, then an 8-byte little-endian double or the UTF-8
 *   bytes and an end byte (00 in V1, FF in V2);
 * - V1: strings cut to 100 UTF-16 code units, MurmurHash3 x86-32 over the hashing forms, the EPK
 *   is the binary form of [hash as a number, cut components...];
 * - V2: MurmurHash3 x64-128 over the hashing forms, 16 bytes reversed, top 2 bits cleared.
 */
#include "cosmos_epk.h"

#include <stdlib.h>
#include <string.h>

#define V1_MAX_CHARS 100     /* UTF-16 code units kept of a V1 string */
#define V1_TRUNC_MAX 300     /* bytes of 100 code units: at most 3 each */
#define BINARY_STR_BYTES 100 /* string bytes a binary form keeps whole */
#define STACK_HASH_INPUT 1024

/* ---- MurmurHash3 (Austin Appleby's public-domain algorithm) ---- */

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* Little-endian load of n (<= 8) bytes. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

static uint32_t mix_k32(uint32_t k)
{
    k *= 0xcc9e2d51U;
    k = rotl32(k, 15);
    return k * 0x1b873593U;
}

uint32_t epk_murmur3_32(const void *data, size_t len, uint32_t seed)
{
    const uint8_t *p = data;
    uint32_t h = seed;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        h ^= mix_k32((uint32_t)load_le(p + 4 * i, 4));
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64U;
    }
    size_t tail = len & 3;
    if (tail)
        h ^= mix_k32((uint32_t)load_le(p + 4 * nblocks, tail));
    h ^= (uint32_t)len;
    return fmix32(h);
}

#define C1_128 0x87c37b91114253d5ULL
#define C2_128 0x4cf5ad432745937fULL

static uint64_t mix_k1(uint64_t k)
{
    k *= C1_128;
    k = rotl64(k, 31);
    return k * C2_128;
}

static uint64_t mix_k2(uint64_t k)
{
    k *= C2_128;
    k = rotl64(k, 33);
    return k * C1_128;
}

void epk_murmur3_128(const void *data, size_t len, uint32_t seed, uint8_t out[16])
{
    const uint8_t *p = data;
    uint64_t h1 = seed, h2 = seed;
    size_t nblocks = len / 16;
    for (size_t i = 0; i < nblocks; i++) {
        h1 ^= mix_k1(load_le(p + 16 * i, 8));
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        h2 ^= mix_k2(load_le(p + 16 * i + 8, 8));
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    const uint8_t *tail = p + 16 * nblocks;
    size_t rest = len & 15;
    if (rest > 8)
        h2 ^= mix_k2(load_le(tail + 8, rest - 8));
    if (rest > 0)
        h1 ^= mix_k1(load_le(tail, rest > 8 ? 8 : rest));
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h1 >> (8 * i));
        out[8 + i] = (uint8_t)(h2 >> (8 * i));
    }
}

/* ---- encodings ---- */

static uint64_t double_bits(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

/* Hashing form of c (string bytes s[0..slen), end byte str_end) into out, or only its length
 * when out is NULL. */
static size_t put_hashing(uint8_t *out, enum epk_type type, double number, const uint8_t *s,
                          size_t slen, uint8_t str_end)
{
    static const uint8_t type_byte[] = {
        [EPK_UNDEFINED] = 0x00, [EPK_NULL] = 0x01,   [EPK_FALSE] = 0x02,
        [EPK_TRUE] = 0x03,      [EPK_NUMBER] = 0x05, [EPK_STRING] = 0x08};
    size_t n = type == EPK_NUMBER ? 9 : type == EPK_STRING ? slen + 2 : 1;
    if (!out)
        return n;
    out[0] = type_byte[type];
    if (type == EPK_NUMBER) {
        uint64_t bits = double_bits(number);
        for (int i = 0; i < 8; i++)
            out[1 + i] = (uint8_t)(bits >> (8 * i));
    } else if (type == EPK_STRING) {
        if (slen)
            memcpy(out + 1, s, slen);
        out[1 + slen] = str_end;
    }
    return n;
}

/* Order-preserving binary form of a number: 05, the top 8 bits of the sign-adjusted value,
 * then 7-bit groups each ending in a 1 bit except the last (always written, as Java/.NET do).
 * At most 10 bytes. */
static size_t put_binary_number(uint8_t *out, double d)
{
    const uint64_t sign = 0x8000000000000000ULL;
    uint64_t bits = double_bits(d);
    uint64_t payload = bits < sign ? bits ^ sign : ~bits + 1;
    size_t n = 0;
    out[n++] = 0x05;
    out[n++] = (uint8_t)(payload >> 56);
    payload <<= 8;
    uint8_t group = 0;
    int first = 1;
    do {
        if (!first)
            out[n++] = group;
        first = 0;
        group = (uint8_t)((payload >> 56) | 0x01);
        payload <<= 7;
    } while (payload != 0);
    out[n++] = group & 0xFE;
    return n;
}

/* Binary form of a component: numbers as above; strings 08, each byte + 1 (FF stays), then 00
 * when at most 100 bytes, else the first 101 bytes and no 00. At most 102 bytes. */
static size_t put_binary(uint8_t *out, enum epk_type type, double number, const uint8_t *s,
                         size_t slen)
{
    if (type == EPK_NUMBER)
        return put_binary_number(out, number);
    if (type != EPK_STRING)
        return put_hashing(out, type, 0, NULL, 0, 0);
    int whole = slen <= BINARY_STR_BYTES;
    size_t keep = whole ? slen : BINARY_STR_BYTES + 1;
    size_t n = 0;
    out[n++] = 0x08;
    for (size_t i = 0; i < keep; i++)
        out[n++] = s[i] < 0xFF ? (uint8_t)(s[i] + 1) : s[i];
    if (whole)
        out[n++] = 0x00;
    return n;
}

/*
 * The first 100 UTF-16 code units of UTF-8 s[0..len), as Java/.NET/JS substring(0, 100) then
 * UTF-8 do: a 4-byte sequence is 2 code units, and a pair cut in half becomes U+FFFD (.NET and
 * JS encoders; Java writes '?'). Bytes that are not valid UTF-8 count one unit each.
 * Writes at most V1_TRUNC_MAX bytes into out and returns the count.
 */
static size_t v1_truncate(const uint8_t *s, size_t len, uint8_t *out)
{
    size_t i = 0, units = 0;
    if (len <= V1_MAX_CHARS) { /* ASCII only: one unit a byte, all kept */
        uint8_t high = 0;
        for (size_t k = 0; k < len; k++)
            high |= s[k];
        if (high < 0x80) {
            if (len)
                memcpy(out, s, len);
            return len;
        }
    }
    while (i < len) {
        uint8_t c = s[i];
        size_t seq = c >= 0xC0 && c < 0xE0   ? 2
                     : c >= 0xE0 && c < 0xF0 ? 3
                     : c >= 0xF0 && c < 0xF8 ? 4
                                             : 1;
        size_t u = seq == 4 ? 2 : 1;
        if (seq > len - i)
            seq = len - i;
        if (units + u > V1_MAX_CHARS) {
            if (units < V1_MAX_CHARS) { /* half a surrogate pair */
                memcpy(out, s, i);
                memcpy(out + i, "\xEF\xBF\xBD", 3);
                return i + 3;
            }
            break;
        }
        units += u;
        i += seq;
    }
    if (i)
        memcpy(out, s, i);
    return i;
}

static int to_hex(const uint8_t *b, size_t n, char *out, size_t out_size)
{
    /* A byte's two digits at 2 * byte: "000102...FF". */
    static const char pairs[] = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
                                "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"
                                "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F"
                                "606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F"
                                "808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F"
                                "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
                                "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
                                "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";
    if (out_size < 2 * n + 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, pairs + 2 * b[i], 2);
    out[2 * n] = '\0';
    return 0;
}

/* ---- versions ---- */

static int epk_v1(const struct epk_component *parts, size_t n, char *out_hex, size_t out_size)
{
    uint8_t cut[EPK_MAX_COMPONENTS][V1_TRUNC_MAX];
    size_t cut_len[EPK_MAX_COMPONENTS] = {0};
    uint8_t input[EPK_MAX_COMPONENTS * (V1_TRUNC_MAX + 2)];
    size_t in_len = 0;
    input[0] = 0; /* not the whole array (~900 bytes every order): gcc -Wmaybe-uninitialized */
    for (size_t i = 0; i < n; i++) {
        if (parts[i].type == EPK_STRING)
            cut_len[i] = v1_truncate((const uint8_t *)parts[i].str, parts[i].len, cut[i]);
        in_len +=
            put_hashing(input + in_len, parts[i].type, parts[i].number, cut[i], cut_len[i], 0x00);
    }
    uint32_t hash = epk_murmur3_32(input, in_len, 0);
    uint8_t epk[10 + EPK_MAX_COMPONENTS * (BINARY_STR_BYTES + 2)];
    size_t len = put_binary_number(epk, (double)hash);
    for (size_t i = 0; i < n; i++)
        len += put_binary(epk + len, parts[i].type, parts[i].number, cut[i], cut_len[i]);
    return to_hex(epk, len, out_hex, out_size);
}

/* V2 hash of parts[0..n) hashed together: 16 bytes into epk. */
static int epk_v2(const struct epk_component *parts, size_t n, uint8_t epk[16])
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t one = put_hashing(NULL, parts[i].type, 0, NULL, parts[i].len, 0);
        if (parts[i].type == EPK_STRING && (parts[i].len > SIZE_MAX / 2 || one > SIZE_MAX - total))
            return -1;
        total += one;
    }
    uint8_t stack[STACK_HASH_INPUT] = {0}; /* = {0}: gcc -Wmaybe-uninitialized */
    uint8_t *input = total <= sizeof stack ? stack : malloc(total);
    if (!input)
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += put_hashing(input + len, parts[i].type, parts[i].number,
                           (const uint8_t *)parts[i].str, parts[i].len, 0xFF);
    uint8_t h[16];
    epk_murmur3_128(input, len, 0, h);
    if (input != stack)
        free(input);
    for (int i = 0; i < 16; i++)
        epk[i] = h[15 - i];
    epk[0] &= 0x3F;
    return 0;
}

int epk_compute(enum epk_version v, int multihash, const struct epk_component *parts, size_t n,
                char *out_hex, size_t out_size)
{
    if (out_size > 0)
        out_hex[0] = '\0';
    int bounded = v == EPK_V1 || multihash;
    if (!parts || n == 0 || (bounded && n > EPK_MAX_COMPONENTS) || (v != EPK_V1 && v != EPK_V2) ||
        (multihash && v != EPK_V2))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (parts[i].type < EPK_UNDEFINED || parts[i].type > EPK_STRING ||
            (parts[i].type == EPK_STRING && !parts[i].str && parts[i].len))
            return -1;
    if (v == EPK_V1)
        return epk_v1(parts, n, out_hex, out_size);
    uint8_t epk[16 * EPK_MAX_COMPONENTS];
    size_t len = 0;
    if (multihash) {
        for (size_t i = 0; i < n; i++, len += 16)
            if (epk_v2(&parts[i], 1, epk + len) != 0)
                return -1;
    } else {
        if (epk_v2(parts, n, epk) != 0)
            return -1;
        len = 16;
    }
    return to_hex(epk, len, out_hex, out_size);
}
