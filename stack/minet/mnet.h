/*
 * mnet.h — MINET: Ethernet frames between per-node TAP devices across the Messenger
 * domain (RFC section 11, prefix mnet_).
 *
 * Three parts:
 *
 *  mnet_sw    the switch, sans-I/O: the MAC table (source MAC of frames from node N ->
 *             N, ageing, moves), the forwarding decision for a frame from the local TAP
 *             (known unicast -> one node; broadcast / multicast / unknown -> every peer
 *             that is up, with FLOOD), the domain filter, counters and a table dump.
 *             No system call, no clock: times are passed in (ns, monotonic).
 *  mnet_tap   the TAP shell: /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and
 *             TUNSETOFFLOAD (CSUM, TSO4, TSO6), so a large TCP segment arrives as one
 *             frame with a virtio_net_hdr; name, MAC, MTU, addresses, up.
 *  mnet_port  the glue between one mc_node, one switch and one TAP: frames read from
 *             the TAP go out as MINET messages (type 0x13, channel 1) to the chosen
 *             peer(s), a 64 KiB GSO frame as one message (the core fragments it);
 *             MINET messages delivered by the core are written to the TAP with their
 *             offload metadata.  The caller owns the event loop: it feeds core events
 *             with mnet_port_on_event() and calls mnet_port_on_tap() when the TAP fd is
 *             readable and mnet_port_wants_tap() says so.
 *
 * Errors: 0 (or a non-negative count) on success, a negative MNET_E* code on failure;
 * mnet_strerror() names it.  Single-threaded.
 */
#ifndef MNET_MNET_H
#define MNET_MNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mnet_err {
    MNET_OK = 0,
    MNET_EINVAL = -1,  /* bad argument */
    MNET_ENOMEM = -2,  /* allocation failed */
    MNET_ELIMIT = -3,  /* MAC table full */
    MNET_EIO = -4,     /* the OS refused an operation (errno is kept in mnet_tap) */
    MNET_EPERM = -5,   /* needs CAP_NET_ADMIN */
    MNET_ENODEV = -6,  /* /dev/net/tun missing */
    MNET_EAGAIN = -7,  /* would block / queue full: retry later */
    MNET_ESHORT = -8,  /* frame shorter than an Ethernet header */
};
const char *mnet_strerror(int err);

#define MNET_MAC_LEN 6
#define MNET_AGEING_DEF_NS (300ull * 1000000000ull)
#define MNET_MAX_ENTRIES_DEF 4096u
#define MNET_MAX_PEERS 1024u
#define MNET_LOCAL_NODE 0u /* node id shown for MACs seen on the local TAP */

/* The stable default MAC of a node: locally administered, unicast,
 * 02:4d:<node id, 32 bits big-endian>.  ("M" = 0x4d.) */
void mnet_default_mac(uint32_t node_id, uint8_t mac[MNET_MAC_LEN]);
/* "aa:bb:cc:dd:ee:ff" -> mac.  0 or MNET_EINVAL. */
int mnet_mac_parse(const char *s, uint8_t mac[MNET_MAC_LEN]);

/* ---- The switch (sans-I/O) ------------------------------------------------------- */
typedef struct mnet_sw_cfg {
    uint32_t self;          /* own node id */
    uint16_t domain;        /* MINET domain (virtual LAN) this node is in; default 0 */
    uint64_t ageing_ns;     /* default MNET_AGEING_DEF_NS (300 s) */
    uint32_t max_entries;   /* default MNET_MAX_ENTRIES_DEF */
} mnet_sw_cfg;
void mnet_sw_config_default(mnet_sw_cfg *cfg);

typedef struct mnet_sw_stats {
    uint64_t tx_frames, tx_bytes;       /* local TAP frames handed to mnet_sw_tx */
    uint64_t tx_unicast;                /* sent to the one owning node */
    uint64_t tx_flood_bcast;            /* flooded: broadcast destination */
    uint64_t tx_flood_mcast;            /* flooded: multicast destination */
    uint64_t tx_flood_unknown;          /* flooded: unknown unicast destination */
    uint64_t tx_no_peer;                /* nobody to send to (no peer up) */
    uint64_t tx_local_dst;              /* destination is a MAC seen on our own TAP */
    uint64_t rx_frames, rx_bytes;       /* peer frames accepted by mnet_sw_rx */
    uint64_t rx_flood;                  /* ... with FLOOD set */
    uint64_t rx_wrong_domain;           /* dropped: another MINET domain */
    uint64_t rx_short;                  /* dropped: shorter than an Ethernet header */
    uint64_t rx_bad_src;                /* source MAC multicast/zero: not learned */
    uint64_t learned, moves, aged, purged; /* table changes */
    uint64_t table_full;                /* a MAC not learned: max_entries reached */
    uint32_t entries, peers_up;
} mnet_sw_stats;

typedef struct mnet_sw_entry {
    uint8_t mac[MNET_MAC_LEN];
    uint32_t node;          /* owning node, or MNET_LOCAL_NODE */
    uint64_t last_seen;     /* ns */
    uint64_t hits;          /* frames forwarded to it */
    uint32_t moves;         /* times it changed node while fresh (a migrated address) */
} mnet_sw_entry;

typedef struct mnet_sw mnet_sw;
int mnet_sw_create(const mnet_sw_cfg *cfg, mnet_sw **out);
void mnet_sw_destroy(mnet_sw *sw);

/* Peer membership: flooding goes to the peers that are up.  peer_down also removes the
 * MAC entries that point to the peer (RFC 7.6 step 5).  Idempotent. */
int mnet_sw_peer_up(mnet_sw *sw, uint32_t node);
void mnet_sw_peer_down(mnet_sw *sw, uint32_t node);
bool mnet_sw_peer_is_up(const mnet_sw *sw, uint32_t node);
/* The peers that are up, ascending, into out[0..cap).  Returns how many are up (may be
 * more than cap). */
int mnet_sw_peers(const mnet_sw *sw, uint32_t *out, size_t cap);

/* A MINET frame from `from` with domain `domain`: learn its source MAC.  Returns 1 if
 * the frame is to be written to the TAP, 0 if dropped (counted), MNET_EINVAL. */
int mnet_sw_rx(mnet_sw *sw, uint32_t from, uint16_t domain, uint8_t mflags,
               const uint8_t *eth, size_t len, uint64_t now);

/* A frame read from the local TAP: where it goes.  Fills nodes[0..n) (n returned,
 * 0 = nowhere) and *flood (true: copy with MP_MFLAG_FLOOD).  `cap` should be
 * MNET_MAX_PEERS; a smaller cap truncates a flood. */
int mnet_sw_tx(mnet_sw *sw, const uint8_t *eth, size_t len, uint64_t now, uint32_t *nodes,
               size_t cap, bool *flood);

/* Remove entries older than the ageing time.  Returns how many.  Call every second or
 * so; lookups ignore stale entries anyway. */
int mnet_sw_expire(mnet_sw *sw, uint64_t now);
/* Learn the MAC a peer announced (MINET_MAC option), if the caller has it. */
int mnet_sw_learn(mnet_sw *sw, uint32_t node, const uint8_t mac[MNET_MAC_LEN], uint64_t now);
/* Look up a MAC: 0 and *e filled, or MNET_EINVAL if unknown/stale. */
int mnet_sw_lookup(const mnet_sw *sw, const uint8_t mac[MNET_MAC_LEN], uint64_t now,
                   mnet_sw_entry *e);

void mnet_sw_get_stats(const mnet_sw *sw, mnet_sw_stats *out);
/* Visit every entry (unordered); fn returns non-zero to stop.  Returns entries visited. */
int mnet_sw_foreach(const mnet_sw *sw, int (*fn)(void *user, const mnet_sw_entry *e),
                    void *user);
/* The table and the counters as text (for msgrctl): like snprintf. */
int mnet_sw_format(const mnet_sw *sw, uint64_t now, char *out, size_t cap);

/* ---- The TAP shell ---------------------------------------------------------------- */
typedef struct mnet_tap_cfg {
    const char *name;         /* "minet0"; NULL/"" -> the kernel's "tap%d" */
    uint8_t mac[MNET_MAC_LEN];
    bool mac_set;             /* false: keep the kernel's random MAC */
    uint16_t mtu;             /* 0 -> 1500 (RFC 11.5) */
    bool offload;             /* IFF_VNET_HDR offloads (CSUM, TSO4, TSO6); default true */
    uint32_t txqueuelen;      /* 0 -> kernel default */
} mnet_tap_cfg;
void mnet_tap_config_default(mnet_tap_cfg *cfg);

typedef struct mnet_tap mnet_tap;
/* Create the TAP (non-persistent: it disappears with the fd), set MAC and MTU, and bring
 * it up.  The fd is non-blocking. */
int mnet_tap_open(const mnet_tap_cfg *cfg, mnet_tap **out);
void mnet_tap_close(mnet_tap *t);
int mnet_tap_fd(const mnet_tap *t);
const char *mnet_tap_name(const mnet_tap *t);
void mnet_tap_mac(const mnet_tap *t, uint8_t mac[MNET_MAC_LEN]);
bool mnet_tap_offload(const mnet_tap *t);
int mnet_tap_errno(const mnet_tap *t); /* errno of the last MNET_EIO */
/* Add an address "10.77.0.1/24" or "fd00::1/64" to the TAP. */
int mnet_tap_add_addr(mnet_tap *t, const char *cidr);

/* Offload metadata of one frame, host order (MINET fields; see RFC 11.3). */
typedef struct mnet_meta {
    uint8_t mflags;           /* MP_MFLAG_OFFLOAD | MP_MFLAG_NEEDS_CSUM (FLOOD is not ours) */
    uint8_t gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
} mnet_meta;

/* Read one frame: the Ethernet frame goes to buf (cap >= 65550 for GSO frames),
 * *meta gets the offload metadata.  Returns the frame length, MNET_EAGAIN, MNET_EIO. */
int mnet_tap_read(mnet_tap *t, uint8_t *buf, size_t cap, mnet_meta *meta);
/* Write one frame with its metadata.  0, MNET_EAGAIN, MNET_EIO. */
int mnet_tap_write(mnet_tap *t, const uint8_t *eth, size_t len, const mnet_meta *meta);

/* ---- The glue ----------------------------------------------------------------------- */
struct mc_node;
struct mc_event;

typedef struct mnet_port_stats {
    uint64_t tap_rx_frames, tap_rx_bytes;   /* read from the TAP */
    uint64_t tap_rx_gso;                    /* ... of which GSO super-frames */
    uint64_t tap_tx_frames, tap_tx_bytes;   /* written to the TAP */
    uint64_t tap_tx_errors;                 /* TAP refused a write */
    uint64_t tap_rx_errors;                 /* TAP read failed */
    uint64_t msgs_tx, msgs_rx;              /* MINET messages sent / received */
    uint64_t send_blocked;                  /* unicast held on MC_EAGAIN (backpressure) */
    uint64_t send_drop;                     /* flood copy or frame dropped by the core */
    uint64_t tx_nocap;                      /* copies not sent: peer without CAP_MINET */
    uint64_t rx_decode_errors;              /* MINET body rejected */
    uint64_t rx_wrong_chan;                 /* MINET on a channel other than 1 */
} mnet_port_stats;

typedef struct mnet_port mnet_port;
/* The port does not own node, sw or tap.  tap may be NULL (switch only, for tests). */
int mnet_port_create(struct mc_node *node, mnet_sw *sw, mnet_tap *tap, uint16_t domain,
                     mnet_port **out);
void mnet_port_destroy(mnet_port *p);

/* Feed every core event (from the mc_config.event callback; it does not call back into
 * the node).  Returns 1 if the event was MINET's (a MINET message), else 0. */
int mnet_port_on_event(mnet_port *p, const struct mc_event *ev);
/* The TAP fd is readable: read and send up to `budget` frames.  Not from inside a core
 * callback.  Returns frames handled (>= 0). */
int mnet_port_on_tap(mnet_port *p, uint64_t now, unsigned budget);
/* Send one Ethernet frame as if read from the TAP (tests, or a caller without TAP). */
int mnet_port_send(mnet_port *p, const uint8_t *eth, size_t len, const mnet_meta *meta,
                   uint64_t now);
/* False while a unicast frame waits for the core's queue (MC_EAGAIN): stop polling the
 * TAP and call mnet_port_retry() after the core made progress (input, timeout). */
bool mnet_port_wants_tap(const mnet_port *p);
int mnet_port_retry(mnet_port *p, uint64_t now);
/* Hook for frames received when there is no TAP (tests): called instead of the TAP write. */
typedef void (*mnet_deliver_fn)(void *user, uint32_t from, const uint8_t *eth, size_t len,
                                const mnet_meta *meta);
void mnet_port_set_deliver(mnet_port *p, mnet_deliver_fn fn, void *user);

void mnet_port_get_stats(const mnet_port *p, mnet_port_stats *out);
/* Table + switch counters + port counters as text (for msgrctl / SIGUSR1). */
int mnet_port_format(const mnet_port *p, uint64_t now, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* MNET_MNET_H */
