/*
 * packet-messenger.c — Wireshark dissector for Messenger (RFC-messenger.md 0.1).
 *
 * This is an independent second reading of the wire format: it includes mp/wire.h for
 * the registry numbers only and never links the C codec, so a disagreement between the
 * two shows up as a failing vector test instead of being hidden by shared code.
 *
 * Entry points:
 *   - EtherType 0x88B5 (Ethernet bearer),
 *   - UDP port 34997, plus a heuristic for other UDP ports (same validator as the main
 *     dissector, but it must accept the whole datagram),
 *   - pcap LINKTYPE_USER0 with the 8-byte capture pseudo-header (serial/PCIe captures),
 *     whose optional CRC-32C trailer is verified.
 *
 * Robustness rule: every read goes through a cursor bounded by the bytes actually
 * present, so a malformed frame produces expert info and never an exception of ours.
 * Only the inner Ethernet dissector (MINET) can throw; that call is fenced.
 */
#define WS_BUILD_DLL
#include <wireshark.h>

#include <epan/conversation.h>
#include <epan/exceptions.h>
#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/reassemble.h>
#include <epan/show_exception.h>
#include <wiretap/wtap.h>
#include <wsutil/str_util.h>

#include "mp/wire.h"

#ifndef MSGR_PLUGIN_VERSION
#define MSGR_PLUGIN_VERSION "0.1.0"
#endif

/* ---- Plugin exports ------------------------------------------------------------ */
WS_DLL_PUBLIC_DEF const gchar plugin_version[] = MSGR_PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

void proto_register_messenger(void);
void proto_reg_handoff_messenger(void);

/* ---- Registries ---------------------------------------------------------------- */
static const value_string msgr_type_vals[] = {
    {MP_T_DISCOVER, "DISCOVER"},
    {MP_T_LINK_RESET, "LINK_RESET"},
    {MP_T_LINK_ACTIVATE, "LINK_ACTIVATE"},
    {MP_T_LINK_STATE, "LINK_STATE"},
    {MP_T_DATA, "DATA"},
    {MP_T_FRAGMENT, "FRAGMENT"},
    {MP_T_BUNDLE, "BUNDLE"},
    {MP_T_MINET, "MINET"},
    {MP_T_NAME_PUBLISH, "NAME_PUBLISH"},
    {MP_T_NAME_WITHDRAW, "NAME_WITHDRAW"},
    {MP_T_NAME_SYNC, "NAME_SYNC"},
    {MP_T_PATH_OPEN, "PATH_OPEN"},
    {MP_T_PATH_ACCEPT, "PATH_ACCEPT"},
    {MP_T_PATH_CLOSE, "PATH_CLOSE"},
    {MP_T_PATH_ABORT, "PATH_ABORT"},
    {MP_T_PATH_CREDIT, "PATH_CREDIT"},
    {MP_T_SERVICE_STATUS, "SERVICE_STATUS"},
    {MP_T_MGMT, "MGMT"},
    {MP_T_SECURED, "SECURED"},
    {MP_T_KEY_EXCHANGE, "KEY_EXCHANGE"},
    {0, NULL}};

static const value_string msgr_opt_vals[] = {
    {MP_OPT_NODE_NAME, "Node name"},
    {MP_OPT_BEARER_NAME, "Bearer name"},
    {MP_OPT_CAPS, "Capabilities"},
    {MP_OPT_MAX_MESSAGE, "Maximum message"},
    {MP_OPT_PROBE_INTERVAL, "Probe interval"},
    {MP_OPT_MINET_MAC, "MINET MAC"},
    {MP_OPT_ACK_SESSION, "Acknowledged session"},
    {MP_OPT_PEER_EPOCH, "Peer loss epoch"},
    {MP_OPT_SECURITY, "Security policy"},
    {0, NULL}};

static const value_string msgr_reason_vals[] = {
    {MP_R_NONE, "NONE"},
    {MP_R_NO_SUCH_DEVICE, "NO_SUCH_DEVICE"},
    {MP_R_REFUSED, "REFUSED"},
    {MP_R_NO_RESOURCES, "NO_RESOURCES"},
    {MP_R_PROTOCOL, "PROTOCOL"},
    {MP_R_TIMEOUT, "TIMEOUT"},
    {MP_R_PEER_DOWN, "PEER_DOWN"},
    {MP_R_NAME_CONFLICT, "NAME_CONFLICT"},
    {MP_R_VERSION, "VERSION"},
    {MP_R_AUTH, "AUTH"},
    {MP_R_APP_CLOSE, "APP_CLOSE"},
    {MP_R_NOT_PERMITTED, "NOT_PERMITTED"},
    {MP_R_TOO_BIG, "TOO_BIG"},
    {0, NULL}};

static const value_string msgr_status_vals[] = {
    {MP_ST_PEER_UP, "PEER_UP"},
    {MP_ST_PEER_DOWN, "PEER_DOWN"},
    {MP_ST_PATH_BROKEN, "PATH_BROKEN"},
    {MP_ST_NAME_APPEARED, "NAME_APPEARED"},
    {MP_ST_NAME_VANISHED, "NAME_VANISHED"},
    {MP_ST_SERVICE_READY, "SERVICE_READY"},
    {MP_ST_SERVICE_DEGRADED, "SERVICE_DEGRADED"},
    {MP_ST_SERVICE_FAILED, "SERVICE_FAILED"},
    {MP_ST_TAKEOVER, "TAKEOVER"},
    {0, NULL}};

static const value_string msgr_uop_vals[] = {
    {MP_UOP_NOP, "NOP"},
    {MP_UOP_HEARTBEAT, "HEARTBEAT"},
    {MP_UOP_HEARTBEAT_ACK, "HEARTBEAT_ACK"},
    {MP_UOP_REGISTER, "REGISTER"},
    {MP_UOP_UNREGISTER, "UNREGISTER"},
    {MP_UOP_CONFIGURE, "CONFIGURE"},
    {MP_UOP_BOOT, "BOOT"},
    {MP_UOP_RESET, "RESET"},
    {MP_UOP_QUIESCE, "QUIESCE"},
    {MP_UOP_EXTRACT, "EXTRACT"},
    {MP_UOP_INSERT, "INSERT"},
    {MP_UOP_IOP_STATE, "IOP_STATE"},
    {MP_UOP_PROC_START, "PROC_START"},
    {MP_UOP_PROC_STOP, "PROC_STOP"},
    {MP_UOP_PROC_FAILED, "PROC_FAILED"},
    {MP_UOP_RECOVER, "RECOVER"},
    {MP_UOP_TAKEOVER, "TAKEOVER"},
    {MP_UOP_CKPT_SAVE, "CKPT_SAVE"},
    {MP_UOP_CKPT_ACK, "CKPT_ACK"},
    {MP_UOP_CKPT_RESTORE, "CKPT_RESTORE"},
    {MP_UOP_STATS_GET, "STATS_GET"},
    {MP_UOP_STATS_REPLY, "STATS_REPLY"},
    {MP_UOP_FENCE, "FENCE"},
    {MP_UOP_ELECT, "ELECT"},
    {0, NULL}};

static const value_string msgr_pkind_vals[] = {
    {MP_PK_UNICAST, "UNICAST"},
    {MP_PK_MULTICAST, "MULTICAST"},
    {MP_PK_ANYCAST, "ANYCAST"},
    {0, NULL}};

/* gso_type is the virtio value with the ECN bit (0x80) split out as its own flag. */
static const value_string msgr_gso_vals[] = {
    {MP_GSO_NONE, "NONE"},
    {MP_GSO_TCPV4, "TCPV4"},
    {MP_GSO_UDP, "UDP"},
    {MP_GSO_TCPV6, "TCPV6"},
    {0, NULL}};

static const value_string msgr_bearer_vals[] = {
    {MP_BEARER_ETH, "Ethernet"},
    {MP_BEARER_PCIE, "PCIe shim"},
    {MP_BEARER_SERIAL, "Serial"},
    {MP_BEARER_UDP, "UDP"},
    {0, NULL}};

static const value_string msgr_suite_vals[] = {
    {MP_SUITE_AES256GCM, "AES-256-GCM"},
    {MP_SUITE_CHACHA20POLY1305, "ChaCha20-Poly1305"},
    {0, NULL}};

static const value_string msgr_kx_phase_vals[] = {
    {MP_KX_INIT, "INIT"},
    {MP_KX_RESP, "RESP"},
    {MP_KX_CONFIRM, "CONFIRM"},
    {0, NULL}};

static const value_string msgr_sec_policy_vals[] = {
    {MP_SEC_PLAIN, "PLAIN"},
    {MP_SEC_REQUIRED, "REQUIRED"},
    {MP_SEC_TRANSITION, "TRANSITION"},
    {0, NULL}};

static void msgr_fmt_chan(gchar *buf, guint32 chan)
{
    if (chan == MP_CHAN_NODE)
        snprintf(buf, ITEM_LABEL_LENGTH, "0x%x (node control)", chan);
    else if (chan == MP_CHAN_MINET)
        snprintf(buf, ITEM_LABEL_LENGTH, "0x%x (MINET)", chan);
    else if (chan < MP_CHAN_FIRST_PATH)
        snprintf(buf, ITEM_LABEL_LENGTH, "0x%x (reserved)", chan);
    else
        snprintf(buf, ITEM_LABEL_LENGTH, "0x%x (path)", chan);
}

static const true_false_string msgr_tfs_tx_rx = {"Sent (TX)", "Received (RX)"};

/* ---- Protocol, fields, subtrees, expert ids ------------------------------------ */
static int proto_msgr = -1;

static int hf_msgr_version = -1;
static int hf_msgr_flags = -1;
static int hf_msgr_flags_ackreq = -1;
static int hf_msgr_type = -1;
static int hf_msgr_length = -1;
static int hf_msgr_seq = -1;
static int hf_msgr_ack = -1;
static int hf_msgr_chan = -1;
static int hf_msgr_cseq = -1;
static int hf_msgr_padding = -1;
static int hf_msgr_body = -1;
static int hf_msgr_reserved = -1;

/* Capture pseudo-header (LINKTYPE_USER0) */
static int hf_cap_magic = -1;
static int hf_cap_version = -1;
static int hf_cap_bearer = -1;
static int hf_cap_cflags = -1;
static int hf_cap_cflags_tx = -1;
static int hf_cap_cflags_fcs = -1;
static int hf_cap_bearer_index = -1;
static int hf_cap_reserved = -1;
static int hf_cap_fcs = -1;
static int hf_cap_fcs_status = -1;

/* Options */
static int hf_opt_type = -1;
static int hf_opt_critical = -1;
static int hf_opt_len = -1;
static int hf_opt_value = -1;
static int hf_opt_node_name = -1;
static int hf_opt_bearer_name = -1;
static int hf_opt_caps = -1;
static int hf_opt_caps_secure = -1;
static int hf_opt_caps_bundle = -1;
static int hf_opt_caps_fragment = -1;
static int hf_opt_caps_minet = -1;
static int hf_opt_caps_mgmt = -1;
static int hf_opt_max_message = -1;
static int hf_opt_probe_interval = -1;
static int hf_opt_minet_mac = -1;
static int hf_opt_ack_session = -1;
static int hf_opt_peer_epoch = -1;
static int hf_opt_security = -1;

/* DISCOVER */
static int hf_disc_node_id = -1;
static int hf_disc_domain = -1;
static int hf_disc_max_version = -1;
static int hf_disc_dflags = -1;
static int hf_disc_dflags_reply = -1;
static int hf_disc_dflags_secure = -1;
static int hf_disc_mtu = -1;
static int hf_disc_incarnation = -1;

/* LINK_RESET / LINK_ACTIVATE */
static int hf_link_node_id = -1;
static int hf_link_peer_id = -1;
static int hf_link_incarnation = -1;
static int hf_link_session = -1;
static int hf_link_next_seq = -1;
static int hf_link_tolerance = -1;
static int hf_link_window = -1;
static int hf_link_mtu = -1;
static int hf_link_priority = -1;
static int hf_link_lflags = -1;
static int hf_link_lflags_standby = -1;

/* LINK_STATE */
static int hf_state_session = -1;
static int hf_state_ack = -1;
static int hf_state_next_seq = -1;
static int hf_state_sflags = -1;
static int hf_state_sflags_probe = -1;
static int hf_state_sflags_reply = -1;
static int hf_state_gap_count = -1;
static int hf_state_timestamp = -1;
static int hf_state_echo = -1;
static int hf_state_gap_start = -1;
static int hf_state_gap_end = -1;

/* DATA */
static int hf_data_payload = -1;

/* FRAGMENT */
static int hf_frag_inner_type = -1;
static int hf_frag_total_len = -1;
static int hf_frag_offset = -1;
static int hf_frag_data = -1;

/* BUNDLE */
static int hf_bundle_count = -1;
static int hf_member_version = -1;
static int hf_member_flags = -1;
static int hf_member_type = -1;
static int hf_member_length = -1;
static int hf_member_chan = -1;
static int hf_member_cseq = -1;

/* MINET */
static int hf_minet_mflags = -1;
static int hf_minet_mflags_offload = -1;
static int hf_minet_mflags_flood = -1;
static int hf_minet_mflags_needs_csum = -1;
static int hf_minet_gso_type = -1;
static int hf_minet_gso_proto = -1;
static int hf_minet_gso_ecn = -1;
static int hf_minet_hdr_len = -1;
static int hf_minet_gso_size = -1;
static int hf_minet_csum_start = -1;
static int hf_minet_csum_offset = -1;
static int hf_minet_domain = -1;
static int hf_minet_eth = -1;

/* Name record (NAME_PUBLISH body, NAME_SYNC member) */
static int hf_name_device_id = -1;
static int hf_name_dtype = -1;
static int hf_name_nflags = -1;
static int hf_name_nflags_exclusive = -1;
static int hf_name_rank = -1;
static int hf_name_generation = -1;
static int hf_name_name_len = -1;
static int hf_name_name = -1;
static int hf_name_prop_count = -1;
static int hf_prop_key_len = -1;
static int hf_prop_key = -1;
static int hf_prop_val_len = -1;
static int hf_prop_value = -1;

/* NAME_WITHDRAW */
static int hf_wd_device_id = -1;
static int hf_wd_generation = -1;
static int hf_wd_name_len = -1;
static int hf_wd_name = -1;

/* NAME_SYNC */
static int hf_sync_yflags = -1;
static int hf_sync_yflags_first = -1;
static int hf_sync_yflags_last = -1;
static int hf_sync_count = -1;
static int hf_sync_rec_len = -1;

/* PATH_* */
static int hf_popen_src_path = -1;
static int hf_popen_src_device = -1;
static int hf_popen_dst_device = -1;
static int hf_popen_credit = -1;
static int hf_popen_pkind = -1;
static int hf_popen_name_len = -1;
static int hf_popen_name = -1;
static int hf_paccept_dst_path = -1;
static int hf_paccept_src_path = -1;
static int hf_paccept_credit = -1;
static int hf_pclose_dst_path = -1;
static int hf_pclose_src_path = -1;
static int hf_pclose_last_cseq = -1;
static int hf_pclose_reason = -1;
static int hf_pabort_dst_path = -1;
static int hf_pabort_src_path = -1;
static int hf_pabort_error = -1;
static int hf_pcredit_dst_path = -1;
static int hf_pcredit_limit = -1;

/* SERVICE_STATUS */
static int hf_svc_status = -1;
static int hf_svc_reason = -1;
static int hf_svc_node = -1;
static int hf_svc_path = -1;
static int hf_svc_device = -1;
static int hf_svc_name_len = -1;
static int hf_svc_name = -1;

/* MGMT */
static int hf_mgmt_corr_id = -1;
static int hf_mgmt_epoch = -1;
static int hf_mgmt_src_entity = -1;
static int hf_mgmt_dst_entity = -1;
static int hf_mgmt_uop_count = -1;
static int hf_mgmt_gflags = -1;
static int hf_mgmt_gflags_reply = -1;
static int hf_mgmt_gflags_error = -1;
static int hf_mgmt_payload_len = -1;
static int hf_mgmt_uop_opcode = -1;
static int hf_mgmt_uop_arg = -1;
static int hf_mgmt_payload = -1;

/* SECURED */
static int hf_sec_key_id = -1;
static int hf_sec_counter = -1;
static int hf_sec_ciphertext = -1;
static int hf_sec_ciphertext_len = -1;
static int hf_sec_tag = -1;

/* KEY_EXCHANGE */
static int hf_kx_phase = -1;
static int hf_kx_key_id = -1;
static int hf_kx_suite = -1;
static int hf_kx_node_id = -1;
static int hf_kx_exchange_id = -1;
static int hf_kx_public_key = -1;
static int hf_kx_random = -1;
static int hf_kx_mac = -1;

/* Sequence analysis */
static int hf_an = -1;
static int hf_an_retrans = -1;
static int hf_an_dup = -1;
static int hf_an_ooo = -1;
static int hf_an_lost = -1;
static int hf_an_lost_count = -1;
static int hf_an_orig_frame = -1;
static int hf_an_reset = -1;

/* Path tracking */
static int hf_path = -1;
static int hf_path_id = -1;
static int hf_path_name = -1;
static int hf_path_open_frame = -1;
static int hf_path_accept_frame = -1;
static int hf_path_close_frame = -1;
static int hf_path_abort_frame = -1;
static int hf_path_msgs_fwd = -1;
static int hf_path_msgs_back = -1;
static int hf_path_first_data = -1;
static int hf_path_last_data = -1;

/* Reassembly */
static int hf_reasm_fragments = -1;
static int hf_reasm_fragment = -1;
static int hf_reasm_fragment_overlap = -1;
static int hf_reasm_fragment_overlap_conflicts = -1;
static int hf_reasm_fragment_multiple_tails = -1;
static int hf_reasm_fragment_too_long = -1;
static int hf_reasm_fragment_error = -1;
static int hf_reasm_fragment_count = -1;
static int hf_reasm_reassembled_in = -1;
static int hf_reasm_reassembled_length = -1;
static int hf_reasm_reassembled_data = -1;

static gint ett_msgr = -1;
static gint ett_msgr_flags = -1;
static gint ett_msgr_caphdr = -1;
static gint ett_msgr_cflags = -1;
static gint ett_msgr_body = -1;
static gint ett_msgr_bflags = -1;
static gint ett_msgr_opt = -1;
static gint ett_msgr_caps = -1;
static gint ett_msgr_gap = -1;
static gint ett_msgr_member = -1;
static gint ett_msgr_record = -1;
static gint ett_msgr_prop = -1;
static gint ett_msgr_uop = -1;
static gint ett_msgr_gso = -1;
static gint ett_msgr_analysis = -1;
static gint ett_msgr_path = -1;
static gint ett_msgr_fragment = -1;
static gint ett_msgr_fragments = -1;

static expert_field ei_msgr_version = EI_INIT;
static expert_field ei_msgr_type_unknown = EI_INIT;
static expert_field ei_msgr_type_private = EI_INIT;
static expert_field ei_msgr_type_not_allowed = EI_INIT;
static expert_field ei_msgr_length = EI_INIT;
static expert_field ei_msgr_truncated = EI_INIT;
static expert_field ei_msgr_reserved = EI_INIT;
static expert_field ei_msgr_range = EI_INIT;
static expert_field ei_msgr_name = EI_INIT;
static expert_field ei_msgr_prop = EI_INIT;
static expert_field ei_msgr_option = EI_INIT;
static expert_field ei_msgr_option_unknown = EI_INIT;
static expert_field ei_msgr_channel = EI_INIT;
static expert_field ei_msgr_count = EI_INIT;
static expert_field ei_msgr_fcs = EI_INIT;
static expert_field ei_msgr_caphdr = EI_INIT;
static expert_field ei_msgr_padding = EI_INIT;
static expert_field ei_msgr_inner_exception = EI_INIT;
static expert_field ei_msgr_an_retrans = EI_INIT;
static expert_field ei_msgr_an_dup = EI_INIT;
static expert_field ei_msgr_an_ooo = EI_INIT;
static expert_field ei_msgr_an_lost = EI_INIT;
static expert_field ei_msgr_an_reset = EI_INIT;

static dissector_handle_t msgr_handle;
static dissector_handle_t msgr_user0_handle;
static dissector_handle_t eth_handle;

static gboolean msgr_defragment = TRUE;
static gboolean msgr_analyze_seq = TRUE;

static reassembly_table msgr_reassembly_table;

static const fragment_items msgr_frag_items = {
    &ett_msgr_fragment,
    &ett_msgr_fragments,
    &hf_reasm_fragments,
    &hf_reasm_fragment,
    &hf_reasm_fragment_overlap,
    &hf_reasm_fragment_overlap_conflicts,
    &hf_reasm_fragment_multiple_tails,
    &hf_reasm_fragment_too_long,
    &hf_reasm_fragment_error,
    &hf_reasm_fragment_count,
    &hf_reasm_reassembled_in,
    &hf_reasm_reassembled_length,
    &hf_reasm_reassembled_data,
    "Message fragments"};

/* ---- Per-capture state ------------------------------------------------------------ */

/* Sequence state of the frames one endpoint of a link sends. */
typedef struct {
    gboolean valid;
    guint16 next;        /* one past the highest sequence number seen */
    gboolean ack_valid;
    guint16 acked;       /* latest cumulative ack the peer sent for these frames */
    wmem_map_t *seen;    /* seq -> first frame number that carried it */
} msgr_dir_state;

/* One link: a conversation (Ethernet/UDP addresses) or a captured bearer (USER0). */
typedef struct {
    msgr_dir_state dir[2];
    wmem_map_t *paths; /* (direction << 32 | chan) -> msgr_path */
} msgr_link;

typedef struct {
    guint32 open_frame, accept_frame, close_frame, abort_frame;
    guint32 opener_path, acceptor_path;
    const char *name;
    int open_dir;                          /* link direction of the PATH_OPEN */
    guint32 msgs[2];                       /* DATA messages: [0] opener -> acceptor, [1] back */
    guint32 first_data_frame, last_data_frame;
} msgr_path;

enum { MSGR_AN_NONE, MSGR_AN_RETRANS, MSGR_AN_DUP, MSGR_AN_OOO, MSGR_AN_LOST, MSGR_AN_RESET };

typedef struct {
    guint8 kind;
    guint32 orig_frame; /* retransmission/duplicate: first frame with this seq */
    guint16 lost_from;  /* lost: first missing seq */
    guint16 lost_count;
} msgr_seq_result;

/* USER0 captures have no addresses; their links are keyed by (bearer, index). */
static wmem_map_t *msgr_user0_links;

/* Frame proto-data keys: analysis result, then path references per message in frame. */
#define MSGR_PD_SEQ 0u
#define MSGR_PD_PATH_BASE 16u

/* What every decoding step needs about the packet being dissected. */
typedef struct {
    packet_info *pinfo;
    msgr_link *link; /* NULL: no link tracking possible */
    int dir;         /* 0/1: direction within the link */
    guint msg_index; /* distinguishes messages inside one frame (bundle members) */
    int depth;       /* reassembly nesting guard */
} msgr_pkt;

/* ---- Small helpers ---------------------------------------------------------------- */

static gboolean msgr_type_known(guint8 type)
{
    return try_val_to_str(type, msgr_type_vals) != NULL;
}

static gboolean msgr_type_sequenced(guint8 type)
{
    return MP_TYPE_IS_SEQUENCED(type);
}

static const char *msgr_type_str(guint8 type)
{
    return val_to_str_const(type, msgr_type_vals, "Unknown");
}

/* serial-number arithmetic on the 16-bit link sequence */
static gboolean seq16_lt(guint16 a, guint16 b)
{
    return (gint16)(guint16)(a - b) < 0;
}

static gboolean seq16_le(guint16 a, guint16 b)
{
    return a == b || seq16_lt(a, b);
}

/* CRC-32C (Castagnoli), reflected, init and xorout all ones; "123456789" -> 0xE3069283. */
static guint32 msgr_crc32c(tvbuff_t *tvb, int off, int len)
{
    guint32 crc = 0xFFFFFFFFu;
    const guint8 *p = tvb_get_ptr(tvb, off, len);
    for (int i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Fixed frame length for fixed-size types, 0 when variable. */
static guint msgr_fixed_len(guint8 type)
{
    switch (type) {
    case MP_T_PATH_ACCEPT: return MP_PATH_ACCEPT_LEN;
    case MP_T_PATH_CLOSE: return MP_PATH_CLOSE_LEN;
    case MP_T_PATH_ABORT: return MP_PATH_ABORT_LEN;
    case MP_T_PATH_CREDIT: return MP_PATH_CREDIT_LEN;
    case MP_T_KEY_EXCHANGE: return MP_KEY_EXCHANGE_LEN;
    default: return 0;
    }
}

/* Minimum frame length of a known type (header included). */
static guint msgr_min_len(guint8 type)
{
    switch (type) {
    case MP_T_DISCOVER: return MP_DISCOVER_MIN_LEN;
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE: return MP_LINK_MIN_LEN;
    case MP_T_LINK_STATE: return MP_LINK_STATE_MIN_LEN;
    case MP_T_DATA: return MP_SEQ_HDR_LEN;
    case MP_T_FRAGMENT: return MP_FRAGMENT_HDR_LEN + 1;
    case MP_T_BUNDLE: return MP_SEQ_HDR_LEN;
    case MP_T_MINET: return MP_MINET_HDR_LEN + MP_MINET_MIN_ETH;
    case MP_T_NAME_PUBLISH: return MP_SEQ_HDR_LEN + MP_NAME_REC_MIN_LEN;
    case MP_T_NAME_WITHDRAW: return MP_NAME_WITHDRAW_MIN_LEN;
    case MP_T_NAME_SYNC: return MP_NAME_SYNC_MIN_LEN;
    case MP_T_PATH_OPEN: return MP_PATH_OPEN_MIN_LEN;
    case MP_T_SERVICE_STATUS: return MP_SERVICE_STATUS_MIN_LEN;
    case MP_T_MGMT: return MP_MGMT_HDR_LEN;
    case MP_T_SECURED: return MP_SECURED_MIN_LEN;
    default: {
        guint f = msgr_fixed_len(type);
        if (f)
            return f;
        return msgr_type_sequenced(type) ? MP_SEQ_HDR_LEN : MP_COMMON_HDR_LEN;
    }
    }
}

/*
 * The one structural validator, shared by the main and the heuristic dissector.
 * It looks at the common header only: version, a known type, and a length that fits
 * the type and the bytes present.  Body rules are the body dissectors' business.
 */
typedef enum {
    MSGR_HDR_OK = 0,
    MSGR_HDR_SHORT,   /* fewer bytes than a header */
    MSGR_HDR_VERSION, /* version nibble is not 1 */
    MSGR_HDR_TYPE,    /* unknown/private type */
    MSGR_HDR_LENGTH,  /* length below the type's minimum or not its fixed size */
    MSGR_HDR_TRUNC,   /* length runs past the bytes present */
} msgr_hdr_verdict;

static msgr_hdr_verdict msgr_validate_header(tvbuff_t *tvb, int off, guint *frame_len)
{
    gint avail = tvb_captured_length_remaining(tvb, off);
    *frame_len = 0;
    if (avail < (gint)MP_COMMON_HDR_LEN)
        return MSGR_HDR_SHORT;
    guint8 b0 = tvb_get_guint8(tvb, off);
    guint8 type = tvb_get_guint8(tvb, off + 1);
    guint len = tvb_get_ntohs(tvb, off + 2);
    *frame_len = len;
    if ((b0 >> 4) != MP_VERSION)
        return MSGR_HDR_VERSION;
    if (!msgr_type_known(type))
        return MSGR_HDR_TYPE;
    guint fixed = msgr_fixed_len(type);
    if (len < msgr_min_len(type) || (fixed && len != fixed))
        return MSGR_HDR_LENGTH;
    if (len > (guint)avail)
        return MSGR_HDR_TRUNC;
    return MSGR_HDR_OK;
}

/* ---- Bounded cursor ------------------------------------------------------------------
 * Every body field is read through this: it never reads at or past `end` (which the
 * caller has clipped to the captured bytes), so a short body yields missing fields and
 * one expert item, never an exception. */
typedef struct {
    tvbuff_t *tvb;
    packet_info *pinfo;
    proto_tree *tree;
    proto_item *item; /* where expert info hangs */
    int off, end;
    gboolean short_body;
} msgr_cur;

static void cur_init(msgr_cur *c, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                     proto_item *item, int off, int end)
{
    c->tvb = tvb;
    c->pinfo = pinfo;
    c->tree = tree;
    c->item = item;
    c->off = off;
    c->end = end;
    c->short_body = FALSE;
}

static gboolean cur_have(msgr_cur *c, int n)
{
    if (n < 0 || c->off > c->end || n > c->end - c->off) {
        if (!c->short_body)
            expert_add_info_format(c->pinfo, c->item, &ei_msgr_length,
                                   "Message body ends inside a field (%d bytes needed at "
                                   "offset %d, %d present)",
                                   n, c->off, c->end - c->off);
        c->short_body = TRUE;
        return FALSE;
    }
    return TRUE;
}

static int cur_left(const msgr_cur *c)
{
    return c->end > c->off ? c->end - c->off : 0;
}

static guint32 cur_uint(msgr_cur *c, int hf, int n, proto_item **pi)
{
    guint32 v = 0;
    proto_item *it = NULL;
    if (cur_have(c, n)) {
        it = proto_tree_add_item_ret_uint(c->tree, hf, c->tvb, c->off, n, ENC_BIG_ENDIAN, &v);
        c->off += n;
    }
    if (pi)
        *pi = it;
    return v;
}

static guint64 cur_uint64(msgr_cur *c, int hf)
{
    guint64 v = 0;
    if (cur_have(c, 8)) {
        proto_tree_add_item_ret_uint64(c->tree, hf, c->tvb, c->off, 8, ENC_BIG_ENDIAN, &v);
        c->off += 8;
    }
    return v;
}

static proto_item *cur_bytes(msgr_cur *c, int hf, int n)
{
    proto_item *it = NULL;
    if (cur_have(c, n)) {
        it = proto_tree_add_item(c->tree, hf, c->tvb, c->off, n, ENC_NA);
        c->off += n;
    }
    return it;
}

/* Flag byte(s) shown as a bitmask; undefined bits are a reserved-field violation. */
static guint32 cur_flags(msgr_cur *c, int hf, int n, int *const *bits, guint32 defined)
{
    guint64 v = 0;
    if (!cur_have(c, n))
        return 0;
    proto_item *it = proto_tree_add_bitmask_ret_uint64(c->tree, c->tvb, c->off, hf, ett_msgr_bflags,
                                                        bits, ENC_BIG_ENDIAN, &v);
    if (v & ~(guint64)defined)
        expert_add_info_format(c->pinfo, it, &ei_msgr_reserved,
                               "Undefined flag bits set: 0x%" PRIx64, v & ~(guint64)defined);
    c->off += n;
    return (guint32)v;
}

static void cur_reserved(msgr_cur *c, int n)
{
    if (!cur_have(c, n))
        return;
    proto_item *it = proto_tree_add_item(c->tree, hf_msgr_reserved, c->tvb, c->off, n, ENC_NA);
    for (int i = 0; i < n; i++) {
        if (tvb_get_guint8(c->tvb, c->off + i) != 0) {
            expert_add_info(c->pinfo, it, &ei_msgr_reserved);
            break;
        }
    }
    c->off += n;
}

static void msgr_check_range(msgr_cur *c, proto_item *it, guint32 v, guint32 lo, guint32 hi,
                             const char *what)
{
    if (it && (v < lo || v > hi))
        expert_add_info_format(c->pinfo, it, &ei_msgr_range, "%s %u outside %u..%u", what, v, lo, hi);
}

static void msgr_check_node_id(msgr_cur *c, proto_item *it, guint32 v, const char *what)
{
    if (it && (v == 0 || v == 0xFFFFFFFFu))
        expert_add_info_format(c->pinfo, it, &ei_msgr_range, "%s 0x%08x is reserved", what, v);
}

/* ---- Names, patterns, properties ----------------------------------------------------- */

static gboolean msgr_name_char(guint8 ch)
{
    return g_ascii_isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

/* Names: 1..127 bytes, '/'-separated components of 1..63 [A-Za-z0-9._-], not "." or
 * "..".  Patterns additionally allow '*' and '?' inside a component and "**" as a
 * whole component. */
static const char *msgr_name_problem(const guint8 *s, guint len, gboolean pattern)
{
    if (len < 1 || len > MP_MAX_NAME)
        return "length outside 1..127";
    guint start = 0;
    for (guint i = 0; i <= len; i++) {
        if (i < len && s[i] != '/') {
            guint8 ch = s[i];
            if (!msgr_name_char(ch) && !(pattern && (ch == '*' || ch == '?')))
                return "character outside [A-Za-z0-9._-]";
            continue;
        }
        guint clen = i - start;
        if (clen == 0)
            return "empty component (leading/trailing '/' or \"//\")";
        if (clen > MP_MAX_COMPONENT)
            return "component longer than 63";
        if ((clen == 1 && s[start] == '.') || (clen == 2 && s[start] == '.' && s[start + 1] == '.'))
            return "component \".\" or \"..\"";
        if (pattern && !(clen == 2 && s[start] == '*' && s[start + 1] == '*')) {
            for (guint k = start; k + 1 < i; k++)
                if (s[k] == '*' && s[k + 1] == '*')
                    return "\"**\" only allowed as a whole component";
        }
        start = i + 1;
    }
    return NULL;
}

/* Add a name of n bytes at the cursor and validate it (empty allowed if allow_empty). */
static void cur_name(msgr_cur *c, int hf, guint n, gboolean pattern, gboolean allow_empty,
                     const char **out)
{
    if (out)
        *out = NULL;
    if (!cur_have(c, (int)n))
        return;
    proto_item *it = proto_tree_add_item(c->tree, hf, c->tvb, c->off, (int)n, ENC_ASCII);
    if (n > 0 || !allow_empty) {
        const guint8 *s = n ? tvb_get_ptr(c->tvb, c->off, (int)n) : (const guint8 *)"";
        const char *why = msgr_name_problem(s, n, pattern);
        if (why)
            expert_add_info_format(c->pinfo, it, &ei_msgr_name, "Invalid %s: %s",
                                   pattern ? "name pattern" : "name", why);
    }
    if (out)
        *out = (const char *)tvb_get_string_enc(wmem_file_scope(), c->tvb, c->off, (int)n, ENC_ASCII);
    c->off += (int)n;
}

/* ---- Options --------------------------------------------------------------------------- */

static int *const msgr_caps_bits[] = {&hf_opt_caps_secure, &hf_opt_caps_bundle, &hf_opt_caps_fragment,
                                      &hf_opt_caps_minet, &hf_opt_caps_mgmt, NULL};

static void msgr_dissect_options(msgr_cur *c)
{
    guint8 seen[256] = {0};
    guint n = 0;
    while (cur_left(c) > 0) {
        int start = c->off;
        if (cur_left(c) < 2) {
            proto_item *it = proto_tree_add_item(c->tree, hf_msgr_body, c->tvb, c->off, cur_left(c), ENC_NA);
            expert_add_info_format(c->pinfo, it, &ei_msgr_option, "Option header truncated");
            c->off = c->end;
            return;
        }
        guint8 type = tvb_get_guint8(c->tvb, start);
        guint8 len = tvb_get_guint8(c->tvb, start + 1);
        gboolean fits = (int)len <= cur_left(c) - 2;
        int shown = fits ? 2 + len : cur_left(c);
        proto_tree *ot = proto_tree_add_subtree_format(
            c->tree, c->tvb, start, shown, ett_msgr_opt, NULL, "Option: %s (%u), len %u",
            val_to_str_const(type, msgr_opt_vals, "Unknown"), type, len);
        proto_item *ti = proto_tree_add_item(ot, hf_opt_type, c->tvb, start, 1, ENC_BIG_ENDIAN);
        proto_tree_add_item(ot, hf_opt_critical, c->tvb, start, 1, ENC_BIG_ENDIAN);
        proto_item *li = proto_tree_add_item(ot, hf_opt_len, c->tvb, start + 1, 1, ENC_BIG_ENDIAN);
        n++;
        if (n == MP_MAX_OPTIONS + 1)
            expert_add_info_format(c->pinfo, ti, &ei_msgr_option, "More than %u options", MP_MAX_OPTIONS);
        if (seen[type]++)
            expert_add_info_format(c->pinfo, ti, &ei_msgr_option, "Duplicate option %u", type);
        if (!fits) {
            expert_add_info_format(c->pinfo, li, &ei_msgr_option,
                                   "Option value (%u bytes) runs past the end of the message", len);
            c->off = c->end;
            return;
        }
        int v = start + 2;
        proto_tree_add_item(ot, hf_opt_value, c->tvb, v, len, ENC_NA);
        guint want = 0; /* exact length of fixed-size options */
        switch (type) {
        case MP_OPT_NODE_NAME:
        case MP_OPT_BEARER_NAME: {
            guint max = type == MP_OPT_NODE_NAME ? MP_MAX_NODE_NAME : MP_MAX_BEARER_NAME;
            proto_item *si = proto_tree_add_item(ot, type == MP_OPT_NODE_NAME ? hf_opt_node_name : hf_opt_bearer_name,
                                                 c->tvb, v, len, ENC_ASCII);
            const char *why = NULL;
            if (len < 1 || len > max)
                why = "length out of range";
            /* A bearer name is any 1..31 bytes; a node name is one name component. */
            for (guint i = 0; !why && type == MP_OPT_NODE_NAME && i < len; i++)
                if (!msgr_name_char(tvb_get_guint8(c->tvb, v + (int)i)))
                    why = "character outside [A-Za-z0-9._-]";
            if (!why && type == MP_OPT_NODE_NAME && len <= 2 && tvb_get_guint8(c->tvb, v) == '.' &&
                (len == 1 || tvb_get_guint8(c->tvb, v + 1) == '.'))
                why = "\".\" and \"..\" are not names";
            if (why)
                expert_add_info_format(c->pinfo, si, &ei_msgr_option, "Invalid %s option: %s",
                                       type == MP_OPT_NODE_NAME ? "node name" : "bearer name", why);
            break;
        }
        case MP_OPT_CAPS:
            want = 4;
            if (len == 4)
                proto_tree_add_bitmask(ot, c->tvb, v, hf_opt_caps, ett_msgr_caps, msgr_caps_bits, ENC_BIG_ENDIAN);
            break;
        case MP_OPT_MAX_MESSAGE:
            want = 4;
            if (len == 4) {
                guint32 mm;
                proto_item *mi = proto_tree_add_item_ret_uint(ot, hf_opt_max_message, c->tvb, v, 4, ENC_BIG_ENDIAN, &mm);
                if (mm < MP_MIN_MESSAGE_SUPPORT || mm > MP_MAX_MESSAGE)
                    expert_add_info_format(c->pinfo, mi, &ei_msgr_range, "max_message %u outside 1 MiB..16 MiB", mm);
            }
            break;
        case MP_OPT_PROBE_INTERVAL:
            want = 2;
            if (len == 2) {
                guint32 pi_ms;
                proto_item *pi = proto_tree_add_item_ret_uint(ot, hf_opt_probe_interval, c->tvb, v, 2, ENC_BIG_ENDIAN, &pi_ms);
                if (pi_ms == 0)
                    expert_add_info_format(c->pinfo, pi, &ei_msgr_range, "probe interval 0 ms");
            }
            break;
        case MP_OPT_MINET_MAC:
            want = 6;
            if (len == 6)
                proto_tree_add_item(ot, hf_opt_minet_mac, c->tvb, v, 6, ENC_NA);
            break;
        case MP_OPT_ACK_SESSION:
            want = 2;
            if (len == 2)
                proto_tree_add_item(ot, hf_opt_ack_session, c->tvb, v, 2, ENC_BIG_ENDIAN);
            break;
        case MP_OPT_PEER_EPOCH:
            want = 4;
            if (len == 4)
                proto_tree_add_item(ot, hf_opt_peer_epoch, c->tvb, v, 4, ENC_BIG_ENDIAN);
            break;
        case MP_OPT_SECURITY:
            want = 1;
            if (len == 1) {
                guint32 pol;
                proto_item *pi = proto_tree_add_item_ret_uint(ot, hf_opt_security, c->tvb, v, 1, ENC_BIG_ENDIAN, &pol);
                if (pol > MP_SEC_TRANSITION)
                    expert_add_info_format(c->pinfo, pi, &ei_msgr_option, "Unknown security policy %u", pol);
            }
            break;
        default:
            if (type & MP_OPT_CRITICAL)
                expert_add_info_format(c->pinfo, ti, &ei_msgr_option,
                                       "Unknown critical option 0x%02x: the frame must be rejected", type);
            else
                expert_add_info_format(c->pinfo, ti, &ei_msgr_option_unknown,
                                       "Unknown non-critical option 0x%02x (skipped)", type);
            break;
        }
        if (want && len != want)
            expert_add_info_format(c->pinfo, li, &ei_msgr_option, "Option length %u, expected %u", len, want);
        c->off = v + len;
    }
}

/* ---- Sequence analysis ---------------------------------------------------------------- */

static void msgr_dir_reset(msgr_dir_state *d, guint16 next)
{
    d->valid = TRUE;
    d->next = next;
    d->ack_valid = FALSE;
    d->seen = wmem_map_new(wmem_file_scope(), g_direct_hash, g_direct_equal);
}

/* First pass only: classify a sequenced frame's link seq and remember the result. */
static void msgr_seq_track(msgr_pkt *p, guint16 seq, guint16 ack)
{
    msgr_link *l = p->link;
    packet_info *pinfo = p->pinfo;
    msgr_seq_result *r = wmem_new0(wmem_file_scope(), msgr_seq_result);
    msgr_dir_state *d = &l->dir[p->dir];
    msgr_dir_state *back = &l->dir[!p->dir];

    /* The ack in a sequenced header acknowledges the other direction. */
    if (back->valid) {
        back->ack_valid = TRUE;
        back->acked = ack;
    }
    if (!d->valid) {
        msgr_dir_reset(d, (guint16)(seq + 1));
        wmem_map_insert(d->seen, GUINT_TO_POINTER(seq), GUINT_TO_POINTER(pinfo->num));
    } else if (seq == d->next) {
        d->next++;
        wmem_map_insert(d->seen, GUINT_TO_POINTER(seq), GUINT_TO_POINTER(pinfo->num));
    } else if (seq16_lt(d->next, seq)) {
        guint16 missing = (guint16)(seq - d->next);
        r->kind = MSGR_AN_LOST;
        r->lost_from = d->next;
        r->lost_count = missing;
        /* Forget stale entries for the skipped numbers (from the previous wrap). */
        for (guint16 s = d->next; s != seq; s++)
            wmem_map_remove(d->seen, GUINT_TO_POINTER(s));
        d->next = (guint16)(seq + 1);
        wmem_map_insert(d->seen, GUINT_TO_POINTER(seq), GUINT_TO_POINTER(pinfo->num));
    } else {
        guint32 orig = GPOINTER_TO_UINT(wmem_map_lookup(d->seen, GUINT_TO_POINTER(seq)));
        if (orig) {
            /* Already seen: a retransmission, or a pure duplicate if the peer had
             * already acknowledged it (ack = last in-order seq received). */
            r->kind = (d->ack_valid && seq16_le(seq, d->acked)) ? MSGR_AN_DUP : MSGR_AN_RETRANS;
            r->orig_frame = orig;
        } else {
            r->kind = MSGR_AN_OOO;
            wmem_map_insert(d->seen, GUINT_TO_POINTER(seq), GUINT_TO_POINTER(pinfo->num));
        }
    }
    p_add_proto_data(wmem_file_scope(), pinfo, proto_msgr, MSGR_PD_SEQ, r);
}

static void msgr_seq_show(msgr_pkt *p, tvbuff_t *tvb, proto_tree *tree, proto_item *seq_item)
{
    msgr_seq_result *r = (msgr_seq_result *)p_get_proto_data(wmem_file_scope(), p->pinfo, proto_msgr, MSGR_PD_SEQ);
    if (!r || r->kind == MSGR_AN_NONE)
        return;
    proto_item *ai = proto_tree_add_item(tree, hf_an, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ai);
    proto_tree *at = proto_item_add_subtree(ai, ett_msgr_analysis);
    proto_item *it;
    switch (r->kind) {
    case MSGR_AN_RETRANS:
    case MSGR_AN_DUP:
        it = proto_tree_add_item(at, r->kind == MSGR_AN_DUP ? hf_an_dup : hf_an_retrans, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(it);
        expert_add_info_format(p->pinfo, seq_item, r->kind == MSGR_AN_DUP ? &ei_msgr_an_dup : &ei_msgr_an_retrans,
                               r->kind == MSGR_AN_DUP ? "Duplicate of frame %u (already acknowledged)"
                                                      : "Retransmission of frame %u",
                               r->orig_frame);
        it = proto_tree_add_uint(at, hf_an_orig_frame, tvb, 0, 0, r->orig_frame);
        proto_item_set_generated(it);
        col_prepend_fstr(p->pinfo->cinfo, COL_INFO, "[%s] ", r->kind == MSGR_AN_DUP ? "Duplicate" : "Retransmission");
        break;
    case MSGR_AN_OOO:
        it = proto_tree_add_item(at, hf_an_ooo, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(it);
        expert_add_info(p->pinfo, seq_item, &ei_msgr_an_ooo);
        col_prepend_fstr(p->pinfo->cinfo, COL_INFO, "[Out-of-order] ");
        break;
    case MSGR_AN_LOST:
        it = proto_tree_add_item(at, hf_an_lost, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(it);
        it = proto_tree_add_uint(at, hf_an_lost_count, tvb, 0, 0, r->lost_count);
        proto_item_set_generated(it);
        expert_add_info_format(p->pinfo, seq_item, &ei_msgr_an_lost,
                               "Previous frame(s) not captured: %u missing, seq %u..%u", r->lost_count,
                               r->lost_from, (guint16)(r->lost_from + r->lost_count - 1));
        col_prepend_fstr(p->pinfo->cinfo, COL_INFO, "[Previous frame not captured] ");
        break;
    case MSGR_AN_RESET:
        it = proto_tree_add_item(at, hf_an_reset, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(it);
        expert_add_info(p->pinfo, seq_item, &ei_msgr_an_reset);
        break;
    default:
        break;
    }
}

/* LINK_RESET / LINK_ACTIVATE restart the sender's sequence space at next_seq. */
static void msgr_seq_restart(msgr_pkt *p, guint16 next_seq)
{
    if (!p->link || !msgr_analyze_seq || PINFO_FD_VISITED(p->pinfo) || p->msg_index != 0)
        return;
    msgr_dir_reset(&p->link->dir[p->dir], next_seq);
    msgr_seq_result *r = wmem_new0(wmem_file_scope(), msgr_seq_result);
    r->kind = MSGR_AN_RESET;
    p_add_proto_data(wmem_file_scope(), p->pinfo, proto_msgr, MSGR_PD_SEQ, r);
}

/* LINK_STATE acknowledges what the other side sent. */
static void msgr_seq_ack(msgr_pkt *p, guint16 ack)
{
    if (!p->link || !msgr_analyze_seq || PINFO_FD_VISITED(p->pinfo))
        return;
    msgr_dir_state *back = &p->link->dir[!p->dir];
    if (back->valid) {
        back->ack_valid = TRUE;
        back->acked = ack;
    }
}

/* TRUE when the sequence analysis found this frame's seq already seen (first pass). */
static gboolean msgr_frame_repeated(packet_info *pinfo)
{
    const msgr_seq_result *r =
        (const msgr_seq_result *)p_get_proto_data(wmem_file_scope(), pinfo, proto_msgr, MSGR_PD_SEQ);
    return r && (r->kind == MSGR_AN_RETRANS || r->kind == MSGR_AN_DUP);
}

/* ---- Path tracking ----------------------------------------------------------------------
 * Paths use their receiver's id as channel, so a message sent in direction d on channel
 * c belongs to the path registered under (d, c). */

static guint64 *msgr_path_key(int dir, guint32 chan)
{
    guint64 *k = wmem_new(wmem_file_scope(), guint64);
    *k = ((guint64)(guint)dir << 32) | chan;
    return k;
}

static msgr_path *msgr_path_lookup(msgr_pkt *p, int dir, guint32 chan)
{
    guint64 k = ((guint64)(guint)dir << 32) | chan;
    return (msgr_path *)wmem_map_lookup(p->link->paths, &k);
}

/* First pass: update path state for a path message.  All passes: show the references. */
static void msgr_path_event(msgr_pkt *p, tvbuff_t *tvb, proto_tree *tree, guint8 type, guint32 chan,
                            guint32 dst_path, guint32 src_path, const char *name)
{
    if (!p->link)
        return;
    packet_info *pinfo = p->pinfo;
    guint key = MSGR_PD_PATH_BASE + p->msg_index;
    msgr_path *ph = NULL;
    if (!PINFO_FD_VISITED(pinfo)) {
        switch (type) {
        case MP_T_PATH_OPEN:
            ph = wmem_new0(wmem_file_scope(), msgr_path);
            ph->open_frame = pinfo->num;
            ph->opener_path = src_path;
            ph->name = name;
            ph->open_dir = p->dir;
            wmem_map_insert(p->link->paths, msgr_path_key(!p->dir, src_path), ph);
            break;
        case MP_T_PATH_ACCEPT:
            ph = msgr_path_lookup(p, p->dir, dst_path);
            if (ph) {
                if (!ph->accept_frame)
                    ph->accept_frame = pinfo->num;
                ph->acceptor_path = src_path;
                wmem_map_insert(p->link->paths, msgr_path_key(!p->dir, src_path), ph);
            }
            break;
        case MP_T_PATH_CLOSE:
        case MP_T_PATH_ABORT:
            ph = msgr_path_lookup(p, p->dir, dst_path);
            if (!ph && type == MP_T_PATH_ABORT) /* a refusal may precede any accept */
                ph = msgr_path_lookup(p, p->dir, chan);
            if (ph && type == MP_T_PATH_CLOSE && !ph->close_frame)
                ph->close_frame = pinfo->num;
            if (ph && type == MP_T_PATH_ABORT && !ph->abort_frame)
                ph->abort_frame = pinfo->num;
            break;
        case MP_T_PATH_CREDIT:
            ph = msgr_path_lookup(p, p->dir, dst_path);
            break;
        default:
            if (chan >= MP_CHAN_FIRST_PATH)
                ph = msgr_path_lookup(p, p->dir, chan);
            if (ph && type == MP_T_DATA && !msgr_frame_repeated(pinfo)) {
                /* The path's data history: one count per message (a reassembled one
                 * counts once, at its last fragment; retransmissions not at all). */
                ph->msgs[p->dir == ph->open_dir ? 0 : 1]++;
                if (!ph->first_data_frame)
                    ph->first_data_frame = pinfo->num;
                ph->last_data_frame = pinfo->num;
            }
            break;
        }
        if (ph)
            p_add_proto_data(wmem_file_scope(), pinfo, proto_msgr, key, ph);
    } else {
        ph = (msgr_path *)p_get_proto_data(wmem_file_scope(), pinfo, proto_msgr, key);
    }
    if (!ph)
        return;
    proto_item *pi = proto_tree_add_item(tree, hf_path, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(pi);
    proto_tree *pt = proto_item_add_subtree(pi, ett_msgr_path);
    proto_item *it = proto_tree_add_uint(pt, hf_path_id, tvb, 0, 0, ph->opener_path);
    proto_item_set_generated(it);
    if (ph->name) {
        it = proto_tree_add_string(pt, hf_path_name, tvb, 0, 0, ph->name);
        proto_item_set_generated(it);
    }
    struct {
        int hf;
        guint32 frame;
    } refs[] = {{hf_path_open_frame, ph->open_frame},
                {hf_path_accept_frame, ph->accept_frame},
                {hf_path_close_frame, ph->close_frame},
                {hf_path_abort_frame, ph->abort_frame}};
    for (size_t i = 0; i < G_N_ELEMENTS(refs); i++) {
        if (refs[i].frame) {
            it = proto_tree_add_uint(pt, refs[i].hf, tvb, 0, 0, refs[i].frame);
            proto_item_set_generated(it);
        }
    }
    /* Data history (complete in two-pass mode): messages each way, first and last. */
    it = proto_tree_add_uint(pt, hf_path_msgs_fwd, tvb, 0, 0, ph->msgs[0]);
    proto_item_set_generated(it);
    it = proto_tree_add_uint(pt, hf_path_msgs_back, tvb, 0, 0, ph->msgs[1]);
    proto_item_set_generated(it);
    if (ph->first_data_frame) {
        it = proto_tree_add_uint(pt, hf_path_first_data, tvb, 0, 0, ph->first_data_frame);
        proto_item_set_generated(it);
        it = proto_tree_add_uint(pt, hf_path_last_data, tvb, 0, 0, ph->last_data_frame);
        proto_item_set_generated(it);
    }
    proto_item_append_text(pi, ": 0x%x%s%s%s, %u + %u messages", ph->opener_path, ph->name ? " \"" : "",
                           ph->name ? ph->name : "", ph->name ? "\"" : "", ph->msgs[0], ph->msgs[1]);
}

/* ---- Channel rules ------------------------------------------------------------------------ */

static void msgr_check_channel(packet_info *pinfo, proto_item *it, guint8 type, guint32 chan, guint32 cseq)
{
    const char *why = NULL;
    if (chan > MP_CHAN_MINET && chan < MP_CHAN_FIRST_PATH)
        why = "channels 0x02-0xFF are reserved";
    else {
        switch (type) {
        case MP_T_BUNDLE:
            if (chan != 0 || cseq != 0)
                why = "BUNDLE must have chan = cseq = 0";
            break;
        case MP_T_MINET:
            if (chan != MP_CHAN_MINET)
                why = "MINET travels on channel 1";
            break;
        case MP_T_NAME_PUBLISH:
        case MP_T_NAME_WITHDRAW:
        case MP_T_NAME_SYNC:
        case MP_T_PATH_OPEN:
            if (chan != MP_CHAN_NODE)
                why = "naming and PATH_OPEN travel on channel 0";
            break;
        case MP_T_DATA:
        case MP_T_PATH_ACCEPT:
        case MP_T_PATH_CLOSE:
        case MP_T_PATH_ABORT:
        case MP_T_PATH_CREDIT:
            if (chan < MP_CHAN_FIRST_PATH)
                why = "path messages travel on the path's channel (>= 0x100)";
            break;
        case MP_T_SERVICE_STATUS:
        case MP_T_MGMT:
            if (chan == MP_CHAN_MINET)
                why = "channel 1 carries MINET only";
            break;
        default:
            break;
        }
    }
    if (why)
        expert_add_info_format(pinfo, it, &ei_msgr_channel, "Channel rule violated: %s (chan 0x%x)", why, chan);
}

/* Path messages after PATH_OPEN name their channel in dst_path. */
static void msgr_check_dst_path(packet_info *pinfo, proto_item *it, guint32 chan, guint32 dst_path, gboolean has_chan)
{
    if (has_chan && it && dst_path != chan)
        expert_add_info_format(pinfo, it, &ei_msgr_channel,
                               "Channel rule violated: dst_path 0x%x differs from chan 0x%x", dst_path, chan);
}

/* ---- Bodies ----------------------------------------------------------------------------------- */

typedef struct {
    guint8 type;
    guint32 chan, cseq;
    gboolean has_chan; /* sequenced header, bundle member or reassembled message */
} msgr_msg;

static void msgr_dissect_body(msgr_pkt *p, tvbuff_t *tvb, proto_tree *tree, proto_item *ti, int off, int end,
                              const msgr_msg *m);

static int *const msgr_dflags_bits[] = {&hf_disc_dflags_reply, &hf_disc_dflags_secure, NULL};
static int *const msgr_lflags_bits[] = {&hf_link_lflags_standby, NULL};
static int *const msgr_sflags_bits[] = {&hf_state_sflags_probe, &hf_state_sflags_reply, NULL};
static int *const msgr_mflags_bits[] = {&hf_minet_mflags_offload, &hf_minet_mflags_flood,
                                        &hf_minet_mflags_needs_csum, NULL};
static int *const msgr_gso_bits[] = {&hf_minet_gso_proto, &hf_minet_gso_ecn, NULL};
static int *const msgr_nflags_bits[] = {&hf_name_nflags_exclusive, NULL};
static int *const msgr_yflags_bits[] = {&hf_sync_yflags_first, &hf_sync_yflags_last, NULL};
static int *const msgr_gflags_bits[] = {&hf_mgmt_gflags_reply, &hf_mgmt_gflags_error, NULL};

static void msgr_body_discover(msgr_cur *c)
{
    proto_item *it;
    guint32 node = cur_uint(c, hf_disc_node_id, 4, &it);
    msgr_check_node_id(c, it, node, "node_id");
    cur_uint(c, hf_disc_domain, 4, NULL);
    guint32 v;
    v = cur_uint(c, hf_disc_max_version, 1, &it);
    msgr_check_range(c, it, v, MP_VERSION, 15, "max_version");
    cur_flags(c, hf_disc_dflags, 1, msgr_dflags_bits, MP_DFLAGS_DEFINED);
    cur_uint(c, hf_disc_mtu, 2, NULL);
    cur_uint(c, hf_disc_incarnation, 4, NULL);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " node=0x%08x", node);
    if (!c->short_body)
        msgr_dissect_options(c);
}

static void msgr_body_link(msgr_pkt *p, msgr_cur *c)
{
    proto_item *it;
    guint32 v = cur_uint(c, hf_link_node_id, 4, &it);
    msgr_check_node_id(c, it, v, "node_id");
    v = cur_uint(c, hf_link_peer_id, 4, &it);
    msgr_check_node_id(c, it, v, "peer_id");
    cur_uint(c, hf_link_incarnation, 4, NULL);
    guint32 session = cur_uint(c, hf_link_session, 2, NULL);
    guint32 next_seq = cur_uint(c, hf_link_next_seq, 2, &it);
    gboolean have_next = it != NULL || (!c->short_body);
    v = cur_uint(c, hf_link_tolerance, 2, &it);
    msgr_check_range(c, it, v, MP_TOLERANCE_MIN_MS, MP_TOLERANCE_MAX_MS, "tolerance_ms");
    v = cur_uint(c, hf_link_window, 2, &it);
    msgr_check_range(c, it, v, MP_WINDOW_MIN, MP_WINDOW_MAX, "window");
    cur_uint(c, hf_link_mtu, 2, NULL);
    v = cur_uint(c, hf_link_priority, 1, &it);
    msgr_check_range(c, it, v, 0, MP_PRIORITY_MAX, "priority");
    cur_flags(c, hf_link_lflags, 1, msgr_lflags_bits, MP_LFLAGS_DEFINED);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " session=%u next_seq=%u", session, next_seq);
    if (!c->short_body) {
        msgr_dissect_options(c);
        if (have_next)
            msgr_seq_restart(p, (guint16)next_seq);
    }
}

static void msgr_body_link_state(msgr_pkt *p, msgr_cur *c)
{
    proto_item *it, *cnt_it;
    guint32 session = cur_uint(c, hf_state_session, 2, NULL);
    guint32 ack = cur_uint(c, hf_state_ack, 2, &it);
    if (it)
        msgr_seq_ack(p, (guint16)ack);
    cur_uint(c, hf_state_next_seq, 2, NULL);
    guint32 sflags = cur_flags(c, hf_state_sflags, 1, msgr_sflags_bits, MP_SFLAGS_DEFINED);
    guint32 count = cur_uint(c, hf_state_gap_count, 1, &cnt_it);
    cur_uint(c, hf_state_timestamp, 4, NULL);
    cur_uint(c, hf_state_echo, 4, NULL);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " session=%u ack=%u%s%s", session, ack,
                    (sflags & MP_SFLAG_PROBE) ? " PROBE" : "", (sflags & MP_SFLAG_REPLY) ? " REPLY" : "");
    if (c->short_body)
        return;
    if (count > MP_MAX_GAPS)
        expert_add_info_format(c->pinfo, cnt_it, &ei_msgr_count, "gap_count %u exceeds %u", count, MP_MAX_GAPS);
    if ((guint)cur_left(c) != count * 4u)
        expert_add_info_format(c->pinfo, cnt_it, &ei_msgr_count,
                               "gap_count %u needs %u bytes of gap blocks, %d present", count, count * 4u,
                               cur_left(c));
    for (guint i = 0; i < count && cur_left(c) >= 4; i++) {
        guint16 s = tvb_get_ntohs(c->tvb, c->off), e = tvb_get_ntohs(c->tvb, c->off + 2);
        proto_tree *gt = proto_tree_add_subtree_format(c->tree, c->tvb, c->off, 4, ett_msgr_gap, NULL,
                                                       "Gap %u: %u..%u", i + 1, s, e);
        proto_tree_add_item(gt, hf_state_gap_start, c->tvb, c->off, 2, ENC_BIG_ENDIAN);
        proto_item *ei = proto_tree_add_item(gt, hf_state_gap_end, c->tvb, c->off + 2, 2, ENC_BIG_ENDIAN);
        if (seq16_lt(e, s))
            expert_add_info_format(c->pinfo, ei, &ei_msgr_range, "Gap end %u before start %u", e, s);
        c->off += 4;
    }
    if (cur_left(c) > 0) {
        proto_tree_add_item(c->tree, hf_msgr_body, c->tvb, c->off, cur_left(c), ENC_NA);
        c->off = c->end;
    }
}

/* Key for fragment reassembly: (source, direction, chan, cseq).  The source address is
 * the link peer (Ethernet/IP); direction separates the two ends of a USER0 capture. */
typedef struct {
    address src;
    int dir;
    guint32 chan, cseq;
} msgr_frag_key;

static guint msgr_frag_hash(gconstpointer k)
{
    const msgr_frag_key *key = (const msgr_frag_key *)k;
    guint h = add_address_to_hash(0, &key->src);
    return h ^ (key->chan * 0x9E3779B1u) ^ key->cseq ^ ((guint)key->dir << 30);
}

static gboolean msgr_frag_equal(gconstpointer a, gconstpointer b)
{
    const msgr_frag_key *x = (const msgr_frag_key *)a, *y = (const msgr_frag_key *)b;
    return x->chan == y->chan && x->cseq == y->cseq && x->dir == y->dir && addresses_equal(&x->src, &y->src);
}

typedef struct {
    int dir;
    guint32 chan, cseq;
} msgr_frag_id;

static gpointer msgr_frag_temp_key(const packet_info *pinfo, const guint32 id _U_, const void *data)
{
    const msgr_frag_id *fid = (const msgr_frag_id *)data;
    msgr_frag_key *k = g_slice_new(msgr_frag_key);
    copy_address_shallow(&k->src, &pinfo->src);
    k->dir = fid->dir;
    k->chan = fid->chan;
    k->cseq = fid->cseq;
    return k;
}

static gpointer msgr_frag_persist_key(const packet_info *pinfo, const guint32 id _U_, const void *data)
{
    const msgr_frag_id *fid = (const msgr_frag_id *)data;
    msgr_frag_key *k = g_slice_new(msgr_frag_key);
    copy_address(&k->src, &pinfo->src);
    k->dir = fid->dir;
    k->chan = fid->chan;
    k->cseq = fid->cseq;
    return k;
}

static void msgr_frag_free_temp_key(gpointer p)
{
    g_slice_free(msgr_frag_key, p);
}

static void msgr_frag_free_persist_key(gpointer p)
{
    msgr_frag_key *k = (msgr_frag_key *)p;
    free_address(&k->src);
    g_slice_free(msgr_frag_key, k);
}

static const reassembly_table_functions msgr_reassembly_functions = {
    msgr_frag_hash,        msgr_frag_equal,           msgr_frag_temp_key,
    msgr_frag_persist_key, msgr_frag_free_temp_key, msgr_frag_free_persist_key};

static gboolean msgr_bundleable(guint8 type)
{
    return msgr_type_sequenced(type) && msgr_type_known(type) && type != MP_T_FRAGMENT && type != MP_T_BUNDLE;
}

static void msgr_body_fragment(msgr_pkt *p, msgr_cur *c, const msgr_msg *m)
{
    proto_item *it, *tot_it, *off_it;
    guint32 inner = cur_uint(c, hf_frag_inner_type, 1, &it);
    if (it && !msgr_bundleable((guint8)inner))
        expert_add_info_format(c->pinfo, it, &ei_msgr_type_not_allowed,
                               "inner_type 0x%02x cannot be fragmented (sequenced, not FRAGMENT/BUNDLE)", inner);
    if (it && m->has_chan)
        msgr_check_channel(c->pinfo, it, (guint8)inner, m->chan, m->cseq);
    cur_reserved(c, 1);
    cur_reserved(c, 2);
    guint32 total = cur_uint(c, hf_frag_total_len, 4, &tot_it);
    guint32 foff = cur_uint(c, hf_frag_offset, 4, &off_it);
    if (c->short_body)
        return;
    int dlen = cur_left(c);
    int doff = c->off;
    proto_tree_add_item(c->tree, hf_frag_data, c->tvb, doff, dlen, ENC_NA);
    c->off = c->end;
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " %s off=%u len=%d total=%u", msgr_type_str((guint8)inner), foff,
                    dlen, total);
    gboolean ok = TRUE;
    if (total > MP_MAX_MESSAGE) {
        expert_add_info_format(c->pinfo, tot_it, &ei_msgr_range, "total_len %u exceeds %u", total, MP_MAX_MESSAGE);
        ok = FALSE;
    }
    if (dlen < 1) {
        expert_add_info_format(c->pinfo, c->item, &ei_msgr_length, "Fragment carries no data");
        ok = FALSE;
    }
    if ((guint64)foff + (guint64)dlen > total) {
        expert_add_info_format(c->pinfo, off_it, &ei_msgr_range, "offset %u + %d bytes runs past total_len %u",
                               foff, dlen, total);
        ok = FALSE;
    }
    if (!ok || !msgr_defragment || !m->has_chan || p->depth > 0 || !msgr_bundleable((guint8)inner))
        return;
    /* Reassembly is only possible on frames captured in full. */
    if (tvb_captured_length(c->tvb) < tvb_reported_length(c->tvb))
        return;
    /* Like TCP: a retransmitted or duplicate fragment (same link seq seen before) is not
     * fed to reassembly again, or a message whose fragments were all retransmitted would
     * be reassembled (and counted) twice.  Its data is in the original frame. */
    if (p->depth == 0 && msgr_analyze_seq && msgr_frame_repeated(c->pinfo)) {
        const msgr_seq_result *r =
            (const msgr_seq_result *)p_get_proto_data(wmem_file_scope(), c->pinfo, proto_msgr, MSGR_PD_SEQ);
        proto_item *ri = proto_tree_add_uint_format(c->tree, hf_an_orig_frame, c->tvb, doff, dlen, r->orig_frame,
                                                    "Retransmitted fragment, not reassembled again "
                                                    "(first sent in frame %u)", r->orig_frame);
        proto_item_set_generated(ri);
        col_append_str(c->pinfo->cinfo, COL_INFO, " [retransmitted fragment]");
        return;
    }

    msgr_frag_id fid = {p->dir, m->chan, m->cseq};
    gboolean save_fragmented = c->pinfo->fragmented;
    c->pinfo->fragmented = TRUE;
    fragment_head *fh = fragment_add_check(&msgr_reassembly_table, c->tvb, doff, c->pinfo, m->cseq, &fid, foff,
                                           (guint32)dlen, foff + (guint32)dlen < total);
    tvbuff_t *whole = process_reassembled_data(c->tvb, doff, c->pinfo, "Reassembled Messenger message", fh,
                                               &msgr_frag_items, NULL, c->tree);
    c->pinfo->fragmented = save_fragmented;
    if (whole) {
        col_append_fstr(c->pinfo->cinfo, COL_INFO, " [reassembled %s, %u bytes]", msgr_type_str((guint8)inner),
                        tvb_reported_length(whole));
        proto_tree *bt = proto_tree_add_subtree_format(c->tree, whole, 0, -1, ett_msgr_body, NULL,
                                                       "Reassembled %s body (%u bytes)",
                                                       msgr_type_str((guint8)inner), tvb_reported_length(whole));
        msgr_msg rm = {(guint8)inner, m->chan, m->cseq, TRUE};
        msgr_pkt sub = *p;
        sub.depth++;
        sub.msg_index = 200 + p->msg_index;
        msgr_dissect_body(&sub, whole, bt, c->item, 0, (int)tvb_captured_length(whole), &rm);
    }
}

static guint msgr_bundle_members(msgr_pkt *p, msgr_cur *c)
{
    guint n = 0;
    while (cur_left(c) > 0) {
        int start = c->off;
        int left = cur_left(c);
        n++;
        if (left < (int)MP_INNER_HDR_LEN) {
            proto_item *it = proto_tree_add_item(c->tree, hf_msgr_body, c->tvb, start, left, ENC_NA);
            expert_add_info_format(c->pinfo, it, &ei_msgr_length, "Bundle member %u: %d bytes, header needs %u", n,
                                   left, MP_INNER_HDR_LEN);
            c->off = c->end;
            break;
        }
        guint8 b0 = tvb_get_guint8(c->tvb, start);
        guint8 type = tvb_get_guint8(c->tvb, start + 1);
        guint len = tvb_get_ntohs(c->tvb, start + 2);
        int shown = (len >= MP_INNER_HDR_LEN && (int)len <= left) ? (int)len : left;
        proto_item *mi;
        proto_tree *mt = proto_tree_add_subtree_format(c->tree, c->tvb, start, shown, ett_msgr_member, &mi,
                                                       "Member %u: %s, length %u", n, msgr_type_str(type), len);
        proto_item *vi = proto_tree_add_item(mt, hf_member_version, c->tvb, start, 1, ENC_BIG_ENDIAN);
        proto_tree_add_item(mt, hf_member_flags, c->tvb, start, 1, ENC_BIG_ENDIAN);
        proto_item *ti = proto_tree_add_item(mt, hf_member_type, c->tvb, start + 1, 1, ENC_BIG_ENDIAN);
        proto_item *li = proto_tree_add_item(mt, hf_member_length, c->tvb, start + 2, 2, ENC_BIG_ENDIAN);
        guint32 chan, cseq;
        proto_item *ci = proto_tree_add_item_ret_uint(mt, hf_member_chan, c->tvb, start + 4, 4, ENC_BIG_ENDIAN, &chan);
        proto_tree_add_item_ret_uint(mt, hf_member_cseq, c->tvb, start + 8, 4, ENC_BIG_ENDIAN, &cseq);
        col_append_fstr(c->pinfo->cinfo, COL_INFO, "%s%s", n == 1 ? " [" : ", ", msgr_type_str(type));
        if ((b0 >> 4) != MP_VERSION) {
            expert_add_info_format(c->pinfo, vi, &ei_msgr_version, "Bundle member version %u, expected %u", b0 >> 4,
                                   MP_VERSION);
        }
        if (!msgr_bundleable(type))
            expert_add_info_format(c->pinfo, ti, &ei_msgr_type_not_allowed,
                                   "Type 0x%02x cannot be a bundle member", type);
        if (len < MP_INNER_HDR_LEN || (int)len > left) {
            expert_add_info_format(c->pinfo, li, &ei_msgr_length,
                                   "Member length %u outside %u..%d (bytes left in bundle)", len, MP_INNER_HDR_LEN,
                                   left);
            c->off = c->end;
            break;
        }
        if (msgr_bundleable(type) && (b0 >> 4) == MP_VERSION) {
            /* Member length counts a 12-byte header where a frame has 16. */
            guint body = len - MP_INNER_HDR_LEN;
            guint fixed = msgr_fixed_len(type);
            guint min = msgr_min_len(type) - MP_SEQ_HDR_LEN;
            if (body < min || (fixed && body != fixed - MP_SEQ_HDR_LEN))
                expert_add_info_format(c->pinfo, li, &ei_msgr_length, "Member body of %u bytes is invalid for %s",
                                       body, msgr_type_str(type));
            msgr_check_channel(c->pinfo, ci, type, chan, cseq);
            msgr_msg mm = {type, chan, cseq, TRUE};
            msgr_pkt sub = *p;
            sub.msg_index = n;
            msgr_dissect_body(&sub, c->tvb, mt, mi, start + (int)MP_INNER_HDR_LEN, start + (int)len, &mm);
        } else if (len > MP_INNER_HDR_LEN) {
            proto_tree_add_item(mt, hf_msgr_body, c->tvb, start + (int)MP_INNER_HDR_LEN,
                                (int)len - (int)MP_INNER_HDR_LEN, ENC_NA);
        }
        c->off = start + (int)len;
    }
    if (n)
        col_append_str(c->pinfo->cinfo, COL_INFO, "]");
    return n;
}

static void msgr_body_bundle(msgr_pkt *p, msgr_cur *c)
{
    guint n = msgr_bundle_members(p, c);
    proto_item *it = proto_tree_add_uint(c->tree, hf_bundle_count, c->tvb, 0, 0, n);
    proto_item_set_generated(it);
    if (n == 0)
        expert_add_info_format(c->pinfo, it, &ei_msgr_count, "Empty BUNDLE");
}

static void msgr_body_minet(msgr_cur *c)
{
    proto_item *it;
    guint32 mflags = cur_flags(c, hf_minet_mflags, 1, msgr_mflags_bits, MP_MFLAGS_DEFINED);
    guint32 gso = 0;
    if (cur_have(c, 1)) {
        guint64 g;
        it = proto_tree_add_bitmask_ret_uint64(c->tree, c->tvb, c->off, hf_minet_gso_type, ett_msgr_gso, msgr_gso_bits,
                                               ENC_BIG_ENDIAN, &g);
        gso = (guint32)g;
        if (!try_val_to_str(gso & ~MP_GSO_ECN, msgr_gso_vals))
            expert_add_info_format(c->pinfo, it, &ei_msgr_range, "Unknown gso_type 0x%02x", gso);
        c->off += 1;
    }
    cur_uint(c, hf_minet_hdr_len, 2, NULL);
    guint32 gso_size = cur_uint(c, hf_minet_gso_size, 2, &it);
    if (it && (gso & ~MP_GSO_ECN) != MP_GSO_NONE && gso_size == 0)
        expert_add_info_format(c->pinfo, it, &ei_msgr_range, "gso_size 0 with gso_type 0x%02x", gso);
    cur_uint(c, hf_minet_csum_start, 2, NULL);
    cur_uint(c, hf_minet_csum_offset, 2, NULL);
    cur_uint(c, hf_minet_domain, 2, NULL);
    (void)mflags;
    if (c->short_body)
        return;
    int elen = cur_left(c);
    if (elen < (int)MP_MINET_MIN_ETH) {
        expert_add_info_format(c->pinfo, c->item, &ei_msgr_length, "Ethernet frame of %d bytes (minimum %u)", elen,
                               MP_MINET_MIN_ETH);
        if (elen > 0)
            proto_tree_add_item(c->tree, hf_minet_eth, c->tvb, c->off, elen, ENC_NA);
        c->off = c->end;
        return;
    }
    proto_tree_add_item(c->tree, hf_minet_eth, c->tvb, c->off, elen, ENC_NA);
    tvbuff_t *etvb = tvb_new_subset_length(c->tvb, c->off, elen);
    c->off = c->end;
    if (!eth_handle)
        return;
    /* The inner dissector may throw on a malformed inner frame; that is the inner
     * frame's problem, so keep it from unwinding the rest of a bundle. */
    col_append_str(c->pinfo->cinfo, COL_INFO, " | ");
    col_set_fence(c->pinfo->cinfo, COL_INFO);
    TRY {
        call_dissector(eth_handle, etvb, c->pinfo, proto_tree_get_root(c->tree));
    }
    CATCH_NONFATAL_ERRORS {
        show_exception(etvb, c->pinfo, c->tree, EXCEPT_CODE, GET_MESSAGE);
    }
    ENDTRY;
}

/* One name record (NAME_PUBLISH body or NAME_SYNC member) filling [c->off, c->end). */
static void msgr_name_record(msgr_cur *c, const char **name_out)
{
    proto_item *it;
    cur_uint(c, hf_name_device_id, 4, NULL);
    cur_uint(c, hf_name_dtype, 2, NULL);
    cur_flags(c, hf_name_nflags, 1, msgr_nflags_bits, MP_NFLAGS_DEFINED);
    cur_uint(c, hf_name_rank, 1, NULL);
    cur_uint(c, hf_name_generation, 4, NULL);
    guint32 nlen = cur_uint(c, hf_name_name_len, 1, &it);
    if (c->short_body)
        return;
    if (nlen == 0 || nlen > MP_MAX_NAME)
        expert_add_info_format(c->pinfo, it, &ei_msgr_name, "name_len %u outside 1..%u", nlen, MP_MAX_NAME);
    if (!cur_have(c, (int)nlen))
        return;
    cur_name(c, hf_name_name, nlen, FALSE, FALSE, name_out);
    guint32 pc = cur_uint(c, hf_name_prop_count, 1, &it);
    if (c->short_body)
        return;
    if (pc > MP_MAX_PROPS)
        expert_add_info_format(c->pinfo, it, &ei_msgr_range, "prop_count %u exceeds %u", pc, MP_MAX_PROPS);
    int key_off[256];
    guint key_len[256];
    for (guint i = 0; i < pc; i++) {
        if (cur_left(c) < 1) {
            expert_add_info_format(c->pinfo, it, &ei_msgr_count, "prop_count %u but only %u properties present", pc,
                                   i);
            return;
        }
        int ps = c->off;
        proto_item *pi;
        proto_tree *pt = proto_tree_add_subtree_format(c->tree, c->tvb, ps, 1, ett_msgr_prop, &pi, "Property %u", i + 1);
        proto_tree *save = c->tree;
        c->tree = pt;
        guint32 klen = cur_uint(c, hf_prop_key_len, 1, &it);
        const char *kwhy = (klen < 1 || klen > MP_MAX_PROP_KEY) ? "key length outside 1..31" : NULL;
        if (cur_have(c, (int)klen)) {
            proto_item *ki = proto_tree_add_item(pt, hf_prop_key, c->tvb, c->off, (int)klen, ENC_ASCII);
            for (guint k = 0; !kwhy && k < klen; k++) {
                guint8 ch = tvb_get_guint8(c->tvb, c->off + (int)k);
                if (!(g_ascii_islower(ch) || g_ascii_isdigit(ch) || ch == '_' || ch == '.' || ch == '-'))
                    kwhy = "key character outside [a-z0-9_.-]";
            }
            for (guint k = 0; !kwhy && k < i; k++)
                if (key_len[k] == klen && tvb_memeql(c->tvb, key_off[k], tvb_get_ptr(c->tvb, c->off, (int)klen), klen) == 0)
                    kwhy = "duplicate key";
            key_off[i] = c->off;
            key_len[i] = klen;
            if (kwhy)
                expert_add_info_format(c->pinfo, ki, &ei_msgr_prop, "Invalid property: %s", kwhy);
            proto_item_append_text(pi, ": %s", tvb_format_text(c->pinfo->pool, c->tvb, c->off, (int)klen));
            c->off += (int)klen;
        } else {
            c->tree = save;
            return;
        }
        guint32 vlen = cur_uint(c, hf_prop_val_len, 1, &it);
        if (c->short_body || !cur_have(c, (int)vlen)) {
            c->tree = save;
            return;
        }
        proto_item *vi = proto_tree_add_item(pt, hf_prop_value, c->tvb, c->off, (int)vlen, ENC_NA);
        if (vlen && tvb_find_guint8(c->tvb, c->off, (int)vlen, 0) >= 0)
            expert_add_info_format(c->pinfo, vi, &ei_msgr_prop, "Invalid property: value contains NUL");
        proto_item_append_text(pi, " = \"%s\"", tvb_format_text(c->pinfo->pool, c->tvb, c->off, (int)vlen));
        c->off += (int)vlen;
        proto_item_set_len(pi, c->off - ps);
        c->tree = save;
    }
}

static void msgr_trailing(msgr_cur *c, const char *what)
{
    if (!c->short_body && cur_left(c) > 0) {
        proto_item *it = proto_tree_add_item(c->tree, hf_msgr_body, c->tvb, c->off, cur_left(c), ENC_NA);
        expert_add_info_format(c->pinfo, it, &ei_msgr_length, "%d unexpected bytes after the %s", cur_left(c), what);
        c->off = c->end;
    }
}

static void msgr_body_publish(msgr_cur *c)
{
    const char *name = NULL;
    msgr_name_record(c, &name);
    if (name)
        col_append_fstr(c->pinfo->cinfo, COL_INFO, " \"%s\"", name);
    msgr_trailing(c, "name record");
}

static void msgr_body_withdraw(msgr_cur *c)
{
    proto_item *it;
    const char *name = NULL;
    cur_uint(c, hf_wd_device_id, 4, NULL);
    cur_uint(c, hf_wd_generation, 4, NULL);
    guint32 nlen = cur_uint(c, hf_wd_name_len, 1, &it);
    if (c->short_body)
        return;
    if (nlen == 0 || nlen > MP_MAX_NAME)
        expert_add_info_format(c->pinfo, it, &ei_msgr_name, "name_len %u outside 1..%u", nlen, MP_MAX_NAME);
    cur_name(c, hf_wd_name, nlen, FALSE, FALSE, &name);
    if (name)
        col_append_fstr(c->pinfo->cinfo, COL_INFO, " \"%s\"", name);
    msgr_trailing(c, "name");
}

static void msgr_body_sync(msgr_cur *c)
{
    proto_item *cnt_it;
    guint32 yflags = cur_flags(c, hf_sync_yflags, 1, msgr_yflags_bits, MP_YFLAGS_DEFINED);
    cur_reserved(c, 1);
    guint32 count = cur_uint(c, hf_sync_count, 2, &cnt_it);
    if (c->short_body)
        return;
    if (count == 0 && !(yflags & MP_YFLAG_LAST))
        expert_add_info_format(c->pinfo, cnt_it, &ei_msgr_range, "count 0 is only allowed in the LAST chunk");
    guint n = 0;
    while (cur_left(c) > 0) {
        int rs = c->off;
        if (cur_left(c) < 2) {
            proto_item *bi = proto_tree_add_item(c->tree, hf_msgr_body, c->tvb, rs, cur_left(c), ENC_NA);
            expert_add_info_format(c->pinfo, bi, &ei_msgr_length, "Truncated record length");
            c->off = c->end;
            break;
        }
        guint rlen = tvb_get_ntohs(c->tvb, rs);
        gboolean fits = (int)rlen <= cur_left(c) - 2;
        n++;
        proto_item *ri;
        proto_tree *rt = proto_tree_add_subtree_format(c->tree, c->tvb, rs, fits ? 2 + (int)rlen : cur_left(c),
                                                       ett_msgr_record, &ri, "Record %u", n);
        proto_item *li = proto_tree_add_item(rt, hf_sync_rec_len, c->tvb, rs, 2, ENC_BIG_ENDIAN);
        if (!fits) {
            expert_add_info_format(c->pinfo, li, &ei_msgr_length, "Record length %u runs past the message", rlen);
            c->off = c->end;
            break;
        }
        if (rlen < MP_NAME_REC_MIN_LEN)
            expert_add_info_format(c->pinfo, li, &ei_msgr_length, "Record length %u below minimum %u", rlen,
                                   MP_NAME_REC_MIN_LEN);
        msgr_cur rc;
        cur_init(&rc, c->tvb, c->pinfo, rt, ri, rs + 2, rs + 2 + (int)rlen);
        const char *name = NULL;
        msgr_name_record(&rc, &name);
        if (name)
            proto_item_append_text(ri, ": \"%s\"", name);
        msgr_trailing(&rc, "name record");
        c->off = rs + 2 + (int)rlen;
    }
    if (n != count)
        expert_add_info_format(c->pinfo, cnt_it, &ei_msgr_count, "count %u but %u records present", count, n);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " %u records", n);
}

static void msgr_body_path_open(msgr_pkt *p, proto_tree *tree, msgr_cur *c, const msgr_msg *m)
{
    proto_item *it;
    guint32 src_path = cur_uint(c, hf_popen_src_path, 4, &it);
    if (it && src_path < MP_CHAN_FIRST_PATH)
        expert_add_info_format(c->pinfo, it, &ei_msgr_range, "src_path 0x%x below 0x100", src_path);
    cur_uint(c, hf_popen_src_device, 4, NULL);
    cur_uint(c, hf_popen_dst_device, 4, NULL);
    cur_uint(c, hf_popen_credit, 4, NULL);
    guint32 pk = cur_uint(c, hf_popen_pkind, 1, &it);
    msgr_check_range(c, it, pk, MP_PK_UNICAST, MP_PK_ANYCAST, "pkind");
    cur_reserved(c, 1);
    cur_reserved(c, 2);
    guint32 nlen = cur_uint(c, hf_popen_name_len, 1, &it);
    if (c->short_body)
        return;
    if (nlen > MP_MAX_NAME)
        expert_add_info_format(c->pinfo, it, &ei_msgr_name, "name_len %u exceeds %u", nlen, MP_MAX_NAME);
    const char *name = NULL;
    /* A name for UNICAST, a pattern for MULTICAST and ANYCAST. */
    cur_name(c, hf_popen_name, nlen, pk == MP_PK_MULTICAST || pk == MP_PK_ANYCAST, TRUE, &name);
    if (c->short_body)
        return;
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " src_path=0x%x %s \"%s\"", src_path,
                    val_to_str_const(pk, msgr_pkind_vals, "?"), name ? name : "");
    msgr_dissect_options(c);
    msgr_path_event(p, c->tvb, tree, m->type, m->chan, 0, src_path, name);
}

static void msgr_body_path_fixed(msgr_pkt *p, proto_tree *tree, msgr_cur *c, const msgr_msg *m)
{
    proto_item *it;
    guint32 dst = 0, src = 0, v;
    switch (m->type) {
    case MP_T_PATH_ACCEPT:
        dst = cur_uint(c, hf_paccept_dst_path, 4, &it);
        msgr_check_dst_path(c->pinfo, it, m->chan, dst, m->has_chan);
        src = cur_uint(c, hf_paccept_src_path, 4, &it);
        if (it && src < MP_CHAN_FIRST_PATH)
            expert_add_info_format(c->pinfo, it, &ei_msgr_range, "src_path 0x%x below 0x100", src);
        if (it && m->has_chan && m->cseq != 0)
            expert_add_info_format(c->pinfo, it, &ei_msgr_channel,
                                   "Channel rule violated: PATH_ACCEPT is cseq 0 of the opener's channel (cseq %u)", m->cseq);
        cur_uint(c, hf_paccept_credit, 4, NULL);
        break;
    case MP_T_PATH_CLOSE:
        dst = cur_uint(c, hf_pclose_dst_path, 4, &it);
        msgr_check_dst_path(c->pinfo, it, m->chan, dst, m->has_chan);
        src = cur_uint(c, hf_pclose_src_path, 4, &it);
        if (it && src < MP_CHAN_FIRST_PATH)
            expert_add_info_format(c->pinfo, it, &ei_msgr_range, "src_path 0x%x below 0x100", src);
        cur_uint(c, hf_pclose_last_cseq, 4, NULL);
        v = cur_uint(c, hf_pclose_reason, 1, &it);
        msgr_check_range(c, it, v, 0, MP_R_MAX, "reason");
        cur_reserved(c, 3);
        break;
    case MP_T_PATH_ABORT:
        dst = cur_uint(c, hf_pabort_dst_path, 4, &it);
        msgr_check_dst_path(c->pinfo, it, m->chan, dst, m->has_chan);
        src = cur_uint(c, hf_pabort_src_path, 4, &it);
        if (it && src != 0 && src < MP_CHAN_FIRST_PATH)
            expert_add_info_format(c->pinfo, it, &ei_msgr_range, "src_path 0x%x is neither 0 (refusal) nor >= 0x100", src);
        v = cur_uint(c, hf_pabort_error, 2, &it);
        msgr_check_range(c, it, v, 0, MP_R_MAX, "error");
        cur_reserved(c, 2);
        break;
    case MP_T_PATH_CREDIT:
        dst = cur_uint(c, hf_pcredit_dst_path, 4, &it);
        msgr_check_dst_path(c->pinfo, it, m->chan, dst, m->has_chan);
        v = cur_uint(c, hf_pcredit_limit, 4, NULL);
        col_append_fstr(c->pinfo->cinfo, COL_INFO, " limit=%u", v);
        break;
    default:
        return;
    }
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " dst_path=0x%x", dst);
    msgr_trailing(c, "fixed fields");
    if (!c->short_body)
        msgr_path_event(p, c->tvb, tree, m->type, m->chan, dst, src, NULL);
}

static void msgr_body_service_status(msgr_pkt *p, proto_tree *tree, msgr_cur *c, const msgr_msg *m)
{
    proto_item *it;
    guint32 st = cur_uint(c, hf_svc_status, 1, &it);
    msgr_check_range(c, it, st, MP_ST_PEER_UP, MP_ST_MAX, "status");
    guint32 rs = cur_uint(c, hf_svc_reason, 1, &it);
    msgr_check_range(c, it, rs, 0, MP_R_MAX, "reason");
    cur_reserved(c, 2);
    cur_uint(c, hf_svc_node, 4, NULL);
    cur_uint(c, hf_svc_path, 4, NULL);
    cur_uint(c, hf_svc_device, 4, NULL);
    guint32 nlen = cur_uint(c, hf_svc_name_len, 1, &it);
    if (c->short_body)
        return;
    if (nlen > MP_MAX_NAME)
        expert_add_info_format(c->pinfo, it, &ei_msgr_name, "name_len %u exceeds %u", nlen, MP_MAX_NAME);
    cur_name(c, hf_svc_name, nlen, FALSE, TRUE, NULL);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " %s", val_to_str_const(st, msgr_status_vals, "?"));
    msgr_trailing(c, "name");
    if (m->has_chan && m->chan >= MP_CHAN_FIRST_PATH)
        msgr_path_event(p, c->tvb, tree, m->type, m->chan, 0, 0, NULL);
}

static void msgr_body_mgmt(msgr_pkt *p, proto_tree *tree, msgr_cur *c, const msgr_msg *m)
{
    proto_item *cnt_it, *plen_it;
    cur_uint(c, hf_mgmt_corr_id, 4, NULL);
    cur_uint(c, hf_mgmt_epoch, 4, NULL);
    cur_uint(c, hf_mgmt_src_entity, 4, NULL);
    cur_uint(c, hf_mgmt_dst_entity, 4, NULL);
    guint32 count = cur_uint(c, hf_mgmt_uop_count, 1, &cnt_it);
    cur_flags(c, hf_mgmt_gflags, 1, msgr_gflags_bits, MP_GFLAGS_DEFINED);
    cur_reserved(c, 2);
    guint32 plen = cur_uint(c, hf_mgmt_payload_len, 4, &plen_it);
    if (c->short_body)
        return;
    if (count > MP_MAX_UOPS)
        expert_add_info_format(c->pinfo, cnt_it, &ei_msgr_range, "uop_count %u exceeds %u", count, MP_MAX_UOPS);
    if ((guint64)count * 4u + plen != (guint64)cur_left(c))
        expert_add_info_format(c->pinfo, plen_it, &ei_msgr_count,
                               "uop_count %u and payload_len %u need %" PRIu64 " bytes, %d present", count, plen,
                               (guint64)count * 4u + plen, cur_left(c));
    for (guint i = 0; i < count && cur_left(c) >= 4; i++) {
        guint16 op = tvb_get_ntohs(c->tvb, c->off);
        guint16 arg = tvb_get_ntohs(c->tvb, c->off + 2);
        const char *opname = op >= MP_UOP_PRIVATE_FIRST ? "private" : val_to_str_const(op, msgr_uop_vals, "unassigned");
        proto_tree *ut = proto_tree_add_subtree_format(c->tree, c->tvb, c->off, 4, ett_msgr_uop, NULL,
                                                       "Microoperation %u: %s (0x%04x), arg %u", i + 1, opname, op, arg);
        proto_tree_add_item(ut, hf_mgmt_uop_opcode, c->tvb, c->off, 2, ENC_BIG_ENDIAN);
        proto_tree_add_item(ut, hf_mgmt_uop_arg, c->tvb, c->off + 2, 2, ENC_BIG_ENDIAN);
        col_append_fstr(c->pinfo->cinfo, COL_INFO, "%s%s", i == 0 ? " " : ",", opname);
        c->off += 4;
    }
    if (cur_left(c) > 0) {
        proto_tree_add_item(c->tree, hf_mgmt_payload, c->tvb, c->off, cur_left(c), ENC_NA);
        c->off = c->end;
    }
    if (m->has_chan && m->chan >= MP_CHAN_FIRST_PATH)
        msgr_path_event(p, c->tvb, tree, m->type, m->chan, 0, 0, NULL);
}

static void msgr_body_secured(msgr_cur *c)
{
    guint32 kid = cur_uint(c, hf_sec_key_id, 1, NULL);
    cur_reserved(c, 1);
    cur_reserved(c, 2);
    guint64 ctr = cur_uint64(c, hf_sec_counter);
    if (c->short_body)
        return;
    int clen = cur_left(c) - (int)MP_SECURED_TAG_LEN;
    if (clen < (int)MP_COMMON_HDR_LEN) {
        expert_add_info_format(c->pinfo, c->item, &ei_msgr_length,
                               "SECURED needs at least %u bytes of ciphertext and a %u-byte tag", MP_COMMON_HDR_LEN,
                               MP_SECURED_TAG_LEN);
        return;
    }
    proto_item *it = proto_tree_add_uint(c->tree, hf_sec_ciphertext_len, c->tvb, c->off, 0, (guint32)clen);
    proto_item_set_generated(it);
    cur_bytes(c, hf_sec_ciphertext, clen);
    cur_bytes(c, hf_sec_tag, (int)MP_SECURED_TAG_LEN);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " key_id=%u counter=%" PRIu64 " (%d bytes encrypted)", kid, ctr, clen);
}

static void msgr_body_key_exchange(msgr_cur *c)
{
    proto_item *it;
    guint32 ph = cur_uint(c, hf_kx_phase, 1, &it);
    msgr_check_range(c, it, ph, MP_KX_INIT, MP_KX_CONFIRM, "phase");
    cur_uint(c, hf_kx_key_id, 1, NULL);
    guint32 suite = cur_uint(c, hf_kx_suite, 2, &it);
    msgr_check_range(c, it, suite, MP_SUITE_AES256GCM, MP_SUITE_CHACHA20POLY1305, "suite");
    guint32 node = cur_uint(c, hf_kx_node_id, 4, &it);
    msgr_check_node_id(c, it, node, "node_id");
    cur_uint(c, hf_kx_exchange_id, 4, NULL);
    cur_bytes(c, hf_kx_public_key, 32);
    cur_bytes(c, hf_kx_random, 16);
    cur_bytes(c, hf_kx_mac, 32);
    col_append_fstr(c->pinfo->cinfo, COL_INFO, " %s", val_to_str_const(ph, msgr_kx_phase_vals, "?"));
    msgr_trailing(c, "key exchange");
}

/* Decode the body of message type m->type occupying [off, end) of tvb. */
static void msgr_dissect_body(msgr_pkt *p, tvbuff_t *tvb, proto_tree *tree, proto_item *ti, int off, int end,
                              const msgr_msg *m)
{
    msgr_cur c;
    cur_init(&c, tvb, p->pinfo, tree, ti, off, end);
    switch (m->type) {
    case MP_T_DISCOVER: msgr_body_discover(&c); break;
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE: msgr_body_link(p, &c); break;
    case MP_T_LINK_STATE: msgr_body_link_state(p, &c); break;
    case MP_T_DATA:
        proto_tree_add_item(tree, hf_data_payload, tvb, off, end - off, ENC_NA);
        col_append_fstr(p->pinfo->cinfo, COL_INFO, " %d bytes", end - off);
        if (m->has_chan && m->chan >= MP_CHAN_FIRST_PATH)
            msgr_path_event(p, tvb, tree, m->type, m->chan, 0, 0, NULL);
        c.off = end;
        break;
    case MP_T_FRAGMENT: msgr_body_fragment(p, &c, m); break;
    case MP_T_BUNDLE: msgr_body_bundle(p, &c); break;
    case MP_T_MINET: msgr_body_minet(&c); break;
    case MP_T_NAME_PUBLISH: msgr_body_publish(&c); break;
    case MP_T_NAME_WITHDRAW: msgr_body_withdraw(&c); break;
    case MP_T_NAME_SYNC: msgr_body_sync(&c); break;
    case MP_T_PATH_OPEN: msgr_body_path_open(p, tree, &c, m); break;
    case MP_T_PATH_ACCEPT:
    case MP_T_PATH_CLOSE:
    case MP_T_PATH_ABORT:
    case MP_T_PATH_CREDIT: msgr_body_path_fixed(p, tree, &c, m); break;
    case MP_T_SERVICE_STATUS: msgr_body_service_status(p, tree, &c, m); break;
    case MP_T_MGMT: msgr_body_mgmt(p, tree, &c, m); break;
    case MP_T_SECURED: msgr_body_secured(&c); break;
    case MP_T_KEY_EXCHANGE: msgr_body_key_exchange(&c); break;
    default:
        if (end > off)
            proto_tree_add_item(tree, hf_msgr_body, tvb, off, end - off, ENC_NA);
        return;
    }
}

/* ---- Frame --------------------------------------------------------------------------------- */

static int *const msgr_hdr_flag_bits[] = {&hf_msgr_flags_ackreq, NULL};

/* Link state for the current packet: USER0 by (bearer, index), else by conversation. */
static msgr_link *msgr_link_new(void)
{
    msgr_link *l = wmem_new0(wmem_file_scope(), msgr_link);
    l->paths = wmem_map_new(wmem_file_scope(), g_int64_hash, g_int64_equal);
    return l;
}

static void msgr_find_link(msgr_pkt *p, gboolean user0, guint user0_key, gboolean tx)
{
    packet_info *pinfo = p->pinfo;
    if (user0) {
        msgr_link *l = (msgr_link *)wmem_map_lookup(msgr_user0_links, GUINT_TO_POINTER(user0_key));
        if (!l) {
            l = msgr_link_new();
            wmem_map_insert(msgr_user0_links, GUINT_TO_POINTER(user0_key), l);
        }
        p->link = l;
        p->dir = tx ? 0 : 1;
        return;
    }
    if (pinfo->src.type == AT_NONE && pinfo->dst.type == AT_NONE) {
        p->link = NULL;
        return;
    }
    conversation_t *conv = find_or_create_conversation(pinfo);
    msgr_link *l = (msgr_link *)conversation_get_proto_data(conv, proto_msgr);
    if (!l) {
        l = msgr_link_new();
        conversation_add_proto_data(conv, proto_msgr, l);
    }
    p->link = l;
    int cmp = cmp_address(&pinfo->src, &pinfo->dst);
    if (cmp == 0)
        cmp = pinfo->srcport < pinfo->destport ? -1 : (pinfo->srcport > pinfo->destport);
    p->dir = cmp > 0;
}

/*
 * Dissect one frame at the start of tvb (which may carry padding after `length`).
 * Returns the bytes consumed (length, clipped to what is present).
 */
static int msgr_dissect_frame(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, msgr_pkt *p)
{
    guint flen;
    msgr_hdr_verdict verdict = msgr_validate_header(tvb, 0, &flen);
    gint captured = tvb_captured_length(tvb);

    col_set_str(pinfo->cinfo, COL_PROTOCOL, "MSGR");
    col_clear(pinfo->cinfo, COL_INFO);

    proto_item *ti = proto_tree_add_item(tree, proto_msgr, tvb, 0, -1, ENC_NA);
    proto_tree *mt = proto_item_add_subtree(ti, ett_msgr);

    if (verdict == MSGR_HDR_SHORT) {
        col_set_str(pinfo->cinfo, COL_INFO, "Truncated Messenger frame");
        expert_add_info_format(pinfo, ti, &ei_msgr_truncated, "Frame of %d bytes is shorter than the %u-byte header",
                               captured, MP_COMMON_HDR_LEN);
        if (captured > 0)
            proto_tree_add_item(mt, hf_msgr_body, tvb, 0, captured, ENC_NA);
        return captured;
    }

    guint8 b0 = tvb_get_guint8(tvb, 0);
    guint8 type = tvb_get_guint8(tvb, 1);
    proto_item *vi = proto_tree_add_item(mt, hf_msgr_version, tvb, 0, 1, ENC_BIG_ENDIAN);
    proto_tree_add_bitmask(mt, tvb, 0, hf_msgr_flags, ett_msgr_flags, msgr_hdr_flag_bits, ENC_BIG_ENDIAN);
    proto_item *tyi = proto_tree_add_item(mt, hf_msgr_type, tvb, 1, 1, ENC_BIG_ENDIAN);
    proto_item *li = proto_tree_add_item(mt, hf_msgr_length, tvb, 2, 2, ENC_BIG_ENDIAN);
    col_add_str(pinfo->cinfo, COL_INFO, msgr_type_known(type) ? msgr_type_str(type) : "Unknown type");
    proto_item_append_text(ti, ", %s", msgr_type_known(type) ? msgr_type_str(type) : "Unknown type");

    if (verdict == MSGR_HDR_VERSION) {
        expert_add_info_format(pinfo, vi, &ei_msgr_version, "Version %u is not supported (expected %u)", b0 >> 4,
                               MP_VERSION);
        if (captured > (gint)MP_COMMON_HDR_LEN)
            proto_tree_add_item(mt, hf_msgr_body, tvb, 4, captured - 4, ENC_NA);
        return captured;
    }

    gboolean seqd = msgr_type_sequenced(type);
    guint hlen = seqd ? MP_SEQ_HDR_LEN : MP_COMMON_HDR_LEN;
    /* The end of this frame's bytes as far as they are present. */
    gint end = (gint)MIN(flen, (guint)captured);
    if (flen < hlen) {
        expert_add_info_format(pinfo, li, &ei_msgr_length, "Length %u is shorter than the %u-byte header", flen, hlen);
        end = MIN((gint)hlen, captured);
    }

    switch (verdict) {
    case MSGR_HDR_TYPE:
        if (type >= 0x80)
            expert_add_info_format(pinfo, tyi, &ei_msgr_type_private, "Private/experimental type 0x%02x", type);
        else
            expert_add_info_format(pinfo, tyi, &ei_msgr_type_unknown, "Unknown message type 0x%02x", type);
        break;
    case MSGR_HDR_LENGTH:
        if (flen >= hlen) {
            guint fixed = msgr_fixed_len(type);
            if (fixed)
                expert_add_info_format(pinfo, li, &ei_msgr_length, "Length %u, %s is exactly %u bytes", flen,
                                       msgr_type_str(type), fixed);
            else
                expert_add_info_format(pinfo, li, &ei_msgr_length, "Length %u below the minimum %u for %s", flen,
                                       msgr_min_len(type), msgr_type_str(type));
        }
        break;
    case MSGR_HDR_TRUNC:
        expert_add_info_format(pinfo, li, &ei_msgr_truncated, "Length %u but only %d bytes present", flen, captured);
        break;
    default:
        break;
    }

    msgr_msg m = {type, 0, 0, FALSE};
    proto_item *seq_item = NULL;
    if (seqd) {
        if (end < (gint)MP_SEQ_HDR_LEN) {
            expert_add_info_format(pinfo, ti, &ei_msgr_truncated, "Sequenced header truncated (%d of %u bytes)",
                                   end, MP_SEQ_HDR_LEN);
            if (end > 4)
                proto_tree_add_item(mt, hf_msgr_body, tvb, 4, end - 4, ENC_NA);
            return end;
        }
        guint32 seq, ack;
        seq_item = proto_tree_add_item_ret_uint(mt, hf_msgr_seq, tvb, 4, 2, ENC_BIG_ENDIAN, &seq);
        proto_tree_add_item_ret_uint(mt, hf_msgr_ack, tvb, 6, 2, ENC_BIG_ENDIAN, &ack);
        proto_item *ci = proto_tree_add_item_ret_uint(mt, hf_msgr_chan, tvb, 8, 4, ENC_BIG_ENDIAN, &m.chan);
        proto_tree_add_item_ret_uint(mt, hf_msgr_cseq, tvb, 12, 4, ENC_BIG_ENDIAN, &m.cseq);
        m.has_chan = TRUE;
        col_append_fstr(pinfo->cinfo, COL_INFO, " seq=%u ack=%u chan=0x%x cseq=%u", seq, ack, m.chan, m.cseq);
        if (b0 & MP_FLAG_ACKREQ)
            col_append_str(pinfo->cinfo, COL_INFO, " ACKREQ");
        if (msgr_type_known(type))
            msgr_check_channel(pinfo, ci, type, m.chan, m.cseq);
        if (p->link && msgr_analyze_seq) {
            if (!PINFO_FD_VISITED(pinfo))
                msgr_seq_track(p, (guint16)seq, (guint16)ack);
        }
    }
    /* Flag bits other than ACKREQ are sent zero but ignored by receivers: not an error. */
    if (p->link && msgr_analyze_seq)
        msgr_seq_show(p, tvb, mt, seq_item ? seq_item : tyi);

    if (verdict == MSGR_HDR_OK || verdict == MSGR_HDR_LENGTH || verdict == MSGR_HDR_TRUNC) {
        if (msgr_type_known(type))
            msgr_dissect_body(p, tvb, mt, ti, (int)hlen, end, &m);
    } else if (end > (gint)hlen) {
        proto_tree_add_item(mt, hf_msgr_body, tvb, (int)hlen, end - (int)hlen, ENC_NA);
    }
    proto_item_set_len(ti, end);
    return end;
}

/* Ethernet and UDP: frame, then padding up to the bearer's minimum. */
static int dissect_msgr(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    msgr_pkt p = {pinfo, NULL, 0, 0, 0};
    msgr_find_link(&p, FALSE, 0, FALSE);
    int used = msgr_dissect_frame(tvb, pinfo, tree, &p);
    gint rest = tvb_captured_length_remaining(tvb, used);
    if (rest > 0) {
        proto_item *pi = proto_tree_add_item(tree, hf_msgr_padding, tvb, used, rest, ENC_NA);
        /* Padding is legal after a frame; only call it out when it is not zeros. */
        for (gint i = 0; i < rest; i++) {
            if (tvb_get_guint8(tvb, used + i) != 0) {
                expert_add_info(pinfo, pi, &ei_msgr_padding);
                break;
            }
        }
    }
    return tvb_captured_length(tvb);
}

/* UDP on any port: accept only a datagram that is exactly one well-formed frame. */
static gboolean dissect_msgr_heur_udp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    guint flen;
    if (msgr_validate_header(tvb, 0, &flen) != MSGR_HDR_OK)
        return FALSE;
    if (flen != tvb_reported_length(tvb) || flen != tvb_captured_length(tvb))
        return FALSE;
    guint8 b0 = tvb_get_guint8(tvb, 0);
    guint8 type = tvb_get_guint8(tvb, 1);
    if ((b0 & MP_FLAGS_MASK & ~(msgr_type_sequenced(type) ? MP_FLAG_ACKREQ : 0u)) != 0)
        return FALSE;
    if (msgr_type_sequenced(type)) {
        guint32 chan = tvb_get_ntohl(tvb, 8);
        if (chan > MP_CHAN_MINET && chan < MP_CHAN_FIRST_PATH)
            return FALSE;
    }
    conversation_t *conv = find_or_create_conversation(pinfo);
    conversation_set_dissector(conv, msgr_handle);
    dissect_msgr(tvb, pinfo, tree, data);
    return TRUE;
}

static int *const msgr_cflags_bits[] = {&hf_cap_cflags_tx, &hf_cap_cflags_fcs, NULL};

/* LINKTYPE_USER0: 8-byte pseudo-header, frame, optional CRC-32C. */
static int dissect_msgr_user0(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    gint captured = tvb_captured_length(tvb);
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "MSGR");
    proto_item *hi;
    proto_tree *ht = proto_tree_add_subtree(tree, tvb, 0, MIN(captured, (gint)MP_CAPHDR_LEN), ett_msgr_caphdr, &hi,
                                            "Messenger capture pseudo-header");
    if (captured < (gint)MP_CAPHDR_LEN) {
        expert_add_info_format(pinfo, hi, &ei_msgr_caphdr, "Capture pseudo-header truncated (%d of %u bytes)",
                               captured, MP_CAPHDR_LEN);
        col_set_str(pinfo->cinfo, COL_INFO, "Truncated capture pseudo-header");
        return captured;
    }
    guint32 v;
    proto_item *it = proto_tree_add_item_ret_uint(ht, hf_cap_magic, tvb, 0, 1, ENC_BIG_ENDIAN, &v);
    if (v != MP_CAPHDR_MAGIC)
        expert_add_info_format(pinfo, it, &ei_msgr_caphdr, "Bad magic 0x%02x (expected 0x%02x 'M')", v, MP_CAPHDR_MAGIC);
    it = proto_tree_add_item_ret_uint(ht, hf_cap_version, tvb, 1, 1, ENC_BIG_ENDIAN, &v);
    if (v != MP_CAPHDR_VERSION)
        expert_add_info_format(pinfo, it, &ei_msgr_caphdr, "Pseudo-header version %u (expected %u)", v,
                               MP_CAPHDR_VERSION);
    guint32 bearer, idx;
    guint64 cflags;
    it = proto_tree_add_item_ret_uint(ht, hf_cap_bearer, tvb, 2, 1, ENC_BIG_ENDIAN, &bearer);
    if (!try_val_to_str(bearer, msgr_bearer_vals))
        expert_add_info_format(pinfo, it, &ei_msgr_caphdr, "Unknown bearer type %u", bearer);
    it = proto_tree_add_bitmask_ret_uint64(ht, tvb, 3, hf_cap_cflags, ett_msgr_cflags, msgr_cflags_bits, ENC_BIG_ENDIAN,
                                           &cflags);
    if (cflags & ~(guint64)MP_CAPF_DEFINED)
        expert_add_info_format(pinfo, it, &ei_msgr_reserved, "Undefined capture flag bits 0x%02x",
                               (guint)(cflags & ~(guint64)MP_CAPF_DEFINED));
    proto_tree_add_item_ret_uint(ht, hf_cap_bearer_index, tvb, 4, 2, ENC_BIG_ENDIAN, &idx);
    it = proto_tree_add_item_ret_uint(ht, hf_cap_reserved, tvb, 6, 2, ENC_BIG_ENDIAN, &v);
    if (v != 0)
        expert_add_info(pinfo, it, &ei_msgr_reserved);
    proto_item_append_text(hi, ": %s %u, %s", val_to_str_const(bearer, msgr_bearer_vals, "?"), idx,
                           (cflags & MP_CAPF_TX) ? "TX" : "RX");
    pinfo->p2p_dir = (cflags & MP_CAPF_TX) ? P2P_DIR_SENT : P2P_DIR_RECV;
    /* No addresses in these captures: name the two ends of the captured link. */
    static const char local_name[] = "local";
    static const char peer_name[] = "peer";
    set_address(&pinfo->src, AT_STRINGZ, (int)sizeof(local_name), local_name);
    set_address(&pinfo->dst, AT_STRINGZ, (int)sizeof(peer_name), peer_name);
    if (!(cflags & MP_CAPF_TX)) {
        set_address(&pinfo->src, AT_STRINGZ, (int)sizeof(peer_name), peer_name);
        set_address(&pinfo->dst, AT_STRINGZ, (int)sizeof(local_name), local_name);
    }

    gint flen = captured - (gint)MP_CAPHDR_LEN;
    gboolean fcs = (cflags & MP_CAPF_FCS) != 0;
    if (fcs) {
        if (flen < (gint)MP_SERIAL_CRC_LEN) {
            expert_add_info_format(pinfo, hi, &ei_msgr_caphdr, "FCS flag set but only %d bytes follow", flen);
            fcs = FALSE;
        } else {
            flen -= (gint)MP_SERIAL_CRC_LEN;
        }
    }
    msgr_pkt p = {pinfo, NULL, 0, 0, 0};
    msgr_find_link(&p, TRUE, (bearer << 16) | idx, (cflags & MP_CAPF_TX) != 0);
    tvbuff_t *ftvb = tvb_new_subset_length(tvb, MP_CAPHDR_LEN, flen);
    int used = msgr_dissect_frame(ftvb, pinfo, tree, &p);
    if (used < flen) {
        /* Serial and PCIe deliver exact frames: extra bytes are an error, not padding. */
        proto_item *pi = proto_tree_add_item(tree, hf_msgr_padding, tvb, (int)MP_CAPHDR_LEN + used, flen - used, ENC_NA);
        expert_add_info_format(pinfo, pi, &ei_msgr_length, "%d bytes after the frame's length", flen - used);
    }
    if (fcs) {
        guint32 crc = msgr_crc32c(tvb, MP_CAPHDR_LEN, flen);
        proto_tree_add_checksum(tree, tvb, (int)MP_CAPHDR_LEN + flen, hf_cap_fcs, hf_cap_fcs_status, &ei_msgr_fcs,
                                pinfo, crc, ENC_BIG_ENDIAN, PROTO_CHECKSUM_VERIFY);
    }
    return captured;
}

/* ---- Registration ----------------------------------------------------------------------------------- */

void proto_register_messenger(void)
{
    static hf_register_info hf[] = {
        /* Header */
        {&hf_msgr_version, {"Version", "msgr.version", FT_UINT8, BASE_DEC, NULL, 0xF0, NULL, HFILL}},
        {&hf_msgr_flags, {"Flags", "msgr.flags", FT_UINT8, BASE_HEX, NULL, 0x0F, NULL, HFILL}},
        {&hf_msgr_flags_ackreq, {"ACKREQ", "msgr.flags.ackreq", FT_BOOLEAN, 8, TFS(&tfs_set_notset), MP_FLAG_ACKREQ,
                                 "Peer asks for an immediate LINK_STATE", HFILL}},
        {&hf_msgr_type, {"Type", "msgr.type", FT_UINT8, BASE_HEX, VALS(msgr_type_vals), 0x0, NULL, HFILL}},
        {&hf_msgr_length, {"Length", "msgr.length", FT_UINT16, BASE_DEC, NULL, 0x0, "Frame length including header", HFILL}},
        {&hf_msgr_seq, {"Link sequence", "msgr.seq", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_msgr_ack, {"Link ack", "msgr.ack", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_msgr_chan, {"Channel", "msgr.chan", FT_UINT32, BASE_CUSTOM, CF_FUNC(msgr_fmt_chan), 0x0, NULL, HFILL}},
        {&hf_msgr_cseq, {"Channel sequence", "msgr.cseq", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_msgr_padding, {"Padding", "msgr.padding", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_msgr_body, {"Undecoded bytes", "msgr.body", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_msgr_reserved, {"Reserved", "msgr.reserved", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* Capture pseudo-header */
        {&hf_cap_magic, {"Magic", "msgr.cap.magic", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_cap_version, {"Version", "msgr.cap.version", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_cap_bearer, {"Bearer", "msgr.cap.bearer", FT_UINT8, BASE_DEC, VALS(msgr_bearer_vals), 0x0, NULL, HFILL}},
        {&hf_cap_cflags, {"Capture flags", "msgr.cap.cflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_cap_cflags_tx, {"Direction", "msgr.cap.cflags.tx", FT_BOOLEAN, 8, TFS(&msgr_tfs_tx_rx), MP_CAPF_TX, NULL, HFILL}},
        {&hf_cap_cflags_fcs, {"FCS present", "msgr.cap.cflags.fcs", FT_BOOLEAN, 8, TFS(&tfs_yes_no), MP_CAPF_FCS, NULL, HFILL}},
        {&hf_cap_bearer_index, {"Bearer index", "msgr.cap.bearer_index", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_cap_reserved, {"Reserved", "msgr.cap.reserved", FT_UINT16, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_cap_fcs, {"FCS (CRC-32C)", "msgr.cap.fcs", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_cap_fcs_status, {"FCS status", "msgr.cap.fcs.status", FT_UINT8, BASE_NONE, VALS(proto_checksum_vals), 0x0, NULL, HFILL}},

        /* Options */
        {&hf_opt_type, {"Option type", "msgr.opt.type", FT_UINT8, BASE_HEX, VALS(msgr_opt_vals), 0x0, NULL, HFILL}},
        {&hf_opt_critical, {"Critical", "msgr.opt.critical", FT_BOOLEAN, 8, TFS(&tfs_yes_no), MP_OPT_CRITICAL, NULL, HFILL}},
        {&hf_opt_len, {"Option length", "msgr.opt.len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_value, {"Option value", "msgr.opt.value", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_node_name, {"Node name", "msgr.opt.node_name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_bearer_name, {"Bearer name", "msgr.opt.bearer_name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_caps, {"Capabilities", "msgr.opt.caps", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_caps_secure, {"SECURE", "msgr.opt.caps.secure", FT_BOOLEAN, 32, NULL, MP_CAP_SECURE, NULL, HFILL}},
        {&hf_opt_caps_bundle, {"BUNDLE", "msgr.opt.caps.bundle", FT_BOOLEAN, 32, NULL, MP_CAP_BUNDLE, NULL, HFILL}},
        {&hf_opt_caps_fragment, {"FRAGMENT", "msgr.opt.caps.fragment", FT_BOOLEAN, 32, NULL, MP_CAP_FRAGMENT, NULL, HFILL}},
        {&hf_opt_caps_minet, {"MINET", "msgr.opt.caps.minet", FT_BOOLEAN, 32, NULL, MP_CAP_MINET, NULL, HFILL}},
        {&hf_opt_caps_mgmt, {"MGMT", "msgr.opt.caps.mgmt", FT_BOOLEAN, 32, NULL, MP_CAP_MGMT, NULL, HFILL}},
        {&hf_opt_max_message, {"Maximum message", "msgr.opt.max_message", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_probe_interval, {"Probe interval (ms)", "msgr.opt.probe_interval", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_minet_mac, {"MINET MAC", "msgr.opt.minet_mac", FT_ETHER, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_opt_ack_session, {"Acknowledged session", "msgr.opt.ack_session", FT_UINT16, BASE_HEX, NULL, 0x0,
                               "The receiver's session that this LINK_ACTIVATE answers", HFILL}},
        {&hf_opt_peer_epoch, {"Peer loss epoch", "msgr.opt.peer_epoch", FT_UINT32, BASE_DEC, NULL, 0x0,
                              "The sender's loss epoch for the receiver: a later one means the sender declared it lost", HFILL}},
        {&hf_opt_security, {"Security policy", "msgr.opt.security", FT_UINT8, BASE_DEC, VALS(msgr_sec_policy_vals), 0x0, NULL, HFILL}},

        /* DISCOVER */
        {&hf_disc_node_id, {"Node id", "msgr.discover.node_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_disc_domain, {"Domain", "msgr.discover.domain", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_disc_max_version, {"Max version", "msgr.discover.max_version", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_disc_dflags, {"Discovery flags", "msgr.discover.dflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_disc_dflags_reply, {"REPLY", "msgr.discover.dflags.reply", FT_BOOLEAN, 8, NULL, MP_DFLAG_REPLY, NULL, HFILL}},
        {&hf_disc_dflags_secure, {"SECURE", "msgr.discover.dflags.secure", FT_BOOLEAN, 8, NULL, MP_DFLAG_SECURE, NULL, HFILL}},
        {&hf_disc_mtu, {"MTU", "msgr.discover.mtu", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_disc_incarnation, {"Incarnation", "msgr.discover.incarnation", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},

        /* LINK_RESET / LINK_ACTIVATE */
        {&hf_link_node_id, {"Node id", "msgr.link.node_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_link_peer_id, {"Peer id", "msgr.link.peer_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_link_incarnation, {"Incarnation", "msgr.link.incarnation", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_link_session, {"Session", "msgr.link.session", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_link_next_seq, {"Next seq", "msgr.link.next_seq", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_link_tolerance, {"Tolerance (ms)", "msgr.link.tolerance_ms", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_link_window, {"Window", "msgr.link.window", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_link_mtu, {"MTU", "msgr.link.mtu", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_link_priority, {"Priority", "msgr.link.priority", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_link_lflags, {"Link flags", "msgr.link.lflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_link_lflags_standby, {"STANDBY", "msgr.link.lflags.standby", FT_BOOLEAN, 8, NULL, MP_LFLAG_STANDBY, NULL, HFILL}},

        /* LINK_STATE */
        {&hf_state_session, {"Session", "msgr.link_state.session", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_ack, {"Ack", "msgr.link_state.ack", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_next_seq, {"Next seq", "msgr.link_state.next_seq", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_sflags, {"State flags", "msgr.link_state.sflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_state_sflags_probe, {"PROBE", "msgr.link_state.sflags.probe", FT_BOOLEAN, 8, NULL, MP_SFLAG_PROBE, NULL, HFILL}},
        {&hf_state_sflags_reply, {"REPLY", "msgr.link_state.sflags.reply", FT_BOOLEAN, 8, NULL, MP_SFLAG_REPLY, NULL, HFILL}},
        {&hf_state_gap_count, {"Gap count", "msgr.link_state.gap_count", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_timestamp, {"Timestamp", "msgr.link_state.timestamp", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_echo, {"Echo", "msgr.link_state.echo", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_gap_start, {"Gap start", "msgr.link_state.gap.start", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_state_gap_end, {"Gap end", "msgr.link_state.gap.end", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},

        {&hf_data_payload, {"Payload", "msgr.data.payload", FT_BYTES, BASE_NONE|BASE_ALLOW_ZERO, NULL, 0x0, NULL, HFILL}},

        /* FRAGMENT */
        {&hf_frag_inner_type, {"Inner type", "msgr.fragment.inner_type", FT_UINT8, BASE_HEX, VALS(msgr_type_vals), 0x0, NULL, HFILL}},
        {&hf_frag_total_len, {"Total length", "msgr.fragment.total_len", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_frag_offset, {"Offset", "msgr.fragment.offset", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_frag_data, {"Fragment data", "msgr.fragment.data", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* BUNDLE */
        {&hf_bundle_count, {"Member count", "msgr.bundle.count", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_member_version, {"Version", "msgr.member.version", FT_UINT8, BASE_DEC, NULL, 0xF0, NULL, HFILL}},
        {&hf_member_flags, {"Flags", "msgr.member.flags", FT_UINT8, BASE_HEX, NULL, 0x0F, NULL, HFILL}},
        {&hf_member_type, {"Type", "msgr.member.type", FT_UINT8, BASE_HEX, VALS(msgr_type_vals), 0x0, NULL, HFILL}},
        {&hf_member_length, {"Length", "msgr.member.length", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_member_chan, {"Channel", "msgr.member.chan", FT_UINT32, BASE_CUSTOM, CF_FUNC(msgr_fmt_chan), 0x0, NULL, HFILL}},
        {&hf_member_cseq, {"Channel sequence", "msgr.member.cseq", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},

        /* MINET */
        {&hf_minet_mflags, {"MINET flags", "msgr.minet.mflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_mflags_offload, {"OFFLOAD", "msgr.minet.mflags.offload", FT_BOOLEAN, 8, NULL, MP_MFLAG_OFFLOAD, NULL, HFILL}},
        {&hf_minet_mflags_flood, {"FLOOD", "msgr.minet.mflags.flood", FT_BOOLEAN, 8, NULL, MP_MFLAG_FLOOD, NULL, HFILL}},
        {&hf_minet_mflags_needs_csum, {"NEEDS_CSUM", "msgr.minet.mflags.needs_csum", FT_BOOLEAN, 8, NULL, MP_MFLAG_NEEDS_CSUM, NULL, HFILL}},
        {&hf_minet_gso_type, {"GSO type", "msgr.minet.gso_type", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_gso_proto, {"GSO", "msgr.minet.gso_type.proto", FT_UINT8, BASE_DEC, VALS(msgr_gso_vals), 0x7F, NULL, HFILL}},
        {&hf_minet_gso_ecn, {"ECN", "msgr.minet.gso_type.ecn", FT_BOOLEAN, 8, NULL, MP_GSO_ECN, NULL, HFILL}},
        {&hf_minet_hdr_len, {"Header length", "msgr.minet.hdr_len", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_gso_size, {"GSO size", "msgr.minet.gso_size", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_csum_start, {"Checksum start", "msgr.minet.csum_start", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_csum_offset, {"Checksum offset", "msgr.minet.csum_offset", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_domain, {"MINET domain", "msgr.minet.domain", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_minet_eth, {"Ethernet frame", "msgr.minet.eth", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* Name record */
        {&hf_name_device_id, {"Device id", "msgr.name.device_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_name_dtype, {"Device type", "msgr.name.dtype", FT_UINT16, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_name_nflags, {"Name flags", "msgr.name.nflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_name_nflags_exclusive, {"EXCLUSIVE", "msgr.name.nflags.exclusive", FT_BOOLEAN, 8, NULL, MP_NFLAG_EXCLUSIVE, NULL, HFILL}},
        {&hf_name_rank, {"Rank", "msgr.name.rank", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_name_generation, {"Generation", "msgr.name.generation", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_name_name_len, {"Name length", "msgr.name.name_len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_name_name, {"Name", "msgr.name.name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_name_prop_count, {"Property count", "msgr.name.prop_count", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_prop_key_len, {"Key length", "msgr.name.prop.key_len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_prop_key, {"Key", "msgr.name.prop.key", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_prop_val_len, {"Value length", "msgr.name.prop.val_len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_prop_value, {"Value", "msgr.name.prop.value", FT_BYTES, BASE_NONE|BASE_ALLOW_ZERO, NULL, 0x0, NULL, HFILL}},

        /* NAME_WITHDRAW */
        {&hf_wd_device_id, {"Device id", "msgr.name_withdraw.device_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_wd_generation, {"Generation", "msgr.name_withdraw.generation", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_wd_name_len, {"Name length", "msgr.name_withdraw.name_len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_wd_name, {"Name", "msgr.name_withdraw.name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* NAME_SYNC */
        {&hf_sync_yflags, {"Sync flags", "msgr.name_sync.yflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_sync_yflags_first, {"FIRST", "msgr.name_sync.yflags.first", FT_BOOLEAN, 8, NULL, MP_YFLAG_FIRST, NULL, HFILL}},
        {&hf_sync_yflags_last, {"LAST", "msgr.name_sync.yflags.last", FT_BOOLEAN, 8, NULL, MP_YFLAG_LAST, NULL, HFILL}},
        {&hf_sync_count, {"Record count", "msgr.name_sync.count", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_sync_rec_len, {"Record length", "msgr.name_sync.rec_len", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},

        /* PATH_OPEN */
        {&hf_popen_src_path, {"Source path", "msgr.path_open.src_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_popen_src_device, {"Source device", "msgr.path_open.src_device", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_popen_dst_device, {"Destination device", "msgr.path_open.dst_device", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_popen_credit, {"Credit", "msgr.path_open.credit", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_popen_pkind, {"Path kind", "msgr.path_open.pkind", FT_UINT8, BASE_DEC, VALS(msgr_pkind_vals), 0x0, NULL, HFILL}},
        {&hf_popen_name_len, {"Name length", "msgr.path_open.name_len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_popen_name, {"Name", "msgr.path_open.name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* PATH_ACCEPT / CLOSE / ABORT / CREDIT */
        {&hf_paccept_dst_path, {"Destination path", "msgr.path_accept.dst_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_paccept_src_path, {"Source path", "msgr.path_accept.src_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_paccept_credit, {"Credit", "msgr.path_accept.credit", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_pclose_dst_path, {"Destination path", "msgr.path_close.dst_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_pclose_src_path, {"Source path", "msgr.path_close.src_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_pclose_last_cseq, {"Last cseq", "msgr.path_close.last_cseq", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_pclose_reason, {"Reason", "msgr.path_close.reason", FT_UINT8, BASE_DEC, VALS(msgr_reason_vals), 0x0, NULL, HFILL}},
        {&hf_pabort_dst_path, {"Destination path", "msgr.path_abort.dst_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_pabort_src_path, {"Source path", "msgr.path_abort.src_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_pabort_error, {"Error", "msgr.path_abort.error", FT_UINT16, BASE_DEC, VALS(msgr_reason_vals), 0x0, NULL, HFILL}},
        {&hf_pcredit_dst_path, {"Destination path", "msgr.path_credit.dst_path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_pcredit_limit, {"Limit", "msgr.path_credit.limit", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},

        /* SERVICE_STATUS */
        {&hf_svc_status, {"Status", "msgr.service_status.status", FT_UINT8, BASE_DEC, VALS(msgr_status_vals), 0x0, NULL, HFILL}},
        {&hf_svc_reason, {"Reason", "msgr.service_status.reason", FT_UINT8, BASE_DEC, VALS(msgr_reason_vals), 0x0, NULL, HFILL}},
        {&hf_svc_node, {"Node", "msgr.service_status.node", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_svc_path, {"Path", "msgr.service_status.path", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_svc_device, {"Device", "msgr.service_status.device", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_svc_name_len, {"Name length", "msgr.service_status.name_len", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_svc_name, {"Name", "msgr.service_status.name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* MGMT */
        {&hf_mgmt_corr_id, {"Correlation id", "msgr.mgmt.corr_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_epoch, {"Epoch", "msgr.mgmt.epoch", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_src_entity, {"Source entity", "msgr.mgmt.src_entity", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_dst_entity, {"Destination entity", "msgr.mgmt.dst_entity", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_uop_count, {"Microoperation count", "msgr.mgmt.uop_count", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_gflags, {"MGMT flags", "msgr.mgmt.gflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_gflags_reply, {"REPLY", "msgr.mgmt.gflags.reply", FT_BOOLEAN, 8, NULL, MP_GFLAG_REPLY, NULL, HFILL}},
        {&hf_mgmt_gflags_error, {"ERROR", "msgr.mgmt.gflags.error", FT_BOOLEAN, 8, NULL, MP_GFLAG_ERROR, NULL, HFILL}},
        {&hf_mgmt_payload_len, {"Payload length", "msgr.mgmt.payload_len", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_uop_opcode, {"Opcode", "msgr.mgmt.uop.opcode", FT_UINT16, BASE_HEX, VALS(msgr_uop_vals), 0x0, NULL, HFILL}},
        {&hf_mgmt_uop_arg, {"Argument", "msgr.mgmt.uop.arg", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_mgmt_payload, {"Payload", "msgr.mgmt.payload", FT_BYTES, BASE_NONE|BASE_ALLOW_ZERO, NULL, 0x0, NULL, HFILL}},

        /* SECURED */
        {&hf_sec_key_id, {"Key id", "msgr.secured.key_id", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_sec_counter, {"Counter", "msgr.secured.counter", FT_UINT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_sec_ciphertext, {"Ciphertext", "msgr.secured.ciphertext", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_sec_ciphertext_len, {"Ciphertext length", "msgr.secured.ciphertext_len", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_sec_tag, {"Tag", "msgr.secured.tag", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* KEY_EXCHANGE */
        {&hf_kx_phase, {"Phase", "msgr.key_exchange.phase", FT_UINT8, BASE_DEC, VALS(msgr_kx_phase_vals), 0x0, NULL, HFILL}},
        {&hf_kx_key_id, {"Key id", "msgr.key_exchange.key_id", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_kx_suite, {"Suite", "msgr.key_exchange.suite", FT_UINT16, BASE_DEC, VALS(msgr_suite_vals), 0x0, NULL, HFILL}},
        {&hf_kx_node_id, {"Node id", "msgr.key_exchange.node_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_kx_exchange_id, {"Exchange id", "msgr.key_exchange.exchange_id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_kx_public_key, {"Public key", "msgr.key_exchange.public_key", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_kx_random, {"Random", "msgr.key_exchange.random", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_kx_mac, {"MAC", "msgr.key_exchange.mac", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* Sequence analysis */
        {&hf_an, {"Sequence analysis", "msgr.analysis", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_an_retrans, {"Retransmission", "msgr.analysis.retransmission", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_an_dup, {"Duplicate", "msgr.analysis.duplicate", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_an_ooo, {"Out of order", "msgr.analysis.out_of_order", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_an_lost, {"Previous frame(s) not captured", "msgr.analysis.lost_segment", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_an_lost_count, {"Frames missing", "msgr.analysis.lost_count", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_an_orig_frame, {"Original frame", "msgr.analysis.original_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_an_reset, {"Link sequence restarted", "msgr.analysis.link_reset", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* Path tracking */
        {&hf_path, {"Path", "msgr.path", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_path_id, {"Opener's path id", "msgr.path.id", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_path_name, {"Opened for name", "msgr.path.name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_path_open_frame, {"Opened in", "msgr.path.open_frame", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0x0, NULL, HFILL}},
        {&hf_path_accept_frame, {"Accepted in", "msgr.path.accept_frame", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0x0, NULL, HFILL}},
        {&hf_path_close_frame, {"Closed in", "msgr.path.close_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_path_abort_frame, {"Aborted in", "msgr.path.abort_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_path_msgs_fwd, {"DATA messages opener -> acceptor", "msgr.path.messages_fwd", FT_UINT32, BASE_DEC, NULL,
                             0x0, "Complete in two-pass mode; retransmissions not counted", HFILL}},
        {&hf_path_msgs_back, {"DATA messages acceptor -> opener", "msgr.path.messages_back", FT_UINT32, BASE_DEC, NULL,
                              0x0, "Complete in two-pass mode; retransmissions not counted", HFILL}},
        {&hf_path_first_data, {"First DATA in", "msgr.path.first_data_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_path_last_data, {"Last DATA in", "msgr.path.last_data_frame", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},

        /* Reassembly */
        {&hf_reasm_fragments, {"Message fragments", "msgr.reasm.fragments", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment, {"Message fragment", "msgr.reasm.fragment", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment_overlap, {"Fragment overlap", "msgr.reasm.fragment.overlap", FT_BOOLEAN, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment_overlap_conflicts, {"Fragment overlapping with conflicting data", "msgr.reasm.fragment.overlap.conflicts", FT_BOOLEAN, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment_multiple_tails, {"Message has multiple tail fragments", "msgr.reasm.fragment.multiple_tails", FT_BOOLEAN, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment_too_long, {"Fragment too long", "msgr.reasm.fragment.too_long_fragment", FT_BOOLEAN, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment_error, {"Message defragmentation error", "msgr.reasm.fragment.error", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_fragment_count, {"Fragment count", "msgr.reasm.fragment.count", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_reassembled_in, {"Reassembled in", "msgr.reasm.reassembled_in", FT_FRAMENUM, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_reassembled_length, {"Reassembled length", "msgr.reasm.reassembled_length", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_reasm_reassembled_data, {"Reassembled data", "msgr.reasm.reassembled_data", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
    };

    static gint *ett[] = {
        &ett_msgr, &ett_msgr_flags, &ett_msgr_caphdr, &ett_msgr_cflags, &ett_msgr_body, &ett_msgr_bflags,
        &ett_msgr_opt, &ett_msgr_caps, &ett_msgr_gap, &ett_msgr_member, &ett_msgr_record, &ett_msgr_prop,
        &ett_msgr_uop, &ett_msgr_gso, &ett_msgr_analysis, &ett_msgr_path, &ett_msgr_fragment, &ett_msgr_fragments,
    };

    static ei_register_info ei[] = {
        {&ei_msgr_version, {"msgr.bad_version", PI_MALFORMED, PI_ERROR, "Unsupported version", EXPFILL}},
        {&ei_msgr_type_unknown, {"msgr.unknown_type", PI_MALFORMED, PI_ERROR, "Unknown message type", EXPFILL}},
        {&ei_msgr_type_private, {"msgr.private_type", PI_UNDECODED, PI_WARN, "Private/experimental message type (not decoded)", EXPFILL}},
        {&ei_msgr_type_not_allowed, {"msgr.type_not_allowed", PI_MALFORMED, PI_ERROR, "Message type not allowed here", EXPFILL}},
        {&ei_msgr_length, {"msgr.bad_length", PI_MALFORMED, PI_ERROR, "Length inconsistent with the message structure", EXPFILL}},
        {&ei_msgr_truncated, {"msgr.truncated", PI_MALFORMED, PI_ERROR, "Frame truncated", EXPFILL}},
        {&ei_msgr_reserved, {"msgr.reserved_nonzero", PI_PROTOCOL, PI_WARN, "Reserved field or undefined flag bit is not zero", EXPFILL}},
        {&ei_msgr_range, {"msgr.out_of_range", PI_PROTOCOL, PI_WARN, "Field value out of range", EXPFILL}},
        {&ei_msgr_name, {"msgr.bad_name", PI_PROTOCOL, PI_WARN, "Invalid logical-device name", EXPFILL}},
        {&ei_msgr_prop, {"msgr.bad_property", PI_PROTOCOL, PI_WARN, "Invalid property", EXPFILL}},
        {&ei_msgr_option, {"msgr.bad_option", PI_PROTOCOL, PI_WARN, "Option error", EXPFILL}},
        {&ei_msgr_option_unknown, {"msgr.unknown_option", PI_UNDECODED, PI_NOTE, "Unknown non-critical option", EXPFILL}},
        {&ei_msgr_channel, {"msgr.channel_rule", PI_PROTOCOL, PI_WARN, "Channel rule violated", EXPFILL}},
        {&ei_msgr_count, {"msgr.bad_count", PI_MALFORMED, PI_ERROR, "Count disagrees with the bytes present", EXPFILL}},
        {&ei_msgr_fcs, {"msgr.bad_fcs", PI_CHECKSUM, PI_ERROR, "Bad CRC-32C", EXPFILL}},
        {&ei_msgr_caphdr, {"msgr.bad_caphdr", PI_MALFORMED, PI_ERROR, "Bad capture pseudo-header", EXPFILL}},
        {&ei_msgr_padding, {"msgr.padding_nonzero", PI_PROTOCOL, PI_NOTE, "Padding after the frame is not zero", EXPFILL}},
        {&ei_msgr_inner_exception, {"msgr.inner_exception", PI_MALFORMED, PI_WARN, "Inner frame malformed", EXPFILL}},
        {&ei_msgr_an_retrans, {"msgr.analysis.retransmission.expert", PI_SEQUENCE, PI_NOTE, "Retransmission", EXPFILL}},
        {&ei_msgr_an_dup, {"msgr.analysis.duplicate.expert", PI_SEQUENCE, PI_NOTE, "Duplicate", EXPFILL}},
        {&ei_msgr_an_ooo, {"msgr.analysis.out_of_order.expert", PI_SEQUENCE, PI_WARN, "Out-of-order frame", EXPFILL}},
        {&ei_msgr_an_lost, {"msgr.analysis.lost_segment.expert", PI_SEQUENCE, PI_WARN, "Previous frame(s) not captured", EXPFILL}},
        {&ei_msgr_an_reset, {"msgr.analysis.link_reset.expert", PI_SEQUENCE, PI_CHAT, "Link sequence restarted (LINK_RESET/ACTIVATE)", EXPFILL}},
    };

    proto_msgr = proto_register_protocol("Messenger HA Cluster Protocol", "MSGR", "msgr");
    proto_register_field_array(proto_msgr, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_module_t *em = expert_register_protocol(proto_msgr);
    expert_register_field_array(em, ei, array_length(ei));

    module_t *mod = prefs_register_protocol(proto_msgr, NULL);
    prefs_register_bool_preference(mod, "defragment", "Reassemble fragmented messages",
                                   "Reassemble FRAGMENT series keyed by (source, chan, cseq) and decode the whole message",
                                   &msgr_defragment);
    prefs_register_bool_preference(mod, "analyze_sequence", "Analyze link sequence numbers",
                                   "Flag retransmissions, duplicates, out-of-order frames and gaps per link",
                                   &msgr_analyze_seq);

    msgr_handle = register_dissector("msgr", dissect_msgr, proto_msgr);
    msgr_user0_handle = register_dissector("msgr_user0", dissect_msgr_user0, proto_msgr);
    reassembly_table_register(&msgr_reassembly_table, &msgr_reassembly_functions);
    msgr_user0_links = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);
}

void proto_reg_handoff_messenger(void)
{
    dissector_add_uint("ethertype", MP_ETHERTYPE, msgr_handle);
    dissector_add_uint_with_preference("udp.port", MP_UDP_PORT, msgr_handle);
    heur_dissector_add("udp", dissect_msgr_heur_udp, "Messenger over UDP", "msgr_udp", proto_msgr, HEURISTIC_ENABLE);
    dissector_add_uint("wtap_encap", WTAP_ENCAP_USER0, msgr_user0_handle);
    eth_handle = find_dissector_add_dependency("eth_withoutfcs", proto_msgr);
}

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_messenger;
    plug.register_handoff = proto_reg_handoff_messenger;
    proto_register_plugin(&plug);
}
