/*
 * mc.h — the Messenger protocol core (prefix mc_), sans-I/O.
 *
 * One mc_node is one Messenger node's protocol engine: links (discovery, setup,
 * supervision, reliable delivery, fragmentation, bundling), channels with failover
 * between parallel links, and the hooks into naming (mn_) and paths (mpa_).
 *
 * What goes in:  received frame bytes with the bearer id and source media address, the
 *                current time (uint64 nanoseconds, any epoch, never decreasing), and
 *                API calls.
 * What comes out: frames to transmit (the tx callback, with bearer id and destination
 *                media address), events (the event callback), and the next time the
 *                node wants to be called (mc_next_deadline).
 *
 * The core makes no system call, reads no clock, starts no thread and prints nothing.
 * Every byte it holds comes from the injected allocator and is accounted against
 * mem_limit; reaching a limit is a negative MC_E* return (and a counted drop for input),
 * never a crash.  Randomness (sessions, initial sequence numbers, incarnation) comes
 * from the injected RNG, so a node driven with the same inputs behaves identically.
 *
 * Callbacks run synchronously inside mc_* calls.  They must not call back into the same
 * node (queue the work and do it after the call returns); pointers they receive are
 * valid only during the callback.
 *
 * Errors: 0 (or a non-negative value where stated) on success, a negative MC_E* code on
 * failure; mc_strerror() names it.  No error is fatal to the node: after any error the
 * node is still consistent and may be used.
 *
 * Single-threaded: one node is driven by one thread at a time.
 */
#ifndef MC_MC_H
#define MC_MC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors -------------------------------------------------------------------------- */
enum mc_err {
    MC_OK = 0,
    MC_EINVAL = -1,    /* bad argument */
    MC_ENOMEM = -2,    /* allocator returned NULL or mem_limit reached */
    MC_ELIMIT = -3,    /* a configured count limit (links, bearers, held messages...) */
    MC_ENOTCONN = -4,  /* no working link to that peer */
    MC_EAGAIN = -5,    /* the peer's send queue is full: retry after deliveries progress */
    MC_ETOOBIG = -6,   /* message larger than max_message */
    MC_ECODEC = -7,    /* the codec refused to encode or decode (see counters) */
    MC_ENOENT = -8,    /* no such bearer, peer, name or path */
    MC_ENOTSUP = -9,   /* not built in (e.g. naming or paths not integrated), or the peer
                        * lacks the capability (MINET to a peer without CAP_MINET) */
    MC_EEXIST = -10,   /* already exists */
    MC_ESTATE = -11,   /* not allowed in the current state */
    MC_EAUTH = -12,    /* refused by the security policy, or not authenticated */
};
#define MC_ERR_COUNT 13
const char *mc_strerror(int err);

/* ---- Injected services ------------------------------------------------------------- */
/* free() receives the size that was allocated, so a counting or pool allocator needs no
 * header.  alloc may return NULL at any time; the core copes. */
typedef struct mc_alloc {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} mc_alloc;

/* 32 random bits per call.  Deterministic if the caller seeds it so. */
typedef struct mc_rng {
    uint32_t (*next)(void *user);
    void *user;
} mc_rng;

/* ---- Media addresses (opaque to the core; compared bytewise) ----------------------- */
#define MC_ADDR_MAX 20
typedef struct mc_addr {
    uint8_t len;
    uint8_t b[MC_ADDR_MAX];
} mc_addr;

/* ---- Events ---------------------------------------------------------------------------- */
enum mc_event_type {
    MC_EV_LINK_UP = 1,   /* a link reached ESTABLISHED */
    MC_EV_LINK_DOWN,     /* an established link was reset (reason = MC_DOWN_*) */
    MC_EV_PEER_UP,       /* first working link to a peer */
    MC_EV_PEER_DOWN,     /* last link gone or peer restarted: its state is purged */
    MC_EV_MESSAGE,       /* a message delivered in channel order, exactly once */
    MC_EV_DUP_NODE,      /* another station claims our node id */
    MC_EV_FAILOVER,      /* messages moved from a failed link to a survivor */
    MC_EV_NAME,          /* naming: name_event tells which (mn_event_type value) */
    MC_EV_SEND_LOST,     /* queued messages discarded because the peer was lost */
    MC_EV_PATH_STATE,    /* paths: path entered path_state for reason */
    MC_EV_PATH_MSG,      /* paths: a message for local device `device` on `path` */
    MC_EV_PATH_REQUEST,  /* paths: peer asks to open `path` to `device`: accept/refuse */
};

enum mc_down_reason {
    MC_DOWN_TIMEOUT = 1,     /* silent for the tolerance */
    MC_DOWN_PEER_RESET = 2,  /* the peer reset the link (new session) */
    MC_DOWN_INCARNATION = 3, /* the peer restarted */
    MC_DOWN_DETACH = 4,      /* the local bearer was detached */
    MC_DOWN_LAST_LINK = 5,   /* PEER_DOWN: the last link went down */
    MC_DOWN_STALLED = 6,     /* oldest frame unacknowledged for the tolerance */
    MC_DOWN_PEER_EPOCH = 7,  /* the peer declared us lost (a later PEER_EPOCH) */
    MC_DOWN_AUTH = 8,        /* an authenticated setup frame contradicts the peer's
                              * announced security policy (RFC 12.7, MSG-SEC-21) */
    MC_DOWN_REASM = 9,       /* a reassembly got no fragment for the reassembly
                              * timeout while the peer's link was up (MSG-FRAG-15) */
};

typedef struct mc_event {
    enum mc_event_type type;
    uint64_t now;
    uint32_t peer;          /* peer node id */
    uint32_t incarnation;   /* peer incarnation (LINK_UP/PEER_UP/PEER_DOWN) */
    int bearer;             /* LINK_*: local bearer id; FAILOVER: failed link's bearer */
    int to_bearer;          /* FAILOVER: survivor's bearer, or -1 if none */
    int reason;             /* LINK_DOWN/PEER_DOWN: MC_DOWN_* */
    uint32_t chan, cseq;    /* MESSAGE */
    uint8_t msg_type;       /* MESSAGE: MP_T_* of the body (DATA, MINET, ...) */
    const uint8_t *data;    /* MESSAGE: body (payload for DATA); valid during the call */
    size_t len;
    uint32_t count;         /* FAILOVER/SEND_LOST: messages moved or discarded */
    int name_event;         /* NAME: MN_EV_* */
    const void *name_entry; /* NAME: const mn_entry *, valid during the call */
    uint32_t path, group;   /* PATH_*: local path handle (and group handle or 0) */
    uint32_t device, peer_device; /* PATH_*: local and remote device */
    uint8_t path_state;     /* PATH_STATE: enum mpa_state */
} mc_event;

typedef void (*mc_tx_fn)(void *user, int bearer, const mc_addr *dst, const uint8_t *frame,
                         size_t len);
typedef void (*mc_event_fn)(void *user, const mc_event *ev);

/* ---- Secured links (RFC 12): crypto is injected ----------------------------------------
 * The core links no crypto library.  An adapter implements these slots (stack/sec:
 * ms_core_crypto() over ms_, OpenSSL).  `sl` is the adapter's per-link state: the core
 * gets it from link_new, hands it back to every other slot, and frees it with link_free
 * when the link goes or the peer restarts; it never looks inside.  Slots run
 * synchronously and must not call back into the node.  The core counts drops (MC_DROP_
 * SEC_*); the adapter counts the detail (replay, tag, key id...) and reports it in info.
 * KEY_EXCHANGE frames written to `out` (at most MC_SEC_KX_LEN bytes) go out in the
 * clear; every other frame of a secured link goes out only through seal.  The adapter's
 * per-link state is its own memory (keys, cipher contexts), outside mem_limit; the core's
 * seal/open buffers are its own, grown on demand and accounted. */
#define MC_SEC_KX_LEN 96u    /* = MP_KEY_EXCHANGE_LEN */
#define MC_SEC_OVERHEAD 32u  /* SECURED header (16) + tag (16) around an inner frame */
#define MC_SEC_EV_READY 0x1u /* events: a new send key is installed */
#define MC_SEC_EV_FAILED 0x2u /* events: the key exchange was abandoned */

/* Security state of one link (mc_link_sec_get), for msgrctl and tests. */
typedef struct mc_sec_info {
    bool secured;           /* every frame but DISCOVER/KEY_EXCHANGE goes inside SECURED */
    bool send_ready;        /* a send key is installed */
    uint8_t peer_policy;    /* MP_SEC_* announced by the peer's DISCOVER */
    int kx_state;           /* adapter's exchange state (ms_kx_state for stack/sec) */
    uint16_t suite;         /* MP_SUITE_* of the send key, 0 if none */
    uint8_t tx_key_id;
    uint64_t key_age_ns;    /* age of the send key */
    uint64_t tx_counter;    /* next counter under the send key */
    uint8_t rx_keys;        /* receive keys held (0..2) */
    uint64_t sealed, opened;
    uint64_t auth_failures; /* AEAD tag failed (forged, bit-flipped, wrong key) */
    uint64_t kx_auth_failures; /* KEY_EXCHANGE MAC failed (wrong cluster key, forged) */
    uint64_t replays, wrong_key_id, malformed, inner_bad, plain_refused;
    uint64_t kx_completed, kx_failed, rekeys;
} mc_sec_info;

typedef struct mc_crypto_ops {
    /* State for the link to `peer`, whose DISCOVER announced peer_policy (MP_SEC_*).
     * Returns 1 (secured) or 0 (plain) with *sl set, MC_EAUTH if the pair of policies
     * allows no link (RFC 12.7; nothing created), or MC_ENOMEM. */
    int (*link_new)(void *user, uint32_t peer, uint8_t peer_policy, void **sl);
    void (*link_free)(void *user, void *sl); /* erases every key */
    /* First exchange: if there is no send key and no exchange running, start one (the
     * lower node id writes INIT).  Returns bytes written to out (0 or MC_SEC_KX_LEN). */
    int (*start)(void *user, void *sl, uint64_t now, uint8_t *out);
    /* Rekey now (either end may).  Bytes written to out, or negative (MC_ESTATE). */
    int (*rekey)(void *user, void *sl, uint64_t now, uint8_t *out);
    /* A received KEY_EXCHANGE.  Bytes written to out, or negative if dropped (counted
     * by the adapter; no state changed).  *events gets MC_SEC_EV_*. */
    int (*kx_input)(void *user, void *sl, const uint8_t *frame, size_t len, uint64_t now,
                    uint8_t *out, unsigned *events);
    /* Timers (INIT resend, rekey by age or count, old keys' grace).  Call when now >=
     * next_deadline.  Bytes written to out, or negative. */
    int (*timeout)(void *user, void *sl, uint64_t now, uint8_t *out, unsigned *events);
    uint64_t (*next_deadline)(void *user, const void *sl); /* UINT64_MAX: none */
    bool (*can_send)(void *user, const void *sl);
    /* Seal one complete inner frame into a SECURED frame in out (cap >= len + 32).
     * Returns its length, or negative (no send key yet, counter spent): not sent. */
    int (*seal)(void *user, void *sl, const uint8_t *inner, size_t len, uint64_t now,
                uint8_t *out, size_t cap);
    /* Open one SECURED frame into out (cap >= len).  Returns the inner frame's length,
     * or negative (counted: malformed, key id, replay, tag, inner frame). */
    int (*open)(void *user, void *sl, const uint8_t *frame, size_t len, uint64_t now,
                uint8_t *out, size_t cap);
    /* A frame of `type` arrived outside SECURED on this link: 0 to accept, negative to
     * refuse (both counted by the adapter; RFC MSG-SEC-15). */
    int (*check_plain)(void *user, void *sl, uint8_t type);
    void (*info)(void *user, const void *sl, uint64_t now, mc_sec_info *out);
} mc_crypto_ops;

typedef struct mc_crypto {
    const mc_crypto_ops *ops; /* NULL: security not built in (policy must be PLAIN) */
    void *user;               /* passed to every slot */
    uint8_t policy;           /* MP_SEC_PLAIN, MP_SEC_REQUIRED or MP_SEC_TRANSITION */
} mc_crypto;

/* ---- Configuration --------------------------------------------------------------------- */
typedef struct mc_config {
    uint32_t node_id;          /* not 0, not 0xFFFFFFFF */
    uint32_t domain;
    uint32_t incarnation;      /* 0 = draw from the RNG (normal: new at every start) */
    uint16_t tolerance_ms;     /* link tolerance, MP_TOLERANCE_MIN_MS..MAX; default 500 */
    uint16_t window;           /* link window, 1..16384, default 256 */
    uint32_t max_message;      /* largest message sent or reassembled; default 1 MiB */
    uint32_t max_reassemblies; /* concurrent reassemblies; default 32 */
    uint32_t reasm_timeout_ms; /* no fragment for this long, link up: peer lost
                                * (MSG-FRAG-15); 1..3600000, default 30000 */
    uint32_t max_held;         /* out-of-order channel messages held, per node; default 4096 */
    uint32_t max_links;        /* default 4096 */
    size_t max_queue_bytes;    /* per peer, queued + unacknowledged; default 8 MiB */
    size_t mem_limit;          /* all memory of the node; default 256 MiB */
    bool naming;               /* run the name table (mn_) on channel 0; default true */
    bool paths;                /* run the path layer (mpa_); default true */
    mc_alloc alloc;            /* required */
    mc_rng rng;                /* required */
    mc_crypto crypto;          /* secured links; zero = none, policy PLAIN */
    mc_tx_fn tx;               /* required */
    mc_event_fn event;         /* may be NULL */
    void *user;                /* passed to tx and event */
} mc_config;

/* Fill the defaults; the caller then sets node_id, alloc, rng, tx (and the rest). */
void mc_config_default(mc_config *cfg);

typedef struct mc_node mc_node;

int mc_node_create(const mc_config *cfg, mc_node **out);
/* Free everything; no callbacks.  Afterwards the allocator holds nothing of the node. */
void mc_node_destroy(mc_node *n);

uint32_t mc_node_id(const mc_node *n);
uint32_t mc_incarnation(const mc_node *n);

/* ---- Bearers --------------------------------------------------------------------------- */
typedef struct mc_bearer_cfg {
    uint16_t mtu;              /* largest frame; >= 256; default MP_ETH_MTU */
    mc_addr discovery;         /* where DISCOVER goes (broadcast/multicast/the one peer) */
    bool discovery_off;        /* do not send DISCOVER (links form on LINK_RESET) */
    uint8_t priority;          /* 0..31; highest working priority carries traffic */
    bool standby;              /* only used when no non-standby link works */
    uint16_t tolerance_ms;     /* 0 = node default */
    uint16_t window;           /* 0 = node default */
    uint16_t probe_ms;         /* PROBE_INTERVAL asked of the peer (RFC 4.2); 0 = none */
} mc_bearer_cfg;

/* Returns the bearer id (>= 0) or a negative error.  Discovery starts at `now`. */
int mc_bearer_attach(mc_node *n, const mc_bearer_cfg *cfg, uint64_t now);
/* Resets every link of the bearer (traffic fails over) and forgets it. */
int mc_bearer_detach(mc_node *n, int bearer, uint64_t now);
/* Change the tolerance of the bearer's links (10..30000 ms).  Established links use
 * max(new, peer's) at once; the peer learns it at the next link setup. */
int mc_bearer_set_tolerance(mc_node *n, int bearer, uint16_t tolerance_ms);

/* ---- Driving the node ------------------------------------------------------------------- */
/* One received frame (bytes after the bearer's own header).  Returns 0 if consumed, or a
 * negative error if it was dropped (the drop is counted by reason either way; a caller
 * may ignore the value). */
int mc_input(mc_node *n, int bearer, const mc_addr *src, const uint8_t *frame, size_t len,
             uint64_t now);
/* Run timers due at `now` and transmit what is queued.  Call when now >= deadline. */
int mc_timeout(mc_node *n, uint64_t now);
/* Transmit what API calls queued (mc_timeout does this too). */
int mc_flush(mc_node *n, uint64_t now);
/* The earliest time the node needs mc_timeout, or UINT64_MAX.  After an API call that
 * queued frames it is the time of that call (flush now).  O(1). */
uint64_t mc_next_deadline(const mc_node *n);

/* ---- Sending on a channel ----------------------------------------------------------------
 * Queue one message for `peer` on channel `chan`: exactly once, in order with the other
 * messages of (this node -> peer, chan), across link failover.  type is a sequenced type
 * other than FRAGMENT and BUNDLE; body is the encoded body (for DATA the payload).
 * Messages larger than the link payload are fragmented.  Channels >= MP_CHAN_FIRST_PATH
 * belong to the path layer (use mc_path_*); with paths off (mc_config.paths = false) they
 * are "raw channels" numbered by the core, which is how the link layer is tested alone
 * (the codec allows DATA only on path channels).   *cseq_out (if not NULL) gets
 * the channel sequence number.  Frames go out at the next mc_flush/mc_timeout, so
 * several sends in one turn can share a BUNDLE.
 * Errors: MC_ENOTCONN (peer not up), MC_EAGAIN (queue full), MC_ETOOBIG, MC_ENOMEM,
 * MC_EINVAL (bad type or body). */
int mc_send(mc_node *n, uint32_t peer, uint32_t chan, uint8_t type, const void *body,
            size_t len, uint64_t now, uint32_t *cseq_out);
/* Same, from a codec frame (hdr.type and body; hdr.chan is the channel). */
int mc_send_frame(mc_node *n, uint32_t peer, const mp_frame *f, uint64_t now,
                  uint32_t *cseq_out);

/* ---- Naming (mn_, when built in) ----------------------------------------------------------
 * Publish/withdraw a local device name: the record goes to every peer now up and in the
 * NAME_SYNC to every peer that comes up later.  NAME events report the table's changes. */
int mc_publish(mc_node *n, const mp_name_rec *rec, uint64_t now);
int mc_withdraw(mc_node *n, uint32_t device_id, const char *name, uint64_t now);
/* The name table (const struct mn_table *) for lookups, or NULL if naming is off. */
const void *mc_names(const mc_node *n);

/* ---- Paths (mpa_, see path.h for the semantics) ------------------------------------------
 * Path messages travel on the receiver's path channel; the path layer numbers them and
 * deduplicates them, the core carries them across failover.  PATH_* events report
 * state changes, messages and open requests. */
#define MC_DEV_AUTO_ACCEPT 0x1u
int mc_path_device_add(mc_node *n, uint32_t device, uint32_t flags);
/* Open a unicast path from local_device to (peer, peer_device).  *path gets the handle. */
int mc_path_open(mc_node *n, uint32_t local_device, uint32_t peer, uint32_t peer_device,
                 uint64_t now, uint32_t *path);
int mc_path_accept(mc_node *n, uint32_t path);
/* MC_EAGAIN: no credit.  MC_ENOMEM: the message could not be queued after the path layer
 * numbered it; the path is then aborted at both ends (MP_R_NO_RESOURCES) rather than left
 * with a hole.  On a group, a member that fails so is aborted and the send succeeds. */
int mc_path_send(mc_node *n, uint32_t path, const void *payload, size_t len, uint64_t now);
/* The application consumed `count` messages: returns credit to the sender. */
int mc_path_consume(mc_node *n, uint32_t path, uint32_t count, uint64_t now);
int mc_path_close(mc_node *n, uint32_t path, uint64_t now);
/* The path context (mpa_ctx *) for the rest of path.h, or NULL. */
void *mc_paths(mc_node *n);

/* ---- Introspection -------------------------------------------------------------------- */
enum mc_link_state { MC_LS_RESET = 0, MC_LS_ESTABLISHING = 1, MC_LS_ESTABLISHED = 2 };
const char *mc_link_state_name(int state);

/* Drop reasons: each discarded input frame or message is counted in exactly one. */
enum mc_drop {
    MC_DROP_DECODE = 0,      /* codec rejected the frame */
    MC_DROP_VERSION,         /* unknown version */
    MC_DROP_TYPE,            /* unknown or unsupported unsequenced type */
    MC_DROP_SEQ_TYPE,        /* unknown sequenced type: acknowledged, body dropped */
    MC_DROP_DOMAIN,          /* DISCOVER from another domain */
    MC_DROP_DUP_NODE,        /* another station uses our node id */
    MC_DROP_NOT_FOR_US,      /* LINK_* addressed to another node id */
    MC_DROP_NO_LINK,         /* sequenced/LINK_STATE from a station with no link */
    MC_DROP_NOT_ESTABLISHED, /* sequenced frame on a link not yet up */
    MC_DROP_STALE_SESSION,   /* LINK_STATE/ACTIVATE of an old session */
    MC_DROP_DUP_SEQ,         /* link duplicate */
    MC_DROP_OUT_OF_WINDOW,   /* link seq beyond the window */
    MC_DROP_DUP_CSEQ,        /* channel duplicate (after failover) */
    MC_DROP_HELD_FULL,       /* out-of-order channel message with no room to hold */
    MC_DROP_NOMEM,           /* allocation refused */
    MC_DROP_REASM_LIMIT,     /* too many concurrent reassemblies */
    MC_DROP_TOO_BIG,         /* reassembly larger than max_message */
    MC_DROP_FRAG_PROTO,      /* fragment out of offset order / inconsistent */
    MC_DROP_PEER_LOST,       /* queued outgoing message discarded: peer lost */
    MC_DROP_UNSUPPORTED,     /* SECURED/KEY_EXCHANGE (security not built in) */
    MC_DROP_BAD_BEARER,      /* input on an unknown bearer */
    MC_DROP_UPPER,           /* an upper layer (naming) refused the message */
    MC_DROP_SEC_PLAIN,       /* frame outside SECURED where the link must be secured */
    MC_DROP_SEC_AUTH,        /* SECURED frame not opened (tag, replay, key id, inner) */
    MC_DROP_SEC_KX,          /* KEY_EXCHANGE dropped (MAC, no such exchange, no link) */
    MC_DROP_SEC_POLICY,      /* link refused by the pair of policies (MP_R_AUTH) */
    MC_DROP_COUNT
};
const char *mc_drop_name(int reason);

typedef struct mc_link_stats {
    uint64_t tx_frames, rx_frames, tx_bytes, rx_bytes;
    uint64_t tx_data, rx_data;          /* sequenced frames (first transmissions / accepted) */
    uint64_t retransmits, rto_fires, nack_retransmits;
    uint64_t nacks_sent, states_sent, states_rcvd, probes_sent, probes_rcvd;
    uint64_t dup_rx, ooo_rx, out_of_window;
    uint64_t rx_refused;                /* frames left unacknowledged for lack of memory */
    uint64_t bundles_tx, bundled_msgs_tx, bundles_rx;
    uint64_t fragments_tx, fragments_rx;
    uint64_t failover_out;              /* messages moved away from this link on failure */
    uint64_t resets, ups, downs;
} mc_link_stats;

typedef struct mc_link_info {
    uint32_t peer;
    int bearer;
    int state;
    mc_addr addr;
    uint16_t tolerance_ms, window, mtu, probe_ms;
    uint8_t priority;
    bool standby;
    uint64_t srtt_ns, rto_ns;
    uint32_t inflight, backlog;
    mc_link_stats stats;
} mc_link_info;

typedef struct mc_stats {
    uint64_t drops[MC_DROP_COUNT];
    uint64_t delivered, sent_msgs, send_errors;
    uint64_t peers_up, peers_down, links_up, links_down, failovers, msgs_failed_over;
    uint64_t alloc_fail, limit_hits;
    uint64_t reasm_timeouts;  /* peers declared lost for a stale reassembly (MSG-FRAG-15) */
    size_t mem_used, mem_peak;
    uint32_t n_links, n_peers, n_peers_up, n_chans, n_reasm, n_held;
} mc_stats;

void mc_get_stats(const mc_node *n, mc_stats *out);
/* Visit every link; fn returns non-zero to stop.  Returns links visited. */
int mc_foreach_link(const mc_node *n, int (*fn)(void *user, const mc_link_info *li),
                    void *user);
/* The link (peer, bearer), or MC_ENOENT. */
int mc_link_get(const mc_node *n, uint32_t peer, int bearer, mc_link_info *out);
/* True if at least one link to peer is established. */
bool mc_peer_is_up(const mc_node *n, uint32_t peer);
/* Capabilities (MP_CAP_*, RFC 4.3) announced beyond those every node has.  Today only
 * MP_CAP_MINET: a MINET port announces it, and no MINET frame goes to a peer that has not
 * announced it (MSG-MINET-5).  Set it before bearers are attached: setup frames carry it,
 * so links set up earlier tell the peer only at their next reset.  MC_EINVAL otherwise. */
int mc_set_caps(mc_node *n, uint32_t caps);
/* The peer's capabilities as its last LINK_RESET/LINK_ACTIVATE announced them (without
 * CAPS: BUNDLE | FRAGMENT | MGMT), or 0 for an unknown peer. */
uint32_t mc_peer_caps(const mc_node *n, uint32_t peer);

/* ---- Secured links ------------------------------------------------------------------------
 * Security state of the link (peer, bearer): MC_ENOENT if there is no such link.  A
 * link without security state (plain) reports secured = false and zero counters. */
int mc_link_sec_get(const mc_node *n, uint32_t peer, int bearer, uint64_t now,
                    mc_sec_info *out);
/* Start a rekey of a secured link now (RFC 12.6; the timers also rekey by age and frame
 * count).  MC_ESTATE if the link is plain, has no key yet, or an exchange is running. */
int mc_link_rekey(mc_node *n, uint32_t peer, int bearer, uint64_t now);

#ifdef __cplusplus
}
#endif
#endif /* MC_MC_H */
