/*
 * sw.c — the MINET switch (sans-I/O): MAC table, learning, ageing, forwarding decision.
 *
 * The table is a chained hash of MAC -> entry with a bucket count that is a power of two
 * (twice max_entries, rounded).  The peer set is a small sorted array of node ids.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnet.h"

typedef struct sw_ent {
    struct sw_ent *next;
    mnet_sw_entry e;
} sw_ent;

struct mnet_sw {
    mnet_sw_cfg cfg;
    sw_ent **buckets;
    uint32_t nbuckets; /* power of two */
    uint32_t *peers;   /* sorted, npeers of MNET_MAX_PEERS */
    uint32_t npeers;
    mnet_sw_stats st;
};

const char *mnet_strerror(int err)
{
    switch (err) {
    case MNET_OK: return "success";
    case MNET_EINVAL: return "invalid argument";
    case MNET_ENOMEM: return "out of memory";
    case MNET_ELIMIT: return "MAC table full";
    case MNET_EIO: return "I/O error";
    case MNET_EPERM: return "operation not permitted (needs CAP_NET_ADMIN)";
    case MNET_ENODEV: return "no /dev/net/tun";
    case MNET_EAGAIN: return "would block";
    case MNET_ESHORT: return "frame shorter than an Ethernet header";
    default: return "unknown error";
    }
}

void mnet_default_mac(uint32_t node_id, uint8_t mac[MNET_MAC_LEN])
{
    mac[0] = 0x02; /* locally administered, unicast */
    mac[1] = 0x4d; /* 'M' */
    mac[2] = (uint8_t)(node_id >> 24);
    mac[3] = (uint8_t)(node_id >> 16);
    mac[4] = (uint8_t)(node_id >> 8);
    mac[5] = (uint8_t)node_id;
}

int mnet_mac_parse(const char *s, uint8_t mac[MNET_MAC_LEN])
{
    unsigned v[6];
    char tail;
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &tail) != 6)
        return MNET_EINVAL;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return MNET_OK;
}

void mnet_sw_config_default(mnet_sw_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ageing_ns = MNET_AGEING_DEF_NS;
    cfg->max_entries = MNET_MAX_ENTRIES_DEF;
}

int mnet_sw_create(const mnet_sw_cfg *cfg, mnet_sw **out)
{
    if (!cfg || !out)
        return MNET_EINVAL;
    mnet_sw *sw = calloc(1, sizeof *sw);
    if (!sw)
        return MNET_ENOMEM;
    sw->cfg = *cfg;
    if (!sw->cfg.ageing_ns)
        sw->cfg.ageing_ns = MNET_AGEING_DEF_NS;
    if (!sw->cfg.max_entries)
        sw->cfg.max_entries = MNET_MAX_ENTRIES_DEF;
    uint32_t nb = 16;
    while (nb < 2 * sw->cfg.max_entries && nb < (1u << 24))
        nb <<= 1;
    sw->nbuckets = nb;
    sw->buckets = calloc(nb, sizeof *sw->buckets);
    sw->peers = calloc(MNET_MAX_PEERS, sizeof *sw->peers);
    if (!sw->buckets || !sw->peers) {
        mnet_sw_destroy(sw);
        return MNET_ENOMEM;
    }
    *out = sw;
    return MNET_OK;
}

void mnet_sw_destroy(mnet_sw *sw)
{
    if (!sw)
        return;
    if (sw->buckets) {
        for (uint32_t i = 0; i < sw->nbuckets; i++) {
            sw_ent *e = sw->buckets[i];
            while (e) {
                sw_ent *n = e->next;
                free(e);
                e = n;
            }
        }
        free(sw->buckets);
    }
    free(sw->peers);
    free(sw);
}

static uint32_t mac_hash(const uint8_t *m)
{
    /* FNV-1a over the 6 bytes. */
    uint32_t h = 2166136261u;
    for (int i = 0; i < MNET_MAC_LEN; i++) {
        h ^= m[i];
        h *= 16777619u;
    }
    return h ^ (h >> 15);
}

static sw_ent **find_slot(const mnet_sw *sw, const uint8_t *mac)
{
    sw_ent **pp = &sw->buckets[mac_hash(mac) & (sw->nbuckets - 1)];
    while (*pp && memcmp((*pp)->e.mac, mac, MNET_MAC_LEN) != 0)
        pp = &(*pp)->next;
    return pp;
}

static bool is_multicast(const uint8_t *mac) { return mac[0] & 1; }
static bool is_zero(const uint8_t *mac)
{
    static const uint8_t z[MNET_MAC_LEN];
    return memcmp(mac, z, MNET_MAC_LEN) == 0;
}
static bool is_stale(const mnet_sw *sw, const mnet_sw_entry *e, uint64_t now)
{
    return now > e->last_seen && now - e->last_seen > sw->cfg.ageing_ns;
}

/* ---- Peers ------------------------------------------------------------------------- */
static int peer_index(const mnet_sw *sw, uint32_t node, bool *found)
{
    uint32_t lo = 0, hi = sw->npeers;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (sw->peers[mid] < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < sw->npeers && sw->peers[lo] == node;
    return (int)lo;
}

int mnet_sw_peer_up(mnet_sw *sw, uint32_t node)
{
    if (!sw || node == MNET_LOCAL_NODE || node == sw->cfg.self)
        return MNET_EINVAL;
    bool found;
    int i = peer_index(sw, node, &found);
    if (found)
        return MNET_OK;
    if (sw->npeers >= MNET_MAX_PEERS)
        return MNET_ELIMIT;
    memmove(&sw->peers[i + 1], &sw->peers[i], (sw->npeers - (uint32_t)i) * sizeof *sw->peers);
    sw->peers[i] = node;
    sw->npeers++;
    sw->st.peers_up = sw->npeers;
    return MNET_OK;
}

bool mnet_sw_peer_is_up(const mnet_sw *sw, uint32_t node)
{
    bool found = false;
    if (sw)
        (void)peer_index(sw, node, &found);
    return found;
}

int mnet_sw_peers(const mnet_sw *sw, uint32_t *out, size_t cap)
{
    if (!sw || (!out && cap))
        return MNET_EINVAL;
    size_t n = sw->npeers < cap ? sw->npeers : cap;
    if (n)
        memcpy(out, sw->peers, n * sizeof *out);
    return (int)sw->npeers;
}

static void remove_where(mnet_sw *sw, bool (*pred)(const mnet_sw *, const mnet_sw_entry *,
                                                   uint64_t, uint32_t),
                         uint64_t now, uint32_t node, uint64_t *counter, int *count)
{
    for (uint32_t i = 0; i < sw->nbuckets; i++) {
        sw_ent **pp = &sw->buckets[i];
        while (*pp) {
            sw_ent *e = *pp;
            if (pred(sw, &e->e, now, node)) {
                *pp = e->next;
                free(e);
                sw->st.entries--;
                (*counter)++;
                (*count)++;
            } else {
                pp = &e->next;
            }
        }
    }
}

static bool pred_node(const mnet_sw *sw, const mnet_sw_entry *e, uint64_t now, uint32_t node)
{
    (void)sw;
    (void)now;
    return e->node == node;
}

static bool pred_stale(const mnet_sw *sw, const mnet_sw_entry *e, uint64_t now, uint32_t node)
{
    (void)node;
    return is_stale(sw, e, now);
}

void mnet_sw_peer_down(mnet_sw *sw, uint32_t node)
{
    if (!sw || node == MNET_LOCAL_NODE)
        return;
    bool found;
    int i = peer_index(sw, node, &found);
    if (found) {
        memmove(&sw->peers[i], &sw->peers[i + 1],
                (sw->npeers - (uint32_t)i - 1) * sizeof *sw->peers);
        sw->npeers--;
        sw->st.peers_up = sw->npeers;
    }
    int n = 0;
    remove_where(sw, pred_node, 0, node, &sw->st.purged, &n);
}

int mnet_sw_expire(mnet_sw *sw, uint64_t now)
{
    if (!sw)
        return MNET_EINVAL;
    int n = 0;
    remove_where(sw, pred_stale, now, 0, &sw->st.aged, &n);
    return n;
}

/* ---- Learning ----------------------------------------------------------------------- */
static int learn(mnet_sw *sw, uint32_t node, const uint8_t *mac, uint64_t now)
{
    sw_ent **pp = find_slot(sw, mac);
    if (*pp) {
        mnet_sw_entry *e = &(*pp)->e;
        if (e->node != node) {
            if (!is_stale(sw, e, now)) {
                sw->st.moves++;
                e->moves++;
            }
            e->node = node;
            e->hits = 0;
        }
        if (now > e->last_seen)
            e->last_seen = now;
        return MNET_OK;
    }
    if (sw->st.entries >= sw->cfg.max_entries) {
        /* Make room from stale entries before refusing. */
        (void)mnet_sw_expire(sw, now);
        if (sw->st.entries >= sw->cfg.max_entries) {
            sw->st.table_full++;
            return MNET_ELIMIT;
        }
        pp = find_slot(sw, mac);
    }
    sw_ent *e = calloc(1, sizeof *e);
    if (!e)
        return MNET_ENOMEM;
    memcpy(e->e.mac, mac, MNET_MAC_LEN);
    e->e.node = node;
    e->e.last_seen = now;
    *pp = e;
    sw->st.entries++;
    sw->st.learned++;
    return MNET_OK;
}

int mnet_sw_learn(mnet_sw *sw, uint32_t node, const uint8_t mac[MNET_MAC_LEN], uint64_t now)
{
    if (!sw || !mac || is_multicast(mac) || is_zero(mac))
        return MNET_EINVAL;
    return learn(sw, node, mac, now);
}

int mnet_sw_lookup(const mnet_sw *sw, const uint8_t mac[MNET_MAC_LEN], uint64_t now,
                   mnet_sw_entry *out)
{
    if (!sw || !mac)
        return MNET_EINVAL;
    sw_ent *const *pp = find_slot(sw, mac);
    if (!*pp || is_stale(sw, &(*pp)->e, now))
        return MNET_EINVAL;
    if (out)
        *out = (*pp)->e;
    return MNET_OK;
}

int mnet_sw_rx(mnet_sw *sw, uint32_t from, uint16_t domain, uint8_t mflags, const uint8_t *eth,
               size_t len, uint64_t now)
{
    if (!sw || (!eth && len))
        return MNET_EINVAL;
    if (domain != sw->cfg.domain) {
        sw->st.rx_wrong_domain++; /* [MSG-MINET-7] */
        return 0;
    }
    if (len < 14) {
        sw->st.rx_short++;
        return 0;
    }
    sw->st.rx_frames++;
    sw->st.rx_bytes += len;
    if (mflags & 0x02u)
        sw->st.rx_flood++;
    const uint8_t *src = eth + 6;
    if (is_multicast(src) || is_zero(src) || from == MNET_LOCAL_NODE || from == sw->cfg.self)
        sw->st.rx_bad_src++;
    else
        (void)learn(sw, from, src, now); /* [MSG-MINET-8]; a full table still delivers */
    return 1;
}

/* ---- Forwarding ---------------------------------------------------------------------- */
static int flood(mnet_sw *sw, uint32_t *nodes, size_t cap, bool *fl)
{
    size_t n = sw->npeers < cap ? sw->npeers : cap;
    memcpy(nodes, sw->peers, n * sizeof *nodes);
    *fl = true;
    if (!n)
        sw->st.tx_no_peer++;
    return (int)n;
}

int mnet_sw_tx(mnet_sw *sw, const uint8_t *eth, size_t len, uint64_t now, uint32_t *nodes,
               size_t cap, bool *fl)
{
    if (!sw || !eth || !nodes || !fl)
        return MNET_EINVAL;
    *fl = false;
    if (len < 14)
        return MNET_ESHORT;
    sw->st.tx_frames++;
    sw->st.tx_bytes += len;
    const uint8_t *dst = eth, *src = eth + 6;
    /* A MAC that now speaks on our own TAP (a service address taken over here) no longer
     * belongs to a peer. */
    if (!is_multicast(src) && !is_zero(src))
        (void)learn(sw, MNET_LOCAL_NODE, src, now);
    if (is_multicast(dst)) {
        static const uint8_t bc[MNET_MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        if (memcmp(dst, bc, MNET_MAC_LEN) == 0)
            sw->st.tx_flood_bcast++;
        else
            sw->st.tx_flood_mcast++;
        return flood(sw, nodes, cap, fl);
    }
    sw_ent **pp = find_slot(sw, dst);
    if (*pp && !is_stale(sw, &(*pp)->e, now)) {
        mnet_sw_entry *e = &(*pp)->e;
        if (e->node == MNET_LOCAL_NODE) {
            sw->st.tx_local_dst++;
            return 0;
        }
        if (mnet_sw_peer_is_up(sw, e->node) && cap > 0) {
            e->hits++;
            nodes[0] = e->node;
            sw->st.tx_unicast++;
            return 1;
        }
    }
    sw->st.tx_flood_unknown++;
    return flood(sw, nodes, cap, fl);
}

/* ---- Introspection ----------------------------------------------------------------- */
void mnet_sw_get_stats(const mnet_sw *sw, mnet_sw_stats *out)
{
    if (sw && out)
        *out = sw->st;
}

int mnet_sw_foreach(const mnet_sw *sw, int (*fn)(void *user, const mnet_sw_entry *e),
                    void *user)
{
    if (!sw || !fn)
        return MNET_EINVAL;
    int n = 0;
    for (uint32_t i = 0; i < sw->nbuckets; i++)
        for (const sw_ent *e = sw->buckets[i]; e; e = e->next) {
            n++;
            if (fn(user, &e->e))
                return n;
        }
    return n;
}

typedef struct fmt_ctx {
    char *out;
    size_t cap, used;
    uint64_t now;
} fmt_ctx;

static void fmt_add(fmt_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fmt_add(fmt_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = c->used < c->cap ? c->out + c->used : NULL;
    size_t room = c->used < c->cap ? c->cap - c->used : 0;
    int n = vsnprintf(p, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->used += (size_t)n;
}

static int fmt_entry(void *user, const mnet_sw_entry *e)
{
    fmt_ctx *c = user;
    uint64_t age = c->now > e->last_seen ? c->now - e->last_seen : 0;
    char node[16];
    if (e->node == MNET_LOCAL_NODE)
        snprintf(node, sizeof node, "local");
    else
        snprintf(node, sizeof node, "%u", e->node);
    fmt_add(c, "  %02x:%02x:%02x:%02x:%02x:%02x  %-10s %8.1f %10llu\n", e->mac[0], e->mac[1],
            e->mac[2], e->mac[3], e->mac[4], e->mac[5], node, (double)age / 1e9,
            (unsigned long long)e->hits);
    return 0;
}

int mnet_sw_format(const mnet_sw *sw, uint64_t now, char *out, size_t cap)
{
    if (!sw || (!out && cap))
        return MNET_EINVAL;
    fmt_ctx c = {.out = out, .cap = cap, .now = now};
    if (cap)
        out[0] = 0;
    fmt_add(&c, "MINET table (domain %u, ageing %llu s, %u entries, %u peers up)\n",
            sw->cfg.domain, (unsigned long long)(sw->cfg.ageing_ns / 1000000000ull),
            sw->st.entries, sw->npeers);
    fmt_add(&c, "  %-17s  %-10s %8s %10s\n", "mac", "node", "age_s", "hits");
    (void)mnet_sw_foreach(sw, fmt_entry, &c);
    const mnet_sw_stats *s = &sw->st;
    fmt_add(&c, "MINET switch: tx_frames %llu tx_bytes %llu unicast %llu flood_bcast %llu "
                "flood_mcast %llu flood_unknown %llu no_peer %llu local_dst %llu\n",
            (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
            (unsigned long long)s->tx_unicast, (unsigned long long)s->tx_flood_bcast,
            (unsigned long long)s->tx_flood_mcast, (unsigned long long)s->tx_flood_unknown,
            (unsigned long long)s->tx_no_peer, (unsigned long long)s->tx_local_dst);
    fmt_add(&c, "MINET switch: rx_frames %llu rx_bytes %llu rx_flood %llu wrong_domain %llu "
                "short %llu bad_src %llu learned %llu moves %llu aged %llu purged %llu "
                "table_full %llu\n",
            (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
            (unsigned long long)s->rx_flood, (unsigned long long)s->rx_wrong_domain,
            (unsigned long long)s->rx_short, (unsigned long long)s->rx_bad_src,
            (unsigned long long)s->learned, (unsigned long long)s->moves,
            (unsigned long long)s->aged, (unsigned long long)s->purged,
            (unsigned long long)s->table_full);
    return (int)c.used;
}
