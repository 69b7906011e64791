/*
 * fuzz_secured — ms_open() (stack/sec) of arbitrary bytes on an established secured link:
 * the decrypt/verify path every SECURED frame from the wire takes.
 *
 * A fixed session (seeded RNG, so the same keys every run) is set up once, and a handful
 * of frames are sealed on the sending side; those frames are the seed corpus
 * (fuzz/corpus/secured, written by `MS_FUZZ_WRITE_CORPUS=dir fuzz_secured_replay`).
 * Each input is opened twice (separate buffer and in place) with the receive windows
 * cleared first, so every input sees the same state.
 *
 * Oracles:
 *   - no crash, no leak, no read outside the input (ASan);
 *   - anything accepted is byte for byte one of the frames we sealed (up to its length
 *     field; bearer padding after it is allowed) and decrypts to that frame's inner frame.
 *     Forging a tag is what the fuzzer cannot do, so acceptance of anything else is a bug;
 *   - every rejection is counted in exactly one drop counter;
 *   - the two ways of opening agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz.h"
#include "ms.h"
#include "ms_int.h"

enum { NSEALED = 6 };
static const size_t inner_len[NSEALED] = {4, 16, 20, 64, 300, 1400};
static uint8_t inner[NSEALED][1400], sealed[NSEALED][1432];
static int sealed_len[NSEALED];
static ms_ctx *ca, *cb;
static ms_link *la, *lb;
static uint64_t seed_a = 1, seed_b = 2;

static int fz_sec_fill(void *user, uint8_t *buf, size_t n)
{
    uint64_t *s = user;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        buf[i] = (uint8_t)(z ^ (z >> 31));
    }
    return 0;
}

static void fz_sec_setup(void)
{
    static const uint8_t key[32] = "fuzz_secured cluster key 0123456";
    ms_config c;
    ms_config_default(&c);
    c.domain = 7;
    c.cluster_key = key;
    c.cluster_key_len = 32;
    c.rng.fill = fz_sec_fill;
    c.node_id = 1;
    c.rng.user = &seed_a;
    FZ_CHECK(ms_ctx_create(&c, &ca) == 0);
    c.node_id = 2;
    c.rng.user = &seed_b;
    FZ_CHECK(ms_ctx_create(&c, &cb) == 0);
    FZ_CHECK(ms_link_create(ca, 2, MP_SEC_REQUIRED, &la) == 0);
    FZ_CHECK(ms_link_create(cb, 1, MP_SEC_REQUIRED, &lb) == 0);
    uint8_t m1[96], m2[96], m3[96];
    FZ_CHECK(ms_link_start(la, 0, m1) == 96);
    FZ_CHECK(ms_kx_input(lb, m1, 96, 0, m2, NULL) == 96);
    FZ_CHECK(ms_kx_input(la, m2, 96, 0, m3, NULL) == 96);
    FZ_CHECK(ms_kx_input(lb, m3, 96, 0, m1, NULL) == 0);
    for (int i = 0; i < NSEALED; i++) {
        size_t n = inner_len[i];
        uint8_t *p = inner[i];
        p[0] = (uint8_t)(MP_VERSION << 4);
        p[1] = n >= MP_SEQ_HDR_LEN ? MP_T_DATA : MP_T_LINK_STATE;
        mp_put16(p + 2, (uint16_t)n);
        for (size_t j = 4; j < n; j++)
            p[j] = (uint8_t)(j * 13 + (size_t)i);
        if (n >= MP_SEQ_HDR_LEN)
            mp_put32(p + 8, MP_CHAN_FIRST_PATH);
        sealed_len[i] = ms_seal(la, p, n, 0, sealed[i], sizeof sealed[i]);
        FZ_CHECK(sealed_len[i] == (int)(n + MS_OVERHEAD));
    }
    const char *dir = getenv("MS_FUZZ_WRITE_CORPUS");
    if (dir) {
        for (int i = 0; i < NSEALED; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/sealed-%zu", dir, inner_len[i]);
            FILE *f = fopen(path, "wb");
            FZ_CHECK(f != NULL);
            FZ_CHECK(fwrite(sealed[i], 1, (size_t)sealed_len[i], f) == (size_t)sealed_len[i]);
            fclose(f);
        }
    }
}

static uint64_t fz_sec_drops(const ms_link *l)
{
    const ms_counters *c = &l->c;
    return c->malformed + c->wrong_key_id + c->replays + c->decrypt_fail + c->inner_bad +
           c->rx_small_buf;
}

static void fz_sec_fresh_windows(void)
{
    for (int i = 0; i < 2; i++)
        memset(&lb->rx[i].rp, 0, sizeof lb->rx[i].rp);
}

/* Which sealed frame is `data`, or -1. */
static int fz_sec_which(const uint8_t *data, size_t size)
{
    for (int i = 0; i < NSEALED; i++)
        if (size >= (size_t)sealed_len[i] && memcmp(data, sealed[i], (size_t)sealed_len[i]) == 0)
            return i;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[MP_MAX_FRAME], inplace[MP_MAX_FRAME];
    if (!la)
        fz_sec_setup();
    if (size > MP_MAX_FRAME)
        return 0;

    fz_sec_fresh_windows();
    uint64_t d0 = fz_sec_drops(lb), o0 = lb->c.opened;
    int rc = ms_open(lb, data, size, 0, out, sizeof out);
    if (rc < 0) {
        FZ_CHECKF(rc > -MS_ERR_COUNT && rc != MS_EINVAL, "ms_open: %d", rc);
        FZ_CHECKF(fz_sec_drops(lb) == d0 + 1, "a rejection (%s) not counted once",
                  ms_strerror(rc));
        FZ_CHECK(lb->c.opened == o0);
    } else {
        int w = fz_sec_which(data, size);
        FZ_CHECKF(w >= 0, "accepted a %zu-byte frame that we never sealed", size);
        FZ_CHECK((size_t)rc == inner_len[w]);
        FZ_CHECK(memcmp(out, inner[w], inner_len[w]) == 0);
        FZ_CHECK(lb->c.opened == o0 + 1 && fz_sec_drops(lb) == d0);
    }

    /* In place: the same verdict and bytes. */
    fz_sec_fresh_windows();
    memcpy(inplace, data, size);
    size_t cap = size > MP_SECURED_HDR_LEN ? size - MP_SECURED_HDR_LEN : 0;
    int rc2 = ms_open(lb, inplace, size, 0, inplace + MP_SECURED_HDR_LEN, cap);
    if (rc >= 0) {
        FZ_CHECKF(rc2 == rc, "in-place open returned %d, separate buffer %d", rc2, rc);
        FZ_CHECK(memcmp(inplace + MP_SECURED_HDR_LEN, out, (size_t)rc) == 0);
    } else {
        FZ_CHECK(rc2 < 0);
    }

    /* The plaintext gate never crashes and agrees with the link's mode. */
    if (size >= 2 && data[1] != MP_T_SECURED)
        FZ_CHECK(ms_check_plain(lb, data[1]) ==
                 (data[1] == MP_T_DISCOVER || data[1] == MP_T_KEY_EXCHANGE ? 0 : MS_EPLAIN));
    return 0;
}
