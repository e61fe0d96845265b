/* Unit tests for lib/cosmos_write's fence hook (cosmos_run_cancel): a cancelled write is not
 * sent, and one on the wire or waiting for its retry is never retried. The "server" is a local
 * socket that accepts connections and never answers, so every request times out. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "cosmos.h"

static int listener = -1;
static char endpoint[64];

static void silent_server_up(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(listener, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(listener, 16), 0);
    ck_assert_int_eq(getsockname(listener, (struct sockaddr *)&a, &len), 0);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/", ntohs(a.sin_port));
}

static void silent_server_down(void)
{
    close(listener);
    listener = -1;
}

/* One connection, single upserts, 150 ms request timeout, retries after retry_base_ms. */
static struct cosmos_client *client(int64_t retry_base_ms)
{
    struct cosmos_opts o = {
        .endpoint = endpoint,
        .key_b64 =
            "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67"
            "XIw/Jw==",
        .database = "db",
        .container = "orders",
        .max_in_flight = 1,
        .request_timeout_ms = 150,
        .retry = {100, retry_base_ms, retry_base_ms},
    };
    char err[256];
    struct cosmos_client *c = cosmos_client_new(&o, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

static void writes(struct cosmos_write *w, size_t n)
{
    static const char body[] = "{\"id\":\"a\",\"customerId\":\"c\"}";
    for (size_t i = 0; i < n; i++)
        w[i] = (struct cosmos_write){
            .id = "a", .pk_json = "[\"c\"]", .body = body, .body_len = sizeof(body) - 1};
}

/* Steps until cond holds, at most 5 s. */
#define STEP_UNTIL(c, cond)                                                                        \
    do {                                                                                           \
        int64_t until_ = clock_mono_ms() + 5000;                                                   \
        while (!(cond) && clock_mono_ms() < until_)                                                \
            cosmos_step((c), 20, -1);                                                              \
        ck_assert_msg((cond), "timed out waiting for " #cond);                                     \
    } while (0)

START_TEST(test_cancel_before_sending_and_on_the_wire)
{
    silent_server_up();
    struct cosmos_client *c = client(10);
    struct cosmos_write w[2];
    writes(w, 2);
    w[1].id = "b";
    struct cosmos_run *r = cosmos_run_new(c, w, 2);
    ck_assert_ptr_nonnull(r);
    char err[256];
    STEP_UNTIL(c, w[0].attempts == 1); /* one connection: w[0] on the wire, w[1] not sent */
    cosmos_run_cancel(r, 1);
    ck_assert_int_eq(w[1].outcome, COSMOS_CANCELLED);
    ck_assert_int_eq(w[1].attempts, 0);
    cosmos_run_cancel(r, 0);
    ck_assert_int_eq(w[0].outcome, COSMOS_PENDING); /* its answer (a timeout) settles it */
    STEP_UNTIL(c, cosmos_run_result(r, err, sizeof(err)) != COSMOS_RUNNING);
    ck_assert_int_eq(cosmos_run_result(r, err, sizeof(err)), COSMOS_OK);
    ck_assert_int_eq(w[0].outcome, COSMOS_CANCELLED);
    ck_assert_int_eq(w[0].attempts, 1); /* not retried */
    ck_assert_int_eq(w[1].attempts, 0); /* never sent */
    for (int i = 0; i < 10; i++)
        cosmos_step(c, 20, -1);
    ck_assert_uint_eq(cosmos_client_stats(c)->requests, 1);
    ck_assert_uint_eq(cosmos_client_stats(c)->retries, 0);
    cosmos_run_free(r);
    cosmos_client_free(c);
    silent_server_down();
}
END_TEST

START_TEST(test_cancel_while_waiting_for_a_retry)
{
    silent_server_up();
    struct cosmos_client *c = client(300); /* the retry waits 150-300 ms */
    struct cosmos_write w[1];
    writes(w, 1);
    struct cosmos_run *r = cosmos_run_new(c, w, 1);
    ck_assert_ptr_nonnull(r);
    char err[256];
    STEP_UNTIL(c, cosmos_client_stats(c)->retries == 1);
    ck_assert_int_eq(w[0].outcome, COSMOS_PENDING);
    ck_assert_int_eq(cosmos_run_result(r, err, sizeof(err)), COSMOS_RUNNING);
    cosmos_run_cancel(r, 0);
    ck_assert_int_eq(w[0].outcome, COSMOS_CANCELLED);
    ck_assert_int_eq(cosmos_run_result(r, err, sizeof(err)), COSMOS_OK);
    cosmos_run_cancel(r, 0); /* ended: left as it is */
    ck_assert_int_eq(w[0].outcome, COSMOS_CANCELLED);
    for (int64_t until = clock_mono_ms() + 700; clock_mono_ms() < until;)
        cosmos_step(c, 20, -1);
    ck_assert_uint_eq(cosmos_client_stats(c)->requests, 1); /* the retry never went out */
    ck_assert_int_eq(w[0].attempts, 1);
    cosmos_run_free(r);
    cosmos_client_free(c);
    silent_server_down();
}
END_TEST

static Suite *cosmos_write_suite(void)
{
    Suite *s = suite_create("cosmos_write");
    TCase *tc = tcase_create("cancel");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_cancel_before_sending_and_on_the_wire);
    tcase_add_test(tc, test_cancel_while_waiting_for_a_retry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cosmos_write_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
