/*
 * test_sec — stack/sec: handshake, seal/open, attacks, rekey, restart, key files, policy.
 * All time is literal (nanoseconds passed in); randomness is seeded unless a test says
 * otherwise.  Usage: test_sec <name> (one ctest test per name), or test_sec all.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_keyfile.h"
#include "ts.h"

#define MS_ (1000000ull)
#define SEC (1000000000ull)

static uint64_t c_drops(const ms_link *l)
{
    const ms_counters *c = &l->c;
    return c->malformed + c->wrong_key_id + c->replays + c->decrypt_fail + c->inner_bad;
}

static void pair(ts_node *a, ts_node *b, uint16_t suite_a, bool chacha_b)
{
    ts_cfg(a, 1, 11);
    ts_cfg(b, 2, 22);
    a->cfg.suite = suite_a;
    b->cfg.chacha = chacha_b;
    ts_open(a, 2, MP_SEC_REQUIRED);
    ts_open(b, 1, MP_SEC_REQUIRED);
    ts_handshake(a, b, 1000);
}

/* Seal id on from, open on to, check the inner frame. */
static void xfer(ts_node *from, ts_node *to, uint32_t id, size_t len)
{
    uint8_t in[2048], fr[2048], out[2048];
    ts_inner(in, len, id);
    int n = ms_seal(from->link, in, len, 2000, fr, sizeof fr);
    TS_EQ(n, (long long)(len + MS_OVERHEAD));
    int m = ms_open(to->link, fr, (size_t)n, 2000, out, sizeof out);
    TS_EQ(m, (long long)len);
    TS_CHECK(memcmp(in, out, len) == 0);
}

static void t_handshake(void)
{
    for (int s = 0; s < 3; s++) {
        ts_node a, b;
        uint16_t suite = s == 0 ? MP_SUITE_AES256GCM : MP_SUITE_CHACHA20POLY1305;
        pair(&a, &b, suite, s != 2);
        uint16_t want = s == 1 ? MP_SUITE_CHACHA20POLY1305 : MP_SUITE_AES256GCM;
        ms_link_info ia, ib;
        ms_link_get_info(a.link, 5000, &ia);
        ms_link_get_info(b.link, 5000, &ib);
        TS_EQ(ia.suite, want);
        TS_EQ(ib.suite, want);
        TS_EQ(ia.tx_key_id, 0);
        TS_EQ(ib.tx_key_id, 0);
        TS_EQ(ia.tx_key_age_ns, 4000);
        TS_EQ(ia.c.kx_completed, 1);
        TS_EQ(ib.c.kx_completed, 1);
        TS_EQ(ia.rx_keys, 1);
        TS_EQ(ia.kx_state, MS_KX_IDLE);
        /* Directions use different keys and IVs. */
        TS_CHECK(memcmp(a.link->tx.key, b.link->tx.key, 32) != 0);
        TS_CHECK(memcmp(a.link->tx.iv, b.link->tx.iv, 4) != 0);
        xfer(&a, &b, 1, 100);
        xfer(&b, &a, 2, 100);
        printf("handshake suite %d -> %s ok\n", suite, ms_suite_name(want));
        ts_close(&a);
        ts_close(&b);
    }
}

static void t_roundtrip(void)
{
    for (uint16_t suite = 1; suite <= 2; suite++) {
        ts_node a, b;
        pair(&a, &b, suite, true);
        static const size_t sizes[] = {20, 21, 64, 255, 1400, 1468, 2000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            xfer(&a, &b, (uint32_t)i, sizes[i]);
            xfer(&b, &a, (uint32_t)i, sizes[i]);
        }
        /* Zero-copy: inner already at out + 16, opened in place. */
        uint8_t buf[256], ref[256];
        ts_inner(buf + 16, 200, 99);
        memcpy(ref, buf + 16, 200);
        int n = ms_seal(a.link, buf + 16, 200, 3000, buf, sizeof buf);
        TS_EQ(n, 232);
        TS_CHECK(memcmp(buf + 16, ref, 200) != 0); /* encrypted */
        TS_EQ(ms_open(b.link, buf, (size_t)n, 3000, buf + 16, 240), 200);
        TS_CHECK(memcmp(buf + 16, ref, 200) == 0);
        /* Ethernet padding after hdr.length is ignored. */
        uint8_t in[64], fr[128], out[64];
        ts_inner(in, 20, 5);
        n = ms_seal(a.link, in, 20, 3000, fr, sizeof fr);
        memset(fr + n, 0, 10);
        TS_EQ(ms_open(b.link, fr, (size_t)n + 10, 3000, out, sizeof out), 20);
        /* Frames that must not be sealed. */
        in[1] = MP_T_DISCOVER;
        TS_EQ(ms_seal(a.link, in, 20, 3000, fr, sizeof fr), MS_EINVAL);
        in[1] = MP_T_DATA;
        TS_EQ(ms_seal(a.link, in, 19, 3000, fr, sizeof fr), MS_EINVAL); /* length field */
        TS_EQ(ms_seal(a.link, in, 20, 3000, fr, 51), MS_ENOSPC);
        TS_EQ(c_drops(b.link), 0);
        printf("roundtrip %s ok (%llu sealed)\n", ms_suite_name(suite),
               (unsigned long long)a.link->c.sealed);
        ts_close(&a);
        ts_close(&b);
    }
}

/* Forged, replayed, truncated, bit-flipped and wrong-key-id frames: each rejected and
 * counted exactly once, and good frames keep flowing in between. */
static void t_attacks(void)
{
    for (uint16_t suite = 1; suite <= 2; suite++) {
        ts_node a, b;
        pair(&a, &b, suite, true);
        ms_link *r = b.link;
        uint8_t in[256], fr[300], bad[300], out[300];
        ts_inner(in, 100, 7);
        int n = ms_seal(a.link, in, 100, 2000, fr, sizeof fr);
        TS_EQ(n, 132);

        /* Forged: random tag, then random ciphertext and tag. */
        ts_rng rr = {42};
        for (int i = 0; i < 200; i++) {
            memcpy(bad, fr, (size_t)n);
            ts_fill(&rr, bad + n - 16, 16);
            if (i & 1)
                ts_fill(&rr, bad + 16, (size_t)n - 16);
            uint64_t d = r->c.decrypt_fail;
            TS_EQ(ms_open(r, bad, (size_t)n, 2000, out, sizeof out), MS_EAUTH);
            TS_EQ(r->c.decrypt_fail, d + 1);
        }
        /* Every bit of every byte flipped: rejected, counted once. */
        for (int i = 0; i < n; i++)
            for (int bit = 0; bit < 8; bit++) {
                memcpy(bad, fr, (size_t)n);
                bad[i] ^= (uint8_t)(1u << bit);
                uint64_t d = c_drops(r);
                int rc = ms_open(r, bad, (size_t)n, 2000, out, sizeof out);
                TS_CHECK(rc < 0);
                TS_EQ(c_drops(r), d + 1);
            }
        /* Truncated at every length. */
        for (int len = 0; len < n; len++) {
            uint64_t d = c_drops(r);
            TS_CHECK(ms_open(r, fr, (size_t)len, 2000, out, sizeof out) < 0);
            TS_EQ(c_drops(r), d + 1);
        }
        TS_EQ(r->c.opened, 0);
        /* The genuine frame still opens after all that, once. */
        TS_EQ(ms_open(r, fr, (size_t)n, 2000, out, sizeof out), 100);
        TS_CHECK(memcmp(out, in, 100) == 0);
        uint64_t rp = r->c.replays;
        TS_EQ(ms_open(r, fr, (size_t)n, 2000, out, sizeof out), MS_EREPLAY);
        TS_EQ(r->c.replays, rp + 1);
        /* Wrong key id (valid otherwise). */
        memcpy(bad, fr, (size_t)n);
        bad[4] = 9;
        uint64_t wk = r->c.wrong_key_id;
        TS_EQ(ms_open(r, bad, (size_t)n, 2000, out, sizeof out), MS_EKEYID);
        TS_EQ(r->c.wrong_key_id, wk + 1);
        /* Authenticated but forbidden inner type (sealed by a key holder bypassing the
         * sender check): counted as inner_bad. */
        {
            ms_txkey *k = &a.link->tx;
            uint8_t hdr[16], nonce[12], f2[64], inner[4] = {0x10, MP_T_DISCOVER, 0, 4};
            hdr[0] = 0x10;
            hdr[1] = MP_T_SECURED;
            mp_put16(hdr + 2, 36);
            hdr[4] = k->key_id;
            hdr[5] = hdr[6] = hdr[7] = 0;
            mp_put64(hdr + 8, k->counter);
            memcpy(nonce, k->iv, 4);
            mp_put64(nonce + 4, k->counter);
            int ol = 0;
            TS_CHECK(EVP_EncryptInit_ex2(k->ctx, NULL, NULL, nonce, NULL) == 1);
            TS_CHECK(EVP_EncryptUpdate(k->ctx, NULL, &ol, hdr, 16) == 1);
            TS_CHECK(EVP_EncryptUpdate(k->ctx, f2 + 16, &ol, inner, 4) == 1);
            TS_CHECK(EVP_EncryptFinal_ex(k->ctx, f2 + 20, &ol) == 1);
            TS_CHECK(EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_AEAD_GET_TAG, 16, f2 + 20) == 1);
            memcpy(f2, hdr, 16);
            k->counter++;
            TS_EQ(ms_open(r, f2, 36, 2000, out, sizeof out), MS_EINNER);
            TS_EQ(r->c.inner_bad, 1);
        }
        /* Replay window: out-of-order within the window accepted once; older rejected. */
        uint8_t frames[1100][160];
        int lens[1100];
        for (int i = 0; i < 1100; i++) {
            ts_inner(in, 100, (uint32_t)(1000 + i));
            lens[i] = ms_seal(a.link, in, 100, 2000, frames[i], sizeof frames[i]);
            TS_EQ(lens[i], 132);
        }
        TS_EQ(ms_open(r, frames[1099], 132, 2000, out, sizeof out), 100);
        for (int i = 1098; i >= 1099 - 1000; i--) /* 1000 behind: inside the window */
            TS_EQ(ms_open(r, frames[i], 132, 2000, out, sizeof out), 100);
        for (int i = 1099; i >= 1099 - 1000; i -= 97)
            TS_EQ(ms_open(r, frames[i], 132, 2000, out, sizeof out), MS_EREPLAY);
        /* frames[0..98] are 1001.. behind: still inside a 2048 window, so they open */
        TS_EQ(ms_open(r, frames[0], 132, 2000, out, sizeof out), 100);
        printf("attacks %s ok: decrypt_fail %llu malformed %llu replays %llu wrong_key_id "
               "%llu inner_bad %llu\n",
               ms_suite_name(suite), (unsigned long long)r->c.decrypt_fail,
               (unsigned long long)r->c.malformed, (unsigned long long)r->c.replays,
               (unsigned long long)r->c.wrong_key_id, (unsigned long long)r->c.inner_bad);
        ts_close(&a);
        ts_close(&b);
    }
    /* Window edge: W = 2048 (>= 1024 required). */
    ms_replay w;
    memset(&w, 0, sizeof w);
    TS_CHECK(ms_replay_check(&w, 0));
    ms_replay_update(&w, 5000);
    TS_CHECK(!ms_replay_check(&w, 5000));
    TS_CHECK(ms_replay_check(&w, 5000 - MS_REPLAY_WINDOW + 1));
    TS_CHECK(!ms_replay_check(&w, 5000 - MS_REPLAY_WINDOW));
    ms_replay_update(&w, 5000 + 3 * MS_REPLAY_WINDOW); /* jump clears the bitmap */
    TS_CHECK(ms_replay_check(&w, 5000 + 3 * MS_REPLAY_WINDOW - 1));
    TS_CHECK(!ms_replay_check(&w, 5000));
}

static void t_wrong_cluster_key(void)
{
    ts_node a, b;
    static uint8_t other[32];
    memset(other, 0xA5, sizeof other);
    ts_cfg(&a, 1, 1);
    ts_cfg(&b, 2, 2);
    b.cfg.cluster_key = other;
    ts_open(&a, 2, MP_SEC_REQUIRED);
    ts_open(&b, 1, MP_SEC_REQUIRED);
    uint8_t m[96], r[96];
    uint64_t now = 0;
    TS_EQ(ms_link_start(a.link, now, m), 96);
    unsigned ev;
    int sent = 1;
    for (;;) {
        TS_EQ(ms_kx_input(b.link, m, 96, now, r, &ev), MS_EAUTH);
        now = ms_link_next_deadline(a.link);
        TS_CHECK(now != UINT64_MAX);
        int n = ms_link_timeout(a.link, now, m, &ev);
        if (n == 0) {
            TS_EQ(ev, MS_EV_KX_FAILED);
            break;
        }
        TS_EQ(n, 96);
        sent++;
    }
    TS_EQ(sent, 10);
    TS_EQ(now, 10 * 250 * MS_);
    TS_EQ(b.link->c.auth_failures, 10);
    TS_EQ(a.link->c.kx_failed, 1);
    TS_CHECK(!ms_link_can_send(a.link) && !ms_link_can_send(b.link));
    TS_EQ(ms_link_next_deadline(a.link), UINT64_MAX); /* waits for the next DISCOVER */
    /* A RESP forged with the wrong key is also refused by the initiator. */
    TS_EQ(ms_link_start(a.link, now, m), 96);
    ts_node c;
    ts_cfg(&c, 2, 3);
    c.cfg.cluster_key = other;
    ts_open(&c, 1, MP_SEC_REQUIRED);
    TS_EQ(ms_kx_input(c.link, m, 96, now, r, &ev), MS_EAUTH);
    TS_EQ(b.link->c.kx_malformed + b.link->c.kx_unexpected, 0);
    /* Garbage in KEY_EXCHANGE: malformed, counted. */
    memcpy(r, m, 96);
    r[4] = 9; /* phase out of range */
    TS_EQ(ms_kx_input(a.link, r, 96, now, m, &ev), MS_EMALFORMED);
    TS_EQ(a.link->c.kx_malformed, 1);
    printf("wrong cluster key: %llu MAC failures at the responder, initiator gave up after "
           "10 INITs\n",
           (unsigned long long)b.link->c.auth_failures);
    ts_close(&a);
    ts_close(&b);
    ts_close(&c);
}

/* KEY_EXCHANGE losses: repeated INIT -> same RESP; CONFIRM lost -> the responder switches
 * on the first authenticated SECURED frame. */
static void t_kx_loss(void)
{
    ts_node a, b;
    ts_cfg(&a, 1, 5);
    ts_cfg(&b, 2, 6);
    ts_open(&a, 2, MP_SEC_TRANSITION);
    ts_open(&b, 1, MP_SEC_TRANSITION);
    uint8_t i1[96], i2[96], r1[96], r2[96], c1[96], c2[96];
    unsigned ev;
    TS_EQ(ms_link_start(a.link, 0, i1), 96);
    /* INIT lost: retransmitted unchanged at 250 ms */
    TS_EQ(ms_link_next_deadline(a.link), 250 * MS_);
    TS_EQ(ms_link_timeout(a.link, 100 * MS_, i2, &ev), 0);
    TS_EQ(ms_link_timeout(a.link, 250 * MS_, i2, &ev), 96);
    TS_CHECK(memcmp(i1, i2, 96) == 0);
    TS_EQ(ms_kx_input(b.link, i1, 96, 260 * MS_, r1, &ev), 96);
    /* RESP lost: the next INIT repeat gets the same RESP, no new key material */
    TS_EQ(ms_kx_input(b.link, i2, 96, 500 * MS_, r2, &ev), 96);
    TS_CHECK(memcmp(r1, r2, 96) == 0);
    TS_EQ(ms_kx_input(a.link, r2, 96, 510 * MS_, c1, &ev), 96);
    TS_EQ(ev, MS_EV_SEND_READY);
    /* a duplicate RESP gets the same CONFIRM */
    TS_EQ(ms_kx_input(a.link, r1, 96, 511 * MS_, c2, &ev), 96);
    TS_CHECK(memcmp(c1, c2, 96) == 0);
    TS_EQ(a.link->c.kx_completed, 1);
    /* CONFIRM lost: b cannot send yet, but a's first frame proves a holds the keys */
    TS_CHECK(!ms_link_can_send(b.link));
    uint8_t in[64], fr[128], out[128];
    ts_inner(in, 40, 1);
    TS_EQ(ms_seal(b.link, in, 40, 0, fr, sizeof fr), MS_ESTATE);
    int n = ms_seal(a.link, in, 40, 520 * MS_, fr, sizeof fr);
    TS_EQ(ms_open(b.link, fr, (size_t)n, 520 * MS_, out, sizeof out), 40);
    TS_CHECK(ms_link_can_send(b.link));
    TS_EQ(b.link->c.kx_completed, 1);
    /* the late CONFIRM is harmless */
    TS_EQ(ms_kx_input(b.link, c1, 96, 530 * MS_, r1, &ev), 0);
    TS_EQ(ev, 0);
    xfer(&b, &a, 2, 40);
    /* Plain frames are refused on the secured link, DISCOVER passes. */
    TS_EQ(ms_check_plain(b.link, MP_T_DATA), MS_EPLAIN);
    TS_EQ(ms_check_plain(b.link, MP_T_LINK_RESET), MS_EPLAIN);
    TS_EQ(ms_check_plain(b.link, MP_T_DISCOVER), 0);
    TS_EQ(b.link->c.plain_refused, 2);
    ts_close(&a);
    ts_close(&b);
}

/* Simultaneous rekey INITs: the lower node_id's exchange wins. */
static void t_collision(void)
{
    ts_node a, b;
    pair(&a, &b, 1, true);
    uint8_t ia[96], ib[96], o[96], r[96], c[96];
    unsigned ev;
    TS_EQ(ms_link_rekey(a.link, SEC, ia), 96);
    TS_EQ(ms_link_rekey(b.link, SEC, ib), 96);
    TS_EQ(ms_link_rekey(b.link, SEC, o), MS_ESTATE); /* already running */
    TS_EQ(ms_kx_input(a.link, ib, 96, SEC, o, &ev), 0); /* a (lower) ignores b's */
    TS_EQ(ms_kx_input(b.link, ia, 96, SEC, r, &ev), 96); /* b abandons its own */
    TS_EQ(ms_kx_input(a.link, r, 96, SEC, c, &ev), 96);
    TS_EQ(ms_kx_input(b.link, c, 96, SEC, o, &ev), 0);
    TS_EQ(ev, MS_EV_SEND_READY);
    TS_EQ(a.link->tx.key_id, 1);
    TS_EQ(b.link->tx.key_id, 1);
    TS_EQ(a.link->c.kx_collisions + b.link->c.kx_collisions, 2);
    TS_EQ(b.link->kx.state, MS_KX_IDLE);
    TS_EQ(ms_link_timeout(b.link, SEC + 300 * MS_, o, &ev), 0); /* no stale INIT resend */
    xfer(&a, &b, 1, 64);
    xfer(&b, &a, 1, 64);
    ts_close(&a);
    ts_close(&b);
}

/* Rekey under a stream: frames from both keys delivered shuffled across the switch; all
 * arrive exactly once; old keys are erased after the grace period. */
typedef struct q_item {
    uint8_t b[200];
    int len;
} q_item;

static void t_rekey_stream(void)
{
    for (int variant = 0; variant < 3; variant++) {
        ts_node a, b;
        pair(&a, &b, variant == 1 ? 2 : 1, true);
        if (variant == 2) { /* automatic rekey by frame count (policy parameter) */
            a.link->ctx->cfg.rekey_frames = 301;
        }
        enum { N = 3000 };
        static q_item qa[N + 64], qb[N + 64]; /* a->b, b->a in flight */
        int na = 0, nb = 0;
        static bool got_b[N], got_a[N];
        memset(got_b, 0, sizeof got_b);
        memset(got_a, 0, sizeof got_a);
        ts_rng rr = {(uint64_t)variant + 100};
        uint64_t now = 2 * SEC;
        uint8_t kx[96], kx2[96], kx3[96], in[200], out[200];
        unsigned ev;
        int rekeys_started = 0;
        int delivered_a = 0, delivered_b = 0;
        for (int i = 0; i < N || na || nb; i++) {
            now += 100 * 1000; /* 100 us per step */
            if (i < N) {
                ts_inner(in, 64 + (size_t)(i % 100), (uint32_t)i);
                int n = ms_seal(a.link, in, 64 + (size_t)(i % 100), now, qa[na].b, 200);
                TS_CHECK(n > 0);
                qa[na++].len = n;
                n = ms_seal(b.link, in, 64 + (size_t)(i % 100), now, qb[nb].b, 200);
                TS_CHECK(n > 0);
                qb[nb++].len = n;
            }
            /* Start rekeys: explicit at 1000 (a) and 2000 (b: the responder side). */
            int kn = 0;
            ms_link *ini = NULL, *rsp = NULL;
            if (variant < 2 && i == 1000) {
                kn = ms_link_rekey(a.link, now, kx);
                ini = a.link, rsp = b.link;
            } else if (variant < 2 && i == 2000) {
                kn = ms_link_rekey(b.link, now, kx);
                ini = b.link, rsp = a.link;
            } else if (variant == 2 && now >= ms_link_next_deadline(a.link)) {
                kn = ms_link_timeout(a.link, now, kx, &ev);
                ini = a.link, rsp = b.link;
            }
            if (kn > 0) {
                rekeys_started++;
                TS_EQ(ms_kx_input(rsp, kx, 96, now, kx2, &ev), 96);
                TS_EQ(ms_kx_input(ini, kx2, 96, now, kx3, &ev), 96);
                /* CONFIRM delayed a bit more in half the cases: the responder then
                 * switches on the first authenticated frame. */
                if ((ts_next(&rr) & 1) || i >= N - 1)
                    TS_EQ(ms_kx_input(rsp, kx3, 96, now, kx2, &ev), 0);
            }
            /* Deliver a random in-flight frame from each queue, sometimes several. */
            for (int side = 0; side < 2; side++) {
                q_item *q = side ? qb : qa;
                int *nq = side ? &nb : &na;
                ms_link *to = side ? a.link : b.link;
                bool *got = side ? got_a : got_b;
                int k = (int)(ts_next(&rr) % 3);
                if (*nq > 40 || i >= N)
                    k = 2;
                for (int j = 0; j < k && *nq; j++) {
                    int pick = (int)(ts_next(&rr) % (uint64_t)*nq);
                    int m = ms_open(to, q[pick].b, (size_t)q[pick].len, now, out, sizeof out);
                    TS_CHECK(m > 0);
                    uint32_t id = mp_get32(out + 12);
                    TS_CHECK(id < N && !got[id]);
                    got[id] = true;
                    if (side)
                        delivered_a++;
                    else
                        delivered_b++;
                    q[pick] = q[--*nq];
                }
            }
            if (variant == 2 && now >= ms_link_next_deadline(b.link))
                ms_link_timeout(b.link, now, kx, &ev);
        }
        TS_EQ(delivered_a, N);
        TS_EQ(delivered_b, N);
        TS_EQ(c_drops(a.link) + c_drops(b.link), 0);
        ms_link_info ia, ib;
        ms_link_get_info(a.link, now, &ia);
        ms_link_get_info(b.link, now, &ib);
        if (variant < 2) {
            TS_EQ(rekeys_started, 2);
            TS_EQ(ia.tx_key_id, 2);
            TS_EQ(ib.tx_key_id, 2);
        } else {
            TS_EQ(rekeys_started, N / 301); /* 301 frames per key */
            TS_EQ(ia.tx_key_id, rekeys_started);
        }
        TS_EQ(ia.c.rekeys + ib.c.rekeys, 2 * rekeys_started);
        /* After the grace, only the current receive key remains. */
        now += 2 * SEC;
        ms_link_timeout(a.link, now, kx, &ev);
        ms_link_timeout(b.link, now, kx, &ev);
        ms_link_get_info(a.link, now, &ia);
        TS_EQ(ia.rx_keys, 1);
        /* An old-key frame after the grace: no key, dropped and counted. */
        TS_EQ(ms_open(b.link, qa[0].b, (size_t)qa[0].len, now, out, sizeof out) < 0, 1);
        printf("rekey stream variant %d: %d frames each way, %d rekeys, no loss, no dup\n",
               variant, N, rekeys_started);
        ts_close(&a);
        ts_close(&b);
    }
}

/* Restart of a node: new handshakes never repeat a (key, nonce) pair.  Worst case: the
 * restarted node's RNG repeats its previous output exactly (same seed). */
typedef struct kn {
    uint8_t b[44];
} kn;
static int kn_cmp(const void *x, const void *y) { return memcmp(x, y, sizeof(kn)); }

static void t_restart(void)
{
    enum { RUNS = 4, PER = 500 };
    static kn rec[RUNS * 2 * PER + 16];
    size_t nrec = 0;
    ts_node a, b;
    ts_cfg(&b, 2, 0); /* b: OpenSSL RNG, never restarted */
    ts_open(&b, 1, MP_SEC_REQUIRED);
    uint64_t now = SEC;
    int refused = 0;
    for (int run = 0; run < RUNS; run++) {
        /* a restarts every run; runs 0..2 use the SAME seed (RNG repeating itself), run 3
         * uses OpenSSL's RNG. */
        ts_cfg(&a, 1, run < 3 ? 77 : 0);
        ts_open(&a, 2, MP_SEC_REQUIRED);
        /* b does not learn of the restart (no ms_link_reset): the new INIT reuses key_id
         * 0 and b's old key 0 is still installed. */
        uint8_t m1[96], m2[96], m3[96];
        unsigned ev;
        TS_EQ(ms_link_start(a.link, now, m1), 96);
        int rc = ms_kx_input(b.link, m1, 96, now, m2, &ev);
        if (rc == MS_EKX) {
            /* The INIT repeats b's last completed exchange byte for byte (a's RNG
             * repeated): b refuses it instead of handing out the old keys.  a retries,
             * gives up, and starts afresh on the next DISCOVER. */
            TS_EQ(run, 1);
            refused++;
            for (;;) {
                now = ms_link_next_deadline(a.link);
                int n = ms_link_timeout(a.link, now, m1, &ev);
                if (n == 0)
                    break;
                TS_EQ(ms_kx_input(b.link, m1, 96, now, m2, &ev), MS_EKX);
            }
            TS_EQ(ev, MS_EV_KX_FAILED);
            TS_EQ(ms_link_start(a.link, now, m1), 96);
            rc = ms_kx_input(b.link, m1, 96, now, m2, &ev);
        }
        TS_EQ(rc, 96);
        TS_EQ(ms_kx_input(a.link, m2, 96, now, m3, &ev), 96);
        if (run != 1) /* run 1: CONFIRM lost, b switches on the first frame */
            TS_EQ(ms_kx_input(b.link, m3, 96, now, m1, &ev), 0);
        for (int i = 0; i < PER; i++) {
            uint8_t in[64], fr[128], out[128];
            for (int dir = 0; dir < 2; dir++) {
                ms_link *from = dir ? b.link : a.link, *to = dir ? a.link : b.link;
                if (!ms_link_can_send(from))
                    continue;
                ts_inner(in, 40, (uint32_t)i);
                kn *r = &rec[nrec++];
                memcpy(r->b, from->tx.key, 32);
                memcpy(r->b + 32, from->tx.iv, 4);
                mp_put64(r->b + 36, from->tx.counter);
                int n = ms_seal(from, in, 40, now, fr, sizeof fr);
                TS_CHECK(n > 0);
                TS_EQ(ms_open(to, fr, (size_t)n, now, out, sizeof out), 40);
            }
            now += MS_;
        }
        TS_CHECK(ms_link_can_send(b.link));
        ts_close(&a);
        now += SEC;
    }
    qsort(rec, nrec, sizeof rec[0], kn_cmp);
    for (size_t i = 1; i < nrec; i++)
        TS_CHECK(memcmp(&rec[i - 1], &rec[i], sizeof rec[0]) != 0);
    TS_EQ(refused, 1);
    printf("restart: %zu (key, nonce) pairs over %d incarnations, all distinct\n", nrec, RUNS);
    ts_close(&b);
}

/* Counter exhaustion: rekey starts at rekey_frames; sealing stops at max_frames and the
 * counter never repeats; after the rekey sealing resumes at counter 0 of a new key. */
static void t_exhaustion(void)
{
    ts_node a, b;
    ts_cfg(&a, 1, 8);
    ts_cfg(&b, 2, 9);
    a.cfg.rekey_frames = 50;
    a.cfg.max_frames = 100;
    ts_open(&a, 2, MP_SEC_REQUIRED);
    ts_open(&b, 1, MP_SEC_REQUIRED);
    ts_handshake(&a, &b, 0);
    uint8_t in[64], fr[128], out[128], kx[96];
    ts_inner(in, 40, 1);
    uint64_t now = 10 * SEC;
    TS_EQ(ms_link_next_deadline(a.link), 3600 * SEC); /* age-based rekey */
    for (int i = 0; i < 100; i++) {
        TS_EQ(a.link->tx.counter, i);
        int n = ms_seal(a.link, in, 40, now, fr, sizeof fr);
        TS_EQ(n, 72);
        TS_EQ(mp_get64(fr + 8), i);
        TS_EQ(ms_link_next_deadline(a.link) <= now, i >= 49);
    }
    TS_EQ(ms_seal(a.link, in, 40, now, fr, sizeof fr), MS_EEXHAUSTED);
    TS_EQ(ms_seal(a.link, in, 40, now, fr, sizeof fr), MS_EEXHAUSTED);
    TS_EQ(a.link->tx.counter, 100);
    TS_EQ(a.link->c.seal_refused, 2);
    unsigned ev;
    uint8_t r[96], c[96];
    TS_EQ(ms_link_timeout(a.link, now, kx, &ev), 96);
    TS_EQ(ms_kx_input(b.link, kx, 96, now, r, &ev), 96);
    TS_EQ(ms_kx_input(a.link, r, 96, now, c, &ev), 96);
    int n = ms_seal(a.link, in, 40, now, fr, sizeof fr);
    TS_EQ(n, 72);
    TS_EQ(fr[4], 1);
    TS_EQ(mp_get64(fr + 8), 0);
    TS_EQ(ms_open(b.link, fr, 72, now, out, sizeof out), 40);
    /* Age-based rekey at 1 h. */
    TS_EQ(ms_link_next_deadline(a.link), now + 3600 * SEC);
    TS_EQ(ms_link_timeout(a.link, now + 3600 * SEC, kx, &ev), 96);
    TS_EQ(kx[5], 2);
    /* Configuration limits: never above 2^32 frames per key (MSG-SEC-13). */
    ms_config cfg;
    ts_node t;
    ts_cfg(&t, 1, 1);
    cfg = t.cfg;
    cfg.max_frames = (1ull << 32) + 1;
    ms_ctx *x;
    TS_EQ(ms_ctx_create(&cfg, &x), MS_EINVAL);
    cfg = t.cfg;
    cfg.rekey_frames = cfg.max_frames;
    TS_EQ(ms_ctx_create(&cfg, &x), MS_EINVAL);
    cfg = t.cfg;
    cfg.cluster_key_len = 16;
    TS_EQ(ms_ctx_create(&cfg, &x), MS_EINVAL);
    ts_close(&a);
    ts_close(&b);
}

static void t_policy(void)
{
    static const int tbl[3][3] = {
        /* peer:      PLAIN          REQUIRED          TRANSITION */
        {MS_MODE_PLAIN, MS_MODE_NOLINK, MS_MODE_PLAIN},      /* local PLAIN */
        {MS_MODE_NOLINK, MS_MODE_SECURED, MS_MODE_SECURED},  /* local REQUIRED */
        {MS_MODE_PLAIN, MS_MODE_SECURED, MS_MODE_SECURED},   /* local TRANSITION */
    };
    for (int l = 0; l < 3; l++)
        for (int p = 0; p < 3; p++)
            TS_EQ(ms_mode_for((uint8_t)l, (uint8_t)p), tbl[l][p]);
    ts_node a;
    ts_cfg(&a, 1, 1);
    a.cfg.policy = MP_SEC_REQUIRED;
    TS_EQ(ms_ctx_create(&a.cfg, &a.ctx), 0);
    TS_EQ(ms_link_create(a.ctx, 2, MP_SEC_PLAIN, &a.link), MS_ENOLINK);
    ms_ctx_destroy(a.ctx);
    a.cfg.policy = MP_SEC_TRANSITION;
    ts_open(&a, 2, MP_SEC_PLAIN); /* transition + plain peer: a plain link */
    TS_CHECK(!ms_link_secured(a.link));
    TS_EQ(ms_check_plain(a.link, MP_T_DATA), 0);
    TS_EQ(a.link->c.plain_accepted, 1);
    uint8_t m[96];
    TS_EQ(ms_link_start(a.link, 0, m), MS_ESTATE);
    TS_EQ(ms_kx_input(a.link, m, 0, 0, m, NULL), MS_EMALFORMED);
    ts_close(&a);
    for (int e = 0; e > -MS_ERR_COUNT; e--)
        TS_CHECK(ms_strerror(e) != NULL && strcmp(ms_strerror(e), "unknown error") != 0);
    TS_CHECK(strcmp(ms_strerror(-MS_ERR_COUNT), "unknown error") == 0);
}

/* ---- Key files ---------------------------------------------------------------------- */

static char kdir[64];

static const char *kfile(const char *name, const void *data, size_t len, mode_t mode)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", kdir, name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    TS_CHECK(fd >= 0);
    TS_CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
    TS_CHECK(chmod(p, mode) == 0);
    return p;
}

static void t_keyfile(void)
{
    snprintf(kdir, sizeof kdir, "/tmp/ms-keyfile-XXXXXX");
    TS_CHECK(mkdtemp(kdir) != NULL);
    uid_t me = geteuid();
    uint8_t key[32], raw[32];
    char why[256];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)(i * 7 + 1);
    char hex[70];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02X", raw[i]);

    TS_EQ(ms_keyfile_load(kfile("raw", raw, 32, 0600), me, key, why, sizeof why), 0);
    TS_CHECK(memcmp(key, raw, 32) == 0);
    TS_EQ(ms_keyfile_load(kfile("ro", raw, 32, 0400), me, key, why, sizeof why), 0);
    TS_EQ(ms_keyfile_load(kfile("hex", hex, 64, 0600), me, key, why, sizeof why), 0);
    TS_CHECK(memcmp(key, raw, 32) == 0);
    hex[64] = '\n';
    TS_EQ(ms_keyfile_load(kfile("hexnl", hex, 65, 0600), me, key, why, sizeof why), 0);
    TS_CHECK(memcmp(key, raw, 32) == 0);
    hex[64] = '\r';
    hex[65] = '\n';
    TS_EQ(ms_keyfile_load(kfile("hexcrlf", hex, 66, 0600), me, key, why, sizeof why), 0);

    static const mode_t bad_modes[] = {0644, 0640, 0604, 0660, 0700, 0606, 04600, 0601};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        int rc = ms_keyfile_load(kfile("mode", raw, 32, bad_modes[i]), me, key, why, sizeof why);
        TS_EQ(rc, MS_EKEY_MODE);
        TS_CHECK(strstr(why, "must be 0600 or 0400") != NULL);
        for (int j = 0; j < 32; j++)
            TS_EQ(key[j], 0);
    }
    printf("bad mode -> %s\n", why);
    /* Symlink to a good file: refused (policy: no symlink as the last component). */
    char lp[128], tp[128];
    snprintf(tp, sizeof tp, "%s/raw", kdir);
    snprintf(lp, sizeof lp, "%s/link", kdir);
    TS_CHECK(symlink(tp, lp) == 0);
    TS_EQ(ms_keyfile_load(lp, me, key, why, sizeof why), MS_EKEY_SYMLINK);
    printf("symlink -> %s\n", why);
    TS_EQ(ms_keyfile_load(kdir, me, key, why, sizeof why), MS_EKEY_TYPE);
    TS_EQ(ms_keyfile_load("/dev/null", me, key, why, sizeof why), MS_EKEY_TYPE);
    snprintf(tp, sizeof tp, "%s/missing", kdir);
    TS_EQ(ms_keyfile_load(tp, me, key, why, sizeof why), MS_EKEY_OPEN);
    /* Formats */
    TS_EQ(ms_keyfile_load(kfile("short", raw, 31, 0600), me, key, why, sizeof why), MS_EKEY_FORMAT);
    uint8_t raw33[33] = {0};
    TS_EQ(ms_keyfile_load(kfile("long", raw33, 33, 0600), me, key, why, sizeof why), MS_EKEY_FORMAT);
    TS_EQ(ms_keyfile_load(kfile("empty", raw, 0, 0600), me, key, why, sizeof why), MS_EKEY_FORMAT);
    hex[3] = 'g';
    TS_EQ(ms_keyfile_load(kfile("badhex", hex, 64, 0600), me, key, why, sizeof why), MS_EKEY_FORMAT);
    TS_EQ(ms_keyfile_load(kfile("hex63", hex + 1, 63, 0600), me, key, why, sizeof why), MS_EKEY_FORMAT);
    static uint8_t big[4096];
    TS_EQ(ms_keyfile_load(kfile("big", big, sizeof big, 0600), me, key, why, sizeof why), MS_EKEY_FORMAT);
    /* Owner: a file of ours, the daemon being someone else. */
    if (me != 0) {
        TS_EQ(ms_keyfile_load(kfile("owner", raw, 32, 0600), me + 1, key, why, sizeof why),
              MS_EKEY_OWNER);
        printf("owner -> %s\n", why);
    } else {
        const char *p = kfile("owner", raw, 32, 0600);
        TS_CHECK(chown(p, 65534, 65534) == 0);
        TS_EQ(ms_keyfile_load(p, 1000, key, why, sizeof why), MS_EKEY_OWNER);
        printf("owner -> %s\n", why);
        TS_EQ(ms_keyfile_load(p, 65534, key, why, sizeof why), 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", kdir);
    TS_EQ(system(cmd), 0);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"handshake", t_handshake}, {"roundtrip", t_roundtrip},
        {"attacks", t_attacks},     {"wrongkey", t_wrong_cluster_key},
        {"kxloss", t_kx_loss},      {"collision", t_collision},
        {"rekey", t_rekey_stream},  {"restart", t_restart},
        {"exhaustion", t_exhaustion}, {"policy", t_policy},
        {"keyfile", t_keyfile},
    };
    const char *want = argc > 1 ? argv[1] : "all";
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!strcmp(want, "all") || !strcmp(want, tests[i].name)) {
            tests[i].fn();
            ran++;
        }
    if (!ran) {
        fprintf(stderr, "no test named %s\n", want);
        return 2;
    }
    printf("ok\n");
    return 0;
}
