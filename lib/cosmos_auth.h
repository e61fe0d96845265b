/*
 * cosmos_auth: Cosmos DB master-key request signing (type=master, ver=1.0) and the RFC 1123
 * x-ms-date it signs. Pure functions over OpenSSL's HMAC-SHA256 and base64.
 */
#ifndef ORDERSINK_COSMOS_AUTH_H
#define ORDERSINK_COSMOS_AUTH_H

#include <stddef.h>
#include <time.h>

#define COSMOS_KEY_MAX 128
#define COSMOS_AUTH_MAX 256
#define COSMOS_DATE_MAX 40

/* Decodes the base64 master key into out (COSMOS_KEY_MAX bytes). Returns its length or -1. */
int cosmos_key_decode(const char *key_b64, unsigned char *out);

/* Formats t as an RFC 1123 date ("Thu, 27 Apr 2017 00:51:12 GMT"). */
void cosmos_http_date(time_t t, char out[COSMOS_DATE_MAX]);

/*
 * Writes the URL-encoded Authorization header value for one request into out
 * (COSMOS_AUTH_MAX bytes): verb and resource type are lower-cased, resource_link is used as
 * given (ids in their case, no leading/trailing slash), date is the x-ms-date value.
 * Returns 0, or -1 on an OpenSSL failure.
 */
int cosmos_auth_header(const unsigned char *key, size_t key_len, const char *verb,
                       const char *resource_type, const char *resource_link, const char *date,
                       char out[COSMOS_AUTH_MAX]);

#endif
