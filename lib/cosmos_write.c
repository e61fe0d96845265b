/*
 * cosmos_write: the write engine. Keeps the runs of writes in progress (one per batch, oldest
 * first), sends their documents as single upserts or non-atomic batch requests over the
 * client's slots within the adaptive concurrency limit, reads each operation's result, and
 * retries only what failed transiently, each write after its own backoff. In versioned mode
 * a write goes through the phases of lib/cosmos_version (Create, Read, Replace with ifMatch).
 * A batch request carries the operations of one partition key range (lib/cosmos_route); a
 * 410 naming a range gone has the range map read again before the next request.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cosmos_internal.h"
#include "cosmos_route.h"

enum write_state { W_NEW, W_FLIGHT, W_WAIT, W_DONE };

struct cosmos_run {
    struct cosmos_client *client;
    struct cosmos_run *next, *prev;
    struct cosmos_write *w;
    size_t n;
    unsigned char *state;
    unsigned char *solo;      /* 1: send alone (its batch was refused as a whole) */
    unsigned char *cancelled; /* 1: fenced by cosmos_run_cancel, never sent or retried again */
    int64_t *not_before;      /* per write, monotonic ms */
    int *failures;            /* per write */
    unsigned char *phase;     /* per write, enum cosmos_phase */
    unsigned char *rounds;    /* per write: versioned phase changes so far */
    char **etag;              /* per write: the _etag its Replace requires (malloc'd), or NULL */
    size_t *range;            /* per write: its range in the client's map (route_range) */
    unsigned *range_gen;      /* per write: map_gen + 1 the range was found in, 0: not yet */
    size_t first_open;        /* no write below this index is W_NEW or W_WAIT */
    size_t waiting;           /* writes in W_WAIT */
    size_t remaining;         /* writes not W_DONE */
    enum cosmos_result result;
    char err[512];
};

/* Frees the per-write arrays of r (r->n etags). */
static void cosmos_run_arrays_free(struct cosmos_run *r)
{
    for (size_t i = 0; r->etag && i < r->n; i++)
        free(r->etag[i]);
    free(r->state);
    free(r->solo);
    free(r->cancelled);
    free(r->not_before);
    free(r->failures);
    free(r->phase);
    free(r->rounds);
    free(r->etag);
    free(r->range);
    free(r->range_gen);
}

struct cosmos_run *cosmos_run_new(struct cosmos_client *c, struct cosmos_write *w, size_t n)
{
    struct cosmos_run *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    size_t m = n ? n : 1;
    r->client = c;
    r->w = w;
    r->n = n;
    r->state = calloc(m, 1);
    r->solo = calloc(m, 1);
    r->cancelled = calloc(m, 1);
    r->not_before = calloc(m, sizeof(*r->not_before));
    r->failures = calloc(m, sizeof(*r->failures));
    r->phase = calloc(m, 1);
    r->rounds = calloc(m, 1);
    r->etag = calloc(m, sizeof(*r->etag));
    r->range = calloc(m, sizeof(*r->range));
    r->range_gen = calloc(m, sizeof(*r->range_gen));
    if (!r->state || !r->solo || !r->cancelled || !r->not_before || !r->failures || !r->phase ||
        !r->rounds || !r->etag || !r->range || !r->range_gen) {
        r->n = 0;
        cosmos_run_arrays_free(r);
        free(r);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        r->state[i] = w[i].outcome == COSMOS_PENDING ? W_NEW : W_DONE;
        r->remaining += w[i].outcome == COSMOS_PENDING;
    }
    r->result = r->remaining ? COSMOS_RUNNING : COSMOS_OK;
    r->prev = c->runs_tail;
    if (c->runs_tail)
        c->runs_tail->next = r;
    else
        c->runs = r;
    c->runs_tail = r;
    return r;
}

static void cosmos_slot_release(struct cosmos_client *c, struct cosmos_slot *s)
{
    curl_multi_remove_handle(c->multi, s->easy);
    s->busy = 0;
    s->run = NULL;
    c->busy--;
    if (c->live)
        atomic_fetch_sub(&c->live->in_flight, 1);
}

void cosmos_run_free(struct cosmos_run *r)
{
    if (!r)
        return;
    struct cosmos_client *c = r->client;
    for (int i = 0; i < c->nslots; i++)
        if (c->slots[i].busy && c->slots[i].run == r)
            cosmos_slot_release(c, &c->slots[i]);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->runs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->runs_tail = r->prev;
    cosmos_run_arrays_free(r);
    free(r);
}

enum cosmos_result cosmos_run_result(const struct cosmos_run *r, char *err, size_t errsz)
{
    if (r->result != COSMOS_OK && r->result != COSMOS_RUNNING)
        snprintf(err, errsz, "%s", r->err);
    return r->result;
}

int cosmos_in_flight(const struct cosmos_client *c)
{
    return c->busy;
}

/* Ends the run with result and message (the first failure wins). */
static void cosmos_run_fail(struct cosmos_run *r, enum cosmos_result result, const char *msg)
{
    if (r->result != COSMOS_RUNNING)
        return;
    r->result = result;
    snprintf(r->err, sizeof(r->err), "%s", msg);
}

static int cosmos_sendable(const struct cosmos_run *r, size_t i, int64_t now)
{
    if (r->state[i] == W_WAIT ? r->not_before[i] > now : r->state[i] != W_NEW)
        return 0;
    const struct cosmos_write *after = r->w[i].after;
    return !after || after->outcome != COSMOS_PENDING;
}

/* The operation write i of run r is at: Upsert, or the phase of a versioned write. */
static const struct cosmos_bulk_op *cosmos_op_of(const struct cosmos_client *c,
                                                 const struct cosmos_run *r, size_t i,
                                                 struct cosmos_bulk_op *op)
{
    static const enum cosmos_op_type types[] = {COSMOS_OP_CREATE, COSMOS_OP_READ,
                                                COSMOS_OP_REPLACE};
    const struct cosmos_write *w = &r->w[i];
    *op = (struct cosmos_bulk_op){COSMOS_OP_UPSERT, w->id, w->pk_json, w->body, w->body_len, NULL};
    if (c->mode == COSMOS_WRITE_VERSIONED) {
        op->type = types[r->phase[i]];
        op->if_match = r->phase[i] == COSMOS_PHASE_REPLACE ? r->etag[i] : NULL;
    }
    return op;
}

/* The range of write i of run r in the client's map now (found once per map). */
static size_t cosmos_range_of(const struct cosmos_client *c, struct cosmos_run *r, size_t i)
{
    if (r->range_gen[i] != c->map_gen + 1) {
        r->range[i] = route_range(&c->map, r->w[i].epk);
        r->range_gen[i] = c->map_gen + 1;
    }
    return r->range[i];
}

/*
 * Picks the writes of the next request of run r into s->idx: the first sendable write, then
 * (bulk) the later sendable writes of the same partition key range that fit the batch limits
 * (lib/cosmos_route). Returns how many.
 */
static size_t cosmos_pick(struct cosmos_client *c, struct cosmos_run *r, int64_t now,
                          struct cosmos_slot *s)
{
    while (r->first_open < r->n && r->state[r->first_open] != W_NEW &&
           r->state[r->first_open] != W_WAIT)
        r->first_open++;
    size_t first = r->n;
    for (size_t i = r->first_open; i < r->n && first == r->n; i++)
        if (cosmos_sendable(r, i, now) &&
            (!c->adaptive || range_load_open(&c->load, cosmos_range_of(c, r, i))))
            first = i;
    s->nidx = 0;
    if (first == r->n)
        return 0;
    s->idx[s->nidx++] = first;
    s->range = cosmos_range_of(c, r, first);
    if (!c->bulk || r->solo[first])
        return s->nidx;
    struct cosmos_bulk_op op;
    struct route_group g;
    route_group_start(&g, cosmos_range_of(c, r, first),
                      cosmos_bulk_op_size_of(cosmos_op_of(c, r, first, &op)), COSMOS_BULK_MAX_OPS,
                      COSMOS_BULK_MAX_BYTES);
    for (size_t i = first + 1; i < r->n; i++) {
        if (!cosmos_sendable(r, i, now) || r->solo[i])
            continue;
        enum route_fit fit = route_group_offer(&g, cosmos_range_of(c, r, i),
                                               cosmos_bulk_op_size_of(cosmos_op_of(c, r, i, &op)));
        if (fit == ROUTE_FULL)
            break;
        if (fit == ROUTE_TAKE)
            s->idx[s->nidx++] = i;
    }
    s->range = g.range;
    return s->nidx;
}

/* Starts the request for r's writes s->idx[0..nidx). Returns 0, or -1 when out of memory. */
static int cosmos_start(struct cosmos_client *c, struct cosmos_run *r, struct cosmos_slot *s)
{
    struct cosmos_bulk_op ops[COSMOS_BULK_MAX_OPS];
    s->is_batch = c->bulk && !r->solo[s->idx[0]];
    /* A batch names its range (a copy goes into the headers: the map may be replaced while
     * the request is on the wire). */
    s->range_id = s->is_batch && s->range < c->map.n ? c->map.r[s->range].id : NULL;
    s->map_gen = c->map_gen;
    for (size_t k = 0; k < s->nidx; k++) {
        cosmos_op_of(c, r, s->idx[k], &ops[k]);
        c->stats.reads += ops[k].type == COSMOS_OP_READ;
    }
    int setup = cosmos_request_setup(c, s, &ops[0]);
    s->range_id = NULL;
    if (setup != 0)
        return -1;
    if (s->is_batch && cosmos_bulk_ops_gather(&s->request, ops, s->nidx) != 0)
        return -1;
    s->retry_after_ms = -1;
    s->substatus = 0;
    s->response.len = 0;
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    if (s->is_batch) {
        /* No POSTFIELDS: curl reads the body from the pieces (cosmos_on_read), straight into
         * its upload buffer, instead of from one copy of it. */
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->request.total);
    } else if (ops[0].type != COSMOS_OP_READ) {
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, ops[0].body);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ops[0].body_len);
    }
    if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
        return -1;
    s->busy = 1;
    s->run = r;
    c->busy++;
    s->seq = aimd_start(&c->aimd);
    s->saturated = c->busy >= aimd_limit(&c->aimd);
    range_load_start(&c->load, s->range, &s->range_seq, &s->range_saturated, &s->range_gen);
    for (size_t k = 0; k < s->nidx; k++) {
        r->state[s->idx[k]] = W_FLIGHT;
        r->w[s->idx[k]].attempts++;
    }
    if (c->live)
        atomic_fetch_add(&c->live->in_flight, 1);
    c->stats.requests++;
    c->stats.operations += s->nidx;
    return 0;
}

static void cosmos_done(struct cosmos_run *r, size_t i, enum cosmos_outcome outcome)
{
    r->w[i].outcome = outcome;
    r->state[i] = W_DONE;
    if (--r->remaining == 0 && r->result == COSMOS_RUNNING)
        r->result = COSMOS_OK;
}

void cosmos_run_cancel(struct cosmos_run *r, size_t i)
{
    if (i >= r->n || r->state[i] == W_DONE)
        return;
    r->cancelled[i] = 1;
    if (r->state[i] == W_FLIGHT)
        return; /* its answer settles it (cosmos_again ends it) */
    if (r->state[i] == W_WAIT)
        r->waiting--;
    cosmos_done(r, i, COSMOS_CANCELLED);
}

/*
 * Schedules write i again after a transient failure, or gives up on the run. Throttling (429)
 * is back-pressure: it waits the server's x-ms-retry-after-ms and never counts toward
 * retry.max_attempts (the adaptive concurrency limit halves meanwhile).
 */
static void cosmos_again(struct cosmos_client *c, struct cosmos_run *r, size_t i, int status,
                         long retry_after_ms, const char *why)
{
    if (r->cancelled[i]) {
        cosmos_done(r, i, COSMOS_CANCELLED);
        return;
    }
    if (!retry_counts(status)) {
        c->stats.retries++;
        r->not_before[i] =
            clock_mono_ms() + (retry_after_ms >= 0 ? retry_after_ms : c->retry.base_ms);
        r->state[i] = W_WAIT;
        r->waiting++;
        if (i < r->first_open)
            r->first_open = i;
        return;
    }
    if (++r->failures[i] >= c->retry.max_attempts) {
        char msg[512];
        snprintf(msg, sizeof(msg), "cosmos: upsert of id %s failed %d times, last: %s", r->w[i].id,
                 r->failures[i], why);
        cosmos_run_fail(r, COSMOS_GAVE_UP, msg);
        return;
    }
    c->stats.retries++;
    c->rng = c->rng * 1103515245u + 12345u;
    r->not_before[i] =
        clock_mono_ms() + retry_backoff_ms(&c->retry, r->failures[i],
                                           status == 429 || status == 503 ? retry_after_ms : -1,
                                           c->rng >> 8);
    r->state[i] = W_WAIT;
    r->waiting++;
    if (i < r->first_open)
        r->first_open = i;
}

/* Most phase changes one versioned write may go through (each is another writer's doing). */
#define COSMOS_VERSION_ROUNDS 32

/* Moves versioned write i to phase, due at once (etag: what a Replace requires, or NULL). */
static void cosmos_turn(struct cosmos_run *r, size_t i, enum cosmos_phase phase, const char *etag)
{
    if (r->cancelled[i]) {
        cosmos_done(r, i, COSMOS_CANCELLED);
        return;
    }
    char *copy = etag ? strdup(etag) : NULL;
    if ((etag && !copy) || ++r->rounds[i] > COSMOS_VERSION_ROUNDS) {
        char msg[512];
        snprintf(msg, sizeof(msg), "cosmos: versioned write of id %s: %s", r->w[i].id,
                 copy ? "the document kept changing (412/409/404 32 times)" : "out of memory");
        free(copy);
        cosmos_run_fail(r, COSMOS_GAVE_UP, msg);
        return;
    }
    free(r->etag[i]);
    r->etag[i] = copy;
    r->phase[i] = (unsigned char)phase;
    r->not_before[i] = 0;
    r->state[i] = W_WAIT;
    r->waiting++;
    if (i < r->first_open)
        r->first_open = i;
}

/*
 * Versioned mode: applies the answer (status, and for a Read the stored document
 * doc[0..doc_len)) to write i. Returns 1 when settled, 0 when the retry policy decides.
 */
static int cosmos_settle_versioned(struct cosmos_client *c, struct cosmos_run *r, size_t i,
                                   int status, const char *doc, size_t doc_len)
{
    const struct cosmos_write *w = &r->w[i];
    enum cosmos_phase phase = r->phase[i];
    struct cosmos_stored st = {0};
    int superseded = 0;
    if (phase == COSMOS_PHASE_READ && status == 200) {
        if (cosmos_version_read(doc, doc_len, &st) != 0) {
            cosmos_again(c, r, i, 0, -1, "stored document without a readable _etag");
            return 1;
        }
        superseded =
            cosmos_version_superseded(&st, w->topic ? w->topic : "", w->partition, w->offset);
    }
    c->stats.conflicts += phase == COSMOS_PHASE_WRITE && status == 409;
    c->stats.precondition_failed += phase == COSMOS_PHASE_REPLACE && status == 412;
    switch (cosmos_version_next(phase, status, superseded)) {
    case COSMOS_NEXT_WRITTEN:
        cosmos_done(r, i, COSMOS_WRITTEN);
        return 1;
    case COSMOS_NEXT_SUPERSEDED:
        c->stats.superseded++;
        cosmos_done(r, i, COSMOS_WRITTEN);
        return 1;
    case COSMOS_NEXT_READ:
        cosmos_turn(r, i, COSMOS_PHASE_READ, NULL);
        return 1;
    case COSMOS_NEXT_REPLACE:
        cosmos_turn(r, i, COSMOS_PHASE_REPLACE, st.etag);
        return 1;
    case COSMOS_NEXT_CREATE:
        cosmos_turn(r, i, COSMOS_PHASE_WRITE, NULL);
        return 1;
    case COSMOS_NEXT_CLASSIFY:
        break;
    }
    return 0;
}

/* Applies one operation's (or a single request's) status and sub-status to write i;
 * doc[0..doc_len) is the document the answer carries, if any. */
static void cosmos_settle(struct cosmos_client *c, struct cosmos_run *r, size_t i, int status,
                          int substatus, long retry_after_ms, const char *message, const char *doc,
                          size_t doc_len)
{
    struct cosmos_write *w = &r->w[i];
    char why[320];
    w->status = status;
    if (c->mode == COSMOS_WRITE_VERSIONED && status != 0 &&
        cosmos_settle_versioned(c, r, i, status, doc, doc_len))
        return;
    switch (retry_classify(status, substatus, status == 0)) {
    case RETRY_DONE:
        cosmos_done(r, i, COSMOS_WRITTEN);
        return;
    case RETRY_REJECT:
        if (substatus)
            snprintf(w->error, sizeof(w->error), "sub-status %d: %s", substatus, message);
        else
            snprintf(w->error, sizeof(w->error), "%s", message);
        cosmos_done(r, i, COSMOS_REJECTED);
        return;
    case RETRY_FATAL:
        snprintf(why, sizeof(why), "cosmos: HTTP %d on upsert: %s (%s)", status, message,
                 status == 404 ? "check cosmos.database and cosmos.container"
                               : "check cosmos.key and the clock");
        cosmos_run_fail(r, COSMOS_FATAL, why);
        return;
    case RETRY_AGAIN:
        snprintf(why, sizeof(why), "%s%d %s", status ? "HTTP " : "", status, message);
        cosmos_again(c, r, i, status, retry_after_ms, why);
        return;
    }
}

/* A batch answered 200/207: settles each operation by its own status. Returns 1 when one
 * of them was throttled. */
static int cosmos_settle_batch(struct cosmos_client *c, struct cosmos_run *r, struct cosmos_slot *s)
{
    struct cosmos_op_result ops[COSMOS_BULK_MAX_OPS];
    int throttled = 0;
    if (cosmos_bulk_parse(s->response.data, s->response.len, ops, s->nidx, &c->tokens) != 0) {
        for (size_t k = 0; k < s->nidx && r->result == COSMOS_RUNNING; k++)
            cosmos_again(c, r, s->idx[k], 0, -1, "unreadable batch answer");
        return 0;
    }
    for (size_t k = 0; k < s->nidx && r->result == COSMOS_RUNNING; k++) {
        char msg[96] = ""; /* only a failed operation's message is ever read */
        if (ops[k].status < 200 || ops[k].status >= 300)
            snprintf(msg, sizeof(msg), "batch operation status %d substatus %d", ops[k].status,
                     ops[k].substatus);
        c->stats.throttled += ops[k].status == 429;
        throttled |= ops[k].status == 429;
        cosmos_ranges_gone(c, s->map_gen, ops[k].status, ops[k].substatus);
        cosmos_settle(c, r, s->idx[k], ops[k].status, ops[k].substatus, ops[k].retry_after_ms, msg,
                      s->response.data + ops[k].doc_off, ops[k].doc_len);
    }
    return throttled;
}

/* Settles the writes of one finished transfer; returns 1 when it was throttled. */
static int cosmos_finish_writes(struct cosmos_client *c, struct cosmos_run *r,
                                struct cosmos_slot *s, CURLcode res, long status)
{
    if (s->is_batch && (status == 200 || status == 207))
        return cosmos_settle_batch(c, r, s);
    char msg[256];
    if (res != CURLE_OK)
        snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(res));
    else
        cosmos_error_message(s->response.data, s->response.len, msg, sizeof(msg));
    int substatus = res == CURLE_OK ? s->substatus : 0;
    int verdict = retry_classify(status, substatus, res != CURLE_OK);
    if (res == CURLE_OK)
        cosmos_ranges_gone(c, s->map_gen, (int)status, substatus);
    for (size_t k = 0; k < s->nidx && r->result == COSMOS_RUNNING; k++) {
        if (s->is_batch && verdict == RETRY_REJECT && r->cancelled[s->idx[k]]) {
            cosmos_done(r, s->idx[k], COSMOS_CANCELLED);
            continue;
        }
        if (s->is_batch && verdict == RETRY_REJECT) {
            /* The batch as a whole was refused (e.g. too large): find the culprit alone. */
            r->solo[s->idx[k]] = 1;
            r->state[s->idx[k]] = W_WAIT;
            r->waiting++;
            r->not_before[s->idx[k]] = 0;
            if (s->idx[k] < r->first_open)
                r->first_open = s->idx[k];
            continue;
        }
        cosmos_settle(c, r, s->idx[k], (int)status, substatus, s->retry_after_ms, msg,
                      s->response.data, s->response.len);
    }
    return status == 429;
}

/* Handles one finished transfer. */
static void cosmos_finish(struct cosmos_client *c, struct cosmos_slot *s, CURLcode res)
{
    long status = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    struct cosmos_run *r = s->run;
    uint64_t seq = s->seq;
    int saturated = s->saturated;
    size_t range = s->range;
    uint64_t range_seq = s->range_seq;
    int range_saturated = s->range_saturated;
    unsigned range_gen = s->range_gen;
    cosmos_slot_release(c, s);
    if (res != CURLE_OK)
        c->stats.transport_errors++;
    else
        c->stats.request_units += cosmos_request_charge(s->easy);
    if (c->live) {
        atomic_store(&c->live->reachable, res == CURLE_OK);
        if (c->live->heartbeat_ms)
            atomic_store(c->live->heartbeat_ms, clock_mono_ms());
    }
    c->stats.by_status[status > 0 && status < 600 ? status : 0]++;
    c->stats.throttled += status == 429;
    int throttled = cosmos_finish_writes(c, r, s, res, status);
    /* Throttling is per partition: a 429 cuts its range's limit, not the others' (a hot range
     * used to halve the whole worker's concurrency). The overall limit only grows, from
     * COSMOS_ADAPTIVE_START up to cosmos.max_in_flight, while it is fully used. */
    range_load_done(&c->load, range_gen, range, range_seq, c->adaptive && throttled,
                    range_saturated);
    if (c->adaptive)
        aimd_done(&c->aimd, seq, 0, saturated);
    c->stats.limit_cuts = c->load.cuts;
    c->stats.concurrency_limit = cosmos_concurrency_limit(c);
}

int cosmos_concurrency_limit(const struct cosmos_client *c)
{
    long total = range_load_total(&c->load);
    int limit = aimd_limit(&c->aimd);
    return total > 0 && total < limit ? (int)total : limit;
}

/* Starts requests on free slots while the limit allows, oldest run first. */
static void cosmos_fill(struct cosmos_client *c, int64_t now)
{
    cosmos_ranges_refresh(c, now);
    for (int i = 0; i < c->nslots && c->busy < aimd_limit(&c->aimd); i++) {
        struct cosmos_slot *s = &c->slots[i];
        if (s->busy)
            continue;
        struct cosmos_run *r = c->runs;
        while (r && (r->result != COSMOS_RUNNING || !cosmos_pick(c, r, now, s)))
            r = r->next;
        if (!r)
            return; /* nothing sendable now */
        size_t waiting_before = 0;
        for (size_t k = 0; k < s->nidx; k++)
            waiting_before += r->state[s->idx[k]] == W_WAIT;
        if (cosmos_start(c, r, s) != 0) {
            cosmos_run_fail(r, COSMOS_GAVE_UP, "cosmos: cannot start a request (out of memory)");
            continue;
        }
        r->waiting -= waiting_before;
    }
}

/* Milliseconds until the next retry falls due, at most cap (0 if one is due). */
static int cosmos_next_due(const struct cosmos_client *c, int64_t now, int cap)
{
    int64_t t = cap;
    for (const struct cosmos_run *r = c->runs; r; r = r->next) {
        if (r->result != COSMOS_RUNNING || r->waiting == 0)
            continue;
        for (size_t i = r->first_open; i < r->n; i++)
            if (r->state[i] == W_WAIT && r->not_before[i] - now < t)
                t = r->not_before[i] - now;
    }
    return (int)(t < 0 ? 0 : t);
}

void cosmos_step(struct cosmos_client *c, int wait_ms, int wake_fd)
{
    int64_t now = clock_mono_ms();
    cosmos_fill(c, now);
    int timeout = cosmos_next_due(c, now, wait_ms < 0 ? 0 : wait_ms);
    struct curl_waitfd wake = {.fd = wake_fd, .events = CURL_WAIT_POLLIN};
    if (timeout > 0 || c->busy > 0)
        curl_multi_poll(c->multi, wake_fd >= 0 ? &wake : NULL, wake_fd >= 0, timeout, NULL);
    if (c->busy == 0)
        return;
    int running = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct cosmos_slot *s = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        cosmos_finish(c, s, m->data.result);
    }
    cosmos_fill(c, clock_mono_ms());
}
