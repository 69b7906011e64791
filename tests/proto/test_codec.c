/*
 * test_codec.c — frames: every body type round trip, the error paths of each, encoder
 * input validation, bundles, NAME_SYNC, bodies outside frames, sequence arithmetic.
 */
#include <stdlib.h>

#include "mp/mp.h"
#include "t.h"

static uint8_t g_buf[MP_MAX_FRAME + 64];
static const uint8_t g_bytes[] = "0123456789abcdefghijklmnopqrstuvwxyz";
#define BYTES(s) ((mp_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static const uint8_t k_model[] = "model", v_model[] = "X100", k_slot[] = "slot", v_slot[] = "3";

/* ---- Builders: one valid frame of each type ---------------------------------------- */

static mp_frame seqf(uint8_t type, uint32_t chan, uint32_t cseq)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr = (mp_hdr){.type = type, .seq = 0xFFFE, .ack = 0x0102, .chan = chan, .cseq = cseq};
    return f;
}

static mp_frame mk(uint8_t type)
{
    mp_frame f;
    memset(&f, 0, sizeof f);
    f.hdr.type = type;
    switch (type) {
    case MP_T_DISCOVER:
        f.u.discover = (mp_discover){.node_id = 7,
                                     .domain = 9,
                                     .max_version = 1,
                                     .dflags = MP_DFLAG_REPLY,
                                     .mtu = 1500,
                                     .incarnation = 0xDEADBEEF};
        f.u.discover.opts.n = 2;
        f.u.discover.opts.v[0] = (mp_opt){MP_OPT_NODE_NAME, 4, (const uint8_t *)"node"};
        f.u.discover.opts.v[1] = (mp_opt){0x42, 3, g_bytes}; /* unknown, not critical */
        break;
    case MP_T_LINK_RESET:
    case MP_T_LINK_ACTIVATE:
        f.u.link = (mp_link){.node_id = 1,
                             .peer_id = 2,
                             .incarnation = 3,
                             .session = 4,
                             .next_seq = 0xFFFF,
                             .tolerance_ms = 500,
                             .window = 256,
                             .mtu = 1500,
                             .priority = 31,
                             .lflags = MP_LFLAG_STANDBY};
        f.u.link.opts.n = 1;
        f.u.link.opts.v[0] = (mp_opt){MP_OPT_SECURITY, 1, (const uint8_t *)"\x01"};
        break;
    case MP_T_LINK_STATE:
        f.u.state = (mp_link_state){.session = 4,
                                    .ack = 10,
                                    .next_seq = 20,
                                    .sflags = MP_SFLAG_PROBE,
                                    .gap_count = 2,
                                    .timestamp = 100,
                                    .echo = 99};
        f.u.state.gaps[0] = (mp_gap){11, 12};
        f.u.state.gaps[1] = (mp_gap){0xFFFE, 1}; /* wraps through 0 */
        break;
    case MP_T_DATA:
        f = seqf(type, 0x100, 7);
        f.u.data = BYTES("abcd");
        break;
    case MP_T_FRAGMENT:
        f = seqf(type, 0x100, 8);
        f.u.fragment = (mp_fragment){
            .inner_type = MP_T_DATA, .total_len = 100, .offset = 90, .data = {g_bytes, 10}};
        break;
    case MP_T_MINET:
        f = seqf(type, MP_CHAN_MINET, 1);
        f.u.minet = (mp_minet){.mflags = MP_MFLAG_OFFLOAD,
                               .gso_type = MP_GSO_TCPV4 | MP_GSO_ECN,
                               .hdr_len = 54,
                               .gso_size = 1448,
                               .csum_start = 34,
                               .csum_offset = 16,
                               .domain = 0,
                               .eth = {g_bytes, 20}};
        break;
    case MP_T_NAME_PUBLISH:
        f = seqf(type, 0, 1);
        f.u.publish = (mp_name_rec){.device_id = 42,
                                    .dtype = 7,
                                    .nflags = MP_NFLAG_EXCLUSIVE,
                                    .rank = 10,
                                    .generation = 1,
                                    .name = BYTES("storage/raid0"),
                                    .prop_count = 2};
        f.u.publish.props[0] = (mp_prop){k_model, 5, v_model, 4};
        f.u.publish.props[1] = (mp_prop){k_slot, 4, v_slot, 1};
        break;
    case MP_T_NAME_WITHDRAW:
        f = seqf(type, 0, 2);
        f.u.withdraw = (mp_name_withdraw){42, 2, BYTES("storage/raid0")};
        break;
    case MP_T_PATH_OPEN:
        f = seqf(type, 0, 3);
        f.u.open = (mp_path_open){.src_path = 0x101,
                                  .src_device = 9,
                                  .dst_device = 42,
                                  .credit = 64,
                                  .pkind = MP_PK_MULTICAST,
                                  .name = BYTES("storage/**/raid?")};
        f.u.open.opts.n = 1;
        f.u.open.opts.v[0] = (mp_opt){MP_OPT_PROBE_INTERVAL, 2, (const uint8_t *)"\x00\x05"};
        break;
    case MP_T_PATH_ACCEPT:
        f = seqf(type, 0x101, 0);
        f.u.accept = (mp_path_accept){0x101, 0x205, 64};
        break;
    case MP_T_PATH_CLOSE:
        f = seqf(type, 0x205, 9);
        f.u.close = (mp_path_close){0x205, 0x101, 8, MP_R_APP_CLOSE};
        break;
    case MP_T_PATH_ABORT:
        f = seqf(type, 0x101, 0);
        f.u.abort_ = (mp_path_abort){0x101, 0, MP_R_NO_SUCH_DEVICE};
        break;
    case MP_T_PATH_CREDIT:
        f = seqf(type, 0x205, 10);
        f.u.credit = (mp_path_credit){0x205, 0xFFFFFFFF};
        break;
    case MP_T_SERVICE_STATUS:
        f = seqf(type, 0, 4);
        f.u.status = (mp_service_status){MP_ST_TAKEOVER,        MP_R_PEER_DOWN, 3, 0x101, 42,
                                         BYTES("storage/raid0")};
        break;
    case MP_T_MGMT:
        f = seqf(type, 0, 5);
        f.u.mgmt = (mp_mgmt){.corr_id = 1,
                             .epoch = 2,
                             .src_entity = 3,
                             .dst_entity = 0,
                             .uop_count = 2,
                             .gflags = MP_GFLAG_REPLY,
                             .payload = BYTES("state")};
        f.u.mgmt.uops[0] = (mp_uop_entry){MP_UOP_HEARTBEAT, 1};
        f.u.mgmt.uops[1] = (mp_uop_entry){0x8001, 0xFFFF};
        break;
    case MP_T_SECURED:
        f.u.secured = (mp_secured){.key_id = 1,
                                   .counter = 0x0102030405060708ull,
                                   .ciphertext = {g_bytes, 8},
                                   .tag = g_bytes + 8};
        break;
    case MP_T_KEY_EXCHANGE:
        f.u.kx = (mp_key_exchange){.phase = MP_KX_RESP,
                                   .key_id = 2,
                                   .suite = MP_SUITE_CHACHA20POLY1305,
                                   .node_id = 5,
                                   .exchange_id = 6};
        memcpy(f.u.kx.public_key, g_bytes, 32);
        memcpy(f.u.kx.random, g_bytes + 1, 16);
        memcpy(f.u.kx.mac, g_bytes + 2, 32);
        break;
    }
    return f;
}

static const uint8_t k_types[] = {
    MP_T_DISCOVER,    MP_T_LINK_RESET, MP_T_LINK_ACTIVATE, MP_T_LINK_STATE,    MP_T_DATA,
    MP_T_FRAGMENT,    MP_T_MINET,      MP_T_NAME_PUBLISH,  MP_T_NAME_WITHDRAW, MP_T_PATH_OPEN,
    MP_T_PATH_ACCEPT, MP_T_PATH_CLOSE, MP_T_PATH_ABORT,    MP_T_PATH_CREDIT,   MP_T_SERVICE_STATUS,
    MP_T_MGMT,        MP_T_SECURED,    MP_T_KEY_EXCHANGE,
};
#define NTYPES (sizeof k_types / sizeof k_types[0])

/* Encode f into g_buf (the decoded views point there); check the size agrees with mp_encoded_len,
 * that one byte less is MP_ENOSPC without a write, and that decode + re-encode gives the same
 * bytes. */
static int roundtrip(const mp_frame *f, mp_frame *out)
{
    uint8_t *buf = g_buf;
    int n = mp_encode(f, buf, MP_MAX_FRAME);
    T_CHECK(n > 0);
    if (n <= 0) {
        fprintf(stderr, "  encode %s: %s\n", mp_type_name(f->hdr.type), mp_errname(n));
        return n;
    }
    T_EQ(mp_encoded_len(f), n);
    uint8_t small[MP_MAX_FRAME];
    memset(small, 0xA5, sizeof small);
    T_EQ(mp_encode(f, small, (size_t)n - 1), MP_ENOSPC);
    T_CHECK(small[0] == 0xA5 && small[n - 1] == 0xA5);
    T_EQ(mp_decode(buf, (size_t)n, out), n);
    uint8_t again[MP_MAX_FRAME];
    T_EQ(mp_encode(out, again, sizeof again), n);
    T_MEMEQ(again, buf, (size_t)n);
    return n;
}

static void test_roundtrip_all(void)
{
    mp_frame out;
    for (size_t i = 0; i < NTYPES; i++) {
        mp_frame f = mk(k_types[i]);
        int n = roundtrip(&f, &out);
        if (n <= 0)
            continue;
        T_EQ(out.hdr.type, k_types[i]);
        T_EQ(out.hdr.version, MP_VERSION);
        T_EQ(out.hdr.length, n);
        if (MP_TYPE_IS_SEQUENCED(k_types[i])) {
            T_EQ(out.hdr.seq, 0xFFFE);
            T_EQ(out.hdr.ack, 0x0102);
            T_EQ(out.hdr.chan, f.hdr.chan);
            T_EQ(out.hdr.cseq, f.hdr.cseq);
        }
    }
    /* Spot checks of decoded values. */
    mp_frame f = mk(MP_T_DISCOVER);
    roundtrip(&f, &out);
    T_EQ(out.u.discover.incarnation, 0xDEADBEEF);
    T_EQ(out.u.discover.opts.n, 2);
    T_EQ(out.u.discover.opts.v[1].type, 0x42);
    T_CHECK(mp_opt_find(&out.u.discover.opts, MP_OPT_NODE_NAME) == &out.u.discover.opts.v[0]);
    T_CHECK(mp_opt_find(&out.u.discover.opts, MP_OPT_CAPS) == NULL);
    T_CHECK(mp_opt_find(NULL, 1) == NULL);

    f = mk(MP_T_LINK_STATE);
    roundtrip(&f, &out);
    T_EQ(out.u.state.gap_count, 2);
    T_EQ(out.u.state.gaps[1].start, 0xFFFE);
    T_EQ(out.u.state.gaps[1].end, 1);

    f = mk(MP_T_NAME_PUBLISH);
    roundtrip(&f, &out);
    T_EQ(out.u.publish.prop_count, 2);
    T_MEMEQ(out.u.publish.props[1].key, "slot", 4);
    T_EQ(out.u.publish.name.len, 13);

    f = mk(MP_T_MGMT);
    roundtrip(&f, &out);
    T_EQ(out.u.mgmt.uops[1].opcode, 0x8001);
    T_EQ(out.u.mgmt.payload.len, 5);

    f = mk(MP_T_SECURED);
    int n = roundtrip(&f, &out);
    T_EQ(n, 4 + 12 + 8 + 16);
    T_EQ(out.u.secured.counter, 0x0102030405060708ull);
    T_CHECK(out.u.secured.aad.ptr == g_buf && out.u.secured.aad.len == 16);
    T_CHECK(out.u.secured.tag == g_buf + n - 16);

    /* DATA is 16 bytes of overhead; empty payload is fine. */
    f = mk(MP_T_DATA);
    f.u.data = (mp_bytes){NULL, 0};
    T_EQ(roundtrip(&f, &out), 16);
    T_EQ(out.u.data.len, 0);

    /* MGMT with no microoperations (a bare reply). */
    f = mk(MP_T_MGMT);
    f.u.mgmt.uop_count = 0;
    T_EQ(roundtrip(&f, &out), 40 + 5);

    /* The FORMAT.md example, byte for byte. */
    uint8_t ex[32];
    size_t exn = t_unhex("1010001400050003000001000000000761626364", ex, sizeof ex);
    T_EQ(mp_decode(ex, exn, &out), 20);
    T_EQ(out.hdr.seq, 5);
    T_EQ(out.hdr.ack, 3);
    T_EQ(out.hdr.chan, 0x100);
    T_EQ(out.hdr.cseq, 7);
    T_MEMEQ(out.u.data.ptr, "abcd", 4);
}

/* ---- Header ------------------------------------------------------------------------ */

static void test_header(void)
{
    uint8_t b[64];
    mp_hdr h;
    mp_frame f;
    size_t n = t_unhex("1014001000010002000000000000000099", b, sizeof b);
    /* Unassigned sequenced type: the header decodes (the link must ack it)... */
    T_EQ(mp_hdr_decode(b, n, &h), 16);
    T_EQ(h.type, 0x14);
    T_EQ(h.seq, 1);
    T_EQ(h.ack, 2);
    /* ...the frame does not. */
    T_EQ(mp_decode(b, n, &f), MP_ETYPE);
    n = t_unhex("10800004", b, sizeof b); /* private type */
    T_EQ(mp_hdr_decode(b, n, &h), 4);
    T_EQ(mp_decode(b, n, &f), MP_ETYPE);

    T_EQ(mp_decode(b, 0, &f), MP_ETRUNC);
    T_EQ(mp_decode(b, 3, &f), MP_ETRUNC);
    n = t_unhex("20100014", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), MP_ETRUNC); /* length 20 > 4 present, before version */
    n = t_unhex("2010000400", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), MP_EVERSION);
    n = t_unhex("00010004", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), MP_EVERSION);
    n = t_unhex("10050002", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), MP_ETYPE); /* type before length */
    n = t_unhex("10100008aaaaaaaa", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), MP_ELENGTH);
    T_EQ(mp_hdr_decode(b, n, &h), MP_ELENGTH);
    n = t_unhex("10010003", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), MP_ELENGTH);
    T_EQ(mp_hdr_decode(NULL, 4, &h), MP_EINVAL);
    T_EQ(mp_decode(b, n, NULL), MP_EINVAL);

    /* Flags are kept raw; padding after length is ignored. */
    n = t_unhex("1f10001400050003000001000000000761626364000000", b, sizeof b);
    T_EQ(mp_decode(b, n, &f), 20);
    T_EQ(f.hdr.flags, 0xF);
    uint8_t o[64];
    T_EQ(mp_encode(&f, o, sizeof o), 20);
    T_MEMEQ(o, b, 20);
}

/* Every proper prefix of a valid frame is truncated; no byte is read past len. */
static void test_prefixes(void)
{
    for (size_t i = 0; i < NTYPES; i++) {
        mp_frame f = mk(k_types[i]), out;
        int n = mp_encode(&f, g_buf, sizeof g_buf);
        T_CHECK(n > 0);
        for (int k = 0; k < n; k++) {
            uint8_t *copy = malloc((size_t)k + 1); /* exact size: ASan sees overreads */
            memcpy(copy, g_buf, (size_t)k);
            T_EQ(mp_decode(copy, (size_t)k, &out), MP_ETRUNC);
            free(copy);
        }
    }
}

/* Decode(x) succeeding implies encode(decode(x)) == x[0..length): mutate every byte of
 * every valid frame to several values and check that invariant (and no crash). */
static void test_mutations(void)
{
    static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x0F, 0x10, 0x7F, 0x80, 0xFE, 0xFF};
    unsigned accepted = 0, rejected = 0;
    for (size_t i = 0; i < NTYPES; i++) {
        mp_frame f = mk(k_types[i]), out;
        uint8_t orig[512], m[512], again[MP_MAX_FRAME];
        int n = mp_encode(&f, orig, sizeof orig);
        for (int pos = 0; pos < n; pos++) {
            for (size_t v = 0; v < sizeof vals; v++) {
                memcpy(m, orig, (size_t)n);
                m[pos] = vals[v];
                int rc = mp_decode(m, (size_t)n, &out);
                if (rc < 0) {
                    T_CHECK(rc >= -(MP_ERR_COUNT - 1));
                    rejected++;
                    continue;
                }
                accepted++;
                int e = mp_encode(&out, again, sizeof again);
                T_EQ(e, rc);
                if (e == rc)
                    T_MEMEQ(again, m, (size_t)rc);
            }
        }
    }
    T_CHECK(accepted > 100 && rejected > 100);
}

/* ---- Decode error paths: encode a valid frame, patch it, expect the error ---------- */

typedef struct patch {
    uint8_t type;
    int off;      /* frame offset to patch (negative: from the end) */
    int len;      /* bytes to write */
    uint32_t val; /* big-endian value to write */
    int newlen;   /* if nonzero: also rewrite the length field (and truncate) */
    int want;
    const char *what;
} patch;

static const patch k_patches[] = {
    {MP_T_DISCOVER, 13, 1, 0x04, 0, MP_ERESERVED, "undefined dflag"},
    {MP_T_DISCOVER, 4, 4, 0, 0, MP_ERANGE, "node_id 0"},
    {MP_T_DISCOVER, 4, 4, 0xFFFFFFFF, 0, MP_ERANGE, "node_id broadcast"},
    {MP_T_DISCOVER, 12, 1, 0, 0, MP_ERANGE, "max_version 0"},
    {MP_T_DISCOVER, 20, 1, 0x81, 0, MP_EOPTION, "SECURITY with 4 bytes"},
    {MP_T_DISCOVER, 26, 1, 0xC2, 0, MP_EOPTION, "unknown critical option"},
    {MP_T_DISCOVER, 26, 1, 0x01, 0, MP_EOPTION, "duplicate NODE_NAME"},
    {MP_T_DISCOVER, 22, 1, '/', 0, MP_ENAME, "NODE_NAME with '/'"},
    {MP_T_DISCOVER, 27, 1, 0x09, 0, MP_EOPTION, "option runs past the frame"},
    {MP_T_DISCOVER, 0, 0, 0, 19, MP_ELENGTH, "below minimum"},
    {MP_T_LINK_RESET, 27, 1, 0x02, 0, MP_ERESERVED, "undefined lflag"},
    {MP_T_LINK_RESET, 8, 4, 0, 0, MP_ERANGE, "peer_id 0"},
    {MP_T_LINK_RESET, 20, 2, 9, 0, MP_ERANGE, "tolerance 9"},
    {MP_T_LINK_RESET, 20, 2, 30001, 0, MP_ERANGE, "tolerance 30001"},
    {MP_T_LINK_RESET, 22, 2, 0, 0, MP_ERANGE, "window 0"},
    {MP_T_LINK_RESET, 22, 2, 16385, 0, MP_ERANGE, "window 16385"},
    {MP_T_LINK_RESET, 26, 1, 32, 0, MP_ERANGE, "priority 32"},
    {MP_T_LINK_ACTIVATE, 30, 1, 3, 0, MP_ERANGE, "SECURITY policy 3"},
    {MP_T_LINK_STATE, 10, 1, 0x04, 0, MP_ERESERVED, "undefined sflag"},
    {MP_T_LINK_STATE, 11, 1, 3, 0, MP_ELENGTH, "gap_count vs length"},
    {MP_T_LINK_STATE, 20, 4, 0x000C000B, 0, MP_ERANGE, "gap end before start"},
    {MP_T_DATA, 8, 4, 0xFF, 0, MP_ECHANNEL, "DATA on reserved channel"},
    {MP_T_DATA, 8, 4, 0, 0, MP_ECHANNEL, "DATA on channel 0"},
    {MP_T_FRAGMENT, 17, 1, 1, 0, MP_ERESERVED, "reserved byte"},
    {MP_T_FRAGMENT, 18, 2, 1, 0, MP_ERESERVED, "reserved word"},
    {MP_T_FRAGMENT, 16, 1, MP_T_FRAGMENT, 0, MP_ETYPE, "fragment of fragment"},
    {MP_T_FRAGMENT, 16, 1, MP_T_BUNDLE, 0, MP_ETYPE, "fragment of bundle"},
    {MP_T_FRAGMENT, 16, 1, 0x14, 0, MP_ETYPE, "fragment of unassigned"},
    {MP_T_FRAGMENT, 16, 1, MP_T_MINET, 0, MP_ECHANNEL, "MINET fragment on a path"},
    {MP_T_FRAGMENT, 20, 4, 99, 0, MP_ERANGE, "offset+len > total"},
    {MP_T_FRAGMENT, 20, 4, MP_MAX_MESSAGE + 1, 0, MP_ERANGE, "total > 16 MiB"},
    {MP_T_FRAGMENT, 0, 0, 0, 28, MP_ELENGTH, "no fragment bytes"},
    {MP_T_MINET, 16, 1, 0x08, 0, MP_ERESERVED, "undefined mflag"},
    {MP_T_MINET, 17, 1, 2, 0, MP_ERANGE, "gso_type 2"},
    {MP_T_MINET, 8, 4, 0x100, 0, MP_ECHANNEL, "MINET on a path"},
    {MP_T_MINET, 0, 0, 0, 41, MP_ELENGTH, "Ethernet frame < 14"},
    {MP_T_NAME_PUBLISH, 22, 1, 0x02, 0, MP_ERESERVED, "undefined nflag"},
    {MP_T_NAME_PUBLISH, 29, 1, '*', 0, MP_ENAME, "name with '*'"},
    {MP_T_NAME_PUBLISH, 28, 1, 0, 0, MP_ENAME, "empty name (prop_count byte shifts)"},
    {MP_T_NAME_PUBLISH, 42, 1, 17, 0, MP_ERANGE, "prop_count 17"},
    {MP_T_NAME_PUBLISH, 42, 1, 3, 0, MP_ECOUNT, "prop_count 3, two present"},
    {MP_T_NAME_PUBLISH, 42, 1, 1, 0, MP_ECOUNT, "prop_count 1, bytes left"},
    {MP_T_NAME_PUBLISH, 44, 1, 'M', 0, MP_EPROP, "upper-case key"},
    {MP_T_NAME_PUBLISH, -1, 1, 0, 0, MP_EPROP, "NUL in value"},
    {MP_T_NAME_PUBLISH, 28, 1, 200, 0, MP_ELENGTH, "name_len past the record"},
    {MP_T_NAME_PUBLISH, 8, 4, 1, 0, MP_ECHANNEL, "naming on MINET channel"},
    {MP_T_NAME_WITHDRAW, 24, 1, 12, 0, MP_ELENGTH, "name_len vs length"},
    {MP_T_NAME_WITHDRAW, 25, 1, '/', 0, MP_ENAME, "leading '/'"},
    {MP_T_PATH_OPEN, 33, 1, 1, 0, MP_ERESERVED, "reserved byte"},
    {MP_T_PATH_OPEN, 34, 2, 1, 0, MP_ERESERVED, "reserved word"},
    {MP_T_PATH_OPEN, 32, 1, 0, 0, MP_ERANGE, "pkind 0"},
    {MP_T_PATH_OPEN, 32, 1, 4, 0, MP_ERANGE, "pkind 4"},
    {MP_T_PATH_OPEN, 32, 1, MP_PK_UNICAST, 0, MP_ENAME, "unicast to a pattern"},
    {MP_T_PATH_OPEN, 16, 4, 0xFF, 0, MP_ERANGE, "src_path below 0x100"},
    {MP_T_PATH_OPEN, 36, 1, 100, 0, MP_ELENGTH, "name_len past the frame"},
    {MP_T_PATH_OPEN, 8, 4, 0x100, 0, MP_ECHANNEL, "PATH_OPEN on a path"},
    {MP_T_PATH_OPEN, 37, 1, '/', 0, MP_EPATTERN, "pattern with leading '/'"},
    {MP_T_PATH_ACCEPT, 16, 4, 0x102, 0, MP_ECHANNEL, "dst_path != chan"},
    {MP_T_PATH_ACCEPT, 12, 4, 1, 0, MP_ECHANNEL, "accept not cseq 0"},
    {MP_T_PATH_ACCEPT, 20, 4, 0, 0, MP_ERANGE, "src_path 0"},
    {MP_T_PATH_ACCEPT, 0, 0, 0, 29, MP_ELENGTH, "not exactly 28"},
    {MP_T_PATH_CLOSE, 29, 1, 1, 0, MP_ERESERVED, "reserved"},
    {MP_T_PATH_CLOSE, 28, 1, 13, 0, MP_ERANGE, "reason 13"},
    {MP_T_PATH_CLOSE, 0, 0, 0, 31, MP_ELENGTH, "not exactly 32"},
    {MP_T_PATH_ABORT, 26, 2, 1, 0, MP_ERESERVED, "reserved"},
    {MP_T_PATH_ABORT, 24, 2, 13, 0, MP_ERANGE, "error 13"},
    {MP_T_PATH_ABORT, 20, 4, 5, 0, MP_ERANGE, "src_path 5"},
    {MP_T_PATH_CREDIT, 16, 4, 0x206, 0, MP_ECHANNEL, "dst_path != chan"},
    {MP_T_PATH_CREDIT, 0, 0, 0, 25, MP_ELENGTH, "not exactly 24"},
    {MP_T_SERVICE_STATUS, 18, 2, 1, 0, MP_ERESERVED, "reserved"},
    {MP_T_SERVICE_STATUS, 16, 1, 0, 0, MP_ERANGE, "status 0"},
    {MP_T_SERVICE_STATUS, 16, 1, 10, 0, MP_ERANGE, "status 10"},
    {MP_T_SERVICE_STATUS, 17, 1, 13, 0, MP_ERANGE, "reason 13"},
    {MP_T_SERVICE_STATUS, 34, 1, ' ', 0, MP_ENAME, "space in name"},
    {MP_T_SERVICE_STATUS, 8, 4, 0x80, 0, MP_ECHANNEL, "reserved channel"},
    {MP_T_MGMT, 33, 1, 0x04, 0, MP_ERESERVED, "undefined gflag"},
    {MP_T_MGMT, 34, 2, 1, 0, MP_ERESERVED, "reserved"},
    {MP_T_MGMT, 32, 1, 3, 0, MP_ELENGTH, "uop_count vs length"},
    {MP_T_MGMT, 36, 4, 6, 0, MP_ELENGTH, "payload_len vs length"},
    {MP_T_MGMT, 8, 4, 1, 0, MP_ECHANNEL, "MGMT on MINET channel"},
    {MP_T_SECURED, 5, 1, 1, 0, MP_ERESERVED, "reserved"},
    {MP_T_SECURED, 0, 0, 0, 35, MP_ELENGTH, "below minimum"},
    {MP_T_KEY_EXCHANGE, 4, 1, 0, 0, MP_ERANGE, "phase 0"},
    {MP_T_KEY_EXCHANGE, 4, 1, 4, 0, MP_ERANGE, "phase 4"},
    {MP_T_KEY_EXCHANGE, 6, 2, 3, 0, MP_ERANGE, "suite 3"},
    {MP_T_KEY_EXCHANGE, 8, 4, 0, 0, MP_ERANGE, "node_id 0"},
    {MP_T_KEY_EXCHANGE, 0, 0, 0, 95, MP_ELENGTH, "not exactly 96"},
};

static void test_patches(void)
{
    for (size_t i = 0; i < sizeof k_patches / sizeof k_patches[0]; i++) {
        const patch *p = &k_patches[i];
        mp_frame f = mk(p->type), out;
        uint8_t b[512];
        int n = mp_encode(&f, b, sizeof b);
        T_CHECK(n > 0);
        if (p->newlen) {
            if (p->newlen > n)
                memset(b + n, 0, (size_t)(p->newlen - n));
            n = p->newlen;
            mp_put16(b + 2, (uint16_t)n);
        }
        int off = p->off < 0 ? n + p->off : p->off;
        for (int k = 0; k < p->len; k++)
            b[off + k] = (uint8_t)(p->val >> (8 * (p->len - 1 - k)));
        int rc = mp_decode(b, (size_t)n, &out);
        if (rc != p->want)
            fprintf(stderr, "  patch %s / %s:\n", mp_type_name(p->type), p->what);
        T_EQ(rc, p->want);
    }
}

/* ---- Encoder input validation: same rules, plus what only a caller can get wrong --- */

static void test_encode_validation(void)
{
    uint8_t b[256];
    mp_frame f;

    T_EQ(mp_encode(NULL, b, sizeof b), MP_EINVAL);
    f = mk(MP_T_DATA);
    f.hdr.type = 0x14;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ETYPE);
    f = mk(MP_T_DATA);
    f.hdr.flags = 0x10;
    T_EQ(mp_encode(&f, b, sizeof b), MP_EINVAL);
    f = mk(MP_T_DATA);
    f.hdr.flags = MP_FLAG_ACKREQ;
    T_EQ(mp_encode(&f, b, sizeof b), 20);
    T_EQ(b[0], 0x18);
    f.hdr.version = 7; /* computed, not read */
    T_EQ(mp_encode(&f, b, sizeof b), 20);
    T_EQ(b[0] >> 4, 1);
    f.u.data = (mp_bytes){NULL, 3};
    T_EQ(mp_encode(&f, b, sizeof b), MP_EINVAL);
    f.u.data = (mp_bytes){g_buf, MP_MAX_FRAME - 15};
    T_EQ(mp_encoded_len(&f), MP_ELENGTH); /* needs fragmenting */
    f.u.data.len = MP_MAX_FRAME - 16;
    T_EQ(mp_encoded_len(&f), MP_MAX_FRAME);
    T_EQ(mp_encode(&f, NULL, 0), MP_ENOSPC);
    f.hdr.chan = 0;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ECHANNEL);

    f = mk(MP_T_DISCOVER);
    f.u.discover.node_id = 0;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE);
    f = mk(MP_T_DISCOVER);
    f.u.discover.dflags = 0x80;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERESERVED);
    f = mk(MP_T_DISCOVER);
    f.u.discover.opts.n = MP_MAX_OPTIONS + 1;
    T_EQ(mp_encode(&f, b, sizeof b), MP_EOPTION);
    f = mk(MP_T_DISCOVER);
    f.u.discover.opts.v[1].val = NULL;
    T_EQ(mp_encode(&f, b, sizeof b), MP_EINVAL);
    f = mk(MP_T_DISCOVER);
    f.u.discover.opts.v[1].type = 0x90; /* unknown critical: would be rejected */
    T_EQ(mp_encode(&f, b, sizeof b), MP_EOPTION);
    f = mk(MP_T_DISCOVER);
    f.u.discover.opts.v[0] = (mp_opt){MP_OPT_MAX_MESSAGE, 4, (const uint8_t *)"\x00\x0f\xff\xff"};
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE); /* below 1 MiB */
    f.u.discover.opts.v[0].val = (const uint8_t *)"\x00\x10\x00\x00";
    T_CHECK(mp_encode(&f, b, sizeof b) > 0);
    /* 16 options are fine (and decode back), 17 are not. */
    f = mk(MP_T_DISCOVER);
    f.u.discover.opts.n = MP_MAX_OPTIONS;
    for (unsigned i = 0; i < MP_MAX_OPTIONS; i++)
        f.u.discover.opts.v[i] = (mp_opt){(uint8_t)(0x20 + i), 1, g_bytes};
    mp_frame out;
    T_EQ(roundtrip(&f, &out), 20 + 3 * MP_MAX_OPTIONS);
    T_EQ(out.u.discover.opts.n, MP_MAX_OPTIONS);
    g_buf[2] = 0; /* append a 17th option by hand */
    g_buf[3] = 20 + 3 * 17;
    g_buf[20 + 3 * 16] = 0x40;
    g_buf[20 + 3 * 16 + 1] = 1;
    g_buf[20 + 3 * 16 + 2] = 0;
    T_EQ(mp_decode(g_buf, 20 + 3 * 17, &out), MP_EOPTION);

    f = mk(MP_T_LINK_STATE);
    f.u.state.gap_count = MP_MAX_GAPS + 1;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE);
    f = mk(MP_T_MGMT);
    f.u.mgmt.uop_count = MP_MAX_UOPS + 1;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE);
    f = mk(MP_T_NAME_PUBLISH);
    f.u.publish.prop_count = MP_MAX_PROPS + 1;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE);
    f = mk(MP_T_NAME_PUBLISH);
    f.u.publish.props[1] = f.u.publish.props[0];
    T_EQ(mp_encode(&f, b, sizeof b), MP_EPROP); /* duplicate key */
    f = mk(MP_T_NAME_PUBLISH);
    f.u.publish.name = BYTES("a//b");
    T_EQ(mp_encode(&f, b, sizeof b), MP_ENAME);
    f.u.publish.name = (mp_bytes){g_buf, 300}; /* too long for name_len: no truncation */
    T_EQ(mp_encode(&f, b, sizeof b), MP_ENAME);
    f = mk(MP_T_PATH_ACCEPT);
    f.u.accept.dst_path = 0x300;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ECHANNEL);
    f = mk(MP_T_FRAGMENT);
    f.u.fragment.data.len = 0;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ELENGTH);
    f = mk(MP_T_FRAGMENT);
    f.u.fragment.offset = 0xFFFFFFF0; /* offset + len overflows 32 bits */
    f.u.fragment.total_len = 0xFFFFFFFF;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE);
    f = mk(MP_T_SECURED);
    f.u.secured.tag = NULL;
    T_EQ(mp_encode(&f, b, sizeof b), MP_EINVAL);
    f = mk(MP_T_SECURED);
    f.u.secured.ciphertext.len = 3;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ELENGTH);
    f = mk(MP_T_MINET);
    f.u.minet.eth.len = 13;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ELENGTH);
    f = mk(MP_T_KEY_EXCHANGE);
    f.u.kx.suite = 0;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ERANGE);
}

/* ---- BUNDLE ------------------------------------------------------------------------ */

static void test_bundle(void)
{
    uint8_t members[512], b[600];
    size_t used = 0;
    mp_frame m = mk(MP_T_DATA);
    m.hdr.flags = MP_FLAG_ACKREQ;
    T_EQ(mp_bundle_append(members, sizeof members, &used, &m), 12 + 4);
    m = mk(MP_T_NAME_PUBLISH);
    int r = mp_bundle_append(members, sizeof members, &used, &m);
    T_CHECK(r > 12);
    m = mk(MP_T_PATH_ACCEPT);
    T_EQ(mp_bundle_append(members, sizeof members, &used, &m), 24);
    size_t before = used;
    m = mk(MP_T_FRAGMENT);
    T_EQ(mp_bundle_append(members, sizeof members, &used, &m), MP_ETYPE);
    m = mk(MP_T_DISCOVER);
    T_EQ(mp_bundle_append(members, sizeof members, &used, &m), MP_ETYPE);
    m = mk(MP_T_DATA);
    m.hdr.chan = 0;
    T_EQ(mp_bundle_append(members, sizeof members, &used, &m), MP_ECHANNEL);
    m = mk(MP_T_DATA);
    T_EQ(mp_bundle_append(members, used + 10, &used, &m), MP_ENOSPC);
    T_EQ(used, before);

    mp_frame f = seqf(MP_T_BUNDLE, 0, 0), out;
    f.u.bundle.members = (mp_bytes){members, used};
    int n = roundtrip(&f, &out);
    T_EQ(n, 16 + (int)used);
    T_EQ(out.u.bundle.count, 3);
    size_t pos = 0;
    mp_frame mem;
    T_EQ(mp_bundle_next(&out.u.bundle, &pos, &mem), 1);
    T_EQ(mem.hdr.type, MP_T_DATA);
    T_EQ(mem.hdr.flags, MP_FLAG_ACKREQ);
    T_EQ(mem.hdr.seq, 0);
    T_EQ(mem.hdr.chan, 0x100);
    T_EQ(mem.hdr.cseq, 7);
    T_MEMEQ(mem.u.data.ptr, "abcd", 4);
    T_EQ(mp_bundle_next(&out.u.bundle, &pos, &mem), 1);
    T_EQ(mem.hdr.type, MP_T_NAME_PUBLISH);
    T_EQ(mem.u.publish.device_id, 42);
    T_EQ(mp_bundle_next(&out.u.bundle, &pos, &mem), 1);
    T_EQ(mem.u.accept.dst_path, 0x101);
    T_EQ(mp_bundle_next(&out.u.bundle, &pos, &mem), 0);
    T_EQ(pos, used);

    /* Bundle rules. */
    f.hdr.cseq = 1;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ECHANNEL);
    f.hdr.cseq = 0;
    f.u.bundle.members.len = 0;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ELENGTH);
    f.u.bundle.members.len = used - 1;
    T_EQ(mp_encode(&f, b, sizeof b), MP_ELENGTH); /* last member runs past the end */
    /* Member faults found by the decoder. */
    f.u.bundle.members.len = used;
    n = mp_encode(&f, b, sizeof b);
    b[16] = 0x20; /* member version 2 */
    T_EQ(mp_decode(b, (size_t)n, &out), MP_EVERSION);
    b[16] = 0x10;
    b[17] = MP_T_BUNDLE;
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ETYPE);
    b[17] = MP_T_DATA;
    b[20 + 2] = 0x00; /* first member's chan 0x100 -> 0 */
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ECHANNEL);
    b[20 + 2] = 0x01;
    b[18] = 0;
    b[19] = 11; /* member shorter than its inner header */
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ELENGTH);
}

/* ---- NAME_SYNC ----------------------------------------------------------------------- */

static void test_name_sync(void)
{
    mp_name_rec recs[3];
    for (int i = 0; i < 3; i++) {
        mp_frame p = mk(MP_T_NAME_PUBLISH);
        recs[i] = p.u.publish;
        recs[i].device_id = 100 + (uint32_t)i;
    }
    recs[2].prop_count = 0;
    mp_frame f = seqf(MP_T_NAME_SYNC, 0, 11), out;
    f.u.sync = (mp_name_sync){.yflags = MP_YFLAG_FIRST, .count = 3, .enc_recs = recs};
    uint8_t *b = g_buf;
    int n = roundtrip(&f, &out);
    T_CHECK(n > 20);
    T_EQ(out.u.sync.count, 3);
    T_CHECK(out.u.sync.enc_recs == NULL);
    size_t pos = 0;
    mp_name_rec r;
    for (int i = 0; i < 3; i++) {
        T_EQ(mp_name_sync_next(&out.u.sync, &pos, &r), 1);
        T_EQ(r.device_id, 100 + i);
    }
    T_EQ(r.prop_count, 0);
    T_EQ(mp_name_sync_next(&out.u.sync, &pos, &r), 0);

    /* count vs records */
    mp_put16(b + 18, 4);
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ECOUNT);
    mp_put16(b + 18, 2);
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ECOUNT);
    mp_put16(b + 18, 3);
    b[17] = 1;
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ERESERVED);
    b[17] = 0;
    b[16] = 0x04;
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ERESERVED);
    b[16] = MP_YFLAG_FIRST;
    mp_put16(b + 20, 14); /* rec_len below a record's minimum */
    T_EQ(mp_decode(b, (size_t)n, &out), MP_ELENGTH);

    /* Empty sync: allowed only as a LAST chunk. */
    f.u.sync = (mp_name_sync){.yflags = MP_YFLAG_FIRST | MP_YFLAG_LAST, .count = 0};
    T_EQ(roundtrip(&f, &out), 20);
    f.u.sync.yflags = MP_YFLAG_FIRST;
    T_EQ(mp_encode(&f, b, MP_MAX_FRAME), MP_ERANGE);
    /* A bad record is caught by the encoder too. */
    recs[1].name = BYTES("..");
    f.u.sync = (mp_name_sync){.yflags = 0, .count = 3, .enc_recs = recs};
    T_EQ(mp_encode(&f, b, MP_MAX_FRAME), MP_ENAME);
}

/* ---- Bodies outside frames: a reassembled message may exceed one frame ------------- */

static void test_body_decode(void)
{
    size_t plen = 200000;
    uint8_t *body = calloc(1, 24 + 4 + plen);
    mp_put32(body, 77); /* corr_id */
    body[16] = 1;       /* uop_count */
    mp_put32(body + 20, (uint32_t)plen);
    mp_put16(body + 24, MP_UOP_CKPT_RESTORE);
    mp_hdr h = {.type = MP_T_MGMT, .chan = 0, .cseq = 5};
    mp_frame out;
    T_EQ(mp_body_decode(&h, body, 24 + 4 + plen, &out), MP_OK);
    T_EQ(out.u.mgmt.corr_id, 77);
    T_EQ(out.u.mgmt.payload.len, plen);
    T_EQ(out.hdr.cseq, 5);
    T_EQ(mp_body_decode(&h, body, 24 + 4 + plen - 1, &out), MP_ELENGTH);
    h.chan = 1;
    T_EQ(mp_body_decode(&h, body, 24 + 4 + plen, &out), MP_ECHANNEL);
    h.type = MP_T_FRAGMENT;
    T_EQ(mp_body_decode(&h, body, 24, &out), MP_ETYPE);
    h.type = MP_T_DISCOVER;
    T_EQ(mp_body_decode(&h, body, 24, &out), MP_ETYPE);
    T_EQ(mp_body_decode(NULL, body, 24, &out), MP_EINVAL);
    free(body);
}

/* ---- Sequence arithmetic --------------------------------------------------------------- */

static void test_seq(void)
{
    T_CHECK(mp_seq16_lt(1, 2));
    T_CHECK(!mp_seq16_lt(2, 1));
    T_CHECK(!mp_seq16_lt(5, 5));
    T_CHECK(mp_seq16_le(5, 5));
    T_CHECK(mp_seq16_lt(0xFFFF, 0)); /* wraps */
    T_CHECK(mp_seq16_lt(0xFFF0, 0x0010));
    T_CHECK(!mp_seq16_lt(0x0010, 0xFFF0));
    T_CHECK(mp_seq16_lt(0, 0x7FFF));
    /* Exactly half the space apart, each is "before" the other: the one ambiguous
     * distance, which the window limit (16384) keeps the link from ever meeting. */
    T_CHECK(mp_seq16_lt(0, 0x8000) && mp_seq16_lt(0x8000, 0));
    T_CHECK(!mp_seq16_lt(0, 0x8001) && mp_seq16_lt(0x8001, 0));
    T_CHECK(mp_seq32_lt(0xFFFFFFFF, 0));
    T_CHECK(mp_seq32_lt(0xFFFFFF00u, 0x100));
    T_CHECK(!mp_seq32_lt(0x100, 0xFFFFFF00u));
    T_CHECK(mp_seq32_le(7, 7));
    T_CHECK(!mp_seq32_le(8, 7));
    T_CHECK(mp_seq32_lt(0, 0x7FFFFFFF));
    /* Walk a window across the wrap: every later value compares after. */
    for (uint32_t i = 0; i < 1000; i++) {
        uint16_t a = (uint16_t)(0xFE00 + i), b = (uint16_t)(a + 300);
        T_CHECK(mp_seq16_lt(a, b) && !mp_seq16_lt(b, a));
    }
}

static void test_errors_and_names(void)
{
    for (int e = 0; e > -MP_ERR_COUNT; e--) {
        T_CHECK(strncmp(mp_errname(e), "MP_", 3) == 0);
        T_CHECK(strlen(mp_strerror(e)) > 3);
        for (int g = 0; g > e; g--)
            T_CHECK(strcmp(mp_errname(e), mp_errname(g)) != 0);
    }
    T_CHECK(strcmp(mp_errname(MP_EINVAL), "MP_EINVAL") == 0);
    T_CHECK(strcmp(mp_errname(MP_ETRUNC), "MP_ETRUNC") == 0);
    T_CHECK(strcmp(mp_errname(-MP_ERR_COUNT), "MP_E?") == 0);
    T_CHECK(strcmp(mp_errname(5), "MP_E?") == 0);
    T_CHECK(strcmp(mp_type_name(MP_T_PATH_CREDIT), "PATH_CREDIT") == 0);
    T_CHECK(mp_type_name(0x14) == NULL);
    T_CHECK(mp_type_name(0x00) == NULL);
    unsigned named = 0;
    for (unsigned t = 0; t < 256; t++)
        named += mp_type_name((uint8_t)t) != NULL;
    T_EQ(named, 20);
}

int main(void)
{
    test_roundtrip_all();
    test_header();
    test_prefixes();
    test_mutations();
    test_patches();
    test_encode_validation();
    test_bundle();
    test_name_sync();
    test_body_decode();
    test_seq();
    test_errors_and_names();
    return t_done("test_codec");
}
