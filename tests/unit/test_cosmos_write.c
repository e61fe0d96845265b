/* Unit tests for lib/cosmos_write's fence hook (cosmos_run_cancel): a cancelled write is not
 * sent, and one on the wire or waiting for its retry is never retried. The "server" is a local
 * socket that accepts connections and never answers, so every request times out. And a batch
 * body, which curl reads piece by piece (lib/cosmos_bulk's cosmos_gather), is sent whole again
 * when curl retries it on a fresh connection (a scripted server drops the kept-alive one). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A client of one connection to the local server. */
static struct cosmos_client *client_with(long timeout_ms, struct retry_policy retry, int bulk)
{
    struct cosmos_opts o = {
        .endpoint = endpoint,
        .key_b64 =
            "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67"
            "XIw/Jw==",
        .database = "db",
        .container = "orders",
        .max_in_flight = 1,
        .request_timeout_ms = timeout_ms,
        .retry = retry,
        .bulk = bulk,
    };
    char err[256];
    struct cosmos_client *c = cosmos_client_new(&o, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

/* Single upserts, 150 ms request timeout, retries after retry_base_ms. */
static struct cosmos_client *client(int64_t retry_base_ms)
{
    return client_with(150, (struct retry_policy){100, retry_base_ms, retry_base_ms}, 0);
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

/* The scripted server: answers every request with one 201 per operation, except the second,
 * after which it closes the connection without answering (a kept-alive connection the
 * server dropped). It records each request's body and connection, up to 4 requests. */
struct scripted {
    char body[4][4096];
    size_t len[4];
    int conn[4];
    int requests;
};

/* Reads one HTTP request from fd into the body buffer; 0, or -1 at EOF or when malformed. */
static int scripted_read(int fd, char *body, size_t cap, size_t *blen)
{
    char buf[8192];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= sizeof(buf))
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r = poll(&p, 1, 3000) == 1 ? recv(fd, buf + n, sizeof(buf) - 1 - n, 0) : -1;
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strstr(buf, "Content-Length: ");
    size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0, have = n - (size_t)(end + 4 - buf);
    if (want > cap || have > want)
        return -1;
    memcpy(body, end + 4, have);
    while (have < want) {
        ssize_t r = recv(fd, body + have, want - have, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    *blen = want;
    return 0;
}

static void *scripted_serve(void *arg)
{
    struct scripted *sv = arg;
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 38\r\n\r\n"
                                 "[{\"statusCode\":201,\"requestCharge\":1}]";
    for (int conn = 0; sv->requests < 4 && conn < 4; conn++) {
        struct pollfd p = {listener, POLLIN, 0};
        if (poll(&p, 1, 3000) != 1)
            break;
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            break;
        while (sv->requests < 4) {
            int k = sv->requests;
            if (scripted_read(fd, sv->body[k], sizeof(sv->body[k]), &sv->len[k]) != 0)
                break;
            sv->conn[k] = conn;
            sv->requests++;
            if (k == 1)
                break; /* dropped without an answer */
            if (send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(answer) - 1))
                break;
        }
        close(fd);
    }
    return NULL;
}

START_TEST(test_batch_body_sent_again_whole_on_a_fresh_connection)
{
    silent_server_up();
    struct cosmos_client *c = client_with(2000, (struct retry_policy){3, 50, 50}, 1);
    char err[256];
    static struct scripted sv;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, scripted_serve, &sv), 0);
    static char big[2048];
    memset(big, 'x', sizeof(big));
    memcpy(big, "{\"id\":\"b\",\"customerId\":\"c\",\"pad\":\"", 35);
    memcpy(big + sizeof(big) - 3, "\"}", 2);
    struct cosmos_write w[2];
    writes(w, 2);
    w[1].id = "b";
    w[1].body = big;
    w[1].body_len = sizeof(big) - 1;
    for (int i = 0; i < 2; i++) { /* one run each: the second reuses the first's connection */
        struct cosmos_run *r = cosmos_run_new(c, &w[i], 1);
        ck_assert_ptr_nonnull(r);
        STEP_UNTIL(c, cosmos_run_result(r, err, sizeof(err)) != COSMOS_RUNNING);
        ck_assert_msg(cosmos_run_result(r, err, sizeof(err)) == COSMOS_OK, "%s", err);
        ck_assert_int_eq(w[i].outcome, COSMOS_WRITTEN);
        cosmos_run_free(r);
    }
    pthread_join(th, NULL);
    /* curl sent the dropped request again itself (no retry of ours), on a new connection, with
     * every byte of the body: the pieces were rewound (CURLOPT_SEEKFUNCTION). */
    ck_assert_uint_eq(cosmos_client_stats(c)->requests, 2);
    ck_assert_uint_eq(cosmos_client_stats(c)->retries, 0);
    ck_assert_int_eq(sv.requests, 3);
    ck_assert_int_eq(sv.conn[0], 0);
    ck_assert_int_eq(sv.conn[1], 0);
    ck_assert_int_eq(sv.conn[2], 1);
    ck_assert_uint_gt(sv.len[1], sizeof(big));
    ck_assert_uint_eq(sv.len[2], sv.len[1]);
    ck_assert_mem_eq(sv.body[2], sv.body[1], sv.len[1]);
    ck_assert_ptr_nonnull(strstr(sv.body[2], "\"resourceBody\":{\"id\":\"b\""));
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
    tcase_add_test(tc, test_batch_body_sent_again_whole_on_a_fresh_connection);
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
