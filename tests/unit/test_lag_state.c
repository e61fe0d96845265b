/* Unit tests for lib/lag_state: KEDA's previous-poll offsets kept in a file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lag_state.h"

static char dir[] = "/tmp/test_lag_state_XXXXXX";

static void path_in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

START_TEST(test_missing_file_remembers_nothing)
{
    char path[256], err[256] = "";
    path_in_dir(path, sizeof(path), "none");
    struct lag_partition p[] = {{.partition = 0, .previous = 7}};
    ck_assert_int_eq(lag_state_load(path, "t", p, 1, err, sizeof(err)), 0);
    ck_assert_int_eq(p[0].previous, LAG_NO_OFFSET);
}
END_TEST

START_TEST(test_round_trip_keeps_only_remembered_partitions_of_the_topic)
{
    char path[256], err[256] = "";
    path_in_dir(path, sizeof(path), "state");
    struct lag_partition p[] = {{.partition = 0, .previous = 10},
                                {.partition = 1, .previous = LAG_NO_OFFSET},
                                {.partition = 2, .previous = 1234567890123}};
    ck_assert_int_eq(lag_state_save(path, "orders", p, 3, err, sizeof(err)), 0);
    struct lag_partition q[] = {{.partition = 0}, {.partition = 1}, {.partition = 2}};
    ck_assert_int_eq(lag_state_load(path, "orders", q, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(q[0].previous, 10);
    ck_assert_int_eq(q[1].previous, LAG_NO_OFFSET);
    ck_assert_int_eq(q[2].previous, 1234567890123);
    ck_assert_int_eq(lag_state_load(path, "other", q, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(q[0].previous, LAG_NO_OFFSET);
    unlink(path);
}
END_TEST

START_TEST(test_malformed_line_names_file_and_line)
{
    char path[256], err[256] = "";
    path_in_dir(path, sizeof(path), "bad");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("orders 0 5\norders x 5\n", f);
    fclose(f);
    struct lag_partition p[] = {{.partition = 0}};
    ck_assert_int_eq(lag_state_load(path, "orders", p, 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ":2:") != NULL, "%s", err);
    unlink(path);
}
END_TEST

START_TEST(test_unwritable_path_fails_with_reason)
{
    char err[256] = "";
    struct lag_partition p[] = {{.partition = 0, .previous = 1}};
    ck_assert_int_eq(lag_state_save("/nonexistent-dir/state", "t", p, 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "/nonexistent-dir/state") != NULL, "%s", err);
}
END_TEST

int main(void)
{
    if (!mkdtemp(dir))
        return EXIT_FAILURE;
    Suite *s = suite_create("lag_state");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, test_missing_file_remembers_nothing);
    tcase_add_test(tc, test_round_trip_keeps_only_remembered_partitions_of_the_topic);
    tcase_add_test(tc, test_malformed_line_names_file_and_line);
    tcase_add_test(tc, test_unwritable_path_fails_with_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rmdir(dir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
