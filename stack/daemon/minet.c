/*
 * minet.c — MINET inside msgrd: one TAP per node bridged into the Messenger domain on the
 * daemon's own node (RFC section 11; minet.h).  stack/minet does the work (mnet_sw the
 * MAC table and forwarding, mnet_tap the TAP, mnet_port the core glue); this file is the
 * OS shell around it in msgrd's loop, and what `msgrctl minet` shows.
 *
 * Backpressure: when the core's queue towards a peer is full, mnet_port holds the frame
 * and wants no more TAP reads.  The TAP fd then leaves the epoll set (EPOLLIN off) until
 * the end of a loop turn (msgrd_minet_turn) gets the frame out; the kernel queues in the
 * TAP meanwhile and TCP slows down instead of losing.
 */
#define _GNU_SOURCE
#include "ctlout.h"
#include "minet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ipc.h"
#include "mnet.h"

#define MINET_TAP_BUDGET 64 /* frames per readable TAP per turn: bearers get their turn */
#define MINET_SHOW_MAX 1024 /* table rows collected; the rest are counted */
#define MINET_ROW_MAX 256   /* room one rendered row needs, at most */
#define MINET_TAIL_MAX 512  /* room the closing summary needs */

struct msgrd_minet {
    mrt *rt;
    mnet_sw *sw;
    mnet_tap *tap;
    mnet_port *port;
    int tfd;         /* ageing timer, 1 s */
    bool tap_polled; /* the TAP fd has EPOLLIN */
    uint16_t mtu, domain;
    uint32_t ageing_s;
    uint8_t mac[MNET_MAC_LEN];
};

static void set_tap_poll(msgrd_minet *m, bool on)
{
    if (m->tap_polled != on && mrt_mod_fd(m->rt, mnet_tap_fd(m->tap), on ? EPOLLIN : 0) == 0)
        m->tap_polled = on;
}

static void on_tap(void *user, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    msgrd_minet *m = user;
    (void)mnet_port_on_tap(m->port, mrt_now(), MINET_TAP_BUDGET);
    if (!mnet_port_wants_tap(m->port))
        set_tap_poll(m, false); /* a frame is held: see the header comment */
}

static void on_timer(void *user, int fd, uint32_t events)
{
    (void)events;
    msgrd_minet *m = user;
    uint64_t exp;
    (void)!read(fd, &exp, sizeof exp);
    (void)mnet_sw_expire(m->sw, mrt_now());
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int msgrd_minet_create(mrt *rt, const msgrd_conf_minet *cfg, uint32_t node_id, msgrd_minet **out,
                       char *err, size_t errlen)
{
    if (!rt || !cfg || !out || node_id == 0)
        return fail(err, errlen, MNET_EINVAL, "invalid arguments");
    msgrd_minet *m = calloc(1, sizeof *m);
    if (!m)
        return fail(err, errlen, MNET_ENOMEM, "out of memory");
    m->rt = rt;
    m->tfd = -1;
    m->mtu = (uint16_t)(cfg->mtu ? cfg->mtu : 1500);
    m->domain = (uint16_t)cfg->domain;
    m->ageing_s = (uint32_t)(cfg->ageing ? cfg->ageing : MNET_AGEING_DEF_NS / 1000000000ull);
    int r;

    mnet_sw_cfg swc;
    mnet_sw_config_default(&swc);
    swc.self = node_id;
    swc.domain = m->domain;
    swc.ageing_ns = (uint64_t)m->ageing_s * 1000000000ull;
    if (cfg->max_entries)
        swc.max_entries = (uint32_t)cfg->max_entries;
    if ((r = mnet_sw_create(&swc, &m->sw)) < 0) {
        fail(err, errlen, r, "switch: %s", mnet_strerror(r));
        goto err;
    }

    /* The default MAC comes from the node id, so a restarted node keeps it and its
     * peers' ARP/ND caches stay right without a gratuitous announcement. */
    mnet_tap_cfg tc;
    mnet_tap_config_default(&tc);
    if (cfg->tap[0])
        tc.name = cfg->tap;
    if (cfg->mac_set)
        memcpy(tc.mac, cfg->mac, MNET_MAC_LEN);
    else
        mnet_default_mac(node_id, tc.mac);
    tc.mac_set = true;
    tc.mtu = m->mtu;
    tc.offload = cfg->offload != 0;
    tc.txqueuelen = (uint32_t)cfg->txqueuelen;
    errno = 0;
    if ((r = mnet_tap_open(&tc, &m->tap)) < 0) {
        fail(err, errlen, r, "TAP %s: %s%s%s", tc.name, mnet_strerror(r), errno ? ": " : "",
             errno ? strerror(errno) : "");
        goto err;
    }
    mnet_tap_mac(m->tap, m->mac);
    for (int i = 0; i < cfg->naddrs; i++)
        if ((r = mnet_tap_add_addr(m->tap, cfg->addr[i])) < 0) {
            fail(err, errlen, r, "TAP %s address %s: %s (%s)", mnet_tap_name(m->tap), cfg->addr[i],
                 mnet_strerror(r), strerror(mnet_tap_errno(m->tap)));
            goto err;
        }
    /* Announce MINET (CAPS) before any link forms: peers send MINET only to nodes that
     * announced it (MSG-MINET-5), and so do we. */
    (void)mc_set_caps(mrt_node(rt), MP_CAP_MINET);
    if ((r = mnet_port_create(mrt_node(rt), m->sw, m->tap, m->domain, &m->port)) < 0) {
        fail(err, errlen, r, "port: %s", mnet_strerror(r));
        goto err;
    }

    m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
    if (m->tfd < 0 || timerfd_settime(m->tfd, 0, &its, NULL) < 0) {
        r = MNET_EIO;
        fail(err, errlen, r, "ageing timer: %s", strerror(errno));
        goto err;
    }
    if (mrt_add_fd(rt, m->tfd, EPOLLIN, on_timer, m) < 0) {
        r = MNET_EIO;
        fail(err, errlen, r, "epoll: cannot add the ageing timer");
        goto err;
    }
    if (mrt_add_fd(rt, mnet_tap_fd(m->tap), EPOLLIN, on_tap, m) < 0) {
        mrt_del_fd(rt, m->tfd);
        r = MNET_EIO;
        fail(err, errlen, r, "epoll: cannot add the TAP");
        goto err;
    }
    m->tap_polled = true;
    mrt_log(MRT_M_RT, MRT_LOG_INFO,
            "MINET: TAP %s mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u offload %s domain %u, "
            "%d address(es)",
            mnet_tap_name(m->tap), m->mac[0], m->mac[1], m->mac[2], m->mac[3], m->mac[4], m->mac[5],
            m->mtu, mnet_tap_offload(m->tap) ? "on" : "off", m->domain, cfg->naddrs);
    *out = m;
    return 0;
err:
    if (m->tfd >= 0)
        close(m->tfd);
    mnet_port_destroy(m->port);
    mnet_tap_close(m->tap);
    mnet_sw_destroy(m->sw);
    free(m);
    return r;
}

void msgrd_minet_destroy(msgrd_minet *m)
{
    if (!m)
        return;
    mrt_del_fd(m->rt, m->tfd);
    mrt_del_fd(m->rt, mnet_tap_fd(m->tap));
    close(m->tfd);
    mnet_port_destroy(m->port);
    mnet_tap_close(m->tap); /* the TAP disappears with its fd (not persistent) */
    mnet_sw_destroy(m->sw);
    free(m);
}

void msgrd_minet_event(msgrd_minet *m, const mc_event *ev)
{
    if (m)
        (void)mnet_port_on_event(m->port, ev);
}

void msgrd_minet_turn(msgrd_minet *m)
{
    if (!m)
        return;
    if (mnet_port_wants_tap(m->port)) {
        set_tap_poll(m, true); /* also after a PEER_DOWN dropped the held frame */
        return;
    }
    if (mnet_port_retry(m->port, mrt_now()) == MNET_OK) {
        set_tap_poll(m, true);
        (void)mrt_flush(m->rt);
    }
}

/* ---- msgrctl minet ---------------------------------------------------------------------- */
typedef struct mout {
    char *b;
    size_t cap, len;
    bool json;
} mout;

static void mo(mout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mo(mout *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(o->b, o->cap, &o->len, fmt, ap);
    va_end(ap);
}

typedef struct rows {
    mnet_sw_entry *e;
    size_t n, cap, total;
} rows;

static int collect(void *user, const mnet_sw_entry *e)
{
    rows *r = user;
    r->total++;
    if (r->n < r->cap)
        r->e[r->n++] = *e;
    return 0;
}

static int by_mac(const void *a, const void *b)
{
    return memcmp(((const mnet_sw_entry *)a)->mac, ((const mnet_sw_entry *)b)->mac, MNET_MAC_LEN);
}

#define MACF "%02x:%02x:%02x:%02x:%02x:%02x"
#define MACA(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

static void show_table(msgrd_minet *m, mout *o)
{
    uint64_t now = mrt_now();
    mnet_sw_stats st;
    mnet_sw_get_stats(m->sw, &st);
    static uint32_t peers[MNET_MAX_PEERS]; /* 4 KiB: off the stack */
    int np = mnet_sw_peers(m->sw, peers, MNET_MAX_PEERS);
    if (np > (int)MNET_MAX_PEERS)
        np = (int)MNET_MAX_PEERS;
    rows r = {.cap = MINET_SHOW_MAX};
    r.e = malloc(r.cap * sizeof *r.e);
    if (!r.e)
        r.cap = 0;
    (void)mnet_sw_foreach(m->sw, collect, &r);
    qsort(r.e, r.n, sizeof *r.e, by_mac);
    uint64_t ageing_ns = (uint64_t)m->ageing_s * 1000000000ull;
    if (o->json) {
        mo(o,
           "{\"tap\":\"%s\",\"mac\":\"" MACF "\",\"mtu\":%u,\"offload\":%s,\"domain\":%u,"
           "\"ageing_s\":%u,\"peers_up\":[",
           mnet_tap_name(m->tap), MACA(m->mac), m->mtu, mnet_tap_offload(m->tap) ? "true" : "false",
           m->domain, m->ageing_s);
        for (int i = 0; i < np; i++)
            mo(o, "%s%u", i ? "," : "", peers[i]);
        mo(o, "],\"entries\":[");
    } else {
        mo(o, "MINET %s mac " MACF " mtu %u offload %s domain %u ageing %us\npeers up:",
           mnet_tap_name(m->tap), MACA(m->mac), m->mtu, mnet_tap_offload(m->tap) ? "on" : "off",
           m->domain, m->ageing_s);
        for (int i = 0; i < np; i++)
            mo(o, " %u", peers[i]);
        mo(o, "%s\n%-17s  %-6s %8s %9s %10s %6s\n", np ? "" : " none", "mac", "node", "age_s",
           "expires_s", "hits", "moves");
    }
    size_t shown = 0;
    for (size_t i = 0; i < r.n; i++) {
        /* One answer is one socket message: rows stop where they would not fit, so the
         * JSON stays whole and the summary says how many were left out. */
        if (o->len + MINET_ROW_MAX + MINET_TAIL_MAX > o->cap)
            break;
        shown++;
        const mnet_sw_entry *e = &r.e[i];
        uint64_t age = now > e->last_seen ? now - e->last_seen : 0;
        double exp = age < ageing_ns ? (double)(ageing_ns - age) / 1e9 : 0.0;
        bool local = e->node == MNET_LOCAL_NODE;
        if (o->json) {
            mo(o,
               "%s{\"mac\":\"" MACF "\",\"node\":%u,\"local\":%s,\"age_s\":%.3f,"
               "\"expires_s\":%.3f,\"hits\":%llu,\"moves\":%u}",
               i ? "," : "", MACA(e->mac), e->node, local ? "true" : "false", (double)age / 1e9,
               exp, (unsigned long long)e->hits, e->moves);
        } else {
            char node[16];
            snprintf(node, sizeof node, local ? "local" : "%u", e->node);
            mo(o, MACF "  %-6s %8.1f %9.1f %10llu %6u\n", MACA(e->mac), node, (double)age / 1e9,
               exp, (unsigned long long)e->hits, e->moves);
        }
    }
    if (o->json)
        mo(o,
           "],\"count\":%u,\"shown\":%zu,\"learned\":%llu,\"moves\":%llu,\"aged\":%llu,"
           "\"purged\":%llu,\"table_full\":%llu}\n",
           st.entries, shown, (unsigned long long)st.learned, (unsigned long long)st.moves,
           (unsigned long long)st.aged, (unsigned long long)st.purged,
           (unsigned long long)st.table_full);
    else
        mo(o, "%u entries%s: learned %llu moves %llu aged %llu purged %llu table_full %llu\n",
           st.entries, shown < r.total ? " (not all shown)" : "", (unsigned long long)st.learned,
           (unsigned long long)st.moves, (unsigned long long)st.aged, (unsigned long long)st.purged,
           (unsigned long long)st.table_full);
    free(r.e);
}

static void show_stats(msgrd_minet *m, mout *o)
{
    mnet_sw_stats s;
    mnet_port_stats p;
    mnet_sw_get_stats(m->sw, &s);
    mnet_port_get_stats(m->port, &p);
    typedef unsigned long long ull;
    /* "out": read from our TAP and sent into the domain; "in": from peers to our TAP. */
    if (o->json) {
        mo(o,
           "{\"tap\":\"%s\",\"out\":{\"frames\":%llu,\"bytes\":%llu,\"gso_frames\":%llu,"
           "\"messages\":%llu,\"unicast\":%llu},"
           "\"in\":{\"frames\":%llu,\"bytes\":%llu,\"messages\":%llu,\"accepted\":%llu,"
           "\"flooded\":%llu},"
           "\"floods\":{\"broadcast\":%llu,\"multicast\":%llu,\"unknown\":%llu},"
           "\"backpressure\":%llu,",
           mnet_tap_name(m->tap), (ull)p.tap_rx_frames, (ull)p.tap_rx_bytes, (ull)p.tap_rx_gso,
           (ull)p.msgs_tx, (ull)s.tx_unicast, (ull)p.tap_tx_frames, (ull)p.tap_tx_bytes,
           (ull)p.msgs_rx, (ull)s.rx_frames, (ull)s.rx_flood, (ull)s.tx_flood_bcast,
           (ull)s.tx_flood_mcast, (ull)s.tx_flood_unknown, (ull)p.send_blocked);
        mo(o,
           "\"drops\":{\"no_peer\":%llu,\"local_dst\":%llu,\"core_refused\":%llu,"
           "\"peer_without_minet\":%llu,"
           "\"tap_read\":%llu,\"wrong_domain\":%llu,\"short\":%llu,\"decode\":%llu,"
           "\"wrong_channel\":%llu,\"tap_write\":%llu},"
           "\"not_learned\":{\"bad_src\":%llu,\"table_full\":%llu}}\n",
           (ull)s.tx_no_peer, (ull)s.tx_local_dst, (ull)p.send_drop, (ull)p.tx_nocap,
           (ull)p.tap_rx_errors, (ull)s.rx_wrong_domain, (ull)s.rx_short, (ull)p.rx_decode_errors, (ull)p.rx_wrong_chan,
           (ull)p.tap_tx_errors, (ull)s.rx_bad_src, (ull)s.table_full);
        return;
    }
    mo(o, "MINET %s\n", mnet_tap_name(m->tap));
    mo(o, "out (TAP -> domain): frames %llu bytes %llu gso %llu messages %llu unicast %llu\n",
       (ull)p.tap_rx_frames, (ull)p.tap_rx_bytes, (ull)p.tap_rx_gso, (ull)p.msgs_tx,
       (ull)s.tx_unicast);
    mo(o, "in (domain -> TAP):  frames %llu bytes %llu messages %llu accepted %llu flooded %llu\n",
       (ull)p.tap_tx_frames, (ull)p.tap_tx_bytes, (ull)p.msgs_rx, (ull)s.rx_frames,
       (ull)s.rx_flood);
    mo(o, "floods: broadcast %llu multicast %llu unknown %llu   backpressure %llu\n",
       (ull)s.tx_flood_bcast, (ull)s.tx_flood_mcast, (ull)s.tx_flood_unknown, (ull)p.send_blocked);
    mo(o, "drops out: no_peer %llu local_dst %llu core_refused %llu peer_without_minet %llu "
          "tap_read %llu\n",
       (ull)s.tx_no_peer, (ull)s.tx_local_dst, (ull)p.send_drop, (ull)p.tx_nocap,
       (ull)p.tap_rx_errors);
    mo(o, "drops in:  wrong_domain %llu short %llu decode %llu wrong_channel %llu tap_write %llu\n",
       (ull)s.rx_wrong_domain, (ull)s.rx_short, (ull)p.rx_decode_errors, (ull)p.rx_wrong_chan,
       (ull)p.tap_tx_errors);
    mo(o, "not learned: bad_src %llu table_full %llu\n", (ull)s.rx_bad_src, (ull)s.table_full);
}

static bool word(const mipc_req *q, int i, const char *w)
{
    if (i >= q->u.ctl.argc)
        return false;
    size_t l = strlen(w);
    /* like ctl.c: any prefix of at least one letter */
    return q->u.ctl.arg[i].len >= 1 && q->u.ctl.arg[i].len <= l &&
           memcmp(q->u.ctl.arg[i].p, w, q->u.ctl.arg[i].len) == 0;
}

int msgrd_minet_ctl(void *user, const void *req, int json, char *out, size_t cap)
{
    msgrd_minet *m = user;
    const mipc_req *q = req;
    if (!m || !q || q->u.ctl.argc < 1 || q->u.ctl.arg[0].len < 2 || !word(q, 0, "minet"))
        return MC_ENOENT;
    mout o = {out, cap, 0, json != 0};
    out[0] = 0;
    if (q->u.ctl.argc == 1 || (q->u.ctl.argc == 2 && (word(q, 1, "show") || word(q, 1, "list"))))
        show_table(m, &o);
    else if (q->u.ctl.argc == 2 && word(q, 1, "stats"))
        show_stats(m, &o);
    else {
        snprintf(out, cap, "usage: minet [show] | minet stats");
        return MC_EINVAL;
    }
    return (int)o.len;
}
