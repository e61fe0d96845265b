/*
 * cosmos: the Cosmos DB client's set-up and reads: URLs, one reusable easy handle per
 * concurrent request (so connections stay alive), signing, the container check and its
 * partition key ranges, and error bodies. The write engine lives in lib/cosmos_write.c.
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
#include "cosmos_epk.h"
#include "cosmos_internal.h"
#include "log.h"
#include "retry.h"

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
        c->pkranges_url = cosmos_strdupf("%s/dbs/%s/colls/%s/pkranges", base, db, coll);
        c->coll_link = cosmos_strdupf("dbs/%s/colls/%s%s", o->database, o->container, "");
        rc = c->coll_url && c->docs_url && c->pkranges_url && c->coll_link ? 0 : -1;
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
    if (s->response.len + len > COSMOS_RESPONSE_MAX)
        return 0; /* abort the transfer: no Cosmos answer is this large */
    return cosmos_buf_append(&s->response, data, len) == 0 ? len : 0;
}

static size_t cosmos_on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct cosmos_slot *s = userp;
    size_t len = size * nmemb;
    static const char ra[] = "x-ms-retry-after-ms:", sub[] = "x-ms-substatus:",
                      cont[] = "x-ms-continuation:";
    if (len > sizeof(ra) && strncasecmp(data, ra, sizeof(ra) - 1) == 0)
        s->retry_after_ms = strtol(data + sizeof(ra) - 1, NULL, 10);
    else if (len > sizeof(sub) && strncasecmp(data, sub, sizeof(sub) - 1) == 0)
        s->substatus = (int)strtol(data + sizeof(sub) - 1, NULL, 10);
    else if (len > sizeof(cont) && strncasecmp(data, cont, sizeof(cont) - 1) == 0) {
        const char *v = data + sizeof(cont) - 1;
        size_t n = len - (sizeof(cont) - 1);
        while (n && (*v == ' ' || *v == '\t'))
            v++, n--;
        while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
            n--;
        if (n < sizeof(s->continuation)) {
            memcpy(s->continuation, v, n);
            s->continuation[n] = '\0';
        }
    }
    return len;
}

double cosmos_request_charge(CURL *easy)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, "x-ms-request-charge", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return 0;
    return strtod(h->value, NULL);
}

/* curl's read callback of a batch request: the next bytes of the slot's body. */
static size_t cosmos_on_read(char *buf, size_t size, size_t nitems, void *userp)
{
    return cosmos_gather_read(&((struct cosmos_slot *)userp)->request, buf, size * nitems);
}

/* curl's seek callback: rewinds the body when the request is sent again. */
static int cosmos_on_seek(void *userp, curl_off_t offset, int origin)
{
    struct cosmos_slot *s = userp;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    return cosmos_gather_seek(&s->request, (size_t)offset) == 0 ? CURL_SEEKFUNC_OK
                                                                : CURL_SEEKFUNC_FAIL;
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
    curl_easy_setopt(s->easy, CURLOPT_READFUNCTION, cosmos_on_read);
    curl_easy_setopt(s->easy, CURLOPT_READDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_SEEKFUNCTION, cosmos_on_seek);
    curl_easy_setopt(s->easy, CURLOPT_SEEKDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_SHARE, c->share);
    if (c->ca_file) {
        /* cosmos.ca_file is trusted instead of the system store: CAINFO replaces the default
         * bundle, and the CA directory libcurl is built with (Debian: /etc/ssl/certs) is
         * dropped too, or every CA there would still be trusted. (Without a CA directory curl
         * also caches the loaded store across connections.) */
        curl_easy_setopt(s->easy, CURLOPT_CAINFO, c->ca_file);
        curl_easy_setopt(s->easy, CURLOPT_CAPATH, (char *)NULL);
    }
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
    c->bulk = o->bulk;
    c->mode = o->write_mode;
    ranges_init(&c->map);
    if (o->partition_key_path && !(c->pk_path_configured = strdup(o->partition_key_path)))
        goto oom;
    c->rng = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)c;
    if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
        goto oom;
    if (cosmos_build_urls(c, o) != 0)
        goto oom;
    c->nslots = o->max_in_flight > 0 ? o->max_in_flight : 1;
    c->adaptive = o->adaptive;
    aimd_init(&c->aimd, c->adaptive ? COSMOS_ADAPTIVE_START : c->nslots, c->nslots);
    c->stats.concurrency_limit = aimd_limit(&c->aimd);
    if (range_load_reset(&c->load, 0, c->nslots) != 0)
        goto oom;
    c->slots = calloc((size_t)c->nslots, sizeof(*c->slots));
    c->multi = curl_multi_init();
    c->share = curl_share_init();
    if (!c->slots || !c->multi || !c->share ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
        goto oom;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->nslots);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->nslots);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->nslots);
    for (int i = 0; i < c->nslots; i++) {
        c->slots[i].idx = calloc(COSMOS_BULK_MAX_OPS, sizeof(size_t));
        if (!c->slots[i].idx || cosmos_easy_setup(c, &c->slots[i]) != 0)
            goto oom;
    }
    if (cosmos_easy_setup(c, &c->meta) != 0)
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
        free(c->slots[i].idx);
        cosmos_gather_free(&c->slots[i].request);
        cosmos_buf_free(&c->slots[i].response);
    }
    curl_easy_cleanup(c->meta.easy);
    cosmos_buf_free(&c->meta.response);
    ranges_free(&c->map);
    range_load_free(&c->load);
    free(c->coll_rid);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->share)
        curl_share_cleanup(c->share); /* after every easy handle that used it */
    free(c->slots);
    cosmos_tokens_free(&c->tokens);
    free(c->docs_url);
    free(c->coll_url);
    free(c->pkranges_url);
    free(c->coll_link);
    free(c->pk_path_configured);
    free(c->pk_path);
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
int cosmos_sign_upsert(struct cosmos_client *c)
{
    time_t now = time(NULL);
    if (now == c->auth_time)
        return 0;
    if (cosmos_sign(c, "POST", "docs", c->coll_link, c->date_hdr, sizeof(c->date_hdr), c->auth_hdr,
                    sizeof(c->auth_hdr)) != 0)
        return -1;
    c->auth_time = now;
    return 0;
}

int cosmos_sign_doc(struct cosmos_client *c, const char *verb, const char *id, char *date_hdr,
                    size_t date_size, char *auth_hdr, size_t auth_size)
{
    size_t n = strlen(c->coll_link) + strlen(id) + 7;
    char *link = malloc(n);
    if (!link)
        return -1;
    snprintf(link, n, "%s/docs/%s", c->coll_link, id);
    int rc = cosmos_sign(c, verb, "docs", link, date_hdr, date_size, auth_hdr, auth_size);
    free(link);
    return rc;
}

struct curl_slist *cosmos_common_headers(struct curl_slist *h, const char *date_hdr,
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

/* A blocking signed GET on the client's own handle (never one of the write slots), with one
 * extra header line (or NULL). The body lands in c->meta.response, x-ms-continuation in
 * c->meta.continuation. Returns the curl result; *status is the HTTP status. */
static CURLcode cosmos_get(struct cosmos_client *c, const char *url, const char *type,
                           const char *extra, long *status)
{
    char date_hdr[COSMOS_DATE_MAX + 16], auth_hdr[COSMOS_AUTH_MAX + 32];
    struct cosmos_slot *s = &c->meta;
    *status = 0;
    if (cosmos_sign(c, "GET", type, c->coll_link, date_hdr, sizeof(date_hdr), auth_hdr,
                    sizeof(auth_hdr)) != 0)
        return CURLE_OUT_OF_MEMORY;
    struct curl_slist *h =
        cosmos_common_headers(curl_slist_append(NULL, "Accept: */*"), date_hdr, auth_hdr);
    struct curl_slist *h2 = h && extra ? curl_slist_append(h, extra) : h;
    if (!h2) {
        curl_slist_free_all(h);
        return CURLE_OUT_OF_MEMORY;
    }
    h = h2;
    s->response.len = 0;
    s->continuation[0] = '\0';
    s->retry_after_ms = -1;
    s->substatus = 0;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    CURLcode res = curl_easy_perform(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, status);
    if (c->live)
        atomic_store(&c->live->reachable, res == CURLE_OK);
    return res;
}

/* Most pages of pkranges read for one map (a page holds many ranges: a loop guard). */
#define COSMOS_PKRANGES_MAX_PAGES 1000

int cosmos_ranges_read(struct cosmos_client *c, char *err, size_t errsz)
{
    struct ranges_map m;
    char cont_hdr[sizeof(c->meta.continuation) + 24];
    int has_cont = 0;
    ranges_init(&m);
    for (int page = 0; page < COSMOS_PKRANGES_MAX_PAGES; page++) {
        long status = 0;
        CURLcode res =
            cosmos_get(c, c->pkranges_url, "pkranges", has_cont ? cont_hdr : NULL, &status);
        struct cosmos_slot *s = &c->meta;
        if (res != CURLE_OK || status != 200) {
            char msg[200];
            cosmos_error_message(s->response.data, s->response.len, msg, sizeof(msg));
            snprintf(err, errsz, "cosmos: reading the partition key ranges of %s: %s%ld %s",
                     c->coll_link, res != CURLE_OK ? curl_easy_strerror(res) : "HTTP ", status,
                     res != CURLE_OK ? "" : msg);
            ranges_free(&m);
            return -1;
        }
        if (ranges_add_page(&m, s->response.data, s->response.len, err, errsz) != 0) {
            ranges_free(&m);
            return -1;
        }
        if (!s->continuation[0]) {
            if (ranges_finish(&m, err, errsz) != 0) {
                ranges_free(&m);
                return -1;
            }
            ranges_free(&c->map);
            c->map = m;
            c->map_gen++;
            /* New ranges, new limits (out of memory: no per-range limits until the next map). */
            range_load_reset(&c->load, c->map.n, c->nslots);
            c->stats.concurrency_limit = cosmos_concurrency_limit(c);
            c->map_stale = 0;
            return 0;
        }
        snprintf(cont_hdr, sizeof(cont_hdr), "x-ms-continuation: %s", s->continuation);
        has_cont = 1;
    }
    ranges_free(&m);
    snprintf(err, errsz, "cosmos: the partition key ranges of %s span more than %d pages",
             c->coll_link, COSMOS_PKRANGES_MAX_PAGES);
    return -1;
}

/* Least wait between two reads of the range map when the last one failed. */
#define COSMOS_MAP_RETRY_MS 1000

/* Reads the range map again when a 410 asked for it (blocking; the writes it concerns wait
 * for their retry meanwhile). A failed read keeps the old map and is tried again later. */
void cosmos_ranges_refresh(struct cosmos_client *c, int64_t now)
{
    if (!c->map_stale || now < c->map_retry_at)
        return;
    char err[512];
    c->stats.range_refreshes++;
    if (cosmos_ranges_read(c, err, sizeof(err)) != 0) {
        c->map_retry_at = now + COSMOS_MAP_RETRY_MS;
        LOG(LOG_WARN, "cannot read the partition key ranges again; trying later",
            LF_STR("error", err));
        return;
    }
    LOG(LOG_INFO, "partition key ranges read again", LF_INT("ranges", (int64_t)c->map.n));
}

/* A 410 of a request started on map generation gen says the ranges changed: read them again
 * before the next request (once per map, however many requests were on the wire). */
void cosmos_ranges_gone(struct cosmos_client *c, unsigned gen, int status, int substatus)
{
    if (!retry_range_gone(status, substatus) || gen != c->map_gen || c->map_stale)
        return;
    c->map_stale = 1;
    LOG(LOG_INFO, "a partition key range is gone; reading the ranges again",
        LF_INT("status", status), LF_INT("substatus", substatus));
}

int cosmos_range_count(const struct cosmos_client *c)
{
    return c->map.n > 0 ? (int)c->map.n : 1;
}

void cosmos_partition_key_kind(const struct cosmos_client *c, int *version, int *multihash)
{
    *version = c->epk_version;
    *multihash = c->multihash;
}

/* The container's partition key paths joined by ',' into out (1..3 paths, each starting with
 * '/', no quoting, wildcard or comma). Returns the count, or -1 with err set. */
static int cosmos_join_paths(struct cosmos_client *c, const cJSON *paths, char *out, size_t size,
                             char *err, size_t errsz)
{
    int n = cJSON_IsArray(paths) ? cJSON_GetArraySize(paths) : 0;
    if (n < 1) {
        snprintf(err, errsz, "cosmos: container %s: its definition has no partitionKey.paths",
                 c->coll_link);
        return -1;
    }
    if (n > EPK_MAX_COMPONENTS) {
        snprintf(err, errsz, "cosmos: container %s has %d partition key paths; at most %d",
                 c->coll_link, n, EPK_MAX_COMPONENTS);
        return -1;
    }
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(paths, i);
        if (!cJSON_IsString(p) || p->valuestring[0] != '/' || strpbrk(p->valuestring, "\"[]*,")) {
            snprintf(err, errsz,
                     "cosmos: container %s: partition key path %s is not a plain /a/b path "
                     "(quoting, wildcards and commas are not read)",
                     c->coll_link, cJSON_IsString(p) ? p->valuestring : "(not a string)");
            return -1;
        }
        int w = snprintf(out + at, size - at, "%s%s", i ? "," : "", p->valuestring);
        if (w < 0 || (size_t)w >= size - at) {
            snprintf(err, errsz, "cosmos: container %s: partition key paths too long",
                     c->coll_link);
            return -1;
        }
        at += (size_t)w;
    }
    return n;
}

/*
 * Takes the partition key definition ({paths, kind, version}) and _rid from the container's
 * definition body and checks the paths against the configured ones. Returns 0, or -1 with err
 * set (a mismatch, paths or a kind/version it cannot route, an unreadable definition, no
 * memory).
 */
static int cosmos_take_partition_key(struct cosmos_client *c, const char *body, size_t len,
                                     char *err, size_t errsz)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(root, "partitionKey");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(pk, "kind");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(pk, "version");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "_rid");
    char joined[1024];
    int rc = -1;
    int n = cosmos_join_paths(c, cJSON_GetObjectItemCaseSensitive(pk, "paths"), joined,
                              sizeof(joined), err, errsz);
    int multihash = cJSON_IsString(kind) && strcmp(kind->valuestring, "MultiHash") == 0;
    int v = cJSON_IsNumber(version) ? version->valueint : 1; /* no version = 1 (RIG.md) */
    if (n < 0)
        ;
    else if (kind && !multihash && !(cJSON_IsString(kind) && !strcmp(kind->valuestring, "Hash")))
        snprintf(err, errsz, "cosmos: container %s: partitionKey.kind %s is not Hash or MultiHash",
                 c->coll_link, cJSON_IsString(kind) ? kind->valuestring : "(not a string)");
    else if ((v != 1 && v != 2) || (version && !cJSON_IsNumber(version)))
        snprintf(err, errsz, "cosmos: container %s: partitionKey.version %d is not 1 or 2",
                 c->coll_link, v);
    else if (n > 1 && !multihash)
        snprintf(err, errsz,
                 "cosmos: container %s: %d partition key paths with kind Hash (only MultiHash "
                 "has several)",
                 c->coll_link, n);
    else if (c->pk_path_configured && strcmp(c->pk_path_configured, joined) != 0)
        snprintf(err, errsz,
                 "cosmos: cosmos.partition_key_path is %s but container %s is partitioned on "
                 "%s; every write would be refused. Set cosmos.partition_key_path=%s or leave "
                 "it unset",
                 c->pk_path_configured, c->coll_link, joined, joined);
    else {
        free(c->pk_path);
        free(c->coll_rid);
        c->pk_path = strdup(joined);
        c->coll_rid = cJSON_IsString(rid) ? strdup(rid->valuestring) : NULL;
        c->multihash = multihash;
        c->epk_version = multihash ? 2 : v;
        if (!c->pk_path || (cJSON_IsString(rid) && !c->coll_rid))
            snprintf(err, errsz, "cosmos: out of memory");
        else
            rc = 0;
    }
    cJSON_Delete(root);
    return rc;
}

const char *cosmos_partition_key_path(const struct cosmos_client *c)
{
    return c->pk_path;
}

enum cosmos_result cosmos_check_container(struct cosmos_client *c, char *err, size_t errsz)
{
    char msg[256];
    long status = 0;
    CURLcode res = cosmos_get(c, c->coll_url, "colls", NULL, &status);
    struct cosmos_slot *s = &c->meta;
    if (res != CURLE_OK) {
        snprintf(err, errsz, "cosmos: cannot reach %s: %s", c->coll_url, curl_easy_strerror(res));
        return COSMOS_GAVE_UP;
    }
    if (status == 200) {
        if (cosmos_take_partition_key(c, s->response.data, s->response.len, err, errsz) != 0)
            return COSMOS_FATAL;
        if (cosmos_ranges_read(c, err, errsz) != 0)
            return COSMOS_GAVE_UP;
        LOG(LOG_INFO, "container", LF_STR("partition_key", c->pk_path),
            LF_STR("kind", c->multihash ? "MultiHash" : "Hash"), LF_INT("version", c->epk_version),
            LF_INT("ranges", (int64_t)c->map.n), LF_STR("rid", c->coll_rid ? c->coll_rid : ""));
        return COSMOS_OK;
    }
    cosmos_error_message(s->response.data, s->response.len, msg, sizeof(msg));
    if (status == 401 || status == 403)
        snprintf(err, errsz,
                 "cosmos: authorization failed (HTTP %ld: %s); check cosmos.key and the clock",
                 status, msg);
    else if (status == 404)
        snprintf(err, errsz, "cosmos: container %s not found (HTTP 404)", c->coll_link);
    else {
        snprintf(err, errsz, "cosmos: reading container %s gave HTTP %ld: %s", c->coll_link, status,
                 msg);
        return COSMOS_GAVE_UP;
    }
    return COSMOS_FATAL;
}

const struct cosmos_stats *cosmos_client_stats(const struct cosmos_client *c)
{
    return &c->stats;
}
