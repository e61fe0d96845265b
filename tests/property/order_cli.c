/*
 * order_cli: runs lib/order's order_to_doc over messages read from stdin, for the property
 * test tests/property/test_order_values.py. Input: records of a 4-byte big-endian length, the
 * id field name, a 4-byte length, the key path, a 4-byte length and the message bytes. Output,
 * a line per record: reason, then the hex of the id, the partition key header and the body
 * (empty when the order was refused), tab-separated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* Reads one length-prefixed field into a malloc'd, NUL-terminated buffer. */
static char *read_field(size_t *len)
{
    unsigned char hdr[4];
    if (fread(hdr, 1, 4, stdin) != 4)
        return NULL;
    *len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    char *buf = malloc(*len + 1);
    if (!buf || fread(buf, 1, *len, stdin) != *len) {
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static void put_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", (unsigned char)s[i]);
}

int main(void)
{
    size_t n1, n2, n3;
    char *id_field, *path, *msg;
    while ((id_field = read_field(&n1)) && (path = read_field(&n2)) && (msg = read_field(&n3))) {
        /* EPK V2 as on most containers: the hashing runs on every generated key too. */
        struct order_spec spec = {
            .id_field = id_field, .partition_key_path = path, .epk_version = 2};
        struct order_meta meta = {"orders", 1, 7, 1700000000000};
        struct order_doc doc;
        char detail[256];
        enum order_reason r = order_to_doc(&spec, msg, n3, &meta, &doc, detail, sizeof(detail));
        printf("%s\t", order_reason_name(r));
        if (r == ORDER_OK) {
            put_hex(doc.id, strlen(doc.id));
            putchar('\t');
            put_hex(doc.pk_json, strlen(doc.pk_json));
            putchar('\t');
            put_hex(doc.body, doc.body_len);
            order_doc_free(&doc);
        } else {
            printf("\t\t");
        }
        putchar('\n');
        free(id_field);
        free(path);
        free(msg);
    }
    order_thread_cleanup();
    return 0;
}
