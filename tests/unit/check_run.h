/*
 * check_run: the runner every unit test's main() ends with: runs suite s (Check's CK_FORK
 * environment variable decides forking), frees the runner, returns the process exit code.
 */
#ifndef ORDERSINK_CHECK_RUN_H
#define ORDERSINK_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
