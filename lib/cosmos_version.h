/*
 * cosmos_version: the version rule of versioned writes (cosmos.write_mode = versioned). Reads
 * the Kafka position (topic, partition, offset) and the _etag a stored document carries, and
 * decides whether a write of another position may replace it. Pure: no I/O.
 */
#ifndef ORDERSINK_COSMOS_VERSION_H
#define ORDERSINK_COSMOS_VERSION_H

#include <stddef.h>
#include <stdint.h>

/* Longest _etag kept (the service's are a quoted GUID, 38 characters). */
#define COSMOS_ETAG_MAX 128

/* What a stored document says about itself. */
struct cosmos_stored {
    char etag[COSMOS_ETAG_MAX]; /* "_etag", printable ASCII without CR/LF */
    int has_position; /* 1 when "kafka" holds a string topic and integer partition/offset */
    char topic[256];
    int64_t partition;
    int64_t offset;
};

/*
 * Reads the stored document doc[0..len) (a JSON object as Cosmos returns it) into out.
 * Returns 0, or -1 when it is not a JSON object or has no usable "_etag" (a string of 1 to
 * COSMOS_ETAG_MAX-1 printable ASCII characters). A missing or malformed "kafka" member only
 * leaves has_position 0.
 */
int cosmos_version_read(const char *doc, size_t len, struct cosmos_stored *out);

/*
 * 1 when the stored document already holds this write's version or a newer one: it has the
 * same topic and partition and an offset >= offset (Kafka offsets order the versions of one
 * partition only). 0 otherwise: the write may replace it - also when the stored document comes
 * from another topic or partition (the versions cannot be ordered: the last write wins) or
 * carries no position (written by someone else).
 */
int cosmos_version_superseded(const struct cosmos_stored *s, const char *topic, int64_t partition,
                              int64_t offset);

/* Where a versioned write is: what its next request does. */
enum cosmos_phase {
    COSMOS_PHASE_WRITE,   /* Create (Upsert in upsert mode) */
    COSMOS_PHASE_READ,    /* Read the stored document */
    COSMOS_PHASE_REPLACE, /* Replace with ifMatch on the _etag read */
};

/* What an answer means for a versioned write. */
enum cosmos_next {
    COSMOS_NEXT_WRITTEN,    /* this version is stored */
    COSMOS_NEXT_SUPERSEDED, /* the stored document is as new or newer: done, nothing written */
    COSMOS_NEXT_READ,       /* the document exists (409) or changed (412): read it */
    COSMOS_NEXT_REPLACE,    /* it is older: replace it, if it is still the one read */
    COSMOS_NEXT_CREATE,     /* it is gone (404 on Read or Replace): create it */
    COSMOS_NEXT_CLASSIFY,   /* any other answer: the retry policy decides (lib/retry) */
};

/*
 * The step after an answer with HTTP status to a request of phase. superseded is
 * cosmos_version_superseded of the stored document (used for a Read's 200 only).
 */
enum cosmos_next cosmos_version_next(enum cosmos_phase phase, int status, int superseded);

#endif
