/*
 * cosmos_bulk: the wire format of Cosmos non-atomic batch requests, as the SDKs' bulk mode
 * sends them: building the JSON array of Upsert operations (each with its own partition key)
 * and reading the per-operation results of the answer. Pure functions, no I/O.
 */
#ifndef ORDERSINK_COSMOS_BULK_H
#define ORDERSINK_COSMOS_BULK_H

#include <stddef.h>

/* Cosmos limits for one batch request (../shared/RIG.md). */
#define COSMOS_BULK_MAX_OPS 100
#define COSMOS_BULK_MAX_BYTES (220 * 1024)

/* A growable byte buffer. */
struct cosmos_buf {
    char *data;
    size_t len, cap;
};

int cosmos_buf_append(struct cosmos_buf *b, const char *s, size_t n);
void cosmos_buf_free(struct cosmos_buf *b);

/* Bytes one operation adds to a batch body (for the size limit). */
size_t cosmos_bulk_op_size(const char *pk_json, size_t body_len);

/*
 * Appends to out (emptied first) the batch body for n operations: a JSON array of
 * {"operationType":"Upsert","partitionKey":"<pk_json as a JSON string>","resourceBody":<body>}.
 * bodies[i] must be JSON objects. Returns 0, or -1 when out of memory.
 */
int cosmos_bulk_body(struct cosmos_buf *out, const char *const *pk_json, const char *const *bodies,
                     const size_t *body_lens, size_t n);

/* One operation's result. */
struct cosmos_op_result {
    int status;          /* statusCode */
    int substatus;       /* subStatusCode, 0 if absent */
    long retry_after_ms; /* retryAfterMilliseconds, -1 if absent */
};

/* Reusable token storage of cosmos_bulk_parse (grown as needed; free with
 * cosmos_tokens_free). */
struct cosmos_tokens {
    void *tok;
    unsigned cap;
};

void cosmos_tokens_free(struct cosmos_tokens *t);

/*
 * Parses a batch answer body (JSON array, one object per operation, in request order) into
 * out[0..n), reading only each operation's statusCode, subStatusCode and
 * retryAfterMilliseconds (the local server echoes every document back: those are skipped,
 * not built). Returns 0 when it holds exactly n results each with a statusCode, else -1
 * (also when out of memory).
 */
int cosmos_bulk_parse(const char *body, size_t len, struct cosmos_op_result *out, size_t n,
                      struct cosmos_tokens *scratch);

#endif
