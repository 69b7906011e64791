/*
 * fuzz_minet.c — MINET frame handling (stack/minet): MINET messages as the core delivers
 * them (mnet_port_on_event: body decode, domain filter, learning, offload metadata, TAP
 * delivery) and the switch's decisions for frames from the local TAP (mnet_sw_tx), with
 * peers coming and going, learning, ageing and a small table, checked against a
 * reference switch written from RFC section 11 / mnet.h.
 *
 * Input: setup(8) then ops % 9:
 *   0 MINET message from peer(8): chan(8) mode(8) then either a structured body
 *     (mflags gso_type hdr_len gso_size csum_start csum_offset domain, dst/src from the
 *     MAC pool, ethertype, payload) or raw body bytes
 *   1 PEER_UP(8)   2 PEER_DOWN(8)   3 a frame from the local TAP: dst(8) src(8) len(8)
 *   4 time += dt(16) ms   5 mnet_sw_expire   6 mnet_sw_learn(node(8), mac(8))
 *   7 lookup(mac(8))      8 mnet_sw_format into cap(8) bytes
 * setup: bits 0-1 max_entries (2, 4, 8, 4096), bit 2 domain 7 (else 0), bit 3 short
 * ageing (1 s), bits 4-7 own node id offset.
 *
 * Oracles: the port hands a frame to the TAP exactly when the reference accepts it, with
 * the frame bytes and (only with MP_MFLAG_OFFLOAD) the offload metadata of the message;
 * every counter of the switch and the port matches the reference; the forwarding decision
 * (nodes, in order, and FLOOD) matches; the MAC table matches entry for entry (node,
 * last_seen); lookups agree; the text dump is NUL-terminated and returns what snprintf
 * would.  The port is created with a stand-in mc_node that is never used: nothing here
 * sends (mnet_port_send would call mc_send).
 */
#include "fz.h"
#include "mc.h"
#include "mnet.h"

#define MAXE 64u
typedef struct ment {
    uint8_t mac[6];
    uint32_t node;
    uint64_t last_seen, hits;
} ment;

static struct model {
    uint32_t self;
    uint16_t domain;
    uint64_t ageing;
    uint32_t max;
    ment e[4096];
    unsigned n;
    uint32_t peers[MNET_MAX_PEERS];
    unsigned np;
    mnet_sw_stats st;
    /* port */
    uint64_t msgs_rx, wrong_chan, decode_err, tap_tx, tap_bytes;
    /* expected delivery */
    bool want;
    const uint8_t *want_eth;
    size_t want_len;
    mnet_meta want_meta;
    uint32_t want_from;
    bool got;
} M;

static bool m_mcast(const uint8_t *m) { return m[0] & 1; }
static bool m_zero(const uint8_t *m)
{
    static const uint8_t z[6];
    return memcmp(m, z, 6) == 0;
}
static bool m_stale(const ment *e, uint64_t now)
{
    return now > e->last_seen && now - e->last_seen > M.ageing;
}
static ment *m_find(const uint8_t *mac)
{
    for (unsigned i = 0; i < M.n; i++)
        if (memcmp(M.e[i].mac, mac, 6) == 0)
            return &M.e[i];
    return NULL;
}
static void m_remove(unsigned i)
{
    M.e[i] = M.e[--M.n];
}
static int m_expire(uint64_t now)
{
    int k = 0;
    for (unsigned i = 0; i < M.n;)
        if (m_stale(&M.e[i], now)) {
            m_remove(i);
            M.st.aged++;
            k++;
        } else {
            i++;
        }
    return k;
}
static bool m_peer_up(uint32_t node)
{
    for (unsigned i = 0; i < M.np; i++)
        if (M.peers[i] == node)
            return true;
    return false;
}
static int m_learn(uint32_t node, const uint8_t *mac, uint64_t now)
{
    ment *e = m_find(mac);
    if (e) {
        if (e->node != node) {
            if (!m_stale(e, now))
                M.st.moves++;
            e->node = node;
            e->hits = 0;
        }
        if (now > e->last_seen)
            e->last_seen = now;
        return 0;
    }
    if (M.n >= M.max) {
        m_expire(now);
        if (M.n >= M.max) {
            M.st.table_full++;
            return MNET_ELIMIT;
        }
    }
    e = &M.e[M.n++];
    memcpy(e->mac, mac, 6);
    e->node = node;
    e->last_seen = now;
    e->hits = 0;
    M.st.learned++;
    return 0;
}

static uint8_t pool[10][6];
static void mac_pick(fz_in *in, uint8_t mac[6])
{
    uint8_t s = fz_u8(in);
    if (s & 0x80)
        fz_copy(in, mac, 6);
    else
        memcpy(mac, pool[s % 10], 6);
}
static uint32_t node_pick(uint8_t v) { return v < 0xF8 ? v % 8 : 0x10000u + v; }

static void on_deliver(void *user, uint32_t from, const uint8_t *eth, size_t len, const mnet_meta *meta)
{
    (void)user;
    FZ_CHECKF(M.want && !M.got, "the port delivered a frame the reference drops");
    M.got = true;
    FZ_CHECK(from == M.want_from);
    FZ_CHECK(fz_bytes_eq("minet eth", eth, len, M.want_eth, M.want_len));
    FZ_CHECK(memcmp(meta, &M.want_meta, sizeof *meta) == 0);
}

typedef struct cmp_ctx {
    unsigned seen;
} cmp_ctx;
static int cmp_entry(void *user, const mnet_sw_entry *e)
{
    cmp_ctx *c = user;
    const ment *m = m_find(e->mac);
    FZ_CHECKF(m != NULL, "switch has an entry the reference does not");
    FZ_CHECK(m->node == e->node && m->last_seen == e->last_seen && m->hits == e->hits);
    c->seen++;
    return 0;
}

static void compare(const mnet_sw *sw, const mnet_port *port)
{
    mnet_sw_stats s;
    mnet_sw_get_stats(sw, &s);
    M.st.entries = M.n;
    M.st.peers_up = M.np;
    FZ_CHECK(memcmp(&s, &M.st, sizeof s) == 0 ||
             (fprintf(stderr, "entries %u/%u learned %llu/%llu moves %llu/%llu aged %llu/%llu "
                              "purged %llu/%llu full %llu/%llu rx %llu/%llu bad_src %llu/%llu\n",
                      s.entries, M.st.entries, (unsigned long long)s.learned,
                      (unsigned long long)M.st.learned, (unsigned long long)s.moves,
                      (unsigned long long)M.st.moves, (unsigned long long)s.aged,
                      (unsigned long long)M.st.aged, (unsigned long long)s.purged,
                      (unsigned long long)M.st.purged, (unsigned long long)s.table_full,
                      (unsigned long long)M.st.table_full, (unsigned long long)s.rx_frames,
                      (unsigned long long)M.st.rx_frames, (unsigned long long)s.rx_bad_src,
                      (unsigned long long)M.st.rx_bad_src),
              0));
    cmp_ctx c = {0};
    FZ_CHECK(mnet_sw_foreach(sw, cmp_entry, &c) == (int)M.n && c.seen == M.n);
    mnet_port_stats ps;
    mnet_port_get_stats(port, &ps);
    FZ_CHECK(ps.msgs_rx == M.msgs_rx && ps.rx_wrong_chan == M.wrong_chan &&
             ps.rx_decode_errors == M.decode_err && ps.tap_tx_frames == M.tap_tx &&
             ps.tap_tx_bytes == M.tap_bytes && ps.msgs_tx == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_in_make(data, size);
    memset(&M, 0, sizeof M);
    for (int i = 0; i < 10; i++) {
        static const uint8_t base[10][6] = {
            {0x02, 0x4d, 0, 0, 0, 1}, {0x02, 0x4d, 0, 0, 0, 2}, {0x02, 0x4d, 0, 0, 0, 3},
            {0x52, 0x54, 0, 0x12, 0x34, 0x56}, {0x00, 0x16, 0x3e, 1, 2, 3}, {0x02, 0, 0, 0, 0, 9},
            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x01, 0x00, 0x5e, 0, 0, 1},
            {0x33, 0x33, 0, 0, 0, 1}, {0, 0, 0, 0, 0, 0}};
        memcpy(pool[i], base[i], 6);
    }
    uint8_t setup = fz_u8(&in);
    static const uint32_t maxes[4] = {2, 4, 8, 4096};
    mnet_sw_cfg cfg;
    mnet_sw_config_default(&cfg);
    cfg.self = 1 + (setup >> 4) % 4;
    cfg.domain = (setup & 4) ? 7 : 0;
    cfg.max_entries = maxes[setup & 3];
    if (setup & 8)
        cfg.ageing_ns = 1000000000ull;
    M.self = cfg.self;
    M.domain = cfg.domain;
    M.max = cfg.max_entries;
    M.ageing = cfg.ageing_ns;
    mnet_sw *sw;
    FZ_CHECK(mnet_sw_create(&cfg, &sw) == 0);
    static int stand_in;
    mnet_port *port;
    FZ_CHECK(mnet_port_create((struct mc_node *)(void *)&stand_in, sw, NULL, cfg.domain, &port) == 0);
    mnet_port_set_deliver(port, on_deliver, NULL);

    uint64_t now = 1;
    uint8_t body[2048], eth[1600];
    uint32_t nodes[MNET_MAX_PEERS];
    for (unsigned steps = 0; fz_left(&in) && steps < 256; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op % 9) {
        case 0: {
            uint32_t from = node_pick(fz_u8(&in));
            uint8_t chan = fz_u8(&in), mode = fz_u8(&in);
            size_t blen;
            if (mode & 1) {
                mp_bytes raw = fz_view(&in, fz_u16(&in) % sizeof body);
                memcpy(body, raw.ptr, raw.len);
                blen = raw.len;
            } else {
                uint8_t mf = fz_u8(&in);
                body[0] = (mode & 2) ? mf : (mf & MP_MFLAGS_DEFINED);
                body[1] = fz_u8(&in);
                for (int i = 2; i < 10; i++)
                    body[i] = fz_u8(&in);
                uint16_t dom = (mode & 4) ? fz_u16(&in) : M.domain;
                body[10] = (uint8_t)(dom >> 8);
                body[11] = (uint8_t)dom;
                mac_pick(&in, body + 12);
                mac_pick(&in, body + 18);
                body[24] = 0x08;
                body[25] = 0x00;
                size_t pl = fz_u8(&in) * 4u;
                fz_copy(&in, body + 26, pl);
                blen = 26 + pl;
                if (mode & 8) /* a short Ethernet frame */
                    blen = 12 + fz_u8(&in) % 14;
            }
            mc_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = MC_EV_MESSAGE;
            ev.now = now;
            ev.peer = from;
            ev.chan = (chan & 0x80) ? chan : MP_CHAN_MINET;
            ev.msg_type = (chan & 0x40) ? MP_T_DATA : MP_T_MINET;
            ev.cseq = 5;
            /* exactly-sized copy: a read past the body is an ASan report */
            uint8_t *copy = malloc(blen ? blen : 1);
            FZ_CHECK(copy != NULL);
            memcpy(copy, body, blen);
            ev.data = copy;
            ev.len = blen;
            /* the reference */
            M.want = M.got = false;
            int expect_ret = ev.msg_type == MP_T_MINET;
            if (ev.msg_type == MP_T_MINET) {
                M.msgs_rx++;
                if (ev.chan != MP_CHAN_MINET) {
                    M.wrong_chan++;
                } else {
                    mp_hdr h = {.type = MP_T_MINET, .chan = MP_CHAN_MINET, .cseq = 5};
                    mp_frame f;
                    int rc = mp_body_decode(&h, copy, blen, &f);
                    if (rc < 0) {
                        M.decode_err++;
                    } else {
                        const mp_minet *m = &f.u.minet;
                        if (m->domain != M.domain) {
                            M.st.rx_wrong_domain++;
                        } else if (m->eth.len < 14) {
                            M.st.rx_short++;
                        } else {
                            M.st.rx_frames++;
                            M.st.rx_bytes += m->eth.len;
                            if (m->mflags & MP_MFLAG_FLOOD)
                                M.st.rx_flood++;
                            const uint8_t *src = m->eth.ptr + 6;
                            if (m_mcast(src) || m_zero(src) || from == MNET_LOCAL_NODE ||
                                from == M.self)
                                M.st.rx_bad_src++;
                            else
                                (void)m_learn(from, src, now);
                            M.want = true;
                            M.want_from = from;
                            M.want_eth = m->eth.ptr;
                            M.want_len = m->eth.len;
                            memset(&M.want_meta, 0, sizeof M.want_meta);
                            if (m->mflags & MP_MFLAG_OFFLOAD) {
                                M.want_meta.mflags =
                                    m->mflags & (MP_MFLAG_OFFLOAD | MP_MFLAG_NEEDS_CSUM);
                                M.want_meta.gso_type = m->gso_type;
                                M.want_meta.hdr_len = m->hdr_len;
                                M.want_meta.gso_size = m->gso_size;
                                M.want_meta.csum_start = m->csum_start;
                                M.want_meta.csum_offset = m->csum_offset;
                            }
                            M.tap_tx++;
                            M.tap_bytes += m->eth.len;
                        }
                    }
                }
            }
            FZ_CHECK(mnet_port_on_event(port, &ev) == expect_ret);
            FZ_CHECKF(M.got == M.want, "the port dropped a frame the reference delivers");
            free(copy);
            break;
        }
        case 1: {
            uint32_t node = node_pick(fz_u8(&in));
            mc_event ev = {.type = MC_EV_PEER_UP, .peer = node, .now = now};
            FZ_CHECK(mnet_port_on_event(port, &ev) == 0);
            if (node != MNET_LOCAL_NODE && node != M.self && !m_peer_up(node)) {
                unsigned i = 0;
                while (i < M.np && M.peers[i] < node)
                    i++;
                memmove(&M.peers[i + 1], &M.peers[i], (M.np - i) * sizeof M.peers[0]);
                M.peers[i] = node;
                M.np++;
            }
            FZ_CHECK(mnet_sw_peer_is_up(sw, node) == m_peer_up(node));
            break;
        }
        case 2: {
            uint32_t node = node_pick(fz_u8(&in));
            mc_event ev = {.type = MC_EV_PEER_DOWN, .peer = node, .now = now};
            FZ_CHECK(mnet_port_on_event(port, &ev) == 0);
            if (node != MNET_LOCAL_NODE) {
                for (unsigned i = 0; i < M.np; i++)
                    if (M.peers[i] == node) {
                        memmove(&M.peers[i], &M.peers[i + 1], (M.np - i - 1) * sizeof M.peers[0]);
                        M.np--;
                        break;
                    }
                for (unsigned i = 0; i < M.n;)
                    if (M.e[i].node == node) {
                        m_remove(i);
                        M.st.purged++;
                    } else {
                        i++;
                    }
            }
            FZ_CHECK(!mnet_sw_peer_is_up(sw, node));
            break;
        }
        case 3: {
            mac_pick(&in, eth);
            mac_pick(&in, eth + 6);
            size_t len = fz_u8(&in) * 6u;
            if (len > sizeof eth)
                len = sizeof eth;
            if (len > 12)
                memset(eth + 12, 0x42, len - 12);
            bool fl = true;
            int n = mnet_sw_tx(sw, eth, len, now, nodes, MNET_MAX_PEERS, &fl);
            /* reference */
            int en = 0;
            bool efl = false;
            uint32_t enodes[MNET_MAX_PEERS];
            if (len < 14) {
                en = MNET_ESHORT;
            } else {
                M.st.tx_frames++;
                M.st.tx_bytes += len;
                if (!m_mcast(eth + 6) && !m_zero(eth + 6))
                    (void)m_learn(MNET_LOCAL_NODE, eth + 6, now);
                ment *e = m_mcast(eth) ? NULL : m_find(eth);
                bool flood = false;
                if (m_mcast(eth)) {
                    static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
                    if (memcmp(eth, bc, 6) == 0)
                        M.st.tx_flood_bcast++;
                    else
                        M.st.tx_flood_mcast++;
                    flood = true;
                } else if (e && !m_stale(e, now) && e->node == MNET_LOCAL_NODE) {
                    M.st.tx_local_dst++;
                } else if (e && !m_stale(e, now) && m_peer_up(e->node)) {
                    e->hits++;
                    enodes[0] = e->node;
                    en = 1;
                    M.st.tx_unicast++;
                } else {
                    M.st.tx_flood_unknown++;
                    flood = true;
                }
                if (flood) {
                    memcpy(enodes, M.peers, M.np * sizeof enodes[0]);
                    en = (int)M.np;
                    efl = true;
                    if (!M.np)
                        M.st.tx_no_peer++;
                }
            }
            FZ_CHECKF(n == en, "tx: %d nodes, reference %d", n, en);
            FZ_CHECK(fl == efl);
            if (n > 0)
                FZ_CHECK(memcmp(nodes, enodes, (size_t)n * sizeof nodes[0]) == 0);
            break;
        }
        case 4:
            now += (uint64_t)fz_u16(&in) * 1000000ull * ((op & 0x80) ? 64 : 1);
            break;
        case 5:
            FZ_CHECK(mnet_sw_expire(sw, now) == m_expire(now));
            break;
        case 6: {
            uint32_t node = node_pick(fz_u8(&in));
            uint8_t mac[6];
            mac_pick(&in, mac);
            int rc = mnet_sw_learn(sw, node, mac, now);
            int erc = (m_mcast(mac) || m_zero(mac)) ? MNET_EINVAL : m_learn(node, mac, now);
            FZ_CHECKF(rc == erc, "learn %d, reference %d", rc, erc);
            break;
        }
        case 7: {
            uint8_t mac[6];
            mac_pick(&in, mac);
            mnet_sw_entry e;
            int rc = mnet_sw_lookup(sw, mac, now, &e);
            const ment *m = m_find(mac);
            if (m && !m_stale(m, now)) {
                FZ_CHECK(rc == 0 && e.node == m->node && e.last_seen == m->last_seen);
            } else {
                FZ_CHECK(rc == MNET_EINVAL);
            }
            break;
        }
        case 8: {
            size_t cap = fz_u8(&in) * 8u;
            char *out = malloc(cap ? cap : 1);
            FZ_CHECK(out != NULL);
            int n = mnet_sw_format(sw, now, cap ? out : NULL, cap);
            FZ_CHECK(n >= 0);
            if (cap)
                FZ_CHECK(strlen(out) == ((size_t)n < cap ? (size_t)n : cap - 1));
            char *big = malloc((size_t)n + 1);
            FZ_CHECK(big != NULL);
            FZ_CHECK(mnet_sw_format(sw, now, big, (size_t)n + 1) == n && strlen(big) == (size_t)n);
            if (cap)
                FZ_CHECK(strncmp(out, big, cap - 1) == 0);
            free(big);
            free(out);
            break;
        }
        }
        compare(sw, port);
    }
    mnet_port_destroy(port);
    mnet_sw_destroy(sw);
    return 0;
}
