/*
 * cosmos_bulk: the wire format of Cosmos non-atomic batch requests, as the SDKs' bulk mode
 * sends them: building the JSON array of operations (Upsert, or the Create / Read / Replace
 * with ifMatch of versioned writes, each with its own partition key) and reading the
 * per-operation results of the answer. Pure functions, no I/O.
 */
#ifndef ORDERSINK_COSMOS_BULK_H
#define ORDERSINK_COSMOS_BULK_H

#include <stddef.h>

/* Cosmos limits for one batch request (../shared/RIG.md). */
#define COSMOS_BULK_MAX_OPS 100
#define COSMOS_BULK_MAX_BYTES 220201

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

/*
 * Operation types of a batch body, spelled as the SDKs send them (JS src/utils/batch.ts:
 * {operationType, id, partitionKey, ifMatch, resourceBody}; .NET ItemBatchOperation).
 */
enum cosmos_op_type { COSMOS_OP_UPSERT, COSMOS_OP_CREATE, COSMOS_OP_READ, COSMOS_OP_REPLACE };

/* One operation of a batch; the caller owns the strings. */
struct cosmos_bulk_op {
    enum cosmos_op_type type;
    const char *id;      /* the document id (raw UTF-8): Read and Replace */
    const char *pk_json; /* ["value"] */
    const char *body;    /* Upsert, Create, Replace: the document, a JSON object */
    size_t body_len;
    const char *if_match; /* Replace: the _etag it requires, or NULL */
};

/* Bytes op adds to a batch body at most (for the size limit). */
size_t cosmos_bulk_op_size_of(const struct cosmos_bulk_op *op);

/*
 * Appends to out (emptied first) the batch body of ops[0..n): for each
 * {"operationType":"<type>"[,"id":"<id>"],"partitionKey":"<pk_json as a JSON string>"
 *  [,"ifMatch":"<etag>"][,"minimalReturnPreference":true,"resourceBody":<body>]} (no body nor
 * preference for a Read). Returns 0, or -1 when out of memory or an
 * id is not valid UTF-8.
 */
int cosmos_bulk_ops_body(struct cosmos_buf *out, const struct cosmos_bulk_op *ops, size_t n);

/*
 * A batch body as a list of pieces, so that the documents are not copied into one buffer
 * before curl copies them again: the frames (brackets, commas, each operation's members before
 * and after its resourceBody) are in frames, the documents are referenced where they are.
 * Read it front to back with cosmos_gather_read; cosmos_gather_seek rewinds (curl asks when it
 * sends the request again on a new connection).
 */
struct cosmos_piece {
    const char *ext; /* a document's bytes, or NULL: frames.data + off */
    size_t off, len;
};
struct cosmos_gather {
    struct cosmos_buf frames;
    struct cosmos_piece *pieces; /* room for 2 * COSMOS_BULK_MAX_OPS + 1 */
    size_t npieces;
    size_t total;      /* bytes of the whole body */
    size_t at, at_off; /* read position: piece, offset in it */
};

/*
 * Sets g to the batch body of ops[0..n) (n <= COSMOS_BULK_MAX_OPS), the same bytes as
 * cosmos_bulk_ops_body writes, read position at its start. The ops' bodies are referenced, not
 * copied: they must stay as they are while g is read. Returns 0, or -1 when out of memory or
 * an id is not valid UTF-8.
 */
int cosmos_bulk_ops_gather(struct cosmos_gather *g, const struct cosmos_bulk_op *ops, size_t n);

/* Copies the next bytes of g (at most cap) to out; returns how many (0 at the end). */
size_t cosmos_gather_read(struct cosmos_gather *g, char *out, size_t cap);

/* Moves g's read position to byte offset of the body. Returns 0, or -1 past its end. */
int cosmos_gather_seek(struct cosmos_gather *g, size_t offset);

void cosmos_gather_free(struct cosmos_gather *g);

/* One operation's result. */
struct cosmos_op_result {
    int status;          /* statusCode */
    int substatus;       /* subStatusCode, 0 if absent */
    long retry_after_ms; /* retryAfterMilliseconds, -1 if absent */
    size_t doc_off;      /* resourceBody (an object): its bytes in the answer, */
    size_t doc_len;      /* doc_len 0 if absent */
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
 * retryAfterMilliseconds, and where its resourceBody object lies (a Read's document; the
 * local server echoes every document back: those are skipped, not built). Returns 0 when it holds
 * exactly n results each with a statusCode, else -1 (also when out of memory).
 */
int cosmos_bulk_parse(const char *body, size_t len, struct cosmos_op_result *out, size_t n,
                      struct cosmos_tokens *scratch);

#endif
