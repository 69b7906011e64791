/*
 * mp/wire.h — Messenger wire constants (RFC-messenger.md, version 0.1).
 *
 * This header is the single place in C where the wire format's numbers live.  Every
 * value here has a row in one of the RFC's registries; registry values are never
 * renumbered, only added.  All multi-byte fields on the wire are big-endian (network
 * order) except inside the PCIe shim window, which is little-endian (RFC section
 * "PCIe shim").  Offsets below are from the first byte of the frame.
 *
 * Freestanding: stdint only.
 */
#ifndef MP_WIRE_H
#define MP_WIRE_H

#include <stdint.h>

/* ---- Versions and limits ------------------------------------------------ */

#define MP_VERSION            1u     /* the only version this document defines */
#define MP_COMMON_HDR_LEN     4u     /* ver|flags, type, length(16) */
#define MP_SEQ_HDR_LEN        16u    /* common + seq(16) ack(16) chan(32) cseq(32) */
#define MP_INNER_HDR_LEN      12u    /* bundle member: common + chan(32) cseq(32) */
#define MP_MAX_FRAME          65535u /* length field is 16 bits */
#define MP_MAX_MESSAGE        (16u * 1024u * 1024u) /* reassembled message body limit */
#define MP_MIN_MESSAGE_SUPPORT (1024u * 1024u)      /* every node MUST reassemble this */
#define MP_MAX_OPTIONS        16u    /* options per frame */
#define MP_MAX_NAME           127u   /* logical-device name or pattern, bytes, no NUL */
#define MP_MAX_COMPONENT      63u    /* one '/'-separated component */
#define MP_MAX_PROPS          16u    /* properties per name record */
#define MP_MAX_PROP_KEY       31u
#define MP_MAX_PROP_VAL       255u
#define MP_MAX_GAPS           32u    /* NACK gap blocks per LINK_STATE */
#define MP_MAX_UOPS           64u    /* microoperations per MGMT message */
#define MP_MAX_NODE_NAME      63u
#define MP_MAX_BEARER_NAME    31u

/* ---- Common header flag bits (low nibble of byte 0) --------------------- */

#define MP_FLAG_ACKREQ        0x8u   /* sequenced frames: please send LINK_STATE now */
#define MP_FLAGS_MASK         0xFu

/* ---- Message type registry (byte 1) -------------------------------------
 * 0x01-0x0F  link-local, unsequenced
 * 0x10-0x3F  sequenced: carry the 16-byte sequenced header, consume a link seq
 * 0x40-0x4F  security, unsequenced
 * 0x50-0x7F  unassigned (unsequenced);  0x80-0xFF private/experimental
 */
enum mp_type {
    MP_T_DISCOVER       = 0x01,
    MP_T_LINK_RESET     = 0x02,
    MP_T_LINK_ACTIVATE  = 0x03,
    MP_T_LINK_STATE     = 0x04, /* ack, nack (gap blocks) and probe/reply in one */
    MP_T_DATA           = 0x10,
    MP_T_FRAGMENT       = 0x11,
    MP_T_BUNDLE         = 0x12,
    MP_T_MINET          = 0x13,
    MP_T_NAME_PUBLISH   = 0x20,
    MP_T_NAME_WITHDRAW  = 0x21,
    MP_T_NAME_SYNC      = 0x22,
    MP_T_PATH_OPEN      = 0x28,
    MP_T_PATH_ACCEPT    = 0x29,
    MP_T_PATH_CLOSE     = 0x2A,
    MP_T_PATH_ABORT     = 0x2B,
    MP_T_PATH_CREDIT    = 0x2C,
    MP_T_SERVICE_STATUS = 0x2D,
    MP_T_MGMT           = 0x30,
    MP_T_SECURED        = 0x40,
    MP_T_KEY_EXCHANGE   = 0x41,
};

#define MP_TYPE_IS_SEQUENCED(t) ((t) >= 0x10u && (t) <= 0x3Fu)

/* ---- Channels (sequenced header, bytes 8-11) ----------------------------- */

#define MP_CHAN_NODE          0x00000000u /* node control: naming, path control, mgmt */
#define MP_CHAN_MINET         0x00000001u /* MINET frames */
#define MP_CHAN_FIRST_PATH    0x00000100u /* path ids start here; 0x02-0xFF reserved */

/* ---- DISCOVER (0x01): fixed 20 bytes then options ------------------------
 *  4 node_id(32)  8 domain(32)  12 max_version(8)  13 dflags(8)
 * 14 mtu(16)     16 incarnation(32)  20 options...                          */
#define MP_DISCOVER_MIN_LEN   20u
#define MP_DFLAG_REPLY        0x01u /* answer to a DISCOVER */
#define MP_DFLAG_SECURE       0x02u /* sender requires secured links */
#define MP_DFLAGS_DEFINED     0x03u

/* ---- LINK_RESET (0x02) / LINK_ACTIVATE (0x03): fixed 28 then options -----
 *  4 node_id(32)  8 peer_id(32)  12 incarnation(32)  16 session(16)
 * 18 next_seq(16) 20 tolerance_ms(16) 22 window(16) 24 mtu(16)
 * 26 priority(8)  27 lflags(8)  28 options...                               */
#define MP_LINK_MIN_LEN       28u
#define MP_LFLAG_STANDBY      0x01u /* sender wants this link as a standby */
#define MP_LFLAGS_DEFINED     0x01u
#define MP_TOLERANCE_MIN_MS   10u
#define MP_TOLERANCE_MAX_MS   30000u
#define MP_TOLERANCE_DEF_MS   500u
#define MP_WINDOW_MIN         1u
#define MP_WINDOW_MAX         16384u
#define MP_WINDOW_DEF         256u
#define MP_PRIORITY_MAX       31u

/* ---- LINK_STATE (0x04): fixed 20 then gap_count x 4 ----------------------
 *  4 session(16)  6 ack(16)  8 next_seq(16)  10 sflags(8)  11 gap_count(8)
 * 12 timestamp(32)  16 echo(32)  20 gaps: start(16) end(16) inclusive       */
#define MP_LINK_STATE_MIN_LEN 20u
#define MP_SFLAG_PROBE        0x01u /* reply requested */
#define MP_SFLAG_REPLY        0x02u /* this answers a probe */
#define MP_SFLAGS_DEFINED     0x03u

/* ---- DATA (0x10): sequenced header then payload (0..) -------------------- */

/* ---- FRAGMENT (0x11): sequenced header then 12 bytes then data -----------
 * 16 inner_type(8) 17 reserved(8) 18 reserved(16) 20 total_len(32) 24 offset(32)
 * 28 fragment bytes (>= 1)                                                  */
#define MP_FRAGMENT_HDR_LEN   28u

/* ---- BUNDLE (0x12): sequenced header (chan = cseq = 0) then members -------
 * member: ver|flags(8) type(8) length(16) chan(32) cseq(32) body            */

/* ---- MINET (0x13): sequenced header (chan = MP_CHAN_MINET) then 12 bytes --
 * 16 mflags(8) 17 gso_type(8) 18 hdr_len(16) 20 gso_size(16) 22 csum_start(16)
 * 24 csum_offset(16) 26 domain(16) 28 Ethernet frame (>= 14 bytes, no FCS)  */
#define MP_MINET_HDR_LEN      28u
#define MP_MINET_MIN_ETH      14u
#define MP_MFLAG_OFFLOAD      0x01u /* gso/csum fields are meaningful */
#define MP_MFLAG_FLOOD        0x02u /* frame was flooded (broadcast/multicast/unknown) */
#define MP_MFLAG_NEEDS_CSUM   0x04u /* checksum at csum_start+csum_offset still to do */
#define MP_MFLAGS_DEFINED     0x07u
enum mp_gso { /* values mirror virtio_net_hdr so a TAP can take them as is */
    MP_GSO_NONE = 0, MP_GSO_TCPV4 = 1, MP_GSO_UDP = 3, MP_GSO_TCPV6 = 4,
    MP_GSO_ECN = 0x80,
};

/* ---- Name record (NAME_PUBLISH body, NAME_SYNC member) -------------------
 *  0 device_id(32)  4 dtype(16)  6 nflags(8)  7 rank(8)  8 generation(32)
 * 12 name_len(8) 13 name  then prop_count(8), then per property:
 *    key_len(8) key val_len(8) val                                           */
#define MP_NAME_REC_MIN_LEN   15u   /* 13 + 1-byte name + prop_count */
#define MP_NFLAG_EXCLUSIVE    0x01u
#define MP_NFLAGS_DEFINED     0x01u

/* ---- NAME_WITHDRAW (0x21): 16 device_id(32) 20 generation(32) 24 name_len(8) 25 name */
#define MP_NAME_WITHDRAW_MIN_LEN 26u

/* ---- NAME_SYNC (0x22): 16 yflags(8) 17 reserved(8) 18 count(16) 20 records:
 *      rec_len(16) record                                                    */
#define MP_NAME_SYNC_MIN_LEN  20u
#define MP_YFLAG_FIRST        0x01u
#define MP_YFLAG_LAST         0x02u
#define MP_YFLAGS_DEFINED     0x03u

/* ---- PATH_OPEN (0x28): 16 src_path(32) 20 src_device(32) 24 dst_device(32)
 * 28 credit(32) 32 pkind(8) 33 reserved(8) 34 reserved(16) 36 name_len(8)
 * 37 name (0..127) then options                                             */
#define MP_PATH_OPEN_MIN_LEN  37u
enum mp_pkind { MP_PK_UNICAST = 1, MP_PK_MULTICAST = 2, MP_PK_ANYCAST = 3 };

/* ---- PATH_ACCEPT (0x29): 16 dst_path 20 src_path 24 credit (all 32) = 28 */
#define MP_PATH_ACCEPT_LEN    28u
/* ---- PATH_CLOSE (0x2A): 16 dst_path 20 src_path 24 last_cseq 28 reason(8)
 *      29 reserved(24) = 32                                                  */
#define MP_PATH_CLOSE_LEN     32u
/* ---- PATH_ABORT (0x2B): 16 dst_path 20 src_path 24 error(16) 26 reserved(16) = 28 */
#define MP_PATH_ABORT_LEN     28u
/* ---- PATH_CREDIT (0x2C): 16 dst_path(32) 20 limit(32) = 24
 *      the receiver of this may send cseq values strictly before `limit`    */
#define MP_PATH_CREDIT_LEN    24u

/* ---- SERVICE_STATUS (0x2D): 16 status(8) 17 reason(8) 18 reserved(16)
 * 20 node(32) 24 path(32) 28 device(32) 32 name_len(8) 33 name (0..127)     */
#define MP_SERVICE_STATUS_MIN_LEN 33u
enum mp_status {
    MP_ST_PEER_UP = 1, MP_ST_PEER_DOWN = 2, MP_ST_PATH_BROKEN = 3,
    MP_ST_NAME_APPEARED = 4, MP_ST_NAME_VANISHED = 5, MP_ST_SERVICE_READY = 6,
    MP_ST_SERVICE_DEGRADED = 7, MP_ST_SERVICE_FAILED = 8, MP_ST_TAKEOVER = 9,
};
#define MP_ST_MAX 9u

/* ---- MGMT (0x30): 16 corr_id(32) 20 epoch(32) 24 src_entity(32)
 * 28 dst_entity(32) 32 uop_count(8) 33 gflags(8) 34 reserved(16)
 * 36 payload_len(32) 40 uops: opcode(16) arg(16) ... then payload           */
#define MP_MGMT_HDR_LEN       40u
#define MP_GFLAG_REPLY        0x01u
#define MP_GFLAG_ERROR        0x02u
#define MP_GFLAGS_DEFINED     0x03u
enum mp_uop { /* microoperation registry; 0x8000-0xFFFF private to an application */
    MP_UOP_NOP = 0x0000,
    MP_UOP_HEARTBEAT = 0x0001, MP_UOP_HEARTBEAT_ACK = 0x0002,
    MP_UOP_REGISTER = 0x0010, MP_UOP_UNREGISTER = 0x0011,
    MP_UOP_CONFIGURE = 0x0020, MP_UOP_BOOT = 0x0021, MP_UOP_RESET = 0x0022,
    MP_UOP_QUIESCE = 0x0023, MP_UOP_EXTRACT = 0x0024, MP_UOP_INSERT = 0x0025,
    MP_UOP_IOP_STATE = 0x0026,
    MP_UOP_PROC_START = 0x0030, MP_UOP_PROC_STOP = 0x0031, MP_UOP_PROC_FAILED = 0x0032,
    MP_UOP_RECOVER = 0x0033, MP_UOP_TAKEOVER = 0x0034,
    MP_UOP_CKPT_SAVE = 0x0040, MP_UOP_CKPT_ACK = 0x0041, MP_UOP_CKPT_RESTORE = 0x0042,
    MP_UOP_STATS_GET = 0x0050, MP_UOP_STATS_REPLY = 0x0051,
    MP_UOP_FENCE = 0x0060, MP_UOP_ELECT = 0x0061,
    MP_UOP_PRIVATE_FIRST = 0x8000,
};

/* ---- SECURED (0x40): 4 key_id(8) 5 reserved(8) 6 reserved(16) 8 counter(64)
 * 16 ciphertext (an encrypted complete inner frame, >= 4) then tag (16)     */
#define MP_SECURED_HDR_LEN    16u
#define MP_SECURED_TAG_LEN    16u
#define MP_SECURED_MIN_LEN    (MP_SECURED_HDR_LEN + MP_COMMON_HDR_LEN + MP_SECURED_TAG_LEN)

/* ---- KEY_EXCHANGE (0x41): fixed 96
 *  4 phase(8) 5 key_id(8) 6 suite(16) 8 node_id(32) 12 exchange_id(32)
 * 16 public_key(32 bytes) 48 random(16 bytes) 64 mac(32 bytes)             */
#define MP_KEY_EXCHANGE_LEN   96u
enum mp_kx_phase { MP_KX_INIT = 1, MP_KX_RESP = 2, MP_KX_CONFIRM = 3 };
enum mp_suite { MP_SUITE_AES256GCM = 1, MP_SUITE_CHACHA20POLY1305 = 2 };

/* ---- Options (DISCOVER, LINK_RESET, LINK_ACTIVATE, PATH_OPEN) -------------
 * type(8) len(8) value.  Bit 7 of the type marks a critical option: a receiver
 * that does not know a critical option MUST reject the frame.               */
#define MP_OPT_CRITICAL       0x80u
enum mp_opt_type {
    MP_OPT_NODE_NAME = 0x01,      /* 1..63 bytes, name character set */
    MP_OPT_BEARER_NAME = 0x02,    /* 1..31 bytes */
    MP_OPT_CAPS = 0x03,           /* 4 bytes, MP_CAP_* bits */
    MP_OPT_MAX_MESSAGE = 0x04,    /* 4 bytes */
    MP_OPT_PROBE_INTERVAL = 0x05, /* 2 bytes, ms */
    MP_OPT_MINET_MAC = 0x06,      /* 6 bytes */
    MP_OPT_ACK_SESSION = 0x07,    /* 2 bytes: the receiver's session the sender learned */
    MP_OPT_PEER_EPOCH = 0x08,     /* 4 bytes: the sender's loss epoch for the receiver */
    MP_OPT_SECURITY = 0x81,       /* 1 byte, MP_SEC_*; critical */
};
#define MP_CAP_SECURE   0x01u
#define MP_CAP_BUNDLE   0x02u
#define MP_CAP_FRAGMENT 0x04u
#define MP_CAP_MINET    0x08u
#define MP_CAP_MGMT     0x10u
enum mp_sec_policy { MP_SEC_PLAIN = 0, MP_SEC_REQUIRED = 1, MP_SEC_TRANSITION = 2 };

/* ---- Wire error/reason registry (PATH_ABORT error, PATH_CLOSE reason, ...) */
enum mp_reason {
    MP_R_NONE = 0, MP_R_NO_SUCH_DEVICE = 1, MP_R_REFUSED = 2, MP_R_NO_RESOURCES = 3,
    MP_R_PROTOCOL = 4, MP_R_TIMEOUT = 5, MP_R_PEER_DOWN = 6, MP_R_NAME_CONFLICT = 7,
    MP_R_VERSION = 8, MP_R_AUTH = 9, MP_R_APP_CLOSE = 10, MP_R_NOT_PERMITTED = 11,
    MP_R_TOO_BIG = 12,
};
#define MP_R_MAX 12u

/* ---- Bearers -------------------------------------------------------------- */
#define MP_ETHERTYPE          0x88B5u
#define MP_UDP_PORT           34997u       /* = 0x88B5 */
#define MP_UDP_MCAST_V4       "239.255.88.181"
#define MP_UDP_MCAST_V6       "ff15::88b5"
#define MP_ETH_MTU            1500u
#define MP_SERIAL_FLAG        0x7Eu
#define MP_SERIAL_ESC         0x7Du
#define MP_SERIAL_XOR         0x20u
#define MP_SERIAL_CRC_LEN     4u
#define MP_SERIAL_MTU_DEF     1500u

/* ---- Capture encapsulation (pcap LINKTYPE_USER0 = 147) ---------------------
 * 0 magic 'M'(0x4D) 1 version(1) 2 bearer(8) 3 cflags(8) 4 bearer_index(16)
 * 6 reserved(16) 8 frame [then CRC-32C if MP_CAP_FCS]                        */
#define MP_PCAP_LINKTYPE      147u
#define MP_CAPHDR_LEN         8u
#define MP_CAPHDR_MAGIC       0x4Du
#define MP_CAPHDR_VERSION     1u
enum mp_bearer { MP_BEARER_ETH = 1, MP_BEARER_PCIE = 2, MP_BEARER_SERIAL = 3, MP_BEARER_UDP = 4 };
#define MP_CAPF_TX            0x01u /* frame was sent (else received) */
#define MP_CAPF_FCS           0x02u /* a 4-byte CRC-32C follows the frame */
#define MP_CAPF_DEFINED       0x03u

/* ---- PCIe shim window (little-endian, offsets in the shared window) ------- */
#define MP_SHM_MAGIC          "MSGRSHM1"   /* 8 bytes at offset 0 */
#define MP_SHM_CTRL_LEN       4096u
#define MP_SHM_SLOT_HDR_LEN   8u           /* len(32) flags(32) */
enum mp_shm_state { MP_SHM_DOWN = 0, MP_SHM_RESET = 1, MP_SHM_READY = 2, MP_SHM_RUNNING = 3 };

#endif /* MP_WIRE_H */
