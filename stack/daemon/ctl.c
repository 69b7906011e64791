/*
 * ctl.c — msgrctl's commands, executed and rendered in the daemon.
 *
 * The daemon renders the answer (a table or JSON) itself: msgrctl stays a thin client,
 * and what it prints always matches the daemon it talks to, whatever their versions.
 * Commands that change state need the caller to be root or the daemon's own user
 * (SO_PEERCRED); showing is open to whoever may connect to the socket.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlout.h"
#include "naming.h"
#include "path.h"
#include "srv_int.h"

typedef struct out {
    char *b;
    size_t cap, len;
    bool json;
    int items; /* JSON: elements written in the current array/object */
    mrt *rt;   /* to format a link's address the way its bearer does */
} out;

static void o_printf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_printf(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msrv_out_vappend(o->b, o->cap, &o->len, fmt, ap);
    va_end(ap);
}

static void o_jstr(out *o, const char *s, size_t n) { msrv_out_jstr(o->b, o->cap, &o->len, s, n); }

static void o_sep(out *o)
{
    if (o->items++)
        o_printf(o, ",");
}

static bool arg_is(const mipc_req *q, int i, const char *w)
{
    if (i >= q->u.ctl.argc)
        return false;
    size_t l = strlen(w);
    /* iproute2 style: any unambiguous-enough prefix of at least one letter. */
    return q->u.ctl.arg[i].len >= 1 && q->u.ctl.arg[i].len <= l &&
           memcmp(q->u.ctl.arg[i].p, w, q->u.ctl.arg[i].len) == 0;
}

static void arg_copy(const mipc_req *q, int i, char *dst, size_t cap)
{
    size_t l = i < q->u.ctl.argc ? q->u.ctl.arg[i].len : 0;
    if (l >= cap)
        l = cap - 1;
    if (l)
        memcpy(dst, q->u.ctl.arg[i].p, l);
    dst[l] = 0;
}

static long arg_num(const mipc_req *q, int i, long dflt)
{
    char b[32];
    if (i >= q->u.ctl.argc)
        return dflt;
    arg_copy(q, i, b, sizeof b);
    char *e;
    long v = strtol(b, &e, 0);
    return *e ? dflt : v;
}

/* ---- node ----------------------------------------------------------------------------------- */
static void ctl_node(msrv *s, out *o)
{
    mc_node *n = mrt_node(s->rt);
    mc_stats st;
    mc_get_stats(n, &st);
    int nc = 0, nd = 0, np = 0;
    for (client *c = s->clients; c; c = c->next)
        nc++;
    for (dev *d = s->devs; d; d = d->next)
        nd++;
    for (pth *p = s->paths; p; p = p->next)
        np++;
    double up = (double)(mrt_now() - s->started) / 1e9;
    if (o->json)
        o_printf(o,
                 "{\"node\":%u,\"incarnation\":%u,\"uptime_s\":%.3f,\"peers_up\":%u,\"links\":%u,"
                 "\"clients\":%d,\"devices\":%d,\"paths\":%d,\"mem_used\":%zu,\"pid\":%d}\n",
                 mc_node_id(n), mc_incarnation(n), up, st.n_peers_up, st.n_links, nc, nd, np,
                 st.mem_used, (int)getpid());
    else
        o_printf(o,
                 "node %u incarnation %08x pid %d uptime %.1fs\n  peers up %u  links %u  "
                 "clients %d  devices %d  paths %d  memory %zu bytes\n",
                 mc_node_id(n), mc_incarnation(n), (int)getpid(), up, st.n_peers_up, st.n_links,
                 nc, nd, np, st.mem_used);
}

/* ---- bearer --------------------------------------------------------------------------------- */
static int bearer_row(void *user, const mrt_bearer_info *bi)
{
    out *o = user;
    char addr[64];
    mb_addr_format(mb_ops(bi->mb), &bi->local, addr, sizeof addr);
    const struct mb_stats *t = &bi->stats;
    uint64_t drops = t->drop_too_long + t->drop_too_short + t->drop_crc + t->drop_framing +
                     t->drop_ethertype + t->drop_filtered + t->drop_disabled + t->drop_os;
    if (o->json) {
        o_sep(o);
        o_printf(o, "{\"id\":%d,\"type\":\"%s\",\"spec\":", bi->id, bi->type);
        o_jstr(o, bi->spec, strlen(bi->spec));
        o_printf(o,
                 ",\"enabled\":%s,\"carrier\":%s,\"mtu\":%zu,\"local\":\"%s\",\"capturing\":%s,"
                 "\"rx_frames\":%llu,\"rx_bytes\":%llu,\"tx_frames\":%llu,\"tx_bytes\":%llu,"
                 "\"drops\":{\"too_long\":%llu,\"too_short\":%llu,\"crc\":%llu,\"framing\":%llu,"
                 "\"ethertype\":%llu,\"filtered\":%llu,\"disabled\":%llu,\"os\":%llu},"
                 "\"tx_refused\":{\"too_long\":%llu,\"full\":%llu,\"down\":%llu,\"errors\":%llu},"
                 "\"reopens\":%llu,\"resets\":%llu,\"proto_errors\":%llu}",
                 bi->enabled ? "true" : "false", bi->carrier ? "true" : "false", bi->mtu, addr,
                 bi->capturing ? "true" : "false", (unsigned long long)t->rx_frames,
                 (unsigned long long)t->rx_bytes, (unsigned long long)t->tx_frames,
                 (unsigned long long)t->tx_bytes, (unsigned long long)t->drop_too_long,
                 (unsigned long long)t->drop_too_short, (unsigned long long)t->drop_crc,
                 (unsigned long long)t->drop_framing, (unsigned long long)t->drop_ethertype,
                 (unsigned long long)t->drop_filtered, (unsigned long long)t->drop_disabled,
                 (unsigned long long)t->drop_os, (unsigned long long)t->tx_too_long,
                 (unsigned long long)t->tx_full, (unsigned long long)t->tx_down,
                 (unsigned long long)t->tx_errors, (unsigned long long)t->reopens,
                 (unsigned long long)t->resets, (unsigned long long)t->proto_errors);
    } else {
        o_printf(o, "%-3d %-8s %-8s %-7s mtu %-5zu %-22s rx %llu tx %llu drops %llu  %s\n", bi->id,
                 bi->type, bi->enabled ? "enabled" : "disabled", bi->carrier ? "up" : "down",
                 bi->mtu, addr, (unsigned long long)t->rx_frames,
                 (unsigned long long)t->tx_frames, (unsigned long long)drops, bi->spec);
    }
    return 0;
}

/* ---- link ----------------------------------------------------------------------------------- */
static int link_row(void *user, const mc_link_info *li)
{
    out *o = user;
    char addr[64];
    mrt_bearer_info bi;
    const struct mb_bearer_ops *ops = NULL;
    if (o->rt && mrt_bearer_get(o->rt, li->bearer, &bi) == 0)
        ops = mb_ops(bi.mb); /* "10.0.0.1:34997" for udp rather than hex bytes */
    mb_addr_format(ops, (const struct mb_addr *)&li->addr, addr, sizeof addr);
    const mc_link_stats *t = &li->stats;
    if (o->json) {
        o_sep(o);
        o_printf(o,
                 "{\"peer\":%u,\"bearer\":%d,\"state\":\"%s\",\"addr\":\"%s\",\"tolerance_ms\":%u,"
                 "\"probe_ms\":%u,\"window\":%u,\"mtu\":%u,\"priority\":%u,\"standby\":%s,"
                 "\"rtt_us\":%.1f,\"rto_us\":%.1f,\"inflight\":%u,\"backlog\":%u,"
                 "\"tx_frames\":%llu,\"rx_frames\":%llu,\"tx_bytes\":%llu,\"rx_bytes\":%llu,"
                 "\"retransmits\":%llu,\"rto_fires\":%llu,\"nacks_sent\":%llu,\"dup_rx\":%llu,"
                 "\"ooo_rx\":%llu,\"ups\":%llu,\"downs\":%llu,\"failover_out\":%llu}",
                 li->peer, li->bearer, mc_link_state_name(li->state), addr, li->tolerance_ms,
                 li->probe_ms, li->window, li->mtu, li->priority, li->standby ? "true" : "false",
                 (double)li->srtt_ns / 1e3, (double)li->rto_ns / 1e3, li->inflight, li->backlog,
                 (unsigned long long)t->tx_frames, (unsigned long long)t->rx_frames,
                 (unsigned long long)t->tx_bytes, (unsigned long long)t->rx_bytes,
                 (unsigned long long)t->retransmits, (unsigned long long)t->rto_fires,
                 (unsigned long long)t->nacks_sent, (unsigned long long)t->dup_rx,
                 (unsigned long long)t->ooo_rx, (unsigned long long)t->ups,
                 (unsigned long long)t->downs, (unsigned long long)t->failover_out);
    } else {
        o_printf(o,
                 "peer %-6u bearer %-2d %-12s rtt %.0fus tolerance %ums window %u mtu %u "
                 "tx %llu rx %llu retransmits %llu\n",
                 li->peer, li->bearer, mc_link_state_name(li->state), (double)li->srtt_ns / 1e3,
                 li->tolerance_ms, li->window, li->mtu, (unsigned long long)t->tx_frames,
                 (unsigned long long)t->rx_frames, (unsigned long long)t->retransmits);
    }
    return 0;
}

/* ---- link sec: the security state of each link (RFC section 12) ------------------------------ */
static const char *ctl_suite(uint16_t suite)
{
    switch (suite) {
    case 0: return "none";
    case MP_SUITE_AES256GCM: return "aes-256-gcm";
    case MP_SUITE_CHACHA20POLY1305: return "chacha20-poly1305";
    default: return "unknown";
    }
}

static const char *ctl_policy(uint8_t p)
{
    return p == MP_SEC_REQUIRED ? "required" : p == MP_SEC_TRANSITION ? "transition" : "plain";
}

typedef struct sec_walk {
    out *o;
    mc_node *n;
    uint64_t now;
} sec_walk;

static int link_sec_row(void *user, const mc_link_info *li)
{
    sec_walk *w = user;
    out *o = w->o;
    mc_sec_info si;
    if (mc_link_sec_get(w->n, li->peer, li->bearer, w->now, &si) < 0)
        return 0; /* the link went between the walk and the lookup */
    /* Key age only means something while a send key is installed. */
    double age = si.send_ready ? (double)si.key_age_ns / 1e9 : -1.0;
    if (o->json) {
        o_sep(o);
        o_printf(o,
                 "{\"peer\":%u,\"bearer\":%d,\"state\":\"%s\",\"secured\":%s,\"send_ready\":%s,"
                 "\"peer_policy\":\"%s\",\"cipher\":\"%s\",\"key_id\":%u,\"key_age_s\":%.3f,"
                 "\"tx_counter\":%llu,\"rx_keys\":%u,\"sealed\":%llu,\"opened\":%llu,"
                 "\"auth_failures\":%llu,\"kx_auth_failures\":%llu,\"replay_drops\":%llu,"
                 "\"wrong_key_id\":%llu,\"malformed\":%llu,\"inner_bad\":%llu,"
                 "\"plain_refused\":%llu,\"kx_completed\":%llu,\"kx_failed\":%llu,\"rekeys\":%llu}",
                 li->peer, li->bearer, mc_link_state_name(li->state), si.secured ? "true" : "false",
                 si.send_ready ? "true" : "false", ctl_policy(si.peer_policy), ctl_suite(si.suite),
                 si.tx_key_id, age, (unsigned long long)si.tx_counter, si.rx_keys,
                 (unsigned long long)si.sealed, (unsigned long long)si.opened,
                 (unsigned long long)si.auth_failures, (unsigned long long)si.kx_auth_failures,
                 (unsigned long long)si.replays, (unsigned long long)si.wrong_key_id,
                 (unsigned long long)si.malformed, (unsigned long long)si.inner_bad,
                 (unsigned long long)si.plain_refused, (unsigned long long)si.kx_completed,
                 (unsigned long long)si.kx_failed, (unsigned long long)si.rekeys);
    } else if (!si.secured) {
        o_printf(o,
                 "peer %-6u bearer %-2d %-12s plain (peer policy %s, plain frames refused %llu)\n",
                 li->peer, li->bearer, mc_link_state_name(li->state), ctl_policy(si.peer_policy),
                 (unsigned long long)si.plain_refused);
    } else {
        o_printf(o,
                 "peer %-6u bearer %-2d %-12s %s key %u age %.1fs sealed %llu opened %llu "
                 "auth failures %llu replay drops %llu kx auth failures %llu rekeys %llu\n",
                 li->peer, li->bearer, mc_link_state_name(li->state), ctl_suite(si.suite),
                 si.tx_key_id, age, (unsigned long long)si.sealed, (unsigned long long)si.opened,
                 (unsigned long long)si.auth_failures, (unsigned long long)si.replays,
                 (unsigned long long)si.kx_auth_failures, (unsigned long long)si.rekeys);
    }
    return 0;
}

/* ---- name ----------------------------------------------------------------------------------- */
static int name_row(void *user, const mn_entry *e)
{
    out *o = user;
    if (o->json) {
        o_sep(o);
        o_printf(o, "{\"name\":");
        o_jstr(o, (const char *)e->name, e->name_len);
        o_printf(o,
                 ",\"node\":%u,\"device\":%u,\"dtype\":%u,\"rank\":%u,\"exclusive\":%s,"
                 "\"generation\":%u,\"props\":%u}",
                 e->node_id, e->device_id, e->dtype, e->rank,
                 (e->nflags & MP_NFLAG_EXCLUSIVE) ? "true" : "false", e->generation,
                 e->prop_count);
    } else {
        o_printf(o, "%-40s node %-6u device %-5u type %-4u rank %-3u gen %u%s\n",
                 (const char *)e->name, e->node_id, e->device_id, e->dtype, e->rank,
                 e->generation, (e->nflags & MP_NFLAG_EXCLUSIVE) ? " exclusive" : "");
    }
    return 0;
}

/* ---- path ----------------------------------------------------------------------------------- */
static void ctl_paths(msrv *s, out *o)
{
    mpa_ctx *pc = mc_paths(mrt_node(s->rt));
    if (o->json)
        o_printf(o, "[");
    for (pth *p = s->paths; p; p = p->next) {
        mpa_info in;
        memset(&in, 0, sizeof in);
        if (pc)
            mpa_get_info(pc, p->id, &in);
        const char *kind = in.is_group ? "group" : p->opener ? "out" : "in";
        if (o->json) {
            o_sep(o);
            o_printf(o,
                     "{\"path\":%u,\"kind\":\"%s\",\"state\":\"%s\",\"device\":%u,\"peer\":%u,"
                     "\"peer_device\":%u,\"members\":%u,\"tx\":%llu,\"rx\":%llu,\"credit\":%u,"
                     "\"unconsumed\":%u}",
                     p->id, kind, mpa_state_name(in.state), p->dev, in.peer_node, in.peer_device,
                     in.members, (unsigned long long)p->tx, (unsigned long long)p->rx,
                     pc ? mpa_credit(pc, p->id) : 0, in.unconsumed);
        } else {
            o_printf(o, "path %-6u %-5s %-9s device %-4u peer %u/%u tx %llu rx %llu credit %u\n",
                     p->id, kind, mpa_state_name(in.state), p->dev, in.peer_node, in.peer_device,
                     (unsigned long long)p->tx, (unsigned long long)p->rx,
                     pc ? mpa_credit(pc, p->id) : 0);
        }
    }
    if (o->json)
        o_printf(o, "]\n");
}

/* ---- stats ---------------------------------------------------------------------------------- */
static void ctl_stats(msrv *s, out *o)
{
    mc_node *n = mrt_node(s->rt);
    mc_stats st;
    mc_get_stats(n, &st);
    mpa_stats ps;
    memset(&ps, 0, sizeof ps);
    if (mc_paths(n))
        mpa_get_stats(mc_paths(n), &ps);
    uint64_t total = 0;
    for (int i = 0; i < MC_DROP_COUNT; i++)
        total += st.drops[i];
    if (o->json) {
        o_printf(o,
                 "{\"node\":{\"delivered\":%llu,\"sent\":%llu,\"send_errors\":%llu,"
                 "\"peers_up\":%llu,\"peers_down\":%llu,\"links_up\":%llu,\"links_down\":%llu,"
                 "\"failovers\":%llu,\"mem_used\":%zu,\"mem_peak\":%zu,\"drops_total\":%llu,"
                 "\"drops\":{",
                 (unsigned long long)st.delivered, (unsigned long long)st.sent_msgs,
                 (unsigned long long)st.send_errors, (unsigned long long)st.peers_up,
                 (unsigned long long)st.peers_down, (unsigned long long)st.links_up,
                 (unsigned long long)st.links_down, (unsigned long long)st.failovers, st.mem_used,
                 st.mem_peak, (unsigned long long)total);
        for (int i = 0; i < MC_DROP_COUNT; i++)
            o_printf(o, "%s\"%s\":%llu", i ? "," : "", mc_drop_name(i),
                     (unsigned long long)st.drops[i]);
        o_printf(o,
                 "}},\"paths\":{\"opened\":%llu,\"accepted\":%llu,\"refused\":%llu,"
                 "\"timeouts\":%llu,\"closed\":%llu,\"broken\":%llu,\"sent\":%llu,"
                 "\"delivered\":%llu,\"duplicates\":%llu,\"stray\":%llu,\"proto_errors\":%llu},"
                 "\"ipc\":{\"requests\":%llu,\"bad\":%llu,\"clients_total\":%llu,"
                 "\"refused_attach\":%llu,\"refused_devices\":%llu,\"refused_paths\":%llu,"
                 "\"slow_disconnects\":%llu},\"bearers\":[",
                 (unsigned long long)ps.opened, (unsigned long long)ps.accepted,
                 (unsigned long long)ps.refused, (unsigned long long)ps.timeouts,
                 (unsigned long long)ps.closed, (unsigned long long)ps.broken,
                 (unsigned long long)ps.sent, (unsigned long long)ps.delivered,
                 (unsigned long long)ps.duplicates, (unsigned long long)ps.stray,
                 (unsigned long long)ps.proto_errors, (unsigned long long)s->ipc_reqs,
                 (unsigned long long)s->ipc_bad, (unsigned long long)s->clients_total,
                 (unsigned long long)s->refused_attach, (unsigned long long)s->refused_devs,
                 (unsigned long long)s->refused_paths, (unsigned long long)s->slow_kills);
        o->items = 0;
        mrt_foreach_bearer(s->rt, bearer_row, o);
        o_printf(o, "],\"links\":[");
        o->items = 0;
        mc_foreach_link(n, link_row, o);
        o_printf(o, "]}\n");
    } else {
        o_printf(o, "node: delivered %llu sent %llu send errors %llu failovers %llu memory %zu (peak %zu)\n",
                 (unsigned long long)st.delivered, (unsigned long long)st.sent_msgs,
                 (unsigned long long)st.send_errors, (unsigned long long)st.failovers,
                 st.mem_used, st.mem_peak);
        o_printf(o, "drops: %llu total\n", (unsigned long long)total);
        for (int i = 0; i < MC_DROP_COUNT; i++)
            if (st.drops[i])
                o_printf(o, "  %-20s %llu\n", mc_drop_name(i), (unsigned long long)st.drops[i]);
        o_printf(o, "paths: opened %llu accepted %llu sent %llu delivered %llu duplicates %llu broken %llu\n",
                 (unsigned long long)ps.opened, (unsigned long long)ps.accepted,
                 (unsigned long long)ps.sent, (unsigned long long)ps.delivered,
                 (unsigned long long)ps.duplicates, (unsigned long long)ps.broken);
        o_printf(o, "ipc: requests %llu bad %llu clients %llu refused: attach %llu devices %llu "
                    "paths %llu, slow clients disconnected %llu\n",
                 (unsigned long long)s->ipc_reqs, (unsigned long long)s->ipc_bad,
                 (unsigned long long)s->clients_total, (unsigned long long)s->refused_attach,
                 (unsigned long long)s->refused_devs, (unsigned long long)s->refused_paths,
                 (unsigned long long)s->slow_kills);
        o_printf(o, "bearers:\n");
        mrt_foreach_bearer(s->rt, bearer_row, o);
        o_printf(o, "links:\n");
        mc_foreach_link(n, link_row, o);
    }
}

static void ctl_debug_show(out *o)
{
    if (o->json)
        o_printf(o, "{");
    for (int m = 0; m < MRT_M_COUNT; m++) {
        if (o->json)
            o_printf(o, "%s\"%s\":\"%s\"", m ? "," : "", mrt_module_name(m),
                     mrt_level_name(mrt_log_get_level(m)));
        else
            o_printf(o, "%-8s %s\n", mrt_module_name(m), mrt_level_name(mrt_log_get_level(m)));
    }
    if (o->json)
        o_printf(o, "}\n");
}

static bool may_change(const client *c)
{
    return c->uid == 0 || c->uid == getuid();
}

/* The hosted services' objects (msrv_set_ctl_ext): the first hook that knows it. */
static int ctl_ext(msrv *s, const mipc_req *q, int json, char *buf, size_t cap)
{
    for (int i = 0; i < s->nctl_ext; i++) {
        int r = s->ctl_ext[i](s->ctl_ext_user[i], q, json, buf, cap);
        if (r != MC_ENOENT)
            return r;
    }
    return MC_ENOENT;
}

/* Returns bytes written into out, or a negative error with a NUL-terminated message. */
int msrv_ctl(msrv *s, client *c, const mipc_req *q, char *buf, size_t cap)
{
    out o = {buf, cap, 0, q->u.ctl.json != 0, 0, s->rt};
    buf[0] = 0;
    mc_node *n = mrt_node(s->rt);
    int r = 0;
#define FAIL(code, ...)                                                                  \
    do {                                                                                 \
        snprintf(buf, cap, __VA_ARGS__);                                                 \
        return (code);                                                                   \
    } while (0)
    bool show = q->u.ctl.argc < 2 || arg_is(q, 1, "show") || arg_is(q, 1, "list");
    if (q->u.ctl.argc == 0)
        FAIL(MC_EINVAL, "usage: node|bearer|link|name|path|stats|debug|capture ...");
    bool change = !show;
    if (arg_is(q, 0, "stats") || arg_is(q, 0, "name") || arg_is(q, 0, "path") ||
        arg_is(q, 0, "minet")) /* minet [stats] only shows */
        change = false;
    if (arg_is(q, 0, "link") && q->u.ctl.argc >= 2 && arg_is(q, 1, "sec") &&
        q->u.ctl.arg[1].len >= 2)
        change = false; /* link sec only shows, open to every client like link show */
    if (change && !may_change(c))
        FAIL(MC_EINVAL, "permission denied: changing needs root or the daemon's user");
    if (q->u.ctl.arg[0].len == 3 && memcmp(q->u.ctl.arg[0].p, "drv", 3) == 0) {
        r = msrv_ctl_drv(s, q, buf, cap); /* the conformance suite's hooks (ctl_drv.c) */
        mrt_flush(s->rt);
        return r;
    } else if (arg_is(q, 0, "node")) {
        ctl_node(s, &o);
    } else if (arg_is(q, 0, "bearer")) {
        if (show) {
            if (o.json)
                o_printf(&o, "[");
            mrt_foreach_bearer(s->rt, bearer_row, &o);
            if (o.json)
                o_printf(&o, "]\n");
        } else if (arg_is(q, 1, "add")) {
            char spec[256];
            arg_copy(q, 2, spec, sizeof spec);
            r = mrt_add_bearer(s->rt, spec);
            if (r < 0)
                FAIL(r, "bearer add: %s", mrt_strerror(r));
            o_printf(&o, o.json ? "{\"id\":%d}\n" : "bearer %d added\n", r);
        } else if (arg_is(q, 1, "del") || arg_is(q, 1, "enable") || arg_is(q, 1, "disable")) {
            long id = arg_num(q, 2, -1);
            if (arg_is(q, 1, "del"))
                r = mrt_remove_bearer(s->rt, (int)id);
            else
                r = mrt_bearer_enable(s->rt, (int)id, arg_is(q, 1, "enable"));
            if (r < 0)
                FAIL(r, "bearer %ld: %s", id, mrt_strerror(r));
            o_printf(&o, o.json ? "{}\n" : "ok\n");
        } else {
            FAIL(MC_EINVAL, "usage: bearer [list] | add SPEC | del ID | enable ID | disable ID");
        }
    } else if (arg_is(q, 0, "link")) {
        if (show) {
            if (o.json)
                o_printf(&o, "[");
            mc_foreach_link(n, link_row, &o);
            if (o.json)
                o_printf(&o, "]\n");
        } else if (arg_is(q, 1, "sec") && q->u.ctl.arg[1].len >= 2) {
            sec_walk w = {&o, n, mrt_now()};
            if (o.json)
                o_printf(&o, "[");
            mc_foreach_link(n, link_sec_row, &w);
            if (o.json)
                o_printf(&o, "]\n");
        } else if (arg_is(q, 1, "set") && arg_is(q, 2, "tolerance")) {
            long ms = arg_num(q, 3, -1);
            long only = arg_is(q, 4, "bearer") ? arg_num(q, 5, -1) : -1;
            if (ms < 10 || ms > 30000)
                FAIL(MC_EINVAL, "tolerance must be 10..30000 ms");
            int done = 0;
            for (int id = 0; id < 256; id++) {
                mrt_bearer_info bi;
                if (mrt_bearer_get(s->rt, id, &bi) < 0 || (only >= 0 && only != id))
                    continue;
                r = mc_bearer_set_tolerance(n, id, (uint16_t)ms);
                if (r < 0)
                    FAIL(r, "bearer %d: %s", id, mc_strerror(r));
                done++;
            }
            if (!done)
                FAIL(MC_ENOENT, "no such bearer");
            if (o.json)
                o_printf(&o, "{\"bearers\":%d,\"tolerance_ms\":%ld}\n", done, ms);
            else
                o_printf(&o, "tolerance %ld ms on %d bearer(s)\n", ms, done);
        } else {
            FAIL(MC_EINVAL, "usage: link [list] | sec | set tolerance MS [bearer ID]");
        }
    } else if (arg_is(q, 0, "name")) {
        const mn_table *t = mc_names(n);
        if (!t)
            FAIL(MC_ENOTSUP, "naming is off");
        char pat[128] = "**";
        if (q->u.ctl.argc >= 3)
            arg_copy(q, 2, pat, sizeof pat);
        if (o.json)
            o_printf(&o, "[");
        if (mn_match(t, (const uint8_t *)pat, strlen(pat), name_row, &o) < 0)
            FAIL(MC_EINVAL, "bad pattern '%s'", pat);
        if (o.json)
            o_printf(&o, "]\n");
    } else if (arg_is(q, 0, "path")) {
        ctl_paths(s, &o);
    } else if (arg_is(q, 0, "stats")) {
        ctl_stats(s, &o);
    } else if (arg_is(q, 0, "debug")) {
        if (show) {
            ctl_debug_show(&o);
        } else if (arg_is(q, 1, "level")) {
            char mod[32], lvl[32];
            arg_copy(q, 2, mod, sizeof mod);
            arg_copy(q, 3, lvl, sizeof lvl);
            int m = strcmp(mod, "all") == 0 ? -1 : mrt_module_find(mod);
            int l = mrt_level_find(lvl);
            if ((m < 0 && strcmp(mod, "all") != 0) || l < 0)
                FAIL(MC_EINVAL, "usage: debug level all|rt|bearer|link|name|path|ipc err|warn|info|debug");
            mrt_log_set_level(m, l);
            ctl_debug_show(&o);
        } else {
            FAIL(MC_EINVAL, "usage: debug [show] | level MODULE LEVEL");
        }
    } else if (arg_is(q, 0, "capture")) {
        if (arg_is(q, 1, "start")) {
            char file[256];
            arg_copy(q, 2, file, sizeof file);
            if (!file[0])
                FAIL(MC_EINVAL, "usage: capture start FILE [bearer ID]");
            long id = arg_is(q, 3, "bearer") ? arg_num(q, 4, -1) : -1;
            r = mrt_capture_start(s->rt, file, (int)id);
            if (r < 0)
                FAIL(r, "capture: %s", mrt_strerror(r));
            o_printf(&o, o.json ? "{\"files\":%d}\n" : "capturing to %d file(s)\n", r);
        } else if (arg_is(q, 1, "stop")) {
            r = mrt_capture_stop(s->rt);
            o_printf(&o, o.json ? "{\"records\":%d}\n" : "%d records written\n", r);
        } else {
            FAIL(MC_EINVAL, "usage: capture start FILE [bearer ID] | capture stop");
        }
    } else if ((r = ctl_ext(s, q, o.json, buf, cap)) != MC_ENOENT) {
        if (r < 0)
            return r; /* the hook wrote its message into buf */
        o.len = (size_t)r;
    } else {
        FAIL(MC_EINVAL, "unknown object; try node, bearer, link, name, path, stats, debug, capture");
    }
    mrt_flush(s->rt);
    if (o.len >= cap - 1)
        o.len = cap - 1;
    return (int)o.len;
#undef FAIL
}
