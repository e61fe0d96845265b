/*
 * cosmos_write: the write engine. Takes a set of documents, sends them as single upserts or
 * non-atomic batch requests over the client's slots, reads each operation's result, and
 * retries only what failed transiently, each write after its own backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cosmos_internal.h"

enum write_state { W_NEW, W_FLIGHT, W_WAIT, W_DONE };

struct cosmos_run {
    struct cosmos_write *w;
    size_t n;
    unsigned char *state;
    unsigned char *solo;  /* 1: send alone (its batch was refused as a whole) */
    int64_t *not_before;  /* per write, monotonic ms */
    int *failures;        /* per write */
    size_t next_new;      /* no W_NEW write below this index */
    size_t remaining;     /* writes not W_DONE */
    enum cosmos_result result;
};

static int cosmos_run_init(struct cosmos_run *r, struct cosmos_write *w, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->w = w;
    r->n = n;
    size_t m = n ? n : 1;
    r->state = calloc(m, 1);
    r->solo = calloc(m, 1);
    r->not_before = calloc(m, sizeof(*r->not_before));
    r->failures = calloc(m, sizeof(*r->failures));
    for (size_t i = 0; r->state && i < n; i++) {
        r->state[i] = w[i].outcome == COSMOS_PENDING ? W_NEW : W_DONE;
        r->remaining += w[i].outcome == COSMOS_PENDING;
    }
    return r->state && r->solo && r->not_before && r->failures ? 0 : -1;
}

static void cosmos_run_free(struct cosmos_run *r)
{
    free(r->state);
    free(r->solo);
    free(r->not_before);
    free(r->failures);
}

static int cosmos_sendable(const struct cosmos_run *r, size_t i, int64_t now)
{
    return r->state[i] == W_NEW || (r->state[i] == W_WAIT && r->not_before[i] <= now);
}

/*
 * Picks the writes of the next request into s->idx: the first sendable write, then (bulk)
 * more sendable writes that fit the batch limits and, when the container has several
 * partition key ranges, share its partition key. Returns how many.
 */
static size_t cosmos_pick(struct cosmos_client *c, struct cosmos_run *r, int64_t now,
                          struct cosmos_slot *s)
{
    while (r->next_new < r->n && r->state[r->next_new] != W_NEW)
        r->next_new++;
    size_t first = r->n, bytes = 2;
    for (size_t i = 0; i < r->n && first == r->n; i++)
        if (cosmos_sendable(r, i, now))
            first = i;
    s->nidx = 0;
    if (first == r->n)
        return 0;
    s->idx[s->nidx++] = first;
    bytes += cosmos_bulk_op_size(r->w[first].pk_json, r->w[first].body_len);
    if (!c->bulk || r->solo[first])
        return s->nidx;
    for (size_t i = first + 1; i < r->n && s->nidx < COSMOS_BULK_MAX_OPS; i++) {
        if (!cosmos_sendable(r, i, now) || r->solo[i])
            continue;
        if (c->ranges > 1 && strcmp(r->w[i].pk_json, r->w[first].pk_json) != 0)
            continue;
        size_t op = cosmos_bulk_op_size(r->w[i].pk_json, r->w[i].body_len);
        if (bytes + op > COSMOS_BULK_MAX_BYTES)
            break;
        bytes += op;
        s->idx[s->nidx++] = i;
    }
    return s->nidx;
}

/* Builds the headers of slot s for its request (single upsert or batch). */
static int cosmos_request_headers(struct cosmos_client *c, struct cosmos_slot *s,
                                  const struct cosmos_write *w)
{
    curl_slist_free_all(s->headers);
    s->headers = cosmos_common_headers(curl_slist_append(NULL, "Content-Type: application/json"),
                                       c->date_hdr, c->auth_hdr);
    static const char *const batch[] = {"x-ms-cosmos-is-batch-request: True",
                                        "x-ms-cosmos-batch-atomic: False",
                                        "x-ms-cosmos-batch-continue-on-error: True", NULL};
    static const char *const single[] = {"x-ms-documentdb-is-upsert: True", NULL};
    char pk_hdr[2200];
    if (!s->is_batch) {
        if (snprintf(pk_hdr, sizeof(pk_hdr), "x-ms-documentdb-partitionkey: %s", w->pk_json) >=
            (int)sizeof(pk_hdr))
            return -1;
        s->headers = s->headers ? curl_slist_append(s->headers, pk_hdr) : NULL;
    }
    for (const char *const *h = s->is_batch ? batch : single; s->headers && *h; h++) {
        struct curl_slist *n = curl_slist_append(s->headers, *h);
        if (!n) {
            curl_slist_free_all(s->headers);
            s->headers = NULL;
        } else {
            s->headers = n;
        }
    }
    return s->headers ? 0 : -1;
}

/* Starts the request for s->idx[0..nidx). Returns 0, or -1 when out of memory. */
static int cosmos_start(struct cosmos_client *c, struct cosmos_run *r, struct cosmos_slot *s)
{
    const struct cosmos_write *first = &r->w[s->idx[0]];
    s->is_batch = c->bulk && !r->solo[s->idx[0]];
    if (cosmos_sign_upsert(c) != 0 || cosmos_request_headers(c, s, first) != 0)
        return -1;
    const char *body = first->body;
    size_t len = first->body_len;
    if (s->is_batch) {
        const char *pks[COSMOS_BULK_MAX_OPS], *bodies[COSMOS_BULK_MAX_OPS];
        size_t lens[COSMOS_BULK_MAX_OPS];
        for (size_t k = 0; k < s->nidx; k++) {
            pks[k] = r->w[s->idx[k]].pk_json;
            bodies[k] = r->w[s->idx[k]].body;
            lens[k] = r->w[s->idx[k]].body_len;
        }
        if (cosmos_bulk_body(&s->request, pks, bodies, lens, s->nidx) != 0)
            return -1;
        body = s->request.data;
        len = s->request.len;
    }
    s->retry_after_ms = -1;
    s->response.len = 0;
    curl_easy_setopt(s->easy, CURLOPT_URL, c->docs_url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
        return -1;
    s->busy = 1;
    for (size_t k = 0; k < s->nidx; k++) {
        r->state[s->idx[k]] = W_FLIGHT;
        r->w[s->idx[k]].attempts++;
    }
    if (c->live)
        atomic_fetch_add(&c->live->in_flight, 1);
    c->stats.requests++;
    return 0;
}

/* Schedules write i again after a transient failure, or gives up on the run. */
static void cosmos_again(struct cosmos_client *c, struct cosmos_run *r, size_t i, int status,
                         long retry_after_ms, const char *why, char *err, size_t errsz)
{
    if (++r->failures[i] >= c->retry.max_attempts) {
        snprintf(err, errsz, "cosmos: upsert of id %s failed %d times, last: %s", r->w[i].id,
                 r->failures[i], why);
        r->result = COSMOS_GAVE_UP;
        return;
    }
    c->stats.retries++;
    c->rng = c->rng * 1103515245u + 12345u;
    r->not_before[i] =
        clock_mono_ms() + retry_backoff_ms(&c->retry, r->failures[i],
                                           status == 429 || status == 503 ? retry_after_ms : -1,
                                           c->rng >> 8);
    r->state[i] = W_WAIT;
}

/* Applies one operation's (or a single request's) status to write i. */
static void cosmos_settle(struct cosmos_client *c, struct cosmos_run *r, size_t i, int status,
                          long retry_after_ms, const char *message, char *err, size_t errsz)
{
    struct cosmos_write *w = &r->w[i];
    char why[320];
    w->status = status;
    switch (retry_classify(status, status == 0)) {
    case RETRY_DONE:
        w->outcome = COSMOS_WRITTEN;
        r->state[i] = W_DONE;
        r->remaining--;
        return;
    case RETRY_REJECT:
        snprintf(w->error, sizeof(w->error), "%s", message);
        w->outcome = COSMOS_REJECTED;
        r->state[i] = W_DONE;
        r->remaining--;
        return;
    case RETRY_FATAL:
        snprintf(err, errsz, "cosmos: HTTP %d on upsert: %s (%s)", status, message,
                 status == 404 ? "check cosmos.database and cosmos.container"
                               : "check cosmos.key and the clock");
        r->result = COSMOS_FATAL;
        return;
    case RETRY_AGAIN:
        snprintf(why, sizeof(why), "%s%d %s", status ? "HTTP " : "", status, message);
        cosmos_again(c, r, i, status, retry_after_ms, why, err, errsz);
        return;
    }
}

/* A batch answered 200/207: settle each operation by its own status. */
static void cosmos_settle_batch(struct cosmos_client *c, struct cosmos_run *r,
                                struct cosmos_slot *s, char *err, size_t errsz)
{
    struct cosmos_op_result ops[COSMOS_BULK_MAX_OPS];
    if (cosmos_bulk_parse(s->response.data, s->response.len, ops, s->nidx) != 0) {
        for (size_t k = 0; k < s->nidx && r->result == COSMOS_OK; k++)
            cosmos_again(c, r, s->idx[k], 0, -1, "unreadable batch answer", err, errsz);
        return;
    }
    for (size_t k = 0; k < s->nidx && r->result == COSMOS_OK; k++) {
        char msg[96];
        snprintf(msg, sizeof(msg), "batch operation status %d substatus %d", ops[k].status,
                 ops[k].substatus);
        c->stats.throttled += ops[k].status == 429;
        cosmos_settle(c, r, s->idx[k], ops[k].status, ops[k].retry_after_ms, msg, err, errsz);
    }
}

/* Handles one finished transfer. */
static void cosmos_finish(struct cosmos_client *c, struct cosmos_run *r, struct cosmos_slot *s,
                          CURLcode res, char *err, size_t errsz)
{
    long status = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, s->easy);
    s->busy = 0;
    if (res != CURLE_OK)
        c->stats.transport_errors++;
    else
        c->stats.request_units += cosmos_request_charge(s->easy);
    if (c->live) {
        atomic_store(&c->live->reachable, res == CURLE_OK);
        atomic_fetch_sub(&c->live->in_flight, 1);
        if (c->live->heartbeat_ms)
            atomic_store(c->live->heartbeat_ms, clock_mono_ms());
    }
    c->stats.by_status[status > 0 && status < 600 ? status : 0]++;
    c->stats.throttled += status == 429;
    if (s->is_batch && (status == 200 || status == 207)) {
        cosmos_settle_batch(c, r, s, err, errsz);
        return;
    }
    char msg[256];
    if (res != CURLE_OK)
        snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(res));
    else
        cosmos_error_message(s->response.data, s->response.len, msg, sizeof(msg));
    int verdict = retry_classify(status, res != CURLE_OK);
    for (size_t k = 0; k < s->nidx && r->result == COSMOS_OK; k++) {
        if (s->is_batch && verdict == RETRY_REJECT) {
            /* The batch as a whole was refused (e.g. too large): find the culprit alone. */
            r->solo[s->idx[k]] = 1;
            r->state[s->idx[k]] = W_WAIT;
            r->not_before[s->idx[k]] = 0;
            continue;
        }
        cosmos_settle(c, r, s->idx[k], (int)status, s->retry_after_ms, msg, err, errsz);
    }
}

/* Time to wait in curl_multi_poll: until the next retry is due, at most 100 ms. */
static int cosmos_poll_timeout(const struct cosmos_run *r, int64_t now)
{
    int64_t t = 100;
    for (size_t i = 0; i < r->n; i++)
        if (r->state[i] == W_WAIT && r->not_before[i] - now < t)
            t = r->not_before[i] - now;
    return (int)(t < 0 ? 0 : t);
}

static void cosmos_abort_in_flight(struct cosmos_client *c)
{
    for (int i = 0; i < c->nslots; i++)
        if (c->slots[i].busy) {
            curl_multi_remove_handle(c->multi, c->slots[i].easy);
            c->slots[i].busy = 0;
            if (c->live)
                atomic_fetch_sub(&c->live->in_flight, 1);
        }
}

enum cosmos_result cosmos_upsert_all(struct cosmos_client *c, struct cosmos_write *w, size_t n,
                                     int64_t deadline_ms, char *err, size_t errsz)
{
    struct cosmos_run r;
    if (cosmos_run_init(&r, w, n) != 0) {
        cosmos_run_free(&r);
        snprintf(err, errsz, "cosmos: out of memory");
        return COSMOS_GAVE_UP;
    }
    while (r.remaining > 0 && r.result == COSMOS_OK) {
        int64_t now = clock_mono_ms();
        if (deadline_ms && now >= deadline_ms) {
            snprintf(err, errsz, "cosmos: %zu writes not done before the deadline", r.remaining);
            r.result = COSMOS_GAVE_UP;
            break;
        }
        for (int i = 0; i < c->nslots && r.result == COSMOS_OK; i++) {
            struct cosmos_slot *s = &c->slots[i];
            if (!s->busy && cosmos_pick(c, &r, now, s) && cosmos_start(c, &r, s) != 0) {
                snprintf(err, errsz, "cosmos: cannot start a request (out of memory)");
                r.result = COSMOS_GAVE_UP;
            }
        }
        int running = 0;
        curl_multi_poll(c->multi, NULL, 0, cosmos_poll_timeout(&r, now), NULL);
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        while (r.result == COSMOS_OK && (m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct cosmos_slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            cosmos_finish(c, &r, s, m->data.result, err, errsz);
        }
    }
    if (r.result != COSMOS_OK)
        cosmos_abort_in_flight(c);
    cosmos_run_free(&r);
    return r.result;
}
