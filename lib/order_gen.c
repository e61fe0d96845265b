/*
 * order_gen: simulated orders for the producer and the tests. JSON is written with
 * snprintf from safe ASCII only (ids, skus, names from fixed tables), money in integer cents.
 * Randomness is splitmix64, so a seed gives the same bytes on every machine.
 */
#include "order_gen.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

#define OG_HISTORY 4096 /* updates pick among the last this-many new orders */
#define OG_PRODUCTS 64
#define OG_MAX_LINES 5

struct og_past {
    uint64_t seq;
    uint32_t customer;
    uint32_t version;
    int64_t created_ms;
};

struct order_gen {
    struct order_gen_opts o;
    uint64_t rng;
    uint64_t run_id; /* orderId prefix, from the seed */
    uint64_t seq;
    uint64_t bad_n;
    double *zipf_cdf; /* cumulative customer weights; NULL when uniform */
    struct og_past hist[OG_HISTORY];
    size_t hist_n;
    char *buf;
    size_t cap, len;
    char key[64];
};

/* How the orderId field of one body is written (the malformed kinds vary it). */
enum og_id_style { OG_ID_NORMAL, OG_ID_SLASH, OG_ID_FRACTION, OG_ID_NONE };

struct og_order {
    uint64_t seq;
    uint32_t customer;
    uint32_t version;
    int64_t created_ms;
    enum og_id_style id_style;
    int omit_customer;
    const char *name_override; /* name of the first line, raw bytes */
};

static const char *const og_kind_names[] = {
    [OG_NEW] = "new",
    [OG_UPDATE] = "update",
    [OG_BAD_NOT_JSON] = "not_json",
    [OG_BAD_TRUNCATED] = "truncated_json",
    [OG_BAD_EMPTY] = "empty_value",
    [OG_BAD_ARRAY] = "json_array",
    [OG_BAD_MISSING_ID] = "missing_order_id",
    [OG_BAD_MISSING_CUSTOMER] = "missing_customer_id",
    [OG_BAD_ID_SLASH] = "order_id_with_slash",
    [OG_BAD_ID_FRACTION] = "fractional_order_id",
    [OG_BAD_UTF8] = "invalid_utf8",
    [OG_BAD_NUL] = "embedded_nul",
};

static const enum order_reason og_expected[] = {
    [OG_NEW] = ORDER_OK,
    [OG_UPDATE] = ORDER_OK,
    [OG_BAD_NOT_JSON] = ORDER_NOT_JSON,
    [OG_BAD_TRUNCATED] = ORDER_NOT_JSON,
    [OG_BAD_EMPTY] = ORDER_EMPTY,
    [OG_BAD_ARRAY] = ORDER_NOT_OBJECT,
    [OG_BAD_MISSING_ID] = ORDER_MISSING_ID,
    [OG_BAD_MISSING_CUSTOMER] = ORDER_MISSING_PARTITION_KEY,
    [OG_BAD_ID_SLASH] = ORDER_INVALID_ID,
    [OG_BAD_ID_FRACTION] = ORDER_INVALID_ID,
    [OG_BAD_UTF8] = ORDER_INVALID_UTF8,
    [OG_BAD_NUL] = ORDER_INVALID_UTF8,
};

static const char *const og_statuses[] = {"created", "paid", "packed", "shipped", "delivered"};
static const char *const og_currencies[] = {"EUR", "USD", "GBP", "CHF"};
static const char *const og_adjectives[] = {"Blue",  "Small", "Heavy", "Smart",
                                            "Quiet", "Large", "Green", "Classic"};
static const char *const og_nouns[] = {"Widget", "Lamp",    "Kettle", "Backpack",
                                       "Chair",  "Speaker", "Mug",    "Notebook"};

const char *order_gen_kind_name(enum order_gen_kind kind)
{
    return (unsigned)kind < OG_KIND_COUNT ? og_kind_names[kind] : "unknown";
}

enum order_reason order_gen_expected(enum order_gen_kind kind)
{
    return (unsigned)kind < OG_KIND_COUNT ? og_expected[kind] : ORDER_OK;
}

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit output per call. */
static uint64_t og_splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias worth mentioning (Lemire's multiply-shift). */
static uint32_t og_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)og_splitmix(state) * n) >> 64);
}

/* Uniform double in [0, 1). */
static double og_unit(uint64_t *state)
{
    return (double)(og_splitmix(state) >> 11) * 0x1.0p-53;
}

/* Writes v in decimal, zero-padded to at least width digits, into out (no NUL); returns the
 * number of digits. The generator's hot path formats with this instead of printf. */
static size_t og_digits(char *out, uint64_t v, int width)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while ((int)n < width)
        tmp[n++] = '0';
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void order_gen_iso8601(int64_t ms, char buf[25])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    const struct {
        uint64_t v;
        int width;
        char sep;
    } parts[] = {{(uint64_t)tm.tm_year + 1900, 4, '-'}, {(uint64_t)tm.tm_mon + 1, 2, '-'},
                 {(uint64_t)tm.tm_mday, 2, 'T'},        {(uint64_t)tm.tm_hour, 2, ':'},
                 {(uint64_t)tm.tm_min, 2, ':'},         {(uint64_t)tm.tm_sec, 2, '.'},
                 {(uint64_t)(ms % 1000), 3, 'Z'}};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char d[24];
        size_t k = og_digits(d, parts[i].v, parts[i].width);
        if (n + k + 1 >= 25)
            break; /* a year past 9999 */
        memcpy(buf + n, d, k);
        n += k;
        buf[n++] = parts[i].sep;
    }
    buf[n] = '\0';
}

/* Appends printf output to the buffer, growing it. Returns 0 or -1 (out of memory). */
__attribute__((format(printf, 2, 3))) static int og_put(struct order_gen *g, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g->buf + g->len, g->cap - g->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < g->cap - g->len) {
            g->len += (size_t)n;
            return 0;
        }
        size_t cap = g->cap * 2 > g->len + (size_t)n + 1 ? g->cap * 2 : g->len + (size_t)n + 1;
        char *b = realloc(g->buf, cap);
        if (!b)
            return -1;
        g->buf = b;
        g->cap = cap;
    }
}

/* Ensures room for n more bytes. Returns 0 or -1. */
static int og_reserve(struct order_gen *g, size_t n)
{
    if (g->len + n + 1 <= g->cap)
        return 0;
    size_t cap = g->len + n + 1 + g->cap;
    char *b = realloc(g->buf, cap);
    if (!b)
        return -1;
    g->buf = b;
    g->cap = cap;
    return 0;
}

/* Appends n bytes (kept NUL-terminated). Returns 0 or -1. */
static int og_mem(struct order_gen *g, const char *s, size_t n)
{
    if (og_reserve(g, n) != 0)
        return -1;
    memcpy(g->buf + g->len, s, n);
    g->len += n;
    g->buf[g->len] = '\0';
    return 0;
}

static int og_lit(struct order_gen *g, const char *s)
{
    return og_mem(g, s, strlen(s));
}

static int og_uint(struct order_gen *g, uint64_t v, int width)
{
    char d[24];
    return og_mem(g, d, og_digits(d, v, width));
}

/* A non-negative amount in cents as units.cc */
static int og_cents(struct order_gen *g, int64_t cents)
{
    return og_uint(g, (uint64_t)(cents / 100), 0) || og_mem(g, ".", 1) ||
           og_uint(g, (uint64_t)(cents % 100), 2);
}

static int64_t og_price_cents(unsigned product)
{
    uint64_t s = UINT64_C(0x5EED) + product;
    return 199 + (int64_t)(og_splitmix(&s) % 19801); /* 1.99 .. 199.99 */
}

/* ord-<run id, 12 hex digits>-<seq> */
static void og_order_id(const struct order_gen *g, uint64_t seq, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    char id[48];
    size_t n = 0;
    memcpy(id, "ord-", 4);
    n = 4;
    for (int shift = 44; shift >= 0; shift -= 4)
        id[n++] = hex[(g->run_id >> shift) & 0xF];
    id[n++] = '-';
    n += og_digits(id + n, seq, 0);
    id[n] = '\0';
    snprintf(buf, size, "%s", id);
}

static int og_write_id(struct order_gen *g, const struct og_order *o)
{
    char id[48];
    og_order_id(g, o->seq, id, sizeof(id));
    switch (o->id_style) {
    case OG_ID_NORMAL:
        return og_lit(g, "\"orderId\":\"") || og_lit(g, id) || og_lit(g, "\",");
    case OG_ID_SLASH:
        return og_lit(g, "\"orderId\":\"") || og_lit(g, id) || og_lit(g, "/part\",");
    case OG_ID_FRACTION:
        return og_lit(g, "\"orderId\":") || og_uint(g, o->seq, 0) || og_lit(g, ".5,");
    default:
        return 0;
    }
}

/* Lines, currency and total come from a per-order stream, so every version has the same. */
static int og_write_lines(struct order_gen *g, const struct og_order *o, uint64_t *lr,
                          int64_t *total)
{
    unsigned n = 1 + og_below(lr, OG_MAX_LINES);
    *total = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned p = og_below(lr, OG_PRODUCTS);
        unsigned qty = 1 + og_below(lr, 5);
        int64_t price = og_price_cents(p);
        *total += price * qty;
        if ((i && og_lit(g, ",")) || og_lit(g, "{\"sku\":\"SKU-") || og_uint(g, 1000 + p, 4) ||
            og_lit(g, "\",\"name\":\""))
            return -1;
        if (i == 0 && o->name_override ? og_lit(g, o->name_override)
                                       : og_lit(g, og_adjectives[p % 8]) || og_lit(g, " ") ||
                                             og_lit(g, og_nouns[p / 8 % 8]))
            return -1;
        if (og_lit(g, "\",\"quantity\":") || og_uint(g, qty, 0) || og_lit(g, ",\"unitPrice\":") ||
            og_cents(g, price) || og_lit(g, "}"))
            return -1;
    }
    return 0;
}

/* Pads the body that starts at start to the target size with a "pad" field, when it fits. */
static int og_pad(struct order_gen *g, size_t start)
{
    static const size_t overhead = sizeof(",\"pad\":\"\"") - 1;
    size_t have = g->len - start;
    if (g->o.size <= have + overhead)
        return 0;
    size_t n = g->o.size - have - overhead;
    if (og_reserve(g, n + overhead) != 0)
        return -1;
    g->len--; /* drop the closing brace */
    memcpy(g->buf + g->len, ",\"pad\":\"", 8);
    g->len += 8;
    memset(g->buf + g->len, 'x', n);
    g->len += n;
    memcpy(g->buf + g->len, "\"}", 3);
    g->len += 2;
    return 0;
}

/* Appends one order object (padded to opts.size) to the buffer. Returns 0 or -1. */
static int og_write_order(struct order_gen *g, const struct og_order *o)
{
    uint64_t lr = g->o.seed ^ (o->seq * UINT64_C(0xD1B54A32D192ED03));
    char ts[25];
    order_gen_iso8601(o->created_ms, ts);
    size_t start = g->len;
    int64_t total = 0;
    const char *currency = og_currencies[og_below(&lr, 4)];
    if (og_lit(g, "{") || og_write_id(g, o) ||
        (!o->omit_customer &&
         (og_lit(g, "\"customerId\":\"cust-") || og_uint(g, o->customer, 7) || og_lit(g, "\","))) ||
        og_lit(g, "\"version\":") || og_uint(g, o->version, 0) || og_lit(g, ",\"status\":\"") ||
        og_lit(g, og_statuses[(o->version - 1) % 5]) || og_lit(g, "\",\"currency\":\"") ||
        og_lit(g, currency) || og_lit(g, "\",\"createdAt\":\"") || og_lit(g, ts) ||
        og_lit(g, "\",\"lines\":[") || og_write_lines(g, o, &lr, &total) ||
        og_lit(g, "],\"total\":") || og_cents(g, total) || og_lit(g, "}"))
        return -1;
    return og_pad(g, start);
}

static uint32_t og_customer(struct order_gen *g)
{
    if (!g->zipf_cdf)
        return og_below(&g->rng, g->o.customers);
    double u = og_unit(&g->rng);
    size_t lo = 0, hi = g->o.customers - 1;
    while (lo < hi) { /* first rank whose cumulative weight exceeds u */
        size_t mid = lo + (hi - lo) / 2;
        if (g->zipf_cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (uint32_t)lo;
}

static int og_init_zipf(struct order_gen *g)
{
    uint32_t n = g->o.customers;
    g->zipf_cdf = malloc(n * sizeof(double));
    if (!g->zipf_cdf)
        return -1;
    double sum = 0;
    for (uint32_t k = 0; k < n; k++) {
        sum += 1.0 / pow((double)k + 1, g->o.skew);
        g->zipf_cdf[k] = sum;
    }
    for (uint32_t k = 0; k < n; k++)
        g->zipf_cdf[k] /= sum;
    g->zipf_cdf[n - 1] = 2.0; /* u < 1 always lands */
    return 0;
}

struct order_gen *order_gen_new(const struct order_gen_opts *opts, char *err, size_t errsz)
{
    if (opts->customers < 1 || opts->customers > ORDER_GEN_MAX_CUSTOMERS) {
        snprintf(err, errsz, "customers must be between 1 and %u", ORDER_GEN_MAX_CUSTOMERS);
        return NULL;
    }
    if (!(opts->skew >= 0) || !(opts->bad_ratio >= 0) || !(opts->update_ratio >= 0) ||
        !(opts->bad_ratio + opts->update_ratio <= 1)) {
        snprintf(err, errsz, "skew, bad ratio and update ratio must be >= 0, ratios sum <= 1");
        return NULL;
    }
    struct order_gen *g = calloc(1, sizeof(*g));
    if (!g || !(g->buf = malloc(4096))) {
        free(g);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    g->cap = 4096;
    g->o = *opts;
    g->rng = opts->seed;
    uint64_t s = opts->seed ^ UINT64_C(0x0123456789ABCDEF);
    g->run_id = og_splitmix(&s) & UINT64_C(0xFFFFFFFFFFFF);
    if (opts->skew > 0 && og_init_zipf(g) != 0) {
        order_gen_free(g);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    return g;
}

void order_gen_free(struct order_gen *g)
{
    if (!g)
        return;
    free(g->zipf_cdf);
    free(g->buf);
    free(g);
}

/* A fresh order description for sequence seq (customer drawn now). */
static struct og_order og_fresh(struct order_gen *g, uint64_t seq)
{
    struct og_order o = {
        .seq = seq,
        .customer = og_customer(g),
        .version = 1,
        .created_ms = g->o.fixed_time ? ORDER_GEN_EPOCH_MS + (int64_t)seq : clock_wall_ms(),
    };
    return o;
}

/* Picks an earlier order and bumps its version; 0 when there is none yet. */
static int og_pick_update(struct order_gen *g, struct og_order *o)
{
    if (g->hist_n == 0)
        return 0;
    struct og_past *p = &g->hist[og_below(&g->rng, (uint32_t)g->hist_n)];
    p->version++;
    *o = (struct og_order){
        .seq = p->seq, .customer = p->customer, .version = p->version, .created_ms = p->created_ms};
    return 1;
}

static void og_remember(struct order_gen *g, const struct og_order *o)
{
    struct og_past *p = &g->hist[g->hist_n < OG_HISTORY ? g->hist_n++ : o->seq % OG_HISTORY];
    *p = (struct og_past){o->seq, o->customer, o->version, o->created_ms};
}

/* Writes the body of a malformed kind, starting from the order description o. */
static int og_write_bad(struct order_gen *g, enum order_gen_kind kind, struct og_order *o)
{
    switch (kind) {
    case OG_BAD_NOT_JSON:
        return og_put(g, "order %llu: this is not JSON", (unsigned long long)o->seq);
    case OG_BAD_TRUNCATED:
        if (og_write_order(g, o) != 0)
            return -1;
        g->len /= 2;
        return 0;
    case OG_BAD_EMPTY:
        return 0;
    case OG_BAD_ARRAY:
        return og_put(g, "[") || og_write_order(g, o) || og_put(g, "]");
    case OG_BAD_MISSING_ID:
        o->id_style = OG_ID_NONE;
        break;
    case OG_BAD_MISSING_CUSTOMER:
        o->omit_customer = 1;
        break;
    case OG_BAD_ID_SLASH:
        o->id_style = OG_ID_SLASH;
        break;
    case OG_BAD_ID_FRACTION:
        o->id_style = OG_ID_FRACTION;
        break;
    case OG_BAD_UTF8:
        o->name_override = "Broken \xC3\x28 Widget"; /* 0xC3 must be followed by 0x80..0xBF */
        break;
    default: /* OG_BAD_NUL: 0x01 is replaced by NUL below; nothing else contains it */
        o->name_override = "Broken \x01 Widget";
        break;
    }
    if (og_write_order(g, o) != 0)
        return -1;
    if (kind == OG_BAD_NUL)
        *(char *)memchr(g->buf, '\x01', g->len) = '\0';
    return 0;
}

int order_gen_next_kind(struct order_gen *g, enum order_gen_kind kind, struct order_msg *m)
{
    uint64_t seq = g->seq++;
    struct og_order o;
    if (kind == OG_UPDATE && !og_pick_update(g, &o))
        kind = OG_NEW;
    if (kind != OG_UPDATE)
        o = og_fresh(g, seq);
    g->len = 0;
    int rc = kind <= OG_UPDATE ? og_write_order(g, &o) : og_write_bad(g, kind, &o);
    if (rc != 0)
        return -1;
    if (kind == OG_NEW)
        og_remember(g, &o);
    if (g->o.key_by_order)
        og_order_id(g, o.seq, g->key, sizeof(g->key));
    else
        snprintf(g->key, sizeof(g->key), "cust-%07u", o.customer);
    *m = (struct order_msg){.value = g->buf,
                            .len = g->len,
                            .key = g->key,
                            .key_len = strlen(g->key),
                            .kind = kind,
                            .expect = order_gen_expected(kind),
                            .seq = seq};
    return 0;
}

int order_gen_next(struct order_gen *g, struct order_msg *m)
{
    double u = og_unit(&g->rng);
    enum order_gen_kind kind = OG_NEW;
    if (u < g->o.bad_ratio)
        kind = (enum order_gen_kind)(OG_BAD_FIRST + g->bad_n++ % OG_BAD_KINDS);
    else if (u < g->o.bad_ratio + g->o.update_ratio)
        kind = OG_UPDATE;
    return order_gen_next_kind(g, kind, m);
}
