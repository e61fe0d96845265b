/*
 * cosmos_auth: sig = base64(HMAC-SHA256(key, lower(verb)\nlower(type)\nlink\nlower(date)\n\n)),
 * header = urlencode("type=master&ver=1.0&sig=" sig). See ../shared/RIG.md for vectors.
 */
#include "cosmos_auth.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int cosmos_key_decode(const char *key_b64, unsigned char *out)
{
    size_t len = strlen(key_b64);
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > COSMOS_KEY_MAX)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)key_b64, (int)len);
    if (n <= 0)
        return -1;
    /* EVP_DecodeBlock counts the padding as zero bytes; drop them. */
    for (size_t i = len; i > 0 && key_b64[i - 1] == '='; i--)
        n--;
    return n;
}

void cosmos_http_date(time_t t, char out[COSMOS_DATE_MAX])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    /* Names spelled out here: strftime's %a/%b follow the locale. */
    snprintf(out, COSMOS_DATE_MAX, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void cosmos_lower_into(char *dst, const char *src)
{
    while (*src)
        *dst++ = (char)tolower((unsigned char)*src++);
    *dst = '\0';
}

/* URL-encodes in into out with libcurl; hex digits lower-cased as Microsoft's examples show. */
static int cosmos_urlencode(const char *in, char *out, size_t size)
{
    char *esc = curl_easy_escape(NULL, in, 0);
    if (!esc || strlen(esc) >= size) {
        curl_free(esc);
        return -1;
    }
    for (size_t i = 0; esc[i]; i++)
        out[i] = (char)(i >= 1 && esc[i - 1] == '%'   ? tolower((unsigned char)esc[i])
                        : i >= 2 && esc[i - 2] == '%' ? tolower((unsigned char)esc[i])
                                                      : esc[i]);
    out[strlen(esc)] = '\0';
    curl_free(esc);
    return 0;
}

int cosmos_auth_header(const unsigned char *key, size_t key_len, const char *verb,
                       const char *resource_type, const char *resource_link, const char *date,
                       char out[COSMOS_AUTH_MAX])
{
    char lverb[16], ltype[32], ldate[COSMOS_DATE_MAX];
    if (strlen(verb) >= sizeof(lverb) || strlen(resource_type) >= sizeof(ltype) ||
        strlen(date) >= sizeof(ldate))
        return -1;
    cosmos_lower_into(lverb, verb);
    cosmos_lower_into(ltype, resource_type);
    cosmos_lower_into(ldate, date);
    char payload[1024];
    int plen = snprintf(payload, sizeof(payload), "%s\n%s\n%s\n%s\n\n", lverb, ltype, resource_link,
                        ldate);
    if (plen < 0 || (size_t)plen >= sizeof(payload))
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)payload, (size_t)plen, mac,
              &mac_len))
        return -1;
    char sig[64];
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)mac_len);
    char plain[128];
    snprintf(plain, sizeof(plain), "type=master&ver=1.0&sig=%s", sig);
    return cosmos_urlencode(plain, out, COSMOS_AUTH_MAX);
}
