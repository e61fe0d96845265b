/*
 * order_gen: simulated orders for the producer and the tests. JSON is written from safe ASCII
 * only (ids, skus, names from fixed tables), money in integer cents. Randomness is splitmix64,
 * so a seed gives the same bytes on every machine. The hot path copies pieces made once per
 * generator (each product's line, the orderId prefix, the createdAt of the current second)
 * into a buffer reserved once per order: no printf, no gmtime per order.
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
/* Room reserved for one order before its padding: the longest order is about 650 bytes
 * (a 20-digit sequence number, 10-digit version, five lines of the longest name). */
#define OG_ORDER_ROOM 1536
#define OG_SKU_LEN 26 /* {"sku":"SKU-1xxx","name":" */

/* One product's line as JSON, cut where the quantity goes. */
struct og_product {
    char head[64]; /* {"sku":"SKU-1xxx","name":"<name>","quantity": */
    char tail[32]; /* ,"unitPrice":<price>} */
    uint8_t head_len, tail_len;
    int64_t price_cents;
};

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
    char id_prefix[24]; /* ord-<run id, 12 hex digits>- */
    size_t id_prefix_len;
    int64_t ts_sec; /* the second ts holds (its milliseconds are rewritten per order) */
    char ts[25];
    struct og_product products[OG_PRODUCTS];
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
    size_t id_len;
    char id[48];          /* orderId: ord-<run id>-<seq> */
    char customer_id[16]; /* customerId: cust-<7 digits> */
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
 * number of digits. The generator's hot path formats with this instead of printf: digits are
 * written from the end, two at a time. */
static size_t og_digits(char *out, uint64_t v, int width)
{
    static const char pairs[201] = "0001020304050607080910111213141516171819"
                                   "2021222324252627282930313233343536373839"
                                   "4041424344454647484950515253545556575859"
                                   "6061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    if (n < (size_t)width)
        n = (size_t)width;
    char *p = out + n;
    while (v >= 100) {
        p -= 2;
        memcpy(p, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    while (p > out)
        *--p = '0';
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

/* Appends the string literal s at the cursor p (no NUL); the room was reserved. */
#define OG_PUT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

/* Appends n bytes at the cursor p. */
static inline char *og_put_mem(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Appends the first n bytes of the sizeof(src)-byte array src at the cursor p, copying the
 * whole array: a fixed-size copy is a few vector moves where a variable one was `rep movs`
 * (perf: 28 % of og_write_order). The room reserved per order covers the overshoot. */
#define OG_PUT_BLOCK(p, src, n) (memcpy((p), (src), sizeof(src)), (p) += (n))

/* Appends v in decimal, zero-padded to width digits, at the cursor p. */
static inline char *og_put_uint(char *p, uint64_t v, int width)
{
    return p + og_digits(p, v, width);
}

/* Appends a non-negative amount in cents as units.cc at the cursor p. */
static char *og_put_cents(char *p, int64_t cents)
{
    p = og_put_uint(p, (uint64_t)(cents / 100), 0);
    *p++ = '.';
    return og_put_uint(p, (uint64_t)(cents % 100), 2);
}

static int64_t og_price_cents(unsigned product)
{
    uint64_t s = UINT64_C(0x5EED) + product;
    return 199 + (int64_t)(og_splitmix(&s) % 19801); /* 1.99 .. 199.99 */
}

/* Fills the per-generator pieces: each product's line around its quantity and the orderId
 * prefix ord-<run id, 12 hex digits>-. */
static void og_init_pieces(struct order_gen *g)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned p = 0; p < OG_PRODUCTS; p++) {
        struct og_product *pr = &g->products[p];
        char *c = pr->head;
        OG_PUT(c, "{\"sku\":\"SKU-");
        c = og_put_uint(c, 1000 + p, 4);
        OG_PUT(c, "\",\"name\":\"");
        c = og_put_mem(c, og_adjectives[p % 8], strlen(og_adjectives[p % 8]));
        *c++ = ' ';
        c = og_put_mem(c, og_nouns[p / 8 % 8], strlen(og_nouns[p / 8 % 8]));
        OG_PUT(c, "\",\"quantity\":");
        pr->head_len = (uint8_t)(c - pr->head);
        pr->price_cents = og_price_cents(p);
        c = pr->tail;
        OG_PUT(c, ",\"unitPrice\":");
        c = og_put_cents(c, pr->price_cents);
        *c++ = '}';
        pr->tail_len = (uint8_t)(c - pr->tail);
    }
    char *c = g->id_prefix;
    OG_PUT(c, "ord-");
    for (int shift = 44; shift >= 0; shift -= 4)
        *c++ = hex[(g->run_id >> shift) & 0xF];
    *c++ = '-';
    g->id_prefix_len = (size_t)(c - g->id_prefix);
    g->ts_sec = -1;
}

/* ord-<run id, 12 hex digits>-<seq> into buf (NUL-terminated); returns its length. */
static size_t og_order_id(const struct order_gen *g, uint64_t seq, char buf[48])
{
    char *c = og_put_mem(buf, g->id_prefix, g->id_prefix_len);
    c = og_put_uint(c, seq, 0);
    *c = '\0';
    return (size_t)(c - buf);
}

/* createdAt of ms (24 characters): the date and time are formatted once per second. */
static const char *og_created_at(struct order_gen *g, int64_t ms)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -1;
    if (sec < 0 || sec != g->ts_sec) {
        order_gen_iso8601(ms, g->ts);
        g->ts_sec = strlen(g->ts) == 24 ? sec : -1; /* reuse only the usual 24-char form */
        return g->ts;
    }
    og_digits(g->ts + 20, (uint64_t)(ms % 1000), 3);
    return g->ts;
}

/* Appends the orderId field as the kind wants it at the cursor p. */
static char *og_put_id(char *p, const struct og_order *o)
{
    switch (o->id_style) {
    case OG_ID_NORMAL:
        OG_PUT(p, "\"orderId\":\"");
        OG_PUT_BLOCK(p, o->id, o->id_len);
        OG_PUT(p, "\",");
        return p;
    case OG_ID_SLASH:
        OG_PUT(p, "\"orderId\":\"");
        p = og_put_mem(p, o->id, o->id_len);
        OG_PUT(p, "/part\",");
        return p;
    case OG_ID_FRACTION:
        OG_PUT(p, "\"orderId\":");
        p = og_put_uint(p, o->seq, 0);
        OG_PUT(p, ".5,");
        return p;
    default:
        return p;
    }
}

/* Lines, currency and total come from a per-order stream, so every version has the same. */
static char *og_put_lines(struct order_gen *g, char *p, const struct og_order *o, uint64_t *lr,
                          int64_t *total)
{
    unsigned n = 1 + og_below(lr, OG_MAX_LINES);
    *total = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct og_product *pr = &g->products[og_below(lr, OG_PRODUCTS)];
        unsigned qty = 1 + og_below(lr, 5);
        *total += pr->price_cents * qty;
        if (i)
            *p++ = ',';
        if (i == 0 && o->name_override) {
            p = og_put_mem(p, pr->head, OG_SKU_LEN);
            p = og_put_mem(p, o->name_override, strlen(o->name_override));
            OG_PUT(p, "\",\"quantity\":");
        } else {
            OG_PUT_BLOCK(p, pr->head, pr->head_len);
        }
        *p++ = (char)('0' + qty);
        OG_PUT_BLOCK(p, pr->tail, pr->tail_len);
    }
    return p;
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

/* Appends one order object (padded to opts.size) to the buffer. Returns 0 or -1 (out of
 * memory). */
static int og_write_order(struct order_gen *g, const struct og_order *o)
{
    size_t override = o->name_override ? strlen(o->name_override) : 0;
    if (og_reserve(g, OG_ORDER_ROOM + override) != 0)
        return -1;
    uint64_t lr = g->o.seed ^ (o->seq * UINT64_C(0xD1B54A32D192ED03));
    const char *ts = og_created_at(g, o->created_ms);
    size_t start = g->len;
    int64_t total = 0;
    const char *currency = og_currencies[og_below(&lr, 4)];
    const char *status = og_statuses[(o->version - 1) % 5];
    char *p = g->buf + g->len;
    *p++ = '{';
    p = og_put_id(p, o);
    if (!o->omit_customer) {
        OG_PUT(p, "\"customerId\":\"");
        p = og_put_mem(p, o->customer_id, 12);
        OG_PUT(p, "\",");
    }
    OG_PUT(p, "\"version\":");
    p = og_put_uint(p, o->version, 0);
    OG_PUT(p, ",\"status\":\"");
    p = og_put_mem(p, status, strlen(status));
    OG_PUT(p, "\",\"currency\":\"");
    p = og_put_mem(p, currency, 3);
    OG_PUT(p, "\",\"createdAt\":\"");
    p = og_put_mem(p, ts, strlen(ts));
    OG_PUT(p, "\",\"lines\":[");
    p = og_put_lines(g, p, o, &lr, &total);
    OG_PUT(p, "],\"total\":");
    p = og_put_cents(p, total);
    *p++ = '}';
    *p = '\0';
    g->len = (size_t)(p - g->buf);
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
    og_init_pieces(g);
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
    o.id_len = og_order_id(g, o.seq, o.id);
    memcpy(o.customer_id, "cust-", 5);
    og_digits(o.customer_id + 5, o.customer, 7); /* customer < 10^7: always 7 digits */
    o.customer_id[12] = '\0';
    g->len = 0;
    int rc = kind <= OG_UPDATE ? og_write_order(g, &o) : og_write_bad(g, kind, &o);
    if (rc != 0)
        return -1;
    if (kind == OG_NEW)
        og_remember(g, &o);
    size_t key_len = g->o.key_by_order ? o.id_len : 12;
    memcpy(g->key, g->o.key_by_order ? o.id : o.customer_id, key_len + 1);
    *m = (struct order_msg){.value = g->buf,
                            .len = g->len,
                            .key = g->key,
                            .key_len = key_len,
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
