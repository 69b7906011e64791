/*
 * path.h — communication paths between logical devices (prefix mpa_).
 *
 * Sans-I/O: decoded frames, API calls and the current time go in; "actions" come out
 * (send this frame to node X, deliver this message to local device D, the state of path
 * P changed, a peer asks to open a path to device D).  No system calls, no clock, no
 * threads; all memory from the caller's allocator, bounded by configured limits.
 *
 * Channels.  A path is identified on the wire by its *receiver's* path id, which is
 * also the channel its messages travel on (design notes, "Paths").  This module owns
 * the cseq of path channels in both directions: frames it sends on a path channel carry
 * hdr.chan and hdr.cseq already set and the core must not renumber them; frames the
 * core receives on a channel >= MP_CHAN_FIRST_PATH go to mpa_input() as they come, and
 * this module does the exactly-once sequencing (duplicates dropped, gaps held in a
 * bounded reorder buffer, released in order).  PATH_OPEN travels on channel 0, which
 * the core sequences: its SEND action has hdr.chan = 0 and hdr.cseq = 0 for the core
 * to fill.
 *
 * Flow control.  Credit is an absolute cseq limit: the sender may send a flow-controlled
 * message (DATA, MGMT, SERVICE_STATUS) only with cseq strictly before the limit the
 * receiver granted.  PATH_ACCEPT, PATH_CREDIT, PATH_CLOSE and PATH_ABORT are exempt
 * (they are what unblocks or ends a path, so they must never wait for credit) but they
 * occupy cseq positions, which the receiver counts as consumed when it processes them.
 * The receiver grants limit = (positions consumed by the application) + window, and
 * sends PATH_CREDIT once that moves the limit by at least half a window.  Initial
 * credit: the opener grants 1 + window in PATH_OPEN (position 0 of its channel is the
 * PATH_ACCEPT); the acceptor grants window in PATH_ACCEPT.
 *
 * Ownership.  Every pointer in an action is valid only during the action callback:
 * payloads point either into the frame passed to the mpa_input() call that produced
 * them (caller's buffer) or into storage this module frees when the callback returns.
 * The core copies what it keeps.  Payloads given to mpa_send() are read only during
 * the call (through the SEND action).  Frames given to mpa_input() are only read
 * during the call; what must wait (out-of-order messages) is copied.
 *
 * Re-entrancy: the action callback must not call mpa_* functions on the same context
 * (queue the work instead).  Single-threaded: one context per node.
 *
 * Path handles are the local path ids.  A handle stays valid (and its id is never
 * reused) until mpa_release(), also after the path reached CLOSED or BROKEN, so late
 * frames for it are recognised rather than misdelivered.
 */
#ifndef MPA_PATH_H
#define MPA_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mpa_err {
    MPA_OK = 0,
    MPA_EINVAL = -1,    /* bad argument */
    MPA_ENOMEM = -2,    /* the allocator returned NULL */
    MPA_ELIMIT = -3,    /* a configured limit (paths, bytes, group size) is reached */
    MPA_ENOPATH = -4,   /* no such path (or the frame's channel names none) */
    MPA_ESTATE = -5,    /* not allowed in the path's current state */
    MPA_ENOCREDIT = -6, /* the peer's credit is used up: retry after a PATH_CREDIT */
    MPA_EPEER = -7,     /* frame from a node that is not the path's peer */
    MPA_EPROTO = -8,    /* frame violates the protocol (counted; may abort the path) */
    MPA_ENODEV = -9,    /* no such local device registered */
    MPA_EEXIST = -10,   /* device already registered */
};
const char *mpa_strerror(int err);

typedef struct mpa_allocator {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} mpa_allocator;

enum mpa_state {
    MPA_ST_CLOSED = 0,    /* terminal: closed in order */
    MPA_ST_OPENING = 1,   /* opener: PATH_OPEN sent, waiting for PATH_ACCEPT */
    MPA_ST_ACCEPTING = 2, /* acceptor: PATH_OPEN received, waiting for mpa_accept() */
    MPA_ST_OPEN = 3,
    MPA_ST_CLOSING = 4, /* PATH_CLOSE sent, draining until the peer's PATH_CLOSE */
    MPA_ST_BROKEN = 5,  /* terminal: aborted, refused, timed out or peer lost */
};
const char *mpa_state_name(int state);

enum mpa_action_type {
    MPA_ACT_SEND = 1,         /* send `frame` to `node` */
    MPA_ACT_DELIVER = 2,      /* deliver `frame` (DATA, MGMT or SERVICE_STATUS) to `device` */
    MPA_ACT_STATUS = 3,       /* path (or group) `path` entered `state` for `reason` */
    MPA_ACT_OPEN_REQUEST = 4, /* peer asks for a path to `device`: mpa_accept/mpa_refuse */
};

typedef struct mpa_action {
    enum mpa_action_type type;
    uint32_t node;         /* SEND: destination node; others: the path's peer node */
    uint32_t path;         /* local path id (for a group member, the sub-path) */
    uint32_t group;        /* the group handle if `path` belongs to one, else 0 */
    uint32_t device;       /* local device */
    uint32_t peer_device;  /* device at the peer */
    const mp_frame *frame; /* SEND: frame to send; DELIVER: the message frame */
    mp_bytes payload;      /* DELIVER of DATA: the payload (same as frame->u.data) */
    uint32_t cseq;         /* DELIVER: the message's cseq on the path channel */
    uint8_t state;         /* STATUS: the new enum mpa_state */
    uint16_t reason;       /* STATUS: MP_R_* (a PATH_ABORT carries 16 bits) */
    uint8_t pkind;         /* OPEN_REQUEST/STATUS: MP_PK_* */
    mp_bytes name;         /* OPEN_REQUEST: the name the opener asked for (may be empty) */
} mpa_action;

typedef void (*mpa_action_fn)(void *user, const mpa_action *a);

typedef struct mpa_config {
    mpa_allocator alloc;
    mpa_action_fn on_action; /* required */
    void *action_user;
    uint32_t max_paths;     /* path objects incl. groups; 0 = default 4096 */
    uint32_t max_group;     /* sub-paths per multicast group; 0 = default 256 */
    size_t max_bytes;       /* all memory of the context; 0 = default 32 MiB */
    uint32_t window;        /* default credit window in cseq positions; 0 = 64; >= 4 */
    uint32_t reorder_max;   /* out-of-order messages held per path; 0 = 2 * window */
    uint64_t open_timeout;  /* in the caller's time unit (ns advised); 0 = 2 s in ns */
    uint64_t close_timeout; /* 0 = open_timeout */
    /* MSG-PATH-25: does a PATH_OPEN's non-empty name fit local `device` (its name exactly
     * for UNICAST, as a pattern otherwise)?  Non-zero = yes.  NULL = names not checked. */
    int (*name_ok)(void *user, uint32_t device, const uint8_t *name, size_t len, bool pattern);
    void *name_user;
} mpa_config;

typedef struct mpa_stats {
    uint32_t paths;
    size_t bytes_used;
    uint64_t opened, accepted, refused, timeouts, closed, broken;
    uint64_t sent, delivered, credits_sent;
    uint64_t duplicates;        /* cseq already delivered or already held */
    uint64_t held;              /* messages that waited in a reorder buffer */
    uint64_t reorder_overflow;  /* gap wider than the reorder buffer: path aborted */
    uint64_t credit_violations; /* peer sent beyond our limit: path aborted */
    uint64_t wrong_peer;        /* frame for a path from a node that is not its peer */
    uint64_t stray;             /* frame for an unknown path id */
    uint64_t late;              /* frame for a path that is already closed/broken */
    uint64_t proto_errors;      /* other protocol violations */
    uint64_t close_mismatch;    /* PATH_CLOSE last_cseq disagrees with its position */
} mpa_stats;

typedef struct mpa_info {
    uint8_t state, pkind;
    bool is_group, opener;
    uint16_t reason; /* last STATUS reason */
    uint32_t peer_node, peer_path, local_device, peer_device, group;
    uint32_t tx_next, tx_limit; /* our sending position and the peer's grant */
    uint32_t rx_next, rx_limit; /* next expected cseq and what we granted */
    uint32_t window, unconsumed, held;
    uint32_t members; /* groups: sub-paths not yet released */
} mpa_info;

typedef struct mpa_ctx mpa_ctx;

int mpa_create(const mpa_config *cfg, mpa_ctx **out);
/* Free everything without actions (the core tears the node down). */
void mpa_destroy(mpa_ctx *c);
void mpa_get_stats(const mpa_ctx *c, mpa_stats *out);
int mpa_get_info(const mpa_ctx *c, uint32_t path, mpa_info *out);
/* Earliest open/accept/close deadline, or UINT64_MAX if none. */
uint64_t mpa_next_deadline(const mpa_ctx *c);

/* ---- Local devices (acceptor side; many-to-one) -------------------------------------
 * A PATH_OPEN for an unregistered device is refused with MP_R_NO_SUCH_DEVICE.
 * MPA_DEV_AUTO_ACCEPT: accept at once (STATUS OPEN); otherwise an OPEN_REQUEST action
 * and the path waits in ACCEPTING for mpa_accept()/mpa_refuse() until the open timeout.
 * max_paths bounds the paths accepted for the device (0 = no own limit); beyond it
 * opens are refused with MP_R_NO_RESOURCES. window 0 = the context default. */
#define MPA_DEV_AUTO_ACCEPT 0x1u
int mpa_device_add(mpa_ctx *c, uint32_t device, uint32_t flags, uint32_t max_paths,
                   uint32_t window);
/* Unregister; every live path of the device is aborted (MP_R_NO_SUCH_DEVICE). */
int mpa_device_remove(mpa_ctx *c, uint32_t device);

/* ---- Opening ------------------------------------------------------------------------ */
typedef struct mpa_target {
    uint32_t node, device;
    /* The name this target was found under (the matching entry's name), sent in its
     * PATH_OPEN; NULL = none.  PATH_OPEN carries names, never patterns. */
    const uint8_t *name;
    size_t name_len;
} mpa_target;

typedef struct mpa_open_args {
    uint32_t local_device;
    mpa_target peer;     /* ignored by mpa_open_group */
    uint8_t pkind;       /* MP_PK_UNICAST or MP_PK_ANYCAST (mpa_open), MULTICAST (group) */
    const uint8_t *name; /* mpa_open: the name the target was resolved from (sent in
                          * PATH_OPEN; MPA_EINVAL if not a valid name); may be NULL.
                          * mpa_open_group: ignored (each target carries its own). */
    size_t name_len;
    uint32_t window; /* 0 = the context default */
} mpa_open_args;

/* Open a path: SEND PATH_OPEN, state OPENING until PATH_ACCEPT (STATUS OPEN), a
 * refusal (STATUS BROKEN with the peer's reason) or the open timeout (BROKEN, TIMEOUT).
 * For ANYCAST, choose the target first (mn_anycast).  *path receives the handle. */
int mpa_open(mpa_ctx *c, const mpa_open_args *a, uint64_t now, uint32_t *path);
/* One-to-many: one sub-path per target, one group handle.  Sends on the group copy the
 * message to every OPEN member (a member that opens later gets later messages only).
 * The group is OPEN while a member is OPEN and ends when every member has ended. */
int mpa_open_group(mpa_ctx *c, const mpa_open_args *a, const mpa_target *targets, size_t n,
                   uint64_t now, uint32_t *group);

/* Acceptor decisions for an ACCEPTING path.  mpa_refuse also releases the handle. */
int mpa_accept(mpa_ctx *c, uint32_t path, uint32_t window);
int mpa_refuse(mpa_ctx *c, uint32_t path, uint16_t reason);

/* ---- Data ----------------------------------------------------------------------------- */
/* Send a DATA message (len <= MP_MAX_MESSAGE).  Returns the number of frames sent
 * (1, or one per OPEN member of a group) or MPA_ENOCREDIT (nothing sent: for a group
 * every OPEN member must have credit, so the slowest receiver paces the group). */
int mpa_send(mpa_ctx *c, uint32_t path, const uint8_t *payload, size_t len);
/* Send a path-scoped MGMT or SERVICE_STATUS frame (body in *f; header set here).
 * Flow-controlled like DATA. */
int mpa_send_frame(mpa_ctx *c, uint32_t path, const mp_frame *f);
/* Credit left: flow-controlled messages that may be sent now (groups: the minimum). */
uint32_t mpa_credit(const mpa_ctx *c, uint32_t path);
/* The application consumed `count` delivered messages of `path`: may grant credit. */
int mpa_consume(mpa_ctx *c, uint32_t path, uint32_t count);

/* ---- Ending ---------------------------------------------------------------------------- */
/* Graceful close: OPEN -> CLOSING (PATH_CLOSE sent; receiving continues) -> CLOSED on
 * the peer's PATH_CLOSE, or BROKEN at the close timeout.  OPENING/ACCEPTING -> CLOSED at
 * once.  A peer's PATH_CLOSE in OPEN is answered and the path is CLOSED. */
int mpa_close(mpa_ctx *c, uint32_t path, uint16_t reason, uint64_t now);
/* Abort: PATH_ABORT to the peer (when it knows the path), state BROKEN. */
int mpa_abort(mpa_ctx *c, uint32_t path, uint16_t reason);
/* Drop the handle (a live path is aborted first with MP_R_APP_CLOSE); the id is free
 * again.  Releasing a group releases its members. */
int mpa_release(mpa_ctx *c, uint32_t path);

/* ---- Inputs ------------------------------------------------------------------------------ */
/* A decoded frame from `from_node`: PATH_OPEN (chan 0), or any frame on a path channel
 * (PATH_ACCEPT, DATA, PATH_CREDIT, PATH_CLOSE, PATH_ABORT, SERVICE_STATUS, MGMT with
 * hdr.chan >= MP_CHAN_FIRST_PATH).  Returns MPA_OK when consumed (including duplicates
 * and held messages, which are counted) or a negative code when dropped (counted). */
int mpa_input(mpa_ctx *c, uint32_t from_node, const mp_frame *f, uint64_t now);
/* A sequenced frame for path channel `chan` whose link sequence number was consumed but
 * whose body is invalid (RFC 3.7, MSG-HDR-14; or a reassembled body that failed
 * validation, MSG-FRAG-12): cseq is consumed in its turn like a message that is then
 * discarded (a tombstone), so later messages of the path are not held for ever.
 * Returns MPA_OK when consumed or held, a negative code when dropped. */
int mpa_input_void(mpa_ctx *c, uint32_t from_node, uint32_t chan, uint32_t cseq);
/* The last link to `node` went down or it restarted: every path with it is BROKEN
 * (MP_R_PEER_DOWN) and waiting requests from it are dropped.  Returns paths broken. */
int mpa_peer_lost(mpa_ctx *c, uint32_t node);
/* Run timeouts due at `now`.  Returns the number of paths that timed out. */
int mpa_tick(mpa_ctx *c, uint64_t now);

#ifdef __cplusplus
}
#endif
#endif /* MPA_PATH_H */
