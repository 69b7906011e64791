/*
 * ms_int.h — internals of stack/sec, shared by its .c files and white-box tests (the
 * restart test reads session keys; the fuzz target resets replay windows).  Not API.
 */
#ifndef MS_INT_H
#define MS_INT_H

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "ms.h"

#define MS_KEY_LEN 32u
#define MS_IV_LEN 4u
#define MS_NONCE_LEN 12u
#define MS_MAC_LEN 32u
#define MS_RANDOM_LEN 16u
#define MS_PUB_LEN 32u
#define MS_REPLAY_WINDOW 2048u /* bits; RFC minimum 1024 */
#define MS_REPLAY_WORDS (MS_REPLAY_WINDOW / 64u)

/* Offsets in a KEY_EXCHANGE frame (wire.h comment). */
#define MS_KX_OFF_PHASE 4u
#define MS_KX_OFF_KEYID 5u
#define MS_KX_OFF_SUITE 6u
#define MS_KX_OFF_NODE 8u
#define MS_KX_OFF_XID 12u
#define MS_KX_OFF_PUB 16u
#define MS_KX_OFF_RANDOM 48u
#define MS_KX_OFF_MAC 64u

struct ms_ctx {
    ms_config cfg;        /* cluster_key pointer cleared */
    uint8_t kmac[MS_MAC_LEN];
    EVP_CIPHER *aes, *chacha;
    EVP_MAC *hmac;
    EVP_KDF *hkdf;
};

/* One direction's key material as derived. */
typedef struct ms_keymat {
    uint8_t key[MS_KEY_LEN];
    uint8_t iv[MS_IV_LEN];
} ms_keymat;

typedef struct ms_replay {
    bool any;             /* a counter was accepted */
    uint64_t highest;
    uint64_t bits[MS_REPLAY_WORDS]; /* bit (c mod W) set: c seen, for c in (H-W, H] */
} ms_replay;

typedef struct ms_rxkey {
    bool valid;
    bool used;            /* authenticated at least one frame */
    uint8_t key_id;
    uint16_t suite;
    uint8_t iv[MS_IV_LEN];
    EVP_CIPHER_CTX *ctx;  /* initialised with the key, decrypt */
    uint64_t expires;     /* 0 = no expiry scheduled */
    uint64_t installed;
    uint64_t gen;         /* installation order, to tell older from newer */
    ms_replay rp;
} ms_rxkey;

typedef struct ms_txkey {
    bool valid;
    uint8_t key_id;
    uint16_t suite;
    uint8_t iv[MS_IV_LEN];
    uint8_t key[MS_KEY_LEN]; /* kept only so white-box tests can record (key, nonce) */
    EVP_CIPHER_CTX *ctx;  /* initialised with the key, encrypt */
    uint64_t counter;     /* next to use */
    uint64_t installed;
} ms_txkey;

/* Responder's keys between RESP and proof that the initiator holds them (CONFIRM or a
 * first authenticated SECURED frame under key_id). */
typedef struct ms_pending {
    bool valid;
    ms_keymat tx;         /* responder -> initiator */
    ms_rxkey rx;          /* initiator -> responder, ready to try on input */
} ms_pending;

typedef struct ms_kx {
    int state;
    uint8_t key_id;
    uint16_t suite;       /* proposed (INIT_SENT) or chosen */
    uint32_t xid;
    EVP_PKEY *priv;       /* initiator's ephemeral key while INIT_SENT */
    uint8_t init[MP_KEY_EXCHANGE_LEN], resp[MP_KEY_EXCHANGE_LEN],
        confirm[MP_KEY_EXCHANGE_LEN];
    bool have_init, have_resp, have_confirm;
    bool done;            /* the exchange in init/resp/confirm completed */
    uint64_t next_tx;     /* INIT_SENT: next INIT retransmission */
    uint32_t tries;
    uint64_t retry_at;    /* after a failed rekey: earliest next attempt */
} ms_kx;

struct ms_link {
    ms_ctx *ctx;
    uint32_t peer;
    int mode;
    ms_txkey tx;
    ms_rxkey rx[2];
    ms_pending pend;
    ms_kx kx;
    bool had_key;         /* a send key was ever installed (rekey vs first) */
    bool rekey_due;
    uint64_t rx_gen;
    ms_counters c;
};

/* crypto.c */
int ms_rand(const ms_ctx *ctx, uint8_t *buf, size_t n);
int ms_hkdf_extract(const ms_ctx *ctx, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, uint8_t prk[32]);
int ms_hkdf_expand(const ms_ctx *ctx, const uint8_t prk[32], const uint8_t *info,
                   size_t info_len, uint8_t *out, size_t out_len);
int ms_hmac(const ms_ctx *ctx, const uint8_t *key, size_t key_len, const uint8_t *const *parts,
            const size_t *lens, size_t nparts, uint8_t mac[MS_MAC_LEN]);
/* New X25519 key from 32 RNG bytes; pub gets the public key. */
int ms_x25519_new(const ms_ctx *ctx, EVP_PKEY **priv, uint8_t pub[MS_PUB_LEN]);
/* Z = X25519(priv, peer_pub); MS_EKX_FAILED if Z is all zero. */
int ms_x25519_derive(EVP_PKEY *priv, const uint8_t peer_pub[MS_PUB_LEN], uint8_t z[32]);
/* A cipher context for suite, initialised with key, for encrypt (enc=1) or decrypt. */
EVP_CIPHER_CTX *ms_aead_new(const ms_ctx *ctx, uint16_t suite, const uint8_t key[MS_KEY_LEN],
                            int enc);

/* replay.c-like helpers (link.c) */
bool ms_replay_check(const ms_replay *r, uint64_t c);
void ms_replay_update(ms_replay *r, uint64_t c);

/* link.c, used by kx.c */
int ms_install_tx(ms_link *l, uint8_t key_id, uint16_t suite, const ms_keymat *m, uint64_t now);
/* Build a receive key (decrypt context, empty replay window) from key material. */
int ms_rx_make(ms_link *l, uint8_t key_id, uint16_t suite, const ms_keymat *m, uint64_t now,
               ms_rxkey *out);
/* Move a built receive key into a slot (same key_id replaced, else free, else oldest). */
void ms_install_rx(ms_link *l, ms_rxkey *k);
uint64_t ms_grace(const ms_ctx *ctx);
void ms_rx_erase(ms_rxkey *k);
void ms_pending_erase(ms_pending *p);
/* kx.c, used by link.c: the responder's pending keys became proven. */
int ms_promote_pending(ms_link *l, uint64_t now);

#endif /* MS_INT_H */
