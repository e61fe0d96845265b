/*
 * order_gen: the simulated order format, defined once. Generates deterministic (seeded,
 * splitmix64) orders as JSON — unique orderId, customerId (uniform or zipf-skewed), product
 * lines, exact totals in integer cents, status, version, createdAt — plus order updates
 * (same ids, higher version) and deliberately malformed messages the worker must reject.
 * Every valid order parses with lib/order's order_to_doc (id "orderId", key "/customerId").
 */
#ifndef ORDERSINK_ORDER_GEN_H
#define ORDERSINK_ORDER_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "order.h"

/* createdAt of sequence 0 when seeded: 2026-01-01T00:00:00.000Z. */
#define ORDER_GEN_EPOCH_MS INT64_C(1767225600000)
#define ORDER_GEN_MAX_CUSTOMERS 10000000u

/* What one generated message is. */
enum order_gen_kind {
    OG_NEW = 0,
    OG_UPDATE,
    /* malformed messages, emitted in this order (cycling) by --bad-ratio */
    OG_BAD_NOT_JSON,
    OG_BAD_TRUNCATED,
    OG_BAD_EMPTY,
    OG_BAD_ARRAY,
    OG_BAD_MISSING_ID,
    OG_BAD_MISSING_CUSTOMER,
    OG_BAD_ID_SLASH,
    OG_BAD_ID_FRACTION,
    OG_BAD_UTF8,
    OG_BAD_NUL,
    OG_KIND_COUNT
};
#define OG_BAD_FIRST OG_BAD_NOT_JSON
#define OG_BAD_KINDS (OG_KIND_COUNT - OG_BAD_FIRST)

struct order_gen_opts {
    uint64_t seed;
    int fixed_time;      /* 1: createdAt = ORDER_GEN_EPOCH_MS + sequence ms; 0: wall clock */
    uint32_t customers;  /* 1..ORDER_GEN_MAX_CUSTOMERS */
    double skew;         /* 0 = uniform; > 0 = zipf exponent over customer rank */
    size_t size;         /* pad valid orders to this many bytes when larger; 0 = natural */
    double bad_ratio;    /* fraction of malformed messages, 0..1 */
    double update_ratio; /* fraction of updates of earlier orders, 0..1 - bad_ratio */
    int key_by_order;    /* 1: key = orderId; 0: key = customerId */
};

/* One generated message. value and key point into the generator, valid until the next call. */
struct order_msg {
    const char *value;
    size_t len;
    const char *key;
    size_t key_len;
    enum order_gen_kind kind;
    enum order_reason expect; /* what order_to_doc returns for it (ORDER_OK when valid) */
    uint64_t seq;             /* 0-based message sequence number */
};

struct order_gen;

/*
 * Validates opts and creates a generator. Returns NULL with err filled ("customers must be
 * ...", "out of memory"). Free with order_gen_free.
 */
struct order_gen *order_gen_new(const struct order_gen_opts *opts, char *err, size_t errsz);

/* Generates the next message into *m. Returns 0, or -1 when out of memory. */
int order_gen_next(struct order_gen *g, struct order_msg *m);

/* Generates one message of the given kind (OG_UPDATE falls back to OG_NEW with no history). */
int order_gen_next_kind(struct order_gen *g, enum order_gen_kind kind, struct order_msg *m);

/* The reason order_to_doc gives for a kind (ORDER_OK for OG_NEW and OG_UPDATE). */
enum order_reason order_gen_expected(enum order_gen_kind kind);

/* Stable snake_case name of a kind. */
const char *order_gen_kind_name(enum order_gen_kind kind);

/* Writes an ISO-8601 UTC timestamp with milliseconds (24 chars + NUL) into buf[25]. */
void order_gen_iso8601(int64_t ms, char buf[25]);

void order_gen_free(struct order_gen *g);

#endif
