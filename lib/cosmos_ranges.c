/*
 * cosmos_ranges: the range map as the SDKs keep it (JS PartitionKeyRangeCache /
 * InMemoryCollectionRoutingMap, .NET CollectionRoutingMap): ranges named as parents of others
 * are gone (split), the rest sorted by minInclusive must tile "" .. "FF"; an EPK belongs to
 * the range with minInclusive <= EPK < maxExclusive, compared as strings.
 */
#include "cosmos_ranges.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPK_MIN ""
#define EPK_MAX "FF"

static void set_err(char *err, size_t size, const char *fmt, ...)
{
    if (!err || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

void ranges_init(struct ranges_map *m)
{
    memset(m, 0, sizeof *m);
}

static void range_free(struct ranges_range *r)
{
    free(r->id);
    free(r->min);
    free(r->max);
    for (size_t i = 0; i < r->nparents; i++)
        free(r->parents[i]);
    free(r->parents);
    memset(r, 0, sizeof *r);
}

void ranges_free(struct ranges_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        range_free(&m->r[i]);
    free(m->r);
    ranges_init(m);
}

/* An EPK boundary: upper-case hex of whole bytes ("" and "FF" included). */
static int is_boundary(const char *s)
{
    size_t n = strspn(s, "0123456789ABCDEF");
    return s[n] == '\0' && n % 2 == 0;
}

/* The string member name of item, or NULL. */
static const char *str_member(const cJSON *item, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_parents(const cJSON *item, struct ranges_range *out, size_t idx, char *err,
                         size_t err_size)
{
    const cJSON *parents = cJSON_GetObjectItemCaseSensitive(item, "parents");
    if (!parents || cJSON_IsNull(parents))
        return 0;
    if (!cJSON_IsArray(parents)) {
        set_err(err, err_size, "pkranges: range %zu: parents is not an array", idx);
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(parents);
    if (n == 0)
        return 0;
    out->parents = calloc(n, sizeof *out->parents);
    if (!out->parents) {
        set_err(err, err_size, "pkranges: out of memory");
        return -1;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, parents)
    {
        if (!cJSON_IsString(p)) {
            set_err(err, err_size, "pkranges: range %zu: a parent is not a string", idx);
            return -1;
        }
        if (!(out->parents[out->nparents] = strdup(p->valuestring))) {
            set_err(err, err_size, "pkranges: out of memory");
            return -1;
        }
        out->nparents++;
    }
    return 0;
}

/* Fills out from one element of PartitionKeyRanges; on -1 out may hold partial copies. */
static int parse_range(const cJSON *item, struct ranges_range *out, size_t idx, char *err,
                       size_t err_size)
{
    int obj = cJSON_IsObject(item);
    const char *id = obj ? str_member(item, "id") : NULL;
    const char *min = obj ? str_member(item, "minInclusive") : NULL;
    const char *max = obj ? str_member(item, "maxExclusive") : NULL;
    if (!id || !*id || !min || !max) {
        set_err(err, err_size, "pkranges: range %zu lacks id, minInclusive or maxExclusive", idx);
        return -1;
    }
    if (!is_boundary(min) || !is_boundary(max)) {
        set_err(err, err_size, "pkranges: range %s: boundary is not upper-case hex", id);
        return -1;
    }
    out->id = strdup(id);
    out->min = strdup(min);
    out->max = strdup(max);
    if (!out->id || !out->min || !out->max) {
        set_err(err, err_size, "pkranges: out of memory");
        return -1;
    }
    return parse_parents(item, out, idx, err, err_size);
}

int ranges_add_page(struct ranges_map *m, const char *body, size_t len, char *err, size_t err_size)
{
    if (m->finished) {
        set_err(err, err_size, "pkranges: map already finished");
        return -1;
    }
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *list =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "PartitionKeyRanges") : NULL;
    if (!cJSON_IsArray(list)) {
        set_err(err, err_size, "pkranges: answer is not {\"PartitionKeyRanges\":[...]}");
        cJSON_Delete(root);
        return -1;
    }
    size_t count = (size_t)cJSON_GetArraySize(list);
    if (m->n + count > m->cap) {
        size_t cap = m->cap ? m->cap : 8;
        while (cap < m->n + count)
            cap *= 2;
        struct ranges_range *r = realloc(m->r, cap * sizeof *r);
        if (!r) {
            set_err(err, err_size, "pkranges: out of memory");
            cJSON_Delete(root);
            return -1;
        }
        m->r = r;
        m->cap = cap;
    }
    size_t added = 0;
    const cJSON *item;
    int rc = 0;
    cJSON_ArrayForEach(item, list)
    {
        struct ranges_range *r = &m->r[m->n + added];
        memset(r, 0, sizeof *r);
        if (parse_range(item, r, m->n + added, err, err_size) != 0) {
            range_free(r);
            rc = -1;
            break;
        }
        added++;
    }
    if (rc != 0)
        while (added > 0)
            range_free(&m->r[m->n + --added]);
    m->n += added;
    cJSON_Delete(root);
    return rc;
}

struct parent_ref {
    const char *id;
    size_t owner;
};

static int cmp_parent(const void *a, const void *b)
{
    return strcmp(((const struct parent_ref *)a)->id, ((const struct parent_ref *)b)->id);
}

static int cmp_min(const void *a, const void *b)
{
    return strcmp(((const struct ranges_range *)a)->min, ((const struct ranges_range *)b)->min);
}

/* 1 if id is a parent of a range other than self. refs[0..n) sorted by id. */
static int is_parent(const struct parent_ref *refs, size_t n, const char *id, size_t self)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first ref with ref.id >= id */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && strcmp(refs[lo].id, id) == 0; lo++)
        if (refs[lo].owner != self)
            return 1;
    return 0;
}

/* Drops the ranges named as another range's parent. */
static int drop_parents(struct ranges_map *m, char *err, size_t err_size)
{
    size_t nrefs = 0;
    for (size_t i = 0; i < m->n; i++)
        nrefs += m->r[i].nparents;
    if (nrefs == 0)
        return 0;
    struct parent_ref *refs = malloc(nrefs * sizeof *refs);
    char *drop = calloc(m->n, 1);
    if (!refs || !drop) {
        free(refs);
        free(drop);
        set_err(err, err_size, "pkranges: out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->r[i].nparents; j++)
            refs[k++] = (struct parent_ref){m->r[i].parents[j], i};
    qsort(refs, nrefs, sizeof *refs, cmp_parent);
    for (size_t i = 0; i < m->n; i++)
        drop[i] = (char)is_parent(refs, nrefs, m->r[i].id, i);
    free(refs); /* points into the ranges: freed before any range is */
    size_t kept = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (drop[i])
            range_free(&m->r[i]);
        else
            m->r[kept++] = m->r[i];
    }
    m->n = kept;
    free(drop);
    return 0;
}

int ranges_finish(struct ranges_map *m, char *err, size_t err_size)
{
    if (m->finished)
        return 0;
    if (drop_parents(m, err, err_size) != 0)
        return -1;
    if (m->n == 0) {
        set_err(err, err_size, "pkranges: no partition key ranges");
        return -1;
    }
    qsort(m->r, m->n, sizeof *m->r, cmp_min);
    if (strcmp(m->r[0].min, EPK_MIN) != 0) {
        set_err(err, err_size, "pkranges: gap: nothing covers \"\" .. \"%s\"", m->r[0].min);
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct ranges_range *r = &m->r[i];
        if (strcmp(r->min, r->max) >= 0) {
            set_err(err, err_size, "pkranges: range %s is empty (\"%s\" .. \"%s\")", r->id, r->min,
                    r->max);
            return -1;
        }
        if (i == 0)
            continue;
        int c = strcmp(r->min, m->r[i - 1].max);
        if (c != 0) {
            set_err(err, err_size,
                    "pkranges: %s between range %s (to \"%s\") and range %s (from \"%s\")",
                    c < 0 ? "overlap" : "gap", m->r[i - 1].id, m->r[i - 1].max, r->id, r->min);
            return -1;
        }
    }
    if (strcmp(m->r[m->n - 1].max, EPK_MAX) != 0) {
        set_err(err, err_size, "pkranges: the last range %s ends at \"%s\", not \"FF\"",
                m->r[m->n - 1].id, m->r[m->n - 1].max);
        return -1;
    }
    m->finished = 1;
    return 0;
}

const struct ranges_range *ranges_find(const struct ranges_map *m, const char *epk_hex)
{
    if (!m->finished || !epk_hex)
        return NULL;
    size_t lo = 0, hi = m->n; /* first range with min > epk */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->r[mid].min, epk_hex) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct ranges_range *r = &m->r[lo - 1];
    return strcmp(epk_hex, r->max) < 0 ? r : NULL;
}
