/*
 * test_serial.c — CRC-32C, serial framing (encoder and incremental de-framer under
 * every chunking), the capture pseudo-header.
 */
#include <stdlib.h>

#include "mp/mp.h"
#include "t.h"

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_crc(void)
{
    const uint8_t *s = (const uint8_t *)"123456789";
    T_EQ(mp_crc32c(0, s, 9), 0xE3069283u);
    T_EQ(mp_crc32c(mp_crc32c(0, s, 4), s + 4, 5), 0xE3069283u); /* chainable */
    T_EQ(mp_crc32c(0, NULL, 0), 0);
    uint8_t buf[1024];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    /* The written-out table against the definition, through every byte value. */
    for (int v = 0; v < 256; v++) {
        uint8_t b = (uint8_t)v;
        T_EQ(mp_crc32c(0, &b, 1), crc_bitwise(&b, 1));
    }
    T_EQ(mp_crc32c(0, buf, sizeof buf), crc_bitwise(buf, sizeof buf));
    uint8_t zeros[32] = {0};
    T_EQ(mp_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
}

/* Feed `line` to a fresh de-framer in chunks chosen by `split` (0: all at once,
 * 1: byte by byte, else pseudo-random sizes); collect emitted frames. */
typedef struct result {
    uint8_t frames[8][300];
    size_t lens[8];
    int count;
    mp_deframer d;
} result;

static void deframe(const uint8_t *line, size_t n, size_t cap, int split, uint32_t seed, result *r)
{
    static uint8_t store[70000];
    memset(r, 0, sizeof *r);
    mp_deframer_init(&r->d, store, cap);
    size_t off = 0;
    while (off < n) {
        size_t chunk = n - off;
        if (split == 1)
            chunk = 1;
        else if (split > 1) {
            seed = seed * 1664525u + 1013904223u;
            chunk = 1 + (seed >> 16) % 17;
            if (chunk > n - off)
                chunk = n - off;
        }
        size_t end = off + chunk;
        while (off < end) {
            size_t used = 0;
            int rc = mp_deframer_feed(&r->d, line + off, end - off, &used);
            T_CHECK(rc >= 0);
            T_CHECK(used <= end - off);
            off += used;
            if (rc > 0 && r->count < 8) {
                T_CHECK((size_t)rc <= sizeof r->frames[0]);
                memcpy(r->frames[r->count], r->d.buf, (size_t)rc);
                r->lens[r->count++] = (size_t)rc;
            }
            if (rc == 0)
                T_EQ(off, end);
        }
    }
}

static size_t wrap(const uint8_t *f, size_t n, uint8_t *out)
{
    int rc = mp_serial_encode(f, n, out, mp_serial_max_encoded(n));
    T_CHECK(rc > 0);
    return rc > 0 ? (size_t)rc : 0;
}

static void test_serial_encode(void)
{
    const uint8_t f[] = {0x10, 0x10, 0x00, 0x14, 0x7E, 0x7D, 0x00, 0x01};
    uint8_t out[64];
    int n = mp_serial_encode(f, sizeof f, out, sizeof out);
    T_CHECK(n >= (int)(2 + sizeof f + 4 + 2));
    T_EQ(out[0], 0x7E);
    T_EQ(out[n - 1], 0x7E);
    T_EQ(out[5], 0x7D);
    T_EQ(out[6], 0x5E);
    T_EQ(out[7], 0x7D);
    T_EQ(out[8], 0x5D);
    for (int i = 1; i < n - 1; i++)
        T_CHECK(out[i] != 0x7E);
    T_CHECK((size_t)n <= mp_serial_max_encoded(sizeof f));
    /* Short buffer: refused before writing anything. */
    uint8_t small[64];
    memset(small, 0xA5, sizeof small);
    T_EQ(mp_serial_encode(f, sizeof f, small, (size_t)n - 1), MP_ENOSPC);
    T_EQ(small[0], 0xA5);
    T_EQ(mp_serial_encode(NULL, 3, out, sizeof out), MP_EINVAL);
    /* Worst case: all bytes need escaping. */
    uint8_t allflags[10];
    memset(allflags, 0x7E, sizeof allflags);
    uint8_t big[64];
    n = mp_serial_encode(allflags, sizeof allflags, big, sizeof big);
    T_CHECK(n > 20 && (size_t)n <= mp_serial_max_encoded(sizeof allflags));
}

static void test_deframer(void)
{
    /* A line with: garbage, a frame with bytes to stuff, idle flags, an aborted frame,
     * a bad-CRC frame, a runt, a good frame sharing its opening flag. */
    uint8_t f1[40], f2[] = {0x10, 0x10, 0x00, 0x14, 0x00, 0x00, 0x7D, 0x7E, 0x00, 0x01};
    for (size_t i = 0; i < sizeof f1; i++)
        f1[i] = (uint8_t)(0x70 + i); /* includes 0x7D, 0x7E */
    uint8_t line[512];
    size_t n = 0;
    memcpy(line + n, "\x01\x02\x7d", 3); /* before the first flag: dropped, uncounted */
    n += 3;
    n += wrap(f1, sizeof f1, line + n);
    line[n++] = 0x7E; /* idle */
    line[n++] = 0x7E;
    memcpy(line + n, "\x11\x22\x33\x44\x55\x66\x77\x88\x7d\x7e", 10); /* abort */
    n += 10;
    size_t w = wrap(f2, sizeof f2, line + n);
    line[n + w - 2] ^= 0x01; /* corrupt the last CRC byte (not a flag/escape) */
    if (line[n + w - 2] == 0x7E || line[n + w - 2] == 0x7D)
        line[n + w - 2] ^= 0x03;
    n += w - 1; /* share its closing flag with the runt */
    memcpy(line + n, "\x7e\x10\x10\x00\x04\x00\x00\x7e", 8); /* 6-byte runt */
    n += 8;
    w = wrap(f2, sizeof f2, line + n - 1); /* opening flag shared with the runt's close */
    n += w - 1;
    memcpy(line + n, "\x10\x10\x7d", 3); /* unterminated tail: not counted */
    n += 3;

    for (int split = 0; split < 10; split++) {
        result r;
        deframe(line, n, 1000, split, 77u + (uint32_t)split, &r);
        T_EQ(r.count, 2);
        T_EQ(r.lens[0], sizeof f1);
        T_MEMEQ(r.frames[0], f1, sizeof f1);
        T_EQ(r.lens[1], sizeof f2);
        T_MEMEQ(r.frames[1], f2, sizeof f2);
        T_EQ(r.d.frames_ok, 2);
        T_EQ(r.d.framing_errors, 1);
        T_EQ(r.d.crc_errors, 1);
        T_EQ(r.d.runts, 1);
        T_EQ(r.d.overruns, 0);
    }

    /* Overrun: a frame longer than the buffer is counted once, then sync recovers. */
    uint8_t big[64], l2[256];
    memset(big, 0x42, sizeof big);
    size_t m = wrap(big, sizeof big, l2);
    m += wrap(f2, sizeof f2, l2 + m);
    for (int split = 0; split < 4; split++) {
        result r;
        deframe(l2, m, 32, split, 5, &r);
        T_EQ(r.d.overruns, 1);
        T_EQ(r.count, 1);
        T_EQ(r.lens[0], sizeof f2);
    }
    /* Exactly at capacity is fine (frame + CRC == cap). */
    result r;
    deframe(l2, m, sizeof big + 4, 1, 0, &r);
    T_EQ(r.d.overruns, 0);
    T_EQ(r.count, 2);

    /* Escaping any byte is accepted (0x7D 0x48 = 'h'). */
    uint8_t f3[] = {0x10, 0x10, 0x00, 0x08, 'h', 'h', 'h', 'h'};
    uint8_t l3[64];
    size_t k = wrap(f3, sizeof f3, l3);
    uint8_t l4[64];
    memcpy(l4, l3, 5);
    l4[5] = 0x7D;
    l4[6] = 'h' ^ 0x20;
    memcpy(l4 + 7, l3 + 6, k - 6);
    deframe(l4, k + 1, 100, 0, 0, &r);
    T_EQ(r.count, 1);
    T_MEMEQ(r.frames[0], f3, sizeof f3);

    /* Zero-capacity buffer: everything overruns, nothing crashes. */
    deframe(l3, k, 0, 1, 0, &r);
    T_EQ(r.count, 0);
    T_EQ(r.d.overruns, 1);

    /* feed with consumed NULL and empty input */
    mp_deframer d;
    uint8_t st[16];
    mp_deframer_init(&d, st, sizeof st);
    T_EQ(mp_deframer_feed(&d, NULL, 0, NULL), 0);
    T_EQ(mp_deframer_feed(NULL, l3, 1, NULL), MP_EINVAL);
}

/* Many random frames, random chunking: what goes in comes out, in order. */
static void test_deframer_random(void)
{
    enum { FRAMES = 200 };
    uint8_t *line = malloc(FRAMES * 700);
    static uint8_t frames[FRAMES][300];
    size_t lens[FRAMES], n = 0;
    uint32_t x = 99;
    for (int i = 0; i < FRAMES; i++) {
        x = x * 1103515245u + 12345u;
        lens[i] = 8 + (x >> 16) % 280;
        for (size_t j = 0; j < lens[i]; j++) {
            x = x * 1103515245u + 12345u;
            frames[i][j] = (x >> 24) & 1 ? 0x7E - ((x >> 20) & 1) : (uint8_t)(x >> 8);
        }
        n += wrap(frames[i], lens[i], line + n);
    }
    for (int split = 1; split < 4; split++) {
        static uint8_t store[400];
        mp_deframer d;
        mp_deframer_init(&d, store, sizeof store);
        int got = 0;
        size_t off = 0;
        while (off < n) {
            x = x * 1664525u + 1013904223u;
            size_t chunk = split == 1 ? 1 : 1 + (x >> 16) % (split == 2 ? 7 : 900);
            if (chunk > n - off)
                chunk = n - off;
            size_t end = off + chunk;
            while (off < end) {
                size_t used;
                int rc = mp_deframer_feed(&d, line + off, end - off, &used);
                off += used;
                if (rc > 0) {
                    T_CHECK(got < FRAMES && (size_t)rc == lens[got] &&
                            memcmp(d.buf, frames[got], lens[got]) == 0);
                    got++;
                }
            }
        }
        T_EQ(got, FRAMES);
        T_EQ(d.frames_ok, FRAMES);
        T_EQ(d.crc_errors + d.framing_errors + d.overruns + d.runts, 0);
    }
    free(line);
}

static void test_caphdr(void)
{
    mp_caphdr h = {MP_BEARER_SERIAL, MP_CAPF_TX | MP_CAPF_FCS, 0x0102}, o;
    uint8_t b[8];
    T_EQ(mp_caphdr_encode(&h, b, sizeof b), 8);
    uint8_t want[8] = {0x4D, 0x01, 0x03, 0x03, 0x01, 0x02, 0x00, 0x00};
    T_MEMEQ(b, want, 8);
    T_EQ(mp_caphdr_decode(b, 8, &o), 8);
    T_EQ(o.bearer, MP_BEARER_SERIAL);
    T_EQ(o.cflags, 3);
    T_EQ(o.bearer_index, 0x0102);
    T_EQ(mp_caphdr_encode(&h, b, 7), MP_ENOSPC);
    T_EQ(mp_caphdr_decode(want, 7, &o), MP_ETRUNC);
    uint8_t t[8];
    memcpy(t, want, 8);
    t[0] = 'm';
    T_EQ(mp_caphdr_decode(t, 8, &o), MP_ERESERVED);
    memcpy(t, want, 8);
    t[1] = 2;
    T_EQ(mp_caphdr_decode(t, 8, &o), MP_ERESERVED);
    memcpy(t, want, 8);
    t[3] = 0x04;
    T_EQ(mp_caphdr_decode(t, 8, &o), MP_ERESERVED);
    memcpy(t, want, 8);
    t[7] = 1;
    T_EQ(mp_caphdr_decode(t, 8, &o), MP_ERESERVED);
    memcpy(t, want, 8);
    t[2] = 0;
    T_EQ(mp_caphdr_decode(t, 8, &o), MP_ERANGE);
    t[2] = 5;
    T_EQ(mp_caphdr_decode(t, 8, &o), MP_ERANGE);
    h.bearer = 9;
    T_EQ(mp_caphdr_encode(&h, b, sizeof b), MP_ERANGE);
    h.bearer = 1;
    h.cflags = 0x80;
    T_EQ(mp_caphdr_encode(&h, b, sizeof b), MP_ERESERVED);
}

int main(void)
{
    test_crc();
    test_serial_encode();
    test_deframer();
    test_deframer_random();
    test_caphdr();
    return t_done("test_serial");
}
