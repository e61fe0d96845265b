/*
 * health: libmicrohttpd server for /metrics, /healthz and /readyz. Reads only atomics and
 * the metrics registry (under its lock), so it never blocks the worker's loops.
 */
#include "health.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct health {
    struct MHD_Daemon *daemon;
    struct metrics *metrics;
    int64_t liveness_timeout_ms;
};

int health_is_live(struct metrics *m, int64_t now_ms, int64_t liveness_timeout_ms)
{
    return now_ms - atomic_load(&m->live.heartbeat_ms) <= liveness_timeout_ms;
}

int health_is_ready(struct metrics *m)
{
    return atomic_load(&m->live.joined) && atomic_load(&m->live.cosmos.reachable);
}

static enum MHD_Result health_reply(struct MHD_Connection *conn, unsigned status, char *body,
                                    size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result health_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return health_reply(conn, status, (char *)msg, strlen(msg), MHD_RESPMEM_PERSISTENT,
                        "text/plain; charset=utf-8");
}

static enum MHD_Result health_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    struct health *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return health_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *text = metrics_render(h->metrics, &len);
        if (!text)
            return health_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return health_reply(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE,
                            "text/plain; version=0.0.4; charset=utf-8");
    }
    if (strcmp(url, "/healthz") == 0)
        return health_is_live(h->metrics, clock_mono_ms(), h->liveness_timeout_ms)
                   ? health_text(conn, MHD_HTTP_OK, "ok\n")
                   : health_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stuck: no progress\n");
    if (strcmp(url, "/readyz") == 0) {
        if (!atomic_load(&h->metrics->live.joined))
            return health_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not in the group yet\n");
        if (!atomic_load(&h->metrics->live.cosmos.reachable))
            return health_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "cosmos unreachable\n");
        return health_text(conn, MHD_HTTP_OK, "ready\n");
    }
    return health_text(conn, MHD_HTTP_NOT_FOUND, "not found: /metrics /healthz /readyz\n");
}

struct health *health_start(struct metrics *m, const char *bind_addr, int port,
                            int64_t liveness_timeout_ms, char *err, size_t errsz)
{
    struct health *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errsz, "health: out of memory");
        return NULL;
    }
    h->metrics = m;
    h->liveness_timeout_ms = liveness_timeout_ms;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        snprintf(err, errsz, "health: metrics.bind: not an IPv4 address: %s", bind_addr);
        free(h);
        return NULL;
    }
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
                                 health_handle, h, MHD_OPTION_SOCK_ADDR, &addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errsz, "health: cannot listen on %s:%d (port in use?)", bind_addr, port);
        free(h);
        return NULL;
    }
    return h;
}

void health_stop(struct health *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
