/*
 * cosmos: the Cosmos DB (NoSQL API) REST client. Owns the libcurl multi handle and its
 * keep-alive connections, request signing per request, upserts with bounded concurrency,
 * the retry loop (driven by lib/retry), and parsing of Cosmos error responses.
 */
#ifndef ORDERSINK_COSMOS_H
#define ORDERSINK_COSMOS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "retry.h"

/* Live signals the client updates as it goes (atomics; read by the health endpoint). */
struct cosmos_live {
    _Atomic int64_t *heartbeat_ms; /* set to the monotonic time at every finished request */
    _Atomic int reachable;         /* 1 after an HTTP answer, 0 after a connection failure */
    _Atomic int in_flight;         /* requests on the wire now */
};

/*
 * How a document is written (docs/write-modes.md). UPSERT: last writer wins. VERSIONED: a
 * write never replaces a document holding a newer Kafka position of the same partition:
 * Create; on 409 Read the stored document; if it is older, Replace with ifMatch on its _etag
 * (412: read again); if it is as new or newer, the write is superseded: done.
 */
enum cosmos_write_mode { COSMOS_WRITE_UPSERT = 0, COSMOS_WRITE_VERSIONED };

struct cosmos_opts {
    const char *endpoint; /* https://account.documents.azure.com:443/ */
    const char *key_b64;
    const char *database;
    const char *container;
    const char *ca_file; /* NULL: the system CA store */
    int max_in_flight;   /* connections; the bound of the adaptive concurrency limit */
    int adaptive;        /* 1: AIMD limit from COSMOS_ADAPTIVE_START; 0: always max_in_flight */
    long request_timeout_ms;
    struct retry_policy retry;
    struct cosmos_live *live; /* optional */
    int bulk;                 /* 1: non-atomic batch requests of up to 100 operations */
    /* The partition key path the user configured, or NULL to take the container's. When
     * set, cosmos_check_container refuses a container partitioned on another path. */
    const char *partition_key_path;
    enum cosmos_write_mode write_mode;
};

/* Where the adaptive concurrency limit starts (slow start doubles it per round trip). */
#define COSMOS_ADAPTIVE_START 4

/* COSMOS_CANCELLED: cosmos_run_cancel stopped it before Cosmos wrote it (or not: a request
 * already on the wire may have landed). */
enum cosmos_outcome { COSMOS_PENDING = 0, COSMOS_WRITTEN, COSMOS_REJECTED, COSMOS_CANCELLED };

/* One document to upsert; the caller owns the strings. Results are filled in. */
struct cosmos_write {
    const char *id;
    const char *pk_json; /* ["value"] (hierarchical keys: ["a","b"]) */
    const char *epk;     /* its effective partition key (upper-case hex), or NULL: unrouted */
    const char *body;
    size_t body_len;
    /* NULL, or an older write of the same document (an earlier batch's) that must be WRITTEN
     * or REJECTED before this one is sent, so the newest version lands last. The caller
     * clears it before the older write's memory goes away. */
    const struct cosmos_write *after;
    /* The order's Kafka position, as the document's "kafka" member holds it (versioned mode
     * compares it with the stored document's). */
    const char *topic;
    int64_t partition;
    int64_t offset;

    enum cosmos_outcome outcome;
    int status;      /* last HTTP status, 0 if none */
    int attempts;    /* requests sent */
    char error[256]; /* for COSMOS_REJECTED: Cosmos's message */
};

/* Totals since the client was created. */
struct cosmos_stats {
    uint64_t requests;
    uint64_t retries;   /* writes scheduled again */
    uint64_t throttled; /* requests, and batch operations, answered 429 */
    uint64_t transport_errors;
    uint64_t by_status[600]; /* answers by HTTP status; [0] = no answer (connection/timeout) */
    double request_units;
    int concurrency_limit; /* the adaptive limit now */
    uint64_t limit_cuts;   /* times a 429 halved it */
    /* Versioned mode: writes found already holding their version or a newer one (not
     * written), 409s of Create, 412s of Replace, and reads of stored documents. */
    uint64_t superseded;
    uint64_t conflicts;
    uint64_t precondition_failed;
    uint64_t reads;
    /* Operations sent (a batch's operations, or 1 per single request): operations / requests
     * is how well batch requests are filled. Range map reads after a 410 (split). */
    uint64_t operations;
    uint64_t range_refreshes;
};

enum cosmos_result {
    COSMOS_RUNNING = 1,  /* a run still has writes to do */
    COSMOS_OK = 0,       /* every write is WRITTEN or REJECTED */
    COSMOS_FATAL = -1,   /* authentication/authorization or missing container: stop */
    COSMOS_GAVE_UP = -2, /* a write ran out of attempts, or the deadline passed */
};

struct cosmos_client;

/* Creates a client. Returns NULL with err filled on failure. */
struct cosmos_client *cosmos_client_new(const struct cosmos_opts *opts, char *err, size_t errsz);
void cosmos_client_free(struct cosmos_client *c);

/*
 * Reads the container's definition (partitionKey {paths, kind, version}, _rid) and all pages
 * of its partition key ranges. COSMOS_OK when it exists, is partitioned on 1 path (Hash) or
 * up to 3 (MultiHash) equal to opts.partition_key_path (when that is set) and its ranges tile
 * the key space; COSMOS_FATAL with both paths in err when they differ, for definitions it
 * cannot route (quoted paths, unknown kind or version) and other refusals (401/403/404);
 * COSMOS_GAVE_UP when Cosmos cannot be reached or the ranges cannot be read (try again).
 */
enum cosmos_result cosmos_check_container(struct cosmos_client *c, char *err, size_t errsz);

/* The partition key path(s) documents are routed by, comma-separated in the container's order
 * ("/customerId", "/tenant,/user"): the container's, after a successful
 * cosmos_check_container; NULL before. Owned by the client. */
const char *cosmos_partition_key_path(const struct cosmos_client *c);

/* The container's EPK scheme after cosmos_check_container: *version 1 or 2 (0 before), and
 * *multihash 1 for hierarchical keys (then V2 per component). */
void cosmos_partition_key_kind(const struct cosmos_client *c, int *version, int *multihash);

/* Partition key ranges in the client's map now (1 when it was not read). */
int cosmos_range_count(const struct cosmos_client *c);

/*
 * Write runs: one per batch. cosmos_run_new registers the writes w[0..n) that are still
 * COSMOS_PENDING (w must stay valid until cosmos_run_free); cosmos_step sends them, at most
 * the adaptive concurrency limit of requests at a time over reused connections, oldest run
 * first, retrying transient failures (only the failed operations of a batch) after their
 * backoff. In bulk mode writes go in non-atomic batch requests of up to 100 operations /
 * ~220 KB, each carrying only the operations of one partition key range (lib/cosmos_route:
 * the range of each write's EPK in the client's range map, re-read after a 410 naming a
 * range gone). Returns NULL when out of memory.
 */
struct cosmos_run *cosmos_run_new(struct cosmos_client *c, struct cosmos_write *w, size_t n);

/* COSMOS_RUNNING, COSMOS_OK (every write WRITTEN, REJECTED or CANCELLED), or COSMOS_FATAL /
 * COSMOS_GAVE_UP with err filled (then some writes may still be PENDING). */
enum cosmos_result cosmos_run_result(const struct cosmos_run *r, char *err, size_t errsz);

/*
 * Fences write i of run r: it is never sent again nor retried. Not on the wire, it ends at
 * once as COSMOS_CANCELLED; on the wire, its answer settles it, except that where it would be
 * retried it ends as COSMOS_CANCELLED. A write already ended is left as it is.
 */
void cosmos_run_cancel(struct cosmos_run *r, size_t i);

/* Unregisters the run, cancelling its requests still on the wire. NULL is a no-op. */
void cosmos_run_free(struct cosmos_run *r);

/*
 * Drives every run: starts what may be sent, waits up to wait_ms for network activity, a
 * retry falling due, or wake_fd (>= 0) becoming readable (the caller drains it), and
 * settles the answers. Returns at once when nothing is in flight or waiting and wait_ms is 0.
 */
void cosmos_step(struct cosmos_client *c, int wait_ms, int wake_fd);

/* Requests on the wire now. */
int cosmos_in_flight(const struct cosmos_client *c);

const struct cosmos_stats *cosmos_client_stats(const struct cosmos_client *c);

/*
 * Extracts a readable message from a Cosmos error body ({"code":..,"message":..}) into out;
 * falls back to the printable prefix of the raw body. Always NUL-terminates out.
 */
void cosmos_error_message(const char *body, size_t len, char *out, size_t size);

#endif
