/*
 * msgr.h — libmsgr, the Messenger client library (prefix msgr_).  The one public header.
 *
 * Applications address logical devices by name: register a device (name, type,
 * properties), publish it, open paths to other devices by name or pattern, and send and
 * receive messages on those paths — exactly once and in order per path.
 *
 * Two modes, one API:
 *   - attached: msgr_attach() connects to the local msgrd over its Unix socket (who may
 *     attach is decided by the socket's owner/group/mode); several applications share a
 *     node;
 *   - embedded: msgr_embedded_create() runs a whole node (with its own bearers) inside
 *     this process, driven by this library's calls (msgr_wait, msgr_recv, ...).
 *
 * Errors: 0 or a non-negative value on success, a negative MSGR_E* code on failure;
 * msgr_strerror() names it.  Values are the node's error codes, so the daemon's answer
 * passes through unchanged.
 *
 * Threads: a msgr handle is used by one thread at a time.  Nothing here uses signals.
 * Handles: devices and paths are uint32_t handles of the node, never 0.
 */
#ifndef MSGR_MSGR_H
#define MSGR_MSGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum msgr_err {
    MSGR_OK = 0,
    MSGR_EINVAL = -1,    /* bad argument or name */
    MSGR_ENOMEM = -2,
    MSGR_ELIMIT = -3,    /* a node limit was reached */
    MSGR_ENOTCONN = -4,  /* no working link to the peer that holds the name */
    MSGR_EAGAIN = -5,    /* no credit on the path: wait for it to become writable */
    MSGR_ETOOBIG = -6,
    MSGR_ECODEC = -7,
    MSGR_ENOENT = -8,    /* no such name, device or path */
    MSGR_ENOTSUP = -9,
    MSGR_EEXIST = -10,
    MSGR_ESTATE = -11,   /* not allowed in the path's state */
    MSGR_EDISCONN = -300, /* the daemon went away */
    MSGR_ETIMEDOUT = -301,
    MSGR_EPROTO = -302,  /* the daemon answered something this library cannot read */
    MSGR_ESYS = -303,    /* a system call failed (errno is kept) */
    MSGR_ETRUNC = -304,  /* message longer than the caller's buffer (truncated) */
};
const char *msgr_strerror(int err);

typedef struct msgr msgr;

/* ---- Attaching ------------------------------------------------------------------------ */
/* socket NULL: $MSGR_SOCKET, else /run/msgr/msgrd.sock. */
int msgr_attach(const char *socket, msgr **out);
/* An in-process node: node_id, domain, bearer specs as msgrd's --bearer (see rt.h). */
int msgr_embedded_create(uint32_t node_id, uint32_t domain, const char *const *bearers,
                         size_t nbearers, msgr **out);
void msgr_close(msgr *m);
uint32_t msgr_node_id(const msgr *m);

/* ---- Devices -------------------------------------------------------------------------- */
typedef struct msgr_prop {
    const char *key;   /* 1..31 of [a-z0-9_.-] */
    const char *value; /* 0..255 bytes */
} msgr_prop;

typedef struct msgr_device_cfg {
    const char *name;     /* "storage/disk0": '/'-separated components */
    uint16_t dtype;
    uint8_t rank;         /* EXCLUSIVE names: highest rank wins (N+1) */
    bool exclusive;
    bool manual_accept;   /* incoming paths wait for msgr_accept() (MSGR_EV_REQUEST) */
    bool no_publish;      /* register only; msgr_publish() later */
    const msgr_prop *props;
    size_t nprops;        /* <= 16 */
} msgr_device_cfg;

int msgr_device_register(msgr *m, const msgr_device_cfg *cfg, uint32_t *dev);
int msgr_device_unregister(msgr *m, uint32_t dev);
int msgr_publish(msgr *m, uint32_t dev);
int msgr_withdraw(msgr *m, uint32_t dev);

/* ---- Paths ------------------------------------------------------------------------------ */
enum msgr_open_kind {
    MSGR_OPEN_NAME = 0,    /* the winner of an exact name (one-to-one) */
    MSGR_OPEN_PATTERN = 1, /* every device matching a pattern: one-to-many, one handle */
    MSGR_OPEN_ANYCAST = 2, /* one device among those of a name (round robin) */
};
/* Starts opening; the path is usable when msgr_path_state() says OPEN (or wait for
 * MSGR_EV_PATH, or msgr_open_wait()).  Sending before that fails with MSGR_ESTATE. */
int msgr_open(msgr *m, uint32_t dev, const char *name, int kind, uint32_t *path);
/* msgr_open + wait up to timeout_ms until it is OPEN (0) or broken (MSGR_ENOTCONN). */
int msgr_open_wait(msgr *m, uint32_t dev, const char *name, int kind, uint32_t *path,
                   int timeout_ms);
int msgr_accept(msgr *m, uint32_t path);
/* Close (orderly) or release a path that already ended. */
int msgr_path_close(msgr *m, uint32_t path);

enum msgr_path_state { MSGR_PS_CLOSED = 0, MSGR_PS_OPENING = 1, MSGR_PS_ACCEPTING = 2,
                       MSGR_PS_OPEN = 3, MSGR_PS_CLOSING = 4, MSGR_PS_BROKEN = 5 };
/* Last state reported for the path, or MSGR_ENOENT. */
int msgr_path_state(msgr *m, uint32_t path);

/* ---- Messages -------------------------------------------------------------------------- */
#define MSGR_MAX_MSG 65536

/* Send one message gathered from iov (scatter-gather).  timeout_ms: how long to wait for
 * credit when the receiver is behind (0 = fail at once with MSGR_EAGAIN, -1 = forever). */
int msgr_sendv(msgr *m, uint32_t path, const struct iovec *iov, int iovcnt, int timeout_ms);
int msgr_send(msgr *m, uint32_t path, const void *data, size_t len, int timeout_ms);

typedef struct msgr_msg_info {
    uint32_t path;      /* the path it came on */
    uint32_t device;    /* the local device it is for */
    uint32_t peer_node; /* the sending node */
    size_t len;         /* full length (> the buffer size if MSGR_ETRUNC) */
} msgr_msg_info;
/* Receive the next message on `path` (0 = any path) into buf.  Returns the length, or
 * MSGR_ETIMEDOUT, MSGR_ETRUNC (the message is consumed; info->len has its size). */
int msgr_recv(msgr *m, uint32_t path, void *buf, size_t cap, msgr_msg_info *info,
              int timeout_ms);

/* Static messages: allocated once with room for the protocol header, filled in place and
 * sent again and again with no allocation and no copy per send. */
typedef struct msgr_static_msg msgr_static_msg;
msgr_static_msg *msgr_static_alloc(msgr *m, size_t capacity);
void *msgr_static_data(msgr_static_msg *s);       /* capacity bytes to fill */
size_t msgr_static_capacity(const msgr_static_msg *s);
int msgr_static_send(msgr *m, uint32_t path, msgr_static_msg *s, size_t len, int timeout_ms);
void msgr_static_free(msgr_static_msg *s);

/* ---- Service status events -------------------------------------------------------------- */
enum msgr_event_type {
    MSGR_EV_PATH = 1,    /* a path changed state (path, state, reason) */
    MSGR_EV_REQUEST = 2, /* a peer asks to open `path` to `device` (manual_accept) */
    MSGR_EV_LINK = 3,    /* a link to peer_node on bearer went up/down */
    MSGR_EV_PEER = 4,    /* peer_node became reachable/unreachable */
    MSGR_EV_NAME = 5,    /* name appeared (up) or vanished (!up) */
};
typedef struct msgr_event {
    int type;
    uint32_t path, group, device, peer_node, peer_device;
    int state, reason, bearer;
    bool up;
    char name[128];
} msgr_event;
/* Ask for link/peer and name events (path and request events always come). */
int msgr_subscribe(msgr *m, bool links, bool names);
/* Next status event; MSGR_ETIMEDOUT if none within timeout_ms. */
int msgr_next_event(msgr *m, msgr_event *ev, int timeout_ms);

/* ---- Waitable lists ---------------------------------------------------------------------- */
enum msgr_wait_kind {
    MSGR_W_READABLE = 1, /* a message is waiting on `handle` (a path; 0 = any path) */
    MSGR_W_WRITABLE = 2, /* the path `handle` is OPEN and has credit */
    MSGR_W_DEVICE = 3,   /* a message or an open request for device `handle` */
    MSGR_W_EVENT = 4,    /* any status event is waiting */
};
typedef struct msgr_waitable {
    int kind;
    uint32_t handle;
    bool ready; /* out */
} msgr_waitable;
/* Wait until at least one item is ready or timeout_ms passes (-1 = forever).  Returns
 * the number of ready items (0 on timeout). */
int msgr_wait(msgr *m, msgr_waitable *items, size_t n, int timeout_ms);
/* A pollable fd for the caller's own loop: when it is readable, call msgr_wait(...,0)
 * (or msgr_recv/msgr_next_event with timeout 0).  Before sleeping on it, check that
 * msgr_wait(..., 0) returns 0: messages already read from the socket are queued here. */
int msgr_fd(const msgr *m);

#ifdef __cplusplus
}
#endif
#endif /* MSGR_MSGR_H */
