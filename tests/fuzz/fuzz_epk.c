/*
 * fuzz_epk: libFuzzer target for cosmos_epk and cosmos_ranges. The first input byte picks:
 * - even: partition key components made from the bytes (each string in a block of exactly its
 *   length, so an over-read is an ASan report); checks V1, V2 and MultiHash output: upper-case
 *   hex, NUL inside the buffer, the lengths the versions give, MultiHash = the V2 EPKs of each
 *   component, and a too-small buffer gets "" and nothing past its end;
 * - odd: the rest as two pkranges pages (split where byte 1 says); after a successful finish
 *   the map tiles "" .. "FF" and ranges_find answers every range's own minInclusive and a V2 EPK.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_epk.h"
#include "cosmos_ranges.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_epk: invariant failed: %s: ", #cond);                            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define CANARY 16

struct reader {
    const uint8_t *p;
    size_t n;
};

static size_t take(struct reader *r, void *out, size_t want)
{
    size_t n = want < r->n ? want : r->n;
    if (n)
        memcpy(out, r->p, n);
    r->p += n;
    r->n -= n;
    return n;
}

static int upper_hex(const char *s)
{
    return s[strspn(s, "0123456789ABCDEF")] == '\0';
}

/* EPK of parts into a heap buffer of exactly size bytes (+ canary); checks the contract. */
static int compute(enum epk_version v, int mh, const struct epk_component *parts, size_t n,
                   size_t size, char *copy)
{
    char *out = malloc(size + CANARY);
    CHECK(out, "malloc");
    memset(out, 0xCC, size + CANARY);
    int rc = epk_compute(v, mh, parts, n, out, size);
    for (size_t i = 0; i < CANARY; i++)
        CHECK((unsigned char)out[size + i] == 0xCC, "wrote past %zu bytes", size);
    if (size > 0) {
        CHECK(memchr(out, '\0', size), "not NUL-terminated in %zu bytes", size);
        CHECK(rc == 0 || out[0] == '\0', "failed but wrote \"%s\"", out);
        CHECK(upper_hex(out), "not upper-case hex: %s", out);
        if (copy)
            strcpy(copy, out);
    }
    free(out);
    return rc;
}

static void fuzz_components(struct reader *r)
{
    uint8_t head = 0;
    take(r, &head, 1);
    size_t n = (size_t)(head % EPK_MAX_COMPONENTS) + 1;
    struct epk_component parts[EPK_MAX_COMPONENTS] = {0};
    char *blocks[EPK_MAX_COMPONENTS] = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t t = 0;
        take(r, &t, 1);
        parts[i].type = (enum epk_type)(t % 6);
        if (parts[i].type == EPK_NUMBER) {
            take(r, &parts[i].number, sizeof parts[i].number);
        } else if (parts[i].type == EPK_STRING) {
            uint16_t len = 0;
            take(r, &len, sizeof len);
            size_t want = len < r->n ? len : r->n;
            blocks[i] = want ? malloc(want) : NULL;
            CHECK(!want || blocks[i], "malloc");
            parts[i].len = take(r, blocks[i], want);
            parts[i].str = blocks[i];
        }
    }
    char v1[EPK_HEX_SIZE], v2[EPK_HEX_SIZE], mh[EPK_HEX_SIZE], one[EPK_HEX_SIZE];
    CHECK(compute(EPK_V1, 0, parts, n, EPK_HEX_SIZE, v1) == 0, "V1 failed");
    CHECK(strncmp(v1, "05", 2) == 0 && strlen(v1) % 2 == 0, "V1: %s", v1);
    CHECK(compute(EPK_V2, 0, parts, n, EPK_HEX_SIZE, v2) == 0, "V2 failed");
    CHECK(strlen(v2) == 32 && v2[0] <= '3', "V2: %s", v2);
    CHECK(compute(EPK_V2, 1, parts, n, EPK_HEX_SIZE, mh) == 0, "MultiHash failed");
    CHECK(strlen(mh) == 32 * n, "MultiHash of %zu: %s", n, mh);
    for (size_t i = 0; i < n; i++) {
        CHECK(compute(EPK_V2, 0, &parts[i], 1, 33, one) == 0, "V2 of one failed");
        CHECK(strncmp(mh + 32 * i, one, 32) == 0, "MultiHash part %zu: %s vs %s", i, mh, one);
    }
    size_t small = (size_t)(head >> 2); /* 0..63: often too small for V1 and MultiHash */
    int rc = compute(EPK_V1, 0, parts, n, small, one);
    CHECK(rc == (strlen(v1) < small ? 0 : -1), "V1 in %zu bytes: rc %d", small, rc);
    if (rc == 0)
        CHECK(strcmp(one, v1) == 0, "V1 differs in a smaller buffer");
    rc = compute(EPK_V2, 1, parts, n, small, NULL);
    CHECK(rc == (strlen(mh) < small ? 0 : -1), "MultiHash in %zu bytes: rc %d", small, rc);
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
}

static void fuzz_ranges(struct reader *r)
{
    uint8_t split = 0;
    take(r, &split, 1);
    size_t len1 = r->n * split / 255;
    struct ranges_map m;
    ranges_init(&m);
    char err[128];
    for (int page = 0; page < 2; page++) {
        size_t len = page == 0 ? len1 : r->n;
        char *body = len ? malloc(len) : NULL;
        CHECK(!len || body, "malloc");
        take(r, body, len);
        size_t before = m.n;
        err[0] = '\0';
        if (ranges_add_page(&m, body, len, err, sizeof err) != 0)
            CHECK(m.n == before && strncmp(err, "pkranges: ", 10) == 0, "failed page: %s", err);
        free(body);
    }
    err[0] = '\0';
    if (ranges_finish(&m, err, sizeof err) == 0) {
        CHECK(m.n > 0 && strcmp(m.r[0].min, "") == 0 && strcmp(m.r[m.n - 1].max, "FF") == 0,
              "ends");
        for (size_t i = 0; i < m.n; i++) {
            CHECK(i == 0 || strcmp(m.r[i].min, m.r[i - 1].max) == 0, "not contiguous at %zu", i);
            CHECK(ranges_find(&m, m.r[i].min) == &m.r[i], "min of range %zu", i);
        }
        struct epk_component c = {.type = EPK_STRING, .str = m.r[0].id, .len = strlen(m.r[0].id)};
        char epk[EPK_HEX_SIZE];
        CHECK(epk_compute(EPK_V2, 0, &c, 1, epk, sizeof epk) == 0, "V2");
        const struct ranges_range *hit = ranges_find(&m, epk);
        CHECK(hit && strcmp(hit->min, epk) <= 0 && strcmp(epk, hit->max) < 0, "EPK %s", epk);
        CHECK(ranges_find(&m, "FF") == NULL, "FF found");
    } else {
        CHECK(strncmp(err, "pkranges: ", 10) == 0, "finish failed without a message");
        CHECK(ranges_find(&m, "") == NULL, "unfinished map answered");
    }
    ranges_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct reader r = {data + 1, size - 1};
    if (data[0] & 1)
        fuzz_ranges(&r);
    else
        fuzz_components(&r);
    return 0;
}
