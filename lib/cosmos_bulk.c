/*
 * cosmos_bulk: batch request bodies and batch answers. The document bodies are sent
 * verbatim (they are already serialised by lib/order), by reference: a body is a list of
 * pieces (cosmos_gather) that curl reads straight into its upload buffer. Only the partition
 * key needs JSON string escaping, because the batch format carries it as a string holding a
 * JSON array.
 * Answers are tokenized by lib/json_scan (strict RFC 8259, no allocation).
 */
#include "cosmos_bulk.h"

#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "json_str.h"

void cosmos_buf_free(struct cosmos_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

size_t cosmos_bulk_op_size_of(const struct cosmos_bulk_op *op)
{
    /* Worst case every pk and etag character is escaped, every id byte becomes \uXXXX; plus
     * the member names, the frame and the comma. */
    size_t n = 128 + 2 * strlen(op->pk_json) + (op->body ? op->body_len : 0);
    if (op->type == COSMOS_OP_READ || op->type == COSMOS_OP_REPLACE)
        n += JSTR_ENCODED_MAX(strlen(op->id));
    if (op->if_match)
        n += 16 + 2 * strlen(op->if_match);
    return n;
}

size_t cosmos_bulk_op_size(const char *pk_json, size_t body_len)
{
    struct cosmos_bulk_op op = {COSMOS_OP_UPSERT, NULL, pk_json, "", body_len, NULL};
    return cosmos_bulk_op_size_of(&op);
}

/* Makes room for n more bytes (and a NUL) in b. Returns 0, or -1 when out of memory. */
static int cosmos_buf_reserve(struct cosmos_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* Appends n bytes to b, which has room for them (cosmos_buf_reserve). */
static void cosmos_buf_put(struct cosmos_buf *b, const char *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

int cosmos_buf_append(struct cosmos_buf *b, const char *s, size_t n)
{
    if (cosmos_buf_reserve(b, n) != 0)
        return -1;
    cosmos_buf_put(b, s, n);
    b->data[b->len] = '\0';
    return 0;
}

#define COSMOS_PUT_LIT(b, lit) cosmos_buf_put(b, lit, sizeof(lit) - 1)

/* Appends s as the inside of a JSON string: only '"' and '\\' can occur in a pk_json or an
 * etag (printable ASCII). b has room for twice its length. */
static void cosmos_bulk_escape(struct cosmos_buf *b, const char *s)
{
    char *out = b->data + b->len;
    for (; *s; s++) {
        *out = '\\'; /* kept only before a quote or a backslash */
        out += *s == '"' || *s == '\\';
        *out++ = *s;
    }
    b->len = (size_t)(out - b->data);
}

/* Appends the id as a JSON string literal; b has room for JSTR_ENCODED_MAX of its length. */
static int cosmos_bulk_id(struct cosmos_buf *b, const char *id)
{
    size_t len = jstr_encode_ascii(id, strlen(id), b->data + b->len);
    b->len += len;
    return len ? 0 : -1;
}

/* Closes the frame piece that began at frames offset from (if it holds anything). */
static void cosmos_gather_frame(struct cosmos_gather *g, size_t from)
{
    if (g->frames.len > from)
        g->pieces[g->npieces++] = (struct cosmos_piece){NULL, from, g->frames.len - from};
}

/* Appends one operation to g: its members into the frames, its body as a piece of its own;
 * *from is where the open frame piece begins. Room is made first (cosmos_bulk_op_size_of
 * bounds it). */
static int cosmos_bulk_op(struct cosmos_gather *g, const struct cosmos_bulk_op *op, size_t *from)
{
    static const char *const type_fields[] = {
        "{\"operationType\":\"Upsert\"", "{\"operationType\":\"Create\"",
        "{\"operationType\":\"Read\"", "{\"operationType\":\"Replace\""};
    struct cosmos_buf *out = &g->frames;
    int has_id = op->type == COSMOS_OP_READ || op->type == COSMOS_OP_REPLACE;
    if (cosmos_buf_reserve(out, cosmos_bulk_op_size_of(op)) != 0)
        return -1;
    cosmos_buf_put(out, type_fields[op->type], strlen(type_fields[op->type]));
    if (has_id) {
        COSMOS_PUT_LIT(out, ",\"id\":");
        if (cosmos_bulk_id(out, op->id) != 0)
            return -1;
    }
    COSMOS_PUT_LIT(out, ",\"partitionKey\":\"");
    cosmos_bulk_escape(out, op->pk_json);
    COSMOS_PUT_LIT(out, "\"");
    if (op->if_match) {
        COSMOS_PUT_LIT(out, ",\"ifMatch\":\"");
        cosmos_bulk_escape(out, op->if_match);
        COSMOS_PUT_LIT(out, "\"");
    }
    /* As the Java SDK sends it with content-on-write off: no document echoed back. */
    if (op->type != COSMOS_OP_READ) {
        COSMOS_PUT_LIT(out, ",\"minimalReturnPreference\":true,\"resourceBody\":");
        cosmos_gather_frame(g, *from);
        if (op->body_len)
            g->pieces[g->npieces++] = (struct cosmos_piece){op->body, 0, op->body_len};
        *from = out->len;
    }
    COSMOS_PUT_LIT(out, "}");
    out->data[out->len] = '\0';
    return 0;
}

int cosmos_bulk_ops_gather(struct cosmos_gather *g, const struct cosmos_bulk_op *ops, size_t n)
{
    if (n > COSMOS_BULK_MAX_OPS)
        return -1;
    if (!g->pieces && !(g->pieces = malloc((2 * COSMOS_BULK_MAX_OPS + 1) * sizeof(*g->pieces))))
        return -1;
    g->frames.len = 0;
    g->npieces = 0;
    g->at = g->at_off = 0;
    size_t from = 0;
    if (cosmos_buf_append(&g->frames, "[", 1))
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((i && cosmos_buf_append(&g->frames, ",", 1)) || cosmos_bulk_op(g, &ops[i], &from))
            return -1;
    if (cosmos_buf_append(&g->frames, "]", 1))
        return -1;
    cosmos_gather_frame(g, from);
    g->total = 0;
    for (size_t k = 0; k < g->npieces; k++)
        g->total += g->pieces[k].len;
    return 0;
}

size_t cosmos_gather_read(struct cosmos_gather *g, char *out, size_t cap)
{
    size_t done = 0;
    while (done < cap && g->at < g->npieces) {
        const struct cosmos_piece *p = &g->pieces[g->at];
        const char *src = (p->ext ? p->ext : g->frames.data + p->off) + g->at_off;
        size_t n = p->len - g->at_off;
        if (n > cap - done)
            n = cap - done;
        memcpy(out + done, src, n);
        done += n;
        g->at_off += n;
        if (g->at_off == p->len) {
            g->at++;
            g->at_off = 0;
        }
    }
    return done;
}

int cosmos_gather_seek(struct cosmos_gather *g, size_t offset)
{
    if (offset > g->total)
        return -1;
    g->at = 0;
    while (g->at < g->npieces && offset >= g->pieces[g->at].len)
        offset -= g->pieces[g->at++].len;
    g->at_off = offset;
    return 0;
}

void cosmos_gather_free(struct cosmos_gather *g)
{
    cosmos_buf_free(&g->frames);
    free(g->pieces);
    memset(g, 0, sizeof(*g));
}

int cosmos_bulk_ops_body(struct cosmos_buf *out, const struct cosmos_bulk_op *ops, size_t n)
{
    struct cosmos_gather g = {0};
    int r = cosmos_bulk_ops_gather(&g, ops, n);
    out->len = 0;
    if (r == 0 && cosmos_buf_reserve(out, g.total) == 0) {
        out->len = cosmos_gather_read(&g, out->data, g.total);
        out->data[out->len] = '\0';
    } else {
        r = -1;
    }
    cosmos_gather_free(&g);
    return r;
}

int cosmos_bulk_body(struct cosmos_buf *out, const char *const *pk_json, const char *const *bodies,
                     const size_t *body_lens, size_t n)
{
    struct cosmos_bulk_op ops[COSMOS_BULK_MAX_OPS];
    if (n > COSMOS_BULK_MAX_OPS)
        return -1;
    for (size_t i = 0; i < n; i++)
        ops[i] = (struct cosmos_bulk_op){COSMOS_OP_UPSERT, NULL,         pk_json[i],
                                         bodies[i],        body_lens[i], NULL};
    return cosmos_bulk_ops_body(out, ops, n);
}

void cosmos_tokens_free(struct cosmos_tokens *t)
{
    free(t->tok);
    t->tok = NULL;
    t->cap = 0;
}

/* Tokenizes body into scratch, growing it. Returns the token count, or -1. */
static int cosmos_tokenize(const char *body, size_t len, struct cosmos_tokens *scratch)
{
    for (;;) {
        if (!scratch->tok || scratch->cap == 0) {
            scratch->tok = malloc(1024 * sizeof(jsmntok_t));
            if (!scratch->tok)
                return -1;
            scratch->cap = 1024;
        }
        int r = jscan_parse(body, len, scratch->tok, scratch->cap);
        if (r != JSCAN_NOMEM)
            return r < 0 ? -1 : r;
        if (scratch->cap >= (1u << 24))
            return -1;
        void *grown = realloc(scratch->tok, 2 * scratch->cap * sizeof(jsmntok_t));
        if (!grown)
            return -1;
        scratch->tok = grown;
        scratch->cap *= 2;
    }
}

/* The integer value of primitive token t, or -1 when it is not a plain number in range. */
static long cosmos_tok_long(const char *body, const jsmntok_t *t, long max)
{
    char num[24];
    int len = t->end - t->start;
    if (t->type != JSMN_PRIMITIVE || len <= 0 || len >= (int)sizeof(num))
        return -1;
    if (len <= 9) { /* digits only (the usual answer): read without strtod */
        long v = 0;
        int i = 0;
        while (i < len && body[t->start + i] >= '0' && body[t->start + i] <= '9')
            v = v * 10 + (body[t->start + i++] - '0');
        if (i == len)
            return v > max ? -1 : v;
    }
    memcpy(num, body + t->start, (size_t)len);
    num[len] = '\0';
    char *end;
    double v = strtod(num, &end);
    return *end || v < 0 || v > (double)max ? -1 : (long)v;
}

static int cosmos_tok_is(const char *body, const jsmntok_t *t, const char *key, size_t n)
{
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           memcmp(body + t->start, key, n) == 0;
}

/* cosmos_tok_is with a literal key (its length known at compile time). */
#define COSMOS_TOK_IS(body, t, lit) cosmos_tok_is(body, t, lit, sizeof(lit) - 1)

int cosmos_bulk_parse(const char *body, size_t len, struct cosmos_op_result *out, size_t n,
                      struct cosmos_tokens *scratch)
{
    int ntok = body && len ? cosmos_tokenize(body, len, scratch) : -1;
    const jsmntok_t *t = scratch->tok;
    if (ntok < 1 || t[0].type != JSMN_ARRAY || (size_t)t[0].size != n)
        return -1;
    int i = 1;
    for (size_t k = 0; k < n; k++) {
        if (i >= ntok || t[i].type != JSMN_OBJECT)
            return -1;
        int members = t[i].size;
        long status = -1, substatus = 0, retry_after = -1;
        size_t doc_off = 0, doc_len = 0;
        i++;
        for (int m = 0; m < members; m++) {
            if (i + 1 >= ntok)
                return -1;
            const jsmntok_t *key = &t[i], *val = &t[i + 1];
            if (COSMOS_TOK_IS(body, key, "statusCode"))
                status = cosmos_tok_long(body, val, 599);
            else if (COSMOS_TOK_IS(body, key, "subStatusCode"))
                substatus = cosmos_tok_long(body, val, 1000000);
            else if (COSMOS_TOK_IS(body, key, "retryAfterMilliseconds"))
                retry_after = cosmos_tok_long(body, val, 3600000);
            else if (COSMOS_TOK_IS(body, key, "resourceBody") && val->type == JSMN_OBJECT) {
                doc_off = (size_t)val->start;
                doc_len = (size_t)(val->end - val->start);
            }
            /* Skip the value and everything inside it. */
            i += 2;
            while (i < ntok && t[i].start < val->end)
                i++;
        }
        if (status < 100)
            return -1;
        out[k].status = (int)status;
        out[k].substatus = substatus < 0 ? 0 : (int)substatus;
        out[k].retry_after_ms = retry_after;
        out[k].doc_off = doc_off;
        out[k].doc_len = doc_len;
    }
    return 0;
}
