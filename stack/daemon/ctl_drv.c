/*
 * ctl_drv.c — `msgrctl drv ...`: the hooks the interop conformance suite needs to drive
 * msgrd through its adapter (interop/adapters/msgrd_adapter.c, interop/DRIVER.md) beyond
 * what an application reaches through libmsgr: the node's events as the core reports
 * them (with its clock), raw sequenced messages on a channel, the name table and path
 * engine internals, and fixing the next device handle so the suite's device ids hold.
 *
 * Every `drv` command changes or exposes internals, so it needs the caller to be root or
 * the daemon's own user (checked by msrv_ctl).  Recording is off until `drv events on`:
 * a daemon nobody tests keeps no event log.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlout.h"
#include "mc.h"
#include "naming.h"
#include "path.h"
#include "srv_int.h"

/* ---- the event log ------------------------------------------------------------------ */
typedef struct drv_ev {
    struct drv_ev *next;
    size_t len;
    char line[];
} drv_ev;

#define DRV_DATA_MAX 16384           /* message bodies are logged up to this many octets */
#define DRV_LOG_MAX (32u << 20)      /* bytes of log kept; the oldest go first */

static struct {
    bool on;
    drv_ev *head, **tail;
    size_t bytes;
    uint64_t lost;
    uint8_t *body;                   /* `drv body` staging for `drv send` */
    size_t body_len, body_cap;
} g_drv = {.tail = &g_drv.head};

static const char *ev_name(int t)
{
    switch (t) {
    case MC_EV_LINK_UP: return "link_up";
    case MC_EV_LINK_DOWN: return "link_down";
    case MC_EV_PEER_UP: return "peer_up";
    case MC_EV_PEER_DOWN: return "peer_down";
    case MC_EV_MESSAGE: return "message";
    case MC_EV_DUP_NODE: return "dup_node";
    case MC_EV_FAILOVER: return "failover";
    case MC_EV_NAME: return "name";
    case MC_EV_SEND_LOST: return "send_lost";
    default: return NULL;
    }
}

static const char *down_name(int r)
{
    switch (r) {
    case MC_DOWN_TIMEOUT: return "timeout";
    case MC_DOWN_PEER_RESET: return "peer_reset";
    case MC_DOWN_INCARNATION: return "incarnation";
    case MC_DOWN_DETACH: return "detach";
    case MC_DOWN_LAST_LINK: return "last_link";
    case MC_DOWN_STALLED: return "stalled";
    default: return "none";
    }
}

static void drv_push(const char *s, size_t n)
{
    drv_ev *e = malloc(sizeof *e + n + 1);
    if (!e) {
        g_drv.lost++;
        return;
    }
    memcpy(e->line, s, n);
    e->line[n] = 0;
    e->len = n;
    e->next = NULL;
    *g_drv.tail = e;
    g_drv.tail = &e->next;
    g_drv.bytes += n;
    while (g_drv.bytes > DRV_LOG_MAX && g_drv.head) {
        drv_ev *o = g_drv.head;
        g_drv.head = o->next;
        if (!g_drv.head)
            g_drv.tail = &g_drv.head;
        g_drv.bytes -= o->len;
        g_drv.lost++;
        free(o);
    }
}

static void drv_clear(void)
{
    while (g_drv.head) {
        drv_ev *o = g_drv.head;
        g_drv.head = o->next;
        free(o);
    }
    g_drv.tail = &g_drv.head;
    g_drv.bytes = 0;
}

/* Called by msrv_event for every core event.  Path events are not logged: the adapter
 * gets those, and path messages, through libmsgr like any application. */
void msrv_drv_record(const mc_event *ev)
{
    if (!g_drv.on)
        return;
    const char *name = ev_name(ev->type);
    if (!name)
        return;
    static char b[2 * DRV_DATA_MAX + 1024];
    int n;
    if (ev->type == MC_EV_NAME) {
        const mn_entry *e = ev->name_entry;
        if (!e)
            return;
        char nm[2 * 128 + 1];
        size_t k = 0;
        for (size_t i = 0; i < e->name_len && k + 1 < sizeof nm; i++) {
            char c = (char)e->name[i];
            nm[k++] = (c == '"' || c == '\\' || (unsigned char)c < 0x20) ? '?' : c;
        }
        nm[k] = 0;
        n = snprintf(b, sizeof b,
                     "{\"event\":\"name\",\"t_ns\":%" PRIu64 ",\"name_event\":\"%s\",\"node\":%" PRIu32
                     ",\"device\":%" PRIu32 ",\"name\":\"%s\",\"generation\":%" PRIu32
                     ",\"rank\":%u,\"nflags\":%u}",
                     ev->now, ev->name_event == MN_EV_APPEARED ? "appeared" :
                     ev->name_event == MN_EV_UPDATED ? "updated" :
                     ev->name_event == MN_EV_VANISHED ? "vanished" : "winner",
                     e->node_id, e->device_id, nm, e->generation, e->rank, e->nflags);
    } else {
        static const char hx[] = "0123456789abcdef";
        static char hex[2 * DRV_DATA_MAX + 1];
        size_t dn = ev->data ? (ev->len < DRV_DATA_MAX ? ev->len : DRV_DATA_MAX) : 0;
        for (size_t i = 0; i < dn; i++) {
            hex[2 * i] = hx[ev->data[i] >> 4];
            hex[2 * i + 1] = hx[ev->data[i] & 15];
        }
        hex[2 * dn] = 0;
        n = snprintf(b, sizeof b,
                     "{\"event\":\"%s\",\"t_ns\":%" PRIu64 ",\"peer\":%" PRIu32
                     ",\"incarnation\":%" PRIu32 ",\"bearer\":%d,\"reason\":\"%s\",\"chan\":%" PRIu32
                     ",\"cseq\":%" PRIu32 ",\"type\":%u,\"count\":%" PRIu32 ",\"code\":%d,"
                     "\"len\":%zu,\"data\":\"%s\"}",
                     name, ev->now, ev->peer, ev->incarnation, ev->bearer, down_name(ev->reason),
                     ev->chan, ev->cseq, ev->msg_type, ev->count, ev->reason, ev->len, hex);
    }
    if (n > 0 && (size_t)n < sizeof b)
        drv_push(b, (size_t)n);
}

/* ---- commands ------------------------------------------------------------------------ */
typedef struct dout {
    char *b;
    size_t cap, len;
} dout;

static void d_printf(dout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void d_printf(dout *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(o->b, o->cap, &o->len, fmt, ap);
    va_end(ap);
}

static bool a_is(const mipc_req *q, int i, const char *w)
{
    return i < q->u.ctl.argc && q->u.ctl.arg[i].len == strlen(w) &&
           memcmp(q->u.ctl.arg[i].p, w, q->u.ctl.arg[i].len) == 0;
}

static long a_num(const mipc_req *q, int i, long dflt)
{
    char b[32];
    if (i >= q->u.ctl.argc || q->u.ctl.arg[i].len == 0 || q->u.ctl.arg[i].len >= sizeof b)
        return dflt;
    memcpy(b, q->u.ctl.arg[i].p, q->u.ctl.arg[i].len);
    b[q->u.ctl.arg[i].len] = 0;
    char *e;
    long v = strtol(b, &e, 0);
    return *e ? dflt : v;
}

static size_t a_str(const mipc_req *q, int i, char *dst, size_t cap)
{
    size_t l = i < q->u.ctl.argc ? q->u.ctl.arg[i].len : 0;
    if (l >= cap)
        l = cap - 1;
    if (l)
        memcpy(dst, q->u.ctl.arg[i].p, l);
    dst[l] = 0;
    return l;
}

static dout *g_lk;
static int g_lk_items;
static int lk_visit(void *user, const mn_entry *e)
{
    (void)user;
    d_printf(g_lk, "%s{\"node\":%" PRIu32 ",\"device\":%" PRIu32 ",\"rank\":%u,\"nflags\":%u,"
             "\"generation\":%" PRIu32 "}", g_lk_items++ ? "," : "", e->node_id, e->device_id,
             e->rank, e->nflags, e->generation);
    return 0;
}

#define FAIL(code, ...)                                                                  \
    do {                                                                                 \
        snprintf(buf, cap, __VA_ARGS__);                                                 \
        return (code);                                                                   \
    } while (0)

/* q's args: "drv" SUBCOMMAND ...  Answers JSON (one object, or event lines). */
int msrv_ctl_drv(msrv *s, const mipc_req *q, char *buf, size_t cap)
{
    dout o = {buf, cap, 0};
    buf[0] = 0;
    mc_node *n = mrt_node(s->rt);
    uint64_t now = mrt_now();
    int r;
    if (a_is(q, 1, "events")) {
        /* events on|off: start/stop logging (on clears); events: the next lines, oldest
         * first, as many as fit; "more" tells whether lines are left. */
        if (a_is(q, 2, "on") || a_is(q, 2, "off")) {
            drv_clear();
            g_drv.on = a_is(q, 2, "on");
            d_printf(&o, "{\"on\":%s}\n", g_drv.on ? "true" : "false");
            return (int)o.len;
        }
        while (g_drv.head && o.len + g_drv.head->len + 2 < cap) {
            drv_ev *e = g_drv.head;
            memcpy(buf + o.len, e->line, e->len);
            o.len += e->len;
            buf[o.len++] = '\n';
            g_drv.head = e->next;
            if (!g_drv.head)
                g_drv.tail = &g_drv.head;
            g_drv.bytes -= e->len;
            free(e);
        }
        buf[o.len < cap ? o.len : cap - 1] = 0;
        return (int)o.len;
    } else if (a_is(q, 1, "body")) {
        /* body reset | body APPEND-RAW...: stage a message body (CTL arguments are at most
         * 255 octets each, so a large body comes in pieces). */
        if (a_is(q, 2, "reset") && q->u.ctl.argc == 3) {
            g_drv.body_len = 0;
        } else {
            for (int i = 2; i < q->u.ctl.argc; i++) {
                size_t l = q->u.ctl.arg[i].len;
                if (g_drv.body_len + l > (1u << 21))
                    FAIL(MC_ETOOBIG, "body too long");
                if (g_drv.body_len + l > g_drv.body_cap) {
                    size_t nc = g_drv.body_cap ? g_drv.body_cap * 2 : 65536;
                    while (nc < g_drv.body_len + l)
                        nc *= 2;
                    uint8_t *nb = realloc(g_drv.body, nc);
                    if (!nb)
                        FAIL(MC_ENOMEM, "no memory");
                    g_drv.body = nb;
                    g_drv.body_cap = nc;
                }
                memcpy(g_drv.body + g_drv.body_len, q->u.ctl.arg[i].p, l);
                g_drv.body_len += l;
            }
        }
        d_printf(&o, "{\"len\":%zu}\n", g_drv.body_len);
    } else if (a_is(q, 1, "send")) {
        /* send PEER CHAN TYPE: the staged body as one sequenced message (mc_send). */
        uint32_t cseq = 0;
        r = mc_send(n, (uint32_t)a_num(q, 2, 0), (uint32_t)a_num(q, 3, 0),
                    (uint8_t)a_num(q, 4, 0x30), g_drv.body, g_drv.body_len, now, &cseq);
        g_drv.body_len = 0;
        if (r < 0)
            FAIL(r, "send: %s", mc_strerror(r));
        d_printf(&o, "{\"cseq\":%" PRIu32 "}\n", cseq);
    } else if (a_is(q, 1, "next_device")) {
        /* next_device N: the next DEV_ADD gets handle N (if free). */
        long id = a_num(q, 2, 0);
        if (id < 1 || id > 0x7FFFFFFF)
            FAIL(MC_EINVAL, "next_device: 1..2^31-1");
        for (dev *d = s->devs; d; d = d->next)
            if (d->id == (uint32_t)id)
                FAIL(MC_EEXIST, "device %ld exists", id);
        s->next_dev = (uint32_t)id - 1;
        d_printf(&o, "{\"next\":%ld}\n", id);
    } else if (a_is(q, 1, "device_set")) {
        /* device_set DEV DTYPE RANK EXCLUSIVE: change a device's name record (publish it
         * again through libmsgr to announce the change with a new generation). */
        uint32_t id = (uint32_t)a_num(q, 2, 0);
        dev *d = s->devs;
        while (d && d->id != id)
            d = d->next;
        if (!d)
            FAIL(MC_ENOENT, "no device %u", id);
        d->dtype = (uint16_t)a_num(q, 3, d->dtype);
        d->rank = (uint8_t)a_num(q, 4, d->rank);
        if (a_num(q, 5, 0))
            d->flags |= MIPC_DF_EXCLUSIVE;
        else
            d->flags &= (uint8_t)~MIPC_DF_EXCLUSIVE;
        d_printf(&o, "{\"device\":%u}\n", id);
    } else if (a_is(q, 1, "link")) {
        mc_link_info li;
        if (mc_link_get(n, (uint32_t)a_num(q, 2, 0), (int)a_num(q, 3, 0), &li) < 0) {
            d_printf(&o, "{\"state\":\"NONE\"}\n");
            return (int)o.len;
        }
        d_printf(&o, "{\"state\":\"%s\",\"tolerance_ms\":%u,\"window\":%u,\"mtu\":%u,"
                 "\"probe_ms\":%u,\"inflight\":%" PRIu32 ",\"retransmits\":%" PRIu64
                 ",\"dup_rx\":%" PRIu64 ",\"ooo_rx\":%" PRIu64 "}\n",
                 mc_link_state_name(li.state), li.tolerance_ms, li.window, li.mtu, li.probe_ms,
                 li.inflight, li.stats.retransmits, li.stats.dup_rx, li.stats.ooo_rx);
    } else if (a_is(q, 1, "stats")) {
        mc_stats st;
        mc_get_stats(n, &st);
        d_printf(&o, "{\"delivered\":%" PRIu64 ",\"events_lost\":%" PRIu64 ",\"drops\":{",
                 st.delivered, g_drv.lost);
        for (int i = 0; i < MC_DROP_COUNT; i++)
            d_printf(&o, "%s\"%s\":%" PRIu64, i ? "," : "", mc_drop_name(i), st.drops[i]);
        d_printf(&o, "}}\n");
    } else if (a_is(q, 1, "node")) {
        d_printf(&o, "{\"node_id\":%" PRIu32 ",\"incarnation\":%" PRIu32 "}\n", mc_node_id(n),
                 mc_incarnation(n));
    } else if (a_is(q, 1, "lookup")) {
        char name[256];
        size_t l = a_str(q, 2, name, sizeof name);
        const mn_table *t = mc_names(n);
        if (!t)
            FAIL(MC_ENOTSUP, "naming is off");
        d_printf(&o, "{\"entries\":[");
        g_lk = &o;
        g_lk_items = 0;
        mn_foreach_name(t, (const uint8_t *)name, l, lk_visit, NULL);
        const mn_entry *w = mn_lookup(t, (const uint8_t *)name, l);
        d_printf(&o, "],\"winner\":[%" PRIu32 ",%" PRIu32 "]}\n", w ? w->node_id : 0,
                 w ? w->device_id : 0);
    } else if (a_is(q, 1, "name_stats")) {
        const mn_table *t = mc_names(n);
        if (!t)
            FAIL(MC_ENOTSUP, "naming is off");
        mn_stats ns;
        mn_get_stats(t, &ns);
        d_printf(&o, "{\"entries\":%" PRIu32 ",\"stale_ignored\":%" PRIu64 ",\"dup_ignored\":%"
                 PRIu64 ",\"unknown_withdraw\":%" PRIu64 ",\"rejected\":%" PRIu64
                 ",\"sync_swept\":%" PRIu64 "}\n", ns.entries, ns.stale_ignored, ns.dup_ignored,
                 ns.unknown_withdraw, ns.rejected, ns.sync_swept);
    } else if (a_is(q, 1, "path_info")) {
        mpa_ctx *pc = mc_paths(n);
        mpa_info pi;
        if (!pc || mpa_get_info(pc, (uint32_t)a_num(q, 2, 0), &pi) < 0) {
            d_printf(&o, "{\"state\":\"NONE\"}\n");
            return (int)o.len;
        }
        d_printf(&o, "{\"state\":\"%s\",\"reason\":%u,\"peer_path\":%" PRIu32 ",\"tx_next\":%"
                 PRIu32 ",\"tx_limit\":%" PRIu32 ",\"rx_next\":%" PRIu32 ",\"rx_limit\":%" PRIu32
                 ",\"window\":%" PRIu32 ",\"unconsumed\":%" PRIu32 "}\n",
                 mpa_state_name(pi.state), pi.reason, pi.peer_path, pi.tx_next, pi.tx_limit,
                 pi.rx_next, pi.rx_limit, pi.window, pi.unconsumed);
    } else if (a_is(q, 1, "path_stats")) {
        mpa_ctx *pc = mc_paths(n);
        if (!pc)
            FAIL(MC_ENOTSUP, "paths are off");
        mpa_stats ps;
        mpa_get_stats(pc, &ps);
        d_printf(&o, "{\"paths\":%" PRIu32 ",\"duplicates\":%" PRIu64 ",\"reorder_overflow\":%"
                 PRIu64 ",\"credit_violations\":%" PRIu64 ",\"stray\":%" PRIu64 ",\"late\":%"
                 PRIu64 ",\"proto_errors\":%" PRIu64 ",\"credits_sent\":%" PRIu64
                 ",\"delivered\":%" PRIu64 "}\n", ps.paths, ps.duplicates, ps.reorder_overflow,
                 ps.credit_violations, ps.stray, ps.late, ps.proto_errors, ps.credits_sent,
                 ps.delivered);
    } else {
        FAIL(MC_EINVAL, "usage: drv events [on|off] | body reset|DATA... | send PEER CHAN TYPE | "
                        "next_device N | device_set DEV DTYPE RANK EXCL | link PEER BEARER | "
                        "stats | node | lookup NAME | name_stats | path_info PATH | path_stats");
    }
    return (int)o.len;
}
#undef FAIL
