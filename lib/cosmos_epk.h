/*
 * cosmos_epk: the effective partition key (EPK) of a partition key value, as Cosmos DB and its
 * SDKs compute it for routing (Hash v1, Hash v2, MultiHash), and the MurmurHash3 functions it
 * uses. Pure: no I/O, no state. cosmos_ranges maps an EPK to its partition key range.
 */
#ifndef ORDERSINK_COSMOS_EPK_H
#define ORDERSINK_COSMOS_EPK_H

#include <stddef.h>
#include <stdint.h>

/* Hierarchical keys have at most 3 paths; Hash keys have 1. */
#define EPK_MAX_COMPONENTS 3

/* Bytes of the longest EPK in hex, with its NUL: V1 with 3 components, each a long string
 * (hash number component 10 bytes + 3 x 102 bytes). V2 needs 33, MultiHash 97. */
#define EPK_HEX_SIZE (2 * (10 + EPK_MAX_COMPONENTS * 102) + 1)

enum epk_type {
    EPK_UNDEFINED, /* the path is missing from the document ({} in the header) */
    EPK_NULL,
    EPK_FALSE,
    EPK_TRUE,
    EPK_NUMBER,
    EPK_STRING,
};

/* One partition key value. A string is UTF-8 bytes str[0..len), may contain NUL bytes and
 * needs no terminator. */
struct epk_component {
    enum epk_type type;
    double number;   /* EPK_NUMBER */
    const char *str; /* EPK_STRING */
    size_t len;      /* EPK_STRING */
};

enum epk_version { EPK_V1 = 1, EPK_V2 = 2 };

/*
 * Writes the EPK of parts[0..n) as upper-case hex into out_hex (NUL-terminated).
 * v: the container's partitionKey.version; multihash: kind MultiHash (V2 only; the EPK is the
 * V2 EPK of each component, concatenated). Without multihash all components are hashed
 * together (a Hash container has one; V2 then takes any n >= 1, as the SDKs do). Returns 0,
 * or -1 (out_hex holds "" if out_size > 0) when n is 0 or, for V1 and MultiHash, above
 * EPK_MAX_COMPONENTS, a type or version is unknown, multihash is asked with V1, out_size is
 * too small (EPK_HEX_SIZE always fits) or memory runs out.
 */
int epk_compute(enum epk_version v, int multihash, const struct epk_component *parts, size_t n,
                char *out_hex, size_t out_size);

/* MurmurHash3 x86 32-bit of data[0..len) (Cosmos uses seed 0). */
uint32_t epk_murmur3_32(const void *data, size_t len, uint32_t seed);

/* MurmurHash3 x64 128-bit of data[0..len); out gets the two 64-bit halves h1, h2 each
 * little-endian (the reference implementation's byte order). */
void epk_murmur3_128(const void *data, size_t len, uint32_t seed, uint8_t out[16]);

#endif
