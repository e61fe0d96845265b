/*
 * cosmos: libcurl-multi client for Cosmos DB document upserts. One slot per concurrent
 * request, each with an easy handle that is reused so its connection stays alive. Writes that
 * fail transiently go to a retry queue with a not-before time from lib/retry.
 */
#include "cosmos.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "cosmos_auth.h"

#define COSMOS_API_VERSION "2018-12-31"
#define COSMOS_BODY_KEEP 1024

struct cosmos_slot {
    CURL *easy;
    struct curl_slist *headers;
    size_t write_idx;
    int busy;
    long retry_after_ms;
    char body[COSMOS_BODY_KEEP];
    size_t body_len;
};

struct cosmos_client {
    CURLM *multi;
    struct cosmos_slot *slots;
    int nslots;
    unsigned char key[COSMOS_KEY_MAX];
    int key_len;
    char *docs_url, *coll_url, *coll_link;
    char *ca_file;
    long timeout_ms;
    struct retry_policy retry;
    struct cosmos_stats stats;
    struct cosmos_live *live;
    time_t auth_time; /* the second the cached POST headers were signed for */
    char date_hdr[COSMOS_DATE_MAX + 16];
    char auth_hdr[COSMOS_AUTH_MAX + 32];
    uint32_t rng;
};

static char *cosmos_strdupf(const char *fmt, const char *a, const char *b, const char *c)
{
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, fmt, a, b, c);
    return s;
}

static int cosmos_build_urls(struct cosmos_client *c, const struct cosmos_opts *o)
{
    char *base = strdup(o->endpoint);
    char *db = curl_easy_escape(NULL, o->database, 0);
    char *coll = curl_easy_escape(NULL, o->container, 0);
    int rc = -1;
    if (base && db && coll) {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            base[--n] = '\0';
        c->coll_url = cosmos_strdupf("%s/dbs/%s/colls/%s", base, db, coll);
        c->docs_url = cosmos_strdupf("%s/dbs/%s/colls/%s/docs", base, db, coll);
        c->coll_link = cosmos_strdupf("dbs/%s/colls/%s%s", o->database, o->container, "");
        rc = c->coll_url && c->docs_url && c->coll_link ? 0 : -1;
    }
    free(base);
    curl_free(db);
    curl_free(coll);
    return rc;
}

static size_t cosmos_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct cosmos_slot *s = userp;
    size_t len = size * nmemb;
    size_t room = COSMOS_BODY_KEEP - 1 - s->body_len;
    size_t take = len < room ? len : room;
    memcpy(s->body + s->body_len, data, take);
    s->body_len += take;
    s->body[s->body_len] = '\0';
    return len;
}

static size_t cosmos_on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct cosmos_slot *s = userp;
    size_t len = size * nmemb;
    static const char ra[] = "x-ms-retry-after-ms:";
    if (len > sizeof(ra) && strncasecmp(data, ra, sizeof(ra) - 1) == 0)
        s->retry_after_ms = strtol(data + sizeof(ra) - 1, NULL, 10);
    return len;
}

/* x-ms-request-charge of the finished transfer (request units), 0 if absent. */
static double cosmos_request_charge(CURL *easy)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, "x-ms-request-charge", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return 0;
    return strtod(h->value, NULL);
}

static int cosmos_easy_setup(struct cosmos_client *c, struct cosmos_slot *s)
{
    s->easy = curl_easy_init();
    if (!s->easy)
        return -1;
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, cosmos_on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, cosmos_on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    if (c->ca_file)
        curl_easy_setopt(s->easy, CURLOPT_CAINFO, c->ca_file);
    return 0;
}

struct cosmos_client *cosmos_client_new(const struct cosmos_opts *o, char *err, size_t errsz)
{
    struct cosmos_client *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errsz, "cosmos: out of memory");
        return NULL;
    }
    c->key_len = cosmos_key_decode(o->key_b64, c->key);
    if (c->key_len <= 0) {
        snprintf(err, errsz, "cosmos: the master key is not valid base64");
        goto fail;
    }
    c->timeout_ms = o->request_timeout_ms;
    c->retry = o->retry;
    c->live = o->live;
    c->rng = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)c;
    if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
        goto oom;
    if (cosmos_build_urls(c, o) != 0)
        goto oom;
    c->nslots = o->max_in_flight > 0 ? o->max_in_flight : 1;
    c->slots = calloc((size_t)c->nslots, sizeof(*c->slots));
    c->multi = curl_multi_init();
    if (!c->slots || !c->multi)
        goto oom;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->nslots);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->nslots);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->nslots);
    for (int i = 0; i < c->nslots; i++)
        if (cosmos_easy_setup(c, &c->slots[i]) != 0)
            goto oom;
    return c;
oom:
    snprintf(err, errsz, "cosmos: out of memory");
fail:
    cosmos_client_free(c);
    return NULL;
}

void cosmos_client_free(struct cosmos_client *c)
{
    if (!c)
        return;
    for (int i = 0; c->slots && i < c->nslots; i++) {
        if (c->slots[i].busy)
            curl_multi_remove_handle(c->multi, c->slots[i].easy);
        curl_easy_cleanup(c->slots[i].easy);
        curl_slist_free_all(c->slots[i].headers);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c->slots);
    free(c->docs_url);
    free(c->coll_url);
    free(c->coll_link);
    free(c->ca_file);
    OPENSSL_cleanse(c->key, sizeof(c->key));
    free(c);
}

/* Signs (verb, type, link) for now into date/auth header lines. */
static int cosmos_sign(struct cosmos_client *c, const char *verb, const char *type,
                       const char *link, char *date_hdr, size_t date_size, char *auth_hdr,
                       size_t auth_size)
{
    char date[COSMOS_DATE_MAX], auth[COSMOS_AUTH_MAX];
    cosmos_http_date(time(NULL), date);
    if (cosmos_auth_header(c->key, (size_t)c->key_len, verb, type, link, date, auth) != 0)
        return -1;
    snprintf(date_hdr, date_size, "x-ms-date: %s", date);
    snprintf(auth_hdr, auth_size, "authorization: %s", auth);
    return 0;
}

/* Every upsert in the same second has the same signature: sign once per second. */
static int cosmos_sign_upsert(struct cosmos_client *c)
{
    time_t now = time(NULL);
    if (now == c->auth_time)
        return 0;
    if (cosmos_sign(c, "POST", "docs", c->coll_link, c->date_hdr, sizeof(c->date_hdr),
                    c->auth_hdr, sizeof(c->auth_hdr)) != 0)
        return -1;
    c->auth_time = now;
    return 0;
}

static struct curl_slist *cosmos_common_headers(struct curl_slist *h, const char *date_hdr,
                                                const char *auth_hdr)
{
    const char *lines[] = {date_hdr, auth_hdr, "x-ms-version: " COSMOS_API_VERSION,
                           "Accept: application/json", "Expect:"};
    for (size_t i = 0; h && i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct curl_slist *n = curl_slist_append(h, lines[i]);
        if (!n) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = n;
    }
    return h;
}

/* Starts the upsert of w on slot s. Returns 0, or -1 when out of memory / signing failed. */
static int cosmos_start_upsert(struct cosmos_client *c, struct cosmos_slot *s,
                               struct cosmos_write *w, size_t idx)
{
    if (cosmos_sign_upsert(c) != 0)
        return -1;
    char pk_hdr[600];
    if (snprintf(pk_hdr, sizeof(pk_hdr), "x-ms-documentdb-partitionkey: %s", w->pk_json) >=
        (int)sizeof(pk_hdr))
        return -1;
    curl_slist_free_all(s->headers);
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    s->headers = cosmos_common_headers(s->headers, c->date_hdr, c->auth_hdr);
    struct curl_slist *h = s->headers ? curl_slist_append(s->headers, pk_hdr) : NULL;
    h = h ? curl_slist_append(h, "x-ms-documentdb-is-upsert: True") : NULL;
    if (!h) {
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        return -1;
    }
    s->headers = h;
    s->write_idx = idx;
    s->retry_after_ms = -1;
    s->body_len = 0;
    s->body[0] = '\0';
    curl_easy_setopt(s->easy, CURLOPT_URL, c->docs_url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->body_len);
    if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
        return -1;
    s->busy = 1;
    if (c->live)
        atomic_fetch_add(&c->live->in_flight, 1);
    w->attempts++;
    c->stats.requests++;
    return 0;
}

void cosmos_error_message(const char *body, size_t len, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (cJSON_IsString(msg)) {
        snprintf(out, size, "%s%s%s", cJSON_IsString(code) ? code->valuestring : "",
                 cJSON_IsString(code) ? ": " : "", msg->valuestring);
    } else {
        size_t n = 0;
        for (size_t i = 0; body && i < len && n + 1 < size; i++)
            out[n++] = body[i] >= 0x20 && body[i] < 0x7F ? body[i] : ' ';
        out[n] = '\0';
    }
    cJSON_Delete(root);
    /* Keep log lines to one line: each run of CR/LF becomes one space. */
    char *dst = out;
    int in_eol = 0;
    for (const char *p = out; *p; p++) {
        int eol = *p == '\r' || *p == '\n';
        if (!eol)
            *dst++ = *p;
        else if (!in_eol)
            *dst++ = ' ';
        in_eol = eol;
    }
    *dst = '\0';
}

struct cosmos_run {
    struct cosmos_write *w;
    size_t n;
    int64_t *not_before; /* per write, monotonic ms */
    int *failures;       /* per write */
    size_t *retry_q, nretry;
    size_t next_fresh, remaining;
    enum cosmos_result result;
};

/* Picks the next write to send now: a due retry first, then a never-sent one. */
static int cosmos_next_write(struct cosmos_run *r, int64_t now, size_t *idx)
{
    for (size_t i = 0; i < r->nretry; i++) {
        if (r->not_before[r->retry_q[i]] <= now) {
            *idx = r->retry_q[i];
            r->retry_q[i] = r->retry_q[--r->nretry];
            return 1;
        }
    }
    while (r->next_fresh < r->n && r->w[r->next_fresh].outcome != COSMOS_PENDING)
        r->next_fresh++;
    if (r->next_fresh < r->n) {
        *idx = r->next_fresh++;
        return 1;
    }
    return 0;
}

/* Handles one finished transfer. */
static void cosmos_finish(struct cosmos_client *c, struct cosmos_run *r, struct cosmos_slot *s,
                          CURLcode res, char *err, size_t errsz)
{
    struct cosmos_write *w = &r->w[s->write_idx];
    long status = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, s->easy);
    s->busy = 0;
    w->status = (int)status;
    if (res != CURLE_OK)
        c->stats.transport_errors++;
    else
        c->stats.request_units += cosmos_request_charge(s->easy);
    c->stats.by_status[status > 0 && status < 600 ? status : 0]++;
    if (c->live) {
        atomic_store(&c->live->reachable, res == CURLE_OK);
        atomic_fetch_sub(&c->live->in_flight, 1);
        if (c->live->heartbeat_ms)
            atomic_store(c->live->heartbeat_ms, clock_mono_ms());
    }
    char msg[256];
    switch (retry_classify(status, res != CURLE_OK)) {
    case RETRY_DONE:
        w->outcome = COSMOS_WRITTEN;
        r->remaining--;
        return;
    case RETRY_REJECT:
        cosmos_error_message(s->body, s->body_len, w->error, sizeof(w->error));
        w->outcome = COSMOS_REJECTED;
        r->remaining--;
        return;
    case RETRY_FATAL:
        cosmos_error_message(s->body, s->body_len, msg, sizeof(msg));
        snprintf(err, errsz,
                 "cosmos: HTTP %ld on upsert: %s (%s)", status, msg,
                 status == 404 ? "check cosmos.database and cosmos.container"
                               : "check cosmos.key and the clock");
        r->result = COSMOS_FATAL;
        return;
    case RETRY_AGAIN:
        break;
    }
    if (status == 429)
        c->stats.throttled++;
    if (++r->failures[s->write_idx] >= c->retry.max_attempts) {
        if (res != CURLE_OK)
            snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(res));
        else
            cosmos_error_message(s->body, s->body_len, msg, sizeof(msg));
        snprintf(err, errsz, "cosmos: upsert of id %s failed %d times, last: %s%ld %s", w->id,
                 r->failures[s->write_idx], res != CURLE_OK ? "no answer " : "HTTP ", status,
                 msg);
        r->result = COSMOS_GAVE_UP;
        return;
    }
    c->stats.retries++;
    c->rng = c->rng * 1103515245u + 12345u;
    r->not_before[s->write_idx] =
        clock_mono_ms() +
        retry_backoff_ms(&c->retry, r->failures[s->write_idx],
                         status == 429 || status == 503 ? s->retry_after_ms : -1, c->rng >> 8);
    r->retry_q[r->nretry++] = s->write_idx;
}

/* Time to wait in curl_multi_poll: until the next retry is due, at most 100 ms. */
static int cosmos_poll_timeout(const struct cosmos_run *r, int64_t now, int busy)
{
    int64_t t = 100;
    for (size_t i = 0; i < r->nretry; i++) {
        int64_t d = r->not_before[r->retry_q[i]] - now;
        if (d < t)
            t = d < 0 ? 0 : d;
    }
    return (int)(busy || r->nretry ? t : 0);
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

/* Fills every free slot with a write that may be sent now. */
static int cosmos_fill_slots(struct cosmos_client *c, struct cosmos_run *r, int64_t now, int *busy,
                             char *err, size_t errsz)
{
    for (int i = 0; i < c->nslots; i++) {
        size_t idx;
        if (c->slots[i].busy || !cosmos_next_write(r, now, &idx))
            continue;
        if (cosmos_start_upsert(c, &c->slots[i], &r->w[idx], idx) != 0) {
            snprintf(err, errsz, "cosmos: cannot start a request (out of memory)");
            return -1;
        }
    }
    *busy = 0;
    for (int i = 0; i < c->nslots; i++)
        *busy += c->slots[i].busy;
    return 0;
}

static int cosmos_run_init(struct cosmos_run *r, struct cosmos_write *w, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->w = w;
    r->n = n;
    r->not_before = calloc(n ? n : 1, sizeof(*r->not_before));
    r->failures = calloc(n ? n : 1, sizeof(*r->failures));
    r->retry_q = calloc(n ? n : 1, sizeof(*r->retry_q));
    for (size_t i = 0; i < n; i++)
        r->remaining += w[i].outcome == COSMOS_PENDING;
    return r->not_before && r->failures && r->retry_q ? 0 : -1;
}

static void cosmos_run_free(struct cosmos_run *r)
{
    free(r->not_before);
    free(r->failures);
    free(r->retry_q);
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
        int busy = 0, running = 0;
        if (cosmos_fill_slots(c, &r, now, &busy, err, errsz) != 0) {
            r.result = COSMOS_GAVE_UP;
            break;
        }
        curl_multi_poll(c->multi, NULL, 0, cosmos_poll_timeout(&r, now, busy), NULL);
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

enum cosmos_result cosmos_check_container(struct cosmos_client *c, char *err, size_t errsz)
{
    char date_hdr[COSMOS_DATE_MAX + 16], auth_hdr[COSMOS_AUTH_MAX + 32], msg[256];
    if (cosmos_sign(c, "GET", "colls", c->coll_link, date_hdr, sizeof(date_hdr), auth_hdr,
                    sizeof(auth_hdr)) != 0) {
        snprintf(err, errsz, "cosmos: cannot sign the request");
        return COSMOS_FATAL;
    }
    struct cosmos_slot *s = &c->slots[0];
    struct curl_slist *h = cosmos_common_headers(curl_slist_append(NULL, "Accept: */*"),
                                                 date_hdr, auth_hdr);
    if (!h) {
        snprintf(err, errsz, "cosmos: out of memory");
        return COSMOS_FATAL;
    }
    s->body_len = 0;
    s->body[0] = '\0';
    curl_easy_setopt(s->easy, CURLOPT_URL, c->coll_url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    CURLcode res = curl_easy_perform(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->live)
        atomic_store(&c->live->reachable, res == CURLE_OK);
    if (res != CURLE_OK) {
        snprintf(err, errsz, "cosmos: cannot reach %s: %s", c->coll_url, curl_easy_strerror(res));
        return COSMOS_GAVE_UP;
    }
    if (status == 200)
        return COSMOS_OK;
    cosmos_error_message(s->body, s->body_len, msg, sizeof(msg));
    if (status == 401 || status == 403)
        snprintf(err, errsz,
                 "cosmos: authorization failed (HTTP %ld: %s); check cosmos.key and the clock",
                 status, msg);
    else if (status == 404)
        snprintf(err, errsz, "cosmos: container %s not found (HTTP 404)", c->coll_link);
    else {
        snprintf(err, errsz, "cosmos: reading container %s gave HTTP %ld: %s", c->coll_link,
                 status, msg);
        return COSMOS_GAVE_UP;
    }
    return COSMOS_FATAL;
}

const struct cosmos_stats *cosmos_client_stats(const struct cosmos_client *c)
{
    return &c->stats;
}
