/*
 * fuzz_cosmos_response: libFuzzer target for the parsers of Cosmos answers: cosmos_error_message
 * (error bodies) and cosmos_bulk_parse (batch answers, expecting 1..8 operations). The first input
 * byte picks the output buffer size (1..256, sometimes exactly the body length); the rest is the
 * body, passed without a terminating NUL. Checks that the output is NUL-terminated inside the
 * buffer, has no CR or LF, and that nothing past the buffer is touched (ASan catches writes; a
 * canary catches writes into the same block).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos.h"
#include "cosmos_bulk.h"

#define CANARY 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t outsz = (size_t)data[0] + 1; /* 1..256 */
    if (data[0] == 0xFF)
        outsz = size; /* body length + 1 for the NUL: the exact-fit case */
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    /* Copy the body to its own block so an over-read past len is an ASan report. */
    char *b = len ? malloc(len) : NULL;
    if (len)
        memcpy(b, body, len);
    char *out = malloc(outsz + CANARY);
    memset(out, 0xCC, outsz + CANARY);
    cosmos_error_message(b, len, out, outsz);
    char *nul = memchr(out, '\0', outsz);
    if (!nul) {
        fprintf(stderr, "fuzz_cosmos_response: output of size %zu not NUL-terminated\n", outsz);
        abort();
    }
    if (strpbrk(out, "\r\n")) {
        fprintf(stderr, "fuzz_cosmos_response: CR/LF in output: %s\n", out);
        abort();
    }
    for (size_t i = 0; i < CANARY; i++)
        if ((unsigned char)out[outsz + i] != 0xCC) {
            fprintf(stderr, "fuzz_cosmos_response: wrote past the output buffer\n");
            abort();
        }
    /* size 0 must not touch the buffer at all */
    char one = 'x';
    cosmos_error_message(b, len, &one, 0);
    if (one != 'x') {
        fprintf(stderr, "fuzz_cosmos_response: wrote with size 0\n");
        abort();
    }
    struct cosmos_op_result ops[8];
    struct cosmos_tokens scratch = {0};
    size_t nops = (size_t)(data[0] & 7) + 1;
    if (cosmos_bulk_parse(b, len, ops, nops, &scratch) == 0)
        for (size_t i = 0; i < nops; i++)
            if (ops[i].status < 100 || ops[i].status > 599 || ops[i].substatus < 0 ||
                ops[i].retry_after_ms < -1) {
                fprintf(stderr, "fuzz_cosmos_response: bad batch result %zu\n", i);
                abort();
            }
    cosmos_tokens_free(&scratch);
    free(out);
    free(b);
    return 0;
}
