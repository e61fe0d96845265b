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
#include "cosmos_internal.h"
#include "log.h"

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
    static const char ra[] = "x-ms-retry-after-ms:";
    if (len > sizeof(ra) && strncasecmp(data, ra, sizeof(ra) - 1) == 0)
        s->retry_after_ms = strtol(data + sizeof(ra) - 1, NULL, 10);
    return len;
}

double cosmos_request_charge(CURL *easy)
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
    curl_easy_setopt(s->easy, CURLOPT_SHARE, c->share);
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
    c->bulk = o->bulk;
    c->mode = o->write_mode;
    c->ranges = 1;
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
        cosmos_buf_free(&c->slots[i].request);
        cosmos_buf_free(&c->slots[i].response);
    }
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

/* A blocking signed GET on slot 0 (before any write runs). The body lands in the slot's
 * response buffer. Returns the curl result; *status is the HTTP status. */
static CURLcode cosmos_get(struct cosmos_client *c, const char *url, const char *type, long *status)
{
    char date_hdr[COSMOS_DATE_MAX + 16], auth_hdr[COSMOS_AUTH_MAX + 32];
    struct cosmos_slot *s = &c->slots[0];
    *status = 0;
    if (cosmos_sign(c, "GET", type, c->coll_link, date_hdr, sizeof(date_hdr), auth_hdr,
                    sizeof(auth_hdr)) != 0)
        return CURLE_OUT_OF_MEMORY;
    struct curl_slist *h =
        cosmos_common_headers(curl_slist_append(NULL, "Accept: */*"), date_hdr, auth_hdr);
    if (!h)
        return CURLE_OUT_OF_MEMORY;
    s->response.len = 0;
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

/* Counts the container's partition key ranges; 1 (and says so) when they cannot be read. */
static void cosmos_read_ranges(struct cosmos_client *c)
{
    long status = 0;
    CURLcode res = cosmos_get(c, c->pkranges_url, "pkranges", &status);
    struct cosmos_slot *s = &c->slots[0];
    cJSON *root = res == CURLE_OK && status == 200
                      ? cJSON_ParseWithLength(s->response.data, s->response.len)
                      : NULL;
    const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(root, "PartitionKeyRanges");
    int n = cJSON_IsArray(ranges) ? cJSON_GetArraySize(ranges) : 0;
    cJSON_Delete(root);
    c->ranges = n > 0 ? n : 1;
    if (n <= 0)
        LOG(LOG_WARN, "cannot read the container's partition key ranges; treating it as one range",
            LF_INT("status", status), LF_STR("error", curl_easy_strerror(res)));
    else
        LOG(LOG_INFO, "partition key ranges", LF_INT("ranges", n),
            LF_STR("batching", !c->bulk ? "off"
                               : n == 1 ? "all operations in one range"
                                        : "grouped by partition key value"));
}

/*
 * Takes the partition key path from the container's definition body and checks it against
 * the configured one. Returns 0, or -1 with err set (a mismatch, hierarchical or quoted
 * paths, an unreadable definition, no memory).
 */
static int cosmos_take_partition_key(struct cosmos_client *c, const char *body, size_t len,
                                     char *err, size_t errsz)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(root, "partitionKey");
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(pk, "paths");
    const cJSON *first = cJSON_GetArrayItem(paths, 0);
    int n = cJSON_IsArray(paths) ? cJSON_GetArraySize(paths) : 0;
    int rc = -1;
    if (!cJSON_IsString(first) || first->valuestring[0] != '/')
        snprintf(err, errsz, "cosmos: container %s: its definition has no partitionKey.paths",
                 c->coll_link);
    else if (n > 1)
        snprintf(err, errsz,
                 "cosmos: container %s has a hierarchical partition key (%d paths, first %s); "
                 "ordersink supports containers partitioned on one path",
                 c->coll_link, n, first->valuestring);
    else if (strpbrk(first->valuestring, "\"[]*"))
        snprintf(err, errsz,
                 "cosmos: container %s: partition key path %s uses quoting or "
                 "wildcards, which ordersink does not read",
                 c->coll_link, first->valuestring);
    else if (c->pk_path_configured && strcmp(c->pk_path_configured, first->valuestring) != 0)
        snprintf(err, errsz,
                 "cosmos: cosmos.partition_key_path is %s but container %s is partitioned on "
                 "%s; every write would be refused. Set cosmos.partition_key_path=%s or leave "
                 "it unset",
                 c->pk_path_configured, c->coll_link, first->valuestring, first->valuestring);
    else if (!c->pk_path && !(c->pk_path = strdup(first->valuestring)))
        snprintf(err, errsz, "cosmos: out of memory");
    else
        rc = 0;
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
    CURLcode res = cosmos_get(c, c->coll_url, "colls", &status);
    struct cosmos_slot *s = &c->slots[0];
    if (res != CURLE_OK) {
        snprintf(err, errsz, "cosmos: cannot reach %s: %s", c->coll_url, curl_easy_strerror(res));
        return COSMOS_GAVE_UP;
    }
    if (status == 200) {
        if (cosmos_take_partition_key(c, s->response.data, s->response.len, err, errsz) != 0)
            return COSMOS_FATAL;
        cosmos_read_ranges(c);
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
