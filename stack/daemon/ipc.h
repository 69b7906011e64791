/*
 * ipc.h — the msgrd client protocol (prefix mipc_): framing, request decoder, writers.
 *
 * One SOCK_SEQPACKET message = one request, response or event; every message starts
 * with a 12-byte header (PROTOCOL.md):
 *     u32 len   total length including the header
 *     u16 op    request op; | MIPC_RESP for its response; MIPC_EV_* for events
 *     u16 flags 0
 *     u32 id    request id, echoed in the response; 0 in events
 * All integers little-endian: both ends are on one machine, and x86/ARM are LE.
 * Strings are u8 length + bytes (no NUL) unless stated.
 *
 * mipc_decode_request() is a pure function over untrusted bytes (fuzzed): it checks the
 * header, the exact body layout of the op, and every length, and returns views into buf.
 */
#ifndef MIPC_IPC_H
#define MIPC_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIPC_VERSION 1
#define MIPC_HDR_LEN 12
#define MIPC_MAX_MSG (65536 + 64)   /* largest message on the socket */
#define MIPC_MAX_PAYLOAD 65536      /* largest application message through the daemon */
#define MIPC_MAX_PROPS 16
#define MIPC_MAX_ARGS 16
#define MIPC_RESP 0x8000u

enum mipc_op {
    MIPC_HELLO = 1,    /* u32 version, u32 event mask -> u32 node, u32 domain */
    MIPC_DEV_ADD = 2,  /* u16 dtype, u8 rank, u8 dflags, str name, u8 n, n x (str key, str val) -> u32 dev */
    MIPC_DEV_DEL = 3,  /* u32 dev */
    MIPC_PUBLISH = 4,  /* u32 dev */
    MIPC_WITHDRAW = 5, /* u32 dev */
    MIPC_OPEN = 6,     /* u32 dev, u8 kind, str name -> u32 path */
    MIPC_ACCEPT = 7,   /* u32 path */
    MIPC_CLOSE = 8,    /* u32 path */
    MIPC_SEND = 9,     /* u32 path, payload (rest of the message) */
    MIPC_CTL = 10,     /* u8 json, u8 argc, argc x (str arg) -> text */
    MIPC_OP_MAX = 10,
};

/* Device flags (MIPC_DEV_ADD). */
#define MIPC_DF_PUBLISH 0x1u     /* publish at once */
#define MIPC_DF_EXCLUSIVE 0x2u   /* EXCLUSIVE name (N+1: highest rank wins) */
#define MIPC_DF_MANUAL 0x4u      /* incoming paths wait for MIPC_ACCEPT */
#define MIPC_DF_ALL 0x7u

/* Open kinds (MIPC_OPEN). */
enum mipc_kind { MIPC_K_NAME = 0, MIPC_K_PATTERN = 1, MIPC_K_ANYCAST = 2 };

/* Events (daemon -> client, id 0). */
enum mipc_ev {
    MIPC_EV_MSG = 0x4001,      /* u32 path, u32 dev, u32 peer_node, payload */
    MIPC_EV_PATH = 0x4002,     /* u32 path, u32 group, u32 dev, u32 peer, u32 peer_dev, u8 state, u16 reason */
    MIPC_EV_REQUEST = 0x4003,  /* u32 path, u32 dev, u32 peer, u32 peer_dev */
    MIPC_EV_LINK = 0x4004,     /* u32 peer, i32 bearer, u8 up, u8 reason */
    MIPC_EV_PEER = 0x4005,     /* u32 peer, u8 up, u8 reason */
    MIPC_EV_NAME = 0x4006,     /* u8 kind (1 appeared, 2 updated, 3 vanished), u32 node, u32 dev, str name */
    MIPC_EV_WRITABLE = 0x4007, /* u32 path: credit is back after a MIPC_EAGAIN */
};
/* Event subscription mask bits (MIPC_HELLO): messages, path and request events always
 * go to the owner of the device/path; these are the optional ones. */
#define MIPC_SUB_LINK 0x1u
#define MIPC_SUB_NAME 0x2u

enum mipc_err {
    MIPC_OK = 0,
    MIPC_ESHORT = -1,   /* shorter than its header or its op's body */
    MIPC_ELEN = -2,     /* header length disagrees with the message length */
    MIPC_EOP = -3,      /* unknown op */
    MIPC_EFLAGS = -4,   /* non-zero header flags or undefined bits */
    MIPC_ETRAIL = -5,   /* bytes after the op's body */
    MIPC_ESTR = -6,     /* empty or over-long string */
    MIPC_ECOUNT = -7,   /* too many properties or arguments */
};
const char *mipc_strerror(int err);

typedef struct mipc_str {
    const char *p; /* not NUL-terminated */
    uint8_t len;
} mipc_str;

typedef struct mipc_req {
    uint16_t op;
    uint32_t id;
    union {
        struct { uint32_t version, mask; } hello;
        struct {
            uint16_t dtype;
            uint8_t rank, flags, nprops;
            mipc_str name;
            mipc_str key[MIPC_MAX_PROPS], val[MIPC_MAX_PROPS];
        } dev;
        uint32_t handle; /* DEV_DEL, PUBLISH, WITHDRAW, ACCEPT, CLOSE */
        struct { uint32_t dev; uint8_t kind; mipc_str name; } open;
        struct { uint32_t path; const uint8_t *data; size_t len; } send;
        struct { uint8_t json, argc; mipc_str arg[MIPC_MAX_ARGS]; } ctl;
    } u;
} mipc_req;

/* Decode one request message of exactly len bytes.  Views point into buf. */
int mipc_decode_request(const uint8_t *buf, size_t len, mipc_req *out);

/* ---- Writer / reader helpers (bounds-checked; an overflow sets err and stops) ------- */
typedef struct mipc_w {
    uint8_t *b;
    size_t cap, len;
    bool err;
} mipc_w;
void mipc_w_init(mipc_w *w, uint8_t *buf, size_t cap, uint16_t op, uint32_t id);
void mipc_put8(mipc_w *w, uint8_t v);
void mipc_put16(mipc_w *w, uint16_t v);
void mipc_put32(mipc_w *w, uint32_t v);
void mipc_putstr(mipc_w *w, const char *s, size_t len); /* u8 len + bytes */
void mipc_putraw(mipc_w *w, const void *p, size_t len);
/* Patch the header length; returns the message length or 0 if an overflow happened. */
size_t mipc_w_end(mipc_w *w);

typedef struct mipc_r {
    const uint8_t *b;
    size_t len, off;
    bool err;
} mipc_r;
void mipc_r_init(mipc_r *r, const uint8_t *buf, size_t len); /* positions after the header */
uint8_t mipc_get8(mipc_r *r);
uint16_t mipc_get16(mipc_r *r);
uint32_t mipc_get32(mipc_r *r);
mipc_str mipc_getstr(mipc_r *r);
/* Header fields of any message (0 if shorter than the header). */
uint16_t mipc_msg_op(const uint8_t *buf, size_t len);
uint32_t mipc_msg_id(const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MIPC_IPC_H */
