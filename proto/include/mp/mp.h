/*
 * mp/mp.h — the Messenger wire codec (prefix mp_).
 *
 * Encode and decode every structure of RFC-messenger.md.  No allocation, no OS calls,
 * no global state; builds freestanding.  Decoded structures hold *views* (pointer +
 * length) into the caller's input buffer: they are valid only while that buffer is.
 * Encoders write into a caller buffer and never write past `cap`.
 *
 * Errors are negative MP_E* codes; mp_strerror() names them.  Decoders validate the
 * whole structure (lengths, counts, reserved fields, ranges, names) before returning
 * success, so a caller never sees a half-checked frame.
 */
#ifndef MP_MP_H
#define MP_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ----------------------------------------------------------------- */
enum mp_err {
    MP_OK = 0,
    MP_ETRUNC = -1,    /* input shorter than a header or than its length field */
    MP_EVERSION = -2,  /* version nibble is not MP_VERSION */
    MP_ETYPE = -3,     /* unknown or disallowed message type */
    MP_ELENGTH = -4,   /* length field inconsistent with the type's structure */
    MP_ERESERVED = -5, /* a reserved field or undefined flag bit is non-zero */
    MP_EOPTION = -6,   /* malformed/duplicate option, or unknown critical option */
    MP_ENAME = -7,     /* invalid logical-device name (or node/bearer name) */
    MP_EPROP = -8,     /* invalid property */
    MP_ERANGE = -9,    /* a field is outside its allowed range */
    MP_ENOSPC = -10,   /* output buffer too small */
    MP_ECHANNEL = -11, /* channel/cseq not allowed for this type */
    MP_ECRC = -12,     /* CRC-32C mismatch (serial framing, capture FCS) */
    MP_EFRAMING = -13, /* serial delimiting/escaping error */
    MP_ECOUNT = -14,   /* a count field disagrees with the bytes present */
    MP_EPATTERN = -15, /* invalid pattern */
    MP_EINVAL = -16,   /* invalid argument given to an encoder */
};
#define MP_ERR_COUNT 17
const char *mp_strerror(int err);
/* The short symbolic name ("MP_ETRUNC"), as used by spec/vectors. */
const char *mp_errname(int err);

/* ---- Views ------------------------------------------------------------------- */
typedef struct mp_bytes {
    const uint8_t *ptr;
    size_t len;
} mp_bytes;

typedef struct mp_opt {
    uint8_t type;
    uint8_t len;
    const uint8_t *val;
} mp_opt;

typedef struct mp_opts {
    uint8_t n;
    mp_opt v[MP_MAX_OPTIONS];
} mp_opts;

typedef struct mp_prop {
    const uint8_t *key;
    uint8_t key_len;
    const uint8_t *val;
    uint8_t val_len;
} mp_prop;

/* ---- Header -------------------------------------------------------------------- */
typedef struct mp_hdr {
    uint8_t version; /* MP_VERSION on encode; checked on decode */
    uint8_t flags;   /* low nibble of byte 0, kept raw */
    uint8_t type;
    uint16_t length; /* set by the encoder; checked by the decoder */
    /* Sequenced types only (MP_TYPE_IS_SEQUENCED): */
    uint16_t seq;
    uint16_t ack;
    uint32_t chan;
    uint32_t cseq;
} mp_hdr;

/* ---- Bodies --------------------------------------------------------------------- */
typedef struct mp_discover {
    uint32_t node_id, domain;
    uint8_t max_version, dflags;
    uint16_t mtu;
    uint32_t incarnation;
    mp_opts opts;
} mp_discover;

typedef struct mp_link { /* LINK_RESET and LINK_ACTIVATE */
    uint32_t node_id, peer_id, incarnation;
    uint16_t session, next_seq, tolerance_ms, window, mtu;
    uint8_t priority, lflags;
    mp_opts opts;
} mp_link;

typedef struct mp_gap {
    uint16_t start, end; /* inclusive range of missing link sequence numbers */
} mp_gap;

typedef struct mp_link_state {
    uint16_t session, ack, next_seq;
    uint8_t sflags, gap_count;
    uint32_t timestamp, echo;
    mp_gap gaps[MP_MAX_GAPS];
} mp_link_state;

typedef struct mp_fragment {
    uint8_t inner_type;
    uint32_t total_len, offset;
    mp_bytes data;
} mp_fragment;

typedef struct mp_bundle {
    uint16_t count;  /* members, counted and validated by the decoder */
    mp_bytes members; /* walk with mp_bundle_next() */
} mp_bundle;

typedef struct mp_minet {
    uint8_t mflags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, domain;
    mp_bytes eth; /* Ethernet frame: dst, src, ethertype, payload; no FCS */
} mp_minet;

typedef struct mp_name_rec {
    uint32_t device_id;
    uint16_t dtype;
    uint8_t nflags, rank;
    uint32_t generation;
    mp_bytes name;
    uint8_t prop_count;
    mp_prop props[MP_MAX_PROPS];
} mp_name_rec;

typedef struct mp_name_withdraw {
    uint32_t device_id, generation;
    mp_bytes name;
} mp_name_withdraw;

typedef struct mp_name_sync {
    uint8_t yflags;
    uint16_t count;
    mp_bytes records; /* decode: walk with mp_name_sync_next() */
    /* encode: the records to write (records view is ignored) */
    const mp_name_rec *enc_recs;
} mp_name_sync;

typedef struct mp_path_open {
    uint32_t src_path, src_device, dst_device, credit;
    uint8_t pkind;
    mp_bytes name; /* may be empty */
    mp_opts opts;
} mp_path_open;

typedef struct mp_path_accept {
    uint32_t dst_path, src_path, credit;
} mp_path_accept;

typedef struct mp_path_close {
    uint32_t dst_path, src_path, last_cseq;
    uint8_t reason;
} mp_path_close;

typedef struct mp_path_abort {
    uint32_t dst_path, src_path;
    uint16_t error;
} mp_path_abort;

typedef struct mp_path_credit {
    uint32_t dst_path, limit;
} mp_path_credit;

typedef struct mp_service_status {
    uint8_t status, reason;
    uint32_t node, path, device;
    mp_bytes name; /* may be empty */
} mp_service_status;

typedef struct mp_uop_entry {
    uint16_t opcode, arg;
} mp_uop_entry;

typedef struct mp_mgmt {
    uint32_t corr_id, epoch, src_entity, dst_entity;
    uint8_t uop_count, gflags;
    mp_uop_entry uops[MP_MAX_UOPS];
    mp_bytes payload;
} mp_mgmt;

typedef struct mp_secured {
    uint8_t key_id;
    uint64_t counter;
    mp_bytes ciphertext; /* without the tag */
    const uint8_t *tag;  /* MP_SECURED_TAG_LEN bytes */
    mp_bytes aad;        /* decode only: the 16 header bytes, the AEAD's associated data */
} mp_secured;

typedef struct mp_key_exchange {
    uint8_t phase, key_id;
    uint16_t suite;
    uint32_t node_id, exchange_id;
    uint8_t public_key[32];
    uint8_t random[16];
    uint8_t mac[32];
} mp_key_exchange;

/* One decoded frame.  `hdr.type` selects the union member. */
typedef struct mp_frame {
    mp_hdr hdr;
    union {
        mp_discover discover;
        mp_link link; /* LINK_RESET, LINK_ACTIVATE */
        mp_link_state state;
        mp_bytes data; /* DATA payload */
        mp_fragment fragment;
        mp_bundle bundle;
        mp_minet minet;
        mp_name_rec publish;
        mp_name_withdraw withdraw;
        mp_name_sync sync;
        mp_path_open open;
        mp_path_accept accept;
        mp_path_close close;
        mp_path_abort abort_;
        mp_path_credit credit;
        mp_service_status status;
        mp_mgmt mgmt;
        mp_secured secured;
        mp_key_exchange kx;
    } u;
} mp_frame;

/* ---- Frames -------------------------------------------------------------------- */

/* Decode one frame from buf[0..len).  Bytes after hdr.length are ignored (Ethernet
 * padding).  Returns the frame length (> 0) or a negative MP_E* code. */
int mp_decode(const uint8_t *buf, size_t len, mp_frame *out);

/* Decode only the common (and, for sequenced types, the sequenced) header.  Unknown
 * sequenced types decode here, so a link can acknowledge what it cannot interpret. */
int mp_hdr_decode(const uint8_t *buf, size_t len, mp_hdr *out);

/* Decode a message body of `type` that is not in a frame: a reassembled fragment
 * series or a bundle member's body.  `hdr` supplies chan/cseq for the checks that need
 * them; hdr->type must equal type. */
int mp_body_decode(const mp_hdr *hdr, const uint8_t *body, size_t len, mp_frame *out);

/* Encode `f` into buf (cap bytes).  hdr.length and hdr.version are computed, not read.
 * Returns bytes written or a negative MP_E* code (MP_ENOSPC if cap is too small). */
int mp_encode(const mp_frame *f, uint8_t *buf, size_t cap);

/* Exact encoded size of `f`, or a negative MP_E* code if it cannot be encoded. */
int mp_encoded_len(const mp_frame *f);

/* Bundle member walk: *pos starts at 0.  Returns 1 with the member in `out`
 * (out->hdr.seq/ack are 0), 0 at the end, negative on error. */
int mp_bundle_next(const mp_bundle *b, size_t *pos, mp_frame *out);

/* Append one member to a bundle under construction in buf: members[0..*used).
 * The member's body is encoded from `m` (type must be bundleable). */
int mp_bundle_append(uint8_t *buf, size_t cap, size_t *used, const mp_frame *m);

/* NAME_SYNC record walk, like mp_bundle_next. */
int mp_name_sync_next(const mp_name_sync *s, size_t *pos, mp_name_rec *out);

/* Options: find the first option of `type`, or NULL. */
const mp_opt *mp_opt_find(const mp_opts *o, uint8_t type);

/* ---- Names, properties and patterns ------------------------------------------------ */
int mp_name_check(const uint8_t *name, size_t len);    /* 0 or MP_ENAME */
int mp_pattern_check(const uint8_t *pat, size_t len);  /* 0 or MP_EPATTERN */
bool mp_pattern_match(const uint8_t *pat, size_t plen, const uint8_t *name, size_t nlen);
int mp_prop_check(const mp_prop *p);                   /* 0 or MP_EPROP */

/* ---- Sequence arithmetic (RFC: serial-number arithmetic, mod 2^16 and 2^32) -------- */
static inline bool mp_seq16_lt(uint16_t a, uint16_t b) { return (int16_t)(uint16_t)(a - b) < 0; }
static inline bool mp_seq16_le(uint16_t a, uint16_t b) { return a == b || mp_seq16_lt(a, b); }
static inline bool mp_seq32_lt(uint32_t a, uint32_t b) { return (int32_t)(uint32_t)(a - b) < 0; }
static inline bool mp_seq32_le(uint32_t a, uint32_t b) { return a == b || mp_seq32_lt(a, b); }

/* ---- CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF; "123456789" -> 0xE3069283) */
uint32_t mp_crc32c(uint32_t crc, const uint8_t *p, size_t n); /* start with crc = 0 */

/* ---- Serial framing -------------------------------------------------------------------
 * Line format: 0x7E, stuffed(frame || CRC-32C(frame) big-endian), 0x7E.
 * Stuffing: 0x7E and 0x7D are sent as 0x7D, byte ^ 0x20.  0x7D 0x7E aborts a frame. */

/* Wrap `frame` for the line.  Returns bytes written or MP_ENOSPC. */
int mp_serial_encode(const uint8_t *frame, size_t len, uint8_t *out, size_t cap);
/* Worst-case line bytes for a frame of `len` bytes. */
size_t mp_serial_max_encoded(size_t len);

/* Incremental de-framer: feed any byte chunks; it emits complete, CRC-checked frames.
 * buf/cap is caller-owned storage for one frame plus its CRC. */
typedef struct mp_deframer {
    uint8_t *buf;
    size_t cap, used;
    bool in_frame, escaped, overflow;
    /* counters: every discarded frame is counted in exactly one */
    uint64_t frames_ok, crc_errors, framing_errors, overruns, runts;
} mp_deframer;
void mp_deframer_init(mp_deframer *d, uint8_t *buf, size_t cap);
/* Consume bytes from in[0..len).  When a complete good frame is found, stops and
 * returns its length (> 0) with the frame in d->buf[0..ret) (CRC stripped), and sets
 * *consumed to the bytes eaten so far; call again with the rest.  Returns 0 when all
 * input was consumed without completing a frame.  Bad frames are counted and skipped,
 * never returned. */
int mp_deframer_feed(mp_deframer *d, const uint8_t *in, size_t len, size_t *consumed);

/* ---- Capture pseudo-header (LINKTYPE_USER0) ------------------------------------------ */
typedef struct mp_caphdr {
    uint8_t bearer, cflags;
    uint16_t bearer_index;
} mp_caphdr;
int mp_caphdr_encode(const mp_caphdr *h, uint8_t *out, size_t cap); /* MP_CAPHDR_LEN */
int mp_caphdr_decode(const uint8_t *in, size_t len, mp_caphdr *out);

/* ---- Big-endian helpers (shared by codec, stack and tests; never cast bytes to structs) */
static inline uint16_t mp_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t mp_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t mp_get64(const uint8_t *p)
{
    return ((uint64_t)mp_get32(p) << 32) | mp_get32(p + 4);
}
static inline void mp_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void mp_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void mp_put64(uint8_t *p, uint64_t v) { mp_put32(p, (uint32_t)(v >> 32)); mp_put32(p + 4, (uint32_t)v); }

/* Type name ("DATA"), or NULL for an unassigned type. */
const char *mp_type_name(uint8_t type);

#ifdef __cplusplus
}
#endif
#endif /* MP_MP_H */
