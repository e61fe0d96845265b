/*
 * order: turns one Kafka message into the Cosmos document for it, or says exactly why it
 * cannot be written (the dead-letter reason). Owns the order rules: JSON object, id field,
 * partition-key path, Cosmos id rules and the 2 MB document limit.
 */
#ifndef ORDERSINK_ORDER_H
#define ORDERSINK_ORDER_H

#include <stddef.h>
#include <stdint.h>

/* Cosmos DB's limits (docs concepts-limits.md): document size 2 MB; id 1,023 bytes; partition
 * key value 2,048 bytes (containers with large partition keys, the default since 2020). */
#define ORDER_MAX_DOC_BYTES (2 * 1024 * 1024)
#define ORDER_MAX_ID_BYTES 1023
#define ORDER_MAX_PK_BYTES 2048

enum order_reason {
    ORDER_OK = 0,
    ORDER_EMPTY,
    ORDER_TOO_LARGE,
    ORDER_INVALID_UTF8,
    ORDER_NOT_JSON,
    ORDER_NOT_OBJECT,
    ORDER_MISSING_ID,
    ORDER_INVALID_ID,
    ORDER_MISSING_PARTITION_KEY,
    ORDER_INVALID_PARTITION_KEY,
    ORDER_UNSTORABLE_NUMBER,
    ORDER_NO_MEMORY,
};

/* Where the message came from; copied into the document's "kafka" object. */
struct order_meta {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when the message has none */
};

/* Which fields matter; both strings must outlive the spec. */
struct order_spec {
    const char *id_field; /* e.g. "orderId" */
    /* e.g. "/customerId" or "/customer/id"; a hierarchical key's paths comma-separated, in the
     * container's order ("/tenant,/user", at most 3) */
    const char *partition_key_path;
    /* The container's EPK scheme (lib/cosmos_epk): 0 = compute no EPK, 1 or 2 = Hash V1/V2;
     * multihash: hierarchical keys (V2 per component). */
    int epk_version;
    int multihash;
};

/* One document ready to upsert. All strings are malloc'd and owned by the doc. */
struct order_doc {
    char *id;      /* document id, exactly the message's value (never holds a NUL) */
    char *pk_json; /* partition key as the header wants it, a JSON array of printable ASCII:
                      ["c-1"], ["caf\u00e9"], [5.5], [true]; hierarchical: ["t1","u7"] */
    char *epk;     /* its effective partition key (upper-case hex), NULL when spec asks none */
    char *body;    /* the document JSON */
    size_t body_len;
};

/*
 * Builds the document for payload[0..len). On ORDER_OK, doc holds the result (free it with
 * order_doc_free). Otherwise doc is zeroed and detail (if non-NULL) says what is wrong.
 */
enum order_reason order_to_doc(const struct order_spec *spec, const char *payload, size_t len,
                               const struct order_meta *meta, struct order_doc *doc, char *detail,
                               size_t detail_size);

void order_doc_free(struct order_doc *doc);

/* Frees the calling thread's parse arena (order_to_doc allocates it again when needed). */
void order_thread_cleanup(void);

/* Stable snake_case name of a reason, used as the DLQ header value and metrics label. */
const char *order_reason_name(enum order_reason r);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates), else 0. */
int order_utf8_valid(const char *s, size_t len);

#endif
