/* Unit tests for lib/cosmos_route: the range of an EPK (RIG.md vectors on even 16-range maps,
 * as the rig's front cuts them) and how one batch request is filled with one range's
 * operations within 100 operations / 220,201 bytes. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_bulk.h"
#include "cosmos_epk.h"
#include "cosmos_ranges.h"
#include "cosmos_route.h"

static struct ranges_map map;

/* A finished map of n even V2 ranges (n a power of two <= 16): range i starts at
 * i * 2^126 / n, 32 hex digits, as tests/rig/partitioning.js cuts them. */
static void even_v2(int n)
{
    char body[8192], err[256];
    size_t at = (size_t)snprintf(body, sizeof(body), "{\"PartitionKeyRanges\":[");
    for (int i = 0; i < n; i++) {
        char lo[40] = "", hi[40] = "FF";
        if (i > 0)
            snprintf(lo, sizeof(lo), "%02X%030d", i * (0x40 / n), 0);
        if (i + 1 < n)
            snprintf(hi, sizeof(hi), "%02X%030d", (i + 1) * (0x40 / n), 0);
        at += (size_t)snprintf(body + at, sizeof(body) - at,
                               "%s{\"id\":\"%d\",\"minInclusive\":\"%s\",\"maxExclusive\":\"%s\"}",
                               i ? "," : "", i, lo, hi);
    }
    snprintf(body + at, sizeof(body) - at, "]}");
    ranges_init(&map);
    ck_assert_int_eq(ranges_add_page(&map, body, strlen(body), err, sizeof(err)), 0);
    ck_assert_msg(ranges_finish(&map, err, sizeof(err)) == 0, "%s", err);
}

static void teardown(void)
{
    ranges_free(&map);
}

static const char *range_id(const char *epk)
{
    size_t i = route_range(&map, epk);
    return i < map.n ? map.r[i].id : NULL;
}

START_TEST(test_no_map_and_one_range)
{
    ranges_init(&map);
    ck_assert_uint_eq(route_range(&map, "22E342F38A486A088463DFF7838A5963"), ROUTE_NONE);
    ck_assert_uint_eq(route_range(&map, NULL), ROUTE_NONE);
    even_v2(1);
    ck_assert_uint_eq(route_range(&map, "22E342F38A486A088463DFF7838A5963"), 0);
    ck_assert_uint_eq(route_range(&map, NULL), 0); /* one range takes every write */
}
END_TEST

/* RIG.md V2 vectors: "redmond" 22E3.. lies in [20.., 24..) = range 8 of 16, "" 32E9.. in
 * range 12, null 3788.. in range 13, "partitionKey" 013A.. in range 0; the same EPKs as
 * epk_compute writes them. */
START_TEST(test_rig_vectors_on_16_ranges)
{
    even_v2(16);
    struct epk_component redmond = {EPK_STRING, 0, "redmond", 7}, empty = {EPK_STRING, 0, "", 0},
                         null = {EPK_NULL, 0, NULL, 0};
    char hex[EPK_HEX_SIZE];
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &redmond, 1, hex, sizeof(hex)), 0);
    ck_assert_str_eq(range_id(hex), "8");
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &empty, 1, hex, sizeof(hex)), 0);
    ck_assert_str_eq(range_id(hex), "12");
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &null, 1, hex, sizeof(hex)), 0);
    ck_assert_str_eq(range_id(hex), "13");
    ck_assert_str_eq(range_id("013AEFCF77FA271571CF665A58C933F1"), "0");
    ck_assert_str_eq(range_id("3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"), "15");
    ck_assert_str_eq(range_id("04000000000000000000000000000000"), "1"); /* min inclusive */
    ck_assert_str_eq(range_id("03FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"), "0"); /* max exclusive */
    ck_assert_uint_eq(route_range(&map, NULL), ROUTE_UNROUTED);
    ck_assert_uint_eq(route_range(&map, "FF"), ROUTE_UNROUTED);
}
END_TEST

/* 250 operations of range 3 among others: the request takes the first 100 of range 3 only. */
START_TEST(test_one_range_per_request_at_most_100)
{
    struct route_group g;
    route_group_start(&g, 3, 200, COSMOS_BULK_MAX_OPS, COSMOS_BULK_MAX_BYTES);
    int taken = 0, skipped = 0, offered = 0;
    enum route_fit fit = ROUTE_TAKE;
    for (int i = 1; i < 500 && fit != ROUTE_FULL; i++, offered++) {
        fit = route_group_offer(&g, i % 2 ? 3 : (size_t)(i % 7), 200);
        taken += fit == ROUTE_TAKE;
        skipped += fit == ROUTE_SKIP;
    }
    ck_assert_int_eq(fit, ROUTE_FULL);
    ck_assert_int_eq(taken, 99); /* + the first = 100 */
    ck_assert_uint_eq(g.ops, 100);
    ck_assert_uint_eq(g.bytes, 2 + 100 * 200);
    /* the i % 7 == 3 even i also joined: every one taken is of range 3 */
    ck_assert_int_eq(offered, taken + skipped + 1);
}
END_TEST

/* A large operation that does not fit the bytes left is skipped; smaller ones still join;
 * the request is full once no operation can fit. */
START_TEST(test_byte_limit)
{
    struct route_group g;
    route_group_start(&g, 0, 200000, COSMOS_BULK_MAX_OPS, COSMOS_BULK_MAX_BYTES);
    ck_assert_int_eq(route_group_offer(&g, 0, 30000), ROUTE_SKIP);
    ck_assert_int_eq(route_group_offer(&g, 0, 20000), ROUTE_TAKE);
    ck_assert_uint_eq(g.bytes, 220002);
    ck_assert_int_eq(route_group_offer(&g, 0, 200), ROUTE_SKIP); /* 199 bytes left */
    ck_assert_int_eq(route_group_offer(&g, 0, 100), ROUTE_TAKE);
    ck_assert_int_eq(route_group_offer(&g, 0, 96), ROUTE_TAKE);
    ck_assert_uint_eq(g.bytes, 220198);
    ck_assert_int_eq(route_group_offer(&g, 0, 96), ROUTE_FULL); /* 3 bytes left */
    route_group_start(&g, 0, COSMOS_BULK_MAX_BYTES - 2 - ROUTE_MIN_OP_BYTES, 100,
                      COSMOS_BULK_MAX_BYTES);
    ck_assert_int_eq(route_group_offer(&g, 0, ROUTE_MIN_OP_BYTES), ROUTE_TAKE);
    ck_assert_uint_eq(g.bytes, COSMOS_BULK_MAX_BYTES);
    ck_assert_int_eq(route_group_offer(&g, 0, ROUTE_MIN_OP_BYTES), ROUTE_FULL);
}
END_TEST

/* Without a map (ROUTE_NONE) every operation may share the request (one range, as before);
 * an unrouted operation goes alone. */
START_TEST(test_no_map_and_unrouted)
{
    struct route_group g;
    route_group_start(&g, ROUTE_NONE, 100, COSMOS_BULK_MAX_OPS, COSMOS_BULK_MAX_BYTES);
    ck_assert_int_eq(route_group_offer(&g, ROUTE_NONE, 100), ROUTE_TAKE);
    route_group_start(&g, 2, 100, COSMOS_BULK_MAX_OPS, COSMOS_BULK_MAX_BYTES);
    ck_assert_int_eq(route_group_offer(&g, ROUTE_UNROUTED, 100), ROUTE_SKIP);
    route_group_start(&g, ROUTE_UNROUTED, 100, COSMOS_BULK_MAX_OPS, COSMOS_BULK_MAX_BYTES);
    ck_assert_int_eq(route_group_offer(&g, ROUTE_UNROUTED, 100), ROUTE_FULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cosmos_route");
    TCase *tc = tcase_create("route");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_no_map_and_one_range);
    tcase_add_test(tc, test_rig_vectors_on_16_ranges);
    tcase_add_test(tc, test_one_range_per_request_at_most_100);
    tcase_add_test(tc, test_byte_limit);
    tcase_add_test(tc, test_no_map_and_unrouted);
    suite_add_tcase(s, tc);
    return check_run(s);
}
