/*
 * bearer.h — Messenger bearers (prefix mb_): thin OS shells that move frames.
 *
 * A bearer carries opaque frames (byte buffers) over one medium: raw Ethernet
 * (AF_PACKET or libpcap), UDP, a serial line, or the PCIe shim (a shared-memory
 * window with two slot rings between two processes).  It knows nothing about the
 * protocol above it: it does not parse Messenger headers and does not depend on the
 * core.  Every bearer is a `const struct mb_bearer_ops` table; the generic functions
 * below (mb_open, mb_send, ...) call through it and do the bookkeeping shared by all
 * media (enable flag, counters, capture hook).
 *
 * One way back into the layer above: the rx callback given to mb_open().  It is called
 * from mb_on_readable() (never from another thread, never re-entrantly) once for each
 * received frame.  The frame pointer is valid only during the call: the caller copies
 * what it keeps.  For the PCIe shim the pointer is into the shared window (zero copy)
 * and the slot is released when the callback returns; the peer is untrusted, so the
 * layer above must treat those bytes like bytes from a wire.
 *
 * Threads: a bearer is used by one thread at a time; nothing here locks.
 * Errors: 0 or a positive count on success, a negative MB_E* code on failure
 * (mb_strerror() names it).  errno is used only inside the implementations.
 * Blocking: no function blocks; sockets, ttys and eventfds are non-blocking.
 */
#ifndef MB_BEARER_H
#define MB_BEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ---------------------------------------------------------------------- */
enum mb_err {
    MB_OK = 0,
    MB_EINVAL = -1,     /* bad argument or configuration value */
    MB_ENOMEM = -2,     /* allocation failed */
    MB_EIO = -3,        /* the OS refused an operation (see the bearer's log) */
    MB_EAGAIN = -4,     /* would block: socket buffer or ring full, try after mb_fd is readable */
    MB_ETOOBIG = -5,    /* frame longer than the bearer's MTU */
    MB_ENODEV = -6,     /* interface / device / peer window not found */
    MB_EPERM = -7,      /* needs privileges (CAP_NET_RAW, ...) */
    MB_EADDR = -8,      /* bad or unsupported media address */
    MB_EDOWN = -9,      /* bearer disabled, or its carrier is down (pty closed, shm not RUNNING) */
    MB_EPROTO = -10,    /* peer violated the shim layout (magic, version, geometry) */
    MB_ENOTSUP = -11,   /* operation not supported by this bearer */
    MB_EEXIST = -12,    /* name already in use (shm socket) */
};
#define MB_ERR_COUNT 13
const char *mb_strerror(int err);

/* ---- Media addresses ---------------------------------------------------------------
 * eth, eth-pcap: 6 bytes, the MAC.
 * udp:  IPv4: 6 bytes = address(4) port(2), network order;
 *       IPv6: 18 bytes = address(16) port(2), network order.
 * serial, pcie: point-to-point, len 0 (a NULL dst is accepted too).
 * MB_ADDR_MAX is 20, not 16, so an IPv6 address and port fit. */
#define MB_ADDR_MAX 20

/* Receive buffer the socket bearers (eth, udp) ask for unless told otherwise
 * (rcvbuf=0 keeps the OS default).  A link keeps up to a window (256) of MTU-sized frames
 * in flight, so the usual 208 KiB default overflows under one busy link, and every drop
 * costs a retransmission: on UDP loopback, 64 B messages ran at 78k msg/s with 60,610
 * retransmits for 31,783 frames against 205k msg/s and 32 with 8 MiB (bench_msgr). */
#define MB_DEFAULT_RCVBUF (4u << 20)
struct mb_addr {
    uint8_t len;
    uint8_t b[MB_ADDR_MAX];
};
bool mb_addr_eq(const struct mb_addr *a, const struct mb_addr *b);
struct mb_bearer_ops;
/* "aa:bb:cc:dd:ee:ff", "192.0.2.1:34997", "[2001:db8::1]:34997", "-" (empty), as suits
 * the bearer (ops may be NULL: hex).  Returns the length it wanted (like snprintf). */
int mb_addr_format(const struct mb_bearer_ops *ops, const struct mb_addr *a, char *out,
                   size_t cap);

/* ---- Counters ----------------------------------------------------------------------
 * Every received frame that is not delivered is counted in exactly one drop_* field.
 * Every frame handed to mb_send that is not sent is counted in exactly one tx_* error. */
struct mb_stats {
    uint64_t rx_frames, rx_bytes;   /* delivered to the rx callback */
    uint64_t tx_frames, tx_bytes;   /* accepted by the OS / published in the ring */
    uint64_t drop_too_long;         /* truncated by the OS, or longer than MTU/slot */
    uint64_t drop_too_short;        /* shorter than the media header, or empty */
    uint64_t drop_crc;              /* serial: CRC-32C mismatch */
    uint64_t drop_framing;          /* serial: escape/abort errors, runts, overruns */
    uint64_t drop_ethertype;        /* eth: EtherType not ours (VLAN tag, filter race) */
    uint64_t drop_filtered;         /* eth: frame for another host / our own echo */
    uint64_t drop_disabled;         /* received while the bearer was disabled */
    uint64_t drop_os;               /* dropped by the OS before we read them (buffer full) */
    uint64_t tx_too_long;           /* mb_send refused: longer than MTU */
    uint64_t tx_full;               /* mb_send refused: MB_EAGAIN */
    uint64_t tx_down;               /* mb_send refused: disabled or carrier down */
    uint64_t tx_errors;             /* the OS failed the send */
    uint64_t reopens;               /* serial: device re-opened after EOF/EIO/hangup */
    uint64_t resets;                /* pcie: reset handshakes completed (-> RUNNING) */
    uint64_t doorbells_tx;          /* pcie: doorbells rung for the peer */
    uint64_t doorbells_rx;          /* pcie: wake-ups received */
    uint64_t carrier_changes;       /* serial, pcie: up<->down transitions */
    uint64_t proto_errors;          /* pcie: ring index out of range: window reset (MSG-SHM-7) */
};

/* ---- The frame callback: the one way back into the layer above ---------------------- */
typedef void (*mb_rx_fn)(void *user, const uint8_t *frame, size_t len, const struct mb_addr *src);

/* One frame of a batch send. */
struct mb_txmsg {
    const uint8_t *frame;
    size_t len;
    const struct mb_addr *dst; /* NULL for point-to-point bearers */
};

struct mb_bearer; /* opaque handle */

/* ---- The operations table -----------------------------------------------------------
 * Implementations fill this; users go through the mb_* functions below, which check
 * arguments, counters, the enable flag and the capture hook around each slot.  All slots
 * are non-blocking; none may be called from inside the rx callback of the same bearer
 * except send/send_batch. */
struct mb_bearer_ops {
    const char *name;   /* "eth", "eth-pcap", "udp", "serial", "pcie" */
    uint8_t media;      /* enum mp_bearer value, for capture pseudo-headers */
    /* Parse `config` ("key=value,key=value"), acquire OS objects, set b's mtu and
     * addresses.  Returns 0 or MB_E*; on failure nothing is left open. */
    int (*open)(struct mb_bearer *b, const char *config);
    /* Release everything open() acquired.  Never fails. */
    void (*close)(struct mb_bearer *b);
    /* Send one frame (len <= mtu, checked by the caller).  0 or MB_EAGAIN / MB_EIO /
     * MB_EDOWN / MB_EADDR.  The frame is copied (or written into the ring) before return. */
    int (*send)(struct mb_bearer *b, const uint8_t *frame, size_t len, const struct mb_addr *dst);
    /* Optional: send up to n frames in one system call; returns how many were sent
     * (>= 0; fewer than n means the next one would block or failed) or MB_E* if none. */
    int (*send_batch)(struct mb_bearer *b, const struct mb_txmsg *v, unsigned n);
    /* The fd to wait on for readability (epoll/poll), or -1.  Stable for the bearer's
     * life (bearers whose OS objects come and go return an inner epoll fd). */
    int (*fd)(const struct mb_bearer *b);
    /* Receive up to `budget` frames without blocking and deliver each through
     * mb__deliver(); also runs housekeeping (re-open, reset handshake, tx flush).
     * Returns frames delivered (>= 0) or MB_E* on a fatal error.  Frames left over
     * (budget reached) keep the fd readable, so a level-triggered loop comes back. */
    int (*on_readable)(struct mb_bearer *b, unsigned budget);
    /* Optional: react to enable/disable (the generic layer keeps the flag). */
    int (*set_enabled)(struct mb_bearer *b, bool on);
    /* Optional: add medium-specific counters (deframer, pcap drops) into *s. */
    void (*stats)(const struct mb_bearer *b, struct mb_stats *s);
    /* Optional: force the device closed and re-opened (serial).  0 or MB_E*. */
    int (*reopen)(struct mb_bearer *b);
};

extern const struct mb_bearer_ops mb_eth_ops;      /* AF_PACKET, recvmmsg/sendmmsg */
extern const struct mb_bearer_ops mb_eth_pcap_ops; /* libpcap fallback */
extern const struct mb_bearer_ops mb_udp_ops;      /* UDP unicast + multicast discovery */
extern const struct mb_bearer_ops mb_serial_ops;   /* tty/pty, 0x7E framing + CRC-32C */
extern const struct mb_bearer_ops mb_pcie_ops;     /* PCIe shim: shared-memory rings */

/* Look up an ops table by name; NULL if unknown. */
const struct mb_bearer_ops *mb_ops_find(const char *name);

/* ---- Using a bearer -------------------------------------------------------------- */

/* Open a bearer.  rx/user receive frames; *out gets the handle.  0 or MB_E*. */
int mb_open(const struct mb_bearer_ops *ops, const char *config, mb_rx_fn rx, void *user,
            struct mb_bearer **out);
/* "eth:ifname=veth0,mtu=1500" — the ops name, a colon, then the config. */
int mb_open_spec(const char *spec, mb_rx_fn rx, void *user, struct mb_bearer **out);
void mb_close(struct mb_bearer *b); /* NULL is fine */

/* Send.  Returns 0 or MB_E* (every failure is counted in the tx_* counters). */
int mb_send(struct mb_bearer *b, const uint8_t *frame, size_t len, const struct mb_addr *dst);
/* Send up to n; returns the number sent (0..n) or MB_E* if the first one failed.  Uses
 * the bearer's batch slot if it has one, else loops over send. */
int mb_send_batch(struct mb_bearer *b, const struct mb_txmsg *v, unsigned n);

int mb_fd(const struct mb_bearer *b);
int mb_on_readable(struct mb_bearer *b, unsigned budget);

/* Disabled: mb_send fails with MB_EDOWN; received frames are counted and dropped. */
int mb_set_enabled(struct mb_bearer *b, bool on);
bool mb_enabled(const struct mb_bearer *b);
/* Carrier: the medium can carry frames now (always true for eth/udp; serial: device
 * open; pcie: handshake reached RUNNING). */
bool mb_carrier(const struct mb_bearer *b);
int mb_reopen(struct mb_bearer *b); /* MB_ENOTSUP unless the bearer has a reopen slot */

void mb_get_stats(const struct mb_bearer *b, struct mb_stats *out);
const struct mb_bearer_ops *mb_ops(const struct mb_bearer *b);
size_t mb_mtu(const struct mb_bearer *b);
/* This bearer's own media address, and the address that reaches every peer on the
 * medium (eth broadcast, udp multicast group + configured peers; empty for p2p). */
void mb_local_addr(const struct mb_bearer *b, struct mb_addr *out);
void mb_discovery_addr(const struct mb_bearer *b, struct mb_addr *out);

/* ---- PCIe shim extras ---------------------------------------------------------------
 * Zero-copy transmit: reserve the next free slot of the outgoing ring, fill *data (up to
 * *cap bytes), then commit with the real length (publishes the slot, rings the doorbell
 * if the consumer asked for one).  reserve returns MB_EAGAIN when the ring is full and
 * MB_EDOWN before RUNNING; a reserved slot must be committed (len 0 aborts) before the
 * next reserve or send. */
int mb_pcie_reserve(struct mb_bearer *b, uint8_t **data, size_t *cap);
int mb_pcie_commit(struct mb_bearer *b, size_t len);
/* Handshake state of this side and of the peer as seen in the window (enum mp_shm_state). */
int mb_pcie_state(const struct mb_bearer *b, int *self, int *peer);

/* ---- Capture ------------------------------------------------------------------------
 * A pcap file writer.  USER0 files carry the 8-byte pseudo-header of wire.h before each
 * frame (serial, pcie; serial frames with their CRC and MP_CAPF_FCS); EN10MB files carry
 * Ethernet frames as on the wire; IPV4 files carry a synthesized IPv4+UDP header (udp
 * bearer over IPv4; IPv6 frames are not captured and are counted in skipped). */
enum mb_cap_link { MB_CAP_USER0 = 0, MB_CAP_EN10MB = 1, MB_CAP_IPV4 = 2 };
struct mb_capture;
int mb_capture_open(const char *path, enum mb_cap_link link, struct mb_capture **out);
/* Write one record.  For USER0, `media`/`cflags`/`index` fill the pseudo-header and
 * `fcs` (4 bytes, or NULL) is appended.  For other link types they are ignored. */
int mb_capture_write(struct mb_capture *c, const uint8_t *frame, size_t len, uint8_t media,
                     uint8_t cflags, uint16_t index, const uint8_t *fcs);
uint64_t mb_capture_records(const struct mb_capture *c);
uint64_t mb_capture_skipped(const struct mb_capture *c);
int mb_capture_flush(struct mb_capture *c);
void mb_capture_close(struct mb_capture *c);
/* Attach (or detach with NULL) a capture to a bearer: every frame sent and delivered is
 * written.  The link type must suit the bearer (MB_EINVAL otherwise).  The capture is
 * not owned: close it after the bearers that use it. */
int mb_set_capture(struct mb_bearer *b, struct mb_capture *c, uint16_t index);

#ifdef __cplusplus
}
#endif
#endif /* MB_BEARER_H */
