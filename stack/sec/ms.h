/*
 * ms.h — secured links (prefix ms_), sans-I/O.  RFC-messenger.md Section 12.
 *
 * One ms_ctx per node holds the cluster-derived KEY_EXCHANGE MAC key, the policy and the
 * timer parameters.  One ms_link per link (node pair x bearer) runs the three-message
 * key exchange (KEY_EXCHANGE INIT/RESP/CONFIRM, ephemeral X25519, HMAC-SHA256 keyed from
 * the cluster key), holds the session keys, seals outgoing frames into SECURED envelopes
 * and opens incoming ones (AEAD, replay window per receive key, rekey without loss).
 *
 * What goes in:  KEY_EXCHANGE and SECURED frame bytes, inner frames to seal, the current
 *                time (uint64 nanoseconds, any epoch, never decreasing).
 * What comes out: KEY_EXCHANGE frames to transmit (written into a caller buffer of
 *                MP_KEY_EXCHANGE_LEN bytes: every call emits at most one), sealed or
 *                opened frames (caller buffers), and the next time the link wants
 *                ms_link_timeout (ms_link_next_deadline).
 *
 * No sockets, no clock, no threads, no printing.  Randomness comes from the injected
 * ms_rng (default: OpenSSL RAND_bytes).  Memory: ms_ctx_create and ms_link_create
 * allocate (libc + OpenSSL cipher contexts, a few KiB per link); the data path (seal,
 * open, timeout) never allocates.  Key files are read by ms_keyfile.h, the one part that
 * touches the OS; nothing here does.
 *
 * Errors: 0 or a non-negative length on success, a negative MS_E* code otherwise;
 * ms_strerror() names it.  No error is fatal: after any error the link is consistent.
 * Every dropped input is counted in exactly one ms_counters field.  Per RFC 16.6 the
 * reasons of a SECURED drop (key id, replay, tag) are for local counters only: the core
 * must drop all of them silently.
 *
 * Single-threaded: a link is driven by one thread at a time.  Two links may be used from
 * different threads if they share an ms_ctx (the ctx is read-only after creation).
 */
#ifndef MS_MS_H
#define MS_MS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ---------------------------------------------------------------------- */
enum ms_err {
    MS_OK = 0,
    MS_EINVAL = -1,     /* bad argument or configuration */
    MS_ENOMEM = -2,     /* allocation failed (create calls only) */
    MS_ECRYPTO = -3,    /* an OpenSSL call failed (not an authentication failure) */
    MS_ERNG = -4,       /* the RNG failed: nothing was sent */
    MS_ENOSPC = -5,     /* output buffer too small */
    MS_ESTATE = -6,     /* not allowed now (no send key yet, exchange in progress...) */
    MS_EMALFORMED = -7, /* the codec rejected a SECURED/KEY_EXCHANGE (truncated, reserved) */
    MS_EKEYID = -8,     /* no receive key for this key_id */
    MS_EREPLAY = -9,    /* counter already seen or older than the replay window */
    MS_EAUTH = -10,     /* AEAD tag or KEY_EXCHANGE MAC did not verify */
    MS_EINNER = -11,    /* authenticated, but the inner frame is not acceptable */
    MS_EPLAIN = -12,    /* plaintext frame refused on a secured link */
    MS_EEXHAUSTED = -13, /* send counter at its hard limit: rekey before sending more */
    MS_EKX = -14,       /* KEY_EXCHANGE that matches no exchange (dropped, counted) */
    MS_ENOLINK = -15,   /* the pair of policies allows no link (RFC 12.7) */
    MS_EKX_FAILED = -16, /* exchange abandoned (retries exhausted, zero shared secret) */
    /* ms_keyfile_load() */
    MS_EKEY_OPEN = -17,   /* cannot open/read the key file (errno in the message) */
    MS_EKEY_SYMLINK = -18, /* the key file path is a symbolic link (refused) */
    MS_EKEY_TYPE = -19,   /* not a regular file */
    MS_EKEY_OWNER = -20,  /* owned by someone other than root or the daemon user */
    MS_EKEY_MODE = -21,   /* group/other bits or exec bits set (must be 0600 or 0400) */
    MS_EKEY_FORMAT = -22, /* not 32 raw bytes or 64 hex digits (+ optional newline) */
};
#define MS_ERR_COUNT 23
const char *ms_strerror(int err);

/* ---- Injected services -------------------------------------------------------------- */
/* Fill buf with n cryptographically random bytes; 0 on success, nonzero on failure.
 * Deterministic generators are for tests only: both ends contribute randomness to every
 * session key, but a node that repeats its own randomness across restarts repeats its
 * ephemeral X25519 key, so production MUST use a CSPRNG (the default). */
typedef struct ms_rng {
    int (*fill)(void *user, uint8_t *buf, size_t n);
    void *user;
} ms_rng;

/* ---- Configuration ------------------------------------------------------------------- */
#define MS_CLUSTER_KEY_LEN 32u
#define MS_NS_PER_MS 1000000ull

typedef struct ms_config {
    uint32_t node_id;          /* this node; not 0, not 0xFFFFFFFF */
    uint32_t domain;           /* salt of the MAC key derivation (RFC 12.2) */
    const uint8_t *cluster_key; /* K_c; copied, then the caller may erase its copy */
    size_t cluster_key_len;    /* >= MS_CLUSTER_KEY_LEN */
    uint8_t policy;            /* MP_SEC_PLAIN / MP_SEC_REQUIRED / MP_SEC_TRANSITION */
    uint16_t suite;            /* preferred suite proposed in INIT; default AES256GCM */
    bool chacha;               /* implement suite 2 (accept it when proposed); default true */
    uint16_t tolerance_ms;     /* link tolerance, for the old-key grace; default 500 */
    uint64_t grace_ns;         /* old-key grace; 0 = max(1 s, 2 x tolerance) (RFC 12.6) */
    uint64_t kx_retransmit_ns; /* INIT resend interval; default 250 ms (10 ms..5 s) */
    uint32_t kx_max_tries;     /* INIT transmissions before giving up; default 10 */
    uint64_t rekey_interval_ns; /* start a rekey when the send key is this old; 1 h */
    uint64_t rekey_frames;     /* start a rekey at this send counter; default 2^31 */
    uint64_t max_frames;       /* refuse to seal at this counter; default and max 2^32 */
    ms_rng rng;                /* fill == NULL: OpenSSL RAND_bytes */
} ms_config;

void ms_config_default(ms_config *cfg);

typedef struct ms_ctx ms_ctx;
typedef struct ms_link ms_link;

/* Derives K_mac = HKDF-SHA256(K_c, salt = domain, "messenger/1 kx-mac") and fetches the
 * algorithms.  The cluster key itself is not kept. */
int ms_ctx_create(const ms_config *cfg, ms_ctx **out);
void ms_ctx_destroy(ms_ctx *ctx); /* destroy its links first */

/* ---- Link mode from the pair of policies (RFC 12.7) ----------------------------------- */
enum ms_mode { MS_MODE_NOLINK = -1, MS_MODE_PLAIN = 0, MS_MODE_SECURED = 1 };
int ms_mode_for(uint8_t local_policy, uint8_t peer_policy);

/* ---- Links ----------------------------------------------------------------------------
 * peer_policy is the policy learned from the peer's DISCOVER.  Returns MS_ENOLINK (and
 * creates nothing) when the pair of policies allows no link: the core counts the refusal
 * with MP_R_AUTH. */
int ms_link_create(ms_ctx *ctx, uint32_t peer_id, uint8_t peer_policy, ms_link **out);
void ms_link_destroy(ms_link *l); /* erases every key */

int ms_link_mode(const ms_link *l);
/* Every key and exchange is erased (the peer's incarnation changed, RFC 12.6); the link
 * needs a new exchange (ms_link_start) before it can seal again. */
void ms_link_reset(ms_link *l);

/* Flags reported through *events by the calls below. */
#define MS_EV_SEND_READY 0x1u /* a new send key is installed: the core may (re)start
                               * sending SECURED frames (first time: send LINK_RESET) */
#define MS_EV_KX_FAILED  0x2u /* the exchange was abandoned (counted in kx_failed) */

/* Start the first exchange.  The endpoint with the lower node_id is the initiator: it
 * writes INIT into out and returns MP_KEY_EXCHANGE_LEN.  The other end returns 0 and
 * waits for the INIT.  On a plain-mode link: MS_ESTATE. */
int ms_link_start(ms_link *l, uint64_t now, uint8_t out[MP_KEY_EXCHANGE_LEN]);

/* Start a rekey now (either end may).  Returns MP_KEY_EXCHANGE_LEN, or MS_ESTATE if no
 * key is installed yet or an exchange is already in progress. */
int ms_link_rekey(ms_link *l, uint64_t now, uint8_t out[MP_KEY_EXCHANGE_LEN]);

/* A received KEY_EXCHANGE frame (len may include bearer padding).  Returns the number of
 * bytes to transmit from out (0 or MP_KEY_EXCHANGE_LEN), or a negative code for a
 * dropped frame (MS_EMALFORMED, MS_EAUTH, MS_EKX) or a failed exchange (MS_EKX_FAILED).
 * A dropped frame changes no state.  *events (may be NULL) gets MS_EV_* flags. */
int ms_kx_input(ms_link *l, const uint8_t *frame, size_t len, uint64_t now,
                uint8_t out[MP_KEY_EXCHANGE_LEN], unsigned *events);

/* Timers: INIT retransmission, rekey by age or frame count, erasing receive keys whose
 * grace ended.  Returns bytes to transmit from out (0 or MP_KEY_EXCHANGE_LEN) or a
 * negative code.  Call when now >= ms_link_next_deadline(). */
int ms_link_timeout(ms_link *l, uint64_t now, uint8_t out[MP_KEY_EXCHANGE_LEN],
                    unsigned *events);
/* The earliest time the link needs ms_link_timeout, or UINT64_MAX. */
uint64_t ms_link_next_deadline(const ms_link *l);

/* ---- The data path ---------------------------------------------------------------------
 * Seal one complete inner frame (any type but SECURED, KEY_EXCHANGE, DISCOVER) into a
 * SECURED frame in out (cap >= len + MS_OVERHEAD).  Zero-copy: inner may be exactly
 * out + MP_SECURED_HDR_LEN (the caller left headroom); any other overlap is MS_EINVAL.
 * Returns the SECURED frame length, or MS_ESTATE (no send key), MS_EEXHAUSTED (counter
 * at max_frames: a rekey is already due; retry after MS_EV_SEND_READY), MS_ENOSPC,
 * MS_EINVAL (inner not a frame, or of a type that must not be sealed). */
#define MS_OVERHEAD (MP_SECURED_HDR_LEN + MP_SECURED_TAG_LEN) /* 32 */
int ms_seal(ms_link *l, const uint8_t *inner, size_t len, uint64_t now, uint8_t *out,
            size_t cap);

/* Open one SECURED frame (len may include bearer padding; hdr.length is used).  On
 * success writes the inner frame to out (cap >= hdr.length - 32; out may be exactly
 * frame + MP_SECURED_HDR_LEN for in-place decryption) and returns its length.  Errors,
 * each counted: MS_EMALFORMED, MS_EKEYID, MS_EREPLAY, MS_EAUTH, MS_EINNER, MS_ENOSPC.
 * Nothing but the counters changes on failure, and out holds no unauthenticated bytes. */
int ms_open(ms_link *l, const uint8_t *frame, size_t len, uint64_t now, uint8_t *out,
            size_t cap);

/* Policy gate for a frame that arrived outside SECURED: 0 if the link accepts it in the
 * clear, MS_EPLAIN (counted) if it must be dropped.  DISCOVER and KEY_EXCHANGE always
 * pass; everything else passes only on a plain-mode link (RFC MSG-SEC-15). */
int ms_check_plain(ms_link *l, uint8_t type);

/* True when frames to this peer must be sealed (mode SECURED); false for plain mode. */
bool ms_link_secured(const ms_link *l);
/* True when a send key is installed (ms_seal can succeed). */
bool ms_link_can_send(const ms_link *l);

/* ---- Counters and state (msgrctl) ------------------------------------------------------ */
typedef struct ms_counters {
    /* SECURED input drops: every dropped SECURED frame is in exactly one of these */
    uint64_t malformed;      /* codec rejected it (truncated, bad length, reserved bits) */
    uint64_t wrong_key_id;   /* no receive key for the key_id */
    uint64_t replays;        /* counter seen already or left of the window */
    uint64_t decrypt_fail;   /* AEAD tag failed (forged, bit-flipped, wrong key) */
    uint64_t inner_bad;      /* authenticated but inner frame invalid / forbidden type */
    uint64_t rx_small_buf;   /* caller's out buffer too small */
    /* plaintext policy */
    uint64_t plain_refused;  /* non-SECURED frame dropped on a secured link */
    uint64_t plain_accepted; /* non-SECURED frame accepted (plain link / transition) */
    /* KEY_EXCHANGE input drops and outcomes */
    uint64_t kx_malformed;   /* codec rejected it */
    uint64_t auth_failures;  /* MAC did not verify: wrong cluster key or forged */
    uint64_t kx_unexpected;  /* MAC ok but no matching exchange (stale, wrong node_id) */
    uint64_t kx_collisions;  /* simultaneous INITs resolved by node_id */
    uint64_t kx_retransmits; /* INITs resent, RESP/CONFIRM resent for repeats */
    uint64_t kx_failed;      /* exchanges abandoned (retries, zero secret) */
    uint64_t kx_completed;   /* exchanges completed on this end */
    uint64_t rekeys;         /* send key replaced by a newer one (not counting the first) */
    uint64_t keys_erased;    /* receive keys erased after their grace */
    /* data path */
    uint64_t sealed, opened;
    uint64_t seal_refused;   /* MS_EEXHAUSTED or no key */
} ms_counters;

enum ms_kx_state { MS_KX_IDLE = 0, MS_KX_INIT_SENT = 1, MS_KX_RESP_SENT = 2, MS_KX_FAILED = 3 };
const char *ms_kx_state_name(int state);
/* "AES256GCM", "CHACHA20POLY1305", or "none" */
const char *ms_suite_name(uint16_t suite);

typedef struct ms_link_info {
    uint32_t peer;
    int mode;               /* enum ms_mode */
    int kx_state;           /* enum ms_kx_state */
    bool send_ready;
    uint16_t suite;         /* of the send key, 0 if none */
    uint8_t tx_key_id;
    uint64_t tx_key_age_ns; /* now - installation of the send key */
    uint64_t tx_counter;    /* next counter to send */
    uint8_t rx_keys;        /* receive keys held (0..2) */
    uint8_t rx_key_id[2];
    uint64_t rx_highest[2]; /* highest authenticated counter per receive key */
    ms_counters c;
} ms_link_info;

void ms_link_get_info(const ms_link *l, uint64_t now, ms_link_info *out);

#ifdef __cplusplus
}
#endif
#endif /* MS_MS_H */
