/*
 * cosmos_internal: what lib/cosmos.c (client, signing, reads) and lib/cosmos_write.c (the
 * write engine) share. Not for other modules.
 */
#ifndef ORDERSINK_COSMOS_INTERNAL_H
#define ORDERSINK_COSMOS_INTERNAL_H

#include <curl/curl.h>
#include <time.h>

#include "aimd.h"
#include "range_load.h"
#include "cosmos.h"
#include "cosmos_auth.h"
#include "cosmos_bulk.h"
#include "cosmos_ranges.h"
#include "cosmos_version.h"

/* The REST API version the SDKs send (batch requests need at least 2020-07-15). */
#define COSMOS_API_VERSION "2020-07-15"
#define COSMOS_RESPONSE_MAX (16 * 1024 * 1024)

struct cosmos_run;

/* One concurrent request: an easy handle kept for its connection, and what it carries. */
struct cosmos_slot {
    CURL *easy;
    struct curl_slist *headers;
    int busy;
    struct cosmos_run *run; /* whose writes these are (while busy) */
    uint64_t seq;           /* aimd sequence number of the request */
    int saturated;          /* the concurrency limit was fully used when it started */
    uint64_t range_seq;     /* its range's sequence number (range_load_start) */
    int range_saturated;    /* its range's limit was fully used when it started */
    unsigned range_gen;     /* the range_load generation it started in */
    size_t *idx;            /* the writes of run this request carries (cap COSMOS_BULK_MAX_OPS) */
    size_t nidx;
    int is_batch;         /* a batch request (else a single document request) */
    size_t range;         /* the range of its operations (cosmos_route), set by the pick */
    unsigned map_gen;     /* the client's map_gen when it started */
    const char *range_id; /* while it is set up: the range id a batch names, or NULL */
    long retry_after_ms;
    int substatus;          /* x-ms-substatus of the answer, 0 if absent */
    char continuation[512]; /* x-ms-continuation of the answer (pkranges pages), "" if absent */
    struct cosmos_gather request; /* batch body, read by curl (cosmos_on_read) */
    struct cosmos_buf response;   /* answer body, up to COSMOS_RESPONSE_MAX */
};

struct cosmos_client {
    CURLM *multi;
    /* TLS sessions shared by the slots: a new connection resumes, no full handshake. */
    CURLSH *share;
    struct cosmos_slot *slots;
    int nslots;
    unsigned char key[COSMOS_KEY_MAX];
    int key_len;
    char *docs_url, *coll_url, *pkranges_url, *coll_link;
    char *ca_file;
    long timeout_ms;
    int bulk; /* send batch requests */
    enum cosmos_write_mode mode;
    char *pk_path_configured; /* cosmos.partition_key_path, or NULL: take the container's */
    char *pk_path;            /* the container's partition key path(s), comma-separated */
    char *coll_rid;           /* the container's _rid, or NULL before it was read */
    int epk_version;          /* partitionKey.version (1 or 2; MultiHash: 2) */
    int multihash;            /* partitionKey.kind is MultiHash */
    /* The partition key ranges (empty until read: every batch then goes without a range id).
     * map_gen counts the maps read; map_stale asks for a new read (a 410 named a range gone)
     * before the next request, not before map_retry_at when the last read failed. */
    struct ranges_map map;
    unsigned map_gen;
    int map_stale;
    int64_t map_retry_at;
    struct cosmos_slot meta; /* blocking reads of the container and its ranges */
    struct retry_policy retry;
    struct aimd aimd;                    /* limit of requests in flight, at most nslots */
    struct range_load load;              /* per-range limits: 429s cut the range's own (adaptive) */
    int adaptive;                        /* the limits follow aimd_done / range_load_done */
    int busy;                            /* slots in use */
    struct cosmos_run *runs, *runs_tail; /* write runs in progress, oldest first */
    struct cosmos_tokens tokens;         /* scratch of cosmos_bulk_parse */
    struct cosmos_stats stats;
    struct cosmos_live *live;
    time_t auth_time; /* the second the cached POST headers were signed for */
    char date_hdr[COSMOS_DATE_MAX + 16];
    char auth_hdr[COSMOS_AUTH_MAX + 32];
    uint32_t rng;
};

/* Signs verb on document id (link dbs/{db}/colls/{coll}/docs/{id}, the id as it is) for now
 * into the date and authorization header lines. Returns 0 or -1. */
int cosmos_sign_doc(struct cosmos_client *c, const char *verb, const char *id, char *date_hdr,
                    size_t date_size, char *auth_hdr, size_t auth_size);

/* Signs POST docs for the current second (cached). Returns 0 or -1. */
int cosmos_sign_upsert(struct cosmos_client *c);

/* Appends the headers every request carries. Frees h and returns NULL when out of memory. */
struct curl_slist *cosmos_common_headers(struct curl_slist *h, const char *date_hdr,
                                         const char *auth_hdr);

/* The most requests that may be in flight now: the overall limit, or the sum of the ranges'
 * limits when that is lower (the gauge ordersink_cosmos_concurrency_limit). */
int cosmos_concurrency_limit(const struct cosmos_client *c);

/*
 * Sets up slot s for its request: a batch (s->is_batch), or one document's request of kind op
 * (upsert, create, or a read / replace signed on the document's own link): URL, method and
 * headers. The body is the caller's. Returns 0, or -1 when out of memory.
 */
int cosmos_request_setup(struct cosmos_client *c, struct cosmos_slot *s,
                         const struct cosmos_bulk_op *op);

/* Reads every page of the container's partition key ranges (following x-ms-continuation)
 * into a new map that replaces c->map (map_gen + 1, map_stale 0). Blocking, on c->meta.
 * Returns 0, or -1 with err set (the old map is kept). */
int cosmos_ranges_read(struct cosmos_client *c, char *err, size_t errsz);

/* Reads the ranges again when a 410 asked for it (c->map_stale) and the last failed read is
 * COSMOS_MAP_RETRY_MS old; a failed read keeps the old map. Blocking. */
void cosmos_ranges_refresh(struct cosmos_client *c, int64_t now);

/* Marks the map stale when (status, substatus) says a range is gone (retry_range_gone) and the
 * request started on the map in use now (gen == c->map_gen): one read per map. */
void cosmos_ranges_gone(struct cosmos_client *c, unsigned gen, int status, int substatus);

/* x-ms-request-charge of a finished transfer, 0 if absent. */
double cosmos_request_charge(CURL *easy);

#endif
