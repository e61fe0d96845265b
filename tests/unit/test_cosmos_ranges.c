/* Unit tests for lib/cosmos_ranges: pkranges pages -> range map -> the range of an EPK. */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "cosmos_epk.h"
#include "cosmos_ranges.h"

#define F29 "FFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
#define F30 F29 "F" /* "1F" F30: a V2 boundary has 32 hex digits */

static struct ranges_map map;
static char err[256];

static void setup(void)
{
    ranges_init(&map);
    err[0] = '\0';
}

static void teardown(void)
{
    ranges_free(&map);
}

static int add(const char *body)
{
    return ranges_add_page(&map, body, strlen(body), err, sizeof err);
}

static const char *find(const char *epk)
{
    const struct ranges_range *r = ranges_find(&map, epk);
    return r ? r->id : NULL;
}

/* A range as the service writes it (with the fields we ignore). */
#define RANGE(id, min, max, parents)                                                               \
    "{\"_rid\":\"x\",\"id\":\"" id "\",\"_etag\":\"\\\"0\\\"\",\"minInclusive\":\"" min            \
    "\",\"maxExclusive\":\"" max "\",\"ridPrefix\":0,\"throughputFraction\":1,\"status\":"         \
    "\"online\",\"parents\":[" parents "],\"_ts\":1}"
#define PAGE(ranges) "{\"_rid\":\"x\",\"PartitionKeyRanges\":[" ranges "],\"_count\":1}"

START_TEST(test_one_range)
{
    ck_assert_int_eq(add(PAGE(RANGE("0", "", "FF", ""))), 0);
    ck_assert_ptr_null(find("00")); /* not finished yet */
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), 0);
    ck_assert_int_eq(map.n, 1);
    ck_assert_str_eq(find(""), "0");
    ck_assert_str_eq(find("05C1CF33970FF80800"), "0");
    ck_assert_str_eq(find("3F" F30), "0");
    ck_assert_str_eq(find("FE"), "0");
    ck_assert_ptr_null(find("FF"));
    ck_assert_ptr_null(ranges_find(&map, NULL));
}
END_TEST

START_TEST(test_four_even_ranges_given_out_of_order)
{
    ck_assert_int_eq(
        add(PAGE(RANGE("2", "1F" F30, "2F" F30, "") "," RANGE("0", "", "0F" F30, "") "," RANGE(
            "3", "2F" F30, "FF", "") "," RANGE("1", "0F" F30, "1F" F30, ""))),
        0);
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), 0);
    ck_assert_int_eq(map.n, 4);
    for (size_t i = 0; i < 4; i++) /* sorted */
        ck_assert_int_eq(map.r[i].id[0], (char)('0' + i));
    /* boundaries: exactly min belongs to the range, just below max too, max does not */
    ck_assert_str_eq(find("0F" F30), "1");
    ck_assert_str_eq(find("0F" F29 "E"), "0");
    ck_assert_str_eq(find("0F"), "0"); /* a prefix sorts below */
    ck_assert_str_eq(find("2F" F30), "3");
    ck_assert_str_eq(find("2F" F29 "E"), "2");
    ck_assert_str_eq(find("3F" F30), "3");
    ck_assert_str_eq(find(""), "0");
    /* EPKs from cosmos_epk: V2 "redmond" = 22E342F3..., "partitionKey" = 013AEFCF... */
    char hex[EPK_HEX_SIZE];
    struct epk_component c = {.type = EPK_STRING, .str = "redmond", .len = 7};
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &c, 1, hex, sizeof hex), 0);
    ck_assert_str_eq(find(hex), "2");
    c = (struct epk_component){.type = EPK_STRING, .str = "partitionKey", .len = 12};
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &c, 1, hex, sizeof hex), 0);
    ck_assert_str_eq(find(hex), "0");
}
END_TEST

START_TEST(test_split_across_pages_drops_parents)
{
    /* page 1 still lists range 1; page 2 has its two children (and a grandchild lineage) */
    ck_assert_int_eq(add(PAGE(RANGE("0", "", "1F", "") "," RANGE("1", "1F", "FF", ""))), 0);
    ck_assert_int_eq(
        add(PAGE(RANGE("2", "1F", "2F", "\"1\"") "," RANGE(
            "4", "2F", "3F", "\"1\",\"3\"") "," RANGE("5", "3F", "FF", "\"1\",\"3\""))),
        0);
    ck_assert_int_eq(map.n, 5);
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), 0);
    ck_assert_int_eq(map.n, 4);
    ck_assert_str_eq(find("1F"), "2");
    ck_assert_str_eq(find("1E"), "0");
    ck_assert_str_eq(find("2F00"), "4");
    ck_assert_str_eq(find("3F" F30), "5");
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), 0); /* again: no change */
    ck_assert_int_eq(map.n, 4);
    /* a finished map takes no more pages */
    ck_assert_int_eq(add(PAGE(RANGE("9", "", "FF", ""))), -1);
    ck_assert_ptr_nonnull(strstr(err, "finished"));
}
END_TEST

START_TEST(test_split_without_parents_is_an_overlap)
{
    ck_assert_int_eq(add(PAGE(RANGE("0", "", "1F", "") "," RANGE("1", "1F", "FF", "") "," RANGE(
                         "2", "1F", "2F", "") "," RANGE("3", "2F", "FF", ""))),
                     0);
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "overlap"));
    ck_assert_ptr_null(find("00"));
}
END_TEST

START_TEST(test_a_range_listing_itself_is_kept)
{
    ck_assert_int_eq(add(PAGE(RANGE("0", "", "FF", "\"0\""))), 0);
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), 0);
    ck_assert_str_eq(find("10"), "0");
}
END_TEST

static void expect_finish_error(const char *page, const char *what)
{
    ranges_free(&map);
    ck_assert_int_eq(add(page), 0);
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), -1);
    ck_assert_msg(strstr(err, what), "\"%s\" not in \"%s\"", what, err);
    ck_assert_ptr_null(find(""));
}

START_TEST(test_gaps_and_overlaps)
{
    expect_finish_error(PAGE(RANGE("0", "", "10", "") "," RANGE("1", "20", "FF", "")), "gap");
    expect_finish_error(PAGE(RANGE("0", "", "20", "") "," RANGE("1", "10", "FF", "")), "overlap");
    expect_finish_error(PAGE(RANGE("0", "00", "FF", "")), "gap");
    expect_finish_error(PAGE(RANGE("0", "", "10", "") "," RANGE("1", "10", "FE", "")),
                        "not \"FF\"");
    expect_finish_error(PAGE(RANGE("0", "", "10", "") "," RANGE("1", "10", "10",
                                                                "") "," RANGE("2", "10", "FF", "")),
                        "empty");
    expect_finish_error(PAGE(RANGE("0", "", "FF", "") "," RANGE("1", "", "FF", "")), "overlap");
    expect_finish_error(PAGE(""), "no partition key ranges");
    /* every range is somebody's parent */
    expect_finish_error(PAGE(RANGE("0", "", "FF", "\"1\"") "," RANGE("1", "", "FF", "\"0\"")),
                        "no partition key ranges");
}
END_TEST

START_TEST(test_malformed_answers)
{
    ck_assert_int_eq(add(PAGE(RANGE("0", "", "1F", ""))), 0);
    const char *bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"PartitionKeyRanges\":{}}",
        "{\"partitionKeyRanges\":[]}",
        "{\"PartitionKeyRanges\":[1]}",
        "{\"PartitionKeyRanges\":[[\"id\"]]}",
        "{\"PartitionKeyRanges\":[{\"id\":\"0\"}]}",
        "{\"PartitionKeyRanges\":[{\"id\":\"\",\"minInclusive\":\"\",\"maxExclusive\":\"FF\"}]}",
        "{\"PartitionKeyRanges\":[{\"id\":0,\"minInclusive\":\"\",\"maxExclusive\":\"FF\"}]}",
        PAGE(RANGE("1", "1f", "FF", "")),
        PAGE(RANGE("1", "1F", "F", "")),
        PAGE(RANGE("1", "1F", "FFG0", "")),
        PAGE(RANGE("1", "1F", "FF", "1")),
        "{\"PartitionKeyRanges\":[{\"id\":\"1\",\"minInclusive\":\"1F\",\"maxExclusive\":\"FF\","
        "\"parents\":\"0\"}]}",
        /* a good range then a bad one: the page adds nothing */
        PAGE(RANGE("1", "1F", "FF", "") "," RANGE("2", "1F", "FF", "[]")),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ck_assert_msg(add(bad[i]) == -1, "accepted: %s", bad[i]);
        ck_assert_msg(strncmp(err, "pkranges: ", 10) == 0, "no message for %s", bad[i]);
        ck_assert_int_eq(map.n, 1);
    }
    ck_assert_int_eq(ranges_add_page(&map, NULL, 0, err, sizeof err), -1);
    /* a body that is not NUL-terminated is read only to its length */
    const char *two = PAGE(RANGE("1", "1F", "FF", "")) "garbage";
    ck_assert_int_eq(ranges_add_page(&map, two, strlen(two) - 7, err, sizeof err), 0);
    ck_assert_int_eq(ranges_finish(&map, err, sizeof err), 0);
    ck_assert_str_eq(find("20"), "1");
    /* no error buffer at all */
    ck_assert_int_eq(ranges_add_page(&map, "{", 1, NULL, 0), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cosmos_ranges");
    TCase *tc = tcase_create("ranges");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_one_range);
    tcase_add_test(tc, test_four_even_ranges_given_out_of_order);
    tcase_add_test(tc, test_split_across_pages_drops_parents);
    tcase_add_test(tc, test_split_without_parents_is_an_overlap);
    tcase_add_test(tc, test_a_range_listing_itself_is_kept);
    tcase_add_test(tc, test_gaps_and_overlaps);
    tcase_add_test(tc, test_malformed_answers);
    suite_add_tcase(s, tc);
    return check_run(s);
}
