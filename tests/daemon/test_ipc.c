/* test_ipc.c — the request decoder: valid requests of every op, and malformed ones
 * (short, bad length, flags, trailing bytes, bad strings, counts), plus 200,000 random
 * and mutated inputs that must be rejected or decoded without reading out of bounds
 * (ASan build). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)

int main(void)
{
    uint8_t b[512];
    mipc_w w;
    mipc_req q;
    mipc_w_init(&w, b, sizeof b, MIPC_DEV_ADD, 7);
    mipc_put16(&w, 3); mipc_put8(&w, 1); mipc_put8(&w, MIPC_DF_PUBLISH);
    mipc_putstr(&w, "a/b", 3); mipc_put8(&w, 1); mipc_putstr(&w, "k", 1); mipc_putstr(&w, "", 0);
    size_t n = mipc_w_end(&w);
    CHECK(mipc_decode_request(b, n, &q) == 0 && q.id == 7 && q.u.dev.nprops == 1 && q.u.dev.name.len == 3);
    CHECK(mipc_decode_request(b, n - 1, &q) == MIPC_ELEN);
    for (size_t k = 0; k < n; k++) { /* every truncation with a matching length field */
        uint8_t c[512]; memcpy(c, b, k); if (k >= 4) { c[0] = (uint8_t)k; c[1] = c[2] = c[3] = 0; }
        CHECK(mipc_decode_request(c, k, &q) < 0);
    }
    b[6] = 1; CHECK(mipc_decode_request(b, n, &q) == MIPC_EFLAGS); b[6] = 0;
    mipc_w_init(&w, b, sizeof b, MIPC_SEND, 1); mipc_put32(&w, 256); mipc_putraw(&w, "xyz", 3);
    n = mipc_w_end(&w);
    CHECK(mipc_decode_request(b, n, &q) == 0 && q.u.send.len == 3 && q.u.send.path == 256);
    mipc_w_init(&w, b, sizeof b, MIPC_CLOSE, 1); mipc_put32(&w, 1); mipc_put8(&w, 0);
    CHECK(mipc_decode_request(b, mipc_w_end(&w), &q) == MIPC_ETRAIL);
    mipc_w_init(&w, b, sizeof b, 99, 1);
    CHECK(mipc_decode_request(b, mipc_w_end(&w), &q) == MIPC_EOP);
    mipc_w_init(&w, b, sizeof b, MIPC_OPEN, 1); mipc_put32(&w, 1); mipc_put8(&w, 0); mipc_putstr(&w, "", 0);
    CHECK(mipc_decode_request(b, mipc_w_end(&w), &q) == MIPC_ESTR);
    mipc_w_init(&w, b, sizeof b, MIPC_CTL, 1); mipc_put8(&w, 0); mipc_put8(&w, 17);
    CHECK(mipc_decode_request(b, mipc_w_end(&w), &q) == MIPC_ECOUNT);
    srand(1);
    for (int i = 0; i < 200000; i++) {
        size_t len = (size_t)(rand() % 80);
        uint8_t *r = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++) r[k] = (uint8_t)rand();
        if (len >= 12) { r[0] = (uint8_t)len; r[1] = r[2] = r[3] = 0; r[4] = (uint8_t)(1 + rand() % 10); r[5] = 0; r[6] = r[7] = 0; }
        int e = mipc_decode_request(r, len, &q);
        CHECK(e <= 0);
        if (e == 0 && q.op == MIPC_SEND) CHECK(q.u.send.data + q.u.send.len == r + len);
        free(r);
    }
    printf("ipc decoder ok\n");
    return 0;
}
