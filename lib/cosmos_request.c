/*
 * cosmos_request: the HTTP side of one write request - URL, method, signature and headers of a
 * batch or of one document's Upsert, Create, Read (GET docs/{id}) or Replace (PUT docs/{id}
 * with If-Match), as the REST API wants them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_internal.h"

/* Appends the lines lines[] to s->headers; on failure frees them and leaves NULL. */
static void cosmos_add_headers(struct cosmos_slot *s, const char *const *lines)
{
    for (; s->headers && *lines; lines++) {
        struct curl_slist *n = curl_slist_append(s->headers, *lines);
        if (!n)
            curl_slist_free_all(s->headers);
        s->headers = n;
    }
}

int cosmos_request_setup(struct cosmos_client *c, struct cosmos_slot *s,
                         const struct cosmos_bulk_op *op)
{
    char date_hdr[COSMOS_DATE_MAX + 16], auth_hdr[COSMOS_AUTH_MAX + 32], pk_hdr[2200];
    char match_hdr[COSMOS_ETAG_MAX + 16], range_hdr[128], rid_hdr[160], *url = NULL;
    int by_id = !s->is_batch && (op->type == COSMOS_OP_READ || op->type == COSMOS_OP_REPLACE);
    if (by_id) {
        static const char *const verbs[] = {"POST", "POST", "GET", "PUT"};
        char *esc = curl_easy_escape(s->easy, op->id, 0);
        size_t n = esc ? strlen(c->docs_url) + strlen(esc) + 2 : 0;
        url = n ? malloc(n) : NULL;
        if (url)
            snprintf(url, n, "%s/%s", c->docs_url, esc);
        curl_free(esc);
        if (!url || cosmos_sign_doc(c, verbs[op->type], op->id, date_hdr, sizeof(date_hdr),
                                    auth_hdr, sizeof(auth_hdr)) != 0) {
            free(url);
            return -1;
        }
    } else if (cosmos_sign_upsert(c) != 0) {
        return -1;
    }
    curl_slist_free_all(s->headers);
    s->headers =
        cosmos_common_headers(curl_slist_append(NULL, "Content-Type: application/json"),
                              by_id ? date_hdr : c->date_hdr, by_id ? auth_hdr : c->auth_hdr);
    /* Prefer: return=minimal is what the SDKs send for EnableContentResponseOnWrite=false:
     * the service answers without echoing the documents (the local server ignores it). */
    /* "Expect:" (empty) keeps curl from waiting for a 100-continue before a body it reads
     * through the callback (it asks for one above 1 MB; batches stay under 220 KB). */
    static const char *const batch[] = {"x-ms-cosmos-is-batch-request: True",
                                        "x-ms-cosmos-batch-atomic: False",
                                        "x-ms-cosmos-batch-continue-on-error: True",
                                        "Prefer: return=minimal",
                                        "Expect:",
                                        NULL};
    static const char *const upsert[] = {"x-ms-documentdb-is-upsert: True",
                                         "Prefer: return=minimal", NULL};
    static const char *const minimal[] = {"Prefer: return=minimal", NULL}, *const none[] = {NULL};
    const char *one[] = {pk_hdr, op->if_match ? match_hdr : NULL, NULL};
    /* The SDKs name the container's _rid on writes (the service refuses a request meant for a
     * container deleted and made again under the same name) and, in bulk, the range. */
    const char *ids[] = {c->coll_rid ? rid_hdr : NULL, NULL, NULL};
    snprintf(rid_hdr, sizeof(rid_hdr), "x-ms-cosmos-intended-collection-rid: %s",
             c->coll_rid ? c->coll_rid : "");
    if (s->is_batch && s->range_id) {
        snprintf(range_hdr, sizeof(range_hdr), "x-ms-documentdb-partitionkeyrangeid: %s",
                 s->range_id);
        ids[c->coll_rid ? 1 : 0] = range_hdr;
    }
    cosmos_add_headers(s, ids);
    if (!s->is_batch) {
        snprintf(match_hdr, sizeof(match_hdr), "If-Match: %s", op->if_match ? op->if_match : "");
        if (snprintf(pk_hdr, sizeof(pk_hdr), "x-ms-documentdb-partitionkey: %s", op->pk_json) >=
            (int)sizeof(pk_hdr)) {
            free(url);
            return -1;
        }
        cosmos_add_headers(s, one);
    }
    cosmos_add_headers(s, s->is_batch                    ? batch
                          : op->type == COSMOS_OP_UPSERT ? upsert
                          : op->type == COSMOS_OP_READ   ? none
                                                         : minimal);
    curl_easy_setopt(s->easy, CURLOPT_URL, url ? url : c->docs_url);
    free(url); /* libcurl keeps its own copy */
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST,
                     !s->is_batch && op->type == COSMOS_OP_REPLACE ? "PUT" : NULL);
    if (!s->is_batch && op->type == COSMOS_OP_READ)
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    return s->headers ? 0 : -1;
}
