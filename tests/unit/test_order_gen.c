/* Unit tests for lib/order_gen: determinism, validity against lib/order, exact totals,
 * padding, the malformed kinds, zipf skew and order updates. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "order_gen.h"

static const struct order_spec spec = {.id_field = "orderId", .partition_key_path = "/customerId"};
static const struct order_meta meta = {
    .topic = "orders", .partition = 0, .offset = 1, .timestamp_ms = -1};

static struct order_gen *gen_new(uint64_t seed, double skew, double bad, double updates)
{
    struct order_gen_opts o = {.seed = seed,
                               .fixed_time = 1,
                               .customers = 1000,
                               .skew = skew,
                               .bad_ratio = bad,
                               .update_ratio = updates};
    char err[128];
    struct order_gen *g = order_gen_new(&o, err, sizeof(err));
    ck_assert_msg(g != NULL, "%s", err);
    return g;
}

/* Copies a message (the generator reuses its buffer). */
static char *dup_value(const struct order_msg *m)
{
    char *s = malloc(m->len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, m->value, m->len);
    s[m->len] = '\0';
    return s;
}

static int64_t cents(const cJSON *v)
{
    ck_assert(cJSON_IsNumber(v));
    return llround(v->valuedouble * 100);
}

START_TEST(test_same_seed_same_bytes)
{
    struct order_gen *a = gen_new(42, 0.8, 0.1, 0.2), *b = gen_new(42, 0.8, 0.1, 0.2);
    for (int i = 0; i < 1000; i++) {
        struct order_msg ma, mb;
        ck_assert_int_eq(order_gen_next(a, &ma), 0);
        char *va = dup_value(&ma);
        ck_assert_int_eq(order_gen_next(b, &mb), 0);
        ck_assert_uint_eq(ma.len, mb.len);
        ck_assert_int_eq(memcmp(va, mb.value, mb.len), 0);
        ck_assert_int_eq(ma.kind, mb.kind);
        free(va);
    }
    order_gen_free(a);
    order_gen_free(b);
}
END_TEST

START_TEST(test_different_seed_differs)
{
    struct order_gen *a = gen_new(1, 0, 0, 0), *b = gen_new(2, 0, 0, 0);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        struct order_msg ma, mb;
        ck_assert_int_eq(order_gen_next(a, &ma), 0);
        char *va = dup_value(&ma);
        ck_assert_int_eq(order_gen_next(b, &mb), 0);
        same += ma.len == mb.len && memcmp(va, mb.value, mb.len) == 0;
        free(va);
    }
    ck_assert_int_eq(same, 0);
    order_gen_free(a);
    order_gen_free(b);
}
END_TEST

/* Checks one valid order: order_to_doc accepts it and the total is the sum of its lines. */
static void check_valid(const struct order_msg *m)
{
    struct order_doc doc;
    char detail[128];
    enum order_reason r =
        order_to_doc(&spec, m->value, m->len, &meta, &doc, detail, sizeof(detail));
    ck_assert_msg(r == ORDER_OK, "%s: %s", order_reason_name(r), detail);
    cJSON *root = cJSON_ParseWithLength(m->value, m->len);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(doc.id, cJSON_GetObjectItem(root, "orderId")->valuestring);
    const cJSON *lines = cJSON_GetObjectItem(root, "lines");
    ck_assert(cJSON_GetArraySize(lines) >= 1);
    int64_t sum = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, lines)
    {
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(l, "sku")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(l, "name")));
        sum += (int64_t)cJSON_GetObjectItem(l, "quantity")->valueint *
               cents(cJSON_GetObjectItem(l, "unitPrice"));
    }
    ck_assert_int_eq(sum, cents(cJSON_GetObjectItem(root, "total")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(root, "currency")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(root, "status")));
    const cJSON *ts = cJSON_GetObjectItem(root, "createdAt");
    ck_assert(cJSON_IsString(ts) && strlen(ts->valuestring) == 24);
    ck_assert_int_eq(ts->valuestring[23], 'Z');
    cJSON_Delete(root);
    order_doc_free(&doc);
}

START_TEST(test_valid_orders_parse_and_add_up)
{
    struct order_gen *g = gen_new(7, 0, 0, 0.3);
    for (int i = 0; i < 2000; i++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next(g, &m), 0);
        ck_assert_int_eq(m.expect, ORDER_OK);
        check_valid(&m);
    }
    order_gen_free(g);
}
END_TEST

START_TEST(test_created_at_from_seed)
{
    struct order_gen *g = gen_new(7, 0, 0, 0);
    struct order_msg m;
    ck_assert_int_eq(order_gen_next(g, &m), 0);
    ck_assert_ptr_nonnull(strstr(m.value, "\"createdAt\":\"2026-01-01T00:00:00.000Z\""));
    ck_assert_int_eq(order_gen_next(g, &m), 0);
    ck_assert_ptr_nonnull(strstr(m.value, "\"createdAt\":\"2026-01-01T00:00:00.001Z\""));
    char buf[25];
    order_gen_iso8601(ORDER_GEN_EPOCH_MS + 86400000 + 1234, buf);
    ck_assert_str_eq(buf, "2026-01-02T00:00:01.234Z");
    order_gen_free(g);
}
END_TEST

START_TEST(test_size_padding)
{
    size_t sizes[] = {512, 1000, 4096, 100000};
    for (unsigned k = 0; k < 4; k++) {
        struct order_gen_opts o = {.seed = 3, .fixed_time = 1, .customers = 10, .size = sizes[k]};
        char err[128];
        struct order_gen *g = order_gen_new(&o, err, sizeof(err));
        ck_assert_ptr_nonnull(g);
        for (int i = 0; i < 50; i++) {
            struct order_msg m;
            ck_assert_int_eq(order_gen_next(g, &m), 0);
            /* Exact when a pad field fits; else the natural order is already about as large. */
            if (strstr(m.value, "\"pad\":\""))
                ck_assert_uint_eq(m.len, sizes[k]);
            else
                ck_assert_uint_ge(m.len + 9, sizes[k]);
            if (sizes[k] >= 1000)
                ck_assert_uint_eq(m.len, sizes[k]);
            check_valid(&m);
        }
        order_gen_free(g);
    }
    /* A target below the natural size leaves the order as it is. */
    struct order_gen_opts o = {.seed = 3, .fixed_time = 1, .customers = 10, .size = 20};
    char err[128];
    struct order_gen *g = order_gen_new(&o, err, sizeof(err));
    struct order_msg m;
    ck_assert_int_eq(order_gen_next(g, &m), 0);
    ck_assert_uint_gt(m.len, 20);
    ck_assert_ptr_null(strstr(m.value, "\"pad\""));
    order_gen_free(g);
}
END_TEST

START_TEST(test_bad_kinds_rejected)
{
    struct order_gen *g = gen_new(9, 0, 0, 0);
    for (int k = OG_BAD_FIRST; k < OG_KIND_COUNT; k++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next_kind(g, (enum order_gen_kind)k, &m), 0);
        ck_assert_int_eq(m.kind, k);
        ck_assert_int_ne(m.expect, ORDER_OK);
        struct order_doc doc;
        enum order_reason r = order_to_doc(&spec, m.value, m.len, &meta, &doc, NULL, 0);
        ck_assert_msg(r == m.expect, "%s: got %s, want %s", order_gen_kind_name(m.kind),
                      order_reason_name(r), order_reason_name(m.expect));
    }
    ck_assert_int_eq(order_gen_expected(OG_BAD_NUL), ORDER_INVALID_UTF8);
    ck_assert_int_eq(order_gen_expected(OG_BAD_MISSING_CUSTOMER), ORDER_MISSING_PARTITION_KEY);
    order_gen_free(g);
}
END_TEST

START_TEST(test_bad_ratio_cycles_kinds)
{
    struct order_gen *g = gen_new(5, 0, 1.0, 0);
    for (int i = 0; i < 3 * OG_BAD_KINDS; i++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next(g, &m), 0);
        ck_assert_int_eq(m.kind, OG_BAD_FIRST + i % OG_BAD_KINDS);
        struct order_doc doc;
        ck_assert_int_eq(order_to_doc(&spec, m.value, m.len, &meta, &doc, NULL, 0), m.expect);
    }
    order_gen_free(g);
    /* About the requested fraction is bad. */
    g = gen_new(5, 0, 0.1, 0);
    int bad = 0;
    for (int i = 0; i < 10000; i++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next(g, &m), 0);
        bad += m.expect != ORDER_OK;
    }
    ck_assert(bad > 800 && bad < 1200);
    order_gen_free(g);
}
END_TEST

static unsigned customer_of(const struct order_msg *m)
{
    const char *p = strstr(m->value, "\"customerId\":\"cust-");
    ck_assert_ptr_nonnull(p);
    return (unsigned)strtoul(p + strlen("\"customerId\":\"cust-"), NULL, 10);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Frequency of customer 0 divided by the median customer's frequency over 100000 orders. */
static double skew_ratio(double skew)
{
    struct order_gen *g = gen_new(11, skew, 0, 0);
    int *hits = calloc(1000, sizeof(int)), *sorted = malloc(1000 * sizeof(int));
    ck_assert(hits && sorted);
    for (int i = 0; i < 100000; i++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next(g, &m), 0);
        unsigned c = customer_of(&m);
        ck_assert_uint_lt(c, 1000);
        hits[c]++;
    }
    memcpy(sorted, hits, 1000 * sizeof(int));
    qsort(sorted, 1000, sizeof(int), cmp_int);
    double ratio = (double)hits[0] / (sorted[500] ? sorted[500] : 1);
    free(hits);
    free(sorted);
    order_gen_free(g);
    return ratio;
}

START_TEST(test_zipf_skew)
{
    ck_assert(skew_ratio(1.0) > 50);
    double uniform = skew_ratio(0);
    ck_assert(uniform < 2 && uniform > 0.3);
}
END_TEST

START_TEST(test_updates_bump_version)
{
    struct order_gen *g = gen_new(13, 0, 0, 0.4);
    cJSON *seen = cJSON_CreateObject(); /* orderId -> [version, customerId, status] */
    ck_assert_ptr_nonnull(seen);
    int updates = 0;
    for (int i = 0; i < 3000; i++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next(g, &m), 0);
        cJSON *o = cJSON_ParseWithLength(m.value, m.len);
        ck_assert_ptr_nonnull(o);
        const char *id = cJSON_GetObjectItem(o, "orderId")->valuestring;
        int version = cJSON_GetObjectItem(o, "version")->valueint;
        const char *cust = cJSON_GetObjectItem(o, "customerId")->valuestring;
        const char *status = cJSON_GetObjectItem(o, "status")->valuestring;
        cJSON *prev = cJSON_GetObjectItem(seen, id);
        if (m.kind == OG_UPDATE) {
            updates++;
            ck_assert_msg(prev != NULL, "update of unseen order %s", id);
            ck_assert_int_eq(version, cJSON_GetArrayItem(prev, 0)->valueint + 1);
            ck_assert_str_eq(cust, cJSON_GetArrayItem(prev, 1)->valuestring);
            ck_assert_str_ne(status, cJSON_GetArrayItem(prev, 2)->valuestring);
            ck_assert_str_eq(m.key, cust);
        } else {
            ck_assert_ptr_null(prev);
            ck_assert_int_eq(version, 1);
        }
        cJSON *rec = cJSON_CreateArray();
        cJSON_AddItemToArray(rec, cJSON_CreateNumber(version));
        cJSON_AddItemToArray(rec, cJSON_CreateString(cust));
        cJSON_AddItemToArray(rec, cJSON_CreateString(status));
        if (prev)
            cJSON_ReplaceItemInObject(seen, id, rec);
        else
            cJSON_AddItemToObject(seen, id, rec);
        cJSON_Delete(o);
    }
    ck_assert(updates > 1000 && updates < 1400);
    cJSON_Delete(seen);
    order_gen_free(g);
}
END_TEST

START_TEST(test_key_by_order_and_bad_opts)
{
    struct order_gen_opts o = {.seed = 1, .fixed_time = 1, .customers = 5, .key_by_order = 1};
    char err[128];
    struct order_gen *g = order_gen_new(&o, err, sizeof(err));
    ck_assert_ptr_nonnull(g);
    struct order_msg m;
    ck_assert_int_eq(order_gen_next(g, &m), 0);
    char want[80];
    snprintf(want, sizeof(want), "\"orderId\":\"%.*s\"", (int)m.key_len, m.key);
    ck_assert_ptr_nonnull(strstr(m.value, want));
    order_gen_free(g);
    o.customers = 0;
    ck_assert_ptr_null(order_gen_new(&o, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "customers"));
    o.customers = 5;
    o.bad_ratio = 0.7;
    o.update_ratio = 0.5;
    ck_assert_ptr_null(order_gen_new(&o, err, sizeof(err)));
}
END_TEST

/* FNV-1a 64 over the bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* Digest of n messages' value, key, kind and sequence number for one option set. */
static uint64_t gen_digest(struct order_gen_opts o, int n)
{
    char err[128];
    struct order_gen *g = order_gen_new(&o, err, sizeof(err));
    ck_assert_msg(g != NULL, "%s", err);
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < n; i++) {
        struct order_msg m;
        ck_assert_int_eq(order_gen_next(g, &m), 0);
        uint64_t meta[3] = {m.kind, m.seq, m.len};
        h = fnv1a(h, meta, sizeof(meta));
        h = fnv1a(h, m.value, m.len);
        h = fnv1a(h, m.key, m.key_len);
    }
    order_gen_free(g);
    return h;
}

/* The bytes of the order format are pinned: these digests were taken from the printf-based
 * generator before the producer's fast path (commit 6caae9a); a change in any byte of any
 * kind (new, update, each malformed kind, padding, keys by customer or by order) fails here.
 * Change them only together with the docs and the tests that read the format. */
START_TEST(test_format_pinned)
{
    static const struct {
        struct order_gen_opts o;
        int n;
        uint64_t digest;
    } cases[] = {
        {{.seed = 11, .fixed_time = 1, .customers = 1000, .size = 512},
         5000,
         UINT64_C(0x6abef0200c0d06ea)},
        {{.seed = 1, .fixed_time = 1, .customers = 1000000, .size = 1024},
         5000,
         UINT64_C(0x86d1de3dfe90f292)},
        {{.seed = 7, .fixed_time = 1, .customers = 10000000, .bad_ratio = 0.3, .update_ratio = 0.3},
         5000,
         UINT64_C(0x4514f000889d63cf)},
        {{.seed = 3,
          .fixed_time = 1,
          .customers = 5000,
          .skew = 1.1,
          .size = 300,
          .key_by_order = 1,
          .update_ratio = 0.5},
         5000,
         UINT64_C(0x0f67d9e8588ce2a5)},
        {{.seed = UINT64_MAX, .fixed_time = 1, .customers = 1, .size = 4096, .bad_ratio = 1},
         500,
         UINT64_C(0x49f24815673787f4)},
    };
    int changed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t d = gen_digest(cases[i].o, cases[i].n);
        if (d != cases[i].digest) {
            fprintf(stderr, "order format changed: case %zu digest 0x%016llx\n", i,
                    (unsigned long long)d);
            changed++;
        }
    }
    ck_assert_int_eq(changed, 0);
}
END_TEST

static Suite *order_gen_suite(void)
{
    Suite *s = suite_create("order_gen");
    TCase *tc = tcase_create("generate");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_seed_same_bytes);
    tcase_add_test(tc, test_different_seed_differs);
    tcase_add_test(tc, test_valid_orders_parse_and_add_up);
    tcase_add_test(tc, test_created_at_from_seed);
    tcase_add_test(tc, test_size_padding);
    tcase_add_test(tc, test_bad_kinds_rejected);
    tcase_add_test(tc, test_bad_ratio_cycles_kinds);
    tcase_add_test(tc, test_zipf_skew);
    tcase_add_test(tc, test_updates_bump_version);
    tcase_add_test(tc, test_key_by_order_and_bad_opts);
    tcase_add_test(tc, test_format_pinned);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(order_gen_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
