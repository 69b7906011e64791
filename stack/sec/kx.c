/*
 * kx.c — the KEY_EXCHANGE handshake (RFC 12.2, 12.3), rekey and INIT retransmission.
 *
 *   I (lower node_id, or whoever rekeys)        R
 *   INIT  (pub_I, r_I, mac over INIT[0..64))   ->   verify, pick suite, derive keys,
 *                                                   hold them as *pending*
 *   <-  RESP (pub_R, r_R, mac over INIT || RESP[0..64))
 *   verify, derive, install send + receive keys
 *   CONFIRM (mac over INIT || RESP || CONFIRM[0..64)) ->  verify, promote pending keys
 *
 * The responder's keys stay pending (a candidate for input only) until CONFIRM or a first
 * SECURED frame that authenticates under them.  So a replayed old INIT (which anyone can
 * capture) never displaces working keys: its exchange can never be completed.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "ms_int.h"

static int ms_mac(const ms_ctx *ctx, const uint8_t *a, const uint8_t *b, const uint8_t *c,
                  uint8_t mac[MS_MAC_LEN])
{
    /* The frames before the last one enter whole (96 bytes, their mac included); the
     * last one up to its mac field. */
    const uint8_t *parts[3];
    size_t lens[3], n = 0;
    if (b) {
        parts[n] = a;
        lens[n++] = MP_KEY_EXCHANGE_LEN;
        if (c) {
            parts[n] = b;
            lens[n++] = MP_KEY_EXCHANGE_LEN;
            parts[n] = c;
        } else {
            parts[n] = b;
        }
    } else {
        parts[n] = a;
    }
    lens[n++] = MS_KX_OFF_MAC;
    return ms_hmac(ctx, ctx->kmac, sizeof ctx->kmac, parts, lens, n, mac);
}

static int ms_mac_verify(const ms_ctx *ctx, const uint8_t *a, const uint8_t *b,
                         const uint8_t *c, const uint8_t *last)
{
    uint8_t mac[MS_MAC_LEN];
    int rc = ms_mac(ctx, a, b, c, mac);
    if (rc < 0)
        return rc;
    rc = CRYPTO_memcmp(mac, last + MS_KX_OFF_MAC, MS_MAC_LEN) == 0 ? MS_OK : MS_EAUTH;
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

/* Encode a KEY_EXCHANGE with a zero mac (the caller computes it). */
static int ms_kx_encode(uint8_t out[MP_KEY_EXCHANGE_LEN], uint8_t phase, uint8_t key_id,
                        uint16_t suite, uint32_t node, uint32_t xid, const uint8_t *pub,
                        const uint8_t *random)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = MP_T_KEY_EXCHANGE;
    f.u.kx.phase = phase;
    f.u.kx.key_id = key_id;
    f.u.kx.suite = suite;
    f.u.kx.node_id = node;
    f.u.kx.exchange_id = xid;
    if (pub)
        memcpy(f.u.kx.public_key, pub, MS_PUB_LEN);
    if (random)
        memcpy(f.u.kx.random, random, MS_RANDOM_LEN);
    int n = mp_encode(&f, out, MP_KEY_EXCHANGE_LEN);
    return n == (int)MP_KEY_EXCHANGE_LEN ? MS_OK : MS_ECRYPTO;
}

/* RFC 12.3: PRK = HKDF-Extract(r_I || r_R, Z); per direction A->B
 * key = Expand(PRK, "messenger/1 key" || A || B || k || s, 32), iv likewise, 4. */
static int ms_derive(const ms_ctx *ctx, const uint8_t z[32], const uint8_t *r_i,
                     const uint8_t *r_r, uint32_t a, uint32_t b, uint8_t key_id,
                     uint16_t suite, ms_keymat *ab, ms_keymat *ba)
{
    uint8_t salt[2 * MS_RANDOM_LEN], prk[32];
    memcpy(salt, r_i, MS_RANDOM_LEN);
    memcpy(salt + MS_RANDOM_LEN, r_r, MS_RANDOM_LEN);
    int rc = ms_hkdf_extract(ctx, salt, sizeof salt, z, 32, prk);
    static const char lk[] = "messenger/1 key", li[] = "messenger/1 iv";
    for (int dir = 0; dir < 2 && rc == MS_OK; dir++) {
        uint8_t info[sizeof lk - 1 + 11];
        uint32_t from = dir ? b : a, to = dir ? a : b;
        ms_keymat *m = dir ? ba : ab;
        size_t o = sizeof lk - 1;
        memcpy(info, lk, o);
        mp_put32(info + o, from);
        mp_put32(info + o + 4, to);
        info[o + 8] = key_id;
        mp_put16(info + o + 9, suite);
        rc = ms_hkdf_expand(ctx, prk, info, o + 11, m->key, MS_KEY_LEN);
        if (rc == MS_OK) {
            o = sizeof li - 1;
            memcpy(info, li, o);
            mp_put32(info + o, from);
            mp_put32(info + o + 4, to);
            info[o + 8] = key_id;
            mp_put16(info + o + 9, suite);
            rc = ms_hkdf_expand(ctx, prk, info, o + 11, m->iv, MS_IV_LEN);
        }
    }
    OPENSSL_cleanse(prk, sizeof prk);
    return rc;
}

static bool ms_suite_ok(const ms_ctx *ctx, uint16_t s)
{
    return s == MP_SUITE_AES256GCM || (s == MP_SUITE_CHACHA20POLY1305 && ctx->cfg.chacha);
}

static void ms_kx_drop_priv(ms_kx *kx)
{
    EVP_PKEY_free(kx->priv);
    kx->priv = NULL;
}

/* ---- Initiator ------------------------------------------------------------------------ */

static int ms_send_init(ms_link *l, uint64_t now, uint8_t key_id, uint8_t *out)
{
    const ms_ctx *ctx = l->ctx;
    ms_kx nk;
    memset(&nk, 0, sizeof nk);
    uint8_t xid[4], rnd[MS_RANDOM_LEN], pub[MS_PUB_LEN];
    int rc = ms_rand(ctx, xid, sizeof xid);
    if (rc == MS_OK)
        rc = ms_rand(ctx, rnd, sizeof rnd);
    if (rc == MS_OK)
        rc = ms_x25519_new(ctx, &nk.priv, pub);
    if (rc == MS_OK)
        rc = ms_kx_encode(nk.init, MP_KX_INIT, key_id, ctx->cfg.suite, ctx->cfg.node_id,
                          mp_get32(xid), pub, rnd);
    if (rc == MS_OK)
        rc = ms_mac(ctx, nk.init, NULL, NULL, nk.init + MS_KX_OFF_MAC);
    if (rc < 0) {
        ms_kx_drop_priv(&nk);
        return rc;
    }
    ms_kx_drop_priv(&l->kx);
    nk.state = MS_KX_INIT_SENT;
    nk.key_id = key_id;
    nk.suite = ctx->cfg.suite;
    nk.xid = mp_get32(xid);
    nk.have_init = true;
    nk.tries = 1;
    nk.next_tx = now + ctx->cfg.kx_retransmit_ns;
    nk.retry_at = 0;
    l->kx = nk;
    /* A pending responder exchange is superseded by our own. */
    ms_pending_erase(&l->pend);
    memcpy(out, nk.init, MP_KEY_EXCHANGE_LEN);
    return (int)MP_KEY_EXCHANGE_LEN;
}

int ms_link_start(ms_link *l, uint64_t now, uint8_t out[MP_KEY_EXCHANGE_LEN])
{
    if (l->mode != MS_MODE_SECURED)
        return MS_ESTATE;
    if (l->ctx->cfg.node_id > l->peer)
        return 0; /* the lower node_id initiates; we wait for its INIT */
    if (l->kx.state == MS_KX_INIT_SENT)
        return 0; /* already running */
    return ms_send_init(l, now, l->tx.valid ? (uint8_t)(l->tx.key_id + 1) : 0, out);
}

int ms_link_rekey(ms_link *l, uint64_t now, uint8_t out[MP_KEY_EXCHANGE_LEN])
{
    if (l->mode != MS_MODE_SECURED || !l->tx.valid || l->kx.state == MS_KX_INIT_SENT ||
        l->kx.state == MS_KX_RESP_SENT)
        return MS_ESTATE;
    return ms_send_init(l, now, (uint8_t)(l->tx.key_id + 1), out);
}

static int ms_on_resp(ms_link *l, const uint8_t *fr, const mp_key_exchange *k, uint64_t now,
                      uint8_t *out, unsigned *ev)
{
    ms_kx *kx = &l->kx;
    const ms_ctx *ctx = l->ctx;
    if (!kx->have_init) {
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    int rc = ms_mac_verify(ctx, kx->init, fr, NULL, fr);
    if (rc == MS_EAUTH)
        l->c.auth_failures++;
    if (rc < 0)
        return rc;
    /* A repeated RESP of the exchange we completed: resend the same CONFIRM. */
    if (kx->done && kx->have_resp && kx->have_confirm &&
        memcmp(kx->resp, fr, MP_KEY_EXCHANGE_LEN) == 0) {
        l->c.kx_retransmits++;
        memcpy(out, kx->confirm, MP_KEY_EXCHANGE_LEN);
        return (int)MP_KEY_EXCHANGE_LEN;
    }
    if (kx->state != MS_KX_INIT_SENT || k->node_id != l->peer || k->exchange_id != kx->xid ||
        k->key_id != kx->key_id ||
        !(k->suite == kx->suite || k->suite == MP_SUITE_AES256GCM) || !ms_suite_ok(ctx, k->suite)) {
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    uint8_t z[32];
    rc = ms_x25519_derive(kx->priv, k->public_key, z);
    ms_kx_drop_priv(kx); /* forward secrecy: the ephemeral key is gone either way */
    ms_keymat ir, ri;
    memset(&ir, 0, sizeof ir);
    memset(&ri, 0, sizeof ri);
    if (rc == MS_OK)
        rc = ms_derive(ctx, z, kx->init + MS_KX_OFF_RANDOM, k->random, ctx->cfg.node_id,
                       l->peer, k->key_id, k->suite, &ir, &ri);
    OPENSSL_cleanse(z, sizeof z);
    ms_rxkey rk;
    memset(&rk, 0, sizeof rk);
    if (rc == MS_OK)
        rc = ms_rx_make(l, k->key_id, k->suite, &ri, now, &rk);
    if (rc == MS_OK)
        rc = ms_install_tx(l, k->key_id, k->suite, &ir, now);
    if (rc == MS_OK)
        ms_install_rx(l, &rk);
    if (rc == MS_OK)
        rc = ms_kx_encode(kx->confirm, MP_KX_CONFIRM, k->key_id, k->suite, ctx->cfg.node_id,
                          kx->xid, NULL, NULL);
    memcpy(kx->resp, fr, MP_KEY_EXCHANGE_LEN);
    kx->have_resp = true;
    if (rc == MS_OK)
        rc = ms_mac(ctx, kx->init, kx->resp, kx->confirm, kx->confirm + MS_KX_OFF_MAC);
    OPENSSL_cleanse(&ir, sizeof ir);
    OPENSSL_cleanse(&ri, sizeof ri);
    if (rk.ctx)
        ms_rx_erase(&rk);
    if (rc < 0) {
        kx->state = MS_KX_FAILED;
        kx->retry_at = now + ctx->cfg.kx_retransmit_ns * ctx->cfg.kx_max_tries;
        l->c.kx_failed++;
        if (ev)
            *ev |= MS_EV_KX_FAILED;
        return rc == MS_EKX_FAILED ? rc : MS_EKX_FAILED;
    }
    kx->suite = k->suite;
    kx->have_confirm = true;
    kx->done = true;
    kx->state = MS_KX_IDLE;
    l->c.kx_completed++;
    if (ev)
        *ev |= MS_EV_SEND_READY;
    memcpy(out, kx->confirm, MP_KEY_EXCHANGE_LEN);
    return (int)MP_KEY_EXCHANGE_LEN;
}

/* ---- Responder -------------------------------------------------------------------------- */

static int ms_on_init(ms_link *l, const uint8_t *fr, const mp_key_exchange *k, uint64_t now,
                      uint8_t *out)
{
    ms_kx *kx = &l->kx;
    const ms_ctx *ctx = l->ctx;
    int rc = ms_mac_verify(ctx, fr, NULL, NULL, fr);
    if (rc == MS_EAUTH)
        l->c.auth_failures++;
    if (rc < 0)
        return rc;
    if (k->node_id != l->peer) {
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    if (kx->have_init && kx->have_resp && !kx->priv &&
        memcmp(kx->init, fr, MP_KEY_EXCHANGE_LEN) == 0) {
        if (kx->state == MS_KX_RESP_SENT) {
            /* A repeated INIT: the same RESP, no new key material (RFC 12.2). */
            l->c.kx_retransmits++;
            memcpy(out, kx->resp, MP_KEY_EXCHANGE_LEN);
            return (int)MP_KEY_EXCHANGE_LEN;
        }
        /* The INIT of an exchange that completed.  Its initiator already has the RESP,
         * so this is a duplicate, a replay, or a restarted initiator whose RNG repeated
         * itself.  Answering with the cached RESP would hand that last one the old
         * session keys with its counters back at 0: (key, nonce) reuse.  Drop it. */
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    if (kx->state == MS_KX_INIT_SENT) {
        l->c.kx_collisions++;
        if (ctx->cfg.node_id < l->peer)
            return 0; /* our INIT wins; the peer abandons its own */
    }
    uint16_t suite = ms_suite_ok(ctx, k->suite) ? k->suite : MP_SUITE_AES256GCM;
    EVP_PKEY *priv = NULL;
    uint8_t pub[MS_PUB_LEN], rnd[MS_RANDOM_LEN], z[32], resp[MP_KEY_EXCHANGE_LEN];
    ms_keymat ir, ri;
    ms_pending np;
    memset(&ir, 0, sizeof ir);
    memset(&ri, 0, sizeof ri);
    memset(&np, 0, sizeof np);
    rc = ms_rand(ctx, rnd, sizeof rnd);
    if (rc == MS_OK)
        rc = ms_x25519_new(ctx, &priv, pub);
    if (rc == MS_OK)
        rc = ms_x25519_derive(priv, k->public_key, z);
    EVP_PKEY_free(priv);
    if (rc == MS_OK)
        rc = ms_derive(ctx, z, k->random, rnd, l->peer, ctx->cfg.node_id, k->key_id, suite,
                       &ir, &ri);
    OPENSSL_cleanse(z, sizeof z);
    if (rc == MS_OK)
        rc = ms_rx_make(l, k->key_id, suite, &ir, now, &np.rx);
    if (rc == MS_OK)
        rc = ms_kx_encode(resp, MP_KX_RESP, k->key_id, suite, ctx->cfg.node_id,
                          k->exchange_id, pub, rnd);
    if (rc == MS_OK)
        rc = ms_mac(ctx, fr, resp, NULL, resp + MS_KX_OFF_MAC);
    np.tx = ri;
    np.valid = true;
    OPENSSL_cleanse(&ir, sizeof ir);
    OPENSSL_cleanse(&ri, sizeof ri);
    if (rc < 0) {
        ms_pending_erase(&np);
        if (rc == MS_EKX_FAILED) {
            l->c.kx_failed++;
            return rc;
        }
        return rc;
    }
    /* Commit: the new exchange replaces any previous one (and our own losing INIT). */
    ms_kx_drop_priv(kx);
    ms_pending_erase(&l->pend);
    l->pend = np;
    uint64_t retry_at = kx->retry_at;
    memset(kx, 0, sizeof *kx);
    kx->state = MS_KX_RESP_SENT;
    kx->key_id = k->key_id;
    kx->suite = suite;
    kx->xid = k->exchange_id;
    memcpy(kx->init, fr, MP_KEY_EXCHANGE_LEN);
    memcpy(kx->resp, resp, MP_KEY_EXCHANGE_LEN);
    kx->have_init = kx->have_resp = true;
    kx->retry_at = retry_at;
    /* Give the initiator as long as its INIT retries last, then forget the exchange. */
    kx->next_tx = now + ctx->cfg.kx_retransmit_ns * ctx->cfg.kx_max_tries;
    memcpy(out, resp, MP_KEY_EXCHANGE_LEN);
    return (int)MP_KEY_EXCHANGE_LEN;
}

int ms_promote_pending(ms_link *l, uint64_t now)
{
    ms_pending *p = &l->pend;
    int rc = ms_install_tx(l, p->rx.key_id, p->rx.suite, &p->tx, now);
    if (rc < 0)
        return rc;
    ms_install_rx(l, &p->rx);
    ms_pending_erase(p);
    if (l->kx.state == MS_KX_RESP_SENT) {
        l->kx.state = MS_KX_IDLE;
        l->kx.done = true;
        l->c.kx_completed++;
    }
    return MS_OK;
}

static int ms_on_confirm(ms_link *l, const uint8_t *fr, const mp_key_exchange *k,
                         uint64_t now, unsigned *ev)
{
    ms_kx *kx = &l->kx;
    if (!kx->have_init || !kx->have_resp || kx->priv) {
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    int rc = ms_mac_verify(l->ctx, kx->init, kx->resp, fr, fr);
    if (rc == MS_EAUTH)
        l->c.auth_failures++;
    if (rc < 0)
        return rc;
    if (k->node_id != l->peer || k->exchange_id != kx->xid || k->key_id != kx->key_id ||
        k->suite != kx->suite) {
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    if (kx->state != MS_KX_RESP_SENT || !l->pend.valid)
        return 0; /* already proven by a SECURED frame: nothing to do */
    rc = ms_promote_pending(l, now);
    if (rc < 0)
        return rc;
    if (ev)
        *ev |= MS_EV_SEND_READY;
    return 0;
}

int ms_kx_input(ms_link *l, const uint8_t *frame, size_t len, uint64_t now,
                uint8_t out[MP_KEY_EXCHANGE_LEN], unsigned *events)
{
    if (events)
        *events = 0;
    mp_frame f;
    int rc = mp_decode(frame, len, &f);
    if (rc < 0 || f.hdr.type != MP_T_KEY_EXCHANGE) {
        l->c.kx_malformed++;
        return MS_EMALFORMED;
    }
    if (l->mode != MS_MODE_SECURED) {
        l->c.kx_unexpected++;
        return MS_EKX;
    }
    switch (f.u.kx.phase) {
    case MP_KX_INIT:
        return ms_on_init(l, frame, &f.u.kx, now, out);
    case MP_KX_RESP:
        return ms_on_resp(l, frame, &f.u.kx, now, out, events);
    default:
        return ms_on_confirm(l, frame, &f.u.kx, now, events);
    }
}

int ms_link_timeout(ms_link *l, uint64_t now, uint8_t out[MP_KEY_EXCHANGE_LEN],
                    unsigned *events)
{
    if (events)
        *events = 0;
    const ms_config *cfg = &l->ctx->cfg;
    for (int i = 0; i < 2; i++)
        if (l->rx[i].valid && l->rx[i].expires && now >= l->rx[i].expires) {
            ms_rx_erase(&l->rx[i]);
            l->c.keys_erased++;
        }
    ms_kx *kx = &l->kx;
    if (kx->state == MS_KX_INIT_SENT) {
        if (now < kx->next_tx)
            return 0;
        if (kx->tries >= cfg->kx_max_tries) {
            ms_kx_drop_priv(kx);
            kx->state = MS_KX_FAILED;
            kx->have_init = false;
            kx->retry_at = now + cfg->kx_retransmit_ns * cfg->kx_max_tries;
            l->c.kx_failed++;
            if (events)
                *events |= MS_EV_KX_FAILED;
            return 0;
        }
        kx->tries++;
        kx->next_tx = now + cfg->kx_retransmit_ns;
        l->c.kx_retransmits++;
        memcpy(out, kx->init, MP_KEY_EXCHANGE_LEN);
        return (int)MP_KEY_EXCHANGE_LEN;
    }
    if (kx->state == MS_KX_RESP_SENT && now >= kx->next_tx) {
        /* No CONFIRM and no frame under the new key: the initiator gave up. */
        ms_pending_erase(&l->pend);
        kx->state = MS_KX_FAILED;
        l->c.kx_failed++;
        if (events)
            *events |= MS_EV_KX_FAILED;
    }
    if (l->tx.valid && l->mode == MS_MODE_SECURED &&
        (kx->state == MS_KX_IDLE || kx->state == MS_KX_FAILED) && now >= kx->retry_at &&
        (l->rekey_due || now - l->tx.installed >= cfg->rekey_interval_ns))
        return ms_send_init(l, now, (uint8_t)(l->tx.key_id + 1), out);
    return 0;
}
