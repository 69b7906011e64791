/*
 * link.c — contexts, links, the SECURED data path (seal/open, replay window, key slots),
 * the plaintext policy gate, timers and introspection.  The handshake is in kx.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ms_int.h"

static const char *const ms_errs[MS_ERR_COUNT] = {
    "success",
    "invalid argument",
    "out of memory",
    "cryptographic library failure",
    "random number generator failed",
    "output buffer too small",
    "not allowed in the current state",
    "malformed SECURED or KEY_EXCHANGE frame",
    "no receive key for this key id",
    "replayed frame",
    "authentication failed",
    "authenticated inner frame is invalid",
    "plaintext frame refused on a secured link",
    "send counter exhausted: rekey required",
    "KEY_EXCHANGE matches no exchange in progress",
    "security policies of the two nodes allow no link",
    "key exchange failed",
    "cannot open or read the cluster key file",
    "cluster key file is a symbolic link",
    "cluster key file is not a regular file",
    "cluster key file has the wrong owner (must be root or the daemon user)",
    "cluster key file is accessible by group or others (mode must be 0600 or 0400)",
    "cluster key file must hold 32 raw bytes or 64 hex digits",
};

const char *ms_strerror(int err)
{
    if (err > 0 || err <= -MS_ERR_COUNT)
        return "unknown error";
    return ms_errs[-err];
}

const char *ms_kx_state_name(int state)
{
    switch (state) {
    case MS_KX_IDLE: return "idle";
    case MS_KX_INIT_SENT: return "init-sent";
    case MS_KX_RESP_SENT: return "resp-sent";
    case MS_KX_FAILED: return "failed";
    default: return "?";
    }
}

const char *ms_suite_name(uint16_t suite)
{
    switch (suite) {
    case MP_SUITE_AES256GCM: return "AES256GCM";
    case MP_SUITE_CHACHA20POLY1305: return "CHACHA20POLY1305";
    default: return "none";
    }
}

/* ---- Context ------------------------------------------------------------------------ */

void ms_config_default(ms_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->policy = MP_SEC_REQUIRED;
    cfg->suite = MP_SUITE_AES256GCM;
    cfg->chacha = true;
    cfg->tolerance_ms = MP_TOLERANCE_DEF_MS;
    cfg->kx_retransmit_ns = 250 * MS_NS_PER_MS;
    cfg->kx_max_tries = 10;
    cfg->rekey_interval_ns = 3600ull * 1000 * MS_NS_PER_MS;
    cfg->rekey_frames = 1ull << 31;
    cfg->max_frames = 1ull << 32;
}

uint64_t ms_grace(const ms_ctx *ctx)
{
    if (ctx->cfg.grace_ns)
        return ctx->cfg.grace_ns;
    uint64_t g = 2ull * ctx->cfg.tolerance_ms * MS_NS_PER_MS;
    return g > 1000 * MS_NS_PER_MS ? g : 1000 * MS_NS_PER_MS;
}

static int ms_config_check(const ms_config *c)
{
    if (c->node_id == 0 || c->node_id == 0xFFFFFFFFu)
        return MS_EINVAL;
    if (!c->cluster_key || c->cluster_key_len < MS_CLUSTER_KEY_LEN)
        return MS_EINVAL;
    if (c->policy > MP_SEC_TRANSITION)
        return MS_EINVAL;
    if (c->suite != MP_SUITE_AES256GCM && !(c->suite == MP_SUITE_CHACHA20POLY1305 && c->chacha))
        return MS_EINVAL;
    if (c->tolerance_ms < MP_TOLERANCE_MIN_MS || c->tolerance_ms > MP_TOLERANCE_MAX_MS)
        return MS_EINVAL;
    /* RFC section 13 ranges */
    if (c->kx_retransmit_ns < 10 * MS_NS_PER_MS || c->kx_retransmit_ns > 5000 * MS_NS_PER_MS)
        return MS_EINVAL;
    if (c->kx_max_tries < 1 || c->kx_max_tries > 1000)
        return MS_EINVAL;
    if (c->rekey_interval_ns < 60000 * MS_NS_PER_MS ||
        c->rekey_interval_ns > 24ull * 3600 * 1000 * MS_NS_PER_MS)
        return MS_EINVAL;
    /* MSG-SEC-13: never more than 2^32 frames under one key; the rekey starts earlier. */
    if (c->max_frames < 2 || c->max_frames > (1ull << 32))
        return MS_EINVAL;
    if (c->rekey_frames < 1 || c->rekey_frames >= c->max_frames)
        return MS_EINVAL;
    return MS_OK;
}

int ms_ctx_create(const ms_config *cfg, ms_ctx **out)
{
    *out = NULL;
    int rc = ms_config_check(cfg);
    if (rc < 0)
        return rc;
    ms_ctx *x = calloc(1, sizeof *x);
    if (!x)
        return MS_ENOMEM;
    x->cfg = *cfg;
    x->cfg.cluster_key = NULL;
    x->aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    x->chacha = cfg->chacha ? EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL) : NULL;
    x->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    x->hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!x->aes || (cfg->chacha && !x->chacha) || !x->hmac || !x->hkdf) {
        ms_ctx_destroy(x);
        return MS_ECRYPTO;
    }
    /* K_mac = HKDF-SHA256(IKM = K_c, salt = domain, info = "messenger/1 kx-mac", 32) */
    uint8_t salt[4], prk[32];
    static const char info[] = "messenger/1 kx-mac";
    mp_put32(salt, cfg->domain);
    rc = ms_hkdf_extract(x, salt, sizeof salt, cfg->cluster_key, cfg->cluster_key_len, prk);
    if (rc == MS_OK)
        rc = ms_hkdf_expand(x, prk, (const uint8_t *)info, sizeof info - 1, x->kmac,
                            sizeof x->kmac);
    OPENSSL_cleanse(prk, sizeof prk);
    if (rc < 0) {
        ms_ctx_destroy(x);
        return rc;
    }
    *out = x;
    return MS_OK;
}

void ms_ctx_destroy(ms_ctx *x)
{
    if (!x)
        return;
    EVP_CIPHER_free(x->aes);
    EVP_CIPHER_free(x->chacha);
    EVP_MAC_free(x->hmac);
    EVP_KDF_free(x->hkdf);
    OPENSSL_cleanse(x, sizeof *x);
    free(x);
}

int ms_mode_for(uint8_t local, uint8_t peer)
{
    if (local > MP_SEC_TRANSITION || peer > MP_SEC_TRANSITION)
        return MS_MODE_NOLINK;
    if (local == MP_SEC_PLAIN)
        return peer == MP_SEC_REQUIRED ? MS_MODE_NOLINK : MS_MODE_PLAIN;
    if (local == MP_SEC_REQUIRED)
        return peer == MP_SEC_PLAIN ? MS_MODE_NOLINK : MS_MODE_SECURED;
    return peer == MP_SEC_PLAIN ? MS_MODE_PLAIN : MS_MODE_SECURED; /* TRANSITION */
}

/* ---- Keys ----------------------------------------------------------------------------- */

void ms_rx_erase(ms_rxkey *k)
{
    EVP_CIPHER_CTX_free(k->ctx); /* clears the key schedule */
    OPENSSL_cleanse(k, sizeof *k);
}

static void ms_tx_erase(ms_txkey *k)
{
    EVP_CIPHER_CTX_free(k->ctx);
    OPENSSL_cleanse(k, sizeof *k);
}

void ms_pending_erase(ms_pending *p)
{
    ms_rx_erase(&p->rx);
    OPENSSL_cleanse(p, sizeof *p);
}

int ms_rx_make(ms_link *l, uint8_t key_id, uint16_t suite, const ms_keymat *m, uint64_t now,
               ms_rxkey *out)
{
    memset(out, 0, sizeof *out);
    out->ctx = ms_aead_new(l->ctx, suite, m->key, 0);
    if (!out->ctx)
        return MS_ECRYPTO;
    out->valid = true;
    out->key_id = key_id;
    out->suite = suite;
    memcpy(out->iv, m->iv, MS_IV_LEN);
    out->installed = now;
    return MS_OK;
}

void ms_install_rx(ms_link *l, ms_rxkey *k)
{
    ms_rxkey *slot = NULL;
    for (int i = 0; i < 2 && !slot; i++)
        if (l->rx[i].valid && l->rx[i].key_id == k->key_id)
            slot = &l->rx[i];
    for (int i = 0; i < 2 && !slot; i++)
        if (!l->rx[i].valid)
            slot = &l->rx[i];
    if (!slot) /* at most two receive keys (RFC 12.6): the older goes */
        slot = l->rx[0].gen < l->rx[1].gen ? &l->rx[0] : &l->rx[1];
    if (slot->valid) {
        ms_rx_erase(slot);
        l->c.keys_erased++;
    }
    *slot = *k;
    slot->gen = ++l->rx_gen;
    memset(k, 0, sizeof *k); /* ownership of the cipher context moved */
}

int ms_install_tx(ms_link *l, uint8_t key_id, uint16_t suite, const ms_keymat *m, uint64_t now)
{
    EVP_CIPHER_CTX *c = ms_aead_new(l->ctx, suite, m->key, 1);
    if (!c)
        return MS_ECRYPTO;
    ms_tx_erase(&l->tx);
    l->tx.valid = true;
    l->tx.key_id = key_id;
    l->tx.suite = suite;
    memcpy(l->tx.iv, m->iv, MS_IV_LEN);
    memcpy(l->tx.key, m->key, MS_KEY_LEN);
    l->tx.ctx = c;
    l->tx.counter = 0;
    l->tx.installed = now;
    if (l->had_key)
        l->c.rekeys++;
    l->had_key = true;
    l->rekey_due = false;
    l->kx.retry_at = 0;
    return MS_OK;
}

/* ---- Links ------------------------------------------------------------------------------ */

int ms_link_create(ms_ctx *ctx, uint32_t peer_id, uint8_t peer_policy, ms_link **out)
{
    *out = NULL;
    if (!ctx || peer_id == 0 || peer_id == 0xFFFFFFFFu || peer_id == ctx->cfg.node_id)
        return MS_EINVAL;
    int mode = ms_mode_for(ctx->cfg.policy, peer_policy);
    if (mode == MS_MODE_NOLINK)
        return MS_ENOLINK;
    ms_link *l = calloc(1, sizeof *l);
    if (!l)
        return MS_ENOMEM;
    l->ctx = ctx;
    l->peer = peer_id;
    l->mode = mode;
    *out = l;
    return MS_OK;
}

void ms_link_reset(ms_link *l)
{
    ms_tx_erase(&l->tx);
    ms_rx_erase(&l->rx[0]);
    ms_rx_erase(&l->rx[1]);
    ms_pending_erase(&l->pend);
    EVP_PKEY_free(l->kx.priv);
    OPENSSL_cleanse(&l->kx, sizeof l->kx);
    l->had_key = false;
    l->rekey_due = false;
}

void ms_link_destroy(ms_link *l)
{
    if (!l)
        return;
    ms_link_reset(l);
    OPENSSL_cleanse(l, sizeof *l);
    free(l);
}

int ms_link_mode(const ms_link *l) { return l->mode; }
bool ms_link_secured(const ms_link *l) { return l->mode == MS_MODE_SECURED; }
bool ms_link_can_send(const ms_link *l) { return l->tx.valid; }

int ms_check_plain(ms_link *l, uint8_t type)
{
    if (type == MP_T_DISCOVER || type == MP_T_KEY_EXCHANGE || l->mode == MS_MODE_PLAIN) {
        if (type != MP_T_DISCOVER && type != MP_T_KEY_EXCHANGE)
            l->c.plain_accepted++;
        return MS_OK;
    }
    l->c.plain_refused++;
    return MS_EPLAIN;
}

/* ---- Replay window (RFC 12.5) -----------------------------------------------------------
 * Bit (c mod W) stands for counter c while H - W < c <= H.  check() is pure; update() is
 * called only after the tag verified, so forgeries never move the window. */

bool ms_replay_check(const ms_replay *r, uint64_t c)
{
    if (!r->any || c > r->highest)
        return true;
    if (r->highest - c >= MS_REPLAY_WINDOW)
        return false;
    uint64_t i = c % MS_REPLAY_WINDOW;
    return !((r->bits[i / 64] >> (i % 64)) & 1u);
}

void ms_replay_update(ms_replay *r, uint64_t c)
{
    if (!r->any) {
        memset(r->bits, 0, sizeof r->bits);
        r->any = true;
        r->highest = c;
    } else if (c > r->highest) {
        if (c - r->highest >= MS_REPLAY_WINDOW) {
            memset(r->bits, 0, sizeof r->bits);
        } else {
            for (uint64_t x = r->highest + 1; x < c; x++) {
                uint64_t i = x % MS_REPLAY_WINDOW;
                r->bits[i / 64] &= ~(1ull << (i % 64));
            }
        }
        r->highest = c;
    }
    uint64_t i = c % MS_REPLAY_WINDOW;
    r->bits[i / 64] |= 1ull << (i % 64);
}

/* ---- Seal -------------------------------------------------------------------------------- */

static void ms_nonce(uint8_t n[MS_NONCE_LEN], const uint8_t iv[MS_IV_LEN], uint64_t counter)
{
    memcpy(n, iv, MS_IV_LEN);
    mp_put64(n + MS_IV_LEN, counter);
}

static bool ms_inner_type_ok(uint8_t t)
{
    return t != MP_T_SECURED && t != MP_T_KEY_EXCHANGE && t != MP_T_DISCOVER;
}

static bool ms_overlap(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + blen && pb < pa + alen;
}

int ms_seal(ms_link *l, const uint8_t *inner, size_t len, uint64_t now, uint8_t *out,
            size_t cap)
{
    (void)now;
    if (len < MP_COMMON_HDR_LEN || len > MP_MAX_FRAME - MS_OVERHEAD ||
        mp_get16(inner + 2) != len || (inner[0] >> 4) != MP_VERSION ||
        !ms_inner_type_ok(inner[1]))
        return MS_EINVAL;
    if (inner != out + MP_SECURED_HDR_LEN && ms_overlap(inner, len, out, len + MS_OVERHEAD))
        return MS_EINVAL;
    if (cap < len + MS_OVERHEAD)
        return MS_ENOSPC;
    ms_txkey *k = &l->tx;
    if (!k->valid) {
        l->c.seal_refused++;
        return MS_ESTATE;
    }
    if (k->counter >= l->ctx->cfg.max_frames) {
        /* MSG-SEC-13: a key is never used beyond max_frames; the rekey started long
         * ago at rekey_frames and this is the backstop. */
        l->c.seal_refused++;
        l->rekey_due = true;
        return MS_EEXHAUSTED;
    }
    uint8_t hdr[MP_SECURED_HDR_LEN], nonce[MS_NONCE_LEN];
    hdr[0] = (uint8_t)(MP_VERSION << 4);
    hdr[1] = MP_T_SECURED;
    mp_put16(hdr + 2, (uint16_t)(len + MS_OVERHEAD));
    hdr[4] = k->key_id;
    hdr[5] = hdr[6] = hdr[7] = 0;
    mp_put64(hdr + 8, k->counter);
    ms_nonce(nonce, k->iv, k->counter);
    int outl = 0, fl = 0;
    uint8_t *ct = out + MP_SECURED_HDR_LEN;
    if (EVP_EncryptInit_ex2(k->ctx, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(k->ctx, NULL, &outl, hdr, sizeof hdr) != 1 ||
        EVP_EncryptUpdate(k->ctx, ct, &outl, inner, (int)len) != 1 ||
        EVP_EncryptFinal_ex(k->ctx, ct + outl, &fl) != 1 || (size_t)(outl + fl) != len ||
        EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_AEAD_GET_TAG, MP_SECURED_TAG_LEN, ct + len) != 1)
        return MS_ECRYPTO; /* the counter is not reused: it advances below only on success,
                            * but nothing was sent either */
    memcpy(out, hdr, sizeof hdr);
    k->counter++;
    l->c.sealed++;
    if (k->counter >= l->ctx->cfg.rekey_frames)
        l->rekey_due = true;
    return (int)(len + MS_OVERHEAD);
}

/* ---- Open -------------------------------------------------------------------------------- */

/* Decrypt and verify with one receive key.  out holds nothing on failure. */
static int ms_try_open(ms_rxkey *k, const mp_secured *s, uint8_t *out)
{
    uint8_t nonce[MS_NONCE_LEN];
    ms_nonce(nonce, k->iv, s->counter);
    int outl = 0, fl = 0;
    size_t n = s->ciphertext.len;
    int ok = EVP_DecryptInit_ex2(k->ctx, NULL, NULL, nonce, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_AEAD_SET_TAG, MP_SECURED_TAG_LEN,
                                 (void *)s->tag) == 1 &&
             EVP_DecryptUpdate(k->ctx, NULL, &outl, s->aad.ptr, (int)s->aad.len) == 1 &&
             EVP_DecryptUpdate(k->ctx, out, &outl, s->ciphertext.ptr, (int)n) == 1 &&
             EVP_DecryptFinal_ex(k->ctx, out + outl, &fl) == 1 && (size_t)(outl + fl) == n;
    if (!ok) {
        OPENSSL_cleanse(out, n);
        return MS_EAUTH;
    }
    return MS_OK;
}

static void ms_rx_expire(ms_link *l, uint64_t now)
{
    for (int i = 0; i < 2; i++)
        if (l->rx[i].valid && l->rx[i].expires && now >= l->rx[i].expires) {
            ms_rx_erase(&l->rx[i]);
            l->c.keys_erased++;
        }
}

int ms_open(ms_link *l, const uint8_t *frame, size_t len, uint64_t now, uint8_t *out,
            size_t cap)
{
    mp_frame f;
    int rc = mp_decode(frame, len, &f);
    if (rc < 0 || f.hdr.type != MP_T_SECURED) {
        l->c.malformed++;
        return MS_EMALFORMED;
    }
    const mp_secured *s = &f.u.secured;
    size_t n = s->ciphertext.len;
    if (out != frame + MP_SECURED_HDR_LEN && ms_overlap(out, n, frame, (size_t)rc))
        return MS_EINVAL;
    if (cap < n) {
        l->c.rx_small_buf++;
        return MS_ENOSPC;
    }
    ms_rx_expire(l, now);

    /* Candidates: the receive slot with this key_id, then the responder's pending key
     * with this key_id (RFC 12.2: a first authenticated frame proves the initiator holds
     * it).  Trying the pending key even when a slot matches covers a peer that restarted
     * and reuses key_id 0 while we still hold its previous incarnation's key 0. */
    ms_rxkey *cand[2];
    int nc = 0;
    for (int i = 0; i < 2; i++)
        if (l->rx[i].valid && l->rx[i].key_id == s->key_id)
            cand[nc++] = &l->rx[i];
    if (l->pend.valid && l->pend.rx.key_id == s->key_id)
        cand[nc++] = &l->pend.rx;
    if (nc == 0) {
        l->c.wrong_key_id++;
        return MS_EKEYID;
    }
    int first_err = 0;
    ms_rxkey *k = NULL;
    for (int i = 0; i < nc && !k; i++) {
        int e = ms_replay_check(&cand[i]->rp, s->counter) ? ms_try_open(cand[i], s, out)
                                                           : MS_EREPLAY;
        if (e == MS_OK)
            k = cand[i];
        else if (!first_err)
            first_err = e;
    }
    if (!k) {
        if (first_err == MS_EREPLAY)
            l->c.replays++;
        else
            l->c.decrypt_fail++;
        return first_err;
    }
    ms_replay_update(&k->rp, s->counter);
    if (k == &l->pend.rx) {
        rc = ms_promote_pending(l, now);
        if (rc < 0) { /* could not build the send context; keep receiving */
            OPENSSL_cleanse(out, n);
            return rc;
        }
        k = NULL;
        for (int i = 0; i < 2; i++)
            if (l->rx[i].valid && l->rx[i].gen == l->rx_gen)
                k = &l->rx[i];
    }
    if (k && !k->used) {
        /* The peer sends under this key now: older receive keys live for the grace
         * period only (RFC 12.6), so frames it sealed before the switch still open. */
        k->used = true;
        for (int i = 0; i < 2; i++)
            if (&l->rx[i] != k && l->rx[i].valid && l->rx[i].gen < k->gen && !l->rx[i].expires)
                l->rx[i].expires = now + ms_grace(l->ctx);
    }
    /* Step 5: the plaintext must be exactly one frame of an allowed type. */
    mp_hdr h;
    if (n < MP_COMMON_HDR_LEN || mp_hdr_decode(out, n, &h) < 0 || h.length != n ||
        !ms_inner_type_ok(h.type)) {
        OPENSSL_cleanse(out, n);
        l->c.inner_bad++;
        return MS_EINNER;
    }
    l->c.opened++;
    return (int)n;
}

/* ---- Timers ------------------------------------------------------------------------------ */

uint64_t ms_link_next_deadline(const ms_link *l)
{
    uint64_t d = UINT64_MAX;
    for (int i = 0; i < 2; i++)
        if (l->rx[i].valid && l->rx[i].expires && l->rx[i].expires < d)
            d = l->rx[i].expires;
    if ((l->kx.state == MS_KX_INIT_SENT || l->kx.state == MS_KX_RESP_SENT) &&
        l->kx.next_tx < d)
        d = l->kx.next_tx;
    if (l->tx.valid && (l->kx.state == MS_KX_IDLE || l->kx.state == MS_KX_FAILED)) {
        uint64_t r = l->rekey_due ? 0 : l->tx.installed + l->ctx->cfg.rekey_interval_ns;
        if (r < l->kx.retry_at)
            r = l->kx.retry_at;
        if (r < d)
            d = r;
    }
    return d;
}

void ms_link_get_info(const ms_link *l, uint64_t now, ms_link_info *o)
{
    memset(o, 0, sizeof *o);
    o->peer = l->peer;
    o->mode = l->mode;
    o->kx_state = l->kx.state;
    o->send_ready = l->tx.valid;
    if (l->tx.valid) {
        o->suite = l->tx.suite;
        o->tx_key_id = l->tx.key_id;
        o->tx_key_age_ns = now - l->tx.installed;
        o->tx_counter = l->tx.counter;
    }
    for (int i = 0; i < 2; i++)
        if (l->rx[i].valid) {
            o->rx_key_id[o->rx_keys] = l->rx[i].key_id;
            o->rx_highest[o->rx_keys] = l->rx[i].rp.highest;
            o->rx_keys++;
        }
    o->c = l->c;
}
