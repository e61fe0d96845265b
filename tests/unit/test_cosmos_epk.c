/* Unit tests for lib/cosmos_epk: MurmurHash3 and the EPK of every known answer in RIG.md (JS
 * SDK v1.spec.ts / v2.spec.ts, Java PartitionKeyHashingTests), plus strings the SDKs have no
 * vectors for (NUL bytes, non-ASCII, cut points). */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_epk.h"

#define STR(s) ((struct epk_component){.type = EPK_STRING, .str = (s), .len = sizeof(s) - 1})
#define NUM(x) ((struct epk_component){.type = EPK_NUMBER, .number = (x)})
#define TYPE(t) ((struct epk_component){.type = (t)})

static char *epk(enum epk_version v, int multihash, const struct epk_component *parts, size_t n)
{
    static char out[EPK_HEX_SIZE];
    ck_assert_int_eq(epk_compute(v, multihash, parts, n, out, sizeof out), 0);
    return out;
}

static char *v1(struct epk_component c)
{
    return epk(EPK_V1, 0, &c, 1);
}

static char *v2(struct epk_component c)
{
    return epk(EPK_V2, 0, &c, 1);
}

static struct epk_component repeated(char ch, size_t n, char *buf)
{
    memset(buf, ch, n);
    return (struct epk_component){.type = EPK_STRING, .str = buf, .len = n};
}

START_TEST(test_murmur3_32_known_answers)
{
    /* Published test vectors of the reference implementation. */
    ck_assert_uint_eq(epk_murmur3_32("", 0, 0), 0);
    ck_assert_uint_eq(epk_murmur3_32("", 0, 1), 0x514E28B7);
    ck_assert_uint_eq(epk_murmur3_32("", 0, 0xffffffff), 0x81F16F39);
    ck_assert_uint_eq(epk_murmur3_32("\0\0\0\0", 4, 0), 0x2362F9DE);
    ck_assert_uint_eq(epk_murmur3_32("a", 1, 0x9747b28c), 0x7FA09EA6);
    ck_assert_uint_eq(epk_murmur3_32("ab", 2, 0x9747b28c), 0x74875592);
    ck_assert_uint_eq(epk_murmur3_32("abc", 3, 0x9747b28c), 0xC84A62DD);
    ck_assert_uint_eq(epk_murmur3_32("abcd", 4, 0x9747b28c), 0xF0478627);
    ck_assert_uint_eq(epk_murmur3_32("aaaa", 4, 0x9747b28c), 0x5A97808A);
    ck_assert_uint_eq(epk_murmur3_32("Hello, world!", 13, 0x9747b28c), 0x24884CBA);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    ck_assert_uint_eq(epk_murmur3_32(fox, strlen(fox), 0x9747b28c), 0x2FA826CD);
}
END_TEST

START_TEST(test_murmur3_128_known_answers)
{
    uint8_t h[16];
    /* mmh3.hash_bytes("foo") */
    epk_murmur3_128("foo", 3, 0, h);
    ck_assert_mem_eq(h, "aE\xf5\x01W\x86q\xe2\x87}\xba+\xe4\x87\xaf~", 16);
    /* Guava murmur3_128 of the fox: 6c1b07bc7bbc4be347939ac4a93c437a (tail of 11 bytes) */
    const char *fox = "The quick brown fox jumps over the lazy dog";
    epk_murmur3_128(fox, strlen(fox), 0, h);
    ck_assert_mem_eq(h, "\x6c\x1b\x07\xbc\x7b\xbc\x4b\xe3\x47\x93\x9a\xc4\xa9\x3c\x43\x7a", 16);
    epk_murmur3_128("", 0, 0, h);
    ck_assert_mem_eq(h, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
}
END_TEST

START_TEST(test_v1_known_answers)
{
    char buf[1024];
    ck_assert_str_eq(v1(STR("")), "05C1CF33970FF80800");
    ck_assert_str_eq(v1(STR("partitionKey")), "05C1E1B3D9CD2608716273756A756A706F4C667A00");
    ck_assert_str_eq(v1(STR("redmond")), "05C1EFE313830C087366656E706F6500");
    ck_assert_str_eq(v1(STR("aa")), "05C1C7B7270FE008626200");
    char want[8 * 2 + 200 + 3];
    strcpy(want, "05C1EB5921F70608");
    for (int i = 0; i < 100; i++)
        strcat(want, "62");
    strcat(want, "00");
    ck_assert_str_eq(v1(repeated('a', 110, buf)), want);
    ck_assert_str_eq(v1(repeated('a', 1024, buf)), want);
    ck_assert_str_eq(v1(TYPE(EPK_NULL)), "05C1ED45D7475601");
    ck_assert_str_eq(v1(TYPE(EPK_UNDEFINED)), "05C1D529E345DC00");
    ck_assert_str_eq(v1(TYPE(EPK_TRUE)), "05C1D7C5A903D803");
    ck_assert_str_eq(v1(TYPE(EPK_FALSE)), "05C1DB857D857C02");
    ck_assert_str_eq(v1(NUM(5)), "05C1D9C1C5517C05C014");
    ck_assert_str_eq(v1(NUM(5.5)), "05C1D7A771716C05C016");
    ck_assert_str_eq(v1(NUM(12313.1221)), "05C1ED154D592E05C0C90723F50FC925D8");
    ck_assert_str_eq(v1(NUM(123456789)), "05C1D9E1A5311C05C19DB7CD8B40");
    ck_assert_str_eq(v1(NUM(-128)), "05C1D73349F54C053FA0");
    ck_assert_str_eq(v1(NUM(2147483647)), "05C1E1F503DFB205C1DFFFFFFFFC");
    /* Java PartitionKeyHashingTests, as quoted by the Rust SDK's tests */
    ck_assert_str_eq(v1(NUM(127)), "05C1DD539DDFCC05C05FE0");
    ck_assert_str_eq(v1(NUM(-9223372036854775808.0)), "05C1DB35F33D1C053C20");
    ck_assert_str_eq(v1(NUM(9223372036854775807.0)), "05C1B799AB2DD005C3E0");
    ck_assert_str_eq(v1(NUM(-2147483648.0)), "05C1DFBF252BCC053E20");
    ck_assert_str_eq(v1(NUM(4.9406564584124654e-324)), "05C1E5C91F4D3005800101010101010102");
    ck_assert_str_eq(v1(NUM(1.7976931348623157e308)), "05C1CBE367C53005FFEFFFFFFFFFFFFFFE");
}
END_TEST

START_TEST(test_v2_known_answers)
{
    char buf[1024];
    ck_assert_str_eq(v2(STR("")), "32E9366E637A71B4E710384B2F4970A0");
    ck_assert_str_eq(v2(STR("partitionKey")), "013AEFCF77FA271571CF665A58C933F1");
    ck_assert_str_eq(v2(STR("redmond")), "22E342F38A486A088463DFF7838A5963");
    ck_assert_str_eq(v2(STR("aa")), "05033626483AE80D00E44FBD35362B19");
    ck_assert_str_eq(v2(repeated('a', 110, buf)), "0BA3E9CA8EE4C14538828D1612A4B652");
    ck_assert_str_eq(v2(repeated('a', 1024, buf)), "332BDF5512AE49615F32C7D98C2DB86C");
    ck_assert_str_eq(v2(TYPE(EPK_NULL)), "378867E4430E67857ACE5C908374FE16");
    ck_assert_str_eq(v2(TYPE(EPK_UNDEFINED)), "11622DAA78F835834610ABE56EFF5CB5");
    ck_assert_str_eq(v2(TYPE(EPK_TRUE)), "0E711127C5B5A8E4726AC6DD306A3E59");
    ck_assert_str_eq(v2(TYPE(EPK_FALSE)), "2FE1BE91E90A3439635E0E9E37361EF2");
    ck_assert_str_eq(v2(NUM(5)), "19C08621B135968252FB34B4CF66F811");
    ck_assert_str_eq(v2(NUM(5.5)), "0E2EE47829D1AF775EEFB6540FD1D0ED");
    ck_assert_str_eq(v2(NUM(12313.1221)), "27E7ECA8F2EE3E53424DE8D5220631C6");
    ck_assert_str_eq(v2(NUM(123456789)), "1F56D2538088EBA82CCF988F36E16760");
    ck_assert_str_eq(v2(NUM(-128)), "01DAEDABF913540367FE219B2AD06148");
    ck_assert_str_eq(v2(NUM(2147483647)), "2D9349D64712AEB5EB1406E2F0BE2725");
    /* Java PartitionKeyHashingTests, as quoted by the Rust SDK's tests */
    ck_assert_str_eq(v2(STR("customer42")), "19819C94CE42A1654CCC8110539D9589");
    ck_assert_str_eq(v2(NUM(127)), "0C507ACAC853ECA7977BF4CEFB562A25");
    ck_assert_str_eq(v2(NUM(-9223372036854775808.0)), "23D5C6395512BDFEAFADAD15328AD2BB");
    ck_assert_str_eq(v2(NUM(9223372036854775807.0)), "2EDB959178DFCCA18983F89384D1629B");
    ck_assert_str_eq(v2(NUM(-2147483648.0)), "0B1660D5233C3171725B30D4A5F4CC1F");
    ck_assert_str_eq(v2(NUM(4.9406564584124654e-324)), "0E6CBA63A280927DE485DEF865800139");
    ck_assert_str_eq(v2(NUM(1.7976931348623157e308)), "31424D996457102634591FF245DBCC4D");
    ck_assert_str_eq(v2(NUM(5.12312419050912359123)), "0EF2E2D82460884AF0F6440BE4F726A8");
}
END_TEST

START_TEST(test_v2_components_hashed_together)
{
    /* JS v2.spec.ts: hashV2PartitionKey of an 8-value key hashes the values' encodings
     * together into one 32-digit EPK (RIG.md lists it as "MultiHash"; it is not). */
    struct epk_component all[] = {STR("redmond"),  NUM(50),        NUM(5.5), TYPE(EPK_TRUE),
                                  TYPE(EPK_FALSE), TYPE(EPK_NULL), STR(""),  NUM(12313.1221)};
    ck_assert_str_eq(epk(EPK_V2, 0, all, 8), "1A5E512F591E980E07A6D8AD5BD5AB2F");
    /* Java, as quoted by the Rust SDK's tests */
    struct epk_component four[] = {NUM(5), STR("redmond"), TYPE(EPK_TRUE), TYPE(EPK_NULL)};
    ck_assert_str_eq(epk(EPK_V2, 0, four, 4), "3032DECBE2AB1768D8E0AEDEA35881DF");
}
END_TEST

START_TEST(test_multihash_concatenates_v2)
{
    /* JS multiHash.ts / Java getEffectivePartitionKeyForMultiHashPartitioning: the V2 EPK of
     * each component, concatenated (known answers from the V2 table). */
    struct epk_component three[] = {STR("redmond"), NUM(5.5), TYPE(EPK_TRUE)};
    char want[97];
    strcpy(want, "22E342F38A486A088463DFF7838A5963");
    strcat(want, "0E2EE47829D1AF775EEFB6540FD1D0ED");
    strcat(want, "0E711127C5B5A8E4726AC6DD306A3E59");
    ck_assert_str_eq(epk(EPK_V2, 1, three, 3), want);
    want[64] = '\0';
    ck_assert_str_eq(epk(EPK_V2, 1, three, 2), want);
    want[32] = '\0';
    ck_assert_str_eq(epk(EPK_V2, 1, three, 1), want);
    ck_assert_str_eq(epk(EPK_V2, 0, three, 1), want);
    /* Python SDK answers quoted by the Rust SDK's (disabled) hierarchical-key test */
    struct epk_component title[] = {STR("title_player_account!9E711EFBD3BBB492"),
                                    STR("Title-B60C1")};
    ck_assert_str_eq(epk(EPK_V2, 1, title, 2),
                     "2306FDF78C35ED4FD1C5835B075FC0B0248E1F58635558D12708326234F93A21");
    struct epk_component title1 = STR("title_player_account!9E711EFBD3BBB499");
    ck_assert_str_eq(epk(EPK_V2, 1, &title1, 1), "378CCD42FC556DDDE688B05DC178BB92");
    /* a MultiHash EPK is not the V2 hash of the components together */
    char together[EPK_HEX_SIZE];
    strcpy(together, epk(EPK_V2, 0, three, 2));
    ck_assert_int_eq(strlen(together), 32);
    ck_assert_str_ne(epk(EPK_V2, 1, three, 2), together);
}
END_TEST

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* hex of the binary form of a string: 08, bytes + 1, then 00 when whole */
static void binary_hex(const char *bytes, size_t n, int whole, char *out)
{
    strcpy(out, "08");
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 + 2 * i, "%02X", (unsigned char)bytes[i] + 1);
    if (whole)
        strcat(out, "00");
}

START_TEST(test_strings_with_nul_bytes)
{
    struct epk_component anb = {.type = EPK_STRING, .str = "a\0b", .len = 3};
    ck_assert(ends_with(v1(anb), "0862016300"));
    char a[EPK_HEX_SIZE], ab[EPK_HEX_SIZE];
    strcpy(a, v2(STR("a")));
    strcpy(ab, v2(STR("ab")));
    ck_assert_str_ne(v2(anb), a);
    ck_assert_str_ne(v2(anb), ab);
    ck_assert_int_eq(strlen(v2(anb)), 32);
    /* only NUL bytes, and the empty string given as NULL */
    struct epk_component nuls = {.type = EPK_STRING, .str = "\0\0", .len = 2};
    ck_assert(ends_with(v1(nuls), "08010100"));
    struct epk_component empty = {.type = EPK_STRING, .str = NULL, .len = 0};
    ck_assert_str_eq(v1(empty), "05C1CF33970FF80800");
    ck_assert_str_eq(v2(empty), "32E9366E637A71B4E710384B2F4970A0");
}
END_TEST

START_TEST(test_v1_long_by_utf8_bytes)
{
    /* 60 x U+00E9: 60 characters (no cut) but 120 UTF-8 bytes, so the binary form keeps 101
     * bytes and no 00, as .NET/Java/Python decide by byte count (the JS SDK counts chars). */
    char e[2 * 110], want[2 * 110 * 2 + 8];
    for (int i = 0; i < 110; i++)
        memcpy(e + 2 * i, "\xC3\xA9", 2);
    struct epk_component c = {.type = EPK_STRING, .str = e, .len = 120};
    binary_hex(e, 101, 0, want);
    ck_assert(ends_with(v1(c), want));
    ck_assert(!ends_with(v1(c), "00"));
    /* 110 characters are cut to 100 (200 bytes): same EPK as exactly 100, not as 99 */
    char cut100[EPK_HEX_SIZE];
    c.len = 200;
    strcpy(cut100, v1(c));
    c.len = 220;
    ck_assert_str_eq(v1(c), cut100);
    c.len = 202;
    ck_assert_str_eq(v1(c), cut100);
    c.len = 198;
    ck_assert_str_ne(v1(c), cut100);
    /* V2 never cuts */
    char v2_220[EPK_HEX_SIZE];
    strcpy(v2_220, v2(c));
    c.len = 200;
    ck_assert_str_ne(v2(c), v2_220);
    /* 100 ASCII bytes are whole (00); 101 are cut to the same 100 first */
    char buf[101], x100[EPK_HEX_SIZE];
    strcpy(x100, v1(repeated('x', 100, buf)));
    binary_hex(buf, 100, 1, want);
    ck_assert(ends_with(x100, want));
    ck_assert_str_eq(v1(repeated('x', 101, buf)), x100);
}
END_TEST

START_TEST(test_v1_cut_counts_utf16_units)
{
    /* U+1F600 is 4 UTF-8 bytes and 2 UTF-16 code units (Java/.NET/JS substring(0, 100)). */
    char s[128], t[128];
    memset(s, 'a', 98);
    memcpy(s + 98,
           "\xF0\x9F\x98\x80"
           "b",
           5); /* 98 + 2 units kept, "b" cut */
    struct epk_component whole = {.type = EPK_STRING, .str = s, .len = 102};
    struct epk_component cut = {.type = EPK_STRING, .str = s, .len = 103};
    char want[EPK_HEX_SIZE];
    strcpy(want, v1(whole));
    ck_assert_str_eq(v1(cut), want);
    /* 99 + the pair: cut in the middle of the pair -> U+FFFD, as .NET and JS encode it */
    memset(s, 'a', 99);
    memcpy(s + 99, "\xF0\x9F\x98\x80", 4);
    memset(t, 'a', 99);
    memcpy(t + 99, "\xEF\xBF\xBD", 3);
    struct epk_component split = {.type = EPK_STRING, .str = s, .len = 103};
    struct epk_component fffd = {.type = EPK_STRING, .str = t, .len = 102};
    strcpy(want, v1(fffd));
    ck_assert_str_eq(v1(split), want);
    /* a truncated sequence at the end of the bytes is read no further than the length */
    struct epk_component partial = {.type = EPK_STRING, .str = "\xF0\x9F", .len = 2};
    ck_assert(ends_with(v1(partial), "08F1A000"));
}
END_TEST

START_TEST(test_v1_numbers_with_empty_low_bits)
{
    /* 0 and 2 leave nothing after the first byte: Java/.NET/Python still write the last
     * (00) group (the JS SDK drops it). */
    ck_assert(ends_with(v1(NUM(0)), "058000"));
    ck_assert(ends_with(v1(NUM(-0.0)), "058000"));
    ck_assert(ends_with(v1(NUM(2)), "05C000"));
    ck_assert(ends_with(v1(NUM(1)), "05BFF0"));
}
END_TEST

START_TEST(test_rejects_bad_arguments)
{
    struct epk_component c = STR("a");
    char out[EPK_HEX_SIZE] = "x";
    ck_assert_int_eq(epk_compute(EPK_V1, 0, &c, 0, out, sizeof out), -1);
    ck_assert_str_eq(out, "");
    struct epk_component four[4] = {c, c, c, c};
    ck_assert_int_eq(epk_compute(EPK_V2, 1, four, 4, out, sizeof out), -1);
    ck_assert_int_eq(epk_compute(EPK_V1, 1, &c, 1, out, sizeof out), -1);
    ck_assert_int_eq(epk_compute((enum epk_version)3, 0, &c, 1, out, sizeof out), -1);
    struct epk_component bad = {.type = (enum epk_type)9};
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &bad, 1, out, sizeof out), -1);
    struct epk_component null_str = {.type = EPK_STRING, .str = NULL, .len = 3};
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &null_str, 1, out, sizeof out), -1);
    /* V2 needs 33 bytes: 32 is too small and leaves "" */
    strcpy(out, "x");
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &c, 1, out, 32), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &c, 1, out, 33), 0);
    ck_assert_int_eq(strlen(out), 32);
    ck_assert_int_eq(epk_compute(EPK_V2, 0, &c, 1, out, 0), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cosmos_epk");
    TCase *tc = tcase_create("epk");
    tcase_add_test(tc, test_murmur3_32_known_answers);
    tcase_add_test(tc, test_murmur3_128_known_answers);
    tcase_add_test(tc, test_v1_known_answers);
    tcase_add_test(tc, test_v2_known_answers);
    tcase_add_test(tc, test_v2_components_hashed_together);
    tcase_add_test(tc, test_multihash_concatenates_v2);
    tcase_add_test(tc, test_strings_with_nul_bytes);
    tcase_add_test(tc, test_v1_long_by_utf8_bytes);
    tcase_add_test(tc, test_v1_cut_counts_utf16_units);
    tcase_add_test(tc, test_v1_numbers_with_empty_low_bits);
    tcase_add_test(tc, test_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return check_run(s);
}
